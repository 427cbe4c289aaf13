//! Any bytes parse into an event without panicking, and the raw bytes are kept exactly.
#![no_main]

use canh_collectors::syslog::{self, ParseContext};
use canh_core::Origin;
use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ctx = ParseContext {
        received: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        zone: "+07:00".parse().unwrap(),
    };
    let ev = syslog::parse(data, &ctx, Origin::new("fuzz", None));
    assert_eq!(ev.raw, data);
    assert!(ev.get_str(canh_core::field::MESSAGE).is_some());
});
