//! Fuzz targets: what each one feeds its bytes to. `fuzz/fuzz_targets/*.rs` call [`run`] under
//! libFuzzer (`cargo xtask fuzz TARGET`); the test below replays `fuzz/seeds/TARGET/*` and
//! `fuzz/artifacts/TARGET/*` (every crash found is kept there) on every `cargo test`.
//!
//! A target fails by panicking. The readers and extraction must turn any bytes into documents
//! and warnings; the query parser into a query or an error. A panic inside a dependency that
//! ingest contains (the document or input becomes an error) is not a crash; one in our code is.

use std::io::Cursor;

use storyline_extract::{CorpusStats, Guarded};
use storyline_ingest::{read_as, read_stream, Item, ReadConfig, Sniffed};

/// Every target, by name.
pub const TARGETS: &[&str] = &["text", "html", "jsonl", "warc", "feed", "sniffed", "extract", "query", "sitemap", "opml", "listing"];

/// Small documents: the fuzzer should spend its time on structure, not size.
fn config() -> ReadConfig {
    ReadConfig { max_document_bytes: 256 * 1024, text_only: false }
}

/// Feeds `data` to the target `name`.
pub fn run(name: &str, data: &[u8]) {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(storyline_model::contain::install_panic_hook);
    match name {
        "text" => read_and_extract(Some(Sniffed::Text), data),
        "html" => read_and_extract(Some(Sniffed::Html), data),
        "jsonl" => read_and_extract(Some(Sniffed::Jsonl), data),
        "warc" => read_and_extract(Some(Sniffed::Warc), data),
        "feed" => read_and_extract(Some(Sniffed::Feed), data),
        "sniffed" => read_and_extract(None, data),
        "extract" => extract_page(data),
        "query" => {
            if let Ok(q) = std::str::from_utf8(data) {
                let _ = storyline_store::Query::parse(q);
            }
        }
        // The followed sources' lists: any bytes give entries or an error naming the input.
        "sitemap" => {
            let _ = storyline_follow::sitemap::parse("fuzz", data);
        }
        "opml" => {
            let _ = storyline_follow::opml::feeds("fuzz", data);
        }
        // Any document a source answers with: told apart and listed, addresses resolved.
        "listing" => {
            let base = url::Url::parse("https://fuzz.example/feeds/feed.xml").expect("a valid base");
            let _ = storyline_follow::listing::read("fuzz", Some(&base), data);
        }
        other => panic!("no fuzz target `{other}` (targets: {})", TARGETS.join(", ")),
    }
}

/// One reader (or sniffing, gzip included, when `kind` is `None`), then extraction of every
/// document it reads, with the corpus statistics gathered over them.
fn read_and_extract(kind: Option<Sniffed>, data: &[u8]) {
    let mut docs = Vec::new();
    let mut keep = |item: Item| {
        if let Item::Document(d) = item {
            docs.push(d);
        }
    };
    // Ingest contains a panic inside a reader library (the input ends with an error); one in
    // our own code is a crash.
    let read = storyline_model::contain::contain(|| match kind {
        Some(kind) => read_as(kind, "fuzz", Cursor::new(data), &config(), &mut keep),
        None => read_stream("fuzz", Cursor::new(data), &config(), &mut keep),
    });
    if let Err(panic) = read {
        assert!(!panic.contains(" at crates/"), "{panic}");
    }
    let mut stats = CorpusStats::default();
    docs.iter().for_each(|d| stats.observe(d));
    for doc in &docs {
        let article = extract_as_ingest_does(doc, &stats);
        assert_eq!(article.id, doc.id());
    }
}

/// Extraction as the pipeline runs it: a panic inside a dependency is contained and the page is
/// read as plain text. A panic in our own code (`crates/...`), or in that fallback, is a crash.
fn extract_as_ingest_does(doc: &storyline_model::RawDocument, stats: &CorpusStats) -> storyline_model::Article {
    match storyline_extract::extract_guarded(doc, stats) {
        Guarded::Extracted(article) => article,
        Guarded::Recovered { panic, article } => {
            assert!(!panic.contains(" at crates/"), "{panic}");
            article.unwrap_or_else(|| panic!("the plain-text fallback failed too after {panic}"))
        }
    }
}

/// Extraction alone, on the bytes as an HTML page and as scraped text.
fn extract_page(data: &[u8]) {
    let text = String::from_utf8_lossy(data).into_owned();
    for body in [storyline_model::Body::Html(text.clone()), storyline_model::Body::Text(text)] {
        let doc = storyline_model::RawDocument {
            source: "fuzz".into(),
            format: storyline_model::InputFormat::Html,
            body,
            hints: Default::default(),
            warnings: Vec::new(),
        };
        let _ = extract_as_ingest_does(&doc, &CorpusStats::default());
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Replays the committed corpus and every crash artifact of every target. Each input runs
    /// on a thread with the stack extraction threads get, as in `storyline ingest`.
    #[test]
    fn corpus_and_crashes_replay_cleanly() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
        let mut replayed = 0;
        for target in TARGETS {
            for dir in ["seeds", "artifacts"] {
                let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else { continue };
                let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect();
                files.sort();
                for file in files {
                    let data = std::fs::read(&file).unwrap();
                    let name = target.to_string();
                    let outcome = std::thread::Builder::new().stack_size(64 << 20).spawn(move || run(&name, &data)).unwrap().join();
                    assert!(outcome.is_ok(), "{target}: {} panics", file.display());
                    replayed += 1;
                }
            }
        }
        assert!(replayed >= TARGETS.len(), "the seed corpus is missing: {replayed} inputs under {}", root.display());
        eprintln!("replayed {replayed} fuzz inputs");
    }
}
