//! The pipeline over the memory store: two ingests at once on one store both finish, and every
//! article ends with its copy check, story and facts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use storyline_pipeline::{prepare, Config, Pipeline, Quiet, Stage};
use storyline_store::prelude::*;
use storyline_store::{MemoryStore, Query};

#[test]
fn two_ingests_at_once_on_one_memory_store() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&examples).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert_eq!(files.len(), 5);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new().unwrap());
    let halves = [files[..2].to_vec(), files[2..].to_vec()];
    let runs: Vec<_> = halves
        .into_iter()
        .map(|paths| {
            let store = store.clone();
            std::thread::spawn(move || {
                let inputs = prepare(&paths, 0).unwrap();
                Pipeline::new(&Config::default(), &Quiet).ingest(store.as_ref(), &inputs).unwrap()
            })
        })
        .collect();
    let summaries: Vec<_> = runs.into_iter().map(|r| r.join().expect("an ingest failed")).collect();
    assert_eq!(summaries.iter().map(|s| s.added).sum::<usize>(), 5);
    assert!(summaries.iter().all(|s| s.seconds.keys().copied().eq([Stage::Extract, Stage::Copies, Stage::Stories, Stage::Facts])), "{summaries:?}");
    assert_eq!(store.count_articles().unwrap(), 5);
    assert!(store.articles_needing_copy_check(10).unwrap().is_empty());
    assert!(store.articles_needing_story(10).unwrap().is_empty());
    assert!(store.articles_needing_facts(10).unwrap().is_empty());
    assert_eq!(store.article_stories().unwrap().len(), 5, "every article is in a story");
    // Four samples are one event: whichever run assigned them, they share a story.
    let stories = store.list_stories(storyline_store::StorySort::Size, None, 10).unwrap();
    assert_eq!(stories[0].articles, 4, "{stories:?}");
    assert!(store.search(&Query::parse("blinken").unwrap(), 10).unwrap().total >= 4);
}

/// A made-up text of `n` words, its own for each `seed`.
fn text(seed: u64, n: usize) -> String {
    const WORDS: &[&str] = &[
        "council", "harbour", "budget", "storm", "bridge", "minister", "river", "festival", "school", "hospital", "court", "railway", "market", "museum",
        "farmers", "police", "airport", "library", "strike", "village", "mayor", "report", "plan", "water",
    ];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push(WORDS[(x % WORDS.len() as u64) as usize].to_owned());
        if i % 12 == 11 {
            out.push(format!("said{}.", x % 1000));
        }
    }
    out.join(" ")
}

fn doc(id: &str, body: String) -> storyline_model::RawDocument {
    storyline_model::RawDocument {
        source: format!("test#{id}"),
        format: storyline_model::InputFormat::Jsonl,
        body: storyline_model::Body::Text(body),
        hints: storyline_model::Hints { external_id: Some(id.to_owned()), ..Default::default() },
        warnings: vec![],
    }
}

