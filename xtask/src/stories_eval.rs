//! Story clustering on ECB+ (`stories/ecbplus.jsonl`): B-cubed and pairwise F1 of the online
//! engine, fed in one batch and in shuffled batches, through the same extraction as `ingest`.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use serde_json::Value;
use storyline_cluster::{Engine, Input, Params};
use storyline_extract::CorpusStats;
use storyline_model::{Article, ArticleId, Body, Hints, InputFormat, RawDocument};

pub struct Scores {
    pub bcubed_p: f64,
    pub bcubed_r: f64,
    pub pair_p: f64,
    pub pair_r: f64,
    pub stories: usize,
}

impl Scores {
    pub fn bcubed_f1(&self) -> f64 {
        f1(self.bcubed_p, self.bcubed_r)
    }
    pub fn pair_f1(&self) -> f64 {
        f1(self.pair_p, self.pair_r)
    }
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

/// The ECB+ texts, extracted like `ingest` does, with their gold stories.
pub fn load(bench: &Path) -> Result<Vec<(Article, String)>, String> {
    let path = bench.join("stories/ecbplus.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut docs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
        let doc = RawDocument {
            source: format!("ecbplus.jsonl#{}", i + 1),
            format: InputFormat::Jsonl,
            body: Body::Text(v["text"].as_str().unwrap_or_default().to_owned()),
            hints: Hints { external_id: v["id"].as_str().map(String::from), ..Hints::default() },
            warnings: vec![],
        };
        docs.push((doc, v["story"].as_str().unwrap_or_default().to_owned()));
    }
    let mut stats = CorpusStats::default();
    for (d, _) in &docs {
        stats.observe(d);
    }
    Ok(docs.iter().map(|(d, s)| (storyline_extract::extract(d, &stats), s.clone())).collect())
}

/// Runs the engine over `batches` (indices into `docs`) and returns each article's story.
/// Each batch reopens the stored stories it comes close to, as `ingest` does.
pub fn cluster(docs: &[(Article, String)], params: Params, batches: &[Vec<usize>]) -> Vec<String> {
    let mut engine = Engine::new(params, vec![], HashMap::new(), 0);
    let profiles: Vec<storyline_cluster::Profile> = docs.iter().map(|(a, _)| storyline_cluster::profile(a)).collect();
    let input = |i: usize| Input { article: docs[i].0.id.clone(), profile: profiles[i].clone(), copy_of: None };
    let mut story: HashMap<String, String> = HashMap::new();
    let mut merged: HashMap<String, String> = HashMap::new();
    let index: HashMap<&str, usize> = docs.iter().enumerate().map(|(i, (a, _))| (a.id.0.as_str(), i)).collect();
    for batch in batches {
        let inputs: Vec<Input> = batch.iter().map(|&i| input(i)).collect();
        let reopen = engine.stories_to_reopen(&inputs);
        let mut members: HashMap<&str, Vec<Input>> = reopen.iter().map(|id| (id.as_str(), Vec::new())).collect();
        for (a, s) in &story {
            let s = resolve(&merged, s.clone());
            if let Some(m) = members.get_mut(s.as_str()) {
                m.push(input(index[a.as_str()]));
            }
        }
        let reopened = reopen.iter().map(|id| (id.clone(), members.remove(id.as_str()).unwrap_or_default())).collect();
        let out = engine.add_batch_reopening(inputs, reopened);
        for a in out.assignments {
            story.insert(a.article.0, a.story.0);
        }
        for (gone, keep) in out.merges {
            merged.insert(gone, keep);
        }
        // An id given back to a live story is no longer merged.
        for s in out.changed {
            merged.remove(&s.id);
        }
    }
    docs.iter().map(|(a, _)| resolve(&merged, story.get(&a.id.0).cloned().unwrap_or_default())).collect()
}

fn resolve(merged: &HashMap<String, String>, mut s: String) -> String {
    let mut hops = 0;
    while let Some(n) = merged.get(&s) {
        s = n.clone();
        hops += 1;
        if hops > merged.len() {
            break;
        }
    }
    s
}

/// B-cubed precision/recall (per item, averaged) and pairwise precision/recall.
pub fn score(gold: &[&str], pred: &[String]) -> Scores {
    let n = gold.len();
    let mut by_pair: HashMap<(&str, &str), usize> = HashMap::new();
    let mut by_gold: HashMap<&str, usize> = HashMap::new();
    let mut by_pred: HashMap<&str, usize> = HashMap::new();
    for i in 0..n {
        *by_pair.entry((gold[i], pred[i].as_str())).or_default() += 1;
        *by_gold.entry(gold[i]).or_default() += 1;
        *by_pred.entry(pred[i].as_str()).or_default() += 1;
    }
    let (mut p, mut r) = (0.0, 0.0);
    for i in 0..n {
        let both = by_pair[&(gold[i], pred[i].as_str())] as f64;
        p += both / by_pred[pred[i].as_str()] as f64;
        r += both / by_gold[gold[i]] as f64;
    }
    fn pairs<'a>(counts: impl Iterator<Item = &'a usize>) -> f64 {
        counts.map(|&c| (c * c.saturating_sub(1) / 2) as f64).sum()
    }
    let (tp, pp, gp) = (pairs(by_pair.values()), pairs(by_pred.values()), pairs(by_gold.values()));
    Scores {
        bcubed_p: p / n as f64,
        bcubed_r: r / n as f64,
        pair_p: if pp == 0.0 { 1.0 } else { tp / pp },
        pair_r: if gp == 0.0 { 1.0 } else { tp / gp },
        stories: by_pred.len(),
    }
}

