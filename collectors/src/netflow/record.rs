//! One decoded record (its field values, split by a template) → one [`Event`].
//!
//! Flow records get ECS fields (`source.ip`, `network.bytes`, `event.start` …) and keep every
//! other element as `netflow.<name>`. Byte and packet counters also stay under their element
//! names, as exported: `network.bytes`/`network.packets` are the best delta counter (else a
//! total), plus the reverse direction of RFC 5103 biflows or initiator + responder counters,
//! scaled by the sampling rate. Options records keep every element as `netflow.<name>` and
//! teach the exporter's state what they say: sampling rates, interface names and the
//! exporter's boot time ([`learn_options`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use canh_core::{Dataset, Event, Origin, Value, field};
use chrono::{DateTime, Utc};

use super::fields::{self, Kind, REVERSE_PEN, id};
use super::templates::{
    ExporterOptions, FieldSpec, Header, MAX_INTERFACE_NAME_LEN, MAX_OPTION_ENTRIES_PER_EXPORTER,
    MAX_TEMPLATE_FIELDS, Rate, Template,
};
use super::{be16, be32};

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

/// What one flow record says in ECS terms, resolved from its elements and the exporter's
/// options (sampling, boot time): the typed stage of decoding, before the record becomes an
/// [`Event`]. [`Decoder::decode_flows`](super::Decoder::decode_flows) hands these out without
/// building events; [`Decoder::decode`](super::Decoder::decode) builds the event from one.
///
/// The record is compact (144 bytes, no `Option` per slot): values sit at their natural width
/// and one bit set says which are there, so the v5 path rewrites only the dozen slots a v5
/// record fills (see [`V5Packet`]). Read it through its methods; `None` means the record did
/// not say.
#[derive(Default, Clone, Copy)]
pub struct FlowRecord {
    /// Addresses as their bytes: an IPv4 address in the first 4 (the rest zero).
    src: [u8; 16],
    dst: [u8; 16],
    nat_src: [u8; 16],
    nat_dst: [u8; 16],
    /// The counters as exported, before sampling.
    raw_bytes: u64,
    raw_packets: u64,
    start_ns: i64,
    end_ns: i64,
    ingress: u64,
    egress: u64,
    /// The sampling rate as `num / den`; `den == 0`: no sampling applied.
    rate_num: u64,
    rate_den: u64,
    src_port: u16,
    dst_port: u16,
    nat_src_port: u16,
    nat_dst_port: u16,
    tcp_flags: u16,
    protocol: u8,
    firewall_event: u8,
    /// Which slots hold a value ([`has`] bits).
    has: u32,
}

/// Bits of [`FlowRecord::has`].
mod has {
    pub const SRC: u32 = 1;
    pub const SRC_V6: u32 = 1 << 1;
    pub const DST: u32 = 1 << 2;
    pub const DST_V6: u32 = 1 << 3;
    pub const NAT_SRC: u32 = 1 << 4;
    pub const NAT_SRC_V6: u32 = 1 << 5;
    pub const NAT_DST: u32 = 1 << 6;
    pub const NAT_DST_V6: u32 = 1 << 7;
    pub const SRC_PORT: u32 = 1 << 8;
    pub const DST_PORT: u32 = 1 << 9;
    pub const NAT_SRC_PORT: u32 = 1 << 10;
    pub const NAT_DST_PORT: u32 = 1 << 11;
    pub const PROTOCOL: u32 = 1 << 12;
    pub const BYTES: u32 = 1 << 13;
    pub const PACKETS: u32 = 1 << 14;
    pub const START: u32 = 1 << 15;
    pub const END: u32 = 1 << 16;
    pub const TCP_FLAGS: u32 = 1 << 17;
    pub const INGRESS: u32 = 1 << 18;
    pub const EGRESS: u32 = 1 << 19;
    pub const FIREWALL_EVENT: u32 = 1 << 20;
    /// The IP version is known ([`IPV6`] says which).
    pub const IP_VERSION: u32 = 1 << 21;
    pub const IPV6: u32 = 1 << 22;
}

/// An address slot's bytes.
fn addr_bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => {
            let mut b = [0; 16];
            b[..4].copy_from_slice(&a.octets());
            b
        }
        IpAddr::V6(a) => a.octets(),
    }
}

impl FlowRecord {
    #[inline]
    fn is(&self, bit: u32) -> bool {
        self.has & bit != 0
    }

    #[inline]
    fn when<T>(&self, bit: u32, v: T) -> Option<T> {
        self.is(bit).then_some(v)
    }

    #[inline]
    fn addr(&self, bit: u32, v6: u32, b: &[u8; 16]) -> Option<IpAddr> {
        if !self.is(bit) {
            return None;
        }
        Some(if self.is(v6) {
            IpAddr::V6(Ipv6Addr::from(*b))
        } else {
            IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        })
    }

    fn put_addr(&mut self, bit: u32, v6: u32, ip: Option<IpAddr>) -> [u8; 16] {
        self.has &= !(bit | v6);
        let Some(ip) = ip else { return [0; 16] };
        self.has |= bit | if ip.is_ipv6() { v6 } else { 0 };
        addr_bytes(ip)
    }

    fn put<T: Default>(&mut self, bit: u32, v: Option<T>) -> T {
        match v {
            Some(v) => {
                self.has |= bit;
                v
            }
            None => {
                self.has &= !bit;
                T::default()
            }
        }
    }

    #[inline]
    pub fn source_ip(&self) -> Option<IpAddr> {
        self.addr(has::SRC, has::SRC_V6, &self.src)
    }

    #[inline]
    pub fn destination_ip(&self) -> Option<IpAddr> {
        self.addr(has::DST, has::DST_V6, &self.dst)
    }

    #[inline]
    pub fn source_port(&self) -> Option<u16> {
        self.when(has::SRC_PORT, self.src_port)
    }

    #[inline]
    pub fn destination_port(&self) -> Option<u16> {
        self.when(has::DST_PORT, self.dst_port)
    }

    /// IANA protocol number.
    #[inline]
    pub fn protocol(&self) -> Option<u8> {
        self.when(has::PROTOCOL, self.protocol)
    }

