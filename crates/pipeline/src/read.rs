//! Reading: inputs -> raw documents -> (corpus statistics) -> clean articles. Two passes over the inputs: the first gathers corpus-level boilerplate
//! evidence, the second extracts, so that the result does not depend on input order.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;

use rayon::prelude::*;
use storyline_extract::{CorpusStats, Guarded};
use storyline_ingest::{expand_inputs, read_stream, Input, InputWarning, Item, ReadConfig, Severity};
use storyline_model::contain::contain;
use storyline_model::{Article, RawDocument};

use crate::{Config, Observer, Stage};

/// One readable input: a file, or standard input spooled to an unlinked temporary file so that
/// it can be read twice.
pub struct Source {
    pub name: String,
    pub len: u64,
    origin: Origin,
}

enum Origin {
    Path(PathBuf),
    /// Already unlinked: nothing is left on disk however the process ends.
    Spool(File),
}

impl Source {
    /// A reader from the start of the input.
    fn open(&self) -> io::Result<File> {
        match &self.origin {
            Origin::Path(path) => File::open(path),
            Origin::Spool(file) => {
                let mut f = file.try_clone()?;
                f.seek(SeekFrom::Start(0))?;
                Ok(f)
            }
        }
    }
}

/// Inputs ready to read, and what went wrong finding them.
pub struct Inputs {
    pub sources: Vec<Source>,
    pub warnings: Vec<InputWarning>,
}

impl Inputs {
    /// One input already in a file (read from its start, twice), named `name` in warnings:
    /// what the follower fetched in one poll, as a WARC stream.
    pub fn spooled(name: String, file: File) -> io::Result<Inputs> {
        let len = file.metadata()?.len();
        Ok(Inputs { sources: vec![Source { name, len, origin: Origin::Spool(file) }], warnings: Vec::new() })
    }

    pub fn total_bytes(&self) -> u64 {
        self.sources.iter().map(|s| s.len).sum()
    }
}

/// Expands paths; spools stdin (`-`) to an unlinked temporary file, at most `max_stdin_bytes`
/// of it (the rest is not read, with an error).
pub fn prepare(paths: &[PathBuf], max_stdin_bytes: u64) -> io::Result<Inputs> {
    let (inputs, mut warnings) = expand_inputs(paths);
    let mut sources = Vec::with_capacity(inputs.len());
    let mut spooled = false;
    for input in inputs {
        match input {
            Input::File(path) => {
                let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                sources.push(Source { name: path.display().to_string(), len, origin: Origin::Path(path) });
            }
            Input::Stdin => {
                if std::mem::replace(&mut spooled, true) {
                    continue;
                }
                let mut spool = tempfile::tempfile()?;
                let mut len = io::copy(&mut io::stdin().lock().take(max_stdin_bytes.saturating_add(1)), &mut spool)?;
                if len > max_stdin_bytes {
                    spool.set_len(max_stdin_bytes)?;
                    len = max_stdin_bytes;
                    let message = format!("standard input is larger than {max_stdin_bytes} bytes (--max-stdin-bytes); the rest was not read: write it to a file and ingest the file");
                    warnings.push(InputWarning { input: "-".to_owned(), message, severity: Severity::Error });
                }
                sources.push(Source { name: "-".to_owned(), len, origin: Origin::Spool(spool) });
            }
        }
    }
    Ok(Inputs { sources, warnings })
}

/// Counts of what a run did.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub documents: usize,
    pub warnings: usize,
    pub errors: usize,
    /// The first warnings and errors, "INPUT: message" (at most [`crate::FIRST_WARNINGS`]).
    pub first: Vec<String>,
}

/// Runs both passes and hands each clean article to `sink`, in input order. Warnings go to the
/// observer as they come.
pub fn run(inputs: &Inputs, config: &Config, observer: &dyn Observer, sink: &mut dyn FnMut(Article)) -> Tally {
    let pool = extraction_pool(config);
    let batches = &config.batches;
    let read = ReadConfig { max_document_bytes: config.read.max_document_bytes, text_only: false };
    let mut tally = Tally::default();
    for w in &inputs.warnings {
        report(observer, w, &mut tally);
    }
    // Pass 1: corpus statistics (only scraped-text documents contribute).
    let mut stats = CorpusStats::default();
    observer.start(Stage::Scan, inputs.total_bytes());
    let scan = ReadConfig { text_only: true, ..read.clone() };
    for source in &inputs.sources {
        read_source(source, &scan, observer, &mut |item| {
            if let Item::Document(doc) = item {
                stats.observe(&doc);
            }
        });
    }
    // Pass 2: extraction, in parallel over small batches; articles come out in input order.
    observer.start(Stage::Extract, inputs.total_bytes());
    let mut pending: Vec<RawDocument> = Vec::with_capacity(batches.extract_documents);
    let mut pending_bytes = 0usize;
    for source in &inputs.sources {
        read_source(source, &read, observer, &mut |item| match item {
            Item::Document(doc) => {
                tally.documents += 1;
                pending_bytes += doc.body.as_str().len();
                pending.push(doc);
                if pending.len() >= batches.extract_documents || pending_bytes >= batches.extract_bytes {
                    pending_bytes = 0;
                    extract_batch(&pool, &mut pending, &stats, observer, &mut tally, sink);
                }
            }
            Item::Warning(w) => report(observer, &w, &mut tally),
        });
    }
    extract_batch(&pool, &mut pending, &stats, observer, &mut tally, sink);
    tally
}

