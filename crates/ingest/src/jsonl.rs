//! JSON Lines: one article per line, with the field names of news-please and of generic dumps.

use std::io::BufRead;

use serde_json::{Map, Value};
use storyline_model::{Body, Hints, InputFormat, RawDocument};

use crate::{decode, warn, Item, ReadConfig, Severity};

const TEXT_FIELDS: &[&str] = &["maintext", "text", "body", "content", "article", "full_text"];
const HTML_FIELDS: &[&str] = &["html", "raw_html", "content_html"];
const DATE_FIELDS: &[&str] = &["date_publish", "published", "date", "published_at", "date_published", "datePublished", "pubdate"];
const OUTLET_FIELDS: &[&str] = &["outlet", "source_domain", "source", "site_name", "sitename", "publisher", "domain"];
const LANGUAGE_FIELDS: &[&str] = &["language", "lang"];

pub(crate) fn read(name: &str, mut reader: impl BufRead, config: &ReadConfig, emit: &mut dyn FnMut(Item)) {
    let mut line_no = 0usize;
    let mut line = Vec::new();
    loop {
        line.clear();
        line_no += 1;
        let (len, overflow) = match read_line_capped(&mut reader, &mut line, config.max_document_bytes) {
            Ok(r) => r,
            Err(e) => {
                warn(emit, format!("{name}#{line_no}"), Severity::Error, format!("read failed; the rest of the file is lost: {e}"));
                return;
            }
        };
        if len == 0 {
            return;
        }
        let record = format!("{name}#{line_no}");
        if overflow {
            warn(emit, record, Severity::Error, format!("line longer than {} bytes; skipped", config.max_document_bytes));
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let decoded = decode(&line, Some("utf-8"), false);
        let mut warnings = Vec::new();
        if let Some(note) = decoded.note {
            warn(emit, record.clone(), Severity::Warning, note.clone());
            warnings.push(format!("{record}: {note}"));
        }
        let object = match serde_json::from_str::<Value>(decoded.text.trim()) {
            Ok(Value::Object(object)) => object,
            Ok(_) => {
                warn(emit, record, Severity::Error, "not a JSON object; skipped".to_owned());
                continue;
            }
            Err(e) => {
                warn(emit, record, Severity::Error, format!("not valid JSON ({e}); skipped"));
                continue;
            }
        };
        match document(&object) {
            Some((body, hints)) => emit(Item::Document(RawDocument { source: record, format: InputFormat::Jsonl, body, hints, warnings })),
            None => warn(
                emit,
                record,
                Severity::Error,
                format!("no article text: none of the fields {} or {} holds a string; skipped", TEXT_FIELDS.join("|"), HTML_FIELDS.join("|")),
            ),
        }
    }
}

/// Maps one JSON object to a body and the metadata it carries.
fn document(object: &Map<String, Value>) -> Option<(Body, Hints)> {
    let text = first_string(object, TEXT_FIELDS);
    let html = first_string(object, HTML_FIELDS);
    let body = match (text, html) {
        (Some(text), _) => Body::Text(text),
        (None, Some(html)) => Body::Html(html),
        (None, None) => return None,
    };
    let hints = Hints {
        external_id: object.get("id").or_else(|| object.get("_id")).and_then(scalar_string),
        url: first_string(object, &["url", "link", "canonical_url"]),
        title: first_string(object, &["title", "headline"]),
        published: DATE_FIELDS.iter().find_map(|f| object.get(*f).and_then(scalar_string)),
        authors: object.get("authors").or_else(|| object.get("author")).map(names).unwrap_or_default(),
        outlet: OUTLET_FIELDS.iter().find_map(|f| object.get(*f).and_then(outlet_name)),
        language: first_string(object, LANGUAGE_FIELDS),
    };
    Some((body, hints))
}

fn first_string(object: &Map<String, Value>, fields: &[&str]) -> Option<String> {
    fields.iter().find_map(|f| match object.get(*f) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    })
}

fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `"A, B"`, `["A", "B"]` or `[{"name": "A"}]`.
fn names(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => s.split([',', ';']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        Value::Array(items) => items.iter().flat_map(names).collect(),
        Value::Object(o) => o.get("name").and_then(scalar_string).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// A string, or an object with a `name` (as in NewsAPI's `source: {id, name}`).
fn outlet_name(value: &Value) -> Option<String> {
    match value {
        Value::Object(o) => o.get("name").and_then(scalar_string),
        other => scalar_string(other),
    }
}

/// Reads one line into `line`, keeping at most `cap` bytes; the rest of an over-long line is
/// consumed and dropped. Returns bytes consumed and whether the line was cut.
fn read_line_capped(reader: &mut impl BufRead, line: &mut Vec<u8>, cap: usize) -> std::io::Result<(usize, bool)> {
    let mut consumed = 0;
    let mut overflow = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok((consumed, overflow));
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        if line.len() + chunk.len() > cap {
            overflow = true;
        } else {
            line.extend_from_slice(chunk);
        }
        let n = chunk.len();
        reader.consume(n);
        consumed += n;
        if done {
            return Ok((consumed, overflow));
        }
    }
}
