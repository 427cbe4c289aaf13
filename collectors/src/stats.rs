//! Counters kept by every listener, per listener and per source address.
//!
//! Counters are atomics updated on the hot path; the per-source table is bounded by
//! [`MAX_TRACKED_SOURCES`]: sources beyond it are counted together under [`OTHER_SOURCES`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Most source addresses tracked one by one per listener (a province has hundreds of
/// agencies; this leaves room for every device while keeping memory fixed).
pub const MAX_TRACKED_SOURCES: usize = 10_000;
/// Key under which sources beyond [`MAX_TRACKED_SOURCES`] are counted.
pub const OTHER_SOURCES: &str = "(other)";

/// Counters of one listener.
#[derive(Debug, Default)]
pub struct ListenerStats {
    pub url: String,
    pub received: AtomicU64,
    pub parsed: AtomicU64,
    pub unparsed: AtomicU64,
    pub truncated: AtomicU64,
    pub bytes: AtomicU64,
    /// Records the engine's queue could not take in time (UDP only; TCP waits instead).
    pub dropped_queue: AtomicU64,
    /// Datagrams the kernel dropped because the socket buffer was full (UDP, from /proc).
    pub dropped_kernel: AtomicU64,
    pub connections_open: AtomicU64,
    pub connections_total: AtomicU64,
    /// Connections refused because the listener was at its connection limit.
    pub connections_refused: AtomicU64,
    pub tls_handshake_failures: AtomicU64,
    /// Connections closed after STREAM_IDLE_TIMEOUT without data.
    pub idle_closed: AtomicU64,
    sources: Mutex<HashMap<String, SourceStats>>,
}

/// Counters of one source address on one listener.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceStats {
    pub received: u64,
    pub parsed: u64,
    pub unparsed: u64,
    pub truncated: u64,
    pub bytes: u64,
    /// The host name the source last gave in its messages.
    pub hostname: Option<String>,
    pub last_seen: Option<DateTime<Utc>>,
}

/// What one record contributed, for [`ListenerStats::record`].
#[derive(Debug, Clone, Copy)]
pub struct RecordOutcome<'a> {
    pub bytes: usize,
    pub unparsed: bool,
    pub truncated: bool,
    pub hostname: Option<&'a str>,
}

/// A point-in-time copy of a listener's counters, as shown by `canh status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListenerSnapshot {
    pub url: String,
    pub received: u64,
    pub parsed: u64,
    pub unparsed: u64,
    pub truncated: u64,
    pub bytes: u64,
    pub dropped_queue: u64,
    pub dropped_kernel: u64,
    pub connections_open: u64,
    pub connections_total: u64,
    pub connections_refused: u64,
    pub tls_handshake_failures: u64,
    pub sources: Vec<(String, SourceStats)>,
}

impl ListenerStats {
    pub fn new(url: impl Into<String>) -> Self {
        ListenerStats {
            url: url.into(),
            ..Default::default()
        }
    }

