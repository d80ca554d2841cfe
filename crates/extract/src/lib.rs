//! Raw document to clean article: HTML extraction, cleaning of scraped text, and metadata
//! (title, publication date, authors, contributors, outlet, credited source, language).
//!
//! Architecture invariant: extraction is pure. [`extract`] takes a [`RawDocument`] and
//! corpus statistics and returns an [`Article`]; it does no IO and cannot fail: problems are
//! reported in `Article::warnings`.

pub mod budget;
pub mod clean;
pub mod corpus;
pub mod dates;
pub mod html;
pub mod names;
pub mod rules;

use storyline_model::{Article, Body, RawDocument, RemovalReason, Removed};

pub use clean::{clean_lines, Cleaned, Mode};
pub use corpus::CorpusStats;
pub use dates::Published;

/// Turns one raw document into a clean article.
pub fn extract(doc: &RawDocument, stats: &CorpusStats) -> Article {
    let over_budget = match &doc.body {
        Body::Html(markup) => budget::PARSE_BUDGET.exceeded(&budget::measure(markup, &budget::PARSE_BUDGET)),
        Body::Text(_) => None,
    };
    extract_with(doc, stats, over_budget)
}

/// Like [`extract`], with an HTML page's markup read as plain text, never parsed as HTML: for
/// a page the HTML libraries could not handle. `why` goes into the warnings.
pub fn extract_flat(doc: &RawDocument, stats: &CorpusStats, why: &str) -> Article {
    extract_with(doc, stats, Some(why.to_owned()))
}

/// What [`extract_guarded`] made of a document.
pub enum Guarded {
    Extracted(Article),
    /// A library panicked on the document (the message says what and where); an HTML page is
    /// then read as plain text when that works.
    Recovered {
        panic: String,
        article: Option<Article>,
    },
}

/// [`extract`] with panics contained: what every entry point runs, so that a bug in a
/// dependency costs one document, never the batch.
pub fn extract_guarded(doc: &RawDocument, stats: &CorpusStats) -> Guarded {
    match storyline_model::contain::contain(|| extract(doc, stats)) {
        Ok(article) => Guarded::Extracted(article),
        Err(panic) => {
            let article = matches!(doc.body, Body::Html(_))
                .then(|| storyline_model::contain::contain(|| extract_flat(doc, stats, "the HTML parser failed on this page")).ok())
                .flatten();
            Guarded::Recovered { panic, article }
        }
    }
}

