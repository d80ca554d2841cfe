//! The memory store: every table in memory behind one lock, the same semantics as the other
//! backends (the conformance suite checks it). For tests, evals and one-shot runs.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use storyline_model::{
    Alert, AlertHit, Article, ArticleId, CopyRelation, Facts, Published, SourceState, StoredArticle, Story, StoryId, StoryMember, Thread, ThreadId,
};

use crate::index::SearchIndex;
use crate::{
    Alerts, AnchorSpread, Articles, ChangeFeed, ClusterState, Copies, CopyCheck, FactStore, Head, PutSummary, Query, Result, Search, SearchResults, Sources,
    Step, StepLock, Stories, StoryChanges, StoryEvent, StoryEventKind, StorySort, StoryUpdate, WORK_BATCH_BYTES,
};

struct StoryRow {
    story: Story,
    state: Option<Vec<u8>>,
    merged_into: Option<String>,
    /// The change that last wrote it.
    changed: i64,
}

#[derive(Default)]
struct Inner {
    /// In sequence order; `seq` is the position plus one.
    articles: Vec<StoredArticle>,
    by_id: HashMap<ArticleId, usize>,
    anchors: HashMap<u64, Vec<i64>>,
    copy_checked: HashSet<i64>,
    copies: BTreeMap<(ArticleId, ArticleId), CopyRelation>,
    stories: HashMap<String, StoryRow>,
    members: HashMap<ArticleId, StoryMember>,
    /// The change that last wrote each membership.
    member_changed: HashMap<ArticleId, i64>,
    events: Vec<StoryEvent>,
    threads: HashMap<String, (Thread, Option<String>)>,
    df: HashMap<u64, u32>,
    docs: u64,
    facts: HashMap<ArticleId, Facts>,
    sources: BTreeMap<String, SourceState>,
    fetched_pages: HashSet<String>,
    alerts: BTreeMap<String, Alert>,
    alert_hits: BTreeMap<(String, StoryId, u32), AlertHit>,
    changes: i64,
}

impl Inner {
    fn article(&self, id: &ArticleId) -> Option<&StoredArticle> {
        self.by_id.get(id).map(|&i| &self.articles[i])
    }

    /// Oldest articles passing `keep`, at most `limit` and about [`WORK_BATCH_BYTES`].
    fn oldest(&self, limit: usize, keep: impl Fn(&StoredArticle) -> bool) -> Vec<StoredArticle> {
        let mut out = Vec::new();
        let mut bytes = 0;
        for a in self.articles.iter().filter(|a| keep(a)).take(limit) {
            if bytes >= WORK_BATCH_BYTES {
                break;
            }
            bytes += a.article.text.len();
            out.push(a.clone());
        }
        out
    }
}

type Held = Arc<(Mutex<HashSet<Step>>, Condvar)>;

/// Everything in memory; nothing survives the process.
pub struct MemoryStore {
    inner: RwLock<Inner>,
    index: SearchIndex,
    steps: Held,
}

struct Release(Held, Step);

impl Drop for Release {
    fn drop(&mut self) {
        let (held, freed) = &*self.0;
        held.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.1);
        freed.notify_all();
    }
}

impl MemoryStore {
    pub fn new() -> Result<MemoryStore> {
        Ok(MemoryStore { inner: RwLock::new(Inner::default()), index: SearchIndex::in_memory()?, steps: Arc::default() })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        inner.changes += 1;
        inner
    }
}

impl Articles for MemoryStore {
    fn put_articles(&self, articles: &[Article], ingested_at: &str) -> Result<PutSummary> {
        let mut summary = PutSummary::default();
        {
            let mut inner = self.write();
            for a in articles {
                match inner.by_id.get(&a.id).copied() {
                    None => {
                        let at = inner.articles.len();
                        let seq = at as i64 + 1;
                        inner.by_id.insert(a.id.clone(), at);
                        inner.articles.push(StoredArticle { article: a.clone(), ingested_at: ingested_at.to_owned(), seq });
                        summary.added += 1;
                    }
                    Some(i) => {
                        if a.source < inner.articles[i].article.source {
                            inner.articles[i].article = a.clone();
                        }
                        summary.already_stored += 1;
                    }
                }
            }
        }
        if summary.added > 0 {
            self.sync_index(true)?;
        }
        Ok(summary)
    }