    /// `network.bytes`: the best byte counter (both directions of a biflow summed), scaled
    /// by [`FlowRecord::rate`].
    #[inline]
    pub fn bytes(&self) -> Option<u64> {
        self.raw_bytes().map(|n| self.scaled(n))
    }

    /// `network.packets`, as [`FlowRecord::bytes`].
    #[inline]
    pub fn packets(&self) -> Option<u64> {
        self.raw_packets().map(|n| self.scaled(n))
    }

    #[inline]
    fn scaled(&self, n: u64) -> u64 {
        self.rate().map_or(n, |r| r.apply(n))
    }

    /// The byte counter as exported, before sampling.
    #[inline]
    pub fn raw_bytes(&self) -> Option<u64> {
        self.when(has::BYTES, self.raw_bytes)
    }

    #[inline]
    pub fn raw_packets(&self) -> Option<u64> {
        self.when(has::PACKETS, self.raw_packets)
    }

    /// The sampling rate that applied, if any.
    #[inline]
    pub fn rate(&self) -> Option<Rate> {
        (self.rate_den != 0).then_some(Rate {
            num: self.rate_num,
            den: self.rate_den,
        })
    }

    /// `event.start`, in nanoseconds since the Unix epoch.
    #[inline]
    pub fn start_ns(&self) -> Option<i64> {
        self.when(has::START, self.start_ns)
    }

    /// `event.end`, in nanoseconds since the Unix epoch.
    #[inline]
    pub fn end_ns(&self) -> Option<i64> {
        self.when(has::END, self.end_ns)
    }

    #[inline]
    pub fn start(&self) -> Option<DateTime<Utc>> {
        self.start_ns().map(DateTime::from_timestamp_nanos)
    }

    #[inline]
    pub fn end(&self) -> Option<DateTime<Utc>> {
        self.end_ns().map(DateTime::from_timestamp_nanos)
    }

    #[inline]
    pub fn tcp_flags(&self) -> Option<u16> {
        self.when(has::TCP_FLAGS, self.tcp_flags)
    }

    #[inline]
    pub fn ingress_interface(&self) -> Option<u64> {
        self.when(has::INGRESS, self.ingress)
    }

    #[inline]
    pub fn egress_interface(&self) -> Option<u64> {
        self.when(has::EGRESS, self.egress)
    }

    /// `true` for IPv6, `false` for IPv4 (from the addresses, else ipVersion).
    #[inline]
    pub fn ipv6(&self) -> Option<bool> {
        self.when(has::IP_VERSION, self.is(has::IPV6))
    }

    /// The translated (post-NAT) source address, where it differs from the flow's own.
    #[inline]
    pub fn source_nat_ip(&self) -> Option<IpAddr> {
        self.addr(has::NAT_SRC, has::NAT_SRC_V6, &self.nat_src)
    }

    #[inline]
    pub fn source_nat_port(&self) -> Option<u16> {
        self.when(has::NAT_SRC_PORT, self.nat_src_port)
    }

    #[inline]
    pub fn destination_nat_ip(&self) -> Option<IpAddr> {
        self.addr(has::NAT_DST, has::NAT_DST_V6, &self.nat_dst)
    }

    #[inline]
    pub fn destination_nat_port(&self) -> Option<u16> {
        self.when(has::NAT_DST_PORT, self.nat_dst_port)
    }

    /// firewallEvent (IANA 233, Cisco ASA 40005): 1 created, 2 deleted, 3 denied, 4 alert,
    /// 5 update.
    #[inline]
    pub fn firewall_event(&self) -> Option<u8> {
        self.when(has::FIREWALL_EVENT, self.firewall_event)
    }

    /// Everything the record says, as its methods say it (equality and `Debug` go by this,
    /// not by the bytes of empty slots).
    #[allow(clippy::type_complexity)]
    fn parts(
        &self,
    ) -> (
        [Option<IpAddr>; 4],
        [Option<u16>; 4],
        [Option<u64>; 6],
        [Option<i64>; 2],
        (
            Option<u8>,
            Option<u8>,
            Option<u16>,
            Option<bool>,
            Option<Rate>,
        ),
    ) {
        (
            [
                self.source_ip(),
                self.destination_ip(),
                self.source_nat_ip(),
                self.destination_nat_ip(),
            ],
            [
                self.source_port(),
                self.destination_port(),
                self.source_nat_port(),
                self.destination_nat_port(),
            ],
            [
                self.bytes(),
                self.packets(),
                self.raw_bytes(),
                self.raw_packets(),
                self.ingress_interface(),
                self.egress_interface(),
            ],
            [self.start_ns(), self.end_ns()],
            (
                self.protocol(),
                self.firewall_event(),
                self.tcp_flags(),
                self.ipv6(),
                self.rate(),
            ),
        )
    }
}

impl PartialEq for FlowRecord {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for FlowRecord {}

impl std::fmt::Debug for FlowRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowRecord")
            .field("source_ip", &self.source_ip())
            .field("destination_ip", &self.destination_ip())
            .field("source_port", &self.source_port())
            .field("destination_port", &self.destination_port())
            .field("protocol", &self.protocol())
            .field("bytes", &self.bytes())
            .field("packets", &self.packets())
            .field("raw_bytes", &self.raw_bytes())
            .field("raw_packets", &self.raw_packets())
            .field("rate", &self.rate())
            .field("start_ns", &self.start_ns())
            .field("end_ns", &self.end_ns())
            .field("tcp_flags", &self.tcp_flags())
            .field("ingress_interface", &self.ingress_interface())
            .field("egress_interface", &self.egress_interface())
            .field("ipv6", &self.ipv6())
            .field("source_nat_ip", &self.source_nat_ip())
            .field("source_nat_port", &self.source_nat_port())
            .field("destination_nat_ip", &self.destination_nat_ip())
            .field("destination_nat_port", &self.destination_nat_port())
            .field("firewall_event", &self.firewall_event())
            .finish()
    }
}

/// Words of the bit set of a template's fields.
const FIELD_WORDS: usize = MAX_TEMPLATE_FIELDS.div_ceil(64);

/// A resolved record, plus which of its fields went into ECS fields only (so the event does
/// not repeat them as `netflow.<name>`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resolved {
    pub flow: FlowRecord,
    consumed: [u64; FIELD_WORDS],
}

