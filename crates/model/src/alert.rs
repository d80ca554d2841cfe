//! Saved searches that report matching stories, and what they reported.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ArticleId, StoryId};

/// A saved search: every new or grown story with a member that matches `query` is reported,
/// once when it first matches and again each time `grow_by` more outlets have joined it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub name: String,
    /// In the search syntax (`storyline search`).
    pub query: String,
    /// POSTed to, signed: `X-Storyline-Signature: sha256=HEX` is the HMAC-SHA256 of the body
    /// under `secret`.
    pub webhook: Option<String>,
    /// Appended to, one JSON object per line.
    pub file: Option<String>,
    /// Hex; the key of the webhook signature.
    pub secret: String,
    /// New outlets that make a reported story worth reporting again.
    pub grow_by: u32,
    pub created: DateTime<Utc>,
    /// The change-feed counter up to which stories were checked.
    #[serde(default)]
    pub checked: i64,
}

/// One report of a story by an alert. `(alert, story, level)` is reported once: level 0 when
/// the story first matches, level k when `k × grow_by` outlets joined it since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertHit {
    pub alert: String,
    pub story: StoryId,
    pub level: u32,
    pub title: String,
    pub articles: usize,
    pub outlets: Vec<String>,
    /// Outlets that joined since the last report (all of them at level 0).
    pub new_outlets: Vec<String>,
    /// Members that match the query (at most 20).
    pub matched: Vec<ArticleId>,
    pub at: DateTime<Utc>,
    /// When it was delivered; `None` while it is still to be delivered.
    pub delivered: Option<DateTime<Utc>>,
    pub attempts: u32,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}
