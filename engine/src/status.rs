//! Engine status: a snapshot written to `DATA/status.json` every second (atomically), read
//! by `canh status` and served by the API, and rendered as Prometheus metrics.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use canh_collectors::stats::ListenerSnapshot;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::pipeline::PipelineSnapshot;

/// How often the engine writes its status file.
pub const STATUS_INTERVAL: Duration = Duration::from_secs(1);
/// A status file older than this means the engine is not running (or hung).
pub const STALE_AFTER: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EngineStatus {
    pub version: String,
    pub pid: u32,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub api: String,
    pub listeners: Vec<ListenerSnapshot>,
    /// Listeners configured but not running, with the reason.
    pub inactive: Vec<(String, String)>,
    pub pipeline: PipelineSnapshot,
    #[serde(default)]
    pub detection: Option<crate::detect::DetectionSnapshot>,
    #[serde(default)]
    pub netflow: Vec<canh_collectors::stats::NetflowSnapshot>,
    #[serde(default)]
    pub alerts: Option<AlertsStatus>,
    /// Forwarding destinations by name.
    #[serde(default)]
    pub forward: Vec<(String, crate::alerts::forward::ForwardSnapshot)>,
    /// The listener for edge collectors, when one runs.
    #[serde(default)]
    pub ship: Option<crate::ship::ShipServerSnapshot>,
}

/// The alert stage's counters and the alerts per status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertsStatus {
    pub stage: crate::alerts::stage::StageSnapshot,
    pub counts: crate::alerts::store::AlertCounts,
}

pub fn status_path(data: &Path) -> PathBuf {
    data.join("status.json")
}

