//! The correlation engine on explicit timelines: one table row per behaviour, each a rule
//! file, a configuration, timed events and every raise expected, rendered one per line.

use super::load;
use crate::RuleSet;
use crate::correlate::{
    Correlator, CorrelatorConfig, CorrelatorStats, Match, Raise, SnapshotError,
};
use std::collections::BTreeMap;

/// A detection rule `name` matching events whose field `r` is `name`.
fn det(name: &str) -> String {
    format!(
        "title: {name}\nname: {name}\nlogsource: {{product: test}}\ndetection:\n    sel: {{r: {name}}}\n    condition: sel\n"
    )
}

/// `dets` detection rules (see [`det`]) and the documents of `rest`, as one file.
fn rules(dets: &[&str], rest: &str) -> String {
    let mut docs: Vec<String> = dets.iter().map(|d| det(d)).collect();
    if !rest.is_empty() {
        docs.push(rest.to_owned());
    }
    docs.join("---\n")
}

fn set_of(text: &str) -> RuleSet {
    let (set, reports) = load(&[("c.yml", text)]);
    for r in &reports {
        assert!(r.status.is_compiled(), "{r}");
    }
    set
}

/// An event at `t` ms: `r=name` picks the detection rule, the rest are fields.
type Timed<'a> = (i64, &'a [(&'a str, &'a str)]);

fn event(fields: &[(&str, &str)]) -> BTreeMap<String, String> {
    super::event(fields)
}

/// `+` opens, `=` adds: `+key [k=v,…] t=… w=… n=… v=…`.
fn show(r: &Raise) -> String {
    let group: Vec<String> = r.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut s = format!(
        "{}{} [{}] t={} w={} n={}",
        if r.new { '+' } else { '=' },
        r.key,
        group.join(","),
        r.time_ms,
        r.window_start_ms,
        r.count
    );
    if let Some(v) = r.value {
        s.push_str(&format!(" v={v}"));
    }
    s
}

/// Feeds every event's matches (in rule order) and renders the raises.
fn run(c: &mut Correlator, set: &RuleSet, events: &[Timed<'_>]) -> Vec<String> {
    let mut out = Vec::new();
    for (t, fields) in events {
        let ev = event(fields);
        for rule in set.matches_naive(&ev) {
            c.observe(
                &Match {
                    rule,
                    time_ms: *t,
                    event: &ev,
                },
                &mut out,
            );
        }
    }
    out.iter().map(show).collect()
}

fn cfg() -> CorrelatorConfig {
    CorrelatorConfig {
        lateness_ms: 5_000,
        ..CorrelatorConfig::default()
    }
}

struct Case {
    name: &'static str,
    dets: &'static [&'static str],
    correlation: &'static str,
    events: &'static [Timed<'static>],
    want: &'static [&'static str],
}

const COUNT_3_IN_10S: &str = "title: Burst\nid: burst\ncorrelation:\n    type: event_count\n    rules: [a]\n    group-by: [ip]\n    timespan: 10s\n    condition: {gte: 3}\n";

