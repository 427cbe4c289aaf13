//! The semantics table: (detection, event, expected match) for every modifier and condition
//! form; then filters, logsource routing and field mapping.

use super::{event, load, only_status, rule_with};
use crate::{LoadStatus, NaiveHits, RuleSet};
use canh_core::{Dataset, Event, Origin, field};
use unicode_normalization::UnicodeNormalization;

/// `(name, detection, event fields, expected)`. A detection without `condition:` is the
/// entries of a selection `sel` (and the condition is `sel`); otherwise it is the whole
/// `detection` section. Either is written without its indentation.
type Case = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    bool,
);

#[rustfmt::skip]
const CASES: &[Case] = &[
    // --- plain values: case-insensitive equality -----------------------------------------
    ("equal", "f: 'Admin'", &[("f", "admin")], true),
    ("equal is whole", "f: 'Admin'", &[("f", "administrator")], false),
    ("absent field", "f: 'Admin'", &[("g", "admin")], false),
    ("number as text", "EventID: 4624", &[("EventID", "4624")], true),
    ("number text as written", "f: 1.0", &[("f", "1")], false),
    ("bool as text", "f: true", &[("f", "True")], true),
    ("list is or", "f:\n    - a\n    - b", &[("f", "B")], true),
    ("map is and", "f: a\ng: b", &[("f", "a"), ("g", "c")], false),
    ("list of maps is or", "- f: a\n- g: b", &[("g", "b")], true),
    // --- anchors ---------------------------------------------------------------------------
    ("contains", "f|contains: 'PASS'", &[("f", "bad password")], true),
    ("startswith", "f|startswith: 'bad'", &[("f", "Bad password")], true),
    ("startswith miss", "f|startswith: 'pass'", &[("f", "bad password")], false),
    ("endswith", "f|endswith: '/bash'", &[("f", "/usr/bin/BASH")], true),
    ("endswith miss", "f|endswith: '/bash'", &[("f", "/bin/bash -i")], false),
    ("contains all", "f|contains|all:\n    - curl\n    - '| sh'", &[("f", "curl x | sh")], true),
    ("contains all miss", "f|contains|all:\n    - curl\n    - '| sh'", &[("f", "curl x")], false),
    // --- wildcards and escapes -------------------------------------------------------------
    ("question mark", "f: 'a?c'", &[("f", "abc")], true),
    ("question mark is one", "f: 'a?c'", &[("f", "abbc")], false),
    ("question mark not zero", "f: 'a?c'", &[("f", "ac")], false),
    ("star inside", "f: 'a*c'", &[("f", "a\nbc")], true),
    ("escaped star", "f: 'a\\*b'", &[("f", "a*b")], true),
    ("escaped star is plain", "f: 'a\\*b'", &[("f", "axb")], false),
    ("escaped question", "f: 'a\\?'", &[("f", "a?")], true),
    ("escaped question is plain", "f: 'a\\?'", &[("f", "ab")], false),
    ("backslash before letter", "f: 'C:\\Windows\\System32'", &[("f", "c:\\windows\\system32")], true),
    ("escaped backslash then star", "f: 'C:\\Windows\\\\*'", &[("f", "C:\\Windows\\cmd.exe")], true),
    ("three backslashes and star", "f: 'a\\\\\\*'", &[("f", "a\\*")], true),
    ("three backslashes star is plain", "f: 'a\\\\\\*'", &[("f", "a\\x")], false),
    ("four backslashes", "f: 'a\\\\\\\\b'", &[("f", "a\\\\b")], true),
    // --- case ------------------------------------------------------------------------------
    ("cased match", "f|cased: 'Admin'", &[("f", "Admin")], true),
    ("cased miss", "f|cased: 'Admin'", &[("f", "admin")], false),
    ("cased contains", "f|contains|cased: 'X'", &[("f", "axb")], false),
    ("vietnamese fold", "message|contains: 'ĐĂNG NHẬP'", &[("message", "Đăng nhập thất bại")], true),
    ("vietnamese fold reverse", "message|contains: 'đăng nhập'", &[("message", "ĐĂNG NHẬP THẤT BẠI")], true),
    ("vietnamese wildcard", "message: 'đăng*bại'", &[("message", "ĐĂNG NHẬP THẤT BẠI")], true),
    ("vietnamese question is one char", "message: 'đ?ng'", &[("message", "ĐĂNG")], true),
    ("vietnamese cased", "message|contains|cased: 'đăng'", &[("message", "ĐĂNG")], false),
    // --- null, empty, exists ---------------------------------------------------------------
    ("null is absent", "f: null", &[("g", "x")], true),
    ("null not empty", "f: null", &[("f", "")], false),
    ("null not value", "f: null", &[("f", "x")], false),
    ("empty is empty", "f: ''", &[("f", "")], true),
    ("empty not absent", "f: ''", &[("g", "")], false),
    ("empty not value", "f: ''", &[("f", "x")], false),
    ("exists true", "f|exists: true", &[("f", "")], true),
    ("exists true absent", "f|exists: true", &[("g", "")], false),
    ("exists false", "f|exists: false", &[("g", "x")], true),
    ("exists false present", "f|exists: false", &[("f", "x")], false),
    ("exists quoted", "f|exists: 'TRUE'", &[("f", "x")], true),
    ("star needs presence", "f: '*'", &[("g", "x")], false),
    ("star matches empty", "f: '*'", &[("f", "")], true),
    // --- cidr --------------------------------------------------------------------------------
    ("cidr v4", "ip|cidr: 10.0.0.0/8", &[("ip", "10.1.2.3")], true),
    ("cidr v4 miss", "ip|cidr: 10.0.0.0/8", &[("ip", "11.0.0.1")], false),
    ("cidr not an ip", "ip|cidr: 10.0.0.0/8", &[("ip", "10.x")], false),
    ("cidr v6", "ip|cidr: 'fd00::/8'", &[("ip", "fd12:3456::1")], true),
    ("cidr v6 miss", "ip|cidr: 'fd00::/8'", &[("ip", "fe80::1")], false),
    ("cidr v4-mapped v6", "ip|cidr: 10.0.0.0/8", &[("ip", "::ffff:10.0.0.1")], true),
    ("cidr list", "ip|cidr:\n    - 192.168.0.0/16\n    - '::1/128'", &[("ip", "::1")], true),
    ("cidr bare address", "ip|cidr: 203.0.113.5", &[("ip", "203.0.113.5")], true),
    // --- numbers ------------------------------------------------------------------------------
    ("gt numeric not textual", "n|gt: 5", &[("n", "10")], true),
    ("gt equal", "n|gt: 5", &[("n", "5")], false),
    ("gte equal", "n|gte: 5", &[("n", "5")], true),
    ("lt quoted rule value", "n|lt: '100'", &[("n", "99.5")], true),
    ("lt miss", "n|lt: '100'", &[("n", "100")], false),
    ("lte float", "n|lte: 1.5", &[("n", " 1.5 ")], true),
    ("gt text field", "n|gt: 5", &[("n", "many")], false),
    ("gt absent", "n|gt: 5", &[("m", "9")], false),
    // --- neq ----------------------------------------------------------------------------------
    ("neq differs", "f|neq: admin", &[("f", "root")], true),
    ("neq equal folded", "f|neq: admin", &[("f", "Admin")], false),
    ("neq absent", "f|neq: admin", &[("g", "root")], false),
    ("neq list none", "f|neq:\n    - a\n    - b", &[("f", "c")], true),
    ("neq list one", "f|neq:\n    - a\n    - b", &[("f", "b")], false),
    ("neq number", "port|neq: 22", &[("port", "2222")], true),
    ("neq null is exists", "f|neq: null", &[("f", "")], true),
    // --- fieldref -----------------------------------------------------------------------------
    ("fieldref equal folded", "f|fieldref: g", &[("f", "Root"), ("g", "root")], true),
    ("fieldref differ", "f|fieldref: g", &[("f", "a"), ("g", "b")], false),
    ("fieldref other absent", "f|fieldref: g", &[("f", "a")], false),
    ("fieldref cased", "f|fieldref|cased: g", &[("f", "Root"), ("g", "root")], false),
    ("fieldref startswith", "f|fieldref|startswith: g", &[("f", "rootkit"), ("g", "ROOT")], true),
    ("fieldref contains", "f|contains|fieldref: g", &[("f", "a root b"), ("g", "root")], true),
    ("fieldref neq", "f|fieldref|neq: g", &[("f", "a"), ("g", "b")], true),
    ("fieldref neq same", "f|fieldref|neq: g", &[("f", "a"), ("g", "a")], false),
    // --- regular expressions ----------------------------------------------------------------------
    ("re searches", "f|re: 'b+'", &[("f", "abbc")], true),
    ("re case-sensitive", "f|re: '^a.c$'", &[("f", "ABC")], false),
    ("re i", "f|re|i: '^a.c$'", &[("f", "ABC")], true),
    ("re inline flag", "f|re: '(?i)^a.c$'", &[("f", "ABC")], true),
    ("re without m", "f|re: '^b$'", &[("f", "a\nb")], false),
    ("re m", "f|re|m: '^b$'", &[("f", "a\nb")], true),
    ("re without s", "f|re: 'a.b'", &[("f", "a\nb")], false),
    ("re s", "f|re|s: 'a.b'", &[("f", "a\nb")], true),
    ("re list", "f|re:\n    - '^x'\n    - '\\d{3}'", &[("f", "a123")], true),
    // --- windash --------------------------------------------------------------------------------------
    ("windash slash", "f|windash|contains: ' -enc '", &[("f", "ps /enc abc")], true),
    ("windash en dash", "f|windash|contains: ' -enc '", &[("f", "ps \u{2013}enc abc")], true),
    ("windash horizontal bar", "f|windash|contains: ' -enc '", &[("f", "ps \u{2015}enc abc")], true),
    ("windash still needs a dash", "f|windash|contains: ' -enc '", &[("f", "ps enc abc")], false),
    ("windash many dashes", "f|windash|contains: '-a -b -c -d'", &[("f", "x /a \u{2014}b -c /d")], true),
    ("windash many dashes miss", "f|windash|contains: '-a -b -c -d'", &[("f", "x /a +b -c /d")], false),
    // --- base64 ----------------------------------------------------------------------------------------
    ("base64", "f|base64: 'abc'", &[("f", "YWJj")], true),
    ("base64 is cased", "f|base64: 'abc'", &[("f", "ywjj")], false),
    ("base64offset 0", "f|base64offset|contains: '/bin/bash'", &[("f", "echo L2Jpbi9iYXNoIC1p | base64 -d")], true),
    ("base64offset 1", "f|base64offset|contains: '/bin/bash'", &[("f", "YS9iaW4vYmFzaCAtaQ==")], true),
    ("base64offset 2", "f|base64offset|contains: '/bin/bash'", &[("f", "YWIvYmluL2Jhc2ggLWk=")], true),
    ("base64offset other", "f|base64offset|contains: '/bin/bash'", &[("f", "L2Jpbi9zaCAtaQ==")], false),
    ("base64offset cased", "f|base64offset|contains: '/bin/bash'", &[("f", "l2jpbi9iyxnoic1p")], false),
    ("utf16le base64offset 0", "f|utf16le|base64offset|contains: 'cmd'", &[("f", "YwBtAGQAIAAvAGMAIAB4AA==")], true),
    ("wide base64offset 2", "f|wide|base64offset|contains: 'cmd'", &[("f", "eABjAG0AZAAgAC8AYwA=")], true),
    ("utf16le base64offset 1", "f|utf16le|base64offset|contains: 'cmd'", &[("f", "eAB5AGMAbQBkACAALwBjAA==")], true),
    ("utf16le base64", "f|utf16le|base64: 'whoami'", &[("f", "dwBoAG8AYQBtAGkA")], true),
    ("utf16 bom base64", "f|utf16|base64: 'whoami'", &[("f", "//53AGgAbwBhAG0AaQA=")], true),
    ("utf16be base64", "f|utf16be|base64: 'whoami'", &[("f", "AHcAaABvAGEAbQBp")], true),
    // --- keywords -------------------------------------------------------------------------------------
    ("keywords are substrings", "keywords:\n    - 'FOO'\n    - 'bar'\ncondition: keywords", &[("message", "xxfooxx")], true),
    ("keywords miss", "keywords:\n    - 'FOO'\n    - 'bar'\ncondition: keywords", &[("message", "baz")], false),
    ("keywords search message only", "keywords:\n    - 'foo'\ncondition: keywords", &[("other", "foo")], false),
    ("keyword wildcard", "keywords:\n    - 'foo*bar'\ncondition: keywords", &[("message", "a foo b bar c")], true),
    ("keyword number", "keywords:\n    - 404\ncondition: keywords", &[("message", "status 404 sent")], true),
    ("lone keyword", "keywords: 'needle'\ncondition: keywords", &[("message", "haystack needle")], true),
    ("keywords all", "keywords:\n    '|all':\n        - truncate\n        - '-s'\ncondition: keywords", &[("message", "truncate -s 0 f")], true),
    ("keywords all miss", "keywords:\n    '|all':\n        - truncate\n        - '-s'\ncondition: keywords", &[("message", "truncate f")], false),
    ("keywords re", "keywords:\n    '|re': 'fo+'\ncondition: keywords", &[("message", "xfoooy")], true),
    ("keywords startswith", "keywords:\n    '|startswith': 'foo'\ncondition: keywords", &[("message", "xfoo")], false),
    ("keyword list with map", "- 'needle'\n- f: x", &[("f", "x")], true),
    // --- conditions -------------------------------------------------------------------------------------
    ("and not", "sel:\n    f: a\nfilter:\n    g: b\ncondition: sel and not filter", &[("f", "a"), ("g", "b")], false),
    ("and not passes", "sel:\n    f: a\nfilter:\n    g: b\ncondition: sel and not filter", &[("f", "a")], true),
    ("or", "s1:\n    f: a\ns2:\n    g: b\ncondition: s1 or s2", &[("g", "b")], true),
    ("parentheses", "s1:\n    f: a\ns2:\n    g: b\ns3:\n    h: c\ncondition: s1 and (s2 or s3)", &[("f", "a"), ("h", "c")], true),
    ("precedence and over or", "s1:\n    f: a\ns2:\n    g: b\ns3:\n    h: c\ncondition: s1 or s2 and s3", &[("f", "a")], true),
    ("precedence not", "s1:\n    f: a\ns2:\n    g: b\ncondition: not s1 and s2", &[("g", "b")], true),
    ("1 of pattern", "sel_a:\n    f: a\nsel_b:\n    g: b\ncondition: 1 of sel_*", &[("g", "b")], true),
    ("all of pattern", "sel_a:\n    f: a\nsel_b:\n    g: b\ncondition: all of sel_*", &[("g", "b")], false),
    ("all of pattern passes", "sel_a:\n    f: a\nsel_b:\n    g: b\ncondition: all of sel_*", &[("f", "a"), ("g", "b")], true),
    ("1 of them", "s1:\n    f: a\ns2:\n    g: b\ncondition: 1 of them", &[("f", "a")], true),
    ("all of them skips underscore", "s1:\n    f: a\n_s2:\n    g: b\ncondition: all of them", &[("f", "a")], true),
    ("not 1 of", "sel:\n    f: a\nfilter_1:\n    g: b\nfilter_2:\n    h: c\ncondition: sel and not 1 of filter_*", &[("f", "a"), ("h", "c")], false),
    ("condition list is or", "s1:\n    f: a\ns2:\n    g: b\ncondition:\n    - s1\n    - s2", &[("g", "b")], true),
    ("keywords uppercase ops", "s1:\n    f: a\ns2:\n    g: b\ncondition: s1 AND NOT s2", &[("f", "a")], true),
    // --- field mapping: mapped name first, then as written ----------------------------------------------
    ("mapped name", "DestinationIp|cidr: 10.0.0.0/8", &[("destination.ip", "10.0.0.1")], true),
    ("as written", "DestinationIp|cidr: 10.0.0.0/8", &[("DestinationIp", "10.0.0.1")], true),
    ("mapped wins", "DestinationIp|cidr: 10.0.0.0/8", &[("destination.ip", "1.1.1.1"), ("DestinationIp", "10.0.0.1")], false),
    ("w3c names", "cs-method: POST\nc-uri|contains: '/cgi-bin/'", &[ ("http.request.method", "post"), ("url.original", "/cgi-bin/x"),], true),
];

