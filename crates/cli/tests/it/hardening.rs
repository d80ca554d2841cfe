//! Regression tests of the hardening issue: inputs and requests that used to take Storyline
//! down, lose data or leak resources.

use std::io::Write;
use std::process::Stdio;

use super::*;

const ARTICLE: &str = "Bridge reopens after repairs\n\nThe old bridge over the river reopened on Friday after two years of repairs, the city said in a statement.\n\nTraffic is expected to be heavy during the first week, officials said.\n";

/// A page that panicked inside html5ever (a `charset` attribute word with no value).
const PANICKING_PAGE: &str = r#"<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset"><title>t</title></head><body><p>x</p></body></html>"#;

#[test]
fn a_library_panic_costs_one_document_not_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    for k in 0..40 {
        std::fs::write(inputs.join(format!("a{k:02}.txt")), ARTICLE.replace("Friday", &format!("day {k}"))).unwrap();
    }
    std::fs::write(inputs.join("m-panics.html"), PANICKING_PAGE).unwrap();
    let db = dir.path().join("db");
    let out = bin().args(["ingest", "--no-progress", "--db"]).arg(&db).arg(&inputs).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("m-panics.html: extraction failed inside a library") && err.contains("kept as plain text"), "{err}");
    assert!(!err.contains("panicked at"), "the panic is reported once, as an error: {err}");
    // Every document is stored, and every later step ran.
    assert!(err.contains("41 added"), "{err}");
    assert!(err.contains("facts: entities, quotes and figures of 41 articles"), "{err}");
    let stories = jsonl(&run(&db, &["export", "stories"]));
    assert!(!stories.is_empty());
}

#[test]
fn markup_cannot_slip_past_the_parse_budget() {
    let dir = tempfile::tempdir().unwrap();
    let body = "<p>The council met on Monday and agreed to rebuild the bridge over the river by next spring.</p>";
    let pages = [
        ("self-closing.html", "<div/>".repeat(20_000)),
        ("stray-ends.html", "<div></x>".repeat(20_000)),
        ("template.html", format!("<template>{}</template>", "<div>".repeat(20_000))),
        ("cells.html", "<table><tr><td></x>".repeat(5_000)),
        ("formatting.html", format!("<div>{}</div>{}", (0..2000).map(|k| format!("<b id={k}>")).collect::<String>(), "<p>x</p>".repeat(200))),
    ];
    let mut paths = Vec::new();
    for (name, markup) in &pages {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("<!DOCTYPE html><html><body>{body}{markup}</body></html>")).unwrap();
        paths.push(path);
    }
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let (docs, out) = extract(&refs);
    assert_eq!(docs.len(), pages.len(), "{}", stderr(&out));
    for doc in &docs {
        let warnings = doc["warnings"].to_string();
        assert!(warnings.contains("read as plain text"), "{}: {warnings}", doc["source"]);
        assert!(doc["text"].as_str().unwrap().contains("rebuild the bridge"), "{doc}");
    }
}
