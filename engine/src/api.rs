//! The HTTP API: `GET /health` (open, says only "ok"), `GET /metrics` (Prometheus) and
//! `GET /api/v1/status` (JSON). Everything but /health needs `Authorization: Bearer TOKEN`
//! with the token from `DATA/api.token` (created at first start, mode 0600).

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rand::RngCore;

use crate::status::{self, EngineStatus};

pub type StatusFn = Arc<dyn Fn() -> EngineStatus + Send + Sync>;
/// Reloads the rules; the message says what was loaded or why the old set stays.
pub type ReloadFn = Arc<dyn Fn() -> Result<String, String> + Send + Sync>;

#[derive(Clone)]
struct AppState {
    token: Arc<String>,
    status: StatusFn,
    reload: ReloadFn,
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

async fn health() -> &'static str {
    "ok\n"
}

async fn metrics(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if !authorized(&headers, &s.token) {
        return unauthorized();
    }
    let body = status::prometheus(&(s.status)());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

async fn api_status(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if !authorized(&headers, &s.token) {
        return unauthorized();
    }
    axum::Json((s.status)()).into_response()
}

/// Binds the API address (failing early) and returns the server future.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("api: cannot listen on {addr}"))
}

async fn rules_reload(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if !authorized(&headers, &s.token) {
        return unauthorized();
    }
    let reload = s.reload.clone();
    match tokio::task::spawn_blocking(move || reload()).await {
        Ok(Ok(msg)) => (StatusCode::OK, format!("{msg}\n")).into_response(),
        Ok(Err(e)) => (StatusCode::UNPROCESSABLE_ENTITY, format!("{e}\n")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    token: String,
    status: StatusFn,
    reload: ReloadFn,
) -> std::io::Result<()> {
    let state = AppState {
        token: Arc::new(token),
        status,
        reload,
    };
    let app = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/v1/status", get(api_status))
        .route("/api/v1/rules/reload", axum::routing::post(rules_reload))
        .with_state(state);
    axum::serve(listener, app).await
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
