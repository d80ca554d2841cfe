//! The story report as Markdown (`storyline report --format md`).

use std::fmt::Write;

use storyline_model::{ArticleId, ConflictKind, MatrixKind, StoryReport};

use crate::day;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(r: &StoryReport) -> String {
    let n = |id: &ArticleId| r.sources.iter().position(|x| x.article == *id).map(|i| i + 1).unwrap_or(0);
    let cites = |ids: &[ArticleId]| ids.iter().map(|a| format!("[{}]", n(a))).collect::<String>();
    let mut h = String::new();
    let s = &r.story;
    let _ = writeln!(h, "# {}\n", s.title);
    let _ = writeln!(
        h,
        "Story `{}` · {} articles ({} independent) · {} · {} .. {}\n",
        s.id.0,
        r.sources.len(),
        r.sources.iter().filter(|x| x.copy_of.is_none()).count(),
        crate::outlet_count(&r.sources),
        day(s.first_published),
        day(s.last_published)
    );
    h.push_str("## Summary\n\n");
    for x in &r.summary {
        let _ = writeln!(h, "- {} {}", x.text, cites(&x.articles));
    }
    h.push_str("\n## Outlets\n\n| # | outlet | headline | published | relation |\n|---|---|---|---|---|\n");
    for (i, x) in r.sources.iter().enumerate() {
        let rel = crate::relation_label(r, i);
        let _ = writeln!(
            h,
            "| {} | {} | {} | {} | {} |",
            i + 1,
            cell(&x.outlet),
            cell(x.title.as_deref().unwrap_or("(no headline)")),
            day(x.published.map(|p| p.date)),
            rel
        );
    }
    h.push_str("\n## Conflicts\n\n");
    if r.conflicts.is_empty() {
        h.push_str("None found.\n");
    }
    for c in &r.conflicts {
        let _ = writeln!(h, "- **{}** ({} stated differently)", c.subject, if c.kind == ConflictKind::Role { "title" } else { "figure" });
        for (i, v) in c.versions.iter().enumerate() {
            let _ = writeln!(h, "  - {}: “{}” — {} {}", if i == 0 { "majority" } else { "minority" }, v.value, v.outlets.join(", "), cites(&v.articles));
        }
    }
    h.push_str("\n## Quote variants\n\n");
    if r.quote_variants.is_empty() {
        h.push_str("None found.\n");
    }
    for q in &r.quote_variants {
        let _ = writeln!(h, "- **{}**", q.speaker.as_deref().unwrap_or("unattributed"));
        for w in &q.wordings {
            let _ = writeln!(h, "  - {} {}: “{}”", w.outlets.join(", "), cites(&w.articles), aligned_words(&w.alignment));
        }
    }
    h.push_str("\n## Copies and rewrites\n\n");
    if r.copies.is_empty() {
        h.push_str("None found.\n");
    }
    for g in &r.copies {
        let _ = writeln!(h, "- [{}]{}", n(&g.original), if g.original_known { " original" } else { " (direction unknown)" });
        for c in &g.copies {
            let of = crate::copy_target(r, &c.article).filter(|t| **t != g.original).map(|t| format!(" of [{}]", n(t))).unwrap_or_default();
            let _ = writeln!(
                h,
                "  - [{}] {}{of} ({}): {}",
                n(&c.article),
                c.relation.as_str().replace('_', "-"),
                crate::percent(c.similarity),
                c.evidence.join("; ")
            );
            if !c.diff.is_empty() {
                let _ = writeln!(h, "    - changed words: {}", aligned_words(&c.diff));
            }
        }
    }
    h.push_str("\n## Timeline\n\n");
    for t in &r.timeline {
        let _ = writeln!(h, "- {} {}: {} {}", day(t.date.map(|d| d.date)), t.kind, t.text, cites(&t.articles));
    }
    h.push_str("\n## Comparison\n\n| fact |");
    for i in 0..r.sources.len() {
        let _ = write!(h, " [{}] |", i + 1);
    }
    h.push_str("\n|---|");
    h.push_str(&"---|".repeat(r.sources.len()));
    h.push('\n');
    for row in &r.matrix {
        let _ = write!(h, "| {}: {} |", row.kind, cell(&row.label));
        for c in &row.cells {
            let v = match c {
                Some(v) if row.kind == MatrixKind::Statement || v == "named" => "✓".to_string(),
                Some(v) => cell(v),
                None => "—".into(),
            };
            let _ = write!(h, " {v} |");
        }
        h.push('\n');
    }
    h
}

/// Aligned words (a quote variant, a near-duplicate's diff): missing words struck, added words
/// in bold.
fn aligned_words(words: &[storyline_model::AlignedWord]) -> String {
    let words: Vec<String> = words
        .iter()
        .map(|a| match a.op.as_str() {
            "added" => format!("**{}**", a.word),
            "missing" => format!("~~{}~~", a.word),
            _ => a.word.clone(),
        })
        .collect();
    words.join(" ")
}
