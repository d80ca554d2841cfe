//! The JSON API. Every error is `{"error": {"code", "message"}}` with the matching status.

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use storyline_model::{ArticleId, Entity, Facts, NaiveDate};
use storyline_store::Store;

use crate::catalog::{Catalog, StoryRow};
use crate::Shared;

/// An API error: status, a stable code and a message for people.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::BAD_REQUEST, code: "bad_request", message: message.into() }
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::NOT_FOUND, code: "not_found", message: message.into() }
    }
    pub fn internal(message: impl std::fmt::Display) -> ApiError {
        ApiError { status: StatusCode::INTERNAL_SERVER_ERROR, code: "internal", message: message.to_string() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error": {"code": self.code, "message": self.message}}))).into_response()
    }
}

impl From<crate::Error> for ApiError {
    fn from(e: crate::Error) -> ApiError {
        match e {
            crate::Error::Store(storyline_store::Error::Query(m)) => ApiError { status: StatusCode::BAD_REQUEST, code: "bad_query", message: m },
            e => ApiError::internal(e),
        }
    }
}

impl From<storyline_store::Error> for ApiError {
    fn from(e: storyline_store::Error) -> ApiError {
        crate::Error::from(e).into()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
pub type Params = Result<Query<ApiQuery>, QueryRejection>;

/// The query parameters of every endpoint and page (each reads the ones it documents in
/// openapi.yaml; others are ignored). Parameters whose empty value (`cursor=`, `to=`, as a form
/// with blank fields sends them) is the same as none are read with [`blank_is_none`]; an empty
/// `limit`, `sort`, `type` or `format` is not one of their values: a 400.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct ApiQuery {
    #[serde(default, deserialize_with = "blank_is_none", skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, deserialize_with = "blank_is_none", skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, deserialize_with = "blank_is_none", skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, deserialize_with = "blank_is_none", skip_serializing_if = "Option::is_none")]
    pub outlet: Option<String>,
    #[serde(default, deserialize_with = "blank_is_none", skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    #[serde(default, deserialize_with = "blank_is_none", skip_serializing_if = "Option::is_none")]
    pub story: Option<String>,
    #[serde(default, deserialize_with = "blank_is_none", skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
    #[serde(default, deserialize_with = "blank_is_none", skip_serializing_if = "Option::is_none")]
    pub article: Option<String>,
    #[serde(default, deserialize_with = "blank_is_none", skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// `/events`: the id of the last event seen (as `Last-Event-ID`).
    #[serde(default, deserialize_with = "blank_is_none", skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

fn blank_is_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v: Option<String> = Option::deserialize(d)?;
    Ok(v.filter(|v| !v.trim().is_empty()))
}

impl ApiQuery {
    /// The same query string at another cursor (for "next page" links).
    pub fn at_cursor(&self, cursor: &str) -> String {
        let q = ApiQuery { cursor: Some(cursor.to_owned()), ..self.clone() };
        serde_urlencoded::to_string(&q).unwrap_or_default()
    }
}

/// Query parameters, or a JSON error for a malformed query string.
pub fn params(p: Params) -> ApiResult<ApiQuery> {
    p.map(|Query(q)| q).map_err(|e| ApiError::bad_request(format!("bad query string: {e}")))
}

/// The position a listing's cursor stands for (0 without one). Cursors are opaque to
/// clients: URL-safe base64 of the listing's name and a position (a sequence number or an
/// offset, which may change), so that no client builds on them and a cursor of one listing is
/// refused by another.
fn cursor_in(p: &ApiQuery, listing: &str) -> ApiResult<u64> {
    cursor_position(p, listing, |at| at.parse().ok()).map(Option::unwrap_or_default)
}

/// The position a listing's cursor holds, read by `parse` (`None` without a cursor; a 400 for a
/// cursor that is not this listing's or that `parse` refuses).
fn cursor_position<T>(p: &ApiQuery, listing: &str, parse: impl FnOnce(&str) -> Option<T>) -> ApiResult<Option<T>> {
    let Some(c) = &p.cursor else { return Ok(None) };
    let bad = || ApiError::bad_request(format!("bad cursor `{c}` (pass the next_cursor of a {listing} page)"));
    let text = URL_SAFE_NO_PAD.decode(c).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(bad)?;
    text.strip_prefix(listing).and_then(|t| t.strip_prefix(':')).and_then(parse).map(Some).ok_or_else(bad)
}

/// The cursor of a position in a listing (see [`cursor_in`]).
fn cursor_out(listing: &str, position: impl std::fmt::Display) -> String {
    URL_SAFE_NO_PAD.encode(format!("{listing}:{position}"))
}

pub fn limit(p: &ApiQuery, default: usize, max: usize) -> ApiResult<usize> {
    match &p.limit {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ApiError::bad_request(format!("limit must be a number from 1 to {max}, not `{v}`"))),
    }
}

