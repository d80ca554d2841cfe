//! The conformance suite on every backend: memory, SQLite, and PostgreSQL (on the server of
//! `STORYLINE_TEST_PG`, which `.ci/run` starts).

use std::sync::Arc;

use storyline_store::conformance::{fresh_pg_database, run_all};
use storyline_store::prelude::*;
use storyline_store::{EmbeddedStore, MemoryStore, PgStore};

#[test]
fn memory_store_conforms() {
    run_all(&|| Arc::new(MemoryStore::new().unwrap()) as Arc<dyn Store>);
}

#[test]
fn embedded_store_conforms() {
    let root = tempfile::tempdir().unwrap();
    let n = std::sync::atomic::AtomicUsize::new(0);
    run_all(&|| {
        let dir = root.path().join(n.fetch_add(1, std::sync::atomic::Ordering::Relaxed).to_string());
        Arc::new(EmbeddedStore::open(&dir).unwrap()) as Arc<dyn Store>
    });
}

#[test]
fn postgres_store_conforms() {
    if fresh_pg_database("probe").is_none() {
        return;
    }
    let index = tempfile::tempdir().unwrap();
    let n = std::sync::atomic::AtomicUsize::new(0);
    run_all(&|| {
        let url = fresh_pg_database("conformance").unwrap();
        let dir = index.path().join(n.fetch_add(1, std::sync::atomic::Ordering::Relaxed).to_string());
        Arc::new(PgStore::open(&url, Some(&dir)).unwrap()) as Arc<dyn Store>
    });
}

/// Two stores on one directory (as two processes would have) see each other's writes, and the
/// search index misses nothing either wrote.
#[test]
fn two_embedded_handles_share_one_store() {
    let dir = tempfile::tempdir().unwrap();
    let a = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
    let b = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
    let writers: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .enumerate()
        .map(|(w, s)| {
            std::thread::spawn(move || {
                for batch in 0..10 {
                    let articles: Vec<_> = (0..20)
                        .map(|i| storyline_store::conformance::article(&format!("h{w}-{batch}-{i}"), "t", "shared handle words", None, "x.example"))
                        .collect();
                    s.put_articles(&articles, "2026-01-01T00:00:00Z").unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let q = storyline_store::Query::parse("shared").unwrap();
    for s in [&a, &b] {
        assert_eq!(s.count_articles().unwrap(), 400);
        assert_eq!(s.search(&q, 10).unwrap().total, 400);
    }
    let reopened = EmbeddedStore::open(dir.path()).unwrap();
    assert_eq!(reopened.search(&q, 10).unwrap().total, 400);
}

/// A store written by a newer Storyline is refused, not misread.
#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(EmbeddedStore::open(dir.path()).unwrap());
    let conn = rusqlite::Connection::open(dir.path().join("storyline.sqlite")).unwrap();
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'", []).unwrap();
    drop(conn);
    let err = EmbeddedStore::open(dir.path()).err().expect("refused");
    assert!(matches!(err, storyline_store::Error::Schema { found: 99, .. }), "{err}");
}
