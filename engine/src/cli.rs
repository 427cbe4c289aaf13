//! The `canh` command line: argument parsing, configuration, and the subcommands.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use canh_collectors::listen::{self, SyslogSettings};
use canh_collectors::stats::{ListenerStats, RecordOutcome};
use canh_collectors::syslog::{self, ParseContext};
use canh_core::time::DefaultZone;
use canh_core::{Origin, field};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};
use tracing::{error, info};

use crate::alerts::stage::{AlertStage, StageConfig};
use crate::config::{self, Config, FileConfig, TlsFiles};
use crate::detect::{Detection, Detector};
use crate::index::{Reader, SearchRequest};
use crate::pipeline::{self, Pipeline, PipelineConfig};
use crate::{api, status};
use canh_rules::correlate::CorrelatorConfig;

/// A usage or configuration error: the binary exits with code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

#[derive(Parser, Debug)]
#[command(
    name = "canh",
    version,
    about = "canh — SOC log analytics: syslog in, durable, searchable",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the engine: listeners, write-ahead log, index and API.
    Up(UpArgs),
    /// Search the index (works while the engine runs).
    Search(SearchArgs),
    /// Send files of syslog lines through the pipeline.
    Ingest(IngestArgs),
    /// Show listener, source and pipeline counters.
    Status(StatusArgs),
    /// Check and test detection rules.
    #[command(subcommand)]
    Rules(RulesCmd),
    /// List, show and triage alerts (works while the engine runs).
    Alerts {
        #[command(flatten)]
        data: crate::cli_alerts::DataArg,
        #[command(subcommand)]
        cmd: crate::cli_alerts::AlertsCmd,
    },
    /// Suppressions: matches in a scope raise no alert (they are still indexed).
    Suppress {
        #[command(flatten)]
        data: crate::cli_alerts::DataArg,
        #[command(subcommand)]
        cmd: crate::cli_alerts::SuppressCmd,
    },
    /// The audit log of every officer action and rule change.
    Audit {
        #[command(flatten)]
        data: crate::cli_alerts::DataArg,
        #[command(subcommand)]
        cmd: crate::cli_alerts::AuditCmd,
    },
    /// The officer's console: alert queue, triage, search, overview, rules (needs a terminal).
    Tui(TuiArgs),
    /// The signed monthly security report (PDF, CSV, Parquet) and its verification.
    Report(crate::report::ReportArgs),
    /// Evidence extraction: matching events of a time range to Parquet, CSV or JSON lines.
    Export(crate::export::ExportArgs),
    /// Edge collector: the engine's listeners into a disk spool, shipped to an engine's
    /// --ship-listen over mutual TLS, deleted only once the engine has them fsynced.
    Collect(crate::collect::CollectArgs),
}

