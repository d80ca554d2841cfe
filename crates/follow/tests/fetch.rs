//! The fetcher against a real HTTP server on loopback: robots.txt, conditional GET, retries with
//! Retry-After, timeouts, redirect loops, size limits, gzip, per-host spacing.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Response, StatusCode};
use axum::routing::get;
use axum::Router;
use storyline_follow::fetch::{FetchConfig, FetchError, Fetcher, Validators};
use url::Url;

#[derive(Clone, Default)]
struct Seen {
    /// Path -> times requested, and when.
    hits: Arc<Mutex<HashMap<String, Vec<Instant>>>>,
}

impl Seen {
    fn hit(&self, path: &str) -> usize {
        let mut hits = self.hits.lock().unwrap();
        let at = hits.entry(path.to_owned()).or_default();
        at.push(Instant::now());
        at.len()
    }

    fn count(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).map_or(0, Vec::len)
    }

    fn times(&self, path: &str) -> Vec<Instant> {
        self.hits.lock().unwrap().get(path).cloned().unwrap_or_default()
    }
}

fn reply(status: StatusCode, headers: &[(&str, &str)], body: impl Into<Body>) -> Response<Body> {
    let mut response = Response::builder().status(status);
    for (k, v) in headers {
        response = response.header(*k, *v);
    }
    response.body(body.into()).unwrap()
}

async fn page(State(seen): State<Seen>, Path(name): Path<String>, headers: HeaderMap) -> Response<Body> {
    let path = format!("/{name}");
    let n = seen.hit(&path);
    match name.as_str() {
        "robots.txt" => reply(StatusCode::OK, &[], "User-agent: *\nDisallow: /private\n"),
        "feed" => {
            if headers.get("if-none-match").is_some_and(|v| v == "\"v1\"") {
                reply(StatusCode::NOT_MODIFIED, &[("etag", "\"v1\"")], "")
            } else {
                reply(StatusCode::OK, &[("etag", "\"v1\""), ("content-type", "application/rss+xml")], "<rss/>")
            }
        }
        "busy" if n == 1 => reply(StatusCode::TOO_MANY_REQUESTS, &[("retry-after", "1")], "slow down"),
        "busy" => reply(StatusCode::OK, &[], "at last"),
        "down" => reply(StatusCode::SERVICE_UNAVAILABLE, &[], "down"),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            reply(StatusCode::OK, &[], "late")
        }
        "loop" => reply(StatusCode::FOUND, &[("location", "/loop")], ""),
        "hop" => reply(StatusCode::MOVED_PERMANENTLY, &[("location", "/private/page")], ""),
        "big" => reply(StatusCode::OK, &[], vec![b'x'; 300_000]),
        "gz" => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all("<p>unpacked</p>".repeat(1000).as_bytes()).unwrap();
            reply(StatusCode::OK, &[("content-encoding", "gzip")], gz.finish().unwrap())
        }
        "bomb" => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            gz.write_all(&vec![b'a'; 5_000_000]).unwrap();
            reply(StatusCode::OK, &[("content-encoding", "gzip")], gz.finish().unwrap())
        }
        _ => reply(StatusCode::OK, &[("content-type", "text/html; charset=utf-8")], format!("<p>{name}</p>")),
    }
}

async fn nested(State(seen): State<Seen>, Path(rest): Path<String>) -> Response<Body> {
    seen.hit(&format!("/private/{rest}"));
    reply(StatusCode::OK, &[], "secret")
}

/// A server on 127.0.0.1 with its own runtime thread; returns its base address.
fn serve(seen: Seen) -> Url {
    let app = Router::new().route("/{name}", get(page)).route("/private/{*rest}", get(nested)).with_state(seen);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    Url::parse(&format!("http://{address}/")).unwrap()
}

