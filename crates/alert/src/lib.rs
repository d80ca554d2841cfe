//! Alerts: saved searches ([`Alert`]) checked against the stories that changed since each
//! alert's last check (the store's story feed), and delivered.
//!
//! A story with a member matching the query is reported once when it first matches (level 0),
//! and again only when `grow_by` more outlets have joined it since its first report (level k
//! for k × `grow_by` new outlets). Reports are stored before they are delivered, once per
//! `(alert, story, level)`, together with the alert's new check cursor in one transaction, so
//! a restarted or second checker never reports a story twice. Delivery: a webhook POST of the
//! report as JSON, signed (`X-Storyline-Signature: sha256=HEX`, the HMAC-SHA256 of the body
//! under the alert's secret) and retried with backoff and jitter on network errors, 429 and
//! 5xx; or a line appended (and synced) to a JSON Lines file. A report that could not be
//! delivered is tried again by later runs, with a growing wait, up to
//! [`AlertConfig::max_attempts`].
//!
//! The checks run in async code: every store call goes through [`storyline_store::blocking`].

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::{Arc, Once};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use serde::Serialize;
use storyline_model::{Alert, AlertHit, ArticleId, StoryId};
use storyline_store::{Query, Store, StoryChanges};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] storyline_store::Error),
    #[error("alert `{name}`: {message}")]
    Invalid { name: String, message: String },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// How alerts are checked and delivered.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// Matching articles looked at per alert and check, at most.
    pub max_matches: usize,
    /// Tries of one delivery before it waits for a later run.
    pub tries: u32,
    /// The first wait between tries (doubling, full jitter).
    pub backoff: Duration,
    /// Runs that may try one report before it is given up.
    pub max_attempts: u32,
    /// Time a webhook has to answer.
    pub timeout: Duration,
}

impl Default for AlertConfig {
    fn default() -> AlertConfig {
        AlertConfig { max_matches: 10_000, tries: 3, backoff: Duration::from_millis(500), max_attempts: 8, timeout: Duration::from_secs(10) }
    }
}

/// Checks that an alert can be stored: a name, a query that parses, a web address or a file.
pub fn validate(alert: &Alert) -> Result<(), Error> {
    let bad = |message: String| Err(Error::Invalid { name: alert.name.clone(), message });
    if alert.name.trim().is_empty() || alert.name.len() > 200 || alert.name.chars().any(char::is_control) {
        return bad("a name is 1 to 200 characters, without control characters".into());
    }
    if alert.query.trim().is_empty() {
        return bad("the query is empty".into());
    }
    if let Err(e) = Query::parse(&alert.query) {
        return bad(format!("the query: {e}"));
    }
    if alert.webhook.is_none() && alert.file.is_none() {
        return bad("give a webhook address or a file to deliver to".into());
    }
    if let Some(hook) = &alert.webhook {
        match url::Url::parse(hook) {
            Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => {}
            _ => return bad(format!("the webhook `{hook}` is not an http(s) address")),
        }
    }
    if !(1..=1_000_000).contains(&alert.grow_by) {
        return bad("grow_by is from 1 to 1000000".into());
    }
    Ok(())
}

/// A new secret for an alert's signatures: 32 random bytes, hex.
pub fn new_secret() -> String {
    let mut rng = fastrand::Rng::new();
    (0..32).map(|_| format!("{:02x}", rng.u8(..))).collect()
}

