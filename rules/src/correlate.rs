//! The correlation engine: turns rule matches into alerts. Pure state, no I/O, no clock.
//!
//! The caller hands every detection match to [`Correlator::observe`] with the event's time;
//! the correlator answers with [`Raise`]s — "open an alert" (`new: true`) or "add to the open
//! one" (`new: false`) — for deduplicated detection rules and for Sigma correlation rules
//! ([`crate::Correlation`], all seven types of the correlation specification 2.1).
//!
//! ```
//! use canh_rules::correlate::{Correlator, CorrelatorConfig, Match};
//! use canh_rules::{Mapping, RuleSet};
//! use std::collections::BTreeMap;
//!
//! let rules = r#"
//! title: Failed SSH login
//! name: ssh_failed
//! logsource: {product: linux, service: sshd}
//! detection:
//!     sel: {event.outcome: failure}
//!     condition: sel
//! ---
//! title: SSH brute force
//! id: ssh-brute-force
//! correlation:
//!     type: event_count
//!     rules: [ssh_failed]
//!     group-by: [source.ip]
//!     timespan: 5m
//!     condition: {gte: 3}
//! level: high
//! "#;
//! let (set, _) = RuleSet::load(&[("r.yml".into(), rules.into())], Mapping::builtin());
//! let mut c = Correlator::new(&set, CorrelatorConfig::default());
//! let ev: BTreeMap<String, String> = [
//!     ("event.outcome".to_owned(), "failure".to_owned()),
//!     ("source.ip".to_owned(), "203.0.113.5".to_owned()),
//! ]
//! .into();
//! let mut out = Vec::new();
//! for (k, rule) in set.matches_naive(&ev).into_iter().cycle().take(4).enumerate() {
//!     let time_ms = 1_000 * k as i64;
//!     c.observe(&Match { rule, time_ms, event: &ev }, &mut out);
//! }
//! // the detection only feeds the correlation; the third failure opens the alert, the fourth
//! // adds to it
//! assert_eq!(out.len(), 2);
//! assert!(out[0].new && out[0].key == "ssh-brute-force" && out[0].count == 3);
//! assert_eq!(out[0].group, [("source.ip".to_owned(), "203.0.113.5".to_owned())]);
//! assert!(!out[1].new && out[1].count == 1);
//! ```
//!
//! # Semantics
//!
//! - **Detection rules** raise alerts deduplicated by rule and the values of
//!   [`CorrelatorConfig::dedup_fields`] (`""` when absent): the first match opens an alert
//!   (`new: true, count: 1`); a match less than `dedup_window_ms` from the alert's first event
//!   adds to it (`new: false, count: 1`); a later one opens a new alert. A match earlier than
//!   the alert's first event by a window or more opens an alert of its own and leaves the
//!   group's alert alone. Detection matches are never dropped for being late (one older than
//!   the lateness whose alert has expired opens a new alert).
//! - A rule (detection or correlation) named in the `rules` of a correlation **without
//!   `generate: true`** raises nothing on its own: it only feeds the correlation.
//! - A **correlation** keeps one group per value of its `group-by` fields (read from the matched
//!   event, through `aliases` when an alias names the matching rule; `""` when absent; no
//!   `group-by`: one group). Each group holds the matches of a sliding window of `timespan`
//!   by event time: events `e` with `newest - timespan < e.time <= newest`, so two events
//!   exactly `timespan` apart never share a window. After each match the aggregate is
//!   computed and the condition (every comparison of it) tested:
//!   - `event_count`: matches in the window;
//!   - `value_count`: distinct values of `condition.field`, compared exactly as the events
//!     have them (several fields: distinct combinations; an event lacking one is not counted
//!     as a value);
//!   - `temporal`: distinct entries of `rules` seen (default condition: all of them);
//!   - `temporal_ordered`: the longest prefix of `rules` seen in that order — an event of
//!     the next entry at or after the time of the previous one (the same millisecond counts
//!     as in order) — (default condition: all of them);
//!   - `value_sum` / `value_avg`: sum / mean of the numeric values of `condition.field`;
//!     missing and non-numeric values are skipped and counted
//!     ([`CorrelatorStats::values_skipped`]); no numeric value at all: the condition is not
//!     tested;
//!   - `value_percentile`: a rarity test — the percentage of the window's events (those that
//!     have the field) whose `condition.field` equals the current event's; `lte: 1` fires on
//!     a value seen in at most 1 % of the group's recent events. Not tested when the current
//!     event lacks the field.
//!
//!   Conditions are tested as matches arrive, on the window as it is then: `lt`/`lte`/`neq`
//!   on a count hold from the first match, so use them with `gt`/`gte` (ranges).
//! - When the condition first holds, the correlation raises `new: true` with `count` = the
//!   group's events in the window, `value` = the aggregate and `window_start_ms` = the time of
//!   the oldest of them. The window's events are consumed by the alert: every later match of
//!   the group with time < `window_start_ms + timespan` raises `new: false, count: 1` (it
//!   does not count toward a new alert), and the first match after that starts the group
//!   afresh. One group key and window gives one alert. (For `value_percentile` this means the
//!   group's baseline restarts after an alert.)
//! - A correlation's `new: true` raise is a match of that correlation: it feeds the
//!   correlations that name it (chains), with the same event and time.
//! - **Time**: the watermark is the highest match time seen. A match that would feed a
//!   correlation and is older than `watermark - lateness_ms` is dropped for the correlations
//!   (counted in [`CorrelatorStats::late_dropped`], as is a match that can no longer share a
//!   window with the newest event of its group). Groups whose window (or dedup alert) ended
//!   before `watermark - lateness_ms` are expired: no later match could join them. One
//!   far-future time moves the watermark for good, so callers should clamp event times to
//!   the receive time (plus a small skew) before observing.
//! - **Bounds**: at most [`CorrelatorConfig::max_groups`] groups (default
//!   [`MAX_CORRELATION_GROUPS`]) and [`MAX_REMEMBERED_EVENTS`] events in all; past either,
//!   the least recently touched group is evicted and counted. A group remembers at most
//!   [`MAX_EVENTS_PER_GROUP`] events (the oldest are forgotten and counted); group-by values
//!   and aggregated values are cut to [`MAX_GROUP_VALUE_BYTES`] / [`MAX_VALUE_BYTES`].
//! - **Snapshots** ([`Correlator::snapshot`], [`Correlator::restore`]) name rules by their key
//!   (id, else title) and a fingerprint of their definition, so the state survives a rule
//!   reload: groups of rules that still exist with the same definition are kept, the rest are
//!   dropped.

