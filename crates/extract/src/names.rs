//! Personal names in bylines and reporting credits, told apart from outlet names.

/// Words that mark an organisation rather than a person.
const ORG_WORDS: &[&str] = &[
    "agency",
    "news",
    "press",
    "times",
    "post",
    "media",
    "network",
    "reuters",
    "afp",
    "ap",
    "bloomberg",
    "xinhua",
    "staff",
    "desk",
    "wire",
    "service",
    "services",
    "journal",
    "tribune",
    "herald",
    "daily",
    "gazette",
    "magazine",
    "radio",
    "tv",
    "television",
    "channel",
    "online",
    "group",
    "editorial",
    "team",
    "correspondent",
    "bureau",
    "newsroom",
];

/// Lower-case name particles allowed inside a personal name.
const PARTICLES: &[&str] = &["de", "da", "del", "der", "van", "von", "al", "el", "bin", "ibn", "la", "le", "di", "du", "dos", "ben", "abu"];

/// Splits a byline's text ("Jane Doe, John Q. Public and Ann Lee | Example Times") into people
/// and outlets.
pub fn split_byline(text: &str) -> (Vec<String>, Vec<String>) {
    let mut people = Vec::new();
    let mut outlets = Vec::new();
    for part in split_list(text) {
        let part = part.trim_matches(|c: char| c.is_whitespace() || matches!(c, '.' | ',' | '-' | '–' | '—' | ':'));
        if part.is_empty() {
            continue;
        }
        if let Some(name) = person_name(part) {
            people.push(name);
        } else if part.split_whitespace().count() <= 6 {
            outlets.push(part.to_owned());
        }
    }
    (people, outlets)
}

/// People named in a reporting credit ("A and B contributed reporting", "This article includes
/// reporting from A in Gaza, B in Ramallah. The article was written by C, with editing by D.").
pub fn people_in_credit(line: &str) -> Vec<String> {
    let mut people = Vec::new();
    for sentence in line.split(['.', ';']).filter(|s| !s.trim().is_empty()) {
        // Keep the part that lists names: after the last "by"/"from", or before "contributed".
        let lower = sentence.to_lowercase();
        let names_part = if let Some(pos) = lower.find(" contributed") { &sentence[..pos] } else { sentence };
        for part in split_list(names_part) {
            let mut part = part.trim();
            let lower_part = part.to_lowercase();
            for cue in [" by ", " from ", "by ", "from "] {
                if let Some(pos) = lower_part.rfind(cue) {
                    part = &part[pos + cue.len()..];
                    break;
                }
            }
            // "Name in Place": drop the place.
            if let Some(pos) = part.find(" in ") {
                part = &part[..pos];
            }
            if let Some(name) = person_name(part.trim()) {
                if !people.contains(&name) {
                    people.push(name);
                }
            }
        }
    }
    people
}

fn split_list(text: &str) -> Vec<&str> {
    let mut parts = vec![text];
    for sep in [",", ";", "|", "&", " and ", " And ", " AND ", " with ", " y ", " und ", " et "] {
        parts = parts.into_iter().flat_map(|p| p.split(sep)).collect();
    }
    parts
}

/// A personal name: 2 to 5 words, each capitalised (or all capitals, or a particle, or an
/// initial), not an organisation. All-capital names are title-cased.
pub fn person_name(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if !(2..=5).contains(&words.len()) {
        return None;
    }
    let mut out = Vec::with_capacity(words.len());
    for (i, word) in words.iter().enumerate() {
        let bare = word.trim_matches(|c: char| !c.is_alphanumeric());
        let lower = bare.to_lowercase();
        if ORG_WORDS.contains(&lower.as_str()) {
            return None;
        }
        let first = bare.chars().next()?;
        if !first.is_alphabetic() {
            return None;
        }
        if first.is_lowercase() {
            // "al-Mughrabi", "bin Salman": particles, and prefixes joined to a capitalised name.
            let joined_prefix = bare.split_once(['-', '\'']).is_some_and(|(_, rest)| rest.chars().next().is_some_and(char::is_uppercase));
            if joined_prefix {
                out.push(word.to_string());
                continue;
            }
            if i == 0 || i + 1 == words.len() || !PARTICLES.contains(&lower.as_str()) {
                return None;
            }
            out.push(word.to_string());
            continue;
        }
        let is_caps = bare.chars().filter(|c| c.is_alphabetic()).count() > 1 && bare.chars().all(|c| !c.is_lowercase());
        out.push(if is_caps { title_case(word) } else { word.to_string() });
    }
    Some(out.join(" "))
}

fn title_case(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut start = true;
    let mut segment = 0;
    for c in word.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        // A new capital after a hyphen, and after an apostrophe that follows one letter (O'Neill).
        start = !c.is_alphabetic() && (c != '\'' || segment == 1);
        segment = if c.is_alphabetic() { segment + 1 } else { 0 };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bylines() {
        assert_eq!(split_byline("JANE DOE, JOHN Q. PUBLIC"), (vec!["Jane Doe".to_owned(), "John Q. Public".to_owned()], vec![]));
        assert_eq!(split_byline("the morning ledger"), (vec![], vec!["the morning ledger".to_owned()]));
        assert_eq!(split_byline("Ann Lee | Example Times"), (vec!["Ann Lee".to_owned()], vec!["Example Times".to_owned()]));
        assert_eq!(split_byline("Maria de la Cruz and O'NEILL SMITH"), (vec!["Maria de la Cruz".to_owned(), "O'Neill Smith".to_owned()], vec![]));
    }

    #[test]
    fn credits() {
        assert_eq!(people_in_credit("Ann Smith and Bo Chen contributed reporting."), ["Ann Smith", "Bo Chen"]);
        assert_eq!(
            people_in_credit("This report includes reporting from Ana el-Diaz in Lima, Tom Ek and Li Wu in Tel Aviv. The story was written by Sam Roe, with editing by Kim Park."),
            ["Ana el-Diaz", "Tom Ek", "Li Wu", "Sam Roe", "Kim Park"]
        );
    }
}
