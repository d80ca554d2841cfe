//! The embedded store: SQLite (WAL mode, fully synchronous commits) and the search index in one
//! directory. Any number of processes may use one directory at once: write transactions start
//! `IMMEDIATE` and wait for each other (a long busy timeout, never a lock error), reads never
//! wait (WAL), and each connection is used by one thread at a time (a writer connection behind
//! a mutex, a small pool of reader connections).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use storyline_model::{
    Alert, AlertHit, Article, ArticleId, CopyRelation, Facts, Published, SourceState, StoredArticle, Story, StoryId, StoryMember, Thread, ThreadId,
};

use crate::index::{SearchIndex, INDEX_WAIT};
use crate::{
    decode, relation_name, sqlite_stories as stories, Alerts, AnchorSpread, Articles, ChangeFeed, ClusterState, Copies, CopyCheck, Error, FactStore, Head,
    PutSummary, Query, Result, Search, SearchResults, Sources, Step, StepLock, Stories, StoryChanges, StoryEvent, StorySort, StoryUpdate, WORK_BATCH_BYTES,
};

/// The schema this code writes. Older stores are migrated on open; newer ones are refused.
pub const SCHEMA_VERSION: i64 = 5;
/// How long a write waits for other writers before it gives up (never, in practice).
const BUSY_TIMEOUT_MS: u32 = 600_000;
/// Reader connections kept open for reuse.
const READERS: usize = 8;

/// SQLite + tantivy in one directory.
pub struct EmbeddedStore {
    dir: PathBuf,
    db_path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    index: SearchIndex,
}

