//! The console's state: plain data, changed only by [`crate::update::update`] and read by
//! [`crate::render::render`]. Nothing here touches the terminal or the network.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use chrono::{DateTime, FixedOffset, Utc};

use crate::i18n::{Lang, T};
use crate::model::{Alert, AlertDetail, Counts, EngineStatus, Hit, RuleEntry, level_rank};

/// Most alerts the queue holds: about 1 KB each, so ~100 MB at most; past it the officer
/// narrows the filter (the header says the list is cut).
pub const MAX_QUEUE_ALERTS: usize = 100_000;
/// Alerts per `GET /api/v1/alerts` page: the engine's own cap on one listing.
pub const PAGE_ALERTS: usize = 10_000;
/// One-second rate points kept per listener: five minutes of sparkline, as wide as a wide
/// terminal.
pub const SPARK_POINTS: usize = 300;
/// How long a message stays in the footer, in seconds.
pub const FLASH_SECS: i64 = 6;
/// How often alerts touched lately are re-read (the live stream only carries new alerts, not
/// count or status changes), in seconds.
pub const REFRESH_SECS: i64 = 10;
/// How far back (by last event) that re-read looks, in seconds.
pub const REFRESH_LOOKBACK_SECS: i64 = 300;
/// Most alerts one re-read returns.
pub const REFRESH_LIMIT: usize = 2_000;
/// Most events one search shows.
pub const SEARCH_LIMIT: usize = 1_000;
/// Longest text typed into a prompt: the engine's limit on notes and justifications.
pub const MAX_INPUT_BYTES: usize = 4096;

/// The four screens, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Alerts,
    Search,
    Overview,
    Rules,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::Alerts, Tab::Search, Tab::Overview, Tab::Rules];

    pub fn title(self) -> T {
        match self {
            Tab::Alerts => T::TabAlerts,
            Tab::Search => T::TabSearch,
            Tab::Overview => T::TabOverview,
            Tab::Rules => T::TabRules,
        }
    }

    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// Whether the engine answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conn {
    Connecting,
    Up,
    Down {
        reason: String,
        retry_in_s: u64,
        attempt: u32,
    },
}

/// Which alerts the queue asks the engine for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFilter {
    #[default]
    New,
    Acknowledged,
    Closed,
    All,
}

impl StatusFilter {
    pub const ALL: [StatusFilter; 4] = [
        StatusFilter::New,
        StatusFilter::Acknowledged,
        StatusFilter::Closed,
        StatusFilter::All,
    ];

    /// The `status=` value of `GET /api/v1/alerts`.
    pub fn as_api(self) -> &'static str {
        match self {
            StatusFilter::New => "new",
            StatusFilter::Acknowledged => "acknowledged",
            StatusFilter::Closed => "closed",
            StatusFilter::All => "all",
        }
    }

    pub fn label(self) -> T {
        match self {
            StatusFilter::New => T::StNew,
            StatusFilter::Acknowledged => T::StAcknowledged,
            StatusFilter::Closed => T::StClosed,
            StatusFilter::All => T::StAll,
        }
    }

    pub fn admits(self, status: &str) -> bool {
        self == StatusFilter::All || self.as_api() == status
    }
}

/// What the queue shows: the status goes to the engine, the rest is applied here so that
/// typing a filter never waits on the network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub status: StatusFilter,
    /// Alerts at this level rank or more urgent (0 = critical only).
    pub min_level: Option<u8>,
    pub rule: String,
    pub host: String,
    pub text: String,
}

impl Filter {
    /// True when only the status narrows the list.
    pub fn is_open(&self) -> bool {
        self.min_level.is_none()
            && self.rule.is_empty()
            && self.host.is_empty()
            && self.text.is_empty()
    }

    fn matcher(&self) -> Matcher {
        Matcher {
            status: self.status,
            min_level: self.min_level,
            rule: self.rule.trim().to_lowercase(),
            host: self.host.trim().to_lowercase(),
            text: self.text.trim().to_lowercase(),
        }
    }