    fn get_article(&self, id: &ArticleId) -> Result<Option<StoredArticle>> {
        let inner = self.read();
        if let Some(a) = inner.article(id) {
            return Ok(Some(a.clone()));
        }
        Ok(inner.articles.iter().find(|a| a.article.external_id.as_deref() == Some(id.0.as_str())).cloned())
    }

    fn count_articles(&self) -> Result<usize> {
        Ok(self.read().articles.len())
    }

    fn articles_after(&self, after: i64, limit: usize) -> Result<Vec<StoredArticle>> {
        let inner = self.read();
        let start = usize::try_from(after.max(0)).unwrap_or(usize::MAX).min(inner.articles.len());
        let mut out = Vec::new();
        let mut bytes = 0;
        for a in inner.articles[start..].iter().take(limit) {
            if bytes >= WORK_BATCH_BYTES {
                break;
            }
            bytes += a.article.text.len();
            out.push(a.clone());
        }
        Ok(out)
    }

    fn article_dates(&self) -> Result<HashMap<ArticleId, Published>> {
        Ok(self.read().articles.iter().filter_map(|a| Some((a.article.id.clone(), a.article.published?))).collect())
    }
}

impl Search for MemoryStore {
    fn search(&self, query: &Query, limit: usize) -> Result<SearchResults> {
        self.sync_index(true)?;
        self.index.search(query, limit)
    }

    fn sync_index(&self, _wait: bool) -> Result<i64> {
        let head = self.read().articles.len() as i64;
        self.index.catch_up(head, Some(crate::index::INDEX_WAIT), &|after| self.articles_after(after, 1024))
    }
}

impl Copies for MemoryStore {
    fn articles_needing_copy_check(&self, limit: usize) -> Result<Vec<StoredArticle>> {
        let inner = self.read();
        Ok(inner.oldest(limit, |a| !inner.copy_checked.contains(&a.seq)))
    }

    fn copy_candidates(&self, anchors: &[u64], min_shared: usize) -> Result<Vec<ArticleId>> {
        let inner = self.read();
        let seqs = crate::sharing(anchors.iter().filter_map(|h| inner.anchors.get(h).map(Vec::as_slice)), min_shared);
        Ok(seqs.into_iter().map(|s| inner.articles[(s - 1) as usize].article.id.clone()).collect())
    }

    fn anchor_spread(&self, anchors: &[u64], outlet: Option<&str>, min_documents: usize) -> Result<Vec<AnchorSpread>> {
        let inner = self.read();
        let mut unique = anchors.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let mut out = Vec::new();
        for anchor in unique {
            let Some(holders) = inner.anchors.get(&anchor).filter(|h| h.len() >= min_documents.max(1)) else { continue };
            let mut outlets = std::collections::HashSet::new();
            let mut with_outlet = false;
            for &seq in holders {
                let a = &inner.articles[(seq - 1) as usize].article;
                with_outlet |= outlet.is_some() && a.outlet.as_deref() == outlet;
                outlets.insert(a.outlet.clone().unwrap_or_else(|| a.id.0.clone()));
            }
            out.push(AnchorSpread { anchor, documents: holders.len(), outlets: outlets.len(), with_outlet });
        }
        Ok(out)
    }

    fn record_copy_checks(&self, checks: &[CopyCheck]) -> Result<()> {
        let mut inner = self.write();
        for check in checks {
            let Some(seq) = inner.article(&check.article).map(|a| a.seq) else { continue };
            if !inner.copy_checked.insert(seq) {
                continue;
            }
            for &h in &check.anchors {
                inner.anchors.entry(h).or_default().push(seq);
            }
            for r in &check.relations {
                inner.copies.insert((r.a.clone(), r.b.clone()), r.clone());
            }
        }
        Ok(())
    }

