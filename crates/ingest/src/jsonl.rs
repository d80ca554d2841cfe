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
        let mut parsed = serde_json::from_str::<Value>(decoded.text.trim());
        if parsed.is_err() {
            // Dumps written by JavaScript or Python carry `\ud800` halves of broken emoji: they
            // become U+FFFD and the line is kept.
            if let Some(repaired) = replace_lone_surrogates(decoded.text.trim()) {
                parsed = serde_json::from_str::<Value>(&repaired);
                if parsed.is_ok() {
                    let note = "lone UTF-16 surrogate escapes replaced by U+FFFD".to_owned();
                    warn(emit, record.clone(), Severity::Warning, note.clone());
                    warnings.push(format!("{record}: {note}"));
                }
            }
        }
        let object = match parsed {
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

/// JSON text with every `\uD800`-`\uDFFF` escape that is not half of a pair replaced by
/// `\uFFFD`; `None` when there is none.
fn replace_lone_surrogates(json: &str) -> Option<String> {
    let b = json.as_bytes();
    let hex = |at: usize| -> Option<u16> { b.get(at..at + 4).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u16::from_str_radix(h, 16).ok()) };
    let escape_at = |at: usize| -> Option<u16> { (b.get(at) == Some(&b'\\') && b.get(at + 1) == Some(&b'u')).then(|| hex(at + 2)).flatten() };
    let mut out = String::with_capacity(json.len());
    let (mut i, mut last, mut changed) = (0, 0, false);
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        let Some(unit) = escape_at(i) else {
            // Any other escape: skip the escaped character (`\\` must not start a `\u`).
            i += 2;
            continue;
        };
        let paired_high = (0xd800..0xdc00).contains(&unit) && escape_at(i + 6).is_some_and(|low| (0xdc00..0xe000).contains(&low));
        if paired_high {
            i += 12;
        } else if (0xd800..0xe000).contains(&unit) {
            out.push_str(&json[last..i]);
            out.push_str("\\ufffd");
            i += 6;
            last = i;
            changed = true;
        } else {
            i += 6;
        }
    }
    changed.then(|| {
        out.push_str(&json[last..]);
        out
    })
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
        let (chunk, done) = match memchr::memchr(b'\n', buf) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        assert_eq!(replace_lone_surrogates(r#"{"text": "a\ud800b"}"#).as_deref(), Some(r#"{"text": "a\ufffdb"}"#));
        assert_eq!(replace_lone_surrogates(r#"{"text": "\udc00 and \ud83d\ude00"}"#).as_deref(), Some(r#"{"text": "\ufffd and \ud83d\ude00"}"#));
        // A pair, an escaped backslash before `ud800`, and nothing to replace.
        assert_eq!(replace_lone_surrogates(r#"{"text": "\ud83d\ude00 \\ud800"}"#), None);
        let mut items = Vec::new();
        let line = "{\"title\": \"Emoji cut in half\", \"text\": \"The council met on Monday \\ud83d and agreed.\"}\n";
        read("dump.jsonl", line.as_bytes(), &ReadConfig::default(), &mut |item| items.push(item));
        assert!(matches!(&items[0], Item::Warning(w) if w.message.contains("surrogate")), "{items:?}");
        let Some(Item::Document(doc)) = items.get(1) else { panic!("{items:?}") };
        assert!(matches!(&doc.body, Body::Text(t) if t.contains("Monday \u{fffd} and")), "{:?}", doc.body);
    }
}
