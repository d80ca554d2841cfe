//! The catalog: what every page and listing needs, held in memory (entities resolved across the
//! whole store, stories with their entities and outlets, which story each article is in).
//! Per-story reports are computed on demand from the store.
//!
//! It is built in two tiers: the story tier (stories, memberships, orders) is cheap and is
//! rebuilt on every change; the entity tier (resolution across every stored fact) is costly and
//! is shared, unchanged, by the catalogs built in between its own rebuilds.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use storyline_compare::Member;
use storyline_enrich::ArticleFacts;
use storyline_model::{ArticleId, CopyRelation, Entity, EntityId, Facts, StoredArticle, Story, StoryId, StoryReport, ThreadId};
use storyline_store::{Store, StoryChanges, StorySort};

use crate::Error;

/// A story with what listings filter on.
#[derive(Debug, Clone)]
pub struct StoryRow {
    pub story: Story,
    /// Indexes into `Catalog::entities`, most-mentioned first.
    pub entities: Vec<usize>,
    /// Lower-case outlet names.
    pub outlets: Vec<String>,
}

/// Entities resolved across the store: the costly tier of the catalog.
#[derive(Debug, Default)]
pub struct EntityTier {
    pub entities: Vec<Entity>,
    entity_ix: HashMap<EntityId, usize>,
    /// Per article, the entity of each mention (in mention order).
    mention_entities: HashMap<ArticleId, Vec<Option<EntityId>>>,
}

impl EntityTier {
    pub fn load(store: &dyn Store) -> Result<EntityTier, Error> {
        let Resolution { entities, mention_entities, .. } = resolve_store(store)?;
        let entity_ix = entities.iter().enumerate().map(|(i, e)| (e.id.clone(), i)).collect();
        Ok(EntityTier { entities, entity_ix, mention_entities })
    }
}

#[derive(Debug, Default)]
pub struct Catalog {
    tier: Arc<EntityTier>,
    pub entities: EntityList,
    /// Stories, largest first.
    pub stories: Vec<StoryRow>,
    story_ix: HashMap<StoryId, usize>,
    pub article_story: HashMap<ArticleId, StoryId>,
    /// Thread id to its stories (indexes into `stories`), oldest first.
    pub threads: HashMap<ThreadId, Vec<usize>>,
    pub articles: usize,
    /// Story indexes latest publication first, and earliest first (undated last in both).
    by_recent: Vec<usize>,
    by_oldest: Vec<usize>,
    /// Position of each story in those orders.
    rank_recent: Vec<usize>,
    rank_oldest: Vec<usize>,
    /// The position of each story in the size order is its index.
    by_size: Vec<usize>,
}

/// A story with its entities (by how many of its members name each, then entity order) and
/// its outlets.
fn story_row(tier: &EntityTier, story: Story, members: &[&ArticleId]) -> StoryRow {
    let mut counts: HashMap<usize, usize> = HashMap::new();
    for a in members {
        if let Some(ids) = tier.mention_entities.get(*a) {
            let distinct: HashSet<&EntityId> = ids.iter().flatten().collect();
            for e in distinct {
                if let Some(&ei) = tier.entity_ix.get(e) {
                    *counts.entry(ei).or_default() += 1;
                }
            }
        }
    }
    let mut entities: Vec<(usize, usize)> = counts.into_iter().collect();
    entities.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let outlets = story.outlets.iter().map(|o| o.to_lowercase()).collect();
    StoryRow { story, entities: entities.into_iter().map(|(e, _)| e).collect(), outlets }
}

/// The rows of these stories over an entity tier, each with its members from `article_story`.
fn story_rows(tier: &EntityTier, stories: impl IntoIterator<Item = Story>, article_story: &HashMap<ArticleId, StoryId>) -> Vec<StoryRow> {
    let mut members_of: HashMap<&StoryId, Vec<&ArticleId>> = HashMap::new();
    for (a, s) in article_story {
        members_of.entry(s).or_default().push(a);
    }
    stories
        .into_iter()
        .map(|story| {
            let members = members_of.get(&story.id).map(Vec::as_slice).unwrap_or(&[]);
            story_row(tier, story, members)
        })
        .collect()
}

