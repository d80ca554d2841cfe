//! Entity resolution across articles: "Antony J. Blinken", "Secretary of State Antony Blinken",
//! "Mr. Blinken" and "Blinken" are one person; two people who share a surname are kept apart
//! and a bare surname that could be either is flagged, not guessed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use storyline_model::{ArticleId, Entity, EntityId, EntityType, Facts, Published, Role, StoryId};
use xxhash_rust::xxh3::xxh3_64;

const HONORIFICS: &[&str] = &["mr.", "mrs.", "ms.", "dr.", "mr", "mrs", "ms", "dr", "miss", "sir", "dame", "prof."];
const SUFFIXES: &[&str] = &["jr.", "jr", "sr.", "sr", "ii", "iii", "iv"];

/// One article's facts with what resolution needs to know about the article.
pub struct ArticleFacts<'a> {
    pub article: &'a ArticleId,
    pub published: Option<Published>,
    /// The story the article belongs to, if any: a bare surname is first looked for there.
    pub story: Option<StoryId>,
    pub facts: &'a Facts,
}

/// The words of a person's name without honorific, possessive and generational suffix.
fn name_words(text: &str) -> Vec<String> {
    // Brackets of an editorial insertion go ("[Joe] Biden" is Joe Biden).
    let mut w: Vec<String> = text
        .split_whitespace()
        .map(|w| w.trim_end_matches("'s").trim_end_matches("’s").trim_matches(|c| c == '[' || c == ']').to_string())
        .filter(|w| !w.is_empty())
        .collect();
    while w.first().is_some_and(|f| HONORIFICS.contains(&f.to_lowercase().as_str())) {
        w.remove(0);
    }
    while w.len() > 1 && w.last().is_some_and(|l| SUFFIXES.contains(&l.to_lowercase().as_str())) {
        w.pop();
    }
    w
}

