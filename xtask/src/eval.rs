//! Quality and speed measurements on ../shared/bench, through the same `storyline extract`
//! interface users and evaluations call. Nothing from the bench is copied into the repository;
//! generated files go to `bench-out/` (ignored).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

/// Pinned floors: the eval fails below them. Raising one is a commit of its own.
const FLOOR_EXTRACTION_F1: f64 = 0.943;
const FLOOR_DRAGNET_F1: f64 = 0.86;
const FLOOR_DATES_F: f64 = 0.945;
const FLOOR_DATES_URL_F: f64 = 0.95;
const FLOOR_CLEANING_F1: f64 = 0.50;
const FLOOR_SUPPORT_F05: f64 = 0.88;
const FLOOR_COPIES_PRECISION: f64 = 0.98;
const FLOOR_COPIES_RECALL: f64 = 0.95;
const CEILING_SAME_EVENT_COPIES: f64 = 0.01;
const FLOOR_FURNITURE_PRECISION: f64 = 0.99;
const FLOOR_FURNITURE_RECALL: f64 = 0.98;
const FLOOR_REWRITE_RECALL: f64 = 0.93;
const FLOOR_STORIES_BCUBED: f64 = 0.925;
const CEILING_STORIES_DRIFT: f64 = 0.01;
const FLOOR_NER_F1: f64 = 0.88;
const FLOOR_NER_ENCODER_F1: f64 = 0.91;
const FLOOR_QUOTES_OVERLAP_F1: f64 = 0.5;

struct Opts {
    bench: PathBuf,
    only: Option<String>,
}

