//! The one place text is split, for every stage:
//!
//! - [`tokenize`]: tokens with byte offsets, split the way CoNLL-2003 (Penn Treebank style)
//!   splits them: punctuation apart, possessive `'s` and `n't` apart, abbreviations (`U.S.`,
//!   `Mr.`, `J.`) whole. What the tagger, quotes and figures read.
//! - [`sentences`]: sentences as token ranges; [`sentence_spans`] gives them as text with
//!   character offsets, for the stages that compare sentences (rewrites, summaries).
//! - [`words`]: words for comparing and counting (copies, stories, quote wordings): runs of
//!   letters and digits, a number keeping its inner `.` or `,`.

/// One token: its text and its byte range in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub text: &'a str,
    pub start: usize,
    pub end: usize,
}

/// Abbreviations that keep their final period even though they hold no other period.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "gen", "sen", "rep", "gov", "lt", "col", "sgt", "capt", "cmdr", "adm", "maj", "st", "jr", "sr", "inc", "corp", "co",
    "ltd", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "vs", "mt", "ft", "rev", "messrs", "pres",
];

fn is_open(c: char) -> bool {
    matches!(c, '"' | '\'' | '(' | '[' | '{' | '“' | '‘' | '«' | '<')
}

fn is_close(c: char) -> bool {
    matches!(c, '"' | '\'' | ')' | ']' | '}' | '”' | '’' | '»' | '>' | ',' | ';' | ':' | '!' | '?' | '.' | '…')
}

/// Splits `text` into tokens with byte offsets.
pub fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                split_word(text, s, i, &mut out);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        split_word(text, s, text.len(), &mut out);
    }
    out
}

fn split_word<'a>(text: &'a str, mut s: usize, mut e: usize, out: &mut Vec<Token<'a>>) {
    // Leading punctuation, one token each.
    while s < e {
        let c = text[s..e].chars().next().unwrap_or(' ');
        if is_open(c) && e - s > c.len_utf8() {
            out.push(Token { text: &text[s..s + c.len_utf8()], start: s, end: s + c.len_utf8() });
            s += c.len_utf8();
        } else {
            break;
        }
    }
    // Trailing punctuation, kept aside and pushed after the core.
    let mut tail = Vec::new();
    while e > s {
        let c = text[s..e].chars().next_back().unwrap_or(' ');
        if !is_close(c) || e - s == c.len_utf8() {
            break;
        }
        if c == '.' {
            let core = &text[s..e - 1];
            let lower = core.to_ascii_lowercase();
            // "U.S.", "J.", "Mr.": the period belongs to the word.
            if core.contains('.') || (core.chars().count() == 1 && core.chars().all(char::is_alphabetic)) || ABBREVIATIONS.contains(&lower.as_str()) {
                break;
            }
        }
        tail.push(Token { text: &text[e - c.len_utf8()..e], start: e - c.len_utf8(), end: e });
        e -= c.len_utf8();
    }
    if s < e {
        let core = &text[s..e];
        // Clitics: "Israel's" -> "Israel" "'s"; "don't" -> "do" "n't".
        let lower = core.to_lowercase();
        let clitic = ["'s", "’s", "n't", "n’t", "'re", "'ve", "'ll", "'d", "'m"].iter().find(|c| lower.ends_with(*c) && lower.len() > c.len()).map(|c| c.len());
        match clitic {
            Some(n) => {
                out.push(Token { text: &text[s..e - n], start: s, end: e - n });
                out.push(Token { text: &text[e - n..e], start: e - n, end: e });
            }
            None => out.push(Token { text: core, start: s, end: e }),
        }
    }
    out.extend(tail.into_iter().rev());
}

/// Sentences as token ranges: a sentence ends after `.`, `!` or `?` (or a closing quote right
/// after one) when the next token starts with a capital, a digit or an opening quote, and at
/// every blank line.
pub fn sentences(text: &str, tokens: &[Token<'_>]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..tokens.len() {
        let next = tokens.get(i + 1);
        let end_mark = matches!(tokens[i].text, "." | "!" | "?" | "…")
            || (matches!(tokens[i].text, "\"" | "”" | "’" | "'" | ")")
                && i > 0
                && matches!(tokens[i - 1].text, "." | "!" | "?")
                && !(matches!(tokens[i].text, "\"" | "'") && text[tokens[i].end..].chars().next().is_some_and(char::is_alphanumeric)));
        let blank = next.is_some_and(|n| text[tokens[i].end..n.start].matches('\n').count() >= 1);
        let starts_new = next.is_some_and(|n| n.text.chars().next().is_some_and(|c| c.is_uppercase() || c.is_ascii_digit() || is_open(c)));
        // A straight quote is closing unless a word follows it at once (`said. "If ...`).
        let closing_quote_follows = next.is_some_and(|n| {
            matches!(n.text, "”" | "’" | ")") || (matches!(n.text, "\"" | "'") && !text[n.end..].chars().next().is_some_and(char::is_alphanumeric))
        });
        if blank || (end_mark && starts_new && !closing_quote_follows) || next.is_none() {
            out.push(start..i + 1);
            start = i + 1;
        }
    }
    out
}

