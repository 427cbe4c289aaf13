//! NetFlow v5: a 24-byte header and `count` fixed 48-byte records (Cisco's NetFlow Export
//! Datagram Format). Events are built through a fixed template of IANA element ids, so they
//! get the same fields as v9 and IPFIX records; records going to a `decode_flows` sink are
//! resolved straight from their offsets ([`super::record::V5Packet`]).

use std::sync::LazyLock;

use chrono::DateTime;
use nom::IResult;
use nom::Parser;
use nom::number::complete::{be_u8, be_u16, be_u32};

use super::templates::{FieldSpec, Header, MAX_TEMPLATE_FIELDS, Template};
use super::{Call, DecodeError, Decoder};

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

fn header(i: &[u8]) -> IResult<&[u8], RawHeader> {
    let (i, (_version, count, sys_uptime, unix_secs, unix_nsecs, sequence)) =
        (be_u16, be_u16, be_u32, be_u32, be_u32, be_u32).parse(i)?;
    let (i, (engine_type, engine_id, sampling)) = (be_u8, be_u8, be_u16).parse(i)?;
    Ok((
        i,
        RawHeader {
            count,
            sys_uptime,
            unix_secs,
            unix_nsecs,
            sequence,
            engine_type,
            engine_id,
            sampling,
        },
    ))
}

/// Decodes the v5 packet at `pos`; returns where it ends.
pub(crate) fn decode(
    dec: &mut Decoder,
    call: &mut Call<'_>,
    buf: &[u8],
    pos: usize,
) -> Result<usize, DecodeError> {
    let rest = &buf[pos..];
    let (_, raw) = header(rest).map_err(|_| DecodeError::Truncated {
        what: "netflow v5 header",
        offset: pos,
        need: HEADER_LEN,
        have: rest.len(),
    })?;
    let need = HEADER_LEN + RECORD_LEN * usize::from(raw.count);
    if need > rest.len() {
        return Err(DecodeError::V5Count {
            offset: pos,
            count: raw.count,
            need,
            have: rest.len(),
        });
    }
    let export_time = DateTime::from_timestamp(i64::from(raw.unix_secs), raw.unix_nsecs)
        .unwrap_or_else(|| {
            DateTime::from_timestamp(i64::from(raw.unix_secs), 0).unwrap_or(call.received)
        });
    let h = Header {
        version: 5,
        domain: u32::from(raw.engine_type) << 8 | u32::from(raw.engine_id),
        export_time,
        sys_uptime_ms: Some(raw.sys_uptime),
        sequence: raw.sequence,
        // top 2 bits: sampling mode; low 14 bits: the interval
        v5_sampling: Some(((raw.sampling >> 14) as u8, raw.sampling & 0x3fff)),
    };
    dec.begin_packet(call, &h);
    let body = &rest[HEADER_LEN..need];
    let src = (call.received, call.listener);
    if !dec.sink_v5_records(call, &h, body, pos + HEADER_LEN) {
        dec.decode_records(call, src, &h, &TEMPLATE, body, pos + HEADER_LEN);
    }
    // v5 sequence numbers count flows: the next packet starts after these
    dec.next_sequence(
        call,
        &h,
        Some(raw.sequence.wrapping_add(u32::from(raw.count))),
    );
    Ok(pos + need)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::record::{self, Resolved, V5Packet};
    use super::super::templates::{ExporterOptions, Rate};
    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The fixed-offset resolver and the template walk agree on every record, header
        /// and exporter sampling.
        #[test]
        fn direct_resolve_matches_the_template_walk(
            rec in prop::array::uniform32(any::<u8>()),
            tail in prop::array::uniform16(any::<u8>()),
            sys_uptime in any::<u32>(),
            unix_secs in any::<u32>(),
            sampling in any::<u16>(),
            exporter_rate in prop::option::of(2u64..5000),
        ) {
            let mut bytes = [0u8; RECORD_LEN];
            bytes[..32].copy_from_slice(&rec);
            bytes[32..].copy_from_slice(&tail);
            let h = Header {
                version: 5,
                domain: 0,
                export_time: DateTime::from_timestamp(i64::from(unix_secs), 0).unwrap(),
                sys_uptime_ms: Some(sys_uptime),
                sequence: 0,
                v5_sampling: Some(((sampling >> 14) as u8, sampling & 0x3fff)),
            };
            let opts = ExporterOptions {
                default_rate: exporter_rate.and_then(Rate::one_in),
                ..ExporterOptions::default()
            };
            let mut walked = Resolved::new();
            record::resolve(&h, &TEMPLATE, &bytes, &[], &opts, &mut walked);
            prop_assert_eq!(V5Packet::new(&h, &opts).resolve(&bytes), walked.flow);
        }
    }
}