    pub fn matches(&self, a: &Alert) -> bool {
        self.matcher().matches(a)
    }
}

/// A filter with its needles lowercased once.
struct Matcher {
    status: StatusFilter,
    min_level: Option<u8>,
    rule: String,
    host: String,
    text: String,
}

fn contains_ci(hay: &str, needle_lower: &str) -> bool {
    needle_lower.is_empty()
        || hay.contains(needle_lower)
        || hay.to_lowercase().contains(needle_lower)
}

impl Matcher {
    fn matches(&self, a: &Alert) -> bool {
        if !self.status.admits(&a.status) {
            return false;
        }
        if let Some(m) = self.min_level
            && level_rank(&a.level) > m
        {
            return false;
        }
        if !self.rule.is_empty()
            && !contains_ci(&a.rule, &self.rule)
            && !contains_ci(&a.title, &self.rule)
        {
            return false;
        }
        if !self.host.is_empty() {
            let hit = a.group.iter().chain(a.matched.iter()).any(|(k, v)| {
                (k.contains("host") || k.contains(".ip")) && contains_ci(v, &self.host)
            });
            if !hit {
                return false;
            }
        }
        if !self.text.is_empty() {
            let hit = contains_ci(&a.title, &self.text)
                || contains_ci(&a.rule, &self.text)
                || a.group.values().any(|v| contains_ci(v, &self.text))
                || a.matched.values().any(|v| contains_ci(v, &self.text))
                || a.assignee
                    .as_deref()
                    .is_some_and(|v| contains_ci(v, &self.text));
            if !hit {
                return false;
            }
        }
        true
    }
}

/// The first row of a `height`-row window that shows `cursor`, moving `offset` as little as
/// possible. Render and update both use it, so the window never jumps.
pub fn scroll_window(cursor: usize, offset: usize, height: usize, len: usize) -> usize {
    if height == 0 || len == 0 {
        return 0;
    }
    let mut off = offset.min(len.saturating_sub(1));
    if cursor < off {
        off = cursor;
    } else if cursor >= off + height {
        off = cursor + 1 - height;
    }
    // no empty space below the last row when the list could fill the window
    off.min(len.saturating_sub(height))
}

/// The alert queue: every loaded alert in the engine's order, and the rows the filter keeps.
#[derive(Debug, Clone, Default)]
pub struct Queue {
    /// Sorted by [`Alert::sort_cmp`]; changed only through the methods below.
    pub alerts: Vec<Alert>,
    ids: HashSet<i64>,
    /// Positions in `alerts` that pass the filter, in order.
    pub visible: Vec<u32>,
    pub filter: Filter,
    /// Row of `visible` under the cursor.
    pub cursor: usize,
    /// First row shown.
    pub offset: usize,
    /// Alerts marked with space for a bulk action.
    pub selected: BTreeSet<i64>,
    /// Alerts that arrived on the live stream and were not looked at yet.
    pub fresh: HashSet<i64>,
    pub counts: Counts,
    pub loading: bool,
    /// Generation of the listing in flight; pages of older ones are ignored.
    pub generation: u64,
    /// The engine had more alerts than [`MAX_QUEUE_ALERTS`].
    pub truncated: bool,
}

impl Queue {
    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    pub fn contains(&self, id: i64) -> bool {
        self.ids.contains(&id)
    }

    /// The alert on visible row `row`.
    pub fn row(&self, row: usize) -> Option<&Alert> {
        self.visible
            .get(row)
            .and_then(|&i| self.alerts.get(i as usize))
    }

    pub fn cursor_alert(&self) -> Option<&Alert> {
        self.row(self.cursor)
    }

    pub fn get(&self, id: i64) -> Option<&Alert> {
        if !self.ids.contains(&id) {
            return None;
        }
        self.alerts.iter().find(|a| a.id == id)
    }

