//! The parse budget of an HTML page, measured before any HTML library sees it.
//!
//! The HTML parsers we rely on (html5ever, under `scraper` and `trafilatura`) recurse over the
//! tree and check element scope by walking the stack of open elements, so their time grows with
//! depth × tokens and their stack with depth. [`measure`] tokenizes the markup in one linear pass
//! (tags, attributes with quotes, comments, raw-text elements) and simulates the tree builder's
//! stack of open elements conservatively: an element is popped only where the HTML parsing rules
//! pop it too (an end tag whose element is in scope, the implied ends of `p`, `li`, table cells
//! and rows), never for a stray end tag, a self-closing slash on a normal element, or a close
//! that crosses a scope boundary. Formatting elements that the parser would reconstruct after
//! their block closed keep counting. So the estimate is an upper bound that no markup can push
//! below the depth the parser reaches.

use xxhash_rust::xxh3::xxh3_64;

/// What a page costs to parse, as estimated by [`measure`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MarkupCost {
    /// Deepest element nesting the parser can reach.
    pub max_depth: usize,
    /// Tags seen (start and end).
    pub tags: usize,
    /// Sum of the nesting depth at every tag: the tree builder's scope checks.
    pub work: u64,
}

/// Limits of the HTML parse; past either one, the page is read as text.
#[derive(Debug, Clone, Copy)]
pub struct ParseBudget {
    pub max_depth: usize,
    pub max_tags: usize,
    pub max_work: u64,
}

/// What [`crate::extract`] allows a page: deeper than any real page we have seen nests (about
/// 100), and a few seconds of parsing at worst.
pub const PARSE_BUDGET: ParseBudget = ParseBudget { max_depth: 1000, max_tags: 250_000, max_work: 4_000_000 };

impl ParseBudget {
    /// Why `cost` is over budget, or `None`.
    pub fn exceeded(&self, cost: &MarkupCost) -> Option<String> {
        if cost.max_depth > self.max_depth {
            Some(format!("markup nested more than {} elements deep", self.max_depth))
        } else if cost.tags > self.max_tags {
            Some(format!("markup has more than {} tags", self.max_tags))
        } else if cost.work > self.max_work {
            Some(format!("markup too costly to parse (over {} element levels for the tree builder to walk)", self.max_work))
        } else {
            None
        }
    }
}

const VOID: u32 = 1;
const SPECIAL: u32 = 2;
const SCOPE: u32 = 4;
const CLOSES_P: u32 = 8;
const RAW_TEXT: u32 = 16;
const IGNORED: u32 = 32;
const FOREIGN_ROOT: u32 = 64;
const BREAKOUT: u32 = 128;
const BUTTON: u32 = 256;
/// Cells, captions and the like: the parser forgets the formatting opened inside when they close.
const MARKER: u32 = 512;
/// Table scope: where a new row or cell stops looking for the one it closes.
const TABLE: u32 = 1024;

/// The formatting elements: each open one is reconstructed by the parser after the block that
/// held it closed, until its own end tag comes.
const FORMATTING: [&[u8]; 14] = [b"a", b"b", b"big", b"code", b"em", b"font", b"i", b"nobr", b"s", b"small", b"strike", b"strong", b"tt", b"u"];

fn formatting_index(name: &[u8]) -> Option<usize> {
    FORMATTING.iter().position(|f| *f == name)
}

/// Element classes from the HTML parsing rules (tree construction, "in body").
fn class(name: &[u8]) -> u32 {
    match name {
        b"area" | b"br" | b"embed" | b"img" | b"image" | b"keygen" | b"wbr" | b"input" | b"hr" | b"base" | b"basefont" | b"bgsound" | b"link" | b"meta"
        | b"param" | b"source" | b"track" | b"col" | b"frame" => VOID | SPECIAL,
        b"html" | b"head" | b"body" => IGNORED,
        b"table" | b"template" => SPECIAL | SCOPE | MARKER | TABLE,
        b"applet" | b"caption" | b"td" | b"th" | b"marquee" | b"object" => SPECIAL | SCOPE | MARKER,
        b"a" | b"b" | b"big" | b"code" | b"em" | b"font" | b"i" | b"nobr" | b"s" | b"small" | b"strike" | b"strong" | b"tt" | b"u" => BREAKOUT,
        b"script" | b"style" | b"title" | b"textarea" | b"xmp" | b"iframe" | b"noembed" | b"noframes" => SPECIAL | RAW_TEXT,
        b"address" | b"article" | b"aside" | b"blockquote" | b"center" | b"details" | b"dialog" | b"dir" | b"div" | b"dl" | b"fieldset" | b"figcaption"
        | b"figure" | b"footer" | b"header" | b"hgroup" | b"main" | b"menu" | b"nav" | b"ol" | b"p" | b"search" | b"section" | b"summary" | b"ul" | b"h1"
        | b"h2" | b"h3" | b"h4" | b"h5" | b"h6" | b"pre" | b"listing" | b"form" | b"li" | b"dd" | b"dt" => SPECIAL | CLOSES_P | BREAKOUT,
        b"svg" | b"math" => FOREIGN_ROOT,
        b"button" => SPECIAL | BUTTON,
        b"colgroup" | b"frameset" | b"noscript" | b"plaintext" | b"select" | b"tbody" | b"tfoot" | b"thead" | b"tr" => SPECIAL,
        b"span" | b"sub" | b"sup" | b"var" | b"ruby" => BREAKOUT,
        _ => 0,
    }
}

