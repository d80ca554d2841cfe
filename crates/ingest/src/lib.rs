//! Readers for every input Storyline takes. Paths (files, directories, `-` for stdin) become a
//! stream of [`RawDocument`]s and [`InputWarning`]s; nothing here extracts or cleans.
//!
//! Architecture invariant: a bad input never stops the batch. Every problem becomes an
//! [`InputWarning`] naming the input (file, line or record) and reading goes on with the next
//! document or input. Memory is bounded by [`ReadConfig::max_document_bytes`] per document,
//! whatever the size of the input.

mod decode;
mod feed;
mod jsonl;
mod sniff;
mod warc;

use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

use storyline_model::{Body, Hints, InputFormat, RawDocument};

pub use decode::{decode, Decoded};
pub use sniff::{sniff, Sniffed};

/// How inputs are read.
#[derive(Debug, Clone)]
pub struct ReadConfig {
    /// Largest document kept, in bytes; longer documents are cut there (with a warning) so that
    /// memory stays bounded on huge inputs.
    pub max_document_bytes: usize,
    /// Read only inputs that can hold scraped text (skip HTML pages and WARC files after
    /// sniffing them, silently). The corpus-statistics pass needs nothing else.
    pub text_only: bool,
}

impl Default for ReadConfig {
    fn default() -> Self {
        ReadConfig { max_document_bytes: 8 * 1024 * 1024, text_only: false }
    }
}

/// One input named on the command line, after directories were expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    File(PathBuf),
}

/// How bad a problem with an input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The document was kept, maybe degraded (guessed charset, replaced bytes).
    Warning,
    /// Something in the input was lost or skipped: the run failed for that part.
    Error,
}

/// A problem with one input, naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputWarning {
    /// File name, plus `#N` for a line or record inside it.
    pub input: String,
    pub message: String,
    pub severity: Severity,
}

impl std::fmt::Display for InputWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{level}: {}: {}", self.input, self.message)
    }
}

/// What readers emit, in input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Document(RawDocument),
    Warning(InputWarning),
}

/// Expands command-line paths into inputs: `-` is stdin, directories are walked recursively in
/// name order (hidden entries skipped), missing paths become errors.
pub fn expand_inputs(paths: &[PathBuf]) -> (Vec<Input>, Vec<InputWarning>) {
    let mut inputs = Vec::new();
    let mut warnings = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(Input::Stdin);
        } else {
            walk(path, &mut inputs, &mut warnings);
        }
    }
    (inputs, warnings)
}

fn walk(path: &Path, inputs: &mut Vec<Input>, warnings: &mut Vec<InputWarning>) {
    // Symbolic links are followed (a linked folder of feeds is common); walkdir reports a link
    // back up the tree as a loop instead of going round in circles.
    let entries = walkdir::WalkDir::new(path)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in entries {
        match entry {
            Ok(e) if e.file_type().is_file() => inputs.push(Input::File(e.into_path())),
            Ok(e) if e.file_type().is_dir() => {}
            Ok(e) => warnings.push(InputWarning {
                input: e.path().display().to_string(),
                message: "not a regular file or directory; skipped".to_owned(),
                severity: Severity::Error,
            }),
            Err(e) => {
                let input = e.path().unwrap_or(path).display().to_string();
                let (message, severity) = match (e.loop_ancestor(), e.io_error()) {
                    (Some(_), _) => ("directory already visited (symbolic link loop); skipped".to_owned(), Severity::Warning),
                    (None, Some(io)) if e.depth() == 0 => (format!("cannot read: {io}"), Severity::Error),
                    (None, Some(io)) => (format!("cannot list or read: {io}"), Severity::Error),
                    (None, None) => (e.to_string(), Severity::Error),
                };
                warnings.push(InputWarning { input, message, severity });
            }
        }
    }
}

/// Reads a byte stream named `name`: undoes gzip, sniffs the format from the content, and
/// dispatches to the reader for that format.
pub fn read_stream(name: &str, reader: impl Read, config: &ReadConfig, emit: &mut dyn FnMut(Item)) {
    let warn = |emit: &mut dyn FnMut(Item), severity, message: String| emit(Item::Warning(InputWarning { input: name.to_owned(), message, severity }));
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let (head, error) = read_up_to(&mut reader, 2);
    if let Some(e) = error {
        return warn(emit, Severity::Error, format!("cannot read: {e}"));
    }
    let is_gzip = head.starts_with(&[0x1f, 0x8b]);
    let named_gzip = [".gz", ".gzip", ".tgz"].iter().any(|ext| name.to_ascii_lowercase().ends_with(ext));
    if named_gzip && !is_gzip && !head.is_empty() {
        warn(emit, Severity::Warning, "named like a gzip file but not gzip-compressed; read as it is".to_owned());
    }
    let stream: Box<dyn Read> = if is_gzip {
        Box::new(GzipErrors(flate2::read::MultiGzDecoder::new(Cursor::new(head).chain(reader))))
    } else {
        Box::new(Cursor::new(head).chain(reader))
    };
    let mut stream = BufReader::with_capacity(64 * 1024, stream);
    let (head, error) = read_up_to(&mut stream, sniff::SNIFF_BYTES);
    let stream: Box<dyn Read> = match error {
        None => Box::new(stream),
        Some(e) if head.is_empty() => return warn(emit, Severity::Error, format!("cannot read: {e}")),
        Some(e) => {
            // Keep what could be read before a corrupt or truncated part.
            warn(emit, Severity::Error, format!("read failed after {} bytes; keeping what came before: {e}", head.len()));
            Box::new(io::empty())
        }
    };
    let kind = sniff(&head);
    let stream = BufReader::with_capacity(64 * 1024, Cursor::new(head).chain(stream));
    if kind == Sniffed::Empty {
        return warn(emit, Severity::Error, if is_gzip { "empty gzip stream; nothing to read".into() } else { "empty file; nothing to read".into() });
    }
    read_as(kind, name, stream, config, emit);
}

