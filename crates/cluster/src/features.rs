//! What an article is about, as the clustering sees it: weighted terms (stemmed words and
//! numbers from the title, the lead and the body), weighted names (capitalised phrases), the
//! publication day and the outlet. Pure functions of one article.

use rust_stemmers::{Algorithm, Stemmer};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;
use storyline_model::Article;

/// One weighted feature. `key` is a stable hash of `label`; labels travel with profiles so that
/// explanations can name what two articles share.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    pub key: u64,
    pub weight: f32,
    pub label: String,
}

/// The features of one article. `terms` and `names` are sorted by key.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Profile {
    pub terms: Vec<Feature>,
    pub names: Vec<Feature>,
    /// Days since 1970-01-01 of the publication date, when known.
    pub day: Option<i32>,
    pub outlet: Option<String>,
    pub headline: String,
    /// Keys of the headline's terms (to pick a story's most representative headline).
    pub headline_terms: Vec<u64>,
}

/// How much a word counts by where it stands.
const TITLE_BOOST: f32 = 3.0;
const LEAD_BOOST: f32 = 2.0;
/// Words of the body that count as its lead.
const LEAD_WORDS: usize = 60;
/// At most this many terms and names are kept per article (the heaviest).
const MAX_TERMS: usize = 120;
const MAX_NAMES: usize = 40;

/// Hash of a feature label; terms and names live in different key spaces.
pub fn key(kind: u8, label: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(label.as_bytes(), u64::from(kind) + 0x5354_4f52)
}
pub(crate) const TERM: u8 = 1;
pub(crate) const NAME: u8 = 2;

/// The features of an article.
pub fn profile(article: &Article) -> Profile {
    let lang = article.language.as_deref().unwrap_or("en");
    let tools = Tools::for_language(lang);
    let mut terms: HashMap<String, (f32, String)> = HashMap::new();
    let mut names: HashMap<String, (f32, String)> = HashMap::new();
    let title = article.title.as_deref().unwrap_or("");
    let evidence = NameEvidence { lower: lowercase_vocabulary(&article.text), mid_caps: mid_sentence_capitals(&article.text) };

    add_terms(title, TITLE_BOOST, usize::MAX, &tools, &mut terms);
    add_names(title, TITLE_BOOST, &evidence, &tools, &mut names, true);
    let mut seen_words = 0usize;
    for paragraph in article.paragraphs() {
        let boost = if seen_words < LEAD_WORDS { LEAD_BOOST } else { 1.0 };
        seen_words += add_terms(paragraph, boost, LEAD_WORDS.saturating_sub(seen_words), &tools, &mut terms);
        add_names(paragraph, boost, &evidence, &tools, &mut names, false);
    }
    let mut headline_terms: Vec<u64> = Vec::new();
    let mut head: HashMap<String, (f32, String)> = HashMap::new();
    add_terms(title, 1.0, 0, &tools, &mut head);
    headline_terms.extend(head.keys().map(|t| key(TERM, t)));
    headline_terms.sort_unstable();
    Profile {
        terms: finish(terms, TERM, MAX_TERMS),
        names: finish(names, NAME, MAX_NAMES),
        headline_terms,
        day: article.published_date().and_then(day_number),
        outlet: article.outlet.clone().filter(|o| !o.is_empty()),
        headline: title.trim().to_string(),
    }
}

/// Days since 1970-01-01 of a date.
pub fn day_number(date: chrono::NaiveDate) -> Option<i32> {
    i32::try_from((date - epoch()?).num_days()).ok()
}

fn epoch() -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
}

/// The date of a day number (the inverse of [`day_number`]).
pub fn day_date(day: i32) -> Option<chrono::NaiveDate> {
    epoch()?.checked_add_signed(chrono::TimeDelta::days(i64::from(day)))
}

