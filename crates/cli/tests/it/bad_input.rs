//! Bad input never stops the batch: each problem is named, the rest is ingested, and the exit
//! code says something failed.

use std::io::Write;

use super::*;

const ARTICLE: &str = "Bridge reopens after repairs\n\nThe old bridge over the river reopened on Friday after two years of repairs, the city said in a statement.\n\nTraffic is expected to be heavy during the first week, officials said.\n";

fn page(title: &str, body: &str) -> String {
    format!("<!DOCTYPE html><html><head><title>{title}</title></head><body><article><h1>{title}</h1><p>{body}</p><p>{body} It was the second such event this year, and the council promised a full report.</p><p>Residents said they welcomed the news after months of delays and detours through the town centre.</p></article></body></html>")
}

pub fn warc_record(uri: &str, html: &str) -> Vec<u8> {
    let http = format!("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}");
    let mut rec = format!(
        "WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: {uri}\r\nWARC-Date: 2021-05-13T00:00:00Z\r\nWARC-Record-ID: <urn:uuid:{}>\r\nContent-Type: application/http; msgtype=response\r\nContent-Length: {}\r\n\r\n",
        uri.len(),
        http.len()
    )
    .into_bytes();
    rec.extend_from_slice(http.as_bytes());
    rec.extend_from_slice(b"\r\n\r\n");
    rec
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn every_bad_input_is_named_and_the_rest_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    std::fs::write(p("good.txt"), ARTICLE).unwrap();
    std::fs::write(p("good.txt.gz"), gzip(ARTICLE.replace("Friday", "Monday").as_bytes())).unwrap();
    let mut corrupt = gzip(ARTICLE.repeat(50).as_bytes());
    let n = corrupt.len();
    corrupt[n / 2..].iter_mut().for_each(|b| *b = 0x55);
    std::fs::write(p("corrupt.txt.gz"), corrupt).unwrap();
    std::fs::write(p("empty.txt"), "").unwrap();
    std::fs::write(p("image.png"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\0\0\0\x01\0\x08\x06\0\0\0").unwrap();
    // windows-1252 declared in the page, curly quotes and accents as single bytes.
    let mut latin = page("Caf\u{e9} opens", "The caf\u{e9} opened.").into_bytes();
    latin = String::from_utf8(latin).unwrap().replace("<head>", "<head><meta charset=\"windows-1252\">").into_bytes();
    let latin: Vec<u8> = String::from_utf8(latin).unwrap().chars().map(|c| if c == '\u{e9}' { 0xe9 } else { c as u8 }).collect();
    std::fs::write(p("latin.html"), latin).unwrap();
    // A WARC whose third record is cut off.
    let mut warc = warc_record("https://news.example.org/2021/05/12/first", &page("First story", "The first story happened."));
    warc.extend(warc_record("https://news.example.org/2021/05/12/second", &page("Second story", "The second story happened.")));
    let third = warc_record("https://news.example.org/2021/05/12/third", &page("Third story", "The third story happened."));
    warc.extend_from_slice(&third[..third.len() / 2]);
    std::fs::write(p("crawl.warc.gz"), gzip(&warc)).unwrap();
    // JSON Lines with a broken line between two good ones, in two field conventions.
    let jsonl = [
        serde_json::json!({"title": "Ferry service resumes", "maintext": "The ferry service resumed on Monday after the strike ended, the operator said in a statement.", "date_publish": "2021-05-10 08:00:00", "source_domain": "harbour.example.com", "url": "https://harbour.example.com/ferry", "authors": ["Ann Lee"], "language": "en"}).to_string(),
        "{\"title\": \"broken".to_owned(),
        serde_json::json!({"id": "ext-42", "body": "Schools will stay open during the heatwave, the education office said on Tuesday.", "published": "2021-06-01", "outlet": "Valley Times"}).to_string(),
    ]
    .join("\n");
    std::fs::write(p("dump.jsonl"), jsonl).unwrap();
    std::fs::write(
        p("feed.xml"),
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Example Wire</title><item><title>Rain expected</title><link>https://wire.example.com/rain</link><pubDate>Wed, 12 May 2021 15:58:00 GMT</pubDate><description>Heavy rain is expected across the region on Thursday, forecasters said.</description></item></channel></rss>",
    )
    .unwrap();

    let (docs, out) = extract(&[dir.path()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for named in ["corrupt.txt.gz", "empty.txt", "image.png", "crawl.warc.gz#3", "dump.jsonl#2"] {
        assert!(err.lines().any(|l| l.contains(named) && l.starts_with("error:")), "no error naming {named} in:\n{err}");
    }
    let find = |needle: &str| docs.iter().find(|d| d["source"].as_str().unwrap().ends_with(needle)).unwrap_or_else(|| panic!("{needle} missing: {docs:?}"));
    assert!(find("good.txt")["text"].as_str().unwrap().contains("Friday"));
    assert!(find("good.txt.gz")["text"].as_str().unwrap().contains("Monday"));
    assert!(find("latin.html")["text"].as_str().unwrap().contains("caf\u{e9}"));
    assert_eq!(find("crawl.warc.gz#1")["url"], "https://news.example.org/2021/05/12/first");
    assert_eq!(find("crawl.warc.gz#1")["published"], "2021-05-12");
    assert!(find("crawl.warc.gz#2")["text"].as_str().unwrap().contains("second story"));
    let ferry = find("dump.jsonl#1");
    assert_eq!(ferry["published"], "2021-05-10T08:00:00");
    assert_eq!(ferry["outlet"], "harbour.example.com");
    assert_eq!(ferry["authors"], serde_json::json!(["Ann Lee"]));
    let school = find("dump.jsonl#3");
    assert_eq!(school["external_id"], "ext-42");
    assert_eq!(school["outlet"], "Valley Times");
    let rain = find("feed.xml#1");
    assert_eq!(rain["title"], "Rain expected");
    assert_eq!(rain["published"], "2021-05-12T15:58:00Z");
    assert_eq!(rain["outlet"], "Example Wire");
    // The corrupt gzip keeps whatever decompressed before the damage, or nothing; never a crash.
    assert!(docs.len() >= 9, "{}", docs.len());
}

#[test]
fn huge_documents_are_cut_with_an_error_and_undeclared_legacy_text_is_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.txt");
    let mut f = std::fs::File::create(&big).unwrap();
    for i in 0..40_000 {
        writeln!(f, "Paragraph {i} of a very long document that keeps going and going.").unwrap();
    }
    drop(f);
    let legacy = dir.path().join("legacy.txt");
    std::fs::write(&legacy, b"Le gouvernement fran\xe7ais a annonc\xe9 mercredi une r\xe9forme de l'\xe9cole publique.\n").unwrap();
    let out = bin().args(["extract", "--max-document-bytes", "100000"]).arg(&big).arg(&legacy).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("big.txt") && err.contains("larger than 100000 bytes"), "{err}");
    assert!(err.contains("warning:") && err.contains("legacy.txt"), "{err}");
    let docs: Vec<Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(docs.len(), 2);
    // Cut at the limit: about 1,500 of the 40,000 lines were read (each becomes a paragraph).
    assert!(docs[0]["text"].as_str().unwrap().split("\n\n").count() < 2_000);
    assert!(docs[1]["text"].as_str().unwrap().contains("fran\u{e7}ais"));
}

#[test]
fn adversarially_deep_markup_does_not_crash_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!(
        "<html><body>{}<p>Deeply nested words that still make an article paragraph for the reader.</p>{}</body></html>",
        "<div>".repeat(200_000),
        "</div>".repeat(200_000)
    );
    std::fs::write(dir.path().join("deep.html"), deep).unwrap();
    std::fs::write(dir.path().join("good.txt"), ARTICLE).unwrap();
    let (docs, out) = extract(&[dir.path()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(docs.len(), 2);
    let deep = docs.iter().find(|d| d["source"].as_str().unwrap().ends_with("deep.html")).unwrap();
    assert!(deep["text"].as_str().unwrap().contains("Deeply nested words"));
    assert!(deep["warnings"][0].as_str().unwrap().contains("read as plain text"));
}
