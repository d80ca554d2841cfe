//! Named entities: a structured averaged perceptron (Collins 2002) over word, shape, affix,
//! context, word-cluster, gazetteer and previous-two-tag features (hashed), decoded with Viterbi
//! under IOB2 transitions.
//! A second pass adds what the first pass said about the same words in the sentences around
//! (the document's other mentions of a name). Trained here on CoNLL-2003 (`cargo xtask train
//! ner`) and shipped as a quantised model file.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{Read, Write};

use xxhash_rust::xxh3::xxh3_64;

/// The IOB2 tag set, in model order.
pub const TAGS: [&str; 9] = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"];
pub const NT: usize = TAGS.len();
/// Another model's scores for the words of one sentence: per word, one score per tag of [`TAGS`].
pub type TagScores = Vec<[f32; NT]>;

/// Another model's per-word tag scores for the sentences of a document, and their weights in the
/// tagger's first and second pass.
#[derive(Clone, Copy)]
pub struct Evidence<'a> {
    pub scores: &'a [TagScores],
    pub first: f32,
    pub second: f32,
}
const MAGIC: &[u8; 8] = b"SLNER05\n";
/// The name lists a gazetteer line can belong to (`LIST<TAB>name`, see scripts/gazetteer.py);
/// a phrase's gazetteer entry is a bit mask over them.
pub const LISTS: [&str; 6] = ["LOC", "ORG", "MISC", "PER", "FIRST", "LAST"];
/// Word-cluster granularities stored per word (see scripts/word_clusters.py).
pub const CLUSTER_LEVELS: usize = 4;
/// Longest gazetteer phrase, in tokens.
const GAZ_MAX: usize = 5;

/// Feature keys are already hashes: no second hashing, only one multiplication that spreads
/// 32-bit keys ([`key32`]) over the high bits the hash table reads.
#[derive(Default)]
pub struct Identity(u64);
impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys")
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}
pub type KeyMap<V> = HashMap<u64, V, BuildHasherDefault<Identity>>;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("not a Storyline NER model (bad header)")]
    BadHeader,
    #[error("truncated or corrupt NER model: {0}")]
    Corrupt(#[from] std::io::Error),
}

/// A trained tagger: a first pass over each sentence, then (when trained) a second pass that
/// also sees how the first pass tagged the same words elsewhere in the document.
pub struct Tagger {
    first: Weights,
    second: Option<Weights>,
    /// Words seen lower-cased in the middle of sentences (evidence that a capitalised one at the
    /// start of a sentence is an ordinary word).
    lower_vocab: HashSet<u64, BuildHasherDefault<Identity>>,
    lexicon: Lexicon,
    /// A transformer's per-word tag scores, added to both passes' scores (see
    /// [`crate::encoder`]); none by default.
    encoder: Option<crate::encoder::Encoder>,
}

/// What the tagger knows beyond its training sentences.
#[derive(Default, Clone)]
pub struct Lexicon {
    /// Gazetteer phrases (hash of the lower-case words joined by a space) and the lists they
    /// are in (bit `k` for [`LISTS`]`[k]`).
    pub gazetteer: KeyMap<u8>,
    /// Word clusters learnt from unlabelled text, by [`cluster_key`] of the lower-case word: one
    /// cluster id per granularity, coarse to fine.
    pub clusters: KeyMap<[u16; CLUSTER_LEVELS]>,
}

/// Every key the model stores (features, words, phrases) is 32 bits of a hash: a few collisions
/// among some 300,000 keys cost nothing, and sorted 32-bit keys are stored as small gaps, which
/// keeps the model file small.
fn key32(bytes: &[u8]) -> u64 {
    xxh3_64(bytes) >> 32
}

/// Key of a lower-case word in [`Lexicon::clusters`].
fn cluster_key(lower: &str) -> u64 {
    key32(lower.as_bytes())
}

/// Writes `(key, payload)` entries sorted by key: the count, then each key as the gap from the
/// previous one (LEB128) followed by its payload.
fn write_keyed<T>(z: &mut impl Write, mut entries: Vec<(u64, T)>, mut payload: impl FnMut(&mut dyn Write, &T) -> std::io::Result<()>) -> std::io::Result<()> {
    entries.sort_unstable_by_key(|e| e.0);
    z.write_all(&(entries.len() as u64).to_le_bytes())?;
    let mut prev = 0u64;
    for (k, v) in &entries {
        let mut gap = k - prev;
        prev = *k;
        loop {
            let byte = (gap & 0x7f) as u8;
            gap >>= 7;
            if gap == 0 {
                z.write_all(&[byte])?;
                break;
            }
            z.write_all(&[byte | 0x80])?;
        }
        payload(z, v)?;
    }
    Ok(())
}

/// Reads what [`write_keyed`] wrote, handing each key and the reader to `entry`.
fn read_keyed(z: &mut impl Read, mut entry: impl FnMut(u64, &mut dyn Read) -> std::io::Result<()>) -> std::io::Result<()> {
    let mut b8 = [0u8; 8];
    z.read_exact(&mut b8)?;
    let n = u64::from_le_bytes(b8) as usize;
    let mut key = 0u64;
    for _ in 0..n {
        let (mut gap, mut shift) = (0u64, 0);
        loop {
            let mut b = [0u8; 1];
            z.read_exact(&mut b)?;
            if shift > 63 {
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "key gap too long"));
            }
            gap |= u64::from(b[0] & 0x7f) << shift;
            shift += 7;
            if b[0] & 0x80 == 0 {
                break;
            }
        }
        key = key.wrapping_add(gap);
        entry(key, z)?;
    }
    Ok(())
}

/// Reads `word<TAB>c1<TAB>c2...` lines (scripts/word_clusters.py) into cluster ids by word.
pub fn read_clusters(text: &str) -> KeyMap<[u16; CLUSTER_LEVELS]> {
    let mut out = KeyMap::default();
    for line in text.lines() {
        let mut cols = line.split('\t');
        let Some(word) = cols.next() else { continue };
        let mut ids = [0u16; CLUSTER_LEVELS];
        let mut n = 0;
        for (slot, c) in ids.iter_mut().zip(cols) {
            if let Ok(v) = c.trim().parse() {
                *slot = v;
                n += 1;
            }
        }
        if n == CLUSTER_LEVELS {
            out.entry(cluster_key(&word.to_lowercase())).or_insert(ids);
        }
    }
    out
}

/// Hash of a phrase of lower-case words as the gazetteer stores it.
fn phrase_hash<S: AsRef<str>>(lower: &[S]) -> u64 {
    let mut buf = Vec::with_capacity(32);
    for (k, w) in lower.iter().enumerate() {
        if k > 0 {
            buf.push(b' ');
        }
        buf.extend_from_slice(w.as_ref().as_bytes());
    }
    key32(&buf)
}

