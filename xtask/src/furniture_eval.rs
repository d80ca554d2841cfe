//! `cargo xtask eval furniture`: copies among whole-page texts, the way a scraper that keeps
//! every visible line hands them over (menus, related-link lists, cookie banners, footers left
//! in). Built in memory each run from the dragnet pages of ../shared/bench, grouped by site
//! (the host of the page's canonical or `og:url` address); sites with one page are left out.
//!
//! - Negatives: any two pages. Pages of one site share furniture and no article; two pages
//!   whose gold article bodies share a run of 15 words (10 outside quotation marks) are
//!   "linked" (the same story twice, a shared wire paragraph) and counted neither way.
//! - Positives: every fourth page's gold article, edited as in the copy eval (cut short,
//!   paragraphs dropped or swapped, junk lines, typos, a new headline, or as it is), is
//!   transplanted into the template of a page of another site (the lines of that page found
//!   in another page of its site), where the page's own article began: another outlet
//!   publishing the story inside its own furniture. The transplant must be found as a
//!   copy of the page it came from, and not of the page whose furniture it wears.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use serde_json::Value;
use storyline_dedup::{find_copies, CopyInput, DedupConfig};
use storyline_extract::CorpusStats;
use storyline_model::{ArticleId, Body, Hints, InputFormat, RawDocument};

use crate::copies_eval::{edit, key, wire_linked, wire_links, Edit, Rng, EDITS};

/// One text of the set.
struct Doc {
    id: ArticleId,
    text: String,
    host: String,
    /// The pages whose article this text carries.
    families: BTreeSet<usize>,
    /// For a transplant: the page its article came from, the page whose furniture it wears,
    /// and the edit made to the article.
    transplant: Option<(usize, usize, Option<Edit>)>,
}

/// What the gate needs.
pub struct Figures {
    pub precision: f64,
    pub recall: f64,
}

/// The host of a page, from its canonical address or its `og:url` (as extraction reads them).
fn host(html: &str) -> Option<String> {
    let url = storyline_extract::html::extract_html(html, None).canonical_url?;
    let host = url::Url::parse(url.trim()).ok()?.host_str()?.to_ascii_lowercase();
    Some(host.strip_prefix("www.").unwrap_or(&host).to_owned())
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A dragnet page: its whole visible text by lines and its gold article.
struct Page {
    key: String,
    host: String,
    lines: Vec<String>,
    body: String,
}

fn pages(bench: &Path) -> Result<Vec<Page>, String> {
    let dir = bench.join("extraction/dragnet");
    let gold_path = dir.join("gold.json");
    let gold: serde_json::Map<String, Value> = serde_json::from_str(&std::fs::read_to_string(&gold_path).map_err(|e| format!("{}: {e}", gold_path.display()))?)
        .map_err(|e| format!("{}: {e}", gold_path.display()))?;
    let mut keys: Vec<&String> = gold.keys().collect();
    keys.sort();
    let mut out = Vec::new();
    for k in keys {
        // Decoded as ingest decodes pages (some are UTF-16 or a legacy charset).
        let path = dir.join(format!("pages/{k}.html.gz"));
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?), &mut bytes)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let html = storyline_ingest::decode(&bytes, None, true).text;
        let Some(host) = host(&html) else { continue };
        let lines: Vec<String> = storyline_extract::html::markup_to_lines(&html).iter().map(|l| collapse(l)).filter(|l| !l.is_empty()).collect();
        let body = gold[k]["articleBody"].as_str().unwrap_or_default().to_owned();
        out.push(Page { key: k.clone(), host, lines, body });
    }
    let mut per_host: HashMap<String, usize> = HashMap::new();
    for p in &out {
        *per_host.entry(p.host.clone()).or_default() += 1;
    }
    out.retain(|p| per_host[&p.host] >= 2);
    Ok(out)
}

