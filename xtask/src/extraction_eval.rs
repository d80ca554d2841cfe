//! Main-text extraction on both extraction dev sets (trafilatura-eval: snippets; dragnet: word
//! 4-grams), ours beside three peers measured in the same run: the bare `trafilatura` crate our
//! extractor is built on (default options), `rs-trafilatura` (another port) and Python
//! trafilatura 2.3.1 (`scripts/setup-peers.sh` installs it into `.venv`). Also the per-rule
//! ablation: each of our rules switched off in turn, on both sets.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

use crate::eval::{read_gold, read_page, score_snippets, squash, Snippets};

/// The two extraction sets.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Set {
    TrafilaturaEval,
    Dragnet,
}

impl Set {
    pub const BOTH: [Set; 2] = [Set::TrafilaturaEval, Set::Dragnet];

    pub fn name(self) -> &'static str {
        match self {
            Set::TrafilaturaEval => "trafilatura-eval",
            Set::Dragnet => "dragnet",
        }
    }

    pub fn dir(self, bench: &Path) -> PathBuf {
        bench.join("extraction").join(self.name())
    }
}

/// Precision, recall and F1 of one extractor on one set.
#[derive(Clone, Copy, Default)]
pub struct Score {
    pub p: f64,
    pub r: f64,
    pub f: f64,
}

/// Texts by page file name (`x.html.gz`) and the seconds extraction took.
pub struct Run {
    pub texts: HashMap<String, String>,
    pub seconds: f64,
    pub pages: usize,
}

fn page_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("pages"))
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".html.gz"))
        .collect();
    files.sort();
    Ok(files)
}

