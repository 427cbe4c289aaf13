//! Round trips through a test-only encoder (v5, v9, IPFIX), hostile input, and random bytes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use canh_core::{Event, Value, field};
use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

use super::fields::hex;
use super::templates::VARLEN;
use super::{DecodeStats, Decoded, Decoder, Limits};

// ---------------------------------------------------------------------------------------------
// A small encoder, for tests only

fn exporter(k: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, k)), 2055)
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap()
}

const EXPORT_SECS: u32 = 1_764_057_600; // 2025-11-25T08:00:00Z
const UPTIME: u32 = 5_000_000;

#[derive(Debug, Clone)]
struct Flow {
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    proto: u8,
    bytes: u32,
    packets: u32,
    /// How long before the export the flow started and ended (ms).
    start_ago: u32,
    end_ago: u32,
    flags: u8,
    app: String,
    vendor: u32,
}

fn put_n(out: &mut Vec<u8>, v: u64, len: usize) {
    out.extend_from_slice(&v.to_be_bytes()[8 - len..]);
}

fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// A set (flowset) with its 4-byte header, padded to 4 bytes.
fn set(id: u16, body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    while !b.len().is_multiple_of(4) {
        b.push(0);
    }
    let mut out = Vec::new();
    put_n(&mut out, u64::from(id), 2);
    put_n(&mut out, (b.len() + 4) as u64, 2);
    out.extend(b);
    out
}

fn v9_packet(seq: u32, source_id: u32, sets: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [9u64, sets.len() as u64] {
        put_n(&mut out, v, 2);
    }
    for v in [UPTIME, EXPORT_SECS, seq, source_id] {
        put_n(&mut out, u64::from(v), 4);
    }
    sets.iter().for_each(|s| out.extend_from_slice(s));
    out
}

fn ipfix_message(seq: u32, domain: u32, sets: &[Vec<u8>]) -> Vec<u8> {
    let len = 16 + sets.iter().map(Vec::len).sum::<usize>();
    let mut out = Vec::new();
    put_n(&mut out, 10, 2);
    put_n(&mut out, len as u64, 2);
    for v in [EXPORT_SECS, seq, domain] {
        put_n(&mut out, u64::from(v), 4);
    }
    sets.iter().for_each(|s| out.extend_from_slice(s));
    out
}

/// A template field: (id, pen, length).
type Spec = (u16, u32, u16);

fn template_record(id: u16, specs: &[Spec]) -> Vec<u8> {
    let mut out = Vec::new();
    put_n(&mut out, u64::from(id), 2);
    put_n(&mut out, specs.len() as u64, 2);
    for &(fid, pen, len) in specs {
        let fid = if pen != 0 { fid | 0x8000 } else { fid };
        put_n(&mut out, u64::from(fid), 2);
        put_n(&mut out, u64::from(len), 2);
        if pen != 0 {
            put_n(&mut out, u64::from(pen), 4);
        }
    }
    out
}

fn flow_specs(v6: bool, ipfix: bool, order: &[usize]) -> Vec<Spec> {
    let (s, d, alen) = if v6 { (27, 28, 16) } else { (8, 12, 4) };
    let mut all: Vec<Spec> = vec![
        (s, 0, alen),
        (d, 0, alen),
        (7, 0, 2),
        (11, 0, 2),
        (4, 0, 1),
        (1, 0, 8),
        (2, 0, 4),
        (6, 0, 1),
    ];
    if ipfix {
        all.extend([(152, 0, 8), (153, 0, 8), (96, 0, VARLEN), (7, 9999, 4)]);
    } else {
        all.extend([(22, 0, 4), (21, 0, 4)]);
    }
    order.iter().filter_map(|&k| all.get(k).copied()).collect()
}

fn encode_record(f: &Flow, specs: &[Spec]) -> Vec<u8> {
    let mut out = Vec::new();
    let export_ms = u64::from(EXPORT_SECS) * 1000;
    for &(id, pen, len) in specs {
        match (pen, id) {
            (9999, _) => put_n(&mut out, u64::from(f.vendor), 4),
            (_, 8 | 27) => out.extend(ip_bytes(f.src)),
            (_, 12 | 28) => out.extend(ip_bytes(f.dst)),
            (_, 7) => put_n(&mut out, u64::from(f.sport), 2),
            (_, 11) => put_n(&mut out, u64::from(f.dport), 2),
            (_, 4) => out.push(f.proto),
            (_, 1) => put_n(&mut out, u64::from(f.bytes), usize::from(len)),
            (_, 2) => put_n(&mut out, u64::from(f.packets), usize::from(len)),
            (_, 6) => out.push(f.flags),
            (_, 22) => put_n(&mut out, u64::from(UPTIME - f.start_ago), 4),
            (_, 21) => put_n(&mut out, u64::from(UPTIME - f.end_ago), 4),
            (_, 152) => put_n(&mut out, export_ms - u64::from(f.start_ago), 8),
            (_, 153) => put_n(&mut out, export_ms - u64::from(f.end_ago), 8),
            (_, 96) => {
                let b = f.app.as_bytes();
                if b.len() < 255 {
                    out.push(b.len() as u8);
                } else {
                    out.push(255);
                    put_n(&mut out, b.len() as u64, 2);
                }
                out.extend_from_slice(b);
            }
            _ => unreachable!("no encoder for {id}"),
        }
    }
    out
}

