//! IPFIX (RFC 7011): a 16-byte message header with the message length, then sets — templates
//! (id 2), options templates (id 3) and data (id ≥ 256). Template fields may be enterprise
//! specific (high bit of the id set, a 4-byte PEN follows) and of variable length (65535).
//! A template record with no fields withdraws a template (RFC 7011 §8.1).

use nom::IResult;
use nom::Parser;
use nom::number::complete::{be_u16, be_u32};

use super::templates::{FieldSpec, Header, Template};
use super::{Call, DecodeError, Decoder, Sink, all_zero, be16};

pub const HEADER_LEN: usize = 16;
/// Set ids of template and options template sets; as template ids in a withdrawal they mean
/// "all data templates" and "all options templates".
const TEMPLATE_SET: u16 = 2;
const OPTIONS_TEMPLATE_SET: u16 = 3;

fn header(i: &[u8]) -> IResult<&[u8], (u16, u32, u32, u32)> {
    let (i, (_version, length, export_time, sequence, domain)) =
        (be_u16, be_u16, be_u32, be_u32, be_u32).parse(i)?;
    Ok((i, (length, export_time, sequence, domain)))
}

/// Decodes the IPFIX message at `pos`; returns where it ends.
pub(crate) fn decode<S: ?Sized + Sink>(
    dec: &mut Decoder,
    call: &mut Call<'_, S>,
    buf: &[u8],
    pos: usize,
) -> Result<usize, DecodeError> {
    let rest = &buf[pos..];
    let (_, (length, export_secs, sequence, domain)) =
        header(rest).map_err(|_| DecodeError::Truncated {
            what: "ipfix message header",
            offset: pos,
            need: HEADER_LEN,
            have: rest.len(),
        })?;
    let length = usize::from(length);
    if length < HEADER_LEN || length > rest.len() {
        return Err(DecodeError::MessageLength {
            offset: pos,
            len: length,
            have: rest.len(),
        });
    }
    let h = Header {
        version: 10,
        domain,
        export_time: chrono::DateTime::from_timestamp(i64::from(export_secs), 0)
            .unwrap_or(call.received),
        sys_uptime_ms: None,
        sequence,
        v5_sampling: None,
    };
    dec.begin_packet(call, (h.version, h.domain), h.sequence, None);
    let msg = &rest[..length];
    let mut p = HEADER_LEN;
    // RFC 7011 §3.1: the sequence number counts data records sent before this message
    let mut records: Option<u64> = Some(0);
    while p < msg.len() {
        let set = &msg[p..];
        if set.len() < 4 {
            if !all_zero(set) {
                call.unparsed(
                    set,
                    DecodeError::Trailing {
                        offset: pos + p,
                        len: set.len(),
                    },
                );
            }
            break;
        }
        let (id, len) = (be16(set, 0), usize::from(be16(set, 2)));
        if len < 4 {
            if !all_zero(set) {
                call.unparsed(
                    set,
                    DecodeError::SetTooShort {
                        offset: pos + p,
                        len,
                    },
                );
            }
            break;
        }
        if len > set.len() {
            call.unparsed(
                set,
                DecodeError::SetOverrun {
                    offset: pos + p,
                    len,
                    have: set.len(),
                },
            );
            break;
        }
        let body = &set[4..len];
        let at = pos + p + 4;
        match id {
            TEMPLATE_SET | OPTIONS_TEMPLATE_SET => {
                templates(dec, call, &h, body, at, id == OPTIONS_TEMPLATE_SET);
                dec.decode_ready(call);
            }
            0..=255 => call.unparsed(
                &set[..len],
                DecodeError::ReservedSet {
                    offset: pos + p,
                    id,
                },
            ),
            _ => {
                let n = dec.data_set(call, &h, id, body, at);
                records = records.zip(n).map(|(a, b)| a + b);
            }
        }
        p += len;
    }
    let next = records.map(|n| sequence.wrapping_add(n as u32));
    dec.next_sequence(call, &h, next);
    Ok(pos + length)
}

/// Reads one field specifier at `p`: (spec, bytes used), or `None` past the end.
fn field_spec(b: &[u8], p: usize) -> Option<(FieldSpec, usize)> {
    let raw = b.get(p..p + 4)?;
    let (id, len) = (be16(raw, 0), be16(raw, 2));
    if id & 0x8000 == 0 {
        return Some((FieldSpec { id, pen: 0, len }, 4));
    }
    let pen = b.get(p + 4..p + 8)?;
    let pen = u32::from_be_bytes([pen[0], pen[1], pen[2], pen[3]]);
    Some((
        FieldSpec {
            id: id & 0x7fff,
            pen,
            len,
        },
        8,
    ))
}

/// Template (or options template) records of one set, withdrawals included.
fn templates<S: ?Sized + Sink>(
    dec: &mut Decoder,
    call: &mut Call<'_, S>,
    h: &Header,
    body: &[u8],
    offset: usize,
    options: bool,
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
        if count == 0 {
            // withdrawal: one template, or all of a kind (RFC 7011 §8.1)
            let all = if options {
                OPTIONS_TEMPLATE_SET
            } else {
                TEMPLATE_SET
            };
            if id == all {
                dec.withdraw(call, h, None, options);
            } else if id >= 256 {
                dec.withdraw(call, h, Some(id), options);
            } else {
                call.unparsed(&rest[..4], DecodeError::TemplateId { id, offset: at });
            }
            p += 4;
            continue;
        }
        if id < 256 {
            call.unparsed(rest, DecodeError::TemplateId { id, offset: at });
            return;
        }
        let mut q = 4;
        let mut scope = 0;
        if options {
            let Some(s) = rest.get(4..6) else {
                call.unparsed(rest, DecodeError::TemplateOverrun { id, offset: at });
                return;
            };
            scope = usize::from(be16(s, 0));
            q = 6;
            if scope == 0 || scope > count {
                call.unparsed(
                    rest,
                    DecodeError::BadScope {
                        id,
                        offset: at,
                        scope,
                        total: count,
                    },
                );
                return;
            }
        }
        if count > max {
            call.unparsed(
                rest,
                DecodeError::TooManyFields {
                    id,
                    offset: at,
                    count,
                    max,
                },
            );
            return;
        }
        let mut fields = Vec::with_capacity(count);
        for _ in 0..count {
            let Some((f, used)) = field_spec(rest, q) else {
                call.unparsed(rest, DecodeError::TemplateOverrun { id, offset: at });
                return;
            };
            fields.push(f);
            q += used;
        }
        match Template::new(id, fields, scope, options, max, at) {
            Ok(t) => dec.store_template(call, h, t),
            Err(e) => call.unparsed(&rest[..q], e),
        }
        p += q;
    }
}
