//! The web UI: story list, story page, article, entity and thread pages. Server-rendered HTML
//! over the same catalog, filters and reports as the API.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::api::AppRef;
use crate::api::{self, blocking, list_stories, params, ApiError, ApiResult, Params, StoryFilter};
use storyline_compare::day;
use storyline_model::ArticleId;

use crate::html::{entity_link, esc, highlighted, served_page, story_body, url};
use crate::Shared;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(index))
        .route("/ui/stories/{id}", get(story))
        .route("/ui/articles/{id}", get(article))
        .route("/ui/entities", get(entities))
        .route("/ui/entities/{id}", get(entity))
        .route("/ui/threads/{id}", get(thread))
        .route("/assets/storyline.css", get(|| async { asset("text/css; charset=utf-8", crate::html::CSS) }))
        .route("/assets/storyline.js", get(|| async { asset("text/javascript; charset=utf-8", crate::html::JS) }))
        .route("/assets/live.js", get(|| async { asset("text/javascript; charset=utf-8", crate::html::LIVE_JS) }))
}

fn asset(kind: &'static str, text: &'static str) -> Response {
    ([(axum::http::header::CONTENT_TYPE, kind), (axum::http::header::CACHE_CONTROL, "max-age=3600")], text).into_response()
}

/// UI errors are pages, with the API's status.
struct PageError(ApiError);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> PageError {
        PageError(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let body = format!("<h1>{}</h1><p>{}</p><p><a href=\"/\">All stories</a></p>", self.0.status, esc(&self.0.message));
        (self.0.status, Html(served_page("Error", &body))).into_response()
    }
}

type PageResult = Result<Html<String>, PageError>;

async fn index(State(s): State<Shared>, p: Params) -> PageResult {
    let p = params(p)?;
    // A filter value that is wrong (a date that is no date, `from` after `to`) is shown where it
    // was typed, with what is wrong, and the list is filtered without it.
    let mut problems: Vec<(&'static str, String)> = Vec::new();
    let mut usable = p.clone();
    let mut date = |key: &'static str, value: &mut Option<String>| match api::date_param(value.as_ref(), key) {
        Ok(d) => d,
        Err(e) => {
            problems.push((key, e.message));
            *value = None;
            None
        }
    };
    let (from, to) = (date("from", &mut usable.from), date("to", &mut usable.to));
    if let Err(e) = api::date_order(from, to) {
        problems.push(("to", e.message));
        usable.to = None;
    }
    let f = StoryFilter::parse(&usable)?;
    let body = blocking(&s, move |app| {
        let hits = f.q.as_deref().map(|q| app.store(|st| api::search_articles(st, q, 5000))).transpose()?;
        let c = app.0.catalog();
        let pg = list_stories(&c, &f, hits.as_deref())?;
        let mut h = String::new();
        let v = |x: &Option<String>| esc(x.as_deref().unwrap_or(""));
        let sel = |x: &str| if f.sort == x { " selected" } else { "" };
        // Dates are typed as text, so that a wrong one stays visible with its error.
        let date_box = |key: &str, value: &Option<String>| {
            let bad = problems.iter().find(|(k, _)| *k == key);
            format!(
                "<label>{key}<input name=\"{key}\" value=\"{}\" placeholder=\"YYYY-MM-DD\" pattern=\"\\d{{4}}-\\d{{2}}-\\d{{2}}\" inputmode=\"numeric\" size=\"11\"{}></label>",
                v(value),
                if bad.is_some() { format!(" aria-invalid=\"true\" aria-describedby=\"error-{key}\" class=\"invalid\"") } else { String::new() }
            )
        };
        let errors: String =
            problems.iter().map(|(k, m)| format!("<p class=\"filter-error\" role=\"alert\" id=\"error-{k}\">{}; the list is not filtered by it.</p>", esc(m))).collect();
        let _ = write!(
            h,
            "<h1>Stories</h1>{}<p class=\"muted\" id=\"counts\">{} articles, {} stories, {} entities</p>\
             <form class=\"filters\" method=\"get\" action=\"/\">\
             <label>text<input name=\"q\" value=\"{}\" placeholder=\"words, &quot;phrases&quot;, AND/OR, -word\"></label>\
             {}{}\
             <label>outlet<input name=\"outlet\" value=\"{}\"></label><label>entity<input name=\"entity\" value=\"{}\"></label>\
             <label>sort<select name=\"sort\"><option value=\"size\"{}>most articles</option><option value=\"recent\"{}>most recent</option><option value=\"oldest\"{}>oldest</option></select></label>\
             <button type=\"submit\">Filter</button></form>{errors}",
            crate::html::live_marker("stories", None),
            c.articles,
            c.stories.len(),
            c.entities.len(),
            v(&p.q),
            date_box("from", &p.from),
            date_box("to", &p.to),
            v(&p.outlet),
            v(&p.entity),
            sel("size"),
            sel("recent"),
            sel("oldest")
        );
        let _ = write!(h, "<p class=\"muted\" id=\"matching\">{} matching stories</p><table id=\"stories\"><tr><th>story</th><th>articles</th><th>named outlets</th><th>dates</th><th>who</th></tr>", pg.total);
        for r in &pg.rows {
            let st = &r.story;
            // Who: people, organisations and places; groups of people ("Israelis") are not who.
            let who: String = r
                .entities
                .iter()
                .filter(|&&e| c.entities[e].kind != storyline_model::EntityType::Group)
                .take(4)
                .map(|&e| format!("<span class=\"tag\">{}</span>", esc(&c.entities[e].name)))
                .collect();
            let _ = write!(
                h,
                "<tr class=\"story\" data-story=\"{}\" data-articles=\"{}\"><td><a href=\"/ui/stories/{}\">{}</a></td><td>{}</td><td class=\"small\">{}</td><td class=\"small\">{} .. {}</td><td>{who}</td></tr>",
                esc(&st.id.0),
                st.articles,
                url(&st.id.0),
                esc(&st.title),
                st.articles,
                esc(&st.outlets.join(", ")),
                day(st.first_published),
                day(st.last_published)
            );
        }
        h.push_str("</table>");
        if let Some(next) = &pg.next {
            let _ = write!(h, "<div class=\"pager\"><a id=\"next\" href=\"/?{}\">next page →</a></div>", esc(&p.at_cursor(next)));
        }
        Ok(h)
    })
    .await?;
    Ok(Html(served_page("Stories", &body)))
}

