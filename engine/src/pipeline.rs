//! The engine's pipeline: listeners → bounded queue → WAL (group commit, fsync) → indexer.
//!
//! ```text
//! syslog listeners ──Vec<Event>────▶ [queue: EVENT_QUEUE_CHUNKS] ────▶ WAL thread ──▶
//! NetFlow listeners ─Vec<Datagram>─▶ [queue: DATAGRAM_QUEUE_CHUNKS] ─┘   (fsync)
//!     ──(pos, record)──▶ [queue: INDEX_QUEUE_BATCHES, or read back from the WAL] ──▶
//!     index thread: decode datagrams, alert stage, tantivy (commit every interval)
//! ```
//!
//! Architecture invariant: an event counts as durable only after the WAL record holding it
//! was fsynced; the index commits carry the WAL position they are complete through, and the
//! WAL is truncated only below the oldest position every day index has committed.
//!
//! NetFlow datagrams are written to the WAL as received and decoded by the index thread, in
//! WAL order: the listener only reads and copies, so a burst is kept at the rate the disk
//! takes it. When the index thread falls behind, the WAL writer does not wait for it (up to
//! [`MAX_WAL_BACKLOG_BYTES`] on disk): records the in-memory queue cannot take are read back
//! from the WAL by the index thread (counted as `index_spilled`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use canh_collectors::listen::Enrich;
use canh_collectors::netflow::Decoder;
use canh_collectors::stats::NetflowStats;
use canh_core::{Batch, BatchId, Datagram, Event};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::alerts::stage::{StageBatch, StageCounters};
use crate::index::{Added, DayIndexes};
use crate::wal::{self, Wal};

/// Chunks of events (one chunk = what one read produced) the WAL queue holds; when it is
/// full, TCP readers wait and UDP readers count drops.
pub const EVENT_QUEUE_CHUNKS: usize = 4096;
/// Chunks of NetFlow datagrams (one chunk = what one wake-up of a listener read) the WAL queue
/// holds; when it is full, the listener counts drops.
pub const DATAGRAM_QUEUE_CHUNKS: usize = 1024;
/// Records written to the WAL but not yet indexed that may wait in memory; past that, the
/// index thread reads them back from the WAL.
pub const INDEX_QUEUE_BATCHES: usize = 64;
/// WAL on disk past which the WAL writer waits for the index thread instead of leaving
/// records for it to read back (and so, through the queues above, the listeners wait or
/// count drops).
pub const MAX_WAL_BACKLOG_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// Most bytes the index thread reads back from the WAL at a time.
pub const READ_BACK_BYTES: usize = 32 * 1024 * 1024;
/// How often the index thread looks for records the queue did not carry when it is idle.
pub const READ_BACK_POLL: Duration = Duration::from_millis(50);
/// Attempts (one a second) to read a WAL record back before it is skipped, logged and
/// counted as an index error (it stays for the replay at the next start while its segment
/// is kept).
pub const READ_BACK_ATTEMPTS: u32 = 10;
/// Distinct NetFlow listeners the decoding stage keeps template state for (the listeners of
/// this engine and those named in its WAL).
pub const MAX_FLOW_LISTENERS: usize = 256;
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
    /// NetFlow datagrams made durable (decoded into events behind the WAL).
    pub wal_datagrams: AtomicU64,
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
    /// Highest WAL position the index thread has taken in (indexed, not yet committed).
    pub index_taken_pos: AtomicU64,
    /// WAL records left for the index thread to read back because its queue was full.
    pub index_spilled: AtomicU64,
    /// How far the WAL writer may delete segments: the index's committed position, lowered
    /// to what the alert stage has saved (set by the index thread).
    pub truncate_through: AtomicU64,
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
    #[serde(default)]
    pub wal_datagrams: u64,
    pub wal_bytes: u64,
    pub wal_durable_pos: u64,
    pub wal_segments: u64,
    pub wal_disk_bytes: u64,
    pub indexed_events: u64,
    pub index_commits: u64,
    pub index_committed_pos: u64,
    /// WAL records durable but not yet taken in by the index thread.
    #[serde(default)]
    pub index_lag_records: u64,
    #[serde(default)]
    pub index_spilled: u64,
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
            wal_datagrams: self.wal_datagrams.load(Relaxed),
            wal_bytes: self.wal_bytes.load(Relaxed),
            wal_durable_pos: self.wal_durable_pos.load(Relaxed),
            wal_segments: self.wal_segments.load(Relaxed),
            wal_disk_bytes: self.wal_disk_bytes.load(Relaxed),
            indexed_events: self.indexed_events.load(Relaxed),
            index_commits: self.index_commits.load(Relaxed),
            index_committed_pos: self.index_committed_pos.load(Relaxed),
            index_lag_records: self
                .wal_durable_pos
                .load(Relaxed)
                .saturating_sub(self.index_taken_pos.load(Relaxed)),
            index_spilled: self.index_spilled.load(Relaxed),
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
    /// How NetFlow datagrams in the WAL become events.
    pub flows: FlowDecoding,
    /// Records that may wait in memory for the index thread ([`INDEX_QUEUE_BATCHES`]; tests
    /// set 0 so that every record is read back from the WAL).
    pub index_queue: usize,
}

