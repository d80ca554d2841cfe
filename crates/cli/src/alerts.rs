//! `storyline alert add | list | remove | check`: glue between the command line and
//! `storyline_alert`.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use storyline_alert::{AlertConfig, Alerter};
use storyline_model::Alert;
use storyline_store::Store;

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Save a search: stories matching QUERY are reported when they appear, and again each time
    /// --grow-by more outlets join them. Prints the secret that signs webhook deliveries.
    Add {
        name: String,
        /// In the search syntax (`storyline search`).
        query: String,
        /// POST each report here as JSON, signed with X-Storyline-Signature: sha256=HMAC.
        #[arg(long)]
        webhook: Option<String>,
        /// Append each report to this JSON Lines file.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
        /// New outlets that make a reported story worth reporting again.
        #[arg(long, default_value_t = 3)]
        grow_by: u32,
    },
    /// List the alerts and how many stories each reported.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove an alert and its reports.
    Remove { name: String },
    /// Check every alert now and deliver what is due (a running `serve` or `follow --every`
    /// does this by itself).
    Check,
}

pub fn run(store: Arc<dyn Store>, action: Action) -> Result<ExitCode> {
    match action {
        Action::Add { name, query, webhook, file, grow_by } => {
            let file = file
                .map(|f| -> Result<String> {
                    let dir = f.parent().filter(|p| !p.as_os_str().is_empty()).map(std::path::Path::to_path_buf).unwrap_or_else(|| ".".into());
                    let dir = std::fs::canonicalize(&dir).with_context(|| format!("{}: its folder does not exist", f.display()))?;
                    Ok(dir.join(f.file_name().unwrap_or_default()).display().to_string())
                })
                .transpose()?;
            let alert = Alert { name, query, webhook, file, secret: storyline_alert::new_secret(), grow_by, created: chrono::Utc::now(), checked: 0 };
            storyline_alert::validate(&alert)?;
            store.put_alert(&alert).with_context(|| format!("saving the alert in {}", store.describe()))?;
            println!("alert `{}` saved; webhook secret: {}", alert.name, alert.secret);
            Ok(ExitCode::SUCCESS)
        }
        Action::List { json } => {
            let hits = store.alert_hits(None)?;
            let mut out = BufWriter::new(io::stdout().lock());
            for a in store.alerts()? {
                let mine: Vec<_> = hits.iter().filter(|h| h.alert == a.name).collect();
                let pending = mine.iter().filter(|h| h.delivered.is_none()).count();
                if json {
                    let mut v = serde_json::to_value(&a)?;
                    v["secret"] = serde_json::Value::Null;
                    v["reports"] = mine.len().into();
                    v["pending"] = pending.into();
                    writeln!(out, "{v}")?;
                } else {
                    let to = [a.webhook.as_deref(), a.file.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(", ");
                    writeln!(out, "{}\t{}\tto {to}\tgrow by {}\t{} reports ({pending} pending)", a.name, a.query, a.grow_by, mine.len())?;
                }
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Action::Remove { name } => {
            if store.remove_alert(&name)? {
                println!("alert `{name}` removed");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("error: no alert `{name}` in {}", store.describe());
                Ok(ExitCode::FAILURE)
            }
        }
        Action::Check => {
            let alerter = Alerter::new(store, AlertConfig::default())?;
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let s = runtime.block_on(alerter.run(chrono::Utc::now()))?;
            eprintln!("alerts: {} checked, {} new reports, {} delivered, {} failed", s.alerts, s.reported, s.delivered, s.failed);
            Ok(if s.failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
    }
}
