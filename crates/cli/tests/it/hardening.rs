//! Regression tests of the hardening issue: inputs and requests that used to take Storyline
//! down, lose data or leak resources.

use std::io::Write;

use super::*;

const ARTICLE: &str = "Bridge reopens after repairs\n\nThe old bridge over the river reopened on Friday after two years of repairs, the city said in a statement.\n\nTraffic is expected to be heavy during the first week, officials said.\n";

/// A page that panicked inside html5ever (a `charset` attribute word with no value).
const PANICKING_PAGE: &str =
    r#"<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset"><title>t</title></head><body><p>x</p></body></html>"#;

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

const TOKEN: &str = "test-token-0123456789abcdef";

fn error_code(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("not the JSON error ({e}): {body:?}"));
    v["error"]["code"].as_str().unwrap_or_else(|| panic!("no error code: {body}")).to_owned()
}

#[test]
fn no_query_takes_the_server_down() {
    let db = crate::serve::sample_store();
    let server = crate::serve::Server::start(db.path());
    let deep = format!("{}gaza{}", "(".repeat(3000), ")".repeat(3000));
    for path in ["/search?q=", "/stories?q="] {
        let (status, body) = server.request("GET", &format!("{path}{deep}"), "");
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(error_code(&body), "bad_query");
        assert!(body.contains("more than 32 deep"), "{body}");
    }
    // The UI answers with an error page, and the server is still up.
    let (status, head, body) = server.send("GET", &format!("/?q={deep}"), &[], "");
    assert_eq!(status, 400, "{body}");
    assert!(head.contains("content-type: text/html") && body.contains("more than 32 deep"));
    let (status, body) = server.request("GET", "/search?q=title:*", "");
    assert_eq!((status, error_code(&body).as_str()), (400, "bad_query"), "{body}");
    assert_eq!(server.json("/healthz").0, 200);
    // The CLI says the same, and exits 2.
    let out = bin().args(["search", "--db"]).arg(db.path()).arg(&deep).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("more than 32 deep"));
}

#[test]
fn writes_need_the_token_json_and_the_same_origin() {
    let db = crate::serve::sample_store();
    let server = crate::serve::Server::start_with(db.path(), &["--token", TOKEN]);
    let article = r#"{"text": "The harbour authority said on Monday that 42 fishing boats were stranded by ice in the north of the bay.", "title": "Boats stranded by ice"}"#;
    let bearer = format!("Bearer {TOKEN}");
    let json = ("Content-Type", "application/json");
    type Headers<'a> = &'a [(&'a str, &'a str)];
    let cases: [(Headers, u16, &str); 6] = [
        (&[json], 401, "unauthorized"),
        (&[json, ("Authorization", "Bearer wrong-token-0123456789")], 401, "unauthorized"),
        (&[("Content-Type", "text/plain"), ("Authorization", &bearer)], 415, "unsupported_media_type"),
        (&[json, ("Authorization", &bearer), ("Origin", "https://evil.example")], 403, "forbidden"),
        (&[json, ("Authorization", &bearer), ("Sec-Fetch-Site", "cross-site")], 403, "forbidden"),
        (&[("Authorization", &bearer)], 415, "unsupported_media_type"),
    ];
    for (headers, status, code) in cases {
        let (got, head, body) = server.send("POST", "/articles", headers, article);
        assert_eq!((got, error_code(&body).as_str()), (status, code), "{headers:?}: {body}");
        if status == 401 {
            assert!(head.contains("www-authenticate: bearer"), "{head}");
        }
    }
    let before = server.json("/healthz").1["articles"].as_u64().unwrap();
    let (status, _, body) = server.send("POST", "/articles", &[json, ("Authorization", &bearer)], article);
    assert_eq!(status, 201, "{body}");
    assert_eq!(server.json("/healthz").1["articles"].as_u64().unwrap(), before + 1, "only the authorised write was stored");
}

#[test]
fn listening_beyond_loopback_needs_a_token() {
    let db = tempfile::tempdir().unwrap();
    let out = bin().args(["serve", "--addr", "0.0.0.0:0", "--db"]).arg(db.path()).env_remove("STORYLINE_TOKEN").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("refusing to listen on 0.0.0.0:0 without a token") && err.contains("--token or STORYLINE_TOKEN"), "{err}");
    let out = bin().args(["serve", "--addr", "0.0.0.0:0", "--token", "short", "--db"]).arg(db.path()).output().unwrap();
    assert!(stderr(&out).contains("too short"), "{}", stderr(&out));
}