/// What the index thread needs to turn NetFlow datagrams into events.
#[derive(Clone, Default)]
pub struct FlowDecoding {
    /// Rules and IOC lists, run on the decoded events (syslog events get them at the
    /// listener).
    pub enrich: Option<Enrich>,
    /// Per-listener counters the decoder adds records, template misses, errors and gaps to.
    pub stats: Vec<Arc<NetflowStats>>,
}

/// The NetFlow decoders behind the WAL: one per listener, fed in WAL order, so template
/// state is built exactly as the datagrams arrived.
struct Flows {
    cfg: FlowDecoding,
    /// Per listener: its decoder and its counters (looked up once, not per datagram).
    decoders: std::collections::HashMap<String, (Decoder, Option<Arc<NetflowStats>>)>,
    /// Counted into `cfg.stats` (off during replay: those records were counted when they came).
    count: bool,
    last_expire: Instant,
    /// The latest receive time decoded: waiting data and templates expire by the stream's
    /// time, so a lagging index or a replay after downtime expires nothing early.
    latest: Option<chrono::DateTime<chrono::Utc>>,
}

impl Flows {
    fn new(cfg: FlowDecoding) -> Flows {
        Flows {
            cfg,
            decoders: Default::default(),
            count: false,
            last_expire: Instant::now(),
            latest: None,
        }
    }

    /// The events of `datagrams`, plus data whose template never came once
    /// [`NETFLOW_EXPIRE_INTERVAL`](canh_collectors::listen::NETFLOW_EXPIRE_INTERVAL) has
    /// passed (kept raw), with rules and IOC lists run on them.
    fn events(&mut self, datagrams: &[Datagram]) -> Vec<Event> {
        let mut out = Vec::new();
        for d in datagrams {
            self.latest = self.latest.max(Some(d.received));
            if !self.decoders.contains_key(&d.listener) {
                let stats = self.cfg.stats.iter().find(|s| s.url == d.listener).cloned();
                if self.decoders.len() >= MAX_FLOW_LISTENERS {
                    // never reached by one engine's own WAL; keep the record raw, counted
                    if let Some(s) = stats.filter(|_| self.count) {
                        s.record(
                            d.peer.ip(),
                            &canh_collectors::stats::ExporterStats {
                                decode_errors: 1,
                                ..Default::default()
                            },
                        );
                    }
                    out.push(raw_datagram_event(d));
                    continue;
                }
                self.decoders
                    .insert(d.listener.clone(), (Decoder::default(), stats));
            }
            let (dec, stats) = self.decoders.get_mut(&d.listener).expect("inserted above");
            canh_collectors::listen::decode_netflow(
                dec,
                &d.data,
                d.peer,
                d.received,
                &d.listener,
                stats.as_deref().filter(|_| self.count),
                &mut out,
            );
        }
        if self.last_expire.elapsed() >= canh_collectors::listen::NETFLOW_EXPIRE_INTERVAL
            && let Some(now) = self.latest
        {
            for (dec, _) in self.decoders.values_mut() {
                out.extend(dec.expire(now).events);
            }
            self.last_expire = Instant::now();
        }
        if let Some(enrich) = &self.cfg.enrich
            && !out.is_empty()
        {
            enrich(&mut out);
        }
        out
    }
}

