//! The engine's pipeline: listeners → bounded queue → WAL (group commit, fsync) → indexer.
//!
//! ```text
//! listeners ──Vec<Event>──▶ [queue: EVENT_QUEUE_CHUNKS] ──▶ WAL thread ──Batch──▶
//!     [queue: INDEX_QUEUE_BATCHES] ──▶ index thread (tantivy, commit every interval)
//! ```
//!
//! Architecture invariant: an event counts as durable only after the WAL record holding it
//! was fsynced; the index commits carry the WAL position they are complete through, and the
//! WAL is truncated only below the oldest position every day index has committed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use canh_core::{Batch, BatchId, Event};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::alerts::stage::{StageBatch, StageCounters};
use crate::index::{Added, DayIndexes};
use crate::wal::{self, Wal};

/// Chunks of events (one chunk = what one read produced) the WAL queue holds; when it is
/// full, TCP readers wait and UDP readers count drops.
pub const EVENT_QUEUE_CHUNKS: usize = 4096;
/// Batches written to the WAL but not yet indexed that may wait in memory; when full, the
/// WAL writer waits (and so, through the queue above, the listeners).
pub const INDEX_QUEUE_BATCHES: usize = 64;
/// Most events in one WAL batch (one fsync).
pub const MAX_BATCH_EVENTS: usize = 16_384;
/// Most raw bytes in one WAL batch.
pub const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;
/// How often retention runs while the engine is up.
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);
/// Wait before retrying an event the index could not take.
pub const INDEX_RETRY: Duration = Duration::from_secs(1);
/// Producer name of batches made by this engine's own listeners.
pub const LOCAL_PRODUCER: &str = "local";
/// Collector batches waiting for the WAL writer (each is up to a WAL batch of events).
pub const REMOTE_QUEUE_BATCHES: usize = 64;
/// Distinct collectors (producers) remembered for de-duplication; a new one past this is
/// refused rather than forgetting another's position.
pub const MAX_PRODUCERS: usize = 10_000;
/// Epochs remembered per collector (one per collector run): a re-delivery from a run older
/// than the last 16 would be taken as new — that spool would have had to sit unshipped
/// through 16 restarts.
pub const MAX_EPOCHS_PER_COLLECTOR: usize = 16;

/// A collector's batch: appended to the WAL as its own record (keeping its id) unless the
/// producer's sequence shows it is already there; `done` answers after the fsync with
/// `Ok(true)` (appended) or `Ok(false)` (a re-delivery, already durable).
pub struct RemoteBatch {
    pub batch: Batch,
    pub done: tokio::sync::oneshot::Sender<Result<bool, String>>,
}

/// The highest durable sequence per producer, kept in `DATA/ship-producers.json` and
/// rebuilt from the WAL on replay (a record is never truncated before the file records it).
#[derive(Debug, Default)]
pub struct Producers {
    path: PathBuf,
    seqs: std::collections::BTreeMap<String, u64>,
}

impl Producers {
    fn load(data: &Path) -> Producers {
        let path = data.join("ship-producers.json");
        let seqs = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Producers { path, seqs }
    }

    fn seen(&mut self, producer: &str, seq: u64) {
        if !self.seqs.contains_key(producer) {
            // a collector starts a new epoch every run: keep its latest ones only
            let name = producer.split('/').next().unwrap_or(producer);
            let prefix = format!("{name}/");
            let mine: Vec<String> = self
                .seqs
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .map(|(k, _)| k.clone())
                .collect();
            if mine.len() >= MAX_EPOCHS_PER_COLLECTOR {
                // epochs are clock-based hex of one width: the smallest is the oldest
                if let Some(oldest) = mine.iter().min() {
                    self.seqs.remove(oldest);
                }
            }
        }
        let e = self.seqs.entry(producer.to_owned()).or_default();
        *e = (*e).max(seq);
    }

    fn is_durable(&self, producer: &str, seq: u64) -> bool {
        self.seqs.get(producer).is_some_and(|s| seq <= *s)
    }

