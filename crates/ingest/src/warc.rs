//! WARC files (as in CC-NEWS): `response` records holding HTTP responses with HTML bodies.
//! Records are read one at a time with the `warc` crate; a truncated last record is reported.

use std::cell::Cell;
use std::io::{self, BufRead, Read};
use std::rc::Rc;

use storyline_model::{Body, Hints, InputFormat, RawDocument};
use warc::{WarcHeader, WarcReader};

use crate::decode::content_type_charset;
use crate::{decode, warn, Item, ReadConfig, Severity};

pub(crate) fn read(name: &str, reader: impl BufRead, config: &ReadConfig, emit: &mut dyn FnMut(Item)) {
    let position = Rc::new(Cell::new(0u64));
    let counted = Counting { inner: reader, position: position.clone() };
    let mut record_end = 0u64;
    let mut record_no = 0usize;
    for result in WarcReader::new(counted).iter_raw_records() {
        record_no += 1;
        let record = format!("{name}#{record_no}");
        let (header, body) = match result {
            Ok(parts) => parts,
            Err(e) => {
                let message = match e {
                    warc::Error::UnexpectedEOB => "truncated record (the file ends inside it); skipped".to_owned(),
                    other => format!("unreadable record ({other}); the rest of the file is skipped"),
                };
                warn(emit, record, Severity::Error, message);
                return;
            }
        };
        record_end = position.get();
        let get = |h: WarcHeader| header.headers.get(&h).map(|v| String::from_utf8_lossy(v).trim().to_owned());
        let kind = get(WarcHeader::WarcType).unwrap_or_default();
        if kind != "response" && kind != "resource" {
            continue;
        }
        let url = get(WarcHeader::TargetURI).map(|u| u.trim_matches(['<', '>']).to_owned());
        let content_type = get(WarcHeader::ContentType).unwrap_or_default();
        let (payload_type, payload) = if content_type.starts_with("application/http") || looks_like_http(&body) {
            match split_http(&body) {
                Some((status, headers, payload)) => {
                    if !(200..300).contains(&status) {
                        continue;
                    }
                    (header_value(headers, "content-type").unwrap_or_default(), payload)
                }
                None => {
                    warn(emit, record, Severity::Error, "malformed HTTP response in record; skipped".to_owned());
                    continue;
                }
            }
        } else {
            (content_type, &body[..])
        };
        let lower_type = payload_type.to_ascii_lowercase();
        if !(lower_type.is_empty() || lower_type.contains("html")) {
            continue;
        }
        let mut warnings = Vec::new();
        let payload = if payload.starts_with(&[0x1f, 0x8b]) {
            let (bytes, _, error) = crate::read_capped(flate2::read::MultiGzDecoder::new(payload), config.max_document_bytes);
            if let Some(e) = error {
                warn(emit, record.clone(), Severity::Error, format!("corrupt gzip body: {e}; skipped"));
                continue;
            }
            std::borrow::Cow::Owned(bytes)
        } else {
            std::borrow::Cow::Borrowed(&payload[..payload.len().min(config.max_document_bytes)])
        };
        let declared = content_type_charset(&payload_type);
        let decoded = decode(&payload, declared.as_deref(), true);
        if let Some(note) = decoded.note {
            warn(emit, record.clone(), Severity::Warning, note.clone());
            warnings.push(format!("{record}: {note}"));
        }
        let hints = Hints { url, ..Hints::default() };
        emit(Item::Document(RawDocument { source: record, format: InputFormat::Warc, body: Body::Html(decoded.text), hints, warnings }));
    }
    // The reader stops silently when the file ends inside a record's header block.
    if position.get() > record_end {
        warn(emit, format!("{name}#{}", record_no + 1), Severity::Error, "truncated record header at end of file; skipped".to_owned());
    }
}

fn looks_like_http(body: &[u8]) -> bool {
    body.starts_with(b"HTTP/")
}

/// Splits an HTTP response into status code, header block and payload.
fn split_http(bytes: &[u8]) -> Option<(u16, &str, &[u8])> {
    let split =
        bytes.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, i + 4)).or_else(|| bytes.windows(2).position(|w| w == b"\n\n").map(|i| (i, i + 2)))?;
    let head = std::str::from_utf8(&bytes[..split.0]).ok()?;
    let status_line = head.lines().next()?;
    let status = status_line.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, head, &bytes[split.1..]))
}

fn header_value(headers: &str, name: &str) -> Option<String> {
    headers.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
    })
}

/// Counts the bytes the WARC reader consumes, to tell a clean end of file from a truncated one.
struct Counting<R> {
    inner: R,
    position: Rc<Cell<u64>>,
}

impl<R: BufRead> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.position.set(self.position.get() + n as u64);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.position.set(self.position.get() + amount as u64);
        self.inner.consume(amount);
    }
}
