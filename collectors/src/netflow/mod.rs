//! NetFlow v5, NetFlow v9 (RFC 3954) and IPFIX (RFC 7011) decoders: pure functions of bytes
//! with state between datagrams (templates), no I/O.
//!
//! A [`Decoder`] takes one UDP datagram at a time with the exporter's address and returns
//! flow [`Event`]s (`Dataset::Netflow`) and [`DecodeStats`]. It never panics and never drops:
//!
//! - several export packets in one datagram are decoded one after the other, and trailing
//!   zero padding is skipped;
//! - a set (flowset) or packet that cannot be decoded becomes one event with its raw bytes and
//!   [`ParseWarning::Unparsed`], counted in [`DecodeStats::decode_errors`];
//! - data sets that come before their template wait (bounded) and are decoded when it comes;
//!   those whose template never comes are returned raw by [`Decoder::expire`].
//!
//! Options records teach the decoder each exporter's sampling rate, interface names and boot
//! time; flows get `network.bytes`/`network.packets` scaled by the sampling rate (the
//! exporter's numbers stay in `netflow.raw_bytes`/`netflow.raw_packets`) and
//! `observer.ingress.interface.name`.
//!
//! Every bound is a named constant in [`templates`] and can be lowered with [`Limits`].
//!
//! ```
//! use canh_collectors::netflow::{Decoder, Limits};
//! use canh_core::field;
//! use chrono::Utc;
//!
//! // a NetFlow v5 packet with one TCP flow
//! let mut pkt = vec![0, 5, 0, 1, 0, 0, 0x13, 0x88, 0x67, 0x74, 0x85, 0x80, 0, 0, 0, 0];
//! pkt.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 0]); // sequence 7, engine 0/0, not sampled
//! pkt.extend_from_slice(&[10, 0, 0, 1, 203, 0, 113, 5, 0, 0, 0, 0, 0, 1, 0, 2]);
//! pkt.extend_from_slice(&[0, 0, 0, 12, 0, 0, 0x0d, 0x80, 0, 0, 0x03, 0xe8, 0, 0, 0x13, 0x88]);
//! pkt.extend_from_slice(&[0xc9, 0x3a, 0x01, 0xbb, 0, 0x1b, 6, 0, 0, 0, 0, 0, 24, 24, 0, 0]);
//!
//! let mut dec = Decoder::new(Limits::default());
//! let out = dec.decode(&pkt, "192.0.2.1:2055".parse().unwrap(), Utc::now(), "udp://0.0.0.0:2055");
//! assert_eq!(out.stats.records, 1);
//! let ev = &out.events[0];
//! assert_eq!(ev.get_str(field::MESSAGE), Some("tcp 10.0.0.1:51514 -> 203.0.113.5:443 12 packets 3456 bytes"));
//! assert_eq!(ev.get_str(field::EVENT_END), Some("2025-01-01T00:00:00Z"));
//! ```

pub mod fields;
mod ipfix;
pub mod record;
pub mod templates;
mod v5;
mod v9;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;

use canh_core::{Dataset, Event, Origin, ParseWarning, field};
use chrono::{DateTime, Utc};

use record::Ctx;
pub use record::FlowRecord;
use templates::{ExporterOptions, Header, Pending, State, Template, TplKey};
pub use templates::{Limits, Rate, Usage};

/// A forward jump in sequence numbers larger than this is taken as an exporter restart or
/// reordering, not as loss: counting it would report millions of lost records for one reboot.
pub const MAX_COUNTED_SEQUENCE_GAP: u32 = 1 << 20;

