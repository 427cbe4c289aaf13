//! `canh collect`: the edge collector. The engine's listeners and parsers, a disk spool in
//! place of the pipeline, and a shipper that sends the spool to an engine's `--ship-listen`
//! over mutual TLS 1.3 and forgets a batch only once the engine has it fsynced
//! (`canh_collectors::ship`).
//!
//! The collector writes `SPOOL/status.json` (read by `canh status --data SPOOL`) with its
//! listener counters and the spool's depth, age and shipping counters.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use canh_collectors::listen::{self, SyslogSettings};
use canh_collectors::ship::{self, ShipCounters, ShipSnapshot, Spool};
use canh_collectors::stats::{ListenerSnapshot, NetflowSnapshot};
use chrono::{DateTime, Utc};
use clap::Args;
use serde::{Deserialize, Serialize};
use tracing::{error, info};

use crate::cli::{UpArgs, UsageError, lock_data, resolve_config};
use crate::status;

/// Chunks of events (one per read from a connection or UDP batch) waiting for the spool
/// writer. Small on purpose: events belong in the fsynced spool, not in memory; when it is
/// full, TCP senders wait and UDP datagrams that find no room are dropped and counted.
pub const SPOOL_QUEUE_CHUNKS: usize = 128;

#[derive(Args, Debug)]
pub struct CollectArgs {
    /// Configuration file (TOML, the engine's format): its syslog, netflow, timezone, tls
    /// (for tls:// listeners), max_message_bytes, max_connections and netflow_exporters keys
    /// are used.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Syslog listener: udp://, tcp:// or tls://HOST:PORT (repeatable).
    #[arg(long, value_name = "URL")]
    pub syslog: Vec<String>,
    /// NetFlow/IPFIX listener: udp://HOST:PORT (repeatable).
    #[arg(long, value_name = "URL")]
    pub netflow: Vec<String>,
    /// The engine's ship listener, HOST:PORT (its certificate must name HOST).
    #[arg(long, value_name = "HOST:PORT")]
    pub ship: String,
    /// This collector's client certificate (PEM); it must be issued to --name.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: PathBuf,
    /// This collector's private key (PEM), mode 0600.
    #[arg(long, value_name = "FILE")]
    pub tls_key: PathBuf,
    /// CA (PEM) the engine's certificate must chain to.
    #[arg(long, value_name = "FILE")]
    pub ca: PathBuf,
    /// Spool folder: events wait here, fsynced, until the engine acknowledges them.
    #[arg(long, value_name = "DIR")]
    pub spool: PathBuf,
    /// Largest spool on disk, bytes (at least 16 MiB).
    #[arg(long, value_name = "BYTES", default_value_t = ship::DEFAULT_MAX_SPOOL_BYTES)]
    pub max_spool_bytes: u64,
    /// The collector's name: the engine checks its certificate is issued to it (default: the
    /// host name).
    #[arg(long)]
    pub name: Option<String>,
    /// Zone for stamps without one: local, UTC or +07:00.
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<String>,
}

/// What `SPOOL/status.json` holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CollectorStatus {
    /// Always "collector" (tells it from an engine's status file).
    pub kind: String,
    pub version: String,
    pub pid: u32,
    pub name: String,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub ship: ShipSnapshot,
    /// Events acknowledged by the engine per second over the last status interval.
    pub acked_events_per_sec: f64,
    /// Events spooled per second over the last status interval.
    pub spooled_events_per_sec: f64,
    pub listeners: Vec<ListenerSnapshot>,
    pub netflow: Vec<NetflowSnapshot>,
}

fn usage(e: impl std::fmt::Display) -> anyhow::Error {
    UsageError(e.to_string()).into()
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "collector".to_owned())
}

fn read(p: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(p).map_err(|e| usage(format!("{}: {e}", p.display())))
}

pub fn run(a: CollectArgs) -> anyhow::Result<()> {
    if a.max_spool_bytes < ship::MIN_SPOOL_BYTES {
        return Err(usage(format!(
            "--max-spool-bytes {}: at least {} (four spool segments)",
            a.max_spool_bytes,
            ship::MIN_SPOOL_BYTES
        )));
    }
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(&a.tls_key)
            .map_err(|e| usage(format!("{}: {e}", a.tls_key.display())))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(usage(format!(
                "{}: the private key is readable by others; chmod 600 it",
                a.tls_key.display()
            )));
        }
    }
    let name = a.name.clone().unwrap_or_else(host_name);
    if rustls::pki_types::ServerName::try_from(name.as_str()).is_err() || name.contains('/') {
        return Err(usage(format!(
            "--name {name:?}: a collector's name must be a DNS name (its certificate is issued to it)"
        )));
    }
    // the listeners' settings come from the engine's configuration format
    let cfg = resolve_config(&UpArgs {
        data: Some(a.spool.clone()),
        config: a.config.clone(),
        syslog: a.syslog.clone(),
        netflow: a.netflow.clone(),
        timezone: a.timezone.clone(),
        ..UpArgs::default()
    })?;
    let _lock = lock_data(&a.spool)?;
    let server_tls = match &cfg.tls {
        Some(t) => {
            let ca = t.client_ca.as_deref().map(read).transpose()?;
            Some(
                listen::tls_server_config(&read(&t.cert)?, &read(&t.key)?, ca.as_deref())
                    .map_err(|e| usage(format!("tls: {e}")))?,
            )
        }
        None => None,
    };
    let spool = Spool::open(&a.spool, &name)
        .with_context(|| format!("opening the spool {}", a.spool.display()))?;
    let shipper = ship::ShipperConfig::new(
        &a.ship,
        &read(&a.tls_cert)?,
        &read(&a.tls_key)?,
        &read(&a.ca)?,
        &spool,
    )
    .map_err(|e| usage(format!("shipping TLS: {e}")))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("canh-collect")
        .build()
        .context("starting the runtime")?;
    rt.block_on(collect(a, cfg, name, spool, shipper, server_tls))
}