/// Writes the status file atomically (temp file + rename).
pub fn write(data: &Path, s: &impl Serialize) -> std::io::Result<()> {
    let tmp = data.join("status.json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(s).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(tmp, status_path(data))
}

pub fn read(data: &Path) -> std::io::Result<EngineStatus> {
    let bytes = std::fs::read(status_path(data))?;
    serde_json::from_slice(&bytes).map_err(std::io::Error::other)
}

/// Whether the engine that wrote `s` is still alive.
pub fn is_running(s: &EngineStatus, now: DateTime<Utc>) -> bool {
    let fresh = (now - s.updated_at)
        .to_std()
        .map_or(true, |age| age < STALE_AFTER);
    fresh && Path::new(&format!("/proc/{}", s.pid)).exists()
}

/// Metric names, declared once.
pub mod metric {
    pub const RECEIVED: &str = "canh_syslog_received_events_total";
    pub const PARSED: &str = "canh_syslog_parsed_events_total";
    pub const UNPARSED: &str = "canh_syslog_unparsed_events_total";
    pub const TRUNCATED: &str = "canh_syslog_truncated_events_total";
    pub const BYTES: &str = "canh_syslog_received_bytes_total";
    pub const DROPPED_QUEUE: &str = "canh_syslog_dropped_queue_events_total";
    pub const DROPPED_KERNEL: &str = "canh_syslog_dropped_kernel_datagrams_total";
    pub const CONNECTIONS_OPEN: &str = "canh_syslog_connections_open";
    pub const CONNECTIONS_REFUSED: &str = "canh_syslog_connections_refused_total";
    pub const TLS_FAILURES: &str = "canh_syslog_tls_handshake_failures_total";
    pub const WAL_EVENTS: &str = "canh_wal_durable_events_total";
    pub const WAL_BATCHES: &str = "canh_wal_batches_total";
    pub const WAL_BYTES: &str = "canh_wal_bytes_total";
    pub const WAL_DISK: &str = "canh_wal_disk_bytes";
    pub const INDEXED: &str = "canh_index_events_total";
    pub const COMMITS: &str = "canh_index_commits_total";
    pub const INDEX_ERRORS: &str = "canh_index_errors_total";
    pub const REPLAYED: &str = "canh_wal_replayed_events_total";
    pub const QUEUE_DEPTH: &str = "canh_pipeline_queue_depth";
    pub const WAL_DATAGRAMS: &str = "canh_wal_durable_datagrams_total";
    pub const INDEX_LAG: &str = "canh_index_lag_wal_batches";
    pub const INDEX_READ_BACK: &str = "canh_index_read_back_wal_batches_total";
    pub const NF_DATAGRAMS: &str = "canh_netflow_datagrams_total";
    pub const NF_RECORDS: &str = "canh_netflow_records_total";
    pub const NF_TEMPLATE_MISSES: &str = "canh_netflow_template_misses_total";
    pub const NF_DECODE_ERRORS: &str = "canh_netflow_decode_errors_total";
    pub const NF_SEQUENCE_GAPS: &str = "canh_netflow_sequence_gaps_total";
    pub const NF_REFUSED: &str = "canh_netflow_refused_datagrams_total";
    pub const NF_DROPPED_QUEUE: &str = "canh_netflow_dropped_queue_events_total";
    pub const NF_DROPPED_KERNEL: &str = "canh_netflow_dropped_kernel_datagrams_total";
    pub const NF_DROPPED_QUEUE_DATAGRAMS: &str = "canh_netflow_dropped_queue_datagrams_total";
    pub const RULE_HITS: &str = "canh_rule_hits_total";
    pub const ALERTS: &str = "canh_alerts";
    pub const ALERTS_CREATED: &str = "canh_alerts_created_total";
    pub const ALERT_MATCHES_SUPPRESSED: &str = "canh_alert_matches_suppressed_total";
    pub const CORRELATION_GROUPS: &str = "canh_correlation_groups";
    pub const CORRELATION_EVICTED: &str = "canh_correlation_groups_evicted_total";
    pub const CORRELATION_LATE: &str = "canh_correlation_late_events_total";
    pub const SILENT_SOURCES: &str = "canh_silent_sources";
    pub const FORWARD_DELIVERED: &str = "canh_forward_delivered_alerts_total";
    pub const FORWARD_PENDING: &str = "canh_forward_pending_alerts";
    pub const FORWARD_FAILED: &str = "canh_forward_failed_attempts_total";
}

/// Renders the status in Prometheus text exposition format.
pub fn prometheus(s: &EngineStatus) -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, rows: Vec<(String, u64)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in rows {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    let per = |f: fn(&ListenerSnapshot) -> u64| -> Vec<(String, u64)> {
        s.listeners
            .iter()
            .map(|l| (format!("{{listener=\"{}\"}}", l.url), f(l)))
            .collect()
    };
    use metric::*;
    family(
        RECEIVED,
        "counter",
        "Syslog records received.",
        per(|l| l.received),
    );
    family(
        PARSED,
        "counter",
        "Syslog records parsed.",
        per(|l| l.parsed),
    );
    family(
        UNPARSED,
        "counter",
        "Syslog records kept raw because no layout matched.",
        per(|l| l.unparsed),
    );
    family(
        TRUNCATED,
        "counter",
        "Syslog records cut at the message size limit.",
        per(|l| l.truncated),
    );
    family(BYTES, "counter", "Syslog bytes received.", per(|l| l.bytes));
    family(
        DROPPED_QUEUE,
        "counter",
        "Records dropped because the engine queue was full.",
        per(|l| l.dropped_queue),
    );
    family(
        DROPPED_KERNEL,
        "counter",
        "Datagrams the kernel dropped (socket buffer full).",
        per(|l| l.dropped_kernel),
    );
    family(
        CONNECTIONS_OPEN,
        "gauge",
        "Open TCP/TLS connections.",
        per(|l| l.connections_open),
    );
    family(
        CONNECTIONS_REFUSED,
        "counter",
        "Connections refused at the connection limit.",
        per(|l| l.connections_refused),
    );
    family(
        TLS_FAILURES,
        "counter",
        "TLS handshakes refused or timed out.",
        per(|l| l.tls_handshake_failures),
    );
    let p = &s.pipeline;
    let one = |v: u64| vec![(String::new(), v)];
    family(
        WAL_EVENTS,
        "counter",
        "Events fsynced in the write-ahead log.",
        one(p.wal_events_durable),
    );
    family(
        WAL_BATCHES,
        "counter",
        "WAL batches (fsyncs).",
        one(p.wal_batches),
    );
    family(
        WAL_BYTES,
        "counter",
        "Raw bytes written through the WAL.",
        one(p.wal_bytes),
    );
    family(
        WAL_DISK,
        "gauge",
        "Bytes of WAL segments on disk.",
        one(p.wal_disk_bytes),
    );
    family(
        INDEXED,
        "counter",
        "Events added to the index.",
        one(p.indexed_events),
    );
    family(COMMITS, "counter", "Index commits.", one(p.index_commits));
    family(
        INDEX_ERRORS,
        "counter",
        "Index errors.",
        one(p.index_errors),
    );
    family(
        REPLAYED,
        "counter",
        "Events replayed from the WAL at start-up.",
        one(p.replayed_events),
    );
    family(
        QUEUE_DEPTH,
        "gauge",
        "Event chunks waiting for the WAL writer.",
        one(p.queue_depth),
    );
    family(
        WAL_DATAGRAMS,
        "counter",
        "NetFlow datagrams made durable in the WAL (decoded behind it).",
        one(p.wal_datagrams),
    );
    family(
        INDEX_LAG,
        "gauge",
        "WAL batches durable but not yet taken in by the index thread.",
        one(p.index_lag_records),
    );
    family(
        INDEX_READ_BACK,
        "counter",
        "WAL batches the index thread read back from disk because its queue was full.",
        one(p.index_spilled),
    );
    let nf = |f: fn(&canh_collectors::stats::NetflowSnapshot) -> u64| -> Vec<(String, u64)> {
        s.netflow
            .iter()
            .map(|l| (format!("{{listener=\"{}\"}}", l.url), f(l)))
            .collect()
    };
    family(
        NF_DATAGRAMS,
        "counter",
        "NetFlow/IPFIX datagrams received.",
        nf(|l| l.datagrams),
    );
    family(
        NF_RECORDS,
        "counter",
        "Flow and options records decoded.",
        nf(|l| l.totals.records),
    );
    family(
        NF_TEMPLATE_MISSES,
        "counter",
        "Data sets that arrived before their template.",
        nf(|l| l.totals.template_misses),
    );
    family(
        NF_DECODE_ERRORS,
        "counter",
        "Sets or packets kept raw because they could not be decoded.",
        nf(|l| l.totals.decode_errors),
    );
    family(
        NF_SEQUENCE_GAPS,
        "counter",
        "Packets or records lost on the way (sequence numbers).",
        nf(|l| l.totals.sequence_gaps),
    );
    family(
        NF_REFUSED,
        "counter",
        "Datagrams from exporters not on the allow-list.",
        nf(|l| l.refused),
    );
    family(
        NF_DROPPED_QUEUE,
        "counter",
        "Flow events dropped because the engine queue was full.",
        nf(|l| l.dropped_queue),
    );
    family(
        NF_DROPPED_QUEUE_DATAGRAMS,
        "counter",
        "Datagrams dropped because the queue to the WAL was full.",
        nf(|l| l.dropped_queue_datagrams),
    );
    family(
        NF_DROPPED_KERNEL,
        "counter",
        "Datagrams the kernel dropped (socket buffer full).",
        nf(|l| l.dropped_kernel),
    );
    if let Some(d) = &s.detection {
        let rows = d
            .top_rules
            .iter()
            .map(|r| (format!("{{rule_id=\"{}\"}}", r.id), r.hits))
            .collect();
        family(
            RULE_HITS,
            "counter",
            "Events matched, for the 20 rules with most hits.",
            rows,
        );
    }
    if let Some(a) = &s.alerts {
        family(
            ALERTS,
            "gauge",
            "Alerts by status.",
            vec![
                ("{status=\"new\"}".into(), a.counts.new),
                ("{status=\"acknowledged\"}".into(), a.counts.acknowledged),
                ("{status=\"closed\"}".into(), a.counts.closed),
            ],
        );
        let one = |v: u64| vec![(String::new(), v)];
        family(
            ALERTS_CREATED,
            "counter",
            "Alerts created since start.",
            one(a.stage.alerts_created),
        );
        family(
            ALERT_MATCHES_SUPPRESSED,
            "counter",
            "Rule matches a suppression kept from raising alerts.",
            one(a.stage.suppressed),
        );
        family(
            CORRELATION_GROUPS,
            "gauge",
            "Live correlation and deduplication groups.",
            one(a.stage.correlation_groups),
        );
        family(
            CORRELATION_EVICTED,
            "counter",
            "Groups evicted because the group limit was reached.",
            one(a.stage.correlation_evicted),
        );
        family(
            CORRELATION_LATE,
            "counter",
            "Matches too late for their correlation window.",
            one(a.stage.late_dropped),
        );
        if !s.forward.is_empty() {
            let rows = |f: fn(&crate::alerts::forward::ForwardSnapshot) -> u64| {
                s.forward
                    .iter()
                    .map(|(n, x)| (format!("{{destination=\"{n}\"}}"), f(x)))
                    .collect::<Vec<_>>()
            };
            family(
                FORWARD_DELIVERED,
                "counter",
                "Alerts delivered to a forwarding destination since start.",
                rows(|x| x.delivered),
            );
            family(
                FORWARD_PENDING,
                "gauge",
                "Alerts waiting in a destination's outbox.",
                rows(|x| x.pending),
            );
            family(
                FORWARD_FAILED,
                "counter",
                "Failed delivery attempts (each is retried).",
                rows(|x| x.failed_attempts),
            );
        }
        family(
            SILENT_SOURCES,
            "gauge",
            "Sources silent past their learned threshold.",
            one(a.stage.silent_sources),
        );
    }
    out
}

pub fn human_bytes(b: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut k = 0;
    while v >= 1024.0 && k < U.len() - 1 {
        v /= 1024.0;
        k += 1;
    }
    if k == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", U[k])
    }
}

