//! Watched folders: files that appear in a folder (written by a scraper, a download, another
//! tool) go through the pipeline once each. A file is known by its path, length and
//! modification time, kept in the store as the folder's fetched pages, so a restart ingests
//! only what arrived meanwhile, and a file rewritten in place is read again (its articles are
//! recognised by id when they did not change). A file modified less than
//! [`FolderConfig::settle`] ago may still be being written: it waits for the next look.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use storyline_model::{SourceKind, SourceState};

use crate::follower::{FollowError, Follower};

/// How folders are read.
#[derive(Debug, Clone)]
pub struct FolderConfig {
    /// A file modified more recently than this is left for the next look.
    pub settle: Duration,
    /// Files looked at per folder at most (deeper or further files wait).
    pub max_files: usize,
    /// Files ingested per look at most.
    pub max_per_look: usize,
}

impl Default for FolderConfig {
    fn default() -> FolderConfig {
        FolderConfig { settle: Duration::from_secs(1), max_files: 200_000, max_per_look: 10_000 }
    }
}

/// The source name of a watched folder (its absolute path).
pub fn source_name(dir: &Path) -> String {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    format!("folder:{}", dir.display())
}

/// What one look at a folder did.
#[derive(Debug, Clone, Default)]
pub struct FolderSummary {
    pub files: usize,
    pub new_files: usize,
    /// Files still being written (modified within the settle time).
    pub settling: usize,
    pub articles_added: usize,
    pub errors: usize,
}

/// Each file under `dir` (hidden files and folders skipped), with its key.
fn files(dir: &Path, max: usize, settle: Duration, now: SystemTime) -> std::io::Result<(Vec<(PathBuf, String)>, usize)> {
    let mut out = Vec::new();
    let mut settling = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            // The folder itself must be readable; a subfolder that vanished is skipped.
            Err(e) if d == dir => return Err(e),
            Err(_) => continue,
        };
        for entry in entries.flatten() {
            if out.len() >= max {
                return Ok((out, settling));
            }
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            let path = entry.path();
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                if now.duration_since(modified).unwrap_or_default() < settle {
                    settling += 1;
                    continue;
                }
                let stamp = modified.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
                let key = format!("file://{}#{}-{stamp}", path.display(), meta.len());
                out.push((path, key));
            }
        }
    }
    out.sort();
    Ok((out, settling))
}

impl Follower<'_> {
    /// Ingests the files of `dir` that were not ingested before, and records them with the
    /// folder's state.
    pub fn look(&self, dir: &Path, config: &FolderConfig, now: DateTime<Utc>) -> Result<FolderSummary, FollowError> {
        let name = source_name(dir);
        let mut state =
            storyline_store::blocking(|| self.store.sources())?.into_iter().find(|s| s.url == name).unwrap_or_else(|| SourceState::new(name.clone()));
        state.kind = SourceKind::Folder;
        state.last_fetch = Some(now);
        let mut summary = FolderSummary::default();
        let listed = match files(dir, config.max_files, config.settle, SystemTime::now()) {
            Ok(l) => l,
            Err(e) => {
                state.failures += 1;
                state.last_error = Some(format!("{}: {e}", dir.display()));
                storyline_store::blocking(|| self.store.put_source(&state, &[]))?;
                summary.errors += 1;
                return Ok(summary);
            }
        };
        let (all, settling) = listed;
        summary.files = all.len();
        summary.settling = settling;
        let keys: Vec<String> = all.iter().map(|(_, k)| k.clone()).collect();
        let done = storyline_store::blocking(|| self.store.fetched_pages(&keys))?;
        let new: Vec<&(PathBuf, String)> = all.iter().filter(|(_, k)| !done.contains(k)).take(config.max_per_look).collect();
        summary.new_files = new.len();
        state.entries_seen = summary.files as u64;
        state.failures = 0;
        state.last_error = None;
        if !new.is_empty() {
            let paths: Vec<PathBuf> = new.iter().map(|(p, _)| p.clone()).collect();
            let inputs = storyline_pipeline::prepare(&paths, 0).map_err(storyline_pipeline::Error::Stdin)?;
            let ingested = storyline_store::blocking(|| self.ingestor().ingest(self.store, &inputs))?;
            summary.articles_added = ingested.added;
            summary.errors = ingested.errors;
            state.new_articles += ingested.added as u64;
            if ingested.errors > 0 {
                state.last_error = Some(format!("{} of {} new files could not be read (see the follower's log)", ingested.errors, new.len()));
            }
        }
        let marked: Vec<String> = new.iter().map(|(_, k)| k.clone()).collect();
        storyline_store::blocking(|| self.store.put_source(&state, &marked))?;
        Ok(summary)
    }
}

/// Watches `dirs` (recursively): `wake` is notified whenever anything changes under them.
/// Notifications coalesce, so a burst of files costs one look. Keep the watcher alive for as
/// long as the folders are followed.
pub fn watch(dirs: &[PathBuf], wake: std::sync::Arc<tokio::sync::Notify>) -> notify::Result<notify::RecommendedWatcher> {
    use notify::Watcher;
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            wake.notify_one();
        }
    })?;
    for dir in dirs {
        watcher.watch(dir, notify::RecursiveMode::Recursive)?;
    }
    Ok(watcher)
}
