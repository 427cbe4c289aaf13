//! The alert stage: a thread fed by the WAL writer with the matched events of every durable
//! batch. It drops suppressed matches, runs the [`Correlator`] (deduplication of detection
//! rules and Sigma correlation) and writes the raises to the store, one transaction per batch.
//!
//! Crash semantics: the correlator's state is saved with the WAL position it is complete
//! through (every [`STATE_INTERVAL`] and at shutdown). At start the WAL is replayed from that
//! position; the raises come out the same and carry the same sequence numbers, and the store
//! skips those an alert already has. The WAL is not truncated past the saved position.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use canh_core::{Event, Value, field};
use canh_rules::correlate::{Correlator, CorrelatorConfig, Match, Raise};
use canh_rules::{LeafId, RuleIdx, RuleKind, RuleSet};
use serde::{Deserialize, Serialize};
use tracing::{error, info, warn};

use super::silent::{SilentConfig, SilentSources};
use super::store::{AlertInput, Sample, Store, fmt_ms};
use super::suppress::Active;
use crate::detect::{Detection, Detector, F_RULE_ID};

/// Batches of matched events waiting for the alert stage; when full, the WAL writer waits.
pub const ALERT_QUEUE_BATCHES: usize = 256;
/// How often the correlator's state is saved.
pub const STATE_INTERVAL: Duration = Duration::from_secs(5);
/// How often suppressions are re-read from the store.
pub const SUPPRESSION_REFRESH: Duration = Duration::from_secs(2);
/// How often silent sources are looked for.
pub const SILENT_CHECK: Duration = Duration::from_secs(1);
/// An event stamped further in the future than this (a device with a wrong clock) counts at
/// its receive time plus this, so it cannot push every other event out as late.
pub const MAX_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;
/// Rule key of silent-source alerts.
pub const SILENT_RULE: &str = "canh.silent_source";

/// What the WAL writer hands over for one durable record.
#[derive(Debug)]
pub struct StageBatch {
    pub pos: u64,
    /// Events with at least one rule match, with their ordinal in the record.
    pub matched: Vec<(u32, Event)>,
    /// Events per source in the record (for silent sources).
    pub sources: Vec<(String, u64)>,
}

/// The source an event counts for: its host name, else its sender's address.
pub fn source_of(ev: &Event) -> String {
    if let Some(h) = ev.get(field::HOST_HOSTNAME) {
        return h.to_string();
    }
    match ev.origin.peer {
        Some(p) => p.ip().to_string(),
        None => ev.origin.listener.clone(),
    }
}