    fn for_each_copy_relation(&self, of: Option<&ArticleId>, visit: &mut dyn FnMut(CopyRelation) -> std::io::Result<()>) -> Result<()> {
        let found: Vec<CopyRelation> = self.read().copies.values().filter(|r| of.is_none_or(|id| r.a == *id || r.b == *id)).cloned().collect();
        for r in found {
            visit(r).map_err(crate::Error::Output)?;
        }
        Ok(())
    }
}

/// Descending order with absent values last (as SQL sorts NULL in `DESC`).
fn desc_nulls_last<T: Ord>(a: &Option<T>, b: &Option<T>) -> std::cmp::Ordering {
    b.cmp(a)
}

impl Stories for MemoryStore {
    fn articles_needing_story(&self, limit: usize) -> Result<Vec<StoredArticle>> {
        let inner = self.read();
        Ok(inner.oldest(limit, |a| !inner.members.contains_key(&a.article.id) && inner.copy_checked.contains(&a.seq)))
    }

    fn cluster_state(&self) -> Result<ClusterState> {
        let inner = self.read();
        let mut live: Vec<(&String, &Vec<u8>)> =
            inner.stories.iter().filter(|(_, r)| r.merged_into.is_none()).filter_map(|(id, r)| Some((id, r.state.as_ref()?))).collect();
        live.sort();
        Ok(ClusterState { stories: live.into_iter().map(|(_, s)| s.clone()).collect(), df: inner.df.iter().map(|(&k, &v)| (k, v)).collect(), docs: inner.docs })
    }

    fn record_stories(&self, u: &StoryUpdate) -> Result<()> {
        let mut inner = self.write();
        for &(k, n) in &u.df_delta {
            *inner.df.entry(k).or_default() += n;
        }
        inner.docs += u.docs_delta;
        let stamp = inner.changes;
        for (gone, keep) in &u.merges {
            let mut moved = Vec::new();
            for m in inner.members.values_mut().filter(|m| m.story.0 == *gone) {
                m.story = StoryId(keep.clone());
                moved.push(m.article.clone());
            }
            for a in moved {
                inner.member_changed.insert(a, stamp);
            }
            if let Some(row) = inner.stories.get_mut(gone) {
                row.merged_into = Some(keep.clone());
                row.state = None;
                row.changed = stamp;
            }
            inner.events.push(StoryEvent { kind: StoryEventKind::StoryMerge, from: gone.clone(), to: keep.clone(), at: u.at.clone() });
        }
        for (from, to) in &u.splits {
            inner.events.push(StoryEvent { kind: StoryEventKind::StorySplit, from: from.clone(), to: to.clone(), at: u.at.clone() });
        }
        for (gone, keep) in &u.thread_merges {
            if let Some(t) = inner.threads.get_mut(gone) {
                t.1 = Some(keep.clone());
            }
            inner.events.push(StoryEvent { kind: StoryEventKind::ThreadMerge, from: gone.clone(), to: keep.clone(), at: u.at.clone() });
        }
        for (s, state) in &u.stories {
            inner.stories.insert(s.id.0.clone(), StoryRow { story: s.clone(), state: Some(state.clone()), merged_into: None, changed: stamp });
        }
        for t in &u.threads {
            inner.threads.insert(t.id.0.clone(), (t.clone(), None));
        }
        for m in &u.members {
            inner.members.insert(m.article.clone(), m.clone());
            inner.member_changed.insert(m.article.clone(), stamp);
        }
        for r in &u.rewrites {
            inner.copies.entry((r.a.clone(), r.b.clone())).or_insert_with(|| r.clone());
        }
        Ok(())
    }

    fn stories_of(&self, articles: &[ArticleId]) -> Result<Vec<(ArticleId, StoryId)>> {
        let inner = self.read();
        Ok(articles.iter().filter_map(|a| Some((a.clone(), inner.members.get(a)?.story.clone()))).collect())
    }

