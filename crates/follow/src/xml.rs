//! The XML reading shared by the sitemap and OPML readers: gzip undone within a size limit,
//! text with its entities resolved.

use std::io::Read;

use quick_xml::events::{BytesRef, BytesText};

use crate::Error;

/// The document's bytes, gunzipped when they are gzip (by content, not by name), at most
/// `limit` bytes of them.
pub fn decompressed(source_name: &str, bytes: &[u8], limit: u64) -> Result<Vec<u8>, Error> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        if bytes.len() as u64 > limit {
            return Err(Error::TooLarge { source_name: source_name.to_owned(), limit });
        }
        return Ok(bytes.to_vec());
    }
    let mut out = Vec::new();
    let mut decoder = flate2::read::MultiGzDecoder::new(bytes).take(limit + 1);
    decoder.read_to_end(&mut out).map_err(|e| Error::Gzip { source_name: source_name.to_owned(), message: e.to_string() })?;
    if out.len() as u64 > limit {
        return Err(Error::TooLarge { source_name: source_name.to_owned(), limit });
    }
    Ok(out)
}

pub fn text(t: &BytesText<'_>) -> String {
    t.xml10_content().into_owned()
}

/// A character or predefined entity reference (`&amp;`, `&#8217;`); unknown ones stay as written.
pub fn reference(r: &BytesRef<'_>) -> String {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return c.to_string();
    }
    let name = r.xml10_content();
    let written = format!("&{name};");
    quick_xml::escape::unescape(&written).map(|s| s.into_owned()).unwrap_or(written)
}

pub fn error(source_name: &str, position: u64, e: impl std::fmt::Display) -> Error {
    Error::Xml { source_name: source_name.to_owned(), position, message: e.to_string() }
}
