//! The store: idempotent, order-independent ingest; search syntax; exports; crash safety.

use super::*;

fn ingest(db: &Path, paths: &[&Path]) -> Output {
    bin().arg("ingest").arg("--db").arg(db).args(paths).stdin(Stdio::null()).output().unwrap()
}

fn export(db: &Path, format: &str) -> String {
    let out = bin().args(["export", "articles", "--format", format, "--db"]).arg(db).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn search(db: &Path, query: &str) -> Vec<String> {
    let out = bin().args(["search", "--json", "--db"]).arg(db).arg(query).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_str().unwrap().to_owned()).collect()
}

/// Exported articles without the ingest time, sorted by id.
fn normalised_export(db: &Path) -> Vec<Value> {
    let mut rows: Vec<Value> = export(db, "jsonl")
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("ingested_at");
            v
        })
        .collect();
    rows.sort_by_key(|v| v["id"].as_str().unwrap().to_owned());
    rows
}

#[test]
fn ingest_is_idempotent_and_order_independent() {
    let tmp = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = {
        let mut f: Vec<PathBuf> = std::fs::read_dir(examples_dir()).unwrap().map(|e| e.unwrap().path()).collect();
        f.sort();
        f
    };
    let forward: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let backward: Vec<&Path> = files.iter().rev().map(PathBuf::as_path).collect();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let out = ingest(&a, &forward);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("5 added"), "{}", stderr(&out));
    let again = ingest(&a, &forward);
    assert!(stderr(&again).contains("0 added, 5 already stored"), "{}", stderr(&again));
    ingest(&b, &backward);
    assert_eq!(normalised_export(&a), normalised_export(&b));

    let csv = export(&a, "csv");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(reader.headers().unwrap().iter().take(3).collect::<Vec<_>>(), ["id", "source", "external_id"]);
    assert_eq!(reader.records().count(), 5);
}

#[test]
fn search_supports_lucene_like_syntax() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    ingest(&db, &[&examples_dir()]);
    let all_blinken = search(&db, "blinken");
    assert_eq!(all_blinken.len(), 5);
    assert_eq!(search(&db, "blinken AND published:[2023-01-01 TO 2023-12-31]").len(), 1);
    assert_eq!(search(&db, "blinken AND NOT published:2023").len(), 4);
    assert_eq!(search(&db, "\"Hady Amr\"").len(), 4);
    assert_eq!(search(&db, "outlet:\"time news\" OR author:harkov").len(), 2);
    assert_eq!(search(&db, "title:netanyahu").len(), 1);
    let bad = bin().args(["search", "--db"]).arg(&db).arg("published:[2021-13-01 TO *]").output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("not a date"), "{}", stderr(&bad));
}

#[test]
fn a_killed_ingest_leaves_a_usable_store_and_loses_nothing_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("many.jsonl");
    let mut lines = String::new();
    for i in 0..6000 {
        lines.push_str(&serde_json::json!({"id": format!("n{i}"), "title": format!("Story number {i}"), "text": format!("Report {i}: the council met on day {i} and voted on item {i}, officials said after the meeting.")}).to_string());
        lines.push('\n');
    }
    std::fs::write(&input, lines).unwrap();
    let db = tmp.path().join("db");
    let mut child = bin().arg("ingest").arg("--db").arg(&db).arg(&input).stderr(Stdio::null()).spawn().unwrap();
    // Kill it mid-way, once the database has some rows.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let wal = db.join("storyline.sqlite-wal");
        if wal.exists() && std::fs::metadata(&wal).map(|m| m.len() > 200_000).unwrap_or(false) || std::time::Instant::now() > deadline {
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().ok(); // SIGKILL
    child.wait().unwrap();
    // The store opens, what it holds is searchable, and finishing the ingest completes it.
    let partial = export(&db, "jsonl").lines().count();
    if partial > 0 {
        assert!(!search(&db, "council").is_empty());
    }
    let out = ingest(&db, &[&input]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(export(&db, "jsonl").lines().count(), 6000);
    assert_eq!(search(&db, "\"item 5999\"").len(), 1);
}
