//! One conformance suite for every backend: what the pipeline, server and exports rely on.
//! Each check gets a fresh, empty store from the caller. A backend's tests call [`run_all`];
//! a failure panics with the check's name and what differed.

use std::collections::HashSet;
use std::sync::Arc;

use storyline_model::{
    Alert, AlertHit, Article, ArticleId, CopyKind, CopyRelation, Facts, SourceKind, SourceState, Story, StoryId, StoryMember, Thread, ThreadId,
};

use crate::{CopyCheck, Error, Query, Step, Store, StoryChanges, StoryEventKind, StorySort, StoryUpdate};

/// A fresh, empty store per check.
pub type Make<'a> = &'a dyn Fn() -> Arc<dyn Store>;

/// A named check of one behaviour.
type Check = (&'static str, fn(&dyn Store));

/// Every check, each on a fresh store.
pub fn run_all(make: Make<'_>) {
    let checks: [Check; 10] = [
        ("articles", articles),
        ("search", search),
        ("copies", copies),
        ("stories", stories),
        ("facts", facts),
        ("change feed", change_feed),
        ("paging", paging),
        ("story ordering", story_ordering),
        ("sources", sources),
        ("alerts", alerts),
    ];
    for (name, check) in checks {
        eprintln!("conformance: {name}");
        check(make().as_ref());
    }
    eprintln!("conformance: step locks");
    step_locks(make());
    eprintln!("conformance: concurrent writers");
    concurrent_writers(make());
}

/// An article with these fields (the rest empty).
pub fn article(id: &str, title: &str, text: &str, published: Option<&str>, outlet: &str) -> Article {
    Article {
        id: ArticleId(id.to_owned()),
        source: format!("{id}.txt"),
        url: Some(format!("https://{outlet}/{id}")),
        title: Some(title.to_owned()),
        published: published.map(|p| p.parse().expect("an ISO date")),
        authors: vec!["Jane Doe".to_owned()],
        contributors: vec![],
        outlet: Some(outlet.to_owned()),
        credited_source: None,
        language: Some("en".to_owned()),
        text: text.to_owned(),
        removed: vec![],
        warnings: vec![],
        external_id: Some(format!("ext-{id}")),
    }
}

fn ids(v: &[ArticleId]) -> Vec<&str> {
    v.iter().map(|a| a.0.as_str()).collect()
}

fn articles(s: &dyn Store) {
    let a = article("a1", "Ceasefire holds", "The ceasefire held overnight.", Some("2021-05-21"), "one.example");
    let b = article("b2", "Talks resume", "Talks resumed in Cairo.", None, "two.example");
    let put = s.put_articles(&[a.clone(), b.clone()], "2026-01-01T00:00:00Z").unwrap();
    assert_eq!((put.added, put.already_stored), (2, 0), "first put");
    // The same document read again under a smaller source name: relabelled, not added.
    let mut again = a.clone();
    again.source = "0-first.txt".to_owned();
    let put = s.put_articles(&[again], "2026-01-02T00:00:00Z").unwrap();
    assert_eq!((put.added, put.already_stored), (0, 1), "second put");
    let got = s.get_article(&a.id).unwrap().expect("a1 stored");
    assert_eq!(got.article.source, "0-first.txt", "the smaller source name is kept");
    assert_eq!(got.ingested_at, "2026-01-01T00:00:00Z", "ingest time of the first put");
    assert_eq!(got.article.text, a.text);
    let by_external = s.get_article(&ArticleId("ext-b2".into())).unwrap().expect("found by external id");
    assert_eq!(by_external.article.id, b.id);
    assert!(s.get_article(&ArticleId("nope".into())).unwrap().is_none());
    let many = s.get_articles(&[b.id.clone(), ArticleId("nope".into()), ArticleId("ext-b2".into()), a.id.clone()]).unwrap();
    assert_eq!(many.iter().map(|x| x.article.id.0.as_str()).collect::<Vec<_>>(), ["b2", "a1"], "by id only, in the order asked");
    assert_eq!(s.count_articles().unwrap(), 2);
    let mut seen = Vec::new();
    s.for_each_article(&mut |x| {
        seen.push(x.article.id);
        Ok(())
    })
    .unwrap();
    assert_eq!(ids(&seen), ["a1", "b2"], "insertion order");
    let dates = s.article_dates().unwrap();
    assert_eq!(dates.len(), 1);
    assert_eq!(dates[&a.id].to_string(), "2021-05-21");
    // An empty batch is a no-op.
    assert_eq!(s.put_articles(&[], "2026-01-03T00:00:00Z").unwrap().added, 0);
}

fn search(s: &dyn Store) {
    s.put_articles(
        &[
            article("s1", "Blinken visits Cairo", "Antony Blinken met officials in Cairo about the ceasefire.", Some("2021-05-25"), "one.example"),
            article("s2", "Rockets fired", "Rockets were fired from Gaza before the ceasefire took hold.", Some("2021-05-20T10:00:00Z"), "two.example"),
            article("s3", "Election results", "The election results came in late on Sunday.", Some("2023-03-01"), "three.example"),
        ],
        "2026-01-01T00:00:00Z",
    )
    .unwrap();
    let q = |text: &str| -> Vec<String> {
        let mut hits: Vec<String> = s.search(&Query::parse(text).unwrap(), 10).unwrap().hits.into_iter().map(|h| h.id.0).collect();
        hits.sort();
        hits
    };
    assert_eq!(q("ceasefire"), ["s1", "s2"], "a word");
    assert_eq!(q("\"the ceasefire took\""), ["s2"], "a phrase");
    assert_eq!(q("ceasefire AND NOT gaza"), ["s1"], "NOT");
    assert_eq!(q("ceasefire -gaza"), ["s1"], "minus");
    assert_eq!(q("-gaza"), ["s1", "s3"], "only an excluded word: every article without it");
    assert_eq!(q("NOT gaza"), ["s1", "s3"], "only NOT");
    assert_eq!(q("title:cairo"), ["s1"], "a field");
    assert_eq!(q("headline:cairo"), ["s1"], "a field alias");
    assert_eq!(q("published:2021-05"), ["s1", "s2"], "a month");
    assert_eq!(q("published:[2021-05-21 TO 2021-05-31]"), ["s1"], "a range");
    assert_eq!(q("published:>=2023"), ["s3"], "a comparison");
    assert_eq!(q("site:three.example OR blinken"), ["s1", "s3"], "OR");
    assert!(q("nothingmatches").is_empty());
    let results = s.search(&Query::parse("blinken").unwrap(), 10).unwrap();
    assert_eq!(results.total, 1);
    let hit = &results.hits[0];
    assert_eq!(
        (hit.title.as_deref(), hit.published.map(|p| p.to_string()).as_deref(), hit.outlet.as_deref()),
        (Some("Blinken visits Cairo"), Some("2021-05-25"), Some("one.example"))
    );
    assert!(hit.snippet.contains("<b>Blinken</b>"), "snippet marks the match: {}", hit.snippet);
    // The limit bounds the hits, not the total.
    let two = s.search(&Query::parse("the").unwrap(), 1).unwrap();
    assert_eq!((two.total, two.hits.len()), (3, 1));
    for bad in ["published:2021-13", "(((", "title:*"] {
        let err = Query::parse(bad).and_then(|q| s.search(&q, 10));
        assert!(matches!(err, Err(Error::Query(_))), "`{bad}` is the asker's mistake: {err:?}");
    }
    // Articles stored later are found without reopening.
    s.put_articles(&[article("s4", "Late news", "A ceasefire again.", None, "four.example")], "2026-01-02T00:00:00Z").unwrap();
    assert_eq!(q("ceasefire"), ["s1", "s2", "s4"], "a later article");
}

fn relation(a: &str, b: &str, kind: CopyKind) -> CopyRelation {
    CopyRelation {
        a: ArticleId(a.into()),
        b: ArticleId(b.into()),
        relation: kind,
        similarity: 0.9,
        shared: vec![],
        original: None,
        evidence: vec![format!("{a}-{b}")],
    }
}

fn copies(s: &dyn Store) {
    let texts = ["one", "two", "three", "four"];
    let batch: Vec<Article> = texts.iter().map(|t| article(t, t, &format!("text of {t}"), None, "x.example")).collect();
    s.put_articles(&batch, "2026-01-01T00:00:00Z").unwrap();
    assert_eq!(ids(&s.articles_needing_copy_check(10).unwrap().into_iter().map(|a| a.article.id).collect::<Vec<_>>()), texts, "all unchecked, oldest first");
    assert_eq!(s.articles_needing_copy_check(2).unwrap().len(), 2, "limit");
    let check = |id: &str, anchors: &[u64], relations: Vec<CopyRelation>| CopyCheck { article: ArticleId(id.into()), anchors: anchors.to_vec(), relations };
    s.record_copy_checks(&[check("one", &[1, 2, 3], vec![]), check("two", &[2, 3, 4], vec![relation("one", "two", CopyKind::NearDuplicate)])]).unwrap();
    assert_eq!(ids(&s.articles_needing_copy_check(10).unwrap().into_iter().map(|a| a.article.id).collect::<Vec<_>>()), ["three", "four"]);
    assert_eq!(ids(&s.copy_candidates(&[2, 3], 2).unwrap()), ["one", "two"], "sharing two anchors, in sequence order");
    assert_eq!(ids(&s.copy_candidates(&[1, 9], 1).unwrap()), ["one"]);
    assert!(s.copy_candidates(&[1, 9], 2).unwrap().is_empty());
    assert!(s.copy_candidates(&[], 1).unwrap().is_empty());
    // Recording a checked article again changes nothing (its anchors are kept once).
    s.record_copy_checks(&[check("one", &[1, 2, 3], vec![])]).unwrap();
    assert_eq!(ids(&s.copy_candidates(&[1, 2], 2).unwrap()), ["one"]);
    // Document frequency of anchors, with the outlets holding them (all four are x.example).
    let spread = |outlet: Option<&str>, min: usize| -> Vec<(u64, usize, usize, bool)> {
        s.anchor_spread(&[4, 3, 2, 9, 3], outlet, min).unwrap().into_iter().map(|a| (a.anchor, a.documents, a.outlets, a.with_outlet)).collect()
    };
    assert_eq!(spread(Some("x.example"), 1), [(2, 2, 1, true), (3, 2, 1, true), (4, 1, 1, true)], "sorted, unique, unheld left out");
    assert_eq!(spread(Some("y.example"), 2), [(2, 2, 1, false), (3, 2, 1, false)], "at least two holders; another outlet");
    assert_eq!(spread(None, 3), [], "none held three times");
    s.record_copy_checks(&[check("three", &[7], vec![relation("three", "four", CopyKind::Partial), relation("one", "three", CopyKind::Exact)])]).unwrap();
    let mut all = Vec::new();
    s.for_each_copy_relation(None, &mut |r| {
        all.push((r.a.0, r.b.0));
        Ok(())
    })
    .unwrap();
    let pairs: Vec<(&str, &str)> = all.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert_eq!(pairs, [("one", "three"), ("one", "two"), ("three", "four")], "ordered by (a, b)");
    let mut of_three = Vec::new();
    s.for_each_copy_relation(Some(&ArticleId("three".into())), &mut |r| {
        of_three.push(r);
        Ok(())
    })
    .unwrap();
    assert_eq!(of_three.len(), 2);
    assert_eq!(of_three[1], relation("three", "four", CopyKind::Partial), "relations come back whole");
    // More relations than one page of a backend's listing: each once, in order.
    let many: Vec<CopyRelation> = (0..2100).map(|i| relation("four", &format!("z{i:04}"), CopyKind::Partial)).collect();
    s.record_copy_checks(&[check("four", &[], many)]).unwrap();
    let (mut n, mut last, mut ordered) = (0, (String::new(), String::new()), true);
    s.for_each_copy_relation(None, &mut |r| {
        let key = (r.a.0, r.b.0);
        ordered &= key > last;
        last = key;
        n += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(n, 3 + 2100, "every relation once");
    assert!(ordered, "in (a, b) order across pages");
}

fn day(d: &str) -> chrono::NaiveDate {
    d.parse().expect("a YYYY-MM-DD day")
}

fn story(id: &str, articles: usize, last: Option<&str>, thread: &str) -> Story {
    Story {
        id: StoryId(id.into()),
        title: format!("story {id}"),
        articles,
        outlets: vec!["x.example".into()],
        first_published: last.map(day),
        last_published: last.map(day),
        key_terms: vec![],
        key_names: vec![],
        thread: Some(ThreadId(thread.into())),
    }
}

fn member(article: &str, story: &str) -> StoryMember {
    StoryMember {
        article: ArticleId(article.into()),
        story: StoryId(story.into()),
        score: 0.5,
        shared_terms: vec![],
        shared_names: vec![],
        note: String::new(),
    }
}

fn stories(s: &dyn Store) {
    let dated = [("m1", Some("2021-05-12")), ("m2", None), ("m3", Some("2021-05-10")), ("m4", Some("2021-05-11"))];
    let batch: Vec<Article> = dated.iter().map(|(id, d)| article(id, id, "text", *d, "x.example")).collect();
    s.put_articles(&batch, "2026-01-01T00:00:00Z").unwrap();
    assert!(s.articles_needing_story(10).unwrap().is_empty(), "an article waits for its copy check before it gets a story");
    let checked = |id: &str, relations: Vec<CopyRelation>| CopyCheck { article: ArticleId(id.into()), anchors: vec![], relations };
    s.record_copy_checks(&[checked("m1", vec![relation("m1", "m3", CopyKind::Partial)]), checked("m2", vec![]), checked("m3", vec![])]).unwrap();
    assert_eq!(ids(&s.articles_needing_story(10).unwrap().into_iter().map(|a| a.article.id).collect::<Vec<_>>()), ["m1", "m2", "m3"]);
    let before_stories = s.head().unwrap().changes;
    s.record_stories(&StoryUpdate {
        members: vec![member("m1", "sa"), member("m2", "sa"), member("m3", "sb")],
        stories: vec![(story("sa", 2, Some("2021-05-12"), "ta"), vec![1, 2]), (story("sb", 1, Some("2021-05-10"), "tb"), vec![3])],
        threads: vec![
            Thread { id: ThreadId("ta".into()), title: "thread a".into(), stories: 1 },
            Thread { id: ThreadId("tb".into()), title: "thread b".into(), stories: 1 },
        ],
        df_delta: vec![(7, 2), (8, 1)],
        docs_delta: 3,
        at: "2026-01-01T00:00:00Z".into(),
        ..StoryUpdate::default()
    })
    .unwrap();
    assert!(s.articles_needing_story(10).unwrap().is_empty());
    s.record_copy_checks(&[checked("m4", vec![])]).unwrap();
    assert_eq!(ids(&s.articles_needing_story(10).unwrap().into_iter().map(|a| a.article.id).collect::<Vec<_>>()), ["m4"]);
    let state = s.cluster_state().unwrap();
    assert_eq!(state.stories, [vec![1, 2], vec![3]], "live states by story id");
    assert_eq!(state.docs, 3);
    // The story feed: what the first update wrote.
    let first = s.story_changes(before_stories).unwrap();
    let story_ids = |c: &StoryChanges| c.stories.iter().map(|x| x.id.0.clone()).collect::<Vec<_>>();
    let member_pairs = |c: &StoryChanges| c.members.iter().map(|(a, st)| format!("{}>{}", a.0, st.0)).collect::<Vec<_>>();
    assert_eq!(
        (story_ids(&first), first.gone.len(), member_pairs(&first)),
        (vec!["sa".to_owned(), "sb".to_owned()], 0, vec!["m1>sa".to_owned(), "m2>sa".to_owned(), "m3>sb".to_owned()])
    );
    let after_first = s.head().unwrap().changes;
    // sb is absorbed by sa; m4 joins; a rewrite is recorded, and one that would replace an
    // existing relation (m1-m3, from the copy check) is not.
    s.record_stories(&StoryUpdate {
        members: vec![member("m4", "sa")],
        stories: vec![(story("sa", 4, Some("2021-05-12"), "ta"), vec![9])],
        merges: vec![("sb".into(), "sa".into())],
        thread_merges: vec![("tb".into(), "ta".into())],
        threads: vec![Thread { id: ThreadId("ta".into()), title: "thread a".into(), stories: 1 }],
        df_delta: vec![(7, 1)],
        docs_delta: 1,
        rewrites: vec![relation("m1", "m3", CopyKind::Rewrite), relation("m2", "m4", CopyKind::Rewrite)],
        at: "2026-01-02T00:00:00Z".into(),
        ..StoryUpdate::default()
    })
    .unwrap();
    let second = s.story_changes(after_first).unwrap();
    assert_eq!(story_ids(&second), ["sa"], "only what the second update wrote");
    assert_eq!(second.gone, [StoryId("sb".into())], "a merged-away story is reported gone");
    assert_eq!(member_pairs(&second), ["m3>sa", "m4>sa"], "moved and new members, with their story now");
    let quiet = s.story_changes(s.head().unwrap().changes).unwrap();
    assert_eq!(quiet, StoryChanges::default(), "nothing after the head");
    let all = s.story_changes(0).unwrap();
    assert_eq!((story_ids(&all), member_pairs(&all).len()), (vec!["sa".to_owned()], 4), "from the start: every live story and membership");
    let state = s.cluster_state().unwrap();
    assert_eq!(state.stories, [vec![9]], "a merged story has no state");
    assert_eq!(state.docs, 4);
    let mut df = state.df.clone();
    df.sort();
    assert_eq!(df, [(7, 3), (8, 1)], "frequencies add up");
    let listed: Vec<String> = s.list_stories(StorySort::Size, None, 10).unwrap().into_iter().map(|x| x.id.0).collect();
    assert_eq!(listed, ["sa"], "merged stories are not listed");
    let (got, events) = s.get_story("sb").unwrap().expect("a merged id leads to its survivor");
    assert_eq!(got.id.0, "sa");
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].kind, events[0].from.as_str(), events[0].to.as_str(), events[0].at.as_str()),
        (StoryEventKind::StoryMerge, "sb", "sa", "2026-01-02T00:00:00Z")
    );
    assert!(s.get_story("zz").unwrap().is_none());
    let members: Vec<StoryMember> = s.story_members(&StoryId("sa".into())).unwrap();
    assert_eq!(members.iter().map(|m| m.article.0.as_str()).collect::<Vec<_>>(), ["m2", "m3", "m4", "m1"], "undated first, then by date");
    assert!(members.iter().all(|m| m.story.0 == "sa"), "moved members carry the survivor");
    let thread = s.get_thread("tb").unwrap().expect("a merged thread leads to its survivor");
    assert_eq!((thread.id.as_str(), thread.title.as_str()), ("ta", "thread a"));
    let memberships = s.article_stories().unwrap();
    assert_eq!(memberships.len(), 4);
    assert_eq!(memberships[&ArticleId("m3".into())], (StoryId("sa".into()), Some(ThreadId("ta".into()))));
    let of: Vec<(ArticleId, StoryId)> = s.stories_of(&[ArticleId("m4".into()), ArticleId("none".into()), ArticleId("m1".into())]).unwrap();
    assert_eq!(of.iter().map(|(a, st)| (a.0.as_str(), st.0.as_str())).collect::<Vec<_>>(), [("m4", "sa"), ("m1", "sa")]);
    let mut kinds = Vec::new();
    s.for_each_copy_relation(None, &mut |r| {
        kinds.push((r.a.0, r.relation));
        Ok(())
    })
    .unwrap();
    assert_eq!(kinds, [("m1".to_owned(), CopyKind::Partial), ("m2".to_owned(), CopyKind::Rewrite)], "a rewrite never replaces a relation");
}