    /// Replaces every alert (the first page of a listing).
    pub fn replace(&mut self, mut alerts: Vec<Alert>) {
        alerts.truncate(MAX_QUEUE_ALERTS);
        let keep = self.cursor_alert().map(|a| a.id);
        alerts.sort_by(Alert::sort_cmp);
        alerts.dedup_by_key(|a| a.id);
        self.ids = alerts.iter().map(|a| a.id).collect();
        self.alerts = alerts;
        self.selected.retain(|id| self.ids.contains(id));
        self.fresh.retain(|id| self.ids.contains(id));
        self.truncated = false;
        self.rebuild(keep);
    }

    /// Adds a further page of a listing (alerts already there are updated).
    pub fn extend(&mut self, alerts: Vec<Alert>) {
        let keep = self.cursor_alert().map(|a| a.id);
        for a in alerts {
            if self.ids.contains(&a.id) {
                if let Some(slot) = self.alerts.iter_mut().find(|x| x.id == a.id) {
                    *slot = a;
                }
            } else if self.alerts.len() < MAX_QUEUE_ALERTS {
                self.ids.insert(a.id);
                self.alerts.push(a);
            } else {
                self.truncated = true;
            }
        }
        // pages come sorted, so this is a merge of two runs
        self.alerts.sort_by(Alert::sort_cmp);
        self.rebuild(keep);
    }

    /// Inserts or updates one alert; drops it when its status left the filter.
    pub fn upsert(&mut self, a: Alert) {
        let keep = self.cursor_alert().map(|x| x.id);
        self.upsert_one(a);
        self.rebuild(keep);
    }

    /// Several [`Queue::upsert`]s with one rebuild.
    pub fn upsert_many(&mut self, alerts: Vec<Alert>) {
        if alerts.is_empty() {
            return;
        }
        let keep = self.cursor_alert().map(|x| x.id);
        for a in alerts {
            self.upsert_one(a);
        }
        self.rebuild(keep);
    }

    fn upsert_one(&mut self, a: Alert) {
        if self.ids.contains(&a.id) {
            let Some(pos) = self.alerts.iter().position(|x| x.id == a.id) else {
                return;
            };
            if !self.filter.status.admits(&a.status) {
                self.alerts.remove(pos);
                self.ids.remove(&a.id);
                self.selected.remove(&a.id);
                self.fresh.remove(&a.id);
                return;
            }
            if self.alerts[pos].sort_cmp(&a).is_eq() {
                self.alerts[pos] = a;
                return;
            }
            self.alerts.remove(pos);
        } else if !self.filter.status.admits(&a.status) {
            return;
        } else if self.alerts.len() >= MAX_QUEUE_ALERTS {
            // the least urgent goes to make room
            if let Some(last) = self.alerts.pop() {
                self.ids.remove(&last.id);
            }
            self.truncated = true;
        }
        let at = self
            .alerts
            .binary_search_by(|x| x.sort_cmp(&a))
            .unwrap_or_else(|i| i);
        self.ids.insert(a.id);
        self.alerts.insert(at, a);
    }

    /// Recomputes the visible rows, keeping the cursor on alert `keep` when it is still
    /// shown, else on the same row (the next alert moves up under it).
    pub fn rebuild(&mut self, keep: Option<i64>) {
        let m = self.filter.matcher();
        self.visible.clear();
        let mut keep_row = None;
        for (i, a) in self.alerts.iter().enumerate() {
            if m.matches(a) {
                if Some(a.id) == keep {
                    keep_row = Some(self.visible.len());
                }
                self.visible.push(i as u32);
            }
        }
        self.cursor = keep_row.unwrap_or(self.cursor);
        self.cursor = self.cursor.min(self.visible.len().saturating_sub(1));
    }

    /// Moves the cursor by `delta` rows (clamped), keeping it inside a `height`-row window.
    pub fn move_cursor(&mut self, delta: isize, height: usize) {
        let len = self.visible.len();
        if len == 0 {
            self.cursor = 0;
            self.offset = 0;
            return;
        }
        self.cursor = self.cursor.saturating_add_signed(delta).min(len - 1);
        self.offset = scroll_window(self.cursor, self.offset, height, len);
        if let Some(id) = self.cursor_alert().map(|a| a.id) {
            self.fresh.remove(&id);
        }
    }