/// Reads `LIST<TAB>name` lines (LIST one of [`LISTS`]) into phrase hashes and list masks, each
/// name split into words the way [`crate::tokenize`] splits text. Matching ignores case, so
/// all-caps headlines match too.
pub fn read_gazetteer(text: &str) -> KeyMap<u8> {
    let mut out = KeyMap::default();
    for line in text.lines() {
        let Some((kind, name)) = line.split_once('\t') else { continue };
        let Some(list) = LISTS.iter().position(|l| *l == kind) else { continue };
        let words: Vec<String> = crate::tokenize(name).iter().map(|t| t.text.to_lowercase()).collect();
        if !words.is_empty() && words.len() <= GAZ_MAX {
            *out.entry(phrase_hash(&words)).or_default() |= 1 << list;
        }
    }
    out
}

/// The lists of a gazetteer mask, by name.
fn lists(mask: u8) -> impl Iterator<Item = &'static str> {
    LISTS.iter().enumerate().filter(move |(k, _)| mask & (1 << k) != 0).map(|(_, l)| *l)
}

fn tag_index(tag: &str) -> usize {
    TAGS.iter().position(|t| *t == tag).unwrap_or(0)
}

/// Can `next` follow `prev` in IOB2?
fn allowed(prev: usize, next: usize) -> bool {
    // I-X (even index >= 2) only after B-X or I-X.
    if next >= 2 && next.is_multiple_of(2) {
        return prev == next || prev == next - 1;
    }
    true
}

fn shape(w: &str, short: bool) -> String {
    let mut s = String::new();
    let mut last = ' ';
    for c in w.chars().take(if short { 64 } else { 10 }) {
        let k = if c.is_uppercase() {
            'X'
        } else if c.is_lowercase() {
            'x'
        } else if c.is_ascii_digit() {
            'd'
        } else {
            c
        };
        if !short || k != last {
            s.push(k);
        }
        last = k;
    }
    s
}

/// Feature hashes for token `i` given the previous two tags.
struct Features {
    buf: Vec<u8>,
    out: Vec<u64>,
}

impl Features {
    fn new() -> Features {
        Features { buf: Vec::with_capacity(64), out: Vec::with_capacity(64) }
    }

    fn push_ids(&mut self, template: u8, ids: &[u16]) {
        self.buf.clear();
        self.buf.push(template);
        for id in ids {
            self.buf.extend_from_slice(&id.to_le_bytes());
        }
        self.out.push(key32(&self.buf));
    }

    fn push(&mut self, template: u8, parts: &[&str]) {
        self.buf.clear();
        self.buf.push(template);
        for p in parts {
            self.buf.push(0x1f);
            self.buf.extend_from_slice(p.as_bytes());
        }
        self.out.push(key32(&self.buf));
    }

    /// Static features of every token (those that do not depend on tags).
    fn token(&mut self, ctx: &Context<'_>, i: usize) -> Vec<u64> {
        self.out.clear();
        let w = ctx.words[i];
        let l = ctx.lower[i].as_str();
        self.push(0, &[]);
        self.push(1, &[l]);
        self.push(2, &[w]);
        self.push(3, &[&ctx.shapes[i]]);
        self.push(4, &[&ctx.short[i]]);
        let chars: Vec<(usize, char)> = l.char_indices().collect();
        for n in 1..=4usize {
            if chars.len() > n {
                self.push(5 + n as u8, &[&l[..chars[n].0]]);
                self.push(10 + n as u8, &[&l[chars[chars.len() - n].0..]]);
            }
        }
        let first = i == 0;
        if first {
            self.push(15, &[&ctx.short[i]]);
            let seen_lower = ctx.lower_vocab.is_some_and(|v| v.contains(&key32(l.as_bytes())));
            self.push(16, &[if seen_lower { "lower-seen" } else { "lower-unseen" }]);
        }
        if w.chars().next().is_some_and(char::is_uppercase) && !first {
            let seen_lower = ctx.lower_vocab.is_some_and(|v| v.contains(&key32(l.as_bytes())));
            self.push(17, &[if seen_lower { "cap-lower-seen" } else { "cap-lower-unseen" }]);
        }
        let word = |k: isize| -> &str {
            let j = i as isize + k;
            if j < 0 {
                "<s>"
            } else if j as usize >= ctx.words.len() {
                "</s>"
            } else {
                ctx.lower[j as usize].as_str()
            }
        };
        let sh = |k: isize| -> &str {
            let j = i as isize + k;
            if j < 0 || j as usize >= ctx.words.len() {
                "#"
            } else {
                ctx.short[j as usize].as_str()
            }
        };
        self.push(20, &[word(-1)]);
        self.push(21, &[word(1)]);
        self.push(22, &[word(-2)]);
        self.push(23, &[word(2)]);
        self.push(24, &[word(-1), l]);
        self.push(25, &[l, word(1)]);
        self.push(26, &[sh(-1)]);
        self.push(27, &[sh(1)]);
        self.push(28, &[sh(-1), &ctx.short[i], sh(1)]);
        self.push(29, &[word(-1), &ctx.short[i]]);
        self.push(30, &[&ctx.short[i], word(1)]);
        // Suffix of the neighbours ("-ian", "-ese" next to a name).
        if i + 1 < ctx.words.len() {
            self.push(31, &[&ctx.short[i], &ctx.short[i + 1], word(2)]);
        }
        // Inside parentheses or quotes, and whole-sentence casing (all-caps headlines).
        if ctx.all_caps {
            self.push(32, &[&ctx.short[i]]);
        }
        if let Some((mask, begin)) = ctx.gaz[i] {
            let pos = if begin { "B" } else { "I" };
            for list in lists(mask) {
                self.push(33, &[list, pos]);
                self.push(34, &[list, pos, &ctx.short[i]]);
                self.push(35, &[list, word(-1)]);
            }
        }
        for (k, tpl) in [(-1isize, 36u8), (1, 37)] {
            let j = i as isize + k;
            if j >= 0 && (j as usize) < ctx.words.len() {
                if let Some((mask, _)) = ctx.gaz[j as usize] {
                    for list in lists(mask) {
                        self.push(tpl, &[list]);
                    }
                }
                // The neighbour's own lists, whatever longer phrase it is part of ("Mr" or a
                // first name before a word).
                for list in lists(ctx.gaz1[j as usize]) {
                    self.push(tpl + 8, &[list]);
                }
            }
        }
        for list in lists(ctx.gaz1[i]) {
            self.push(38, &[list]);
            self.push(39, &[list, &ctx.short[i]]);
        }
        // Word clusters: the word's own at every granularity, its neighbours' at the middle ones.
        let cl = |k: isize| -> Option<[u16; CLUSTER_LEVELS]> {
            let j = i as isize + k;
            if j < 0 || j as usize >= ctx.words.len() {
                None
            } else {
                ctx.clusters[j as usize]
            }
        };
        match cl(0) {
            Some(c) => {
                for (g, id) in c.iter().enumerate() {
                    self.push_ids(50 + g as u8, &[*id]);
                }
                self.push_ids(54, &[c[2], shape_id(&ctx.short[i])]);
            }
            None => self.push_ids(55, &[]),
        }
        for (k, tpl) in [(-1isize, 56u8), (1, 58)] {
            if let Some(c) = cl(k) {
                self.push_ids(tpl, &[c[1]]);
                self.push_ids(tpl + 1, &[c[2]]);
                self.push_ids(tpl + 10, &[c[3]]);
            }
        }
        if let (Some(a), Some(b), Some(c)) = (cl(-1), cl(0), cl(1)) {
            self.push_ids(65, &[a[1], b[1], c[1]]);
        }
        for (k, tpl) in [(-2isize, 62u8), (2, 63)] {
            if let Some(c) = cl(k) {
                self.push_ids(tpl, &[c[1]]);
            }
        }
        if let (Some(a), Some(b)) = (cl(-1), cl(0)) {
            self.push_ids(60, &[a[1], b[1]]);
            self.push_ids(64, &[a[2], b[3]]);
        }
        if let (Some(a), Some(b)) = (cl(0), cl(1)) {
            self.push_ids(61, &[a[1], b[1]]);
        }
        std::mem::take(&mut self.out)
    }