/// A word: a run of letters and digits, with its byte range. A number keeps its inner `.`
/// or `,` ("6.1", "1,000"); an apostrophe or a hyphen ends a word ("Israel's" -> "Israel").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word<'a> {
    pub text: &'a str,
    pub start: usize,
    pub end: usize,
}

/// The words of a text, in order.
pub fn words(text: &str) -> impl Iterator<Item = Word<'_>> {
    let bytes = text.as_bytes();
    let mut iter = text.char_indices().peekable();
    let mut start: Option<usize> = None;
    std::iter::from_fn(move || {
        while let Some((i, c)) = iter.next() {
            let inner_number_sep = (c == '.' || c == ',')
                && start.is_some_and(|s| bytes[s..i].iter().all(u8::is_ascii_digit))
                && iter.peek().is_some_and(|&(_, n)| n.is_ascii_digit());
            if c.is_alphanumeric() || inner_number_sep {
                start.get_or_insert(i);
            } else if let Some(s) = start.take() {
                return Some(Word { text: &text[s..i], start: s, end: i });
            }
        }
        start.take().map(|s| Word { text: &text[s..], start: s, end: text.len() })
    })
}

/// A sentence as text, with its character range in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentenceSpan {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

/// The sentences of [`sentences`] as text (from the first token's start to the last token's
/// end) with character offsets.
pub fn sentence_spans(text: &str) -> Vec<SentenceSpan> {
    let tokens = tokenize(text);
    let (mut byte, mut chars) = (0, 0);
    let mut char_at = |b: usize| {
        chars += text[byte..b].chars().count();
        byte = b;
        chars
    };
    sentences(text, &tokens)
        .into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| {
            let (bs, be) = (tokens[r.start].start, tokens[r.end - 1].end);
            let start = char_at(bs);
            let end = char_at(be);
            SentenceSpan { text: text[bs..be].to_owned(), start, end }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_letter_and_digit_runs_and_numbers_keep_their_separators() {
        let w: Vec<&str> = words("Israel's 1,000 troops—6.1 km. U.S. end,").map(|w| w.text).collect();
        assert_eq!(w, ["Israel", "s", "1,000", "troops", "6.1", "km", "U", "S", "end"]);
        let text = "é 12";
        let last = words(text).last().unwrap();
        assert_eq!(&text[last.start..last.end], "12");
    }

    #[test]
    fn sentence_spans_have_character_offsets() {
        let text = "Mr. Smith met Antony J. Blinken in the U.S. Capitol. He left. “We agree.” Then\nnew line";
        let s = sentence_spans(text);
        let t: Vec<&str> = s.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(t, ["Mr. Smith met Antony J. Blinken in the U.S. Capitol.", "He left.", "“We agree.”", "Then", "new line"]);
        for x in &s {
            let chars: String = text.chars().skip(x.start).take(x.end - x.start).collect();
            assert_eq!(chars, x.text);
        }
    }

    fn token_texts(s: &str) -> Vec<&str> {
        tokenize(s).iter().map(|t| t.text).collect()
    }

    #[test]
    fn splits_like_conll() {
        assert_eq!(
            token_texts("Israel's U.S. envoy, Mr. Amr, said: \"No.\""),
            ["Israel", "'s", "U.S.", "envoy", ",", "Mr.", "Amr", ",", "said", ":", "\"", "No", ".", "\""]
        );
        assert_eq!(token_texts("(Reuters) don't"), ["(", "Reuters", ")", "do", "n't"]);
        let t = tokenize("a  “quoted” b");
        assert_eq!(t[1], Token { text: "“", start: 3, end: 6 });
        assert_eq!(&"a  “quoted” b"[t[2].start..t[2].end], "quoted");
    }

    #[test]
    fn sentences_end_at_marks_and_blank_lines() {
        let text = "Mr. Blinken spoke. He said \"yes.\" Then\n\nA new one";
        let t = tokenize(text);
        let s: Vec<String> = sentences(text, &t).into_iter().map(|r| t[r].iter().map(|x| x.text).collect::<Vec<_>>().join(" ")).collect();
        assert_eq!(s, ["Mr. Blinken spoke .", "He said \" yes . \"", "Then", "A new one"]);
        // A straight quote that opens the next sentence starts it.
        let text = "\"Yes,\" Ann said. \"No.\" Bob left.";
        let t = tokenize(text);
        let s: Vec<String> = sentences(text, &t).into_iter().map(|r| t[r].iter().map(|x| x.text).collect::<Vec<_>>().join(" ")).collect();
        assert_eq!(s, ["\" Yes , \" Ann said .", "\" No . \"", "Bob left ."]);
    }
}
