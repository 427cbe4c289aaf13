//! The fast matcher: every pattern of a [`RuleSet`], compiled per field into one automaton per
//! haystack (raw text for `cased` patterns, [`fold`]ed text for the rest). Each event's fields
//! are read and scanned once; the hits go to [`RuleSet::matches`] through [`PatternHits`].
//!
//! Backends: literals go into one aho-corasick automaton per field and haystack (overlapping
//! matches, anchors checked on positions); regular expressions into one `regex::RegexSet` per
//! field and haystack. With the `hyperscan` feature, regular expressions are prefiltered by one
//! Hyperscan database per field (see [`crate::hs`]). Whatever the backend, the answer for a
//! pattern is the same as [`RuleSet::pattern_is_match`]: the property test in this module and
//! the corpus tests check it.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::RegexSet;

use crate::eval::{EventView, PatternHits};
use crate::pattern::{Anchor, FieldId, PatternSource, REGEX_SIZE_LIMIT, fold};
use crate::{RuleIdx, RuleSet};

/// Hits of one event, one bit per pattern.
#[derive(Debug, Clone, Default)]
pub struct BitHits {
    bits: Vec<u64>,
}

impl BitHits {
    fn new(n: usize) -> Self {
        BitHits {
            bits: vec![0; n.div_ceil(64)],
        }
    }
    fn set(&mut self, id: u32) {
        self.bits[id as usize / 64] |= 1 << (id % 64);
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
    /// `Contains ""` (a lone `*`): hits every present value.
    any: Vec<u32>,
    /// `Exact ""`: hits only an empty value.
    empty: Vec<u32>,
}

impl Group {
    fn is_empty(&self) -> bool {
        self.literals.is_none()
            && self.regexes.is_none()
            && self.any.is_empty()
            && self.empty.is_empty()
    }

    fn scan(&self, hay: &str, out: &mut BitHits) {
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
}

/// A rule set compiled for speed. Build once per rule-set load; share across threads.
pub struct FastMatcher {
    fields: Vec<FieldScan>,
    patterns: usize,
}

impl FastMatcher {
    pub fn build(rs: &RuleSet) -> Result<FastMatcher, BuildError> {
        // group pattern ids by field and haystack
        let mut by_field: std::collections::BTreeMap<FieldId, (Vec<u32>, Vec<u32>)> =
            Default::default();
        for p in rs.patterns() {
            let e = by_field.entry(p.field).or_default();
            if p.source.cased() {
                e.0.push(p.id)
            } else {
                e.1.push(p.id)
            }
        }
        let mut fields = Vec::with_capacity(by_field.len());
        for (field, (raw, folded)) in by_field {
            let name = rs
                .fields()
                .get(field.0 as usize)
                .map_or_else(String::new, |f| f.written.clone());
            fields.push(FieldScan {
                field,
                raw: group(rs, &name, &raw)?,
                folded: group(rs, &name, &folded)?,
            });
        }
        Ok(FastMatcher {
            fields,
            patterns: rs.patterns().len(),
        })
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
        for f in &self.fields {
            let Some(raw) = rs.field_value(ev, f.field) else {
                continue;
            };
            if !f.raw.is_empty() {
                f.raw.scan(&raw, out);
            }
            if !f.folded.is_empty() {
                let folded: Cow<'_, str> = fold(&raw);
                f.folded.scan(&folded, out);
            }
        }
    }

    /// The rules matching `ev`.
    pub fn matches(&self, rs: &RuleSet, ev: &dyn EventView) -> Vec<RuleIdx> {
        let hits = self.hits(rs, ev);
        rs.matches(ev, &hits)
    }
}

fn group(rs: &RuleSet, field: &str, ids: &[u32]) -> Result<Group, BuildError> {
    let mut g = Group::default();
    let mut needles: Vec<&str> = Vec::new();
    let mut meta = Vec::new();
    let mut regex_src: Vec<&str> = Vec::new();
    let mut regex_ids = Vec::new();
    let patterns = rs.patterns();
    for &id in ids {
        match &patterns[id as usize].source {
            PatternSource::Literal { text, anchor, .. } if text.is_empty() => match anchor {
                Anchor::Exact => g.empty.push(id),
                _ => g.any.push(id),
            },
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
"#;

    #[test]
    fn fast_agrees_with_naive_on_a_table() {
        let rs = set(RULES);
        let fm = FastMatcher::build(&rs).unwrap();
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
            ev(&[("tag", "")]),
            ev(&[("tag", "x")]),
            ev(&[("anything", "")]),
            ev(&[]),
        ];
        for e in &events {
            let naive = rs.matches_naive(e);
            let fast = fm.matches(&rs, e);
            assert_eq!(fast, naive, "{e:?}");
            let hits = fm.hits(&rs, e);
            for p in rs.patterns() {
                let want = rs
                    .field_value(e, p.field)
                    .is_some_and(|raw| rs.pattern_is_match(p.id, &raw, &fold(&raw)));
                assert_eq!(hits.hit(p.id), want, "pattern {} on {e:?}", p.source);
            }
        }
        // the table exercises both outcomes
        let matched: usize = events
            .iter()
            .filter(|e| !fm.matches(&rs, e).is_empty())
            .count();
        assert!(matched > 5 && matched < events.len());
    }

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
            let mut sel = String::new();
            for (k, v) in values.iter().enumerate() {
                let m = mods[modifiers[k % modifiers.len()]];
                let v = v.replace('\'', "");
                sel.push_str(&format!("    s{k}:\n        f{}{m}: '{v}'\n", k % 2));
            }
            let rule = format!("title: p\nid: 00000000-0000-4000-8000-000000000009\nlogsource: {{product: linux}}\ndetection:\n{sel}    condition: 1 of them\nlevel: low\n");
            let (rs, reports) = RuleSet::load(&[("p.yml".into(), rule)], Mapping::builtin());
            proptest::prop_assume!(reports.iter().all(|r| r.status.is_compiled()));
            let fm = FastMatcher::build(&rs).unwrap();
            let e = ev(&[("f0", &text), ("f1", &text.to_uppercase())]);
            let hits = fm.hits(&rs, &e);
            for p in rs.patterns() {
                let want = rs.field_value(&e, p.field).is_some_and(|raw| rs.pattern_is_match(p.id, &raw, &fold(&raw)));
                proptest::prop_assert_eq!(hits.hit(p.id), want, "pattern {}", p.source);
            }
            proptest::prop_assert_eq!(fm.matches(&rs, &e), rs.matches_naive(&e));
        }
    }
}
