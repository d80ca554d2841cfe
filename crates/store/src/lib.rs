//! Storage behind traits, one per concern: [`Articles`], [`Search`], [`Copies`], [`Stories`],
//! [`FactStore`] and the [`ChangeFeed`]. [`Store`] is all of them; the pipeline, CLI and server
//! only ever see `&dyn Store`. Three backends implement it and pass one conformance suite
//! ([`conformance`]):
//!
//! - [`MemoryStore`]: everything in memory, for tests and evals;
//! - [`EmbeddedStore`]: SQLite (WAL, fully synchronous commits) in one directory, for one machine;
//! - [`PgStore`]: PostgreSQL, for shared state across machines.
//!
//! Full-text search is the same everywhere: a tantivy index ([`SearchIndex`]) derived from the
//! store's article sequence. Each commit of it records the last sequence number it covers, so it
//! catches up with whatever was stored while it was not looking (by another process, or before
//! a crash). Every backend commits articles in sequence order, which is what makes "everything
//! up to N" a sound statement.
//!
//! Writes take `&self` and are safe from any number of threads and processes at once: they
//! wait for each other (never fail with a lock error). Steps that must run one at a time across
//! processes (copy checks, story assignment, facts) hold a [`StepLock`] kept in the store.

pub mod conformance;
mod index;
mod memory;
mod postgres;
mod query;
mod sqlite;
mod sqlite_stories;

use storyline_model::{
    Alert, AlertHit, Article, ArticleId, CopyRelation, Facts, Published, SourceState, StoredArticle, Story, StoryId, StoryMember, Thread, ThreadId,
};

/// The traits, for `use storyline_store::prelude::*`.
pub mod prelude {
    pub use crate::{Articles, ChangeFeed, Copies, FactStore, Search, Store, Stories};
}

pub use index::SearchIndex;
pub use memory::MemoryStore;
pub use postgres::PgStore;
pub use query::{check_shape, rewrite_dates, Query, MAX_QUERY_BYTES, MAX_QUERY_DEPTH};
pub use sqlite::EmbeddedStore;

/// Errors of the store, the same for every backend. The caller's mistakes (a bad query) are
/// told apart from ours.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database failed or refused (its message, naming the store).
    #[error("database error in {store}: {message}")]
    Database { store: String, message: String },
    #[error("full-text index error in {store}: {message}")]
    Index { store: String, message: String },
    #[error("cannot use store directory {path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    #[error("writing output: {0}")]
    Output(#[source] std::io::Error),
    #[error("invalid query: {0}")]
    Query(String),
    #[error("corrupt record for article {id}: {message}")]
    Corrupt { id: String, message: String },
    /// The store was written by a newer Storyline.
    #[error("{store} has schema version {found}; this Storyline knows versions up to {known}: upgrade Storyline")]
    Schema { store: String, found: i64, known: i64 },
    #[error("{0}")]
    Locator(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What storing a batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PutSummary {
    pub added: usize,
    pub already_stored: usize,
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub id: ArticleId,
    pub score: f32,
    pub title: Option<String>,
    pub published: Option<Published>,
    pub outlet: Option<String>,
    /// Matching passage with `<b>` around the matched terms.
    pub snippet: String,
}

/// Search results with the total number of matches.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResults {
    pub total: usize,
    pub hits: Vec<SearchHit>,
}

/// The outcome of checking one article for copies.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyCheck {
    pub article: ArticleId,
    pub anchors: Vec<u64>,
    pub relations: Vec<CopyRelation>,
}

/// How widely one passage anchor is held among checked articles (see
/// [`Copies::anchor_spread`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnchorSpread {
    pub anchor: u64,
    /// Checked articles holding it.
    pub documents: usize,
    /// Distinct outlets among them; an article without an outlet counts as its own.
    pub outlets: usize,
    /// Whether one of them is of the outlet asked about.
    pub with_outlet: bool,
}

/// The clustering state the story step resumes from.
#[derive(Debug, Default)]
pub struct ClusterState {
    /// Opaque engine state of every live story, by story id.
    pub stories: Vec<Vec<u8>>,
    /// Document frequency of each feature key, and the number of documents counted.
    pub df: Vec<(u64, u32)>,
    pub docs: u64,
}

/// What one batch of the story step changed, written in one transaction.
#[derive(Debug, Default)]
pub struct StoryUpdate {
    pub members: Vec<StoryMember>,
    /// New or changed stories: descriptors and opaque engine state.
    pub stories: Vec<(Story, Vec<u8>)>,
    /// `(absorbed, survivor)` story merges.
    pub merges: Vec<(String, String)>,
    /// `(story, other)`: members of a story that moved to another when it was reopened.
    pub splits: Vec<(String, String)>,
    /// `(absorbed, survivor)` thread merges.
    pub thread_merges: Vec<(String, String)>,
    pub threads: Vec<Thread>,
    pub df_delta: Vec<(u64, u32)>,
    pub docs_delta: u64,
    /// Rewrites found among the members of the batch's stories (kept beside the copy
    /// relations; a pair already related keeps its relation).
    pub rewrites: Vec<CopyRelation>,
    /// RFC 3339 time of the change.
    pub at: String,
}

