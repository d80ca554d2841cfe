//! `storyline serve`: a JSON HTTP API (described by `openapi.yaml` at the repository root) and a
//! server-rendered web UI, both over one [`Catalog`] and the store.
//!
//! The store is used behind one mutex (SQLite connections are not shared between threads);
//! listings come from the in-memory catalog and story reports are cached, so the mutex is only
//! taken for cache misses, article pages and writes. Ingesting (`POST /articles`) goes through
//! a hook the binary provides (the same pipeline as `storyline ingest`), then the catalog is
//! rebuilt and the report cache emptied.

mod api;
pub mod catalog;
pub mod guard;
pub mod html;
mod ui;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use storyline_model::StoryReport;
use storyline_store::Store;

pub use catalog::Catalog;
pub use guard::Limits;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] storyline_store::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(
        "refusing to listen on {0} without a token: anyone who can reach it could write into the store. \
         Set one with --token or STORYLINE_TOKEN (for example `export STORYLINE_TOKEN=$(openssl rand -hex 32)`), \
         or listen on a loopback address such as 127.0.0.1"
    )]
    NoToken(SocketAddr),
}

/// Ingests a JSON Lines file into the store (the binary's pipeline); returns a JSON summary.
pub type IngestHook = Arc<dyn Fn(&mut dyn Store, &Path) -> Result<serde_json::Value, String> + Send + Sync>;
/// Writes an export (`articles`, `copies`, `stories`, `entities`, `quotes`, `figures`) as CSV
/// (`true`) or JSON Lines.
pub type ExportHook = Arc<dyn Fn(&dyn Store, &str, bool, &mut dyn std::io::Write) -> Result<(), String> + Send + Sync>;

/// What the binary plugs in.
#[derive(Clone)]
pub struct Hooks {
    pub ingest: IngestHook,
    pub export: ExportHook,
}

/// Reports kept in memory at most.
const REPORT_CACHE: usize = 4096;

pub struct AppState {
    store: Mutex<Box<dyn Store + Send>>,
    catalog: RwLock<Arc<Catalog>>,
    reports: Mutex<HashMap<String, Arc<StoryReport>>>,
    hooks: Hooks,
    limits: Limits,
}

pub type Shared = Arc<AppState>;

impl AppState {
    pub fn new(store: Box<dyn Store + Send>, hooks: Hooks, limits: Limits) -> Result<Shared, Error> {
        let catalog = Catalog::load(store.as_ref())?;
        Ok(Arc::new(AppState { store: Mutex::new(store), catalog: RwLock::new(Arc::new(catalog)), reports: Mutex::new(HashMap::new()), hooks, limits }))
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn with_store<T>(&self, f: impl FnOnce(&mut dyn Store) -> T) -> T {
        let mut guard = self.store.lock().unwrap_or_else(|p| p.into_inner());
        f(guard.as_mut())
    }

    /// A story's report, from the cache or computed.
    pub fn report(&self, id: &str) -> Result<Option<Arc<StoryReport>>, Error> {
        if let Some(r) = self.reports.lock().unwrap_or_else(|p| p.into_inner()).get(id) {
            return Ok(Some(r.clone()));
        }
        let catalog = self.catalog();
        let Some(report) = self.with_store(|s| catalog.report(s, id))? else { return Ok(None) };
        let report = Arc::new(report);
        let mut cache = self.reports.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= REPORT_CACHE {
            cache.clear();
        }
        cache.insert(id.to_string(), report.clone());
        Ok(Some(report))
    }

    /// Ingests, then rebuilds the catalog and forgets cached reports.
    fn ingest(&self, path: &Path) -> Result<serde_json::Value, String> {
        self.with_store(|s| {
            let summary = (self.hooks.ingest)(s, path)?;
            let catalog = Catalog::load(s).map_err(|e| e.to_string())?;
            *self.catalog.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(catalog);
            self.reports.lock().unwrap_or_else(|p| p.into_inner()).clear();
            Ok(summary)
        })
    }
}

/// All routes: the JSON API and the web UI, behind the guards of [`guard`].
pub fn router(state: Shared) -> axum::Router {
    use axum::middleware::{from_fn, from_fn_with_state};
    api::routes()
        .merge(ui::routes())
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
    let listener = tokio::net::TcpListener::bind(addr).await?;
    on_ready(listener.local_addr()?);
    let limits = state.limits.clone();
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
    // Let the connections finish their requests in flight.
    let _ = stop_tx.send(true);
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
