//! canh-engine: the composition root of canh. It owns the command line, configuration, the
//! tokio runtime, the pipeline (listeners → WAL → index), the API and status.
//!
//! Architecture invariants:
//! - an event is reported durable only after its WAL batch is fsynced ([`wal`], [`pipeline`]);
//! - every queue is bounded and overload is counted ([`pipeline`], `canh_collectors::listen`);
//! - the index never holds an event twice: each day index commit records the WAL position it
//!   is complete through ([`index`]).

pub mod alerts;
pub mod api;
pub mod cli;
pub mod cli_alerts;
pub mod collect;
pub mod config;
pub mod detect;
pub mod export;
pub mod health;
pub mod index;
pub mod listeners;
pub mod pipeline;
pub mod report;
pub mod ruletest;
pub mod ship;
pub mod status;
pub mod wal;
