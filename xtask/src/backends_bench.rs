//! `cargo xtask bench backends [N]`: the embedded store against PostgreSQL (the server of
//! `STORYLINE_BENCH_PG`, else `STORYLINE_TEST_PG`; a fresh database per run), on the path that
//! ships (`storyline ingest`, `storyline serve`):
//!
//! - ECB+ and the copy set ingested into each: time, and whether both give the same stories,
//!   copy relations and entities;
//! - the serve corpus of N articles (`serve_bench`) ingested into each: time;
//! - with `storyline serve` running on the N-article store: from a CLI ingest's end to its
//!   article in the server's story listing (20 ingests, p50/p99), a one-article `POST
//!   /articles` until it answers (the article is visible then), and 32 clients on `/stories`
//!   and `/stories/{id}` (wrk).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::serve_bench::{percentile, request};

struct Backend {
    name: &'static str,
    db: String,
    extra: Vec<String>,
}

fn backends(label: &str) -> Result<Vec<Backend>, String> {
    let dir = PathBuf::from(format!("bench-out/backends-{label}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    if std::env::var_os("STORYLINE_TEST_PG").is_none() {
        if let Some(url) = std::env::var_os("STORYLINE_BENCH_PG") {
            std::env::set_var("STORYLINE_TEST_PG", url);
        }
    }
    let url = storyline_store::conformance::fresh_pg_database(&format!("bench_{label}")).ok_or("set STORYLINE_BENCH_PG to a PostgreSQL URL")?;
    Ok(vec![
        Backend { name: "embedded (SQLite)", db: dir.join("embedded").display().to_string(), extra: vec![] },
        Backend { name: "PostgreSQL", db: url, extra: vec!["--index-dir".into(), dir.join("pg-index").display().to_string()] },
    ])
}

fn storyline(bin: &Path, b: &Backend, args: &[&str]) -> Command {
    let mut c = Command::new(bin);
    c.args(args).arg("--db").arg(&b.db).args(&b.extra);
    c
}

fn ingest(bin: &Path, b: &Backend, input: &Path) -> Result<f64, String> {
    let t = Instant::now();
    let out = storyline(bin, b, &["ingest", "--no-progress"]).arg(input).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("ingest into {}: {}", b.name, String::from_utf8_lossy(&out.stderr)));
    }
    let secs = t.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    for line in err.lines().filter(|l| l.starts_with("copies:") || l.starts_with("stories:") || l.starts_with("facts:")) {
        println!("    {line}");
    }
    Ok(secs)
}

fn export(bin: &Path, b: &Backend, what: &str) -> Result<Vec<String>, String> {
    let out = storyline(bin, b, &["export", what]).output().map_err(|e| e.to_string())?;
    let mut rows: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.remove("ingested_at");
            }
            v.to_string()
        })
        .collect();
    rows.sort();
    Ok(rows)
}

fn same_results(bin: &Path, all: &[Backend]) -> Result<(), String> {
    for what in ["stories", "copies", "entities"] {
        let a = export(bin, &all[0], what)?;
        let b = export(bin, &all[1], what)?;
        let differing = a.iter().zip(&b).filter(|(x, y)| x != y).count() + a.len().abs_diff(b.len());
        println!("    {what}: {} rows, {}", a.len(), if differing == 0 { "identical on both".to_owned() } else { format!("{differing} rows differ") });
    }
    Ok(())
}

/// B-cubed F1 of the stories `ingest` made of ECB+ (matched to the gold by external id).
fn ecb_bcubed(bin: &Path, b: &Backend, ecb: &Path) -> Result<f64, String> {
    let gold: std::collections::HashMap<String, String> = std::fs::read_to_string(ecb)
        .map_err(|e| e.to_string())?
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| (v["id"].as_str().unwrap_or_default().to_owned(), v["story"].as_str().unwrap_or_default().to_owned()))
        .collect();
    let out = storyline(bin, b, &["export", "articles"]).output().map_err(|e| e.to_string())?;
    let (mut g, mut p) = (Vec::new(), Vec::new());
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let Some(story) = gold.get(v["external_id"].as_str().unwrap_or_default()) else { continue };
        g.push(story.clone());
        p.push(v["story"].as_str().unwrap_or_default().to_owned());
    }
    let gold_refs: Vec<&str> = g.iter().map(String::as_str).collect();
    Ok(crate::stories_eval::score(&gold_refs, &p).bcubed_f1())
}

