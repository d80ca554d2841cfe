//! The copy step of an ingest (each new article against the stored anchor index), and the
//! `copies` command that shows a reader why two articles are related.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use storyline_model::contain::contain;

use anyhow::Result;
use rayon::prelude::*;
use storyline_dedup::rewrite::{rewrite_pair, RewriteConfig, RewriteProfile};
use storyline_dedup::{anchors, compare_pair, CopyInput, DedupConfig};
use storyline_model::{ArticleId, CopyKind, CopyRelation, RemovalReason, Side, StoredArticle, StoryId, StoryMember};
use storyline_store::{CopyCheck, Store};

/// Articles checked per round trip to the store.
const CHECK_BATCH: usize = 256;

fn input(stored: &StoredArticle) -> CopyInput<'_> {
    let a = &stored.article;
    CopyInput {
        id: &a.id,
        text: &a.text,
        published: a.published.as_deref(),
        outlet: a.outlet.as_deref(),
        credited_source: a.credited_source.as_deref(),
        scraper_markers: a.removed.iter().filter(|r| r.reason == RemovalReason::ScraperMarker).count(),
    }
}

/// Checks every stored article not yet checked against those already checked (and those
/// earlier in the same batch); returns how many relations were found. Each batch is one
/// transaction, so an interrupted run resumes at the batch where it stopped.
pub fn copy_step(store: &mut dyn Store, on_progress: &mut dyn FnMut(usize)) -> Result<usize> {
    let config = DedupConfig::default();
    let mut found = 0;
    let mut checked = 0;
    loop {
        let batch = store.articles_needing_copy_check(CHECK_BATCH)?;
        if batch.is_empty() {
            return Ok(found);
        }
        // Anchors of the batch's articles already checked in this round, not yet in the store.
        let mut batch_anchors: HashMap<u64, Vec<usize>> = HashMap::new();
        let mut checks = Vec::with_capacity(batch.len());
        for (k, article) in batch.iter().enumerate() {
            let anchors = anchors(&article.article.text, &config);
            let mut shared_in_batch: HashMap<usize, usize> = HashMap::new();
            for a in &anchors {
                for &j in batch_anchors.get(a).into_iter().flatten() {
                    *shared_in_batch.entry(j).or_default() += 1;
                }
            }
            let mut relations = Vec::new();
            // A library panic on one pair loses that pair's relation, not the batch.
            let mut compare_with = |other: &StoredArticle| match contain(|| compare_pair(&input(article), &input(other), &config)) {
                Ok(found) => relations.extend(found),
                Err(panic) => {
                    eprintln!("error: articles {} and {}: copy check failed inside a library ({panic}); pair skipped", article.article.id, other.article.id)
                }
            };
            for (j, n) in shared_in_batch {
                if n >= config.min_shared_anchors {
                    compare_with(&batch[j]);
                }
            }
            for id in store.copy_candidates(&anchors, config.min_shared_anchors)? {
                if id == article.article.id {
                    continue;
                }
                if let Some(other) = store.get_article(&id)? {
                    compare_with(&other);
                }
            }
            relations.sort_by(|x, y| (&x.a, &x.b).cmp(&(&y.a, &y.b)));
            found += relations.len();
            for a in &anchors {
                batch_anchors.entry(*a).or_default().push(k);
            }
            checks.push(CopyCheck { article_seq: article.seq, anchors, relations });
            checked += 1;
            on_progress(checked);
        }
        store.record_copy_checks(&checks)?;
    }
}

/// Earlier members of its story each new article is checked against for a rewrite (the most
/// recent ones: a rewrite follows its original within days).
const REWRITE_PEERS: usize = 64;

/// Rewrites among the members of the stories a batch joined: each new article that is not a
/// copy against the earlier members of its story (stored ones, and those before it in the
/// batch), less pairs already related. `copies` are the batch's exact and near-duplicate copies
/// (a rewrite of their original is found through the original); `absorbed` maps a surviving
/// story to the stories merged into it by this batch, whose stored members are peers too.
pub fn rewrites_in_stories(
    store: &dyn Store,
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
            peers.extend(members.into_iter().rev().take(REWRITE_PEERS).map(|m| m.article).filter(|id| !by_id.contains_key(id)));
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
            let start = mine.len().saturating_sub(REWRITE_PEERS);
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
    let mut parent: HashMap<ArticleId, ArticleId> = HashMap::new();
    // Iterative find with path compression: copy chains can be long.
    fn find(parent: &mut HashMap<ArticleId, ArticleId>, x: &ArticleId) -> ArticleId {
        let mut root = x.clone();
        while let Some(p) = parent.get(&root).filter(|p| **p != root) {
            root = p.clone();
        }
        let mut node = x.clone();
        while node != root {
            let next = parent.get(&node).cloned().unwrap_or_else(|| root.clone());
            parent.insert(node, root.clone());
            node = next;
        }
        root
    }
    let grouping = |r: &&CopyRelation| matches!(r.relation, CopyKind::Exact | CopyKind::NearDuplicate | CopyKind::Rewrite);
    for r in relations.iter().filter(grouping) {
        let (ra, rb) = (find(&mut parent, &r.a), find(&mut parent, &r.b));
        if ra != rb {
            let (keep, merge) = if ra < rb { (ra, rb) } else { (rb, ra) };
            parent.insert(merge, keep);
        }
    }
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
        let root = find(&mut parent, m);
        if let Some(&(votes, copied)) = original_votes.get(m) {
            if votes > 0 && copied == 0 && best.get(&root).is_none_or(|(_, v)| votes > *v) {
                best.insert(root, (m.clone(), votes));
            }
        }
    }
    let mut out = HashMap::new();
    for m in members {
        let root = find(&mut parent, &m);
        let is_original = best.get(&root).is_some_and(|(o, _)| *o == m);
        out.insert(m, (root, is_original));
    }
    out
}

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
                o.article.published_date().unwrap_or("undated"),
                o.article.title.as_deref().unwrap_or("(no title)")
            )
        });
        let kind = serde_json::to_value(r.relation)?.as_str().unwrap_or_default().replace('_', " ");
        writeln!(out, "\n{kind} ({:.0}% similar) with {other_id} ({})", r.similarity * 100.0, describe.unwrap_or_default())?;
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
