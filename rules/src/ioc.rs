//! IOC lists of IP addresses and networks: which lists contain an address.
//!
//! [`IocSet::parse`] reads lists given as `(name, text)` (this crate does no I/O; the name is
//! usually the file path and appears in every error). A list holds one IPv4 or IPv6 address or
//! CIDR block per line; `#` (and `;`, as in Spamhaus DROP files) starts a comment, blank lines
//! are skipped, a byte-order mark is ignored. A line with anything else is an error, and so is
//! a CIDR block with host bits set (`10.1.2.3/8` is refused, naming `10.0.0.0/8`, rather than
//! silently widened). A set with a bad line is refused whole, with every bad line of every
//! list (up to [`MAX_ERRORS_REPORTED`] per list), so a reload keeps the set that runs.
//!
//! [`IocSet::lookup`] answers with the ids of every list containing the address, ascending;
//! [`IocSet::list_name`] names them. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is the
//! IPv4 address `a.b.c.d`, both in lists and in look-ups: `::ffff:198.51.100.0/120` in a list
//! is `198.51.100.0/24`, and an IPv6 block that covers `::ffff:0:0/96` (such as `::/0`)
//! covers the IPv4 addresses inside it too.
//!
//! ```
//! use canh_rules::ioc::IocSet;
//!
//! let lists = vec![
//!     ("feeds/c2.txt".to_owned(), "# C2 servers\n203.0.113.7\n2001:db8:bad::/48\n".to_owned()),
//!     ("feeds/tor.txt".to_owned(), "203.0.113.0/24  # exit nodes\n".to_owned()),
//! ];
//! let (set, loaded) = IocSet::parse(&lists)?;
//! assert_eq!((loaded[0].entries, loaded[1].entries, set.len()), (2, 1, 3));
//!
//! let ids = set.lookup("203.0.113.7".parse()?).unwrap_or_default();
//! let names: Vec<&str> = ids.iter().map(|&id| set.list_name(id)).collect();
//! assert_eq!(names, ["feeds/c2.txt", "feeds/tor.txt"]);
//! assert_eq!(set.lookup("::ffff:203.0.113.9".parse()?), Some(&[1u16][..]));
//! assert_eq!(set.lookup("2001:db8:bad:1::5".parse()?), Some(&[0u16][..]));
//! assert_eq!(set.lookup("198.51.100.1".parse()?), None);
//!
//! let bad = vec![("bad.txt".to_owned(), "10.0.0.1/33\n10.0.0.2\n10.0.0.300\n".to_owned())];
//! assert_eq!(
//!     IocSet::parse(&bad).unwrap_err().to_string(),
//!     "bad.txt:1: expected a prefix length from 0 to 32 after `/`, found `33`\n\
//!      bad.txt:3: expected an IPv4 or IPv6 address, found `10.0.0.300`"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layout
//!
//! Entries of all lists are cut into disjoint intervals, each labelled with the set of lists
//! that contain all of it; adjacent intervals with the same set are merged. IPv4 intervals are
//! `u32` pairs, IPv6 ones `u128` pairs, stored as parallel sorted arrays of starts, ends and an
//! index into one interned table of list-id sets (most intervals share a handful of sets).
//! A look-up goes through a first-level table of 65,536 buckets over the span of that
//! family's intervals (the /16s when entries spread over all of IPv4), which bounds the binary
//! search to the few intervals meeting the address's bucket. A set is immutable:
//! reloading parses a new one and swaps it in.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Most lists in one set: list ids are `u16`, and every list may take part in the id set of
/// each interval, so the count also bounds how large one such set can be.
pub const MAX_LISTS: usize = 1024;
/// Most entries of all lists together: several times the largest public feeds, and bounded
/// memory: 16 Mi IPv6 host entries peak at about 1.8 GiB while the set is built (9 s) and
/// keep 580 MiB of tables; more is a wrong file.
pub const MAX_ENTRIES_TOTAL: usize = 16 << 20;
/// Longest line, in bytes: an address, a prefix and a comment fit many times over; a longer
/// line means the file is not an address list (binary data, one huge line).
pub const MAX_LINE_LEN: usize = 4096;
/// Most bad lines reported per list: enough to see the pattern of a wrong format without
/// burying the other lists' errors (the rest are counted).
pub const MAX_ERRORS_REPORTED: usize = 20;
/// Most list ids in the interned table of id sets (32 MiB): only thousands of lists nested
/// inside each other in millions of different ways come near it.
pub const MAX_LIST_SET_IDS: usize = 16 << 20;
/// Longest bad text quoted in a message, in characters; longer text is cut with `…`.
const MAX_QUOTED: usize = 80;

/// Buckets of the first-level table of each address family (256 KiB of `u32`): on a million
/// random IPv4 entries a bucket holds about eight intervals, three binary-search steps.
const RADIX_BUCKETS: usize = 1 << 16;

/// `::ffff:0:0`, the start of the IPv4-mapped IPv6 block `::ffff:0:0/96`.
const MAPPED_START: u128 = 0xffff_0000_0000;
/// The last address of `::ffff:0:0/96`.
const MAPPED_END: u128 = MAPPED_START | 0xffff_ffff;

/// One list as parsed: its name and how many address or CIDR lines it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IocList {
    pub name: String,
    pub entries: usize,
}

/// One bad line of a list, rendered `name:line: message` (1-based line). The message quotes
/// the bad text (cut to 80 characters, control characters escaped).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{list}:{line}: {message}")]
pub struct BadLine {
    pub list: String,
    pub line: usize,
    pub message: String,
}

/// Why a set of lists was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IocError {
    /// Lines that are not an address or CIDR block, one per line of the message, in list and
    /// line order; `omitted` counts, per list, the bad lines past [`MAX_ERRORS_REPORTED`].
    #[error("{}", render_bad_lines(.errors, .omitted))]
    BadLines {
        errors: Vec<BadLine>,
        omitted: Vec<(String, usize)>,
    },
    #[error("{count} lists given, at most {MAX_LISTS} are supported")]
    TooManyLists { count: usize },
    /// The entry at `list:line` is one more than `max` ([`MAX_ENTRIES_TOTAL`]).
    #[error("{list}:{line}: more than {max} entries in all lists together")]
    TooManyEntries {
        list: String,
        line: usize,
        max: usize,
    },
    #[error(
        "the lists overlap in too many ways: their sets of list ids would hold more than \
         {MAX_LIST_SET_IDS} ids"
    )]
    TooManyOverlaps,
}

