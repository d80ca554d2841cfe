//! The story commands: `stories`, `story ID`, `export stories`.

use std::collections::HashMap;
use std::io::Write;

use anyhow::Result;
use serde::Serialize;
use storyline_model::{NaiveDate, StoryId, ThreadId};
use storyline_store::{Store, StorySort};

/// `storyline stories`: one line per story.
pub fn list(store: &dyn Store, sort: StorySort, since: Option<NaiveDate>, limit: usize, json: bool, mut out: impl Write) -> Result<usize> {
    let stories = store.list_stories(sort, since, limit)?;
    for s in &stories {
        if json {
            serde_json::to_writer(&mut out, s)?;
            out.write_all(b"\n")?;
        } else {
            writeln!(
                out,
                "{}  {:>4} articles {:>3} named outlets  {} .. {}  {}",
                s.id.0,
                s.articles,
                s.outlets.len(),
                storyline_compare::day(s.first_published),
                storyline_compare::day(s.last_published),
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
        "{} articles from {} named outlets, {} .. {}",
        story.articles,
        story.outlets.len(),
        storyline_compare::day(story.first_published),
        storyline_compare::day(story.last_published)
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
            a.and_then(|a| a.published_date()).map_or_else(|| "----------".to_owned(), |d| d.to_string()),
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

/// What to say when `id` is no story: the story of the article with that id (or external id),
/// or where to find story ids.
pub fn hint(store: &dyn Store, id: &str) -> Result<String> {
    let Some(a) = store.get_article(&storyline_model::ArticleId(id.to_owned()))? else {
        return Ok(" (`storyline stories` lists them)".to_owned());
    };
    let story = store.stories_of(std::slice::from_ref(&a.article.id))?.into_iter().next().map(|(_, s)| s);
    Ok(match story {
        Some(s) => format!("; `{id}` is an article, in story {s} (`storyline story {s}`)"),
        None => format!("; `{id}` is an article, not yet in a story (the story step runs at the end of each ingest)"),
    })
}

/// One exported story: its descriptors and its thread's title.
#[derive(Serialize)]
struct StoryRow<'a> {
    id: &'a StoryId,
    title: &'a str,
    articles: usize,
    /// Distinct outlets, as in `stories --json`.
    outlets: &'a [String],
    outlet_count: usize,
    first_published: Option<NaiveDate>,
    last_published: Option<NaiveDate>,
    thread: Option<&'a ThreadId>,
    thread_title: Option<&'a str>,
    key_terms: &'a [String],
    key_names: &'a [String],
}

/// `storyline export stories`.
pub fn export(store: &dyn Store, csv_format: bool, out: impl Write) -> Result<()> {
    let stories = store.list_stories(StorySort::Size, None, usize::MAX)?;
    let mut thread_titles: HashMap<&ThreadId, String> = HashMap::new();
    for s in &stories {
        if let Some(t) = &s.thread {
            if !thread_titles.contains_key(t) {
                let title = store.get_thread(t)?.map(|t| t.title).unwrap_or_default();
                thread_titles.insert(t, title);
            }
        }
    }
    let mut rows = crate::export::Rows::new(csv_format, out);
    for s in &stories {
        rows.write(&StoryRow {
            id: &s.id,
            title: &s.title,
            articles: s.articles,
            outlets: &s.outlets,
            outlet_count: s.outlets.len(),
            first_published: s.first_published,
            last_published: s.last_published,
            thread: s.thread.as_ref(),
            thread_title: s.thread.as_ref().and_then(|t| thread_titles.get(t)).map(String::as_str),
            key_terms: &s.key_terms,
            key_names: &s.key_names,
        })?;
    }
    rows.finish()
}
