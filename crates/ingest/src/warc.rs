//! WARC files (as in CC-NEWS): `response` records holding HTTP responses with HTML bodies.
//! Records are read one at a time with the `warc` crate; a truncated last record is reported.

use std::cell::Cell;
use std::io::{self, BufRead, Read};
use std::rc::Rc;

use storyline_model::{Body, Hints, InputFormat, RawDocument};
use warc::{RecordType, WarcHeader, WarcReader};

use crate::decode::content_type_charset;
use crate::{decode, warn, Item, ReadConfig, Severity};

/// Room for the HTTP status line and headers in front of a record's document.
const HTTP_HEAD_BYTES: usize = 64 * 1024;
/// Longest header line accepted: the WARC parser buffers a header block whole.
const MAX_HEADER_LINE: usize = 1 << 20;

pub(crate) fn read(name: &str, reader: impl BufRead, config: &ReadConfig, emit: &mut dyn FnMut(Item)) {
    let position = Rc::new(Cell::new(0u64));
    let counted = Counting { inner: reader, position: position.clone(), line_run: 0, newline_at: None };
    let mut warc = WarcReader::new(counted);
    let mut records = warc.stream_records();
    // Where the last record read ends (after its body and the blank lines that close it).
    let mut record_end = 0u64;
    let mut record_no = 0usize;
    let cap = config.max_document_bytes.saturating_add(HTTP_HEAD_BYTES);
    while let Some(result) = records.next_item() {
        record_no += 1;
        let record_name = format!("{name}#{record_no}");
        let mut record = match result {
            Ok(record) => record,
            Err(e @ (warc::Error::MissingHeader(_) | warc::Error::MalformedHeader(..))) => {
                // The header block was read whole: the reader can go on with the next record.
                warn(emit, record_name, Severity::Error, format!("unusable record header ({e}); skipped"));
                continue;
            }
            Err(e) => {
                let message = match e {
                    warc::Error::UnexpectedEOB => "truncated record (the file ends inside it); skipped".to_owned(),
                    warc::Error::ReadData(io) => format!("unreadable record ({io}); the rest of the file is skipped"),
                    other => format!("unreadable record ({other}); the rest of the file is skipped"),
                };
                warn(emit, record_name, Severity::Error, message);
                return;
            }
        };
        let length = record.content_length();
        record_end = position.get() + length + 4;
        if !matches!(record.warc_type(), RecordType::Response | RecordType::Resource) {
            continue;
        }
        let url = record.header(WarcHeader::TargetURI).map(|u| u.trim().trim_matches(['<', '>']).to_owned());
        let content_type = record.header(WarcHeader::ContentType).map(|c| c.trim().to_owned()).unwrap_or_default();
        // Read at most the document limit (plus room for HTTP headers); the rest is skipped
        // unread by the next step of the reader.
        let (body, cut, error) = crate::read_capped(&mut record, cap);
        if let Some(e) = error {
            warn(emit, record_name, Severity::Error, format!("read failed inside the record ({e}); the rest of the file is skipped"));
            return;
        }
        if (body.len() as u64) < length.min(cap as u64) {
            warn(emit, record_name, Severity::Error, "truncated record (the file ends inside it); skipped".to_owned());
            return;
        }
        let mut warnings = Vec::new();
        if cut {
            let message = format!("record larger than {} bytes (--max-document-bytes); the rest was not read", config.max_document_bytes);
            warn(emit, record_name.clone(), Severity::Error, message);
            warnings.push(format!("{record_name}: truncated at {} bytes", config.max_document_bytes));
        }
        let (payload_type, payload) = if content_type.starts_with("application/http") || looks_like_http(&body) {
            match split_http(&body) {
                Some((status, headers, payload)) => {
                    if !(200..300).contains(&status) {
                        continue;
                    }
                    (header_value(headers, "content-type").unwrap_or_default(), payload)
                }
                None => {
                    warn(emit, record_name, Severity::Error, "malformed HTTP response in record; skipped".to_owned());
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
        let payload = if payload.starts_with(&[0x1f, 0x8b]) {
            let (bytes, cut, error) = crate::read_capped(flate2::read::MultiGzDecoder::new(payload), config.max_document_bytes);
            if let Some(e) = error {
                warn(emit, record_name.clone(), Severity::Error, format!("corrupt gzip body: {e}; skipped"));
                continue;
            }
            if cut {
                let message = format!("decompressed body larger than {} bytes (--max-document-bytes); the rest was not read", config.max_document_bytes);
                warn(emit, record_name.clone(), Severity::Error, message);
            }
            std::borrow::Cow::Owned(bytes)
        } else {
            std::borrow::Cow::Borrowed(&payload[..payload.len().min(config.max_document_bytes)])
        };
        let declared = content_type_charset(&payload_type);
        let decoded = decode(&payload, declared.as_deref(), true);
        if let Some(note) = decoded.note {
            warn(emit, record_name.clone(), Severity::Warning, note.clone());
            warnings.push(format!("{record_name}: {note}"));
        }
        let hints = Hints { url, ..Hints::default() };
        emit(Item::Document(RawDocument { source: record_name, format: InputFormat::Warc, body: Body::Html(decoded.text), hints, warnings }));
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

/// Counts the bytes the WARC reader consumes, to tell a clean end of file from a truncated one,
/// and stops a header line (read through `fill_buf`/`consume`) that runs past
/// [`MAX_HEADER_LINE`]. Bodies are read through `read`, which has no such limit.
struct Counting<R> {
    inner: R,
    position: Rc<Cell<u64>>,
    /// Bytes consumed since the last line break, by `consume`.
    line_run: usize,
    /// Where the buffer `fill_buf` last returned has its first line break.
    newline_at: Option<usize>,
}

impl<R: BufRead> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.position.set(self.position.get() + n as u64);
        self.line_run = 0;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.line_run > MAX_HEADER_LINE {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("a header line is longer than {MAX_HEADER_LINE} bytes")));
        }
        let buf = self.inner.fill_buf()?;
        self.newline_at = memchr::memchr(b'\n', buf);
        Ok(buf)
    }

    fn consume(&mut self, amount: usize) {
        self.line_run = match self.newline_at {
            Some(p) if p < amount => amount - p - 1,
            _ => self.line_run + amount,
        };
        self.newline_at = None;
        self.position.set(self.position.get() + amount as u64);
        self.inner.consume(amount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(bytes: &[u8]) -> Vec<Item> {
        let mut out = Vec::new();
        read("x.warc", bytes, &ReadConfig::default(), &mut |i| out.push(i));
        out
    }

    #[test]
    fn a_header_line_without_end_is_an_error_not_a_buffer() {
        let mut warc = b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: ".to_vec();
        warc.extend(std::iter::repeat_n(b'x', 3 << 20));
        let got = items(&warc);
        assert!(matches!(&got[..], [Item::Warning(w)] if w.message.contains("longer than 1048576 bytes")), "{got:?}");
    }
}