use crate::eval::{self, EventView};
use crate::expr::Number;
use crate::mapping::FieldRef;
use crate::model::{Correlation, CorrelationType, RuleKind};
use crate::{RuleIdx, RuleSet};
use lru::LruCache;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::hash::RandomState;
use std::sync::Arc;

/// Default most groups (dedup and correlation together): 300–400 bytes each with a few
/// events (`benches/benches/correlate.rs`), so a full table stays within about 400 MB
/// whatever the traffic.
pub const MAX_CORRELATION_GROUPS: usize = 1_000_000;

/// Most events one group remembers: a threshold above this could never be reached (the
/// loader refuses such event_count and value_count conditions); a flood of one group is
/// not allowed to take the whole event budget.
pub const MAX_EVENTS_PER_GROUP: usize = 100_000;

/// Most events remembered by all groups together (about 40 bytes each, so ~160 MB): the
/// per-group and group-count bounds alone would multiply to far more than a server has.
pub const MAX_REMEMBERED_EVENTS: usize = 4_000_000;

/// Longest group-by (and dedup) value kept in a group key, in bytes: those fields are
/// addresses, names and hosts; a longer value is cut (at a character boundary).
pub const MAX_GROUP_VALUE_BYTES: usize = 1024;

/// Longest value kept for value_count and value_percentile, in bytes (cut likewise).
pub const MAX_VALUE_BYTES: usize = 1024;

/// Default dedup window of detection alerts: ten minutes, as one burst of one rule on one
/// host and source is one alert to look at.
pub const DEFAULT_DEDUP_WINDOW_MS: i64 = 10 * 60 * 1000;

/// Default lateness: five minutes, covering syslog relays that buffer and devices whose
/// clocks drift a little.
pub const DEFAULT_LATENESS_MS: i64 = 5 * 60 * 1000;

/// Event time between two full passes that expire old groups (in between, only the least
/// recently touched groups are checked): keeps expiry amortised over many matches.
pub const SWEEP_INTERVAL_MS: i64 = 60 * 1000;

/// Format of [`Correlator::snapshot`]; a snapshot of another version is refused.
pub const SNAPSHOT_VERSION: u32 = 1;

/// How the correlator deduplicates and how much it remembers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrelatorConfig {
    /// A detection match this close (ms) to its alert's first event adds to that alert.
    pub dedup_window_ms: i64,
    /// Fields that, with the rule, identify a detection alert.
    pub dedup_fields: Vec<String>,
    /// How far (ms) behind the newest time seen a match may be and still feed correlations.
    pub lateness_ms: i64,
    /// Most groups kept; the least recently touched one is evicted past it (at least 1).
    pub max_groups: usize,
}

impl Default for CorrelatorConfig {
    fn default() -> Self {
        CorrelatorConfig {
            dedup_window_ms: DEFAULT_DEDUP_WINDOW_MS,
            dedup_fields: vec!["host.name".to_owned(), "source.ip".to_owned()],
            lateness_ms: DEFAULT_LATENESS_MS,
            max_groups: MAX_CORRELATION_GROUPS,
        }
    }
}

