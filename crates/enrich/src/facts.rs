//! What one article says: entity mentions with their roles, direct quotes with speakers,
//! reported figures with what they count and who reported them, and the dates it refers to.
//! Offsets are found in bytes and given out in characters.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use storyline_model::{ArticleId, DateRef, EntityType, Facts, Figure, Mention, Quote, Span};

use crate::ner::{spans, Tagger};
use crate::tokens::{sentences, tokenize, Token};

use storyline_model::names::TITLES as ROLE_WORDS;
const HONORIFICS: &[&str] = &["Mr.", "Mrs.", "Ms.", "Dr.", "Mr", "Mrs", "Ms", "Dr", "Miss", "Sir", "Dame", "Prof."];
const CONNECTORS: &[&str] = &["of", "for", "and", "the", "on", "'s", "’s", "-"];
/// Verbs of saying, in every form a report uses them ("says", "said"; the "-ing" forms are
/// [`PARTICIPLES`]).
const CUES: &[&str] = &[
    "said",
    "says",
    "say",
    "told",
    "tells",
    "added",
    "adds",
    "stated",
    "asked",
    "asks",
    "wrote",
    "writes",
    "noted",
    "explained",
    "explains",
    "declared",
    "declares",
    "urged",
    "urges",
    "warned",
    "warns",
    "argued",
    "argues",
    "insisted",
    "insists",
    "announced",
    "announces",
    "tweeted",
    "acknowledged",
    "acknowledges",
    "claimed",
    "continued",
    "replied",
    "responded",
    "responds",
    "remarked",
    "affirmed",
    "stressed",
    "emphasized",
    "emphasised",
    "recalled",
    "posted",
    "concluded",
    "suggested",
    "suggests",
    "admitted",
    "admits",
    "vowed",
    "promised",
    "pledged",
    "cautioned",
    "complained",
    "complains",
    "conceded",
    "confirmed",
    "confirms",
    "predicted",
    "predicts",
    "reiterated",
    "repeated",
    "observed",
    "commented",
    "testified",
    "shouted",
    "reported",
    "estimated",
    "according",
    "expressed",
    "described",
    "describes",
    "cited",
    "cites",
    "called",
    "accused",
    "accuses",
    "quipped",
    "joked",
    "boasted",
    "countered",
    "charged",
    "opined",
    "exclaimed",
    "mused",
    "interjected",
    "reads",
    "read",
    "continues",
    "claims",
    "assured",
    "assures",
    "asserted",
    "asserts",
    "maintained",
    "contended",
    "lamented",
    "recounted",
    "retorted",
    "demanded",
    "wondered",
    "chanted",
    "sang",
    "yelled",
    "screamed",
    "texted",
    "emailed",
    "tweets",
];
/// Participle cues: their subject is the clause's subject, any distance back in the sentence.
const PARTICIPLES: &[&str] = &[
    "saying",
    "stating",
    "noting",
    "adding",
    "calling",
    "describing",
    "telling",
    "warning",
    "insisting",
    "claiming",
    "arguing",
    "asking",
    "explaining",
    "accusing",
    "citing",
    "tweeting",
    "writing",
    "declaring",
    "announcing",
    "complaining",
    "promising",
    "vowing",
];
/// Pronouns that stand for one person (resolved to the nearest person named before).
const PRONOUNS: &[&str] = &["he", "she", "He", "She"];
/// Pronouns that stand for a group or an organisation: kept as the speaker as written.
const GROUP_PRONOUNS: &[&str] = &["they", "They", "it", "It", "we", "We"];
/// Words that open a noun phrase ("the commission says").
const DETERMINERS: &[&str] = &[
    "the", "The", "a", "A", "an", "An", "this", "This", "its", "Its", "their", "Their", "his", "His", "her", "Her", "my", "My", "our", "Our", "one", "One",
    "another", "Another",
];
/// Determiners that make a noun phrase alone ("another said", "one tweeted").
const PRONOMINAL: &[&str] = &["one", "One", "another", "Another"];
/// Adverbs that stand between a subject and its verb ("often said", "later told").
const ADVERBS: &[&str] = &["often", "later", "again", "still", "never", "always", "once", "now", "also", "then", "already", "just", "even", "first", "soon"];
/// Function words that end a noun phrase rather than belong to it.
const NOT_IN_NOUN_PHRASE: &[&str] = &[
    "and", "or", "but", "who", "which", "that", "whom", "whose", "to", "of", "in", "on", "for", "with", "by", "at", "from", "as", "not", "also", "then", "has",
    "have", "had", "is", "was", "were", "be", "been", "will", "would", "could", "should", "can", "may", "might", "did", "do", "does", "it", "he", "she",
    "they", "often", "later", "again", "still", "never", "always", "once", "now", "already", "just", "even", "soon",
];
const QUALIFIERS: &[&str] = &[
    "more than",
    "less than",
    "fewer than",
    "at least",
    "at most",
    "up to",
    "as many as",
    "as few as",
    "close to",
    "an estimated",
    "around",
    "about",
    "nearly",
    "almost",
    "over",
    "some",
    "roughly",
    "approximately",
    "under",
    "only",
    "just",
];
const NUMBER_WORDS: &[(&str, f64)] = &[
    ("two", 2.0),
    ("three", 3.0),
    ("four", 4.0),
    ("five", 5.0),
    ("six", 6.0),
    ("seven", 7.0),
    ("eight", 8.0),
    ("nine", 9.0),
    ("ten", 10.0),
    ("eleven", 11.0),
    ("twelve", 12.0),
    ("thirteen", 13.0),
    ("fourteen", 14.0),
    ("fifteen", 15.0),
    ("sixteen", 16.0),
    ("seventeen", 17.0),
    ("eighteen", 18.0),
    ("nineteen", 19.0),
    ("twenty", 20.0),
    ("thirty", 30.0),
    ("forty", 40.0),
    ("fifty", 50.0),
    ("sixty", 60.0),
    ("seventy", 70.0),
    ("eighty", 80.0),
    ("ninety", 90.0),
    ("hundred", 100.0),
    ("dozen", 12.0),
];
const SCALES: &[(&str, f64)] = &[("hundred", 1e2), ("thousand", 1e3), ("million", 1e6), ("billion", 1e9), ("trillion", 1e12)];
const MONTHS: &[&str] = &["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];
/// Words that end the phrase naming what a figure counts.
const WHAT_STOP: &[&str] = &[
    "and", "or", "in", "on", "at", "from", "to", "were", "was", "is", "are", "have", "had", "has", "been", "the", "a", "an", "by", "for", "with", "since",
    "as", "than", "that", "who", "which", "over", "after", "before", "during", "of", "per", "into", "this", "last", "next", "ago", "earlier", "later", "they",
    "it",
];

/// A verb of saying as written in running text: lower case ("United States" holds no cue),
/// except "According" and an inverted "Said" ("Said Ellis: ...") opening a sentence.
fn is_cue(w: &str) -> bool {
    matches!(w, "According" | "Said" | "Says") || (w.chars().next().is_some_and(char::is_lowercase) && (CUES.contains(&w) || PARTICIPLES.contains(&w)))
}

fn is_role_word(w: &str) -> bool {
    let l = w.to_lowercase();
    ROLE_WORDS.contains(&l.as_str()) || ROLE_WORDS.iter().any(|r| l.ends_with(r) && l.len() > r.len() + 1 && l.as_bytes()[l.len() - r.len() - 1] == b'-')
}

/// A lower-case word (letters and hyphens): part of a plain noun phrase.
fn plain_word(w: &str) -> bool {
    w.chars().next().is_some_and(char::is_lowercase)
        && w.chars().all(|c| c.is_alphabetic() || c == '-')
        && !is_cue(w)
        && !w.ends_with("ly")
        && !NOT_IN_NOUN_PHRASE.contains(&w)
}

/// Day and month names: capitalised, never a speaker ("on Wednesday expressed").
fn is_calendar_word(w: &str) -> bool {
    let l = w.to_lowercase();
    MONTHS.contains(&l.as_str()) || WEEKDAYS.iter().any(|(d, _)| *d == l)
}

fn adverb(w: &str) -> bool {
    ADVERBS.contains(&w) || (w.len() > 4 && w.ends_with("ly") && w.chars().all(|c| c.is_ascii_lowercase()))
}

/// Punctuation after which a capitalised word may be capitalised only for starting a sentence.
fn sentence_start(w: &str) -> bool {
    matches!(w, "." | "!" | "?" | "\"" | "“" | ":")
}

fn capitalised(w: &str) -> bool {
    w.chars().next().is_some_and(char::is_uppercase)
}

fn kind_of(tag: &str) -> EntityType {
    match tag {
        "PER" => EntityType::Person,
        "ORG" => EntityType::Organisation,
        "LOC" => EntityType::Place,
        _ => EntityType::Other,
    }
}

/// Byte offset -> character offset, for offsets given out.
struct Chars {
    starts: Vec<usize>,
}

impl Chars {
    fn new(text: &str) -> Chars {
        Chars { starts: text.char_indices().map(|(i, _)| i).collect() }
    }
    fn at(&self, byte: usize) -> usize {
        self.starts.partition_point(|&s| s < byte)
    }
}

/// A mention found in bytes, before conversion.
struct Found {
    start: usize,
    end: usize,
    /// Start including an honorific ("Mr."), for the surface form.
    surface_start: usize,
    first_token: usize,
    last_token: usize,
    kind: EntityType,
    role: Option<String>,
}

/// Text read for facts, at most; the rest of a longer article has none.
pub const MAX_FACTS_BYTES: usize = 512 * 1024;

fn floor_char_boundary(text: &str, at: usize) -> usize {
    if at >= text.len() {
        return text.len();
    }
    (0..=at).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0)
}