/// Reads a (decompressed) stream as the given format: what [`read_stream`] does after sniffing,
/// and what the fuzz targets call for each reader.
pub fn read_as(kind: Sniffed, name: &str, stream: impl BufRead, config: &ReadConfig, emit: &mut dyn FnMut(Item)) {
    let warn = |emit: &mut dyn FnMut(Item), severity, message: String| emit(Item::Warning(InputWarning { input: name.to_owned(), message, severity }));
    match kind {
        Sniffed::Empty => warn(emit, Severity::Error, "empty file; nothing to read".into()),
        Sniffed::Binary => warn(emit, Severity::Error, "binary content (not text, HTML, JSONL, WARC or a feed); skipped".to_owned()),
        Sniffed::Warc | Sniffed::Html if config.text_only => {}
        Sniffed::Warc => warc::read(name, stream, config, emit),
        Sniffed::Jsonl => jsonl::read(name, stream, config, emit),
        Sniffed::Feed => feed::read(name, stream, config, emit),
        Sniffed::Html | Sniffed::Text => {
            let is_html = kind == Sniffed::Html;
            read_single(name, stream, is_html, config, emit)
        }
    }
}

/// A file that holds one document (plain text or one HTML page).
fn read_single(name: &str, stream: impl Read, is_html: bool, config: &ReadConfig, emit: &mut dyn FnMut(Item)) {
    let mut warnings = Vec::new();
    let (mut bytes, truncated, error) = read_capped(stream, config.max_document_bytes);
    if truncated {
        // Cut at the last line break, not inside a multi-byte character or a word.
        if let Some(pos) = bytes.iter().rposition(|&b| b == b'\n') {
            bytes.truncate(pos + 1);
        }
    }
    if let Some(e) = error {
        let what = if bytes.is_empty() { "cannot read" } else { "read failed part-way; keeping what was read before the error" };
        emit(Item::Warning(InputWarning { input: name.to_owned(), message: format!("{what}: {e}"), severity: Severity::Error }));
        if bytes.is_empty() {
            return;
        }
    }
    if truncated {
        emit(Item::Warning(InputWarning {
            input: name.to_owned(),
            message: format!("document larger than {} bytes; the rest was not read", config.max_document_bytes),
            severity: Severity::Error,
        }));
        warnings.push(format!("{name}: truncated at {} bytes", config.max_document_bytes));
    }
    let decoded = decode(&bytes, None, is_html);
    if let Some(note) = decoded.note {
        emit(Item::Warning(InputWarning { input: name.to_owned(), message: note.clone(), severity: Severity::Warning }));
        warnings.push(format!("{name}: {note}"));
    }
    let (format, body) = if is_html { (InputFormat::Html, Body::Html(decoded.text)) } else { (InputFormat::Text, Body::Text(decoded.text)) };
    emit(Item::Document(RawDocument { source: name.to_owned(), format, body, hints: Hints::default(), warnings }));
}

/// Reads at most `cap` bytes. Returns the bytes, whether more followed, and the read error that
/// stopped reading early, if any (the bytes before it are kept).
pub(crate) fn read_capped(reader: impl Read, cap: usize) -> (Vec<u8>, bool, Option<io::Error>) {
    let (mut bytes, error) = read_up_to(reader, cap + 1);
    let truncated = bytes.len() > cap;
    bytes.truncate(cap);
    (bytes, truncated, error)
}

/// Reads up to `n` bytes, consuming no more than that; keeps what came before an error.
fn read_up_to(reader: impl Read, n: usize) -> (Vec<u8>, Option<io::Error>) {
    let mut bytes = Vec::new();
    // Straight into the vector (no zeroed chunk to copy from); on an error the bytes read
    // before it are in `bytes`, and an interrupted read is retried.
    let error = reader.take(n as u64).read_to_end(&mut bytes).err();
    (bytes, error)
}

/// Wraps a gzip decoder so that its errors say the gzip stream is corrupt or truncated.
struct GzipErrors<R>(R);

impl<R: Read> Read for GzipErrors<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            let what = if e.kind() == io::ErrorKind::UnexpectedEof { "truncated gzip stream" } else { "corrupt gzip stream" };
            io::Error::new(e.kind(), format!("{what} ({e})"))
        })
    }
}

/// Emits a warning for `input` (helper for the format readers).
pub(crate) fn warn(emit: &mut dyn FnMut(Item), input: String, severity: Severity, message: String) {
    emit(Item::Warning(InputWarning { input, message, severity }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_walk_survives_a_symlink_loop() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "text").unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("loop")).unwrap();
        let (inputs, warnings) = expand_inputs(&[dir.path().to_path_buf()]);
        assert_eq!(inputs, [Input::File(dir.path().join("a.txt"))]);
        assert!(warnings.iter().any(|w| w.message.contains("already visited")), "{warnings:?}");
    }
}
