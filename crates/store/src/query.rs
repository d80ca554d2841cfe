//! Query preprocessing: lets users write dates the way they think of them
//! (`published:2021-05`, `published:[2021-05-01 TO 2021-05-31]`, `published:>=2021`) and turns
//! them into the RFC 3339 ranges tantivy's parser understands. Field aliases too
//! (`author:` for `authors:`, `date:` for `published:`).

use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate};
use regex::{Captures, Regex};

static ALIASES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(author|contributor|date|lang|source|site|headline|body):").unwrap());
static RANGE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"published:([\[{])\s*(\S+)\s+TO\s+(\S+?)\s*([\]}])").unwrap());
static COMPARE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"published:(>=|<=|>|<)\s*(\S+)").unwrap());
static NOT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?:\bAND\s+)?\bNOT\s+").unwrap());
static SINGLE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"published:"?(\d{4}(?:-\d{2}(?:-\d{2})?)?)"?(?:\s|$|\))"#).unwrap());

/// A user's query, checked and parsed once: its shape (length, nesting), its dates and aliases,
/// and the syntax. Every backend answers it through the same [`crate::SearchIndex`], so the
/// syntax means the same everywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    text: String,
    rewritten: String,
}

impl Query {
    /// Parses a query; the error (always [`crate::Error::Query`]) names what is wrong.
    pub fn parse(text: &str) -> crate::Result<Query> {
        check_shape(text).map_err(crate::Error::Query)?;
        let rewritten = rewrite_dates(text).map_err(crate::Error::Query)?;
        crate::index::validate(&rewritten, text)?;
        Ok(Query { text: text.to_owned(), rewritten })
    }

    /// The query as the user wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// In the index's own syntax (dates as RFC 3339 ranges, aliases resolved).
    pub(crate) fn rewritten(&self) -> &str {
        &self.rewritten
    }
}

impl std::str::FromStr for Query {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Query> {
        Query::parse(s)
    }
}

/// Deepest nesting of parentheses a query may have. The query parser and the query tree it
/// builds recurse once per level, so user input must not choose the depth.
pub const MAX_QUERY_DEPTH: usize = 32;
/// Longest query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 8 * 1024;

/// Checks what the parser must not be handed: a query longer than [`MAX_QUERY_BYTES`] or nested
/// deeper than [`MAX_QUERY_DEPTH`] (parentheses outside quoted phrases, balanced or not).
pub fn check_shape(query: &str) -> Result<(), String> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(format!("query is {} bytes long; at most {MAX_QUERY_BYTES} are accepted", query.len()));
    }
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in query.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            '(' if !quoted => {
                depth += 1;
                if depth > MAX_QUERY_DEPTH {
                    return Err(format!("query nests parentheses more than {MAX_QUERY_DEPTH} deep"));
                }
            }
            ')' if !quoted => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// A query as quoted in an error message: cut to its first 80 characters.
pub fn quoted(query: &str) -> String {
    match query.char_indices().nth(80) {
        Some((cut, _)) => format!("`{}...` ({} bytes)", &query[..cut], query.len()),
        None => format!("`{query}`"),
    }
}

/// Rewrites aliases and date syntax; errors name the value that is not a date.
pub fn rewrite_dates(query: &str) -> Result<String, String> {
    // tantivy reads `a AND NOT b` as a conjunction with an empty clause; `-b` is what it means.
    let query = NOT.replace_all(query, "-");
    let query = ALIASES.replace_all(&query, |c: &Captures<'_>| {
        let field = match &c[1] {
            "author" => "authors",
            "contributor" => "contributors",
            "date" => "published",
            "lang" => "language",
            "source" => "credited_source",
            "site" => "outlet",
            "headline" => "title",
            _ => "text",
        };
        format!("{field}:")
    });
    let mut error = None;
    let mut fail = |e: String| {
        error.get_or_insert(e);
        String::new()
    };
    let query = RANGE.replace_all(&query, |c: &Captures<'_>| {
        let lower = match bound(&c[2], false) {
            Ok(b) => b,
            Err(e) => return fail(e),
        };
        let upper_inclusive = &c[4] == "]";
        let upper = match bound(&c[3], upper_inclusive) {
            Ok(b) => b,
            Err(e) => return fail(e),
        };
        // A partial date as inclusive upper bound means "up to the end of that period".
        let close = if upper_inclusive && is_partial(&c[3]) { "}" } else { &c[4] };
        format!("published:{}{} TO {}{}", &c[1], lower, upper, close)
    });
    let query = COMPARE.replace_all(&query, |c: &Captures<'_>| {
        let (op, value) = (&c[1], &c[2]);
        let result = match op {
            ">=" => bound(value, false).map(|b| format!("published:[{b} TO *]")),
            ">" => bound(value, true).map(|b| format!("published:[{b} TO *]")),
            "<" => bound(value, false).map(|b| format!("published:[* TO {b}}}")),
            _ => bound(value, true).map(|b| format!("published:[* TO {b}}}")),
        };
        result.unwrap_or_else(&mut fail)
    });
    let query = SINGLE.replace_all(&query, |c: &Captures<'_>| {
        let whole = &c[0];
        let tail = &whole[whole.trim_end_matches([' ', ')', '\t', '\n']).len()..];
        match (bound(&c[1], false), bound(&c[1], true)) {
            (Ok(lo), Ok(hi)) => format!("published:[{lo} TO {hi}}}{tail}"),
            (Err(e), _) | (_, Err(e)) => fail(e),
        }
    });
    match error {
        Some(e) => Err(e),
        None => Ok(query.into_owned()),
    }
}

