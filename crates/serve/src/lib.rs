//! `storyline serve`: a JSON HTTP API (described by `openapi.yaml` at the repository root) and a
//! server-rendered web UI, both over one [`Catalog`] and the store.
//!
//! The read model follows the store: a follower thread looks at the store's change feed every
//! `follow_interval_ms` and, when anything changed (an ingest by this server, the CLI, or any
//! other process), builds a new catalog beside the old one and swaps it in. Requests never wait
//! for that: they read whichever catalog is current. The store itself is shared by all request
//! threads (its writes and reads are safe from any number of threads). `POST /articles` runs
//! the same pipeline as `storyline ingest` and refreshes the catalog before it answers.

mod api;
pub mod catalog;
pub mod events;
pub mod guard;
pub mod html;
mod stream;
mod ui;
mod watch;

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use storyline_model::StoryReport;
use storyline_pipeline::{Config, IngestSummary, Pipeline, Quiet};
use storyline_store::{Head, Store};

pub use catalog::Catalog;
pub use guard::Limits;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] storyline_store::Error),
    #[error(transparent)]
    Pipeline(#[from] storyline_pipeline::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The address is taken (or not ours to take).
    #[error("cannot listen on {0}: {1}; is another server listening there? Choose another --addr")]
    Bind(SocketAddr, std::io::Error),
    #[error(
        "refusing to listen on {0} without a token: anyone who can reach it could write into the store. \
         Set one with --token or STORYLINE_TOKEN (for example `export STORYLINE_TOKEN=$(openssl rand -hex 32)`), \
         or listen on a loopback address such as 127.0.0.1"
    )]
    NoToken(SocketAddr),
}

/// Writes an export (`articles`, `copies`, `stories`, `entities`, `quotes`, `figures`) as CSV
/// (`true`) or JSON Lines.
pub type ExportHook = Arc<dyn Fn(&dyn Store, &str, bool, &mut dyn std::io::Write) -> Result<(), String> + Send + Sync>;

/// What the binary plugs in.
#[derive(Clone)]
pub struct Hooks {
    pub export: ExportHook,
}

pub struct AppState {
    store: Arc<dyn Store>,
    catalog: RwLock<Arc<Catalog>>,
    /// The change-feed head the current catalog's story tier reflects, and its entity tier.
    seen: Mutex<Head>,
    /// The head the entity tier reflects, when it was resolved and what that cost.
    entities_seen: Mutex<(Head, std::time::Instant, Duration)>,
    /// One catalog build at a time.
    building: Mutex<()>,
    reports: Mutex<lru::LruCache<String, Arc<StoryReport>>>,
    hooks: Hooks,
    limits: Limits,
    config: Config,
    /// What each refresh changed, for `GET /events` and the live pages.
    pub events: events::Events,
    /// Set when the server stops, so that event streams end.
    closing: tokio::sync::watch::Sender<bool>,
    /// Event streams open now.
    streams: std::sync::atomic::AtomicUsize,
}

pub type Shared = Arc<AppState>;

/// How many recent events a server keeps for clients that reconnect, and that a live client
/// may fall behind by (one refresh after a large batch makes an event per article and per
/// story it touched: a follower's wave of 128 feeds brings up to a few thousand of each).
const EVENTS_KEPT: usize = 16_384;
/// Articles read per store call when their events are made.
const EVENT_PAGE: usize = 256;