/// A detection rule matched an event.
#[derive(Clone, Copy)]
pub struct Match<'a> {
    pub rule: RuleIdx,
    /// The event's time, ms since the Unix epoch.
    pub time_ms: i64,
    pub event: &'a dyn EventView,
}

/// What an alert store should do after a match.
#[derive(Debug, Clone, PartialEq)]
pub struct Raise {
    /// The rule that raises: a detection rule (dedup) or a correlation rule.
    pub rule: RuleIdx,
    /// The rule's id, else its title (what the engine writes as `canh.rule.id`).
    pub key: String,
    /// Group-by field (alias name for an alias) → value (`""` when absent), in group-by
    /// order; the dedup fields for a detection rule.
    pub group: Vec<(String, String)>,
    /// With `key` and `group`, identifies the alert.
    pub window_start_ms: i64,
    /// Time of the match that caused this raise.
    pub time_ms: i64,
    /// True: open a new alert; false: add to the open one.
    pub new: bool,
    /// Events this raise adds: for a new alert every event counted in its window so far,
    /// later 1.
    pub count: u64,
    /// The correlation's aggregate when it fired (count, distinct count, sum, average or
    /// percentage); `None` for detection alerts and for additions.
    pub value: Option<f64>,
}

/// Counters of a correlator (cumulative ones survive a snapshot and restore).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrelatorStats {
    /// Matches observed.
    pub events_seen: u64,
    /// Groups held now (dedup and correlation).
    pub live_groups: u64,
    /// Events held now by all groups.
    pub remembered_events: u64,
    /// Groups evicted, least recently touched first, to stay within the bounds.
    pub evicted_groups: u64,
    /// Groups dropped because their window ended before the watermark minus the lateness.
    pub expired_groups: u64,
    /// Matches too late to feed a correlation.
    pub late_dropped: u64,
    /// Missing or non-numeric values of value_sum / value_avg fields.
    pub values_skipped: u64,
    /// Events forgotten by a group past [`MAX_EVENTS_PER_GROUP`].
    pub events_forgotten: u64,
}

/// Why a snapshot cannot be restored.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("correlation snapshot is unreadable: {0}")]
    Decode(#[from] postcard::Error),
    #[error("correlation snapshot has format version {found}, expected {SNAPSHOT_VERSION}")]
    Version { found: u32 },
}

/// What [`Correlator::restore`] kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restored {
    /// Groups of rules that still exist with the same definition.
    pub kept_groups: usize,
    /// Groups of rules gone or changed (or past the bounds).
    pub dropped_groups: usize,
}

/// Per rule of the set: what its matches do.
#[derive(Debug, Clone)]
struct RuleInfo {
    key: String,
    /// A detection rule that raises deduplicated alerts of its own.
    dedup: bool,
    /// Its raises reach the caller (false when a correlation without `generate` names it).
    raises: bool,
    /// Index into `Plan::corrs` when the rule is a correlation.
    corr: Option<usize>,
    /// Correlations it feeds: (index into `Plan::corrs`, index into their `sources`).
    feeds: Vec<(usize, usize)>,
    /// Fingerprint of everything its state depends on (0: it has no state).
    fingerprint: u64,
}

#[derive(Debug, Clone)]
struct Source {
    entry: u32,
    group_by: Vec<FieldRef>,
    fields: Vec<FieldRef>,
}

#[derive(Debug, Clone)]
struct CorrInfo {
    rule: RuleIdx,
    def: Correlation,
    sources: Vec<Source>,
}

/// What the rule set says, fixed for the correlator's life.
#[derive(Debug, Clone)]
struct Plan {
    cfg: CorrelatorConfig,
    rules: Vec<RuleInfo>,
    corrs: Vec<CorrInfo>,
}

/// A group: the rule and its group values, length-prefixed (`3:a.b0:`), so that no two
/// lists of values share a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct GroupKey {
    rule: u32,
    values: Box<str>,
}

#[derive(Debug, Clone)]
enum Group {
    Dedup { start: i64 },
    Window(Window),
}

/// A value an event adds to a window.
#[derive(Debug, Clone)]
enum Val {
    None,
    Num(f64),
    Str(Arc<str>),
}

#[derive(Debug, Clone)]
struct Ev {
    t: i64,
    entry: u32,
    val: Val,
}

/// One correlation group: its events in time order and the aggregates over them.
#[derive(Debug, Clone, Default)]
struct Window {
    events: VecDeque<Ev>,
    newest: i64,
    /// Start of the alert the group's matches add to, if one is open.
    open: Option<i64>,
    /// Temporal types: the times of each entry of `rules`, in order.
    by_entry: Vec<VecDeque<i64>>,
    /// value_count / value_percentile: how many events have each value.
    values: HashMap<Arc<str>, u32>,
    with_value: u32,
    sum: f64,
    numeric: u32,
}

