//! End-to-end tests of the `storyline` binary: one test binary, a module per feature.

mod alerts;
mod bad_input;
mod copies;
mod events;
mod facts;
mod follow;
mod hardening;
mod queue;
mod samples;
mod serve;
mod store;
mod stories;
mod writers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_storyline"));
    cmd.env_remove("STORYLINE_DB");
    cmd
}

pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Runs `storyline extract` on paths and returns the parsed JSON lines and the output.
pub fn extract(paths: &[&Path]) -> (Vec<Value>, Output) {
    let out = bin().arg("extract").args(paths).stdin(Stdio::null()).output().expect("run storyline");
    let docs = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    (docs, out)
}

/// Runs a `storyline` command against a store; it must succeed. Returns stdout.
pub fn run(db: &Path, args: &[&str]) -> String {
    let out = bin().args(args).arg("--db").arg(db).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

pub fn jsonl(s: &str) -> Vec<Value> {
    s.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
