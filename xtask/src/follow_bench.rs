//! `cargo xtask bench follow [FEEDS] [ITEMS] [STEADY_SECONDS] [PERIOD]`: `storyline serve --follow` over
//! FEEDS feeds of ITEMS items each (500 × 20 by default) on a loopback site, with `--every 10s`.
//!
//! Each feed is on a host of its own (127.0.X.Y: all of 127/8 is loopback on Linux), so the
//! per-host delay applies per feed as it would across outlets. Pages are ECB+ articles with
//! 40% of their words replaced (the `bench serve` corpus), so they form stories. The site
//! answers 304 to a feed that did not change (ETag). Measured, from the server's event stream
//! and /proc: the time until every initial item is in a story; then, while each feed gains an
//! item every PERIOD seconds (100; 0: none, only unchanged polls) for STEADY_SECONDS, the time from an item's appearance in its feed to its
//! story event (p50, p99); CPU seconds per 1,000 articles; resident memory along the way.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// What the site shows and what it was asked.
struct Site {
    started: Instant,
    /// Per feed, the items visible now: (page number, when it appeared).
    feeds: Vec<Mutex<Vec<(usize, Instant)>>>,
    pages: Vec<(String, String, String)>,
    feed_200: AtomicU64,
    feed_304: AtomicU64,
    page_requests: AtomicU64,
}

fn respond(stream: &mut TcpStream, status: &str, kind: &str, extra: &str, body: &str) {
    let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}", body.len());
}

fn handle(site: &Site, feed: usize, mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let mut if_none_match = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) <= 2 {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("if-none-match") {
                if_none_match = Some(v.trim().to_owned());
            }
        }
    }
    if path == "/feed.xml" {
        let items = site.feeds[feed].lock().map(|v| v.clone()).unwrap_or_default();
        let etag = format!("\"{}\"", items.len());
        if if_none_match.as_deref() == Some(etag.as_str()) {
            site.feed_304.fetch_add(1, Ordering::Relaxed);
            let _ = write!(stream, "HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n");
            return;
        }
        site.feed_200.fetch_add(1, Ordering::Relaxed);
        let host = stream.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let shown: String = items
            .iter()
            .rev()
            .take(20)
            .map(|(k, _)| format!("<item><title>{}</title><link>http://{host}/p/{k}</link><guid>http://{host}/p/{k}</guid></item>", xml(&site.pages[*k].0)))
            .collect();
        let body = format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Feed {feed}</title><link>http://{host}/</link>{shown}</channel></rss>");
        respond(&mut stream, "200 OK", "application/rss+xml", &format!("ETag: {etag}\r\n"), &body);
    } else if let Some(k) = path.strip_prefix("/p/").and_then(|k| k.parse::<usize>().ok()).filter(|k| *k < site.pages.len()) {
        site.page_requests.fetch_add(1, Ordering::Relaxed);
        let (title, text, date) = &site.pages[k];
        let paras: String = text.split("\n\n").map(|p| format!("<p>{}</p>", xml(p))).collect();
        let body = format!(
            "<!doctype html><html><head><title>{t}</title><meta property=\"article:published_time\" content=\"{date}\"></head>\
             <body><nav><a href=\"/\">Home</a> <a href=\"/world\">World</a></nav><article><h1>{t}</h1>{paras}</article><footer>© Feed {feed}</footer></body></html>",
            t = xml(title)
        );
        respond(&mut stream, "200 OK", "text/html; charset=utf-8", "", &body);
    } else {
        respond(&mut stream, "404 Not Found", "text/plain", "", "not found");
    }
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Resident memory (kB) and CPU seconds (user + system) of a process.
fn usage(pid: u32) -> (u64, f64) {
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0);
    let cpu = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(0.0);
    (rss, cpu)
}

/// What the event stream said: page URL → article id, and article id → when its story event came.
#[derive(Default)]
struct Seen {
    articles: HashMap<String, String>,
    in_story: HashMap<String, Instant>,
    /// `reset` events: the stream fell behind and events were lost.
    resets: usize,
}

