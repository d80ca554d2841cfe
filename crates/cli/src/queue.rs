//! `storyline ingest --queue` and `storyline worker`: glue between the command line and
//! `storyline_queue`.

use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use storyline_pipeline::{Config, Pipeline, Quiet};
use storyline_queue::{Publisher, QueueConfig, Report, Until};
use storyline_store::Store;

/// The queue flags every command that talks to the queue shares.
#[derive(Debug, Clone, clap::Args)]
pub struct QueueArgs {
    /// Documents a worker takes at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub batch: u64,
    /// How long a worker's batch may go unanswered before another worker gets it (a worker
    /// that is alive says it is still working every third of this).
    #[arg(long, value_parser = crate::parse_duration, default_value = "30s")]
    pub ack_wait: Duration,
    /// Exit once the queue gave nothing for this long (a backfill); without it, run until
    /// stopped.
    #[arg(long, value_parser = crate::parse_duration)]
    pub until_idle: Option<Duration>,
}

/// `storyline ingest --queue URL PATHS`: publish, store nothing here.
pub fn publish(url: &str, config: &Config, no_progress: bool, paths: &[PathBuf]) -> Result<ExitCode> {
    let inputs = storyline_pipeline::prepare(paths, config.read.max_stdin_bytes).context("reading standard input")?;
    let publisher = Publisher::connect(QueueConfig::new(url), config.clone())?;
    let observer = crate::observe::Bars::new(!no_progress && io::stderr().is_terminal(), false);
    let started = Instant::now();
    let p = publisher.publish_inputs(&inputs, &observer).with_context(|| format!("publishing to {url}"))?;
    eprintln!(
        "published {} documents from {} inputs to {url}: {} new, {} already in the queue's duplicate window; {} warnings, {} errors ({:.1} s); workers store them",
        p.documents,
        inputs.sources.len(),
        p.published,
        p.duplicates,
        p.warnings,
        p.errors,
        started.elapsed().as_secs_f64()
    );
    Ok(if p.errors > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// `storyline worker`: consume the queue into the store.
pub fn work(store: &dyn Store, url: &str, config: &Config, args: &QueueArgs) -> Result<ExitCode> {
    let mut queue = QueueConfig::new(url);
    queue.batch = args.batch as usize;
    queue.ack_wait = args.ack_wait;
    let until = args.until_idle.map_or(Until::Forever, Until::Idle);
    let pipeline = Pipeline::new(config, &Quiet);
    eprintln!("worker: {url} into {}", store.describe());
    let started = Instant::now();
    let mut said = Instant::now();
    let mut since = 0usize;
    let tally = storyline_queue::work(store, &pipeline, &queue, until, &mut |tally, report| match report {
        Report::Batch(_) => {
            // A line every few seconds at most.
            if said.elapsed() >= Duration::from_secs(5) {
                let secs = said.elapsed().as_secs_f64();
                eprintln!(
                    "worker: {} documents ({} added, {} already stored) in {} batches; {:.0} documents/s lately",
                    tally.documents,
                    tally.added,
                    tally.already_stored,
                    tally.batches,
                    (tally.documents - since) as f64 / secs
                );
                said = Instant::now();
                since = tally.documents;
            }
        }
        Report::Problem(message) => eprintln!("warning: worker: {message}"),
    })?;
    let stages: Vec<String> = tally.seconds.iter().map(|(stage, secs)| format!("{} {secs:.1} s", stage.label())).collect();
    eprintln!(
        "worker: done after {:.1} s: {} documents ({} added, {} already stored) in {} batches; {} unreadable messages, {} failed batches; {}; story step and sweeps {:.1} s (lock waits included)",
        started.elapsed().as_secs_f64(),
        tally.documents,
        tally.added,
        tally.already_stored,
        tally.batches,
        tally.unreadable,
        tally.failed,
        stages.join(", "),
        tally.assign_seconds
    );
    Ok(ExitCode::SUCCESS)
}
