//! The follower against a loopback server whose feed changes between polls: new items are
//! fetched once, an unchanged feed costs one 304, one article under several addresses is stored
//! once, a disallowed page is never asked for, and the archive re-ingested into an empty store
//! gives the same articles.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Response, StatusCode};
use axum::routing::get;
use axum::Router;
use storyline_follow::fetch::{FetchConfig, Fetcher};
use storyline_follow::follower::{FollowConfig, Follower};
use storyline_pipeline::{Config, Pipeline, Quiet};
use storyline_store::{MemoryStore, Sources, Store};

#[derive(Clone, Default)]
struct Site {
    /// Items the feed lists now.
    items: Arc<AtomicUsize>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    /// Feed answers that were 304.
    not_modified: Arc<AtomicUsize>,
}

const WORDS: [&str; 6] = ["harbour", "council", "railway", "vaccine", "election", "wildfire"];

fn article_html(n: usize, canonical: Option<&str>) -> String {
    let topic = WORDS[n % WORDS.len()];
    let link = canonical.map(|c| format!("<link rel=\"canonical\" href=\"{c}\">")).unwrap_or_default();
    let body: String =
        (0..12).map(|i| format!("<p>Paragraph {i} of report {n} about the {topic} in town number {n}, with detail {i} that is new.</p>")).collect();
    format!("<html><head><title>Report {n} on the {topic}</title>{link}<meta property=\"article:published_time\" content=\"2021-05-0{}T10:00:00Z\"></head><body><article><h1>Report {n} on the {topic}</h1>{body}</article></body></html>", 1 + n % 9)
}

async fn handle(State(site): State<Site>, Path(path): Path<String>, headers: HeaderMap) -> Response<Body> {
    *site.hits.lock().unwrap().entry(format!("/{path}")).or_default() += 1;
    let ok = |ty: &str, body: String| Response::builder().header("content-type", ty).body(Body::from(body)).unwrap();
    match path.as_str() {
        "robots.txt" => ok("text/plain", "User-agent: *\nDisallow: /private/\n".into()),
        "feed.xml" => {
            let n = site.items.load(Ordering::SeqCst);
            let etag = format!("\"items-{n}\"");
            if headers.get("if-none-match").is_some_and(|v| v.to_str().unwrap() == etag) {
                site.not_modified.fetch_add(1, Ordering::SeqCst);
                return Response::builder().status(StatusCode::NOT_MODIFIED).header("etag", etag).body(Body::empty()).unwrap();
            }
            let mut items = String::new();
            for i in 0..n {
                // Item 1 is listed twice, under tracking parameters; item 2 is disallowed.
                let link = match i {
                    1 => "/a/1?utm_source=rss".to_owned(),
                    2 => "/private/2".to_owned(),
                    _ => format!("/a/{i}"),
                };
                items.push_str(&format!("<item><title>Report {i}</title><link>{link}</link></item>"));
                if i == 1 {
                    items.push_str("<item><title>Report 1 again</title><link>/a/1?utm_medium=social#comments</link></item>");
                }
            }
            let mut response =
                ok("application/rss+xml", format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Loopback News</title>{items}</channel></rss>"));
            response.headers_mut().insert("etag", etag.parse().unwrap());
            response
        }
        // A sitemap index that never changes, over a sitemap that grows with the items.
        "index.xml" => {
            if headers.get("if-none-match").is_some_and(|v| v == "\"index\"") {
                return Response::builder().status(StatusCode::NOT_MODIFIED).header("etag", "\"index\"").body(Body::empty()).unwrap();
            }
            let mut response = ok("application/xml", "<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\"><sitemap><loc>/s.xml</loc></sitemap></sitemapindex>".into());
            response.headers_mut().insert("etag", "\"index\"".parse().unwrap());
            response
        }
        "s.xml" => {
            let urls: String = (0..site.items.load(Ordering::SeqCst)).map(|i| format!("<url><loc>/a/{}</loc></url>", 100 + i)).collect();
            ok("application/xml", format!("<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">{urls}</urlset>"))
        }
        // A second feed that lists, under another address, a page whose canonical is /a/0.
        "other.xml" => ok(
            "application/rss+xml",
            "<rss version=\"2.0\"><channel><title>Other</title><item><title>Mirror</title><link>/mirror/0</link></item><item><title>Gone</title><link>/gone/1</link></item></channel></rss>".into(),
        ),
        p if p.starts_with("mirror/") => ok("text/html", article_html(0, Some("/a/0"))),
        p if p.starts_with("a/") => {
            let n: usize = p[2..].parse().unwrap();
            ok("text/html; charset=utf-8", article_html(n, None))
        }
        _ => Response::builder().status(StatusCode::NOT_FOUND).body(Body::empty()).unwrap(),
    }
}

fn serve(site: Site) -> String {
    let app = Router::new().route("/{*path}", get(handle)).with_state(site);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async move { axum::serve(tokio::net::TcpListener::from_std(listener).unwrap(), app).await.unwrap() });
    });
    format!("http://{address}")
}