/// Why bytes could not be decoded. Offsets are from the start of the datagram.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated {what} at byte {offset}: need {need} bytes, have {have}")]
    Truncated {
        what: &'static str,
        offset: usize,
        need: usize,
        have: usize,
    },
    #[error("unknown export version {version} at byte {offset}: expected 5, 9 or 10")]
    UnknownVersion { version: u16, offset: usize },
    #[error(
        "netflow v5 header at byte {offset} counts {count} records ({need} bytes) but {have} bytes follow"
    )]
    V5Count {
        offset: usize,
        count: u16,
        need: usize,
        have: usize,
    },
    #[error(
        "ipfix message at byte {offset} says it is {len} bytes; expected 16 to {have} (what is left of the datagram)"
    )]
    MessageLength {
        offset: usize,
        len: usize,
        have: usize,
    },
    #[error("set at byte {offset} has length {len}, shorter than its 4-byte header")]
    SetTooShort { offset: usize, len: usize },
    #[error("set at byte {offset} has length {len} but only {have} bytes are left")]
    SetOverrun {
        offset: usize,
        len: usize,
        have: usize,
    },
    #[error("set at byte {offset} has reserved set id {id}")]
    ReservedSet { offset: usize, id: u16 },
    #[error("template at byte {offset} has id {id}; template ids start at 256")]
    TemplateId { id: u16, offset: usize },
    #[error("template {id} at byte {offset} has no fields")]
    NoFields { id: u16, offset: usize },
    #[error("template {id} at byte {offset} has {count} fields; at most {max} are accepted")]
    TooManyFields {
        id: u16,
        offset: usize,
        count: usize,
        max: usize,
    },
    #[error("template {id} at byte {offset} describes records of 0 bytes")]
    EmptyRecord { id: u16, offset: usize },
    #[error("template {id} at byte {offset} runs past the end of its set")]
    TemplateOverrun { id: u16, offset: usize },
    #[error(
        "options template {id} at byte {offset} has a bad scope ({scope} of {total}; expected 1 or more, within the fields)"
    )]
    BadScope {
        id: u16,
        offset: usize,
        scope: usize,
        total: usize,
    },
    #[error(
        "data set {id} at byte {offset} has {len} bytes, less than one record of template {id} ({record} bytes)"
    )]
    SetShorterThanRecord {
        id: u16,
        offset: usize,
        len: usize,
        record: usize,
    },
    #[error("record of template {id} at byte {offset} runs past the end of its set")]
    RecordOverrun { id: u16, offset: usize },
    #[error(
        "more than {max} records in one datagram; the rest of the set at byte {offset} is kept raw"
    )]
    RecordLimit { offset: usize, max: usize },
    #[error("{len} trailing bytes at byte {offset} are not an export packet")]
    Trailing { offset: usize, len: usize },
    #[error(
        "no template {id} (netflow v{version}, domain {domain}) arrived within {waited_secs} s"
    )]
    TemplateNeverCame {
        id: u16,
        version: u16,
        domain: u32,
        waited_secs: u64,
    },
    #[error(
        "no template {id} (netflow v{version}, domain {domain}) and the queue of data waiting for templates is full"
    )]
    PendingFull { id: u16, version: u16, domain: u32 },
    #[error("data set {id} waited for its template but the exporter's state was evicted")]
    ExporterEvicted { id: u16 },
}

/// What happened while decoding one datagram (or expiring state).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DecodeStats {
    /// Export packets (v5/v9 packets, IPFIX messages) whose header was read.
    pub packets: u64,
    /// Flow records decoded into events (including ones that waited for their template).
    pub records: u64,
    /// Templates and options templates learned or refreshed.
    pub template_records: u64,
    /// Options data records decoded into events (and into the exporter's state).
    pub options_records: u64,
    /// Data sets that came before their template and now wait for it. Counted per set: how
    /// many records a set holds is known only once its template is.
    pub template_misses: u64,
    /// Records decoded from data sets that had waited for their template.
    pub pending_decoded: u64,
    /// Waiting data sets returned raw by [`Decoder::expire`] (or when a bound was hit).
    pub pending_expired: u64,
    /// Sets, packets or trailing bytes that could not be decoded and were kept raw.
    pub decode_errors: u64,
    /// Lost packets (v9) or records (v5, IPFIX) per the sequence numbers of each exporter and
    /// observation domain.
    pub sequence_gaps: u64,
    /// IPFIX templates withdrawn by the exporter.
    pub template_withdrawals: u64,
    /// Templates dropped because a bound was reached.
    pub templates_evicted: u64,
    /// Templates dropped because they were not refreshed in time.
    pub templates_expired: u64,
    /// The version of the first export packet of the datagram.
    pub version: Option<u16>,
}

