//! The one implementation of ingest. Every entry point (the CLI, `POST /articles`, the evals,
//! the follower and workers) calls [`Pipeline::ingest`]:
//!
//! read -> extract -> store -> copies -> stories (with rewrites) -> facts
//!
//! Reading and extraction stream the inputs in two passes (corpus statistics first, so that the
//! result does not depend on input order). Stored batches are committed one transaction at a
//! time. The later steps work from the store's queues (articles without a copy check, a story,
//! facts), each under its [`Step`](storyline_store::Step) lock, so that any number of
//! processes can ingest into one store at once and an interrupted run resumes where it stopped.

pub mod config;
pub mod copies;
mod facts;
pub mod read;
pub mod stories;

use std::time::Instant;

use serde::Serialize;
pub use storyline_ingest::InputWarning;
use storyline_model::{Article, ArticleId, RawDocument};
use storyline_store::{Step, Store};

pub use config::{Config, ConfigError};
pub use read::{prepare, Inputs, Tally};
pub use stories::StepSummary;
pub use storyline_ingest::Severity;

/// The stages of an ingest, in order: what progress bars, logs and the summary speak of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// First pass: corpus statistics (boilerplate evidence).
    Scan,
    /// Second pass: extraction and storing.
    Extract,
    Copies,
    Stories,
    Facts,
}

impl Stage {
    pub const ALL: [Stage; 5] = [Stage::Scan, Stage::Extract, Stage::Copies, Stage::Stories, Stage::Facts];

    pub fn label(self) -> &'static str {
        match self {
            Stage::Scan => "scanning",
            Stage::Extract => "extracting",
            Stage::Copies => "copies",
            Stage::Stories => "stories",
            Stage::Facts => "facts",
        }
    }
}

/// What a run reports as it goes. Every method has a quiet default except warnings, which go
/// to stderr.
pub trait Observer: Sync {
    /// A stage starts; `total` is in bytes for reading stages, articles after.
    fn start(&self, _stage: Stage, _total: u64) {}
    /// Bytes read (reading stages).
    fn read(&self, _bytes: u64) {}
    /// Units done so far in the current stage.
    fn position(&self, _done: u64) {}
    /// A short status (articles stored so far).
    fn status(&self, _message: &str) {}
    /// A stage ended, with its one-line summary.
    fn finish(&self, _stage: Stage, _line: &str) {}
    /// A problem with one input or article; the run goes on.
    fn warning(&self, warning: &InputWarning) {
        eprintln!("{warning}");
    }
}

/// Reports nothing but warnings.
pub struct Quiet;

impl Observer for Quiet {}

/// Errors that stop a run (problems with single inputs are warnings instead).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] storyline_store::Error),
    #[error("reading standard input: {0}")]
    Stdin(#[source] std::io::Error),
    #[error("the bundled NER model is unreadable: {0}")]
    Tagger(String),
    #[error("reading the stored story state: {0}")]
    StoryState(String),
    #[error("storing articles (batches already reported stored are kept): {0}")]
    Storing(#[source] storyline_store::Error),
    /// The work queue refused or lost a document (publishers only).
    #[error("work queue: {0}")]
    Queue(String),
}

/// What an ingest did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct IngestSummary {
    pub documents: usize,
    pub added: usize,
    pub already_stored: usize,
    pub warnings: usize,
    pub errors: usize,
    /// Stored articles that carry a warning of their own (a date that is no date, a charset
    /// guessed): each is in the article's `warnings`.
    pub article_warnings: usize,
    /// The first warnings of this run, input and article ones, each naming its input (at most
    /// [`FIRST_WARNINGS`]), so that a caller without the console (`POST /articles`) sees them.
    pub first_warnings: Vec<String>,
    /// Articles in the store afterwards.
    pub articles: usize,
    pub copy_relations: usize,
    pub stories_opened: usize,
    pub story_merges: usize,
    pub articles_moved: usize,
    pub story_splits: usize,
    pub stories: usize,
    pub rewrites: usize,
    pub facts: usize,
    /// Seconds each stage took (`extract` includes reading and storing).
    pub seconds: std::collections::BTreeMap<Stage, f64>,
}

/// Warnings an [`IngestSummary`] spells out.
pub const FIRST_WARNINGS: usize = 20;

/// Adds warnings to `first` up to [`FIRST_WARNINGS`].
fn keep_first(first: &mut Vec<String>, more: &[String]) {
    let room = FIRST_WARNINGS.saturating_sub(first.len());
    first.extend(more.iter().take(room).cloned());
}

