//! The HTTP API. `GET /health` is open and says only "ok"; everything else needs
//! `Authorization: Bearer TOKEN` with the token from `DATA/api.token` (created at first start,
//! mode 0600) and answers 401 without it.
//!
//! | method and path | what |
//! |---|---|
//! | `GET /metrics` | Prometheus text |
//! | `GET /api/v1/status` | engine status (listeners, pipeline, detection, alerts) |
//! | `GET /api/v1/alerts?status=&level=&rule=&q=&limit=&offset=` | alerts, most urgent first |
//! | `GET /api/v1/alerts/{id}` | one alert with samples and history |
//! | `PATCH /api/v1/alerts/{id}` | `{"status": "acknowledged"\|"closed"\|"new", "reason", "note", "assignee"}` |
//! | `POST /api/v1/alerts/{id}/notes` | `{"text": …}` |
//! | `GET /api/v1/alerts/stream` | server-sent events: `event: alert`, data = the new alert |
//! | `GET/POST /api/v1/suppressions`, `DELETE /api/v1/suppressions/{id}` | suppressions |
//! | `GET /api/v1/search?q=&from=&to=&limit=` | events from the index |
//! | `GET /api/v1/rules`, `POST /api/v1/rules/reload` | rules with hits; reload |
//! | `GET /api/v1/openapi.json` | this API as OpenAPI 3.1 |
//!
//! The actor recorded in the audit log is the `X-Canh-Actor` header, else "api".

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path as AxPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::broadcast;

use crate::alerts::store::{AlertFilter, Store, StoreError, SuppressionSpec};
use crate::alerts::{CloseReason, Status};
use crate::detect::Detection;
use crate::index::{Reader, SearchRequest};
use crate::status::{self, EngineStatus};

pub type StatusFn = Arc<dyn Fn() -> EngineStatus + Send + Sync>;
/// Reloads the rules; the message says what was loaded or why the old set stays.
pub type ReloadFn = Arc<dyn Fn() -> Result<String, String> + Send + Sync>;

/// New alert ids the live stream may hold for a slow reader before it skips some (it then
/// gets a `lagged` event and can re-list).
pub const LIVE_CAPACITY: usize = 1024;
/// Most events one search returns.
pub const MAX_SEARCH_LIMIT: usize = 10_000;
/// Keep-alive comment interval on the live stream.
const SSE_KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// What the API serves from.
#[derive(Clone)]
pub struct ApiContext {
    pub token: Arc<String>,
    pub data: PathBuf,
    pub status: StatusFn,
    pub reload: ReloadFn,
    pub detection: Arc<Detection>,
    pub live: broadcast::Sender<i64>,
}

pub fn token_path(data: &Path) -> PathBuf {
    data.join("api.token")
}

/// Reads the API token, creating it (32 random bytes, hex, mode 0600) when absent. Refuses a
/// token file that others can read.
pub fn load_or_create_token(data: &Path) -> anyhow::Result<String> {
    let path = token_path(data);
    match std::fs::read_to_string(&path) {
        Ok(t) => {
            let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                anyhow::bail!(
                    "{}: mode {mode:o} lets others read the API token; run chmod 600 on it",
                    path.display()
                );
            }
            let t = t.trim().to_owned();
            anyhow::ensure!(
                t.len() >= 32,
                "{}: token shorter than 32 characters",
                path.display()
            );
            Ok(t)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut raw = [0u8; 32];
            rand::rng().fill_bytes(&mut raw);
            let t: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            writeln!(f, "{t}")?;
            f.sync_all()?;
            Ok(t)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(given) = v.strip_prefix("Bearer ") else {
        return false;
    };
    // constant-time comparison
    given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |a, (x, y)| a | (x ^ y))
            == 0
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "missing or wrong bearer token\n",
    )
        .into_response()
}

async fn require_token(
    State(s): State<ApiContext>,
    req: axum::extract::Request,
    next: Next,
) -> Response {
    if !authorized(req.headers(), &s.token) {
        return unauthorized();
    }
    next.run(req).await
}

fn actor(headers: &HeaderMap) -> String {
    headers
        .get("x-canh-actor")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map_or_else(|| "api".to_owned(), str::to_owned)
}

