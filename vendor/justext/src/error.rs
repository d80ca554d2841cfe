//! Storyline fork: the published crate's error type, which its stoplist lookup (re-exported in
//! `stoplists`) returns.

pub use justext_published::JustextError;
