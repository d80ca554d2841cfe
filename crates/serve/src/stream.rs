//! `GET /events`: the server's [`Events`](crate::events::Events) as Server-Sent Events, each
//! named after its type with its JSON as data. A client that reconnects (`Last-Event-ID`, or
//! `?since=`) first gets what it missed; one that missed more than the server keeps, or fell
//! behind a live stream, gets a `reset` event and should reload what it shows.

use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio::sync::broadcast::error::RecvError;

use crate::api::{params, ApiError, ApiResult, Params};
use crate::events::{Replay, Stamped};
use crate::Shared;

const KINDS: [&str; 4] = ["article_stored", "story_created", "story_grew", "story_merged"];

/// Which events a client asked for.
struct Wanted {
    kinds: Option<HashSet<String>>,
    story: Option<String>,
}

impl Wanted {
    fn admits(&self, s: &Stamped) -> bool {
        self.kinds.as_ref().is_none_or(|k| k.contains(s.event.kind())) && self.story.as_ref().is_none_or(|id| s.event.stories().iter().any(|x| &x.0 == id))
    }
}

/// One open stream: counted while it lives.
struct Feed {
    state: Shared,
    rx: tokio::sync::broadcast::Receiver<Arc<Stamped>>,
    backlog: VecDeque<SseEvent>,
    closing: tokio::sync::watch::Receiver<bool>,
    wanted: Wanted,
    done: bool,
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.state.streams.fetch_sub(1, Ordering::AcqRel);
    }
}

fn sse(s: &Stamped) -> SseEvent {
    SseEvent::default().id(s.id.clone()).event(s.event.kind()).json_data(s).unwrap_or_else(|_| SseEvent::default().comment("unencodable event"))
}

fn reset(why: &str) -> SseEvent {
    SseEvent::default().event("reset").data(serde_json::json!({"type": "reset", "reason": why}).to_string())
}

pub async fn events(State(s): State<Shared>, p: Params, headers: HeaderMap) -> ApiResult<Response> {
    let p = params(p)?;
    let kinds = match &p.kind {
        None => None,
        Some(list) => {
            let kinds: HashSet<String> = list.split(',').map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()).collect();
            if let Some(bad) = kinds.iter().find(|k| !KINDS.contains(&k.as_str())) {
                return Err(ApiError::bad_request(format!("unknown event type `{bad}` (one of {})", KINDS.join(", "))));
            }
            if kinds.is_empty() {
                return Err(ApiError::bad_request(format!("type names no event type (one of {})", KINDS.join(", "))));
            }
            Some(kinds)
        }
    };
    let last = headers.get("last-event-id").and_then(|v| v.to_str().ok()).map(str::to_owned).or(p.since.clone());
    let cap = (s.limits().max_connections / 2).max(1);
    if s.streams.fetch_add(1, Ordering::AcqRel) >= cap {
        s.streams.fetch_sub(1, Ordering::AcqRel);
        let mut r =
            ApiError { status: StatusCode::SERVICE_UNAVAILABLE, code: "unavailable", message: format!("{cap} event streams are open already") }.into_response();
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        return Ok(r);
    }
    let wanted = Wanted { kinds, story: p.story.clone() };
    let (rx, replay) = s.events.subscribe(last.as_deref());
    let backlog = match replay {
        Replay::Missed(missed) => missed.iter().filter(|e| wanted.admits(e)).map(|e| sse(e)).collect(),
        Replay::Reset => VecDeque::from([reset("missed")]),
    };
    let feed = Feed { closing: s.closing(), state: s, rx, backlog, wanted, done: false };
    let stream = futures_util::stream::unfold(feed, |mut f| async move {
        loop {
            if let Some(e) = f.backlog.pop_front() {
                return Some((Ok::<_, Infallible>(e), f));
            }
            if f.done || *f.closing.borrow() {
                return None;
            }
            tokio::select! {
                got = f.rx.recv() => match got {
                    Ok(e) if f.wanted.admits(&e) => return Some((Ok(sse(&e)), f)),
                    Ok(_) => {}
                    // Too slow to keep up: it has to reload.
                    Err(RecvError::Lagged(_)) => return Some((Ok(reset("lagged")), f)),
                    Err(RecvError::Closed) => return None,
                },
                _ = f.closing.changed() => f.done = true,
            }
        }
    });
    let mut r = Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(r)
}
