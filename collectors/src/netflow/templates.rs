//! Templates and the per-exporter state a collector must keep between datagrams: the template
//! cache, data sets waiting for their template, sequence numbers and what options records said
//! (sampling rates, interface names, the exporter's boot time).
//!
//! Everything is bounded ([`Limits`]): per exporter and in total, with expiry. The cache is a
//! `HashMap` per exporter with a refresh stamp per template. The `lru` crate was considered
//! and not taken: it bounds one map by count, while this cache needs two count bounds (per
//! exporter and total), time expiry, and removal of a whole exporter or observation domain
//! (IPFIX withdrawal); the linear scans below run only when a bound is hit.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::DecodeError;
use super::record::{Role, role_of};

/// The decoder's maps are looked up several times per datagram; SipHash was a tenth of the
/// decoding time. foldhash is seeded per process, and every map is bounded (the constants
/// below), so a crafted key set cannot grow a chain without end.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type IndexMap<K, V> = indexmap::IndexMap<K, V, foldhash::fast::RandomState>;

/// IPFIX (RFC 7011 §7) and H3C's NetFlow v9: a field length of 65535 means the length is sent
/// in front of each value.
pub const VARLEN: u16 = u16::MAX;

/// Most fields one template may have. Real templates have at most about a hundred (NetScaler's
/// largest has 60); a bound keeps one hostile template from costing per-record work and memory.
pub const MAX_TEMPLATE_FIELDS: usize = 512;
/// Most exporters (source address and port) with state. A province's routers and firewalls
/// number in the hundreds; the bound stops spoofed sources from growing state without end.
pub const MAX_EXPORTERS: usize = 4096;
/// Most templates kept per exporter. Devices use tens (Cisco ASA about 30, Palo Alto 8);
/// nProbe and ipt_netflow a few hundred at most.
pub const MAX_TEMPLATES_PER_EXPORTER: usize = 1024;
/// Most templates kept in total; past it the least recently refreshed template is dropped.
pub const MAX_TEMPLATES_TOTAL: usize = 16_384;
/// How long a template lives without being re-sent: three times the 30-minute template
/// timeout Cisco exporters default to, so a lost refresh or two does not drop a template.
pub const TEMPLATE_TTL: Duration = Duration::from_secs(90 * 60);
/// Bytes of data sets one exporter may have waiting for templates: a few seconds of a busy
/// exporter's traffic before its first template (softflowd and Cisco resend templates every
/// 16–20 packets).
pub const MAX_PENDING_BYTES_PER_EXPORTER: usize = 256 * 1024;
/// Bytes of data sets waiting for templates, all exporters together.
pub const MAX_PENDING_BYTES_TOTAL: usize = 16 * 1024 * 1024;
/// How long a data set waits for its template before it is returned raw with a warning.
pub const PENDING_TTL: Duration = Duration::from_secs(10 * 60);
/// Bytes charged per waiting data set besides its own bytes (its header copy and bookkeeping),
/// so that many tiny sets cannot slip past the byte bounds.
pub const PENDING_OVERHEAD: usize = 128;
/// Most flow and options records decoded from one datagram; the rest of the set is kept raw.
/// A 64 KiB datagram of the smallest real records (4 bytes) holds about 16,000; the bound
/// stops a template of 1-byte records from turning one datagram into 65,000 events.
pub const MAX_RECORDS_PER_DATAGRAM: usize = 16_384;
/// Most sampler ids and interface names remembered per exporter from options records.
pub const MAX_OPTION_ENTRIES_PER_EXPORTER: usize = 4096;
/// Longest interface name kept from an options record.
pub const MAX_INTERFACE_NAME_LEN: usize = 256;
/// Most (version, observation domain) sequence trackers per exporter.
pub const MAX_DOMAINS_PER_EXPORTER: usize = 256;

/// The bounds a [`super::Decoder`] keeps to. [`Limits::default`] uses the constants above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_exporters: usize,
    pub max_templates_per_exporter: usize,
    pub max_templates_total: usize,
    pub template_ttl: Duration,
    pub max_pending_bytes_per_exporter: usize,
    pub max_pending_bytes_total: usize,
    pub pending_ttl: Duration,
    pub max_template_fields: usize,
    pub max_records_per_datagram: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_exporters: MAX_EXPORTERS,
            max_templates_per_exporter: MAX_TEMPLATES_PER_EXPORTER,
            max_templates_total: MAX_TEMPLATES_TOTAL,
            template_ttl: TEMPLATE_TTL,
            max_pending_bytes_per_exporter: MAX_PENDING_BYTES_PER_EXPORTER,
            max_pending_bytes_total: MAX_PENDING_BYTES_TOTAL,
            pending_ttl: PENDING_TTL,
            max_template_fields: MAX_TEMPLATE_FIELDS,
            max_records_per_datagram: MAX_RECORDS_PER_DATAGRAM,
        }
    }
}

