//! What changed, as events: each refresh of the read model compares the catalog before and
//! after the store's story changes and publishes what happened (an article stored; a story
//! created, grown or merged) to every subscriber of `GET /events` (Server-Sent Events) and to the
//! live pages of the UI. The last events are kept so that a client that reconnects with
//! `Last-Event-ID` misses nothing; one that was away for longer is told to reload (`reset`).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use storyline_model::{ArticleId, Published, StoredArticle, StoryId};
use storyline_store::StoryChanges;
use tokio::sync::broadcast;

use crate::catalog::Catalog;

/// One thing that happened in the store.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// An article was stored (by any process). Its story comes with a later story event.
    ArticleStored { article: ArticleId, title: Option<String>, url: Option<String>, outlet: Option<String>, published: Option<Published> },
    /// A story was formed.
    StoryCreated { story: StoryId, title: String, articles: usize, outlets: Vec<String>, new_articles: Vec<ArticleId> },
    /// A story gained articles.
    StoryGrew { story: StoryId, title: String, articles: usize, outlets: Vec<String>, new_outlets: Vec<String>, new_articles: Vec<ArticleId> },
    /// A story was absorbed by another: links to `story` now lead to `into`.
    StoryMerged { story: StoryId, into: Option<StoryId> },
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Event::ArticleStored { .. } => "article_stored",
            Event::StoryCreated { .. } => "story_created",
            Event::StoryGrew { .. } => "story_grew",
            Event::StoryMerged { .. } => "story_merged",
        }
    }

    /// The stories the event is about.
    pub fn stories(&self) -> Vec<&StoryId> {
        match self {
            Event::ArticleStored { .. } => Vec::new(),
            Event::StoryCreated { story, .. } | Event::StoryGrew { story, .. } => vec![story],
            Event::StoryMerged { story, into } => std::iter::once(story).chain(into).collect(),
        }
    }
}

/// An event with its place in this server's sequence and the time it was seen.
#[derive(Debug, Clone, Serialize)]
pub struct Stamped {
    /// `EPOCH:N`: the server's start time (milliseconds) and the event's number since.
    pub id: String,
    #[serde(skip)]
    pub n: u64,
    /// RFC 3339 UTC.
    pub at: String,
    #[serde(flatten)]
    pub event: Event,
}

/// The story events of one refresh: what `changes` did to `old`, giving `new`.
pub fn story_events(old: &Catalog, new: &Catalog, changes: &StoryChanges) -> Vec<Event> {
    // Articles that joined each story with this change.
    let mut joined: HashMap<&StoryId, Vec<ArticleId>> = HashMap::new();
    // Where the members of each story that went away went.
    let mut went: HashMap<&StoryId, HashMap<&StoryId, usize>> = HashMap::new();
    for (a, s) in &changes.members {
        let before = old.article_story.get(a);
        if before == Some(s) {
            continue;
        }
        joined.entry(s).or_default().push(a.clone());
        if let Some(b) = before {
            *went.entry(b).or_default().entry(s).or_default() += 1;
        }
    }
    let mut events = Vec::new();
    for story in &changes.stories {
        let mut new_articles = joined.remove(&story.id).unwrap_or_default();
        new_articles.sort();
        let outlets = story.outlets.clone();
        match old.story(&story.id.0) {
            None => events.push(Event::StoryCreated { story: story.id.clone(), title: story.title.clone(), articles: story.articles, outlets, new_articles }),
            Some(before) if story.articles > before.story.articles || !new_articles.is_empty() => {
                let had: HashSet<&String> = before.story.outlets.iter().collect();
                let new_outlets = outlets.iter().filter(|o| !had.contains(o)).cloned().collect();
                events.push(Event::StoryGrew {
                    story: story.id.clone(),
                    title: story.title.clone(),
                    articles: story.articles,
                    outlets,
                    new_outlets,
                    new_articles,
                });
            }
            Some(_) => {}
        }
    }
    for gone in &changes.gone {
        if old.story(&gone.0).is_none() {
            continue;
        }
        // The story most of its members moved to (the survivor of the merge).
        let into = went
            .get(gone)
            .and_then(|to| to.iter().max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0))).map(|(s, _)| (*s).clone()))
            .filter(|s| new.story(&s.0).is_some());
        events.push(Event::StoryMerged { story: gone.clone(), into });
    }
    events
}

