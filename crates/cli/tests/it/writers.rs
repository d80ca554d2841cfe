//! Many writers on one store, on both engines: two CLI ingests and a `POST /articles` at once
//! all succeed, every article is searchable and in a story, and a running server shows what
//! the CLI stored without a restart.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::serve::Server;
use crate::{bin, stderr};

const WORDS: &[&str] = &[
    "harbour", "council", "budget", "storm", "bridge", "election", "minister", "river", "festival", "school", "hospital", "court", "railway", "market",
    "museum", "farmers", "police", "airport", "library", "strike",
];

/// Article `i` of a corpus: a unique token, a word every article has, and varied sentences.
fn article(prefix: &str, i: usize) -> Value {
    let w = |k: usize| WORDS[(i * 7 + k * 3) % WORDS.len()];
    let text = (0..3)
        .map(|p| {
            format!(
                "The {} officials said on Monday that the {} plan for the {} would change. Residents near the {} told reporters the lighthouse \
                 was closed while the {} review went on, and zq{prefix}{i} was named in the report as paragraph {p} explains.",
                w(p),
                w(p + 1),
                w(p + 2),
                w(p + 3),
                w(p + 4)
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n");
    json!({"id": format!("{prefix}-{i}"), "title": format!("{} and {} news {prefix} {i}", w(0), w(1)), "text": text,
           "published": format!("2024-03-{:02}", 1 + i % 28), "outlet": format!("outlet{}.example", i % 5)})
}

fn corpus(dir: &Path, prefix: &str, n: usize) -> PathBuf {
    let path = dir.join(format!("{prefix}.jsonl"));
    let lines: String = (0..n).map(|i| format!("{}\n", article(prefix, i))).collect();
    std::fs::write(&path, lines).unwrap();
    path
}

/// `N matching articles` from `storyline search`.
fn matching(db: &str, extra: &[&str], query: &str) -> usize {
    let out = bin().args(["search", "--limit", "1", "--db", db]).args(extra).arg(query).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{query}: {text} {}", stderr(&out)))
}

pub fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !ok() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    started.elapsed()
}

fn writers_at_once(db: &str, extra: &[&str]) {
    let inputs = tempfile::tempdir().unwrap();
    let (a, b) = (corpus(inputs.path(), "a", 60), corpus(inputs.path(), "b", 60));
    let server_index = tempfile::tempdir().unwrap();
    let mut server_args = extra.to_vec();
    let server_index_arg = server_index.path().to_str().unwrap().to_owned();
    if !extra.is_empty() {
        server_args = vec!["--index-dir", &server_index_arg];
    }
    let server = Server::start_with(Path::new(db), &server_args);
    let ingest = |path: &Path| bin().args(["ingest", "--no-progress", "--db", db]).args(extra).arg(path).stderr(Stdio::piped()).spawn().unwrap();
    let first = ingest(&a);
    std::thread::sleep(Duration::from_millis(200));
    let second = ingest(&b);
    let posted: Vec<Value> = (0..10).map(|i| article("p", i)).collect();
    let (status, body) = server.request("POST", "/articles", &Value::Array(posted).to_string());
    assert_eq!(status, 201, "POST during two ingests: {body}");
    for child in [first, second] {
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "an ingest failed: {err}");
        assert!(!err.contains("locked") && !err.contains("LockBusy"), "{err}");
    }
    // Every article is stored, searchable, and in a story.
    assert_eq!(matching(db, extra, "lighthouse"), 130, "the CLI finds every article");
    for token in ["zqa0", "zqb59", "zqp9"] {
        assert_eq!(matching(db, extra, token), 1, "{token}");
    }
    let export = bin().args(["export", "articles", "--db", db]).args(extra).output().unwrap();
    let rows: Vec<Value> = crate::jsonl(&String::from_utf8_lossy(&export.stdout));
    assert_eq!(rows.len(), 130);
    let without: Vec<&Value> = rows.iter().filter(|r| r["story"].is_null()).map(|r| &r["id"]).collect();
    assert!(without.is_empty(), "articles without a story: {without:?}");
    // The running server sees it all without a restart.
    wait_for("the server's search", Duration::from_secs(10), || server.json("/search?q=lighthouse&limit=1").1["total"] == 130);
    let (_, stories) = server.json("/stories?limit=1");
    let cli_stories = String::from_utf8_lossy(&bin().args(["stories", "--limit", "100000", "--db", db]).args(extra).output().unwrap().stdout).lines().count();
    wait_for("the server's stories", Duration::from_secs(10), || server.json("/stories?limit=1").1["total"].as_u64() == Some(cli_stories as u64));
    assert!(stories["total"].as_u64().unwrap() > 0);
    // One more article from the CLI shows up in the server's catalog (a story found by its
    // text) soon after the ingest returns.
    let late = inputs.path().join("late.jsonl");
    std::fs::write(&late, format!("{}\n", article("late", 1))).unwrap();
    let out = bin().args(["ingest", "--no-progress", "--db", db]).args(extra).arg(&late).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let took = wait_for("a CLI-ingested article in the server", Duration::from_secs(5), || server.json("/stories?q=zqlate1").1["total"] == 1);
    eprintln!("visible in the server {:.2} s after the ingest returned", took.as_secs_f64());
}

#[test]
fn two_ingests_and_a_post_at_once_on_the_embedded_store() {
    let db = tempfile::tempdir().unwrap();
    writers_at_once(db.path().to_str().unwrap(), &[]);
}

#[test]
fn two_ingests_and_a_post_at_once_on_postgres() {
    let Some(url) = storyline_store::conformance::fresh_pg_database("writers") else { return };
    let index = tempfile::tempdir().unwrap();
    writers_at_once(&url, &["--index-dir", index.path().to_str().unwrap()]);
}

/// The bundled sample gives the same articles, copies, stories and entities through both
/// engines.
#[test]
fn the_sample_gives_the_same_results_on_both_engines() {
    let Some(url) = storyline_store::conformance::fresh_pg_database("sample") else { return };
    let index = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let embedded = dir.path().to_str().unwrap();
    let pg: [&str; 2] = ["--index-dir", index.path().to_str().unwrap()];
    let examples = crate::examples_dir();
    for (db, extra) in [(embedded, &[][..]), (url.as_str(), &pg[..])] {
        let out = bin().args(["ingest", "--no-progress", "--db", db]).args(extra).arg(&examples).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let export = |db: &str, extra: &[&str], what: &str| -> Vec<Value> {
        let out = bin().args(["export", what, "--db", db]).args(extra).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let mut rows = crate::jsonl(&String::from_utf8_lossy(&out.stdout));
        for r in &mut rows {
            r.as_object_mut().unwrap().remove("ingested_at");
        }
        rows
    };
    for what in ["articles", "copies", "stories", "entities", "quotes", "figures"] {
        let (a, b) = (export(embedded, &[], what), export(&url, &pg, what));
        assert!(!a.is_empty() || what == "copies", "{what}: nothing exported");
        assert_eq!(a, b, "{what} differ between the engines");
    }
    let search = |db: &str, extra: &[&str]| {
        String::from_utf8_lossy(&bin().args(["search", "--db", db]).args(extra).arg("ceasefire OR blinken").output().unwrap().stdout).into_owned()
    };
    assert_eq!(search(embedded, &[]), search(&url, &pg), "search differs between the engines");
}