async fn story(State(s): State<Shared>, Path(id): Path<String>) -> PageResult {
    let (title, body) = blocking(&s, move |app| {
        let Some(r) = app.0.report(&id)? else { return Err(ApiError::not_found(format!("no story `{id}`"))) };
        let mut body = crate::html::live_marker("story", Some(&r.story.id.0));
        body.push_str(&story_body(&r));
        // The other stories of its thread: the same actors at other times (or the same event
        // that the clustering kept apart).
        let c = app.0.catalog();
        let others: Vec<usize> = r
            .story
            .thread
            .as_ref()
            .and_then(|t| c.threads.get(t))
            .map(|v| v.iter().copied().filter(|&i| c.stories[i].story.id != r.story.id).collect())
            .unwrap_or_default();
        if !others.is_empty() {
            body.push_str("<section id=\"related\"><h2>Other stories of this thread</h2><table>");
            for i in others.into_iter().take(50) {
                let st = &c.stories[i].story;
                let _ = write!(
                    body,
                    "<tr><td>{} .. {}</td><td><a href=\"/ui/stories/{}\">{}</a></td><td>{} articles</td><td class=\"small\">{}</td></tr>",
                    day(st.first_published),
                    day(st.last_published),
                    url(&st.id.0),
                    esc(&st.title),
                    st.articles,
                    esc(&st.outlets.join(", "))
                );
            }
            body.push_str("</table></section>");
        }
        Ok((r.story.title.clone(), body))
    })
    .await?;
    Ok(Html(served_page(&title, &body)))
}