impl StageBatch {
    pub fn of(pos: u64, events: &[Event]) -> StageBatch {
        let mut matched = Vec::new();
        let mut sources: HashMap<String, u64> = HashMap::new();
        for (k, ev) in events.iter().enumerate() {
            if ev.fields.contains_key(F_RULE_ID) {
                matched.push((k as u32, ev.clone()));
            }
            let src = source_of(ev);
            *sources.entry(src).or_default() += 1;
        }
        StageBatch {
            pos,
            matched,
            sources: sources.into_iter().collect(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct StageConfig {
    pub data_dir: PathBuf,
    pub correlator: CorrelatorConfig,
    pub silent: Option<SilentConfig>,
    /// Forwarding destination names (an outbox row per new alert each).
    pub dests: Vec<String>,
    /// Edge collectors' health, when the engine accepts collectors: silent or lagging
    /// collectors raise alerts.
    pub collectors: Option<Arc<crate::ship::CollectorHealth>>,
}

#[derive(Debug, Default)]
pub struct StageCounters {
    pub matches: AtomicU64,
    pub suppressed: AtomicU64,
    pub alerts_created: AtomicU64,
    pub alerts_updated: AtomicU64,
    pub groups: AtomicU64,
    pub evicted: AtomicU64,
    pub late: AtomicU64,
    pub store_errors: AtomicU64,
    pub queue_depth: AtomicU64,
    /// The WAL position the saved state is complete through.
    pub state_pos: AtomicU64,
    pub silent_sources: AtomicU64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageSnapshot {
    pub matches: u64,
    pub suppressed: u64,
    pub alerts_created: u64,
    pub alerts_updated: u64,
    pub correlation_groups: u64,
    pub correlation_evicted: u64,
    pub late_dropped: u64,
    pub store_errors: u64,
    pub queue_depth: u64,
    pub queue_capacity: u64,
    pub silent_sources: u64,
}

impl StageCounters {
    pub fn snapshot(&self) -> StageSnapshot {
        StageSnapshot {
            matches: self.matches.load(Relaxed),
            suppressed: self.suppressed.load(Relaxed),
            alerts_created: self.alerts_created.load(Relaxed),
            alerts_updated: self.alerts_updated.load(Relaxed),
            correlation_groups: self.groups.load(Relaxed),
            correlation_evicted: self.evicted.load(Relaxed),
            late_dropped: self.late.load(Relaxed),
            store_errors: self.store_errors.load(Relaxed),
            queue_depth: self.queue_depth.load(Relaxed),
            queue_capacity: ALERT_QUEUE_BATCHES as u64,
            silent_sources: self.silent_sources.load(Relaxed),
        }
    }
}

/// Called with the id of every alert created (the live stream).
pub type OnCreated = Arc<dyn Fn(i64) + Send + Sync>;

/// A running stage.
pub struct AlertStage {
    pub tx: SyncSender<StageBatch>,
    thread: JoinHandle<()>,
    pub counters: Arc<StageCounters>,
    /// The WAL position the restored state is complete through: replay from here.
    pub replay_from: u64,
}

impl AlertStage {
    pub fn start(
        cfg: StageConfig,
        detection: Arc<Detection>,
        on_created: OnCreated,
    ) -> anyhow::Result<AlertStage> {
        let store = Store::open(&cfg.data_dir)?;
        let det = detection.current();
        let mut correlator = Correlator::new(&det.set, cfg.correlator.clone());
        let mut replay_from = 0;
        if let Some((pos, bytes)) = store.load_state()? {
            match correlator.restore(&bytes) {
                Ok(r) => {
                    info!(
                        kept = r.kept_groups,
                        dropped = r.dropped_groups,
                        pos,
                        "correlation state restored"
                    );
                    replay_from = pos
                }
                Err(e) => {
                    // the state of another version: start afresh from what the WAL still has
                    warn!(error = %e, "correlation state not restored; starting afresh");
                    replay_from = pos;
                }
            }
        }
        let counters = Arc::new(StageCounters::default());
        counters.state_pos.store(replay_from, Relaxed);
        let (tx, rx) = sync_channel(ALERT_QUEUE_BATCHES);
        let c = counters.clone();
        let worker = Worker {
            rules: RuleInfo::of(&det),
            detector: det,
            detection,
            store,
            correlator,
            suppressions: Active::default(),
            supp_version: None,
            silent: cfg.silent.clone().map(SilentSources::new),
            cfg,
            c,
            on_created,
            last_pos: replay_from,
            saved_pos: replay_from,
        };
        let thread = std::thread::Builder::new()
            .name("canh-alerts".into())
            .spawn(move || worker.run(rx))
            .expect("spawn the alert thread");
        Ok(AlertStage {
            tx,
            thread,
            counters,
            replay_from,
        })
    }

    /// What the pipeline's WAL writer feeds.
    pub fn feed(&self) -> crate::pipeline::AlertFeed {
        crate::pipeline::AlertFeed {
            tx: self.tx.clone(),
            from: self.replay_from,
            counters: self.counters.clone(),
        }
    }

    /// Drains, saves the state and stops (every sender must be gone).
    pub fn join(self) {
        drop(self.tx);
        let _ = self.thread.join();
    }
}

/// What an alert needs from a rule.
struct RuleMeta {
    key: String,
    title: String,
    level: String,
    kind: &'static str,
    tags: Vec<String>,
    description: Option<String>,
    /// Names to look up for the matched fields, one list per field the rule tests.
    fields: Vec<Vec<String>>,
}

struct RuleInfo {
    meta: Vec<RuleMeta>,
    by_key: HashMap<String, RuleIdx>,
}

impl RuleInfo {
    fn of(det: &Detector) -> RuleInfo {
        let set: &RuleSet = &det.set;
        let mut fields: Vec<Vec<Vec<String>>> = vec![Vec::new(); set.rules().len()];
        for c in set.compiled() {
            let out = &mut fields[c.rule.0 as usize];
            for leaf in c.expr.leaves() {
                let f = match leaf {
                    LeafId::Pattern(p) => {
                        &set.fields()[set.patterns()[*p as usize].field.0 as usize]
                    }
                    LeafId::Check(k) => set.checks()[*k as usize].field(),
                };
                if !out.contains(&f.lookup) {
                    out.push(f.lookup.clone());
                }
            }
        }
        let mut meta = Vec::with_capacity(set.rules().len());
        let mut by_key = HashMap::new();
        for (i, (r, fields)) in set.rules().iter().zip(fields).enumerate() {
            let key = r.id.clone().unwrap_or_else(|| r.title.clone());
            by_key.insert(key.clone(), RuleIdx(i as u32));
            meta.push(RuleMeta {
                key,
                title: r.title.clone(),
                level: r.level.map_or("medium", |l| l.as_str()).to_owned(),
                kind: match r.kind {
                    RuleKind::Correlation(_) => "correlation",
                    _ => "detection",
                },
                tags: r.tags.clone(),
                description: r.description.clone(),
                fields,
            });
        }
        RuleInfo { meta, by_key }
    }
}

struct Worker {
    detection: Arc<Detection>,
    detector: Arc<Detector>,
    rules: RuleInfo,
    store: Store,
    correlator: Correlator,
    suppressions: Active,
    supp_version: Option<(i64, i64)>,
    silent: Option<SilentSources>,
    cfg: StageConfig,
    c: Arc<StageCounters>,
    on_created: OnCreated,
    last_pos: u64,
    saved_pos: u64,
}

fn event_time_ms(ev: &Event) -> i64 {
    let t = ev.timestamp.timestamp_millis();
    t.min(ev.received.timestamp_millis() + MAX_CLOCK_SKEW_MS)
}

fn rule_keys(ev: &Event) -> Vec<&str> {
    match ev.get(F_RULE_ID) {
        Some(Value::Str(s)) => vec![s.as_str()],
        Some(Value::List(v)) => v.iter().map(String::as_str).collect(),
        _ => Vec::new(),
    }
}

impl Worker {
    fn run(mut self, rx: Receiver<StageBatch>) {
        let mut last_state = Instant::now();
        let mut last_supp = Instant::now() - SUPPRESSION_REFRESH;
        let mut last_silent = Instant::now();
        loop {
            if last_supp.elapsed() >= SUPPRESSION_REFRESH {
                self.refresh_suppressions();
                last_supp = Instant::now();
            }
            match rx.recv_timeout(SILENT_CHECK) {
                Ok(b) => {
                    self.c.queue_depth.fetch_sub(1, Relaxed);
                    self.batch(b);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if last_silent.elapsed() >= SILENT_CHECK {
                self.check_silent();
                self.check_collectors();
                last_silent = Instant::now();
            }
            if last_state.elapsed() >= STATE_INTERVAL {
                self.save_state();
                last_state = Instant::now();
            }
        }
        self.save_state();
        info!("alert stage stopped");
    }

    fn refresh_suppressions(&mut self) {
        match self.store.suppressions_version() {
            Ok(v) if Some(v) == self.supp_version => {}
            Ok(v) => match self.store.suppressions(false) {
                Ok(list) => {
                    self.suppressions = Active::new(&list);
                    self.supp_version = Some(v);
                }
                Err(e) => error!(error = %e, "cannot read suppressions"),
            },
            Err(e) => error!(error = %e, "cannot read suppressions"),
        }
    }

    /// Picks up a rule reload: a new correlator keeps the state of rules that still exist.
    fn follow_reload(&mut self) {
        let det = self.detection.current();
        if Arc::ptr_eq(&det, &self.detector) {
            return;
        }
        let mut next = Correlator::new(&det.set, self.cfg.correlator.clone());
        if let Err(e) = next.restore(&self.correlator.snapshot()) {
            warn!(error = %e, "correlation state not carried over the rule reload");
        }
        self.correlator = next;
        self.rules = RuleInfo::of(&det);
        self.detector = det;
    }

    fn sample(&self, meta: &RuleMeta, ev: &Event, group: &[(String, String)]) -> Sample {
        let mut fields = BTreeMap::new();
        for lookup in &meta.fields {
            if let Some((name, v)) = lookup
                .iter()
                .find_map(|n| ev.get(n).map(|v| (n.clone(), v.to_string())))
            {
                fields.insert(name, v);
            }
        }
        for (k, v) in group {
            if !v.is_empty() {
                fields.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        Sample {
            time: fmt_ms(ev.timestamp.timestamp_millis()),
            host: ev.get(field::HOST_HOSTNAME).map(|v| v.to_string()),
            message: ev.get(field::MESSAGE).map(|v| v.to_string()),
            raw: String::from_utf8_lossy(&ev.raw).into_owned(),
            fields,
        }
    }

    fn input(&self, r: &Raise, seq: u64, ev: Option<&Event>) -> AlertInput {
        let meta = &self.rules.meta[r.rule.0 as usize];
        AlertInput {
            rule: meta.key.clone(),
            title: meta.title.clone(),
            level: meta.level.clone(),
            kind: meta.kind.to_owned(),
            tags: meta.tags.clone(),
            description: meta.description.clone(),
            group: r.group.clone(),
            window_start_ms: r.window_start_ms,
            time_ms: r.time_ms,
            new: r.new,
            count: r.count,
            value: r.value,
            seq,
            sample: ev.map(|e| self.sample(meta, e, &r.group)),
        }
    }

    fn batch(&mut self, b: StageBatch) {
        self.follow_reload();
        let now = chrono::Utc::now().timestamp_millis();
        if let Some(s) = &mut self.silent {
            for (src, n) in &b.sources {
                s.record(src, *n, now);
            }
        }
        let mut inputs = Vec::new();
        let mut supp_hits: HashMap<i64, u64> = HashMap::new();
        let mut raises = Vec::new();
        for (k, ev) in &b.matched {
            let seq = (b.pos << 16) | (*k as u64 & 0xffff);
            let time_ms = event_time_ms(ev);
            for key in rule_keys(ev) {
                let Some(&idx) = self.rules.by_key.get(key) else {
                    continue; // a rule removed by a reload since the match
                };
                self.c.matches.fetch_add(1, Relaxed);
                let meta = &self.rules.meta[idx.0 as usize];
                if !self.suppressions.is_empty()
                    && let Some(id) = self.suppressions.covers(&meta.key, &meta.title, ev, now)
                {
                    *supp_hits.entry(id).or_default() += 1;
                    self.c.suppressed.fetch_add(1, Relaxed);
                    continue;
                }
                raises.clear();
                self.correlator.observe(
                    &Match {
                        rule: idx,
                        time_ms,
                        event: ev,
                    },
                    &mut raises,
                );
                for r in &raises {
                    inputs.push(self.input(r, seq, Some(ev)));
                }
            }
        }
        self.write(&inputs, b.pos);
        if !supp_hits.is_empty() {
            let hits: Vec<(i64, u64)> = supp_hits.into_iter().collect();
            if let Err(e) = self.store.add_suppression_hits(&hits) {
                error!(error = %e, "cannot count suppression hits");
            }
        }
        let st = self.correlator.stats();
        self.c.groups.store(st.live_groups, Relaxed);
        self.c.evicted.store(st.evicted_groups, Relaxed);
        self.c.late.store(st.late_dropped, Relaxed);
        self.last_pos = b.pos;
    }

    fn write(&mut self, inputs: &[AlertInput], pos: u64) {
        if inputs.is_empty() {
            return;
        }
        loop {
            match self.store.apply(inputs, &self.cfg.dests) {
                Ok(created) => {
                    let n_new = created.len() as u64;
                    self.c.alerts_created.fetch_add(n_new, Relaxed);
                    self.c.alerts_updated.fetch_add(
                        inputs.len() as u64 - n_new.min(inputs.len() as u64),
                        Relaxed,
                    );
                    for id in created {
                        (self.on_created)(id);
                    }
                    return;
                }
                Err(e) => {
                    // the disk is full or the database locked for long: retry; the queue
                    // fills and the WAL writer waits, nothing is acknowledged past it
                    self.c.store_errors.fetch_add(1, Relaxed);
                    error!(error = %e, pos, "cannot write alerts; retrying in 1 s");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
    }

    fn check_collectors(&mut self) {
        let Some(h) = &self.cfg.collectors else {
            return;
        };
        let inputs = h.check(chrono::Utc::now().timestamp_millis());
        for i in &inputs {
            warn!(alert = %i.title, "collector health");
        }
        let pos = self.last_pos;
        self.write(&inputs, pos);
    }

    fn check_silent(&mut self) {
        let Some(s) = &mut self.silent else { return };
        let now = chrono::Utc::now().timestamp_millis();
        let found = s.check(now);
        self.c
            .silent_sources
            .store(s.silent_now(now).len() as u64, Relaxed);
        if found.is_empty() {
            return;
        }
        let inputs: Vec<AlertInput> = found
            .iter()
            .map(|q| AlertInput {
                rule: SILENT_RULE.into(),
                title: format!("Source stopped sending: {}", q.source),
                level: "medium".into(),
                kind: "silent_source".into(),
                tags: Vec::new(),
                description: Some(format!(
                    "{} sent {} events, one every {:.1} s on average, then nothing for more than {:.0} s",
                    q.source,
                    q.events_before,
                    q.mean_gap_ms as f64 / 1000.0,
                    q.threshold_ms as f64 / 1000.0
                )),
                group: vec![("source".into(), q.source.clone())],
                window_start_ms: q.last_seen_ms,
                time_ms: q.last_seen_ms,
                new: true,
                count: 1,
                value: Some(q.threshold_ms as f64 / 1000.0),
                seq: 0,
                sample: None,
            })
            .collect();
        for q in &found {
            warn!(source = %q.source, "source went silent");
        }
        let pos = self.last_pos;
        self.write(&inputs, pos);
    }

    fn save_state(&mut self) {
        if self.last_pos == self.saved_pos {
            return;
        }
        match self
            .store
            .save_state(self.last_pos, &self.correlator.snapshot())
        {
            Ok(()) => {
                self.saved_pos = self.last_pos;
                self.c.state_pos.store(self.last_pos, Relaxed);
            }
            Err(e) => error!(error = %e, "cannot save the correlation state"),
        }
    }
}