/// Every stored fact with the entities resolved across the whole store.
pub struct Resolution {
    pub entities: Vec<Entity>,
    /// Per article, the entity of each mention (in mention order).
    pub mention_entities: HashMap<ArticleId, Vec<Option<EntityId>>>,
    /// The facts as stored (not yet resolved: see [`storyline_enrich::apply`]).
    pub facts: Vec<(ArticleId, Facts)>,
    /// Each article's story and thread.
    pub memberships: HashMap<ArticleId, (StoryId, Option<ThreadId>)>,
}

/// Resolves the entities of every stored fact (dates and stories scope the resolution).
pub fn resolve_store(store: &dyn Store) -> Result<Resolution, Error> {
    let mut facts: Vec<(ArticleId, Facts)> = Vec::new();
    store.for_each_facts(&mut |id, f| {
        facts.push((id, f));
        Ok(())
    })?;
    let published = store.article_dates()?;
    let memberships = store.article_stories()?;
    let input: Vec<ArticleFacts<'_>> = facts
        .iter()
        .map(|(id, f)| ArticleFacts { article: id, published: published.get(id).cloned(), story: memberships.get(id).map(|(s, _)| s.clone()), facts: f })
        .collect();
    let (entities, mention_entities) = storyline_enrich::resolve(&input);
    drop(input);
    Ok(Resolution { entities, mention_entities, facts, memberships })
}

/// The entities of a catalog, as a slice (shared with the catalogs of the same entity tier).
#[derive(Debug, Default, Clone)]
pub struct EntityList(Arc<EntityTier>);

impl std::ops::Deref for EntityList {
    type Target = [Entity];
    fn deref(&self) -> &[Entity] {
        &self.0.entities
    }
}

impl Catalog {
    /// Reads the store once: every fact (for entity resolution), story and membership.
    pub fn load(store: &dyn Store) -> Result<Catalog, Error> {
        Catalog::with_entities(store, Arc::new(EntityTier::load(store)?))
    }

    /// The story tier read from the store, over this entity tier.
    pub fn with_entities(store: &dyn Store, tier: Arc<EntityTier>) -> Result<Catalog, Error> {
        let article_story: HashMap<ArticleId, StoryId> = store.article_stories()?.into_iter().map(|(a, (s, _))| (a, s)).collect();
        let rows = story_rows(&tier, store.list_stories(StorySort::Size, None, usize::MAX)?, &article_story);
        Ok(Catalog::assemble(store.count_articles()?, tier, rows, article_story))
    }

    /// This catalog's story tier over another entity tier: the same stories, memberships and
    /// orders (what the change feed brought so far, no more), with each story's entities taken
    /// from `tier`. The store is not read, so the story tier stays the one the caller's head
    /// covers (a full read here would take in story changes the follower has not turned into
    /// events yet).
    pub fn with_tier(&self, tier: Arc<EntityTier>) -> Catalog {
        let rows = story_rows(&tier, self.stories.iter().map(|r| r.story.clone()), &self.article_story);
        Catalog::assemble(self.articles, tier, rows, self.article_story.clone())
    }

