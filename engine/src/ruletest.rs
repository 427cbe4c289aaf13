//! `canh rules test`: runs `*.test.yml` cases (rule files, raw syslog lines and/or events as
//! maps, and the expected number of matching events and of correlation alerts) and reports
//! PASS/FAIL per case.
//!
//! Syslog lines are parsed exactly as `canh up` parses them. Every event is matched twice,
//! by the fast matcher and by the reference evaluator; a disagreement fails the case. The
//! matches then go, in input order, through the correlation engine
//! ([`canh_rules::correlate`], default configuration), timed by the event's `@timestamp`
//! (RFC 3339, events given as maps), else its syslog timestamp, else one second after the
//! previous input; `expect.alerts` counts the alerts correlation rules open.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use canh_collectors::syslog::{self, ParseContext};
use canh_core::Origin;
use canh_core::time::DefaultZone;
use canh_rules::correlate::{Correlator, CorrelatorConfig, Match, Raise};
use canh_rules::fast::FastMatcher;
use canh_rules::yaml::{self, Node, NodeKind};
use canh_rules::{Mapping, RuleKind, RuleSet};

/// The field of a test event (given as a map) that holds its time.
pub const F_TIMESTAMP: &str = "@timestamp";

/// Most input events one case may hold.
pub const MAX_CASE_EVENTS: usize = 100_000;

/// A parsed test case.
#[derive(Debug, Clone)]
pub struct Case {
    pub file: PathBuf,
    pub rules: Vec<PathBuf>,
    pub syslog: Vec<String>,
    pub events: Vec<BTreeMap<String, String>>,
    pub expect_matches: Option<u64>,
    /// Alerts opened by correlation rules (detection rules' own alerts are not counted).
    pub expect_alerts: Option<u64>,
}

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub file: PathBuf,
    pub passed: bool,
    /// One line: what matched, or what differed.
    pub detail: String,
}

fn err(file: &Path, node: Option<&Node>, msg: impl std::fmt::Display) -> String {
    match node {
        Some(n) => format!("{}:{}:{}: {msg}", file.display(), n.line, n.col),
        None => format!("{}: {msg}", file.display()),
    }
}

fn scalar_text(n: &Node) -> Option<String> {
    match &n.kind {
        NodeKind::Scalar { text, .. } => Some(text.clone()),
        NodeKind::Null => Some(String::new()),
        _ => None,
    }
}

