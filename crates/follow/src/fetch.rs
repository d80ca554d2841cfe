//! A polite, bounded HTTP fetcher: the one place the follower talks to the network.
//!
//! - robots.txt is fetched once per host, cached for [`FetchConfig::robots_ttl`], and honoured
//!   (a disallowed address is never requested; its `Crawl-delay` raises the host's delay, up to
//!   a cap). A robots.txt that answers 4xx allows everything; one that cannot be fetched
//!   (5xx, network) disallows the host until the next try (RFC 9309, section 2.3.1.4).
//! - One request per host at a time, and at least the host's delay between two of them; all
//!   hosts together stay under [`FetchConfig::requests_per_second`] (`governor`).
//! - Conditional GET: the caller's validators go out as `If-None-Match` / `If-Modified-Since`,
//!   and a 304 comes back as such, without a body.
//! - 429 and 5xx are retried with exponential backoff and full jitter, or after the server's
//!   `Retry-After` (seconds or an HTTP date, capped), at most [`FetchConfig::retries`] times.
//! - Redirects are followed by hand, at most [`FetchConfig::max_redirects`], each hop checked
//!   against robots.txt like the first.
//! - Connect and read timeouts and a whole-request timeout; bodies are read in chunks and cut at
//!   [`FetchConfig::max_bytes`] after decompression (gzip, brotli), so a decompression bomb
//!   costs at most that much memory.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant, SystemTime};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{self, HeaderMap, HeaderValue};
use url::Url;

/// The fetcher's settings; defaults suit following news sites.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Sent with every request, and matched against robots.txt groups.
    pub user_agent: String,
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a response.
    pub read_timeout: Duration,
    /// Longest a whole request may take, body included.
    pub timeout: Duration,
    /// Largest body kept, after decompression; a larger one is an error.
    pub max_bytes: usize,
    pub max_redirects: usize,
    /// Least time between two requests to one host.
    pub host_delay: Duration,
    /// The most a robots.txt `Crawl-delay` or a `Retry-After` may make the fetcher wait.
    pub max_delay: Duration,
    /// Retries after a 429 or 5xx answer (so `retries + 1` requests at most).
    pub retries: u32,
    /// First backoff step; each retry doubles it (full jitter: a random wait up to the step).
    pub backoff: Duration,
    /// Requests per second over all hosts.
    pub requests_per_second: u32,
    pub robots_ttl: Duration,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            user_agent: format!("Storyline/{} (news story engine; +https://github.com/storyline)", env!("CARGO_PKG_VERSION")),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(20),
            timeout: Duration::from_secs(60),
            max_bytes: 10 << 20,
            max_redirects: 5,
            host_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            retries: 3,
            backoff: Duration::from_secs(2),
            requests_per_second: 20,
            robots_ttl: Duration::from_secs(24 * 3600),
        }
    }
}

/// The validators of an earlier answer, sent back to ask whether it changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// One HTTP answer, after redirects and retries.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Where the body came from (the last hop of any redirects).
    pub url: Url,
    pub status: u16,
    /// The response headers, as received (`Content-Encoding` and `Content-Length` are gone when
    /// the body was decompressed).
    pub headers: HeaderMap,
    /// The body, decompressed; empty for a 304.
    pub body: Vec<u8>,
    /// Requests this answer took (retries and redirect hops included).
    pub requests: u32,
    /// When the answer was received.
    pub at: SystemTime,
}

impl Fetched {
    pub fn not_modified(&self) -> bool {
        self.status == 304
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The validators to send next time.
    pub fn validators(&self) -> Validators {
        let get = |name: header::HeaderName| self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Validators { etag: get(header::ETAG), last_modified: get(header::LAST_MODIFIED) }
    }

    pub fn content_type(&self) -> Option<&str> {
        self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())
    }
}

/// Why nothing usable came back. Each names the address.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    #[error("{url}: disallowed by the site's robots.txt; not requested")]
    Disallowed { url: String },
    #[error("{url}: the site's robots.txt could not be fetched ({reason}); nothing on the site is requested until it can")]
    RobotsUnavailable { url: String, reason: String },
    #[error("{url}: only http and https addresses are fetched")]
    Scheme { url: String },
    #[error("{url}: the body is larger than {limit} bytes; the rest was not read")]
    TooLarge { url: String, limit: usize },
    #[error("{url}: more than {limit} redirects")]
    TooManyRedirects { url: String, limit: usize },
    #[error("{url}: a redirect without a usable Location")]
    BadRedirect { url: String },
    #[error("{url}: timed out ({reason})")]
    Timeout { url: String, reason: String },
    #[error("{url}: {reason}")]
    Network { url: String, reason: String },
}

impl FetchError {
    /// A failure worth trying again at the next poll (as opposed to one the source must fix).
    pub fn transient(&self) -> bool {
        matches!(self, FetchError::Timeout { .. } | FetchError::Network { .. } | FetchError::RobotsUnavailable { .. })
    }
}