fn v5_packet(flows: &[Flow], seq: u32, sampling: u16) -> Vec<u8> {
    let mut out = Vec::new();
    put_n(&mut out, 5, 2);
    put_n(&mut out, flows.len() as u64, 2);
    for v in [UPTIME, EXPORT_SECS, 0, seq] {
        put_n(&mut out, u64::from(v), 4);
    }
    out.extend([1, 2]);
    put_n(&mut out, u64::from(sampling), 2);
    for f in flows {
        out.extend(ip_bytes(f.src));
        out.extend(ip_bytes(f.dst));
        out.extend([0, 0, 0, 0, 0, 3, 0, 4]);
        put_n(&mut out, u64::from(f.packets), 4);
        put_n(&mut out, u64::from(f.bytes), 4);
        put_n(&mut out, u64::from(UPTIME - f.start_ago), 4);
        put_n(&mut out, u64::from(UPTIME - f.end_ago), 4);
        put_n(&mut out, u64::from(f.sport), 2);
        put_n(&mut out, u64::from(f.dport), 2);
        out.extend([0, f.flags, f.proto, 0, 0, 0, 0, 0, 24, 24, 0, 0]);
    }
    out
}

fn flow_strategy(v6: bool) -> impl Strategy<Value = Flow> {
    let addr = move || -> BoxedStrategy<IpAddr> {
        if v6 {
            any::<[u8; 16]>()
                .prop_map(|b| IpAddr::V6(Ipv6Addr::from(b)))
                .boxed()
        } else {
            any::<[u8; 4]>()
                .prop_map(|b| IpAddr::V4(Ipv4Addr::from(b)))
                .boxed()
        }
    };
    (
        (
            addr(),
            addr(),
            any::<u16>(),
            any::<u16>(),
            prop::sample::select(vec![6u8, 17, 1, 58, 47]),
        ),
        (
            any::<u32>(),
            1..u32::MAX,
            0..100_000u32,
            0..100_000u32,
            any::<u8>(),
        ),
        ("[a-z]{0,300}", any::<u32>()),
    )
        .prop_map(
            |((src, dst, sport, dport, proto), (bytes, packets, a, b, flags), (app, vendor))| {
                Flow {
                    src,
                    dst,
                    sport,
                    dport,
                    proto,
                    bytes,
                    packets,
                    start_ago: a.max(b),
                    end_ago: a.min(b),
                    flags,
                    app,
                    vendor,
                }
            },
        )
}

fn ms(t: &str) -> i64 {
    DateTime::parse_from_rfc3339(t).unwrap().timestamp_millis()
}

/// Checks an event against the flow it was encoded from.
fn check(ev: &Event, f: &Flow, rate: u64) {
    assert_eq!(ev.get(field::SOURCE_IP), Some(&Value::Ip(f.src)));
    assert_eq!(ev.get(field::DESTINATION_IP), Some(&Value::Ip(f.dst)));
    assert_eq!(
        ev.get(field::SOURCE_PORT),
        Some(&Value::Int(f.sport.into()))
    );
    assert_eq!(
        ev.get(field::DESTINATION_PORT),
        Some(&Value::Int(f.dport.into()))
    );
    assert_eq!(
        ev.get_str(field::NETWORK_IANA_NUMBER),
        Some(f.proto.to_string().as_str())
    );
    let scaled = |v: u32| Value::Int(i64::try_from(u64::from(v) * rate).unwrap());
    assert_eq!(ev.get(field::NETWORK_BYTES), Some(&scaled(f.bytes)));
    assert_eq!(ev.get(field::NETWORK_PACKETS), Some(&scaled(f.packets)));
    assert_eq!(
        ev.get(field::NETFLOW_TCP_CONTROL_BITS),
        Some(&Value::Int(f.flags.into()))
    );
    let export_ms = i64::from(EXPORT_SECS) * 1000;
    let start = ev.get_str(field::EVENT_START).map(ms);
    let end = ev.get_str(field::EVENT_END).map(ms);
    assert_eq!(start, Some(export_ms - i64::from(f.start_ago)));
    assert_eq!(end, Some(export_ms - i64::from(f.end_ago)));
    assert_eq!(
        ev.timestamp.timestamp_millis(),
        export_ms - i64::from(f.end_ago)
    );
    assert_eq!(
        ev.get_str(field::NETWORK_TYPE),
        Some(if f.src.is_ipv6() { "ipv6" } else { "ipv4" })
    );
    assert!(!ev.is_unparsed());
}

