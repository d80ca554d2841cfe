//! Cleaning of text that a scraper already pulled out of a page: scraper and CMS markers,
//! comment forms, related-content blocks, menus, captions and credits go out; headline, date,
//! byline, reporting credits and credited-source lines become metadata. Every removal is kept
//! with its reason.
//!
//! The rules are patterns that hold across outlets (what CMS plug-ins and scrapers leave behind,
//! how bylines and datelines are written), not knowledge of particular articles.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use storyline_model::{RemovalReason, Removed};

use crate::dates::{find_date, Published};
use crate::names;
use crate::rules::{on, Rule};

/// Where the lines came from: scraped text has its headline and metadata inline; text that the
/// HTML extractor produced already had them taken out by the page's markup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    ScrapedText,
    FromHtml,
}

/// Metadata found in the text itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextMeta {
    pub title: Option<String>,
    pub published: Option<Published>,
    pub authors: Vec<String>,
    pub contributors: Vec<String>,
    pub outlet: Option<String>,
    pub credited_source: Option<String>,
}

/// The outcome of cleaning.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cleaned {
    pub paragraphs: Vec<String>,
    pub removed: Vec<Removed>,
    pub meta: TextMeta,
}

/// Lines longer than this (in words) are prose: marker, prompt and label patterns skip them.
const SHORT_LINE_WORDS: usize = 60;

/// Lines at the edges of a page up to this many words, without sentence punctuation, are
/// furniture.
const EDGE_LINE_WORDS: usize = 12;
const EDGE_LINE_CHARS: usize = 90;

/// A sentence of this many words after a related-content heading is the article going on.
const RESUMING_PROSE_WORDS: usize = 30;

/// How far into a line (in bytes) a dateline's date may start and end.
const DATELINE_PREFIX_BYTES: usize = 100;

/// How many leading lines may hold headline, byline, dateline and menus.
const HEAD_LINES: usize = 8;

macro_rules! re {
    ($name:ident, $pattern:expr) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| Regex::new($pattern).unwrap());
    };
}

