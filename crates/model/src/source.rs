//! A followed source and what the follower knows of it between polls.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a followed source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Not fetched yet: the first answer tells.
    Unknown,
    Feed,
    Sitemap,
    SitemapIndex,
    Opml,
    /// A local folder watched for new files.
    Folder,
}

/// The state of one followed source, kept in the store so that a restart resumes without
/// refetching or duplicating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceState {
    /// The source's address (or a folder's path), as the user gave it.
    pub url: String,
    pub kind: SourceKind,
    /// Validators of the last 200 answer, sent back as a conditional GET.
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_fetch: Option<DateTime<Utc>>,
    /// HTTP status of the last answer (304 for unchanged).
    pub last_status: Option<u16>,
    pub next_poll: Option<DateTime<Utc>>,
    /// Polls in a row that failed; the source is backed off while this grows.
    pub failures: u32,
    pub last_error: Option<String>,
    /// Pages listed by the source over its life, and the pages it brought that were ingested
    /// (a feed entry's full text included; for a folder, the articles its files added).
    pub entries_seen: u64,
    pub new_articles: u64,
    /// The sources this one names (an OPML file's feeds, an index's sitemaps), as of its last
    /// full answer: still followed when it answers 304.
    #[serde(default)]
    pub children: Vec<String>,
}

impl SourceState {
    pub fn new(url: impl Into<String>) -> SourceState {
        SourceState {
            url: url.into(),
            kind: SourceKind::Unknown,
            etag: None,
            last_modified: None,
            last_fetch: None,
            last_status: None,
            next_poll: None,
            failures: 0,
            last_error: None,
            entries_seen: 0,
            new_articles: 0,
            children: Vec::new(),
        }
    }
}