/// Parses a test file; errors name file:line:col.
pub fn parse_case(file: &Path, text: &str) -> Result<Case, String> {
    let (docs, e) = yaml::parse(text);
    if let Some(e) = e {
        return Err(format!("{}: {e}", file.display()));
    }
    let doc = docs
        .first()
        .ok_or_else(|| err(file, None, "empty test file"))?;
    let map = doc.as_map().ok_or_else(|| {
        err(
            file,
            Some(doc),
            "expected a map with rule, syslog/events and expect",
        )
    })?;
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut case = Case {
        file: file.to_owned(),
        rules: Vec::new(),
        syslog: Vec::new(),
        events: Vec::new(),
        expect_matches: None,
        expect_alerts: None,
    };
    for (k, v) in map {
        match k.as_str().unwrap_or("") {
            "rule" | "rules" => match &v.kind {
                NodeKind::Seq(items) => {
                    for i in items {
                        let p = i
                            .as_str()
                            .ok_or_else(|| err(file, Some(i), "expected a rule path"))?;
                        case.rules.push(dir.join(p));
                    }
                }
                _ => case.rules.push(
                    dir.join(
                        v.as_str()
                            .ok_or_else(|| err(file, Some(v), "expected a rule path"))?,
                    ),
                ),
            },
            "syslog" => {
                let t = v.as_str().ok_or_else(|| {
                    err(
                        file,
                        Some(v),
                        "expected a block of syslog lines (syslog: |)",
                    )
                })?;
                case.syslog = t
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            "events" => {
                let NodeKind::Seq(items) = &v.kind else {
                    return Err(err(file, Some(v), "expected a list of events (maps)"));
                };
                for i in items {
                    let m = i.as_map().ok_or_else(|| {
                        err(file, Some(i), "expected an event as a map field -> value")
                    })?;
                    let mut ev = BTreeMap::new();
                    for (fk, fv) in m {
                        let name = fk
                            .as_str()
                            .ok_or_else(|| err(file, Some(fk), "expected a field name"))?;
                        let value = scalar_text(fv)
                            .ok_or_else(|| err(file, Some(fv), "expected a scalar value"))?;
                        if name == F_TIMESTAMP && event_time(&value).is_none() {
                            return Err(err(
                                file,
                                Some(fv),
                                format!(
                                    "expected `{F_TIMESTAMP}` in RFC 3339, e.g. 2026-11-25T02:10:00+07:00, found {value:?}"
                                ),
                            ));
                        }
                        ev.insert(name.to_owned(), value);
                    }
                    case.events.push(ev);
                }
            }
            "expect" => {
                let m = v.as_map().ok_or_else(|| {
                    err(file, Some(v), "expected a map with matches and/or alerts")
                })?;
                for (ek, ev) in m {
                    let n = ev
                        .as_str()
                        .and_then(|s| s.parse::<u64>().ok())
                        .ok_or_else(|| err(file, Some(ev), "expected a whole number"))?;
                    match ek.as_str().unwrap_or("") {
                        "matches" => case.expect_matches = Some(n),
                        "alerts" => case.expect_alerts = Some(n),
                        other => {
                            return Err(err(
                                file,
                                Some(ek),
                                format!("unknown key expect.{other} (expected matches or alerts)"),
                            ));
                        }
                    }
                }
            }
            other => {
                return Err(err(
                    file,
                    Some(k),
                    format!("unknown key {other:?} (expected rule, syslog, events, expect)"),
                ));
            }
        }
    }
    if case.rules.is_empty() {
        return Err(err(
            file,
            Some(doc),
            "missing `rule:` (the rule file to test, relative to this file)",
        ));
    }
    if case.expect_matches.is_none() && case.expect_alerts.is_none() {
        return Err(err(
            file,
            Some(doc),
            "missing `expect:` with matches and/or alerts",
        ));
    }
    if case.syslog.len() + case.events.len() > MAX_CASE_EVENTS {
        return Err(err(
            file,
            Some(doc),
            format!("more than {MAX_CASE_EVENTS} input events"),
        ));
    }
    Ok(case)
}

/// Runs one case.
pub fn run_case(case: &Case) -> Outcome {
    let fail = |detail: String| Outcome {
        file: case.file.clone(),
        passed: false,
        detail,
    };
    let mut files = Vec::new();
    for r in &case.rules {
        match std::fs::read_to_string(r) {
            Ok(t) => files.push((r.display().to_string(), t)),
            Err(e) => return fail(format!("cannot read rule {}: {e}", r.display())),
        }
    }
    let (set, reports) = RuleSet::load(&files, Mapping::builtin());
    if let Some(r) = reports.iter().find(|r| !r.status.is_compiled()) {
        return fail(format!("rule does not compile: {r}"));
    }
    let fast = match FastMatcher::build(&set) {
        Ok(f) => f,
        Err(e) => return fail(format!("cannot compile the rule set: {e}")),
    };
    let ctx = ParseContext {
        received: chrono::Utc::now(),
        zone: DefaultZone::Local,
    };
    let mut matched: Vec<String> = Vec::new();
    let mut unmatched: Vec<String> = Vec::new();
    let mut disagree: Vec<String> = Vec::new();
    let mut correlator = Correlator::new(&set, CorrelatorConfig::default());
    let mut raises: Vec<Raise> = Vec::new();
    let mut last_ms: Option<i64> = None;
    for (k, line) in case.syslog.iter().enumerate() {
        let ev = syslog::parse(line.as_bytes(), &ctx, Origin::new("test", None));
        let f = fast.matches(&set, &ev);
        if f != set.matches_naive(&ev) {
            disagree.push(format!("syslog {}", k + 1));
        }
        let time_ms = ev.timestamp.timestamp_millis();
        last_ms = Some(time_ms);
        for &rule in &f {
            let m = Match {
                rule,
                time_ms,
                event: &ev,
            };
            correlator.observe(&m, &mut raises);
        }
        if f.is_empty() {
            unmatched.push(format!("syslog {}", k + 1))
        } else {
            matched.push(format!("syslog {}", k + 1))
        }
    }
    for (k, ev) in case.events.iter().enumerate() {
        let f = fast.matches(&set, ev);
        if f != set.matches_naive(ev) {
            disagree.push(format!("event {}", k + 1));
        }
        let time_ms = ev
            .get(F_TIMESTAMP)
            .and_then(|t| event_time(t))
            .unwrap_or_else(|| last_ms.map_or(0, |t| t.saturating_add(1000)));
        last_ms = Some(time_ms);
        for &rule in &f {
            let m = Match {
                rule,
                time_ms,
                event: ev,
            };
            correlator.observe(&m, &mut raises);
        }
        if f.is_empty() {
            unmatched.push(format!("event {}", k + 1))
        } else {
            matched.push(format!("event {}", k + 1))
        }
    }
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(", ")
        }
    };
    if !disagree.is_empty() {
        return fail(format!(
            "fast matcher and reference evaluator disagree on {}",
            list(&disagree)
        ));
    }
    let total = case.syslog.len() + case.events.len();
    let got = matched.len() as u64;
    if let Some(want) = case.expect_matches
        && want != got
    {
        return fail(format!(
            "expected {want} matching events, got {got} of {total}: matched {}; not matched {}",
            list(&matched),
            list(&unmatched)
        ));
    }
    let alerts: Vec<String> = raises
        .iter()
        .filter(|r| r.new && matches!(set.rule(r.rule).kind, RuleKind::Correlation(_)))
        .map(|r| describe_alert(&set, r))
        .collect();
    if let Some(want) = case.expect_alerts
        && want != alerts.len() as u64
    {
        return fail(format!(
            "expected {want} alerts, got {}: {}",
            alerts.len(),
            list(&alerts)
        ));
    }
    let mut detail = format!("{got} of {total} events matched ({})", list(&matched));
    if !alerts.is_empty() {
        detail.push_str(&format!("; {} alerts: {}", alerts.len(), alerts.join(", ")));
    }
    Outcome {
        file: case.file.clone(),
        passed: true,
        detail,
    }
}

/// An RFC 3339 time as ms since the epoch.
fn event_time(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// `title [field=value, …]`: which rule opened an alert, for which group.
fn describe_alert(set: &RuleSet, r: &Raise) -> String {
    let group: Vec<String> = r.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{} [{}]", set.rule(r.rule).title, group.join(", "))
}

/// `*.test.yml` / `*.test.yaml` files under `paths`, sorted.
pub fn find_cases(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        if p.is_dir() {
            for e in std::fs::read_dir(p)? {
                walk(&e?.path(), out)?;
            }
        } else if p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".test.yml") || n.ends_with(".test.yaml"))
        {
            out.push(p.to_owned());
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if !p.exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{}: no such file or folder", p.display()),
            ));
        }
        walk(p, &mut out)?;
    }
    out.sort();
    Ok(out)
}
