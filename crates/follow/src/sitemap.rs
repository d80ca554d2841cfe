//! Sitemaps (`<urlset>`), sitemap indexes (`<sitemapindex>`) and Google News sitemaps
//! (`<news:news>` with a title and a publication date), gzipped or not.

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::{xml, Error};

/// The protocol's limits: 50,000 entries and 50 MB (uncompressed) per sitemap.
pub const MAX_ENTRIES: usize = 50_000;
pub const MAX_BYTES: u64 = 50 * 1024 * 1024;

/// One page a sitemap lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub loc: String,
    /// As written (`lastmod`, or the news publication date when there is no `lastmod`).
    pub lastmod: Option<String>,
    /// News sitemaps: the article's title and publication date.
    pub news_title: Option<String>,
    pub news_published: Option<String>,
}

/// What a sitemap names: pages, or (an index) other sitemaps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sitemap {
    pub entries: Vec<Entry>,
    /// Sitemaps listed by a sitemap index, with their `lastmod`.
    pub sitemaps: Vec<Entry>,
    /// Entries past [`MAX_ENTRIES`] that were not read.
    pub dropped: usize,
}

/// Reads a sitemap or sitemap index named `source_name` (for messages).
pub fn parse(source_name: &str, bytes: &[u8]) -> Result<Sitemap, Error> {
    let bytes = xml::decompressed(source_name, bytes, MAX_BYTES)?;
    let mut reader = Reader::from_reader(&bytes[..]);
    let mut out = Sitemap::default();
    let mut root: Option<String> = None;
    let mut path: Vec<String> = Vec::new();
    let mut current: Option<Entry> = None;
    let mut text = String::new();
    let mut buf = Vec::new();
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| xml::error(source_name, reader.buffer_position(), e))?;
        match event {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_owned();
                if root.is_none() {
                    if name != "urlset" && name != "sitemapindex" {
                        return Err(Error::NotThisFormat { source_name: source_name.to_owned(), message: format!("a <{name}> document, not a sitemap") });
                    }
                    root = Some(name.clone());
                }
                if path.len() == 1 && (name == "url" || name == "sitemap") {
                    current = Some(Entry::default());
                }
                path.push(name);
                text.clear();
            }
            Event::Text(t) => text.push_str(&xml::text(&t)),
            Event::CData(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => text.push_str(&xml::reference(&r)),
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                let value = text.trim().to_owned();
                text.clear();
                if let Some(entry) = current.as_mut() {
                    match name.as_str() {
                        "loc" if path.len() == 2 => entry.loc = value,
                        "lastmod" if path.len() == 2 => entry.lastmod = Some(value).filter(|v| !v.is_empty()),
                        "title" if path.last().is_some_and(|p| p == "news") => entry.news_title = Some(value).filter(|v| !v.is_empty()),
                        "publication_date" if path.last().is_some_and(|p| p == "news") => entry.news_published = Some(value).filter(|v| !v.is_empty()),
                        _ => {}
                    }
                }
                if path.len() == 1 && (name == "url" || name == "sitemap") {
                    if let Some(mut entry) = current.take().filter(|e| !e.loc.is_empty()) {
                        if entry.lastmod.is_none() {
                            entry.lastmod.clone_from(&entry.news_published);
                        }
                        let list = if name == "sitemap" { &mut out.sitemaps } else { &mut out.entries };
                        if list.len() < MAX_ENTRIES {
                            list.push(entry);
                        } else {
                            out.dropped += 1;
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if root.is_none() {
        return Err(Error::NotThisFormat { source_name: source_name.to_owned(), message: "no <urlset> or <sitemapindex>".into() });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const NEWS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>https://example.com/a?x=1&amp;y=2</loc>
    <news:news><news:publication><news:name>Example</news:name><news:language>en</news:language></news:publication>
      <news:publication_date>2021-05-12T18:58:00+03:00</news:publication_date><news:title>Envoy &#8220;arrives&#8221;</news:title></news:news></url>
  <url><loc> https://example.com/b </loc><lastmod>2021-05-13</lastmod></url>
  <url><lastmod>2021-05-14</lastmod></url>
</urlset>"#;

    #[test]
    fn a_news_sitemap_gives_pages_titles_and_dates() {
        let s = parse("news.xml", NEWS.as_bytes()).unwrap();
        assert_eq!(s.entries.len(), 2, "an entry without <loc> is skipped");
        assert_eq!(s.entries[0].loc, "https://example.com/a?x=1&y=2");
        assert_eq!(s.entries[0].news_title.as_deref(), Some("Envoy “arrives”"));
        assert_eq!(s.entries[0].lastmod.as_deref(), Some("2021-05-12T18:58:00+03:00"), "the publication date stands in for lastmod");
        assert_eq!((s.entries[1].loc.as_str(), s.entries[1].lastmod.as_deref()), ("https://example.com/b", Some("2021-05-13")));
        assert!(s.sitemaps.is_empty());
    }

    #[test]
    fn a_gzipped_index_lists_sitemaps() {
        let index = r#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
            <sitemap><loc>https://example.com/s1.xml.gz</loc><lastmod>2021-05-12</lastmod></sitemap>
            <sitemap><loc>https://example.com/s2.xml</loc></sitemap></sitemapindex>"#;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(index.as_bytes()).unwrap();
        let s = parse("index.xml.gz", &gz.finish().unwrap()).unwrap();
        assert_eq!(s.sitemaps.iter().map(|e| e.loc.as_str()).collect::<Vec<_>>(), ["https://example.com/s1.xml.gz", "https://example.com/s2.xml"]);
        assert!(s.entries.is_empty());
    }

    #[test]
    fn broken_input_is_an_error_naming_it() {
        let cut = &NEWS.as_bytes()[..NEWS.len() / 2];
        for (bytes, want) in [
            (&b"<html><body>not a sitemap</body></html>"[..], "not a sitemap"),
            (b"\x1f\x8b\x08\x00garbage", "corrupt gzip"),
            (b"<urlset><url><loc>x</url></urlset>", "not well-formed"),
        ] {
            let e = parse("feed-7.xml", bytes).unwrap_err().to_string();
            assert!(e.starts_with("feed-7.xml: ") && e.contains(want), "{e}");
        }
        // A truncated sitemap keeps what came before the cut, or is an error; never a panic.
        let _ = parse("cut.xml", cut);
    }

    #[test]
    fn entries_past_the_protocol_limit_are_counted_not_kept() {
        let mut doc = String::from("<urlset>");
        for i in 0..MAX_ENTRIES + 3 {
            doc.push_str(&format!("<url><loc>https://example.com/{i}</loc></url>"));
        }
        doc.push_str("</urlset>");
        let s = parse("big.xml", doc.as_bytes()).unwrap();
        assert_eq!((s.entries.len(), s.dropped), (MAX_ENTRIES, 3));
    }
}
