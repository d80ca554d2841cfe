//! The story page, computed from what the earlier stages stored: which sources covered the
//! story and when, which copy or rewrite which, what each reports and leaves out (a matrix),
//! where they disagree (conflicts), how each words the same quotation (aligned variants), a
//! timeline and a short extractive summary whose sentences cite their articles.
//!
//! Pure: the caller loads the story's articles, copy relations and resolved facts.

mod markdown;
mod quotes;
pub mod summary;
pub use storyline_dedup::text;

use std::collections::{BTreeMap, HashMap, HashSet};

use storyline_model::{
    Article, ArticleId, Conflict, ConflictKind, CopyGroup, CopyKind, CopyLink, CopyRelation, EntityId, EntityType, Facts, MatrixKind, MatrixRow, NaiveDate,
    Published, Side, Source, Story, StoryEntity, StoryReport, TimelineEntry, TimelineKind, Version,
};

pub use markdown::markdown;
use text::{content, sentences, Sentence};

/// One member of the story: its article and its facts (mentions resolved to entities).
pub struct Member<'a> {
    pub article: &'a Article,
    pub facts: &'a Facts,
}

/// Name and type of a resolved entity, by id.
pub type EntityLookup<'a> = &'a dyn Fn(&str) -> Option<(String, EntityType)>;

/// Stories larger than this are compared on their first members only (by date), so a page
/// stays fast; the sources list still shows every member.
pub const MAX_COMPARED: usize = 60;

/// Rows per kind in the matrix.
const MATRIX_ROWS: usize = 12;

/// Everything the story page shows.
pub fn compare(story: &Story, members: &[Member<'_>], copies: &[CopyRelation], entity: EntityLookup<'_>) -> StoryReport {
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (members[a].article, members[b].article);
        (x.published.is_none(), &x.published, &x.id).cmp(&(y.published.is_none(), &y.published, &y.id))
    });
    let members: Vec<&Member<'_>> = order.into_iter().map(|i| &members[i]).collect();
    let compared = &members[..members.len().min(MAX_COMPARED)];
    let sents: Vec<Vec<Sentence>> = compared.iter().map(|m| sentences(&m.article.text)).collect();

    let links = copy_links(compared, copies);
    let mut sources: Vec<Source> = members.iter().map(|m| source(m.article)).collect();
    for (i, l) in links.iter().enumerate() {
        if let Some(l) = l {
            if let Some(target) = sources.iter_mut().find(|s| s.article == l.article) {
                target.copied_by.push(members[i].article.id.clone());
            }
        }
        sources[i].copy_of = l.clone();
    }
    let independent: Vec<bool> = (0..members.len()).map(|i| sources[i].copy_of.is_none()).collect();

    let entities = story_entities(compared, entity);
    let conflicts = role_conflicts(compared, &sources, &independent, entity).into_iter().chain(figure_conflicts(compared, &sources, &independent)).collect();
    let quote_groups = quotes::groups(compared);
    let variants = quotes::variants(&quote_groups, &sources);
    let ranked = summary::rank(compared, &sents, &independent);
    let summary = summary::pick(&ranked, compared, &sents, 5);

    let n = compared.len();
    let mut matrix = Vec::new();
    // People, organisations and places first, then the groups of people in rows of their own.
    let who = entities.iter().filter(|e| e.kind != EntityType::Group).take(MATRIX_ROWS);
    let groups = entities.iter().filter(|e| e.kind == EntityType::Group).take(MATRIX_ROWS / 2);
    for e in who.chain(groups) {
        let mut cells = vec![None; n];
        for (i, m) in compared.iter().enumerate() {
            let ms: Vec<_> = m.facts.mentions.iter().filter(|x| x.entity.as_deref() == Some(e.id.as_str())).collect();
            if !ms.is_empty() {
                cells[i] = Some(ms.iter().find_map(|x| x.role.clone()).unwrap_or_else(|| "named".to_string()));
            }
        }
        let kind = if e.kind == EntityType::Group { MatrixKind::Group } else { MatrixKind::Entity };
        matrix.push(MatrixRow { kind, label: e.name.clone(), entity: Some(e.id.clone()), cells });
    }
    for (label, cells) in figure_rows(compared).into_iter().take(MATRIX_ROWS) {
        matrix.push(MatrixRow { kind: MatrixKind::Figure, label, entity: None, cells });
    }
    for (label, cells) in quotes::rows(&quote_groups, n).into_iter().take(MATRIX_ROWS) {
        matrix.push(MatrixRow { kind: MatrixKind::Quote, label, entity: None, cells });
    }
    for s in ranked.iter().take(MATRIX_ROWS) {
        let cells = s.support.iter().enumerate().map(|(mi, x)| x.map(|si| truncate(&sents[mi][si].text, 240))).collect();
        matrix.push(MatrixRow { kind: MatrixKind::Statement, label: truncate(&s.text, 160), entity: None, cells });
    }
    if members.len() > n {
        for row in &mut matrix {
            row.cells.resize(members.len(), None);
        }
    }

    StoryReport {
        story: story.clone(),
        copies: copy_groups(&sources),
        sources,
        entities,
        matrix,
        conflicts,
        quote_variants: variants,
        timeline: timeline(&members, compared, &sents),
        summary,
    }
}

