//! Page furniture in a text: lines whose words are no evidence of copying, because pages share
//! them without copying each other's article. Two kinds, both decided per line from the line
//! and its neighbours (no knowledge of sites):
//!
//! - **List lines**: short lines without sentence punctuation in a run of several such lines:
//!   menus, link lists, "most read" headline lists, share bars. A headline over its article with
//!   its date line, or a one-line brief, is not a list. Text hard-wrapped at a fixed width (where
//!   many lines run on into a next line that starts in lower case) has no list lines.
//! - **Notice lines**: cookie and consent banners, privacy and terms links, copyright lines,
//!   comment forms and newsletter prompts, recognised by their wording (English and the main
//!   European languages).
//!
//! Quotation marks do not matter here: quoted words are no evidence either, for another reason
//! (see the crate's word splitter).

use std::sync::LazyLock;

use regex::Regex;

use crate::DedupConfig;

static NOTICE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        \bcookies?\b.{0,120}\b(?:use|uses|using|used|accept|consent|policy|settings|preferences|browser|experience|website|site|partners|tracking|personali[sz]e)
        | \b(?:use|uses|using|accept|consent\ to|allow|enable)\b.{0,80}\bcookies?\b
        | \bprivacy\ (?:policy|notice|statement|settings|choices|center|centre)\b
        | \bterms\ (?:of\ (?:use|service|sale)|and\ conditions|&\ conditions)\b
        | \ball\ rights\ reserved\b | ^\W{0,3}(?:©|\(c\)|copyright\b) | ©\s?\d{4} | \bcopyright\s+(?:©\s*)?\d{4}
        | \byour\ email\ address\ will\ not\ be\ published | \brequired\ fields\ are\ marked
        | \bleave\ a\ (?:reply|comment)\b | \byou\ (?:can|may)\ use\ these\ (?:x?html\ )?tags
        | \b(?:log|sign)\ in\ to\ (?:comment|reply|post) | \bcomments\ are\ (?:closed|moderated)
        | \bnotify\ me\ of\ (?:follow-up|new) | \bsave\ my\ name,?\ email
        | \bnewsletter\b.{0,80}\b(?:sign|subscri|inbox|email|e-mail) | \b(?:sign\ up|subscribe)\b.{0,60}\bnewsletter
        | \benable\ javascript\b | \bjavascript\ (?:is\ )?(?:disabled|required) | \bad\ ?blocker\b
        | \bdatenschutz(?:erkl[äa]rung|hinweise|einstellungen)?\b | \balle\ rechte\ vorbehalten\b
        | \bpolitique\ de\ confidentialit[ée]\b | \btous\ droits\ r[ée]serv[ée]s\b
        | \bpol[íi]tica\ de\ (?:privacidad|cookies|privacidade)\b | \btodos\ los\ derechos\ reservados\b
        | \btodos\ os\ direitos\ reservados\b
        ",
    )
    .expect("the notice pattern compiles")
});

/// Words one of which every notice holds: most lines hold none, and are passed on this
/// literal search without running the full pattern.
static NOTICE_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)cookie|privacy|terms|rights|©|\(c\)|copyright|email|reply|comment|tags|notify|save my|required|newsletter|javascript|blocker|datenschutz|rechte|confidentialit|droits|pol[íi]tica|derechos|direitos")
        .expect("the notice words compile")
});

/// Whether a line is a notice.
fn is_notice(line: &str) -> bool {
    NOTICE_WORDS.is_match(line) && NOTICE.is_match(line)
}

/// Longest line (in words) read as a notice: longer is prose, whatever it mentions.
const NOTICE_MAX_WORDS: usize = 80;

/// Per line of `text` (split at `\n`), whether its words are furniture.
pub fn furniture_lines(text: &str, config: &DedupConfig) -> Vec<bool> {
    let lines: Vec<&str> = text.split('\n').map(str::trim).collect();
    let counts: Vec<usize> = lines.iter().map(|l| l.split_whitespace().count()).collect();
    let unterminated = |i: usize| counts[i] > 0 && !ends_a_sentence(lines[i]);
    let starts_lower = |i: usize| lines[i].chars().find(|c| c.is_alphanumeric()).is_some_and(char::is_lowercase);
    // Hard-wrapped prose: many lines go on, in lower case, on the next line.
    let breaks = (0..lines.len().saturating_sub(1)).filter(|&i| counts[i] > 0 && counts[i + 1] > 0).count();
    let run_on = (0..lines.len().saturating_sub(1)).filter(|&i| counts[i] > 0 && unterminated(i) && starts_lower(i + 1)).count();
    let wrapped = breaks > 0 && run_on as f32 > config.hard_wrap_share * breaks as f32;
    let short = |i: usize| counts[i] > 0 && counts[i] <= config.list_line_words && unterminated(i);
    let mut out: Vec<bool> = (0..lines.len()).map(|i| config.notice_lines && counts[i] > 0 && counts[i] <= NOTICE_MAX_WORDS && is_notice(lines[i])).collect();
    if wrapped {
        return out;
    }
    // Runs of short lines (blank lines between them do not break a run).
    let mut run: Vec<usize> = Vec::new();
    for i in (0..lines.len()).filter(|&i| counts[i] > 0).chain(std::iter::once(usize::MAX)) {
        if i != usize::MAX && short(i) {
            run.push(i);
            continue;
        }
        if run.len() >= config.list_min_lines {
            run.iter().for_each(|&j| out[j] = true);
        }
        run.clear();
    }
    out
}

/// Whether a line ends as a sentence does (closing quotes and brackets aside).
fn ends_a_sentence(line: &str) -> bool {
    let end = line.trim_end_matches(['"', '\'', '\u{201d}', '\u{2019}', '\u{bb}', ')', ']', '*']);
    end.ends_with(['.', '!', '?', '\u{2026}', ':', ';', '\u{3002}'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(text: &str) -> Vec<bool> {
        furniture_lines(text, &DedupConfig::default())
    }

    #[test]
    fn menus_and_headline_lists_are_furniture_a_lone_headline_is_not() {
        let text = "Home\nWorld\nBusiness\nSport\nCentral bank raises rates again\nThe central bank raised its main rate on Tuesday, its third increase this year.\nMost read\nStorm hits the coast overnight\n\nCouncil approves the new budget\nFestival opens with a parade";
        assert_eq!(marked(text), [true, true, true, true, true, false, true, true, false, true, true]);
        let article = "Central bank raises rates again\nMay 3, 2013 at 7:31 AM ET\nThe central bank raised its main rate on Tuesday.\nThe governor said more increases were likely.";
        assert_eq!(marked(article), [false, false, false, false]);
    }

    #[test]
    fn hard_wrapped_prose_has_no_list_lines() {
        let text = "The central bank raised its main interest rate by half\na percentage point on Tuesday, its third increase this\nyear, as officials tried to slow inflation that has\nreached the highest level in four decades. The governor\nsaid further increases were likely.";
        assert!(marked(text).iter().all(|m| !m), "{:?}", marked(text));
    }

    #[test]
    fn notices_are_furniture_prose_about_them_is_short_of_it() {
        let text = "We use cookies to give you the best experience on our website. By continuing you accept our use of cookies.\n\
            Copyright 2021 Example Media. All rights reserved.\n\
            Your email address will not be published. Required fields are marked *\n\
            The regulator fined the company after a two-year investigation into how it handled customer complaints.";
        assert_eq!(marked(text), [true, true, true, false]);
    }
}
