//! The fast matcher: every pattern of a [`RuleSet`], compiled per field into one automaton per
//! haystack (raw text for `cased` patterns, [`fold`]ed text for the rest). Each event's fields
//! are read and scanned once; the hits go to [`RuleSet::matches`] through [`PatternHits`],
//! which then evaluates only the rules a hit pattern can make true.
//!
//! Backends ([`Backend`]):
//!
//! - **Hyperscan** (feature `hyperscan`, on by default; the system libhs): one block-mode
//!   database per field and haystack holding all its literals and regular expressions.
//!   Literals are exact; regular expressions are prefiltered and confirmed with the `regex`
//!   crate, so the answer is the reference one by construction. A pattern Hyperscan refuses
//!   runs on the pure-Rust matchers ([`FastMatcher::fallbacks`], reported by
//!   `canh rules lint`). A field with only one or two literals stays on aho-corasick, which
//!   is as fast or faster there ([`MIN_LITERALS_FOR_HYPERSCAN`], `benches/README.md`).
//! - **Pure Rust**: literals in one aho-corasick automaton per field and haystack
//!   (overlapping matches, anchors checked on positions), regular expressions in one
//!   `regex::RegexSet` per field and haystack.
//!
//! Whatever the backend, the answer for a pattern is [`RuleSet::pattern_is_match`]: the
//! property tests in this module and the corpus tests (`rules/tests/`) check it.
//!
//! ```
//! use canh_rules::fast::FastMatcher;
//! use canh_rules::{Mapping, RuleSet};
//! use std::collections::BTreeMap;
//!
//! let rule = "title: t\nid: x\nlogsource: {product: linux}\ndetection:\n    \
//!             sel:\n        message|re: 'Failed \\w+ for'\n    condition: sel\n";
//! let (set, _) = RuleSet::load(&[("t.yml".into(), rule.into())], Mapping::builtin());
//! let fast = FastMatcher::build(&set).unwrap();
//! let ev: BTreeMap<String, String> =
//!     [("message".to_owned(), "Failed password for root".to_owned())].into();
//! assert_eq!(fast.matches(&set, &ev), set.matches_naive(&ev));
//! assert!(fast.fallbacks().is_empty());
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::RegexSet;

use crate::eval::{EventView, PatternHits};
use crate::expr::LeafId;
use crate::pattern::{Anchor, FieldId, PatternSource, REGEX_SIZE_LIMIT, fold};
use crate::{RuleIdx, RuleSet};

#[cfg(feature = "hyperscan")]
use crate::hs;

/// Hits of one event, one bit per pattern.
#[derive(Debug, Clone, Default)]
pub struct BitHits {
    bits: Vec<u64>,
    /// Scratch of [`FastMatcher::hits_into`]: per scanned field, the place in its lookup
    /// list of the first name the event has ([`NO_NAME`] when none).
    ranks: Vec<u16>,
}

/// No lookup name of the field is in the event.
const NO_NAME: u16 = u16::MAX;

impl BitHits {
    fn new(n: usize) -> Self {
        BitHits {
            bits: vec![0; n.div_ceil(64)],
            ranks: Vec::new(),
        }
    }
    fn set(&mut self, id: u32) {
        if let Some(w) = self.bits.get_mut(id as usize / 64) {
            *w |= 1 << (id % 64);
        }
    }
    fn clear(&mut self) {
        self.bits.iter_mut().for_each(|w| *w = 0);
    }
    /// Number of patterns that hit.
    pub fn count(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }
}

impl PatternHits for BitHits {
    fn hit(&self, pattern: u32) -> bool {
        self.bits
            .get(pattern as usize / 64)
            .is_some_and(|w| w & (1 << (pattern % 64)) != 0)
    }

    fn each_hit(&self, f: &mut dyn FnMut(u32)) -> bool {
        for (i, &word) in self.bits.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let bit = bits.trailing_zeros();
                bits &= bits - 1;
                f(u32::try_from(i * 64)
                    .unwrap_or(u32::MAX)
                    .saturating_add(bit));
            }
        }
        true
    }
}

