//! Quotes on PolNeAR (`cargo xtask eval quotes`): the direct quotations inside gold attribution
//! contents, against the quotes `storyline_enrich::facts` finds; content exact and overlap F1,
//! and speaker accuracy of matched quotes.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use storyline_enrich::{facts, Tagger};
use storyline_model::ArticleId;

struct Gold {
    start: usize,
    end: usize,
    source: String,
}

/// Quoted passages (two words or more) inside `content`, with char offsets in the article.
fn quoted_in(content: &str, offset: usize) -> Vec<(usize, usize)> {
    let chars: Vec<char> = content.chars().collect();
    let mut out = Vec::new();
    let mut open: Option<usize> = None;
    for (i, &c) in chars.iter().enumerate() {
        match (open, c) {
            (None, '“') => open = Some(i + 1),
            (None, '"') if i == 0 || chars[i - 1].is_whitespace() || chars[i - 1] == '(' => open = Some(i + 1),
            (Some(s), '”') | (Some(s), '"') => {
                let words = chars[s..i].iter().collect::<String>().split_whitespace().count();
                if words >= 2 {
                    out.push((offset + s, offset + i));
                }
                open = None;
            }
            _ => {}
        }
    }
    out
}

fn read_gold(ann: &str, text: &[char]) -> Vec<Gold> {
    let mut spans: BTreeMap<&str, (&str, usize, usize)> = BTreeMap::new();
    let mut out = Vec::new();
    for line in ann.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() >= 2 && cols[0].starts_with('T') {
            let mut head = cols[1].split(' ');
            let kind = head.next().unwrap_or("");
            // Discontinuous spans "a b;c d": first start, last end.
            let rest: Vec<&str> = head.collect();
            let joined = rest.join(" ");
            let nums: Vec<usize> = joined.split([' ', ';']).filter_map(|x| x.parse().ok()).collect();
            if let (Some(&s), Some(&e)) = (nums.first(), nums.last()) {
                spans.insert(cols[0], (kind, s, e));
            }
        }
    }
    for line in ann.lines() {
        if !line.starts_with('E') {
            continue;
        }
        let Some(args) = line.split('\t').nth(1) else { continue };
        let mut content = None;
        let mut source = None;
        for a in args.split(' ') {
            if let Some((role, t)) = a.split_once(':') {
                let role = role.trim_end_matches(char::is_numeric);
                match role {
                    "Content" => content = spans.get(t).copied(),
                    "Source" => source = spans.get(t).copied(),
                    _ => {}
                }
            }
        }
        let (Some((_, cs, ce)), src) = (content, source) else { continue };
        if ce > text.len() || cs >= ce {
            continue;
        }
        let src_text = src.filter(|(_, s, e)| *e <= text.len() && s < e).map(|(_, s, e)| text[s..e].iter().collect::<String>()).unwrap_or_default();
        let content_text: String = text[cs..ce].iter().collect();
        for (s, e) in quoted_in(&content_text, cs) {
            out.push(Gold { start: s, end: e, source: src_text.clone() });
        }
    }
    // One gold quote per span.
    let mut seen = HashSet::new();
    out.retain(|g| seen.insert((g.start, g.end)));
    out
}

/// Trims spaces and final punctuation from a char span.
fn trim(text: &[char], mut s: usize, mut e: usize) -> (usize, usize) {
    while s < e && (text[s].is_whitespace()) {
        s += 1;
    }
    while e > s && (text[e - 1].is_whitespace() || matches!(text[e - 1], ',' | '.' | '?' | '!' | ';' | ':')) {
        e -= 1;
    }
    (s, e)
}

fn words(s: &str) -> HashSet<String> {
    const STOP: &[&str] = &["the", "a", "an", "of", "mr.", "mrs.", "ms.", "dr.", "said", "says"];
    s.split(|c: char| !c.is_alphanumeric() && c != '.')
        .map(|w| w.trim_end_matches('.').to_lowercase())
        .filter(|w| !w.is_empty() && !STOP.contains(&w.as_str()))
        .collect()
}