/// A fixed shuffle of `0..n` split into `k` batches.
pub fn shuffled_batches(n: usize, k: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = seed;
    for i in (1..n).rev() {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let j = (state >> 33) as usize % (i + 1);
        order.swap(i, j);
    }
    let size = n.div_ceil(k);
    order.chunks(size).map(<[usize]>::to_vec).collect()
}

/// `cargo xtask eval stories`: one batch and 10 shuffled batches; with `tune`, a grid.
pub fn run(bench: &Path, tune: bool) -> Result<(f64, f64), String> {
    let t = Instant::now();
    let docs = load(bench)?;
    let gold: Vec<&str> = docs.iter().map(|(_, s)| s.as_str()).collect();
    eprintln!("stories: {} articles extracted in {:.1} s", docs.len(), t.elapsed().as_secs_f64());
    if tune {
        let grid: Vec<f32> = std::env::var("GRID").unwrap_or("0.29,0.32,0.35".into()).split(',').filter_map(|x| x.parse().ok()).collect();
        let powers: Vec<f32> = std::env::var("POWERS").unwrap_or("1".into()).split(',').filter_map(|x| x.parse().ok()).collect();
        let backgrounds: Vec<f32> = std::env::var("BACKGROUND").unwrap_or("0".into()).split(',').filter_map(|x| x.parse().ok()).collect();
        let names: Vec<f32> = std::env::var("NAMES").unwrap_or("0.2".into()).split(',').filter_map(|x| x.parse().ok()).collect();
        let links: Vec<f32> = std::env::var("LINKS").unwrap_or("0.22".into()).split(',').filter_map(|x| x.parse().ok()).collect();
        let seconds: Vec<f32> = std::env::var("SECONDS").unwrap_or("0.4".into()).split(',').filter_map(|x| x.parse().ok()).collect();
        for (join, idf_power) in grid.iter().flat_map(|&j| powers.iter().map(move |&p| (j, p))) {
            let combos = names.iter().flat_map(|n| backgrounds.iter().map(move |b| (n, b))).flat_map(|(n, b)| links.iter().map(move |l| (n, b, l)));
            let combos = combos.flat_map(|(n, b, l)| seconds.iter().map(move |s| (n, b, l, s)));
            for (&name_weight, &background_docs, &link, &second) in combos {
                let p = Params { join, link, second, name_weight, idf_power, background_docs, ..Params::default() };
                let one = score(&gold, &cluster(&docs, p, &[(0..docs.len()).collect()]));
                let ten = score(&gold, &cluster(&docs, p, &shuffled_batches(docs.len(), 10, 7)));
                println!(
                    "join {join:.2} link {link:.2} second {second:.2} names {name_weight:.1} idf^{idf_power} background {background_docs}: one batch B3 F1 {:.3} (P {:.3} R {:.3}, {} stories)  10 batches {:.3}",
                    one.bcubed_f1(),
                    one.bcubed_p,
                    one.bcubed_r,
                    one.stories,
                    ten.bcubed_f1()
                );
            }
        }
    }
    let p = Params::default();
    let t = Instant::now();
    let one = score(&gold, &cluster(&docs, p, &[(0..docs.len()).collect()]));
    let secs = t.elapsed().as_secs_f64();
    println!(
        "stories    one batch     B-cubed P {:.3} R {:.3} F1 {:.3}  pairwise P {:.3} R {:.3} F1 {:.3}  ({} stories, gold 86; {:.2} s)",
        one.bcubed_p,
        one.bcubed_r,
        one.bcubed_f1(),
        one.pair_p,
        one.pair_r,
        one.pair_f1(),
        one.stories,
        secs
    );
    let mut worst: f64 = 0.0;
    for seed in [7u64, 11, 13] {
        let ten = score(&gold, &cluster(&docs, p, &shuffled_batches(docs.len(), 10, seed)));
        worst = worst.max((one.bcubed_f1() - ten.bcubed_f1()).abs());
        println!(
            "stories    10 batches #{seed:<2} B-cubed P {:.3} R {:.3} F1 {:.3}  pairwise F1 {:.3}  ({} stories)",
            ten.bcubed_p,
            ten.bcubed_r,
            ten.bcubed_f1(),
            ten.pair_f1(),
            ten.stories
        );
    }
    println!("stories    largest B-cubed F1 difference, one batch vs 10 shuffled batches: {worst:.3}");
    Ok((one.bcubed_f1(), worst))
}

