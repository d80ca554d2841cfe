//! HTML pages: the main text comes from the `trafilatura` crate, with the article's lead put
//! back when the crate dropped it; paragraphs, publication date,
//! canonical URL, authors and site name are then taken from the page's own markup (JSON-LD,
//! meta tags, `<time>` elements, the URL), which is more reliable than text heuristics.

use ego_tree::iter::Edge;
use scraper::{Html, Node};
use serde_json::Value;
use trafilatura::dom::Document;

use crate::dates::{find_date, parse_date, plausible, url_date, Published};
use crate::rules::{on, Rule};

/// What the HTML stage finds in a page.
#[derive(Debug, Clone, Default)]
pub struct HtmlExtract {
    pub paragraphs: Vec<String>,
    pub title: Option<String>,
    pub published: Option<Published>,
    pub authors: Vec<String>,
    pub outlet: Option<String>,
    pub language: Option<String>,
    pub canonical_url: Option<String>,
    /// Set when the main-text extractor found nothing and the page text was used instead.
    pub fallback_note: Option<String>,
    /// Paragraphs after the last prose paragraph that the page places in the article (see
    /// [`article_tail`]), whitespace collapsed.
    pub article_tail: std::collections::HashSet<String>,
}

/// Plain-text lines of raw markup without building a tree: tags are dropped (block tags end a
/// line), script and style contents skipped, common entities decoded.
pub fn markup_to_lines(html: &str) -> Vec<String> {
    let bytes = html.as_bytes();
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut i = 0;
    while i < html.len() {
        let Some(rel) = memchr::memchr(b'<', &bytes[i..]) else {
            current.push_str(&html[i..]);
            break;
        };
        current.push_str(&html[i..i + rel]);
        let start = i + rel;
        let end = memchr::memchr(b'>', &bytes[start..]).map_or(html.len(), |e| start + e + 1);
        let tag = &bytes[start..end];
        let bare = &tag[tag.iter().position(|&b| b != b'<' && b != b'/').unwrap_or(tag.len())..];
        let name = &bare[..bare.iter().position(|b| !b.is_ascii_alphanumeric()).unwrap_or(bare.len())];
        i = end;
        if !tag.starts_with(b"</") && (name.eq_ignore_ascii_case(b"script") || name.eq_ignore_ascii_case(b"style")) {
            let close: &[u8] = if name.len() == 6 { b"</script" } else { b"</style" };
            i = find_ignoring_ascii_case(&bytes[end..], close).map_or(html.len(), |e| end + e);
            continue;
        }
        if name.eq_ignore_ascii_case(b"br") || BLOCKS.iter().any(|b| name.eq_ignore_ascii_case(b.as_bytes())) {
            flush(&mut current, &mut lines);
        }
    }
    flush(&mut current, &mut lines);
    lines.into_iter().map(decode_entities).collect()
}

/// Where `needle` (which starts with `<`) first occurs in `haystack`, ASCII case ignored.
fn find_ignoring_ascii_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memchr_iter(needle[0], haystack).find(|&at| haystack[at..].get(..needle.len()).is_some_and(|h| h.eq_ignore_ascii_case(needle)))
}

/// Character references the extractor left in its text: every named entity of HTML5 and
/// numeric references, with a no-break space read as a space like the other whitespace.
fn decode_entities(s: String) -> String {
    if !s.contains('&') {
        return s;
    }
    html_escape::decode_html_entities(&s.replace("&nbsp;", " ")).into_owned()
}

/// Main text shorter than this (in bytes) is checked against the fallback extractors.
const FALLBACK_BELOW_CHARS: usize = 1500;

/// Extracts the article from a page. `url` is the page's address when known (WARC, JSONL).
pub fn extract_html(html: &str, url: Option<&str>) -> HtmlExtract {
    // Categories, tags and licence are not read; the language is detected on our own text.
    let mut options = trafilatura::Options::default().without_taxonomy().without_language();
    options.exclude_comments = true;
    options.html_date_mode = trafilatura::HtmlDateMode::Disabled;
    options.skip_escalation_justext = on(Rule::EscalationRulesOnly);
    if let Some(u) = url.and_then(|u| url::Url::parse(u).ok()) {
        options.original_url = Some(u);
    }
    // One parse serves our metadata and (cloned) the extractor.
    let page = Document::parse(html);
    let mut out = HtmlExtract::default();
    // The readability/jusText comparison costs about a third of the time; it is worth it only
    // when the main extractor comes back with little text, or with the baseline's dump of the
    // whole page (menus, sidebars and all), which is long but no article. The page is prepared
    // once for both passes.
    let thin = |first: &Result<trafilatura::ExtractResult, _>, how: trafilatura::FirstPass| {
        let short = first.as_ref().map_or(true, |r| r.content_text.len() < FALLBACK_BELOW_CHARS);
        on(Rule::Fallback) && (short || (how.baseline && on(Rule::FallbackOnDump)))
    };
    let result = trafilatura::extract_document_fallback_when(page.clone_document(), &options, thin);
    match result {
        Ok(result) => {
            out.paragraphs = paragraphs_of(&result.content_html);
            if out.paragraphs.is_empty() && !result.content_text.trim().is_empty() {
                out.paragraphs = vec![collapse(&result.content_text)];
            }
            // The page's whole text, read once for either lead rule when one needs it; and the
            // body's text nodes, indexed once for every rule that reads them.
            let body = std::cell::OnceCell::new();
            let index = std::cell::OnceCell::new();
            let lead = on(Rule::DescriptionLead).then(|| missing_lead(&page, &out.paragraphs, &body, &index)).flatten();
            if let Some(lead) = lead.or_else(|| on(Rule::ClassedLead).then(|| classed_lead(&page, &out.paragraphs, &body)).flatten()) {
                out.paragraphs.insert(0, lead);
            }
            if on(Rule::LooseText) {
                put_back_loose_text(&page, &mut out.paragraphs, &index);
            }
            if on(Rule::ArticleTail) && on(Rule::EdgeTrim) {
                out.article_tail = article_tail(&page, &out.paragraphs, &index);
            }
            let meta = result.metadata;
            out.title = non_empty(meta.title);
            out.outlet = non_empty(meta.sitename);
            out.language = non_empty(meta.language);
            out.authors = meta.author.split(';').map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned).collect();
        }
        Err(e) => {
            out.fallback_note = Some(format!("main-text extraction failed ({e}); used the page's paragraphs"));
            out.paragraphs = page_paragraphs(&page);
        }
    }
    let ld = json_ld(&page);
    if out.authors.is_empty() {
        out.authors = ld_authors(&ld);
    }
    out.canonical_url = canonical_url(&page).or_else(|| url.map(str::to_owned));
    if out.language.is_none() {
        out.language = first_attr(&page, "html", |_| true, "lang").map(|l| l.split(['-', '_']).next().unwrap_or(&l).to_lowercase());
    }
    out.published = publication_date(&page, &ld, url.or(out.canonical_url.as_deref()));
    out
}

fn non_empty(s: String) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

static BLOCKS: &[&str] = &[
    "p",
    "div",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "blockquote",
    "pre",
    "tr",
    "br",
    "section",
    "article",
    "figure",
    "figcaption",
    "table",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "header",
    "footer",
    "hr",
    "main",
    "aside",
    "caption",
    "td",
    "th",
    "code",
];

/// Splits extracted HTML into paragraphs at block boundaries.
pub fn paragraphs_of(fragment_html: &str) -> Vec<String> {
    let fragment = Html::parse_fragment(fragment_html);
    let mut paragraphs = Vec::new();
    let mut current = String::new();
    // Iterative traversal: deeply nested markup must not exhaust the stack.
    let mut skipping = 0usize;
    for edge in fragment.root_element().traverse() {
        match edge {
            Edge::Open(node) => match node.value() {
                Node::Text(text) if skipping == 0 => current.push_str(text),
                Node::Element(e) if matches!(e.name(), "script" | "style" | "noscript" | "template") => skipping += 1,
                Node::Element(e) if skipping == 0 && BLOCKS.contains(&e.name()) && !in_running_text(node) => flush(&mut current, &mut paragraphs),
                _ => {}
            },
            Edge::Close(node) => match node.value() {
                Node::Element(e) if matches!(e.name(), "script" | "style" | "noscript" | "template") => skipping = skipping.saturating_sub(1),
                Node::Element(e) if skipping == 0 && BLOCKS.contains(&e.name()) && !in_running_text(node) => flush(&mut current, &mut paragraphs),
                _ => {}
            },
        }
    }
    flush(&mut current, &mut paragraphs);
    paragraphs
}