/// A datagram kept as one unparsed event.
fn raw_datagram_event(d: &Datagram) -> Event {
    let mut ev = Event::new(
        canh_core::Dataset::Netflow,
        canh_core::Origin::new(d.listener.clone(), Some(d.peer)),
        d.received,
        d.data.clone(),
    );
    ev.warnings.push(canh_core::ParseWarning::Unparsed {
        reason: format!("more than {MAX_FLOW_LISTENERS} NetFlow listeners in the WAL; not decoded"),
    });
    ev
}

/// A WAL record after its fsync, on its way to the index thread.
enum Durable {
    Events(Batch),
    Datagrams(Vec<Datagram>),
}

impl Durable {
    fn read(path: &Path, rec: &wal::Record) -> Result<Durable, wal::WalError> {
        Ok(match rec.kind {
            wal::RecordKind::Events => Durable::Events(wal::decode(path, rec)?),
            wal::RecordKind::Datagrams => Durable::Datagrams(wal::decode_datagrams(path, rec)?),
        })
    }
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
    datagram_tx: Option<mpsc::Sender<Vec<Datagram>>>,
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
        // datagrams are decoded again from the oldest record kept, so templates sent before
        // the committed position are known again
        let mut flows = Flows::new(cfg.flows.clone());
        let (mut wal, recovery) = Wal::open_after(&wal_path, committed, |rec| {
            if replay_err.is_some() {
                return;
            }
            match Durable::read(&wal_path, &rec) {
                Ok(durable) => {
                    let events = match durable {
                        Durable::Events(batch) => {
                            if batch.id.producer != LOCAL_PRODUCER {
                                producers.seen(&batch.id.producer, batch.id.seq);
                            }
                            batch.events
                        }
                        Durable::Datagrams(d) => flows.events(&d),
                    };
                    if let Some(a) = &alerts
                        && rec.pos > a.from
                    {
                        a.send(rec.pos, &events);
                    }
                    for ev in events {
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
        counters.index_taken_pos.store(durable, Relaxed);
        flows.count = true;
        let (tx, rx) = mpsc::channel::<Vec<Event>>(EVENT_QUEUE_CHUNKS);
        let (datagram_tx, datagram_rx) = mpsc::channel::<Vec<Datagram>>(DATAGRAM_QUEUE_CHUNKS);
        let (remote_tx, remote_rx) = mpsc::channel::<RemoteBatch>(REMOTE_QUEUE_BATCHES);
        let (itx, irx) = sync_channel::<(u64, Durable)>(cfg.index_queue);
        let c = counters.clone();
        let queues = Queues {
            events: rx,
            datagrams: datagram_rx,
            remote: remote_rx,
        };
        let wal_thread = std::thread::Builder::new()
            .name("canh-wal".into())
            .spawn(move || wal_loop(wal, queues, producers, itx, c))
            .expect("spawn WAL thread");
        let indexer = Indexer {
            indexes,
            flows,
            alerts: cfg.alerts.clone(),
            wal_dir: wal_path.clone(),
            seen: durable,
            last_pos: durable,
            dirty: false,
            c: counters.clone(),
        };
        let interval = cfg.commit_interval;
        let retention = cfg.retention_days;
        let index_thread = std::thread::Builder::new()
            .name("canh-index".into())
            .spawn(move || index_loop(indexer, irx, interval, retention))
            .expect("spawn index thread");
        Ok(Pipeline {
            tx: Some(tx),
            datagram_tx: Some(datagram_tx),
            remote_tx: Some(remote_tx),
            wal_thread: Some(wal_thread),
            index_thread: Some(index_thread),
            counters,
        })
    }

    pub fn sender(&self) -> mpsc::Sender<Vec<Event>> {
        self.tx.clone().expect("pipeline running")
    }

    /// Where NetFlow listeners put datagrams (decoded behind the WAL).
    pub fn datagram_sender(&self) -> mpsc::Sender<Vec<Datagram>> {
        self.datagram_tx.clone().expect("pipeline running")
    }

    /// Where collector batches go (the ship listener).
    pub fn remote_sender(&self) -> mpsc::Sender<RemoteBatch> {
        self.remote_tx.clone().expect("pipeline running")
    }

    /// Waits until every event sent so far is fsynced in the WAL and committed in the index.
    /// Every other sender must have been dropped first.
    pub fn shutdown(mut self) {
        drop(self.tx.take());
        drop(self.datagram_tx.take());
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
    Datagrams(Vec<Datagram>),
    Remote(RemoteBatch),
}

/// The queues into the WAL writer.
struct Queues {
    events: mpsc::Receiver<Vec<Event>>,
    datagrams: mpsc::Receiver<Vec<Datagram>>,
    remote: mpsc::Receiver<RemoteBatch>,
}

/// Waits for local events, datagrams or a collector's batch (a tiny runtime lets one thread
/// wait on all queues); `None` once the local event queue is closed (shutdown).
fn next_input(rt: &tokio::runtime::Runtime, q: &mut Queues) -> Option<Input> {
    rt.block_on(async {
        // unbiased: collectors draining a backlog must not starve the engine's own listeners
        tokio::select! {
            Some(r) = q.remote.recv() => Some(Input::Remote(r)),
            Some(d) = q.datagrams.recv() => Some(Input::Datagrams(d)),
            v = q.events.recv() => v.map(Input::Events),
        }
    })
}

/// Hands a durable record to the index thread without waiting for it: when the queue is full
/// the record is left for the index thread to read back from the WAL, unless the WAL on disk
/// has reached [`MAX_WAL_BACKLOG_BYTES`] (then it waits). False once the index thread is gone.
fn hand_off(itx: &SyncSender<(u64, Durable)>, pos: u64, d: Durable, c: &PipelineCounters) -> bool {
    match itx.try_send((pos, d)) {
        Ok(()) => true,
        Err(TrySendError::Full(item)) => {
            if c.wal_disk_bytes.load(Relaxed) < MAX_WAL_BACKLOG_BYTES {
                c.index_spilled.fetch_add(1, Relaxed);
                true
            } else {
                itx.send(item).is_ok()
            }
        }
        Err(TrySendError::Disconnected(_)) => false,
    }
}

/// Appends a collector's batch as its own record, unless it is a re-delivery.
fn append_remote(
    wal: &mut Wal,
    r: RemoteBatch,
    producers: &mut Producers,
    itx: &SyncSender<(u64, Durable)>,
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
    hand_off(itx, pos, Durable::Events(batch), c)
}

/// Group commit of datagrams: everything waiting now, up to about [`MAX_BATCH_BYTES`], in one
/// record and one fsync.
fn append_datagrams(
    wal: &mut Wal,
    first: Vec<Datagram>,
    q: &mut mpsc::Receiver<Vec<Datagram>>,
    itx: &SyncSender<(u64, Durable)>,
    c: &PipelineCounters,
) -> bool {
    let mut datagrams = first;
    let mut bytes: usize = datagrams.iter().map(|d| d.data.len() + 64).sum();
    while bytes < MAX_BATCH_BYTES {
        match q.try_recv() {
            Ok(more) => {
                bytes += more.iter().map(|d| d.data.len() + 64).sum::<usize>();
                datagrams.extend(more);
            }
            Err(_) => break,
        }
    }
    let t = Instant::now();
    let pos = wal.append_datagrams_until_durable(&datagrams, "WAL");
    c.wal_fsync_micros_total
        .fetch_add(t.elapsed().as_micros() as u64, Relaxed);
    c.wal_batches.fetch_add(1, Relaxed);
    c.wal_datagrams.fetch_add(datagrams.len() as u64, Relaxed);
    c.wal_bytes.fetch_add(bytes as u64, Relaxed);
    c.wal_durable_pos.store(pos, Relaxed);
    hand_off(itx, pos, Durable::Datagrams(datagrams), c)
}

fn wal_loop(
    mut wal: Wal,
    mut q: Queues,
    mut producers: Producers,
    itx: SyncSender<(u64, Durable)>,
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
            None => match next_input(&rt, &mut q) {
                None => break,
                Some(Input::Events(v)) => v,
                Some(Input::Datagrams(d)) => {
                    if !append_datagrams(&mut wal, d, &mut q.datagrams, &itx, &c) {
                        error!("index thread stopped; records stay in the WAL for the next start");
                        return;
                    }
                    truncate(&mut wal, &mut truncated_through, &c);
                    continue;
                }
                Some(Input::Remote(r)) => {
                    if !append_remote(&mut wal, r, &mut producers, &itx, &c) {
                        error!("index thread stopped; records stay in the WAL for the next start");
                        return;
                    }
                    truncate(&mut wal, &mut truncated_through, &c);
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
            match q.events.try_recv() {
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
        c.queue_depth.store(q.events.len() as u64, Relaxed);
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
        if !hand_off(&itx, pos, Durable::Events(batch), &c) {
            error!("index thread stopped; records stay in the WAL for the next start");
            return;
        }
        truncate(&mut wal, &mut truncated_through, &c);
    }
    // shutdown: datagrams already received become durable too
    q.datagrams.close();
    while let Ok(d) = q.datagrams.try_recv() {
        if !append_datagrams(&mut wal, d, &mut q.datagrams, &itx, &c) {
            return;
        }
    }
}

/// Deletes WAL segments the index and the alert stage no longer need.
fn truncate(wal: &mut Wal, done: &mut u64, c: &PipelineCounters) {
    // the index thread lowers this to what the alert stage has saved
    let committed = c.truncate_through.load(Relaxed);
    if committed > *done {
        match wal.truncate_through(committed) {
            Ok(_) => *done = committed,
            Err(e) => warn!(error = %e, "WAL truncation failed"),
        }
    }
    c.wal_segments.store(wal.segment_count() as u64, Relaxed);
    c.wal_disk_bytes.store(wal.disk_bytes(), Relaxed);
}

/// The index thread's state: it takes WAL records in position order — from the queue, or
/// read back from the WAL for those the queue did not carry — decodes datagrams, feeds the
/// alert stage and indexes.
struct Indexer {
    indexes: DayIndexes,
    flows: Flows,
    alerts: Option<AlertFeed>,
    wal_dir: PathBuf,
    /// Highest WAL position taken in.
    seen: u64,
    /// Position the next commit is complete through.
    last_pos: u64,
    dirty: bool,
    c: Arc<PipelineCounters>,
}

/// Why the index thread stops early.
enum Stop {
    IndexWriter,
    AlertStage,
}

impl Indexer {
    /// A record from the queue: first the records before it that the queue did not carry,
    /// then itself; nothing when it was read back already.
    fn take(&mut self, pos: u64, d: Durable) -> Result<(), Stop> {
        if pos <= self.seen {
            return Ok(());
        }
        self.read_back(pos - 1)?;
        self.process(pos, d)
    }

    /// Reads records after `seen` through `through` back from the WAL and processes them.
    /// Every position after the start is a record that was durable before it was handed on,
    /// so only `seen + 1` is taken next: a record that cannot be read is retried
    /// [`READ_BACK_ATTEMPTS`] times, then skipped as an index error — never passed silently.
    fn read_back(&mut self, through: u64) -> Result<(), Stop> {
        let mut failures = 0;
        while self.seen < through {
            let next = self.seen + 1;
            let mut progressed = false;
            match wal::read_after(&self.wal_dir, self.seen, through, READ_BACK_BYTES) {
                Ok(recs) => {
                    for rec in recs {
                        if rec.pos != self.seen + 1 {
                            break;
                        }
                        progressed = true;
                        match Durable::read(&self.wal_dir, &rec) {
                            Ok(d) => self.process(rec.pos, d)?,
                            Err(e) => {
                                // written by another version: the replay at the next start
                                // reports it and keeps the log aside
                                self.c.index_errors.fetch_add(1, Relaxed);
                                error!(error = %e, "skipping undecodable WAL record");
                                self.seen = rec.pos;
                            }
                        }
                    }
                }
                Err(e) => error!(error = %e, "cannot read the WAL back"),
            }
            if progressed {
                failures = 0;
                continue;
            }
            failures += 1;
            self.c.index_errors.fetch_add(1, Relaxed);
            if failures >= READ_BACK_ATTEMPTS {
                error!(
                    pos = next,
                    "WAL record cannot be read back; skipped (it is replayed at the next start if its segment is still kept)"
                );
                self.seen = next;
                failures = 0;
            } else {
                error!(pos = next, "WAL record not readable yet; retrying in 1 s");
                std::thread::sleep(INDEX_RETRY);
            }
        }
        Ok(())
    }

    fn process(&mut self, pos: u64, d: Durable) -> Result<(), Stop> {
        let events = match d {
            Durable::Events(b) => b.events,
            Durable::Datagrams(d) => self.flows.events(&d),
        };
        if let Some(a) = &self.alerts
            && !a.send(pos, &events)
        {
            error!(
                "alert stage stopped; indexing stops, the WAL keeps the records for the next start"
            );
            return Err(Stop::AlertStage);
        }
        let c = &self.c;
        for ev in events {
            // The day's index may fail to open (no file descriptors, a full disk, a damaged
            // day): retry until it opens. The committed position must never pass an event
            // the index does not have, or the WAL would be truncated past it. Meanwhile the
            // WAL grows up to its backlog limit and then the senders are slowed down.
            let day = ev.received.date_naive();
            if self.indexes.is_expired(day) {
                continue;
            }
            while let Err(e) = self.indexes.open_day(day) {
                c.index_errors.fetch_add(1, Relaxed);
                error!(error = %e, "cannot open the day index; retrying in 1 s");
                std::thread::sleep(INDEX_RETRY);
            }
            match self.indexes.add(ev, pos) {
                Ok(Added::Indexed) => {
                    c.indexed_events.fetch_add(1, Relaxed);
                }
                Ok(Added::AlreadyCommitted | Added::Expired) => {}
                Err(e) => {
                    // tantivy's writer itself failed: stop without committing; the WAL keeps
                    // every event since the last commit for the next start
                    c.index_errors.fetch_add(1, Relaxed);
                    error!(error = %e, "index writer failed; indexing stops, the WAL keeps the events for the next start");
                    return Err(Stop::IndexWriter);
                }
            }
        }
        self.seen = pos;
        self.last_pos = pos;
        self.dirty = true;
        c.index_taken_pos.store(pos, Relaxed);
        Ok(())
    }

    /// Commits; true on success.
    fn commit(&mut self) -> bool {
        let c = &self.c;
        match self.indexes.commit(self.last_pos) {
            Ok(_) => {
                c.index_commits.fetch_add(1, Relaxed);
                c.index_committed_pos.store(self.last_pos, Relaxed);
                self.publish_truncation();
                self.dirty = false;
                true
            }
            Err(e) => {
                c.index_errors.fetch_add(1, Relaxed);
                error!(error = %e, "index commit failed; will retry");
                false
            }
        }
    }

    /// Tells the WAL writer how far it may truncate: what the index has committed and the
    /// alert stage has saved.
    fn publish_truncation(&self) {
        let mut through = self.c.index_committed_pos.load(Relaxed);
        if let Some(a) = &self.alerts {
            through = through.min(a.keep_from());
        }
        self.c.truncate_through.store(through, Relaxed);
    }
}

fn index_loop(
    mut ix: Indexer,
    rx: Receiver<(u64, Durable)>,
    interval: Duration,
    retention_days: u32,
) {
    let mut last_commit = Instant::now();
    let mut last_idle_check = Instant::now();
    let mut last_retention = Instant::now();
    loop {
        let wait = interval
            .saturating_sub(last_commit.elapsed())
            .min(READ_BACK_POLL);
        let step = match rx.recv_timeout(wait) {
            Ok((pos, d)) => ix.take(pos, d),
            Err(RecvTimeoutError::Timeout) => {
                // records the queue did not carry, when nothing else comes
                let durable = ix.c.wal_durable_pos.load(Relaxed);
                ix.read_back(durable)
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if step.is_err() {
            return;
        }
        if last_commit.elapsed() >= interval {
            if ix.dirty {
                ix.commit();
            } else {
                // the alert stage saves on its own schedule
                ix.publish_truncation();
            }
            last_commit = Instant::now();
        }
        if last_retention.elapsed() > RETENTION_INTERVAL {
            // whole days past retention go, while the engine runs
            match ix
                .indexes
                .apply_retention(chrono::Utc::now().date_naive(), retention_days)
            {
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
            if let Err(e) = ix.indexes.close_idle(today, Duration::from_secs(600)) {
                warn!(error = %e, "closing idle day index failed");
            }
            last_idle_check = Instant::now();
        }
    }
    // the WAL writer has stopped: what it left for reading back is taken in before the close
    let durable = ix.c.wal_durable_pos.load(Relaxed);
    if ix.read_back(durable).is_err() {
        return;
    }
    if let Err(e) = ix.indexes.close(ix.last_pos) {
        error!(error = %e, "final index commit failed; the WAL will be replayed at next start");
        return;
    }
    ix.c.index_committed_pos.store(ix.last_pos, Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use canh_core::{Dataset, Origin};

    /// A NetFlow v5 export packet of `n` flows, sequence `seq`, from 10.0.0.k to 192.0.2.1.
    fn v5(seq: u32, n: u16) -> Vec<u8> {
        let now = chrono::Utc::now().timestamp() as u32;
        let mut p = Vec::new();
        p.extend(5u16.to_be_bytes());
        p.extend(n.to_be_bytes());
        p.extend(60_000u32.to_be_bytes()); // uptime ms
        p.extend(now.to_be_bytes());
        p.extend(0u32.to_be_bytes());
        p.extend(seq.to_be_bytes());
        p.extend([0u8, 0, 0, 0]);
        for k in 0..n {
            p.extend([10, 0, (k >> 8) as u8, k as u8]);
            p.extend([192, 0, 2, 1]);
            p.extend([0u8; 4]); // next hop
            p.extend(1u16.to_be_bytes());
            p.extend(2u16.to_be_bytes());
            p.extend(3u32.to_be_bytes()); // packets
            p.extend(180u32.to_be_bytes()); // bytes
            p.extend(59_000u32.to_be_bytes());
            p.extend(59_500u32.to_be_bytes());
            p.extend((40_000 + k).to_be_bytes());
            p.extend(443u16.to_be_bytes());
            p.extend([0, 0x12, 6, 0]);
            p.extend([0u8; 8]);
        }
        p
    }

    fn start(data: &Path, stats: &Arc<NetflowStats>, index_queue: usize) -> Pipeline {
        Pipeline::start(PipelineConfig {
            data_dir: data.to_owned(),
            commit_interval: Duration::from_millis(200),
            index_threads: 1,
            retention_days: 3650,
            alerts: None,
            flows: FlowDecoding {
                enrich: None,
                stats: vec![stats.clone()],
            },
            index_queue,
        })
        .unwrap()
    }

    #[test]
    fn datagrams_are_made_durable_whole_and_decoded_behind_the_wal_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let listener = "udp://127.0.0.1:2055";
        let stats = Arc::new(NetflowStats::new(listener));
        // no room in memory: every record the index thread is not waiting for at that very
        // moment is read back from the WAL
        let p = start(dir.path(), &stats, 0);
        let (dtx, etx) = (p.datagram_sender(), p.sender());
        let exporter: std::net::SocketAddr = "192.0.2.9:9995".parse().unwrap();
        let mut seq = 0;
        for chunk in 0..40u32 {
            let datagrams = (0..3)
                .map(|_| {
                    let d = Datagram {
                        listener: listener.into(),
                        peer: exporter,
                        received: chrono::Utc::now(),
                        data: v5(seq, 30),
                    };
                    seq += 30;
                    d
                })
                .collect();
            dtx.blocking_send(datagrams).unwrap();
            // syslog events between them: one order for both kinds
            let ev = Event::new(
                Dataset::Syslog,
                Origin::new("udp://127.0.0.1:5514", None),
                chrono::Utc::now(),
                format!("<13>chunk {chunk}").into_bytes(),
            );
            etx.blocking_send(vec![ev]).unwrap();
        }
        drop((dtx, etx));
        let c = p.counters.clone();
        p.shutdown();
        let s = c.snapshot();
        assert_eq!(s.wal_datagrams, 120);
        assert_eq!(s.wal_events_durable, 40);
        assert_eq!(s.indexed_events, 40 + 120 * 30, "{s:?}");
        assert_eq!(s.index_committed_pos, s.wal_durable_pos);
        assert_eq!(s.index_lag_records, 0);
        let nf = stats.snapshot();
        assert_eq!(nf.totals.records, 3600);
        assert_eq!(nf.totals.sequence_gaps, 0, "decoded in the order received");
        eprintln!(
            "{} of {} records read back from the WAL",
            s.index_spilled, s.wal_batches
        );

        // a restart finds everything committed: nothing is indexed twice
        let p = start(dir.path(), &stats, INDEX_QUEUE_BATCHES);
        let s = p.counters.snapshot();
        assert_eq!(s.replayed_events, 0);
        p.shutdown();
        let r = crate::index::Reader::open(&index_dir(dir.path())).unwrap();
        let count = |q: &str| {
            r.count(&crate::index::SearchRequest {
                query: q.into(),
                from: None,
                to: None,
                limit: 0,
            })
            .unwrap()
        };
        assert_eq!(count("event.dataset:netflow"), 3600);
        assert_eq!(
            count("destination.port:443 AND source.ip:\"10.0.0.29\""),
            120
        );
        assert_eq!(count("event.dataset:syslog"), 40);
    }

    #[test]
    fn a_full_queue_leaves_the_record_for_reading_back_until_the_backlog_limit() {
        let c = PipelineCounters::default();
        let (itx, irx) = sync_channel::<(u64, Durable)>(0);
        // nobody waiting on a rendezvous queue: the record is left in the WAL, not waited for
        assert!(hand_off(&itx, 7, Durable::Datagrams(Vec::new()), &c));
        assert_eq!(c.index_spilled.load(Relaxed), 1);
        // past the backlog limit the writer waits for the index thread instead
        c.wal_disk_bytes.store(MAX_WAL_BACKLOG_BYTES, Relaxed);
        let t = std::thread::spawn(move || irx.recv().map(|(pos, _)| pos));
        assert!(hand_off(&itx, 8, Durable::Datagrams(Vec::new()), &c));
        assert_eq!(t.join().unwrap().unwrap(), 8);
        assert_eq!(c.index_spilled.load(Relaxed), 1);
        // and a stopped index thread stops the writer
        assert!(!hand_off(&itx, 9, Durable::Datagrams(Vec::new()), &c));
    }
}