re!(INLINE_MARKER, r"(?i)\[\s*ad_\d+\s*\]");
re!(
    MARKER_LINE,
    r"(?i)^[\[(]?\s*(?:source link|read full article|read the full (?:article|story)(?: here)?|read full story|read more(?: here)?|continue reading(?: (?:the|this) (?:article|story))?|click here to read more|read the original(?: article)?(?: here)?|view original article|originally published (?:at|on) .{0,80}|advertisement|advertising|sponsored(?: content)?|skip (?:to|ad)|ad\d*|this content was originally published .{0,120}|the post .{3,200} appeared first on .{2,80})\s*[\])]?\s*[.:!…]*$"
);
re!(INLINE_CREDIT, r"(?i)\s*[\(\[]\s*(?:photo|image|picture|photograph|foto|illustration|video)s?(?:\s+credits?)?\s*[:/][^)\]]{0,160}[\)\]]\s*$");
re!(
    CREDIT_LINE,
    r"(?i)^[\(\[]?\s*(?:(?:photo|image|picture|photograph|foto|illustration|file photo|lead image|header image|top image|featured image)s?(?:\s+(?:credits?|by|courtesy(?: of)?))?\s*[:/-]|(?:photo|image)\s+(?:credits?|by|courtesy)\b|credits?\s*:|(?:ap|afp|reuters|epa|getty images|shutterstock|anadolu agency)(?:\s+photo)?\s*/)"
);
re!(
    COMMENT_START,
    r"(?i)^(?:leave a (?:reply|comment)|post a comment|add (?:a )?comment|\d+\s+comments?|comments?(?:\s*\(\d+\))?|join the (?:conversation|discussion)|cancel reply|what do you think\?|\d+\s+(?:kommentare?|commentaires?|comentarios?|comentários?)|(?:kommentare?|commentaires?|comentarios?|comentários?)(?:\s*\(\d+\))?|(?:einen )?kommentar (?:schreiben|hinterlassen|verfassen)|schreib(?:e|en sie) einen kommentar|antworten abbrechen|(?:laisser|ajouter|écrire|poster) un commentaire|annuler la réponse|(?:deja|escribe|añade|agrega) (?:un|tu) comentario|cancelar respuesta|deixe (?:um|seu) comentário|cancelar resposta)\s*[:.!]?$"
);
re!(
    COMMENT_FORM,
    r"(?i)^(?:your email address will not be published\.?.*|required fields are marked.*|(?:comment|name|email|e-mail|website)\s*\*?$|save my name, email,? and website.*|post comment$|notify me of (?:follow-up comments|new posts).*|you must be logged in to post a comment.*|this site uses akismet.*|(?:ihre|deine) e-mail-adresse wird nicht veröffentlicht.*|erforderliche felder sind .{0,20}markiert.*|(?:kommentar|webseite)\s*\*?$|meinen namen, (?:meine )?e-mail(?:-adresse)? und (?:meine )?website in diesem browser speichern.*|kommentar abschicken$|um einen kommentar zu (?:hinterlassen|schreiben|verfassen).*|sie (?:müssen|sind) (?:aktuell |derzeit )?(?:nicht )?(?:eingeloggt|angemeldet)(?: sein)?.{0,60}kommentar.*|sie sind (?:aktuell |derzeit )?nicht (?:eingeloggt|angemeldet)\.?$|votre adresse (?:e-mail|de messagerie|courriel) ne sera pas publiée.*|les champs obligatoires sont indiqués.*|(?:commentaire|nom|site web)\s*\*?$|enregistrer mon nom, mon (?:e-mail|courriel) et mon site.*|vous devez (?:être connecté|vous connecter) pour (?:publier|poster|écrire) un commentaire.*|(?:publier|envoyer) (?:le )?commentaire$|tu (?:dirección de )?correo electrónico no será publicad[oa].*|los campos obligatorios están marcados.*|(?:comentario|nombre|correo electrónico|sitio web)\s*\*?$|guarda mi nombre, correo electrónico y web.*|debes (?:estar registrado|iniciar sesión|haber iniciado sesión) para (?:publicar|escribir) un comentario.*|publicar (?:el )?comentario$|o seu endereço (?:de )?e-?mail não será publicado.*|(?:os )?campos obrigatórios são marcados.*|(?:comentário|nome)\s*\*?$|salvar meus dados neste navegador.*|você precisa (?:fazer o login|estar logado|fazer login) para publicar um comentário.*|publicar comentário$)"
);
re!(
    RELATED_START,
    r"(?i)^(?:you (?:may|might) (?:also )?(?:like|be interested in)|related(?: (?:articles?|posts?|stories|news|content|coverage|reading))?|more (?:stories|news|articles)(?: from .{1,40})?|recommended(?: for you| stories| articles)?|read (?:also|next)|also read|trending(?: now)?|most (?:popular|read)|popular (?:posts|stories)|latest (?:news|stories|posts)|see also|don'?t miss|more from .{1,40}|weitere (?:artikel|beiträge|themen|nachrichten|meldungen|aktuelle themen|news)(?:\s.{0,50})?|(?:das|dieses) (?:thema )?könnte (?:dich|sie) auch interessieren|lesen sie auch.{0,60}|mehr zum thema.{0,40}|auch interessant|(?:le|te) puede interesar|lea también|lee también|noticias relacionadas|art[íi]culos relacionados|(?:à )?lire aussi|sur le même sujet|articles similaires|leia também|veja também|not[íi]cias relacionadas|for the latest (?:stories|news).{0,100}|discover more(?: .{1,40})?|neueste (?:artikel|beiträge|nachrichten|meldungen|news)|meistgelesen(?:e (?:artikel|beiträge|nachrichten))?|entdecke(?:n sie)? (?:weitere|mehr) .{1,40}|(?:les )?derni(?:ers|ères) (?:articles|actualités|infos|nouvelles)|(?:les )?plus lus|découvrez (?:aussi|également|plus) .{0,40}|últimas noticias|(?:lo )?más leído|descubre más(?: .{1,40})?|últimas notícias|mais lid[ao]s|descubra mais(?: .{1,40})?)\s*[:.!?]?$"
);
re!(
    RELATED_LINE,
    r"(?i)^(?:read (?:also|more)|see also|also read|lesen sie auch|lies auch|mehr dazu|(?:le|te) puede interesar|lea también|lee también|(?:à )?lire aussi|leia também|veja também)\s*[:|\-–—]\s*.{3,200}$"
);
re!(
    FOOTER_LINE,
    r"(?i)^(?:(?:©|\(c\)|copyright)\s*.{0,160}|.{0,120}(?:all rights reserved|alle rechte vorbehalten|todos los derechos reservados|tous droits réservés|todos os direitos reservados).{0,80}|.{0,160}(?:copyrighted property|written permission|may not be (?:published|reproduced|reprinted|redistributed|rewritten)).{0,160}|(?:inhaltsverzeichnis|table of contents|contents|índice|sommaire))\s*$"
);
re!(
    PROMPT_LINE,
    r"(?i)^(?:zum newsletter anmelden|newsletter abonnieren|jetzt (?:abonnieren|anmelden|registrieren)|unterstütze .{1,60}|suscr[íi]bete.{0,80}|abonnez-vous.{0,80}|inscrivez-vous.{0,80}|assine .{0,60}|lust auf mehr\?.{0,160})\s*[:.!]?$"
);
re!(
    SHARE_LINE,
    r"(?i)^(?:share(?: (?:this|on|via|the) .{0,30})?|share this(?: article| story| post)?|tweet|email|e-mail|print|whatsapp|pin(?: it)?|copy link|follow us(?: on .{0,40})?|like us on facebook|subscribe(?: (?:now|to|for) .{0,60})?|sign up(?: for| to) .{0,80}|get (?:our|the) .{0,40}newsletter.*|click to (?:share|email|print) .{0,60}|like this:?|loading\.\.\.|(?:share|post) on (?:facebook|twitter|x|whatsapp|linkedin|reddit|telegram)|(?:facebook|twitter|x|whatsapp|linkedin|reddit|telegram|email|pinterest|print|messenger)(?:[\s,|/•·]+(?:facebook|twitter|x|whatsapp|linkedin|reddit|telegram|email|pinterest|print|messenger))+)\s*[:.!]?$"
);
re!(LABELLED_TITLE, r"(?i)^(?:title|headline)\s*:\s*(.{3,300})$");
re!(
    DATE_LABEL,
    r"(?i)^\s*(?:date(?:d)?|published(?: on| at)?|posted(?: on| at)?|updated(?: on| at)?|last updated(?: on)?|first published(?: on)?|created|stand|veröffentlicht(?: am)?|publié le|publicado(?: el)?)?\s*[:\-–—|]?\s*(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?\s*)?$"
);
re!(BYLINE, r"(?i)^(?:by|written by|words by|author|authors|byline|von|par|por)\s*:?\s+(.{2,160})$");
re!(
    CONTRIBUTED,
    r"(?i)^(.{3,400}?)\s+(?:also\s+)?contributed(?:\s+(?:additional\s+)?(?:reporting|research|to this (?:report|article|story)(?: from .{1,60})?|reporting and research|reporting from .{1,80}))?\s*\.?$"
);
re!(
    REPORTING_BY,
    r"(?i)^(?:(?:additional |with )?reporting (?:by|from)|(?:this (?:article|report|story) (?:includes|contains|was (?:produced|compiled|written) with) (?:additional )?reporting (?:from|by))|compiled by|edited by|editing by|(?:the )?(?:article|story|report) was written by|writing by|research by)\s+.{3,600}$"
);
re!(SOURCE_LABEL, r"^\W*([A-Za-z][A-Za-z:.]{2,10})\s*:\s*(.{2,120})$");
re!(WIRE_DATELINE, r"^[A-Z][A-Za-z .,'-]{1,40}\s*\((Reuters|AP|AFP|Bloomberg|UPI|dpa|Xinhua|AA|Anadolu|CNN)\)\s*[-—–:]");
re!(NAV_SEPARATORS, r"\s(?:\||»|›|•|·|>|/)\s");