/// Whether a `<code>` element is a word or two inside a sentence ("set <code>x</code> to 1"),
/// not a block of code: text beside it on either side. The extractor writes code blocks as
/// `<code>` elements of their own.
fn in_running_text(node: ego_tree::NodeRef<'_, Node>) -> bool {
    let words = |n: Option<ego_tree::NodeRef<'_, Node>>| n.is_some_and(|n| matches!(n.value(), Node::Text(t) if !t.trim().is_empty()));
    matches!(node.value(), Node::Element(e) if e.name() == "code") && (words(node.prev_sibling()) || words(node.next_sibling()))
}

fn flush(current: &mut String, paragraphs: &mut Vec<String>) {
    let text = collapse(current);
    if !text.is_empty() {
        paragraphs.push(text);
    }
    current.clear();
}

pub(crate) fn collapse(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Where `needle` first occurs in `haystack`, as `str::find` says: a SIMD search, several
/// times faster than `str::find` on a page's text, which the rules below search many times.
pub(crate) fn find_in(haystack: &str, needle: &str) -> Option<usize> {
    memchr::memmem::find(haystack.as_bytes(), needle.as_bytes())
}

/// Characters of a paragraph's start by which its element is found in the page.
const HOLDER_PROBE_CHARS: usize = 80;
/// Tail lines checked against the page; a longer tail is a list of links or headlines anyway,
/// and the bound keeps the check linear in the page.
const ARTICLE_TAIL_MAX_LINES: usize = 200;

/// The short paragraphs after the last prose paragraph that belong to the article: inside the
/// parent of the deepest element holding that paragraph's start (a list, a signature, a note
/// below the text), and not the text of a link (as a related headline is). A paragraph whose
/// start the page does not show as such (markup splitting words) finds no element, and nothing
/// is kept.
fn article_tail(page: &Document, paragraphs: &[String], index: &std::cell::OnceCell<Option<TextIndex>>) -> std::collections::HashSet<String> {
    let mut keep = std::collections::HashSet::new();
    let Some(last) = paragraphs.iter().rposition(|p| crate::clean::is_prose(p)) else { return keep };
    if last + 1 == paragraphs.len() {
        return keep;
    }
    let probe: String = collapse(&paragraphs[last]).chars().take(HOLDER_PROBE_CHARS).collect();
    // The deepest element holding the probe: the common ancestor of the text nodes where it
    // starts and ends, found in one pass over the page's text nodes (not by building the text
    // of every element on the way down, which deep markup makes quadratic).
    let Some(index) = TextIndex::of(page, index) else { return keep };
    let Some(from) = find_in(&index.text, &probe) else { return keep };
    let (first, last_node) = (index.node_at(from), index.node_at(from + probe.len().saturating_sub(1)));
    let mut ancestors = Vec::new();
    let mut at = page.parent(first);
    while let Some(a) = at {
        ancestors.push(a);
        at = page.parent(a);
    }
    let mut holder = page.parent(last_node);
    while let Some(h) = holder.filter(|h| !ancestors.contains(h)) {
        holder = page.parent(h);
    }
    let Some(container) = holder.and_then(|h| page.parent(h)) else { return keep };
    let text = collapse(&page.text_content(container));
    let links: Vec<String> = page.iter_descendants(container, &["a"]).into_iter().map(|a| collapse(&page.text_content(a))).filter(|t| !t.is_empty()).collect();
    for p in paragraphs[last + 1..].iter().take(ARTICLE_TAIL_MAX_LINES) {
        let line = collapse(p);
        let linked = links.iter().any(|a| *a == line || a.len() * 2 >= line.len() && line.contains(a.as_str()));
        if !line.is_empty() && !linked && find_in(&text, &line).is_some() {
            keep.insert(line);
        }
    }
    keep
}

/// The text of the page's body with whitespace collapsed (as [`collapse`] of its text content,
/// up to a leading space), and the offset at which each text node starts in it, in document order.
struct TextIndex {
    text: String,
    starts: Vec<(usize, trafilatura::dom::NodeId)>,
}

impl TextIndex {
    /// The page's index, built into `cell` on first use; `None` for a page without a body.
    fn of<'a>(page: &Document, cell: &'a std::cell::OnceCell<Option<TextIndex>>) -> Option<&'a TextIndex> {
        cell.get_or_init(|| page.body().map(|body| text_index(page, body))).as_ref()
    }

    /// The elements that may hold `probe` (which starts with no space) in their whitespace-
    /// collapsed text: the ancestors of each text node where it starts in the body's text.
    /// `None` when the body's text does not hold it; `Some(None)` when any element may (the
    /// probe is found too often to be worth listing, or a `<template>` may hold elements outside
    /// the body), and each must then be checked.
    fn holders(&self, page: &Document, probe: &str) -> Option<Option<std::collections::HashSet<trafilatura::dom::NodeId>>> {
        let (text, probe) = (self.text.as_bytes(), probe.as_bytes());
        let mut from = memchr::memmem::find(text, probe)?;
        if !page.get_elements_by_tag_name(page.root(), "template").is_empty() {
            return Some(None);
        }
        let mut holders = std::collections::HashSet::new();
        // Every occurrence, overlapping ones included.
        for _ in 0..MAX_PROBE_OCCURRENCES {
            let mut node = Some(self.node_at(from));
            while let Some(n) = node.filter(|n| holders.insert(*n)) {
                node = page.parent(n);
            }
            match memchr::memmem::find(&text[from + 1..], probe) {
                Some(next) => from += 1 + next,
                None => return Some(Some(holders)),
            }
        }
        Some(None)
    }

    /// The text node in which the character at `offset` lies (the text is not empty).
    fn node_at(&self, offset: usize) -> trafilatura::dom::NodeId {
        self.starts[self.starts.partition_point(|(s, _)| *s <= offset).saturating_sub(1)].1
    }
}

fn text_index(page: &Document, root: trafilatura::dom::NodeId) -> TextIndex {
    let mut text = String::new();
    let mut starts = Vec::new();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        if let Some(node_text) = page.text_data(id) {
            starts.push((text.len(), id));
            // Runs of whitespace become one space, none at the start of the text.
            for (i, piece) in node_text.split(char::is_whitespace).enumerate() {
                if i > 0 && !text.is_empty() && !text.ends_with(' ') {
                    text.push(' ');
                }
                text.push_str(piece);
            }
        } else {
            stack.extend(page.child_nodes(id).into_iter().rev());
        }
    }
    TextIndex { text, starts }
}

/// Occurrences of a lead's probe in the body's text beyond which every element is checked.
const MAX_PROBE_OCCURRENCES: usize = 64;

/// Words a run of loose text needs to count as one of the article's paragraphs.
const LOOSE_TEXT_MIN_WORDS: usize = 20;
/// Extracted paragraphs beyond which a page is a list, not an article to complete.
const LOOSE_TEXT_MAX_PARAGRAPHS: usize = 400;
/// Candidate runs looked up in the page's text, at most, in all.
const LOOSE_TEXT_MAX_RUNS: usize = 200;
/// Elements that continue a run of loose text (inline markup inside a sentence).
const INLINE: &[&str] = &["a", "em", "strong", "b", "i", "u", "span", "small", "sub", "sup", "abbr", "cite", "q", "mark", "time", "font", "s", "del", "ins"];