/// Runs store work off the async threads.
pub async fn blocking<T: Send + 'static>(state: &Shared, f: impl FnOnce(&AppRef) -> ApiResult<T> + Send + 'static) -> ApiResult<T> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || f(&AppRef(state))).await.map_err(ApiError::internal)?
}

/// The state inside a blocking task.
pub struct AppRef(pub Shared);

impl AppRef {
    pub fn store<T>(&self, f: impl FnOnce(&dyn Store) -> T) -> T {
        f(self.0.store())
    }
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/stories", get(stories))
        .route("/stories/{id}", get(story))
        .route("/articles", get(articles).post(post_articles))
        .route("/articles/{id}", get(article))
        .route("/entities", get(entities))
        .route("/entities/{id}", get(entity))
        .route("/quotes", get(quotes))
        .route("/figures", get(figures))
        .route("/search", get(search))
        .route("/export/{what}", get(export))
        .route("/events", get(crate::stream::events))
        .fallback(|| async { ApiError::not_found("no such endpoint (see openapi.yaml)") })
}

async fn healthz(State(s): State<Shared>) -> Json<Value> {
    let c = s.catalog();
    Json(json!({"status": "ok", "articles": c.articles, "stories": c.stories.len(), "entities": c.entities.len()}))
}

/// Filters of story listings (API and UI share them).
#[derive(Debug, Default, Clone)]
pub struct StoryFilter {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub outlet: Option<String>,
    pub entity: Option<String>,
    pub q: Option<String>,
    pub sort: String,
    pub cursor: Option<String>,
    pub limit: usize,
}

/// A `YYYY-MM-DD` parameter naming a day that exists (not 2021-13-01, not 2021-02-30).
pub fn date_param(value: Option<&String>, key: &str) -> ApiResult<Option<NaiveDate>> {
    match value.map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => match NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            Ok(d) if v.len() == 10 => Ok(Some(d)),
            _ => Err(ApiError::bad_request(format!("{key} wants a date like 2021-05-12, not `{v}`"))),
        },
    }
}

/// A date range runs forwards: `from` no later than `to`.
pub fn date_order(from: Option<NaiveDate>, to: Option<NaiveDate>) -> ApiResult<()> {
    match (from, to) {
        (Some(f), Some(t)) if f > t => Err(ApiError::bad_request(format!("from ({f}) is after to ({t})"))),
        _ => Ok(()),
    }
}

impl StoryFilter {
    pub fn parse(p: &ApiQuery) -> ApiResult<StoryFilter> {
        let text = |v: &Option<String>| v.as_ref().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let sort = p.sort.clone().unwrap_or_else(|| "size".into());
        if !["size", "recent", "oldest"].contains(&sort.as_str()) {
            return Err(ApiError::bad_request(format!("sort must be size, recent or oldest, not `{sort}`")));
        }
        let (from, to) = (date_param(p.from.as_ref(), "from")?, date_param(p.to.as_ref(), "to")?);
        date_order(from, to)?;
        Ok(StoryFilter { from, to, outlet: text(&p.outlet), entity: text(&p.entity), q: text(&p.q), sort, cursor: text(&p.cursor), limit: limit(p, 50, 500)? })
    }
}

/// One page of a story listing and the cursor of the next.
pub struct StoryPage<'a> {
    pub rows: Vec<&'a StoryRow>,
    pub total: usize,
    pub next: Option<String>,
}