const TABLES: &str = "
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
        merged_into TEXT,
        changed INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS stories_thread ON stories(thread);
    CREATE TABLE IF NOT EXISTS story_members (article TEXT PRIMARY KEY, story TEXT NOT NULL, json TEXT NOT NULL, changed INTEGER NOT NULL DEFAULT 0);
    CREATE INDEX IF NOT EXISTS story_members_story ON story_members(story);
    CREATE TABLE IF NOT EXISTS story_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, from_id TEXT NOT NULL, to_id TEXT NOT NULL, at TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS story_events_from ON story_events(from_id);
    CREATE TABLE IF NOT EXISTS threads (id TEXT PRIMARY KEY, title TEXT NOT NULL, stories INTEGER NOT NULL, merged_into TEXT);
    CREATE TABLE IF NOT EXISTS cluster_df (key INTEGER PRIMARY KEY, df INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS facts (article TEXT PRIMARY KEY, json TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS sources (url TEXT PRIMARY KEY, json TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS fetched_pages (url TEXT PRIMARY KEY, source TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS alerts (name TEXT PRIMARY KEY, json TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS alert_hits (alert TEXT NOT NULL, story TEXT NOT NULL, level INTEGER NOT NULL, json TEXT NOT NULL, PRIMARY KEY (alert, story, level));";

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS as u64))?;
    // Switching a new database to WAL takes an exclusive lock without waiting on the busy
    // handler: two processes creating one store at once see SQLITE_BUSY here. Wait for the other.
    let started = std::time::Instant::now();
    loop {
        match conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && started.elapsed() < std::time::Duration::from_millis(BUSY_TIMEOUT_MS as u64) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => {
                other?;
                return Ok(conn);
            }
        }
    }
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `dir`: checks and migrates the schema, then brings the
    /// index up to date with the database (unless another process is indexing it right now).
    pub fn open(dir: &Path) -> Result<EmbeddedStore> {
        let io = |source| Error::Io { path: dir.to_path_buf(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        std::fs::create_dir_all(dir.join("locks")).map_err(io)?;
        let db_path = dir.join("storyline.sqlite");
        let sql = |e: rusqlite::Error| Error::Database { store: db_path.display().to_string(), message: e.to_string() };
        let mut conn = connect(&db_path).map_err(sql)?;
        {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
            tx.execute_batch(TABLES).map_err(sql)?;
            let version: Option<String> = tx.query_row("SELECT value FROM meta WHERE key='schema_version'", [], |r| r.get(0)).optional().map_err(sql)?;
            let version: i64 = version.and_then(|v| v.parse().ok()).unwrap_or(0);
            if version > SCHEMA_VERSION {
                return Err(Error::Schema { store: db_path.display().to_string(), found: version, known: SCHEMA_VERSION });
            }
            // Migrations, oldest first. 1 -> 2: the change counter of the feed.
            tx.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('changes', '0')", []).map_err(sql)?;
            // 2 -> 3: which change last wrote each story and membership (the story feed).
            for table in ["stories", "story_members"] {
                let has: i64 =
                    tx.query_row(&format!("SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = 'changed'"), [], |r| r.get(0)).map_err(sql)?;
                if has == 0 {
                    tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN changed INTEGER NOT NULL DEFAULT 0")).map_err(sql)?;
                }
            }
            tx.execute_batch(
                "CREATE INDEX IF NOT EXISTS stories_changed ON stories(changed); CREATE INDEX IF NOT EXISTS story_members_changed ON story_members(changed);",
            )
            .map_err(sql)?;
            // 3 -> 4: the followed sources and the pages they fetched (new tables, made above).
            // 4 -> 5: alerts and their reports (new tables, made above).
            tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?1)", [SCHEMA_VERSION.to_string()]).map_err(sql)?;
            tx.commit().map_err(sql)?;
        }
        let index = SearchIndex::open(&dir.join("index"))?;
        let store = EmbeddedStore { dir: dir.to_path_buf(), db_path, writer: Mutex::new(conn), readers: Mutex::new(Vec::new()), index };
        store.sync_index(false)?;
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn sql_err(&self, e: rusqlite::Error) -> Error {
        Error::Database { store: self.db_path.display().to_string(), message: e.to_string() }
    }

    /// Runs `f` on a reader connection (reads never wait for writers: WAL).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let pooled = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => connect(&self.db_path).map_err(|e| self.sql_err(e))?,
        };
        let out = f(&conn).map_err(|e| self.sql_err(e));
        let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < READERS {
            pool.push(conn);
        }
        out
    }

    /// Runs `f` in one write transaction, started `IMMEDIATE` so that it waits for other
    /// writers up front instead of failing on upgrade; moves the change counter on.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>) -> Result<T> {
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| self.sql_err(e))?;
        let out = f(&tx).map_err(|e| self.sql_err(e))?;
        tx.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'changes'", []).map_err(|e| self.sql_err(e))?;
        tx.commit().map_err(|e| self.sql_err(e))?;
        Ok(out)
    }

    /// Up to `limit` articles matching an SQL condition, oldest first, at most
    /// [`WORK_BATCH_BYTES`] of stored JSON (always one article at least).
    fn oldest_articles_where(&self, condition: &str, limit: usize) -> Result<Vec<StoredArticle>> {
        let query = format!(
            "SELECT seq, id, ingested_at, json FROM (SELECT seq, id, ingested_at, json, SUM(LENGTH(json)) OVER (ORDER BY seq) - LENGTH(json) AS before \
             FROM (SELECT seq, id, ingested_at, json FROM articles WHERE {condition} ORDER BY seq LIMIT ?1)) WHERE before < ?2 ORDER BY seq"
        );
        let rows = self.read(|c| {
            let mut stmt = c.prepare_cached(&query)?;
            let rows = stmt.query_map([limit as i64, WORK_BATCH_BYTES as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        rows.into_iter().map(|(seq, id, ingested_at, json)| decode(id, seq, ingested_at, &json)).collect()
    }

    fn max_seq(&self) -> Result<i64> {
        self.read(|c| c.query_row("SELECT COALESCE(MAX(seq), 0) FROM articles", [], |r| r.get(0)))
    }
}

/// JSON for a column, inside a transaction.
fn json<T: serde::Serialize>(v: &T) -> rusqlite::Result<String> {
    serde_json::to_string(v).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

impl Articles for EmbeddedStore {
    fn put_articles(&self, articles: &[Article], ingested_at: &str) -> Result<PutSummary> {
        let summary = self.write(|tx| {
            let mut summary = PutSummary::default();
            let mut existing = tx.prepare_cached("SELECT source FROM articles WHERE id = ?1")?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO articles (id, source, external_id, url, title, published, outlet, language, ingested_at, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            let mut relabel = tx.prepare_cached("UPDATE articles SET source = ?2, json = ?3 WHERE id = ?1")?;
            for a in articles {
                let stored_source: Option<String> = existing.query_row([&a.id.0], |r| r.get(0)).optional()?;
                match stored_source {
                    None => {
                        insert.execute(params![a.id.0, a.source, a.external_id, a.url, a.title, a.published.map(|p| p.to_string()), a.outlet, a.language, ingested_at, json(a)?])?;
                        summary.added += 1;
                    }
                    Some(source) => {
                        // The same document read from two places: keep the smallest source name,
                        // so the result does not depend on the order of inputs.
                        if a.source < source {
                            relabel.execute(params![a.id.0, a.source, json(a)?])?;
                        }
                        summary.already_stored += 1;
                    }
                }
            }
            Ok(summary)
        })?;
        if summary.added > 0 {
            // Committed rows are this writer's to index: wait for another indexer if need be.
            let head = self.max_seq()?;
            self.index.catch_up(head, Some(INDEX_WAIT), &|after| self.articles_after(after, 1024))?;
        }
        Ok(summary)
    }

    fn get_article(&self, id: &ArticleId) -> Result<Option<StoredArticle>> {
        let row = self.read(|c| {
            c.query_row("SELECT seq, id, ingested_at, json FROM articles WHERE id = ?1 OR external_id = ?1 ORDER BY seq LIMIT 1", [&id.0], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
            })
            .optional()
        })?;
        row.map(|(seq, id, ingested_at, json)| decode(id, seq, ingested_at, &json)).transpose()
    }

    fn count_articles(&self) -> Result<usize> {
        self.read(|c| c.query_row("SELECT COUNT(*) FROM articles", [], |r| r.get::<_, i64>(0))).map(|n| n as usize)
    }

    fn articles_after(&self, after: i64, limit: usize) -> Result<Vec<StoredArticle>> {
        self.oldest_articles_where(&format!("seq > {after}"), limit)
    }

    fn article_dates(&self) -> Result<std::collections::HashMap<ArticleId, Published>> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT id, published FROM articles WHERE published IS NOT NULL")?;
            let rows = stmt.query_map([], |r| Ok((ArticleId(r.get(0)?), r.get::<_, String>(1)?)))?;
            let mut dates = std::collections::HashMap::new();
            for row in rows {
                let (id, p) = row?;
                dates.extend(p.parse().ok().map(|p| (id, p)));
            }
            Ok(dates)
        })
    }
}

impl Search for EmbeddedStore {
    fn search(&self, query: &Query, limit: usize) -> Result<SearchResults> {
        self.sync_index(false)?;
        self.index.search(query, limit)
    }

    fn sync_index(&self, wait: bool) -> Result<i64> {
        let head = self.max_seq()?;
        self.index.catch_up(head, wait.then_some(INDEX_WAIT), &|after| self.articles_after(after, 1024))
    }
}

impl Copies for EmbeddedStore {
    fn articles_needing_copy_check(&self, limit: usize) -> Result<Vec<StoredArticle>> {
        self.oldest_articles_where("seq NOT IN (SELECT article_seq FROM copy_checked)", limit)
    }

    fn copy_candidates(&self, anchors: &[u64], min_shared: usize) -> Result<Vec<ArticleId>> {
        if anchors.is_empty() {
            return Ok(Vec::new());
        }
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT article_seq FROM anchors WHERE hash = ?1")?;
            let postings: Vec<Vec<i64>> =
                anchors.iter().map(|&h| stmt.query_map([h as i64], |r| r.get::<_, i64>(0))?.collect()).collect::<rusqlite::Result<_>>()?;
            let seqs = crate::sharing(postings.iter().map(Vec::as_slice), min_shared);
            let mut by_seq = c.prepare_cached("SELECT id FROM articles WHERE seq = ?1")?;
            seqs.into_iter().map(|seq| by_seq.query_row([seq], |r| r.get(0)).map(ArticleId)).collect()
        })
    }

    fn anchor_spread(&self, anchors: &[u64], outlet: Option<&str>, min_documents: usize) -> Result<Vec<AnchorSpread>> {
        let mut unique = anchors.to_vec();
        unique.sort_unstable();
        unique.dedup();
        self.read(|c| {
            // Most anchors are held by few articles: counted on the index alone, joined only
            // when held often enough.
            let mut count = c.prepare_cached("SELECT count(*) FROM anchors WHERE hash = ?1")?;
            let mut stmt = c.prepare_cached(
                "SELECT count(*), count(DISTINCT coalesce(ar.outlet, ar.id)), coalesce(max(ar.outlet = ?2), 0) \
                 FROM anchors a JOIN articles ar ON ar.seq = a.article_seq WHERE a.hash = ?1",
            )?;
            let mut out = Vec::new();
            for anchor in unique {
                let held: i64 = count.query_row([anchor as i64], |r| r.get(0))?;
                if (held as usize) < min_documents.max(1) {
                    continue;
                }
                let (documents, outlets, with_outlet): (i64, i64, i64) =
                    stmt.query_row(params![anchor as i64, outlet], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                out.push(AnchorSpread { anchor, documents: documents as usize, outlets: outlets as usize, with_outlet: with_outlet != 0 });
            }
            Ok(out)
        })
    }

    fn record_copy_checks(&self, checks: &[CopyCheck]) -> Result<()> {
        self.write(|tx| {
            let mut seq_of = tx.prepare_cached("SELECT seq FROM articles WHERE id = ?1")?;
            let mut anchor = tx.prepare_cached("INSERT INTO anchors (hash, article_seq) VALUES (?1, ?2)")?;
            let mut copy = tx.prepare_cached("INSERT OR REPLACE INTO copies (a, b, relation, similarity, json) VALUES (?1, ?2, ?3, ?4, ?5)")?;
            let mut checked = tx.prepare_cached("INSERT OR IGNORE INTO copy_checked (article_seq) VALUES (?1)")?;
            for check in checks {
                let seq: i64 = seq_of.query_row([&check.article.0], |r| r.get(0))?;
                if checked.execute([seq])? == 0 {
                    // Already checked (by another run): its anchors are stored once.
                    continue;
                }
                for &h in &check.anchors {
                    anchor.execute(params![h as i64, seq])?;
                }
                for r in &check.relations {
                    copy.execute(params![r.a.0, r.b.0, relation_name(r), r.similarity as f64, json(r)?])?;
                }
            }
            Ok(())
        })
    }

    fn for_each_copy_relation(&self, of: Option<&ArticleId>, visit: &mut dyn FnMut(CopyRelation) -> std::io::Result<()>) -> Result<()> {
        if let Some(id) = of {
            let rows: Vec<String> =
                self.read(|c| c.prepare_cached("SELECT json FROM copies WHERE a = ?1 OR b = ?1 ORDER BY a, b")?.query_map([&id.0], |r| r.get(0))?.collect())?;
            for json in rows {
                visit(crate::from_json("copy relation", &json)?).map_err(Error::Output)?;
            }
            return Ok(());
        }
        // All of them, page by page (keyset on the primary key): memory stays flat.
        let (mut a, mut b) = (String::new(), String::new());
        loop {
            let rows: Vec<(String, String, String)> = self.read(|c| {
                let mut stmt = c.prepare_cached("SELECT a, b, json FROM copies WHERE (a, b) > (?1, ?2) ORDER BY a, b LIMIT 1024")?;
                let rows = stmt.query_map([&a, &b], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                rows.collect()
            })?;
            let Some(last) = rows.last() else { return Ok(()) };
            (a, b) = (last.0.clone(), last.1.clone());
            for (_, _, json) in rows {
                visit(crate::from_json("copy relation", &json)?).map_err(Error::Output)?;
            }
        }
    }
}

impl Stories for EmbeddedStore {
    fn articles_needing_story(&self, limit: usize) -> Result<Vec<StoredArticle>> {
        self.oldest_articles_where("id NOT IN (SELECT article FROM story_members) AND seq IN (SELECT article_seq FROM copy_checked)", limit)
    }

    fn cluster_state(&self) -> Result<ClusterState> {
        self.read(stories::cluster_state)
    }

    fn record_stories(&self, update: &StoryUpdate) -> Result<()> {
        self.write(|tx| stories::record(tx, update))
    }

    fn stories_of(&self, articles: &[ArticleId]) -> Result<Vec<(ArticleId, StoryId)>> {
        self.read(|c| stories::stories_of(c, articles))
    }

    fn list_stories(&self, sort: StorySort, since: Option<chrono::NaiveDate>, limit: usize) -> Result<Vec<Story>> {
        self.read(|c| stories::list(c, sort, since, limit))
    }

    fn get_story(&self, id: &str) -> Result<Option<(Story, Vec<StoryEvent>)>> {
        self.read(|c| stories::get(c, id))
    }

    fn story_members(&self, id: &StoryId) -> Result<Vec<StoryMember>> {
        self.read(|c| stories::members(c, id))
    }

    fn get_thread(&self, id: &str) -> Result<Option<Thread>> {
        self.read(|c| stories::thread(c, id))
    }

    fn article_stories(&self) -> Result<std::collections::HashMap<ArticleId, (StoryId, Option<ThreadId>)>> {
        self.read(stories::article_stories)
    }

    fn story_changes(&self, after: i64) -> Result<StoryChanges> {
        self.read(|c| stories::changes(c, after))
    }
}

impl FactStore for EmbeddedStore {
    fn articles_needing_facts(&self, limit: usize) -> Result<Vec<StoredArticle>> {
        self.oldest_articles_where("id NOT IN (SELECT article FROM facts)", limit)
    }

    fn record_facts(&self, facts: &[(ArticleId, Facts)]) -> Result<()> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached("INSERT OR REPLACE INTO facts (article, json) VALUES (?1, ?2)")?;
            for (id, f) in facts {
                stmt.execute(params![id.0, json(f)?])?;
            }
            Ok(())
        })
    }

    fn for_each_facts(&self, visit: &mut dyn FnMut(ArticleId, Facts) -> std::io::Result<()>) -> Result<()> {
        // Page by sequence number, so that memory stays flat and no connection is held.
        let mut after = 0i64;
        loop {
            let page: Vec<(i64, String, String)> = self.read(|c| {
                let mut stmt = c.prepare_cached(
                    "SELECT a.seq, f.article, f.json FROM facts f JOIN articles a ON a.id = f.article WHERE a.seq > ?1 ORDER BY a.seq LIMIT 1024",
                )?;
                let rows = stmt.query_map([after], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                rows.collect()
            })?;
            let Some(&(last, _, _)) = page.last() else { return Ok(()) };
            after = last;
            for (_, id, json) in page {
                let facts: Facts = crate::from_json(&id, &json)?;
                visit(ArticleId(id), facts).map_err(Error::Output)?;
            }
        }
    }

    fn facts_of(&self, articles: &[ArticleId]) -> Result<Vec<(ArticleId, Facts)>> {
        let rows: Vec<(ArticleId, String)> = self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT json FROM facts WHERE article = ?1")?;
            let mut out = Vec::new();
            for id in articles {
                if let Some(json) = stmt.query_row([&id.0], |r| r.get::<_, String>(0)).optional()? {
                    out.push((id.clone(), json));
                }
            }
            Ok(out)
        })?;
        rows.into_iter().map(|(id, json)| Ok((id.clone(), crate::from_json(&id.0, &json)?))).collect()
    }
}