/// Copies split between processes that check them at the same time are all found: the
/// relations of two workers storing interleaved batches at once equal those of one ingest.
#[test]
fn workers_checking_copies_at_once_find_every_pair() {
    let originals: Vec<_> = (0..24).map(|i| doc(&format!("o{i}"), text(i, 160))).collect();
    // Each copy is its original with a line added, so it is a near-duplicate or an exact copy.
    let copies: Vec<_> = (0..24).map(|i| doc(&format!("c{i}"), format!("{}\n\nCopied from the wire.", text(i, 160)))).collect();
    let relations = |store: &dyn Store| {
        let mut r = Vec::new();
        store
            .for_each_copy_relation(None, &mut |c| {
                r.push((c.a.0, c.b.0, c.relation));
                Ok(())
            })
            .unwrap();
        r.sort_by(|x, y| (&x.0, &x.1).cmp(&(&y.0, &y.1)));
        r
    };
    let config = Config::default();
    let one = MemoryStore::new().unwrap();
    let pipeline = Pipeline::new(&config, &Quiet);
    pipeline.ingest_documents(&one, originals.iter().chain(&copies).cloned().collect()).unwrap();
    pipeline.derive(&one, &mut Default::default()).unwrap();
    let expected = relations(&one);
    assert!(expected.len() >= 24, "every copy is related to its original: {expected:?}");

    let store: Arc<dyn Store> = Arc::new(MemoryStore::new().unwrap());
    // Worker A stores the originals, worker B the copies, in batches of 3, at once.
    let runs: Vec<_> = [originals, copies]
        .into_iter()
        .map(|docs| {
            let store = store.clone();
            std::thread::spawn(move || {
                let config = Config::default();
                let pipeline = Pipeline::new(&config, &Quiet);
                for batch in docs.chunks(3) {
                    pipeline.ingest_documents(store.as_ref(), batch.to_vec()).unwrap();
                }
            })
        })
        .collect();
    for r in runs {
        r.join().expect("a worker failed");
    }
    assert!(store.articles_needing_copy_check(10).unwrap().is_empty(), "every article was checked by its worker");
    assert_eq!(relations(store.as_ref()), expected);
    Pipeline::new(&config, &Quiet).derive(store.as_ref(), &mut Default::default()).unwrap();
    assert!(store.articles_needing_story(10).unwrap().is_empty());
    assert!(store.articles_needing_facts(10).unwrap().is_empty());
}

/// A passage that many pages of two sister sites carry (their "about us" paragraph) is the
/// sites' template, not copying, however the pages reach the store; an article another outlet
/// copies is still found.
#[test]
fn a_template_many_pages_share_is_no_copy_an_article_copied_across_outlets_is() {
    let about = text(999, 60);
    let page = |id: &str, host: &str, seed: u64| {
        let mut d = doc(id, format!("{}\n\n{about}", text(seed, 160)));
        d.hints.url = Some(format!("https://{host}/{id}"));
        d
    };
    let mut docs: Vec<_> = (0..4).map(|i| page(&format!("a{i}"), "a.example", i)).collect();
    docs.extend((0..4).map(|i| page(&format!("b{i}"), "b.example", 10 + i)));
    let mut copied = doc("c0", format!("{}\n\nThe other outlet's own closing line, which nobody copies.", text(0, 160)));
    copied.hints.url = Some("https://c.example/c0".to_owned());
    docs.push(copied);
    let config = Config::default();
    for batch_size in [docs.len(), 1] {
        let store = MemoryStore::new().unwrap();
        let pipeline = Pipeline::new(&config, &Quiet);
        for batch in docs.chunks(batch_size) {
            pipeline.ingest_documents(&store, batch.to_vec()).unwrap();
        }
        let mut found = Vec::new();
        store
            .for_each_copy_relation(None, &mut |c| {
                found.push(c);
                Ok(())
            })
            .unwrap();
        let titles = |id: &storyline_model::ArticleId| store.get_article(id).unwrap().unwrap().article.url.unwrap_or_default();
        let pairs: Vec<(String, String)> = found.iter().map(|c| (titles(&c.a), titles(&c.b))).collect();
        // Pages checked one at a time see the template only once enough of them are stored:
        // the first few may still pair, never the later ones.
        let across_sites =
            pairs.iter().filter(|(a, b)| a.contains("a.example") != b.contains("a.example") && !a.contains("c.example") && !b.contains("c.example")).count();
        if batch_size > 1 {
            assert_eq!(across_sites, 0, "batch of {batch_size}: {pairs:?}");
        } else {
            assert!(across_sites <= 4, "one at a time: {pairs:?}");
        }
        assert!(
            pairs.iter().any(|(a, b)| (a.ends_with("/a0") && b.ends_with("/c0")) || (a.ends_with("/c0") && b.ends_with("/a0"))),
            "batch of {batch_size}: {pairs:?}"
        );
    }
}
