//! Types that later stages fill in (copies, stories, entities, quotes, figures). They are
//! defined here from the start so that the store schema and the export interfaces grow without
//! reshaping what already exists.

use crate::{ArticleId, Published};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A half-open character range `[start, end)` in an article's clean text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// How one article relates to another (copy detection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyKind {
    Exact,
    NearDuplicate,
    Partial,
    Rewrite,
}

impl CopyKind {
    /// The serialized name: `exact`, `near_duplicate`, `partial` or `rewrite`.
    pub fn as_str(self) -> &'static str {
        match self {
            CopyKind::Exact => "exact",
            CopyKind::NearDuplicate => "near_duplicate",
            CopyKind::Partial => "partial",
            CopyKind::Rewrite => "rewrite",
        }
    }
}

/// Aligned passage shared by two articles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedSpan {
    pub a_start: usize,
    pub a_end: usize,
    pub b_start: usize,
    pub b_end: usize,
}

/// Which side of a relation is the likely original.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    A,
    B,
}

/// A copy relation between two articles, with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyRelation {
    pub a: ArticleId,
    pub b: ArticleId,
    pub relation: CopyKind,
    pub similarity: f32,
    pub shared: Vec<SharedSpan>,
    pub original: Option<Side>,
    pub evidence: Vec<String>,
}

/// `Display` for the closed kinds, as their serialized name.
macro_rules! display_as_str {
    ($($name:ident),*) => {
        $(impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        })*
    };
}
pub(crate) use display_as_str;

display_as_str!(CopyKind);

/// Identifiers are strings in JSON and in the stores; each kind of thing has its own type so
/// that a thread id is never passed where an entity id is meant.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> $name {
                $name(s.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> $name {
                $name(s)
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// Stable story identifier; a story keeps it as it grows.
    StoryId
);
id_type!(
    /// A thread (long-running topic) identifier.
    ThreadId
);
id_type!(
    /// A resolved entity's identifier (`kind:normalised name`).
    EntityId
);

/// One real-world event as covered by many outlets: its descriptors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Story {
    pub id: StoryId,
    /// The member headline that best represents the story.
    pub title: String,
    /// Number of member articles (copies included).
    pub articles: usize,
    /// Distinct outlets, sorted.
    pub outlets: Vec<String>,
    /// The first and last day a member was published.
    pub first_published: Option<NaiveDate>,
    pub last_published: Option<NaiveDate>,
    pub key_terms: Vec<String>,
    /// Main names (people, places, organisations) of the story.
    pub key_names: Vec<String>,
    pub thread: Option<ThreadId>,
}

/// Why an article belongs to its story: the similarity to the rest of the story when it was
/// assigned, and what they share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoryMember {
    pub article: ArticleId,
    pub story: StoryId,
    pub score: f32,
    pub shared_terms: Vec<String>,
    pub shared_names: Vec<String>,
    /// "first article of the story", "copy of <id>", or empty.
    pub note: String,
}

/// A long-running topic: stories with the same actors and places, any time apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thread {
    pub id: ThreadId,
    pub title: String,
    pub stories: usize,
}

/// CoNLL entity types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EntityType {
    #[serde(rename = "PER")]
    Person,
    #[serde(rename = "ORG")]
    Organisation,
    #[serde(rename = "LOC")]
    Place,
    #[serde(rename = "MISC")]
    Other,
    /// A group of people: a nationality, religion, political or ethnic group ("Israelis",
    /// "Jewish", "Republicans"), told apart from MISC by the shared name lists.
    #[serde(rename = "NORP")]
    Group,
}

impl EntityType {
    /// The CoNLL name, as serialized: PER, ORG, LOC or MISC, and NORP for groups.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Person => "PER",
            EntityType::Organisation => "ORG",
            EntityType::Place => "LOC",
            EntityType::Other => "MISC",
            EntityType::Group => "NORP",
        }
    }
}

/// One mention of an entity in an article, with the role or title stated there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mention {
    pub article: ArticleId,
    pub text: String,
    #[serde(rename = "type")]
    pub kind: EntityType,
    pub span: Span,
    /// Title or role stated with this mention ("Secretary of State", "the deputy assistant
    /// secretary of state for ...").
    pub role: Option<String>,
    /// The resolved entity, once resolution has run.
    #[serde(default)]
    pub entity: Option<EntityId>,
}

/// A real-world entity resolved across articles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub id: EntityId,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: EntityType,
    pub aliases: Vec<String>,
    /// Distinct roles with the articles (and their dates) that state them.
    pub roles: Vec<Role>,
    pub articles: Vec<ArticleId>,
    pub mentions: usize,
    /// Set when a short mention ("Smith") could belong to several entities of this name.
    #[serde(default)]
    pub ambiguous_with: Vec<EntityId>,
}

/// A role or title as one article states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub role: String,
    pub article: ArticleId,
    pub published: Option<Published>,
}

/// A direct quotation and who said it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    pub article: ArticleId,
    /// The speaker's entity name (after resolution) or the speaker as written.
    pub speaker: Option<String>,
    /// How the article names the speaker here ("he", "Mr. Blinken", "the spokesperson").
    pub speaker_mention: Option<String>,
    #[serde(default)]
    pub speaker_entity: Option<EntityId>,
    pub cue: Option<String>,
    pub text: String,
    /// Character offsets of the quoted words (inside the quotation marks).
    pub start: usize,
    pub end: usize,
}

/// A reported number with what it counts and who reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub article: ArticleId,
    pub value: f64,
    /// The number as written ("1,500", "six", "2.5 million").
    pub text: String,
    pub qualifier: Option<String>,
    pub what: String,
    pub source: Option<String>,
    pub sentence: String,
    /// Character offsets of the number as written (`text`) in the clean text.
    pub start: usize,
    pub end: usize,
    /// The date the sentence's relative date refers to ("on Wednesday"), when known.
    #[serde(default)]
    pub when: Option<NaiveDate>,
}

/// A date a text refers to ("on Wednesday", "next week", "May 12"), resolved against the
/// article's publication date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRef {
    pub text: String,
    pub date: NaiveDate,
    pub start: usize,
    pub end: usize,
}

/// Everything the enrichment step finds in one article.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    pub mentions: Vec<Mention>,
    pub quotes: Vec<Quote>,
    pub figures: Vec<Figure>,
    pub dates: Vec<DateRef>,
}

#[cfg(test)]
mod tests {
    use super::EntityType;

    #[test]
    fn entity_type_names_are_the_serialized_ones() {
        for t in [EntityType::Person, EntityType::Organisation, EntityType::Place, EntityType::Other, EntityType::Group] {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }
}
