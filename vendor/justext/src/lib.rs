// Port of Python jusText v3.0.2

//! Paragraph-level boilerplate removal for HTML.
//!
//! `justext` classifies HTML paragraphs as content or boilerplate using
//! stopword density, link density, and text length — then refines
//! classifications using neighbor context.
//!
//! # Quick start
//!
//! ```rust
//! use justext::{extract_text_lang, Config};
//!
//! let html = "<html><body><p>This is the main content.</p></body></html>";
//! let text = extract_text_lang(html, "English", &Config::default()).unwrap();
//! println!("{text}");
//! ```
//!
//! # Related crates
//!
//! - [`trafilatura`](https://crates.io/crates/trafilatura) — full-featured web
//!   content extraction with metadata, comments, and fallback strategies.
//! - [`libreadability`](https://crates.io/crates/libreadability) — Mozilla Readability
//!   port for extracting a clean article DOM subtree.
//! - [`html2markdown`](https://crates.io/crates/html2markdown) — converts HTML to
//!   Markdown via an intermediate AST.

mod classify;
mod error;
mod paragraph;
mod paragraph_maker;
mod preprocess;
mod revise;
pub mod stoplists;

pub use error::JustextError;
pub use paragraph::{ClassType, Paragraph};
pub use stoplists::{available_languages, get_all_stoplists, get_stoplist};

use std::collections::HashSet;

/// Configuration for the JusText algorithm.
///
/// Defaults match Python JusText 3.0.2.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    pub length_low: usize,
    pub length_high: usize,
    pub stopwords_low: f64,
    pub stopwords_high: f64,
    pub max_link_density: f64,
    pub max_heading_distance: usize,
    pub no_headings: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            length_low: 70,
            length_high: 200,
            stopwords_low: 0.30,
            stopwords_high: 0.32,
            max_link_density: 0.2,
            max_heading_distance: 200,
            no_headings: false,
        }
    }
}

impl Config {
    pub fn with_length_low(mut self, n: usize) -> Self {
        self.length_low = n;
        self
    }
    pub fn with_length_high(mut self, n: usize) -> Self {
        self.length_high = n;
        self
    }
    pub fn with_stopwords_low(mut self, v: f64) -> Self {
        self.stopwords_low = v;
        self
    }
    pub fn with_stopwords_high(mut self, v: f64) -> Self {
        self.stopwords_high = v;
        self
    }
    pub fn with_max_link_density(mut self, v: f64) -> Self {
        self.max_link_density = v;
        self
    }
    pub fn with_max_heading_distance(mut self, n: usize) -> Self {
        self.max_heading_distance = n;
        self
    }
    pub fn with_no_headings(mut self, v: bool) -> Self {
        self.no_headings = v;
        self
    }
}

/// Classify paragraphs in HTML as content or boilerplate.
pub fn justext(html: &str, stoplist: &HashSet<String>, config: &Config) -> Vec<Paragraph> {
    classified(&preprocess::preprocess(html), stoplist, config)
}

/// Storyline fork: [`justext`] on a page already parsed, without serialising it and parsing
/// it again.
pub fn justext_html(
    doc: scraper::Html,
    stoplist: &HashSet<String>,
    config: &Config,
) -> Vec<Paragraph> {
    classified(&preprocess::preprocess_tree(doc), stoplist, config)
}

/// The paragraphs of a preprocessed page, classified and revised.
fn classified(doc: &scraper::Html, stoplist: &HashSet<String>, config: &Config) -> Vec<Paragraph> {
    let mut paragraphs = paragraph_maker::make_paragraphs(doc);
    classify::classify_paragraphs(&mut paragraphs, stoplist, config);
    revise::revise_paragraph_classification(&mut paragraphs, config.max_heading_distance);
    paragraphs
}

/// Convenience: extract only the good paragraph text.
pub fn extract_text(html: &str, stoplist: &HashSet<String>, config: &Config) -> String {
    justext(html, stoplist, config)
        .into_iter()
        .filter(|p| !p.is_boilerplate())
        .map(|p| p.text)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Classify paragraphs using a language name instead of a pre-loaded stoplist.
///
/// Equivalent to `get_stoplist(language)` followed by `justext()`.
///
/// # Example
///
/// ```rust
/// let paragraphs = justext::justext_lang("<html><body><p>Hello world</p></body></html>", "English", &justext::Config::default()).unwrap();
/// ```
pub fn justext_lang(
    html: &str,
    language: &str,
    config: &Config,
) -> Result<Vec<Paragraph>, JustextError> {
    let stoplist = get_stoplist(language)?;
    Ok(justext(html, &stoplist, config))
}

/// Extract only the good paragraph text using a language name.
///
/// Equivalent to `get_stoplist(language)` followed by `extract_text()`.
///
/// # Example
///
/// ```rust
/// let text = justext::extract_text_lang("<html><body><p>Hello world</p></body></html>", "English", &justext::Config::default()).unwrap();
/// ```
pub fn extract_text_lang(
    html: &str,
    language: &str,
    config: &Config,
) -> Result<String, JustextError> {
    let stoplist = get_stoplist(language)?;
    Ok(extract_text(html, &stoplist, config))
}

#[cfg(test)]
mod fork_tests {
    use super::*;

    #[test]
    fn justext_html_of_a_parsed_page_finds_the_paragraphs_justext_finds_in_its_source() {
        let prose = "The council said on Tuesday that the new bridge would open in the spring, and that it had been built for less than the budget it was given. ";
        let html = format!(
            "<!DOCTYPE html><html><head><title>T</title><style>p {{}}</style></head><body>\
             <!-- a comment --><ul><li><a href='/'>Home</a></li><li><a href='/n'>News</a></li></ul>\
             <form action='/s'><p>{prose}{prose}</p><input name='q'><button>Go</button></form>\
             <script>var x = '<p>not text</p>';</script><p>{prose}</p><noscript>Enable scripts</noscript>\
             <p>Copyright 2024</p></body></html>"
        );
        let stoplist = get_stoplist("English").expect("English stoplist");
        let config = Config::default();
        let texts = |ps: Vec<Paragraph>| -> Vec<(String, bool)> {
            ps.into_iter()
                .map(|p| {
                    let good = !p.is_boilerplate();
                    (p.text, good)
                })
                .collect()
        };
        let from_source = texts(justext(&html, &stoplist, &config));
        let from_tree = texts(justext_html(
            scraper::Html::parse_document(&html),
            &stoplist,
            &config,
        ));
        assert!(from_source
            .iter()
            .any(|(t, good)| *good && t.contains("new bridge")));
        assert!(!from_tree
            .iter()
            .any(|(t, _)| t.contains("not text") || t.contains("Enable scripts")));
        assert_eq!(from_tree, from_source);
    }
}
