//! OPML files listing feeds: every `<outline xmlUrl="...">`, at any depth (folders nest).

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::{xml, Error};

/// At most this many bytes of OPML are read.
pub const MAX_BYTES: u64 = 16 * 1024 * 1024;

/// One feed an OPML file lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    pub url: String,
    /// The outline's `title` or `text`, when it has one.
    pub title: Option<String>,
}

/// The feeds an OPML file named `source_name` lists, in document order, each once.
pub fn feeds(source_name: &str, bytes: &[u8]) -> Result<Vec<Feed>, Error> {
    let bytes = xml::decompressed(source_name, bytes, MAX_BYTES)?;
    let mut reader = Reader::from_reader(&bytes[..]);
    let mut out: Vec<Feed> = Vec::new();
    let mut seen_root = false;
    let mut buf = Vec::new();
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| xml::error(source_name, reader.buffer_position(), e))?;
        match event {
            Event::Start(e) | Event::Empty(e) => {
                let name = e.local_name();
                if !seen_root {
                    if !name.as_ref().eq_ignore_ascii_case("opml") {
                        let found = name.as_ref().to_owned();
                        return Err(Error::NotThisFormat { source_name: source_name.to_owned(), message: format!("a <{found}> document, not OPML") });
                    }
                    seen_root = true;
                }
                if name.as_ref().eq_ignore_ascii_case("outline") {
                    if let Some(feed) = outline(&e) {
                        if !out.iter().any(|f| f.url == feed.url) {
                            out.push(feed);
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !seen_root {
        return Err(Error::NotThisFormat { source_name: source_name.to_owned(), message: "no <opml> element".into() });
    }
    Ok(out)
}

fn outline(e: &BytesStart<'_>) -> Option<Feed> {
    let (mut url, mut title, mut text) = (None, None, None);
    for a in e.attributes().flatten() {
        let value = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok()?.trim().to_owned();
        match a.key.local_name().as_ref() {
            k if k.eq_ignore_ascii_case("xmlUrl") => url = Some(value),
            "title" => title = Some(value),
            "text" => text = Some(value),
            _ => {}
        }
    }
    let url = url.filter(|u| !u.is_empty())?;
    Some(Feed { url, title: title.or(text).filter(|t| !t.is_empty()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feeds_at_any_depth_once_each() {
        let doc = r#"<?xml version="1.0"?><opml version="2.0"><head><title>Mine</title></head><body>
            <outline text="World"><outline type="rss" text="Wire &amp; Co" xmlUrl="https://wire.example/rss?a=1&amp;b=2"/>
              <outline type="rss" title="Daily" text="ignored" xmlUrl=" https://daily.example/feed "/></outline>
            <outline text="folder without a feed"/>
            <outline type="rss" xmlUrl="https://wire.example/rss?a=1&amp;b=2"/></body></opml>"#;
        let f = feeds("mine.opml", doc.as_bytes()).unwrap();
        assert_eq!(
            f,
            [
                Feed { url: "https://wire.example/rss?a=1&b=2".into(), title: Some("Wire & Co".into()) },
                Feed { url: "https://daily.example/feed".into(), title: Some("Daily".into()) },
            ]
        );
    }

    #[test]
    fn other_documents_are_errors_naming_them() {
        for (doc, want) in [("<rss><channel/></rss>", "not OPML"), ("<opml><body><outline xmlUrl=\"x\"></body>", "not well-formed"), ("", "no <opml>")] {
            let e = feeds("list.opml", doc.as_bytes()).unwrap_err().to_string();
            assert!(e.starts_with("list.opml: ") && e.contains(want), "{e}");
        }
    }
}
