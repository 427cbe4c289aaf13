//! One decoded record (its field values, split by a template) → one [`Event`].
//!
//! Flow records get ECS fields (`source.ip`, `network.bytes`, `event.start` …) and keep every
//! other element as `netflow.<name>`. Byte and packet counters also stay under their element
//! names, as exported: `network.bytes`/`network.packets` are the best delta counter (else a
//! total), plus the reverse direction of RFC 5103 biflows or initiator + responder counters,
//! scaled by the sampling rate. Options records keep every element as `netflow.<name>` and
//! teach the exporter's state what they say: sampling rates, interface names and the
//! exporter's boot time ([`learn_options`]).

use std::net::{IpAddr, SocketAddr};

use canh_core::{Dataset, Event, Origin, Value, field};
use chrono::{DateTime, Duration, Utc};

use super::fields::{self, Kind, REVERSE_PEN, id};
use super::templates::{
    ExporterOptions, FieldSpec, Header, MAX_INTERFACE_NAME_LEN, MAX_OPTION_ENTRIES_PER_EXPORTER,
    Rate, Template,
};

/// `netflow.type` of flow records.
pub const TYPE_FLOW: &str = "netflow_flow";
/// `netflow.type` of options records.
pub const TYPE_OPTIONS: &str = "netflow_options";

/// Where a record came from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub exporter: SocketAddr,
    pub received: DateTime<Utc>,
    pub listener: &'a str,
    pub header: &'a Header,
    pub template_id: u16,
}

fn netflow(name: &str) -> String {
    let mut s = String::with_capacity(field::NETFLOW_PREFIX.len() + name.len());
    s.push_str(field::NETFLOW_PREFIX);
    s.push_str(name);
    s
}

/// The event every record starts from: origin, exporter, version and domain.
fn base(ctx: &Ctx<'_>, raw: &[u8], kind: &str) -> Event {
    let mut ev = Event::new(
        Dataset::Netflow,
        Origin::new(ctx.listener, Some(ctx.exporter)),
        ctx.received,
        raw.to_vec(),
    );
    ev.timestamp = ctx.header.export_time;
    let h = ctx.header;
    ev.set(field::OBSERVER_IP, ctx.exporter.ip());
    ev.set(field::NETFLOW_VERSION, h.version);
    ev.set(field::NETFLOW_TYPE, kind);
    match h.version {
        5 => {
            ev.set(field::NETFLOW_ENGINE_TYPE, (h.domain >> 8) as u8);
            ev.set(field::NETFLOW_ENGINE_ID, h.domain as u8);
        }
        9 => {
            ev.set(field::NETFLOW_SOURCE_ID, h.domain);
            ev.set(field::NETFLOW_TEMPLATE_ID, ctx.template_id);
        }
        _ => {
            ev.set(field::NETFLOW_OBSERVATION_DOMAIN_ID, h.domain);
            ev.set(field::NETFLOW_TEMPLATE_ID, ctx.template_id);
        }
    }
    ev
}

/// The name (after `netflow.`) and kind of field `k` of `tpl` in a record of `version`.
fn name_of(version: u16, tpl: &Template, k: usize, spec: &FieldSpec) -> (String, Kind) {
    if version == 9
        && k < tpl.scope_fields
        && let Some(n) = fields::v9_scope_name(spec.id)
    {
        return (netflow(n), Kind::Unsigned);
    }
    let (n, kind) = fields::name_and_kind(spec.id, spec.pen);
    (netflow(&n), kind)
}

/// Sets `netflow.<name>` from the raw bytes, unless an earlier field of the record set it.
fn generic(ev: &mut Event, name: String, kind: Kind, v: &[u8]) {
    if let Some(value) = fields::decode(kind, v) {
        ev.fields.entry(name).or_insert(value);
    }
}

/// Counters that measure the same thing, best first: the first present is `network.bytes`.
const BYTE_COUNTERS: [u16; 4] = [
    id::OCTET_DELTA_COUNT,
    id::POST_OCTET_DELTA_COUNT,
    id::LAYER2_OCTET_DELTA_COUNT,
    id::OCTET_TOTAL_COUNT,
];
const PACKET_COUNTERS: [u16; 3] = [
    id::PACKET_DELTA_COUNT,
    id::POST_PACKET_DELTA_COUNT,
    id::PACKET_TOTAL_COUNT,
];