/// One field of a template: element id, enterprise number (0 for IANA) and length
/// ([`VARLEN`] for variable length).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldSpec {
    pub id: u16,
    pub pen: u32,
    pub len: u16,
}

/// A (data or options) template. The first `scope_fields` fields of an options template are
/// its scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub id: u16,
    pub fields: Vec<FieldSpec>,
    pub scope_fields: usize,
    pub options: bool,
    min_len: usize,
    varlen: bool,
    /// What resolving a flow record does with each field, in field order.
    roles: Vec<Role>,
    /// For templates without variable-length fields: where each field that resolving uses
    /// sits in a record (fields that are only `netflow.<name>` are left out).
    plan: Vec<PlanStep>,
}

/// One field that resolving reads, at a fixed offset of every record of its template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PlanStep {
    /// The field's index in the template.
    pub k: u16,
    pub role: Role,
    pub off: u32,
    pub len: u16,
}

impl Template {
    /// Checks a template read at byte `offset`: it has fields, not too many, and its records
    /// take at least one byte (a record of length 0 would make decoding loop without end).
    pub fn new(
        id: u16,
        fields: Vec<FieldSpec>,
        scope_fields: usize,
        options: bool,
        max_fields: usize,
        offset: usize,
    ) -> Result<Self, DecodeError> {
        if fields.is_empty() {
            return Err(DecodeError::NoFields { id, offset });
        }
        if fields.len() > max_fields {
            return Err(DecodeError::TooManyFields {
                id,
                offset,
                count: fields.len(),
                max: max_fields,
            });
        }
        let varlen = fields.iter().any(|f| f.len == VARLEN);
        let min_len = fields
            .iter()
            .map(|f| {
                if f.len == VARLEN {
                    1
                } else {
                    usize::from(f.len)
                }
            })
            .sum();
        if min_len == 0 {
            return Err(DecodeError::EmptyRecord { id, offset });
        }
        let roles: Vec<Role> = fields.iter().map(role_of).collect();
        let mut plan = Vec::new();
        if !varlen {
            let mut off = 0u32;
            for (k, (f, role)) in fields.iter().zip(&roles).enumerate() {
                if role.resolves() && f.len > 0 {
                    plan.push(PlanStep {
                        k: k as u16,
                        role: *role,
                        off,
                        len: f.len,
                    });
                }
                off += u32::from(f.len);
            }
        }
        Ok(Template {
            id,
            fields,
            scope_fields,
            options,
            min_len,
            varlen,
            roles,
            plan,
        })
    }

    /// The fewest bytes one record takes.
    pub fn min_record_len(&self) -> usize {
        self.min_len
    }

    pub fn has_varlen(&self) -> bool {
        self.varlen
    }

    pub(crate) fn roles(&self) -> &[Role] {
        &self.roles
    }

    pub(crate) fn plan(&self) -> &[PlanStep] {
        &self.plan
    }

    /// Reads the first record of `data` into `values` (one slice per field, in order) and
    /// returns the bytes it took, or `None` when a field runs past the end.
    pub fn read_record<'a>(&self, data: &'a [u8], values: &mut Vec<&'a [u8]>) -> Option<usize> {
        values.clear();
        let mut pos = 0usize;
        for f in &self.fields {
            let len = if f.len == VARLEN {
                let first = *data.get(pos)?;
                pos += 1;
                if first == 255 {
                    let b = data.get(pos..pos + 2)?;
                    pos += 2;
                    usize::from(u16::from_be_bytes([b[0], b[1]]))
                } else {
                    usize::from(first)
                }
            } else {
                usize::from(f.len)
            };
            values.push(data.get(pos..pos + len)?);
            pos += len;
        }
        Some(pos)
    }
}

/// A template's identity within one exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TplKey {
    pub version: u16,
    pub domain: u32,
    pub id: u16,
}