fn config() -> FetchConfig {
    FetchConfig {
        user_agent: "StorylineTest/1".into(),
        timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(2),
        max_bytes: 200_000,
        host_delay: Duration::from_millis(50),
        backoff: Duration::from_millis(50),
        max_delay: Duration::from_secs(3),
        retries: 2,
        ..FetchConfig::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn robots_conditional_get_retries_and_limits() {
    let seen = Seen::default();
    let base = serve(seen.clone());
    let fetcher = Fetcher::new(config()).unwrap();
    let at = |p: &str| base.join(p).unwrap();
    runtime().block_on(async {
        // robots.txt is fetched once and honoured: a disallowed page is never requested,
        // neither directly nor at the end of a redirect.
        let first = fetcher.get(&at("/a"), &Validators::default()).await.unwrap();
        assert!(first.ok());
        assert_eq!(first.body, b"<p>a</p>");
        let denied = fetcher.get(&at("/private/page"), &Validators::default()).await.unwrap_err();
        assert!(matches!(denied, FetchError::Disallowed { .. }), "{denied}");
        let hop = fetcher.get(&at("/hop"), &Validators::default()).await.unwrap_err();
        assert!(matches!(hop, FetchError::Disallowed { ref url } if url.ends_with("/private/page")), "{hop}");
        assert_eq!(seen.count("/private/page"), 0);
        assert_eq!(seen.count("/robots.txt"), 1);

        // Conditional GET: the second ask sends the validators and gets a bodiless 304.
        let feed = fetcher.get(&at("/feed"), &Validators::default()).await.unwrap();
        assert_eq!(feed.status, 200);
        let validators = feed.validators();
        assert_eq!(validators.etag.as_deref(), Some("\"v1\""));
        let again = fetcher.get(&at("/feed"), &validators).await.unwrap();
        assert!(again.not_modified());
        assert!(again.body.is_empty());

        // 429 with Retry-After: 1 is retried after about a second, once.
        let busy = fetcher.get(&at("/busy"), &Validators::default()).await.unwrap();
        assert_eq!((busy.status, busy.body.as_slice()), (200, &b"at last"[..]));
        let times = seen.times("/busy");
        assert_eq!(times.len(), 2);
        assert!(times[1] - times[0] >= Duration::from_millis(950), "{:?}", times[1] - times[0]);

        // A 503 that stays is asked retries + 1 times, then reported as it is.
        let down = fetcher.get(&at("/down"), &Validators::default()).await.unwrap();
        assert_eq!(down.status, 503);
        assert_eq!(seen.count("/down"), 3);
        assert_eq!(down.requests, 3);

        // Timeouts, loops and sizes are errors naming the address.
        let slow = fetcher.get(&at("/slow"), &Validators::default()).await.unwrap_err();
        assert!(matches!(slow, FetchError::Timeout { .. }), "{slow}");
        let looped = fetcher.get(&at("/loop"), &Validators::default()).await.unwrap_err();
        assert!(matches!(looped, FetchError::TooManyRedirects { limit: 5, .. }), "{looped}");
        assert_eq!(seen.count("/loop"), 6);
        let big = fetcher.get(&at("/big"), &Validators::default()).await.unwrap_err();
        assert!(matches!(big, FetchError::TooLarge { limit: 200_000, .. }), "{big}");
        assert!(big.to_string().contains("/big"));

        // gzip is undone; a gzip bomb stops at the size limit.
        let gz = fetcher.get(&at("/gz"), &Validators::default()).await.unwrap();
        assert_eq!(gz.body.len(), "<p>unpacked</p>".len() * 1000);
        let bomb = fetcher.get(&at("/bomb"), &Validators::default()).await.unwrap_err();
        assert!(matches!(bomb, FetchError::TooLarge { .. }), "{bomb}");
    });
}

#[test]
fn one_request_per_host_at_a_time_with_the_delay_between() {
    let seen = Seen::default();
    let base = serve(seen.clone());
    let fetcher = Arc::new(Fetcher::new(FetchConfig { host_delay: Duration::from_millis(200), ..config() }).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..5 {
            let fetcher = fetcher.clone();
            let url = base.join(&format!("/spaced{i}")).unwrap();
            tasks.push(tokio::spawn(async move { fetcher.get(&url, &Validators::default()).await.map(|f| f.status) }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), Ok(200));
        }
    });
    let mut times: Vec<Instant> = (0..5).flat_map(|i| seen.times(&format!("/spaced{i}"))).collect();
    times.extend(seen.times("/robots.txt"));
    times.sort();
    assert_eq!(times.len(), 6);
    for pair in times.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(190), "requests {:?} apart", pair[1] - pair[0]);
    }
}

#[test]
fn a_host_whose_robots_txt_fails_is_not_crawled() {
    // A port nobody listens on: robots.txt cannot be fetched, so the page is not asked for.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let fetcher = Fetcher::new(config()).unwrap();
    let url = Url::parse(&format!("http://127.0.0.1:{port}/page")).unwrap();
    let err = runtime().block_on(fetcher.get(&url, &Validators::default())).unwrap_err();
    assert!(matches!(err, FetchError::RobotsUnavailable { .. }), "{err}");
    assert!(err.transient());
    let scheme = runtime().block_on(fetcher.get(&Url::parse("file:///etc/passwd").unwrap(), &Validators::default())).unwrap_err();
    assert!(matches!(scheme, FetchError::Scheme { .. }), "{scheme}");
}
