//! What the engine's API sends, as the console reads it. Every struct takes missing fields as
//! their default, so an engine a version ahead or behind still shows what both know.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Alert levels, most urgent first (the order the engine sorts by).
pub const LEVELS: [&str; 5] = ["critical", "high", "medium", "low", "informational"];

/// Sort rank of a level: 0 for critical … 4 for informational and anything unknown.
pub fn level_rank(level: &str) -> u8 {
    LEVELS
        .iter()
        .position(|l| *l == level)
        .map_or(4, |i| i as u8)
}

/// An alert as `GET /api/v1/alerts` lists it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Alert {
    pub id: i64,
    pub uid: String,
    pub rule: String,
    pub title: String,
    pub level: String,
    pub kind: String,
    pub tags: Vec<String>,
    pub description: Option<String>,
    pub group: BTreeMap<String, String>,
    pub first_seen: String,
    pub last_seen: String,
    pub count: u64,
    pub value: Option<f64>,
    pub matched: BTreeMap<String, String>,
    pub status: String,
    pub assignee: Option<String>,
    pub close_reason: Option<String>,
    pub created: String,
    pub updated: String,
    /// A `canh search` command line that finds the alert's events.
    pub search: String,
}

impl Alert {
    /// The engine's order: level, then last event (newest first), then id (newest first).
    /// `last_seen` is RFC 3339 UTC with milliseconds, so strings compare as times.
    pub fn sort_cmp(&self, o: &Alert) -> std::cmp::Ordering {
        level_rank(&self.level)
            .cmp(&level_rank(&o.level))
            .then_with(|| o.last_seen.cmp(&self.last_seen))
            .then_with(|| o.id.cmp(&self.id))
    }

    /// The host the alert is about: the first group or matched value whose key names a host.
    pub fn host(&self) -> Option<&str> {
        const KEYS: [&str; 4] = ["host.name", "host.hostname", "observer.hostname", "host.ip"];
        KEYS.iter()
            .find_map(|k| self.group.get(*k).or_else(|| self.matched.get(*k)))
            .map(String::as_str)
    }

    /// The group key as `k=v k=v`.
    pub fn group_text(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.group {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(k);
            s.push('=');
            s.push_str(v);
        }
        s
    }

    /// The index query and time range of the alert's `search` command line
    /// (`canh search 'QUERY' --from T --to T`); the whole line as the query when it has
    /// another shape.
    pub fn search_query(&self) -> (String, Option<String>, Option<String>) {
        let s = self.search.trim();
        let Some(rest) = s.strip_prefix("canh search '") else {
            return (s.to_owned(), None, None);
        };
        let (query, flags) = match rest.rfind("' --from ") {
            Some(i) => (&rest[..i], &rest[i + 2..]),
            None => (rest.trim_end_matches('\''), ""),
        };
        let mut from = None;
        let mut to = None;
        let mut words = flags.split_whitespace();
        while let Some(w) = words.next() {
            match w {
                "--from" => from = words.next().map(str::to_owned),
                "--to" => to = words.next().map(str::to_owned),
                _ => {}
            }
        }
        (query.replace("'\\''", "'"), from, to)
    }
}

/// An event kept with an alert.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sample {
    pub time: String,
    pub host: Option<String>,
    pub message: Option<String>,
    pub raw: String,
    /// The fields the rule looked at, with the event's values.
    pub fields: BTreeMap<String, String>,
}

/// One line of an alert's audit history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HistoryEntry {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub detail: serde_json::Value,
}

impl HistoryEntry {
    /// The detail as one line: a note's text, a reason, an assignee … or compact JSON.
    pub fn detail_text(&self) -> String {
        match &self.detail {
            serde_json::Value::Null => String::new(),
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Object(m) => {
                let mut out = String::new();
                for (k, v) in m {
                    if !out.is_empty() {
                        out.push_str(", ");
                    }
                    let v = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    if matches!(k.as_str(), "text" | "note") {
                        out.push_str(&v);
                    } else {
                        out.push_str(k);
                        out.push('=');
                        out.push_str(&v);
                    }
                }
                out
            }
            other => other.to_string(),
        }
    }
}

