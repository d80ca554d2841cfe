//! The same quotation as different sources give it: grouped, with a reference wording and
//! every other wording aligned to it word by word.

use std::collections::HashSet;

use similar::{capture_diff_slices, Algorithm, DiffOp};
use storyline_model::{AlignedWord, Quote, QuoteVariants, QuoteWording, Source, WordOp};

use crate::Member;
use storyline_dedup::text::{content, words};

/// Quotes of one quotation: `(member index, quote)`.
pub struct Group<'a> {
    pub quotes: Vec<(usize, &'a Quote)>,
}

/// Two quotes are one quotation when most content words of the shorter are in the longer
/// and the speakers do not differ.
fn same(a: &Quote, b: &Quote, wa: &HashSet<String>, wb: &HashSet<String>) -> bool {
    if let (Some(x), Some(y)) = (&a.speaker_entity, &b.speaker_entity) {
        if x != y {
            return false;
        }
    }
    let shared = wa.intersection(wb).count();
    let shorter = wa.len().min(wb.len());
    shorter > 0 && shared >= 3.min(shorter) && shared as f64 / shorter as f64 >= 0.75
}

pub fn groups<'a>(members: &[&'a Member<'_>]) -> Vec<Group<'a>> {
    let all: Vec<(usize, &Quote)> = members.iter().enumerate().flat_map(|(i, m)| m.facts.quotes.iter().map(move |q| (i, q))).collect();
    let bags: Vec<HashSet<String>> = all.iter().map(|(_, q)| content(&q.text)).collect();
    // Quotes of different articles that say the same are one group.
    let mut sets = disjoint::DisjointSet::with_len(all.len());
    for i in 0..all.len() {
        for j in i + 1..all.len() {
            if all[i].0 != all[j].0 && same(all[i].1, all[j].1, &bags[i], &bags[j]) {
                sets.join(i, j);
            }
        }
    }
    // Groups in the order of their first quote.
    let mut by_root: Vec<(usize, Vec<usize>)> = Vec::new();
    for i in 0..all.len() {
        let r = sets.root_of(i);
        match by_root.iter_mut().find(|g| g.0 == r) {
            Some(g) => g.1.push(i),
            None => by_root.push((r, vec![i])),
        }
    }
    let mut out: Vec<Group<'a>> = by_root.into_iter().map(|(_, ix)| Group { quotes: ix.into_iter().map(|i| all[i]).collect() }).collect();
    let articles = |g: &Group<'_>| g.quotes.iter().map(|q| q.0).collect::<HashSet<_>>().len();
    out.sort_by_key(|g| std::cmp::Reverse(articles(g)));
    out
}

fn norm(text: &str) -> String {
    words(text).join(" ")
}

/// Word-by-word alignment of `other` against `reference`, compared without case and
/// punctuation, shown with the words as written.
pub fn align(reference: &str, other: &str) -> Vec<AlignedWord> {
    let mut out = align_full(reference, other);
    // A wording that quotes only part of the reference: the parts left out at either end are
    // one elision, not a run of missing words.
    let word = |w: &str, op: WordOp| AlignedWord { word: w.to_string(), op };
    let lead = out.iter().take_while(|w| w.op == WordOp::Missing).count();
    if lead > 0 && lead < out.len() {
        out.splice(..lead, [word("…", WordOp::Elided)]);
    }
    let trail = out.iter().rev().take_while(|w| w.op == WordOp::Missing).count();
    if trail > 0 && trail < out.len() {
        let n = out.len();
        out.splice(n - trail.., [word("…", WordOp::Elided)]);
    }
    out
}

/// Every word of both texts in order: the same, missing from `other`, or added by it.
pub fn align_full(reference: &str, other: &str) -> Vec<AlignedWord> {
    let rw: Vec<&str> = reference.split_whitespace().collect();
    let ow: Vec<&str> = other.split_whitespace().collect();
    let rn: Vec<String> = rw.iter().map(|w| norm(w)).collect();
    let on: Vec<String> = ow.iter().map(|w| norm(w)).collect();
    let mut out: Vec<AlignedWord> = Vec::new();
    let word = |w: &str, op: WordOp| AlignedWord { word: w.to_string(), op };
    for op in capture_diff_slices(Algorithm::Myers, &rn, &on) {
        match op {
            DiffOp::Equal { new_index, len, .. } => out.extend(ow[new_index..new_index + len].iter().map(|w| word(w, WordOp::Same))),
            DiffOp::Delete { old_index, old_len, .. } => out.extend(rw[old_index..old_index + old_len].iter().map(|w| word(w, WordOp::Missing))),
            DiffOp::Insert { new_index, new_len, .. } => out.extend(ow[new_index..new_index + new_len].iter().map(|w| word(w, WordOp::Added))),
            DiffOp::Replace { old_index, old_len, new_index, new_len } => {
                out.extend(rw[old_index..old_index + old_len].iter().map(|w| word(w, WordOp::Missing)));
                out.extend(ow[new_index..new_index + new_len].iter().map(|w| word(w, WordOp::Added)));
            }
        }
    }
    out
}

/// Quotations worded differently by at least two sources.
pub fn variants(groups: &[Group<'_>], sources: &[Source]) -> Vec<QuoteVariants> {
    let mut out = Vec::new();
    for g in groups {
        let mut wordings: Vec<(String, String, Vec<usize>)> = Vec::new();
        for (i, q) in &g.quotes {
            let key = norm(&q.text);
            match wordings.iter_mut().find(|w| w.0 == key) {
                Some(w) => {
                    if !w.2.contains(i) {
                        w.2.push(*i);
                    }
                }
                None => wordings.push((key, q.text.trim().to_string(), vec![*i])),
            }
        }
        let articles: HashSet<usize> = wordings.iter().flat_map(|w| w.2.iter().copied()).collect();
        if wordings.len() < 2 || articles.len() < 2 {
            continue;
        }
        wordings.sort_by(|a, b| b.2.len().cmp(&a.2.len()).then(b.1.len().cmp(&a.1.len())));
        let reference = wordings[0].1.clone();
        let speaker = g.quotes.iter().find_map(|(_, q)| q.speaker.clone());
        let speaker_entity = g.quotes.iter().find_map(|(_, q)| q.speaker_entity.clone());
        let wordings = wordings
            .into_iter()
            .map(|(_, text, mut arts)| {
                arts.sort_unstable();
                let mut outlets: Vec<String> = arts.iter().map(|&i| sources[i].outlet.clone()).collect();
                outlets.dedup();
                QuoteWording { alignment: align(&reference, &text), text, articles: arts.iter().map(|&i| sources[i].article.clone()).collect(), outlets }
            })
            .collect();
        out.push(QuoteVariants { speaker, speaker_entity, wordings });
    }
    out
}

/// Matrix rows: each quotation and the wording each source gives.
pub fn rows(groups: &[Group<'_>], n: usize) -> Vec<(String, Vec<Option<String>>)> {
    groups
        .iter()
        .map(|g| {
            let mut cells = vec![None; n];
            for (i, q) in &g.quotes {
                cells[*i].get_or_insert_with(|| q.text.trim().to_string());
            }
            let longest = g.quotes.iter().map(|(_, q)| q.text.trim()).max_by_key(|t| t.len()).unwrap_or("");
            let speaker = g.quotes.iter().find_map(|(_, q)| q.speaker.clone()).unwrap_or_else(|| "unattributed".into());
            (format!("{speaker}: “{}”", crate::truncate(longest, 120)), cells)
        })
        .collect()
}