impl AppState {
    pub fn new(store: Arc<dyn Store>, hooks: Hooks, limits: Limits, config: Config) -> Result<Shared, Error> {
        let head = store.head()?;
        let catalog = Catalog::load(store.as_ref())?;
        let cache = NonZeroUsize::new(config.serve.report_cache.max(1)).unwrap_or(NonZeroUsize::MIN);
        Ok(Arc::new(AppState {
            store,
            catalog: RwLock::new(Arc::new(catalog)),
            seen: Mutex::new(head),
            entities_seen: Mutex::new((head, std::time::Instant::now(), Duration::ZERO)),
            building: Mutex::new(()),
            reports: Mutex::new(lru::LruCache::new(cache)),
            hooks,
            limits,
            config,
            events: events::Events::new(EVENTS_KEPT),
            closing: tokio::sync::watch::channel(false).0,
            streams: std::sync::atomic::AtomicUsize::new(0),
        }))
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// A story's report, from the cache or computed.
    pub fn report(&self, id: &str) -> Result<Option<Arc<StoryReport>>, Error> {
        if let Some(r) = self.reports.lock().unwrap_or_else(|p| p.into_inner()).get(id) {
            return Ok(Some(r.clone()));
        }
        let catalog = self.catalog();
        let Some(report) = catalog.report(self.store(), id)? else { return Ok(None) };
        let report = Arc::new(report);
        self.reports.lock().unwrap_or_else(|p| p.into_inner()).put(id.to_string(), report.clone());
        Ok(Some(report))
    }

    fn swap(&self, catalog: Catalog) {
        *self.catalog.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(catalog);
        self.reports.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Brings the story tier of the read model up to the store's head: when anything was
    /// written since, applies the story changes since the last head seen to the catalog (the
    /// entity tier is kept: see [`AppState::refresh_entities`]) and swaps the new catalog in;
    /// readers keep the old one meanwhile. Cached reports are forgotten. Returns whether
    /// anything changed.
    pub fn refresh(&self) -> Result<bool, Error> {
        let _one = self.building.lock().unwrap_or_else(|p| p.into_inner());
        let head = self.store.head()?;
        let seen = *self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if head == seen {
            return Ok(false);
        }
        // Articles another process stored (and, for PostgreSQL, this reader's own index).
        self.store.sync_index(false)?;
        // The head was read first: every story write it covers is in these changes.
        let changes = self.store.story_changes(seen.changes)?;
        let old = self.catalog();
        let catalog = old.apply(self.store(), &changes)?;
        let mut happened = self.stored_since(seen.articles, head.articles)?;
        happened.extend(events::story_events(&old, &catalog, &changes));
        self.swap(catalog);
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = head;
        self.events.publish(happened);
        Ok(true)
    }

    /// An event for each article stored after sequence number `after`, up to `upto`.
    fn stored_since(&self, mut after: i64, upto: i64) -> Result<Vec<events::Event>, Error> {
        let mut out = Vec::new();
        while after < upto {
            let page = self.store.articles_after(after, EVENT_PAGE)?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            out.extend(page.iter().filter(|a| a.seq <= upto).map(events::article_event));
        }
        Ok(out)
    }

    /// A receiver that sees `true` when the server stops.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Resolves entities across the store anew, when anything was written since the last
    /// resolution. The costly part runs without holding up [`AppState::refresh`].
    pub fn refresh_entities(&self) -> Result<bool, Error> {
        let head = self.store.head()?;
        if head == self.entities_seen.lock().unwrap_or_else(|p| p.into_inner()).0 {
            return Ok(false);
        }
        let started = std::time::Instant::now();
        let tier = Arc::new(catalog::EntityTier::load(self.store())?);
        let _one = self.building.lock().unwrap_or_else(|p| p.into_inner());
        // The story tier stays the one the follower applied (see `Catalog::with_tier`): the
        // story changes since are left to `refresh`, which turns them into events.
        let catalog = self.catalog().with_tier(tier);
        self.swap(catalog);
        *self.entities_seen.lock().unwrap_or_else(|p| p.into_inner()) = (head, std::time::Instant::now(), started.elapsed());
        Ok(true)
    }

    /// Follows the change feed on threads of their own until the state is dropped: the story
    /// tier at every change (`follow`); the entity tier (`resolve`) once the store was quiet for
    /// a follow interval, or at the latest 30 s after the last resolution, and never sooner
    /// than four times the last resolution took after it (so that resolving, which reads the
    /// whole store, takes at most a fifth of a core however often sources bring articles).
    pub fn follow(self: &Arc<Self>) {
        let weak: Weak<AppState> = Arc::downgrade(self);
        let every = Duration::from_millis(self.config.serve.follow_interval_ms.max(10));
        std::thread::Builder::new()
            .name("follow".into())
            .spawn(move || {
                // A reader's own index (PostgreSQL) is brought up to date once, in the
                // background; after that each refresh indexes what the change brought.
                if let Some(state) = weak.upgrade() {
                    if let Err(e) = state.store.sync_index(false) {
                        eprintln!("warning: indexing {}: {e}", state.store.describe());
                    }
                }
                loop {
                    std::thread::sleep(every);
                    let Some(state) = weak.upgrade() else { return };
                    if let Err(e) = state.refresh() {
                        eprintln!("warning: following {}: {e}", state.store.describe());
                    }
                }
            })
            .expect("spawning the follower thread");
        let weak: Weak<AppState> = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("resolve".into())
            .spawn(move || {
                let mut last_head = None;
                let mut quiet_since = std::time::Instant::now();
                loop {
                    std::thread::sleep(every);
                    let Some(state) = weak.upgrade() else { return };
                    let Ok(head) = state.store.head() else { continue };
                    if last_head != Some(head) {
                        last_head = Some(head);
                        quiet_since = std::time::Instant::now();
                    }
                    let (seen, at, cost) = *state.entities_seen.lock().unwrap_or_else(|p| p.into_inner());
                    let due = quiet_since.elapsed() >= every || at.elapsed() > Duration::from_secs(30);
                    if head != seen && due && at.elapsed() >= cost.saturating_mul(4) {
                        if let Err(e) = state.refresh_entities() {
                            eprintln!("warning: resolving entities in {}: {e}", state.store.describe());
                        }
                    }
                }
            })
            .expect("spawning the resolver thread");
    }

    /// Ingests a JSON Lines file through the pipeline, then refreshes the read model.
    /// Posted articles are named `POST /articles#N` (N: their place in the request), not by
    /// the file they pass through.
    fn ingest(&self, path: &Path) -> Result<IngestSummary, Error> {
        let file = std::fs::File::open(path).map_err(storyline_pipeline::Error::Stdin)?;
        let inputs = storyline_pipeline::read::Inputs::spooled("POST /articles".into(), file).map_err(storyline_pipeline::Error::Stdin)?;
        let summary = Pipeline::new(&self.config, &Quiet).ingest(self.store(), &inputs)?;
        self.refresh()?;
        Ok(summary)
    }
}

/// All routes: the JSON API and the web UI, behind the guards of [`guard`].
pub fn router(state: Shared) -> axum::Router {
    use axum::middleware::{from_fn, from_fn_with_state};
    api::routes()
        .merge(ui::routes())
        .merge(watch::routes())
        .method_not_allowed_fallback(|| async {
            api::ApiError {
                status: axum::http::StatusCode::METHOD_NOT_ALLOWED,
                code: "method_not_allowed",
                message: "this endpoint does not take that method (see openapi.yaml)".into(),
            }
        })
        .layer(from_fn_with_state(state.clone(), guard::time_limit))
        .layer(from_fn(guard::headers))
        .layer(from_fn(guard::json_errors))
        .with_state(state)
}

/// Serves until Ctrl-C or SIGTERM, then finishes the requests in flight. Refuses an address
/// beyond loopback when no token is set. Each connection has the header and idle timeout of
/// [`Limits`], and at most `max_connections` are served at once.
pub async fn serve(state: Shared, addr: SocketAddr, on_ready: impl FnOnce(SocketAddr)) -> Result<(), Error> {
    if !addr.ip().is_loopback() && state.limits.token.is_none() {
        return Err(Error::NoToken(addr));
    }
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| Error::Bind(addr, e))?;
    on_ready(listener.local_addr()?);
    let limits = state.limits.clone();
    let kept = state.clone();
    let app = router(state);
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stop = shutdown();
    tokio::pin!(stop);
    loop {
        let permit = tokio::select! {
            p = connections.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = &mut stop => break,
        };
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors and the like: wait a little rather than spin.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let mut stop_rx = stop_rx.clone();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(header_timeout).keep_alive(true);
            let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop_rx.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    // Let the connections finish their requests in flight; event streams end.
    let _ = stop_tx.send(true);
    let _ = kept.closing.send(true);
    let all = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(limits.request_timeout, connections.acquire_many(all)).await;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
