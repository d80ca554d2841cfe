//! Name lists every stage shares (`data/`, written by scripts/name_lists.py from the pinned
//! pycountryinfo wheel the NER gazetteer also reads): words for groups of people (nationalities,
//! religions, political and ethnic groups: the NORP class) and the names each country goes by.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

const GROUPS: &str = include_str!("../data/groups.txt");
const COUNTRIES: &str = include_str!("../data/countries.tsv");

/// Words that make a phrase a role or title.
pub const TITLES: &[&str] = &[
    "secretary",
    "president",
    "minister",
    "ambassador",
    "spokesperson",
    "spokesman",
    "spokeswoman",
    "envoy",
    "senator",
    "sen.",
    "representative",
    "rep.",
    "governor",
    "gov.",
    "mayor",
    "director",
    "chief",
    "chairman",
    "chairwoman",
    "chair",
    "general",
    "gen.",
    "commander",
    "leader",
    "king",
    "queen",
    "prince",
    "pope",
    "judge",
    "justice",
    "attorney",
    "adviser",
    "advisor",
    "official",
    "officer",
    "head",
    "ceo",
    "founder",
    "editor",
    "correspondent",
    "reporter",
    "analyst",
    "professor",
    "premier",
    "chancellor",
    "deputy",
    "assistant",
    "undersecretary",
    "speaker",
    "lawmaker",
    "coordinator",
    "administrator",
    "commissioner",
    "prosecutor",
    "colonel",
    "sergeant",
    "captain",
    "admiral",
    "lieutenant",
    "emir",
    "cardinal",
    "bishop",
    "rabbi",
    "imam",
    "coach",
    "manager",
    "vice",
    "diplomat",
    "negotiator",
    "executive",
    "economist",
    "researcher",
    "scientist",
    "activist",
    "candidate",
    "nominee",
    "member",
    "source",
];

/// Day and month names, lower case.
pub const CALENDAR: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Capitalised words that are no name on their own: titles, day and month names, and the heads
/// of institution names ("State" of "Secretary of State", "Department").
pub fn is_name_word(label: &str) -> bool {
    const HEADS: &[&str] = &["state", "department", "house", "ministry", "office", "council", "agency", "government", "committee", "administration"];
    let l = label.trim().to_lowercase();
    // A phrase of titles only ("Deputy Assistant Secretary", "Secretary of State") is a title.
    let title_only = l.split_whitespace().filter(|w| !matches!(*w, "of" | "for" | "and" | "the")).all(|w| TITLES.contains(&w) || HEADS.contains(&w));
    !(l.chars().count() < 3 || CALENDAR.contains(&l.as_str()) || title_only || is_group(label))
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// A name's lookup form: lower case, dots and "the" left out ("the U.S." = "us").
pub fn lookup_form(name: &str) -> String {
    let lower = name.trim().to_lowercase();
    let lower = lower.strip_prefix("the ").unwrap_or(&lower);
    lower.chars().filter(|c| *c != '.').collect::<String>().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a name is a word for a group of people ("Israeli", "Palestinians", "Jewish",
/// "Republicans"), not a person, place or organisation.
pub fn is_group(name: &str) -> bool {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    let set = SET.get_or_init(|| lines(GROUPS).collect());
    let form = lookup_form(name);
    !form.is_empty() && !form.contains(' ') && set.contains(form.as_str())
}

/// The common name of the country a name stands for ("U.S.", "USA", "United States of America"
/// -> "United States"), if it is one.
pub fn country(name: &str) -> Option<&'static str> {
    static MAP: OnceLock<HashMap<String, &'static str>> = OnceLock::new();
    let map = MAP.get_or_init(|| {
        let mut m = HashMap::new();
        for line in lines(COUNTRIES) {
            let mut names = line.split('\t');
            let Some(canonical) = names.next() else { continue };
            for n in std::iter::once(canonical).chain(names) {
                m.entry(lookup_form(n)).or_insert(canonical);
            }
        }
        m
    });
    map.get(&lookup_form(name)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_countries_come_from_the_lists() {
        for g in ["Israeli", "Palestinians", "Jewish", "Arab", "Republicans", "American"] {
            assert!(is_group(g), "{g}");
        }
        for n in ["Israel", "Joe Biden", "Hamas", "Gaza", "State"] {
            assert!(!is_group(n), "{n}");
        }
        assert_eq!(country("U.S."), Some("United States"));
        assert_eq!(country("the United States"), Some("United States"));
        assert_eq!(country("USA"), Some("United States"));
        assert_eq!(country("United Kingdom of Great Britain and Northern Ireland"), Some("United Kingdom"));
        assert_eq!(country("Hamas"), None);
        for w in ["Secretary", "State", "Wednesday", "de", "Israeli", "Deputy Assistant Secretary", "Secretary of State"] {
            assert!(!is_name_word(w), "{w}");
        }
        for w in ["Hady Amr", "Gaza", "State Department of Ohio", "United States"] {
            assert!(is_name_word(w), "{w}");
        }
    }
}
