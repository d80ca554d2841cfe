//! The story commands: `stories`, `story ID`, `export stories`.

use std::collections::HashMap;
use std::io::Write;

use anyhow::Result;
use storyline_store::{Store, StorySort};

/// `storyline stories`: one line per story.
pub fn list(store: &dyn Store, sort: StorySort, since: Option<&str>, limit: usize, json: bool, mut out: impl Write) -> Result<usize> {
    let stories = store.list_stories(sort, since, limit)?;
    for s in &stories {
        if json {
            serde_json::to_writer(&mut out, s)?;
            out.write_all(b"\n")?;
        } else {
            writeln!(
                out,
                "{}  {:>4} articles {:>3} outlets  {} .. {}  {}",
                s.id.0,
                s.articles,
                s.outlets.len(),
                s.first_published.as_deref().unwrap_or("----------"),
                s.last_published.as_deref().unwrap_or("----------"),
                if s.title.is_empty() { "(no title)" } else { &s.title }
            )?;
        }
    }
    out.flush()?;
    Ok(stories.len())
}

/// `storyline story ID`: the story, its thread, and why each member belongs.
pub fn show(store: &dyn Store, id: &str, mut out: impl Write) -> Result<bool> {
    let Some((story, events)) = store.get_story(id)? else { return Ok(false) };
    for e in &events {
        match e.kind.as_str() {
            "story_split" => writeln!(out, "(articles of {} moved to {} on {})", e.from, e.to, e.at)?,
            _ => writeln!(out, "({} was merged into {} on {})", e.from, e.to, e.at)?,
        }
    }
    writeln!(out, "{}\n{}", story.id.0, if story.title.is_empty() { "(no title)" } else { &story.title })?;
    writeln!(
        out,
        "{} articles from {} outlets, {} .. {}",
        story.articles,
        story.outlets.len(),
        story.first_published.as_deref().unwrap_or("?"),
        story.last_published.as_deref().unwrap_or("?")
    )?;
    if !story.outlets.is_empty() {
        writeln!(out, "outlets: {}", story.outlets.join(", "))?;
    }
    writeln!(out, "key terms: {}", story.key_terms.join(", "))?;
    writeln!(out, "names: {}", story.key_names.join(", "))?;
    if let Some(t) = story.thread.as_deref().map(|t| store.get_thread(t)).transpose()?.flatten() {
        writeln!(out, "thread: {} ({} stories) {}", t.id, t.stories, t.title)?;
    }
    writeln!(out)?;
    for m in store.story_members(&story.id)? {
        let a = store.get_article(&m.article)?;
        let a = a.as_ref().map(|a| &a.article);
        writeln!(
            out,
            "{}  {}  {}\n  {}",
            m.article.0,
            a.and_then(|a| a.published_date()).unwrap_or("----------"),
            a.and_then(|a| a.outlet.as_deref()).unwrap_or("-"),
            a.and_then(|a| a.title.as_deref()).unwrap_or("(no title)")
        )?;
        let similarity = format!("similarity {:.3}; shared terms: {}; shared names: {}", m.score, m.shared_terms.join(", "), m.shared_names.join(", "));
        match (m.note.as_str(), m.score == 0.0 && m.shared_terms.is_empty() && m.shared_names.is_empty()) {
            ("", _) => writeln!(out, "  why: {similarity}")?,
            (note, true) => writeln!(out, "  why: {note}")?,
            (note, false) => writeln!(out, "  why: {note}; {similarity}")?,
        }
    }
    out.flush()?;
    Ok(true)
}

/// `storyline export stories`.
pub fn export(store: &dyn Store, csv_format: bool, mut out: impl Write) -> Result<()> {
    let stories = store.list_stories(StorySort::Size, None, usize::MAX)?;
    let mut thread_titles: HashMap<String, String> = HashMap::new();
    for s in &stories {
        if let Some(t) = &s.thread {
            if !thread_titles.contains_key(t) {
                let title = store.get_thread(t)?.map(|t| t.title).unwrap_or_default();
                thread_titles.insert(t.clone(), title);
            }
        }
    }
    if csv_format {
        let mut w = csv::Writer::from_writer(out);
        w.write_record([
            "id",
            "title",
            "articles",
            "outlets",
            "first_published",
            "last_published",
            "thread",
            "thread_title",
            "outlet_names",
            "key_terms",
            "key_names",
        ])?;
        for s in &stories {
            let thread = s.thread.clone().unwrap_or_default();
            w.write_record([
                s.id.0.clone(),
                s.title.clone(),
                s.articles.to_string(),
                s.outlets.len().to_string(),
                s.first_published.clone().unwrap_or_default(),
                s.last_published.clone().unwrap_or_default(),
                thread.clone(),
                thread_titles.get(&thread).cloned().unwrap_or_default(),
                s.outlets.join("; "),
                s.key_terms.join("; "),
                s.key_names.join("; "),
            ])?;
        }
        w.flush()?;
    } else {
        for s in &stories {
            let thread_title = s.thread.as_ref().and_then(|t| thread_titles.get(t));
            let value = serde_json::json!({
                "id": s.id, "title": s.title, "articles": s.articles, "outlets": s.outlets.len(),
                "first_published": s.first_published, "last_published": s.last_published,
                "thread": s.thread, "thread_title": thread_title, "outlet_names": s.outlets,
                "key_terms": s.key_terms, "key_names": s.key_names,
            });
            serde_json::to_writer(&mut out, &value)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    Ok(())
}
