//! The network side: worker threads that talk to the engine's HTTP API (ureq, blocking) and
//! answer with [`Msg`]s on the console's channel. The UI thread never waits on them.
//!
//! - the *api* worker runs [`Cmd`]s one after the other (listings, detail, triage, rules);
//! - the *search* worker runs searches, which may take seconds, so triage never queues behind
//!   one;
//! - the *status* poller reads `/api/v1/status` every second and reports
//!   [`Msg::Connected`] / [`Msg::Disconnected`], backing off while the engine is away;
//! - the *stream* reader follows `/api/v1/alerts/stream` (server-sent events) line by line and
//!   reconnects with the same backoff.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde::de::DeserializeOwned;

use crate::model::{Alert, AlertDetail, AlertList, EngineStatus, Hit, RuleEntry};
use crate::state::{MAX_QUEUE_ALERTS, PAGE_ALERTS, REFRESH_LIMIT};
use crate::update::{Cmd, Msg, Triage};

/// Where the engine listens when nothing says otherwise (`canh up`'s default).
pub const DEFAULT_API: &str = "http://127.0.0.1:8470";
/// Largest response body read: a page of 10,000 alerts is ~10 MB.
const MAX_BODY_BYTES: u64 = 128 << 20;
/// Time to open a connection to the engine (it is local or on the LAN).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Whole-request limit for everything but searches and the stream.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Whole-request limit for a search over a large index.
const SEARCH_TIMEOUT: Duration = Duration::from_secs(120);
/// The stream sends a keep-alive every 15 s; this long without a byte means it is dead.
const STREAM_READ_TIMEOUT: Duration = Duration::from_secs(45);
/// How often the status is polled while the engine answers.
const POLL_EVERY: Duration = Duration::from_secs(1);
/// Longest wait between reconnection attempts.
const MAX_BACKOFF_S: u64 = 10;

/// Seconds to wait before attempt `attempt` (1, 2, 4, 8, then 10).
pub fn backoff_secs(attempt: u32) -> u64 {
    (1u64 << attempt.saturating_sub(1).min(6)).min(MAX_BACKOFF_S)
}

/// A failed call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// No answer: connection refused, timeout, reset.
    #[error("{0}")]
    Transport(String),
    /// The engine answered with an error status and (usually) `{"error": …}`.
    #[error("{status} {message}")]
    Status { status: u16, message: String },
    #[error("unexpected answer: {0}")]
    Decode(String),
    #[error("cannot read the API token {path}: {error}")]
    Token { path: String, error: String },
}

/// The engine's base URL: `explicit` when given (a scheme is added when missing), else the
/// `api` address in `DATA/status.json`, else [`DEFAULT_API`]. A wildcard bind address is
/// reached on loopback.
pub fn resolve_api(explicit: Option<&str>, data: &Path) -> String {
    if let Some(u) = explicit.map(str::trim).filter(|u| !u.is_empty()) {
        let u = u.trim_end_matches('/');
        return if u.contains("://") {
            u.to_owned()
        } else {
            format!("http://{u}")
        };
    }
    let from_status = std::fs::read(data.join("status.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get("api").and_then(|a| a.as_str()).map(str::to_owned))
        .filter(|a| !a.is_empty());
    match from_status {
        Some(addr) => {
            let addr = if let Some(port) = addr.strip_prefix("0.0.0.0:") {
                format!("127.0.0.1:{port}")
            } else if let Some(port) = addr.strip_prefix("[::]:") {
                format!("[::1]:{port}")
            } else {
                addr
            };
            format!("http://{addr}")
        }
        None => DEFAULT_API.to_owned(),
    }
}

/// How to reach the engine.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `--api` as given; `None` re-reads `DATA/status.json` after each failure, so a restarted
    /// engine on another port is found.
    pub explicit_api: Option<String>,
    pub data: PathBuf,
    pub token_file: PathBuf,
    /// Sent as `X-Canh-Actor`.
    pub actor: String,
}

/// The HTTP side shared by the workers.
struct Api {
    cfg: ClientConfig,
    base: Mutex<String>,
    agent: ureq::Agent,
    search_agent: ureq::Agent,
    stream_agent: ureq::Agent,
}

fn agent(global: Option<Duration>, per_read: Option<Duration>) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_global(global)
        .timeout_per_read(per_read)
        .build()
        .new_agent()
}