const CASES: &[Case] = &[
    Case {
        name: "event_count: one ms under the timespan shares a window",
        dets: &["a"],
        correlation: COUNT_3_IN_10S,
        events: &[
            (0, &[("r", "a"), ("ip", "1")]),
            (5_000, &[("r", "a"), ("ip", "1")]),
            (9_999, &[("r", "a"), ("ip", "1")]),
        ],
        want: &["+burst [ip=1] t=9999 w=0 n=3 v=3"],
    },
    Case {
        name: "event_count: exactly the timespan apart does not",
        dets: &["a"],
        correlation: COUNT_3_IN_10S,
        events: &[
            (0, &[("r", "a"), ("ip", "1")]),
            (5_000, &[("r", "a"), ("ip", "1")]),
            (10_000, &[("r", "a"), ("ip", "1")]),
        ],
        want: &[],
    },
    Case {
        name: "event_count: the alert takes the window's matches, then the group starts afresh",
        dets: &["a"],
        correlation: COUNT_3_IN_10S,
        events: &[
            (0, &[("r", "a"), ("ip", "1")]),
            (1_000, &[("r", "a"), ("ip", "1")]),
            (2_000, &[("r", "a"), ("ip", "1")]),
            (9_999, &[("r", "a"), ("ip", "1")]),
            (10_000, &[("r", "a"), ("ip", "1")]),
            (11_000, &[("r", "a"), ("ip", "1")]),
            (12_000, &[("r", "a"), ("ip", "1")]),
            (13_000, &[("r", "a"), ("ip", "1")]),
        ],
        want: &[
            "+burst [ip=1] t=2000 w=0 n=3 v=3",
            "=burst [ip=1] t=9999 w=0 n=1",
            "+burst [ip=1] t=12000 w=10000 n=3 v=3",
            "=burst [ip=1] t=13000 w=10000 n=1",
        ],
    },
    Case {
        name: "event_count: groups apart, a missing field is the empty value",
        dets: &["a"],
        correlation: COUNT_3_IN_10S,
        events: &[
            (0, &[("r", "a"), ("ip", "1")]),
            (1, &[("r", "a"), ("ip", "2")]),
            (2, &[("r", "a")]),
            (3, &[("r", "a"), ("ip", "1")]),
            (4, &[("r", "a")]),
            (5, &[("r", "a"), ("ip", "")]),
        ],
        want: &["+burst [ip=] t=5 w=2 n=3 v=3"],
    },
    Case {
        name: "lateness: within it counts, beyond it is dropped, the boundary is within",
        dets: &["a"],
        correlation: COUNT_3_IN_10S,
        events: &[
            (100_000, &[("r", "a"), ("ip", "x")]),
            (95_000, &[("r", "a"), ("ip", "1")]),
            (94_999, &[("r", "a"), ("ip", "1")]),
            (96_000, &[("r", "a"), ("ip", "1")]),
            (95_500, &[("r", "a"), ("ip", "1")]),
        ],
        want: &["+burst [ip=1] t=95500 w=95000 n=3 v=3"],
    },
    Case {
        name: "range condition: gt and lte together",
        dets: &["a"],
        correlation: "title: Range\ncorrelation:\n    type: event_count\n    rules: [a]\n    timespan: 1m\n    condition: {gt: 1, lte: 2}\n",
        events: &[(0, &[("r", "a")]), (1, &[("r", "a")]), (2, &[("r", "a")])],
        want: &["+Range [] t=1 w=0 n=2 v=2", "=Range [] t=2 w=0 n=1"],
    },
    Case {
        name: "value_count: distinct users per source, missing values are not a value",
        dets: &["a"],
        correlation: "title: Spray\ncorrelation:\n    type: value_count\n    rules: [a]\n    group-by: [ip]\n    timespan: 1m\n    condition: {field: user, gte: 3}\n",
        events: &[
            (0, &[("r", "a"), ("ip", "1"), ("user", "root")]),
            (1, &[("r", "a"), ("ip", "1"), ("user", "root")]),
            (2, &[("r", "a"), ("ip", "1")]),
            (3, &[("r", "a"), ("ip", "1"), ("user", "ROOT")]),
            (4, &[("r", "a"), ("ip", "2"), ("user", "admin")]),
            (5, &[("r", "a"), ("ip", "1"), ("user", "oracle")]),
        ],
        want: &["+Spray [ip=1] t=5 w=0 n=5 v=3"],
    },
    Case {
        name: "value_count over two fields counts combinations",
        dets: &["a"],
        correlation: "title: Pairs\ncorrelation:\n    type: value_count\n    rules: [a]\n    timespan: 1m\n    condition:\n        field: [user, host]\n        gte: 3\n",
        events: &[
            (0, &[("r", "a"), ("user", "u"), ("host", "h1")]),
            (1, &[("r", "a"), ("user", "u"), ("host", "h1")]),
            (2, &[("r", "a"), ("user", "u1"), ("host", "h")]),
            (3, &[("r", "a"), ("user", "u")]),
            (4, &[("r", "a"), ("user", "u"), ("host", "h2")]),
        ],
        want: &["+Pairs [] t=4 w=0 n=5 v=3"],
    },
    Case {
        name: "temporal: all rules in any order within the window",
        dets: &["a", "b", "c"],
        correlation: "title: Recon\ncorrelation:\n    type: temporal\n    rules: [a, b, c]\n    group-by: [host]\n    timespan: 10s\n",
        events: &[
            (0, &[("r", "c"), ("host", "h")]),
            (1_000, &[("r", "a"), ("host", "h")]),
            (2_000, &[("r", "a"), ("host", "g")]),
            // c at 0 has left h's window
            (10_500, &[("r", "b"), ("host", "h")]),
            (10_600, &[("r", "c"), ("host", "h")]),
            (11_000, &[("r", "b"), ("host", "g")]),
        ],
        want: &["+Recon [host=h] t=10600 w=1000 n=3 v=3"],
    },
    Case {
        name: "temporal with a condition: two of three",
        dets: &["a", "b", "c"],
        correlation: "title: Two\ncorrelation:\n    type: temporal\n    rules: [a, b, c]\n    timespan: 10s\n    condition: {gte: 2}\n",
        events: &[(0, &[("r", "b")]), (1, &[("r", "b")]), (2, &[("r", "c")])],
        want: &["+Two [] t=2 w=0 n=3 v=2"],
    },
    Case {
        name: "temporal_ordered: out of order is not enough, in order is",
        dets: &["a", "b", "c"],
        correlation: "title: Chain\ncorrelation:\n    type: temporal_ordered\n    rules: [a, b, c]\n    timespan: 10s\n",
        events: &[
            (0, &[("r", "c")]),
            (1, &[("r", "b")]),
            (2, &[("r", "a")]),
            (3, &[("r", "c")]),
            (4, &[("r", "b")]),
            (5, &[("r", "c")]),
        ],
        want: &["+Chain [] t=5 w=0 n=6 v=3"],
    },
    Case {
        name: "temporal_ordered: the same millisecond counts as in order",
        dets: &["a", "b", "c"],
        correlation: "title: Chain\ncorrelation:\n    type: temporal_ordered\n    rules: [a, b, c]\n    timespan: 10s\n",
        events: &[
            (1_000, &[("r", "b")]),
            (1_000, &[("r", "a")]),
            (3_000, &[("r", "c")]),
        ],
        want: &["+Chain [] t=3000 w=1000 n=3 v=3"],
    },
    Case {
        name: "temporal_ordered: a late match takes its place by time",
        dets: &["a", "b", "c"],
        correlation: "title: Chain\ncorrelation:\n    type: temporal_ordered\n    rules: [a, b, c]\n    timespan: 10s\n",
        events: &[
            (1_000, &[("r", "a")]),
            (3_000, &[("r", "c")]),
            (2_000, &[("r", "b")]),
        ],
        want: &["+Chain [] t=2000 w=1000 n=3 v=3"],
    },
    Case {
        name: "temporal_ordered: within the window",
        dets: &["a", "b"],
        correlation: "title: Chain\ncorrelation:\n    type: temporal_ordered\n    rules: [a, b]\n    timespan: 10s\n",
        events: &[(0, &[("r", "a")]), (5_000, &[("r", "b")])],
        want: &["+Chain [] t=5000 w=0 n=2 v=2"],
    },
    Case {
        name: "temporal_ordered: just out of the window",
        dets: &["a", "b"],
        correlation: "title: Chain\ncorrelation:\n    type: temporal_ordered\n    rules: [a, b]\n    timespan: 10s\n",
        events: &[(0, &[("r", "a")]), (10_000, &[("r", "b")])],
        want: &[],
    },
    Case {
        name: "several group-by fields",
        dets: &["a"],
        correlation: "title: Pair\ncorrelation:\n    type: event_count\n    rules: [a]\n    group-by: [host, user]\n    timespan: 1m\n    condition: {gte: 2}\n",
        events: &[
            (0, &[("r", "a"), ("host", "h"), ("user", "u")]),
            (1, &[("r", "a"), ("host", "h"), ("user", "v")]),
            (2, &[("r", "a"), ("host", "g"), ("user", "u")]),
            (3, &[("r", "a"), ("host", "h"), ("user", "u")]),
        ],
        want: &["+Pair [host=h,user=u] t=3 w=0 n=2 v=2"],
    },
    Case {
        name: "aliases: one address under two field names",
        dets: &["internal_error", "new_conn"],
        correlation: "title: Aliased\ncorrelation:\n    type: temporal\n    rules: [internal_error, new_conn]\n    group-by: [internal_ip, remote_ip]\n    timespan: 10s\n    aliases:\n        internal_ip:\n            internal_error: destination.ip\n            new_conn: source.ip\n        remote_ip:\n            internal_error: source.ip\n            new_conn: destination.ip\n",
        events: &[
            (
                0,
                &[
                    ("r", "internal_error"),
                    ("destination.ip", "10.0.0.1"),
                    ("source.ip", "203.0.113.9"),
                ],
            ),
            (
                1,
                &[
                    ("r", "new_conn"),
                    ("source.ip", "203.0.113.9"),
                    ("destination.ip", "10.0.0.1"),
                ],
            ),
            (
                2,
                &[
                    ("r", "new_conn"),
                    ("source.ip", "10.0.0.1"),
                    ("destination.ip", "203.0.113.9"),
                ],
            ),
        ],
        want: &["+Aliased [internal_ip=10.0.0.1,remote_ip=203.0.113.9] t=2 w=0 n=2 v=2"],
    },
    Case {
        name: "value_sum: non-numeric and missing values are skipped",
        dets: &["a"],
        correlation: "title: Exfil\ncorrelation:\n    type: value_sum\n    rules: [a]\n    group-by: [ip]\n    timespan: 1h\n    condition: {field: bytes, gt: 1000}\n",
        events: &[
            (0, &[("r", "a"), ("ip", "1"), ("bytes", "600")]),
            (1, &[("r", "a"), ("ip", "1"), ("bytes", "lots")]),
            (2, &[("r", "a"), ("ip", "1")]),
            (3, &[("r", "a"), ("ip", "1"), ("bytes", "400")]),
            (4, &[("r", "a"), ("ip", "1"), ("bytes", "0.5")]),
        ],
        want: &["+Exfil [ip=1] t=4 w=0 n=5 v=1000.5"],
    },
    Case {
        name: "value_avg: the mean of the numeric values",
        dets: &["a"],
        correlation: "title: Avg\ncorrelation:\n    type: value_avg\n    rules: [a]\n    timespan: 1h\n    condition: {field: bytes, gt: 500}\n",
        events: &[
            (0, &[("r", "a"), ("bytes", "400")]),
            (1, &[("r", "a"), ("bytes", "500")]),
            (2, &[("r", "a"), ("bytes", "x")]),
            (3, &[("r", "a"), ("bytes", "900")]),
        ],
        want: &["+Avg [] t=3 w=0 n=4 v=600"],
    },
    Case {
        name: "generate: true keeps the referenced rule's own alerts",
        dets: &["a"],
        correlation: "title: Two\ngenerate: true\ncorrelation:\n    type: event_count\n    rules: [a]\n    timespan: 1m\n    condition: {gte: 2}\n",
        events: &[
            (0, &[("r", "a"), ("host.name", "h")]),
            (1, &[("r", "a"), ("host.name", "h")]),
        ],
        want: &[
            "+a [host.name=h,source.ip=] t=0 w=0 n=1",
            "=a [host.name=h,source.ip=] t=1 w=0 n=1",
            "+Two [] t=1 w=0 n=2 v=2",
        ],
    },
    Case {
        name: "generate: false (the default) leaves only the correlation; other rules still raise",
        dets: &["a", "b"],
        correlation: "title: Two\ncorrelation:\n    type: event_count\n    rules: [a]\n    timespan: 1m\n    condition: {gte: 2}\n",
        events: &[(0, &[("r", "a")]), (1, &[("r", "a")]), (2, &[("r", "b")])],
        want: &[
            "+Two [] t=1 w=0 n=2 v=2",
            "+b [host.name=,source.ip=] t=2 w=2 n=1",
        ],
    },
    Case {
        name: "chain: many failures then a success, the inner correlation feeding the outer",
        dets: &["failed", "success"],
        correlation: "title: Brute force then login\nid: outer\ncorrelation:\n    type: temporal_ordered\n    rules: [many_failed, success]\n    group-by: [user]\n    timespan: 1m\nlevel: high\n---\ntitle: Many failed\nname: many_failed\ncorrelation:\n    type: event_count\n    rules: [failed]\n    group-by: [user]\n    timespan: 1m\n    condition: {gte: 3}\n",
        events: &[
            (0, &[("r", "success"), ("user", "u")]),
            (1_000, &[("r", "failed"), ("user", "u")]),
            (2_000, &[("r", "failed"), ("user", "u")]),
            (3_000, &[("r", "failed"), ("user", "v")]),
            (4_000, &[("r", "failed"), ("user", "u")]),
            (5_000, &[("r", "success"), ("user", "v")]),
            (6_000, &[("r", "success"), ("user", "u")]),
        ],
        want: &["+outer [user=u] t=6000 w=0 n=3 v=2"],
    },
    Case {
        name: "dedup: the window runs from the alert's first event; late matches are never dropped",
        dets: &["a"],
        correlation: "",
        events: &[
            (
                1_000_000,
                &[("r", "a"), ("host.name", "h"), ("source.ip", "1")],
            ),
            (
                1_599_999,
                &[("r", "a"), ("host.name", "h"), ("source.ip", "1")],
            ),
            (
                1_000_001,
                &[("r", "a"), ("host.name", "h"), ("source.ip", "2")],
            ),
            (
                1_600_000,
                &[("r", "a"), ("host.name", "h"), ("source.ip", "1")],
            ),
            (
                1_200_000,
                &[("r", "a"), ("host.name", "h"), ("source.ip", "1")],
            ),
            (0, &[("r", "a"), ("host.name", "h"), ("source.ip", "1")]),
        ],
        want: &[
            "+a [host.name=h,source.ip=1] t=1000000 w=1000000 n=1",
            "=a [host.name=h,source.ip=1] t=1599999 w=1000000 n=1",
            "+a [host.name=h,source.ip=2] t=1000001 w=1000001 n=1",
            "+a [host.name=h,source.ip=1] t=1600000 w=1600000 n=1",
            "=a [host.name=h,source.ip=1] t=1200000 w=1600000 n=1",
            "+a [host.name=h,source.ip=1] t=0 w=0 n=1",
        ],
    },
];