fn fetcher() -> Arc<Fetcher> {
    let config =
        FetchConfig { user_agent: "StorylineTest/1".into(), host_delay: Duration::from_millis(5), timeout: Duration::from_secs(5), ..FetchConfig::default() };
    Arc::new(Fetcher::new(config).unwrap())
}

fn article_urls(store: &dyn Store) -> Vec<String> {
    let mut urls: Vec<String> = store.articles_after(0, 1000).unwrap().into_iter().filter_map(|a| a.article.url).collect();
    urls.sort();
    urls
}

#[test]
fn polls_fetch_new_pages_once_and_the_archive_reproduces_the_store() {
    let site = Site::default();
    site.items.store(3, Ordering::SeqCst);
    let base = serve(site.clone());
    let dir = tempfile::tempdir().unwrap();
    let store = MemoryStore::new().unwrap();
    let config = Config::default();
    let mut follow = FollowConfig::new(dir.path().join("archive"));
    follow.every = Duration::from_secs(60);
    let follower = Follower::new(&store, Pipeline::new(&config, &Quiet), fetcher(), follow).unwrap();
    let feed = format!("{base}/feed.xml");
    let sources = vec![feed.clone(), format!("{base}/other.xml")];
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut now = chrono::Utc::now();

    // Poll 1: items 0 and 1 (listed twice) are fetched, item 2 is disallowed; the mirror's
    // stated canonical is /a/0, fetched already.
    let first = runtime.block_on(follower.poll(&sources, now)).unwrap();
    assert_eq!(first.sources_polled, 2);
    assert_eq!(first.articles_added, 2, "{first:?}");
    assert_eq!(first.canonical_duplicates, 1, "{first:?}");
    assert_eq!(article_urls(&store), [format!("{base}/a/0"), format!("{base}/a/1")]);
    let hits = site.hits.lock().unwrap().clone();
    assert_eq!(hits.get("/a/1"), Some(&1), "one article, one fetch: {hits:?}");
    assert_eq!(hits.get("/private/2"), None, "a disallowed page is never requested");
    assert_eq!(hits.get("/robots.txt"), Some(&1));

    // Poll 2, not yet due: nothing is asked.
    let early = runtime.block_on(follower.poll(&sources, now + chrono::Duration::seconds(10))).unwrap();
    assert_eq!(early.sources_polled, 0);

    // Poll 3, due, feed unchanged: one conditional request, answered 304.
    now += chrono::Duration::seconds(61);
    let same = runtime.block_on(follower.poll(&sources[..1], now)).unwrap();
    assert_eq!((same.unchanged, same.pages_fetched), (1, 0), "{same:?}");
    assert_eq!(site.not_modified.load(Ordering::SeqCst), 1);

    // Poll 4: two new items; only they are fetched.
    site.items.store(5, Ordering::SeqCst);
    now += chrono::Duration::seconds(61);
    let grown = runtime.block_on(follower.poll(&sources[..1], now)).unwrap();
    assert_eq!((grown.pages_fetched, grown.articles_added), (2, 2), "{grown:?}");
    assert_eq!(article_urls(&store).len(), 4);
    assert_eq!(site.hits.lock().unwrap().get("/a/0"), Some(&1));

    // A page that answered 404 is not asked again; the other feed is polled anew.
    let other = runtime.block_on(follower.poll(&sources[1..], now)).unwrap();
    assert_eq!((other.sources_polled, other.pages_fetched, other.page_errors), (1, 0, 0), "{other:?}");
    assert_eq!(site.hits.lock().unwrap().get("/gone/1"), Some(&1));

    // The source's state is in the store.
    let states = store.sources().unwrap();
    let state = states.iter().find(|s| s.url == feed).unwrap();
    assert_eq!((state.new_articles, state.failures, state.last_status), (4, 0, Some(200)));
    assert_eq!(state.etag.as_deref(), Some("\"items-5\""));

    // Nothing fetched is lost: the archive, ingested into an empty store, gives the same articles.
    let fresh = MemoryStore::new().unwrap();
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(dir.path().join("archive")).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(!files.is_empty());
    let inputs = storyline_pipeline::prepare(&files, 1 << 20).unwrap();
    Pipeline::new(&config, &Quiet).ingest(&fresh, &inputs).unwrap();
    let ids = |s: &dyn Store| {
        let mut v: Vec<String> = s.articles_after(0, 1000).unwrap().into_iter().map(|a| a.article.id.0).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&fresh), ids(&store));
}