#[derive(Args, Debug)]
pub struct TuiArgs {
    #[command(flatten)]
    pub data: crate::cli_alerts::DataArg,
    /// The engine's API, e.g. `http://127.0.0.1:8470` (default: the address the running
    /// engine wrote to DATA/status.json, else http://127.0.0.1:8470).
    #[arg(long, env = "CANH_API")]
    pub api: Option<String>,
    /// The API token file (default DATA/api.token).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// vi or en (default: from LANG).
    #[arg(long)]
    pub lang: Option<canh_tui::Lang>,
    /// Where the console logs (default DATA/tui.log).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum RulesCmd {
    /// Load every rule under the paths and report each problem, then a summary line
    /// `N rules: X compiled, Y unsupported, Z invalid`. Exit 1 if any is invalid.
    Lint {
        /// Rule files or folders; canh's own pack when none is given.
        paths: Vec<PathBuf>,
        /// Also print one line per compiled rule.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Run `*.test.yml` cases under the paths: one PASS/FAIL line each, then `N passed, M failed`.
    Test {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Also write a JUnit XML report.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
    },
}

#[derive(Args, Debug, Default)]
pub struct UpArgs {
    /// Data folder (default ./canh-data).
    #[arg(long, env = "CANH_DATA")]
    pub data: Option<PathBuf>,
    /// Configuration file (TOML); flags win over it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Syslog listener: udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT (repeatable;
    /// replaces the configured list).
    #[arg(long, value_name = "URL")]
    pub syslog: Vec<String>,
    /// NetFlow/IPFIX listener: udp://HOST:PORT (repeatable).
    #[arg(long, value_name = "URL")]
    pub netflow: Vec<String>,
    /// API address HOST:PORT.
    #[arg(long, value_name = "ADDR")]
    pub api: Option<String>,
    /// Rule file or folder (repeatable); replaces canh's own pack.
    #[arg(long, value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// IOC list: a file of IP addresses and CIDR blocks, one per line (repeatable); checked on
    /// the source and destination of every event, reloaded with the rules.
    #[arg(long, value_name = "FILE")]
    pub ioc: Vec<PathBuf>,
    /// Zone for stamps without one: local, UTC or +07:00.
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<String>,
    /// Server certificate (PEM) for tls:// listeners.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// Server private key (PEM) for tls:// listeners.
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// CA (PEM) that syslog TLS clients' certificates must chain to.
    #[arg(long, value_name = "FILE")]
    pub tls_client_ca: Option<PathBuf>,
    /// Index commit interval in milliseconds.
    #[arg(long, value_name = "MS")]
    pub commit_interval_ms: Option<u64>,
    /// Accept edge collectors (`canh collect`) on HOST:PORT: TLS 1.3 with --tls-cert and
    /// --tls-key, a client certificate chaining to --client-ca required.
    #[arg(long, value_name = "ADDR", requires = "client_ca")]
    pub ship_listen: Option<String>,
    /// CA (PEM) that collectors' client certificates must chain to.
    #[arg(long, value_name = "FILE", requires = "ship_listen")]
    pub client_ca: Option<PathBuf>,
    /// Collector name allowed to ship (repeatable; default: any with a valid certificate
    /// issued to the name it ships as).
    #[arg(long, value_name = "NAME", requires = "ship_listen")]
    pub ship_allow: Vec<String>,
    /// A collector not heard from for this long raises an alert (default 10m).
    #[arg(long, value_name = "DURATION", requires = "ship_listen", value_parser = humantime::parse_duration)]
    pub collector_silent_after: Option<Duration>,
    /// A collector whose oldest unshipped event is this old raises an alert (default 15m).
    #[arg(long, value_name = "DURATION", requires = "ship_listen", value_parser = humantime::parse_duration)]
    pub spool_age_alert: Option<Duration>,
}

#[derive(Args, Debug)]
pub struct SearchArgs {
    /// tantivy query; ECS names work as written, e.g. 'source.ip:203.0.113.5 AND event.dataset:syslog'.
    /// Bare words search the message.
    pub query: String,
    #[arg(long, env = "CANH_DATA", default_value = "./canh-data")]
    pub data: PathBuf,
    /// Only events newer than this (e.g. 15m, 1h, 7d).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub since: Option<String>,
    /// Only events at or after this time (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long)]
    pub from: Option<String>,
    /// Only events before this time (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long)]
    pub to: Option<String>,
    /// Most events to print, newest first.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// One JSON object per event.
    #[arg(long, conflicts_with = "count")]
    pub json: bool,
    /// Print only the number of matching events.
    #[arg(long)]
    pub count: bool,
}

#[derive(Args, Debug)]
pub struct IngestArgs {
    /// Files of syslog lines, one record per line.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[arg(long, env = "CANH_DATA", default_value = "./canh-data")]
    pub data: PathBuf,
    /// Zone for stamps without one: local, UTC or +07:00.
    #[arg(long, default_value = "local")]
    pub timezone: String,
    /// Rule file or folder (repeatable); canh's own pack when none is given.
    #[arg(long, value_name = "PATH")]
    pub rules: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[arg(long, env = "CANH_DATA", default_value = "./canh-data")]
    pub data: PathBuf,
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up(a) => up(a),
        Command::Search(a) => search(a),
        Command::Ingest(a) => ingest(a),
        Command::Status(a) => status_cmd(a),
        Command::Rules(RulesCmd::Lint { paths, verbose }) => rules_lint(&paths, verbose),
        Command::Rules(RulesCmd::Test { paths, junit }) => rules_test(&paths, junit.as_deref()),
        Command::Alerts { data, cmd } => crate::cli_alerts::alerts(cmd, &data.data),
        Command::Suppress { data, cmd } => crate::cli_alerts::suppress(cmd, &data.data),
        Command::Audit {
            data,
            cmd: crate::cli_alerts::AuditCmd::Verify,
        } => crate::cli_alerts::audit_verify(&data.data),
        Command::Tui(a) => tui(a),
        Command::Collect(a) => crate::collect::run(a),
        Command::Report(a) => crate::report::run(a),
        Command::Export(a) => crate::export::run(a),
    }
}

fn tui(a: TuiArgs) -> anyhow::Result<()> {
    let opts = canh_tui::Options {
        data: a.data.data,
        api: a.api,
        token_file: a.token_file,
        lang: a.lang,
        log_file: a.log,
    };
    match canh_tui::run(opts) {
        Err(e @ canh_tui::TuiError::NotATerminal) => Err(usage(e)),
        r => r.context("canh tui"),
    }
}

fn usage(e: impl std::fmt::Display) -> anyhow::Error {
    UsageError(e.to_string()).into()
}

