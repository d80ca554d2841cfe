//! `cargo xtask`: the project's own tasks. `ci` runs exactly what CI runs; `eval` scores the
//! stages on ../shared/bench; `bench` measures speed beside the peer tools.

mod backends_bench;
mod copies_eval;
mod eval;
mod extraction_eval;
mod follow_bench;
mod furniture_eval;
mod ner_eval;
mod queue_bench;
mod quotes_eval;
mod serve_bench;
mod spin;
mod stories_eval;
mod support_eval;

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("eval") => eval::run(&args[1..]),
        Some("bench") => eval::bench(&args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
        Some("schemathesis") => schemathesis(),
        Some("train") if args.get(1).map(String::as_str) == Some("ner") => {
            ner_eval::train(std::path::Path::new(args.get(2).map_or("../shared/bench", String::as_str)))
        }
        Some("train") if args.get(1).map(String::as_str) == Some("ner-encoder") => {
            ner_eval::train_encoder(std::path::Path::new(args.get(2).map_or("../shared/bench", String::as_str)))
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | eval [extraction|dragnet|extraction-rules|dates|cleaning|copies|furniture|furniture-rules|stories|ner|ner-variants|queue] [--bench DIR] | bench [copies|stories|serve N|queue N|backends N|follow [FEEDS ITEMS SECONDS PERIOD]] | train ner|ner-encoder [BENCH_DIR] | fuzz TARGET [SECONDS] | schemathesis>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What CI runs: lints, every test, then the quality gate on ../shared/bench when it is there.
/// The PostgreSQL tests use the server of `STORYLINE_TEST_PG`; without one, a throwaway cluster
/// is started (scripts/pg-test-cluster.sh) when PostgreSQL is installed.
fn ci() -> Result<(), String> {
    timed("clippy", || run(Command::new("cargo").args(["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"])))?;
    let _cluster = postgres_for_tests()?;
    timed("tests", || run(Command::new("cargo").args(["test", "--workspace", "--locked"])))?;
    timed("schemathesis", schemathesis)?;
    timed("browser tests", browser_tests)?;
    if std::path::Path::new("../shared/bench/README.md").exists() {
        free_debug_build()?;
        timed("quality gate (release build and evals)", || eval::run(&[]))
    } else {
        eprintln!("xtask: quality gate skipped: ../shared/bench is not present");
        Ok(())
    }
}

/// CI's disk: the debug build (tests, schemathesis and browser tests are done with it) and the
/// release build of the quality gate together took about 7 GB, and a CI run once stopped on a
/// full disk. `.ci/run` sets `STORYLINE_CI_FREE_DISK` so that the debug build goes before the
/// release build starts; a developer's `cargo xtask ci` keeps it.
fn free_debug_build() -> Result<(), String> {
    if std::env::var_os("STORYLINE_CI_FREE_DISK").is_none() {
        return Ok(());
    }
    let debug = std::path::Path::new("target/debug");
    if debug.exists() {
        std::fs::remove_dir_all(debug).map_err(|e| format!("target/debug: {e} (removing the debug build to free disk)"))?;
        eprintln!("xtask: removed target/debug before the release build (STORYLINE_CI_FREE_DISK is set){}", disk_free());
    }
    Ok(())
}

/// ", N GB free on this disk" from `df`, or nothing where `df` cannot tell.
fn disk_free() -> String {
    let Ok(out) = Command::new("df").args(["-Pk", "."]).output() else { return String::new() };
    let text = String::from_utf8_lossy(&out.stdout);
    let available = text.lines().nth(1).and_then(|line| line.split_whitespace().nth(3)).and_then(|k| k.parse::<f64>().ok());
    available.map_or_else(String::new, |kb| format!(", {:.1} GB free on this disk", kb / 1024.0 / 1024.0))
}

/// One step of `ci`, with the seconds it took: CI has a time budget (30 minutes on two cores)
/// and the log shows where it goes.
fn timed(step: &str, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let start = std::time::Instant::now();
    let result = f();
    eprintln!("xtask: {step} took {:.0} s{}", start.elapsed().as_secs_f64(), disk_free());
    result
}

/// A throwaway PostgreSQL cluster, stopped when dropped.
struct Cluster(std::path::PathBuf);

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.0.join("data");
        let stop = format!("$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/pg_ctl -D {} stop -m fast", data.display());
        let stop = if is_root() { format!("runuser -u storyline-test -- {stop}") } else { stop };
        let _ = Command::new("sh").args(["-c", &format!("{stop} >/dev/null 2>&1")]).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn postgres_for_tests() -> Result<Option<Cluster>, String> {
    if std::env::var_os("STORYLINE_TEST_PG").is_some() {
        return Ok(None);
    }
    if !Command::new("sh").args(["-c", "ls /usr/lib/postgresql/*/bin/initdb"]).output().is_ok_and(|o| o.status.success()) {
        eprintln!("xtask: PostgreSQL is not installed: its tests will be skipped (`apt-get install postgresql`, as .ci/run does)");
        return Ok(None);
    }
    let dir = std::env::temp_dir().join(format!("storyline-pg-{}", std::process::id()));
    let out = Command::new("scripts/pg-test-cluster.sh").arg(&dir).output().map_err(|e| format!("scripts/pg-test-cluster.sh: {e}"))?;
    if !out.status.success() {
        return Err(format!("starting a PostgreSQL cluster for the tests: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    eprintln!("xtask: PostgreSQL for the tests at {url}");
    // Inherited by the test processes this one starts (xtask runs no other threads).
    std::env::set_var("STORYLINE_TEST_PG", &url);
    Ok(Some(Cluster(dir)))
}

/// The web UI in a real browser: Playwright (`playwright-core`, pinned in
/// tests/browser/package-lock.json) driving Debian's Chromium, against the debug binary the
/// Rust tests just built.
fn browser_tests() -> Result<(), String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&chromium).exists() {
        return Err(format!("browser tests need Chromium at {chromium} (`apt-get install chromium`, as .ci/run does), or CHROMIUM=path"));
    }
    if !std::path::Path::new("tests/browser/node_modules/playwright-core").exists() {
        run(Command::new("npm").args(["ci", "--prefix", "tests/browser", "--no-audit", "--no-fund"]))?;
    }
    let bin = std::fs::canonicalize("target/debug/storyline").map_err(|e| format!("target/debug/storyline: {e} (cargo test builds it)"))?;
    run(Command::new("node").args(["--test", "tests/browser/ui.test.mjs"]).env("STORYLINE_BIN", bin).env("CHROMIUM", chromium))
}

/// The pinned schemathesis, in a virtual environment under target/.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";

/// openapi.yaml against a live server (the debug binary the tests built, on loopback, over the
/// bundled sample in a throwaway store): every check but `positive_data_acceptance`, which
/// takes any string the schema allows as one the server must accept, and cannot know that an
/// opaque cursor or a query in our syntax can be wrong. Bounded in time; a fixed seed makes a
/// failure reproducible (`st replay`).
fn schemathesis() -> Result<(), String> {
    let venv = std::path::Path::new("target/schemathesis");
    let st = venv.join("bin/st");
    if !st.exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(venv))?;
        run(Command::new(venv.join("bin/pip")).args(["install", "-q", "--disable-pip-version-check", SCHEMATHESIS]))?;
    }
    let bin = std::fs::canonicalize("target/debug/storyline").map_err(|e| format!("target/debug/storyline: {e} (cargo test builds it)"))?;
    let db = std::env::temp_dir().join(format!("storyline-schemathesis-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&db);
    run(Command::new(&bin).args(["ingest", "--no-progress", "--db"]).arg(&db).arg("examples"))?;
    let mut server = Command::new(&bin)
        .args(["serve", "--addr", "127.0.0.1:0", "--db"])
        .arg(&db)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("starting the server: {e}"))?;
    let mut line = String::new();
    let stdout = server.stdout.take().ok_or("no server output")?;
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).map_err(|e| format!("reading the server's address: {e}"))?;
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).map(|u| u.trim_end_matches('/').to_string());
    let result = match url {
        None => Err(format!("the server did not say where it listens: {line:?}")),
        Some(url) => run(Command::new(&st).args([
            "run",
            "openapi.yaml",
            "--url",
            &url,
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--max-examples",
            "20",
            // One worker: hypothesis's internals are not thread-safe (two workers raised
            // IndexError and AST errors inside it, not in the server).
            "--workers",
            "1",
            "--seed",
            "1",
            "--max-time",
            "90",
            // The event stream never ends.
            "--exclude-path",
            "/events",
            // DELETE /alerts/{name} answers 204 once and 404 after for the same input, which
            // hypothesis cannot replay: its shrinker failed inside itself (IndexError) in one
            // run of five. The CLI tests cover the endpoint (204, 404, permission).
            "--exclude-method",
            "DELETE",
        ])),
    };
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&db);
    result
}