fn opts(args: &[String]) -> Result<Opts, String> {
    let mut bench = PathBuf::from("../shared/bench");
    let mut only = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--bench" => bench = PathBuf::from(it.next().ok_or("--bench needs a directory")?),
            other if !other.starts_with('-') => only = Some(other.to_owned()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if !bench.join("README.md").exists() {
        return Err(format!("no bench data at {} (pass --bench DIR)", bench.display()));
    }
    Ok(Opts { bench, only })
}

/// `cargo xtask eval [extraction|dates|cleaning]`
pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(done) = in_release(&[&["eval".to_owned()], args].concat()) {
        return done;
    }
    let o = opts(args)?;
    let bin = build()?;
    let mut failures = Vec::new();
    let wants = |name: &str| o.only.as_deref().is_none_or(|n| n == name);
    if wants("extraction") || o.only.as_deref() == Some("dragnet") {
        let c = crate::extraction_eval::compare(&bin, &o.bench)?;
        for (split, s) in &c.splits {
            println!("extraction {split:<5} pages {:>4}  P {:.3}  R {:.3}  F1 {:.3}", s.pages, s.precision(), s.recall(), s.f1());
        }
        for (set, ours) in &c.ours {
            if let Some((peer, best)) = c.best_peer.get(set) {
                println!("extraction {set:<16} ours F1 {:.3} vs best peer {best:.3} ({}): {:+.3}", ours.f, peer.trim(), ours.f - best);
            }
            let floor = if *set == "dragnet" { FLOOR_DRAGNET_F1 } else { FLOOR_EXTRACTION_F1 };
            if ours.f < floor {
                failures.push(format!("extraction F1 on {set} below floor {floor}"));
            }
            if let Some(bare) = c.bare_recall.get(set) {
                if ours.r < *bare {
                    failures.push(format!("extraction recall on {set} ({:.4}) below the bare crate's ({bare:.4})", ours.r));
                }
            }
        }
    }
    if o.only.as_deref() == Some("extraction-rules") {
        crate::extraction_eval::ablation(&bin, &o.bench)?;
    }
    if wants("dates") {
        let (_, s) = dates(&bin, &o.bench)?;
        let with_urls = dates_with_urls(&bin, &o.bench)?;
        for (split, s) in s.iter().map(|(k, v)| (format!("{k} page"), v)).chain(with_urls.iter().map(|(k, v)| (format!("{k} +url"), v))) {
            println!(
                "dates      {split:<9} pages {:>4}  TP {} FP {} FN {}  P {:.3}  R {:.3}  F {:.3}",
                s.pages,
                s.tp,
                s.fp,
                s.fn_,
                s.precision(),
                s.recall(),
                s.f1()
            );
        }
        if s["all"].f1() < FLOOR_DATES_F {
            failures.push(format!("date F below floor {FLOOR_DATES_F}"));
        }
        if with_urls["all"].f1() < FLOOR_DATES_URL_F {
            failures.push(format!("date F with the pages' URLs below floor {FLOOR_DATES_URL_F}"));
        }
    }
    if wants("cleaning") {
        let s = cleaning(&bin, &o.bench)?;
        println!(
            "cleaning   lines labelled remove {} keep {}  removal P {:.3}  R {:.3}  F1 {:.3}  (kept-line loss {:.3})",
            s.remove_total,
            s.keep_total,
            s.precision(),
            s.recall(),
            s.f1(),
            s.keep_lost as f64 / s.keep_total.max(1) as f64
        );
        if s.f1() < FLOOR_CLEANING_F1 {
            failures.push(format!("cleaning F1 below floor {FLOOR_CLEANING_F1}"));
        }
    }
    if wants("copies") {
        let crate::copies_eval::Figures { precision, recall, false_rate, rewrite_recall } = crate::copies_eval::run(&o.bench)?;
        if precision < FLOOR_COPIES_PRECISION || recall < FLOOR_COPIES_RECALL || false_rate > CEILING_SAME_EVENT_COPIES || rewrite_recall < FLOOR_REWRITE_RECALL
        {
            failures.push(format!(
                "copies outside the gate (precision >= {FLOOR_COPIES_PRECISION}, recall >= {FLOOR_COPIES_RECALL}, same-event false copies <= {CEILING_SAME_EVENT_COPIES}, rewrite recall >= {FLOOR_REWRITE_RECALL})"
            ));
        }
    }
    if wants("copies") || o.only.as_deref() == Some("furniture") {
        // Gated: the copy step on the texts as handed over. The texts after cleaning are
        // printed too; what cleaning loses of an article there is the cleaning set's business.
        if !o.bench.join("extraction/dragnet/gold.json").exists() {
            println!("furniture  skipped: {} is not present", o.bench.join("extraction/dragnet").display());
        } else {
            let (as_is, _cleaned) = crate::furniture_eval::run(&o.bench)?;
            if as_is.precision < FLOOR_FURNITURE_PRECISION || as_is.recall < FLOOR_FURNITURE_RECALL {
                failures.push(format!(
                    "copies among whole-page texts outside the gate (precision >= {FLOOR_FURNITURE_PRECISION}, recall >= {FLOOR_FURNITURE_RECALL})"
                ));
            }
        }
    }
    if o.only.as_deref() == Some("furniture-rules") {
        crate::furniture_eval::ablation(&o.bench)?;
    }
    if wants("support") {
        let f1 = crate::support_eval::run(&o.bench)?;
        if f1 < FLOOR_SUPPORT_F05 {
            failures.push(format!("citation support F0.5 below floor {FLOOR_SUPPORT_F05}"));
        }
    }
    if wants("ner") {
        let test = o.bench.join("ner/conll2003/test.txt");
        let (p, r, f, speed) = crate::ner_eval::score(&bin, &test)?;
        println!("ner        CoNLL-2003 test  P {p:.3}  R {r:.3}  F1 {f:.4}  ({speed})");
        if f < FLOOR_NER_F1 {
            failures.push(format!("NER F1 below floor {FLOOR_NER_F1}"));
        }
        if let Some((p, r, f, speed)) = crate::ner_eval::score_with_encoder(&bin, &test)? {
            println!("ner+enc    CoNLL-2003 test  P {p:.3}  R {r:.3}  F1 {f:.4}  (tagger with the MiniLM encoder, one thread; {speed})");
            if f < FLOOR_NER_ENCODER_F1 {
                failures.push(format!("NER F1 with the encoder below floor {FLOOR_NER_ENCODER_F1}"));
            }
        }
    }
    if o.only.as_deref() == Some("ner-variants") {
        let shipped = crate::ner_eval::variants(&o.bench)?;
        if shipped < FLOOR_NER_F1 {
            failures.push(format!("NER F1 of the shipped design trained on train.txt below floor {FLOOR_NER_F1}"));
        }
    }
    if wants("quotes") {
        let f = crate::quotes_eval::run(&o.bench)?;
        if f < FLOOR_QUOTES_OVERLAP_F1 {
            failures.push(format!("quote overlap F1 below floor {FLOOR_QUOTES_OVERLAP_F1}"));
        }
    }
    if o.only.as_deref() == Some("stories-analyse") {
        crate::stories_eval::analyse(&o.bench, storyline_cluster::Params::default())?;
    }
    if wants("stories") || o.only.as_deref() == Some("stories-tune") {
        let (f1, drift) = crate::stories_eval::run(&o.bench, o.only.as_deref() == Some("stories-tune"))?;
        if f1 < FLOOR_STORIES_BCUBED || drift > CEILING_STORIES_DRIFT {
            failures.push(format!("stories outside the gate (B-cubed F1 >= {FLOOR_STORIES_BCUBED}, batch drift <= {CEILING_STORIES_DRIFT})"));
        }
    }
    if wants("queue") {
        match crate::queue_bench::available() {
            Ok(()) => {
                let (single, queued) = crate::queue_bench::eval(&o.bench, &bin)?;
                if (single - queued).abs() > crate::queue_bench::CEILING_QUEUE_DRIFT {
                    failures.push(format!("stories through the queue differ from one process's by more than {}", crate::queue_bench::CEILING_QUEUE_DRIFT));
                }
            }
            Err(why) => println!("queue      skipped: {why}"),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

/// Builds the release binary and returns its path.
pub fn build() -> Result<PathBuf, String> {
    // Both in one cargo invocation: features are unified across the packages named, so the
    // dependencies they share compile once (two invocations compiled candle, tantivy and the rest
    // twice, about four minutes of CI on two cores).
    let status = Command::new("cargo").args(["build", "--release", "--quiet", "-p", "storyline-cli", "-p", "xtask"]).status().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("building storyline failed".into());
    }
    Ok(PathBuf::from("target/release/storyline"))
}

/// The release build of this program, which [`build`] makes beside the storyline binary.
const RELEASE_XTASK: &str = "target/release/xtask";

/// Runs `xtask ARGS` again from its release build when this process is the unoptimised one the
/// `cargo xtask` alias builds: the evals and benches run our crates inside this process (copies,
/// furniture, stories, support, quotes, the Rust extraction peers), and a debug build would
/// both time the wrong thing and take minutes longer. `None` in the release build: go on here.
pub fn in_release(args: &[String]) -> Option<Result<(), String>> {
    if !cfg!(debug_assertions) {
        return None;
    }
    Some(build().and_then(|_| {
        let status = Command::new(RELEASE_XTASK).args(args).status().map_err(|e| format!("{RELEASE_XTASK}: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("{RELEASE_XTASK} {} failed", args.join(" ")))
        }
    }))
}

/// What `storyline extract` printed: documents by source, seconds, and its error output when it
/// exited with a failure (some inputs unreadable: the documents of the others are still there).
pub struct Extracted {
    pub docs: HashMap<String, Value>,
    pub seconds: f64,
    pub failed: Option<String>,
}

/// Runs `storyline extract` on `paths` pinned to one core, with the named extraction rules
/// switched off.
pub fn extract(bin: &Path, paths: &[PathBuf], without: &[&str]) -> Result<Extracted, String> {
    let mut cmd = if Path::new("/usr/bin/taskset").exists() {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.args(["extract", "--no-progress", "--jobs", "1"]);
    if !without.is_empty() {
        cmd.arg("--without-rules").arg(without.join(","));
    }
    cmd.args(paths);
    let start = Instant::now();
    let out = cmd.output().map_err(|e| format!("running {}: {e}", bin.display()))?;
    let seconds = start.elapsed().as_secs_f64();
    let failed = (!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).into_owned());
    let docs = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|d| (d["source"].as_str().unwrap_or_default().to_owned(), d))
        .collect();
    Ok(Extracted { docs, seconds, failed })
}

/// Extraction speed on both sets against Python trafilatura's text-only extraction, in
/// `rounds` interleaved rounds (ours as the whole `storyline extract` process on one core, ours
/// in this process, then the peer on one core), so that the machine's drift over minutes falls
/// on every tool alike; the ratios are of the medians.
fn bench_extraction(bin: &Path, bench: &Path, rounds: usize) -> Result<(), String> {
    use crate::extraction_eval::{ours, ours_in_process, python_trafilatura, Set};
    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    }
    for set in Set::BOTH {
        let dir = set.dir(bench);
        if !dir.join("gold.json").exists() {
            println!("bench extraction {:<16} skipped: {} absent", set.name(), dir.display());
            continue;
        }
        let (mut cli, mut inside, mut peer, mut pages) = (Vec::new(), Vec::new(), Vec::new(), 0);
        for round in 1..=rounds {
            let a = ours(bin, &dir, &[])?;
            let b = ours_in_process(&dir)?;
            let c = python_trafilatura(&dir, false)?;
            pages = a.pages;
            println!(
                "bench extraction {:<16} round {round}: storyline {:.2} s, in-process {:.2} s, python trafilatura {}",
                set.name(),
                a.seconds,
                b.seconds,
                c.as_ref().map_or("skipped".to_owned(), |c| format!("{:.2} s", c.seconds))
            );
            cli.push(a.seconds);
            inside.push(b.seconds);
            peer.extend(c.map(|c| c.seconds));
        }
        let (cli, inside) = (median(cli), median(inside));
        let rate = |secs: f64| pages as f64 / secs;
        print!("bench extraction {:<16} medians: storyline {:.1} pages/s, in-process {:.1} pages/s", set.name(), rate(cli), rate(inside));
        if peer.is_empty() {
            println!(", python trafilatura skipped (.venv missing: run scripts/setup-peers.sh)");
        } else {
            let peer = median(peer);
            println!(", python trafilatura {:.1} pages/s: ours {:.2}x its speed (in-process {:.2}x)", rate(peer), peer / cli, peer / inside);
        }
    }
    Ok(())
}

/// A page is in the dev split (used for tuning) when its file name hashes to 0 mod 5; the rest
/// is the test split, reported as it comes.
fn split_of(file: &str) -> &'static str {
    let h = file.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
    if h % 5 == 0 {
        "dev"
    } else {
        "test"
    }
}

