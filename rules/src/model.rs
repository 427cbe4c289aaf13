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
    /// Aggregates the matches of other rules over time ([`crate::correlate`]).
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

/// Which aggregate a correlation rule computes (correlation specification 2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CorrelationType {
    /// Matches in the window.
    #[default]
    EventCount,
    /// Distinct values of `condition.field` in the window.
    ValueCount,
    /// Distinct referenced rules seen in the window.
    Temporal,
    /// Referenced rules seen in the listed order within the window.
    TemporalOrdered,
    /// Sum of the numeric `condition.field` over the window.
    ValueSum,
    /// Average of the numeric `condition.field` over the window.
    ValueAvg,
    /// Share (in percent) of the window's events whose `condition.field` equals the current
    /// event's: a rarity test (see [`crate::correlate`]).
    ValuePercentile,
}

impl CorrelationType {
    pub const NAMES: [&'static str; 7] = [
        "event_count",
        "value_count",
        "temporal",
        "temporal_ordered",
        "value_sum",
        "value_avg",
        "value_percentile",
    ];

    pub fn parse(s: &str) -> Option<CorrelationType> {
        Some(match s {
            "event_count" => CorrelationType::EventCount,
            "value_count" => CorrelationType::ValueCount,
            "temporal" => CorrelationType::Temporal,
            "temporal_ordered" => CorrelationType::TemporalOrdered,
            "value_sum" => CorrelationType::ValueSum,
            "value_avg" => CorrelationType::ValueAvg,
            "value_percentile" => CorrelationType::ValuePercentile,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// Whether `condition` is required (temporal types default to "all rules seen").
    pub fn needs_condition(self) -> bool {
        !matches!(
            self,
            CorrelationType::Temporal | CorrelationType::TemporalOrdered
        )
    }

    /// Whether `condition.field` is required (and allowed).
    pub fn needs_field(self) -> bool {
        matches!(
            self,
            CorrelationType::ValueCount
                | CorrelationType::ValueSum
                | CorrelationType::ValueAvg
                | CorrelationType::ValuePercentile
        )
    }
}

/// A comparison in a correlation's `condition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CondOp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

impl CondOp {
    pub const NAMES: [&'static str; 6] = ["gt", "gte", "lt", "lte", "eq", "neq"];

    pub fn parse(s: &str) -> Option<CondOp> {
        Some(match s {
            "gt" => CondOp::Gt,
            "gte" => CondOp::Gte,
            "lt" => CondOp::Lt,
            "lte" => CondOp::Lte,
            "eq" => CondOp::Eq,
            "neq" => CondOp::Neq,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// Whether `value <op> bound` holds.
    pub fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            CondOp::Gt => value > bound,
            CondOp::Gte => value >= bound,
            CondOp::Lt => value < bound,
            CondOp::Lte => value <= bound,
            CondOp::Eq => value == bound,
            CondOp::Neq => value != bound,
        }
    }
}

/// A correlation rule (correlation specification 2.1), validated; evaluated by
/// [`crate::correlate::Correlator`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Correlation {
    pub kind: CorrelationType,
    /// Ids or names of the rules (detections or correlations) it aggregates, as written.
    pub rules: Vec<String>,
    /// Line and column of each entry of `rules`, for diagnostics.
    pub rules_at: Vec<(u32, u32)>,
    /// Fields (or alias names) whose values make the group key; empty: one global group.
    pub group_by: Vec<String>,
    /// `timespan` as written (`5m`).
    pub timespan: String,
    /// `timespan` in milliseconds, at least one second and at most [`MAX_TIMESPAN_SECS`].
    pub timespan_ms: i64,
    /// `gt: 100` … in the order written, all of which must hold (a range). For the temporal
    /// types without a condition: `gte` the number of `rules` (all of them seen).
    pub condition: Vec<(CondOp, Number)>,
    /// `condition.field` (value_count may name several: their values together are counted).
    pub fields: Vec<String>,
    /// `aliases`, in the order written.
    pub aliases: Vec<Alias>,
    /// `generate: true`: the rules it references still raise alerts on their own.
    pub generate: bool,
}

impl Correlation {
    /// Whether the aggregate `value` satisfies every comparison of the condition.
    pub fn holds(&self, value: f64) -> bool {
        self.condition
            .iter()
            .all(|(op, bound)| op.holds(value, bound.as_f64()))
    }

    /// The field that gives group-by entry `name` in the events of the rule with id or name
    /// in `rule_keys`: the alias's field for that rule, else `name` itself.
    pub fn group_field<'a>(&'a self, name: &'a str, rule_keys: &[&str]) -> &'a str {
        self.aliases
            .iter()
            .find(|a| a.name == name)
            .and_then(|a| {
                a.fields
                    .iter()
                    .find(|(r, _)| rule_keys.contains(&r.as_str()))
            })
            .map_or(name, |(_, field)| field.as_str())
    }

    /// Every semantic part of the definition as one line (positions left out): two
    /// correlations with the same text count the same way.
    pub fn definition(&self) -> String {
        format!(
            "{}|{:?}|{:?}|{}|{:?}|{:?}|{:?}|{}",
            self.kind.as_str(),
            self.rules,
            self.group_by,
            self.timespan_ms,
            self.condition,
            self.fields,
            self.aliases
                .iter()
                .map(|a| (&a.name, &a.fields))
                .collect::<Vec<_>>(),
            self.generate
        )
    }
}

/// One entry of a correlation's `aliases`: a name `group-by` can use, and the field that
/// gives it in the events of each rule.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Alias {
    pub name: String,
    /// (rule id or name, field name) in the order written.
    pub fields: Vec<(String, String)>,
    /// Line and column of each rule name in `fields`, for diagnostics.
    pub at: Vec<(u32, u32)>,
}

/// Longest correlation `timespan`: a year. Longer windows are a batch query over the index,
/// not state to keep per group in memory.
pub const MAX_TIMESPAN_SECS: u64 = 366 * 86_400;

/// One document of a rule file after loading.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedRule {
    pub source: SourceRef,
    pub title: Option<String>,
    pub id: Option<String>,
    pub name: Option<String>,
    /// The rule, when it is compiled.
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
            .and_then(|n| correlation(&mut sink, n, doc))
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
    let status_now = sink.status();
    if status_now.is_compiled()
        && let (Some(title), Some(kind)) = (title, kind)
    {
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

/// Keys a `correlation` section may have.
const CORRELATION_KEYS: [&str; 7] = [
    "type",
    "rules",
    "aliases",
    "group-by",
    "timespan",
    "condition",
    "generate",
];

/// A node as a message shows it: the text of a scalar in backquotes, else its kind.
fn shown(node: &Node) -> String {
    match node.as_str() {
        Some(s) => format!("`{s}`"),
        None => node.describe().to_owned(),
    }
}

/// The items of a list (a lone scalar is a list of one), or an error for a map.
fn items<'n>(sink: &mut Sink<'_>, node: &'n Node, key: &str) -> Vec<&'n Node> {
    match &node.kind {
        NodeKind::Null => Vec::new(),
        NodeKind::Scalar { .. } => vec![node],
        NodeKind::Seq(items) => items.iter().collect(),
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

/// Reads and validates a correlation section; `doc` is the whole rule (the specification puts
/// `generate` beside `level`, pySigma inside `correlation`: both are read). Every error is
/// reported; `None` when there is one.
fn correlation(sink: &mut Sink<'_>, node: &Node, doc: &Node) -> Option<Correlation> {
    let Some(entries) = node.as_map() else {
        sink.error(
            node.line,
            node.col,
            format!(
                "expected `correlation` to be a map with type, rules, group-by, timespan and condition, found {}",
                node.describe()
            ),
        );
        return None;
    };
    let errors_before = sink.errors.len();
    for (k, _) in entries {
        if let Some(name) = k.as_str()
            && !CORRELATION_KEYS.contains(&name)
        {
            sink.error(
                k.line,
                k.col,
                format!(
                    "unknown key `{name}` in `correlation` (expected {})",
                    CORRELATION_KEYS.join(", ")
                ),
            );
        }
    }

    let kind = match node.get("type") {
        None => {
            sink.error(
                node.line,
                node.col,
                format!(
                    "missing `type` in `correlation`: one of {}",
                    CorrelationType::NAMES.join(", ")
                ),
            );
            None
        }
        Some(t) => {
            let parsed = t.as_str().and_then(CorrelationType::parse);
            if parsed.is_none() {
                sink.error(
                    t.line,
                    t.col,
                    format!(
                        "expected `type` to be one of {}, found {}",
                        CorrelationType::NAMES.join(", "),
                        shown(t)
                    ),
                );
            }
            parsed
        }
    };

    let mut rules: Vec<String> = Vec::new();
    let mut rules_at = Vec::new();
    match node.get("rules") {
        None => sink.error(
            node.line,
            node.col,
            "missing `rules` in `correlation`: the ids or names of the rules it aggregates",
        ),
        Some(r) => {
            let list = items(sink, r, "rules");
            for item in &list {
                match item.as_str() {
                    Some(s) if !s.is_empty() => {
                        if rules.iter().any(|x| x == s) {
                            sink.error(
                                item.line,
                                item.col,
                                format!("rule `{s}` is listed twice in `rules`"),
                            );
                        } else {
                            rules.push(s.to_owned());
                            rules_at.push((item.line, item.col));
                        }
                    }
                    _ => sink.error(
                        item.line,
                        item.col,
                        format!(
                            "expected a rule id or name in `rules`, found {}",
                            item.describe()
                        ),
                    ),
                }
            }
            if list.is_empty() && !matches!(r.kind, NodeKind::Map(_)) {
                sink.error(
                    r.line,
                    r.col,
                    "`rules` is empty: name at least one rule by id or name",
                );
            }
        }
    }

    let mut group_by: Vec<String> = Vec::new();
    if let Some(g) = node.get("group-by") {
        for item in items(sink, g, "group-by") {
            match item.as_str() {
                Some(s) if !s.is_empty() => {
                    if group_by.iter().any(|x| x == s) {
                        sink.error(
                            item.line,
                            item.col,
                            format!("field `{s}` is listed twice in `group-by`"),
                        );
                    } else {
                        group_by.push(s.to_owned());
                    }
                }
                _ => sink.error(
                    item.line,
                    item.col,
                    format!(
                        "expected a field name in `group-by`, found {}",
                        item.describe()
                    ),
                ),
            }
        }
    }

    let mut timespan = String::new();
    let mut timespan_ms = 0i64;
    match node.get("timespan") {
        None => sink.error(
            node.line,
            node.col,
            "missing `timespan` in `correlation`, e.g. `timespan: 5m`",
        ),
        Some(t) => match t.as_str().map(|text| (text, timespan_secs(text))) {
            Some((_, Some(0))) => sink.error(t.line, t.col, "`timespan` must be at least 1s"),
            Some((text, Some(secs))) if secs > MAX_TIMESPAN_SECS => sink.error(
                t.line,
                t.col,
                format!(
                    "`timespan` {text} is longer than {} days, the longest window canh keeps in memory",
                    MAX_TIMESPAN_SECS / 86_400
                ),
            ),
            Some((text, Some(secs))) => {
                timespan = text.to_owned();
                // at most MAX_TIMESPAN_SECS, so the product fits
                timespan_ms = i64::try_from(secs).unwrap_or(i64::MAX / 1000) * 1000;
            }
            _ => sink.error(
                t.line,
                t.col,
                format!(
                    "expected `timespan` as a whole number and s, m, h or d (e.g. 90m), found {}",
                    shown(t)
                ),
            ),
        },
    }

    let mut condition: Vec<(CondOp, Number)> = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field_at: Option<&Node> = None;
    let cond_node = node.get("condition").filter(|c| !c.is_null());
    if let Some(c) = cond_node {
        match c.as_map() {
            None => sink.error(
                c.line,
                c.col,
                format!(
                    "expected `condition` to be a map of gt, gte, lt, lte, eq, neq (and field), found {}",
                    c.describe()
                ),
            ),
            Some(m) => {
                for (k, v) in m {
                    match k.as_str() {
                        Some("field") => {
                            field_at = Some(k);
                            for item in items(sink, v, "condition.field") {
                                match item.as_str() {
                                    Some(s) if !s.is_empty() => fields.push(s.to_owned()),
                                    _ => sink.error(
                                        item.line,
                                        item.col,
                                        format!(
                                            "expected a field name in `condition.field`, found {}",
                                            item.describe()
                                        ),
                                    ),
                                }
                            }
                        }
                        Some(op) => match CondOp::parse(op) {
                            Some(cop) => match v.as_str().and_then(Number::parse) {
                                Some(n) => condition.push((cop, n)),
                                None => sink.error(
                                    v.line,
                                    v.col,
                                    format!("`{op}` needs a number, found {}", shown(v)),
                                ),
                            },
                            None => sink.error(
                                k.line,
                                k.col,
                                format!(
                                    "unknown comparison `{op}` in `condition` (expected {} or field)",
                                    CondOp::NAMES.join(", ")
                                ),
                            ),
                        },
                        None => sink.error(
                            k.line,
                            k.col,
                            format!("expected a key name, found {}", k.describe()),
                        ),
                    }
                }
                if condition.is_empty()
                    && kind.is_some_and(CorrelationType::needs_condition)
                    && sink.errors.len() == errors_before
                {
                    sink.error(
                        c.line,
                        c.col,
                        format!(
                            "`condition` needs at least one of {}",
                            CondOp::NAMES.join(", ")
                        ),
                    );
                }
            }
        }
    }
    if let Some(kind) = kind {
        let at = cond_node.unwrap_or(node);
        if kind.needs_condition() && cond_node.is_none() {
            sink.error(
                at.line,
                at.col,
                format!(
                    "missing `condition`: {} needs one, e.g. `condition: {{gte: 10}}`",
                    kind.as_str()
                ),
            );
        }
        if kind.needs_field() && fields.is_empty() && field_at.is_none() {
            sink.error(
                at.line,
                at.col,
                format!(
                    "missing `condition.field`: {} needs the field whose values it aggregates",
                    kind.as_str()
                ),
            );
        }
        if let Some(f) = field_at {
            if !kind.needs_field() {
                sink.error(
                    f.line,
                    f.col,
                    format!(
                        "`condition.field` applies only to value_count, value_sum, value_avg and value_percentile, not {}",
                        kind.as_str()
                    ),
                );
            } else if fields.len() > 1 && kind != CorrelationType::ValueCount {
                sink.error(
                    f.line,
                    f.col,
                    format!(
                        "{} aggregates one field, found {}",
                        kind.as_str(),
                        fields.len()
                    ),
                );
            }
        }
        if matches!(
            kind,
            CorrelationType::Temporal | CorrelationType::TemporalOrdered
        ) && condition.is_empty()
        {
            condition.push((CondOp::Gte, Number::Int(rules.len() as i64)));
        } else if let Some((lo, hi)) = value_range(kind, rules.len())
            && !condition.is_empty()
            && !satisfiable(&condition, lo, hi, kind != CorrelationType::ValuePercentile)
        {
            sink.error(
                at.line,
                at.col,
                format!(
                    "`condition` can never hold: {} values lie between {lo} and {hi}",
                    kind.as_str()
                ),
            );
        }
    }

    let mut aliases: Vec<Alias> = Vec::new();
    if let Some(a) = node.get("aliases").filter(|a| !a.is_null()) {
        match a.as_map() {
            None => sink.error(
                a.line,
                a.col,
                format!(
                    "expected `aliases` to be a map of alias → (rule name → field), found {}",
                    a.describe()
                ),
            ),
            Some(m) => {
                for (alias, per_rule) in m {
                    let Some(name) = alias.as_str() else {
                        sink.error(
                            alias.line,
                            alias.col,
                            format!("expected an alias name, found {}", alias.describe()),
                        );
                        continue;
                    };
                    let Some(pairs) = per_rule.as_map() else {
                        sink.error(
                            per_rule.line,
                            per_rule.col,
                            format!(
                                "expected alias `{name}` to map rule names to field names, found {}",
                                per_rule.describe()
                            ),
                        );
                        continue;
                    };
                    let mut out = Alias {
                        name: name.to_owned(),
                        ..Alias::default()
                    };
                    for (r, f) in pairs {
                        match (r.as_str(), f.as_str()) {
                            (Some(rule), Some(field)) if !field.is_empty() => {
                                out.fields.push((rule.to_owned(), field.to_owned()));
                                out.at.push((r.line, r.col));
                            }
                            (None, _) => sink.error(
                                r.line,
                                r.col,
                                format!("expected a rule name in alias `{name}`, found {}", r.describe()),
                            ),
                            (Some(rule), _) => sink.error(
                                f.line,
                                f.col,
                                format!(
                                    "expected a field name for rule `{rule}` in alias `{name}`, found {}",
                                    f.describe()
                                ),
                            ),
                        }
                    }
                    aliases.push(out);
                }
            }
        }
    }

    let mut generate = false;
    let mut seen = false;
    for g in [doc.get("generate"), node.get("generate")]
        .into_iter()
        .flatten()
    {
        match g.as_str() {
            Some(t) if t.eq_ignore_ascii_case("true") => generate = true,
            Some(t) if t.eq_ignore_ascii_case("false") => generate = false,
            _ => sink.error(
                g.line,
                g.col,
                format!(
                    "expected `generate` to be true or false, found {}",
                    shown(g)
                ),
            ),
        }
        if seen {
            sink.error(
                g.line,
                g.col,
                "`generate` is given twice: beside `level` and in `correlation`",
            );
        }
        seen = true;
    }

    if sink.errors.len() > errors_before {
        return None;
    }
    Some(Correlation {
        kind: kind?,
        rules,
        rules_at,
        group_by,
        timespan,
        timespan_ms,
        condition,
        fields,
        aliases,
        generate,
    })
}

/// The values a correlation's aggregate can take when its condition is tested (after a
/// match was added to the window), for the types where that range is known.
fn value_range(kind: CorrelationType, rules: usize) -> Option<(f64, f64)> {
    let events = crate::correlate::MAX_EVENTS_PER_GROUP as f64;
    match kind {
        CorrelationType::EventCount => Some((1.0, events)),
        CorrelationType::ValueCount => Some((0.0, events)),
        CorrelationType::Temporal | CorrelationType::TemporalOrdered => Some((1.0, rules as f64)),
        CorrelationType::ValuePercentile => Some((0.0, 100.0)),
        CorrelationType::ValueSum | CorrelationType::ValueAvg => None,
    }
}

/// Whether some value in `lo..=hi` (whole numbers only when `integer`) satisfies every
/// comparison: each comparison changes its answer only at its bound, so the bounds, points
/// beside them and the ends are enough to try.
fn satisfiable(condition: &[(CondOp, Number)], lo: f64, hi: f64, integer: bool) -> bool {
    let mut points = vec![lo, hi];
    for (_, b) in condition {
        let b = b.as_f64();
        points.extend([b, b.floor(), b.ceil(), b - 0.5, b + 0.5, b - 1.0, b + 1.0]);
    }
    points
        .into_iter()
        .filter(|p| (lo..=hi).contains(p) && (!integer || p.fract() == 0.0))
        .any(|p| condition.iter().all(|(op, b)| op.holds(p, b.as_f64())))
}

/// `90m` → 5400. Units: s, m, h, d.
fn timespan_secs(text: &str) -> Option<u64> {
    let unit = text.chars().last()?;
    let digits = &text[..text.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
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
