//! Field names: Sigma taxonomy and SigmaHQ names → canh's ECS names (`rules/mapping.yml`).
//!
//! A field written in a rule is resolved to a [`FieldRef`]: the names to look up in an event,
//! in order, the first present one giving the value. The mapped names come first (from the
//! mapping sections whose logsource covers the rule's, then the `prefix` of those sections,
//! then the global `fields`), the name as written last — so canh's own rules, which name ECS
//! fields directly, and test-format events, which use the rule's names, both work.

use crate::diag::Diag;
use crate::logsource::LogSource;
use crate::yaml::{self, Node, NodeKind};
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

/// The mapping shipped with canh, embedded at build time.
pub const BUILTIN_MAPPING: &str = include_str!("../mapping.yml");

/// A field as a rule names it, and the event names to look it up by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldRef {
    /// The name written in the rule (`DestinationIp`, `user.name` …).
    pub written: String,
    /// Names to look up, in order; the first one the event has gives the value. The written
    /// name is always the last.
    pub lookup: Vec<String>,
}

impl FieldRef {
    /// A field looked up only by its own name.
    pub fn plain(name: &str) -> Self {
        FieldRef {
            written: name.to_owned(),
            lookup: vec![name.to_owned()],
        }
    }
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

/// Names for the rules of some logsources only (e.g. auditd's `type` is `auditd.type`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Section {
    logsource: LogSource,
    /// Put before every name (looked up after the section's `fields`, before the global ones).
    prefix: Option<String>,
    fields: HashMap<String, String>,
}

/// Field-name mapping; see `rules/mapping.yml` for the format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    keywords: String,
    fields: HashMap<String, String>,
    sections: Vec<Section>,
}

impl Default for Mapping {
    /// No mapping: names are looked up as written; keywords search `message`.
    fn default() -> Self {
        Mapping {
            keywords: canh_core::field::MESSAGE.to_owned(),
            fields: HashMap::new(),
            sections: Vec::new(),
        }
    }
}