/// Fewest literals (on a field without regular expressions) that go to Hyperscan rather than
/// aho-corasick. Measured on loghub lines (`rules_literal_field` in benches/benches/rules.rs):
/// one literal is ~12 % faster on aho-corasick, two are even, four and more are about twice
/// as fast on Hyperscan.
pub const MIN_LITERALS_FOR_HYPERSCAN: usize = 3;

/// Which engines the fast matcher compiles patterns into. All give the same answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// aho-corasick for literals, `regex::RegexSet` for regular expressions.
    PureRust,
    /// One Hyperscan database per field and haystack holding its literals and regular
    /// expressions; a field with fewer than [`MIN_LITERALS_FOR_HYPERSCAN`] literals and no
    /// regular expression stays on aho-corasick.
    #[cfg(feature = "hyperscan")]
    Hyperscan,
    /// Hyperscan for every field, literal-only ones too (kept to measure the choice above).
    #[cfg(feature = "hyperscan")]
    HyperscanAll,
}

impl Default for Backend {
    /// Hyperscan when the `hyperscan` feature is on, else pure Rust.
    fn default() -> Self {
        #[cfg(feature = "hyperscan")]
        {
            Backend::Hyperscan
        }
        #[cfg(not(feature = "hyperscan"))]
        {
            Backend::PureRust
        }
    }
}

impl Backend {
    /// Whether a group with these patterns goes to Hyperscan.
    #[cfg_attr(not(feature = "hyperscan"), allow(unused_variables))]
    fn hyperscan_for(self, literals: usize, regexes: usize) -> bool {
        match self {
            Backend::PureRust => false,
            #[cfg(feature = "hyperscan")]
            Backend::Hyperscan => regexes > 0 || literals >= MIN_LITERALS_FOR_HYPERSCAN,
            #[cfg(feature = "hyperscan")]
            Backend::HyperscanAll => literals + regexes > 0,
        }
    }
}

/// A pattern Hyperscan refused, for one rule that uses it: it runs on the `regex` crate (or
/// aho-corasick) instead, with the same answers, more slowly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// The pattern, in [`RuleSet::patterns`].
    pub pattern: u32,
    /// A rule (detection or filter) that uses it.
    pub rule: RuleIdx,
    pub title: String,
    /// The pattern's place among the rule's distinct patterns, from 1, in the order the
    /// detection names them.
    pub nth: usize,
    /// Hyperscan's reason.
    pub error: String,
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pattern {} of rule `{}` runs on the regex fallback: {}",
            self.nth, self.title, self.error
        )
    }
}

/// Literals of one field and haystack.
struct Literals {
    ac: AhoCorasick,
    /// Per automaton pattern index: (pattern id, anchor, needle length).
    meta: Vec<(u32, Anchor, usize)>,
}

/// Everything compiled for one field and one haystack (raw or folded).
#[derive(Default)]
struct Group {
    literals: Option<Literals>,
    regexes: Option<(RegexSet, Vec<u32>)>,
    #[cfg(feature = "hyperscan")]
    hs: Option<hs::Database>,
    /// `Contains ""` (a lone `*`): hits every present value.
    any: Vec<u32>,
    /// `Exact ""`: hits only an empty value.
    empty: Vec<u32>,
}

/// Per-event scanning state: the Hyperscan worker, taken from the pool on first use.
struct ScanState<'m> {
    #[cfg(feature = "hyperscan")]
    pool: Option<&'m hs::ScratchPool>,
    #[cfg(feature = "hyperscan")]
    worker: Option<hs::Worker>,
    #[cfg(not(feature = "hyperscan"))]
    _m: std::marker::PhantomData<&'m ()>,
}

impl Group {
    fn is_empty(&self) -> bool {
        #[cfg(feature = "hyperscan")]
        let no_hs = self.hs.is_none();
        #[cfg(not(feature = "hyperscan"))]
        let no_hs = true;
        no_hs
            && self.literals.is_none()
            && self.regexes.is_none()
            && self.any.is_empty()
            && self.empty.is_empty()
    }