fn extract_with(doc: &RawDocument, stats: &CorpusStats, over_budget: Option<String>) -> Article {
    let mut warnings = doc.warnings.clone();
    let boilerplate = |line: &str| stats.is_boilerplate(doc, line);
    let (mut cleaned, page) = match (&doc.body, over_budget) {
        (Body::Html(markup), Some(why)) => {
            warnings.push(format!("{}: {why}; read as plain text", doc.source));
            let text = html::markup_to_lines(markup);
            let lines: Vec<&str> = text.iter().map(String::as_str).collect();
            (clean_lines(&lines, Mode::ScrapedText, &boilerplate), None)
        }
        (Body::Html(markup), None) => {
            let page = html::extract_html(markup, doc.hints.url.as_deref());
            if let Some(note) = &page.fallback_note {
                warnings.push(format!("{}: {note}", doc.source));
            }
            let lines: Vec<&str> = page.paragraphs.iter().map(String::as_str).collect();
            let in_article = |line: &str| page.article_tail.contains(&html::collapse(line));
            let address = page.canonical_url.as_deref().or(doc.hints.url.as_deref());
            let cleaned = clean::clean_lines_in(&lines, Mode::FromHtml, address, &boilerplate, &in_article);
            // A first paragraph repeating the title stays in text from HTML: both extraction
            // sets count it as the article's (measured: dropping it cost recall on both).
            (cleaned, Some(page))
        }
        (Body::Text(text), _) => {
            let lines: Vec<&str> = text.lines().collect();
            let mut cleaned = clean::clean_lines_in(&lines, Mode::ScrapedText, doc.hints.url.as_deref(), &boilerplate, &|_| false);
            if let Some(title) = &doc.hints.title {
                // The container knew the title; a first line that repeats it is not body text.
                if cleaned.meta.title.as_deref().is_some_and(|t| clean::normalise(t) != clean::normalise(title)) {
                    restore_guessed_title(&mut cleaned);
                }
                drop_repeated_title(&mut cleaned, Some(title));
            }
            (cleaned, None)
        }
    };
    let text = cleaned.paragraphs.join("\n\n");
    // Only the extractor leaves page blocks out; a page read as plain text keeps them all.
    if let (Body::Html(markup), Some(_)) = (&doc.body, &page) {
        record_page_furniture(markup, &text, &mut cleaned.removed);
    }
    let page = page.unwrap_or_default();
    let hints = &doc.hints;
    if text.trim().is_empty() {
        warnings.push(format!("{}: no article text left after extraction", doc.source));
    }

    let url = page.canonical_url.clone().or_else(|| hints.url.clone());
    let title = hints.title.clone().or_else(|| page.title.as_deref().map(|t| strip_site_suffix(t, page.outlet.as_deref()))).or(cleaned.meta.title.clone());
    let given = hints.published.as_deref().filter(|p| !p.trim().is_empty());
    let given_date = given.and_then(dates::parse_date);
    if let (Some(p), None) = (given, given_date) {
        warnings.push(format!("{}: published {p:?} is not a date; using the date found in the page, if any", doc.source));
    }
    let published = given_date.or(page.published).or(cleaned.meta.published).or_else(|| url.as_deref().and_then(dates::url_date).map(Published::day));
    let authors = first_non_empty([hints.authors.clone(), page.authors.clone(), cleaned.meta.authors.clone()]);
    let outlet = hints.outlet.clone().or(page.outlet.clone()).or(cleaned.meta.outlet.clone()).or_else(|| url.as_deref().and_then(host_of));
    let language = hints.language.clone().or_else(|| detect_language(&text)).or(page.language.clone());

    Article {
        id: doc.id(),
        source: doc.source.clone(),
        url,
        title,
        published,
        authors,
        contributors: cleaned.meta.contributors,
        outlet,
        credited_source: cleaned.meta.credited_source,
        language,
        text,
        removed: cleaned.removed,
        warnings,
        external_id: hints.external_id.clone(),
    }
}

/// Most page blocks recorded as `html_boilerplate`; a page's furniture beyond this is dropped
/// from the record (with a last entry saying how much).
const MAX_RECORDED_FURNITURE: usize = 300;

/// Records the page's visible text blocks that are not in the article text, so a reader can see
/// what extraction left out of an HTML page (menus, footers, sidebars, comments).
fn record_page_furniture(markup: &str, text: &str, removed: &mut Vec<Removed>) {
    let kept = clean::normalise(text);
    let kept_blocks: std::collections::HashSet<String> = text.split("\n\n").map(clean::normalise).collect();
    let already: std::collections::HashSet<String> = removed.iter().map(|r| clean::normalise(&r.text)).collect();
    let mut recorded = 0usize;
    let mut skipped = 0usize;
    for line in html::markup_to_lines(markup) {
        let norm = clean::normalise(&line);
        // Whole blocks are looked up; only long lines are searched for inside the text (a short
        // menu word found somewhere in the article is still a menu word).
        if norm.is_empty() || kept_blocks.contains(&norm) || already.contains(&norm) || norm.len() >= 40 && html::find_in(&kept, &norm).is_some() {
            continue;
        }
        if recorded < MAX_RECORDED_FURNITURE {
            removed.push(Removed { text: line, reason: RemovalReason::HtmlBoilerplate });
            recorded += 1;
        } else {
            skipped += 1;
        }
    }
    if skipped > 0 {
        removed.push(Removed { text: format!("({skipped} more blocks of page furniture not listed)"), reason: RemovalReason::HtmlBoilerplate });
    }
}

/// Removes a first paragraph that repeats the title.
fn drop_repeated_title(cleaned: &mut Cleaned, title: Option<&str>) {
    let Some(title) = title.filter(|_| rules::on(rules::Rule::RepeatedTitle)) else { return };
    let title = clean::normalise(title);
    if let Some(first) = cleaned.paragraphs.first() {
        let first_norm = clean::normalise(first);
        if !first_norm.is_empty() && (first_norm == title || title.starts_with(&first_norm) && first_norm.len() * 3 >= title.len() * 2) {
            let text = cleaned.paragraphs.remove(0);
            cleaned.removed.push(Removed { text, reason: RemovalReason::Title });
        }
    }
}