impl DecodeStats {
    /// Adds `o`'s counters to these (the version stays the first one seen).
    pub fn add(&mut self, o: &DecodeStats) {
        self.packets += o.packets;
        self.records += o.records;
        self.template_records += o.template_records;
        self.options_records += o.options_records;
        self.template_misses += o.template_misses;
        self.pending_decoded += o.pending_decoded;
        self.pending_expired += o.pending_expired;
        self.decode_errors += o.decode_errors;
        self.sequence_gaps += o.sequence_gaps;
        self.template_withdrawals += o.template_withdrawals;
        self.templates_evicted += o.templates_evicted;
        self.templates_expired += o.templates_expired;
        self.version = self.version.or(o.version);
    }
}

/// Events and counters from one call.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Decoded {
    pub events: Vec<Event>,
    pub stats: DecodeStats,
}

/// A flow record as [`Decoder::decode_flows`] hands it out: the resolved ECS view, where it
/// came from, and the record's bytes (which hold its other elements).
#[derive(Debug, Clone, Copy)]
pub struct FlowView<'a> {
    pub record: &'a FlowRecord,
    pub exporter: SocketAddr,
    /// Export version: 5, 9 or 10 (IPFIX).
    pub version: u16,
    /// The template that described the record (0 for v5).
    pub template_id: u16,
    pub raw: &'a [u8],
}

/// What a caller of [`Decoder::decode_flows`] hands flow records to. The decoder is generic
/// over it, so a closure's body is compiled into the record loops instead of being called
/// through a pointer per record.
pub(crate) trait Sink: FnMut(&FlowView<'_>) {}

impl<F: ?Sized + FnMut(&FlowView<'_>)> Sink for F {}

/// The sink type of [`Decoder::decode`], which builds events and never calls one.
type NoSink = dyn FnMut(&FlowView<'_>);

/// One `decode` call: where the datagram came from and what has come out of it so far.
pub(crate) struct Call<'a, S: ?Sized> {
    pub exporter: SocketAddr,
    pub received: DateTime<Utc>,
    pub listener: &'a str,
    pub out: Decoded,
    /// Records decoded in this call (bounded by [`Limits::max_records_per_datagram`]).
    pub records: usize,
    /// `None`: flow records become events in `out`.
    sink: Option<&'a mut S>,
}

impl<S: ?Sized> Call<'_, S> {
    /// Keeps the data sets of an evicted exporter raw, counted as expired.
    #[inline]
    fn evicted(&mut self, evicted: Vec<Pending>) {
        for p in evicted {
            let err = DecodeError::ExporterEvicted { id: p.key.id };
            self.out
                .events
                .push(raw_event(p.exporter, p.received, &p.listener, p.data, &err));
            self.out.stats.pending_expired += 1;
        }
    }

    /// Keeps `bytes` as a raw event with `err` as the reason, and counts it.
    pub fn unparsed(&mut self, bytes: &[u8], err: DecodeError) {
        let ev = raw_event(
            self.exporter,
            self.received,
            self.listener,
            bytes.to_vec(),
            &err,
        );
        self.out.events.push(ev);
        self.out.stats.decode_errors += 1;
    }
}

fn raw_event(
    exporter: SocketAddr,
    received: DateTime<Utc>,
    listener: &str,
    raw: Vec<u8>,
    err: &DecodeError,
) -> Event {
    let mut ev = Event::new(
        Dataset::Netflow,
        Origin::new(listener, Some(exporter)),
        received,
        raw,
    );
    ev.set(field::OBSERVER_IP, exporter.ip());
    ev.set(
        field::MESSAGE,
        format!("undecoded netflow data from {exporter}: {err}"),
    );
    ev.warnings.push(ParseWarning::Unparsed {
        reason: err.to_string(),
    });
    ev
}

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn all_zero(b: &[u8]) -> bool {
    b.iter().all(|&c| c == 0)
}

/// Decodes NetFlow v5, v9 and IPFIX datagrams; keeps templates and options per exporter.
#[derive(Debug, Clone)]
pub struct Decoder {
    state: State,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(Limits::default())
    }
}