fn follow_events(addr: String, seen: Arc<Mutex<Seen>>) {
    let Ok(mut s) = TcpStream::connect(&addr) else { return };
    let _ = write!(s, "GET /events?type=article_stored,story_created,story_grew HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
    let reader = BufReader::new(s);
    for line in reader.lines() {
        let Ok(line) = line else { return };
        if line.starts_with("event: reset") || line.starts_with("event:reset") {
            seen.lock().unwrap_or_else(|p| p.into_inner()).resets += 1;
        }
        let Some(data) = line.strip_prefix("data: ").or_else(|| line.strip_prefix("data:")) else { continue };
        let Ok(v) = serde_json::from_str::<Value>(data) else { continue };
        let now = Instant::now();
        let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
        match v["type"].as_str() {
            Some("article_stored") => {
                if let (Some(url), Some(id)) = (v["url"].as_str(), v["article"].as_str()) {
                    seen.articles.insert(url.to_owned(), id.to_owned());
                }
            }
            Some(_) => {
                for a in v["new_articles"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                    seen.in_story.entry(a.to_owned()).or_insert(now);
                }
            }
            None => {}
        }
    }
}

pub fn run(bench: &Path, feeds: usize, items: usize, steady: u64, period: u64) -> Result<(), String> {
    let bin = std::fs::canonicalize(crate::eval::build()?).map_err(|e| e.to_string())?;
    let out = Path::new("bench-out/follow");
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out).map_err(|e| e.to_string())?;
    // Pages: the initial items and those added while steady.
    let per_feed_later = steady.checked_div(period).map_or(0, |n| n as usize + 2);
    let total = feeds * (items + per_feed_later);
    let corpus = out.join("pages.jsonl");
    crate::serve_bench::corpus(bench, total, &corpus)?;
    let pages: Vec<(String, String, String)> = std::fs::read_to_string(&corpus)
        .map_err(|e| e.to_string())?
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| (v["title"].as_str().unwrap_or("").to_owned(), v["text"].as_str().unwrap_or("").to_owned(), v["published"].as_str().unwrap_or("").to_owned()))
        .collect();
    let started = Instant::now();
    let site = Arc::new(Site {
        started,
        feeds: (0..feeds).map(|i| Mutex::new((0..items).map(|j| (j * feeds + i, started)).collect())).collect(),
        pages,
        feed_200: AtomicU64::new(0),
        feed_304: AtomicU64::new(0),
        page_requests: AtomicU64::new(0),
    });
    let mut outlines = String::new();
    for i in 0..feeds {
        let ip = format!("127.0.{}.{}", 1 + i / 250, 1 + i % 250);
        let listener = TcpListener::bind(format!("{ip}:0")).map_err(|e| format!("{ip}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        outlines.push_str(&format!("<outline type=\"rss\" text=\"Feed {i}\" xmlUrl=\"http://{addr}/feed.xml\"/>"));
        let site = site.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let site = site.clone();
                std::thread::spawn(move || handle(&site, i, stream));
            }
        });
    }
    let opml = out.join("feeds.opml");
    std::fs::write(&opml, format!("<?xml version=\"1.0\"?><opml version=\"2.0\"><head><title>bench</title></head><body>{outlines}</body></opml>"))
        .map_err(|e| e.to_string())?;
    let db = out.join("store");
    let mut server = Command::new(&bin)
        .args(["serve", "--addr", "127.0.0.1:0", "--every", "10s", "--rate", "500", "--host-delay", "1s", "--db"])
        .arg(&db)
        .arg("--follow")
        .arg(&opml)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(out.join("serve.log")).map_err(|e| e.to_string())?))
        .spawn()
        .map_err(|e| e.to_string())?;
    let pid = server.id();
    let mut line = String::new();
    BufReader::new(server.stdout.take().ok_or("no stdout")?).read_line(&mut line).map_err(|e| e.to_string())?;
    let addr = line.split("http://").nth(1).and_then(|r| r.split('/').next()).ok_or(format!("no address in {line:?}"))?.to_string();
    let seen = Arc::new(Mutex::new(Seen::default()));
    {
        let (addr, seen) = (addr.clone(), seen.clone());
        std::thread::spawn(move || follow_events(addr, seen));
    }
    let result = measure(&site, &seen, pid, feeds, items, steady, period);
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let _ = server.wait();
    let mut rest = String::new();
    let _ = std::fs::File::open(out.join("serve.log")).and_then(|mut f| f.read_to_string(&mut rest));
    if let Some(errors) = Some(rest.lines().filter(|l| l.starts_with("error") || l.starts_with("warning")).count()).filter(|n| *n > 0) {
        println!("(serve.log has {errors} error or warning lines: bench-out/follow/serve.log)");
    }
    result
}

/// Pages of the feeds and when each appeared.
fn appeared(site: &Site) -> Vec<(usize, Instant)> {
    site.feeds.iter().flat_map(|f| f.lock().map(|v| v.clone()).unwrap_or_default()).collect()
}

/// How many of these pages are in a story (by the event stream).
fn in_stories(seen: &Mutex<Seen>, pages: &[(usize, Instant)]) -> (usize, Vec<f64>) {
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    let by_path: HashMap<String, &String> = seen.articles.iter().filter_map(|(u, id)| Some((u.split_once("/p/")?.1.to_owned(), id))).collect();
    let mut latencies = Vec::new();
    let mut n = 0;
    for (k, at) in pages {
        if let Some(t) = by_path.get(&k.to_string()).and_then(|id| seen.in_story.get(*id)) {
            n += 1;
            latencies.push(t.saturating_duration_since(*at).as_secs_f64());
        }
    }
    (n, latencies)
}