/// The set: every page's whole text, then the transplants.
fn build(bench: &Path) -> Result<(Vec<Doc>, usize, Vec<Page>), String> {
    let pages = pages(bench)?;
    let mut docs: Vec<Doc> = pages
        .iter()
        .enumerate()
        .map(|(i, p)| Doc {
            id: ArticleId(format!("w{}", p.key)),
            text: p.lines.join("\n"),
            host: p.host.clone(),
            families: BTreeSet::from([i]),
            transplant: None,
        })
        .collect();
    let originals = docs.len();
    // A site's template: the lines found in at least two of its pages.
    let mut seen_in: HashMap<(&str, &str), usize> = HashMap::new();
    for p in &pages {
        let distinct: HashSet<&str> = p.lines.iter().map(String::as_str).collect();
        for line in distinct {
            *seen_in.entry((p.host.as_str(), line)).or_default() += 1;
        }
    }
    let template = |p: &Page, line: &str| seen_in.get(&(p.host.as_str(), line)).is_some_and(|n| *n >= 2);
    let mut rng = Rng(0xf0e1_d2c3_b4a5_9687);
    let kinds: Vec<Option<Edit>> = std::iter::once(None).chain(EDITS.iter().copied().map(Some)).collect();
    let mut made = 0usize;
    for from in (0..originals).step_by(4) {
        let article: Vec<&str> = pages[from].body.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        if article.iter().map(|l| l.split_whitespace().count()).sum::<usize>() < 60 {
            continue;
        }
        // A gold article not found in its own page's text (gold stored in another encoding)
        // would be a transplant of something the page does not carry.
        let whole = collapse(&pages[from].lines.join(" "));
        let long: Vec<String> = article.iter().map(|l| collapse(l)).filter(|l| l.split_whitespace().count() >= 4).collect();
        if long.iter().filter(|l| whole.contains(l.as_str())).count() * 2 < long.len() {
            continue;
        }
        // A page of another site whose own article can be found in its text, to wear.
        let mut wear = None;
        for _ in 0..20 {
            let candidate = rng.below(originals);
            if pages[candidate].host == pages[from].host {
                continue;
            }
            let body = collapse(&pages[candidate].body);
            let own: Vec<bool> = pages[candidate].lines.iter().map(|l| l.split_whitespace().count() >= 4 && body.contains(l.as_str())).collect();
            if own.iter().any(|x| *x) {
                wear = Some((candidate, own));
                break;
            }
        }
        let Some((host, own)) = wear else { continue };
        let kind = kinds[made % kinds.len()];
        made += 1;
        let edited = match kind {
            Some(kind) => edit(&article, kind, &mut rng),
            None => article.iter().map(|l| l.to_string()).collect(),
        };
        // The site's template around the article, where the page's own article began; the
        // page's other lines (its comments, its own headline and date) are its own, not the
        // site's.
        let mut lines: Vec<String> = Vec::new();
        let mut placed = false;
        for (line, is_own) in pages[host].lines.iter().zip(&own) {
            if *is_own {
                if !placed {
                    lines.extend(edited.iter().cloned());
                    placed = true;
                }
            } else if template(&pages[host], line) {
                lines.push(line.clone());
            }
        }
        docs.push(Doc {
            id: ArticleId(format!("t{}-{}", pages[from].key, pages[host].key)),
            text: lines.join("\n"),
            host: pages[host].host.clone(),
            families: BTreeSet::from([from]),
            transplant: Some((from, host, kind)),
        });
    }
    Ok((docs, originals, pages))
}

/// Builds the set, finds the copies among the texts as they are and among the texts the
/// pipeline's cleaning of scraped text leaves, prints the figures of both.
pub fn run(bench: &Path) -> Result<(Figures, Figures), String> {
    let (docs, originals, pages) = build(bench)?;
    let raw: Vec<String> = docs.iter().map(|d| d.text.clone()).collect();
    let as_is = score("as is", &docs, &raw, originals, &pages);
    // What `storyline ingest` makes of the same texts handed over as scraped text, one site's
    // pages under one host (its corpus statistics see every text of the set, as one ingest).
    let raw_docs: Vec<RawDocument> = docs
        .iter()
        .map(|d| RawDocument {
            source: format!("furniture/{}", d.id),
            format: InputFormat::Jsonl,
            body: Body::Text(d.text.clone()),
            hints: Hints { url: Some(format!("https://{}/{}", d.host, d.id)), ..Hints::default() },
            warnings: Vec::new(),
        })
        .collect();
    let mut stats = CorpusStats::default();
    for d in &raw_docs {
        stats.observe(d);
    }
    let articles: Vec<_> = raw_docs.iter().map(|d| storyline_extract::extract(d, &stats)).collect();
    if let Ok(ids) = std::env::var("DUMP") {
        for (d, a) in docs.iter().zip(&articles).filter(|(d, _)| ids.split(',').any(|i| i == d.id.0)) {
            for r in &a.removed {
                println!("removed from {} ({:?}): {}", d.id, r.reason, r.text.chars().take(150).collect::<String>());
            }
        }
    }
    let cleaned: Vec<String> = articles.into_iter().map(|a| a.text).collect();
    let through = score("cleaned", &docs, &cleaned, originals, &pages);
    Ok((as_is, through))
}

