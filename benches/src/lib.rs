//! canh-benches