impl Api {
    fn new(cfg: ClientConfig) -> Api {
        let base = resolve_api(cfg.explicit_api.as_deref(), &cfg.data);
        Api {
            cfg,
            base: Mutex::new(base),
            agent: agent(Some(REQUEST_TIMEOUT), None),
            search_agent: agent(Some(SEARCH_TIMEOUT), None),
            stream_agent: agent(None, Some(STREAM_READ_TIMEOUT)),
        }
    }

    fn base(&self) -> String {
        self.base.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Looks the address up again (after a failure).
    fn re_resolve(&self) {
        let b = resolve_api(self.cfg.explicit_api.as_deref(), &self.cfg.data);
        *self.base.lock().unwrap_or_else(|e| e.into_inner()) = b;
    }

    fn token(&self) -> Result<String, ApiError> {
        std::fs::read_to_string(&self.cfg.token_file)
            .map(|t| t.trim().to_owned())
            .map_err(|e| ApiError::Token {
                path: self.cfg.token_file.display().to_string(),
                error: e.to_string(),
            })
    }

    /// Sends one request: `body` is JSON for POST/PATCH; answers the body bytes of a 2xx.
    fn call(
        &self,
        agent: &ureq::Agent,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<Vec<u8>, ApiError> {
        let token = self.token()?;
        let url = format!("{}{path}", self.base());
        let auth = format!("Bearer {token}");
        let t = |e: ureq::Error| ApiError::Transport(e.to_string());
        let resp = match method {
            "GET" => agent
                .get(&url)
                .header("Authorization", &auth)
                .header("X-Canh-Actor", &self.cfg.actor)
                .query_pairs(query.iter().map(|(k, v)| (*k, v.as_str())))
                .call()
                .map_err(t)?,
            "DELETE" => agent
                .delete(&url)
                .header("Authorization", &auth)
                .header("X-Canh-Actor", &self.cfg.actor)
                .call()
                .map_err(t)?,
            m => {
                let b = body.map(|b| b.to_string()).unwrap_or_default();
                let req = match m {
                    "PATCH" => agent.patch(&url),
                    "PUT" => agent.put(&url),
                    _ => agent.post(&url),
                };
                let req = req
                    .header("Authorization", &auth)
                    .header("X-Canh-Actor", &self.cfg.actor);
                if body.is_some() {
                    req.content_type("application/json").send(b).map_err(t)?
                } else {
                    req.send_empty().map_err(t)?
                }
            }
        };
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_vec()
            .map_err(t)?;
        if (200..300).contains(&status) {
            Ok(bytes)
        } else {
            Err(ApiError::Status {
                status,
                message: error_message(&bytes),
            })
        }
    }

    fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        let b = self.call(&self.agent, "GET", path, query, None)?;
        decode(&b)
    }

    fn send<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, ApiError> {
        let b = self.call(&self.agent, method, path, &[], Some(body))?;
        decode(&b)
    }
}

fn decode<T: DeserializeOwned>(b: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(b).map_err(|e| ApiError::Decode(e.to_string()))
}

/// The `error` of a JSON error body, else the body's first line.
fn error_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(e) = v.get("error").and_then(|e| e.as_str())
    {
        return e.to_owned();
    }
    String::from_utf8_lossy(body)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_owned()
}

/// Server-sent events, one line at a time.
#[derive(Debug, Default)]
pub struct SseParser {
    event: String,
    data: String,
}

impl SseParser {
    /// Takes one line (without its end); answers `(event, data)` when a blank line ends an
    /// event that had data.
    pub fn line(&mut self, line: &str) -> Option<(String, String)> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            let event = std::mem::take(&mut self.event);
            let data = std::mem::take(&mut self.data);
            if data.is_empty() {
                return None;
            }
            let event = if event.is_empty() {
                "message".to_owned()
            } else {
                event
            };
            return Some((event, data));
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = value.to_owned(),
            "data" => {
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                self.data.push_str(value);
            }
            _ => {}
        }
        None
    }
}

