//! NetFlow v5: a 24-byte header and `count` fixed 48-byte records (Cisco's NetFlow Export
//! Datagram Format). Events are built through a fixed template of IANA element ids, so they
//! get the same fields as v9 and IPFIX records; records going to a `decode_flows` sink are
//! resolved straight from their offsets ([`super::record::V5Packet`]).

use std::sync::LazyLock;

use chrono::{DateTime, Utc};

use super::record::V5Packet;
use super::templates::{ExporterOptions, FieldSpec, Header, MAX_TEMPLATE_FIELDS, Template};
use super::{Call, DecodeError, Decoder, Sink, be16, be32};

pub const HEADER_LEN: usize = 24;
pub const RECORD_LEN: usize = 48;

/// The v5 record layout as IANA elements (paddingOctets for pad1/pad2).
static TEMPLATE: LazyLock<Template> = LazyLock::new(|| {
    const LAYOUT: [(u16, u16); 20] = [
        (8, 4),   // srcaddr
        (12, 4),  // dstaddr
        (15, 4),  // nexthop
        (10, 2),  // input ifIndex
        (14, 2),  // output ifIndex
        (2, 4),   // dPkts
        (1, 4),   // dOctets
        (22, 4),  // first (sysUptime ms)
        (21, 4),  // last
        (7, 2),   // srcport
        (11, 2),  // dstport
        (210, 1), // pad1
        (6, 1),   // tcp_flags
        (4, 1),   // prot
        (5, 1),   // tos
        (16, 2),  // src_as
        (17, 2),  // dst_as
        (9, 1),   // src_mask
        (13, 1),  // dst_mask
        (210, 2), // pad2
    ];
    let fields = LAYOUT
        .iter()
        .map(|&(id, len)| FieldSpec { id, pen: 0, len })
        .collect();
    Template::new(0, fields, 0, false, MAX_TEMPLATE_FIELDS, 0).expect("v5 layout is valid")
});

/// The header's fields. v5 is one fixed layout with no choice to parse, so they are read at
/// their offsets once the length is checked (v9 and IPFIX, which do branch, go through nom).
struct RawHeader {
    count: u16,
    sys_uptime: u32,
    unix_secs: u32,
    unix_nsecs: u32,
    sequence: u32,
    engine_type: u8,
    engine_id: u8,
    sampling: u16,
}

fn header(b: &[u8; HEADER_LEN]) -> RawHeader {
    RawHeader {
        count: be16(b, 2),
        sys_uptime: be32(b, 4),
        unix_secs: be32(b, 8),
        unix_nsecs: be32(b, 12),
        sequence: be32(b, 16),
        engine_type: b[20],
        engine_id: b[21],
        sampling: be16(b, 22),
    }
}

/// Nanoseconds past a second at or beyond which a header's `unix_nsecs` is not a fraction.
const NANOS_PER_SEC: u32 = 1_000_000_000;

impl RawHeader {
    /// The export time's seconds and nanoseconds; a `unix_nsecs` that is not a fraction of a
    /// second is left out.
    fn export_secs_nanos(&self) -> (u32, u32) {
        let frac = if self.unix_nsecs < NANOS_PER_SEC {
            self.unix_nsecs
        } else {
            0
        };
        (self.unix_secs, frac)
    }

    /// The export time (events carry it; the sink path uses the plain numbers).
    fn export_time(&self) -> DateTime<Utc> {
        let (secs, frac) = self.export_secs_nanos();
        DateTime::from_timestamp(i64::from(secs), frac)
            .expect("any u32 of seconds since the epoch is a time chrono holds")
    }

    /// The engine type and id as one observation domain.
    fn domain(&self) -> u32 {
        u32::from(self.engine_type) << 8 | u32::from(self.engine_id)
    }

    /// The header as events carry it (the template walk's view).
    fn header(&self) -> Header {
        Header {
            version: 5,
            domain: self.domain(),
            export_time: self.export_time(),
            sys_uptime_ms: Some(self.sys_uptime),
            sequence: self.sequence,
            v5_sampling: Some(self.sampling()),
        }
    }

    /// The packet as a `decode_flows` sink gets its records (no calendar: the sink needs
    /// none).
    fn packet(&self, opts: &ExporterOptions) -> V5Packet {
        let interval = self.sampling().1;
        V5Packet::new(self.export_secs_nanos(), self.sys_uptime, interval, opts)
    }

    /// Top 2 bits of the sampling field: the mode; low 14 bits: the interval.
    fn sampling(&self) -> (u8, u16) {
        ((self.sampling >> 14) as u8, self.sampling & 0x3fff)
    }
}

