//! `cargo xtask`: the project's own tasks. `ci` runs exactly what CI runs; `eval` scores the
//! stages on ../shared/bench; `bench` measures speed beside the peer tools.

mod copies_eval;
mod eval;
mod ner_eval;
mod quotes_eval;
mod serve_bench;
mod spin;
mod stories_eval;

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("eval") => eval::run(&args[1..]),
        Some("bench") => eval::bench(&args[1..]),
        Some("train") if args.get(1).map(String::as_str) == Some("ner") => {
            ner_eval::train(std::path::Path::new(args.get(2).map_or("../shared/bench", String::as_str)))
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | eval [extraction|dates|cleaning|copies|stories|ner] [--bench DIR] | bench [copies|stories] | train ner [BENCH_DIR]>"
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
fn ci() -> Result<(), String> {
    run(Command::new("cargo").args(["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"]))?;
    run(Command::new("cargo").args(["test", "--workspace", "--locked"]))?;
    browser_tests()?;
    if std::path::Path::new("../shared/bench/README.md").exists() {
        eval::run(&[])
    } else {
        eprintln!("xtask: quality gate skipped: ../shared/bench is not present");
        Ok(())
    }
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

pub fn run(cmd: &mut Command) -> Result<(), String> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed with {status}"))
    }
}
