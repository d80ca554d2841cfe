//! Sentences and words on character offsets, and the canonical word forms comparisons use.

use std::collections::HashSet;

/// Words too common to tell two statements apart.
const STOP: &[&str] = &[
    "the", "a", "an", "and", "or", "but", "of", "to", "in", "on", "at", "for", "with", "by", "from", "as", "is", "are", "was", "were", "be", "been", "being",
    "has", "have", "had", "it", "its", "this", "that", "these", "those", "he", "she", "they", "we", "i", "you", "his", "her", "their", "our", "my", "your",
    "him", "them", "us", "me", "not", "no", "will", "would", "can", "could", "should", "may", "might", "do", "does", "did", "said", "says", "say", "also",
    "than", "then", "there", "which", "who", "whom", "what", "when", "where", "while", "about", "into", "over", "after", "before", "more", "most", "all",
    "any", "some", "such", "so", "if", "up", "out", "one", "new", "mr", "ms", "mrs",
];

pub fn is_stop(w: &str) -> bool {
    STOP.contains(&w)
}

/// A sentence: its text and character range in the article.
pub type Sentence = storyline_model::text::SentenceSpan;

/// Lower-case words of a text (the shared splitter, `storyline_model::text::words`).
pub fn words(text: &str) -> Vec<String> {
    storyline_model::text::words(text).map(|w| w.text.to_lowercase()).collect()
}

/// A word's canonical form: its first five letters, so that "Israeli" and "Israel",
/// "affairs" and "affair" compare equal while "assistant" and "secretary" do not.
pub fn canon(w: &str) -> String {
    w.chars().take(5).collect()
}

/// Canonical content words of a text (stop words dropped).
pub fn content(text: &str) -> HashSet<String> {
    words(text).into_iter().filter(|w| !is_stop(w)).map(|w| canon(&w)).collect()
}

pub fn jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let inter = a.intersection(b).count();
    inter as f64 / (a.len() + b.len() - inter) as f64
}

/// Splits a text into sentences (the shared splitter, `storyline_model::text`).
pub fn sentences(text: &str) -> Vec<Sentence> {
    storyline_model::text::sentence_spans(text)
}

/// The text with everything inside quotation marks removed: what the writer wrote, not what
/// a speaker said (two outlets quoting one speech are not copies of each other).
pub fn unquoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    let mut straight = false;
    for c in text.chars() {
        match c {
            '“' => depth += 1,
            '”' => depth = depth.saturating_sub(1),
            '"' => straight = !straight,
            _ if depth == 0 && !straight => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_keep_abbreviations_and_initials() {
        let s = sentences("Mr. Smith met Antony J. Blinken in the U.S. Capitol. He left. “We agree.” Then\nnew line");
        let t: Vec<&str> = s.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(t, vec!["Mr. Smith met Antony J. Blinken in the U.S. Capitol.", "He left.", "“We agree.”", "Then", "new line"]);
        let first = &s[1];
        let chars: String = "Mr. Smith met Antony J. Blinken in the U.S. Capitol. He left.".chars().skip(first.start).take(first.end - first.start).collect();
        assert_eq!(chars, "He left.");
    }

    #[test]
    fn canonical_words_match_demonyms_not_ranks() {
        assert_eq!(content("Israeli-Palestinian Affairs"), content("Israel and Palestinian affairs"));
        assert_ne!(content("deputy secretary"), content("deputy assistant secretary"));
    }

    #[test]
    fn unquoted_drops_quotations() {
        assert_eq!(unquoted("He said “we will win” and \"never\" left."), "He said  and  left.");
    }
}