/// Merges the embedded default, the config file and the flags, then validates.
pub fn resolve_config(a: &UpArgs) -> anyhow::Result<Config> {
    let mut f = config::parse_toml(config::DEFAULT_TOML, "embedded default").map_err(usage)?;
    if let Some(p) = &a.config {
        f = f.merge(config::load_file(p).map_err(usage)?);
    }
    let flags = FileConfig {
        data_dir: a.data.clone(),
        timezone: a.timezone.clone(),
        api: a.api.clone(),
        syslog: (!a.syslog.is_empty()).then(|| a.syslog.clone()),
        netflow: (!a.netflow.is_empty()).then(|| a.netflow.clone()),
        rules: (!a.rules.is_empty()).then(|| a.rules.clone()),
        ioc_lists: (!a.ioc.is_empty()).then(|| a.ioc.clone()),
        commit_interval_ms: a.commit_interval_ms,
        tls: (a.tls_cert.is_some() || a.tls_key.is_some() || a.tls_client_ca.is_some()).then(
            || TlsFiles {
                cert: a.tls_cert.clone(),
                key: a.tls_key.clone(),
                client_ca: a.tls_client_ca.clone(),
            },
        ),
        ..FileConfig::default()
    };
    Config::validate(f.merge(flags)).map_err(usage)
}