async fn article(State(s): State<Shared>, Path(id): Path<String>) -> PageResult {
    let (title, body) = blocking(&s, move |app| {
        let Some((a, facts, copies)) = api::article_view(app, &id)? else { return Err(ApiError::not_found(format!("no article `{id}`"))) };
        let c = app.0.catalog();
        let x = &a.article;
        let (outlet, _) = storyline_compare::outlet_of(x);
        let mut h = String::new();
        let title = x.title.clone().unwrap_or_else(|| "(no headline)".into());
        let _ = write!(
            h,
            "<h1 id=\"article-title\">{}</h1><p class=\"muted\">{} · {}{}{}</p>",
            esc(&title),
            esc(&outlet),
            day(x.published.map(|p| p.date)),
            if x.authors.is_empty() { String::new() } else { format!(" · by {}", esc(&x.authors.join(", "))) },
            // Only web links: a stored URL is input data (no `javascript:` links).
            x.url.as_ref().filter(|u| u.starts_with("https://") || u.starts_with("http://")).map(|u| format!(" · <a href=\"{}\" rel=\"noreferrer\">original</a>", esc(u))).unwrap_or_default()
        );
        if let Some(sid) = c.article_story.get(&x.id) {
            let t = c.story(&sid.0).map(|r| r.story.title.clone()).unwrap_or_default();
            let _ = write!(h, "<p>Story: <a href=\"/ui/stories/{}\">{}</a></p>", url(&sid.0), esc(&t));
        }
        h.push_str("<p class=\"small\"><mark class=\"PER\">person</mark> <mark class=\"ORG\">organisation</mark> <mark class=\"LOC\">place</mark> <mark class=\"MISC\">other</mark> <mark class=\"NORP\">group of people</mark> <q class=\"quote\">quote</q> <span class=\"fig\">figure</span></p>");
        let _ = write!(h, "<div class=\"text\" id=\"text\">{}</div>", highlighted(&x.text, &facts));
        let _ = write!(h, "<details id=\"removed\"><summary>Removed boilerplate ({} pieces)</summary>", x.removed.len());
        for r in &x.removed {
            let _ = write!(h, "<div class=\"removed\"><span class=\"muted small\">{}</span>\n{}</div>", r.reason.as_str(), esc(&r.text));
        }
        h.push_str("</details>");
        h.push_str("<h2>Copies</h2>");
        if copies.is_empty() {
            h.push_str("<p class=\"muted\">No stored article copies this one or is copied by it.</p>");
        }
        let others: Vec<ArticleId> = copies.iter().map(|r| if r.a == x.id { r.b.clone() } else { r.a.clone() }).collect();
        let labels = article_labels(app, &others)?;
        for r in &copies {
            let other = if r.a == x.id { &r.b } else { &r.a };
            let orig = match r.original {
                Some(storyline_model::Side::A) if r.a == x.id => "this is the likely original",
                Some(storyline_model::Side::B) if r.b == x.id => "this is the likely original",
                Some(_) => "the other is the likely original",
                None => "direction unknown",
            };
            let _ = write!(
                h,
                "<p><a href=\"/ui/articles/{}\">{}</a> — {} ({}), {orig}</p>",
                url(&other.0),
                esc(labels.get(other).map_or(other.0.as_str(), String::as_str)),
                r.relation.as_str().replace('_', "-"),
                storyline_compare::percent(r.similarity)
            );
        }
        h.push_str("<h2>Quotes</h2><ul>");
        for q in &facts.quotes {
            let name = match &q.speaker_entity {
                Some(e) => q.speaker.as_deref().unwrap_or(e),
                None => q.speaker.as_deref().or(q.speaker_mention.as_deref()).unwrap_or("unattributed"),
            };
            let who = entity_link(q.speaker_entity.as_deref(), name);
            let _ = write!(h, "<li>{who}: “{}”</li>", esc(&q.text));
        }
        h.push_str("</ul><h2>Figures</h2><ul>");
        for f in &facts.figures {
            let _ = write!(
                h,
                "<li><strong>{}{}</strong> {}{}</li>",
                f.qualifier.as_deref().map(|q| format!("{} ", esc(q))).unwrap_or_default(),
                esc(&f.text),
                esc(&f.what),
                f.source.as_deref().map(|s| format!(" <span class=\"muted\">(source: {})</span>", esc(s))).unwrap_or_default()
            );
        }
        h.push_str("</ul>");
        Ok((title, h))
    })
    .await?;
    Ok(Html(served_page(&title, &body)))
}

async fn entities(State(s): State<Shared>, p: Params) -> PageResult {
    let p = params(p)?;
    let c = s.catalog();
    let q = p.q.as_ref().map(|q| q.to_lowercase()).unwrap_or_default();
    let mut list: Vec<&storyline_model::Entity> = c.entities.iter().filter(|e| q.is_empty() || e.name.to_lowercase().contains(&q)).collect();
    list.sort_by(|a, b| b.articles.len().cmp(&a.articles.len()).then(a.name.cmp(&b.name)));
    let mut h = format!(
        "<h1>Entities</h1><form class=\"filters\" action=\"/ui/entities\"><label>name<input name=\"q\" value=\"{}\"></label><button>Find</button></form><table><tr><th>name</th><th>type</th><th>articles</th><th>roles</th></tr>",
        esc(&q)
    );
    for e in list.iter().take(200) {
        let kind = e.kind.as_str();
        let roles: std::collections::BTreeSet<&str> = e.roles.iter().map(|r| r.role.as_str()).collect();
        let _ = write!(
            h,
            "<tr><td><a href=\"/ui/entities/{}\">{}</a></td><td>{kind}</td><td>{}</td><td class=\"small\">{}</td></tr>",
            url(&e.id),
            esc(&e.name),
            e.articles.len(),
            esc(&roles.into_iter().take(3).collect::<Vec<_>>().join(" | "))
        );
    }
    h.push_str("</table>");
    Ok(Html(served_page("Entities", &h)))
}