impl Alerts for EmbeddedStore {
    fn alerts(&self) -> Result<Vec<Alert>> {
        let rows: Vec<(String, String)> = self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT name, json FROM alerts ORDER BY name")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })?;
        rows.into_iter().map(|(name, json)| crate::from_json(&name, &json)).collect()
    }

    fn put_alert(&self, alert: &Alert) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached("INSERT OR REPLACE INTO alerts (name, json) VALUES (?1, ?2)")?.execute(params![alert.name, json(alert)?])?;
            Ok(())
        })
    }

    fn remove_alert(&self, name: &str) -> Result<bool> {
        self.write(|tx| {
            tx.execute("DELETE FROM alert_hits WHERE alert = ?1", [name])?;
            Ok(tx.execute("DELETE FROM alerts WHERE name = ?1", [name])? > 0)
        })
    }

    fn record_alert_check(&self, alert: &str, checked: i64, hits: &[AlertHit]) -> Result<Vec<AlertHit>> {
        // The alert is read and written inside the write transaction (IMMEDIATE: one writer).
        let name = alert.to_owned();
        self.write(|tx| {
            let stored: Option<String> = tx.query_row("SELECT json FROM alerts WHERE name = ?1", [&name], |r| r.get(0)).optional()?;
            let Some(stored) = stored else { return Ok(Vec::new()) };
            let Ok(mut a) = serde_json::from_str::<Alert>(&stored) else {
                return Err(rusqlite::Error::InvalidColumnType(0, format!("alert `{name}`: unreadable JSON"), rusqlite::types::Type::Text));
            };
            a.checked = a.checked.max(checked);
            tx.execute("UPDATE alerts SET json = ?2 WHERE name = ?1", params![name, json(&a)?])?;
            let mut stmt = tx.prepare_cached("INSERT OR IGNORE INTO alert_hits (alert, story, level, json) VALUES (?1, ?2, ?3, ?4)")?;
            let mut added = Vec::new();
            for h in hits {
                if stmt.execute(params![h.alert, h.story.0, h.level, json(h)?])? > 0 {
                    added.push(h.clone());
                }
            }
            Ok(added)
        })
    }

    fn alert_hits(&self, alert: Option<&str>) -> Result<Vec<AlertHit>> {
        let rows: Vec<String> = self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT json FROM alert_hits WHERE ?1 IS NULL OR alert = ?1 ORDER BY alert, story, level")?;
            let rows = stmt.query_map([alert], |r| r.get(0))?;
            rows.collect()
        })?;
        rows.iter().map(|j| crate::from_json(alert.unwrap_or("alert_hits"), j)).collect()
    }

    fn update_alert_hit(&self, hit: &AlertHit) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE alert_hits SET json = ?4 WHERE alert = ?1 AND story = ?2 AND level = ?3",
                params![hit.alert, hit.story.0, hit.level, json(hit)?],
            )?;
            Ok(())
        })
    }
}