/// How to order story listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorySort {
    /// Most articles first.
    Size,
    /// Latest publication first.
    Recent,
}

/// A recorded change of story or thread identity: a link to `from` now leads to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoryEvent {
    pub kind: StoryEventKind,
    pub from: String,
    pub to: String,
    pub at: String,
}

/// What a [`StoryEvent`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoryEventKind {
    /// `from` was absorbed by `to`.
    StoryMerge,
    /// Members of `from` moved to `to` when `from` was reopened.
    StorySplit,
    /// Thread `from` was absorbed by thread `to`.
    ThreadMerge,
}

impl StoryEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StoryEventKind::StoryMerge => "story_merge",
            StoryEventKind::StorySplit => "story_split",
            StoryEventKind::ThreadMerge => "thread_merge",
        }
    }
}

/// Where the store's change feed stands: the last article sequence number, and a counter that
/// every committed write (articles, copies, stories, facts) moves on. A reader that saw the
/// same head has nothing new to read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Head {
    pub articles: i64,
    pub changes: i64,
}

/// A step of the pipeline that runs in one process at a time over one store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    Copies,
    Stories,
    Facts,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Copies => "copies",
            Step::Stories => "stories",
            Step::Facts => "facts",
        }
    }

    /// A number for backends that lock by number (PostgreSQL advisory locks).
    pub fn key(self) -> i64 {
        0x5354_4f52_0000 + self as i64
    }
}

/// Held while a [`Step`] runs; dropping it lets the next process in.
pub struct StepLock(#[allow(dead_code)] Box<dyn Send>);

impl StepLock {
    pub fn new(held: impl Send + 'static) -> StepLock {
        StepLock(Box::new(held))
    }
}

/// Articles: the source of truth, in sequence order.
pub trait Articles {
    /// Stores articles atomically; an article whose id is already stored is not added again.
    fn put_articles(&self, articles: &[Article], ingested_at: &str) -> Result<PutSummary>;
    /// By id or external id.
    fn get_article(&self, id: &ArticleId) -> Result<Option<StoredArticle>>;
    /// Articles by id (not external id), in the order asked; ids not stored are left out.
    fn get_articles(&self, ids: &[ArticleId]) -> Result<Vec<StoredArticle>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(self.get_article(id)?.filter(|a| a.article.id == *id));
        }
        Ok(out)
    }
    /// Visits all articles in sequence order, page by page through [`Articles::articles_after`]
    /// (memory stays flat, and no connection is held while the visitor writes).
    fn for_each_article(&self, visit: &mut dyn FnMut(StoredArticle) -> std::io::Result<()>) -> Result<()> {
        let mut after = 0;
        loop {
            let page = self.articles_after(after, 1024)?;
            let Some(last) = page.last() else { return Ok(()) };
            after = last.seq;
            for a in page {
                visit(a).map_err(Error::Output)?;
            }
        }
    }
    fn count_articles(&self) -> Result<usize>;
    /// A page of articles in sequence order after sequence number `after` (0: from the start).
    /// At most [`WORK_BATCH_BYTES`] of articles (always one at least).
    fn articles_after(&self, after: i64, limit: usize) -> Result<Vec<StoredArticle>>;
    /// Publication time of every dated article.
    fn article_dates(&self) -> Result<std::collections::HashMap<ArticleId, Published>>;
}

/// Full-text search over the stored articles.
pub trait Search {
    /// Full-text search with the Lucene-like syntax described in the README. The index is
    /// brought up to the store's head first (waiting for no other process).
    fn search(&self, query: &Query, limit: usize) -> Result<SearchResults>;
    /// Indexes what was stored since the index last looked; `wait` for another process that is
    /// indexing (false: return at once if one is). Returns the sequence number covered.
    fn sync_index(&self, wait: bool) -> Result<i64>;
}