/// The reports `alert` makes on `changes`, the story changes since its last check
/// (`Stories::story_changes(alert.checked)`).
pub fn check(store: &dyn Store, alert: &Alert, changes: &StoryChanges, config: &AlertConfig, now: DateTime<Utc>) -> Result<Vec<AlertHit>, Error> {
    if changes.stories.is_empty() {
        return Ok(Vec::new());
    }
    let query = Query::parse(&alert.query).map_err(|e| Error::Invalid { name: alert.name.clone(), message: format!("the query: {e}") })?;
    let ids: Vec<ArticleId> = store.search(&query, config.max_matches)?.hits.into_iter().map(|h| h.id).collect();
    let mut matched: HashMap<StoryId, Vec<ArticleId>> = HashMap::new();
    for (article, story) in store.stories_of(&ids)? {
        matched.entry(story).or_default().push(article);
    }
    // What was reported of each story before: its first report and its last.
    let mut prior: HashMap<StoryId, (AlertHit, AlertHit)> = HashMap::new();
    for h in store.alert_hits(Some(&alert.name))? {
        match prior.get_mut(&h.story) {
            None => {
                prior.insert(h.story.clone(), (h.clone(), h));
            }
            Some((first, last)) => {
                if h.level < first.level {
                    *first = h.clone();
                }
                if h.level > last.level {
                    *last = h;
                }
            }
        }
    }
    let mut hits = Vec::new();
    for story in &changes.stories {
        let Some(articles) = matched.get_mut(&story.id) else { continue };
        articles.sort();
        articles.truncate(20);
        let (level, new_outlets) = match prior.get(&story.id) {
            None => (0, story.outlets.clone()),
            Some((first, last)) => {
                let grown = story.outlets.len().saturating_sub(first.outlets.len()) as u32 / alert.grow_by.max(1);
                if grown <= last.level {
                    continue;
                }
                let had: HashSet<&String> = last.outlets.iter().collect();
                (grown, story.outlets.iter().filter(|o| !had.contains(o)).cloned().collect())
            }
        };
        hits.push(AlertHit {
            alert: alert.name.clone(),
            story: story.id.clone(),
            level,
            title: story.title.clone(),
            articles: story.articles,
            outlets: story.outlets.clone(),
            new_outlets,
            matched: articles.clone(),
            at: now,
            delivered: None,
            attempts: 0,
            last_attempt: None,
            last_error: None,
        });
    }
    Ok(hits)
}

/// What a delivery carries (the webhook's body; the file's line).
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub alert: &'a str,
    pub query: &'a str,
    /// `alert/story/level`: the same for every try of one report (for receivers that dedupe).
    pub delivery: String,
    #[serde(flatten)]
    pub hit: &'a AlertHit,
}

impl Report<'_> {
    pub fn of<'a>(alert: &'a Alert, hit: &'a AlertHit) -> Report<'a> {
        Report { alert: &alert.name, query: &alert.query, delivery: format!("{}/{}/{}", alert.name, hit.story.0, hit.level), hit }
    }
}

/// The `X-Storyline-Signature` value of a body: `sha256=` and the hex HMAC-SHA256 under the
/// secret (the secret's hex text is the key).
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    format!("sha256={}", tag.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// What one run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    pub alerts: usize,
    pub reported: usize,
    pub delivered: usize,
    pub failed: usize,
}

static CRYPTO: Once = Once::new();

/// Checks every alert of a store and delivers what they report.
pub struct Alerter {
    store: Arc<dyn Store>,
    client: reqwest::Client,
    pub config: AlertConfig,
}

impl Alerter {
    pub fn new(store: Arc<dyn Store>, config: AlertConfig) -> Result<Alerter, Error> {
        CRYPTO.call_once(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let client = reqwest::Client::builder()
            .user_agent(concat!("storyline-alerts/", env!("CARGO_PKG_VERSION")))
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Client(e.to_string()))?;
        Ok(Alerter { store, client, config })
    }

