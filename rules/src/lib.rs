//! canh-rules: Sigma rules for canh — loader, detection semantics and the reference evaluator.
//!
//! [`RuleSet::load`] reads Sigma rule files (given as `(path, text)`; this crate does no I/O)
//! and reports on every rule document: [`LoadStatus::Compiled`], [`LoadStatus::Unsupported`]
//! (well-formed, but uses something canh does not evaluate, e.g. placeholders), or
//! [`LoadStatus::Invalid`] with every error as `file:line:col: message`. Compiled rules share
//! one table of string **patterns** ([`RuleSet::patterns`]) and one of non-string **checks**
//! ([`RuleSet::checks`]: cidr, numeric comparisons, field existence, field references); each
//! rule is a boolean [`Expr`] over those, routed by its `logsource` ([`logsource`]).
//! Correlation rules are checked against the whole set (every rule they name must be loaded,
//! chains must not loop) and kept as [`CompiledCorrelation`]s for the stateful
//! [`correlate::Correlator`]; [`RuleSet::matches`] and the fast matcher never see them.
//!
//! ```
//! use canh_rules::{Mapping, NaiveHits, RuleSet};
//! use std::collections::BTreeMap;
//!
//! let rule = r#"
//! title: Root login failed
//! id: 0b6b4ae6-4f0b-4c7d-9d5e-5c1b3f1e7a01
//! logsource: {product: linux, service: sshd}
//! detection:
//!     selection:
//!         message|contains: 'failed password for root'
//!         source.ip|cidr: 203.0.113.0/24
//!     condition: selection
//! level: high
//! "#;
//! let (set, reports) = RuleSet::load(&[("ssh.yml".into(), rule.into())], Mapping::builtin());
//! assert!(reports[0].status.is_compiled());
//!
//! // A test-format event: fields by the names the rule uses, fits any logsource.
//! let ev: BTreeMap<String, String> = [
//!     ("message".to_owned(), "Failed password for ROOT from 203.0.113.5".to_owned()),
//!     ("source.ip".to_owned(), "203.0.113.5".to_owned()),
//! ]
//! .into();
//! let hits = NaiveHits::new(&set, &ev);
//! let matched = set.matches(&ev, &hits);
//! assert_eq!(set.rule(matched[0]).title, "Root login failed");
//! ```
//!
//! # Semantics
//!
//! - Values are case-insensitive unless `|cased`: both sides are [`fold`]ed (NFC, lowercase),
//!   so `ĐĂNG` matches `đăng`. `re` values are case-sensitive unless `|i`; base64-derived
//!   values are matched cased (their case carries the encoded bits).
//! - `*`/`?` wildcards with `\*`, `\?`, `\\` escapes; `contains`/`startswith`/`endswith`.
//! - `null` means the field is absent, `''` the field is present and empty, `|exists` tests
//!   presence only. Numbers and booleans compare by their text as written, except under
//!   `gt`/`gte`/`lt`/`lte`, where both sides (strings too) are read as numbers.
//! - `neq`: the field is present and equals none of the values.
//! - A list of values is OR (`|all`: AND); a value a modifier expands (`windash`,
//!   `base64offset`) is the OR of its forms. Keywords (a list instead of a map) are
//!   substrings of `message`.
//! - A field is looked up by its mapped names first, then as written ([`Mapping`]).
//! - Filters (`filter:` documents) are exceptions: a rule they name by id or name matches only
//!   when the filter (within its own logsource) does not.
//!
//! # For a fast matcher
//!
//! The fast matcher computes the same pattern hits with its own automata and hands them to
//! [`RuleSet::matches`] through [`PatternHits`]. It gives identical answers when, for every
//! pattern `p` in [`RuleSet::patterns`] and event `ev`:
//!
//! ```text
//! hit(p.id) == match rs.field_value(ev, p.field) {
//!     None      => false,
//!     Some(raw) => rs.pattern_is_match(p.id, &raw, &fold(&raw)),
//! }
//! ```
//!
//! 1. Group patterns by [`Pattern::field`] and compile one database per field (and per
//!    haystack: [`PatternSource::cased`] patterns run on the raw text, the others on
//!    `fold(raw)` — their text is already folded).
//! 2. Per event, read each field once with [`RuleSet::field_value`] (the first present name of
//!    [`FieldRef::lookup`]); absent fields hit nothing.
//! 3. [`PatternSource::Literal`]: exact string operations — with aho-corasick, use overlapping
//!    matches and check the anchor on positions (`Exact`: start 0 and end len, `Prefix`:
//!    start 0, `Suffix`: end len, `Contains`: any). The empty literal (`Contains ""`, from `*`)
//!    hits every present value and `Exact ""` only an empty one: handle them without the
//!    automaton.
//! 4. [`PatternSource::Regex`]: `regex`-crate syntax (`(?s)`, `\A`, `\z`, escapes of ASCII
//!    punctuation; `re` values as the author wrote them). Hyperscan can run most of them, but
//!    its Unicode classes and case folding differ from the `regex` crate's: use it as a
//!    prefilter (`HS_FLAG_PREFILTER`, `HS_FLAG_UTF8`) and confirm candidates with
//!    [`RuleSet::pattern_is_match`], which is then identical by construction.
//! 5. Checks and the boolean structure stay with [`RuleSet::matches`]. A [`PatternHits`]
//!    that can list its hits ([`PatternHits::each_hit`]) lets it evaluate only the rules a hit
//!    pattern can make true, plus those that can match with no hit (`not …`, checks alone).
//! 6. An event that lists its field names ([`EventView::each_field_name`]) is read by the
//!    names it has, not by every name the rule set knows.
//!
//! [`fast::FastMatcher`] does all of this with Hyperscan (feature `hyperscan`, default) or
//! with aho-corasick and `regex::RegexSet`.