/// Filters, sorts and pages the catalog's stories. A text query goes through the full-text
/// index (`hits`: article ids, best first) and keeps the stories of the matching articles.
pub fn list_stories<'a>(c: &'a Catalog, f: &StoryFilter, hits: Option<&[ArticleId]>) -> ApiResult<StoryPage<'a>> {
    let entity_ids: Option<Vec<usize>> = f.entity.as_ref().map(|e| {
        let needle = e.to_lowercase();
        c.entities
            .iter()
            .enumerate()
            .filter(|(_, x)| x.id.as_str() == e || x.name.to_lowercase() == needle || x.aliases.iter().any(|a| a.to_lowercase() == needle))
            .map(|(i, _)| i)
            .collect()
    });
    let outlet = f.outlet.as_ref().map(|o| o.to_lowercase());
    let keep = |i: usize| {
        let r = &c.stories[i];
        let (first, last) = (r.story.first_published, r.story.last_published);
        f.from.is_none_or(|from| last.is_some_and(|l| l >= from))
            && f.to.is_none_or(|to| first.is_some_and(|x| x <= to))
            && outlet.as_ref().is_none_or(|o| r.outlets.iter().any(|x| x.contains(o.as_str())))
            && entity_ids.as_ref().is_none_or(|ids| ids.iter().any(|e| r.entities.contains(e)))
    };
    // The catalog keeps each order precomputed; a text query ranks by relevance unless another
    // order is asked for.
    let ranked: Vec<usize>;
    let order: &[usize] = match hits {
        Some(hits) => {
            let mut seen = std::collections::HashSet::new();
            let mut v: Vec<usize> =
                hits.iter().filter_map(|a| c.article_story.get(a)).filter_map(|s| c.story_index(&s.0)).filter(|i| seen.insert(*i)).collect();
            if f.sort != "size" {
                let rank = c.rank(&f.sort);
                v.sort_by_key(|&i| rank[i]);
            }
            ranked = v;
            &ranked
        }
        None => c.order(&f.sort),
    };
    // No filter: the page is a slice of the order (the cursor's position is its rank).
    let unfiltered = f.from.is_none() && f.to.is_none() && outlet.is_none() && entity_ids.is_none();
    if unfiltered && hits.is_none() {
        let start = match &f.cursor {
            None => 0,
            Some(cur) => c
                .story_index(cur)
                .map(|i| c.rank(&f.sort)[i] + 1)
                .ok_or_else(|| ApiError::bad_request(format!("unknown cursor `{cur}` (the story left the listing; start again)")))?,
        };
        let rows: Vec<&StoryRow> = order[start.min(order.len())..].iter().take(f.limit).map(|&i| &c.stories[i]).collect();
        let next = (start + rows.len() < order.len()).then(|| rows.last().map(|r| r.story.id.0.clone())).flatten();
        return Ok(StoryPage { rows, total: order.len(), next });
    }
    // One pass: count every match, keep the page after the cursor.
    let mut total = 0;
    let mut rows: Vec<&StoryRow> = Vec::with_capacity(f.limit);
    let mut after_cursor = f.cursor.is_none();
    let mut more = false;
    for &i in order {
        if !keep(i) {
            continue;
        }
        total += 1;
        if !after_cursor {
            after_cursor = f.cursor.as_deref() == Some(c.stories[i].story.id.0.as_str());
        } else if rows.len() < f.limit {
            rows.push(&c.stories[i]);
        } else {
            more = true;
        }
    }
    if !after_cursor {
        let cur = f.cursor.as_deref().unwrap_or_default();
        return Err(ApiError::bad_request(format!("unknown cursor `{cur}` (the story left the listing; start again)")));
    }
    let next = if more { rows.last().map(|r| r.story.id.0.clone()) } else { None };
    Ok(StoryPage { rows, total, next })
}

pub fn story_json(c: &Catalog, r: &StoryRow) -> Value {
    let mut v = serde_json::to_value(&r.story).unwrap_or_default();
    v["entities"] = r.entities.iter().take(8).map(|&e| json!({"id": c.entities[e].id, "name": c.entities[e].name, "type": c.entities[e].kind})).collect();
    v
}

/// Full-text hits (article ids) of a query, or a JSON error for a bad query.
pub fn search_articles(store: &dyn Store, q: &str, limit: usize) -> ApiResult<Vec<ArticleId>> {
    Ok(store.search(&storyline_store::Query::parse(q)?, limit)?.hits.into_iter().map(|h| h.id).collect())
}

