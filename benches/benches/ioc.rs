//! Criterion benches of the IOC address matcher (`canh_rules::ioc`) on a generated feed of
//! 1,000,000 entries — IPv4 /32s and /24s, IPv6 /64s and /128s (in 2000::/4), a quarter each —
//! plus a 1,000-entry list overlapping it (the same entries or their wider blocks).
//!
//! - `ioc_parse`: lines/s parsing and building the set from the two lists' text (~25 MB).
//! - `ioc_lookup`: look-ups/s of 65,536 addresses, about 10% inside an entry (the rest
//!   random): IPv4 only, IPv6 only, and a mix of IPv4, IPv6 and IPv4-mapped IPv6.
//!
//! The generator is seeded, so every run measures the same lists and addresses. The set's
//! interval counts, memory and the hit ratio of each address batch are printed once.

use std::fmt::Write as _;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use canh_rules::ioc::IocSet;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Entries of the big list.
const ENTRIES: usize = 1_000_000;
/// Every this many entries of the big list, one goes to the small overlapping list.
const OVERLAP_EVERY: usize = 1_000;
/// Addresses per measured look-up batch.
const BATCH: usize = 1 << 16;
/// Share of a batch picked inside an entry, in percent.
const HIT_PERCENT: u64 = 10;

/// SplitMix64, for reproducible lists and addresses without another dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn next_u128(&mut self) -> u128 {
        (u128::from(self.next()) << 64) | u128::from(self.next())
    }

    /// A random IPv6 address in 2000::/4, where the entries are.
    fn v6(&mut self) -> u128 {
        (self.next_u128() >> 4) | (2 << 124)
    }
}

/// A generated entry: network address and prefix length.
#[derive(Clone, Copy)]
enum Entry {
    V4(u32, u32),
    V6(u128, u32),
}

impl Entry {
    fn random(rng: &mut Rng) -> Entry {
        let r = rng.next();
        let a = (r >> 32) as u32;
        match r % 4 {
            0 => Entry::V4(a, 32),
            1 => Entry::V4(a & !0xff, 24),
            2 => Entry::V6(rng.v6() & !u128::from(u64::MAX), 64),
            _ => Entry::V6(rng.v6(), 128),
        }
    }

    fn wider(self) -> Entry {
        match self {
            Entry::V4(a, len) => Entry::V4(a & !(u32::MAX >> (len - 8)), len - 8),
            Entry::V6(a, len) => Entry::V6(a & !(u128::MAX >> (len - 8)), len - 8),
        }
    }

    fn write(self, out: &mut String) {
        match self {
            Entry::V4(a, 32) => writeln!(out, "{}", Ipv4Addr::from(a)),
            Entry::V4(a, len) => writeln!(out, "{}/{len}", Ipv4Addr::from(a)),
            Entry::V6(a, 128) => writeln!(out, "{}", Ipv6Addr::from(a)),
            Entry::V6(a, len) => writeln!(out, "{}/{len}  # feed", Ipv6Addr::from(a)),
        }
        .expect("writing to a String");
    }

    /// A random address inside the entry.
    fn inside(self, rng: &mut Rng) -> IpAddr {
        match self {
            Entry::V4(a, len) => {
                let host = u32::MAX.checked_shr(len).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(a | (rng.next() as u32 & host)))
            }
            Entry::V6(a, len) => {
                let host = u128::MAX.checked_shr(len).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(a | (rng.next_u128() & host)))
            }
        }
    }
}

struct Feed {
    lists: Vec<(String, String)>,
    v4: Vec<Entry>,
    v6: Vec<Entry>,
}

fn feed() -> Feed {
    let mut rng = Rng(0x10c5_eed5);
    let mut big = String::with_capacity(ENTRIES * 28);
    let mut small = String::new();
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for i in 0..ENTRIES {
        let e = Entry::random(&mut rng);
        e.write(&mut big);
        if i % OVERLAP_EVERY == 0 {
            let overlap = if i % (2 * OVERLAP_EVERY) == 0 {
                e
            } else {
                e.wider()
            };
            overlap.write(&mut small);
        }
        match e {
            Entry::V4(..) => v4.push(e),
            Entry::V6(..) => v6.push(e),
        }
    }
    Feed {
        lists: vec![
            ("feeds/big.txt".to_owned(), big),
            ("feeds/small.txt".to_owned(), small),
        ],
        v4,
        v6,
    }
}

/// `BATCH` addresses: `HIT_PERCENT`% inside an entry of `entries`, the rest from `random`.
fn batch(
    rng: &mut Rng,
    entries: &[&[Entry]],
    mut random: impl FnMut(&mut Rng) -> IpAddr,
) -> Vec<IpAddr> {
    (0..BATCH)
        .map(|k| {
            if rng.next() % 100 < HIT_PERCENT {
                let list = entries[k % entries.len()];
                list[(rng.next() % list.len() as u64) as usize].inside(rng)
            } else {
                random(rng)
            }
        })
        .collect()
}

fn hits(set: &IocSet, ips: &[IpAddr]) -> usize {
    ips.iter().filter(|&&ip| set.lookup(ip).is_some()).count()
}

fn bench_ioc(c: &mut Criterion) {
    let feed = feed();
    let lines: usize = feed.lists.iter().map(|(_, t)| t.lines().count()).sum();
    let bytes: usize = feed.lists.iter().map(|(_, t)| t.len()).sum();

    let mut group = c.benchmark_group("ioc_parse");
    group.sample_size(10);
    group.throughput(Throughput::Elements(lines as u64));
    group.bench_function("1m_lines", |b| {
        b.iter(|| IocSet::parse(black_box(&feed.lists)).expect("generated lists parse"))
    });
    group.finish();

    let (set, _) = IocSet::parse(&feed.lists).expect("generated lists parse");
    let (v4_intervals, v6_intervals) = set.intervals();
    println!(
        "ioc: {} entries in {lines} lines ({:.1} MB) → {v4_intervals} IPv4 and {v6_intervals} \
         IPv6 intervals, {:.1} MiB of look-up tables",
        set.len(),
        bytes as f64 / 1e6,
        set.memory_bytes() as f64 / f64::from(1 << 20),
    );

    let mut rng = Rng(0xadd7_e55e);
    let rand_v4 = |rng: &mut Rng| IpAddr::V4(Ipv4Addr::from(rng.next() as u32));
    let rand_v6 = |rng: &mut Rng| IpAddr::V6(Ipv6Addr::from(rng.v6()));
    let batches = [
        ("v4", batch(&mut rng, &[&feed.v4], rand_v4)),
        ("v6", batch(&mut rng, &[&feed.v6], rand_v6)),
        (
            "mixed",
            batch(&mut rng, &[&feed.v4, &feed.v6], |rng| {
                match rng.next() % 3 {
                    0 => rand_v4(rng),
                    1 => rand_v6(rng),
                    _ => IpAddr::V6(Ipv4Addr::from(rng.next() as u32).to_ipv6_mapped()),
                }
            }),
        ),
    ];

    let mut group = c.benchmark_group("ioc_lookup");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, ips) in &batches {
        println!(
            "ioc_lookup/{name}: {:.1}% of {BATCH} addresses hit",
            100.0 * hits(&set, ips) as f64 / BATCH as f64
        );
        group.bench_function(*name, |b| b.iter(|| hits(&set, black_box(ips))));
    }
    group.finish();
}

criterion_group!(benches, bench_ioc);
criterion_main!(benches);
