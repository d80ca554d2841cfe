//! What the server watches for its users: alerts (`GET /alerts`, `POST /alerts`,
//! `DELETE /alerts/{name}`, `/ui/alerts`) and the followed sources (`GET /sources`,
//! `/ui/sources`).

use std::fmt::Write;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use storyline_model::{Alert, AlertHit, SourceState};

use crate::api::{blocking, ApiError, ApiResult};
use crate::html::{esc, served_page, url};
use crate::Shared;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/alerts", get(list_alerts).post(add_alert))
        .route("/alerts/{name}", delete(remove_alert))
        .route("/sources", get(list_sources))
        .route("/ui/alerts", get(alerts_page))
        .route("/ui/sources", get(sources_page))
}

/// An alert as the API shows it: without its secret.
fn alert_json(a: &Alert, hits: &[AlertHit]) -> Value {
    let mine: Vec<&AlertHit> = hits.iter().filter(|h| h.alert == a.name).collect();
    json!({
        "name": a.name, "query": a.query, "webhook": a.webhook, "file": a.file, "grow_by": a.grow_by, "created": a.created,
        "reports": mine.len(), "pending": mine.iter().filter(|h| h.delivered.is_none()).count(),
        "recent": mine.iter().rev().take(10).map(|h| json!({"story": h.story, "level": h.level, "title": h.title, "outlets": h.outlets.len(),
            "at": h.at, "delivered": h.delivered, "attempts": h.attempts, "error": h.last_error})).collect::<Vec<_>>(),
    })
}

async fn list_alerts(State(s): State<Shared>) -> ApiResult<Json<Value>> {
    blocking(&s, |app| {
        let hits = app.store(|st| st.alert_hits(None))?;
        let alerts = app.store(|st| st.alerts())?;
        Ok(Json(json!({"alerts": alerts.iter().map(|a| alert_json(a, &hits)).collect::<Vec<_>>()})))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertInput {
    name: String,
    query: String,
    webhook: String,
    #[serde(default = "default_grow_by")]
    grow_by: u32,
}

fn default_grow_by() -> u32 {
    3
}

/// Adds (or replaces) an alert; the answer carries its secret, shown this once. Over the API
/// an alert delivers by webhook only: a file on the server is named from its command line.
async fn add_alert(State(s): State<Shared>, _: crate::guard::Authorized, body: Body) -> ApiResult<Response> {
    let body = crate::guard::read_body(&s, body).await?;
    let input: AlertInput = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!("an alert is {{\"name\", \"query\", \"webhook\", \"grow_by\"?}} (files are set with `storyline alert add --file`): {e}"))
    })?;
    let alert = Alert {
        name: input.name,
        query: input.query,
        webhook: Some(input.webhook),
        file: None,
        secret: storyline_alert::new_secret(),
        grow_by: input.grow_by,
        created: chrono::Utc::now(),
        checked: 0,
    };
    storyline_alert::validate(&alert).map_err(|e| ApiError::bad_request(e.to_string()))?;
    blocking(&s, move |app| {
        app.store(|st| st.put_alert(&alert))?;
        let mut v = alert_json(&alert, &[]);
        v["secret"] = alert.secret.clone().into();
        Ok((StatusCode::CREATED, Json(v)).into_response())
    })
    .await
}

async fn remove_alert(State(s): State<Shared>, _: crate::guard::Authorized, Path(name): Path<String>) -> ApiResult<Response> {
    blocking(&s, move |app| {
        if app.store(|st| st.remove_alert(&name))? {
            Ok(StatusCode::NO_CONTENT.into_response())
        } else {
            Err(ApiError::not_found(format!("no alert `{name}`")))
        }
    })
    .await
}

async fn list_sources(State(s): State<Shared>) -> ApiResult<Json<Value>> {
    blocking(&s, |app| {
        let sources: Vec<SourceState> = app.store(|st| st.sources())?;
        Ok(Json(json!({"sources": sources})))
    })
    .await
}

fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map_or("–".to_owned(), |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}

