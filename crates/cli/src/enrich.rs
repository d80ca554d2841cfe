//! `storyline tag` and `storyline train-ner`.

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use storyline_enrich::ner::{self, Tagger, TrainConfig};
use storyline_model::{ArticleId, Entity, Facts, Quote};
use storyline_store::Store;

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
/// The encoder `storyline tag` adds to the tagger, when `dir` is given (and not `none`).
pub struct EncoderArgs<'a> {
    pub dir: Option<&'a Path>,
    pub adapter: Option<&'a Path>,
    pub weights: Option<(f32, f32)>,
}

pub fn tag(model: Option<&Path>, encoder: EncoderArgs<'_>, conll: bool, paths: &[std::path::PathBuf]) -> Result<ExitCode> {
    let mut tagger = load_tagger(model)?;
    let EncoderArgs { dir: encoder, adapter, weights } = encoder;
    if let Some(dir) = encoder.filter(|d| d.as_os_str() != "none") {
        let adapter = match adapter {
            Some(a) => std::fs::read(a).with_context(|| format!("cannot read {}", a.display()))?,
            None => storyline_enrich::encoder::BUNDLED_ADAPTER.to_vec(),
        };
        let t = Instant::now();
        let mut enc = storyline_enrich::encoder::Encoder::load(dir, &adapter).with_context(|| format!("cannot load the encoder from {}", dir.display()))?;
        if let Some(w) = weights {
            enc.weights = w;
        }
        eprintln!("encoder loaded from {} in {:.2} s", dir.display(), t.elapsed().as_secs_f64());
        tagger = tagger.with_encoder(enc);
    }
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
            // Documents (`-DOCSTART-`) are tagged whole: a name's other mentions inform it.
            let data = ner::read_conll(&text);
            for d in ner::documents(&data) {
                let words: Vec<Vec<&str>> = data[d].iter().map(|s| s.words.iter().map(String::as_str).collect()).collect();
                let refs: Vec<&[&str]> = words.iter().map(Vec::as_slice).collect();
                let t = Instant::now();
                let tags = tagger.tag_document(&refs);
                secs += t.elapsed().as_secs_f64();
                for (words, tags) in words.iter().zip(tags) {
                    tokens += words.len();
                    for (w, t) in words.iter().zip(tags) {
                        writeln!(out, "{w}\t{t}")?;
                    }
                    writeln!(out)?;
                }
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
    let threads = if tagger.has_encoder() { storyline_enrich::encoder::threads() } else { 1 };
    let cores = if threads == 1 { "one core".to_string() } else { format!("{threads} threads") };
    eprintln!("tagged {tokens} tokens in {secs:.2} s ({:.0} tokens/s, {cores})", tokens as f64 / secs.max(1e-9));
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Weights of the encoder's scores tried by [`tune_encoder`], for each pass.
const ENCODER_WEIGHTS: [f32; 7] = [0.0, 2.5, 5.0, 7.5, 10.0, 15.0, 20.0];

/// `storyline tune-ner-encoder`: the encoder's scores for the dev file once, then the tagger
/// with each pair of weights; prints each pair's F1 and, last, the best pair as `best W1,W2`.
pub fn tune_encoder(model: &Path, encoder: &Path, adapter: &Path, dev: &Path) -> Result<ExitCode> {
    let tagger = load_tagger(Some(model))?;
    let adapter = std::fs::read(adapter).with_context(|| format!("cannot read {}", adapter.display()))?;
    let enc = storyline_enrich::encoder::Encoder::load(encoder, &adapter).with_context(|| format!("cannot load the encoder from {}", encoder.display()))?;
    let data = ner::read_conll(&read_text(dev)?);
    let docs = ner::documents(&data);
    let words: Vec<Vec<Vec<&str>>> = docs.iter().map(|d| data[d.clone()].iter().map(|s| s.words.iter().map(String::as_str).collect()).collect()).collect();
    let t = Instant::now();
    let scores =
        words.iter().map(|doc| enc.scores(&doc.iter().map(Vec::as_slice).collect::<Vec<_>>())).collect::<Result<Vec<_>, _>>().context("the encoder failed")?;
    eprintln!("encoder scores for {} sentences in {:.1} s", data.len(), t.elapsed().as_secs_f64());
    let mut best = (f64::MIN, 0.0, 0.0);
    for &w1 in &ENCODER_WEIGHTS {
        for &w2 in &ENCODER_WEIGHTS {
            let (mut tp, mut np, mut ng) = (0usize, 0usize, 0usize);
            for ((d, doc), sc) in docs.iter().zip(&words).zip(&scores) {
                let refs: Vec<&[&str]> = doc.iter().map(Vec::as_slice).collect();
                for (s, tags) in data[d.clone()].iter().zip(tagger.tag_document_with(&refs, Some(ner::Evidence { scores: sc, first: w1, second: w2 }))) {
                    let pred = ner::spans(&tags);
                    let gold = ner::spans(&s.tags.iter().map(String::as_str).collect::<Vec<_>>());
                    tp += pred.iter().filter(|p| gold.contains(p)).count();
                    np += pred.len();
                    ng += gold.len();
                }
            }
            let (p, r) = (tp as f64 / np.max(1) as f64, tp as f64 / ng.max(1) as f64);
            let f = if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 };
            println!("weights {w1:>4} {w2:>4}: dev P {p:.4} R {r:.4} F1 {f:.4}");
            if f > best.0 {
                best = (f, w1, w2);
            }
        }
    }
    println!("best {},{}", best.1, best.2);
    Ok(ExitCode::SUCCESS)
}

/// What `storyline train-ner` was given.
pub struct TrainNerArgs<'a> {
    pub train: &'a [std::path::PathBuf],
    pub dev: Option<&'a Path>,
    pub gazetteer: Option<&'a Path>,
    pub clusters: Option<&'a Path>,
    pub out: &'a Path,
    pub epochs: usize,
    pub min_count: u32,
    pub folds: usize,
}

