//! `storyline follow` against a loopback HTTP server: killed with SIGKILL in the middle of a
//! poll and started again, it loses nothing and stores nothing twice; the archive reproduces
//! the store.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::{bin, jsonl, run};

const PAGES: usize = 8;

/// A small HTTP/1.1 server (one thread per connection, `Connection: close`): a feed of
/// [`PAGES`] pages, each answered after a pause so that a poll takes a few seconds.
fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let feed_base = base.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let base = feed_base.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let (status, body) = if path == "/feed.xml" {
                    let items: String = (0..PAGES).map(|i| format!("<item><title>Page {i}</title><link>{base}/p/{i}?utm_source=feed</link></item>")).collect();
                    ("200 OK", format!("<rss version=\"2.0\"><channel><title>Loop</title>{items}</channel></rss>"))
                } else if let Some(n) = path.strip_prefix("/p/") {
                    std::thread::sleep(Duration::from_millis(250));
                    let words = ["harbour", "railway", "council", "election"];
                    let w = words[n.len() % words.len()];
                    let paras: String = (0..10).map(|k| format!("<p>Sentence {k} of page {n} on the {w} question, reported with detail {k}.</p>")).collect();
                    ("200 OK", format!("<html><head><title>Page {n} about the {w}</title></head><body><article>{paras}</article></body></html>"))
                } else {
                    ("404 Not Found", String::new())
                };
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    base
}

fn urls(db: &std::path::Path) -> Vec<String> {
    let mut urls: Vec<String> = jsonl(&run(db, &["export", "articles"])).iter().map(|a| a["url"].as_str().unwrap().to_owned()).collect();
    urls.sort();
    urls
}

#[test]
fn a_killed_follower_resumes_without_loss_or_duplicates() {
    let base = serve();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let feed = format!("{base}/feed.xml");
    let follow = |every: bool| {
        let mut cmd = bin();
        cmd.args(["follow", "--host-delay", "1s", "--db"]).arg(&db).arg(&feed);
        if every {
            cmd.args(["--every", "1h"]);
        }
        cmd
    };
    // Killed part-way through its first poll (8 pages at least a second apart).
    let mut child = follow(true).stderr(std::process::Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(4));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(started.elapsed() < Duration::from_secs(8 + 4), "the poll should still have been running");

    // Started again: it resumes, and every page is stored once.
    let out = follow(false).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let want: Vec<String> = {
        let mut v: Vec<String> = (0..PAGES).map(|i| format!("{base}/p/{i}")).collect();
        v.sort();
        v
    };
    assert_eq!(urls(&db), want);
    let sources = jsonl(&run(&db, &["sources", "--json"]));
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0]["url"], feed.as_str());
    assert_eq!(sources[0]["failures"], 0);

    // A second run right after does not ask the source again before it is due.
    let again = follow(false).output().unwrap();
    assert!(String::from_utf8_lossy(&again.stderr).contains("0 sources polled"), "{}", String::from_utf8_lossy(&again.stderr));

    // The archive alone reproduces the articles.
    let fresh = dir.path().join("fresh");
    let archive: Vec<std::path::PathBuf> = std::fs::read_dir(db.join("archive")).unwrap().map(|e| e.unwrap().path()).collect();
    let mut ingest = bin();
    ingest.arg("ingest").arg("--db").arg(&fresh).args(&archive);
    assert!(ingest.output().unwrap().status.success());
    assert_eq!(urls(&fresh), want);
}

/// Two processes poll the same feed into the same store at the same time (each fetches what it
/// finds unfetched; the store keeps one article per page).
fn two_followers_at_once(db: &str, extra: &[&str], archive: &Path) {
    let base = serve();
    let feed = format!("{base}/feed.xml");
    let spawn = || {
        bin()
            .args(["follow", "--host-delay", "1s", "--db", db])
            .args(extra)
            .arg("--archive")
            .arg(archive)
            .arg(&feed)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let want: Vec<String> = {
        let mut v: Vec<String> = (0..PAGES).map(|i| format!("{base}/p/{i}")).collect();
        v.sort();
        v
    };
    let export = bin().args(["export", "articles", "--db", db]).args(extra).output().unwrap();
    let mut got: Vec<String> = jsonl(&String::from_utf8_lossy(&export.stdout)).iter().map(|a| a["url"].as_str().unwrap().to_owned()).collect();
    got.sort();
    assert_eq!(got, want, "each page stored once");
    let stories = bin().args(["stories", "--json", "--db", db]).args(extra).output().unwrap();
    let members: u64 = jsonl(&String::from_utf8_lossy(&stories.stdout)).iter().map(|s| s["articles"].as_u64().unwrap()).sum();
    assert_eq!(members, PAGES as u64, "each article in one story");
    let sources = bin().args(["sources", "--json", "--db", db]).args(extra).output().unwrap();
    assert_eq!(jsonl(&String::from_utf8_lossy(&sources.stdout)).len(), 1);
}

#[test]
fn two_followers_of_one_feed_at_once_store_each_article_once() {
    let dir = tempfile::tempdir().unwrap();
    two_followers_at_once(dir.path().join("db").to_str().unwrap(), &[], &dir.path().join("archive"));
}

#[test]
fn two_followers_of_one_feed_at_once_on_postgres() {
    let Some(url) = storyline_store::conformance::fresh_pg_database("followers") else { return };
    let (index, archive) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // (A PostgreSQL store has no directory: the archive would go to ./storyline-archive.)
    two_followers_at_once(&url, &["--index-dir", index.path().to_str().unwrap()], archive.path());
}

/// `follow --queue`: what the follower fetches goes to the work queue, a worker stores it, and
/// the pages count as fetched only once the queue acknowledged them (a second poll fetches
/// nothing again).
#[test]
fn a_follower_publishes_to_the_queue_and_a_worker_stores_it() {
    let Some(nats_bin) = crate::queue::nats_binary() else { return };
    let Some(db) = storyline_store::conformance::fresh_pg_database("follow_queue") else { return };
    let nats = crate::queue::Nats::start(nats_bin);
    let (index, archive) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let extra = ["--index-dir", index.path().to_str().unwrap()];
    let base = serve();
    let feed = format!("{base}/feed.xml");
    let follow = || {
        let out = bin()
            .args(["follow", "--host-delay", "1s", "--db", &db])
            .args(extra)
            .arg("--archive")
            .arg(archive.path())
            .args(["--queue", &nats.url()])
            .arg(&feed)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let first = follow();
    assert!(first.contains(&format!("{PAGES} articles added")), "{first}");
    let export = bin().args(["export", "articles", "--db", &db]).args(extra).output().unwrap();
    assert!(export.stdout.is_empty(), "nothing is stored before a worker runs");
    let out = bin().args(["worker", "--db", &db]).args(extra).args(["--queue", &nats.url(), "--until-idle", "2s"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let export = bin().args(["export", "articles", "--db", &db]).args(extra).output().unwrap();
    let mut got: Vec<String> = jsonl(&String::from_utf8_lossy(&export.stdout)).iter().map(|a| a["url"].as_str().unwrap().to_owned()).collect();
    got.sort();
    let mut want: Vec<String> = (0..PAGES).map(|i| format!("{base}/p/{i}")).collect();
    want.sort();
    assert_eq!(got, want);
    let second = follow();
    assert!(second.contains(" 0 pages fetched") && second.contains("0 articles added"), "{second}");
}