impl Window {
    fn new(kind: CorrelationType, rules: usize) -> Window {
        let temporal = matches!(
            kind,
            CorrelationType::Temporal | CorrelationType::TemporalOrdered
        );
        Window {
            by_entry: if temporal {
                vec![VecDeque::new(); rules]
            } else {
                Vec::new()
            },
            ..Window::default()
        }
    }

    /// Inserts in time order (after the events of the same time).
    fn insert(&mut self, ev: Ev) {
        match &ev.val {
            Val::None => {}
            Val::Num(x) => {
                self.sum += x;
                self.numeric += 1;
            }
            Val::Str(s) => {
                *self.values.entry(s.clone()).or_insert(0) += 1;
                self.with_value += 1;
            }
        }
        if let Some(d) = self.by_entry.get_mut(ev.entry as usize) {
            let at = d.partition_point(|&x| x <= ev.t);
            d.insert(at, ev.t);
        }
        if self.events.is_empty() || ev.t > self.newest {
            self.newest = ev.t;
        }
        let at = self.events.partition_point(|e| e.t <= ev.t);
        self.events.insert(at, ev);
    }

    /// Forgets the oldest event.
    fn pop_oldest(&mut self) -> bool {
        let Some(ev) = self.events.pop_front() else {
            return false;
        };
        match &ev.val {
            Val::None => {}
            Val::Num(x) => {
                self.numeric -= 1;
                // a sum of nothing is exactly 0, whatever rounding left behind
                self.sum = if self.numeric == 0 { 0.0 } else { self.sum - x };
            }
            Val::Str(s) => {
                if let Some(n) = self.values.get_mut(s) {
                    *n -= 1;
                    if *n == 0 {
                        self.values.remove(s);
                    }
                }
                self.with_value -= 1;
            }
        }
        if let Some(d) = self.by_entry.get_mut(ev.entry as usize) {
            d.pop_front();
        }
        true
    }

    fn clear(&mut self) {
        self.events.clear();
        self.by_entry.iter_mut().for_each(VecDeque::clear);
        self.values.clear();
        self.with_value = 0;
        self.sum = 0.0;
        self.numeric = 0;
    }

    /// The aggregate of `kind` over the window; `current` is the value of the match just
    /// added. `None` when there is nothing to test.
    fn value(&self, kind: CorrelationType, current: &Val) -> Option<f64> {
        Some(match kind {
            CorrelationType::EventCount => self.events.len() as f64,
            CorrelationType::ValueCount => self.values.len() as f64,
            CorrelationType::Temporal => {
                self.by_entry.iter().filter(|d| !d.is_empty()).count() as f64
            }
            CorrelationType::TemporalOrdered => {
                let mut prev = i64::MIN;
                let mut seen = 0usize;
                for d in &self.by_entry {
                    match d.get(d.partition_point(|&t| t < prev)) {
                        Some(&t) => {
                            prev = t;
                            seen += 1;
                        }
                        None => break,
                    }
                }
                seen as f64
            }
            CorrelationType::ValueSum if self.numeric > 0 => self.sum,
            CorrelationType::ValueAvg if self.numeric > 0 => self.sum / f64::from(self.numeric),
            CorrelationType::ValuePercentile => {
                let Val::Str(v) = current else { return None };
                let n = self.values.get(v).copied().unwrap_or(0);
                if self.with_value == 0 {
                    return None;
                }
                100.0 * f64::from(n) / f64::from(self.with_value)
            }
            CorrelationType::ValueSum | CorrelationType::ValueAvg => return None,
        })
    }

    /// The time after which no match can join this group any more.
    fn end(&self, timespan: i64) -> i64 {
        let open = self.open.map_or(i64::MIN, |s| s.saturating_add(timespan));
        let last = if self.events.is_empty() {
            i64::MIN
        } else {
            self.newest.saturating_add(timespan)
        };
        open.max(last)
    }
}

/// The mutable part.
#[derive(Debug)]
struct State {
    groups: LruCache<GroupKey, Group, RandomState>,
    remembered: usize,
    watermark: i64,
    last_sweep: i64,
    stats: CorrelatorStats,
}

/// The correlation engine; see the [module documentation](self).
#[derive(Debug)]
pub struct Correlator {
    plan: Plan,
    state: State,
}

/// 64-bit FNV-1a: a fingerprint that is the same in every process and release (the
/// standard hasher promises neither).
fn fingerprint(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// `s` cut to at most `max` bytes at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn encode(values: &[String]) -> Box<str> {
    let mut key = String::with_capacity(values.iter().map(|v| v.len() + 4).sum());
    for v in values {
        key.push_str(&v.len().to_string());
        key.push(':');
        key.push_str(v);
    }
    key.into_boxed_str()
}