fn measure(site: &Site, seen: &Mutex<Seen>, pid: u32, feeds: usize, items: usize, steady: u64, period: u64) -> Result<(), String> {
    let initial = appeared(site);
    let want = initial.len();
    println!("{feeds} feeds × {items} items = {want} pages on {feeds} loopback hosts; serve --follow --every 10s --rate 500 --host-delay 1s");
    let mut samples: Vec<(f64, u64, f64)> = Vec::new();
    let limit = Duration::from_secs(3600);
    let ingested_at = loop {
        std::thread::sleep(Duration::from_secs(2));
        let (rss, cpu) = usage(pid);
        samples.push((site.started.elapsed().as_secs_f64(), rss, cpu));
        let (n, _) = in_stories(seen, &initial);
        if n >= want {
            break site.started.elapsed();
        }
        if site.started.elapsed() > limit {
            return Err(format!("after {limit:?} only {n} of {want} pages are in stories"));
        }
        let resets = seen.lock().unwrap_or_else(|p| p.into_inner()).resets;
        if resets > 0 {
            return Err(format!("the event stream fell behind ({resets} resets) with {n} of {want} pages seen in stories"));
        }
    };
    let (rss_after, cpu_after) = usage(pid);
    println!(
        "all {want} initial pages in stories after {:.1} s ({:.0} pages/s); CPU {:.1} s = {:.2} CPU s per 1,000 articles; RSS {} MiB",
        ingested_at.as_secs_f64(),
        want as f64 / ingested_at.as_secs_f64(),
        cpu_after,
        cpu_after * 1000.0 / want as f64,
        rss_after / 1024
    );
    // Steady state: one new item per feed every `period` seconds (none: 0), spread over it.
    let steady_start = Instant::now();
    let period = Duration::from_secs(if period == 0 { 100 * 365 * 86_400 } else { period });
    let mut next: Vec<Duration> = (0..feeds).map(|i| period * i as u32 / feeds as u32).collect();
    let mut added: Vec<(usize, Instant)> = Vec::new();
    let mut counts = vec![items; feeds];
    let mut last_sample = Instant::now();
    let cpu_before = cpu_after;
    while steady_start.elapsed() < Duration::from_secs(steady) {
        let t = steady_start.elapsed();
        for i in 0..feeds {
            if next[i] <= t && counts[i] * feeds + i < site.pages.len() {
                let k = counts[i] * feeds + i;
                let now = Instant::now();
                if let Ok(mut f) = site.feeds[i].lock() {
                    f.push((k, now));
                }
                added.push((k, now));
                counts[i] += 1;
                next[i] += period;
            }
        }
        if last_sample.elapsed() >= Duration::from_secs(5) {
            let (rss, cpu) = usage(pid);
            samples.push((site.started.elapsed().as_secs_f64(), rss, cpu));
            last_sample = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let the last items through (up to two polls and their ingest).
    let drain = Instant::now();
    while in_stories(seen, &added).0 < added.len() && drain.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let (rss_end, cpu_end) = usage(pid);
    let (n, mut lat) = in_stories(seen, &added);
    lat.sort_by(f64::total_cmp);
    let steady_cpu = cpu_end - cpu_before;
    println!(
        "steady {steady} s: {} items added, {n} in stories; item in its feed → story event: p50 {:.1} s, p99 {:.1} s, max {:.1} s",
        added.len(),
        if lat.is_empty() { f64::NAN } else { crate::serve_bench::percentile(&lat, 0.5) },
        if lat.is_empty() { f64::NAN } else { crate::serve_bench::percentile(&lat, 0.99) },
        lat.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "steady CPU {:.1} s ({:.2} CPU s per 1,000 new articles, polls included); feed answers 200: {}, 304: {}; page requests: {}",
        steady_cpu,
        if n > 0 { steady_cpu * 1000.0 / n as f64 } else { f64::NAN },
        site.feed_200.load(Ordering::Relaxed),
        site.feed_304.load(Ordering::Relaxed),
        site.page_requests.load(Ordering::Relaxed)
    );
    let steady_rss: Vec<u64> = samples.iter().filter(|s| s.0 >= ingested_at.as_secs_f64()).map(|s| s.1).collect();
    println!(
        "RSS: after the initial ingest {} MiB, during steady min {} / max {} MiB, at the end {} MiB ({} samples in bench-out/follow/memory.csv)",
        rss_after / 1024,
        steady_rss.iter().min().copied().unwrap_or(0) / 1024,
        steady_rss.iter().max().copied().unwrap_or(0) / 1024,
        rss_end / 1024,
        samples.len()
    );
    let csv: String = std::iter::once("seconds,rss_kb,cpu_s\n".to_owned()).chain(samples.iter().map(|(t, r, c)| format!("{t:.1},{r},{c:.2}\n"))).collect();
    std::fs::write("bench-out/follow/memory.csv", csv).map_err(|e| e.to_string())
}
