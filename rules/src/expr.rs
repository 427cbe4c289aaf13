//! Compiled detection logic: a boolean tree over patterns and checks.

use crate::eval::EventView;
use crate::mapping::FieldRef;
use crate::pattern::{Anchor, PatternSource, fold};
use ipnet::IpNet;
use std::cmp::Ordering;
use std::fmt;
use std::net::IpAddr;

/// A boolean expression. `All([])` is true and `Any([])` is false.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr<L> {
    All(Vec<Expr<L>>),
    Any(Vec<Expr<L>>),
    Not(Box<Expr<L>>),
    Leaf(L),
}

impl<L> Expr<L> {
    /// AND of `items`, without a wrapper for a single item.
    pub fn all(mut items: Vec<Expr<L>>) -> Self {
        if items.len() == 1 {
            items.pop().unwrap_or(Expr::All(Vec::new()))
        } else {
            Expr::All(items)
        }
    }

    /// OR of `items`, without a wrapper for a single item.
    pub fn any(mut items: Vec<Expr<L>>) -> Self {
        if items.len() == 1 {
            items.pop().unwrap_or(Expr::Any(Vec::new()))
        } else {
            Expr::Any(items)
        }
    }

    /// NOT of `e`.
    pub fn negate(e: Expr<L>) -> Self {
        Expr::Not(Box::new(e))
    }

    /// The same tree with every leaf replaced by `f(leaf)`.
    pub fn map<M>(&self, f: &mut impl FnMut(&L) -> M) -> Expr<M> {
        match self {
            Expr::All(v) => Expr::All(v.iter().map(|e| e.map(f)).collect()),
            Expr::Any(v) => Expr::Any(v.iter().map(|e| e.map(f)).collect()),
            Expr::Not(e) => Expr::Not(Box::new(e.map(f))),
            Expr::Leaf(l) => Expr::Leaf(f(l)),
        }
    }

    /// Evaluates with `leaf` deciding each leaf, left to right, stopping as soon as the
    /// result is known.
    pub fn eval(&self, leaf: &mut impl FnMut(&L) -> bool) -> bool {
        match self {
            Expr::All(v) => v.iter().all(|e| e.eval(leaf)),
            Expr::Any(v) => v.iter().any(|e| e.eval(leaf)),
            Expr::Not(e) => !e.eval(leaf),
            Expr::Leaf(l) => leaf(l),
        }
    }

    /// Every leaf, in order.
    pub fn leaves(&self) -> Vec<&L> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a L>) {
        match self {
            Expr::All(v) | Expr::Any(v) => v.iter().for_each(|e| e.collect(out)),
            Expr::Not(e) => e.collect(out),
            Expr::Leaf(l) => out.push(l),
        }
    }
}

/// A leaf of a rule as loaded: a pattern with its field, or a check.
#[derive(Debug, Clone, PartialEq)]
pub enum Leaf {
    Pattern(PatternSpec),
    Check(Check),
}

/// A pattern before it is entered in a rule set's table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PatternSpec {
    pub field: FieldRef,
    pub source: PatternSource,
}

/// A leaf of a rule in a [`crate::RuleSet`]: an index into its patterns or its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeafId {
    Pattern(u32),
    Check(u32),
}

/// Comparison of a numeric check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl CmpOp {
    fn holds(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::Gte => ord != Ordering::Less,
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::Lte => ord != Ordering::Greater,
        }
    }
}

/// A number from a rule or an event: an integer when written as one, else a float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    /// Reads `text` (surrounding spaces ignored) as a decimal integer or a finite float.
    pub fn parse(text: &str) -> Option<Number> {
        let t = text.trim();
        if let Ok(i) = t.parse::<i64>() {
            return Some(Number::Int(i));
        }
        // Rust's float parser also takes "inf" and "NaN": those are not numbers in a log.
        if !t.bytes().any(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Number::Float)
    }

    /// The number as a float (integers beyond 2^53 rounded).
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }

    pub fn compare(self, other: Number) -> Option<Ordering> {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write!(f, "{x}"),
        }
    }
}

/// A test that is not a string pattern; evaluated directly on the event.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// `field|exists: true/false`; `field: null` is `present: false`.
    Exists { field: FieldRef, present: bool },
    /// `field|cidr: 10.0.0.0/8`: the field is an IP address inside the network.
    Cidr { field: FieldRef, net: IpNet },
    /// `field|gt: 5` …: the field reads as a number and compares so.
    Compare {
        field: FieldRef,
        op: CmpOp,
        value: Number,
    },
    /// `field|fieldref: other`: both fields are present and `field` equals (or, with an
    /// anchor other than `Exact`, starts with / ends with / contains) `other`'s value;
    /// folded unless `cased`.
    FieldRef {
        field: FieldRef,
        other: FieldRef,
        anchor: Anchor,
        cased: bool,
    },
}

impl Check {
    pub fn field(&self) -> &FieldRef {
        match self {
            Check::Exists { field, .. }
            | Check::Cidr { field, .. }
            | Check::Compare { field, .. }
            | Check::FieldRef { field, .. } => field,
        }
    }

    /// The reference meaning of the check.
    pub fn eval(&self, ev: &dyn EventView) -> bool {
        let value = crate::eval::field_value(ev, self.field());
        match self {
            Check::Exists { present, .. } => value.is_some() == *present,
            Check::Cidr { net, .. } => value
                .and_then(|v| v.trim().parse::<IpAddr>().ok())
                .is_some_and(|ip| net.contains(&ip.to_canonical())),
            Check::Compare {
                op, value: want, ..
            } => value
                .and_then(|v| Number::parse(&v))
                .and_then(|have| have.compare(*want))
                .is_some_and(|ord| op.holds(ord)),
            Check::FieldRef {
                other,
                anchor,
                cased,
                ..
            } => {
                let (Some(a), Some(b)) = (value, crate::eval::field_value(ev, other)) else {
                    return false;
                };
                if *cased {
                    anchor.test(&a, &b)
                } else {
                    anchor.test(&fold(&a), &fold(&b))
                }
            }
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::Exists { field, present } => write!(f, "{field} exists: {present}"),
            Check::Cidr { field, net } => write!(f, "{field} in {net}"),
            Check::Compare { field, op, value } => write!(f, "{field} {op:?} {value}"),
            Check::FieldRef {
                field,
                other,
                anchor,
                cased,
            } => write!(f, "{field} {anchor:?} field {other} (cased: {cased})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(Number::parse(" 42 "), Some(Number::Int(42)));
        assert_eq!(Number::parse("4.5"), Some(Number::Float(4.5)));
        assert_eq!(Number::parse("inf"), None);
        assert_eq!(Number::parse("NaN"), None);
        assert_eq!(Number::parse("abc"), None);
        assert_eq!(
            Number::Int(10).compare(Number::Float(9.5)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            Number::Int(i64::MAX).compare(Number::Int(i64::MAX - 1)),
            Some(Ordering::Greater)
        );
    }

    #[test]
    fn eval_short_circuits_and_handles_empty() {
        let t: Expr<bool> = Expr::All(vec![]);
        let f: Expr<bool> = Expr::Any(vec![]);
        assert!(t.eval(&mut |b| *b));
        assert!(!f.eval(&mut |b| *b));
        let e = Expr::all(vec![Expr::Leaf(false), Expr::Leaf(true)]);
        let mut seen = 0;
        assert!(!e.eval(&mut |b| {
            seen += 1;
            *b
        }));
        assert_eq!(seen, 1);
    }
}
