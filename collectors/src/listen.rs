//! Syslog listeners: UDP, TCP and TLS (RFC 5425). Each record is parsed where it is read and
//! sent on a bounded channel as part of a `Vec<Event>`.
//!
//! Overload is counted, never silent: TCP and TLS connections wait for the channel
//! (back-pressure reaches the sender through TCP flow control); UDP waits at most
//! [`UDP_QUEUE_WAIT`] and then counts the records as `dropped_queue`; datagrams the kernel
//! dropped are read from `/proc/net/udp*` into `dropped_kernel`.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use canh_core::time::DefaultZone;
use canh_core::{Event, Origin, ParseWarning, field};
use chrono::Utc;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use crate::stats::{ListenerStats, RecordOutcome};
use crate::syslog::framing::{Frame, Framer};
use crate::syslog::{self, ParseContext};

/// Receive buffer asked of the kernel for UDP sockets (bursts from hundreds of devices); the
/// kernel caps it at net.core.rmem_max, and the effective size is logged.
pub const UDP_RECV_BUFFER: usize = 8 * 1024 * 1024;
/// Largest UDP payload (IPv4: 65,535 − 8 − 20).
pub const MAX_UDP_DATAGRAM: usize = 65_507;
/// Most datagrams read in one go before handing them on.
pub const UDP_BATCH: usize = 256;
/// How long a UDP listener waits for room in the queue before counting records as dropped.
pub const UDP_QUEUE_WAIT: Duration = Duration::from_millis(200);
/// Default limit on concurrent TCP/TLS connections per listener.
pub const DEFAULT_MAX_CONNECTIONS: usize = 2048;
/// A stream connection that sends nothing for this long is closed (devices reconnect; an idle
/// socket must not hold one of the listener's connection slots forever).
pub const STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Time a TLS client has to finish its handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes read from a stream socket at a time.
pub const READ_CHUNK: usize = 64 * 1024;
/// How often kernel drop counters are read.
pub const KERNEL_DROPS_INTERVAL: Duration = Duration::from_secs(2);

/// Transport of a listener URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

/// `udp://HOST:PORT`, `tcp://HOST:PORT` or `tls://HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenUrl {
    pub transport: Transport,
    pub addr: SocketAddr,
    /// The URL as written (used as the listener's name).
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("{0:?}: expected udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT")]
    Scheme(String),
    #[error("{0:?}: cannot resolve address: {1}")]
    Address(String, String),
}

impl FromStr for ListenUrl {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| UrlError::Scheme(s.into()))?;
        let transport = match scheme {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            "tls" => Transport::Tls,
            _ => return Err(UrlError::Scheme(s.into())),
        };
        let rest = rest.trim_end_matches('/');
        let addr = rest
            .to_socket_addrs()
            .map_err(|e| UrlError::Address(s.into(), e.to_string()))?
            .next()
            .ok_or_else(|| UrlError::Address(s.into(), "no address".into()))?;
        let text = format!("{scheme}://{addr}");
        Ok(ListenUrl {
            transport,
            addr,
            text,
        })
    }
}

impl fmt::Display for ListenUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A step the engine runs on every batch of parsed events before they are queued (rule
/// matching). The collectors know nothing of what it does.
pub type Enrich = Arc<dyn Fn(&mut [Event]) + Send + Sync>;

/// Settings shared by syslog listeners.
#[derive(Clone)]
pub struct SyslogSettings {
    pub zone: DefaultZone,
    pub enrich: Option<Enrich>,
    pub max_message: usize,
    pub max_connections: usize,
    /// Required for `tls://` listeners.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl fmt::Debug for SyslogSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyslogSettings")
            .field("zone", &self.zone)
            .field("max_message", &self.max_message)
            .field("max_connections", &self.max_connections)
            .field("tls", &self.tls.is_some())
            .field("enrich", &self.enrich.is_some())
            .finish()
    }
}

/// Where listeners put what they read.
pub type EventSender = mpsc::Sender<Vec<Event>>;
/// Where a NetFlow listener puts datagrams it does not decode itself (the engine's WAL).
pub type DatagramSender = mpsc::Sender<Vec<canh_core::Datagram>>;

