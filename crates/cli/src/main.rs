//! The `storyline` binary: command-line parsing and glue. All real work lives in the crates.

mod alerts;
mod copies;
mod enrich;
mod export;
mod follow;
mod observe;
mod queue;
mod stories;

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use std::sync::Arc;

use storyline_model::ArticleId;
use storyline_pipeline::{Config, Pipeline};
use storyline_store::Store;

/// Storyline: turns piles of news articles into stories: clean articles, their copies, the
/// events they cover and the threads those events belong to.
#[derive(Debug, Parser)]
#[command(name = "storyline", version, about)]
struct Cli {
    /// Settings file (TOML; see storyline.example.toml). Default: ./storyline.toml when there is one.
    #[arg(long, env = "STORYLINE_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct DbArg {
    /// The store: a directory (embedded SQLite store), or a PostgreSQL URL
    /// (`postgres://user@host:port/database`).
    #[arg(long, env = "STORYLINE_DB", default_value = "./storyline-data", global = true)]
    db: String,
    /// Where this process keeps its search index of a PostgreSQL store (default: under
    /// ~/.cache/storyline, named after the database).
    #[arg(long, env = "STORYLINE_INDEX_DIR", global = true)]
    index_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct ReadArgs {
    /// Largest document kept, in bytes; longer ones are cut (with a warning). [default: 8 MiB]
    #[arg(long)]
    max_document_bytes: Option<usize>,
    /// Never draw a progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Documents extracted in parallel (default: all cores; 1 for one-core measurements).
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// Most bytes read from standard input (`-`); it is spooled to an unlinked temporary file.
    /// [default: 1 GiB]
    #[arg(long)]
    max_stdin_bytes: Option<u64>,
}

impl ReadArgs {
    /// The command line over the settings file.
    fn apply(&self, config: &mut Config) {
        if let Some(n) = self.max_document_bytes {
            config.read.max_document_bytes = n;
        }
        if let Some(n) = self.max_stdin_bytes {
            config.read.max_stdin_bytes = n;
        }
        if let Some(j) = self.jobs {
            config.read.jobs = j.max(1);
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read inputs (files, directories, `-` for stdin), clean them and store the articles.
    Ingest {
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        read: ReadArgs,
        /// Publish the documents to this work queue (NATS JetStream, `nats://HOST:PORT`)
        /// instead of storing them here: `storyline worker`s store them.
        #[arg(long, value_name = "nats://HOST:PORT")]
        queue: Option<String>,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Run the pipeline on the documents of a work queue (NATS JetStream) into the store, until
    /// stopped: start any number, on any machines, over one PostgreSQL store. A batch is
    /// acknowledged only after the store committed it; a worker that dies leaves its batch to
    /// the others.
    Worker {
        #[command(flatten)]
        db: DbArg,
        /// The work queue, `nats://HOST:PORT`.
        #[arg(long, value_name = "nats://HOST:PORT")]
        queue: String,
        #[command(flatten)]
        flags: queue::QueueArgs,
        /// Documents extracted in parallel (default: all cores).
        #[arg(long, short = 'j')]
        jobs: Option<usize>,
    },
    /// Follow sources as they publish: RSS/Atom feeds, sitemaps and news sitemaps (indexes and
    /// gzip too) by URL, and OPML files of feeds (a URL or a local file). New pages are fetched
    /// politely (robots.txt, one request per host at a time), archived as WARC, and ingested;
    /// each source's state is kept in the store, so a restart resumes.
    Follow {
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        flags: FollowFlags,
        /// Publish new pages to this work queue (`nats://HOST:PORT`) for `storyline worker`s
        /// to store; the sources' state stays in the store.
        #[arg(long, value_name = "nats://HOST:PORT")]
        queue: Option<String>,
        /// Feed, sitemap or sitemap index URLs, OPML files of feeds, and folders to watch.
        #[arg(required = true)]
        sources: Vec<String>,
    },
    /// List the followed sources: kind, last fetch and status, articles, errors, next poll.
    /// Saved searches that report matching stories by webhook or to a file.
    Alert {
        #[command(flatten)]
        db: DbArg,
        #[command(subcommand)]
        action: alerts::Action,
    },
    Sources {
        #[command(flatten)]
        db: DbArg,
        /// Print sources as JSON Lines.
        #[arg(long)]
        json: bool,
    },
    /// Like ingest, without a store: print one JSON object per document (JSON Lines).
    Extract {
        #[command(flatten)]
        read: ReadArgs,
        /// Switch off named extraction rules (comma-separated; for measuring what each one
        /// does, as `cargo xtask eval extraction-rules` does).
        #[arg(long, value_name = "RULES", hide = true)]
        without_rules: Option<String>,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Export stored data.
    Export {
        #[command(flatten)]
        db: DbArg,
        what: ExportWhat,
        #[arg(long, value_enum, default_value_t = Format::Jsonl)]
        format: Format,
    },
    /// Full-text search: words, "phrases", AND/OR/NOT, field:value, published:[2021-05-01 TO 2021-05-31].
    Search {
        #[command(flatten)]
        db: DbArg,
        /// The query; a leading `-` excludes a word (`-hamas`: every article without it).
        #[arg(allow_hyphen_values = true)]
        query: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Print hits as JSON Lines.
        #[arg(long)]
        json: bool,
    },
    /// Show an article's copies, near-duplicates and shared passages, side by side.
    Copies {
        #[command(flatten)]
        db: DbArg,
        id: String,
    },
    /// List stories: id, size, outlets, time span, title.
    Stories {
        #[command(flatten)]
        db: DbArg,
        #[arg(long, value_enum, default_value_t = SortArg::Size)]
        sort: SortArg,
        /// Only stories with an article published on or after this date (YYYY-MM-DD).
        #[arg(long, value_parser = parse_day)]
        since: Option<chrono::NaiveDate>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print stories as JSON Lines.
        #[arg(long)]
        json: bool,
    },
    /// Show a story: its descriptors, its thread, and why each article belongs to it.
    Story {
        #[command(flatten)]
        db: DbArg,
        id: String,
    },
    /// Show an entity (by name, alias or id): its aliases, roles with their articles and
    /// dates, mentions and quotes.
    Entity {
        #[command(flatten)]
        db: DbArg,
        name: String,
    },
    /// Named-entity tags: with --conll, read CoNLL columns (word first; a blank line ends a
    /// sentence) and print `word<TAB>tag` (IOB2) per token; otherwise tag plain text files
    /// and print the entities found, one JSON object per line.
    Tag {
        /// Read CoNLL columns.
        #[arg(long)]
        conll: bool,
        /// A model file written by `storyline train-ner` (default: the bundled model).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Add the transformer's tag scores: the folder of the MiniLM model
        /// (scripts/setup-encoder.sh installs it), or `none`; default: `[ner] encoder` of the
        /// settings.
        #[arg(long, value_name = "DIR")]
        encoder: Option<PathBuf>,
        /// The encoder's adapter file (default: the bundled one).
        #[arg(long, value_name = "FILE", hide = true)]
        adapter: Option<PathBuf>,
        /// Weights of the encoder's scores in the two passes (default: the adapter's).
        #[arg(long, value_name = "W1,W2", hide = true)]
        encoder_weights: Option<String>,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Train the named-entity tagger on CoNLL-2003 style files (what `cargo xtask train ner` runs).
    #[command(name = "train-ner", hide = true)]
    TrainNer {
        /// Training files (CoNLL columns); repeat to train on several.
        #[arg(long, required = true)]
        train: Vec<PathBuf>,
        /// Place and name lists, `TYPE<TAB>name` per line (see scripts/gazetteer.py).
        #[arg(long)]
        gazetteer: Option<PathBuf>,
        /// Word clusters, `word<TAB>id<TAB>id...` per line (see scripts/word_clusters.py).
        #[arg(long)]
        clusters: Option<PathBuf>,
        /// Scored after every epoch (progress only; the epoch count is fixed).
        #[arg(long)]
        dev: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = storyline_enrich::ner::TrainConfig::default().epochs)]
        epochs: usize,
        #[arg(long, default_value_t = storyline_enrich::ner::TrainConfig::default().min_count)]
        min_count: u32,
        /// Document folds for the second pass (below 2: one pass only).
        #[arg(long, default_value_t = storyline_enrich::ner::TrainConfig::default().folds)]
        folds: usize,
    },
    /// Choose the weights of the encoder's scores in the tagger's two passes on a dev file
    /// (what `cargo xtask train ner-encoder` runs): prints F1 for each pair and the best.
    #[command(name = "tune-ner-encoder", hide = true)]
    TuneNerEncoder {
        /// The tagger (a `storyline train-ner` model trained without the dev file).
        #[arg(long)]
        model: PathBuf,
        /// The MiniLM model's folder.
        #[arg(long)]
        encoder: PathBuf,
        /// The adapter trained without the dev file.
        #[arg(long)]
        adapter: PathBuf,
        #[arg(long)]
        dev: PathBuf,
    },
    /// A story's page as a report: summary with citations, outlets, conflicts, quote variants,
    /// copies, timeline and the outlet-by-fact comparison.
    Report {
        #[command(flatten)]
        db: DbArg,
        story: String,
        #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
        format: ReportFormat,
    },
    /// Serve the JSON API (see openapi.yaml) and the web UI.
    Serve {
        #[command(flatten)]
        db: DbArg,
        /// Address to listen on; beyond loopback it needs --token.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        #[command(flatten)]
        limits: ServeLimits,
        /// Follow these sources while serving (as `storyline follow` does: feeds, sitemaps,
        /// OPML files, folders), every --every.
        #[arg(long, num_args = 1..)]
        follow: Vec<String>,
        #[command(flatten)]
        flags: FollowFlags,
    },
    /// Print one stored article (by id or external id) as JSON.
    Show {
        #[command(flatten)]
        db: DbArg,
        id: String,
    },
}

#[derive(Debug, clap::Args)]
struct FollowFlags {
    /// Poll again after this long (30s, 5m, 1h); without it, `follow` polls once and exits
    /// [serve --follow: 5m].
    #[arg(long, value_parser = parse_duration)]
    every: Option<std::time::Duration>,
    /// Folder of the daily WARC files of every answer [default: ARCHIVE under the store
    /// directory, or ./storyline-archive for a PostgreSQL store].
    #[arg(long)]
    archive: Option<PathBuf>,
    /// The User-Agent sent, and matched against robots.txt.
    #[arg(long)]
    user_agent: Option<String>,
    /// Least time between two requests to one host (a robots.txt Crawl-delay can raise it).
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    host_delay: std::time::Duration,
    /// Requests per second at most, over all hosts together.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    rate: u32,
}

impl FollowFlags {
    fn args(self, sources: Vec<String>, queue: Option<String>) -> follow::Args {
        follow::Args { every: self.every, archive: self.archive, user_agent: self.user_agent, host_delay: self.host_delay, rate: self.rate, sources, queue }
    }
}

#[derive(Debug, clap::Args)]
struct ServeLimits {
    /// Bearer token that writes (`POST /articles`) must carry as `Authorization: Bearer TOKEN`.
    #[arg(long, env = "STORYLINE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Seconds a client has to send a request's headers, or to start its next request on an idle
    /// connection. [default: 10]
    #[arg(long)]
    header_timeout: Option<u64>,
    /// Seconds a request may take, its body included. [default: 120]
    #[arg(long)]
    request_timeout: Option<u64>,
    /// Connections served at once. [default: 256]
    #[arg(long)]
    max_connections: Option<usize>,
    /// Largest request body, in bytes. [default: 2 MiB]
    #[arg(long)]
    max_body_bytes: Option<usize>,
}

impl ServeLimits {
    /// The command line over the settings file.
    fn limits(&self, config: &mut Config) -> Result<storyline_serve::Limits> {
        let token = self.token.clone().filter(|t| !t.is_empty());
        if token.as_ref().is_some_and(|t| t.len() < 16) {
            anyhow::bail!("the token is too short to be a secret: use at least 16 characters (for example `openssl rand -hex 32`)");
        }
        let c = &mut config.serve;
        c.header_timeout_secs = self.header_timeout.unwrap_or(c.header_timeout_secs).max(1);
        c.request_timeout_secs = self.request_timeout.unwrap_or(c.request_timeout_secs).max(1);
        c.max_connections = self.max_connections.unwrap_or(c.max_connections).max(1);
        c.max_body_bytes = self.max_body_bytes.unwrap_or(c.max_body_bytes);
        Ok(storyline_serve::Limits {
            token,
            header_timeout: std::time::Duration::from_secs(c.header_timeout_secs),
            request_timeout: std::time::Duration::from_secs(c.request_timeout_secs),
            max_connections: c.max_connections,
            max_body_bytes: c.max_body_bytes,
        })
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ExportWhat {
    Articles,
    Copies,
    Stories,
    Entities,
    Quotes,
    Figures,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SortArg {
    /// Most articles first.
    Size,
    /// Most recently published first.
    Recent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    Md,
    Html,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Jsonl,
    Csv,
}

fn main() -> ExitCode {
    storyline_model::contain::install_panic_hook();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The reader of our output went away (`storyline export ... | head`): not an error. The write
/// error may come wrapped by the JSON or CSV writer.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    fn closed(e: &(dyn std::error::Error + 'static)) -> bool {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return io.kind() == io::ErrorKind::BrokenPipe || io.get_ref().is_some_and(|inner| closed(inner));
        }
        e.downcast_ref::<serde_json::Error>().and_then(|j| j.io_error_kind()) == Some(io::ErrorKind::BrokenPipe)
            || e.downcast_ref::<csv::Error>().is_some_and(|c| matches!(c.kind(), csv::ErrorKind::Io(io) if io.kind() == io::ErrorKind::BrokenPipe))
    }
    e.chain().any(closed)
}

fn run(cli: Cli) -> Result<ExitCode> {
    let mut config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Follow { db, flags, queue, sources } => follow::run(&open(&db)?, &db.db, &config, flags.args(sources, queue)),
        Command::Alert { db, action } => alerts::run(open(&db)?, action),
        Command::Sources { db, json } => follow::list(&open_existing(&db)?, json),
        Command::Ingest { db, read, queue, paths } => {
            read.apply(&mut config);
            match queue {
                Some(url) => queue::publish(&url, &config, read.no_progress, &paths),
                None => ingest(&db, &config, read.no_progress, &paths),
            }
        }
        Command::Worker { db, queue, flags, jobs } => {
            if let Some(n) = jobs {
                config.read.jobs = n;
            }
            queue::work(open(&db)?.as_ref(), &queue, &config, &flags)
        }
        Command::Extract { read, without_rules, paths } => {
            read.apply(&mut config);
            if let Some(list) = without_rules {
                storyline_extract::rules::switch_off(&storyline_extract::rules::parse(&list).map_err(anyhow::Error::msg)?);
            }
            extract(&config, read.no_progress, &paths)
        }
        Command::Export { db, what, format } => {
            let store = open_existing(&db)?;
            let name = what.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
            export_any(store.as_ref(), &name, format == Format::Csv, BufWriter::new(io::stdout().lock()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Report { db, story, format } => {
            let store = open_existing(&db)?;
            let catalog = storyline_serve::Catalog::load(store.as_ref()).context("reading the store")?;
            let Some(report) = catalog.report(store.as_ref(), &story)? else {
                eprintln!("error: no story `{story}` in {} (`storyline stories` lists them)", store.describe());
                return Ok(ExitCode::FAILURE);
            };
            let mut out = BufWriter::new(io::stdout().lock());
            match format {
                ReportFormat::Md => out.write_all(storyline_compare::markdown(&report).as_bytes())?,
                ReportFormat::Html => {
                    out.write_all(storyline_serve::html::page(&report.story.title, &storyline_serve::html::story_body(&report)).as_bytes())?
                }
                ReportFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &report)?;
                    out.write_all(b"\n")?;
                }
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { db, addr, limits, follow, flags } => {
            let limits = limits.limits(&mut config)?;
            serve(&db, addr, limits, config, (!follow.is_empty()).then(|| flags.args(follow, None)))
        }
        Command::Copies { db, id } => {
            let store = open_existing(&db)?;
            let out = BufWriter::new(io::stdout().lock());
            if copies::show(store.as_ref(), &ArticleId(id.clone()), out)? {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("error: no article with id or external id `{id}` in {}", store.describe());
                Ok(ExitCode::FAILURE)
            }
        }
        Command::Search { db, query, limit, json } => search(&db, &query, limit, json),
        Command::Entity { db, name } => {
            let store = open_existing(&db)?;
            if enrich::show_entity(store.as_ref(), &name, BufWriter::new(io::stdout().lock()))? {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("error: no entity named `{name}` in {}", store.describe());
                Ok(ExitCode::FAILURE)
            }
        }
        Command::Tag { conll, model, encoder, adapter, encoder_weights, paths } => {
            let encoder = encoder.or_else(|| config.ner.encoder_dir().map(std::path::Path::to_path_buf));
            let weights = match encoder_weights {
                Some(w) => {
                    let pair = w.split_once(',').and_then(|(a, b)| Some((a.trim().parse::<f32>().ok()?, b.trim().parse::<f32>().ok()?)));
                    Some(pair.with_context(|| format!("--encoder-weights {w}: two numbers, W1,W2"))?)
                }
                None => None,
            };
            enrich::tag(model.as_deref(), enrich::EncoderArgs { dir: encoder.as_deref(), adapter: adapter.as_deref(), weights }, conll, &paths)
        }
        Command::TrainNer { train, dev, gazetteer, clusters, out, epochs, min_count, folds } => enrich::train_ner(enrich::TrainNerArgs {
            train: &train,
            dev: dev.as_deref(),
            gazetteer: gazetteer.as_deref(),
            clusters: clusters.as_deref(),
            out: &out,
            epochs,
            min_count,
            folds,
        }),
        Command::TuneNerEncoder { model, encoder, adapter, dev } => enrich::tune_encoder(&model, &encoder, &adapter, &dev),
        Command::Stories { db, sort, since, limit, json } => {
            let store = open_existing(&db)?;
            let sort = match sort {
                SortArg::Size => storyline_store::StorySort::Size,
                SortArg::Recent => storyline_store::StorySort::Recent,
            };
            let n = stories::list(store.as_ref(), sort, since, limit, json, BufWriter::new(io::stdout().lock()))?;
            if n == 0 {
                eprintln!("no stories in {}{}", store.describe(), if since.is_some() { " since that day" } else { "" });
            }
            Ok(if n > 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Story { db, id } => {
            let store = open_existing(&db)?;
            if stories::show(store.as_ref(), &id, BufWriter::new(io::stdout().lock()))? {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("error: no story `{id}` in {}{}", store.describe(), stories::hint(store.as_ref(), &id)?);
                Ok(ExitCode::FAILURE)
            }
        }
        Command::Show { db, id } => {
            let store = open_existing(&db)?;
            match store.get_article(&ArticleId(id.clone()))? {
                Some(a) => {
                    let mut out = io::stdout().lock();
                    serde_json::to_writer_pretty(&mut out, &a)?;
                    out.write_all(b"\n")?;
                    out.flush()?;
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    eprintln!("error: no article with id or external id `{id}` in {}", store.describe());
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

/// Any export, by name: what `export` and the server's export endpoints write.
fn export_any(store: &dyn Store, what: &str, csv: bool, out: impl Write) -> Result<()> {
    match what {
        "articles" => export::articles(store, csv, out),
        "copies" => export::copy_relations(store, csv, out),
        "stories" => stories::export(store, csv, out),
        other => enrich::export(store, other, csv, out),
    }
}

fn serve(db: &DbArg, addr: std::net::SocketAddr, limits: storyline_serve::Limits, config: Config, sources: Option<follow::Args>) -> Result<ExitCode> {
    // Said before the catalog is loaded, which can take a while.
    if !addr.ip().is_loopback() && limits.token.is_none() {
        return Err(storyline_serve::Error::NoToken(addr).into());
    }
    let store = open(db)?;
    let name = store.describe();
    eprintln!("loading the catalog of {name} ...");
    let started = std::time::Instant::now();
    let hooks = storyline_serve::Hooks {
        export: Arc::new(|store: &dyn Store, what: &str, csv: bool, out: &mut dyn Write| export_any(store, what, csv, out).map_err(|e| format!("{e:#}"))),
    };
    let state = storyline_serve::AppState::new(store.clone(), hooks, limits, config.clone()).with_context(|| format!("reading {name}"))?;
    let c = state.catalog();
    eprintln!("{} articles, {} stories, {} entities ({:.1} s)", c.articles, c.stories.len(), c.entities.len(), started.elapsed().as_secs_f64());
    state.follow();
    follow::spawn_alerts(store.clone(), std::time::Duration::from_secs(1))?;
    if let Some(sources) = sources {
        follow::spawn(store, db.db.clone(), config, sources)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the server runtime")?;
    runtime
        .block_on(storyline_serve::serve(state, addr, |bound| {
            println!("Storyline is serving {name} at http://{bound}/ (JSON API: http://{bound}/stories; Ctrl-C stops)");
            let _ = io::stdout().flush();
        }))
        .with_context(|| format!("serving {name}"))?;
    eprintln!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The embedded store's directory, when the locator names one (not a URL or `memory:`), and
/// whether a store is already there.
fn embedded_dir(db: &DbArg) -> Option<(&std::path::Path, bool)> {
    let url = db.db.starts_with("postgres://") || db.db.starts_with("postgresql://") || db.db == "memory:";
    let dir = std::path::Path::new(&db.db);
    (!url).then(|| (dir, dir.join("storyline.sqlite").exists()))
}

/// Opens the store the locator names (a directory or a PostgreSQL URL), creating it when there
/// is none, and says so: a command that writes may start a new store.
fn open(db: &DbArg) -> Result<Arc<dyn Store>> {
    let created = embedded_dir(db).filter(|(_, exists)| !exists);
    let store = storyline_store::open(&db.db, db.index_dir.as_deref()).with_context(|| format!("opening the store at {}", db.db))?;
    if let Some((dir, _)) = created {
        eprintln!("created a new store at {}", dir.display());
    }
    Ok(Arc::from(store))
}

/// Opens a store that must already exist: a command that only reads never creates one (a
/// mistyped `--db` would otherwise answer from a new, empty store).
fn open_existing(db: &DbArg) -> Result<Arc<dyn Store>> {
    if let Some((dir, false)) = embedded_dir(db) {
        anyhow::bail!(
            "no store at {}: nothing was ingested there (check --db or STORYLINE_DB; `storyline ingest --db {} FILES` creates one)",
            dir.display(),
            dir.display()
        );
    }
    open(db)
}

fn ingest(db: &DbArg, config: &Config, no_progress: bool, paths: &[PathBuf]) -> Result<ExitCode> {
    let store = open(db)?;
    let inputs = storyline_pipeline::prepare(paths, config.read.max_stdin_bytes).context("reading standard input")?;
    let observer = observe::Bars::new(!no_progress && io::stderr().is_terminal(), true);
    let summary = Pipeline::new(config, &observer).ingest(store.as_ref(), &inputs).with_context(|| format!("ingesting into {}", store.describe()))?;
    Ok(if summary.errors > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn extract(config: &Config, no_progress: bool, paths: &[PathBuf]) -> Result<ExitCode> {
    let inputs = storyline_pipeline::prepare(paths, config.read.max_stdin_bytes).context("reading standard input")?;
    let mut out = BufWriter::new(io::stdout().lock());
    let mut write_error = None;
    let observer = observe::Bars::new(!no_progress && io::stderr().is_terminal(), false);
    let tally = storyline_pipeline::read::run(&inputs, config, &observer, &mut |article| {
        if write_error.is_none() {
            if let Err(e) = serde_json::to_writer(&mut out, &article).map_err(io::Error::from).and_then(|_| out.write_all(b"\n")) {
                write_error = Some(e);
            }
        }
    });
    if let Some(e) = write_error {
        if e.kind() != io::ErrorKind::BrokenPipe {
            return Err(e).context("writing output");
        }
    }
    out.flush().ok();
    eprintln!("extracted {} documents from {} inputs; {} warnings, {} errors", tally.documents, inputs.sources.len(), tally.warnings, tally.errors);
    Ok(if tally.errors > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn search(db: &DbArg, query: &str, limit: usize, json: bool) -> Result<ExitCode> {
    let parsed = match storyline_store::Query::parse(query) {
        Ok(q) => q,
        Err(storyline_store::Error::Query(message)) => {
            eprintln!("error: {message}");
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e.into()),
    };
    let store = open_existing(db)?;
    let results = match store.search(&parsed, limit) {
        Ok(r) => r,
        Err(storyline_store::Error::Query(message)) => {
            eprintln!("error: {message}");
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e.into()),
    };
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        for hit in &results.hits {
            let value = serde_json::json!({
                "id": hit.id, "score": hit.score, "title": hit.title, "published": hit.published,
                "outlet": hit.outlet, "snippet": hit.snippet,
            });
            writeln!(out, "{value}")?;
        }
    } else {
        writeln!(
            out,
            "{} matching articles{}",
            results.total,
            if results.total > results.hits.len() { format!(" (showing {})", results.hits.len()) } else { String::new() }
        )?;
        for hit in &results.hits {
            writeln!(
                out,
                "\n{}  {}  {}\n  {}\n  {}",
                hit.id,
                hit.published.map(|p| p.date.to_string()).as_deref().unwrap_or("----------"),
                hit.outlet.as_deref().unwrap_or("-"),
                hit.title.as_deref().unwrap_or("(no title)"),
                hit.snippet.replace("<b>", "*").replace("</b>", "*").replace('\n', " ")
            )?;
        }
    }
    out.flush()?;
    Ok(if results.total > 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// A `YYYY-MM-DD` day that exists, for `--since`.
/// `30s`, `5m`, `2h`, `1d`, or plain seconds.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let (number, unit) = s.find(|c: char| !c.is_ascii_digit()).map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = number.parse().map_err(|_| format!("wants a duration like 30s, 5m or 1h, not `{s}`"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(format!("wants a duration like 30s, 5m or 1h, not `{s}`")),
    };
    if seconds == 0 {
        return Err("a duration must be at least one second".into());
    }
    Ok(std::time::Duration::from_secs(seconds))
}

fn parse_day(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().filter(|_| s.len() == 10).ok_or_else(|| format!("wants a date like 2021-05-12, not `{s}`"))
}
