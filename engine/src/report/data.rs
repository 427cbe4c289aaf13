//! What a monthly report says, gathered read-only from the data folder: alerts and their
//! history (`alerts.db`, opened read-only), officer actions (`audit.log`, chain verified),
//! event counts (the index's fast fields) and collector health (`health/`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::Context;
use canh_core::time::DefaultZone;
use chrono::{DateTime, Datelike, NaiveDate};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::alerts::audit;
use crate::index::scan::{DayGrid, SEVERITIES};

/// Alert levels in order of severity, as rules write them.
pub const LEVELS: [&str; 5] = ["critical", "high", "medium", "low", "informational"];
/// Rows in each "top" table and chart.
pub const TOP_N: usize = 10;
/// Most true-positive incidents given a timeline in the PDF (all are in the data files).
pub const MAX_INCIDENTS: usize = 50;
/// Most timeline entries shown per incident.
pub const MAX_TIMELINE: usize = 30;
/// Most audit-log lines read for one report (years of officer actions fit many times over;
/// they are streamed, only acknowledgement and close times per alert are kept).
pub const MAX_AUDIT_LINES: usize = 10_000_000;

/// A calendar month in the organization's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl std::str::FromStr for Month {
    type Err = String;
    fn from_str(s: &str) -> Result<Month, String> {
        let bad = || format!("--month {s:?}: expected YYYY-MM, e.g. 2026-11");
        let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) || !(1970..=9999).contains(&year) {
            return Err(bad());
        }
        Ok(Month { year, month })
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Month {
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or_default()
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn prev(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// The month's days and where each begins, in `zone`.
    pub fn grid(self, zone: DefaultZone) -> DayGrid {
        let mut days = Vec::new();
        let mut d = self.first_day();
        while d.month() == self.month {
            days.push(d);
            d = d.succ_opt().unwrap_or(d);
        }
        let start = |d: NaiveDate| {
            zone.to_utc(d.and_hms_opt(0, 0, 0).unwrap_or_default())
                .timestamp_micros()
        };
        DayGrid {
            starts: days.iter().map(|&d| start(d)).collect(),
            end: start(self.next().first_day()),
            days,
        }
    }
}

/// One alert with its lifecycle, as it goes into `alerts.csv`/`alerts.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    pub id: i64,
    pub uid: String,
    pub rule: String,
    pub title: String,
    pub level: String,
    pub kind: String,
    pub tags: Vec<String>,
    pub status: String,
    pub close_reason: Option<String>,
    pub assignee: Option<String>,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// First acknowledgement (or close, when it was closed without one), from the audit log.
    pub acknowledged_ms: Option<i64>,
    /// Last close, when the alert is closed, from the audit log.
    pub closed_ms: Option<i64>,
    pub count: i64,
    pub host: Option<String>,
    pub source_ip: Option<String>,
    pub group: BTreeMap<String, String>,
}

impl AlertRow {
    pub fn time_to_ack_s(&self) -> Option<f64> {
        self.acknowledged_ms
            .map(|t| (t - self.created_ms).max(0) as f64 / 1000.0)
    }
    pub fn time_to_close_s(&self) -> Option<f64> {
        self.closed_ms
            .map(|t| (t - self.created_ms).max(0) as f64 / 1000.0)
    }
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub alert: AlertRow,
    pub timeline: Vec<TimelineEntry>,
}

/// A suppression in force at some point of the month.
#[derive(Debug, Clone, PartialEq)]
pub struct SuppressionRow {
    pub id: i64,
    pub scope: String,
    pub justification: String,
    pub created_ms: i64,
    pub created_by: String,
    pub expires_ms: Option<i64>,
    pub removed_ms: Option<i64>,
    pub hits: i64,
}

/// One `rules.*` action of the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleChange {
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub summary: String,
}

/// A source's month in the collector-health table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceHealth {
    pub source: String,
    pub events: u64,
    pub days_with_events: usize,
    pub min_day: u64,
    pub max_day: u64,
    pub unparsed: u64,
    /// Days of the month (up to the last day with data) on which it sent nothing.
    pub silent_days: Vec<NaiveDate>,
}