    #[cfg_attr(not(feature = "hyperscan"), allow(unused_variables))]
    fn scan(&self, rs: &RuleSet, hay: &str, out: &mut BitHits, state: &mut ScanState<'_>) {
        for &id in &self.any {
            out.set(id);
        }
        if hay.is_empty() {
            for &id in &self.empty {
                out.set(id);
            }
        }
        if let Some(l) = &self.literals {
            for m in l.ac.find_overlapping_iter(hay) {
                let (id, anchor, len) = l.meta[m.pattern().as_usize()];
                let ok = match anchor {
                    Anchor::Contains => true,
                    Anchor::Prefix => m.start() == 0,
                    Anchor::Suffix => m.end() == hay.len(),
                    Anchor::Exact => m.start() == 0 && len == hay.len(),
                };
                if ok {
                    out.set(id);
                }
            }
        }
        if let Some((set, ids)) = &self.regexes {
            for k in set.matches(hay).iter() {
                out.set(ids[k]);
            }
        }
        #[cfg(feature = "hyperscan")]
        if let Some(db) = &self.hs {
            scan_hyperscan(db, rs, hay, out, state);
        }
    }
}

/// Scans `hay` with one Hyperscan database: literal reports are hits, regex reports are
/// confirmed. An empty text, or a scan that fails, is answered pattern by pattern with the
/// reference matcher instead (exact, slower).
#[cfg(feature = "hyperscan")]
fn scan_hyperscan(
    db: &hs::Database,
    rs: &RuleSet,
    hay: &str,
    out: &mut BitHits,
    state: &mut ScanState<'_>,
) {
    let reference = |out: &mut BitHits| {
        for id in db.patterns() {
            if rs.pattern_is_match_on(id, hay) {
                out.set(id);
            }
        }
    };
    let Some(pool) = state.pool else {
        return reference(out);
    };
    if hay.is_empty() {
        return reference(out);
    }
    let worker = state.worker.get_or_insert_with(|| pool.take());
    worker.candidates.clear();
    let candidates = &mut worker.candidates;
    let scanned = db.scan(hay, &worker.scratch, |id, confirm| {
        if confirm {
            candidates.push(id);
        } else {
            out.set(id);
        }
    });
    if scanned.is_err() {
        return reference(out);
    }
    for &id in &worker.candidates {
        if rs.pattern_is_match_on(id, hay) {
            out.set(id);
        }
    }
}

struct FieldScan {
    field: FieldId,
    raw: Group,
    folded: Group,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot build the literal automaton for field {field}: {msg}")]
    Literals { field: String, msg: String },
    #[error("cannot build the regex set for field {field}: {msg}")]
    Regexes { field: String, msg: String },
    #[error("cannot allocate Hyperscan scratch space: {msg}")]
    Scratch { msg: String },
}

/// A rule set compiled for speed. Build once per rule-set load; share across threads.
pub struct FastMatcher {
    fields: Vec<FieldScan>,
    /// Event field name → (index in `fields`, place in that field's lookup list): lets an
    /// event that lists its fields be read by the names it has, not the names rules know.
    names: std::collections::HashMap<String, Vec<(usize, u16)>>,
    patterns: usize,
    backend: Backend,
    fallbacks: Vec<Fallback>,
    #[cfg(feature = "hyperscan")]
    pool: Option<hs::ScratchPool>,
}

impl FastMatcher {
    /// Compiles `rs` with the default [`Backend`].
    pub fn build(rs: &RuleSet) -> Result<FastMatcher, BuildError> {
        FastMatcher::build_with(rs, Backend::default())
    }

    /// Compiles `rs` with `backend`.
    pub fn build_with(rs: &RuleSet, backend: Backend) -> Result<FastMatcher, BuildError> {
        // group pattern ids by field and haystack
        let mut by_field: BTreeMap<FieldId, (Vec<u32>, Vec<u32>)> = BTreeMap::new();
        for p in rs.patterns() {
            let e = by_field.entry(p.field).or_default();
            if p.source.cased() {
                e.0.push(p.id)
            } else {
                e.1.push(p.id)
            }
        }
        let mut refused: Vec<(u32, String)> = Vec::new();
        let mut fields = Vec::with_capacity(by_field.len());
        for (field, (raw, folded)) in by_field {
            let name = rs
                .fields()
                .get(field.0 as usize)
                .map_or_else(String::new, |f| f.written.clone());
            fields.push(FieldScan {
                field,
                raw: group(rs, &name, &raw, backend, &mut refused)?,
                folded: group(rs, &name, &folded, backend, &mut refused)?,
            });
        }
        let mut names: std::collections::HashMap<String, Vec<(usize, u16)>> = Default::default();
        for (i, f) in fields.iter().enumerate() {
            let lookup = rs
                .fields()
                .get(f.field.0 as usize)
                .map_or(&[][..], |r| &r.lookup);
            for (rank, name) in lookup.iter().enumerate() {
                let rank = u16::try_from(rank).unwrap_or(NO_NAME - 1);
                names.entry(name.clone()).or_default().push((i, rank));
            }
        }
        #[cfg(feature = "hyperscan")]
        let pool = hs::ScratchPool::new(
            fields
                .iter()
                .flat_map(|f| [&f.raw.hs, &f.folded.hs])
                .flatten(),
        )
        .map_err(|e| BuildError::Scratch { msg: e.to_string() })?;
        Ok(FastMatcher {
            fields,
            names,
            patterns: rs.patterns().len(),
            backend,
            fallbacks: fallbacks(rs, &refused),
            #[cfg(feature = "hyperscan")]
            pool,
        })
    }