/// Finds the copies among `texts` (one per doc) and prints the figures.
fn score(label: &str, docs: &[Doc], texts: &[String], originals: usize, pages: &[Page]) -> Figures {
    score_with(label, docs, texts, originals, pages, &DedupConfig::default(), true)
}

/// Each furniture rule switched off in turn, and all of them (the detector before them), on
/// the texts as they are: what each rule gains.
pub fn ablation(bench: &Path) -> Result<(), String> {
    let (docs, originals, pages) = build(bench)?;
    let raw: Vec<String> = docs.iter().map(|d| d.text.clone()).collect();
    let all = DedupConfig::default();
    let without_lists = DedupConfig { list_min_lines: usize::MAX, ..all.clone() };
    let without_notices = DedupConfig { notice_lines: false, ..all.clone() };
    let without_template = DedupConfig { template_documents: usize::MAX, ..all.clone() };
    let within_outlet = DedupConfig { partial_within_outlet: true, ..all.clone() };
    let none = DedupConfig { list_min_lines: usize::MAX, notice_lines: false, template_documents: usize::MAX, partial_within_outlet: true, ..all.clone() };
    for (label, config) in [
        ("all rules", &all),
        ("without list lines", &without_lists),
        ("without notice lines", &without_notices),
        ("without template passages", &without_template),
        ("with partial copies within an outlet", &within_outlet),
        ("none of them", &none),
    ] {
        let f = score_with(label, &docs, &raw, originals, &pages, config, false);
        println!("furniture-rules  {label:<40} precision {:.4}  recall {:.4}", f.precision, f.recall);
    }
    Ok(())
}