fn story_ordering(s: &dyn Store) {
    s.record_stories(&StoryUpdate {
        stories: vec![
            (story("s-small-new", 2, Some("2021-06-01"), "t"), vec![]),
            (story("s-big-old", 5, Some("2021-01-01"), "t"), vec![]),
            (story("s-undated", 5, None, "t"), vec![]),
            (story("s-tie-b", 2, Some("2021-03-01"), "t"), vec![]),
            (story("s-tie-a", 2, Some("2021-03-01"), "t"), vec![]),
        ],
        at: "2026-01-01T00:00:00Z".into(),
        ..StoryUpdate::default()
    })
    .unwrap();
    let list = |sort, since| s.list_stories(sort, since, 10).unwrap().into_iter().map(|x| x.id.0).collect::<Vec<_>>();
    assert_eq!(list(StorySort::Size, None), ["s-big-old", "s-undated", "s-small-new", "s-tie-a", "s-tie-b"], "size, then latest, then id");
    assert_eq!(list(StorySort::Recent, None), ["s-small-new", "s-tie-a", "s-tie-b", "s-big-old", "s-undated"], "latest first, undated last");
    assert_eq!(list(StorySort::Recent, Some(day("2021-03-01"))), ["s-small-new", "s-tie-a", "s-tie-b"], "since is inclusive");
    assert_eq!(s.list_stories(StorySort::Size, None, 2).unwrap().len(), 2, "limit");
}