pub mod condition;
pub mod correlate;
pub mod detection;
mod diag;
pub mod eval;
pub mod expr;
pub mod fast;
#[cfg(feature = "hyperscan")]
mod hs;
pub mod ioc;
pub mod logsource;
pub mod mapping;
pub mod model;
pub mod pattern;
pub mod value;
pub mod yaml;

#[cfg(test)]
mod tests;

pub use detection::Detection;
pub use diag::{Diag, LoadStatus};
pub use eval::{EventView, NaiveHits, PatternHits};
pub use expr::{Check, CmpOp, Expr, Leaf, LeafId, Number, PatternSpec};
pub use logsource::{EventSource, LogSource};
pub use mapping::{FieldRef, Mapping};
pub use model::{
    Alias, CondOp, Correlation, CorrelationType, Filter, Level, LoadedRule, Rule, RuleKind,
    RuleStatus, SourceRef,
};
pub use pattern::{Anchor, FieldId, Pattern, PatternSource, fold};

use pattern::Matcher;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// Index of a rule in [`RuleSet::rules`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleIdx(pub u32);

/// A detection rule ready to evaluate.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub rule: RuleIdx,
    pub logsource: LogSource,
    pub expr: Expr<LeafId>,
    /// Filters naming this rule: it matches only when none of them does.
    pub exceptions: Vec<Exception>,
}

/// A correlation rule with the rules it names resolved.
#[derive(Debug, Clone)]
pub struct CompiledCorrelation {
    pub rule: RuleIdx,
    /// Every rule feeding it: one per rule each entry of its `rules` names (an id shared by
    /// several rules names them all).
    pub sources: Vec<CorrelationSource>,
}

/// A rule a correlation aggregates, with the fields to read from the events it matches.
#[derive(Debug, Clone)]
pub struct CorrelationSource {
    /// A detection or correlation rule.
    pub rule: RuleIdx,
    /// The entry of the correlation's `rules` that names it.
    pub entry: usize,
    /// The `group-by` fields as this rule's events name them (aliases and the mapping
    /// applied), in `group-by` order.
    pub group_by: Vec<FieldRef>,
    /// `condition.field` likewise.
    pub fields: Vec<FieldRef>,
}

/// A filter attached to a rule.
#[derive(Debug, Clone)]
pub struct Exception {
    pub filter: RuleIdx,
    pub logsource: LogSource,
    pub expr: Expr<LeafId>,
}

