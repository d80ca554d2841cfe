//! Bytes to text: byte-order marks, declared charsets (HTTP header, `<meta charset>`), UTF-8,
//! and a statistical guess (chardetng) for undeclared legacy encodings.

use encoding_rs::{Encoding, UTF_8};

/// Decoded text plus a note when the decoding was not plain, valid UTF-8.
pub struct Decoded {
    pub text: String,
    pub note: Option<String>,
}

/// Decode `bytes`. `declared` is a charset label from outside (an HTTP header); for HTML the
/// document's own `<meta charset>` is looked up too.
pub fn decode(bytes: &[u8], declared: Option<&str>, is_html: bool) -> Decoded {
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        let note = had_errors.then(|| format!("invalid {} byte sequences replaced with U+FFFD", encoding.name()));
        return Decoded { text: text.into_owned(), note };
    }
    let utf8 = std::str::from_utf8(bytes);
    let declared = declared.and_then(|label| Encoding::for_label(label.trim().as_bytes())).or_else(|| if is_html { meta_charset(bytes) } else { None });
    // Valid UTF-8 is taken as UTF-8 whatever a header claims: pure ASCII reads the same in any
    // ASCII-compatible charset, and pages that declare latin-1 but are UTF-8 are common while
    // legacy text that happens to be valid multi-byte UTF-8 is vanishingly rare.
    if let Ok(text) = utf8 {
        return Decoded { text: text.to_owned(), note: None };
    }
    if let Some(encoding) = declared {
        let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
        let note = if encoding == UTF_8 {
            Some("invalid UTF-8 byte sequences replaced with U+FFFD".to_owned())
        } else if had_errors {
            Some(format!("decoded as declared {}; invalid sequences replaced", encoding.name()))
        } else {
            None
        };
        return Decoded { text: text.into_owned(), note };
    }
    // Undeclared and not UTF-8: guess the legacy encoding from the byte statistics.
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    let guess = detector.guess(None, chardetng::Utf8Detection::Deny);
    let (text, _, had_errors) = guess.decode(bytes);
    let mut note = format!("not valid UTF-8 and no charset declared; decoded as {} (detected)", guess.name());
    if had_errors {
        note.push_str(", invalid sequences replaced");
    }
    Decoded { text: text.into_owned(), note: Some(note) }
}

/// The charset a page declares in its first few kilobytes (`<meta charset=...>` or
/// `<meta http-equiv="Content-Type" content="...; charset=...">`).
pub fn meta_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(4096)];
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    let mut from = 0;
    while let Some(pos) = find(&lower[from..], b"charset") {
        let mut i = from + pos + b"charset".len();
        from = i;
        while i < lower.len() && matches!(lower[i], b' ' | b'=' | b'"' | b'\'') {
            i += 1;
        }
        let start = i;
        while i < lower.len() && (lower[i].is_ascii_alphanumeric() || matches!(lower[i], b'-' | b'_' | b':' | b'.')) {
            i += 1;
        }
        if i > start {
            if let Some(enc) = Encoding::for_label(&lower[start..i]) {
                // A page that says UTF-16 in ASCII bytes is not UTF-16 (HTML spec).
                return Some(if enc.is_single_byte() || enc.is_ascii_compatible() { enc } else { UTF_8 });
            }
        }
    }
    None
}

/// Charset parameter of a `Content-Type` header value.
pub fn content_type_charset(content_type: &str) -> Option<String> {
    let lower = content_type.to_ascii_lowercase();
    let pos = lower.find("charset=")?;
    let value = &content_type[pos + 8..];
    let value = value.trim_start_matches(['"', '\'']);
    let end = value.find(|c: char| c == ';' || c == '"' || c == '\'' || c.is_whitespace()).unwrap_or(value.len());
    (end > 0).then(|| value[..end].to_owned())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_passes_through() {
        let d = decode("Caf\u{e9} \u{201c}quoted\u{201d}".as_bytes(), None, false);
        assert_eq!(d.text, "Caf\u{e9} \u{201c}quoted\u{201d}");
        assert!(d.note.is_none());
    }

    #[test]
    fn declared_windows_1252_in_meta() {
        let mut page = b"<html><head><meta charset=\"windows-1252\"></head><body><p>".to_vec();
        page.extend_from_slice(&[0x93, b'H', b'i', 0x94, b' ', b'c', b'a', b'f', 0xe9]);
        let d = decode(&page, None, true);
        assert!(d.text.contains("\u{201c}Hi\u{201d} caf\u{e9}"), "{}", d.text);
        assert!(d.note.is_none());
    }

    #[test]
    fn undeclared_latin1_is_detected_and_noted() {
        let bytes = b"Le gouvernement fran\xe7ais a annonc\xe9 mercredi une r\xe9forme de l'\xe9cole.";
        let d = decode(bytes, None, false);
        assert!(d.text.contains("fran\u{e7}ais"), "{}", d.text);
        assert!(d.note.unwrap().contains("detected"));
    }

    #[test]
    fn invalid_utf8_declared_utf8_is_replaced_and_noted() {
        let d = decode(b"abc \xff\xfe def", Some("utf-8"), false);
        assert!(d.text.contains('\u{fffd}'));
        assert!(d.note.is_some());
    }

    #[test]
    fn charset_from_content_type() {
        assert_eq!(content_type_charset("text/html; charset=ISO-8859-1").as_deref(), Some("ISO-8859-1"));
        assert_eq!(content_type_charset("text/html"), None);
    }
}
