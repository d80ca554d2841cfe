//! Server-rendered HTML: one layout, the story page (also what `storyline report --format
//! html` writes), and the helpers the other pages share. Every text goes through [`esc`].

use std::fmt::Write;

use storyline_compare::day;
use storyline_model::{ConflictKind, Facts, MatrixKind, StoryReport, TimelineKind};

/// HTML-escapes text for element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What a path segment or query value keeps as is: RFC 3986's unreserved characters.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes a path segment or query value.
pub fn url(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string()
}

/// A name linked to its entity page when it was resolved to one; the escaped name otherwise.
pub fn entity_link(entity: Option<&str>, name: &str) -> String {
    match entity {
        Some(e) => format!("<a href=\"/ui/entities/{}\">{}</a>", url(e), esc(name)),
        None => esc(name),
    }
}

pub const CSS: &str = r#"
:root{--fg:#1d1d1f;--muted:#6b6b73;--line:#e3e3e8;--bg:#fff;--accent:#0b57d0;--warn:#b3261e;--ok:#146c2e}
*{box-sizing:border-box}body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0}
header.top{display:flex;gap:1.5rem;align-items:center;padding:.6rem 1.5rem;border-bottom:1px solid var(--line);background:#fafafa}
header.top a.brand{font-weight:700;color:var(--fg);text-decoration:none}
main{max-width:1200px;margin:0 auto;padding:1rem 1.5rem 4rem}
a{color:var(--accent)}h1{font-size:1.6rem;margin:.6rem 0}h2{font-size:1.15rem;margin:2rem 0 .6rem;border-bottom:1px solid var(--line);padding-bottom:.2rem}
.muted{color:var(--muted)}.small{font-size:.85rem}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid var(--line);padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f6f8;font-weight:600}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:.5rem 0 1rem}
form.filters label{display:flex;flex-direction:column;font-size:.8rem;color:var(--muted)}
input,select,button{font:inherit;padding:.3rem .5rem;border:1px solid #c8c8d0;border-radius:6px;background:#fff}
button{background:var(--accent);color:#fff;border-color:var(--accent);cursor:pointer}
.tag{display:inline-block;border:1px solid var(--line);border-radius:999px;padding:0 .5rem;margin:0 .2rem .2rem 0;font-size:.8rem;background:#f6f6f8}
.summary li{margin:.4rem 0}.cite{font-size:.75rem;vertical-align:super;margin-left:.1rem}
.cite-wrap{position:relative}.cite-wrap .support{display:none;position:absolute;left:0;top:1.4em;z-index:5;width:28rem;max-width:80vw;background:#fff;border:1px solid #c8c8d0;border-radius:8px;box-shadow:0 4px 14px rgba(0,0,0,.12);padding:.5rem .7rem;font-size:.85rem;line-height:1.4}
.cite-wrap:hover .support,.cite-wrap:focus-within .support,.cite-wrap.open .support{display:block}
.conflict{border:1px solid #f0c4c0;background:#fdf3f2;border-radius:8px;padding:.6rem .9rem;margin:.6rem 0}
.majority{color:var(--ok);font-weight:600}.minority{color:var(--warn);font-weight:600}
.variant{margin:.3rem 0 .8rem}.w-added{background:#d7f5dd;text-decoration:none}.w-missing{background:#fbd9d6;text-decoration:line-through}
.matrix{overflow-x:auto}.matrix td.has{background:#eef5ee}.matrix td.no{background:#fbf1f0;color:#c9a09b;text-align:center}
.matrix td{max-width:16rem;font-size:.85rem}.matrix th.kind{background:#eceef4;text-transform:uppercase;font-size:.75rem;letter-spacing:.05em}
.text{white-space:pre-wrap;max-width:48rem}
mark.PER{background:#dbe8ff}mark.ORG{background:#ffe9c7}mark.LOC{background:#d9f2e3}mark.MISC{background:#eee3fb}mark.NORP{background:#f3e6d8}
q.quote{background:#fff6bf;quotes:none}span.fig{border-bottom:2px solid #e07b00}
.removed{white-space:pre-wrap;background:#f6f6f8;border-left:3px solid #c8c8d0;padding:.3rem .6rem;margin:.3rem 0;font-size:.85rem}
.copy{margin-left:1.5rem}.pager{margin:1rem 0;display:flex;gap:1rem}
nav.contents{position:sticky;top:0;z-index:4;display:flex;flex-wrap:wrap;gap:.2rem .9rem;background:#fafafa;border:1px solid var(--line);border-radius:8px;padding:.35rem .7rem;margin:.4rem 0 .6rem;font-size:.85rem}
nav.contents a{text-decoration:none}.count{display:inline-block;min-width:1.2rem;padding:0 .3rem;border-radius:.6rem;background:#eceef4;color:var(--muted);font-size:.75rem;font-weight:600;text-align:center}
details.part>summary{cursor:pointer;list-style:none}details.part>summary::-webkit-details-marker{display:none}
details.part>summary h2{display:flex;align-items:center;gap:.5rem}details.part>summary h2::before{content:"\25B8";color:var(--muted);font-size:.8em}details.part[open]>summary h2::before{content:"\25BE"}
.matrix.only tr.all{display:none}.filter-error{color:var(--warn);margin:.2rem 0}input.invalid{border-color:var(--warn);background:#fdf3f2}
.worddiff{margin:.2rem 0 .5rem 1.5rem;max-width:56rem}
#live{font-size:.85rem;color:#4a6b3a}#live::before{content:"\25CF  ";color:#3c9a3c}#live.off::before{color:#b0b0b0}
tr.new{background:#fff8d6}.badge{display:inline-block;margin-left:.4rem;padding:0 .35rem;border-radius:.6rem;background:#e9a400;color:#fff;font-size:.7rem;vertical-align:middle}
"#;

pub const JS: &str = r#"
document.addEventListener('change', e => {
  if (e.target.matches('form.filters select')) e.target.form.submit();
  if (e.target.matches('input.only-diffs')) onlyDiffs(e.target);
});
document.addEventListener('click', e => {
  const c = e.target.closest('.summary a.cite');
  if (!c) return;
  const w = c.parentElement;
  if (!w.classList.contains('open')) { e.preventDefault(); document.querySelectorAll('.cite-wrap.open').forEach(o => o.classList.remove('open')); w.classList.add('open'); }
});
document.addEventListener('submit', async e => {
  if (!e.target.matches('form#new-alert')) return;
  e.preventDefault();
  const f = new FormData(e.target), out = document.getElementById('alert-result');
  const headers = { 'Content-Type': 'application/json' };
  if (f.get('token')) headers.Authorization = `Bearer ${f.get('token')}`;
  const body = { name: f.get('name'), query: f.get('query'), webhook: f.get('webhook'), grow_by: Number(f.get('grow_by') || 3) };
  const r = await fetch('/alerts', { method: 'POST', headers, body: JSON.stringify(body) });
  const v = await r.json().catch(() => ({}));
  out.textContent = r.ok ? `Saved. Webhook secret (shown once): ${v.secret}` : `Not saved: ${v.error ? v.error.message : r.status}`;
  if (r.ok) setTimeout(() => location.reload(), 4000);
});
function onlyDiffs(box){const m=box.closest('#matrix').querySelector('.matrix');if(m)m.classList.toggle('only',box.checked);}
function openPart(hash){const d=hash&&document.getElementById(decodeURIComponent(hash.slice(1)));if(d&&d.tagName==='DETAILS')d.open=true;}
document.addEventListener('click', e => { const a = e.target.closest('nav.contents a'); if (a) openPart(a.getAttribute('href')); });
window.addEventListener('hashchange', () => openPart(location.hash));
if (location.hash) openPart(location.hash);
"#;

/// A whole page that stands alone (a report written to a file): style and script inline.
pub fn page(title: &str, body: &str) -> String {
    layout(title, body, &format!("<style>{CSS}</style>"), &format!("<script>{JS}</script>"))
}

/// A page of the server: style and script come from `/assets/`, so that the
/// Content-Security-Policy can forbid anything inline.
pub fn served_page(title: &str, body: &str) -> String {
    layout(
        title,
        body,
        "<link rel=\"stylesheet\" href=\"/assets/storyline.css\">",
        "<script src=\"/assets/storyline.js\"></script><script src=\"/assets/live.js\"></script>",
    )
}

/// The marker of a page that follows the server's events: `stories` (the story list) or
/// `story` (one story page). The script `LIVE_JS` refetches the page when its stories change
/// and marks what arrived since the page was opened.
pub fn live_marker(mode: &str, story: Option<&str>) -> String {
    format!(
        "<p id=\"live\" class=\"off\" data-live=\"{}\"{} hidden>live</p>",
        esc(mode),
        story.map(|s| format!(" data-story=\"{}\"", esc(s))).unwrap_or_default()
    )
}

/// The live pages' script (see [`live_marker`]).
pub const LIVE_JS: &str = include_str!("live.js");

fn layout(title: &str, body: &str, style: &str, script: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} · Storyline</title>{style}</head><body>\
         <header class=\"top\"><a class=\"brand\" href=\"/\">Storyline</a><a href=\"/\">Stories</a><a href=\"/ui/entities\">Entities</a><a href=\"/ui/sources\">Sources</a><a href=\"/ui/alerts\">Alerts</a>\
         <form action=\"/\" method=\"get\"><input name=\"q\" placeholder=\"search: blinken AND published:2021-05\" size=\"36\" aria-label=\"search\"></form></header>\
         <main>{body}</main>{script}</body></html>",
        esc(title)
    )
}

/// Aligned words as HTML: added words marked `<ins>`, missing ones `<del>`, elisions "…".
fn aligned_words(words: &[storyline_model::AlignedWord]) -> String {
    let out: String = words
        .iter()
        .map(|a| match a.op.as_str() {
            "added" => format!("<ins class=\"w-added\">{}</ins> ", esc(&a.word)),
            "missing" => format!("<del class=\"w-missing\">{}</del> ", esc(&a.word)),
            "elided" => format!("<span class=\"muted\" title=\"text not shown here\">{}</span> ", esc(&a.word)),
            _ => format!("{} ", esc(&a.word)),
        })
        .collect();
    out.trim_end().to_string()
}

/// The story page body.
pub fn story_body(r: &StoryReport) -> String {
    let mut h = String::new();
    let s = &r.story;
    let n = |id: &storyline_model::ArticleId| r.sources.iter().position(|x| x.article == *id).map(|i| i + 1).unwrap_or(0);
    let cite = |id: &storyline_model::ArticleId| {
        let i = n(id);
        let outlet = r.sources.get(i.wrapping_sub(1)).map(|x| x.outlet.as_str()).unwrap_or("");
        format!("<a class=\"cite\" href=\"/ui/articles/{}\" title=\"{}\">[{i}]</a>", url(&id.0), esc(outlet))
    };
    let independent = r.sources.iter().filter(|x| x.copy_of.is_none()).count();
    let _ = write!(
        h,
        "<h1 id=\"story-title\">{}</h1><p class=\"muted\">{} articles · {} independent · {} · {} .. {}{}</p>",
        esc(&s.title),
        r.sources.len(),
        independent,
        storyline_compare::outlet_count(&r.sources),
        day(s.first_published),
        day(s.last_published),
        s.thread.as_ref().map(|t| format!(" · <a href=\"/ui/threads/{}\">thread</a>", url(t))).unwrap_or_default()
    );
    h.push_str("<section id=\"summary\"><h2>Summary</h2><ol class=\"summary\">");
    for x in &r.summary {
        // Each citation carries the sentence of its article that states this one: shown on
        // hover, on focus, and on click (which toggles it; the pop-up links the article).
        let cites: String = x
            .articles
            .iter()
            .enumerate()
            .map(|(k, id)| {
                let i = n(id);
                let outlet = r.sources.get(i.wrapping_sub(1)).map(|x| x.outlet.as_str()).unwrap_or("");
                let said = x.support.get(k).map(String::as_str).unwrap_or("");
                format!(
                    "<span class=\"cite-wrap\"><a class=\"cite\" href=\"/ui/articles/{}\" aria-label=\"source {i}: {}\">[{i}]</a><span class=\"support\" role=\"tooltip\"><strong>[{i}] {}</strong> “{}” <a href=\"/ui/articles/{}\">open article</a></span></span>",
                    url(&id.0),
                    esc(outlet),
                    esc(outlet),
                    esc(said),
                    url(&id.0)
                )
            })
            .collect();
        let _ = write!(h, "<li>{}{cites}</li>", esc(&x.text));
    }
    if r.summary.is_empty() {
        h.push_str("<li class=\"muted\">No sentence long enough to summarise.</li>");
    }
    h.push_str("</ol></section>");

    h.push_str(
        "<section id=\"sources\"><h2>Outlets</h2><table><tr><th>#</th><th>outlet</th><th>headline</th><th>published</th><th>words</th><th>relation</th></tr>",
    );
    for (i, x) in r.sources.iter().enumerate() {
        let rel = storyline_compare::relation_label(r, i);
        let _ = write!(
            h,
            "<tr class=\"source\" data-article=\"{}\"><td>{}</td><td{}>{}</td><td><a href=\"/ui/articles/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&x.article.0),
            i + 1,
            if x.outlet_guessed { " class=\"muted\" title=\"no outlet stated: a stand-in\"" } else { "" },
            esc(&x.outlet),
            url(&x.article.0),
            esc(x.title.as_deref().unwrap_or("(no headline)")),
            day(x.published.map(|p| p.date)),
            x.words,
            esc(&rel)
        );
    }
    h.push_str("</table></section>");

    h.push_str("<section id=\"conflicts\"><h2>Conflicts</h2>");
    if r.conflicts.is_empty() {
        h.push_str("<p class=\"muted\">No source states a title or a figure differently from the others.</p>");
    }
    for c in &r.conflicts {
        let what = if c.kind == ConflictKind::Role { "title or role" } else { "figure" };
        let subject = entity_link(c.entity.as_deref(), &c.subject);
        let _ = write!(h, "<div class=\"conflict\" data-kind=\"{}\"><strong>{subject}</strong>: {what} stated differently<ul>", esc(c.kind.as_str()));
        for (i, v) in c.versions.iter().enumerate() {
            let label = if i == 0 { "<span class=\"majority\">majority</span>" } else { "<span class=\"minority\">minority</span>" };
            let also = if v.wordings.is_empty() {
                String::new()
            } else {
                format!(" <span class=\"muted small\">(also worded: {})</span>", esc(&v.wordings.join(" | ")))
            };
            let _ = write!(
                h,
                "<li>{label} “{}”{also} — {} ({} independent) {}</li>",
                esc(&v.value),
                esc(&v.outlets.join(", ")),
                v.independent,
                v.articles.iter().map(cite).collect::<String>()
            );
        }
        h.push_str("</ul></div>");
    }
    h.push_str("</section>");

    h.push_str("<section id=\"quote-variants\"><h2>Quote variants</h2>");
    if r.quote_variants.is_empty() {
        h.push_str("<p class=\"muted\">No quotation is worded differently across sources.</p>");
    }
    for q in &r.quote_variants {
        let speaker = match &q.speaker {
            Some(sp) => entity_link(q.speaker_entity.as_deref(), sp),
            None => "unattributed".into(),
        };
        let _ = write!(h, "<div class=\"variants\"><strong>{speaker}</strong>");
        for (i, w) in q.wordings.iter().enumerate() {
            let words = aligned_words(&w.alignment);
            let label = if i == 0 { "reference wording" } else { "variant" };
            let _ = write!(
                h,
                "<div class=\"variant\"><span class=\"muted small\">{label} · {}</span> {}<br>“{}”</div>",
                esc(&w.outlets.join(", ")),
                w.articles.iter().map(cite).collect::<String>(),
                words
            );
        }
        h.push_str("</div>");
    }
    h.push_str("</section>");

    h.push_str("<section id=\"copies\"><h2>Copies and rewrites</h2>");
    if r.copies.is_empty() {
        h.push_str("<p class=\"muted\">Every article here is its own reporting.</p>");
    }
    for g in &r.copies {
        let _ = write!(
            h,
            "<div class=\"copygroup\"><strong>{}</strong> [{}]{}",
            esc(&r.sources.get(n(&g.original).wrapping_sub(1)).map(|x| x.outlet.clone()).unwrap_or_default()),
            n(&g.original),
            if g.original_known { " original" } else { " <span class=\"muted small\">(direction unknown)</span>" }
        );
        for c in &g.copies {
            let i = n(&c.article);
            let _ = write!(
                h,
                "<div class=\"copy\">↳ [{i}] {} — {}{} ({}) <span class=\"muted small\">{}</span>{}</div>",
                esc(&r.sources.get(i.wrapping_sub(1)).map(|x| x.outlet.clone()).unwrap_or_default()),
                esc(&c.relation.as_str().replace('_', "-")),
                storyline_compare::copy_target(r, &c.article).filter(|t| **t != g.original).map(|t| format!(" of [{}]", n(t))).unwrap_or_default(),
                storyline_compare::percent(c.similarity),
                esc(&c.evidence.join("; ")),
                if c.diff.is_empty() { String::new() } else { format!("<div class=\"worddiff small\">{}</div>", aligned_words(&c.diff)) }
            );
        }
        h.push_str("</div>");
    }
    h.push_str("</section>");

    h.push_str("<section id=\"timeline\"><h2>Timeline</h2><table>");
    for t in &r.timeline {
        let _ = write!(
            h,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{} {}</td></tr>",
            esc(t.kind.as_str()),
            day(t.date.map(|d| d.date)),
            if t.kind == TimelineKind::Event { "reported event" } else { "published" },
            esc(&t.text),
            t.articles.iter().map(cite).collect::<String>()
        );
    }
    h.push_str("</table></section>");

    // The matrix opens on what some outlets leave out; the box shows the rest.
    let _ = write!(h, "<section id=\"matrix\"><h2>Comparison</h2><label class=\"small\"><input type=\"checkbox\" class=\"only-diffs\" checked> only facts some outlets leave out</label><div class=\"matrix only\"><table><tr><th>fact</th>");
    for (i, x) in r.sources.iter().enumerate() {
        let _ = write!(h, "<th title=\"{}\">[{}] {}</th>", esc(x.title.as_deref().unwrap_or("")), i + 1, esc(&x.outlet));
    }
    h.push_str("</tr>");
    let mut kind = None;
    for row in &r.matrix {
        if kind != Some(row.kind) {
            kind = Some(row.kind);
            let _ = write!(
                h,
                "<tr><th class=\"kind\" colspan=\"{}\">{}</th></tr>",
                r.sources.len() + 1,
                match row.kind {
                    MatrixKind::Entity => "who",
                    MatrixKind::Group => "groups of people",
                    MatrixKind::Figure => "figures",
                    MatrixKind::Quote => "quotations",
                    MatrixKind::Statement => "key statements",
                }
            );
        }
        let label = entity_link(row.entity.as_deref(), &row.label);
        let all = row.cells.iter().all(Option::is_some);
        let _ = write!(h, "<tr class=\"row{}\"><td>{label}</td>", if all { " all" } else { "" });
        for cell in &row.cells {
            match cell {
                Some(v) if row.kind == MatrixKind::Statement || (matches!(row.kind, MatrixKind::Entity | MatrixKind::Group) && v == "named") => {
                    let _ = write!(h, "<td class=\"has\" title=\"{}\">✓</td>", esc(v));
                }
                Some(v) => {
                    let _ = write!(h, "<td class=\"has\">{}</td>", esc(v));
                }
                None => h.push_str("<td class=\"no\" title=\"not reported\">—</td>"),
            }
        }
        h.push_str("</tr>");
    }
    h.push_str("</table></div></section>");

    h.push_str("<section id=\"entities\"><h2>Who is involved</h2><p>");
    for e in r.entities.iter().filter(|e| e.kind != storyline_model::EntityType::Group).take(40) {
        let _ = write!(h, "<a class=\"tag\" href=\"/ui/entities/{}\">{} · {}</a>", url(&e.id), esc(&e.name), e.articles);
    }
    h.push_str("</p>");
    let groups: Vec<_> = r.entities.iter().filter(|e| e.kind == storyline_model::EntityType::Group).take(20).collect();
    if !groups.is_empty() {
        h.push_str("<p class=\"groups\"><span class=\"muted small\">groups of people:</span> ");
        for e in groups {
            let _ = write!(h, "<a class=\"tag NORP\" href=\"/ui/entities/{}\">{} · {}</a>", url(&e.id), esc(&e.name), e.articles);
        }
        h.push_str("</p>");
    }
    h.push_str("</section>");
    collapsible(&h, r)
}

/// The story page's sections as collapsible parts under a contents bar: what a reader checks
/// first (summary, outlets, conflicts) open, the long parts (quote variants, copies, timeline,
/// the matrix, who is involved) closed, each with its count. Opening a part from the contents bar
/// is done by the page script.
fn collapsible(body: &str, r: &StoryReport) -> String {
    let parts = [
        ("summary", "Summary", r.summary.len(), true),
        ("sources", "Outlets", r.sources.len(), true),
        ("conflicts", "Conflicts", r.conflicts.len(), true),
        ("quote-variants", "Quote variants", r.quote_variants.len(), false),
        ("copies", "Copies and rewrites", r.copies.iter().map(|g| g.copies.len()).sum(), false),
        ("timeline", "Timeline", r.timeline.len(), false),
        ("matrix", "Comparison", r.matrix.iter().filter(|row| row.cells.iter().any(Option::is_none)).count(), false),
        ("entities", "Who is involved", r.entities.len(), false),
    ];
    let mut out = body.to_string();
    let mut nav = String::from("<nav id=\"contents\" class=\"contents\" aria-label=\"contents\">");
    for (id, title, count, open) in parts {
        let from = format!("<section id=\"{id}\"><h2>{title}</h2>");
        let Some(at) = out.find(&from) else { continue };
        let to = format!(
            "<details class=\"part\" id=\"{id}\"{}><summary><h2>{title} <span class=\"count\">{count}</span></h2></summary>",
            if open { " open" } else { "" }
        );
        out.replace_range(at..at + from.len(), &to);
        let end = out[at..].find("</section>").map(|e| at + e).unwrap_or(out.len());
        if end < out.len() {
            out.replace_range(end..end + "</section>".len(), "</details>");
        }
        let _ = write!(nav, "<a href=\"#{id}\">{title} <span class=\"count\">{count}</span></a>");
    }
    nav.push_str("</nav>");
    // The bar goes after the title and its line of counts.
    match out.find("</p>") {
        Some(p) => out.insert_str(p + 4, &nav),
        None => out.insert_str(0, &nav),
    }
    out
}

/// An article's clean text with entities, quotes and figures marked (character offsets).
pub fn highlighted(text: &str, facts: &Facts) -> String {
    // (start, end, open tag, close tag); longer spans first so they enclose shorter ones.
    let mut spans: Vec<(usize, usize, String, &str)> = Vec::new();
    for q in &facts.quotes {
        let who = q.speaker.as_deref().unwrap_or("unattributed");
        spans.push((q.start, q.end, format!("<q class=\"quote\" title=\"{}\">", esc(&format!("quote: {who}"))), "</q>"));
    }
    for m in &facts.mentions {
        let kind = m.kind.as_str();
        let title = format!("{kind}{}", m.role.as_deref().map(|r| format!(": {r}")).unwrap_or_default());
        spans.push((m.span.start, m.span.end, format!("<mark class=\"{kind}\" title=\"{}\">", esc(&title)), "</mark>"));
    }
    for f in &facts.figures {
        spans.push((f.start, f.end, format!("<span class=\"fig\" title=\"{}\">", esc(&format!("figure: {} {}", f.value, f.what))), "</span>"));
    }
    spans.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() * 2);
    let mut stack: Vec<(usize, &str)> = Vec::new();
    let mut next = 0;
    for (i, c) in chars.iter().enumerate() {
        while stack.last().is_some_and(|(end, _)| *end <= i) {
            out.push_str(stack.pop().map(|x| x.1).unwrap_or(""));
        }
        while next < spans.len() && spans[next].0 <= i {
            let (s, e, open, close) = &spans[next];
            // Only spans that nest inside the open ones; a crossing span is left unmarked.
            if *s == i && *e > i && *e <= chars.len() && stack.last().is_none_or(|(end, _)| e <= end) {
                out.push_str(open);
                stack.push((*e, close));
            }
            next += 1;
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(*c),
        }
    }
    while let Some((_, close)) = stack.pop() {
        out.push_str(close);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use storyline_model::{ArticleId, EntityType, Mention, Quote, Span};

    #[test]
    fn escapes_markup() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(url("a b/ü"), "a%20b%2F%C3%BC");
    }

    #[test]
    fn highlights_nest_and_escape() {
        let text = "Smith said “we <will> win” in Paris.";
        let q = text.find('“').map(|b| text[..b].chars().count() + 1).unwrap();
        let facts = Facts {
            mentions: vec![Mention {
                article: ArticleId("a".into()),
                text: "Smith".into(),
                kind: EntityType::Person,
                span: Span { start: 0, end: 5 },
                role: None,
                entity: None,
            }],
            quotes: vec![Quote {
                article: ArticleId("a".into()),
                speaker: Some("Smith".into()),
                speaker_mention: None,
                speaker_entity: None,
                cue: None,
                text: "we <will> win".into(),
                start: q,
                end: q + 13,
            }],
            ..Facts::default()
        };
        let h = highlighted(text, &facts);
        assert!(h.starts_with("<mark class=\"PER\" title=\"PER\">Smith</mark> said “<q class=\"quote\""), "{h}");
        assert!(h.contains(">we &lt;will&gt; win</q>”"), "{h}");
    }
}
