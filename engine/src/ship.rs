//! The engine's ship listener: edge collectors (`canh collect`) send their spooled batches
//! here over TLS 1.3 with a client certificate that must chain to the client CA.
//!
//! Per connection: HELLO (the producer), then BATCH frames. Each batch is checked (its id
//! matches the frame and the producer), matched by the rules like the engine's own events
//! (canh's detection fields a collector sends are removed first), and handed to the WAL
//! writer; the ACK goes back only after the WAL fsync (or at once for a re-delivery the WAL
//! already holds). Connections that fail the handshake — plaintext, no certificate, a foreign
//! CA, an expired certificate — are refused, counted and written to the audit log with the
//! peer address; nothing they send reaches the pipeline.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use canh_collectors::ship::frame::{self, Frame};
use canh_core::Batch;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tracing::{info, warn};

use crate::detect::Detection;
use crate::pipeline::RemoteBatch;

/// Collector connections served at once; more are refused and counted.
pub const MAX_SHIP_CONNECTIONS: usize = 256;
/// Longest a TLS handshake, or the HELLO after it, may take: a peer holding a connection
/// slot without finishing is dropped this soon.
pub const SHIP_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest an admitted collector may be silent: it sends a heartbeat every
/// [`canh_collectors::ship::HEARTBEAT_EVERY`], so this finds a dead or half-open connection.
pub const SHIP_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest epoch part of a producer id (`name/epoch`): the collector writes a hex number.
pub const MAX_EPOCH_CHARS: usize = 32;
/// Refused connections written to the audit log per minute (the rest are only counted, so a
/// flood of bad handshakes cannot flood the log).
pub const MAX_REFUSED_AUDITS_PER_MINUTE: u32 = 60;

