//! Values and modifiers: one `field|mod|mod: value(s)` entry → an expression over patterns and
//! checks.
//!
//! String values follow the Sigma escape rules: `*` any run of characters, `?` one character,
//! `\*`, `\?` and `\\` the plain characters, any other backslash a plain backslash. Modifiers
//! apply in the order written (`|base64offset|contains` encodes, then searches anywhere).

use crate::diag::Sink;
use crate::expr::{Check, CmpOp, Expr, Leaf, Number, PatternSpec};
use crate::logsource::LogSource;
use crate::mapping::{FieldRef, Mapping};
use crate::pattern::{Anchor, PatternSource, build_regex, fold, regex_reason};
use crate::yaml::{Node, NodeKind};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ipnet::IpNet;
use std::net::IpAddr;

/// The characters `windash` makes interchangeable: hyphen-minus, slash, en dash, em dash and
/// horizontal bar (modifiers appendix).
pub const WINDASH_CHARS: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// Most literal variants one `windash` value expands to (5 per dash: three dashes). Values with
/// more dashes become one regular expression with a character class instead, so a rule cannot
/// blow up the pattern table.
pub const MAX_WINDASH_VARIANTS: usize = 125;

/// One element of a Sigma string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Atom {
    Char(char),
    /// `*`: any run of characters, the empty one included.
    Star,
    /// `?`: exactly one character.
    One,
    /// One of these characters (only `windash` makes these).
    Class(Vec<char>),
}

/// A string value with its wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SigmaStr(pub Vec<Atom>);