/// A document's own address as a line would write it: lowercase, without the scheme, a
/// leading "www." or a trailing slash. `None` for an address with no path: a bare host also
/// names every link to the site's front page.
fn address_key(url: &str) -> Option<String> {
    let url = url.trim().to_lowercase();
    let rest = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
    let rest = rest.strip_prefix("www.").unwrap_or(rest).trim_end_matches('/');
    let (host, path) = rest.split_once('/')?;
    (!host.is_empty() && !path.is_empty()).then(|| rest.to_owned())
}

/// Cleans scraped lines. `is_boilerplate` answers whether a line repeats across many articles
/// of the same outlet (corpus-level evidence, see [`crate::corpus`]).
pub fn clean_lines(lines: &[&str], mode: Mode, is_boilerplate: &dyn Fn(&str) -> bool) -> Cleaned {
    clean_lines_in(lines, mode, None, is_boilerplate, &|_| false)
}

/// [`clean_lines`] for a document that says more: `address` is its own URL when known (a
/// short line carrying it is the page's citation or permalink box), and, for text from a
/// page's markup, `in_article` answers whether a short line after the last prose paragraph
/// sits in the article itself (beside that paragraph in the page, and no link's text), so the
/// tail trim leaves it.
pub fn clean_lines_in(lines: &[&str], mode: Mode, address: Option<&str>, is_boilerplate: &dyn Fn(&str) -> bool, in_article: &dyn Fn(&str) -> bool) -> Cleaned {
    let own_address = address.and_then(address_key);
    let mut out = Cleaned::default();
    // Kept and removed lines carry their position so the removal list reads in text order.
    let mut kept: Vec<(usize, String)> = Vec::new();
    let mut removed: Vec<(usize, Removed)> = Vec::new();
    let mut at;
    let remove = |at: usize, text: &str, reason: RemovalReason, removed: &mut Vec<(usize, Removed)>| {
        removed.push((at, Removed { text: text.trim().to_owned(), reason }));
    };

    // Normalise lines: trim, drop empties, strip inline scraper markers.
    let mut items: Vec<String> = Vec::new();
    for raw in lines {
        let mut line = raw.trim().replace('\u{a0}', " ");
        if on(Rule::Marker) && line.contains('[') && INLINE_MARKER.is_match(&line) {
            for m in INLINE_MARKER.find_iter(&line) {
                remove(items.len(), m.as_str(), RemovalReason::ScraperMarker, &mut removed);
            }
            line = INLINE_MARKER.replace_all(&line, "").trim().to_owned();
        }
        if !line.is_empty() {
            items.push(line);
        }
    }

    // Captions: lines that carry a photo credit, the lines next to a credit line, and their copies.
    let credit_line: Vec<bool> = items.iter().map(|l| on(Rule::PhotoCredit) && word_count(l) <= 25 && CREDIT_LINE.is_match(l)).collect();
    let inline_credit: Vec<bool> = items.iter().map(|l| l.ends_with([')', ']']) && INLINE_CREDIT.is_match(l)).collect();
    // Lines are trimmed, so only one ending in a bracket can hold an inline credit.
    let norm: Vec<String> =
        items.iter().zip(&inline_credit).map(|(l, &credit)| normalise(&if credit { INLINE_CREDIT.replace(l, "") } else { l.into() })).collect();
    let mut caption = vec![false; items.len()];
    for i in 0..items.len() {
        if on(Rule::Caption) && inline_credit[i] && !credit_line[i] {
            caption[i] = true;
            // Copies of a captioned line (with or without the credit) are captions too.
            for j in 0..items.len() {
                if j != i && !norm[j].is_empty() && (norm[j] == norm[i] || norm[i].starts_with(&norm[j]) && norm[j].len() * 2 > norm[i].len()) {
                    caption[j] = true;
                }
            }
        }
    }

    // Trailing sections: a comment form or a related-content block in the second half of the
    // text takes everything after it.
    let total_chars: usize = items.iter().map(|l| l.len()).sum();
    let mut chars_before = 0usize;
    let mut tail_from: Option<(usize, RemovalReason)> = None;
    for (i, line) in items.iter().enumerate() {
        let in_second_half = chars_before * 2 >= total_chars || i + 3 >= items.len();
        if in_second_half && i > 0 {
            if on(Rule::CommentForm) && COMMENT_START.is_match(line) {
                tail_from = Some((i, RemovalReason::CommentForm));
                break;
            }
            if on(Rule::RelatedBlock) && RELATED_START.is_match(line) {
                tail_from = Some((i, RemovalReason::RelatedContent));
                break;
            }
        }
        chars_before += line.len();
    }

    // A related-content block is a list of headlines and teasers: an article paragraph after
    // it (a long sentence) means the block was a box inside the article, and the article goes
    // on from there. A comment section runs to the end.
    let tail_to = match tail_from {
        Some((from, RemovalReason::RelatedContent)) if mode == Mode::FromHtml => {
            items.iter().enumerate().skip(from + 1).find(|(_, l)| word_count(l) >= RESUMING_PROSE_WORDS && is_sentence(l)).map_or(items.len(), |(i, _)| i)
        }
        _ => items.len(),
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    // The head (headline, byline, dateline, menus) ends at the second long paragraph: a first
    // long one may be a standfirst between headline and byline.
    let mut long_kept = 0usize;
    for (i, line) in items.iter().enumerate() {
        at = i;
        if let Some((from, reason)) = tail_from {
            if (from..tail_to).contains(&i) {
                // Credits and source lines may still follow a comment prompt at the very end.
                if !take_credit_or_source(at, line, &mut out.meta, &mut removed) {
                    let comment = COMMENT_FORM.is_match(line) || COMMENT_START.is_match(line);
                    remove(at, line, if comment { RemovalReason::CommentForm } else { reason }, &mut removed);
                }
                continue;
            }
        }
        let in_head = long_kept < 2 && i < HEAD_LINES;
        // Markers, prompts and labels are short; long lines skip those patterns.
        let short = word_count(line) <= SHORT_LINE_WORDS;
        if short && on(Rule::Marker) && MARKER_LINE.is_match(line) {
            remove(at, line, RemovalReason::ScraperMarker, &mut removed);
            continue;
        }
        if short && on(Rule::SelfAddress) && own_address.as_deref().is_some_and(|key| line.to_lowercase().contains(key)) {
            remove(at, line, RemovalReason::ScraperMarker, &mut removed);
            continue;
        }
        if short && on(Rule::CommentForm) && (COMMENT_FORM.is_match(line) || (COMMENT_START.is_match(line) && i + 1 == items.len())) {
            remove(at, line, RemovalReason::CommentForm, &mut removed);
            continue;
        }
        if credit_line[i] {
            remove(at, line, RemovalReason::PhotoCredit, &mut removed);
            continue;
        }
        if caption[i] {
            remove(at, line, RemovalReason::DuplicateCaption, &mut removed);
            continue;
        }
        if short && on(Rule::Share) && (SHARE_LINE.is_match(line) || PROMPT_LINE.is_match(line)) {
            remove(at, line, RemovalReason::SharePrompt, &mut removed);
            continue;
        }
        if short && on(Rule::RelatedLine) && RELATED_LINE.is_match(line) {
            remove(at, line, RemovalReason::RelatedContent, &mut removed);
            continue;
        }
        if short && on(Rule::Footer) && FOOTER_LINE.is_match(line) {
            remove(at, line, RemovalReason::Navigation, &mut removed);
            continue;
        }
        if on(Rule::Credits) && take_credit_or_source(at, line, &mut out.meta, &mut removed) {
            continue;
        }
        if let Some(c) = (short && on(Rule::LabelledTitle)).then(|| LABELLED_TITLE.captures(line)).flatten() {
            if word_count(&c[1]) <= 40 {
                if out.meta.title.is_none() {
                    out.meta.title = Some(c[1].trim().to_owned());
                }
                remove(at, line, RemovalReason::Title, &mut removed);
                continue;
            }
        }
        // Date lines, and a date prefix in front of a header line. Text from HTML keeps them:
        // the page's markup carries date and authors, and both extraction sets count the lines
        // as the article's text (measured: removing them cost recall on dragnet); they are
        // still read for metadata.
        let mut line: &str = line;
        if let Some((date, rest)) = dateline(line, in_head).filter(|_| on(Rule::Dateline)) {
            if out.meta.published.is_none_or(|p| p.date == date.date && p.time.is_none() && date.time.is_some()) {
                out.meta.published = Some(date);
            }
            if mode == Mode::ScrapedText {
                let date_part = line[..line.len() - rest.len()].trim();
                remove(at, date_part, RemovalReason::Dateline, &mut removed);
                if rest.trim().is_empty() {
                    continue;
                }
                line = rest.trim();
            }
        }
        if in_head && on(Rule::Byline) {
            if let Some(byline) = byline(line) {
                if out.meta.authors.is_empty() {
                    out.meta.authors = byline.authors;
                }
                if out.meta.outlet.is_none() {
                    out.meta.outlet = byline.outlet;
                }
                if let Some(date) = byline.date {
                    out.meta.published.get_or_insert(date);
                }
                if mode == Mode::ScrapedText {
                    remove(at, line, RemovalReason::Byline, &mut removed);
                    continue;
                }
            }
        }
        if on(Rule::Navigation) && is_navigation(line, mode) {
            if in_head && out.meta.outlet.is_none() {
                out.meta.outlet = site_name_from_header(line);
            }
            remove(at, line, RemovalReason::Navigation, &mut removed);
            continue;
        }
        if on(Rule::Boilerplate) && is_boilerplate(line) {
            remove(at, line, RemovalReason::RepeatedBoilerplate, &mut removed);
            continue;
        }
        let key = normalise(line);
        if word_count(line) >= 6 {
            if on(Rule::DuplicateParagraph) && seen.contains_key(&key) {
                remove(at, line, RemovalReason::DuplicateParagraph, &mut removed);
                continue;
            }
            seen.insert(key, kept.len());
        }
        if word_count(line) >= 25 {
            long_kept += 1;
        }
        if let Some(c) = line.contains('(').then(|| WIRE_DATELINE.captures(line)).flatten() {
            out.meta.credited_source.get_or_insert_with(|| wire_name(&c[1]));
        }
        kept.push((i, line.to_owned()));
    }
    if on(Rule::EdgeTrim) {
        trim_page_edges(&mut kept, &mut removed, &mut out.meta, mode, in_article);
    }
    removed.sort_by_key(|(at, _)| *at);
    out.paragraphs = kept.into_iter().map(|(_, l)| l).collect();
    out.removed = removed.into_iter().map(|(_, r)| r).collect();
    out
}

/// Prose: a sentence of some length, or a long line.
pub(crate) fn is_prose(line: &str) -> bool {
    let words = word_count(line);
    words >= 20 || words >= 8 && is_sentence(line) || line.chars().count() >= 60 && is_sentence(line)
}

/// Short lines that are not sentences, before the first and after the last prose paragraph,
/// are page furniture (menus, link lists, footers) that a scraper kept; the headline is the
/// last headline-like line before the prose starts (menus come before it, not after).
/// Text from the HTML extractor already lost its header; only its tail is trimmed (lists of
/// related headlines that follow the article).
fn trim_page_edges(kept: &mut Vec<(usize, String)>, removed: &mut Vec<(usize, Removed)>, meta: &mut TextMeta, mode: Mode, in_article: &dyn Fn(&str) -> bool) {
    if mode == Mode::FromHtml {
        let Some(last) = kept.iter().rposition(|(_, l)| is_prose(l)) else { return };
        let tail: Vec<(usize, String)> = kept.drain(last + 1..).collect();
        for (at, line) in tail {
            let furniture = word_count(&line) <= EDGE_LINE_WORDS && line.chars().count() <= EDGE_LINE_CHARS && !is_sentence(&line);
            if furniture && !(on(Rule::ArticleTail) && in_article(&line)) {
                removed.push((at, Removed { text: line, reason: RemovalReason::RelatedContent }));
            } else {
                kept.push((at, line));
            }
        }
        return;
    }
    let furniture = |l: &str| word_count(l) <= EDGE_LINE_WORDS && l.chars().count() <= EDGE_LINE_CHARS && !is_sentence(l);
    let Some(first) = kept.iter().position(|(_, l)| is_prose(l)) else {
        // No prose at all: the first headline-like line is the title.
        if let Some(k) = kept.iter().position(|(at, l)| *at < HEAD_LINES && is_headline(l)) {
            let (at, line) = kept.remove(k);
            meta.title.get_or_insert_with(|| line.clone());
            removed.push((at, Removed { text: line, reason: RemovalReason::Title }));
        }
        return;
    };
    let last = kept.iter().rposition(|(_, l)| is_prose(l)).unwrap_or(first);
    let title = (0..first).rev().find(|&k| is_headline(&kept[k].1));
    let mut out = Vec::with_capacity(kept.len());
    for (k, (at, line)) in std::mem::take(kept).into_iter().enumerate() {
        if Some(k) == title {
            meta.title.get_or_insert_with(|| line.clone());
            removed.push((at, Removed { text: line, reason: RemovalReason::Title }));
        } else if (k < first || k > last) && furniture(&line) {
            removed.push((at, Removed { text: line, reason: RemovalReason::Navigation }));
        } else {
            out.push((at, line));
        }
    }
    *kept = out;
}

/// Reporting credits and credited-source lines, anywhere in the text.
fn take_credit_or_source(at: usize, line: &str, meta: &mut TextMeta, removed: &mut Vec<(usize, Removed)>) -> bool {
    // Cheap tests first: these patterns only ever match lines with these words or a colon.
    let lower = line.get(..line.len().min(600)).unwrap_or(line).to_lowercase();
    let credit_words = lower.contains("contribut") || lower.contains("reporting") || lower.contains(" by ") || lower.starts_with("by ");
    if credit_words && word_count(line) <= 120 && (CONTRIBUTED.is_match(line) || REPORTING_BY.is_match(line)) {
        let people = names::people_in_credit(line);
        if !people.is_empty() {
            for p in people {
                if !meta.contributors.contains(&p) {
                    meta.contributors.push(p);
                }
            }
            removed.push((at, Removed { text: line.to_owned(), reason: RemovalReason::Credit }));
            return true;
        }
    }
    let early_colon = line.char_indices().take(16).any(|(_, c)| c == ':');
    if let Some(c) = (early_colon && line.len() <= 200).then(|| SOURCE_LABEL.captures(line)).flatten() {
        let label: String = c[1].chars().filter(char::is_ascii_alphabetic).collect::<String>().to_lowercase();
        let value = c[2].trim();
        if ["source", "sources", "via", "courtesy", "quelle", "fuente", "fonte"]
            .iter()
            .any(|l| label.len().abs_diff(l.len()) <= 1 && edit_distance(&label, l) <= 1)
            && word_count(value) <= 8
        {
            if MARKER_LINE.is_match(value) || value.starts_with("http") || value.eq_ignore_ascii_case("link") {
                removed.push((at, Removed { text: line.to_owned(), reason: RemovalReason::ScraperMarker }));
            } else {
                meta.credited_source.get_or_insert_with(|| value.trim_end_matches('.').to_owned());
                removed.push((at, Removed { text: line.to_owned(), reason: RemovalReason::CreditedSource }));
            }
            return true;
        }
    }
    false
}

/// A line that is a date, possibly labelled ("Date: ...", "Published ..."), or — in the head —
/// starts with one. Returns the date and what follows it on the line.
fn dateline(line: &str, in_head: bool) -> Option<(Published, &str)> {
    if word_count(line) > 60 {
        return None;
    }
    // A dateline's date comes first or right after a short label: look only at the start.
    let mut end = line.len().min(DATELINE_PREFIX_BYTES);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    let (date, range) = find_date(&line[..end])?;
    if !crate::dates::plausible(date.date) {
        return None;
    }
    let before = &line[..range.start];
    if !DATE_LABEL.is_match(before) {
        return None;
    }
    let rest = &line[range.end..];
    let rest_trimmed = rest.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, ',' | '|' | '-' | '–' | '—' | '·'));
    let rest_words = word_count(rest_trimmed);
    let time_zone_only = rest_words <= 3 && rest_trimmed.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || " :+-().".contains(c));
    if rest_words == 0 || time_zone_only {
        return Some((date, ""));
    }
    // A date prefix in front of other header material (a menu, a site name).
    if in_head && !before.trim().is_empty() {
        return Some((date, rest_trimmed));
    }
    if in_head && !is_sentence(rest_trimmed) {
        return Some((date, rest_trimmed));
    }
    None
}

