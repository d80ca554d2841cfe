//! The facts step: entities, quotes and figures of every article that has none yet.

use rayon::prelude::*;
use std::collections::HashSet;
use storyline_enrich::ner::Tagger;
use storyline_ingest::{InputWarning, Severity};
use storyline_model::contain::contain;

use storyline_model::{ArticleId, Facts, StoredArticle};
use storyline_store::Store;

use crate::{Config, Error, Observer};

/// The bundled model, loaded once per process (a server ingests many times).
fn bundled_tagger() -> Result<&'static Tagger, Error> {
    static TAGGER: std::sync::OnceLock<Tagger> = std::sync::OnceLock::new();
    if let Some(t) = TAGGER.get() {
        return Ok(t);
    }
    let t = Tagger::bundled().map_err(|e| Error::Tagger(e.to_string()))?;
    Ok(TAGGER.get_or_init(|| t))
}

/// The tagger the settings ask for: the bundled model, with the encoder of `[ner] encoder`
/// when one is set. Each is loaded once per process and encoder folder.
pub fn tagger(config: &Config) -> Result<&'static Tagger, Error> {
    let Some(dir) = config.ner.encoder_dir() else { return bundled_tagger() };
    static WITH_ENCODER: std::sync::Mutex<Vec<(std::path::PathBuf, &'static Tagger)>> = std::sync::Mutex::new(Vec::new());
    let mut loaded = WITH_ENCODER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, t)) = loaded.iter().find(|(d, _)| d == dir) {
        return Ok(t);
    }
    let encoder = storyline_enrich::encoder::Encoder::load(dir, storyline_enrich::encoder::BUNDLED_ADAPTER)
        .map_err(|e| Error::Tagger(format!("[ner] encoder {}: {e}", dir.display())))?;
    let t: &'static Tagger = Box::leak(Box::new(Tagger::bundled().map_err(|e| Error::Tagger(e.to_string()))?.with_encoder(encoder)));
    loaded.push((dir.to_path_buf(), t));
    Ok(t)
}

/// Finds the facts of every article that has none yet, in batches (resumable).
pub fn facts_step(store: &dyn Store, config: &Config, observer: &dyn Observer) -> Result<usize, Error> {
    let tagger = tagger(config)?;
    let mut done = 0;
    loop {
        let batch = store.articles_needing_facts(config.batches.facts)?;
        if batch.is_empty() {
            return Ok(done);
        }
        let found: Vec<(ArticleId, Facts)> = batch.par_iter().map(|a| facts_for(tagger, a, observer)).collect();
        store.record_facts(&found)?;
        done += found.len();
        observer.position(done as u64);
    }
}

/// The facts of the given articles (this process's own, just stored) that have none yet,
/// without the facts lock: an article's facts depend on it alone, so processes may find them
/// at once; one found twice is recorded twice, the same.
pub fn facts_of_own(store: &dyn Store, ids: &[ArticleId], config: &Config, observer: &dyn Observer) -> Result<usize, Error> {
    let tagger = tagger(config)?;
    let mut done = 0;
    for chunk in ids.chunks(config.batches.facts.max(1)) {
        let known: HashSet<ArticleId> = store.facts_of(chunk)?.into_iter().map(|(id, _)| id).collect();
        let wanted: Vec<ArticleId> = chunk.iter().filter(|id| !known.contains(id)).cloned().collect();
        let batch = store.get_articles(&wanted)?;
        let found: Vec<(ArticleId, Facts)> = batch.par_iter().map(|a| facts_for(tagger, a, observer)).collect();
        store.record_facts(&found)?;
        done += found.len();
        observer.position(done as u64);
    }
    Ok(done)
}

/// One article's facts; a library panic leaves it without facts (recorded, so not retried).
fn facts_for(tagger: &Tagger, a: &StoredArticle, observer: &dyn Observer) -> (ArticleId, Facts) {
    let published = a.article.published_date();
    if a.article.text.len() > storyline_enrich::MAX_FACTS_BYTES {
        observer.warning(&InputWarning {
            input: format!("{} ({})", a.article.id, a.article.source),
            message: format!("text longer than {} bytes; entities, quotes and figures come from its beginning only", storyline_enrich::MAX_FACTS_BYTES),
            severity: Severity::Warning,
        });
    }
    let facts = contain(|| storyline_enrich::facts(tagger, &a.article.id, &a.article.text, published)).unwrap_or_else(|panic| {
        observer.warning(&InputWarning {
            input: format!("{} ({})", a.article.id, a.article.source),
            message: format!("facts step failed inside a library ({panic}); no entities, quotes or figures for it"),
            severity: Severity::Error,
        });
        Facts::default()
    });
    (a.article.id.clone(), facts)
}