#[test]
fn timelines() {
    let mut failures = Vec::new();
    for case in CASES {
        let set = set_of(&rules(case.dets, case.correlation));
        let mut c = Correlator::new(&set, cfg());
        let got = run(&mut c, &set, case.events);
        if got != case.want {
            failures.push(format!(
                "{}:\n  want {:#?}\n  got  {:#?}",
                case.name, case.want, got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn late_matches_are_counted() {
    let set = set_of(&rules(&["a"], COUNT_3_IN_10S));
    let mut c = Correlator::new(
        &set,
        CorrelatorConfig {
            lateness_ms: 60_000,
            ..cfg()
        },
    );
    run(
        &mut c,
        &set,
        &[
            (100_000, &[("r", "a"), ("ip", "1")]),
            // beyond the lateness
            (39_999, &[("r", "a"), ("ip", "2")]),
            // within the lateness but a timespan behind its group's newest event
            (90_000, &[("r", "a"), ("ip", "1")]),
            (95_000, &[("r", "a"), ("ip", "1")]),
        ],
    );
    let s = c.stats();
    assert_eq!(s.late_dropped, 2, "{s:?}");
    assert_eq!(s.events_seen, 4);
    assert_eq!(s.remembered_events, 2);
}

#[test]
fn value_percentile_is_a_rarity_test() {
    let text = rules(
        &["proc"],
        "title: Rare process\ncorrelation:\n    type: value_percentile\n    rules: [proc]\n    group-by: [host]\n    timespan: 24h\n    condition: {field: image, lte: 1}\n",
    );
    let set = set_of(&text);
    let mut c = Correlator::new(&set, cfg());
    let mut events: Vec<(i64, Vec<(&str, &str)>)> = (0..99)
        .map(|k| {
            let image = if k % 2 == 0 { "bash" } else { "sshd" };
            (k, vec![("r", "proc"), ("host", "h"), ("image", image)])
        })
        .collect();
    events.push((99, vec![("r", "proc"), ("host", "h"), ("image", "xmrig")]));
    events.push((100, vec![("r", "proc"), ("host", "h"), ("image", "bash")]));
    let timed: Vec<Timed<'_>> = events.iter().map(|(t, f)| (*t, f.as_slice())).collect();
    assert_eq!(
        run(&mut c, &set, &timed),
        [
            "+Rare process [host=h] t=99 w=0 n=100 v=1",
            "=Rare process [host=h] t=100 w=0 n=1"
        ]
    );
}

#[test]
fn eviction_keeps_the_most_recently_touched_groups() {
    let set = set_of(&rules(&["a"], COUNT_3_IN_10S));
    let mut c = Correlator::new(
        &set,
        CorrelatorConfig {
            max_groups: 2,
            ..cfg()
        },
    );
    let got = run(
        &mut c,
        &set,
        &[
            (0, &[("r", "a"), ("ip", "1")]),
            (1, &[("r", "a"), ("ip", "1")]),
            (2, &[("r", "a"), ("ip", "2")]),
            (3, &[("r", "a"), ("ip", "3")]),
            // group 1 was evicted by group 3: its two matches are forgotten
            (4, &[("r", "a"), ("ip", "1")]),
            (5, &[("r", "a"), ("ip", "1")]),
            (6, &[("r", "a"), ("ip", "1")]),
        ],
    );
    assert_eq!(got, ["+burst [ip=1] t=6 w=4 n=3 v=3"]);
    let s = c.stats();
    assert_eq!((s.live_groups, s.evicted_groups), (2, 2), "{s:?}");
}

#[test]
fn groups_expire_behind_the_watermark() {
    let set = set_of(&rules(&["a", "b"], COUNT_3_IN_10S));
    let mut c = Correlator::new(&set, cfg());
    run(
        &mut c,
        &set,
        &[
            (0, &[("r", "a"), ("ip", "1")]),
            (0, &[("r", "b"), ("host.name", "h")]),
            (14_999, &[("r", "a"), ("ip", "2")]),
        ],
    );
    assert_eq!(c.stats().live_groups, 3);
    // the burst group of ip 1 ended at 10 000; 15 000 - 5 000 lateness reaches it
    run(&mut c, &set, &[(15_000, &[("r", "a"), ("ip", "2")])]);
    let s = c.stats();
    assert_eq!((s.live_groups, s.expired_groups), (2, 1), "{s:?}");
    // the dedup group of b lasts its ten-minute window
    run(&mut c, &set, &[(605_000, &[("r", "a"), ("ip", "3")])]);
    let s = c.stats();
    assert_eq!((s.live_groups, s.expired_groups), (1, 3), "{s:?}");
    assert_eq!(s.remembered_events, 1);
}

#[test]
fn a_group_remembers_a_bounded_number_of_events() {
    use crate::correlate::MAX_EVENTS_PER_GROUP as MAX;
    // the highest event_count threshold the loader accepts is reached
    let set = set_of(&rules(
        &["a"],
        "title: Huge\ncorrelation:\n    type: event_count\n    rules: [a]\n    timespan: 1d\n    condition: {gte: 100000}\n",
    ));
    let mut c = Correlator::new(&set, cfg());
    let ev = event(&[("r", "a")]);
    let rule = set.matches_naive(&ev)[0];
    let mut out = Vec::new();
    for t in 0..MAX as i64 + 10 {
        c.observe(
            &Match {
                rule,
                time_ms: t,
                event: &ev,
            },
            &mut out,
        );
    }
    assert_eq!(out.iter().filter(|r| r.new).count(), 1);
    assert_eq!(out[0].count, MAX as u64);
    assert_eq!(c.stats().events_forgotten, 0);

    // a group that never fires forgets its oldest events past the bound
    let set = set_of(&rules(
        &["a"],
        "title: Users\ncorrelation:\n    type: value_count\n    rules: [a]\n    timespan: 1d\n    condition: {field: user, gte: 2}\n",
    ));
    let mut c = Correlator::new(&set, cfg());
    let same = event(&[("r", "a"), ("user", "u")]);
    let mut out = Vec::new();
    for t in 0..MAX as i64 + 10 {
        c.observe(
            &Match {
                rule,
                time_ms: t,
                event: &same,
            },
            &mut out,
        );
    }
    let s = c.stats();
    assert_eq!((s.events_forgotten, s.remembered_events), (10, MAX as u64));
    let other = event(&[("r", "a"), ("user", "v")]);
    c.observe(
        &Match {
            rule,
            time_ms: 1 << 20,
            event: &other,
        },
        &mut out,
    );
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].count, out[0].value), (MAX as u64, Some(2.0)));
    assert_eq!(c.stats().remembered_events, 0);
}

/// A timeline for the snapshot tests: two correlations, dedup alerts, open windows and open
/// alerts at the cut.
const SNAP_RULES: &str = "title: Burst\nid: burst\ncorrelation:\n    type: event_count\n    rules: [a]\n    group-by: [ip]\n    timespan: 10s\n    condition: {gte: 3}\n---\ntitle: Spray\nid: spray\ncorrelation:\n    type: value_count\n    rules: [b]\n    group-by: [ip]\n    timespan: 10s\n    condition: {field: user, gte: 2}\n";

fn snap_timeline() -> Vec<(i64, Vec<(&'static str, &'static str)>)> {
    let mut v = Vec::new();
    for k in 0..40i64 {
        let ip = ["1", "2", "3"][(k % 3) as usize];
        let user = ["u", "v", "w", "u"][(k % 4) as usize];
        v.push((k * 700, vec![("r", "a"), ("ip", ip)]));
        v.push((k * 700 + 1, vec![("r", "b"), ("ip", ip), ("user", user)]));
        v.push((k * 700 + 2, vec![("r", "c"), ("host.name", ip)]));
    }
    v
}

fn timed<'a>(v: &'a [(i64, Vec<(&'static str, &'static str)>)]) -> Vec<Timed<'a>> {
    v.iter().map(|(t, f)| (*t, f.as_slice())).collect()
}

