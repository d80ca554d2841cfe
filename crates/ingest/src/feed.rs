//! RSS and Atom feed files: one document per entry, from its full content or its summary.

use std::io::Read;

use storyline_model::{Body, Hints, InputFormat, RawDocument};

use crate::{read_capped, warn, Item, ReadConfig, Severity};

pub(crate) fn read(name: &str, reader: impl Read, config: &ReadConfig, emit: &mut dyn FnMut(Item)) {
    // A feed is parsed as a whole; cap it like any other document so memory stays bounded.
    let cap = config.max_document_bytes.saturating_mul(4);
    let (bytes, truncated, error) = read_capped(reader, cap);
    if let Some(e) = error {
        warn(emit, name.to_owned(), Severity::Error, format!("read failed part-way: {e}"));
    }
    if truncated {
        warn(emit, name.to_owned(), Severity::Error, format!("feed larger than {cap} bytes; entries after that point are lost"));
    }
    let feed = match feed_rs::parser::parse(&bytes[..]) {
        Ok(feed) => feed,
        Err(e) => return warn(emit, name.to_owned(), Severity::Error, format!("not a readable RSS/Atom feed ({e}); skipped")),
    };
    let outlet = feed.title.as_ref().map(|t| t.content.trim().to_owned()).filter(|t| !t.is_empty());
    let language = feed.language.clone();
    for (i, entry) in feed.entries.into_iter().enumerate() {
        let record = format!("{name}#{}", i + 1);
        let content = entry.content.as_ref().and_then(|c| c.body.clone()).filter(|b| !b.trim().is_empty());
        let summary = entry.summary.as_ref().map(|s| s.content.clone()).filter(|s| !s.trim().is_empty());
        let Some(markup) = content.or(summary) else {
            warn(emit, record, Severity::Warning, "feed entry has no content or summary; skipped".to_owned());
            continue;
        };
        let title = entry.title.as_ref().map(|t| t.content.trim().to_owned()).filter(|t| !t.is_empty());
        let body = if markup.contains('<') {
            // Wrap entry markup so the HTML extractor sees a document with the entry's title.
            let head_title = title.as_deref().map(html_escape).unwrap_or_default();
            Body::Html(format!("<html><head><title>{head_title}</title></head><body><article>{markup}</article></body></html>"))
        } else {
            Body::Text(markup)
        };
        let hints = Hints {
            external_id: Some(entry.id.clone()).filter(|id| !id.is_empty()),
            url: entry.links.first().map(|l| l.href.clone()),
            title,
            published: entry.published.or(entry.updated).map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            authors: entry.authors.iter().map(|p| p.name.as_deref().unwrap_or("").trim().to_owned()).filter(|n| !n.is_empty()).collect(),
            outlet: outlet.clone(),
            language: entry.language.clone().or_else(|| language.clone()),
        };
        emit(Item::Document(RawDocument { source: record, format: InputFormat::Feed, body, hints, warnings: Vec::new() }));
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