/// Copy checks and copy relations.
pub trait Copies {
    /// Up to `limit` stored articles whose copy check has not been done, oldest first.
    fn articles_needing_copy_check(&self, limit: usize) -> Result<Vec<StoredArticle>>;
    /// Checked articles sharing at least `min_shared` of these passage anchors, in sequence order.
    fn copy_candidates(&self, anchors: &[u64], min_shared: usize) -> Result<Vec<ArticleId>>;
    /// Of these anchors, those held by at least `min_documents` checked articles, with how many
    /// articles and outlets hold each and whether `outlet` is among them: the document
    /// frequency that tells a site's template from text (sorted by anchor).
    fn anchor_spread(&self, anchors: &[u64], outlet: Option<&str>, min_documents: usize) -> Result<Vec<AnchorSpread>>;
    /// Records the copy checks of a batch in one transaction: their anchors, the relations
    /// found, and that they were checked (so an interrupted run resumes where it stopped).
    fn record_copy_checks(&self, checks: &[CopyCheck]) -> Result<()>;
    /// Visits copy relations, ordered by `(a, b)`: all of them, or those of one article.
    fn for_each_copy_relation(&self, of: Option<&ArticleId>, visit: &mut dyn FnMut(CopyRelation) -> std::io::Result<()>) -> Result<()>;
}

/// Stories, threads and the clustering state.
pub trait Stories {
    /// Up to `limit` stored articles not yet in a story whose copy check is done (the story
    /// step needs to know which are copies), oldest first.
    fn articles_needing_story(&self, limit: usize) -> Result<Vec<StoredArticle>>;
    /// The state the story step resumes from.
    fn cluster_state(&self) -> Result<ClusterState>;
    /// Records a batch of story assignments, story changes, merges and frequencies atomically.
    fn record_stories(&self, update: &StoryUpdate) -> Result<()>;
    /// The stories of these articles (those that have one).
    fn stories_of(&self, articles: &[ArticleId]) -> Result<Vec<(ArticleId, StoryId)>>;
    /// Live stories, sorted, last published on or after `since` when given.
    fn list_stories(&self, sort: StorySort, since: Option<chrono::NaiveDate>, limit: usize) -> Result<Vec<Story>>;
    /// A story by id; an id that was merged away leads to the story that absorbed it, with the
    /// merge events followed.
    fn get_story(&self, id: &str) -> Result<Option<(Story, Vec<StoryEvent>)>>;
    /// Why each member is in the story, by publication then sequence.
    fn story_members(&self, id: &StoryId) -> Result<Vec<StoryMember>>;
    fn get_thread(&self, id: &str) -> Result<Option<Thread>>;
    /// Each article's story and thread, for exports.
    fn article_stories(&self) -> Result<std::collections::HashMap<ArticleId, (StoryId, Option<ThreadId>)>>;
    /// What story writes changed after the change-feed position `after` (a [`Head::changes`]
    /// value; 0 for everything): what a reader applies to follow the stories incrementally.
    /// Every story write committed before a head was read is in the changes after any earlier
    /// head; later writes may be in them too (applying a change twice is harmless).
    fn story_changes(&self, after: i64) -> Result<StoryChanges>;
}

/// Story writes since a point of the change feed (see [`Stories::story_changes`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoryChanges {
    /// Live stories written since, as they are now, by id.
    pub stories: Vec<Story>,
    /// Stories merged into another since, by id.
    pub gone: Vec<StoryId>,
    /// Memberships written or moved since: each article with its story now, by article.
    pub members: Vec<(ArticleId, StoryId)>,
}

/// Entities, quotes and figures per article.
pub trait FactStore {
    /// Up to `limit` stored articles whose facts are not found yet, oldest first.
    fn articles_needing_facts(&self, limit: usize) -> Result<Vec<StoredArticle>>;
    /// Records the facts of a batch of articles in one transaction.
    fn record_facts(&self, facts: &[(ArticleId, Facts)]) -> Result<()>;
    /// Visits every article's facts in sequence order (streaming).
    fn for_each_facts(&self, visit: &mut dyn FnMut(ArticleId, Facts) -> std::io::Result<()>) -> Result<()>;
    /// The facts of these articles (those that have any), in the order asked.
    fn facts_of(&self, articles: &[ArticleId]) -> Result<Vec<(ArticleId, Facts)>>;
}

/// What readers follow, and the locks writers share.
pub trait ChangeFeed {
    /// Where the feed stands now.
    fn head(&self) -> Result<Head>;
    /// Waits until no other process (or thread) runs `step` on this store, and holds it until
    /// the lock is dropped. A process that dies releases its locks.
    fn lock_step(&self, step: Step) -> Result<StepLock>;
    /// A name for messages: the directory, or the database URL without its password.
    fn describe(&self) -> String;
}

/// Everything Storyline keeps.
/// What the follower keeps between polls: each source's state, and the pages fetched (by any
/// source), so that an article listed under several sources is fetched once.
pub trait Sources {
    /// Every followed source, by address.
    fn sources(&self) -> Result<Vec<SourceState>>;
    /// Stores a source's state (replacing its last) and the canonical addresses of the pages
    /// it fetched, in one transaction.
    fn put_source(&self, state: &SourceState, fetched: &[String]) -> Result<()>;
    /// Which of `urls` were already fetched.
    fn fetched_pages(&self, urls: &[String]) -> Result<std::collections::HashSet<String>>;
}

