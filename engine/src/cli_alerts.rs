//! `canh alerts …`, `canh suppress …` and `canh audit verify`: the officer's commands. They
//! work on `DATA/alerts.db` directly, while the engine runs.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::alerts::store::{self, AlertFilter, Store, StoreError, SuppressionSpec};
use crate::alerts::{CloseReason, Status, audit, cli_actor};
use crate::cli::UsageError;

#[derive(Args, Debug, Clone)]
pub struct DataArg {
    #[arg(long, env = "CANH_DATA", default_value = "./canh-data", global = true)]
    pub data: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum AlertsCmd {
    /// List alerts, most urgent first.
    List {
        /// new, acknowledged, closed or all.
        #[arg(long, default_value = "new")]
        status: String,
        /// Only this level (informational, low, medium, high, critical).
        #[arg(long)]
        level: Option<String>,
        /// Only this rule (id or title).
        #[arg(long)]
        rule: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Show one alert with its sample events and history.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge: someone is looking at it.
    Ack {
        id: i64,
        #[arg(long)]
        note: Option<String>,
    },
    /// Assign to a person.
    Assign { id: i64, user: String },
    /// Close with a reason: true_positive, false_positive, benign or duplicate.
    Close {
        id: i64,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Open a closed or acknowledged alert again.
    Reopen {
        id: i64,
        #[arg(long)]
        note: Option<String>,
    },
    /// Add a note.
    Note { id: i64, text: String },
}

#[derive(Subcommand, Debug)]
pub enum SuppressCmd {
    /// Stop matches in a scope from raising alerts (they are still indexed and counted).
    Add {
        /// Rule id or title.
        #[arg(long)]
        rule: Option<String>,
        /// host.hostname (case-insensitive).
        #[arg(long)]
        host: Option<String>,
        /// source.ip or destination.ip inside this block (or one address).
        #[arg(long)]
        cidr: Option<String>,
        /// user.name.
        #[arg(long)]
        user: Option<String>,
        /// FIELD=VALUE: the field's text equals the value.
        #[arg(long = "match", value_name = "FIELD=VALUE")]
        field: Option<String>,
        /// Why (required; it goes into the audit log and the monthly report).
        #[arg(long)]
        why: String,
        /// Expiry: a duration (7d, 12h) or an RFC 3339 time.
        #[arg(long)]
        expires: Option<String>,
    },
    /// Suppressions in force with their hit counts (--all: removed and expired ones too).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Remove a suppression.
    Remove {
        id: i64,
        #[arg(long)]
        why: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Check the audit log's hash chain; exit 1 naming the first bad line.
    Verify,
}

fn usage(e: impl std::fmt::Display) -> anyhow::Error {
    UsageError(e.to_string()).into()
}

fn open(data: &Path) -> anyhow::Result<Store> {
    anyhow::ensure!(
        data.exists(),
        "{}: no such data folder (set --data or CANH_DATA)",
        data.display()
    );
    Store::open(data).with_context(|| format!("opening {}", store::path(data).display()))
}

/// Bad input (unknown id, closed twice, a missing justification) is a usage error.
fn store_err(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::NoAlert(_) | StoreError::NoSuppression(_) | StoreError::Invalid(_) => usage(e),
        other => anyhow::Error::new(other),
    }
}

fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string(v)?)?;
    Ok(())
}

fn group_text(g: &std::collections::BTreeMap<String, String>) -> String {
    if g.is_empty() {
        return "-".into();
    }
    g.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn alerts(cmd: AlertsCmd, data: &Path) -> anyhow::Result<()> {
    let actor = cli_actor();
    match cmd {
        AlertsCmd::List {
            status,
            level,
            rule,
            limit,
            json,
        } => {
            let status = match status.as_str() {
                "all" => None,
                s => Some(Status::parse(s).ok_or_else(|| {
                    usage(format!(
                        "--status {s:?}: expected new, acknowledged, closed or all"
                    ))
                })?),
            };
            if let Some(l) = &level
                && canh_rules::Level::parse(l).is_none()
            {
                return Err(usage(format!(
                    "--level {l:?}: expected one of {}",
                    canh_rules::Level::NAMES.join(", ")
                )));
            }
            let s = open(data)?;
            let list = s
                .list(&AlertFilter {
                    status,
                    level,
                    rule,
                    limit,
                    ..Default::default()
                })
                .map_err(store_err)?;
            let mut out = std::io::stdout().lock();
            for a in &list {
                let line = if json {
                    serde_json::to_string(a)?
                } else {
                    format!(
                        "{:>5}  {:<8} {:<12} {:>6}  {}  {}  [{}]",
                        a.id,
                        a.level,
                        a.status,
                        a.count,
                        a.last_seen,
                        a.title,
                        group_text(&a.group)
                    )
                };
                if writeln!(out, "{line}").is_err() {
                    break;
                }
            }
            Ok(())
        }
        AlertsCmd::Show { id, json } => {
            let s = open(data)?;
            let d = s.get(id).map_err(store_err)?;
            if json {
                return print_json(&d);
            }
            let a = &d.alert;
            let mut o = String::new();
            use std::fmt::Write as _;
            let _ = writeln!(o, "alert {}  {}  [{}]", a.id, a.title, a.level);
            let _ = writeln!(o, "rule:        {} ({})", a.rule, a.kind);
            if let Some(desc) = &a.description {
                let _ = writeln!(o, "description: {}", desc.trim_end());
            }
            if !a.tags.is_empty() {
                let _ = writeln!(o, "tags:        {}", a.tags.join(", "));
            }
            let _ = writeln!(o, "group:       {}", group_text(&a.group));
            let _ = writeln!(
                o,
                "count:       {}{}",
                a.count,
                a.value.map(|v| format!(" (value {v})")).unwrap_or_default()
            );
            let _ = writeln!(o, "seen:        {} … {}", a.first_seen, a.last_seen);
            let _ = writeln!(
                o,
                "status:      {}{}{}",
                a.status,
                a.close_reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default(),
                a.assignee
                    .as_ref()
                    .map(|u| format!(", assigned to {u}"))
                    .unwrap_or_default()
            );
            if !a.matched.is_empty() {
                let _ = writeln!(o, "matched:     {}", group_text(&a.matched));
            }
            let _ = writeln!(o, "events:      {}", a.search);
            let _ = writeln!(o, "samples:");
            for s in &d.samples {
                let _ = writeln!(
                    o,
                    "  {} {} {}",
                    s.time,
                    s.host.as_deref().unwrap_or("-"),
                    s.message.as_deref().unwrap_or(&s.raw)
                );
            }
            let _ = writeln!(o, "history:");
            for h in &d.history {
                let _ = writeln!(o, "  {} {} {} {}", h.at, h.actor, h.action, h.detail);
            }
            print!("{o}");
            Ok(())
        }
        AlertsCmd::Ack { id, note } => {
            open(data)?
                .ack(id, &actor, note.as_deref())
                .map_err(store_err)?;
            println!("alert {id} acknowledged");
            Ok(())
        }
        AlertsCmd::Assign { id, user } => {
            open(data)?.assign(id, &user, &actor).map_err(store_err)?;
            println!("alert {id} assigned to {user}");
            Ok(())
        }
        AlertsCmd::Close { id, reason, note } => {
            let r = CloseReason::parse(&reason).ok_or_else(|| {
                usage(format!(
                    "--reason {reason:?}: expected one of {}",
                    CloseReason::NAMES.join(", ")
                ))
            })?;
            open(data)?
                .close(id, r, &actor, note.as_deref())
                .map_err(store_err)?;
            println!("alert {id} closed ({})", r.as_str());
            Ok(())
        }
        AlertsCmd::Reopen { id, note } => {
            open(data)?
                .reopen(id, &actor, note.as_deref())
                .map_err(store_err)?;
            println!("alert {id} reopened");
            Ok(())
        }
        AlertsCmd::Note { id, text } => {
            open(data)?.note(id, &text, &actor).map_err(store_err)?;
            println!("note added to alert {id}");
            Ok(())
        }
    }
}

/// `7d`, `12h` from now, or an RFC 3339 time.
pub fn parse_expiry(s: &str) -> Result<i64, UsageError> {
    if let Ok(d) = humantime::parse_duration(s) {
        return Ok(chrono::Utc::now().timestamp_millis() + d.as_millis() as i64);
    }
    crate::cli::parse_time(s)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            UsageError(format!(
                "--expires {s:?}: expected a duration (7d, 12h) or an RFC 3339 time"
            ))
        })
}