    /// The ids a triage key acts on: the selection, else the alert under the cursor.
    pub fn targets(&self) -> Vec<i64> {
        if self.selected.is_empty() {
            self.cursor_alert().map(|a| vec![a.id]).unwrap_or_default()
        } else {
            self.selected.iter().copied().collect()
        }
    }

    /// Latest last event per rule over the loaded alerts.
    pub fn last_by_rule(&self) -> HashMap<String, String> {
        let mut m: HashMap<String, String> = HashMap::new();
        for a in &self.alerts {
            match m.get_mut(&a.rule) {
                Some(t) if *t >= a.last_seen => {}
                Some(t) => t.clone_from(&a.last_seen),
                None => {
                    m.insert(a.rule.clone(), a.last_seen.clone());
                }
            }
        }
        m
    }
}

/// An open alert.
#[derive(Debug, Clone, Default)]
pub struct DetailView {
    pub id: i64,
    /// The alert as listed, shown while the detail loads.
    pub alert: Alert,
    pub data: Option<AlertDetail>,
    pub scroll: u16,
    pub error: Option<String>,
}

/// Time ranges of the search screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Range {
    M15,
    H1,
    #[default]
    H24,
    D7,
    D30,
    All,
}

impl Range {
    pub const ALL: [Range; 6] = [
        Range::M15,
        Range::H1,
        Range::H24,
        Range::D7,
        Range::D30,
        Range::All,
    ];

    pub fn seconds(self) -> Option<i64> {
        Some(match self {
            Range::M15 => 15 * 60,
            Range::H1 => 3600,
            Range::H24 => 86_400,
            Range::D7 => 7 * 86_400,
            Range::D30 => 30 * 86_400,
            Range::All => return None,
        })
    }

    pub fn label(self) -> T {
        match self {
            Range::M15 => T::Range15m,
            Range::H1 => T::Range1h,
            Range::H24 => T::Range24h,
            Range::D7 => T::Range7d,
            Range::D30 => T::Range30d,
            Range::All => T::RangeAll,
        }
    }

    pub fn next(self) -> Range {
        let i = Range::ALL.iter().position(|r| *r == self).unwrap_or(0);
        Range::ALL[(i + 1) % Range::ALL.len()]
    }
}

/// One event opened from the results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventView {
    pub index: usize,
    pub cursor: usize,
    pub offset: usize,
}

/// The search screen.
#[derive(Debug, Clone, Default)]
pub struct SearchView {
    pub query: String,
    /// Keys go to the query bar.
    pub editing: bool,
    pub range: Range,
    /// An exact range (from an alert's events) that replaces `range` until it is changed.
    pub custom: Option<(String, String)>,
    pub hits: Vec<Hit>,
    pub cursor: usize,
    pub offset: usize,
    pub generation: u64,
    pub running: bool,
    pub error: Option<String>,
    /// The query the results are for.
    pub ran: Option<String>,
    pub event: Option<EventView>,
}

/// A rate series of one listener.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    pub name: String,
    /// Events per second, oldest first.
    pub points: VecDeque<u64>,
    last_total: Option<u64>,
}

/// The overview screen: the last status and rates derived from its counters.
#[derive(Debug, Clone, Default)]
pub struct Overview {
    pub status: Option<EngineStatus>,
    pub at: Option<DateTime<Utc>>,
    pub series: Vec<Series>,
}