impl SigmaStr {
    /// Reads wildcards and escapes.
    pub fn parse(text: &str) -> Self {
        let mut out = Vec::with_capacity(text.len());
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.peek() {
                    Some(&n @ ('*' | '?' | '\\')) => {
                        chars.next();
                        out.push(Atom::Char(n));
                    }
                    _ => out.push(Atom::Char('\\')),
                },
                '*' => out.push(Atom::Star),
                '?' => out.push(Atom::One),
                c => out.push(Atom::Char(c)),
            }
        }
        SigmaStr(out)
    }

    /// A string taken as plain characters.
    pub fn literal(text: &str) -> Self {
        SigmaStr(text.chars().map(Atom::Char).collect())
    }

    /// The text when there is no wildcard.
    pub fn plain_text(&self) -> Option<String> {
        self.0
            .iter()
            .map(|a| match a {
                Atom::Char(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    fn star_front(&mut self) {
        if self.0.first() != Some(&Atom::Star) {
            self.0.insert(0, Atom::Star);
        }
    }

    fn star_back(&mut self) {
        if self.0.last() != Some(&Atom::Star) {
            self.0.push(Atom::Star);
        }
    }

    /// Every dash may be any of [`WINDASH_CHARS`]: literal variants while there are at most
    /// [`MAX_WINDASH_VARIANTS`], else one value with character classes.
    pub fn windash(&self) -> Vec<SigmaStr> {
        let dashes = self
            .0
            .iter()
            .filter(|a| matches!(a, Atom::Char(c) if WINDASH_CHARS.contains(c)))
            .count();
        let variants = u32::try_from(dashes)
            .ok()
            .and_then(|d| WINDASH_CHARS.len().checked_pow(d));
        if variants.is_some_and(|v| v <= MAX_WINDASH_VARIANTS) {
            let mut out = vec![Vec::with_capacity(self.0.len())];
            for a in &self.0 {
                match a {
                    Atom::Char(c) if WINDASH_CHARS.contains(c) => {
                        out = out
                            .into_iter()
                            .flat_map(|v: Vec<Atom>| {
                                WINDASH_CHARS.iter().map(move |d| {
                                    let mut v = v.clone();
                                    v.push(Atom::Char(*d));
                                    v
                                })
                            })
                            .collect();
                    }
                    other => out.iter_mut().for_each(|v| v.push(other.clone())),
                }
            }
            out.into_iter().map(SigmaStr).collect()
        } else {
            let atoms = self
                .0
                .iter()
                .map(|a| match a {
                    Atom::Char(c) if WINDASH_CHARS.contains(c) => {
                        Atom::Class(WINDASH_CHARS.to_vec())
                    }
                    other => other.clone(),
                })
                .collect();
            vec![SigmaStr(atoms)]
        }
    }

    /// The pattern for this value: a literal when the only wildcards are a leading and/or a
    /// trailing `*`, else a regular expression. Not `cased`: the literal parts are folded.
    pub fn to_source(&self, cased: bool) -> PatternSource {
        let segs = segments(&self.0, cased);
        let lead = segs.first() == Some(&Seg::Star);
        let body_start = usize::from(lead);
        let trail = segs.len() > body_start && segs.last() == Some(&Seg::Star);
        let body = &segs[body_start..segs.len() - usize::from(trail)];
        let literal = match body {
            [] => Some(String::new()),
            [Seg::Lit(s)] => Some(s.clone()),
            _ => None,
        };
        if let Some(text) = literal {
            let anchor = match (lead, trail) {
                (false, false) => Anchor::Exact,
                (false, true) => Anchor::Prefix,
                (true, false) if !text.is_empty() => Anchor::Suffix,
                _ => Anchor::Contains,
            };
            return PatternSource::Literal {
                text,
                anchor,
                cased,
            };
        }
        let mut src = String::from("(?s)");
        if !lead {
            src.push_str("\\A");
        }
        for seg in body {
            match seg {
                Seg::Lit(s) => src.push_str(&regex::escape(s)),
                Seg::Star => src.push_str(".*"),
                Seg::One => src.push('.'),
                Seg::Class(cs) => {
                    src.push('[');
                    for c in cs {
                        src.push_str(&regex::escape(&c.to_string()));
                    }
                    src.push(']');
                }
            }
        }
        if !trail {
            src.push_str("\\z");
        }
        PatternSource::Regex { src, cased }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Lit(String),
    Star,
    One,
    Class(Vec<char>),
}

/// Groups characters into (folded) literal runs and merges repeated `*`.
fn segments(atoms: &[Atom], cased: bool) -> Vec<Seg> {
    let mut out: Vec<Seg> = Vec::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut Vec<Seg>| {
        if !run.is_empty() {
            let text = if cased {
                std::mem::take(run)
            } else {
                let f = fold(run).into_owned();
                run.clear();
                f
            };
            out.push(Seg::Lit(text));
        }
    };
    for a in atoms {
        match a {
            Atom::Char(c) => run.push(*c),
            Atom::Star => {
                flush(&mut run, &mut out);
                if out.last() != Some(&Seg::Star) {
                    out.push(Seg::Star);
                }
            }
            Atom::One => {
                flush(&mut run, &mut out);
                out.push(Seg::One);
            }
            Atom::Class(cs) => {
                flush(&mut run, &mut out);
                let mut chars: Vec<char> = Vec::new();
                for c in cs {
                    let folded = if cased {
                        c.to_string()
                    } else {
                        fold(&c.to_string()).into_owned()
                    };
                    for f in folded.chars() {
                        if !chars.contains(&f) {
                            chars.push(f);
                        }
                    }
                }
                out.push(Seg::Class(chars));
            }
        }
    }
    flush(&mut run, &mut out);
    out
}

/// A value modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mod {
    Contains,
    StartsWith,
    EndsWith,
    All,
    Cased,
    Neq,
    Windash,
    Base64,
    Base64Offset,
    Utf16Le,
    Utf16Be,
    Utf16,
    Re,
    ReI,
    ReM,
    ReS,
    Cidr,
    Exists,
    Cmp(CmpOp),
    FieldRef,
}

impl Mod {
    fn parse(name: &str) -> Option<Mod> {
        Some(match name {
            "contains" => Mod::Contains,
            "startswith" => Mod::StartsWith,
            "endswith" => Mod::EndsWith,
            "all" => Mod::All,
            "cased" => Mod::Cased,
            "neq" => Mod::Neq,
            "windash" => Mod::Windash,
            "base64" => Mod::Base64,
            "base64offset" => Mod::Base64Offset,
            "utf16le" | "wide" => Mod::Utf16Le,
            "utf16be" => Mod::Utf16Be,
            "utf16" => Mod::Utf16,
            "re" => Mod::Re,
            "i" => Mod::ReI,
            "m" => Mod::ReM,
            "s" => Mod::ReS,
            "cidr" => Mod::Cidr,
            "exists" => Mod::Exists,
            "gt" => Mod::Cmp(CmpOp::Gt),
            "gte" => Mod::Cmp(CmpOp::Gte),
            "lt" => Mod::Cmp(CmpOp::Lt),
            "lte" => Mod::Cmp(CmpOp::Lte),
            "fieldref" => Mod::FieldRef,
            _ => return None,
        })
    }

    /// Modifiers that decide what kind of test the value is (at most one per entry).
    fn is_type(self) -> bool {
        matches!(
            self,
            Mod::Re | Mod::Cidr | Mod::Exists | Mod::Cmp(_) | Mod::FieldRef
        )
    }

    fn is_string_transform(self) -> bool {
        matches!(
            self,
            Mod::Windash
                | Mod::Base64
                | Mod::Base64Offset
                | Mod::Utf16Le
                | Mod::Utf16Be
                | Mod::Utf16
        )
    }

    fn is_anchor(self) -> bool {
        matches!(self, Mod::Contains | Mod::StartsWith | Mod::EndsWith)
    }
}

/// Sigma's time modifiers: known to the spec, not evaluated by canh.
const TIME_MODIFIERS: &[&str] = &["minute", "hour", "day", "week", "month", "year"];

/// A modifier with the name and column it was written at.
#[derive(Debug, Clone)]
pub(crate) struct ModAt {
    pub m: Mod,
    pub name: String,
    pub line: u32,
    pub col: u32,
}

/// Where an entry is written, for messages.
pub(crate) struct Entry<'a> {
    pub sink_line: u32,
    pub sink_col: u32,
    /// The field as written (empty for keywords).
    pub field_name: &'a str,
}

/// Compiles a map entry `key: value` of a selection.
pub(crate) fn compile_entry(
    sink: &mut Sink<'_>,
    key: &Node,
    value: &Node,
    ls: &LogSource,
    mapping: &Mapping,
) -> Option<Expr<Leaf>> {
    let Some(key_text) = key.as_str() else {
        sink.error(
            key.line,
            key.col,
            format!("expected a field name, found {}", key.describe()),
        );
        return None;
    };
    let mut parts = key_text.split('|');
    let field_name = parts.next().unwrap_or("");
    let mut mods = Vec::new();
    let mut offset = field_name.chars().count() + 1;
    for name in parts {
        let (line, col) = (key.line, key.col_at(offset));
        offset += name.chars().count() + 1;
        match Mod::parse(name) {
            Some(m) => mods.push(ModAt {
                m,
                name: name.to_owned(),
                line,
                col,
            }),
            None if name.is_empty() => {
                sink.error(line, col, "expected a modifier name after `|`");
                return None;
            }
            None if name == "expand" => {
                sink.unsupported("placeholders need a placeholder file");
                return None;
            }
            None if TIME_MODIFIERS.contains(&name) => {
                sink.unsupported(format!("time modifier `{name}` is not supported"));
                return None;
            }
            None => {
                sink.unsupported(format!("unknown modifier `{name}`"));
                return None;
            }
        }
    }
    let keyword = field_name.is_empty();
    let field = if keyword {
        mapping.keyword_field()
    } else {
        mapping.resolve(field_name, ls)
    };
    let entry = Entry {
        sink_line: key.line,
        sink_col: key.col,
        field_name,
    };
    compile_values(sink, &entry, field, &mods, value, keyword, ls, mapping)
}

/// Compiles a keyword (a value in a list under a search identifier, or the identifier's
/// only value): a substring of the keyword field.
pub(crate) fn compile_keyword(
    sink: &mut Sink<'_>,
    value: &Node,
    ls: &LogSource,
    mapping: &Mapping,
) -> Option<Expr<Leaf>> {
    let entry = Entry {
        sink_line: value.line,
        sink_col: value.col,
        field_name: "",
    };
    compile_values(
        sink,
        &entry,
        mapping.keyword_field(),
        &[],
        value,
        true,
        ls,
        mapping,
    )
}

#[allow(clippy::too_many_arguments)]
fn compile_values(
    sink: &mut Sink<'_>,
    entry: &Entry<'_>,
    field: FieldRef,
    mods: &[ModAt],
    value: &Node,
    keyword: bool,
    ls: &LogSource,
    mapping: &Mapping,
) -> Option<Expr<Leaf>> {
    let what = if entry.field_name.is_empty() {
        "keywords".to_owned()
    } else {
        format!("`{}`", entry.field_name)
    };
    // What kind of test, and whether the other modifiers go with it.
    let mut kind: Option<&ModAt> = None;
    for m in mods {
        if m.m.is_type() {
            if let Some(k) = kind
                && k.m != m.m
            {
                sink.error(
                    m.line,
                    m.col,
                    format!("modifier `{}` cannot be combined with `{}`", m.name, k.name),
                );
                return None;
            }
            kind = Some(m);
        }
    }
    let mut seen_re = false;
    for m in mods {
        let bad = match (kind.map(|k| k.m), m.m) {
            (_, Mod::ReI | Mod::ReM | Mod::ReS) if !seen_re => {
                sink.error(
                    m.line,
                    m.col,
                    format!("modifier `{}` applies only after `re`", m.name),
                );
                return None;
            }
            (Some(Mod::Re), other) => other.is_anchor() || other.is_string_transform(),
            (Some(Mod::Cidr | Mod::Cmp(_)), other) => {
                other.is_anchor() || other.is_string_transform() || other == Mod::Cased
            }
            (Some(Mod::Exists), other) => !other.is_type(),
            (Some(Mod::FieldRef), other) => other.is_string_transform(),
            _ => false,
        };
        if bad && let Some(k) = kind {
            sink.error(
                m.line,
                m.col,
                format!("modifier `{}` cannot be combined with `{}`", m.name, k.name),
            );
            return None;
        }
        if m.m == Mod::Re {
            seen_re = true;
        }
    }
    let has = |want: Mod| mods.iter().any(|m| m.m == want);
    let anchored = mods.iter().any(|m| m.m.is_anchor());

    // The values: one, or a list of plain values.
    let items: Vec<&Node> = match &value.kind {
        NodeKind::Seq(items) => {
            if items.is_empty() {
                sink.error(
                    value.line,
                    value.col,
                    format!("empty list of values for {what}"),
                );
                return None;
            }
            let mut ok = true;
            for item in items {
                match &item.kind {
                    NodeKind::Seq(_) | NodeKind::Map(_) => {
                        sink.error(
                            item.line,
                            item.col,
                            format!("expected a value for {what}, found {}", item.describe()),
                        );
                        ok = false;
                    }
                    NodeKind::Null if items.len() > 1 => {
                        sink.error(
                            item.line,
                            item.col,
                            "null cannot be part of a list of values; test it in a selection of its own",
                        );
                        ok = false;
                    }
                    _ => {}
                }
            }
            if !ok {
                return None;
            }
            items.iter().collect()
        }
        NodeKind::Map(_) => {
            sink.error(
                value.line,
                value.col,
                format!("expected a value or a list of values for {what}, found a map"),
            );
            return None;
        }
        _ => vec![value],
    };

    // `field: null`: the field is absent (`neq`: present).
    if let [only] = items.as_slice()
        && only.is_null()
    {
        if let Some(m) = mods.iter().find(|m| m.m != Mod::Neq) {
            sink.error(
                m.line,
                m.col,
                format!("modifier `{}` needs a value, not null", m.name),
            );
            return None;
        }
        return Some(Expr::Leaf(Leaf::Check(Check::Exists {
            field,
            present: has(Mod::Neq),
        })));
    }

    let mut per_value: Vec<Expr<Leaf>> = Vec::with_capacity(items.len());
    match kind.map(|k| k.m) {
        Some(Mod::Exists) => {
            let [only] = items.as_slice() else {
                sink.error(
                    value.line,
                    value.col,
                    "`exists` takes one value, true or false",
                );
                return None;
            };
            let present = match only.as_str().map(str::to_ascii_lowercase).as_deref() {
                Some("true") => true,
                Some("false") => false,
                _ => {
                    sink.error(
                        only.line,
                        only.col,
                        format!(
                            "`exists` takes true or false, found `{}`",
                            only.as_str().unwrap_or("")
                        ),
                    );
                    return None;
                }
            };
            return Some(Expr::Leaf(Leaf::Check(Check::Exists { field, present })));
        }
        Some(Mod::Cidr) => {
            for item in &items {
                let text = item.as_str().unwrap_or("");
                let net = text
                    .trim()
                    .parse::<IpNet>()
                    .or_else(|_| text.trim().parse::<IpAddr>().map(IpNet::from));
                if !sink.spend(1) {
                    return None;
                }
                match net {
                    Ok(net) => per_value.push(Expr::Leaf(Leaf::Check(Check::Cidr {
                        field: field.clone(),
                        net: net.trunc(),
                    }))),
                    Err(_) => sink.error(
                        item.line,
                        item.col,
                        format!(
                            "expected a network such as 10.0.0.0/8 or fd00::/8, found `{text}`"
                        ),
                    ),
                }
            }
        }
        Some(Mod::Cmp(op)) => {
            let name = kind.map(|k| k.name.as_str()).unwrap_or("");
            for item in &items {
                let text = item.as_str().unwrap_or("");
                if !sink.spend(1) {
                    return None;
                }
                match Number::parse(text) {
                    Some(n) => per_value.push(Expr::Leaf(Leaf::Check(Check::Compare {
                        field: field.clone(),
                        op,
                        value: n,
                    }))),
                    None => sink.error(
                        item.line,
                        item.col,
                        format!("`{name}` needs a number, found `{text}`"),
                    ),
                }
            }
        }
        Some(Mod::FieldRef) => {
            let (starts, ends) = (
                has(Mod::StartsWith) || has(Mod::Contains),
                has(Mod::EndsWith) || has(Mod::Contains),
            );
            let anchor = match (starts, ends) {
                (false, false) => Anchor::Exact,
                (true, false) => Anchor::Prefix,
                (false, true) => Anchor::Suffix,
                (true, true) => Anchor::Contains,
            };
            for item in &items {
                let text = item.as_str().unwrap_or("");
                if text.is_empty() {
                    sink.error(item.line, item.col, "`fieldref` needs a field name");
                    continue;
                }
                if !sink.spend(1) {
                    return None;
                }
                per_value.push(Expr::Leaf(Leaf::Check(Check::FieldRef {
                    field: field.clone(),
                    other: mapping.resolve(text, ls),
                    anchor,
                    cased: has(Mod::Cased),
                })));
            }
        }
        Some(Mod::Re) => {
            let mut flags = String::new();
            for (m, f) in [(Mod::ReI, 'i'), (Mod::ReM, 'm'), (Mod::ReS, 's')] {
                if has(m) {
                    flags.push(f);
                }
            }
            for item in &items {
                let text = item.as_str().unwrap_or("");
                if !sink.spend(1) {
                    return None;
                }
                let src = if flags.is_empty() {
                    text.to_owned()
                } else {
                    format!("(?{flags}){text}")
                };
                match build_regex(&src) {
                    Ok(_) => {
                        per_value.push(pattern(&field, PatternSource::Regex { src, cased: true }))
                    }
                    Err(e) => {
                        let reason = regex_reason(&e);
                        if matches!(e, regex::Error::CompiledTooBig(_))
                            || reason.contains("not supported")
                        {
                            sink.unsupported(format!("regular expression: {reason}"));
                        } else {
                            sink.error(
                                item.line,
                                item.col,
                                format!("invalid regular expression: {reason}"),
                            );
                        }
                    }
                }
            }
        }
        _ => {
            // A string: transformations in order, then one pattern per variant.
            let mut steps: Vec<&ModAt> = mods.iter().collect();
            let implicit_contains = ModAt {
                m: Mod::Contains,
                name: "contains".into(),
                line: entry.sink_line,
                col: entry.sink_col,
            };
            if keyword && !anchored {
                steps.push(&implicit_contains);
            }
            for item in &items {
                let text = item.as_str().unwrap_or("");
                let variants = transform(sink, SigmaStr::parse(text), &steps)?;
                if !sink.spend(variants.len()) {
                    return None;
                }
                let mut alts = Vec::with_capacity(variants.len());
                for (s, cased) in variants {
                    let source = s.to_source(cased || has(Mod::Cased));
                    if let PatternSource::Regex { src, .. } = &source
                        && let Err(e) = build_regex(src)
                    {
                        sink.unsupported(format!("value of {what}: {}", regex_reason(&e)));
                        return None;
                    }
                    alts.push(pattern(&field, source));
                }
                per_value.push(Expr::any(alts));
            }
        }
    }
    if sink.failed() {
        return None;
    }
    if has(Mod::Neq) {
        return Some(Expr::all(vec![
            Expr::Leaf(Leaf::Check(Check::Exists {
                field,
                present: true,
            })),
            Expr::negate(Expr::any(per_value)),
        ]));
    }
    Some(if has(Mod::All) {
        Expr::all(per_value)
    } else {
        Expr::any(per_value)
    })
}

fn pattern(field: &FieldRef, source: PatternSource) -> Expr<Leaf> {
    Expr::Leaf(Leaf::Pattern(PatternSpec {
        field: field.clone(),
        source,
    }))
}

/// A value on its way through the string modifiers.
enum Val {
    Str(SigmaStr),
    /// UTF-16 bytes, waiting for base64.
    Bytes(Vec<u8>),
}

/// Applies the string modifiers in order. Each result says whether it must match cased
/// (base64 output is: its case carries the encoded bits).
fn transform(
    sink: &mut Sink<'_>,
    value: SigmaStr,
    steps: &[&ModAt],
) -> Option<Vec<(SigmaStr, bool)>> {
    let mut vals = vec![Val::Str(value)];
    let mut encoded = false;
    let mut utf16: Option<&ModAt> = None;
    for step in steps {
        let fail = |sink: &mut Sink<'_>, msg: String| {
            sink.error(step.line, step.col, msg);
            None
        };
        match step.m {
            Mod::Contains | Mod::StartsWith | Mod::EndsWith => {
                for v in &mut vals {
                    let Val::Str(s) = v else {
                        let from = utf16.map(|u| u.name.as_str()).unwrap_or("utf16");
                        sink.unsupported(utf16_reason(from));
                        return None;
                    };
                    if step.m != Mod::StartsWith {
                        s.star_front();
                    }
                    if step.m != Mod::EndsWith {
                        s.star_back();
                    }
                }
            }
            Mod::Windash => {
                let mut out = Vec::new();
                for v in vals {
                    match v {
                        Val::Str(s) => out.extend(s.windash().into_iter().map(Val::Str)),
                        bytes => out.push(bytes),
                    }
                }
                vals = out;
            }
            Mod::Utf16Le | Mod::Utf16Be | Mod::Utf16 => {
                let mut out = Vec::new();
                for v in vals {
                    let Val::Str(s) = v else {
                        return fail(sink, format!("`{}` applied twice", step.name));
                    };
                    let Some(text) = s.plain_text() else {
                        return fail(
                            sink,
                            format!(
                                "`{}` needs a value without wildcards; put contains, startswith or endswith after base64",
                                step.name
                            ),
                        );
                    };
                    let mut bytes = Vec::with_capacity(text.len() * 2 + 2);
                    if step.m == Mod::Utf16 {
                        bytes.extend([0xff, 0xfe]);
                    }
                    for unit in text.encode_utf16() {
                        let pair = if step.m == Mod::Utf16Be {
                            unit.to_be_bytes()
                        } else {
                            unit.to_le_bytes()
                        };
                        bytes.extend(pair);
                    }
                    out.push(Val::Bytes(bytes));
                }
                vals = out;
                utf16 = Some(step);
            }
            Mod::Base64 | Mod::Base64Offset => {
                let mut out = Vec::new();
                for v in vals {
                    let bytes = match v {
                        Val::Bytes(b) => b,
                        Val::Str(s) => match s.plain_text() {
                            Some(t) => t.into_bytes(),
                            None => {
                                return fail(
                                    sink,
                                    format!(
                                        "`{}` needs a value without wildcards; put contains, startswith or endswith after it",
                                        step.name
                                    ),
                                );
                            }
                        },
                    };
                    if step.m == Mod::Base64 {
                        out.push(Val::Str(SigmaStr::literal(&B64.encode(&bytes))));
                    } else {
                        for variant in base64_offsets(&bytes) {
                            out.push(Val::Str(SigmaStr::literal(&variant)));
                        }
                    }
                }
                if out.is_empty() {
                    return fail(sink, format!("the value is too short for `{}`", step.name));
                }
                vals = out;
                encoded = true;
                utf16 = None;
            }
            _ => {}
        }
    }
    if let Some(u) = utf16 {
        sink.unsupported(utf16_reason(&u.name));
        return None;
    }
    Some(
        vals.into_iter()
            .filter_map(|v| match v {
                Val::Str(s) => Some((s, encoded)),
                Val::Bytes(_) => None,
            })
            .collect(),
    )
}

/// UTF-16 text cannot appear in a UTF-8 log line; it can only be searched for encoded.
fn utf16_reason(modifier: &str) -> String {
    format!("`{modifier}` is only meaningful before base64 or base64offset")
}

/// The three forms `bytes` takes inside a longer base64 text, by its offset modulo 3: the
/// encoding of the value shifted by 0, 1 and 2 bytes, cut to the characters that do not
/// depend on the bytes around it (Sigma's `base64offset`). Empty forms are dropped.
pub fn base64_offsets(bytes: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END_TRIM: [usize; 3] = [0, 3, 2];
    let mut out = Vec::new();
    for shift in 0..3 {
        let mut shifted = vec![b' '; shift];
        shifted.extend_from_slice(bytes);
        let enc = B64.encode(&shifted);
        let end = enc
            .len()
            .saturating_sub(END_TRIM[(bytes.len() + shift) % 3]);
        if let Some(part) = enc.get(START[shift]..end)
            && !part.is_empty()
            && !out.iter().any(|o: &String| o == part)
        {
            out.push(part.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(text: &str, cased: bool) -> PatternSource {
        SigmaStr::parse(text).to_source(cased)
    }

    fn lit(text: &str, anchor: Anchor) -> PatternSource {
        PatternSource::Literal {
            text: text.into(),
            anchor,
            cased: false,
        }
    }

    #[test]
    fn wildcards_and_escapes() {
        assert_eq!(src("abc", false), lit("abc", Anchor::Exact));
        assert_eq!(src("ABC*", false), lit("abc", Anchor::Prefix));
        assert_eq!(src("*abc", false), lit("abc", Anchor::Suffix));
        assert_eq!(src("**abc**", false), lit("abc", Anchor::Contains));
        assert_eq!(src("*", false), lit("", Anchor::Contains));
        assert_eq!(src("", false), lit("", Anchor::Exact));
        assert_eq!(src(r"a\*b", false), lit("a*b", Anchor::Exact));
        assert_eq!(src(r"a\?b", false), lit("a?b", Anchor::Exact));
        assert_eq!(
            src(r"C:\Windows\", false),
            lit(r"c:\windows\", Anchor::Exact)
        );
        assert_eq!(src(r"a\\b", false), lit(r"a\b", Anchor::Exact));
        assert_eq!(src(r"a\\\\b", false), lit(r"a\\b", Anchor::Exact));
        assert_eq!(src(r"a\\\*", false), lit(r"a\*", Anchor::Exact));
        assert_eq!(src(r"a\\*", false), lit(r"a\", Anchor::Prefix));
        assert_eq!(
            src("a*b", false),
            PatternSource::Regex {
                src: r"(?s)\Aa.*b\z".into(),
                cased: false
            }
        );
        assert_eq!(
            src("*A?.b*", true),
            PatternSource::Regex {
                src: r"(?s)A.\.b".into(),
                cased: true
            }
        );
    }

    #[test]
    fn base64offset_matches_the_spec_example() {
        assert_eq!(
            base64_offsets(b"/bin/bash"),
            ["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]
        );
    }

    #[test]
    fn windash_expands_or_uses_a_class() {
        let v = SigmaStr::parse(" -enc").windash();
        assert_eq!(v.len(), 5);
        let many = SigmaStr::parse("-a -b -c -d").windash();
        assert_eq!(many.len(), 1);
        let PatternSource::Regex { src, .. } = many[0].to_source(false) else {
            panic!()
        };
        assert!(src.starts_with(r"(?s)\A[\-/–—―]a"), "{src}");
    }
}