/// The running workers; dropping it stops them (the stream reader ends at its next line or
/// read timeout).
pub struct Client {
    api_tx: Sender<Cmd>,
    search_tx: Sender<Cmd>,
    /// Generation of the newest alert listing asked for: an older one still paging stops.
    alerts_gen: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Client {
    /// Starts the workers. Each thread logs through `dispatch`.
    pub fn start(
        cfg: ClientConfig,
        tx: SyncSender<Msg>,
        dispatch: tracing::Dispatch,
    ) -> std::io::Result<Client> {
        let api = Arc::new(Api::new(cfg));
        let stop = Arc::new(AtomicBool::new(false));
        let alerts_gen = Arc::new(AtomicU64::new(0));
        let (api_tx, api_rx) = std::sync::mpsc::channel::<Cmd>();
        let (search_tx, search_rx) = std::sync::mpsc::channel::<Cmd>();

        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            let d = dispatch.clone();
            std::thread::Builder::new()
                .name(format!("canh-tui-{name}"))
                .spawn(move || tracing::dispatcher::with_default(&d, f))
                .map(|_| ())
        };
        {
            let (api, tx, g) = (api.clone(), tx.clone(), alerts_gen.clone());
            spawn("api", Box::new(move || run_worker(&api, api_rx, &tx, &g)))?;
        }
        {
            let (api, tx, g) = (api.clone(), tx.clone(), alerts_gen.clone());
            spawn(
                "search",
                Box::new(move || run_worker(&api, search_rx, &tx, &g)),
            )?;
        }
        {
            let (api, tx, stop) = (api.clone(), tx.clone(), stop.clone());
            spawn("status", Box::new(move || poll_status(&api, &tx, &stop)))?;
        }
        {
            let (api, stop) = (api.clone(), stop.clone());
            spawn("stream", Box::new(move || follow_stream(&api, &tx, &stop)))?;
        }
        Ok(Client {
            api_tx,
            search_tx,
            alerts_gen,
            stop,
        })
    }

