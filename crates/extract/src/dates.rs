//! Dates in the forms news pages and scraped texts write them, normalised to ISO 8601.

use std::sync::LazyLock;

use chrono::{NaiveDate, NaiveTime};
use regex::Regex;

pub use storyline_model::Published;

const MONTHS: &str = r"(?:jan(?:uary|\.)?|feb(?:ruary|\.)?|mar(?:ch|\.)?|apr(?:il|\.)?|may|june?|july?|aug(?:ust|\.)?|sep(?:t(?:ember|\.)?|\.)?|oct(?:ober|\.)?|nov(?:ember|\.)?|dec(?:ember|\.)?|januar|februar|märz|mai|juni|juli|oktober|dezember|janvier|février|fevrier|mars|avril|juin|juillet|août|aout|septembre|octobre|novembre|décembre|decembre|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre|gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre|janeiro|fevereiro|março|marco|maio|junho|julho|setembro|outubro|novembro|dezembro|januari|februari|maart|mei|augustus|januar|januara|stycznia|lutego|marca|kwietnia|maja|czerwca|lipca|sierpnia|września|wrzesnia|października|pazdziernika|listopada|grudnia|января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря|січня|лютого|березня|квітня|травня|червня|липня|серпня|вересня|жовтня|листопада|грудня|يناير|فبراير|مارس|أبريل|ابريل|إبريل|مايو|يونيو|يونيه|يوليو|يوليه|أغسطس|اغسطس|سبتمبر|أكتوبر|اكتوبر|نوفمبر|ديسمبر|شباط|آذار|نيسان|أيار|حزيران|تموز|آب|أيلول)";

static ISO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?-u:\b)((?:19|20)\d\d)[-/.](1[0-2]|0?[1-9])[-/.](3[01]|[12]\d|0?[1-9])(?:[T ](2[0-3]|[01]?\d):([0-5]\d)(?::([0-5]\d)(?:\.\d+)?)?\s*(Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)?)?").unwrap()
});
static MONTH_FIRST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?i)(?:^|[^\p{{L}}\p{{N}}])({MONTHS})\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+((?:19|20)\d\d)(?-u:\b)(?:,?\s*(?:at\s+)?(\d{{1,2}})[:.](\d\d)(?:\s*([ap])\.?m\.?)?)?"))
        .unwrap()
});
static DAY_FIRST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?i)(?-u:\b)(\d{{1,2}})(?:st|nd|rd|th|\.)?\s+(?:of\s+|de\s+)?({MONTHS})\.?(?:\s*/\s*{MONTHS})?,?\s+(?:de\s+|del\s+)?((?:19|20)\d\d)(?-u:\b)(?:,?\s*(?:at\s+|um\s+|à\s+)?(\d{{1,2}})[:.h](\d\d)(?:\s*(?:([ap])\.?m\.?|([مص])(?:ساءً?|باحاً?)?(?:\s|$)))?)?")).unwrap()
});
// "12.05.2021", "12/05/2021", and with a space after each dot ("4. 2. 2022", thin or no-break
// spaces included).
static NUMERIC_DMY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)(3[01]|[12]\d|0?[1-9])(?:/|\.[ \x{a0}\x{2009}\x{202f}]?)(1[0-2]|0?[1-9])(?:/|\.[ \x{a0}\x{2009}\x{202f}]?)((?:19|20)\d\d)(?-u:\b)")
        .unwrap()
});
// Chinese, Japanese and Korean: "2020年07月12日", "2020년 7월 12일", with an optional clock time.
static YMD_CJK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"((?:19|20)\d\d)\s*[年년]\s*(1[0-2]|0?[1-9])\s*[月월]\s*(3[01]|[12]\d|0?[1-9])\s*[日일]?(?:\s*(?:\([^)]{1,3}\)|（[^）]{1,3}）)?\s*(2[0-3]|[01]?\d)[:時시]\s*([0-5]\d))?").unwrap()
});
static URL_DATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"/((?:19|20)\d\d)[/_-]?(0[1-9]|1[0-2])[/_-]?(0[1-9]|[12]\d|3[01])(?:/|[_-]|\.html?|$)").unwrap());

