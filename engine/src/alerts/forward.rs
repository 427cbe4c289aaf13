//! Forwarding alerts to the province's IOC (Intelligent Operations Center): the delivery side
//! of the outbox in `DATA/alerts.db`.
//!
//! When the alert stage creates an alert, the store writes one outbox row per configured
//! destination in the same transaction ([`super::store::Store::apply`]). A forwarder per
//! destination ([`spawn`]) takes the rows that are due in id order and delivers each one:
//!
//! - `webhook`: an HTTP(S) `POST` of the alert's JSON with `Content-Type: application/json`,
//!   `Idempotency-Key: <alert uid>` and, with `token_file`, `Authorization: Bearer <token>`.
//!   Only a 2xx answer marks the row delivered. Redirects are not followed (the body and the
//!   token stay with the configured URL) and proxy variables of the environment are ignored:
//!   the IOC is reached directly.
//! - `cef`: syslog over TCP or TLS, RFC 5424 header and a CEF body
//!   (`CEF:0|canh|canh|<version>|<rule>|<title>|<0-10>|…`), octet-counted framing (RFC 6587).
//!   A row is delivered once its frame is written and flushed.
//!
//! A failed delivery is recorded on the row (`attempts`, `last_error`, `next_try`) and the
//! forwarder waits an exponential backoff with jitter ([`FIRST_RETRY`] doubling up to
//! [`MAX_BACKOFF`], or the IOC's `Retry-After` when longer) before it tries the same row
//! again. Nothing is ever dropped: a 4xx other than 408/429 is logged as an error (the IOC or
//! this destination is probably misconfigured) and retried like the rest. Because rows go out
//! strictly in id order, one row the IOC keeps refusing holds back the rows after it; its
//! error is in `canh status` and in the log, naming the alert. (The one exception to the
//! order: a forwarder started while a row still waits for its retry sends the newer rows
//! that are due before it.)
//!
//! ```toml
//! [[forward]]
//! name = "ioc"                          # the outbox key; letters, digits, '-', '_', '.'
//! type = "webhook"
//! url = "https://ioc.example.invalid/api/alerts"
//! token_file = "/etc/canh/ioc.token"    # mode 0600 or stricter, else refused
//! ca = "/etc/canh/ioc-ca.pem"           # optional: trust only this CA
//! timeout_secs = 10                     # optional, 1..=300, default 10
//!
//! [[forward]]
//! name = "ioc-siem"
//! type = "cef"
//! url = "tls://siem.example.invalid:6514"   # or tcp://HOST:PORT
//! ca = "/etc/canh/ioc-ca.pem"
//! ```
//!
//! ```no_run
//! use std::sync::{Arc, atomic::AtomicBool};
//! use canh_engine::alerts::forward::{self, Destination, ForwardStats};
//!
//! #[derive(serde::Deserialize)]
//! struct File { forward: Vec<Destination> }
//!
//! let text = std::fs::read_to_string("/etc/canh/canh.toml").unwrap();
//! let file: File = toml::from_str(&text).unwrap();
//! let problems = forward::validate(&file.forward);
//! assert!(problems.is_empty(), "{}", problems.join("\n"));
//! let stop = Arc::new(AtomicBool::new(false));
//! let workers: Vec<_> = file.forward.into_iter().map(|d| {
//!     let stats = Arc::new(ForwardStats::default());
//!     forward::spawn("/var/lib/canh".into(), d, stats, stop.clone())
//! }).collect();
//! ```
//!
//! Delivery semantics: at least once per destination, deduplicated by the receiver on the
//! idempotency key. A row is marked delivered only after the IOC took it, so a crash or a lost
//! answer between the two sends it again with the same key. Plain TCP syslog has no
//! acknowledgement: the CEF forwarder checks that the receiver has not closed the connection
//! before every frame and reconnects when it has, which narrows but cannot close the window in
//! which a frame written into a dying connection is counted as delivered (RFC 6587 §3.3).
//!
//! Design choices:
//! - **A plain thread per destination with blocking I/O**, not a tokio task: a destination is
//!   one sequential stream in id order, slow-paced (alerts, not events); rusqlite is blocking
//!   anyway; and an IOC that hangs until the timeout ties up only its own thread, never a
//!   runtime worker of the pipeline on this two-core machine.
//! - **HTTP client: `ureq` 3** with its rustls backend on the *ring* provider: rustls 0.23
//!   with ring is the TLS stack canh already uses for its listeners, so no OpenSSL and no
//!   second TLS stack come in; it is blocking (matches the thread), small (no hyper/tower
//!   client, no runtime of its own), maintained, and exposes what this needs (root
//!   certificates, timeouts, redirects off, statuses as values). `reqwest` would pull a
//!   second runtime-bound client stack; hand-written HTTP/1.1 over rustls would be our own
//!   parser of untrusted responses.
//! - **Trust**: with `ca` only the certificates in that PEM file are trusted (the usual case:
//!   the province's own CA, pinned); without it, Mozilla's root set compiled into the binary
//!   (`webpki-roots`), the same for webhook and CEF, whatever the machine's CA store holds.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpStream, ToSocketAddrs};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde::{Deserialize, Serialize};

use super::store::{OutboxItem, Store, fmt_ms};

/// How often an idle forwarder asks the outbox for due rows.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Wait after a first failure; it doubles with every further failure of the same row.
pub const FIRST_RETRY: Duration = Duration::from_secs(1);
/// Longest wait between two tries: an IOC back from maintenance gets the backlog within
/// five minutes, and a dead one costs at most one attempt per five minutes.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Rows read from the outbox per poll (bounds memory; the rest come on the next poll).
pub const BATCH: usize = 100;
/// Timeout of one delivery (connect, TLS handshake, send, answer) when `timeout_secs` is absent.
pub const DEFAULT_TIMEOUT_SECS: u64 = 10;
/// Accepted `timeout_secs`: at least a second, at most five minutes (one stuck delivery
/// holds up the destination's queue for that long).
pub const TIMEOUT_SECS: std::ops::RangeInclusive<u64> = 1..=300;
/// Longest destination name: it is the outbox key and appears in status and metrics.
pub const MAX_NAME_BYTES: usize = 64;
/// Longest error text kept on an outbox row and in the stats.
const MAX_ERROR_BYTES: usize = 1024;
/// Bytes of a refusing answer's body quoted in the error (IOCs often say why there).
const MAX_ANSWER_QUOTE: u64 = 256;
/// Bytes of a 2xx answer read so that the connection can be reused; the rest is dropped.
const MAX_ANSWER_DRAIN: u64 = 64 * 1024;
/// How often a sleeping forwarder looks at `stop` (bounds shutdown latency).
const STOP_CHECK: Duration = Duration::from_millis(100);
/// Syslog facility of CEF messages: 14, "log alert" in RFC 5424's table.
const SYSLOG_FACILITY: u8 = 14;
/// CEF `Device Version`.
const VERSION: &str = env!("CARGO_PKG_VERSION");

// ---- configuration ---------------------------------------------------------------------

/// How a destination is reached.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// JSON `POST` over `http://` or `https://`.
    Webhook,
    /// RFC 5424 syslog with a CEF body over `tcp://` or `tls://`, octet-counted.
    Cef,
}

/// One `[[forward]]` table.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// The outbox `dest` key (what the alert stage passes to `Store::apply`).
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    /// webhook: `http://…` or `https://…`; cef: `tcp://HOST:PORT` or `tls://HOST:PORT`.
    pub url: String,
    /// webhook only: a file holding the bearer token; refused unless mode 0600 or stricter.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// PEM certificates to trust for `https://` / `tls://` instead of Mozilla's roots.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// Timeout of one delivery in seconds ([`DEFAULT_TIMEOUT_SECS`] when absent).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

impl Destination {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS))
    }
}

