//! The extraction stage's own rules by name, each of which can be switched off for a
//! measurement run (`storyline extract --without-rules a,b`): `cargo xtask eval extraction-rules`
//! measures what each one gains or costs on every extraction dev set. Everything runs with all
//! rules on unless a process switched some off.

use std::sync::atomic::{AtomicU32, Ordering};

macro_rules! rules {
    ($($variant:ident = $name:literal: $doc:literal,)*) => {
        /// A rule of the extraction stage.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Rule {
            $(#[doc = $doc] $variant,)*
        }

        impl Rule {
            pub const ALL: &'static [Rule] = &[$(Rule::$variant,)*];

            pub fn name(self) -> &'static str {
                match self {
                    $(Rule::$variant => $name,)*
                }
            }

            pub fn describe(self) -> &'static str {
                match self {
                    $(Rule::$variant => $doc,)*
                }
            }
        }
    };
}

rules! {
    Marker = "marker": "scraper and CMS marker lines and inline `[ad_N]` markers",
    CommentForm = "comment_form": "comment forms, and a comment section in the second half of the text with what follows it",
    RelatedBlock = "related_block": "a related-content heading in the second half of the text and what follows it",
    SelfAddress = "self_address": "a short line carrying the document's own address: a suggested citation, a permalink, a source link",
    RelatedLine = "related_line": "\"Read also: ...\" lines",
    PhotoCredit = "photo_credit": "photo credit lines",
    Caption = "caption": "captions carrying a credit, and their copies",
    Share = "share": "share, follow and subscribe prompts",
    Footer = "footer": "copyright and rights lines, tables of contents",
    Credits = "credits": "reporting credits and credited-source lines, moved to metadata",
    LabelledTitle = "labelled_title": "\"Title: ...\" lines, moved to the title",
    Dateline = "dateline": "date lines and date prefixes, moved to the date",
    Byline = "byline": "bylines in the head, moved to the authors",
    Navigation = "navigation": "menu lines (words between separators)",
    Boilerplate = "boilerplate": "lines repeated across many documents of one outlet",
    DuplicateParagraph = "duplicate_paragraph": "a paragraph repeating an earlier one",
    EdgeTrim = "edge_trim": "short non-sentence lines before the first and after the last prose paragraph",
    ArticleTail = "article_tail": "short lines after the last prose paragraph stay where the page puts them beside it and they are no link's text",
    RepeatedTitle = "repeated_title": "a first paragraph repeating the title",
    DescriptionLead = "description_lead": "the lead put back from the element holding the page's description",
    ClassedLead = "classed_lead": "the lead put back from an element classed intro, lead, standfirst...",
    Fallback = "fallback": "the readability/jusText comparison when the main text is thin",
    FallbackOnDump = "fallback_on_dump": "the readability/jusText comparison also when the main text, however long, is the last resort's dump of the page (content extraction found too little)",
    EscalationRulesOnly = "escalation_rules_only": "a short first text retried in recall mode is replaced by the rule-based retry only, never by jusText's candidate (the page's every run of prose: comments, author boxes, teasers)",
    LooseText = "loose_text": "prose set loose beside the article's paragraphs (outside any paragraph element, as the HTML parser leaves text after a block inside a <p>) is put back in place",
    CommentDates = "comment_dates": "times in a comment section are not the article's",
    TeaserDates = "teaser_dates": "a publication mark on three or more times is a list of teasers and singles out none",
    ShownDay = "shown_day": "the day a page's byline shows, where it disagrees with the stated publication value and another machine value states it",
    LocalDay = "local_day": "a publication time stated in UTC moved to the outlet's day where the page shows the same instant in its own time",
}

static OFF: AtomicU32 = AtomicU32::new(0);

const _: () = assert!(Rule::ALL.len() <= 32);

fn bit(rule: Rule) -> u32 {
    1 << Rule::ALL.iter().position(|r| *r == rule).unwrap_or(0)
}

/// Whether `rule` runs in this process.
pub fn on(rule: Rule) -> bool {
    OFF.load(Ordering::Relaxed) & bit(rule) == 0
}

/// Switches rules off for this process (measurement runs only).
pub fn switch_off(rules: &[Rule]) {
    for &rule in rules {
        OFF.fetch_or(bit(rule), Ordering::Relaxed);
    }
}

/// Reads a comma-separated list of rule names.
pub fn parse(list: &str) -> Result<Vec<Rule>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|name| {
            Rule::ALL
                .iter()
                .copied()
                .find(|r| r.name() == name)
                .ok_or_else(|| format!("unknown extraction rule {name:?} (known: {})", Rule::ALL.iter().map(|r| r.name()).collect::<Vec<_>>().join(", ")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_unknown_names_are_refused() {
        for &rule in Rule::ALL {
            assert_eq!(parse(rule.name()).unwrap(), vec![rule]);
        }
        assert!(parse("marker, nonsense").unwrap_err().contains("nonsense"));
    }
}
