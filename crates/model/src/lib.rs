//! Storyline's one data model: what flows between the pipeline stages and what the store keeps.
//!
//! Nothing here does IO. Stages (`ingest`, `extract`, and later `dedup`, `cluster`, `enrich`,
//! `compare`) take and return these types; the store persists them; the CLI and server print them.
//!
//! Text offsets everywhere are *character* offsets (Unicode scalar values) into an article's
//! clean `text`, so that they mean the same thing in Rust, JSON consumers and browsers.

use serde::{Deserialize, Serialize};
use std::fmt;

pub mod contain;
mod date;
pub mod names;
pub use chrono::NaiveDate;
pub use date::{BadDate, Published};
mod alert;
mod later;
mod report;
mod source;
pub use alert::{Alert, AlertHit};
pub use source::{SourceKind, SourceState};
pub mod text;
pub use later::*;
pub use report::*;

/// Stable identifier of an article: 16 lowercase hex digits of the XXH3-64 hash of the raw input
/// document (its URL and its body bytes). The same input always gets the same id, which is what
/// makes re-ingesting idempotent and the result independent of input order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ArticleId(pub String);

impl ArticleId {
    /// Hash of the parts that identify a raw document.
    pub fn from_parts(parts: &[&[u8]]) -> ArticleId {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for part in parts {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        ArticleId(format!("{:016x}", hasher.digest()))
    }
}

impl fmt::Display for ArticleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The container format an input was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    Text,
    Html,
    Jsonl,
    Warc,
    Feed,
}

impl InputFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            InputFormat::Text => "text",
            InputFormat::Html => "html",
            InputFormat::Jsonl => "jsonl",
            InputFormat::Warc => "warc",
            InputFormat::Feed => "feed",
        }
    }
}

/// The body of a raw document: markup to extract from, or text someone already extracted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "text")]
pub enum Body {
    Html(String),
    Text(String),
}

impl Body {
    pub fn as_str(&self) -> &str {
        match self {
            Body::Html(s) | Body::Text(s) => s,
        }
    }
}

/// Metadata that came with a document from its container (a JSONL record's fields, a WARC
/// header, a feed entry). Extraction prefers these over what it guesses from the body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Hints {
    pub external_id: Option<String>,
    pub url: Option<String>,
    pub title: Option<String>,
    /// As given by the input; normalised by extraction.
    pub published: Option<String>,
    pub authors: Vec<String>,
    pub outlet: Option<String>,
    pub language: Option<String>,
}

/// One document as read from an input, before extraction. Serialisable: this is what the
/// work queue carries between a publisher and the workers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawDocument {
    /// Where it came from: the input path, plus `#N` (line or record number) inside JSONL,
    /// WARC and feed files. `-` is standard input.
    pub source: String,
    pub format: InputFormat,
    pub body: Body,
    pub hints: Hints,
    /// Problems met while reading it (decoding, truncation), each naming the input.
    pub warnings: Vec<String>,
}

impl RawDocument {
    /// The content hash that identifies this document (see [`ArticleId`]). The source path is
    /// deliberately not part of it: the same page read from two places is one article.
    pub fn id(&self) -> ArticleId {
        let url = self.hints.url.as_deref().unwrap_or("");
        let ext = self.hints.external_id.as_deref().unwrap_or("");
        ArticleId::from_parts(&[url.as_bytes(), ext.as_bytes(), self.body.as_str().as_bytes()])
    }
}