/// Checks every destination and returns every problem found, each as `forward[i].key: …`
/// (empty when all is well). Reads `token_file` and `ca` to check them.
pub fn validate(dests: &[Destination]) -> Vec<String> {
    let mut errs = Vec::new();
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, d) in dests.iter().enumerate() {
        let mut err = |key: &str, msg: String| errs.push(format!("forward[{i}].{key}: {msg}"));
        if d.name.is_empty() {
            err("name", "empty; every destination needs a name".into());
        } else if d.name.len() > MAX_NAME_BYTES
            || !d
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            err(
                "name",
                format!(
                    "{:?}: expected letters, digits, '-', '_' or '.', at most {MAX_NAME_BYTES} bytes",
                    d.name
                ),
            );
        } else if let Some(j) = names.insert(&d.name, i) {
            err(
                "name",
                format!("{:?} is also the name of forward[{j}]", d.name),
            );
        }
        let secure = match Target::parse(d.kind, &d.url) {
            Ok(t) => Some(t.secure()),
            Err(e) => {
                err("url", format!("{:?}: {e}", d.url));
                None
            }
        };
        if let Some(p) = &d.token_file {
            if d.kind != Kind::Webhook {
                err(
                    "token_file",
                    "only webhook destinations send a token".into(),
                );
            } else if let Err(e) = read_token(p) {
                err("token_file", e.to_string());
            }
        }
        if let Some(p) = &d.ca {
            if secure == Some(false) {
                err(
                    "ca",
                    "a CA is used only with https:// and tls:// URLs".into(),
                );
            }
            if let Err(e) = read_ca(p) {
                err("ca", e.to_string());
            }
        }
        if let Some(t) = d.timeout_secs
            && !TIMEOUT_SECS.contains(&t)
        {
            err("timeout_secs", format!("{t} is outside {TIMEOUT_SECS:?}"));
        }
    }
    errs
}

/// A destination URL, parsed.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    Http { tls: bool },
    Syslog { host: String, port: u16, tls: bool },
}

impl Target {
    fn secure(&self) -> bool {
        match self {
            Target::Http { tls } | Target::Syslog { tls, .. } => *tls,
        }
    }

    fn parse(kind: Kind, url: &str) -> Result<Target, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| "expected SCHEME://…".to_owned())?;
        match kind {
            Kind::Webhook => {
                let tls = match scheme {
                    "http" => false,
                    "https" => true,
                    _ => return Err("a webhook URL starts with http:// or https://".into()),
                };
                let uri: ureq::http::Uri = url.parse().map_err(|e| format!("{e}"))?;
                let auth = uri.authority().ok_or("no host")?;
                if auth.as_str().contains('@') {
                    return Err(
                        "credentials in the URL would end up in logs; use token_file".into(),
                    );
                }
                if auth.host().is_empty() {
                    return Err("no host".into());
                }
                if rest.contains(char::is_whitespace) {
                    return Err("spaces in the URL".into());
                }
                Ok(Target::Http { tls })
            }
            Kind::Cef => {
                let tls = match scheme {
                    "tcp" => false,
                    "tls" => true,
                    _ => return Err("a CEF URL is tcp://HOST:PORT or tls://HOST:PORT".into()),
                };
                let (host, port) = rest
                    .rsplit_once(':')
                    .ok_or("expected HOST:PORT after the scheme")?;
                let bracketed = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
                if bracketed.is_some_and(|h| h.parse::<std::net::Ipv6Addr>().is_err()) {
                    return Err(format!("{host:?} is not an IPv6 address"));
                }
                if bracketed.is_none() && host.contains(':') {
                    return Err(format!(
                        "{host:?}: IPv6 addresses go in brackets, [::1]:6514"
                    ));
                }
                let host = bracketed.unwrap_or(host);
                if host.is_empty() || host.contains(['/', ' ', '@', '[', ']']) {
                    return Err(format!("{host:?} is not a host name or address"));
                }
                let port = match port.parse::<u16>() {
                    Ok(p) if p > 0 => p,
                    _ => return Err(format!("port {port:?} is not 1..=65535")),
                };
                if tls && ServerName::try_from(host).is_err() {
                    return Err(format!("{host:?} cannot be checked against a certificate"));
                }
                Ok(Target::Syslog {
                    host: host.to_owned(),
                    port,
                    tls,
                })
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum LoadError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: mode {mode:o} lets others read the token; run chmod 600 on it", path.display())]
    Mode { path: PathBuf, mode: u32 },
    #[error("{}: {what}", path.display())]
    Content { path: PathBuf, what: String },
}

/// Reads a bearer token, refusing a file that group or others can read.
fn read_token(path: &Path) -> Result<String, LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_owned(),
        source,
    };
    let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(LoadError::Mode {
            path: path.to_owned(),
            mode,
        });
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    let token = text.trim();
    let content = |what: &str| LoadError::Content {
        path: path.to_owned(),
        what: what.to_owned(),
    };
    if token.is_empty() {
        return Err(content("the token file is empty"));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(content(
            "the token has spaces, control or non-ASCII characters; a bearer token cannot",
        ));
    }
    Ok(token.to_owned())
}

/// Reads the PEM certificates of a `ca` file (at least one).
fn read_ca(path: &Path) -> Result<Vec<CertificateDer<'static>>, LoadError> {
    let pem = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_owned(),
        source,
    })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| LoadError::Content {
            path: path.to_owned(),
            what: format!("not PEM certificates: {e}"),
        })?;
    if certs.is_empty() {
        return Err(LoadError::Content {
            path: path.to_owned(),
            what: "no PEM certificate (-----BEGIN CERTIFICATE-----) in it".into(),
        });
    }
    Ok(certs)
}

// ---- stats -----------------------------------------------------------------------------

/// Counters of one forwarder, shared with status output.
#[derive(Debug, Default)]
pub struct ForwardStats {
    delivered: AtomicU64,
    failed: AtomicU64,
    pending: AtomicU64,
    /// 0 when nothing was delivered since start.
    last_delivered_ms: AtomicI64,
    last_error: Mutex<Option<(i64, String)>>,
}

/// What [`ForwardStats::snapshot`] returns.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ForwardSnapshot {
    /// Rows delivered since the forwarder started.
    pub delivered: u64,
    /// Failed attempts since the forwarder started (a row can fail many times).
    pub failed_attempts: u64,
    /// Rows of this destination not delivered yet (due or waiting for a retry).
    pub pending: u64,
    pub last_delivered: Option<String>,
    /// The latest error; it stays after later successes (compare with `last_delivered`).
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
}

impl ForwardStats {
    pub fn snapshot(&self) -> ForwardSnapshot {
        let last = self
            .last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let delivered_ms = self.last_delivered_ms.load(Ordering::Relaxed);
        ForwardSnapshot {
            delivered: self.delivered.load(Ordering::Relaxed),
            failed_attempts: self.failed.load(Ordering::Relaxed),
            pending: self.pending.load(Ordering::Relaxed),
            last_delivered: (delivered_ms != 0).then(|| fmt_ms(delivered_ms)),
            last_error_at: last.as_ref().map(|(at, _)| fmt_ms(*at)),
            last_error: last.map(|(_, e)| e),
        }
    }

    fn delivered(&self) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        self.last_delivered_ms
            .store(Utc::now().timestamp_millis(), Ordering::Relaxed);
    }

    fn failed(&self, error: &str) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.error(error);
    }

    fn error(&self, error: &str) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((Utc::now().timestamp_millis(), clip(error, MAX_ERROR_BYTES)));
    }
}

fn clip(s: &str, max: usize) -> String {
    let mut cut = s.len().min(max);
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s[..cut].to_owned()
}

// ---- the forwarder ---------------------------------------------------------------------

/// Waits between polls and retries.
#[derive(Debug, Clone, Copy)]
struct Pace {
    poll: Duration,
    first_retry: Duration,
    max_backoff: Duration,
}

const PACE: Pace = Pace {
    poll: POLL_INTERVAL,
    first_retry: FIRST_RETRY,
    max_backoff: MAX_BACKOFF,
};

/// The wait after the `failures`-th failure in a row (1-based): `first_retry × 2^(n-1)`,
/// capped, then drawn uniformly from its upper half so that forwarders that failed together
/// do not come back together.
fn backoff(pace: Pace, failures: u32) -> Duration {
    let exp = pace
        .first_retry
        .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
        .min(pace.max_backoff);
    let ms = exp.as_millis() as u64;
    Duration::from_millis(rand::rng().random_range(ms / 2..=ms))
}