impl Overview {
    /// Takes a status polled at `at`, turning counter increases into per-second rates.
    pub fn push(&mut self, s: EngineStatus, at: DateTime<Utc>) {
        let secs = self
            .at
            .map(|p| (at - p).num_milliseconds() as f64 / 1000.0)
            .filter(|d| *d > 0.0);
        let totals: Vec<(String, u64)> = s
            .listeners
            .iter()
            .map(|l| (l.url.clone(), l.received))
            .chain(s.netflow.iter().map(|n| (n.url.clone(), n.totals.records)))
            .collect();
        let mut next = Vec::with_capacity(totals.len());
        for (name, total) in totals {
            let mut series = self
                .series
                .iter()
                .position(|x| x.name == name)
                .map(|i| std::mem::take(&mut self.series[i]))
                .unwrap_or_else(|| Series {
                    name: name.clone(),
                    ..Default::default()
                });
            if let (Some(prev), Some(secs)) = (series.last_total, secs) {
                // a counter that went down means the engine restarted
                let rate = total.saturating_sub(prev) as f64 / secs;
                series.points.push_back(rate.round() as u64);
                while series.points.len() > SPARK_POINTS {
                    series.points.pop_front();
                }
            }
            series.last_total = Some(total);
            next.push(series);
        }
        self.series = next;
        self.status = Some(s);
        self.at = Some(at);
    }
}

/// The rules screen.
#[derive(Debug, Clone, Default)]
pub struct RulesView {
    pub rules: Vec<RuleEntry>,
    pub cursor: usize,
    pub offset: usize,
    pub loading: bool,
    pub reloading: bool,
    /// Last event of the newest loaded alert per rule key.
    pub last_alert: HashMap<String, String>,
}

/// Which text prompt is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    Note,
    Assign,
}

/// The close reasons, in the order the prompt lists them, with the engine's names.
pub const CLOSE_REASONS: [(&str, T); 4] = [
    ("true_positive", T::ReasonTruePositive),
    ("false_positive", T::ReasonFalsePositive),
    ("benign", T::ReasonBenign),
    ("duplicate", T::ReasonDuplicate),
];

/// Fields of the suppress form, in order, with the API's names.
pub const SUPPRESS_FIELDS: [(&str, T); 8] = [
    ("rule", T::SuppressRule),
    ("host", T::SuppressHost),
    ("user", T::SuppressUser),
    ("cidr", T::SuppressCidr),
    ("field", T::SuppressField),
    ("value", T::SuppressValue),
    ("justification", T::SuppressJustification),
    ("expires", T::SuppressExpires),
];

/// The suppress form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SuppressForm {
    pub alert_id: i64,
    /// Values in [`SUPPRESS_FIELDS`] order.
    pub values: [String; 8],
    pub focus: usize,
    pub error: Option<T>,
}

impl SuppressForm {
    /// A form scoped like `a`: its rule, and its host and user when the alert names them.
    pub fn for_alert(a: &Alert) -> SuppressForm {
        let pick = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| a.group.get(*k).or_else(|| a.matched.get(*k)))
                .cloned()
                .unwrap_or_default()
        };
        let mut values: [String; 8] = Default::default();
        values[0] = a.rule.clone();
        values[1] = pick(&["host.name", "host.hostname"]);
        values[2] = pick(&["user.name"]);
        values[7] = "7d".into();
        SuppressForm {
            alert_id: a.id,
            values,
            focus: 6,
            error: None,
        }
    }
}

/// The filter form: a copy of the filter being edited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterForm {
    pub filter: Filter,
    /// 0 status, 1 level, 2 rule, 3 host, 4 text.
    pub focus: usize,
}

/// A window over the screen that takes the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modal {
    Help,
    Close {
        ids: Vec<i64>,
        choice: usize,
    },
    Suppress(SuppressForm),
    Prompt {
        kind: PromptKind,
        ids: Vec<i64>,
        input: String,
    },
    Filter(FilterForm),
}

/// A message in the footer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub text: String,
    pub error: bool,
    pub at: DateTime<Utc>,
}

