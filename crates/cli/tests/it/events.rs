//! `GET /events`: a client of the event stream of a running server sees an article that
//! another process stores, and the growth of its story; a client that reconnects with
//! `Last-Event-ID` gets what it missed; filters and bad parameters; the stream ends when the
//! server stops.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::serve::{sample_store, Server};
use crate::{examples_dir, run};

/// An open event stream over raw HTTP/1.1.
struct Stream {
    socket: TcpStream,
    buffer: String,
}

impl Stream {
    fn open(server: &Server, path: &str, headers: &[(&str, &str)]) -> Stream {
        let mut socket = TcpStream::connect(&server.addr).unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
        write!(socket, "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n{extra}\r\n", server.addr).unwrap();
        let mut stream = Stream { socket, buffer: String::new() };
        stream.until("the response head", Duration::from_secs(20), |b| b.contains("\r\n\r\n"));
        let head = stream.buffer.to_lowercase();
        assert!(head.starts_with("http/1.1 200") && head.contains("content-type: text/event-stream"), "{head}");
        stream
    }

    /// Reads until `done` holds for what was read (or the stream ends); panics past `limit`.
    fn until(&mut self, what: &str, limit: Duration, done: impl Fn(&str) -> bool) -> bool {
        let started = Instant::now();
        let mut chunk = [0u8; 8192];
        while !done(&self.buffer) {
            assert!(started.elapsed() < limit, "{what}: not within {limit:?}; read so far:\n{}", self.buffer);
            match self.socket.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => self.buffer.push_str(&String::from_utf8_lossy(&chunk[..n])),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) => panic!("{what}: {e}"),
            }
        }
        true
    }

    /// The first event read that `wanted` admits, waiting for it up to `limit`.
    fn event(&mut self, what: &str, limit: Duration, wanted: impl Fn(&Event) -> bool) -> Event {
        let found = |b: &str| parse(b).into_iter().find(|e| wanted(e));
        self.until(what, limit, |b| found(b).is_some());
        found(&self.buffer).unwrap_or_else(|| panic!("{what}: the stream ended:\n{}", self.buffer))
    }

    fn events(&self) -> Vec<Event> {
        parse(&self.buffer)
    }
}

/// An event: (id, type, data).
type Event = (String, String, Value);

/// The events of a stream read so far.
fn parse(buffer: &str) -> Vec<Event> {
    let body = buffer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let mut out = Vec::new();
    let (mut id, mut kind) = (String::new(), String::new());
    for line in body.lines() {
        if let Some(v) = line.strip_prefix("id: ").or_else(|| line.strip_prefix("id:")) {
            id = v.trim().to_owned();
        } else if let Some(v) = line.strip_prefix("event: ").or_else(|| line.strip_prefix("event:")) {
            kind = v.trim().to_owned();
        } else if let Some(v) = line.strip_prefix("data: ").or_else(|| line.strip_prefix("data:")) {
            if let Ok(data) = serde_json::from_str(v) {
                out.push((std::mem::take(&mut id), std::mem::take(&mut kind), data));
            }
        }
    }
    out
}

/// A light rewrite of a sample article under another outlet: it joins that article's story.
fn rewrite_of(sample: &str, outlet: &str) -> Value {
    let text = std::fs::read_to_string(examples_dir().join(sample)).unwrap().replace("[ad_1]", "");
    json!({"id": format!("live-{outlet}"), "url": format!("https://{outlet}/news/diplomat-heads-to-middle-east"), "outlet": outlet,
           "title": "U.S. envoy heads to the Middle East as violence mounts", "published": "2021-05-13", "text": text})
}