/// Why a piece of input text was not kept in an article's clean text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovalReason {
    /// A marker left by a scraper or CMS plug-in: `[ad_1]`, "Source link", "Read Full Article".
    ScraperMarker,
    /// A comment form or comment section: "Leave a Reply", "Your email address will not be published".
    CommentForm,
    /// A "you may also like" / related-content block.
    RelatedContent,
    /// Navigation, menu or section-list line.
    Navigation,
    /// A photo caption that repeats another line, or a caption block.
    DuplicateCaption,
    /// A photo credit ("(photo credit: ...)", "Photo: AP").
    PhotoCredit,
    /// Share / subscribe / follow prompts.
    SharePrompt,
    /// A line that repeats across many articles of the same outlet (corpus-level evidence).
    RepeatedBoilerplate,
    /// A paragraph that repeats an earlier paragraph of the same article.
    DuplicateParagraph,
    /// The headline line, moved to `title`.
    Title,
    /// A date line, moved to `published`.
    Dateline,
    /// A byline, moved to `authors` / `outlet`.
    Byline,
    /// A reporting credit, moved to `contributors`.
    Credit,
    /// A credited-source line, moved to `credited_source`.
    CreditedSource,
    /// Text the HTML extractor judged to be page furniture rather than the article.
    HtmlBoilerplate,
}

impl RemovalReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RemovalReason::ScraperMarker => "scraper_marker",
            RemovalReason::CommentForm => "comment_form",
            RemovalReason::RelatedContent => "related_content",
            RemovalReason::Navigation => "navigation",
            RemovalReason::DuplicateCaption => "duplicate_caption",
            RemovalReason::PhotoCredit => "photo_credit",
            RemovalReason::SharePrompt => "share_prompt",
            RemovalReason::RepeatedBoilerplate => "repeated_boilerplate",
            RemovalReason::DuplicateParagraph => "duplicate_paragraph",
            RemovalReason::Title => "title",
            RemovalReason::Dateline => "dateline",
            RemovalReason::Byline => "byline",
            RemovalReason::Credit => "credit",
            RemovalReason::CreditedSource => "credited_source",
            RemovalReason::HtmlBoilerplate => "html_boilerplate",
        }
    }

    /// True when the removed text was turned into metadata rather than thrown away.
    pub fn is_metadata(self) -> bool {
        matches!(self, RemovalReason::Title | RemovalReason::Dateline | RemovalReason::Byline | RemovalReason::Credit | RemovalReason::CreditedSource)
    }
}

/// One piece of input that is not in the clean text, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    pub text: String,
    pub reason: RemovalReason,
}

/// A clean article: the output of extraction and the unit every later stage works on.
///
/// Field names and order are the `storyline extract` JSON Lines interface: keep them stable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Article {
    pub id: ArticleId,
    pub source: String,
    pub url: Option<String>,
    pub title: Option<String>,
    /// Written as ISO 8601: `YYYY-MM-DD`, or a datetime `YYYY-MM-DDTHH:MM:SS[+HH:MM|Z]` when a
    /// time is known.
    #[serde(default, deserialize_with = "date::lenient")]
    pub published: Option<Published>,
    pub authors: Vec<String>,
    pub contributors: Vec<String>,
    pub outlet: Option<String>,
    pub credited_source: Option<String>,
    /// ISO 639-1 code.
    pub language: Option<String>,
    /// The clean body; paragraphs separated by one blank line.
    pub text: String,
    pub removed: Vec<Removed>,
    pub warnings: Vec<String>,
    /// The input's own id (JSONL `id`), when it had one.
    #[serde(default)]
    pub external_id: Option<String>,
}

impl Article {
    /// The day of `published`.
    pub fn published_date(&self) -> Option<chrono::NaiveDate> {
        self.published.map(|p| p.date)
    }

    /// Paragraphs of the clean text.
    pub fn paragraphs(&self) -> impl Iterator<Item = &str> {
        self.text.split("\n\n").filter(|p| !p.trim().is_empty())
    }
}

/// An article as the store keeps it: the article plus bookkeeping and what later stages add.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredArticle {
    #[serde(flatten)]
    pub article: Article,
    /// RFC 3339 UTC time of the ingest that stored it.
    pub ingested_at: String,
    /// Monotonic store sequence number (insertion order); not part of the export interface.
    #[serde(skip)]
    pub seq: i64,
}