/// Starts the forwarder of one destination on its own thread. It opens its own [`Store`]
/// in `data`, delivers the destination's due outbox rows in id order until `stop` is set,
/// and keeps `stats` current. A store or TLS set-up that fails (e.g. the CA file is gone) is
/// retried with backoff and shown in `stats`; the thread ends only when `stop` is set.
pub fn spawn(
    data: PathBuf,
    dest: Destination,
    stats: Arc<ForwardStats>,
    stop: Arc<AtomicBool>,
) -> JoinHandle<()> {
    spawn_paced(data, dest, stats, stop, PACE)
}

fn spawn_paced(
    data: PathBuf,
    dest: Destination,
    stats: Arc<ForwardStats>,
    stop: Arc<AtomicBool>,
    pace: Pace,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name(format!("forward-{}", dest.name))
        .spawn(move || run(&data, &dest, &stats, &stop, pace))
        .expect("spawning a forwarder thread")
}

/// Sleeps `d` unless `stop` is set first; false when stopping.
fn nap(stop: &AtomicBool, d: Duration) -> bool {
    let end = std::time::Instant::now() + d;
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let now = std::time::Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(STOP_CHECK));
    }
}

fn run(data: &Path, dest: &Destination, stats: &ForwardStats, stop: &AtomicBool, pace: Pace) {
    let name = dest.name.as_str();
    let mut setup_failures = 0;
    let (mut store, mut sender) = loop {
        let set_up = Store::open(data)
            .map_err(|e| e.to_string())
            .and_then(|s| Sender::new(dest).map(|x| (s, x)));
        match set_up {
            Ok(v) => break v,
            Err(e) => {
                setup_failures += 1;
                tracing::error!(dest = name, error = %e, "forwarder cannot start; retrying");
                stats.error(&e);
                if !nap(stop, backoff(pace, setup_failures)) {
                    return;
                }
            }
        }
    };
    tracing::info!(dest = name, url = %dest.url, "forwarding alerts");
    while !stop.load(Ordering::Relaxed) {
        match store.outbox_counts() {
            Ok(c) => {
                let pending = c.iter().find(|(d, ..)| d == name).map_or(0, |c| c.1);
                stats.pending.store(pending, Ordering::Relaxed);
            }
            Err(e) => stats.error(&e.to_string()),
        }
        let items = match store.outbox_due(name, BATCH) {
            Ok(items) => items,
            Err(e) => {
                tracing::error!(dest = name, error = %e, "cannot read the outbox");
                stats.error(&e.to_string());
                nap(stop, pace.poll);
                continue;
            }
        };
        if items.is_empty() {
            nap(stop, pace.poll);
            continue;
        }
        for item in &items {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            match sender.send(item) {
                Ok(()) => {
                    if let Err(e) = store.outbox_delivered(item.id) {
                        // Sent but not recorded: it goes again, with the same key.
                        tracing::error!(dest = name, alert = item.alert_id, error = %e,
                            "delivered but not recorded; it will be sent again");
                        stats.error(&e.to_string());
                        nap(stop, pace.poll);
                        break;
                    }
                    stats.delivered();
                    tracing::debug!(dest = name, alert = item.alert_id, "alert delivered");
                }
                Err(f) => {
                    let failures = item.attempts.saturating_add(1);
                    let mut wait = backoff(pace, failures);
                    if let Some(after) = f.retry_after {
                        wait = wait.max(after.min(pace.max_backoff));
                    }
                    let retry_at = Utc::now().timestamp_millis() + wait.as_millis() as i64;
                    let msg = clip(&f.msg, MAX_ERROR_BYTES);
                    stats.failed(&msg);
                    if f.refused {
                        tracing::error!(dest = name, alert = item.alert_id, attempts = failures,
                            retry_in_ms = wait.as_millis() as u64, error = %msg,
                            "the IOC refused the alert; check the destination's configuration");
                    } else {
                        tracing::warn!(dest = name, alert = item.alert_id, attempts = failures,
                            retry_in_ms = wait.as_millis() as u64, error = %msg,
                            "alert not delivered; will retry");
                    }
                    if let Err(e) = store.outbox_failed(item.id, &msg, retry_at) {
                        tracing::error!(dest = name, error = %e, "cannot record a failed delivery");
                        stats.error(&e.to_string());
                    }
                    // The whole destination waits: rows go out in id order.
                    nap(stop, wait);
                    break;
                }
            }
        }
    }
}

/// Why a delivery failed.
#[derive(Debug)]
struct Failure {
    msg: String,
    /// The receiver answered and said no in a way retrying will not fix by itself
    /// (4xx other than 408/429, a redirect): logged as an error.
    refused: bool,
    /// The receiver's `Retry-After`, in seconds.
    retry_after: Option<Duration>,
}

impl Failure {
    fn transient(msg: String) -> Failure {
        Failure {
            msg,
            refused: false,
            retry_after: None,
        }
    }
}

enum Sender {
    Webhook(Webhook),
    Cef(Cef),
}

impl Sender {
    fn new(d: &Destination) -> Result<Sender, String> {
        let target = Target::parse(d.kind, &d.url).map_err(|e| format!("{}: {e}", d.url))?;
        let roots = match &d.ca {
            Some(p) => Some(read_ca(p).map_err(|e| e.to_string())?),
            None => None,
        };
        Ok(match target {
            Target::Http { tls } => {
                if !tls && d.token_file.is_some() && !is_loopback_url(&d.url) {
                    tracing::warn!(dest = %d.name, url = %d.url,
                        "the bearer token crosses the network in clear over http://");
                }
                Sender::Webhook(Webhook::new(d, roots))
            }
            Target::Syslog { host, port, tls } => {
                Sender::Cef(Cef::new(host, port, tls, roots, d.timeout())?)
            }
        })
    }

    fn send(&mut self, item: &OutboxItem) -> Result<(), Failure> {
        match self {
            Sender::Webhook(w) => w.send(item),
            Sender::Cef(c) => c.send(item),
        }
    }
}

fn is_loopback_url(url: &str) -> bool {
    url.parse::<ureq::http::Uri>().is_ok_and(|u| {
        u.host().is_some_and(|h| {
            h == "localhost"
                || h.trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|a| a.is_loopback())
        })
    })
}

// ---- webhook ---------------------------------------------------------------------------

struct Webhook {
    agent: ureq::Agent,
    url: String,
    token_file: Option<PathBuf>,
}

