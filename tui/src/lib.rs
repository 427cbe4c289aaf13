//! canh-tui: the information-security officer's triage console (`canh tui`).
//!
//! A ratatui program over the engine's HTTP API: the alert queue (live, most urgent first,
//! filtered locally), alert detail with the matched fields marked inside the raw events,
//! triage in a keystroke (acknowledge, close with a reason, suppress, note, assign, several at
//! once), search over the index with pivots, an overview of listeners and engine health, and
//! the rules with their hits. English and Vietnamese.
//!
//! The code keeps state, update and render apart behind one event enum:
//!
//! - [`state`]: the [`state::App`] — plain data;
//! - [`update`]: `update(&mut App, Msg) -> Vec<Cmd>` — every key, tick and network result;
//! - [`render`]: `render(&App, &mut Frame)` — a pure function of the state;
//! - [`client`]: worker threads doing HTTP (ureq) and following the live stream; they answer
//!   with [`update::Msg`]s, so the UI thread never waits on the network, and they reconnect
//!   with backoff while the engine is down (the console shows a banner);
//! - [`i18n`]: every string in English and Vietnamese.
//!
//! Logs go to a file (`DATA/tui.log`), never to the terminal. `NO_COLOR` turns colours off.
//!
//! ```no_run
//! let opts = canh_tui::Options {
//!     data: "canh-data".into(),
//!     api: None, // read from canh-data/status.json
//!     token_file: None, // canh-data/api.token
//!     lang: Some("vi".parse().unwrap()),
//!     log_file: None, // canh-data/tui.log
//! };
//! canh_tui::run(opts)?;
//! # Ok::<(), canh_tui::TuiError>(())
//! ```

pub mod client;
pub mod fixture;
pub mod i18n;
pub mod model;
pub mod render;
pub mod state;
pub mod update;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use chrono::{Local, Offset, Utc};
use ratatui::crossterm::event::{self, Event};

pub use crate::i18n::{Lang, ParseLangError};
use crate::state::App;
use crate::update::{Cmd, Msg};

/// Messages the channel to the UI holds before the workers wait for it.
const MSG_QUEUE: usize = 4096;
/// The clock tick (time labels, footer messages, periodic re-reads).
const TICK: Duration = Duration::from_secs(1);
/// How long the key reader waits for a key before looking whether to stop.
const INPUT_POLL: Duration = Duration::from_millis(200);
/// Messages handled before the screen is drawn again: a burst of alerts draws once.
const MAX_BATCH: usize = 1024;

/// What `canh tui` was given.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The engine's data folder (token, status file, log).
    pub data: PathBuf,
    /// The engine's API base URL (`http://127.0.0.1:8470`); default: the `api` address in
    /// `DATA/status.json`, else `http://127.0.0.1:8470`.
    pub api: Option<String>,
    /// Default `DATA/api.token`.
    pub token_file: Option<PathBuf>,
    /// Default [`Lang::from_env`].
    pub lang: Option<Lang>,
    /// Default `DATA/tui.log`.
    pub log_file: Option<PathBuf>,
}

/// Why the console could not run.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("canh tui needs a terminal: standard input and output must be a tty")]
    NotATerminal,
    #[error("terminal: {0}")]
    Terminal(#[source] std::io::Error),
    #[error("log file {path}: {source}")]
    Log {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the network workers: {0}")]
    Workers(#[source] std::io::Error),
}

/// The person the audit log names: `$CANH_ACTOR`, `$SUDO_USER`, `$USER`, else "unknown"
/// (the same order as the CLI).
fn actor_from_env() -> String {
    ["CANH_ACTOR", "SUDO_USER", "USER"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// `NO_COLOR` set to anything non-empty (<https://no-color.org>).
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

fn log_dispatch(path: &std::path::Path) -> Result<tracing::Dispatch, TuiError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| TuiError::Log {
            path: path.to_owned(),
            source,
        })?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("CANH_TUI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let sub = tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_env_filter(filter)
        .finish();
    Ok(tracing::Dispatch::new(sub))
}

/// Restores the terminal however `run` ends.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Runs the console until the officer quits: sets up the terminal (raw mode, alternate
/// screen, restored on exit and on panic), starts the network workers and the key reader,
/// and loops over messages, drawing after each batch.
pub fn run(opts: Options) -> Result<(), TuiError> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(TuiError::NotATerminal);
    }
    let lang = opts.lang.unwrap_or_else(Lang::from_env);
    let log_path = opts
        .log_file
        .clone()
        .unwrap_or_else(|| opts.data.join("tui.log"));
    let dispatch = log_dispatch(&log_path)?;
    let _log = tracing::dispatcher::set_default(&dispatch);

    let cfg = client::ClientConfig {
        explicit_api: opts.api.clone(),
        data: opts.data.clone(),
        token_file: opts
            .token_file
            .clone()
            .unwrap_or_else(|| opts.data.join("api.token")),
        actor: actor_from_env(),
    };
    let api_shown = client::resolve_api(cfg.explicit_api.as_deref(), &cfg.data);
    tracing::info!(api = %api_shown, %lang, actor = %cfg.actor, "console starting");

    let mut app = App::new(lang, !no_color(), cfg.actor.clone(), api_shown, Utc::now());
    app.tz = Local::now().offset().fix();

    let (tx, rx) = std::sync::mpsc::sync_channel::<Msg>(MSG_QUEUE);
    let client =
        client::Client::start(cfg, tx.clone(), dispatch.clone()).map_err(TuiError::Workers)?;

    let mut terminal = ratatui::try_init().map_err(TuiError::Terminal)?;
    let _guard = TerminalGuard;
    if let Ok(size) = terminal.size() {
        app.size = (size.width, size.height);
    }
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let d = dispatch.clone();
        std::thread::Builder::new()
            .name("canh-tui-keys".into())
            .spawn(move || tracing::dispatcher::with_default(&d, || read_keys(&tx, &stop)))
            .map_err(TuiError::Workers)?;
    }

    let r = event_loop(&mut terminal, &mut app, &rx, &client);
    stop.store(true, Ordering::Relaxed);
    drop(client);
    tracing::info!(ok = r.is_ok(), "console stopped");
    r
}

/// Sends keys and resizes to the UI until asked to stop.
fn read_keys(tx: &SyncSender<Msg>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match event::poll(INPUT_POLL) {
            Ok(false) => continue,
            Ok(true) => {}
            Err(e) => {
                tracing::error!(error = %e, "cannot read the terminal");
                return;
            }
        }
        let msg = match event::read() {
            Ok(Event::Key(k)) => Msg::Key(k),
            Ok(Event::Resize(w, h)) => Msg::Resize(w, h),
            Ok(_) => continue,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the terminal");
                return;
            }
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    rx: &std::sync::mpsc::Receiver<Msg>,
    client: &client::Client,
) -> Result<(), TuiError> {
    let mut last_tick = Instant::now();
    loop {
        terminal
            .draw(|f| render::render(app, f))
            .map_err(TuiError::Terminal)?;
        let wait = TICK.saturating_sub(last_tick.elapsed());
        let mut batch = match rx.recv_timeout(wait) {
            Ok(m) => vec![m],
            Err(RecvTimeoutError::Timeout) => Vec::new(),
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        };
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        if last_tick.elapsed() >= TICK {
            last_tick = Instant::now();
            batch.push(Msg::Tick(Utc::now()));
        }
        for msg in batch {
            for cmd in update::update(app, msg) {
                if cmd == Cmd::Quit {
                    return Ok(());
                }
                client.send(cmd);
            }
        }
        if app.quit {
            return Ok(());
        }
    }
}
