//! What a source document lists, whatever its format: a feed (RSS, Atom, JSON Feed; `feed-rs`),
//! a sitemap or news sitemap, a sitemap index, or an OPML list of feeds. One [`Listing`] for
//! all, with each page address canonicalised ([`crate::canon`]) and listed once.

use url::Url;

use crate::{canon, opml, sitemap, Error};

/// One page a source lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The canonical address (tracking parameters and fragments dropped).
    pub url: Url,
    pub title: Option<String>,
    /// As the source states it (RFC 3339 for feeds, W3C datetime for sitemaps).
    pub published: Option<String>,
    /// A feed entry's full text (`content`), when it carries one: evidence for the page.
    pub content: Option<String>,
}

/// What kind of document a source turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Feed,
    Sitemap,
    SitemapIndex,
    Opml,
}

/// What a source document lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub kind: Kind,
    /// Pages, in document order, each once.
    pub entries: Vec<Entry>,
    /// Further sources to read: the sitemaps of an index, the feeds of an OPML file.
    pub sources: Vec<Url>,
    /// Entries that were not read (past a protocol limit) or had no usable address.
    pub dropped: usize,
}

/// Reads the document `bytes` fetched from `source_name` (named in errors).
pub fn read(source_name: &str, base: Option<&Url>, bytes: &[u8]) -> Result<Listing, Error> {
    let resolve = |href: &str| match base {
        Some(base) => canon::stated(base, href),
        None => canon::canonical(href),
    };
    match sitemap::parse(source_name, bytes) {
        Ok(map) => {
            let kind = if map.sitemaps.is_empty() || !map.entries.is_empty() { Kind::Sitemap } else { Kind::SitemapIndex };
            let mut listing = Listing { kind, entries: Vec::new(), sources: Vec::new(), dropped: map.dropped };
            for e in map.entries {
                let title = e.news_title;
                let published = e.news_published.or(e.lastmod);
                listing.push(resolve(&e.loc), title, published, None);
            }
            listing.sources = dedup(map.sitemaps.iter().filter_map(|s| resolve(&s.loc)));
            return Ok(listing);
        }
        Err(Error::NotThisFormat { .. }) => {}
        Err(e) => return Err(e),
    }
    match opml::feeds(source_name, bytes) {
        // Feed addresses are kept as written, not canonicalised: a feed's query may matter.
        Ok(feeds) => {
            let sources = dedup(feeds.iter().filter_map(|f| base.map_or_else(|| Url::parse(&f.url).ok(), |b| b.join(&f.url).ok())));
            let dropped = feeds.len() - sources.len();
            return Ok(Listing { kind: Kind::Opml, entries: Vec::new(), sources, dropped });
        }
        Err(Error::NotThisFormat { .. }) => {}
        Err(e) => return Err(e),
    }
    // feed-rs (through quick-xml) can panic on hostile input: contained, the document is refused.
    let parsed = storyline_model::contain::contain(|| feed_rs::parser::parse(bytes))
        .map_err(|message| Error::Parser { source_name: source_name.to_owned(), message })?;
    let feed = parsed.map_err(|e| Error::NotThisFormat { source_name: source_name.to_owned(), message: format!("not a feed, sitemap or OPML file ({e})") })?;
    let mut listing = Listing { kind: Kind::Feed, entries: Vec::new(), sources: Vec::new(), dropped: 0 };
    for entry in feed.entries {
        let link = entry.links.iter().find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate")).or(entry.links.first());
        let title = entry.title.map(|t| t.content.trim().to_owned()).filter(|t| !t.is_empty());
        let published = entry.published.or(entry.updated).map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let content = entry.content.and_then(|c| c.body).filter(|b| !b.trim().is_empty());
        listing.push(link.and_then(|l| resolve(&l.href)), title, published, content);
    }
    Ok(listing)
}

impl Listing {
    fn push(&mut self, url: Option<Url>, title: Option<String>, published: Option<String>, content: Option<String>) {
        match url {
            Some(url) if !self.entries.iter().any(|e| e.url == url) => self.entries.push(Entry { url, title, published, content }),
            Some(_) => {}
            None => self.dropped += 1,
        }
    }
}

fn dedup(urls: impl Iterator<Item = Url>) -> Vec<Url> {
    let mut out: Vec<Url> = Vec::new();
    for url in urls {
        if !out.contains(&url) {
            out.push(url);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_lists_canonical_pages_once_with_their_full_text() {
        let rss = br#"<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Outlet</title>
            <item><title>One</title><link>https://news.example/a?utm_source=rss&amp;id=1#top</link><pubDate>Mon, 03 May 2021 10:00:00 GMT</pubDate>
              <content:encoded><![CDATA[<p>Full text.</p>]]></content:encoded></item>
            <item><title>One again</title><link>https://news.example/a?id=1&amp;utm_medium=feed</link></item>
            <item><title>No link</title></item>
            <item><title>Relative</title><link>/b</link></item>
            </channel></rss>"#;
        let base = Url::parse("https://news.example/feed.xml").unwrap();
        let listing = read("feed.xml", Some(&base), rss).unwrap();
        assert_eq!(listing.kind, Kind::Feed);
        let urls: Vec<&str> = listing.entries.iter().map(|e| e.url.as_str()).collect();
        assert_eq!(urls, ["https://news.example/a?id=1", "https://news.example/b"]);
        assert_eq!(listing.entries[0].title.as_deref(), Some("One"));
        assert_eq!(listing.entries[0].published.as_deref(), Some("2021-05-03T10:00:00Z"));
        assert_eq!(listing.entries[0].content.as_deref(), Some("<p>Full text.</p>"));
        assert_eq!(listing.dropped, 1);
    }

    #[test]
    fn sitemaps_indexes_and_opml_are_told_apart() {
        let index =
            br#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>https://n.example/s1.xml.gz</loc></sitemap></sitemapindex>"#;
        let listing = read("index.xml", None, index).unwrap();
        assert_eq!((listing.kind, listing.sources.len()), (Kind::SitemapIndex, 1));
        let map = br#"<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://n.example/x?fbclid=1</loc><lastmod>2021-05-03</lastmod></url></urlset>"#;
        let listing = read("s1.xml", None, map).unwrap();
        assert_eq!(listing.kind, Kind::Sitemap);
        assert_eq!(listing.entries[0].url.as_str(), "https://n.example/x");
        assert_eq!(listing.entries[0].published.as_deref(), Some("2021-05-03"));
        let opml = br#"<opml version="2.0"><body><outline text="A" xmlUrl="https://a.example/rss"/><outline xmlUrl="https://a.example/rss"/></body></opml>"#;
        let listing = read("feeds.opml", None, opml).unwrap();
        assert_eq!((listing.kind, listing.sources.len()), (Kind::Opml, 1));
        let err = read("page.html", None, b"<html><body>not a feed</body></html>").unwrap_err();
        assert!(err.to_string().starts_with("page.html: "), "{err}");
    }
}
