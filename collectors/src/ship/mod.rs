//! The edge collector's side of shipping: a disk spool and a shipper that sends its batches to
//! the engine over mutual TLS 1.3 and forgets them only after the engine's acknowledgement.
//!
//! ```text
//! listeners ─Vec<Event>─▶ [bounded queue] ─▶ spool writer (WAL format, fsync, bounded)
//!                                               │ durable position
//!                                               ▼
//!            engine ◀──BATCH frames (seq = spool position)── shipper ◀── read_after(acked)
//!            engine ──ACK(seq) after its own WAL fsync──▶ shipper ─▶ acked position ─▶ truncate
//! ```
//!
//! Architecture invariants:
//! - a spooled record is deleted only after the engine acknowledged it (its WAL fsynced);
//! - a batch's id is `producer#seq` where `producer` = `name/epoch` (the epoch is created with
//!   the spool, so a new spool never reuses sequence numbers the engine has seen) and `seq` is
//!   the spool position; the engine drops a re-delivery it already holds, so a crash on
//!   either side still gives exactly-once;
//! - when the spool is full the writer stops taking events: TCP senders are slowed down by
//!   back-pressure, UDP datagrams that find the queue full are dropped and counted.

pub mod frame;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::Duration;

use canh_core::{Batch, BatchId, Event};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::listen::TlsConfigError;
use crate::wal::{self, Wal, WalError};
use frame::Frame;

