//! The `condition` language: `and`, `or`, `not`, parentheses, `1 of x*`, `all of x*`,
//! `1 of them`, `all of them`.
//!
//! Precedence from loosest to tightest: `or`, `and`, `not`, `x of`, parentheses. Keywords are
//! case-insensitive. `them` means every search identifier that does not start with `_`; a
//! pattern (`*` matches any run of characters) matches identifiers that start with `_` only
//! when the pattern itself does. The spec knows only `1 of` and `all of`; the old aggregation
//! syntax (`| count() by x > 5`) is reported as unsupported.

/// Longest condition accepted (SigmaHQ's longest is under 200 characters).
pub const MAX_CONDITION_CHARS: usize = 4096;

/// Deepest nesting of parentheses and `not` (keeps the recursive parser on the stack).
pub const MAX_CONDITION_DEPTH: usize = 64;

/// A parsed condition over search identifiers (names resolved, patterns expanded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    Id(String),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
}

/// Why a condition was refused, at a character offset into its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CondError {
    pub offset: usize,
    pub message: String,
    /// Well-formed but not something canh evaluates (aggregations).
    pub unsupported: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Open,
    Close,
    Pipe,
    Word(String),
}

fn tokens(text: &str) -> Vec<(usize, Tok)> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut start = 0;
    for (i, c) in text.chars().enumerate() {
        let special = matches!(c, '(' | ')' | '|') || c.is_whitespace();
        if special && !word.is_empty() {
            out.push((start, Tok::Word(std::mem::take(&mut word))));
        }
        match c {
            '(' => out.push((i, Tok::Open)),
            ')' => out.push((i, Tok::Close)),
            '|' => out.push((i, Tok::Pipe)),
            c if c.is_whitespace() => {}
            c => {
                if word.is_empty() {
                    start = i;
                }
                word.push(c);
            }
        }
    }
    if !word.is_empty() {
        out.push((start, Tok::Word(word)));
    }
    out
}

fn is_kw(tok: Option<&(usize, Tok)>, kw: &str) -> bool {
    matches!(tok, Some((_, Tok::Word(w))) if w.eq_ignore_ascii_case(kw))
}

/// Parses `text` against the search identifiers `ids`.
pub fn parse(text: &str, ids: &[String]) -> Result<Cond, CondError> {
    let len = text.chars().count();
    if len > MAX_CONDITION_CHARS {
        return Err(CondError {
            offset: 0,
            message: format!("condition is longer than {MAX_CONDITION_CHARS} characters"),
            unsupported: false,
        });
    }
    let toks = tokens(text);
    if toks.is_empty() {
        return Err(CondError {
            offset: 0,
            message: "empty condition; expected search identifiers joined by and/or".into(),
            unsupported: false,
        });
    }
    let mut p = P {
        toks,
        pos: 0,
        ids,
        end: len,
    };
    let cond = p.or(0)?;
    match p.toks.get(p.pos) {
        None => Ok(cond),
        Some((at, Tok::Pipe)) => Err(p.aggregation(*at)),
        Some((at, tok)) => Err(CondError {
            offset: *at,
            message: format!(
                "expected `and`, `or` or the end of the condition, found {}",
                show(tok)
            ),
            unsupported: false,
        }),
    }
}

fn show(tok: &Tok) -> String {
    match tok {
        Tok::Open => "`(`".into(),
        Tok::Close => "`)`".into(),
        Tok::Pipe => "`|`".into(),
        Tok::Word(w) => format!("`{w}`"),
    }
}

struct P<'a> {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    ids: &'a [String],
    end: usize,
}

