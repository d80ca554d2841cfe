//! `storyline follow` and `storyline sources`: glue between the command line and
//! `storyline_follow::Follower`.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use storyline_follow::fetch::{FetchConfig, Fetcher};
use storyline_follow::follower::{FollowConfig, Follower};
use storyline_follow::listing::{self, Kind};
use storyline_pipeline::{Config, Pipeline, Quiet};
use storyline_store::Store;

pub struct Args {
    pub every: Option<Duration>,
    pub archive: Option<PathBuf>,
    pub user_agent: Option<String>,
    pub host_delay: Duration,
    pub sources: Vec<String>,
}

pub fn run(store: &Arc<dyn Store>, db: &str, config: &Config, args: Args) -> Result<ExitCode> {
    let sources = expand(&args.sources)?;
    let archive = args.archive.clone().unwrap_or_else(|| if db.contains("://") { PathBuf::from("storyline-archive") } else { Path::new(db).join("archive") });
    let mut fetch = FetchConfig { host_delay: args.host_delay, ..FetchConfig::default() };
    if let Some(agent) = args.user_agent {
        fetch.user_agent = agent;
    }
    let fetcher = Arc::new(Fetcher::new(fetch).context("starting the HTTP client")?);
    let mut follow = FollowConfig::new(archive);
    if let Some(every) = args.every {
        follow.every = every;
    }
    let pipeline = Pipeline::new(config, &Quiet);
    let follower = Follower::new(store.as_ref(), pipeline, fetcher, follow).context("opening the archive")?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async {
        loop {
            let summary = follower.poll(&sources, chrono::Utc::now()).await.with_context(|| format!("following into {}", store.describe()))?;
            eprintln!(
                "follow: {} sources polled ({} unchanged, {} failed); {} pages fetched, {} already fetched, {} canonical duplicates, {} page errors ({} from feed text); {} articles added",
                summary.sources_polled,
                summary.unchanged,
                summary.failed,
                summary.pages_fetched,
                summary.already_fetched,
                summary.canonical_duplicates,
                summary.page_errors,
                summary.from_feed_text,
                summary.articles_added
            );
            let Some(every) = args.every else { return Ok(ExitCode::SUCCESS) };
            // Wake for the soonest source due, at most `every` from now.
            let soonest = store.sources()?.iter().filter(|s| sources.contains(&s.url)).filter_map(|s| s.next_poll).min();
            let wait = soonest.and_then(|at| (at - chrono::Utc::now()).to_std().ok()).unwrap_or(Duration::from_secs(1)).min(every);
            tokio::time::sleep(wait.max(Duration::from_millis(200))).await;
        }
    })
}

/// Sources as given, with local OPML files replaced by the feeds they list.
fn expand(given: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for source in given {
        if source.starts_with("http://") || source.starts_with("https://") {
            out.push(source.clone());
            continue;
        }
        let path = Path::new(source);
        if path.is_dir() {
            bail!("{source}: watching folders is not built yet; ingest its files with `storyline ingest`");
        }
        let bytes = std::fs::read(path).with_context(|| format!("{source}: neither an http(s) address nor a readable file"))?;
        let found = listing::read(source, None, &bytes).with_context(|| format!("reading {source}"))?;
        if found.kind != Kind::Opml {
            bail!("{source}: a local file is followed only when it is an OPML list of feeds");
        }
        out.extend(found.sources.iter().map(|u| u.to_string()));
    }
    Ok(out)
}

pub fn list(store: &Arc<dyn Store>, json: bool) -> Result<ExitCode> {
    let sources = store.sources().with_context(|| format!("reading the sources of {}", store.describe()))?;
    let mut out = BufWriter::new(io::stdout().lock());
    let written: io::Result<()> = (|| {
        for s in &sources {
            if json {
                serde_json::to_writer(&mut out, s)?;
                writeln!(out)?;
            } else {
                let when = |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or("-".to_owned(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string());
                let status = s.last_status.map_or("-".to_owned(), |c| c.to_string());
                let kind = serde_json::to_value(s.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                writeln!(
                    out,
                    "{}\t{kind}\tlast {} ({status})\t{} articles\t{} failures\tnext {}",
                    s.url,
                    when(s.last_fetch),
                    s.new_articles,
                    s.failures,
                    when(s.next_poll)
                )?;
                if let Some(e) = &s.last_error {
                    writeln!(out, "\terror: {e}")?;
                }
            }
        }
        out.flush()
    })();
    match written {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e).context("writing output"),
        _ => Ok(ExitCode::SUCCESS),
    }
}
