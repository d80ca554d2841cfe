//! The poll loop: each due source is asked (conditionally) what it lists, the pages not yet
//! fetched by any source are fetched, archived and sent through the pipeline, and the source's
//! state is stored.
//!
//! Order, so that a killed follower loses nothing and duplicates nothing: answers are appended
//! to the WARC archive (synced) first; then the pipeline stores the articles; only then are the
//! pages marked fetched with the source's new state. A kill in between makes the next poll
//! fetch those pages again, and the store finds the articles already stored.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use storyline_model::{SourceKind, SourceState};
use storyline_pipeline::{Ingest, Inputs, Pipeline};
use storyline_store::Store;
use url::Url;

use crate::archive::{self, Archive};
use crate::canon;
use crate::fetch::{FetchError, Fetched, Fetcher, Validators};
use crate::listing::{self, Entry, Kind, Listing};

/// How the follower paces itself.
#[derive(Debug, Clone)]
pub struct FollowConfig {
    /// Time between two polls of a source that answered.
    pub every: Duration,
    /// The longest a failing source is backed off (the wait doubles with each failure).
    pub max_backoff: Duration,
    /// Pages fetched per source per poll at most (the rest wait for the next poll).
    pub max_pages_per_poll: usize,
    /// Sources named by an OPML file or sitemap index, at most, per source.
    pub max_children: usize,
    /// Sources asked at once (a wave); their pages are fetched at once and ingested together
    /// (a wave takes as long as its slowest host: 20 pages at a 1 s host delay take 20 s).
    pub sources_at_once: usize,
    pub archive: PathBuf,
}

impl FollowConfig {
    pub fn new(archive: PathBuf) -> FollowConfig {
        FollowConfig {
            every: Duration::from_secs(300),
            max_backoff: Duration::from_secs(6 * 3600),
            max_pages_per_poll: 200,
            max_children: 1000,
            sources_at_once: 128,
            archive,
        }
    }
}

/// What one poll did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PollSummary {
    pub sources_polled: usize,
    pub unchanged: usize,
    pub failed: usize,
    /// Pages listed that another poll (of any source) had fetched already.
    pub already_fetched: usize,
    pub pages_fetched: usize,
    /// Pages whose stated canonical address was fetched already.
    pub canonical_duplicates: usize,
    /// Pages that could not be fetched, with feed text used instead where the feed had it.
    pub page_errors: usize,
    pub from_feed_text: usize,
    pub articles_added: usize,
}

/// Why a poll stopped (one source's failure is recorded in its state instead).
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error(transparent)]
    Store(#[from] storyline_store::Error),
    #[error(transparent)]
    Pipeline(#[from] storyline_pipeline::Error),
    #[error("the archive {path}: {source}")]
    Archive { path: PathBuf, source: std::io::Error },
}

/// The follower of a set of sources over one store.
pub struct Follower<'a> {
    pub store: &'a dyn Store,
    pub pipeline: Pipeline<'a>,
    /// Where new documents go instead of `pipeline` (a work queue), when set.
    pub via: Option<&'a dyn Ingest>,
    pub fetcher: Arc<Fetcher>,
    pub config: FollowConfig,
    archive: Archive,
}