/// What an export packet's header says, kept with each record (and with waiting data sets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub version: u16,
    /// v9 source id, IPFIX observation domain id, v5 engine type << 8 | engine id.
    pub domain: u32,
    pub export_time: DateTime<Utc>,
    /// v5 and v9: milliseconds since the exporter booted, when the packet was sent.
    pub sys_uptime_ms: Option<u32>,
    pub sequence: u32,
    /// v5: the sampling interval from the header (0 when not sampled).
    pub v5_sampling: Option<(u8, u16)>,
}

/// A sampling rate: `num / den` packets on the wire per packet counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub num: u64,
    pub den: u64,
}

impl Rate {
    /// One packet in `n` (samplingInterval, samplerRandomInterval); `None` when `n` ≤ 1.
    pub fn one_in(n: u64) -> Option<Rate> {
        (n > 1).then_some(Rate { num: n, den: 1 })
    }

    /// `num / den`, `None` unless it is a real rate above 1.
    pub fn ratio(num: u64, den: u64) -> Option<Rate> {
        (den > 0 && num > den).then_some(Rate { num, den })
    }

    /// `v` scaled by the rate, saturating.
    pub fn apply(self, v: u64) -> u64 {
        let r = u128::from(v) * u128::from(self.num) / u128::from(self.den.max(1));
        u64::try_from(r).unwrap_or(u64::MAX)
    }
}

/// What options records told us about one exporter.
#[derive(Debug, Default, Clone)]
pub(crate) struct ExporterOptions {
    /// Sampling that applies to every flow without a sampler id of its own.
    pub default_rate: Option<Rate>,
    pub samplers: HashMap<u64, Rate>,
    pub if_names: HashMap<u64, String>,
    /// IPFIX systemInitTimeMilliseconds: the base of flowStart/EndSysUpTime.
    pub sys_init_ms: Option<i64>,
}

/// A data set that came before its template.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub exporter: SocketAddr,
    pub key: TplKey,
    pub header: Header,
    pub data: Vec<u8>,
    pub received: DateTime<Utc>,
    pub listener: String,
}

impl Pending {
    fn cost(&self) -> usize {
        self.data.len() + self.listener.len() + PENDING_OVERHEAD
    }
}

#[derive(Debug, Clone)]
struct Entry {
    tpl: Arc<Template>,
    refreshed: DateTime<Utc>,
}

/// The expected next sequence number of one (version, domain), `None` until known.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SeqState {
    pub expected: Option<u32>,
}

#[derive(Debug, Clone)]
pub(crate) struct Exporter {
    templates: HashMap<TplKey, Entry>,
    pub seq: HashMap<(u16, u32), SeqState>,
    pub options: ExporterOptions,
    pending: VecDeque<Pending>,
    pending_bytes: usize,
    last_seen: DateTime<Utc>,
}

impl Exporter {
    /// Records the sequence number the next packet of `(version, domain)` should carry and
    /// returns the one this packet was expected to carry. A domain beyond
    /// [`MAX_DOMAINS_PER_EXPORTER`] gets no slot: nothing is recorded or expected for it.
    pub fn expect_next(&mut self, key: (u16, u32), next: Option<u32>) -> Option<u32> {
        let slot = if self.seq.len() < MAX_DOMAINS_PER_EXPORTER {
            self.seq.entry(key).or_default()
        } else {
            self.seq.get_mut(&key)?
        };
        std::mem::replace(&mut slot.expected, next)
    }

    fn new(now: DateTime<Utc>) -> Self {
        Exporter {
            templates: HashMap::default(),
            seq: HashMap::default(),
            options: ExporterOptions::default(),
            pending: VecDeque::new(),
            pending_bytes: 0,
            last_seen: now,
        }
    }
}

/// What happened when a template was stored.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoreOutcome {
    pub evicted: u64,
}

/// How much state a decoder holds (for tests and metrics).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub exporters: usize,
    pub templates: usize,
    /// The most templates any one exporter has.
    pub max_templates_one_exporter: usize,
    pub pending_sets: usize,
    pub pending_bytes: usize,
    /// The most pending bytes any one exporter has.
    pub max_pending_bytes_one_exporter: usize,
    pub option_entries: usize,
}

/// All exporters' state, bounded by [`Limits`].
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub limits: Limits,
    exporters: IndexMap<SocketAddr, Exporter>,
    /// The exporter looked up last and its index in `exporters`: datagrams come in bursts
    /// from one exporter, so most lookups compare one address instead of hashing it. Cleared
    /// whenever an exporter is removed (removal moves indices).
    last: Option<(SocketAddr, usize)>,
    templates: usize,
    pending_bytes: usize,
}