fn facts(s: &dyn Store) {
    let batch: Vec<Article> = ["f1", "f2", "f3"].iter().map(|id| article(id, id, "text", None, "x.example")).collect();
    s.put_articles(&batch, "2026-01-01T00:00:00Z").unwrap();
    assert_eq!(s.articles_needing_facts(10).unwrap().len(), 3);
    let with_dates = |n: usize| Facts { dates: vec![], figures: vec![], quotes: vec![], mentions: Vec::with_capacity(n) };
    s.record_facts(&[(ArticleId("f3".into()), with_dates(0)), (ArticleId("f1".into()), Facts::default())]).unwrap();
    assert_eq!(ids(&s.articles_needing_facts(10).unwrap().into_iter().map(|a| a.article.id).collect::<Vec<_>>()), ["f2"]);
    let mut order = Vec::new();
    s.for_each_facts(&mut |id, _| {
        order.push(id);
        Ok(())
    })
    .unwrap();
    assert_eq!(ids(&order), ["f1", "f3"], "sequence order");
    let asked = s.facts_of(&[ArticleId("f3".into()), ArticleId("f2".into()), ArticleId("f1".into())]).unwrap();
    assert_eq!(ids(&asked.into_iter().map(|(a, _)| a).collect::<Vec<_>>()), ["f3", "f1"], "the order asked, those with facts");
}