/// Reads the inputs into raw documents, without extracting them (what a queue publisher
/// sends): one pass, in input order; warnings go to the observer as they come.
pub fn documents(inputs: &Inputs, config: &Config, observer: &dyn Observer, sink: &mut dyn FnMut(RawDocument)) -> Tally {
    let read = ReadConfig { max_document_bytes: config.read.max_document_bytes, text_only: false };
    let mut tally = Tally::default();
    for w in &inputs.warnings {
        report(observer, w, &mut tally);
    }
    observer.start(Stage::Scan, inputs.total_bytes());
    for source in &inputs.sources {
        read_source(source, &read, observer, &mut |item| match item {
            Item::Document(doc) => {
                tally.documents += 1;
                sink(doc);
            }
            Item::Warning(w) => report(observer, &w, &mut tally),
        });
    }
    tally
}

/// Extracts documents that were read elsewhere (a queue worker's batch): the corpus
/// statistics are those of this batch; articles come out in the documents' order.
pub fn extract_documents(mut docs: Vec<RawDocument>, config: &Config, observer: &dyn Observer, sink: &mut dyn FnMut(Article)) -> Tally {
    let pool = extraction_pool(config);
    let mut stats = CorpusStats::default();
    for doc in &docs {
        stats.observe(doc);
    }
    let mut tally = Tally { documents: docs.len(), ..Tally::default() };
    let batches = &config.batches;
    let mut rest = Vec::new();
    while !docs.is_empty() {
        let mut size = 0usize;
        let cut = docs.iter().position(|d| {
            size += d.body.as_str().len();
            size >= batches.extract_bytes
        });
        let n = cut.map_or(docs.len(), |k| k + 1).min(batches.extract_documents).max(1);
        rest = docs.split_off(n);
        extract_batch(&pool, &mut docs, &stats, observer, &mut tally, sink);
        std::mem::swap(&mut docs, &mut rest);
    }
    drop(rest);
    tally
}

/// Generous stacks: HTML libraries recurse over the document tree.
fn extraction_pool(config: &Config) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(config.jobs()).stack_size(64 * 1024 * 1024).build().expect("a thread pool with at least one thread")
}

/// Extracts `pending` in parallel and hands the articles to `sink` in order; empties `pending`.
fn extract_batch(
    pool: &rayon::ThreadPool,
    pending: &mut Vec<RawDocument>,
    stats: &CorpusStats,
    observer: &dyn Observer,
    tally: &mut Tally,
    sink: &mut dyn FnMut(Article),
) {
    let articles: Vec<Guarded> = pool.install(|| pending.par_iter().map(|doc| storyline_extract::extract_guarded(doc, stats)).collect());
    for (doc, article) in pending.drain(..).zip(articles) {
        match article {
            Guarded::Extracted(article) => sink(article),
            Guarded::Recovered { panic, article } => {
                let outcome = if article.is_some() { "kept as plain text" } else { "document skipped" };
                let message = format!("extraction failed inside a library ({panic}); {outcome}");
                report(observer, &InputWarning { input: doc.source.clone(), message, severity: Severity::Error }, tally);
                if let Some(article) = article {
                    sink(article);
                }
            }
        }
    }
}

/// Counts the bytes read, for the observer.
struct Counted<'a, R> {
    inner: R,
    observer: &'a dyn Observer,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.observer.read(n as u64);
        Ok(n)
    }
}

/// Reads one source; a panic inside a reader library ends that source with an error naming it
/// (what it emitted before is kept) and the next source is read.
fn read_source(source: &Source, config: &ReadConfig, observer: &dyn Observer, emit: &mut dyn FnMut(Item)) {
    match source.open() {
        Ok(file) => {
            if let Err(panic) = contain(|| read_stream(&source.name, Counted { inner: file, observer }, config, emit)) {
                let message = format!("reading failed inside a library ({panic}); the rest of this input is skipped");
                emit(Item::Warning(InputWarning { input: source.name.clone(), message, severity: Severity::Error }));
            }
        }
        Err(e) => emit(Item::Warning(InputWarning { input: source.name.clone(), message: format!("cannot open: {e}"), severity: Severity::Error })),
    }
}

fn report(observer: &dyn Observer, warning: &InputWarning, tally: &mut Tally) {
    if tally.first.len() < crate::FIRST_WARNINGS {
        tally.first.push(format!("{}: {}", warning.input, warning.message));
    }
    match warning.severity {
        Severity::Warning => tally.warnings += 1,
        Severity::Error => tally.errors += 1,
    }
    observer.warning(warning);
}