/// A similarity as a percentage that never rounds a difference away: 1.0 is "100%", 0.997
/// "99.7%", 0.62 "62%".
pub fn percent(similarity: f32) -> String {
    let p = f64::from(similarity) * 100.0;
    if p >= 100.0 {
        "100%".into()
    } else if p >= 99.5 {
        format!("{:.1}%", ((p * 10.0).round() / 10.0).min(99.9))
    } else {
        format!("{:.0}%", p.min(99.0))
    }
}

/// How source `i` of a report relates to the others, in words, with `[n]` citing the other
/// sources by number: "exact copy of [1] (100%)", "near-duplicate with [5] (99.7%), direction
/// unknown", "original of [3][4]", or "original reporting" for an article with no copy relation.
pub fn relation_label(r: &StoryReport, i: usize) -> String {
    let n = |id: &ArticleId| r.sources.iter().position(|x| x.article == *id).map(|i| i + 1).unwrap_or(0);
    let s = &r.sources[i];
    let kind = |k: CopyKind| match k {
        CopyKind::Exact => "exact copy",
        CopyKind::NearDuplicate => "near-duplicate",
        CopyKind::Partial => "partial copy",
        CopyKind::Rewrite => "rewrite",
    };
    let mut parts = Vec::new();
    if let Some(c) = &s.copy_of {
        let how = if c.direction_known { "of" } else { "with" };
        let unknown = if c.direction_known { "" } else { ", direction unknown" };
        parts.push(format!("{} {how} [{}] ({}){unknown}", kind(c.relation), n(&c.article), percent(c.similarity)));
    }
    // The members that copy this one, with their links to it.
    let copies: Vec<(&ArticleId, &CopyLink)> =
        s.copied_by.iter().filter_map(|id| r.sources.iter().find(|x| x.article == *id).and_then(|x| x.copy_of.as_ref()).map(|c| (id, c))).collect();
    let known: String = copies.iter().filter(|(_, c)| c.direction_known).map(|(id, _)| format!("[{}]", n(id))).collect();
    if !known.is_empty() {
        parts.push(format!("original of {known}"));
    }
    for (id, c) in copies.iter().filter(|(_, c)| !c.direction_known) {
        parts.push(format!("{} with [{}] ({}), direction unknown", kind(c.relation), n(id), percent(c.similarity)));
    }
    if parts.is_empty() {
        "original reporting".into()
    } else {
        parts.join("; ")
    }
}

/// The member a source's copy link points to (inside a copy group the links name the copies).
pub fn copy_target<'r>(r: &'r StoryReport, copy: &ArticleId) -> Option<&'r ArticleId> {
    r.sources.iter().find(|x| x.article == *copy).and_then(|x| x.copy_of.as_ref()).map(|l| &l.article)
}