    /// Document features of token `i` (appended to `out`): how the first pass tagged the same
    /// word elsewhere in the document, and its own first-pass type.
    fn document(&mut self, ctx: &Context<'_>, i: usize, own: usize, votes: &KeyMap<[u32; 5]>, out: &mut Vec<u64>) {
        const TYPES: [&str; 5] = ["O", "PER", "ORG", "LOC", "MISC"];
        self.out.clear();
        let own_type = tag_type(own);
        self.push(70, &[TYPES[own_type]]);
        if let Some(k) = ctx.vote_key(i) {
            let mut c = votes.get(&k).copied().unwrap_or_default();
            c[own_type] = c[own_type].saturating_sub(1);
            let total: u32 = c.iter().sum();
            if total == 0 {
                self.push(71, &["alone", TYPES[own_type]]);
            } else {
                let major = (0..5).max_by_key(|&t| (c[t], std::cmp::Reverse(t))).unwrap_or(0);
                let share = if c[major] == total {
                    "all"
                } else if 2 * c[major] > total {
                    "most"
                } else {
                    "some"
                };
                self.push(72, &[TYPES[major], share]);
                self.push(73, &[TYPES[major], &ctx.short[i]]);
                self.push(74, &[TYPES[major], TYPES[own_type]]);
                for (t, n) in c.iter().enumerate() {
                    if *n > 0 {
                        self.push(75, &[TYPES[t]]);
                    }
                }
            }
        }
        out.extend_from_slice(&self.out);
    }

    /// Tag-history features.
    fn history(&mut self, ctx: &Context<'_>, i: usize, p1: usize, p2: usize) -> &[u64] {
        self.out.clear();
        self.push(41, &[TAGS[p1], TAGS[p2]]);
        self.push_previous(ctx, i, p1);
        &self.out
    }

    /// The history features that depend on the previous tag only (and the word).
    fn previous(&mut self, ctx: &Context<'_>, i: usize, p1: usize) -> &[u64] {
        self.out.clear();
        self.push_previous(ctx, i, p1);
        &self.out
    }

    fn push_previous(&mut self, ctx: &Context<'_>, i: usize, p1: usize) {
        self.push(40, &[TAGS[p1]]);
        self.push(42, &[TAGS[p1], &ctx.lower[i]]);
        self.push(43, &[TAGS[p1], &ctx.short[i]]);
    }

    /// The feature of the two previous tags, which no word enters.
    fn tag_pair(&mut self, p1: usize, p2: usize) -> u64 {
        self.out.clear();
        self.push(41, &[TAGS[p1], TAGS[p2]]);
        self.out[0]
    }
}

/// Per-sentence precomputed views of the words.
struct Context<'a> {
    words: &'a [&'a str],
    lower: Vec<String>,
    shapes: Vec<String>,
    short: Vec<String>,
    all_caps: bool,
    lower_vocab: Option<&'a HashSet<u64, BuildHasherDefault<Identity>>>,
    /// Per token: the lists of the longest gazetteer phrase covering it and whether it starts
    /// the phrase.
    gaz: Vec<Option<(u8, bool)>>,
    /// Per capitalised token: the lists the word alone is in.
    gaz1: Vec<u8>,
    /// Per token: its word clusters, when the word is known.
    clusters: Vec<Option<[u16; CLUSTER_LEVELS]>>,
}

/// A short shape as a small number (for features built from ids).
fn shape_id(short: &str) -> u16 {
    xxh3_64(short.as_bytes()) as u16
}

impl<'a> Context<'a> {
    /// Key under which the document vote counts word `i`: capitalised words only (the names).
    fn vote_key(&self, i: usize) -> Option<u64> {
        self.words[i].chars().next().filter(|c| c.is_uppercase()).map(|_| xxh3_64(self.lower[i].as_bytes()))
    }

    fn new(words: &'a [&'a str], lower_vocab: Option<&'a HashSet<u64, BuildHasherDefault<Identity>>>, lexicon: &Lexicon) -> Context<'a> {
        let gazetteer = &lexicon.gazetteer;
        let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
        let capitalised = |i: usize| words[i].chars().next().is_some_and(char::is_uppercase);
        // Longest matches, left to right, of phrases starting with a capital.
        let mut gaz = vec![None; words.len()];
        let mut gaz1 = vec![0u8; words.len()];
        let mut i = 0;
        while i < words.len() {
            let mut matched = 0;
            if !gazetteer.is_empty() && capitalised(i) {
                gaz1[i] = gazetteer.get(&phrase_hash(&lower[i..=i])).copied().unwrap_or(0);
                for n in (1..=GAZ_MAX.min(words.len() - i)).rev() {
                    if let Some(&mask) = gazetteer.get(&phrase_hash(&lower[i..i + n])) {
                        for (k, g) in gaz[i..i + n].iter_mut().enumerate() {
                            *g = Some((mask, k == 0));
                        }
                        matched = n;
                        break;
                    }
                }
                for j in i + 1..i + matched {
                    if capitalised(j) {
                        gaz1[j] = gazetteer.get(&phrase_hash(&lower[j..=j])).copied().unwrap_or(0);
                    }
                }
            }
            i += matched.max(1);
        }
        let letters: Vec<char> = words.iter().flat_map(|w| w.chars()).filter(|c| c.is_alphabetic()).collect();
        let all_caps = letters.len() > 8 && letters.iter().all(|c| c.is_uppercase());
        let clusters = lower.iter().map(|l| lexicon.clusters.get(&cluster_key(l)).copied()).collect();
        Context {
            words,
            lower,
            clusters,
            shapes: words.iter().map(|w| shape(w, false)).collect(),
            short: words.iter().map(|w| shape(w, true)).collect(),
            all_caps,
            lower_vocab,
            gaz,
            gaz1,
        }
    }
}

/// Feature weights of one pass: a row of NT weights per feature hash.
#[derive(Clone, Default)]
struct Weights {
    rows: KeyMap<u32>,
    weights: Vec<f32>,
}