/// The human-readable `canh status` report.
pub fn render_text(s: &EngineStatus, now: DateTime<Utc>) -> String {
    let mut o = String::new();
    let running = is_running(s, now);
    let age = (now - s.updated_at).num_seconds().max(0);
    if running {
        let up = humantime::format_duration(Duration::from_secs(
            (now - s.started_at).num_seconds().max(0) as u64,
        ));
        let _ = writeln!(
            o,
            "engine   running · pid {} · up {up} · canh {} · api {}",
            s.pid, s.version, s.api
        );
    } else {
        let _ = writeln!(
            o,
            "engine   NOT RUNNING · last status {age}s ago (pid {}, {})",
            s.pid,
            s.updated_at.to_rfc3339()
        );
    }
    let p = &s.pipeline;
    let _ = writeln!(
        o,
        "pipeline durable {} events and {} datagrams in {} WAL batches · indexed {} (behind by {} WAL batches) · queue {}/{} · WAL on disk {} · replayed at start {} (already indexed {}) · index errors {}",
        p.wal_events_durable,
        p.wal_datagrams,
        p.wal_batches,
        p.indexed_events,
        p.index_lag_records,
        p.queue_depth,
        p.queue_capacity,
        human_bytes(p.wal_disk_bytes),
        p.replayed_events,
        p.replay_skipped,
        p.index_errors
    );
    if let Some(sh) = &s.ship {
        let _ = writeln!(
            o,
            "ship     tls://{} · collectors connected {} · batches {} ({} events) · re-deliveries {} · refused {} · protocol errors {}",
            sh.listen,
            sh.active,
            sh.batches,
            sh.events,
            sh.duplicates,
            sh.refused,
            sh.protocol_errors
        );
        for r in &sh.collectors {
            let seen = (now.timestamp_millis() - r.last_seen_ms).max(0) / 1000;
            let _ = writeln!(
                o,
                "  collector {} {} · heard {seen}s ago · {} batches ({} events) · spool {} batches unshipped, oldest {}s",
                r.name,
                if r.connected {
                    "connected"
                } else {
                    "DISCONNECTED"
                },
                r.batches,
                r.events,
                r.spool_depth,
                r.oldest_unshipped_secs
            );
        }
    }
    if let Some(d) = &s.detection {
        let _ = writeln!(
            o,
            "rules    {}: {} compiled, {} unsupported · reloads {}{}",
            d.origin,
            d.compiled,
            d.unsupported,
            d.reloads,
            d.last_reload_error
                .as_ref()
                .map_or(String::new(), |e| format!(
                    " · LAST RELOAD REFUSED: {}",
                    e.lines().next().unwrap_or("")
                )),
        );
        for r in d.top_rules.iter().take(5) {
            let _ = writeln!(o, "         {:>8} hits  {}", r.hits, r.title);
        }
    }
    if let Some(a) = &s.alerts {
        let st = &a.stage;
        let _ = writeln!(
            o,
            "alerts   {} new · {} acknowledged · {} closed · created {} · suppressed matches {} · groups {} (evicted {}, late {}) · silent sources {}",
            a.counts.new,
            a.counts.acknowledged,
            a.counts.closed,
            st.alerts_created,
            st.suppressed,
            st.correlation_groups,
            st.correlation_evicted,
            st.late_dropped,
            st.silent_sources
        );
    }
    for (name, f) in &s.forward {
        let _ = writeln!(
            o,
            "forward  {name}: delivered {} · pending {} · failed attempts {}{}",
            f.delivered,
            f.pending,
            f.failed_attempts,
            f.last_error
                .as_ref()
                .map_or(String::new(), |e| format!(" · LAST ERROR: {e}"))
        );
    }
    for (name, why) in &s.inactive {
        let _ = writeln!(o, "inactive {name}: {why}");
    }
    render_listeners(&mut o, &s.listeners, &s.netflow, now);
    o
}

