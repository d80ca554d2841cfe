//! Nothing fetched is lost: every answer is kept as a WARC `response` record (the `warc` crate
//! writes it), one gzip member per record, in one file per UTC day
//! (`storyline-YYYY-MM-DD.warc.gz`). Appending a member never rewrites what is there, and each
//! append is flushed to disk before it returns, so a killed process leaves at worst one
//! truncated last record, which the WARC reader reports and skips.
//!
//! The record holds the HTTP answer as the pipeline needs it to be read again: status line,
//! headers and the body *as decompressed* (a `Content-Encoding` that was undone is kept as
//! `X-Archived-Content-Encoding`, and `Content-Length` states the stored length).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use reqwest::header;
use warc::{RecordBuilder, RecordType, WarcHeader, WarcWriter};

use crate::fetch::Fetched;

/// A folder of daily WARC files.
#[derive(Debug, Clone)]
pub struct Archive {
    dir: PathBuf,
}

impl Archive {
    /// The archive in `dir` (created if missing).
    pub fn open(dir: &Path) -> io::Result<Archive> {
        std::fs::create_dir_all(dir)?;
        Ok(Archive { dir: dir.to_owned() })
    }

    /// The file that holds the answers of `day`.
    pub fn day_file(&self, day: DateTime<Utc>) -> PathBuf {
        self.dir.join(format!("storyline-{}.warc.gz", day.format("%Y-%m-%d")))
    }

    /// Appends the answers to the file of the day each was received, each as its own gzip
    /// member, and syncs; returns the files written.
    pub fn append(&self, answers: &[Fetched]) -> io::Result<Vec<PathBuf>> {
        let mut written: Vec<PathBuf> = Vec::new();
        for answer in answers {
            let at: DateTime<Utc> = answer.at.into();
            let path = self.day_file(at);
            let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
            file.write_all(&record_gz(answer)?)?;
            file.sync_data()?;
            if !written.contains(&path) {
                written.push(path);
            }
        }
        Ok(written)
    }
}

/// Writes the answers as one gzipped WARC stream (a member per record) to `file`, for the
/// pipeline to read as it reads any WARC file.
pub fn write_records(file: &mut File, answers: &[Fetched]) -> io::Result<()> {
    for answer in answers {
        file.write_all(&record_gz(answer)?)?;
    }
    file.flush()
}

/// One answer as a gzip member holding one WARC `response` record.
fn record_gz(answer: &Fetched) -> io::Result<Vec<u8>> {
    let record = RecordBuilder::default()
        .version("1.0".to_owned())
        .warc_type(RecordType::Response)
        .date(answer.at.into())
        .header(WarcHeader::TargetURI, answer.url.as_str())
        .header(WarcHeader::ContentType, "application/http; msgtype=response")
        .body(http_message(answer))
        .build()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    WarcWriter::new(&mut gz).write(&record)?;
    gz.finish()
}

/// The HTTP answer as bytes: status line, headers, blank line, body.
fn http_message(answer: &Fetched) -> Vec<u8> {
    let reason = http::StatusCode::from_u16(answer.status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
    let mut out = format!("HTTP/1.1 {} {reason}\r\n", answer.status).into_bytes();
    for (name, value) in &answer.headers {
        let name = match *name {
            header::CONTENT_LENGTH | header::TRANSFER_ENCODING => continue,
            header::CONTENT_ENCODING => "x-archived-content-encoding",
            ref other => other.as_str(),
        };
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", answer.body.len()).as_bytes());
    out.extend_from_slice(&answer.body);
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use reqwest::header::{HeaderMap, HeaderValue};
    use storyline_ingest::{read_stream, Item, ReadConfig};
    use url::Url;

    use super::*;

    fn answer(url: &str, content_type: &'static str, body: &[u8], at: SystemTime) -> Fetched {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        Fetched { url: Url::parse(url).unwrap(), status: 200, headers, body: body.to_vec(), requests: 1, at }
    }

    fn documents(path: &Path) -> Vec<(Option<String>, String)> {
        let file = std::io::BufReader::new(File::open(path).unwrap());
        let mut out = Vec::new();
        read_stream(&path.display().to_string(), file, &ReadConfig::default(), &mut |item| match item {
            Item::Document(doc) => out.push((doc.hints.url.clone(), doc.body.as_str().to_owned())),
            Item::Warning(w) => panic!("{w}"),
        });
        out
    }

    #[test]
    fn appended_answers_read_back_as_the_documents_they_were() {
        let dir = tempfile::tempdir().unwrap();
        let archive = Archive::open(&dir.path().join("archive")).unwrap();
        let day = SystemTime::UNIX_EPOCH + Duration::from_secs(1_620_000_000); // 2021-05-03
        let first = answer("https://a.example/1", "text/html; charset=utf-8", "<p>Caf\u{e9} one</p>".as_bytes(), day);
        // windows-1252 bytes, declared: the reader decodes them as the server said.
        let second = answer("https://b.example/2", "text/html; charset=windows-1252", b"<p>Caf\xe9 two</p>", day);
        let written = archive.append(&[first]).unwrap();
        assert_eq!(written, vec![dir.path().join("archive/storyline-2021-05-03.warc.gz")]);
        archive.append(&[second]).unwrap();
        let next_day = answer("https://c.example/3", "text/html", b"<p>three</p>", day + Duration::from_secs(86_400));
        let written = archive.append(&[next_day]).unwrap();
        assert_eq!(written, vec![dir.path().join("archive/storyline-2021-05-04.warc.gz")]);

        let got = documents(&written[0].with_file_name("storyline-2021-05-03.warc.gz"));
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0.as_deref(), Some("https://a.example/1"));
        assert!(got[0].1.contains("Caf\u{e9} one"), "{:?}", got[0].1);
        assert_eq!(got[1].0.as_deref(), Some("https://b.example/2"));
        assert!(got[1].1.contains("Caf\u{e9} two"), "{:?}", got[1].1);
        assert_eq!(documents(&written[0]).len(), 1);
    }

    #[test]
    fn an_undone_content_encoding_is_not_claimed_by_the_record() {
        let a = answer("https://a.example/1", "text/html", b"<p>x</p>", SystemTime::now());
        let message = String::from_utf8(http_message(&a)).unwrap();
        assert!(message.starts_with("HTTP/1.1 200 OK\r\n"), "{message}");
        assert!(message.contains("x-archived-content-encoding: gzip\r\n"), "{message}");
        assert!(!message.contains("\r\ncontent-encoding"), "{message}");
        assert!(message.ends_with("content-length: 8\r\n\r\n<p>x</p>"), "{message}");
    }
}
