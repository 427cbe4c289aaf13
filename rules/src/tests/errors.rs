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