    /// Checks each alert, stores its new reports, then delivers every report still due.
    pub async fn run(&self, now: DateTime<Utc>) -> Result<RunSummary, Error> {
        let store = self.store.as_ref();
        let alerts = storyline_store::blocking(|| store.alerts())?;
        let mut summary = RunSummary { alerts: alerts.len(), ..RunSummary::default() };
        if alerts.is_empty() {
            return Ok(summary);
        }
        // The head first: every story write it covers is in the changes read after. Alerts
        // checked up to the same change share one read of what changed since.
        let head = storyline_store::blocking(|| store.head())?;
        let mut changes_since: HashMap<i64, StoryChanges> = HashMap::new();
        for alert in &alerts {
            if head.changes <= alert.checked {
                continue;
            }
            let changes = match changes_since.entry(alert.checked) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(storyline_store::blocking(|| store.story_changes(alert.checked))?),
            };
            let changes = &*changes;
            let hits = match storyline_store::blocking(|| check(store, alert, changes, &self.config, now)) {
                Ok(hits) => hits,
                Err(e @ Error::Invalid { .. }) => {
                    eprintln!("warning: {e}");
                    continue;
                }
                Err(e) => return Err(e),
            };
            summary.reported += storyline_store::blocking(|| store.record_alert_check(&alert.name, head.changes, &hits))?.len();
        }
        let by_name: HashMap<&str, &Alert> = alerts.iter().map(|a| (a.name.as_str(), a)).collect();
        for mut hit in storyline_store::blocking(|| store.alert_hits(None))? {
            if hit.delivered.is_some() || hit.attempts >= self.config.max_attempts {
                continue;
            }
            // A report that failed waits 30 s, doubling with each run that failed, at most 1 h.
            if let Some(last) = hit.last_attempt {
                let wait = Duration::from_secs(30).saturating_mul(1 << hit.attempts.min(7)).min(Duration::from_secs(3600));
                if now < last + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX) {
                    continue;
                }
            }
            let Some(alert) = by_name.get(hit.alert.as_str()) else { continue };
            hit.attempts += 1;
            hit.last_attempt = Some(now);
            match self.deliver(alert, &hit).await {
                Ok(()) => {
                    hit.delivered = Some(Utc::now());
                    hit.last_error = None;
                    summary.delivered += 1;
                }
                Err((error, permanent)) => {
                    eprintln!("warning: alert `{}`: delivering the report of story {}: {error}", alert.name, hit.story.0);
                    hit.last_error = Some(error);
                    if permanent {
                        hit.attempts = self.config.max_attempts;
                    }
                    summary.failed += 1;
                }
            }
            storyline_store::blocking(|| store.update_alert_hit(&hit))?;
        }
        Ok(summary)
    }

    /// One report to each of the alert's destinations; the error says whether trying again
    /// could help.
    async fn deliver(&self, alert: &Alert, hit: &AlertHit) -> Result<(), (String, bool)> {
        let body = serde_json::to_vec(&Report::of(alert, hit)).map_err(|e| (e.to_string(), true))?;
        if let Some(path) = &alert.file {
            append_line(path, &body).map_err(|e| (format!("{path}: {e}"), false))?;
        }
        if let Some(hook) = &alert.webhook {
            self.post(alert, hook, hit, body).await?;
        }
        Ok(())
    }

    async fn post(&self, alert: &Alert, hook: &str, hit: &AlertHit, body: Vec<u8>) -> Result<(), (String, bool)> {
        let signature = signature(&alert.secret, &body);
        let delivery = format!("{}/{}/{}", alert.name, hit.story.0, hit.level);
        let mut last = String::new();
        for attempt in 0..self.config.tries.max(1) {
            if attempt > 0 {
                let cap = self.config.backoff.saturating_mul(1 << (attempt - 1).min(16));
                tokio::time::sleep(cap.mul_f64(fastrand::f64())).await;
            }
            let sent = self
                .client
                .post(hook)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header("x-storyline-signature", &signature)
                .header("x-storyline-alert", &alert.name)
                .header("x-storyline-delivery", &delivery)
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => last = format!("{hook} answered {}", r.status()),
                Ok(r) => return Err((format!("{hook} answered {}", r.status()), true)),
                Err(e) => last = format!("{hook}: {e}"),
            }
        }
        Err((last, false))
    }
}

/// Appends one line and syncs it, so that a report said delivered is on disk.
fn append_line(path: &str, line: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line);
    buf.push(b'\n');
    file.write_all(&buf)?;
    file.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2: key "Jefe".
        assert_eq!(signature("Jefe", b"what do ya want for nothing?"), "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert_ne!(signature("Jefe", b"what do ya want for nothing!"), signature("Jefe", b"what do ya want for nothing?"));
    }

    #[test]
    fn alerts_are_checked_before_they_are_stored() {
        let ok = Alert {
            name: "envoy".into(),
            query: "amr AND envoy".into(),
            webhook: Some("https://hooks.example/x".into()),
            file: None,
            secret: new_secret(),
            grow_by: 3,
            created: Utc::now(),
            checked: 0,
        };
        assert!(validate(&ok).is_ok());
        assert_eq!(ok.secret.len(), 64);
        for bad in [
            Alert { name: " ".into(), ..ok.clone() },
            Alert { query: "(((".into(), ..ok.clone() },
            Alert { webhook: Some("file:///etc/passwd".into()), ..ok.clone() },
            Alert { webhook: None, ..ok.clone() },
            Alert { grow_by: 0, ..ok.clone() },
            Alert { grow_by: 1_000_001, ..ok.clone() },
            Alert { query: "  ".into(), ..ok.clone() },
        ] {
            assert!(validate(&bad).is_err(), "{bad:?}");
        }
    }
}