/// What a NetFlow listener hands on.
#[derive(Clone)]
pub enum NetflowSink {
    /// Decoded flow events (the edge collector: its spool and the wire carry events).
    Events(EventSender),
    /// Datagrams as received, to be made durable first and decoded behind the WAL (the
    /// engine): the listener only reads, checks the allow-list and counts.
    Datagrams(DatagramSender),
}

/// Parses frames from one peer into events and counts them.
pub fn frames_to_events(
    frames: Vec<Frame>,
    settings: &SyslogSettings,
    origin: &Origin,
    stats: &ListenerStats,
) -> Vec<Event> {
    let zone = settings.zone;
    let now = Utc::now();
    let ctx = ParseContext {
        received: now,
        zone,
    };
    let mut events = Vec::with_capacity(frames.len());
    for f in frames {
        let (len, truncated) = (f.original_len, f.is_truncated());
        let mut ev = syslog::parse_owned(f.data, &ctx, origin.clone());
        if truncated {
            ev.warnings
                .push(ParseWarning::Truncated { original_len: len });
        }
        events.push(ev);
    }
    if let Some(enrich) = &settings.enrich {
        enrich(&mut events);
    }
    stats.record_batch(
        origin.peer.map(|p| p.ip()),
        now,
        events.iter().map(|e| RecordOutcome {
            bytes: e.raw.len(),
            unparsed: e.is_unparsed(),
            truncated: e.is_truncated(),
            hostname: e.get_str(field::HOST_HOSTNAME),
        }),
    );
    events
}

/// Binds a listener (so that a bad address fails at start-up, not later).
pub enum Bound {
    Udp(UdpSocket),
    Tcp(TcpListener),
}

pub async fn bind(url: &ListenUrl) -> io::Result<Bound> {
    match url.transport {
        Transport::Udp => {
            let domain = socket2::Domain::for_address(url.addr);
            let s =
                socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
            if let Err(e) = s.set_recv_buffer_size(UDP_RECV_BUFFER) {
                warn!(listener = %url, error = %e, "cannot enlarge UDP receive buffer");
            }
            // no SO_REUSEADDR: on Linux it would let a second process bind the same UDP port
            // and silently take part of the datagrams
            s.set_nonblocking(true)?;
            s.bind(&url.addr.into())?;
            let effective = s.recv_buffer_size().unwrap_or(0);
            debug!(listener = %url, recv_buffer = effective, "udp socket bound");
            Ok(Bound::Udp(UdpSocket::from_std(s.into())?))
        }
        Transport::Tcp | Transport::Tls => Ok(Bound::Tcp(TcpListener::bind(url.addr).await?)),
    }
}

impl Bound {
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Bound::Udp(s) => s.local_addr(),
            Bound::Tcp(l) => l.local_addr(),
        }
    }
}

/// Runs a bound listener until the task is dropped/aborted.
pub async fn serve(
    url: ListenUrl,
    bound: Bound,
    settings: SyslogSettings,
    stats: Arc<ListenerStats>,
    tx: EventSender,
) -> io::Result<()> {
    match (url.transport, bound) {
        (Transport::Udp, Bound::Udp(sock)) => serve_udp(url, sock, settings, stats, tx).await,
        (Transport::Tcp, Bound::Tcp(l)) => serve_stream(url, l, settings, None, stats, tx).await,
        (Transport::Tls, Bound::Tcp(l)) => {
            let cfg = settings.tls.clone().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{url}: TLS listener without a certificate"),
                )
            })?;
            serve_stream(url, l, settings, Some(TlsAcceptor::from(cfg)), stats, tx).await
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "listener bound with the wrong transport",
        )),
    }
}

