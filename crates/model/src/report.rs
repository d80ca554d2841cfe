//! What the comparison stage makes of one story: sources, copies grouped under their original,
//! the outlet-by-fact matrix, conflicts, quote variants, a timeline and a cited summary.

use crate::{ArticleId, CopyKind, EntityId, EntityType, Published, Story};
use serde::{Deserialize, Serialize};

use crate::later::display_as_str;

display_as_str!(MatrixKind, ConflictKind, WordOp, TimelineKind);

/// One member article as the story page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub article: ArticleId,
    /// Outlet name, or the best stand-in (credited source, URL host, input file).
    pub outlet: String,
    /// True when `outlet` is a stand-in, not a stated outlet.
    pub outlet_guessed: bool,
    pub title: Option<String>,
    pub published: Option<Published>,
    pub url: Option<String>,
    pub words: usize,
    /// Set when this article copies or rewrites another member: that article and how. With
    /// `direction_known` false the two are one text whose direction no evidence tells; this
    /// side is then only the one not counted as independent.
    pub copy_of: Option<CopyLink>,
    /// Members whose `copy_of` is this article.
    pub copied_by: Vec<ArticleId>,
}

/// How an article relates to its original.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyLink {
    pub article: ArticleId,
    pub relation: CopyKind,
    pub similarity: f32,
    /// Whether evidence (dates, credits, scraper signatures, a text cut short) tells which is
    /// the original; when false `article` is only the earlier or longer of the two.
    pub direction_known: bool,
    /// Why: shared passages, aligned sentences, dates, credits.
    pub evidence: Vec<String>,
    /// For a near-duplicate: the words that differ, with a few words of context around each
    /// change and an elision between changes (at most 12 changes); empty otherwise.
    pub diff: Vec<AlignedWord>,
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
    pub kind: MatrixKind,
    pub label: String,
    /// Entity id for entity rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<EntityId>,
    /// One cell per source, in `StoryReport::sources` order; `None`: the source does not report it.
    pub cells: Vec<Option<String>>,
}

/// What a matrix row compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatrixKind {
    Entity,
    /// A group of people (nationality, religion, political group): rows of their own, apart
    /// from the people, organisations and places.
    Group,
    Figure,
    Quote,
    Statement,
}

impl MatrixKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MatrixKind::Entity => "entity",
            MatrixKind::Group => "group",
            MatrixKind::Figure => "figure",
            MatrixKind::Quote => "quote",
            MatrixKind::Statement => "statement",
        }
    }
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
    pub kind: ConflictKind,
    /// The entity or the quantity ("Hady Amr", "people killed").
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<EntityId>,
    /// Majority first (most independent sources, then most articles), minorities after.
    pub versions: Vec<Version>,
}

/// What sources disagree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// An entity's role or title.
    Role,
    /// A quantity.
    Figure,
}

impl ConflictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictKind::Role => "role",
            ConflictKind::Figure => "figure",
        }
    }
}

/// How a word of a quote wording relates to the reference wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WordOp {
    Same,
    /// Not in the reference wording.
    Added,
    /// In the reference, not here.
    Missing,
    /// One `…` for the reference's words left out before or after a partial quote.
    Elided,
}

impl WordOp {
    pub fn as_str(self) -> &'static str {
        match self {
            WordOp::Same => "same",
            WordOp::Added => "added",
            WordOp::Missing => "missing",
            WordOp::Elided => "elided",
        }
    }
}

/// A word of an aligned quote variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlignedWord {
    pub word: String,
    pub op: WordOp,
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
    pub speaker_entity: Option<EntityId>,
    /// The reference wording first (the most widely used, then the longest).
    pub wordings: Vec<QuoteWording>,
}

/// A timeline entry: an article's publication or an event it dates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// A day (or a full timestamp for publications); `None` for undated articles.
    pub date: Option<Published>,
    pub kind: TimelineKind,
    pub text: String,
    pub articles: Vec<ArticleId>,
}

/// What a timeline entry marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    /// An event an article dates (sorted before the publications of its day).
    Event,
    /// An article's publication.
    Published,
}

impl TimelineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TimelineKind::Published => "published",
            TimelineKind::Event => "event",
        }
    }
}

/// A summary sentence and the articles that state it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummarySentence {
    pub text: String,
    /// The article the wording comes from first, then the others that state the same.
    pub articles: Vec<ArticleId>,
    /// For each of `articles`, its sentence that states this one (the first is `text`).
    pub support: Vec<String>,
}

/// An entity of the story with its type and how many sources name it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoryEntity {
    pub id: EntityId,
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