#[test]
fn every_error_is_the_json_error_and_pages_carry_security_headers() {
    let db = crate::serve::sample_store();
    let server = crate::serve::Server::start_with(db.path(), &["--max-body-bytes", "1000"]);
    let big = format!("{{\"text\": \"{}\"}}", "word ".repeat(400));
    for (method, path, body, status, code) in [
        ("DELETE", "/stories", "", 405, "method_not_allowed"),
        ("GET", "/no/such/route", "", 404, "not_found"),
        ("POST", "/articles", big.as_str(), 413, "too_large"),
        ("POST", "/articles", "{not json", 400, "bad_request"),
        ("GET", "/articles/%FF%FE", "", 400, "bad_request"),
        ("GET", "/stories?limit=100000", "", 400, "bad_request"),
    ] {
        let (got, head, text) = server.send(method, path, &[("Content-Type", "application/json")], body);
        assert_eq!((got, error_code(&text).as_str()), (status, code), "{method} {path}: {text}");
        assert!(head.contains("content-type: application/json"), "{head}");
    }
    let (status, head, _) = server.send("GET", "/", &[], "");
    assert_eq!(status, 200);
    assert!(head.contains("content-security-policy: default-src 'none'") && head.contains("frame-ancestors 'none'"), "{head}");
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    let (status, head, js) = server.send("GET", "/assets/storyline.js", &[], "");
    assert!(status == 200 && head.contains("text/javascript") && js.contains("onlyDiffs"));
}

#[test]
fn slow_and_idle_connections_are_closed_and_capped() {
    use std::io::Read;
    let db = crate::serve::sample_store();
    let server = crate::serve::Server::start_with(db.path(), &["--header-timeout", "1", "--max-connections", "2"]);
    let started = std::time::Instant::now();
    // Two clients hold every connection: one sends half a header, one sends nothing.
    let mut slow = std::net::TcpStream::connect(&server.addr).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
    let mut idle = std::net::TcpStream::connect(&server.addr).unwrap();
    for s in [&mut slow, &mut idle] {
        s.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    }
    // A third client is served once the header timeout closed them.
    assert_eq!(server.json("/healthz").0, 200);
    for s in [&mut slow, &mut idle] {
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        assert!(!String::from_utf8_lossy(&rest).contains("\"status\":\"ok\""), "no answer to an incomplete request");
    }
    let waited = started.elapsed();
    assert!(waited < std::time::Duration::from_secs(15), "connections were held for {waited:?}");
}

#[test]
fn a_huge_warc_record_is_cut_with_an_error_and_the_next_one_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let para = "<p>The council met on Monday and agreed to rebuild the old bridge over the river by next spring.</p>";
    let mut warc = crate::bad_input::warc_record("https://news.example.org/2021/05/12/huge", &format!("<html><body>{}</body></html>", para.repeat(50_000)));
    warc.extend(crate::bad_input::warc_record("https://news.example.org/2021/05/12/next", &format!("<html><body><h1>Next</h1>{para}</body></html>")));
    let path = dir.path().join("crawl.warc");
    std::fs::write(&path, warc).unwrap();
    let out = bin().args(["extract", "--max-document-bytes", "100000"]).arg(&path).output().unwrap();
    let err = stderr(&out);
    assert!(err.contains("crawl.warc#1: record larger than 100000 bytes"), "{err}");
    let docs = jsonl(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(docs.len(), 2, "{err}");
    assert!(docs[0]["text"].as_str().unwrap().len() < 100_000);
    assert!(docs[0]["warnings"].to_string().contains("truncated"));
    assert_eq!(docs[1]["url"], "https://news.example.org/2021/05/12/next");
}

#[test]
fn stdin_is_spooled_up_to_its_limit_and_never_left_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let db = dir.path().join("db");
    // Over the limit: what fits is read, with an error.
    let mut child = bin()
        .args(["ingest", "--no-progress", "--max-stdin-bytes", "2000", "--db"])
        .arg(&db)
        .arg("-")
        .env("TMPDIR", &tmp)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(ARTICLE.repeat(100).as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("standard input is larger than 2000 bytes"), "{}", stderr(&out));
    // Killed while spooling: nothing is left in the temporary directory, before or after.
    let mut child =
        bin().args(["ingest", "--no-progress", "--db"]).arg(&db).arg("-").env("TMPDIR", &tmp).stdin(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for _ in 0..200 {
        stdin.write_all(ARTICLE.as_bytes()).unwrap();
    }
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "the spool has no name on disk");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
}