impl Resolved {
    fn consume(&mut self, k: usize) {
        if let Some(w) = self.consumed.get_mut(k / 64) {
            *w |= 1 << (k % 64);
        }
    }

    fn is_consumed(&self, k: usize) -> bool {
        self.consumed
            .get(k / 64)
            .is_some_and(|w| w & (1 << (k % 64)) != 0)
    }
}

/// Counters seen for one measure (bytes or packets), by rank in the measure's order of
/// preference: the first value of each rank and its first non-zero value.
#[derive(Debug, Clone, Copy)]
struct Counters<const N: usize> {
    first: [Option<u64>; N],
    nonzero: [Option<u64>; N],
}

impl<const N: usize> Default for Counters<N> {
    fn default() -> Self {
        Counters {
            first: [None; N],
            nonzero: [None; N],
        }
    }
}

impl<const N: usize> Counters<N> {
    fn add(&mut self, rank: usize, v: u64) {
        if rank < N {
            self.first[rank] = self.first[rank].or(Some(v));
            if v != 0 {
                self.nonzero[rank] = self.nonzero[rank].or(Some(v));
            }
        }
    }

    /// The first delta counter in order of preference that is not zero (v9 exporters fill
    /// IN_BYTES or OUT_BYTES, ids 1 and 23, depending on the direction they saw), else the
    /// first delta counter, else a total.
    fn best(&self, order: &[u16; N]) -> Option<u64> {
        let delta = |k: &usize| !TOTAL_COUNTERS.contains(&order[*k]);
        (0..N)
            .filter(delta)
            .find_map(|k| self.nonzero[k])
            .or_else(|| (0..N).filter(delta).find_map(|k| self.first[k]))
            .or_else(|| (0..N).find_map(|k| self.first[k]))
    }
}

/// What a flow record's elements say, gathered before the record is finished.
#[derive(Debug, Default)]
struct Flow {
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    src_port: Option<u16>,
    dst_port: Option<u16>,
    proto: Option<u8>,
    bytes: Counters<4>,
    packets: Counters<3>,
    initiator_octets: u64,
    responder_octets: u64,
    initiator_packets: u64,
    responder_packets: u64,
    split_octets: bool,
    split_packets: bool,
    /// RFC 5103 reverse counters.
    reverse_bytes: Counters<4>,
    reverse_packets: Counters<3>,
    start: Option<i64>,
    end: Option<i64>,
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
    tcp_flags: Option<u16>,
    ingress: Option<u64>,
    egress: Option<u64>,
    ip_version: Option<u64>,
    nat_src: Option<IpAddr>,
    nat_dst: Option<IpAddr>,
    nat_src_port: Option<u16>,
    nat_dst_port: Option<u16>,
    firewall_event: Option<u8>,
}

/// Puts an address in an ECS slot; returns it back when the slot already holds a real one.
#[inline(always)]
fn put_addr(slot: &mut Option<IpAddr>, ip: IpAddr) -> Option<IpAddr> {
    match slot {
        Some(cur) if !cur.is_unspecified() || ip.is_unspecified() => Some(ip),
        _ => {
            *slot = Some(ip);
            None
        }
    }
}

/// What resolving does with one field of a template, worked out once when the template is
/// learned so that each record's fields are dispatched without looking their ids up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Only an event field (`netflow.<name>`).
    Other,
    SrcAddr,
    DstAddr,
    SrcPort,
    DstPort,
    Proto,
    TcpFlags,
    Ingress,
    Egress,
    IpVersion,
    /// A byte or packet counter, with its rank in [`BYTE_COUNTERS`] / [`PACKET_COUNTERS`].
    Bytes(u8),
    Packets(u8),
    ReverseBytes(u8),
    ReversePackets(u8),
    InitiatorOctets,
    ResponderOctets,
    InitiatorPackets,
    ResponderPackets,
    StartUptime,
    EndUptime,
    StartDelta,
    EndDelta,
    DurationMs,
    DurationUs,
    SysInit,
    OwnRate,
    PacketInterval,
    PacketSpace,
    SamplingSize,
    SamplingPopulation,
    Sampler,
    Start(Kind),
    End(Kind),
    NatSrcAddr,
    NatDstAddr,
    NatSrcPort,
    NatDstPort,
    FirewallEvent,
    /// An element that resolving does not read but whose value also fills an ECS field.
    Also(Also),
}

impl Role {
    /// Whether [`resolve`] reads fields of this role (the template's plan holds only these).
    pub(crate) fn resolves(self) -> bool {
        !matches!(self, Role::Other | Role::Also(_))
    }
}

/// ECS fields that an element's value also fills (the element keeps its own name too):
/// user and application names of firewalls, and the HTTP transactions that NetScaler AppFlow,
/// Procera and Ixia export, under the names web server logs give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Also {
    /// Cisco ASA username, PAN-OS User-ID, NetScaler AAA user name.
    UserName,
    /// applicationName, PAN-OS App-ID.
    Application,
    UrlOriginal,
    UrlDomain,
    HttpMethod,
    HttpReferrer,
    UserAgent,
    /// A number: `http.response.status_code`.
    HttpStatus,
    /// Barracuda's firewall rule.
    RuleName,
}

impl Also {
    pub(crate) fn field(self) -> &'static str {
        match self {
            Also::UserName => field::USER_NAME,
            Also::Application => field::NETWORK_APPLICATION,
            Also::UrlOriginal => field::URL_ORIGINAL,
            Also::UrlDomain => field::URL_DOMAIN,
            Also::HttpMethod => field::HTTP_REQUEST_METHOD,
            Also::HttpReferrer => field::HTTP_REQUEST_REFERRER,
            Also::UserAgent => field::USER_AGENT_ORIGINAL,
            Also::HttpStatus => field::HTTP_RESPONSE_STATUS_CODE,
            Also::RuleName => field::RULE_NAME,
        }
    }
}

/// The host of an HTTP Host header: without its port (`[v6]:port` keeps the address).
fn host_of(host: &str) -> &str {
    match host.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or(host, |(addr, _)| addr),
        None => match host.rsplit_once(':') {
            Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        },
    }
}