/// Default spool size limit.
pub const DEFAULT_MAX_SPOOL_BYTES: u64 = 10 * 1024 * 1024 * 1024;
/// Most events in one spooled batch (one fsync, one frame).
pub const MAX_SPOOL_BATCH_EVENTS: usize = 8192;
/// About the most raw bytes in one spooled batch: keeps every batch's frame far below
/// [`frame::MAX_FRAME_BYTES`] (an event's raw record is at most 64 KiB).
pub const MAX_SPOOL_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Spool segment size: acknowledged data is deleted a segment at a time.
pub const SPOOL_SEGMENT_BYTES: u64 = 4 * 1024 * 1024;
/// The smallest spool: the segment being written is never deleted, so a spool must hold
/// several segments to drain while full.
pub const MIN_SPOOL_BYTES: u64 = 4 * SPOOL_SEGMENT_BYTES;
/// How long the writer waits before looking again when the spool is full.
pub const SPOOL_FULL_WAIT: Duration = Duration::from_millis(100);
/// Batches sent and not yet acknowledged, per connection.
pub const MAX_IN_FLIGHT: u64 = 64;
/// Bytes of spooled batches read into memory at once by the shipper.
pub const READ_BUDGET: usize = 16 * 1024 * 1024;
/// Reconnect back-off: first wait, and the longest.
pub const BACKOFF_FIRST: Duration = Duration::from_millis(500);
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// How often a connected collector tells the engine its spool depth and age.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);
/// A connection that lasted this long resets the back-off.
pub const STABLE_CONNECTION: Duration = Duration::from_secs(1);
/// Longest a TLS handshake or a silent engine may take before the connection is dropped.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Spooled batches whose receive time is remembered for the "oldest unshipped" age; older
/// ones share the oldest remembered time.
const MAX_AGE_MARKS: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum ShipError {
    #[error(transparent)]
    Wal(#[from] WalError),
    #[error("spool {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] TlsConfigError),
}

/// Counters of a collector, shown by `canh status` on the collector side.
#[derive(Debug, Default)]
pub struct ShipCounters {
    pub spooled_batches: AtomicU64,
    pub spooled_events: AtomicU64,
    /// Highest spool position fsynced.
    pub durable_pos: AtomicU64,
    /// Highest spool position the engine acknowledged.
    pub acked_pos: AtomicU64,
    pub spool_bytes: AtomicU64,
    /// Times the writer found the spool full and waited.
    pub spool_full_waits: AtomicU64,
    /// (spool position, receive time in ms of its oldest event) of unacknowledged batches,
    /// oldest first, at most [`MAX_AGE_MARKS`]: the age of the oldest unshipped event.
    marks: std::sync::Mutex<VecDeque<(u64, i64)>>,
    pub shipped_batches: AtomicU64,
    pub acked_batches: AtomicU64,
    pub acked_events: AtomicU64,
    pub connects: AtomicU64,
    pub connect_failures: AtomicU64,
    /// 1 while connected to the engine.
    pub connected: AtomicU64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipSnapshot {
    pub producer: String,
    pub engine: String,
    pub spooled_batches: u64,
    pub spooled_events: u64,
    pub durable_pos: u64,
    pub acked_pos: u64,
    /// Batches in the spool not yet acknowledged.
    pub spool_depth: u64,
    pub spool_bytes: u64,
    pub spool_max_bytes: u64,
    pub spool_full_waits: u64,
    /// Seconds since the oldest unacknowledged event arrived (0 when the spool is drained).
    pub oldest_unacked_secs: u64,
    pub shipped_batches: u64,
    pub acked_batches: u64,
    pub acked_events: u64,
    pub connects: u64,
    pub connect_failures: u64,
    pub connected: bool,
}

impl ShipCounters {
    fn mark(&self, pos: u64, received_ms: i64) {
        let mut m = self.marks.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() < MAX_AGE_MARKS {
            m.push_back((pos, received_ms));
        }
    }

    /// Receive time (ms) of the oldest event not yet acknowledged; 0 when none.
    pub fn oldest_unacked_ms(&self) -> i64 {
        let acked = self.acked_pos.load(Relaxed);
        let mut m = self.marks.lock().unwrap_or_else(|e| e.into_inner());
        while m.front().is_some_and(|x| x.0 <= acked) {
            m.pop_front();
        }
        m.front().map_or(0, |x| x.1)
    }

    pub fn snapshot(&self, producer: &str, engine: &str, max_bytes: u64) -> ShipSnapshot {
        let durable = self.durable_pos.load(Relaxed);
        let acked = self.acked_pos.load(Relaxed);
        let oldest = self.oldest_unacked_ms();
        ShipSnapshot {
            producer: producer.to_owned(),
            engine: engine.to_owned(),
            spooled_batches: self.spooled_batches.load(Relaxed),
            spooled_events: self.spooled_events.load(Relaxed),
            durable_pos: durable,
            acked_pos: acked,
            spool_depth: durable.saturating_sub(acked),
            spool_bytes: self.spool_bytes.load(Relaxed),
            spool_max_bytes: max_bytes,
            spool_full_waits: self.spool_full_waits.load(Relaxed),
            oldest_unacked_secs: if oldest == 0 {
                0
            } else {
                ((chrono::Utc::now().timestamp_millis() - oldest).max(0) / 1000) as u64
            },
            shipped_batches: self.shipped_batches.load(Relaxed),
            acked_batches: self.acked_batches.load(Relaxed),
            acked_events: self.acked_events.load(Relaxed),
            connects: self.connects.load(Relaxed),
            connect_failures: self.connect_failures.load(Relaxed),
            connected: self.connected.load(Relaxed) == 1,
        }
    }
}

/// An open spool: its log, producer id and the position acknowledged before.
pub struct Spool {
    pub dir: PathBuf,
    pub producer: String,
    wal: Wal,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ShipError + '_ {
    move |source| ShipError::Io {
        path: path.to_owned(),
        source,
    }
}

fn acked_path(dir: &Path) -> PathBuf {
    dir.join("acked")
}

/// The position the engine acknowledged last (0 when unknown: everything is re-sent and the
/// engine drops what it holds).
pub fn read_acked(dir: &Path) -> u64 {
    std::fs::read_to_string(acked_path(dir))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn write_acked(dir: &Path, pos: u64) -> std::io::Result<()> {
    let tmp = dir.join("acked.tmp");
    std::fs::write(&tmp, pos.to_string())?;
    std::fs::rename(&tmp, acked_path(dir))
}

/// Writes (fsynced, for the operator's eyes) and returns a new spool epoch: a hex number from
/// the clock and the pid.
fn new_epoch(path: &Path) -> Result<String, ShipError> {
    let e = format!(
        "{:x}",
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
            ^ i64::from(std::process::id())
    );
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    std::io::Write::write_all(&mut f, e.as_bytes()).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    Ok(e)
}

impl Spool {
    /// Opens (creating) the spool in `dir` for collector `name`.
    pub fn open(dir: &Path, name: &str) -> Result<Spool, ShipError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        // every run writes under an epoch of its own: what it spools is
        // `name/epoch#position`, and the engine keeps a mark per epoch. A spool restored from
        // a snapshot, copied, or whose log was lost, can then never hand the engine a
        // position it already holds for the same epoch; records of earlier runs keep the
        // epoch they were written under, so their re-deliveries are still recognised
        let epoch = new_epoch(&dir.join("epoch"))?;
        // positions never go below what the engine acknowledged
        let acked = read_acked(dir);
        let (mut wal, rec) = Wal::open_after(&dir.join("log"), acked, |_| {})?;
        wal.set_segment_bytes(SPOOL_SEGMENT_BYTES);
        if rec.torn_bytes > 0 {
            warn!(
                bytes = rec.torn_bytes,
                "cut a torn write off the end of the spool (never acknowledged to a sender)"
            );
        }
        Ok(Spool {
            dir: dir.to_owned(),
            producer: format!("{name}/{epoch}"),
            wal,
        })
    }

    pub fn log_dir(&self) -> PathBuf {
        self.dir.join("log")
    }

    /// The highest position written.
    pub fn durable_pos(&self) -> u64 {
        self.wal.next_pos() - 1
    }
}

/// Runs the spool writer on its own thread until the queue closes.
pub fn spawn_writer(
    mut spool: Spool,
    mut rx: mpsc::Receiver<Vec<Event>>,
    max_bytes: u64,
    c: Arc<ShipCounters>,
) -> JoinHandle<()> {
    // before the thread starts (and the shipper's first heartbeat): the position and age of
    // what was spooled before a restart
    let durable = spool.durable_pos();
    c.durable_pos.store(durable, Relaxed);
    let acked = read_acked(&spool.dir).min(durable);
    c.acked_pos.fetch_max(acked, Relaxed);
    if durable > acked {
        // the first unshipped batch dates them all
        let first = wal::read_after(&spool.log_dir(), acked, acked + 1, READ_BUDGET)
            .ok()
            .and_then(|r| r.into_iter().next())
            .and_then(|r| postcard::from_bytes::<Batch>(&r.payload).ok())
            .and_then(|b| b.events.iter().map(|e| e.received.timestamp_millis()).min());
        c.mark(
            durable,
            first.unwrap_or_else(|| chrono::Utc::now().timestamp_millis()),
        );
    }
    std::thread::Builder::new()
        .name("canh-spool".into())
        .spawn(move || {
            let mut truncated = 0;
            let mut carry: Option<Vec<Event>> = None;
            loop {
                let acked = c.acked_pos.load(Relaxed);
                if acked > truncated {
                    match spool.wal.truncate_through(acked) {
                        Ok(_) => truncated = acked,
                        Err(e) => warn!(error = %e, "spool truncation failed"),
                    }
                }
                let disk = spool.wal.disk_bytes();
                c.spool_bytes.store(disk, Relaxed);
                if disk >= max_bytes {
                    if rx.is_closed() && c.acked_pos.load(Relaxed) <= truncated {
                        // shutting down with a full spool: what is still queued was never
                        // acknowledged to anyone; say how much
                        warn!(
                            queued_chunks = rx.len(),
                            "spool full at shutdown; queued events not spooled"
                        );
                        break;
                    }
                    // full: take nothing; the queue fills, TCP waits, UDP drops and counts
                    c.spool_full_waits.fetch_add(1, Relaxed);
                    std::thread::sleep(SPOOL_FULL_WAIT);
                    continue;
                }
                let first = match carry.take() {
                    Some(v) => v,
                    None => match rx.blocking_recv() {
                        Some(v) => v,
                        None => break,
                    },
                };
                let mut events = first;
                if events.len() > MAX_SPOOL_BATCH_EVENTS {
                    carry = Some(events.split_off(MAX_SPOOL_BATCH_EVENTS));
                }
                let raw = |v: &[Event]| v.iter().map(|e| e.raw.len()).sum::<usize>();
                let mut bytes = raw(&events);
                while carry.is_none()
                    && events.len() < MAX_SPOOL_BATCH_EVENTS
                    && bytes < MAX_SPOOL_BATCH_BYTES
                {
                    match rx.try_recv() {
                        Ok(more)
                            if events.len() + more.len() <= MAX_SPOOL_BATCH_EVENTS
                                && bytes + raw(&more) <= MAX_SPOOL_BATCH_BYTES =>
                        {
                            bytes += raw(&more);
                            events.extend(more)
                        }
                        Ok(more) => carry = Some(more),
                        Err(_) => break,
                    }
                }
                let received = events
                    .iter()
                    .map(|e| e.received.timestamp_millis())
                    .min()
                    .unwrap_or_default();
                let n = events.len() as u64;
                let batch = Batch {
                    id: BatchId {
                        producer: spool.producer.clone(),
                        seq: spool.wal.next_pos(),
                    },
                    events,
                };
                let pos = spool.wal.append_until_durable(&batch, "spool");
                c.mark(pos, received);
                c.spooled_batches.fetch_add(1, Relaxed);
                c.spooled_events.fetch_add(n, Relaxed);
                c.durable_pos.store(pos, Relaxed);
            }
            info!("spool writer stopped");
        })
        .expect("spawn the spool writer")
}

fn client_config(
    cert_pem: &[u8],
    key_pem: &[u8],
    ca_pem: &[u8],
) -> Result<Arc<rustls::ClientConfig>, TlsConfigError> {
    let (certs, key) = crate::listen::cert_and_key(cert_pem, key_pem)?;
    let roots = crate::listen::root_store(ca_pem, "CA")?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsConfigError::Rustls(e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .map_err(|e| TlsConfigError::Rustls(e.to_string()))?;
    Ok(Arc::new(cfg))
}

/// The engine's ship listener: TLS 1.3 only, a client certificate chaining to `client_ca`
/// required.
pub fn server_config(
    cert_pem: &[u8],
    key_pem: &[u8],
    client_ca_pem: &[u8],
) -> Result<Arc<rustls::ServerConfig>, TlsConfigError> {
    // the syslog listener allows TLS 1.2 for old senders; shipping is canh to canh: 1.3 only
    let (certs, key) = crate::listen::cert_and_key(cert_pem, key_pem)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = crate::listen::client_verifier(client_ca_pem, provider.clone())?;
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsConfigError::Rustls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| TlsConfigError::Rustls(e.to_string()))?;
    Ok(Arc::new(cfg))
}

/// The number of events of a postcard-encoded batch, read from its head alone (the batch id,
/// then the events' count as a varint) without decoding the events.
pub fn batch_len(payload: &[u8]) -> u64 {
    postcard::take_from_bytes::<BatchId>(payload)
        .and_then(|(_, rest)| postcard::take_from_bytes::<u64>(rest))
        .map_or(0, |(n, _)| n)
}

/// Where and how the shipper connects.
#[derive(Clone)]
pub struct ShipperConfig {
    /// HOST:PORT of the engine's ship listener.
    pub engine: String,
    /// Name the engine's certificate must carry (the host part of `engine` by default).
    pub server_name: String,
    pub tls: Arc<rustls::ClientConfig>,
    pub spool_log: PathBuf,
    pub spool_dir: PathBuf,
    pub producer: String,
}

impl ShipperConfig {
    pub fn new(
        engine: &str,
        cert_pem: &[u8],
        key_pem: &[u8],
        ca_pem: &[u8],
        spool: &Spool,
    ) -> Result<ShipperConfig, ShipError> {
        let host = engine
            .rsplit_once(':')
            .map_or(engine, |(h, _)| h)
            .trim_start_matches('[')
            .trim_end_matches(']');
        Ok(ShipperConfig {
            engine: engine.to_owned(),
            server_name: host.to_owned(),
            tls: client_config(cert_pem, key_pem, ca_pem)?,
            spool_log: spool.log_dir(),
            spool_dir: spool.dir.clone(),
            producer: spool.producer.clone(),
        })
    }
}

/// Ships until the task is aborted: connects (with back-off), sends every spooled batch after
/// the acknowledged position, and records acknowledgements.
pub async fn run_shipper(cfg: ShipperConfig, c: Arc<ShipCounters>) {
    let mut backoff = BACKOFF_FIRST;
    loop {
        c.connects.fetch_add(1, Relaxed);
        let began = std::time::Instant::now();
        let acked_before = c.acked_batches.load(Relaxed);
        let r = ship_once(&cfg, &c).await;
        // a connection that stayed up or got acknowledgements starts the back-off over (the
        // engine restarted or the link dropped: resume as soon as it is back); one refused
        // right after the handshake keeps backing off
        let was_up = c.connected.swap(0, Relaxed) == 1;
        if was_up
            && (began.elapsed() >= STABLE_CONNECTION
                || c.acked_batches.load(Relaxed) > acked_before)
        {
            backoff = BACKOFF_FIRST;
        }
        if let Err(e) = r {
            c.connect_failures.fetch_add(1, Relaxed);
            warn!(engine = %cfg.engine, error = %e, "shipping interrupted; reconnecting");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Records what the connection's reader delivered: an acknowledgement (every in-flight
/// batch up to it is done), or why the connection ended.
fn take_ack(
    msg: Option<Result<u64, String>>,
    in_flight: &mut VecDeque<(u64, u64)>,
    c: &ShipCounters,
) -> Result<(), String> {
    let seq = msg.ok_or_else(|| "connection reader stopped".to_owned())??;
    while in_flight.front().is_some_and(|f| f.0 <= seq) {
        let (_, n) = in_flight.pop_front().expect("checked");
        c.acked_batches.fetch_add(1, Relaxed);
        c.acked_events.fetch_add(n, Relaxed);
    }
    c.acked_pos.fetch_max(seq, Relaxed);
    Ok(())
}

async fn ship_once(cfg: &ShipperConfig, c: &ShipCounters) -> Result<(), String> {
    let tcp = tokio::time::timeout(IO_TIMEOUT, tokio::net::TcpStream::connect(&cfg.engine))
        .await
        .map_err(|_| "connect timed out".to_owned())?
        .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let name = rustls::pki_types::ServerName::try_from(cfg.server_name.clone())
        .map_err(|e| format!("server name {}: {e}", cfg.server_name))?;
    let tls = tokio::time::timeout(
        IO_TIMEOUT,
        tokio_rustls::TlsConnector::from(cfg.tls.clone()).connect(name, tcp),
    )
    .await
    .map_err(|_| "TLS handshake timed out".to_owned())?
    .map_err(|e| format!("TLS: {e}"))?;
    let (mut rd, mut wr) = tokio::io::split(tls);
    let mut out = Vec::new();
    frame::encode(
        &Frame::Hello {
            version: frame::VERSION,
            producer: cfg.producer.clone(),
        },
        &mut out,
    );
    wr.write_all(&out).await.map_err(|e| format!("send: {e}"))?;
    c.connected.store(1, Relaxed);
    info!(engine = %cfg.engine, producer = %cfg.producer, "connected; shipping");

    // acknowledgements arrive on the read half
    let (ack_tx, mut ack_rx) = mpsc::channel::<Result<u64, String>>(1024);
    let reader = tokio::spawn(async move {
        let mut buf = Vec::with_capacity(4096);
        let mut chunk = [0u8; 4096];
        loop {
            loop {
                match frame::decode(&buf) {
                    Ok(Some((f, used))) => {
                        buf.drain(..used);
                        let msg = match f {
                            Frame::Ack { seq } => Ok(seq),
                            Frame::Error { message } => Err(format!("engine: {message}")),
                            other => Err(format!("unexpected frame from the engine: {other:?}")),
                        };
                        let stop = msg.is_err();
                        if ack_tx.send(msg).await.is_err() || stop {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let _ = ack_tx.send(Err(format!("bad frame: {e}"))).await;
                        return;
                    }
                }
            }
            match rd.read(&mut chunk).await {
                Ok(0) => {
                    let _ = ack_tx
                        .send(Err("the engine closed the connection".into()))
                        .await;
                    return;
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) => {
                    let _ = ack_tx.send(Err(format!("read: {e}"))).await;
                    return;
                }
            }
        }
    });
    let result = async {
        let mut sent = c.acked_pos.load(Relaxed);
        // events per sent batch, to count acknowledged events
        let mut in_flight: VecDeque<(u64, u64)> = VecDeque::new();
        let mut last_written_ack = sent;
        let mut last_heartbeat: Option<std::time::Instant> = None;
        loop {
            if last_heartbeat.is_none_or(|t| t.elapsed() >= HEARTBEAT_EVERY) {
                let oldest = c.oldest_unacked_ms();
                let hb = Frame::Heartbeat {
                    spool_depth: c
                        .durable_pos
                        .load(Relaxed)
                        .saturating_sub(c.acked_pos.load(Relaxed)),
                    oldest_unshipped_secs: if oldest == 0 {
                        0
                    } else {
                        ((chrono::Utc::now().timestamp_millis() - oldest).max(0) / 1000) as u64
                    },
                };
                let mut b = Vec::new();
                frame::encode(&hb, &mut b);
                tokio::time::timeout(IO_TIMEOUT, wr.write_all(&b))
                    .await
                    .map_err(|_| "send timed out".to_owned())?
                    .map_err(|e| format!("send: {e}"))?;
                last_heartbeat = Some(std::time::Instant::now());
            }
            // take every acknowledgement waiting
            loop {
                let got = if in_flight.len() as u64 >= MAX_IN_FLIGHT {
                    // the window is full: wait for the engine
                    match tokio::time::timeout(IO_TIMEOUT, ack_rx.recv()).await {
                        Ok(v) => v,
                        Err(_) => return Err("no acknowledgement for 30 s".to_owned()),
                    }
                } else {
                    match ack_rx.try_recv() {
                        Ok(v) => Some(v),
                        Err(mpsc::error::TryRecvError::Empty) => break,
                        Err(mpsc::error::TryRecvError::Disconnected) => None,
                    }
                };
                take_ack(got, &mut in_flight, c)?;
            }
            let acked = c.acked_pos.load(Relaxed);
            if acked > last_written_ack {
                let dir = cfg.spool_dir.clone();
                let _ = tokio::task::spawn_blocking(move || write_acked(&dir, acked)).await;
                last_written_ack = acked;
            }
            let durable = c.durable_pos.load(Relaxed);
            let room = MAX_IN_FLIGHT.saturating_sub(in_flight.len() as u64);
            if durable <= sent || room == 0 {
                // nothing new: wait a little for the writer or an acknowledgement
                tokio::select! {
                    v = ack_rx.recv() => take_ack(v, &mut in_flight, c)?,
                    _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                }
                continue;
            }
            let (log, from) = (cfg.spool_log.clone(), sent);
            let through = durable.min(sent + room);
            let recs = tokio::task::spawn_blocking(move || {
                wal::read_after(&log, from, through, READ_BUDGET)
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
            if recs.is_empty() {
                // truncated meanwhile (acknowledged) or not yet readable
                sent = sent.max(c.acked_pos.load(Relaxed));
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            out.clear();
            for r in recs {
                let n = batch_len(&r.payload);
                frame::encode(
                    &Frame::Batch {
                        seq: r.pos,
                        payload: r.payload,
                    },
                    &mut out,
                );
                in_flight.push_back((r.pos, n));
                sent = r.pos;
                c.shipped_batches.fetch_add(1, Relaxed);
            }
            tokio::time::timeout(IO_TIMEOUT, wr.write_all(&out))
                .await
                .map_err(|_| "send timed out".to_owned())?
                .map_err(|e| format!("send: {e}"))?;
            wr.flush().await.map_err(|e| format!("send: {e}"))?;
        }
    }
    .await;
    reader.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_run_has_its_own_epoch_and_positions_stay_above_the_acknowledged() {
        let d = tempfile::tempdir().unwrap();
        let mut first = Spool::open(d.path(), "edge1").unwrap();
        assert!(first.producer.starts_with("edge1/"));
        let pos = first
            .wal
            .append(&Batch {
                id: BatchId {
                    producer: first.producer.clone(),
                    seq: first.wal.next_pos(),
                },
                events: Vec::new(),
            })
            .unwrap();
        assert_eq!(pos, 1);
        let p1 = first.producer.clone();
        drop(first);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let again = Spool::open(d.path(), "edge1").unwrap();
        assert_ne!(again.producer, p1, "a new epoch per run");
        assert_eq!(again.durable_pos(), 1, "the log continues");
        drop(again);
        // the engine acknowledged through 7; then the log folder is lost
        write_acked(d.path(), 7).unwrap();
        std::fs::remove_dir_all(d.path().join("log")).unwrap();
        let lost = Spool::open(d.path(), "edge1").unwrap();
        assert!(lost.durable_pos() >= 7, "positions continue past 7");
    }
}