/// Losses and errors from the health files, per day and per source key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Losses {
    pub per_day: Vec<(NaiveDate, crate::health::Counters)>,
    pub per_source: BTreeMap<String, crate::health::Counters>,
    pub days_recorded: usize,
}

/// Everything a report shows.
#[derive(Debug, Clone)]
pub struct ReportData {
    pub month: Month,
    pub zone: DefaultZone,
    pub grid: DayGrid,
    pub alerts: Vec<AlertRow>,
    pub prev_alerts_by_level: BTreeMap<String, u64>,
    pub incidents: Vec<Incident>,
    pub suppressions: Vec<SuppressionRow>,
    pub rule_changes: Vec<RuleChange>,
    /// (day, dataset, host, level, events), sorted.
    pub events_daily: Vec<(NaiveDate, String, String, Option<String>, u64)>,
    pub events_total: u64,
    pub prev_events_total: u64,
    pub first_event_ms: Option<i64>,
    pub last_event_ms: Option<i64>,
    pub sources: Vec<SourceHealth>,
    pub losses: Losses,
    pub silent_alerts: Vec<AlertRow>,
    /// Tactic → (rules that cover it, alerts of the month tagged with it).
    pub attack: Vec<(&'static str, &'static str, usize, u64)>,
    pub rule_set_hash: String,
    pub rule_set_origin: String,
    pub rules_total: usize,
    /// Lines in the audit log and whether its hash chain holds (`Err` names the first break).
    pub audit_lines: u64,
    pub audit_chain: Result<(), String>,
}

/// MITRE ATT&CK Enterprise tactics in kill-chain order: (Sigma tag, name).
pub const TACTICS: [(&str, &str); 14] = [
    ("reconnaissance", "Reconnaissance"),
    ("resource_development", "Resource Development"),
    ("initial_access", "Initial Access"),
    ("execution", "Execution"),
    ("persistence", "Persistence"),
    ("privilege_escalation", "Privilege Escalation"),
    ("defense_evasion", "Defense Evasion"),
    ("credential_access", "Credential Access"),
    ("discovery", "Discovery"),
    ("lateral_movement", "Lateral Movement"),
    ("collection", "Collection"),
    ("command_and_control", "Command and Control"),
    ("exfiltration", "Exfiltration"),
    ("impact", "Impact"),
];

/// The tactic a Sigma tag names (`attack.initial_access`, `attack.initial-access`).
pub fn tactic_of(tag: &str) -> Option<usize> {
    let t = tag.strip_prefix("attack.")?.replace('-', "_");
    TACTICS.iter().position(|(k, _)| *k == t)
}

/// The tactics (indexes into [`TACTICS`]) a list of tags names, each once.
fn tactics_in(tags: &[String]) -> impl Iterator<Item = usize> {
    let mut seen = [false; TACTICS.len()];
    for t in tags {
        if let Some(i) = tactic_of(t) {
            seen[i] = true;
        }
    }
    (0..TACTICS.len()).filter(move |&i| seen[i])
}