/// The one summary line of reading and storing.
fn extract_line(summary: &IngestSummary, from: &str) -> String {
    format!(
        "ingested {} documents from {from}: {} added, {} already stored; {} warnings, {} errors{}; {} articles in the store",
        summary.documents,
        summary.added,
        summary.already_stored,
        summary.warnings,
        summary.errors,
        match summary.article_warnings {
            0 => String::new(),
            n => format!(", {n} articles with warnings of their own (their `warnings` field)"),
        },
        summary.articles
    )
}

/// Clean articles into the store in byte- and count-bounded batches, each one transaction.
struct Storing<'p, 'a> {
    pipeline: &'p Pipeline<'a>,
    store: &'p dyn Store,
    now: String,
    batch: Vec<Article>,
    bytes: usize,
    summary: IngestSummary,
    failure: Option<storyline_store::Error>,
    /// The ids of the articles stored (when asked to keep them).
    ids: Vec<ArticleId>,
    keep_ids: bool,
}

impl<'p, 'a> Storing<'p, 'a> {
    fn new(pipeline: &'p Pipeline<'a>, store: &'p dyn Store, keep_ids: bool) -> Self {
        Storing {
            pipeline,
            store,
            now: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            batch: Vec::with_capacity(pipeline.config.batches.store_articles),
            bytes: 0,
            summary: IngestSummary::default(),
            failure: None,
            ids: Vec::new(),
            keep_ids,
        }
    }

    fn push(&mut self, article: Article) {
        if self.failure.is_some() {
            return;
        }
        self.bytes += article.text.len();
        if !article.warnings.is_empty() {
            self.summary.article_warnings += 1;
            keep_first(&mut self.summary.first_warnings, &article.warnings);
        }
        self.batch.push(article);
        let b = &self.pipeline.config.batches;
        if self.batch.len() >= b.store_articles || self.bytes >= b.store_bytes {
            if let Err(e) = self.flush() {
                self.failure = Some(e);
            }
        }
    }

    fn flush(&mut self) -> Result<(), storyline_store::Error> {
        self.bytes = 0;
        let put = self.store.put_articles(&self.batch, &self.now)?;
        self.summary.added += put.added;
        self.summary.already_stored += put.already_stored;
        self.pipeline.observer.status(&format!("{} stored", self.summary.added));
        if self.keep_ids {
            self.ids.extend(self.batch.iter().map(|a| a.id.clone()));
        }
        self.batch.clear();
        Ok(())
    }

    /// The last batch stored; the summary of reading and storing, and the ids stored (when
    /// kept).
    fn finish(mut self, tally: read::Tally) -> Result<(IngestSummary, Vec<ArticleId>), Error> {
        if let Some(e) = self.failure.take() {
            return Err(Error::Storing(e));
        }
        self.flush().map_err(Error::Storing)?;
        let mut summary = self.summary;
        summary.documents = tally.documents;
        summary.warnings = tally.warnings;
        keep_first(&mut summary.first_warnings, &tally.first);
        summary.errors = tally.errors;
        summary.articles = self.store.count_articles()?;
        Ok((summary, self.ids))
    }
}

/// What takes inputs into a store: the pipeline itself, or a publisher that hands the
/// documents to a work queue for workers to run the pipeline on.
pub trait Ingest: Sync {
    fn ingest(&self, store: &dyn Store, inputs: &Inputs) -> Result<IngestSummary, Error>;
}

impl Ingest for Pipeline<'_> {
    fn ingest(&self, store: &dyn Store, inputs: &Inputs) -> Result<IngestSummary, Error> {
        Pipeline::ingest(self, store, inputs)
    }
}

/// The pipeline with its settings.
pub struct Pipeline<'a> {
    pub config: &'a Config,
    pub observer: &'a dyn Observer,
}