fn read(ev: &dyn EventView, f: &FieldRef) -> Option<String> {
    eval::field_value(ev, f).map(|v| cut(&v, MAX_GROUP_VALUE_BYTES).to_owned())
}

impl Correlator {
    pub fn new(set: &RuleSet, cfg: CorrelatorConfig) -> Self {
        let mut cfg = cfg;
        cfg.max_groups = cfg.max_groups.max(1);
        let mut rules: Vec<RuleInfo> = set
            .rules()
            .iter()
            .enumerate()
            .map(|(i, r)| RuleInfo {
                key: set.rule_key(RuleIdx(i as u32)).to_owned(),
                dedup: matches!(r.kind, RuleKind::Detection(_)),
                raises: !matches!(r.kind, RuleKind::Filter(_)),
                corr: None,
                feeds: Vec::new(),
                fingerprint: 0,
            })
            .collect();
        let mut corrs = Vec::new();
        let mut fed_only = vec![false; rules.len()];
        for cc in set.correlations() {
            let RuleKind::Correlation(def) = &set.rule(cc.rule).kind else {
                continue;
            };
            let ci = corrs.len();
            let mut sources = Vec::with_capacity(cc.sources.len());
            let mut text = def.definition();
            for (si, s) in cc.sources.iter().enumerate() {
                if let Some(r) = rules.get_mut(s.rule.0 as usize) {
                    r.feeds.push((ci, si));
                }
                if !def.generate {
                    fed_only[s.rule.0 as usize] = true;
                }
                text.push_str(&format!(
                    "|{}:{}:{:?}:{:?}",
                    s.entry,
                    set.rule_key(s.rule),
                    s.group_by,
                    s.fields
                ));
                sources.push(Source {
                    entry: u32::try_from(s.entry).unwrap_or(u32::MAX),
                    group_by: s.group_by.clone(),
                    fields: s.fields.clone(),
                });
            }
            let info = &mut rules[cc.rule.0 as usize];
            info.corr = Some(ci);
            info.fingerprint = fingerprint(&text);
            corrs.push(CorrInfo {
                rule: cc.rule,
                def: def.clone(),
                sources,
            });
        }
        for (i, r) in rules.iter_mut().enumerate() {
            if fed_only[i] {
                r.raises = false;
                r.dedup = false;
            }
            if r.dedup
                && let RuleKind::Detection(d) = &set.rules()[i].kind
            {
                r.fingerprint = fingerprint(&format!(
                    "detection|{:?}|{:?}|{}|{:?}",
                    set.rules()[i].logsource,
                    d.expr,
                    cfg.dedup_window_ms,
                    cfg.dedup_fields
                ));
            }
        }
        Correlator {
            plan: Plan { cfg, rules, corrs },
            state: State {
                groups: LruCache::unbounded_with_hasher(RandomState::new()),
                remembered: 0,
                watermark: i64::MIN,
                last_sweep: i64::MIN,
                stats: CorrelatorStats::default(),
            },
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &CorrelatorConfig {
        &self.plan.cfg
    }

    /// The highest match time seen (`None` before the first match).
    pub fn watermark(&self) -> Option<i64> {
        (self.state.watermark != i64::MIN).then_some(self.state.watermark)
    }

    /// Takes one match; appends what it raises to `out` (in order: the detection alert, then
    /// correlation alerts, inner ones first).
    pub fn observe(&mut self, m: &Match<'_>, out: &mut Vec<Raise>) {
        let plan = &self.plan;
        let state = &mut self.state;
        state.stats.events_seen += 1;
        let Some(info) = plan.rules.get(m.rule.0 as usize) else {
            return;
        };
        state.watermark = state.watermark.max(m.time_ms);
        if info.dedup {
            state.dedup(plan, m, out);
        }
        if !info.feeds.is_empty() {
            if m.time_ms < state.watermark.saturating_sub(plan.cfg.lateness_ms) {
                state.stats.late_dropped += 1;
            } else {
                let mut queue = vec![m.rule.0 as usize];
                while let Some(r) = queue.pop() {
                    for &(ci, si) in &plan.rules[r].feeds {
                        if state.feed(plan, ci, si, m, out) {
                            queue.push(plan.corrs[ci].rule.0 as usize);
                        }
                    }
                }
            }
        }
        state.expire(plan);
    }

    /// Counters; O(1).
    pub fn stats(&self) -> CorrelatorStats {
        let mut s = self.state.stats;
        s.live_groups = self.state.groups.len() as u64;
        s.remembered_events = self.state.remembered as u64;
        s
    }

    /// Approximate bytes the state takes (keys, groups, events, distinct values and the
    /// cache's own nodes); walks every group, so O(live groups).
    pub fn approx_memory_bytes(&self) -> usize {
        // an lru node (key, value, two links) plus its hash-table slot
        let per_group = std::mem::size_of::<GroupKey>()
            + std::mem::size_of::<Group>()
            + 2 * std::mem::size_of::<usize>()
            + std::mem::size_of::<usize>()
            + 1;
        let mut bytes = 0usize;
        for (k, g) in self.state.groups.iter() {
            bytes += per_group + k.values.len();
            if let Group::Window(w) = g {
                bytes += w.events.capacity() * std::mem::size_of::<Ev>();
                bytes += w
                    .by_entry
                    .iter()
                    .map(|d| d.capacity() * 8 + std::mem::size_of::<VecDeque<i64>>())
                    .sum::<usize>();
                bytes += w
                    .values
                    .keys()
                    .map(|v| v.len() + 2 * std::mem::size_of::<usize>() + 24 + 1)
                    .sum::<usize>();
            }
        }
        bytes
    }

    /// The whole state as bytes (postcard), groups least recently touched first.
    pub fn snapshot(&self) -> Vec<u8> {
        let plan = &self.plan;
        let mut rules: Vec<(String, u64)> = Vec::new();
        let mut index: HashMap<u32, u32> = HashMap::new();
        let mut groups = Vec::with_capacity(self.state.groups.len());
        for (k, g) in self.state.groups.iter().rev() {
            let Some(info) = plan.rules.get(k.rule as usize) else {
                continue;
            };
            let r = *index.entry(k.rule).or_insert_with(|| {
                rules.push((info.key.clone(), info.fingerprint));
                (rules.len() - 1) as u32
            });
            let state = match g {
                Group::Dedup { start } => SnapState::Dedup { start: *start },
                Group::Window(w) => SnapState::Window {
                    newest: w.newest,
                    open: w.open,
                    events: w
                        .events
                        .iter()
                        .map(|e| SnapEv {
                            t: e.t,
                            entry: e.entry,
                            val: match &e.val {
                                Val::None => SnapVal::None,
                                Val::Num(x) => SnapVal::Num(*x),
                                Val::Str(s) => SnapVal::Str(s.to_string()),
                            },
                        })
                        .collect(),
                },
            };
            groups.push(SnapGroup {
                rule: r,
                values: k.values.to_string(),
                state,
            });
        }
        let snap = Snapshot {
            version: SNAPSHOT_VERSION,
            watermark: self.state.watermark,
            last_sweep: self.state.last_sweep,
            stats: self.state.stats,
            rules,
            groups,
        };
        // serialising plain owned data into a Vec cannot fail
        postcard::to_allocvec(&snap).unwrap_or_default()
    }

    /// Replaces the state with a snapshot's, keeping the groups of rules that still exist
    /// with the same key and definition. On error the state is left as it was.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<Restored, SnapshotError> {
        let (version, _) = postcard::take_from_bytes::<u32>(bytes)?;
        if version != SNAPSHOT_VERSION {
            return Err(SnapshotError::Version { found: version });
        }
        let snap: Snapshot = postcard::from_bytes(bytes)?;
        let plan = &self.plan;
        let mut by_key: HashMap<(&str, u64), u32> = HashMap::new();
        for (i, r) in plan.rules.iter().enumerate() {
            if r.fingerprint != 0 {
                by_key
                    .entry((r.key.as_str(), r.fingerprint))
                    .or_insert(i as u32);
            }
        }
        let rule_of: Vec<Option<u32>> = snap
            .rules
            .iter()
            .map(|(k, fp)| by_key.get(&(k.as_str(), *fp)).copied())
            .collect();
        let mut state = State {
            groups: LruCache::unbounded_with_hasher(RandomState::new()),
            remembered: 0,
            watermark: snap.watermark.max(self.state.watermark),
            last_sweep: snap.last_sweep,
            stats: snap.stats,
        };
        let mut done = Restored::default();
        let total = snap.groups.len();
        // the most recently touched groups are last: keep those within the bounds
        let skip = total.saturating_sub(plan.cfg.max_groups);
        for (n, g) in snap.groups.into_iter().enumerate() {
            let rule = rule_of.get(g.rule as usize).copied().flatten();
            let group = match (rule, g.state) {
                (Some(r), SnapState::Dedup { start })
                    if n >= skip && plan.rules[r as usize].dedup =>
                {
                    Some((r, Group::Dedup { start }))
                }
                (
                    Some(r),
                    SnapState::Window {
                        newest,
                        open,
                        events,
                    },
                ) if n >= skip => plan.rules[r as usize].corr.and_then(|ci| {
                    let c = &plan.corrs[ci];
                    let mut w = Window::new(c.def.kind, c.def.rules.len());
                    for e in events {
                        if e.entry as usize >= c.def.rules.len() {
                            return None;
                        }
                        w.insert(Ev {
                            t: e.t,
                            entry: e.entry,
                            val: match e.val {
                                SnapVal::None => Val::None,
                                SnapVal::Num(x) => Val::Num(x),
                                SnapVal::Str(s) => Val::Str(w.shared(&s)),
                            },
                        });
                    }
                    w.newest = newest;
                    w.open = open;
                    Some((r, Group::Window(w)))
                }),
                _ => None,
            };
            match group {
                Some((r, group)) => {
                    if let Group::Window(w) = &group {
                        state.remembered += w.events.len();
                    }
                    state.groups.push(
                        GroupKey {
                            rule: r,
                            values: g.values.into_boxed_str(),
                        },
                        group,
                    );
                    done.kept_groups += 1;
                }
                None => done.dropped_groups += 1,
            }
        }
        while state.remembered > MAX_REMEMBERED_EVENTS {
            if !state.evict_one() {
                break;
            }
            done.kept_groups -= 1;
            done.dropped_groups += 1;
        }
        self.state = state;
        Ok(done)
    }
}

impl Window {
    /// The window's own copy of a value, shared with the events that have it.
    fn shared(&self, s: &str) -> Arc<str> {
        match self.values.get_key_value(s) {
            Some((k, _)) => k.clone(),
            None => Arc::from(s),
        }
    }
}

impl State {
    fn dedup(&mut self, plan: &Plan, m: &Match<'_>, out: &mut Vec<Raise>) {
        let values: Vec<String> = plan
            .cfg
            .dedup_fields
            .iter()
            .map(|f| {
                m.event
                    .field(f)
                    .map(|v| cut(&v, MAX_GROUP_VALUE_BYTES).to_owned())
                    .unwrap_or_default()
            })
            .collect();
        let key = GroupKey {
            rule: m.rule.0,
            values: encode(&values),
        };
        let t = m.time_ms;
        let window = plan.cfg.dedup_window_ms;
        let existing = match self.groups.get(&key) {
            Some(Group::Dedup { start }) => Some(*start),
            _ => None,
        };
        let (new, start) = match existing {
            Some(s) if t < s.saturating_add(window) && t > s.saturating_sub(window) => (false, s),
            Some(s) if t <= s.saturating_sub(window) => (true, t),
            _ => {
                self.put(plan, key, Group::Dedup { start: t });
                (true, t)
            }
        };
        let info = &plan.rules[m.rule.0 as usize];
        out.push(Raise {
            rule: m.rule,
            key: info.key.clone(),
            group: plan.cfg.dedup_fields.iter().cloned().zip(values).collect(),
            window_start_ms: start,
            time_ms: t,
            new,
            count: 1,
            value: None,
        });
    }