fn decode(dec: &mut Decoder, d: &[u8]) -> Decoded {
    dec.decode(d, exporter(1), now(), "test")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn v5_round_trip(
        flows in prop::collection::vec(flow_strategy(false), 0..30),
        seq in any::<u32>(),
        interval in prop::sample::select(vec![0u16, 1, 10, 1000]),
    ) {
        let mut dec = Decoder::default();
        let out = decode(&mut dec, &v5_packet(&flows, seq, interval));
        prop_assert_eq!(out.stats.records as usize, flows.len());
        prop_assert_eq!(out.stats.decode_errors, 0);
        let rate = u64::from(interval.max(1));
        for (ev, f) in out.events.iter().zip(&flows) {
            check(ev, f, rate);
            prop_assert_eq!(ev.raw.len(), 48);
            if rate > 1 {
                prop_assert_eq!(ev.get(field::NETFLOW_RAW_BYTES), Some(&Value::Int(f.bytes.into())));
            }
        }
        // the next packet continues the sequence: no gap
        let next = v5_packet(&flows, seq.wrapping_add(flows.len() as u32), interval);
        prop_assert_eq!(decode(&mut dec, &next).stats.sequence_gaps, 0);
    }

    #[test]
    fn v9_round_trip(
        v6 in any::<bool>(),
        order in Just((0..10).collect::<Vec<usize>>()).prop_shuffle(),
        flows in prop::collection::vec(flow_strategy(false), 1..20),
        flows6 in prop::collection::vec(flow_strategy(true), 1..20),
        data_first in any::<bool>(),
        tid in 256u16..,
        source_id in any::<u32>(),
    ) {
        let flows = if v6 { flows6 } else { flows };
        let specs = flow_specs(v6, false, &order);
        let tpl = set(0, &template_record(tid, &specs));
        let body: Vec<u8> = flows.iter().flat_map(|f| encode_record(f, &specs)).collect();
        let data = set(tid, &body);
        let mut dec = Decoder::default();
        let (first, second) = if data_first { (data, tpl) } else { (tpl, data) };
        let a = decode(&mut dec, &v9_packet(1, source_id, &[first]));
        let b = decode(&mut dec, &v9_packet(2, source_id, &[second]));
        let mut stats = DecodeStats::default();
        stats.add(&a.stats);
        stats.add(&b.stats);
        prop_assert_eq!(stats.records as usize, flows.len());
        prop_assert_eq!(stats.template_misses, u64::from(data_first));
        prop_assert_eq!(stats.decode_errors + stats.sequence_gaps, 0);
        let events: Vec<_> = a.events.into_iter().chain(b.events).collect();
        for (ev, f) in events.iter().zip(&flows) {
            check(ev, f, 1);
            prop_assert_eq!(ev.get(field::NETFLOW_SOURCE_ID), Some(&Value::Int(source_id.into())));
        }
    }

    #[test]
    fn ipfix_round_trip(
        v6 in any::<bool>(),
        order in Just((0..12).collect::<Vec<usize>>()).prop_shuffle(),
        flows in prop::collection::vec(flow_strategy(false), 1..12),
        flows6 in prop::collection::vec(flow_strategy(true), 1..12),
        data_first in any::<bool>(),
        tid in 256u16..,
        seq in any::<u32>(),
    ) {
        let flows = if v6 { flows6 } else { flows };
        let specs = flow_specs(v6, true, &order);
        let tpl = set(2, &template_record(tid, &specs));
        let mut sets = Vec::new();
        // several records per set, several sets, as long as a message fits in 64 KiB
        for chunk in flows.chunks(4) {
            let body: Vec<u8> = chunk.iter().flat_map(|f| encode_record(f, &specs)).collect();
            sets.push(set(tid, &body));
        }
        let mut dec = Decoder::default();
        let (a, b) = if data_first {
            (ipfix_message(seq, 7, &sets), ipfix_message(seq.wrapping_add(flows.len() as u32), 7, &[tpl]))
        } else {
            (ipfix_message(seq, 7, &[tpl]), ipfix_message(seq, 7, &sets))
        };
        // both messages in one datagram, as some exporters send them
        let mut both = a.clone();
        both.extend_from_slice(&b);
        let out = decode(&mut dec, &both);
        prop_assert_eq!(out.stats.records as usize, flows.len());
        prop_assert_eq!(out.stats.packets, 2);
        prop_assert_eq!(out.stats.decode_errors, 0);
        for (ev, f) in out.events.iter().zip(&flows) {
            check(ev, f, 1);
            let has = |k: usize| order.contains(&k);
            if has(10) && !f.app.is_empty() {
                prop_assert_eq!(ev.get_str("netflow.application_name"), Some(f.app.as_str()));
            }
            if has(11) {
                let want = hex(&f.vendor.to_be_bytes());
                prop_assert_eq!(ev.get_str("netflow.pen9999.7"), Some(want.as_str()));
            }
        }
    }

    /// Any bytes: no panic, every byte that is not padding ends in an event, state bounded.
    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..1500), prefix in 0..4u8) {
        let mut d = match prefix {
            0 => vec![],
            1 => v9_packet(1, 0, &[]),
            2 => ipfix_message(1, 0, &[]),
            _ => v5_packet(&[], 1, 0),
        };
        if prefix == 2 {
            let len = (16 + data.len()).min(65535) as u16;
            d[2..4].copy_from_slice(&len.to_be_bytes());
        }
        d.extend(&data);
        let limits = small_limits();
        let mut dec = Decoder::new(limits);
        let out = decode(&mut dec, &d);
        within(&dec, &limits);
        for ev in &out.events {
            prop_assert!(!ev.raw.is_empty());
        }
    }

    /// Many exporters sending templates and data without templates: state stays bounded.
    #[test]
    fn state_stays_within_limits(ops in prop::collection::vec((0u8..40, 256u16..400, any::<bool>(), 0usize..600), 1..200)) {
        let limits = small_limits();
        let mut dec = Decoder::new(limits);
        let specs = flow_specs(false, false, &[0, 1, 2, 3, 4]);
        for (k, (who, tid, is_tpl, len)) in ops.into_iter().enumerate() {
            let s = if is_tpl {
                set(0, &template_record(tid, &specs))
            } else {
                set(tid, &vec![1u8; len])
            };
            let t = now() + chrono::Duration::seconds(k as i64);
            dec.decode(&v9_packet(k as u32, u32::from(who % 3), &[s]), exporter(who), t, "test");
            within(&dec, &limits);
        }
        let expired = dec.expire(now() + chrono::Duration::days(1));
        prop_assert_eq!(dec.usage().pending_bytes, 0);
        prop_assert!(expired.events.iter().all(Event::is_unparsed));
    }
}

