//! The PostgreSQL store: shared state for many processes on many machines. Every write is one
//! transaction; article inserts take a transaction-scoped advisory lock, so that sequence
//! numbers commit in order (a reader that saw N has seen everything before N). Step locks are
//! session advisory locks on their own connection: a process that dies releases them.
//!
//! Full-text search is not in the database: each reader keeps a [`SearchIndex`] derived from
//! the article sequence in a local directory (see ARCHITECTURE.md for why).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use postgres::{Client, NoTls, Transaction};
use storyline_model::{
    Alert, AlertHit, Article, ArticleId, CopyRelation, Facts, Published, SourceState, StoredArticle, Story, StoryId, StoryMember, Thread, ThreadId,
};

use crate::index::{SearchIndex, INDEX_WAIT};
use crate::{
    decode, from_json, relation_name, to_json, Alerts, AnchorSpread, Articles, ChangeFeed, ClusterState, Copies, CopyCheck, Error, FactStore, Head, PutSummary,
    Query, Result, Search, SearchResults, Sources, Step, StepLock, Stories, StoryChanges, StoryEvent, StoryEventKind, StorySort, StoryUpdate, WORK_BATCH_BYTES,
};

pub const SCHEMA_VERSION: i64 = 5;
/// Connections kept open for reuse.
const POOL: usize = 8;
/// Serialises article inserts (see the module comment).
const ARTICLES_LOCK: i64 = 0x5354_4f52_4152;

