//! The write-ahead log lives in `canh_collectors::wal`: the engine's WAL and the edge
//! collector's spool are the same segmented log (see `engine/WAL.md`).

pub use canh_collectors::wal::*;