/// Finds the first date written anywhere in `text` (ISO, "May 12, 2021 18:58", "12 May 2021",
/// "12.05.2021"), with its byte range in `text`.
pub fn find_date(text: &str) -> Option<(Published, std::ops::Range<usize>)> {
    // Every form needs a year 19xx or 20xx: skip the regexes when there is none.
    if !text.as_bytes().windows(4).any(|w| (w[0] == b'1' && w[1] == b'9' || w[0] == b'2' && w[1] == b'0') && w[2].is_ascii_digit() && w[3].is_ascii_digit()) {
        return None;
    }
    let mut best: Option<(Published, std::ops::Range<usize>)> = None;
    let mut consider = |found: Option<(Published, std::ops::Range<usize>)>| {
        if let Some((date, range)) = found {
            if best.as_ref().is_none_or(|(_, r)| range.start < r.start) {
                best = Some((date, range));
            }
        }
    };
    consider(ISO.captures(text).and_then(|c| {
        let date = NaiveDate::from_ymd_opt(num(&c, 1)?, num(&c, 2)?, num(&c, 3)?)?;
        let time = c.get(4).and_then(|_| NaiveTime::from_hms_opt(num(&c, 4)?, num(&c, 5)?, c.get(6).map_or(Some(0), |_| num(&c, 6))?));
        let offset = c.get(7).and_then(|m| parse_offset(m.as_str()));
        Some((Published { date, time, offset_minutes: offset }, c.get(0)?.range()))
    }));
    consider(MONTH_FIRST.captures(text).and_then(|c| {
        let date = NaiveDate::from_ymd_opt(num(&c, 3)?, month_number(c.get(1)?.as_str())?, num(&c, 2)?)?;
        // The pattern consumes the character before the month name (a Unicode-aware word
        // boundary would force the slow regex engine on non-ASCII text): start at the month.
        Some((Published { date, time: clock(&c, 4, 5, 6), offset_minutes: None }, c.get(1)?.start()..c.get(0)?.end()))
    }));
    consider(DAY_FIRST.captures(text).and_then(|c| {
        let date = NaiveDate::from_ymd_opt(num(&c, 3)?, month_number(c.get(2)?.as_str())?, num(&c, 1)?)?;
        Some((Published { date, time: clock(&c, 4, 5, 6), offset_minutes: None }, c.get(0)?.range()))
    }));
    consider(YMD_CJK.captures(text).and_then(|c| {
        let date = NaiveDate::from_ymd_opt(num(&c, 1)?, num(&c, 2)?, num(&c, 3)?)?;
        Some((Published { date, time: clock(&c, 4, 5, 6), offset_minutes: None }, c.get(0)?.range()))
    }));
    consider(NUMERIC_DMY.captures(text).and_then(|c| {
        let date = NaiveDate::from_ymd_opt(num(&c, 3)?, num(&c, 2)?, num(&c, 1)?)?;
        Some((Published::day(date), c.get(0)?.range()))
    }));
    best
}

/// Parses a whole string that is meant to be a date (a meta tag's content, a JSON field).
pub fn parse_date(value: &str) -> Option<Published> {
    let value = value.trim();
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(value) {
        return Some(Published { date: dt.date_naive(), time: Some(dt.time()), offset_minutes: Some(dt.offset().local_minus_utc() / 60) });
    }
    if let Ok(dt) = chrono::DateTime::parse_from_rfc2822(value) {
        return Some(Published { date: dt.date_naive(), time: Some(dt.time()), offset_minutes: Some(dt.offset().local_minus_utc() / 60) });
    }
    if value.len() >= 8 && value.len() <= 14 && value.bytes().all(|b| b.is_ascii_digit()) {
        // 20210512 or 202105121858
        let date = NaiveDate::parse_from_str(&value[..8], "%Y%m%d").ok()?;
        return plausible(date).then(|| Published::day(date));
    }
    find_date(value).map(|(d, _)| d).filter(|d| plausible(d.date))
}

/// A date in a URL path: `/2021/05/12/`, `/20210512/`, `/2021-05-12-`.
pub fn url_date(url: &str) -> Option<NaiveDate> {
    let c = URL_DATE.captures(url)?;
    let date = NaiveDate::from_ymd_opt(num(&c, 1)?, num(&c, 2)?, num(&c, 3)?)?;
    plausible(date).then_some(date)
}

/// News dates before the web or in the future (relative to the build's idea of now) are noise.
pub fn plausible(date: NaiveDate) -> bool {
    let today = chrono::Utc::now().date_naive();
    date.year_ce().1 >= 1995 && date <= today + chrono::Duration::days(1)
}

use chrono::Datelike;

fn num<T: std::str::FromStr>(c: &regex::Captures<'_>, i: usize) -> Option<T> {
    c.get(i)?.as_str().parse().ok()
}

fn clock(c: &regex::Captures<'_>, h: usize, m: usize, ampm: usize) -> Option<NaiveTime> {
    let mut hour: u32 = num(c, h)?;
    let minute: u32 = num(c, m)?;
    // a.m./p.m., or (the group after it, where a pattern has one) Arabic م / ص.
    match c.get(ampm).or_else(|| c.get(ampm + 1)).map(|m| m.as_str().to_ascii_lowercase()).as_deref() {
        Some("p" | "م") if hour < 12 => hour += 12,
        Some("a" | "ص") if hour == 12 => hour = 0,
        _ => {}
    }
    NaiveTime::from_hms_opt(hour, minute, 0)
}

fn parse_offset(s: &str) -> Option<i32> {
    if s.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let sign = if s.starts_with('-') { -1 } else { 1 };
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    let hours: i32 = digits.get(..2)?.parse().ok()?;
    let minutes: i32 = digits.get(2..4)?.parse().ok()?;
    Some(sign * (hours * 60 + minutes))
}