/// Text that the article's container holds outside any paragraph element, beside the
/// extracted paragraphs. An HTML5 parser closes a `<p>` at a block inside it (`<p><figure>...
/// </figure> Text...`), which leaves the rest of that paragraph as bare text in the container,
/// and the main-text extractor only takes text inside elements; hand-written pages also set
/// text between `<br>`s straight into a `<div>`. A run of such text (text nodes and inline
/// elements between blocks) is put back where the page has it when it is prose of at least
/// [`LOOSE_TEXT_MIN_WORDS`] words, not already extracted (its start, middle or end), and its
/// container is the parent of an extracted paragraph's element, outside navigation, asides,
/// footers, figures and forms. Where the container is only the element that holds an extracted
/// paragraph as loose text itself, the run must lie between the first and the last extracted
/// paragraph: such an element is often a whole column, with a blurb about the site after the post.
fn put_back_loose_text(page: &Document, paragraphs: &mut Vec<String>, index: &std::cell::OnceCell<Option<TextIndex>>) {
    // Each paragraph and each candidate run is looked up in the page's text: bounded, so that a
    // hostile page of many thousand paragraphs stays linear in its size.
    if paragraphs.is_empty() || paragraphs.len() > LOOSE_TEXT_MAX_PARAGRAPHS {
        return;
    }
    let mut candidates = 0;
    let Some(index) = TextIndex::of(page, index) else { return };
    let text = &index.text;
    // Where each extracted paragraph starts in the page's text, and the containers of their
    // elements.
    let mut at: Vec<Option<usize>> = Vec::with_capacity(paragraphs.len());
    let mut containers: Vec<(trafilatura::dom::NodeId, bool)> = Vec::new();
    for p in paragraphs.iter() {
        let probe: String = p.chars().take(HOLDER_PROBE_CHARS).collect();
        let found = (!probe.is_empty()).then(|| find_in(text, &probe)).flatten();
        at.push(found);
        let Some(offset) = found else { continue };
        // The nearest ancestor of the text that is no inline element.
        let mut holder = page.parent(index.node_at(offset));
        while let Some(inline) = holder.filter(|&e| INLINE.contains(&page.tag_name(e))) {
            holder = page.parent(inline);
        }
        // The element's parent; and the element itself, where the paragraph is loose text in it
        // already (a blog post's `<div>` of text between `<br>`s).
        for (container, own) in [(holder.and_then(|h| page.parent(h)), false), (holder, true)] {
            let Some(container) = container else { continue };
            match containers.iter_mut().find(|(c, _)| *c == container) {
                // The parent of another paragraph's element: no longer only its own.
                Some((_, was_own)) => *was_own &= own,
                None if !inside(page, container, &["nav", "aside", "footer", "figure", "form"]) => containers.push((container, own)),
                None => {}
            }
        }
    }
    let extracted = paragraphs.join(" ");
    let (first, last) = (at.iter().flatten().min().copied(), at.iter().flatten().max().copied());
    let mut found: Vec<(usize, String)> = Vec::new();
    for (container, own) in containers {
        let mut run = String::new();
        let mut runs = Vec::new();
        for child in page.child_nodes(container) {
            let inline = page.is_element(child) && INLINE.contains(&page.tag_name(child)) && !holds_blocks(page, child);
            if page.is_text(child) || inline {
                run.push_str(&page.text_content(child));
            } else if page.is_element(child) {
                runs.push(collapse(&std::mem::take(&mut run)));
            }
        }
        runs.push(collapse(&run));
        for run in runs {
            if crate::clean::word_count(&run) < LOOSE_TEXT_MIN_WORDS || !crate::clean::is_sentence(&run) {
                continue;
            }
            candidates += 1;
            if candidates > LOOSE_TEXT_MAX_RUNS {
                break;
            }
            let probe: String = run.chars().take(HOLDER_PROBE_CHARS).collect();
            if already_extracted(&run, &extracted) || found.iter().any(|(_, f)| *f == run) {
                continue;
            }
            let Some(offset) = find_in(text, &probe) else { continue };
            // Loose text beside a paragraph that is loose text itself: only between the first
            // and the last extracted paragraph (the same element may hold a sidebar's blurb).
            if own && !(first.is_some_and(|f| f <= offset) && last.is_some_and(|l| offset <= l)) {
                continue;
            }
            found.push((offset, run));
        }
    }
    // The extractor's pieces of a run (it split a paragraph at an inline element and lost the
    // rest) give way to the whole run.
    let pieces: Vec<bool> = paragraphs
        .iter()
        .zip(&at)
        .map(|(p, a)| a.is_some_and(|a| found.iter().any(|(offset, run)| (*offset..offset + run.len()).contains(&a) && run.contains(p.as_str()))))
        .collect();
    let mut piece = pieces.iter();
    paragraphs.retain(|_| !piece.next().copied().unwrap_or(false));
    let mut piece = pieces.iter();
    at.retain(|_| !piece.next().copied().unwrap_or(false));
    // Into place: before the first extracted paragraph the page shows after it.
    found.sort_by_key(|(offset, _)| std::cmp::Reverse(*offset));
    for (offset, run) in found {
        let index = at.iter().position(|a| a.is_some_and(|a| a > offset)).unwrap_or(paragraphs.len());
        paragraphs.insert(index, run);
        at.insert(index, Some(offset));
    }
}

/// Whether an inline element holds a block or a line break (a `<span>` around whole
/// paragraphs): its text is no part of one loose sentence.
fn holds_blocks(page: &Document, e: trafilatura::dom::NodeId) -> bool {
    let mut stack = page.children(e);
    while let Some(c) = stack.pop() {
        if !INLINE.contains(&page.tag_name(c)) {
            return true;
        }
        stack.extend(page.children(c));
    }
    false
}

/// Whether the extracted text already holds a run: two of its start, middle and end (the
/// extractor may have dropped a byline before it; one alone is the start of a paragraph whose
/// text after an inline element it lost).
fn already_extracted(run: &str, extracted: &str) -> bool {
    let chars: Vec<char> = run.chars().collect();
    let n = LEAD_PROBE_CHARS.min(chars.len());
    [0, (chars.len() - n) / 2, chars.len() - n].iter().filter(|&&from| find_in(extracted, &chars[from..from + n].iter().collect::<String>()).is_some()).count()
        >= 2
}

/// Characters of the page's description that identify the lead paragraph carrying it.
const LEAD_PROBE_CHARS: usize = 40;

/// The first [`LEAD_PROBE_CHARS`] characters of `text`, by which a lead is recognised.
fn probe_of(text: &str) -> String {
    text.chars().take(LEAD_PROBE_CHARS).collect()
}

/// The page's text, collapsed, computed once into `body`.
fn page_text<'a>(page: &Document, body: &'a std::cell::OnceCell<String>) -> &'a str {
    body.get_or_init(|| collapse(&page.text_content(page.root())))
}

/// Whether an element lies inside one of the `tags`.
fn inside(page: &Document, mut e: trafilatura::dom::NodeId, tags: &[&str]) -> bool {
    while let Some(p) = page.parent(e) {
        if tags.contains(&page.tag_name(p)) {
            return true;
        }
        e = p;
    }
    false
}

/// The article's lead when the main-text extractor dropped it. Many sites put the lead (intro,
/// teaser, standfirst) in an element of its own that main-text extractors score as furniture,
/// and repeat it as the page's description meta. A body element whose text holds the start of
/// that description, and is no longer than a lead, is the lead; it is taken only when no
/// extracted paragraph already holds it. Where that element also holds extracted paragraphs,
/// only its text from the description to the next of them is the lead. The description alone,
/// with no such element in the body, is never used: it may be written for search engines only.
fn missing_lead(page: &Document, paragraphs: &[String], body: &std::cell::OnceCell<String>, index: &std::cell::OnceCell<Option<TextIndex>>) -> Option<String> {
    if paragraphs.is_empty() {
        return None;
    }
    let description = [("property", "og:description"), ("name", "description"), ("name", "twitter:description")]
        .iter()
        .find_map(|&(key, value)| first_attr(page, "meta", |m| page.attribute(m, key) == Some(value), "content"))
        .map(|d| collapse(&d))?;
    let probe = probe_of(&description);
    if probe.chars().count() < LEAD_PROBE_CHARS || paragraphs.iter().any(|p| p.contains(&probe)) {
        return None;
    }
    // One pass over the body's text first: most descriptions appear nowhere in it. Where one
    // does, only the elements around it can hold it.
    let holders = match TextIndex::of(page, index) {
        Some(index) => index.holders(page, &probe)?,
        None if find_in(page_text(page, body), &probe).is_none() => return None,
        None => None,
    };
    let longest = description.len() * 3 / 2 + 200;
    let (e, lead) = tagged(page, page.root(), &["p", "div", "section", "span", "h2", "strong"])
        .into_iter()
        .filter(|e| holders.as_ref().is_none_or(|h| h.contains(e)))
        .map(|e| (e, collapse(&page.text_content(e))))
        .filter(|(_, t)| t.len() <= longest && find_in(t, &probe).is_some())
        .min_by_key(|(_, t)| t.len())?;
    // A photo caption that repeats the description is not the lead.
    if inside(page, e, &["figure", "figcaption", "script", "noscript", "template"]) {
        return None;
    }
    // A block that also holds extracted paragraphs (a header with a byline, the description
    // and the article's start) gives the text from the description up to the next of them:
    // the rest is there already.
    // (Paragraphs shorter than a probe, "[1]" or a one-word heading, say nothing.)
    let probes: Vec<String> = paragraphs.iter().map(|p| probe_of(p)).filter(|p| p.chars().count() >= LEAD_PROBE_CHARS).collect();
    let Some(start) = lead.find(&probe) else { return Some(lead) };
    let end = probes.iter().filter_map(|p| lead[start..].find(p.as_str())).min().map_or(lead.len(), |e| start + e);
    if end == lead.len() && !probes.iter().any(|p| lead[..start].contains(p.as_str())) {
        return Some(lead);
    }
    // The part always holds the description's start (a paragraph found inside it would make
    // it shorter: then there is no lead to put back).
    let part = lead[start..end].trim_end();
    part.contains(&probe).then(|| part.to_owned())
}

