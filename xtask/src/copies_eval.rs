//! `cargo xtask eval copies`: a labelled copy-detection set built from real text (ECB+ news
//! articles in ../shared/bench/stories), with realistic edits applied, and independent reports of
//! the same event as negatives. Built in memory each run; nothing is written to the repository.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use serde_json::Value;
use storyline_dedup::rewrite::{align, find_rewrites, is_rewrite, RewriteConfig, RewriteProfile};
use storyline_dedup::{find_copies, CopyInput, DedupConfig};
use storyline_model::{ArticleId, CopyKind, Side};

/// A small deterministic generator (xorshift), so the set is the same on every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Edit {
    Truncate,
    DropParagraphs,
    Reorder,
    InsertJunk,
    Typos,
    Headline,
    Embedded,
    /// Reworded by the spinner, half of the words WordNet has a synonym for replaced.
    RewriteLight,
    /// Reworded by the spinner, 90% of the words WordNet has a synonym for replaced.
    RewriteHeavy,
}

pub const EDITS: [Edit; 6] = [Edit::Truncate, Edit::DropParagraphs, Edit::Reorder, Edit::InsertJunk, Edit::Typos, Edit::Headline];

const JUNK: &[&str] = &[
    "Advertisement",
    "Click here to subscribe to our daily newsletter and never miss a story.",
    "Read more: https://news.example.com/more-stories-like-this",
    "Follow us on Facebook and Twitter for the latest updates.",
    "RELATED: Ten things you did not know about this story",
];

struct Doc {
    id: ArticleId,
    text: String,
    story: String,
    families: BTreeSet<usize>,
    edit: Option<Edit>,
    /// The original the edit was made from (for an embedded passage: the passage's article).
    origin: usize,
    /// The pasted passage, for an embedded copy.
    passage: String,
}

impl Edit {
    fn is_rewrite(self) -> bool {
        matches!(self, Edit::RewriteLight | Edit::RewriteHeavy)
    }
}

impl Doc {
    /// The ECB+ topic (the gold story id before its `-`).
    fn topic(&self) -> &str {
        self.story.split('-').next().unwrap_or_default()
    }

    /// In the half of the set the rewrite thresholds were chosen on (odd topics), or in the
    /// held-out half (even topics).
    fn in_tuning_half(&self, tuning: bool) -> bool {
        self.topic().parse::<usize>().is_ok_and(|t| (t % 2 == 1) == tuning)
    }

    fn is_rewrite(&self) -> bool {
        self.edit.is_some_and(Edit::is_rewrite)
    }
}

/// An unordered pair of texts as a key.
pub fn key(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

/// The pairs of texts (by position) that share a run of wire copy (see [`oracle_grams`]).
pub fn wire_links<'a>(texts: impl Iterator<Item = &'a str>) -> HashSet<(usize, usize)> {
    let mut by_gram: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, text) in texts.enumerate() {
        let mut grams: Vec<u64> = oracle_grams(text);
        grams.sort_unstable();
        grams.dedup();
        for g in grams {
            by_gram.entry(g).or_default().push(i);
        }
    }
    let mut linked: HashSet<(usize, usize)> = HashSet::new();
    for holders in by_gram.values() {
        for (x, &a) in holders.iter().enumerate() {
            for &b in &holders[x + 1..] {
                linked.insert(key(a, b));
            }
        }
    }
    linked
}

/// Whether two texts descend from originals that share wire copy.
pub fn wire_linked(linked: &HashSet<(usize, usize)>, fa: &BTreeSet<usize>, fb: &BTreeSet<usize>) -> bool {
    fa.iter().any(|&x| fb.iter().any(|&y| linked.contains(&key(x, y))))
}