/// Puts a first line that was taken as the headline back into the text (the container's own
/// title wins, so the line was probably body text).
fn restore_guessed_title(cleaned: &mut Cleaned) {
    if let Some(pos) = cleaned.removed.iter().position(|r| r.reason == RemovalReason::Title && Some(&r.text) == cleaned.meta.title.as_ref()) {
        let removed = cleaned.removed.remove(pos);
        cleaned.paragraphs.insert(0, removed.text);
        cleaned.meta.title = None;
    }
}

/// "Bridge reopens | Example Gazette" -> "Bridge reopens" when the suffix is the site name.
fn strip_site_suffix(title: &str, site: Option<&str>) -> String {
    for sep in [" | ", " - ", " – ", " — ", " :: ", " · "] {
        if let Some(pos) = title.rfind(sep) {
            let tail = title[pos + sep.len()..].trim();
            let tail_is_site = site.is_some_and(|s| clean::normalise(s) == clean::normalise(tail))
                || tail.split_whitespace().count() <= 3 && title[..pos].split_whitespace().count() >= 4;
            if tail_is_site {
                return title[..pos].trim().to_owned();
            }
        }
    }
    title.trim().to_owned()
}

fn first_non_empty<const N: usize>(candidates: [Vec<String>; N]) -> Vec<String> {
    candidates.into_iter().find(|c| !c.is_empty()).unwrap_or_default()
}

fn host_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    Some(parsed.host_str()?.trim_start_matches("www.").to_owned())
}

/// ISO 639-1 code of the text's language, when the detector is confident.
pub fn detect_language(text: &str) -> Option<String> {
    let mut end = text.len().min(2000);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let sample = &text[..end];
    let info = whatlang::detect(sample)?;
    if !info.is_reliable() && sample.len() < 200 {
        return None;
    }
    Some(iso639_1(info.lang()))
}

