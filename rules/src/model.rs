//! The rule model: one YAML document → a [`Rule`] (detection, correlation or filter) and its
//! [`LoadStatus`].

use crate::detection::{self, Detection};
use crate::diag::{Diag, LoadStatus, Sink};
use crate::expr::Number;
use crate::logsource::LogSource;
use crate::mapping::Mapping;
use crate::yaml::{Node, NodeKind};
use std::fmt;

/// Where a rule was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceRef {
    pub file: String,
    /// Line of the document's first key (1-based).
    pub line: u32,
}

impl fmt::Display for SourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// `level`: how urgent a match is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub const NAMES: [&'static str; 5] = ["informational", "low", "medium", "high", "critical"];

    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "informational" => Level::Informational,
            "low" => Level::Low,
            "medium" => Level::Medium,
            "high" => Level::High,
            "critical" => Level::Critical,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// `status`: how mature a rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleStatus {
    Stable,
    Test,
    Experimental,
    Deprecated,
    Unsupported,
}

impl RuleStatus {
    pub const NAMES: [&'static str; 5] = [
        "stable",
        "test",
        "experimental",
        "deprecated",
        "unsupported",
    ];

    pub fn parse(s: &str) -> Option<RuleStatus> {
        Some(match s {
            "stable" => RuleStatus::Stable,
            "test" => RuleStatus::Test,
            "experimental" => RuleStatus::Experimental,
            "deprecated" => RuleStatus::Deprecated,
            "unsupported" => RuleStatus::Unsupported,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// A Sigma rule document.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub source: SourceRef,
    pub title: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub status: Option<RuleStatus>,
    pub level: Option<Level>,
    pub description: Option<String>,
    pub author: Option<String>,
    pub tags: Vec<String>,
    pub references: Vec<String>,
    pub falsepositives: Vec<String>,
    pub logsource: LogSource,
    pub kind: RuleKind,
}

/// What a rule does.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// Matches single events.
    Detection(Detection),
    /// Aggregates the matches of other rules (not evaluated yet; kept for the alert engine).
    Correlation(Correlation),
    /// An exception added to the rules it names: they match only when the filter does not.
    Filter(Filter),
}

impl RuleKind {
    pub fn name(&self) -> &'static str {
        match self {
            RuleKind::Detection(_) => "detection",
            RuleKind::Correlation(_) => "correlation",
            RuleKind::Filter(_) => "filter",
        }
    }
}

/// A global filter (filters specification).
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// Ids or names of the rules the filter applies to.
    pub rules: Vec<String>,
    pub detection: Detection,
}

/// A correlation rule, as written (correlation specification). Only read, not evaluated.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Correlation {
    /// `event_count`, `value_count`, `temporal`, `temporal_ordered`, `value_sum` …
    pub kind: String,
    pub rules: Vec<String>,
    pub group_by: Vec<String>,
    pub timespan: Option<String>,
    /// `timespan` in seconds, when it reads as a number and `s`/`m`/`h`/`d`.
    pub timespan_secs: Option<u64>,
    /// `gt: 100` … in the order written.
    pub condition: Vec<(String, Number)>,
    /// `condition.field` (value_count and the value_* types).
    pub field: Option<String>,
    /// alias → (rule name → field name).
    pub aliases: Vec<(String, Vec<(String, String)>)>,
    pub generate: bool,
}

/// The reason correlation rules are skipped for now.
pub const CORRELATION_UNSUPPORTED: &str =
    "correlation rules are evaluated by the alert engine (not built yet)";

/// One document of a rule file after loading.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedRule {
    pub source: SourceRef,
    pub title: Option<String>,
    pub id: Option<String>,
    pub name: Option<String>,
    /// The rule, when it is compiled, or a correlation rule (kept for the alert engine).
    pub rule: Option<Rule>,
    pub status: LoadStatus,
    /// Problems that do not stop the rule from loading.
    pub warnings: Vec<Diag>,
}