/// Saved searches and what they reported: a report is stored once per `(alert, story, level)`,
/// so that whoever checks, and however often, each is delivered once.
pub trait Alerts {
    /// Every alert, by name.
    fn alerts(&self) -> Result<Vec<Alert>>;
    /// Adds an alert or replaces the one of that name.
    fn put_alert(&self, alert: &Alert) -> Result<()>;
    /// Removes an alert and its reports; whether there was one.
    fn remove_alert(&self, name: &str) -> Result<bool>;
    /// Records, in one transaction, that `alert` was checked up to change `checked`, with
    /// these reports; a report already stored is left as it is. Returns the reports newly
    /// stored (to deliver).
    fn record_alert_check(&self, alert: &str, checked: i64, hits: &[AlertHit]) -> Result<Vec<AlertHit>>;
    /// The reports of an alert (every alert: `None`), by story and level.
    fn alert_hits(&self, alert: Option<&str>) -> Result<Vec<AlertHit>>;
    /// Stores a report's delivery state.
    fn update_alert_hit(&self, hit: &AlertHit) -> Result<()>;
}

pub trait Store: Articles + Search + Copies + Stories + FactStore + Sources + Alerts + ChangeFeed + Send + Sync {}

impl<T: Articles + Search + Copies + Stories + FactStore + Sources + Alerts + ChangeFeed + Send + Sync> Store for T {}

/// Runs `f` (store calls) where a blocking database client may block. The PostgreSQL client
/// drives its connection on a runtime of its own and cannot be called from inside another
/// async runtime; from there `f` runs on a thread of its own (the caller waits, as it would for
/// the call itself). Elsewhere it runs in place. Async code (the follower, the alerter) calls
/// the store through this.
pub fn blocking<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|scope| match scope.spawn(f).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// Opens a store by locator: `postgres://...` or `postgresql://...` for PostgreSQL,
/// `memory:` for a fresh in-memory store, anything else a directory for the embedded store.
/// `index_dir` is where a PostgreSQL reader keeps its derived search index (default: a
/// directory under the user's cache named after the database).
pub fn open(locator: &str, index_dir: Option<&std::path::Path>) -> Result<Box<dyn Store>> {
    if locator.starts_with("postgres://") || locator.starts_with("postgresql://") {
        Ok(Box::new(PgStore::open(locator, index_dir)?))
    } else if locator == "memory:" {
        Ok(Box::new(MemoryStore::new()?))
    } else {
        Ok(Box::new(EmbeddedStore::open(std::path::Path::new(locator))?))
    }
}

/// Most bytes of stored articles a work-queue read returns (always one article at least), so
/// that a queue of huge articles cannot hold all of them in memory.
pub const WORK_BATCH_BYTES: usize = 128 << 20;

/// Anchors found in more stored articles than this are ignored when looking for candidates.
pub const MAX_ANCHOR_POSTINGS: usize = 1000;

/// The copy candidates among checked articles: the sequence numbers (ascending) found in at
/// least `min_shared` of these postings lists, one list per anchor asked. An anchor found in
/// more than [`MAX_ANCHOR_POSTINGS`] articles is boilerplate, not evidence, and is skipped.
pub(crate) fn sharing<'a>(postings: impl IntoIterator<Item = &'a [i64]>, min_shared: usize) -> Vec<i64> {
    let mut counts: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    for seqs in postings.into_iter().filter(|s| s.len() <= MAX_ANCHOR_POSTINGS) {
        for &seq in seqs {
            *counts.entry(seq).or_default() += 1;
        }
    }
    let mut seqs: Vec<i64> = counts.into_iter().filter(|&(_, n)| n >= min_shared).map(|(s, _)| s).collect();
    seqs.sort_unstable();
    seqs
}

/// A stored article decoded from the JSON the store wrote.
pub(crate) fn decode(id: String, seq: i64, ingested_at: String, json: &str) -> Result<StoredArticle> {
    let article: Article = serde_json::from_str(json).map_err(|e| Error::Corrupt { id, message: e.to_string() })?;
    Ok(StoredArticle { article, ingested_at, seq })
}

pub(crate) fn to_json<T: serde::Serialize>(id: &str, v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Corrupt { id: id.to_owned(), message: e.to_string() })
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(id: &str, json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| Error::Corrupt { id: id.to_owned(), message: e.to_string() })
}

/// The relation kind as stored in a column (`exact`, `near_duplicate`, ...).
pub(crate) fn relation_name(r: &CopyRelation) -> String {
    serde_json::to_value(r.relation).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}