    fn list_stories(&self, sort: StorySort, since: Option<chrono::NaiveDate>, limit: usize) -> Result<Vec<Story>> {
        let inner = self.read();
        let mut live: Vec<&Story> = inner
            .stories
            .values()
            .filter(|r| r.merged_into.is_none())
            .map(|r| &r.story)
            .filter(|s| since.is_none_or(|d| s.last_published.is_some_and(|l| l >= d)))
            .collect();
        live.sort_by(|x, y| match sort {
            StorySort::Size => y.articles.cmp(&x.articles).then_with(|| desc_nulls_last(&x.last_published, &y.last_published)).then_with(|| x.id.cmp(&y.id)),
            StorySort::Recent => (x.last_published.is_none())
                .cmp(&y.last_published.is_none())
                .then_with(|| desc_nulls_last(&x.last_published, &y.last_published))
                .then_with(|| y.articles.cmp(&x.articles))
                .then_with(|| x.id.cmp(&y.id)),
        });
        Ok(live.into_iter().take(limit).cloned().collect())
    }

    fn get_story(&self, id: &str) -> Result<Option<(Story, Vec<StoryEvent>)>> {
        let inner = self.read();
        let mut events = Vec::new();
        let mut current = id.to_owned();
        for _ in 0..1000 {
            let Some(row) = inner.stories.get(&current) else { return Ok(None) };
            match &row.merged_into {
                None => {
                    events.extend(inner.events.iter().filter(|e| e.kind == StoryEventKind::StorySplit && (e.from == current || e.to == current)).cloned());
                    return Ok(Some((row.story.clone(), events)));
                }
                Some(next) => {
                    let at =
                        inner.events.iter().rev().find(|e| e.kind == StoryEventKind::StoryMerge && e.from == current).map(|e| e.at.clone()).unwrap_or_default();
                    events.push(StoryEvent { kind: StoryEventKind::StoryMerge, from: current.clone(), to: next.clone(), at });
                    current = next.clone();
                }
            }
        }
        Ok(None)
    }

    fn story_members(&self, id: &StoryId) -> Result<Vec<StoryMember>> {
        let inner = self.read();
        let mut members: Vec<(&Option<Published>, i64, &StoryMember)> =
            inner.members.values().filter(|m| m.story == *id).filter_map(|m| inner.article(&m.article).map(|a| (&a.article.published, a.seq, m))).collect();
        members.sort_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)));
        Ok(members.into_iter().map(|(_, _, m)| m.clone()).collect())
    }

    fn get_thread(&self, id: &str) -> Result<Option<Thread>> {
        let inner = self.read();
        let mut current = id.to_owned();
        for _ in 0..1000 {
            match inner.threads.get(&current) {
                None => return Ok(None),
                Some((t, None)) => return Ok(Some(Thread { id: ThreadId(current), ..t.clone() })),
                Some((_, Some(next))) => current = next.clone(),
            }
        }
        Ok(None)
    }

    fn article_stories(&self) -> Result<HashMap<ArticleId, (StoryId, Option<ThreadId>)>> {
        let inner = self.read();
        Ok(inner.members.values().map(|m| (m.article.clone(), (m.story.clone(), inner.stories.get(&m.story.0).and_then(|r| r.story.thread.clone())))).collect())
    }

    fn story_changes(&self, after: i64) -> Result<StoryChanges> {
        let inner = self.read();
        let mut out = StoryChanges::default();
        let mut rows: Vec<&StoryRow> = inner.stories.values().filter(|r| r.changed > after).collect();
        rows.sort_by(|a, b| a.story.id.cmp(&b.story.id));
        for r in rows {
            match r.merged_into {
                None => out.stories.push(r.story.clone()),
                Some(_) => out.gone.push(r.story.id.clone()),
            }
        }
        out.members =
            inner.member_changed.iter().filter(|(_, &c)| c > after).filter_map(|(a, _)| Some((a.clone(), inner.members.get(a)?.story.clone()))).collect();
        out.members.sort();
        Ok(out)
    }
}

impl Sources for MemoryStore {
    fn sources(&self) -> Result<Vec<SourceState>> {
        Ok(self.read().sources.values().cloned().collect())
    }

