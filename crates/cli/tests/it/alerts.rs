//! Alerts end to end: `storyline alert add` with a loopback webhook (that fails once) and a
//! file; each matching story is delivered once when it appears and once more when it grows
//! past the stated number of new outlets; deliveries are signed; the API and UI pages.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde_json::{json, Value};

use crate::serve::{sample_store, Server};
use crate::{bin, examples_dir, jsonl, run, stderr};

/// One request the webhook received: its headers (lowercase names) and body.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }
}

/// A webhook on loopback that answers 503 to its first `failures` requests, then 204.
fn webhook(failures: usize) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut headers = Vec::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) <= 2 {
                    break;
                }
                if let Some((k, v)) = line.trim_end().split_once(':') {
                    headers.push((k.trim().to_lowercase(), v.trim().to_owned()));
                }
            }
            let length: usize = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let n = {
                let mut all = seen.lock().unwrap();
                all.push(Received { headers, body: String::from_utf8_lossy(&body).into_owned() });
                all.len()
            };
            let status = if n <= failures { "503 Service Unavailable" } else { "204 No Content" };
            let mut stream = stream;
            let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, got)
}

fn signature(secret: &str, body: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// A light rewrite of sample 001 under another outlet: it joins the story of the envoy.
fn add_outlet(db: &std::path::Path, outlet: &str) {
    let text = std::fs::read_to_string(examples_dir().join("001_cd5b6eb30dfdc74c.txt")).unwrap().replace("[ad_1]", "");
    let item = json!({"id": format!("alert-{outlet}"), "url": format!("https://{outlet}/envoy"), "outlet": outlet,
                      "title": "U.S. envoy heads to the Middle East as violence mounts", "published": "2021-05-13", "text": text});
    let input = db.join(format!("{outlet}.jsonl"));
    std::fs::write(&input, format!("{item}\n")).unwrap();
    run(db, &["ingest", "--no-progress", input.to_str().unwrap()]);
}

fn check(db: &std::path::Path) -> String {
    let out = bin().args(["alert", "check", "--db"]).arg(db).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stderr(&out)
}

#[test]
fn an_alert_reports_each_story_once_per_growth_level_signed_and_to_its_file() {
    let db = sample_store();
    let (hook, received) = webhook(1);
    let file = db.path().join("alerts.jsonl");
    let added = run(db.path(), &["alert", "add", "envoy", "Amr", "--webhook", &hook, "--file", file.to_str().unwrap(), "--grow-by", "2"]);
    let secret = added.rsplit(' ').next().unwrap().trim().to_owned();
    assert_eq!(secret.len(), 64, "{added}");
    run(db.path(), &["alert", "add", "quiet", "zzzunmatched", "--file", file.to_str().unwrap()]);

    // The story that matches now is reported once, although the webhook failed at first.
    check(db.path());
    let first: Vec<Received> = received.lock().unwrap().clone();
    assert_eq!(first.len(), 2, "one failed try and one delivery: {first:?}");
    assert_eq!(first[0].body, first[1].body, "a retry sends the same report");
    let report: Value = serde_json::from_str(&first[1].body).unwrap();
    assert_eq!((&report["alert"], &report["level"]), (&json!("envoy"), &json!(0)), "{report}");
    assert!(report["matched"].as_array().is_some_and(|m| !m.is_empty()));
    let story = report["story"].as_str().unwrap().to_owned();
    assert_eq!(first[1].header("x-storyline-signature"), signature(&secret, &first[1].body), "signed with the alert's secret");
    assert_ne!(first[1].header("x-storyline-signature"), signature("another secret", &first[1].body));
    assert_eq!(first[1].header("x-storyline-delivery"), format!("envoy/{story}/0"));
    assert_eq!(first[1].header("content-type"), "application/json");
    let lines = |f: &std::path::Path| jsonl(&std::fs::read_to_string(f).unwrap_or_default());
    assert_eq!(lines(&file).len(), 1, "and appended to the file once");

    // Nothing new: nothing is sent again.
    check(db.path());
    assert_eq!(received.lock().unwrap().len(), 2);
    // One new outlet is less than --grow-by 2: no report.
    add_outlet(db.path(), "one.example");
    check(db.path());
    assert_eq!(received.lock().unwrap().len(), 2);
    // A second new outlet: reported again, once.
    add_outlet(db.path(), "two.example");
    check(db.path());
    check(db.path());
    let all = received.lock().unwrap().clone();
    assert_eq!(all.len(), 3, "{all:?}");
    let grown: Value = serde_json::from_str(&all[2].body).unwrap();
    assert_eq!((&grown["story"], &grown["level"]), (&json!(story), &json!(1)), "{grown}");
    assert_eq!(grown["new_outlets"], json!(["one.example", "two.example"]), "{grown}");
    assert_eq!(all[2].header("x-storyline-signature"), signature(&secret, &all[2].body));
    let in_file = lines(&file);
    assert_eq!(in_file.iter().map(|r| r["level"].as_u64().unwrap()).collect::<Vec<_>>(), [0, 1]);
    assert!(in_file.iter().all(|r| r["alert"] == "envoy"), "the alert that matches nothing reports nothing");

    let listed: Vec<Value> = jsonl(&run(db.path(), &["alert", "list", "--json"]));
    let envoy = listed.iter().find(|a| a["name"] == "envoy").unwrap();
    assert_eq!((&envoy["reports"], &envoy["pending"], &envoy["secret"]), (&json!(2), &json!(0), &Value::Null), "{envoy}");
    assert!(run(db.path(), &["alert", "remove", "quiet"]).contains("removed"));
    let out = bin().args(["alert", "remove", "quiet", "--db"]).arg(db.path()).output().unwrap();
    assert!(!out.status.success() && stderr(&out).contains("no alert `quiet`"));
    let out = bin().args(["alert", "add", "bad", "Amr", "--webhook", "ftp://x", "--db"]).arg(db.path()).output().unwrap();
    assert!(!out.status.success() && stderr(&out).contains("not an http(s) address"), "{}", stderr(&out));
}

#[test]
fn a_webhook_that_keeps_failing_is_reported_and_tried_again_later() {
    let db = sample_store();
    // Nothing listens there.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    run(db.path(), &["alert", "add", "envoy", "Amr", "--webhook", &format!("http://{closed}/hook")]);
    let out = bin().args(["alert", "check", "--db"]).arg(db.path()).output().unwrap();
    assert!(!out.status.success(), "a failed delivery fails the check");
    assert!(stderr(&out).contains("1 failed"), "{}", stderr(&out));
    let listed: Vec<Value> = jsonl(&run(db.path(), &["alert", "list", "--json"]));
    assert_eq!((&listed[0]["reports"], &listed[0]["pending"]), (&json!(1), &json!(1)), "kept to deliver later: {listed:?}");
}

#[test]
fn alerts_and_sources_over_the_api_and_in_the_ui() {
    let db = sample_store();
    let server = Server::start(db.path());
    let (status, body) = server.request("POST", "/alerts", r#"{"name": "envoy", "query": "Amr", "webhook": "http://127.0.0.1:9/hook", "grow_by": 2}"#);
    assert_eq!(status, 201, "{body}");
    let created: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(created["secret"].as_str().map(str::len), Some(64));
    // A file on the server cannot be named over the API.
    let (status, body) = server.request("POST", "/alerts", r#"{"name": "f", "query": "Amr", "webhook": "http://127.0.0.1:9/", "file": "/etc/cron.d/x"}"#);
    assert_eq!(status, 400, "{body}");
    let (status, body) = server.request("POST", "/alerts", r#"{"name": "q", "query": "Amr", "webhook": "javascript:alert(1)"}"#);
    assert_eq!(status, 400, "{body}");
    let (_, alerts) = server.json("/alerts");
    assert_eq!(alerts["alerts"].as_array().unwrap().len(), 1);
    assert!(alerts["alerts"][0].get("secret").is_none(), "{alerts}");
    let (status, page) = server.request("GET", "/ui/alerts", "");
    assert_eq!(status, 200);
    assert!(page.contains("<code>Amr</code>") && page.contains("id=\"new-alert\""), "{page}");
    let (status, _) = server.request("DELETE", "/alerts/envoy", "");
    assert_eq!(status, 204);
    let (status, _) = server.request("DELETE", "/alerts/envoy", "");
    assert_eq!(status, 404);
    let (status, sources) = server.json("/sources");
    assert_eq!((status, sources["sources"].as_array().map(Vec::len)), (200, Some(0)));
    let (status, page) = server.request("GET", "/ui/sources", "");
    assert_eq!(status, 200);
    assert!(page.contains("0 sources followed"), "{page}");
}

#[test]
fn alerts_are_checked_and_delivered_on_postgres() {
    let Some(url) = storyline_store::conformance::fresh_pg_database("alerts") else { return };
    let index = tempfile::tempdir().unwrap();
    let pg = ["--db", url.as_str(), "--index-dir", index.path().to_str().unwrap()];
    let out = bin().arg("ingest").arg("--no-progress").args(pg).arg(examples_dir()).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let (hook, received) = webhook(0);
    let out = bin().args(["alert", "add", "envoy", "Amr", "--webhook", &hook]).args(pg).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    for _ in 0..2 {
        let out = bin().args(["alert", "check"]).args(pg).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "delivered once: {got:?}");
    let report: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(report["level"], 0);
}
