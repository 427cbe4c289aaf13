//! Property tests: the naive evaluator agrees with an independent oracle (its own escape
//! reader and a glob matcher on folded text); literal patterns agree with equivalent regular
//! expressions; conditions agree with direct boolean evaluation; loading never panics.

use super::{event, load, rule_with};
use crate::{Anchor, LoadStatus, PatternSource, fold, load_text};
use proptest::prelude::*;

/// Characters of generated rule values: wildcards, escapes, dashes, Vietnamese letters with
/// case, and `İ` (whose lowercase is two characters).
const VALUE_CHARS: &[char] = &[
    'a', 'B', 'x', 'đ', 'Đ', 'ă', 'Ă', 'İ', '*', '?', '\\', '-', '/', ' ',
];
/// Characters of generated event text; also a combining breve, which NFC composes.
const TEXT_CHARS: &[char] = &[
    'a', 'A', 'b', 'B', 'x', 'đ', 'Đ', 'ă', 'Ă', 'i', 'İ', '*', '?', '\\', '-', '/', '\u{2013}',
    ' ', '\u{306}',
];

const WINDASH: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    C(char),
    Set(Vec<char>),
    Star,
    One,
}

/// The spec's escape rules, written again from the text of the specification.
fn oracle_tokens(value: &str) -> Vec<Tok> {
    let cs: Vec<char> = value.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if c == '\\' && i + 1 < cs.len() && matches!(cs[i + 1], '*' | '?' | '\\') {
            out.push(Tok::C(cs[i + 1]));
            i += 2;
            continue;
        }
        out.push(match c {
            '*' => Tok::Star,
            '?' => Tok::One,
            c => Tok::C(c),
        });
        i += 1;
    }
    out
}

/// Classic dynamic-programming glob match.
fn glob(p: &[Tok], t: &[char]) -> bool {
    let mut dp = vec![vec![false; t.len() + 1]; p.len() + 1];
    dp[0][0] = true;
    for i in 1..=p.len() {
        for j in 0..=t.len() {
            dp[i][j] = match &p[i - 1] {
                Tok::Star => dp[i - 1][j] || (j > 0 && dp[i][j - 1]),
                Tok::One => j > 0 && dp[i - 1][j - 1],
                Tok::C(c) => j > 0 && dp[i - 1][j - 1] && t[j - 1] == *c,
                Tok::Set(s) => j > 0 && dp[i - 1][j - 1] && s.contains(&t[j - 1]),
            };
        }
    }
    dp[p.len()][t.len()]
}

fn oracle(value: &str, anchor: &str, cased: bool, windash: bool, text: Option<&str>) -> bool {
    let Some(text) = text else { return false };
    let mut toks = oracle_tokens(value);
    if windash {
        toks = toks
            .into_iter()
            .map(|t| match t {
                Tok::C(c) if WINDASH.contains(&c) => Tok::Set(WINDASH.to_vec()),
                t => t,
            })
            .collect();
    }
    if matches!(anchor, "contains" | "endswith") {
        toks.insert(0, Tok::Star);
    }
    if matches!(anchor, "contains" | "startswith") {
        toks.push(Tok::Star);
    }
    let text: Vec<char> = if cased {
        text.chars().collect()
    } else {
        toks = toks
            .into_iter()
            .flat_map(|t| match t {
                Tok::C(c) => fold(&c.to_string()).chars().map(Tok::C).collect(),
                other => vec![other],
            })
            .collect();
        fold(text).chars().collect()
    };
    glob(&toks, &text)
}

fn string_of(chars: &'static [char], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(chars), 0..max).prop_map(|v| v.into_iter().collect())
}

/// Pieces of generated rule values, escapes written out so they are common.
const VALUE_UNITS: &[&str] = &[
    "a", "B", "x", "đ", "Đ", "Ă", "İ", "*", "?", "\\", "\\\\", "\\*", "\\?", "\\\\*", "\\\\\\*",
    "-", "/", " ",
];

fn value_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(VALUE_UNITS), 0..6).prop_map(|v| v.concat())
}

/// Event text: random, or the value itself edited a little (so that matches are frequent
/// and near-misses are tried).
fn text_for(value: String) -> impl Strategy<Value = Option<String>> {
    let edits = prop::collection::vec((0u8..6, prop::sample::select(TEXT_CHARS)), 0..12);
    prop_oneof![
        1 => Just(None),
        3 => string_of(TEXT_CHARS, 9).prop_map(Some),
        6 => edits.prop_map(move |edits| {
            let mut out = String::new();
            for (i, c) in value.chars().enumerate() {
                match edits.get(i).map(|e| e.0) {
                    Some(0) => {}
                    Some(1) => out.extend(c.to_uppercase()),
                    Some(2) => {
                        out.push(c);
                        out.push(edits[i].1);
                    }
                    Some(3) => out.push(edits[i].1),
                    _ => out.push(c),
                }
            }
            Some(out)
        }),
    ]
}