fn small_limits() -> Limits {
    Limits {
        max_exporters: 8,
        max_templates_per_exporter: 4,
        max_templates_total: 16,
        max_pending_bytes_per_exporter: 2048,
        max_pending_bytes_total: 8192,
        max_template_fields: 64,
        max_records_per_datagram: 256,
        ..Limits::default()
    }
}

fn within(dec: &Decoder, l: &Limits) {
    let u = dec.usage();
    assert!(u.exporters <= l.max_exporters, "{u:?}");
    assert!(u.templates <= l.max_templates_total, "{u:?}");
    assert!(
        u.max_templates_one_exporter <= l.max_templates_per_exporter,
        "{u:?}"
    );
    assert!(u.pending_bytes <= l.max_pending_bytes_total, "{u:?}");
    assert!(
        u.max_pending_bytes_one_exporter <= l.max_pending_bytes_per_exporter,
        "{u:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Hostile input: each case is kept raw and moves the right counter

/// Which counter a hostile case must move.
#[derive(Debug, Clone, Copy)]
enum Moves {
    DecodeErrors,
    PendingExpired,
}

fn v9_tpl(id: u16, fields: &[(u16, u16)]) -> Vec<u8> {
    let specs: Vec<Spec> = fields.iter().map(|&(i, l)| (i, 0, l)).collect();
    set(0, &template_record(id, &specs))
}

/// A raw set with an explicit length field (not computed).
fn raw_set(id: u16, len: u16, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_n(&mut out, u64::from(id), 2);
    put_n(&mut out, u64::from(len), 2);
    out.extend_from_slice(body);
    out
}

#[test]
fn hostile_input_is_kept_raw_and_counted() {
    let one_field = [(8u16, 4u16)];
    let cases: Vec<(&str, Vec<Vec<u8>>, Moves, Limits)> = vec![
        (
            "zero-length flowset followed by data",
            vec![v9_packet(1, 0, &[raw_set(300, 0, &[1, 2, 3, 4])])],
            Moves::DecodeErrors,
            Limits::default(),
        ),
        (
            "flowset longer than the datagram",
            vec![v9_packet(1, 0, &[raw_set(300, 1000, &[1; 16])])],
            Moves::DecodeErrors,
            Limits::default(),
        ),
        (
            "ipfix set length shorter than its header",
            vec![ipfix_message(1, 0, &[raw_set(2, 2, &[1, 1, 1, 1])])],
            Moves::DecodeErrors,
            Limits::default(),
        ),
        (
            "template with 0 fields",
            vec![v9_packet(1, 0, &[set(0, &[1, 0, 0, 0])])],
            Moves::DecodeErrors,
            Limits::default(),
        ),
        (
            "template claiming 65,535 fields",
            vec![v9_packet(1, 0, &[set(0, &[1, 0, 0xff, 0xff, 0, 8, 0, 4])])],
            Moves::DecodeErrors,
            Limits::default(),
        ),
        (
            "template with more fields than the limit",
            vec![ipfix_message(
                1,
                0,
                &[set(2, &template_record(300, &[(8, 0, 1); 600]))],
            )],
            Moves::DecodeErrors,
            Limits::default(),
        ),
        (
            "template of zero-length fields (a loop that would not advance)",
            vec![v9_packet(1, 0, &[v9_tpl(300, &[(8, 0), (12, 0)])])],
            Moves::DecodeErrors,
            Limits::default(),
        ),
        (
            "template id below 256",
            vec![v9_packet(1, 0, &[v9_tpl(7, &one_field)])],
            Moves::DecodeErrors,
            Limits::default(),
        ),
        (
            "field lengths make a record larger than the set",
            vec![v9_packet(
                1,
                0,
                &[v9_tpl(300, &[(8, 4), (95, 2000)]), set(300, &[9; 40])],
            )],
            Moves::DecodeErrors,
            Limits::default(),
        ),
        (
            "variable-length field running past the set",
            vec![ipfix_message(
                1,
                0,
                &[
                    set(2, &template_record(300, &[(96, 0, VARLEN)])),
                    set(300, &[255, 0xff, 0xf0, b'a', b'b']),
                ],
            )],
            Moves::DecodeErrors,
            Limits::default(),
        ),
        (
            "options template with no scope",
            vec![ipfix_message(
                1,
                0,
                &[set(3, &[1, 44, 0, 1, 0, 0, 0, 34, 0, 4])],
            )],
            Moves::DecodeErrors,
            Limits::default(),
        ),
        (
            "v9 options template with a scope length not a multiple of 4",
            vec![v9_packet(
                1,
                0,
                &[set(1, &[1, 44, 0, 3, 0, 4, 0, 34, 0, 4, 0, 1])],
            )],
            Moves::DecodeErrors,
            Limits::default(),
        ),
        (
            "v5 count larger than the datagram",
            vec![{
                let mut p = v5_packet(&[], 1, 0);
                p[2..4].copy_from_slice(&55_582u16.to_be_bytes());
                p.extend([0; 100]);
                p
            }],
            Moves::DecodeErrors,
            Limits::default(),
        ),
        (
            "ipfix length past the datagram",
            vec![{
                let mut m = ipfix_message(1, 0, &[set(300, &[1; 8])]);
                m[2..4].copy_from_slice(&9000u16.to_be_bytes());
                m
            }],
            Moves::DecodeErrors,
            Limits::default(),
        ),
        (
            "ipfix length shorter than its header",
            vec![{
                let mut m = ipfix_message(1, 0, &[]);
                m[2..4].copy_from_slice(&3u16.to_be_bytes());
                m
            }],
            Moves::DecodeErrors,
            Limits::default(),
        ),
        (
            "unknown version",
            vec![vec![0, 7, 1, 2, 3, 4]],
            Moves::DecodeErrors,
            Limits::default(),
        ),
        (
            "reserved set id",
            vec![ipfix_message(1, 0, &[set(100, &[1; 8])])],
            Moves::DecodeErrors,
            Limits::default(),
        ),
        (
            "truncated header",
            vec![vec![0, 9, 0, 1, 0, 0]],
            Moves::DecodeErrors,
            Limits::default(),
        ),
        (
            "trailing garbage after a packet",
            vec![{
                let mut p = v5_packet(&[], 1, 0);
                p.push(7);
                p
            }],
            Moves::DecodeErrors,
            Limits::default(),
        ),
        (
            "more records than the per-datagram limit",
            vec![v9_packet(
                1,
                0,
                &[v9_tpl(300, &[(4, 1)]), set(300, &[6; 100])],
            )],
            Moves::DecodeErrors,
            Limits {
                max_records_per_datagram: 10,
                ..Limits::default()
            },
        ),
        (
            "data without template past the waiting-data bound",
            vec![v9_packet(1, 0, &[set(300, &[1; 600]), set(301, &[1; 600])])],
            Moves::PendingExpired,
            Limits {
                max_pending_bytes_per_exporter: 1000,
                ..Limits::default()
            },
        ),
    ];
    for (name, datagrams, moves, limits) in cases {
        let mut dec = Decoder::new(limits);
        let mut stats = DecodeStats::default();
        let mut events = Vec::new();
        for d in &datagrams {
            let out = decode(&mut dec, d);
            stats.add(&out.stats);
            events.extend(out.events);
        }
        let moved = match moves {
            Moves::DecodeErrors => stats.decode_errors,
            Moves::PendingExpired => stats.pending_expired,
        };
        assert!(moved >= 1, "{name}: {moves:?} did not move: {stats:?}");
        let raw: Vec<&Event> = events.iter().filter(|e| e.is_unparsed()).collect();
        assert!(!raw.is_empty(), "{name}: nothing kept raw");
        assert!(raw.iter().all(|e| !e.raw.is_empty()), "{name}");
        within(&dec, &limits);
    }
}

/// A one-packet, 100-byte UDP flow that started 10 ms and ended 5 ms before the export.
fn udp_flow(src: IpAddr, dst: IpAddr, sport: u16, dport: u16) -> Flow {
    Flow {
        src,
        dst,
        sport,
        dport,
        proto: 17,
        bytes: 100,
        packets: 1,
        start_ago: 10,
        end_ago: 5,
        flags: 0,
        app: String::new(),
        vendor: 0,
    }
}

/// v5 records to a `decode_flows` sink (the fixed-offset path) meet the per-datagram record
/// limit as events do: the same records out, the rest kept raw with the same error.
#[test]
fn v5_record_limit_is_the_same_for_flows_and_events() {
    let flow = |k: u8| {
        let src = IpAddr::from([10, 0, 0, k]);
        udp_flow(src, "10.0.0.200".parse().unwrap(), 1000 + u16::from(k), 53)
    };
    let flows: Vec<Flow> = (0..30).map(flow).collect();
    let d = v5_packet(&flows, 1, 0);
    let limits = Limits {
        max_records_per_datagram: 12,
        ..Limits::default()
    };
    let events = Decoder::new(limits).decode(&d, exporter(1), now(), "test");
    let mut ports = Vec::new();
    let typed = Decoder::new(limits).decode_flows(&d, exporter(1), now(), "test", &mut |f| {
        ports.push(f.record.source_port());
    });
    assert_eq!(events.stats.records, 12);
    assert_eq!(typed.stats, events.stats);
    assert_eq!(ports, (1000..1012).map(Some).collect::<Vec<_>>());
    let flow_ports: Vec<_> = events
        .events
        .iter()
        .filter(|e| !e.is_unparsed())
        .map(|e| e.get(field::SOURCE_PORT).cloned())
        .collect();
    assert_eq!(
        flow_ports,
        (1000..1012)
            .map(|p| Some(Value::Int(p)))
            .collect::<Vec<_>>()
    );
    // the rest, raw and counted, in both
    let raw = |evs: &[Event]| -> Vec<(Vec<u8>, Option<String>)> {
        evs.iter()
            .filter(|e| e.is_unparsed())
            .map(|e| (e.raw.clone(), e.get_str(field::MESSAGE).map(str::to_owned)))
            .collect()
    };
    assert_eq!(raw(&typed.events), raw(&events.events));
    assert_eq!(raw(&typed.events).len(), 1);
    assert_eq!(raw(&typed.events)[0].0.len(), 18 * 48);
}

#[test]
fn zero_padding_and_concatenated_packets() {
    let flows = [udp_flow(
        "10.0.0.1".parse().unwrap(),
        "10.0.0.2".parse().unwrap(),
        1,
        2,
    )];
    let specs = flow_specs(false, false, &(0..10).collect::<Vec<_>>());
    let mut d = v9_packet(
        1,
        0,
        &[
            v9_tpl(300, &specs.iter().map(|s| (s.0, s.2)).collect::<Vec<_>>()),
            set(300, &encode_record(&flows[0], &specs)),
        ],
    );
    d.extend(v5_packet(&flows, 9, 0));
    d.extend(v9_packet(
        2,
        0,
        &[set(300, &encode_record(&flows[0], &specs))],
    ));
    d.extend([0; 300]);
    let out = decode(&mut Decoder::default(), &d);
    assert_eq!(out.stats.packets, 3);
    assert_eq!(out.stats.records, 3);
    assert_eq!(out.stats.decode_errors, 0);
    assert_eq!(out.stats.sequence_gaps, 0);
    assert_eq!(out.stats.version, Some(9));
    for ev in &out.events {
        check(ev, &flows[0], 1);
    }
}

#[test]
fn options_sampling_and_interface_names_are_applied() {
    // options template: scope system (4), sampling interval (34), then interface scope + name
    let opt = set(1, &[1, 44, 0, 4, 0, 4, 0, 1, 0, 4, 0, 34, 0, 4]);
    let opt_data = set(300, &[0, 0, 0, 0, 0, 0, 0, 100]);
    let ifopt = set(1, &[1, 45, 0, 4, 0, 4, 0, 2, 0, 4, 0, 82, 0, 8]);
    let mut ifdata = vec![0, 0, 0, 5];
    ifdata.extend(b"Gi0/1\0\0\0");
    let ifdata = set(301, &ifdata);
    let tpl = v9_tpl(302, &[(8, 4), (12, 4), (4, 1), (1, 4), (2, 4), (10, 2)]);
    let rec = [10, 0, 0, 1, 10, 0, 0, 2, 17, 0, 0, 0, 50, 0, 0, 0, 2, 0, 5];
    let d = v9_packet(1, 0, &[opt, opt_data, ifopt, ifdata, tpl, set(302, &rec)]);
    let out = decode(&mut Decoder::default(), &d);
    assert_eq!(out.stats.options_records, 2);
    let flow = out
        .events
        .iter()
        .find(|e| e.get_str(field::NETFLOW_TYPE) == Some("netflow_flow"))
        .unwrap();
    assert_eq!(flow.get(field::NETWORK_BYTES), Some(&Value::Int(5000)));
    assert_eq!(flow.get(field::NETWORK_PACKETS), Some(&Value::Int(200)));
    assert_eq!(flow.get(field::NETFLOW_RAW_BYTES), Some(&Value::Int(50)));
    assert_eq!(
        flow.get(field::NETFLOW_SAMPLING_RATE),
        Some(&Value::Int(100))
    );
    assert_eq!(
        flow.get_str(field::OBSERVER_INGRESS_INTERFACE_ID),
        Some("5")
    );
    assert_eq!(
        flow.get_str(field::OBSERVER_INGRESS_INTERFACE_NAME),
        Some("Gi0/1")
    );
    assert_eq!(
        flow.get_str(field::MESSAGE),
        Some("udp 10.0.0.1 -> 10.0.0.2 200 packets 5000 bytes")
    );
}

/// A Cisco ASA (NSEL) style record with NAT, a denied-flow event and a username, and a
/// PAN-OS style record with App-ID and User-ID: vendor fields get their names and fill the
/// ECS fields an analyst pivots on.
#[test]
fn firewall_vendor_fields_fill_nat_action_user_and_application() {
    let asa = v9_tpl(
        263,
        &[
            (8, 4),
            (12, 4),
            (7, 2),
            (11, 2),
            (4, 1),
            (225, 4),
            (227, 2),
            (226, 4),
            (228, 2),
            (233, 1),
            (33000, 12),
            (40000, 20),
        ],
    );
    let mut rec = vec![10, 1, 2, 3, 198, 51, 100, 7, 0xc3, 0x50, 0, 80, 6];
    rec.extend([203, 0, 113, 9, 0x75, 0x30]); // translated source 203.0.113.9:30000
    rec.extend([198, 51, 100, 7, 0, 80]); // destination not translated
    rec.push(3); // flow denied
    rec.extend([
        0x10, 0x21, 0x54, 0xc1, 0xd0, 0xe5, 0x80, 0x6e, 0x7e, 0x5a, 0xd9, 0x3b,
    ]);
    let mut user = b"nguyen.van.a".to_vec();
    user.resize(20, 0);
    rec.extend(user);
    let pan = v9_tpl(257, &[(8, 4), (12, 4), (4, 1), (56701, 32), (56702, 64)]);
    let mut prec = vec![10, 9, 9, 9, 8, 8, 8, 8, 17];
    let (mut app, mut uid) = (b"dns".to_vec(), b"corp\\tran.b".to_vec());
    app.resize(32, 0);
    uid.resize(64, 0);
    prec.extend(app);
    prec.extend(uid);
    let d = v9_packet(1, 0, &[asa, set(263, &rec), pan, set(257, &prec)]);
    let out = decode(&mut Decoder::default(), &d);
    assert_eq!(out.stats.records, 2, "{out:?}");
    let (a, p) = (&out.events[0], &out.events[1]);
    assert_eq!(
        a.get(field::SOURCE_NAT_IP),
        Some(&Value::Ip("203.0.113.9".parse().unwrap()))
    );
    assert_eq!(a.get(field::SOURCE_NAT_PORT), Some(&Value::Int(30000)));
    assert_eq!(
        a.get(field::DESTINATION_NAT_IP),
        None,
        "same as destination.ip"
    );
    assert_eq!(a.get(field::DESTINATION_NAT_PORT), None);
    assert_eq!(a.get_str(field::EVENT_ACTION), Some("flow-denied"));
    assert_eq!(a.get_str(field::USER_NAME), Some("nguyen.van.a"));
    assert_eq!(
        a.get_str("netflow.cisco_asa.username"),
        Some("nguyen.van.a")
    );
    assert_eq!(
        a.get_str("netflow.cisco_asa.ingress_acl_id"),
        Some("102154c1-d0e5806e-7e5ad93b")
    );
    assert_eq!(
        a.get_str(field::MESSAGE),
        Some("tcp 10.1.2.3:50000 -> 198.51.100.7:80 (flow-denied)")
    );
    assert_eq!(p.get_str(field::NETWORK_APPLICATION), Some("dns"));
    assert_eq!(p.get_str("netflow.paloalto.app_id"), Some("dns"));
    assert_eq!(p.get_str(field::USER_NAME), Some("corp\\tran.b"));
    assert_eq!(p.get(field::EVENT_ACTION), None);
}

/// NetScaler AppFlow and Barracuda IPFIX records: enterprise elements get their vendor names,
/// and the HTTP transaction and the firewall rule fill the ECS fields web server logs use.
#[test]
fn enterprise_elements_are_named_and_fill_http_and_rule_fields() {
    const NS: u32 = 5951;
    const BARRACUDA: u32 = 10704;
    let varlen = |out: &mut Vec<u8>, text: &str| {
        out.push(text.len() as u8);
        out.extend(text.as_bytes());
    };
    let ns = template_record(
        256,
        &[
            (8, 0, 4),
            (12, 0, 4),
            (4, 0, 1),
            (130, NS, VARLEN),
            (141, NS, VARLEN),
            (142, NS, VARLEN),
            (143, NS, VARLEN),
            (144, NS, 2),
            (190, NS, VARLEN),
        ],
    );
    let mut rec = vec![10, 0, 0, 5, 203, 0, 113, 80, 6];
    for text in [
        "/login?next=/admin",
        "POST",
        "portal.example.vn:8443",
        "curl/8.5.0",
    ] {
        varlen(&mut rec, text);
    }
    rec.extend([0x01, 0x91]); // 401
    varlen(&mut rec, "198.51.100.23");
    let fw = template_record(
        257,
        &[
            (8, 0, 4),
            (12, 0, 4),
            (4, BARRACUDA, VARLEN),
            (7, BARRACUDA, VARLEN),
            (8, BARRACUDA, 4),
        ],
    );
    let mut frec = vec![10, 0, 0, 6, 192, 0, 2, 10];
    varlen(&mut frec, "LAN-2-INTERNET");
    varlen(&mut frec, "Normal Operation");
    frec.extend([203, 0, 113, 1]);
    let d = ipfix_message(
        1,
        0,
        &[set(2, &ns), set(256, &rec), set(2, &fw), set(257, &frec)],
    );
    let out = decode(&mut Decoder::default(), &d);
    assert_eq!(
        (out.stats.records, out.stats.decode_errors),
        (2, 0),
        "{out:?}"
    );
    let (n, b) = (&out.events[0], &out.events[1]);
    assert_eq!(n.get_str(field::URL_ORIGINAL), Some("/login?next=/admin"));
    assert_eq!(
        n.get_str("netflow.netscaler.http_req_url"),
        Some("/login?next=/admin")
    );
    assert_eq!(n.get_str(field::URL_PATH), Some("/login"));
    assert_eq!(n.get_str(field::URL_QUERY), Some("next=/admin"));
    assert_eq!(n.get_str(field::HTTP_REQUEST_METHOD), Some("POST"));
    assert_eq!(
        n.get_str("netflow.netscaler.http_req_host"),
        Some("portal.example.vn:8443")
    );
    assert_eq!(n.get_str(field::URL_DOMAIN), Some("portal.example.vn"));
    assert_eq!(n.get_str(field::USER_AGENT_ORIGINAL), Some("curl/8.5.0"));
    assert_eq!(
        n.get(field::HTTP_RESPONSE_STATUS_CODE),
        Some(&Value::Int(401))
    );
    assert_eq!(
        n.get_str("netflow.netscaler.http_req_x_forwarded_for"),
        Some("198.51.100.23")
    );
    assert_eq!(b.get_str(field::RULE_NAME), Some("LAN-2-INTERNET"));
    assert_eq!(
        b.get_str("netflow.barracuda.reason_text"),
        Some("Normal Operation")
    );
    assert_eq!(
        b.get("netflow.barracuda.bind_ipv4_address"),
        Some(&Value::Ip("203.0.113.1".parse().unwrap()))
    );
    assert!(
        !b.fields.keys().any(|k| k.starts_with("netflow.pen")),
        "{:?}",
        b.fields.keys()
    );
}

#[test]
fn ipfix_withdrawal_and_sequence_gaps() {
    // 4-byte records: protocol, class of service, source port
    let specs = [(4u16, 0u32, 1u16), (5, 0, 1), (7, 0, 2)];
    let tpl = set(2, &template_record(300, &specs));
    let mut dec = Decoder::default();
    let two = [6, 0, 0, 80, 17, 0, 0, 53];
    let out = decode(&mut dec, &ipfix_message(10, 1, &[tpl, set(300, &two)]));
    assert_eq!(out.stats.records, 2);
    // two data records sent: the next message should say 12; it says 15 → 3 lost
    let out = decode(&mut dec, &ipfix_message(15, 1, &[set(300, &two[..4])]));
    assert_eq!(out.stats.sequence_gaps, 3);
    // withdraw template 300: its data now waits
    let out = decode(&mut dec, &ipfix_message(16, 1, &[set(2, &[1, 44, 0, 0])]));
    assert_eq!(out.stats.template_withdrawals, 1);
    let out = decode(&mut dec, &ipfix_message(16, 1, &[set(300, &two[..4])]));
    assert_eq!((out.stats.records, out.stats.template_misses), (0, 1));
    // "withdraw all" (template id 2) on another domain does not touch domain 1's state
    let out = decode(&mut dec, &ipfix_message(1, 2, &[set(2, &[0, 2, 0, 0])]));
    assert_eq!(out.stats.template_withdrawals, 0);
}