impl Sources for EmbeddedStore {
    fn sources(&self) -> Result<Vec<SourceState>> {
        let rows: Vec<(String, String)> = self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT url, json FROM sources ORDER BY url")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })?;
        rows.into_iter().map(|(url, json)| crate::from_json(&url, &json)).collect()
    }

    fn put_source(&self, state: &SourceState, fetched: &[String]) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached("INSERT OR REPLACE INTO sources (url, json) VALUES (?1, ?2)")?.execute(params![state.url, json(state)?])?;
            let mut stmt = tx.prepare_cached("INSERT OR IGNORE INTO fetched_pages (url, source) VALUES (?1, ?2)")?;
            for url in fetched {
                stmt.execute(params![url, state.url])?;
            }
            Ok(())
        })
    }

    fn fetched_pages(&self, urls: &[String]) -> Result<HashSet<String>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT 1 FROM fetched_pages WHERE url = ?1")?;
            let mut out = HashSet::new();
            for url in urls {
                if stmt.exists([url])? {
                    out.insert(url.clone());
                }
            }
            Ok(out)
        })
    }
}

impl ChangeFeed for EmbeddedStore {
    fn head(&self) -> Result<Head> {
        self.read(|c| {
            let articles: i64 = c.query_row("SELECT COALESCE(MAX(seq), 0) FROM articles", [], |r| r.get(0))?;
            let changes: i64 = c.query_row("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'changes'", [], |r| r.get(0))?;
            Ok(Head { articles, changes })
        })
    }

    fn lock_step(&self, step: Step) -> Result<StepLock> {
        let path = self.dir.join("locks").join(format!("{}.lock", step.name()));
        let io = |source| Error::Io { path: path.clone(), source };
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io)?;
        // An advisory lock on an open file: released when the file closes, however the process ends.
        file.lock().map_err(io)?;
        Ok(StepLock::new(file))
    }

    fn describe(&self) -> String {
        self.dir.display().to_string()
    }
}