#[derive(Default, Clone, Copy)]
pub struct Snippets {
    pub pages: usize,
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
}

impl Snippets {
    pub fn precision(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fp).max(1) as f64
    }
    pub fn recall(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fn_).max(1) as f64
    }
    pub fn f1(&self) -> f64 {
        2.0 * self.tp as f64 / (2 * self.tp + self.fp + self.fn_).max(1) as f64
    }
}

pub fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn read_gold(path: &Path) -> Result<serde_json::Map<String, Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))? {
        Value::Object(m) => Ok(m),
        _ => Err(format!("{}: not an object", path.display())),
    }
}

/// A gzipped bench page as text (invalid UTF-8 replaced; a truncated stream gives what it held).
pub fn read_page(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut html = Vec::new();
    let _ = std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut html);
    Ok(String::from_utf8_lossy(&html).into_owned())
}

pub fn score_snippets(gold: &serde_json::Map<String, Value>, dir: &Path, texts: &HashMap<String, String>) -> HashMap<&'static str, Snippets> {
    let mut scores: HashMap<&'static str, Snippets> = HashMap::new();
    for entry in gold.values() {
        let file = entry["file"].as_str().unwrap_or_default();
        let source = dir.join(file).display().to_string();
        let empty = String::new();
        let text = texts.get(&source).or_else(|| texts.get(file)).unwrap_or(&empty);
        let mut s = Snippets { pages: 1, ..Snippets::default() };
        for w in entry["with"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if text.contains(&squash(w)) {
                s.tp += 1;
            } else {
                s.fn_ += 1;
            }
        }
        for w in entry["without"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if text.contains(&squash(w)) {
                s.fp += 1;
            }
        }
        for split in [split_of(file), "all"] {
            let t = scores.entry(split).or_default();
            t.pages += s.pages;
            t.tp += s.tp;
            t.fp += s.fp;
            t.fn_ += s.fn_;
        }
    }
    scores
}