/// Holds the data folder's lock for the life of the process.
pub struct DataLock(#[allow(dead_code)] std::fs::File);

pub fn lock_data(data: &Path) -> anyhow::Result<DataLock> {
    std::fs::create_dir_all(data)
        .with_context(|| format!("creating data folder {}", data.display()))?;
    let path = data.join("engine.lock");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    if f.try_lock().is_err() {
        let holder = std::fs::read_to_string(&path).unwrap_or_default();
        bail!(
            "{} is in use by another canh process (pid {}); stop it or use another --data",
            data.display(),
            holder.trim()
        );
    }
    f.set_len(0)?;
    write!(f, "{}", std::process::id())?;
    Ok(DataLock(f))
}

fn up(a: UpArgs) -> anyhow::Result<()> {
    let cfg = resolve_config(&a)?;
    let _lock = lock_data(&cfg.data_dir)?;
    let token = api::load_or_create_token(&cfg.data_dir)?;
    let tls = match &cfg.tls {
        Some(t) => {
            let read =
                |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
            let ca = t.client_ca.as_deref().map(read).transpose()?;
            Some(
                listen::tls_server_config(&read(&t.cert)?, &read(&t.key)?, ca.as_deref())
                    .context("tls")?,
            )
        }
        None => None,
    };
    let ship = ship_listen(&a, &cfg)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("canh-rt")
        .build()
        .context("starting the runtime")?;
    rt.block_on(run_engine(cfg, token, tls, ship))
}

/// The listener for edge collectors (`--ship-listen`).
struct ShipListen {
    addr: String,
    tls: Arc<rustls::ServerConfig>,
    policy: crate::ship::ShipPolicy,
    health: Arc<crate::ship::CollectorHealth>,
}

fn ship_listen(a: &UpArgs, cfg: &Config) -> anyhow::Result<Option<ShipListen>> {
    let (Some(addr), Some(ca)) = (&a.ship_listen, &a.client_ca) else {
        return Ok(None);
    };
    let Some(t) = &cfg.tls else {
        return Err(usage(
            "--ship-listen needs the engine's certificate and key (--tls-cert, --tls-key)",
        ));
    };
    let read = |p: &Path| std::fs::read(p).map_err(|e| usage(format!("{}: {e}", p.display())));
    let tls = canh_collectors::ship::server_config(&read(&t.cert)?, &read(&t.key)?, &read(ca)?)
        .map_err(|e| usage(format!("--ship-listen: {e}")))?;
    Ok(Some(ShipListen {
        addr: addr.clone(),
        tls,
        policy: crate::ship::ShipPolicy {
            allow: a.ship_allow.clone(),
        },
        health: Arc::new(crate::ship::CollectorHealth::new(
            a.collector_silent_after
                .unwrap_or(crate::ship::DEFAULT_COLLECTOR_SILENT_AFTER),
            a.spool_age_alert
                .unwrap_or(crate::ship::DEFAULT_SPOOL_AGE_ALERT),
        )),
    }))
}

async fn run_engine(
    cfg: Config,
    token: String,
    tls: Option<Arc<rustls::ServerConfig>>,
    ship: Option<ShipListen>,
) -> anyhow::Result<()> {
    let detector = Detector::load_with_ioc(&cfg.rules, &cfg.ioc_lists)
        .context("loading rules and IOC lists")?;
    let sum = detector.summary();
    if sum.invalid > 0 {
        for r in detector
            .reports
            .iter()
            .filter(|r| matches!(r.status, canh_rules::LoadStatus::Invalid { .. }))
        {
            eprintln!("{r}");
        }
        return Err(usage(format!(
            "{} invalid rule(s) in {}; run `canh rules lint` for details",
            sum.invalid, detector.origin
        )));
    }
    println!(
        "rules {}: {} compiled, {} unsupported",
        detector.origin, sum.compiled, sum.unsupported
    );
    record_rule_set(&cfg.data_dir, "engine", &detector);
    let detection = Arc::new(Detection::new(
        detector,
        cfg.rules.clone(),
        cfg.ioc_lists.clone(),
    ));
    let settings = SyslogSettings {
        enrich: Some(detection.enrich()),
        zone: cfg.zone,
        max_message: cfg.max_message_bytes,
        max_connections: cfg.max_connections,
        tls,
    };
    // bind everything first: a busy port fails before any state changes
    let bound = crate::listeners::bind(&cfg.syslog, &cfg.netflow).await?;
    let api_listener = api::bind(cfg.api).await?;
    let ship_bound = match &ship {
        Some(sh) => Some(
            tokio::net::TcpListener::bind(&sh.addr)
                .await
                .with_context(|| format!("ship: cannot listen on {}", sh.addr))?,
        ),
        None => None,
    };
    let inactive: Vec<(String, String)> = Vec::new();

    let (live_tx, _) = tokio::sync::broadcast::channel::<i64>(api::LIVE_CAPACITY);
    let live = live_tx.clone();
    let stage = start_alerts(
        &cfg.alerts,
        &cfg.data_dir,
        detection.clone(),
        cfg.forward.iter().map(|d| d.name.clone()).collect(),
        Arc::new(move |id| {
            let _ = live.send(id);
        }),
        ship.as_ref().map(|s| s.health.clone()),
    )?;
    let stage_counters = stage.counters.clone();
    let fwd_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut forwarders = Vec::new();
    let mut fwd_stats = Vec::new();
    for d in &cfg.forward {
        let st = Arc::new(crate::alerts::forward::ForwardStats::default());
        fwd_stats.push((d.name.clone(), st.clone()));
        println!("forwarding alerts to {} ({})", d.name, d.url);
        forwarders.push(crate::alerts::forward::spawn(
            cfg.data_dir.clone(),
            d.clone(),
            st,
            fwd_stop.clone(),
        ));
    }
    let nf_stats = crate::listeners::netflow_stats(&cfg.netflow);
    let pcfg = PipelineConfig {
        data_dir: cfg.data_dir.clone(),
        commit_interval: cfg.commit_interval,
        index_threads: cfg.index_threads,
        retention_days: cfg.retention_days,
        alerts: Some(stage.feed()),
        flows: crate::pipeline::FlowDecoding {
            enrich: Some(detection.enrich()),
            stats: nf_stats.clone(),
        },
        index_queue: crate::pipeline::INDEX_QUEUE_BATCHES,
    };
    let pipeline = tokio::task::spawn_blocking(move || Pipeline::start(pcfg))
        .await?
        .context("starting the pipeline")?;
    let counters = pipeline.counters.clone();

    println!(
        "canh {} · data {}",
        env!("CARGO_PKG_VERSION"),
        cfg.data_dir.display()
    );
    let nf = listen::NetflowSettings {
        allow: cfg.netflow_exporters.clone(),
        // rules run where the datagrams are decoded, behind the WAL
        enrich: None,
    };
    let crate::listeners::Running {
        mut tasks,
        syslog: stats,
        netflow: nf_stats,
    } = crate::listeners::spawn(
        bound,
        &settings,
        &nf,
        &nf_stats,
        &pipeline.sender(),
        &listen::NetflowSink::Datagrams(pipeline.datagram_sender()),
    )?;
    let ship_counters = Arc::new(crate::ship::ShipServerCounters::default());
    let mut ship_addr = None;
    let mut ship_health = None;
    if let (Some(sh), Some(l)) = (ship, ship_bound) {
        let local = l.local_addr()?;
        ship_addr = Some(local.to_string());
        println!("listening ship tls://{} (bound {local})", sh.addr);
        let (tx, det, data, c) = (
            pipeline.remote_sender(),
            detection.clone(),
            cfg.data_dir.clone(),
            ship_counters.clone(),
        );
        ship_health = Some(sh.health.clone());
        let server = crate::ship::ShipServer {
            tls: sh.tls,
            remote: tx,
            detection: det,
            data,
            policy: Arc::new(sh.policy),
            health: sh.health,
            counters: c,
        };
        tasks.push(tokio::spawn(crate::ship::serve(l, server)));
    }
    for (name, why) in &inactive {
        println!("not started {name}: {why}");
    }
    let api_addr = api_listener.local_addr()?;
    println!(
        "listening api http://{api_addr} (token in {})",
        api::token_path(&cfg.data_dir).display()
    );
    let _ = std::io::stdout().flush();

    let started_at = Utc::now();
    let snapshot = {
        let (stats, counters, inactive, det, nf) = (
            stats.clone(),
            counters.clone(),
            inactive.clone(),
            detection.clone(),
            nf_stats.clone(),
        );
        let stage_c = stage_counters.clone();
        let store = std::sync::Mutex::new(None::<crate::alerts::store::Store>);
        let data = cfg.data_dir.clone();
        let ship_c = ship_counters.clone();
        Arc::new(move || status::EngineStatus {
            ship: ship_addr.as_deref().map(|a| {
                ship_c.snapshot(
                    a,
                    ship_health.as_ref().map(|h| h.rows()).unwrap_or_default(),
                )
            }),
            forward: fwd_stats
                .iter()
                .map(|(n, s)| (n.clone(), s.snapshot()))
                .collect(),
            alerts: Some(status::AlertsStatus {
                stage: stage_c.snapshot(),
                counts: {
                    let mut g = store.lock().unwrap_or_else(|e| e.into_inner());
                    if g.is_none() {
                        *g = crate::alerts::store::Store::open(&data).ok();
                    }
                    g.as_ref().and_then(|s| s.counts().ok()).unwrap_or_default()
                },
            }),
            detection: Some(det.snapshot()),
            netflow: nf.iter().map(|s| s.snapshot()).collect(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: std::process::id(),
            started_at,
            updated_at: Utc::now(),
            api: api_addr.to_string(),
            listeners: stats.iter().map(|s| s.snapshot()).collect(),
            inactive: inactive.clone(),
            pipeline: counters.snapshot(),
        })
    };
    let snap: api::StatusFn = snapshot.clone();
    let det = detection.clone();
    let reload: api::ReloadFn = Arc::new(move || reload_rules(&det));
    let ctx = api::ApiContext {
        token: Arc::new(token),
        data: cfg.data_dir.clone(),
        status: snap,
        reload,
        detection: detection.clone(),
        live: live_tx.clone(),
    };
    tasks.push(tokio::spawn(async move {
        if let Err(e) = api::serve(api_listener, ctx).await {
            error!(error = %e, "api stopped");
        }
    }));
    let data = cfg.data_dir.clone();
    let snap = snapshot.clone();
    tasks.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(status::STATUS_INTERVAL);
        loop {
            tick.tick().await;
            if let Err(e) = status::write(&data, &snap()) {
                error!(error = %e, "cannot write status file");
            }
        }
    }));
    let data = cfg.data_dir.clone();
    let snap = snapshot.clone();
    let health = Arc::new(std::sync::Mutex::new(crate::health::Recorder::default()));
    let health_tick = health.clone();
    tasks.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(crate::health::HEALTH_INTERVAL);
        tick.tick().await;
        loop {
            tick.tick().await;
            let (data, s, h) = (data.clone(), snap(), health_tick.clone());
            let r = tokio::task::spawn_blocking(move || {
                h.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .record(&data, &s, Utc::now())
            })
            .await;
            if let Ok(Err(e)) = r {
                error!(error = %format!("{e:#}"), "cannot write the day's health file");
            }
        }
    }));
    let det = detection.clone();
    let data_hup = cfg.data_dir.clone();
    tasks.push(tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            let (det, data) = (det.clone(), data_hup.clone());
            let _ = tokio::task::spawn_blocking(move || {
                let r = reload_rules(&det);
                audit_reload(&data, "signal:SIGHUP", &r);
                if r.is_ok() {
                    record_rule_set(&data, "signal:SIGHUP", &det.current());
                }
            })
            .await;
        }
    }));
    info!("engine started");

    shutdown_signal().await;
    println!("shutting down: flushing the WAL and committing the index");
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        let _ = t.await;
    }
    tokio::task::spawn_blocking(move || {
        pipeline.shutdown();
        stage.join();
        fwd_stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for f in forwarders {
            let _ = f.join();
        }
    })
    .await?;
    let last = snapshot();
    status::write(&cfg.data_dir, &last).ok();
    if let Err(e) =
        health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record(&cfg.data_dir, &last, Utc::now())
    {
        error!(error = %format!("{e:#}"), "cannot write the day's health file");
    }
    println!("stopped");
    Ok(())
}