async fn entity(State(s): State<Shared>, Path(id): Path<String>) -> PageResult {
    let (title, body) = blocking(&s, move |app| {
        let Some(api::EntityView { entity: e, quotes, .. }) = api::entity_view(app, &id)? else { return Err(ApiError::not_found(format!("no entity `{id}`"))) };
        let c = app.0.catalog();
        let kind = e.kind.as_str();
        let mut h = format!("<h1>{}</h1><p class=\"muted\">{kind} · {} mentions in {} articles</p>", esc(&e.name), e.mentions, e.articles.len());
        if !e.aliases.is_empty() {
            let _ = write!(h, "<p>Also written: {}</p>", e.aliases.iter().map(|a| format!("<span class=\"tag\">{}</span>", esc(a))).collect::<String>());
        }
        if !e.ambiguous_with.is_empty() {
            let _ = write!(h, "<p class=\"conflict\">A bare surname in some articles could also be: {}</p>", esc(&e.ambiguous_with.join(", ")));
        }
        let mut shown: Vec<ArticleId> = e.roles.iter().map(|r| r.article.clone()).chain(quotes.iter().map(|q| q.article.clone())).collect();
        shown.sort();
        shown.dedup();
        let labels = article_labels(app, &shown)?;
        let label = |id: &ArticleId| esc(labels.get(id).map_or(id.0.as_str(), String::as_str));
        h.push_str("<h2>Roles, as each article states them</h2><table><tr><th>role</th><th>article</th><th>published</th></tr>");
        for r in &e.roles {
            let _ = write!(
                h,
                "<tr><td>{}</td><td><a href=\"/ui/articles/{}\">{}</a></td><td>{}</td></tr>",
                esc(&r.role),
                url(&r.article.0),
                label(&r.article),
                day(r.published.map(|p| p.date))
            );
        }
        h.push_str("</table><h2>Quotes</h2><ul>");
        for q in &quotes {
            let _ = write!(h, "<li>“{}” <a class=\"small\" href=\"/ui/articles/{}\">{}</a></li>", esc(&q.text), url(&q.article.0), label(&q.article));
        }
        h.push_str("</ul><h2>Stories</h2><ul>");
        let mut seen = std::collections::HashSet::new();
        for a in &e.articles {
            if let Some(sid) = c.article_story.get(a) {
                if seen.insert(sid.clone()) {
                    let t = c.story(&sid.0).map(|r| r.story.title.clone()).unwrap_or_default();
                    let _ = write!(h, "<li><a href=\"/ui/stories/{}\">{}</a></li>", url(&sid.0), esc(&t));
                }
            }
        }
        h.push_str("</ul>");
        Ok((e.name.clone(), h))
    })
    .await?;
    Ok(Html(served_page(&title, &body)))
}

/// At most this many articles are named by headline on one page; the rest show their ids.
const LABELLED: usize = 500;

/// "Headline — outlet" for each of these articles found in the store (the first `LABELLED`).
fn article_labels(app: &AppRef, ids: &[ArticleId]) -> ApiResult<HashMap<ArticleId, String>> {
    let ids = &ids[..ids.len().min(LABELLED)];
    let found = app.store(|st| st.get_articles(ids))?;
    Ok(found
        .into_iter()
        .map(|a| {
            let (outlet, _) = storyline_compare::outlet_of(&a.article);
            let title = a.article.title.clone().unwrap_or_else(|| "(no headline)".into());
            (a.article.id.clone(), format!("{title} — {outlet}"))
        })
        .collect())
}

async fn thread(State(s): State<Shared>, Path(id): Path<String>) -> PageResult {
    let (title, body) = blocking(&s, move |app| {
        let t = app.store(|st| st.get_thread(&id))?.ok_or_else(|| ApiError::not_found(format!("no thread `{id}`")))?;
        let c = app.0.catalog();
        let mut h = format!("<h1>{}</h1><p class=\"muted\">thread · {} stories over time</p><table id=\"thread\"><tr><th>from</th><th>to</th><th>story</th><th>articles</th></tr>", esc(&t.title), t.stories);
        for &i in c.threads.get(&t.id).map(Vec::as_slice).unwrap_or(&[]) {
            let st = &c.stories[i].story;
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td><a href=\"/ui/stories/{}\">{}</a></td><td>{}</td></tr>",
                day(st.first_published),
                day(st.last_published),
                url(&st.id.0),
                esc(&st.title),
                st.articles
            );
        }
        h.push_str("</table>");
        Ok((t.title, h))
    })
    .await?;
    Ok(Html(served_page(&title, &body)))
}