/// Publication-date F (htmldate-eval), day-exact, pages without their URL.
pub fn dates(bin: &Path, bench: &Path) -> Result<(f64, HashMap<&'static str, Snippets>), String> {
    let dir = bench.join("dates/htmldate-eval");
    let gold = read_gold(&dir.join("gold.json"))?;
    let Extracted { docs, seconds: secs, .. } = extract(bin, &[dir.join("pages")], &[])?;
    let found: HashMap<String, Option<String>> =
        docs.iter().map(|(k, d)| (k.clone(), d["published"].as_str().map(|p| p.get(..10).unwrap_or(p).to_owned()))).collect();
    Ok((secs, score_dates(&gold, &dir, &found)))
}

/// Publication-date F with each page's URL, as a crawl or a WARC record gives it: the pages go
/// in as JSON Lines records (`url`, `html`) written to bench-out/dates.
pub fn dates_with_urls(bin: &Path, bench: &Path) -> Result<HashMap<&'static str, Snippets>, String> {
    let dir = bench.join("dates/htmldate-eval");
    let gold = read_gold(&dir.join("gold.json"))?;
    let out_dir = PathBuf::from("bench-out/dates");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let input = out_dir.join("pages-with-urls.jsonl");
    let mut lines = String::new();
    for (url, entry) in &gold {
        let html = read_page(&dir.join(entry["file"].as_str().unwrap_or_default()))?;
        lines.push_str(&serde_json::json!({"url": url, "html": html}).to_string());
        lines.push('\n');
    }
    std::fs::write(&input, lines).map_err(|e| format!("{}: {e}", input.display()))?;
    let docs = extract(bin, std::slice::from_ref(&input), &[])?.docs;
    // Records are named `FILE#LINE`, in the gold's order.
    let files: Vec<&str> = gold.values().map(|e| e["file"].as_str().unwrap_or_default()).collect();
    let found: HashMap<String, Option<String>> = docs
        .iter()
        .filter_map(|(source, d)| {
            let line: usize = source.rsplit_once('#')?.1.parse().ok()?;
            let file = files.get(line.checked_sub(1)?)?;
            Some((file.to_string(), d["published"].as_str().map(|p| p.get(..10).unwrap_or(p).to_owned())))
        })
        .collect();
    Ok(score_dates(&gold, &dir, &found))
}