impl Mapping {
    /// The embedded `rules/mapping.yml` (parsed once; a test keeps it valid).
    pub fn builtin() -> &'static Mapping {
        static BUILTIN: OnceLock<Mapping> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            Mapping::parse("rules/mapping.yml", BUILTIN_MAPPING).unwrap_or_default()
        })
    }

    /// Reads a mapping file. Every error is reported, with its position.
    pub fn parse(path: &str, text: &str) -> Result<Mapping, Vec<Diag>> {
        let mut errors = Vec::new();
        let (docs, err) = yaml::parse(text);
        if let Some(e) = err {
            return Err(vec![Diag::new(path, e.line, e.col, e.message)]);
        }
        let mut out = Mapping::default();
        let Some(root) = docs.into_iter().find(|d| !d.is_null()) else {
            return Ok(out);
        };
        let Some(entries) = root.as_map() else {
            return Err(vec![Diag::new(
                path,
                root.line,
                root.col,
                "expected a map with `keywords`, `fields` and `logsources`",
            )]);
        };
        for (key, value) in entries {
            match key.as_str() {
                Some("keywords") => match value.as_str() {
                    Some(name) => out.keywords = name.to_owned(),
                    None => errors.push(Diag::new(
                        path,
                        value.line,
                        value.col,
                        "expected the field name keyword lists search, e.g. `message`",
                    )),
                },
                Some("fields") => out.fields = name_map(path, value, &mut errors),
                Some("logsources") => match &value.kind {
                    NodeKind::Seq(items) => {
                        for item in items {
                            if let Some(s) = section(path, item, &mut errors) {
                                out.sections.push(s);
                            }
                        }
                    }
                    NodeKind::Null => {}
                    _ => errors.push(Diag::new(
                        path,
                        value.line,
                        value.col,
                        "expected a list of logsource sections",
                    )),
                },
                _ => errors.push(Diag::new(
                    path,
                    key.line,
                    key.col,
                    format!(
                        "unknown key `{}`; expected `keywords`, `fields` or `logsources`",
                        key.as_str().unwrap_or("?")
                    ),
                )),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// The names to look up for a field written `name` in a rule with logsource `ls`.
    pub fn resolve(&self, name: &str, ls: &LogSource) -> FieldRef {
        let mut lookup: Vec<String> = Vec::new();
        let mut push = |n: String| {
            if !lookup.contains(&n) {
                lookup.push(n);
            }
        };
        let applying = || self.sections.iter().filter(|s| s.logsource.covers(ls));
        for s in applying() {
            if let Some(m) = s.fields.get(name) {
                push(m.clone());
            }
        }
        for s in applying() {
            if let Some(p) = &s.prefix
                && !name.starts_with(p.as_str())
            {
                push(format!("{p}{name}"));
            }
        }
        if let Some(m) = self.fields.get(name) {
            push(m.clone());
        }
        push(name.to_owned());
        FieldRef {
            written: name.to_owned(),
            lookup,
        }
    }

    /// The field keyword lists (a list of values instead of a map) search.
    pub fn keyword_field(&self) -> FieldRef {
        FieldRef {
            written: self.keywords.clone(),
            lookup: vec![self.keywords.clone()],
        }
    }
}

fn name_map(path: &str, node: &Node, errors: &mut Vec<Diag>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let Some(entries) = node.as_map() else {
        if !node.is_null() {
            errors.push(Diag::new(
                path,
                node.line,
                node.col,
                "expected a map of sigma name: canh name",
            ));
        }
        return out;
    };
    for (k, v) in entries {
        match (k.as_str(), v.as_str()) {
            (Some(k), Some(v)) => {
                out.insert(k.to_owned(), v.to_owned());
            }
            _ => errors.push(Diag::new(
                path,
                k.line,
                k.col,
                "expected `sigma name: canh name` with two plain names",
            )),
        }
    }
    out
}

fn section(path: &str, node: &Node, errors: &mut Vec<Diag>) -> Option<Section> {
    let Some(entries) = node.as_map() else {
        errors.push(Diag::new(
            path,
            node.line,
            node.col,
            "expected a map with product/service/category, prefix and fields",
        ));
        return None;
    };
    let mut s = Section::default();
    for (k, v) in entries {
        let text = || v.as_str().map(str::to_owned);
        match k.as_str() {
            Some("product") => s.logsource.product = text(),
            Some("service") => s.logsource.service = text(),
            Some("category") => s.logsource.category = text(),
            Some("prefix") => s.prefix = text(),
            Some("fields") => s.fields = name_map(path, v, errors),
            _ => errors.push(Diag::new(
                path,
                k.line,
                k.col,
                format!(
                    "unknown key `{}`; expected product, service, category, prefix or fields",
                    k.as_str().unwrap_or("?")
                ),
            )),
        }
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(product: Option<&str>, service: Option<&str>, category: Option<&str>) -> LogSource {
        LogSource {
            product: product.map(Into::into),
            service: service.map(Into::into),
            category: category.map(Into::into),
            definition: None,
        }
    }

    #[test]
    fn builtin_mapping_parses() {
        let m = Mapping::parse("rules/mapping.yml", BUILTIN_MAPPING);
        assert!(m.is_ok(), "{m:?}");
        assert!(!Mapping::builtin().fields.is_empty());
    }

    #[test]
    fn resolve_order() {
        let m = Mapping::builtin();
        let r = m.resolve("DestinationIp", &LogSource::default());
        assert_eq!(r.lookup, ["destination.ip", "DestinationIp"]);
        let r = m.resolve("user.name", &LogSource::default());
        assert_eq!(r.lookup, ["user.name"]);
        let audit = ls(Some("linux"), Some("auditd"), None);
        assert_eq!(m.resolve("a0", &audit).lookup, ["auditd.a0", "a0"]);
        assert_eq!(
            m.resolve("exe", &audit).lookup,
            ["process.executable", "auditd.exe", "exe"]
        );
        assert_eq!(m.resolve("a0", &LogSource::default()).lookup, ["a0"]);
        assert_eq!(m.keyword_field().lookup, ["message"]);
    }

    #[test]
    fn errors_name_the_key() {
        let err = Mapping::parse("m.yml", "fields:\n  a: b\nbogus: 1\n").unwrap_err();
        assert_eq!(
            err[0].to_string(),
            "m.yml:3:1: unknown key `bogus`; expected `keywords`, `fields` or `logsources`"
        );
    }
}