pub fn edit(lines: &[&str], kind: Edit, rng: &mut Rng) -> Vec<String> {
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    match kind {
        Edit::Truncate => {
            let keep = (out.len() * (60 + rng.below(26)) / 100).max(2);
            out.truncate(keep);
        }
        Edit::DropParagraphs => {
            for _ in 0..(1 + rng.below(2)) {
                if out.len() > 4 {
                    let i = 1 + rng.below(out.len() - 1);
                    out.remove(i);
                }
            }
        }
        Edit::Reorder => {
            for _ in 0..2 {
                if out.len() > 3 {
                    let i = 1 + rng.below(out.len() - 2);
                    out.swap(i, i + 1);
                }
            }
        }
        Edit::InsertJunk => {
            for _ in 0..3 {
                let at = rng.below(out.len() + 1);
                out.insert(at, JUNK[rng.below(JUNK.len())].to_owned());
            }
        }
        Edit::Typos => {
            for line in &mut out {
                let mut words: Vec<String> = line.split(' ').map(str::to_owned).collect();
                for w in &mut words {
                    if w.len() > 4 && rng.below(100) < 3 {
                        let mut chars: Vec<char> = w.chars().collect();
                        let i = 1 + rng.below(chars.len() - 2);
                        chars.swap(i, i + 1);
                        *w = chars.into_iter().collect();
                    }
                }
                *line = words.join(" ");
            }
        }
        Edit::Headline => {
            if !out.is_empty() {
                out[0] = "UPDATED: What we know so far about the latest developments".to_owned();
            }
        }
        Edit::Embedded | Edit::RewriteLight | Edit::RewriteHeavy => {}
    }
    out
}

/// Builds the set, runs copy and rewrite detection, prints the figures.
/// The copy set as JSON Lines articles (`id`, `text`), for ingesting it through the pipeline.
pub fn write_corpus(bench: &Path, out: &Path) -> Result<usize, String> {
    let (docs, _) = build(bench)?;
    let lines: String = docs.iter().map(|d| format!("{}\n", serde_json::json!({"id": d.id.0, "text": d.text}))).collect();
    std::fs::write(out, lines).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(docs.len())
}

pub fn run(bench: &Path) -> Result<Figures, String> {
    let (docs, with_rewrites) = build(bench)?;
    score(docs, with_rewrites)
}

