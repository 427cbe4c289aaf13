//! The framer never panics and never holds more than its limit, however the stream is cut.
#![no_main]

use canh_collectors::syslog::framing::{Framer, MAX_COUNT_DIGITS};
use libfuzzer_sys::fuzz_target;

const MAX: usize = 512;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else { return };
    let at = usize::from(cut).min(rest.len());
    let mut f = Framer::new(MAX);
    let mut out = Vec::new();
    for chunk in [&rest[..at], &rest[at..]] {
        f.push(chunk, &mut out);
        assert!(f.buffered() <= MAX + MAX_COUNT_DIGITS + 2);
    }
    f.finish(&mut out);
    for fr in &out {
        assert!(fr.data.len() <= MAX.max(MAX_COUNT_DIGITS + 2));
    }
});