impl P<'_> {
    fn err(&self, offset: usize, message: String) -> CondError {
        CondError {
            offset,
            message,
            unsupported: false,
        }
    }

    fn aggregation(&self, at: usize) -> CondError {
        CondError {
            offset: at,
            message:
                "aggregation in a condition (`| count() …`) is deprecated; write a correlation rule"
                    .into(),
            unsupported: true,
        }
    }

    fn here(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(at, _)| *at)
    }

    fn depth(&self, depth: usize) -> Result<usize, CondError> {
        if depth >= MAX_CONDITION_DEPTH {
            return Err(self.err(
                self.here(),
                format!("condition nests deeper than {MAX_CONDITION_DEPTH} levels"),
            ));
        }
        Ok(depth + 1)
    }

    fn or(&mut self, depth: usize) -> Result<Cond, CondError> {
        let mut items = vec![self.and(depth)?];
        while is_kw(self.toks.get(self.pos), "or") {
            self.pos += 1;
            items.push(self.and(depth)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Cond::Or(items)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Cond, CondError> {
        let mut items = vec![self.not(depth)?];
        while is_kw(self.toks.get(self.pos), "and") {
            self.pos += 1;
            items.push(self.not(depth)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Cond::And(items)
        })
    }

    fn not(&mut self, depth: usize) -> Result<Cond, CondError> {
        if is_kw(self.toks.get(self.pos), "not") {
            let depth = self.depth(depth)?;
            self.pos += 1;
            return Ok(Cond::Not(Box::new(self.not(depth)?)));
        }
        self.primary(depth)
    }

    fn primary(&mut self, depth: usize) -> Result<Cond, CondError> {
        let expected = "expected a search identifier, `(`, `not`, `1 of` or `all of`";
        let Some((at, tok)) = self.toks.get(self.pos).cloned() else {
            return Err(self.err(
                self.end,
                format!("{expected}, found the end of the condition"),
            ));
        };
        match tok {
            Tok::Open => {
                let depth = self.depth(depth)?;
                self.pos += 1;
                let inner = self.or(depth)?;
                match self.toks.get(self.pos) {
                    Some((_, Tok::Close)) => {
                        self.pos += 1;
                        Ok(inner)
                    }
                    Some((_, Tok::Pipe)) => Err(self.aggregation(self.here())),
                    other => {
                        let found =
                            other.map_or("the end of the condition".to_owned(), |(_, t)| show(t));
                        Err(self.err(
                            self.here(),
                            format!(
                                "expected `)` to close the `(` at column {}, found {found}",
                                at + 1
                            ),
                        ))
                    }
                }
            }
            Tok::Close => Err(self.err(at, format!("{expected}, found `)`"))),
            Tok::Pipe => Err(self.aggregation(at)),
            Tok::Word(w) => {
                let of_next = is_kw(self.toks.get(self.pos + 1), "of");
                let lower = w.to_ascii_lowercase();
                if of_next {
                    let all = match lower.as_str() {
                        "1" => false,
                        "all" => true,
                        "any" => {
                            return Err(self.err(
                                at,
                                "`any of` is not in the sigma specification; write `1 of`".into(),
                            ));
                        }
                        _ => {
                            return Err(self
                                .err(at, format!("expected `1 of` or `all of`, found `{w} of`")));
                        }
                    };
                    self.pos += 2;
                    let Some((pat_at, Tok::Word(pat))) = self.toks.get(self.pos).cloned() else {
                        return Err(self.err(
                            self.here(),
                            format!(
                                "expected `them` or a search identifier pattern after `{w} of`"
                            ),
                        ));
                    };
                    self.pos += 1;
                    let names = self.select(&pat);
                    if names.is_empty() {
                        return Err(
                            self.err(pat_at, format!("`{pat}` matches no search identifier"))
                        );
                    }
                    let items: Vec<Cond> = names.into_iter().map(Cond::Id).collect();
                    return Ok(if items.len() == 1 {
                        items.into_iter().next().unwrap_or(Cond::Or(Vec::new()))
                    } else if all {
                        Cond::And(items)
                    } else {
                        Cond::Or(items)
                    });
                }
                if matches!(lower.as_str(), "and" | "or" | "of" | "them") {
                    return Err(self.err(at, format!("{expected}, found `{w}`")));
                }
                if self.ids.contains(&w) {
                    self.pos += 1;
                    Ok(Cond::Id(w))
                } else {
                    let known = self.ids.join(", ");
                    Err(self.err(
                        at,
                        format!("unknown search identifier `{w}`; the detection defines {known}"),
                    ))
                }
            }
        }
    }

    /// Identifiers named by `them` or a pattern, in detection order.
    fn select(&self, pat: &str) -> Vec<String> {
        let them = pat.eq_ignore_ascii_case("them");
        self.ids
            .iter()
            .filter(|id| {
                if them {
                    !id.starts_with('_')
                } else {
                    (pat.starts_with('_') || !id.starts_with('_')) && glob(pat, id)
                }
            })
            .cloned()
            .collect()
    }
}

/// `*`-only glob over characters.
pub(crate) fn glob(pat: &str, text: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Greedy matching with backtracking to the last star: linear for `*` globs.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<String> {
        ["selection", "sel_a", "sel_b", "filter", "_hidden"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn id(s: &str) -> Cond {
        Cond::Id(s.into())
    }

    #[test]
    fn precedence() {
        let c = parse("selection or sel_a and not filter", &ids()).unwrap();
        assert_eq!(
            c,
            Cond::Or(vec![
                id("selection"),
                Cond::And(vec![id("sel_a"), Cond::Not(Box::new(id("filter")))])
            ])
        );
        let c = parse("(selection OR sel_a) AND NOT filter", &ids()).unwrap();
        assert_eq!(
            c,
            Cond::And(vec![
                Cond::Or(vec![id("selection"), id("sel_a")]),
                Cond::Not(Box::new(id("filter")))
            ])
        );
    }

    #[test]
    fn quantifiers() {
        assert_eq!(
            parse("1 of sel_*", &ids()).unwrap(),
            Cond::Or(vec![id("sel_a"), id("sel_b")])
        );
        assert_eq!(
            parse("all of them", &ids()).unwrap(),
            Cond::And(vec![
                id("selection"),
                id("sel_a"),
                id("sel_b"),
                id("filter")
            ])
        );
        assert_eq!(parse("1 of _h*", &ids()).unwrap(), id("_hidden"));
        assert_eq!(
            parse("not 1 of sel*", &ids()).unwrap(),
            Cond::Not(Box::new(Cond::Or(vec![
                id("selection"),
                id("sel_a"),
                id("sel_b")
            ])))
        );
    }

    #[test]
    fn errors() {
        let e = |t: &str| {
            let e = parse(t, &ids()).unwrap_err();
            (e.offset, e.message, e.unsupported)
        };
        assert_eq!(
            e("selection and nope"),
            (
                14,
                "unknown search identifier `nope`; the detection defines selection, sel_a, sel_b, filter, _hidden".into(),
                false
            )
        );
        assert_eq!(
            e("1 of x*"),
            (5, "`x*` matches no search identifier".into(), false)
        );
        assert_eq!(
            e("any of sel*").1,
            "`any of` is not in the sigma specification; write `1 of`"
        );
        assert_eq!(
            e("(selection"),
            (
                10,
                "expected `)` to close the `(` at column 1, found the end of the condition".into(),
                false
            )
        );
        assert!(e("selection | count() > 5").2);
        assert_eq!(
            e("selection filter").1,
            "expected `and`, `or` or the end of the condition, found `filter`"
        );
        assert_eq!(
            e("").1,
            "empty condition; expected search identifiers joined by and/or"
        );
        let deep = "not ".repeat(MAX_CONDITION_DEPTH + 1) + "selection";
        assert!(e(&deep).1.contains("deeper"));
    }

    #[test]
    fn globbing() {
        assert!(glob("sel*", "selection"));
        assert!(glob("*tion", "selection"));
        assert!(glob("s*l*n", "selection"));
        assert!(!glob("sel", "selection"));
        assert!(glob("*", ""));
    }
}
