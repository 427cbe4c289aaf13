//! A small YAML tree with positions, built from `saphyr_parser` events.
//!
//! Sigma needs only maps, lists and scalars, but every node must say where it was written so
//! that a diagnostic can point at it (`file:line:col`). Aliases are resolved by copying the
//! anchored node, within [`MAX_NODES`]; a text holds several documents (`---`).

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use std::collections::HashMap;

/// Deepest nesting of maps and lists. SigmaHQ rules nest five levels; the recursive walkers
/// over the tree are safe to this depth on any stack.
pub const MAX_DEPTH: usize = 64;

/// Most nodes one text may build, aliases counted at their expanded size: stops
/// "billion laughs" alias bombs. The largest SigmaHQ rule has a few hundred nodes.
pub const MAX_NODES: usize = 200_000;

/// Longest text accepted. The largest SigmaHQ rule is about 20 KiB; a rule file of megabytes
/// is a mistake or an attack.
pub const MAX_TEXT_BYTES: usize = 4 << 20;

/// How a scalar was written. Only plain scalars take YAML's implicit types (`null`, `true`,
/// numbers); quoted and block scalars are always strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

/// One node with the 1-based line and column where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub line: u32,
    pub col: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// `null`, `~`, or nothing at all (`key:` with no value).
    Null,
    Scalar {
        text: String,
        /// True for a plain (unquoted, non-block) scalar.
        plain: bool,
        style: Style,
    },
    Seq(Vec<Node>),
    /// Entries in the order written. Keys are unique (checked while building).
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The text of a scalar (numbers and booleans as written); `None` for null, lists, maps.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, NodeKind::Null)
    }

    /// The value under `key` in a map whose keys are scalars.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// A short name of the node's kind for messages ("a list", "a map" …).
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Null => "null",
            NodeKind::Scalar { .. } => "a value",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a map",
        }
    }

    /// Column of the character `offset` characters into a single-line scalar's text (the
    /// scalar's own column when that cannot be known: block scalars, escapes, line breaks).
    pub fn col_at(&self, offset: usize) -> u32 {
        let offset = u32::try_from(offset).unwrap_or(u32::MAX);
        match &self.kind {
            NodeKind::Scalar { text, style, .. } if !text.contains('\n') => match style {
                Style::Plain => self.col.saturating_add(offset),
                Style::SingleQuoted if !text.contains('\'') => {
                    self.col.saturating_add(1).saturating_add(offset)
                }
                Style::DoubleQuoted if !text.contains(['"', '\\']) => {
                    self.col.saturating_add(1).saturating_add(offset)
                }
                _ => self.col,
            },
            _ => self.col,
        }
    }
}

/// A text that is not YAML, or that goes past a limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: {message}")]
pub struct YamlError {
    pub line: u32,
    pub col: u32,
    pub message: String,
}

/// The documents of a text, and the error that stopped reading it if there was one (the
/// documents before the error are kept). A document that is empty (a trailing `---`) is
/// returned as a [`NodeKind::Null`] node.
pub fn parse(text: &str) -> (Vec<Node>, Option<YamlError>) {
    if text.len() > MAX_TEXT_BYTES {
        return (
            Vec::new(),
            Some(YamlError {
                line: 1,
                col: 1,
                message: format!(
                    "text is {} bytes, more than the {MAX_TEXT_BYTES} a rule file may have",
                    text.len()
                ),
            }),
        );
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut b = Builder::default();
    let mut parser = Parser::new_from_str(text);
    while let Some(next) = parser.next_event() {
        match next {
            Ok((event, span)) => {
                if let Err(e) = b.event(event, span) {
                    return (b.docs, Some(e));
                }
            }
            Err(e) => {
                let m = e.marker();
                let line = to_u32(m.line());
                let mut col = to_u32(m.col()).saturating_add(1);
                // The scanner stops after the tab it complains about: point at the tab.
                if e.info().contains("tab")
                    && let Some(text) = text.lines().nth(m.line().saturating_sub(1))
                    && let Some(tab) = text.chars().position(|c| c == '\t')
                {
                    col = to_u32(tab).saturating_add(1);
                }
                let err = YamlError {
                    line,
                    col,
                    message: format!("invalid yaml: {}", e.info()),
                };
                return (b.docs, Some(err));
            }
        }
    }
    (b.docs, None)
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A collection being built.
struct Frame {
    is_map: bool,
    anchor: usize,
    line: u32,
    col: u32,
    /// For a map: key, value, key, value …
    items: Vec<Node>,
}

#[derive(Default)]
struct Builder {
    docs: Vec<Node>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        let line = to_u32(span.start.line());
        let col = to_u32(span.start.col()).saturating_add(1);
        let err = |message: String| YamlError { line, col, message };
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => Ok(()),
            Event::DocumentStart(_) => {
                self.anchors.clear();
                Ok(())
            }
            Event::DocumentEnd => Ok(()),
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1).map_err(err)?;
                let string_tag = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let style = match style {
                    ScalarStyle::Plain if !string_tag => Style::Plain,
                    ScalarStyle::Plain | ScalarStyle::SingleQuoted => Style::SingleQuoted,
                    ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
                    ScalarStyle::Literal => Style::Literal,
                    ScalarStyle::Folded => Style::Folded,
                };
                let plain = style == Style::Plain;
                let kind = if plain && matches!(&*text, "" | "~" | "null" | "Null" | "NULL") {
                    NodeKind::Null
                } else {
                    NodeKind::Scalar {
                        text: text.into_owned(),
                        plain,
                        style,
                    }
                };
                self.finish(Node { kind, line, col }, anchor)
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id) else {
                    return Err(err(
                        "alias refers to an anchor that is not defined before it".into(),
                    ));
                };
                let mut node = target.clone();
                self.count(size(&node)).map_err(err)?;
                node.line = line;
                node.col = col;
                self.finish(node, 0)
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    return Err(err(format!(
                        "nesting deeper than {MAX_DEPTH} levels of lists and maps"
                    )));
                }
                self.count(1).map_err(err)?;
                self.stack.push(Frame {
                    is_map: matches!(event, Event::MappingStart(..)),
                    anchor,
                    line,
                    col,
                    items: Vec::new(),
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Err(err("unbalanced end of a list or map".into()));
                };
                let kind = if frame.is_map {
                    NodeKind::Map(pairs(frame.items)?)
                } else {
                    NodeKind::Seq(frame.items)
                };
                let node = Node {
                    kind,
                    line: frame.line,
                    col: frame.col,
                };
                self.finish(node, frame.anchor)
            }
        }
    }

    fn count(&mut self, n: usize) -> Result<(), String> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(format!(
                "more than {MAX_NODES} yaml nodes (aliases counted expanded)"
            ));
        }
        Ok(())
    }

    /// A complete node goes into the collection being built, or becomes a document.
    fn finish(&mut self, node: Node, anchor: usize) -> Result<(), YamlError> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            Some(frame) => frame.items.push(node),
            None => self.docs.push(node),
        }
        Ok(())
    }
}