fn render_bad_lines(errors: &[BadLine], omitted: &[(String, usize)]) -> String {
    let mut lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    for (list, n) in omitted {
        lines.push(format!("{list}: {n} more bad lines not shown"));
    }
    lines.join("\n")
}

/// The lists containing each IP address of a set of IOC lists (see the [module](self) docs).
/// The default set has no list and contains nothing.
#[derive(Debug, Clone, Default)]
pub struct IocSet {
    names: Vec<String>,
    entries: usize,
    v4: Ranges<u32>,
    v6: Ranges<u128>,
    sets: SetTable,
}

impl IocSet {
    /// Parses lists `(name, text)`; list ids are the positions in `lists`. Returns the set and
    /// one [`IocList`] per list, or every bad line of every list.
    pub fn parse(lists: &[(String, String)]) -> Result<(IocSet, Vec<IocList>), IocError> {
        IocSet::parse_limited(lists, MAX_ENTRIES_TOTAL)
    }

    /// [`IocSet::parse`] with a lower entry limit, so tests can reach it.
    fn parse_limited(
        lists: &[(String, String)],
        max_entries: usize,
    ) -> Result<(IocSet, Vec<IocList>), IocError> {
        if lists.len() > MAX_LISTS {
            return Err(IocError::TooManyLists { count: lists.len() });
        }
        let mut raw4: Vec<(u32, u32, u16)> = Vec::new();
        let mut raw6: Vec<(u128, u128, u16)> = Vec::new();
        let mut loaded = Vec::with_capacity(lists.len());
        let mut errors = Vec::new();
        let mut omitted = Vec::new();
        let mut total = 0usize;
        for (id, (name, text)) in (0u16..).zip(lists) {
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            let mut entries = 0usize;
            let mut bad = 0usize;
            for (n, line) in text.lines().enumerate() {
                let parsed = if line.len() > MAX_LINE_LEN {
                    Err(format!(
                        "line of {} bytes, longer than {MAX_LINE_LEN}: `{}`",
                        line.len(),
                        quote(line)
                    ))
                } else {
                    parse_line(line)
                };
                match parsed {
                    Ok(None) => {}
                    Ok(Some(net)) => {
                        if total == max_entries {
                            return Err(IocError::TooManyEntries {
                                list: name.clone(),
                                line: n + 1,
                                max: max_entries,
                            });
                        }
                        total += 1;
                        entries += 1;
                        match net {
                            Net::V4(start, end) => raw4.push((start, end, id)),
                            Net::V6(start, end) => {
                                if start <= MAPPED_END && end >= MAPPED_START {
                                    let lo = start.max(MAPPED_START) - MAPPED_START;
                                    let hi = end.min(MAPPED_END) - MAPPED_START;
                                    raw4.push((low_u32(lo), low_u32(hi), id));
                                }
                                if start < MAPPED_START || end > MAPPED_END {
                                    raw6.push((start, end, id));
                                }
                            }
                        }
                    }
                    Err(message) => {
                        bad += 1;
                        if bad <= MAX_ERRORS_REPORTED {
                            errors.push(BadLine {
                                list: name.clone(),
                                line: n + 1,
                                message,
                            });
                        }
                    }
                }
            }
            if bad > MAX_ERRORS_REPORTED {
                omitted.push((name.clone(), bad - MAX_ERRORS_REPORTED));
            }
            loaded.push(IocList {
                name: name.clone(),
                entries,
            });
        }
        if !errors.is_empty() {
            return Err(IocError::BadLines { errors, omitted });
        }
        let mut interner = Interner::default();
        let v4 = disjoint(raw4, lists.len(), &mut interner)?;
        let v6 = disjoint(raw6, lists.len(), &mut interner)?;
        let set = IocSet {
            names: lists.iter().map(|(name, _)| name.clone()).collect(),
            entries: total,
            v4,
            v6,
            sets: interner.table,
        };
        Ok((set, loaded))
    }

    /// The ids of the lists containing `ip`, ascending; `None` when no list does.
    pub fn lookup(&self, ip: IpAddr) -> Option<&[u16]> {
        match ip {
            IpAddr::V4(a) => self.lookup_v4(a),
            IpAddr::V6(a) => self.lookup_v6(a),
        }
    }

    /// [`IocSet::lookup`] for an IPv4 address.
    pub fn lookup_v4(&self, ip: Ipv4Addr) -> Option<&[u16]> {
        self.v4.find(u32::from(ip)).map(|set| self.sets.get(set))
    }

    /// [`IocSet::lookup`] for an IPv6 address; an IPv4-mapped one is looked up as IPv4.
    pub fn lookup_v6(&self, ip: Ipv6Addr) -> Option<&[u16]> {
        if let Some(v4) = ip.to_ipv4_mapped() {
            return self.lookup_v4(v4);
        }
        self.v6.find(u128::from(ip)).map(|set| self.sets.get(set))
    }

    /// The name of list `id` as given to [`IocSet::parse`]; empty for an id it did not give.
    pub fn list_name(&self, id: u16) -> &str {
        self.names.get(usize::from(id)).map_or("", String::as_str)
    }

    /// How many lists the set was parsed from.
    pub fn list_count(&self) -> usize {
        self.names.len()
    }

    /// Entries (address and CIDR lines) of all lists together.
    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Disjoint intervals after merging: `(IPv4, IPv6)`.
    pub fn intervals(&self) -> (usize, usize) {
        (self.v4.len(), self.v6.len())
    }

    /// Bytes of the look-up structures (interval arrays, first-level tables, id sets).
    pub fn memory_bytes(&self) -> usize {
        self.v4.memory_bytes() + self.v6.memory_bytes() + self.sets.memory_bytes()
    }
}

/// One parsed entry: an inclusive address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Net {
    V4(u32, u32),
    V6(u128, u128),
}

