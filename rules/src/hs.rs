//! The Hyperscan backend of the fast matcher: one block-mode database per field and haystack,
//! holding every literal and regular expression of that group (feature `hyperscan`, the system
//! libhs).
//!
//! - **Literals** are written as escaped expressions (`\x{..}` for every character that is
//!   not an ASCII letter or digit) with their anchor as `\A`/`\z`; Hyperscan reports them
//!   exactly, so a report is a hit.
//! - **Regular expressions** are parsed with `regex-syntax`, the `regex` crate's own parser,
//!   and written back in Hyperscan's syntax from the parsed form, where Unicode classes and
//!   case folding are already spelled out as code-point ranges: Hyperscan then sees the same
//!   character sets as the `regex` crate. Assertions Hyperscan cannot express the same way
//!   (multi-line `^`/`$`, word boundaries) are left out, which only widens the expression.
//!   The expression is compiled with `HS_FLAG_PREFILTER` (Hyperscan may widen it further,
//!   never narrow it), so a report is a candidate, confirmed with the pattern's own `regex`:
//!   the answer is the reference one by construction.
//! - A pattern Hyperscan refuses is left out of the database and runs on the pure-Rust
//!   matchers instead; the refusals are kept for `canh rules lint`.
//!
//! Scratch space: Hyperscan needs one per concurrent scan. A [`ScratchPool`] hands them out
//! (cloning a prototype sized for every database of the matcher when none is free), so the
//! matcher stays `Send + Sync` and is shared by all worker threads.

use std::fmt::Write as _;
use std::sync::Mutex;

use hyperscan::{
    BlockDatabase, Builder, HsError, Matching, Pattern as HsPattern, PatternFlags, Patterns,
    Scratch,
};
use regex_syntax::hir::{Class, Hir, HirKind, Look};

use crate::RuleSet;
use crate::pattern::{Anchor, PatternSource};

/// Longest expression handed to Hyperscan. A regular expression whose spelled-out classes
/// exceed this (e.g. many Unicode classes under `(?i)`) would make a huge database for one
/// pattern; it runs on the `regex` crate instead.
pub const MAX_EXPRESSION_LEN: usize = 256 * 1024;

/// Most patterns one database build may refuse one at a time (each refusal recompiles the
/// rest); past this the remaining patterns of the group run on the pure-Rust matchers.
pub const MAX_REFUSALS_PER_DATABASE: usize = 32;

/// Most idle scratch spaces a pool keeps; more concurrent scans than this allocate and free
/// their own.
pub const MAX_POOLED_SCRATCH: usize = 64;

/// A pattern Hyperscan did not take, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub pattern: u32,
    pub error: String,
}

/// One compiled database: the patterns of a field and haystack.
pub(crate) struct Database {
    db: BlockDatabase,
    /// Per Hyperscan expression id: the pattern id, and whether a report must be confirmed.
    meta: Vec<(u32, bool)>,
}

impl Database {
    /// The pattern ids this database answers for.
    pub fn patterns(&self) -> impl Iterator<Item = u32> + '_ {
        self.meta.iter().map(|&(id, _)| id)
    }

    /// Scans `hay`: `hit(pattern, confirm)` for every pattern reported (once each).
    pub fn scan(
        &self,
        hay: &str,
        scratch: &Scratch,
        mut hit: impl FnMut(u32, bool),
    ) -> Result<(), hyperscan::Error> {
        let meta = &self.meta;
        self.db.scan(hay, scratch, |id: u32, _from, _to, _flags| {
            if let Some(&(pattern, confirm)) = meta.get(id as usize) {
                hit(pattern, confirm);
            }
            Matching::Continue
        })
    }

    pub fn db(&self) -> &BlockDatabase {
        &self.db
    }
}

/// Compiles the patterns `ids` of `rs` (one field, one haystack) into one database. Returns
/// the database (`None` when no pattern was taken) and the patterns refused.
pub(crate) fn compile(rs: &RuleSet, ids: &[u32]) -> (Option<Database>, Vec<Refusal>) {
    let mut refused = Vec::new();
    let mut items: Vec<(u32, bool, String, PatternFlags)> = Vec::new();
    for &id in ids {
        let Some(p) = rs.patterns().get(id as usize) else {
            continue;
        };
        match expression(&p.source) {
            Ok((expr, flags, confirm)) => items.push((id, confirm, expr, flags)),
            Err(error) => refused.push(Refusal { pattern: id, error }),
        }
    }
    let mut refusals_here = 0;
    while !items.is_empty() {
        let patterns: Patterns = items
            .iter()
            .enumerate()
            .map(|(i, (_, _, expr, flags))| HsPattern {
                expression: expr.clone(),
                flags: *flags,
                id: Some(i),
                ext: Default::default(),
                som: None,
            })
            .collect();
        match patterns.build::<hyperscan::BlockMode>() {
            Ok(db) => {
                let meta = items.iter().map(|(id, c, _, _)| (*id, *c)).collect();
                return (Some(Database { db, meta }), refused);
            }
            Err(e) => {
                let (which, error) = compile_error(&e);
                match which {
                    Some(i) if i < items.len() && refusals_here < MAX_REFUSALS_PER_DATABASE => {
                        let (id, ..) = items.remove(i);
                        refused.push(Refusal { pattern: id, error });
                        refusals_here += 1;
                    }
                    _ => {
                        let why = if which.is_some() {
                            format!(
                                "more than {MAX_REFUSALS_PER_DATABASE} patterns of this field \
                                 were refused (last: {error})"
                            )
                        } else {
                            format!("the field's database did not compile: {error}")
                        };
                        refused.extend(items.drain(..).map(|(id, ..)| Refusal {
                            pattern: id,
                            error: why.clone(),
                        }));
                    }
                }
            }
        }
    }
    (None, refused)
}