fn change_feed(s: &dyn Store) {
    let start = s.head().unwrap();
    assert_eq!(start.articles, 0);
    s.put_articles(&[article("c1", "c1", "text", None, "x.example")], "2026-01-01T00:00:00Z").unwrap();
    let one = s.head().unwrap();
    assert!(one.articles > 0 && one.changes > start.changes, "a put moves the head: {start:?} -> {one:?}");
    s.record_facts(&[(ArticleId("c1".into()), Facts::default())]).unwrap();
    let two = s.head().unwrap();
    assert!(two.articles == one.articles && two.changes > one.changes, "any write moves the change counter: {one:?} -> {two:?}");
    assert_eq!(s.head().unwrap(), two, "reads do not");
    assert!(!s.describe().is_empty());
}

fn paging(s: &dyn Store) {
    let batch: Vec<Article> = (0..25).map(|i| article(&format!("p{i:02}"), "t", &format!("page text {i}"), None, "x.example")).collect();
    s.put_articles(&batch[..10], "2026-01-01T00:00:00Z").unwrap();
    s.put_articles(&batch[10..], "2026-01-01T00:00:00Z").unwrap();
    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let page = s.articles_after(after, 7).unwrap();
        let Some(last) = page.last() else { break };
        assert!(page.len() <= 7);
        assert!(page.windows(2).all(|w| w[0].seq < w[1].seq), "increasing sequence numbers");
        after = last.seq;
        seen.extend(page.into_iter().map(|a| a.article.id.0));
    }
    assert_eq!(seen, batch.iter().map(|a| a.id.0.clone()).collect::<Vec<_>>(), "every article once, in order");
    assert_eq!(s.head().unwrap().articles, after, "the head is the last sequence number");
}

