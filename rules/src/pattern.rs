//! Patterns: every string-valued test of a rule set, in one table a fast matcher can compile.
//!
//! A [`Pattern`] tests one field (a [`FieldId`] into [`crate::RuleSet::fields`]) with a
//! [`PatternSource`]: a literal with an anchor, or a regular expression. The meaning of a
//! pattern is fixed by [`crate::RuleSet::pattern_is_match`]: it is tested against the field's text as it
//! is when the pattern is `cased`, and against [`fold`] of the text otherwise (the pattern's own
//! text was folded when the rule was loaded). A pattern on a field the event does not have
//! never hits.

use std::borrow::Cow;
use std::fmt;
use unicode_normalization::{UnicodeNormalization, is_nfc_quick};

/// Largest compiled program of one regular expression (the `regex` crate's `size_limit`).
/// SigmaHQ's biggest, `(.){200,}`, needs well under this; more means a pathological pattern.
pub const REGEX_SIZE_LIMIT: usize = 8 << 20;

/// Case-insensitive form of a text: Unicode NFC, then lowercase. Both a pattern and the field
/// text it is tested against are folded, so `ĐĂNG` matches `đăng` whether the text was sent
/// composed or decomposed. ASCII text takes a fast path (and is borrowed when already lowercase).
pub fn fold(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        }
    } else if is_nfc_quick(s.chars()) == unicode_normalization::IsNormalized::Yes {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Owned(s.nfc().collect::<String>().to_lowercase())
    }
}

/// Index of a field in [`crate::RuleSet::fields`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldId(pub u32);

/// Where a literal must sit in the field text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Anchor {
    /// The whole text.
    Exact,
    /// At the start (`startswith`, `abc*`).
    Prefix,
    /// At the end (`endswith`, `*abc`).
    Suffix,
    /// Anywhere (`contains`, `*abc*`, keywords).
    Contains,
}

impl Anchor {
    /// Whether `needle` sits in `hay` as this anchor says.
    pub fn test(self, hay: &str, needle: &str) -> bool {
        match self {
            Anchor::Exact => hay == needle,
            Anchor::Prefix => hay.starts_with(needle),
            Anchor::Suffix => hay.ends_with(needle),
            Anchor::Contains => hay.contains(needle),
        }
    }
}

/// What a pattern looks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PatternSource {
    /// A value without wildcards (other than a leading and/or trailing `*`, which set the
    /// anchor). When `cased` is false, `text` is already folded.
    Literal {
        text: String,
        anchor: Anchor,
        cased: bool,
    },
    /// A regular expression in the `regex` crate's syntax, searched (not anchored unless it
    /// says `\A`/`\z`). Wildcard values become `(?s)`-flagged expressions whose literal parts
    /// are escaped (and folded when not `cased`); Sigma `re` values are taken as written with
    /// their `i`/`m`/`s` flags prefixed as `(?i)`/`(?m)`/`(?s)` and are always `cased` — an
    /// `re|i` is case-insensitive through its own `(?i)` flag, on the text as it is.
    Regex { src: String, cased: bool },
}

impl PatternSource {
    /// True when the pattern is tested against the text as it is, false for [`fold`]ed text.
    pub fn cased(&self) -> bool {
        match self {
            PatternSource::Literal { cased, .. } | PatternSource::Regex { cased, .. } => *cased,
        }
    }

    /// The text this pattern is tested against: `raw` when cased, else `folded`
    /// (which must be `fold(raw)`).
    pub fn haystack<'t>(&self, raw: &'t str, folded: &'t str) -> &'t str {
        if self.cased() { raw } else { folded }
    }
}

impl fmt::Display for PatternSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let case = |cased: bool| if cased { " (cased)" } else { "" };
        match self {
            PatternSource::Literal {
                text,
                anchor,
                cased,
            } => write!(f, "{anchor:?} {text:?}{}", case(*cased)),
            PatternSource::Regex { src, cased } => write!(f, "regex /{src}/{}", case(*cased)),
        }
    }
}

/// One entry of the rule set's pattern table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// Index in [`crate::RuleSet::patterns`]; what [`crate::PatternHits::hit`] is asked about.
    pub id: u32,
    pub field: FieldId,
    pub source: PatternSource,
}

/// A pattern ready to test: the source and, for regular expressions, the compiled program.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    pub source: PatternSource,
    pub regex: Option<regex::Regex>,
}

impl Matcher {
    pub fn new(source: PatternSource) -> Result<Self, regex::Error> {
        let regex = match &source {
            PatternSource::Literal { .. } => None,
            PatternSource::Regex { src, .. } => Some(build_regex(src)?),
        };
        Ok(Matcher { source, regex })
    }

    /// The reference meaning of a pattern. `folded` must be `fold(raw)`.
    pub fn is_match(&self, raw: &str, folded: &str) -> bool {
        self.is_match_on(self.source.haystack(raw, folded))
    }

    /// The reference meaning of a pattern on its haystack (raw or folded, as the pattern
    /// says).
    pub fn is_match_on(&self, hay: &str) -> bool {
        match (&self.source, &self.regex) {
            (PatternSource::Literal { text, anchor, .. }, _) => anchor.test(hay, text),
            (PatternSource::Regex { .. }, Some(re)) => re.is_match(hay),
            (PatternSource::Regex { .. }, None) => false,
        }
    }
}

/// Compiles a regular expression within [`REGEX_SIZE_LIMIT`].
pub(crate) fn build_regex(src: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(src)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// The one-line reason of a `regex` error (its message without the drawing of the pattern).
pub(crate) fn regex_reason(e: &regex::Error) -> String {
    match e {
        regex::Error::CompiledTooBig(limit) => {
            format!("the compiled expression is larger than {limit} bytes")
        }
        regex::Error::Syntax(text) => text
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("error: "))
            .unwrap_or(text)
            .to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_vietnamese_composed_and_decomposed() {
        assert_eq!(fold("ĐĂNG NHẬP"), "đăng nhập");
        let decomposed: String = "ĐĂNG".nfd().collect();
        assert_ne!(decomposed, "ĐĂNG");
        assert_eq!(fold(&decomposed), "đăng");
    }

    #[test]
    fn fold_ascii_borrows_when_lowercase() {
        assert!(matches!(fold("abc"), Cow::Borrowed("abc")));
        assert_eq!(fold("AbC"), "abc");
    }

    #[test]
    fn literal_anchors() {
        for (anchor, hay, needle, want) in [
            (Anchor::Exact, "abc", "abc", true),
            (Anchor::Exact, "abcd", "abc", false),
            (Anchor::Prefix, "abcd", "abc", true),
            (Anchor::Suffix, "xabc", "abc", true),
            (Anchor::Suffix, "abcx", "abc", false),
            (Anchor::Contains, "xabcx", "abc", true),
            (Anchor::Contains, "", "", true),
        ] {
            assert_eq!(anchor.test(hay, needle), want, "{anchor:?} {hay} {needle}");
        }
    }

    #[test]
    fn regex_reason_is_one_line() {
        let e = build_regex("a(?=b)").unwrap_err();
        assert_eq!(
            regex_reason(&e),
            "look-around, including look-ahead and look-behind, is not supported"
        );
    }
}
