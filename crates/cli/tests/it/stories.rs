//! Stories and threads: assigned at ingest, explained, listed, exported; ids survive growth.

use super::*;
use std::collections::{HashMap, HashSet};

#[test]
fn samples_make_stories_in_one_thread_with_explanations() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let out = bin().arg("ingest").arg("--db").arg(&db).arg(examples_dir()).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("stories: 5 articles assigned"), "{}", stderr(&out));

    let articles = jsonl(&run(&db, &["export", "articles"]));
    let story = |name: &str| articles.iter().find(|a| a["source"].as_str().unwrap().ends_with(name)).unwrap()["story"].clone();
    let nov_2023 = story("004_49a082d0ec2fb85f.txt");
    for may_2021 in ["000_ee6209165108b612.txt", "001_cd5b6eb30dfdc74c.txt", "002_91570b9135253b7c.txt", "003_167c493f75d27566.txt"] {
        assert_ne!(story(may_2021), nov_2023, "{may_2021} is in the November 2023 story");
    }
    // The agency report, its autoblog copy and the rewrite are one story.
    assert_eq!(story("000_ee6209165108b612.txt"), story("001_cd5b6eb30dfdc74c.txt"));
    assert_eq!(story("000_ee6209165108b612.txt"), story("002_91570b9135253b7c.txt"));
    // The Jerusalem Post report of the same event joins them.
    assert_eq!(story("000_ee6209165108b612.txt"), story("003_167c493f75d27566.txt"));
    // Same actors and places, years apart: one thread.
    let threads: std::collections::HashSet<&str> = articles.iter().map(|a| a["thread"].as_str().unwrap()).collect();
    assert_eq!(threads.len(), 1, "{threads:?}");

    let stories = jsonl(&run(&db, &["export", "stories"]));
    for s in &stories {
        for f in ["id", "title", "articles", "outlets", "first_published", "last_published", "thread", "thread_title", "key_terms", "key_names"] {
            assert!(s.get(f).is_some(), "{f} missing in {s}");
        }
    }
    for s in &stories {
        assert_eq!(s["outlets"].as_array().map(Vec::len), s["outlet_count"].as_u64().map(|n| n as usize), "outlets are names, as in `stories --json`: {s}");
    }
    let total: u64 = stories.iter().map(|s| s["articles"].as_u64().unwrap()).sum();
    assert_eq!(total, 5);
    let nov = stories.iter().find(|s| s["id"] == nov_2023).unwrap();
    assert_eq!(nov["first_published"], "2023-11-03");
    assert!(nov["thread_title"].as_str().unwrap().contains("Blinken") || nov["thread_title"].as_str().unwrap().contains("Israel"), "{nov}");
    let csv = run(&db, &["export", "stories", "--format", "csv"]);
    assert!(csv.starts_with("id,title,articles,outlets,outlet_count,first_published,last_published,thread"), "{csv}");

    let listing = run(&db, &["stories", "--sort", "recent"]);
    assert!(listing.lines().next().unwrap().contains("2023-11-03"), "most recent first: {listing}");
    let since = run(&db, &["stories", "--since", "2023-01-01", "--json"]);
    assert_eq!(jsonl(&since).len(), 1, "{since}");

    let shown = run(&db, &["story", story("001_cd5b6eb30dfdc74c.txt").as_str().unwrap()]);
    assert!(shown.contains("thread:"), "{shown}");
    assert_eq!(shown.matches("  why: ").count(), 4, "{shown}");
    assert!(shown.contains("shared terms:"), "{shown}");

    // Ingesting again assigns nothing new and changes nothing.
    let again = bin().arg("ingest").arg("--db").arg(&db).arg(examples_dir()).output().unwrap();
    assert!(stderr(&again).contains("stories: 0 articles assigned"), "{}", stderr(&again));
    assert_eq!(
        jsonl(&run(&db, &["export", "articles"])).iter().map(|a| a["story"].clone()).collect::<Vec<_>>(),
        articles.iter().map(|a| a["story"].clone()).collect::<Vec<_>>()
    );
}

fn report(i: usize, place: &str, day: &str, extra: &str) -> Value {
    serde_json::json!({
        "id": format!("{place}-{i}"),
        "title": format!("Flooding in {place} forces evacuations"),
        "text": format!("Heavy rain flooded {place} on {day}, and the {place} river rose above its banks. Emergency crews from {place} County evacuated residents of the low streets near the {place} bridge. {extra} Officials in {place} said the water would recede by the weekend."),
        "date": day,
        "outlet": format!("Outlet {i}"),
    })
}