    /// This catalog with the story changes of the store applied (see
    /// [`storyline_store::Stories::story_changes`]): changed stories are read with their
    /// members, merged-away ones dropped, moved memberships followed; every other row is kept.
    /// The result is the catalog [`Catalog::with_entities`] would build (a test checks it), at
    /// the cost of the change instead of the store.
    pub fn apply(&self, store: &dyn Store, changes: &StoryChanges) -> Result<Catalog, Error> {
        let mut article_story = self.article_story.clone();
        for (a, s) in &changes.members {
            article_story.insert(a.clone(), s.clone());
        }
        let touched: HashSet<&StoryId> = changes.stories.iter().map(|s| &s.id).chain(&changes.gone).collect();
        let mut rows: Vec<StoryRow> = self.stories.iter().filter(|r| !touched.contains(&r.story.id)).cloned().collect();
        for story in &changes.stories {
            let members: Vec<ArticleId> = store.story_members(&story.id)?.into_iter().map(|m| m.article).collect();
            rows.push(story_row(&self.tier, story.clone(), &members.iter().collect::<Vec<_>>()));
        }
        Ok(Catalog::assemble(store.count_articles()?, self.tier.clone(), rows, article_story))
    }

    /// Orders, indexes and threads over story rows (in any order).
    fn assemble(articles: usize, tier: Arc<EntityTier>, mut stories: Vec<StoryRow>, article_story: HashMap<ArticleId, StoryId>) -> Catalog {
        // The store's size order: most articles, then latest publication (undated last), then id.
        stories.sort_by(|x, y| {
            let (x, y) = (&x.story, &y.story);
            y.articles
                .cmp(&x.articles)
                .then_with(|| (y.last_published.is_some(), y.last_published).cmp(&(x.last_published.is_some(), x.last_published)))
                .then_with(|| x.id.cmp(&y.id))
        });
        let story_ix: HashMap<StoryId, usize> = stories.iter().enumerate().map(|(i, r)| (r.story.id.clone(), i)).collect();
        let mut threads: HashMap<ThreadId, Vec<usize>> = HashMap::new();
        for (i, r) in stories.iter().enumerate() {
            if let Some(t) = &r.story.thread {
                threads.entry(t.clone()).or_default().push(i);
            }
        }
        for members in threads.values_mut() {
            members.sort_by(|&a, &b| (&stories[a].story.first_published, &stories[a].story.id).cmp(&(&stories[b].story.first_published, &stories[b].story.id)));
        }
        let mut by_recent: Vec<usize> = (0..stories.len()).collect();
        by_recent.sort_by(|&a, &b| {
            let (x, y) = (&stories[a].story, &stories[b].story);
            (y.last_published.is_some(), &y.last_published, &x.id).cmp(&(x.last_published.is_some(), &x.last_published, &y.id))
        });
        let mut by_oldest: Vec<usize> = (0..stories.len()).collect();
        by_oldest.sort_by(|&a, &b| {
            let (x, y) = (&stories[a].story, &stories[b].story);
            (x.first_published.is_none(), &x.first_published, &x.id).cmp(&(y.first_published.is_none(), &y.first_published, &y.id))
        });
        let rank = |order: &[usize]| {
            let mut r = vec![0; order.len()];
            for (pos, &i) in order.iter().enumerate() {
                r[i] = pos;
            }
            r
        };
        Catalog {
            articles,
            entities: EntityList(tier.clone()),
            tier,
            story_ix,
            by_size: (0..stories.len()).collect(),
            rank_recent: rank(&by_recent),
            rank_oldest: rank(&by_oldest),
            by_recent,
            by_oldest,
            stories,
            article_story,
            threads,
        }
    }

    /// Story indexes in a listing order: `size` (largest first), `recent` or `oldest`.
    pub fn order(&self, sort: &str) -> &[usize] {
        match sort {
            "recent" => &self.by_recent,
            "oldest" => &self.by_oldest,
            _ => &self.by_size,
        }
    }

    /// Each story's position in a listing order.
    pub fn rank(&self, sort: &str) -> &[usize] {
        match sort {
            "recent" => &self.rank_recent,
            "oldest" => &self.rank_oldest,
            _ => &self.by_size,
        }
    }

    pub fn entity(&self, id: &str) -> Option<&Entity> {
        self.tier.entity_ix.get(id).map(|&i| &self.tier.entities[i])
    }