#[test]
fn snapshot_and_restore_give_the_same_raises() {
    let set = set_of(&rules(&["a", "b", "c"], SNAP_RULES));
    let events = snap_timeline();
    let events = timed(&events);
    let mut whole = Correlator::new(&set, cfg());
    let want = run(&mut whole, &set, &events);
    for cut in [1, 17, 50, 61, 119] {
        let mut first = Correlator::new(&set, cfg());
        let mut got = run(&mut first, &set, &events[..cut]);
        let bytes = first.snapshot();
        let mut second = Correlator::new(&set, cfg());
        let kept = second.restore(&bytes).expect("restores");
        assert_eq!(kept.dropped_groups, 0);
        assert_eq!(kept.kept_groups as u64, first.stats().live_groups);
        assert_eq!(second.stats(), first.stats(), "cut {cut}");
        got.extend(run(&mut second, &set, &events[cut..]));
        assert_eq!(got, want, "cut {cut}");
    }
    assert_eq!(whole.stats().evicted_groups, 0);
}

#[test]
fn restore_keeps_only_rules_with_the_same_key_and_definition() {
    let set = set_of(&rules(&["a", "b", "c"], SNAP_RULES));
    let events = snap_timeline();
    let events = timed(&events);
    let mut first = Correlator::new(&set, cfg());
    run(&mut first, &set, &events[..8]);
    let bytes = first.snapshot();
    let live = first.stats().live_groups as usize;

    // `spray` changed its threshold and `c` is gone: their groups go, burst's stay
    let changed = SNAP_RULES.replace("gte: 2}", "gte: 3}");
    let reloaded = set_of(&rules(&["a", "b"], &changed));
    let mut second = Correlator::new(&reloaded, cfg());
    let kept = second.restore(&bytes).expect("restores");
    let burst_groups = 3;
    assert_eq!(kept.kept_groups, burst_groups);
    assert_eq!(kept.dropped_groups, live - burst_groups);
    assert_eq!(second.stats().live_groups, burst_groups as u64);

    // the same rules loaded in another order are the same rules
    let reordered = set_of(&rules(&["c", "b", "a"], SNAP_RULES));
    let mut third = Correlator::new(&reordered, cfg());
    assert_eq!(third.restore(&bytes).expect("restores").kept_groups, live);
}