    /// The backend this matcher was built with.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Patterns Hyperscan refused (one entry per rule using one), which run on the pure-Rust
    /// matchers instead. Empty for [`Backend::PureRust`].
    pub fn fallbacks(&self) -> &[Fallback] {
        &self.fallbacks
    }

    /// Scans `ev` once; the result answers [`PatternHits`] for every pattern.
    pub fn hits(&self, rs: &RuleSet, ev: &dyn EventView) -> BitHits {
        let mut out = BitHits::new(self.patterns);
        self.hits_into(rs, ev, &mut out);
        out
    }

    /// Like [`FastMatcher::hits`], reusing `out`.
    pub fn hits_into(&self, rs: &RuleSet, ev: &dyn EventView, out: &mut BitHits) {
        if out.bits.len() != self.patterns.div_ceil(64) {
            *out = BitHits::new(self.patterns);
        } else {
            out.clear();
        }
        let mut state = ScanState {
            #[cfg(feature = "hyperscan")]
            pool: self.pool.as_ref(),
            #[cfg(feature = "hyperscan")]
            worker: None,
            #[cfg(not(feature = "hyperscan"))]
            _m: std::marker::PhantomData,
        };
        // the fields the event has, by the first name of each lookup list it has
        let mut ranks = std::mem::take(&mut out.ranks);
        ranks.clear();
        ranks.resize(self.fields.len(), NO_NAME);
        let listed = ev.each_field_name(&mut |name| {
            for &(i, rank) in self.names.get(name).map_or(&[][..], |v| v) {
                if rank < ranks[i] {
                    ranks[i] = rank;
                }
            }
        });
        for (i, f) in self.fields.iter().enumerate() {
            let value = if listed {
                match ranks[i] {
                    NO_NAME => None,
                    rank => rs
                        .fields()
                        .get(f.field.0 as usize)
                        .and_then(|r| r.lookup.get(usize::from(rank)))
                        .and_then(|name| ev.field(name)),
                }
            } else {
                rs.field_value(ev, f.field)
            };
            let Some(raw) = value else {
                continue;
            };
            if !f.raw.is_empty() {
                f.raw.scan(rs, &raw, out, &mut state);
            }
            if !f.folded.is_empty() {
                let folded: Cow<'_, str> = fold(&raw);
                f.folded.scan(rs, &folded, out, &mut state);
            }
        }
        out.ranks = ranks;
        #[cfg(feature = "hyperscan")]
        if let (Some(pool), Some(w)) = (state.pool, state.worker) {
            pool.give(w);
        }
    }

    /// The rules matching `ev`.
    pub fn matches(&self, rs: &RuleSet, ev: &dyn EventView) -> Vec<RuleIdx> {
        let hits = self.hits(rs, ev);
        rs.matches(ev, &hits)
    }
}

