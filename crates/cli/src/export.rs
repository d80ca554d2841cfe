//! `storyline export`: stored data as JSON Lines or CSV, streamed.

use std::io::{self, Write};

use anyhow::Result;
use storyline_model::{CopyRelation, StoredArticle};
use storyline_store::Store;

/// Column order of the CSV export (the JSONL export has the same fields).
const ARTICLE_COLUMNS: &[&str] = &[
    "id",
    "source",
    "external_id",
    "url",
    "title",
    "published",
    "authors",
    "contributors",
    "outlet",
    "credited_source",
    "language",
    "ingested_at",
    "copy_group",
    "original_of_group",
    "story",
    "thread",
    "text",
    "removed",
    "warnings",
];

fn all_relations(store: &dyn Store) -> Result<Vec<CopyRelation>> {
    let mut relations = Vec::new();
    store.for_each_copy_relation(None, &mut |r| {
        relations.push(r);
        Ok(())
    })?;
    Ok(relations)
}

/// Writes every copy relation.
pub fn copy_relations(store: &dyn Store, csv_format: bool, mut out: impl Write) -> Result<()> {
    if csv_format {
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record(["a", "b", "relation", "similarity", "shared", "original", "evidence"])?;
        store.for_each_copy_relation(None, &mut |r| {
            let relation = serde_json::to_value(r.relation).map_err(io::Error::other)?;
            let original =
                r.original.map(|s| serde_json::to_value(s).map(|v| v.as_str().unwrap_or_default().to_owned())).transpose().map_err(io::Error::other)?;
            let row = [
                r.a.0.clone(),
                r.b.0.clone(),
                relation.as_str().unwrap_or_default().to_owned(),
                format!("{:.4}", r.similarity),
                serde_json::to_string(&r.shared).map_err(io::Error::other)?,
                original.unwrap_or_default(),
                r.evidence.join("; "),
            ];
            writer.write_record(row).map_err(io::Error::other)
        })?;
        writer.flush()?;
    } else {
        store.for_each_copy_relation(None, &mut |r| {
            serde_json::to_writer(&mut out, &r)?;
            out.write_all(b"\n")
        })?;
        out.flush()?;
    }
    Ok(())
}

/// Writes every stored article.
pub fn articles(store: &dyn Store, csv_format: bool, mut out: impl Write) -> Result<()> {
    let groups = storyline_pipeline::copies::groups(&all_relations(store)?);
    let group_of = |a: &StoredArticle| groups.get(&a.article.id).cloned();
    let stories = store.article_stories()?;
    let story_of = |a: &StoredArticle| stories.get(&a.article.id).cloned();
    if csv_format {
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record(ARTICLE_COLUMNS)?;
        store.for_each_article(&mut |a| writer.write_record(csv_row(&a, group_of(&a), story_of(&a))).map_err(io::Error::other))?;
        writer.flush()?;
    } else {
        store.for_each_article(&mut |a| {
            let group = group_of(&a);
            let mut value = serde_json::to_value(&a)?;
            if let Some(map) = value.as_object_mut() {
                map.insert("copy_group".into(), group.as_ref().map_or(serde_json::Value::Null, |(g, _)| g.0.clone().into()));
                map.insert("original_of_group".into(), group.is_some_and(|(_, o)| o).into());
                let story = story_of(&a);
                map.insert("story".into(), story.as_ref().map_or(serde_json::Value::Null, |(s, _)| s.0.clone().into()));
                map.insert("thread".into(), story.and_then(|(_, t)| t).map_or(serde_json::Value::Null, Into::into));
            }
            serde_json::to_writer(&mut out, &value)?;
            out.write_all(b"\n")
        })?;
        out.flush()?;
    }
    Ok(())
}

/// Lists are joined with "; "; the removed pieces stay JSON so nothing is lost.
fn csv_row(
    stored: &StoredArticle,
    group: Option<(storyline_model::ArticleId, bool)>,
    story: Option<(storyline_model::StoryId, Option<String>)>,
) -> Vec<String> {
    let a = &stored.article;
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    vec![
        a.id.0.clone(),
        a.source.clone(),
        opt(&a.external_id),
        opt(&a.url),
        opt(&a.title),
        opt(&a.published),
        a.authors.join("; "),
        a.contributors.join("; "),
        opt(&a.outlet),
        opt(&a.credited_source),
        opt(&a.language),
        stored.ingested_at.clone(),
        group.as_ref().map(|(g, _)| g.0.clone()).unwrap_or_default(),
        group.is_some_and(|(_, o)| o).to_string(),
        story.as_ref().map(|(s, _)| s.0.clone()).unwrap_or_default(),
        story.and_then(|(_, t)| t).unwrap_or_default(),
        a.text.clone(),
        serde_json::to_string(&a.removed).unwrap_or_default(),
        a.warnings.join("; "),
    ]
}
