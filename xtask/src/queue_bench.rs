//! The work stream on real engines: NATS JetStream (`nats-server`, started here on loopback
//! with its store in bench-out/) and PostgreSQL (`STORYLINE_BENCH_PG`, else
//! `STORYLINE_TEST_PG`; a fresh database per run).
//!
//! - `cargo xtask eval queue`: ECB+ through the queue with 3 workers killed (`kill -9`) at
//!   random points and restarted, and the NATS server killed and restarted mid-stream, against
//!   one `storyline ingest` of the same file: every document stored once, and B-cubed F1
//!   within 0.005 of the single process's.
//! - `cargo xtask bench queue N`: N articles (the serve corpus, a scale-up of ECB+) through 1
//!   and 2 workers, beside one `storyline ingest` into PostgreSQL: articles/s, CPU seconds of
//!   the workers, PostgreSQL and NATS, peak memory per worker, database bytes per article.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Largest B-cubed F1 difference allowed between the queue and one process on ECB+.
pub const CEILING_QUEUE_DRIFT: f64 = 0.005;

fn nats_binary() -> Result<PathBuf, String> {
    let path = std::env::var_os("NATS_SERVER").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/sbin/nats-server"));
    if path.exists() {
        Ok(path)
    } else {
        Err(format!("no nats-server at {} (`apt-get install nats-server`, or NATS_SERVER=path)", path.display()))
    }
}

pub fn available() -> Result<(), String> {
    nats_binary()?;
    if std::env::var_os("STORYLINE_TEST_PG").is_none() && std::env::var_os("STORYLINE_BENCH_PG").is_none() {
        return Err("no PostgreSQL (set STORYLINE_BENCH_PG or STORYLINE_TEST_PG)".into());
    }
    Ok(())
}

fn fresh_db(label: &str) -> Result<String, String> {
    if std::env::var_os("STORYLINE_TEST_PG").is_none() {
        if let Some(url) = std::env::var_os("STORYLINE_BENCH_PG") {
            std::env::set_var("STORYLINE_TEST_PG", url);
        }
    }
    storyline_store::conformance::fresh_pg_database(label).ok_or_else(|| "set STORYLINE_BENCH_PG to a PostgreSQL URL".to_owned())
}

