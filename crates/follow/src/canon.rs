//! The canonical address of an article, so that one article syndicated under several URLs
//! (tracking parameters, fragments, parameter order, letter case of the host) is fetched and
//! stored once.

use url::Url;

/// Query parameters that only say who sent the reader, never which page it is.
const TRACKING: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "twclid",
    "igshid",
    "mc_cid",
    "mc_eid",
    "_ga",
    "_gl",
    "ref_src",
    "ref_url",
    "cmpid",
    "ocid",
    "spm",
    "share",
    "s_cid",
    "at_medium",
    "at_campaign",
];

fn is_tracking(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.starts_with("utm_") || TRACKING.contains(&key.as_str())
}

/// The canonical form of an `http`/`https` address: no fragment, no tracking parameters, the
/// remaining parameters sorted by name (repeated names keep their order), no empty `?`. The
/// host is lower-cased and a default port dropped, as URL parsing does. `None` for anything
/// that is not an absolute web address.
pub fn canonical(raw: &str) -> Option<Url> {
    let mut url = Url::parse(raw.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return None;
    }
    url.set_fragment(None);
    let mut pairs: Vec<(String, String)> = url.query_pairs().filter(|(k, _)| !is_tracking(k)).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    if pairs.is_empty() {
        url.set_query(None);
    } else {
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        url.query_pairs_mut().clear().extend_pairs(&pairs);
    }
    Some(url)
}

/// A page's own statement of its address (`<link rel="canonical" href>`), resolved against
/// the address it was fetched from and made canonical; `None` when it is not a web address.
pub fn stated(fetched: &Url, href: &str) -> Option<Url> {
    canonical(fetched.join(href.trim()).ok()?.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Option<String> {
        canonical(s).map(String::from)
    }

    #[test]
    fn one_article_under_several_addresses_is_one_address() {
        let plain = c("https://news.example.com/2021/05/12/gaza-envoy");
        for variant in [
            "https://news.example.com/2021/05/12/gaza-envoy?utm_source=rss&utm_medium=feed",
            "https://NEWS.example.com:443/2021/05/12/gaza-envoy#comments",
            "https://news.example.com/2021/05/12/gaza-envoy?fbclid=abc&UTM_Campaign=x",
            "  https://news.example.com/2021/05/12/gaza-envoy?  ",
        ] {
            assert_eq!(c(variant), plain, "{variant}");
        }
        assert_eq!(c("http://example.com/a?b=2&a=1&utm_term=z&a=0").as_deref(), Some("http://example.com/a?a=1&a=0&b=2"), "sorted, repeats in order");
        assert_ne!(c("https://example.com/story?id=1"), c("https://example.com/story?id=2"), "a parameter that names the page stays");
    }

    #[test]
    fn only_web_addresses_have_a_canonical_form() {
        for bad in ["", "not a url", "mailto:a@example.com", "ftp://example.com/x", "/relative/path", "https://"] {
            assert_eq!(c(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_stated_canonical_resolves_against_the_page() {
        let page = Url::parse("https://example.com/amp/story-1?utm_source=x").unwrap();
        assert_eq!(stated(&page, "/news/story-1").map(String::from).as_deref(), Some("https://example.com/news/story-1"));
        assert_eq!(stated(&page, "javascript:void(0)"), None);
    }
}