/// Opens `alerts.db` read-only (the engine may be writing; SQLite's WAL lets both work).
pub fn open_alerts_db(data: &Path) -> anyhow::Result<Option<Connection>> {
    let p = crate::alerts::store::path(data);
    if !p.exists() {
        return Ok(None);
    }
    let c = Connection::open_with_flags(
        &p,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {} read-only", p.display()))?;
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(Some(c))
}

fn alert_rows(c: &Connection, from_ms: i64, to_ms: i64) -> anyhow::Result<Vec<AlertRow>> {
    let mut st = c.prepare(
        "SELECT id, uid, rule, title, level, kind, tags, status, close_reason, assignee,
                first_seen, last_seen, created, updated, count, group_key, matched
         FROM alerts WHERE first_seen >= ?1 AND first_seen < ?2 ORDER BY id",
    )?;
    let rows = st.query_map(params![from_ms, to_ms], |r| {
        let tags: String = r.get(6)?;
        let group: String = r.get(15)?;
        let matched: String = r.get(16)?;
        let group: BTreeMap<String, String> = serde_json::from_str(&group).unwrap_or_default();
        let matched: BTreeMap<String, String> = serde_json::from_str(&matched).unwrap_or_default();
        let pick = |k: &str| {
            group
                .get(k)
                .or_else(|| matched.get(k))
                .filter(|v| !v.is_empty())
                .cloned()
        };
        Ok(AlertRow {
            id: r.get(0)?,
            uid: r.get(1)?,
            rule: r.get(2)?,
            title: r.get(3)?,
            level: r.get(4)?,
            kind: r.get(5)?,
            tags: serde_json::from_str(&tags).unwrap_or_default(),
            status: r.get(7)?,
            close_reason: r.get(8)?,
            assignee: r.get(9)?,
            first_seen_ms: r.get(10)?,
            last_seen_ms: r.get(11)?,
            created_ms: r.get(12)?,
            updated_ms: r.get(13)?,
            acknowledged_ms: None,
            closed_ms: None,
            count: r.get(14)?,
            host: pick("host.hostname").or_else(|| pick("source")),
            source_ip: pick("source.ip"),
            group,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Walks the audit log (after verifying its chain), one entry at a time: memory does not grow
/// with the log. Returns the lines read and the chain's state.
fn walk_audit(
    data: &Path,
    recorded: Option<&audit::Head>,
    mut each: impl FnMut(&audit::Entry),
) -> (u64, Result<(), String>) {
    let p = audit::path(data);
    let chain = match audit::verify(&p, recorded) {
        Ok(_) => Ok(()),
        Err(e) => Err(e.to_string()),
    };
    let mut n = 0;
    if let Ok(f) = std::fs::File::open(&p) {
        use std::io::BufRead;
        for line in std::io::BufReader::new(f).lines().take(MAX_AUDIT_LINES) {
            let Ok(line) = line else { break };
            n += 1;
            if let Ok(e) = serde_json::from_str::<audit::Entry>(&line) {
                each(&e);
            }
        }
    }
    (n, chain)
}

fn audit_ms(e: &audit::Entry) -> Option<i64> {
    DateTime::parse_from_rfc3339(&e.time)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Gathers the report's data.
pub struct Sources<'a> {
    pub data: &'a Path,
    pub month: Month,
    pub zone: DefaultZone,
    pub rule_files: &'a [(String, String)],
    pub rule_origin: String,
}

pub fn gather(s: &Sources<'_>) -> anyhow::Result<ReportData> {
    let grid = s.month.grid(s.zone);
    let from_ms = grid.starts[0] / 1000;
    let to_ms = grid.end / 1000;
    let prev_grid = s.month.prev().grid(s.zone);
    let (prev_from_ms, prev_to_ms) = (prev_grid.starts[0] / 1000, prev_grid.end / 1000);

    // Alerts, suppressions, history.
    let db = open_alerts_db(s.data)?;
    let (mut alerts, prev, suppressions, recorded_head) = match &db {
        Some(c) => {
            let alerts = alert_rows(c, from_ms, to_ms).context("reading alerts")?;
            let mut prev: BTreeMap<String, u64> = BTreeMap::new();
            let mut st = c.prepare(
                "SELECT level, COUNT(*) FROM alerts WHERE first_seen >= ?1 AND first_seen < ?2
                 GROUP BY level",
            )?;
            for r in st.query_map(params![prev_from_ms, prev_to_ms], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })? {
                let (l, n) = r?;
                prev.insert(l, n as u64);
            }
            let sup = suppressions_in(c, from_ms, to_ms).context("reading suppressions")?;
            let head: Option<Vec<u8>> = c
                .query_row("SELECT value FROM meta WHERE key='audit_head'", [], |r| {
                    r.get(0)
                })
                .optional()?;
            let head = head.as_deref().and_then(audit::Head::from_meta);
            (alerts, prev, sup, head)
        }
        None => (Vec::new(), BTreeMap::new(), Vec::new(), None),
    };

    // Officer actions from the audit log: acknowledgements, closes, rule changes.
    let mut acks: HashMap<i64, i64> = HashMap::new();
    let mut closes: HashMap<i64, i64> = HashMap::new();
    let mut rule_changes = Vec::new();
    let (audit_lines, audit_chain) = walk_audit(s.data, recorded_head.as_ref(), |e| {
        let Some(at) = audit_ms(e) else { return };
        if let Some(id) = e
            .target
            .strip_prefix("alert:")
            .and_then(|i| i.parse::<i64>().ok())
        {
            match e.action.as_str() {
                "alert.ack" => {
                    acks.entry(id).or_insert(at);
                }
                "alert.close" => {
                    acks.entry(id).or_insert(at);
                    closes.insert(id, at);
                }
                "alert.reopen" => {
                    closes.remove(&id);
                }
                _ => {}
            }
        } else if e.action.starts_with("rules.") && at >= from_ms && at < to_ms {
            rule_changes.push(RuleChange {
                at_ms: at,
                actor: e.actor.clone(),
                action: e.action.clone(),
                summary: rule_change_summary(&e.detail),
            });
        }
    });
    for a in &mut alerts {
        a.acknowledged_ms = acks.get(&a.id).copied();
        a.closed_ms = if a.status == "closed" {
            closes.get(&a.id).copied()
        } else {
            None
        };
    }

    // True positives and their timelines.
    let mut incidents = Vec::new();
    if let Some(c) = &db {
        let mut st = c.prepare(
            "SELECT at, actor, action, detail FROM history WHERE alert_id=?1 ORDER BY id",
        )?;
        for a in alerts
            .iter()
            .filter(|a| a.close_reason.as_deref() == Some("true_positive"))
            .take(MAX_INCIDENTS)
        {
            // The activity itself, then canh's and the officers' steps (history: `created`,
            // `acknowledged`, `closed` …).
            let mut timeline = vec![
                TimelineEntry {
                    at_ms: a.first_seen_ms,
                    actor: "—".into(),
                    action: "first_event".into(),
                    note: a.title.clone(),
                },
                TimelineEntry {
                    at_ms: a.last_seen_ms,
                    actor: "—".into(),
                    action: "last_event".into(),
                    note: format!("{} events", a.count),
                },
            ];
            for r in st.query_map([a.id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })? {
                let (at, actor, action, detail) = r?;
                let d: serde_json::Value = serde_json::from_str(&detail).unwrap_or_default();
                let note = ["note", "text", "reason", "to"]
                    .iter()
                    .filter_map(|k| d.get(*k).and_then(|v| v.as_str()))
                    .collect::<Vec<_>>()
                    .join(" — ");
                timeline.push(TimelineEntry {
                    at_ms: at,
                    actor,
                    action,
                    note,
                });
            }
            timeline.sort_by_key(|t| t.at_ms);
            timeline.truncate(MAX_TIMELINE);
            incidents.push(Incident {
                alert: a.clone(),
                timeline,
            });
        }
    }

    // Events from the index.
    let root = s.data.join("index");
    let reader = crate::index::Reader::open(&root).context("opening the index")?;
    let daily = reader
        .daily_counts(&grid)
        .context("counting events per day")?;
    let prev_events_total = reader
        .count(&crate::index::SearchRequest {
            query: "*".into(),
            from: DateTime::from_timestamp_micros(prev_grid.starts[0]),
            to: DateTime::from_timestamp_micros(prev_grid.end),
            limit: 1,
        })
        .context("counting last month's events")?;
    let mut events_daily: Vec<(NaiveDate, String, String, Option<String>, u64)> = daily
        .counts
        .iter()
        .map(|((d, ds, host, lvl), n)| {
            (
                grid.days[*d],
                ds.clone(),
                host.clone(),
                lvl.map(str::to_owned),
                *n,
            )
        })
        .collect();
    let sev_rank = |l: &Option<String>| {
        l.as_deref()
            .and_then(|l| SEVERITIES.iter().position(|s| *s == l))
            .unwrap_or(SEVERITIES.len())
    };
    events_daily
        .sort_by(|a, b| (a.0, &a.1, &a.2, sev_rank(&a.3)).cmp(&(b.0, &b.1, &b.2, sev_rank(&b.3))));
    let events_total = events_daily.iter().map(|r| r.4).sum();

    let sources = source_health(&grid, &events_daily, &daily.unparsed, daily.last);
    let losses = read_losses(s.data, &grid)?;
    let silent_alerts = alerts
        .iter()
        .filter(|a| a.kind == "silent_source")
        .cloned()
        .collect();

    // Coverage by tactic: the rule set's tags and the month's alerts.
    let (set, _) = canh_rules::RuleSet::load(s.rule_files, canh_rules::Mapping::builtin());
    let mut attack: Vec<(&'static str, &'static str, usize, u64)> =
        TACTICS.iter().map(|(k, n)| (*k, *n, 0, 0)).collect();
    for r in set.rules() {
        for i in tactics_in(&r.tags) {
            attack[i].2 += 1;
        }
    }
    for a in &alerts {
        for i in tactics_in(&a.tags) {
            attack[i].3 += 1;
        }
    }
    let (rule_set_hash, _) = crate::detect::rule_set_hash(s.rule_files);

    Ok(ReportData {
        month: s.month,
        zone: s.zone,
        grid,
        alerts,
        prev_alerts_by_level: prev,
        incidents,
        suppressions,
        rule_changes,
        events_daily,
        events_total,
        prev_events_total,
        first_event_ms: daily.first.map(|m| m / 1000),
        last_event_ms: daily.last.map(|m| m / 1000),
        sources,
        losses,
        silent_alerts,
        attack,
        rule_set_hash,
        rule_set_origin: s.rule_origin.clone(),
        rules_total: set.rules().len(),
        audit_lines,
        audit_chain,
    })
}

fn rule_change_summary(d: &serde_json::Value) -> String {
    if let Some(h) = d.get("hash").and_then(|v| v.as_str()) {
        let n = |k: &str| d.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
        let mut s = format!(
            "set {} · {} files: +{} −{} ~{}",
            &h[..h.len().min(12)],
            n("files"),
            n("added"),
            n("removed"),
            n("changed")
        );
        let names: Vec<&str> = ["added_files", "removed_files", "changed_files"]
            .iter()
            .filter_map(|k| d.get(*k).and_then(|v| v.as_array()))
            .flatten()
            .filter_map(|v| v.as_str())
            .take(5)
            .collect();
        if !names.is_empty() {
            s.push_str(&format!(" ({})", names.join(", ")));
        }
        return s;
    }
    if let Some(m) = d.get("message").and_then(|v| v.as_str()) {
        return m.to_owned();
    }
    if let Some(e) = d.get("error").and_then(|v| v.as_str()) {
        return format!("refused: {}", e.lines().next().unwrap_or(""));
    }
    d.to_string()
}

fn suppressions_in(
    c: &Connection,
    from_ms: i64,
    to_ms: i64,
) -> anyhow::Result<Vec<SuppressionRow>> {
    let mut st = c.prepare(
        "SELECT id, rule, host, cidr, user, field, value, justification, created, created_by,
                expires, removed, hits
         FROM suppressions
         WHERE created < ?2 AND (removed IS NULL OR removed >= ?1)
               AND (expires IS NULL OR expires >= ?1)
         ORDER BY id",
    )?;
    let rows = st.query_map(params![from_ms, to_ms], |r| {
        let mut scope = Vec::new();
        for (i, name) in [(1, "rule"), (2, "host"), (3, "cidr"), (4, "user")] {
            if let Some(v) = r.get::<_, Option<String>>(i)? {
                scope.push(format!("{name}={v}"));
            }
        }
        if let (Some(f), Some(v)) = (
            r.get::<_, Option<String>>(5)?,
            r.get::<_, Option<String>>(6)?,
        ) {
            scope.push(format!("{f}={v}"));
        }
        Ok(SuppressionRow {
            id: r.get(0)?,
            scope: scope.join(" "),
            justification: r.get(7)?,
            created_ms: r.get(8)?,
            created_by: r.get(9)?,
            expires_ms: r.get(10)?,
            removed_ms: r.get(11)?,
            hits: r.get(12)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn source_health(
    grid: &DayGrid,
    daily: &[(NaiveDate, String, String, Option<String>, u64)],
    unparsed: &HashMap<(usize, String), u64>,
    last_event_micros: Option<i64>,
) -> Vec<SourceHealth> {
    let mut per: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    let day_index: HashMap<NaiveDate, usize> =
        grid.days.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    for (day, _, host, _, n) in daily {
        let v = per
            .entry(host.as_str())
            .or_insert_with(|| vec![0; grid.days.len()]);
        v[day_index[day]] += n;
    }
    // Days after the last event anywhere are not "silent": the month may not be over.
    let last_day = last_event_micros.and_then(|m| grid.day_of(m)).unwrap_or(0);
    let mut unparsed_by: HashMap<&str, u64> = HashMap::new();
    for ((_, host), n) in unparsed {
        *unparsed_by.entry(host.as_str()).or_default() += n;
    }
    let mut out: Vec<SourceHealth> = per
        .into_iter()
        .map(|(host, days)| {
            let first = days.iter().position(|&n| n > 0).unwrap_or(0);
            let active: Vec<u64> = days.iter().copied().filter(|&n| n > 0).collect();
            SourceHealth {
                source: if host.is_empty() {
                    "(no host name)".into()
                } else {
                    host.to_owned()
                },
                events: days.iter().sum(),
                days_with_events: active.len(),
                min_day: active.iter().copied().min().unwrap_or(0),
                max_day: active.iter().copied().max().unwrap_or(0),
                unparsed: unparsed_by.get(host).copied().unwrap_or(0),
                silent_days: (first..=last_day)
                    .filter(|&i| days[i] == 0)
                    .map(|i| grid.days[i])
                    .collect(),
            }
        })
        .collect();
    // Sources with gaps or unreadable records first: what the auditor should look at.
    out.sort_by(|a, b| {
        (b.silent_days.len(), b.unparsed)
            .cmp(&(a.silent_days.len(), a.unparsed))
            .then_with(|| a.source.cmp(&b.source))
    });
    out
}

/// Health files are per UTC day; a day of the month's grid reads the UTC day it starts in.
fn read_losses(data: &Path, grid: &DayGrid) -> anyhow::Result<Losses> {
    let mut out = Losses::default();
    for &day in &grid.days {
        let h = crate::health::read_day(data, day)?;
        if h.sources.is_empty() {
            continue;
        }
        out.days_recorded += 1;
        let mut total = crate::health::Counters::default();
        for (k, c) in &h.sources {
            total.add(c);
            out.per_source.entry(k.clone()).or_default().add(c);
        }
        out.per_day.push((day, total));
    }
    Ok(out)
}

/// Mean and 90th percentile (nearest rank) of a set of durations in seconds.
pub fn mean_p90(v: &[f64]) -> Option<(f64, f64)> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let mean = s.iter().sum::<f64>() / s.len() as f64;
    let rank = ((0.9 * s.len() as f64).ceil() as usize).clamp(1, s.len());
    Some((mean, s[rank - 1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_and_step() {
        let m: Month = "2026-12".parse().unwrap();
        assert_eq!(m.next().to_string(), "2027-01");
        assert_eq!(m.prev().to_string(), "2026-11");
        assert_eq!(
            "2026-01".parse::<Month>().unwrap().prev().to_string(),
            "2025-12"
        );
        for bad in ["2026-13", "2026-1", "26-01", "2026/01", ""] {
            assert!(bad.parse::<Month>().is_err(), "{bad}");
        }
    }

    #[test]
    fn grid_follows_the_zone() {
        let z: DefaultZone = "+07:00".parse().unwrap();
        let g = "2026-02".parse::<Month>().unwrap().grid(z);
        assert_eq!(g.days.len(), 28);
        // 2026-02-01 00:00 +07:00 is 2026-01-31 17:00 UTC.
        let start = chrono::DateTime::parse_from_rfc3339("2026-01-31T17:00:00Z").unwrap();
        assert_eq!(g.starts[0], start.timestamp_micros());
        assert_eq!(g.day_of(start.timestamp_micros() - 1), None);
        assert_eq!(g.day_of(start.timestamp_micros()), Some(0));
        assert_eq!(g.day_of(start.timestamp_micros() + 86_400_000_000), Some(1));
        assert_eq!(g.day_of(g.end - 1), Some(27));
        assert_eq!(g.day_of(g.end), None);
    }

    #[test]
    fn percentiles() {
        assert_eq!(mean_p90(&[]), None);
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(mean_p90(&v), Some((5.5, 9.0)));
        assert_eq!(mean_p90(&[4.0]), Some((4.0, 4.0)));
    }

    #[test]
    fn tactics_from_tags() {
        assert_eq!(tactic_of("attack.initial_access"), Some(2));
        assert_eq!(tactic_of("attack.command-and-control"), Some(11));
        assert_eq!(tactic_of("attack.t1078"), None);
        assert_eq!(tactic_of("cve.2021"), None);
    }
}