/// One list line: `Ok(None)` for a blank or comment line; the error message quotes the text.
fn parse_line(line: &str) -> Result<Option<Net>, String> {
    // One pass over the bytes to the end of the address; `trim` and `find` on the whole line
    // cost more than the address parse itself.
    let bytes = line.as_bytes();
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes[start..]
        .iter()
        .position(|&b| b.is_ascii_whitespace() || matches!(b, b'#' | b';' | b','))
        .map_or(bytes.len(), |n| start + n);
    let (token, tail) = (&line[start..end], &line[end..]);
    let rest = tail.find(['#', ';']).map_or(tail, |i| &tail[..i]).trim();
    if !rest.is_empty() {
        return Err(if token.is_empty() {
            format!("expected an IPv4 or IPv6 address, found `{}`", quote(rest))
        } else {
            format!(
                "unexpected `{}` after `{}`: a line holds one address or CIDR block and an \
                 optional `#` comment",
                quote(rest),
                quote(token)
            )
        });
    }
    if token.is_empty() {
        return Ok(None);
    }
    let (addr, prefix) = match token.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (token, None),
    };
    let not_an_address = || format!("expected an IPv4 or IPv6 address, found `{}`", quote(addr));
    let bad_prefix = |bits: u32, p: &str| {
        format!(
            "expected a prefix length from 0 to {bits} after `/`, found `{}`",
            quote(p)
        )
    };
    if addr.contains(':') {
        let ip: Ipv6Addr = addr.parse().map_err(|_| not_an_address())?;
        let len = match prefix {
            None => 128,
            Some(p) => prefix_len(p, 128).ok_or_else(|| bad_prefix(128, p))?,
        };
        let a = u128::from(ip);
        let host = u128::MAX.checked_shr(len).unwrap_or(0);
        if a & host != 0 {
            let net = Ipv6Addr::from(a & !host);
            return Err(host_bits_message(token, &net, len));
        }
        Ok(Some(Net::V6(a, a | host)))
    } else {
        let ip: Ipv4Addr = addr.parse().map_err(|_| not_an_address())?;
        let len = match prefix {
            None => 32,
            Some(p) => prefix_len(p, 32).ok_or_else(|| bad_prefix(32, p))?,
        };
        let a = u32::from(ip);
        let host = u32::MAX.checked_shr(len).unwrap_or(0);
        if a & host != 0 {
            let net = Ipv4Addr::from(a & !host);
            return Err(host_bits_message(token, &net, len));
        }
        Ok(Some(Net::V4(a, a | host)))
    }
}

fn host_bits_message(token: &str, net: &dyn fmt::Display, len: u32) -> String {
    format!(
        "`{}` has host bits set: the /{len} block is `{net}/{len}`",
        quote(token)
    )
}

/// A prefix length: one to three ASCII digits, at most `bits`.
fn prefix_len(text: &str, bits: u32) -> Option<u32> {
    if text.is_empty() || text.len() > 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let len = text.bytes().fold(0u32, |n, b| n * 10 + u32::from(b - b'0'));
    (len <= bits).then_some(len)
}