/// Trains the tagger and writes the model file.
pub fn train_ner(args: TrainNerArgs<'_>) -> Result<ExitCode> {
    let TrainNerArgs { train, dev, gazetteer, clusters, out, epochs, min_count, folds } = args;
    let mut data = Vec::new();
    for t in train {
        // Document numbers go on across files.
        let base = data.last().map_or(0, |s: &ner::Sentence| s.doc + 1);
        data.extend(ner::read_conll(&read_text(t)?).into_iter().map(|mut s| {
            s.doc += base;
            s
        }));
    }
    let gazetteer = gazetteer.map(|g| read_text(g).map(|t| ner::read_gazetteer(&t))).transpose()?.unwrap_or_default();
    let clusters = clusters.map(|c| read_text(c).map(|t| ner::read_clusters(&t))).transpose()?.unwrap_or_default();
    let dev = dev.map(|d| read_text(d).map(|t| ner::read_conll(&t))).transpose()?;
    anyhow::ensure!(!data.is_empty(), "no sentences in the training files");
    eprintln!("training on {} sentences, {epochs} epochs, {} gazetteer phrases, {} clustered words", data.len(), gazetteer.len(), clusters.len());
    let t = Instant::now();
    let tagger =
        ner::train(&data, ner::Lexicon { gazetteer, clusters }, TrainConfig { epochs, min_count, folds, ..TrainConfig::default() }, |epoch, errors, model| {
            let dev = dev.as_ref().map(|d| ner::evaluate(model, d)).map(|(p, r, f)| format!(", dev P {p:.3} R {r:.3} F1 {f:.4}")).unwrap_or_default();
            eprintln!("epoch {epoch:>2}: {errors} token errors{dev} ({:.0} s)", t.elapsed().as_secs_f64());
        });
    let f = std::fs::File::create(out).with_context(|| format!("cannot write {}", out.display()))?;
    tagger.save(BufWriter::new(f)).with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!("wrote {} ({} features, {} bytes)", out.display(), tagger.len(), std::fs::metadata(out).map(|m| m.len()).unwrap_or(0));
    Ok(ExitCode::SUCCESS)
}