/// What loading did with one rule document (for `canh rules lint` and the engine's log).
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    pub source: SourceRef,
    pub title: Option<String>,
    pub id: Option<String>,
    /// `detection`, `correlation` or `filter`, when the rule was kept.
    pub kind: Option<&'static str>,
    pub status: LoadStatus,
    pub warnings: Vec<Diag>,
    /// The rule in [`RuleSet::rules`], when it was kept.
    pub rule: Option<RuleIdx>,
}

impl fmt::Display for LoadReport {
    /// One line per problem: `file:line:col: message`; a compiled rule is one line too.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let title = self.title.as_deref().unwrap_or("(untitled)");
        match &self.status {
            LoadStatus::Compiled => write!(
                f,
                "{}:1: compiled {} `{title}`",
                self.source,
                self.kind.unwrap_or("rule")
            )?,
            LoadStatus::Unsupported { reason } => {
                write!(f, "{}:1: unsupported: {reason} (`{title}`)", self.source)?;
            }
            LoadStatus::Invalid { errors } => {
                for (i, e) in errors.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{e}")?;
                }
            }
        }
        for w in &self.warnings {
            write!(
                f,
                "\n{}:{}:{}: warning: {}",
                w.file, w.line, w.col, w.message
            )?;
        }
        Ok(())
    }
}

/// Counts of a load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub compiled: usize,
    pub unsupported: usize,
    pub invalid: usize,
    pub warnings: usize,
}

impl Summary {
    pub fn of(reports: &[LoadReport]) -> Summary {
        let mut s = Summary::default();
        for r in reports {
            match r.status {
                LoadStatus::Compiled => s.compiled += 1,
                LoadStatus::Unsupported { .. } => s.unsupported += 1,
                LoadStatus::Invalid { .. } => s.invalid += 1,
            }
            s.warnings += r.warnings.len();
        }
        s
    }

    pub fn total(&self) -> usize {
        self.compiled + self.unsupported + self.invalid
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} rules: {} compiled, {} unsupported, {} invalid, {} warnings",
            self.total(),
            self.compiled,
            self.unsupported,
            self.invalid,
            self.warnings
        )
    }
}

/// Loads every rule document of one file with the built-in mapping. Never panics, whatever
/// the text (the fuzzing entry point).
pub fn load_text(path: &str, text: &str) -> Vec<LoadedRule> {
    load_text_with(path, text, Mapping::builtin())
}

/// Loads every rule document of one file.
pub fn load_text_with(path: &str, text: &str, mapping: &Mapping) -> Vec<LoadedRule> {
    let (docs, err) = yaml::parse(text);
    let mut out: Vec<LoadedRule> = docs
        .iter()
        .filter(|d| !d.is_null())
        .map(|d| model::load_doc(path, d, mapping))
        .collect();
    if let Some(e) = err {
        out.push(LoadedRule {
            source: SourceRef {
                file: path.to_owned(),
                line: e.line,
            },
            title: None,
            id: None,
            name: None,
            rule: None,
            status: LoadStatus::Invalid {
                errors: vec![Diag::new(path, e.line, e.col, e.message)],
            },
            warnings: Vec::new(),
        });
    }
    out
}

/// What is wrong with one entry of a correlation's `rules` (or `aliases`).
enum RefProblem {
    Error(u32, u32, String),
    Unsupported(String),
}