pub(crate) async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Starts the alert stage (before the pipeline, which replays into it).
fn start_alerts(
    a: &config::AlertsConfig,
    data: &Path,
    detection: Arc<Detection>,
    dests: Vec<String>,
    on_created: crate::alerts::stage::OnCreated,
    collectors: Option<Arc<crate::ship::CollectorHealth>>,
) -> anyhow::Result<AlertStage> {
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let cfg = StageConfig {
        data_dir: data.to_owned(),
        correlator: CorrelatorConfig {
            dedup_window_ms: a.dedup_window.as_millis() as i64,
            dedup_fields: a.dedup_fields.clone(),
            lateness_ms: a.lateness.as_millis() as i64,
            ..CorrelatorConfig::default()
        },
        silent: a.silent.clone(),
        dests,
        collectors,
    };
    AlertStage::start(cfg, detection, on_created).context("starting the alert stage")
}

/// Records the rule set in force in the audit log when it differs from the last recorded.
pub fn record_rule_set(data: &Path, actor: &str, det: &crate::detect::Detector) {
    if let Err(e) = crate::alerts::store::Store::open(data)
        .and_then(|mut st| st.record_rule_set(actor, &det.hash, &det.file_hashes))
    {
        error!(error = %e, "cannot record the rule set in the audit log");
    }
}

