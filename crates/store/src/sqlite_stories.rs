//! The story tables of the SQLite store: stories (descriptors, engine state, merges),
//! memberships with their explanations, identity events, threads and feature frequencies.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};
use storyline_model::{ArticleId, Story, StoryId, StoryMember, Thread, ThreadId};

use crate::{ClusterState, StoryChanges, StoryEvent, StoryEventKind, StorySort, StoryUpdate};

type Sql<T> = rusqlite::Result<T>;

/// JSON that the store itself wrote; a failure means a corrupt row.
fn from_json<T: serde::de::DeserializeOwned>(json: &str) -> Sql<T> {
    serde_json::from_str(json).map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

fn to_json<T: serde::Serialize>(v: &T) -> Sql<String> {
    serde_json::to_string(v).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

pub fn cluster_state(conn: &Connection) -> Sql<ClusterState> {
    let mut out = ClusterState::default();
    let mut stmt = conn.prepare("SELECT state FROM stories WHERE merged_into IS NULL AND state IS NOT NULL ORDER BY id")?;
    for row in stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))? {
        out.stories.push(row?);
    }
    let mut stmt = conn.prepare("SELECT key, df FROM cluster_df")?;
    for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u32)))? {
        out.df.push(row?);
    }
    out.docs =
        conn.query_row("SELECT value FROM meta WHERE key='cluster_docs'", [], |r| r.get::<_, String>(0)).optional()?.and_then(|v| v.parse().ok()).unwrap_or(0);
    Ok(out)
}

pub fn record(tx: &rusqlite::Transaction<'_>, u: &StoryUpdate) -> Sql<()> {
    {
        // The change this update is: every row it writes carries it (the story feed).
        let stamp: i64 =
            tx.query_row("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'changes' RETURNING CAST(value AS INTEGER)", [], |r| r.get(0))?;
        let mut df = tx.prepare_cached("INSERT INTO cluster_df (key, df) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET df = df + excluded.df")?;
        for &(k, n) in &u.df_delta {
            df.execute(params![k as i64, n as i64])?;
        }
        let docs: u64 = tx
            .query_row("SELECT value FROM meta WHERE key='cluster_docs'", [], |r| r.get::<_, String>(0))
            .optional()?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('cluster_docs', ?1)", [(docs + u.docs_delta).to_string()])?;

        let mut event = tx.prepare_cached("INSERT INTO story_events (kind, from_id, to_id, at) VALUES (?1, ?2, ?3, ?4)")?;
        for (gone, keep) in &u.merges {
            tx.execute("UPDATE story_members SET story = ?2, changed = ?3 WHERE story = ?1", params![gone, keep, stamp])?;
            tx.execute("UPDATE stories SET merged_into = ?2, state = NULL, changed = ?3 WHERE id = ?1", params![gone, keep, stamp])?;
            event.execute(params!["story_merge", gone, keep, u.at])?;
        }
        for (from, to) in &u.splits {
            event.execute(params!["story_split", from, to, u.at])?;
        }
        for (gone, keep) in &u.thread_merges {
            tx.execute("UPDATE threads SET merged_into = ?2 WHERE id = ?1", params![gone, keep])?;
            event.execute(params!["thread_merge", gone, keep, u.at])?;
        }
        let mut story = tx.prepare_cached(
            "INSERT OR REPLACE INTO stories (id, title, articles, first_published, last_published, thread, json, state, merged_into, changed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9)",
        )?;
        for (s, state) in &u.stories {
            story.execute(params![
                s.id.0,
                s.title,
                s.articles as i64,
                s.first_published.map(|d| d.to_string()),
                s.last_published.map(|d| d.to_string()),
                s.thread.as_ref().map(|t| t.as_str()),
                to_json(s)?,
                state,
                stamp
            ])?;
        }
        let mut thread = tx.prepare_cached("INSERT OR REPLACE INTO threads (id, title, stories, merged_into) VALUES (?1, ?2, ?3, NULL)")?;
        for t in &u.threads {
            thread.execute(params![t.id.0, t.title, t.stories as i64])?;
        }
        let mut member = tx.prepare_cached("INSERT OR REPLACE INTO story_members (article, story, json, changed) VALUES (?1, ?2, ?3, ?4)")?;
        for m in &u.members {
            member.execute(params![m.article.0, m.story.0, to_json(m)?, stamp])?;
        }
        let mut rewrite = tx.prepare_cached("INSERT OR IGNORE INTO copies (a, b, relation, similarity, json) VALUES (?1, ?2, 'rewrite', ?3, ?4)")?;
        for r in &u.rewrites {
            rewrite.execute(params![r.a.0, r.b.0, r.similarity as f64, to_json(r)?])?;
        }
    }
    Ok(())
}

pub fn stories_of(conn: &Connection, articles: &[ArticleId]) -> Sql<Vec<(ArticleId, StoryId)>> {
    let mut stmt = conn.prepare_cached("SELECT story FROM story_members WHERE article = ?1")?;
    let mut out = Vec::new();
    for a in articles {
        if let Some(s) = stmt.query_row([&a.0], |r| r.get::<_, String>(0)).optional()? {
            out.push((a.clone(), StoryId(s)));
        }
    }
    Ok(out)
}