impl Decoder {
    pub fn new(limits: Limits) -> Self {
        Decoder {
            state: State::new(limits),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.state.limits
    }

    /// How much state the decoder holds now.
    pub fn usage(&self) -> Usage {
        self.state.usage()
    }

    /// Decodes one UDP datagram from `exporter` received at `received` on `listener`: returns
    /// flow and options events (`Dataset::Netflow`) and counters of what happened. Never
    /// panics; hostile input is kept raw and counted. A datagram may hold several
    /// concatenated export packets and trailing zero padding.
    pub fn decode(
        &mut self,
        datagram: &[u8],
        exporter: SocketAddr,
        received: DateTime<Utc>,
        listener: &str,
    ) -> Decoded {
        self.run::<NoSink>(datagram, (exporter, received, listener), None)
    }

    /// Decodes like [`Decoder::decode`] but hands each flow record to `sink` as a
    /// [`FlowView`] instead of building its event: the typed stage alone, for callers that
    /// need only the ECS view of flows. Options records, undecodable bytes and counters come
    /// back as from `decode`; `stats.records` counts the records handed to `sink`.
    pub fn decode_flows<F: FnMut(&FlowView<'_>)>(
        &mut self,
        datagram: &[u8],
        exporter: SocketAddr,
        received: DateTime<Utc>,
        listener: &str,
        sink: &mut F,
    ) -> Decoded {
        self.run(datagram, (exporter, received, listener), Some(sink))
    }

    fn run<'a, S: ?Sized + Sink>(
        &mut self,
        datagram: &[u8],
        (exporter, received, listener): (SocketAddr, DateTime<Utc>, &'a str),
        sink: Option<&'a mut S>,
    ) -> Decoded {
        let mut call = Call {
            exporter,
            received,
            listener,
            out: Decoded::default(),
            records: 0,
            sink,
        };
        let mut pos = 0;
        while pos < datagram.len() {
            let rest = &datagram[pos..];
            if all_zero(rest) {
                break;
            }
            if rest.len() < 2 {
                call.unparsed(
                    rest,
                    DecodeError::Trailing {
                        offset: pos,
                        len: rest.len(),
                    },
                );
                break;
            }
            let version = be16(rest, 0);
            call.out.stats.version.get_or_insert(version);
            let res = match version {
                5 => v5::decode(self, &mut call, datagram, pos),
                9 => v9::decode(self, &mut call, datagram, pos),
                10 => ipfix::decode(self, &mut call, datagram, pos),
                _ => Err(DecodeError::UnknownVersion {
                    version,
                    offset: pos,
                }),
            };
            match res {
                Ok(end) if end > pos => pos = end,
                Ok(_) => break,
                Err(e) => {
                    call.unparsed(rest, e);
                    break;
                }
            }
        }
        call.out
    }

    /// Drops templates not refreshed within their lifetime and returns, raw with a warning,
    /// the data sets that waited for a template longer than [`Limits::pending_ttl`].
    pub fn expire(&mut self, now: DateTime<Utc>) -> Decoded {
        let mut out = Decoded::default();
        let (templates, pending) = self.state.expire(now);
        out.stats.templates_expired = templates;
        let waited = self.state.limits.pending_ttl.as_secs();
        for p in pending {
            let err = DecodeError::TemplateNeverCame {
                id: p.key.id,
                version: p.key.version,
                domain: p.key.domain,
                waited_secs: waited,
            };
            out.events
                .push(raw_event(p.exporter, p.received, &p.listener, p.data, &err));
            out.stats.pending_expired += 1;
        }
        out
    }

    /// Called once per export packet header: makes sure the exporter has state, counts the
    /// packet and compares its sequence number with the one expected for its version and
    /// domain (`key`). When the header alone tells which sequence number the exporter's next
    /// packet carries (v5, v9), `next` records it in the same lookup; otherwise
    /// [`Decoder::next_sequence`] does once the records are read. Returns the exporter's
    /// options.
    pub(crate) fn begin_packet<S: ?Sized + Sink>(
        &mut self,
        call: &mut Call<'_, S>,
        key: (u16, u32),
        sequence: u32,
        next: Option<u32>,
    ) -> &ExporterOptions {
        call.out.stats.packets += 1;
        let mut evicted = Vec::new();
        let e = self
            .state
            .exporter(call.exporter, call.received, &mut evicted);
        let expected = match next {
            Some(_) => e.expect_next(key, next),
            None => e.seq.get(&key).and_then(|slot| slot.expected),
        };
        if let Some(expected) = expected {
            let gap = sequence.wrapping_sub(expected);
            if gap != 0 && gap <= MAX_COUNTED_SEQUENCE_GAP {
                call.out.stats.sequence_gaps += u64::from(gap);
            }
        }
        call.evicted(evicted);
        &e.options
    }

    /// Records the sequence number the next packet of this exporter and domain should carry
    /// (`None`: unknown, e.g. some records waited for a template and could not be counted).
    pub(crate) fn next_sequence<S: ?Sized + Sink>(
        &mut self,
        call: &Call<'_, S>,
        h: &Header,
        next: Option<u32>,
    ) {
        let Some(e) = self.state.get_mut(call.exporter) else {
            return;
        };
        e.expect_next((h.version, h.domain), next);
    }

    /// Stores a template read from packet `h` (see [`Decoder::decode_ready`] for the data that
    /// waited for it).
    pub(crate) fn store_template<S: ?Sized + Sink>(
        &mut self,
        call: &mut Call<'_, S>,
        h: &Header,
        tpl: Template,
    ) {
        let key = TplKey {
            version: h.version,
            domain: h.domain,
            id: tpl.id,
        };
        let mut evicted = Vec::new();
        let out = self
            .state
            .store(call.exporter, key, tpl, call.received, &mut evicted);
        call.out.stats.template_records += 1;
        call.out.stats.templates_evicted += out.evicted;
        call.evicted(evicted);
    }

    /// Decodes the data sets that waited for templates which are now known, in the order
    /// they arrived. Called after each set of templates.
    pub(crate) fn decode_ready<S: ?Sized + Sink>(&mut self, call: &mut Call<'_, S>) {
        for (p, tpl) in self.state.take_ready(call.exporter, call.received) {
            let n =
                self.decode_records(call, (p.received, &p.listener), &p.header, &tpl, &p.data, 0);
            call.out.stats.pending_decoded += n;
        }
    }

    /// IPFIX template withdrawal (RFC 7011 §8.1).
    pub(crate) fn withdraw<S: ?Sized + Sink>(
        &mut self,
        call: &mut Call<'_, S>,
        h: &Header,
        id: Option<u16>,
        options: bool,
    ) {
        let n = self
            .state
            .withdraw(call.exporter, h.version, h.domain, id, options);
        call.out.stats.template_withdrawals += n;
    }

    /// Decodes a data set with the template it names, or queues it to wait for the template.
    /// Returns the records decoded now, `None` when the set waits (or could not wait).
    pub(crate) fn data_set<S: ?Sized + Sink>(
        &mut self,
        call: &mut Call<'_, S>,
        h: &Header,
        set_id: u16,
        body: &[u8],
        offset: usize,
    ) -> Option<u64> {
        let key = TplKey {
            version: h.version,
            domain: h.domain,
            id: set_id,
        };
        if let Some(tpl) = self.state.template(call.exporter, key, call.received) {
            let listener = call.listener;
            let received = call.received;
            return Some(self.decode_records(call, (received, listener), h, &tpl, body, offset));
        }
        if all_zero(body) {
            return Some(0);
        }
        let p = Pending {
            exporter: call.exporter,
            key,
            header: *h,
            data: body.to_vec(),
            received: call.received,
            listener: call.listener.to_owned(),
        };
        match self.state.push_pending(call.exporter, p) {
            Ok(()) => call.out.stats.template_misses += 1,
            Err(p) => {
                let err = DecodeError::PendingFull {
                    id: set_id,
                    version: h.version,
                    domain: h.domain,
                };
                call.out
                    .events
                    .push(raw_event(p.exporter, p.received, &p.listener, p.data, &err));
                call.out.stats.pending_expired += 1;
            }
        }
        None
    }

    /// Hands the records of a v5 packet to the call's sink, each filled from its fixed offsets
    /// into one reused record (see [`record::V5Packet`]); counts and limits them as
    /// [`Decoder::decode_records`] does.
    pub(crate) fn sink_v5_records<S: ?Sized + Sink>(
        &self,
        call: &mut Call<'_, S>,
        packet: &record::V5Packet,
        body: &[u8],
        offset: usize,
    ) {
        let max_records = self.state.limits.max_records_per_datagram;
        let (exporter, records) = (call.exporter, call.records);
        let Some(sink) = call.sink.as_mut() else {
            return;
        };
        let n = (body.len() / v5::RECORD_LEN).min(max_records.saturating_sub(records));
        let (taken, rest) = body.split_at(n * v5::RECORD_LEN);
        let mut flow = packet.record();
        for rec in taken.as_chunks::<{ v5::RECORD_LEN }>().0 {
            packet.fill(rec, &mut flow);
            sink(&FlowView {
                record: &flow,
                exporter,
                version: 5,
                template_id: 0,
                raw: rec,
            });
        }
        call.out.stats.records += n as u64;
        call.records += n;
        if !rest.is_empty() {
            call.unparsed(
                rest,
                DecodeError::RecordLimit {
                    offset: offset + taken.len(),
                    max: max_records,
                },
            );
        }
    }

    /// Decodes the records of one data set; returns how many.
    fn decode_records<S: ?Sized + Sink>(
        &mut self,
        call: &mut Call<'_, S>,
        (received, listener): (DateTime<Utc>, &str),
        h: &Header,
        tpl: &Template,
        body: &[u8],
        offset: usize,
    ) -> u64 {
        let min = tpl.min_record_len();
        if body.len() < min {
            if !all_zero(body) {
                call.unparsed(
                    body,
                    DecodeError::SetShorterThanRecord {
                        id: tpl.id,
                        offset,
                        len: body.len(),
                        record: min,
                    },
                );
            }
            return 0;
        }
        let max_records = self.state.limits.max_records_per_datagram;
        let Some(e) = self.state.get_mut(call.exporter) else {
            return 0;
        };
        let ctx = Ctx {
            exporter: call.exporter,
            received,
            listener,
            header: h,
            template_id: tpl.id,
        };
        let mut values = Vec::with_capacity(tpl.fields.len());
        let mut resolved = record::Resolved::new();
        let (mut pos, mut n) = (0usize, 0u64);
        while body.len() - pos >= min {
            let rest = &body[pos..];
            if tpl.has_varlen() && all_zero(rest) {
                break;
            }
            if call.records >= max_records {
                call.unparsed(
                    rest,
                    DecodeError::RecordLimit {
                        offset: offset + pos,
                        max: max_records,
                    },
                );
                break;
            }
            // a fixed-length flow record going to a sink is resolved from its bytes alone
            let split = tpl.options || tpl.has_varlen() || call.sink.is_none();
            let used = if split {
                tpl.read_record(rest, &mut values)
            } else {
                Some(min)
            };
            let Some(used) = used else {
                call.unparsed(
                    rest,
                    DecodeError::RecordOverrun {
                        id: tpl.id,
                        offset: offset + pos,
                    },
                );
                break;
            };
            let raw = &rest[..used];
            if tpl.options {
                call.out.stats.options_records += 1;
                let ev = record::options_event(&ctx, tpl, &values, raw, &mut e.options);
                call.out.events.push(ev);
            } else {
                call.out.stats.records += 1;
                record::resolve(h, tpl, raw, &values, &e.options, &mut resolved);
                match call.sink.as_mut() {
                    Some(sink) => sink(&FlowView {
                        record: &resolved.flow,
                        exporter: call.exporter,
                        version: h.version,
                        template_id: tpl.id,
                        raw,
                    }),
                    None => {
                        let ev = record::flow_event(&ctx, tpl, &values, raw, &e.options, &resolved);
                        call.out.events.push(ev);
                    }
                }
            }
            call.records += 1;
            pos += used;
            n += 1;
        }
        n
    }
}