/// Prints the impure clusters (for error analysis).
pub fn analyse(bench: &Path, params: Params) -> Result<(), String> {
    let docs = load(bench)?;
    let pred = cluster(&docs, params, &[(0..docs.len()).collect()]);
    let mut by_pred: HashMap<&str, HashMap<&str, usize>> = HashMap::new();
    for (i, (_, g)) in docs.iter().enumerate() {
        *by_pred.entry(pred[i].as_str()).or_default().entry(g.as_str()).or_default() += 1;
    }
    let mut gold_split: HashMap<&str, usize> = HashMap::new();
    for comp in by_pred.values() {
        for g in comp.keys() {
            *gold_split.entry(g).or_default() += 1;
        }
        if comp.len() > 1 {
            let mut v: Vec<_> = comp.iter().collect();
            v.sort();
            println!("impure: {v:?}");
        }
    }
    let mut v: Vec<_> = gold_split.into_iter().filter(|(_, n)| *n > 1).collect();
    v.sort();
    println!("gold stories split over clusters: {v:?}");
    if let Ok(path) = std::env::var("DUMP") {
        let lines: Vec<String> = docs
            .iter()
            .zip(&pred)
            .map(|((a, g), p)| format!("{}\t{g}\t{p}\t{}", a.id.0, a.published.as_ref().map(|d| d.to_string()).unwrap_or_default()))
            .collect();
        std::fs::write(&path, lines.join("\n") + "\n").map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(())
}

/// `cargo xtask bench stories N...`: the story engine over a synthetic scale-up of ECB+: article
/// `k` is ECB+ article `k mod 982` with a quarter of its words replaced from the corpus
/// vocabulary, published 20 days later on every pass over the corpus (so each pass makes new
/// stories), fed in batches of 4096 like `ingest` does. Times profiles and clustering together.
pub fn bench(bench: &Path, sizes: &[usize]) -> Result<(), String> {
    let docs = load(bench)?;
    let vocabulary: Vec<String> = docs.iter().flat_map(|(a, _)| a.text.split_whitespace().map(String::from).collect::<Vec<_>>()).collect();
    // Article `i` of the scale-up; the same every time it is made (a reopened story's members
    // are made again, as ingest reads them back from the store and profiles them again).
    let synthetic = |i: usize| {
        let mut state = 0x5eed_u64 ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut next = move |m: usize| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize % m
        };
        let (src, _) = &docs[i % docs.len()];
        let mut a = src.clone();
        a.id = ArticleId(format!("{i:016x}"));
        a.text = a.text.split(' ').map(|w| if next(4) == 0 { vocabulary[next(vocabulary.len())].as_str() } else { w }).collect::<Vec<_>>().join(" ");
        a.published = storyline_cluster::features::day_date(15_000 + (i / docs.len()) as i32 * 20).map(storyline_model::Published::day);
        Input { article: a.id.clone(), profile: storyline_cluster::profile(&a), copy_of: None }
    };
    for &n in sizes {
        let before = crate::copies_eval::peak_rss_mib().unwrap_or(0.0);
        let start = Instant::now();
        let mut engine = Engine::new(Params::default(), vec![], HashMap::new(), 0);
        let (mut reopened_stories, mut reopened_members) = (0usize, 0usize);
        // The members of each story, as the store keeps them.
        let mut members: HashMap<String, Vec<usize>> = HashMap::new();
        let mut story_of: HashMap<usize, String> = HashMap::new();
        let mut k = 0usize;
        while k < n {
            let end = (k + 4096).min(n);
            let inputs: Vec<Input> = (k..end).map(synthetic).collect();
            let reopen = engine.stories_to_reopen(&inputs);
            let reopened: Vec<(String, Vec<Input>)> =
                reopen.into_iter().map(|id| (id.clone(), members.get(&id).into_iter().flatten().map(|&i| synthetic(i)).collect())).collect();
            reopened_stories += reopened.len();
            reopened_members += reopened.iter().map(|(_, m)| m.len()).sum::<usize>();
            let out = engine.add_batch_reopening(inputs, reopened);
            for (gone, keep) in &out.merges {
                let moved = members.remove(gone).unwrap_or_default();
                for &i in &moved {
                    story_of.insert(i, keep.clone());
                }
                members.entry(keep.clone()).or_default().extend(moved);
            }
            for a in &out.assignments {
                let i = usize::from_str_radix(&a.article.0, 16).unwrap_or(0);
                if let Some(old) = story_of.insert(i, a.story.0.clone()) {
                    // A reopened member: it leaves its old story.
                    if let Some(m) = members.get_mut(&old) {
                        m.retain(|&x| x != i);
                    }
                }
                members.entry(a.story.0.clone()).or_default().push(i);
            }
            k = end;
        }
        let secs = start.elapsed().as_secs_f64();
        let after = crate::copies_eval::peak_rss_mib().unwrap_or(0.0);
        println!(
            "stories {n:>8} articles: {secs:.1} s = {:.0} articles/s, {} stories, {reopened_stories} stories reopened with {reopened_members} members, peak RSS {after:.0} MiB (before {before:.0} MiB)",
            n as f64 / secs,
            engine.stories()
        );
    }
    Ok(())
}