#[derive(Default)]
struct Tally {
    gold: usize,
    pred: usize,
    exact: usize,
    overlap_pred: usize,
    overlap_gold: usize,
    matched: usize,
    speaker_right: usize,
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    }
}

pub fn run(bench: &Path) -> Result<f64, String> {
    let tagger = Tagger::bundled().map_err(|e| e.to_string())?;
    let mut dev_f1 = 0.0;
    for split in ["dev", "train"] {
        let dir = bench.join("quotes/polnear").join(split);
        let mut t = Tally::default();
        let mut names: Vec<_> =
            std::fs::read_dir(dir.join("text")).map_err(|e| format!("{}: {e}", dir.display()))?.filter_map(Result::ok).map(|e| e.path()).collect();
        names.sort();
        // Attribution files are named after the text plus a short suffix ("_ef2d").
        let anns: BTreeMap<String, std::path::PathBuf> = std::fs::read_dir(dir.join("attributions"))
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter_map(|p| {
                let stem = p.file_stem()?.to_string_lossy().to_string();
                Some((stem.rsplit_once('_').map_or(stem.clone(), |(a, _)| a.to_string()), p))
            })
            .collect();
        for path in names {
            let stem = path.file_stem().unwrap_or_default().to_string_lossy().to_string();
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            let Some(ann) = anns.get(&stem).and_then(|p| std::fs::read_to_string(p).ok()) else { continue };
            let chars: Vec<char> = text.chars().collect();
            let gold = read_gold(&ann, &chars);
            let found = facts(&tagger, &ArticleId(stem.clone()), &text, None);
            t.gold += gold.len();
            t.pred += found.quotes.len();
            let gold_spans: Vec<(usize, usize)> = gold.iter().map(|g| trim(&chars, g.start, g.end)).collect();
            for q in &found.quotes {
                let (s, e) = trim(&chars, q.start, q.end);
                if gold_spans.contains(&(s, e)) {
                    t.exact += 1;
                }
                if let Some(gi) = gold_spans.iter().position(|&(gs, ge)| gs < e && s < ge) {
                    t.overlap_pred += 1;
                    t.matched += 1;
                    let said = words(&[q.speaker_mention.clone().unwrap_or_default(), q.speaker.clone().unwrap_or_default()].join(" "));
                    if !said.is_empty() && !said.is_disjoint(&words(&gold[gi].source)) {
                        t.speaker_right += 1;
                    } else if std::env::var("SHOW_WRONG_SPEAKERS").is_ok_and(|s| s == split) {
                        let before: String = chars[q.start.saturating_sub(140)..q.start].iter().collect();
                        let after: String = chars[q.end..(q.end + 80).min(chars.len())].iter().collect();
                        let around = format!("{before}[[QUOTE]]{after}");
                        println!(
                            "{stem}: ours {:?} / {:?} (cue {:?}); gold {:?}\n    {}",
                            q.speaker_mention,
                            q.speaker,
                            q.cue,
                            gold[gi].source,
                            around.replace('\n', " ")
                        );
                    }
                }
            }
            t.overlap_gold += gold_spans.iter().filter(|&&(gs, ge)| found.quotes.iter().any(|q| gs < q.end && q.start < ge)).count();
        }
        let exact = f1(t.exact as f64 / t.pred.max(1) as f64, t.exact as f64 / t.gold.max(1) as f64);
        let overlap = f1(t.overlap_pred as f64 / t.pred.max(1) as f64, t.overlap_gold as f64 / t.gold.max(1) as f64);
        println!(
            "quotes     PolNeAR {split:<5} gold {:>5} found {:>5}  content exact F1 {exact:.3}  overlap F1 {overlap:.3}  speaker right {:.3} of {} matched",
            t.gold,
            t.pred,
            t.speaker_right as f64 / t.matched.max(1) as f64,
            t.matched
        );
        if split == "dev" {
            dev_f1 = overlap;
        }
    }
    Ok(dev_f1)
}
