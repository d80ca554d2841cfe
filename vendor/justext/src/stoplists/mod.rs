//! Storyline fork: the stoplists are the published crate's, a dependency, instead of a copy of
//! its 2.6 MB of word lists (the published `src/stoplists/mod.rs` embeds them with
//! `include_str!` and offers these three functions).

pub use justext_published::stoplists::{available_languages, get_all_stoplists, get_stoplist};
