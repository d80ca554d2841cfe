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
pub mod html;
mod ui;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use storyline_model::StoryReport;
use storyline_store::Store;

pub use catalog::Catalog;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] storyline_store::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
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
}

pub type Shared = Arc<AppState>;

impl AppState {
    pub fn new(store: Box<dyn Store + Send>, hooks: Hooks) -> Result<Shared, Error> {
        let catalog = Catalog::load(store.as_ref())?;
        Ok(Arc::new(AppState { store: Mutex::new(store), catalog: RwLock::new(Arc::new(catalog)), reports: Mutex::new(HashMap::new()), hooks }))
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

/// All routes: the JSON API and the web UI.
pub fn router(state: Shared) -> axum::Router {
    api::routes().merge(ui::routes()).with_state(state)
}

/// Serves until Ctrl-C or SIGTERM, then finishes the requests in flight.
pub async fn serve(state: Shared, addr: SocketAddr, on_ready: impl FnOnce(SocketAddr)) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    on_ready(listener.local_addr()?);
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown()).await?;
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