/// Pairs a map's flat items and rejects duplicate scalar keys.
fn pairs(items: Vec<Node>) -> Result<Vec<(Node, Node)>, YamlError> {
    let mut out: Vec<(Node, Node)> = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let Some(key) = it.next() {
        let value = it.next().unwrap_or(Node {
            kind: NodeKind::Null,
            line: key.line,
            col: key.col,
        });
        if let Some(text) = key.as_str()
            && let Some((first, _)) = out.iter().find(|(k, _)| k.as_str() == Some(text))
        {
            return Err(YamlError {
                line: key.line,
                col: key.col,
                message: format!("duplicate key `{text}` (first at line {})", first.line),
            });
        }
        out.push((key, value));
    }
    Ok(out)
}

/// Number of nodes in a tree (depth is bounded by [`MAX_DEPTH`]).
fn size(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Null | NodeKind::Scalar { .. } => 1,
        NodeKind::Seq(items) => 1 + items.iter().map(size).sum::<usize>(),
        NodeKind::Map(m) => 1 + m.iter().map(|(k, v)| size(k) + size(v)).sum::<usize>(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        let (docs, err) = parse(text);
        assert_eq!(err, None);
        docs.into_iter().next().unwrap()
    }

    #[test]
    fn positions_are_one_based() {
        let n = one("title: x\ndetection:\n    sel:\n        - 'a'\n");
        let det = n.get("detection").unwrap();
        assert_eq!((det.line, det.col), (3, 5));
        let sel = det.get("sel").unwrap();
        let NodeKind::Seq(items) = &sel.kind else {
            panic!()
        };
        assert_eq!((items[0].line, items[0].col), (4, 11));
        assert_eq!(items[0].col_at(0), 12);
    }

    #[test]
    fn nulls_and_strings() {
        let n = one("a: null\nb: 'null'\nc:\nd: ~\ne: 5\n");
        assert!(n.get("a").unwrap().is_null());
        assert_eq!(n.get("b").unwrap().as_str(), Some("null"));
        assert!(n.get("c").unwrap().is_null());
        assert!(n.get("d").unwrap().is_null());
        assert!(matches!(
            n.get("e").unwrap().kind,
            NodeKind::Scalar { plain: true, .. }
        ));
    }

    #[test]
    fn several_documents() {
        let (docs, err) = parse("a: 1\n---\nb: 2\n---\n");
        assert_eq!(err, None);
        assert_eq!(docs.len(), 3);
        assert!(docs[2].is_null());
    }

    #[test]
    fn aliases_resolve() {
        let n = one("a: &x [1, 2]\nb: *x\n");
        assert_eq!(n.get("a").unwrap().kind, n.get("b").unwrap().kind);
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let (_, err) = parse(&text);
        assert!(err.unwrap().message.contains("more than"));
    }

    #[test]
    fn depth_is_limited() {
        let text = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        let (_, err) = parse(&text);
        let err = err.unwrap();
        assert!(
            err.message.contains("nesting") || err.message.contains("recursion"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let (_, err) = parse("x: 1\nx: 2\n");
        assert_eq!(
            err.unwrap().to_string(),
            "2:1: duplicate key `x` (first at line 1)"
        );
    }

    #[test]
    fn scan_errors_have_positions() {
        let (_, err) = parse("a: b: c\n");
        assert_eq!(
            err.unwrap().to_string(),
            "1:5: invalid yaml: mapping values are not allowed in this context"
        );
    }
}