#[derive(Debug, Default)]
pub struct ShipServerCounters {
    pub connections: AtomicU64,
    pub active: AtomicU64,
    pub refused: AtomicU64,
    pub batches: AtomicU64,
    pub duplicates: AtomicU64,
    pub events: AtomicU64,
    pub protocol_errors: AtomicU64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipServerSnapshot {
    pub listen: String,
    pub connections: u64,
    pub active: u64,
    pub refused: u64,
    pub batches: u64,
    pub duplicates: u64,
    pub events: u64,
    pub protocol_errors: u64,
    /// Every collector that shipped here since the engine started.
    #[serde(default)]
    pub collectors: Vec<CollectorRow>,
}

impl ShipServerCounters {
    pub fn snapshot(&self, listen: &str, collectors: Vec<CollectorRow>) -> ShipServerSnapshot {
        ShipServerSnapshot {
            collectors,
            listen: listen.to_owned(),
            connections: self.connections.load(Relaxed),
            active: self.active.load(Relaxed),
            refused: self.refused.load(Relaxed),
            batches: self.batches.load(Relaxed),
            duplicates: self.duplicates.load(Relaxed),
            events: self.events.load(Relaxed),
            protocol_errors: self.protocol_errors.load(Relaxed),
        }
    }
}

/// Writes refused connections to the audit log, at most [`MAX_REFUSED_AUDITS_PER_MINUTE`].
struct RefusalLog {
    data: PathBuf,
    window: std::sync::Mutex<(Instant, u32)>,
}

impl RefusalLog {
    fn record(&self, peer: SocketAddr, why: &str) {
        {
            let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
            if w.0.elapsed() > Duration::from_secs(60) {
                *w = (Instant::now(), 0);
            }
            if w.1 >= MAX_REFUSED_AUDITS_PER_MINUTE {
                return;
            }
            w.1 += 1;
        }
        let detail = serde_json::json!({"peer": peer.to_string(), "error": why});
        if let Err(e) = crate::alerts::store::Store::open(&self.data).and_then(|mut s| {
            s.audit_only("canh", "collector.refused", &format!("peer:{peer}"), detail)
        }) {
            warn!(error = %e, "cannot write the audit log");
        }
    }
}

/// Which collectors may ship: a client certificate chaining to the client CA is always
/// required; the collector's name (the part of its producer id before `/`) must be a name its
/// certificate is valid for, and, when `allow` is not empty, one of `allow`.
#[derive(Debug, Clone, Default)]
pub struct ShipPolicy {
    pub allow: Vec<String>,
}

impl ShipPolicy {
    /// Checks the producer a collector announced against its certificate and the allow-list.
    fn admit(&self, producer: &str, cert: Option<&[u8]>) -> Result<(), String> {
        let name = collector_name(producer);
        let epoch = producer.split_once('/').map_or("", |x| x.1);
        if !valid_epoch(epoch) {
            return Err(format!(
                "producer {producer:?} is not NAME/EPOCH (hex epoch)"
            ));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|a| a == name) {
            return Err(format!("collector {name:?} is not on the allow-list"));
        }
        let der = cert.ok_or("no client certificate")?;
        let der = rustls::pki_types::CertificateDer::from(der);
        let ee = webpki::EndEntityCert::try_from(&der)
            .map_err(|e| format!("client certificate: {e}"))?;
        let sn = rustls::pki_types::ServerName::try_from(name)
            .map_err(|_| format!("collector name {name:?} is not a DNS name"))?;
        ee.verify_is_valid_for_subject_name(&sn)
            .map_err(|_| format!("the client certificate is not issued to collector {name:?}"))
    }
}

/// Everything the ship listener works with.
pub struct ShipServer {
    pub tls: Arc<rustls::ServerConfig>,
    /// Where admitted batches go (the pipeline's WAL writer).
    pub remote: mpsc::Sender<RemoteBatch>,
    pub detection: Arc<Detection>,
    /// The data folder (audit log of refusals).
    pub data: PathBuf,
    pub policy: Arc<ShipPolicy>,
    pub health: Arc<CollectorHealth>,
    pub counters: Arc<ShipServerCounters>,
}

/// Serves collectors until the task is aborted.
pub async fn serve(listener: tokio::net::TcpListener, server: ShipServer) {
    let ShipServer {
        tls,
        remote,
        detection,
        data,
        policy,
        health,
        counters: c,
    } = server;
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let slots = Arc::new(Semaphore::new(MAX_SHIP_CONNECTIONS));
    let refusals = Arc::new(RefusalLog {
        data,
        window: std::sync::Mutex::new((Instant::now(), 0)),
    });
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                warn!(error = %e, "ship listener accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        c.connections.fetch_add(1, Relaxed);
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            c.refused.fetch_add(1, Relaxed);
            warn!(%peer, "collector refused: too many connections");
            continue;
        };
        let (acceptor, remote, det, c, refusals, policy, health) = (
            acceptor.clone(),
            remote.clone(),
            detection.clone(),
            c.clone(),
            refusals.clone(),
            policy.clone(),
            health.clone(),
        );
        tokio::spawn(async move {
            let _permit = permit;
            let tls = match tokio::time::timeout(SHIP_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
            {
                Ok(Ok(t)) => t,
                Ok(Err(e)) => {
                    c.refused.fetch_add(1, Relaxed);
                    let why = format!("TLS handshake: {e}");
                    warn!(%peer, error = %why, "collector refused");
                    tokio::task::spawn_blocking(move || refusals.record(peer, &why));
                    return;
                }
                Err(_) => {
                    c.refused.fetch_add(1, Relaxed);
                    warn!(%peer, "collector refused: handshake timed out");
                    tokio::task::spawn_blocking(move || {
                        refusals.record(peer, "TLS handshake timed out")
                    });
                    return;
                }
            };
            let cert = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.as_ref().to_vec());
            c.active.fetch_add(1, Relaxed);
            let link = Link {
                policy: &policy,
                cert: cert.as_deref(),
                health: &health,
                name: std::sync::Mutex::new(None),
            };
            let r = connection(tls, peer, remote, det, &link, &c).await;
            if let Some(name) = link.name.lock().unwrap_or_else(|e| e.into_inner()).take() {
                health.connected(&name, false);
            }
            match r {
                Ok(()) => {}
                Err(End::Refused(why)) => {
                    c.refused.fetch_add(1, Relaxed);
                    warn!(%peer, error = %why, "collector refused");
                    tokio::task::spawn_blocking(move || refusals.record(peer, &why));
                }
                Err(End::Protocol(e)) => {
                    c.protocol_errors.fetch_add(1, Relaxed);
                    warn!(%peer, error = %e, "collector connection ended");
                }
            }
            c.active.fetch_sub(1, Relaxed);
        });
    }
}

/// Why a collector connection ended other than by the collector closing it.
enum End {
    /// The collector is not who it may be (audited like a failed handshake).
    Refused(String),
    Protocol(String),
}

impl From<String> for End {
    fn from(s: String) -> End {
        End::Protocol(s)
    }
}

