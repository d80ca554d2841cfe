//! Format detection from the first bytes of a (decompressed) input, not from its name.

/// How many leading bytes format detection looks at.
pub const SNIFF_BYTES: usize = 16 * 1024;

/// What an input looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Empty,
    Binary,
    Warc,
    Jsonl,
    Feed,
    Html,
    Text,
}

/// Classifies an input from its first bytes.
pub fn sniff(head: &[u8]) -> Sniffed {
    let has_bom = head.starts_with(&[0xef, 0xbb, 0xbf]) || head.starts_with(&[0xff, 0xfe]) || head.starts_with(&[0xfe, 0xff]);
    if head.iter().all(|b| b.is_ascii_whitespace()) {
        return Sniffed::Empty;
    }
    if !has_bom && looks_binary(head) {
        return Sniffed::Binary;
    }
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with("WARC/") {
        return Sniffed::Warc;
    }
    if trimmed.starts_with('{') && first_line_is_json_object(trimmed, head.len() == SNIFF_BYTES) {
        return Sniffed::Jsonl;
    }
    let lower = trimmed.get(..trimmed.len().min(2048)).unwrap_or(trimmed).to_ascii_lowercase();
    let markup = skip_prolog(&lower);
    if markup.starts_with("<rss") || markup.starts_with("<feed") || markup.starts_with("<rdf:rdf") {
        return Sniffed::Feed;
    }
    if markup.starts_with("<!doctype html") || markup.starts_with("<html") || markup.starts_with("<head") || markup.starts_with("<body") {
        return Sniffed::Html;
    }
    // A page may open with a bare element: a <style> or <script> block of many kilobytes before
    // any other tag (then the tags are counted over the whole window, not its first 2 KiB).
    if markup.starts_with('<') && (opens_with_html_element(markup) || count_tags(&trimmed.to_ascii_lowercase()) >= 3) {
        return Sniffed::Html;
    }
    Sniffed::Text
}

/// Whether the text opens with the start tag of an element only HTML has (not a feed's or
/// another XML vocabulary's root).
fn opens_with_html_element(s: &str) -> bool {
    const ELEMENTS: [&str; 16] =
        ["style", "script", "meta", "link", "base", "title", "noscript", "div", "p", "span", "table", "section", "article", "main", "header", "iframe"];
    let name: String = s[1..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
    let after = s[1 + name.len()..].chars().next();
    ELEMENTS.contains(&name.as_str()) && matches!(after, Some(c) if c == '>' || c == '/' || c.is_ascii_whitespace())
}

/// Skips an XML declaration, comments and doctype-free processing instructions.
fn skip_prolog(s: &str) -> &str {
    let mut s = s.trim_start();
    loop {
        if s.starts_with("<?") {
            match s.find("?>") {
                Some(end) => s = s[end + 2..].trim_start(),
                None => return s,
            }
        } else if s.starts_with("<!--") {
            match s.find("-->") {
                Some(end) => s = s[end + 3..].trim_start(),
                None => return s,
            }
        } else {
            return s;
        }
    }
}

fn count_tags(s: &str) -> usize {
    ["<p>", "<p ", "<div", "<a ", "<br", "<span", "<meta", "<title", "<script", "<table"].iter().map(|tag| s.matches(tag).count()).sum()
}

/// A line of the window parses as a JSON object (the first may be broken: its neighbours still
/// tell the format), or the first line is cut off by the sniff window while still looking like
/// one.
fn first_line_is_json_object(s: &str, window_full: bool) -> bool {
    let is_object = |line: &str| matches!(serde_json::from_str::<serde_json::Value>(line.trim()), Ok(serde_json::Value::Object(_)));
    match s.split_once('\n') {
        Some(_) => {
            let mut lines: Vec<&str> = s.split('\n').collect();
            if window_full {
                // The last line may be cut by the window.
                lines.pop();
            }
            lines.iter().filter(|l| !l.trim().is_empty()).take(8).any(|l| l.trim_start().starts_with('{') && is_object(l))
        }
        None if window_full => true,
        None => is_object(s),
    }
}

/// Many NUL bytes, or many control bytes, mean this is not text in any ASCII-compatible
/// encoding. A stray NUL or two in text (a broken line of a dump) is still text.
fn looks_binary(head: &[u8]) -> bool {
    let nul = head.iter().filter(|&&b| b == 0).count();
    let control = head.iter().filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b)).count();
    nul * 200 > head.len() || control * 20 > head.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &[u8], expected: Sniffed) {
        assert_eq!(sniff(input), expected, "{:?}", String::from_utf8_lossy(input));
    }

    #[test]
    fn formats_from_content() {
        check(b"", Sniffed::Empty);
        check(b"  \n\n", Sniffed::Empty);
        check(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", Sniffed::Binary);
        check(b"WARC/1.0\r\nWARC-Type: warcinfo\r\n", Sniffed::Warc);
        check(b"{\"title\": \"a\", \"text\": \"b\"}\n{\"title\": 2}\n", Sniffed::Jsonl);
        check(b"{not json at all}\nsecond line", Sniffed::Text);
        check(b"<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel>", Sniffed::Feed);
        check(b"<?xml version=\"1.0\" encoding=\"utf-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\">", Sniffed::Feed);
        check(b"<!DOCTYPE html><html><head>", Sniffed::Html);
        check(b"\xef\xbb\xbf<html lang=en>", Sniffed::Html);
        check(b"<div><p>one</p><p>two</p></div>", Sniffed::Html);
        // A page that opens with a long style block, its first other tag kilobytes on.
        let styled = format!("<style>\n{}</style>\n<title>A page</title>", "  .grid {{ display: grid; gap: 10px; }}\n".repeat(200));
        check(styled.as_bytes(), Sniffed::Html);
        check(b"<script>var a = 1;</script>", Sniffed::Html);
        check(b"<stylesheet-notes> are not HTML", Sniffed::Text);
        check(b"<note>an XML note</note>", Sniffed::Text);
        check(b"US sending official to the region\n\nUS Secretary of State said", Sniffed::Text);
        // A NUL in the first line of a dump does not make the file binary, nor hide its format.
        let dump = format!("{{\"text\": \"a\0b\"}}\n{}", "{\"title\": \"t\", \"text\": \"some article text\"}\n".repeat(20));
        check(dump.as_bytes(), Sniffed::Jsonl);
    }
}