fn sources(s: &dyn Store) {
    assert!(s.sources().unwrap().is_empty());
    let mut feed = SourceState::new("https://b.example/feed.xml");
    feed.kind = SourceKind::Feed;
    feed.etag = Some("\"v1\"".into());
    feed.next_poll = Some("2021-05-03T10:05:00Z".parse().unwrap());
    feed.entries_seen = 2;
    let pages = ["https://b.example/1".to_owned(), "https://b.example/2".to_owned()];
    s.put_source(&feed, &pages).unwrap();
    let map = SourceState::new("https://a.example/sitemap.xml");
    // The same page listed by a second source is stored once.
    s.put_source(&map, &pages[1..]).unwrap();
    let got = s.sources().unwrap();
    assert_eq!(got.iter().map(|s| s.url.as_str()).collect::<Vec<_>>(), ["https://a.example/sitemap.xml", "https://b.example/feed.xml"]);
    assert_eq!(got[1], feed, "a source's state reads back as stored");
    // A later state replaces the earlier one.
    feed.failures = 3;
    feed.last_error = Some("timed out".into());
    s.put_source(&feed, &[]).unwrap();
    assert_eq!(s.sources().unwrap()[1], feed);
    let asked = ["https://b.example/2".to_owned(), "https://b.example/3".to_owned(), "https://b.example/1".to_owned()];
    let fetched = s.fetched_pages(&asked).unwrap();
    assert_eq!(fetched, HashSet::from(["https://b.example/1".to_owned(), "https://b.example/2".to_owned()]));
    assert!(s.fetched_pages(&[]).unwrap().is_empty());
}

