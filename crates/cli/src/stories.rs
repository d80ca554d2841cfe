//! The story step of an ingest (new articles into stories and threads), and the story commands:
//! `stories`, `story ID`, `export stories`.

use std::collections::{HashMap, HashSet};
use std::io::Write;

use anyhow::{Context, Result};
use rayon::prelude::*;
use storyline_cluster::features::day_date;
use storyline_cluster::{state, CopyOf, Engine, Input, Params, Reopened, StoryState};
use storyline_model::{ArticleId, CopyKind, Story, StoryId, Thread};
use storyline_store::{Store, StorySort, StoryUpdate};

/// Articles clustered together per batch: larger batches depend less on input order.
const STORY_BATCH: usize = 4096;

/// What the story step did.
#[derive(Debug, Default)]
pub struct StepSummary {
    pub assigned: usize,
    pub opened: usize,
    pub merges: usize,
    /// Stored articles that moved to another story when their story was reopened, and the
    /// splits that made.
    pub moved: usize,
    pub splits: usize,
    pub stories: usize,
    /// Rewrite relations found among story members, and the time that took.
    pub rewrites: usize,
    pub rewrite_secs: f64,
}

/// Assigns every stored article that has no story yet, batch by batch; each batch is one
/// transaction, so an interrupted run resumes where it stopped.
pub fn story_step(store: &mut dyn Store, on_progress: &mut dyn FnMut(usize)) -> Result<StepSummary> {
    let saved = store.cluster_state()?;
    let stories = saved.stories.iter().map(|b| state::decode(b)).collect::<Result<Vec<_>, _>>().context("reading the stored story state")?;
    let docs = u32::try_from(saved.docs).unwrap_or(u32::MAX);
    let mut engine = Engine::new(Params::default(), stories, saved.df.into_iter().collect(), docs);
    let mut summary = StepSummary::default();
    loop {
        let batch = store.articles_needing_story(STORY_BATCH)?;
        if batch.is_empty() {
            break;
        }
        let mut related = HashSet::new();
        let copy_of = copies_of(store, batch.iter().map(|a| &a.article.id), &mut related)?;
        let inputs: Vec<Input> = batch
            .par_iter()
            .map(|a| Input { article: a.article.id.clone(), profile: storyline_cluster::profile(&a.article), copy_of: copy_of.get(&a.article.id).cloned() })
            .collect();
        let counted = inputs.iter().filter(|i| i.copy_of.is_none()).count() as u64;
        let reopen = engine.stories_to_reopen(&inputs);
        let (reopened, was) = reopened_members(store, &reopen)?;
        let out = engine.add_batch_reopening(inputs, reopened);
        summary.assigned += batch.len();
        summary.moved += out.assignments.iter().filter(|a| was.get(&a.article).is_some_and(|s| *s != a.story.0)).count();
        summary.splits += out.splits.len();
        summary.merges += out.merges.len();
        summary.opened += out.opened;
        let changed_threads: HashSet<String> = out.changed.iter().map(|s| s.thread.clone()).collect();
        let threads = engine
            .thread_members(&changed_threads)
            .into_iter()
            .map(|(id, members)| Thread { title: engine.thread_title(&members, 3), stories: members.len(), id })
            .collect();
        let mut absorbed: HashMap<StoryId, Vec<StoryId>> = HashMap::new();
        for (gone, keep) in &out.merges {
            absorbed.entry(StoryId(keep.clone())).or_default().push(StoryId(gone.clone()));
        }
        let started = std::time::Instant::now();
        let copies: HashSet<&ArticleId> = copy_of.keys().collect();
        let fresh: Vec<_> = out.assignments.iter().filter(|a| !was.contains_key(&a.article)).cloned().collect();
        let rewrites = crate::copies::rewrites_in_stories(store, &batch, &fresh, &copies, &absorbed, &related)?;
        summary.rewrites += rewrites.len();
        summary.rewrite_secs += started.elapsed().as_secs_f64();
        let update = StoryUpdate {
            stories: out.changed.iter().map(|s| (describe(&engine, s), state::encode(s))).collect(),
            members: out.assignments,
            merges: out.merges,
            splits: out.splits,
            thread_merges: out.thread_merges,
            threads,
            df_delta: out.df_delta,
            docs_delta: counted,
            rewrites,
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        };
        store.record_stories(&update)?;
        on_progress(summary.assigned);
    }
    summary.stories = engine.stories();
    Ok(summary)
}