/// The syslog and NetFlow listener tables (engine and collector alike).
pub fn render_listeners(
    o: &mut String,
    listeners: &[ListenerSnapshot],
    netflow: &[canh_collectors::stats::NetflowSnapshot],
    now: DateTime<Utc>,
) {
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{:<28} {:>10} {:>10} {:>9} {:>7} {:>8} {:>8} {:>10} {:>5}",
        "LISTENER",
        "RECEIVED",
        "PARSED",
        "UNPARSED",
        "TRUNC",
        "DROP(Q)",
        "DROP(K)",
        "BYTES",
        "CONN"
    );
    for l in listeners {
        let _ = writeln!(
            o,
            "{:<28} {:>10} {:>10} {:>9} {:>7} {:>8} {:>8} {:>10} {:>5}",
            l.url,
            l.received,
            l.parsed,
            l.unparsed,
            l.truncated,
            l.dropped_queue,
            l.dropped_kernel,
            human_bytes(l.bytes),
            l.connections_open
        );
        for (src, st) in &l.sources {
            let seen = st.last_seen.map_or("-".to_owned(), |t| {
                format!("{}s ago", (now - t).num_seconds().max(0))
            });
            let _ = writeln!(
                o,
                "  {:<26} {:>10} {:>10} {:>9} {:>7} {:>8} {:>8} {:>10}   {} {}",
                src,
                st.received,
                st.parsed,
                st.unparsed,
                st.truncated,
                "",
                "",
                human_bytes(st.bytes),
                st.hostname.as_deref().unwrap_or("-"),
                seen
            );
        }
    }
    if !netflow.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "{:<28} {:>10} {:>10} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10}",
            "NETFLOW",
            "DATAGRAMS",
            "RECORDS",
            "TPL-MISS",
            "ERRORS",
            "SEQ-GAP",
            "REFUSED",
            "DROP(Q)",
            "DROP(K)",
            "BYTES"
        );
        for l in netflow {
            let t = &l.totals;
            let _ = writeln!(
                o,
                "{:<28} {:>10} {:>10} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10}",
                l.url,
                l.datagrams,
                t.records,
                t.template_misses,
                t.decode_errors,
                t.sequence_gaps,
                l.refused,
                l.dropped_queue_datagrams,
                l.dropped_kernel,
                human_bytes(l.bytes)
            );
            for (exp, e) in &l.exporters {
                let seen = e.last_seen.map_or("-".to_owned(), |t| {
                    format!("{}s ago", (now - t).num_seconds().max(0))
                });
                let v = e.version.map_or("-".to_owned(), |v| format!("v{v}"));
                let _ = writeln!(
                    o,
                    "  {:<26} {:>10} {:>10} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10}   {v} {seen}",
                    exp,
                    e.datagrams,
                    e.records,
                    e.template_misses,
                    e.decode_errors,
                    e.sequence_gaps,
                    "",
                    "",
                    "",
                    human_bytes(e.bytes)
                );
            }
        }
    }
}