fn older_than(t: DateTime<Utc>, ttl: Duration, now: DateTime<Utc>) -> bool {
    let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
    t.checked_add_signed(ttl).is_some_and(|end| end < now)
}

impl State {
    pub fn new(limits: Limits) -> Self {
        State {
            limits,
            exporters: IndexMap::default(),
            last: None,
            templates: 0,
            pending_bytes: 0,
        }
    }

    /// The exporter's state, created if new. When [`Limits::max_exporters`] are known, the one
    /// seen least recently is forgotten; its waiting data sets are returned.
    pub fn exporter(
        &mut self,
        addr: SocketAddr,
        now: DateTime<Utc>,
        evicted: &mut Vec<Pending>,
    ) -> &mut Exporter {
        let i = match self.index_of(addr) {
            Some(i) => i,
            None => {
                if self.exporters.len() >= self.limits.max_exporters.max(1)
                    && let Some(oldest) = self
                        .exporters
                        .iter()
                        .min_by_key(|(_, e)| e.last_seen)
                        .map(|(a, _)| *a)
                {
                    self.remove_exporter(oldest, evicted);
                }
                let (i, _) = self.exporters.insert_full(addr, Exporter::new(now));
                self.last = Some((addr, i));
                i
            }
        };
        let e = &mut self.exporters[i];
        if now > e.last_seen {
            e.last_seen = now;
        }
        e
    }

    /// Where `addr`'s state is in `exporters`, if it has any.
    #[inline]
    fn index_of(&mut self, addr: SocketAddr) -> Option<usize> {
        if let Some((a, i)) = self.last
            && a == addr
        {
            return Some(i);
        }
        let i = self.exporters.get_index_of(&addr)?;
        self.last = Some((addr, i));
        Some(i)
    }

    fn remove_exporter(&mut self, addr: SocketAddr, evicted: &mut Vec<Pending>) {
        self.last = None;
        if let Some(e) = self.exporters.swap_remove(&addr) {
            self.templates -= e.templates.len();
            self.pending_bytes -= e.pending_bytes;
            evicted.extend(e.pending);
        }
    }

    pub fn get_mut(&mut self, addr: SocketAddr) -> Option<&mut Exporter> {
        let i = self.index_of(addr)?;
        Some(&mut self.exporters[i])
    }

    /// The template for `key`, unless it is unknown or expired (an expired one is removed).
    pub fn template(
        &mut self,
        addr: SocketAddr,
        key: TplKey,
        now: DateTime<Utc>,
    ) -> Option<Arc<Template>> {
        let ttl = self.limits.template_ttl;
        let e = self.get_mut(addr)?;
        let entry = e.templates.get(&key)?;
        if older_than(entry.refreshed, ttl, now) {
            e.templates.remove(&key);
            self.templates -= 1;
            return None;
        }
        Some(Arc::clone(&entry.tpl))
    }

    /// Stores (or refreshes) a template, evicting the least recently refreshed one of the
    /// exporter, or of all exporters, when a bound is reached.
    pub fn store(
        &mut self,
        addr: SocketAddr,
        key: TplKey,
        tpl: Template,
        now: DateTime<Utc>,
        evicted_pending: &mut Vec<Pending>,
    ) -> StoreOutcome {
        let mut out = StoreOutcome::default();
        let per_exporter = self.limits.max_templates_per_exporter.max(1);
        let total = self.limits.max_templates_total.max(1);
        self.exporter(addr, now, evicted_pending);
        let Some(e) = self.get_mut(addr) else {
            return out;
        };
        if let Some(entry) = e.templates.get_mut(&key) {
            entry.tpl = Arc::new(tpl);
            entry.refreshed = now;
            return out;
        }
        if e.templates.len() >= per_exporter
            && let Some(old) = e
                .templates
                .iter()
                .min_by_key(|(_, v)| v.refreshed)
                .map(|(k, _)| *k)
        {
            e.templates.remove(&old);
            self.templates -= 1;
            out.evicted += 1;
        }
        if self.templates >= total
            && let Some((a, k)) = self
                .exporters
                .iter()
                .flat_map(|(a, e)| e.templates.iter().map(move |(k, v)| (v.refreshed, *a, *k)))
                .min_by_key(|(t, _, _)| *t)
                .map(|(_, a, k)| (a, k))
            && let Some(e) = self.get_mut(a)
            && e.templates.remove(&k).is_some()
        {
            self.templates -= 1;
            out.evicted += 1;
        }
        if let Some(e) = self.get_mut(addr) {
            e.templates.insert(
                key,
                Entry {
                    tpl: Arc::new(tpl),
                    refreshed: now,
                },
            );
            self.templates += 1;
        }
        out
    }