impl Webhook {
    fn new(d: &Destination, roots: Option<Vec<CertificateDer<'static>>>) -> Webhook {
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(roots) = roots {
            let certs: Vec<_> = roots
                .iter()
                .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
                .collect();
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        let config = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .timeout_global(Some(d.timeout()))
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(None)
            .user_agent(format!("canh/{VERSION}"))
            .build();
        Webhook {
            agent: config.into(),
            url: d.url.clone(),
            token_file: d.token_file.clone(),
        }
    }

    fn send(&mut self, item: &OutboxItem) -> Result<(), Failure> {
        let mut req = self
            .agent
            .post(self.url.as_str())
            .header("Idempotency-Key", item.idem_key.as_str())
            .header("Content-Type", "application/json");
        // Read at every delivery: a rotated token is picked up, a loosened mode refused.
        if let Some(p) = &self.token_file {
            let token = read_token(p).map_err(|e| Failure::transient(e.to_string()))?;
            req = req.header("Authorization", format!("Bearer {token}"));
        }
        let mut answer = req
            .send(item.payload.as_bytes())
            .map_err(|e| Failure::transient(format!("{}: {e}", self.url)))?;
        let status = answer.status().as_u16();
        if (200..300).contains(&status) {
            let mut sink = Vec::new();
            let _ = answer
                .body_mut()
                .as_reader()
                .take(MAX_ANSWER_DRAIN)
                .read_to_end(&mut sink);
            return Ok(());
        }
        let retry_after = answer
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let location = answer
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(|l| format!(" (redirect to {l} not followed)"))
            .unwrap_or_default();
        let mut quote = Vec::new();
        let _ = answer
            .body_mut()
            .as_reader()
            .take(MAX_ANSWER_QUOTE)
            .read_to_end(&mut quote);
        let quote: String = String::from_utf8_lossy(&quote)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let quote = quote.trim();
        let refused = (300..400).contains(&status)
            || ((400..500).contains(&status) && status != 408 && status != 429);
        Err(Failure {
            msg: format!(
                "{} answered {status}{location}{}{quote}",
                self.url,
                if quote.is_empty() { "" } else { ": " }
            ),
            refused,
            retry_after,
        })
    }
}

// ---- CEF over syslog -------------------------------------------------------------------

struct Cef {
    host: String,
    port: u16,
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    timeout: Duration,
    hostname: String,
    conn: Option<Conn>,
}

enum Conn {
    Tcp(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Conn {
    /// Whether the receiver has closed the connection (or it broke). Syslog receivers never
    /// send anything, so readable bytes on plain TCP are ignored; on TLS they are records
    /// (session tickets, close_notify) that rustls processes.
    fn peer_gone(&mut self) -> bool {
        let sock = match self {
            Conn::Tcp(s) => s,
            Conn::Tls(s) => &s.sock,
        };
        if sock.set_nonblocking(true).is_err() {
            return true;
        }
        let mut b = [0u8; 1];
        let gone = match sock.peek(&mut b) {
            Ok(0) => true,
            Ok(_) => match self {
                Conn::Tcp(s) => {
                    let mut junk = [0u8; 4096];
                    matches!(s.read(&mut junk), Ok(0) | Err(_))
                }
                Conn::Tls(s) => match s.conn.read_tls(&mut s.sock) {
                    Ok(0) => true,
                    Ok(_) => match s.conn.process_new_packets() {
                        Ok(st) => {
                            let mut left = st.plaintext_bytes_to_read();
                            let mut junk = [0u8; 4096];
                            while left > 0 {
                                match s.conn.reader().read(&mut junk) {
                                    Ok(n) if n > 0 => left = left.saturating_sub(n),
                                    _ => break,
                                }
                            }
                            st.peer_has_closed()
                        }
                        Err(_) => true,
                    },
                    Err(e) => e.kind() != io::ErrorKind::WouldBlock,
                },
            },
            Err(e) => e.kind() != io::ErrorKind::WouldBlock,
        };
        let sock = match self {
            Conn::Tcp(s) => s,
            Conn::Tls(s) => &s.sock,
        };
        gone || sock.set_nonblocking(false).is_err()
    }

    fn write_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => {
                s.write_all(frame)?;
                s.flush()
            }
            Conn::Tls(s) => {
                s.write_all(frame)?;
                s.flush()
            }
        }
    }
}

impl Cef {
    fn new(
        host: String,
        port: u16,
        tls: bool,
        roots: Option<Vec<CertificateDer<'static>>>,
        timeout: Duration,
    ) -> Result<Cef, String> {
        let tls = if tls {
            let mut store = rustls::RootCertStore::empty();
            match roots {
                Some(certs) => {
                    for c in certs {
                        store
                            .add(c)
                            .map_err(|e| format!("ca: a certificate rustls cannot use: {e}"))?;
                    }
                }
                None => store.roots = webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS set-up: {e}"))?
                .with_root_certificates(store)
                .with_no_client_auth();
            let name = ServerName::try_from(host.clone())
                .map_err(|e| format!("{host}: not a TLS server name: {e}"))?;
            Some((Arc::new(config), name))
        } else {
            None
        };
        Ok(Cef {
            host,
            port,
            tls,
            timeout,
            hostname: local_hostname(),
            conn: None,
        })
    }

    fn peer(&self) -> String {
        let scheme = if self.tls.is_some() { "tls" } else { "tcp" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }

    fn connect(&self) -> io::Result<Conn> {
        let mut last = None;
        let mut sock = None;
        for a in (self.host.as_str(), self.port).to_socket_addrs()? {
            match TcpStream::connect_timeout(&a, self.timeout) {
                Ok(s) => {
                    sock = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let mut sock = match (sock, last) {
            (Some(s), _) => s,
            (None, Some(e)) => return Err(e),
            (None, None) => return Err(io::Error::other("the host name has no address")),
        };
        sock.set_write_timeout(Some(self.timeout))?;
        sock.set_read_timeout(Some(self.timeout))?;
        sock.set_nodelay(true)?;
        let Some((config, name)) = &self.tls else {
            return Ok(Conn::Tcp(sock));
        };
        let mut conn = rustls::ClientConnection::new(config.clone(), name.clone())
            .map_err(io::Error::other)?;
        while conn.is_handshaking() {
            if conn.complete_io(&mut sock)? == (0, 0) {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the receiver closed the connection during the TLS handshake",
                ));
            }
        }
        Ok(Conn::Tls(Box::new(rustls::StreamOwned::new(conn, sock))))
    }

    fn send(&mut self, item: &OutboxItem) -> Result<(), Failure> {
        let alert: AlertDoc = serde_json::from_str(&item.payload).map_err(|e| Failure {
            msg: format!("outbox row {}: the alert JSON does not read: {e}", item.id),
            refused: true,
            retry_after: None,
        })?;
        let frame = octet_counted(&syslog_message(&alert, &self.hostname, std::process::id()));
        if self.conn.as_mut().is_some_and(Conn::peer_gone) {
            self.conn = None;
        }
        let conn = match &mut self.conn {
            Some(c) => c,
            None => {
                let c = self
                    .connect()
                    .map_err(|e| Failure::transient(format!("{}: {e}", self.peer())))?;
                self.conn.insert(c)
            }
        };
        conn.write_frame(&frame).map_err(|e| {
            self.conn = None;
            Failure::transient(format!("{}: {e}", self.peer()))
        })
    }
}

/// This machine's name for the RFC 5424 HOSTNAME field, or NILVALUE.
fn local_hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| {
            let h = std::fs::read_to_string(p).ok()?;
            let h = h.trim();
            (!h.is_empty() && h.len() <= 255 && h.bytes().all(|b| b.is_ascii_graphic()))
                .then(|| h.to_owned())
        })
        .unwrap_or_else(|| "-".to_owned())
}

/// The fields of [`super::store::Alert`] a CEF message uses, read back from the payload.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AlertDoc {
    id: i64,
    uid: String,
    rule: String,
    title: String,
    level: String,
    kind: String,
    tags: Vec<String>,
    description: Option<String>,
    group: BTreeMap<String, String>,
    first_seen: String,
    last_seen: String,
    count: u64,
    created: String,
    search: String,
}

/// CEF severity (0-10) of a Sigma level.
fn cef_severity(level: &str) -> u8 {
    match level {
        "informational" => 1,
        "low" => 3,
        "medium" => 5,
        "high" => 8,
        "critical" => 10,
        _ => 5,
    }
}

/// Syslog severity of a Sigma level.
fn syslog_severity(level: &str) -> u8 {
    match level {
        "critical" => 2,
        "high" => 3,
        "medium" => 4,
        "low" => 5,
        "informational" => 6,
        _ => 4,
    }
}

/// A CEF header field: `\` and `|` escaped; line breaks, which a header cannot hold, become
/// spaces.
fn cef_header(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '|' => o.push_str("\\|"),
            '\r' | '\n' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// A CEF extension value: `\`, `=` and line breaks escaped. A `|` stays as it is: the CEF
/// standard says pipes in the extension need no escaping, and parsers that follow it would
/// keep a `\|` as two characters.
fn cef_value(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '=' => o.push_str("\\="),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            c => o.push(c),
        }
    }
    o
}