pub fn list(conn: &Connection, sort: StorySort, since: Option<chrono::NaiveDate>, limit: usize) -> Sql<Vec<Story>> {
    let order = match sort {
        StorySort::Size => "articles DESC, last_published DESC, id",
        StorySort::Recent => "last_published IS NULL, last_published DESC, articles DESC, id",
    };
    let query = format!("SELECT json FROM stories WHERE merged_into IS NULL AND (?1 IS NULL OR last_published >= ?1) ORDER BY {order} LIMIT ?2");
    let mut stmt = conn.prepare(&query)?;
    let rows = stmt.query_map(params![since.map(|d| d.to_string()), limit as i64], |r| r.get::<_, String>(0))?;
    rows.map(|r| from_json(&r?)).collect()
}

pub fn get(conn: &Connection, id: &str) -> Sql<Option<(Story, Vec<StoryEvent>)>> {
    let mut events = Vec::new();
    let mut current = id.to_string();
    // Follow merges; the chain is acyclic (a story is absorbed once), the bound is a guard.
    for _ in 0..1000 {
        let row: Option<(String, Option<String>)> =
            conn.query_row("SELECT json, merged_into FROM stories WHERE id = ?1", [&current], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
        match row {
            None => return Ok(None),
            Some((json, None)) => {
                // Members that left this story for another, or came to it from one.
                let mut stmt =
                    conn.prepare_cached("SELECT from_id, to_id, at FROM story_events WHERE kind='story_split' AND (from_id = ?1 OR to_id = ?1) ORDER BY seq")?;
                for row in stmt.query_map([&current], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))? {
                    let (from, to, at) = row?;
                    events.push(StoryEvent { kind: StoryEventKind::StorySplit, from, to, at });
                }
                return Ok(Some((from_json(&json)?, events)));
            }
            Some((_, Some(next))) => {
                let at: String = conn
                    .query_row("SELECT at FROM story_events WHERE kind='story_merge' AND from_id = ?1 ORDER BY seq DESC LIMIT 1", [&current], |r| r.get(0))
                    .optional()?
                    .unwrap_or_default();
                events.push(StoryEvent { kind: StoryEventKind::StoryMerge, from: current.clone(), to: next.clone(), at });
                current = next;
            }
        }
    }
    Ok(None)
}

pub fn members(conn: &Connection, id: &StoryId) -> Sql<Vec<StoryMember>> {
    let mut stmt =
        conn.prepare("SELECT m.json, m.story FROM story_members m JOIN articles a ON a.id = m.article WHERE m.story = ?1 ORDER BY a.published, a.seq")?;
    let rows = stmt.query_map([&id.0], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    rows.map(|r| {
        let (json, story) = r?;
        let mut m: StoryMember = from_json(&json)?;
        // A member moved by a merge keeps its explanation; its story is the current one.
        m.story = StoryId(story);
        Ok(m)
    })
    .collect()
}

pub fn thread(conn: &Connection, id: &str) -> Sql<Option<Thread>> {
    let mut current = id.to_string();
    for _ in 0..1000 {
        let row: Option<(String, i64, Option<String>)> = conn
            .query_row("SELECT title, stories, merged_into FROM threads WHERE id = ?1", [&current], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        match row {
            None => return Ok(None),
            Some((title, stories, None)) => return Ok(Some(Thread { id: ThreadId(current), title, stories: stories as usize })),
            Some((_, _, Some(next))) => current = next,
        }
    }
    Ok(None)
}

pub fn article_stories(conn: &Connection) -> Sql<HashMap<ArticleId, (StoryId, Option<ThreadId>)>> {
    let mut stmt = conn.prepare("SELECT m.article, m.story, s.thread FROM story_members m LEFT JOIN stories s ON s.id = m.story")?;
    let rows = stmt.query_map([], |r| Ok((ArticleId(r.get(0)?), (StoryId(r.get(1)?), r.get::<_, Option<String>>(2)?.map(ThreadId)))))?;
    rows.collect()
}

pub fn changes(conn: &Connection, after: i64) -> Sql<StoryChanges> {
    let mut out = StoryChanges::default();
    let mut stmt = conn.prepare("SELECT id, json, merged_into IS NOT NULL FROM stories WHERE changed > ?1 ORDER BY id")?;
    for row in stmt.query_map([after], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, bool>(2)?)))? {
        let (id, json, merged) = row?;
        if merged {
            out.gone.push(StoryId(id));
        } else {
            out.stories.push(from_json(&json)?);
        }
    }
    let mut stmt = conn.prepare("SELECT article, story FROM story_members WHERE changed > ?1 ORDER BY article")?;
    for row in stmt.query_map([after], |r| Ok((ArticleId(r.get(0)?), StoryId(r.get(1)?))))? {
        out.members.push(row?);
    }
    Ok(out)
}
