//! Collector health per day, kept for the monthly report: `DATA/health/YYYY-MM-DD.json` (UTC
//! day) holds, per listener, source and exporter, what arrived and what was lost that day.
//!
//! The engine's counters live in memory and restart at zero with the process; the recorder
//! adds the difference since its last look to the day's file every [`HEALTH_INTERVAL`]
//! (atomically: temporary file and rename), so a restart loses at most one interval of
//! counts and never counts twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::status::EngineStatus;

/// How often the engine adds its counters to the day's health file.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(60);
/// Largest health file read (a day of a few thousand sources is well under a MiB).
pub const MAX_HEALTH_FILE: u64 = 64 * 1024 * 1024;

/// One source's counters for a day. Keys: `syslog <listener> <address>` for syslog sources,
/// `syslog <listener>` for a listener's own losses, `netflow <listener> <exporter>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counters {
    pub received: u64,
    pub unparsed: u64,
    pub truncated: u64,
    pub dropped_queue: u64,
    pub dropped_kernel: u64,
    pub refused: u64,
    pub tls_failures: u64,
    pub decode_errors: u64,
    pub sequence_gaps: u64,
    pub template_misses: u64,
}

impl Counters {
    pub fn add(&mut self, o: &Counters) {
        self.received += o.received;
        self.unparsed += o.unparsed;
        self.truncated += o.truncated;
        self.dropped_queue += o.dropped_queue;
        self.dropped_kernel += o.dropped_kernel;
        self.refused += o.refused;
        self.tls_failures += o.tls_failures;
        self.decode_errors += o.decode_errors;
        self.sequence_gaps += o.sequence_gaps;
        self.template_misses += o.template_misses;
    }

    /// `self - o`, field by field; a counter that went down (a restart) counts from zero.
    fn since(&self, o: &Counters) -> Counters {
        let d = |a: u64, b: u64| if a >= b { a - b } else { a };
        Counters {
            received: d(self.received, o.received),
            unparsed: d(self.unparsed, o.unparsed),
            truncated: d(self.truncated, o.truncated),
            dropped_queue: d(self.dropped_queue, o.dropped_queue),
            dropped_kernel: d(self.dropped_kernel, o.dropped_kernel),
            refused: d(self.refused, o.refused),
            tls_failures: d(self.tls_failures, o.tls_failures),
            decode_errors: d(self.decode_errors, o.decode_errors),
            sequence_gaps: d(self.sequence_gaps, o.sequence_gaps),
            template_misses: d(self.template_misses, o.template_misses),
        }
    }

    pub fn is_zero(&self) -> bool {
        *self == Counters::default()
    }

    pub fn lost(&self) -> u64 {
        self.dropped_queue + self.dropped_kernel + self.refused
    }
}

/// A day's file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthDay {
    pub day: NaiveDate,
    pub sources: BTreeMap<String, Counters>,
}

pub fn dir(data: &Path) -> PathBuf {
    data.join("health")
}

pub fn day_path(data: &Path, day: NaiveDate) -> PathBuf {
    dir(data).join(format!("{day}.json"))
}

/// Reads one day's file; a missing file is an empty day.
pub fn read_day(data: &Path, day: NaiveDate) -> anyhow::Result<HealthDay> {
    use anyhow::Context;
    let p = day_path(data, day);
    match std::fs::metadata(&p) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(HealthDay {
                day,
                ..HealthDay::default()
            });
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
        Ok(m) if m.len() > MAX_HEALTH_FILE => {
            anyhow::bail!(
                "{}: {} bytes is more than a health file may hold ({MAX_HEALTH_FILE})",
                p.display(),
                m.len()
            )
        }
        Ok(_) => {}
    }
    let bytes = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("{}: not a health file", p.display()))
}

/// The counters in a status snapshot, by source key.
pub fn counters_of(s: &EngineStatus) -> BTreeMap<String, Counters> {
    let mut out: BTreeMap<String, Counters> = BTreeMap::new();
    for l in &s.listeners {
        out.insert(
            format!("syslog {}", l.url),
            Counters {
                dropped_queue: l.dropped_queue,
                dropped_kernel: l.dropped_kernel,
                refused: l.connections_refused,
                tls_failures: l.tls_handshake_failures,
                ..Counters::default()
            },
        );
        for (addr, src) in &l.sources {
            out.entry(format!("syslog {} {addr}", l.url))
                .or_default()
                .add(&Counters {
                    received: src.received,
                    unparsed: src.unparsed,
                    truncated: src.truncated,
                    ..Counters::default()
                });
        }
    }
    for n in &s.netflow {
        out.insert(
            format!("netflow {}", n.url),
            Counters {
                dropped_queue: n.dropped_queue + n.dropped_queue_datagrams,
                dropped_kernel: n.dropped_kernel,
                refused: n.refused,
                ..Counters::default()
            },
        );
        for (exp, e) in &n.exporters {
            out.insert(
                format!("netflow {} {exp}", n.url),
                Counters {
                    received: e.records,
                    decode_errors: e.decode_errors,
                    sequence_gaps: e.sequence_gaps,
                    template_misses: e.template_misses,
                    ..Counters::default()
                },
            );
        }
    }
    out
}

/// Adds the engine's counters to the day's file, remembering what it has added.
#[derive(Debug, Default)]
pub struct Recorder {
    seen: BTreeMap<String, Counters>,
}

impl Recorder {
    pub fn record(
        &mut self,
        data: &Path,
        s: &EngineStatus,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        use anyhow::Context;
        let current = counters_of(s);
        let day = now.date_naive();
        let mut file = read_day(data, day)?;
        let mut changed = false;
        for (k, c) in &current {
            let delta = c.since(self.seen.get(k).unwrap_or(&Counters::default()));
            if !delta.is_zero() {
                file.sources.entry(k.clone()).or_default().add(&delta);
                changed = true;
            }
        }
        self.seen = current;
        if !changed {
            return Ok(());
        }
        let d = dir(data);
        std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
        let path = day_path(data, day);
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&file)?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(received: u64, dropped: u64) -> EngineStatus {
        let mut l = canh_collectors::stats::ListenerSnapshot {
            url: "udp://127.0.0.1:5514".into(),
            dropped_queue: dropped,
            ..Default::default()
        };
        l.sources.push((
            "10.0.0.1".into(),
            canh_collectors::stats::SourceStats {
                received,
                unparsed: 1,
                ..Default::default()
            },
        ));
        EngineStatus {
            version: "t".into(),
            pid: 1,
            started_at: Utc::now(),
            updated_at: Utc::now(),
            api: String::new(),
            listeners: vec![l],
            inactive: vec![],
            pipeline: Default::default(),
            detection: None,
            netflow: vec![],
            alerts: None,
            forward: vec![],
            ship: None,
        }
    }

    #[test]
    fn adds_differences_and_survives_restarts() {
        let d = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let mut r = Recorder::default();
        r.record(d.path(), &status(10, 2), now).unwrap();
        r.record(d.path(), &status(25, 2), now).unwrap();
        // A restarted engine starts from zero: a new recorder, counters from zero again.
        let mut r2 = Recorder::default();
        r2.record(d.path(), &status(5, 1), now).unwrap();
        let day = read_day(d.path(), now.date_naive()).unwrap();
        let src = &day.sources["syslog udp://127.0.0.1:5514 10.0.0.1"];
        assert_eq!(src.received, 30);
        assert_eq!(src.unparsed, 2);
        assert_eq!(day.sources["syslog udp://127.0.0.1:5514"].dropped_queue, 3);
    }
}
