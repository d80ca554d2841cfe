//! Entities, quotes and figures: found at ingest, resolved across articles, exported, shown.

use super::*;
use std::path::{Path, PathBuf};

#[test]
fn samples_resolve_people_quotes_and_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let out = bin().arg("ingest").arg("--db").arg(&db).arg(examples_dir()).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("facts: entities, quotes and figures of 5 articles"), "{}", stderr(&out));

    let entities = jsonl(&run(&db, &["export", "entities"]));
    let named = |surname: &str| -> Vec<&Value> {
        entities.iter().filter(|e| e["type"] == "PER" && e["aliases"].as_array().unwrap().iter().any(|a| a.as_str().unwrap().ends_with(surname))).collect()
    };
    // Each of these people is one entity with several names.
    for (surname, forms) in [
        ("Blinken", &["Antony J. Blinken", "Mr. Blinken", "Blinken", "Antony Blinken"][..]),
        ("Amr", &["Hady Amr", "Mr. Amr"][..]),
        ("Biden", &["Joe Biden", "Biden"][..]),
        ("Netanyahu", &["Benjamin Netanyahu", "Mr. Netanyahu"][..]),
    ] {
        let found = named(surname);
        assert_eq!(found.len(), 1, "{surname}: {found:#?}");
        let aliases: Vec<&str> = found[0]["aliases"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
        for f in forms {
            assert!(aliases.contains(f), "{surname}: {f} not in {aliases:?}");
        }
    }
    // "[Joe] Biden" is Biden's name with an editorial insertion, not a person "Joe".
    assert!(named("Biden")[0]["aliases"].as_array().unwrap().iter().any(|a| a == "[Joe] Biden"));
    assert!(!entities.iter().any(|e| e["name"] == "Joe"), "no entity `Joe`");
    // Groups of people are NORP, one per group however written; a country is one place by any
    // of its names; an acronym is the name it spells.
    let by_name = |n: &str| entities.iter().find(|e| e["name"] == n).unwrap_or_else(|| panic!("{n}: {entities:#?}"));
    for group in ["Israeli", "Palestinians"] {
        assert_eq!(by_name(group)["type"], "NORP", "{group}");
    }
    assert!(!entities.iter().any(|e| e["type"] == "NORP" && e["name"] == "Israelis"), "Israelis and Israeli are one group");
    let us = by_name("United States");
    assert_eq!(us["type"], "LOC");
    let us_aliases: Vec<&str> = us["aliases"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(us_aliases.contains(&"U.S.") && us_aliases.contains(&"United States"), "{us_aliases:?}");
    assert!(!entities.iter().any(|e| e["name"] == "U.S."), "U.S. is the United States");
    let un: Vec<&str> = by_name("United Nations")["aliases"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(un.contains(&"U.N."), "{un:?}");
    // The story's key names and its thread's title hold no title, weekday or group word.
    let stories = jsonl(&run(&db, &["export", "stories"]));
    for s in &stories {
        for name in s["key_names"].as_array().unwrap().iter().chain(s["key_terms"].as_array().unwrap()) {
            let n = name.as_str().unwrap();
            assert!(!["Secretary", "State", "Israeli", "wednesday", "de", "Deputy Assistant Secretary"].contains(&n), "{n} in {s}");
        }
        let title = s["thread_title"].as_str().unwrap_or_default();
        assert!(!title.split(" · ").any(|w| ["Israeli", "Palestinian", "Israelis"].contains(&w)), "{title}");
    }

    // Titles are kept per mention, with their article: the outlets state Amr's title differently.
    let amr = named("Amr")[0];
    let roles: Vec<&str> = amr["roles"].as_array().unwrap().iter().map(|r| r["role"].as_str().unwrap()).collect();
    assert!(roles.iter().any(|r| r.contains("Deputy Assistant Secretary of State")), "{roles:?}");
    assert!(roles.iter().any(|r| r.contains("deputy secretary of state") && !r.contains("assistant")), "{roles:?}");

    // Every direct quote of Blinken's is attributed to the resolved entity.
    let blinken = named("Blinken")[0]["id"].as_str().unwrap().to_string();
    let quotes = jsonl(&run(&db, &["export", "quotes"]));
    let by_blinken = quotes.iter().filter(|q| q["speaker_entity"] == blinken.as_str()).count();
    assert!(by_blinken >= 10, "{by_blinken} quotes by Blinken: {quotes:#?}");
    let calm = quotes.iter().find(|q| q["text"].as_str().unwrap().starts_with("to urge de-escalation and to bring calm")).unwrap();
    assert_eq!(calm["speaker"], "Antony Blinken");
    assert_eq!(calm["cue"], "said");
    let un = quotes.iter().find(|q| q["text"].as_str().unwrap().starts_with("The United Nations is working")).unwrap();
    assert_eq!(un["speaker"], "Stephane Dujarric");

    // Casualty and rocket figures with what they count and who reported them.
    let figures = jsonl(&run(&db, &["export", "figures"]));
    let fig = |value: f64, what: &str| {
        figures.iter().find(|f| f["value"].as_f64() == Some(value) && f["what"] == what).unwrap_or_else(|| panic!("{value} {what}: {figures:#?}"))
    };
    assert_eq!(fig(56.0, "deaths")["source"], "The Gaza Health Ministry");
    assert_eq!(fig(330.0, "wounded")["qualifier"], "more than");
    assert_eq!(fig(1500.0, "rockets")["source"], "The Israeli military");
    assert_eq!(fig(6.0, "Israelis")["text"], "six");
    assert_eq!(fig(7000.0, "Palestinian workers")["qualifier"], "around");
    // Offsets point at the figure in the article's clean text.
    let articles = jsonl(&run(&db, &["export", "articles"]));
    let f = fig(1500.0, "rockets");
    let text = articles.iter().find(|a| a["id"] == f["article"]).unwrap()["text"].as_str().unwrap();
    let (s, e) = (f["start"].as_u64().unwrap() as usize, f["end"].as_u64().unwrap() as usize);
    assert_eq!(text.chars().skip(s).take(e - s).collect::<String>(), "1,500", "the offsets cover `text`");

    // CSV exports have the documented columns; `entity` shows roles and quotes.
    let csv = run(&db, &["export", "quotes", "--format", "csv"]);
    assert!(csv.starts_with("article,speaker,speaker_mention,speaker_entity,cue,text,start,end\n"), "{csv}");
    let shown = run(&db, &["entity", "Hady Amr"]);
    assert!(shown.contains("roles:") && shown.contains("Mr. Amr"), "{shown}");
    let missing = bin().args(["entity", "Nobody Atall", "--db"]).arg(&db).output().unwrap();
    assert!(!missing.status.success());
}

#[test]
fn tag_reads_conll_and_reports_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let conll = tmp.path().join("s.txt");
    std::fs::write(&conll, "German JJ\nChancellor NNP\nAngela NNP\nMerkel NNP\nvisited VBD\nParis NNP\non IN\nMonday NNP\n. .\n\nThe DT\nend NN\n").unwrap();
    let out = bin().args(["tag", "--conll"]).arg(&conll).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "German\tB-MISC\nChancellor\tO\nAngela\tB-PER\nMerkel\tI-PER\nvisited\tO\nParis\tB-LOC\non\tO\nMonday\tO\n.\tO\n\nThe\tO\nend\tO\n\n"
    );
    let bad = tmp.path().join("bad.txt");
    std::fs::write(&bad, [0xff, 0xfe, 0x00]).unwrap();
    let out = bin().args(["tag", "--conll"]).arg(&bad).arg(tmp.path().join("missing.txt")).output().unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("bad.txt: not UTF-8") && err.contains("missing.txt"), "{err}");
}