#[test]
fn no_input_is_lost_for_a_stray_byte_or_a_broken_escape() {
    let dir = tempfile::tempdir().unwrap();
    let line =
        |title: &str| serde_json::json!({"title": title, "text": format!("{title}: the council met on Monday and agreed to rebuild the bridge.")}).to_string();
    // A NUL in the first line; a lone surrogate escape in the third.
    let dump = format!(
        "{{\"title\": \"nul\", \"text\": \"a\0b\"}}\n{}\n{{\"title\": \"emoji\", \"text\": \"Half an emoji \\ud83d here, the council said on Monday.\"}}\n{}\n",
        line("second"),
        line("fourth")
    );
    let path = dir.path().join("dump.jsonl");
    std::fs::write(&path, dump).unwrap();
    // A file named .gz that is not gzip.
    let fake = dir.path().join("article.txt.gz");
    std::fs::write(&fake, ARTICLE).unwrap();
    let (docs, out) = extract(&[&path, &fake]);
    let err = stderr(&out);
    let titles: Vec<&str> = docs.iter().filter_map(|d| d["title"].as_str()).collect();
    assert_eq!(titles, ["second", "emoji", "fourth", "Bridge reopens after repairs"], "{err}");
    assert!(err.contains("dump.jsonl#1: not valid JSON"), "{err}");
    assert!(err.contains("dump.jsonl#3: lone UTF-16 surrogate"), "{err}");
    assert!(err.contains("article.txt.gz: named like a gzip file but not gzip-compressed"), "{err}");
}

#[test]
fn a_reader_that_goes_away_is_not_an_error() {
    let db = crate::serve::sample_store();
    let id = jsonl(&run(db.path(), &["export", "articles"]))[0]["id"].as_str().unwrap().to_owned();
    let story = jsonl(&run(db.path(), &["stories", "--json"]))[0]["id"].as_str().unwrap().to_owned();
    for args in [
        vec!["show", id.as_str()],
        vec!["report", story.as_str()],
        vec!["report", story.as_str(), "--format", "json"],
        vec!["export", "articles", "--format", "csv"],
    ] {
        // The pipe's reading end is closed before the command writes.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = bin().args(&args).arg("--db").arg(db.path()).stdout(writer).stderr(Stdio::piped()).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).is_empty(), "{args:?}: {}", stderr(&out));
    }
}

/// Exports that must come out the same however the ingest was interrupted (the time of
/// storage left out).
fn exports(db: &Path) -> Vec<String> {
    ["articles", "copies", "stories"]
        .iter()
        .map(|what| {
            let mut rows = jsonl(&run(db, &["export", what]));
            for r in &mut rows {
                if let Some(o) = r.as_object_mut() {
                    o.remove("ingested_at");
                }
            }
            rows.iter().map(Value::to_string).collect::<Vec<_>>().join("\n")
        })
        .collect()
}

#[test]
fn kill_9_at_random_points_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    let towns = ["Tromso", "Bergen", "Lyon", "Porto", "Graz", "Split", "Turku", "Ghent"];
    let events = ["a bridge reopened", "a ferry strike ended", "schools closed for snow", "a fire destroyed a warehouse", "the council approved a budget"];
    for k in 0..160 {
        let (town, event) = (towns[k % towns.len()], events[(k / towns.len()) % events.len()]);
        let text = format!(
            "In {town}, {event}\n\nOfficials in {town} said on Monday that {event}, report number {k}. The mayor said the town would publish details this week.\n\nResidents of {town} said {event} after weeks of uncertainty, and local businesses welcomed the news.\n"
        );
        std::fs::write(inputs.join(format!("{k:03}.txt")), text).unwrap();
    }
    let clean = dir.path().join("clean");
    run(&clean, &["ingest", "--no-progress", inputs.to_str().unwrap()]);
    let expected = exports(&clean);
    // Random kill points over the length of a clean run, from a seed the failure message shows.
    let started = std::time::Instant::now();
    run(&dir.path().join("timing"), &["ingest", "--no-progress", inputs.to_str().unwrap()]);
    let span = started.elapsed().as_millis() as u64;
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut state = seed | 1;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let db = dir.path().join("killed");
    let mut stored = 0;
    for round in 0..5 {
        let delay = next() % span.max(1);
        let mut child = bin().args(["ingest", "--no-progress", "--db"]).arg(&db).arg(&inputs).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay));
        let _ = child.kill();
        child.wait().unwrap();
        // The store opens and keeps everything stored before.
        let now = run(&db, &["export", "articles"]).lines().count();
        assert!(now >= stored, "seed {seed}, round {round} (kill after {delay} ms): {now} articles after {stored}");
        stored = now;
    }
    run(&db, &["ingest", "--no-progress", inputs.to_str().unwrap()]);
    let got = exports(&db);
    for (what, (e, g)) in ["articles", "copies", "stories"].iter().zip(expected.iter().zip(&got)) {
        assert!(e == g, "seed {seed}: the {what} export differs from a clean run's");
    }
}
