//! Following sources as they publish: what an article's canonical address is ([`canon`]), what
//! a feed, a sitemap or an OPML list of feeds names ([`listing`] over [`sitemap`], [`opml`]
//! and `feed-rs`) — pure, no IO — the one
//! place that talks to the network, a polite fetcher ([`fetch`]), and the WARC archive of
//! every answer ([`archive`]).

pub mod archive;
pub mod canon;
pub mod fetch;
pub mod folder;
pub mod follower;
pub mod listing;
pub mod opml;
pub mod sitemap;
mod xml;

/// Why a source's document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{source_name}: not well-formed XML at byte {position}: {message}")]
    Xml { source_name: String, position: u64, message: String },
    #[error("{source_name}: more than {limit} bytes once decompressed; the rest is not read")]
    TooLarge { source_name: String, limit: u64 },
    #[error("{source_name}: corrupt gzip: {message}")]
    Gzip { source_name: String, message: String },
    #[error("{source_name}: {message}")]
    NotThisFormat { source_name: String, message: String },
    /// A parser library panicked on this document (contained: the document is refused).
    #[error("{source_name}: the feed parser failed on this document: {message}")]
    Parser { source_name: String, message: String },
}
