//! Storage behind one trait. [`Store`] is what the pipeline, CLI and (later) server use; the
//! default [`EmbeddedStore`] keeps articles in SQLite (the source of truth, WAL mode, fully
//! synchronous commits) and a tantivy full-text index beside it. A PostgreSQL store for larger
//! deployments implements the same trait.
//!
//! Crash safety: a batch is reported stored only after its SQLite transaction committed. The
//! tantivy index is derived data: each index commit records the last SQLite sequence number it
//! covers, and opening the store re-indexes whatever a crash left out.

mod query;
mod stories;

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};
use storyline_model::{Article, ArticleId, CopyRelation, Facts, StoredArticle, Story, StoryId, StoryMember, Thread};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::QueryParser;
use tantivy::schema::{DateOptions, DateTimePrecision, Field, Schema, Value, INDEXED, STORED, STRING, TEXT};
use tantivy::snippet::SnippetGenerator;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

pub use query::{check_shape, rewrite_dates, MAX_QUERY_BYTES, MAX_QUERY_DEPTH};

/// Errors of the store. The caller's mistakes (a bad query) are told apart from ours.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error in {path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("full-text index error in {path}: {source}")]
    Index { path: PathBuf, source: tantivy::TantivyError },
    #[error("cannot use store directory {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("writing output: {0}")]
    Output(#[source] std::io::Error),
    #[error("invalid query: {0}")]
    Query(String),
    #[error("corrupt record for article {id}: {message}")]
    Corrupt { id: String, message: String },
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
    pub published: Option<String>,
    pub outlet: Option<String>,
    /// Matching passage with `<b>` around the matched terms.
    pub snippet: String,
}

/// The outcome of checking one article for copies.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyCheck {
    pub article_seq: i64,
    pub anchors: Vec<u64>,
    pub relations: Vec<CopyRelation>,
}

/// The clustering state the story step resumes from.
#[derive(Debug, Default)]
pub struct ClusterState {
    /// Opaque engine state of every live story.
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
    pub kind: String,
    pub from: String,
    pub to: String,
    pub at: String,
}

/// Search results with the total number of matches.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResults {
    pub total: usize,
    pub hits: Vec<SearchHit>,
}

/// Everything Storyline keeps. Implementations must make `put_articles` atomic per call.
pub trait Store {
    /// Stores articles; an article whose id is already stored is not added again.
    fn put_articles(&mut self, articles: &[Article], ingested_at: &str) -> Result<PutSummary>;
    fn get_article(&self, id: &ArticleId) -> Result<Option<StoredArticle>>;
    /// Visits all articles in insertion order (streaming; memory stays flat).
    fn for_each_article(&self, visit: &mut dyn FnMut(StoredArticle) -> std::io::Result<()>) -> Result<()>;
    fn count_articles(&self) -> Result<usize>;
    /// Full-text search with the Lucene-like syntax described in the README.
    fn search(&self, query: &str, limit: usize) -> Result<SearchResults>;

    /// Up to `limit` stored articles whose copy check has not been done, oldest first.
    fn articles_needing_copy_check(&self, limit: usize) -> Result<Vec<StoredArticle>>;
    /// Checked articles sharing at least `min_shared` of these passage anchors.
    fn copy_candidates(&self, anchors: &[u64], min_shared: usize) -> Result<Vec<ArticleId>>;
    /// Records the copy checks of a batch of articles in one transaction: their anchors, the
    /// relations found, and that they were checked (so an interrupted run resumes where it
    /// stopped).
    fn record_copy_checks(&mut self, checks: &[CopyCheck]) -> Result<()>;
    /// Visits copy relations: all of them, or those of one article.
    fn for_each_copy_relation(&self, of: Option<&ArticleId>, visit: &mut dyn FnMut(CopyRelation) -> std::io::Result<()>) -> Result<()>;