    /// IPFIX withdrawal: removes one template, or all data (`options == false`) or options
    /// templates of a domain when `id` is `None`. Returns how many were removed.
    pub fn withdraw(
        &mut self,
        addr: SocketAddr,
        version: u16,
        domain: u32,
        id: Option<u16>,
        options: bool,
    ) -> u64 {
        let Some(e) = self.get_mut(addr) else {
            return 0;
        };
        let before = e.templates.len();
        e.templates.retain(|k, v| {
            let hit = k.version == version
                && k.domain == domain
                && match id {
                    Some(id) => k.id == id,
                    None => v.tpl.options == options,
                };
            !hit
        });
        let removed = before - e.templates.len();
        self.templates -= removed;
        removed as u64
    }

    /// Queues a data set to wait for its template. When a bound would be passed the set is
    /// handed back (`Err`) so that the caller can keep it raw.
    pub fn push_pending(&mut self, addr: SocketAddr, p: Pending) -> Result<(), Box<Pending>> {
        let cost = p.cost();
        let total_ok = self.pending_bytes + cost <= self.limits.max_pending_bytes_total;
        let per = self.limits.max_pending_bytes_per_exporter;
        match self.get_mut(addr) {
            Some(e) if total_ok && e.pending_bytes + cost <= per => {
                e.pending_bytes += cost;
                e.pending.push_back(p);
                self.pending_bytes += cost;
                Ok(())
            }
            _ => Err(Box::new(p)),
        }
    }

    /// Takes the data sets whose template is now known, in arrival order, with their template.
    pub fn take_ready(
        &mut self,
        addr: SocketAddr,
        now: DateTime<Utc>,
    ) -> Vec<(Pending, Arc<Template>)> {
        let ttl = self.limits.template_ttl;
        let Some(e) = self.get_mut(addr) else {
            return Vec::new();
        };
        let live = |k: &TplKey| {
            e.templates
                .get(k)
                .filter(|t| !older_than(t.refreshed, ttl, now))
                .map(|t| Arc::clone(&t.tpl))
        };
        if !e.pending.iter().any(|p| live(&p.key).is_some()) {
            return Vec::new();
        }
        let mut ready = Vec::new();
        let mut keep = VecDeque::new();
        let mut freed = 0;
        for p in std::mem::take(&mut e.pending) {
            match live(&p.key) {
                Some(t) => {
                    freed += p.cost();
                    ready.push((p, t));
                }
                None => keep.push_back(p),
            }
        }
        e.pending = keep;
        e.pending_bytes -= freed;
        self.pending_bytes -= freed;
        ready
    }

    /// Removes what is older than its time to live: templates (counted in the result's first
    /// number) and waiting data sets (returned). Exporters with nothing left and not seen for
    /// a template lifetime are forgotten.
    pub fn expire(&mut self, now: DateTime<Utc>) -> (u64, Vec<Pending>) {
        let (tpl_ttl, pend_ttl) = (self.limits.template_ttl, self.limits.pending_ttl);
        let mut expired_templates = 0u64;
        let mut expired = Vec::new();
        for e in self.exporters.values_mut() {
            let before = e.templates.len();
            e.templates
                .retain(|_, v| !older_than(v.refreshed, tpl_ttl, now));
            let gone = before - e.templates.len();
            self.templates -= gone;
            expired_templates += gone as u64;
            while let Some(p) = e.pending.front() {
                if !older_than(p.received, pend_ttl, now) {
                    break;
                }
                let p = e.pending.pop_front().expect("front exists");
                e.pending_bytes -= p.cost();
                self.pending_bytes -= p.cost();
                expired.push(p);
            }
        }
        self.last = None;
        self.exporters.retain(|_, e| {
            !(e.templates.is_empty()
                && e.pending.is_empty()
                && older_than(e.last_seen, tpl_ttl, now))
        });
        (expired_templates, expired)
    }