/// The MiniLM model scripts/setup-encoder.sh installs (.ci/run does), when it is there.
fn encoder_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2");
    if dir.join("model.safetensors").exists() {
        Some(dir)
    } else {
        eprintln!("skipped: the encoder is not installed at {} (scripts/setup-encoder.sh)", dir.display());
        None
    }
}

#[test]
fn the_encoder_joins_the_tagger_and_a_missing_one_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let conll = tmp.path().join("s.txt");
    std::fs::write(&conll, "German JJ\nChancellor NNP\nAngela NNP\nMerkel NNP\nvisited VBD\nParis NNP\non IN\nMonday NNP\n. .\n\nThe DT\nend NN\n").unwrap();
    let nowhere = tmp.path().join("nowhere");
    let out = bin().args(["tag", "--conll", "--encoder"]).arg(&nowhere).arg(&conll).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("nowhere"), "{}", stderr(&out));
    // Set in the settings, a missing encoder stops the ingest with its name, before any facts.
    let config = tmp.path().join("storyline.toml");
    std::fs::write(&config, format!("[ner]\nencoder = {:?}\n", nowhere.display().to_string())).unwrap();
    let db = tmp.path().join("db");
    let out = bin().arg("--config").arg(&config).args(["ingest", "--db"]).arg(&db).arg(examples_dir()).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("[ner] encoder") && stderr(&out).contains("nowhere"), "{}", stderr(&out));

    let Some(dir) = encoder_dir() else { return };
    let out = bin().args(["tag", "--conll", "--encoder"]).arg(&dir).arg(&conll).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "German\tB-MISC\nChancellor\tO\nAngela\tB-PER\nMerkel\tI-PER\nvisited\tO\nParis\tB-LOC\non\tO\nMonday\tO\n.\tO\n\nThe\tO\nend\tO\n\n"
    );
    // The same sentence with the encoder's scores alone deciding (weights far above the
    // tagger's): still right, so the encoder itself reads the sentence.
    let out = bin().args(["tag", "--conll", "--encoder-weights", "1000,1000", "--encoder"]).arg(&dir).arg(&conll).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let tags: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(|l| l.split('\t').nth(1).unwrap_or("").to_string()).collect();
    assert_eq!(tags[2..4], ["B-PER", "I-PER"], "{tags:?}");
    assert_eq!(tags[5], "B-LOC", "{tags:?}");
    // Ingest with the encoder set: the samples' people are found and resolved as without it.
    std::fs::write(&config, format!("[ner]\nencoder = {:?}\n", dir.display().to_string())).unwrap();
    let out = bin().arg("--config").arg(&config).args(["ingest", "--db"]).arg(&db).arg(examples_dir()).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let entities = jsonl(&run(&db, &["export", "entities"]));
    for name in ["Antony J. Blinken", "Hady Amr", "Benjamin Netanyahu"] {
        assert!(
            entities.iter().any(|e| e["type"] == "PER" && e["aliases"].as_array().unwrap().iter().any(|a| a == name)),
            "{name} is no person: {entities:#?}"
        );
    }
}