#[test]
fn bad_snapshots_are_refused_and_change_nothing() {
    let set = set_of(&rules(&["a"], COUNT_3_IN_10S));
    let mut c = Correlator::new(&set, cfg());
    run(&mut c, &set, &[(0, &[("r", "a"), ("ip", "1")])]);
    let before = c.stats();
    assert!(matches!(
        c.restore(&[2, 0, 0]),
        Err(SnapshotError::Version { found: 2 })
    ));
    let mut bytes = c.snapshot();
    bytes.truncate(bytes.len() / 2);
    assert!(matches!(c.restore(&bytes), Err(SnapshotError::Decode(_))));
    assert!(c.restore(&[]).is_err());
    assert_eq!(c.stats(), before);
}

#[test]
fn unknown_rules_and_filters_raise_nothing() {
    let text = format!(
        "{}---\ntitle: F\nlogsource: {{product: test}}\nfilter:\n    rules: [a]\n    sel: {{x: y}}\n    condition: sel\n",
        det("a")
    );
    let set = set_of(&text);
    let mut c = Correlator::new(&set, cfg());
    let ev = event(&[]);
    let mut out = Vec::new();
    for rule in [crate::RuleIdx(1), crate::RuleIdx(99)] {
        c.observe(
            &Match {
                rule,
                time_ms: 0,
                event: &ev,
            },
            &mut out,
        );
    }
    assert!(out.is_empty());
    assert_eq!(
        c.stats(),
        CorrelatorStats {
            events_seen: 2,
            ..CorrelatorStats::default()
        }
    );
}