    /// Up to `limit` stored articles not yet in a story, oldest first.
    fn articles_needing_story(&self, limit: usize) -> Result<Vec<StoredArticle>>;
    /// The state the story step resumes from.
    fn cluster_state(&self) -> Result<ClusterState>;
    /// Records a batch of story assignments, story changes, merges and frequencies atomically.
    fn record_stories(&mut self, update: &StoryUpdate) -> Result<()>;
    /// The stories of these articles (those that have one).
    fn stories_of(&self, articles: &[ArticleId]) -> Result<Vec<(ArticleId, StoryId)>>;
    /// Live stories, sorted, published on or after `since` (a `YYYY-MM-DD` date) when given.
    fn list_stories(&self, sort: StorySort, since: Option<&str>, limit: usize) -> Result<Vec<Story>>;
    /// A story by id; an id that was merged away leads to the story that absorbed it, with the
    /// merge events followed.
    fn get_story(&self, id: &str) -> Result<Option<(Story, Vec<StoryEvent>)>>;
    /// Why each member is in the story.
    fn story_members(&self, id: &StoryId) -> Result<Vec<StoryMember>>;
    fn get_thread(&self, id: &str) -> Result<Option<Thread>>;
    /// Each article's story and thread, for exports.
    fn article_stories(&self) -> Result<std::collections::HashMap<ArticleId, (StoryId, Option<String>)>>;

    /// Up to `limit` stored articles whose facts (entities, quotes, figures) are not found yet.
    fn articles_needing_facts(&self, limit: usize) -> Result<Vec<StoredArticle>>;
    /// Records the facts of a batch of articles in one transaction.
    fn record_facts(&mut self, facts: &[(ArticleId, Facts)]) -> Result<()>;
    /// Visits every article's facts in insertion order (streaming).
    fn for_each_facts(&self, visit: &mut dyn FnMut(ArticleId, Facts) -> std::io::Result<()>) -> Result<()>;
    /// The facts of these articles (those that have any), in the order asked.
    fn facts_of(&self, articles: &[ArticleId]) -> Result<Vec<(ArticleId, Facts)>>;
    /// Publication time of every dated article.
    fn article_dates(&self) -> Result<std::collections::HashMap<ArticleId, String>>;
    /// A page of articles in storage order after sequence number `after` (0: from the start).
    fn articles_after(&self, after: i64, limit: usize) -> Result<Vec<StoredArticle>>;
}

struct Fields {
    id: Field,
    title: Field,
    text: Field,
    outlet: Field,
    authors: Field,
    contributors: Field,
    credited_source: Field,
    url: Field,
    language: Field,
    external_id: Field,
    published: Field,
}

/// SQLite + tantivy in one directory.
pub struct EmbeddedStore {
    dir: PathBuf,
    conn: Connection,
    index: Index,
    reader: IndexReader,
    /// Taken on the first write, so that readers (a `search` while `serve` runs) do not need
    /// the index's single-writer lock.
    writer: Option<IndexWriter>,
    fields: Fields,
}

const SCHEMA_VERSION: i64 = 1;
const INDEX_HEAP_BYTES: usize = 64 * 1024 * 1024;