    /// Queues a command (never blocks).
    pub fn send(&self, cmd: Cmd) {
        if let Cmd::LoadAlerts { generation, .. } = &cmd {
            self.alerts_gen.store(*generation, Ordering::Relaxed);
        }
        let r = match cmd {
            Cmd::Search { .. } => self.search_tx.send(cmd),
            Cmd::Quit => Ok(()),
            other => self.api_tx.send(other),
        };
        if r.is_err() {
            tracing::warn!("a network worker has stopped; command dropped");
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Sleeps `d` in short steps; false when asked to stop.
fn nap(d: Duration, stop: &AtomicBool) -> bool {
    let step = Duration::from_millis(100);
    let mut left = d;
    while !left.is_zero() {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let s = left.min(step);
        std::thread::sleep(s);
        left -= s;
    }
    !stop.load(Ordering::Relaxed)
}

fn poll_status(api: &Api, tx: &SyncSender<Msg>, stop: &AtomicBool) {
    let mut up = false;
    let mut attempt = 0u32;
    loop {
        match api.get::<EngineStatus>("/api/v1/status", &[]) {
            Ok(s) => {
                if !up {
                    tracing::info!(api = %api.base(), "engine reachable");
                    up = true;
                    attempt = 0;
                    if tx.send(Msg::Connected).is_err() {
                        return;
                    }
                }
                if tx.send(Msg::Status(Box::new(s), Utc::now())).is_err() {
                    return;
                }
                if !nap(POLL_EVERY, stop) {
                    return;
                }
            }
            Err(e) => {
                attempt = attempt.saturating_add(1);
                let wait = backoff_secs(attempt);
                if up || attempt == 1 {
                    tracing::warn!(api = %api.base(), error = %e, "engine unreachable");
                }
                up = false;
                let msg = Msg::Disconnected {
                    reason: e.to_string(),
                    retry_in_s: wait,
                    attempt,
                };
                if tx.send(msg).is_err() || !nap(Duration::from_secs(wait), stop) {
                    return;
                }
                api.re_resolve();
            }
        }
    }
}

fn follow_stream(api: &Api, tx: &SyncSender<Msg>, stop: &AtomicBool) {
    let mut attempt = 0u32;
    let mut reported_down = false;
    while !stop.load(Ordering::Relaxed) {
        let opened = api.token().and_then(|token| {
            api.stream_agent
                .get(format!("{}/api/v1/alerts/stream", api.base()))
                .header("Authorization", format!("Bearer {token}"))
                .header("X-Canh-Actor", &api.cfg.actor)
                .header("Accept", "text/event-stream")
                .call()
                .map_err(|e| ApiError::Transport(e.to_string()))
        });
        match opened {
            Ok(resp) if resp.status().is_success() => {
                attempt = 0;
                reported_down = false;
                if tx.send(Msg::StreamUp).is_err() {
                    return;
                }
                let mut reader = BufReader::new(resp.into_body().into_reader());
                let mut parser = SseParser::default();
                let mut line = String::new();
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(e) => {
                            tracing::info!(error = %e, "alert stream read failed");
                            break;
                        }
                    }
                    let Some((event, data)) = parser.line(line.trim_end_matches('\n')) else {
                        continue;
                    };
                    let msg = match event.as_str() {
                        "alert" => match live_alert(api, &data) {
                            Some(a) => Msg::AlertLive(Box::new(a)),
                            None => continue,
                        },
                        "lagged" => Msg::Lagged,
                        _ => continue,
                    };
                    if tx.send(msg).is_err() {
                        return;
                    }
                }
            }
            Ok(resp) => {
                tracing::info!(status = resp.status().as_u16(), "alert stream refused");
            }
            Err(e) => tracing::debug!(error = %e, "alert stream unavailable"),
        }
        if !reported_down {
            reported_down = true;
            if tx.send(Msg::StreamDown).is_err() {
                return;
            }
        }
        attempt = attempt.saturating_add(1);
        if !nap(Duration::from_secs(backoff_secs(attempt)), stop) {
            return;
        }
    }
}

/// The alert of a stream event; the engine sends only `{"id": N}` when it could not read the
/// alert in time, and then it is fetched.
fn live_alert(api: &Api, data: &str) -> Option<Alert> {
    let a: Alert = match serde_json::from_str(data) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable alert on the stream");
            return None;
        }
    };
    if !a.uid.is_empty() || a.id == 0 {
        return Some(a);
    }
    api.get::<AlertDetail>(&format!("/api/v1/alerts/{}", a.id), &[])
        .map(|d| d.alert)
        .map_err(|e| tracing::warn!(id = a.id, error = %e, "cannot fetch a streamed alert"))
        .ok()
}

