//! Copies and provenance: which articles are exact, near-duplicate or partial copies of which,
//! with the aligned passages and the likely original.
//!
//! Candidates come from passage anchors: hashes of word 5-grams, of which a fixed fraction (those
//! whose hash is 0 modulo [`DedupConfig::anchor_modulus`]) is kept per article, so a shared
//! passage of a few sentences shares anchors with near certainty while the index stays small and
//! candidate search is sub-quadratic. Each candidate pair is then verified by aligning all its
//! 5-grams, which gives the shared spans with character offsets in both articles.
//!
//! Rewrites (the same article reworded sentence by sentence) are found by sentence alignment in
//! [`rewrite`]; [`text`] holds the sentence and word helpers both share with the story page.
//!
//! Architecture invariant: pure functions over article texts; no IO, no store.

pub mod furniture;
pub mod rewrite;
pub mod text;

use std::collections::{HashMap as StdHashMap, HashSet as StdHashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A fast multiply-xor hasher for in-memory maps of integers (keys here are already hashes or
/// small ids, so SipHash's protection buys nothing and costs a third of the candidate search).
#[derive(Default)]
struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

type HashMap<K, V> = StdHashMap<K, V, BuildHasherDefault<FastHasher>>;
type HashSet<K> = StdHashSet<K, BuildHasherDefault<FastHasher>>;

use storyline_model::{ArticleId, CopyKind, CopyRelation, Published, SharedSpan, Side};
use xxhash_rust::xxh3::xxh3_64;

/// Tuning of copy detection (defaults chosen on our own synthetic edits, see the eval).
#[derive(Debug, Clone)]
pub struct DedupConfig {
    /// Words per shingle.
    pub shingle_words: usize,
    /// One shingle in this many (by hash) is an anchor.
    pub anchor_modulus: u64,
    /// Anchors two articles must share to be compared.
    pub min_shared_anchors: usize,
    /// Anchors found in more articles than this are ignored (boilerplate, not evidence).
    pub max_anchor_postings: usize,
    /// Within one anchor's holders, only the first this many are paired with all the others.
    pub max_pairing_holders: usize,
    /// Share of the shorter article that must be covered by shared passages for a near-duplicate.
    pub near_duplicate_coverage: f32,
    /// The shorter article must be at least this share of the longer one for a near-duplicate
    /// (below, a fully contained article is a partial copy).
    pub near_duplicate_length_ratio: f32,
    /// Shared words needed for a partial copy, counted in passages of at least
    /// `min_passage_words` (common phrases and names are not passages).
    pub partial_min_words: usize,
    pub min_passage_words: usize,
    /// Longest line (in words) that counts as an item of a list (a menu, a link or headline
    /// list) when it lacks sentence punctuation and stands in a run of `list_min_lines` such
    /// lines; list words are no evidence of copying (see [`furniture`]).
    pub list_line_words: usize,
    pub list_min_lines: usize,
    /// Whether cookie, consent, legal and comment-form lines are furniture (see [`furniture`]).
    pub notice_lines: bool,
    /// A text where more than this share of line breaks run on into a line that starts in
    /// lower case is hard-wrapped prose, and has no list lines.
    pub hard_wrap_share: f32,
    /// A passage is a site's template, not evidence of copying, when its anchors are held by at
    /// least this many documents ...
    pub template_documents: usize,
    /// ... of at most this many outlets per holding document (a site's menus and notices sit
    /// in many pages of few outlets; a wire story copied by many outlets is held once by each).
    pub template_outlets_per_document: f32,
    /// Whether two documents of one outlet can be partial copies. Off by default: what two
    /// pages of one site share, short of being the same article, is the site's own (its
    /// sidebars, author notes, background paragraphs it reuses), not one outlet copying
    /// another, and a site with few pages in the corpus gives no document frequency to tell
    /// template from text. Exact and near-duplicate copies within an outlet are kept.
    pub partial_within_outlet: bool,
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig {
            shingle_words: 5,
            anchor_modulus: 4,
            min_shared_anchors: 4,
            max_anchor_postings: 1000,
            max_pairing_holders: 32,
            near_duplicate_coverage: 0.8,
            near_duplicate_length_ratio: 0.5,
            partial_min_words: 30,
            min_passage_words: 12,
            list_line_words: 12,
            list_min_lines: 4,
            notice_lines: true,
            hard_wrap_share: 0.3,
            template_documents: 3,
            template_outlets_per_document: 0.5,
            partial_within_outlet: false,
        }
    }
}

/// What copy detection needs to know of an article.
#[derive(Debug, Clone, Copy)]
pub struct CopyInput<'a> {
    pub id: &'a ArticleId,
    pub text: &'a str,
    pub published: Option<Published>,
    pub outlet: Option<&'a str>,
    pub credited_source: Option<&'a str>,
    /// How many scraper markers (`[ad_1]`, "Source link") cleaning removed from it.
    pub scraper_markers: usize,
}