/// What a flow record says, gathered before the event is finished.
#[derive(Debug, Default)]
struct Flow {
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    src_port: Option<u64>,
    dst_port: Option<u64>,
    proto: Option<u8>,
    /// (counter id, value): candidates for network.bytes / packets.
    byte_counters: Vec<(u16, u64)>,
    packet_counters: Vec<(u16, u64)>,
    initiator_octets: u64,
    responder_octets: u64,
    initiator_packets: u64,
    responder_packets: u64,
    split_octets: bool,
    split_packets: bool,
    /// (counter id, value) of RFC 5103 reverse counters.
    reverse_bytes: Vec<(u16, u64)>,
    reverse_packets: Vec<(u16, u64)>,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    start_uptime: Option<u32>,
    end_uptime: Option<u32>,
    start_delta_us: Option<u64>,
    end_delta_us: Option<u64>,
    duration_ms: Option<u64>,
    sys_init_ms: Option<i64>,
    own_rate: Option<Rate>,
    packet_interval: Option<u64>,
    packet_space: Option<u64>,
    sampling_size: Option<u64>,
    sampling_population: Option<u64>,
    sampler: Option<u64>,
}

/// Puts an address in an ECS slot; returns it back when the slot already holds a real one.
fn put_addr(slot: &mut Option<IpAddr>, ip: IpAddr) -> Option<IpAddr> {
    match slot {
        Some(cur) if !cur.is_unspecified() || ip.is_unspecified() => Some(ip),
        _ => {
            *slot = Some(ip);
            None
        }
    }
}