    fn put_source(&self, state: &SourceState, fetched: &[String]) -> Result<()> {
        let mut inner = self.write();
        inner.sources.insert(state.url.clone(), state.clone());
        inner.fetched_pages.extend(fetched.iter().cloned());
        Ok(())
    }

    fn fetched_pages(&self, urls: &[String]) -> Result<HashSet<String>> {
        let inner = self.read();
        Ok(urls.iter().filter(|u| inner.fetched_pages.contains(*u)).cloned().collect())
    }
}

impl Alerts for MemoryStore {
    fn alerts(&self) -> Result<Vec<Alert>> {
        Ok(self.read().alerts.values().cloned().collect())
    }

    fn put_alert(&self, alert: &Alert) -> Result<()> {
        self.write().alerts.insert(alert.name.clone(), alert.clone());
        Ok(())
    }

    fn remove_alert(&self, name: &str) -> Result<bool> {
        let mut inner = self.write();
        inner.alert_hits.retain(|(a, _, _), _| a != name);
        Ok(inner.alerts.remove(name).is_some())
    }

    fn record_alert_check(&self, alert: &str, checked: i64, hits: &[AlertHit]) -> Result<Vec<AlertHit>> {
        let mut inner = self.write();
        let Some(a) = inner.alerts.get_mut(alert) else { return Ok(Vec::new()) };
        a.checked = a.checked.max(checked);
        let mut added = Vec::new();
        for h in hits {
            let key = (h.alert.clone(), h.story.clone(), h.level);
            if let std::collections::btree_map::Entry::Vacant(e) = inner.alert_hits.entry(key) {
                e.insert(h.clone());
                added.push(h.clone());
            }
        }
        Ok(added)
    }

    fn alert_hits(&self, alert: Option<&str>) -> Result<Vec<AlertHit>> {
        Ok(self.read().alert_hits.values().filter(|h| alert.is_none_or(|a| h.alert == a)).cloned().collect())
    }

    fn update_alert_hit(&self, hit: &AlertHit) -> Result<()> {
        let mut inner = self.write();
        if let Some(h) = inner.alert_hits.get_mut(&(hit.alert.clone(), hit.story.clone(), hit.level)) {
            *h = hit.clone();
        }
        Ok(())
    }
}

impl FactStore for MemoryStore {
    fn articles_needing_facts(&self, limit: usize) -> Result<Vec<StoredArticle>> {
        let inner = self.read();
        Ok(inner.oldest(limit, |a| !inner.facts.contains_key(&a.article.id)))
    }

    fn record_facts(&self, facts: &[(ArticleId, Facts)]) -> Result<()> {
        let mut inner = self.write();
        for (id, f) in facts {
            inner.facts.insert(id.clone(), f.clone());
        }
        Ok(())
    }

    fn for_each_facts(&self, visit: &mut dyn FnMut(ArticleId, Facts) -> std::io::Result<()>) -> Result<()> {
        let found: Vec<(ArticleId, Facts)> = {
            let inner = self.read();
            inner.articles.iter().filter_map(|a| Some((a.article.id.clone(), inner.facts.get(&a.article.id)?.clone()))).collect()
        };
        for (id, f) in found {
            visit(id, f).map_err(crate::Error::Output)?;
        }
        Ok(())
    }

    fn facts_of(&self, articles: &[ArticleId]) -> Result<Vec<(ArticleId, Facts)>> {
        let inner = self.read();
        Ok(articles.iter().filter_map(|a| Some((a.clone(), inner.facts.get(a)?.clone()))).collect())
    }
}

impl ChangeFeed for MemoryStore {
    fn head(&self) -> Result<Head> {
        let inner = self.read();
        Ok(Head { articles: inner.articles.len() as i64, changes: inner.changes })
    }

    fn lock_step(&self, step: Step) -> Result<StepLock> {
        let (held, freed) = &*self.steps;
        let mut guard = held.lock().unwrap_or_else(|p| p.into_inner());
        while guard.contains(&step) {
            guard = freed.wait(guard).unwrap_or_else(|p| p.into_inner());
        }
        guard.insert(step);
        Ok(StepLock::new(Release(self.steps.clone(), step)))
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }
}