async fn stories(State(s): State<Shared>, p: Params) -> ApiResult<Json<Value>> {
    let p = params(p)?;
    let f = StoryFilter::parse(&p)?;
    blocking(&s, move |app| {
        let hits = f.q.as_deref().map(|q| app.store(|st| search_articles(st, q, 5000))).transpose()?;
        let c = app.0.catalog();
        let page = list_stories(&c, &f, hits.as_deref())?;
        Ok(Json(json!({"total": page.total, "stories": page.rows.iter().map(|r| story_json(&c, r)).collect::<Vec<_>>(), "next_cursor": page.next})))
    })
    .await
}

async fn story(State(s): State<Shared>, Path(id): Path<String>) -> ApiResult<Response> {
    blocking(&s, move |app| match app.0.report(&id)? {
        Some(r) => Ok(Json(r.as_ref()).into_response()),
        None => Err(ApiError::not_found(format!("no story `{id}`"))),
    })
    .await
}

fn article_summary(a: &storyline_model::StoredArticle) -> Value {
    let x = &a.article;
    json!({"id": x.id, "title": x.title, "published": x.published, "outlet": x.outlet, "url": x.url, "source": x.source, "words": x.text.split_whitespace().count(), "seq": a.seq})
}

async fn articles(State(s): State<Shared>, p: Params) -> ApiResult<Json<Value>> {
    let p = params(p)?;
    let n = limit(&p, 50, 500)?;
    let after = i64::try_from(cursor_in(&p, "articles")?).unwrap_or(i64::MAX);
    let outlet = p.outlet.as_ref().map(|o| o.to_lowercase());
    blocking(&s, move |app| {
        let mut out = Vec::new();
        let mut cursor = after;
        let mut more = true;
        // Filtered pages read on until they are full or the store ends.
        while out.len() < n && more {
            let page = app.store(|st| st.articles_after(cursor, 512))?;
            more = page.len() == 512;
            for a in page {
                cursor = a.seq;
                if outlet.as_ref().is_none_or(|o| a.article.outlet.as_deref().is_some_and(|x| x.to_lowercase().contains(o.as_str()))) {
                    out.push(article_summary(&a));
                    if out.len() == n {
                        break;
                    }
                }
            }
        }
        let next = (out.len() == n).then(|| cursor_out("articles", cursor.max(0) as u64));
        Ok(Json(json!({"articles": out, "next_cursor": next})))
    })
    .await
}

/// Everything about one article: clean text, removed boilerplate, copies, story, facts.
pub fn article_view(app: &AppRef, id: &str) -> ApiResult<Option<(storyline_model::StoredArticle, Facts, Vec<storyline_model::CopyRelation>)>> {
    let c = app.0.catalog();
    app.store(|st| {
        let Some(a) = st.get_article(&ArticleId(id.to_string()))? else { return Ok(None) };
        let facts = c.facts(st, &a.article.id)?;
        let mut copies = Vec::new();
        st.for_each_copy_relation(Some(&a.article.id), &mut |r| {
            copies.push(r);
            Ok(())
        })?;
        Ok(Some((a, facts, copies)))
    })
}

async fn article(State(s): State<Shared>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    blocking(&s, move |app| {
        let Some((a, facts, copies)) = article_view(app, &id)? else { return Err(ApiError::not_found(format!("no article `{id}`"))) };
        let c = app.0.catalog();
        let mut v = serde_json::to_value(&a).map_err(ApiError::internal)?;
        v["story"] = json!(c.article_story.get(&a.article.id));
        v["copies"] = serde_json::to_value(&copies).map_err(ApiError::internal)?;
        v["entities"] = serde_json::to_value(&facts.mentions).map_err(ApiError::internal)?;
        v["quotes"] = serde_json::to_value(&facts.quotes).map_err(ApiError::internal)?;
        v["figures"] = serde_json::to_value(&facts.figures).map_err(ApiError::internal)?;
        v["dates"] = serde_json::to_value(&facts.dates).map_err(ApiError::internal)?;
        Ok(Json(v))
    })
    .await
}

