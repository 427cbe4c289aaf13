//! Differential test: canh's reference evaluator against the `sigma-rust` crate.
//!
//! For every SigmaHQ linux/network/web rule that both load, events are given to both as the
//! same flat map of the rule's own field names, so that field naming and logsource routing,
//! which sigma-rust leaves to its caller, are out of the comparison. The events: every corpus
//! line (loghub Linux/OpenSSH and canh's fixtures; values found by canh's field mapping, see
//! [`super::flat_event`]), and one event made from the rule itself (each field it tests set
//! to a value its first literal pattern on that field matches). The match sets must be equal
//! except for the rules in [`EXPLAINED`], where the two read the specification differently;
//! each reason is checked against what the rule contains.

use super::{corpus_lines, flat_event, parse_lines, sigmahq_files};
use canh_rules::{Mapping, RuleSet};
use std::collections::{BTreeMap, BTreeSet};

/// Keyword lists (a list of strings under a search identifier). The specification applies
/// them "to the full log message" (§ Detection › Lists) and calls them "searching for keywords
/// across an entire event" (§ Keywords search): canh searches each keyword as a
/// case-insensitive substring of `message` (`rules/mapping.yml`, `keywords: message`).
/// sigma-rust 0.7 (`EventValue::contains_keyword`) matches a keyword as a wildcard pattern
/// against each *whole* field value, so a keyword without `*` only matches a value that is
/// exactly the keyword. canh then matches where sigma-rust does not, or the other way round
/// when the keywords are negated (`selection and not 1 of filter_*`).
const KEYWORDS: &str = "keywords: canh searches substrings of the message, sigma-rust \
                        matches each keyword against whole field values";

/// `null` values. canh reads `field: null` as "the event does not have the field" (spec
/// § Special field values: "A null value is defined with null", its use "depends on the target
/// SIEM"; a log line simply lacks the field). sigma-rust 0.7 (`Field::evaluate`) matches `null`
/// only against a field present with a null value, and an absent field never.
const NULL: &str = "null: canh matches an absent field, sigma-rust only an explicit null value";

/// Numbers and booleans written unquoted (`EventID: 4625`, `Initiated: true`). The spec says
/// "All values are treated as case-insensitive strings" (§ Detection › General), and canh
/// compares their text; sigma-rust 0.7 compares them by type ("strong type checking" in its
/// README), so the text `"4625"` a log line carries never equals the number `4625`.
const TYPED: &str = "typed values: canh compares numbers and booleans as text, sigma-rust by \
                     type";

/// Share of the compared rules (numerator, denominator) that must match some event in either
/// engine, so that most of the comparison is about matches and not only about misses.
const MIN_MATCHED_SHARE: (usize, usize) = (2, 3);