/// Sublinear weights (1 + ln tf), heaviest first up to `max`, then sorted by key. Counts are
/// keyed by the normalised form and carry the form to show.
fn finish(counts: HashMap<String, (f32, String)>, kind: u8, max: usize) -> Vec<Feature> {
    let mut v: Vec<Feature> = counts.into_iter().map(|(norm, (tf, label))| Feature { key: key(kind, &norm), weight: 1.0 + tf.max(1.0).ln(), label }).collect();
    v.sort_by(|a, b| b.weight.total_cmp(&a.weight).then_with(|| a.label.cmp(&b.label)));
    v.truncate(max);
    v.sort_by_key(|f| f.key);
    v.dedup_by_key(|f| f.key);
    v
}

struct Tools {
    stemmer: Option<Stemmer>,
    stop: &'static HashSet<String>,
}

impl Tools {
    fn for_language(lang: &str) -> Tools {
        Tools { stemmer: algorithm(lang).map(Stemmer::create), stop: stopwords(lang) }
    }
}

fn algorithm(lang: &str) -> Option<Algorithm> {
    Some(match lang {
        "ar" => Algorithm::Arabic,
        "da" => Algorithm::Danish,
        "nl" => Algorithm::Dutch,
        "en" => Algorithm::English,
        "fi" => Algorithm::Finnish,
        "fr" => Algorithm::French,
        "de" => Algorithm::German,
        "el" => Algorithm::Greek,
        "hu" => Algorithm::Hungarian,
        "it" => Algorithm::Italian,
        "no" | "nb" | "nn" => Algorithm::Norwegian,
        "pt" => Algorithm::Portuguese,
        "ro" => Algorithm::Romanian,
        "ru" => Algorithm::Russian,
        "es" => Algorithm::Spanish,
        "sv" => Algorithm::Swedish,
        "ta" => Algorithm::Tamil,
        "tr" => Algorithm::Turkish,
        _ => return None,
    })
}

/// Calendar words are capitalised in English but name no actor or place; "May" is left in (as a
/// name it is also a surname, and a sentence may open with the verb).
fn is_calendar(lower: &str) -> bool {
    lower != "may" && storyline_model::names::CALENDAR.contains(&lower)
}

/// Languages whose NLTK stop-word lists the `stop-words` crate carries (it panics on others).
const STOPWORD_LANGUAGES: &[&str] =
    &["ar", "az", "da", "nl", "en", "fi", "fr", "de", "el", "hu", "id", "it", "kk", "ne", "no", "pt", "ro", "ru", "sl", "es", "sv", "tg", "tr"];

/// Words that carry no event in news prose beyond the general stop-word lists.
const NEWS_STOPWORDS: &[&str] = &[
    "said",
    "says",
    "say",
    "told",
    "also",
    "would",
    "could",
    "one",
    "new",
    "like",
    "get",
    "got",
    "according",
    "including",
    "just",
    "may",
    "might",
    "must",
    "us",
    "mr",
    "mrs",
    "ms",
    "per",
    "cent",
    "percent",
];

fn stopwords(lang: &str) -> &'static HashSet<String> {
    static LISTS: OnceLock<HashMap<&'static str, HashSet<String>>> = OnceLock::new();
    static EMPTY: OnceLock<HashSet<String>> = OnceLock::new();
    let lists = LISTS.get_or_init(|| {
        STOPWORD_LANGUAGES
            .iter()
            .map(|&code| {
                let mut set: HashSet<String> = stop_words::get(code).into_iter().map(|w| w.trim().to_lowercase()).filter(|w| !w.is_empty()).collect();
                if code == "en" {
                    set.extend(NEWS_STOPWORDS.iter().map(|w| w.to_string()));
                }
                (code, set)
            })
            .collect()
    });
    lists.get(lang).unwrap_or_else(|| EMPTY.get_or_init(HashSet::new))
}

/// Words of a text with their byte offsets (the shared splitter, `storyline_model::text::words`).
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    storyline_model::text::words(text).map(|w| (w.start, w.text))
}