pub fn article_event(a: &StoredArticle) -> Event {
    let a = &a.article;
    Event::ArticleStored { article: a.id.clone(), title: a.title.clone(), url: a.url.clone(), outlet: a.outlet.clone(), published: a.published }
}

/// The events of this server: a broadcast to live subscribers and the last `keep` events for
/// those that reconnect.
pub struct Events {
    epoch: u64,
    next: AtomicU64,
    tx: broadcast::Sender<Arc<Stamped>>,
    recent: Mutex<VecDeque<Arc<Stamped>>>,
    keep: usize,
}

/// Where a reconnecting client stands.
pub enum Replay {
    /// The events it missed (possibly none).
    Missed(Vec<Arc<Stamped>>),
    /// It missed more than is kept, or the server restarted since: it should reload.
    Reset,
}

impl Events {
    pub fn new(keep: usize) -> Events {
        let epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        let (tx, _) = broadcast::channel(keep.max(16));
        Events { epoch, next: AtomicU64::new(1), tx, recent: Mutex::new(VecDeque::new()), keep: keep.max(1) }
    }

    pub fn publish(&self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        for event in events {
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            let stamped = Arc::new(Stamped { id: format!("{}:{n}", self.epoch), n, at: at.clone(), event });
            recent.push_back(stamped.clone());
            if recent.len() > self.keep {
                recent.pop_front();
            }
            // No subscriber is not an error.
            let _ = self.tx.send(stamped);
        }
    }

    /// A live subscription, and what a client that last saw `last_id` missed. Subscribing
    /// under the same lock as the replay is read means no event falls between the two.
    pub fn subscribe(&self, last_id: Option<&str>) -> (broadcast::Receiver<Arc<Stamped>>, Replay) {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let rx = self.tx.subscribe();
        let Some(last) = last_id else { return (rx, Replay::Missed(Vec::new())) };
        let parsed = last.split_once(':').and_then(|(e, n)| Some((e.parse::<u64>().ok()?, n.parse::<u64>().ok()?)));
        let replay = match parsed {
            Some((epoch, n)) if epoch == self.epoch => {
                let oldest = recent.front().map(|s| s.n).unwrap_or(self.next.load(Ordering::Relaxed));
                if n + 1 < oldest {
                    Replay::Reset
                } else {
                    Replay::Missed(recent.iter().filter(|s| s.n > n).cloned().collect())
                }
            }
            _ => Replay::Reset,
        };
        (rx, replay)
    }

    /// How many events were published so far.
    pub fn published(&self) -> u64 {
        self.next.load(Ordering::Relaxed) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(id: &str) -> Event {
        Event::ArticleStored { article: ArticleId(id.into()), title: None, url: None, outlet: None, published: None }
    }

    #[test]
    fn reconnecting_clients_get_what_they_missed_or_a_reset() {
        let events = Events::new(3);
        events.publish(vec![stored("a"), stored("b")]);
        let (_, first) = events.subscribe(None);
        assert!(matches!(first, Replay::Missed(v) if v.is_empty()));
        let (_, missed) = events.subscribe(Some(&format!("{}:1", events.epoch)));
        let Replay::Missed(missed) = missed else { panic!("expected a replay") };
        assert_eq!(missed.iter().map(|s| s.event.clone()).collect::<Vec<_>>(), vec![stored("b")]);
        events.publish(vec![stored("c"), stored("d"), stored("e")]);
        // Events 1 to 2 are no longer kept: a client at 1 missed 2.
        assert!(matches!(events.subscribe(Some(&format!("{}:1", events.epoch))).1, Replay::Reset));
        assert!(matches!(events.subscribe(Some(&format!("{}:2", events.epoch))).1, Replay::Missed(v) if v.len() == 3));
        // Another server run.
        assert!(matches!(events.subscribe(Some("1:2")).1, Replay::Reset));
        assert!(matches!(events.subscribe(Some("garbage")).1, Replay::Reset));
    }

    #[test]
    fn live_subscribers_receive_in_order() {
        let events = Events::new(8);
        let (mut rx, _) = events.subscribe(None);
        events.publish(vec![stored("a"), stored("b")]);
        assert_eq!(rx.try_recv().unwrap().event, stored("a"));
        assert_eq!(rx.try_recv().unwrap().event, stored("b"));
        assert_eq!(events.published(), 2);
    }
}