/// One [`Fallback`] per (refused pattern, rule using it), in rule order.
fn fallbacks(rs: &RuleSet, refused: &[(u32, String)]) -> Vec<Fallback> {
    if refused.is_empty() {
        return Vec::new();
    }
    let why: BTreeMap<u32, &str> = refused.iter().map(|(p, e)| (*p, e.as_str())).collect();
    let mut out = Vec::new();
    let mut seen_filters = std::collections::HashSet::new();
    let mut visit = |rule: RuleIdx, expr: &crate::Expr<LeafId>| {
        let mut distinct: Vec<u32> = Vec::new();
        for leaf in expr.leaves() {
            if let LeafId::Pattern(p) = *leaf
                && !distinct.contains(&p)
            {
                distinct.push(p);
            }
        }
        for (k, p) in distinct.iter().enumerate() {
            if let Some(error) = why.get(p) {
                out.push(Fallback {
                    pattern: *p,
                    rule,
                    title: rs.rule(rule).title.clone(),
                    nth: k + 1,
                    error: (*error).to_owned(),
                });
            }
        }
    };
    for c in rs.compiled() {
        visit(c.rule, &c.expr);
        for x in &c.exceptions {
            if seen_filters.insert(x.filter) {
                visit(x.filter, &x.expr);
            }
        }
    }
    out
}

#[cfg_attr(
    not(feature = "hyperscan"),
    allow(
        unused_variables,
        clippy::ptr_arg,
        reason = "refusals come from Hyperscan only"
    )
)]
fn group(
    rs: &RuleSet,
    field: &str,
    ids: &[u32],
    backend: Backend,
    refused: &mut Vec<(u32, String)>,
) -> Result<Group, BuildError> {
    let mut g = Group::default();
    let patterns = rs.patterns();
    let mut rest: Vec<u32> = Vec::new();
    let (mut literals, mut regexes) = (0, 0);
    for &id in ids {
        match &patterns[id as usize].source {
            PatternSource::Literal { text, anchor, .. } if text.is_empty() => match anchor {
                Anchor::Exact => g.empty.push(id),
                _ => g.any.push(id),
            },
            PatternSource::Literal { .. } => {
                literals += 1;
                rest.push(id);
            }
            PatternSource::Regex { .. } => {
                regexes += 1;
                rest.push(id);
            }
        }
    }
    if backend.hyperscan_for(literals, regexes) {
        #[cfg(feature = "hyperscan")]
        {
            let (db, no) = hs::compile(rs, &rest);
            g.hs = db;
            rest = no.iter().map(|r| r.pattern).collect();
            refused.extend(no.into_iter().map(|r| (r.pattern, r.error)));
        }
    }
    let mut needles: Vec<&str> = Vec::new();
    let mut meta = Vec::new();
    let mut regex_src: Vec<&str> = Vec::new();
    let mut regex_ids = Vec::new();
    for &id in &rest {
        match &patterns[id as usize].source {
            PatternSource::Literal { text, anchor, .. } => {
                needles.push(text);
                meta.push((id, *anchor, text.len()));
            }
            PatternSource::Regex { src, .. } => {
                regex_src.push(src);
                regex_ids.push(id);
            }
        }
    }
    if !needles.is_empty() {
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(&needles)
            .map_err(|e| BuildError::Literals {
                field: field.to_owned(),
                msg: e.to_string(),
            })?;
        g.literals = Some(Literals { ac, meta });
    }
    if !regex_src.is_empty() {
        let set = regex::RegexSetBuilder::new(&regex_src)
            .size_limit(REGEX_SIZE_LIMIT.saturating_mul(regex_src.len().min(64)))
            .dfa_size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| BuildError::Regexes {
                field: field.to_owned(),
                msg: e.to_string(),
            })?;
        g.regexes = Some((set, regex_ids));
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mapping;
    use std::collections::BTreeMap;

    /// Every backend this build has.
    fn backends() -> Vec<Backend> {
        vec![
            Backend::PureRust,
            #[cfg(feature = "hyperscan")]
            Backend::Hyperscan,
            #[cfg(feature = "hyperscan")]
            Backend::HyperscanAll,
        ]
    }

    fn set(rules: &str) -> RuleSet {
        let (rs, reports) = RuleSet::load(&[("t.yml".into(), rules.into())], Mapping::builtin());
        for r in &reports {
            assert!(r.status.is_compiled(), "{r:?}");
        }
        rs
    }

    fn ev(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The reference answer for every pattern on `e`.
    fn reference_hits(rs: &RuleSet, e: &BTreeMap<String, String>) -> Vec<bool> {
        rs.patterns()
            .iter()
            .map(|p| {
                rs.field_value(e, p.field)
                    .is_some_and(|raw| rs.pattern_is_match(p.id, &raw, &fold(&raw)))
            })
            .collect()
    }

    /// [`BitHits`] without the list of hits: [`RuleSet::matches`] then tries every rule.
    struct Unlisted<'a>(&'a BitHits);

    impl PatternHits for Unlisted<'_> {
        fn hit(&self, pattern: u32) -> bool {
            self.0.hit(pattern)
        }
    }

    /// A test-format event that cannot list its fields: the matcher asks for each name.
    struct Unlisting<'a>(&'a BTreeMap<String, String>);

    impl EventView for Unlisting<'_> {
        fn field(&self, name: &str) -> Option<Cow<'_, str>> {
            self.0.field(name)
        }

        fn logsource(&self) -> Option<crate::EventSource> {
            None
        }
    }

    const RULES: &str = r#"