impl<'a> Follower<'a> {
    pub fn new(store: &'a dyn Store, pipeline: Pipeline<'a>, fetcher: Arc<Fetcher>, config: FollowConfig) -> Result<Follower<'a>, FollowError> {
        let archive = Archive::open(&config.archive).map_err(|source| FollowError::Archive { path: config.archive.clone(), source })?;
        Ok(Follower { store, pipeline, via: None, fetcher, config, archive })
    }

    /// New documents go to `ingest` (a queue publisher) instead of the pipeline; the source
    /// state is still kept in the store, and a page is marked fetched only once `ingest`
    /// returned (the queue acknowledged it).
    pub fn through(mut self, ingest: &'a dyn Ingest) -> Follower<'a> {
        self.via = Some(ingest);
        self
    }

    /// What new documents go through.
    pub(crate) fn ingestor(&self) -> &dyn Ingest {
        self.via.unwrap_or(&self.pipeline)
    }

    /// Polls every source in `sources` that is due (and the sources they name), once. Due
    /// sources are taken in waves of [`FollowConfig::sources_at_once`]: a wave's sources are
    /// asked at once, then the pages they list are fetched at once (the fetcher spaces the
    /// requests to each host and keeps the global rate), archived, ingested together and only
    /// then marked fetched with each source's new state.
    pub async fn poll(&self, sources: &[String], now: DateTime<Utc>) -> Result<PollSummary, FollowError> {
        let mut states: std::collections::HashMap<String, SourceState> =
            storyline_store::blocking(|| self.store.sources())?.into_iter().map(|s| (s.url.clone(), s)).collect();
        let mut summary = PollSummary::default();
        let mut queue: std::collections::VecDeque<String> = sources.iter().cloned().collect();
        let mut visited = HashSet::new();
        while !queue.is_empty() {
            let mut wave = Vec::new();
            while wave.len() < self.config.sources_at_once.max(1) {
                let Some(url) = queue.pop_front() else { break };
                if !visited.insert(url.clone()) {
                    continue;
                }
                let state = states.remove(&url).unwrap_or_else(|| SourceState::new(url.clone()));
                if state.next_poll.is_some_and(|at| at > now) {
                    continue;
                }
                summary.sources_polled += 1;
                wave.push(state);
            }
            if !wave.is_empty() {
                let children = self.poll_wave(wave, now, &mut summary).await?;
                queue.extend(children);
            }
        }
        Ok(summary)
    }

    /// Records a source's failure and stores its state: it waits `every × 2^failures`, at most
    /// `max_backoff`.
    fn fail(&self, state: &mut SourceState, now: DateTime<Utc>, summary: &mut PollSummary, status: Option<u16>, error: String) -> Result<(), FollowError> {
        state.failures += 1;
        state.last_status = status;
        state.last_error = Some(error);
        let wait = self.config.every.saturating_mul(1 << state.failures.min(16)).min(self.config.max_backoff.max(self.config.every));
        state.next_poll = Some(now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX));
        summary.failed += 1;
        Ok(storyline_store::blocking(|| self.store.put_source(state, &[]))?)
    }

    /// Polls one wave of sources; returns the sources they name (OPML feeds, an index's
    /// sitemaps).
    async fn poll_wave(&self, mut wave: Vec<SourceState>, now: DateTime<Utc>, summary: &mut PollSummary) -> Result<Vec<String>, FollowError> {
        // 1. Every source is asked at once, conditionally.
        let mut asks = tokio::task::JoinSet::new();
        let mut answers: Vec<Option<Result<Fetched, FetchError>>> = (0..wave.len()).map(|_| None).collect();
        let mut urls: Vec<Option<Url>> = Vec::with_capacity(wave.len());
        for (i, state) in wave.iter_mut().enumerate() {
            state.last_fetch = Some(now);
            let url = Url::parse(&state.url).ok();
            if let Some(url) = &url {
                let (fetcher, url) = (self.fetcher.clone(), url.clone());
                let validators = Validators { etag: state.etag.clone(), last_modified: state.last_modified.clone() };
                asks.spawn(async move { (i, fetcher.get(&url, &validators).await) });
            }
            urls.push(url);
        }
        while let Some(joined) = asks.join_next().await {
            if let Ok((i, answer)) = joined {
                answers[i] = Some(answer);
            }
        }
        // 2. What each answered: failures and 304s are recorded now; listings go on.
        let mut children = Vec::new();
        let mut listed: Vec<(usize, Url, Listing, Validators, u16)> = Vec::new();
        for (i, answer) in answers.into_iter().enumerate() {
            let state = &mut wave[i];
            let Some(url) = urls[i].clone() else {
                let error = format!("{}: not an address", state.url);
                self.fail(state, now, summary, None, error)?;
                continue;
            };
            let answer = match answer {
                Some(Ok(answer)) => answer,
                Some(Err(e)) => {
                    self.fail(state, now, summary, None, e.to_string())?;
                    continue;
                }
                None => {
                    self.fail(state, now, summary, None, format!("{url}: the fetch task failed"))?;
                    continue;
                }
            };
            if answer.not_modified() {
                summary.unchanged += 1;
                self.answered(state, now, 304);
                storyline_store::blocking(|| self.store.put_source(state, &[]))?;
                children.extend(state.children.iter().take(self.config.max_children).cloned());
                continue;
            }
            if !answer.ok() {
                self.fail(state, now, summary, Some(answer.status), format!("{url}: answered {}", answer.status))?;
                continue;
            }
            match listing::read(url.as_str(), Some(&answer.url), &answer.body) {
                Ok(listing) => listed.push((i, url, listing, answer.validators(), answer.status)),
                Err(e) => {
                    self.fail(state, now, summary, Some(answer.status), e.to_string())?;
                }
            }
        }
        if listed.is_empty() {
            return Ok(children);
        }
        // 3. The pages no source fetched before (and no other source of this wave lists first).
        let mut claimed: HashSet<String> = HashSet::new();
        let mut jobs: Vec<(usize, &Entry)> = Vec::new();
        for (k, (_, _, listing, _, _)) in listed.iter().enumerate() {
            let urls: Vec<String> = listing.entries.iter().map(|e| e.url.to_string()).collect();
            let done = storyline_store::blocking(|| self.store.fetched_pages(&urls))?;
            summary.already_fetched += done.len();
            let mut taken = 0;
            for entry in listing.entries.iter().filter(|e| !done.contains(e.url.as_str())) {
                if taken == self.config.max_pages_per_poll {
                    break;
                }
                if !claimed.insert(entry.url.to_string()) {
                    summary.already_fetched += 1;
                    continue;
                }
                taken += 1;
                jobs.push((k, entry));
            }
        }
        // 4. Fetched at once; the fetcher spaces the requests to one host.
        let mut tasks = tokio::task::JoinSet::new();
        for (j, (_, entry)) in jobs.iter().enumerate() {
            let (fetcher, url) = (self.fetcher.clone(), entry.url.clone());
            tasks.spawn(async move { (j, fetcher.get(&url, &Validators::default()).await) });
        }
        let mut pages: Vec<Option<Result<Fetched, FetchError>>> = (0..jobs.len()).map(|_| None).collect();
        while let Some(joined) = tasks.join_next().await {
            if let Ok((j, answer)) = joined {
                pages[j] = Some(answer);
            }
        }
        let mut marked: Vec<Vec<String>> = vec![Vec::new(); listed.len()];
        let mut kept: Vec<usize> = vec![0; listed.len()];
        let mut keep: Vec<Fetched> = Vec::new();
        let mut canonicals: HashSet<String> = HashSet::new();
        for ((k, entry), answer) in jobs.iter().zip(pages) {
            let source = &listed[*k].1;
            let page = match answer {
                Some(Ok(answer)) if answer.ok() => answer,
                other => {
                    summary.page_errors += 1;
                    // A page that is gone, refused or too large stays so: it is marked fetched
                    // and not asked again. A network failure, 429 or 5xx is tried next poll.
                    let (why, permanent) = match other {
                        Some(Ok(answer)) => {
                            let permanent = (400..500).contains(&answer.status) && answer.status != 429;
                            (format!("{}: answered {}", entry.url, answer.status), permanent)
                        }
                        Some(Err(e)) => (e.to_string(), !e.transient()),
                        None => (format!("{}: the fetch task failed", entry.url), false),
                    };
                    match feed_text(source, entry, &why) {
                        Some(page) => {
                            summary.from_feed_text += 1;
                            keep.push(page);
                            kept[*k] += 1;
                            marked[*k].push(entry.url.to_string());
                        }
                        None => {
                            eprintln!("follow: {why}{}", if permanent { "; not asked again" } else { "; tried again at the next poll" });
                            if permanent {
                                marked[*k].push(entry.url.to_string());
                            }
                        }
                    }
                    continue;
                }
            };
            summary.pages_fetched += 1;
            marked[*k].push(entry.url.to_string());
            // After the fetch: the page's own canonical address (or where redirects led).
            let stated = stated_canonical(&page).or_else(|| canon::canonical(page.url.as_str())).filter(|c| c != &entry.url).map(|c| c.to_string());
            if let Some(stated) = stated {
                if canonicals.contains(&stated) || !storyline_store::blocking(|| self.store.fetched_pages(std::slice::from_ref(&stated)))?.is_empty() {
                    summary.canonical_duplicates += 1;
                    continue;
                }
                canonicals.insert(stated.clone());
                marked[*k].push(stated);
            } else if !canonicals.insert(entry.url.to_string()) {
                summary.canonical_duplicates += 1;
                continue;
            }
            keep.push(page);
            kept[*k] += 1;
        }
        // 5. Archived (synced), ingested together, then each source's pages marked.
        if !keep.is_empty() {
            self.archive.append(&keep).map_err(|source| FollowError::Archive { path: self.config.archive.clone(), source })?;
            let name = if listed.len() == 1 { listed[0].1.to_string() } else { format!("{} and {} more sources", listed[0].1, listed.len() - 1) };
            summary.articles_added += self.ingest(&name, &keep)?;
        }
        for (k, (i, _, listing, validators, status)) in listed.into_iter().enumerate() {
            let state = &mut wave[i];
            state.kind = match listing.kind {
                Kind::Feed => SourceKind::Feed,
                Kind::Sitemap => SourceKind::Sitemap,
                Kind::SitemapIndex => SourceKind::SitemapIndex,
                Kind::Opml => SourceKind::Opml,
            };
            state.etag = validators.etag;
            state.last_modified = validators.last_modified;
            state.entries_seen += listing.entries.len() as u64;
            state.new_articles += kept[k] as u64;
            state.children = listing.sources.iter().map(Url::to_string).collect();
            self.answered(state, now, status);
            storyline_store::blocking(|| self.store.put_source(state, &marked[k]))?;
            children.extend(state.children.iter().take(self.config.max_children).cloned());
        }
        Ok(children)
    }

    fn answered(&self, state: &mut SourceState, now: DateTime<Utc>, status: u16) {
        state.failures = 0;
        state.last_error = None;
        state.last_status = Some(status);
        state.next_poll = Some(now + chrono::Duration::from_std(self.config.every).unwrap_or(chrono::Duration::MAX));
    }

    /// The answers through the pipeline, as one WARC stream.
    fn ingest(&self, source: &str, answers: &[Fetched]) -> Result<usize, FollowError> {
        let spool_err = |source: std::io::Error| FollowError::Archive { path: std::env::temp_dir(), source };
        let mut spool = tempfile::tempfile().map_err(spool_err)?;
        archive::write_records(&mut spool, answers).map_err(spool_err)?;
        let inputs = Inputs::spooled(format!("{source} (fetched)"), spool).map_err(spool_err)?;
        let summary = storyline_store::blocking(|| self.ingestor().ingest(self.store, &inputs))?;
        Ok(summary.added)
    }
}