/// The members of stories the engine reopens, as engine inputs, and each member's story. A
/// member that is an exact or near-duplicate copy of an earlier member (by id) follows it.
fn reopened_members(store: &dyn Store, ids: &[String]) -> Result<(Reopened, HashMap<ArticleId, String>)> {
    let mut out = Vec::new();
    let mut was = HashMap::new();
    for id in ids {
        let members = store.story_members(&StoryId(id.clone()))?;
        let mut articles = Vec::with_capacity(members.len());
        for m in &members {
            if let Some(a) = store.get_article(&m.article)? {
                articles.push(a.article);
            }
        }
        let mine: HashSet<&ArticleId> = articles.iter().map(|a| &a.id).collect();
        let mut copy_of: HashMap<ArticleId, ArticleId> = HashMap::new();
        for a in &articles {
            store.for_each_copy_relation(Some(&a.id), &mut |r| {
                let other = if r.a == a.id { r.b } else { r.a };
                if matches!(r.relation, CopyKind::Exact | CopyKind::NearDuplicate) && other < a.id && mine.contains(&other) {
                    let e = copy_of.entry(a.id.clone()).or_insert_with(|| other.clone());
                    if other < *e {
                        *e = other;
                    }
                }
                Ok(())
            })?;
        }
        let inputs: Vec<Input> = articles
            .par_iter()
            .map(|a| Input { article: a.id.clone(), profile: storyline_cluster::profile(a), copy_of: copy_of.get(&a.id).cloned().map(CopyOf::InBatch) })
            .collect();
        was.extend(inputs.iter().map(|i| (i.article.clone(), id.clone())));
        out.push((id.clone(), inputs));
    }
    Ok((out, was))
}

/// For each article that is an exact or near-duplicate copy: the article it follows. A stored
/// article that already has a story is preferred; within a batch the smaller id leads.
/// Every pair already related some way is added to `related`.
fn copies_of<'a>(
    store: &dyn Store,
    ids: impl Iterator<Item = &'a ArticleId>,
    related: &mut HashSet<(ArticleId, ArticleId)>,
) -> Result<HashMap<ArticleId, CopyOf>> {
    let ids: Vec<&ArticleId> = ids.collect();
    let in_batch: HashSet<&ArticleId> = ids.iter().copied().collect();
    let mut others: HashMap<ArticleId, Vec<ArticleId>> = HashMap::new();
    for &id in &ids {
        store.for_each_copy_relation(Some(id), &mut |r| {
            related.insert(crate::copies::pair(&r.a, &r.b));
            if matches!(r.relation, CopyKind::Exact | CopyKind::NearDuplicate) {
                let other = if &r.a == id { r.b } else { r.a };
                others.entry(id.clone()).or_default().push(other);
            }
            Ok(())
        })?;
    }
    let all_others: Vec<ArticleId> = others.values().flatten().filter(|o| !in_batch.contains(o)).cloned().collect::<HashSet<_>>().into_iter().collect();
    let stored: HashMap<ArticleId, StoryId> = store.stories_of(&all_others)?.into_iter().collect();
    let mut out = HashMap::new();
    for (id, mut os) in others {
        os.sort();
        if let Some((o, s)) = os.iter().find_map(|o| stored.get(o).map(|s| (o, s))) {
            out.insert(id, CopyOf::Stored { article: o.clone(), story: s.0.clone() });
        } else if let Some(o) = os.iter().find(|o| in_batch.contains(o) && **o < id) {
            out.insert(id, CopyOf::InBatch(o.clone()));
        }
    }
    Ok(out)
}

fn describe(engine: &Engine, s: &StoryState) -> Story {
    let (key_terms, key_names) = engine.descriptors(s, 8);
    Story {
        id: StoryId(s.id.clone()),
        title: engine.title(s),
        articles: s.members as usize,
        outlets: s.outlets.clone(),
        first_published: s.first_day.and_then(day_date),
        last_published: s.last_day.and_then(day_date),
        key_terms,
        key_names,
        thread: Some(s.thread.clone()),
    }
}

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