/// Reads one document.
pub(crate) fn load_doc(file: &str, doc: &Node, mapping: &Mapping) -> LoadedRule {
    let mut sink = Sink::new(file);
    let source = SourceRef {
        file: file.to_owned(),
        line: doc.line,
    };
    let mut out = LoadedRule {
        source,
        title: None,
        id: None,
        name: None,
        rule: None,
        status: LoadStatus::Compiled,
        warnings: Vec::new(),
    };
    let Some(entries) = doc.as_map() else {
        sink.error(
            doc.line,
            doc.col,
            format!(
                "expected a rule: a map with title, logsource and detection, found {}",
                doc.describe()
            ),
        );
        out.status = sink.status();
        return out;
    };
    for (k, _) in entries {
        if k.as_str().is_none() {
            sink.error(
                k.line,
                k.col,
                format!("expected a key name, found {}", k.describe()),
            );
        }
    }
    let title = string(&mut sink, doc, "title");
    if title.is_none() {
        let at = doc.get("title").unwrap_or(doc);
        sink.error(at.line, at.col, "missing `title`");
    }
    out.title = title.clone();
    out.id = string(&mut sink, doc, "id");
    out.name = string(&mut sink, doc, "name");
    let status = string(&mut sink, doc, "status").and_then(|s| {
        let parsed = RuleStatus::parse(&s);
        if parsed.is_none()
            && let Some(n) = doc.get("status")
        {
            sink.error(
                n.line,
                n.col,
                format!(
                    "expected `status` to be one of {}, found `{s}`",
                    RuleStatus::NAMES.join(", ")
                ),
            );
        }
        parsed
    });
    let level = string(&mut sink, doc, "level").and_then(|s| {
        let parsed = Level::parse(&s);
        if parsed.is_none()
            && let Some(n) = doc.get("level")
        {
            sink.error(
                n.line,
                n.col,
                format!(
                    "expected `level` to be one of {}, found `{s}`",
                    Level::NAMES.join(", ")
                ),
            );
        }
        parsed
    });
    let description = string(&mut sink, doc, "description");
    let author = string(&mut sink, doc, "author");
    let tags = strings(&mut sink, doc, "tags");
    let references = strings(&mut sink, doc, "references");
    let falsepositives = strings(&mut sink, doc, "falsepositives");
    let logsource = logsource(&mut sink, doc);

    if doc.get("action").is_some() {
        sink.unsupported("legacy rule collections (`action: global`) are not supported");
    }
    let sections: Vec<&str> = ["detection", "correlation", "filter"]
        .into_iter()
        .filter(|k| doc.get(k).is_some())
        .collect();
    let kind = match sections.as_slice() {
        [] => {
            sink.error(
                doc.line,
                doc.col,
                "missing `detection` (or `correlation`, or `filter`)",
            );
            None
        }
        [_, second, ..] => {
            let at = key_node(doc, second).unwrap_or(doc);
            sink.error(
                at.line,
                at.col,
                format!(
                    "a rule has one of `detection`, `correlation` or `filter`, this one also has `{second}`"
                ),
            );
            None
        }
        ["correlation"] => doc
            .get("correlation")
            .and_then(|n| correlation(&mut sink, n))
            .map(RuleKind::Correlation),
        [section] => {
            let node = doc.get(section).unwrap_or(doc);
            if logsource.is_none() {
                sink.error(doc.line, doc.col, "missing `logsource`");
            }
            let ls = logsource.clone().unwrap_or_default();
            if *section == "filter" {
                filter(&mut sink, node, &ls, mapping).map(RuleKind::Filter)
            } else {
                detection::compile(&mut sink, "detection", node, &["timeframe"], &ls, mapping)
                    .map(RuleKind::Detection)
            }
        }
    };
    if status == Some(RuleStatus::Unsupported) {
        sink.unsupported("the rule's own status is `unsupported`");
    }
    let is_correlation = matches!(kind, Some(RuleKind::Correlation(_)));
    if is_correlation {
        sink.unsupported(CORRELATION_UNSUPPORTED);
    }
    let status_now = sink.status();
    let keep = status_now.is_compiled()
        || (is_correlation && matches!(status_now, LoadStatus::Unsupported { .. }));
    if keep && let (Some(title), Some(kind)) = (title, kind) {
        out.rule = Some(Rule {
            source: out.source.clone(),
            title,
            id: out.id.clone(),
            name: out.name.clone(),
            status,
            level,
            description,
            author,
            tags,
            references,
            falsepositives,
            logsource: logsource.unwrap_or_default(),
            kind,
        });
    }
    out.status = status_now;
    out
}

fn key_node<'n>(map: &'n Node, key: &str) -> Option<&'n Node> {
    map.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(k, _)| k)
}

/// An optional string under `key`.
fn string(sink: &mut Sink<'_>, map: &Node, key: &str) -> Option<String> {
    let node = map.get(key)?;
    match &node.kind {
        NodeKind::Null => None,
        NodeKind::Scalar { text, .. } => Some(text.clone()),
        _ => {
            sink.error(
                node.line,
                node.col,
                format!("expected a string for `{key}`, found {}", node.describe()),
            );
            None
        }
    }
}