async fn serve_udp(
    url: ListenUrl,
    sock: UdpSocket,
    settings: SyslogSettings,
    stats: Arc<ListenerStats>,
    tx: EventSender,
) -> io::Result<()> {
    let s2 = stats.clone();
    let _drops = watch_kernel_drops(sock.local_addr()?.port(), move |n| {
        s2.dropped_kernel.store(n, Relaxed)
    });
    let mut buf = vec![0u8; MAX_UDP_DATAGRAM + 1];
    let max = settings.max_message.min(MAX_UDP_DATAGRAM);
    loop {
        let mut batch: Vec<(Frame, SocketAddr)> = Vec::new();
        let (n, peer) = sock.recv_from(&mut buf).await?;
        batch.push((udp_frame(&buf[..n], max), peer));
        while batch.len() < UDP_BATCH {
            match sock.try_recv_from(&mut buf) {
                Ok((n, peer)) => batch.push((udp_frame(&buf[..n], max), peer)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        let mut events = Vec::with_capacity(batch.len());
        for (frame, peer) in batch {
            let origin = Origin::new(url.text.clone(), Some(peer));
            events.extend(frames_to_events(vec![frame], &settings, &origin, &stats));
        }
        if events.is_empty() {
            continue;
        }
        if !hand_on(&tx, events, &stats.dropped_queue).await {
            return Ok(());
        }
    }
}

/// Hands a chunk read from a UDP socket on, waiting at most [`UDP_QUEUE_WAIT`] for room (UDP
/// senders cannot be slowed down); a chunk that finds none is counted in `dropped`, per item.
/// False once the receiver is gone.
async fn hand_on<T>(tx: &mpsc::Sender<Vec<T>>, chunk: Vec<T>, dropped: &AtomicU64) -> bool {
    let n = chunk.len() as u64;
    match tx.send_timeout(chunk, UDP_QUEUE_WAIT).await {
        Ok(()) => true,
        Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
            dropped.fetch_add(n, Relaxed);
            true
        }
        Err(mpsc::error::SendTimeoutError::Closed(_)) => false,
    }
}

fn udp_frame(d: &[u8], max: usize) -> Frame {
    let keep = d.len().min(max);
    Frame {
        data: d[..keep].to_vec(),
        original_len: d.len(),
    }
}

/// Reads the kernel's drop counter of UDP `port` every [`KERNEL_DROPS_INTERVAL`] into `store`,
/// until the returned guard is dropped.
fn watch_kernel_drops(port: u16, store: impl Fn(u64) + Send + 'static) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        let mut tick = tokio::time::interval(KERNEL_DROPS_INTERVAL);
        loop {
            tick.tick().await;
            if let Some(n) = kernel_udp_drops(port) {
                store(n);
            }
        }
    }))
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn serve_stream(
    url: ListenUrl,
    listener: TcpListener,
    settings: SyslogSettings,
    tls: Option<TlsAcceptor>,
    stats: Arc<ListenerStats>,
    tx: EventSender,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    // Connection tasks live in this set: when the listener task is stopped (shutdown), the set
    // is dropped and every connection with it, so no connection keeps the pipeline open.
    let mut conns = tokio::task::JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let (sock, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: wait a little rather than spin
                warn!(listener = %url, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            stats.connections_refused.fetch_add(1, Relaxed);
            warn!(listener = %url, %peer, limit = settings.max_connections, "connection refused: limit reached");
            drop(sock);
            continue;
        };
        let _ = sock.set_nodelay(true);
        stats.connections_total.fetch_add(1, Relaxed);
        let (stats, tx, settings, tls, name) = (
            stats.clone(),
            tx.clone(),
            settings.clone(),
            tls.clone(),
            url.text.clone(),
        );
        conns.spawn(async move {
            stats.connections_open.fetch_add(1, Relaxed);
            let origin = Origin::new(name, Some(peer));
            let res = match tls {
                None => read_stream(sock, &origin, &settings, &stats, &tx).await,
                Some(acceptor) => {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(sock)).await {
                        Ok(Ok(stream)) => {
                            read_stream(stream, &origin, &settings, &stats, &tx).await
                        }
                        Ok(Err(e)) => {
                            stats.tls_handshake_failures.fetch_add(1, Relaxed);
                            info!(listener = %origin.listener, %peer, error = %e, "TLS handshake refused");
                            Ok(())
                        }
                        Err(_) => {
                            stats.tls_handshake_failures.fetch_add(1, Relaxed);
                            info!(listener = %origin.listener, %peer, "TLS handshake timed out");
                            Ok(())
                        }
                    }
                }
            };
            if let Err(e) = res {
                debug!(listener = %origin.listener, %peer, error = %e, "connection ended with an error");
            }
            stats.connections_open.fetch_sub(1, Relaxed);
            drop(permit);
        });
    }
}