title: literals and wildcards
id: 00000000-0000-4000-8000-000000000001
logsource: {product: linux}
detection:
    a:
        message|contains: 'Đăng nhập'
    b:
        user.name: 'ad*n'
    c:
        process.command_line|endswith: '/bin/sh'
    d:
        url.original|startswith: '/admin'
    e:
        host.hostname: web01
    condition: 1 of them
level: low
---
title: regex, cased and empty
id: 00000000-0000-4000-8000-000000000002
logsource: {product: linux}
detection:
    a:
        message|re: '^Failed (password|publickey) for \S+'
    b:
        user.name|cased: Root
    c:
        tag: ''
    d:
        anything: '*'
    condition: 1 of them
level: low
---
title: unicode classes and case folding in regexes
id: 00000000-0000-4000-8000-000000000003
logsource: {product: linux}
detection:
    a:
        message|re|i: '\bkelvin\w+\d$'
    b:
        message|re|m: '^x\s*y$'
    c:
        user.name|re: '^\w+$'
    condition: 1 of them
level: low
"#;

    #[test]
    fn fast_agrees_with_naive_on_a_table() {
        let rs = set(RULES);
        let events = [
            ev(&[("message", "ĐĂNG NHẬP thất bại")]),
            ev(&[("user.name", "ADMIN")]),
            ev(&[("user.name", "administrator")]),
            ev(&[("process.command_line", "curl x | /BIN/SH")]),
            ev(&[("url.original", "/Admin/login")]),
            ev(&[("url.original", "/x/admin")]),
            ev(&[("host.hostname", "web01x")]),
            ev(&[("host.hostname", "WEB01")]),
            ev(&[("message", "Failed password for root from x")]),
            ev(&[("message", "failed password for root")]),
            ev(&[("user.name", "root")]),
            ev(&[("user.name", "Root")]),
            ev(&[("user.name", "đăng")]),
            ev(&[("user.name", "đăng nhập")]),
            ev(&[("message", "\u{212a}ELVINđ7")]),
            ev(&[("message", "a kelvin7")]),
            ev(&[("message", "line\nx  y\nz")]),
            ev(&[("tag", "")]),
            ev(&[("tag", "x")]),
            ev(&[("anything", "")]),
            ev(&[]),
        ];
        for backend in backends() {
            let fm = FastMatcher::build_with(&rs, backend).unwrap();
            assert!(fm.fallbacks().is_empty(), "{:?}", fm.fallbacks());
            for e in &events {
                let naive = rs.matches_naive(e);
                assert_eq!(fm.matches(&rs, e), naive, "{backend:?} {e:?}");
                let hits = fm.hits(&rs, e);
                for (p, want) in rs.patterns().iter().zip(reference_hits(&rs, e)) {
                    assert_eq!(hits.hit(p.id), want, "{backend:?} {} on {e:?}", p.source);
                }
            }
            // the table exercises both outcomes
            let matched: usize = events
                .iter()
                .filter(|e| !fm.matches(&rs, e).is_empty())
                .count();
            assert!(matched > 5 && matched < events.len(), "{matched}");
        }
    }

    #[test]
    fn fast_matcher_is_shared_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<FastMatcher>();
        let rs = set(RULES);
        let fm = FastMatcher::build(&rs).unwrap();
        let e = ev(&[("message", "Failed password for root from x")]);
        let want = rs.matches_naive(&e);
        assert!(!want.is_empty());
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..200 {
                        assert_eq!(fm.matches(&rs, &e), want);
                    }
                });
            }
        });
    }

    #[cfg(feature = "hyperscan")]
    #[test]
    fn refused_patterns_are_listed_and_still_match() {
        // Hyperscan takes `\A` only at the start of an expression; the regex crate takes it
        // anywhere.
        let rs = set(r#"
title: huge repeat
id: 00000000-0000-4000-8000-000000000004
logsource: {product: linux}
detection:
    a:
        message|contains: 'abc'
    b:
        message|re: 'x\Ay|abcd'
    condition: a and b
level: low
"#);
        let fm = FastMatcher::build(&rs).unwrap();
        let fb = fm.fallbacks();
        assert_eq!(fb.len(), 1, "{fb:?}");
        assert_eq!(fb[0].nth, 2);
        assert_eq!(fb[0].title, "huge repeat");
        let line = fb[0].to_string();
        assert!(
            line.starts_with("pattern 2 of rule `huge repeat` runs on the regex fallback: "),
            "{line}"
        );
        let e = ev(&[("message", "xx abcd")]);
        assert_eq!(fm.matches(&rs, &e), rs.matches_naive(&e));
        assert_eq!(fm.matches(&rs, &e).len(), 1);
        assert!(
            FastMatcher::build_with(&rs, Backend::PureRust)
                .unwrap()
                .fallbacks()
                .is_empty()
        );
    }

    /// A rule with selections `s0..` on fields `f0`/`f1` and `condition`.
    fn rule_text(selections: &[String], condition: &str) -> String {
        let mut sel = String::new();
        for (k, body) in selections.iter().enumerate() {
            sel.push_str(&format!("    s{k}:\n        {body}\n"));
        }
        format!(
            "title: p\nid: 00000000-0000-4000-8000-000000000009\nlogsource: {{product: linux}}\n\
             detection:\n{sel}    condition: {condition}\nlevel: low\n"
        )
    }

    /// Checks every backend against the reference on one event: pattern by pattern, and
    /// the matched rules (pruned and unpruned).
    fn check_all(rs: &RuleSet, e: &BTreeMap<String, String>) -> Result<(), String> {
        let want = reference_hits(rs, e);
        let naive = rs.matches_naive(e);
        for backend in backends() {
            let fm = FastMatcher::build_with(rs, backend).map_err(|e| e.to_string())?;
            let hits = fm.hits(rs, e);
            let asked = fm.hits(rs, &Unlisting(e));
            for (p, w) in rs.patterns().iter().zip(&want) {
                if hits.hit(p.id) != *w || asked.hit(p.id) != *w {
                    return Err(format!("{backend:?}: pattern {} should be {w}", p.source));
                }
            }
            let pruned = rs.matches(e, &hits);
            let unpruned = rs.matches(e, &Unlisted(&hits));
            if pruned != naive || unpruned != naive {
                return Err(format!(
                    "{backend:?}: pruned {pruned:?}, unpruned {unpruned:?}, naive {naive:?}"
                ));
            }
        }
        Ok(())
    }

    /// Pieces of generated regular expressions: Unicode classes, case folding, anchors,
    /// word boundaries and multi-line assertions (which Hyperscan gets in a wider form).
    const RE_ATOMS: &[&str] = &[
        "a",
        "b",
        "đ",
        "K",
        r"\w",
        r"\d",
        r"\s",
        ".",
        "[a-c]",
        "[^a]",
        r"\b",
        r"\B",
        "(a|bc)",
        r"\.",
        "x?",
        "(?:a|)",
        "[[:alpha:]]",
    ];
    const RE_QUANT: &[&str] = &["", "", "*", "+", "?", "{2}", "{1,3}"];

    proptest::proptest! {
        /// Random values against random literal/wildcard rules: the fast matcher and the
        /// reference evaluator hit exactly the same patterns.
        #[test]
        fn fast_equals_reference(
            values in proptest::collection::vec("[a-cA-CđĐ*?\\\\ ]{0,6}", 1..8),
            modifiers in proptest::collection::vec(0usize..5, 1..8),
            text in "[a-cA-CđĐ ]{0,12}",
        ) {
            let mods = ["", "|contains", "|startswith", "|endswith", "|cased"];
            let mut sels = Vec::new();
            for (k, v) in values.iter().enumerate() {
                let m = mods[modifiers[k % modifiers.len()]];
                let v = v.replace('\'', "");
                sels.push(format!("f{}{m}: '{v}'", k % 2));
            }
            let rule = rule_text(&sels, "1 of them");
            let (rs, reports) = RuleSet::load(&[("p.yml".into(), rule)], Mapping::builtin());
            proptest::prop_assume!(reports.iter().all(|r| r.status.is_compiled()));
            let e = ev(&[("f0", &text), ("f1", &text.to_uppercase())]);
            check_all(&rs, &e).map_err(proptest::test_runner::TestCaseError::fail)?;
        }

        /// Random regular expressions (with `re` flags) and wildcard values on text with
        /// Unicode letters, the Kelvin sign, digits and newlines: every backend hits what the
        /// reference does.
        #[test]
        fn regex_backends_equal_reference(
            pieces in proptest::collection::vec(
                proptest::collection::vec((0..RE_ATOMS.len(), 0..RE_QUANT.len()), 1..5), 1..5),
            flags in proptest::collection::vec(0usize..5, 1..5),
            anchors in proptest::collection::vec(0usize..4, 1..5),
            wildcard in "[a-cK*?đ]{0,5}",
            text in "[a-cA-CđĐkK\u{212a}1 \n_.]{0,14}",
        ) {
            let re_mods = ["|re", "|re|i", "|re|m", "|re|s", "|re|i|m"];
            let mut sels = Vec::new();
            for (k, seq) in pieces.iter().enumerate() {
                let mut re = String::new();
                let anchor = anchors[k % anchors.len()];
                if anchor & 1 == 1 { re.push('^'); }
                for &(a, q) in seq {
                    re.push_str(RE_ATOMS[a]);
                    // a quantifier after an assertion or an optional atom is refused
                    if !RE_ATOMS[a].starts_with("\\b") && !RE_ATOMS[a].starts_with("\\B")
                        && !RE_ATOMS[a].ends_with('?') {
                        re.push_str(RE_QUANT[q]);
                    }
                }
                if anchor & 2 == 2 { re.push('$'); }
                let m = re_mods[flags[k % flags.len()]];
                sels.push(format!("f{}{m}: '{re}'", k % 2));
            }
            sels.push(format!("f0: '{wildcard}'"));
            sels.push(format!("f1|contains: '{wildcard}'"));
            let rule = rule_text(&sels, "1 of them");
            let (rs, reports) = RuleSet::load(&[("p.yml".into(), rule)], Mapping::builtin());
            proptest::prop_assume!(reports.iter().all(|r| r.status.is_compiled()));
            let e = ev(&[("f0", &text), ("f1", &text.to_uppercase())]);
            check_all(&rs, &e).map_err(proptest::test_runner::TestCaseError::fail)?;
        }

        /// Candidate pruning: rules with negations, checks and missing fields give the same
        /// matches whether [`RuleSet::matches`] prunes or tries every rule.
        #[test]
        fn pruning_changes_no_answer(
            values in proptest::collection::vec("[ab*]{0,3}", 2..5),
            cond in 0usize..7,
            f0 in proptest::option::of("[ab]{0,3}"),
            f1 in proptest::option::of("[ab]{0,3}"),
        ) {
            let conds = [
                "1 of them", "all of them", "not s0", "s0 and not s1", "not (s0 or s1)",
                "s1 or not s0", "not 1 of them",
            ];
            let mut sels: Vec<String> =
                values.iter().enumerate().map(|(k, v)| format!("f{}: '{v}'", k % 2)).collect();
            sels[1] = "f1|exists: true".into();
            let rule = rule_text(&sels, conds[cond]);
            let (rs, reports) = RuleSet::load(&[("p.yml".into(), rule)], Mapping::builtin());
            proptest::prop_assume!(reports.iter().all(|r| r.status.is_compiled()));
            let mut pairs: Vec<(&str, &str)> = Vec::new();
            if let Some(v) = &f0 { pairs.push(("f0", v)); }
            if let Some(v) = &f1 { pairs.push(("f1", v)); }
            check_all(&rs, &ev(&pairs)).map_err(proptest::test_runner::TestCaseError::fail)?;
        }
    }
}