    pub fn usage(&self) -> Usage {
        let mut u = Usage {
            exporters: self.exporters.len(),
            templates: self.templates,
            pending_bytes: self.pending_bytes,
            ..Usage::default()
        };
        for e in self.exporters.values() {
            u.max_templates_one_exporter = u.max_templates_one_exporter.max(e.templates.len());
            u.max_pending_bytes_one_exporter =
                u.max_pending_bytes_one_exporter.max(e.pending_bytes);
            u.pending_sets += e.pending.len();
            u.option_entries += e.options.samplers.len() + e.options.if_names.len();
        }
        u
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    fn tpl(id: u16) -> Template {
        let f = vec![FieldSpec {
            id: 8,
            pen: 0,
            len: 4,
        }];
        Template::new(id, f, 0, false, MAX_TEMPLATE_FIELDS, 0).unwrap()
    }

    fn key(id: u16) -> TplKey {
        TplKey {
            version: 10,
            domain: 0,
            id,
        }
    }

    #[test]
    fn records_with_varlen_fields() {
        let fields = vec![
            FieldSpec {
                id: 1,
                pen: 0,
                len: 2,
            },
            FieldSpec {
                id: 82,
                pen: 0,
                len: VARLEN,
            },
            FieldSpec {
                id: 83,
                pen: 0,
                len: VARLEN,
            },
        ];
        let t = Template::new(300, fields, 0, false, 16, 0).unwrap();
        assert_eq!(t.min_record_len(), 4);
        let data = [0, 7, 2, b'h', b'i', 255, 0, 3, b'a', b'b', b'c'];
        let mut v = Vec::new();
        assert_eq!(t.read_record(&data, &mut v), Some(11));
        assert_eq!(v, [&[0u8, 7][..], b"hi", b"abc"]);
        let mut v = Vec::new();
        assert_eq!(t.read_record(&data[..10], &mut v), None);
    }

    #[test]
    fn hostile_templates_are_refused() {
        let zero = vec![FieldSpec {
            id: 1,
            pen: 0,
            len: 0,
        }];
        assert!(matches!(
            Template::new(256, zero, 0, false, 16, 0),
            Err(DecodeError::EmptyRecord { .. })
        ));
        assert!(matches!(
            Template::new(256, vec![], 0, false, 16, 0),
            Err(DecodeError::NoFields { .. })
        ));
        let many = vec![
            FieldSpec {
                id: 1,
                pen: 0,
                len: 1
            };
            17
        ];
        assert!(matches!(
            Template::new(256, many, 0, false, 16, 0),
            Err(DecodeError::TooManyFields { .. })
        ));
    }

    #[test]
    fn bounds_per_exporter_and_total_evict_the_oldest() {
        let limits = Limits {
            max_templates_per_exporter: 2,
            max_templates_total: 3,
            ..Limits::default()
        };
        let mut s = State::new(limits);
        let (a, b): (SocketAddr, SocketAddr) =
            ("10.0.0.1:9".parse().unwrap(), "10.0.0.2:9".parse().unwrap());
        let mut ev = Vec::new();
        s.store(a, key(256), tpl(256), t(0), &mut ev);
        s.store(a, key(257), tpl(257), t(1), &mut ev);
        let out = s.store(a, key(258), tpl(258), t(2), &mut ev);
        assert_eq!(out.evicted, 1);
        assert!(s.template(a, key(256), t(2)).is_none());
        s.store(b, key(256), tpl(256), t(3), &mut ev);
        let out = s.store(b, key(257), tpl(257), t(4), &mut ev);
        assert_eq!(out.evicted, 1, "total bound drops a's oldest");
        assert!(s.template(a, key(257), t(4)).is_none());
        assert_eq!(s.usage().templates, 3);
    }

    #[test]
    fn templates_expire() {
        let mut s = State::new(Limits::default());
        let a: SocketAddr = "10.0.0.1:9".parse().unwrap();
        s.store(a, key(256), tpl(256), t(0), &mut Vec::new());
        let later = t(TEMPLATE_TTL.as_secs() as i64 + 1);
        assert!(s.template(a, key(256), t(10)).is_some());
        assert!(s.template(a, key(256), later).is_none());
        assert_eq!(s.usage().templates, 0);
    }

    #[test]
    fn rates() {
        assert_eq!(Rate::one_in(1), None);
        assert_eq!(Rate::one_in(100).unwrap().apply(3), 300);
        assert_eq!(Rate::ratio(10, 4).unwrap().apply(4), 10);
        assert_eq!(Rate::one_in(u64::MAX).unwrap().apply(u64::MAX), u64::MAX);
    }
}
