//! The reference evaluator: what an event must look like for a rule to match.
//!
//! [`crate::RuleSet::matches`] routes the event by logsource and evaluates each rule's
//! expression, asking a [`PatternHits`] about patterns and evaluating checks itself. The fast
//! matcher implements [`PatternHits`] from its automata; [`NaiveHits`] is the reference
//! implementation, computing each pattern on demand. Both give the same answers as long as the
//! fast matcher's hits agree with [`crate::RuleSet::pattern_is_match`] on
//! [`crate::RuleSet::field_value`].

use crate::RuleSet;
use crate::logsource::{self, EventSource};
use crate::mapping::FieldRef;
use crate::pattern::fold;
use canh_core::{Event, Value, field};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

/// What the evaluator needs from an event.
pub trait EventView {
    /// The text of a field, if the event has it (numbers, booleans and addresses as text).
    fn field(&self, name: &str) -> Option<Cow<'_, str>>;
    /// The event's logsource; `None` when the event does not say, which fits every rule
    /// (test-format events).
    fn logsource(&self) -> Option<EventSource>;

    /// Calls `f` with the name of every field [`EventView::field`] answers for, and returns
    /// true; the default returns false without calling `f` (the event cannot list its
    /// fields). The fast matcher then reads only the fields the event has instead of asking
    /// for every name a rule set knows.
    fn each_field_name(&self, f: &mut dyn FnMut(&str)) -> bool {
        let _ = f;
        false
    }
}

impl EventView for Event {
    fn field(&self, name: &str) -> Option<Cow<'_, str>> {
        if let Some(v) = self.fields.get(name) {
            return Some(match v {
                Value::Str(s) => Cow::Borrowed(s.as_str()),
                other => Cow::Owned(other.to_string()),
            });
        }
        match name {
            field::TIMESTAMP => Some(Cow::Owned(self.timestamp.to_rfc3339())),
            field::EVENT_CREATED => Some(Cow::Owned(self.received.to_rfc3339())),
            field::EVENT_DATASET => Some(Cow::Borrowed(self.dataset.as_str())),
            _ => None,
        }
    }

    fn logsource(&self) -> Option<EventSource> {
        Some(logsource::derive(self))
    }

    fn each_field_name(&self, f: &mut dyn FnMut(&str)) -> bool {
        self.fields.keys().for_each(|k| f(k));
        for name in [field::TIMESTAMP, field::EVENT_CREATED, field::EVENT_DATASET] {
            if !self.fields.contains_key(name) {
                f(name);
            }
        }
        true
    }
}

/// A reference to an event is an event (so `&&ev` coerces where `&dyn EventView` is wanted).
impl<T: EventView + ?Sized> EventView for &T {
    fn field(&self, name: &str) -> Option<Cow<'_, str>> {
        (**self).field(name)
    }

    fn logsource(&self) -> Option<EventSource> {
        (**self).logsource()
    }

    fn each_field_name(&self, f: &mut dyn FnMut(&str)) -> bool {
        (**self).each_field_name(f)
    }
}

/// Test-format events: fields by the names the rule uses, no logsource.
impl EventView for BTreeMap<String, String> {
    fn field(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name).map(|s| Cow::Borrowed(s.as_str()))
    }

    fn logsource(&self) -> Option<EventSource> {
        None
    }

    fn each_field_name(&self, f: &mut dyn FnMut(&str)) -> bool {
        self.keys().for_each(|k| f(k));
        true
    }
}

impl EventView for HashMap<String, String> {
    fn field(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name).map(|s| Cow::Borrowed(s.as_str()))
    }

    fn logsource(&self) -> Option<EventSource> {
        None
    }

    fn each_field_name(&self, f: &mut dyn FnMut(&str)) -> bool {
        self.keys().for_each(|k| f(k));
        true
    }
}

/// The value of a field: the first name of its lookup list the event has.
pub fn field_value<'e>(ev: &'e dyn EventView, f: &FieldRef) -> Option<Cow<'e, str>> {
    f.lookup.iter().find_map(|name| ev.field(name))
}

/// Which patterns of a [`RuleSet`] hit the event being evaluated.
pub trait PatternHits {
    /// Whether pattern `pattern` (an index into [`RuleSet::patterns`]) hits.
    fn hit(&self, pattern: u32) -> bool;

    /// Calls `f` with every pattern that hits and returns true, when the implementation holds
    /// them all up front (a fast matcher's bit set); [`RuleSet::matches`] then evaluates only
    /// the rules those patterns can make true. The default returns false without calling `f`
    /// (hits computed on demand, such as [`NaiveHits`]): every rule is evaluated.
    fn each_hit(&self, f: &mut dyn FnMut(u32)) -> bool {
        let _ = f;
        false
    }
}

/// A field's text as the event has it and folded; `None` when the event lacks the field.
type FieldText = Option<(String, String)>;

/// The reference [`PatternHits`]: computes a pattern when asked, with the `regex` crate or
/// plain string operations, caching field values (raw and folded) and answers.
pub struct NaiveHits<'a> {
    set: &'a RuleSet,
    ev: &'a dyn EventView,
    /// Per field id: not read yet (`None`), absent (`Some(None)`), or raw and folded text.
    values: RefCell<Vec<Option<FieldText>>>,
    /// Per pattern id: 0 not computed, 1 miss, 2 hit.
    answers: RefCell<Vec<u8>>,
}

impl<'a> NaiveHits<'a> {
    pub fn new(set: &'a RuleSet, ev: &'a dyn EventView) -> Self {
        NaiveHits {
            set,
            ev,
            values: RefCell::new(vec![None; set.fields().len()]),
            answers: RefCell::new(vec![0; set.patterns().len()]),
        }
    }
}

impl PatternHits for NaiveHits<'_> {
    fn hit(&self, pattern: u32) -> bool {
        let idx = pattern as usize;
        if let Some(&known) = self.answers.borrow().get(idx)
            && known != 0
        {
            return known == 2;
        }
        let Some(p) = self.set.patterns().get(idx) else {
            return false;
        };
        let fid = p.field.0 as usize;
        let mut values = self.values.borrow_mut();
        let Some(slot) = values.get_mut(fid) else {
            return false;
        };
        let value = slot.get_or_insert_with(|| {
            self.set.field_value(self.ev, p.field).map(|raw| {
                let folded = fold(&raw).into_owned();
                (raw.into_owned(), folded)
            })
        });
        let hit = match value {
            Some((raw, folded)) => self.set.pattern_is_match(pattern, raw, folded),
            None => false,
        };
        if let Some(a) = self.answers.borrow_mut().get_mut(idx) {
            *a = if hit { 2 } else { 1 };
        }
        hit
    }
}