async fn post_articles(State(s): State<Shared>, _: crate::guard::Authorized, body: Body) -> ApiResult<Response> {
    let body = crate::guard::read_body(&s, body).await?;
    let value: Value = serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("body is not JSON: {e}")))?;
    let items = match value {
        Value::Array(items) => items,
        v @ Value::Object(_) => vec![v],
        _ => return Err(ApiError::bad_request("body must be an article object or an array of them")),
    };
    if items.is_empty() {
        return Err(ApiError::bad_request("no articles in the body"));
    }
    let mut jsonl = String::new();
    for (i, item) in items.iter().enumerate() {
        let Value::Object(o) = item else { return Err(ApiError::bad_request(format!("item {i} is not an object"))) };
        check_article_input(o).map_err(|why| ApiError::bad_request(format!("item {i}: {why}")))?;
        jsonl.push_str(&item.to_string());
        jsonl.push('\n');
    }
    blocking(&s, move |app| {
        // The directory goes away when this closure ends, however it ends.
        let dir = tempfile::Builder::new().prefix("storyline-post-").tempdir().map_err(ApiError::internal)?;
        let file = dir.path().join("request.jsonl");
        std::fs::write(&file, jsonl).map_err(ApiError::internal)?;
        let summary = app.0.ingest(&file).map_err(ApiError::internal)?;
        Ok((StatusCode::CREATED, Json(summary)).into_response())
    })
    .await
}

/// The fields of openapi.yaml's `ArticleInput` have its types, and some body field holds text.
fn check_article_input(o: &serde_json::Map<String, Value>) -> Result<(), String> {
    const BODIES: [&str; 9] = ["text", "html", "maintext", "body", "content", "article", "full_text", "raw_html", "content_html"];
    for key in BODIES.iter().chain(&["url", "title", "published", "outlet", "language"]) {
        if let Some(v) = o.get(*key).filter(|v| !v.is_null() && !v.is_string()) {
            return Err(format!("`{key}` must be a string, not {v}"));
        }
    }
    match o.get("authors") {
        None | Some(Value::Null | Value::String(_)) => {}
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {}
        Some(v) => return Err(format!("`authors` must be a string or an array of strings, not {v}")),
    }
    if let Some(v) = o.get("id").filter(|v| !(v.is_null() || v.is_string() || v.is_i64() || v.is_u64())) {
        return Err(format!("`id` must be a string or an integer, not {v}"));
    }
    if !BODIES.iter().any(|k| o.get(*k).and_then(Value::as_str).is_some_and(|t| !t.trim().is_empty())) {
        return Err("no article text: `text` or `html` (or maintext, body, content, article, full_text, raw_html, content_html) must hold some".into());
    }
    Ok(())
}

fn entity_json(e: &Entity) -> Value {
    json!({"id": e.id, "name": e.name, "type": e.kind, "aliases": e.aliases, "mentions": e.mentions, "articles": e.articles.len(), "roles": e.roles.iter().map(|r| r.role.clone()).collect::<std::collections::BTreeSet<_>>(), "ambiguous_with": e.ambiguous_with})
}

async fn entities(State(s): State<Shared>, p: Params) -> ApiResult<Json<Value>> {
    let p = params(p)?;
    let n = limit(&p, 50, 1000)?;
    let offset = cursor_in(&p, "entities")? as usize;
    let q = p.q.as_ref().map(|q| q.to_lowercase());
    let kind = p.kind.clone();
    if let Some(k) = &kind {
        if !["PER", "ORG", "LOC", "MISC", "NORP"].contains(&k.as_str()) {
            return Err(ApiError::bad_request(format!("type must be PER, ORG, LOC, MISC or NORP, not `{k}`")));
        }
    }
    let c = s.catalog();
    let mut matching: Vec<&Entity> = c
        .entities
        .iter()
        .filter(|e| q.as_ref().is_none_or(|q| e.name.to_lowercase().contains(q.as_str()) || e.aliases.iter().any(|a| a.to_lowercase().contains(q.as_str()))))
        .filter(|e| kind.as_ref().is_none_or(|k| e.kind.as_str() == k))
        .collect();
    matching.sort_by(|a, b| b.articles.len().cmp(&a.articles.len()).then(b.mentions.cmp(&a.mentions)).then(a.id.cmp(&b.id)));
    let total = matching.len();
    let page: Vec<Value> = matching.iter().skip(offset).take(n).map(|e| entity_json(e)).collect();
    let next = (offset + page.len() < total).then(|| cursor_out("entities", (offset + page.len()) as u64));
    Ok(Json(json!({"total": total, "entities": page, "next_cursor": next})))
}

/// An entity with its quotes and mentions.
pub struct EntityView {
    pub entity: Entity,
    pub quotes: Vec<storyline_model::Quote>,
    pub mentions: Vec<storyline_model::Mention>,
}