/// What one connection checks against and reports to.
struct Link<'a> {
    policy: &'a ShipPolicy,
    cert: Option<&'a [u8]>,
    health: &'a CollectorHealth,
    /// The collector's name once admitted.
    name: std::sync::Mutex<Option<String>>,
}

async fn connection(
    tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    peer: SocketAddr,
    remote: mpsc::Sender<RemoteBatch>,
    det: Arc<Detection>,
    link: &Link<'_>,
    c: &ShipServerCounters,
) -> Result<(), End> {
    let (mut rd, mut wr) = tokio::io::split(tls);
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    let mut chunk = vec![0u8; 1 << 16];
    let mut producer: Option<String> = None;
    let mut out = Vec::new();
    loop {
        let f = loop {
            match frame::decode(&buf).map_err(|e| e.to_string())? {
                Some((f, used)) => {
                    buf.drain(..used);
                    break f;
                }
                None if producer.is_none() => {
                    // the HELLO must come soon after the handshake
                    let n = tokio::time::timeout(SHIP_HANDSHAKE_TIMEOUT, rd.read(&mut chunk))
                        .await
                        .map_err(|_| "no HELLO from the collector".to_owned())?
                        .map_err(|e| format!("read: {e}"))?;
                    if n == 0 {
                        return Ok(());
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                None => {
                    // an idle collector still sends heartbeats; silence means a dead peer or
                    // a half-open connection, which must not keep its slot
                    let n = tokio::time::timeout(SHIP_IDLE_TIMEOUT, rd.read(&mut chunk))
                        .await
                        .map_err(|_| "no heartbeat from the collector".to_owned())?
                        .map_err(|e| format!("read: {e}"))?;
                    if n == 0 {
                        return Ok(());
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
            }
        };
        let reply = match (f, &producer) {
            (
                Frame::Hello {
                    version,
                    producer: p,
                },
                None,
            ) => {
                if version != frame::VERSION {
                    Err(format!(
                        "protocol version {version}; this engine speaks {}",
                        frame::VERSION
                    ))
                } else if p.is_empty() {
                    Err("empty producer name".to_owned())
                } else if let Err(why) = link.policy.admit(&p, link.cert) {
                    out.clear();
                    frame::encode(
                        &Frame::Error {
                            message: why.clone(),
                        },
                        &mut out,
                    );
                    let _ = wr.write_all(&out).await;
                    let _ = wr.shutdown().await;
                    return Err(End::Refused(format!("{why} (announced {p})")));
                } else {
                    info!(%peer, producer = %p, "collector connected");
                    let name = collector_name(&p).to_owned();
                    link.health.connected(&name, true);
                    *link.name.lock().unwrap_or_else(|e| e.into_inner()) = Some(name);
                    producer = Some(p);
                    Ok(None)
                }
            }
            (Frame::Batch { seq, payload }, Some(p)) => {
                let r = batch(seq, payload, p, &remote, &det, c).await;
                if let Ok((_, n)) = &r {
                    link.health.batch(collector_name(p), *n);
                }
                r.map(|(seq, _)| Some(seq))
            }
            (
                Frame::Heartbeat {
                    spool_depth,
                    oldest_unshipped_secs,
                },
                Some(p),
            ) => {
                link.health
                    .heartbeat(collector_name(p), spool_depth, oldest_unshipped_secs);
                Ok(None)
            }
            (other, _) => Err(format!("unexpected frame {other:?}")),
        };
        out.clear();
        match reply {
            Ok(None) => continue,
            Ok(Some(seq)) => frame::encode(&Frame::Ack { seq }, &mut out),
            Err(e) => {
                frame::encode(&Frame::Error { message: e.clone() }, &mut out);
                let _ = wr.write_all(&out).await;
                let _ = wr.shutdown().await;
                return Err(End::Protocol(e));
            }
        }
        wr.write_all(&out)
            .await
            .map_err(|e| End::Protocol(format!("write: {e}")))?;
    }
}

/// A spool epoch: a hex number of at most [`MAX_EPOCH_CHARS`] digits.
fn valid_epoch(epoch: &str) -> bool {
    !epoch.is_empty()
        && epoch.len() <= MAX_EPOCH_CHARS
        && epoch.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The collector's name: its producer id before the spool epoch.
fn collector_name(producer: &str) -> &str {
    producer.split('/').next().unwrap_or(producer)
}

/// Checks, matches and hands over one batch; returns the sequence to acknowledge and the
/// events it held (0 for a re-delivery).
async fn batch(
    seq: u64,
    payload: Vec<u8>,
    producer: &str,
    remote: &mpsc::Sender<RemoteBatch>,
    det: &Arc<Detection>,
    c: &ShipServerCounters,
) -> Result<(u64, u64), String> {
    let det = det.clone();
    let name = collector_name(producer).to_owned();
    let b: Batch = tokio::task::spawn_blocking(move || {
        let mut b: Batch =
            postcard::from_bytes(&payload).map_err(|e| format!("batch {seq}: {e}"))?;
        // the position must match the frame; the batch keeps the epoch it was spooled under
        // (records of an earlier run keep theirs), under the collector's verified name (a
        // collector renamed since keeps its spool)
        if b.id.seq != seq {
            return Err(format!(
                "batch id {}#{} does not match the frame's sequence {seq}",
                b.id.producer, b.id.seq
            ));
        }
        let epoch = b.id.producer.split_once('/').map_or("", |x| x.1);
        if !valid_epoch(epoch) {
            return Err(format!(
                "batch {seq}: producer {:?} is not NAME/EPOCH",
                b.id.producer
            ));
        }
        b.id.producer = format!("{name}/{epoch}");
        let now = chrono::Utc::now();
        for ev in &mut b.events {
            // which collector shipped it, whatever the event says; no time from its future
            ev.origin.listener = format!("{name}:{}", ev.origin.listener);
            ev.received = ev.received.min(now);
        }
        det.current().annotate(&mut b.events);
        Ok::<_, String>(b)
    })
    .await
    .map_err(|e| e.to_string())??;
    let n = b.events.len() as u64;
    let (tx, rx) = oneshot::channel();
    remote
        .send(RemoteBatch { batch: b, done: tx })
        .await
        .map_err(|_| "the engine is stopping".to_owned())?;
    match rx.await.map_err(|_| "the engine is stopping".to_owned())? {
        Ok(true) => {
            c.batches.fetch_add(1, Relaxed);
            c.events.fetch_add(n, Relaxed);
            Ok((seq, n))
        }
        Ok(false) => {
            c.duplicates.fetch_add(1, Relaxed);
            Ok((seq, 0))
        }
        Err(e) => Err(e),
    }
}

/// How long a known collector may go without a heartbeat or a batch before it raises a
/// "collector silent" alert (it sends a heartbeat every
/// [`canh_collectors::ship::HEARTBEAT_EVERY`] while connected).
pub const DEFAULT_COLLECTOR_SILENT_AFTER: Duration = Duration::from_secs(10 * 60);
/// Age of a collector's oldest unshipped event that raises a "collector behind" alert.
pub const DEFAULT_SPOOL_AGE_ALERT: Duration = Duration::from_secs(15 * 60);
/// Collectors tracked for health; beyond this, new names are not tracked (counted).
pub const MAX_TRACKED_COLLECTORS: usize = 10_000;
/// Rule keys of the engine's own collector alerts.
pub const COLLECTOR_SILENT_RULE: &str = "canh.collector_silent";
pub const COLLECTOR_BACKLOG_RULE: &str = "canh.collector_backlog";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectorRow {
    pub name: String,
    pub last_seen_ms: i64,
    pub spool_depth: u64,
    pub oldest_unshipped_secs: u64,
    pub batches: u64,
    pub events: u64,
    pub connected: bool,
    /// Open connections (an old one may linger a moment after a reconnect).
    #[serde(default)]
    pub connections: u32,
}

#[derive(Debug, Default)]
struct CollectorState {
    row: CollectorRow,
    silent_alerted: bool,
    backlog_alerted: bool,
}

/// What the engine knows of each collector that shipped to it: when it was last heard from
/// and how far behind its spool is. The alert stage asks it for alerts every few seconds.
#[derive(Debug)]
pub struct CollectorHealth {
    silent_after_ms: i64,
    backlog_after_secs: u64,
    state: std::sync::Mutex<std::collections::HashMap<String, CollectorState>>,
    pub untracked: AtomicU64,
}

impl CollectorHealth {
    pub fn new(silent_after: Duration, backlog_after: Duration) -> CollectorHealth {
        CollectorHealth {
            silent_after_ms: silent_after.as_millis() as i64,
            backlog_after_secs: backlog_after.as_secs(),
            state: Default::default(),
            untracked: AtomicU64::new(0),
        }
    }

    fn with(&self, name: &str, f: impl FnOnce(&mut CollectorRow)) {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if !g.contains_key(name) && g.len() >= MAX_TRACKED_COLLECTORS {
            self.untracked.fetch_add(1, Relaxed);
            return;
        }
        let st = g.entry(name.to_owned()).or_default();
        st.row.name = name.to_owned();
        st.row.last_seen_ms = chrono::Utc::now().timestamp_millis();
        f(&mut st.row);
    }

    /// A connection of collector `name` opened (`up`) or closed.
    fn connected(&self, name: &str, up: bool) {
        self.with(name, |r| {
            r.connections = if up {
                r.connections + 1
            } else {
                r.connections.saturating_sub(1)
            };
            r.connected = r.connections > 0;
        });
    }

    fn heartbeat(&self, name: &str, spool_depth: u64, oldest_unshipped_secs: u64) {
        self.with(name, |r| {
            r.spool_depth = spool_depth;
            r.oldest_unshipped_secs = oldest_unshipped_secs;
        });
    }

    fn batch(&self, name: &str, events: u64) {
        self.with(name, |r| {
            r.batches += 1;
            r.events += events;
        });
    }

    pub fn rows(&self) -> Vec<CollectorRow> {
        let g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut rows: Vec<CollectorRow> = g.values().map(|s| s.row.clone()).collect();
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        rows
    }

    /// Alerts for collectors that went silent or fell behind since the last call (one per
    /// episode: a collector heard from again, or caught up, can raise again later).
    pub fn check(&self, now_ms: i64) -> Vec<crate::alerts::store::AlertInput> {
        let mut out = Vec::new();
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for st in g.values_mut() {
            let r = &st.row;
            let quiet_ms = now_ms - r.last_seen_ms;
            // connected, it is silent only once it missed a few heartbeats; disconnected,
            // after the configured time
            let limit = if r.connected {
                self.silent_after_ms
                    .max(3 * canh_collectors::ship::HEARTBEAT_EVERY.as_millis() as i64)
            } else {
                self.silent_after_ms
            };
            if quiet_ms < limit {
                st.silent_alerted = false;
            } else if !st.silent_alerted {
                st.silent_alerted = true;
                out.push(collector_alert(
                    COLLECTOR_SILENT_RULE,
                    format!("Collector stopped reporting: {}", r.name),
                    "high",
                    format!(
                        "Edge collector {} has sent no heartbeat or batch for {} s ({}; it sends a heartbeat every {} s while connected). \
                         Until it is back, the sources behind it are not seen here. Check the collector host and its link to the engine, \
                         and run `canh status --data SPOOL` on it: events it receives meanwhile wait in its spool and arrive when it reconnects.",
                        r.name,
                        quiet_ms / 1000,
                        if r.connected {
                            "its connection is open but quiet"
                        } else {
                            "its connection closed"
                        },
                        canh_collectors::ship::HEARTBEAT_EVERY.as_secs()
                    ),
                    &r.name,
                    now_ms,
                    Some(quiet_ms as f64 / 1000.0),
                ));
            }
            if r.oldest_unshipped_secs < self.backlog_after_secs {
                st.backlog_alerted = false;
            } else if !st.backlog_alerted {
                st.backlog_alerted = true;
                out.push(collector_alert(
                    COLLECTOR_BACKLOG_RULE,
                    format!(
                        "Collector {} is behind: oldest unshipped event {} min old",
                        r.name,
                        r.oldest_unshipped_secs / 60
                    ),
                    "medium",
                    format!(
                        "Edge collector {} reports {} spooled batches not yet acknowledged, the oldest received {} s ago. \
                         Alerts on its events come late by that much. Look at the link between the collector and the engine \
                         and at the engine's load (`canh status`).",
                        r.name, r.spool_depth, r.oldest_unshipped_secs
                    ),
                    &r.name,
                    now_ms,
                    Some(r.oldest_unshipped_secs as f64),
                ));
            }
        }
        out
    }
}

fn collector_alert(
    rule: &str,
    title: String,
    level: &str,
    description: String,
    name: &str,
    now_ms: i64,
    value: Option<f64>,
) -> crate::alerts::store::AlertInput {
    crate::alerts::store::AlertInput {
        rule: rule.to_owned(),
        title,
        level: level.to_owned(),
        kind: "collector".to_owned(),
        tags: Vec::new(),
        description: Some(description),
        group: vec![("collector".to_owned(), name.to_owned())],
        window_start_ms: now_ms,
        time_ms: now_ms,
        new: true,
        count: 1,
        value,
        seq: 0,
        sample: None,
    }
}