/// Words of `copy` against `original`, compared without case and punctuation: only the
/// changes, each with up to four words of context, at most 12 changes.
fn word_diff(original: &str, copy: &str) -> Vec<storyline_model::AlignedWord> {
    use storyline_model::{AlignedWord, WordOp};
    const CONTEXT: usize = 4;
    const CHANGES: usize = 12;
    const RUN: usize = 8;
    let all = quotes::align_full(original, copy);
    let changed: Vec<usize> = all.iter().enumerate().filter(|(_, w)| w.op != WordOp::Same).map(|(i, _)| i).collect();
    let mut keep = vec![false; all.len()];
    let mut changes = 0;
    let mut last: Option<usize> = None;
    for &i in &changed {
        if last.is_none_or(|l| i > l + 1) {
            changes += 1;
            if changes > CHANGES {
                break;
            }
        }
        last = Some(i);
        let end = (i + CONTEXT + 1).min(all.len());
        keep[i.saturating_sub(CONTEXT)..end].iter_mut().for_each(|k| *k = true);
    }
    let mut out = Vec::new();
    let mut gap = false;
    // Consecutive words of one kind of change (a paragraph left out, a tail cut off): the
    // first `RUN` are shown, the rest counted.
    let mut run = (WordOp::Same, 0usize);
    let mut hidden = 0usize;
    let flush = |out: &mut Vec<AlignedWord>, hidden: &mut usize, op: WordOp| {
        if *hidden > 0 {
            out.push(AlignedWord { word: format!("… {} more {}", *hidden, if op == WordOp::Added { "added" } else { "left out" }), op: WordOp::Elided });
            *hidden = 0;
        }
    };
    for (w, k) in all.into_iter().zip(keep) {
        if !k {
            flush(&mut out, &mut hidden, run.0);
            run = (WordOp::Same, 0);
            gap = true;
            continue;
        }
        if gap && !out.is_empty() {
            out.push(AlignedWord { word: "…".into(), op: WordOp::Elided });
        }
        gap = false;
        if w.op != run.0 {
            flush(&mut out, &mut hidden, run.0);
            run = (w.op, 0);
        }
        run.1 += 1;
        if w.op != WordOp::Same && run.1 > RUN {
            hidden += 1;
        } else {
            out.push(w);
        }
    }
    flush(&mut out, &mut hidden, run.0);
    if gap && !out.is_empty() {
        out.push(AlignedWord { word: "…".into(), op: WordOp::Elided });
    }
    out
}

/// A day as `2021-05-12`, or "undated".
pub fn day(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_else(|| "undated".into())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max).collect();
    format!("{}…", cut.trim_end())
}

/// Outlet name, or the best stand-in marked as one: the credited source ("Anadolu Agency,
/// credited"), the URL's host ("example.com, from the URL"), or "outlet not stated (FILE)".
/// The flag is true for a stand-in.
pub fn outlet_of(a: &Article) -> (String, bool) {
    if let Some(o) = a.outlet.as_deref().filter(|o| !o.trim().is_empty()) {
        return (o.trim().to_string(), false);
    }
    if let Some(c) = a.credited_source.as_deref().filter(|c| !c.trim().is_empty()) {
        return (format!("{}, credited", c.trim()), true);
    }
    if let Some(host) = a.url.as_deref().and_then(|u| u.split("//").nth(1)).and_then(|r| r.split('/').next()).filter(|h| !h.is_empty()) {
        return (format!("{}, from the URL", host.trim_start_matches("www.")), true);
    }
    let file = a.source.rsplit(['/', '\\']).next().unwrap_or(&a.source);
    let file = file.split('#').next().unwrap_or(file);
    (format!("outlet not stated ({file})"), true)
}

/// "2 named outlets, 3 articles not stated": distinct stated outlets, and the members that
/// state none (each shown with its stand-in).
pub fn outlet_count(sources: &[Source]) -> String {
    let named: HashSet<&str> = sources.iter().filter(|s| !s.outlet_guessed).map(|s| s.outlet.as_str()).collect();
    let unstated = sources.iter().filter(|s| s.outlet_guessed).count();
    let plural = |n: usize, one: &str, many: &str| if n == 1 { format!("{n} {one}") } else { format!("{n} {many}") };
    let mut out = plural(named.len(), "named outlet", "named outlets");
    if unstated > 0 {
        out.push_str(&format!(", {unstated} not stated"));
    }
    out
}