#[test]
fn story_ids_survive_growth_and_copies_join_their_original() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let first = tmp.path().join("first.jsonl");
    let rows = [report(1, "Marlowe", "2022-03-01", "Schools closed."), report(2, "Marlowe", "2022-03-01", "Roads were shut.")];
    std::fs::write(&first, rows.iter().map(Value::to_string).collect::<Vec<_>>().join("\n")).unwrap();
    run(&db, &["ingest", first.to_str().unwrap()]);
    let before = jsonl(&run(&db, &["export", "articles"]));
    let id = before[0]["story"].as_str().unwrap().to_string();
    assert_eq!(before[1]["story"], before[0]["story"]);

    // More coverage of the same flood, an exact copy, and a flood elsewhere three years later.
    let second = tmp.path().join("second.jsonl");
    let copy = serde_json::json!({"id": "copy", "title": "Flooding in Marlowe forces evacuations", "text": format!("[ad_1]\n{}\nSource link", rows[0]["text"].as_str().unwrap()), "date": "2022-03-02", "outlet": "autoblog"});
    let later = serde_json::json!({
        "id": "Marlowe-4",
        "title": "Flooding in Marlowe again after dam fails",
        "text": "Marlowe was flooded again on Tuesday when the new dam upstream failed after a week of rain. Engineers had warned the county about cracks in the dam last year. Emergency crews evacuated residents near the Marlowe bridge, and the river rose above its banks by noon.",
        "date": "2025-06-10",
        "outlet": "Outlet 4",
    });
    let rows = [report(3, "Marlowe", "2022-03-02", "Trains stopped."), copy, later];
    std::fs::write(&second, rows.iter().map(Value::to_string).collect::<Vec<_>>().join("\n")).unwrap();
    run(&db, &["ingest", second.to_str().unwrap()]);
    let after = jsonl(&run(&db, &["export", "articles"]));
    let story = |ext: &str| after.iter().find(|a| a["external_id"] == ext).unwrap()["story"].as_str().unwrap().to_string();
    assert_eq!(story("Marlowe-1"), id, "a story keeps its id as it grows");
    assert_eq!(story("Marlowe-3"), id);
    assert_eq!(story("copy"), id, "a copy joins the story of what it copies");
    assert_ne!(story("Marlowe-4"), id, "years apart: another story");
    let shown = run(&db, &["story", &id]);
    assert!(shown.contains("why: copy of"), "{shown}");
    assert!(shown.contains("4 articles"), "{shown}");
    assert!(!run(&db, &["story", &story("Marlowe-4")]).contains("Schools closed"));
}

/// Two quakes of one kind, three reports each, and a short report in the words every quake
/// report uses that names one of the places once.
fn quake_reports() -> Vec<Value> {
    let a = |id: &str, extra: &str| serde_json::json!({"id": id, "title": "Magnitude 6.1 earthquake strikes Orvieto", "text": format!("A magnitude 6.1 earthquake struck near Orvieto on Monday, shaking medieval buildings across the Umbrian hills. {extra} Residents of Orvieto slept in their cars as aftershocks continued, the Orvieto fire brigade said.")});
    let b = |id: &str, extra: &str| serde_json::json!({"id": id, "title": "Kandor quake: 7.4 tremor kills dozens", "text": format!("Dozens died when a 7.4 tremor hit Kandor province before dawn, flattening mud-brick homes in mountain villages. {extra} Rescuers in Kandor dug through rubble with bare hands, the Kandor governor told reporters.")});
    vec![
        a("a1", "Two churches in Orvieto collapsed."),
        a("a2", "The old Orvieto bridge cracked."),
        a("a3", "Schools in Orvieto closed."),
        b("b1", "A dam near Kandor was inspected."),
        b("b2", "Kandor airport shut its runway."),
        b("b3", "Power failed across Kandor."),
        serde_json::json!({"id": "c1", "title": "Parliament passes budget", "text": "The parliament passed the annual budget after a long debate about taxes and pensions."}),
        serde_json::json!({"id": "x", "title": "Quake: tremor kills dozens, rescuers dig through rubble", "text": "A strong earthquake struck before dawn and rescuers dug through rubble with bare hands as a tremor flattened homes and dozens died, the governor told reporters. Orvieto residents slept in cars."}),
    ]
}