    /// An entity by id, else by name or alias as written (case aside): the one named in most
    /// articles, so `/entities/Hady%20Amr` finds what `?entity=Hady Amr` filters on.
    pub fn find_entity(&self, key: &str) -> Option<&Entity> {
        if let Some(e) = self.entity(key) {
            return Some(e);
        }
        let key = key.trim().to_lowercase();
        let named = |e: &&Entity| e.name.to_lowercase() == key;
        let aliased = |e: &&Entity| e.aliases.iter().any(|a| a.to_lowercase() == key);
        let most = |a: &&Entity, b: &&Entity| a.articles.len().cmp(&b.articles.len()).then(b.id.cmp(&a.id));
        self.tier.entities.iter().filter(named).max_by(most).or_else(|| self.tier.entities.iter().filter(aliased).max_by(most))
    }

    pub fn story(&self, id: &str) -> Option<&StoryRow> {
        self.story_ix.get(id).map(|&i| &self.stories[i])
    }

    pub fn story_index(&self, id: &str) -> Option<usize> {
        self.story_ix.get(id).copied()
    }

    /// Writes resolved entity ids into an article's facts (mentions and quote speakers).
    pub fn resolve(&self, article: &ArticleId, facts: &mut Facts) {
        if let Some(ids) = self.tier.mention_entities.get(article) {
            storyline_enrich::apply(facts, ids, |e| self.entity(e).map(|x| x.name.clone()));
        }
    }

    /// An article's facts from the store, resolved.
    pub fn facts(&self, store: &dyn Store, article: &ArticleId) -> Result<Facts, Error> {
        let mut f = store.facts_of(std::slice::from_ref(article))?.pop().map(|(_, f)| f).unwrap_or_default();
        self.resolve(article, &mut f);
        Ok(f)
    }

