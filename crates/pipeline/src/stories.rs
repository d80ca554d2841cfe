//! The story step: new articles into stories and threads, online against the stored stories.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use storyline_cluster::features::day_date;
use storyline_cluster::{state, CopyOf, Engine, Input, Params, Reopened, StoryState};
use storyline_model::{ArticleId, CopyKind, Story, StoryId, Thread, ThreadId};
use storyline_store::{Store, StoryUpdate};

use crate::{Config, Error, Observer};

type Result<T, E = Error> = std::result::Result<T, E>;

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
pub fn story_step(store: &dyn Store, config: &Config, observer: &dyn Observer) -> Result<StepSummary> {
    let saved = store.cluster_state()?;
    let stories = saved.stories.iter().map(|b| state::decode(b)).collect::<Result<Vec<_>, _>>().map_err(|e| Error::StoryState(e.to_string()))?;
    let docs = u32::try_from(saved.docs).unwrap_or(u32::MAX);
    let mut engine = Engine::new(Params::default(), stories, saved.df.into_iter().collect(), docs);
    let mut summary = StepSummary::default();
    loop {
        let batch = store.articles_needing_story(config.batches.story)?;
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
            .map(|(id, members)| Thread { title: engine.thread_title(&members, 3), stories: members.len(), id: ThreadId(id) })
            .collect();
        let mut absorbed: HashMap<StoryId, Vec<StoryId>> = HashMap::new();
        for (gone, keep) in &out.merges {
            absorbed.entry(StoryId(keep.clone())).or_default().push(StoryId(gone.clone()));
        }
        let started = std::time::Instant::now();
        let copies: HashSet<&ArticleId> = copy_of.keys().collect();
        let fresh: Vec<_> = out.assignments.iter().filter(|a| !was.contains_key(&a.article)).cloned().collect();
        let rewrites = crate::copies::rewrites_in_stories(store, config.batches.rewrite_peers, &batch, &fresh, &copies, &absorbed, &related)?;
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
        observer.position(summary.assigned as u64);
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
        thread: Some(ThreadId(s.thread.clone())),
    }
}