/// Runs one fuzz target under libFuzzer for SECONDS (default 60) with cargo-fuzz (installed
/// from crates.io when missing). New inputs go to fuzz/corpus/TARGET (not committed), crashes
/// to fuzz/artifacts/TARGET (committed once fixed: `cargo test` replays them).
fn fuzz(args: &[String]) -> Result<(), String> {
    let target =
        args.first().ok_or("usage: cargo xtask fuzz TARGET [SECONDS] (targets: text html jsonl warc feed sniffed extract query sitemap opml listing)")?;
    let seconds = args.get(1).map_or("60", String::as_str);
    if Command::new("cargo").args(["fuzz", "--version"]).output().map_or(true, |o| !o.status.success()) {
        run(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))?;
    }
    let corpus = format!("fuzz/corpus/{target}");
    std::fs::create_dir_all(&corpus).map_err(|e| format!("{corpus}: {e}"))?;
    // libFuzzer's flags need a nightly compiler; RUSTC_BOOTSTRAP lets the stable one take them.
    run(Command::new("cargo").env("RUSTC_BOOTSTRAP", "1").args(["fuzz", "run", "-s", "none", target, &corpus, &format!("fuzz/seeds/{target}"), "--"]).args([
        format!("-max_total_time={seconds}"),
        "-print_final_stats=1".into(),
        "-rss_limit_mb=2048".into(),
        "-timeout=20".into(),
        "-max_len=65536".into(),
    ]))
}

pub fn run(cmd: &mut Command) -> Result<(), String> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed with {status}"))
    }
}