fn norm_key(text: &str) -> String {
    let t = text.trim_start_matches("the ").trim_start_matches("The ");
    t.chars().filter(|c| c.is_alphanumeric() || c.is_whitespace()).collect::<String>().to_lowercase().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A person known by a full name: surname, first name.
#[derive(Clone)]
struct Person {
    last: String,
    first: String,
}

fn compatible(a: &Person, b: &Person) -> bool {
    a.last == b.last && a.first.chars().next().map(|c| c.to_ascii_lowercase()) == b.first.chars().next().map(|c| c.to_ascii_lowercase())
}

/// Resolves every mention; returns the entities and, per article, the entity id of each mention
/// (in mention order; `None` for a mention that could not be placed).
pub fn resolve(articles: &[ArticleFacts<'_>]) -> (Vec<Entity>, HashMap<ArticleId, Vec<Option<EntityId>>>) {
    // 1. People with full names: grouped by surname and compatible first name.
    let mut people: Vec<Person> = Vec::new();
    let mut person_of_full: HashMap<(usize, usize), usize> = HashMap::new();
    for (ai, a) in articles.iter().enumerate() {
        for (mi, m) in a.facts.mentions.iter().enumerate() {
            if m.kind != EntityType::Person {
                continue;
            }
            let w = name_words(&m.text);
            if w.len() < 2 {
                continue;
            }
            let p = Person { last: w[w.len() - 1].to_lowercase(), first: w[0].to_lowercase() };
            // Two different first names with one surname in one article are two people.
            let idx = match people.iter().position(|q| compatible(q, &p)) {
                Some(i) => i,
                None => {
                    people.push(p);
                    people.len() - 1
                }
            };
            person_of_full.insert((ai, mi), idx);
        }
    }
    let mut by_last: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in people.iter().enumerate() {
        by_last.entry(p.last.as_str()).or_default().push(i);
    }
    // People named in full per article and per story, for bare surnames.
    let mut in_article: HashMap<usize, BTreeSet<usize>> = HashMap::new();
    let mut in_story: HashMap<&str, BTreeSet<usize>> = HashMap::new();
    for (&(ai, _), &p) in &person_of_full {
        in_article.entry(ai).or_default().insert(p);
        if let Some(s) = articles[ai].story.as_ref().map(StoryId::as_str) {
            in_story.entry(s).or_default().insert(p);
        }
    }
    // 2. Every mention to a key: a person index, an ambiguous surname, or a normalised name.
    #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
    enum Key {
        Person(usize),
        Ambiguous(String),
        Name(String),
    }
    let mut keys: Vec<Vec<Option<Key>>> = Vec::new();
    for (ai, a) in articles.iter().enumerate() {
        let mut row = Vec::new();
        for (mi, m) in a.facts.mentions.iter().enumerate() {
            if let Some(&p) = person_of_full.get(&(ai, mi)) {
                row.push(Some(Key::Person(p)));
                continue;
            }
            let w = name_words(&m.text);
            let single = w.len() == 1;
            let surname = w.first().map(|s| s.to_lowercase()).unwrap_or_default();
            let candidates = by_last.get(surname.as_str()).filter(|_| single);
            let key = match candidates {
                Some(c) => {
                    let pick = |scope: Option<&BTreeSet<usize>>| -> Option<Vec<usize>> {
                        let v: Vec<usize> = c.iter().copied().filter(|p| scope.is_some_and(|s| s.contains(p))).collect();
                        (!v.is_empty()).then_some(v)
                    };
                    let scoped =
                        pick(in_article.get(&ai)).or_else(|| pick(a.story.as_ref().and_then(|s| in_story.get(s.as_str())))).unwrap_or_else(|| c.clone());
                    if scoped.len() == 1 {
                        Some(Key::Person(scoped[0]))
                    } else {
                        Some(Key::Ambiguous(surname.clone()))
                    }
                }
                None if m.text.trim().is_empty() => None,
                // A country by any of its names ("U.S.", "USA", "United States") is one place.
                None => match storyline_model::names::country(&m.text) {
                    Some(c) => Some(Key::Name(format!("{:?}:{}", EntityType::Place, norm_key(c)))),
                    // "Israelis" and "Israeli" are one group.
                    None if m.kind == EntityType::Group => {
                        let k = norm_key(&w.join(" "));
                        let one = k.strip_suffix('s').filter(|x| storyline_model::names::is_group(x)).map(str::to_owned).unwrap_or(k);
                        Some(Key::Name(format!("{:?}:{one}", m.kind)))
                    }
                    None => Some(Key::Name(format!("{:?}:{}", m.kind, norm_key(&w.join(" "))))),
                },
            };
            row.push(key);
        }
        keys.push(row);
    }
    // Name keys of other types whose words are a known person's surname are that person
    // ("the Biden administration" tagged as MISC) when the surname is not ambiguous.
    for (ai, row) in keys.iter_mut().enumerate() {
        for (mi, k) in row.iter_mut().enumerate() {
            if let Some(Key::Name(_)) = k {
                let m = &articles[ai].facts.mentions[mi];
                let w = name_words(&m.text);
                if w.len() == 1 {
                    if let Some(c) = by_last.get(w[0].to_lowercase().as_str()) {
                        if c.len() == 1 {
                            *k = Some(Key::Person(c[0]));
                        }
                    }
                }
            }
        }
    }
    // An acronym is the name whose initials it spells, when one name does ("UN" and "United
    // Nations", "WHO" and "World Health Organization"); words like "of" have no initial.
    let initials = |t: &str| -> String {
        t.split_whitespace()
            .filter(|w| !matches!(w.to_lowercase().as_str(), "of" | "the" | "and" | "for" | "on" | "in" | "de"))
            .filter_map(|w| w.chars().next())
            .collect::<String>()
            .to_uppercase()
    };
    let mut spelled: HashMap<String, BTreeSet<Key>> = HashMap::new();
    for (ai, row) in keys.iter().enumerate() {
        for (mi, k) in row.iter().enumerate() {
            let m = &articles[ai].facts.mentions[mi];
            if let Some(k @ Key::Name(_)) = k {
                if m.text.split_whitespace().count() >= 2 && matches!(m.kind, EntityType::Organisation | EntityType::Place | EntityType::Other) {
                    spelled.entry(initials(&m.text)).or_default().insert(k.clone());
                }
            }
        }
    }
    for (ai, row) in keys.iter_mut().enumerate() {
        for (mi, k) in row.iter_mut().enumerate() {
            let m = &articles[ai].facts.mentions[mi];
            let bare: String = m.text.chars().filter(|c| *c != '.').collect();
            let acronym = (2..=6).contains(&bare.len()) && bare.chars().all(|c| c.is_ascii_uppercase());
            if acronym && matches!(k, Some(Key::Name(_))) {
                if let Some(one) = spelled.get(&bare).filter(|s| s.len() == 1).and_then(|s| s.iter().next()) {
                    *k = Some(one.clone());
                }
            }
        }
    }
    // 3. Build entities.
    struct Acc {
        forms: BTreeMap<String, usize>,
        full_forms: BTreeMap<String, usize>,
        kinds: BTreeMap<u8, usize>,
        roles: Vec<Role>,
        articles: BTreeSet<ArticleId>,
        mentions: usize,
    }
    let mut acc: BTreeMap<Key, Acc> = BTreeMap::new();
    for (ai, row) in keys.iter().enumerate() {
        for (mi, k) in row.iter().enumerate() {
            let Some(k) = k else { continue };
            let m = &articles[ai].facts.mentions[mi];
            let e = acc.entry(k.clone()).or_insert_with(|| Acc {
                forms: BTreeMap::new(),
                full_forms: BTreeMap::new(),
                kinds: BTreeMap::new(),
                roles: Vec::new(),
                articles: BTreeSet::new(),
                mentions: 0,
            });
            *e.forms.entry(m.text.clone()).or_default() += 1;
            let name = name_words(&m.text).join(" ");
            if name.contains(' ') {
                *e.full_forms.entry(name.clone()).or_default() += 1;
            }
            let country = storyline_model::names::country(&m.text);
            *e.kinds.entry(kind_code(if country.is_some() { EntityType::Place } else { m.kind })).or_default() += 1;
            if let Some(c) = country {
                // The country's common name is its name, however the articles write it.
                *e.full_forms.entry(c.to_string()).or_default() += 1_000_000;
            }
            if let Some(r) = &m.role {
                if !e.roles.iter().any(|x| &x.role == r && &x.article == articles[ai].article) {
                    e.roles.push(Role { role: r.clone(), article: articles[ai].article.clone(), published: articles[ai].published });
                }
                // "Secretary of State Antony Blinken" is a form users search for too (a title
                // written before the name; never counted as the entity's name).
                if !r.starts_with(|c: char| c.is_lowercase()) {
                    e.forms.entry(format!("{r} {name}")).or_insert(0);
                }
            }
            e.articles.insert(articles[ai].article.clone());
            e.mentions += 1;
        }
    }
    let id_of = |k: &Key| -> EntityId {
        let basis = match k {
            Key::Person(p) => format!("PER:{}:{}", people[*p].last, people[*p].first.chars().next().unwrap_or('_')),
            Key::Ambiguous(s) => format!("AMBIG:{s}"),
            Key::Name(n) => n.clone(),
        };
        EntityId(format!("e{:016x}", xxh3_64(basis.as_bytes())))
    };
    let mut entities = Vec::new();
    let mut ids: HashMap<Key, EntityId> = HashMap::new();
    for (k, a) in &acc {
        let best = |m: &BTreeMap<String, usize>| m.iter().max_by(|x, y| x.1.cmp(y.1).then(y.0.len().cmp(&x.0.len()).reverse())).map(|(f, _)| f.clone());
        let name = best(&a.full_forms).or_else(|| best(&a.forms)).unwrap_or_default();
        let kind = match k {
            Key::Person(_) | Key::Ambiguous(_) => EntityType::Person,
            Key::Name(_) => a.kinds.iter().max_by_key(|(_, &n)| n).map(|(&c, _)| kind_from(c)).unwrap_or(EntityType::Other),
        };
        let id = id_of(k);
        ids.insert(k.clone(), id.clone());
        let ambiguous_with = match k {
            Key::Ambiguous(s) => by_last.get(s.as_str()).map(|c| c.iter().map(|&p| id_of(&Key::Person(p))).collect()).unwrap_or_default(),
            _ => Vec::new(),
        };
        entities.push(Entity {
            id,
            name,
            kind,
            aliases: a.forms.keys().cloned().collect(),
            roles: a.roles.clone(),
            articles: a.articles.iter().cloned().collect(),
            mentions: a.mentions,
            ambiguous_with,
        });
    }
    entities.sort_by(|a, b| b.mentions.cmp(&a.mentions).then(a.name.cmp(&b.name)));
    let per_article =
        articles.iter().zip(&keys).map(|(a, row)| (a.article.clone(), row.iter().map(|k| k.as_ref().and_then(|k| ids.get(k).cloned())).collect())).collect();
    (entities, per_article)
}

fn kind_code(k: EntityType) -> u8 {
    match k {
        EntityType::Person => 0,
        EntityType::Organisation => 1,
        EntityType::Place => 2,
        EntityType::Other => 3,
        EntityType::Group => 4,
    }
}

fn kind_from(c: u8) -> EntityType {
    match c {
        0 => EntityType::Person,
        1 => EntityType::Organisation,
        2 => EntityType::Place,
        4 => EntityType::Group,
        _ => EntityType::Other,
    }
}

/// Writes an article's resolved entity ids (from [`resolve`], in mention order) into its
/// mentions, and resolves each quote's speaker to the entity of a mention of that name.
pub fn apply(facts: &mut Facts, ids: &[Option<EntityId>], name_of: impl Fn(&str) -> Option<String>) {
    for (m, e) in facts.mentions.iter_mut().zip(ids) {
        m.entity = e.clone();
    }
    let by_text: HashMap<String, EntityId> = facts.mentions.iter().filter_map(|m| m.entity.clone().map(|e| (m.text.clone(), e))).collect();
    for q in &mut facts.quotes {
        let entity = q.speaker.as_ref().and_then(|s| by_text.get(s).or_else(|| by_text.iter().find(|(t, _)| t.ends_with(s.as_str())).map(|(_, e)| e)));
        if let Some(e) = entity {
            q.speaker_entity = Some(e.clone());
            if let Some(n) = name_of(e.as_str()) {
                q.speaker = Some(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use storyline_model::{Mention, Span};

    fn facts(names: &[(&str, EntityType, Option<&str>)]) -> Facts {
        Facts {
            mentions: names
                .iter()
                .map(|(t, k, r)| Mention {
                    article: ArticleId("x".into()),
                    text: t.to_string(),
                    kind: *k,
                    span: Span { start: 0, end: 0 },
                    role: r.map(String::from),
                    entity: None,
                })
                .collect(),
            ..Facts::default()
        }
    }

    #[test]
    fn one_person_many_forms_and_two_people_one_surname() {
        use EntityType::*;
        let a = facts(&[("Antony J. Blinken", Person, Some("Secretary of State")), ("Mr. Blinken", Person, None), ("Joe Biden", Person, None)]);
        let b = facts(&[("Antony Blinken", Person, None), ("Blinken", Person, None), ("Biden", Other, None), ("Biden", Person, Some("President"))]);
        let c = facts(&[("Mark Kelly", Person, None), ("Scott Kelly", Person, None), ("Kelly", Person, None)]);
        let (ids, arts) = (["a", "b", "c"].map(|s| ArticleId(s.into())), [&a, &b, &c]);
        let input: Vec<ArticleFacts> = ids.iter().zip(arts).map(|(id, f)| ArticleFacts { article: id, published: None, story: None, facts: f }).collect();
        let (entities, per) = resolve(&input);
        let blinken = entities.iter().find(|e| e.name == "Antony J. Blinken" || e.name == "Antony Blinken").unwrap();
        assert_eq!(blinken.mentions, 4, "{entities:#?}");
        assert!(blinken.aliases.contains(&"Mr. Blinken".to_string()));
        assert_eq!(blinken.roles[0].role, "Secretary of State");
        let biden = entities.iter().find(|e| e.name == "Joe Biden").unwrap();
        assert_eq!(biden.mentions, 3);
        // Two Kellys: two entities, and the bare "Kelly" flagged as ambiguous between them.
        let kellys: Vec<_> = entities.iter().filter(|e| e.name.ends_with("Kelly")).collect();
        assert_eq!(kellys.len(), 3);
        let ambiguous = kellys.iter().find(|e| !e.ambiguous_with.is_empty()).unwrap();
        assert_eq!(ambiguous.ambiguous_with.len(), 2);
        assert_eq!(per[&ArticleId("c".into())].len(), 3);
    }
}
