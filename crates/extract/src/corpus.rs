//! Corpus-level evidence: a short line that repeats across many articles of one outlet is
//! boilerplate (a menu, a slogan, a newsletter prompt), whatever its wording.

use std::collections::{HashMap, HashSet};

use storyline_model::{Body, RawDocument};
use xxhash_rust::xxh3::xxh3_64;

use crate::clean::{normalise, word_count};

/// Longest line (in words) that can count as boilerplate; longer lines are article prose, and
/// a long paragraph shared by several articles is a copy, which is the copy stage's business.
const MAX_WORDS: usize = 30;
/// A line must appear in at least this many articles of a group ...
const MIN_DOCS: u32 = 3;
/// ... and in at least this share of the group's articles (numerator, denominator).
const MIN_SHARE: (u32, u32) = (1, 4);

/// Line statistics over a batch of documents, per group (outlet, host or folder).
#[derive(Debug, Default, Clone)]
pub struct CorpusStats {
    lines: HashMap<(u64, u64), u32>,
    group_docs: HashMap<u64, u32>,
}

impl CorpusStats {
    /// Counts the short lines of a scraped-text document.
    pub fn observe(&mut self, doc: &RawDocument) {
        let Body::Text(text) = &doc.body else { return };
        let group = xxh3_64(group_key(doc).as_bytes());
        *self.group_docs.entry(group).or_default() += 1;
        let distinct: HashSet<u64> = text.lines().filter_map(line_key).collect();
        for line in distinct {
            *self.lines.entry((group, line)).or_default() += 1;
        }
    }

    /// Whether `line` of `doc` repeats across enough of its group's documents.
    pub fn is_boilerplate(&self, doc: &RawDocument, line: &str) -> bool {
        let Some(key) = line_key(line) else { return false };
        let group = xxh3_64(group_key(doc).as_bytes());
        let docs = self.group_docs.get(&group).copied().unwrap_or(0);
        let count = self.lines.get(&(group, key)).copied().unwrap_or(0);
        count >= MIN_DOCS && count * MIN_SHARE.1 >= docs * MIN_SHARE.0
    }

    pub fn is_empty(&self) -> bool {
        self.group_docs.is_empty()
    }
}

/// Quoted speech is never boilerplate, however often outlets repeat it.
fn line_key(line: &str) -> Option<u64> {
    let line = line.trim();
    if line.is_empty() || word_count(line) > MAX_WORDS || line.contains(['"', '“', '”']) {
        return None;
    }
    Some(xxh3_64(normalise(line).as_bytes()))
}

/// The group a document's boilerplate is shared with: its outlet, else its URL's host, else the
/// folder it was read from.
pub fn group_key(doc: &RawDocument) -> String {
    if let Some(outlet) = &doc.hints.outlet {
        return format!("outlet:{}", outlet.to_lowercase());
    }
    if let Some(host) = doc.hints.url.as_deref().and_then(|u| url::Url::parse(u).ok()).and_then(|u| u.host_str().map(str::to_owned)) {
        return format!("host:{}", host.trim_start_matches("www."));
    }
    let path = doc.source.split('#').next().unwrap_or(&doc.source);
    let folder = std::path::Path::new(path).parent().map(|p| p.display().to_string()).unwrap_or_default();
    format!("folder:{folder}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use storyline_model::{Hints, InputFormat};

    fn doc(source: &str, text: &str) -> RawDocument {
        RawDocument { source: source.to_owned(), format: InputFormat::Text, body: Body::Text(text.to_owned()), hints: Hints::default(), warnings: Vec::new() }
    }

    #[test]
    fn lines_repeated_across_a_folder_are_boilerplate() {
        let slogan = "The Valley Courier is an independent newspaper";
        let docs: Vec<RawDocument> = (0..4)
            .map(|i| {
                doc(
                    &format!("dump/valley/{i}.txt"),
                    &format!("Story {i} headline\nThe council met on day {i} and voted.\n{slogan}\n\"Quoted words here\", she said."),
                )
            })
            .collect();
        let mut stats = CorpusStats::default();
        docs.iter().for_each(|d| stats.observe(d));
        let other = doc("dump/hills/0.txt", slogan);
        stats.observe(&other);
        assert!(stats.is_boilerplate(&docs[0], slogan));
        assert!(!stats.is_boilerplate(&docs[0], "The council met on day 0 and voted."));
        // Quotes are never boilerplate; another folder has its own statistics.
        assert!(!stats.is_boilerplate(&docs[0], "\"Quoted words here\", she said."));
        assert!(!stats.is_boilerplate(&other, slogan));
    }
}