/// One open element of the simulated stack.
#[derive(Clone, Copy)]
struct Open {
    name: u64,
    class: u32,
    foreign: bool,
    formatting: Option<u8>,
}

/// The simulated tree builder.
#[derive(Default)]
struct Sim {
    stack: Vec<Open>,
    /// Per formatting element: entries in the parser's list of active formatting elements (opened,
    /// not yet closed by their own end tag), and how many of those are on the stack now.
    entries: [usize; 14],
    on_stack: [usize; 14],
    /// Open markers: the stack index of each, and the entries as they were when it opened.
    markers: Vec<(usize, [usize; 14])>,
    cost: MarkupCost,
}

fn hash(name: &[u8]) -> u64 {
    xxh3_64(name)
}

impl Sim {
    /// Open elements plus the formatting elements the parser would reconstruct.
    fn depth(&self) -> usize {
        self.stack.len() + self.entries.iter().zip(&self.on_stack).map(|(e, s)| e.saturating_sub(*s)).sum::<usize>()
    }

    fn push(&mut self, name: &[u8], class: u32, foreign: bool) {
        let formatting = if foreign { None } else { formatting_index(name) };
        if let Some(k) = formatting {
            self.entries[k] += 1;
            self.on_stack[k] += 1;
        }
        if class & MARKER != 0 && !foreign {
            self.markers.push((self.stack.len(), self.entries));
        }
        self.stack.push(Open { name: hash(name), class, foreign, formatting: formatting.map(|k| k as u8) });
    }

    fn truncate(&mut self, len: usize) {
        for open in self.stack.drain(len..) {
            if let Some(k) = open.formatting {
                self.on_stack[k as usize] -= 1;
            }
        }
        while self.markers.last().is_some_and(|(at, _)| *at >= len) {
            if let Some((_, before)) = self.markers.pop() {
                self.entries = before;
            }
        }
        for (e, s) in self.entries.iter_mut().zip(&self.on_stack) {
            *e = (*e).max(*s);
        }
    }

    /// Index of the nearest open element named one of `names`, searching down to a scope
    /// boundary (an element of a `stop` class, or foreign content), or `None`.
    fn find_in_scope(&self, names: &[u64], stop: u32) -> Option<usize> {
        for (i, open) in self.stack.iter().enumerate().rev() {
            if names.contains(&open.name) {
                return Some(i);
            }
            if open.class & stop != 0 || open.foreign {
                return None;
            }
        }
        None
    }

    /// Closes what the start of `name` implicitly ends (an open `p`, a sibling `li`, a cell).
    fn implied_ends(&mut self, name: &[u8], class: u32) {
        let group: &[&[u8]] = match name {
            b"li" => &[b"li"],
            b"dd" | b"dt" => &[b"dd", b"dt"],
            b"td" | b"th" => &[b"td", b"th"],
            b"tr" => &[b"tr"],
            b"tbody" | b"thead" | b"tfoot" => &[b"tbody", b"thead", b"tfoot"],
            b"option" => &[b"option"],
            b"optgroup" => &[b"optgroup", b"option"],
            b"rb" | b"rt" | b"rp" | b"rtc" => &[b"rb", b"rt", b"rp", b"rtc"],
            b"button" => &[b"button"],
            _ => &[],
        };
        if !group.is_empty() {
            let names: Vec<u64> = group.iter().map(|g| hash(g)).collect();
            // Cells and rows end at their table; other items at any special element.
            let table_part = matches!(name, b"td" | b"th" | b"tr" | b"tbody" | b"thead" | b"tfoot");
            let stop = if table_part { TABLE } else { SCOPE | SPECIAL };
            if let Some(i) = self.find_in_scope(&names, stop) {
                self.truncate(i);
            }
        }
        if class & CLOSES_P != 0 {
            if let Some(i) = self.find_in_scope(&[hash(b"p")], SCOPE | BUTTON) {
                self.truncate(i);
            }
        }
    }

