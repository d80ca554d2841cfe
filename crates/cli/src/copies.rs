//! `storyline copies ID`: shows a reader why two articles are related.

use std::io::Write;

use anyhow::Result;
use storyline_model::{ArticleId, Side};
use storyline_store::Store;

/// `storyline copies ID`: the relations of one article, with shared passages side by side.
pub fn show(store: &dyn Store, id: &ArticleId, mut out: impl Write) -> Result<bool> {
    let Some(article) = store.get_article(id)? else { return Ok(false) };
    let me = &article.article;
    let mut relations = Vec::new();
    store.for_each_copy_relation(Some(&me.id), &mut |r| {
        relations.push(r);
        Ok(())
    })?;
    writeln!(out, "{}  {}  {}", me.id, me.outlet.as_deref().unwrap_or("-"), me.title.as_deref().unwrap_or("(no title)"))?;
    if relations.is_empty() {
        writeln!(out, "\nno copies, near-duplicates or shared passages found")?;
        return Ok(true);
    }
    for r in relations {
        let (other_id, mine_is_a) = if r.a == me.id { (&r.b, true) } else { (&r.a, false) };
        let other = store.get_article(other_id)?;
        let other_text = other.as_ref().map(|o| o.article.text.as_str()).unwrap_or("");
        let describe = other.as_ref().map(|o| {
            format!(
                "{}, {}, {}",
                o.article.outlet.as_deref().unwrap_or("-"),
                storyline_compare::day(o.article.published_date()),
                o.article.title.as_deref().unwrap_or("(no title)")
            )
        });
        let kind = serde_json::to_value(r.relation)?.as_str().unwrap_or_default().replace('_', " ");
        writeln!(out, "\n{kind} ({} similar) with {other_id} ({})", storyline_compare::percent(r.similarity), describe.unwrap_or_default())?;
        let original = match (r.original, mine_is_a) {
            (None, _) => "undecided".to_owned(),
            (Some(Side::A), true) | (Some(Side::B), false) => "this article".to_owned(),
            _ => other_id.to_string(),
        };
        writeln!(out, "  likely original: {original}")?;
        for e in &r.evidence {
            writeln!(out, "  - {e}")?;
        }
        for (n, span) in r.shared.iter().enumerate().take(5) {
            let (mine, theirs) =
                if mine_is_a { ((span.a_start, span.a_end), (span.b_start, span.b_end)) } else { ((span.b_start, span.b_end), (span.a_start, span.a_end)) };
            writeln!(out, "\n  passage {} — this article [{}..{}] | other [{}..{}]", n + 1, mine.0, mine.1, theirs.0, theirs.1)?;
            side_by_side(&slice_chars(&me.text, mine.0, mine.1), &slice_chars(other_text, theirs.0, theirs.1), &mut out)?;
        }
        if r.shared.len() > 5 {
            writeln!(out, "  ... {} more shared passages", r.shared.len() - 5)?;
        }
    }
    Ok(true)
}

fn slice_chars(text: &str, start: usize, end: usize) -> String {
    text.chars().skip(start).take(end.saturating_sub(start)).collect()
}

const COLUMN: usize = 60;
const MAX_LINES: usize = 8;

fn side_by_side(left: &str, right: &str, out: &mut impl Write) -> std::io::Result<()> {
    let (l, r) = (wrap(left), wrap(right));
    let rows = l.len().max(r.len());
    for i in 0..rows.min(MAX_LINES) {
        writeln!(out, "    {:<width$} | {}", l.get(i).map_or("", String::as_str), r.get(i).map_or("", String::as_str), width = COLUMN)?;
    }
    if rows > MAX_LINES {
        writeln!(out, "    {:<width$} | ...", "...", width = COLUMN)?;
    }
    Ok(())
}

fn wrap(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > COLUMN {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.extend(word.chars().take(COLUMN));
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}