/// An optional list of strings under `key` (a single string is a list of one).
fn strings(sink: &mut Sink<'_>, map: &Node, key: &str) -> Vec<String> {
    let Some(node) = map.get(key) else {
        return Vec::new();
    };
    list_of_strings(sink, node, key)
}

fn list_of_strings(sink: &mut Sink<'_>, node: &Node, key: &str) -> Vec<String> {
    match &node.kind {
        NodeKind::Null => Vec::new(),
        NodeKind::Scalar { text, .. } => vec![text.clone()],
        NodeKind::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item.as_str() {
                    Some(s) => out.push(s.to_owned()),
                    None => sink.error(
                        item.line,
                        item.col,
                        format!("expected a string in `{key}`, found {}", item.describe()),
                    ),
                }
            }
            out
        }
        NodeKind::Map(_) => {
            sink.error(
                node.line,
                node.col,
                format!("expected a list of strings for `{key}`, found a map"),
            );
            Vec::new()
        }
    }
}

fn logsource(sink: &mut Sink<'_>, doc: &Node) -> Option<LogSource> {
    let node = doc.get("logsource")?;
    if node.is_null() {
        return Some(LogSource::default());
    }
    if node.as_map().is_none() {
        sink.error(
            node.line,
            node.col,
            format!(
                "expected `logsource` to be a map of product, service and category, found {}",
                node.describe()
            ),
        );
        return None;
    }
    Some(LogSource {
        product: string(sink, node, "product"),
        service: string(sink, node, "service"),
        category: string(sink, node, "category"),
        definition: string(sink, node, "definition"),
    })
}

fn filter(sink: &mut Sink<'_>, node: &Node, ls: &LogSource, mapping: &Mapping) -> Option<Filter> {
    let rules = match node.get("rules") {
        Some(r) => list_of_strings(sink, r, "rules"),
        None => Vec::new(),
    };
    if node.as_map().is_some() && rules.is_empty() {
        sink.error(
            node.line,
            node.col,
            "missing `rules` in `filter`: the ids or names of the rules it applies to",
        );
    }
    let detection = detection::compile(sink, "filter", node, &["rules"], ls, mapping)?;
    Some(Filter { rules, detection })
}

/// Reads a correlation section leniently: it is kept, not evaluated.
fn correlation(sink: &mut Sink<'_>, node: &Node) -> Option<Correlation> {
    if node.as_map().is_none() {
        sink.error(
            node.line,
            node.col,
            format!(
                "expected `correlation` to be a map with type, rules, group-by and timespan, found {}",
                node.describe()
            ),
        );
        return None;
    }
    let mut c = Correlation {
        kind: string(sink, node, "type").unwrap_or_default(),
        rules: strings(sink, node, "rules"),
        group_by: strings(sink, node, "group-by"),
        timespan: string(sink, node, "timespan"),
        ..Correlation::default()
    };
    c.timespan_secs = c.timespan.as_deref().and_then(timespan_secs);
    if let Some(cond) = node.get("condition").and_then(Node::as_map) {
        for (k, v) in cond {
            match (k.as_str(), v.as_str()) {
                (Some("field"), Some(f)) => c.field = Some(f.to_owned()),
                (Some(op), Some(n)) => {
                    if let Some(n) = Number::parse(n) {
                        c.condition.push((op.to_owned(), n));
                    }
                }
                _ => {}
            }
        }
    }
    if let Some(aliases) = node.get("aliases").and_then(Node::as_map) {
        for (alias, per_rule) in aliases {
            let pairs = per_rule
                .as_map()
                .unwrap_or(&[])
                .iter()
                .filter_map(|(r, f)| Some((r.as_str()?.to_owned(), f.as_str()?.to_owned())))
                .collect();
            if let Some(a) = alias.as_str() {
                c.aliases.push((a.to_owned(), pairs));
            }
        }
    }
    c.generate = node
        .get("generate")
        .and_then(Node::as_str)
        .is_some_and(|g| g.eq_ignore_ascii_case("true"));
    Some(c)
}

/// `90m` → 5400. Units: s, m, h, d.
fn timespan_secs(text: &str) -> Option<u64> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let n: u64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timespans() {
        assert_eq!(timespan_secs("90m"), Some(5400));
        assert_eq!(timespan_secs("1d"), Some(86_400));
        assert_eq!(timespan_secs("5x"), None);
        assert_eq!(timespan_secs(""), None);
        assert_eq!(timespan_secs("đ"), None);
    }
}
