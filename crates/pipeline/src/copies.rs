//! The copy step (each new article against the stored anchor index), rewrites among story
//! members, and copy groups.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use storyline_dedup::rewrite::{rewrite_pair, RewriteConfig, RewriteProfile};
use storyline_dedup::{anchors, compare_pair, is_template, CopyInput, DedupConfig, Template};
use storyline_ingest::{InputWarning, Severity};
use storyline_model::contain::contain;
use storyline_model::{ArticleId, CopyKind, CopyRelation, RemovalReason, Side, StoredArticle, StoryId, StoryMember};
use storyline_store::{CopyCheck, Step, Store};

use crate::{Config, Error, Observer};

type Result<T, E = Error> = std::result::Result<T, E>;

fn input(stored: &StoredArticle) -> CopyInput<'_> {
    let a = &stored.article;
    CopyInput {
        id: &a.id,
        text: &a.text,
        published: a.published,
        outlet: a.outlet.as_deref(),
        credited_source: a.credited_source.as_deref(),
        scraper_markers: a.removed.iter().filter(|r| r.reason == RemovalReason::ScraperMarker).count(),
    }
}

/// Checks every stored article not yet checked against those already checked (and those
/// earlier in the same batch); returns how many relations were found. Each batch is one
/// transaction, so an interrupted run resumes at the batch where it stopped.
pub fn copy_step(store: &dyn Store, settings: &Config, observer: &dyn Observer) -> Result<usize> {
    let config = DedupConfig::default();
    let mut found = 0;
    let mut checked = 0;
    loop {
        let batch = store.articles_needing_copy_check(settings.batches.copy_check)?;
        if batch.is_empty() {
            return Ok(found);
        }
        // Anchors of the batch's articles already checked in this round, not yet in the store.
        let mut batch_anchors: HashMap<u64, Vec<usize>> = HashMap::new();
        let mut checks = Vec::with_capacity(batch.len());
        let all: Vec<Vec<u64>> = batch.iter().map(|a| anchors(&a.article.text, &config)).collect();
        let templates = batch_templates(store, &batch, &all, &config)?;
        for ((k, article), (anchors, template)) in batch.iter().enumerate().zip(all.into_iter().zip(templates)) {
            let mut shared_in_batch: HashMap<usize, usize> = HashMap::new();
            for a in &anchors {
                for &j in batch_anchors.get(a).into_iter().flatten() {
                    *shared_in_batch.entry(j).or_default() += 1;
                }
            }
            let mut relations = Vec::new();
            let mut compare_with = |other: &StoredArticle| relations.extend(compare_guarded(article, other, &template, &config, observer));
            for (j, n) in shared_in_batch {
                if n >= config.min_shared_anchors {
                    compare_with(&batch[j]);
                }
            }
            let mut candidates = store.copy_candidates(&anchors, config.min_shared_anchors)?;
            candidates.retain(|id| *id != article.article.id);
            for other in store.get_articles(&candidates)? {
                compare_with(&other);
            }
            relations.sort_by(|x, y| (&x.a, &x.b).cmp(&(&y.a, &y.b)));
            found += relations.len();
            for a in &anchors {
                batch_anchors.entry(*a).or_default().push(k);
            }
            checks.push(CopyCheck { article: article.article.id.clone(), anchors, relations });
            checked += 1;
            observer.position(checked);
        }
        store.record_copy_checks(&checks)?;
    }
}