    fn start(&mut self, name: &[u8], self_closing: bool) {
        let class = class(name);
        let in_foreign = self.stack.last().is_some_and(|o| o.foreign);
        if in_foreign && class & BREAKOUT != 0 {
            // An HTML element inside SVG or MathML closes the foreign content first.
            let keep = self.stack.iter().rposition(|o| !o.foreign).map_or(0, |i| i + 1);
            self.truncate(keep);
        }
        let foreign = (class & FOREIGN_ROOT != 0) || (in_foreign && class & BREAKOUT == 0);
        if foreign {
            // Inside foreign content `/>` closes any element, and the HTML classes do not apply.
            if !self_closing {
                self.push(name, 0, true);
            }
            return;
        }
        if class & (SPECIAL | IGNORED | CLOSES_P) == 0 || class & VOID != 0 {
            self.reconstruct();
        }
        if class & (VOID | IGNORED) != 0 {
            return;
        }
        self.implied_ends(name, class);
        // Cells and rows directly in a table get the rows and bodies the parser inserts.
        let top = self.stack.last().map(|o| o.name);
        if matches!(name, b"td" | b"th" | b"tr") && top == Some(hash(b"table")) {
            self.push(b"tbody", SPECIAL, false);
            if name != b"tr" {
                self.push(b"tr", SPECIAL, false);
            }
        } else if matches!(name, b"td" | b"th") && top.is_some_and(|t| [hash(b"tbody"), hash(b"thead"), hash(b"tfoot")].contains(&t)) {
            self.push(b"tr", SPECIAL, false);
        }
        self.push(name, class, false);
    }

    fn end(&mut self, name: &[u8]) {
        let class = class(name);
        if class & IGNORED != 0 {
            return;
        }
        let h = hash(name);
        // Search down: the element itself closes; a special element (or, for special end tags,
        // a scope boundary) stops the search and the end tag is ignored.
        let stop = if class & SPECIAL != 0 { SCOPE } else { SPECIAL | SCOPE };
        for i in (0..self.stack.len()).rev() {
            let open = self.stack[i];
            if open.name == h {
                if let Some(k) = open.formatting {
                    self.entries[k as usize] -= 1;
                }
                self.truncate(i);
                return;
            }
            if !open.foreign && open.class & stop != 0 {
                break;
            }
        }
        // A formatting element no longer open still leaves the list at its end tag (only one
        // opened after the last marker: cells keep the formatting of the page around them).
        if let Some(k) = formatting_index(name) {
            let floor = self.markers.last().map_or(0, |(_, before)| before[k]);
            if self.entries[k] > self.on_stack[k].max(floor) {
                self.entries[k] -= 1;
            }
        }
    }

    /// Text, or an inline start tag: the parser reopens the formatting elements whose block
    /// closed under them (each a new element, nested in the last).
    fn reconstruct(&mut self) {
        for (k, name) in FORMATTING.iter().enumerate() {
            for _ in self.on_stack[k]..self.entries[k] {
                self.stack.push(Open { name: hash(name), class: BREAKOUT, foreign: false, formatting: Some(k as u8) });
                self.on_stack[k] += 1;
                self.cost.work += self.stack.len() as u64;
            }
        }
        self.cost.max_depth = self.cost.max_depth.max(self.stack.len());
    }

    fn count_tag(&mut self) {
        self.cost.tags += 1;
        let depth = self.depth();
        self.cost.work += depth as u64;
        self.cost.max_depth = self.cost.max_depth.max(depth);
    }
}