fn start_server(bin: &Path, b: &Backend) -> Result<(Child, String, f64), String> {
    let t = Instant::now();
    let mut server = storyline(bin, b, &["serve", "--addr", "127.0.0.1:0"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().map_err(|e| e.to_string())?;
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(server.stdout.take().ok_or("no stdout")?), &mut line).map_err(|e| e.to_string())?;
    let addr = line.split("http://").nth(1).and_then(|r| r.split('/').next()).ok_or(format!("no address in {line:?}"))?.to_string();
    Ok((server, addr, t.elapsed().as_secs_f64()))
}

fn late_article(token: &str) -> String {
    serde_json::json!({"id": token, "title": format!("Harbour council {token}"), "published": "2024-05-01", "outlet": "late.example",
        "text": format!("The harbour council met on Monday to discuss the new lighthouse budget.\n\nOfficials said {token} would be announced later this week, after the vote.")})
    .to_string()
}

fn listed(addr: &str, token: &str) -> bool {
    request(addr, "GET", &format!("/stories?q={token}"), "")
        .ok()
        .and_then(|(_, body)| serde_json::from_str::<Value>(&body).ok())
        .is_some_and(|v| v["total"].as_u64() == Some(1))
}

fn live(bin: &Path, b: &Backend, scratch: &Path) -> Result<(), String> {
    let (mut server, addr, ready) = start_server(bin, b)?;
    println!("    server ready in {ready:.1} s (catalog load)");
    let mut visible = Vec::new();
    for k in 0..20 {
        let token = format!("zqlive{k}x{}", std::process::id());
        let input = scratch.join(format!("{token}.jsonl"));
        std::fs::write(&input, format!("{}\n", late_article(&token))).map_err(|e| e.to_string())?;
        ingest_quiet(bin, b, &input)?;
        let done = Instant::now();
        while !listed(&addr, &token) {
            if done.elapsed() > Duration::from_secs(120) {
                return Err(format!("{token} not visible in 120 s"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        visible.push(done.elapsed().as_secs_f64());
    }
    visible.sort_by(f64::total_cmp);
    println!(
        "    CLI ingest's end -> its article in the server's /stories?q=: p50 {:.2} s, p99 {:.2} s, max {:.2} s (20 ingests)",
        percentile(&visible, 0.5),
        percentile(&visible, 0.99),
        visible[visible.len() - 1]
    );
    let mut posts = Vec::new();
    for k in 0..5 {
        let token = format!("zqpost{k}x{}", std::process::id());
        let t = Instant::now();
        let (status, body) = request(&addr, "POST", "/articles", &late_article(&token))?;
        let secs = t.elapsed().as_secs_f64();
        if status != 201 {
            return Err(format!("POST: {status} {body}"));
        }
        if !listed(&addr, &token) {
            return Err(format!("{token} not listed when its POST answered"));
        }
        posts.push(secs);
    }
    posts.sort_by(f64::total_cmp);
    println!(
        "    one-article POST /articles until it answers (visible then): p50 {:.2} s, max {:.2} s (5 posts)",
        percentile(&posts, 0.5),
        posts[posts.len() - 1]
    );
    let result = crate::serve_bench::measure(&addr);
    let _ = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
    let _ = server.wait();
    result
}

fn ingest_quiet(bin: &Path, b: &Backend, input: &Path) -> Result<(), String> {
    let out = storyline(bin, b, &["ingest", "--no-progress"]).arg(input).output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `cargo xtask bench live DB`: the live measurements alone, on an existing store.
pub fn live_only(db: &str) -> Result<(), String> {
    let bin = std::fs::canonicalize(crate::eval::build()?).map_err(|e| e.to_string())?;
    let b = Backend { name: "existing store", db: db.to_owned(), extra: vec![] };
    let out = storyline(&bin, &b, &["stories", "--limit", "1"]).output().map_err(|e| e.to_string())?;
    println!("== {db}: {}", String::from_utf8_lossy(&out.stdout).trim());
    live(&bin, &b, &tempfile_dir()?)
}

pub fn run(bench: &Path, n: usize) -> Result<(), String> {
    let bin = std::fs::canonicalize(crate::eval::build()?).map_err(|e| e.to_string())?;
    std::fs::create_dir_all("bench-out").map_err(|e| e.to_string())?;
    let copyset = PathBuf::from("bench-out/copyset.jsonl");
    let copies = crate::copies_eval::write_corpus(bench, &copyset)?;
    let ecb = bench.join("stories/ecbplus.jsonl");
    for (label, input, count) in [("ecb", ecb.clone(), 982), ("copyset", copyset.clone(), copies)] {
        println!("== {label}: {count} articles");
        let all = backends(label)?;
        let mut times = Vec::new();
        for b in &all {
            let secs = ingest(&bin, b, &input)?;
            println!("  {}: ingest {secs:.1} s = {:.0} articles/s", b.name, count as f64 / secs);
            times.push(secs);
        }
        println!("  PostgreSQL / embedded time: {:.2}x", times[1] / times[0]);
        same_results(&bin, &all)?;
        if label == "ecb" {
            for b in &all {
                println!("  {}: stories of the shipped path, B3 F1 {:.3}", b.name, ecb_bcubed(&bin, b, &ecb)?);
            }
        }
    }
    let scale = PathBuf::from(format!("bench-out/serve-{n}.jsonl"));
    if !scale.exists() {
        // Written aside and renamed, so that an interrupted run never leaves half a corpus.
        let part = scale.with_extension("jsonl.part");
        crate::serve_bench::corpus(bench, n, &part)?;
        std::fs::rename(&part, &scale).map_err(|e| e.to_string())?;
    }
    println!("== serve corpus: {n} articles");
    let all = backends(&format!("scale{n}"))?;
    let scratch = tempfile_dir()?;
    for b in &all {
        let secs = ingest(&bin, b, &scale)?;
        println!("  {}: ingest {secs:.0} s = {:.0} articles/s", b.name, n as f64 / secs);
        live(&bin, b, &scratch)?;
    }
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf, String> {
    let dir = PathBuf::from("bench-out/backends-scratch");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}