/// Decodes the v5 packet at `pos`; returns where it ends.
pub(crate) fn decode<S: ?Sized + Sink>(
    dec: &mut Decoder,
    call: &mut Call<'_, S>,
    buf: &[u8],
    pos: usize,
) -> Result<usize, DecodeError> {
    let rest = &buf[pos..];
    let raw = header(rest.first_chunk().ok_or(DecodeError::Truncated {
        what: "netflow v5 header",
        offset: pos,
        need: HEADER_LEN,
        have: rest.len(),
    })?);
    let need = HEADER_LEN + RECORD_LEN * usize::from(raw.count);
    if need > rest.len() {
        return Err(DecodeError::V5Count {
            offset: pos,
            count: raw.count,
            need,
            have: rest.len(),
        });
    }
    // v5 sequence numbers count flows: the next packet starts after these
    let next = raw.sequence.wrapping_add(u32::from(raw.count));
    let opts = dec.begin_packet(call, (5, raw.domain()), raw.sequence, Some(next));
    let body = &rest[HEADER_LEN..need];
    if call.sink.is_some() {
        let packet = raw.packet(opts);
        dec.sink_v5_records(call, &packet, body, pos + HEADER_LEN);
    } else {
        let src = (call.received, call.listener);
        dec.decode_records(call, src, &raw.header(), &TEMPLATE, body, pos + HEADER_LEN);
    }
    Ok(pos + need)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::record::{self, Resolved};
    use super::super::templates::Rate;
    use super::*;

    /// A v5 header's bytes.
    fn header_bytes(sys_uptime: u32, (secs, nsecs): (u32, u32), sampling: u16) -> [u8; 24] {
        let mut b = [0u8; HEADER_LEN];
        b[..2].copy_from_slice(&5u16.to_be_bytes());
        b[4..8].copy_from_slice(&sys_uptime.to_be_bytes());
        b[8..12].copy_from_slice(&secs.to_be_bytes());
        b[12..16].copy_from_slice(&nsecs.to_be_bytes());
        b[22..24].copy_from_slice(&sampling.to_be_bytes());
        b
    }

    fn walked(h: &Header, bytes: &[u8; RECORD_LEN], opts: &ExporterOptions) -> record::FlowRecord {
        let mut walked = Resolved::new();
        record::resolve(h, &TEMPLATE, bytes, &[], opts, &mut walked);
        walked.flow
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The fixed-offset resolver and the template walk agree on every record, header
        /// and exporter sampling, also when the record is filled over an earlier one (as the
        /// sink loop reuses it).
        #[test]
        fn direct_resolve_matches_the_template_walk(
            rec in prop::array::uniform32(any::<u8>()),
            tail in prop::array::uniform16(any::<u8>()),
            earlier in prop::array::uniform32(any::<u8>()),
            sys_uptime in any::<u32>(),
            unix_secs in any::<u32>(),
            unix_nsecs in prop_oneof![0..NANOS_PER_SEC, any::<u32>()],
            sampling in any::<u16>(),
            exporter_rate in prop::option::of(2u64..5000),
        ) {
            let mut bytes = [0u8; RECORD_LEN];
            bytes[..32].copy_from_slice(&rec);
            bytes[32..].copy_from_slice(&tail);
            let mut before = [0xffu8; RECORD_LEN];
            before[..32].copy_from_slice(&earlier);
            let raw = header(&header_bytes(sys_uptime, (unix_secs, unix_nsecs), sampling));
            let opts = ExporterOptions {
                default_rate: exporter_rate.and_then(Rate::one_in),
                ..ExporterOptions::default()
            };
            let want = walked(&raw.header(), &bytes, &opts);
            let packet = raw.packet(&opts);
            prop_assert_eq!(packet.resolve(&bytes), want);
            let mut reused = packet.record();
            packet.fill(&before, &mut reused);
            packet.fill(&bytes, &mut reused);
            prop_assert_eq!(reused, want);
        }
    }

    /// At the ends of what a v5 header can say (and stamps as far from it as they can be)
    /// both paths give every time: none overflows.
    #[test]
    fn extreme_export_times_resolve_as_the_walk_does() {
        let opts = ExporterOptions::default();
        for (up, export) in [(0, (0, 0)), (u32::MAX, (u32::MAX, NANOS_PER_SEC - 1))] {
            let raw = header(&header_bytes(up, export, 0));
            for (first, last) in [
                (0, u32::MAX),
                (up.wrapping_add(1 << 31), up.wrapping_sub(1 << 31)),
            ] {
                let mut bytes = [0u8; RECORD_LEN];
                bytes[24..28].copy_from_slice(&first.to_be_bytes());
                bytes[28..32].copy_from_slice(&last.to_be_bytes());
                let want = walked(&raw.header(), &bytes, &opts);
                assert!(want.start_ns().is_some() && want.end_ns().is_some());
                assert_eq!(raw.packet(&opts).resolve(&bytes), want);
            }
        }
    }
}
