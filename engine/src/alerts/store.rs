//! The alert store: SQLite (bundled) in WAL mode at `DATA/alerts.db`, shared by the engine,
//! the CLI and the API. Every write is one transaction; readers never block the engine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;
use serde_json::json;

use super::audit::{self, AuditLog, Head};
use super::{CloseReason, MAX_TEXT_BYTES, Status};

/// Sample events kept per alert (the first ones; the count goes on).
pub const MAX_SAMPLES: usize = 10;
/// Longest raw text kept per sample.
pub const MAX_SAMPLE_RAW: usize = 4096;
/// How long a writer waits for another writer's transaction before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Most alerts one list call returns.
pub const MAX_LIST: usize = 10_000;

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uid TEXT NOT NULL UNIQUE,
    rule TEXT NOT NULL,
    title TEXT NOT NULL,
    level TEXT NOT NULL,
    kind TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    description TEXT,
    group_key TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    count INTEGER NOT NULL,
    value REAL,
    matched TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'new',
    assignee TEXT,
    close_reason TEXT,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    applied_seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_status ON alerts(status, id);
CREATE INDEX IF NOT EXISTS alerts_first ON alerts(first_seen);
CREATE TABLE IF NOT EXISTS samples (
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    n INTEGER NOT NULL,
    time INTEGER NOT NULL,
    host TEXT,
    message TEXT,
    raw TEXT NOT NULL,
    fields TEXT NOT NULL,
    PRIMARY KEY (alert_id, n)
);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS history_alert ON history(alert_id, id);
CREATE TABLE IF NOT EXISTS suppressions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule TEXT,
    host TEXT,
    cidr TEXT,
    user TEXT,
    field TEXT,
    value TEXT,
    justification TEXT NOT NULL,
    created INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    expires INTEGER,
    removed INTEGER,
    removed_by TEXT,
    hits INTEGER NOT NULL DEFAULT 0,
    last_hit INTEGER
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dest TEXT NOT NULL,
    alert_id INTEGER NOT NULL,
    idem_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try INTEGER NOT NULL,
    delivered INTEGER,
    last_error TEXT,
    UNIQUE (dest, idem_key)
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(dest, delivered, next_try);
"#;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Sql {
        path: String,
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
    #[error("no alert {0}")]
    NoAlert(i64),
    #[error("no suppression {0}")]
    NoSuppression(i64),
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Most file names a `rules.load` audit entry lists per kind of change (an audit line is at
/// most [`audit::MAX_LINE_BYTES`]).
pub const MAX_RULE_CHANGES_LISTED: usize = 100;

pub fn path(data: &Path) -> PathBuf {
    data.join("alerts.db")
}

pub fn ms_to_time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

pub fn fmt_ms(ms: i64) -> String {
    ms_to_time(ms).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One raise of the alert stage, ready to be written.
#[derive(Debug, Clone)]
pub struct AlertInput {
    pub rule: String,
    pub title: String,
    pub level: String,
    /// `detection`, `correlation` or `silent_source`.
    pub kind: String,
    pub tags: Vec<String>,
    pub description: Option<String>,
    pub group: Vec<(String, String)>,
    pub window_start_ms: i64,
    pub time_ms: i64,
    pub new: bool,
    pub count: u64,
    pub value: Option<f64>,
    /// WAL position × 2^16 + event ordinal in the record: raises replayed after a crash
    /// carry the same sequence and are skipped when the alert already has it.
    pub seq: u64,
    pub sample: Option<Sample>,
}

/// An event kept with an alert.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Sample {
    pub time: String,
    pub host: Option<String>,
    pub message: Option<String>,
    pub raw: String,
    /// The fields the rule looked at, with the event's values.
    pub fields: BTreeMap<String, String>,
}

/// An alert as listed and shown.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Alert {
    pub id: i64,
    pub uid: String,
    pub rule: String,
    pub title: String,
    pub level: String,
    pub kind: String,
    pub tags: Vec<String>,
    pub description: Option<String>,
    pub group: BTreeMap<String, String>,
    pub first_seen: String,
    pub last_seen: String,
    pub count: u64,
    pub value: Option<f64>,
    pub matched: BTreeMap<String, String>,
    pub status: String,
    pub assignee: Option<String>,
    pub close_reason: Option<String>,
    pub created: String,
    pub updated: String,
    /// A `canh search` query that finds the alert's events.
    pub search: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HistoryEntry {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub detail: serde_json::Value,
}

/// An alert with its samples and history.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AlertDetail {
    #[serde(flatten)]
    pub alert: Alert,
    pub samples: Vec<Sample>,
    pub history: Vec<HistoryEntry>,
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub status: Option<Status>,
    pub level: Option<String>,
    pub rule: Option<String>,
    /// Substring of the title, rule or group values.
    pub text: Option<String>,
    /// Alerts whose last event is at or after this time.
    pub since_ms: Option<i64>,
    /// Alerts with an id greater than this (paging).
    pub after_id: Option<i64>,
    pub offset: usize,
    pub limit: usize,
}

