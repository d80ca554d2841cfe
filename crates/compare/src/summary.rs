//! Extractive summary: sentences that many independent sources state, early in their
//! articles, in the writers' own words, without repeating each other; each cites every member
//! that states the same.

use std::collections::{HashMap, HashSet};

use storyline_model::SummarySentence;

use crate::Member;
use storyline_dedup::text::{content, jaccard, unquoted, Sentence};

/// Two summary candidates repeat each other at this content-word overlap.
const SAME: f64 = 0.3;
/// A sentence states a claim when it holds this share of the claim's content, weighted by
/// how rare each word is among the story's sentences. Chosen on the support set of `cargo
/// xtask eval support` (claims against their reworded counterparts and against the best
/// sentence of other reports of the same event), on its odd topics.
pub const SUPPORT: f64 = 0.65;

/// How rare each canonical content word is among a story's sentences.
pub struct Weights {
    df: HashMap<String, usize>,
    sentences: usize,
}

impl Weights {
    pub fn new<'a>(bags: impl IntoIterator<Item = &'a HashSet<String>>) -> Weights {
        let mut df: HashMap<String, usize> = HashMap::new();
        let mut sentences = 0;
        for b in bags {
            sentences += 1;
            for w in b {
                *df.entry(w.clone()).or_default() += 1;
            }
        }
        Weights { df, sentences }
    }

    fn idf(&self, w: &str) -> f64 {
        let df = self.df.get(w).copied().unwrap_or(0);
        ((1 + self.sentences) as f64 / (1 + df) as f64).ln() + 1.0
    }
}

/// How much of `claim` the sentence `evidence` states: the IDF-weighted share of the claim's
/// content words it holds (names everyone repeats weigh little, the words that make the claim
/// a claim weigh much). Asymmetric: evidence may say more.
pub fn support(claim: &HashSet<String>, evidence: &HashSet<String>, weights: &Weights) -> f64 {
    let total: f64 = claim.iter().map(|w| weights.idf(w)).sum();
    if total == 0.0 {
        return 0.0;
    }
    claim.iter().filter(|w| evidence.contains(*w)).map(|w| weights.idf(w)).sum::<f64>() / total
}
/// Candidate sentences per article (the lead carries the news).
const LEAD: usize = 20;

/// A candidate sentence with its score and, per member, the sentence that states the same.
pub struct Ranked {
    pub member: usize,
    pub sentence: usize,
    pub text: String,
    pub score: f64,
    pub support: Vec<Option<usize>>,
    words: HashSet<String>,
}

fn usable(s: &Sentence) -> bool {
    let n = s.text.split_whitespace().count();
    // A sentence cut out of a longer quotation (a closing mark before any opening one) does not stand alone.
    let (open, close) = (s.text.find('“'), s.text.find('”'));
    let cut_quote = close.is_some_and(|c| open.is_none_or(|o| c < o));
    !cut_quote && (8..=60).contains(&n) && s.text.chars().next().is_some_and(|c| c.is_uppercase() || c == '“' || c == '"' || c.is_ascii_digit())
}

/// Candidates, best first.
pub fn rank(members: &[&Member<'_>], sents: &[Vec<Sentence>], independent: &[bool]) -> Vec<Ranked> {
    let bags: Vec<Vec<HashSet<String>>> = sents.iter().map(|ss| ss.iter().map(|s| content(&s.text)).collect()).collect();
    let weights = Weights::new(bags.iter().flatten());
    let mut out = Vec::new();
    for (mi, ss) in sents.iter().enumerate() {
        if !independent[mi] {
            continue;
        }
        for (si, s) in ss.iter().enumerate().take(LEAD) {
            let words = &bags[mi][si];
            if !usable(s) || words.len() < 5 {
                continue;
            }
            let mut support = vec![None; members.len()];
            support[mi] = Some(si);
            let mut score = 1.0;
            for (mj, other) in bags.iter().enumerate() {
                if mj == mi {
                    continue;
                }
                let best = other.iter().enumerate().map(|(k, b)| (k, self::support(words, b, &weights))).max_by(|a, b| a.1.total_cmp(&b.1));
                if let Some((k, sim)) = best.filter(|b| b.1 >= SUPPORT) {
                    support[mj] = Some(k);
                    // A copy repeats its original's wording: it adds a little, not a source.
                    score += if independent[mj] { 1.0 + 0.5 * sim } else { 0.1 };
                }
            }
            // News leads with what happened; a sentence that is mostly quotation is a voice, not the event.
            score += 1.0 / (1.0 + si as f64 * 0.5);
            let own = content(&unquoted(&s.text)).len() as f64 / words.len() as f64;
            if own < 0.5 {
                score *= 0.7;
            }
            out.push(Ranked { member: mi, sentence: si, text: s.text.clone(), score, support, words: words.clone() });
        }
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.member.cmp(&b.member)).then(a.sentence.cmp(&b.sentence)));
    out
}

/// At most `max` sentences, none repeating another, in story order (earliest source first, then
/// position in the article).
pub fn pick(ranked: &[Ranked], members: &[&Member<'_>], sents: &[Vec<Sentence>], max: usize) -> Vec<SummarySentence> {
    let mut chosen: Vec<&Ranked> = Vec::new();
    for r in ranked {
        if chosen.len() == max {
            break;
        }
        if chosen.iter().all(|c| jaccard(&c.words, &r.words) < SAME) {
            chosen.push(r);
        }
    }
    chosen.sort_by_key(|r| (r.member, r.sentence));
    chosen
        .into_iter()
        .map(|r| {
            let mut articles = vec![members[r.member].article.id.clone()];
            let mut support = vec![r.text.clone()];
            for (mj, s) in r.support.iter().enumerate() {
                if let Some(si) = s.filter(|_| mj != r.member) {
                    articles.push(members[mj].article.id.clone());
                    support.push(sents[mj][si].text.clone());
                }
            }
            SummarySentence { text: r.text.clone(), articles, support }
        })
        .collect()
}