/// Enterprise elements ([`fields::ENTERPRISE`]) that also fill an ECS field, sorted.
#[rustfmt::skip]
const ENTERPRISE_ALSO: &[(u32, u16, Also)] = &[
    (3054, 182, Also::UserAgent), (3054, 183, Also::UrlDomain), (3054, 184, Also::UrlOriginal),
    (5951, 130, Also::UrlOriginal), (5951, 140, Also::HttpReferrer),
    (5951, 141, Also::HttpMethod), (5951, 142, Also::UrlDomain), (5951, 143, Also::UserAgent),
    (5951, 144, Also::HttpStatus), (5951, 205, Also::UserName),
    (10704, 4, Also::RuleName),
    (15397, 18, Also::UrlDomain), (15397, 19, Also::HttpMethod), (15397, 20, Also::UserAgent),
    (15397, 22, Also::UrlOriginal), (15397, 23, Also::HttpReferrer),
    (15397, 24, Also::HttpStatus),
];

/// The role of a template field in flow records.
pub(crate) fn role_of(spec: &FieldSpec) -> Role {
    let counter = |order: &[u16], c: u16| order.iter().position(|&o| o == c).map(|k| k as u8);
    if spec.pen == REVERSE_PEN {
        return match (
            counter(&BYTE_COUNTERS, spec.id),
            counter(&PACKET_COUNTERS, spec.id),
        ) {
            (Some(k), _) => Role::ReverseBytes(k),
            (None, Some(k)) => Role::ReversePackets(k),
            _ => Role::Other,
        };
    }
    if spec.pen != 0 {
        return ENTERPRISE_ALSO
            .binary_search_by_key(&(spec.pen, spec.id), |&(p, i, _)| (p, i))
            .map_or(Role::Other, |k| Role::Also(ENTERPRISE_ALSO[k].2));
    }
    if let Some(k) = counter(&BYTE_COUNTERS, spec.id) {
        return Role::Bytes(k);
    }
    if let Some(k) = counter(&PACKET_COUNTERS, spec.id) {
        return Role::Packets(k);
    }
    match spec.id {
        id::SOURCE_IPV4_ADDRESS | id::SOURCE_IPV6_ADDRESS => Role::SrcAddr,
        id::DESTINATION_IPV4_ADDRESS | id::DESTINATION_IPV6_ADDRESS => Role::DstAddr,
        id::SOURCE_TRANSPORT_PORT => Role::SrcPort,
        id::DESTINATION_TRANSPORT_PORT => Role::DstPort,
        id::PROTOCOL_IDENTIFIER => Role::Proto,
        id::TCP_CONTROL_BITS => Role::TcpFlags,
        id::INGRESS_INTERFACE => Role::Ingress,
        id::EGRESS_INTERFACE => Role::Egress,
        id::IP_VERSION => Role::IpVersion,
        id::INITIATOR_OCTETS => Role::InitiatorOctets,
        id::RESPONDER_OCTETS => Role::ResponderOctets,
        id::INITIATOR_PACKETS => Role::InitiatorPackets,
        id::RESPONDER_PACKETS => Role::ResponderPackets,
        id::FLOW_START_SYS_UP_TIME => Role::StartUptime,
        id::FLOW_END_SYS_UP_TIME => Role::EndUptime,
        id::FLOW_START_DELTA_MICROSECONDS => Role::StartDelta,
        id::FLOW_END_DELTA_MICROSECONDS => Role::EndDelta,
        id::FLOW_DURATION_MILLISECONDS => Role::DurationMs,
        id::FLOW_DURATION_MICROSECONDS => Role::DurationUs,
        id::SYSTEM_INIT_TIME_MILLISECONDS => Role::SysInit,
        id::SAMPLING_INTERVAL | id::SAMPLER_RANDOM_INTERVAL => Role::OwnRate,
        id::SAMPLING_PACKET_INTERVAL => Role::PacketInterval,
        id::SAMPLING_PACKET_SPACE => Role::PacketSpace,
        id::SAMPLING_SIZE => Role::SamplingSize,
        id::SAMPLING_POPULATION => Role::SamplingPopulation,
        id::SAMPLER_ID | id::SELECTOR_ID => Role::Sampler,
        id::FLOW_START_SECONDS => Role::Start(Kind::Seconds),
        id::FLOW_START_MILLISECONDS => Role::Start(Kind::Millis),
        id::FLOW_START_MICROSECONDS => Role::Start(Kind::Micros),
        id::FLOW_START_NANOSECONDS => Role::Start(Kind::Nanos),
        id::FLOW_END_SECONDS => Role::End(Kind::Seconds),
        id::FLOW_END_MILLISECONDS => Role::End(Kind::Millis),
        id::FLOW_END_MICROSECONDS => Role::End(Kind::Micros),
        id::FLOW_END_NANOSECONDS => Role::End(Kind::Nanos),
        id::POST_NAT_SOURCE_IPV4_ADDRESS
        | id::POST_NAT_SOURCE_IPV6_ADDRESS
        | id::ASA_XLATE_SOURCE_IPV4_ADDRESS => Role::NatSrcAddr,
        id::POST_NAT_DESTINATION_IPV4_ADDRESS
        | id::POST_NAT_DESTINATION_IPV6_ADDRESS
        | id::ASA_XLATE_DESTINATION_IPV4_ADDRESS => Role::NatDstAddr,
        id::POST_NAPT_SOURCE_TRANSPORT_PORT | id::ASA_XLATE_SOURCE_PORT => Role::NatSrcPort,
        id::POST_NAPT_DESTINATION_TRANSPORT_PORT | id::ASA_XLATE_DESTINATION_PORT => {
            Role::NatDstPort
        }
        id::FIREWALL_EVENT | id::ASA_FIREWALL_EVENT => Role::FirewallEvent,
        id::ASA_USERNAME | id::PANOS_USER_ID => Role::Also(Also::UserName),
        id::APPLICATION_NAME | id::PANOS_APP_ID => Role::Also(Also::Application),
        _ => Role::Other,
    }
}

impl Resolved {
    pub fn new() -> Self {
        Resolved {
            flow: FlowRecord::default(),
            consumed: [0; FIELD_WORDS],
        }
    }
}