impl<'a> Pipeline<'a> {
    pub fn new(config: &'a Config, observer: &'a dyn Observer) -> Pipeline<'a> {
        Pipeline { config, observer }
    }

    /// Reads, cleans and stores the inputs, then runs the copy, story and facts steps on
    /// everything not yet done (this run's articles, and any another run left).
    pub fn ingest(&self, store: &dyn Store, inputs: &Inputs) -> Result<IngestSummary, Error> {
        // The tagger the settings ask for is loaded first: a wrong `[ner] encoder` stores nothing.
        facts::tagger(self.config)?;
        let started = Instant::now();
        let mut storing = Storing::new(self, store, false);
        let tally = read::run(inputs, self.config, self.observer, &mut |article| storing.push(article));
        let (mut summary, _) = storing.finish(tally)?;
        summary.seconds.insert(Stage::Extract, started.elapsed().as_secs_f64());
        self.observer.finish(Stage::Extract, &extract_line(&summary, &format!("{} inputs", inputs.sources.len())));
        self.derive(store, &mut summary)?;
        Ok(summary)
    }

    /// Cleans and stores documents read elsewhere (a queue worker's batch), then finds the
    /// copies and facts of these articles without waiting for other processes (only the
    /// last check of the copies against articles stored meanwhile holds the copy lock).
    /// Corpus statistics are the batch's own. The story step is left to [`Pipeline::derive`],
    /// which the caller runs when it is due: stories are assigned in batches by one process
    /// at a time, from the store's queue of articles without one.
    pub fn ingest_documents(&self, store: &dyn Store, docs: Vec<RawDocument>) -> Result<IngestSummary, Error> {
        facts::tagger(self.config)?;
        let started = Instant::now();
        let mut storing = Storing::new(self, store, true);
        let tally = read::extract_documents(docs, self.config, self.observer, &mut |article| storing.push(article));
        let (mut summary, ids) = storing.finish(tally)?;
        summary.seconds.insert(Stage::Extract, started.elapsed().as_secs_f64());
        self.observer.finish(Stage::Extract, &extract_line(&summary, "the queue"));
        let started = Instant::now();
        summary.copy_relations = copies::check_own(store, &ids, self.config, self.observer)?;
        summary.seconds.insert(Stage::Copies, started.elapsed().as_secs_f64());
        let started = Instant::now();
        summary.facts = facts::facts_of_own(store, &ids, self.config, self.observer)?;
        summary.seconds.insert(Stage::Facts, started.elapsed().as_secs_f64());
        Ok(summary)
    }

    /// The steps after storing: copies, stories (with rewrites), facts. Each waits for its
    /// lock: another process running the same step goes first, then this one picks up what is
    /// left.
    pub fn derive(&self, store: &dyn Store, summary: &mut IngestSummary) -> Result<(), Error> {
        let pending = summary.added as u64;
        let (relations, secs) = self.step(store, Stage::Copies, Step::Copies, pending, || copies::copy_step(store, self.config, self.observer))?;
        summary.copy_relations = relations;
        summary.seconds.insert(Stage::Copies, secs);
        self.observer.finish(Stage::Copies, &format!("copies: {relations} new copy relations ({secs:.1} s)"));

        let (step, secs) = self.step(store, Stage::Stories, Step::Stories, pending, || stories::story_step(store, self.config, self.observer))?;
        summary.seconds.insert(Stage::Stories, secs);
        self.observer.finish(
            Stage::Stories,
            &format!(
                "stories: {} articles assigned, {} new stories, {} merges, {} stored articles moved ({} splits); {} stories in all; {} rewrites among story members ({secs:.1} s, of which rewrites {:.1} s)",
                step.assigned, step.opened, step.merges, step.moved, step.splits, step.stories, step.rewrites, step.rewrite_secs
            ),
        );
        summary.stories_opened = step.opened;
        summary.story_merges = step.merges;
        summary.articles_moved = step.moved;
        summary.story_splits = step.splits;
        summary.stories = step.stories;
        summary.rewrites = step.rewrites;

        let (facts, secs) = self.step(store, Stage::Facts, Step::Facts, pending, || facts::facts_step(store, self.config, self.observer))?;
        summary.facts = facts;
        summary.seconds.insert(Stage::Facts, secs);
        self.observer.finish(Stage::Facts, &format!("facts: entities, quotes and figures of {facts} articles ({secs:.1} s)"));
        Ok(())
    }

    /// Runs one step under its lock (waiting for another process that holds it), timed from
    /// the start of the wait.
    fn step<T>(&self, store: &dyn Store, stage: Stage, step: Step, pending: u64, run: impl FnOnce() -> Result<T, Error>) -> Result<(T, f64), Error> {
        self.observer.start(stage, pending);
        let started = Instant::now();
        let _lock = store.lock_step(step)?;
        let out = run()?;
        Ok((out, started.elapsed().as_secs_f64()))
    }
}
