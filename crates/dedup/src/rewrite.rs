//! Rewrites: one article reworded sentence by sentence from another. Content farms keep the
//! order of the facts and most names and numbers but change many words, so word 5-grams (the
//! copy anchors) miss them. Here each sentence becomes a bag of canonical content words with its
//! names and numbers counted twice, sentences of two articles match when their weighted Dice
//! similarity is high, and the most matching sentences taken in the same order in both articles
//! (a longest common subsequence) must make a dense, long block.
//!
//! Independent reports of one event share names, numbers and quotations, and often the order of
//! the facts, but not sentence after sentence of the same wording: quotations are left out (they
//! are the speaker's words, not the writer's), and the block must be dense on both sides.
//!
//! Candidates are the caller's business (at ingest: the other members of the article's story).

use std::collections::HashSet;

use storyline_model::{CopyKind, CopyRelation, SharedSpan};
use xxhash_rust::xxh3::xxh3_64;

use crate::text::{canon, is_stop, sentences, unquoted};
use crate::{provenance, CopyInput};

/// Tuning of rewrite detection (chosen on the development half of the eval set, see
/// `cargo xtask eval copies`).
#[derive(Debug, Clone)]
pub struct RewriteConfig {
    /// Two sentences are one reworded at this weighted Dice similarity.
    pub sentence_similarity: f32,
    /// Sentence pairs that must align in order.
    pub min_sentences: usize,
    /// Share of the shorter article's sentences that must align.
    pub min_share: f32,
    /// Aligned pairs over the length of the aligned block, on the sparser side.
    pub min_density: f32,
    /// Content words (outside quotations) a sentence needs to count.
    pub min_words: usize,
    /// Sentences compared per article (the alignment is quadratic in them).
    pub max_sentences: usize,
}

impl Default for RewriteConfig {
    fn default() -> Self {
        RewriteConfig { sentence_similarity: 0.5, min_sentences: 4, min_share: 0.3, min_density: 0.7, min_words: 4, max_sentences: 200 }
    }
}

/// One sentence as rewrite detection sees it.
#[derive(Debug, Clone)]
struct SentenceBag {
    /// Character range in the article.
    start: usize,
    end: usize,
    /// Canonical content words, hashed, sorted, unique (names and numbers included).
    words: Vec<u64>,
    /// Names (capitalised words not opening the sentence) and numbers, hashed, sorted, unique.
    salient: Vec<u64>,
}

/// An article prepared for rewrite detection: its countable sentences.
#[derive(Debug, Clone, Default)]
pub struct RewriteProfile {
    sentences: Vec<SentenceBag>,
}

impl RewriteProfile {
    pub fn new(text: &str, config: &RewriteConfig) -> Self {
        let mut out = Vec::new();
        for s in sentences(text) {
            // A web address is nobody's wording.
            if s.text.contains("http") || s.text.contains("www.") {
                continue;
            }
            let own = unquoted(&s.text);
            let mut words = Vec::new();
            let mut salient = Vec::new();
            // Digit groups count one by one ("1,000" is "1" and "000"), so a figure written another
            // way ("1,000" / "1.000") still shares its groups.
            let own_words = storyline_model::text::words(&own).flat_map(|w| w.text.split([',', '.']));
            for (k, w) in own_words.enumerate() {
                let lower = w.to_lowercase();
                if is_stop(&lower) {
                    continue;
                }
                let h = xxh3_64(canon(&lower).as_bytes());
                words.push(h);
                let first = w.chars().next().unwrap_or(' ');
                if first.is_ascii_digit() || (k > 0 && first.is_uppercase()) {
                    salient.push(h);
                }
            }
            words.sort_unstable();
            words.dedup();
            salient.sort_unstable();
            salient.dedup();
            if words.len() >= config.min_words {
                out.push(SentenceBag { start: s.start, end: s.end, words, salient });
            }
            if out.len() >= config.max_sentences {
                break;
            }
        }
        RewriteProfile { sentences: out }
    }

    pub fn len(&self) -> usize {
        self.sentences.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sentences.is_empty()
    }
}