#[test]
fn an_event_stream_client_sees_articles_stored_by_another_process_and_their_stories() {
    let db = sample_store();
    let server = Server::start(db.path());
    let mut all = Stream::open(&server, "/events", &[]);
    let mut stories_only = Stream::open(&server, "/events?type=story_grew,story_created", &[]);

    // Another process stores an article.
    let input = db.path().join("live.jsonl");
    std::fs::write(&input, format!("{}\n", rewrite_of("001_cd5b6eb30dfdc74c.txt", "live.example"))).unwrap();
    run(db.path(), &["ingest", "--no-progress", input.to_str().unwrap()]);

    let limit = Duration::from_secs(30);
    let (first_id, _, stored) = all.event("article_stored", limit, |e| e.1 == "article_stored" && e.2["outlet"] == "live.example");
    let article = stored["article"].as_str().unwrap().to_owned();
    assert_eq!(stored["type"], "article_stored");
    assert!(stored["at"].as_str().is_some_and(|t| t.ends_with('Z')), "{stored}");
    // It joined the story of the article it rewrites, which grew by one new outlet.
    let joined = |e: &Event| e.1 == "story_grew" && e.2["new_articles"].as_array().is_some_and(|a| a.iter().any(|x| x == article.as_str()));
    let (_, _, grew) = all.event("story_grew", limit, joined);
    assert_eq!(grew["new_outlets"], json!(["live.example"]), "{grew}");
    let story = grew["story"].as_str().unwrap().to_owned();
    let (_, body) = server.request("GET", &format!("/stories/{story}"), "");
    assert!(body.contains(&article), "the story of the event holds the article: {body}");
    // The filtered stream has the story event and nothing else.
    stories_only.event("story_grew on the filtered stream", limit, joined);
    assert!(stories_only.events().iter().all(|e| e.1 == "story_grew" || e.1 == "story_created"), "{:?}", stories_only.events());
    // Ids increase.
    let ids: Vec<u64> = all.events().iter().map(|e| e.0.rsplit(':').next().unwrap().parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    // A client that reconnects after the first event gets the rest again, in order; one whose
    // last event the server cannot know is told to reload.
    let mut again = Stream::open(&server, "/events", &[("Last-Event-ID", &first_id)]);
    again.event("the replayed story_grew", limit, joined);
    assert!(again.events().iter().all(|e| e.0 != first_id), "the event it saw is not sent again");
    let mut lost = Stream::open(&server, "/events?since=1:1", &[]);
    lost.event("a reset", limit, |e| e.1 == "reset");

    // Parameters are checked.
    let (status, body) = server.request("GET", "/events?type=story_exploded", "");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("story_exploded"), "{body}");

    // The server stops with streams open, and the streams end.
    let pid = server.pid().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let ended = all.until("the end of the stream", Duration::from_secs(30), |_| false);
    assert!(!ended);
}

#[test]
fn serve_follows_a_watched_folder_and_streams_what_arrives_in_it() {
    let db = tempfile::tempdir().unwrap();
    let inbox = tempfile::tempdir().unwrap();
    // A file there before the server starts is ingested at the first look.
    std::fs::write(inbox.path().join("early.jsonl"), format!("{}\n", rewrite_of("000_ee6209165108b612.txt", "early.example"))).unwrap();
    let folder = inbox.path().to_str().unwrap();
    let server = Server::start_with(db.path(), &["--follow", folder, "--every", "1m"]);
    let limit = Duration::from_secs(30);
    let count = |server: &Server| server.json("/healthz").1["articles"].as_u64().unwrap();
    let started = Instant::now();
    while count(&server) < 1 {
        assert!(started.elapsed() < limit, "the file already in the folder was not ingested");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut stream = Stream::open(&server, "/events?type=article_stored", &[]);

    // A file written into the folder (in two parts, as a slow writer does) arrives once, whole,
    // well before the next poll is due.
    let path = inbox.path().join("sub").join("late.jsonl");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let line = format!("{}\n", rewrite_of("004_49a082d0ec2fb85f.txt", "late.example"));
    let (head, tail) = line.split_at(line.len() / 2);
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(head.as_bytes()).unwrap();
    file.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    file.write_all(tail.as_bytes()).unwrap();
    drop(file);
    let (_, _, stored) = stream.event("the folder's new article", limit, |e| e.2["outlet"] == "late.example");
    assert_eq!(stored["title"], "U.S. envoy heads to the Middle East as violence mounts");
    assert_eq!(count(&server), 2);
    // The folder is a source like the others, its files marked once their articles are stored.
    let folder_state = || {
        let sources: Vec<Value> = crate::jsonl(&run(db.path(), &["sources", "--json"]));
        sources.into_iter().find(|s| s["url"].as_str().unwrap().starts_with("folder:")).expect("the folder is listed")
    };
    let started = Instant::now();
    while folder_state()["new_articles"] != 2 {
        assert!(started.elapsed() < limit, "{}", folder_state());
    }
    let source = folder_state();
    assert_eq!((&source["kind"], &source["entries_seen"], &source["last_error"]), (&json!("folder"), &json!(2), &Value::Null), "{source}");
    drop(server);

    // A restart reads nothing again.
    let out = crate::bin().args(["follow", "--db"]).arg(db.path()).arg(folder).output().unwrap();
    assert!(out.status.success(), "{}", crate::stderr(&out));
    assert!(!crate::stderr(&out).contains("new files"), "{}", crate::stderr(&out));
    let sources: Vec<Value> = crate::jsonl(&run(db.path(), &["sources", "--json"]));
    assert_eq!(sources.iter().find(|s| s["kind"] == "folder").unwrap()["new_articles"], 2);
}