    /// Counts records from one source (`peer`, or `-` for files) received at `now`.
    pub fn record_batch<'a>(
        &self,
        peer: Option<IpAddr>,
        now: DateTime<Utc>,
        outcomes: impl IntoIterator<Item = RecordOutcome<'a>>,
    ) {
        let mut agg = SourceStats::default();
        for o in outcomes {
            agg.received += 1;
            agg.bytes += o.bytes as u64;
            if o.unparsed {
                agg.unparsed += 1;
            } else {
                agg.parsed += 1;
            }
            if o.truncated {
                agg.truncated += 1;
            }
            if let Some(h) = o.hostname
                && agg.hostname.as_deref() != Some(h)
            {
                agg.hostname = Some(h.to_owned());
            }
        }
        if agg.received == 0 {
            return;
        }
        self.received.fetch_add(agg.received, Relaxed);
        self.parsed.fetch_add(agg.parsed, Relaxed);
        self.unparsed.fetch_add(agg.unparsed, Relaxed);
        self.truncated.fetch_add(agg.truncated, Relaxed);
        self.bytes.fetch_add(agg.bytes, Relaxed);
        let key = peer.map_or_else(|| "-".to_owned(), |p| p.to_string());
        let mut map = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        let len = map.len();
        let entry = if map.contains_key(&key) || len < MAX_TRACKED_SOURCES {
            map.entry(key).or_default()
        } else {
            map.entry(OTHER_SOURCES.to_owned()).or_default()
        };
        entry.received += agg.received;
        entry.parsed += agg.parsed;
        entry.unparsed += agg.unparsed;
        entry.truncated += agg.truncated;
        entry.bytes += agg.bytes;
        if agg.hostname.is_some() {
            entry.hostname = agg.hostname;
        }
        entry.last_seen = Some(now);
    }

    pub fn snapshot(&self) -> ListenerSnapshot {
        let mut sources: Vec<(String, SourceStats)> = self
            .sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        sources.sort_by(|a, b| b.1.received.cmp(&a.1.received).then_with(|| a.0.cmp(&b.0)));
        ListenerSnapshot {
            url: self.url.clone(),
            received: self.received.load(Relaxed),
            parsed: self.parsed.load(Relaxed),
            unparsed: self.unparsed.load(Relaxed),
            truncated: self.truncated.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            dropped_queue: self.dropped_queue.load(Relaxed),
            dropped_kernel: self.dropped_kernel.load(Relaxed),
            connections_open: self.connections_open.load(Relaxed),
            connections_total: self.connections_total.load(Relaxed),
            connections_refused: self.connections_refused.load(Relaxed),
            tls_handshake_failures: self.tls_handshake_failures.load(Relaxed),
            sources,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_bounded() {
        let s = ListenerStats::new("udp://x");
        let now = Utc::now();
        let one = [RecordOutcome {
            bytes: 10,
            unparsed: false,
            truncated: false,
            hostname: Some("h"),
        }];
        for i in 0..(MAX_TRACKED_SOURCES as u32 + 5) {
            s.record_batch(Some(IpAddr::from(i.to_be_bytes())), now, one);
        }
        let snap = s.snapshot();
        assert_eq!(snap.sources.len(), MAX_TRACKED_SOURCES + 1);
        assert_eq!(snap.received, MAX_TRACKED_SOURCES as u64 + 5);
        let other = snap
            .sources
            .iter()
            .find(|(k, _)| k == OTHER_SOURCES)
            .unwrap();
        assert_eq!(other.1.received, 5);
    }
}

/// Counters of one NetFlow/IPFIX listener, in total and per exporter.
#[derive(Debug, Default)]
pub struct NetflowStats {
    pub url: String,
    pub datagrams: AtomicU64,
    pub bytes: AtomicU64,
    /// Datagrams from exporters not on the allow-list (dropped on purpose, counted).
    pub refused: AtomicU64,
    /// Flow events the queue could not take in time (the edge collector decodes first).
    pub dropped_queue: AtomicU64,
    /// Datagrams the queue to the WAL could not take in time (the engine keeps datagrams
    /// whole and decodes them behind its WAL).
    pub dropped_queue_datagrams: AtomicU64,
    /// Datagrams the kernel dropped (socket buffer full), from /proc.
    pub dropped_kernel: AtomicU64,
    exporters: Mutex<HashMap<String, ExporterStats>>,
}

/// Counters of one exporter (router, firewall) on one NetFlow listener.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExporterStats {
    pub datagrams: u64,
    pub bytes: u64,
    /// Flow and options records decoded into events.
    pub records: u64,
    /// Data sets that arrived before their template (they wait, bounded).
    pub template_misses: u64,
    /// Sets or packets that could not be decoded (kept raw, counted).
    pub decode_errors: u64,
    /// Packets or records lost on the way, from the exporter's sequence numbers.
    pub sequence_gaps: u64,
    pub version: Option<u16>,
    pub last_seen: Option<DateTime<Utc>>,
}

impl ExporterStats {
    /// Adds `o`'s counters; the later `version` and `last_seen` win.
    pub fn add(&mut self, o: &ExporterStats) {
        self.datagrams += o.datagrams;
        self.bytes += o.bytes;
        self.records += o.records;
        self.template_misses += o.template_misses;
        self.decode_errors += o.decode_errors;
        self.sequence_gaps += o.sequence_gaps;
        self.version = o.version.or(self.version);
        self.last_seen = self.last_seen.max(o.last_seen);
    }
}

/// A point-in-time copy of a NetFlow listener's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetflowSnapshot {
    pub url: String,
    pub datagrams: u64,
    pub bytes: u64,
    pub refused: u64,
    pub dropped_queue: u64,
    #[serde(default)]
    pub dropped_queue_datagrams: u64,
    pub dropped_kernel: u64,
    pub totals: ExporterStats,
    pub exporters: Vec<(String, ExporterStats)>,
}

impl NetflowStats {
    pub fn new(url: impl Into<String>) -> Self {
        NetflowStats {
            url: url.into(),
            ..Default::default()
        }
    }

    /// Counts one datagram from `exporter`: `delta` holds what it contributed (one datagram,
    /// its bytes, records, misses, errors, gaps, version and the time it arrived).
    pub fn record(&self, exporter: IpAddr, delta: &ExporterStats) {
        self.datagrams.fetch_add(delta.datagrams, Relaxed);
        self.bytes.fetch_add(delta.bytes, Relaxed);
        let mut map = self.exporters.lock().unwrap_or_else(|e| e.into_inner());
        let key = exporter.to_string();
        let len = map.len();
        let e = if map.contains_key(&key) || len < MAX_TRACKED_SOURCES {
            map.entry(key).or_default()
        } else {
            map.entry(OTHER_SOURCES.to_owned()).or_default()
        };
        e.add(delta);
    }

    pub fn snapshot(&self) -> NetflowSnapshot {
        let map = self.exporters.lock().unwrap_or_else(|e| e.into_inner());
        let mut exporters: Vec<(String, ExporterStats)> =
            map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        drop(map);
        exporters.sort_by(|a, b| b.1.records.cmp(&a.1.records).then_with(|| a.0.cmp(&b.0)));
        let mut totals = ExporterStats::default();
        for (_, e) in &exporters {
            totals.add(e);
        }
        // totals span exporters of different versions: a single one would mislead
        totals.version = None;
        NetflowSnapshot {
            url: self.url.clone(),
            datagrams: self.datagrams.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            refused: self.refused.load(Relaxed),
            dropped_queue: self.dropped_queue.load(Relaxed),
            dropped_queue_datagrams: self.dropped_queue_datagrams.load(Relaxed),
            dropped_kernel: self.dropped_kernel.load(Relaxed),
            totals,
            exporters,
        }
    }
}
