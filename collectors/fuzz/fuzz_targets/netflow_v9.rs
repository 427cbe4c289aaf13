//! Any bytes, cut into up to four datagrams that all claim version 9, decode without panic;
//! what is not decoded is kept raw; templates and waiting data stay within the limits.
#![no_main]

use canh_collectors::netflow::{Decoder, Limits};
use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cuts, rest)) = data.split_first() else { return };
    let limits = Limits {
        max_exporters: 4,
        max_templates_per_exporter: 8,
        max_templates_total: 16,
        max_pending_bytes_per_exporter: 4096,
        max_pending_bytes_total: 8192,
        ..Limits::default()
    };
    let mut dec = Decoder::new(limits);
    let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let parts = usize::from(cuts % 4) + 1;
    let size = rest.len() / parts + 1;
    for (k, chunk) in rest.chunks(size).enumerate() {
        let mut d = chunk.to_vec();
        if d.len() >= 2 {
            d[..2].copy_from_slice(&9u16.to_be_bytes());
        }
        let from = format!("192.0.2.{}:2055", k % 2).parse().unwrap();
        let out = dec.decode(&d, from, t, "fuzz");
        assert!(out.events.iter().all(|e| !e.raw.is_empty()));
        let u = dec.usage();
        assert!(u.templates <= limits.max_templates_total);
        assert!(u.pending_bytes <= limits.max_pending_bytes_total);
    }
    let _ = dec.expire(t + chrono::Duration::days(1));
    assert_eq!(dec.usage().pending_bytes, 0);
});