/// `GET /api/v1/alerts/{id}`: the alert with its samples and history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertDetail {
    #[serde(flatten)]
    pub alert: Alert,
    pub samples: Vec<Sample>,
    pub history: Vec<HistoryEntry>,
}

/// Alerts per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counts {
    pub new: u64,
    pub acknowledged: u64,
    pub closed: u64,
}

/// `GET /api/v1/alerts`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertList {
    pub alerts: Vec<Alert>,
    pub counts: Counts,
}

/// One rule document as `GET /api/v1/rules` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleEntry {
    pub key: String,
    pub title: String,
    pub level: Option<String>,
    pub kind: Option<String>,
    /// compiled, unsupported or invalid.
    pub state: String,
    pub reason: Option<String>,
    pub file: String,
    pub hits: u64,
}

/// The part of `GET /api/v1/status` the console shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineStatus {
    pub version: String,
    pub pid: u32,
    pub started_at: String,
    pub updated_at: String,
    pub api: String,
    pub listeners: Vec<Listener>,
    /// Listeners configured but not running, with the reason.
    pub inactive: Vec<(String, String)>,
    pub pipeline: Pipeline,
    pub detection: Option<Detection>,
    pub netflow: Vec<Netflow>,
    pub alerts: Option<AlertsStatus>,
    /// The listener for edge collectors, when the engine runs one.
    pub ship: Option<Ship>,
}

/// The engine's collector listener and the collectors it has heard from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ship {
    pub listen: String,
    pub refused: u64,
    pub collectors: Vec<Collector>,
}