fn ts_of_millis(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

/// A sysUpTime-relative stamp (v5, v9) as an instant: the exporter's clock at export minus
/// the (wrapping, signed) distance back to the stamp, as nfdump computes it.
fn from_uptime(h: &Header, stamp: u32) -> Option<DateTime<Utc>> {
    let up = h.sys_uptime_ms?;
    let back = i64::from(up.wrapping_sub(stamp) as i32);
    h.export_time
        .checked_sub_signed(Duration::milliseconds(back))
}

/// Builds the event of one flow record. `values` are the record's field bytes, in template
/// order; `raw` is the whole record.
pub(crate) fn flow_event(
    ctx: &Ctx<'_>,
    tpl: &Template,
    values: &[&[u8]],
    raw: &[u8],
    opts: &ExporterOptions,
) -> Event {
    let mut ev = base(ctx, raw, TYPE_FLOW);
    let h = ctx.header;
    let mut f = Flow::default();
    for (k, (spec, v)) in tpl.fields.iter().zip(values).enumerate() {
        if v.is_empty() || (spec.id == id::PADDING_OCTETS && spec.pen == 0) {
            continue;
        }
        let (name, kind) = name_of(h.version, tpl, k, spec);
        if spec.pen == REVERSE_PEN {
            // RFC 5103 biflow: the reverse direction's counters add to the flow's totals
            match (spec.id, fields::be_uint(v)) {
                (c, Some(n)) if BYTE_COUNTERS.contains(&c) => f.reverse_bytes.push((c, n)),
                (c, Some(n)) if PACKET_COUNTERS.contains(&c) => f.reverse_packets.push((c, n)),
                _ => {}
            }
            generic(&mut ev, name, kind, v);
            continue;
        }
        if spec.pen != 0 {
            generic(&mut ev, name, kind, v);
            continue;
        }
        let uint = fields::be_uint(v);
        match (spec.id, uint) {
            (id::SOURCE_IPV4_ADDRESS | id::SOURCE_IPV6_ADDRESS, _) => {
                if let Some(ip) = fields::ip(v)
                    && put_addr(&mut f.src, ip).is_none()
                {
                    continue;
                }
            }
            (id::DESTINATION_IPV4_ADDRESS | id::DESTINATION_IPV6_ADDRESS, _) => {
                if let Some(ip) = fields::ip(v)
                    && put_addr(&mut f.dst, ip).is_none()
                {
                    continue;
                }
            }
            (id::SOURCE_TRANSPORT_PORT, Some(p)) if f.src_port.is_none() => {
                f.src_port = Some(p);
                continue;
            }
            (id::DESTINATION_TRANSPORT_PORT, Some(p)) if f.dst_port.is_none() => {
                f.dst_port = Some(p);
                continue;
            }
            (id::PROTOCOL_IDENTIFIER, Some(p)) if f.proto.is_none() && p <= 255 => {
                f.proto = Some(p as u8);
                continue;
            }
            (id::TCP_CONTROL_BITS, Some(bits)) => {
                let bits = bits as u16;
                ev.set(field::NETFLOW_TCP_CONTROL_BITS, bits);
                let names = fields::tcp_flag_names(bits);
                if !names.is_empty() {
                    ev.set(field::NETWORK_TCP_FLAGS, Value::List(names));
                }
                continue;
            }
            (id::INGRESS_INTERFACE, Some(i)) => {
                ev.set(field::OBSERVER_INGRESS_INTERFACE_ID, i.to_string());
                if let Some(n) = opts.if_names.get(&i) {
                    ev.set(field::OBSERVER_INGRESS_INTERFACE_NAME, n.as_str());
                }
                continue;
            }
            (id::EGRESS_INTERFACE, Some(i)) => {
                ev.set(field::OBSERVER_EGRESS_INTERFACE_ID, i.to_string());
                if let Some(n) = opts.if_names.get(&i) {
                    ev.set(field::OBSERVER_EGRESS_INTERFACE_NAME, n.as_str());
                }
                continue;
            }
            // counters stay under their own names too: network.* may be scaled or summed
            (c, Some(n)) if BYTE_COUNTERS.contains(&c) => f.byte_counters.push((c, n)),
            (c, Some(n)) if PACKET_COUNTERS.contains(&c) => f.packet_counters.push((c, n)),
            (id::INITIATOR_OCTETS, Some(n)) => {
                f.initiator_octets += n;
                f.split_octets = true;
            }
            (id::RESPONDER_OCTETS, Some(n)) => {
                f.responder_octets += n;
                f.split_octets = true;
            }
            (id::INITIATOR_PACKETS, Some(n)) => {
                f.initiator_packets += n;
                f.split_packets = true;
            }
            (id::RESPONDER_PACKETS, Some(n)) => {
                f.responder_packets += n;
                f.split_packets = true;
            }
            (id::FLOW_START_SYS_UP_TIME, Some(n)) => f.start_uptime = Some(n as u32),
            (id::FLOW_END_SYS_UP_TIME, Some(n)) => f.end_uptime = Some(n as u32),
            (id::FLOW_START_DELTA_MICROSECONDS, Some(n)) => f.start_delta_us = Some(n),
            (id::FLOW_END_DELTA_MICROSECONDS, Some(n)) => f.end_delta_us = Some(n),
            (id::FLOW_DURATION_MILLISECONDS, Some(n)) => f.duration_ms = Some(n),
            (id::FLOW_DURATION_MICROSECONDS, Some(n)) => f.duration_ms = Some(n / 1000),
            (id::SYSTEM_INIT_TIME_MILLISECONDS, Some(n)) => {
                f.sys_init_ms = i64::try_from(n).ok();
            }
            (id::SAMPLING_INTERVAL | id::SAMPLER_RANDOM_INTERVAL, Some(n)) => {
                f.own_rate = f.own_rate.or(Rate::one_in(n));
            }
            (id::SAMPLING_PACKET_INTERVAL, n) => f.packet_interval = n,
            (id::SAMPLING_PACKET_SPACE, n) => f.packet_space = n,
            (id::SAMPLING_SIZE, n) => f.sampling_size = n,
            (id::SAMPLING_POPULATION, n) => f.sampling_population = n,
            (id::SAMPLER_ID | id::SELECTOR_ID, n) => f.sampler = n,
            (
                id::FLOW_START_SECONDS
                | id::FLOW_START_MILLISECONDS
                | id::FLOW_START_MICROSECONDS
                | id::FLOW_START_NANOSECONDS,
                _,
            ) => f.start = f.start.or(fields::time_of(kind, v)),
            (
                id::FLOW_END_SECONDS
                | id::FLOW_END_MILLISECONDS
                | id::FLOW_END_MICROSECONDS
                | id::FLOW_END_NANOSECONDS,
                _,
            ) => f.end = f.end.or(fields::time_of(kind, v)),
            _ => {}
        }
        generic(&mut ev, name, kind, v);
    }
    finish_flow(&mut ev, ctx, f, opts);
    ev
}

/// The rate from the record's own sampling elements, if any.
fn own_rate(f: &Flow) -> Option<Rate> {
    if f.own_rate.is_some() {
        return f.own_rate;
    }
    if let (Some(i), Some(s)) = (f.packet_interval, f.packet_space) {
        return Rate::ratio(i.saturating_add(s), i);
    }
    if let (Some(n), Some(p)) = (f.sampling_size, f.sampling_population) {
        return Rate::ratio(p, n);
    }
    None
}

/// Counters that are totals since the flow began; used only when no delta counter is there.
const TOTAL_COUNTERS: [u16; 2] = [id::OCTET_TOTAL_COUNT, id::PACKET_TOTAL_COUNT];

/// The value of the best counter of `order` present: the first delta counter in that order
/// that is not zero (v9 exporters fill IN_BYTES or OUT_BYTES, ids 1 and 23, depending on the
/// direction they saw), else the first delta counter, else a total.
fn best_counter(found: &mut [(u16, u64)], order: &[u16]) -> Option<u64> {
    found.sort_by_key(|(c, _)| order.iter().position(|o| o == c));
    let mut deltas = found.iter().filter(|(c, _)| !TOTAL_COUNTERS.contains(c));
    let first_delta = deltas.clone().next();
    deltas
        .find(|(_, n)| *n != 0)
        .or(first_delta)
        .or(found.first())
        .map(|(_, n)| *n)
}

fn finish_flow(ev: &mut Event, ctx: &Ctx<'_>, mut f: Flow, opts: &ExporterOptions) {
    let h = ctx.header;
    // counters: the best measure of each is network.*, the others stay as netflow.*
    let mut raw_bytes = best_counter(&mut f.byte_counters, &BYTE_COUNTERS);
    let mut raw_packets = best_counter(&mut f.packet_counters, &PACKET_COUNTERS);
    if raw_bytes.is_none() && f.split_octets {
        raw_bytes = Some(f.initiator_octets.saturating_add(f.responder_octets));
    }
    if raw_packets.is_none() && f.split_packets {
        raw_packets = Some(f.initiator_packets.saturating_add(f.responder_packets));
    }
    if let Some(n) = best_counter(&mut f.reverse_bytes, &BYTE_COUNTERS) {
        raw_bytes = Some(raw_bytes.unwrap_or(0).saturating_add(n));
    }
    if let Some(n) = best_counter(&mut f.reverse_packets, &PACKET_COUNTERS) {
        raw_packets = Some(raw_packets.unwrap_or(0).saturating_add(n));
    }
    let rate = own_rate(&f)
        .or_else(|| f.sampler.and_then(|s| opts.samplers.get(&s).copied()))
        .or(opts.default_rate)
        .or_else(|| h.v5_sampling.and_then(|(_, n)| Rate::one_in(u64::from(n))));
    let (mut bytes, mut packets) = (raw_bytes, raw_packets);
    if let Some(r) = rate {
        bytes = bytes.map(|b| r.apply(b));
        packets = packets.map(|p| r.apply(p));
        if let Some(b) = raw_bytes {
            ev.set(field::NETFLOW_RAW_BYTES, fields::uint_value(b));
        }
        if let Some(p) = raw_packets {
            ev.set(field::NETFLOW_RAW_PACKETS, fields::uint_value(p));
        }
        if r.den == 1 {
            ev.set(field::NETFLOW_SAMPLING_RATE, fields::uint_value(r.num));
        } else {
            ev.set(field::NETFLOW_SAMPLING_RATE, r.num as f64 / r.den as f64);
        }
    }
    if let Some(b) = bytes {
        ev.set(field::NETWORK_BYTES, fields::uint_value(b));
    }
    if let Some(p) = packets {
        ev.set(field::NETWORK_PACKETS, fields::uint_value(p));
    }

    if let Some(ip) = f.src {
        ev.set(field::SOURCE_IP, ip);
    }
    if let Some(ip) = f.dst {
        ev.set(field::DESTINATION_IP, ip);
    }
    if let Some(p) = f.src_port {
        ev.set(field::SOURCE_PORT, fields::uint_value(p));
    }
    if let Some(p) = f.dst_port {
        ev.set(field::DESTINATION_PORT, fields::uint_value(p));
    }
    if let Some(p) = f.proto {
        ev.set(field::NETWORK_IANA_NUMBER, p.to_string());
        if let Some(n) = fields::transport_name(p) {
            ev.set(field::NETWORK_TRANSPORT, n);
        }
    }
    let family = f.src.or(f.dst).map(|ip| ip.is_ipv6()).or_else(|| {
        match ev.get("netflow.ip_version").and_then(Value::as_i64) {
            Some(4) => Some(false),
            Some(6) => Some(true),
            _ => None,
        }
    });
    if let Some(v6) = family {
        ev.set(field::NETWORK_TYPE, if v6 { "ipv6" } else { "ipv4" });
    }

    // times: absolute elements first, then sysUpTime-relative, then deltas from export time
    let sys_init = f.sys_init_ms.or(opts.sys_init_ms);
    let rel = |stamp: u32| -> Option<DateTime<Utc>> {
        if h.sys_uptime_ms.is_some() {
            from_uptime(h, stamp)
        } else {
            sys_init.and_then(|b| ts_of_millis(b + i64::from(stamp)))
        }
    };
    let delta = |us: u64| -> Option<DateTime<Utc>> {
        h.export_time
            .checked_sub_signed(Duration::microseconds(i64::try_from(us).ok()?))
    };
    let mut start = f
        .start
        .or_else(|| f.start_uptime.and_then(rel))
        .or_else(|| f.start_delta_us.and_then(delta));
    let mut end = f
        .end
        .or_else(|| f.end_uptime.and_then(rel))
        .or_else(|| f.end_delta_us.and_then(delta));
    if let Some(d) = f.duration_ms.and_then(|d| i64::try_from(d).ok()) {
        let d = Duration::milliseconds(d);
        match (start, end) {
            (Some(s), None) => end = s.checked_add_signed(d),
            (None, Some(e)) => start = e.checked_sub_signed(d),
            _ => {}
        }
    }
    if let Some(s) = start {
        ev.set(field::EVENT_START, fields::rfc3339(s));
    }
    if let Some(e) = end {
        ev.set(field::EVENT_END, fields::rfc3339(e));
    }
    if let (Some(s), Some(e)) = (start, end)
        && let Some(ns) = (e - s).num_nanoseconds()
        && ns >= 0
    {
        ev.set(field::EVENT_DURATION, ns);
    }
    if let Some(t) = end.or(start) {
        ev.timestamp = t;
    }
    ev.set(field::MESSAGE, summary(ev, &f, bytes, packets));
}

fn endpoint(ip: Option<IpAddr>, port: Option<u64>) -> String {
    match (ip, port) {
        (Some(IpAddr::V6(a)), Some(p)) => format!("[{a}]:{p}"),
        (Some(a), Some(p)) => format!("{a}:{p}"),
        (Some(a), None) => a.to_string(),
        (None, _) => "?".to_owned(),
    }
}

/// `tcp 10.0.0.1:51514 -> 203.0.113.5:443 12 packets 3456 bytes`.
fn summary(ev: &Event, f: &Flow, bytes: Option<u64>, packets: Option<u64>) -> String {
    let proto = ev
        .get_str(field::NETWORK_TRANSPORT)
        .map(str::to_owned)
        .or_else(|| f.proto.map(|p| format!("proto {p}")))
        .unwrap_or_else(|| "flow".to_owned());
    let ports = matches!(f.proto, Some(6 | 17 | 132 | 33 | 136));
    let (sp, dp) = if ports {
        (f.src_port, f.dst_port)
    } else {
        (None, None)
    };
    let mut s = format!("{proto} {} -> {}", endpoint(f.src, sp), endpoint(f.dst, dp));
    if let Some(p) = packets {
        s.push_str(&format!(" {p} packets"));
    }
    if let Some(b) = bytes {
        s.push_str(&format!(" {b} bytes"));
    }
    s
}

/// Builds the event of one options record and remembers what it says in `opts`.
pub(crate) fn options_event(
    ctx: &Ctx<'_>,
    tpl: &Template,
    values: &[&[u8]],
    raw: &[u8],
    opts: &mut ExporterOptions,
) -> Event {
    let mut ev = base(ctx, raw, TYPE_OPTIONS);
    let h = ctx.header;
    for (k, (spec, v)) in tpl.fields.iter().zip(values).enumerate() {
        if v.is_empty() || (spec.id == id::PADDING_OCTETS && spec.pen == 0) {
            continue;
        }
        let (name, kind) = name_of(h.version, tpl, k, spec);
        generic(&mut ev, name, kind, v);
    }
    let learned = learn_options(h.version, tpl, values, opts);
    let mut msg = format!(
        "netflow v{} options record (template {})",
        h.version, ctx.template_id
    );
    if !learned.is_empty() {
        msg.push_str(": ");
        msg.push_str(&learned.join(", "));
    }
    ev.set(field::MESSAGE, msg);
    ev
}

/// Reads sampling rates, interface names and the boot time from an options record into the
/// exporter's state. Returns what was learned, as text for the event's message.
pub(crate) fn learn_options(
    version: u16,
    tpl: &Template,
    values: &[&[u8]],
    opts: &mut ExporterOptions,
) -> Vec<String> {
    let mut learned = Vec::new();
    let (mut ifindex, mut if_name, mut if_desc) = (None, None, None);
    let (mut sampler, mut one_in) = (None, None);
    let (mut p_int, mut p_space, mut size, mut pop) = (None, None, None, None);
    for (k, (spec, v)) in tpl.fields.iter().zip(values).enumerate() {
        if spec.pen != 0 || v.is_empty() {
            continue;
        }
        let n = fields::be_uint(v);
        let v9_scope = version == 9 && k < tpl.scope_fields;
        match (v9_scope, spec.id) {
            (true, 2) => ifindex = ifindex.or(n),
            (true, _) => {}
            (false, id::INGRESS_INTERFACE | id::EGRESS_INTERFACE) => ifindex = ifindex.or(n),
            (false, id::INTERFACE_NAME) => if_name = Some(*v),
            (false, id::INTERFACE_DESCRIPTION) => if_desc = Some(*v),
            (false, id::SAMPLER_ID | id::SELECTOR_ID) => sampler = sampler.or(n),
            (false, id::SAMPLING_INTERVAL | id::SAMPLER_RANDOM_INTERVAL) => {
                one_in = one_in.or(n);
            }
            (false, id::SAMPLING_PACKET_INTERVAL) => p_int = n,
            (false, id::SAMPLING_PACKET_SPACE) => p_space = n,
            (false, id::SAMPLING_SIZE) => size = n,
            (false, id::SAMPLING_POPULATION) => pop = n,
            (false, id::SYSTEM_INIT_TIME_MILLISECONDS) => {
                if let Some(ms) = n.and_then(|n| i64::try_from(n).ok()) {
                    opts.sys_init_ms = Some(ms);
                    learned.push(format!("exporter booted at {ms} ms"));
                }
            }
            _ => {}
        }
    }
    let rate = one_in
        .and_then(Rate::one_in)
        .or_else(|| Some(Rate::ratio(p_int?.saturating_add(p_space?), p_int?)).flatten())
        .or_else(|| Some(Rate::ratio(pop?, size?)).flatten());
    let full = opts.samplers.len() + opts.if_names.len() >= MAX_OPTION_ENTRIES_PER_EXPORTER;
    if let Some(r) = rate {
        match sampler {
            Some(s) if !full || opts.samplers.contains_key(&s) => {
                opts.samplers.insert(s, r);
                learned.push(format!("sampler {s} rate {}/{}", r.num, r.den));
            }
            Some(_) => {}
            None => {
                opts.default_rate = Some(r);
                learned.push(format!("sampling rate {}/{}", r.num, r.den));
            }
        }
    } else if one_in.is_some() && sampler.is_none() {
        // an interval of 0 or 1: the exporter says it does not sample (any more)
        opts.default_rate = None;
    }
    if let (Some(i), Some(name)) = (ifindex, if_name.or(if_desc)) {
        let end = name.iter().rposition(|&c| c != 0).map_or(0, |p| p + 1);
        let name = &name[..end.min(MAX_INTERFACE_NAME_LEN)];
        if !name.is_empty() && (!full || opts.if_names.contains_key(&i)) {
            let name = String::from_utf8_lossy(name).into_owned();
            learned.push(format!("interface {i} is {name}"));
            opts.if_names.insert(i, name);
        }
    }
    learned
}