/// The copy check of the given articles (this process's own, just stored), in batches, in
/// parallel with other processes doing the same: each article is compared with the checked
/// articles that share its anchors and with the batch's earlier articles, without a lock;
/// then, under the copy lock, with the articles whose check was recorded meanwhile, and the
/// batch is recorded. Of any two articles, the one recorded later has compared itself with
/// the other, so no pair is missed however the processes interleave, and the relations are
/// those [`copy_step`] finds. Articles already checked are skipped when recording.
pub fn check_own(store: &dyn Store, ids: &[ArticleId], settings: &Config, observer: &dyn Observer) -> Result<usize> {
    let config = DedupConfig::default();
    let mut found = 0;
    let mut checked = 0;
    for chunk in ids.chunks(settings.batches.copy_check.max(1)) {
        let batch = store.get_articles(chunk)?;
        let all: Vec<Vec<u64>> = batch.par_iter().map(|a| anchors(&a.article.text, &config)).collect();
        let templates = batch_templates(store, &batch, &all, &config)?;
        let mut batch_anchors: HashMap<u64, Vec<usize>> = HashMap::new();
        let mut earlier: Vec<Vec<usize>> = Vec::with_capacity(batch.len());
        for (k, mine) in all.iter().enumerate() {
            let mut shared: HashMap<usize, usize> = HashMap::new();
            for a in mine {
                for &j in batch_anchors.get(a).into_iter().flatten() {
                    *shared.entry(j).or_default() += 1;
                }
            }
            let mut peers: Vec<usize> = shared.into_iter().filter(|&(_, n)| n >= config.min_shared_anchors).map(|(j, _)| j).collect();
            peers.sort_unstable();
            earlier.push(peers);
            for a in mine {
                batch_anchors.entry(*a).or_default().push(k);
            }
        }
        // Without the lock: the batch's earlier articles and the articles checked so far.
        let first: Vec<(HashSet<ArticleId>, Vec<CopyRelation>)> = batch
            .par_iter()
            .enumerate()
            .map(|(k, article)| {
                let template = &templates[k];
                let mut relations = Vec::new();
                for &j in &earlier[k] {
                    relations.extend(compare_guarded(article, &batch[j], template, &config, observer));
                }
                let mut candidates = store.copy_candidates(&all[k], config.min_shared_anchors)?;
                candidates.retain(|id| *id != article.article.id);
                for other in store.get_articles(&candidates)? {
                    relations.extend(compare_guarded(article, &other, template, &config, observer));
                }
                Ok((candidates.into_iter().collect(), relations))
            })
            .collect::<Result<_>>()?;
        // Under the lock: what was recorded since, then the record.
        let _lock = store.lock_step(Step::Copies)?;
        let mut checks = Vec::with_capacity(batch.len());
        for (((article, anchors), (seen, mut relations)), template) in batch.iter().zip(all).zip(first).zip(&templates) {
            let mut candidates = store.copy_candidates(&anchors, config.min_shared_anchors)?;
            candidates.retain(|id| *id != article.article.id && !seen.contains(id));
            for other in store.get_articles(&candidates)? {
                relations.extend(compare_guarded(article, &other, template, &config, observer));
            }
            relations.sort_by(|x, y| (&x.a, &x.b).cmp(&(&y.a, &y.b)));
            relations.dedup_by(|x, y| x.a == y.a && x.b == y.b);
            found += relations.len();
            checks.push(CopyCheck { article: article.article.id.clone(), anchors, relations });
            checked += 1;
            observer.position(checked);
        }
        store.record_copy_checks(&checks)?;
    }
    Ok(found)
}

/// For each article of a batch, its anchors that are a site's template: held by many
/// documents of few outlets among the checked articles and the batch together (document
/// frequency as of this check, so the first pages of a site to be checked see less of it
/// than later ones; outlets of the store and of the batch are counted apart, which can only
/// count too many and so find too little template, never too much).
fn batch_templates(store: &dyn Store, batch: &[StoredArticle], anchors: &[Vec<u64>], config: &DedupConfig) -> Result<Vec<Template>> {
    let mut holders: HashMap<u64, Vec<usize>> = HashMap::new();
    for (k, mine) in anchors.iter().enumerate() {
        for &a in mine {
            holders.entry(a).or_default().push(k);
        }
    }
    // Asked by how many batch articles hold them: an anchor needs that many fewer stored holders.
    let mut by_held: HashMap<usize, Vec<u64>> = HashMap::new();
    for (anchor, held_by) in &holders {
        by_held.entry(held_by.len()).or_default().push(*anchor);
    }
    let mut stored: HashMap<u64, (usize, usize)> = HashMap::new();
    for (held, wanted) in by_held {
        let needed = config.template_documents.saturating_sub(held).max(1);
        stored.extend(store.anchor_spread(&wanted, None, needed)?.into_iter().map(|s| (s.anchor, (s.documents, s.outlets))));
    }
    let mut templates = vec![Template::default(); batch.len()];
    for (anchor, held_by) in holders {
        let (stored_documents, stored_outlets) = stored.get(&anchor).copied().unwrap_or((0, 0));
        let documents = stored_documents + held_by.len();
        if documents < config.template_documents {
            continue;
        }
        let outlets: HashSet<&str> = held_by.iter().map(|&k| batch[k].article.outlet.as_deref().unwrap_or(batch[k].article.id.0.as_str())).collect();
        if is_template(documents, stored_outlets + outlets.len(), config) {
            for k in held_by {
                templates[k].insert(anchor);
            }
        }
    }
    Ok(templates)
}