/// A suppression as stored.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Suppression {
    pub id: i64,
    pub rule: Option<String>,
    pub host: Option<String>,
    pub cidr: Option<String>,
    pub user: Option<String>,
    pub field: Option<String>,
    pub value: Option<String>,
    pub justification: String,
    pub created: String,
    pub created_by: String,
    pub expires: Option<String>,
    pub removed: Option<String>,
    pub hits: u64,
    pub last_hit: Option<String>,
}

/// A new suppression's scope.
#[derive(Debug, Clone, Default)]
pub struct SuppressionSpec {
    pub rule: Option<String>,
    pub host: Option<String>,
    pub cidr: Option<String>,
    pub user: Option<String>,
    pub field: Option<String>,
    pub value: Option<String>,
    pub justification: String,
    pub expires_ms: Option<i64>,
}

/// One pending delivery.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub id: i64,
    pub alert_id: i64,
    pub idem_key: String,
    pub payload: String,
    pub attempts: u32,
}

/// Counts for status.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct AlertCounts {
    pub new: u64,
    pub acknowledged: u64,
    pub closed: u64,
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    audit: AuditLog,
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn check_text(what: &str, t: &str) -> Result<()> {
    if t.len() > MAX_TEXT_BYTES {
        return Err(StoreError::Invalid(format!(
            "{what} is {} bytes; at most {MAX_TEXT_BYTES}",
            t.len()
        )));
    }
    Ok(())
}

/// The alert's idempotency key: the same rule, group and window give the same uid everywhere.
pub fn alert_uid(rule: &str, group_json: &str, window_start_ms: i64) -> String {
    audit::sha256_hex(format!("{rule}\u{1f}{group_json}\u{1f}{window_start_ms}").as_bytes())[..32]
        .to_owned()
}