    fn save(&self) -> std::io::Result<()> {
        let tmp = self.path.with_extension("json.tmp");
        {
            let mut f = std::fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut f, &serde_json::to_vec(&self.seqs)?)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

/// Counters of the pipeline, shared with status and metrics.
#[derive(Debug, Default)]
pub struct PipelineCounters {
    pub wal_batches: AtomicU64,
    pub wal_events: AtomicU64,
    pub wal_bytes: AtomicU64,
    /// Highest WAL position fsynced.
    pub wal_durable_pos: AtomicU64,
    pub wal_fsync_micros_total: AtomicU64,
    pub wal_segments: AtomicU64,
    pub wal_disk_bytes: AtomicU64,
    pub indexed_events: AtomicU64,
    pub index_commits: AtomicU64,
    /// Highest WAL position every open day index has committed through.
    pub index_committed_pos: AtomicU64,
    pub replayed_events: AtomicU64,
    /// Collector batches appended / recognised as re-deliveries.
    pub remote_batches: AtomicU64,
    pub remote_duplicates: AtomicU64,
    /// Events skipped on replay because their day index already had them.
    pub replay_skipped: AtomicU64,
    pub index_errors: AtomicU64,
    /// Event chunks waiting for the WAL writer.
    pub queue_depth: AtomicU64,
}

/// A copy of the counters for status output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineSnapshot {
    pub wal_batches: u64,
    pub wal_events_durable: u64,
    pub wal_bytes: u64,
    pub wal_durable_pos: u64,
    pub wal_segments: u64,
    pub wal_disk_bytes: u64,
    pub indexed_events: u64,
    pub index_commits: u64,
    pub index_committed_pos: u64,
    pub replayed_events: u64,
    pub replay_skipped: u64,
    #[serde(default)]
    pub remote_batches: u64,
    #[serde(default)]
    pub remote_duplicates: u64,
    pub index_errors: u64,
    pub queue_depth: u64,
    pub queue_capacity: u64,
}

impl PipelineCounters {
    pub fn snapshot(&self) -> PipelineSnapshot {
        PipelineSnapshot {
            wal_batches: self.wal_batches.load(Relaxed),
            wal_events_durable: self.wal_events.load(Relaxed),
            wal_bytes: self.wal_bytes.load(Relaxed),
            wal_durable_pos: self.wal_durable_pos.load(Relaxed),
            wal_segments: self.wal_segments.load(Relaxed),
            wal_disk_bytes: self.wal_disk_bytes.load(Relaxed),
            indexed_events: self.indexed_events.load(Relaxed),
            index_commits: self.index_commits.load(Relaxed),
            index_committed_pos: self.index_committed_pos.load(Relaxed),
            replayed_events: self.replayed_events.load(Relaxed),
            remote_batches: self.remote_batches.load(Relaxed),
            remote_duplicates: self.remote_duplicates.load(Relaxed),
            replay_skipped: self.replay_skipped.load(Relaxed),
            index_errors: self.index_errors.load(Relaxed),
            queue_depth: self.queue_depth.load(Relaxed),
            queue_capacity: EVENT_QUEUE_CHUNKS as u64,
        }
    }
}

#[derive(Clone)]
pub struct PipelineConfig {
    pub data_dir: PathBuf,
    pub commit_interval: Duration,
    pub index_threads: usize,
    pub retention_days: u32,
    /// The alert stage: fed the matches of every durable record after its position.
    pub alerts: Option<AlertFeed>,
}

/// Where the WAL writer sends matches, and what the alert stage has saved.
#[derive(Clone)]
pub struct AlertFeed {
    pub tx: SyncSender<StageBatch>,
    /// Records after this position are fed on replay.
    pub from: u64,
    pub counters: Arc<StageCounters>,
}

impl AlertFeed {
    /// The WAL may be truncated through this position only.
    fn keep_from(&self) -> u64 {
        self.counters.state_pos.load(Relaxed)
    }

