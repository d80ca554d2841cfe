//! The one `Config`: every tuned constant of the pipeline and server, with its default, read
//! from an optional `storyline.toml` and overridden by the command line.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Everything a run can tune. Unknown keys are an error (a misspelt key must not be ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub read: ReadConfig,
    pub batches: Batches,
    pub serve: ServeConfig,
    pub ner: NerConfig,
}

/// Named entities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct NerConfig {
    /// Folder of the MiniLM model whose tag scores join the tagger's (`scripts/setup-encoder.sh`
    /// installs it in `models/all-MiniLM-L6-v2`); empty: the tagger alone. About 1 point of F1
    /// on news, at a fraction of the speed (see README, Named entities).
    pub encoder: PathBuf,
}

impl NerConfig {
    /// The encoder's folder, when one is set.
    pub fn encoder_dir(&self) -> Option<&Path> {
        (!self.encoder.as_os_str().is_empty()).then_some(self.encoder.as_path())
    }
}

/// Limits on what is read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReadConfig {
    /// Largest document kept, in bytes; longer ones are cut (with a warning).
    pub max_document_bytes: usize,
    /// Most bytes read from standard input; it is spooled to an unlinked temporary file.
    pub max_stdin_bytes: u64,
    /// Documents extracted in parallel (0: all cores).
    pub jobs: usize,
}

/// Batch sizes: each batch is one transaction or one parallel round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Batches {
    /// Documents extracted together, and their bytes at most (one document may pass it alone).
    pub extract_documents: usize,
    pub extract_bytes: usize,
    /// Articles stored per transaction, and their bytes of text at most.
    pub store_articles: usize,
    pub store_bytes: usize,
    /// Articles checked for copies per round trip to the store.
    pub copy_check: usize,
    /// Articles clustered together (larger batches depend less on input order).
    pub story: usize,
    /// Articles whose facts are found per transaction.
    pub facts: usize,
    /// Earlier members of its story a new article is checked against for a rewrite.
    pub rewrite_peers: usize,
}

/// The server's limits and how it follows the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// Seconds a client has to send a request's headers (or start its next request).
    pub header_timeout_secs: u64,
    /// Seconds a request may take, its body included.
    pub request_timeout_secs: u64,
    pub max_connections: usize,
    pub max_body_bytes: usize,
    /// How often the server looks at the store's change feed, in milliseconds.
    pub follow_interval_ms: u64,
    /// Story reports kept in memory (least recently used go first).
    pub report_cache: usize,
}

impl Default for ReadConfig {
    fn default() -> Self {
        ReadConfig { max_document_bytes: storyline_ingest::ReadConfig::default().max_document_bytes, max_stdin_bytes: 1 << 30, jobs: 0 }
    }
}

impl Default for Batches {
    fn default() -> Self {
        Batches {
            extract_documents: 64,
            extract_bytes: 32 << 20,
            store_articles: 256,
            store_bytes: 64 << 20,
            copy_check: 256,
            story: 4096,
            facts: 1024,
            rewrite_peers: 64,
        }
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            header_timeout_secs: 10,
            request_timeout_secs: 120,
            max_connections: 256,
            max_body_bytes: 2 << 20,
            follow_interval_ms: 250,
            report_cache: 4096,
        }
    }
}

#[allow(clippy::derivable_impls)]
impl Default for Config {
    fn default() -> Self {
        Config { read: ReadConfig::default(), batches: Batches::default(), serve: ServeConfig::default(), ner: NerConfig::default() }
    }
}

/// A config file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
}

impl Config {
    /// The file's settings over the defaults: `path` when given (it must exist), else
    /// `storyline.toml` in the working directory when there is one.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from("storyline.toml"), false),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        Config::parse(&text).map_err(|message| ConfigError::Parse { path, message })
    }

    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim().to_owned())
    }

    /// Threads for extraction.
    pub fn jobs(&self) -> usize {
        match self.read.jobs {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_overrides_defaults_and_misspelt_keys_are_errors() {
        let c = Config::parse("[batches]\nstory = 100\n[serve]\nmax_connections = 8\n").unwrap();
        assert_eq!(c.batches.story, 100);
        assert_eq!(c.serve.max_connections, 8);
        assert_eq!(c.batches.facts, Batches::default().facts);
        let err = Config::parse("[batches]\nstorry = 100\n").unwrap_err();
        assert!(err.contains("storry"), "{err}");
        assert!(Config::parse("[batches]\nstory = \"many\"\n").is_err());
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }

    #[test]
    fn the_example_file_lists_the_defaults() {
        let example = include_str!("../../../storyline.example.toml");
        assert_eq!(Config::parse(example).unwrap(), Config::default());
        let keys = example.lines().filter(|l| l.contains(" = ")).count();
        let fields = toml::to_string(&Config::default()).unwrap().lines().filter(|l| l.contains(" = ")).count();
        assert_eq!(keys, fields, "every key is in the example");
    }
}
