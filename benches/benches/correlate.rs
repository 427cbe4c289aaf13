//! Criterion benches of the correlation engine (`canh_rules::correlate`): matches/s of one
//! detection rule ("failed SSH login") feeding an event_count correlation ("≥ 10 from one
//! source.ip in 5 minutes"), one match every millisecond of event time, cycling over a set
//! of source addresses on one host.
//!
//! - `correlate/dedup_and_event_count_1k`: `generate: true`, so every match goes through the
//!   detection rule's dedup and the correlation; 1,000 addresses (2,000 groups). Each group
//!   sees a match every second: windows fill, alerts open and matches add to them.
//! - `correlate/event_count_100k_groups`: the detection only feeds the correlation;
//!   100,000 addresses, all live (each group sees a match every 100 s of its 5-minute window).
//! - `correlate/dedup_and_event_count_100k`: both paths over 100,000 addresses (200,000 groups).
//!
//! The state is filled with one pass over the addresses before measuring; its groups, events
//! and approximate memory are printed after. Events are test-format maps (host.name,
//! source.ip, event.outcome); matching is not measured, only the correlator.

use std::collections::BTreeMap;
use std::hint::black_box;

use canh_rules::correlate::{Correlator, CorrelatorConfig, Match, Raise};
use canh_rules::{Mapping, RuleIdx, RuleSet};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Matches per measured iteration.
const BATCH: usize = 10_000;
/// Addresses of the small-state bench.
const FEW_ADDRESSES: usize = 1_000;
/// Addresses of the big-state benches: one live correlation group each.
const MANY_ADDRESSES: usize = 100_000;
/// Event time between two matches, ms.
const STEP_MS: i64 = 1;

/// `n` under `cargo bench`; a hundredth when `cargo test --all-targets` runs this binary once
/// in test mode (unoptimised), which only checks that every bench works.
fn scaled(n: usize) -> usize {
    if std::env::args().any(|a| a == "--bench") {
        n
    } else {
        (n / 100).max(10)
    }
}

fn rules(generate: bool) -> String {
    format!(
        "title: Failed SSH login\nname: bench_failed\nlogsource: {{product: linux, service: sshd}}\n\
         detection:\n    sel: {{event.outcome: failure}}\n    condition: sel\n---\n\
         title: SSH brute force\nid: bench-brute-force\ngenerate: {generate}\ncorrelation:\n\
         \x20   type: event_count\n    rules: [bench_failed]\n    group-by: [source.ip]\n\
         \x20   timespan: 5m\n    condition: {{gte: 10}}\nlevel: high\n"
    )
}

fn events(addresses: usize) -> Vec<BTreeMap<String, String>> {
    (0..addresses)
        .map(|k| {
            [
                ("host.name", "bastion01".to_owned()),
                ("event.outcome", "failure".to_owned()),
                (
                    "source.ip",
                    format!("10.{}.{}.{}", k >> 16, (k >> 8) & 0xff, k & 0xff),
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
        })
        .collect()
}

/// A correlator over `addresses` events, driven one match per [`STEP_MS`].
struct Run {
    correlator: Correlator,
    events: Vec<BTreeMap<String, String>>,
    rule: RuleIdx,
    next: usize,
    time_ms: i64,
    out: Vec<Raise>,
    raised: u64,
}

impl Run {
    fn new(generate: bool, addresses: usize) -> Run {
        let (set, reports) =
            RuleSet::load(&[("bench.yml".into(), rules(generate))], Mapping::builtin());
        assert!(
            reports.iter().all(|r| r.status.is_compiled()),
            "{reports:?}"
        );
        let events = events(addresses);
        let rule = set.matches_naive(&events[0])[0];
        let mut run = Run {
            correlator: Correlator::new(&set, CorrelatorConfig::default()),
            events,
            rule,
            next: 0,
            time_ms: 1_764_000_000_000,
            out: Vec::new(),
            raised: 0,
        };
        run.matches(addresses);
        run
    }

    fn matches(&mut self, n: usize) {
        for _ in 0..n {
            let ev = &self.events[self.next];
            self.next = (self.next + 1) % self.events.len();
            self.time_ms += STEP_MS;
            self.out.clear();
            self.correlator.observe(
                &Match {
                    rule: self.rule,
                    time_ms: self.time_ms,
                    event: black_box(ev),
                },
                &mut self.out,
            );
            self.raised += self.out.len() as u64;
        }
    }

    fn report(&self, name: &str) {
        let s = self.correlator.stats();
        let bytes = self.correlator.approx_memory_bytes();
        println!(
            "correlate/{name}: {} live groups, {} events remembered, ~{:.1} MiB ({:.0} B/group), \
             {} matches, {} raises, {} evicted, {} expired",
            s.live_groups,
            s.remembered_events,
            bytes as f64 / f64::from(1 << 20),
            bytes as f64 / s.live_groups.max(1) as f64,
            s.events_seen,
            self.raised,
            s.evicted_groups,
            s.expired_groups
        );
    }
}

fn bench_correlate(c: &mut Criterion) {
    let mut group = c.benchmark_group("correlate");
    group.throughput(Throughput::Elements(BATCH as u64));
    let cases = [
        ("dedup_and_event_count_1k", true, FEW_ADDRESSES),
        ("event_count_100k_groups", false, scaled(MANY_ADDRESSES)),
        ("dedup_and_event_count_100k", true, scaled(MANY_ADDRESSES)),
    ];
    for (name, generate, addresses) in cases {
        let mut run = Run::new(generate, addresses);
        group.bench_function(name, |b| b.iter(|| run.matches(BATCH)));
        run.report(name);
    }
    group.finish();
}

criterion_group!(benches, bench_correlate);
criterion_main!(benches);
