//! What the comparison stage makes of one story: sources, copies grouped under their original,
//! the outlet-by-fact matrix, conflicts, quote variants, a timeline and a cited summary.

use crate::{ArticleId, EntityType, Story};
use serde::{Deserialize, Serialize};

/// One member article as the story page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub article: ArticleId,
    /// Outlet name, or the best stand-in (credited source, URL host, input file).
    pub outlet: String,
    /// True when `outlet` is a stand-in, not a stated outlet.
    pub outlet_guessed: bool,
    pub title: Option<String>,
    pub published: Option<String>,
    pub url: Option<String>,
    pub words: usize,
    /// Set when this article copies or rewrites another member: that article and how.
    pub copy_of: Option<CopyLink>,
}

/// How an article relates to its original.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyLink {
    pub article: ArticleId,
    /// `exact`, `near_duplicate`, `partial` or `rewrite`.
    pub relation: String,
    pub similarity: f32,
    /// Why: shared passages, aligned sentences, dates, credits.
    pub evidence: Vec<String>,
}

/// An original with the members that copy or rewrite it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyGroup {
    pub original: ArticleId,
    /// False when the direction could not be told (the first article is then only a representative).
    pub original_known: bool,
    pub copies: Vec<CopyLink>,
}

/// One row of the comparison matrix: a fact and what each source says of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatrixRow {
    /// `entity`, `figure`, `quote` or `statement`.
    pub kind: String,
    pub label: String,
    /// Entity id for entity rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// One cell per source, in `StoryReport::sources` order; `None`: the source does not report it.
    pub cells: Vec<Option<String>>,
}

/// One version of a disputed value and who states it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub value: String,
    /// Other wordings that mean the same (same canonical form).
    pub wordings: Vec<String>,
    pub articles: Vec<ArticleId>,
    pub outlets: Vec<String>,
    /// Independent sources: articles that are not copies of another member.
    pub independent: usize,
}

/// The same attribute or quantity stated differently by different sources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    /// `role` (an entity's title) or `figure` (a quantity).
    pub kind: String,
    /// The entity or the quantity ("Hady Amr", "people killed").
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// Majority first (most independent sources, then most articles), minorities after.
    pub versions: Vec<Version>,
}

/// A word of an aligned quote variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlignedWord {
    pub word: String,
    /// `same`, `added` (not in the reference wording), `missing` (in the reference, not here)
    /// or `elided` (one `…` for the reference's words left out before or after a partial quote).
    pub op: String,
}

/// One wording of a quotation, aligned word by word with the reference wording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuoteWording {
    pub text: String,
    pub articles: Vec<ArticleId>,
    pub outlets: Vec<String>,
    pub alignment: Vec<AlignedWord>,
}

/// The same quotation worded differently across sources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuoteVariants {
    pub speaker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker_entity: Option<String>,
    /// The reference wording first (the most widely used, then the longest).
    pub wordings: Vec<QuoteWording>,
}

/// A timeline entry: an article's publication or an event it dates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// `YYYY-MM-DD` (or a full timestamp for publications); `None` for undated articles.
    pub date: Option<String>,
    /// `published` or `event`.
    pub kind: String,
    pub text: String,
    pub articles: Vec<ArticleId>,
}

/// A summary sentence and the articles that state it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummarySentence {
    pub text: String,
    /// The article the wording comes from first, then the others that state the same.
    pub articles: Vec<ArticleId>,
}

/// An entity of the story with its type and how many sources name it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoryEntity {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: EntityType,
    pub articles: usize,
    pub roles: Vec<String>,
}

/// Everything the story page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoryReport {
    pub story: Story,
    pub sources: Vec<Source>,
    pub copies: Vec<CopyGroup>,
    pub entities: Vec<StoryEntity>,
    pub matrix: Vec<MatrixRow>,
    pub conflicts: Vec<Conflict>,
    pub quote_variants: Vec<QuoteVariants>,
    pub timeline: Vec<TimelineEntry>,
    pub summary: Vec<SummarySentence>,
}