/// Parts of a class name (split at `-` and `_`) that mark an article's lead.
const LEAD_CLASSES: &[&str] = &["intro", "lead", "leadin", "excerpt", "standfirst", "dek", "deck", "abstract"];

/// The article's lead from its markup, when the extractor dropped it and the description meta
/// did not find it: the first element whose class says lead (`article-intro`, `excerpt`,
/// `standfirst`, ...), outside navigation, lists, links and captions, of a lead's length, and
/// placed before the extracted text on the page.
fn classed_lead(page: &Document, paragraphs: &[String], body: &std::cell::OnceCell<String>) -> Option<String> {
    let first = paragraphs.first()?;
    let is_lead = |e| {
        page.attribute(e, "class")
            .is_some_and(|c| c.split_whitespace().any(|token| token.to_ascii_lowercase().split(['-', '_']).any(|part| LEAD_CLASSES.contains(&part))))
    };
    let furniture = |e| inside(page, e, &["nav", "aside", "footer", "li", "a", "figure", "figcaption", "script", "noscript", "template"]);
    let e = tagged(page, page.root(), &["p"]).into_iter().find(|&e| (is_lead(e) || page.parent(e).is_some_and(is_lead)) && !furniture(e))?;
    let lead = collapse(&page.text_content(e));
    let probe = probe_of(&lead);
    if !(60..=1500).contains(&lead.len()) || paragraphs.iter().any(|p| p.contains(&probe)) {
        return None;
    }
    // Before the extracted text: the lead opens the article.
    let body = page_text(page, body);
    match (find_in(body, &probe), find_in(body, &probe_of(first))) {
        (Some(l), Some(f)) if l < f => Some(lead),
        _ => None,
    }
}

/// Fallback when extraction fails: all `<p>` texts of the page.
fn page_paragraphs(page: &Document) -> Vec<String> {
    tagged(page, page.root(), &["p"]).into_iter().map(|p| collapse(&page.text_content(p))).filter(|t| !t.is_empty()).collect()
}

/// The elements under `root` named one of `tags`, in page order. The page queries below test
/// tag names and attributes in one walk of the tree: matching a CSS selector against every
/// element cost several times more, on every page.
fn tagged(page: &Document, root: trafilatura::dom::NodeId, tags: &[&str]) -> Vec<trafilatura::dom::NodeId> {
    let mut all = page.get_elements_by_tag_name(root, "*");
    all.retain(|&e| tags.contains(&page.tag_name(e)));
    all
}

/// The first non-empty (trimmed) `attr` of the elements named `tag` that `keep` accepts.
fn first_attr(page: &Document, tag: &str, keep: impl Fn(trafilatura::dom::NodeId) -> bool, attr: &str) -> Option<String> {
    tagged(page, page.root(), &[tag])
        .into_iter()
        .filter(|&e| keep(e))
        .find_map(|e| page.attribute(e, attr).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned))
}

fn canonical_url(page: &Document) -> Option<String> {
    // `rel` values compare case-insensitively in HTML (as the selector `link[rel=canonical]` did).
    let rel_canonical = |l| page.attribute(l, "rel").is_some_and(|r| r.eq_ignore_ascii_case("canonical"));
    first_attr(page, "link", rel_canonical, "href")
        .or_else(|| first_attr(page, "meta", |m| page.attribute(m, "property") == Some("og:url"), "content"))
        .filter(|u| u.starts_with("http"))
}

/// All JSON-LD objects of the page, flattened (`@graph` and arrays unpacked).
fn json_ld(page: &Document) -> Vec<Value> {
    let mut out = Vec::new();
    for script in page.scripts_with_type(&["application/ld+json"]) {
        // A script that breaks off or runs on after its object ("Extra data") still gives the
        // values before the break; one that gives none still gives its publication date.
        let text = page.text_content(script);
        let mut any = false;
        for value in serde_json::Deserializer::from_str(text.trim()).into_iter::<Value>() {
            let Ok(value) = value else { break };
            any = true;
            flatten_ld(value, &mut out);
        }
        if !any {
            if let Some(c) = LD_PUBLISHED.captures(&text) {
                out.push(serde_json::json!({ "datePublished": &c[1] }));
            }
        }
    }
    out
}

static LD_PUBLISHED: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| regex::Regex::new(r#""datePublished"\s*:\s*"([^"]{8,40})""#).unwrap());

fn flatten_ld(value: Value, out: &mut Vec<Value>) {
    match value {
        Value::Array(items) => items.into_iter().for_each(|v| flatten_ld(v, out)),
        Value::Object(mut map) => {
            if let Some(graph) = map.remove("@graph") {
                flatten_ld(graph, out);
            }
            out.push(Value::Object(map));
        }
        _ => {}
    }
}

fn ld_type_is_article(v: &Value) -> bool {
    let is = |t: &str| t.contains("Article") || t.contains("Posting") || t == "Report" || t.contains("BlogPosting") || t == "WebPage";
    match v.get("@type") {
        Some(Value::String(t)) => is(t),
        Some(Value::Array(ts)) => ts.iter().any(|t| t.as_str().is_some_and(is)),
        _ => false,
    }
}

fn ld_authors(ld: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for v in ld.iter().filter(|v| ld_type_is_article(v)) {
        let mut push = |a: &Value| {
            let name = match a {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o.get("name").and_then(Value::as_str).map(str::to_owned),
                _ => None,
            };
            if let Some(n) = name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty() && !out.contains(n)) {
                out.push(n);
            }
        };
        match v.get("author") {
            Some(Value::Array(items)) => items.iter().for_each(&mut push),
            Some(a) => push(a),
            None => {}
        }
    }
    out
}

/// Meta names that say "publication" unambiguously.
const PUBLISHED_META: &[&str] = &[
    "article:published_time",
    "og:published_time",
    "og:article:published_time",
    "article.published",
    "article_date_original",
    "datepublished",
    "date_published",
    "publishdate",
    "publish-date",
    "publish_date",
    "published_time",
    "published-date",
    "pubdate",
    "pub_date",
    "dc.date.issued",
    "dcterms.issued",
    "sailthru.date",
    "parsely-pub-date",
    "cxenseparse:recs:publishtime",
    "originalpublicationdate",
    "citation_publication_date",
    "og:pubdate",
    "article:published",
    "bt:pubdate",
    "item-publish-date",
];
/// Meta names that hold some date of the page, not always the publication's.
const GENERIC_DATE_META: &[&str] = &[
    "dc.date.created",
    "dcterms.created",
    "citation_date",
    "release_date",
    "dc.date",
    "dcterms.date",
    "date",
    "dc:date",
    "displaydate",
    "created",
    "timestamp",
];
const MODIFIED_META: &[&str] =
    &["article:modified_time", "og:updated_time", "datemodified", "last-modified", "dcterms.modified", "dc.date.modified", "lastmod", "revised"];