/// Records a rule reload in the audit log.
pub fn audit_reload(data: &Path, actor: &str, r: &Result<String, String>) {
    let detail = match r {
        Ok(m) => serde_json::json!({"ok": true, "message": m}),
        Err(e) => serde_json::json!({"ok": false, "error": e}),
    };
    if let Err(e) = crate::alerts::store::Store::open(data)
        .and_then(|mut st| st.audit_only(actor, "rules.reload", "rules", detail))
    {
        error!(error = %e, "cannot write the audit log");
    }
}

/// Reloads the rules (SIGHUP or the API), logging the outcome either way.
fn reload_rules(det: &Detection) -> Result<String, String> {
    match det.reload() {
        Ok(s) => {
            let msg = format!(
                "rules reloaded: {} compiled, {} unsupported",
                s.compiled, s.unsupported
            );
            info!("{msg}");
            Ok(msg)
        }
        Err(e) => {
            error!(error = %e, "rule reload refused");
            Err(e)
        }
    }
}

fn rules_lint(paths: &[PathBuf], verbose: bool) -> anyhow::Result<()> {
    let files = if paths.is_empty() {
        crate::detect::builtin_files()
    } else {
        crate::detect::read_rule_files(paths).map_err(usage)?
    };
    let (set, reports) = canh_rules::RuleSet::load(&files, canh_rules::Mapping::builtin());
    let mut out = std::io::stdout().lock();
    for r in &reports {
        let show = verbose || !r.status.is_compiled() || !r.warnings.is_empty();
        if show {
            writeln!(out, "{r}")?;
        }
    }
    // Patterns the fast matcher's Hyperscan backend refused run on the regex crate: same
    // answers, slower; the rule's author may want to know.
    match canh_rules::fast::FastMatcher::build(&set) {
        Ok(fast) => {
            for f in fast.fallbacks() {
                writeln!(out, "{}:1: warning: {f}", set.rule(f.rule).source)?;
            }
        }
        Err(e) => {
            writeln!(out, "error: cannot compile the rule set: {e}")?;
            return Err(RulesFailed(format!("cannot compile the rule set: {e}")).into());
        }
    }
    let s = canh_rules::Summary::of(&reports);
    writeln!(
        out,
        "{} rules: {} compiled, {} unsupported, {} invalid",
        s.total(),
        s.compiled,
        s.unsupported,
        s.invalid
    )?;
    if s.invalid > 0 {
        return Err(RulesFailed(format!("{} invalid rule(s)", s.invalid)).into());
    }
    Ok(())
}

/// A failed lint or test run: exit 1, the output already said what failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RulesFailed(pub String);

