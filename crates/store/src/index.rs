//! The full-text index every backend searches through: tantivy, derived from the store's
//! article sequence. Its commit payload is the last sequence number it covers; catching up is
//! "index every article after that one". One process indexes at a time (tantivy's writer lock);
//! the others wait for it or leave the work to it.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use storyline_model::{Article, StoredArticle};
use tantivy::collector::{Count, TopDocs};
use tantivy::directory::error::LockError;
use tantivy::query::QueryParser;
use tantivy::schema::{DateOptions, DateTimePrecision, Field, Schema, Value, INDEXED, STORED, STRING, TEXT};
use tantivy::snippet::SnippetGenerator;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, TantivyError, Term};

use crate::{query, Error, Query, Result, SearchHit, SearchResults};

/// Memory the index writer may use before it writes a segment.
const HEAP_BYTES: usize = 64 << 20;
/// How long a writer waits for another process that is indexing, at most.
pub const INDEX_WAIT: Duration = Duration::from_secs(600);

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
    /// The stored `published` value, returned with hits.
    published_text: Field,
}

/// A tantivy index of the stored articles.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    name: String,
    /// One indexer per process at a time; tantivy's lock keeps other processes out.
    indexing: Mutex<()>,
}

impl SearchIndex {
    /// Opens (or creates) the index in `dir`. An index of another schema (an older Storyline) is
    /// derived data: it is removed and rebuilt from the store.
    pub fn open(dir: &Path) -> Result<SearchIndex> {
        let name = dir.display().to_string();
        let io = |source| Error::Io { path: dir.to_path_buf(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        let (schema, fields) = schema();
        let ix = |e: TantivyError| Error::Index { store: name.clone(), message: e.to_string() };
        let open = || -> Result<Index> {
            let directory = tantivy::directory::MmapDirectory::open(dir).map_err(|e| ix(e.into()))?;
            Index::open_or_create(directory, schema.clone()).map_err(ix)
        };
        let index = match open() {
            Ok(index) => index,
            Err(Error::Index { message, .. }) if message.contains("schema") => {
                std::fs::remove_dir_all(dir).map_err(io)?;
                std::fs::create_dir_all(dir).map_err(io)?;
                open()?
            }
            Err(e) => return Err(e),
        };
        let reader = index.reader_builder().reload_policy(ReloadPolicy::OnCommitWithDelay).try_into().map_err(ix)?;
        Ok(SearchIndex { index, reader, fields, name, indexing: Mutex::new(()) })
    }

    /// An index in memory (for the memory store).
    pub fn in_memory() -> Result<SearchIndex> {
        let (schema, fields) = schema();
        let index = Index::create_in_ram(schema);
        let name = "memory".to_owned();
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e: TantivyError| Error::Index { store: name.clone(), message: e.to_string() })?;
        Ok(SearchIndex { index, reader, fields, name, indexing: Mutex::new(()) })
    }

    fn err(&self, e: TantivyError) -> Error {
        Error::Index { store: self.name.clone(), message: e.to_string() }
    }

    /// The last sequence number the index covers.
    pub fn covered(&self) -> Result<i64> {
        let metas = self.index.load_metas().map_err(|e| self.err(e))?;
        Ok(metas.payload.and_then(|p| p.parse().ok()).unwrap_or(0))
    }

    /// Indexes every article after the covered sequence number, read page by page through
    /// `after` (the store's `articles_after`), when the store's `head` is past it. With `wait`,
    /// waits that long at most for another process that holds the index; without, leaves the
    /// work to that process. Returns the sequence number covered.
    pub fn catch_up(&self, head: i64, wait: Option<Duration>, after: &dyn Fn(i64) -> Result<Vec<StoredArticle>>) -> Result<i64> {
        let covered = self.covered()?;
        if covered >= head {
            self.refresh()?;
            return Ok(covered);
        }
        let _local = self.indexing.lock().unwrap_or_else(|p| p.into_inner());
        let deadline = wait.map(|w| Instant::now() + w);
        let mut writer: IndexWriter = loop {
            match self.index.writer(HEAP_BYTES) {
                Ok(w) => break w,
                Err(TantivyError::LockFailure(LockError::LockBusy, _)) => match deadline {
                    Some(d) if Instant::now() < d => std::thread::sleep(Duration::from_millis(20)),
                    _ => return Ok(covered),
                },
                Err(e) => return Err(self.err(e)),
            }
        };
        // Another process may have indexed while this one waited.
        let from = self.covered()?;
        let mut last = from;
        loop {
            let page = after(last)?;
            if page.is_empty() {
                break;
            }
            for stored in &page {
                // Replace, never duplicate (a crash may have left a half-committed segment).
                writer.delete_term(Term::from_field_text(self.fields.id, &stored.article.id.0));
                writer.add_document(self.document(&stored.article)).map_err(|e| self.err(e))?;
                last = last.max(stored.seq);
            }
        }
        if last > from {
            let mut prepared = writer.prepare_commit().map_err(|e| self.err(e))?;
            prepared.set_payload(&last.to_string());
            prepared.commit().map_err(|e| self.err(e))?;
        }
        writer.wait_merging_threads().map_err(|e| self.err(e))?;
        self.refresh()?;
        Ok(last)
    }

    /// Makes the latest commit (of any process) visible to searches.
    fn refresh(&self) -> Result<()> {
        self.reader.reload().map_err(|e| self.err(e))
    }

    fn document(&self, a: &Article) -> TantivyDocument {
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
        if let Some(p) = &a.published {
            doc.add_text(f.published_text, p.to_string());
            doc.add_date(f.published, tantivy::DateTime::from_timestamp_secs(p.timestamp()));
        }
        doc
    }

    /// Answers a query: hits by relevance (title counts twice), with snippets.
    pub fn search(&self, query: &Query, limit: usize) -> Result<SearchResults> {
        let f = &self.fields;
        let mut parser = QueryParser::for_index(&self.index, vec![f.title, f.text]);
        parser.set_field_boost(f.title, 2.0);
        parser.set_conjunction_by_default();
        let parsed = parse(&parser, query.rewritten(), query.as_str())?;
        let searcher = self.reader.searcher();
        let (top, total) = searcher.search(&parsed, &(TopDocs::with_limit(limit.max(1)).order_by_score(), Count)).map_err(|e| match e {
            // A well-formed query the index cannot answer (`title:*` on a field without a fast
            // column) is the asker's mistake, not a broken index.
            TantivyError::SchemaError(m) | TantivyError::InvalidArgument(m) => Error::Query(format!("{m} (in {})", query::quoted(query.as_str()))),
            e => self.err(e),
        })?;
        let snippets = SnippetGenerator::create(&searcher, &*parsed, f.text).map_err(|e| self.err(e))?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top.into_iter().take(limit) {
            let doc: TantivyDocument = searcher.doc(address).map_err(|e| self.err(e))?;
            let text = |field| doc.get_first(field).and_then(|v| v.as_str()).map(str::to_owned);
            hits.push(SearchHit {
                id: storyline_model::ArticleId(text(f.id).unwrap_or_default()),
                score,
                title: text(f.title),
                published: text(f.published_text).and_then(|p| p.parse().ok()),
                outlet: text(f.outlet),
                snippet: snippets.snippet_from_doc(&doc).to_html(),
            });
        }
        Ok(SearchResults { total, hits })
    }
}

/// Checks a rewritten query against the parser without an index (see [`Query::parse`]).
pub(crate) fn validate(rewritten: &str, original: &str) -> Result<()> {
    let (schema, f) = schema();
    let parser = QueryParser::new(schema, vec![f.title, f.text], tantivy::tokenizer::TokenizerManager::default());
    parse(&parser, rewritten, original).map(|_| ())
}

/// Parse errors are cut to their first words (the parser's message may repeat the whole query).
/// A query of excluding terms only (`-hamas`) means every article but those.
fn parse(parser: &QueryParser, rewritten: &str, original: &str) -> Result<Box<dyn tantivy::query::Query>> {
    let parsed = match parser.parse_query(rewritten) {
        Err(tantivy::query::QueryParserError::AllButQueryForbidden) => parser.parse_query(&format!("* {rewritten}")),
        other => other,
    };
    parsed.map_err(|e| {
        let message = e.to_string();
        let message = message.char_indices().nth(60).map_or(message.as_str(), |(cut, _)| &message[..cut]).trim_end();
        Error::Query(format!("{message} (in {})", query::quoted(original)))
    })
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        title: b.add_text_field("title", TEXT | STORED),
        text: b.add_text_field("text", TEXT | STORED),
        outlet: b.add_text_field("outlet", TEXT | STORED),
        authors: b.add_text_field("authors", TEXT),
        contributors: b.add_text_field("contributors", TEXT),
        credited_source: b.add_text_field("credited_source", TEXT),
        url: b.add_text_field("url", TEXT),
        language: b.add_text_field("language", STRING),
        external_id: b.add_text_field("external_id", STRING),
        published: b.add_date_field("published", DateOptions::from(INDEXED).set_fast().set_precision(DateTimePrecision::Seconds)),
        published_text: b.add_text_field("published_text", STORED),
    };
    (b.build(), fields)
}