fn alerts(s: &dyn Store) {
    assert!(s.alerts().unwrap().is_empty());
    let at: chrono::DateTime<chrono::Utc> = "2021-05-13T10:00:00Z".parse().unwrap();
    let alert = Alert {
        name: "envoy".into(),
        query: "amr AND envoy".into(),
        webhook: Some("http://127.0.0.1:9/hook".into()),
        file: None,
        secret: "00ff".into(),
        grow_by: 2,
        created: at,
        checked: 0,
    };
    s.put_alert(&alert).unwrap();
    s.put_alert(&Alert { name: "budget".into(), webhook: None, file: Some("/tmp/a.jsonl".into()), ..alert.clone() }).unwrap();
    assert_eq!(s.alerts().unwrap().iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["budget", "envoy"]);
    assert_eq!(s.alerts().unwrap()[1], alert, "an alert reads back as stored");
    let hit = |story: &str, level: u32| AlertHit {
        alert: "envoy".into(),
        story: StoryId(story.into()),
        level,
        title: "Envoy".into(),
        articles: 3,
        outlets: vec!["a".into(), "b".into()],
        new_outlets: vec!["b".into()],
        matched: vec![ArticleId("x".into())],
        at,
        delivered: None,
        attempts: 0,
        last_attempt: None,
        last_error: None,
    };
    let added = s.record_alert_check("envoy", 7, &[hit("s1", 0), hit("s2", 0)]).unwrap();
    assert_eq!(added.len(), 2);
    assert_eq!(s.alerts().unwrap()[1].checked, 7, "the check's cursor is kept");
    // A report already made is not made again (another checker, a restart); a new level is.
    let added = s.record_alert_check("envoy", 9, &[hit("s1", 0), hit("s1", 1)]).unwrap();
    assert_eq!(added, vec![hit("s1", 1)]);
    // The cursor never goes back.
    s.record_alert_check("envoy", 3, &[]).unwrap();
    assert_eq!(s.alerts().unwrap()[1].checked, 9);
    let mut done = hit("s2", 0);
    done.delivered = Some(at);
    done.attempts = 1;
    s.update_alert_hit(&done).unwrap();
    let hits = s.alert_hits(Some("envoy")).unwrap();
    assert_eq!(hits, vec![hit("s1", 0), hit("s1", 1), done]);
    assert_eq!(s.alert_hits(None).unwrap().len(), 3);
    assert!(s.alert_hits(Some("budget")).unwrap().is_empty());
    // Checking an alert that is gone records nothing.
    assert!(s.record_alert_check("nope", 1, &[hit("s9", 0)]).unwrap().is_empty());
    assert!(s.remove_alert("envoy").unwrap());
    assert!(!s.remove_alert("envoy").unwrap());
    assert!(s.alert_hits(None).unwrap().is_empty(), "an alert's reports go with it");
    assert_eq!(s.alerts().unwrap().len(), 1);
}