fn score_with(label: &str, docs: &[Doc], texts: &[String], originals: usize, pages: &[Page], config: &DedupConfig, verbose: bool) -> Figures {
    let sites: HashSet<&str> = pages.iter().map(|p| p.host.as_str()).collect();
    let inputs: Vec<CopyInput<'_>> = docs
        .iter()
        .zip(texts)
        .map(|(d, text)| CopyInput { id: &d.id, text, published: None, outlet: Some(&d.host), credited_source: None, scraper_markers: 0 })
        .collect();
    // DUMP=ID,ID prints those texts, furniture lines marked with '#'.
    if let Ok(ids) = std::env::var("DUMP") {
        for (d, text) in docs.iter().zip(texts).filter(|(d, _)| ids.split(',').any(|i| i == d.id.0)) {
            let flags = storyline_dedup::furniture::furniture_lines(text, &DedupConfig::default());
            println!("=== {label} {}", d.id);
            for (line, f) in text.split('\n').zip(flags) {
                println!("{} {line}", if f { '#' } else { ' ' });
            }
        }
    }
    let start = std::time::Instant::now();
    let relations = find_copies(&inputs, config);
    let secs = start.elapsed().as_secs_f64();
    let index: HashMap<&ArticleId, usize> = docs.iter().enumerate().map(|(i, d)| (&d.id, i)).collect();

    // Pages whose gold articles share wire copy.
    let linked = wire_links(pages.iter().map(|p| p.body.as_str()));

    let show_wrong: usize = std::env::var("SHOW_WRONG").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let (mut right, mut wrong, mut not_counted) = (0usize, 0usize, 0usize);
    // Wrong relations by kind of pair: two pages of one site, a transplant and the page it
    // wears, other pairs.
    let mut wrong_by: HashMap<&str, usize> = HashMap::new();
    let mut found: HashSet<(usize, usize)> = HashSet::new();
    for r in &relations {
        let (a, b) = (index[&r.a], index[&r.b]);
        found.insert(key(a, b));
        if !docs[a].families.is_disjoint(&docs[b].families) {
            right += 1;
            continue;
        }
        if wire_linked(&linked, &docs[a].families, &docs[b].families) {
            not_counted += 1;
            continue;
        }
        wrong += 1;
        let wears = |t: usize, p: usize| docs[t].transplant.is_some_and(|(_, host, _)| host == p);
        let kind = if wears(a, b) || wears(b, a) {
            "a transplant and the page it wears"
        } else if docs[a].host == docs[b].host {
            "two texts of one site"
        } else {
            "texts of two sites"
        };
        *wrong_by.entry(kind).or_default() += 1;
        if wrong_by[kind] <= show_wrong && std::env::var("SHOW_KIND").map_or(true, |k| kind.starts_with(k.as_str())) {
            let cut = |t: &String, s: usize, e: usize| t.chars().skip(s).take(e - s).collect::<String>();
            println!("  {label} wrong ({kind}): {:?} {} / {} sim {:.2}", r.relation, docs[a].id, docs[b].id, r.similarity);
            let flags = storyline_dedup::furniture::furniture_lines(&texts[a], &DedupConfig::default());
            for span in r.shared.iter().take(if std::env::var_os("SHOW_ALL").is_some() { usize::MAX } else { 4 }) {
                // The span's lines that count as evidence.
                let text = cut(&texts[a], span.a_start, span.a_end);
                let start_line = texts[a].chars().take(span.a_start).filter(|c| *c == '\n').count();
                let kept: Vec<&str> =
                    text.split('\n').enumerate().filter(|(k, _)| !flags.get(start_line + k).copied().unwrap_or(false)).map(|(_, l)| l).collect();
                println!("    | {}", kept.join(" / "));
            }
        }
    }
    let mut recall_by: HashMap<String, (usize, usize)> = HashMap::new();
    let show_missed = std::env::var_os("SHOW_MISSED").is_some();
    for (j, d) in docs.iter().enumerate().skip(originals) {
        let Some((from, _, kind)) = d.transplant else { continue };
        let entry = recall_by.entry(kind.map_or("as it is".to_owned(), |k| format!("{k:?}"))).or_default();
        entry.1 += 1;
        if found.contains(&key(from, j)) {
            entry.0 += 1;
        } else if show_missed {
            let direct = storyline_dedup::compare_pair(&inputs[from], &inputs[j], &storyline_dedup::Template::default(), &DedupConfig::default());
            let how = direct.map(|r| format!("{:?} sim {:.2} in {} spans", r.relation, r.similarity, r.shared.len()));
            println!("  {label} missed {kind:?}: {} from {} (the pair alone, no template: {how:?})", d.id, docs[from].id);
        }
    }
    let (hit, total) = recall_by.values().fold((0, 0), |(h, t), (a, b)| (h + a, t + b));
    let precision = right as f64 / (right + wrong).max(1) as f64;
    let recall = hit as f64 / total.max(1) as f64;
    if !verbose {
        return Figures { precision, recall };
    }
    println!(
        "furniture {label}  {} texts: {originals} whole pages of {} sites + {} transplants; {} relations in {secs:.2} s",
        docs.len(),
        sites.len(),
        docs.len() - originals,
        relations.len()
    );
    let mut kinds: Vec<_> = recall_by.into_iter().collect();
    kinds.sort();
    for (kind, (h, t)) in kinds {
        println!("furniture {label}  recall {kind}: {h}/{t} = {:.3}", h as f64 / t.max(1) as f64);
    }
    let mut wrongs: Vec<_> = wrong_by.into_iter().collect();
    wrongs.sort();
    println!("furniture {label}  wrong relations: {wrongs:?}; {not_counted} between pages whose articles share wire copy, not counted");
    println!("furniture {label}  precision {precision:.4} ({right} right, {wrong} wrong), recall {recall:.4} ({hit}/{total})");
    Figures { precision, recall }
}