/// Finds everything in one article's clean text.
pub fn facts(tagger: &Tagger, article: &ArticleId, text: &str, published: Option<NaiveDate>) -> Facts {
    // The tagger keeps every token's features for the document-level pass: memory grows with
    // the text, so facts come from its first MAX_FACTS_BYTES (no news article is longer).
    let text = &text[..floor_char_boundary(text, MAX_FACTS_BYTES)];
    let toks = tokenize(text);
    let sents = sentences(text, &toks);
    let mut found: Vec<Found> = Vec::new();
    let mut sentence_of = vec![0usize; toks.len()];
    let words: Vec<Vec<&str>> = sents.iter().map(|r| toks[r.clone()].iter().map(|t| t.text).collect()).collect();
    let refs: Vec<&[&str]> = words.iter().map(Vec::as_slice).collect();
    let tagged = tagger.tag_document(&refs);
    for ((si, range), tags) in sents.iter().enumerate().zip(tagged) {
        for s in sentence_of[range.clone()].iter_mut() {
            *s = si;
        }
        let mut spans_here = spans(&tags);
        // Adjacent spans of one type split by the tagger ("Joe" "Biden") are one name.
        spans_here.dedup_by(|b, a| {
            if a.2 == b.2 && a.1 == b.0 && a.2 == "PER" {
                a.1 = b.1;
                true
            } else {
                false
            }
        });
        // An organisation or place the tagger ran into a person's name ("the UN Linda" before
        // "Thomas-Greenfield"): a known first name at its end followed by a capitalised word
        // starts the person, and the name runs on over the capitalised words after it.
        let mut split: Vec<(usize, usize, String, bool)> = Vec::new();
        for (s, e, kind) in spans_here {
            let last = range.start + e - 1;
            let next = last + 1;
            if kind != "PER"
                && e - s >= 2
                && next < range.end
                && tagger.in_list(toks[last].text, "FIRST")
                && capitalised(toks[next].text)
                && toks[next].text.chars().all(|c| c.is_alphabetic() || c == '-')
                && tags.get(next - range.start).is_none_or(|t| *t == "O")
            {
                let mut end = next + 1;
                while end < range.end && capitalised(toks[end].text) && toks[end].text.chars().all(|c| c.is_alphabetic() || c == '-') && end - next < 2 {
                    end += 1;
                }
                split.push((s, e - 1, kind, false));
                split.push((e - 1, end - range.start, "PER".to_string(), true));
            } else {
                split.push((s, e, kind, false));
            }
        }
        for (s, e, kind, was_split) in split {
            let (mut first, last) = (range.start + s, range.start + e - 1);
            // A name the tagger cut short: "Antony J." before "Blinken" (initials and words never
            // seen lower-case).
            if kind == "PER" && !was_split {
                while first > range.start && {
                    let w = toks[first - 1].text;
                    let initial = w.len() == 2 && w.ends_with('.') && w.starts_with(|c: char| c.is_ascii_uppercase());
                    initial
                        || (capitalised(w) && w.chars().all(char::is_alphabetic) && !tagger.seen_lowercase(w) && !is_role_word(w) && first - 1 > range.start)
                } {
                    first -= 1;
                }
            }
            // An editorial insertion in brackets is part of the name: "President [Joe] Biden".
            if kind == "PER" && first >= range.start + 3 && toks[first - 1].text == "]" && toks[first - 3].text == "[" && capitalised(toks[first - 2].text) {
                first -= 3;
            }
            let mut surface_start = toks[first].start;
            if first > range.start && HONORIFICS.contains(&toks[first - 1].text) {
                surface_start = toks[first - 1].start;
            }
            // "the Obama administration": a one-word name before "administration" is the
            // president whose administration it was.
            let administration = first == last && toks.get(last + 1).is_some_and(|t| t.text == "administration") && capitalised(toks[first].text);
            found.push(Found {
                start: toks[first].start,
                end: toks[last].end,
                surface_start,
                first_token: first,
                last_token: last,
                kind: if administration { EntityType::Person } else { kind_of(&kind) },
                role: None,
            });
        }
    }
    // A span inside a longer one (the "Joe" of "[Joe] Biden") is part of that name.
    let inside: Vec<bool> = found
        .iter()
        .enumerate()
        .map(|(i, f)| {
            found.iter().enumerate().any(|(j, g)| {
                j != i && g.first_token <= f.first_token && f.last_token <= g.last_token && (g.last_token - g.first_token) > (f.last_token - f.first_token)
            })
        })
        .collect();
    let mut keep = inside.iter().map(|x| !x);
    found.retain(|_| keep.next().unwrap_or(true));
    // A name given as another name of something ("the Temple Mount, known to Muslims as
    // Al-Haram Al-Sharif") is a thing of the same kind.
    for i in 0..found.len() {
        let first = found[i].first_token;
        if first < 2 || toks[first - 1].text != "as" {
            continue;
        }
        let Some(known) = (first.saturating_sub(5)..first - 1).rev().find(|&t| matches!(toks[t].text, "known" | "called" | "dubbed")) else { continue };
        let before = found
            .iter()
            .filter(|g| g.last_token < known && known - g.last_token <= 3 && sentence_of[g.last_token] == sentence_of[first])
            .max_by_key(|g| g.last_token);
        if let Some(kind) = before.map(|g| g.kind) {
            found[i].kind = kind;
        }
    }
    for i in 0..found.len() {
        if found[i].kind == EntityType::Person {
            let sent = &sents[sentence_of[found[i].first_token]];
            found[i].role =
                role_before(text, &toks, sent.start, found[i].first_token, &found).or_else(|| role_after(text, &toks, sent.end, found[i].last_token));
        }
    }
    // Organisation-typed role phrases right before a person ("Defense Secretary" Lloyd Austin)
    // are part of the role, not entities.
    let absorbed: Vec<bool> = found
        .iter()
        .map(|f| {
            f.kind != EntityType::Person
                && found.iter().any(|p| {
                    p.kind == EntityType::Person && p.first_token == f.last_token + 1 && (f.first_token..=f.last_token).any(|t| is_role_word(toks[t].text))
                })
        })
        .collect();
    let chars = Chars::new(text);
    let mentions: Vec<Mention> = found
        .iter()
        .zip(&absorbed)
        .filter(|(_, &a)| !a)
        .map(|(f, _)| Mention {
            article: article.clone(),
            text: text[f.surface_start..f.end].to_string(),
            // Nationalities, religions and political groups are groups of people, whatever
            // the tagger's class (CoNLL calls them MISC).
            kind: if storyline_model::names::is_group(&text[f.start..f.end]) { EntityType::Group } else { f.kind },
            span: Span { start: chars.at(f.start), end: chars.at(f.end) },
            role: f.role.clone(),
            entity: None,
        })
        .collect();
    let kept: Vec<&Found> = found.iter().zip(&absorbed).filter(|(_, &a)| !a).map(|(f, _)| f).collect();
    let dates = published.map(|p| dates(&toks, p)).unwrap_or_default();
    let quotes = quotes(article, text, &toks, &sents, &sentence_of, &kept, &chars);
    let figures = figures(article, text, &toks, &sents, &kept, &dates, &chars);
    let dates = dates.into_iter().map(|(s, e, d)| DateRef { text: text[s..e].to_string(), date: d, start: chars.at(s), end: chars.at(e) }).collect();
    Facts { mentions, quotes, figures, dates }
}