fn run_worker(api: &Api, rx: Receiver<Cmd>, tx: &SyncSender<Msg>, alerts_gen: &AtomicU64) {
    while let Ok(cmd) = rx.recv() {
        tracing::debug!(?cmd, "request");
        let ok = match cmd {
            Cmd::LoadAlerts { generation, status } => {
                load_alerts(api, tx, alerts_gen, generation, status)
            }
            Cmd::RefreshAlerts { since } => {
                let q = [
                    ("status", "all".to_owned()),
                    ("since", since),
                    ("limit", REFRESH_LIMIT.to_string()),
                ];
                match api.get::<AlertList>("/api/v1/alerts", &q) {
                    Ok(l) => tx.send(Msg::AlertsTouched(l.alerts)).is_ok(),
                    Err(e) => {
                        tracing::debug!(error = %e, "alert refresh failed");
                        true
                    }
                }
            }
            Cmd::LoadDetail(id) => {
                let msg = match api.get::<AlertDetail>(&format!("/api/v1/alerts/{id}"), &[]) {
                    Ok(d) => Msg::Detail(Box::new(d)),
                    Err(e) => Msg::DetailFailed {
                        id,
                        error: e.to_string(),
                    },
                };
                tx.send(msg).is_ok()
            }
            Cmd::Triage { ids, action } => triage(api, tx, ids, action),
            Cmd::Suppress(body) => {
                let r = api
                    .send::<serde_json::Value>("POST", "/api/v1/suppressions", &body)
                    .map(|v| v.get("id").and_then(|i| i.as_i64()).unwrap_or(0))
                    .map_err(|e| e.to_string());
                if let Err(e) = &r {
                    tracing::warn!(error = %e, "suppression refused");
                }
                tx.send(Msg::Suppressed(r)).is_ok()
            }
            Cmd::Search {
                generation,
                query,
                from,
                to,
                limit,
            } => {
                let mut q = vec![("q", query), ("limit", limit.to_string())];
                q.extend(from.map(|f| ("from", f)));
                q.extend(to.map(|t| ("to", t)));
                let result = api
                    .call(&api.search_agent, "GET", "/api/v1/search", &q, None)
                    .and_then(|b| decode::<serde_json::Value>(&b))
                    .map(|v| {
                        v.get("events")
                            .and_then(|e| e.as_array())
                            .map(|a| a.iter().map(Hit::from_json).collect())
                            .unwrap_or_default()
                    })
                    .map_err(|e| e.to_string());
                tx.send(Msg::SearchDone { generation, result }).is_ok()
            }
            Cmd::LoadRules => {
                let r = api
                    .get::<Vec<RuleEntry>>("/api/v1/rules", &[])
                    .map_err(|e| e.to_string());
                tx.send(Msg::Rules(r)).is_ok()
            }
            Cmd::ReloadRules => {
                let r = match api.call(&api.agent, "POST", "/api/v1/rules/reload", &[], None) {
                    Ok(b) => Ok(String::from_utf8_lossy(&b).trim().to_owned()),
                    Err(ApiError::Status { message, .. }) => Err(message),
                    Err(e) => Err(e.to_string()),
                };
                tracing::info!(result = ?r, "rules reload");
                tx.send(Msg::Reloaded(r)).is_ok()
            }
            Cmd::Quit => return,
        };
        if !ok {
            return;
        }
    }
}

/// Lists alerts page by page; stops early when a newer listing was asked for.
fn load_alerts(
    api: &Api,
    tx: &SyncSender<Msg>,
    newest: &AtomicU64,
    generation: u64,
    status: &str,
) -> bool {
    let mut offset = 0usize;
    let mut first = true;
    loop {
        if newest.load(Ordering::Relaxed) != generation {
            return true;
        }
        let q = [
            ("status", status.to_owned()),
            ("limit", PAGE_ALERTS.to_string()),
            ("offset", offset.to_string()),
        ];
        let list = match api.get::<AlertList>("/api/v1/alerts", &q) {
            Ok(l) => l,
            Err(e) => {
                return tx
                    .send(Msg::AlertsFailed {
                        generation,
                        error: e.to_string(),
                    })
                    .is_ok();
            }
        };
        let n = list.alerts.len();
        offset += n;
        let full = n == PAGE_ALERTS;
        let done = !full || offset >= MAX_QUEUE_ALERTS;
        let msg = Msg::AlertsPage {
            generation,
            first,
            done,
            truncated: full && offset >= MAX_QUEUE_ALERTS,
            list,
        };
        if tx.send(msg).is_err() {
            return false;
        }
        if done {
            tracing::info!(alerts = offset, status, "alerts listed");
            return true;
        }
        first = false;
    }
}