fn rules_test(paths: &[PathBuf], junit: Option<&Path>) -> anyhow::Result<()> {
    let cases = crate::ruletest::find_cases(paths).map_err(usage)?;
    if cases.is_empty() {
        return Err(usage(format!(
            "no *.test.yml files under {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let bar = if std::io::stderr().is_terminal() && cases.len() > 20 {
        indicatif::ProgressBar::new(cases.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut outcomes = Vec::with_capacity(cases.len());
    for path in &cases {
        let outcome = match std::fs::read_to_string(path) {
            Err(e) => crate::ruletest::Outcome {
                file: path.clone(),
                passed: false,
                detail: format!("cannot read: {e}"),
            },
            Ok(text) => match crate::ruletest::parse_case(path, &text) {
                Ok(case) => crate::ruletest::run_case(&case),
                Err(e) => crate::ruletest::Outcome {
                    file: path.clone(),
                    passed: false,
                    detail: e,
                },
            },
        };
        bar.suspend(|| {
            println!(
                "{} {}: {}",
                if outcome.passed { "PASS" } else { "FAIL" },
                outcome.file.display(),
                outcome.detail
            )
        });
        bar.inc(1);
        outcomes.push(outcome);
    }
    bar.finish_and_clear();
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    println!("{} passed, {} failed", outcomes.len() - failed, failed);
    if let Some(path) = junit {
        write_junit(path, &outcomes)?;
    }
    if failed > 0 {
        return Err(RulesFailed(format!("{failed} rule test(s) failed")).into());
    }
    Ok(())
}

fn write_junit(path: &Path, outcomes: &[crate::ruletest::Outcome]) -> anyhow::Result<()> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new("canh rules test");
    for o in outcomes {
        let status = if o.passed {
            TestCaseStatus::success()
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(o.detail.clone());
            s
        };
        let mut tc = TestCase::new(o.file.display().to_string(), status);
        tc.set_system_out(o.detail.clone());
        suite.add_test_case(tc);
    }
    let mut report = Report::new("canh");
    report.add_test_suite(suite);
    let xml = report.to_string().context("rendering JUnit XML")?;
    std::fs::write(path, xml).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Parses `--from`/`--to`: RFC 3339, or a date (midnight UTC).
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, UsageError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    Err(UsageError(format!(
        "{s:?}: expected an RFC 3339 time (2026-11-25T08:00:00+07:00) or a date (2026-11-25)"
    )))
}

fn search(a: SearchArgs) -> anyhow::Result<()> {
    let (from, to) = if let Some(s) = &a.since {
        let d = humantime::parse_duration(s)
            .map_err(|e| usage(format!("--since {s:?}: {e} (try 15m, 1h, 7d)")))?;
        (
            Some(
                chrono::Duration::from_std(d)
                    .ok()
                    .and_then(|d| Utc::now().checked_sub_signed(d))
                    .ok_or_else(|| usage(format!("--since {s:?}: too far back")))?,
            ),
            None,
        )
    } else {
        (
            a.from.as_deref().map(parse_time).transpose()?,
            a.to.as_deref().map(parse_time).transpose()?,
        )
    };
    if a.limit == 0 {
        return Err(usage("--limit must be at least 1"));
    }
    let root = pipeline::index_dir(&a.data);
    if !a.data.exists() {
        bail!(
            "{}: no such data folder (set --data or CANH_DATA)",
            a.data.display()
        );
    }
    let reader = Reader::open(&root)?;
    let req = SearchRequest {
        query: a.query.clone(),
        from,
        to,
        limit: a.limit,
    };
    let result = if a.count {
        reader.count(&req).map(|n| {
            println!("{n}");
        })
    } else {
        reader.search(&req).map(|hits| {
            let mut out = std::io::stdout().lock();
            for h in hits {
                let line = if a.json {
                    serde_json::Value::Object(h).to_string()
                } else {
                    human_line(&h)
                };
                if writeln!(out, "{line}").is_err() {
                    break; // closed pipe (| head)
                }
            }
        })
    };
    match result {
        Ok(()) => Ok(()),
        Err(crate::index::IndexError::Query { query, msg }) => {
            Err(usage(format!("query {query:?}: {msg}")))
        }
        Err(e) => Err(e.into()),
    }
}

fn human_line(h: &serde_json::Map<String, serde_json::Value>) -> String {
    let s = |k: &str| h.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let host = h
        .get(field::HOST_HOSTNAME)
        .and_then(|v| v.as_str())
        .or_else(|| h.get("log.source.ip").and_then(|v| v.as_str()))
        .unwrap_or("-");
    let proc_ = match (
        h.get(field::PROCESS_NAME).and_then(|v| v.as_str()),
        h.get(field::PROCESS_PID),
    ) {
        (Some(n), Some(p)) => format!(" {n}[{p}]:"),
        (Some(n), None) => format!(" {n}:"),
        _ => String::new(),
    };
    format!(
        "{} {}{} {}",
        s("@timestamp"),
        host,
        proc_,
        s(field::MESSAGE)
    )
}

/// Longest line read by `canh ingest` (longer lines are truncated like on the network).
const MAX_INGEST_LINE: usize = canh_collectors::syslog::framing::DEFAULT_MAX_MESSAGE;
/// Events sent to the pipeline at a time by `canh ingest`.
const INGEST_CHUNK: usize = 1024;

fn ingest(a: IngestArgs) -> anyhow::Result<()> {
    let zone: DefaultZone = a.timezone.parse().map_err(usage)?;
    for f in &a.files {
        if !f.is_file() {
            return Err(usage(format!("{}: no such file", f.display())));
        }
    }
    let detector = Detector::load(&a.rules).context("loading rules")?;
    let _lock = lock_data(&a.data)?;
    record_rule_set(&a.data, "ingest", &detector);
    let detection = Arc::new(Detection::new(detector, a.rules.clone(), Vec::new()));
    let det = detection.current();
    let alerts_cfg = config::AlertsConfig {
        silent: None,
        ..Default::default()
    };
    let stage = start_alerts(
        &alerts_cfg,
        &a.data,
        detection.clone(),
        Vec::new(),
        Arc::new(|_| {}),
        None,
    )?;
    let pipeline = Pipeline::start(PipelineConfig {
        data_dir: a.data.clone(),
        commit_interval: Duration::from_secs(1),
        index_threads: 1,
        retention_days: 3650,
        alerts: Some(stage.feed()),
        // a WAL left by `canh up` may hold NetFlow datagrams
        flows: crate::pipeline::FlowDecoding {
            enrich: Some(detection.enrich()),
            stats: Vec::new(),
        },
        index_queue: crate::pipeline::INDEX_QUEUE_BATCHES,
    })
    .context("starting the pipeline")?;
    let total: u64 = a
        .files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let bar = if std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(total);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let tx = pipeline.sender();
    let mut all = Vec::new();
    for path in &a.files {
        let listener = format!("file:{}", path.display());
        let stats = ListenerStats::new(listener.clone());
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let mut r = BufReader::with_capacity(1 << 20, file);
        let mut line = Vec::new();
        let mut chunk = Vec::with_capacity(INGEST_CHUNK);
        let origin = Origin::new(listener.clone(), None);
        loop {
            line.clear();
            let n = read_line_bounded(&mut r, &mut line, MAX_INGEST_LINE)
                .with_context(|| format!("reading {}", path.display()))?;
            if n == 0 {
                break;
            }
            bar.inc(n as u64);
            if syslog::parser::trim_frame(&line).is_empty() {
                continue;
            }
            let ctx = ParseContext {
                received: Utc::now(),
                zone,
            };
            let mut ev = syslog::parse(&line, &ctx, origin.clone());
            if n > MAX_INGEST_LINE + 1 {
                ev.warnings
                    .push(canh_core::ParseWarning::Truncated { original_len: n });
            }
            stats.record_batch(
                None,
                ctx.received,
                [RecordOutcome {
                    bytes: line.len(),
                    unparsed: ev.is_unparsed(),
                    truncated: ev.is_truncated(),
                    hostname: None,
                }],
            );
            chunk.push(ev);
            if chunk.len() == INGEST_CHUNK {
                det.annotate(&mut chunk);
                tx.blocking_send(std::mem::replace(
                    &mut chunk,
                    Vec::with_capacity(INGEST_CHUNK),
                ))
                .map_err(|_| anyhow::anyhow!("pipeline stopped"))?;
            }
        }
        if !chunk.is_empty() {
            det.annotate(&mut chunk);
            tx.blocking_send(chunk)
                .map_err(|_| anyhow::anyhow!("pipeline stopped"))?;
        }
        all.push(stats.snapshot());
    }
    drop(tx);
    bar.finish_and_clear();
    pipeline.shutdown();
    stage.join();
    for s in &all {
        eprintln!(
            "{}: {} events ({} unparsed, {} truncated)",
            s.url.trim_start_matches("file:"),
            s.received,
            s.unparsed,
            s.truncated
        );
    }
    Ok(())
}

/// Reads one line (without keeping more than `max` bytes of it); returns bytes consumed.
fn read_line_bounded(
    r: &mut impl BufRead,
    out: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<usize> {
    let mut consumed = 0;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(consumed);
        }
        let (take, done) = match memchr_lf(buf) {
            Some(p) => (p + 1, true),
            None => (buf.len(), false),
        };
        let room = max.saturating_sub(out.len());
        out.extend_from_slice(&buf[..take.min(room)]);
        r.consume(take);
        consumed += take;
        if done {
            return Ok(consumed);
        }
    }
}

fn memchr_lf(b: &[u8]) -> Option<usize> {
    b.iter().position(|c| *c == b'\n')
}

fn status_cmd(a: StatusArgs) -> anyhow::Result<()> {
    // a collector's spool folder holds a status file of its own kind
    if let Ok(b) = std::fs::read(status::status_path(&a.data))
        && let Ok(c) = serde_json::from_slice::<crate::collect::CollectorStatus>(&b)
        && c.kind == "collector"
    {
        if a.json {
            println!("{}", serde_json::to_string(&c)?);
        } else {
            print!("{}", crate::collect::render_text(&c, Utc::now()));
        }
        return Ok(());
    }
    let s = status::read(&a.data).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!(
                "{}: no engine status (has `canh up --data {}` ever run?)",
                status::status_path(&a.data).display(),
                a.data.display()
            )
        } else {
            anyhow::anyhow!("{}: {e}", status::status_path(&a.data).display())
        }
    })?;
    let now = Utc::now();
    if a.json {
        let mut v = serde_json::to_value(&s)?;
        v["running"] = serde_json::Value::Bool(status::is_running(&s, now));
        println!("{v}");
    } else {
        print!("{}", status::render_text(&s, now));
    }
    Ok(())
}