/// Measures `html` in one linear pass (see the module documentation). Stops early once the
/// depth passes `stop_at`, since nothing more is needed then.
pub fn measure(html: &str, stop_at: &ParseBudget) -> MarkupCost {
    let bytes = html.as_bytes();
    let mut sim = Sim::default();
    let mut name = Vec::with_capacity(16);
    let mut i = 0;
    while let Some(rel) = memchr::memchr(b'<', &bytes[i..]) {
        let lt = i + rel;
        if rel > 0 && sim.stack.last().is_none_or(|o| !o.foreign) {
            sim.reconstruct();
        }
        i = lt + 1;
        let Some(&next) = bytes.get(i) else { break };
        if next == b'!' {
            i = skip_markup_declaration(bytes, i + 1);
            continue;
        }
        if next == b'?' {
            i = find_byte(bytes, i, b'>').map_or(bytes.len(), |e| e + 1);
            continue;
        }
        let closing = next == b'/';
        let name_start = if closing { i + 1 } else { i };
        if !bytes.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
            if closing {
                // `</>` is dropped, `</ x>` is a bogus comment up to `>`.
                i = find_byte(bytes, name_start, b'>').map_or(bytes.len(), |e| e + 1);
            }
            continue;
        }
        let mut j = name_start;
        name.clear();
        while j < bytes.len() && !matches!(bytes[j], b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' | b'/' | b'>') {
            name.push(bytes[j].to_ascii_lowercase());
            j += 1;
        }
        let (end, self_closing) = skip_attributes(bytes, j);
        i = end;
        if closing {
            sim.end(&name);
        } else {
            sim.start(&name, self_closing);
            let class = class(&name);
            let foreign = sim.stack.last().is_some_and(|o| o.foreign);
            if !foreign && name.as_slice() == b"plaintext" {
                break;
            }
            if !foreign && class & RAW_TEXT != 0 {
                // Its content is text up to `</name`; the element closes there.
                i = find_end_tag(bytes, i, &name);
                if let Some(top) = sim.stack.last() {
                    if top.name == hash(&name) {
                        sim.stack.pop();
                    }
                }
            }
        }
        sim.count_tag();
        if sim.depth() > stop_at.max_depth || sim.cost.work > stop_at.max_work || sim.cost.tags > stop_at.max_tags {
            break;
        }
    }
    sim.cost
}

fn find_byte(bytes: &[u8], from: usize, b: u8) -> Option<usize> {
    memchr::memchr(b, bytes.get(from..)?).map(|p| from + p)
}

/// Skips `<!-- ... -->`, `<!DOCTYPE ...>`, `<![CDATA[...>` (a bogus comment outside foreign
/// content: it ends at the first `>`, which is never later than where the parser ends it).
fn skip_markup_declaration(bytes: &[u8], from: usize) -> usize {
    if bytes[from..].starts_with(b"--") {
        let body = from + 2;
        // `<!-->` and `<!--->` are empty comments.
        if bytes[body..].starts_with(b">") {
            return body + 1;
        }
        if bytes[body..].starts_with(b"->") {
            return body + 2;
        }
        let mut k = body;
        while let Some(p) = find_byte(bytes, k, b'-') {
            if bytes[p..].starts_with(b"-->") {
                return p + 3;
            }
            if bytes[p..].starts_with(b"--!>") {
                return p + 4;
            }
            k = p + 1;
        }
        return bytes.len();
    }
    find_byte(bytes, from, b'>').map_or(bytes.len(), |e| e + 1)
}

/// Skips a tag's attributes (quoted values may hold `>`); returns the index after `>` and whether
/// the tag ended with `/>`.
fn skip_attributes(bytes: &[u8], mut j: usize) -> (usize, bool) {
    let ws = |b: u8| matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ');
    let mut self_closing = false;
    while j < bytes.len() {
        let b = bytes[j];
        if ws(b) {
            j += 1;
            continue;
        }
        if b == b'>' {
            return (j + 1, self_closing);
        }
        if b == b'/' {
            self_closing = true;
            j += 1;
            continue;
        }
        self_closing = false;
        // Attribute name (a leading `=` belongs to the name).
        j += 1;
        while j < bytes.len() && !ws(bytes[j]) && !matches!(bytes[j], b'/' | b'>' | b'=') {
            j += 1;
        }
        while j < bytes.len() && ws(bytes[j]) {
            j += 1;
        }
        if bytes.get(j) != Some(&b'=') {
            continue;
        }
        j += 1;
        while j < bytes.len() && ws(bytes[j]) {
            j += 1;
        }
        match bytes.get(j) {
            Some(&q @ (b'"' | b'\'')) => j = find_byte(bytes, j + 1, q).map_or(bytes.len(), |e| e + 1),
            Some(b'>') => {}
            Some(_) => {
                while j < bytes.len() && !ws(bytes[j]) && bytes[j] != b'>' {
                    j += 1;
                }
            }
            None => {}
        }
    }
    (bytes.len(), self_closing)
}