/// The whole console.
#[derive(Debug, Clone)]
pub struct App {
    pub lang: Lang,
    /// False under `NO_COLOR`: no colour or style but reverse video for the cursor.
    pub color: bool,
    /// Who the engine's audit log names (`$USER`).
    pub actor: String,
    /// The engine's address as shown in the banner.
    pub api: String,
    pub now: DateTime<Utc>,
    /// Times are shown in this zone.
    pub tz: FixedOffset,
    /// Terminal columns and rows.
    pub size: (u16, u16),
    pub tab: Tab,
    pub conn: Conn,
    /// The live stream is down while the API answers.
    pub stream_down: bool,
    pub queue: Queue,
    pub detail: Option<DetailView>,
    pub search: SearchView,
    pub overview: Overview,
    pub rules: RulesView,
    pub modal: Option<Modal>,
    pub flash: Option<Flash>,
    /// When touched alerts were last re-read.
    pub last_refresh: DateTime<Utc>,
    pub quit: bool,
}

impl App {
    pub fn new(lang: Lang, color: bool, actor: String, api: String, now: DateTime<Utc>) -> App {
        App {
            lang,
            color,
            actor,
            api,
            now,
            tz: FixedOffset::east_opt(0).expect("zero offset"),
            size: (80, 24),
            tab: Tab::Alerts,
            conn: Conn::Connecting,
            stream_down: false,
            queue: Queue::default(),
            detail: None,
            search: SearchView::default(),
            overview: Overview::default(),
            rules: RulesView::default(),
            modal: None,
            flash: None,
            last_refresh: now,
            quit: false,
        }
    }