/// Adds the terms of `text`; the first `boosted` words get `boost`, the rest weight 1.
/// Returns the number of words seen.
/// Terms are keyed by their stem and shown in the first form seen.
fn add_terms(text: &str, boost: f32, boosted: usize, tools: &Tools, terms: &mut HashMap<String, (f32, String)>) -> usize {
    let mut n = 0;
    for (_, w) in words(text) {
        n += 1;
        let weight = if n <= boosted { boost } else { 1.0 };
        let Some(term) = term_of(w, tools) else { continue };
        terms.entry(term).or_insert_with(|| (0.0, w.to_lowercase())).0 += weight;
    }
    n
}

fn term_of(word: &str, tools: &Tools) -> Option<String> {
    if word.chars().any(|c| c.is_ascii_digit()) {
        let number: String = word.chars().filter(|c| *c != ',').collect();
        // Years and counts are strong event evidence; single digits are not.
        return (number.chars().count() >= 2).then(|| format!("#{number}"));
    }
    let lower = word.to_lowercase();
    if lower.chars().count() < 2 || tools.stop.contains(&lower) {
        return None;
    }
    Some(match &tools.stemmer {
        Some(s) => s.stem(&lower).into_owned(),
        None => lower,
    })
}

/// Words that occur in lower case somewhere in the text: a capitalised word that is also
/// written in lower case is an ordinary word at the start of a sentence, not a name.
fn lowercase_vocabulary(text: &str) -> HashSet<&str> {
    words(text).map(|(_, w)| w).filter(|w| w.chars().next().is_some_and(char::is_lowercase)).collect()
}

/// Words of a text with whether each starts a sentence (or a quotation, a line, a bracket).
fn words_with_starts(text: &str) -> Vec<(&str, bool)> {
    let mut prev_end = 0usize;
    let mut out = Vec::new();
    for (start, w) in words(text) {
        let gap = &text[prev_end..start];
        prev_end = start + w.len();
        let sentence_start = start == 0 || gap.contains(['.', '!', '?', ':', ';', '\n', '"', '“', '”', '(', '[', '|', '•', '–', '—']);
        out.push((w, sentence_start));
    }
    out
}

/// Capitalised words seen inside sentences: the evidence that a sentence-initial capitalised
/// word is a name ("Blinken said ...") and not an ordinary word ("Officials said ...").
fn mid_sentence_capitals(text: &str) -> HashSet<&str> {
    words_with_starts(text).into_iter().filter(|&(w, start)| !start && is_capitalised(w)).map(|(w, _)| w).collect()
}

fn is_capitalised(w: &str) -> bool {
    w.chars().next().is_some_and(char::is_uppercase) && w.chars().count() >= 2
}

/// Adds the names of `text`: runs of capitalised words that are not ordinary words. A word at the
/// start of a sentence (or anywhere in a headline, where every word may be capitalised) counts
/// only when it is also capitalised inside a sentence somewhere, or starts a longer name.
fn add_names(text: &str, boost: f32, evidence: &NameEvidence, tools: &Tools, names: &mut HashMap<String, (f32, String)>, headline: bool) {
    let ws = words_with_starts(text);
    let candidate = |w: &str| {
        let lower = w.to_lowercase();
        is_capitalised(w) && !evidence.lower.contains(lower.as_str()) && !tools.stop.contains(&lower) && !is_calendar(&lower)
    };
    let mut run: Vec<&str> = Vec::new();
    let flush = |run: &mut Vec<&str>, names: &mut HashMap<String, (f32, String)>| {
        if !run.is_empty() {
            let shown = run.join(" ");
            names.entry(shown.to_lowercase()).or_insert_with(|| (0.0, shown)).0 += boost;
            if run.len() > 1 {
                // The last word of a multi-word name is how later mentions refer to it ("Reid").
                let last = run[run.len() - 1];
                names.entry(last.to_lowercase()).or_insert_with(|| (0.0, last.to_string())).0 += boost * 0.5;
            }
            run.clear();
        }
    };
    for (i, &(w, start)) in ws.iter().enumerate() {
        if start {
            flush(&mut run, names);
        }
        let weak_position = start || headline;
        let next_is_name = ws.get(i + 1).is_some_and(|&(n, s)| !s && candidate(n));
        let is_name = candidate(w) && (!weak_position || evidence.mid_caps.contains(w) || next_is_name);
        if is_name {
            run.push(w);
        } else {
            flush(&mut run, names);
        }
    }
    flush(&mut run, names);
}

