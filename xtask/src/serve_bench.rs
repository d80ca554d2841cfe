//! `cargo xtask bench serve [N]`: latency and throughput of the API under 32 concurrent clients
//! (wrk) on a store of N articles.
//!
//! The corpus is a scale-up of ECB+ that keeps what a story page needs: article `k` is ECB+
//! article `k mod 982` with 40% of its words replaced from the corpus vocabulary (so variants
//! of one source are not copies of each other, but still one event), one of 300 outlets, and
//! a date 20 days later on every pass over the source set (so each pass makes new stories
//! rather than growing the old ones forever). It is ingested once with `storyline
//! ingest` into `bench-out/serve-N/` (reused on later runs).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::Value;

use crate::copies_eval::Rng;

pub fn corpus(bench: &Path, n: usize, out: &Path) -> Result<(), String> {
    let path = bench.join("stories/ecbplus.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let source: Vec<String> =
        text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).map(|v| v["text"].as_str().unwrap_or_default().to_owned()).collect();
    let vocabulary: Vec<&str> = source.iter().flat_map(|t| t.split_whitespace()).collect();
    let mut rng = Rng(0x05ee_d0f5_e12e);
    let mut f = std::io::BufWriter::new(std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?);
    let start = chrono::NaiveDate::from_ymd_opt(2015, 1, 1).unwrap_or_default();
    for k in 0..n {
        let (pass, src) = (k / source.len(), k % source.len());
        let body: String = source[src]
            .lines()
            .map(|line| {
                line.split_whitespace().map(|w| if rng.below(100) < 40 { vocabulary[rng.below(vocabulary.len())] } else { w }).collect::<Vec<_>>().join(" ")
            })
            .collect::<Vec<_>>()
            .join("\n\n");
        let title: String = body.split_whitespace().take(10).collect::<Vec<_>>().join(" ");
        let date = start + chrono::Duration::days((pass * 20 + src % 7) as i64);
        let line = serde_json::json!({"id": format!("b{k}"), "title": title, "text": body, "outlet": format!("Outlet {}", rng.below(300)), "published": date.to_string()});
        writeln!(f, "{line}").map_err(|e| e.to_string())?;
    }
    f.flush().map_err(|e| e.to_string())
}

fn get(addr: &str, path: &str) -> Result<(u16, String), String> {
    request(addr, "GET", path, "")
}

/// One HTTP/1.1 request on a fresh connection: status and body.
pub fn request(addr: &str, method: &str, path: &str, body: &str) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let status = raw.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, raw.split_once("\r\n\r\n").map(|x| x.1.to_string()).unwrap_or_default()))
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub fn run(bench: &Path, n: usize) -> Result<(), String> {
    let bin = std::fs::canonicalize(crate::eval::build()?).map_err(|e| e.to_string())?;
    std::fs::create_dir_all("bench-out").map_err(|e| e.to_string())?;
    let db = std::path::PathBuf::from(format!("bench-out/serve-{n}"));
    if !db.join("storyline.sqlite").exists() {
        let input = std::path::PathBuf::from(format!("bench-out/serve-{n}.jsonl"));
        corpus(bench, n, &input)?;
        let t = Instant::now();
        crate::run(Command::new(&bin).arg("ingest").arg("--no-progress").arg("--db").arg(&db).arg(&input))?;
        println!("ingested {n} articles in {:.0} s", t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    let mut server = Command::new(&bin).args(["serve", "--addr", "127.0.0.1:0", "--db"]).arg(&db).stdout(Stdio::piped()).spawn().map_err(|e| e.to_string())?;
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(server.stdout.take().ok_or("no stdout")?), &mut line).map_err(|e| e.to_string())?;
    let addr = line.split("http://").nth(1).and_then(|r| r.split('/').next()).ok_or(format!("no address in {line:?}"))?.to_string();
    println!("server ready in {:.1} s (catalog load)", t.elapsed().as_secs_f64());
    let result = measure(&addr);
    let _ = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
    let _ = server.wait();
    result
}

pub fn measure(addr: &str) -> Result<(), String> {
    let (_, health) = get(addr, "/healthz")?;
    println!("store: {health}");
    // 1,000 story ids spread over the listing (sizes from large to small).
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/stories?limit=500&cursor={c}"),
            None => "/stories?limit=500".to_string(),
        };
        let (_, body) = get(addr, &path)?;
        let v: Value = serde_json::from_str(&body).map_err(|e| format!("{path}: {e}"))?;
        ids.extend(v["stories"].as_array().into_iter().flatten().filter_map(|s| s["id"].as_str().map(str::to_string)));
        cursor = v["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    let step = (ids.len() / 1000).max(1);
    let sample: Vec<String> = ids.iter().step_by(step).take(1000).cloned().collect();
    println!("{} stories listed; {} sampled for /stories/{{id}}", ids.len(), sample.len());
    // Cold: each report computed once, one client.
    let mut cold = Vec::new();
    for id in &sample {
        let t = Instant::now();
        let (status, _) = get(addr, &format!("/stories/{id}"))?;
        if status != 200 {
            return Err(format!("/stories/{id}: {status}"));
        }
        cold.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    cold.sort_by(f64::total_cmp);
    println!(
        "cold /stories/{{id}} (one client, report computed): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&cold, 0.5),
        percentile(&cold, 0.99),
        cold[cold.len() - 1]
    );
    let lua = std::path::PathBuf::from("bench-out/story-ids.lua");
    let list: Vec<String> = sample.iter().map(|s| format!("\"{s}\"")).collect();
    std::fs::write(
        &lua,
        format!("ids = {{{}}}\nrequest = function()\n  return wrk.format(\"GET\", \"/stories/\" .. ids[math.random(#ids)])\nend\n", list.join(",")),
    )
    .map_err(|e| e.to_string())?;
    for (name, args) in [
        ("/stories (first page, 50)", vec![format!("http://{addr}/stories")]),
        ("/stories?sort=recent&from=2017-01-01", vec![format!("http://{addr}/stories?sort=recent&from=2017-01-01")]),
        ("/stories/{id} (1,000 ids, cached after first)", vec!["-s".into(), lua.display().to_string(), format!("http://{addr}/stories/")]),
    ] {
        let out = Command::new("wrk")
            .args(["-t", "4", "-c", "32", "-d", "20s", "--latency"])
            .args(&args)
            .output()
            .map_err(|e| format!("wrk: {e} (apt-get install wrk)"))?;
        println!("== {name}\n{}", String::from_utf8_lossy(&out.stdout));
    }
    Ok(())
}
