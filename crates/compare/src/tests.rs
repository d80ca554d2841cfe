use super::*;
use storyline_model::{CopyKind, Mention, Quote, Span, StoryId};

fn article(id: &str, outlet: Option<&str>, published: Option<&str>, text: &str) -> Article {
    Article {
        id: ArticleId(id.into()),
        source: format!("dir/{id}.txt"),
        url: None,
        title: Some(format!("title {id}")),
        published: published.map(|p| p.parse().expect("an ISO date")),
        authors: vec![],
        contributors: vec![],
        outlet: outlet.map(Into::into),
        credited_source: None,
        language: None,
        text: text.into(),
        removed: vec![],
        warnings: vec![],
        external_id: None,
    }
}

fn mention(a: &str, text: &str, role: Option<&str>, entity: &str) -> Mention {
    Mention {
        article: ArticleId(a.into()),
        text: text.into(),
        kind: EntityType::Person,
        span: Span { start: 0, end: 1 },
        role: role.map(Into::into),
        entity: Some(entity.into()),
    }
}

fn quote(a: &str, text: &str) -> Quote {
    Quote {
        article: ArticleId(a.into()),
        speaker: Some("Jane Doe".into()),
        speaker_mention: None,
        speaker_entity: Some("e1".into()),
        cue: Some("said".into()),
        text: text.into(),
        start: 0,
        end: 0,
    }
}

fn story() -> Story {
    Story {
        id: StoryId("s1".into()),
        title: "t".into(),
        articles: 3,
        outlets: vec![],
        first_published: None,
        last_published: None,
        key_terms: vec![],
        key_names: vec![],
        thread: None,
    }
}

fn lookup(id: &str) -> Option<(String, EntityType)> {
    (id == "e1").then(|| ("Jane Doe".to_string(), EntityType::Person))
}

#[test]
fn title_stated_differently_by_one_source_is_a_conflict_with_majority_first() {
    let arts = [
        article("a", Some("Alpha"), Some("2024-01-01"), "x"),
        article("b", Some("Beta"), Some("2024-01-02"), "y"),
        article("c", Some("Gamma"), Some("2024-01-03"), "z"),
    ];
    let facts = [
        Facts { mentions: vec![mention("a", "Jane Doe", Some("Deputy Assistant Minister for Israeli-Palestinian Trade"), "e1")], ..Facts::default() },
        Facts { mentions: vec![mention("b", "Jane Doe", Some("the deputy assistant minister for Israel and Palestinian trade"), "e1")], ..Facts::default() },
        Facts { mentions: vec![mention("c", "Jane Doe", Some("the deputy minister for Israel and Palestinian trade"), "e1")], ..Facts::default() },
    ];
    let members: Vec<Member<'_>> = arts.iter().zip(&facts).map(|(article, facts)| Member { article, facts }).collect();
    let r = compare(&story(), &members, &[], &lookup);
    assert_eq!(r.conflicts.len(), 1, "{:?}", r.conflicts);
    let c = &r.conflicts[0];
    assert_eq!(c.subject, "Jane Doe");
    assert_eq!(c.versions.len(), 2);
    assert_eq!(c.versions[0].outlets, vec!["Alpha", "Beta"]);
    assert_eq!(c.versions[1].outlets, vec!["Gamma"]);
    assert_eq!(c.versions[1].value, "deputy minister for Israel and Palestinian trade");
}

#[test]
fn titles_with_words_added_at_the_ends_agree() {
    assert!(titles_agree(&title_seq("Secretary of State"), &title_seq("U.S. Secretary of State")));
    assert!(!titles_agree(&title_seq("deputy secretary of state"), &title_seq("deputy assistant secretary of state")));
}

#[test]
fn quote_variants_are_aligned_word_by_word() {
    let arts = [article("a", Some("Alpha"), None, "x"), article("b", Some("Beta"), None, "y"), article("c", Some("Gamma"), None, "z")];
    let facts = [
        Facts { quotes: vec![quote("a", "We will not rest until the job is done")], ..Facts::default() },
        Facts { quotes: vec![quote("b", "We will not rest until the job is done")], ..Facts::default() },
        Facts { quotes: vec![quote("c", "we won't rest until the work is done")], ..Facts::default() },
    ];
    let members: Vec<Member<'_>> = arts.iter().zip(&facts).map(|(article, facts)| Member { article, facts }).collect();
    let r = compare(&story(), &members, &[], &lookup);
    assert_eq!(r.quote_variants.len(), 1);
    let v = &r.quote_variants[0];
    assert_eq!(v.wordings[0].outlets, vec!["Alpha", "Beta"]);
    let ops: Vec<(&str, &str)> = v.wordings[1].alignment.iter().map(|w| (w.word.as_str(), w.op.as_str())).collect();
    assert!(ops.contains(&("work", "added")) && ops.contains(&("job", "missing")) && ops.contains(&("rest", "same")), "{ops:?}");
}

#[test]
fn summary_cites_every_source_that_states_a_sentence_and_does_not_repeat() {
    let lead = "The central bank raised its main interest rate by half a point on Tuesday to fight inflation.";
    let arts = [
        article("a", Some("Alpha"), Some("2024-01-01"), &format!("{lead} Markets fell sharply after the surprise decision by the bank board.")),
        article("b", Some("Beta"), Some("2024-01-01"), "The central bank raised its main interest rate by half a point on Tuesday, to fight rising inflation. Analysts had expected a smaller move this month from the board."),
        article("c", Some("Gamma"), Some("2024-01-02"), &format!("{lead} Officials said more increases could follow later in the year.")),
    ];
    let facts = [Facts::default(), Facts::default(), Facts::default()];
    let members: Vec<Member<'_>> = arts.iter().zip(&facts).map(|(article, facts)| Member { article, facts }).collect();
    let r = compare(&story(), &members, &[], &lookup);
    assert!(!r.summary.is_empty() && r.summary.len() <= 5);
    let first = &r.summary[0];
    assert!(first.text.starts_with("The central bank raised"), "{:?}", r.summary);
    assert_eq!(first.articles.len(), 3, "{:?}", first.articles);
    let rate_sentences = r.summary.iter().filter(|s| s.text.contains("interest rate")).count();
    assert_eq!(rate_sentences, 1, "redundant summary: {:?}", r.summary);
}