/// What is known of one host: when it may next be asked, and its robots.txt.
struct Host {
    next_at: Instant,
    robots: Option<(Instant, Robots)>,
}

#[derive(Clone)]
enum Robots {
    AllowAll,
    Rules {
        robot: Arc<texting_robots::Robot>,
    },
    /// robots.txt could not be fetched: nothing is requested.
    Unavailable(String),
}

/// The fetcher. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Fetcher {
    client: reqwest::Client,
    config: FetchConfig,
    hosts: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Host>>>>,
    limiter: DefaultDirectRateLimiter,
}

static CRYPTO: Once = Once::new();

impl Fetcher {
    pub fn new(config: FetchConfig) -> Result<Fetcher, FetchError> {
        CRYPTO.call_once(|| {
            // Another part of the process may have installed one already; either is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let client = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .timeout(config.timeout)
            .pool_max_idle_per_host(1)
            .build()
            .map_err(|e| FetchError::Network { url: String::new(), reason: format!("cannot build the HTTP client: {e}") })?;
        let rate = NonZeroU32::new(config.requests_per_second.max(1)).expect("at least one");
        Ok(Fetcher { client, limiter: RateLimiter::direct(Quota::per_second(rate)), config, hosts: Mutex::new(HashMap::new()) })
    }

    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// GET `url` (conditionally, with `validators`), following redirects and retrying as the
    /// module describes. Any HTTP status comes back as [`Fetched`]; a 429 or 5xx only once the
    /// retries are spent.
    pub async fn get(&self, url: &Url, validators: &Validators) -> Result<Fetched, FetchError> {
        let mut url = url.clone();
        let mut requests = 0;
        for _hop in 0..=self.config.max_redirects {
            check_scheme(&url)?;
            self.check_robots(&url, &mut requests).await?;
            let fetched = self.get_retrying(&url, validators, &mut requests).await?;
            if !(300..400).contains(&fetched.status) || fetched.status == 304 {
                return Ok(Fetched { requests, ..fetched });
            }
            let location = fetched.headers.get(header::LOCATION).and_then(|v| v.to_str().ok());
            url = location.and_then(|l| url.join(l).ok()).ok_or_else(|| FetchError::BadRedirect { url: url.to_string() })?;
        }
        Err(FetchError::TooManyRedirects { url: url.to_string(), limit: self.config.max_redirects })
    }

    /// Whether robots.txt lets this fetcher ask for `url` (fetching robots.txt if needed).
    pub async fn allowed(&self, url: &Url) -> Result<bool, FetchError> {
        let mut requests = 0;
        match self.check_robots(url, &mut requests).await {
            Ok(()) => Ok(true),
            Err(FetchError::Disallowed { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn get_retrying(&self, url: &Url, validators: &Validators, requests: &mut u32) -> Result<Fetched, FetchError> {
        let mut attempt = 0;
        loop {
            let host = self.host(url);
            let fetched = {
                let mut host = host.lock().await;
                let answer = self.request(&mut host, url, validators).await;
                *requests += 1;
                answer?
            };
            let retryable = fetched.status == 429 || (500..600).contains(&fetched.status);
            if !retryable || attempt >= self.config.retries {
                return Ok(fetched);
            }
            let wait = retry_after(&fetched.headers, fetched.at).map(|d| d.min(self.config.max_delay)).unwrap_or_else(|| self.backoff(attempt));
            // The host waits too: no other request to it goes out before the retry.
            host.lock().await.next_at = Instant::now() + wait;
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Full jitter: a random wait up to `backoff * 2^attempt`, capped at `max_delay`.
    fn backoff(&self, attempt: u32) -> Duration {
        let step = self.config.backoff.saturating_mul(1 << attempt.min(16)).min(self.config.max_delay);
        step.mul_f64(fastrand::f64()).max(Duration::from_millis(1))
    }

    /// One request, holding the host: waits for its turn, sends, reads the body within limits.
    async fn request(&self, host: &mut Host, url: &Url, validators: &Validators) -> Result<Fetched, FetchError> {
        tokio::time::sleep_until(host.next_at.into()).await;
        self.limiter.until_ready().await;
        let mut request = self.client.get(url.clone());
        if let Some(etag) = validators.etag.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(since) = validators.last_modified.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            request = request.header(header::IF_MODIFIED_SINCE, since);
        }
        let answer = self.read(request, url).await;
        host.next_at = Instant::now() + self.delay_of(host);
        answer
    }

    async fn read(&self, request: reqwest::RequestBuilder, url: &Url) -> Result<Fetched, FetchError> {
        let mut response = request.send().await.map_err(|e| network(url, e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let limit = self.config.max_bytes;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(FetchError::TooLarge { url: url.to_string(), limit });
        }
        let mut body = Vec::new();
        if status != 304 {
            while let Some(chunk) = response.chunk().await.map_err(|e| network(url, e))? {
                if body.len() + chunk.len() > limit {
                    return Err(FetchError::TooLarge { url: url.to_string(), limit });
                }
                body.extend_from_slice(&chunk);
            }
        }
        Ok(Fetched { url: url.clone(), status, headers, body, requests: 1, at: SystemTime::now() })
    }

    fn delay_of(&self, host: &Host) -> Duration {
        let crawl = match &host.robots {
            Some((_, Robots::Rules { robot })) => robot.delay.filter(|d| d.is_finite() && *d > 0.0).map(|d| Duration::from_secs_f32(d.min(3600.0))),
            _ => None,
        };
        crawl.map_or(self.config.host_delay, |c| c.min(self.config.max_delay).max(self.config.host_delay))
    }

    fn host(&self, url: &Url) -> Arc<tokio::sync::Mutex<Host>> {
        let key = host_key(url);
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts.entry(key).or_insert_with(|| Arc::new(tokio::sync::Mutex::new(Host { next_at: Instant::now(), robots: None }))).clone()
    }

    async fn check_robots(&self, url: &Url, requests: &mut u32) -> Result<(), FetchError> {
        let host = self.host(url);
        let mut host = host.lock().await;
        let fresh = host.robots.as_ref().is_some_and(|(at, robots)| {
            // An unavailable robots.txt is tried again after a minute, not a day.
            let ttl = if matches!(robots, Robots::Unavailable(_)) { Duration::from_secs(60).min(self.config.robots_ttl) } else { self.config.robots_ttl };
            at.elapsed() < ttl
        });
        if !fresh {
            let robots = self.fetch_robots(&mut host, url).await;
            *requests += 1;
            host.robots = Some((Instant::now(), robots));
        }
        match &host.robots.as_ref().expect("just filled").1 {
            Robots::AllowAll => Ok(()),
            Robots::Rules { robot } if robot.allowed(url.as_str()) => Ok(()),
            Robots::Rules { .. } => Err(FetchError::Disallowed { url: url.to_string() }),
            Robots::Unavailable(reason) => Err(FetchError::RobotsUnavailable { url: url.to_string(), reason: reason.clone() }),
        }
    }

    /// robots.txt of `url`'s host; its own redirects are followed (RFC 9309: at least five).
    async fn fetch_robots(&self, host: &mut Host, url: &Url) -> Robots {
        let mut at = url.join("/robots.txt").expect("a path joins any http(s) address");
        for _ in 0..5 {
            let answer = match self.request(host, &at, &Validators::default()).await {
                Ok(answer) => answer,
                Err(e) => return Robots::Unavailable(e.to_string()),
            };
            match answer.status {
                200..=299 => {
                    let agent = self.config.user_agent.split('/').next().unwrap_or("Storyline").to_owned();
                    let parsed = std::panic::catch_unwind(|| texting_robots::Robot::new(&agent, &answer.body));
                    return match parsed {
                        Ok(Ok(robot)) => Robots::Rules { robot: Arc::new(robot) },
                        // An unparseable file states no rule.
                        _ => Robots::AllowAll,
                    };
                }
                300..=399 => match answer.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).and_then(|l| at.join(l).ok()) {
                    // A robots.txt on another host is not this host's; fetch it only if same host.
                    Some(next) if host_key(&next) == host_key(url) => at = next,
                    _ => return Robots::AllowAll,
                },
                400..=499 => return Robots::AllowAll,
                status => return Robots::Unavailable(format!("robots.txt answered {status}")),
            }
        }
        Robots::AllowAll
    }
}

fn check_scheme(url: &Url) -> Result<(), FetchError> {
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(()),
        _ => Err(FetchError::Scheme { url: url.to_string() }),
    }
}

fn host_key(url: &Url) -> String {
    format!("{}://{}:{}", url.scheme(), url.host_str().unwrap_or(""), url.port_or_known_default().unwrap_or(0))
}

fn network(url: &Url, e: reqwest::Error) -> FetchError {
    // The source chain says what happened (refused, reset, DNS); the top line often does not.
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        reason = format!("{reason}: {s}");
        source = s.source();
    }
    if e.is_timeout() {
        FetchError::Timeout { url: url.to_string(), reason }
    } else {
        FetchError::Network { url: url.to_string(), reason }
    }
}

/// `Retry-After` as a wait: delay-seconds or an HTTP date (RFC 9110, section 10.2.3).
fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(when.timestamp()).ok()?);
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers, SystemTime::now()), Some(Duration::from_secs(7)));
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("Sun, 06 Nov 1994 08:49:47 GMT"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(10)));
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let config = FetchConfig { backoff: Duration::from_millis(100), max_delay: Duration::from_secs(1), ..FetchConfig::default() };
        let fetcher = Fetcher::new(config).unwrap();
        for attempt in 0..20 {
            let wait = fetcher.backoff(attempt);
            let step = Duration::from_millis(100).saturating_mul(1 << attempt.min(16)).min(Duration::from_secs(1));
            assert!(wait <= step, "attempt {attempt}: {wait:?} over {step:?}");
        }
    }
}
