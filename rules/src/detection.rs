//! A `detection` (or a filter's `filter`) section → one expression.
//!
//! Each search identifier compiles on its own: a map is the AND of its entries, a list the OR
//! of its items (maps, or keywords), a lone value a keyword. The condition (or the OR of a
//! list of conditions) is then written over the identifiers' expressions.

use crate::condition::{self, Cond};
use crate::diag::Sink;
use crate::expr::{Expr, Leaf};
use crate::logsource::LogSource;
use crate::mapping::Mapping;
use crate::value::{compile_entry, compile_keyword};
use crate::yaml::{Node, NodeKind};
use std::collections::HashMap;

/// Most leaves (patterns and checks) one rule may compile to: a rule past this is a mistake
/// (or a windash/base64offset explosion) that would slow every event.
pub const MAX_LEAVES_PER_RULE: usize = 20_000;

/// A compiled detection.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// Search identifiers in the order written.
    pub search_ids: Vec<String>,
    /// The conditions as written (a list means OR).
    pub conditions: Vec<String>,
    pub expr: Expr<Leaf>,
}

/// Compiles a detection-like map. `reserved` keys are neither conditions nor identifiers
/// (`timeframe` in a detection, `rules` in a filter).
pub(crate) fn compile(
    sink: &mut Sink<'_>,
    section: &str,
    node: &Node,
    reserved: &[&str],
    ls: &LogSource,
    mapping: &Mapping,
) -> Option<Detection> {
    let Some(entries) = node.as_map() else {
        sink.error(
            node.line,
            node.col,
            format!(
                "expected `{section}` to be a map of search identifiers and `condition`, found {}",
                node.describe()
            ),
        );
        return None;
    };
    let mut ids: Vec<String> = Vec::new();
    let mut exprs: HashMap<String, Option<Expr<Leaf>>> = HashMap::new();
    let mut cond_node: Option<&Node> = None;
    for (key, value) in entries {
        let Some(name) = key.as_str() else {
            sink.error(
                key.line,
                key.col,
                format!(
                    "expected a search identifier name, found {}",
                    key.describe()
                ),
            );
            continue;
        };
        if name == "condition" {
            cond_node = Some(value);
            continue;
        }
        if reserved.contains(&name) {
            continue;
        }
        let expr = search(sink, key, name, value, ls, mapping);
        ids.push(name.to_owned());
        exprs.insert(name.to_owned(), expr);
    }
    let Some(cond_node) = cond_node else {
        sink.error(
            node.line,
            node.col,
            format!("missing `condition` in `{section}`"),
        );
        return None;
    };
    let cond_nodes: Vec<&Node> = match &cond_node.kind {
        NodeKind::Scalar { .. } => vec![cond_node],
        NodeKind::Seq(items) if !items.is_empty() => items.iter().collect(),
        _ => {
            sink.error(
                cond_node.line,
                cond_node.col,
                format!(
                    "expected a condition or a list of conditions, found {}",
                    cond_node.describe()
                ),
            );
            return None;
        }
    };
    let mut conditions = Vec::new();
    let mut parsed = Vec::new();
    for c in cond_nodes {
        let Some(text) = c.as_str() else {
            sink.error(
                c.line,
                c.col,
                format!("expected a condition, found {}", c.describe()),
            );
            continue;
        };
        conditions.push(text.to_owned());
        match condition::parse(text, &ids) {
            Ok(cond) => parsed.push(cond),
            Err(e) if e.unsupported => sink.unsupported(e.message),
            Err(e) => sink.error(c.line, c.col_at(e.offset), e.message),
        }
    }
    if sink.failed() {
        return None;
    }
    let mut resolved = HashMap::new();
    for (name, expr) in exprs {
        resolved.insert(name, expr?);
    }
    // A condition naming an identifier several times copies it: count before copying.
    let sizes: HashMap<&str, usize> = resolved
        .iter()
        .map(|(name, e)| (name.as_str(), e.leaves().len()))
        .collect();
    let total = parsed
        .iter()
        .fold(0usize, |n, c| n.saturating_add(size(c, &sizes)));
    if total > MAX_LEAVES_PER_RULE {
        sink.unsupported(format!(
            "the detection compiles to more than {MAX_LEAVES_PER_RULE} tests"
        ));
        return None;
    }
    let expr = Expr::any(parsed.iter().map(|c| substitute(c, &resolved)).collect());
    Some(Detection {
        search_ids: ids,
        conditions,
        expr,
    })
}

/// Leaves of a condition once its identifiers are substituted.
fn size(c: &Cond, sizes: &HashMap<&str, usize>) -> usize {
    match c {
        Cond::Id(name) => sizes.get(name.as_str()).copied().unwrap_or(0),
        Cond::And(v) | Cond::Or(v) => v
            .iter()
            .fold(0usize, |n, c| n.saturating_add(size(c, sizes))),
        Cond::Not(c) => size(c, sizes),
    }
}

fn substitute(c: &Cond, ids: &HashMap<String, Expr<Leaf>>) -> Expr<Leaf> {
    match c {
        Cond::Id(name) => ids.get(name).cloned().unwrap_or(Expr::Any(Vec::new())),
        Cond::And(v) => Expr::all(v.iter().map(|c| substitute(c, ids)).collect()),
        Cond::Or(v) => Expr::any(v.iter().map(|c| substitute(c, ids)).collect()),
        Cond::Not(c) => Expr::negate(substitute(c, ids)),
    }
}

/// One search identifier.
fn search(
    sink: &mut Sink<'_>,
    key: &Node,
    name: &str,
    value: &Node,
    ls: &LogSource,
    mapping: &Mapping,
) -> Option<Expr<Leaf>> {
    let empty = |sink: &mut Sink<'_>| {
        sink.error(
            key.line,
            key.col,
            format!("search identifier `{name}` is empty; expected a map of fields or a list"),
        );
        None
    };
    match &value.kind {
        NodeKind::Null => empty(sink),
        NodeKind::Map(entries) if entries.is_empty() => empty(sink),
        NodeKind::Seq(items) if items.is_empty() => empty(sink),
        NodeKind::Map(_) => map(sink, value, ls, mapping),
        NodeKind::Scalar { .. } => compile_keyword(sink, value, ls, mapping),
        NodeKind::Seq(items) => {
            let mut alts = Vec::with_capacity(items.len());
            let mut ok = true;
            for item in items {
                let e = match &item.kind {
                    NodeKind::Map(m) if !m.is_empty() => map(sink, item, ls, mapping),
                    NodeKind::Scalar { .. } => compile_keyword(sink, item, ls, mapping),
                    _ => {
                        sink.error(
                            item.line,
                            item.col,
                            format!(
                                "expected a map of fields or a keyword in `{name}`, found {}",
                                if item.is_null() {
                                    "null"
                                } else {
                                    item.describe()
                                }
                            ),
                        );
                        None
                    }
                };
                match e {
                    Some(e) => alts.push(e),
                    None => ok = false,
                }
            }
            ok.then(|| Expr::any(alts))
        }
    }
}

/// A map of `field|modifiers: values` entries: all must hold.
fn map(sink: &mut Sink<'_>, node: &Node, ls: &LogSource, mapping: &Mapping) -> Option<Expr<Leaf>> {
    let entries = node.as_map()?;
    let mut all = Vec::with_capacity(entries.len());
    let mut ok = true;
    for (key, value) in entries {
        match compile_entry(sink, key, value, ls, mapping) {
            Some(e) => all.push(e),
            None => ok = false,
        }
    }
    ok.then(|| Expr::all(all))
}
