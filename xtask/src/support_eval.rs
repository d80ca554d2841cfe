//! Citation support (`cargo xtask eval support`): does a sentence of one article state a
//! summary sentence taken from another? Built from ECB+: each usable sentence (8 to 60 words)
//! is a claim; its positive evidence is the same sentence reworded by the spinner of the copy
//! set (light and heavy); its negative evidence is the sentence of another report of the same
//! event (gold story) that supports it best, unless the two share most of their words (outlets
//! that print the same wire sentence really do state the same). The support threshold is
//! chosen on the odd topics and reported on the even ones, beside the content-word Jaccard the
//! summary used before. The score is F0.5 (precision weighs double).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::Value;
use storyline_compare::summary::{support, Weights, SUPPORT};
use storyline_dedup::text::{content, jaccard};

use crate::copies_eval::Rng;

/// One judged pair: the score under support and under Jaccard, whether the evidence states the
/// claim, and whether it is in the tuning half.
struct Pair {
    support: f64,
    jaccard: f64,
    states: bool,
    tuning: bool,
}

pub fn run(bench: &Path) -> Result<f64, String> {
    let path = bench.join("stories/ecbplus.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let docs: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let synonyms = crate::spin::Synonyms::load()?;
    let mut rng = Rng(0x0005_eed5_0f5a_1e5e);
    let mut by_story: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, d) in docs.iter().enumerate() {
        by_story.entry(d["story"].as_str().unwrap_or_default()).or_default().push(i);
    }
    let lines: Vec<Vec<&str>> = docs.iter().map(|d| d["text"].as_str().unwrap_or_default().lines().filter(|l| !l.trim().is_empty()).collect()).collect();
    let bags: Vec<Vec<HashSet<String>>> = lines.iter().map(|ls| ls.iter().map(|l| content(l)).collect()).collect();
    let mut pairs: Vec<Pair> = Vec::new();
    let mut stories: Vec<(&&str, &Vec<usize>)> = by_story.iter().collect();
    stories.sort();
    for (story, members) in stories {
        let tuning = story.split('-').next().and_then(|t| t.parse::<usize>().ok()).is_some_and(|t| t % 2 == 1);
        // Rewordings of every line of the story's articles, light and heavy in turn.
        let mut spun: HashMap<(usize, usize), HashSet<String>> = HashMap::new();
        for &d in members {
            for (k, l) in lines[d].iter().enumerate() {
                let rate = if (d + k) % 2 == 0 { 50 } else { 90 };
                spun.insert((d, k), content(&crate::spin::spin(l, &synonyms, rate, &mut rng)));
            }
        }
        let weights = Weights::new(members.iter().flat_map(|&d| bags[d].iter()).chain(spun.values()));
        for &d in members {
            for (k, l) in lines[d].iter().enumerate() {
                let claim = &bags[d][k];
                let n = l.split_whitespace().count();
                if !(8..=60).contains(&n) || claim.len() < 5 {
                    continue;
                }
                let evidence = &spun[&(d, k)];
                pairs.push(Pair { support: support(claim, evidence, &weights), jaccard: jaccard(claim, evidence), states: true, tuning });
                for &e in members.iter().filter(|&&e| e != d).take(3) {
                    let best = |f: &dyn Fn(&HashSet<String>) -> f64| bags[e].iter().map(f).fold(0.0, f64::max);
                    let shared = best(&|b| jaccard(claim, b));
                    if shared >= 0.6 {
                        continue;
                    }
                    pairs.push(Pair { support: best(&|b| support(claim, b, &weights)), jaccard: shared, states: false, tuning });
                }
            }
        }
    }
    let f1 = |tuning: bool, score: &dyn Fn(&Pair) -> f64, t: f64| {
        let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
        for p in pairs.iter().filter(|p| p.tuning == tuning) {
            match (score(p) >= t, p.states) {
                (true, true) => tp += 1,
                (true, false) => fp += 1,
                (false, true) => fn_ += 1,
                _ => {}
            }
        }
        let precision = tp as f64 / (tp + fp).max(1) as f64;
        let recall = tp as f64 / (tp + fn_).max(1) as f64;
        // F0.5: a citation that does not support misleads a reader, a missing one only
        // under-credits an outlet, so precision weighs double.
        (precision, recall, 1.25 * precision * recall / (0.25 * precision + recall).max(f64::EPSILON))
    };
    let positives = pairs.iter().filter(|p| p.states).count();
    println!("support    {} pairs ({positives} reworded, {} best sentences of other reports)", pairs.len(), pairs.len() - positives);
    let by_support = |p: &Pair| p.support;
    let by_jaccard = |p: &Pair| p.jaccard;
    let mut best = (0.0, 0.0);
    for step in 6..=18 {
        let t = f64::from(step) * 0.05;
        let (p, r, f) = f1(true, &by_support, t);
        println!("support    dev (odd topics) threshold {t:.2}: P {p:.3} R {r:.3} F0.5 {f:.3}");
        if f > best.1 {
            best = (t, f);
        }
    }
    let (p, r, f) = f1(false, &by_support, SUPPORT);
    let (jp, jr, jf) = f1(false, &by_jaccard, 0.3);
    println!(
        "support    best on dev {:.2} (F0.5 {:.3}); in use {SUPPORT:.2}: test (even topics) P {p:.3} R {r:.3} F0.5 {f:.3}; content-word Jaccard >= 0.3 (before): P {jp:.3} R {jr:.3} F0.5 {jf:.3}",
        best.0, best.1
    );
    Ok(f)
}