const TABLES: &str = r#"
    CREATE TABLE IF NOT EXISTS meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS articles (
        seq BIGSERIAL PRIMARY KEY,
        id TEXT COLLATE "C" NOT NULL UNIQUE,
        source TEXT COLLATE "C" NOT NULL,
        external_id TEXT COLLATE "C",
        url TEXT,
        title TEXT,
        published TEXT COLLATE "C",
        outlet TEXT,
        language TEXT,
        ingested_at TEXT NOT NULL,
        json TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS articles_published ON articles(published);
    CREATE INDEX IF NOT EXISTS articles_external_id ON articles(external_id);
    CREATE TABLE IF NOT EXISTS anchors (hash BIGINT NOT NULL, article_seq BIGINT NOT NULL);
    CREATE INDEX IF NOT EXISTS anchors_hash ON anchors(hash);
    CREATE TABLE IF NOT EXISTS copy_checked (article_seq BIGINT PRIMARY KEY);
    CREATE TABLE IF NOT EXISTS copies (
        a TEXT COLLATE "C" NOT NULL,
        b TEXT COLLATE "C" NOT NULL,
        relation TEXT NOT NULL,
        similarity DOUBLE PRECISION NOT NULL,
        json TEXT NOT NULL,
        PRIMARY KEY (a, b)
    );
    CREATE INDEX IF NOT EXISTS copies_b ON copies(b);
    CREATE TABLE IF NOT EXISTS stories (
        id TEXT COLLATE "C" PRIMARY KEY,
        title TEXT NOT NULL,
        articles BIGINT NOT NULL,
        first_published TEXT COLLATE "C",
        last_published TEXT COLLATE "C",
        thread TEXT COLLATE "C",
        json TEXT NOT NULL,
        state BYTEA,
        merged_into TEXT COLLATE "C"
    );
    CREATE INDEX IF NOT EXISTS stories_thread ON stories(thread);
    CREATE TABLE IF NOT EXISTS story_members (article TEXT COLLATE "C" PRIMARY KEY, story TEXT COLLATE "C" NOT NULL, json TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS story_members_story ON story_members(story);
    CREATE TABLE IF NOT EXISTS story_events (seq BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, from_id TEXT COLLATE "C" NOT NULL, to_id TEXT COLLATE "C" NOT NULL, at TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS story_events_from ON story_events(from_id);
    CREATE TABLE IF NOT EXISTS threads (id TEXT COLLATE "C" PRIMARY KEY, title TEXT NOT NULL, stories BIGINT NOT NULL, merged_into TEXT COLLATE "C");
    CREATE TABLE IF NOT EXISTS cluster_df (key BIGINT PRIMARY KEY, df BIGINT NOT NULL);
    CREATE TABLE IF NOT EXISTS facts (article TEXT COLLATE "C" PRIMARY KEY, json TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS sources (url TEXT COLLATE "C" PRIMARY KEY, json TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS fetched_pages (url TEXT COLLATE "C" PRIMARY KEY, source TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS alerts (name TEXT COLLATE "C" PRIMARY KEY, json TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS alert_hits (alert TEXT COLLATE "C" NOT NULL, story TEXT COLLATE "C" NOT NULL, level BIGINT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (alert, story, level));
"#;

/// A PostgreSQL database as the store.
pub struct PgStore {
    url: String,
    name: String,
    pool: Mutex<Vec<Conn>>,
    index: SearchIndex,
}

type Pg<T> = std::result::Result<T, postgres::Error>;

/// A connection with the statements it prepared (each query is planned once per connection,
/// not at every call: planning costs more than running most of these).
struct Conn {
    client: Client,
    prepared: std::collections::HashMap<String, postgres::Statement>,
}

impl Conn {
    fn new(client: Client) -> Conn {
        Conn { client, prepared: std::collections::HashMap::new() }
    }

    fn statement(&mut self, sql: &str) -> Pg<postgres::Statement> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.prepared.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    fn query(&mut self, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> Pg<Vec<postgres::Row>> {
        let s = self.statement(sql)?;
        self.client.query(&s, params)
    }

    fn query_opt(&mut self, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> Pg<Option<postgres::Row>> {
        let s = self.statement(sql)?;
        self.client.query_opt(&s, params)
    }

    fn query_one(&mut self, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> Pg<postgres::Row> {
        let s = self.statement(sql)?;
        self.client.query_one(&s, params)
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

impl PgStore {
    /// Connects, creates or migrates the schema (refusing a newer one), and opens the local
    /// search index: in `index_dir`, or under the user's cache directory, named after the
    /// database's identity (so that a recreated database never meets a stale index).
    pub fn open(url: &str, index_dir: Option<&Path>) -> Result<PgStore> {
        let name = redact(url);
        let err = |e: postgres::Error| Error::Database { store: name.clone(), message: error_text(&e) };
        let mut client = Client::connect(url, NoTls).map_err(err)?;
        // A store of this schema is opened without DDL: ALTER TABLE takes an exclusive lock
        // even when it changes nothing, and would queue behind (and deadlock with) writers.
        let current: Option<(i64, String)> = client
            .query_opt(
                "SELECT v.value, i.value FROM meta v, meta i WHERE to_regclass('meta') IS NOT NULL AND v.key = 'schema_version' AND i.key = 'store_id'",
                &[],
            )
            .ok()
            .flatten()
            .and_then(|r| Some((r.get::<_, String>(0).parse().ok()?, r.get(1))));
        let store_id: String = if let Some((version, id)) = current.filter(|(v, _)| *v >= SCHEMA_VERSION) {
            if version > SCHEMA_VERSION {
                return Err(Error::Schema { store: name, found: version, known: SCHEMA_VERSION });
            }
            id
        } else {
            let mut tx = client.transaction().map_err(err)?;
            // One process creates or migrates at a time.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ARTICLES_LOCK]).map_err(err)?;
            tx.batch_execute(TABLES).map_err(err)?;
            let version: Option<String> = tx.query_opt("SELECT value FROM meta WHERE key = 'schema_version'", &[]).map_err(err)?.map(|r| r.get(0));
            let version: i64 = version.and_then(|v| v.parse().ok()).unwrap_or(0);
            if version > SCHEMA_VERSION {
                return Err(Error::Schema { store: name, found: version, known: SCHEMA_VERSION });
            }
            tx.execute("INSERT INTO meta (key, value) VALUES ('changes', '0') ON CONFLICT DO NOTHING", &[]).map_err(err)?;
            // 2 -> 3: which change last wrote each story and membership (the story feed).
            tx.batch_execute(
                "ALTER TABLE stories ADD COLUMN IF NOT EXISTS changed BIGINT NOT NULL DEFAULT 0; \
                 ALTER TABLE story_members ADD COLUMN IF NOT EXISTS changed BIGINT NOT NULL DEFAULT 0; \
                 CREATE INDEX IF NOT EXISTS stories_changed ON stories(changed); \
                 CREATE INDEX IF NOT EXISTS story_members_changed ON story_members(changed);",
            )
            .map_err(err)?;
            // 3 -> 4: the followed sources and the pages they fetched (new tables, made above).
            // 4 -> 5: alerts and their reports (new tables, made above).
            tx.execute("INSERT INTO meta (key, value) VALUES ('store_id', md5(random()::text || clock_timestamp()::text)) ON CONFLICT DO NOTHING", &[])
                .map_err(err)?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&SCHEMA_VERSION.to_string()],
            )
            .map_err(err)?;
            let id: String = tx.query_one("SELECT value FROM meta WHERE key = 'store_id'", &[]).map_err(err)?.get(0);
            tx.commit().map_err(err)?;
            id
        };
        let dir = match index_dir {
            Some(d) => d.to_path_buf(),
            None => default_index_dir(&store_id),
        };
        let index = SearchIndex::open(&dir)?;
        client.batch_execute("SET plan_cache_mode = force_custom_plan").map_err(err)?;
        Ok(PgStore { url: url.to_owned(), name, pool: Mutex::new(vec![Conn::new(client)]), index })
    }

    fn err(&self, e: postgres::Error) -> Error {
        Error::Database { store: self.name.clone(), message: error_text(&e) }
    }

    fn client(&self) -> Result<Conn> {
        let pooled = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match pooled {
            Some(c) if !c.client.is_closed() => Ok(c),
            _ => {
                let mut client = Client::connect(&self.url, NoTls).map_err(|e| self.err(e))?;
                // Tables grow by orders of magnitude within one ingest, faster than their
                // statistics: plan each execution with the sizes of now, not a cached generic
                // plan made when a table was empty.
                client.batch_execute("SET plan_cache_mode = force_custom_plan").map_err(|e| self.err(e))?;
                Ok(Conn::new(client))
            }
        }
    }

    fn give_back(&self, conn: Conn) {
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < POOL && !conn.client.is_closed() {
            pool.push(conn);
        }
    }

    fn read<T>(&self, f: impl FnOnce(&mut Conn) -> Pg<T>) -> Result<T> {
        let mut client = self.client()?;
        let out = f(&mut client).map_err(|e| self.err(e));
        self.give_back(client);
        out
    }

    /// One write transaction that moves the change counter on. Transactions that conflict
    /// (a serialisation failure or a deadlock the server broke) are retried.
    fn write<T>(&self, f: impl Fn(&mut Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.client()?;
        let mut attempt = 0;
        let out = loop {
            attempt += 1;
            let result = (|| -> Result<T> {
                let mut tx = conn.client.transaction().map_err(|e| self.err(e))?;
                let out = f(&mut tx)?;
                tx.execute("UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'changes'", &[]).map_err(|e| self.err(e))?;
                tx.commit().map_err(|e| self.err(e))?;
                Ok(out)
            })();
            match result {
                Err(Error::Database { message, .. }) if attempt < 20 && retryable(&message) => {
                    std::thread::sleep(std::time::Duration::from_millis(10 * attempt));
                }
                other => break other,
            }
        };
        self.give_back(conn);
        out
    }

    fn oldest_articles_where(&self, condition: &str, limit: usize, arg: Option<i64>) -> Result<Vec<StoredArticle>> {
        let query = format!(
            "SELECT seq, id, ingested_at, json FROM (SELECT seq, id, ingested_at, json, SUM(octet_length(json)) OVER (ORDER BY seq) - octet_length(json) AS before \
             FROM (SELECT seq, id, ingested_at, json FROM articles WHERE {condition} ORDER BY seq LIMIT $1) l) w WHERE before < $2 ORDER BY seq"
        );
        let rows = self.read(|c| match arg {
            Some(a) => c.query(&query, &[&(limit as i64), &(WORK_BATCH_BYTES as i64), &a]),
            None => c.query(&query, &[&(limit as i64), &(WORK_BATCH_BYTES as i64)]),
        })?;
        rows.iter().map(|r| decode(r.get(1), r.get(0), r.get(2), r.get::<_, &str>(3))).collect()
    }

    fn max_seq(&self) -> Result<i64> {
        self.read(|c| c.query_one("SELECT COALESCE(MAX(seq), 0)::bigint FROM articles", &[]).map(|r| r.get(0)))
    }
}

/// The database's own message (the client's `Display` says only "db error").
fn error_text(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// Serialisation failures, deadlocks and unique violations of concurrent upserts.
fn retryable(message: &str) -> bool {
    ["40001:", "40P01:", "23505:"].iter().any(|code| message.starts_with(code))
}

fn default_index_dir(store_id: &str) -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("storyline").join(format!("pg-index-{store_id}"))
}

impl Articles for PgStore {
    fn put_articles(&self, articles: &[Article], ingested_at: &str) -> Result<PutSummary> {
        self.write(|tx| {
            let err = |e| self.err(e);
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ARTICLES_LOCK]).map_err(err)?;
            let existing = tx.prepare("SELECT source FROM articles WHERE id = $1").map_err(err)?;
            let insert = tx
                .prepare(
                    "INSERT INTO articles (id, source, external_id, url, title, published, outlet, language, ingested_at, json) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .map_err(err)?;
            let relabel = tx.prepare("UPDATE articles SET source = $2, json = $3 WHERE id = $1").map_err(err)?;
            let mut summary = PutSummary::default();
            for a in articles {
                let json = to_json(&a.id.0, a)?;
                match tx.query_opt(&existing, &[&a.id.0]).map_err(err)? {
                    None => {
                        tx.execute(
                            &insert,
                            &[
                                &a.id.0,
                                &a.source,
                                &a.external_id,
                                &a.url,
                                &a.title,
                                &a.published.map(|p| p.to_string()),
                                &a.outlet,
                                &a.language,
                                &ingested_at,
                                &json,
                            ],
                        )
                        .map_err(err)?;
                        summary.added += 1;
                    }
                    Some(row) => {
                        let source: String = row.get(0);
                        if a.source < source {
                            tx.execute(&relabel, &[&a.id.0, &a.source, &json]).map_err(err)?;
                        }
                        summary.already_stored += 1;
                    }
                }
            }
            Ok(summary)
        })
    }

    fn get_article(&self, id: &ArticleId) -> Result<Option<StoredArticle>> {
        let row =
            self.read(|c| c.query_opt("SELECT seq, id, ingested_at, json FROM articles WHERE id = $1 OR external_id = $1 ORDER BY seq LIMIT 1", &[&id.0]))?;
        row.map(|r| decode(r.get(1), r.get(0), r.get(2), r.get::<_, &str>(3))).transpose()
    }

    fn get_articles(&self, ids: &[ArticleId]) -> Result<Vec<StoredArticle>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<&str> = ids.iter().map(|a| a.0.as_str()).collect();
        let rows = self.read(|c| c.query("SELECT seq, id, ingested_at, json FROM articles WHERE id = ANY($1)", &[&wanted]))?;
        let mut found: std::collections::HashMap<String, StoredArticle> = std::collections::HashMap::with_capacity(rows.len());
        for r in &rows {
            let a = decode(r.get(1), r.get(0), r.get(2), r.get::<_, &str>(3))?;
            found.insert(a.article.id.0.clone(), a);
        }
        Ok(ids.iter().filter_map(|id| found.remove(&id.0)).collect())
    }

    fn count_articles(&self) -> Result<usize> {
        self.read(|c| c.query_one("SELECT COUNT(*) FROM articles", &[]).map(|r| r.get::<_, i64>(0) as usize))
    }

    fn articles_after(&self, after: i64, limit: usize) -> Result<Vec<StoredArticle>> {
        self.oldest_articles_where("seq > $3", limit, Some(after))
    }

    fn article_dates(&self) -> Result<std::collections::HashMap<ArticleId, Published>> {
        let rows = self.read(|c| c.query("SELECT id, published FROM articles WHERE published IS NOT NULL", &[]))?;
        Ok(rows.iter().filter_map(|r| Some((ArticleId(r.get(0)), r.get::<_, String>(1).parse().ok()?))).collect())
    }
}

impl Search for PgStore {
    fn search(&self, query: &Query, limit: usize) -> Result<SearchResults> {
        self.sync_index(true)?;
        self.index.search(query, limit)
    }

    fn sync_index(&self, wait: bool) -> Result<i64> {
        let head = self.max_seq()?;
        self.index.catch_up(head, wait.then_some(INDEX_WAIT), &|after| self.articles_after(after, 1024))
    }
}

impl Copies for PgStore {
    fn articles_needing_copy_check(&self, limit: usize) -> Result<Vec<StoredArticle>> {
        self.oldest_articles_where("NOT EXISTS (SELECT 1 FROM copy_checked c WHERE c.article_seq = articles.seq)", limit, None)
    }

    fn copy_candidates(&self, anchors: &[u64], min_shared: usize) -> Result<Vec<ArticleId>> {
        if anchors.is_empty() {
            return Ok(Vec::new());
        }
        // Two index lookups whose plan cannot go wrong; the counting is done here, as the
        // SQLite store does it.
        let mut hashes: Vec<i64> = anchors.iter().map(|&h| h as i64).collect();
        hashes.sort_unstable();
        hashes.dedup();
        let postings = self.read(|c| c.query("SELECT hash, article_seq FROM anchors WHERE hash = ANY($1)", &[&hashes]))?;
        let mut by_hash: std::collections::HashMap<i64, Vec<i64>> = std::collections::HashMap::new();
        for r in &postings {
            by_hash.entry(r.get(0)).or_default().push(r.get(1));
        }
        let seqs = crate::sharing(hashes.iter().filter_map(|h| by_hash.get(h).map(Vec::as_slice)), min_shared);
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self.read(|c| c.query("SELECT seq, id FROM articles WHERE seq = ANY($1)", &[&seqs]))?;
        let ids: std::collections::HashMap<i64, String> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        Ok(seqs.iter().filter_map(|s| ids.get(s).cloned().map(ArticleId)).collect())
    }

    fn anchor_spread(&self, anchors: &[u64], outlet: Option<&str>, min_documents: usize) -> Result<Vec<AnchorSpread>> {
        if anchors.is_empty() {
            return Ok(Vec::new());
        }
        let mut hashes: Vec<i64> = anchors.iter().map(|&h| h as i64).collect();
        hashes.sort_unstable();
        hashes.dedup();
        let min = min_documents.max(1) as i64;
        let rows = self.read(|c| {
            c.query(
                "SELECT a.hash, count(*), count(DISTINCT coalesce(ar.outlet, ar.id)), coalesce(bool_or(ar.outlet = $2), false) \
                 FROM anchors a JOIN articles ar ON ar.seq = a.article_seq WHERE a.hash = ANY($1) GROUP BY a.hash HAVING count(*) >= $3",
                &[&hashes, &outlet, &min],
            )
        })?;
        let mut out: Vec<AnchorSpread> = rows
            .iter()
            .map(|r| AnchorSpread {
                anchor: r.get::<_, i64>(0) as u64,
                documents: r.get::<_, i64>(1) as usize,
                outlets: r.get::<_, i64>(2) as usize,
                with_outlet: r.get(3),
            })
            .collect();
        out.sort_by_key(|s| s.anchor);
        Ok(out)
    }

    fn record_copy_checks(&self, checks: &[CopyCheck]) -> Result<()> {
        self.write(|tx| {
            let err = |e| self.err(e);
            let seq_of = tx.prepare("SELECT seq FROM articles WHERE id = $1").map_err(err)?;
            let checked = tx.prepare("INSERT INTO copy_checked (article_seq) VALUES ($1) ON CONFLICT DO NOTHING").map_err(err)?;
            let copy = tx
                .prepare(
                    "INSERT INTO copies (a, b, relation, similarity, json) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (a, b) DO UPDATE SET relation = excluded.relation, similarity = excluded.similarity, json = excluded.json",
                )
                .map_err(err)?;
            for check in checks {
                let seq: i64 = tx.query_one(&seq_of, &[&check.article.0]).map_err(err)?.get(0);
                if tx.execute(&checked, &[&seq]).map_err(err)? == 0 {
                    continue;
                }
                let hashes: Vec<i64> = check.anchors.iter().map(|&h| h as i64).collect();
                tx.execute("INSERT INTO anchors (hash, article_seq) SELECT h, $2 FROM unnest($1::bigint[]) AS h", &[&hashes, &seq]).map_err(err)?;
                for r in &check.relations {
                    tx.execute(&copy, &[&r.a.0, &r.b.0, &relation_name(r), &(r.similarity as f64), &to_json(&r.a.0, r)?]).map_err(err)?;
                }
            }
            Ok(())
        })
    }

    fn for_each_copy_relation(&self, of: Option<&ArticleId>, visit: &mut dyn FnMut(CopyRelation) -> std::io::Result<()>) -> Result<()> {
        if let Some(id) = of {
            let rows = self.read(|c| c.query("SELECT json FROM copies WHERE a = $1 OR b = $1 ORDER BY a, b", &[&id.0]))?;
            for r in rows {
                visit(from_json("copy relation", r.get::<_, &str>(0))?).map_err(Error::Output)?;
            }
            return Ok(());
        }
        // All of them, page by page (keyset on the primary key): memory stays flat.
        let (mut a, mut b) = (String::new(), String::new());
        loop {
            let rows = self.read(|c| c.query("SELECT a, b, json FROM copies WHERE (a, b) > ($1, $2) ORDER BY a, b LIMIT 1024", &[&a, &b]))?;
            let Some(last) = rows.last() else { return Ok(()) };
            (a, b) = (last.get(0), last.get(1));
            for r in &rows {
                visit(from_json("copy relation", r.get::<_, &str>(2))?).map_err(Error::Output)?;
            }
        }
    }
}

impl Stories for PgStore {
    fn articles_needing_story(&self, limit: usize) -> Result<Vec<StoredArticle>> {
        self.oldest_articles_where(
            "NOT EXISTS (SELECT 1 FROM story_members m WHERE m.article = articles.id) AND EXISTS (SELECT 1 FROM copy_checked c WHERE c.article_seq = articles.seq)",
            limit,
            None,
        )
    }

    fn cluster_state(&self) -> Result<ClusterState> {
        let (stories, df, docs) = self.read(|c| {
            let stories = c.query("SELECT state FROM stories WHERE merged_into IS NULL AND state IS NOT NULL ORDER BY id", &[])?;
            let df = c.query("SELECT key, df FROM cluster_df", &[])?;
            let docs = c.query_opt("SELECT value FROM meta WHERE key = 'cluster_docs'", &[])?;
            Ok((stories, df, docs))
        })?;
        Ok(ClusterState {
            stories: stories.iter().map(|r| r.get::<_, Vec<u8>>(0)).collect(),
            df: df.iter().map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u32)).collect(),
            docs: docs.and_then(|r| r.get::<_, String>(0).parse().ok()).unwrap_or(0),
        })
    }

    fn record_stories(&self, u: &StoryUpdate) -> Result<()> {
        self.write(|tx| {
            let err = |e| self.err(e);
            let keys: Vec<i64> = u.df_delta.iter().map(|&(k, _)| k as i64).collect();
            let counts: Vec<i64> = u.df_delta.iter().map(|&(_, n)| n as i64).collect();
            tx.execute(
                "INSERT INTO cluster_df (key, df) SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT (key) DO UPDATE SET df = cluster_df.df + excluded.df",
                &[&keys, &counts],
            )
            .map_err(err)?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('cluster_docs', $1) ON CONFLICT (key) DO UPDATE SET value = (meta.value::bigint + excluded.value::bigint)::text",
                &[&u.docs_delta.to_string()],
            )
            .map_err(err)?;
            // The change this update is: every row it writes carries it (the story feed). Taking
            // the counter's row lock now orders it: a later writer's change is larger and
            // commits after this one.
            let stamp: i64 =
                tx.query_one("UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'changes' RETURNING value::bigint", &[]).map_err(err)?.get(0);
            let event = tx.prepare("INSERT INTO story_events (kind, from_id, to_id, at) VALUES ($1, $2, $3, $4)").map_err(err)?;
            for (gone, keep) in &u.merges {
                tx.execute("UPDATE story_members SET story = $2, changed = $3 WHERE story = $1", &[gone, keep, &stamp]).map_err(err)?;
                tx.execute("UPDATE stories SET merged_into = $2, state = NULL, changed = $3 WHERE id = $1", &[gone, keep, &stamp]).map_err(err)?;
                tx.execute(&event, &[&StoryEventKind::StoryMerge.as_str(), gone, keep, &u.at]).map_err(err)?;
            }
            for (from, to) in &u.splits {
                tx.execute(&event, &[&StoryEventKind::StorySplit.as_str(), from, to, &u.at]).map_err(err)?;
            }
            for (gone, keep) in &u.thread_merges {
                tx.execute("UPDATE threads SET merged_into = $2 WHERE id = $1", &[gone, keep]).map_err(err)?;
                tx.execute(&event, &[&StoryEventKind::ThreadMerge.as_str(), gone, keep, &u.at]).map_err(err)?;
            }
            let story = tx
                .prepare(
                    "INSERT INTO stories (id, title, articles, first_published, last_published, thread, json, state, merged_into, changed) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9) ON CONFLICT (id) DO UPDATE SET title = excluded.title, articles = excluded.articles, \
                     first_published = excluded.first_published, last_published = excluded.last_published, thread = excluded.thread, json = excluded.json, \
                     state = excluded.state, merged_into = NULL, changed = excluded.changed",
                )
                .map_err(err)?;
            for (s, state) in &u.stories {
                tx.execute(&story, &[&s.id.0, &s.title, &(s.articles as i64), &s.first_published.map(|d| d.to_string()), &s.last_published.map(|d| d.to_string()), &s.thread.as_ref().map(|t| t.as_str()), &to_json(&s.id.0, s)?, state, &stamp])
                    .map_err(err)?;
            }
            let thread = tx
                .prepare(
                    "INSERT INTO threads (id, title, stories, merged_into) VALUES ($1, $2, $3, NULL) \
                     ON CONFLICT (id) DO UPDATE SET title = excluded.title, stories = excluded.stories, merged_into = NULL",
                )
                .map_err(err)?;
            for t in &u.threads {
                tx.execute(&thread, &[&t.id.0, &t.title, &(t.stories as i64)]).map_err(err)?;
            }
            let member = tx
                .prepare(
                    "INSERT INTO story_members (article, story, json, changed) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (article) DO UPDATE SET story = excluded.story, json = excluded.json, changed = excluded.changed",
                )
                .map_err(err)?;
            for m in &u.members {
                tx.execute(&member, &[&m.article.0, &m.story.0, &to_json(&m.article.0, m)?, &stamp]).map_err(err)?;
            }
            let rewrite =
                tx.prepare("INSERT INTO copies (a, b, relation, similarity, json) VALUES ($1, $2, 'rewrite', $3, $4) ON CONFLICT DO NOTHING").map_err(err)?;
            for r in &u.rewrites {
                tx.execute(&rewrite, &[&r.a.0, &r.b.0, &(r.similarity as f64), &to_json(&r.a.0, r)?]).map_err(err)?;
            }
            Ok(())
        })
    }

    fn stories_of(&self, articles: &[ArticleId]) -> Result<Vec<(ArticleId, StoryId)>> {
        let ids: Vec<&str> = articles.iter().map(|a| a.0.as_str()).collect();
        let rows = self.read(|c| c.query("SELECT article, story FROM story_members WHERE article = ANY($1)", &[&ids]))?;
        let found: std::collections::HashMap<String, String> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        Ok(articles.iter().filter_map(|a| Some((a.clone(), StoryId(found.get(&a.0)?.clone())))).collect())
    }

    fn list_stories(&self, sort: StorySort, since: Option<chrono::NaiveDate>, limit: usize) -> Result<Vec<Story>> {
        // The order SQLite gives: absent dates sort as the smallest value.
        let order = match sort {
            StorySort::Size => "articles DESC, last_published DESC NULLS LAST, id",
            StorySort::Recent => "last_published IS NULL, last_published DESC NULLS LAST, articles DESC, id",
        };
        let query =
            format!("SELECT id, json FROM stories WHERE merged_into IS NULL AND ($1::text IS NULL OR last_published >= $1::text) ORDER BY {order} LIMIT $2");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.read(|c| c.query(&query, &[&since.map(|d| d.to_string()), &limit]))?;
        rows.iter().map(|r| from_json(r.get::<_, &str>(0), r.get::<_, &str>(1))).collect()
    }

    fn get_story(&self, id: &str) -> Result<Option<(Story, Vec<StoryEvent>)>> {
        let mut events = Vec::new();
        let mut current = id.to_owned();
        for _ in 0..1000 {
            let row = self.read(|c| c.query_opt("SELECT json, merged_into FROM stories WHERE id = $1", &[&current]))?;
            let Some(row) = row else { return Ok(None) };
            match row.get::<_, Option<String>>(1) {
                None => {
                    let splits = self.read(|c| {
                        c.query(
                            "SELECT from_id, to_id, at FROM story_events WHERE kind = 'story_split' AND (from_id = $1 OR to_id = $1) ORDER BY seq",
                            &[&current],
                        )
                    })?;
                    events.extend(splits.iter().map(|r| StoryEvent { kind: StoryEventKind::StorySplit, from: r.get(0), to: r.get(1), at: r.get(2) }));
                    return Ok(Some((from_json(&current, row.get::<_, &str>(0))?, events)));
                }
                Some(next) => {
                    let at = self
                        .read(|c| {
                            c.query_opt("SELECT at FROM story_events WHERE kind = 'story_merge' AND from_id = $1 ORDER BY seq DESC LIMIT 1", &[&current])
                        })?
                        .map(|r| r.get(0))
                        .unwrap_or_default();
                    events.push(StoryEvent { kind: StoryEventKind::StoryMerge, from: current.clone(), to: next.clone(), at });
                    current = next;
                }
            }
        }
        Ok(None)
    }

    fn story_members(&self, id: &StoryId) -> Result<Vec<StoryMember>> {
        let rows = self.read(|c| {
            c.query(
                "SELECT m.json, m.story FROM story_members m JOIN articles a ON a.id = m.article WHERE m.story = $1 ORDER BY a.published NULLS FIRST, a.seq",
                &[&id.0],
            )
        })?;
        rows.iter()
            .map(|r| {
                let mut m: StoryMember = from_json(&id.0, r.get::<_, &str>(0))?;
                m.story = StoryId(r.get(1));
                Ok(m)
            })
            .collect()
    }

    fn get_thread(&self, id: &str) -> Result<Option<Thread>> {
        let mut current = id.to_owned();
        for _ in 0..1000 {
            let row = self.read(|c| c.query_opt("SELECT title, stories, merged_into FROM threads WHERE id = $1", &[&current]))?;
            let Some(row) = row else { return Ok(None) };
            match row.get::<_, Option<String>>(2) {
                None => return Ok(Some(Thread { id: ThreadId(current), title: row.get(0), stories: row.get::<_, i64>(1) as usize })),
                Some(next) => current = next,
            }
        }
        Ok(None)
    }

    fn article_stories(&self) -> Result<std::collections::HashMap<ArticleId, (StoryId, Option<ThreadId>)>> {
        let rows = self.read(|c| c.query("SELECT m.article, m.story, s.thread FROM story_members m LEFT JOIN stories s ON s.id = m.story", &[]))?;
        Ok(rows.iter().map(|r| (ArticleId(r.get(0)), (StoryId(r.get(1)), r.get::<_, Option<String>>(2).map(ThreadId)))).collect())
    }

    fn story_changes(&self, after: i64) -> Result<StoryChanges> {
        let stories = self.read(|c| c.query("SELECT id, json, merged_into IS NOT NULL FROM stories WHERE changed > $1 ORDER BY id", &[&after]))?;
        let mut out = StoryChanges::default();
        for r in &stories {
            let id: String = r.get(0);
            if r.get::<_, bool>(2) {
                out.gone.push(StoryId(id));
            } else {
                out.stories.push(from_json(&id, &r.get::<_, String>(1))?);
            }
        }
        let members = self.read(|c| c.query("SELECT article, story FROM story_members WHERE changed > $1 ORDER BY article", &[&after]))?;
        out.members = members.iter().map(|r| (ArticleId(r.get(0)), StoryId(r.get(1)))).collect();
        Ok(out)
    }
}

impl Alerts for PgStore {
    fn alerts(&self) -> Result<Vec<Alert>> {
        let rows = self.read(|c| c.query("SELECT name, json FROM alerts ORDER BY name", &[]))?;
        rows.iter().map(|r| crate::from_json(r.get::<_, &str>(0), r.get::<_, &str>(1))).collect()
    }

    fn put_alert(&self, alert: &Alert) -> Result<()> {
        let j = to_json(&alert.name, alert)?;
        self.write(|tx| {
            tx.execute("INSERT INTO alerts (name, json) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET json = excluded.json", &[&alert.name, &j])
                .map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    fn remove_alert(&self, name: &str) -> Result<bool> {
        self.write(|tx| {
            tx.execute("DELETE FROM alert_hits WHERE alert = $1", &[&name]).map_err(|e| self.err(e))?;
            Ok(tx.execute("DELETE FROM alerts WHERE name = $1", &[&name]).map_err(|e| self.err(e))? > 0)
        })
    }

    fn record_alert_check(&self, alert: &str, checked: i64, hits: &[AlertHit]) -> Result<Vec<AlertHit>> {
        let encoded: Vec<(&AlertHit, String)> = hits.iter().map(|h| Ok((h, to_json(alert, h)?))).collect::<Result<_>>()?;
        self.write(|tx| {
            let Some(row) = tx.query_opt("SELECT json FROM alerts WHERE name = $1 FOR UPDATE", &[&alert]).map_err(|e| self.err(e))? else {
                return Ok(Vec::new());
            };
            let mut a: Alert = from_json(alert, row.get::<_, &str>(0))?;
            a.checked = a.checked.max(checked);
            tx.execute("UPDATE alerts SET json = $2 WHERE name = $1", &[&alert, &to_json(alert, &a)?]).map_err(|e| self.err(e))?;
            let mut added = Vec::new();
            for (h, j) in &encoded {
                let level = i64::from(h.level);
                let n = tx
                    .execute(
                        "INSERT INTO alert_hits (alert, story, level, json) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                        &[&h.alert, &h.story.0, &level, j],
                    )
                    .map_err(|e| self.err(e))?;
                if n > 0 {
                    added.push((*h).clone());
                }
            }
            Ok(added)
        })
    }

    fn alert_hits(&self, alert: Option<&str>) -> Result<Vec<AlertHit>> {
        let rows = self.read(|c| c.query("SELECT json FROM alert_hits WHERE $1::text IS NULL OR alert = $1 ORDER BY alert, story, level", &[&alert]))?;
        rows.iter().map(|r| from_json(alert.unwrap_or("alert_hits"), r.get::<_, &str>(0))).collect()
    }

    fn update_alert_hit(&self, hit: &AlertHit) -> Result<()> {
        let level = i64::from(hit.level);
        let j = to_json(&hit.alert, hit)?;
        self.write(|tx| {
            tx.execute("UPDATE alert_hits SET json = $4 WHERE alert = $1 AND story = $2 AND level = $3", &[&hit.alert, &hit.story.0, &level, &j])
                .map_err(|e| self.err(e))?;
            Ok(())
        })
    }
}

impl Sources for PgStore {
    fn sources(&self) -> Result<Vec<SourceState>> {
        let rows = self.read(|c| c.query("SELECT url, json FROM sources ORDER BY url", &[]))?;
        rows.iter().map(|r| crate::from_json(r.get::<_, &str>(0), r.get::<_, &str>(1))).collect()
    }

    fn put_source(&self, state: &SourceState, fetched: &[String]) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO sources (url, json) VALUES ($1, $2) ON CONFLICT (url) DO UPDATE SET json = excluded.json",
                &[&state.url, &to_json(&state.url, state)?],
            )
            .map_err(|e| self.err(e))?;
            if !fetched.is_empty() {
                tx.execute("INSERT INTO fetched_pages (url, source) SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING", &[&fetched, &state.url])
                    .map_err(|e| self.err(e))?;
            }
            Ok(())
        })
    }

    fn fetched_pages(&self, urls: &[String]) -> Result<HashSet<String>> {
        let rows = self.read(|c| c.query("SELECT url FROM fetched_pages WHERE url = ANY($1)", &[&urls]))?;
        Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
    }
}

impl FactStore for PgStore {
    fn articles_needing_facts(&self, limit: usize) -> Result<Vec<StoredArticle>> {
        self.oldest_articles_where("NOT EXISTS (SELECT 1 FROM facts f WHERE f.article = articles.id)", limit, None)
    }

    fn record_facts(&self, facts: &[(ArticleId, Facts)]) -> Result<()> {
        self.write(|tx| {
            let stmt = tx
                .prepare("INSERT INTO facts (article, json) VALUES ($1, $2) ON CONFLICT (article) DO UPDATE SET json = excluded.json")
                .map_err(|e| self.err(e))?;
            for (id, f) in facts {
                tx.execute(&stmt, &[&id.0, &to_json(&id.0, f)?]).map_err(|e| self.err(e))?;
            }
            Ok(())
        })
    }

    fn for_each_facts(&self, visit: &mut dyn FnMut(ArticleId, Facts) -> std::io::Result<()>) -> Result<()> {
        let mut after = 0i64;
        loop {
            let rows = self.read(|c| {
                c.query(
                    "SELECT a.seq, f.article, f.json FROM facts f JOIN articles a ON a.id = f.article WHERE a.seq > $1 ORDER BY a.seq LIMIT 1024",
                    &[&after],
                )
            })?;
            let Some(last) = rows.last() else { return Ok(()) };
            after = last.get(0);
            for r in &rows {
                let id: String = r.get(1);
                let facts: Facts = from_json(&id, r.get::<_, &str>(2))?;
                visit(ArticleId(id), facts).map_err(Error::Output)?;
            }
        }
    }

    fn facts_of(&self, articles: &[ArticleId]) -> Result<Vec<(ArticleId, Facts)>> {
        let ids: Vec<&str> = articles.iter().map(|a| a.0.as_str()).collect();
        let rows = self.read(|c| c.query("SELECT article, json FROM facts WHERE article = ANY($1)", &[&ids]))?;
        let found: std::collections::HashMap<String, String> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        articles.iter().filter_map(|a| found.get(&a.0).map(|json| Ok((a.clone(), from_json(&a.0, json)?)))).collect()
    }
}

/// A session advisory lock, held by its own connection.
struct PgLock {
    client: Client,
    key: i64,
}

impl Drop for PgLock {
    fn drop(&mut self) {
        // Closing the connection would release it too; unlocking keeps that explicit.
        let _ = self.client.execute("SELECT pg_advisory_unlock($1)", &[&self.key]);
    }
}

impl ChangeFeed for PgStore {
    fn head(&self) -> Result<Head> {
        let row = self.read(|c| {
            c.query_one("SELECT COALESCE((SELECT MAX(seq) FROM articles), 0)::bigint, (SELECT value::bigint FROM meta WHERE key = 'changes')", &[])
        })?;
        Ok(Head { articles: row.get(0), changes: row.get(1) })
    }

    fn lock_step(&self, step: Step) -> Result<StepLock> {
        let mut client = Client::connect(&self.url, NoTls).map_err(|e| self.err(e))?;
        client.execute("SELECT pg_advisory_lock($1)", &[&step.key()]).map_err(|e| self.err(e))?;
        Ok(StepLock::new(PgLock { client, key: step.key() }))
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}
