//! `storyline follow` and `storyline sources`: glue between the command line and
//! `storyline_follow::Follower`.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use storyline_follow::fetch::{FetchConfig, Fetcher};
use storyline_follow::folder::{self, FolderConfig};
use storyline_follow::follower::{FollowConfig, Follower};
use storyline_follow::listing::{self, Kind};
use storyline_pipeline::{Config, Pipeline, Quiet};
use storyline_store::Store;

pub struct Args {
    pub every: Option<Duration>,
    pub archive: Option<PathBuf>,
    pub user_agent: Option<String>,
    pub host_delay: Duration,
    pub rate: u32,
    pub sources: Vec<String>,
    /// New pages go to this work queue instead of the pipeline.
    pub queue: Option<String>,
}

/// `storyline follow`: polls once (without `--every`) or until stopped; a poll that cannot
/// store ends the command.
pub fn run(store: &Arc<dyn Store>, db: &str, config: &Config, args: Args) -> Result<ExitCode> {
    follow(store, db, config, args, false)
}

/// `storyline serve --follow`: the same follower on a thread of its own beside the server,
/// polling every `--every` (default 5 minutes); a poll that fails is reported and tried again.
pub fn spawn(store: Arc<dyn Store>, db: String, config: Config, mut args: Args) -> Result<()> {
    args.every = Some(args.every.unwrap_or(Duration::from_secs(300)));
    // Bad sources are refused before the server starts.
    expand(&args.sources)?;
    std::thread::Builder::new()
        .name("follow-sources".into())
        .spawn(move || {
            if let Err(e) = follow(&store, &db, &config, args, true) {
                eprintln!("error: following sources stopped: {e:#}");
            }
        })
        .context("starting the follower")?;
    Ok(())
}

/// Checks the store's alerts every `every` on a thread of its own, for as long as the process
/// runs (beside `storyline serve`).
pub fn spawn_alerts(store: Arc<dyn Store>, every: Duration) -> Result<()> {
    let alerter = storyline_alert::Alerter::new(store, storyline_alert::AlertConfig::default())?;
    std::thread::Builder::new()
        .name("alerts".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                eprintln!("error: alerts: cannot start a runtime");
                return;
            };
            runtime.block_on(async {
                loop {
                    tokio::time::sleep(every).await;
                    check_alerts(&alerter).await;
                }
            })
        })
        .context("starting the alert checker")?;
    Ok(())
}

/// One run of the alerter, said on stderr when it did anything.
async fn check_alerts(alerter: &storyline_alert::Alerter) {
    match alerter.run(chrono::Utc::now()).await {
        Ok(s) if s.reported + s.delivered + s.failed > 0 => eprintln!("alerts: {} new reports, {} delivered, {} failed", s.reported, s.delivered, s.failed),
        Ok(_) => {}
        Err(e) => eprintln!("warning: checking alerts: {e}"),
    }
}

fn follow(store: &Arc<dyn Store>, db: &str, config: &Config, args: Args, keep_going: bool) -> Result<ExitCode> {
    let (sources, folders) = expand(&args.sources)?;
    let archive = args.archive.clone().unwrap_or_else(|| if db.contains("://") { PathBuf::from("storyline-archive") } else { Path::new(db).join("archive") });
    let mut fetch = FetchConfig { host_delay: args.host_delay, requests_per_second: args.rate, ..FetchConfig::default() };
    if let Some(agent) = args.user_agent {
        fetch.user_agent = agent;
    }
    let fetcher = Arc::new(Fetcher::new(fetch).context("starting the HTTP client")?);
    let mut follow = FollowConfig::new(archive);
    if let Some(every) = args.every {
        follow.every = every;
    }
    let pipeline = Pipeline::new(config, &Quiet);
    let publisher = match &args.queue {
        Some(url) => Some(storyline_queue::Publisher::connect(storyline_queue::QueueConfig::new(url.as_str()), config.clone())?),
        None => None,
    };
    let mut follower = Follower::new(store.as_ref(), pipeline, fetcher, follow).context("opening the archive")?;
    if let Some(p) = &publisher {
        follower = follower.through(p);
    }
    let folder_config = FolderConfig::default();
    let wake = Arc::new(tokio::sync::Notify::new());
    // Folders are watched only when followed over time.
    let _watcher = match (&args.every, folders.is_empty()) {
        (Some(_), false) => Some(folder::watch(&folders, wake.clone()).context("watching the folders")?),
        _ => None,
    };
    // Alerts are checked after each poll (beside a server, the server checks them).
    let alerter = if keep_going { None } else { Some(storyline_alert::Alerter::new(store.clone(), storyline_alert::AlertConfig::default())?) };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async {
        loop {
            let mut settling = 0;
            if !sources.is_empty() {
                match follower.poll(&sources, chrono::Utc::now()).await {
                    Ok(summary) => eprintln!(
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
                    ),
                    Err(e) if keep_going => eprintln!("warning: following into {}: {e}", store.describe()),
                    Err(e) => return Err(e).with_context(|| format!("following into {}", store.describe())),
                }
            }
            for dir in &folders {
                match follower.look(dir, &folder_config, chrono::Utc::now()) {
                    Ok(look) => {
                        settling += look.settling;
                        if look.new_files > 0 || look.errors > 0 {
                            eprintln!(
                                "follow: {}: {} new files of {}, {} articles added, {} errors",
                                dir.display(),
                                look.new_files,
                                look.files,
                                look.articles_added,
                                look.errors
                            );
                        }
                    }
                    Err(e) if keep_going => eprintln!("warning: ingesting {}: {e}", dir.display()),
                    Err(e) => return Err(e).with_context(|| format!("ingesting {}", dir.display())),
                }
            }
            if let Some(alerter) = &alerter {
                check_alerts(alerter).await;
            }
            let Some(every) = args.every else { return Ok(ExitCode::SUCCESS) };
            // Wake for the soonest source due, at most `every` from now; sooner for files
            // still being written; at once when a watched folder changes.
            let soonest = storyline_store::blocking(|| store.sources())?.iter().filter(|s| sources.contains(&s.url)).filter_map(|s| s.next_poll).min();
            let mut wait = soonest.and_then(|at| (at - chrono::Utc::now()).to_std().ok()).unwrap_or(Duration::from_secs(1)).min(every);
            if settling > 0 {
                wait = wait.min(folder_config.settle + Duration::from_millis(100));
            }
            tokio::select! {
                _ = tokio::time::sleep(wait.max(Duration::from_millis(200))) => {}
                _ = wake.notified() => {
                    // Let a burst of writes finish before looking.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            }
        }
    })
}

/// Sources as given, with local OPML files replaced by the feeds they list; folders apart.
fn expand(given: &[String]) -> Result<(Vec<String>, Vec<PathBuf>)> {
    let mut out = Vec::new();
    let mut folders = Vec::new();
    for source in given {
        if source.starts_with("http://") || source.starts_with("https://") {
            out.push(source.clone());
            continue;
        }
        let path = Path::new(source);
        if path.is_dir() {
            folders.push(std::fs::canonicalize(path).with_context(|| format!("{source}: cannot resolve the folder"))?);
            continue;
        }
        let bytes = std::fs::read(path).with_context(|| format!("{source}: neither an http(s) address, a folder nor a readable file"))?;
        let found = listing::read(source, None, &bytes).with_context(|| format!("reading {source}"))?;
        if found.kind != Kind::Opml {
            bail!("{source}: a local file is followed only when it is an OPML list of feeds (to read a file once, `storyline ingest` it)");
        }
        out.extend(found.sources.iter().map(|u| u.to_string()));
    }
    Ok((out, folders))
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