pub fn score_dates(gold: &serde_json::Map<String, Value>, dir: &Path, found: &HashMap<String, Option<String>>) -> HashMap<&'static str, Snippets> {
    let mut scores: HashMap<&'static str, Snippets> = HashMap::new();
    for entry in gold.values() {
        let file = entry["file"].as_str().unwrap_or_default();
        let source = dir.join(file).display().to_string();
        let got = found.get(&source).or_else(|| found.get(file)).cloned().flatten();
        let want = entry["date"].as_str();
        let mut s = Snippets { pages: 1, ..Snippets::default() };
        match (got.as_deref(), want) {
            (Some(g), Some(w)) if g == w => s.tp += 1,
            (Some(_), _) => s.fp += 1,
            (None, Some(_)) => s.fn_ += 1,
            (None, None) => {}
        }
        for split in [split_of(file), "all"] {
            let t = scores.entry(split).or_default();
            t.pages += 1;
            t.tp += s.tp;
            t.fp += s.fp;
            t.fn_ += s.fn_;
        }
    }
    scores
}

#[derive(Default)]
pub struct Cleaning {
    pub remove_total: usize,
    pub keep_total: usize,
    pub remove_hit: usize,
    pub keep_lost: usize,
}

impl Cleaning {
    fn precision(&self) -> f64 {
        self.remove_hit as f64 / (self.remove_hit + self.keep_lost).max(1) as f64
    }
    fn recall(&self) -> f64 {
        self.remove_hit as f64 / self.remove_total.max(1) as f64
    }
    fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

/// One page of the cleaning set: its text file and its labelled lines.
pub struct CleaningPage {
    pub path: PathBuf,
    pub keep: Vec<String>,
    pub remove: Vec<String>,
}

/// The text-cleaning dev set: all visible text of each trafilatura-eval page, one block per
/// line, as a scraper that kept everything would produce; lines containing a gold `without`
/// snippet are labelled boilerplate, lines containing a `with` snippet article text.
pub fn cleaning_set(bench: &Path, out_dir: &Path) -> Result<Vec<CleaningPage>, String> {
    let dir = bench.join("extraction/trafilatura-eval");
    let gold = read_gold(&dir.join("gold.json"))?;
    std::fs::create_dir_all(out_dir).map_err(|e| e.to_string())?;
    let mut set = Vec::new();
    for (i, entry) in gold.values().enumerate() {
        let file = entry["file"].as_str().unwrap_or_default();
        let Ok(bytes) = std::fs::read(dir.join(file)) else { continue };
        let mut html = String::new();
        let _ = std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(&bytes[..]), &mut html);
        let lines = storyline_extract::html::paragraphs_of(&html);
        let mut keep = Vec::new();
        let mut remove = Vec::new();
        for line in &lines {
            let l = squash(line);
            let has = |key: &str| entry[key].as_array().into_iter().flatten().filter_map(Value::as_str).any(|s| l.contains(&squash(s)));
            match (has("with"), has("without")) {
                (true, false) => keep.push(l),
                (false, true) => remove.push(l),
                _ => {}
            }
        }
        let path = out_dir.join(format!("{i:04}.txt"));
        std::fs::write(&path, lines.join("\n")).map_err(|e| e.to_string())?;
        set.push(CleaningPage { path, keep, remove });
    }
    Ok(set)
}