#[test]
fn stored_copy_relations_group_under_the_original() {
    let arts = [article("a", Some("Wire"), Some("2024-01-01"), "x"), article("b", None, None, "x")];
    let facts = [Facts::default(), Facts::default()];
    let members: Vec<Member<'_>> = arts.iter().zip(&facts).map(|(article, facts)| Member { article, facts }).collect();
    let rel = CopyRelation {
        a: ArticleId("a".into()),
        b: ArticleId("b".into()),
        relation: CopyKind::Exact,
        similarity: 1.0,
        shared: vec![],
        original: Some(Side::A),
        evidence: vec!["earlier".into()],
    };
    let r = compare(&story(), &members, &[rel], &lookup);
    assert_eq!(r.copies.len(), 1);
    assert_eq!(r.copies[0].original, ArticleId("a".into()));
    assert!(r.copies[0].original_known);
    assert_eq!(r.copies[0].copies[0].article, ArticleId("b".into()));
    assert_eq!(r.sources[1].outlet, "outlet not stated (b.txt)");
    assert_eq!(outlet_count(&r.sources), "1 named outlet, 1 not stated");
    assert!(r.sources[1].copy_of.is_some());
}

#[test]
fn a_partial_quote_is_aligned_with_elisions_not_missing_runs() {
    let a = quotes::align("we will not rest until the job is done today", "not rest until the work is done");
    let ops: Vec<(&str, &str)> = a.iter().map(|w| (w.word.as_str(), w.op.as_str())).collect();
    assert_eq!(ops.first(), Some(&("…", "elided")), "{ops:?}");
    assert_eq!(ops.last(), Some(&("…", "elided")), "{ops:?}");
    assert!(ops.contains(&("job", "missing")) && ops.contains(&("work", "added")), "{ops:?}");
}

fn exact(a: &str, b: &str, original: Option<Side>, relation: CopyKind, similarity: f32) -> CopyRelation {
    CopyRelation { a: ArticleId(a.into()), b: ArticleId(b.into()), relation, similarity, shared: vec![], original, evidence: vec![] }
}

#[test]
fn copy_labels_come_from_evidence_and_say_so_on_both_sides() {
    let wire = "The central bank raised its main interest rate by half a point on Tuesday, its third rise this year.";
    let edited = "The central bank raised its main interest rate by half a point on Tuesday, its third increase this year.";
    let arts = [
        article("a", Some("Wire"), Some("2024-01-01"), wire),
        article("b", Some("Blog"), Some("2024-01-02"), wire),
        article("c", Some("Mirror"), None, edited),
        article("d", Some("Other"), None, "Something else entirely happened in another city."),
    ];
    let facts = [Facts::default(), Facts::default(), Facts::default(), Facts::default()];
    let members: Vec<Member<'_>> = arts.iter().zip(&facts).map(|(article, facts)| Member { article, facts }).collect();
    let rels = [exact("a", "b", Some(Side::A), CopyKind::Exact, 1.0), exact("a", "c", None, CopyKind::NearDuplicate, 0.997)];
    let r = compare(&story(), &members, &rels, &lookup);
    let label = |id: &str| relation_label(&r, r.sources.iter().position(|s| s.article.0 == id).unwrap());
    // A known direction: the copy names its original, the original its copy.
    assert_eq!(label("b"), "exact copy of [1] (100%)");
    assert!(label("a").contains("original of [2]"), "{}", label("a"));
    // No evidence: both sides say so, and neither is "original reporting".
    assert_eq!(label("c"), "near-duplicate with [1] (99.7%), direction unknown");
    assert!(label("a").contains("near-duplicate with [3] (99.7%), direction unknown"), "{}", label("a"));
    assert_eq!(label("d"), "original reporting");
    // The near-duplicate carries its word diff: the one word changed, in context.
    let c = r.sources.iter().find(|s| s.article.0 == "c").and_then(|s| s.copy_of.as_ref()).unwrap();
    let ops: Vec<(&str, &str)> = c.diff.iter().map(|w| (w.word.as_str(), w.op.as_str())).collect();
    assert!(ops.contains(&("rise", "missing")) && ops.contains(&("increase", "added")), "{ops:?}");
    assert!(!ops.contains(&("central", "same")), "context is cut to a few words: {ops:?}");
}

#[test]
fn percentages_never_round_a_difference_away() {
    assert_eq!(percent(1.0), "100%");
    assert_eq!(percent(0.9999), "99.9%");
    assert_eq!(percent(0.997), "99.7%");
    assert_eq!(percent(0.62), "62%");
    assert_eq!(percent(0.994), "99%");
}

#[test]
fn a_plan_that_was_changed_does_not_date_the_event() {
    assert!(revised_plan("The envoy planned to visit the region next week, and moved his trip up in light of the fighting."));
    assert!(revised_plan("The vote, scheduled for Friday, was postponed."));
    assert!(!revised_plan("The envoy will visit the region next week."));
    assert!(!revised_plan("Officials moved up the stairs on Monday."));
}