/// "US Secretary of State" Antony Blinken, "Defense Secretary" Lloyd J. Austin III.
fn role_before(text: &str, toks: &[Token<'_>], sent_start: usize, first: usize, found: &[Found]) -> Option<String> {
    let mut j = first;
    // Skip an honorific.
    if j > sent_start && HONORIFICS.contains(&toks[j - 1].text) {
        return None;
    }
    while j > sent_start {
        let w = toks[j - 1].text;
        let in_mention = found.iter().any(|f| f.kind != EntityType::Person && (f.first_token..=f.last_token).contains(&(j - 1)));
        if (capitalised(w) && !is_cue(w)) || is_role_word(w) || CONNECTORS.contains(&w) || in_mention {
            j -= 1;
        } else {
            break;
        }
        if first - j > 14 {
            break;
        }
    }
    while j < first && (CONNECTORS.contains(&toks[j].text) || !(capitalised(toks[j].text) || is_role_word(toks[j].text))) {
        j += 1;
    }
    // The phrase must hold a role word.
    if j >= first || !(j..first).any(|t| is_role_word(toks[t].text)) {
        return None;
    }
    // A sentence-initial ordinary word ("The", "On") is not part of it.
    if j == sent_start && matches!(toks[j].text, "The" | "A" | "An" | "On" | "In" | "At" | "But" | "And" | "When" | "After") {
        j += 1;
    }
    (j < first).then(|| text[toks[j].start..toks[first - 1].end].to_string())
}

/// Hady Amr, "the deputy assistant secretary of state for Israel and Palestinian affairs",
fn role_after(text: &str, toks: &[Token<'_>], sent_end: usize, last: usize) -> Option<String> {
    if last + 2 >= sent_end || toks[last + 1].text != "," {
        return None;
    }
    let start = last + 2;
    let mut end = start;
    while end < sent_end && !matches!(toks[end].text, "," | "." | ";" | "(" | ")" | "\"" | "“" | "”" | ":") && end - start < 18 {
        end += 1;
    }
    if end >= sent_end || end == start {
        return None;
    }
    // A role word early in the phrase, and no verb-like cue.
    let early = (start..end.min(start + 5)).any(|t| is_role_word(toks[t].text));
    let cue = (start..end).any(|t| is_cue(toks[t].text) || matches!(toks[t].text, "who" | "which" | "whose"));
    (early && !cue).then(|| text[toks[start].start..toks[end - 1].end].to_string())
}

fn is_open_quote(text: &str, at: usize, c: char) -> bool {
    match c {
        '“' | '«' => true,
        '"' => {
            let before = text[..at].chars().next_back();
            before.is_none_or(|b| b.is_whitespace() || matches!(b, '(' | '[' | '—' | '-'))
        }
        _ => false,
    }
}

/// Quoted passages as byte ranges of their content, with a flag when a passage continues the
/// previous one (a quote running over paragraphs opens each paragraph and closes only at the end).
fn quoted(text: &str) -> Vec<(usize, usize, bool)> {
    let mut out = Vec::new();
    let mut open: Option<usize> = None;
    let mut continues = false;
    let mut iter = text.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        match open {
            None => {
                if is_open_quote(text, i, c) {
                    open = Some(i + c.len_utf8());
                }
            }
            Some(s) => {
                if c == '”' || c == '»' || (c == '"' && !is_open_quote(text, i, c)) {
                    out.push((s, i, continues));
                    open = None;
                    continues = false;
                } else if c == '\n' {
                    // Paragraph break inside a quote: it continues only if the next paragraph
                    // opens with a quotation mark.
                    let rest = text[i..].trim_start();
                    let next_open = rest.starts_with('“') || rest.starts_with('"');
                    if next_open {
                        out.push((s, i, continues));
                        continues = true;
                        let skip = text[i..].len() - rest.len();
                        while iter.peek().is_some_and(|&(j, _)| j < i + skip) {
                            iter.next();
                        }
                        if let Some((j, q)) = iter.next() {
                            open = Some(j + q.len_utf8());
                        }
                    } else {
                        open = None;
                        continues = false;
                    }
                }
            }
        }
    }
    out
}

/// The speaker of a quote: a mention next to a cue verb, a pronoun, or a role noun phrase.
struct Speaker {
    /// Byte offset of the speaker's words (a pronoun refers to a person named before it).
    at: usize,
    mention: Option<String>,
    name: Option<String>,
    cue: Option<String>,
}

impl Speaker {
    /// A speaker named by an entity mention ("Mr. Blinken" as written, "Blinken" as the name).
    fn named(text: &str, f: &Found, cue: String) -> Speaker {
        Speaker { at: f.start, mention: Some(text[f.surface_start..f.end].to_string()), name: Some(text[f.start..f.end].to_string()), cue: Some(cue) }
    }
}

#[allow(clippy::too_many_arguments)]
fn quotes(
    article: &ArticleId,
    text: &str,
    toks: &[Token<'_>],
    sents: &[std::ops::Range<usize>],
    sentence_of: &[usize],
    found: &[&Found],
    chars: &Chars,
) -> Vec<Quote> {
    let mut out: Vec<Quote> = Vec::new();
    let spans = quoted(text);
    let mut last_speaker: Option<(Option<String>, Option<String>, Option<String>)> = None;
    for (k, &(qs, qe, continues)) in spans.iter().enumerate() {
        let content = &text[qs..qe];
        if content.split_whitespace().count() < 2 {
            continue;
        }
        // Token ranges before and after the quote within its sentences, bounded by other quotes.
        let open_tok = toks.partition_point(|t| t.end <= qs);
        let close_tok = toks.partition_point(|t| t.start < qe);
        let prev_end = if k > 0 { spans[k - 1].1 } else { 0 };
        let next_start = spans.get(k + 1).map_or(text.len(), |s| s.0);
        let s_open = sents.get(sentence_of.get(open_tok.saturating_sub(1)).copied().unwrap_or(0)).map_or(0, |r| r.start);
        let s_close = sents.get(sentence_of.get(close_tok.min(toks.len().saturating_sub(1))).copied().unwrap_or(0)).map_or(toks.len(), |r| r.end);
        let before: Vec<usize> = (s_open..open_tok.saturating_sub(1)).filter(|&t| toks[t].start >= prev_end).collect();
        let after: Vec<usize> = (close_tok + 1..s_close.max(close_tok + 1).min(toks.len())).filter(|&t| toks[t].end <= next_start).collect();
        // A quote that ends its own clause ("“...,” she said") looks for its verb after it first;
        // a few words quoted inside a sentence ("says Israel bears an “extra burden” to ...")
        // belong to the verb before them.
        let embedded = !content.trim_end().ends_with([',', '.', '!', '?', '…', ':', ';']);
        let speaker = if embedded {
            attribute(text, toks, &before, false, found).or_else(|| attribute(text, toks, &after, true, found))
        } else {
            attribute(text, toks, &after, true, found).or_else(|| attribute(text, toks, &before, false, found))
        }
        .or_else(|| signed(text, toks, qe, &after, found));
        let (at, mention, name, cue) = match speaker {
            Some(s) => (s.at, s.mention, s.name, s.cue),
            None if continues || (before.is_empty() && after.len() <= 1) => {
                // A quote standing alone: the previous sentence's speaker when that sentence
                // attributes without quoting ("..., said Jane Doe, a lawyer. “Next ...”"), else
                // the previous quote's.
                let prev = sentence_of.get(open_tok).copied().unwrap_or(0).checked_sub(1).and_then(|i| sents.get(i));
                let introduced = prev
                    .filter(|r| !continues && r.end > r.start && toks[r.start].start >= prev_end)
                    .and_then(|r| attribute(text, toks, &(r.start..r.end).collect::<Vec<_>>(), false, found));
                match introduced {
                    Some(s) => (s.at, s.mention, s.name, s.cue),
                    None => {
                        let (m, n, c) = last_speaker.clone().unwrap_or((None, None, None));
                        (qs, m, n, c)
                    }
                }
            }
            None => {
                // The whole sentence before the quote, earlier quotes included ("He asserted that
                // his rival is a “puppet” and that she would “...”"): its verb of saying, else its
                // subject.
                let sentence: Vec<usize> = (s_open..open_tok.saturating_sub(1)).collect();
                match attribute(text, toks, &sentence, false, found).or_else(|| clause_subject(text, toks, &sentence, found)) {
                    Some(s) => (s.at, s.mention, s.name, s.cue),
                    None => (qs, None, None, None),
                }
            }
        };
        // Pronouns and role nouns: the nearest person mentioned before the quote.
        let name = match (&mention, name) {
            (Some(m), None) if PRONOUNS.contains(&m.as_str()) || m.starts_with("the ") || m.starts_with("The ") => nearest_person_before(text, found, at, m),
            (_, n) => n,
        };
        if mention.is_some() {
            last_speaker = Some((mention.clone(), name.clone(), cue.clone()));
        }
        out.push(Quote {
            article: article.clone(),
            speaker: name,
            speaker_mention: mention,
            speaker_entity: None,
            cue,
            text: content.trim().to_string(),
            start: chars.at(qs + (content.len() - content.trim_start().len())),
            end: chars.at(qe - (content.len() - content.trim_end().len())),
        });
    }
    out
}

/// A quote signed after a dash ("“...” ― Jane Doe") or followed at once by a person's name
/// with no verb near ("“...,” Jane Doe, the city's mayor, in a statement ...").
fn signed(text: &str, toks: &[Token<'_>], quote_end: usize, after: &[usize], found: &[&Found]) -> Option<Speaker> {
    const DASHES: [char; 3] = ['―', '—', '–'];
    let mut rest = after.iter().copied().skip_while(|&t| matches!(toks[t].text, "―" | "—" | "–" | "-" | "--"));
    let first = rest.next()?;
    let gap = &text[quote_end..toks[first].start];
    let dashed = gap.contains(DASHES) || gap.contains(" - ") || gap.contains("--");
    if !gap.chars().all(|c| c.is_whitespace() || DASHES.contains(&c) || matches!(c, '-' | '"' | '”' | '’' | '\'' | ',')) {
        return None;
    }
    // Without a dash, only a quote that ends on a comma hands over to a name ("“...,” Jane Doe"),
    // and only when no verb of saying is in reach (that verb's own reading came first); a partial
    // quote followed by a name ("“to mock” Jane Doe") is about that person.
    let comma = text[..quote_end].trim_end().ends_with(',') && !after.iter().take(14).any(|&t| is_cue(toks[t].text));
    if let Some(f) = found.iter().find(|f| f.first_token == first && f.kind == EntityType::Person).filter(|_| dashed || comma) {
        let mut s = Speaker::named(text, f, "―".into());
        if !dashed {
            s.cue = None;
        }
        return Some(s);
    }
    if dashed && capitalised(toks[first].text) {
        let mut last = first;
        while last + 1 < toks.len() && after.contains(&(last + 1)) && capitalised(toks[last + 1].text) && last - first < 3 {
            last += 1;
        }
        return Some(Speaker {
            at: toks[first].start, mention: Some(text[toks[first].start..toks[last].end].to_string()), name: None, cue: Some("―".into())
        });
    }
    None
}

fn nearest_person_before(text: &str, found: &[&Found], at: usize, mention: &str) -> Option<String> {
    let noun = mention.trim_start_matches("the ").trim_start_matches("The ").to_lowercase();
    let role_noun = !PRONOUNS.contains(&mention);
    let candidates: Vec<&&Found> = found
        .iter()
        .filter(|f| f.kind == EntityType::Person && f.end <= at)
        .filter(|f| !role_noun || f.role.as_deref().is_some_and(|r| r.to_lowercase().contains(noun.split_whitespace().last().unwrap_or(""))))
        .collect();
    // A possessive ("Clinton's campaign") is seldom what a later "he" or "she" stands for: the
    // nearest other person goes first when there is one.
    let possessive = |f: &Found| text[f.end..].starts_with("'s") || text[f.end..].starts_with("’s");
    candidates
        .iter()
        .filter(|f| !possessive(f))
        .max_by_key(|f| f.end)
        .or_else(|| candidates.iter().max_by_key(|f| f.end))
        .map(|f| text[f.start..f.end].to_string())
}

/// Looks for a cue verb and its subject in a window of tokens next to a quote.
fn attribute(text: &str, toks: &[Token<'_>], window: &[usize], after: bool, found: &[&Found]) -> Option<Speaker> {
    let limit = if after { window.len().min(14) } else { window.len() };
    // A cue inside an "as" clause ("as he and Biden have said in the past, ...") is an aside,
    // not the attribution of what follows: the cue before it is (looked for further back, up
    // to 40 words, when the aside fills the usual 20).
    let aside = |i: usize| {
        let mut j = i;
        while j > 0 && i - j < 8 {
            j -= 1;
            match toks[window[j]].text {
                "as" | "As" => return true,
                "," | "." | ";" | ":" | "“" | "\"" => return false,
                w if is_cue(w) => return false,
                _ => {}
            }
        }
        false
    };
    let (win, cue_pos) = if after {
        let win = &window[..limit];
        (win, win.iter().position(|&t| is_cue(toks[t].text))?)
    } else {
        let last = |reach: usize| {
            let from = window.len().saturating_sub(reach);
            (from..window.len()).rev().find(|&i| is_cue(toks[window[i]].text) && !aside(i)).map(|i| (&window[from..], i - from))
        };
        // Cues in the last 20 words that were all asides.
        let asides = window[window.len().saturating_sub(20)..].iter().any(|&t| is_cue(toks[t].text));
        last(20).or_else(|| asides.then(|| last(40)).flatten())?
    };
    let cue_tok = win[cue_pos];
    let cue = if toks[cue_tok].text.eq_ignore_ascii_case("according") { "according to".to_string() } else { toks[cue_tok].text.to_string() };
    let person_at =
        |t: usize| found.iter().find(|f| (f.first_token..=f.last_token).contains(&t) && matches!(f.kind, EntityType::Person | EntityType::Organisation));
    let coordinated = cue_pos > 0 && toks[win[cue_pos - 1]].text == "and";
    if (PARTICIPLES.contains(&toks[cue_tok].text) || coordinated) && !after {
        // "X called on Israel ..., saying it has ..." and "X attended ... and said ...": the
        // clause's subject, from the start of the sentence.
        let head = &window[..window.len() - (win.len() - cue_pos)];
        let subject = head.iter().find_map(|&t| found.iter().find(|f| f.first_token == t && f.kind == EntityType::Person));
        if let Some(f) = subject {
            return Some(Speaker::named(text, f, cue));
        }
        // No person: the clause's subject as it opens the sentence ("Black Lives Matter issued
        // a statement saying ...", "She quickly noted ..., saying"), never the object the
        // participle follows ("a statement saying").
        if let Some(mut s) = clause_subject(text, toks, head, found) {
            s.cue = Some(cue);
            return Some(s);
        }
    }
    // Subject before the cue: the nearest mention, pronoun or role noun phrase ("X did Y,
    // according to Z" names its source after the cue only).
    let mut j = if cue == "according to" { 0 } else { cue_pos };
    while j > 0 {
        j -= 1;
        let t = win[j];
        if let Some(f) = person_at(t) {
            return Some(Speaker::named(text, f, cue));
        }
        if PRONOUNS.contains(&toks[t].text) || (GROUP_PRONOUNS.contains(&toks[t].text) && cue_pos - j <= 2) {
            return Some(Speaker { at: toks[t].start, mention: Some(toks[t].text.to_string()), name: None, cue: Some(cue) });
        }
        // A noun phrase right before the cue: "the commission says", "Politifact then ruled".
        if DETERMINERS.contains(&toks[t].text) && cue_pos - j <= 5 {
            // The noun phrase, then at most adverbs up to the cue ("my father often said").
            let nouns = win[j + 1..cue_pos].iter().take_while(|&&u| plain_word(toks[u].text)).count();
            let alone = PRONOMINAL.contains(&toks[t].text);
            if (nouns > 0 || alone) && nouns <= 3 && win[j + 1 + nouns..cue_pos].iter().all(|&u| adverb(toks[u].text)) {
                let last = win[j + nouns];
                return Some(Speaker { at: toks[t].start, mention: Some(text[toks[t].start..toks[last].end].to_string()), name: None, cue: Some(cue) });
            }
        }
        if j + 1 == cue_pos
            && !PARTICIPLES.contains(&toks[cue_tok].text)
            && capitalised(toks[t].text)
            && !is_calendar_word(toks[t].text)
            && toks[t].text.chars().all(|c| c.is_alphabetic() || c == '-')
            && (j == 0 || !sentence_start(toks[win[j - 1]].text))
        {
            let mut s = j;
            while s > 0 && capitalised(toks[win[s - 1]].text) && !sentence_start(toks[win[s - 1]].text) && j - s < 3 {
                s -= 1;
            }
            return Some(Speaker { at: toks[win[s]].start, mention: Some(text[toks[win[s]].start..toks[t].end].to_string()), name: None, cue: Some(cue) });
        }
        if is_role_word(toks[t].text) {
            let mut s = j;
            while s > 0 && (toks[win[s - 1]].text.chars().all(char::is_lowercase) && !is_cue(toks[win[s - 1]].text)) && j - s < 4 {
                s -= 1;
            }
            return Some(Speaker { at: toks[win[s]].start, mention: Some(text[toks[win[s]].start..toks[t].end].to_string()), name: None, cue: Some(cue) });
        }
        if matches!(toks[t].text, "." | ";" | ":") && !after {
            break;
        }
        if cue_pos - j > 8 {
            break;
        }
    }
    // Inverted: "said Blinken", "said the spokesperson", "according to X".
    let mut j = cue_pos + 1;
    if cue == "according to" {
        j += 1;
    }
    while j < win.len() && cue_pos + 6 > j {
        let t = win[j];
        // "says of Clinton", "told reporters that": what follows a preposition is not the speaker.
        if matches!(toks[t].text, "of" | "about" | "to" | "in" | "on" | "at" | "that" | "with" | "for" | "by" | "," | ":" | ".") && j > cue_pos + 1
            || matches!(toks[t].text, "of" | "about" | "to" | "in" | "on" | "at" | "that" | "with" | "for" | "by") && cue != "according to"
        {
            break;
        }
        if let Some(f) = person_at(t) {
            return Some(Speaker::named(text, f, cue));
        }
        if is_role_word(toks[t].text) {
            let s = win[cue_pos + 1 + usize::from(cue == "according to")];
            return Some(Speaker { at: toks[s].start, mention: Some(text[toks[s].start..toks[t].end].to_string()), name: None, cue: Some(cue) });
        }
        if PRONOUNS.contains(&toks[t].text) {
            return Some(Speaker { at: toks[t].start, mention: Some(toks[t].text.to_string()), name: None, cue: Some(cue) });
        }
        // "said a person close to the Clintons", "said one of those advisers".
        if j == cue_pos + 1 && DETERMINERS.contains(&toks[t].text) && cue != "according to" && !PARTICIPLES.contains(&cue.as_str()) {
            let words = win[j + 1..].iter().take_while(|&&u| plain_word(toks[u].text) || toks[u].text == "of").take(4).count();
            if words > 0 || PRONOMINAL.contains(&toks[t].text) {
                let last = win[j + words];
                return Some(Speaker { at: toks[t].start, mention: Some(text[toks[t].start..toks[last].end].to_string()), name: None, cue: Some(cue) });
            }
        }
        j += 1;
    }
    None
}

/// The subject of the sentence a quote sits in, when no verb of saying attributes it ("Politico
/// reveals a few facts: “...”", "Graham argued that being American “is an idea”"): the first
/// person or organisation named in the sentence before the quote, a pronoun opening it, or a
/// noun phrase opening it ("The email goes on to say: “...”").
fn clause_subject(text: &str, toks: &[Token<'_>], before: &[usize], found: &[&Found]) -> Option<Speaker> {
    let first = *before.first()?;
    let opener = toks[first].text;
    if PRONOUNS.contains(&opener) || GROUP_PRONOUNS.contains(&opener) {
        return Some(Speaker { at: toks[first].start, mention: Some(opener.to_string()), name: None, cue: None });
    }
    if DETERMINERS.contains(&opener) && capitalised(opener) {
        // Its plain words, up to the verb: a word followed by a determiner, "that" or a colon
        // is taken for the verb ("The newspaper reveals a few facts:").
        let verb_like = |k: usize| k > 1 && before.get(k + 1).is_some_and(|&n| DETERMINERS.contains(&toks[n].text) || matches!(toks[n].text, "that" | ":"));
        let words = (1..before.len()).take_while(|&k| plain_word(toks[before[k]].text) && !verb_like(k)).take(3).count();
        if words > 0 {
            let last = before[words];
            return Some(Speaker { at: toks[first].start, mention: Some(text[toks[first].start..toks[last].end].to_string()), name: None, cue: None });
        }
    }
    // The first name before the sentence's first verb-like break; a name after a preposition
    // ("in a speech to the NRA") is not the subject.
    let preposition = |k: usize| matches!(toks[before[k]].text, "to" | "of" | "about" | "with" | "for" | "by" | "at" | "from" | "against" | "on" | "in");
    for (k, &t) in before.iter().enumerate() {
        if let Some(f) = found.iter().find(|f| f.first_token == t && matches!(f.kind, EntityType::Person | EntityType::Organisation)) {
            let after_preposition = (k > 0 && preposition(k - 1)) || (k > 1 && DETERMINERS.contains(&toks[before[k - 1]].text) && preposition(k - 2));
            if !after_preposition {
                let mut s = Speaker::named(text, f, String::new());
                s.cue = None;
                return Some(s);
            }
        }
        if k >= 12 {
            break;
        }
    }
    None
}

/// Parses a number token: digits with separators, or a number word.
fn number(w: &str) -> Option<f64> {
    let l = w.to_lowercase();
    if let Some(&(_, v)) = NUMBER_WORDS.iter().find(|(n, _)| *n == l) {
        return Some(v);
    }
    if let Some((a, b)) = l.split_once('-') {
        // "twenty-five"
        let a = NUMBER_WORDS.iter().find(|(n, _)| *n == a)?.1;
        let b = NUMBER_WORDS.iter().find(|(n, _)| *n == b)?.1;
        return (a >= 20.0 && b < 10.0).then_some(a + b);
    }
    if !l.chars().next()?.is_ascii_digit() || !l.chars().all(|c| c.is_ascii_digit() || c == ',' || c == '.') {
        return None;
    }
    l.replace(',', "").parse().ok()
}

fn figures(
    article: &ArticleId,
    text: &str,
    toks: &[Token<'_>],
    sents: &[std::ops::Range<usize>],
    found: &[&Found],
    dates: &[(usize, usize, NaiveDate)],
    chars: &Chars,
) -> Vec<Figure> {
    let mut out = Vec::new();
    for range in sents {
        let sentence = text[toks[range.start].start..toks[range.end - 1].end].to_string();
        let source = figure_source(text, toks, range, found);
        let when = dates.iter().find(|(s, _, _)| *s >= toks[range.start].start && *s < toks[range.end - 1].end).map(|d| d.2);
        let mut i = range.start;
        while i < range.end {
            let w = toks[i].text;
            let Some(mut value) = number(w) else {
                i += 1;
                continue;
            };
            let prev = if i > range.start { toks[i - 1].text.to_lowercase() } else { String::new() };
            let next = toks.get(i + 1).filter(|_| i + 1 < range.end).map(|t| t.text.to_lowercase()).unwrap_or_default();
            // Years, dates, times, ordinal use.
            let year_like = w.len() == 4 && !w.contains(',') && (1800.0..=2100.0).contains(&value);
            if year_like || MONTHS.contains(&prev.as_str()) || MONTHS.contains(&next.as_str()) || matches!(next.as_str(), "p.m." | "a.m.") {
                i += 1;
                continue;
            }
            let start_tok = i;
            let mut end_tok = i + 1;
            // Scale words: "2.5 million", "two hundred".
            while end_tok < range.end {
                let l = toks[end_tok].text.to_lowercase();
                match SCALES.iter().find(|(s, _)| *s == l) {
                    Some(&(_, m)) => {
                        value *= m;
                        end_tok += 1;
                    }
                    None => break,
                }
            }
            let money = prev == "$";
            // What it counts: the next few words.
            let mut what_end = end_tok;
            while what_end < range.end && what_end - end_tok < 3 {
                let t = toks[what_end].text;
                let l = t.to_lowercase();
                if !t.chars().any(char::is_alphabetic) || WHAT_STOP.contains(&l.as_str()) || is_cue(t) || number(t).is_some() {
                    break;
                }
                what_end += 1;
            }
            let what = if matches!(toks.get(end_tok).map(|t| t.text), Some("%")) || toks.get(end_tok).is_some_and(|t| t.text.eq_ignore_ascii_case("percent")) {
                what_end = end_tok + 1;
                "percent".to_string()
            } else if what_end > end_tok {
                text[toks[end_tok].start..toks[what_end - 1].end].to_string()
            } else if money {
                "US dollars".to_string()
            } else {
                String::new()
            };
            if what.is_empty() {
                i = end_tok;
                continue;
            }
            let qualifier = QUALIFIERS
                .iter()
                .find(|q| {
                    let n = q.split(' ').count();
                    start_tok >= range.start + n && (0..n).all(|k| toks[start_tok - n + k].text.eq_ignore_ascii_case(q.split(' ').nth(k).unwrap_or("")))
                })
                .map(|q| q.to_string());
            out.push(Figure {
                article: article.clone(),
                value,
                text: text[toks[start_tok].start..toks[end_tok - 1].end].to_string(),
                qualifier,
                what,
                source: source.clone(),
                sentence: sentence.clone(),
                start: chars.at(toks[start_tok].start),
                end: chars.at(toks[end_tok - 1].end),
                when,
            });
            i = what_end;
        }
    }
    out
}

/// Who a sentence's figures are attributed to: the subject of a reporting verb, or the object
/// of "according to".
fn figure_source(text: &str, toks: &[Token<'_>], range: &std::ops::Range<usize>, found: &[&Found]) -> Option<String> {
    let cue = (range.start..range.end).find(|&t| {
        matches!(
            toks[t].text.to_lowercase().as_str(),
            "said" | "says" | "reported" | "reports" | "announced" | "estimated" | "confirmed" | "according" | "told"
        )
    })?;
    if toks[cue].text.eq_ignore_ascii_case("according") {
        let s = cue + 2;
        let mut e = s;
        while e < range.end && !matches!(toks[e].text, "," | "." | ";" | ":") && e - s < 7 {
            e += 1;
        }
        return (e > s).then(|| text[toks[s].start..toks[e - 1].end].to_string());
    }
    let mut s = cue;
    while s > range.start && !matches!(toks[s - 1].text, "," | "." | ";" | ":" | "\"" | "”" | "“" | "that") && cue - s < 7 {
        s -= 1;
    }
    if s == cue {
        // "..., the ministry said" after a quote or clause: nothing before it in the clause.
        return None;
    }
    let phrase = &text[toks[s].start..toks[cue - 1].end];
    if PRONOUNS.contains(&phrase) || phrase.eq_ignore_ascii_case("it") || phrase.eq_ignore_ascii_case("they") {
        return found.iter().filter(|f| f.end <= toks[s].start && f.kind != EntityType::Place).max_by_key(|f| f.end).map(|f| text[f.start..f.end].to_string());
    }
    // A source names someone: a capitalised word or a role noun.
    (toks[s..cue].iter().any(|t| capitalised(t.text) || is_role_word(t.text) || matches!(t.text, "military" | "ministry" | "police" | "officials" | "army")))
        .then(|| phrase.to_string())
}

const WEEKDAYS: &[(&str, Weekday)] = &[
    ("monday", Weekday::Mon),
    ("tuesday", Weekday::Tue),
    ("wednesday", Weekday::Wed),
    ("thursday", Weekday::Thu),
    ("friday", Weekday::Fri),
    ("saturday", Weekday::Sat),
    ("sunday", Weekday::Sun),
];

/// Relative and partial dates resolved against the publication date: weekdays (the most recent
/// one, or the coming one after "next"), yesterday/today/tomorrow, last/next/this week, and
/// "May 12" (this year).
fn dates(toks: &[Token<'_>], published: NaiveDate) -> Vec<(usize, usize, NaiveDate)> {
    let mut out = Vec::new();
    let monday = |d: NaiveDate| d - Duration::days(d.weekday().num_days_from_monday() as i64);
    for i in 0..toks.len() {
        let l = toks[i].text.to_lowercase();
        let prev = if i > 0 { toks[i - 1].text.to_lowercase() } else { String::new() };
        let start = if matches!(prev.as_str(), "next" | "last" | "this" | "on") { toks[i - 1].start } else { toks[i].start };
        if let Some(&(_, wd)) = WEEKDAYS.iter().find(|(n, _)| *n == l) {
            let back = (published.weekday().num_days_from_monday() as i64 - wd.num_days_from_monday() as i64).rem_euclid(7);
            let d = if prev == "next" { published + Duration::days(7 - back) } else { published - Duration::days(back) };
            out.push((start, toks[i].end, d));
            continue;
        }
        let d = match l.as_str() {
            "yesterday" => Some(published - Duration::days(1)),
            "today" => Some(published),
            "tomorrow" => Some(published + Duration::days(1)),
            "week" if prev == "next" => Some(monday(published) + Duration::days(7)),
            "week" if prev == "last" => Some(monday(published) - Duration::days(7)),
            "week" if prev == "this" => Some(monday(published)),
            _ => None,
        };
        if let Some(d) = d {
            out.push((if l == "week" { start } else { toks[i].start }, toks[i].end, d));
            continue;
        }
        if let Some(m) = MONTHS.iter().position(|m| *m == l) {
            if let Some(day) = toks.get(i + 1).and_then(|t| t.text.parse::<u32>().ok()) {
                let year = toks
                    .get(i + 3)
                    .filter(|_| toks.get(i + 2).is_some_and(|t| t.text == ","))
                    .and_then(|t| t.text.parse::<i32>().ok())
                    .filter(|y| (1900..2200).contains(y));
                if let Some(d) = NaiveDate::from_ymd_opt(year.unwrap_or(published.year()), m as u32 + 1, day) {
                    let end = if year.is_some() { toks[i + 3].end } else { toks[i + 1].end };
                    out.push((toks[i].start, end, d));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_dates_follow_publication() {
        let text = "He spoke on Wednesday and will travel next week; yesterday it rained. Talks resume May 20.";
        let toks = tokenize(text);
        // Published on Friday 2021-05-14.
        let d: Vec<(String, String)> =
            dates(&toks, NaiveDate::from_ymd_opt(2021, 5, 14).unwrap()).into_iter().map(|(s, e, d)| (text[s..e].to_string(), d.to_string())).collect();
        assert_eq!(
            d,
            [
                ("on Wednesday".to_string(), "2021-05-12".to_string()),
                ("next week".into(), "2021-05-17".into()),
                ("yesterday".into(), "2021-05-13".into()),
                ("May 20".into(), "2021-05-20".into())
            ]
        );
    }

    #[test]
    fn numbers_in_digits_and_words() {
        assert_eq!(number("1,500"), Some(1500.0));
        assert_eq!(number("six"), Some(6.0));
        assert_eq!(number("twenty-five"), Some(25.0));
        assert_eq!(number("15-member"), None);
        assert_eq!(number("Nine"), Some(9.0));
    }

    #[test]
    fn speakers_as_noun_phrases_pronouns_and_verb_forms() {
        let tagger = Tagger::bundled().unwrap();
        let text = "The commission says on its website that “there were issues with the sound in the hall.” \
                    Maria Lopez spoke in Denver on Friday. She’s claiming that the plan is “a big, big problem for the city.” \
                    Officials in the United States expect “a long and difficult winter ahead.”";
        let f = facts(&tagger, &ArticleId("a".into()), text, None);
        let speakers: Vec<(Option<&str>, Option<&str>)> = f.quotes.iter().map(|q| (q.speaker_mention.as_deref(), q.speaker.as_deref())).collect();
        assert_eq!(speakers, [(Some("The commission"), None), (Some("She"), Some("Maria Lopez")), (None, None)]);
        let text = "“The best meal I have had in years, and the staff were kind.” ― Jane Okafor\n\n\
                    “It is an invasion of the state’s own domain,” Scott Pruitt, the attorney general of Oklahoma, one of the states suing, wrote.";
        let f = facts(&tagger, &ArticleId("b".into()), text, None);
        let speakers: Vec<(Option<&str>, Option<&str>)> = f.quotes.iter().map(|q| (q.speaker.as_deref(), q.cue.as_deref())).collect();
        assert_eq!(speakers, [(Some("Jane Okafor"), Some("―")), (Some("Scott Pruitt"), None)]);
        // A noun phrase with an adverb before the cue; a straight-quoted follow-up sentence.
        let text = "\"We live in a hard world,\" my father often said. \"Nobody will help us, so we help each other.\"";
        let f = facts(&tagger, &ArticleId("c".into()), text, None);
        let speakers: Vec<Option<&str>> = f.quotes.iter().map(|q| q.speaker_mention.as_deref()).collect();
        assert_eq!(speakers, [Some("my father"), Some("my father")]);
        // "according to" names its source after the cue, never the subject before it.
        let text = "As host of “The Big Show,” Tom Baker demeaned his staff, according to three former employees.";
        let f = facts(&tagger, &ArticleId("d".into()), text, None);
        assert_eq!(f.quotes.len(), 1);
        assert_ne!(f.quotes[0].speaker.as_deref(), Some("Tom Baker"));
        // A weekday is not a speaker; words quoted inside a sentence belong to the verb before.
        let text = "The envoy, Maria Lopez, on Wednesday expressed “deep concern” over the clashes. \
                    Mr. Okafor says the city bears an “extra burden” to avoid harm as it responds to the flood.";
        let f = facts(&tagger, &ArticleId("e".into()), text, None);
        let speakers: Vec<Option<&str>> = f.quotes.iter().map(|q| q.speaker.as_deref()).collect();
        assert_eq!(speakers, [Some("Maria Lopez"), Some("Okafor")]);
        // "..., saying" and "... and said": the subject of the sentence, however far back.
        let text = "Tom Baker attacked Ann Lee over her record on taxes, schools and roads in a long speech to supporters in the city on Tuesday, \
                    saying, “She is not ready for the job.” Maria Lopez attended a forum sponsored by NBC News and said she was “ready for the job.”";
        let f = facts(&tagger, &ArticleId("f".into()), text, None);
        let speakers: Vec<Option<&str>> = f.quotes.iter().map(|q| q.speaker.as_deref()).collect();
        assert_eq!(speakers, [Some("Tom Baker"), Some("Maria Lopez")]);
        // A quote standing alone after a sentence that attributes without quoting.
        let text = "The plan will fail, said Peter Morgan, a lawyer for a local club. “I am skeptical he can pull it off.”";
        let f = facts(&tagger, &ArticleId("g".into()), text, None);
        assert_eq!(f.quotes.iter().map(|q| q.speaker.as_deref()).collect::<Vec<_>>(), [Some("Peter Morgan")]);
    }

    #[test]
    fn an_aside_told_that_and_coordinated_subjects_attribute_to_the_teller() {
        let tagger = Tagger::bundled().unwrap();
        let text = "According to the ministry, Ms. Ortega told Mr. Haddad that as she and President Ana Ruiz have said in the past, \
                    the government believes both sides should “enjoy equal rights and equal safety in the years to come.” \
                    Peter Morgan and Ann Lee said the plan was “a good start for the city.”";
        let f = facts(&tagger, &ArticleId("a".into()), text, None);
        let speakers: Vec<Option<&str>> = f.quotes.iter().map(|q| q.speaker.as_deref()).collect();
        assert_eq!(speakers.len(), 2, "{:?}", f.quotes);
        assert!(speakers[0].is_some_and(|s| s.ends_with("Ortega")) && f.quotes[0].cue.as_deref() == Some("told"), "{:?}", f.quotes[0]);
        assert!(matches!(speakers[1], Some("Ann Lee" | "Peter Morgan")), "{:?}", f.quotes[1]);
        // A quote whose sentence has no verb of saying: the sentence's subject.
        let text = "The newspaper reveals a few relevant facts: “Of its registered voters, most are unaffiliated.”";
        let f = facts(&tagger, &ArticleId("b".into()), text, None);
        assert_eq!(f.quotes[0].speaker_mention.as_deref(), Some("The newspaper"), "{:?}", f.quotes);
    }

    #[test]
    fn names_the_tagger_runs_together_or_mistypes() {
        let tagger = Tagger::bundled().unwrap();
        let text = "Meanwhile, the US Ambassador to the UN Linda Thomas-Greenfield spoke. He served during the Obama administration. \
                    Protests spread to the Old Market, known to locals as Souk Al-Qadim.";
        let f = facts(&tagger, &ArticleId("a".into()), text, None);
        let kind = |name: &str| f.mentions.iter().find(|m| m.text == name).map(|m| m.kind);
        assert_eq!(kind("Linda Thomas-Greenfield"), Some(EntityType::Person), "{:?}", f.mentions);
        assert!(kind("UN Linda").is_none() && kind("UN Linda Thomas-Greenfield").is_none(), "{:?}", f.mentions);
        assert_eq!(kind("Obama"), Some(EntityType::Person), "{:?}", f.mentions);
        assert!(kind("Old Market").is_some(), "{:?}", f.mentions);
        assert_eq!(kind("Souk Al-Qadim"), kind("Old Market"), "another name of a thing is a thing of its kind: {:?}", f.mentions);
    }

    #[test]
    fn quotes_over_paragraphs_continue() {
        let text = "“First part of it.\n\n“Second part here,” she said.";
        let q = quoted(text);
        assert_eq!(q.len(), 2);
        assert!(!q[0].2 && q[1].2);
        assert_eq!(&text[q[1].0..q[1].1], "Second part here,");
    }
}