/// Index of the `<` of the end tag `</name` (followed by a space, `/` or `>`) after `from`.
fn find_end_tag(bytes: &[u8], mut from: usize, name: &[u8]) -> usize {
    while let Some(p) = find_byte(bytes, from, b'<') {
        let rest = &bytes[p + 1..];
        if rest.first() == Some(&b'/')
            && rest.len() > name.len()
            && rest[1..=name.len()].eq_ignore_ascii_case(name)
            && rest.get(name.len() + 1).is_none_or(|b| matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' | b'/' | b'>'))
        {
            return p;
        }
        from = p + 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: ParseBudget = ParseBudget { max_depth: usize::MAX, max_tags: usize::MAX, max_work: u64::MAX };

    fn depth(html: &str) -> usize {
        measure(html, &OPEN).max_depth
    }

    #[test]
    fn valid_pages_measure_their_real_depth() {
        assert_eq!(depth("<html><body><div><p>a<br>b<img src=x></p><div><span>c</span></div></div></body></html>"), 3);
        // Optional end tags close where the parser closes them.
        assert_eq!(depth("<ul><li>a<li>b<li>c</ul><p>one<p>two<div>three</div>"), 2);
        assert_eq!(depth("<table><tr><td>a<td>b<tr><td>c</table>"), 4);
        assert_eq!(depth("<dl><dt>a<dd>b<dt>c</dl>"), 2);
        // Markup-like text in scripts, comments and attribute values is not markup.
        assert_eq!(depth(&format!("<div><script>var s = '{}';</script></div>", "<span>".repeat(50))), 1);
        assert_eq!(depth(&format!("<div><!-- {} --></div>", "<span>".repeat(50))), 1);
        assert_eq!(depth(&format!("<div title=\"{}\"></div>", "<span>".repeat(50))), 1);
        // Self-closing is real inside SVG.
        assert_eq!(depth(&format!("<div><svg>{}</svg></div>", "<path d=\"M0\"/>".repeat(50))), 2);
    }

    #[test]
    fn no_markup_hides_its_depth() {
        let n = 3000;
        for (what, html) in [
            ("self-closing normal elements", "<div/>".repeat(n)),
            ("stray end tags", "<div></x>".repeat(n)),
            ("end tags of elements not open", format!("{}{}", "<div>".repeat(n), "</span>".repeat(n))),
            ("template contents", format!("<template>{}</template>", "<div>".repeat(n))),
            ("cells closing across a table", "<table><tr><td></x>".repeat(n)),
            ("cells with implied rows", "<table><td>".repeat(n)),
            ("end tags across a cell", "<div><table><tr><td></div>".repeat(n)),
            ("formatting reconstructed after its block", format!("<div>{}</div>", (0..n).map(|k| format!("<b id={k}>")).collect::<String>())),
            ("HTML breaking out of SVG", "<svg><div/>".repeat(n)),
            ("end tag hidden in an unquoted attribute", "<div a=</div>>".repeat(n)),
        ] {
            assert!(depth(&html) >= n, "{what}: {}", depth(&html));
        }
    }

    #[test]
    fn stops_early_and_says_why() {
        let budget = ParseBudget { max_depth: 100, max_tags: 100_000, max_work: 1_000_000 };
        let cost = measure(&"<div>".repeat(1_000_000), &budget);
        assert!(cost.tags < 1000, "{cost:?}");
        assert!(budget.exceeded(&cost).unwrap().contains("100 elements deep"));
        let wide = format!("{}{}", "<div>".repeat(90), "<span></span>".repeat(10_000));
        let cost = measure(&wide, &budget);
        assert!(budget.exceeded(&cost).unwrap().contains("too costly"), "{cost:?}");
        assert_eq!(budget.exceeded(&measure("<p>fine</p>", &budget)), None);
        let many = "<p>x</p>".repeat(60_000);
        assert!(budget.exceeded(&measure(&many, &budget)).unwrap().contains("more than 100000 tags"));
        // Each paragraph reopens the formatting left open before it: 200 elements each time.
        let reopened = format!("<div>{}</div>{}", (0..200).map(|k| format!("<b id={k}>")).collect::<String>(), "<p>x</p>".repeat(100));
        assert!(measure(&reopened, &OPEN).work > 200 * 200 * 100 / 2, "{:?}", measure(&reopened, &OPEN));
    }
}