/// ISO 639-1 for the languages whatlang knows; its own 639-3 code where there is none.
fn iso639_1(lang: whatlang::Lang) -> String {
    const TABLE: &[(&str, &str)] = &[
        ("eng", "en"),
        ("deu", "de"),
        ("fra", "fr"),
        ("spa", "es"),
        ("ita", "it"),
        ("por", "pt"),
        ("nld", "nl"),
        ("rus", "ru"),
        ("ukr", "uk"),
        ("pol", "pl"),
        ("tur", "tr"),
        ("ara", "ar"),
        ("heb", "he"),
        ("pes", "fa"),
        ("hin", "hi"),
        ("ben", "bn"),
        ("urd", "ur"),
        ("cmn", "zh"),
        ("jpn", "ja"),
        ("kor", "ko"),
        ("vie", "vi"),
        ("tha", "th"),
        ("ind", "id"),
        ("swe", "sv"),
        ("dan", "da"),
        ("nob", "no"),
        ("fin", "fi"),
        ("ces", "cs"),
        ("slk", "sk"),
        ("hun", "hu"),
        ("ron", "ro"),
        ("bul", "bg"),
        ("ell", "el"),
        ("hrv", "hr"),
        ("srp", "sr"),
        ("slv", "sl"),
        ("lit", "lt"),
        ("lav", "lv"),
        ("est", "et"),
        ("cat", "ca"),
        ("afr", "af"),
        ("epo", "eo"),
        ("tgl", "tl"),
        ("zul", "zu"),
        ("bel", "be"),
        ("mkd", "mk"),
        ("aze", "az"),
        ("kat", "ka"),
        ("hye", "hy"),
        ("tam", "ta"),
        ("tel", "te"),
        ("mar", "mr"),
        ("guj", "gu"),
        ("kan", "kn"),
        ("mal", "ml"),
        ("pan", "pa"),
        ("ori", "or"),
        ("sin", "si"),
        ("nep", "ne"),
        ("mya", "my"),
        ("khm", "km"),
        ("amh", "am"),
        ("yid", "yi"),
        ("lat", "la"),
        ("jav", "jv"),
        ("sna", "sn"),
        ("aka", "ak"),
        ("uzb", "uz"),
        ("tuk", "tk"),
    ];
    let code = lang.code();
    TABLE.iter().find(|(three, _)| *three == code).map_or_else(|| code.to_owned(), |(_, two)| (*two).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use storyline_model::{Hints, InputFormat};

    #[test]
    fn html_page_furniture_is_recorded_as_removed() {
        let page = r#"<html><head><title>Bridge reopens</title></head><body>
            <nav><a href="/">Home</a> <a href="/news">Local news</a></nav>
            <article><h1>Bridge reopens</h1><p>The old bridge over the river reopened on Friday after two years of repairs, the city said.</p>
            <p>Traffic is expected to be heavy during the first week, and the council asked drivers to use the bypass where they can.</p>
            <p>The repairs cost more than planned because of damage found under the deck, according to the council's report.</p></article>
            <footer>Copyright Example Gazette, all rights reserved</footer></body></html>"#;
        let doc =
            RawDocument { source: "page.html".into(), format: InputFormat::Html, body: Body::Html(page.into()), hints: Hints::default(), warnings: vec![] };
        let article = extract(&doc, &CorpusStats::default());
        // The headline stays at the top of the text from HTML (both extraction sets count it).
        assert!(article.text.starts_with("Bridge reopens\n\nThe old bridge"), "{}", article.text);
        let furniture: Vec<&str> = article.removed.iter().filter(|r| r.reason == RemovalReason::HtmlBoilerplate).map(|r| r.text.as_str()).collect();
        assert!(furniture.iter().any(|t| t.contains("Copyright Example Gazette")), "{furniture:?}");
        assert!(!furniture.iter().any(|t| t.contains("old bridge")), "{furniture:?}");
    }

    #[test]
    fn a_list_inside_the_article_stays_and_linked_headlines_after_it_go() {
        let page = r#"<html><head><title>Winter chili</title></head><body>
            <div class="post"><h1>Winter chili</h1>
            <p>This chili takes an hour from start to finish and feeds four people, with enough left over for a lunch the next day.</p>
            <p>Brown the chicken first, then add the beans and the broth and let the pot simmer slowly until the sauce is thick.</p>
            <p>Ingredients for 4 portions:</p>
            <ul><li>2 cans white beans</li><li>1 tsp ground cumin</li><li>Signed by the <a href="/cook">cook</a> of the house</li></ul></div>
            <div class="related"><p>More recipes</p><ul><li><a href="/a">Beef stew for cold nights</a></li><li><a href="/b">Easy lentil soup</a></li></ul></div>
            </body></html>"#;
        let doc =
            RawDocument { source: "page.html".into(), format: InputFormat::Html, body: Body::Html(page.into()), hints: Hints::default(), warnings: vec![] };
        let text = extract(&doc, &CorpusStats::default()).text;
        for kept in ["Ingredients for 4 portions:", "2 cans white beans", "1 tsp ground cumin", "Signed by the cook of the house"] {
            assert!(text.contains(kept), "{kept:?} lost from {text}");
        }
        for gone in ["Beef stew for cold nights", "Easy lentil soup"] {
            assert!(!text.contains(gone), "{gone:?} kept in {text}");
        }
    }

    #[test]
    fn a_given_date_is_typed_or_a_warning() {
        let doc = |published: &str| RawDocument {
            source: "feed.jsonl#1".into(),
            format: InputFormat::Jsonl,
            body: Body::Text("The council met on Tuesday and agreed the budget.".into()),
            hints: Hints { published: Some(published.into()), ..Hints::default() },
            warnings: vec![],
        };
        let good = extract(&doc("Wed, 12 May 2021 15:58:00 +0300"), &CorpusStats::default());
        assert_eq!(good.published.map(|p| p.to_string()).as_deref(), Some("2021-05-12T15:58:00+03:00"));
        assert!(good.warnings.is_empty(), "{:?}", good.warnings);
        let bad = extract(&doc("not a date"), &CorpusStats::default());
        assert_eq!(bad.published, None);
        assert!(bad.warnings.iter().any(|w| w.contains("feed.jsonl#1") && w.contains("not a date")), "{:?}", bad.warnings);
    }
}