/// The publication date, from the most reliable evidence the page offers.
fn publication_date(page: &Document, ld: &[Value], url: Option<&str>) -> Option<Published> {
    let from_ld = |key: &str| {
        ld.iter()
            .filter(|v| ld_type_is_article(v) || v.get(key).is_some())
            .find_map(|v| v.get(key).and_then(Value::as_str).and_then(parse_date))
            .filter(|d| plausible(d.date))
    };
    let metas = meta_values(page);
    let from_meta = |keys: &[&str]| keys.iter().find_map(|k| metas.iter().find(|(name, _)| name == k).and_then(|(_, v)| parse_date(v)));
    let url_day = url.and_then(url_date);

    let stated = from_ld("datePublished").or_else(|| from_meta(PUBLISHED_META));
    if let Some(stated) = stated {
        let stated = if on(Rule::LocalDay) { in_local_time(page, ld, &metas, url_day, stated) } else { stated };
        return Some(if on(Rule::ShownDay) { shown_day(page, ld, stated) } else { stated });
    }
    let found = time_element(page)
        .or_else(|| from_meta(GENERIC_DATE_META))
        .or_else(|| url_day.map(Published::day))
        .or_else(|| from_ld("dateCreated"))
        .or_else(|| date_in_marked_elements(page))
        .or_else(|| from_meta(&["datecreated"]))
        .or_else(|| from_ld("dateModified"))
        .or_else(|| from_meta(MODIFIED_META))
        .or_else(|| date_in_text(page))?;
    Some(if on(Rule::LocalDay) { in_local_time(page, ld, &metas, url_day, found) } else { found })
}

/// The date values the page states for machines about itself: `<meta>` values and JSON-LD (not
/// `<time datetime>` or other itemprop elements, which teasers and embedded posts carry for
/// their own dates).
fn machine_dates(page: &Document, ld: &[Value]) -> Vec<Published> {
    tagged(page, page.root(), &["meta"])
        .into_iter()
        .filter_map(|m| page.get_attribute(m, "content"))
        .chain(ld.iter().flat_map(|v| LD_DATES.iter().filter_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_owned))))
        .filter(|v| v.len() <= 60)
        .filter_map(|v| parse_date(&v))
        .filter(|p| plausible(p.date))
        .collect()
}

/// The day the page shows its reader, where it disagrees with the stated publication value and
/// the page states the shown day for machines too (another field: a second publication value,
/// a modification the byline shows): the first date in a `<time>` or a dateline element.
fn shown_day(page: &Document, ld: &[Value], stated: Published) -> Published {
    let times = tagged(page, page.root(), &["time"]);
    let shown = times
        .into_iter()
        .filter(|&t| !in_comments(page, t))
        .map(|t| page.text_content(t))
        .chain(marked_texts(page).take(40))
        .find_map(|text| find_date(&text).map(|(d, _)| d).filter(|d| plausible(d.date)));
    let Some(shown) = shown.filter(|v| v.date != stated.date) else { return stated };
    let other = machine_dates(page, ld).into_iter().find(|m| m.date == shown.date && (m.timestamp() - stated.timestamp()).abs() > 86_400);
    other.unwrap_or(stated)
}

/// Moves a publication time stated in UTC to the outlet's own clock when the page shows the
/// same instant in local time. A story published at 22:35 in Los Angeles is dated the next day
/// in UTC, and the day the outlet printed is the one readers, archives and other outlets cite.
/// Evidence, strongest first: the same instant written with a non-zero offset elsewhere in the
/// page (a `<time datetime>`, a meta value, JSON-LD); the same instant displayed as a wall time
/// to the minute in a dateline or byline (a whole number of half hours away, at most 14 hours);
/// a `<time>` whose machine value is the instant and whose visible day is one day off; the day
/// in the page's URL, one day off and within 14 hours of the stated time. Without
/// such evidence the value stays as stated: no offset is guessed from the site's country.
fn in_local_time(page: &Document, ld: &[Value], metas: &[(String, String)], url_day: Option<chrono::NaiveDate>, found: Published) -> Published {
    if found.offset_minutes != Some(0) || found.time.is_none() {
        return found;
    }
    let at = found.timestamp();
    let times = tagged(page, page.root(), &["time"]);
    let same_instant = |p: &Published| p.time.is_some() && p.offset_minutes.is_some() && (p.timestamp() - at).abs() < 60;
    // The same instant with the outlet's offset.
    let machine = times
        .iter()
        .filter_map(|&t| page.get_attribute(t, "datetime"))
        .chain(metas.iter().map(|(_, v)| v.clone()))
        .chain(ld.iter().flat_map(|v| LD_DATES.iter().filter_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_owned))));
    for value in machine {
        if let Some(p) = parse_date(&value).filter(|p| same_instant(p) && p.offset_minutes != Some(0)) {
            return p;
        }
    }
    // The instant shown as a wall time: the minute matches, the hour is the offset.
    let minute = at - at.rem_euclid(60);
    let shown = times.iter().map(|&t| page.text_content(t)).chain(marked_texts(page).take(40));
    for text in shown {
        let Some((v, _)) = find_date(&text) else { continue };
        if v.time.is_none() || v.offset_minutes.is_some() {
            continue;
        }
        let shift = v.timestamp() - minute;
        if shift != 0 && shift.abs() <= 14 * 3600 && shift % 1800 == 0 {
            return Published { offset_minutes: Some((shift / 60) as i32), ..v };
        }
    }
    // A `<time>` for the instant whose visible day differs by one.
    for &t in &times {
        let machine = page.get_attribute(t, "datetime").and_then(|v| parse_date(&v));
        if !machine.is_some_and(|m| same_instant(&m)) {
            continue;
        }
        if let Some((v, _)) = find_date(&page.text_content(t)) {
            if (v.date - found.date).num_days().abs() == 1 {
                return Published::day(v.date);
            }
        }
    }
    // The URL's day (written on the outlet's calendar), one day off, where an offset of at most
    // 14 hours reaches it from the stated time.
    if let (Some(day), Some(time)) = (url_day, found.time) {
        let seconds = i64::from(chrono::Timelike::num_seconds_from_midnight(&time));
        let reachable = match (day - found.date).num_days() {
            -1 => seconds < 14 * 3600,
            1 => seconds + 14 * 3600 >= 86_400,
            _ => false,
        };
        if reachable {
            return Published::day(day);
        }
    }
    found
}

/// JSON-LD keys whose values are dates of the page.
const LD_DATES: &[&str] = &["datePublished", "dateCreated", "dateModified", "uploadDate"];

/// `(lower-case name, content)` of every `<meta>` with a name, property, itemprop or http-equiv.
fn meta_values(page: &Document) -> Vec<(String, String)> {
    // The elements `meta[content], [itemprop][content], [itemprop][datetime], [property][content]`.
    let has = |e, name| page.attribute(e, name).is_some();
    let stated = |e| has(e, "content") && (page.tag_name(e) == "meta" || has(e, "itemprop") || has(e, "property")) || has(e, "itemprop") && has(e, "datetime");
    page.get_elements_by_tag_name(page.root(), "*")
        .into_iter()
        .filter(|&e| stated(e))
        .filter_map(|m| {
            let attr = |name: &str| page.get_attribute(m, name);
            let name = attr("property").or_else(|| attr("name")).or_else(|| attr("itemprop")).or_else(|| attr("http-equiv"))?;
            let content = attr("content").or_else(|| attr("datetime"))?;
            // RDFa names schema.org properties with a prefix: `schema:datePublished`.
            let name = name.trim().to_lowercase();
            let name = name.strip_prefix("schema:").map(str::to_owned).unwrap_or(name);
            Some((name, content))
        })
        .collect()
}