fn cleaning(bin: &Path, bench: &Path) -> Result<Cleaning, String> {
    let out_dir = PathBuf::from("bench-out/cleaning");
    let _ = std::fs::remove_dir_all(&out_dir);
    let set = cleaning_set(bench, &out_dir)?;
    // Each page is its own folder-less input; corpus-level evidence does not apply across sites.
    let docs = extract(bin, std::slice::from_ref(&out_dir), &[])?.docs;
    let mut c = Cleaning::default();
    for CleaningPage { path, keep, remove } in &set {
        let text = docs.get(&path.display().to_string()).map(|d| squash(d["text"].as_str().unwrap_or_default())).unwrap_or_default();
        for l in keep {
            c.keep_total += 1;
            if !text.contains(l.as_str()) {
                c.keep_lost += 1;
            }
        }
        for l in remove {
            c.remove_total += 1;
            if !text.contains(l.as_str()) {
                c.remove_hit += 1;
            }
        }
    }
    Ok(c)
}

/// `cargo xtask bench copies [N...]`: copy-detection throughput and memory on a synthetic
/// scale-up of real text, beside Python datasketch MinHash-LSH on the same texts.
fn bench_copies(o: &Opts, sizes: &[usize]) -> Result<(), String> {
    let python = PathBuf::from(".venv/bin/python");
    std::fs::create_dir_all("bench-out").map_err(|e| e.to_string())?;
    for &n in sizes {
        let file = PathBuf::from(format!("bench-out/copies-{n}.jsonl"));
        let texts = crate::copies_eval::scaled_corpus(&o.bench, n, &file)?;
        let before = crate::copies_eval::peak_rss_mib().unwrap_or(0.0);
        let (secs, found) = crate::copies_eval::time_copies(&texts);
        let after = crate::copies_eval::peak_rss_mib().unwrap_or(0.0);
        println!(
            "copies {n:>8} articles: storyline {secs:.2} s = {:.0} articles/s, {found} relations, peak RSS {after:.0} MiB (texts alone {before:.0} MiB)",
            n as f64 / secs
        );
        if python.exists() {
            let out = Command::new(&python).arg("scripts/peer_datasketch.py").arg(&file).output().map_err(|e| format!("running the peer: {e}"))?;
            let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("peer output: {e}: {}", String::from_utf8_lossy(&out.stderr)))?;
            let peer_secs = v["seconds"].as_f64().unwrap_or(f64::NAN);
            println!("copies {n:>8} articles: datasketch {peer_secs:.2} s = {:.0} articles/s; ratio {:.1}x", n as f64 / peer_secs, peer_secs / secs);
        }
    }
    Ok(())
}