/// All stored facts with mentions and quote speakers resolved to entities.
pub struct Resolved {
    pub entities: Vec<Entity>,
    pub facts: Vec<(ArticleId, Facts)>,
}

pub fn resolved(store: &dyn Store) -> Result<Resolved> {
    let storyline_serve::catalog::Resolution { entities, mention_entities, mut facts, .. } = storyline_serve::catalog::resolve_store(store)?;
    let names: HashMap<&str, &str> = entities.iter().map(|e| (e.id.as_str(), e.name.as_str())).collect();
    for (id, f) in &mut facts {
        if let Some(ids) = mention_entities.get(id) {
            storyline_enrich::apply(f, ids, |e| names.get(e).map(|n| n.to_string()));
        }
    }
    Ok(Resolved { entities, facts })
}

/// `export entities|quotes|figures`: the model's own records, one row each.
pub fn export(store: &dyn Store, what: &str, csv_format: bool, out: impl Write) -> Result<()> {
    let r = resolved(store)?;
    let mut rows = crate::export::Rows::new(csv_format, out);
    match what {
        "entities" => r.entities.iter().try_for_each(|e| rows.write(e))?,
        "quotes" => r.facts.iter().flat_map(|(_, f)| &f.quotes).try_for_each(|q| rows.write(q))?,
        _ => r.facts.iter().flat_map(|(_, f)| &f.figures).try_for_each(|x| rows.write(x))?,
    }
    rows.finish()
}

/// `storyline entity NAME`: the matching entities with their aliases, roles, mentions and quotes.
pub fn show_entity(store: &dyn Store, name: &str, mut out: impl Write) -> Result<bool> {
    let r = resolved(store)?;
    let needle = name.to_lowercase();
    let matches: Vec<&Entity> = r
        .entities
        .iter()
        .filter(|e| {
            e.id.as_str() == name
                || e.name.to_lowercase() == needle
                || e.aliases.iter().any(|a| a.to_lowercase() == needle)
                || e.name.to_lowercase().contains(&needle)
        })
        .take(5)
        .collect();
    for e in &matches {
        let kind = e.kind.as_str();
        writeln!(out, "{} [{kind}] {}", e.name, e.id)?;
        writeln!(out, "  {} mentions in {} articles", e.mentions, e.articles.len())?;
        writeln!(out, "  aliases: {}", e.aliases.join(" | "))?;
        if !e.ambiguous_with.is_empty() {
            writeln!(out, "  ambiguous: a bare surname that could be any of {}", e.ambiguous_with.join(", "))?;
        }
        if !e.roles.is_empty() {
            writeln!(out, "  roles:")?;
            for x in &e.roles {
                writeln!(out, "    {}  ({}{})", x.role, x.article.0, x.published.map(|p| format!(", {}", p.date)).unwrap_or_default())?;
            }
        }
        writeln!(out, "  mentions:")?;
        for (id, f) in &r.facts {
            for m in f.mentions.iter().filter(|m| m.entity.as_deref() == Some(e.id.as_str())) {
                writeln!(
                    out,
                    "    {}  {}..{}  {}{}",
                    id.0,
                    m.span.start,
                    m.span.end,
                    m.text,
                    m.role.as_deref().map(|x| format!("  ({x})")).unwrap_or_default()
                )?;
            }
        }
        let quotes: Vec<&Quote> = r.facts.iter().flat_map(|(_, f)| &f.quotes).filter(|q| q.speaker_entity.as_deref() == Some(e.id.as_str())).collect();
        if !quotes.is_empty() {
            writeln!(out, "  quotes:")?;
            for q in quotes {
                writeln!(out, "    {} [{}] “{}”", q.article.0, q.cue.as_deref().unwrap_or("-"), q.text)?;
            }
        }
        writeln!(out)?;
    }
    out.flush()?;
    Ok(!matches.is_empty())
}