impl Weights {
    fn score(&self, feats: &[u64], scores: &mut [f32; NT]) {
        for f in feats {
            if let Some(&r) = self.rows.get(f) {
                let row = &self.weights[r as usize * NT..r as usize * NT + NT];
                for (s, w) in scores.iter_mut().zip(row) {
                    *s += w;
                }
            }
        }
    }

    /// The best tag sequence of one sentence under the second-order history features: states
    /// are (previous tag, tag); the tag before the sentence counts as O, as in training.
    fn decode(&self, ctx: &Context<'_>, statics: &[Vec<u64>], fx: &mut Features) -> Vec<usize> {
        self.decode_with(ctx, statics, None, fx)
    }

    /// [`Weights::decode`] with per-token scores of another model added to each tag's score.
    fn decode_with(&self, ctx: &Context<'_>, statics: &[Vec<u64>], extra: Option<(&[[f32; NT]], f32)>, fx: &mut Features) -> Vec<usize> {
        let n = statics.len();
        if n == 0 {
            return Vec::new();
        }
        // pair[p1][p2][t]: the tag-pair feature's weights, the same at every token.
        let mut pair = [[[0f32; NT]; NT]; NT];
        for (p1, row) in pair.iter_mut().enumerate() {
            for (p2, cell) in row.iter_mut().enumerate() {
                let k = fx.tag_pair(p1, p2);
                self.score(&[k], cell);
            }
        }
        const NONE: f32 = f32::NEG_INFINITY;
        // delta[i][p1][t]: best score of tags up to i ending in (p1 at i-1, t at i).
        let mut delta = vec![[[NONE; NT]; NT]; n];
        let mut back = vec![[[0u8; NT]; NT]; n];
        for i in 0..n {
            let mut stat = [0f32; NT];
            self.score(&statics[i], &mut stat);
            if let Some((scores, weight)) = extra {
                if let Some(row) = scores.get(i) {
                    for (s, x) in stat.iter_mut().zip(row) {
                        *s += weight * x;
                    }
                }
            }
            for p1 in 0..NT {
                if i == 0 && p1 != 0 {
                    continue;
                }
                let mut local = stat;
                self.score(fx.previous(ctx, i, p1), &mut local);
                for t in 0..NT {
                    if !allowed(p1, t) {
                        continue;
                    }
                    let (mut best, mut arg) = (NONE, 0);
                    if i == 0 {
                        best = pair[0][0][t];
                    } else {
                        for p2 in 0..NT {
                            let v = delta[i - 1][p2][p1];
                            if v > NONE && v + pair[p1][p2][t] > best {
                                best = v + pair[p1][p2][t];
                                arg = p2;
                            }
                        }
                    }
                    if best > NONE {
                        delta[i][p1][t] = best + local[t];
                        back[i][p1][t] = arg as u8;
                    }
                }
            }
        }
        let (mut p1, mut t) = (0, 0);
        let mut best = NONE;
        for (a, row) in delta[n - 1].iter().enumerate() {
            for (b, &v) in row.iter().enumerate() {
                if v > best {
                    (best, p1, t) = (v, a, b);
                }
            }
        }
        let mut out = vec![0; n];
        for i in (0..n).rev() {
            out[i] = t;
            let p2 = back[i][p1][t] as usize;
            t = p1;
            p1 = p2;
        }
        out
    }

    fn write(&self, z: &mut impl Write) -> std::io::Result<()> {
        let rows: Vec<(u64, u32)> = self.rows.iter().map(|(&k, &r)| (k, r)).collect();
        write_keyed(z, rows, |z, &r| {
            // One scale per row: int16 weights relative to the row's largest (int8 cost 0.003
            // F1: a row's small weights still decide between close tags).
            let row = &self.weights[r as usize * NT..r as usize * NT + NT];
            let scale = row.iter().fold(0f32, |m, w| m.max(w.abs())).max(1e-9) / 32767.0;
            z.write_all(&scale.to_le_bytes())?;
            row.iter().try_for_each(|w| z.write_all(&((w / scale).round().clamp(-32767.0, 32767.0) as i16).to_le_bytes()))
        })
    }

    fn read(z: &mut impl Read) -> std::io::Result<Weights> {
        let mut w = Weights::default();
        read_keyed(z, |k, z| {
            let mut b4 = [0u8; 4];
            let mut q = [0u8; 2 * NT];
            z.read_exact(&mut b4)?;
            z.read_exact(&mut q)?;
            let scale = f32::from_le_bytes(b4);
            w.rows.insert(k, w.rows.len() as u32);
            w.weights.extend(q.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 * scale));
            Ok(())
        })?;
        Ok(w)
    }
}

/// Entity type of a tag: 0 for O, then PER, ORG, LOC, MISC.
fn tag_type(t: usize) -> usize {
    t.div_ceil(2)
}

/// Sentences on each side of a sentence whose first-pass tags inform its second pass: the
/// whole of a typical article, and a stand-in for the document where none is marked.
const WINDOW: usize = 25;