    /// The story page of a story (a merged-away id leads to the survivor).
    pub fn report(&self, store: &dyn Store, id: &str) -> Result<Option<StoryReport>, Error> {
        let Some((story, _)) = store.get_story(id)? else { return Ok(None) };
        let members = store.story_members(&story.id)?;
        let mut articles: Vec<StoredArticle> = Vec::with_capacity(members.len());
        for m in &members {
            if let Some(a) = store.get_article(&m.article)? {
                articles.push(a);
            }
        }
        let ids: Vec<ArticleId> = articles.iter().map(|a| a.article.id.clone()).collect();
        let member_set: HashSet<&ArticleId> = ids.iter().collect();
        let mut facts: HashMap<ArticleId, Facts> = store.facts_of(&ids)?.into_iter().collect();
        for (id, f) in facts.iter_mut() {
            self.resolve(id, f);
        }
        let mut copies: Vec<CopyRelation> = Vec::new();
        for id in &ids {
            store.for_each_copy_relation(Some(id), &mut |r| {
                if r.a == *id && member_set.contains(&r.b) {
                    copies.push(r);
                }
                Ok(())
            })?;
        }
        let empty = Facts::default();
        let members: Vec<Member<'_>> = articles.iter().map(|a| Member { article: &a.article, facts: facts.get(&a.article.id).unwrap_or(&empty) }).collect();
        let lookup = |e: &str| self.entity(e).map(|x| (x.name.clone(), x.kind));
        Ok(Some(storyline_compare::compare(&story, &members, &copies, &lookup)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};
    use storyline_model::{StoryMember, Thread};
    use storyline_pipeline::{prepare, Config, Pipeline, Quiet};
    use storyline_store::prelude::*;
    use storyline_store::{MemoryStore, StoryUpdate};

    /// Everything a catalog shows, in a comparable form.
    fn shown(c: &Catalog) -> String {
        let mut article_story: Vec<_> = c.article_story.iter().collect();
        article_story.sort();
        let mut threads: Vec<_> = c.threads.iter().collect();
        threads.sort();
        let mut story_ix: Vec<_> = c.story_ix.iter().collect();
        story_ix.sort();
        format!(
            "{} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
            c.articles, c.stories, article_story, threads, story_ix, c.by_size, c.by_recent, c.by_oldest, c.rank_recent, c.rank_oldest
        )
    }

    /// The bundled samples, in name order.
    fn samples() -> Vec<PathBuf> {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&examples).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        files
    }

    fn ingest(store: &MemoryStore, paths: &[PathBuf]) {
        Pipeline::new(&Config::default(), &Quiet).ingest(store, &prepare(paths, 0).unwrap()).unwrap();
    }

    #[test]
    fn applying_the_story_changes_gives_the_catalog_a_full_read_gives() {
        let files = samples();
        let store = MemoryStore::new().unwrap();
        let ingest = |paths: &[PathBuf]| ingest(&store, paths);
        ingest(&files[..2]);
        let mut catalog = Catalog::load(&store).unwrap();
        let mut seen = store.head().unwrap().changes;
        let step = |catalog: &Catalog, seen: &mut i64| {
            let head = store.head().unwrap().changes;
            let changes = store.story_changes(*seen).unwrap();
            *seen = head;
            let applied = catalog.apply(&store, &changes).unwrap();
            assert_eq!(shown(&applied), shown(&Catalog::with_entities(&store, catalog.tier.clone()).unwrap()));
            applied
        };
        // Stories grow as the rest of the samples arrive.
        ingest(&files[2..]);
        catalog = step(&catalog, &mut seen);
        assert_eq!(catalog.stories.iter().map(|r| r.story.articles).sum::<usize>(), 5);
        // A merge: the largest story absorbs another, which leaves the listings.
        let (big, small) = (catalog.stories[0].story.clone(), catalog.stories.last().unwrap().story.clone());
        assert_ne!(big.id, small.id);
        let moved: Vec<StoryMember> = store.story_members(&small.id).unwrap();
        let thread = big.thread.clone().unwrap();
        store
            .record_stories(&StoryUpdate {
                stories: vec![(Story { articles: big.articles + moved.len(), ..big.clone() }, vec![])],
                merges: vec![(small.id.0.clone(), big.id.0.clone())],
                threads: vec![Thread { id: thread, title: "t".into(), stories: 1 }],
                at: "2026-12-02T00:00:00Z".into(),
                ..StoryUpdate::default()
            })
            .unwrap();
        catalog = step(&catalog, &mut seen);
        assert!(catalog.story(&small.id).is_none(), "a merged-away story is gone");
        assert!(moved.iter().all(|m| catalog.article_story[&m.article] == big.id), "its members follow the survivor");
        // Nothing new: the same catalog.
        let again = step(&catalog, &mut seen);
        assert_eq!(shown(&again), shown(&catalog));
        // A new entity tier keeps the story tier as it is, and gives what a full read gives.
        let tier = Arc::new(EntityTier::load(&store).unwrap());
        let retiered = catalog.with_tier(tier.clone());
        assert_eq!(shown(&retiered), shown(&Catalog::with_entities(&store, tier).unwrap()));
        // (The first tier knew only the first two articles' entities.)
        assert!(retiered.entities.len() > catalog.entities.len());
        assert!(retiered.stories.iter().all(|r| r.entities.iter().all(|&e| e < retiered.entities.len())));
    }

    #[test]
    fn a_new_entity_tier_does_not_take_in_story_changes_not_yet_applied() {
        let files = samples();
        let store = MemoryStore::new().unwrap();
        let ingest = |paths: &[PathBuf]| ingest(&store, paths);
        ingest(&files[..2]);
        let catalog = Catalog::load(&store).unwrap();
        // More arrives; the entities are resolved again before the follower applies it.
        ingest(&files[2..]);
        let retiered = catalog.with_tier(Arc::new(EntityTier::load(&store).unwrap()));
        assert_eq!(retiered.article_story, catalog.article_story, "the story tier is still the one applied");
        assert_eq!(retiered.stories.len(), catalog.stories.len());
    }
}