/// An entity with its quotes (from the articles that mention it).
pub fn entity_view(app: &AppRef, id: &str) -> ApiResult<Option<EntityView>> {
    let c = app.0.catalog();
    let Some(e) = c.find_entity(id).cloned() else { return Ok(None) };
    let id = e.id.0.as_str();
    let mut quotes = Vec::new();
    let mut mentions = Vec::new();
    app.store(|st| -> ApiResult<()> {
        for (aid, mut f) in st.facts_of(&e.articles)? {
            c.resolve(&aid, &mut f);
            quotes.extend(f.quotes.into_iter().filter(|q| q.speaker_entity.as_deref() == Some(id)));
            mentions.extend(f.mentions.into_iter().filter(|m| m.entity.as_deref() == Some(id)));
        }
        Ok(())
    })?;
    Ok(Some(EntityView { entity: e, quotes, mentions }))
}

async fn entity(State(s): State<Shared>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    blocking(&s, move |app| {
        let Some(EntityView { entity: e, quotes, mentions }) = entity_view(app, &id)? else { return Err(ApiError::not_found(format!("no entity `{id}`"))) };
        let mut v = serde_json::to_value(&e).map_err(ApiError::internal)?;
        v["quotes"] = serde_json::to_value(quotes).map_err(ApiError::internal)?;
        v["mention_list"] = serde_json::to_value(mentions).map_err(ApiError::internal)?;
        Ok(Json(v))
    })
    .await
}

/// Facts of the articles a scoped request is about: a story's members, an entity's articles,
/// or one article (unscoped listings go through [`unscoped_page`]).
fn facts_scope(app: &AppRef, p: &ApiQuery) -> ApiResult<Vec<(ArticleId, Facts)>> {
    let c = app.0.catalog();
    let ids: Vec<ArticleId> = if let Some(story) = &p.story {
        let r = c.story(story).ok_or_else(|| ApiError::not_found(format!("no story `{story}`")))?;
        app.store(|st| st.story_members(&r.story.id))?.into_iter().map(|m| m.article).collect()
    } else if let Some(e) = p.speaker.as_ref().or(p.entity.as_ref()) {
        c.find_entity(e).ok_or_else(|| ApiError::not_found(format!("no entity `{e}`")))?.articles.clone()
    } else {
        p.article.iter().map(|a| ArticleId(a.clone())).collect()
    };
    let mut out = app.store(|st| st.facts_of(&ids))?;
    for (id, f) in &mut out {
        c.resolve(id, f);
    }
    Ok(out)
}

async fn quotes(State(s): State<Shared>, p: Params) -> ApiResult<Json<Value>> {
    let p = params(p)?;
    let n = limit(&p, 100, 1000)?;
    blocking(&s, move |app| {
        // A speaker by id or by name, as `/entities/{id}` takes it.
        let speaker = p.speaker.as_ref().map(|sp| app.0.catalog().find_entity(sp).map_or_else(|| sp.clone(), |e| e.id.0.clone()));
        let keep = |f: Facts| -> Vec<storyline_model::Quote> {
            f.quotes.into_iter().filter(|q| speaker.as_ref().is_none_or(|sp| q.speaker_entity.as_deref() == Some(sp.as_str()))).collect()
        };
        if p.story.is_some() || p.speaker.is_some() || p.entity.is_some() || p.article.is_some() {
            let offset = cursor_in(&p, "quotes")? as usize;
            let all: Vec<_> = facts_scope(app, &p)?.into_iter().flat_map(|(_, f)| keep(f)).collect();
            page_of(all, offset, n, "quotes")
        } else {
            unscoped_page(app, &p, n, "quotes", keep)
        }
    })
    .await
}