struct Byline {
    authors: Vec<String>,
    outlet: Option<String>,
    date: Option<Published>,
}

fn byline(line: &str) -> Option<Byline> {
    let c = BYLINE.captures(line)?;
    let mut rest = c[1].trim().to_owned();
    if word_count(&rest) > 16 || rest.ends_with('.') && !rest.ends_with(" Jr.") && rest.len() > 3 && !is_initial_end(&rest) {
        return None;
    }
    let mut date = None;
    if let Some((d, range)) = find_date(&rest) {
        date = Some(d);
        rest = format!("{}{}", &rest[..range.start], &rest[range.end..]);
    }
    let (authors, outlets) = names::split_byline(&rest);
    if authors.is_empty() && outlets.is_empty() {
        return None;
    }
    Some(Byline { authors, outlet: outlets.into_iter().next(), date })
}

fn is_initial_end(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 3 && b[b.len() - 1] == b'.' && b[b.len() - 2].is_ascii_uppercase() && b[b.len() - 3] == b' '
}

/// A first line that reads like a headline: short, no closing period, not a quote.
fn is_headline(line: &str) -> bool {
    let words = word_count(line);
    (2..=30).contains(&words)
        && line.len() <= 250
        && !line.ends_with('.')
        && !line.ends_with(',')
        && !line.ends_with(':')
        && !line.starts_with(['"', '“', '(', '-', '*'])
}