fn quote(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Store {
    /// Opens (creating when absent) the store of the data folder.
    pub fn open(data: &Path) -> Result<Store> {
        let path = path(data);
        let sql = |e| StoreError::Sql {
            path: path.display().to_string(),
            source: e,
        };
        let conn = Connection::open(&path).map_err(sql)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        let v: Option<i64> = conn
            .query_row("SELECT value FROM meta WHERE key='schema'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql)?;
        match v {
            None => {
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES('schema', ?1)",
                    [SCHEMA_VERSION],
                )
                .map_err(sql)?;
            }
            Some(SCHEMA_VERSION) => {}
            Some(other) => {
                return Err(StoreError::Invalid(format!(
                    "{}: schema version {other}, this canh reads {SCHEMA_VERSION}",
                    path.display()
                )));
            }
        }
        Ok(Store {
            conn,
            path,
            audit: AuditLog::new(data),
        })
    }

    fn sql(&self, e: rusqlite::Error) -> StoreError {
        StoreError::Sql {
            path: self.path.display().to_string(),
            source: e,
        }
    }

    // ---- meta -------------------------------------------------------------------------

    fn meta_get_in(tx: &Connection, key: &str) -> rusqlite::Result<Option<Vec<u8>>> {
        tx.query_row("SELECT value FROM meta WHERE key=?1", [key], |r| {
            let v: rusqlite::types::Value = r.get(0)?;
            Ok(match v {
                rusqlite::types::Value::Blob(b) => b,
                rusqlite::types::Value::Text(t) => t.into_bytes(),
                rusqlite::types::Value::Integer(i) => i.to_string().into_bytes(),
                _ => Vec::new(),
            })
        })
        .optional()
    }

    fn meta_put_in(tx: &Connection, key: &str, value: &[u8]) -> rusqlite::Result<()> {
        tx.execute(
            "INSERT INTO meta(key, value) VALUES(?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// The audit chain head recorded with the last action.
    pub fn audit_head(&self) -> Result<Option<Head>> {
        let v = Self::meta_get_in(&self.conn, "audit_head").map_err(|e| self.sql(e))?;
        Ok(v.as_deref().and_then(Head::from_meta))
    }

    /// The correlator state and the WAL position it is complete through.
    pub fn load_state(&self) -> Result<Option<(u64, Vec<u8>)>> {
        let pos = Self::meta_get_in(&self.conn, "state_pos").map_err(|e| self.sql(e))?;
        let state = Self::meta_get_in(&self.conn, "state").map_err(|e| self.sql(e))?;
        Ok(match (pos, state) {
            (Some(p), Some(s)) => String::from_utf8(p)
                .ok()
                .and_then(|p| p.parse().ok())
                .map(|p| (p, s)),
            _ => None,
        })
    }

    pub fn save_state(&mut self, pos: u64, state: &[u8]) -> Result<()> {
        let path = self.path.display().to_string();
        let tx = self.conn.transaction();
        tx.and_then(|tx| {
            Self::meta_put_in(&tx, "state_pos", pos.to_string().as_bytes())?;
            Self::meta_put_in(&tx, "state", state)?;
            tx.commit()
        })
        .map_err(|e| StoreError::Sql { path, source: e })
    }

    // ---- the engine's writes -------------------------------------------------------------

    /// Writes one batch of raises in one transaction; returns the ids of alerts created.
    /// `dests` are the forwarding destinations: each new alert gets an outbox row per
    /// destination in the same transaction.
    pub fn apply(&mut self, raises: &[AlertInput], dests: &[String]) -> Result<Vec<i64>> {
        let now = now_ms();
        let path = self.path.display().to_string();
        let sql = |e| StoreError::Sql {
            path: path.clone(),
            source: e,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        let mut created = Vec::new();
        for r in raises {
            if let Some(id) = Self::apply_one(&tx, r, now, dests).map_err(sql)? {
                created.push(id);
            }
        }
        tx.commit().map_err(sql)?;
        Ok(created)
    }

    fn apply_one(
        tx: &Transaction<'_>,
        r: &AlertInput,
        now: i64,
        dests: &[String],
    ) -> rusqlite::Result<Option<i64>> {
        let group: BTreeMap<&str, &str> = r
            .group
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let group_json = serde_json::to_string(&group).expect("group serializes");
        let uid = alert_uid(&r.rule, &group_json, r.window_start_ms);
        let existing: Option<(i64, i64, i64)> = tx
            .query_row(
                "SELECT id, applied_seq, count FROM alerts WHERE uid=?1",
                [&uid],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?;
        let (id, is_new, samples) = match existing {
            Some((_, applied, _)) if applied as u64 >= r.seq => return Ok(None),
            Some((id, _, _)) => {
                tx.execute(
                    "UPDATE alerts SET count=count+?2, last_seen=max(last_seen, ?3),
                        first_seen=min(first_seen, ?3), value=coalesce(?4, value),
                        updated=?5, applied_seq=?6 WHERE id=?1",
                    params![id, r.count as i64, r.time_ms, r.value, now, r.seq as i64],
                )?;
                let n: i64 = tx.query_row(
                    "SELECT count(*) FROM samples WHERE alert_id=?1",
                    [id],
                    |x| x.get(0),
                )?;
                (id, false, n)
            }
            None => {
                let matched = r
                    .sample
                    .as_ref()
                    .map(|s| serde_json::to_string(&s.fields).expect("fields serialize"))
                    .unwrap_or_else(|| "{}".into());
                tx.execute(
                    "INSERT INTO alerts(uid, rule, title, level, kind, tags, description, group_key,
                        window_start, first_seen, last_seen, count, value, matched, status,
                        created, updated, applied_seq)
                     VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11, ?12, ?13, 'new',
                        ?14, ?14, ?15)",
                    params![
                        uid,
                        r.rule,
                        r.title,
                        r.level,
                        r.kind,
                        serde_json::to_string(&r.tags).expect("tags serialize"),
                        r.description,
                        group_json,
                        r.window_start_ms.min(r.time_ms),
                        r.time_ms,
                        r.count as i64,
                        r.value,
                        matched,
                        now,
                        r.seq as i64,
                    ],
                )?;
                let id = tx.last_insert_rowid();
                tx.execute(
                    "INSERT INTO history(alert_id, at, actor, action, detail) VALUES(?1, ?2, 'canh', 'created', ?3)",
                    params![id, now, json!({"count": r.count, "value": r.value}).to_string()],
                )?;
                (id, true, 0)
            }
        };
        if let Some(s) = &r.sample
            && (samples as usize) < MAX_SAMPLES
        {
            let mut raw = s.raw.clone();
            if raw.len() > MAX_SAMPLE_RAW {
                let mut cut = MAX_SAMPLE_RAW;
                while !raw.is_char_boundary(cut) {
                    cut -= 1;
                }
                raw.truncate(cut);
            }
            let t = DateTime::parse_from_rfc3339(&s.time)
                .map(|t| t.timestamp_millis())
                .unwrap_or(r.time_ms);
            tx.execute(
                "INSERT OR IGNORE INTO samples(alert_id, n, time, host, message, raw, fields)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    id,
                    samples,
                    t,
                    s.host,
                    s.message,
                    raw,
                    serde_json::to_string(&s.fields).expect("fields serialize")
                ],
            )?;
        }
        if is_new {
            if !dests.is_empty() {
                let alert = Self::get_alert_in(tx, id)?.expect("just inserted");
                let payload = serde_json::to_string(&alert).expect("alert serializes");
                for d in dests {
                    tx.execute(
                        "INSERT OR IGNORE INTO outbox(dest, alert_id, idem_key, payload, next_try)
                         VALUES(?1, ?2, ?3, ?4, ?5)",
                        params![d, id, alert.uid, payload, now],
                    )?;
                }
            }
            return Ok(Some(id));
        }
        Ok(None)
    }

    // ---- reads ---------------------------------------------------------------------------

    fn row_to_alert(row: &rusqlite::Row<'_>) -> rusqlite::Result<Alert> {
        let tags: String = row.get("tags")?;
        let group: String = row.get("group_key")?;
        let matched: String = row.get("matched")?;
        let group: BTreeMap<String, String> = serde_json::from_str(&group).unwrap_or_default();
        let rule: String = row.get("rule")?;
        let first: i64 = row.get("first_seen")?;
        let last: i64 = row.get("last_seen")?;
        let mut search = format!("canh.rule.id:{}", quote(&rule));
        for (k, v) in &group {
            if !v.is_empty() && !k.starts_with("canh.") {
                search.push_str(&format!(" AND {k}:{}", quote(v)));
            }
        }
        Ok(Alert {
            id: row.get("id")?,
            uid: row.get("uid")?,
            title: row.get("title")?,
            level: row.get("level")?,
            kind: row.get("kind")?,
            tags: serde_json::from_str(&tags).unwrap_or_default(),
            description: row.get("description")?,
            first_seen: fmt_ms(first),
            last_seen: fmt_ms(last),
            count: row.get::<_, i64>("count")? as u64,
            value: row.get("value")?,
            matched: serde_json::from_str(&matched).unwrap_or_default(),
            status: row.get("status")?,
            assignee: row.get("assignee")?,
            close_reason: row.get("close_reason")?,
            created: fmt_ms(row.get("created")?),
            updated: fmt_ms(row.get("updated")?),
            search: format!(
                "canh search '{search}' --from {} --to {}",
                fmt_ms(first),
                fmt_ms(last + 1000)
            ),
            rule,
            group,
        })
    }

    fn get_alert_in(c: &Connection, id: i64) -> rusqlite::Result<Option<Alert>> {
        c.query_row("SELECT * FROM alerts WHERE id=?1", [id], Self::row_to_alert)
            .optional()
    }

    pub fn get(&self, id: i64) -> Result<AlertDetail> {
        let alert = Self::get_alert_in(&self.conn, id)
            .map_err(|e| self.sql(e))?
            .ok_or(StoreError::NoAlert(id))?;
        let samples = self
            .conn
            .prepare(
                "SELECT time, host, message, raw, fields FROM samples WHERE alert_id=?1 ORDER BY n",
            )
            .and_then(|mut st| {
                st.query_map([id], |r| {
                    let fields: String = r.get(4)?;
                    Ok(Sample {
                        time: fmt_ms(r.get(0)?),
                        host: r.get(1)?,
                        message: r.get(2)?,
                        raw: r.get(3)?,
                        fields: serde_json::from_str(&fields).unwrap_or_default(),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| self.sql(e))?;
        let history = self
            .conn
            .prepare("SELECT at, actor, action, detail FROM history WHERE alert_id=?1 ORDER BY id")
            .and_then(|mut st| {
                st.query_map([id], |r| {
                    let d: String = r.get(3)?;
                    Ok(HistoryEntry {
                        at: fmt_ms(r.get(0)?),
                        actor: r.get(1)?,
                        action: r.get(2)?,
                        detail: serde_json::from_str(&d).unwrap_or_default(),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| self.sql(e))?;
        Ok(AlertDetail {
            alert,
            samples,
            history,
        })
    }

    /// Alerts by the filter: open ones most urgent first, then newest first.
    pub fn list(&self, f: &AlertFilter) -> Result<Vec<Alert>> {
        let mut sql = String::from("SELECT * FROM alerts WHERE 1=1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(s) = f.status {
            sql.push_str(" AND status=?");
            args.push(s.as_str().to_owned().into());
        }
        if let Some(l) = &f.level {
            sql.push_str(" AND level=?");
            args.push(l.clone().into());
        }
        if let Some(r) = &f.rule {
            sql.push_str(" AND (rule=? OR title=?)");
            args.push(r.clone().into());
            args.push(r.clone().into());
        }
        if let Some(t) = &f.text {
            sql.push_str(
                " AND (instr(lower(title), lower(?)) OR instr(rule, ?) OR instr(group_key, ?))",
            );
            for _ in 0..3 {
                args.push(t.clone().into());
            }
        }
        if let Some(s) = f.since_ms {
            sql.push_str(" AND last_seen>=?");
            args.push(s.into());
        }
        if let Some(a) = f.after_id {
            sql.push_str(" AND id>?");
            args.push(a.into());
        }
        sql.push_str(
            " ORDER BY CASE level WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2
              WHEN 'low' THEN 3 ELSE 4 END, last_seen DESC, id DESC LIMIT ? OFFSET ?",
        );
        let limit = if f.limit == 0 {
            MAX_LIST
        } else {
            f.limit.min(MAX_LIST)
        };
        args.push((limit as i64).into());
        args.push((f.offset as i64).into());
        let mut st = self.conn.prepare(&sql).map_err(|e| self.sql(e))?;
        let rows = st
            .query_map(rusqlite::params_from_iter(args), Self::row_to_alert)
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.sql(e))?;
        Ok(rows)
    }

    pub fn counts(&self) -> Result<AlertCounts> {
        let mut c = AlertCounts::default();
        let mut st = self
            .conn
            .prepare("SELECT status, count(*) FROM alerts GROUP BY status")
            .map_err(|e| self.sql(e))?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.sql(e))?;
        for (s, n) in rows {
            match s.as_str() {
                "new" => c.new = n as u64,
                "acknowledged" => c.acknowledged = n as u64,
                "closed" => c.closed = n as u64,
                _ => {}
            }
        }
        Ok(c)
    }

    // ---- officer actions -----------------------------------------------------------------

    /// Runs `change` and the audit append in one transaction: the audit line is fsynced
    /// before the commit and the chain head is recorded in the same transaction.
    fn audited<T>(
        &mut self,
        actor: &str,
        action: &str,
        target: &str,
        change: impl FnOnce(&Transaction<'_>) -> Result<(T, serde_json::Value)>,
    ) -> Result<T> {
        check_text("the actor name", actor)?;
        let path = self.path.display().to_string();
        let sql = |e| StoreError::Sql {
            path: path.clone(),
            source: e,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        let (out, detail) = change(&tx)?;
        let appended = self.audit.append(actor, action, target, detail)?;
        Self::meta_put_in(
            &tx,
            "audit_head",
            format!("{}:{}", appended.head.seq, appended.head.hash).as_bytes(),
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        drop(appended);
        Ok(out)
    }

    /// Records an action that changes no alert (rule reloads, refused collectors …).
    pub fn audit_only(
        &mut self,
        actor: &str,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) -> Result<()> {
        self.audited(actor, action, target, |_| Ok(((), detail)))
    }

    /// Records the rule set in force: when its hash differs from the last one recorded, one
    /// `rules.load` audit entry names the files added, removed and changed (at most
    /// [`MAX_RULE_CHANGES_LISTED`] of each; the counts are always whole). Returns whether it
    /// changed.
    pub fn record_rule_set(
        &mut self,
        actor: &str,
        hash: &str,
        files: &BTreeMap<String, String>,
    ) -> Result<bool> {
        let prev: BTreeMap<String, String> = Self::meta_get_in(&self.conn, "rule_files")
            .map_err(|e| self.sql(e))?
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let prev_hash = Self::meta_get_in(&self.conn, "rule_set_hash")
            .map_err(|e| self.sql(e))?
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        if prev_hash.as_deref() == Some(hash) {
            return Ok(false);
        }
        let added: Vec<&String> = files.keys().filter(|k| !prev.contains_key(*k)).collect();
        let removed: Vec<&String> = prev.keys().filter(|k| !files.contains_key(*k)).collect();
        let changed: Vec<&String> = files
            .iter()
            .filter(|(k, v)| prev.get(*k).is_some_and(|p| p != *v))
            .map(|(k, _)| k)
            .collect();
        let list = |v: &[&String]| -> Vec<String> {
            v.iter()
                .take(MAX_RULE_CHANGES_LISTED)
                .map(|s| (*s).clone())
                .collect()
        };
        let detail = json!({
            "hash": hash,
            "previous": prev_hash,
            "files": files.len(),
            "added": added.len(), "removed": removed.len(), "changed": changed.len(),
            "added_files": list(&added), "removed_files": list(&removed),
            "changed_files": list(&changed),
        });
        let stored = serde_json::to_vec(files).unwrap_or_default();
        let hash = hash.to_owned();
        self.audited(actor, "rules.load", "rules", move |tx| {
            Self::meta_put_in(tx, "rule_files", &stored)
                .and_then(|_| Self::meta_put_in(tx, "rule_set_hash", hash.as_bytes()))
                .map_err(|e| StoreError::Sql {
                    path: String::new(),
                    source: e,
                })?;
            Ok(((), detail))
        })?;
        Ok(true)
    }

    fn alert_status(tx: &Transaction<'_>, id: i64) -> Result<String> {
        tx.query_row("SELECT status FROM alerts WHERE id=?1", [id], |r| r.get(0))
            .optional()
            .map_err(|e| StoreError::Sql {
                path: String::new(),
                source: e,
            })?
            .ok_or(StoreError::NoAlert(id))
    }

    fn history_in(
        tx: &Transaction<'_>,
        id: i64,
        actor: &str,
        action: &str,
        detail: &serde_json::Value,
    ) -> Result<()> {
        tx.execute(
            "INSERT INTO history(alert_id, at, actor, action, detail) VALUES(?1, ?2, ?3, ?4, ?5)",
            params![id, now_ms(), actor, action, detail.to_string()],
        )
        .map(|_| ())
        .map_err(|e| StoreError::Sql {
            path: String::new(),
            source: e,
        })
    }

    fn set_in(tx: &Transaction<'_>, id: i64, set: &str, v: &[&dyn rusqlite::ToSql]) -> Result<()> {
        let mut p: Vec<&dyn rusqlite::ToSql> = v.to_vec();
        let now = now_ms();
        p.push(&now);
        p.push(&id);
        let n = v.len();
        tx.execute(
            &format!(
                "UPDATE alerts SET {set}, updated=?{} WHERE id=?{}",
                n + 1,
                n + 2
            ),
            p.as_slice(),
        )
        .map(|_| ())
        .map_err(|e| StoreError::Sql {
            path: String::new(),
            source: e,
        })
    }

    pub fn ack(&mut self, id: i64, actor: &str, note: Option<&str>) -> Result<()> {
        if let Some(n) = note {
            check_text("the note", n)?;
        }
        self.audited(actor, "alert.ack", &format!("alert:{id}"), |tx| {
            let st = Self::alert_status(tx, id)?;
            if st == "closed" {
                return Err(StoreError::Invalid(format!(
                    "alert {id} is closed; acknowledge applies to new alerts"
                )));
            }
            Self::set_in(tx, id, "status='acknowledged'", &[])?;
            let d = json!({"from": st, "note": note});
            Self::history_in(tx, id, actor, "acknowledged", &d)?;
            Ok(((), d))
        })
    }

    pub fn assign(&mut self, id: i64, user: &str, actor: &str) -> Result<()> {
        check_text("the assignee", user)?;
        if user.trim().is_empty() {
            return Err(StoreError::Invalid("the assignee is empty".into()));
        }
        self.audited(actor, "alert.assign", &format!("alert:{id}"), |tx| {
            Self::alert_status(tx, id)?;
            let prev: Option<String> = tx
                .query_row("SELECT assignee FROM alerts WHERE id=?1", [id], |r| {
                    r.get(0)
                })
                .map_err(|e| StoreError::Sql {
                    path: String::new(),
                    source: e,
                })?;
            Self::set_in(tx, id, "assignee=?1", &[&user])?;
            let d = json!({"from": prev, "to": user});
            Self::history_in(tx, id, actor, "assigned", &d)?;
            Ok(((), d))
        })
    }

    pub fn close(
        &mut self,
        id: i64,
        reason: CloseReason,
        actor: &str,
        note: Option<&str>,
    ) -> Result<()> {
        if let Some(n) = note {
            check_text("the note", n)?;
        }
        self.audited(actor, "alert.close", &format!("alert:{id}"), |tx| {
            let st = Self::alert_status(tx, id)?;
            if st == "closed" {
                return Err(StoreError::Invalid(format!("alert {id} is already closed")));
            }
            Self::set_in(
                tx,
                id,
                "status='closed', close_reason=?1",
                &[&reason.as_str()],
            )?;
            let d = json!({"from": st, "reason": reason.as_str(), "note": note});
            Self::history_in(tx, id, actor, "closed", &d)?;
            Ok(((), d))
        })
    }

    pub fn reopen(&mut self, id: i64, actor: &str, note: Option<&str>) -> Result<()> {
        if let Some(n) = note {
            check_text("the note", n)?;
        }
        self.audited(actor, "alert.reopen", &format!("alert:{id}"), |tx| {
            let st = Self::alert_status(tx, id)?;
            Self::set_in(tx, id, "status='new', close_reason=NULL", &[])?;
            let d = json!({"from": st, "note": note});
            Self::history_in(tx, id, actor, "reopened", &d)?;
            Ok(((), d))
        })
    }

    pub fn note(&mut self, id: i64, text: &str, actor: &str) -> Result<()> {
        check_text("the note", text)?;
        if text.trim().is_empty() {
            return Err(StoreError::Invalid("the note is empty".into()));
        }
        self.audited(actor, "alert.note", &format!("alert:{id}"), |tx| {
            Self::alert_status(tx, id)?;
            Self::set_in(tx, id, "status=status", &[])?;
            let d = json!({"note": text});
            Self::history_in(tx, id, actor, "note", &d)?;
            Ok(((), d))
        })
    }

    // ---- suppressions --------------------------------------------------------------------

    pub fn add_suppression(&mut self, s: &SuppressionSpec, actor: &str) -> Result<i64> {
        check_text("the justification", &s.justification)?;
        if s.justification.trim().is_empty() {
            return Err(StoreError::Invalid(
                "a suppression needs a justification (--why)".into(),
            ));
        }
        if s.rule.is_none()
            && s.host.is_none()
            && s.cidr.is_none()
            && s.user.is_none()
            && s.field.is_none()
        {
            return Err(StoreError::Invalid(
                "a suppression needs a scope: a rule and/or host, CIDR, user, field=value".into(),
            ));
        }
        if s.field.is_some() != s.value.is_some() {
            return Err(StoreError::Invalid(
                "field and value go together (field=value)".into(),
            ));
        }
        if let Some(c) = &s.cidr {
            super::suppress::parse_cidr(c).map_err(StoreError::Invalid)?;
        }
        for (what, v) in [
            ("the rule", &s.rule),
            ("the host", &s.host),
            ("the user", &s.user),
            ("the field", &s.field),
            ("the value", &s.value),
        ] {
            if let Some(v) = v {
                check_text(what, v)?;
            }
        }
        let spec = s.clone();
        let actor_s = actor.to_owned();
        self.audited(actor, "suppression.add", "suppression", move |tx| {
            tx.execute(
                "INSERT INTO suppressions(rule, host, cidr, user, field, value, justification,
                    created, created_by, expires) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    spec.rule,
                    spec.host,
                    spec.cidr,
                    spec.user,
                    spec.field,
                    spec.value,
                    spec.justification,
                    now_ms(),
                    actor_s,
                    spec.expires_ms
                ],
            )
            .map_err(|e| StoreError::Sql {
                path: String::new(),
                source: e,
            })?;
            let id = tx.last_insert_rowid();
            let d = json!({
                "id": id, "rule": spec.rule, "host": spec.host, "cidr": spec.cidr,
                "user": spec.user, "field": spec.field, "value": spec.value,
                "justification": spec.justification,
                "expires": spec.expires_ms.map(fmt_ms),
            });
            Ok((id, d))
        })
    }

    pub fn remove_suppression(&mut self, id: i64, actor: &str, why: Option<&str>) -> Result<()> {
        if let Some(w) = why {
            check_text("the reason", w)?;
        }
        self.audited(actor, "suppression.remove", &format!("suppression:{id}"), |tx| {
            let n = tx
                .execute(
                    "UPDATE suppressions SET removed=?2, removed_by=?3 WHERE id=?1 AND removed IS NULL",
                    params![id, now_ms(), actor],
                )
                .map_err(|e| StoreError::Sql {
                    path: String::new(),
                    source: e,
                })?;
            if n == 0 {
                return Err(StoreError::NoSuppression(id));
            }
            Ok(((), json!({"id": id, "why": why})))
        })
    }

    /// Suppressions; `all` includes removed and expired ones.
    pub fn suppressions(&self, all: bool) -> Result<Vec<Suppression>> {
        let sql = if all {
            "SELECT * FROM suppressions ORDER BY id".to_owned()
        } else {
            format!(
                "SELECT * FROM suppressions WHERE removed IS NULL AND (expires IS NULL OR expires > {}) ORDER BY id",
                now_ms()
            )
        };
        let mut st = self.conn.prepare(&sql).map_err(|e| self.sql(e))?;
        st.query_map([], |r| {
            Ok(Suppression {
                id: r.get("id")?,
                rule: r.get("rule")?,
                host: r.get("host")?,
                cidr: r.get("cidr")?,
                user: r.get("user")?,
                field: r.get("field")?,
                value: r.get("value")?,
                justification: r.get("justification")?,
                created: fmt_ms(r.get("created")?),
                created_by: r.get("created_by")?,
                expires: r.get::<_, Option<i64>>("expires")?.map(fmt_ms),
                removed: r.get::<_, Option<i64>>("removed")?.map(fmt_ms),
                hits: r.get::<_, i64>("hits")? as u64,
                last_hit: r.get::<_, Option<i64>>("last_hit")?.map(fmt_ms),
            })
        })
        .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| self.sql(e))
    }

    /// Adds suppressed-match counts (engine side, one transaction).
    pub fn add_suppression_hits(&mut self, hits: &[(i64, u64)]) -> Result<()> {
        if hits.is_empty() {
            return Ok(());
        }
        let path = self.path.display().to_string();
        let sql = |e| StoreError::Sql {
            path: path.clone(),
            source: e,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        let now = now_ms();
        for (id, n) in hits {
            tx.execute(
                "UPDATE suppressions SET hits=hits+?2, last_hit=?3 WHERE id=?1",
                params![id, *n as i64, now],
            )
            .map_err(sql)?;
        }
        tx.commit().map_err(sql)
    }

    /// A number that changes whenever suppressions change (the engine reloads them then).
    pub fn suppressions_version(&self) -> Result<(i64, i64)> {
        self.conn
            .query_row(
                "SELECT count(*), coalesce(max(id), 0) + coalesce(sum(removed IS NOT NULL), 0) FROM suppressions",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.sql(e))
    }

    // ---- outbox --------------------------------------------------------------------------

    pub fn outbox_due(&self, dest: &str, limit: usize) -> Result<Vec<OutboxItem>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT id, alert_id, idem_key, payload, attempts FROM outbox
                 WHERE dest=?1 AND delivered IS NULL AND next_try<=?2 ORDER BY id LIMIT ?3",
            )
            .map_err(|e| self.sql(e))?;
        st.query_map(params![dest, now_ms(), limit as i64], |r| {
            Ok(OutboxItem {
                id: r.get(0)?,
                alert_id: r.get(1)?,
                idem_key: r.get(2)?,
                payload: r.get(3)?,
                attempts: r.get::<_, i64>(4)? as u32,
            })
        })
        .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| self.sql(e))
    }

    pub fn outbox_delivered(&mut self, id: i64) -> Result<()> {
        self.conn
            .execute(
                "UPDATE outbox SET delivered=?2, attempts=attempts+1, last_error=NULL WHERE id=?1",
                params![id, now_ms()],
            )
            .map(|_| ())
            .map_err(|e| self.sql(e))
    }

    pub fn outbox_failed(&mut self, id: i64, error: &str, retry_at_ms: i64) -> Result<()> {
        self.conn
            .execute(
                "UPDATE outbox SET attempts=attempts+1, last_error=?2, next_try=?3 WHERE id=?1",
                params![id, error, retry_at_ms],
            )
            .map(|_| ())
            .map_err(|e| self.sql(e))
    }

    /// (pending, delivered) per destination.
    pub fn outbox_counts(&self) -> Result<Vec<(String, u64, u64)>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT dest, sum(delivered IS NULL), sum(delivered IS NOT NULL) FROM outbox GROUP BY dest",
            )
            .map_err(|e| self.sql(e))?;
        st.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
            ))
        })
        .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| self.sql(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raise(rule: &str, ip: &str, seq: u64, new: bool) -> AlertInput {
        AlertInput {
            rule: rule.into(),
            title: format!("{rule} title"),
            level: "high".into(),
            kind: "detection".into(),
            tags: vec!["attack.t1110".into()],
            description: None,
            group: vec![("source.ip".into(), ip.into())],
            window_start_ms: 1_000,
            time_ms: 1_000 + seq as i64,
            new,
            count: 1,
            value: None,
            seq,
            sample: Some(Sample {
                time: fmt_ms(1_000),
                host: Some("web01".into()),
                message: Some("Failed password".into()),
                raw: "<38>raw".into(),
                fields: [("source.ip".to_owned(), ip.to_owned())].into(),
            }),
        }
    }

    #[test]
    fn raises_make_one_alert_and_replays_change_nothing() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Store::open(d.path()).unwrap();
        let batch: Vec<_> = (1..=30)
            .map(|i| raise("r1", "203.0.113.5", i, i == 1))
            .collect();
        let created = s.apply(&batch, &["hook".into()]).unwrap();
        assert_eq!(created.len(), 1);
        // the same raises again (a WAL replay): nothing changes
        assert!(s.apply(&batch, &["hook".into()]).unwrap().is_empty());
        let all = s.list(&AlertFilter::default()).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].count, 30);
        assert_eq!(all[0].group["source.ip"], "203.0.113.5");
        let det = s.get(all[0].id).unwrap();
        assert_eq!(det.samples.len(), MAX_SAMPLES);
        assert_eq!(det.history[0].action, "created");
        assert_eq!(s.outbox_due("hook", 10).unwrap().len(), 1);
        assert!(all[0].search.contains("source.ip:\"203.0.113.5\""));
    }

    #[test]
    fn lifecycle_is_audited_and_verifiable() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Store::open(d.path()).unwrap();
        let id = s
            .apply(&[raise("r1", "198.51.100.7", 1, true)], &[])
            .unwrap()[0];
        s.ack(id, "lan", Some("đang xem")).unwrap();
        s.assign(id, "minh", "lan").unwrap();
        s.note(id, "blocked at the firewall", "minh").unwrap();
        assert!(matches!(
            s.close(id, CloseReason::TruePositive, "minh", None),
            Ok(())
        ));
        assert!(s.close(id, CloseReason::Benign, "minh", None).is_err());
        assert!(matches!(
            s.ack(999, "lan", None),
            Err(StoreError::NoAlert(999))
        ));
        let det = s.get(id).unwrap();
        let actions: Vec<_> = det.history.iter().map(|h| h.action.as_str()).collect();
        assert_eq!(
            actions,
            ["created", "acknowledged", "assigned", "note", "closed"]
        );
        assert_eq!(det.alert.status, "closed");
        assert_eq!(det.alert.close_reason.as_deref(), Some("true_positive"));
        assert_eq!(det.alert.assignee.as_deref(), Some("minh"));
        let head = s.audit_head().unwrap().unwrap();
        assert_eq!(head.seq, 4);
        assert_eq!(
            audit::verify(&audit::path(d.path()), Some(&head)).unwrap(),
            4
        );
        let c = s.counts().unwrap();
        assert_eq!((c.new, c.closed), (0, 1));
    }

    #[test]
    fn suppressions_need_scope_and_justification() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Store::open(d.path()).unwrap();
        let no_why = SuppressionSpec {
            rule: Some("r1".into()),
            ..Default::default()
        };
        assert!(s.add_suppression(&no_why, "lan").is_err());
        let no_scope = SuppressionSpec {
            justification: "scanner".into(),
            ..Default::default()
        };
        assert!(s.add_suppression(&no_scope, "lan").is_err());
        let bad_cidr = SuppressionSpec {
            cidr: Some("10.0.0.0/33".into()),
            justification: "scanner".into(),
            ..Default::default()
        };
        assert!(s.add_suppression(&bad_cidr, "lan").is_err());
        let ok = SuppressionSpec {
            rule: Some("r1".into()),
            cidr: Some("10.0.0.0/8".into()),
            justification: "the vulnerability scanner".into(),
            ..Default::default()
        };
        let id = s.add_suppression(&ok, "lan").unwrap();
        s.add_suppression_hits(&[(id, 3)]).unwrap();
        let l = s.suppressions(false).unwrap();
        assert_eq!((l.len(), l[0].hits), (1, 3));
        s.remove_suppression(id, "lan", Some("scanner retired"))
            .unwrap();
        assert!(s.suppressions(false).unwrap().is_empty());
        assert_eq!(s.suppressions(true).unwrap().len(), 1);
        assert!(s.remove_suppression(id, "lan", None).is_err());
    }

    #[test]
    fn state_round_trips() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Store::open(d.path()).unwrap();
        assert!(s.load_state().unwrap().is_none());
        s.save_state(42, b"state").unwrap();
        assert_eq!(s.load_state().unwrap(), Some((42, b"state".to_vec())));
    }
}