/// Resolves one flow record into `r`. `record` is the record's bytes; `values` its field
/// bytes in template order, needed only for templates with variable-length fields (fixed ones
/// are read through the template's plan, which visits only the fields resolving uses).
pub(crate) fn resolve(
    h: &Header,
    tpl: &Template,
    record: &[u8],
    values: &[&[u8]],
    opts: &ExporterOptions,
    r: &mut Resolved,
) {
    r.consumed = [0; FIELD_WORDS];
    let mut f = Flow::default();
    if tpl.has_varlen() {
        for (k, (role, v)) in tpl.roles().iter().zip(values).enumerate() {
            if role.resolves() && !v.is_empty() {
                step(&mut f, r, k as u16, *role, v);
            }
        }
    } else {
        for s in tpl.plan() {
            if let Some(v) = record.get(s.off as usize..s.off as usize + usize::from(s.len)) {
                step(&mut f, r, s.k, s.role, v);
            }
        }
    }
    r.flow = finish(h, &f, opts);
}

/// What one field of a flow record adds to the gathered [`Flow`].
#[inline(always)]
fn step(f: &mut Flow, r: &mut Resolved, k: u16, role: Role, v: &[u8]) {
    let uint = fields::be_uint(v);
    match (role, uint) {
        (Role::SrcAddr, _) => {
            if let Some(ip) = fields::ip(v)
                && put_addr(&mut f.src, ip).is_none()
            {
                r.consume(usize::from(k));
            }
        }
        (Role::DstAddr, _) => {
            if let Some(ip) = fields::ip(v)
                && put_addr(&mut f.dst, ip).is_none()
            {
                r.consume(usize::from(k));
            }
        }
        (Role::SrcPort, Some(p)) if f.src_port.is_none() && p <= u64::from(u16::MAX) => {
            f.src_port = Some(p as u16);
            r.consume(usize::from(k));
        }
        (Role::DstPort, Some(p)) if f.dst_port.is_none() && p <= u64::from(u16::MAX) => {
            f.dst_port = Some(p as u16);
            r.consume(usize::from(k));
        }
        (Role::Proto, Some(p)) if f.proto.is_none() && p <= 255 => {
            f.proto = Some(p as u8);
            r.consume(usize::from(k));
        }
        (Role::TcpFlags, Some(bits)) => {
            f.tcp_flags = Some(bits as u16);
            r.consume(usize::from(k));
        }
        (Role::Ingress, Some(i)) => {
            f.ingress = Some(i);
            r.consume(usize::from(k));
        }
        (Role::Egress, Some(i)) => {
            f.egress = Some(i);
            r.consume(usize::from(k));
        }
        (Role::IpVersion, n) => f.ip_version = f.ip_version.or(n),
        // counters stay under their own names too: network.* may be scaled or summed
        (Role::Bytes(k), Some(n)) => f.bytes.add(usize::from(k), n),
        (Role::Packets(k), Some(n)) => f.packets.add(usize::from(k), n),
        (Role::ReverseBytes(k), Some(n)) => f.reverse_bytes.add(usize::from(k), n),
        (Role::ReversePackets(k), Some(n)) => f.reverse_packets.add(usize::from(k), n),
        (Role::InitiatorOctets, Some(n)) => {
            f.initiator_octets = f.initiator_octets.saturating_add(n);
            f.split_octets = true;
        }
        (Role::ResponderOctets, Some(n)) => {
            f.responder_octets = f.responder_octets.saturating_add(n);
            f.split_octets = true;
        }
        (Role::InitiatorPackets, Some(n)) => {
            f.initiator_packets = f.initiator_packets.saturating_add(n);
            f.split_packets = true;
        }
        (Role::ResponderPackets, Some(n)) => {
            f.responder_packets = f.responder_packets.saturating_add(n);
            f.split_packets = true;
        }
        (Role::StartUptime, Some(n)) => f.start_uptime = Some(n as u32),
        (Role::EndUptime, Some(n)) => f.end_uptime = Some(n as u32),
        (Role::StartDelta, Some(n)) => f.start_delta_us = Some(n),
        (Role::EndDelta, Some(n)) => f.end_delta_us = Some(n),
        (Role::DurationMs, Some(n)) => f.duration_ms = Some(n),
        (Role::DurationUs, Some(n)) => f.duration_ms = Some(n / 1000),
        (Role::SysInit, Some(n)) => f.sys_init_ms = i64::try_from(n).ok(),
        (Role::OwnRate, Some(n)) => f.own_rate = f.own_rate.or(Rate::one_in(n)),
        (Role::PacketInterval, n) => f.packet_interval = n,
        (Role::PacketSpace, n) => f.packet_space = n,
        (Role::SamplingSize, n) => f.sampling_size = n,
        (Role::SamplingPopulation, n) => f.sampling_population = n,
        (Role::Sampler, n) => f.sampler = n,
        (Role::Start(kind), _) => f.start = f.start.or(fields::time_ns(kind, v)),
        (Role::End(kind), _) => f.end = f.end.or(fields::time_ns(kind, v)),
        (Role::NatSrcAddr, _) => {
            if let Some(ip) = fields::ip(v) {
                put_addr(&mut f.nat_src, ip);
            }
        }
        (Role::NatDstAddr, _) => {
            if let Some(ip) = fields::ip(v) {
                put_addr(&mut f.nat_dst, ip);
            }
        }
        (Role::NatSrcPort, Some(p)) if p != 0 && p <= u64::from(u16::MAX) => {
            f.nat_src_port = f.nat_src_port.or(Some(p as u16));
        }
        (Role::NatDstPort, Some(p)) if p != 0 && p <= u64::from(u16::MAX) => {
            f.nat_dst_port = f.nat_dst_port.or(Some(p as u16));
        }
        (Role::FirewallEvent, Some(e)) if e != 0 && e <= 255 => {
            f.firewall_event = f.firewall_event.or(Some(e as u8));
        }
        _ => {}
    }
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

/// The sampling rate of a record without sampling elements or a sampler id of its own: the
/// exporter's (options), else the v5 header's.
fn packet_rate(v5_interval: Option<u16>, opts: &ExporterOptions) -> Option<Rate> {
    opts.default_rate
        .or_else(|| v5_interval.and_then(|n| Rate::one_in(u64::from(n))))
}

/// A sysUpTime stamp as nanoseconds since the epoch: the exporter's clock at export minus the
/// (wrapping, signed) distance back to the stamp, as nfdump computes it.
#[inline]
fn uptime_ns(export_ns: Option<i64>, up: u32, stamp: u32) -> Option<i64> {
    export_ns?.checked_sub(uptime_distance_ns(up, stamp))
}

/// How long before the export (when the exporter had been up `up` ms) a sysUpTime `stamp`
/// was, in nanoseconds; at most [`MAX_UPTIME_DISTANCE_NS`] either way.
#[inline]
fn uptime_distance_ns(up: u32, stamp: u32) -> i64 {
    i64::from(up.wrapping_sub(stamp) as i32) * 1_000_000
}

/// Counters that are totals since the flow began; used only when no delta counter is there.
const TOTAL_COUNTERS: [u16; 2] = [id::OCTET_TOTAL_COUNT, id::PACKET_TOTAL_COUNT];

/// Counters, sampling and times of a gathered record.
fn finish(h: &Header, f: &Flow, opts: &ExporterOptions) -> FlowRecord {
    let mut raw_bytes = f.bytes.best(&BYTE_COUNTERS);
    let mut raw_packets = f.packets.best(&PACKET_COUNTERS);
    if raw_bytes.is_none() && f.split_octets {
        raw_bytes = Some(f.initiator_octets.saturating_add(f.responder_octets));
    }
    if raw_packets.is_none() && f.split_packets {
        raw_packets = Some(f.initiator_packets.saturating_add(f.responder_packets));
    }
    if let Some(n) = f.reverse_bytes.best(&BYTE_COUNTERS) {
        raw_bytes = Some(raw_bytes.unwrap_or(0).saturating_add(n));
    }
    if let Some(n) = f.reverse_packets.best(&PACKET_COUNTERS) {
        raw_packets = Some(raw_packets.unwrap_or(0).saturating_add(n));
    }
    let rate = own_rate(f)
        .or_else(|| f.sampler.and_then(|s| opts.samplers.get(&s).copied()))
        .or_else(|| packet_rate(h.v5_sampling.map(|(_, n)| n), opts));
    let ipv6 = f
        .src
        .or(f.dst)
        .map(|ip| ip.is_ipv6())
        .or(match f.ip_version {
            Some(4) => Some(false),
            Some(6) => Some(true),
            _ => None,
        });

    // times: absolute elements first, then sysUpTime-relative, then deltas from export time
    const MS: i64 = 1_000_000;
    let export_ns = h.export_time.timestamp_nanos_opt();
    let sys_init = f.sys_init_ms.or(opts.sys_init_ms);
    let rel = |stamp: u32| -> Option<i64> {
        match h.sys_uptime_ms {
            Some(up) => uptime_ns(export_ns, up, stamp),
            None => sys_init?.checked_add(i64::from(stamp))?.checked_mul(MS),
        }
    };
    let delta = |us: u64| -> Option<i64> {
        export_ns?.checked_sub(i64::try_from(us).ok()?.checked_mul(1000)?)
    };
    let mut start = f
        .start
        .or_else(|| f.start_uptime.and_then(rel))
        .or_else(|| f.start_delta_us.and_then(delta));
    let mut end = f
        .end
        .or_else(|| f.end_uptime.and_then(rel))
        .or_else(|| f.end_delta_us.and_then(delta));
    if let Some(d) = f
        .duration_ms
        .and_then(|d| i64::try_from(d).ok()?.checked_mul(MS))
    {
        match (start, end) {
            (Some(s), None) => end = s.checked_add(d),
            (None, Some(e)) => start = e.checked_sub(d),
            _ => {}
        }
    }
    let mut r = FlowRecord::default();
    if let Some(rate) = rate {
        (r.rate_num, r.rate_den) = (rate.num, rate.den);
    }
    r.src = r.put_addr(has::SRC, has::SRC_V6, f.src);
    r.dst = r.put_addr(has::DST, has::DST_V6, f.dst);
    r.nat_src = r.put_addr(
        has::NAT_SRC,
        has::NAT_SRC_V6,
        f.nat_src
            .filter(|ip| !ip.is_unspecified() && Some(*ip) != f.src),
    );
    r.nat_dst = r.put_addr(
        has::NAT_DST,
        has::NAT_DST_V6,
        f.nat_dst
            .filter(|ip| !ip.is_unspecified() && Some(*ip) != f.dst),
    );
    r.src_port = r.put(has::SRC_PORT, f.src_port);
    r.dst_port = r.put(has::DST_PORT, f.dst_port);
    r.nat_src_port = r.put(
        has::NAT_SRC_PORT,
        f.nat_src_port.filter(|p| Some(*p) != f.src_port),
    );
    r.nat_dst_port = r.put(
        has::NAT_DST_PORT,
        f.nat_dst_port.filter(|p| Some(*p) != f.dst_port),
    );
    r.protocol = r.put(has::PROTOCOL, f.proto);
    r.raw_bytes = r.put(has::BYTES, raw_bytes);
    r.raw_packets = r.put(has::PACKETS, raw_packets);
    r.start_ns = r.put(has::START, start);
    r.end_ns = r.put(has::END, end);
    r.tcp_flags = r.put(has::TCP_FLAGS, f.tcp_flags);
    r.ingress = r.put(has::INGRESS, f.ingress);
    r.egress = r.put(has::EGRESS, f.egress);
    r.firewall_event = r.put(has::FIREWALL_EVENT, f.firewall_event);
    let v6 = r.put(has::IP_VERSION, ipv6);
    if v6 {
        r.has |= has::IPV6;
    }
    r
}

/// How far a v5 sysUpTime stamp can be from the export time: a signed 32-bit distance in
/// milliseconds, in nanoseconds.
const MAX_UPTIME_DISTANCE_NS: i64 = (1 << 31) * 1_000_000;

/// Any v5 export time (a u32 of seconds and a u32 of nanoseconds) give or take any stamp's
/// distance fits `i64` nanoseconds: v5 record times need no overflow check.
const _: () = assert!(
    i64::MAX - MAX_UPTIME_DISTANCE_NS - (u32::MAX as i64) >= (u32::MAX as i64) * 1_000_000_000
);

/// Slots every v5 record fills.
const V5_SLOTS: u32 = has::SRC
    | has::DST
    | has::SRC_PORT
    | has::DST_PORT
    | has::PROTOCOL
    | has::BYTES
    | has::PACKETS
    | has::TCP_FLAGS
    | has::INGRESS
    | has::EGRESS
    | has::IP_VERSION
    | has::START
    | has::END;

/// NetFlow v5 records of one packet, resolved straight from their fixed offsets: the same
/// [`FlowRecord`] as [`resolve`] gives through the v5 template, without walking it (v5 is the
/// bulk of what older routers send). What the records of a packet share (rate, which slots
/// are there) is set once in [`V5Packet::record`]; [`V5Packet::fill`] writes the rest.
pub(crate) struct V5Packet {
    /// The sampling rate as in [`FlowRecord`] (`rate_den == 0`: none).
    rate_num: u64,
    rate_den: u64,
    export_ns: i64,
    sys_uptime_ms: u32,
}

impl V5Packet {
    /// The records of a packet exported `export_secs` and `export_frac_ns` after the epoch,
    /// when the exporter had been up `sys_uptime_ms`, with the header's sampling `interval`
    /// (0 or 1: none) and the exporter's options (a sampling rate they give wins).
    pub fn new(
        (export_secs, export_frac_ns): (u32, u32),
        sys_uptime_ms: u32,
        interval: u16,
        opts: &ExporterOptions,
    ) -> V5Packet {
        // v5 records carry no sampling elements
        let (rate_num, rate_den) =
            packet_rate(Some(interval), opts).map_or((0, 0), |r| (r.num, r.den));
        V5Packet {
            rate_num,
            rate_den,
            export_ns: i64::from(export_secs) * 1_000_000_000 + i64::from(export_frac_ns),
            sys_uptime_ms,
        }
    }

    /// A record with the slots the packet's records share set, for [`V5Packet::fill`]
    /// (built in place: a copy of a ready one costs a `memcpy` per packet).
    #[inline]
    pub fn record(&self) -> FlowRecord {
        FlowRecord {
            has: V5_SLOTS,
            rate_num: self.rate_num,
            rate_den: self.rate_den,
            ..FlowRecord::default()
        }
    }

    /// Fills `r`, made by [`V5Packet::record`] of this packet (and perhaps filled before),
    /// with one 48-byte record (layout in `v5.rs`). Only the slots a v5 record sets are
    /// written.
    #[inline(always)]
    pub fn fill(&self, rec: &[u8; 48], r: &mut FlowRecord) {
        debug_assert_eq!(r.has, V5_SLOTS, "a record made by V5Packet::record");
        r.src[..4].copy_from_slice(&rec[0..4]);
        r.dst[..4].copy_from_slice(&rec[4..8]);
        r.ingress = u64::from(be16(rec, 12));
        r.egress = u64::from(be16(rec, 14));
        r.raw_packets = u64::from(be32(rec, 16));
        r.raw_bytes = u64::from(be32(rec, 20));
        r.src_port = be16(rec, 32);
        r.dst_port = be16(rec, 34);
        r.tcp_flags = u16::from(rec[37]);
        r.protocol = rec[38];
        // in range of i64 for any v5 export time (see above): no check per record
        let at = |stamp: u32| self.export_ns - uptime_distance_ns(self.sys_uptime_ms, stamp);
        r.start_ns = at(be32(rec, 24));
        r.end_ns = at(be32(rec, 28));
    }

    /// One 48-byte record on its own.
    #[cfg(test)]
    pub fn resolve(&self, rec: &[u8; 48]) -> FlowRecord {
        let mut r = self.record();
        self.fill(rec, &mut r);
        r
    }
}

/// Builds the event of one resolved flow record. `values` are the record's field bytes, in
/// template order; `raw` is the whole record.
pub(crate) fn flow_event(
    ctx: &Ctx<'_>,
    tpl: &Template,
    values: &[&[u8]],
    raw: &[u8],
    opts: &ExporterOptions,
    r: &Resolved,
) -> Event {
    let mut ev = base(ctx, raw, TYPE_FLOW);
    let roles = tpl.roles();
    for (k, (spec, v)) in tpl.fields.iter().zip(values).enumerate() {
        if v.is_empty() || (spec.id == id::PADDING_OCTETS && spec.pen == 0) || r.is_consumed(k) {
            continue;
        }
        let (name, kind) = name_of(ctx.header.version, tpl, k, spec);
        generic(&mut ev, name, kind, v);
        let Some(Role::Also(also)) = roles.get(k) else {
            continue;
        };
        let ecs = also.field();
        if ev.get(ecs).is_some() {
            continue;
        }
        if *also == Also::HttpStatus {
            if let Some(code) = fields::be_uint(v).filter(|c| (100..=599).contains(c)) {
                ev.set(ecs, fields::uint_value(code));
            }
            continue;
        }
        let text = fields::trim_nul(v);
        if text.is_empty() {
            continue;
        }
        let text = String::from_utf8_lossy(text);
        match also {
            Also::UrlOriginal => ev.set_url_default(&text),
            // a Host header may carry the port
            Also::UrlDomain => ev.set(ecs, host_of(&text)),
            _ => ev.set(ecs, text.into_owned()),
        }
    }
    let f = &r.flow;
    if let Some(ip) = f.source_nat_ip() {
        ev.set(field::SOURCE_NAT_IP, ip);
    }
    if let Some(p) = f.source_nat_port() {
        ev.set(field::SOURCE_NAT_PORT, fields::uint_value(u64::from(p)));
    }
    if let Some(ip) = f.destination_nat_ip() {
        ev.set(field::DESTINATION_NAT_IP, ip);
    }
    if let Some(p) = f.destination_nat_port() {
        ev.set(
            field::DESTINATION_NAT_PORT,
            fields::uint_value(u64::from(p)),
        );
    }
    if let Some(action) = f.firewall_event().and_then(fields::firewall_action) {
        ev.set(field::EVENT_ACTION, action);
    }
    if let Some(bits) = f.tcp_flags() {
        ev.set(field::NETFLOW_TCP_CONTROL_BITS, bits);
        let names = fields::tcp_flag_names(bits);
        if !names.is_empty() {
            ev.set(field::NETWORK_TCP_FLAGS, Value::List(names));
        }
    }
    if let Some(i) = f.ingress_interface() {
        ev.set(field::OBSERVER_INGRESS_INTERFACE_ID, i.to_string());
        if let Some(n) = opts.if_names.get(&i) {
            ev.set(field::OBSERVER_INGRESS_INTERFACE_NAME, n.as_str());
        }
    }
    if let Some(i) = f.egress_interface() {
        ev.set(field::OBSERVER_EGRESS_INTERFACE_ID, i.to_string());
        if let Some(n) = opts.if_names.get(&i) {
            ev.set(field::OBSERVER_EGRESS_INTERFACE_NAME, n.as_str());
        }
    }
    if let Some(r) = f.rate() {
        if let Some(b) = f.raw_bytes() {
            ev.set(field::NETFLOW_RAW_BYTES, fields::uint_value(b));
        }
        if let Some(p) = f.raw_packets() {
            ev.set(field::NETFLOW_RAW_PACKETS, fields::uint_value(p));
        }
        if r.den == 1 {
            ev.set(field::NETFLOW_SAMPLING_RATE, fields::uint_value(r.num));
        } else {
            ev.set(field::NETFLOW_SAMPLING_RATE, r.num as f64 / r.den as f64);
        }
    }
    if let Some(b) = f.bytes() {
        ev.set(field::NETWORK_BYTES, fields::uint_value(b));
    }
    if let Some(p) = f.packets() {
        ev.set(field::NETWORK_PACKETS, fields::uint_value(p));
    }
    if let Some(ip) = f.source_ip() {
        ev.set(field::SOURCE_IP, ip);
    }
    if let Some(ip) = f.destination_ip() {
        ev.set(field::DESTINATION_IP, ip);
    }
    if let Some(p) = f.source_port() {
        ev.set(field::SOURCE_PORT, fields::uint_value(u64::from(p)));
    }
    if let Some(p) = f.destination_port() {
        ev.set(field::DESTINATION_PORT, fields::uint_value(u64::from(p)));
    }
    if let Some(p) = f.protocol() {
        ev.set(field::NETWORK_IANA_NUMBER, p.to_string());
        if let Some(n) = fields::transport_name(p) {
            ev.set(field::NETWORK_TRANSPORT, n);
        }
    }
    if let Some(v6) = f.ipv6() {
        ev.set(field::NETWORK_TYPE, if v6 { "ipv6" } else { "ipv4" });
    }
    let (start, end) = (f.start(), f.end());
    if let Some(s) = start {
        ev.set(field::EVENT_START, fields::rfc3339(s));
    }
    if let Some(e) = end {
        ev.set(field::EVENT_END, fields::rfc3339(e));
    }
    if let (Some(s), Some(e)) = (f.start_ns(), f.end_ns())
        && let Some(ns) = e.checked_sub(s)
        && ns >= 0
    {
        ev.set(field::EVENT_DURATION, ns);
    }
    if let Some(t) = end.or(start) {
        ev.timestamp = t;
    }
    ev.set(field::MESSAGE, summary(f));
    ev
}

fn push_endpoint(s: &mut String, ip: Option<IpAddr>, port: Option<u16>) {
    use std::fmt::Write;
    let _ = match (ip, port) {
        (Some(IpAddr::V6(a)), Some(p)) => write!(s, "[{a}]:{p}"),
        (Some(a), Some(p)) => write!(s, "{a}:{p}"),
        (Some(a), None) => write!(s, "{a}"),
        (None, _) => write!(s, "?"),
    };
}

/// `tcp 10.0.0.1:51514 -> 203.0.113.5:443 12 packets 3456 bytes`.
fn summary(f: &FlowRecord) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(80);
    match f.protocol() {
        Some(p) => match fields::transport_name(p) {
            Some(n) => s.push_str(n),
            None => {
                let _ = write!(s, "proto {p}");
            }
        },
        None => s.push_str("flow"),
    }
    let ports = matches!(f.protocol(), Some(6 | 17 | 132 | 33 | 136));
    let (sp, dp) = if ports {
        (f.source_port(), f.destination_port())
    } else {
        (None, None)
    };
    s.push(' ');
    push_endpoint(&mut s, f.source_ip(), sp);
    s.push_str(" -> ");
    push_endpoint(&mut s, f.destination_ip(), dp);
    if let Some(p) = f.packets() {
        let _ = write!(s, " {p} packets");
    }
    if let Some(b) = f.bytes() {
        let _ = write!(s, " {b} bytes");
    }
    if let Some(action) = f.firewall_event().and_then(fields::firewall_action) {
        let _ = write!(s, " ({action})");
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
        let name = fields::trim_nul(name);
        let name = &name[..name.len().min(MAX_INTERFACE_NAME_LEN)];
        if !name.is_empty() && (!full || opts.if_names.contains_key(&i)) {
            let name = String::from_utf8_lossy(name).into_owned();
            learned.push(format!("interface {i} is {name}"));
            opts.if_names.insert(i, name);
        }
    }
    learned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_header_without_port() {
        for (h, want) in [
            ("portal.example.vn", "portal.example.vn"),
            ("portal.example.vn:8443", "portal.example.vn"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("2001:db8::1", "2001:db8::1"),
            ("host:notaport", "host:notaport"),
        ] {
            assert_eq!(host_of(h), want, "{h}");
        }
    }

    #[test]
    fn enterprise_ecs_entries_are_sorted_named_elements_of_the_right_kind() {
        for w in ENTERPRISE_ALSO.windows(2) {
            assert!((w[0].0, w[0].1) < (w[1].0, w[1].1), "{w:?}");
        }
        for &(pen, id, also) in ENTERPRISE_ALSO {
            let (e, reverse) = fields::lookup_enterprise(pen, id).expect("a named element");
            assert!(!reverse);
            let want = match also {
                Also::HttpStatus => Kind::Unsigned,
                _ => Kind::String,
            };
            assert_eq!(e.kind, want, "{}", e.name);
            let spec = FieldSpec { id, pen, len: 0 };
            assert_eq!(role_of(&spec), Role::Also(also));
        }
    }
}