/// The expression an error names (if any) and its one-line message.
fn compile_error(e: &hyperscan::Error) -> (Option<usize>, String) {
    match e {
        hyperscan::Error::Hyperscan(HsError::CompileError(ce)) => {
            (ce.expression(), ce.message().to_owned())
        }
        other => (None, other.to_string()),
    }
}

/// Hyperscan's expression and flags for a pattern, and whether reports need confirming.
fn expression(source: &PatternSource) -> Result<(String, PatternFlags, bool), String> {
    match source {
        PatternSource::Literal { text, anchor, .. } => {
            let mut out = String::with_capacity(text.len() + 4);
            if matches!(anchor, Anchor::Exact | Anchor::Prefix) {
                out.push_str("\\A");
            }
            text.chars().for_each(|c| push_char(&mut out, c));
            if matches!(anchor, Anchor::Exact | Anchor::Suffix) {
                out.push_str("\\z");
            }
            let flags = PatternFlags::SINGLEMATCH | PatternFlags::UTF8;
            Ok((out, flags, false))
        }
        PatternSource::Regex { src, .. } => {
            let hir = regex_syntax::parse(src).map_err(|e| e.to_string())?;
            let mut out = String::new();
            render(&hir, &mut out)?;
            if out.len() > MAX_EXPRESSION_LEN {
                return Err(format!(
                    "the expression is {} bytes long when its classes are spelled out, more \
                     than {MAX_EXPRESSION_LEN}",
                    out.len()
                ));
            }
            let flags = PatternFlags::SINGLEMATCH
                | PatternFlags::UTF8
                | PatternFlags::PREFILTER
                | PatternFlags::ALLOWEMPTY;
            Ok((out, flags, true))
        }
    }
}

/// One character as a Hyperscan expression (UTF-8 mode): ASCII letters and digits as they
/// are, everything else as `\x{hex}` (never special, never a raw NUL).
fn push_char(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() {
        out.push(c);
    } else {
        let _ = write!(out, "\\x{{{:x}}}", c as u32);
    }
}

/// Writes `hir` in Hyperscan's syntax: a language equal to the `regex` crate's, or wider
/// where an assertion is left out.
fn render(hir: &Hir, out: &mut String) -> Result<(), String> {
    match hir.kind() {
        HirKind::Empty => out.push_str("(?:)"),
        HirKind::Literal(lit) => {
            let text = std::str::from_utf8(&lit.0)
                .map_err(|_| "a literal that is not UTF-8 cannot run in UTF-8 mode".to_owned())?;
            text.chars().for_each(|c| push_char(out, c));
        }
        HirKind::Class(Class::Unicode(class)) => {
            if class.ranges().is_empty() {
                return Err("an empty class (it matches nothing)".to_owned());
            }
            out.push('[');
            for r in class.ranges() {
                push_range(out, r.start() as u32, r.end() as u32);
            }
            out.push(']');
        }
        HirKind::Class(Class::Bytes(class)) => {
            if class.ranges().is_empty() {
                return Err("an empty class (it matches nothing)".to_owned());
            }
            if class.ranges().iter().any(|r| !r.end().is_ascii()) {
                return Err("a byte class beyond ASCII cannot run in UTF-8 mode".to_owned());
            }
            out.push('[');
            for r in class.ranges() {
                push_range(out, u32::from(r.start()), u32::from(r.end()));
            }
            out.push(']');
        }
        HirKind::Look(look) => match look {
            Look::Start => out.push_str("\\A"),
            Look::End => out.push_str("\\z"),
            // Multi-line anchors and word boundaries: left out (the language only widens;
            // candidates are confirmed with the `regex` crate).
            _ => {}
        },
        HirKind::Repetition(rep) => {
            out.push_str("(?:");
            render(&rep.sub, out)?;
            out.push(')');
            match (rep.min, rep.max) {
                (0, None) => out.push('*'),
                (1, None) => out.push('+'),
                (0, Some(1)) => out.push('?'),
                (min, None) => {
                    let _ = write!(out, "{{{min},}}");
                }
                (min, Some(max)) if min == max => {
                    let _ = write!(out, "{{{min}}}");
                }
                (min, Some(max)) => {
                    let _ = write!(out, "{{{min},{max}}}");
                }
            }
        }
        HirKind::Capture(cap) => {
            out.push_str("(?:");
            render(&cap.sub, out)?;
            out.push(')');
        }
        HirKind::Concat(items) => {
            for h in items {
                render(h, out)?;
            }
        }
        HirKind::Alternation(items) => {
            out.push_str("(?:");
            for (i, h) in items.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                render(h, out)?;
            }
            out.push(')');
        }
    }
    Ok(())
}