/// The copy set: ECB+ articles, edited copies, embedded passages and spun rewrites, with what
/// each is a copy of.
fn build(bench: &Path) -> Result<(Vec<Doc>, bool), String> {
    let path = bench.join("stories/ecbplus.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let source: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let mut rng = Rng(0x5eed_cafe_f00d_1234);
    let mut docs: Vec<Doc> = Vec::new();
    for (i, v) in source.iter().enumerate() {
        docs.push(Doc {
            id: ArticleId(format!("o{i:05}")),
            text: v["text"].as_str().unwrap_or_default().to_owned(),
            story: v["story"].as_str().unwrap_or_default().to_owned(),
            families: BTreeSet::from([i]),
            edit: None,
            origin: i,
            passage: String::new(),
        });
    }
    let originals = docs.len();
    // One edited copy of every third article, cycling through the edit kinds.
    for i in (0..originals).step_by(3) {
        let lines: Vec<&str> = docs[i].text.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.len() < 4 {
            continue;
        }
        let kind = EDITS[(i / 3) % EDITS.len()];
        let edited = edit(&lines, kind, &mut rng).join("\n");
        docs.push(Doc {
            id: ArticleId(format!("e{i:05}")),
            text: edited,
            story: docs[i].story.clone(),
            families: BTreeSet::from([i]),
            edit: Some(kind),
            origin: i,
            passage: String::new(),
        });
    }
    // Wire passages embedded in another article of another topic (every ninth article).
    for i in (1..originals).step_by(9) {
        let lines: Vec<&str> = docs[i].text.lines().filter(|l| l.split_whitespace().count() >= 8).collect();
        if lines.len() < 5 {
            continue;
        }
        let start = 1 + rng.below(lines.len() - 4);
        let passage = lines[start..start + 3].join("\n");
        let host = (i + originals / 2) % originals;
        let host_lines: Vec<&str> = docs[host].text.lines().collect();
        let at = host_lines.len() / 2;
        let mut merged: Vec<&str> = host_lines[..at].to_vec();
        merged.push(&passage);
        merged.extend_from_slice(&host_lines[at..]);
        let text = merged.join("\n");
        docs.push(Doc {
            id: ArticleId(format!("p{i:05}")),
            text,
            story: docs[host].story.clone(),
            families: BTreeSet::from([i, host]),
            edit: Some(Edit::Embedded),
            origin: i,
            passage: passage.clone(),
        });
    }

    // Content-farm rewrites of every third article (not those edited above), at two strengths.
    let with_rewrites = match crate::spin::Synonyms::load() {
        Ok(synonyms) => {
            for i in (2..originals).step_by(3) {
                if docs[i].text.lines().filter(|l| !l.trim().is_empty()).count() < 4 {
                    continue;
                }
                let kind = if (i / 3) % 2 == 0 { Edit::RewriteLight } else { Edit::RewriteHeavy };
                let rate = if kind == Edit::RewriteLight { 50 } else { 90 };
                let text = crate::spin::spin(&docs[i].text, &synonyms, rate, &mut rng);
                docs.push(Doc {
                    id: ArticleId(format!("r{i:05}")),
                    text,
                    story: docs[i].story.clone(),
                    families: BTreeSet::from([i]),
                    edit: Some(kind),
                    origin: i,
                    passage: String::new(),
                });
            }
            true
        }
        Err(e) => {
            println!("copies     rewrites skipped: {e}");
            false
        }
    };
    Ok((docs, with_rewrites))
}

fn score(docs: Vec<Doc>, with_rewrites: bool) -> Result<Figures, String> {
    // Originals come first, and only they have no edit.
    let originals = docs.iter().take_while(|d| d.edit.is_none()).count();
    // How much verbatim text the spinner leaves: the share of a rewrite's word 5-grams that its
    // original also has (what copy anchors can see).
    for kind in [Edit::RewriteLight, Edit::RewriteHeavy] {
        let shares: Vec<f64> = docs.iter().filter(|d| d.edit == Some(kind)).map(|d| five_gram_share(&d.text, &docs[d.origin].text)).collect();
        if !shares.is_empty() {
            println!(
                "copies     {kind:?}: {} texts, mean share of word 5-grams kept verbatim {:.3}",
                shares.len(),
                shares.iter().sum::<f64>() / shares.len() as f64
            );
        }
    }

    let inputs: Vec<CopyInput<'_>> =
        docs.iter().map(|d| CopyInput { id: &d.id, text: &d.text, published: None, outlet: None, credited_source: None, scraper_markers: 0 }).collect();
    let start = std::time::Instant::now();
    let mut relations = find_copies(&inputs, &DedupConfig::default());
    let secs = start.elapsed().as_secs_f64();
    let index: HashMap<&ArticleId, usize> = docs.iter().enumerate().map(|(i, d)| (&d.id, i)).collect();
    // Rewrite candidates: every pair of one ECB+ topic (at ingest they are the members of one
    // story, a narrower set), less the pairs already found as copies.
    let copied: HashSet<(usize, usize)> = relations.iter().map(|r| key(index[&r.a], index[&r.b])).collect();
    let mut by_topic: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, d) in docs.iter().enumerate() {
        by_topic.entry(d.topic()).or_default().push(i);
    }
    let mut candidates: Vec<(usize, usize)> = Vec::new();
    for members in by_topic.values() {
        for (x, &a) in members.iter().enumerate() {
            for &b in &members[x + 1..] {
                if !copied.contains(&key(a, b)) {
                    candidates.push(key(a, b));
                }
            }
        }
    }
    candidates.sort_unstable();
    let start = std::time::Instant::now();
    let rewrites = if with_rewrites { find_rewrites(&inputs, &candidates, &RewriteConfig::default()) } else { Vec::new() };
    let rewrite_secs = start.elapsed().as_secs_f64();
    let rewrite_pairs: HashSet<(usize, usize)> = rewrites.iter().map(|r| key(index[&r.a], index[&r.b])).collect();
    relations.extend(rewrites);

    // ECB+ itself holds real copies: outlets of one event often print the same wire sentences.
    // Two originals that share a run of 15 words, at least 10 of them outside quotation marks,
    // are "wire-linked": not independent, so neither counted right nor wrong.
    let linked = wire_links(docs.iter().take(originals).map(|d| d.text.as_str()));
    // Precision: a predicted pair is right when the two texts share an origin, wrong when they
    // are neither related nor wire-linked.
    let mut correct = 0;
    let mut wrong = 0;
    // (right, wrong) of the rewrite relations alone.
    let mut rewrite_judged = (0usize, 0usize);
    let show_wrong: usize = std::env::var("SHOW_WRONG").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut found: HashMap<(usize, usize), CopyKind> = HashMap::new();
    for r in &relations {
        let (a, b) = (index[&r.a], index[&r.b]);
        let is_rewrite = r.relation == CopyKind::Rewrite;
        if !docs[a].families.is_disjoint(&docs[b].families) {
            correct += 1;
            rewrite_judged.0 += usize::from(is_rewrite);
        } else if !wire_linked(&linked, &docs[a].families, &docs[b].families) {
            wrong += 1;
            rewrite_judged.1 += usize::from(is_rewrite);
            if wrong <= show_wrong {
                let cut = |t: &str, s: usize, e: usize| t.chars().skip(s).take(e - s).collect::<String>();
                println!("  wrong: {:?} {} / {} sim {:.2}", r.relation, docs[a].id, docs[b].id, r.similarity);
                for span in r.shared.iter().take(3) {
                    println!("    a: {}", cut(&docs[a].text, span.a_start, span.a_end));
                    println!("    b: {}", cut(&docs[b].text, span.b_start, span.b_end));
                }
            }
        }
        found.insert(key(a, b), r.relation);
    }
    // Direction: of the relations found between an edited text and its origin, how many name
    // the origin as the original, the copy, or neither. The inputs carry no dates, outlets or
    // scraper markers, so only the text itself can decide.
    let mut direction: HashMap<Edit, [usize; 3]> = HashMap::new();
    for r in &relations {
        let (a, b) = (index[&r.a], index[&r.b]);
        let (origin, copy) = if b >= originals && docs[b].origin == a && docs[b].edit != Some(Edit::Embedded) {
            (Side::A, b)
        } else if a >= originals && docs[a].origin == b && docs[a].edit != Some(Edit::Embedded) {
            (Side::B, a)
        } else {
            continue;
        };
        let kind = docs[copy].edit.unwrap_or(Edit::Truncate);
        let slot = match r.original {
            Some(side) if side == origin => 0,
            Some(_) => 1,
            None => 2,
        };
        direction.entry(kind).or_default()[slot] += 1;
    }
    let mut dirs: Vec<_> = direction.into_iter().collect();
    dirs.sort_by_key(|(k, _)| *k);
    for (kind, [right, wrong, open]) in &dirs {
        println!("copies     direction {kind:?}: {right} right, {wrong} wrong, {open} undecided");
    }
    let decided: usize = dirs.iter().map(|(_, d)| d[0] + d[1]).sum();
    let direction_wrong: usize = dirs.iter().map(|(_, d)| d[1]).sum();
    println!("copies     direction: {direction_wrong} of {decided} decided relations name the copy as the original");
    // Recall: each edited text against the article(s) it came from.
    let mut by_edit: HashMap<Edit, (usize, usize, HashMap<String, usize>)> = HashMap::new();
    // The set's template, for the pair-alone check of a missed copy (made once, when asked).
    let template = std::env::var_os("SHOW_MISSED").map(|_| storyline_dedup::template_anchors(&inputs, &DedupConfig::default()));
    for (j, d) in docs.iter().enumerate().skip(originals) {
        let kind = d.edit.unwrap_or(Edit::Truncate);
        {
            let o = d.origin;
            let entry = by_edit.entry(kind).or_default();
            entry.1 += 1;
            if let Some(rel) = found.get(&key(o, j)) {
                entry.0 += 1;
                *entry.2.entry(format!("{rel:?}")).or_default() += 1;
            } else if let Some(template) = &template {
                let direct = storyline_dedup::compare_pair(&inputs[o], &inputs[j], template, &DedupConfig::default()).map(|r| r.relation);
                println!("  missed {kind:?}: {} from {} (pair alone: {direct:?}) {}", d.id, docs[o].id, d.passage.replace('\n', " / "));
            }
        }
    }
    // Independent reports: originals of the same event (gold story).
    let mut same_event_pairs = 0usize;
    let mut same_event_flagged = 0usize;
    let mut wire_linked_pairs = 0usize;
    let mut by_story: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, d) in docs.iter().enumerate().take(originals) {
        by_story.entry(d.story.as_str()).or_default().push(i);
    }
    for members in by_story.values() {
        for (x, &a) in members.iter().enumerate() {
            for &b in &members[x + 1..] {
                if linked.contains(&key(a, b)) {
                    wire_linked_pairs += 1;
                    continue;
                }
                same_event_pairs += 1;
                if found.contains_key(&key(a, b)) {
                    same_event_flagged += 1;
                }
            }
        }
    }
    // Precision of the copy relations (exact, near-duplicate, partial), the target, and
    // of the rewrites on their own.
    let (copy_right, copy_wrong) = (correct - rewrite_judged.0, wrong - rewrite_judged.1);
    let precision = copy_right as f64 / (copy_right + copy_wrong).max(1) as f64;
    let rewrite_precision = rewrite_judged.0 as f64 / (rewrite_judged.0 + rewrite_judged.1).max(1) as f64;
    let (hit, total) = by_edit.iter().filter(|(k, _)| !k.is_rewrite()).fold((0, 0), |(h, t), (_, (a, b, _))| (h + a, t + b));
    let recall = hit as f64 / total.max(1) as f64;
    let (rw_hit, rw_total) = by_edit.iter().filter(|(k, _)| k.is_rewrite()).fold((0, 0), |(h, t), (_, (a, b, _))| (h + a, t + b));
    let rewrite_recall = rw_hit as f64 / rw_total.max(1) as f64;
    let false_rate = same_event_flagged as f64 / same_event_pairs.max(1) as f64;
    println!(
        "copies     {} texts ({originals} ECB+ originals + {} edited), {} relations; copies in {secs:.2} s, rewrites over {} same-topic candidate pairs in {rewrite_secs:.2} s",
        docs.len(),
        docs.len() - originals,
        relations.len(),
        candidates.len()
    );
    let mut kinds: Vec<_> = by_edit.into_iter().collect();
    kinds.sort_by_key(|(k, _)| *k);
    for (kind, (h, t, rels)) in kinds {
        let mut rels: Vec<_> = rels.into_iter().collect();
        rels.sort();
        println!("copies     recall {kind:?}: {h}/{t} = {:.3}  as {rels:?}", h as f64 / t.max(1) as f64);
    }
    println!(
        "copies     pairwise precision of copies {precision:.4} ({copy_right} right, {copy_wrong} wrong), of rewrites {rewrite_precision:.4} ({} right, {} wrong), all {:.4}; {} relations between wire-linked texts not counted",
        rewrite_judged.0,
        rewrite_judged.1,
        correct as f64 / (correct + wrong).max(1) as f64,
        relations.len() - correct - wrong
    );
    println!("copies     recall of copies {recall:.4} ({hit}/{total}), of rewrites (by any relation) {rewrite_recall:.4} ({rw_hit}/{rw_total})");
    println!(
        "copies     same-event independent pairs called copies or rewrites: {same_event_flagged}/{same_event_pairs} = {false_rate:.4} ({wire_linked_pairs} same-event pairs share verbatim wire sentences and are left out)"
    );
    // The rewrite rule by half of the set: odd topics were used to choose its thresholds, even
    // topics were not.
    for (half, tuning) in [("dev (odd topics)", true), ("test (even topics)", false)] {
        let in_half = |d: &Doc| d.in_tuning_half(tuning);
        let (mut hit, mut total) = (0, 0);
        for (j, d) in docs.iter().enumerate().skip(originals).filter(|(_, d)| in_half(d) && d.is_rewrite()) {
            total += 1;
            if found.contains_key(&key(d.origin, j)) {
                hit += 1;
            }
        }
        let (mut pairs, mut flagged) = (0, 0);
        for members in by_story.values() {
            for (x, &a) in members.iter().enumerate().filter(|(_, &a)| in_half(&docs[a])) {
                for &b in &members[x + 1..] {
                    if !linked.contains(&key(a, b)) {
                        pairs += 1;
                        flagged += usize::from(rewrite_pairs.contains(&key(a, b)));
                    }
                }
            }
        }
        println!(
            "copies     rewrites, {half}: recall {hit}/{total} = {:.3}; same-event independent pairs called rewrites {flagged}/{pairs} = {:.4}",
            hit as f64 / total.max(1) as f64,
            flagged as f64 / pairs.max(1) as f64
        );
    }
    if std::env::var_os("REWRITE_GRID").is_some() {
        rewrite_grid(&docs, &inputs, &candidates, &linked, &copied, originals);
    }
    Ok(Figures { precision, recall, false_rate, rewrite_recall })
}