/// The indented `detection` body for a table entry.
fn detection_of(body: &str) -> String {
    let indent = |text: &str, n: usize| -> String {
        text.lines()
            .map(|l| format!("{}{l}", " ".repeat(n)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    if body.contains("condition:") {
        indent(body, 4)
    } else {
        format!("    sel:\n{}\n    condition: sel", indent(body, 8))
    }
}

fn run_case(body: &str, fields: &[(&str, &str)]) -> Result<bool, String> {
    let text = rule_with(&detection_of(body));
    let (set, reports) = load(&[("case.yml", &text)]);
    match only_status(&reports) {
        LoadStatus::Compiled => {}
        other => return Err(format!("{other}: {}", reports[0])),
    }
    let ev = event(fields);
    Ok(!set.matches_naive(&ev).is_empty())
}

#[test]
fn semantics_table() {
    let mut failures = Vec::new();
    for (name, detection, fields, want) in CASES {
        match run_case(detection, fields) {
            Ok(got) if got == *want => {}
            Ok(got) => failures.push(format!("{name}: expected {want}, got {got}")),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn decomposed_event_text_matches() {
    let decomposed: String = "Đăng nhập".nfd().collect();
    let body = "message|contains: 'ĐĂNG NHẬP'";
    assert_eq!(run_case(body, &[("message", &decomposed)]), Ok(true));
}

/// `(name, rule text, reason)`: rules that load but are not evaluated.
#[rustfmt::skip]
const UNSUPPORTED: &[(&str, &str, &str)] = &[
    ("expand", "f|expand: '%servers%'", "placeholders need a placeholder file"),
    ("unknown modifier", "f|sha256: x", "unknown modifier `sha256`"),
    ("time modifier", "t|hour: 3", "time modifier `hour` is not supported"),
    ("utf16 alone", "f|utf16le: cmd", "`utf16le` is only meaningful before base64 or base64offset"),
    ("wide alone", "f|wide|contains: cmd", "`wide` is only meaningful before base64 or base64offset"),
    ("lookahead", "f|re: 'a(?=b)'", "regular expression: look-around, including look-ahead and look-behind, is not supported"),
    ("aggregation", "sel:\n    f: a\ncondition: sel | count() by host > 5", "aggregation in a condition (`| count() …`) is deprecated; write a correlation rule"),
];

#[test]
fn unsupported_reasons() {
    for (name, detection, want) in UNSUPPORTED {
        let (_, reports) = load(&[("u.yml", &rule_with(&detection_of(detection)))]);
        match only_status(&reports) {
            LoadStatus::Unsupported { reason } => assert_eq!(reason, want, "{name}"),
            other => panic!("{name}: expected unsupported, got {other}: {}", reports[0]),
        }
    }
}

#[test]
fn correlation_rules_compile() {
    let text = "title: Many failed logins\nid: c1\ncorrelation:\n    type: event_count\n    rules:\n        - failed_login\n    group-by:\n        - user.name\n    timespan: 10m\n    condition:\n        gte: 10\nlevel: high\n---\ntitle: Failed login\nname: failed_login\nlogsource:\n    product: linux\n    service: sshd\ndetection:\n    sel:\n        event.outcome: failure\n    condition: sel\n";
    let (set, reports) = load(&[("c.yml", text)]);
    assert_eq!(reports.len(), 2);
    assert!(
        reports.iter().all(|r| r.status.is_compiled()),
        "{reports:#?}"
    );
    assert_eq!(reports[0].kind, Some("correlation"));
    let idx = reports[0].rule.expect("correlation rule kept");
    let crate::RuleKind::Correlation(c) = &set.rule(idx).kind else {
        panic!("not a correlation")
    };
    assert_eq!(c.kind, crate::CorrelationType::EventCount);
    assert_eq!(c.rules, ["failed_login"]);
    assert_eq!(c.rules_at, [(6, 11)]);
    assert_eq!(c.group_by, ["user.name"]);
    assert_eq!(c.timespan, "10m");
    assert_eq!(c.timespan_ms, 600_000);
    assert_eq!(c.condition, [(crate::CondOp::Gte, crate::Number::Int(10))]);
    assert!(!c.generate);
    // kept out of the matcher: only the detection is compiled
    assert_eq!(set.compiled().len(), 1);
    assert_eq!(set.correlations().len(), 1);
    let sources = &set.correlations()[0].sources;
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0].rule, reports[1].rule.expect("detection kept"));
    assert_eq!(sources[0].group_by[0].written, "user.name");
    let ev = event(&[("event.outcome", "failure"), ("user.name", "x")]);
    assert_eq!(set.matches_naive(&ev), [sources[0].rule]);
}

const BASE_RULE: &str = "title: Web shell upload\nid: 6f3e2987-db24-4c78-a860-b4f4095a7095\nname: web_shell_upload\nlogsource:\n    category: webserver\ndetection:\n    sel:\n        cs-method: POST\n        c-uri|endswith: '.php'\n    condition: sel\n";

#[test]
fn filters_are_exceptions() {
    let by_id = "title: Filter the upload tool\nlogsource:\n    category: webserver\nfilter:\n    rules:\n        - 6f3e2987-db24-4c78-a860-b4f4095a7095\n    selection:\n        c-ip|cidr: 10.0.0.0/8\n    condition: selection\n";
    let by_name = "title: Filter by name\nlogsource:\n    category: webserver\nfilter:\n    rules: web_shell_upload\n    selection:\n        c-useragent|startswith: 'uploader/'\n    condition: selection\n";
    let (set, reports) = load(&[
        ("rule.yml", BASE_RULE),
        ("f1.yml", by_id),
        ("f2.yml", by_name),
    ]);
    assert!(
        reports.iter().all(|r| r.status.is_compiled()),
        "{reports:#?}"
    );
    assert!(
        reports.iter().all(|r| r.warnings.is_empty()),
        "{reports:#?}"
    );
    assert_eq!(
        set.compiled().len(),
        1,
        "filters are not rules of their own"
    );
    assert_eq!(set.compiled()[0].exceptions.len(), 2);
    let hit = |fields: &[(&str, &str)]| !set.matches_naive(&event(fields)).is_empty();
    let upload = [
        ("http.request.method", "POST"),
        ("url.original", "/up/x.php"),
    ];
    assert!(hit(&upload));
    assert!(!hit(&[upload[0], upload[1], ("source.ip", "10.1.1.1")]));
    assert!(hit(&[upload[0], upload[1], ("source.ip", "203.0.113.9")]));
    assert!(!hit(&[
        upload[0],
        upload[1],
        ("user_agent.original", "Uploader/2.0")
    ]));
}

#[test]
fn filter_naming_an_unknown_rule_warns() {
    let f = "title: Orphan\nlogsource:\n    category: webserver\nfilter:\n    rules:\n        - no-such-rule\n    selection:\n        c-ip: 10.0.0.1\n    condition: selection\n";
    let (_, reports) = load(&[("f.yml", f)]);
    assert_eq!(
        reports[0].to_string(),
        "f.yml:1:1: compiled filter `Orphan`\nf.yml:1:1: warning: filter names rule `no-such-rule`, which is not loaded"
    );
}

#[test]
fn duplicate_ids_warn() {
    let (_, reports) = load(&[("a.yml", BASE_RULE), ("b.yml", BASE_RULE)]);
    assert!(reports[0].warnings.is_empty());
    assert_eq!(
        reports[1].warnings[0].to_string(),
        "b.yml:1:1: duplicate rule id `6f3e2987-db24-4c78-a860-b4f4095a7095`, first used at a.yml:1"
    );
}

fn syslog(fields: &[(&str, &str)]) -> Event {
    let mut ev = Event::new(
        Dataset::Syslog,
        Origin::new("udp://127.0.0.1:5514", None),
        chrono::Utc::now(),
        Vec::new(),
    );
    for (k, v) in fields {
        ev.set(k, *v);
    }
    ev
}

#[test]
fn logsource_routing_on_canh_events() {
    let sshd_rule = "title: ssh root\nlogsource:\n    product: linux\n    service: auth\ndetection:\n    keywords:\n        - 'for root'\n    condition: keywords\n";
    let web_rule = "title: sqlmap\nlogsource:\n    category: webserver\ndetection:\n    sel:\n        c-useragent|startswith: 'sqlmap/'\n    condition: sel\n";
    let win_rule = "title: windows\nlogsource:\n    product: windows\ndetection:\n    keywords:\n        - 'for root'\n    condition: keywords\n";
    let (set, reports) = load(&[
        ("a.yml", sshd_rule),
        ("b.yml", web_rule),
        ("c.yml", win_rule),
    ]);
    assert!(reports.iter().all(|r| r.status.is_compiled()));
    let titles = |ev: &Event| -> Vec<String> {
        set.matches_naive(ev)
            .into_iter()
            .map(|i| set.rule(i).title.clone())
            .collect()
    };
    let ssh = syslog(&[
        (field::PROCESS_NAME, "sshd"),
        (field::MESSAGE, "Failed password for root from 203.0.113.5"),
    ]);
    assert_eq!(titles(&ssh), ["ssh root"]);
    let nginx_same_text = syslog(&[
        (field::PROCESS_NAME, "nginx"),
        (field::HTTP_REQUEST_METHOD, "GET"),
        (field::USER_AGENT_ORIGINAL, "sqlmap/1.7"),
        (field::MESSAGE, "GET /x for root"),
    ]);
    assert_eq!(titles(&nginx_same_text), ["sqlmap"]);
    // The same fields as a test-format map fit every logsource.
    let map = event(&[("message", "for root"), ("c-useragent", "sqlmap/1")]);
    assert_eq!(set.matches_naive(&map).len(), 3);
}

#[test]
fn canh_event_fields_and_virtual_fields() {
    let rule = "title: by dataset\nlogsource:\n    product: linux\ndetection:\n    sel:\n        event.dataset: syslog\n        process.pid|gt: 100\n        source.ip|cidr: 203.0.113.0/24\n    condition: sel\n";
    let (set, _) = load(&[("r.yml", rule)]);
    let mut ev = syslog(&[(field::PROCESS_NAME, "sshd")]);
    ev.set(field::PROCESS_PID, 4242i64);
    ev.set(
        field::SOURCE_IP,
        "203.0.113.5".parse::<std::net::IpAddr>().unwrap(),
    );
    assert_eq!(set.matches_naive(&ev).len(), 1);
    ev.set(field::PROCESS_PID, 7i64);
    assert!(set.matches_naive(&ev).is_empty());
}

#[test]
fn identical_patterns_are_entered_once() {
    let a = "title: a\nlogsource:\n    product: linux\ndetection:\n    sel:\n        CommandLine|contains: 'curl'\n    condition: sel\n";
    let b = "title: b\nlogsource:\n    product: linux\ndetection:\n    sel:\n        CommandLine|contains: 'CURL'\n        Image|endswith: '/curl'\n    condition: sel\n";
    let (set, _) = load(&[("a.yml", a), ("b.yml", b)]);
    assert_eq!(set.patterns().len(), 2);
    assert_eq!(set.fields().len(), 2);
    let p: &RuleSet = &set;
    let ev = event(&[
        ("process.command_line", "Curl -s"),
        ("process.executable", "/usr/bin/curl"),
    ]);
    let hits = NaiveHits::new(p, &ev);
    assert_eq!(p.matches(&ev, &hits).len(), 2);
}