fn rfc3339_ms(t: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// The CEF message of an alert.
fn cef_message(a: &AlertDoc) -> String {
    let mut ext: Vec<(&str, String)> = Vec::new();
    for (key, t) in [
        ("rt", &a.created),
        ("start", &a.first_seen),
        ("end", &a.last_seen),
    ] {
        if let Some(ms) = rfc3339_ms(t) {
            ext.push((key, ms.to_string()));
        }
    }
    ext.push(("cnt", a.count.to_string()));
    ext.push(("cat", a.kind.clone()));
    ext.push((
        "msg",
        a.description.clone().unwrap_or_else(|| a.title.clone()),
    ));
    ext.push(("externalId", a.uid.clone()));
    ext.push(("cn1Label", "canh alert id".into()));
    ext.push(("cn1", a.id.to_string()));
    ext.push(("cs1Label", "level".into()));
    ext.push(("cs1", a.level.clone()));
    if !a.group.is_empty() {
        ext.push(("cs2Label", "group".into()));
        ext.push((
            "cs2",
            serde_json::to_string(&a.group).expect("a string map serializes"),
        ));
    }
    if !a.tags.is_empty() {
        ext.push(("cs3Label", "tags".into()));
        ext.push(("cs3", a.tags.join(",")));
    }
    if !a.search.is_empty() {
        ext.push(("cs4Label", "canh search".into()));
        ext.push(("cs4", a.search.clone()));
    }
    // The group's ECS fields that have a CEF key of their own (addresses: IPv4 only).
    for (ecs, key) in [
        ("source.ip", "src"),
        ("destination.ip", "dst"),
        ("source.port", "spt"),
        ("destination.port", "dpt"),
        ("user.name", "suser"),
    ] {
        let Some(v) = a.group.get(ecs) else { continue };
        let ok = match key {
            "src" | "dst" => v.parse::<Ipv4Addr>().is_ok(),
            "spt" | "dpt" => v.parse::<u16>().is_ok(),
            _ => true,
        };
        if ok {
            ext.push((key, v.clone()));
        }
    }
    let ext: Vec<String> = ext
        .iter()
        .map(|(k, v)| format!("{k}={}", cef_value(v)))
        .collect();
    format!(
        "CEF:0|canh|canh|{}|{}|{}|{}|{}",
        cef_header(VERSION),
        cef_header(&a.rule),
        cef_header(&a.title),
        cef_severity(&a.level),
        ext.join(" ")
    )
}

/// RFC 5424: `<PRI>1 TIMESTAMP HOSTNAME canh PROCID alert - CEF:…` (no BOM: CEF receivers
/// take the body as UTF-8 without one). TIMESTAMP is the alert's creation, so a retried
/// message is the same message.
fn syslog_message(a: &AlertDoc, hostname: &str, pid: u32) -> String {
    let pri = SYSLOG_FACILITY * 8 + syslog_severity(&a.level);
    let ts = DateTime::parse_from_rfc3339(&a.created)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now())
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    format!(
        "<{pri}>1 {ts} {hostname} canh {pid} alert - {}",
        cef_message(a)
    )
}

