//! The work stream: documents published to NATS JetStream, stored by three workers over one
//! PostgreSQL store while workers are killed (`kill -9`) and restarted at random points and the
//! NATS server itself is killed and restarted mid-stream; then two servers over the store.
//! Needs `nats-server` (Debian's, as .ci/run installs; or NATS_SERVER=path) and
//! STORYLINE_TEST_PG; skipped, saying why, without them.

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::serve::Server;
use crate::{bin, stderr};

pub fn nats_binary() -> Option<PathBuf> {
    let path = std::env::var_os("NATS_SERVER").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/sbin/nats-server"));
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipped: no nats-server at {} (`apt-get install nats-server`, as .ci/run does, or NATS_SERVER=path)", path.display());
        None
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A throwaway JetStream server on loopback, its store in a temporary directory.
pub struct Nats {
    binary: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Nats {
    pub fn start(binary: PathBuf) -> Nats {
        let mut nats = Nats { binary, dir: tempfile::tempdir().unwrap(), port: free_port(), child: None };
        nats.spawn();
        nats
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let child = Command::new(&self.binary)
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "nats-server did not listen on {}", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `kill -9`, then the same server again on the same port and store.
    fn restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(500));
        self.spawn();
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

/// A made-up word of event `e` (`n` picks which): events share no names or topic words.
fn word(e: usize, n: usize) -> String {
    const SYLLABLES: &[&str] = &["ka", "lo", "mi", "ren", "tsu", "vo", "bri", "dal", "ne", "quo", "sar", "fim", "gle", "hu", "jor", "pex"];
    let mut x = (e * 7919 + n * 104_729 + 13) as u64;
    let mut w = String::new();
    for _ in 0..3 {
        w.push_str(SYLLABLES[(x % SYLLABLES.len() as u64) as usize]);
        x /= SYLLABLES.len() as u64;
        x = x.wrapping_mul(2_654_435_761).wrapping_add(e as u64);
    }
    w
}

fn title_case(w: &str) -> String {
    let mut c = w.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// Event `e`'s report `k`: names and words of the event's own, a word every article has, a
/// unique token; report 5 of each event is an exact copy of report 0 by another outlet.
fn report(e: usize, k: usize) -> Value {
    let place = title_case(&word(e, 1));
    let person = format!("{} {}", title_case(&word(e, 2)), title_case(&word(e, 3)));
    let (thing, other) = (word(e, 4), word(e, 5));
    let base = k % 5;
    let sentences = [
        format!("The {thing} dispute in {place} drew crowds on Tuesday as {person} promised answers within a week."),
        format!("{person} said the {thing} had cost {place} {} million euros, and the {other} fund would pay for repairs.", 10 + e),
        format!("Residents of {place} told reporters the {thing} changed how they use the {other}."),
        format!("A spokesperson for {person} said investigators would publish a report on the {thing} and the {other}."),
        format!("Observers expect the {thing} to stay in the news in {place}, where the {other} opened last year."),
    ];
    let mut order: Vec<&String> = sentences.iter().collect();
    order.rotate_left(base);
    let text =
        format!("{}\n\nThe case, filed as zq{e}x{base}, is one of several in the region.", order.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "));
    let day = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Duration::days((e * 11 + k % 2) as i64);
    json!({
        "id": format!("event{e}-{k}"),
        "title": format!("{place} {thing}: report {base}"),
        "text": text,
        "published": day.to_string(),
        "outlet": format!("outlet{}.example", (e + k) % 7),
    })
}

const EVENTS: usize = 30;
const REPORTS: usize = 6;

fn write_parts(dir: &Path, parts: usize) -> Vec<PathBuf> {
    let all: Vec<Value> = (0..EVENTS).flat_map(|e| (0..REPORTS).map(move |k| report(e, k))).collect();
    let per = all.len().div_ceil(parts);
    all.chunks(per)
        .enumerate()
        .map(|(i, chunk)| {
            let path = dir.join(format!("part{i}.jsonl"));
            std::fs::write(&path, chunk.iter().map(|v| format!("{v}\n")).collect::<String>()).unwrap();
            path
        })
        .collect()
}

/// Each article's story, from `storyline export articles`.
fn stories_of(db: &str, extra: &[&str]) -> HashMap<String, Option<String>> {
    let out = bin().args(["export", "articles", "--db", db]).args(extra).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    crate::jsonl(&String::from_utf8_lossy(&out.stdout))
        .into_iter()
        .map(|r| (r["external_id"].as_str().or(r["id"].as_str()).unwrap().to_owned(), r["story"].as_str().map(str::to_owned)))
        .collect()
}

/// B-cubed F1 of partition `x` against `y` (both article -> cluster).
fn b_cubed(x: &HashMap<String, String>, y: &HashMap<String, String>) -> f64 {
    fn members(p: &HashMap<String, String>) -> HashMap<&String, HashSet<&String>> {
        let mut m: HashMap<&String, HashSet<&String>> = HashMap::new();
        for (a, c) in p {
            m.entry(c).or_default().insert(a);
        }
        m
    }
    let (mx, my) = (members(x), members(y));
    let (mut p, mut r) = (0.0, 0.0);
    for (a, c) in x {
        let cx = &mx[c];
        let cy = &my[&y[a]];
        let both = cx.intersection(cy).count() as f64;
        p += both / cx.len() as f64;
        r += both / cy.len() as f64;
    }
    let n = x.len() as f64;
    let (p, r) = (p / n, r / n);
    2.0 * p * r / (p + r)
}

struct Workers {
    args: Vec<String>,
    children: Vec<Child>,
    logs: Vec<PathBuf>,
    restarts: usize,
}

impl Workers {
    fn spawn(&mut self, i: usize) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.logs[i]).unwrap();
        let child = bin().arg("worker").args(&self.args).arg("-j").arg("1").stdout(Stdio::null()).stderr(log).spawn().unwrap();
        if i < self.children.len() {
            self.children[i] = child;
        } else {
            self.children.push(child);
        }
    }

    fn kill(&mut self, i: usize) {
        // SIGKILL: nothing runs after it.
        self.children[i].kill().unwrap();
        self.children[i].wait().unwrap();
        self.restarts += 1;
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn three_workers_survive_kills_and_a_nats_restart_and_store_each_document_once() {
    let Some(nats_bin) = nats_binary() else { return };
    let Some(db) = storyline_store::conformance::fresh_pg_database("queue") else { return };
    let work = tempfile::tempdir().unwrap();
    let parts = write_parts(work.path(), 3);
    let documents = EVENTS * REPORTS;
    let mut nats = Nats::start(nats_bin);
    let url = nats.url();

    // What one process makes of the same documents (the embedded store).
    let single = work.path().join("single");
    let out = bin().args(["ingest", "--no-progress", "--db"]).arg(&single).args(&parts).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    let index = |name: &str| work.path().join(name).to_str().unwrap().to_owned();
    let workers = Arc::new(Mutex::new(Workers {
        args: vec![
            "--db".into(),
            db.clone(),
            "--index-dir".into(),
            index("worker-index"),
            "--queue".into(),
            url.clone(),
            "--batch".into(),
            "8".into(),
            "--ack-wait".into(),
            "3s".into(),
        ],
        children: Vec::new(),
        logs: (0..3).map(|i| work.path().join(format!("worker{i}.log"))).collect(),
        restarts: 0,
    }));
    for i in 0..3 {
        workers.lock().unwrap().spawn(i);
    }
    // Kill a random worker every 0.4 to 2 s and start it again, until told to stop.
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("kill schedule seed {seed}");
    let stop = Arc::new(AtomicBool::new(false));
    let killer = {
        let (workers, stop) = (workers.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut x = seed;
            let mut next = || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(400 + next() % 1600));
                let i = (next() % 3) as usize;
                let mut w = workers.lock().unwrap();
                w.kill(i);
                w.spawn(i);
            }
        })
    };
    let publish = |path: &Path| {
        let out = bin().args(["ingest", "--no-progress", "--queue", &url]).arg(path).output().unwrap();
        assert!(out.status.success(), "publishing {}: {}", path.display(), stderr(&out));
        stderr(&out)
    };
    publish(&parts[0]);
    // The NATS server dies while the second part is being published, and comes back.
    let second = bin().args(["ingest", "--no-progress", "--queue", &url]).arg(&parts[1]).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(150));
    nats.restart();
    let out = second.wait_with_output().unwrap();
    assert!(out.status.success(), "publishing through a NATS restart: {}", stderr(&out));
    publish(&parts[2]);
    // The same documents again: dropped by JetStream's duplicate window.
    let again = publish(&parts[0]);
    assert!(again.contains(" 0 new,"), "republished documents are duplicates: {again}");

    // Everything stored, each once, each in a story.
    let pg: [&str; 2] = ["--index-dir", &index("check-index")];
    let started = Instant::now();
    let stored = loop {
        let stored = stories_of(&db, &pg);
        if stored.len() == documents && stored.values().all(Option::is_some) {
            break stored;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "{} of {documents} stored ({} in stories) after 300 s",
            stored.len(),
            stored.values().flatten().count()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    stop.store(true, Ordering::Relaxed);
    killer.join().unwrap();
    let restarts = workers.lock().unwrap().restarts;
    eprintln!("stored {documents} documents in {:.1} s with {restarts} worker kills", started.elapsed().as_secs_f64());
    assert!(restarts >= 2, "the schedule killed workers");
    let logs: String = workers.lock().unwrap().logs.iter().map(|l| std::fs::read_to_string(l).unwrap_or_default()).collect();
    assert!(!logs.contains("panicked"), "{logs}");

    // The stories are the ones one process makes.
    let single = stories_of(single.to_str().unwrap(), &[]);
    assert_eq!(single.len(), documents);
    let as_map = |m: &HashMap<String, Option<String>>| m.iter().map(|(a, s)| (a.clone(), s.clone().unwrap())).collect::<HashMap<_, _>>();
    let f = b_cubed(&as_map(&stored), &as_map(&single));
    let count = |m: &HashMap<String, Option<String>>| m.values().collect::<HashSet<_>>().len();
    eprintln!("B-cubed of the queue's stories against one process's: {f:.4} ({} and {} stories)", count(&stored), count(&single));
    assert!(f >= 0.995, "stories through the queue differ from one process's: B-cubed {f:.4}");
    // Copies were found across workers: every event's exact copy.
    let copies = bin().args(["export", "copies", "--db", &db]).args(pg).output().unwrap();
    let exact = crate::jsonl(&String::from_utf8_lossy(&copies.stdout)).iter().filter(|r| r["relation"] == "exact").count();
    assert!(exact >= EVENTS, "exact copies found: {exact} of {EVENTS}");

    // Two servers over the store: each finds every article, and each takes writes the other shows.
    let (a, b) = (index("server-a"), index("server-b"));
    let one = Server::start_with(Path::new(&db), &["--index-dir", &a]);
    let two = Server::start_with(Path::new(&db), &["--index-dir", &b]);
    for (name, server) in [("first", &one), ("second", &two)] {
        crate::writers::wait_for(&format!("the {name} server's search"), Duration::from_secs(30), || {
            server.json("/search?q=region&limit=1").1["total"] == documents
        });
        for e in [0, EVENTS / 2, EVENTS - 1] {
            assert_eq!(server.json(&format!("/search?q=zq{e}x3&limit=5")).1["total"], 1, "{name} server: zq{e}x3");
        }
    }
    let (status, body) =
        two.request("POST", "/articles", &json!([{"id": "posted-1", "title": "Posted", "text": "A written note about zqposted and the region."}]).to_string());
    assert_eq!(status, 201, "{body}");
    crate::writers::wait_for("a write on the second server in the first", Duration::from_secs(10), || one.json("/search?q=zqposted").1["total"] == 1);
}