fn common(x: &[u64], y: &[u64]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < x.len() && j < y.len() {
        match x[i].cmp(&y[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// Weighted Dice similarity of two sentences: names and numbers count twice.
fn similarity(x: &SentenceBag, y: &SentenceBag) -> f32 {
    let shared = common(&x.words, &y.words) + common(&x.salient, &y.salient);
    let total = x.words.len() + y.words.len() + x.salient.len() + y.salient.len();
    if total == 0 {
        return 0.0;
    }
    2.0 * shared as f32 / total as f32
}

/// What the sentence alignment of two articles shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Alignment {
    /// Aligned sentence pairs, in order: `(sentence of a, sentence of b, similarity)`.
    pub pairs: Vec<(usize, usize, f32)>,
    /// Countable sentences of each article.
    pub a_sentences: usize,
    pub b_sentences: usize,
}

impl Alignment {
    /// Aligned pairs over the shorter article's sentences.
    pub fn share(&self) -> f32 {
        self.pairs.len() as f32 / self.a_sentences.min(self.b_sentences).max(1) as f32
    }

    /// Aligned pairs over the length of the aligned block, on the sparser side.
    pub fn density(&self) -> f32 {
        let (Some(first), Some(last)) = (self.pairs.first(), self.pairs.last()) else { return 0.0 };
        let span = (last.0 - first.0 + 1).max(last.1 - first.1 + 1);
        self.pairs.len() as f32 / span as f32
    }
}

/// The most sentence pairs that match in the same order in both articles (a longest common
/// subsequence over sentences; ties go to the more similar pairs).
pub fn align(a: &RewriteProfile, b: &RewriteProfile, config: &RewriteConfig) -> Alignment {
    let (n, m) = (a.sentences.len(), b.sentences.len());
    let mut alignment = Alignment { pairs: Vec::new(), a_sentences: n, b_sentences: m };
    if n == 0 || m == 0 {
        return alignment;
    }
    // Score: (pairs, summed similarity), compared in that order.
    let mut score = vec![(0u32, 0f32); (n + 1) * (m + 1)];
    let mut sims = vec![0f32; n * m];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    let better = |x: (u32, f32), y: (u32, f32)| x.0 > y.0 || (x.0 == y.0 && x.1 > y.1);
    for i in 0..n {
        for j in 0..m {
            let s = similarity(&a.sentences[i], &b.sentences[j]);
            sims[i * m + j] = s;
            let mut best = score[at(i, j + 1)];
            if better(score[at(i + 1, j)], best) {
                best = score[at(i + 1, j)];
            }
            if s >= config.sentence_similarity {
                let diag = score[at(i, j)];
                let take = (diag.0 + 1, diag.1 + s);
                if better(take, best) {
                    best = take;
                }
            }
            score[at(i + 1, j + 1)] = best;
        }
    }
    let (mut i, mut j) = (n, m);
    while i > 0 && j > 0 {
        let s = sims[(i - 1) * m + (j - 1)];
        let here = score[at(i, j)];
        let diag = score[at(i - 1, j - 1)];
        if s >= config.sentence_similarity && here.0 == diag.0 + 1 && (here.1 - (diag.1 + s)).abs() < 1e-4 {
            alignment.pairs.push((i - 1, j - 1, s));
            i -= 1;
            j -= 1;
        } else if score[at(i - 1, j)] == here {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    alignment.pairs.reverse();
    alignment
}

/// Whether an alignment makes a rewrite under `config`.
pub fn is_rewrite(alignment: &Alignment, config: &RewriteConfig) -> bool {
    alignment.pairs.len() >= config.min_sentences && alignment.share() >= config.min_share && alignment.density() >= config.min_density
}

/// Checks one candidate pair for a rewrite. The relation is oriented with the smaller id as `a`,
/// like the copy relations; `shared` holds each run of consecutive aligned sentences.
pub fn rewrite_pair(x: &CopyInput<'_>, px: &RewriteProfile, y: &CopyInput<'_>, py: &RewriteProfile, config: &RewriteConfig) -> Option<CopyRelation> {
    let ((a, pa), (b, pb)) = if x.id <= y.id { ((x, px), (y, py)) } else { ((y, py), (x, px)) };
    let alignment = align(pa, pb, config);
    if !is_rewrite(&alignment, config) {
        return None;
    }
    let mut shared: Vec<SharedSpan> = Vec::new();
    let mut previous: Option<(usize, usize)> = None;
    for &(i, j, _) in &alignment.pairs {
        let (sa, sb) = (&pa.sentences[i], &pb.sentences[j]);
        match (previous, shared.last_mut()) {
            (Some((pi, pj)), Some(last)) if pi + 1 == i && pj + 1 == j => {
                last.a_end = sa.end;
                last.b_end = sb.end;
            }
            _ => shared.push(SharedSpan { a_start: sa.start, a_end: sa.end, b_start: sb.start, b_end: sb.end }),
        }
        previous = Some((i, j));
    }
    let n = alignment.pairs.len();
    let mean = alignment.pairs.iter().map(|p| p.2).sum::<f32>() / n as f32;
    let cov_a = n as f32 / pa.len().max(1) as f32;
    let cov_b = n as f32 / pb.len().max(1) as f32;
    let (original, provenance_evidence) = provenance(a, b, cov_a, cov_b, None);
    let mut evidence = vec![format!(
        "{n} of {} sentences reworded in the same order (the writer's own words, quotations left out; mean similarity {mean:.2})",
        pa.len().min(pb.len())
    )];
    evidence.extend(provenance_evidence);
    Some(CopyRelation { a: a.id.clone(), b: b.id.clone(), relation: CopyKind::Rewrite, similarity: alignment.share(), shared, original, evidence })
}

/// Checks candidate pairs (indices into `docs`) for rewrites; pairs already related some other
/// way are the caller's to leave out. Each article is prepared once.
pub fn find_rewrites(docs: &[CopyInput<'_>], pairs: &[(usize, usize)], config: &RewriteConfig) -> Vec<CopyRelation> {
    let needed: HashSet<usize> = pairs.iter().flat_map(|&(a, b)| [a, b]).collect();
    let mut profiles: Vec<Option<RewriteProfile>> = vec![None; docs.len()];
    for i in needed {
        profiles[i] = Some(RewriteProfile::new(docs[i].text, config));
    }
    pairs
        .iter()
        .filter_map(|&(a, b)| {
            let (pa, pb) = (profiles[a].as_ref()?, profiles[b].as_ref()?);
            rewrite_pair(&docs[a], pa, &docs[b], pb, config)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use storyline_model::ArticleId;

    const ORIGINAL: &str = "The central bank raised its main interest rate by half a percentage point on Tuesday in Frankfurt.\n\
        Governor Maria Lopez said further increases were likely if prices kept rising at the current pace.\n\
        Inflation reached 8.1 percent in May, the highest level in four decades, according to the statistics office.\n\
        Markets had expected the move, and the euro barely changed after the announcement in the afternoon.\n\
        Economists at Deutsche Bank warned that the economy could shrink sharply next year as borrowing costs climb.\n\
        The bank will publish new forecasts in September, when officials meet again to review the policy.";

    const REWORDED: &str = "On Tuesday in Frankfurt, the central bank lifted its key interest rate by half a percentage point.\n\
        Governor Maria Lopez stated that additional increases were probable if prices continued rising at the present pace.\n\
        According to the statistics office, inflation hit 8.1 percent in May, the highest level in four decades.\n\
        The move had been expected by markets, and the euro hardly changed following the announcement in the afternoon.\n\
        Economists at Deutsche Bank cautioned that the economy might contract sharply next year as borrowing costs rise.\n\
        New forecasts will be published by the bank in September, when officials gather again to review the policy.";

    /// Another outlet's own report of the same decision: same names and numbers, own order and
    /// own words.
    const INDEPENDENT: &str = "Borrowers face higher costs again after policymakers in Frankfurt voted for a half-point increase.\n\
        \"We will do what it takes,\" Maria Lopez told reporters, without promising anything for September.\n\
        Shoppers in Madrid said food prices had doubled for some staples since last winter.\n\
        Deutsche Bank economists now see a recession next year, their note to clients said on Tuesday.\n\
        Prices rose 8.1 percent in May, a pace last seen four decades ago.\n\
        The euro was little moved in afternoon trading.";

    fn input<'a>(id: &'a ArticleId, text: &'a str) -> CopyInput<'a> {
        CopyInput { id, text, published: None, outlet: None, credited_source: None, scraper_markers: 0 }
    }

    #[test]
    fn a_sentence_by_sentence_rewording_is_a_rewrite() {
        let config = RewriteConfig::default();
        let (x, y) = (ArticleId("a".into()), ArticleId("b".into()));
        let docs = [input(&x, ORIGINAL), input(&y, REWORDED)];
        let found = find_rewrites(&docs, &[(0, 1)], &config);
        assert_eq!(found.len(), 1, "{:?}", align(&RewriteProfile::new(ORIGINAL, &config), &RewriteProfile::new(REWORDED, &config), &config));
        let r = &found[0];
        assert_eq!(r.relation, CopyKind::Rewrite);
        assert!(r.similarity >= 0.8, "{}", r.similarity);
        // One run of consecutive sentences, from the first sentence to the last in both.
        assert_eq!(r.shared.len(), 1, "{:?}", r.shared);
        assert_eq!((r.shared[0].a_start, r.shared[0].b_start), (0, 0));
        assert_eq!(r.shared[0].a_end, ORIGINAL.chars().count());
        assert!(r.evidence[0].contains("sentences reworded in the same order"), "{:?}", r.evidence);
    }

    #[test]
    fn an_independent_report_of_the_same_event_is_not() {
        let config = RewriteConfig::default();
        let (x, y) = (ArticleId("a".into()), ArticleId("b".into()));
        let docs = [input(&x, ORIGINAL), input(&y, INDEPENDENT)];
        assert!(find_rewrites(&docs, &[(0, 1)], &config).is_empty());
    }

    #[test]
    fn order_matters() {
        let config = RewriteConfig::default();
        let shuffled: Vec<&str> = REWORDED.lines().rev().collect();
        let shuffled = shuffled.join("\n");
        let alignment = align(&RewriteProfile::new(ORIGINAL, &config), &RewriteProfile::new(&shuffled, &config), &config);
        assert!(alignment.pairs.len() <= 1, "{alignment:?}");
    }
}