pub fn suppress(cmd: SuppressCmd, data: &Path) -> anyhow::Result<()> {
    let actor = cli_actor();
    match cmd {
        SuppressCmd::Add {
            rule,
            host,
            cidr,
            user,
            field,
            why,
            expires,
        } => {
            let (field, value) = match field {
                Some(fv) => {
                    let (f, v) = fv
                        .split_once('=')
                        .ok_or_else(|| usage(format!("--match {fv:?}: expected FIELD=VALUE")))?;
                    (Some(f.trim().to_owned()), Some(v.to_owned()))
                }
                None => (None, None),
            };
            let spec = SuppressionSpec {
                rule,
                host,
                cidr,
                user,
                field,
                value,
                justification: why,
                expires_ms: expires.as_deref().map(parse_expiry).transpose()?,
            };
            let id = open(data)?
                .add_suppression(&spec, &actor)
                .map_err(store_err)?;
            println!("suppression {id} added");
            Ok(())
        }
        SuppressCmd::List { all, json } => {
            let list = open(data)?.suppressions(all).map_err(store_err)?;
            for s in &list {
                if json {
                    print_json(s)?;
                    continue;
                }
                let mut scope = Vec::new();
                for (k, v) in [
                    ("rule", &s.rule),
                    ("host", &s.host),
                    ("cidr", &s.cidr),
                    ("user", &s.user),
                ] {
                    if let Some(v) = v {
                        scope.push(format!("{k}={v}"));
                    }
                }
                if let (Some(f), Some(v)) = (&s.field, &s.value) {
                    scope.push(format!("{f}={v}"));
                }
                println!(
                    "{:>4}  {}  hits {}  by {} {}  expires {}{}  — {}",
                    s.id,
                    scope.join(" "),
                    s.hits,
                    s.created_by,
                    s.created,
                    s.expires.as_deref().unwrap_or("never"),
                    s.removed
                        .as_ref()
                        .map(|r| format!("  removed {r}"))
                        .unwrap_or_default(),
                    s.justification
                );
            }
            Ok(())
        }
        SuppressCmd::Remove { id, why } => {
            open(data)?
                .remove_suppression(id, &actor, why.as_deref())
                .map_err(store_err)?;
            println!("suppression {id} removed");
            Ok(())
        }
    }
}

pub fn audit_verify(data: &Path) -> anyhow::Result<()> {
    let head = if store::path(data).exists() {
        open(data)?.audit_head().map_err(store_err)?
    } else {
        None
    };
    let p = audit::path(data);
    let n = audit::verify(&p, head.as_ref())?;
    println!("{}: {n} lines, chain intact", p.display());
    Ok(())
}
