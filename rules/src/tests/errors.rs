//! Exact diagnostics: `file:line:col: message` for every way a rule can be wrong.

use super::load;
use crate::LoadStatus;

/// `(name, rule text, expected diagnostics)`.
const CASES: &[(&str, &str, &[&str])] = &[
    (
        "bad yaml",
        "title: t\nlogsource: {product: linux\ndetection: x\n",
        &[
            "r.yml:3:10: invalid yaml: while parsing a flow mapping, did not find expected ',' or '}'",
        ],
    ),
    (
        "tab indentation",
        "title: t\ndetection:\n\tsel: x\n",
        &["r.yml:3:1: invalid yaml: tabs disallowed within this context (block indentation)"],
    ),
    (
        "duplicate key",
        "title: t\ntitle: u\n",
        &["r.yml:2:1: duplicate key `title` (first at line 1)"],
    ),
    (
        "not a map",
        "- a\n- b\n",
        &["r.yml:1:1: expected a rule: a map with title, logsource and detection, found a list"],
    ),
    (
        "unknown condition identifier",
        "title: t\nlogsource:\n    product: linux\ndetection:\n    selection:\n        f: a\n    filter:\n        g: b\n    condition: selection and not filtr\n",
        &["r.yml:9:34: unknown search identifier `filtr`; the detection defines selection, filter"],
    ),
    (
        "quoted condition position",
        "title: t\nlogsource:\n    product: linux\ndetection:\n    sel:\n        f: a\n    condition: 'sel or 1 of x*'\n",
        &["r.yml:7:29: `x*` matches no search identifier"],
    ),
    (
        "condition in a list",
        "title: t\nlogsource:\n    product: linux\ndetection:\n    sel:\n        f: a\n    condition:\n        - sel\n        - sel and\n",
        &[
            "r.yml:9:18: expected a search identifier, `(`, `not`, `1 of` or `all of`, found the end of the condition",
        ],
    ),
    (
        "i without re",
        "title: t\nlogsource:\n    product: linux\ndetection:\n    sel:\n        CommandLine|contains|i: a\n    condition: sel\n",
        &["r.yml:6:30: modifier `i` applies only after `re`"],
    ),
    (
        "re with contains",
        "title: t\nlogsource:\n    product: linux\ndetection:\n    sel:\n        CommandLine|contains|re: 'a.b'\n    condition: sel\n",
        &["r.yml:6:21: modifier `contains` cannot be combined with `re`"],
    ),
    (
        "two types",
        "title: t\nlogsource:\n    product: linux\ndetection:\n    sel:\n        ip|cidr|gt: 5\n    condition: sel\n",
        &["r.yml:6:17: modifier `gt` cannot be combined with `cidr`"],
    ),
    (
        "empty modifier",
        "title: t\nlogsource:\n    product: linux\ndetection:\n    sel:\n        f||contains: a\n    condition: sel\n",
        &["r.yml:6:11: expected a modifier name after `|`"],
    ),
    (
        "bad cidr",
        "title: t\nlogsource:\n    product: linux\ndetection:\n    sel:\n        ip|cidr:\n            - 10.0.0.0/8\n            - 10.0.0.0/33\n    condition: sel\n",
        &["r.yml:8:15: expected a network such as 10.0.0.0/8 or fd00::/8, found `10.0.0.0/33`"],
    ),
    (
        "bad number",
        "title: t\nlogsource:\n    product: linux\ndetection:\n    sel:\n        n|gte: many\n    condition: sel\n",
        &["r.yml:6:16: `gte` needs a number, found `many`"],
    ),
    (
        "bad exists",
        "title: t\nlogsource:\n    product: linux\ndetection:\n    sel:\n        f|exists: maybe\n    condition: sel\n",
        &["r.yml:6:19: `exists` takes true or false, found `maybe`"],
    ),
    (
        "invalid regex",
        "title: t\nlogsource:\n    product: linux\ndetection:\n    sel:\n        f|re: '[a-'\n    condition: sel\n",
        &["r.yml:6:15: invalid regular expression: unclosed character class"],
    ),
    (
        "base64 of a wildcard",
        "title: t\nlogsource:\n    product: linux\ndetection:\n    sel:\n        f|contains|base64: abc\n    condition: sel\n",
        &[
            "r.yml:6:20: `base64` needs a value without wildcards; put contains, startswith or endswith after it",
        ],
    ),
    (
        "null in a list",
        "title: t\nlogsource:\n    product: linux\ndetection:\n    sel:\n        f:\n            - ''\n            - null\n    condition: sel\n",
        &["r.yml:8:15: null cannot be part of a list of values; test it in a selection of its own"],
    ),
    (
        "null with a modifier",
        "title: t\nlogsource:\n    product: linux\ndetection:\n    sel:\n        f|contains: null\n    condition: sel\n",
        &["r.yml:6:11: modifier `contains` needs a value, not null"],
    ),
    (
        "empty selection",
        "title: t\nlogsource:\n    product: linux\ndetection:\n    sel:\n    condition: sel\n",
        &["r.yml:5:5: search identifier `sel` is empty; expected a map of fields or a list"],
    ),
    (
        "map as value",
        "title: t\nlogsource:\n    product: linux\ndetection:\n    sel:\n        f:\n            g: h\n    condition: sel\n",
        &["r.yml:7:13: expected a value or a list of values for `f`, found a map"],
    ),
    (
        "missing condition",
        "title: t\nlogsource:\n    product: linux\ndetection:\n    sel:\n        f: a\n",
        &["r.yml:5:5: missing `condition` in `detection`"],
    ),
    (
        "missing everything",
        "description: nothing else\n",
        &[
            "r.yml:1:1: missing `title`",
            "r.yml:1:1: missing `detection` (or `correlation`, or `filter`)",
        ],
    ),
    (
        "missing logsource",
        "title: t\ndetection:\n    sel:\n        f: a\n    condition: sel\n",
        &["r.yml:1:1: missing `logsource`"],
    ),
    (
        "bad level and status",
        "title: t\nstatus: beta\nlevel: severe\nlogsource:\n    product: linux\ndetection:\n    sel:\n        f: a\n    condition: sel\n",
        &[
            "r.yml:2:9: expected `status` to be one of stable, test, experimental, deprecated, unsupported, found `beta`",
            "r.yml:3:8: expected `level` to be one of informational, low, medium, high, critical, found `severe`",
        ],
    ),
    (
        "two kinds",
        "title: t\nlogsource:\n    product: linux\ndetection:\n    sel:\n        f: a\n    condition: sel\ncorrelation:\n    type: event_count\n",
        &[
            "r.yml:8:1: a rule has one of `detection`, `correlation` or `filter`, this one also has `correlation`",
        ],
    ),
    (
        "any of",
        "title: t\nlogsource:\n    product: linux\ndetection:\n    sel:\n        f: a\n    condition: any of sel*\n",
        &["r.yml:7:16: `any of` is not in the sigma specification; write `1 of`"],
    ),
    (
        "correlation type",
        "title: t\ncorrelation:\n    type: event_cnt\n    rules: [a]\n    timespan: 5m\n    condition: {gte: 2}\n",
        &[
            "r.yml:3:11: expected `type` to be one of event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile, found `event_cnt`",
        ],
    ),
    (
        "correlation keys, rules, timespan and condition",
        "title: t\ncorrelation:\n    type: event_count\n    rules: []\n    timespan: 5 min\n    condition:\n        gte: many\n        above: 3\n    extra: 1\n",
        &[
            "r.yml:9:5: unknown key `extra` in `correlation` (expected type, rules, aliases, group-by, timespan, condition, generate)",
            "r.yml:4:12: `rules` is empty: name at least one rule by id or name",
            "r.yml:5:15: expected `timespan` as a whole number and s, m, h or d (e.g. 90m), found `5 min`",
            "r.yml:7:14: `gte` needs a number, found `many`",
            "r.yml:8:9: unknown comparison `above` in `condition` (expected gt, gte, lt, lte, eq, neq or field)",
        ],
    ),
    (
        "correlation duplicates, zero timespan, missing condition and field, generate",
        "title: t\ncorrelation:\n    type: value_count\n    rules:\n        - a\n        - a\n    group-by: [host, host]\n    timespan: 0s\n    generate: maybe\n",
        &[
            "r.yml:6:11: rule `a` is listed twice in `rules`",
            "r.yml:7:22: field `host` is listed twice in `group-by`",
            "r.yml:8:15: `timespan` must be at least 1s",
            "r.yml:3:5: missing `condition`: value_count needs one, e.g. `condition: {gte: 10}`",
            "r.yml:3:5: missing `condition.field`: value_count needs the field whose values it aggregates",
            "r.yml:9:15: expected `generate` to be true or false, found `maybe`",
        ],
    ),
    (
        "correlation past the limits",
        "title: t\ncorrelation:\n    type: event_count\n    rules: a\n    timespan: 400d\n    condition:\n        field: user\n        gte: 200000\n",
        &[
            "r.yml:5:15: `timespan` 400d is longer than 366 days, the longest window canh keeps in memory",
            "r.yml:7:9: `condition.field` applies only to value_count, value_sum, value_avg and value_percentile, not event_count",
            "r.yml:7:9: `condition` can never hold: event_count values lie between 1 and 100000",
        ],
    ),
    (
        "temporal condition past the rules",
        "title: t\ncorrelation:\n    type: temporal\n    rules: [a, b, c]\n    timespan: 1h\n    condition:\n        gte: 4\n",
        &["r.yml:7:9: `condition` can never hold: temporal values lie between 1 and 3"],
    ),
    (
        "value_sum of two fields, generate twice",
        "title: t\ngenerate: true\ncorrelation:\n    type: value_sum\n    rules: [a]\n    timespan: 1h\n    generate: false\n    condition:\n        field: [x, y]\n        gt: 10\n",
        &[
            "r.yml:9:9: value_sum aggregates one field, found 2",
            "r.yml:7:15: `generate` is given twice: beside `level` and in `correlation`",
        ],
    ),
    (
        "correlation naming an unknown rule",
        "title: t\ncorrelation:\n    type: event_count\n    rules: [nope]\n    timespan: 1h\n    condition:\n        gte: 2\n",
        &["r.yml:4:13: `rules` names `nope`, which no rule in the set has as id or name"],
    ),
    (
        "correlation naming itself",
        "title: Self\nid: me\ncorrelation:\n    type: event_count\n    rules: [me]\n    timespan: 1h\n    condition: {gte: 2}\n",
        &["r.yml:5:13: `rules` names `me`, this correlation itself"],
    ),
    (
        "correlation not a map",
        "title: t\ncorrelation: [a]\n",
        &[
            "r.yml:2:14: expected `correlation` to be a map with type, rules, group-by, timespan and condition, found a list",
        ],
    ),
    (
        "correlation without type and timespan, bad alias",
        "title: t\ncorrelation:\n    rules: [a]\n    aliases:\n        ip: [x]\n",
        &[
            "r.yml:3:5: missing `type` in `correlation`: one of event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile",
            "r.yml:3:5: missing `timespan` in `correlation`, e.g. `timespan: 5m`",
            "r.yml:5:13: expected alias `ip` to map rule names to field names, found a list",
        ],
    ),
    (
        "several errors at once",
        "title: t\nlogsource:\n    product: linux\ndetection:\n    sel:\n        ip|cidr: nope\n        n|lt: x\n    condition: sel or other\n",
        &[
            "r.yml:6:18: expected a network such as 10.0.0.0/8 or fd00::/8, found `nope`",
            "r.yml:7:15: `lt` needs a number, found `x`",
            "r.yml:8:23: unknown search identifier `other`; the detection defines sel",
        ],
    ),
];