/// `text` for a message: at most [`MAX_QUOTED`] characters, control characters escaped.
fn quote(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == MAX_QUOTED {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The low 32 bits (callers pass offsets inside `::ffff:0:0/96`, which fit).
fn low_u32(x: u128) -> u32 {
    (x & 0xffff_ffff) as u32
}

/// A `u32` index; interval counts stay below `2 * MAX_ENTRIES_TOTAL + 1`, far from the limit.
fn index_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Address integers: `u32` for IPv4, `u128` for IPv6.
trait Addr: Copy + Ord + Default + fmt::Debug + Into<u128> {
    const MAX: Self;
    fn checked_succ(self) -> Option<Self>;
    /// `self - 1`; only called on a value above zero.
    fn pred(self) -> Self;
    /// `(self - base) >> shift`, for `self >= base` and a result below [`RADIX_BUCKETS`].
    fn bucket(self, base: Self, shift: u32) -> usize;
    /// `base + (bucket << shift)`, the first address of a bucket.
    fn bucket_start(base: Self, bucket: usize, shift: u32) -> Self;
}

impl Addr for u32 {
    const MAX: Self = u32::MAX;
    fn checked_succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Self {
        self.saturating_sub(1)
    }
    fn bucket(self, base: Self, shift: u32) -> usize {
        ((self - base) >> shift) as usize
    }
    fn bucket_start(base: Self, bucket: usize, shift: u32) -> Self {
        base + ((bucket as u32) << shift)
    }
}

impl Addr for u128 {
    const MAX: Self = u128::MAX;
    fn checked_succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Self {
        self.saturating_sub(1)
    }
    fn bucket(self, base: Self, shift: u32) -> usize {
        ((self - base) >> shift) as usize
    }
    fn bucket_start(base: Self, bucket: usize, shift: u32) -> Self {
        base + ((bucket as u128) << shift)
    }
}

/// Disjoint, sorted, inclusive intervals with the id-set index of each, and a first-level
/// table that narrows the binary search for an address to the intervals of its bucket.
///
/// The table cuts `base..=last` (the first start to the last end) into at most
/// [`RADIX_BUCKETS`] buckets of `1 << shift` addresses, the fewest bits that fit; so it
/// adapts to where the entries are (all of IPv4, or only 2000::/3 of IPv6). `first[k]` is the
/// first interval ending in or after bucket `k`, and `first[buckets]` is the interval count:
/// the intervals meeting bucket `k` are `first[k]` through `first[k + 1]`, the last of which
/// may start in bucket `k` and run on.
#[derive(Debug, Clone, Default)]
struct Ranges<T> {
    starts: Vec<T>,
    ends: Vec<T>,
    sets: Vec<u32>,
    base: T,
    last: T,
    shift: u32,
    first: Box<[u32]>,
}

impl<T: Addr> Ranges<T> {
    fn len(&self) -> usize {
        self.starts.len()
    }

    /// Builds the first-level table once every interval is in.
    fn index(&mut self) {
        let (Some(&base), Some(&last)) = (self.starts.first(), self.ends.last()) else {
            return;
        };
        let span: u128 = last.into() - base.into();
        let bits = u128::BITS - span.leading_zeros();
        let shift = bits.saturating_sub(RADIX_BUCKETS.trailing_zeros());
        let buckets = usize::try_from(span >> shift).unwrap_or(RADIX_BUCKETS - 1) + 1;
        let mut first = Vec::with_capacity(buckets + 1);
        let mut i = 0;
        for k in 0..buckets {
            let bucket_start = T::bucket_start(base, k, shift);
            while i < self.len() && self.ends[i] < bucket_start {
                i += 1;
            }
            first.push(index_u32(i));
        }
        first.push(index_u32(self.len()));
        (self.base, self.last, self.shift) = (base, last, shift);
        self.first = first.into_boxed_slice();
    }

    /// The set of the interval containing `a`.
    fn find(&self, a: T) -> Option<u32> {
        if self.first.is_empty() || a < self.base || a > self.last {
            return None;
        }
        let k = a.bucket(self.base, self.shift);
        let lo = self.first[k] as usize;
        let hi = (self.first[k + 1] as usize + 1).min(self.len());
        self.find_in(lo, hi, a)
    }

    /// The set of the interval containing `a`, searching intervals `lo..hi`, which must hold
    /// every interval that can contain `a`.
    fn find_in(&self, lo: usize, hi: usize, a: T) -> Option<u32> {
        let k = self.starts.get(lo..hi)?.partition_point(|&s| s <= a);
        if k == 0 {
            return None;
        }
        let i = lo + k - 1;
        (self.ends[i] >= a).then(|| self.sets[i])
    }

    /// Appends `start..=end` (after every interval so far), merged into the last interval
    /// when it adjoins it with the same set.
    fn push(&mut self, start: T, end: T, set: u32) {
        if let (Some(last_end), Some(&last_set)) = (self.ends.last_mut(), self.sets.last())
            && last_set == set
            && last_end.checked_succ() == Some(start)
        {
            *last_end = end;
            return;
        }
        self.starts.push(start);
        self.ends.push(end);
        self.sets.push(set);
    }

    fn shrink(&mut self) {
        self.starts.shrink_to_fit();
        self.ends.shrink_to_fit();
        self.sets.shrink_to_fit();
    }

    fn memory_bytes(&self) -> usize {
        self.starts.capacity() * size_of::<T>()
            + self.ends.capacity() * size_of::<T>()
            + self.sets.capacity() * size_of::<u32>()
            + self.first.len() * size_of::<u32>()
    }
}

/// Cuts entries `(start, end, list)` into disjoint intervals labelled with the lists that
/// contain them: a sweep over the sorted starts and ends, keeping per list how many of its
/// entries cover the current position.
fn disjoint<T: Addr>(
    raw: Vec<(T, T, u16)>,
    lists: usize,
    interner: &mut Interner,
) -> Result<Ranges<T>, IocError> {
    // (position, list << 1 | 1 for a start and 0 for the address after an end)
    let mut events: Vec<(T, u32)> = Vec::with_capacity(raw.len() * 2);
    for (start, end, list) in raw {
        let list = u32::from(list) << 1;
        events.push((start, list | 1));
        if let Some(after) = end.checked_succ() {
            events.push((after, list));
        }
    }
    // Order within one position does not matter: all its events apply before the position's
    // interval is emitted, and an entry's end always lies after its start.
    events.sort_unstable_by_key(|&(pos, _)| pos);
    let mut covering = vec![0u32; lists];
    let mut active: Vec<u16> = Vec::new();
    let mut active_set: Option<u32> = None;
    let mut out = Ranges::default();
    let mut i = 0;
    while let Some(&(pos, _)) = events.get(i) {
        while let Some(&(at, tag)) = events.get(i)
            && at == pos
        {
            let list = (tag >> 1) as u16;
            let count = &mut covering[usize::from(list)];
            if tag & 1 == 1 {
                *count += 1;
                if *count == 1 {
                    let k = active.partition_point(|&l| l < list);
                    active.insert(k, list);
                    active_set = None;
                }
            } else {
                *count -= 1;
                if *count == 0 {
                    let k = active.partition_point(|&l| l < list);
                    active.remove(k);
                    active_set = None;
                }
            }
            i += 1;
        }
        if active.is_empty() {
            continue;
        }
        let end = events.get(i).map_or(T::MAX, |&(next, _)| next.pred());
        let set = match active_set {
            Some(set) => set,
            None => {
                let set = interner.intern(&active)?;
                active_set = Some(set);
                set
            }
        };
        out.push(pos, end, set);
    }
    out.shrink();
    out.index();
    Ok(out)
}

/// Distinct sets of list ids, each sorted, stored end to end.
#[derive(Debug, Clone)]
struct SetTable {
    /// Set `k` is `ids[offsets[k]..offsets[k + 1]]`.
    offsets: Vec<u32>,
    ids: Vec<u16>,
}

impl Default for SetTable {
    fn default() -> Self {
        SetTable {
            offsets: vec![0],
            ids: Vec::new(),
        }
    }
}

impl SetTable {
    fn get(&self, set: u32) -> &[u16] {
        let k = set as usize;
        match (self.offsets.get(k), self.offsets.get(k + 1)) {
            (Some(&lo), Some(&hi)) => &self.ids[lo as usize..hi as usize],
            _ => &[],
        }
    }

    fn memory_bytes(&self) -> usize {
        self.offsets.capacity() * size_of::<u32>() + self.ids.capacity() * size_of::<u16>()
    }
}

/// Builds a [`SetTable`], entering each distinct set once.
#[derive(Debug, Default)]
struct Interner {
    table: SetTable,
    index: HashMap<Box<[u16]>, u32>,
}

impl Interner {
    fn intern(&mut self, ids: &[u16]) -> Result<u32, IocError> {
        if let Some(&set) = self.index.get(ids) {
            return Ok(set);
        }
        if self.table.ids.len() + ids.len() > MAX_LIST_SET_IDS {
            return Err(IocError::TooManyOverlaps);
        }
        let set = index_u32(self.table.offsets.len() - 1);
        self.table.ids.extend_from_slice(ids);
        self.table.offsets.push(index_u32(self.table.ids.len()));
        self.index.insert(ids.into(), set);
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    //! The look-up table, exact error messages, look-ups ≡ a naive scan of the entries as
    //! written (random small sets, and one of a million entries).

    use super::*;
    use proptest::prelude::*;
    use std::fmt::Write as _;

    fn owned(lists: &[(&str, &str)]) -> Vec<(String, String)> {
        lists
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
            .collect()
    }

    fn parse_ok(lists: &[(&str, &str)]) -> (IocSet, Vec<IocList>) {
        IocSet::parse(&owned(lists)).unwrap_or_else(|e| panic!("{lists:?}: {e}"))
    }

    fn names(set: &IocSet, ip: IpAddr) -> Vec<&str> {
        set.lookup(ip)
            .unwrap_or_default()
            .iter()
            .map(|&id| set.list_name(id))
            .collect()
    }

    /// `(what, lists (name, text), entries per list, [(address, lists containing it)])`.
    type LookupCase = (
        &'static str,
        &'static [(&'static str, &'static str)],
        &'static [usize],
        &'static [(&'static str, &'static [&'static str])],
    );

    const LOOKUPS: &[LookupCase] = &[
        (
            "ipv4 hosts and cidr edges",
            &[(
                "a",
                "10.0.0.0/8\n192.0.2.1\n198.51.100.0/31\n203.0.113.255/32\n0.0.0.0/31\n255.255.255.255\n",
            )],
            &[6],
            &[
                ("9.255.255.255", &[]),
                ("10.0.0.0", &["a"]),
                ("10.128.7.1", &["a"]),
                ("10.255.255.255", &["a"]),
                ("11.0.0.0", &[]),
                ("192.0.2.0", &[]),
                ("192.0.2.1", &["a"]),
                ("192.0.2.2", &[]),
                ("198.51.99.255", &[]),
                ("198.51.100.0", &["a"]),
                ("198.51.100.1", &["a"]),
                ("198.51.100.2", &[]),
                ("203.0.113.254", &[]),
                ("203.0.113.255", &["a"]),
                ("203.0.114.0", &[]),
                ("0.0.0.0", &["a"]),
                ("0.0.0.1", &["a"]),
                ("0.0.0.2", &[]),
                ("255.255.255.254", &[]),
                ("255.255.255.255", &["a"]),
            ],
        ),
        (
            "ipv4 /0 covers every ipv4 address, mapped too, and no ipv6 one",
            &[("all", "0.0.0.0/0\n")],
            &[1],
            &[
                ("0.0.0.0", &["all"]),
                ("255.255.255.255", &["all"]),
                ("::ffff:1.2.3.4", &["all"]),
                ("::1.2.3.4", &[]),
                ("2001:db8::1", &[]),
            ],
        ),
        (
            "ipv6 hosts and cidr edges",
            &[(
                "six",
                "2001:db8::/32\n2001:db9::1\n::/128\n::1\nffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128\nfe80::/10\n",
            )],
            &[6],
            &[
                ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", &[]),
                ("2001:db8::", &["six"]),
                ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", &["six"]),
                ("2001:db9::", &[]),
                ("2001:db9::1", &["six"]),
                ("2001:db9::2", &[]),
                ("::", &["six"]),
                ("::1", &["six"]),
                ("::2", &[]),
                ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", &[]),
                ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &["six"]),
                ("fe80::1", &["six"]),
                ("febf:ffff::", &["six"]),
                ("fec0::", &[]),
                ("0.0.0.0", &[]),
                ("0.0.0.1", &[]),
            ],
        ),
        (
            "ipv6 /0 covers the ipv4-mapped block, so every ipv4 address",
            &[("any6", "::/0\n")],
            &[1],
            &[
                ("::", &["any6"]),
                ("2001:db8::1", &["any6"]),
                ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &["any6"]),
                ("1.2.3.4", &["any6"]),
                ("::ffff:1.2.3.4", &["any6"]),
            ],
        ),
        (
            "overlaps across lists and within one list",
            &[
                ("a", "10.0.0.0/8\n"),
                ("b", "10.1.0.0/16\n10.1.2.3\n10.1.0.0/17\n"),
                ("c", "10.1.2.0/24  # c\n10.1.2.3/32\n10.1.2.3\n"),
            ],
            &[1, 3, 3],
            &[
                ("10.0.255.255", &["a"]),
                ("10.1.0.0", &["a", "b"]),
                ("10.1.1.255", &["a", "b"]),
                ("10.1.2.0", &["a", "b", "c"]),
                ("10.1.2.3", &["a", "b", "c"]),
                ("10.1.2.255", &["a", "b", "c"]),
                ("10.1.3.0", &["a", "b"]),
                ("10.1.128.0", &["a", "b"]),
                ("10.1.255.255", &["a", "b"]),
                ("10.2.0.0", &["a"]),
                ("11.0.0.0", &[]),
            ],
        ),
        (
            "lists in another order keep their ids",
            &[
                ("c", "10.1.2.3\n"),
                ("b", "10.0.0.0/8\n"),
                ("a", "10.1.2.3\n"),
            ],
            &[1, 1, 1],
            &[("10.1.2.3", &["c", "b", "a"]), ("10.9.9.9", &["b"])],
        ),
        (
            "ipv4-mapped ipv6 entries and addresses are ipv4",
            &[
                ("m", "::ffff:192.0.2.0/120\n::ffff:198.51.100.7\n"),
                ("v4", "198.51.100.0/24\n"),
                ("block", "::ffff:0:0/96\n"),
            ],
            &[2, 1, 1],
            &[
                ("192.0.2.9", &["m", "block"]),
                ("::ffff:192.0.2.9", &["m", "block"]),
                ("::ffff:c000:209", &["m", "block"]),
                ("198.51.100.7", &["m", "v4", "block"]),
                ("::ffff:198.51.100.8", &["v4", "block"]),
                ("8.8.8.8", &["block"]),
                ("::192.0.2.9", &[]),
                ("::fffe:c000:209", &[]),
                ("64:ff9b::192.0.2.9", &[]),
            ],
        ),
        (
            "comments, blank lines, crlf, a bom, `;` comments, surrounding spaces",
            &[(
                "c",
                "\u{feff}# header\r\n\r\n  10.0.0.1  # trailing\r\n10.0.0.2;SBL123\n\t\n# 10.0.0.3\n10.0.0.4/32#x\n2001:db8::/64 ; drop\n",
            )],
            &[4],
            &[
                ("10.0.0.1", &["c"]),
                ("10.0.0.2", &["c"]),
                ("10.0.0.3", &[]),
                ("10.0.0.4", &["c"]),
                ("2001:db8::ffff", &["c"]),
            ],
        ),
        (
            "empty lists",
            &[("empty", ""), ("comments", "# nothing\n\n")],
            &[0, 0],
            &[("10.0.0.1", &[]), ("::1", &[]), ("::ffff:10.0.0.1", &[])],
        ),
    ];

    #[test]
    fn lookup_table() {
        for (what, lists, entries, queries) in LOOKUPS {
            let (set, loaded) = parse_ok(lists);
            let counts: Vec<usize> = loaded.iter().map(|l| l.entries).collect();
            assert_eq!(&counts, entries, "{what}: entries");
            assert_eq!(set.len(), entries.iter().sum::<usize>(), "{what}: len");
            for (i, (name, _)) in lists.iter().enumerate() {
                assert_eq!(loaded[i].name, *name, "{what}");
                assert_eq!(set.list_name(u16::try_from(i).unwrap()), *name, "{what}");
            }
            for (addr, expected) in *queries {
                let ip: IpAddr = addr.parse().unwrap();
                assert_eq!(&names(&set, ip), expected, "{what}: {addr}");
                let naive = Naive::from_text(lists).lookup(ip);
                let got = set.lookup(ip).unwrap_or_default();
                assert_eq!(got, &naive[..], "{what}: {addr} against the naive scan");
            }
        }
    }

    #[test]
    fn adjacent_entries_merge_into_one_interval() {
        let mut text = String::new();
        for i in 0..=255 {
            writeln!(text, "192.0.2.{i}").unwrap();
        }
        text.push_str("198.51.100.0/25\n198.51.100.128/25\n2001:db8::/64\n2001:db8:0:1::/64\n");
        let (set, _) = parse_ok(&[("a", &text), ("b", "203.0.113.0/24\n")]);
        // 192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24 (another list's, kept apart)
        assert_eq!(set.intervals(), (3, 1));
        assert_eq!(set.len(), 261);
        assert_eq!(set.list_name(2), "");
        assert_eq!(set.list_count(), 2);
    }

    #[test]
    fn empty_set() {
        let set = IocSet::default();
        assert!(set.is_empty());
        assert_eq!(set.lookup("10.0.0.1".parse().unwrap()), None);
        assert_eq!(set.lookup("::1".parse().unwrap()), None);
        let (set, lists) = IocSet::parse(&[]).unwrap();
        assert!(set.is_empty() && lists.is_empty());
    }

    /// `(lists, the error message)`.
    const ERRORS: &[(&[(&str, &str)], &str)] = &[
        (
            &[("bad.txt", "10.0.0.1\n10.0.0.256\n")],
            "bad.txt:2: expected an IPv4 or IPv6 address, found `10.0.0.256`",
        ),
        (
            &[("bad.txt", "10.0.0.0/33\n")],
            "bad.txt:1: expected a prefix length from 0 to 32 after `/`, found `33`",
        ),
        (
            &[("bad.txt", "2001:db8::/129\n")],
            "bad.txt:1: expected a prefix length from 0 to 128 after `/`, found `129`",
        ),
        (
            &[(
                "bad.txt",
                "10.0.0.0/\n10.0.0.0/-1\n10.0.0.0/1000\n10.0.0.0/ 8\n",
            )],
            "bad.txt:1: expected a prefix length from 0 to 32 after `/`, found ``\n\
             bad.txt:2: expected a prefix length from 0 to 32 after `/`, found `-1`\n\
             bad.txt:3: expected a prefix length from 0 to 32 after `/`, found `1000`\n\
             bad.txt:4: unexpected `8` after `10.0.0.0/`: a line holds one address or CIDR block and an optional `#` comment",
        ),
        (
            &[(
                "bad.txt",
                "10.1.2.3/8\n2001:db8::1/64\n::ffff:10.0.0.1/120\n",
            )],
            "bad.txt:1: `10.1.2.3/8` has host bits set: the /8 block is `10.0.0.0/8`\n\
             bad.txt:2: `2001:db8::1/64` has host bits set: the /64 block is `2001:db8::/64`\n\
             bad.txt:3: `::ffff:10.0.0.1/120` has host bits set: the /120 block is `::ffff:10.0.0.0/120`",
        ),
        (
            &[(
                "bad.txt",
                "10.0.0.1 evil.example\n10.0.0.2,botnet\n10.0.0.3\t10.0.0.4\n",
            )],
            "bad.txt:1: unexpected `evil.example` after `10.0.0.1`: a line holds one address or CIDR block and an optional `#` comment\n\
             bad.txt:2: unexpected `,botnet` after `10.0.0.2`: a line holds one address or CIDR block and an optional `#` comment\n\
             bad.txt:3: unexpected `10.0.0.4` after `10.0.0.3`: a line holds one address or CIDR block and an optional `#` comment",
        ),
        (
            &[(
                "bad.txt",
                "fe80::1%eth0\n[::1]\nexample.com\n1.2.3\n010.0.0.1\n10.0.0.1\u{0}\n",
            )],
            "bad.txt:1: expected an IPv4 or IPv6 address, found `fe80::1%eth0`\n\
             bad.txt:2: expected an IPv4 or IPv6 address, found `[::1]`\n\
             bad.txt:3: expected an IPv4 or IPv6 address, found `example.com`\n\
             bad.txt:4: expected an IPv4 or IPv6 address, found `1.2.3`\n\
             bad.txt:5: expected an IPv4 or IPv6 address, found `010.0.0.1`\n\
             bad.txt:6: expected an IPv4 or IPv6 address, found `10.0.0.1\\u{0}`",
        ),
        (
            &[
                ("good.txt", "10.0.0.1\n"),
                ("a.txt", "# ok\nx\n"),
                ("b.txt", "\n\n::1/200\n"),
            ],
            "a.txt:2: expected an IPv4 or IPv6 address, found `x`\n\
             b.txt:3: expected a prefix length from 0 to 128 after `/`, found `200`",
        ),
    ];

    #[test]
    fn error_messages() {
        for (lists, expected) in ERRORS {
            match IocSet::parse(&owned(lists)) {
                Ok(_) => panic!("{lists:?}: parsed, expected {expected}"),
                Err(e) => assert_eq!(e.to_string(), *expected, "{lists:?}"),
            }
        }
    }

    #[test]
    fn long_lines_are_cut_in_the_message() {
        let long = "1".repeat(MAX_LINE_LEN + 1);
        let quoted = format!("{}…", "1".repeat(MAX_QUOTED));
        let fits = format!("{}1.2.3.4", " ".repeat(MAX_LINE_LEN - 7));
        let err = IocSet::parse(&[("l".into(), format!("{long}\n{fits}\n"))]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("l:1: line of 4097 bytes, longer than 4096: `{quoted}`")
        );
        let too_long_token = format!("{}\n", "a".repeat(200));
        let err = IocSet::parse(&[("l".into(), too_long_token)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "l:1: expected an IPv4 or IPv6 address, found `{}…`",
                "a".repeat(80)
            )
        );
    }

    #[test]
    fn bad_lines_past_the_limit_are_counted() {
        let bad: String = (1..=25).map(|i| format!("bad{i}\n")).collect();
        let lists = vec![
            ("one.txt".to_owned(), bad.clone()),
            ("two.txt".to_owned(), format!("10.0.0.1\n{bad}")),
        ];
        let Err(IocError::BadLines { errors, omitted }) = IocSet::parse(&lists) else {
            panic!("expected bad lines");
        };
        assert_eq!(errors.len(), 2 * MAX_ERRORS_REPORTED);
        assert_eq!(
            errors[MAX_ERRORS_REPORTED].to_string(),
            "two.txt:2: expected an IPv4 or IPv6 address, found `bad1`"
        );
        assert_eq!(
            omitted,
            [("one.txt".to_owned(), 5), ("two.txt".to_owned(), 5)]
        );
        let text = IocError::BadLines { errors, omitted }.to_string();
        let last: Vec<&str> = text.lines().rev().take(2).collect();
        assert_eq!(
            last,
            [
                "two.txt: 5 more bad lines not shown",
                "one.txt: 5 more bad lines not shown"
            ]
        );
    }

    #[test]
    fn limits() {
        let lists = vec![(String::new(), String::new()); MAX_LISTS + 1];
        assert_eq!(
            IocSet::parse(&lists).unwrap_err().to_string(),
            "1025 lists given, at most 1024 are supported"
        );
        let lists = vec![(String::new(), String::new()); MAX_LISTS];
        assert_eq!(IocSet::parse(&lists).unwrap().1.len(), MAX_LISTS);

        let lists = owned(&[("a", "10.0.0.1\n10.0.0.2\n"), ("b", "# x\n10.0.0.3\n::1\n")]);
        assert_eq!(
            IocSet::parse_limited(&lists, 3).unwrap_err().to_string(),
            "b:3: more than 3 entries in all lists together"
        );
        assert_eq!(IocSet::parse_limited(&lists, 4).unwrap().0.len(), 4);
    }

    /// The reference: every entry as written, scanned in full for each address.
    #[derive(Debug, Default)]
    struct Naive {
        v4: Vec<(u32, u32, u16)>,
        v6: Vec<(u128, u128, u16)>,
    }

    impl Naive {
        fn from_text(lists: &[(&str, &str)]) -> Naive {
            let mut naive = Naive::default();
            for (id, (_, text)) in (0u16..).zip(lists) {
                for line in text.lines() {
                    match parse_line(line.trim_start_matches('\u{feff}')) {
                        Ok(Some(Net::V4(s, e))) => naive.v4.push((s, e, id)),
                        Ok(Some(Net::V6(s, e))) => naive.v6.push((s, e, id)),
                        _ => {}
                    }
                }
            }
            naive
        }

        fn push(&mut self, e: &Entry, list: u16) {
            let (s, end) = e.range();
            if e.v6 {
                self.v6.push((s, end, list));
            } else {
                self.v4.push((s as u32, end as u32, list));
            }
        }

        /// An IPv4 address (or an IPv4-mapped one) is in an IPv4 entry containing it or an
        /// IPv6 entry containing its mapped form; any other IPv6 address only in IPv6 entries.
        fn lookup(&self, ip: IpAddr) -> Vec<u16> {
            let v4 = match ip {
                IpAddr::V4(a) => Some(u32::from(a)),
                IpAddr::V6(a) => a.to_ipv4_mapped().map(u32::from),
            };
            let as_v6 = match (ip, v4) {
                (_, Some(a)) => MAPPED_START | u128::from(a),
                (IpAddr::V6(a), None) => u128::from(a),
                (IpAddr::V4(_), None) => unreachable!(),
            };
            let mut out: Vec<u16> = Vec::new();
            if let Some(a) = v4 {
                out.extend(self.v4.iter().filter(|e| e.0 <= a && a <= e.1).map(|e| e.2));
            }
            out.extend(
                self.v6
                    .iter()
                    .filter(|e| e.0 <= as_v6 && as_v6 <= e.1)
                    .map(|e| e.2),
            );
            out.sort_unstable();
            out.dedup();
            out
        }
    }

    /// A generated entry: a network address (host bits clear) and a prefix length.
    #[derive(Debug, Clone, Copy)]
    struct Entry {
        v6: bool,
        addr: u128,
        len: u32,
    }

    impl Entry {
        fn new(v6: bool, addr: u128, len: u32) -> Entry {
            let bits = if v6 { 128 } else { 32 };
            let len = len.min(bits);
            let host = if v6 {
                u128::MAX.checked_shr(len).unwrap_or(0)
            } else {
                u128::from(u32::MAX.checked_shr(len).unwrap_or(0))
            };
            Entry {
                v6,
                addr: addr & !host,
                len,
            }
        }

        fn range(&self) -> (u128, u128) {
            let host = if self.v6 {
                u128::MAX.checked_shr(self.len).unwrap_or(0)
            } else {
                u128::from(u32::MAX.checked_shr(self.len).unwrap_or(0))
            };
            (self.addr, self.addr | host)
        }

        fn ip(&self, offset: u128) -> IpAddr {
            let (s, e) = self.range();
            let a = s + offset % (e - s).saturating_add(1).max(1);
            let a = if e - s == u128::MAX { offset } else { a };
            to_ip(self.v6, a)
        }

        /// The entry as a list line, in one of a few spellings.
        fn render(&self, style: u8, out: &mut String) {
            let ip = to_ip(self.v6, self.addr);
            let full = if self.v6 { 128 } else { 32 };
            match style % 4 {
                0 if self.len == full => writeln!(out, "{ip}"),
                1 => writeln!(out, "  {ip}/{}  # note", self.len),
                2 => writeln!(out, "{ip}/{};x\n", self.len),
                _ => writeln!(out, "{ip}/{}", self.len),
            }
            .unwrap();
        }
    }

    fn to_ip(v6: bool, a: u128) -> IpAddr {
        if v6 {
            IpAddr::V6(Ipv6Addr::from(a))
        } else {
            IpAddr::V4(Ipv4Addr::from(a as u32))
        }
    }

    /// IPv4 values: a crowded /22 (so entries overlap), anything, the edges.
    fn v4_value() -> impl Strategy<Value = u128> {
        prop_oneof![
            4 => (0u128..0x400).prop_map(|x| 0x0a00_0000 | x),
            1 => any::<u32>().prop_map(u128::from),
            1 => Just(0u128),
            1 => Just(u128::from(u32::MAX)),
        ]
    }

    /// IPv6 values: a crowded corner of 2001:db8::/32, the mapped form of the crowded IPv4
    /// block, anything, the edges.
    fn v6_value() -> impl Strategy<Value = u128> {
        prop_oneof![
            3 => (0u128..0x400).prop_map(|x| (0x2001_0db8 << 96) | x),
            3 => (0u128..0x400).prop_map(|x| MAPPED_START | 0x0a00_0000 | x),
            1 => any::<u128>(),
            1 => 0u128..4,
            1 => Just(u128::MAX),
        ]
    }

    fn entry() -> impl Strategy<Value = Entry> {
        prop_oneof![
            (v4_value(), prop_oneof![4 => 22u32..=32, 1 => 0u32..=32])
                .prop_map(|(a, len)| Entry::new(false, a, len)),
            (
                v6_value(),
                prop_oneof![4 => 112u32..=128, 1 => 90u32..=100, 1 => 0u32..=128]
            )
                .prop_map(|(a, len)| Entry::new(true, a, len)),
        ]
    }

    fn address() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            v4_value().prop_map(|a| to_ip(false, a)),
            v6_value().prop_map(|a| to_ip(true, a)),
            v4_value().prop_map(|a| to_ip(true, MAPPED_START | a)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Random lists of overlapping entries: `lookup` answers what scanning every entry
        /// answers, for random addresses and for addresses inside the entries.
        #[test]
        fn lookup_equals_naive_scan(
            lists in prop::collection::vec(
                prop::collection::vec((entry(), any::<u8>()), 0..40), 1..5),
            addresses in prop::collection::vec(address(), 0..40),
            offsets in prop::collection::vec(any::<u128>(), 1..20),
        ) {
            let mut texts = Vec::new();
            let mut naive = Naive::default();
            for (id, entries) in (0u16..).zip(&lists) {
                let mut text = String::new();
                for (e, style) in entries {
                    e.render(*style, &mut text);
                    naive.push(e, id);
                }
                texts.push((format!("list{id}"), text));
            }
            let (set, loaded) = IocSet::parse(&texts).map_err(|e| TestCaseError::fail(e.to_string()))?;
            for (l, entries) in loaded.iter().zip(&lists) {
                prop_assert_eq!(l.entries, entries.len());
            }
            let inside = lists
                .iter()
                .flatten()
                .zip(offsets.iter().cycle())
                .map(|((e, _), &off)| e.ip(off));
            for ip in addresses.iter().copied().chain(inside) {
                let got = set.lookup(ip).unwrap_or_default();
                prop_assert_eq!(got, &naive.lookup(ip)[..], "{}", ip);
                if let IpAddr::V4(a) = ip {
                    prop_assert_eq!(set.lookup(IpAddr::V6(a.to_ipv6_mapped())), set.lookup(ip));
                }
            }
        }
    }

    /// SplitMix64: a small deterministic generator for the large test.
    pub(super) struct SplitMix(pub u64);

    impl SplitMix {
        pub fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn next_u128(&mut self) -> u128 {
            (u128::from(self.next()) << 64) | u128::from(self.next())
        }
    }

    /// A random entry of a feed: IPv4 /32s and /24s, IPv6 /64s and /128s in 2000::/4.
    fn feed_entry(rng: &mut SplitMix) -> Entry {
        let r = rng.next();
        let v6 = (rng.next_u128() & (u128::MAX >> 4)) | (2 << 124);
        match r % 4 {
            0 => Entry::new(false, u128::from(r >> 32), 32),
            1 => Entry::new(false, u128::from(r >> 32), 24),
            2 => Entry::new(true, v6, 64),
            _ => Entry::new(true, v6, 128),
        }
    }

    /// A million-entry list and a small list overlapping it: sampled look-ups (inside entries,
    /// random, IPv4-mapped) agree with the naive scan.
    #[test]
    fn million_entries_equal_naive_scan() {
        const ENTRIES: usize = 1_000_000;
        let samples = if cfg!(debug_assertions) { 300 } else { 2000 };
        let mut rng = SplitMix(0x1c0c_2024);
        let mut big = String::with_capacity(ENTRIES * 28);
        let mut small = String::new();
        let mut entries = Vec::with_capacity(ENTRIES);
        let mut naive = Naive::default();
        for i in 0..ENTRIES {
            let e = feed_entry(&mut rng);
            e.render(0, &mut big);
            naive.push(&e, 0);
            entries.push(e);
            if i % 1000 == 0 {
                // the same entry, or its wider block
                let wide = Entry::new(e.v6, e.addr, e.len - if i % 2000 == 0 { 0 } else { 8 });
                wide.render(1, &mut small);
                naive.push(&wide, 1);
            }
        }
        let lists = vec![("big.txt".to_owned(), big), ("small.txt".to_owned(), small)];
        let (set, loaded) = IocSet::parse(&lists).unwrap();
        assert_eq!(loaded[0].entries, ENTRIES);
        assert_eq!(loaded[1].entries, ENTRIES / 1000);
        let mut hits = 0;
        for k in 0..samples {
            let e = entries[(rng.next() % ENTRIES as u64) as usize];
            let ip = match k % 4 {
                0 | 1 => e.ip(rng.next_u128()),
                2 => to_ip(
                    e.v6,
                    if e.v6 {
                        rng.next_u128()
                    } else {
                        u128::from(rng.next() >> 32)
                    },
                ),
                _ => IpAddr::V6(Ipv4Addr::from(rng.next() as u32).to_ipv6_mapped()),
            };
            let expected = naive.lookup(ip);
            hits += usize::from(!expected.is_empty());
            assert_eq!(set.lookup(ip).unwrap_or_default(), &expected[..], "{ip}");
        }
        assert!(hits >= samples / 2, "{hits} hits of {samples}");
    }
}