/// Rules on which canh and sigma-rust disagree, and why. The test fails on a
/// difference not listed here and on a listed rule that no longer differs.
const EXPLAINED: &[(&str, &str)] = &[
    ("021310d9-30a6-480a-84b7-eaa69aeb92bb", KEYWORDS),
    ("0ac15ec3-d24f-4246-aa2a-3077bb1cf90e", KEYWORDS), // Privileged User Has Been Created
    ("0fadd880-6af3-4610-b1e5-008dc3a11b8a", KEYWORDS),
    ("1543ae20-cbdf-4ec1-8d12-7664d667a825", TYPED),
    ("18b042f0-2ecd-4b6e-9f8d-aa7a7e7de781", KEYWORDS),
    ("1da8ce0b-855d-4004-8860-7d64d42063b1", KEYWORDS),
    ("1edd77db-0669-4fef-9598-165bda82826d", KEYWORDS),
    ("1f978c6a-4415-47fb-aca5-736a44d7ca3d", KEYWORDS),
    ("21541900-27a9-4454-9c4c-3f0a4240344a", TYPED),
    ("2aa1440c-9ae9-4d92-84a7-a9e5f5e31695", KEYWORDS), // Suspicious Activity in Shell Commands
    ("2ea44a60-cfda-11ea-87d0-0242ac130003", NULL),
    ("377f33a1-4b36-4ee1-acee-1dbe4b43cfbe", KEYWORDS),
    ("412d55bc-7737-4d25-9542-5b396867ce55", KEYWORDS),
    ("41e5c73d-9983-4b69-bd03-e13b67e9623c", KEYWORDS),
    ("49f5dfc1-f92e-4d34-96fa-feba3f6acf36", KEYWORDS),
    ("4cb57c2f-1f29-41f8-893d-8bed8e1c1d2f", KEYWORDS),
    ("5513deaf-f49a-46c2-a6c8-3f111b5cb453", KEYWORDS), // SQL Injection Strings In URI
    ("583aa0a2-30b1-4d62-8bf3-ab73689efe6c", KEYWORDS),
    ("59ec40bb-322e-40ab-808d-84fa690d7e56", KEYWORDS),
    ("5e51acb2-bcbe-435b-99c6-0e3cd5e2aa59", KEYWORDS), // Cisco Stage Data
    ("65354b83-a2ea-4ea6-8414-3ab38be0d409", KEYWORDS), // Cross Site Scripting Strings
    ("671ffc77-50a7-464f-9e3d-9ea2b493b26b", KEYWORDS), // Cisco Modify Configuration
    ("6cc5fceb-9a71-4c23-aeeb-963abe0b279c", KEYWORDS), // Suspicious Use of /dev/tcp
    ("6d844f0f-1c18-41af-8f19-33e7654edfc3", KEYWORDS), // Cisco Local Accounts
    ("6eea1bf6-f8d2-488a-a742-e6ef6c1b67db", TYPED),
    ("70b4156e-50fc-4523-aa50-c9dddf1993fc", KEYWORDS),
    ("71d65515-c436-43c0-841b-236b1f32c21e", KEYWORDS), // Cisco File Deletion
    ("738d9bcf-6999-4fdb-b4ac-3033037db8ab", KEYWORDS), // Suspicious Reverse Shell Command Line
    ("7a14080d-a048-4de8-ae58-604ce58a795b", KEYWORDS), // Remote File Copy
    ("7e3c4651-c347-40c4-b1d4-d48590fdf684", KEYWORDS),
    ("7ff9db12-1b94-4a79-ba68-a2402c5d6729", KEYWORDS), // Windows Webshell Strings
    ("953d460b-f810-420a-97a2-cfca4c98e602", KEYWORDS), // Source Code Enumeration Detection by Keyword
    ("9705a6a1-6db6-4a16-a987-15b7151e299b", KEYWORDS), // Cisco Discovery
    ("9e8f6035-88bf-4a63-96b6-b17c0508257e", KEYWORDS), // Cisco Disabling Logging
    ("af202fd3-7bff-4212-a25a-fb34606cfcbe", KEYWORDS), // Modifying Crontab
    ("b094d9fb-b1ad-4650-9f1a-fb7be9f1d34b", KEYWORDS),
    ("b9e1f193-d236-4451-aaae-2f3d2102120d", KEYWORDS),
    ("c0d3734d-330f-4a03-aae2-65dacc6a8222", TYPED),
    ("c52a914f-3d8b-4b2a-bb75-b3991e75f8ba", KEYWORDS), // Binary Padding - Linux
    ("c67e0c98-4d39-46ee-8f6b-437ebf6b950e", KEYWORDS), // Shellshock Expression
    ("c67fc22a-0be5-4b4f-aad5-2b32c4b69523", KEYWORDS),
    ("c8e35e96-19ce-4f16-aeb6-fd5588dc5365", KEYWORDS),
    ("cd072b25-a418-4f98-8ebc-5093fb38fe1a", KEYWORDS), // Cisco Collect Data
    ("ceb407f6-8277-439b-951f-e4210e3ed956", KEYWORDS), // Cisco Clear Logs
    ("d7fb8f0e-bd5f-45c2-b467-19571c490d7e", TYPED),
    ("d94a35f0-7a29-45f6-90a0-80df6159967c", KEYWORDS), // Cisco Denial of Service
    ("dbfc7c98-04ab-4ab7-aa94-c74d22aa7376", TYPED),
    ("e09eb557-96d2-4de9-ba2d-30f712a5afd3", KEYWORDS),
    ("e497a24e-9345-4a62-9803-b06d7d7cb132", TYPED),
    ("e76b413a-83d0-4b94-8e4c-85db4a5b8bdc", KEYWORDS),
    ("e9a2b582-3f6a-48ac-b4a1-6849cdc50b3c", KEYWORDS),
    ("eae8ce9f-bde9-47a6-8e79-f20d18419910", KEYWORDS),
    ("eca5e022-d368-4043-98e5-9736fb01f72f", TYPED),
    ("ef0ff092-a24a-4fbc-beea-06c08d53e085", KEYWORDS),
    ("f64b6e9a-5d9d-48a5-8289-e1dd2b3876e1", KEYWORDS),
    ("fdc88d25-96fb-4b7c-9633-c0e417fdbd4e", KEYWORDS),
];

