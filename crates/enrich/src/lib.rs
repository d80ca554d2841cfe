//! Who said what: named entities, their resolution across articles, quotes and figures.

pub mod encoder;
pub mod facts;
pub mod ner;
pub mod resolve;
/// The shared tokenizer (`storyline_model::text`), under the name this crate has always used.
pub use storyline_model::text as tokens;

pub use facts::{facts, MAX_FACTS_BYTES};
pub use ner::Tagger;
pub use resolve::{apply, resolve, ArticleFacts};
pub use tokens::{sentences, tokenize, Token};

/// One named-entity mention found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub start: usize,
    pub end: usize,
    /// CoNLL type: PER, ORG, LOC or MISC.
    pub kind: String,
}

/// Named entities of a whole text: tokenised, split into sentences, tagged.
pub fn entities_in(tagger: &Tagger, text: &str) -> Vec<Found> {
    let toks = tokenize(text);
    let mut out = Vec::new();
    let ranges = sentences(text, &toks);
    let words: Vec<Vec<&str>> = ranges.iter().map(|r| toks[r.clone()].iter().map(|t| t.text).collect()).collect();
    let refs: Vec<&[&str]> = words.iter().map(Vec::as_slice).collect();
    for (range, tags) in ranges.into_iter().zip(tagger.tag_document(&refs)) {
        let sent = &toks[range];
        for (s, e, kind) in ner::spans(&tags) {
            out.push(Found { start: sent[s].start, end: sent[e - 1].end, kind });
        }
    }
    out
}