/// One pair's relations; a library panic loses that pair's relation, not the batch.
fn compare_guarded(article: &StoredArticle, other: &StoredArticle, template: &Template, config: &DedupConfig, observer: &dyn Observer) -> Vec<CopyRelation> {
    match contain(|| compare_pair(&input(article), &input(other), template, config)) {
        Ok(found) => found.into_iter().collect(),
        Err(panic) => {
            observer.warning(&InputWarning {
                input: format!("articles {} and {}", article.article.id, other.article.id),
                message: format!("copy check failed inside a library ({panic}); pair skipped"),
                severity: Severity::Error,
            });
            Vec::new()
        }
    }
}

/// Rewrites among the members of the stories a batch joined: each new article that is not a
/// copy against the earlier members of its story (stored ones, and those before it in the
/// batch), less pairs already related. `copies` are the batch's exact and near-duplicate copies
/// (a rewrite of their original is found through the original); `absorbed` maps a surviving
/// story to the stories merged into it by this batch, whose stored members are peers too.
/// The most recent `peers` earlier members are checked (a rewrite follows its original within
/// days).
pub fn rewrites_in_stories(
    store: &dyn Store,
    peers_checked: usize,
    batch: &[StoredArticle],
    assignments: &[StoryMember],
    copies: &HashSet<&ArticleId>,
    absorbed: &HashMap<StoryId, Vec<StoryId>>,
    related: &HashSet<(ArticleId, ArticleId)>,
) -> Result<Vec<CopyRelation>> {
    let config = RewriteConfig::default();
    let by_id: HashMap<&ArticleId, &StoredArticle> = batch.iter().map(|a| (&a.article.id, a)).collect();
    let mut by_story: HashMap<&StoryId, Vec<&ArticleId>> = HashMap::new();
    for m in assignments.iter().filter(|m| !copies.contains(&m.article)) {
        by_story.entry(&m.story).or_default().push(&m.article);
    }
    // (new article, its peers); peers loaded once.
    let mut checks: Vec<(&StoredArticle, Vec<ArticleId>)> = Vec::new();
    let mut stored: HashMap<ArticleId, StoredArticle> = HashMap::new();
    for (story, new) in by_story {
        let mut peers: Vec<ArticleId> = Vec::new();
        for s in std::iter::once(story).chain(absorbed.get(story).into_iter().flatten()) {
            let members = store.story_members(s)?;
            peers.extend(members.into_iter().rev().take(peers_checked).map(|m| m.article).filter(|id| !by_id.contains_key(id)));
        }
        for id in &peers {
            if !stored.contains_key(id) {
                if let Some(a) = store.get_article(id)? {
                    stored.insert(id.clone(), a);
                }
            }
        }
        for (k, id) in new.iter().enumerate() {
            let Some(article) = by_id.get(id) else { continue };
            let mut mine: Vec<ArticleId> = peers.clone();
            mine.extend(new[..k].iter().map(|&p| p.clone()));
            let start = mine.len().saturating_sub(peers_checked);
            checks.push((article, mine.split_off(start)));
        }
    }
    let article_of = |id: &ArticleId| by_id.get(id).copied().or_else(|| stored.get(id));
    // Profiles of the articles some check needs, each made once.
    let needed: HashSet<&ArticleId> = checks.iter().flat_map(|(a, peers)| std::iter::once(&a.article.id).chain(peers)).collect();
    let profiles: HashMap<&ArticleId, RewriteProfile> =
        needed.into_par_iter().filter_map(|id| Some((id, RewriteProfile::new(&article_of(id)?.article.text, &config)))).collect();
    let mut found: Vec<CopyRelation> = checks
        .par_iter()
        .flat_map_iter(|(article, peers)| {
            let me = &article.article.id;
            peers
                .iter()
                .filter(|p| !related.contains(&pair(me, p)))
                .filter_map(|p| {
                    let other = article_of(p)?;
                    rewrite_pair(&input(article), profiles.get(me)?, &input(other), profiles.get(p)?, &config)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    found.sort_by(|x, y| (&x.a, &x.b).cmp(&(&y.a, &y.b)));
    found.dedup_by(|x, y| x.a == y.a && x.b == y.b);
    Ok(found)
}

/// An unordered pair of articles as a key.
pub fn pair(x: &ArticleId, y: &ArticleId) -> (ArticleId, ArticleId) {
    if x <= y {
        (x.clone(), y.clone())
    } else {
        (y.clone(), x.clone())
    }
}

/// Copy groups: articles joined by exact and near-duplicate relations. Each article in a group
/// maps to the group's id (its smallest article id) and whether it is the group's likely original.
pub fn groups(relations: &[CopyRelation]) -> HashMap<ArticleId, (ArticleId, bool)> {
    let grouping = |r: &&CopyRelation| matches!(r.relation, CopyKind::Exact | CopyKind::NearDuplicate | CopyKind::Rewrite);
    let mut index: HashMap<&ArticleId, usize> = HashMap::new();
    for r in relations.iter().filter(grouping) {
        for id in [&r.a, &r.b] {
            let next = index.len();
            index.entry(id).or_insert(next);
        }
    }
    let mut sets = disjoint::DisjointSet::with_len(index.len());
    for r in relations.iter().filter(grouping) {
        sets.join(index[&r.a], index[&r.b]);
    }
    // A group's id is its smallest article id, whatever the order of the relations.
    let mut group_id: HashMap<usize, ArticleId> = HashMap::new();
    for (id, &i) in &index {
        let g = group_id.entry(sets.root_of(i)).or_insert_with(|| (*id).clone());
        if *id < &*g {
            *g = (*id).clone();
        }
    }
    let root_of = |m: &ArticleId| group_id[&sets.root_of(index[m])].clone();
    // The original of a group: named original in the most relations, never named a copy.
    let mut original_votes: HashMap<ArticleId, (usize, usize)> = HashMap::new();
    for r in relations.iter().filter(grouping) {
        let (orig, copy) = match r.original {
            Some(Side::A) => (&r.a, &r.b),
            Some(Side::B) => (&r.b, &r.a),
            None => continue,
        };
        original_votes.entry(orig.clone()).or_default().0 += 1;
        original_votes.entry(copy.clone()).or_default().1 += 1;
    }
    let members: Vec<ArticleId> = relations.iter().filter(grouping).flat_map(|r| [r.a.clone(), r.b.clone()]).collect();
    let mut best: HashMap<ArticleId, (ArticleId, usize)> = HashMap::new();
    for m in &members {
        let root = root_of(m);
        if let Some(&(votes, copied)) = original_votes.get(m) {
            if votes > 0 && copied == 0 && best.get(&root).is_none_or(|(_, v)| votes > *v) {
                best.insert(root, (m.clone(), votes));
            }
        }
    }
    let mut out = HashMap::new();
    for m in members {
        let root = root_of(&m);
        let is_original = best.get(&root).is_some_and(|(o, _)| *o == m);
        out.insert(m, (root, is_original));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: &str, b: &str, original: Option<Side>) -> CopyRelation {
        CopyRelation {
            a: ArticleId(a.into()),
            b: ArticleId(b.into()),
            relation: CopyKind::NearDuplicate,
            similarity: 0.9,
            shared: vec![],
            original,
            evidence: vec![],
        }
    }

    #[test]
    fn groups_join_chains_and_name_one_original() {
        // A long chain must not exhaust the stack.
        let mut relations: Vec<CopyRelation> = (0..50_000).map(|i| rel(&format!("{i:08}"), &format!("{:08}", i + 1), None)).collect();
        relations.push(rel("x1", "x2", Some(Side::A)));
        relations.push(rel("x1", "x3", Some(Side::A)));
        let g = groups(&relations);
        assert_eq!(g[&ArticleId("00049999".into())].0, ArticleId("00000000".into()));
        assert_eq!(g[&ArticleId("x3".into())], (ArticleId("x1".into()), false));
        assert_eq!(g[&ArticleId("x1".into())], (ArticleId("x1".into()), true));
    }
}