#[test]
fn group_values_are_cut() {
    let set = set_of(&rules(&["a"], COUNT_3_IN_10S));
    let mut c = Correlator::new(&set, cfg());
    let long = "đ".repeat(1000);
    let ev = event(&[("r", "a"), ("ip", &long)]);
    let rule = set.matches_naive(&ev)[0];
    let mut out = Vec::new();
    for t in 0..3 {
        c.observe(
            &Match {
                rule,
                time_ms: t,
                event: &ev,
            },
            &mut out,
        );
    }
    let ip = &out[0].group[0].1;
    assert_eq!(ip.len(), crate::correlate::MAX_GROUP_VALUE_BYTES);
    assert!(long.starts_with(ip.as_str()));
}

#[test]
fn extreme_times_do_not_overflow() {
    let set = set_of(&rules(&["a", "b"], COUNT_3_IN_10S));
    let mut c = Correlator::new(&set, cfg());
    let times = [
        i64::MAX,
        i64::MIN,
        0,
        -1,
        i64::MAX - 1,
        i64::MIN + 1,
        i64::MAX,
    ];
    let mut events: Vec<Timed<'_>> = Vec::new();
    for t in times {
        events.push((t, &[("r", "a"), ("ip", "1")]));
        events.push((t, &[("r", "b")]));
    }
    run(&mut c, &set, &events);
    let mut d = Correlator::new(&set, cfg());
    d.restore(&c.snapshot()).expect("restores");
    assert_eq!(d.stats(), c.stats());
}

#[test]
fn a_correlator_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Correlator>();
}
