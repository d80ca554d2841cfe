//! `storyline export`: stored data as JSON Lines or CSV, streamed. Each kind of record is one
//! row struct, and [`Rows`] writes it in either format, so the two cannot drift apart.

use std::io::Write;

use anyhow::Result;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use storyline_model::{ArticleId, CopyRelation, Published, Removed, StoredArticle, StoryId, ThreadId};
use storyline_store::Store;

fn all_relations(store: &dyn Store) -> Result<Vec<CopyRelation>> {
    let mut relations = Vec::new();
    store.for_each_copy_relation(None, &mut |r| {
        relations.push(r);
        Ok(())
    })?;
    Ok(relations)
}

/// Writes every copy relation.
pub fn copy_relations(store: &dyn Store, csv_format: bool, out: impl Write) -> Result<()> {
    let mut rows = Rows::new(csv_format, out);
    store.for_each_copy_relation(None, &mut |r| rows.write(&r))?;
    rows.finish()
}

/// One exported article: the article, when it was stored, and where later stages put it.
#[derive(Serialize)]
struct ArticleRow<'a> {
    id: &'a ArticleId,
    source: &'a str,
    external_id: Option<&'a str>,
    url: Option<&'a str>,
    title: Option<&'a str>,
    published: Option<Published>,
    authors: &'a [String],
    contributors: &'a [String],
    outlet: Option<&'a str>,
    credited_source: Option<&'a str>,
    language: Option<&'a str>,
    ingested_at: &'a str,
    copy_group: Option<&'a ArticleId>,
    original_of_group: bool,
    story: Option<&'a StoryId>,
    thread: Option<&'a ThreadId>,
    text: &'a str,
    removed: &'a [Removed],
    warnings: &'a [String],
}

/// Writes every stored article.
pub fn articles(store: &dyn Store, csv_format: bool, out: impl Write) -> Result<()> {
    let groups = storyline_pipeline::copies::groups(&all_relations(store)?);
    let stories = store.article_stories()?;
    let mut rows = Rows::new(csv_format, out);
    store.for_each_article(&mut |stored: StoredArticle| {
        let a = &stored.article;
        let group = groups.get(&a.id);
        let story = stories.get(&a.id);
        let row = ArticleRow {
            id: &a.id,
            source: &a.source,
            external_id: a.external_id.as_deref(),
            url: a.url.as_deref(),
            title: a.title.as_deref(),
            published: a.published,
            authors: &a.authors,
            contributors: &a.contributors,
            outlet: a.outlet.as_deref(),
            credited_source: a.credited_source.as_deref(),
            language: a.language.as_deref(),
            ingested_at: &stored.ingested_at,
            copy_group: group.map(|(g, _)| g),
            original_of_group: group.is_some_and(|(_, o)| *o),
            story: story.map(|(s, _)| s),
            thread: story.and_then(|(_, t)| t.as_ref()),
            text: &a.text,
            removed: &a.removed,
            warnings: &a.warnings,
        };
        rows.write(&row)
    })?;
    rows.finish()
}

/// One writer for every export: each record is one row struct, written as a JSON line, or as a
/// CSV row whose columns are the struct's fields in order (the header comes from the first
/// row). In CSV, a list of strings is joined with "; ", other lists and objects stay JSON so
/// nothing is lost, and an absent value is an empty cell.
pub enum Rows<W: Write> {
    Csv { writer: Box<csv::Writer<W>>, columns: Option<Vec<String>> },
    Json(W),
}

impl<W: Write> Rows<W> {
    pub fn new(csv_format: bool, out: W) -> Rows<W> {
        if csv_format {
            Rows::Csv { writer: Box::new(csv::Writer::from_writer(out)), columns: None }
        } else {
            Rows::Json(out)
        }
    }

    /// IO errors keep their kind (a reader that went away is a broken pipe, not a failure).
    pub fn write(&mut self, row: &impl Serialize) -> std::io::Result<()> {
        match self {
            Rows::Json(out) => {
                serde_json::to_writer(&mut *out, row)?;
                out.write_all(b"\n")?;
            }
            Rows::Csv { writer, columns } => {
                // Through the JSON text, which keeps the struct's field order.
                let Fields(fields) = serde_json::from_str(&serde_json::to_string(row)?)?;
                let names: Vec<String> = fields.iter().map(|(k, _)| k.clone()).collect();
                match columns {
                    None => {
                        writer.write_record(&names)?;
                        *columns = Some(names);
                    }
                    Some(c) if *c != names => return Err(std::io::Error::other(format!("export rows disagree on their columns: {c:?} then {names:?}"))),
                    Some(_) => {}
                }
                writer.write_record(fields.iter().map(|(_, v)| cell(v)))?;
            }
        }
        Ok(())
    }

    pub fn finish(self) -> Result<()> {
        match self {
            Rows::Csv { mut writer, .. } => writer.flush()?,
            Rows::Json(mut out) => out.flush()?,
        }
        Ok(())
    }
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(Value::is_string) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "),
        other => other.to_string(),
    }
}

/// A JSON object's fields in the order they were written.
struct Fields(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Fields, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Fields;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<Fields, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    fields.push(entry);
                }
                Ok(Fields(fields))
            }
        }
        d.deserialize_map(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row<'a> {
        id: &'a str,
        n: u32,
        names: Vec<&'a str>,
        nested: Vec<(u8, u8)>,
        missing: Option<&'a str>,
    }

    #[test]
    fn one_row_struct_gives_both_formats() {
        let row = Row { id: "x", n: 3, names: vec!["a", "b"], nested: vec![(1, 2)], missing: None };
        let mut csv = Rows::new(true, Vec::new());
        csv.write(&row).unwrap();
        csv.write(&row).unwrap();
        let Rows::Csv { writer, .. } = csv else { unreachable!() };
        let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        assert_eq!(text, "id,n,names,nested,missing\nx,3,a; b,\"[[1,2]]\",\nx,3,a; b,\"[[1,2]]\",\n");
        let mut json = Rows::new(false, Vec::new());
        json.write(&row).unwrap();
        let Rows::Json(out) = json else { unreachable!() };
        assert_eq!(String::from_utf8(out).unwrap(), "{\"id\":\"x\",\"n\":3,\"names\":[\"a\",\"b\"],\"nested\":[[1,2]],\"missing\":null}\n");
    }

    #[test]
    fn rows_with_other_columns_are_an_error() {
        #[derive(Serialize)]
        struct Other {
            id: u8,
        }
        let mut csv = Rows::new(true, Vec::new());
        csv.write(&Other { id: 1 }).unwrap();
        assert!(csv.write(&Row { id: "x", n: 1, names: vec![], nested: vec![], missing: None }).is_err());
    }
}