/// Appends to each token's static features how the first pass tagged the same capitalised word
/// in the sentences around it (within [`WINDOW`]) of one document.
fn add_document_features(contexts: &[Context<'_>], first: &[Vec<usize>], statics: &mut [Vec<Vec<u64>>], fx: &mut Features) {
    let mut votes: KeyMap<[u32; 5]> = KeyMap::default();
    let count = |votes: &mut KeyMap<[u32; 5]>, j: usize, add: bool| {
        for (i, &t) in first[j].iter().enumerate() {
            if let Some(k) = contexts[j].vote_key(i) {
                let c = &mut votes.entry(k).or_default()[tag_type(t)];
                *c = if add { *c + 1 } else { c.saturating_sub(1) };
            }
        }
    };
    let (mut lo, mut hi) = (0, 0);
    for j in 0..contexts.len() {
        while hi < (j + WINDOW + 1).min(contexts.len()) {
            count(&mut votes, hi, true);
            hi += 1;
        }
        while lo < j.saturating_sub(WINDOW) {
            count(&mut votes, lo, false);
            lo += 1;
        }
        for (i, f) in statics[j].iter_mut().enumerate() {
            fx.document(&contexts[j], i, first[j][i], &votes, f);
        }
    }
}

impl Tagger {
    /// IOB2 tags for one sentence of words (a document of one sentence).
    pub fn tag(&self, words: &[&str]) -> Vec<&'static str> {
        self.tag_document(&[words]).pop().unwrap_or_default()
    }

    /// IOB2 tags for the sentences of one document. How a name is tagged in one sentence informs
    /// the others ("Chelsea" in a headline, then "Chelsea" the club in the text).
    pub fn tag_document(&self, sentences: &[&[&str]]) -> Vec<Vec<&'static str>> {
        let Some(encoder) = &self.encoder else { return self.tag_document_with(sentences, None) };
        // The encoder works on the words as the tagger sees them.
        let normal: Vec<Vec<std::borrow::Cow<'_, str>>> = sentences.iter().map(|s| s.iter().map(|w| typographic_to_ascii(w)).collect()).collect();
        let words: Vec<Vec<&str>> = normal.iter().map(|s| s.iter().map(|w| w.as_ref()).collect()).collect();
        let refs: Vec<&[&str]> = words.iter().map(Vec::as_slice).collect();
        match encoder.scores(&refs) {
            Ok(scores) => self.tag_document_with(sentences, Some(Evidence { scores: &scores, first: encoder.weights.0, second: encoder.weights.1 })),
            // Only a bug fails here (memory is bounded by the batch size): the tagger alone.
            Err(_) => self.tag_document_with(sentences, None),
        }
    }

    /// The tagger with a transformer's scores joining its own (see [`crate::encoder`]).
    pub fn with_encoder(self, encoder: crate::encoder::Encoder) -> Tagger {
        Tagger { encoder: Some(encoder), ..self }
    }

    /// Whether a transformer's scores join the tagger's.
    pub fn has_encoder(&self) -> bool {
        self.encoder.is_some()
    }

    /// [`Tagger::tag_document`] with another model's per-token tag scores (log-probabilities in
    /// [`TAGS`] order, one row per word of each sentence) added to both passes' scores, with the
    /// weights `(first pass, second pass)`.
    pub fn tag_document_with(&self, sentences: &[&[&str]], evidence: Option<Evidence<'_>>) -> Vec<Vec<&'static str>> {
        // Typographic quotes and dashes as the newswire training text spells them.
        let normal: Vec<Vec<std::borrow::Cow<'_, str>>> = sentences.iter().map(|s| s.iter().map(|w| typographic_to_ascii(w)).collect()).collect();
        let words: Vec<Vec<&str>> = normal.iter().map(|s| s.iter().map(|w| w.as_ref()).collect()).collect();
        let contexts: Vec<Context<'_>> = words.iter().map(|w| Context::new(w, Some(&self.lower_vocab), &self.lexicon)).collect();
        let mut fx = Features::new();
        let mut statics: Vec<Vec<Vec<u64>>> = contexts.iter().map(|c| (0..c.words.len()).map(|i| fx.token(c, i)).collect()).collect();
        let extra = |k: usize, weight: f32| evidence.and_then(|e| e.scores.get(k)).map(|row| (row.as_slice(), weight));
        let (w1, w2) = evidence.map_or((0.0, 0.0), |e| (e.first, e.second));
        let mut tags: Vec<Vec<usize>> =
            contexts.iter().zip(&statics).enumerate().map(|(k, (c, st))| self.first.decode_with(c, st, extra(k, w1), &mut fx)).collect();
        if let Some(second) = &self.second {
            add_document_features(&contexts, &tags, &mut statics, &mut fx);
            tags = contexts.iter().zip(&statics).enumerate().map(|(k, (c, st))| second.decode_with(c, st, extra(k, w2), &mut fx)).collect();
        }
        for (w, t) in words.iter().zip(&mut tags) {
            trim_punctuation(w, t);
        }
        tags.into_iter().map(|s| s.into_iter().map(|t| TAGS[t]).collect()).collect()
    }

    /// Writes the model: header, lower-case vocabulary, rows of int16 weights with a scale each.
    pub fn save(&self, w: impl Write) -> std::io::Result<()> {
        let mut z = flate2::write::GzEncoder::new(w, flate2::Compression::best());
        z.write_all(MAGIC)?;
        write_keyed(&mut z, self.lower_vocab.iter().map(|&k| (k, ())).collect(), |_, _| Ok(()))?;
        write_keyed(&mut z, self.lexicon.gazetteer.iter().map(|(&k, &t)| (k, t)).collect(), |z, &t| z.write_all(&[t]))?;
        write_keyed(&mut z, self.lexicon.clusters.iter().map(|(&k, &c)| (k, c)).collect(), |z, c| c.iter().try_for_each(|id| z.write_all(&id.to_le_bytes())))?;
        self.first.write(&mut z)?;
        z.write_all(&[self.second.is_some() as u8])?;
        if let Some(second) = &self.second {
            second.write(&mut z)?;
        }
        z.finish()?;
        Ok(())
    }

    /// Reads a model written by [`Tagger::save`].
    pub fn load(r: impl Read) -> Result<Tagger, ModelError> {
        let mut z = flate2::read::GzDecoder::new(r);
        let mut magic = [0u8; 8];
        z.read_exact(&mut magic).map_err(|_| ModelError::BadHeader)?;
        if &magic != MAGIC {
            return Err(ModelError::BadHeader);
        }
        let mut lower_vocab: HashSet<u64, BuildHasherDefault<Identity>> = HashSet::default();
        read_keyed(&mut z, |k, _| {
            lower_vocab.insert(k);
            Ok(())
        })?;
        let mut gazetteer = KeyMap::default();
        read_keyed(&mut z, |k, z| {
            let mut b1 = [0u8; 1];
            z.read_exact(&mut b1)?;
            gazetteer.insert(k, b1[0] & ((1 << LISTS.len()) - 1));
            Ok(())
        })?;
        let mut clusters = KeyMap::default();
        read_keyed(&mut z, |k, z| {
            let mut ids = [0u16; CLUSTER_LEVELS];
            for id in &mut ids {
                let mut b2 = [0u8; 2];
                z.read_exact(&mut b2)?;
                *id = u16::from_le_bytes(b2);
            }
            clusters.insert(k, ids);
            Ok(())
        })?;
        let first = Weights::read(&mut z)?;
        let mut flag = [0u8; 1];
        z.read_exact(&mut flag)?;
        let second = if flag[0] == 1 { Some(Weights::read(&mut z)?) } else { None };
        Ok(Tagger { first, second, lower_vocab, lexicon: Lexicon { gazetteer, clusters }, encoder: None })
    }

    /// The model shipped with Storyline (trained by `cargo xtask train ner`).
    pub fn bundled() -> Result<Tagger, ModelError> {
        Tagger::load(&include_bytes!("../model/ner.bin.gz")[..])
    }

    /// Whether the word was seen lower-case inside sentences of the training text (an ordinary
    /// word rather than a name).
    pub fn seen_lowercase(&self, word: &str) -> bool {
        self.lower_vocab.contains(&key32(word.to_lowercase().as_bytes()))
    }

    /// Whether the bundled name list `list` (one of [`LISTS`]: "FIRST", "LOC", ...) holds this
    /// one word.
    pub fn in_list(&self, word: &str, list: &str) -> bool {
        let Some(bit) = LISTS.iter().position(|l| *l == list) else { return false };
        self.lexicon.gazetteer.get(&phrase_hash(&[word.to_lowercase()])).is_some_and(|m| m & (1 << bit) != 0)
    }

    /// Features with weights (both passes).
    pub fn len(&self) -> usize {
        self.first.rows.len() + self.second.as_ref().map_or(0, |s| s.rows.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A name neither starts nor ends with a token that is only punctuation ("Gaza ." -> "Gaza"):
/// such tokens at the edges of an entity become O, and the entity's first word B-.
fn trim_punctuation(words: &[&str], tags: &mut [usize]) {
    let bare = |i: usize| !words[i].chars().any(char::is_alphanumeric);
    let mut i = 0;
    while i < tags.len() {
        if tags[i] == 0 {
            i += 1;
            continue;
        }
        // The entity starting here: B-X or a stray I-X, then I-X.
        let inside = if tags[i] % 2 == 1 { tags[i] + 1 } else { tags[i] };
        let (mut s, mut e) = (i, i + 1);
        while e < tags.len() && tags[e] == inside {
            e += 1;
        }
        i = e;
        while e > s && bare(e - 1) {
            tags[e - 1] = 0;
            e -= 1;
        }
        while s < e && bare(s) {
            tags[s] = 0;
            s += 1;
        }
        if s < e {
            tags[s] = inside - 1;
        }
    }
}

fn typographic_to_ascii(w: &str) -> std::borrow::Cow<'_, str> {
    if w.is_ascii() {
        return w.into();
    }
    w.chars()
        .map(|c| match c {
            '“' | '”' | '„' | '«' | '»' => '"',
            '‘' | '’' | '‚' => '\'',
            '–' | '—' | '‐' => '-',
            c => c,
        })
        .collect::<String>()
        .into()
}

/// One labelled sentence.
pub struct Sentence {
    pub words: Vec<String>,
    pub tags: Vec<String>,
    /// The document it belongs to (a `-DOCSTART-` line starts the next one).
    pub doc: usize,
}

/// Consecutive runs of sentences of one document, as index ranges.
pub fn documents(data: &[Sentence]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=data.len() {
        if i == data.len() || data[i].doc != data[start].doc {
            out.push(start..i);
            start = i;
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

/// Reads CoNLL columns: the first column is the word, the last the tag (when there are two
/// columns or more); a blank line ends a sentence; a `-DOCSTART-` line starts a new document.
pub fn read_conll(text: &str) -> Vec<Sentence> {
    let mut out = Vec::new();
    let mut doc = 0;
    let mut cur = Sentence { words: Vec::new(), tags: Vec::new(), doc };
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.is_empty() || cols[0] == "-DOCSTART-" {
            if !cur.words.is_empty() {
                out.push(std::mem::replace(&mut cur, Sentence { words: Vec::new(), tags: Vec::new(), doc }));
            }
            if !cols.is_empty() && !out.is_empty() {
                doc += 1;
                cur.doc = doc;
            }
            continue;
        }
        cur.words.push(cols[0].to_string());
        cur.tags.push(if cols.len() > 1 { cols[cols.len() - 1].to_string() } else { "O".into() });
    }
    if !cur.words.is_empty() {
        out.push(cur);
    }
    out
}

/// Training settings.
#[derive(Debug, Clone, Copy)]
pub struct TrainConfig {
    pub epochs: usize,
    /// Features seen fewer times than this in the training data are dropped.
    pub min_count: u32,
    pub seed: u64,
    /// Folds of documents for the second pass: each fold is tagged by a first pass trained on
    /// the others, so the second pass learns from first-pass output as it is on unseen text.
    /// Below 2: no second pass.
    pub folds: usize,
}

impl Default for TrainConfig {
    fn default() -> TrainConfig {
        TrainConfig { epochs: 12, min_count: 3, seed: 17, folds: 5 }
    }
}

/// Sentences per cross-validation block of the second-pass training.
const FOLD_BLOCK: usize = 200;

/// Trains the tagger; `progress` is called after each epoch of the last pass trained with
/// (epoch, errors, the averaged model so far).
pub fn train(data: &[Sentence], lexicon: Lexicon, cfg: TrainConfig, mut progress: impl FnMut(usize, usize, &Tagger)) -> Tagger {
    // Lower-cased words that occur lower-case inside sentences.
    let mut lower_vocab: HashSet<u64, BuildHasherDefault<Identity>> = Default::default();
    for s in data {
        for w in s.words.iter().skip(1) {
            if w.chars().next().is_some_and(char::is_lowercase) {
                lower_vocab.insert(key32(w.as_bytes()));
            }
        }
    }
    let words: Vec<Vec<&str>> = data.iter().map(|s| s.words.iter().map(String::as_str).collect()).collect();
    let contexts: Vec<Context<'_>> = words.iter().map(|w| Context::new(w, Some(&lower_vocab), &lexicon)).collect();
    let gold: Vec<Vec<usize>> = data.iter().map(|s| s.tags.iter().map(|t| tag_index(t)).collect()).collect();
    let mut fx = Features::new();
    let statics: Vec<Vec<Vec<u64>>> = contexts.iter().map(|c| (0..c.words.len()).map(|i| fx.token(c, i)).collect()).collect();
    let all: Vec<usize> = (0..data.len()).collect();
    let two_pass = cfg.folds >= 2;
    let tagger = |first: &Weights, second: Option<&Weights>| Tagger {
        first: first.clone(),
        second: second.cloned(),
        lower_vocab: lower_vocab.clone(),
        lexicon: lexicon.clone(),
        encoder: None,
    };
    let first = train_pass(&contexts, &statics, &gold, &all, cfg, |e, errors, w| {
        if !two_pass {
            progress(e, errors, &tagger(w, None));
        }
    });
    let second = two_pass.then(|| {
        // Folds of consecutive sentences (whole documents where they are short), so a held-out
        // sentence's neighbours are mostly held out with it.
        let docs = documents(data);
        let blocks: Vec<std::ops::Range<usize>> =
            docs.iter().flat_map(|d| d.clone().step_by(FOLD_BLOCK).map(move |s| s..(s + FOLD_BLOCK).min(d.end))).collect();
        let mut first_pass: Vec<Vec<usize>> = vec![Vec::new(); data.len()];
        for k in 0..cfg.folds {
            let (held, rest): (Vec<usize>, Vec<usize>) = (0..blocks.len()).partition(|b| b % cfg.folds == k);
            let train_on: Vec<usize> = rest.iter().flat_map(|&b| blocks[b].clone()).collect();
            let w = train_pass(&contexts, &statics, &gold, &train_on, cfg, |_, _, _| {});
            for &b in &held {
                for i in blocks[b].clone() {
                    first_pass[i] = w.decode(&contexts[i], &statics[i], &mut fx);
                }
            }
        }
        let mut with_doc = statics.clone();
        for d in &docs {
            add_document_features(&contexts[d.clone()], &first_pass[d.clone()], &mut with_doc[d.clone()], &mut fx);
        }
        train_pass(&contexts, &with_doc, &gold, &all, cfg, |e, errors, w| progress(e, errors, &tagger(&first, Some(w))))
    });
    drop(contexts);
    Tagger { first, second, lower_vocab, lexicon, encoder: None }
}

/// One averaged-perceptron pass over the sentences `on`, with their static features; returns
/// the averaged weights. Structured (Collins 2002): each sentence's Viterbi best is compared
/// with the gold sequence as a whole, and the features where they differ are updated. (A greedy
/// token-by-token perceptron with the same features reached F1 0.910 on CoNLL valid; this one
/// 0.937.)
fn train_pass(
    contexts: &[Context<'_>],
    statics: &[Vec<Vec<u64>>],
    gold: &[Vec<usize>],
    on: &[usize],
    cfg: TrainConfig,
    mut on_epoch: impl FnMut(usize, usize, &Weights),
) -> Weights {
    let mut fx = Features::new();
    // Feature counts along the gold path.
    let mut counts: KeyMap<u32> = KeyMap::default();
    for &si in on {
        let g = &gold[si];
        for (i, f) in statics[si].iter().enumerate() {
            let p1 = if i > 0 { g[i - 1] } else { 0 };
            let p2 = if i > 1 { g[i - 2] } else { 0 };
            for k in f.iter().chain(fx.history(&contexts[si], i, p1, p2).iter()) {
                *counts.entry(*k).or_default() += 1;
            }
        }
    }
    let keep: KeyMap<u32> = {
        let mut keys: Vec<u64> = counts.iter().filter(|(_, &c)| c >= cfg.min_count).map(|(&k, _)| k).collect();
        keys.sort_unstable();
        keys.into_iter().enumerate().map(|(i, k)| (k, i as u32)).collect()
    };
    drop(counts);
    let n = keep.len();
    let mut model = Weights { rows: keep, weights: vec![0.0; n * NT] };
    let mut totals = vec![0f64; n * NT];
    let mut stamps = vec![0u64; n * NT];
    let mut clock: u64 = 0;
    let mut order: Vec<usize> = on.to_vec();
    let mut rng = cfg.seed;
    let mut feats: Vec<u64> = Vec::new();
    for epoch in 0..cfg.epochs {
        for i in (1..order.len()).rev() {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            order.swap(i, (rng >> 33) as usize % (i + 1));
        }
        let mut errors = 0;
        for &si in &order {
            let ctx = &contexts[si];
            let pred = model.decode(ctx, &statics[si], &mut fx);
            clock += 1;
            let g = &gold[si];
            let hist = |tags: &[usize], i: usize| (if i > 0 { tags[i - 1] } else { 0 }, if i > 1 { tags[i - 2] } else { 0 });
            for i in 0..pred.len() {
                let (gh, ph) = (hist(g, i), hist(&pred, i));
                if pred[i] == g[i] && gh == ph {
                    continue;
                }
                errors += usize::from(pred[i] != g[i]);
                for (tag, (p1, p2), d) in [(g[i], gh, 1.0f32), (pred[i], ph, -1.0)] {
                    feats.clear();
                    feats.extend_from_slice(&statics[si][i]);
                    feats.extend_from_slice(fx.history(ctx, i, p1, p2));
                    for f in &feats {
                        if let Some(&r) = model.rows.get(f) {
                            let k = r as usize * NT + tag;
                            totals[k] += (clock - stamps[k]) as f64 * model.weights[k] as f64;
                            stamps[k] = clock;
                            model.weights[k] += d;
                        }
                    }
                }
            }
        }
        let averaged = average(&model, &totals, &stamps, clock);
        on_epoch(epoch + 1, errors, &averaged);
        if epoch + 1 == cfg.epochs {
            return averaged;
        }
    }
    model
}

fn average(model: &Weights, totals: &[f64], stamps: &[u64], clock: u64) -> Weights {
    let weights =
        model.weights.iter().zip(totals).zip(stamps).map(|((&w, &t), &s)| ((t + (clock - s) as f64 * w as f64) / clock.max(1) as f64) as f32).collect();
    Weights { rows: model.rows.clone(), weights }
}

/// Entity spans `(start, end, type)` of an IOB2 (or IOB1) tag sequence, conlleval-style: an
/// `I-X` after anything but `B-X`/`I-X` starts an entity.
pub fn spans(tags: &[&str]) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut cur: Option<(usize, String)> = None;
    for (i, t) in tags.iter().enumerate() {
        let (prefix, kind) = t.split_once('-').unwrap_or(("O", ""));
        let continues = prefix == "I" && cur.as_ref().is_some_and(|(_, k)| k == kind);
        if !continues {
            if let Some((s, k)) = cur.take() {
                out.push((s, i, k));
            }
            if prefix == "B" || prefix == "I" {
                cur = Some((i, kind.to_string()));
            }
        }
    }
    if let Some((s, k)) = cur {
        out.push((s, tags.len(), k));
    }
    out
}

/// Entity-level precision, recall, F1 over sentences (conlleval's micro average).
pub fn evaluate(tagger: &Tagger, data: &[Sentence]) -> (f64, f64, f64) {
    let (mut tp, mut np, mut ng) = (0usize, 0usize, 0usize);
    for d in documents(data) {
        let words: Vec<Vec<&str>> = data[d.clone()].iter().map(|s| s.words.iter().map(String::as_str).collect()).collect();
        let refs: Vec<&[&str]> = words.iter().map(Vec::as_slice).collect();
        for (s, tags) in data[d].iter().zip(tagger.tag_document(&refs)) {
            let pred = spans(&tags);
            let gold_tags: Vec<&str> = s.tags.iter().map(String::as_str).collect();
            let gold = spans(&gold_tags);
            np += pred.len();
            ng += gold.len();
            tp += pred.iter().filter(|p| gold.contains(p)).count();
        }
    }
    let p = tp as f64 / np.max(1) as f64;
    let r = tp as f64 / ng.max(1) as f64;
    (p, r, if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_follow_conlleval() {
        assert_eq!(spans(&["B-PER", "I-PER", "O", "I-LOC", "B-LOC"]), vec![(0, 2, "PER".into()), (3, 4, "LOC".into()), (4, 5, "LOC".into())]);
    }

    #[test]
    fn entities_do_not_start_or_end_with_punctuation() {
        let words = ["in", "Gaza", ".", "(", "Vicenza", ")", "Steel", "Co", "."];
        let mut tags: Vec<usize> = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "I-ORG", "B-ORG", "I-ORG", "O"].iter().map(|t| tag_index(t)).collect();
        trim_punctuation(&words, &mut tags);
        let got: Vec<&str> = tags.iter().map(|&t| TAGS[t]).collect();
        assert_eq!(got, ["O", "B-LOC", "O", "O", "B-ORG", "O", "B-ORG", "I-ORG", "O"]);
    }

    /// Score of one whole tag sequence, as Viterbi adds it up.
    fn sequence_score(w: &Weights, ctx: &Context<'_>, statics: &[Vec<u64>], tags: &[usize]) -> f32 {
        let mut fx = Features::new();
        let mut total = 0.0;
        for (i, &t) in tags.iter().enumerate() {
            let (p1, p2) = (if i > 0 { tags[i - 1] } else { 0 }, if i > 1 { tags[i - 2] } else { 0 });
            let mut s = [0f32; NT];
            w.score(&statics[i], &mut s);
            w.score(fx.history(ctx, i, p1, p2), &mut s);
            total += s[t];
        }
        total
    }

    #[test]
    fn viterbi_finds_the_best_sequence() {
        let text = "Peter NNP B-PER\nSmith NNP I-PER\nvisited VBD O\nNew NNP B-LOC\nYork NNP I-LOC\n. . O\n\n\
                    The DT O\nUnited NNP B-ORG\nNations NNP I-ORG\nmet VBD O\nin IN O\nParis NNP B-LOC\n. . O\n";
        let data = read_conll(text);
        let tagger = train(&data, Lexicon::default(), TrainConfig { epochs: 3, min_count: 1, seed: 5, folds: 0 }, |_, _, _| {});
        let words = ["Smith", "met", "United", "York"];
        let ctx = Context::new(&words, Some(&tagger.lower_vocab), &tagger.lexicon);
        let mut fx = Features::new();
        let statics: Vec<Vec<u64>> = (0..words.len()).map(|i| fx.token(&ctx, i)).collect();
        let got = tagger.first.decode(&ctx, &statics, &mut fx);
        // Every IOB2-valid sequence, exhaustively.
        let mut best = (f32::NEG_INFINITY, Vec::new());
        for code in 0..NT.pow(words.len() as u32) {
            let tags: Vec<usize> = (0..words.len()).map(|i| code / NT.pow(i as u32) % NT).collect();
            if (0..tags.len()).all(|i| allowed(if i > 0 { tags[i - 1] } else { 0 }, tags[i])) {
                let s = sequence_score(&tagger.first, &ctx, &statics, &tags);
                if s > best.0 {
                    best = (s, tags);
                }
            }
        }
        assert!(got.iter().any(|&t| t != 0), "a trivial all-O best: {got:?}");
        assert_eq!(got, best.1);
        assert!((sequence_score(&tagger.first, &ctx, &statics, &got) - best.0).abs() < 1e-4);
    }

    #[test]
    fn another_models_scores_join_both_passes_by_their_weights() {
        let text = "Peter NNP B-PER\nSmith NNP I-PER\nvisited VBD O\nParis NNP B-LOC\n. . O\n\nAnna NNP B-PER\nleft VBD O\nBerlin NNP B-LOC\n. . O\n";
        let tagger = train(&read_conll(text), Lexicon::default(), TrainConfig { epochs: 5, min_count: 1, seed: 2, folds: 0 }, |_, _, _| {});
        let words: &[&str] = &["Anna", "visited", "Paris", "."];
        let alone = tagger.tag_document(&[words]);
        assert_eq!(alone[0], ["B-PER", "O", "B-LOC", "O"]);
        // Evidence that "Paris" is an organisation.
        let mut row = [[-10f32; NT]; 4];
        for (r, t) in row.iter_mut().zip([1, 0, 3, 0]) {
            r[t] = 0.0;
        }
        let scores = vec![row.to_vec()];
        let weighed = |first, second| tagger.tag_document_with(&[words], Some(Evidence { scores: &scores, first, second }));
        assert_eq!(weighed(0.0, 0.0), alone, "no weight: the tagger alone");
        assert_eq!(weighed(100.0, 100.0)[0], ["B-PER", "O", "B-ORG", "O"]);
    }

    #[test]
    fn iob2_transitions() {
        assert!(allowed(1, 2));
        assert!(!allowed(0, 2));
        assert!(!allowed(3, 2));
        assert!(allowed(8, 8));
    }

    #[test]
    fn documents_and_clusters_are_read() {
        let data = read_conll("-DOCSTART- -X- O\n\nA x O\n\nB x O\n\n-DOCSTART- -X- O\n\nC x B-PER\n");
        assert_eq!(data.iter().map(|s| s.doc).collect::<Vec<_>>(), [0, 0, 1]);
        assert_eq!(documents(&data), [0..2, 2..3]);
        // Without -DOCSTART- the whole input is one document.
        assert_eq!(documents(&read_conll("A x O\n\nB x O\n")), vec![std::ops::Range { start: 0, end: 2 }]);
        let c = read_clusters("Paris\t1\t2\t3\t4\nbroken\t1\t2\nlyon\t1\t2\t3\t9\n");
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(&cluster_key("paris")), Some(&[1, 2, 3, 4]));
        assert!(!c.contains_key(&cluster_key("broken")));
    }

    #[test]
    fn second_pass_trains_and_round_trips() {
        // Ten short documents: a club name that is an ORG in every one of them.
        let mut text = String::new();
        for k in 0..10 {
            let (p, c) = (["Anna", "Peter", "Maria", "John", "Lena"][k % 5], ["Arsenal", "Chelsea"][k % 2]);
            text += &format!("-DOCSTART- -X- O\n\n{p} NNP B-PER\nleft VBD O\n{c} NNP B-ORG\n. . O\n\n{c} NNP B-ORG\nwon VBD O\n. . O\n\n");
        }
        let data = read_conll(&text);
        assert_eq!(documents(&data).len(), 10);
        let cfg = TrainConfig { epochs: 5, min_count: 1, seed: 3, folds: 2 };
        let tagger = train(&data, Lexicon::default(), cfg, |_, _, _| {});
        assert!(tagger.second.is_some());
        let doc: [&[&str]; 2] = [&["Anna", "left", "Chelsea", "."], &["Chelsea", "won", "."]];
        let tags = tagger.tag_document(&doc);
        assert_eq!(tags, [vec!["B-PER", "O", "B-ORG", "O"], vec!["B-ORG", "O", "O"]]);
        let mut buf = Vec::new();
        tagger.save(&mut buf).unwrap();
        let back = Tagger::load(&buf[..]).unwrap();
        assert!(back.second.is_some());
        assert_eq!(back.tag_document(&doc), tags);
    }

    #[test]
    fn learns_and_round_trips() {
        let text =
            "Peter NNP B-PER\nSmith NNP I-PER\nvisited VBD O\nParis NNP B-LOC\n. . O\n\nAnna NNP B-PER\nJones NNP I-PER\nleft VBD O\nBerlin NNP B-LOC\n. . O\n";
        let data = read_conll(text);
        let tagger = train(
            &data,
            Lexicon { gazetteer: read_gazetteer("LOC\tParis\n"), clusters: read_clusters("paris\t1\t2\t3\t4\nberlin\t1\t2\t3\t5\n") },
            TrainConfig { epochs: 5, min_count: 1, seed: 1, folds: 0 },
            |_, _, _| {},
        );
        assert_eq!(tagger.tag(&["Peter", "Smith", "visited", "Paris", "."]), ["B-PER", "I-PER", "O", "B-LOC", "O"]);
        let mut buf = Vec::new();
        tagger.save(&mut buf).unwrap();
        let back = Tagger::load(&buf[..]).unwrap();
        assert_eq!(back.tag(&["Anna", "Jones", "left", "Berlin", "."]), ["B-PER", "I-PER", "O", "B-LOC", "O"]);
        assert!(matches!(Tagger::load(&b"nonsense"[..]), Err(ModelError::BadHeader)));
        assert!(tagger.second.is_none());
        assert!(Tagger::load(&buf[..buf.len() / 2]).is_err());
    }
}