    pub fn t(&self, t: T) -> &'static str {
        t.tr(self.lang)
    }

    /// Whether the banner line is shown (it takes a row from the body).
    pub fn banner(&self) -> bool {
        self.conn != Conn::Up || self.stream_down
    }

    /// Rows of the screen body: all but the header, the banner and the footer.
    pub fn body_rows(&self) -> usize {
        let chrome = 2 + usize::from(self.banner());
        (self.size.1 as usize).saturating_sub(chrome)
    }

    /// Table rows of the alert queue: the body less its summary line and column header.
    pub fn queue_rows(&self) -> usize {
        self.body_rows().saturating_sub(2)
    }

    /// Result rows of the search screen: the body less the query bar (3), the summary line
    /// and the column header.
    pub fn search_rows(&self) -> usize {
        self.body_rows().saturating_sub(5)
    }

    /// Field rows of the event view: the search body less the query bar and summary (4), the
    /// border (2), the column header and the value pane.
    pub fn event_rows(&self) -> usize {
        self.body_rows()
            .saturating_sub(7 + crate::render::EVENT_PANE_ROWS as usize)
    }

    /// Table rows of the rules screen: the body less the summary, the column header and the
    /// 4-row pane under the table.
    pub fn rules_rows(&self) -> usize {
        self.body_rows().saturating_sub(6)
    }

    pub fn set_flash(&mut self, text: String, error: bool) {
        self.flash = Some(Flash {
            text,
            error,
            at: self.now,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(id: i64, level: &str, last: &str, status: &str) -> Alert {
        Alert {
            id,
            level: level.into(),
            last_seen: last.into(),
            status: status.into(),
            title: format!("alert {id}"),
            rule: format!("rule-{}", id % 3),
            ..Default::default()
        }
    }

    #[test]
    fn scroll_window_moves_as_little_as_needed() {
        // (cursor, offset, height, len) -> offset
        let cases = [
            ((0, 0, 10, 100), 0),
            ((9, 0, 10, 100), 0),
            ((10, 0, 10, 100), 1),
            ((5, 8, 10, 100), 5),
            ((99, 0, 10, 100), 90),
            ((3, 50, 10, 5), 0),
            ((0, 0, 0, 5), 0),
            ((0, 0, 10, 0), 0),
        ];
        for ((c, o, h, l), want) in cases {
            assert_eq!(scroll_window(c, o, h, l), want, "{c} {o} {h} {l}");
        }
    }

    #[test]
    fn queue_keeps_order_and_cursor_across_inserts() {
        let mut q = Queue::default();
        q.replace(vec![
            alert(1, "low", "2025-06-01T00:00:01.000Z", "new"),
            alert(2, "high", "2025-06-01T00:00:02.000Z", "new"),
        ]);
        assert_eq!(q.cursor_alert().unwrap().id, 2);
        q.move_cursor(1, 10);
        assert_eq!(q.cursor_alert().unwrap().id, 1);
        // a critical alert arrives above: the cursor stays on alert 1
        q.upsert(alert(3, "critical", "2025-06-01T00:00:03.000Z", "new"));
        let order: Vec<i64> = q.visible.iter().map(|&i| q.alerts[i as usize].id).collect();
        assert_eq!(order, [3, 2, 1]);
        assert_eq!(q.cursor_alert().unwrap().id, 1);
    }

    #[test]
    fn acknowledged_alert_leaves_the_new_queue_and_the_next_moves_up() {
        let mut q = Queue::default();
        q.replace(vec![
            alert(1, "high", "2025-06-01T00:00:03.000Z", "new"),
            alert(2, "high", "2025-06-01T00:00:02.000Z", "new"),
            alert(3, "high", "2025-06-01T00:00:01.000Z", "new"),
        ]);
        q.move_cursor(1, 10);
        assert_eq!(q.cursor_alert().unwrap().id, 2);
        q.upsert(alert(2, "high", "2025-06-01T00:00:02.000Z", "acknowledged"));
        assert_eq!(q.len(), 2);
        assert!(!q.contains(2));
        assert_eq!(q.cursor_alert().unwrap().id, 3);
    }

    #[test]
    fn filters_apply_locally() {
        let mut q = Queue::default();
        let mut a = alert(1, "low", "2025-06-01T00:00:01.000Z", "new");
        a.group.insert("host.name".into(), "Web01".into());
        let mut b = alert(2, "critical", "2025-06-01T00:00:02.000Z", "new");
        b.title = "Đăng nhập thất bại".into();
        q.replace(vec![a, b]);
        let shown = |q: &Queue| -> Vec<i64> {
            q.visible.iter().map(|&i| q.alerts[i as usize].id).collect()
        };
        q.filter.host = "web".into();
        q.rebuild(None);
        assert_eq!(shown(&q), [1]);
        q.filter = Filter {
            text: "ĐĂNG".into(),
            ..Default::default()
        };
        q.rebuild(None);
        assert_eq!(shown(&q), [2]);
        q.filter = Filter {
            min_level: Some(1),
            ..Default::default()
        };
        q.rebuild(None);
        assert_eq!(shown(&q), [2]);
        q.filter = Filter::default();
        q.filter.rule = "RULE-1".into();
        q.rebuild(None);
        assert_eq!(shown(&q), [1]);
    }

    #[test]
    fn queue_is_capped() {
        let mut q = Queue::default();
        let many: Vec<Alert> = (0..MAX_QUEUE_ALERTS as i64 + 5)
            .map(|i| alert(i, "low", "2025-06-01T00:00:01.000Z", "new"))
            .collect();
        q.replace(many);
        assert_eq!(q.len(), MAX_QUEUE_ALERTS);
        q.upsert(alert(-1, "critical", "2025-06-01T00:00:09.000Z", "new"));
        assert_eq!(q.len(), MAX_QUEUE_ALERTS);
        assert!(q.truncated);
        assert_eq!(q.row(0).unwrap().id, -1);
    }

    #[test]
    fn rates_come_from_counter_differences() {
        use crate::model::Listener;
        let mut o = Overview::default();
        let t0 = DateTime::parse_from_rfc3339("2025-06-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let st = |n| EngineStatus {
            listeners: vec![Listener {
                url: "udp://x".into(),
                received: n,
                ..Default::default()
            }],
            ..Default::default()
        };
        o.push(st(100), t0);
        o.push(st(300), t0 + chrono::Duration::seconds(2));
        o.push(st(50), t0 + chrono::Duration::seconds(3));
        assert_eq!(o.series[0].points, [100, 0]);
    }
}