/// Menus and breadcrumbs: many short capitalised items without sentence structure.
fn is_navigation(line: &str, mode: Mode) -> bool {
    // In the extractor's text, numbers, brackets and signs are no evidence of a menu ("120
    // Minuten ( + 300 Minuten Wartezeit )" is a recipe's times): only words with letters count.
    // In a whole page's text they are (menus with counts and dates; measured on the cleaning set).
    let words: Vec<&str> = line.split_whitespace().filter(|w| mode == Mode::ScrapedText || w.chars().any(char::is_alphabetic)).collect();
    if words.is_empty() || is_sentence(line) {
        return false;
    }
    // Every separator has one of these characters; most lines have none.
    if line.contains(['|', '»', '›', '•', '·', '>', '/']) {
        let segments: Vec<&str> = NAV_SEPARATORS.split(line).collect();
        if segments.len() >= 3 && segments.iter().all(|s| word_count(s) <= 4) {
            return true;
        }
    }
    if words.len() < 6 {
        return false;
    }
    let lower: Vec<String> = words.iter().map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase()).collect();
    let function = lower.iter().filter(|w| FUNCTION_WORDS.contains(&w.as_str())).count();
    let capitalised = words.iter().filter(|w| w.chars().next().is_some_and(|c| c.is_uppercase() || !c.is_alphabetic())).count();
    let all_caps = words.iter().filter(|w| w.len() > 2 && w.chars().all(|c| !c.is_lowercase()) && w.chars().any(char::is_alphabetic)).count();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for w in &lower {
        if w.len() > 2 {
            *counts.entry(w.as_str()).or_default() += 1;
        }
    }
    let repeated = counts.values().any(|&n| n >= 2);
    let mostly_capitalised = capitalised * 10 >= words.len() * 9;
    let few_function_words = function * 12 <= words.len();
    mostly_capitalised && few_function_words && (repeated || (all_caps >= 2 && all_caps < words.len()) || words.len() >= 10)
}