#[test]
fn sigma_rust_agrees_with_reference() {
    let Some(files) = sigmahq_files("sigma_rust_agrees_with_reference") else {
        return;
    };
    let lines = corpus_lines("sigma_rust_agrees_with_reference");
    let events = parse_lines(&lines);
    let (mut both, mut sigma_refused) = (0, 0);
    let mut keyword_rules: BTreeSet<String> = BTreeSet::new();
    let mut null_rules: BTreeSet<String> = BTreeSet::new();
    let mut typed_rules: BTreeSet<String> = BTreeSet::new();
    let mut differ: BTreeMap<String, String> = BTreeMap::new();
    let mut matched_rules = 0;
    for (path, text) in &files {
        let (set, _) = RuleSet::load(&[(path.clone(), text.clone())], Mapping::builtin());
        if set.compiled().len() != 1 {
            continue;
        }
        let Ok(theirs) = sigma_rust::rule_from_yaml(text) else {
            sigma_refused += 1;
            continue;
        };
        both += 1;
        let rule = set.rule(set.compiled()[0].rule);
        let id = rule.id.clone().unwrap_or_else(|| rule.title.clone());
        if has_keyword_list(text) {
            keyword_rules.insert(id.clone());
        }
        let values = detection_values(text);
        if values.iter().any(|v| matches!(v, Value::Null)) {
            null_rules.insert(id.clone());
        }
        if values.iter().any(|v| matches!(v, Value::Typed)) {
            typed_rules.insert(id.clone());
        }
        // many events give the same flat map (most lack the rule's fields): test each once
        let mut seen: BTreeSet<BTreeMap<String, String>> = BTreeSet::new();
        let (mut ours_only, mut theirs_only, mut matched) = (0, 0, 0);
        let mut sample = None;
        let flats = events
            .iter()
            .zip(&lines)
            .map(|(ev, (at, _))| (at.as_str(), flat_event(&set, ev)))
            .chain(std::iter::once(("the rule's own values", own_values(&set))));
        for (at, flat) in flats {
            if !seen.insert(flat.clone()) {
                continue;
            }
            let ours = !set.matches_naive(&flat).is_empty();
            let them = theirs.is_match(&sigma_event(&flat, &[], false));
            matched += usize::from(ours || them);
            if ours != them {
                if ours {
                    ours_only += 1;
                } else {
                    theirs_only += 1;
                }
                sample.get_or_insert_with(|| {
                    // the same event with the null and typed-value readings made sigma-rust's
                    let neutral = sigma_event(&flat, &null_fields(text), true);
                    let agrees = theirs.is_match(&neutral) == ours;
                    format!("{NEUTRALIZED}{agrees}; e.g. {at}: {flat:?}")
                });
            }
        }
        matched_rules += usize::from(matched > 0);
        if let Some(sample) = sample {
            differ.insert(
                id,
                format!(
                    "`{}` ({path}): canh only {ours_only}, sigma-rust only {theirs_only}; \
                     {sample}",
                    rule.title
                ),
            );
        }
    }
    println!(
        "sigma-rust: {both} rules loaded by both, {sigma_refused} refused by sigma-rust; \
         {matched_rules} match some event (in either engine); {} differ",
        differ.len()
    );
    for (id, d) in &differ {
        println!("differs {id}: {d}");
    }
    // the rule-made events reach most rules: the comparison is not of empty answers
    assert!(
        matched_rules * MIN_MATCHED_SHARE.1 >= both * MIN_MATCHED_SHARE.0,
        "only {matched_rules} of {both} rules match any event"
    );
    // each reason must fit the rule: a keyword list, a null value, a typed value
    for (id, why) in EXPLAINED {
        let Some(d) = differ.get(*id) else { continue };
        let fits = match *why {
            KEYWORDS => keyword_rules.contains(*id),
            NULL => null_rules.contains(*id),
            TYPED => typed_rules.contains(*id),
            _ => false,
        };
        assert!(
            fits,
            "{id}: the rule has nothing the reason names ({why}): {d}"
        );
        if *why == NULL || *why == TYPED {
            assert!(
                d.contains(&format!("{NEUTRALIZED}true")),
                "{id}: explained by {why}, but sigma-rust still differs on the event with \
                 explicit nulls and typed values: {d}"
            );
        }
    }
    let explained: BTreeMap<&str, &str> = EXPLAINED.iter().copied().collect();
    let unexplained: Vec<&String> = differ
        .keys()
        .filter(|id| !explained.contains_key(id.as_str()))
        .collect();
    for id in &unexplained {
        let mut why = Vec::new();
        for (set, name) in [
            (&keyword_rules, "KEYWORDS"),
            (&null_rules, "NULL"),
            (&typed_rules, "TYPED"),
        ] {
            if set.contains(*id) {
                why.push(name);
            }
        }
        println!("unexplained: (\"{id}\", {}),", why.join(" | "));
    }
    assert!(
        unexplained.is_empty(),
        "unexplained differences: {unexplained:?}"
    );
    let stale: Vec<&&str> = explained
        .keys()
        .filter(|id| !differ.contains_key(**id))
        .collect();
    assert!(
        stale.is_empty(),
        "explained but no longer different: {stale:?}"
    );
}