/// `<time datetime>` elements: marked as the publication time first, then the first one found.
/// Times in a comment section are the comments'. A publication mark on three or more times
/// marks a list of teasers (each item's own date), which singles out nothing: then the first
/// time counts, as on a page without marks.
fn time_element(page: &Document) -> Option<Published> {
    let mut found = Vec::new();
    for t in tagged(page, page.root(), &["time"]) {
        if on(Rule::CommentDates) && in_comments(page, t) {
            continue;
        }
        let attr = |name: &str| page.get_attribute(t, name);
        // What the reader sees ("Publié le 29 juin 2019") wins over a machine value that
        // disagrees with it: the attribute is often the last modification.
        let visible = find_date(&page.text_content(t)).map(|(d, _)| d).filter(|d| plausible(d.date));
        let machine = attr("datetime").and_then(|v| parse_date(&v)).filter(|d| plausible(d.date));
        let date = match (visible, machine) {
            (Some(v), Some(m)) if v.date == m.date => m,
            (Some(v), _) => v,
            (None, Some(m)) => m,
            (None, None) => continue,
        };
        let marks = format!("{} {} {}", attr("class").unwrap_or_default(), attr("itemprop").unwrap_or_default(), attr("id").unwrap_or_default()).to_lowercase();
        let published = attr("pubdate").is_some() || marks.contains("publish") || marks.contains("posted") || marks.contains("created");
        let modified = marks.contains("modif") || marks.contains("update");
        found.push((date, published, modified));
    }
    let marked = found.iter().filter(|(_, published, _)| *published).count();
    if marked > 0 && (marked < 3 || !on(Rule::TeaserDates)) {
        return found.iter().find(|(_, published, _)| *published).map(|(d, ..)| *d);
    }
    found.iter().find(|(_, published, modified)| *published || !*modified).map(|(d, ..)| *d)
}

/// Whether an element sits in a comment section (an ancestor's class or id says comment).
fn in_comments(page: &Document, node: trafilatura::dom::NodeId) -> bool {
    let mut at = page.parent(node);
    for _ in 0..30 {
        let Some(e) = at else { return false };
        if page.is_element(e) {
            let marks = format!("{} {}", page.class_name(e), page.id_attr(e)).to_lowercase();
            if marks.contains("comment") || marks.contains("kommentar") {
                return true;
            }
        }
        at = page.parent(e);
    }
    false
}

/// Dates in the text of elements whose class or id says they hold one (bylines, post meta).
fn date_in_marked_elements(page: &Document) -> Option<Published> {
    marked_texts(page).find_map(|text| find_date(&text).map(|(d, _)| d).filter(|d| plausible(d.date)))
}

/// The short texts of elements whose class or id says they hold a date (bylines, post meta),
/// in page order, leaving out modification dates and comments.
fn marked_texts(page: &Document) -> impl Iterator<Item = String> + '_ {
    // Substrings of the class and id attributes, case-sensitive (as the CSS selectors
    // `[class*=date], [id*=date], ...` this replaces).
    const CLASS_MARKS: &[&str] = &["date", "time", "publish", "posted", "byline", "meta", "Date", "Time", "datum", "Datum", "fecha", "dateline"];
    const ID_MARKS: &[&str] = &["date", "publish"];
    let marked = |e, name, marks: &[&str]| page.attribute(e, name).is_some_and(|v| marks.iter().any(|m| v.contains(m)));
    page.get_elements_by_tag_name(page.root(), "*")
        .into_iter()
        .filter(move |&e| marked(e, "class", CLASS_MARKS) || marked(e, "id", ID_MARKS))
        .filter(|&e| {
            let marks = format!("{} {}", page.class_name(e), page.id_attr(e)).to_lowercase();
            !marks.contains("modif") && !marks.contains("update") && !marks.contains("comment")
        })
        .map(|e| page.text_content(e))
        .filter(|text| text.len() <= 400)
}