/// First and last code points of the UTF-16 surrogate block, which no `char` is; a range of
/// chars around it is written as two ranges.
const SURROGATES: (u32, u32) = (0xD800, 0xDFFF);

fn push_range(out: &mut String, start: u32, end: u32) {
    if start < SURROGATES.0 && end > SURROGATES.1 {
        push_range(out, start, SURROGATES.0 - 1);
        push_range(out, SURROGATES.1 + 1, end);
        return;
    }
    let _ = write!(out, "\\x{{{start:x}}}");
    if end > start {
        let _ = write!(out, "-\\x{{{end:x}}}");
    }
}

/// A scan's working state: Hyperscan scratch space and the candidates to confirm.
pub(crate) struct Worker {
    pub scratch: Scratch,
    pub candidates: Vec<u32>,
}

/// Scratch spaces for the databases of one matcher, one per concurrent scan.
pub(crate) struct ScratchPool {
    inner: Mutex<Pool>,
}

struct Pool {
    /// Sized for every database of the matcher; cloned when no idle worker is left.
    proto: Scratch,
    idle: Vec<Worker>,
}

impl ScratchPool {
    /// A pool for `dbs`; `None` when there is no database.
    pub fn new<'a>(
        mut dbs: impl Iterator<Item = &'a Database>,
    ) -> Result<Option<ScratchPool>, hyperscan::Error> {
        let Some(first) = dbs.next() else {
            return Ok(None);
        };
        let mut proto = first.db().alloc_scratch()?;
        for d in dbs {
            d.db().realloc_scratch(&mut proto)?;
        }
        Ok(Some(ScratchPool {
            inner: Mutex::new(Pool {
                proto,
                idle: Vec::new(),
            }),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pool> {
        // a panic while holding the lock leaves the pool as valid as before
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn take(&self) -> Worker {
        let mut pool = self.lock();
        match pool.idle.pop() {
            Some(w) => w,
            None => Worker {
                scratch: pool.proto.clone(),
                candidates: Vec::new(),
            },
        }
    }

    pub fn give(&self, w: Worker) {
        let mut pool = self.lock();
        if pool.idle.len() < MAX_POOLED_SCRATCH {
            pool.idle.push(w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(text: &str, anchor: Anchor) -> PatternSource {
        PatternSource::Literal {
            text: text.into(),
            anchor,
            cased: false,
        }
    }

    #[test]
    fn literal_expressions_escape_and_anchor() {
        for (src, want) in [
            (lit("a.b", Anchor::Contains), r"a\x{2e}b"),
            (lit("/bin/sh", Anchor::Suffix), r"\x{2f}bin\x{2f}sh\z"),
            (lit("đăng", Anchor::Prefix), r"\A\x{111}\x{103}ng"),
            (lit("x", Anchor::Exact), r"\Ax\z"),
        ] {
            assert_eq!(expression(&src).unwrap().0, want, "{src}");
        }
    }

    #[test]
    fn regexes_are_spelled_out() {
        let re = |s: &str| {
            expression(&PatternSource::Regex {
                src: s.into(),
                cased: true,
            })
            .map(|e| e.0)
        };
        assert_eq!(re(r"\Aab+\z").unwrap(), r"\Aa(?:b)+\z");
        assert_eq!(re("(?i)k").unwrap(), r"[\x{4b}\x{6b}\x{212a}]");
        // word boundaries are left out; the regex confirms
        assert_eq!(re(r"\bx").unwrap(), "x");
        assert_eq!(re("(?s).").unwrap(), r"[\x{0}-\x{d7ff}\x{e000}-\x{10ffff}]");
        assert!(re("[^\\s\\S]").is_err());
    }

    #[test]
    fn a_refused_pattern_is_reported_and_the_rest_compile() {
        // Hyperscan takes `\A` only at the start of an expression
        let (rs, _) = crate::RuleSet::load(
            &[(
                "r.yml".into(),
                "title: t\nid: r\nlogsource: {product: linux}\ndetection:\n    a:\n        \
                 f|re: 'x\\Ay|q'\n    b:\n        f|contains: xyz\n    \
                 condition: a or b\n"
                    .into(),
            )],
            crate::Mapping::builtin(),
        );
        let ids: Vec<u32> = rs.patterns().iter().map(|p| p.id).collect();
        let (db, refused) = compile(&rs, &ids);
        let db = db.expect("the literal compiles");
        assert_eq!(db.patterns().count() + refused.len(), ids.len());
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(!refused[0].error.is_empty());
    }
}