/// Checks every correlation against the whole set: each entry of `rules` must name (by id or
/// name) a loaded detection or correlation rule, each rule named in `aliases` must be one of
/// those, and chains must not loop. A correlation that fails becomes invalid (unsupported
/// when what it names is unsupported) and is dropped, which is checked again for the
/// correlations naming it, until nothing changes.
fn check_references(all: &mut [LoadedRule]) {
    let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, l) in all.iter().enumerate() {
        for k in l.id.iter().chain(l.name.iter()) {
            let list = by_key.entry(k.clone()).or_default();
            if list.last() != Some(&i) {
                list.push(i);
            }
        }
    }
    let usable = |l: &LoadedRule| {
        matches!(
            l.rule.as_ref().map(|r| &r.kind),
            Some(RuleKind::Detection(_) | RuleKind::Correlation(_))
        )
    };
    let targets = |by_key: &HashMap<String, Vec<usize>>, name: &str, me: usize| -> Vec<usize> {
        by_key
            .get(name)
            .map(|v| v.iter().copied().filter(|&t| t != me).collect())
            .unwrap_or_default()
    };
    loop {
        let mut problems: Vec<(usize, RefProblem)> = Vec::new();
        for (i, l) in all.iter().enumerate() {
            let Some(Rule {
                kind: RuleKind::Correlation(c),
                ..
            }) = &l.rule
            else {
                continue;
            };
            let mut named_keys: Vec<&str> = Vec::new();
            for (j, name) in c.rules.iter().enumerate() {
                let (line, col) = c.rules_at.get(j).copied().unwrap_or((l.source.line, 1));
                let ts = targets(&by_key, name, i);
                for &t in &ts {
                    named_keys.extend(
                        all[t]
                            .id
                            .iter()
                            .chain(all[t].name.iter())
                            .map(String::as_str),
                    );
                }
                if ts.iter().any(|&t| usable(&all[t])) {
                    continue;
                }
                let self_named = l.id.as_deref() == Some(name) || l.name.as_deref() == Some(name);
                let problem = if ts.is_empty() && self_named {
                    RefProblem::Error(
                        line,
                        col,
                        format!("`rules` names `{name}`, this correlation itself"),
                    )
                } else if ts.is_empty() {
                    RefProblem::Error(
                        line,
                        col,
                        format!(
                            "`rules` names `{name}`, which no rule in the set has as id or name"
                        ),
                    )
                } else if ts.iter().any(|&t| {
                    matches!(
                        all[t].rule.as_ref().map(|r| &r.kind),
                        Some(RuleKind::Filter(_))
                    )
                }) {
                    RefProblem::Error(
                        line,
                        col,
                        format!(
                            "`rules` names `{name}`, a filter; a correlation aggregates detection and correlation rules"
                        ),
                    )
                } else if let Some(reason) = ts.iter().find_map(|&t| match &all[t].status {
                    LoadStatus::Unsupported { reason } => Some(reason),
                    _ => None,
                }) {
                    RefProblem::Unsupported(format!(
                        "`rules` names `{name}`, which is unsupported: {reason}"
                    ))
                } else {
                    RefProblem::Error(
                        line,
                        col,
                        format!("`rules` names `{name}`, which is invalid (see its errors)"),
                    )
                };
                problems.push((i, problem));
            }
            for a in &c.aliases {
                for (k, (rule, _)) in a.fields.iter().enumerate() {
                    if !named_keys.contains(&rule.as_str()) && !c.rules.contains(rule) {
                        let (line, col) = a.at.get(k).copied().unwrap_or((l.source.line, 1));
                        problems.push((
                            i,
                            RefProblem::Error(
                                line,
                                col,
                                format!(
                                    "alias `{}` names rule `{rule}`, which is not one of the rules in `rules`",
                                    a.name
                                ),
                            ),
                        ));
                    }
                }
            }
        }
        if problems.is_empty() {
            problems = loops(all, &by_key);
        }
        if problems.is_empty() {
            return;
        }
        for (i, p) in problems {
            let l = &mut all[i];
            l.rule = None;
            match (p, &mut l.status) {
                (RefProblem::Error(line, col, m), LoadStatus::Invalid { errors }) => {
                    errors.push(Diag::new(&l.source.file, line, col, m));
                }
                (RefProblem::Error(line, col, m), status) => {
                    *status = LoadStatus::Invalid {
                        errors: vec![Diag::new(&l.source.file, line, col, m)],
                    };
                }
                (RefProblem::Unsupported(reason), status @ LoadStatus::Compiled) => {
                    *status = LoadStatus::Unsupported { reason };
                }
                (RefProblem::Unsupported(_), _) => {}
            }
        }
    }
}