/// A word of an article: its hash and its character range.
#[derive(Debug, Clone, Copy)]
struct Word {
    hash: u64,
    start: usize,
    end: usize,
    /// Inside quotation marks: independent reports share quotes, so quoted words are no
    /// evidence of copying.
    quoted: bool,
    /// In a line of page furniture (a menu, a link list, a cookie notice): pages of one site,
    /// and of sites on one platform, share those without copying each other.
    furniture: bool,
}

impl Word {
    /// Whether the word counts as evidence of copying.
    fn evidence(&self) -> bool {
        !self.quoted && !self.furniture
    }
}

/// Words (the shared splitter, lower-cased) with character offsets. Case, punctuation, quote
/// styles and whitespace do not matter.
fn words(text: &str, config: &DedupConfig) -> Vec<Word> {
    let furniture = furniture::furniture_lines(text, config);
    let mut line = 0usize;
    let mut out = Vec::new();
    let (mut byte, mut chars) = (0usize, 0usize);
    let mut quoted = false;
    let mut lower = String::new();
    for w in storyline_model::text::words(text) {
        // What lies between two words decides whether the next one is inside quotation marks.
        for c in text[byte..w.start].chars() {
            chars += 1;
            match c {
                '\u{201c}' | '\u{ab}' | '\u{201e}' => quoted = true,
                '\u{201d}' | '\u{bb}' => quoted = false,
                '"' => quoted = !quoted,
                '\n' => {
                    quoted = false;
                    line += 1;
                }
                _ => {}
            }
        }
        let start = chars;
        chars += w.text.chars().count();
        byte = w.end;
        lower.clear();
        if w.text.is_ascii() {
            lower.extend(w.text.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            lower.push_str(&w.text.to_lowercase());
        }
        out.push(Word { hash: xxh3_64(lower.as_bytes()), start, end: chars, quoted, furniture: furniture.get(line).copied().unwrap_or(false) });
    }
    out
}

/// Hash of each run of `k` words, by starting position.
fn shingles(words: &[Word], k: usize) -> Vec<u64> {
    if words.len() < k {
        return Vec::new();
    }
    words.windows(k).map(|w| shingle_hash(w.iter().map(|word| word.hash))).collect()
}

/// Hash of a run of word hashes: a multiply-xor fold finished with a 64-bit mixer, so the
/// anchor sampling (hash modulo a constant) sees well-spread values. No allocation.
fn shingle_hash(hashes: impl Iterator<Item = u64>) -> u64 {
    let mut h: u64 = 0x243f_6a88_85a3_08d3;
    for w in hashes.take(MAX_SHINGLE_WORDS) {
        h = (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
    }
    // splitmix64 finaliser
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Longest shingle supported.
const MAX_SHINGLE_WORDS: usize = 16;

/// Pass-1 summary of a text: its exact-text hash and its anchors (sorted, unique), computed in
/// one streaming pass without keeping the words.
fn summarise(text: &str, config: &DedupConfig) -> (u64, Vec<u64>, bool) {
    let k = config.shingle_words.clamp(1, MAX_SHINGLE_WORDS);
    let mut exact = xxhash_rust::xxh3::Xxh3::new();
    let mut ring = [0u64; MAX_SHINGLE_WORDS];
    let mut count = 0usize;
    let mut anchors = Vec::new();
    let mut word = String::new();
    let mut push = |h: u64, count: &mut usize, anchors: &mut Vec<u64>| {
        exact.update(&h.to_le_bytes());
        ring[*count % k] = h;
        *count += 1;
        if *count >= k {
            let start = *count - k;
            let s = shingle_hash((start..*count).map(|i| ring[i % k]));
            if s % config.anchor_modulus == 0 {
                anchors.push(s);
            }
        }
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c.to_ascii_lowercase());
        } else if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if !word.is_empty() {
            push(xxh3_64(word.as_bytes()), &mut count, &mut anchors);
            word.clear();
        }
    }
    if !word.is_empty() {
        push(xxh3_64(word.as_bytes()), &mut count, &mut anchors);
    }
    anchors.sort_unstable();
    anchors.dedup();
    (exact.digest(), anchors, count > 0)
}

struct Prepared {
    words: Vec<Word>,
    shingles: Vec<u64>,
    exact: u64,
    /// Words outside furniture lines: what coverage is measured against.
    content: usize,
}

fn prepare(text: &str, config: &DedupConfig) -> Prepared {
    let words = words(text, config);
    let content = words.iter().filter(|w| !w.furniture).count();
    let shingles = shingles(&words, config.shingle_words);
    let mut exact = xxhash_rust::xxh3::Xxh3::new();
    for w in &words {
        exact.update(&w.hash.to_le_bytes());
    }
    Prepared { exact: exact.digest(), words, shingles, content }
}

/// Whether an anchor held by `documents` documents of `outlets` distinct outlets (a document
/// without an outlet counts as its own) is a site's template (see
/// [`DedupConfig::template_documents`]).
pub fn is_template(documents: usize, outlets: usize, config: &DedupConfig) -> bool {
    documents >= config.template_documents && outlets as f32 <= config.template_outlets_per_document * documents as f32
}

/// Anchors that are a site's template in some corpus (see [`is_template`]).
#[derive(Debug, Clone, Default)]
pub struct Template(HashSet<u64>);

impl Template {
    pub fn contains(&self, anchor: u64) -> bool {
        self.0.contains(&anchor)
    }
    pub fn insert(&mut self, anchor: u64) {
        self.0.insert(anchor);
    }
}

/// The anchors that are a site's template among `docs` (see [`is_template`]).
pub fn template_anchors(docs: &[CopyInput<'_>], config: &DedupConfig) -> Template {
    let mut postings: Vec<(u64, u32)> = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        postings.extend(summarise(doc.text, config).1.into_iter().map(|a| (a, i as u32)));
    }
    postings.sort_unstable();
    template_of_postings(&postings, docs, config)
}

/// The template anchors of sorted `(anchor, document)` postings.
fn template_of_postings(postings: &[(u64, u32)], docs: &[CopyInput<'_>], config: &DedupConfig) -> Template {
    let mut out = Template::default();
    let mut outlets: StdHashSet<&str> = StdHashSet::new();
    for group in postings.chunk_by(|x, y| x.0 == y.0) {
        if group.len() < config.template_documents {
            continue;
        }
        outlets.clear();
        let mut unnamed = 0;
        for &(_, d) in group {
            match docs[d as usize].outlet {
                Some(o) => {
                    outlets.insert(o);
                }
                None => unnamed += 1,
            }
        }
        if is_template(group.len(), outlets.len() + unnamed, config) {
            out.insert(group[0].0);
        }
    }
    out
}

/// The passage anchors of a text (sorted, unique): what an index stores to find candidates.
pub fn anchors(text: &str, config: &DedupConfig) -> Vec<u64> {
    summarise(text, config).1
}

/// Compares two articles found as candidates (for example through a stored anchor index).
/// The relation is oriented with the smaller id as `a`, so it does not depend on which
/// article arrived first. `template` holds the anchors that are a site's template in the
/// corpus the two come from (see [`is_template`]).
pub fn compare_pair(x: &CopyInput<'_>, y: &CopyInput<'_>, template: &Template, config: &DedupConfig) -> Option<CopyRelation> {
    let (a, b) = if x.id <= y.id { (x, y) } else { (y, x) };
    compare(a, &prepare(a.text, config), b, &prepare(b.text, config), template, config)
}

/// Finds every copy relation among `docs`. Pairs are reported once, `a` before `b` in input
/// order.
pub fn find_copies(docs: &[CopyInput<'_>], config: &DedupConfig) -> Vec<CopyRelation> {
    // Pass 1: anchors and the exact-text hash of each article; nothing else is kept, so memory
    // is the anchor index (about one anchor per eight words) plus the caller's texts.
    let mut postings: Vec<(u64, u32)> = Vec::new();
    let mut by_exact: HashMap<u64, Vec<u32>> = HashMap::default();
    for (i, doc) in docs.iter().enumerate() {
        let (exact, anchors, has_words) = summarise(doc.text, config);
        if has_words {
            by_exact.entry(exact).or_default().push(i as u32);
        }
        postings.extend(anchors.into_iter().map(|a| (a, i as u32)));
    }
    // Pass 2: candidate pairs, counted by shared anchors (postings grouped by sorting: one flat
    // vector, 12 bytes per anchor).
    postings.sort_unstable();
    let template = template_of_postings(&postings, docs, config);
    let mut shared: HashMap<(u32, u32), u32> = HashMap::default();
    for group in postings.chunk_by(|x, y| x.0 == y.0) {
        if group.len() < 2 || group.len() > config.max_anchor_postings {
            continue;
        }
        // A passage in very many articles (a widely syndicated story) pairs every article with
        // the first few holders only, not with each other: O(n) pairs instead of O(n^2); the
        // copy groups still join them all through those first holders.
        for (x, &(_, a)) in group.iter().enumerate().take(config.max_pairing_holders) {
            for &(_, b) in &group[x + 1..] {
                *shared.entry((a.min(b), a.max(b))).or_default() += 1;
            }
        }
    }
    drop(postings);
    // Exact copies share every anchor; short texts may have too few anchors, so exact matches
    // are also paired directly.
    for group in by_exact.values().filter(|g| g.len() > 1) {
        for (x, &a) in group.iter().enumerate() {
            for &b in &group[x + 1..] {
                shared.entry((a, b)).or_insert(config.min_shared_anchors as u32);
            }
        }
    }
    let mut pairs: Vec<(u32, u32)> = shared.into_iter().filter(|(_, n)| *n as usize >= config.min_shared_anchors).map(|(p, _)| p).collect();
    pairs.sort_unstable();
    // Pass 3: verification, preparing each `a` once for all its candidates.
    let mut out = Vec::new();
    let mut current: Option<(u32, Prepared)> = None;
    for (a, b) in pairs {
        if current.as_ref().is_none_or(|(i, _)| *i != a) {
            current = Some((a, prepare(docs[a as usize].text, config)));
        }
        let Some((_, pa)) = &current else { continue };
        let pb = prepare(docs[b as usize].text, config);
        out.extend(compare(&docs[a as usize], pa, &docs[b as usize], &pb, &template, config));
    }
    out
}

/// Verifies one candidate pair.
fn compare(a: &CopyInput<'_>, pa: &Prepared, b: &CopyInput<'_>, pb: &Prepared, template: &Template, config: &DedupConfig) -> Option<CopyRelation> {
    if pa.exact == pb.exact && !pa.words.is_empty() {
        let shared = vec![SharedSpan {
            a_start: pa.words[0].start,
            a_end: pa.words[pa.words.len() - 1].end,
            b_start: pb.words[0].start,
            b_end: pb.words[pb.words.len() - 1].end,
        }];
        let (original, evidence) = provenance(a, b, 1.0, 1.0, None);
        return Some(CopyRelation { a: a.id.clone(), b: b.id.clone(), relation: CopyKind::Exact, similarity: 1.0, shared, original, evidence });
    }
    let k = config.shingle_words;
    let spans = align(pa, pb, k, template, config.anchor_modulus);
    if spans.is_empty() {
        return None;
    }
    let covered_a: usize = spans.iter().map(|s| s.a_words).sum();
    let covered_b: usize = spans.iter().map(|s| s.b_words).sum();
    let cov_a = covered_a as f32 / pa.words.len().max(1) as f32;
    let cov_b = covered_b as f32 / pb.words.len().max(1) as f32;
    // Whether one text is (nearly) all of the other is a question about their articles: words
    // in furniture lines are left out of both the covered and the whole, so two pages of one
    // site do not become near-duplicates through their shared menus and notices. A text that
    // is all furniture is measured on all its words.
    // A site's template shared by the two is left out of both too.
    let shared_template = |side: fn(&Run) -> usize| spans.iter().filter(|s| s.template).map(side).sum::<usize>();
    let covered_content = |side: fn(&Run) -> usize| spans.iter().filter(|s| !s.template).map(side).sum::<usize>();
    let (content_a, covered_content_a) = match pa.content.saturating_sub(shared_template(|s| s.content_a)) {
        0 => (pa.words.len().max(1), covered_a),
        n => (n, covered_content(|s| s.content_a)),
    };
    let (content_b, covered_content_b) = match pb.content.saturating_sub(shared_template(|s| s.content_b)) {
        0 => (pb.words.len().max(1), covered_b),
        n => (n, covered_content(|s| s.content_b)),
    };
    let content_cov_a = covered_content_a as f32 / content_a as f32;
    let content_cov_b = covered_content_b as f32 / content_b as f32;
    let short_cov = if content_a <= content_b { content_cov_a } else { content_cov_b };
    let length_ratio = content_a.min(content_b) as f32 / content_a.max(content_b) as f32;
    let passages: Vec<Run> = spans.iter().copied().filter(|s| s.a_words >= config.min_passage_words).collect();
    let (relation, spans) = if short_cov >= config.near_duplicate_coverage && length_ratio >= config.near_duplicate_length_ratio {
        (CopyKind::NearDuplicate, spans)
    } else if passages.iter().filter(|s| !s.template).map(|s| s.evidence).sum::<usize>() >= config.partial_min_words
        && (config.partial_within_outlet || !same_outlet(a, b))
    {
        (CopyKind::Partial, passages)
    } else {
        return None;
    };
    let shared = spans
        .iter()
        .map(|s| SharedSpan {
            a_start: pa.words[s.a_first].start,
            a_end: pa.words[s.a_last].end,
            b_start: pb.words[s.b_first].start,
            b_end: pb.words[s.b_last].end,
        })
        .collect();
    let excerpt = excerpt(&spans, pa.words.len(), pb.words.len(), cov_a, cov_b);
    let (original, evidence) = provenance(a, b, cov_a, cov_b, excerpt);
    Some(CopyRelation { a: a.id.clone(), b: b.id.clone(), relation, similarity: short_cov, shared, original, evidence })
}

/// A run of aligned words: positions in both articles.
#[derive(Debug, Clone, Copy)]
struct Run {
    a_first: usize,
    a_last: usize,
    b_first: usize,
    b_last: usize,
    a_words: usize,
    b_words: usize,
    /// Words of the run outside furniture lines, on each side.
    content_a: usize,
    content_b: usize,
    /// Words of the run that are evidence of copying, outside quotation marks and furniture (in
    /// the article with fewer of them).
    evidence: usize,
    /// Most of its anchors are a site's template.
    template: bool,
}

/// A shingle found more often than this in one article is not used for alignment.
const MAX_REPEATS: usize = 16;

/// Aligns the shingles of two articles into maximal runs of consecutive shared shingles, greedily
/// from the longest, so that each word is used once on each side.
fn align(pa: &Prepared, pb: &Prepared, k: usize, template: &Template, modulus: u64) -> Vec<Run> {
    let mut positions: HashMap<u64, Vec<usize>> = HashMap::default();
    for (j, h) in pb.shingles.iter().enumerate() {
        positions.entry(*h).or_default().push(j);
    }
    // Diagonal runs: (i, j) shared, extended while (i+1, j+1) are shared too.
    let mut runs: Vec<(usize, usize, usize)> = Vec::new(); // (i, j, length in shingles)
    let mut i = 0;
    let mut extends: HashSet<(usize, usize)> = HashSet::default();
    while i < pa.shingles.len() {
        // A 5-gram repeated dozens of times is a formula, not a passage: skip it (and keep the
        // alignment linear).
        if let Some(js) = positions.get(&pa.shingles[i]).filter(|js| js.len() <= MAX_REPEATS) {
            for &j in js {
                if extends.contains(&(i, j)) {
                    continue;
                }
                let mut len = 1;
                while i + len < pa.shingles.len() && j + len < pb.shingles.len() && pa.shingles[i + len] == pb.shingles[j + len] {
                    extends.insert((i + len, j + len));
                    len += 1;
                }
                runs.push((i, j, len));
            }
        }
        i += 1;
    }
    runs.sort_by(|x, y| y.2.cmp(&x.2).then(x.0.cmp(&y.0)));
    let mut used_a = vec![false; pa.words.len()];
    let mut used_b = vec![false; pb.words.len()];
    let mut out = Vec::new();
    for (i, j, len) in runs {
        // A run that overlaps a longer one already taken at one end keeps its free stretch at the
        // other (a sentence that runs on into a word of a longer shared run must not sink the
        // whole run). Only the ends are walked, so runs inside taken text cost one lookup.
        let total = len + k - 1;
        let free = |x: usize| !used_a[i + x] && !used_b[j + x];
        let head = (0..total).take_while(|&x| free(x)).count();
        let (offset, words) = if head == total {
            (0, total)
        } else {
            let tail = (0..total).rev().take_while(|&x| free(x)).count();
            if head >= tail {
                (0, head)
            } else {
                (total - tail, tail)
            }
        };
        if words < k {
            continue;
        }
        let (i, j) = (i + offset, j + offset);
        (i..i + words).for_each(|x| used_a[x] = true);
        (j..j + words).for_each(|y| used_b[y] = true);
        let (run_a, run_b) = (&pa.words[i..i + words], &pb.words[j..j + words]);
        let anchors = pa.shingles[i..=i + words - k].iter().filter(|h| *h % modulus == 0);
        let (held, templated) = anchors.fold((0, 0), |(n, t), h| (n + 1, t + usize::from(template.contains(*h))));
        let evidence_a = run_a.iter().filter(|w| w.evidence()).count();
        let evidence_b = run_b.iter().filter(|w| w.evidence()).count();
        out.push(Run {
            a_first: i,
            a_last: i + words - 1,
            b_first: j,
            b_last: j + words - 1,
            a_words: words,
            b_words: words,
            content_a: run_a.iter().filter(|w| !w.furniture).count(),
            content_b: run_b.iter().filter(|w| !w.furniture).count(),
            evidence: evidence_a.min(evidence_b),
            template: templated * 2 > held,
        });
    }
    out.sort_by_key(|r| r.a_first);
    out
}

/// Which side, if either, is the other's opening cut short (a feed excerpt, a scrape that
/// stopped early): all of it aligned, in order, with the start of the other, whose last tenth
/// or more is its own. Text added around a copy is the opposite shape (the copy's words sit
/// inside the longer text, not at its start), so this is evidence of direction; containment
/// alone is not.
fn excerpt(spans: &[Run], words_a: usize, words_b: usize, cov_a: f32, cov_b: f32) -> Option<Side> {
    let in_order = spans.windows(2).all(|w| w[0].a_first < w[1].a_first && w[0].b_first < w[1].b_first);
    let (first, last) = (spans.first()?, spans.last()?);
    let opening = |start: usize, end: usize, words: usize| start * 20 <= words && (end + 1) * 10 <= words * 9;
    if !in_order {
        None
    } else if cov_b >= 0.95 && opening(first.a_first, last.a_last, words_a) {
        Some(Side::B)
    } else if cov_a >= 0.95 && opening(first.b_first, last.b_last, words_b) {
        Some(Side::A)
    } else {
        None
    }
}

/// Which side is the likely original, and why. Each piece of evidence votes; conflicting or no
/// votes leave the question open, and the evidence says so.
fn provenance(a: &CopyInput<'_>, b: &CopyInput<'_>, cov_a: f32, cov_b: f32, excerpt: Option<Side>) -> (Option<Side>, Vec<String>) {
    let mut evidence = Vec::new();
    let mut votes_a = 0;
    let mut votes_b = 0;
    if let (Some(pa), Some(pb)) = (a.published, b.published) {
        let (da, db) = (pa.date, pb.date);
        if da < db {
            evidence.push(format!("a published first ({da} before {db})"));
            votes_a += 1;
        } else if db < da {
            evidence.push(format!("b published first ({db} before {da})"));
            votes_b += 1;
        } else if pa.time.is_some() && pb.time.is_some() && pa.timestamp() != pb.timestamp() {
            let a_first = pa.timestamp() < pb.timestamp();
            let (first, then) = if a_first { (pa, pb) } else { (pb, pa) };
            evidence.push(format!("{} published first ({first} before {then})", if a_first { "a" } else { "b" }));
            if a_first {
                votes_a += 1;
            } else {
                votes_b += 1;
            }
        }
    }
    let credits = |copy: &CopyInput<'_>, original: &CopyInput<'_>| match (copy.credited_source, original.outlet) {
        (Some(src), Some(outlet)) => same_name(src, outlet),
        _ => false,
    };
    if credits(b, a) {
        evidence.push(format!("b credits a's outlet ({})", b.credited_source.unwrap_or_default()));
        votes_a += 1;
    }
    if credits(a, b) {
        evidence.push(format!("a credits b's outlet ({})", a.credited_source.unwrap_or_default()));
        votes_b += 1;
    }
    if b.scraper_markers > 0 && a.scraper_markers == 0 {
        evidence.push(format!("b carries scraper signatures ({} markers)", b.scraper_markers));
        votes_a += 1;
    } else if a.scraper_markers > 0 && b.scraper_markers == 0 {
        evidence.push(format!("a carries scraper signatures ({} markers)", a.scraper_markers));
        votes_b += 1;
    }
    match excerpt {
        Some(Side::B) => {
            evidence.push("b is the opening of a's text, cut short".to_owned());
            votes_a += 1;
        }
        Some(Side::A) => {
            evidence.push("a is the opening of b's text, cut short".to_owned());
            votes_b += 1;
        }
        None if cov_a >= 0.95 && cov_b < 0.9 => evidence.push("b contains all of a's text plus more".to_owned()),
        None if cov_b >= 0.95 && cov_a < 0.9 => evidence.push("a contains all of b's text plus more".to_owned()),
        None => {}
    }
    let original = match (votes_a, votes_b) {
        (x, 0) if x > 0 => Some(Side::A),
        (0, y) if y > 0 => Some(Side::B),
        (0, 0) => {
            evidence.push("undecided: no dates, credits, scraper signatures or cut-short text tell which came first".to_owned());
            None
        }
        _ => {
            evidence.push("undecided: the evidence conflicts".to_owned());
            None
        }
    };
    (original, evidence)
}

/// Whether both documents name one outlet (case aside).
fn same_outlet(a: &CopyInput<'_>, b: &CopyInput<'_>) -> bool {
    matches!((a.outlet, b.outlet), (Some(x), Some(y)) if x.trim().eq_ignore_ascii_case(y.trim()))
}

fn same_name(x: &str, y: &str) -> bool {
    let norm = |s: &str| s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect::<String>();
    let (x, y) = (norm(x), norm(y));
    !x.is_empty() && (x == y || x.contains(&y) || y.contains(&x))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WIRE: &str = "The central bank raised its main interest rate by half a percentage point on Tuesday, its third increase this year, as officials tried to slow inflation that has reached the highest level in four decades. The governor said further increases were likely if prices kept rising at the current pace, and warned that the economy could slow sharply next year. Markets had expected the move, and the currency barely changed after the announcement.";
    const OTHER: &str = "The city council approved a new budget on Monday after a debate that lasted most of the day. The plan adds money for road repairs and libraries, and cuts spending on consultants, the mayor said. Opposition members voted against it, saying the tax increase it needs would hurt families already struggling with higher prices.";

    fn input<'a>(id: &'a ArticleId, text: &'a str) -> CopyInput<'a> {
        CopyInput { id, text, published: None, outlet: None, credited_source: None, scraper_markers: 0 }
    }

    fn ids(n: usize) -> Vec<ArticleId> {
        (0..n).map(|i| ArticleId(format!("{i:016x}"))).collect()
    }

    #[test]
    fn exact_near_partial_and_unrelated() {
        let ids = ids(5);
        let restyled = WIRE.to_uppercase().replace(',', " ,").replace("  ", " ");
        let truncated = WIRE[..WIRE.len() * 2 / 3].to_owned();
        let local = format!("{OTHER} In other news, {WIRE} The council meets again next week to discuss the school budget and the new bus routes. Parents have asked for more teachers and smaller classes, and the transport office wants two new lines to serve the hospital and the university, which opened a campus on the east side last spring.");
        let docs = [input(&ids[0], WIRE), input(&ids[1], &restyled), input(&ids[2], &truncated), input(&ids[3], &local), input(&ids[4], OTHER)];
        let rels = find_copies(&docs, &DedupConfig::default());
        let kind = |a: usize, b: usize| rels.iter().find(|r| r.a == ids[a] && r.b == ids[b]).map(|r| r.relation);
        assert_eq!(kind(0, 1), Some(CopyKind::Exact));
        assert_eq!(kind(0, 2), Some(CopyKind::NearDuplicate));
        assert_eq!(kind(0, 3), Some(CopyKind::Partial));
        assert_eq!(kind(3, 4), Some(CopyKind::Partial), "the local story embeds OTHER too");
        assert_eq!(kind(0, 4), None);
        // The shared span of the partial copy points at the wire text in both articles.
        let partial = rels.iter().find(|r| r.a == ids[0] && r.b == ids[3]).unwrap();
        let span = partial.shared[0];
        let b_text: String = local.chars().skip(span.b_start).take(span.b_end - span.b_start).collect();
        assert!(b_text.starts_with("The central bank raised"), "{b_text}");
        assert!(b_text.ends_with("after the announcement"), "{b_text}");
    }

    #[test]
    fn a_run_touching_a_longer_one_keeps_its_own_words() {
        // The pasted passage leaves out a short sentence of the original, so its first sentence
        // runs on into a word ("He") that the longer second run needs: it must still count.
        let ids = ids(2);
        let original = format!(
            "{OTHER}\nMeanwhile a volunteer at the station ran to help the driver and his frightened wife on the pavement.\nHe was shaken.\n\
             He tried to give first aid to her and tried to comfort her until the ambulance arrived from the hospital, the sergeant said.\n\
             The volunteer was back at work the next morning.\n{WIRE}"
        );
        let host = "The school board met on Thursday to discuss the new timetable for the autumn term and the cost of the buses.\n\
             Meanwhile a volunteer at the station ran to help the driver and his frightened wife on the pavement.\n\
             He tried to give first aid to her and tried to comfort her until the ambulance arrived from the hospital, the sergeant said.\n\
             The volunteer was back at work the next morning.\nThe board will vote on the plan next month after hearing from parents.";
        let rels = find_copies(&[input(&ids[0], &original), input(&ids[1], host)], &DedupConfig::default());
        assert_eq!(rels.len(), 1, "{rels:?}");
        assert_eq!(rels[0].relation, CopyKind::Partial);
        assert_eq!(rels[0].shared.len(), 2, "{:?}", rels[0].shared);
    }

    #[test]
    fn streaming_summary_agrees_with_the_full_preparation() {
        let config = DedupConfig::default();
        let p = prepare(WIRE, &config);
        let mut expected: Vec<u64> = p.shingles.iter().copied().filter(|h| h % config.anchor_modulus == 0).collect();
        expected.sort_unstable();
        expected.dedup();
        let (exact, anchors, has_words) = summarise(WIRE, &config);
        assert_eq!((exact, anchors, has_words), (p.exact, expected, true));
    }

    #[test]
    fn shared_quotes_alone_are_not_copies() {
        let ids = ids(2);
        let quote = "\u{201c}We believe Palestinians and Israelis equally deserve to live with safety and security,\u{201d}";
        let a = format!("The minister spoke to reporters on Wednesday in the capital. {quote} he said, before leaving for talks with regional leaders.");
        let b = format!(
            "In a statement read at a press briefing, the diplomat repeated the line used all week: {quote} the statement said. Critics were not convinced."
        );
        let rels = find_copies(&[input(&ids[0], &a), input(&ids[1], &b)], &DedupConfig::default());
        assert!(rels.is_empty(), "{rels:?}");
    }

    /// A site's furniture around an article: a menu, a headline list, a cookie notice, a
    /// comment form and a footer.
    fn page(article: &str) -> String {
        format!(
            "Home\nWorld\nBusiness\nPolitics\nSport\nWeather\n{article}\nMost read\nStorm leaves thousands without power across the region\n             Minister resigns after weeks of pressure over contracts\nLocal team wins the cup in a dramatic final\n             We use cookies to improve your experience on our website. By continuing to browse the site you agree to our use of cookies and our privacy policy.\n             Leave a Reply\nYour email address will not be published. Required fields are marked *\n             Copyright 2021 Example Media Group. All rights reserved. This material may not be published, broadcast, rewritten or redistributed."
        )
    }

    #[test]
    fn shared_menus_headline_lists_and_notices_are_not_copies() {
        let ids = ids(3);
        let (a, b) = (page(WIRE), page(OTHER));
        let copy = format!("Contact\nAbout us\nJobs\n{WIRE}");
        let rels = find_copies(&[input(&ids[0], &a), input(&ids[1], &b), input(&ids[2], &copy)], &DedupConfig::default());
        let pairs: Vec<(&ArticleId, &ArticleId)> = rels.iter().map(|r| (&r.a, &r.b)).collect();
        assert_eq!(pairs, [(&ids[0], &ids[2])], "only the article copied into another page: {rels:?}");
    }

    #[test]
    fn a_passage_many_pages_of_one_outlet_hold_is_template_many_outlets_make_it_wire_copy() {
        // A paragraph about the site, long and in sentences, on every page of one outlet.
        let about = "Example Gazette is an independent newspaper founded in 1887 and owned by a charitable trust, which means that every penny we make goes back into our journalism and that no shareholder or billionaire owner can tell us what to write.";
        let stories = [WIRE, OTHER, "The river burst its banks on Sunday after three days of heavy rain, flooding hundreds of homes in the low-lying districts. Emergency services evacuated two care homes and a school, and the army was sent in to build barriers. Forecasters said more rain was expected later in the week."];
        let texts: Vec<String> = stories.iter().map(|s| format!("{s}\n{about}")).collect();
        let ids = ids(3);
        let docs = |outlets: [&'static str; 3]| -> Vec<CopyInput<'_>> {
            texts.iter().zip(&ids).zip(outlets).map(|((t, id), o)| CopyInput { outlet: Some(o), ..input(id, t) }).collect()
        };
        // Partial copies within one outlet are off by default; switched on, the template alone
        // still makes none.
        let config = DedupConfig { partial_within_outlet: true, ..DedupConfig::default() };
        assert!(find_copies(&docs(["gazette.example"; 3]), &config).is_empty(), "one outlet's template");
        let spread = find_copies(&docs(["a.example", "b.example", "c.example"]), &config);
        assert_eq!(spread.len(), 3, "the same passage in three outlets is copying: {spread:?}");
    }

    #[test]
    fn a_text_cut_short_is_the_copy_and_a_text_inside_another_is_undecided() {
        let ids = ids(2);
        let long = format!("{WIRE} {OTHER}");
        let rels = find_copies(&[input(&ids[0], &long), input(&ids[1], WIRE)], &DedupConfig::default());
        assert_eq!(rels.len(), 1);
        assert_eq!(rels[0].original, Some(Side::A), "{:?}", rels[0].evidence);
        assert!(rels[0].evidence.iter().any(|e| e.contains("cut short")), "{:?}", rels[0].evidence);
        // The same text with words around it: a copy with additions or an excerpt? No vote.
        let around = format!("{OTHER} {WIRE} {OTHER}");
        let rels = find_copies(&[input(&ids[0], &around), input(&ids[1], WIRE)], &DedupConfig::default());
        assert_eq!(rels.len(), 1);
        assert_eq!(rels[0].original, None, "{:?}", rels[0].evidence);
    }

    #[test]
    fn provenance_from_dates_markers_and_credits() {
        let ids = ids(2);
        let copy = format!("{WIRE} Extra words.");
        let mut original = input(&ids[0], WIRE);
        original.published = "2021-05-12".parse().ok();
        original.outlet = Some("Example Wire");
        let mut copied = input(&ids[1], &copy);
        copied.published = "2021-05-13T08:00:00".parse().ok();
        copied.scraper_markers = 2;
        copied.credited_source = Some("Example Wire");
        let rels = find_copies(&[original, copied], &DedupConfig::default());
        assert_eq!(rels.len(), 1);
        assert_eq!(rels[0].original, Some(Side::A));
        assert_eq!(rels[0].evidence.len(), 3, "{:?}", rels[0].evidence);
        // No evidence: undecided, and said so.
        let rels = find_copies(&[input(&ids[0], WIRE), input(&ids[1], &copy)], &DedupConfig::default());
        assert_eq!(rels[0].original, None);
        assert!(rels[0].evidence.iter().any(|e| e.starts_with("undecided")));
    }
}
