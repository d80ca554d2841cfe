//! Copy relations: found at ingest, kept in the store, exported, shown side by side.

use super::*;

const WIRE: &str = "The central bank raised its main interest rate by half a percentage point on Tuesday, its third increase this year, as officials tried to slow inflation that has reached the highest level in four decades. The governor said further increases were likely if prices kept rising at the current pace, and warned that the economy could slow sharply next year. Markets had expected the move, and the currency barely changed after the announcement.";

/// A port strike report and a content farm's sentence-by-sentence rewording of it.
const STRIKE: &str = "Dock workers at the port of Valmera walked out on Thursday after talks over pay broke down late on Wednesday night.
The union, which represents about 4,200 workers, said the strike would last at least 72 hours.
Port director Elena Marsh said ships were already queuing outside the harbour and that perishable cargo was at risk.
The dispute began in March when the port operator offered a 3 percent raise, which the union called an insult.
Transport minister Paul Okafor urged both sides to return to the table and offered to mediate from Friday.
Exporters warned that a long stoppage would cost the regional economy about 40 million euros a day.";
const STRIKE_REWRITE: &str = "Dock employees at the port of Valmera staged a walkout on Thursday after pay negotiations collapsed late Wednesday night.
The union, representing roughly 4,200 workers, stated that the strike would continue for at least 72 hours.
Ships were already lining up outside the harbour, port director Elena Marsh stated, adding that perishable cargo was in danger.
The dispute started in March when the port operator proposed a 3 percent raise, which the union described as an insult.
Transport minister Paul Okafor called on both sides to come back to the table and offered to mediate starting Friday.
A prolonged stoppage would cost the regional economy around 40 million euros per day, exporters cautioned.";

fn write_inputs(dir: &Path) -> PathBuf {
    let local = format!(
        "The city council approved a new budget on Monday after a debate that lasted most of the day, and the mayor promised more money for roads, libraries and the two swimming pools that closed last winter. Opposition members voted against it. \
         Meanwhile, on the national economy: {WIRE} The council meets again next week to discuss the school budget and the new bus routes, and parents have asked for more teachers, smaller classes and safer crossings near the primary schools on the east side of town, where traffic has grown since the bypass opened."
    );
    let rows = [
        serde_json::json!({"id": "wire-1", "title": "Bank raises rates", "text": WIRE, "date": "2022-06-07", "outlet": "Example Wire"}),
        serde_json::json!({"id": "blog-1", "title": "Bank raises rates", "text": format!("[ad_1]\n{WIRE}\n[ad_2]\nSource link"), "date": "2022-06-08", "outlet": "autoblog.example"}),
        serde_json::json!({"id": "local-1", "title": "Council budget", "text": local, "date": "2022-06-07", "outlet": "Valley Times"}),
        serde_json::json!({"id": "strike-1", "title": "Valmera dock workers strike", "text": STRIKE, "date": "2022-06-09", "outlet": "Harbour News"}),
        serde_json::json!({"id": "farm-1", "title": "Valmera dock employees walk out", "text": STRIKE_REWRITE, "date": "2022-06-10", "outlet": "content-farm.example"}),
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
    // The content farm's rewording is a rewrite of the earlier report, sentence by sentence.
    let (strike, farm) = (by_ext("strike-1"), by_ext("farm-1"));
    let rewrite = between(&strike, &farm).expect("the content farm rewrote the strike report");
    assert_eq!(rewrite["relation"], "rewrite");
    assert_eq!(rewrite[rewrite["original"].as_str().unwrap()], strike["id"]);
    assert!(rewrite["evidence"][0].as_str().unwrap().contains("6 of 6 sentences reworded in the same order"), "{rewrite}");
    assert_eq!(strike["copy_group"], farm["copy_group"]);
    let shown = run(&db, &["copies", farm["id"].as_str().unwrap()]);
    assert!(shown.contains("rewrite (100% similar)") && shown.contains(" | Dock workers at the port of Valmera"), "{shown}");
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
