//! NetFlow v9 (RFC 3954): a 20-byte header and flowsets — templates (id 0), options templates
//! (id 1) and data (id ≥ 256).
//!
//! A v9 header has no length, so where a packet ends is found by walking its flowsets: the
//! packet ends at the end of the datagram, at zero padding, or where a "flowset" id is an
//! export version (5, 9, 10), which is the next packet's header.

use nom::IResult;
use nom::Parser;
use nom::number::complete::{be_u16, be_u32};

use super::templates::{FieldSpec, Header, Template};
use super::{Call, DecodeError, Decoder, Sink, all_zero, be16};

pub const HEADER_LEN: usize = 20;

/// Flowset ids that are export versions: a packet concatenated after this one.
const NEXT_PACKET_IDS: [u16; 3] = [5, 9, 10];

fn header(i: &[u8]) -> IResult<&[u8], (u16, u32, u32, u32, u32)> {
    let (i, (_version, count, sys_uptime, unix_secs, sequence, source_id)) =
        (be_u16, be_u16, be_u32, be_u32, be_u32, be_u32).parse(i)?;
    Ok((i, (count, sys_uptime, unix_secs, sequence, source_id)))
}

/// Decodes the v9 packet at `pos`; returns where it ends.
pub(crate) fn decode<S: ?Sized + Sink>(
    dec: &mut Decoder,
    call: &mut Call<'_, S>,
    buf: &[u8],
    pos: usize,
) -> Result<usize, DecodeError> {
    let rest = &buf[pos..];
    let (_, (_count, sys_uptime, unix_secs, sequence, source_id)) =
        header(rest).map_err(|_| DecodeError::Truncated {
            what: "netflow v9 header",
            offset: pos,
            need: HEADER_LEN,
            have: rest.len(),
        })?;
    let h = Header {
        version: 9,
        domain: source_id,
        export_time: chrono::DateTime::from_timestamp(i64::from(unix_secs), 0)
            .unwrap_or(call.received),
        sys_uptime_ms: Some(sys_uptime),
        sequence,
        v5_sampling: None,
    };
    // RFC 3954 §5.1: the sequence number counts export packets
    dec.begin_packet(
        call,
        (9, source_id),
        sequence,
        Some(sequence.wrapping_add(1)),
    );
    let mut p = pos + HEADER_LEN;
    loop {
        let rest = &buf[p..];
        if rest.len() < 4 {
            return Ok(p);
        }
        let (id, len) = (be16(rest, 0), usize::from(be16(rest, 2)));
        if NEXT_PACKET_IDS.contains(&id) {
            return Ok(p);
        }
        if len < 4 {
            if all_zero(rest) {
                return Ok(buf.len());
            }
            call.unparsed(rest, DecodeError::SetTooShort { offset: p, len });
            return Ok(buf.len());
        }
        if len > rest.len() {
            call.unparsed(
                rest,
                DecodeError::SetOverrun {
                    offset: p,
                    len,
                    have: rest.len(),
                },
            );
            return Ok(buf.len());
        }
        let body = &rest[4..len];
        match id {
            0 => {
                templates(dec, call, &h, body, p + 4);
                dec.decode_ready(call);
            }
            1 => {
                options_templates(dec, call, &h, body, p + 4);
                dec.decode_ready(call);
            }
            2..=255 => call.unparsed(&rest[..len], DecodeError::ReservedSet { offset: p, id }),
            _ => {
                dec.data_set(call, &h, id, body, p + 4);
            }
        }
        p += len;
    }
}

/// Template records: id, field count, then (type, length) pairs.
fn templates<S: ?Sized + Sink>(
    dec: &mut Decoder,
    call: &mut Call<'_, S>,
    h: &Header,
    body: &[u8],
    offset: usize,
) {
    let max = dec.limits().max_template_fields;
    let mut p = 0;
    while body.len() - p >= 4 {
        let rest = &body[p..];
        if all_zero(rest) {
            return;
        }
        let (id, count) = (be16(rest, 0), usize::from(be16(rest, 2)));
        let at = offset + p;
        if id < 256 {
            call.unparsed(rest, DecodeError::TemplateId { id, offset: at });
            return;
        }
        let len = 4 + 4 * count;
        if len > rest.len() {
            call.unparsed(rest, DecodeError::TemplateOverrun { id, offset: at });
            return;
        }
        let fields = rest[4..len]
            .chunks_exact(4)
            .map(|c| FieldSpec {
                id: be16(c, 0),
                pen: 0,
                len: be16(c, 2),
            })
            .collect();
        match Template::new(id, fields, 0, false, max, at) {
            Ok(t) => dec.store_template(call, h, t),
            Err(e) => call.unparsed(&rest[..len], e),
        }
        p += len;
    }
}

/// Options template records: id, scope length and options length in bytes, then the scope
/// and option (type, length) pairs.
fn options_templates<S: ?Sized + Sink>(
    dec: &mut Decoder,
    call: &mut Call<'_, S>,
    h: &Header,
    body: &[u8],
    offset: usize,
) {
    let max = dec.limits().max_template_fields;
    let mut p = 0;
    while body.len() - p >= 6 {
        let rest = &body[p..];
        if all_zero(rest) {
            return;
        }
        let id = be16(rest, 0);
        let (scope_len, opt_len) = (usize::from(be16(rest, 2)), usize::from(be16(rest, 4)));
        let at = offset + p;
        if id < 256 {
            call.unparsed(rest, DecodeError::TemplateId { id, offset: at });
            return;
        }
        if !scope_len.is_multiple_of(4) || !opt_len.is_multiple_of(4) {
            call.unparsed(
                rest,
                DecodeError::BadScope {
                    id,
                    offset: at,
                    scope: scope_len,
                    total: scope_len + opt_len,
                },
            );
            return;
        }
        let len = 6 + scope_len + opt_len;
        if len > rest.len() {
            call.unparsed(rest, DecodeError::TemplateOverrun { id, offset: at });
            return;
        }
        let fields = rest[6..len]
            .chunks_exact(4)
            .map(|c| FieldSpec {
                id: be16(c, 0),
                pen: 0,
                len: be16(c, 2),
            })
            .collect();
        match Template::new(id, fields, scope_len / 4, true, max, at) {
            Ok(t) => dec.store_template(call, h, t),
            Err(e) => call.unparsed(&rest[..len], e),
        }
        p += len;
    }
}