/// Month number from a month name or abbreviation (English, German, French, Spanish, Italian,
/// Portuguese, Dutch, Polish, Russian, Ukrainian, Arabic).
pub fn month_number(name: &str) -> Option<u32> {
    let n = name.trim_end_matches('.').to_lowercase();
    let table: &[(&[&str], u32)] = &[
        (&["jan", "january", "januar", "janvier", "enero", "gennaio", "janeiro", "januari", "stycznia", "января", "січня", "يناير"], 1),
        (
            &[
                "feb",
                "february",
                "februar",
                "février",
                "fevrier",
                "febrero",
                "febbraio",
                "fevereiro",
                "februari",
                "lutego",
                "февраля",
                "лютого",
                "فبراير",
                "شباط",
            ],
            2,
        ),
        (&["mar", "march", "märz", "mars", "marzo", "março", "marco", "maart", "marca", "марта", "березня", "مارس", "آذار"], 3),
        (&["apr", "april", "avril", "abril", "aprile", "kwietnia", "апреля", "квітня", "أبريل", "ابريل", "إبريل", "نيسان"], 4),
        (&["may", "mai", "mayo", "maggio", "maio", "mei", "maja", "мая", "травня", "مايو", "أيار"], 5),
        (&["jun", "june", "juni", "juin", "junio", "giugno", "junho", "czerwca", "июня", "червня", "يونيو", "يونيه", "حزيران"], 6),
        (&["jul", "july", "juli", "juillet", "julio", "luglio", "julho", "lipca", "июля", "липня", "يوليو", "يوليه", "تموز"], 7),
        (&["aug", "august", "août", "aout", "agosto", "augustus", "sierpnia", "августа", "серпня", "أغسطس", "اغسطس", "آب"], 8),
        (
            &[
                "sep",
                "sept",
                "september",
                "septembre",
                "septiembre",
                "setiembre",
                "settembre",
                "setembro",
                "września",
                "wrzesnia",
                "сентября",
                "вересня",
                "سبتمبر",
                "أيلول",
            ],
            9,
        ),
        (
            &["oct", "october", "oktober", "octobre", "octubre", "ottobre", "outubro", "października", "pazdziernika", "октября", "жовтня", "أكتوبر", "اكتوبر"],
            10,
        ),
        (&["nov", "november", "novembre", "noviembre", "novembro", "listopada", "ноября", "листопада", "نوفمبر"], 11),
        (&["dec", "december", "dezember", "décembre", "decembre", "diciembre", "dicembre", "dezembro", "grudnia", "декабря", "грудня", "ديسمبر"], 12),
    ];
    table.iter().find(|(names, _)| names.contains(&n.as_str())).map(|(_, m)| *m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<&str>) {
        assert_eq!(find_date(input).map(|(d, _)| d.to_iso()).as_deref(), expected, "{input}");
    }

    #[test]
    fn common_forms() {
        check("date 2021-05-12", Some("2021-05-12"));
        check("MAY 12, 2021 18:58", Some("2021-05-12T18:58:00"));
        check("Date: November 3, 2023", Some("2023-11-03"));
        check("Published 12 May 2021, 6:58 p.m.", Some("2021-05-12T18:58:00"));
        check("Updated: Sept. 4, 2019 at 10:15 am", Some("2019-09-04T10:15:00"));
        check("2021-05-12T18:58:00+03:00", Some("2021-05-12T18:58:00+03:00"));
        check("Stand: 03.11.2023", Some("2023-11-03"));
        check("am 3. November 2023", Some("2023-11-03"));
        check("martes, 14 de abril de 2020", Some("2020-04-14"));
        check("15 августа 2016, 13:43", Some("2016-08-15T13:43:00"));
        check("2020年07月12日 | 情報", Some("2020-07-12"));
        check("发布时间：2020年1月2日 08:15", Some("2020-01-02T08:15:00"));
        check("입력 2020년 7월 12일", Some("2020-07-12"));
        check("الأربعاء، 07 أكتوبر 2020 - 12:09 م", Some("2020-10-07"));
        check("تم نشره الجمعة 24 نيسان / أبريل 2020 09:22 مساءً", Some("2020-04-24T21:22:00"));
        check("Von Deutscher Tennis Bund 4.\u{2009}2.\u{2009}2022.", Some("2022-02-04"));
        check("4. 2. 2022", Some("2022-02-04"));
        check("no date in here, 1,500 rockets", None);
        check("version 1. 2. 3 of 2020", None);
        check("Feb 30, 2021", None);
    }

    #[test]
    fn whole_values_and_urls() {
        assert_eq!(parse_date("2021-05-12T15:58:00Z").unwrap().to_iso(), "2021-05-12T15:58:00Z");
        assert_eq!(parse_date("Wed, 12 May 2021 15:58:00 +0000").unwrap().to_iso(), "2021-05-12T15:58:00Z");
        assert_eq!(parse_date("20210512").unwrap().to_iso(), "2021-05-12");
        assert_eq!(url_date("https://example.com/news/2021/05/12/slug"), NaiveDate::from_ymd_opt(2021, 5, 12));
        assert_eq!(url_date("https://example.com/2021-05-12-slug.html"), NaiveDate::from_ymd_opt(2021, 5, 12));
        assert_eq!(url_date("https://example.com/article/123456"), None);
    }
}
