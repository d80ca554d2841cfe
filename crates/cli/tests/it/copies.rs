//! Copy relations: found at ingest, kept in the store, exported, shown side by side.

use super::*;

const WIRE: &str = "The central bank raised its main interest rate by half a percentage point on Tuesday, its third increase this year, as officials tried to slow inflation that has reached the highest level in four decades. The governor said further increases were likely if prices kept rising at the current pace, and warned that the economy could slow sharply next year. Markets had expected the move, and the currency barely changed after the announcement.";

fn write_inputs(dir: &Path) -> PathBuf {
    let local = format!(
        "The city council approved a new budget on Monday after a debate that lasted most of the day, and the mayor promised more money for roads, libraries and the two swimming pools that closed last winter. Opposition members voted against it. \
         Meanwhile, on the national economy: {WIRE} The council meets again next week to discuss the school budget and the new bus routes, and parents have asked for more teachers, smaller classes and safer crossings near the primary schools on the east side of town, where traffic has grown since the bypass opened."
    );
    let rows = [
        serde_json::json!({"id": "wire-1", "title": "Bank raises rates", "text": WIRE, "date": "2022-06-07", "outlet": "Example Wire"}),
        serde_json::json!({"id": "blog-1", "title": "Bank raises rates", "text": format!("[ad_1]\n{WIRE}\n[ad_2]\nSource link"), "date": "2022-06-08", "outlet": "autoblog.example"}),
        serde_json::json!({"id": "local-1", "title": "Council budget", "text": local, "date": "2022-06-07", "outlet": "Valley Times"}),
    ];
    let path = dir.join("in.jsonl");
    std::fs::write(&path, rows.iter().map(|r| r.to_string()).collect::<Vec<_>>().join("\n")).unwrap();
    path
}

#[test]
fn copies_are_found_explained_and_exported() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let input = write_inputs(tmp.path());
    let out = bin().arg("ingest").arg("--db").arg(&db).arg(&input).arg(examples_dir()).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    let articles: Vec<Value> = run(&db, &["export", "articles"]).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let by_ext = |ext: &str| articles.iter().find(|a| a["external_id"] == ext).unwrap().clone();
    let (wire, blog, local) = (by_ext("wire-1"), by_ext("blog-1"), by_ext("local-1"));
    let relations: Vec<Value> = run(&db, &["export", "copies"]).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let between =
        |x: &Value, y: &Value| relations.iter().find(|r| (r["a"] == x["id"] && r["b"] == y["id"]) || (r["a"] == y["id"] && r["b"] == x["id"])).cloned();
    let exact = between(&wire, &blog).expect("wire and blog are copies");
    assert_eq!(exact["relation"], "exact");
    // The wire story is the original: earlier, and the blog carries scraper markers.
    let original_side = exact["original"].as_str().unwrap();
    assert_eq!(exact[original_side], wire["id"]);
    assert!(exact["evidence"].as_array().unwrap().len() >= 2);
    let partial = between(&wire, &local).expect("the local story embeds the wire story");
    assert_eq!(partial["relation"], "partial");
    let span = &partial["shared"][0];
    assert!(span["a_end"].as_u64().unwrap() > span["a_start"].as_u64().unwrap());
    // Independent reports of the same event (the bundled samples) share quotes, not copies.
    let samples: Vec<&Value> = articles.iter().filter(|a| a["source"].as_str().unwrap().contains("examples")).collect();
    assert_eq!(samples.len(), 5);
    for s in &samples {
        assert!(!relations.iter().any(|r| r["a"] == s["id"] || r["b"] == s["id"]), "sample {} in a relation", s["source"]);
        assert_eq!(s["copy_group"], Value::Null);
    }
    assert_eq!(wire["copy_group"], blog["copy_group"]);
    assert_eq!(wire["original_of_group"], true);
    assert_eq!(blog["original_of_group"], false);

    let shown = run(&db, &["copies", blog["id"].as_str().unwrap()]);
    assert!(shown.contains("exact (100% similar)"), "{shown}");
    assert!(shown.contains(&format!("likely original: {}", wire["id"].as_str().unwrap())), "{shown}");
    assert!(shown.contains(" | The central bank raised"), "{shown}");

    // Re-ingesting adds no relation twice.
    let again = bin().arg("ingest").arg("--db").arg(&db).arg(&input).output().unwrap();
    assert!(stderr(&again).contains("copies: 0 new copy relations ("), "{}", stderr(&again));
}