#[test]
fn diagnostics_table() {
    let mut failures = Vec::new();
    for (name, text, want) in CASES {
        let (_, reports) = load(&[("r.yml", text)]);
        let got: Vec<String> = match reports.as_slice() {
            [r] => match &r.status {
                LoadStatus::Invalid { errors } => errors.iter().map(ToString::to_string).collect(),
                other => vec![format!("(not invalid: {other})")],
            },
            more => vec![format!("({} reports)", more.len())],
        };
        if got != *want {
            failures.push(format!("{name}:\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn documents_before_a_yaml_error_still_load() {
    let text = "title: ok\nlogsource:\n    product: linux\ndetection:\n    sel:\n        f: a\n    condition: sel\n---\ntitle: [broken\n";
    let (set, reports) = load(&[("r.yml", text)]);
    assert_eq!(reports.len(), 2);
    assert!(reports[0].status.is_compiled());
    assert!(matches!(reports[1].status, LoadStatus::Invalid { .. }));
    assert_eq!(set.compiled().len(), 1);
}

#[test]
fn report_lines_are_lint_ready() {
    let text = "title: t\nlogsource:\n    product: linux\ndetection:\n    sel:\n        f|expand: '%x%'\n    condition: sel\n";
    let (_, reports) = load(&[("r.yml", text)]);
    assert_eq!(
        reports[0].to_string(),
        "r.yml:1:1: unsupported: placeholders need a placeholder file (`t`)"
    );
}

#[test]
fn leaf_budget_stops_expansion_early() {
    // 200 values × 125 windash variants each would be 25 000 patterns.
    let mut text = String::from(
        "title: t\nlogsource:\n    product: linux\ndetection:\n    sel:\n        f|windash:\n",
    );
    for i in 0..200 {
        text.push_str(&format!("            - '-a -b -c{i}'\n"));
    }
    text.push_str("    condition: sel\n");
    let (_, reports) = load(&[("r.yml", &text)]);
    assert_eq!(
        reports[0].status,
        LoadStatus::Unsupported {
            reason: "the detection compiles to more than 20000 tests".into()
        }
    );
    // Repeating an identifier in the condition multiplies it.
    let mut text = String::from(
        "title: t\nlogsource:\n    product: linux\ndetection:\n    sel:\n        f:\n",
    );
    for i in 0..1000 {
        text.push_str(&format!("            - v{i}\n"));
    }
    let repeated = vec!["sel"; 30].join(" or ");
    text.push_str(&format!("    condition: {repeated}\n"));
    let (_, reports) = load(&[("r.yml", &text)]);
    assert!(matches!(reports[0].status, LoadStatus::Unsupported { .. }));
}

/// `(name, rule file, every line of every report)`: references between rules, checked once
/// the whole set is loaded.
const REFERENCES: &[(&str, &str, &[&str])] = &[
    (
        "loop of correlations and what names it",
        "title: A\nid: ca\ncorrelation:\n    type: event_count\n    rules: [cb]\n    timespan: 1h\n    condition: {gte: 2}\n---\ntitle: B\nid: cb\ncorrelation:\n    type: event_count\n    rules: [ca, det]\n    timespan: 1h\n    condition: {gte: 2}\n---\ntitle: Outer\ncorrelation:\n    type: temporal\n    rules: [cb, det]\n    timespan: 1h\n---\ntitle: Det\nname: det\nlogsource: {product: linux}\ndetection:\n    sel: {f: a}\n    condition: sel\n",
        &[
            "r.yml:5:13: `rules` names `cb`, which leads back to this correlation: correlation chains must not loop",
            "r.yml:13:13: `rules` names `ca`, which leads back to this correlation: correlation chains must not loop",
            "r.yml:20:13: `rules` names `cb`, which is invalid (see its errors)",
            "r.yml:23:1: compiled detection `Det`",
        ],
    ),
    (
        "a filter is not a rule to count",
        "title: F\nname: flt\nlogsource: {product: linux}\nfilter:\n    rules: [x]\n    sel: {f: a}\n    condition: sel\n---\ntitle: Uses filter\ncorrelation:\n    type: event_count\n    rules: [flt]\n    timespan: 1h\n    condition: {gte: 2}\n",
        &[
            "r.yml:1:1: compiled filter `F`",
            "r.yml:1:1: warning: filter names rule `x`, which is not loaded",
            "r.yml:12:13: `rules` names `flt`, a filter; a correlation aggregates detection and correlation rules",
        ],
    ),
    (
        "invalid and unsupported rules make their correlations so, up the chain",
        "title: Broken\nname: broken\nlogsource: {product: linux}\ndetection:\n    sel: {f|re: '('}\n    condition: sel\n---\ntitle: Placeholder\nname: ph\nlogsource: {product: linux}\ndetection:\n    sel: {f|expand: '%x%'}\n    condition: sel\n---\ntitle: Inner\nname: inner\ncorrelation:\n    type: temporal\n    rules: [broken, ph]\n    timespan: 1h\n---\ntitle: Via placeholder\ncorrelation:\n    type: event_count\n    rules: [ph]\n    timespan: 1h\n    condition: {gte: 2}\n---\ntitle: Outer\ncorrelation:\n    type: event_count\n    rules: [inner]\n    timespan: 1h\n    condition: {gte: 2}\n",
        &[
            "r.yml:5:17: invalid regular expression: unclosed group",
            "r.yml:8:1: unsupported: placeholders need a placeholder file (`Placeholder`)",
            "r.yml:19:13: `rules` names `broken`, which is invalid (see its errors)",
            "r.yml:22:1: unsupported: `rules` names `ph`, which is unsupported: placeholders need a placeholder file (`Via placeholder`)",
            "r.yml:32:13: `rules` names `inner`, which is invalid (see its errors)",
        ],
    ),
    (
        "an alias names a rule the correlation does not",
        "title: Det\nname: det\nlogsource: {product: linux}\ndetection:\n    sel: {f: a}\n    condition: sel\n---\ntitle: Aliased\ncorrelation:\n    type: temporal\n    rules: [det]\n    group-by: [ip]\n    timespan: 1h\n    aliases:\n        ip:\n            det: source.ip\n            dte: destination.ip\n",
        &[
            "r.yml:1:1: compiled detection `Det`",
            "r.yml:17:13: alias `ip` names rule `dte`, which is not one of the rules in `rules`",
        ],
    ),
    (
        "rules named by id or name, across documents, and chains",
        "title: Det\nid: 11111111-2222-4333-8444-555555555555\nname: det\nlogsource: {product: linux}\ndetection:\n    sel: {f: a}\n    condition: sel\n---\ntitle: Inner\nname: inner\ncorrelation:\n    type: event_count\n    rules: [11111111-2222-4333-8444-555555555555]\n    timespan: 1h\n    condition: {gte: 2}\n---\ntitle: Outer\ncorrelation:\n    type: temporal_ordered\n    rules: [inner, det]\n    timespan: 1h\n",
        &[
            "r.yml:1:1: compiled detection `Det`",
            "r.yml:9:1: compiled correlation `Inner`",
            "r.yml:17:1: compiled correlation `Outer`",
        ],
    ),
];

#[test]
fn correlation_references() {
    let mut failures = Vec::new();
    for (name, text, want) in REFERENCES {
        let (_, reports) = load(&[("r.yml", text)]);
        let got: Vec<String> = reports
            .iter()
            .flat_map(|r| r.to_string().lines().map(str::to_owned).collect::<Vec<_>>())
            .collect();
        if got != *want {
            failures.push(format!("{name}:\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
