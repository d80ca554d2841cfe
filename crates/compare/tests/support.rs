//! Every citation of a summary sentence has its supporting sentence: a sentence of the cited
//! article that states the summary sentence (support at or above `SUPPORT`). Over every gold
//! story of ECB+ (read from ../shared/bench when present) and over the bundled samples.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use storyline_compare::summary::{support, Weights, SUPPORT};
use storyline_compare::text::{content, sentences};
use storyline_compare::{compare, Member};
use storyline_model::{Article, ArticleId, EntityType, Facts, Story, StoryId};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn article(id: String, text: &str) -> Article {
    let mut lines = text.lines();
    let title = lines.next().map(str::to_owned);
    Article {
        source: format!("{id}.txt"),
        id: ArticleId(id),
        url: None,
        title,
        published: None,
        authors: vec![],
        contributors: vec![],
        outlet: None,
        credited_source: None,
        language: None,
        text: lines.collect::<Vec<_>>().join("\n"),
        removed: vec![],
        warnings: vec![],
        external_id: None,
    }
}

/// Checks one story's summary; returns the number of citations checked.
fn check(name: &str, articles: &[Article]) -> usize {
    let facts = vec![Facts::default(); articles.len()];
    let members: Vec<Member<'_>> = articles.iter().zip(&facts).map(|(article, facts)| Member { article, facts }).collect();
    let story = Story {
        id: StoryId(name.into()),
        title: String::new(),
        articles: articles.len(),
        outlets: vec![],
        first_published: None,
        last_published: None,
        key_terms: vec![],
        key_names: vec![],
        thread: None,
    };
    let none = |_: &str| -> Option<(String, EntityType)> { None };
    let report = compare(&story, &members, &[], &none);
    // The weights of the story's sentences, as the summary computes them: over the compared
    // members (all of them here: undated members keep their order).
    let compared: Vec<&Article> = articles.iter().take(storyline_compare::MAX_COMPARED).collect();
    let bags: Vec<HashSet<String>> = compared.iter().flat_map(|a| sentences(&a.text)).map(|s| content(&s.text)).collect();
    let weights = Weights::new(bags.iter());
    let mut checked = 0;
    for s in &report.summary {
        assert_eq!(s.articles.len(), s.support.len(), "{name}: every citation has its sentence: {s:?}");
        let claim = content(&s.text);
        for (id, said) in s.articles.iter().zip(&s.support) {
            let cited = articles.iter().find(|a| a.id == *id).expect("a cited member");
            assert!(cited.text.contains(said.as_str()), "{name}: the supporting sentence is in the cited article {id}: {said}");
            let score = support(&claim, &content(said), &weights);
            assert!(score >= SUPPORT, "{name}: [{id}] “{said}” supports “{}” only {score:.2}", s.text);
            checked += 1;
        }
    }
    checked
}

#[test]
fn every_citation_of_the_samples_has_its_supporting_sentence() {
    let dir = root().join("examples");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir).expect("examples/").map(|e| e.expect("an entry").path()).collect();
    paths.sort();
    let articles: Vec<Article> =
        paths.iter().map(|p| article(p.file_stem().unwrap().to_string_lossy().into_owned(), &std::fs::read_to_string(p).expect("a sample"))).collect();
    // The four samples of May 2021 are one story.
    assert!(check("samples", &articles[..4]) >= 4);
}

#[test]
fn every_citation_of_every_ecb_story_has_its_supporting_sentence() {
    let path = root().join("../shared/bench/stories/ecbplus.jsonl");
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("skipped: {} is not here (the bench data stays outside the repository)", path.display());
        return;
    };
    let mut stories: std::collections::BTreeMap<String, Vec<Article>> = Default::default();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let id = v["id"].as_str().unwrap_or_default().to_owned();
        stories.entry(v["story"].as_str().unwrap_or_default().to_owned()).or_default().push(article(id, v["text"].as_str().unwrap_or_default()));
    }
    let checked: usize = stories.iter().map(|(name, arts)| check(name, arts)).sum();
    println!("{} stories, {checked} citations checked", stories.len());
    assert!(stories.len() >= 80 && checked > stories.len(), "{checked} citations over {} stories", stories.len());
}