/// `cargo xtask bench`: speed of extraction beside Python trafilatura, in one run, one core.
pub fn bench(args: &[String]) -> Result<(), String> {
    // The copy and story benches time our code inside this process.
    if let Some(done) = in_release(&[&["bench".to_owned()], args].concat()) {
        return done;
    }
    if args.first().map(String::as_str) == Some("copies") {
        let sizes: Vec<usize> = args[1..].iter().filter_map(|a| a.parse().ok()).collect();
        let o = opts(&args[1..].iter().filter(|a| a.parse::<usize>().is_err()).cloned().collect::<Vec<_>>())?;
        return bench_copies(&o, if sizes.is_empty() { &[10_000, 100_000] } else { &sizes });
    }
    if args.first().map(String::as_str) == Some("queue") {
        let n = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
        let o = opts(&args[1..].iter().filter(|a| a.parse::<usize>().is_err()).cloned().collect::<Vec<_>>())?;
        return crate::queue_bench::bench(&o.bench, &build()?, n);
    }
    if args.first().map(String::as_str) == Some("live") {
        return crate::backends_bench::live_only(args.get(1).map_or("bench-out/backends-scale100000/embedded", String::as_str));
    }
    if args.first().map(String::as_str) == Some("backends") {
        let n = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
        let o = opts(&args[1..].iter().filter(|a| a.parse::<usize>().is_err()).cloned().collect::<Vec<_>>())?;
        return crate::backends_bench::run(&o.bench, n);
    }
    if args.first().map(String::as_str) == Some("follow") {
        let numbers: Vec<u64> = args[1..].iter().filter_map(|a| a.parse().ok()).collect();
        let o = opts(&args[1..].iter().filter(|a| a.parse::<u64>().is_err()).cloned().collect::<Vec<_>>())?;
        let at = |i: usize, default: u64| numbers.get(i).copied().unwrap_or(default);
        return crate::follow_bench::run(&o.bench, at(0, 500) as usize, at(1, 20) as usize, at(2, 300), at(3, 100));
    }
    if args.first().map(String::as_str) == Some("serve") {
        let n = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
        let o = opts(&args[1..].iter().filter(|a| a.parse::<usize>().is_err()).cloned().collect::<Vec<_>>())?;
        return crate::serve_bench::run(&o.bench, n);
    }
    if args.first().map(String::as_str) == Some("stories") {
        let sizes: Vec<usize> = args[1..].iter().filter_map(|a| a.parse().ok()).collect();
        let o = opts(&args[1..].iter().filter(|a| a.parse::<usize>().is_err()).cloned().collect::<Vec<_>>())?;
        return crate::stories_eval::bench(&o.bench, if sizes.is_empty() { &[10_000, 100_000] } else { &sizes });
    }
    let o = opts(args)?;
    let bin = build()?;
    bench_extraction(&bin, &o.bench, 3)?;
    // Like for like on trafilatura-eval: the peer with the metadata ours extracts too.
    let dir = o.bench.join("extraction/trafilatura-eval");
    if dir.join("gold.json").exists() {
        let ours = crate::extraction_eval::ours(&bin, &dir, &[])?;
        match crate::extraction_eval::python_trafilatura(&dir, true)? {
            Some(peer) => {
                let f = crate::extraction_eval::score(crate::extraction_eval::Set::TrafilaturaEval, &o.bench, &peer)?.f;
                println!(
                    "bench extraction trafilatura-eval python with metadata: {:.1} pages/s, F1 {f:.3}; ours {:.1} pages/s in the run before it: {:.2}x",
                    peer.pages as f64 / peer.seconds,
                    ours.pages as f64 / ours.seconds,
                    peer.seconds / ours.seconds
                );
            }
            None => println!("bench extraction python trafilatura skipped (.venv missing: run scripts/setup-peers.sh)"),
        }
    }
    // Text cleaning throughput on the all-page-text set.
    let out_dir = PathBuf::from("bench-out/cleaning");
    let set = cleaning_set(&o.bench, &out_dir)?;
    let secs = extract(&bin, &[out_dir], &[])?.seconds;
    println!("storyline clean text: {} articles in {secs:.2} s = {:.1} articles/s (one core)", set.len(), set.len() as f64 / secs);
    Ok(())
}