/// Correlations on a loop of correlations naming each other, each with an error at the
/// entry of `rules` that leads back to it.
fn loops(all: &[LoadedRule], by_key: &HashMap<String, Vec<usize>>) -> Vec<(usize, RefProblem)> {
    let correlation = |i: usize| match all[i].rule.as_ref().map(|r| &r.kind) {
        Some(RuleKind::Correlation(c)) => Some(c),
        _ => None,
    };
    // edges between kept correlations, per entry of `rules`
    let next = |i: usize, name: &str| -> Vec<usize> {
        by_key
            .get(name)
            .map(|v| {
                v.iter()
                    .copied()
                    .filter(|&t| t != i && correlation(t).is_some())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for i in 0..all.len() {
        let Some(c) = correlation(i) else { continue };
        for (j, name) in c.rules.iter().enumerate() {
            // does some rule this entry names lead back to `i`?
            let mut seen = vec![false; all.len()];
            let mut stack = next(i, name);
            let mut back = false;
            while let Some(t) = stack.pop() {
                if t == i {
                    back = true;
                    break;
                }
                if std::mem::replace(&mut seen[t], true) {
                    continue;
                }
                if let Some(tc) = correlation(t) {
                    for n in &tc.rules {
                        stack.extend(next(t, n));
                    }
                }
            }
            if back {
                let (line, col) = c
                    .rules_at
                    .get(j)
                    .copied()
                    .unwrap_or((all[i].source.line, 1));
                out.push((
                    i,
                    RefProblem::Error(
                        line,
                        col,
                        format!("`rules` names `{name}`, which leads back to this correlation: correlation chains must not loop"),
                    ),
                ));
                break;
            }
        }
    }
    out
}

/// Warns on every rule whose id an earlier rule already has.
fn warn_duplicate_ids(reports: &mut [LoadReport]) {
    let mut first: HashMap<&str, &SourceRef> = HashMap::new();
    let mut warnings: Vec<(usize, Diag)> = Vec::new();
    for (i, r) in reports.iter().enumerate() {
        let Some(id) = r.id.as_deref() else { continue };
        match first.get(id) {
            Some(src) => warnings.push((
                i,
                Diag::new(
                    &r.source.file,
                    r.source.line,
                    1,
                    format!("duplicate rule id `{id}`, first used at {src}"),
                ),
            )),
            None => {
                first.insert(id, &r.source);
            }
        }
    }
    for (i, w) in warnings {
        reports[i].warnings.push(w);
    }
}

/// Compiled rules with their shared pattern and check tables.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    tables: Tables,
    compiled: Vec<CompiledRule>,
    correlations: Vec<CompiledCorrelation>,
    prune: Prune,
}

/// Which compiled rules can match an event, given the patterns that hit it: the rules that
/// name a hit pattern, plus the rules whose expression can be true with no pattern hit at all
/// (e.g. `not selection`, a check alone). Every other rule has all its patterns false and an
/// expression that is then false whatever its checks say, so skipping it changes no answer.
#[derive(Debug, Clone, Default)]
struct Prune {
    /// Per pattern id: the compiled rules (indices into `compiled`) whose expression names it.
    by_pattern: Vec<Vec<u32>>,
    /// One bit per compiled rule: its expression can be true with every pattern false.
    always: Vec<u64>,
}

/// Three-valued truth for [`can_hold_without_hits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    False,
    True,
    Unknown,
}

/// Whether `expr` can be true when no pattern hits, whatever its checks say: Kleene logic
/// with patterns false and checks unknown; only a definite `False` rules it out.
fn can_hold_without_hits(expr: &Expr<LeafId>) -> bool {
    fn tri(e: &Expr<LeafId>) -> Tri {
        match e {
            Expr::Leaf(LeafId::Pattern(_)) => Tri::False,
            Expr::Leaf(LeafId::Check(_)) => Tri::Unknown,
            Expr::Not(inner) => match tri(inner) {
                Tri::False => Tri::True,
                Tri::True => Tri::False,
                Tri::Unknown => Tri::Unknown,
            },
            Expr::All(v) => v.iter().fold(Tri::True, |acc, e| match (acc, tri(e)) {
                (Tri::False, _) | (_, Tri::False) => Tri::False,
                (Tri::True, Tri::True) => Tri::True,
                _ => Tri::Unknown,
            }),
            Expr::Any(v) => v.iter().fold(Tri::False, |acc, e| match (acc, tri(e)) {
                (Tri::True, _) | (_, Tri::True) => Tri::True,
                (Tri::False, Tri::False) => Tri::False,
                _ => Tri::Unknown,
            }),
        }
    }
    tri(expr) != Tri::False
}

impl Prune {
    fn build(compiled: &[CompiledRule], patterns: usize) -> Prune {
        let mut by_pattern: Vec<Vec<u32>> = vec![Vec::new(); patterns];
        let mut always = vec![0u64; compiled.len().div_ceil(64)];
        for (i, c) in compiled.iter().enumerate() {
            let ci = index_u32(i);
            for leaf in c.expr.leaves() {
                if let LeafId::Pattern(p) = *leaf
                    && let Some(list) = by_pattern.get_mut(p as usize)
                    && list.last() != Some(&ci)
                {
                    list.push(ci);
                }
            }
            if can_hold_without_hits(&c.expr) {
                always[i / 64] |= 1 << (i % 64);
            }
        }
        Prune { by_pattern, always }
    }
}

/// The tables rules share: fields, patterns (with their compiled matchers), checks.
#[derive(Debug, Clone, Default)]
struct Tables {
    fields: Vec<FieldRef>,
    patterns: Vec<Pattern>,
    matchers: Vec<Matcher>,
    checks: Vec<Check>,
    field_ids: HashMap<FieldRef, FieldId>,
    pattern_ids: HashMap<(FieldId, PatternSource), u32>,
}

impl Tables {
    /// Enters a rule's leaves in the tables; identical patterns on the same field share an id.
    fn intern(&mut self, expr: &Expr<Leaf>) -> Expr<LeafId> {
        expr.map(&mut |leaf| match leaf {
            Leaf::Check(c) => {
                let id = index_u32(self.checks.len());
                self.checks.push(c.clone());
                LeafId::Check(id)
            }
            Leaf::Pattern(p) => {
                let field = match self.field_ids.get(&p.field) {
                    Some(id) => *id,
                    None => {
                        let id = FieldId(index_u32(self.fields.len()));
                        self.fields.push(p.field.clone());
                        self.field_ids.insert(p.field.clone(), id);
                        id
                    }
                };
                let key = (field, p.source.clone());
                if let Some(&id) = self.pattern_ids.get(&key) {
                    return LeafId::Pattern(id);
                }
                let id = index_u32(self.patterns.len());
                // Sources were compiled once while loading; a failure here cannot happen,
                // and would leave a pattern that never hits rather than a panic.
                let matcher = Matcher::new(p.source.clone()).unwrap_or(Matcher {
                    source: p.source.clone(),
                    regex: None,
                });
                self.matchers.push(matcher);
                self.patterns.push(Pattern {
                    id,
                    field,
                    source: p.source.clone(),
                });
                self.pattern_ids.insert(key, id);
                LeafId::Pattern(id)
            }
        })
    }
}

/// Table indices are `u32`; a rule set of four billion entries is refused earlier by the
/// per-rule and per-file limits, so the saturation never shows.
fn index_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl RuleSet {
    /// Loads rule files `(path, text)`. Returns the rule set and one report per document.
    pub fn load(files: &[(String, String)], mapping: &Mapping) -> (RuleSet, Vec<LoadReport>) {
        let mut set = RuleSet::default();
        let mut reports = Vec::new();
        let mut all: Vec<LoadedRule> = files
            .iter()
            .flat_map(|(path, text)| load_text_with(path, text, mapping))
            .collect();
        check_references(&mut all);
        for loaded in all {
            let mut report = LoadReport {
                source: loaded.source,
                title: loaded.title,
                id: loaded.id,
                kind: None,
                status: loaded.status,
                warnings: loaded.warnings,
                rule: None,
            };
            if let Some(rule) = loaded.rule {
                let idx = RuleIdx(index_u32(set.rules.len()));
                report.kind = Some(rule.kind.name());
                report.rule = Some(idx);
                set.rules.push(rule);
            }
            reports.push(report);
        }
        warn_duplicate_ids(&mut reports);
        for (i, rule) in set.rules.iter().enumerate() {
            if let RuleKind::Detection(d) = &rule.kind {
                set.compiled.push(CompiledRule {
                    rule: RuleIdx(index_u32(i)),
                    logsource: rule.logsource.clone(),
                    expr: set.tables.intern(&d.expr),
                    exceptions: Vec::new(),
                });
            }
        }
        set.attach_filters(&mut reports);
        set.compile_correlations(mapping);
        set.prune = Prune::build(&set.compiled, set.tables.patterns.len());
        (set, reports)
    }

    /// Resolves each correlation's `rules` ([`check_references`] made sure they resolve).
    fn compile_correlations(&mut self, mapping: &Mapping) {
        let mut by_key: HashMap<&str, Vec<RuleIdx>> = HashMap::new();
        for (i, r) in self.rules.iter().enumerate() {
            if matches!(r.kind, RuleKind::Detection(_) | RuleKind::Correlation(_)) {
                for k in r.id.iter().chain(r.name.iter()) {
                    let list = by_key.entry(k.as_str()).or_default();
                    if list.last() != Some(&RuleIdx(index_u32(i))) {
                        list.push(RuleIdx(index_u32(i)));
                    }
                }
            }
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let RuleKind::Correlation(c) = &rule.kind else {
                continue;
            };
            let me = RuleIdx(index_u32(i));
            let mut sources = Vec::new();
            for (entry, name) in c.rules.iter().enumerate() {
                for &t in by_key.get(name.as_str()).map_or(&[][..], |v| v) {
                    if t == me {
                        continue;
                    }
                    let target = &self.rules[t.0 as usize];
                    let keys: Vec<&str> = target
                        .id
                        .iter()
                        .chain(target.name.iter())
                        .map(String::as_str)
                        .collect();
                    sources.push(CorrelationSource {
                        rule: t,
                        entry,
                        group_by: c
                            .group_by
                            .iter()
                            .map(|g| mapping.resolve(c.group_field(g, &keys), &target.logsource))
                            .collect(),
                        fields: c
                            .fields
                            .iter()
                            .map(|f| mapping.resolve(f, &target.logsource))
                            .collect(),
                    });
                }
            }
            self.correlations
                .push(CompiledCorrelation { rule: me, sources });
        }
    }

    fn attach_filters(&mut self, reports: &mut [LoadReport]) {
        for (i, rule) in self.rules.iter().enumerate() {
            let RuleKind::Filter(filter) = &rule.kind else {
                continue;
            };
            let fidx = RuleIdx(index_u32(i));
            let expr = self.tables.intern(&filter.detection.expr);
            for target in &filter.rules {
                let mut found = false;
                for c in &mut self.compiled {
                    let named = &self.rules[c.rule.0 as usize];
                    if named.id.as_deref() == Some(target) || named.name.as_deref() == Some(target)
                    {
                        c.exceptions.push(Exception {
                            filter: fidx,
                            logsource: rule.logsource.clone(),
                            expr: expr.clone(),
                        });
                        found = true;
                    }
                }
                if !found && let Some(report) = reports.iter_mut().find(|r| r.rule == Some(fidx)) {
                    report.warnings.push(Diag::new(
                        &report.source.file,
                        report.source.line,
                        1,
                        format!("filter names rule `{target}`, which is not loaded"),
                    ));
                }
            }
        }
    }

    /// Every kept rule: compiled detections, filters and correlation rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, idx: RuleIdx) -> &Rule {
        &self.rules[idx.0 as usize]
    }

    /// The detection rules evaluated by [`RuleSet::matches`], with their filters.
    pub fn compiled(&self) -> &[CompiledRule] {
        &self.compiled
    }

    /// The correlation rules, in load order, for [`correlate::Correlator`]; never part of
    /// [`RuleSet::matches`].
    pub fn correlations(&self) -> &[CompiledCorrelation] {
        &self.correlations
    }

    /// The key alerts and `canh.rule.id` use for a rule: its id, else its title.
    pub fn rule_key(&self, idx: RuleIdx) -> &str {
        let r = self.rule(idx);
        r.id.as_deref().unwrap_or(&r.title)
    }

    /// The fields patterns test, indexed by [`FieldId`].
    pub fn fields(&self) -> &[FieldRef] {
        &self.tables.fields
    }

    /// The pattern table, indexed by [`Pattern::id`]; identical patterns on the same field are
    /// entered once.
    pub fn patterns(&self) -> &[Pattern] {
        &self.tables.patterns
    }

    /// The check table, indexed by [`LeafId::Check`].
    pub fn checks(&self) -> &[Check] {
        &self.tables.checks
    }

    /// The value of field `field` in `ev`: the first name of its lookup list the event has.
    pub fn field_value<'e>(&self, ev: &'e dyn EventView, field: FieldId) -> Option<Cow<'e, str>> {
        let f = self.tables.fields.get(field.0 as usize)?;
        eval::field_value(ev, f)
    }

    /// The reference meaning of pattern `id` on a field value: `raw` as the event has it and
    /// `folded == fold(raw)`. Unknown ids never match.
    pub fn pattern_is_match(&self, id: u32, raw: &str, folded: &str) -> bool {
        self.tables
            .matchers
            .get(id as usize)
            .is_some_and(|m| m.is_match(raw, folded))
    }

    /// Whether pattern `id` matches `hay`, the text its haystack is (the raw value for a
    /// `cased` pattern, the folded one otherwise): how the fast matcher confirms candidates.
    #[cfg_attr(not(feature = "hyperscan"), allow(dead_code))]
    pub(crate) fn pattern_is_match_on(&self, id: u32, hay: &str) -> bool {
        self.tables
            .matchers
            .get(id as usize)
            .is_some_and(|m| m.is_match_on(hay))
    }

    /// The rules matching `ev`, in load order: logsource routing, then each rule's expression
    /// with `hits` deciding patterns and checks evaluated here, then the rule's filters.
    ///
    /// When `hits` can list its hits ([`PatternHits::each_hit`], as the fast matcher's
    /// [`fast::BitHits`] does), only the rules that name a hit pattern and the rules that can
    /// match with no pattern hit are evaluated; the answer is the same.
    pub fn matches(&self, ev: &dyn EventView, hits: &dyn PatternHits) -> Vec<RuleIdx> {
        let source = ev.logsource();
        let mut out = Vec::new();
        let mut try_rule = |c: &CompiledRule| {
            if !c.logsource.fits(source.as_ref()) || !self.eval(&c.expr, ev, hits) {
                return;
            }
            let excepted = c
                .exceptions
                .iter()
                .any(|x| x.logsource.fits(source.as_ref()) && self.eval(&x.expr, ev, hits));
            if !excepted {
                out.push(c.rule);
            }
        };
        let mut candidates = self.prune.always.clone();
        let listed = hits.each_hit(&mut |p| {
            for &c in self.prune.by_pattern.get(p as usize).map_or(&[][..], |v| v) {
                candidates[c as usize / 64] |= 1 << (c % 64);
            }
        });
        if listed {
            for (w, &word) in candidates.iter().enumerate() {
                let mut bits = word;
                while bits != 0 {
                    let i = w * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    if let Some(c) = self.compiled.get(i) {
                        try_rule(c);
                    }
                }
            }
        } else {
            self.compiled.iter().for_each(try_rule);
        }
        out
    }

    /// [`RuleSet::matches`] with the reference [`NaiveHits`].
    pub fn matches_naive(&self, ev: &dyn EventView) -> Vec<RuleIdx> {
        let hits = NaiveHits::new(self, ev);
        self.matches(ev, &hits)
    }

    fn eval(&self, expr: &Expr<LeafId>, ev: &dyn EventView, hits: &dyn PatternHits) -> bool {
        expr.eval(&mut |leaf| match *leaf {
            LeafId::Pattern(p) => hits.hit(p),
            LeafId::Check(c) => self
                .tables
                .checks
                .get(c as usize)
                .is_some_and(|c| c.eval(ev)),
        })
    }
}