fn step_locks(s: Arc<dyn Store>) {
    let first = s.lock_step(Step::Stories).unwrap();
    // Another step is not held up.
    drop(s.lock_step(Step::Facts).unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let other = s.clone();
    let waiter = std::thread::spawn(move || {
        let _held = other.lock_step(Step::Stories).unwrap();
        tx.send(()).unwrap();
    });
    assert!(rx.recv_timeout(std::time::Duration::from_millis(300)).is_err(), "a second holder waits");
    drop(first);
    rx.recv_timeout(std::time::Duration::from_secs(10)).expect("and gets the lock once it is released");
    waiter.join().unwrap();
}

fn concurrent_writers(s: Arc<dyn Store>) {
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let s = s.clone();
            std::thread::spawn(move || {
                for b in 0..5 {
                    let batch: Vec<Article> =
                        (0..10).map(|i| article(&format!("w{w}b{b}i{i}"), "t", &format!("writer{w} concurrent words"), None, "x")).collect();
                    s.put_articles(&batch, "2026-01-01T00:00:00Z").unwrap();
                    s.record_facts(&batch.iter().map(|a| (a.id.clone(), Facts::default())).collect::<Vec<_>>()).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("a writer failed");
    }
    assert_eq!(s.count_articles().unwrap(), 200);
    let found = s.search(&Query::parse("concurrent").unwrap(), 1000).unwrap();
    assert_eq!(found.total, 200, "every committed article is searchable");
    let distinct: HashSet<String> = found.hits.into_iter().map(|h| h.id.0).collect();
    assert_eq!(distinct.len(), 200, "each once");
    assert!(s.articles_needing_facts(1000).unwrap().is_empty());
}

/// A new, empty database on the PostgreSQL server of `STORYLINE_TEST_PG` (a URL), for tests;
/// `None` (with the reason printed) when the variable is not set. Names are unique per process
/// and call.
pub fn fresh_pg_database(label: &str) -> Option<String> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let Ok(base) = std::env::var("STORYLINE_TEST_PG") else {
        eprintln!("skipped: STORYLINE_TEST_PG is not set (a PostgreSQL URL; .ci/run starts a throwaway cluster and sets it)");
        return None;
    };
    let name = format!("sl_{}_{}_{}", label.replace(|c: char| !c.is_ascii_alphanumeric(), "_"), std::process::id(), N.fetch_add(1, Ordering::Relaxed));
    let mut client = postgres::Client::connect(&base, postgres::NoTls).unwrap_or_else(|e| panic!("STORYLINE_TEST_PG={base}: {e}"));
    client.batch_execute(&format!("DROP DATABASE IF EXISTS {name}")).expect("dropping an old test database");
    client.batch_execute(&format!("CREATE DATABASE {name}")).expect("creating a test database");
    let mut url = url::Url::parse(&base).expect("STORYLINE_TEST_PG is a URL");
    url.set_path(&format!("/{name}"));
    Some(url.to_string())
}