fn source(a: &Article) -> Source {
    let (outlet, guessed) = outlet_of(a);
    Source {
        article: a.id.clone(),
        outlet,
        outlet_guessed: guessed,
        title: a.title.clone(),
        published: a.published,
        url: a.url.clone(),
        words: a.text.split_whitespace().count(),
        copy_of: None,
        copied_by: Vec::new(),
    }
}

/// Which member each member copies or rewrites (by index into `members`), from the stored copy
/// and rewrite relations (found at ingest by the dedup stage, so the page and `export copies`
/// agree).
fn copy_links(members: &[&Member<'_>], copies: &[CopyRelation]) -> Vec<Option<CopyLink>> {
    let index: HashMap<&ArticleId, usize> = members.iter().enumerate().map(|(i, m)| (&m.article.id, i)).collect();
    // (copy, original, link, direction known)
    let mut cands: Vec<(usize, usize, CopyLink, bool)> = Vec::new();
    let mut related: HashSet<(usize, usize)> = HashSet::new();
    for r in copies {
        let (Some(&a), Some(&b)) = (index.get(&r.a), index.get(&r.b)) else { continue };
        related.insert((a.min(b), a.max(b)));
        let (copy, orig, known) = match r.original {
            Some(Side::A) => (b, a, true),
            Some(Side::B) => (a, b, true),
            None => {
                let (o, c) = representative(members, a, b);
                (c, o, false)
            }
        };
        let diff = if r.relation == CopyKind::NearDuplicate { word_diff(&members[orig].article.text, &members[copy].article.text) } else { Vec::new() };
        let link = CopyLink {
            article: members[orig].article.id.clone(),
            relation: r.relation,
            similarity: r.similarity,
            direction_known: known,
            evidence: r.evidence.clone(),
            diff,
        };
        cands.push((copy, orig, link, known));
    }
    // One link per copy: known direction first, then the closest.
    cands.sort_by(|x, y| y.3.cmp(&x.3).then(y.2.similarity.total_cmp(&x.2.similarity)));
    let mut out: Vec<Option<CopyLink>> = vec![None; members.len()];
    let mut parent: Vec<Option<usize>> = vec![None; members.len()];
    for (copy, orig, mut link, known) in cands {
        if out[copy].is_some() {
            continue;
        }
        // Never a cycle: walk up from the original.
        let mut up = Some(orig);
        let mut steps = 0;
        while let Some(u) = up {
            if u == copy || steps > members.len() {
                break;
            }
            up = parent[u];
            steps += 1;
        }
        if up == Some(copy) {
            continue;
        }
        if !known {
            link.evidence.push("direction unknown: the earlier or longer article is shown first".into());
        }
        parent[copy] = Some(orig);
        out[copy] = Some(link);
    }
    out
}

/// The likely original of two articles without a stated direction: the earlier, else the
/// longer, else the smaller id. Returns `(original, copy)`.
fn representative(members: &[&Member<'_>], a: usize, b: usize) -> (usize, usize) {
    let key = |i: usize| {
        let x = members[i].article;
        (x.published.is_none(), x.published, std::cmp::Reverse(x.text.len()), x.id.clone())
    };
    if key(a) <= key(b) {
        (a, b)
    } else {
        (b, a)
    }
}

/// Copies grouped under the original at the root of their chain.
fn copy_groups(sources: &[Source]) -> Vec<CopyGroup> {
    let by_id: HashMap<&ArticleId, &Source> = sources.iter().map(|s| (&s.article, s)).collect();
    let mut groups: BTreeMap<ArticleId, Vec<CopyLink>> = BTreeMap::new();
    let mut known: HashMap<ArticleId, bool> = HashMap::new();
    for s in sources {
        let Some(link) = &s.copy_of else { continue };
        let mut root = &link.article;
        let mut all_known = link.direction_known;
        for _ in 0..sources.len() {
            match by_id.get(root).and_then(|r| r.copy_of.as_ref()) {
                Some(up) => {
                    all_known &= up.direction_known;
                    root = &up.article;
                }
                None => break,
            }
        }
        let entry = known.entry(root.clone()).or_insert(true);
        *entry &= all_known;
        groups.entry(root.clone()).or_default().push(CopyLink { article: s.article.clone(), ..link.clone() });
    }
    groups.into_iter().map(|(original, copies)| CopyGroup { original_known: known[&original], original, copies }).collect()
}

fn story_entities(members: &[&Member<'_>], entity: EntityLookup<'_>) -> Vec<StoryEntity> {
    let mut seen: HashMap<&str, (HashSet<usize>, Vec<String>)> = HashMap::new();
    for (i, m) in members.iter().enumerate() {
        for x in &m.facts.mentions {
            if let Some(id) = x.entity.as_deref() {
                let e = seen.entry(id).or_default();
                e.0.insert(i);
                if let Some(r) = &x.role {
                    if !e.1.contains(r) {
                        e.1.push(r.clone());
                    }
                }
            }
        }
    }
    let mut out: Vec<StoryEntity> = seen
        .into_iter()
        .filter_map(|(id, (arts, roles))| entity(id).map(|(name, kind)| StoryEntity { id: EntityId(id.to_string()), name, kind, articles: arts.len(), roles }))
        .collect();
    out.sort_by(|a, b| b.articles.cmp(&a.articles).then(a.name.cmp(&b.name)));
    out
}

/// A title's canonical content words in order ("Deputy Assistant Secretary of State for
/// Israel and Palestinian Affairs" = deput assis secre state israe pales affai).
fn title_seq(role: &str) -> Vec<String> {
    text::words(role).into_iter().filter(|w| !text::is_stop(w)).map(|w| text::canon(&w)).collect()
}

/// One statement of a value: its wording, its canonical form and the member that states it.
type Stated = (String, Vec<String>, usize);

/// Two titles agree when one is the other with words added only at the ends ("Secretary of
/// State" and "U.S. Secretary of State"); a word changed or inserted inside ("deputy secretary"
/// and "deputy assistant secretary") is a different title.
fn titles_agree(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short.is_empty() || long.windows(short.len()).any(|w| w == short)
}

fn versions_of(stated: Vec<Stated>, sources: &[Source], independent: &[bool], agree: impl Fn(&[String], &[String]) -> bool) -> Vec<Version> {
    // Exact canonical forms first, by support.
    let mut forms: Vec<(Vec<String>, Vec<String>, Vec<usize>)> = Vec::new();
    for (wording, seq, i) in stated {
        match forms.iter_mut().find(|f| f.0 == seq) {
            Some(f) => {
                if !f.1.contains(&wording) {
                    f.1.push(wording);
                }
                if !f.2.contains(&i) {
                    f.2.push(i);
                }
            }
            None => forms.push((seq, vec![wording], vec![i])),
        }
    }
    let support = |arts: &[usize]| (arts.iter().filter(|&&i| independent[i]).count(), arts.len());
    forms.sort_by(|a, b| support(&b.2).cmp(&support(&a.2)).then(b.0.len().cmp(&a.0.len())));
    // Then forms that agree join the strongest form they agree with.
    let mut groups: Vec<(Vec<String>, Vec<String>, Vec<usize>)> = Vec::new();
    for f in forms {
        match groups.iter_mut().find(|g| agree(&g.0, &f.0)) {
            Some(g) => {
                g.1.extend(f.1);
                for i in f.2 {
                    if !g.2.contains(&i) {
                        g.2.push(i);
                    }
                }
            }
            None => groups.push(f),
        }
    }
    groups.sort_by_key(|g| std::cmp::Reverse(support(&g.2)));
    groups
        .into_iter()
        .map(|(_, wordings, mut arts)| {
            arts.sort_unstable();
            let mut outlets: Vec<String> = arts.iter().map(|&i| sources[i].outlet.clone()).collect();
            outlets.dedup();
            Version {
                value: wordings[0].clone(),
                wordings: wordings[1..].to_vec(),
                independent: arts.iter().filter(|&&i| independent[i]).count(),
                articles: arts.iter().map(|&i| sources[i].article.clone()).collect(),
                outlets,
            }
        })
        .collect()
}

/// An entity's title stated differently by different sources.
fn role_conflicts(members: &[&Member<'_>], sources: &[Source], independent: &[bool], entity: EntityLookup<'_>) -> Vec<Conflict> {
    let mut stated: BTreeMap<EntityId, Vec<Stated>> = BTreeMap::new();
    for (i, m) in members.iter().enumerate() {
        let mut seen = HashSet::new();
        for x in &m.facts.mentions {
            let (Some(id), Some(role)) = (&x.entity, &x.role) else { continue };
            let seq = title_seq(role);
            if seq.is_empty() || !seen.insert((id.clone(), seq.clone())) {
                continue;
            }
            let wording = role.trim_start_matches("the ").trim_start_matches("The ").to_string();
            stated.entry(id.clone()).or_default().push((wording, seq, i));
        }
    }
    let mut out = Vec::new();
    for (id, s) in stated {
        let versions = versions_of(s, sources, independent, titles_agree);
        if versions.len() > 1 {
            let subject = entity(&id).map(|e| e.0).unwrap_or_else(|| id.to_string());
            out.push(Conflict { kind: ConflictKind::Role, subject, entity: Some(id), versions });
        }
    }
    out
}

/// What a figure counts, as a key: its canonical content words, sorted.
fn figure_key(what: &str) -> Option<String> {
    let mut c: Vec<String> = content(what).into_iter().collect();
    if c.is_empty() {
        return None;
    }
    c.sort();
    Some(c.join(" "))
}

fn is_year(v: f64, what: &str) -> bool {
    what.trim().is_empty() && v.fract() == 0.0 && (1900.0..=2100.0).contains(&v)
}

fn figure_rows(members: &[&Member<'_>]) -> Vec<(String, Vec<Option<String>>)> {
    let mut rows: BTreeMap<String, (String, Vec<Option<String>>)> = BTreeMap::new();
    for (i, m) in members.iter().enumerate() {
        for f in &m.facts.figures {
            let Some(key) = figure_key(&f.what).filter(|_| !is_year(f.value, &f.what)) else { continue };
            let row = rows.entry(key).or_insert_with(|| (f.what.clone(), vec![None; members.len()]));
            let cell = format!("{}{}", f.qualifier.as_deref().map(|q| format!("{q} ")).unwrap_or_default(), f.text);
            match &mut row.1[i] {
                Some(c) if !c.split(" / ").any(|x| x == cell) => c.push_str(&format!(" / {cell}")),
                Some(_) => {}
                c @ None => *c = Some(cell),
            }
        }
    }
    let mut out: Vec<(String, Vec<Option<String>>)> = rows.into_values().collect();
    out.sort_by_key(|(_, c)| std::cmp::Reverse(c.iter().filter(|x| x.is_some()).count()));
    out
}

/// The same quantity with different values in different sources.
fn figure_conflicts(members: &[&Member<'_>], sources: &[Source], independent: &[bool]) -> Vec<Conflict> {
    let mut stated: BTreeMap<(String, Option<NaiveDate>), (String, Vec<Stated>)> = BTreeMap::new();
    for (i, m) in members.iter().enumerate() {
        for f in &m.facts.figures {
            let Some(key) = figure_key(&f.what).filter(|_| !is_year(f.value, &f.what)) else { continue };
            let value = format!("{}{}", f.qualifier.as_deref().map(|q| format!("{q} ")).unwrap_or_default(), f.text);
            let e = stated.entry((key, f.when)).or_insert_with(|| (f.what.clone(), Vec::new()));
            e.1.push((value, vec![format!("{}", f.value)], i));
        }
    }
    let mut out = Vec::new();
    for ((_, when), (what, s)) in stated {
        let arts: HashSet<usize> = s.iter().map(|x| x.2).collect();
        if arts.len() < 2 {
            continue;
        }
        let versions = versions_of(s, sources, independent, |a, b| a == b);
        // A conflict is two sources that disagree, not one source giving two numbers.
        let disjoint = versions.len() > 1 && versions.iter().any(|v| v.articles.iter().any(|a| !versions[0].articles.contains(a)));
        if disjoint {
            let subject = match when {
                Some(w) => format!("{what} ({w})"),
                None => what,
            };
            out.push(Conflict { kind: ConflictKind::Figure, subject, entity: None, versions });
        }
    }
    out
}

/// A reported event of one day: the sentence shown, its content words, the articles stating it.
type DayEvent = (String, HashSet<String>, Vec<ArticleId>);

/// Words of a plan, and of a plan changed: a sentence with both ("planned to visit next week,
/// and moved his trip up") dates the plan, not what happened.
const PLANNED: &[&str] = &["planned", "plans", "scheduled", "due", "expected", "intended", "set"];
const REVISED: &[&str] = &["postponed", "delayed", "cancelled", "canceled", "rescheduled", "instead"];
/// Verb and particle of a change, up to three words apart ("moved his trip up").
const REVISED_PHRASAL: &[(&str, &str)] = &[("moved", "up"), ("brought", "forward"), ("called", "off"), ("pushed", "back"), ("put", "off")];

fn revised_plan(sentence: &str) -> bool {
    let lower = sentence.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let phrasal =
        |(verb, particle): &(&str, &str)| words.iter().enumerate().any(|(i, w)| w == verb && words[i + 1..(i + 5).min(words.len())].contains(particle));
    words.iter().any(|w| PLANNED.contains(w)) && (words.iter().any(|w| REVISED.contains(w)) || REVISED_PHRASAL.iter().any(phrasal))
}

/// Publications in date order (undated last), then the dated events the articles report.
fn timeline(all: &[&Member<'_>], compared: &[&Member<'_>], sents: &[Vec<Sentence>]) -> Vec<TimelineEntry> {
    let mut out: Vec<TimelineEntry> = Vec::new();
    for m in all {
        let (outlet, _) = outlet_of(m.article);
        let title = m.article.title.clone().unwrap_or_else(|| truncate(m.article.text.lines().next().unwrap_or(""), 100));
        out.push(TimelineEntry {
            date: m.article.published,
            kind: TimelineKind::Published,
            text: format!("{outlet}: {title}"),
            articles: vec![m.article.id.clone()],
        });
    }
    // Per day, the sentences that report something on it; an article is cited for an entry only
    // when its own sentence states the entry's (as summary citations are), else it opens an
    // entry of its own (at most `EVENTS_PER_DAY` a day).
    const EVENTS_PER_DAY: usize = 3;
    let bags: Vec<Vec<HashSet<String>>> = sents.iter().map(|ss| ss.iter().map(|s| content(&s.text)).collect()).collect();
    let weights = summary::Weights::new(bags.iter().flatten());
    let mut events: BTreeMap<NaiveDate, Vec<DayEvent>> = BTreeMap::new();
    for (i, m) in compared.iter().enumerate() {
        for d in &m.facts.dates {
            let Some(si) = sents[i].iter().position(|s| s.start <= d.start && d.start < s.end) else { continue };
            let sentence = &sents[i][si];
            if revised_plan(&sentence.text) {
                continue;
            }
            let words = &bags[i][si];
            let day = events.entry(d.date).or_default();
            let same = day
                .iter()
                .position(|(_, w, _)| summary::support(w, words, &weights) >= summary::SUPPORT || summary::support(words, w, &weights) >= summary::SUPPORT);
            match same {
                Some(k) if !day[k].2.contains(&m.article.id) => day[k].2.push(m.article.id.clone()),
                Some(_) => {}
                None if day.len() < EVENTS_PER_DAY => day.push((truncate(&sentence.text, 300), words.clone(), vec![m.article.id.clone()])),
                None => {}
            }
        }
    }
    for (date, entries) in events {
        for (text, _, articles) in entries {
            out.push(TimelineEntry { date: Some(Published::day(date)), kind: TimelineKind::Event, text, articles });
        }
    }
    out.sort_by(|a, b| {
        let day = |e: &TimelineEntry| e.date.map(|d| d.date);
        (a.date.is_none(), day(a), a.kind).cmp(&(b.date.is_none(), day(b), b.kind))
    });
    out
}

#[cfg(test)]
mod tests;
