//! canh-collectors: what turns bytes from the network into [`canh_core::Event`]s.
//!
//! - [`syslog`]: pure parsers (RFC 5424, RFC 3164 and device variants), body decoders and the
//!   TCP framer — functions of bytes with no I/O.
//! - [`netflow`]: NetFlow v5, v9 and IPFIX decoders with their template cache — functions of
//!   bytes with no I/O.
//! - [`listen`]: UDP, TCP and TLS listeners (tokio) that frame, parse and count.
//! - [`stats`]: per-listener and per-source counters shown by `canh status`.
//!
//! Architecture invariant: this crate knows nothing of rules, indexes or the TUI; it depends on
//! `canh-core` only.

pub mod listen;
pub mod netflow;
pub mod ship;
pub mod stats;
pub mod syslog;
pub mod wal;