async fn sources_page(State(s): State<Shared>) -> Result<Html<String>, Response> {
    let body = blocking(&s, |app| {
        let sources: Vec<SourceState> = app.store(|st| st.sources())?;
        let mut h = String::from("<h1>Sources</h1>");
        let failing = sources.iter().filter(|s| s.failures > 0).count();
        let _ = write!(h, "<p class=\"muted\" id=\"source-counts\">{} sources followed, {failing} failing</p>", sources.len());
        if sources.is_empty() {
            h.push_str("<p class=\"muted\">No source is followed yet: <code>storyline follow --every 5m FEED...</code> or <code>storyline serve --follow FEED...</code>.</p>");
        }
        h.push_str("<table id=\"sources\"><tr><th>source</th><th>kind</th><th>last fetch</th><th>status</th><th>new articles</th><th>entries</th><th>errors</th><th>next poll</th></tr>");
        for x in &sources {
            let kind = serde_json::to_value(x.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            let status = x.last_status.map_or("–".to_owned(), |c| c.to_string());
            let error = x.last_error.as_deref().map(|e| format!("<span class=\"error\">{} failures: {}</span>", x.failures, esc(e))).unwrap_or_default();
            let _ = write!(
                h,
                "<tr class=\"source{}\"><td class=\"small\">{}</td><td>{}</td><td class=\"small\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"small\">{error}</td><td class=\"small\">{}</td></tr>",
                if x.failures > 0 { " failing" } else { "" },
                esc(&x.url),
                esc(&kind),
                when(x.last_fetch),
                esc(&status),
                x.new_articles,
                x.entries_seen,
                when(x.next_poll)
            );
        }
        h.push_str("</table>");
        Ok(h)
    })
    .await
    .map_err(IntoResponse::into_response)?;
    Ok(Html(served_page("Sources", &body)))
}

async fn alerts_page(State(s): State<Shared>) -> Result<Html<String>, Response> {
    let body = blocking(&s, |app| {
        let alerts = app.store(|st| st.alerts())?;
        let hits = app.store(|st| st.alert_hits(None))?;
        let mut h = String::from("<h1>Alerts</h1><p class=\"muted\">Saved searches: a story that matches is reported when it appears, and again each time the stated number of new outlets join it.</p>");
        h.push_str("<table id=\"alerts\"><tr><th>name</th><th>query</th><th>delivered to</th><th>grow by</th><th>reports</th><th>latest</th></tr>");
        for a in &alerts {
            let mine: Vec<&AlertHit> = hits.iter().filter(|x| x.alert == a.name).collect();
            let to = [a.webhook.as_deref(), a.file.as_deref()].into_iter().flatten().map(esc).collect::<Vec<_>>().join("<br>");
            let latest = mine
                .iter()
                .max_by_key(|x| x.at)
                .map(|x| format!("<a href=\"/ui/stories/{}\">{}</a> ({} outlets)", url(&x.story.0), esc(&x.title), x.outlets.len()))
                .unwrap_or_default();
            let pending = mine.iter().filter(|x| x.delivered.is_none()).count();
            let _ = write!(
                h,
                "<tr class=\"alert\"><td>{}</td><td><code>{}</code></td><td class=\"small\">{to}</td><td>{}</td><td>{}{}</td><td class=\"small\">{latest}</td></tr>",
                esc(&a.name),
                esc(&a.query),
                a.grow_by,
                mine.len(),
                if pending > 0 { format!(" ({pending} pending)") } else { String::new() }
            );
        }
        h.push_str("</table>");
        h.push_str(
            "<h2>New alert</h2><form id=\"new-alert\" class=\"filters\">\
             <label>name<input name=\"name\" required></label><label>query<input name=\"query\" required placeholder=\"amr AND envoy\"></label>\
             <label>webhook<input name=\"webhook\" type=\"url\" required placeholder=\"https://hooks.example/storyline\"></label>\
             <label>grow by<input name=\"grow_by\" type=\"number\" min=\"1\" value=\"3\"></label>\
             <label>token<input name=\"token\" type=\"password\" placeholder=\"if the server has one\"></label>\
             <button type=\"submit\">Save</button></form><p id=\"alert-result\" class=\"muted\"></p>",
        );
        Ok(h)
    })
    .await
    .map_err(IntoResponse::into_response)?;
    Ok(Html(served_page("Alerts", &body)))
}
