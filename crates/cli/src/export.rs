//! `storyline export`: stored data as JSON Lines or CSV, streamed.

use std::io::{self, Write};

use anyhow::Result;
use storyline_model::StoredArticle;
use storyline_store::Store;

/// Column order of the CSV export (the JSONL export has the same fields).
const ARTICLE_COLUMNS: &[&str] = &[
    "id",
    "source",
    "external_id",
    "url",
    "title",
    "published",
    "authors",
    "contributors",
    "outlet",
    "credited_source",
    "language",
    "ingested_at",
    "text",
    "removed",
    "warnings",
];

/// Writes every stored article.
pub fn articles(store: &dyn Store, csv_format: bool, mut out: impl Write) -> Result<()> {
    if csv_format {
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record(ARTICLE_COLUMNS)?;
        store.for_each_article(&mut |a| writer.write_record(csv_row(&a)).map_err(io::Error::other))?;
        writer.flush()?;
    } else {
        store.for_each_article(&mut |a| {
            serde_json::to_writer(&mut out, &a)?;
            out.write_all(b"\n")
        })?;
        out.flush()?;
    }
    Ok(())
}

/// Lists are joined with "; "; the removed pieces stay JSON so nothing is lost.
fn csv_row(stored: &StoredArticle) -> Vec<String> {
    let a = &stored.article;
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    vec![
        a.id.0.clone(),
        a.source.clone(),
        opt(&a.external_id),
        opt(&a.url),
        opt(&a.title),
        opt(&a.published),
        a.authors.join("; "),
        a.contributors.join("; "),
        opt(&a.outlet),
        opt(&a.credited_source),
        opt(&a.language),
        stored.ingested_at.clone(),
        a.text.clone(),
        serde_json::to_string(&a.removed).unwrap_or_default(),
        a.warnings.join("; "),
    ]
}