/// RFC 6587 octet counting: `MSG-LEN SP SYSLOG-MSG`.
fn octet_counted(msg: &str) -> Vec<u8> {
    let mut f = format!("{} ", msg.len()).into_bytes();
    f.extend_from_slice(msg.as_bytes());
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::store::{AlertInput, Sample};
    use std::collections::VecDeque;
    use std::io::BufRead;
    use std::net::TcpListener;
    use std::process::{Command, Stdio};
    use std::time::Instant;

    /// Fast enough for tests, same logic.
    const TEST_PACE: Pace = Pace {
        poll: Duration::from_millis(20),
        first_retry: Duration::from_millis(40),
        max_backoff: Duration::from_millis(300),
    };

    fn raise(rule: &str, title: &str, group: &[(&str, &str)], seq: u64) -> AlertInput {
        AlertInput {
            rule: rule.into(),
            title: title.into(),
            level: "high".into(),
            kind: "detection".into(),
            tags: vec!["attack.t1110".into()],
            description: None,
            group: group
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            window_start_ms: 1_000,
            time_ms: 1_000 + seq as i64,
            new: true,
            count: 1,
            value: None,
            seq,
            sample: Some(Sample {
                time: fmt_ms(1_000),
                host: Some("web01".into()),
                message: Some("Failed password".into()),
                raw: "<38>raw".into(),
                fields: BTreeMap::new(),
            }),
        }
    }

    fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
        let end = Instant::now() + limit;
        while !cond() {
            assert!(Instant::now() < end, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// (pending, delivered) of one destination.
    fn counts(data: &Path, dest: &str) -> (u64, u64) {
        Store::open(data)
            .unwrap()
            .outbox_counts()
            .unwrap()
            .into_iter()
            .find(|(d, ..)| d == dest)
            .map_or((0, 0), |(_, p, d)| (p, d))
    }

    fn dest(name: &str, kind: Kind, url: String) -> Destination {
        Destination {
            name: name.into(),
            kind,
            url,
            token_file: None,
            ca: None,
            timeout_secs: Some(2),
        }
    }

    struct Forwarder {
        stop: Arc<AtomicBool>,
        stats: Arc<ForwardStats>,
        thread: Option<JoinHandle<()>>,
    }

    impl Forwarder {
        fn start(data: &Path, d: &Destination) -> Forwarder {
            let stop = Arc::new(AtomicBool::new(false));
            let stats = Arc::new(ForwardStats::default());
            let thread = spawn_paced(
                data.to_owned(),
                d.clone(),
                stats.clone(),
                stop.clone(),
                TEST_PACE,
            );
            Forwarder {
                stop,
                stats,
                thread: Some(thread),
            }
        }

        fn stop(mut self) -> ForwardSnapshot {
            self.stop.store(true, Ordering::Relaxed);
            self.thread.take().unwrap().join().unwrap();
            self.stats.snapshot()
        }
    }

    impl Drop for Forwarder {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Relaxed);
        }
    }

    // ---- a real HTTP receiver ----

    #[derive(Debug, Clone)]
    struct Received {
        idem_key: String,
        auth: Option<String>,
        content_type: Option<String>,
        body: serde_json::Value,
        status: u16,
    }

    #[derive(Default)]
    struct Receiver {
        got: Mutex<Vec<Received>>,
        /// Statuses to answer first, in order; 200 after them.
        script: Mutex<VecDeque<u16>>,
    }

    impl Receiver {
        fn accepted(&self) -> Vec<Received> {
            self.got
                .lock()
                .unwrap()
                .iter()
                .filter(|r| r.status == 200)
                .cloned()
                .collect()
        }
    }

    async fn hook(
        axum::extract::State(r): axum::extract::State<Arc<Receiver>>,
        headers: axum::http::HeaderMap,
        body: axum::body::Bytes,
    ) -> axum::http::StatusCode {
        let h = |k: &str| {
            headers
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let status = r.script.lock().unwrap().pop_front().unwrap_or(200);
        r.got.lock().unwrap().push(Received {
            idem_key: h("idempotency-key").unwrap_or_default(),
            auth: h("authorization"),
            content_type: h("content-type"),
            body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
            status,
        });
        axum::http::StatusCode::from_u16(status).unwrap()
    }

    /// Serves the receiver on `addr` (which must be free) until the runtime is dropped.
    fn serve(rt: &tokio::runtime::Runtime, addr: std::net::SocketAddr, r: Arc<Receiver>) {
        let app = axum::Router::new()
            .route("/alerts", axum::routing::post(hook))
            .with_state(r);
        let l = rt.block_on(tokio::net::TcpListener::bind(addr)).unwrap();
        rt.spawn(async move { axum::serve(l, app).await });
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    }

    /// A port that nothing listens on (bound, then closed).
    fn closed_port() -> std::net::SocketAddr {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    }

    fn token_file(dir: &Path, token: &str, mode: u32) -> PathBuf {
        let p = dir.join(format!("token-{mode:o}"));
        std::fs::write(&p, format!("{token}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn webhook_delivers_each_alert_once_after_the_ioc_comes_back() {
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let mut store = Store::open(&data).unwrap();
        let dests = ["ioc".to_owned()];
        let batch: Vec<_> = (1..=3)
            .map(|i| {
                raise(
                    "ssh_brute",
                    "SSH brute force",
                    &[("source.ip", &format!("203.0.113.{i}"))],
                    i,
                )
            })
            .collect();
        assert_eq!(store.apply(&batch, &dests).unwrap().len(), 3);

        let addr = closed_port();
        let mut hook_dest = dest("ioc", Kind::Webhook, format!("http://{addr}/alerts"));
        let token = "c0ffee".repeat(8);
        hook_dest.token_file = Some(token_file(d.path(), &token, 0o600));
        assert_eq!(validate(&[hook_dest.clone()]), Vec::<String>::new());

        // The IOC is down: attempts fail, are recorded, nothing is delivered.
        let fwd = Forwarder::start(&data, &hook_dest);
        wait_for("failed attempts", Duration::from_secs(10), || {
            fwd.stats.snapshot().failed_attempts >= 3
        });
        let snap = fwd.stats.snapshot();
        assert_eq!(snap.delivered, 0);
        assert_eq!(snap.pending, 3);
        assert!(snap.last_error.unwrap().contains(&addr.to_string()));
        assert_eq!(counts(&data, "ioc"), (3, 0));

        // The IOC comes back on the same port.
        let rt = runtime();
        let recv = Arc::new(Receiver::default());
        serve(&rt, addr, recv.clone());
        wait_for("3 deliveries", Duration::from_secs(10), || {
            counts(&data, "ioc") == (0, 3)
        });
        let snap = fwd.stop();
        assert_eq!(snap.delivered, 3);
        assert!(snap.last_delivered.is_some());

        let alerts = store.list(&Default::default()).unwrap();
        let mut uids: Vec<_> = alerts.iter().map(|a| a.uid.clone()).collect();
        uids.sort();
        let got = recv.accepted();
        let mut keys: Vec<_> = got.iter().map(|r| r.idem_key.clone()).collect();
        keys.sort();
        assert_eq!(keys, uids, "each alert exactly once, keyed by its uid");
        for r in &got {
            assert_eq!(r.auth.as_deref(), Some(format!("Bearer {token}").as_str()));
            assert_eq!(r.content_type.as_deref(), Some("application/json"));
            assert_eq!(r.body["uid"], r.idem_key.as_str());
            assert_eq!(r.body["rule"], "ssh_brute");
        }
        // In id order.
        let ids: Vec<_> = got.iter().map(|r| r.body["id"].as_i64().unwrap()).collect();
        assert!(ids.is_sorted(), "{ids:?}");

        // A restarted forwarder sends only what is new.
        let late = raise(
            "ssh_root",
            "SSH root login",
            &[("source.ip", "198.51.100.9")],
            9,
        );
        assert_eq!(store.apply(&[late], &dests).unwrap().len(), 1);
        let fwd = Forwarder::start(&data, &hook_dest);
        wait_for("the new alert", Duration::from_secs(10), || {
            counts(&data, "ioc") == (0, 4)
        });
        // Give a wrongly re-sending forwarder the chance to show itself.
        std::thread::sleep(TEST_PACE.poll * 10);
        let snap = fwd.stop();
        assert_eq!((snap.delivered, snap.failed_attempts), (1, 0));
        let got = recv.accepted();
        assert_eq!(got.len(), 4);
        let mut keys: Vec<_> = got.iter().map(|r| r.idem_key.as_str()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 4, "nothing sent twice");
        assert_eq!(got[3].body["rule"], "ssh_root");
    }

    #[test]
    fn webhook_refusals_are_retried_never_dropped() {
        let d = tempfile::tempdir().unwrap();
        let data = d.path();
        let mut store = Store::open(data).unwrap();
        let dests = ["ioc".to_owned()];
        store
            .apply(&[raise("r1", "one", &[("host.name", "a")], 1)], &dests)
            .unwrap();
        let rt = runtime();
        let recv = Arc::new(Receiver::default());
        // A misconfigured IOC (400), then an overloaded one (429, 503), then it takes it.
        recv.script.lock().unwrap().extend([400, 429, 503]);
        let addr = closed_port();
        serve(&rt, addr, recv.clone());
        let fwd = Forwarder::start(
            data,
            &dest("ioc", Kind::Webhook, format!("http://{addr}/alerts")),
        );
        wait_for("delivery", Duration::from_secs(10), || {
            counts(data, "ioc") == (0, 1)
        });
        let snap = fwd.stop();
        assert_eq!((snap.delivered, snap.failed_attempts), (1, 3));
        assert!(snap.last_error.unwrap().contains("answered 503"));
        let got = recv.got.lock().unwrap().clone();
        let statuses: Vec<_> = got.iter().map(|r| r.status).collect();
        assert_eq!(statuses, [400, 429, 503, 200]);
        assert!(got.iter().all(|r| r.idem_key == got[0].idem_key));
        assert!(got.iter().all(|r| r.auth.is_none()));
    }

    #[test]
    fn backoff_doubles_within_its_cap() {
        for (failures, lo, hi) in [
            (1, 500, 1_000),
            (2, 1_000, 2_000),
            (4, 4_000, 8_000),
            (9, 128_000, 256_000),
            (10, 150_000, 300_000),
            (40, 150_000, 300_000),
            (u32::MAX, 150_000, 300_000),
        ] {
            for _ in 0..20 {
                let ms = backoff(PACE, failures).as_millis() as u64;
                assert!(
                    (lo..=hi).contains(&ms),
                    "{failures}: {ms} not in {lo}..={hi}"
                );
            }
        }
    }

    // ---- CEF ----

    /// Reads one RFC 6587 octet-counted frame; None at end of stream.
    fn read_frame(r: &mut impl BufRead) -> Option<String> {
        let mut len = Vec::new();
        if r.read_until(b' ', &mut len).ok()? == 0 {
            return None;
        }
        let n: usize = std::str::from_utf8(&len[..len.len() - 1])
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("bad frame length {len:?}"));
        let mut msg = vec![0; n];
        r.read_exact(&mut msg).ok()?;
        Some(String::from_utf8(msg).unwrap())
    }

    /// Splits `<PRI>1 TS HOST APP PROCID MSGID SD MSG`.
    fn syslog_parts(m: &str) -> (Vec<&str>, &str) {
        let parts: Vec<&str> = m.splitn(8, ' ').collect();
        (parts[..7].to_vec(), parts[7])
    }

    /// Parses a CEF message into its 7 header fields and its extension, undoing escapes.
    fn parse_cef(m: &str) -> (Vec<String>, BTreeMap<String, String>) {
        let mut header = Vec::new();
        let mut cur = String::new();
        let mut chars = m.chars();
        while header.len() < 7 {
            match chars.next().expect("7 header fields") {
                '\\' => cur.push(chars.next().unwrap()),
                '|' => header.push(std::mem::take(&mut cur)),
                c => cur.push(c),
            }
        }
        let rest: String = chars.collect();
        // Unescape, remembering which characters were escaped; every unescaped '=' ends a
        // key, which starts after the last unescaped space before it.
        let mut cs = Vec::new();
        let mut it = rest.chars();
        while let Some(c) = it.next() {
            if c == '\\' {
                let e = match it.next().unwrap() {
                    'n' => '\n',
                    'r' => '\r',
                    e => e,
                };
                cs.push((e, true));
            } else {
                cs.push((c, false));
            }
        }
        let eqs: Vec<usize> = (0..cs.len()).filter(|&i| cs[i] == ('=', false)).collect();
        let key_start = |eq: usize| {
            cs[..eq]
                .iter()
                .rposition(|&c| c == (' ', false))
                .map_or(0, |p| p + 1)
        };
        let text = |r: &[(char, bool)]| r.iter().map(|c| c.0).collect::<String>();
        let mut ext = BTreeMap::new();
        for (n, &eq) in eqs.iter().enumerate() {
            let end = eqs.get(n + 1).map_or(cs.len(), |&next| key_start(next) - 1);
            ext.insert(text(&cs[key_start(eq)..eq]), text(&cs[eq + 1..end]));
        }
        (header, ext)
    }

    /// An accepted connection's frames, sent over a channel, one connection after another.
    fn frame_server(
        l: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> std::sync::mpsc::Receiver<(usize, String)> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for (n, s) in l.incoming().enumerate() {
                let Ok(s) = s else { return };
                let tx = tx.clone();
                let tls = tls.clone();
                std::thread::spawn(move || {
                    let r: Box<dyn Read> = match tls {
                        Some(cfg) => {
                            let c = rustls::ServerConnection::new(cfg).unwrap();
                            Box::new(rustls::StreamOwned::new(c, s))
                        }
                        None => Box::new(s),
                    };
                    let mut r = io::BufReader::new(r);
                    while let Some(f) = read_frame(&mut r) {
                        if tx.send((n, f)).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        rx
    }

    #[test]
    fn cef_frames_are_octet_counted_escaped_and_survive_a_receiver_restart() {
        let d = tempfile::tempdir().unwrap();
        let data = d.path();
        let mut store = Store::open(data).unwrap();
        let dests = ["siem".to_owned()];
        let mut tricky = raise(
            "web|shell\\x",
            "Web shell | upload\nnext",
            &[
                ("source.ip", "203.0.113.5"),
                ("destination.port", "443"),
                ("user.name", "a=b\\c|d"),
            ],
            1,
        );
        tricky.description = Some("line one\nline two = x\r\\end | pipe".into());
        tricky.level = "critical".into();
        store.apply(&[tricky], &dests).unwrap();

        // First the receiver is down, then it accepts one connection, reads one frame and
        // closes it; the next alert must go over a new connection.
        let addr = closed_port();
        let fwd = Forwarder::start(data, &dest("siem", Kind::Cef, format!("tcp://{addr}")));
        wait_for("failed attempts", Duration::from_secs(10), || {
            fwd.stats.snapshot().failed_attempts >= 2
        });
        assert_eq!(counts(data, "siem"), (1, 0));
        let l = TcpListener::bind(addr).unwrap();
        let (s, _) = l.accept().unwrap();
        let mut r = io::BufReader::new(s);
        let first = read_frame(&mut r).expect("a frame");
        wait_for("delivery", Duration::from_secs(10), || {
            counts(data, "siem") == (0, 1)
        });
        drop(r);
        let rx = frame_server(l, None);
        // Let the FIN arrive before the next alert exists.
        std::thread::sleep(Duration::from_millis(100));
        store
            .apply(
                &[raise("plain", "Plain", &[("source.ip", "2001:db8::1")], 2)],
                &dests,
            )
            .unwrap();
        let (conn, second) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("second frame");
        assert_eq!(conn, 0, "the first connection of the new accept loop");
        wait_for("delivery", Duration::from_secs(10), || {
            counts(data, "siem") == (0, 2)
        });
        let snap = fwd.stop();
        assert_eq!(snap.delivered, 2);

        let alert = store
            .list(&Default::default())
            .unwrap()
            .into_iter()
            .find(|a| a.rule == "web|shell\\x")
            .unwrap();
        let (hdr, cef) = syslog_parts(&first);
        assert_eq!(hdr[0], format!("<{}>1", 14 * 8 + 2));
        assert!(rfc3339_ms(hdr[1]).is_some(), "{}", hdr[1]);
        let pid = std::process::id().to_string();
        assert_eq!(&hdr[3..], ["canh", pid.as_str(), "alert", "-"]);
        assert!(cef.starts_with("CEF:0|canh|canh|"));
        assert!(
            cef.contains("|web\\|shell\\\\x|Web shell \\| upload next|10|"),
            "{cef}"
        );
        let (h, ext) = parse_cef(cef);
        assert_eq!(
            h,
            [
                "CEF:0",
                "canh",
                "canh",
                VERSION,
                "web|shell\\x",
                "Web shell | upload next",
                "10"
            ]
        );
        assert!(
            cef.contains("msg=line one\\nline two \\= x\\r\\\\end | pipe "),
            "{cef}"
        );
        assert_eq!(ext["msg"], "line one\nline two = x\r\\end | pipe");
        assert_eq!(ext["suser"], "a=b\\c|d");
        assert_eq!(ext["src"], "203.0.113.5");
        assert_eq!(ext["dpt"], "443");
        assert_eq!(ext["externalId"], alert.uid);
        assert_eq!(ext["cn1"], alert.id.to_string());
        assert_eq!(ext["cnt"], "1");
        assert_eq!(ext["cat"], "detection");
        assert_eq!(ext["cs1"], "critical");
        assert_eq!(ext["cs3"], "attack.t1110");
        assert_eq!(ext["cs4"], alert.search);
        let group: BTreeMap<String, String> = serde_json::from_str(&ext["cs2"]).unwrap();
        assert_eq!(group, alert.group);
        assert_eq!(ext["rt"], rfc3339_ms(&alert.created).unwrap().to_string());

        let (_, cef2) = syslog_parts(&second);
        let (h2, ext2) = parse_cef(cef2);
        assert_eq!((h2[4].as_str(), h2[6].as_str()), ("plain", "8"));
        assert!(!ext2.contains_key("src"), "IPv6 stays in cs2 only");
    }

    #[test]
    fn cef_escaping() {
        for (input, header, value) in [
            ("plain", "plain", "plain"),
            ("a|b", "a\\|b", "a|b"),
            ("a\\b", "a\\\\b", "a\\\\b"),
            ("k=v", "k=v", "k\\=v"),
            ("l1\nl2\r", "l1 l2 ", "l1\\nl2\\r"),
            ("Đăng nhập", "Đăng nhập", "Đăng nhập"),
        ] {
            assert_eq!(cef_header(input), header, "header {input:?}");
            assert_eq!(cef_value(input), value, "value {input:?}");
        }
        for (level, cef, sys) in [
            ("informational", 1, 6),
            ("low", 3, 5),
            ("medium", 5, 4),
            ("high", 8, 3),
            ("critical", 10, 2),
            ("whatever", 5, 4),
        ] {
            assert_eq!(
                (cef_severity(level), syslog_severity(level)),
                (cef, sys),
                "{level}"
            );
        }
        assert_eq!(octet_counted("<1>1 é"), b"7 <1>1 \xc3\xa9");
    }

    fn have_openssl() -> bool {
        Command::new("openssl")
            .arg("version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// A CA and a server certificate for 127.0.0.1 signed by it, in `dir`.
    fn make_certs(dir: &Path) {
        let ssl = |args: &[&str]| {
            let st = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap();
            assert!(st.success(), "openssl {args:?}");
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        for ca in ["ca", "other-ca"] {
            let (key, pem, subj) = (
                format!("{ca}.key"),
                format!("{ca}.pem"),
                format!("/CN=canh test {ca}"),
            );
            let mut args = vec![
                "req", "-x509", "-days", "2", "-subj", &subj, "-keyout", &key, "-out", &pem,
            ];
            args.extend(ec);
            ssl(&args);
        }
        let mut args = vec![
            "req",
            "-subj",
            "/CN=siem.test",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ];
        args.extend(ec);
        ssl(&args);
        std::fs::write(
            dir.join("server.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n",
        )
        .unwrap();
        ssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ]);
    }

    #[test]
    fn cef_over_tls_trusts_only_the_configured_ca() {
        if !have_openssl() {
            println!("skipped: openssl not installed");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        make_certs(dir);
        let certs = CertificateDer::pem_file_iter(dir.join("server.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let rx = frame_server(l, Some(Arc::new(server)));

        let data = dir.join("data");
        std::fs::create_dir(&data).unwrap();
        let mut store = Store::open(&data).unwrap();
        store
            .apply(
                &[raise(
                    "tls_rule",
                    "Over TLS",
                    &[("source.ip", "192.0.2.7")],
                    1,
                )],
                &["siem".into()],
            )
            .unwrap();

        // A CA that did not sign the receiver's certificate: refused, recorded, not delivered.
        let mut wrong = dest("siem", Kind::Cef, format!("tls://{addr}"));
        wrong.ca = Some(dir.join("other-ca.pem"));
        assert_eq!(validate(&[wrong.clone()]), Vec::<String>::new());
        let fwd = Forwarder::start(&data, &wrong);
        wait_for("failed attempts", Duration::from_secs(10), || {
            fwd.stats.snapshot().failed_attempts >= 2
        });
        let snap = fwd.stop();
        assert_eq!(snap.delivered, 0);
        assert!(snap.last_error.unwrap().contains("certificate"));
        assert!(rx.try_recv().is_err());
        // Mozilla's roots do not know the test CA either.
        let mut mozilla = wrong.clone();
        mozilla.ca = None;
        let fwd = Forwarder::start(&data, &mozilla);
        wait_for("failed attempts", Duration::from_secs(10), || {
            fwd.stats.snapshot().failed_attempts >= 1
        });
        assert_eq!(fwd.stop().delivered, 0);

        let mut right = wrong;
        right.ca = Some(dir.join("ca.pem"));
        let fwd = Forwarder::start(&data, &right);
        let (first, frame) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a frame over TLS");
        wait_for("delivery", Duration::from_secs(10), || {
            counts(&data, "siem") == (0, 1)
        });
        let (_, cef) = syslog_parts(&frame);
        let (h, ext) = parse_cef(cef);
        assert_eq!(h[4], "tls_rule");
        assert_eq!(ext["src"], "192.0.2.7");
        // By now the receiver's session tickets wait on the connection: read as TLS records,
        // they must not pass for a closed connection.
        std::thread::sleep(Duration::from_millis(100));
        store
            .apply(
                &[raise("tls_rule", "Again", &[("source.ip", "192.0.2.8")], 2)],
                &["siem".into()],
            )
            .unwrap();
        let (again, frame) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a second frame");
        assert_eq!(again, first, "the same connection");
        assert!(frame.contains("src=192.0.2.8"), "{frame}");
        wait_for("delivery", Duration::from_secs(10), || {
            counts(&data, "siem") == (0, 2)
        });
        assert_eq!(fwd.stop().delivered, 2);
    }

    // ---- configuration ----

    #[test]
    fn validate_reports_every_bad_field() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        let loose = token_file(dir, "secret-token", 0o644);
        let good_token = token_file(dir, "secret-token", 0o600);
        let not_pem = dir.join("not.pem");
        std::fs::write(&not_pem, "hello").unwrap();
        let missing = dir.join("missing.pem");
        let ok = dest(
            "ok",
            Kind::Webhook,
            "https://ioc.example.invalid/alerts".into(),
        );
        let with = |f: &dyn Fn(&mut Destination)| {
            let mut d = ok.clone();
            f(&mut d);
            d
        };
        let dests = vec![
            ok.clone(),
            with(&|d| d.name = String::new()),
            with(&|d| d.name = "ok".into()),
            with(&|d| {
                d.name = "bad name".into();
                d.url = "ftp://x/".into();
            }),
            with(&|d| {
                d.name = "t".into();
                d.token_file = Some(loose.clone());
                d.ca = Some(not_pem.clone());
                d.timeout_secs = Some(0);
            }),
            with(&|d| {
                d.name = "c".into();
                d.kind = Kind::Cef;
                d.url = "tcp://siem.example.invalid".into();
                d.token_file = Some(good_token.clone());
            }),
            with(&|d| {
                d.name = "c2".into();
                d.kind = Kind::Cef;
                d.url = "tcp://10.0.0.1:514".into();
                d.ca = Some(missing.clone());
                d.timeout_secs = Some(301);
            }),
            with(&|d| {
                d.name = "h".into();
                d.url = "http://user:pw@10.0.0.1/".into();
            }),
            with(&|d| {
                d.name = "c3".into();
                d.kind = Kind::Cef;
                d.url = "udp://10.0.0.1:514".into();
            }),
            with(&|d| {
                d.name = "c4".into();
                d.kind = Kind::Cef;
                d.url = "tls://::1:6514".into();
            }),
            with(&|d| {
                d.name = "c5".into();
                d.kind = Kind::Cef;
                d.url = "tls://[::1]:0".into();
            }),
        ];
        let errs = validate(&dests);
        let expect = [
            "forward[1].name: empty",
            "forward[2].name: \"ok\" is also the name of forward[0]",
            "forward[3].name: \"bad name\": expected letters",
            "forward[3].url: \"ftp://x/\": a webhook URL starts with http:// or https://",
            "forward[4].token_file: ",
            "forward[4].ca: ",
            "forward[4].timeout_secs: 0 is outside 1..=300",
            "forward[5].url: \"tcp://siem.example.invalid\": expected HOST:PORT",
            "forward[5].token_file: only webhook destinations send a token",
            "forward[6].ca: a CA is used only with https:// and tls:// URLs",
            "forward[6].ca: ",
            "forward[6].timeout_secs: 301 is outside 1..=300",
            "forward[7].url: \"http://user:pw@10.0.0.1/\": credentials in the URL",
            "forward[8].url: \"udp://10.0.0.1:514\": a CEF URL is tcp://HOST:PORT or tls://HOST:PORT",
            "forward[9].url: \"tls://::1:6514\": \"::1\": IPv6 addresses go in brackets",
            "forward[10].url: \"tls://[::1]:0\": port \"0\" is not 1..=65535",
        ];
        assert_eq!(errs.len(), expect.len(), "{errs:#?}");
        for (e, want) in errs.iter().zip(expect) {
            assert!(e.starts_with(want), "{e:?} should start with {want:?}");
        }
        assert!(
            errs[4].contains("mode 644 lets others read the token"),
            "{}",
            errs[4]
        );
        assert!(
            errs[5].contains("not.pem: no PEM certificate"),
            "{}",
            errs[5]
        );
        assert!(
            errs[10].contains("missing.pem: No such file"),
            "{}",
            errs[10]
        );
        assert!(validate(&dests[..1]).is_empty());
    }

    #[test]
    fn forward_tables_read_from_toml() {
        #[derive(Debug, Deserialize)]
        struct File {
            forward: Vec<Destination>,
        }
        let f: File = toml::from_str(
            r#"
            [[forward]]
            name = "ioc"
            type = "webhook"
            url = "https://ioc.example.invalid/alerts"
            token_file = "/etc/canh/ioc.token"
            timeout_secs = 5

            [[forward]]
            name = "siem"
            type = "cef"
            url = "tls://siem.example.invalid:6514"
            ca = "/etc/canh/ca.pem"
            "#,
        )
        .unwrap();
        assert_eq!(f.forward.len(), 2);
        assert_eq!(f.forward[0].kind, Kind::Webhook);
        assert_eq!(f.forward[0].timeout(), Duration::from_secs(5));
        assert_eq!(f.forward[1].kind, Kind::Cef);
        assert_eq!(
            f.forward[1].timeout(),
            Duration::from_secs(DEFAULT_TIMEOUT_SECS)
        );
        for bad in [
            "[[forward]]\nname = \"x\"\ntype = \"webhook\"\nurl = \"http://a/\"\nretries = 3\n",
            "[[forward]]\nname = \"x\"\ntype = \"kafka\"\nurl = \"http://a/\"\n",
            "[[forward]]\nname = \"x\"\nurl = \"http://a/\"\n",
        ] {
            let e = toml::from_str::<File>(bad).unwrap_err().to_string();
            assert!(
                e.contains("retries") || e.contains("kafka") || e.contains("type"),
                "{e}"
            );
        }
    }

    #[test]
    fn stats_snapshot_serializes() {
        let s = ForwardStats::default();
        assert_eq!(s.snapshot(), ForwardSnapshot::default());
        s.failed("boom");
        s.delivered();
        s.pending.store(2, Ordering::Relaxed);
        let snap = s.snapshot();
        assert_eq!(
            (snap.delivered, snap.failed_attempts, snap.pending),
            (1, 1, 2)
        );
        assert_eq!(snap.last_error.as_deref(), Some("boom"));
        let json = serde_json::to_value(&snap).unwrap();
        assert_eq!(json["failed_attempts"], 1);
        assert_eq!(
            serde_json::from_value::<ForwardSnapshot>(json).unwrap(),
            snap
        );
    }
}