/// A JSON error body with its status.
fn err(code: StatusCode, msg: impl std::fmt::Display) -> Response {
    (code, Json(json!({"error": msg.to_string()}))).into_response()
}

fn store_err(e: StoreError) -> Response {
    match e {
        StoreError::NoAlert(_) | StoreError::NoSuppression(_) => err(StatusCode::NOT_FOUND, e),
        StoreError::Invalid(_) => err(StatusCode::UNPROCESSABLE_ENTITY, e),
        other => err(StatusCode::INTERNAL_SERVER_ERROR, other),
    }
}

/// Runs a store call off the async threads.
async fn with_store<T: Serialize + Send + 'static>(
    data: PathBuf,
    f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
) -> Response {
    let r = tokio::task::spawn_blocking(move || {
        let mut s = Store::open(&data)?;
        f(&mut s)
    })
    .await;
    match r {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => store_err(e),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn health() -> &'static str {
    "ok\n"
}

async fn metrics(State(s): State<ApiContext>) -> Response {
    let body = status::prometheus(&(s.status)());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

async fn api_status(State(s): State<ApiContext>) -> Response {
    Json((s.status)()).into_response()
}

/// Binds the API address (failing early).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("api: cannot listen on {addr}"))
}

async fn rules_reload(State(s): State<ApiContext>, headers: HeaderMap) -> Response {
    let reload = s.reload.clone();
    let data = s.data.clone();
    let who = actor(&headers);
    let det = s.detection.clone();
    let r = tokio::task::spawn_blocking(move || {
        let r = reload();
        crate::cli::audit_reload(&data, &who, &r);
        if r.is_ok() {
            crate::cli::record_rule_set(&data, &who, &det.current());
        }
        r
    })
    .await;
    match r {
        Ok(Ok(msg)) => (StatusCode::OK, format!("{msg}\n")).into_response(),
        Ok(Err(e)) => (StatusCode::UNPROCESSABLE_ENTITY, format!("{e}\n")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

async fn rules_list(State(s): State<ApiContext>) -> Response {
    Json(s.detection.current().rule_entries()).into_response()
}

#[derive(Debug, Deserialize, Default)]
struct ListQuery {
    status: Option<String>,
    level: Option<String>,
    rule: Option<String>,
    q: Option<String>,
    since: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

async fn alerts_list(State(s): State<ApiContext>, Query(q): Query<ListQuery>) -> Response {
    let status = match q.status.as_deref() {
        None | Some("all") => None,
        Some(x) => match Status::parse(x) {
            Some(st) => Some(st),
            None => {
                return err(
                    StatusCode::BAD_REQUEST,
                    format!("status {x:?}: expected new, acknowledged, closed or all"),
                );
            }
        },
    };
    let since_ms = match q.since.as_deref().map(crate::cli::parse_time) {
        None => None,
        Some(Ok(t)) => Some(t.timestamp_millis()),
        Some(Err(e)) => return err(StatusCode::BAD_REQUEST, e),
    };
    let f = AlertFilter {
        status,
        level: q.level,
        rule: q.rule,
        text: q.q,
        since_ms,
        offset: q.offset.unwrap_or(0),
        limit: q.limit.unwrap_or(100),
        ..Default::default()
    };
    with_store(s.data.clone(), move |st| {
        let alerts = st.list(&f)?;
        let counts = st.counts()?;
        Ok(json!({"alerts": alerts, "counts": counts}))
    })
    .await
}

async fn alert_get(State(s): State<ApiContext>, AxPath(id): AxPath<i64>) -> Response {
    with_store(s.data.clone(), move |st| st.get(id)).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertPatch {
    status: Option<String>,
    reason: Option<String>,
    note: Option<String>,
    assignee: Option<String>,
}

async fn alert_patch(
    State(s): State<ApiContext>,
    AxPath(id): AxPath<i64>,
    headers: HeaderMap,
    body: Result<Json<AlertPatch>, JsonRejection>,
) -> Response {
    let Json(p) = match body {
        Ok(b) => b,
        Err(e) => return err(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let who = actor(&headers);
    let status = match p.status.as_deref().map(|x| (x, Status::parse(x))) {
        None => None,
        Some((_, Some(st))) => Some(st),
        Some((x, None)) => {
            return err(
                StatusCode::BAD_REQUEST,
                format!("status {x:?}: expected new, acknowledged or closed"),
            );
        }
    };
    let reason = match (status, p.reason.as_deref()) {
        (Some(Status::Closed), Some(r)) => match CloseReason::parse(r) {
            Some(r) => Some(r),
            None => {
                return err(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "reason {r:?}: expected one of {}",
                        CloseReason::NAMES.join(", ")
                    ),
                );
            }
        },
        (Some(Status::Closed), None) => {
            return err(
                StatusCode::BAD_REQUEST,
                format!(
                    "closing needs a reason: one of {}",
                    CloseReason::NAMES.join(", ")
                ),
            );
        }
        (_, Some(_)) => {
            return err(StatusCode::BAD_REQUEST, "reason goes with status closed");
        }
        _ => None,
    };
    if status.is_none() && p.assignee.is_none() && p.note.is_none() {
        return err(
            StatusCode::BAD_REQUEST,
            "nothing to change: give status, assignee and/or note",
        );
    }
    with_store(s.data.clone(), move |st| {
        if let Some(a) = &p.assignee {
            st.assign(id, a, &who)?;
        }
        match status {
            Some(Status::Acknowledged) => st.ack(id, &who, p.note.as_deref())?,
            Some(Status::Closed) => {
                st.close(id, reason.expect("checked above"), &who, p.note.as_deref())?
            }
            Some(Status::New) => st.reopen(id, &who, p.note.as_deref())?,
            None => {
                if let Some(n) = &p.note {
                    st.note(id, n, &who)?;
                }
            }
        }
        st.get(id)
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    text: String,
}

async fn alert_note(
    State(s): State<ApiContext>,
    AxPath(id): AxPath<i64>,
    headers: HeaderMap,
    body: Result<Json<NoteBody>, JsonRejection>,
) -> Response {
    let Json(b) = match body {
        Ok(b) => b,
        Err(e) => return err(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let who = actor(&headers);
    with_store(s.data.clone(), move |st| {
        st.note(id, &b.text, &who)?;
        st.get(id)
    })
    .await
}

/// Server-sent events: one `alert` event per new alert, with the alert as JSON.
async fn alerts_stream(State(s): State<ApiContext>) -> Response {
    let rx = s.live.subscribe();
    let data = s.data.clone();
    let stream = futures_util::stream::unfold((rx, data), |(mut rx, data)| async move {
        let ev = match rx.recv().await {
            Ok(id) => {
                let d = data.clone();
                let alert = tokio::task::spawn_blocking(move || {
                    Store::open(&d).and_then(|st| st.get(id)).map(|a| a.alert)
                })
                .await;
                match alert {
                    Ok(Ok(a)) => SseEvent::default()
                        .event("alert")
                        .id(id.to_string())
                        .json_data(&a)
                        .unwrap_or_else(|_| SseEvent::default().comment("unserializable")),
                    _ => SseEvent::default()
                        .event("alert")
                        .data(json!({"id": id}).to_string()),
                }
            }
            Err(broadcast::error::RecvError::Lagged(n)) => SseEvent::default()
                .event("lagged")
                .data(json!({"skipped": n}).to_string()),
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok::<_, std::convert::Infallible>(ev), (rx, data)))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(SSE_KEEPALIVE))
        .into_response()
}

#[derive(Debug, Deserialize)]
struct SuppListQuery {
    all: Option<bool>,
}

async fn supp_list(State(s): State<ApiContext>, Query(q): Query<SuppListQuery>) -> Response {
    let all = q.all.unwrap_or(false);
    with_store(s.data.clone(), move |st| st.suppressions(all)).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuppBody {
    rule: Option<String>,
    host: Option<String>,
    cidr: Option<String>,
    user: Option<String>,
    field: Option<String>,
    value: Option<String>,
    justification: String,
    /// A duration ("7d") or an RFC 3339 time.
    expires: Option<String>,
}

async fn supp_add(
    State(s): State<ApiContext>,
    headers: HeaderMap,
    body: Result<Json<SuppBody>, JsonRejection>,
) -> Response {
    let Json(b) = match body {
        Ok(b) => b,
        Err(e) => return err(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let expires_ms = match b.expires.as_deref().map(crate::cli_alerts::parse_expiry) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => return err(StatusCode::BAD_REQUEST, e),
    };
    let spec = SuppressionSpec {
        rule: b.rule,
        host: b.host,
        cidr: b.cidr,
        user: b.user,
        field: b.field,
        value: b.value,
        justification: b.justification,
        expires_ms,
    };
    let who = actor(&headers);
    with_store(s.data.clone(), move |st| {
        let id = st.add_suppression(&spec, &who)?;
        Ok(json!({"id": id}))
    })
    .await
}

async fn supp_remove(
    State(s): State<ApiContext>,
    AxPath(id): AxPath<i64>,
    headers: HeaderMap,
) -> Response {
    let who = actor(&headers);
    with_store(s.data.clone(), move |st| {
        st.remove_suppression(id, &who, None)?;
        Ok(json!({"removed": id}))
    })
    .await
}

#[derive(Debug, Deserialize)]
struct SearchQuery {
    q: String,
    from: Option<String>,
    to: Option<String>,
    limit: Option<usize>,
    count: Option<bool>,
}

async fn search(State(s): State<ApiContext>, Query(q): Query<SearchQuery>) -> Response {
    let parse = |v: &Option<String>| v.as_deref().map(crate::cli::parse_time).transpose();
    let (from, to) = match (parse(&q.from), parse(&q.to)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return err(StatusCode::BAD_REQUEST, e),
    };
    let req = SearchRequest {
        query: q.q,
        from,
        to,
        limit: q.limit.unwrap_or(100).clamp(1, MAX_SEARCH_LIMIT),
    };
    let root = crate::pipeline::index_dir(&s.data);
    let count = q.count.unwrap_or(false);
    let r = tokio::task::spawn_blocking(move || {
        let reader = Reader::open(&root)?;
        if count {
            reader.count(&req).map(|n| json!({"count": n}))
        } else {
            reader.search(&req).map(|hits| json!({"events": hits}))
        }
    })
    .await;
    match r {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(crate::index::IndexError::Query { query, msg })) => {
            err(StatusCode::BAD_REQUEST, format!("query {query:?}: {msg}"))
        }
        Ok(Err(e)) => err(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// The OpenAPI description, written by hand beside this module.
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// The API's routes (the caller serves them).
pub fn router(ctx: ApiContext) -> Router {
    let protected = Router::new()
        .route("/metrics", get(metrics))
        .route("/api/v1/status", get(api_status))
        .route("/api/v1/rules", get(rules_list))
        .route("/api/v1/rules/reload", post(rules_reload))
        .route("/api/v1/alerts", get(alerts_list))
        .route("/api/v1/alerts/stream", get(alerts_stream))
        .route("/api/v1/alerts/{id}", get(alert_get).patch(alert_patch))
        .route("/api/v1/alerts/{id}/notes", post(alert_note))
        .route("/api/v1/suppressions", get(supp_list).post(supp_add))
        .route("/api/v1/suppressions/{id}", delete(supp_remove))
        .route("/api/v1/search", get(search))
        .route("/api/v1/openapi.json", get(openapi))
        .route_layer(middleware::from_fn_with_state(ctx.clone(), require_token));
    Router::new()
        .route("/health", get(health))
        .merge(protected)
        .with_state(ctx)
}

pub async fn serve(listener: tokio::net::TcpListener, ctx: ApiContext) -> std::io::Result<()> {
    axum::serve(listener, router(ctx)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_check() {
        let mut h = HeaderMap::new();
        assert!(!authorized(&h, "abc"));
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert!(authorized(&h, "abc"));
        assert!(!authorized(&h, "abd"));
        assert!(!authorized(&h, "abcd"));
    }

    #[test]
    fn token_is_created_private_and_reread() {
        let d = tempfile::tempdir().unwrap();
        let t = load_or_create_token(d.path()).unwrap();
        assert_eq!(t.len(), 64);
        let mode = std::fs::metadata(token_path(d.path()))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load_or_create_token(d.path()).unwrap(), t);
        std::fs::set_permissions(token_path(d.path()), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        assert!(load_or_create_token(d.path()).is_err());
    }
}