/// Whether a rule's detection has a keyword list: a search identifier whose value is a list
/// of plain values, or a map with the lone key `|all`.
fn has_keyword_list(text: &str) -> bool {
    use canh_rules::yaml::NodeKind;
    let (docs, _) = canh_rules::yaml::parse(text);
    let Some(detection) = docs.first().and_then(|d| d.get("detection")) else {
        return false;
    };
    detection.as_map().unwrap_or(&[]).iter().any(|(k, v)| {
        k.as_str() != Some("condition")
            && match &v.kind {
                NodeKind::Seq(items) => items.iter().all(|i| i.as_str().is_some()),
                NodeKind::Map(m) => m.len() == 1 && m[0].0.as_str() == Some("|all"),
                _ => false,
            }
    })
}

/// Marks, in a difference's description, whether sigma-rust agrees with canh once the event
/// has explicit nulls and typed values.
const NEUTRALIZED: &str = "agrees with explicit nulls and typed values: ";

/// A sigma-rust event with the values of `flat`; with `neutral`, values that read as integers
/// or booleans are given typed and each of `nulls` the event lacks is given as an explicit null
/// (how sigma-rust wants them; see [`NULL`] and [`TYPED`]).
fn sigma_event(
    flat: &BTreeMap<String, String>,
    nulls: &[String],
    neutral: bool,
) -> sigma_rust::Event {
    let mut ev = sigma_rust::Event::new();
    for (k, v) in flat {
        match (neutral, v.parse::<i64>(), v.as_str()) {
            (true, Ok(n), _) => ev.insert(k.as_str(), n),
            (true, _, "true" | "false") => ev.insert(k.as_str(), v == "true"),
            _ => ev.insert(k.as_str(), v.as_str()),
        }
    }
    if neutral {
        for n in nulls.iter().filter(|n| !flat.contains_key(*n)) {
            ev.insert(n.as_str(), None::<i32>);
        }
    }
    ev
}

/// Fields the rule's detection tests against `null` (the name before any `|`).
fn null_fields(text: &str) -> Vec<String> {
    use canh_rules::yaml::{Node, NodeKind};
    fn walk(n: &Node, out: &mut Vec<String>) {
        match &n.kind {
            NodeKind::Seq(items) => items.iter().for_each(|i| walk(i, out)),
            NodeKind::Map(m) => {
                for (k, v) in m {
                    if v.is_null()
                        && let Some(name) = k.as_str()
                    {
                        out.push(name.split('|').next().unwrap_or(name).to_owned());
                    }
                    walk(v, out);
                }
            }
            _ => {}
        }
    }
    let (docs, _) = canh_rules::yaml::parse(text);
    let mut out = Vec::new();
    if let Some(det) = docs.first().and_then(|d| d.get("detection")) {
        walk(det, &mut out);
    }
    out
}

/// The kinds of values in a rule's detection that the two engines read differently.
enum Value {
    Null,
    /// An unquoted number or boolean.
    Typed,
    Other,
}

/// Every value under the rule's search identifiers (not the condition).
fn detection_values(text: &str) -> Vec<Value> {
    use canh_rules::yaml::{Node, NodeKind};
    fn walk(n: &Node, out: &mut Vec<Value>) {
        match &n.kind {
            NodeKind::Null => out.push(Value::Null),
            NodeKind::Scalar { text, plain, .. } => out.push(
                if *plain
                    && (text.parse::<f64>().is_ok() || matches!(text.as_str(), "true" | "false"))
                {
                    Value::Typed
                } else {
                    Value::Other
                },
            ),
            NodeKind::Seq(items) => items.iter().for_each(|i| walk(i, out)),
            NodeKind::Map(m) => m.iter().for_each(|(_, v)| walk(v, out)),
        }
    }
    let (docs, _) = canh_rules::yaml::parse(text);
    let mut out = Vec::new();
    if let Some(det) = docs.first().and_then(|d| d.get("detection")) {
        for (k, v) in det.as_map().unwrap_or(&[]) {
            if k.as_str() != Some("condition") {
                walk(v, &mut out);
            }
        }
    }
    out
}

/// An event made from the rule: each field its literal patterns test, set to a value the
/// first of them matches (`Exact` as is, anchors padded with `zz`).
fn own_values(set: &RuleSet) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for p in set.patterns() {
        if let canh_rules::PatternSource::Literal { text, anchor, .. } = &p.source
            && let Some(field) = set.fields().get(p.field.0 as usize)
        {
            let value = match anchor {
                canh_rules::Anchor::Exact => text.clone(),
                canh_rules::Anchor::Prefix => format!("{text}zz"),
                canh_rules::Anchor::Suffix => format!("zz{text}"),
                canh_rules::Anchor::Contains => format!("zz{text}zz"),
            };
            out.entry(field.written.clone()).or_insert(value);
        }
    }
    out
}