fn triage(api: &Api, tx: &SyncSender<Msg>, ids: Vec<i64>, action: Triage) -> bool {
    let mut ok = 0;
    let mut failed = Vec::new();
    for id in ids {
        let r = match &action {
            Triage::Ack => api.send::<AlertDetail>(
                "PATCH",
                &format!("/api/v1/alerts/{id}"),
                &serde_json::json!({"status": "acknowledged"}),
            ),
            Triage::Close(reason) => api.send::<AlertDetail>(
                "PATCH",
                &format!("/api/v1/alerts/{id}"),
                &serde_json::json!({"status": "closed", "reason": reason}),
            ),
            Triage::Assign(who) => api.send::<AlertDetail>(
                "PATCH",
                &format!("/api/v1/alerts/{id}"),
                &serde_json::json!({"assignee": who}),
            ),
            Triage::Note(text) => api.send::<AlertDetail>(
                "POST",
                &format!("/api/v1/alerts/{id}/notes"),
                &serde_json::json!({"text": text}),
            ),
        };
        match r {
            Ok(d) => {
                ok += 1;
                if tx.send(Msg::Updated(Box::new(d))).is_err() {
                    return false;
                }
            }
            Err(e) => {
                tracing::warn!(id, ?action, error = %e, "triage refused");
                failed.push(format!("#{id}: {e}"));
            }
        }
    }
    tracing::info!(?action, ok, failed = failed.len(), "triage");
    tx.send(Msg::Done { action, ok, failed }).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_lines_make_events() {
        let mut p = SseParser::default();
        let mut got = Vec::new();
        for l in [
            ": keep-alive",
            "",
            "event: alert",
            "id: 5",
            "data: {\"id\":5}",
            "",
            "event: lagged\r",
            "data: {\"skipped\":3}",
            "data: more",
            "\r",
            "data: plain",
            "",
        ] {
            got.extend(p.line(l));
        }
        assert_eq!(
            got,
            [
                ("alert".to_owned(), "{\"id\":5}".to_owned()),
                ("lagged".to_owned(), "{\"skipped\":3}\nmore".to_owned()),
                ("message".to_owned(), "plain".to_owned()),
            ]
        );
    }

    #[test]
    fn api_address_comes_from_the_flag_then_the_status_file() {
        let d = std::env::temp_dir().join(format!("canh-tui-resolve-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        assert_eq!(resolve_api(None, &d), DEFAULT_API);
        std::fs::write(d.join("status.json"), r#"{"api":"0.0.0.0:9000"}"#).unwrap();
        assert_eq!(resolve_api(None, &d), "http://127.0.0.1:9000");
        std::fs::write(d.join("status.json"), r#"{"api":"10.0.0.5:8470"}"#).unwrap();
        assert_eq!(resolve_api(None, &d), "http://10.0.0.5:8470");
        assert_eq!(resolve_api(Some("127.0.0.1:1/"), &d), "http://127.0.0.1:1");
        assert_eq!(
            resolve_api(Some("https://canh.lan"), &d),
            "https://canh.lan"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn backoff_grows_to_a_cap() {
        let w: Vec<u64> = (1..=7).map(backoff_secs).collect();
        assert_eq!(w, [1, 2, 4, 8, 10, 10, 10]);
    }

    #[test]
    fn error_bodies_give_their_message() {
        assert_eq!(error_message(br#"{"error":"bad query"}"#), "bad query");
        assert_eq!(
            error_message(b"missing or wrong bearer token\n"),
            "missing or wrong bearer token"
        );
    }

    #[test]
    fn unreachable_engine_is_reported_and_retried() {
        // a port nothing listens on: the poller reports Disconnected, never panics
        let d = std::env::temp_dir().join(format!("canh-tui-down-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("api.token"), "x".repeat(64)).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let cfg = ClientConfig {
            explicit_api: Some(format!("127.0.0.1:{port}")),
            data: d.clone(),
            token_file: d.join("api.token"),
            actor: "test".into(),
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(16);
        let client = Client::start(cfg, tx, tracing::Dispatch::none()).unwrap();
        let mut saw = (false, false);
        while !(saw.0 && saw.1) {
            match rx.recv_timeout(Duration::from_secs(10)).unwrap() {
                Msg::Disconnected { attempt, .. } => {
                    assert!(attempt >= 1);
                    saw.0 = true;
                }
                Msg::StreamDown => saw.1 = true,
                other => panic!("unexpected {other:?}"),
            }
        }
        drop(client);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