/// Site name in a header line such as "The Daily Courier - Local News Sports Opinion".
fn site_name_from_header(line: &str) -> Option<String> {
    let (head, _) = line.split_once(" - ").or_else(|| line.split_once(" | "))?;
    let head = head.trim();
    let words = word_count(head);
    ((1..=5).contains(&words) && head.split_whitespace().all(|w| w.chars().next().is_some_and(char::is_uppercase))).then(|| head.to_owned())
}

pub(crate) fn is_sentence(line: &str) -> bool {
    let t = line.trim_end_matches(['"', '”', '’', '\'', ')', '」', '』']);
    // Scripts written without spaces (CJK) count characters instead of words.
    t.ends_with(['.', '!', '?', '。', '！', '？']) && (word_count(line) >= 4 || line.chars().count() >= 15)
}

fn wire_name(code: &str) -> String {
    match code {
        "AP" => "Associated Press".to_owned(),
        "AA" | "Anadolu" => "Anadolu Agency".to_owned(),
        other => other.to_owned(),
    }
}

const FUNCTION_WORDS: &[&str] = &[
    "the", "a", "an", "of", "to", "in", "on", "for", "and", "or", "but", "with", "at", "by", "from", "as", "is", "are", "was", "were", "be", "has", "have",
    "had", "that", "this", "it", "its", "his", "her", "their", "he", "she", "they", "we", "you", "not", "will", "would", "can", "could", "said", "says",
    "after", "over", "into", "about", "amid",
];

pub(crate) fn word_count(s: &str) -> usize {
    s.split_whitespace().count()
}

/// Case-, space- and punctuation-insensitive form of a line, for duplicate tests.
pub(crate) fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        if word.is_ascii() {
            let start = out.len();
            out.push_str(word);
            out[start..].make_ascii_lowercase();
        } else {
            out.extend(word.chars().flat_map(char::to_lowercase));
        }
    }
    out
}