#[test]
fn a_later_ingest_moves_an_article_and_old_story_links_still_work() {
    let tmp = tempfile::tempdir().unwrap();
    let rows = quake_reports();
    let write = |name: &str, ids: &[&str]| {
        let path = tmp.path().join(name);
        let lines: Vec<String> = ids.iter().map(|id| rows.iter().find(|r| r["id"] == *id).unwrap().to_string()).collect();
        std::fs::write(&path, lines.join("\n")).unwrap();
        path
    };
    let story_of = |db: &Path| -> HashMap<String, String> {
        jsonl(&run(db, &["export", "articles"]))
            .iter()
            .map(|a| (a["external_id"].as_str().unwrap().to_string(), a["story"].as_str().unwrap().to_string()))
            .collect()
    };
    let all = ["a1", "a2", "a3", "b1", "b2", "b3", "c1", "x"];
    let one_db = tmp.path().join("one");
    run(&one_db, &["ingest", write("all.jsonl", &all).to_str().unwrap()]);
    let one = story_of(&one_db);
    assert_eq!(one["x"], one["b1"], "{one:?}");

    // x first, then an Orvieto report, then the rest: x first shares a story with a2.
    let db = tmp.path().join("db");
    run(&db, &["ingest", write("1.jsonl", &["x"]).to_str().unwrap()]);
    run(&db, &["ingest", write("2.jsonl", &["a2", "c1"]).to_str().unwrap()]);
    let early = story_of(&db);
    assert_eq!(early["x"], early["a2"], "{early:?}");
    let out = run(&db, &["ingest", write("3.jsonl", &["a1", "a3", "b1", "b2", "b3"]).to_str().unwrap()]);
    let late = story_of(&db);
    // The same stories as one batch makes.
    let same = |m: &HashMap<String, String>, p: &str, q: &str| m[p] == m[q];
    for p in all {
        for q in all {
            assert_eq!(same(&late, p, q), same(&one, p, q), "{p} {q}: {late:?} vs {one:?}");
        }
    }
    // The early story's id still leads somewhere, and says what moved.
    let shown = run(&db, &["story", &early["x"]]);
    assert!(shown.contains("moved to") || shown.contains("was merged into"), "{shown}\n{out}");
    let stories = jsonl(&run(&db, &["export", "stories"]));
    let live: HashSet<&str> = late.values().map(String::as_str).collect();
    assert_eq!(stories.len(), live.len(), "{stories:?}");
    for s in &stories {
        let id = s["id"].as_str().unwrap();
        assert_eq!(s["articles"].as_u64().unwrap() as usize, late.values().filter(|v| *v == id).count(), "{s}");
    }
}

#[test]
fn read_commands_never_create_a_store_and_hint_at_what_was_meant() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("mistyped");
    for args in [&["stories"][..], &["search", "blinken"], &["story", "s1"], &["export", "articles"]] {
        let out = crate::bin().args(args).arg("--db").arg(&missing).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(crate::stderr(&out).contains("no store at") && crate::stderr(&out).contains("mistyped"), "{args:?}: {}", crate::stderr(&out));
        assert!(!missing.exists(), "{args:?} created a store");
    }
    // Writing commands create one and say so.
    let out = crate::bin().args(["ingest", "--no-progress"]).arg(crate::examples_dir()).arg("--db").arg(&missing).output().unwrap();
    assert!(out.status.success() && crate::stderr(&out).contains("created a new store at"), "{}", crate::stderr(&out));
    // An article id given for a story: the article's story is named.
    let article = crate::jsonl(&crate::run(&missing, &["export", "articles"]))[0]["id"].as_str().unwrap().to_owned();
    let out = crate::bin().args(["story", &article]).arg("--db").arg(&missing).output().unwrap();
    assert!(!out.status.success());
    assert!(crate::stderr(&out).contains(&format!("`{article}` is an article, in story s")), "{}", crate::stderr(&out));
    // A query of excluded words only: every article without them, as the README says.
    let without = crate::run(&missing, &["search", "-dujarric", "--json"]).lines().count();
    let with = crate::run(&missing, &["search", "dujarric", "--json"]).lines().count();
    assert_eq!((without, with), (4, 1), "-dujarric gives the articles without the word");
}