/// One edge collector as the engine last heard of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Collector {
    pub name: String,
    pub last_seen_ms: i64,
    pub spool_depth: u64,
    pub oldest_unshipped_secs: u64,
    pub connected: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Listener {
    pub url: String,
    pub received: u64,
    pub parsed: u64,
    pub unparsed: u64,
    pub truncated: u64,
    pub bytes: u64,
    pub dropped_queue: u64,
    pub dropped_kernel: u64,
    pub connections_open: u64,
    pub sources: Vec<(String, Source)>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Source {
    pub received: u64,
    pub unparsed: u64,
    pub hostname: Option<String>,
    pub last_seen: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Pipeline {
    pub wal_events_durable: u64,
    pub wal_disk_bytes: u64,
    pub indexed_events: u64,
    pub index_errors: u64,
    pub replayed_events: u64,
    pub queue_depth: u64,
    pub queue_capacity: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Detection {
    pub origin: String,
    pub compiled: usize,
    pub unsupported: usize,
    pub invalid: usize,
    pub reloads: u64,
    pub last_reload_error: Option<String>,
    pub top_rules: Vec<RuleHits>,
    pub ioc_hits: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleHits {
    pub id: String,
    pub title: String,
    pub hits: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Netflow {
    pub url: String,
    pub datagrams: u64,
    pub dropped_queue: u64,
    /// Datagrams the engine's queue to its WAL could not take.
    pub dropped_queue_datagrams: u64,
    pub dropped_kernel: u64,
    pub totals: Exporter,
    pub exporters: Vec<(String, Exporter)>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Exporter {
    pub records: u64,
    pub template_misses: u64,
    pub decode_errors: u64,
    pub sequence_gaps: u64,
    pub last_seen: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertsStatus {
    pub stage: Stage,
    pub counts: Counts,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stage {
    pub matches: u64,
    pub suppressed: u64,
    pub alerts_created: u64,
    pub store_errors: u64,
    pub queue_depth: u64,
    pub queue_capacity: u64,
    pub silent_sources: u64,
}

/// One event from `GET /api/v1/search`, its fields flattened to text and sorted by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hit {
    pub fields: Vec<(String, String)>,
}

impl Hit {
    /// Flattens one search result object (nested objects become dotted names, arrays are
    /// joined with ", ").
    pub fn from_json(v: &serde_json::Value) -> Hit {
        fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, v) in m {
                        let name = if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{prefix}.{k}")
                        };
                        walk(&name, v, out);
                    }
                }
                serde_json::Value::Array(a) => {
                    let parts: Vec<String> = a
                        .iter()
                        .map(|x| match x {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect();
                    out.push((prefix.to_owned(), parts.join(", ")));
                }
                serde_json::Value::String(s) => out.push((prefix.to_owned(), s.clone())),
                serde_json::Value::Null => {}
                other => out.push((prefix.to_owned(), other.to_string())),
            }
        }
        let mut fields = Vec::new();
        walk("", v, &mut fields);
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        Hit { fields }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()
            .map(|i| self.fields[i].1.as_str())
    }

    pub fn time(&self) -> &str {
        self.get("@timestamp").unwrap_or("")
    }

    pub fn host(&self) -> &str {
        ["host.name", "host.hostname", "observer.ip", "source.ip"]
            .iter()
            .find_map(|k| self.get(k))
            .unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.get("message")
            .or_else(|| self.get("event.original"))
            .unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_search_line_is_split() {
        let a = Alert {
            search: "canh search 'canh.rule.id:\"x\" AND host.name:\"web\"' --from 2025-06-01T01:00:00.000Z --to 2025-06-01T02:00:01.000Z".into(),
            ..Default::default()
        };
        let (q, f, t) = a.search_query();
        assert_eq!(q, "canh.rule.id:\"x\" AND host.name:\"web\"");
        assert_eq!(f.as_deref(), Some("2025-06-01T01:00:00.000Z"));
        assert_eq!(t.as_deref(), Some("2025-06-01T02:00:01.000Z"));
        let b = Alert {
            search: "user.name:root".into(),
            ..Default::default()
        };
        assert_eq!(b.search_query(), ("user.name:root".into(), None, None));
    }

    #[test]
    fn alerts_sort_like_the_engine() {
        let mk = |id, level: &str, last: &str| Alert {
            id,
            level: level.into(),
            last_seen: last.into(),
            ..Default::default()
        };
        let mut v = [
            mk(1, "low", "2025-06-01T00:00:09.000Z"),
            mk(2, "critical", "2025-06-01T00:00:01.000Z"),
            mk(3, "high", "2025-06-01T00:00:05.000Z"),
            mk(4, "high", "2025-06-01T00:00:07.000Z"),
            mk(5, "weird", "2025-06-01T00:00:07.000Z"),
        ];
        v.sort_by(Alert::sort_cmp);
        let ids: Vec<i64> = v.iter().map(|a| a.id).collect();
        assert_eq!(ids, [2, 4, 3, 1, 5]);
    }

    #[test]
    fn search_hits_are_flattened() {
        let v: serde_json::Value = serde_json::json!({
            "@timestamp": "2025-06-01T00:00:00Z",
            "message": "Failed password",
            "source": {"ip": "203.0.113.5", "port": 4242},
            "tags": ["a", "b"],
            "host.name": "bastion01",
            "gone": null
        });
        let h = Hit::from_json(&v);
        assert_eq!(h.get("source.ip"), Some("203.0.113.5"));
        assert_eq!(h.get("source.port"), Some("4242"));
        assert_eq!(h.get("tags"), Some("a, b"));
        assert_eq!(h.host(), "bastion01");
        assert_eq!(h.message(), "Failed password");
        assert_eq!(h.get("gone"), None);
    }

    #[test]
    fn detail_parses_with_unknown_and_missing_fields() {
        let d: AlertDetail = serde_json::from_str(
            r#"{"id":7,"title":"t","level":"high","future":1,
                "samples":[{"time":"x","raw":"r","fields":{"a":"b"}}],
                "history":[{"at":"x","actor":"an","action":"note","detail":{"text":"hi"}}]}"#,
        )
        .unwrap();
        assert_eq!(d.alert.id, 7);
        assert_eq!(d.samples[0].fields["a"], "b");
        assert_eq!(d.history[0].detail_text(), "hi");
    }
}