/// A JetStream server on loopback.
struct Nats {
    binary: PathBuf,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Nats {
    fn start(dir: PathBuf) -> Result<Nats, String> {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let mut n = Nats { binary: nats_binary()?, dir, port, child: None };
        n.spawn()?;
        Ok(n)
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) -> Result<(), String> {
        let child = Command::new(&self.binary)
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", self.binary.display()))?;
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if started.elapsed() > Duration::from_secs(20) {
                return Err("nats-server did not start".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn restart(&mut self) -> Result<(), String> {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        std::thread::sleep(Duration::from_millis(500));
        self.spawn()
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Each stored article's story, by external id, from `storyline export articles`.
fn stories(bin: &Path, db: &str, index: &Path) -> Result<HashMap<String, Option<String>>, String> {
    let out = Command::new(bin).args(["export", "articles", "--db", db, "--index-dir"]).arg(index).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("export: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| (v["external_id"].as_str().or(v["id"].as_str()).unwrap_or_default().to_owned(), v["story"].as_str().map(str::to_owned)))
        .collect())
}

fn wait_stored(bin: &Path, db: &str, index: &Path, n: usize, limit: Duration) -> Result<HashMap<String, String>, String> {
    let started = Instant::now();
    loop {
        let s = stories(bin, db, index)?;
        if s.len() >= n && s.values().all(Option::is_some) {
            return Ok(s.into_iter().map(|(a, s)| (a, s.unwrap_or_default())).collect());
        }
        if started.elapsed() > limit {
            return Err(format!("{} of {n} stored ({} with a story) after {limit:?}", s.len(), s.values().flatten().count()));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn publish(bin: &Path, url: &str, path: &Path) -> Result<Child, String> {
    Command::new(bin).args(["ingest", "--no-progress", "--queue", url]).arg(path).stderr(Stdio::piped()).spawn().map_err(|e| e.to_string())
}

fn finish(child: Child, what: &str) -> Result<String, String> {
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        Ok(err)
    } else {
        Err(format!("{what}: {err}"))
    }
}

fn b_cubed(gold: &HashMap<String, String>, found: &HashMap<String, String>) -> f64 {
    let ids: Vec<&String> = gold.keys().filter(|k| found.contains_key(*k)).collect();
    let g: Vec<&str> = ids.iter().map(|k| gold[*k].as_str()).collect();
    let p: Vec<String> = ids.iter().map(|k| found[*k].clone()).collect();
    crate::stories_eval::score(&g, &p).bcubed_f1()
}

/// `cargo xtask eval queue`: (single-process B-cubed, queue B-cubed).
pub fn eval(bench: &Path, bin: &Path) -> Result<(f64, f64), String> {
    let input = bench.join("stories/ecbplus.jsonl");
    let text = std::fs::read_to_string(&input).map_err(|e| format!("{}: {e}", input.display()))?;
    let rows: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let gold: HashMap<String, String> =
        rows.iter().map(|v| (v["id"].as_str().unwrap_or_default().to_owned(), v["story"].as_str().unwrap_or_default().to_owned())).collect();
    let out = PathBuf::from("bench-out/queue-eval");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let lines: Vec<&str> = text.lines().collect();
    let half = lines.len() / 2;
    let parts = [out.join("part0.jsonl"), out.join("part1.jsonl")];
    std::fs::write(&parts[0], lines[..half].join("\n") + "\n").map_err(|e| e.to_string())?;
    std::fs::write(&parts[1], lines[half..].join("\n") + "\n").map_err(|e| e.to_string())?;

    // One process.
    let single = fresh_db("queue_eval_single")?;
    let t = Instant::now();
    let status = Command::new(bin).args(["ingest", "--no-progress", "--db", &single, "--index-dir"]).arg(out.join("single-index")).arg(&input).output();
    let status = status.map_err(|e| e.to_string())?;
    if !status.status.success() {
        return Err(format!("single ingest: {}", String::from_utf8_lossy(&status.stderr)));
    }
    let single_secs = t.elapsed().as_secs_f64();
    let one = wait_stored(bin, &single, &out.join("single-index"), rows.len(), Duration::from_secs(60))?;
    let single_f = b_cubed(&gold, &one);

    // Three workers, killed and restarted; the NATS server too.
    let queued = fresh_db("queue_eval_workers")?;
    let mut nats = Nats::start(out.join("nats"))?;
    let url = nats.url();
    let spawn = |i: usize| -> Result<Child, String> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(out.join(format!("worker{i}.log"))).map_err(|e| e.to_string())?;
        Command::new(bin)
            .args(["worker", "--db", &queued, "--queue", &url, "--batch", "16", "--ack-wait", "5s", "--index-dir"])
            .arg(out.join(format!("worker{i}-index")))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| e.to_string())
    };
    let workers: Arc<Mutex<Vec<Child>>> = Arc::new(Mutex::new((0..3).map(spawn).collect::<Result<_, _>>()?));
    let stop = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(Mutex::new(0usize));
    let t = Instant::now();
    let result = std::thread::scope(|scope| -> Result<HashMap<String, String>, String> {
        let killer = scope.spawn(|| {
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            while !stop.load(Ordering::Relaxed) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                std::thread::sleep(Duration::from_millis(300 + x % 1200));
                let i = (x >> 20) as usize % 3;
                let mut w = workers.lock().unwrap();
                let _ = w[i].kill();
                let _ = w[i].wait();
                if let Ok(c) = spawn(i) {
                    w[i] = c;
                }
                *kills.lock().unwrap() += 1;
            }
        });
        let mut run = || -> Result<HashMap<String, String>, String> {
            finish(publish(bin, &url, &parts[0])?, "publishing the first half")?;
            let second = publish(bin, &url, &parts[1])?;
            std::thread::sleep(Duration::from_millis(300));
            nats.restart()?;
            finish(second, "publishing the second half through a NATS restart")?;
            let again = finish(publish(bin, &url, &parts[0])?, "publishing the first half again")?;
            println!("queue      republished: {}", again.lines().last().unwrap_or_default());
            wait_stored(bin, &queued, &out.join("check-index"), rows.len(), Duration::from_secs(1800))
        };
        let result = run();
        stop.store(true, Ordering::Relaxed);
        let _ = killer.join();
        result
    });
    let secs = t.elapsed().as_secs_f64();
    for mut w in workers.lock().unwrap().drain(..) {
        let _ = w.kill();
        let _ = w.wait();
    }
    let many = result?;
    let queue_f = b_cubed(&gold, &many);
    let stored = stories(bin, &queued, &out.join("check-index"))?.len();
    let kills = *kills.lock().unwrap();
    println!(
        "queue      ECB+ {} documents: one process B-cubed F1 {single_f:.4} ({single_secs:.1} s); 3 workers with {kills} kill -9s and a NATS restart {queue_f:.4} ({secs:.1} s); {stored} articles stored; difference {:.4}",
        rows.len(),
        (single_f - queue_f).abs()
    );
    if stored != rows.len() {
        return Err(format!("{stored} articles stored for {} documents", rows.len()));
    }
    Ok((single_f, queue_f))
}

/// CPU seconds (user + system) of the processes whose command name is `name`, with those of
/// their children that ended (a PostgreSQL backend ends with its connection; the postmaster
/// has waited for it).
fn cpu_of(name: &str) -> f64 {
    let mut ticks = 0u64;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let Some(open) = stat.find('(') else { continue };
        let Some(close) = stat.rfind(')') else { continue };
        if &stat[open + 1..close] != name {
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        // utime, stime, cutime, cstime.
        ticks += (11..=14).map(|k| fields.get(k).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0)).sum::<u64>();
    }
    ticks as f64 / 100.0
}

fn db_bytes(db: &str) -> Result<i64, String> {
    let mut c = postgres::Client::connect(db, postgres::NoTls).map_err(|e| e.to_string())?;
    c.query_one("SELECT pg_database_size(current_database())", &[]).map(|r| r.get(0)).map_err(|e| e.to_string())
}

/// `cargo xtask bench queue N`.
pub fn bench(bench: &Path, bin: &Path, n: usize) -> Result<(), String> {
    available()?;
    let out = PathBuf::from(format!("bench-out/queue-{n}"));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let corpus = out.join("corpus.jsonl");
    crate::serve_bench::corpus(bench, n, &corpus)?;
    let bytes = std::fs::metadata(&corpus).map(|m| m.len()).unwrap_or(0);
    println!("queue bench: {n} articles ({:.0} MB of JSONL), {} cores", bytes as f64 / 1e6, std::thread::available_parallelism().map_or(1, |p| p.get()));

    // The peer figure: one `storyline ingest` into PostgreSQL.
    let single = fresh_db(&format!("queue_bench_single_{n}"))?;
    let pg0 = cpu_of("postgres");
    let t = Instant::now();
    let o = Command::new("/usr/bin/time")
        .args(["-f", "RSS %M KB CPU %U %S"])
        .arg(bin)
        .args(["ingest", "--no-progress", "--db", &single, "--index-dir"])
        .arg(out.join("single-index"))
        .arg(&corpus)
        .output()
        .map_err(|e| e.to_string())?;
    let secs = t.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&o.stderr);
    if !o.status.success() {
        return Err(format!("single ingest: {err}"));
    }
    println!(
        "  one `storyline ingest`: {secs:.1} s = {:.0} articles/s; {}; PostgreSQL CPU {:.1} s; database {:.1} KB per article",
        n as f64 / secs,
        err.lines().last().unwrap_or_default(),
        cpu_of("postgres") - pg0,
        db_bytes(&single)? as f64 / n as f64 / 1024.0
    );
    for line in err.lines().filter(|l| l.starts_with("copies:") || l.starts_with("stories:") || l.starts_with("facts:")) {
        println!("    {line}");
    }

    for workers in [1usize, 2] {
        let db = fresh_db(&format!("queue_bench_{workers}w_{n}"))?;
        let nats = Nats::start(out.join(format!("nats-{workers}")))?;
        let url = nats.url();
        let t = Instant::now();
        let p = finish(publish(bin, &url, &corpus)?, "publishing")?;
        let publish_secs = t.elapsed().as_secs_f64();
        println!("  {workers} worker(s): published in {publish_secs:.1} s: {}", p.lines().last().unwrap_or_default());
        let (pg0, nats0) = (cpu_of("postgres"), cpu_of("nats-server"));
        let idle = 10;
        let t = Instant::now();
        let children: Vec<Child> = (0..workers)
            .map(|i| {
                Command::new("/usr/bin/time")
                    .args(["-f", "RSS %M KB CPU %U %S"])
                    .arg(bin)
                    .args(["worker", "--db", &db, "--queue", &url, "--until-idle", &format!("{idle}s"), "-j", "1", "--index-dir"])
                    .arg(out.join(format!("w{workers}-{i}-index")))
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<_, _>>()?;
        let mut logs = Vec::new();
        for (i, c) in children.into_iter().enumerate() {
            logs.push((i, finish(c, "a worker")?));
        }
        let secs = t.elapsed().as_secs_f64() - idle as f64;
        let stored = stories(bin, &db, &out.join(format!("w{workers}-check")))?;
        println!(
            "  {workers} worker(s): {} stored ({} in stories) in {secs:.1} s = {:.0} articles/s; PostgreSQL CPU {:.1} s, nats-server CPU {:.1} s (pid {}); database {:.1} KB per article",
            stored.len(),
            stored.values().flatten().count(),
            stored.len() as f64 / secs,
            cpu_of("postgres") - pg0,
            cpu_of("nats-server") - nats0,
            nats.pid(),
            db_bytes(&db)? as f64 / n as f64 / 1024.0
        );
        for (i, log) in logs {
            let done = log.lines().filter(|l| l.starts_with("worker: done") || l.starts_with("RSS")).collect::<Vec<_>>().join(" | ");
            println!("    worker {i}: {done}");
        }
    }
    Ok(())
}