async fn collect(
    a: CollectArgs,
    cfg: crate::config::Config,
    name: String,
    spool: Spool,
    shipper: ship::ShipperConfig,
    server_tls: Option<Arc<rustls::ServerConfig>>,
) -> anyhow::Result<()> {
    let settings = SyslogSettings {
        enrich: None,
        zone: cfg.zone,
        max_message: cfg.max_message_bytes,
        max_connections: cfg.max_connections,
        tls: server_tls,
    };
    let bound = crate::listeners::bind(&cfg.syslog, &cfg.netflow).await?;

    let counters = Arc::new(ShipCounters::default());
    let producer = spool.producer.clone();
    println!(
        "canh {} · collector {producer} · spool {}",
        env!("CARGO_PKG_VERSION"),
        a.spool.display()
    );
    let (tx, rx) = tokio::sync::mpsc::channel(SPOOL_QUEUE_CHUNKS);
    let writer = ship::spawn_writer(spool, rx, a.max_spool_bytes, counters.clone());

    let nf = listen::NetflowSettings {
        allow: cfg.netflow_exporters.clone(),
        enrich: None,
    };
    let crate::listeners::Running {
        tasks,
        syslog: stats,
        netflow: nf_stats,
    } = crate::listeners::spawn(
        bound,
        &settings,
        &nf,
        &[],
        &tx,
        &listen::NetflowSink::Events(tx.clone()),
    )?;
    drop(tx);
    println!("shipping to {}", a.ship);
    let _ = std::io::stdout().flush();
    let ship_task = tokio::spawn(ship::run_shipper(shipper, counters.clone()));

    let started_at = Utc::now();
    let engine = a.ship.clone();
    let max = a.max_spool_bytes;
    let snapshot = move |prev: &mut Option<(std::time::Instant, u64, u64)>| {
        let sh = counters.snapshot(&producer, &engine, max);
        let now = std::time::Instant::now();
        let (acked_rate, spooled_rate) = match prev {
            Some((t, acked, spooled)) => {
                let secs = now.duration_since(*t).as_secs_f64().max(1e-3);
                (
                    sh.acked_events.saturating_sub(*acked) as f64 / secs,
                    sh.spooled_events.saturating_sub(*spooled) as f64 / secs,
                )
            }
            None => (0.0, 0.0),
        };
        *prev = Some((now, sh.acked_events, sh.spooled_events));
        CollectorStatus {
            kind: "collector".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: std::process::id(),
            name: name.clone(),
            started_at,
            updated_at: Utc::now(),
            ship: sh,
            acked_events_per_sec: acked_rate,
            spooled_events_per_sec: spooled_rate,
            listeners: stats.iter().map(|s| s.snapshot()).collect(),
            netflow: nf_stats.iter().map(|s| s.snapshot()).collect(),
        }
    };
    let data = a.spool.clone();
    let status_task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(status::STATUS_INTERVAL);
        let mut prev = None;
        loop {
            tick.tick().await;
            if let Err(e) = status::write(&data, &snapshot(&mut prev)) {
                error!(error = %e, "cannot write status file");
            }
        }
    });
    info!("collector started");

    crate::cli::shutdown_signal().await;
    println!("shutting down: the spool keeps what the engine has not acknowledged");
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        let _ = t.await;
    }
    // the listeners' senders are gone: the writer spools what is queued and stops
    tokio::task::spawn_blocking(move || writer.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the spool writer panicked"))?;
    // a last chance to ship what was just spooled is not needed: it waits on disk
    ship_task.abort();
    let _ = ship_task.await;
    status_task.abort();
    let _ = status_task.await;
    Ok(())
}

/// `canh status` for a collector's spool folder.
pub fn render_text(s: &CollectorStatus, now: DateTime<Utc>) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let fresh = (now - s.updated_at)
        .to_std()
        .map_or(true, |age| age < status::STALE_AFTER);
    let running = fresh && Path::new(&format!("/proc/{}", s.pid)).exists();
    let up = humantime::format_duration(Duration::from_secs(
        (now - s.started_at).num_seconds().max(0) as u64,
    ));
    if running {
        let _ = writeln!(
            o,
            "collector running · pid {} · up {up} · canh {} · producer {}",
            s.pid, s.version, s.ship.producer
        );
    } else {
        let _ = writeln!(
            o,
            "collector NOT RUNNING · last status {}s ago (pid {})",
            (now - s.updated_at).num_seconds().max(0),
            s.pid
        );
    }
    let sh = &s.ship;
    let _ = writeln!(
        o,
        "spool     {} batches unshipped · oldest unshipped {}s · on disk {} of {} · full waits {} · spooled {} events ({:.0}/s)",
        sh.spool_depth,
        sh.oldest_unacked_secs,
        status::human_bytes(sh.spool_bytes),
        status::human_bytes(sh.spool_max_bytes),
        sh.spool_full_waits,
        sh.spooled_events,
        s.spooled_events_per_sec
    );
    let _ = writeln!(
        o,
        "engine    {} {} · shipped {} batches · acknowledged {} batches, {} events ({:.0}/s) · connects {} (failed {})",
        sh.engine,
        if sh.connected {
            "connected"
        } else {
            "NOT CONNECTED"
        },
        sh.shipped_batches,
        sh.acked_batches,
        sh.acked_events,
        s.acked_events_per_sec,
        sh.connects,
        sh.connect_failures
    );
    let _ = writeln!(o);
    status::render_listeners(&mut o, &s.listeners, &s.netflow, now);
    o
}
