//! Alerts: the store (`DATA/alerts.db`), the audit chain (`DATA/audit.log`), the alert stage
//! that turns rule matches into deduplicated alerts, suppressions, silent sources and
//! forwarding to the province's IOC.
//!
//! ```text
//! WAL thread ──(pos, matched events, per-source counts)──▶ alert stage
//!     suppressions → Correlator (dedup + Sigma correlation) → store (one transaction per batch)
//!                                                           → outbox → forwarders (webhook, CEF)
//!                                                           → live stream (API, TUI)
//! ```
//!
//! Architecture invariants:
//! - an alert is raised only from events that are durable in the WAL;
//! - every alert change carries the WAL sequence of the match behind it; a change whose
//!   sequence the alert already has is skipped, so replaying the WAL after a crash changes
//!   nothing twice;
//! - every officer action is one SQLite transaction that also records the audit chain's head,
//!   appended (fsynced) before the commit.

pub mod audit;
pub mod forward;
pub mod silent;
pub mod stage;
pub mod store;
pub mod suppress;

use serde::{Deserialize, Serialize};

/// Longest note, justification or assignee name accepted.
pub const MAX_TEXT_BYTES: usize = 4096;

/// Where an alert is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    New,
    Acknowledged,
    Closed,
}

impl Status {
    pub const NAMES: [&'static str; 3] = ["new", "acknowledged", "closed"];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "new" => Status::New,
            "acknowledged" | "ack" => Status::Acknowledged,
            "closed" => Status::Closed,
            _ => return None,
        })
    }
}

/// Why an alert was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    TruePositive,
    FalsePositive,
    Benign,
    Duplicate,
}

impl CloseReason {
    pub const NAMES: [&'static str; 4] = ["true_positive", "false_positive", "benign", "duplicate"];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    pub fn parse(s: &str) -> Option<CloseReason> {
        Some(match s {
            "true_positive" => CloseReason::TruePositive,
            "false_positive" => CloseReason::FalsePositive,
            "benign" => CloseReason::Benign,
            "duplicate" => CloseReason::Duplicate,
            _ => return None,
        })
    }
}

/// The person doing something from the CLI: `$CANH_ACTOR`, `$SUDO_USER`, `$USER`, or "unknown".
pub fn cli_actor() -> String {
    ["CANH_ACTOR", "SUDO_USER", "USER"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".to_owned())
}