    fn send(&self, pos: u64, events: &[Event]) -> bool {
        let b = StageBatch::of(pos, events);
        self.counters.queue_depth.fetch_add(1, Relaxed);
        let ok = self.tx.send(b).is_ok();
        if !ok {
            self.counters.queue_depth.fetch_sub(1, Relaxed);
        }
        ok
    }
}

/// A running pipeline. Send events through [`Pipeline::sender`]; [`Pipeline::shutdown`]
/// drains, fsyncs and commits.
pub struct Pipeline {
    tx: Option<mpsc::Sender<Vec<Event>>>,
    remote_tx: Option<mpsc::Sender<RemoteBatch>>,
    wal_thread: Option<JoinHandle<()>>,
    index_thread: Option<JoinHandle<()>>,
    pub counters: Arc<PipelineCounters>,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Wal(#[from] wal::WalError),
    #[error(transparent)]
    Index(#[from] crate::index::IndexError),
}

pub fn wal_dir(data: &Path) -> PathBuf {
    data.join("wal")
}

pub fn index_dir(data: &Path) -> PathBuf {
    data.join("index")
}

impl Pipeline {
    /// Opens the WAL, replays what the index does not have yet, and starts the threads.
    pub fn start(cfg: PipelineConfig) -> Result<Pipeline, PipelineError> {
        let counters = Arc::new(PipelineCounters::default());
        let wal_path = wal_dir(&cfg.data_dir);
        let mut indexes = DayIndexes::new(&index_dir(&cfg.data_dir), cfg.index_threads);
        let today = chrono::Utc::now().date_naive();
        let removed = indexes.apply_retention(today, cfg.retention_days)?;
        if !removed.is_empty() {
            info!(days = ?removed, "retention removed day indexes");
        }

        // Replay: every WAL record goes through the indexer's exactly-once check.
        let mut replay_err = None;
        let mut undecodable = false;
        let mut last_pos = 0;
        let started = Instant::now();
        let mut committed = crate::index::max_committed_position(&index_dir(&cfg.data_dir));
        if let Some(a) = &cfg.alerts {
            committed = committed.min(a.from);
        }
        let alerts = cfg.alerts.clone();
        let mut producers = Producers::load(&cfg.data_dir);
        let (mut wal, recovery) = Wal::open_after(&wal_path, committed, |rec| {
            if replay_err.is_some() {
                return;
            }
            match wal::decode(&wal_path, &rec) {
                Ok(batch) => {
                    if batch.id.producer != LOCAL_PRODUCER {
                        producers.seen(&batch.id.producer, batch.id.seq);
                    }
                    if let Some(a) = &alerts
                        && rec.pos > a.from
                    {
                        a.send(rec.pos, &batch.events);
                    }
                    for ev in batch.events {
                        match indexes.add(ev, rec.pos) {
                            Ok(Added::Indexed) => {
                                counters.replayed_events.fetch_add(1, Relaxed);
                            }
                            Ok(Added::AlreadyCommitted | Added::Expired) => {
                                counters.replay_skipped.fetch_add(1, Relaxed);
                            }
                            Err(e) => replay_err = Some(e),
                        }
                    }
                    last_pos = rec.pos;
                }
                Err(e) => {
                    // a record that checksums but does not decode: written by another
                    // version; report it, go on, and keep the file (see below)
                    error!(error = %e, "skipping undecodable WAL record");
                    undecodable = true;
                    last_pos = rec.pos;
                }
            }
        })?;
        if let Some(e) = replay_err {
            return Err(e.into());
        }
        if recovery.torn_bytes > 0 {
            warn!(
                bytes = recovery.torn_bytes,
                "cut a torn write off the end of the WAL (never acknowledged)"
            );
        }
        for p in &recovery.corrupt_segments {
            error!(segment = %p.display(), "corrupt record in WAL segment; the rest of it was skipped");
        }
        if last_pos > 0 {
            indexes.commit(last_pos)?;
            if undecodable || !recovery.corrupt_segments.is_empty() {
                // keep the evidence: copy the log aside before truncation removes it
                match quarantine(&wal_path, &cfg.data_dir) {
                    Ok(dir) => {
                        warn!(folder = %dir.display(), "WAL with unreadable records copied aside for inspection")
                    }
                    Err(e) => error!(error = %e, "cannot copy the WAL aside; it is kept whole"),
                }
            }
            match &cfg.alerts {
                // the alert stage saves its state later: keep what it has not covered
                Some(a) => wal.truncate_through(last_pos.min(a.from))?,
                None => wal.truncate_through(last_pos)?,
            };
            let r = counters.replayed_events.load(Relaxed);
            let s = counters.replay_skipped.load(Relaxed);
            info!(
                records = recovery.records,
                replayed = r,
                already_indexed = s,
                ms = started.elapsed().as_millis() as u64,
                "WAL replayed"
            );
        }
        let durable = wal.next_pos() - 1;
        counters.wal_durable_pos.store(durable, Relaxed);
        counters.index_committed_pos.store(durable, Relaxed);
        counters
            .wal_segments
            .store(wal.segment_count() as u64, Relaxed);
        counters.wal_disk_bytes.store(wal.disk_bytes(), Relaxed);

        if let Err(e) = producers.save() {
            warn!(error = %e, "cannot write ship-producers.json");
        }
        let (tx, rx) = mpsc::channel::<Vec<Event>>(EVENT_QUEUE_CHUNKS);
        let (remote_tx, remote_rx) = mpsc::channel::<RemoteBatch>(REMOTE_QUEUE_BATCHES);
        let (itx, irx) = sync_channel::<(u64, Batch)>(INDEX_QUEUE_BATCHES);
        let c = counters.clone();
        let alerts = cfg.alerts.clone();
        let wal_thread = std::thread::Builder::new()
            .name("canh-wal".into())
            .spawn(move || wal_loop(wal, rx, remote_rx, producers, itx, alerts, c))
            .expect("spawn WAL thread");
        let c = counters.clone();
        let interval = cfg.commit_interval;
        let retention = cfg.retention_days;
        let index_thread = std::thread::Builder::new()
            .name("canh-index".into())
            .spawn(move || index_loop(indexes, irx, interval, retention, c))
            .expect("spawn index thread");
        Ok(Pipeline {
            tx: Some(tx),
            remote_tx: Some(remote_tx),
            wal_thread: Some(wal_thread),
            index_thread: Some(index_thread),
            counters,
        })
    }

    pub fn sender(&self) -> mpsc::Sender<Vec<Event>> {
        self.tx.clone().expect("pipeline running")
    }

    /// Where collector batches go (the ship listener).
    pub fn remote_sender(&self) -> mpsc::Sender<RemoteBatch> {
        self.remote_tx.clone().expect("pipeline running")
    }

    /// Waits until every event sent so far is fsynced in the WAL and committed in the index.
    /// Every other sender must have been dropped first.
    pub fn shutdown(mut self) {
        drop(self.tx.take());
        drop(self.remote_tx.take());
        if let Some(t) = self.wal_thread.take() {
            let _ = t.join();
        }
        if let Some(t) = self.index_thread.take() {
            let _ = t.join();
        }
    }
}

/// Copies every WAL segment to `DATA/wal-quarantine/<time>/`.
fn quarantine(wal: &Path, data: &Path) -> std::io::Result<PathBuf> {
    let dir = data
        .join("wal-quarantine")
        .join(chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string());
    std::fs::create_dir_all(&dir)?;
    for e in std::fs::read_dir(wal)? {
        let p = e?.path();
        if let Some(name) = p.file_name() {
            std::fs::copy(&p, dir.join(name))?;
        }
    }
    Ok(dir)
}

/// A cheap upper estimate of an event's encoded size: its raw bytes, its message (often a
/// copy of them) and its fields.
fn approx_size(e: &Event) -> usize {
    2 * e.raw.len() + 64 * e.fields.len() + 128
}

/// What the WAL writer takes next.
enum Input {
    Events(Vec<Event>),
    Remote(RemoteBatch),
}

/// Waits for local events or a collector's batch (a tiny runtime lets one thread wait on
/// both queues); `None` once the local queue is closed (shutdown).
fn next_input(
    rt: &tokio::runtime::Runtime,
    rx: &mut mpsc::Receiver<Vec<Event>>,
    rrx: &mut mpsc::Receiver<RemoteBatch>,
) -> Option<Input> {
    rt.block_on(async {
        // unbiased: collectors draining a backlog must not starve the engine's own listeners
        tokio::select! {
            Some(r) = rrx.recv() => Some(Input::Remote(r)),
            v = rx.recv() => v.map(Input::Events),
        }
    })
}

/// Appends a collector's batch as its own record, unless it is a re-delivery.
fn append_remote(
    wal: &mut Wal,
    r: RemoteBatch,
    producers: &mut Producers,
    alerts: &Option<AlertFeed>,
    itx: &SyncSender<(u64, Batch)>,
    c: &PipelineCounters,
) -> bool {
    let RemoteBatch { batch, done } = r;
    let (producer, seq) = (batch.id.producer.clone(), batch.id.seq);
    if producers.is_durable(&producer, seq) {
        c.remote_duplicates.fetch_add(1, Relaxed);
        let _ = done.send(Ok(false));
        return true;
    }
    if !producers.seqs.contains_key(&producer) && producers.seqs.len() >= MAX_PRODUCERS {
        let _ = done.send(Err(format!(
            "more than {MAX_PRODUCERS} collectors; refusing new producer {producer}"
        )));
        return true;
    }
    let n = batch.events.len() as u64;
    let pos = wal.append_until_durable(&batch, "WAL");
    producers.seen(&producer, seq);
    // recorded before the acknowledgement and before the index can commit (and the WAL be
    // truncated past) this record; a crash in between is mended from the WAL on replay
    if let Err(e) = producers.save() {
        error!(error = %e, "cannot record the collector's position; the WAL keeps it");
    }
    c.remote_batches.fetch_add(1, Relaxed);
    c.wal_batches.fetch_add(1, Relaxed);
    c.wal_events.fetch_add(n, Relaxed);
    c.wal_durable_pos.store(pos, Relaxed);
    let _ = done.send(Ok(true));
    if let Some(a) = alerts
        && !a.send(pos, &batch.events)
    {
        error!("alert stage stopped; matches stay in the WAL for the next start");
        return false;
    }
    if itx.send((pos, batch)).is_err() {
        error!("index thread stopped; events stay in the WAL for the next start");
        return false;
    }
    true
}

fn wal_loop(
    mut wal: Wal,
    mut rx: mpsc::Receiver<Vec<Event>>,
    mut rrx: mpsc::Receiver<RemoteBatch>,
    mut producers: Producers,
    itx: SyncSender<(u64, Batch)>,
    alerts: Option<AlertFeed>,
    c: Arc<PipelineCounters>,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime for the WAL writer");
    let mut truncated_through = 0;
    // a chunk that did not fit the previous batch
    let mut carry: Option<Vec<Event>> = None;
    loop {
        let first = match carry.take() {
            Some(c) => c,
            None => match next_input(&rt, &mut rx, &mut rrx) {
                None => break,
                Some(Input::Events(v)) => v,
                Some(Input::Remote(r)) => {
                    if !append_remote(&mut wal, r, &mut producers, &alerts, &itx, &c) {
                        break;
                    }
                    truncate(&mut wal, &mut truncated_through, &alerts, &c);
                    continue;
                }
            },
        };
        // group commit: everything waiting now goes into one record and one fsync, up to
        // MAX_BATCH_EVENTS events and about MAX_BATCH_BYTES encoded
        let mut events = first;
        if events.len() > MAX_BATCH_EVENTS {
            carry = Some(events.split_off(MAX_BATCH_EVENTS));
        }
        let mut bytes: usize = events.iter().map(approx_size).sum();
        while carry.is_none() && events.len() < MAX_BATCH_EVENTS && bytes < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(more) => {
                    if events.len() + more.len() > MAX_BATCH_EVENTS {
                        carry = Some(more);
                        break;
                    }
                    bytes += more.iter().map(approx_size).sum::<usize>();
                    events.extend(more);
                }
                Err(_) => break,
            }
        }
        c.queue_depth.store(rx.len() as u64, Relaxed);
        let n = events.len() as u64;
        let batch = Batch {
            id: BatchId {
                producer: LOCAL_PRODUCER.into(),
                seq: wal.next_pos(),
            },
            events,
        };
        let t = Instant::now();
        let pos = wal.append_until_durable(&batch, "WAL");
        c.wal_fsync_micros_total
            .fetch_add(t.elapsed().as_micros() as u64, Relaxed);
        c.wal_batches.fetch_add(1, Relaxed);
        c.wal_events.fetch_add(n, Relaxed);
        c.wal_bytes.fetch_add(bytes as u64, Relaxed);
        c.wal_durable_pos.store(pos, Relaxed);
        if let Some(a) = &alerts
            && !a.send(pos, &batch.events)
        {
            error!("alert stage stopped; matches stay in the WAL for the next start");
            break;
        }
        if itx.send((pos, batch)).is_err() {
            error!("index thread stopped; events stay in the WAL for the next start");
            break;
        }
        truncate(&mut wal, &mut truncated_through, &alerts, &c);
    }
}

/// Deletes WAL segments the index and the alert stage no longer need.
fn truncate(wal: &mut Wal, done: &mut u64, alerts: &Option<AlertFeed>, c: &PipelineCounters) {
    let mut committed = c.index_committed_pos.load(Relaxed);
    if let Some(a) = alerts {
        committed = committed.min(a.keep_from());
    }
    if committed > *done {
        match wal.truncate_through(committed) {
            Ok(_) => *done = committed,
            Err(e) => warn!(error = %e, "WAL truncation failed"),
        }
    }
    c.wal_segments.store(wal.segment_count() as u64, Relaxed);
    c.wal_disk_bytes.store(wal.disk_bytes(), Relaxed);
}

fn index_loop(
    mut indexes: DayIndexes,
    rx: Receiver<(u64, Batch)>,
    interval: Duration,
    retention_days: u32,
    c: Arc<PipelineCounters>,
) {
    let mut last_pos = c.index_committed_pos.load(Relaxed);
    let mut dirty = false;
    let mut last_commit = Instant::now();
    let mut last_idle_check = Instant::now();
    let mut last_retention = Instant::now();
    loop {
        let wait = interval.saturating_sub(last_commit.elapsed());
        match rx.recv_timeout(wait) {
            Ok((pos, batch)) => {
                for ev in batch.events {
                    // The day's index may fail to open (no file descriptors, a full disk, a
                    // damaged day): retry until it opens. The committed position must never
                    // pass an event the index does not have, or the WAL would be truncated
                    // past it. Meanwhile the queues fill and senders are slowed down.
                    let day = ev.received.date_naive();
                    if indexes.is_expired(day) {
                        continue;
                    }
                    while let Err(e) = indexes.open_day(day) {
                        c.index_errors.fetch_add(1, Relaxed);
                        error!(error = %e, "cannot open the day index; retrying in 1 s");
                        std::thread::sleep(INDEX_RETRY);
                    }
                    match indexes.add(ev, pos) {
                        Ok(Added::Indexed) => {
                            c.indexed_events.fetch_add(1, Relaxed);
                        }
                        Ok(Added::AlreadyCommitted | Added::Expired) => {}
                        Err(e) => {
                            // tantivy's writer itself failed: stop without committing; the
                            // WAL keeps every event since the last commit for the next start
                            c.index_errors.fetch_add(1, Relaxed);
                            error!(error = %e, "index writer failed; indexing stops, the WAL keeps the events for the next start");
                            return;
                        }
                    }
                }
                last_pos = pos;
                dirty = true;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if last_commit.elapsed() >= interval {
            if dirty {
                dirty = !commit(&mut indexes, last_pos, &c);
            }
            last_commit = Instant::now();
        }
        if last_retention.elapsed() > RETENTION_INTERVAL {
            // whole days past retention go, while the engine runs
            match indexes.apply_retention(chrono::Utc::now().date_naive(), retention_days) {
                Ok(removed) if !removed.is_empty() => {
                    info!(days = ?removed, "retention removed day indexes")
                }
                Ok(_) => {}
                Err(e) => warn!(error = %e, "retention failed; will retry"),
            }
            last_retention = Instant::now();
        }
        if last_idle_check.elapsed() > Duration::from_secs(60) {
            let today = chrono::Utc::now().date_naive();
            if let Err(e) = indexes.close_idle(today, Duration::from_secs(600)) {
                warn!(error = %e, "closing idle day index failed");
            }
            last_idle_check = Instant::now();
        }
    }
    if let Err(e) = indexes.close(last_pos) {
        error!(error = %e, "final index commit failed; the WAL will be replayed at next start");
        return;
    }
    c.index_committed_pos.store(last_pos, Relaxed);
}

/// Commits; true on success.
fn commit(indexes: &mut DayIndexes, pos: u64, c: &PipelineCounters) -> bool {
    match indexes.commit(pos) {
        Ok(_) => {
            c.index_commits.fetch_add(1, Relaxed);
            c.index_committed_pos.store(pos, Relaxed);
            true
        }
        Err(e) => {
            c.index_errors.fetch_add(1, Relaxed);
            error!(error = %e, "index commit failed; will retry");
            false
        }
    }
}