    /// Inserts or replaces a group, evicting the least recently touched one past the bound.
    fn put(&mut self, plan: &Plan, key: GroupKey, group: Group) {
        if !self.groups.contains(&key) {
            while self.groups.len() >= plan.cfg.max_groups {
                if !self.evict_one() {
                    break;
                }
            }
        }
        if let Some((_, Group::Window(old))) = self.groups.push(key, group) {
            self.remembered -= old.events.len();
        }
    }

    fn evict_one(&mut self) -> bool {
        match self.groups.pop_lru() {
            Some((_, g)) => {
                if let Group::Window(w) = g {
                    self.remembered -= w.events.len();
                }
                self.stats.evicted_groups += 1;
                true
            }
            None => false,
        }
    }

    /// Feeds one match to source `si` of correlation `ci`; true when that opened an alert.
    fn feed(
        &mut self,
        plan: &Plan,
        ci: usize,
        si: usize,
        m: &Match<'_>,
        out: &mut Vec<Raise>,
    ) -> bool {
        let c = &plan.corrs[ci];
        let src = &c.sources[si];
        let def = &c.def;
        let t = m.time_ms;
        let values: Vec<String> = src
            .group_by
            .iter()
            .map(|f| read(m.event, f).unwrap_or_default())
            .collect();
        let val = match def.kind {
            CorrelationType::ValueCount | CorrelationType::ValuePercentile => {
                let parts: Option<Vec<Cow<'_, str>>> = src
                    .fields
                    .iter()
                    .map(|f| eval::field_value(m.event, f))
                    .collect();
                match parts {
                    Some(p) if p.len() == 1 => Val::Str(Arc::from(cut(&p[0], MAX_VALUE_BYTES))),
                    Some(p) => {
                        let joined: Vec<String> = p
                            .iter()
                            .map(|v| cut(v, MAX_VALUE_BYTES).to_owned())
                            .collect();
                        Val::Str(Arc::from(&*encode(&joined)))
                    }
                    None => Val::None,
                }
            }
            CorrelationType::ValueSum | CorrelationType::ValueAvg => {
                match src
                    .fields
                    .first()
                    .and_then(|f| eval::field_value(m.event, f))
                    .and_then(|v| Number::parse(&v))
                {
                    Some(n) => Val::Num(n.as_f64()),
                    None => {
                        self.stats.values_skipped += 1;
                        Val::None
                    }
                }
            }
            _ => Val::None,
        };
        let key = GroupKey {
            rule: c.rule.0,
            values: encode(&values),
        };
        if !matches!(self.groups.get(&key), Some(Group::Window(_))) {
            let w = Window::new(def.kind, def.rules.len());
            self.put(plan, key.clone(), Group::Window(w));
        }
        let Some(Group::Window(w)) = self.groups.get_mut(&key) else {
            return false;
        };
        let ts = def.timespan_ms;
        let info = &plan.rules[c.rule.0 as usize];
        let raise = |new: bool, start: i64, count: usize, value: Option<f64>| Raise {
            rule: c.rule,
            key: info.key.clone(),
            group: def
                .group_by
                .iter()
                .cloned()
                .zip(values.iter().cloned())
                .collect(),
            window_start_ms: start,
            time_ms: t,
            new,
            count: count as u64,
            value,
        };
        if let Some(start) = w.open {
            if t < start.saturating_add(ts) {
                if info.raises {
                    out.push(raise(false, start, 1, None));
                }
                return false;
            }
            w.open = None;
        }
        if !w.events.is_empty() && t <= w.newest.saturating_sub(ts) {
            self.stats.late_dropped += 1;
            return false;
        }
        let before = w.events.len();
        let val = match val {
            Val::Str(s) => Val::Str(w.shared(&s)),
            v => v,
        };
        let current = val.clone();
        w.insert(Ev {
            t,
            entry: src.entry,
            val,
        });
        let horizon = w.newest.saturating_sub(ts);
        while w.events.front().is_some_and(|e| e.t <= horizon) {
            w.pop_oldest();
        }
        while w.events.len() > MAX_EVENTS_PER_GROUP {
            w.pop_oldest();
            self.stats.events_forgotten += 1;
        }
        let mut fired = false;
        if let Some(v) = w.value(def.kind, &current)
            && def.holds(v)
        {
            let start = w.events.front().map_or(t, |e| e.t);
            let count = w.events.len();
            w.open = Some(start);
            w.clear();
            if info.raises {
                out.push(raise(true, start, count, Some(v)));
            }
            fired = true;
        }
        // `remembered` counts this group's `before` events, so this cannot underflow
        self.remembered = self.remembered - before + w.events.len();
        while self.remembered > MAX_REMEMBERED_EVENTS && self.groups.len() > 1 {
            self.evict_one();
        }
        fired
    }