/// An independent reading of a literal pattern: the same test as a regular expression.
fn literal_as_regex(text: &str, anchor: Anchor) -> regex::Regex {
    let body = regex::escape(text);
    let src = match anchor {
        Anchor::Exact => format!(r"\A{body}\z"),
        Anchor::Prefix => format!(r"\A{body}"),
        Anchor::Suffix => format!(r"{body}\z"),
        Anchor::Contains => body,
    };
    regex::Regex::new(&src).expect("escaped literal is a valid regex")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn naive_equals_oracle(
        (value, text) in prop_oneof![
            (string_of(VALUE_CHARS, 7), prop::option::of(string_of(TEXT_CHARS, 9))),
            value_strategy().prop_flat_map(|v| (Just(v.clone()), text_for(v))),
        ],
        anchor in prop::sample::select(&["", "contains", "startswith", "endswith"][..]),
        cased in any::<bool>(),
        windash in any::<bool>(),
    ) {
        let mut key = String::from("f");
        if windash {
            key.push_str("|windash");
        }
        if !anchor.is_empty() {
            key.push('|');
            key.push_str(anchor);
        }
        if cased {
            key.push_str("|cased");
        }
        let detection = format!("    sel:\n        '{key}': '{value}'\n    condition: sel");
        let (set, reports) = load(&[("p.yml", &rule_with(&detection))]);
        prop_assert!(reports[0].status.is_compiled(), "{}", reports[0]);
        let fields: Vec<(&str, &str)> = text.as_deref().map(|t| ("f", t)).into_iter().collect();
        let ev = event(&fields);
        let got = !set.matches_naive(&ev).is_empty();
        let want = oracle(&value, anchor, cased, windash, text.as_deref());
        prop_assert_eq!(got, want, "value {:?} key {} text {:?}", value, key, text);

        // Every literal pattern agrees with its regular-expression reading.
        if let Some(raw) = text.as_deref() {
            let folded = fold(raw);
            for p in set.patterns() {
                if let PatternSource::Literal { text: lit, anchor, .. } = &p.source {
                    let hay = p.source.haystack(raw, &folded);
                    prop_assert_eq!(
                        set.pattern_is_match(p.id, raw, &folded),
                        literal_as_regex(lit, *anchor).is_match(hay)
                    );
                }
            }
        }
    }

    #[test]
    fn conditions_equal_boolean_evaluation(
        formula in formula(),
        present in prop::collection::vec(any::<bool>(), 3),
    ) {
        let (text, _) = render(&formula);
        let detection = format!(
            "    s1:\n        f1: x\n    s2:\n        f2: x\n    s3:\n        f3: x\n    condition: {text}"
        );
        let (set, reports) = load(&[("c.yml", &rule_with(&detection))]);
        prop_assert!(reports[0].status.is_compiled(), "{}", reports[0]);
        let names = ["f1", "f2", "f3"];
        let fields: Vec<(&str, &str)> = names
            .iter()
            .zip(&present)
            .filter(|(_, p)| **p)
            .map(|(n, _)| (*n, "x"))
            .collect();
        let got = !set.matches_naive(&event(&fields)).is_empty();
        prop_assert_eq!(got, truth(&formula, &present), "{}", text);
    }

    #[test]
    fn loading_never_panics(text in "\\PC{0,300}") {
        let _ = load_text("fuzz.yml", &text);
    }

    #[test]
    fn loading_rule_shaped_noise_never_panics(
        parts in prop::collection::vec(prop::sample::select(&[
            "title: t\n", "logsource:\n", "    product: linux\n", "detection:\n", "    sel:\n",
            "        f|contains: a\n", "        f|re: '('\n", "        - x\n", "        f|cidr: 1.2.3.4/99\n",
            "    condition: sel\n", "    condition: 1 of s* and not (sel\n", "---\n", "filter:\n",
            "    rules: x\n", "correlation:\n", "  type: event_count\n", "        f|base64offset|contains: ''\n",
            "        f|windash: '-----------'\n", "        '|all': [a, b]\n", "&a [*a]\n", "{", "]", "\t", "'",
            "        f|utf16|base64: x\n", "        f|fieldref: \n", "        f|gt: 1e400\n",
        ][..]), 0..24)
    ) {
        let text: String = parts.concat();
        let (set, reports) = load(&[("noise.yml", &text)]);
        for r in &reports {
            if let LoadStatus::Invalid { errors } = &r.status {
                prop_assert!(!errors.is_empty());
            }
        }
        let _ = set.matches_naive(&event(&[("f", "a"), ("message", "a b")]));
    }
}

/// A condition over `s1`..`s3`.
#[derive(Debug, Clone)]
enum F {
    Id(usize),
    OneOf,
    AllOf,
    Not(Box<F>),
    And(Box<F>, Box<F>),
    Or(Box<F>, Box<F>),
}

fn formula() -> impl Strategy<Value = F> {
    let leaf = prop_oneof![(0usize..3).prop_map(F::Id), Just(F::OneOf), Just(F::AllOf),];
    leaf.prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|f| F::Not(Box::new(f))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| F::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| F::Or(Box::new(a), Box::new(b))),
        ]
    })
}

/// Renders with as few parentheses as the precedence (or < and < not) allows, so the parser's
/// precedence is exercised. Returns the text and its binding level (0 or, 1 and, 2 tighter).
fn render(f: &F) -> (String, u8) {
    let wrap = |(s, level): (String, u8), need: u8| {
        if level < need { format!("({s})") } else { s }
    };
    match f {
        F::Id(i) => (format!("s{}", i + 1), 2),
        F::OneOf => ("1 of s*".into(), 2),
        F::AllOf => ("all of them".into(), 2),
        F::Not(a) => (format!("not {}", wrap(render(a), 2)), 2),
        F::And(a, b) => (
            format!("{} and {}", wrap(render(a), 1), wrap(render(b), 2)),
            1,
        ),
        F::Or(a, b) => (
            format!("{} or {}", wrap(render(a), 0), wrap(render(b), 1)),
            0,
        ),
    }
}

fn truth(f: &F, present: &[bool]) -> bool {
    match f {
        F::Id(i) => present[*i],
        F::OneOf => present.iter().any(|p| *p),
        F::AllOf => present.iter().all(|p| *p),
        F::Not(a) => !truth(a, present),
        F::And(a, b) => truth(a, present) && truth(b, present),
        F::Or(a, b) => truth(a, present) || truth(b, present),
    }
}