/// What the copy eval measures, for the gate.
pub struct Figures {
    pub precision: f64,
    pub recall: f64,
    pub false_rate: f64,
    pub rewrite_recall: f64,
}

/// `REWRITE_GRID=1`: the rewrite thresholds over a grid, on the development half (odd topics)
/// only: rewrite recall, same-event independent pairs called rewrites, and other wrong pairs.
fn rewrite_grid(
    docs: &[Doc],
    inputs: &[CopyInput<'_>],
    candidates: &[(usize, usize)],
    linked: &HashSet<(usize, usize)>,
    copied: &HashSet<(usize, usize)>,
    originals: usize,
) {
    let pairs: Vec<(usize, usize)> = candidates.iter().copied().filter(|&(a, _)| docs[a].in_tuning_half(true)).collect();
    let rewritten: Vec<(usize, &Doc)> = docs.iter().enumerate().skip(originals).filter(|(_, d)| d.in_tuning_half(true) && d.is_rewrite()).collect();
    let positives = rewritten.len();
    let by_copies = rewritten.iter().filter(|(j, d)| copied.contains(&key(d.origin, *j))).count();
    for similarity in [0.35f32, 0.4, 0.45, 0.5, 0.55] {
        let base = RewriteConfig { sentence_similarity: similarity, ..RewriteConfig::default() };
        let profiles: Vec<RewriteProfile> = inputs.iter().map(|d| RewriteProfile::new(d.text, &base)).collect();
        let alignments: Vec<_> = pairs.iter().map(|&(a, b)| align(&profiles[a], &profiles[b], &base)).collect();
        for min_sentences in [3usize, 4, 5] {
            for min_share in [0.2f32, 0.3, 0.4, 0.5] {
                for min_density in [0.4f32, 0.5, 0.6, 0.7] {
                    let config = RewriteConfig { min_sentences, min_share, min_density, ..base.clone() };
                    let (mut hit, mut same_event, mut wrong) = (by_copies, 0, 0);
                    for (&(a, b), al) in pairs.iter().zip(&alignments) {
                        if !is_rewrite(al, &config) {
                            continue;
                        }
                        let (da, db) = (&docs[a], &docs[b]);
                        if !da.families.is_disjoint(&db.families) {
                            if (db.is_rewrite() && db.origin == a) || (da.is_rewrite() && da.origin == b) {
                                hit += 1;
                            }
                        } else if !wire_linked(linked, &da.families, &db.families) {
                            wrong += 1;
                            if a < originals && b < originals && da.story == db.story {
                                same_event += 1;
                            }
                        }
                    }
                    println!(
                        "grid sim {similarity:.2} n {min_sentences} share {min_share:.1} density {min_density:.1}: recall {:.3} same-event {same_event} wrong {wrong}",
                        hit as f64 / positives.max(1) as f64
                    );
                }
            }
        }
    }
}

/// The share of `text`'s word 5-grams that `other` also has.
fn five_gram_share(text: &str, other: &str) -> f64 {
    let grams = |t: &str| -> Vec<String> {
        let words: Vec<String> = t.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
        words.windows(5).map(|w| w.join(" ")).collect()
    };
    let theirs: std::collections::HashSet<String> = grams(other).into_iter().collect();
    let ours = grams(text);
    ours.iter().filter(|g| theirs.contains(*g)).count() as f64 / ours.len().max(1) as f64
}

/// Word 15-grams with at least 10 words outside quotation marks, hashed (the oracle for
/// "these two texts share wire copy"). Words are lower-cased alphanumeric runs.
fn oracle_grams(text: &str) -> Vec<u64> {
    let mut words: Vec<(String, bool)> = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            current.extend(c.to_lowercase());
            continue;
        }
        if !current.is_empty() {
            words.push((std::mem::take(&mut current), quoted));
        }
        match c {
            '\u{201c}' => quoted = true,
            '\u{201d}' | '\n' => quoted = false,
            '"' => quoted = !quoted,
            _ => {}
        }
    }
    if !current.is_empty() {
        words.push((current, quoted));
    }
    words
        .windows(15)
        .filter(|w| w.iter().filter(|(_, q)| !q).count() >= 10)
        .map(|w| xxhash_rust::xxh3::xxh3_64(w.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join(" ").as_bytes()))
        .collect()
}