/// Last resort: a date standing alone in a short element (a dateline) outside comment
/// sections, else the first plausible date written in the page's visible body text.
fn date_in_text(page: &Document) -> Option<Published> {
    let body = page.body()?;
    // Datelines sit near the top: the first few hundred candidate elements are enough.
    for e in tagged(page, body, &["p", "span", "div", "li", "small", "strong", "em", "h4", "h5", "h6"]).into_iter().take(400) {
        let text = page.text_content(e);
        let text = text.trim();
        if text.len() > 90 || text.is_empty() {
            continue;
        }
        if let Some((date, range)) = find_date(text).filter(|(d, _)| plausible(d.date)) {
            // Mostly the date, with at most a short label around it ("Posted on", "| 10:15"),
            // or a dateline that starts with it ("02.02.2022 10:16 - Sport - Agency").
            if (text.len() - range.len() <= 25 || range.start <= 20) && !(on(Rule::CommentDates) && in_comments(page, e)) {
                return Some(date);
            }
        }
    }
    let mut text = page.iter_text(body, " ");
    if text.len() > 200_000 {
        let mut end = 200_000;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    find_date(&text).map(|(d, _)| d).filter(|d| plausible(d.date))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_inside_a_sentence_stays_in_its_paragraph() {
        let html = "<p>Set <code>x</code> to 1, then run</p><code>make\ninstall</code><ol><li>Speak after <code>next-line</code> and more</li></ol>";
        assert_eq!(paragraphs_of(html), ["Set x to 1, then run", "make install", "Speak after next-line and more"]);
    }

    #[test]
    fn the_article_tail_is_what_sits_beside_the_last_paragraph_and_is_no_link() {
        let prose = "The council met on Tuesday and agreed the budget for the coming year after a long debate.";
        let page = Document::parse(
            r#"<html><body><div><div class="post"><p>The council <b>met</b> on Tuesday and agreed the budget for the coming year after a long debate.</p>
            <ul><li>Roads: 4 million</li><li>See the <a href="/plan">full plan</a></li><li><a href="/x">Schools reopen</a></li></ul></div>
            <div class="more"><p>Mayor opens bridge</p></div></div></body></html>"#,
        );
        let paragraphs: Vec<String> =
            [prose, "Roads: 4 million", "See the full plan", "Schools reopen", "Mayor opens bridge", "Not in the page"].map(String::from).to_vec();
        let mut kept: Vec<String> = article_tail(&page, &paragraphs, &std::cell::OnceCell::new()).into_iter().collect();
        kept.sort();
        // The link's text and the line holding it as half its length go; so does what lies outside.
        assert_eq!(kept, ["Roads: 4 million"]);
        // A last paragraph the page does not show keeps nothing.
        let unseen = ["A paragraph this page never shows, long enough to be prose in any article at all.".to_owned(), "Roads: 4 million".to_owned()];
        assert!(article_tail(&page, &unseen, &std::cell::OnceCell::new()).is_empty());
    }

    #[test]
    fn every_named_and_numeric_entity_is_decoded() {
        assert_eq!(decode_entities("caf&eacute; &ldquo;x&rdquo; &#8212; &#x2019;s&nbsp;end".to_owned()), "café “x” — ’s end");
        assert_eq!(decode_entities("AT&T &amp;lt; &unknown; & done".to_owned()), "AT&T &lt; &unknown; & done");
    }

    const LEAD: &str = "The regional council agreed on Tuesday to rebuild the old harbour bridge by 2027, after two years of debate.";

    #[test]
    fn prose_left_loose_beside_the_paragraphs_is_put_back_in_place() {
        // The parser closes the first <p> at the <figure>: the lead is bare text in <section>.
        let page = Document::parse(
            r#"<html><body><nav>Home <span>News</span> and more links to follow on this site without any end to them at all.</nav>
            <section><p><figure><img src="a.jpg"><figcaption>The mayor</figcaption></figure>
            The council met on <em>Tuesday</em> and agreed the budget for the coming year after a long debate that ran late into the night.</p>
            <p>The vote was 31 to 12, and the opposition said it would try again next spring.</p>
            <span>A wrapper <br> with a break is no sentence of its own, even when it runs on long enough to count as prose here.</span>
            Short loose words.</section></body></html>"#,
        );
        let mut paragraphs = vec!["The vote was 31 to 12, and the opposition said it would try again next spring.".to_owned()];
        put_back_loose_text(&page, &mut paragraphs, &std::cell::OnceCell::new());
        assert_eq!(
            paragraphs,
            [
                "The council met on Tuesday and agreed the budget for the coming year after a long debate that ran late into the night.",
                "The vote was 31 to 12, and the opposition said it would try again next spring.",
            ]
        );
        // Already extracted (here from its middle on): nothing is added twice.
        let mut again = vec![
            "the budget for the coming year after a long debate that ran late into the night.".to_owned(),
            "The vote was 31 to 12, and the opposition said it would try again next spring.".to_owned(),
        ];
        put_back_loose_text(&page, &mut again, &std::cell::OnceCell::new());
        assert_eq!(again.len(), 2);

        // A blog post's text between <br>s: the missing middle comes back, the blurb that the
        // same element holds after the post does not.
        let post = Document::parse(
            r#"<html><body><div class="post">The first paragraph of the post tells the reader what happened at the race on Sunday afternoon in the rain.<br><br>
            The second paragraph, which the extractor missed, explains why the <b>record</b> fell and what the winner said about it after the race.<br><br>
            The third paragraph closes the post with the times of every runner in the final and a word on the next meeting.<br><br>
            This blog is an attempt to gather fascinating letters and stories from everywhere, updated as often as possible, usually each weekday.</div></body></html>"#,
        );
        let mut paragraphs = vec![
            "The first paragraph of the post tells the reader what happened at the race on Sunday afternoon in the rain.".to_owned(),
            "The third paragraph closes the post with the times of every runner in the final and a word on the next meeting.".to_owned(),
        ];
        put_back_loose_text(&post, &mut paragraphs, &std::cell::OnceCell::new());
        assert_eq!(paragraphs.len(), 3, "{paragraphs:?}");
        assert!(paragraphs[1].starts_with("The second paragraph, which the extractor missed, explains why the record fell"));

        // Pieces of a paragraph that the extractor split at an inline element, losing its end,
        // give way to the whole paragraph.
        let split = Document::parse(
            r#"<html><body><div><p>Now let me start by saying that <b>there is more to running than stride length</b>. If all it took was long strides, the tallest runners would win every race.</p>
            <p>The next paragraph is whole in the extracted text and stays exactly as it was before.</p></div></body></html>"#,
        );
        let mut paragraphs = vec![
            "Now let me start by saying that".to_owned(),
            "there is more to running than stride length".to_owned(),
            "The next paragraph is whole in the extracted text and stays exactly as it was before.".to_owned(),
        ];
        put_back_loose_text(&split, &mut paragraphs, &std::cell::OnceCell::new());
        assert_eq!(
            paragraphs,
            [
                "Now let me start by saying that there is more to running than stride length. If all it took was long strides, the tallest runners would win every race.",
                "The next paragraph is whole in the extracted text and stays exactly as it was before.",
            ]
        );
    }

    fn page_with(head: &str, body: &str) -> Document {
        Document::parse(&format!("<html><head>{head}</head><body><h1>Bridge to be rebuilt</h1>{body}<p>The vote was 31 to 12.</p></body></html>"))
    }

    #[test]
    fn a_dropped_lead_is_taken_back_from_the_element_that_carries_the_description() {
        let meta = format!("<meta property=\"og:description\" content=\"{LEAD}\">");
        let body = vec!["The vote was 31 to 12.".to_string()];
        let page = page_with(&meta, &format!("<div class=\"teaser\"><span>{LEAD} Read on.</span></div>"));
        assert_eq!(missing_lead(&page, &body, &Default::default(), &Default::default()).as_deref(), Some(format!("{LEAD} Read on.").as_str()));
        // Already extracted: nothing to add.
        assert_eq!(missing_lead(&page, &[LEAD.to_string()], &Default::default(), &Default::default()), None);
        // The description alone, with no element in the body, is never used.
        assert_eq!(missing_lead(&page_with(&meta, ""), &body, &Default::default(), &Default::default()), None);
        // Nor is a photo caption that repeats it.
        assert_eq!(
            missing_lead(&page_with(&meta, &format!("<figure><figcaption>{LEAD}</figcaption></figure>")), &body, &Default::default(), &Default::default()),
            None
        );
        // A header block holding a byline, the description and the article's first paragraph
        // gives only the description's part: the byline is not the lead, the paragraph is there.
        let first = "The council will meet again in March to choose the builder from four bids.";
        let header = page_with(&meta, &format!("<div class=\"head\">Jane Doe View Profile Email <p>{LEAD}</p><p>{first}</p></div>"));
        let extracted = vec![first.to_string(), "The vote was 31 to 12.".to_string()];
        assert_eq!(missing_lead(&header, &extracted, &Default::default(), &Default::default()).as_deref(), Some(LEAD));
    }

    #[test]
    fn the_elements_that_may_hold_a_probe_are_all_that_do() {
        // Every element whose collapsed text holds the probe is listed: across inline markup and
        // odd whitespace, at overlapping occurrences, and with a probe that ends in a space.
        let pages = [
            ("Start of the lead text", "<div><p>Start  of\n the <b>lead</b> text</p><p>Start of the</p></div><span>x Start of <i>the lead text</i></span>"),
            ("aaaaaaaa", "<p>aaaaa</p><div>aaaa<b>aaaaa</b></div><section>aaaaaaaaa</section>"),
            ("word next ", "<div><p>word </p><p>next</p></div><div><span>word</span> next one</div>"),
        ];
        for (probe, body) in pages {
            let page = Document::parse(&format!("<html><body>{body}</body></html>"));
            let index = text_index(&page, page.body().unwrap());
            let holders = index.holders(&page, probe).expect("found").expect("listed");
            for e in tagged(&page, page.root(), &["p", "div", "section", "span", "b", "i", "body", "html"]) {
                if collapse(&page.text_content(e)).contains(probe) {
                    assert!(holders.contains(&e), "{probe:?} in {body:?}: <{}> not listed", page.tag_name(e));
                }
            }
        }
        let page = Document::parse("<html><body><p>one two</p></body></html>");
        assert!(text_index(&page, page.body().unwrap()).holders(&page, "three").is_none());
        let page = Document::parse("<html><head><template><p>one two</p></template></head><body><p>one two</p></body></html>");
        assert_eq!(text_index(&page, page.body().unwrap()).holders(&page, "one two"), Some(None), "a template: every element is checked");
    }

    #[test]
    fn a_dropped_lead_is_taken_back_from_its_class() {
        let body = vec!["The vote was 31 to 12.".to_string()];
        let lead = |html: &str| classed_lead(&page_with("", html), &body, &Default::default());
        assert_eq!(lead(&format!("<p class=\"article-excerpt\">{LEAD}</p>")).as_deref(), Some(LEAD));
        assert_eq!(lead(&format!("<div class=\"story_intro\"><p>{LEAD}</p></div>")).as_deref(), Some(LEAD));
        // Not a lead class, inside a list of links, or too short.
        assert_eq!(lead(&format!("<p class=\"related\">{LEAD}</p>")), None);
        assert_eq!(lead(&format!("<ul><li><p class=\"lead\">{LEAD}</p></li></ul>")), None);
        assert_eq!(lead("<p class=\"lead\">Short.</p>"), None);
        // After the article text, it is not the lead.
        let page = Document::parse(&format!("<html><body><p>The vote was 31 to 12.</p><p class=\"lead\">{LEAD}</p></body></html>"));
        assert_eq!(classed_lead(&page, &body, &Default::default()), None);
    }

    #[test]
    fn deep_markup_is_read_flat() {
        let deep = format!("<body>{}<p>Deep &amp; safe</p>{}<script>if (a < b) {{}}</script></body>", "<div>".repeat(5000), "</div>".repeat(5000));
        assert_eq!(markup_to_lines(&deep), ["Deep & safe"]);
    }

    #[test]
    fn paragraphs_follow_blocks() {
        let got = paragraphs_of("<div><h2>Head</h2><p>One <b>bold</b>\n word.<script>x()</script></p><p>Two.</p><ul><li>a</li><li>b</li></ul></div>");
        assert_eq!(got, ["Head", "One bold word.", "Two.", "a", "b"]);
        let deep = format!("<p>{}deep{}</p>", "<span>".repeat(100_000), "</span>".repeat(100_000));
        assert_eq!(paragraphs_of(&deep), ["deep"]);
    }

    #[test]
    fn page_metadata() {
        let page = r#"<html lang="en-GB"><head><title>Bridge reopens | Example Gazette</title>
            <link rel="canonical" href="https://news.example.org/2020/01/02/bridge">
            <script type="application/ld+json">{"@context":"https://schema.org","@type":"NewsArticle","headline":"Bridge reopens","datePublished":"2020-01-03T08:30:00+01:00","author":[{"@type":"Person","name":"Kim Park"}]}</script>
            </head><body><nav><a href="/">Home</a> <a href="/news">News</a></nav>
            <article><h1>Bridge reopens</h1><p>The old bridge over the river reopened on Friday after two years of repairs, the city said.</p>
            <p>Traffic is expected to be heavy during the first week, and the council asked drivers to use the bypass where they can.</p>
            <p>The repairs cost more than planned because of damage found under the deck, according to the council's report.</p></article>
            <footer>Copyright Example Gazette</footer></body></html>"#;
        let out = extract_html(page, None);
        assert!(out.paragraphs.iter().any(|p| p.starts_with("The old bridge")), "{:?}", out.paragraphs);
        assert!(!out.paragraphs.iter().any(|p| p.contains("Copyright")), "{:?}", out.paragraphs);
        assert_eq!(out.published.unwrap().to_iso(), "2020-01-03T08:30:00+01:00");
        assert_eq!(out.canonical_url.as_deref(), Some("https://news.example.org/2020/01/02/bridge"));
        assert_eq!(out.authors, ["Kim Park"]);
        assert_eq!(out.language.as_deref(), Some("en"));
    }

    fn date_of(head: &str, body: &str) -> Option<String> {
        let page = Document::parse(&format!("<html><head>{head}</head><body>{body}</body></html>"));
        publication_date(&page, &json_ld(&page), None).map(|d| d.to_iso())
    }

    #[test]
    fn a_utc_time_moves_to_the_outlets_day_only_on_evidence_in_the_page() {
        let head = r#"<meta property="article:published_time" content="2023-11-09T06:35:29+00:00">"#;
        // No evidence of the outlet's clock: the value stays as stated.
        assert_eq!(date_of(head, "<p>Text.</p>").as_deref(), Some("2023-11-09T06:35:29Z"));
        // The same instant with the outlet's offset.
        let local = r#"<p>Posted: <time datetime="2023-11-08T22:35:29-08:00">Nov 8, 2023 / 10:35 PM PST</time></p>"#;
        assert_eq!(date_of(head, local).as_deref(), Some("2023-11-08T22:35:29-08:00"));
        // The instant shown as a wall time to the minute in the byline.
        let byline = r#"<div class="byline">Published Nov. 8, 2023, 10:35 p.m. PT</div>"#;
        assert_eq!(date_of(head, byline).as_deref(), Some("2023-11-08T22:35:00-08:00"));
        // A byline time that is not the instant (other minutes) is not evidence.
        let other = r#"<div class="byline">Published Nov. 8, 2023, 10:12 p.m.</div>"#;
        assert_eq!(date_of(head, other).as_deref(), Some("2023-11-09T06:35:29Z"));
        // A <time> for the instant whose visible day is the next one (Europe after midnight).
        let head = r#"<meta property="article:published_time" content="2023-11-01T23:01:00Z">"#;
        let shown = r#"<time datetime="2023-11-01T23:01:00Z">02 Novembre 2023</time>"#;
        assert_eq!(date_of(head, shown).as_deref(), Some("2023-11-02"));
        // The URL's day, one day before a UTC time early in the day (the Americas' evening).
        let page = Document::parse(r#"<html><head><meta property="article:published_time" content="2020-02-18T02:18:11Z"></head><body></body></html>"#);
        let dated = |url| publication_date(&page, &[], Some(url)).map(|d| d.to_iso());
        assert_eq!(dated("https://example.com/2020/02/17/story/").as_deref(), Some("2020-02-17"));
        // Two days off, or a day no 14-hour offset reaches, is not the same instant.
        assert_eq!(dated("https://example.com/2020/02/16/story/").as_deref(), Some("2020-02-18T02:18:11Z"));
        assert_eq!(dated("https://example.com/2020/02/19/story/").as_deref(), Some("2020-02-18T02:18:11Z"));
        // A value with its own offset is the outlet's clock already.
        let head = r#"<meta property="article:published_time" content="2020-06-29T00:16:15+03:00">"#;
        assert_eq!(date_of(head, local).as_deref(), Some("2020-06-29T00:16:15+03:00"));
    }

    #[test]
    fn the_day_the_byline_shows_wins_where_the_page_states_it_for_machines_too() {
        let ld = r#"<script type="application/ld+json">{"@type":"NewsArticle","datePublished":"2023-11-03T10:25:56+00:00"}</script>"#;
        let meta = r#"<meta property="article:published_time" content="2023-11-06T14:25:00+00:00">"#;
        let byline = r#"<span class="entry-date">6. November 2023, 15:25 Uhr</span>"#;
        assert_eq!(date_of(&format!("{ld}{meta}"), byline).as_deref(), Some("2023-11-06T14:25:00Z"));
        // A byline day no machine value of the page states (a teaser's, a header's "today") is not enough.
        assert_eq!(date_of(ld, byline).as_deref(), Some("2023-11-03T10:25:56Z"));
        // Nor is a teaser's own <time datetime>.
        let teaser = r#"<time datetime="2023-11-06T15:25:00+01:00">6. November 2023</time>"#;
        assert_eq!(date_of(ld, teaser).as_deref(), Some("2023-11-03T10:25:56Z"));
    }

    #[test]
    fn comment_and_teaser_times_are_not_the_articles() {
        let article = r#"<article><time datetime="2019-06-28T13:49:45Z">28 juin 2019</time><p>Text.</p></article>"#;
        let teasers: String = (1..=4).map(|d| format!(r#"<li><time pubdate datetime="2019-09-2{d}T07:30:29Z"></time></li>"#)).collect();
        assert_eq!(date_of("", &format!("{article}<ul>{teasers}</ul>")).as_deref(), Some("2019-06-28T13:49:45Z"));
        // One or two marked times single the article's out.
        let marked = r#"<time datetime="2019-01-01">1 janvier 2019</time><time pubdate datetime="2019-06-28">28 juin 2019</time>"#;
        assert_eq!(date_of("", marked).as_deref(), Some("2019-06-28"));
        // Times in the comments are the comments'.
        let comments = r#"<div id="comments"><div class="comment-metadata"><time datetime="2019-08-24T03:36:11+02:00">24. August 2019</time></div></div>"#;
        assert_eq!(date_of("", &format!("<p>16. August 2019</p>{comments}")).as_deref(), Some("2019-08-16"));
    }

    #[test]
    fn broken_json_ld_still_gives_its_date() {
        let runs_on = r#"<script type="application/ld+json">{"@type":"NewsArticle","datePublished":"2020-10-26T18:10:00+01:00"} }</script>"#;
        assert_eq!(date_of(runs_on, "").as_deref(), Some("2020-10-26T18:10:00+01:00"));
        let broken = r#"<script type="application/ld+json">{"@type":"NewsArticle", "headline": "A "quoted" word", "datePublished": "2020-10-26"}</script>"#;
        assert_eq!(date_of(broken, "").as_deref(), Some("2020-10-26"));
    }

    #[test]
    fn page_queries_read_tags_and_attributes_as_the_selectors_did() {
        // `rel` compares case-insensitively; an empty value is passed over; og:url is the fallback.
        let page =
            Document::parse(r#"<html lang="de-AT"><head><link rel="Canonical" href=" "><link rel="CANONICAL" href="https://a.example/x"></head></html>"#);
        assert_eq!(canonical_url(&page).as_deref(), Some("https://a.example/x"));
        let page = Document::parse(
            r#"<html><head><meta property="OG:URL" content="https://a.example/no"><meta property="og:url" content="https://a.example/y"></head></html>"#,
        );
        assert_eq!(canonical_url(&page).as_deref(), Some("https://a.example/y"));
        // Stated values: meta with content, and itemprop or property elements of the body.
        let page = Document::parse(
            r#"<html><head><meta name="Date" content="1"><meta name="x"></head><body><span itemprop="datePublished" datetime="2"></span><span property="p" content="3"></span><span content="4"></span></body></html>"#,
        );
        let values: Vec<String> = meta_values(&page).into_iter().map(|(name, value)| format!("{name}={value}")).collect();
        assert_eq!(values, ["date=1", "datepublished=2", "p=3"]);
        // Marked elements: class and id substrings, case as written.
        let page = Document::parse(r#"<div class="post-Date">a</div><div class="DATE">b</div><p id="dateline">c</p><p id="x-Publish">d</p>"#);
        assert_eq!(marked_texts(&page).collect::<Vec<_>>(), ["a", "c"]);
    }
}
