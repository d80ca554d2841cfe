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