async fn read_stream<S: AsyncRead + Unpin>(
    mut s: S,
    origin: &Origin,
    settings: &SyslogSettings,
    stats: &ListenerStats,
    tx: &EventSender,
) -> io::Result<()> {
    let mut framer = Framer::new(settings.max_message);
    let mut buf = vec![0u8; READ_CHUNK];
    let mut frames = Vec::new();
    loop {
        let n = match tokio::time::timeout(STREAM_IDLE_TIMEOUT, s.read(&mut buf)).await {
            Err(_) => {
                // a sender silent this long is gone or holding a slot: close, keeping what came
                framer.finish(&mut frames);
                send_frames(&mut frames, origin, settings, stats, tx).await;
                stats.idle_closed.fetch_add(1, Relaxed);
                return Ok(());
            }
            Ok(r) => r,
        };
        let n = match n {
            Ok(n) => n,
            Err(e) => {
                // flush what was framed so far, then report the error
                framer.finish(&mut frames);
                send_frames(&mut frames, origin, settings, stats, tx).await;
                return Err(e);
            }
        };
        if n == 0 {
            framer.finish(&mut frames);
            send_frames(&mut frames, origin, settings, stats, tx).await;
            return Ok(());
        }
        framer.push(&buf[..n], &mut frames);
        if !send_frames(&mut frames, origin, settings, stats, tx).await {
            return Ok(());
        }
    }
}

/// Sends parsed frames; false when the engine is shutting down.
async fn send_frames(
    frames: &mut Vec<Frame>,
    origin: &Origin,
    settings: &SyslogSettings,
    stats: &ListenerStats,
    tx: &EventSender,
) -> bool {
    if frames.is_empty() {
        return true;
    }
    let events = frames_to_events(std::mem::take(frames), settings, origin, stats);
    tx.send(events).await.is_ok()
}

/// Total datagrams dropped by the kernel on UDP sockets bound to `port` (IPv4 and IPv6),
/// from the last column of `/proc/net/udp` and `/proc/net/udp6`.
pub fn kernel_udp_drops(port: u16) -> Option<u64> {
    let mut total = None;
    for path in ["/proc/net/udp", "/proc/net/udp6"] {
        if let Ok(text) = std::fs::read_to_string(path) {
            let n = udp_drops_from_proc(&text, port);
            total = Some(total.unwrap_or(0) + n);
        }
    }
    total
}

/// Parses a `/proc/net/udp` table: sums the `drops` column of sockets on local `port`.
pub fn udp_drops_from_proc(text: &str, port: u16) -> u64 {
    let want = format!(":{port:04X}");
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let local = cols.get(1)?;
            if !local.ends_with(&want) {
                return None;
            }
            cols.last()?.parse::<u64>().ok()
        })
        .sum()
}

/// Builds the TLS server configuration for `tls://` listeners from PEM bytes. With
/// `client_ca`, clients must present a certificate that chains to it.
pub fn tls_server_config(
    cert_pem: &[u8],
    key_pem: &[u8],
    client_ca_pem: Option<&[u8]>,
) -> Result<Arc<rustls::ServerConfig>, TlsConfigError> {
    let (certs, key) = cert_and_key(cert_pem, key_pem)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsConfigError::Rustls(e.to_string()))?;
    let builder = match client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(ca) => builder.with_client_cert_verifier(client_verifier(ca, provider)?),
    };
    let cfg = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsConfigError::Rustls(e.to_string()))?;
    Ok(Arc::new(cfg))
}