#[test]
fn a_failing_source_is_backed_off_and_reported() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let store = MemoryStore::new().unwrap();
    let config = Config::default();
    let mut follow = FollowConfig::new(dir.path().join("archive"));
    follow.every = Duration::from_secs(60);
    let follower = Follower::new(&store, Pipeline::new(&config, &Quiet), fetcher(), follow).unwrap();
    let source = vec![format!("http://127.0.0.1:{port}/feed.xml")];
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let now = chrono::Utc::now();
    let mut waits = Vec::new();
    let mut at = now;
    for _ in 0..3 {
        let polled = runtime.block_on(follower.poll(&source, at)).unwrap();
        assert_eq!(polled.failed, 1);
        let state = store.sources().unwrap().remove(0);
        let next = state.next_poll.unwrap();
        waits.push((next - at).num_seconds());
        assert!(state.last_error.as_deref().unwrap().contains("robots.txt could not be fetched"), "{:?}", state.last_error);
        at = next;
    }
    assert_eq!(waits, [120, 240, 480], "the wait doubles with each failure");
    assert_eq!(store.sources().unwrap()[0].failures, 3);
}

#[test]
fn an_unchanged_sitemap_index_still_polls_its_sitemaps() {
    let site = Site::default();
    site.items.store(1, Ordering::SeqCst);
    let base = serve(site.clone());
    let dir = tempfile::tempdir().unwrap();
    let store = MemoryStore::new().unwrap();
    let config = Config::default();
    let follow = FollowConfig::new(dir.path().join("archive"));
    let every = chrono::Duration::from_std(follow.every).unwrap();
    let follower = Follower::new(&store, Pipeline::new(&config, &Quiet), fetcher(), follow).unwrap();
    let index = vec![format!("{base}/index.xml")];
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let now = chrono::Utc::now();
    let first = runtime.block_on(follower.poll(&index, now)).unwrap();
    assert_eq!((first.sources_polled, first.articles_added), (2, 1), "{first:?}");
    site.items.store(2, Ordering::SeqCst);
    let later = runtime.block_on(follower.poll(&index, now + every)).unwrap();
    assert_eq!((later.sources_polled, later.unchanged, later.articles_added), (2, 1, 1), "{later:?}");
    let kinds: Vec<_> = store.sources().unwrap().into_iter().map(|s| (s.url.rsplit('/').next().unwrap().to_owned(), s.kind)).collect();
    assert_eq!(kinds, [("index.xml".to_owned(), storyline_model::SourceKind::SitemapIndex), ("s.xml".to_owned(), storyline_model::SourceKind::Sitemap)]);
}