async fn figures(State(s): State<Shared>, p: Params) -> ApiResult<Json<Value>> {
    let p = params(p)?;
    let n = limit(&p, 100, 1000)?;
    blocking(&s, move |app| {
        if p.story.is_some() || p.entity.is_some() || p.article.is_some() {
            let offset = cursor_in(&p, "figures")? as usize;
            // With `entity`, the figures whose sentence names it (the entity's articles hold
            // many figures about other things).
            let entity = p.entity.as_ref().and_then(|e| app.0.catalog().find_entity(e).map(|e| e.id.0.clone()));
            let all: Vec<_> = facts_scope(app, &p)?
                .into_iter()
                .flat_map(|(_, f)| {
                    let named: Vec<(usize, usize)> = f
                        .mentions
                        .iter()
                        .filter(|m| entity.is_some() && m.entity.as_deref() == entity.as_deref())
                        .map(|m| (m.span.start, m.span.end))
                        .collect();
                    let scoped = entity.is_some();
                    f.figures.into_iter().filter(move |x| !scoped || named.iter().any(|&(s, e)| in_sentence(x, s, e)))
                })
                .collect();
            page_of(all, offset, n, "figures")
        } else {
            unscoped_page(app, &p, n, "figures", |f: Facts| f.figures)
        }
    })
    .await
}

/// Whether a mention at these character offsets lies in the figure's sentence (the sentence
/// holds the figure; its bounds follow from where the figure's text sits in it).
fn in_sentence(f: &storyline_model::Figure, start: usize, end: usize) -> bool {
    let Some(at) = f.sentence.find(&f.text) else { return false };
    let before = f.sentence[..at].chars().count();
    let first = f.start.saturating_sub(before);
    let last = first + f.sentence.chars().count();
    start >= first && end <= last
}

/// Articles looked at per unscoped page at most: a page may hold fewer than `limit` items (with
/// a cursor to go on) rather than scan a store with few of them in one request.
const UNSCOPED_SCAN: usize = 5_000;

/// An unscoped listing of facts, `n` items a page in store order. The cursor is the article
/// sequence number to go on after and how many items of the next article were already given.
fn unscoped_page<T: serde::Serialize>(app: &AppRef, p: &ApiQuery, n: usize, key: &str, items: impl Fn(Facts) -> Vec<T>) -> ApiResult<Json<Value>> {
    let (mut after, mut skip): (i64, usize) = cursor_position(p, key, |at| {
        let (seq, given) = at.split_once('.').unwrap_or((at, "0"));
        Some((seq.parse().ok()?, given.parse().ok()?))
    })?
    .unwrap_or_default();
    let c = app.0.catalog();
    let mut out: Vec<T> = Vec::with_capacity(n);
    let mut scanned = 0;
    let next = loop {
        if scanned >= UNSCOPED_SCAN {
            break Some(format!("{after}.{skip}"));
        }
        let page = app.store(|st| st.articles_after(after, 256))?;
        if page.is_empty() {
            break None;
        }
        scanned += page.len();
        let ids: Vec<ArticleId> = page.iter().map(|a| a.article.id.clone()).collect();
        let mut facts: std::collections::HashMap<ArticleId, Facts> = app.store(|st| st.facts_of(&ids))?.into_iter().collect();
        let mut full = None;
        for a in &page {
            let Some(mut f) = facts.remove(&a.article.id) else {
                after = a.seq;
                skip = 0;
                continue;
            };
            c.resolve(&a.article.id, &mut f);
            let these = items(f);
            let room = n - out.len();
            let given = these.len().saturating_sub(skip).min(room);
            let rest = these.len().saturating_sub(skip + given);
            out.extend(these.into_iter().skip(skip).take(given));
            if out.len() == n {
                // Go on inside this article, or after it.
                full = Some(if rest > 0 { format!("{}.{}", a.seq - 1, skip + given) } else { format!("{}.0", a.seq) });
                break;
            }
            after = a.seq;
            skip = 0;
        }
        if let Some(at) = full {
            break Some(at);
        }
    };
    Ok(Json(json!({key: out, "next_cursor": next.map(|at| cursor_out(key, at))})))
}

fn page_of<T: serde::Serialize>(all: Vec<T>, offset: usize, n: usize, key: &str) -> ApiResult<Json<Value>> {
    let total = all.len();
    let page: Vec<&T> = all.iter().skip(offset).take(n).collect();
    let next = (offset + page.len() < total).then(|| cursor_out(key, (offset + page.len()) as u64));
    Ok(Json(json!({"total": total, key: page, "next_cursor": next})))
}

