//! `storyline tag` and `storyline train-ner`.

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use storyline_enrich::ner::{self, Tagger, TrainConfig};

fn load_tagger(model: Option<&Path>) -> Result<Tagger> {
    match model {
        Some(p) => {
            let f = std::fs::File::open(p).with_context(|| format!("cannot open model {}", p.display()))?;
            Tagger::load(io::BufReader::new(f)).with_context(|| format!("cannot load model {}", p.display()))
        }
        None => Tagger::bundled().context("the bundled NER model is unreadable (rebuild with `cargo xtask train ner`)"),
    }
}

fn read_text(p: &Path) -> Result<String> {
    let bytes = if p.as_os_str() == "-" {
        let mut b = Vec::new();
        io::Read::read_to_end(&mut io::stdin().lock(), &mut b).context("cannot read stdin")?;
        b
    } else {
        std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?
    };
    String::from_utf8(bytes).map_err(|e| anyhow::anyhow!("{}: not UTF-8 text (byte {})", p.display(), e.utf8_error().valid_up_to()))
}

/// Tags CoNLL files (word<TAB>tag per token) or plain text (entities as JSON Lines).
pub fn tag(model: Option<&Path>, conll: bool, paths: &[std::path::PathBuf]) -> Result<ExitCode> {
    let tagger = load_tagger(model)?;
    let mut out = BufWriter::new(io::stdout().lock());
    let (mut tokens, mut secs, mut failed) = (0usize, 0f64, 0usize);
    for p in paths {
        let text = match read_text(p) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e:#}");
                failed += 1;
                continue;
            }
        };
        if conll {
            for s in ner::read_conll(&text) {
                let words: Vec<&str> = s.words.iter().map(String::as_str).collect();
                let t = Instant::now();
                let tags = tagger.tag(&words);
                secs += t.elapsed().as_secs_f64();
                tokens += words.len();
                for (w, t) in words.iter().zip(tags) {
                    writeln!(out, "{w}\t{t}")?;
                }
                writeln!(out)?;
            }
        } else {
            let t = Instant::now();
            let found = storyline_enrich::entities_in(&tagger, &text);
            secs += t.elapsed().as_secs_f64();
            tokens += storyline_enrich::tokenize(&text).len();
            for e in found {
                let line =
                    serde_json::json!({"source": p.display().to_string(), "text": &text[e.start..e.end], "type": e.kind, "start": e.start, "end": e.end});
                writeln!(out, "{line}")?;
            }
        }
    }
    out.flush()?;
    eprintln!("tagged {tokens} tokens in {secs:.2} s ({:.0} tokens/s, one core)", tokens as f64 / secs.max(1e-9));
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Trains the tagger and writes the model file.
pub fn train_ner(train: &[std::path::PathBuf], dev: Option<&Path>, gazetteer: Option<&Path>, out: &Path, epochs: usize, min_count: u32) -> Result<ExitCode> {
    let mut data = Vec::new();
    for t in train {
        data.extend(ner::read_conll(&read_text(t)?));
    }
    let gazetteer = gazetteer.map(|g| read_text(g).map(|t| ner::read_gazetteer(&t))).transpose()?.unwrap_or_default();
    let dev = dev.map(|d| read_text(d).map(|t| ner::read_conll(&t))).transpose()?;
    anyhow::ensure!(!data.is_empty(), "no sentences in the training files");
    eprintln!("training on {} sentences, {epochs} epochs, {} gazetteer phrases", data.len(), gazetteer.len());
    let t = Instant::now();
    let tagger = ner::train(&data, gazetteer, TrainConfig { epochs, min_count, ..TrainConfig::default() }, |epoch, errors, model| {
        let dev = dev.as_ref().map(|d| ner::evaluate(model, d)).map(|(p, r, f)| format!(", dev P {p:.3} R {r:.3} F1 {f:.4}")).unwrap_or_default();
        eprintln!("epoch {epoch:>2}: {errors} token errors{dev} ({:.0} s)", t.elapsed().as_secs_f64());
    });
    let f = std::fs::File::create(out).with_context(|| format!("cannot write {}", out.display()))?;
    tagger.save(BufWriter::new(f)).with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!("wrote {} ({} features, {} bytes)", out.display(), tagger.len(), std::fs::metadata(out).map(|m| m.len()).unwrap_or(0));
    Ok(ExitCode::SUCCESS)
}