    /// Drops the groups no later match can join.
    fn expire(&mut self, plan: &Plan) {
        let limit = self.watermark.saturating_sub(plan.cfg.lateness_ms);
        let end = |k: &GroupKey, g: &Group| match g {
            Group::Dedup { start } => start.saturating_add(plan.cfg.dedup_window_ms),
            Group::Window(w) => {
                let ts = plan.rules[k.rule as usize]
                    .corr
                    .map_or(0, |ci| plan.corrs[ci].def.timespan_ms);
                w.end(ts)
            }
        };
        while let Some((k, g)) = self.groups.peek_lru() {
            if end(k, g) > limit {
                break;
            }
            if let Some((_, Group::Window(w))) = self.groups.pop_lru() {
                self.remembered -= w.events.len();
            }
            self.stats.expired_groups += 1;
        }
        if self.watermark.saturating_sub(self.last_sweep) >= SWEEP_INTERVAL_MS {
            self.last_sweep = self.watermark;
            let mut expired = 0u64;
            let mut freed = 0usize;
            self.groups.retain(|k, g| {
                let keep = end(k, g) > limit;
                if !keep {
                    expired += 1;
                    if let Group::Window(w) = g {
                        freed += w.events.len();
                    }
                }
                keep
            });
            self.stats.expired_groups += expired;
            self.remembered -= freed;
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    version: u32,
    watermark: i64,
    last_sweep: i64,
    stats: CorrelatorStats,
    /// (rule key, definition fingerprint) of the rules the groups belong to.
    rules: Vec<(String, u64)>,
    /// Least recently touched first.
    groups: Vec<SnapGroup>,
}

#[derive(Serialize, Deserialize)]
struct SnapGroup {
    /// Index into `Snapshot::rules`.
    rule: u32,
    values: String,
    state: SnapState,
}

#[derive(Serialize, Deserialize)]
enum SnapState {
    Dedup {
        start: i64,
    },
    Window {
        newest: i64,
        open: Option<i64>,
        events: Vec<SnapEv>,
    },
}

#[derive(Serialize, Deserialize)]
struct SnapEv {
    t: i64,
    entry: u32,
    val: SnapVal,
}

#[derive(Serialize, Deserialize)]
enum SnapVal {
    None,
    Num(f64),
    Str(String),
}