async fn search(State(s): State<Shared>, p: Params) -> ApiResult<Json<Value>> {
    let p = params(p)?;
    let q = p.q.clone().ok_or_else(|| ApiError::bad_request("q is required (the CLI's query syntax)"))?;
    let n = limit(&p, 20, 1000)?;
    blocking(&s, move |app| {
        let r = app.store(|st| st.search(&storyline_store::Query::parse(&q)?, n))?;
        let c = app.0.catalog();
        let hits: Vec<Value> = r
            .hits
            .iter()
            .map(|h| json!({"id": h.id, "score": h.score, "title": h.title, "published": h.published, "outlet": h.outlet, "snippet": h.snippet, "story": c.article_story.get(&h.id)}))
            .collect();
        Ok(Json(json!({"total": r.total, "hits": hits})))
    })
    .await
}

/// Streams an export.
async fn export(State(s): State<Shared>, Path(what): Path<String>, p: Params) -> ApiResult<Response> {
    let p = params(p)?;
    let (name, ext) = what.rsplit_once('.').map(|(n, e)| (n.to_string(), Some(e.to_string()))).unwrap_or((what.clone(), None));
    if !["articles", "copies", "stories", "entities", "quotes", "figures"].contains(&name.as_str()) {
        return Err(ApiError::not_found(format!("no export `{name}` (articles, copies, stories, entities, quotes, figures)")));
    }
    let format = p.format.clone().or(ext).unwrap_or_else(|| "jsonl".into());
    let csv = match format.as_str() {
        "csv" => true,
        "jsonl" => false,
        f => return Err(ApiError::bad_request(format!("format must be jsonl or csv, not `{f}`"))),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let state = s.clone();
    tokio::task::spawn_blocking(move || {
        let mut w = ChannelWriter { tx: tx.clone(), buf: Vec::with_capacity(CHUNK) };
        let hook = state.hooks.export.clone();
        let result = hook(state.store(), &name, csv, &mut w);
        let _ = std::io::Write::flush(&mut w);
        if let Err(e) = result {
            let _ = tx.blocking_send(Err(std::io::Error::other(e)));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let mime = if csv { "text/csv; charset=utf-8" } else { "application/x-ndjson" };
    Ok(([(header::CONTENT_TYPE, mime)], Body::from_stream(stream)).into_response())
}

const CHUNK: usize = 64 << 10;

struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let chunk = Bytes::from(std::mem::take(&mut self.buf));
            self.tx.blocking_send(Ok(chunk)).map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(s: &str) -> ApiResult<ApiQuery> {
        params(Query::try_from_uri(&format!("/x?{s}").parse().unwrap()))
    }

    #[test]
    fn parameters_are_read_into_one_typed_query() {
        let q = query("q=gaza&from=&cursor=%20&limit=5&type=PER&unknown=1").unwrap();
        assert_eq!(
            (q.q.as_deref(), q.from.as_deref(), q.cursor.as_deref(), q.limit.as_deref(), q.kind.as_deref()),
            (Some("gaza"), None, None, Some("5"), Some("PER"))
        );
        assert_eq!(limit(&q, 50, 500).unwrap(), 5);
        assert!(limit(&query("limit=").unwrap(), 50, 500).is_err(), "an empty limit is not a limit");
        assert!(query("q=a&q=b").is_err(), "a repeated parameter is a 400, not a silent pick");
        let f = StoryFilter::parse(&query("from=2021-05-01&to=2021-05-31").unwrap()).unwrap();
        assert_eq!(f.from.map(|d| d.to_string()).as_deref(), Some("2021-05-01"));
        for bad in ["from=2021-13-01", "to=2021-02-30", "from=2021-5-1"] {
            assert!(StoryFilter::parse(&query(bad).unwrap()).is_err(), "{bad}");
        }
        assert_eq!(query("q=a%20b&sort=recent").unwrap().at_cursor("s1"), "q=a+b&cursor=s1&sort=recent");
    }

    #[test]
    fn cursors_are_opaque_and_belong_to_their_listing() {
        let c = cursor_out("quotes", 120);
        assert!(!c.contains("120"), "{c}");
        assert_eq!(cursor_in(&query(&format!("cursor={c}")).unwrap(), "quotes").unwrap(), 120);
        assert!(cursor_in(&query(&format!("cursor={c}")).unwrap(), "figures").is_err(), "another listing's cursor");
        for bad in ["cursor=120", "cursor=%25%25", "cursor=cXVvdGVzOng"] {
            assert!(cursor_in(&query(bad).unwrap(), "quotes").is_err(), "{bad}");
        }
        assert_eq!(cursor_in(&query("").unwrap(), "quotes").unwrap(), 0);
    }
}