/// A certificate chain and its private key, from PEM.
pub fn cert_and_key(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<
    (
        Vec<rustls::pki_types::CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    ),
    TlsConfigError,
> {
    let certs: Vec<_> = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<Result<_, _>>()
        .map_err(|e| TlsConfigError::Pem("certificate", e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsConfigError::Pem(
            "certificate",
            "no CERTIFICATE block".into(),
        ));
    }
    let key = rustls_pemfile::private_key(&mut &key_pem[..])
        .map_err(|e| TlsConfigError::Pem("private key", e.to_string()))?
        .ok_or_else(|| TlsConfigError::Pem("private key", "no PRIVATE KEY block".into()))?;
    Ok((certs, key))
}

/// Trust anchors from PEM; `what` names the file in errors ("CA", "client CA").
pub fn root_store(pem: &[u8], what: &'static str) -> Result<rustls::RootCertStore, TlsConfigError> {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut &pem[..]) {
        let c = c.map_err(|e| TlsConfigError::Pem(what, e.to_string()))?;
        roots
            .add(c)
            .map_err(|e| TlsConfigError::Rustls(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(TlsConfigError::Pem(what, "no CERTIFICATE block".into()));
    }
    Ok(roots)
}

/// Requires client certificates chaining to the CA in `client_ca_pem`.
pub fn client_verifier(
    client_ca_pem: &[u8],
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsConfigError> {
    rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(root_store(client_ca_pem, "client CA")?),
        provider,
    )
    .build()
    .map_err(|e| TlsConfigError::Rustls(e.to_string()))
}

#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("cannot read {0} PEM: {1}")]
    Pem(&'static str, String),
    #[error("TLS configuration rejected: {0}")]
    Rustls(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u: ListenUrl = "udp://127.0.0.1:5514".parse().unwrap();
        assert_eq!(u.transport, Transport::Udp);
        assert_eq!(u.addr.port(), 5514);
        assert!("http://127.0.0.1:1".parse::<ListenUrl>().is_err());
        assert!("tcp://127.0.0.1".parse::<ListenUrl>().is_err());
        let u: ListenUrl = "tls://[::1]:6514".parse().unwrap();
        assert_eq!(u.text, "tls://[::1]:6514");
    }

    #[test]
    fn proc_net_udp_drops() {
        let t = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
                 12: 0100007F:1586 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1234 2 0000000000000000 17\n\
                 13: 0100007F:0807 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1235 2 0000000000000000 5\n";
        assert_eq!(udp_drops_from_proc(t, 5510), 17);
        assert_eq!(udp_drops_from_proc(t, 2055), 5);
        assert_eq!(udp_drops_from_proc(t, 1), 0);
    }
}

/// Flow events handed on at a time: a datagram can hold thousands of records, so the chunk is
/// closed at this size rather than after a number of datagrams.
pub const NETFLOW_CHUNK_EVENTS: usize = 8192;
/// How often waiting NetFlow data whose template never came is returned raw.
pub const NETFLOW_EXPIRE_INTERVAL: Duration = Duration::from_secs(30);

/// Settings of NetFlow/IPFIX listeners.
#[derive(Clone, Default)]
pub struct NetflowSettings {
    /// Exporters allowed to send (empty: everyone).
    pub allow: Vec<ipnet::IpNet>,
    pub enrich: Option<Enrich>,
}

/// Datagrams handed on at a time by a listener that does not decode them.
pub const NETFLOW_CHUNK_DATAGRAMS: usize = 256;

/// Runs a NetFlow/IPFIX listener until its socket fails or the receiver is gone. With
/// [`NetflowSink::Events`] it decodes (one decoder and template cache per listener, fed in
/// arrival order); with [`NetflowSink::Datagrams`] it hands datagrams on whole.
pub async fn serve_netflow(
    url: ListenUrl,
    sock: UdpSocket,
    settings: NetflowSettings,
    stats: Arc<crate::stats::NetflowStats>,
    sink: NetflowSink,
) -> io::Result<()> {
    let s2 = stats.clone();
    let _drops = watch_kernel_drops(sock.local_addr()?.port(), move |n| {
        s2.dropped_kernel.store(n, Relaxed)
    });
    match sink {
        NetflowSink::Events(tx) => netflow_events(url, sock, settings, stats, tx).await,
        NetflowSink::Datagrams(tx) => netflow_datagrams(url, sock, settings, stats, tx).await,
    }
}

async fn netflow_events(
    url: ListenUrl,
    sock: UdpSocket,
    settings: NetflowSettings,
    stats: Arc<crate::stats::NetflowStats>,
    tx: EventSender,
) -> io::Result<()> {
    let mut decoder = crate::netflow::Decoder::default();
    let mut buf = vec![0u8; MAX_UDP_DATAGRAM + 1];
    let mut expire = tokio::time::interval(NETFLOW_EXPIRE_INTERVAL);
    loop {
        let mut events = tokio::select! {
            r = sock.recv_from(&mut buf) => {
                let (n, peer) = r?;
                let mut events = Vec::new();
                let mut k = 0;
                let mut next = Some((n, peer));
                // take what is already waiting, up to a batch
                while let Some((n, peer)) = next.take() {
                    k += 1;
                    if allowed(&settings, peer, &stats, &url) {
                        let now = Utc::now();
                        count_datagram(&stats, peer, n, now);
                        decode_netflow(&mut decoder, &buf[..n], peer, now, &url.text, Some(&stats), &mut events);
                    }
                    if k < UDP_BATCH && events.len() < NETFLOW_CHUNK_EVENTS {
                        match sock.try_recv_from(&mut buf) {
                            Ok(x) => next = Some(x),
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
                events
            }
            _ = expire.tick() => decoder.expire(Utc::now()).events,
        };
        if events.is_empty() {
            continue;
        }
        if let Some(enrich) = &settings.enrich {
            enrich(&mut events);
        }
        if !hand_on(&tx, events, &stats.dropped_queue).await {
            return Ok(());
        }
    }
}

async fn netflow_datagrams(
    url: ListenUrl,
    sock: UdpSocket,
    settings: NetflowSettings,
    stats: Arc<crate::stats::NetflowStats>,
    tx: DatagramSender,
) -> io::Result<()> {
    let mut buf = vec![0u8; MAX_UDP_DATAGRAM + 1];
    loop {
        let mut chunk = Vec::new();
        let mut next = Some(sock.recv_from(&mut buf).await?);
        while let Some((n, peer)) = next.take() {
            if allowed(&settings, peer, &stats, &url) {
                let now = Utc::now();
                count_datagram(&stats, peer, n, now);
                chunk.push(canh_core::Datagram {
                    listener: url.text.clone(),
                    peer,
                    received: now,
                    data: buf[..n].to_vec(),
                });
            }
            if chunk.len() < NETFLOW_CHUNK_DATAGRAMS {
                match sock.try_recv_from(&mut buf) {
                    Ok(x) => next = Some(x),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
        }
        if chunk.is_empty() {
            continue;
        }
        if !hand_on(&tx, chunk, &stats.dropped_queue_datagrams).await {
            return Ok(());
        }
    }
}

/// Whether the exporter may send here; a refused datagram is counted.
fn allowed(
    settings: &NetflowSettings,
    peer: SocketAddr,
    stats: &crate::stats::NetflowStats,
    url: &ListenUrl,
) -> bool {
    if settings.allow.is_empty()
        || settings
            .allow
            .iter()
            .any(|net| net.contains(&peer.ip().to_canonical()))
    {
        return true;
    }
    stats.refused.fetch_add(1, Relaxed);
    debug!(listener = %url, %peer, "NetFlow datagram from an exporter not on the allow-list");
    false
}

fn count_datagram(
    stats: &crate::stats::NetflowStats,
    peer: SocketAddr,
    bytes: usize,
    now: chrono::DateTime<Utc>,
) {
    stats.record(
        peer.ip(),
        &crate::stats::ExporterStats {
            datagrams: 1,
            bytes: bytes as u64,
            last_seen: Some(now),
            ..Default::default()
        },
    );
}

/// Decodes one datagram from `peer` into `out`, counting records, template misses, decode
/// errors and sequence gaps for the exporter in `stats` (the datagram itself is counted
/// where it is received). The engine calls this behind its WAL, the collector at once.
pub fn decode_netflow(
    decoder: &mut crate::netflow::Decoder,
    data: &[u8],
    peer: SocketAddr,
    received: chrono::DateTime<Utc>,
    listener: &str,
    stats: Option<&crate::stats::NetflowStats>,
    out: &mut Vec<Event>,
) {
    let d = decoder.decode(data, peer, received, listener);
    if let Some(stats) = stats {
        stats.record(
            peer.ip(),
            &crate::stats::ExporterStats {
                records: d.stats.records + d.stats.options_records,
                template_misses: d.stats.template_misses,
                decode_errors: d.stats.decode_errors,
                sequence_gaps: d.stats.sequence_gaps,
                version: d.stats.version,
                ..Default::default()
            },
        );
    }
    out.extend(d.events);
}