impl EmbeddedStore {
    /// Opens (or creates) the store in `dir`, and brings the index up to date with the database.
    pub fn open(dir: &Path) -> Result<EmbeddedStore> {
        let io = |source| Error::Io { path: dir.to_path_buf(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        let db_path = dir.join("storyline.sqlite");
        let sql = |source| Error::Sqlite { path: db_path.clone(), source };
        let conn = Connection::open(&db_path).map_err(sql)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             PRAGMA foreign_keys=ON;
             PRAGMA busy_timeout=10000;
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS articles (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT,
                 id TEXT NOT NULL UNIQUE,
                 source TEXT NOT NULL,
                 external_id TEXT,
                 url TEXT,
                 title TEXT,
                 published TEXT,
                 outlet TEXT,
                 language TEXT,
                 ingested_at TEXT NOT NULL,
                 json TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS articles_published ON articles(published);
             CREATE INDEX IF NOT EXISTS articles_outlet ON articles(outlet);
             CREATE INDEX IF NOT EXISTS articles_external_id ON articles(external_id);
             CREATE TABLE IF NOT EXISTS anchors (hash INTEGER NOT NULL, article_seq INTEGER NOT NULL);
             CREATE INDEX IF NOT EXISTS anchors_hash ON anchors(hash);
             CREATE TABLE IF NOT EXISTS copy_checked (article_seq INTEGER PRIMARY KEY);
             CREATE TABLE IF NOT EXISTS copies (
                 a TEXT NOT NULL,
                 b TEXT NOT NULL,
                 relation TEXT NOT NULL,
                 similarity REAL NOT NULL,
                 json TEXT NOT NULL,
                 PRIMARY KEY (a, b)
             );
             CREATE INDEX IF NOT EXISTS copies_b ON copies(b);
             CREATE TABLE IF NOT EXISTS stories (
                 id TEXT PRIMARY KEY,
                 title TEXT NOT NULL,
                 articles INTEGER NOT NULL,
                 first_published TEXT,
                 last_published TEXT,
                 thread TEXT,
                 json TEXT NOT NULL,
                 state BLOB,
                 merged_into TEXT
             );
             CREATE INDEX IF NOT EXISTS stories_thread ON stories(thread);
             CREATE TABLE IF NOT EXISTS story_members (article TEXT PRIMARY KEY, story TEXT NOT NULL, json TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS story_members_story ON story_members(story);
             CREATE TABLE IF NOT EXISTS story_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, from_id TEXT NOT NULL, to_id TEXT NOT NULL, at TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS story_events_from ON story_events(from_id);
             CREATE TABLE IF NOT EXISTS threads (id TEXT PRIMARY KEY, title TEXT NOT NULL, stories INTEGER NOT NULL, merged_into TEXT);
             CREATE TABLE IF NOT EXISTS cluster_df (key INTEGER PRIMARY KEY, df INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS facts (article TEXT PRIMARY KEY, json TEXT NOT NULL);",
        )
        .map_err(sql)?;
        let version: Option<String> = conn.query_row("SELECT value FROM meta WHERE key='schema_version'", [], |r| r.get(0)).optional().map_err(sql)?;
        if version.is_none() {
            conn.execute("INSERT INTO meta(key, value) VALUES ('schema_version', ?1)", [SCHEMA_VERSION.to_string()]).map_err(sql)?;
        }

        let index_dir = dir.join("index");
        std::fs::create_dir_all(&index_dir).map_err(io)?;
        let ix = |source| Error::Index { path: index_dir.clone(), source };
        let (schema, fields) = schema();
        let directory = tantivy::directory::MmapDirectory::open(&index_dir).map_err(|e| ix(e.into()))?;
        let index = Index::open_or_create(directory, schema).map_err(ix)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(ix)?;
        let mut store = EmbeddedStore { dir: dir.to_path_buf(), conn, index, reader, writer: None, fields };
        store.catch_up_index()?;
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn sql_path(&self) -> PathBuf {
        self.dir.join("storyline.sqlite")
    }

    /// Up to `limit` articles matching an SQL condition, oldest first (the work queues of the
    /// copy and story steps).
    /// At most [`WORK_BATCH_BYTES`] of stored JSON are read at once (always one article at least),
    /// so that a queue of huge articles cannot hold all of them in memory.
    fn oldest_articles_where(&self, condition: &str, limit: usize) -> Result<Vec<StoredArticle>> {
        let query = format!(
            "SELECT seq, id, ingested_at, json FROM (SELECT seq, id, ingested_at, json, SUM(LENGTH(json)) OVER (ORDER BY seq) - LENGTH(json) AS before \
             FROM articles WHERE {condition} ORDER BY seq LIMIT ?1) WHERE before < ?2 ORDER BY seq"
        );
        let mut stmt = self.conn.prepare_cached(&query).map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map([limit as i64, WORK_BATCH_BYTES as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
            })
            .map_err(|e| self.sql_err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, id, ingested_at, json) = row.map_err(|e| self.sql_err(e))?;
            out.push(decode(id, seq, ingested_at, &json)?);
        }
        Ok(out)
    }

    /// Checked articles sharing at least `min_shared` anchors (see [`Store::copy_candidates`]).
    fn candidates_sharing(&self, anchors: &[u64], min_shared: usize) -> Result<Vec<ArticleId>> {
        if anchors.is_empty() {
            return Ok(Vec::new());
        }
        let mut counts: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
        let mut stmt = self.conn.prepare_cached("SELECT article_seq FROM anchors WHERE hash = ?1").map_err(|e| self.sql_err(e))?;
        for &h in anchors {
            let rows = stmt.query_map([h as i64], |r| r.get::<_, i64>(0)).map_err(|e| self.sql_err(e))?;
            let seqs: Vec<i64> = rows.collect::<Result<_, _>>().map_err(|e| self.sql_err(e))?;
            // An anchor shared by very many articles is boilerplate, not evidence.
            if seqs.len() > MAX_ANCHOR_POSTINGS {
                continue;
            }
            for seq in seqs {
                *counts.entry(seq).or_default() += 1;
            }
        }
        let mut seqs: Vec<i64> = counts.into_iter().filter(|(_, n)| *n >= min_shared).map(|(s, _)| s).collect();
        seqs.sort_unstable();
        let mut by_seq = self.conn.prepare_cached("SELECT id FROM articles WHERE seq = ?1").map_err(|e| self.sql_err(e))?;
        let mut ids = Vec::with_capacity(seqs.len());
        for seq in seqs {
            let id: String = by_seq.query_row([seq], |r| r.get(0)).map_err(|e| self.sql_err(e))?;
            ids.push(ArticleId(id));
        }
        Ok(ids)
    }

    fn sql_err(&self, source: rusqlite::Error) -> Error {
        Error::Sqlite { path: self.sql_path(), source }
    }

    fn index_err(&self, source: tantivy::TantivyError) -> Error {
        Error::Index { path: self.dir.join("index"), source }
    }

    /// The last database sequence number the index covers (recorded in its commit payload).
    fn indexed_seq(&self) -> Result<i64> {
        let metas = self.index.load_metas().map_err(|e| self.index_err(e))?;
        Ok(metas.payload.and_then(|p| p.parse().ok()).unwrap_or(0))
    }

    /// Indexes articles the database has but the index does not (after a crash).
    fn catch_up_index(&mut self) -> Result<()> {
        let from = self.indexed_seq()?;
        let max: i64 = self.conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM articles", [], |r| r.get(0)).map_err(|e| self.sql_err(e))?;
        if max <= from {
            return Ok(());
        }
        let mut missing = Vec::new();
        {
            let mut stmt = self.conn.prepare("SELECT id, json FROM articles WHERE seq > ?1 ORDER BY seq").map_err(|e| self.sql_err(e))?;
            let rows = stmt.query_map([from], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(|e| self.sql_err(e))?;
            for row in rows {
                let (id, json) = row.map_err(|e| self.sql_err(e))?;
                let article: Article = serde_json::from_str(&json).map_err(|e| Error::Corrupt { id, message: e.to_string() })?;
                missing.push(article);
            }
        }
        for article in &missing {
            // A crash may have left a half-committed index segment: replace, never duplicate.
            let term = Term::from_field_text(self.fields.id, &article.id.0);
            self.writer()?.delete_term(term);
            self.add_to_index(article)?;
        }
        self.commit_index(max)
    }

    fn writer(&mut self) -> Result<&mut IndexWriter> {
        let w = match self.writer.take() {
            Some(w) => w,
            None => self.index.writer(INDEX_HEAP_BYTES).map_err(|e| self.index_err(e))?,
        };
        Ok(self.writer.insert(w))
    }

    fn add_to_index(&mut self, a: &Article) -> Result<()> {
        let f = &self.fields;
        let mut doc = TantivyDocument::default();
        doc.add_text(f.id, &a.id.0);
        if let Some(t) = &a.title {
            doc.add_text(f.title, t);
        }
        doc.add_text(f.text, &a.text);
        if let Some(o) = &a.outlet {
            doc.add_text(f.outlet, o);
        }
        for p in &a.authors {
            doc.add_text(f.authors, p);
        }
        for p in &a.contributors {
            doc.add_text(f.contributors, p);
        }
        if let Some(s) = &a.credited_source {
            doc.add_text(f.credited_source, s);
        }
        if let Some(u) = &a.url {
            doc.add_text(f.url, u);
        }
        if let Some(l) = &a.language {
            doc.add_text(f.language, l);
        }
        if let Some(e) = &a.external_id {
            doc.add_text(f.external_id, e);
        }
        if let Some(ts) = a.published.as_deref().and_then(query::timestamp_of) {
            doc.add_date(f.published, tantivy::DateTime::from_timestamp_secs(ts));
        }
        let added = self.writer()?.add_document(doc);
        added.map_err(|e| self.index_err(e))?;
        Ok(())
    }

    fn commit_index(&mut self, seq: i64) -> Result<()> {
        let path = self.dir.join("index");
        let mut prepared = self.writer()?.prepare_commit().map_err(|e| Error::Index { path: path.clone(), source: e })?;
        prepared.set_payload(&seq.to_string());
        prepared.commit().map_err(|e| Error::Index { path, source: e })?;
        self.reader.reload().map_err(|e| self.index_err(e))?;
        Ok(())
    }
}

impl Store for EmbeddedStore {
    fn articles_needing_copy_check(&self, limit: usize) -> Result<Vec<StoredArticle>> {
        self.oldest_articles_where("seq NOT IN (SELECT article_seq FROM copy_checked)", limit)
    }

    fn copy_candidates(&self, anchors: &[u64], min_shared: usize) -> Result<Vec<ArticleId>> {
        self.candidates_sharing(anchors, min_shared)
    }

    fn record_copy_checks(&mut self, checks: &[CopyCheck]) -> Result<()> {
        let path = self.sql_path();
        let sql = |source| Error::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sql)?;
        {
            let mut anchor = tx.prepare_cached("INSERT INTO anchors (hash, article_seq) VALUES (?1, ?2)").map_err(sql)?;
            let mut copy = tx.prepare_cached("INSERT OR REPLACE INTO copies (a, b, relation, similarity, json) VALUES (?1, ?2, ?3, ?4, ?5)").map_err(sql)?;
            let mut checked = tx.prepare_cached("INSERT OR IGNORE INTO copy_checked (article_seq) VALUES (?1)").map_err(sql)?;
            for check in checks {
                for &h in &check.anchors {
                    anchor.execute(params![h as i64, check.article_seq]).map_err(sql)?;
                }
                for r in &check.relations {
                    let json = serde_json::to_string(r).map_err(|e| Error::Corrupt { id: r.a.0.clone(), message: e.to_string() })?;
                    let kind = serde_json::to_value(r.relation).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                    copy.execute(params![r.a.0, r.b.0, kind, r.similarity as f64, json]).map_err(sql)?;
                }
                checked.execute([check.article_seq]).map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    }

    fn for_each_copy_relation(&self, of: Option<&ArticleId>, visit: &mut dyn FnMut(CopyRelation) -> std::io::Result<()>) -> Result<()> {
        let (query, arg) = match of {
            Some(id) => ("SELECT json FROM copies WHERE a = ?1 OR b = ?1 ORDER BY a, b", id.0.clone()),
            None => ("SELECT json FROM copies WHERE ?1 = ?1 ORDER BY a, b", String::new()),
        };
        let mut stmt = self.conn.prepare(query).map_err(|e| self.sql_err(e))?;
        let mut rows = stmt.query([arg]).map_err(|e| self.sql_err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.sql_err(e))? {
            let json: String = row.get(0).map_err(|e| self.sql_err(e))?;
            let relation: CopyRelation = serde_json::from_str(&json).map_err(|e| Error::Corrupt { id: "copy relation".into(), message: e.to_string() })?;
            visit(relation).map_err(Error::Output)?;
        }
        Ok(())
    }

    fn articles_needing_facts(&self, limit: usize) -> Result<Vec<StoredArticle>> {
        self.oldest_articles_where("id NOT IN (SELECT article FROM facts)", limit)
    }

    fn record_facts(&mut self, facts: &[(ArticleId, Facts)]) -> Result<()> {
        let path = self.sql_path();
        let sql = |source| Error::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sql)?;
        {
            let mut stmt = tx.prepare_cached("INSERT OR REPLACE INTO facts (article, json) VALUES (?1, ?2)").map_err(sql)?;
            for (id, f) in facts {
                let json = serde_json::to_string(f).map_err(|e| Error::Corrupt { id: id.0.clone(), message: e.to_string() })?;
                stmt.execute(rusqlite::params![id.0, json]).map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    }

    fn for_each_facts(&self, visit: &mut dyn FnMut(ArticleId, Facts) -> std::io::Result<()>) -> Result<()> {
        let mut stmt =
            self.conn.prepare("SELECT f.article, f.json FROM facts f JOIN articles a ON a.id = f.article ORDER BY a.seq").map_err(|e| self.sql_err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.sql_err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.sql_err(e))? {
            let id: String = row.get(0).map_err(|e| self.sql_err(e))?;
            let json: String = row.get(1).map_err(|e| self.sql_err(e))?;
            let facts: Facts = serde_json::from_str(&json).map_err(|e| Error::Corrupt { id: id.clone(), message: e.to_string() })?;
            visit(ArticleId(id), facts).map_err(Error::Output)?;
        }
        Ok(())
    }

    fn facts_of(&self, articles: &[ArticleId]) -> Result<Vec<(ArticleId, Facts)>> {
        let mut stmt = self.conn.prepare_cached("SELECT json FROM facts WHERE article = ?1").map_err(|e| self.sql_err(e))?;
        let mut out = Vec::new();
        for id in articles {
            let json: Option<String> = stmt.query_row([&id.0], |r| r.get(0)).optional().map_err(|e| self.sql_err(e))?;
            if let Some(json) = json {
                let facts: Facts = serde_json::from_str(&json).map_err(|e| Error::Corrupt { id: id.0.clone(), message: e.to_string() })?;
                out.push((id.clone(), facts));
            }
        }
        Ok(out)
    }

    fn article_dates(&self) -> Result<std::collections::HashMap<ArticleId, String>> {
        let mut stmt = self.conn.prepare("SELECT id, published FROM articles WHERE published IS NOT NULL").map_err(|e| self.sql_err(e))?;
        let rows = stmt.query_map([], |r| Ok((ArticleId(r.get(0)?), r.get::<_, String>(1)?))).map_err(|e| self.sql_err(e))?;
        rows.collect::<rusqlite::Result<_>>().map_err(|e| self.sql_err(e))
    }

    fn articles_after(&self, after: i64, limit: usize) -> Result<Vec<StoredArticle>> {
        self.oldest_articles_where(&format!("seq > {after}"), limit)
    }

    fn articles_needing_story(&self, limit: usize) -> Result<Vec<StoredArticle>> {
        self.oldest_articles_where("id NOT IN (SELECT article FROM story_members)", limit)
    }

    fn cluster_state(&self) -> Result<ClusterState> {
        stories::cluster_state(&self.conn).map_err(|e| self.sql_err(e))
    }

    fn record_stories(&mut self, update: &StoryUpdate) -> Result<()> {
        let path = self.sql_path();
        stories::record(&mut self.conn, update).map_err(|source| Error::Sqlite { path, source })
    }

    fn stories_of(&self, articles: &[ArticleId]) -> Result<Vec<(ArticleId, StoryId)>> {
        stories::stories_of(&self.conn, articles).map_err(|e| self.sql_err(e))
    }

    fn list_stories(&self, sort: StorySort, since: Option<&str>, limit: usize) -> Result<Vec<Story>> {
        stories::list(&self.conn, sort, since, limit).map_err(|e| self.sql_err(e))
    }

    fn get_story(&self, id: &str) -> Result<Option<(Story, Vec<StoryEvent>)>> {
        stories::get(&self.conn, id).map_err(|e| self.sql_err(e))
    }

    fn story_members(&self, id: &StoryId) -> Result<Vec<StoryMember>> {
        stories::members(&self.conn, id).map_err(|e| self.sql_err(e))
    }

    fn get_thread(&self, id: &str) -> Result<Option<Thread>> {
        stories::thread(&self.conn, id).map_err(|e| self.sql_err(e))
    }

    fn article_stories(&self) -> Result<std::collections::HashMap<ArticleId, (StoryId, Option<String>)>> {
        stories::article_stories(&self.conn).map_err(|e| self.sql_err(e))
    }

    fn put_articles(&mut self, articles: &[Article], ingested_at: &str) -> Result<PutSummary> {
        let mut summary = PutSummary::default();
        let mut added = Vec::new();
        let path = self.sql_path();
        let sql = |source| Error::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sql)?;
        {
            let mut existing = tx.prepare_cached("SELECT source FROM articles WHERE id = ?1").map_err(sql)?;
            let mut insert = tx
                .prepare_cached("INSERT INTO articles (id, source, external_id, url, title, published, outlet, language, ingested_at, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
                .map_err(sql)?;
            let mut relabel = tx.prepare_cached("UPDATE articles SET source = ?2, json = ?3 WHERE id = ?1").map_err(sql)?;
            for a in articles {
                let json = serde_json::to_string(a).map_err(|e| Error::Corrupt { id: a.id.0.clone(), message: e.to_string() })?;
                let stored_source: Option<String> = existing.query_row([&a.id.0], |r| r.get(0)).optional().map_err(sql)?;
                match stored_source {
                    None => {
                        insert
                            .execute(params![a.id.0, a.source, a.external_id, a.url, a.title, a.published, a.outlet, a.language, ingested_at, json])
                            .map_err(sql)?;
                        summary.added += 1;
                        added.push(a);
                    }
                    Some(source) => {
                        // The same document read from two places: keep the smallest source name,
                        // so the result does not depend on the order of inputs.
                        if a.source < source {
                            relabel.execute(params![a.id.0, a.source, json]).map_err(sql)?;
                        }
                        summary.already_stored += 1;
                    }
                }
            }
        }
        tx.commit().map_err(sql)?;
        if added.is_empty() {
            return Ok(summary);
        }
        for a in added {
            self.add_to_index(a)?;
        }
        let max: i64 = self.conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM articles", [], |r| r.get(0)).map_err(|e| self.sql_err(e))?;
        self.commit_index(max)?;
        Ok(summary)
    }

    fn get_article(&self, id: &ArticleId) -> Result<Option<StoredArticle>> {
        self.conn
            .query_row("SELECT seq, ingested_at, json FROM articles WHERE id = ?1 OR external_id = ?1 ORDER BY seq LIMIT 1", [&id.0], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
            })
            .optional()
            .map_err(|e| self.sql_err(e))?
            .map(|(seq, ingested_at, json)| decode(id.0.clone(), seq, ingested_at, &json))
            .transpose()
    }

    fn for_each_article(&self, visit: &mut dyn FnMut(StoredArticle) -> std::io::Result<()>) -> Result<()> {
        let mut stmt = self.conn.prepare("SELECT seq, id, ingested_at, json FROM articles ORDER BY seq").map_err(|e| self.sql_err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.sql_err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.sql_err(e))? {
            let (seq, id, ingested_at, json): (i64, String, String, String) = (
                row.get(0).map_err(|e| self.sql_err(e))?,
                row.get(1).map_err(|e| self.sql_err(e))?,
                row.get(2).map_err(|e| self.sql_err(e))?,
                row.get(3).map_err(|e| self.sql_err(e))?,
            );
            let article = decode(id, seq, ingested_at, &json)?;
            visit(article).map_err(Error::Output)?;
        }
        Ok(())
    }

    fn count_articles(&self) -> Result<usize> {
        let n: i64 = self.conn.query_row("SELECT COUNT(*) FROM articles", [], |r| r.get(0)).map_err(|e| self.sql_err(e))?;
        Ok(n as usize)
    }

    fn search(&self, query: &str, limit: usize) -> Result<SearchResults> {
        let f = &self.fields;
        let mut parser = QueryParser::for_index(&self.index, vec![f.title, f.text]);
        parser.set_field_boost(f.title, 2.0);
        parser.set_conjunction_by_default();
        let parsed = parse_with(&parser, query)?;
        let searcher = self.reader.searcher();
        let (top, total) = searcher.search(&parsed, &(TopDocs::with_limit(limit.max(1)).order_by_score(), Count)).map_err(|e| match e {
            // A well-formed query the index cannot answer (`title:*` on a field without a fast
            // column) is the asker's mistake, not a broken index.
            tantivy::TantivyError::SchemaError(m) | tantivy::TantivyError::InvalidArgument(m) => Error::Query(format!("{m} (in {})", query::quoted(query))),
            e => self.index_err(e),
        })?;
        let snippets = SnippetGenerator::create(&searcher, &*parsed, f.text).map_err(|e| self.index_err(e))?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top.into_iter().take(limit) {
            let doc: TantivyDocument = searcher.doc(address).map_err(|e| self.index_err(e))?;
            let id = doc.get_first(f.id).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            let stored = self.get_article(&ArticleId(id.clone()))?;
            let snippet = snippets.snippet_from_doc(&doc).to_html();
            let (title, published, outlet) = match stored {
                Some(s) => (s.article.title, s.article.published, s.article.outlet),
                None => (None, None, None),
            };
            hits.push(SearchHit { id: ArticleId(id), score, title, published, outlet, snippet });
        }
        Ok(SearchResults { total, hits })
    }
}

/// Checks a search query without a store: its shape, its dates and the parser's syntax. What
/// [`Store::search`] would refuse as `Error::Query` (a query the index cannot answer, like
/// `title:*`, passes here).
pub fn check_query(query: &str) -> Result<()> {
    let (schema, f) = schema();
    let parser = QueryParser::new(schema, vec![f.title, f.text], tantivy::tokenizer::TokenizerManager::default());
    parse_with(&parser, query).map(|_| ())
}

/// The one way a user's query reaches the parser: its shape checked first (the parser
/// recurses), dates and aliases rewritten, parse errors cut to their first words (the parser's
/// message may repeat the whole query).
fn parse_with(parser: &QueryParser, query: &str) -> Result<Box<dyn tantivy::query::Query>> {
    query::check_shape(query).map_err(Error::Query)?;
    let rewritten = rewrite_dates(query).map_err(Error::Query)?;
    parser.parse_query(&rewritten).map_err(|e| {
        let message = e.to_string();
        let message = message.char_indices().nth(60).map_or(message.as_str(), |(cut, _)| &message[..cut]).trim_end();
        Error::Query(format!("{message} (in {})", query::quoted(query)))
    })
}

/// Most bytes of stored articles a work-queue read returns (see `oldest_articles_where`).
pub const WORK_BATCH_BYTES: usize = 128 << 20;

/// Anchors found in more stored articles than this are ignored when looking for candidates.
const MAX_ANCHOR_POSTINGS: usize = 1000;

fn decode(id: String, seq: i64, ingested_at: String, json: &str) -> Result<StoredArticle> {
    let article: Article = serde_json::from_str(json).map_err(|e| Error::Corrupt { id, message: e.to_string() })?;
    Ok(StoredArticle { article, ingested_at, seq })
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let stored_text = TEXT | STORED;
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        title: b.add_text_field("title", TEXT),
        text: b.add_text_field("text", stored_text),
        outlet: b.add_text_field("outlet", TEXT),
        authors: b.add_text_field("authors", TEXT),
        contributors: b.add_text_field("contributors", TEXT),
        credited_source: b.add_text_field("credited_source", TEXT),
        url: b.add_text_field("url", TEXT),
        language: b.add_text_field("language", STRING),
        external_id: b.add_text_field("external_id", STRING),
        published: b.add_date_field("published", DateOptions::from(INDEXED).set_fast().set_precision(DateTimePrecision::Seconds)),
    };
    (b.build(), fields)
}