/// Synthetic scale-up of real text: each article is 8 to 15 sentences drawn from random ECB+
/// articles with half their words replaced from the corpus vocabulary (so articles differ), and
/// every tenth article is a truncated copy of an earlier one. Written as JSONL for the peer.
pub fn scaled_corpus(bench: &Path, n: usize, out: &Path) -> Result<Vec<String>, String> {
    let path = bench.join("stories/ecbplus.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let source: Vec<String> =
        text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).map(|v| v["text"].as_str().unwrap_or_default().to_owned()).collect();
    let vocabulary: Vec<&str> = source.iter().flat_map(|t| t.split_whitespace()).collect();
    let mut rng = Rng(0x0dd_ba11_5eed_7777);
    let mut texts: Vec<String> = Vec::with_capacity(n);
    for k in 0..n {
        if k % 10 == 9 {
            let earlier = &texts[rng.below(k)];
            let cut = earlier.len() * 3 / 4;
            let cut = (0..=cut).rev().find(|&i| earlier.is_char_boundary(i)).unwrap_or(0);
            texts.push(earlier[..cut].to_owned());
            continue;
        }
        // 8 to 15 sentences from random articles, each word replaced with probability 1/2.
        let mut article = Vec::new();
        for _ in 0..8 + rng.below(8) {
            let lines: Vec<&str> = source[rng.below(source.len())].lines().collect();
            let sentence = lines[rng.below(lines.len())];
            let words: Vec<&str> = sentence.split_whitespace().map(|w| if rng.below(2) == 0 { vocabulary[rng.below(vocabulary.len())] } else { w }).collect();
            article.push(words.join(" "));
        }
        texts.push(article.join("\n"));
    }
    let lines: Vec<String> = texts.iter().enumerate().map(|(i, t)| serde_json::json!({"id": format!("s{i}"), "text": t}).to_string()).collect();
    std::fs::write(out, lines.join("\n")).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(texts)
}

/// Copy detection over `texts`: seconds, relations found.
pub fn time_copies(texts: &[String]) -> (f64, usize) {
    let ids: Vec<ArticleId> = (0..texts.len()).map(|i| ArticleId(format!("s{i}"))).collect();
    let inputs: Vec<CopyInput<'_>> =
        texts.iter().zip(&ids).map(|(t, id)| CopyInput { id, text: t, published: None, outlet: None, credited_source: None, scraper_markers: 0 }).collect();
    let start = std::time::Instant::now();
    let relations = find_copies(&inputs, &DedupConfig::default());
    (start.elapsed().as_secs_f64(), relations.len())
}

/// Peak resident memory of this process so far, in MiB (Linux).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