/// Document-wide evidence for telling names from capitalised ordinary words.
struct NameEvidence<'a> {
    lower: HashSet<&'a str>,
    mid_caps: HashSet<&'a str>,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use storyline_model::ArticleId;

    /// An English article with the outlet "outlet ID" (shared with the engine's tests).
    pub(crate) fn article(id: &str, title: &str, text: &str, published: Option<&str>) -> Article {
        Article {
            id: ArticleId(id.into()),
            source: id.into(),
            url: None,
            title: Some(title.into()),
            published: published.map(|p| p.parse().expect("an ISO date")),
            authors: vec![],
            contributors: vec![],
            outlet: Some(format!("outlet {id}")),
            credited_source: None,
            language: Some("en".into()),
            text: text.into(),
            removed: vec![],
            warnings: vec![],
            external_id: None,
        }
    }

    fn labels(fs: &[Feature]) -> Vec<String> {
        let mut v: Vec<String> = fs.iter().map(|f| f.label.to_lowercase()).collect();
        v.sort();
        v
    }

    #[test]
    fn names_are_capitalised_runs_not_sentence_starts() {
        let p = profile(&article(
            "a",
            "Quake Hits Coast",
            "The earthquake struck near Santa Rosa on Tuesday. Officials said the quake was felt in San Francisco.\n\nThe damage was light.",
            None,
        ));
        let names = labels(&p.names);
        assert!(names.contains(&"santa rosa".to_string()), "{names:?}");
        assert!(names.contains(&"san francisco".to_string()), "{names:?}");
        assert!(!names.contains(&"tuesday".to_string()), "calendar word: {names:?}");
        assert!(!names.contains(&"the".to_string()), "{names:?}");
        assert!(!names.contains(&"officials".to_string()), "sentence-initial common word: {names:?}");
    }

    #[test]
    fn terms_are_stemmed_without_stopwords_and_numbers_keep_their_form() {
        let p = profile(&article("a", "", "The 6.1 magnitude earthquakes killed 1,200 people.", Some("2021-05-12")));
        let terms = labels(&p.terms);
        assert!(terms.contains(&"earthquakes".to_string()), "{terms:?}");
        assert_eq!(p.terms.iter().find(|f| f.label == "earthquakes").map(|f| f.key), Some(key(TERM, "earthquak")));
        assert!(terms.contains(&"6.1".to_string()), "{terms:?}");
        assert!(terms.contains(&"1,200".to_string()), "{terms:?}");
        assert!(!terms.contains(&"the".to_string()), "{terms:?}");
        let may12 = chrono::NaiveDate::from_ymd_opt(2021, 5, 12).unwrap();
        assert_eq!(p.day, day_number(may12));
        assert_eq!(day_number(chrono::NaiveDate::from_ymd_opt(1970, 1, 2).unwrap()), Some(1));
        assert_eq!(day_date(day_number(may12).unwrap()), Some(may12));
    }

    #[test]
    fn title_words_weigh_more_than_body_words() {
        let p = profile(&article("a", "Flood", &format!("{} flood rain", "word ".repeat(80)), None));
        let w = |l: &str| p.terms.iter().find(|f| f.label == l).map(|f| f.weight).unwrap_or(0.0);
        assert!(w("flood") > w("rain"), "{:?}", p.terms);
    }
}