fn name_of(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// `storyline extract` on one core, with the named rules switched off.
pub fn ours(bin: &Path, dir: &Path, without: &[&str]) -> Result<Run, String> {
    let crate::eval::Extracted { docs, seconds, failed } = crate::eval::extract(bin, &[dir.join("pages")], without)?;
    if let Some(why) = failed {
        return Err(format!("storyline extract failed: {why}"));
    }
    let texts: HashMap<String, String> =
        docs.iter().map(|(source, d)| (name_of(Path::new(source)), d["text"].as_str().unwrap_or_default().to_owned())).collect();
    Ok(Run { pages: texts.len(), texts, seconds })
}

/// A peer running in this process: pages are read and decompressed before the clock starts.
fn in_process(dir: &Path, extract: &dyn Fn(&str) -> String) -> Result<Run, String> {
    let mut pages = Vec::new();
    for path in page_files(dir)? {
        pages.push((name_of(&path), read_page(&path)?));
    }
    let start = Instant::now();
    let texts: HashMap<String, String> = pages.iter().map(|(name, html)| (name.clone(), extract(html))).collect();
    Ok(Run { pages: texts.len(), texts, seconds: start.elapsed().as_secs_f64() })
}

/// Ours in this process, timed as the peers are: the pages are read (gunzipped, decoded) into
/// raw documents before the clock starts, then extracted one after another on this thread. The
/// same extraction `storyline extract` runs, without its reading, scheduling and JSON output.
pub fn ours_in_process(dir: &Path) -> Result<Run, String> {
    let mut docs = Vec::new();
    for path in page_files(dir)? {
        let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        storyline_ingest::read_stream(&name_of(&path), file, &storyline_ingest::ReadConfig::default(), &mut |item| {
            if let storyline_ingest::Item::Document(doc) = item {
                docs.push(doc);
            }
        });
    }
    // Only scraped text contributes to the corpus statistics, so HTML pages see none.
    let stats = storyline_extract::CorpusStats::default();
    let start = Instant::now();
    let texts: HashMap<String, String> = docs
        .iter()
        .map(|doc| {
            let text = match storyline_extract::extract_guarded(doc, &stats) {
                storyline_extract::Guarded::Extracted(article) => article.text,
                storyline_extract::Guarded::Recovered { article, .. } => article.map(|a| a.text).unwrap_or_default(),
            };
            (doc.source.clone(), text)
        })
        .collect();
    Ok(Run { pages: texts.len(), texts, seconds: start.elapsed().as_secs_f64() })
}

/// The `trafilatura` crate with its default options: the extractor ours starts from.
fn bare_crate(dir: &Path, exclude_comments: bool) -> Result<Run, String> {
    let options = trafilatura::Options::default().with_exclude_comments(exclude_comments);
    in_process(dir, &|html| trafilatura::extract(html, &options).map(|r| r.content_text).unwrap_or_default())
}

/// `rs-trafilatura` with its default options.
fn rs_trafilatura(dir: &Path) -> Result<Run, String> {
    in_process(dir, &|html| rs_trafilatura::extract(html).map(|r| r.content_text).unwrap_or_default())
}

/// A Rust peer by name, in this process: `cargo xtask eval` runs from its release build
/// ([`crate::eval::in_release`]), so the peers are timed optimised.
fn rust_peer(name: &str, dir: &Path) -> Result<Run, String> {
    match name {
        "crate" => bare_crate(dir, false),
        "crate-without-comments" => bare_crate(dir, true),
        "rs-trafilatura" => rs_trafilatura(dir),
        _ => Err(format!("no peer {name}")),
    }
}

/// Reads what a peer printed: `{"file", "text"}` lines and a `{"seconds"}` line.
fn read_run(stdout: &[u8], who: &str) -> Result<Run, String> {
    let mut texts = HashMap::new();
    let mut seconds = 0.0;
    for line in String::from_utf8_lossy(stdout).lines() {
        let v: Value = serde_json::from_str(line).map_err(|e| format!("{who} printed {line:?}: {e}"))?;
        if let Some(s) = v.get("seconds").and_then(Value::as_f64) {
            seconds = s;
        } else {
            texts.insert(v["file"].as_str().unwrap_or_default().to_owned(), v["text"].as_str().unwrap_or_default().to_owned());
        }
    }
    Ok(Run { pages: texts.len(), texts, seconds })
}

pub const PYTHON: &str = ".venv/bin/python";

/// Python trafilatura (comments left out, as ours), pinned to one core; `Ok(None)` when it is
/// not installed.
pub fn python_trafilatura(dir: &Path, metadata: bool) -> Result<Option<Run>, String> {
    // A venv whose set-up failed half-way (no pip, no network) has a python without trafilatura:
    // that is "not installed", not a failed evaluation.
    let importable = Path::new(PYTHON).exists() && Command::new(PYTHON).args(["-c", "import trafilatura"]).output().is_ok_and(|o| o.status.success());
    if !importable {
        return Ok(None);
    }
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", "0", PYTHON, "scripts/peer_trafilatura.py"]).arg(dir.join("pages"));
    if metadata {
        cmd.arg("--metadata");
    }
    let out = cmd.output().map_err(|e| format!("running Python trafilatura: {e}"))?;
    if !out.status.success() {
        return Err(format!("Python trafilatura failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    read_run(&out.stdout, "Python trafilatura").map(Some)
}

/// Scores a run on its set.
pub fn score(set: Set, bench: &Path, run: &Run) -> Result<Score, String> {
    let dir = set.dir(bench);
    let gold = read_gold(&dir.join("gold.json"))?;
    Ok(match set {
        Set::TrafilaturaEval => {
            let s = snippet_splits(&gold, &dir, run)["all"];
            Score { p: s.precision(), r: s.recall(), f: s.f1() }
        }
        Set::Dragnet => {
            let per_page = dragnet_pages(&gold, run);
            let n = per_page.len().max(1) as f64;
            let p = per_page.values().map(|s| s.p).sum::<f64>() / n;
            let r = per_page.values().map(|s| s.r).sum::<f64>() / n;
            Score { p, r, f: if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 } }
        }
    })
}

/// trafilatura-eval snippets of a run, by split (dev, test, all).
fn snippet_splits(gold: &serde_json::Map<String, Value>, dir: &Path, run: &Run) -> HashMap<&'static str, Snippets> {
    let texts: HashMap<String, String> = run.texts.iter().map(|(name, t)| (format!("pages/{name}"), squash(t))).collect();
    score_snippets(gold, dir, &texts)
}

fn grams(text: &str) -> HashMap<Vec<String>, usize> {
    let words: Vec<String> = text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    let mut counts = HashMap::new();
    for w in words.windows(4) {
        *counts.entry(w.to_vec()).or_insert(0) += 1;
    }
    counts
}

/// Dragnet: per page, precision and recall of the gold's word 4-grams (the Zyte
/// article-extraction-benchmark metric; a page with no text has precision 0, or 1 when its gold
/// is empty too).
pub fn dragnet_pages(gold: &serde_json::Map<String, Value>, run: &Run) -> HashMap<String, Score> {
    let mut out = HashMap::new();
    for (key, entry) in gold {
        let found = run.texts.get(&format!("{key}.html.gz")).map_or("", String::as_str);
        let (g, f) = (grams(entry["articleBody"].as_str().unwrap_or_default()), grams(found));
        let common: usize = f.iter().map(|(k, n)| (*n).min(g.get(k).copied().unwrap_or(0))).sum();
        let (nf, ng) = (f.values().sum::<usize>(), g.values().sum::<usize>());
        let p = match (nf, ng) {
            (0, 0) => 1.0,
            (0, _) => 0.0,
            _ => common as f64 / nf as f64,
        };
        let r = if ng == 0 { 1.0 } else { common as f64 / ng as f64 };
        out.insert(key.clone(), Score { p, r, f: if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 } });
    }
    out
}

/// The bare crate with the one option ours sets: comments left out of the main text (the
/// dragnet gold counts blog comments as the article's text; Storyline keeps them out, as Python
/// trafilatura is run here). Its recall is the floor ours must not fall below.
const BARE_LIKE_OURS: &str = "  same, comments left out";

/// Ours and the three peers on both sets. Returns ours and the best peer's F1 by set, and the
/// bare crate's recall (comments left out) by set.
pub struct Comparison {
    pub ours: HashMap<&'static str, Score>,
    pub best_peer: HashMap<&'static str, (String, f64)>,
    pub bare_recall: HashMap<&'static str, f64>,
    /// Ours on trafilatura-eval by split (dev, test, all).
    pub splits: HashMap<&'static str, Snippets>,
}

pub fn compare(bin: &Path, bench: &Path) -> Result<Comparison, String> {
    let mut c = Comparison { ours: HashMap::new(), best_peer: HashMap::new(), bare_recall: HashMap::new(), splits: HashMap::new() };
    for set in Set::BOTH {
        let dir = set.dir(bench);
        if !dir.join("gold.json").exists() {
            println!("extraction {:<16} skipped: {} absent", set.name(), dir.display());
            continue;
        }
        let mine = ours(bin, &dir, &[])?;
        if set == Set::TrafilaturaEval {
            c.splits = snippet_splits(&read_gold(&dir.join("gold.json"))?, &dir, &mine);
        }
        let mut rows: Vec<(String, Run)> = vec![
            ("storyline".into(), mine),
            (IN_PROCESS.into(), ours_in_process(&dir)?),
            ("trafilatura crate 0.6".into(), rust_peer("crate", &dir)?),
            (BARE_LIKE_OURS.into(), rust_peer("crate-without-comments", &dir)?),
            ("rs-trafilatura 0.2.2".into(), rust_peer("rs-trafilatura", &dir)?),
        ];
        match python_trafilatura(&dir, false)? {
            Some(run) => rows.push(("python trafilatura 2.3.1".into(), run)),
            None => {
                println!("extraction {:<16} python trafilatura skipped: {PYTHON} cannot import trafilatura (scripts/setup-peers.sh installs it)", set.name())
            }
        }
        let (ours_secs, in_process_secs) = (rows[0].1.seconds, rows[1].1.seconds);
        for (label, run) in &rows {
            let s = score(set, bench, run)?;
            let ratios = if label == "storyline" || label == IN_PROCESS {
                String::new()
            } else {
                format!("  (ours {:.2}x its speed; in-process {:.2}x)", run.seconds / ours_secs.max(1e-9), run.seconds / in_process_secs.max(1e-9))
            };
            println!(
                "extraction {:<16} {label:<25} pages {:>4}  P {:.3}  R {:.3}  F1 {:.3}  {:>6.1} pages/s{ratios}",
                set.name(),
                run.pages,
                s.p,
                s.r,
                s.f,
                run.pages as f64 / run.seconds.max(1e-9),
            );
            if label == "storyline" {
                c.ours.insert(set.name(), s);
            } else if label == IN_PROCESS {
                if (s.f - c.ours[set.name()].f).abs() > 1e-9 {
                    return Err(format!("{}: storyline in-process F1 {:.4} is not the CLI's {:.4}", set.name(), s.f, c.ours[set.name()].f));
                }
            } else {
                if label == BARE_LIKE_OURS {
                    c.bare_recall.insert(set.name(), s.r);
                }
                let best = c.best_peer.entry(set.name()).or_insert((label.clone(), 0.0));
                if s.f > best.1 {
                    *best = (label.clone(), s.f);
                }
            }
        }
    }
    Ok(c)
}

/// The row of ours timed in this process like the peers.
const IN_PROCESS: &str = "storyline in-process";

/// An F1 difference smaller than this (a few snippets of thousands) is no measurable effect.
const NO_EFFECT: f64 = 0.00005;

/// `cargo xtask eval extraction-rules`: every rule switched off in turn, on both sets; a rule
/// earns its place when switching it off makes neither set better.
pub fn ablation(bin: &Path, bench: &Path) -> Result<(), String> {
    let sets: Vec<Set> = Set::BOTH.into_iter().filter(|s| s.dir(bench).join("gold.json").exists()).collect();
    let mut base = HashMap::new();
    for &set in &sets {
        base.insert(set.name(), score(set, bench, &ours(bin, &set.dir(bench), &[])?)?);
        let b = base[set.name()];
        println!("rules      {:<16} all rules on            P {:.4}  R {:.4}  F1 {:.4}", set.name(), b.p, b.r, b.f);
    }
    for rule in storyline_extract::rules::Rule::ALL {
        let mut cells = Vec::new();
        let mut hurts = Vec::new();
        for &set in &sets {
            let s = score(set, bench, &ours(bin, &set.dir(bench), &[rule.name()])?)?;
            let b = base[set.name()];
            // What the rule gains: the score with it minus the score without it.
            let (dp, dr, df) = (b.p - s.p, b.r - s.r, b.f - s.f);
            cells.push(format!("{}: F1 {df:+.4} (P {dp:+.4} R {dr:+.4})", set.name()));
            if df <= -NO_EFFECT {
                hurts.push(set.name());
            }
        }
        let verdict = if !hurts.is_empty() {
            format!("costs on {}", hurts.join(" and "))
        } else if cells.is_empty() {
            String::new()
        } else {
            "keeps its place".to_owned()
        };
        println!("rules      {:<20} gains  {}  -> {verdict}", rule.name(), cells.join("  "));
    }
    Ok(())
}