/// The page's `<link rel="canonical">`, resolved against where it came from.
fn stated_canonical(page: &Fetched) -> Option<Url> {
    let html = std::str::from_utf8(&page.body).ok()?;
    // Only the head matters; stop the parse short of a huge body.
    let head = match html.find("</head>") {
        Some(end) => &html[..end],
        None => &html[..html.len().min(64 * 1024)],
    };
    let doc = scraper::Html::parse_document(head);
    let selector = scraper::Selector::parse("link[rel~=canonical][href]").expect("a valid selector");
    let href = doc.select(&selector).next()?.value().attr("href")?;
    canon::stated(&page.url, href)
}

/// A feed entry's full text as the page, when the page itself could not be fetched. The
/// answer is marked as coming from the feed (`x-storyline-from-feed`).
fn feed_text(source: &Url, entry: &Entry, why: &str) -> Option<Fetched> {
    let content = entry.content.as_deref()?;
    let title = entry.title.as_deref().map(|t| html_escape::encode_text(t).into_owned()).unwrap_or_default();
    let date = entry
        .published
        .as_deref()
        .map(|d| format!("<meta property=\"article:published_time\" content=\"{}\">", html_escape::encode_double_quoted_attribute(d)))
        .unwrap_or_default();
    let body = format!("<html><head><title>{title}</title>{date}</head><body><article><h1>{title}</h1>{content}</article></body></html>");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::CONTENT_TYPE, reqwest::header::HeaderValue::from_static("text/html; charset=utf-8"));
    if let Ok(v) = reqwest::header::HeaderValue::from_str(source.as_str()) {
        headers.insert("x-storyline-from-feed", v);
    }
    eprintln!("follow: {why}; the feed's full text is used instead");
    Some(Fetched { url: entry.url.clone(), status: 200, headers, body: body.into_bytes(), requests: 0, at: std::time::SystemTime::now() })
}