/// Edit distance counting a swap of two neighbouring letters as one edit ("soruce").
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j - 1] + cost).min(d[i - 1][j] + 1).min(d[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, kept: &[&str], removed: &[(&str, RemovalReason)]) -> TextMeta {
        let lines: Vec<&str> = text.lines().collect();
        let out = clean_lines(&lines, Mode::ScrapedText, &|_| false);
        assert_eq!(out.paragraphs, kept, "kept");
        let got: Vec<(&str, RemovalReason)> = out.removed.iter().map(|r| (r.text.as_str(), r.reason)).collect();
        assert_eq!(got, removed, "removed");
        out.meta
    }

    #[test]
    fn markers_and_comment_form() {
        let text = "[ad_1]\nThe council met on Tuesday and approved the budget for the coming year after a long debate.\nThe mayor said the vote was close.\n[ad_2]\nSource link\n";
        check(
            text,
            &["The council met on Tuesday and approved the budget for the coming year after a long debate.", "The mayor said the vote was close."],
            &[("[ad_1]", RemovalReason::ScraperMarker), ("[ad_2]", RemovalReason::ScraperMarker), ("Source link", RemovalReason::ScraperMarker)],
        );
        let text = "Storm closes schools\n\nHeavy snow closed all schools in the district on Monday, officials said.\n\nLeave a Reply\n\nYour email address will not be published. Required fields are marked *\n\nComment *\n";
        let meta = check(
            text,
            &["Heavy snow closed all schools in the district on Monday, officials said."],
            &[
                ("Storm closes schools", RemovalReason::Title),
                ("Leave a Reply", RemovalReason::CommentForm),
                ("Your email address will not be published. Required fields are marked *", RemovalReason::CommentForm),
                ("Comment *", RemovalReason::CommentForm),
            ],
        );
        assert_eq!(meta.title.as_deref(), Some("Storm closes schools"));
    }

    #[test]
    fn comment_sections_and_forms_in_german_french_spanish_and_portuguese() {
        let article = "Heavy snow closed all schools in the district on Monday, officials said, and buses will not run until Wednesday.";
        for (heading, form) in [
            ("3 Kommentare", "Ihre E-Mail-Adresse wird nicht veröffentlicht. Erforderliche Felder sind mit * markiert"),
            ("Laisser un commentaire", "Votre adresse e-mail ne sera pas publiée. Les champs obligatoires sont indiqués avec *"),
            ("12 comentarios", "Tu dirección de correo electrónico no será publicada. Los campos obligatorios están marcados con *"),
            ("Deixe um comentário", "O seu endereço de e-mail não será publicado. Campos obrigatórios são marcados com *"),
        ] {
            let text = format!("{article}\n\n{heading}\n\nA reader wrote that the closure came far too late for the families on the hill.\n\n{form}\n");
            let lines: Vec<&str> = text.lines().collect();
            let out = clean_lines(&lines, Mode::ScrapedText, &|_| false);
            assert_eq!(out.paragraphs, [article], "{heading}");
            assert!(out.removed.iter().all(|r| r.reason == RemovalReason::CommentForm), "{heading}: {:?}", out.removed);
            // The form's wording alone, anywhere: a comment form.
            let lines = [article, form, "The schools open again on Thursday, the district said in a statement to parents."];
            let out = clean_lines(&lines, Mode::ScrapedText, &|_| false);
            assert_eq!(out.paragraphs, [lines[0], lines[2]], "{form}");
        }
    }

    #[test]
    fn header_block_becomes_metadata() {
        let text = "published 2020-03-04 The Daily Courier - Local News Sports Weather Local News OBITUARIES Opinion Contact\nCity opens new library\nThe branch has 40,000 books.\nBy JANE DOE, JOHN Q. PUBLIC\nMARCH 4, 2020 09:15\nReaders queue outside the new library on Main Street (photo credit: REUTERS/ANN SMITH)\nReaders queue outside the new library on Main Street\n(photo credit: REUTERS/ANN SMITH)\nThe city opened its new library on Wednesday, the first new branch in twenty years, with a crowd of readers waiting outside.\nAnn Smith contributed reporting.\n";
        let meta = check(
            text,
            &[
                "The branch has 40,000 books.",
                "The city opened its new library on Wednesday, the first new branch in twenty years, with a crowd of readers waiting outside.",
            ],
            &[
                ("published 2020-03-04", RemovalReason::Dateline),
                ("The Daily Courier - Local News Sports Weather Local News OBITUARIES Opinion Contact", RemovalReason::Navigation),
                ("City opens new library", RemovalReason::Title),
                ("By JANE DOE, JOHN Q. PUBLIC", RemovalReason::Byline),
                ("MARCH 4, 2020 09:15", RemovalReason::Dateline),
                ("Readers queue outside the new library on Main Street (photo credit: REUTERS/ANN SMITH)", RemovalReason::DuplicateCaption),
                ("Readers queue outside the new library on Main Street", RemovalReason::DuplicateCaption),
                ("(photo credit: REUTERS/ANN SMITH)", RemovalReason::PhotoCredit),
                ("Ann Smith contributed reporting.", RemovalReason::Credit),
            ],
        );
        assert_eq!(meta.title.as_deref(), Some("City opens new library"));
        assert_eq!(meta.published.unwrap().to_iso(), "2020-03-04T09:15:00");
        assert_eq!(meta.authors, ["Jane Doe", "John Q. Public"]);
        assert_eq!(meta.outlet.as_deref(), Some("The Daily Courier"));
        assert_eq!(meta.contributors, ["Ann Smith"]);
    }

    #[test]
    fn labelled_lines_and_misspelt_source() {
        let text = "Rates rise again\n\nby the morning ledger\n\nTitle: Central bank raises rates\n\nDate: June 7, 2022\n\nThe central bank raised its main rate by half a point on Tuesday, its third rise this year.\n\nSoruce: Example Wire Agency\n\nYou may also like\n\nOther story about rates\n\nLeave a Comment\n";
        let meta = check(
            text,
            &["The central bank raised its main rate by half a point on Tuesday, its third rise this year."],
            &[
                ("Rates rise again", RemovalReason::Title),
                ("by the morning ledger", RemovalReason::Byline),
                ("Title: Central bank raises rates", RemovalReason::Title),
                ("Date: June 7, 2022", RemovalReason::Dateline),
                ("Soruce: Example Wire Agency", RemovalReason::CreditedSource),
                ("You may also like", RemovalReason::RelatedContent),
                ("Other story about rates", RemovalReason::RelatedContent),
                ("Leave a Comment", RemovalReason::CommentForm),
            ],
        );
        assert_eq!(meta.outlet.as_deref(), Some("the morning ledger"));
        assert!(meta.authors.is_empty());
        assert_eq!(meta.credited_source.as_deref(), Some("Example Wire Agency"));
        assert_eq!(meta.published.unwrap().to_iso(), "2022-06-07");
    }

    #[test]
    fn article_sentences_are_kept() {
        // Sentences that mention sources, dates and sharing are article text, not metadata.
        let text = "The minister said on May 3, 2021 that the plan would go ahead.\nSource: officials told the paper the plan had been delayed twice before it was approved by the cabinet.\nShare prices fell sharply after the announcement, traders said.\nBy the end of the day, the index had recovered most of its losses.";
        let lines: Vec<&str> = text.lines().collect();
        let out = clean_lines(&lines, Mode::ScrapedText, &|_| false);
        assert_eq!(out.paragraphs.len(), 4, "{:?}", out.removed);
    }

    #[test]
    fn related_and_footer_lines_in_several_languages() {
        let text = "The council approved the new budget on Tuesday after a debate that lasted most of the day, officials said.\nLesen Sie auch: Der Haushalt im Überblick\nThe mayor said the plan would be published next week, with details of every item.\nZum Newsletter anmelden\n© 2021 Example Media. All rights reserved.\n";
        check(
            text,
            &[
                "The council approved the new budget on Tuesday after a debate that lasted most of the day, officials said.",
                "The mayor said the plan would be published next week, with details of every item.",
            ],
            &[
                ("Lesen Sie auch: Der Haushalt im Überblick", RemovalReason::RelatedContent),
                ("Zum Newsletter anmelden", RemovalReason::SharePrompt),
                ("© 2021 Example Media. All rights reserved.", RemovalReason::Navigation),
            ],
        );
    }

    #[test]
    fn latest_most_read_and_discover_more_blocks_in_several_languages() {
        let article = "The council approved the new budget on Tuesday after a debate that lasted most of the day, officials said.";
        let more = "The mayor said the plan would be published next week, with details of every item.";
        // Teasers written as sentences: only the heading tells them from the article.
        let teaser = "The harbour plan that residents have discussed for years goes to a vote in the spring, the council said.";
        for heading in ["Neueste Artikel", "Entdecke weitere Homestorys", "Les plus lus", "Últimas noticias", "Mais lidas", "Discover more"] {
            let lines = [article, more, heading, teaser];
            let out = clean_lines(&lines, Mode::ScrapedText, &|_| false);
            assert_eq!(out.paragraphs, [article, more], "{heading}");
            assert!(out.removed.iter().all(|r| r.reason == RemovalReason::RelatedContent), "{heading}");
        }
    }

    #[test]
    fn a_short_line_carrying_the_documents_own_address_is_its_citation_box() {
        let lines = [
            "The council approved the new budget on Tuesday after a debate that lasted most of the day, officials said.",
            "Suggested citation: Sauer, Budget day, CityBlog, 2020/4/09, https://www.cityblog.example/budget-day/.",
            "The full plan is at https://www.cityblog.example/ and the council's site, the mayor said on Tuesday evening.",
            "The mayor said the plan would be published next week, with details of every item.",
        ];
        let address = Some("https://cityblog.example/budget-day");
        let out = clean_lines_in(&lines, Mode::FromHtml, address, &|_| false, &|_| false);
        assert_eq!(out.paragraphs, [lines[0], lines[2], lines[3]]);
        assert_eq!(out.removed.iter().map(|r| r.reason).collect::<Vec<_>>(), [RemovalReason::ScraperMarker]);
        // A bare host names every link to the front page: it marks nothing.
        let out = clean_lines_in(&lines, Mode::FromHtml, Some("https://www.cityblog.example/"), &|_| false, &|_| false);
        assert_eq!(out.paragraphs.len(), 4);
    }

    #[test]
    fn html_text_loses_trailing_headline_lists_and_source_lines() {
        let lines = [
            "The council approved the new budget on Tuesday after a debate that lasted most of the day, officials said.",
            "Quelle: Beispiel Presseagentur",
            "The mayor said the plan would be published next week, with details of every item.",
            "Mayor opens new bridge",
            "Schools stay closed for a second day",
        ];
        let out = clean_lines(&lines, Mode::FromHtml, &|_| false);
        assert_eq!(out.paragraphs, &lines[..1].iter().chain(&lines[2..3]).copied().collect::<Vec<_>>()[..]);
        assert_eq!(out.meta.credited_source.as_deref(), Some("Beispiel Presseagentur"));
        let reasons: Vec<RemovalReason> = out.removed.iter().map(|r| r.reason).collect();
        assert_eq!(reasons, [RemovalReason::CreditedSource, RemovalReason::RelatedContent, RemovalReason::RelatedContent]);
    }

    #[test]
    fn a_related_box_inside_the_article_takes_only_its_headlines() {
        let lines = [
            "The council approved the new budget on Tuesday after a debate that lasted most of the day, officials said.",
            "The mayor said the plan would be published next week, with details of every item in it.",
            "Roads, schools and the harbour take most of the money, and the rest goes to parks and to the libraries of the city.",
            "Related stories",
            "Mayor opens new bridge",
            "Schools stay closed for a second day",
            "Council members who voted against the plan said they would ask for a review of the spending on roads, which they called far higher than the city could afford over the next five years.",
        ];
        let out = clean_lines(&lines, Mode::FromHtml, &|_| false);
        assert_eq!(out.paragraphs, [lines[0], lines[1], lines[2], lines[6]]);
        assert!(out.removed.iter().all(|r| r.reason == RemovalReason::RelatedContent), "{:?}", out.removed);
        // Without an article paragraph after it, the block runs to the end.
        let out = clean_lines(&lines[..6], Mode::FromHtml, &|_| false);
        assert_eq!(out.paragraphs, &lines[..3]);
    }

    #[test]
    fn numbers_and_brackets_do_not_make_a_menu() {
        assert!(!is_navigation("120 Minuten ( + 300 Minuten Wartezeit )", Mode::FromHtml));
        assert!(is_navigation("Home | Politik | Wirtschaft | Sport | Kultur", Mode::FromHtml));
    }

    #[test]
    fn html_text_keeps_its_date_and_byline_lines_but_reads_them() {
        let lines =
            ["By Jane Doe", "November 7, 2012", "The council approved the new budget on Tuesday after a debate that lasted most of the day, officials said."];
        let out = clean_lines(&lines, Mode::FromHtml, &|_| false);
        assert_eq!(out.paragraphs, lines);
        assert_eq!(out.meta.authors, ["Jane Doe"]);
        assert_eq!(out.meta.published.map(|p| p.date.to_string()).as_deref(), Some("2012-11-07"));
        let out = clean_lines(&lines, Mode::ScrapedText, &|_| false);
        assert_eq!(out.paragraphs, &lines[2..]);
    }

    #[test]
    fn source_label_tolerates_typos() {
        assert_eq!(edit_distance("sourc", "source"), 1);
        assert_eq!(edit_distance("source", "source"), 0);
        assert_eq!(edit_distance("soruce", "source"), 1);
        assert!(edit_distance("sauces", "source") > 1);
    }
}
