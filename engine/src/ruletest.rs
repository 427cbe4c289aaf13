//! `canh rules test`: runs `*.test.yml` cases (a rule file, raw syslog lines and/or events as
//! maps, and the expected number of matching events) and reports PASS/FAIL per case.
//!
//! Syslog lines are parsed exactly as `canh up` parses them. Every event is matched twice,
//! by the fast matcher and by the reference evaluator; a disagreement fails the case.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use canh_collectors::syslog::{self, ParseContext};
use canh_core::Origin;
use canh_core::time::DefaultZone;
use canh_rules::fast::FastMatcher;
use canh_rules::yaml::{self, Node, NodeKind};
use canh_rules::{LoadStatus, Mapping, RuleSet};

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
    for r in &reports {
        match &r.status {
            LoadStatus::Compiled => {}
            LoadStatus::Unsupported { .. } if r.kind == Some("correlation") => {}
            _ => return fail(format!("rule does not compile: {r}")),
        }
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
    for (k, line) in case.syslog.iter().enumerate() {
        let ev = syslog::parse(line.as_bytes(), &ctx, Origin::new("test", None));
        let f = fast.matches(&set, &ev);
        if f != set.matches_naive(&ev) {
            disagree.push(format!("syslog {}", k + 1));
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
    if let Some(want) = case.expect_alerts
        && want != 0
    {
        return fail(format!(
            "expected {want} alerts: correlation alerts need the alert engine, which is not built yet"
        ));
    }
    Outcome {
        file: case.file.clone(),
        passed: true,
        detail: format!("{got} of {total} events matched ({})", list(&matched)),
    }
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