fn is_partial(value: &str) -> bool {
    value != "*" && !value.contains('T')
}

/// One range bound as RFC 3339. `end` asks for the first instant after the period a partial
/// date names (the day after `2021-05-31`, the month after `2021-05`).
fn bound(value: &str, end: bool) -> Result<String, String> {
    if value == "*" {
        return Ok("*".to_owned());
    }
    if value.contains('T') {
        return chrono::DateTime::parse_from_rfc3339(value)
            .map(|d| d.to_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .map_err(|e| format!("`{value}` is not a date ({e})"));
    }
    let bad = || format!("`{value}` is not a date: use YYYY, YYYY-MM, YYYY-MM-DD or RFC 3339");
    let parts: Vec<&str> = value.split('-').collect();
    let nums: Vec<u32> = parts.iter().map(|p| p.parse::<u32>()).collect::<Result<_, _>>().map_err(|_| bad())?;
    let start = match nums.as_slice() {
        [y] => NaiveDate::from_ymd_opt(*y as i32, 1, 1),
        [y, m] => NaiveDate::from_ymd_opt(*y as i32, *m, 1),
        [y, m, d] => NaiveDate::from_ymd_opt(*y as i32, *m, *d),
        _ => None,
    }
    .ok_or_else(bad)?;
    let date = if !end {
        start
    } else {
        match nums.len() {
            1 => NaiveDate::from_ymd_opt(start.year() + 1, 1, 1),
            2 => start.checked_add_months(chrono::Months::new(1)),
            _ => start.succ_opt(),
        }
        .ok_or_else(bad)?
    };
    Ok(format!("{}T00:00:00Z", date.format("%Y-%m-%d")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(rewrite_dates(input).unwrap(), expected);
    }

    #[test]
    fn date_forms() {
        check("published:[2021-05-01 TO 2021-05-31]", "published:[2021-05-01T00:00:00Z TO 2021-06-01T00:00:00Z}");
        check("gaza AND date:2021-05", "gaza AND published:[2021-05-01T00:00:00Z TO 2021-06-01T00:00:00Z}");
        check("published:>=2023 author:\"Jane Doe\"", "published:[2023-01-01T00:00:00Z TO *] authors:\"Jane Doe\"");
        check("published:<2021-05-12", "published:[* TO 2021-05-12T00:00:00Z}");
        check("(published:2021)", "(published:[2021-01-01T00:00:00Z TO 2022-01-01T00:00:00Z})");
        check("\"source link\" OR title:blinken", "\"source link\" OR title:blinken");
        check("gaza AND NOT hamas NOT israel", "gaza -hamas -israel");
        assert!(rewrite_dates("published:[2021-13-01 TO *]").is_err());
    }

    #[test]
    fn depth_and_length_are_checked_before_parsing() {
        assert_eq!(check_shape("gaza AND (hamas OR (israel -\"cease (fire\"))"), Ok(()));
        assert_eq!(check_shape(&format!("{}a{}", "(".repeat(32), ")".repeat(32))), Ok(()));
        for deep in [format!("{}a{}", "(".repeat(33), ")".repeat(33)), "+(".repeat(5000), "((a)".repeat(40)] {
            let err = check_shape(&deep).unwrap_err();
            assert!(err.contains("more than 32 deep") || err.contains("bytes long"), "{err}");
        }
        // Parentheses in a phrase or escaped are words, not nesting.
        assert_eq!(check_shape(&format!("\"{}\"", "(".repeat(100))), Ok(()));
        assert_eq!(check_shape(&"\\(".repeat(100)), Ok(()));
        assert!(check_shape(&"a ".repeat(5000)).unwrap_err().contains("at most 8192"));
        assert_eq!(quoted(&"x".repeat(100)), format!("`{}...` (100 bytes)", "x".repeat(80)));
    }
}
