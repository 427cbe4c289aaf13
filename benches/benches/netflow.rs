//! NetFlow/IPFIX decoding from memory: canh's decoder vs the `netflow_parser` crate on the same
//! datagrams (the softflowd and pmacctd exports in ../shared/corpora/real-client-captures:
//! v5, v9 and IPFIX, each sequence starting with its templates). Each sequence is replayed
//! many times as one stream; flows/s counts data records decoded. `canh` builds the full ECS
//! event of every record (what the engine indexes); `canh_flows` stops at the typed stage
//! ([`Decoder::decode_flows`]: resolved addresses, ports, counters and times, no event).

use std::net::SocketAddr;
use std::path::Path;

use canh_collectors::netflow::{Decoder, FlowView};
use chrono::{TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use netflow_parser::variable_versions::ipfix::FlowSetBody as IpfixBody;
use netflow_parser::variable_versions::v9::FlowSetBody as V9Body;
use netflow_parser::{NetflowPacket, NetflowParser};

// the engine's allocator (engine/src/main.rs): decoding allocates per event, so the figures
// are the engine's only with the same allocator; both decoders run under it
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Times each capture is replayed per iteration (enough flows for a stable rate).
const REPLAYS: usize = 50;

fn captures() -> Vec<(String, Vec<Vec<u8>>)> {
    let root =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora/real-client-captures");
    let mut out = Vec::new();
    for exporter in ["netflow-softflowd", "netflow-pmacctd"] {
        for v in ["v5", "v9", "v10"] {
            let dir = root.join(exporter).join(v);
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut files: Vec<_> = rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "bin"))
                .collect();
            files.sort();
            let dgrams: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
            if !dgrams.is_empty() {
                out.push((
                    format!("{}-{v}", exporter.trim_start_matches("netflow-")),
                    dgrams,
                ));
            }
        }
    }
    if out.is_empty() {
        println!("skipped: ../shared/corpora/real-client-captures not found");
    }
    out
}

fn canh_records(dgrams: &[Vec<u8>]) -> u64 {
    let mut d = Decoder::default();
    let exporter: SocketAddr = "192.0.2.1:2055".parse().unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
    let mut n = 0;
    for _ in 0..REPLAYS {
        for g in dgrams {
            n += d.decode(g, exporter, now, "bench").stats.records;
        }
    }
    n
}

/// The typed stage alone: records resolved to [`FlowRecord`]s (addresses, ports, protocol,
/// counters, start/end instants), no events built; `sink` sees each. Returns the records the
/// decoder counted, as `parser_records` counts what `netflow_parser` returns.
fn canh_flows(dgrams: &[Vec<u8>], sink: &mut impl FnMut(&FlowView<'_>)) -> u64 {
    let mut d = Decoder::default();
    let exporter: SocketAddr = "192.0.2.1:2055".parse().unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
    let mut n = 0;
    for _ in 0..REPLAYS {
        for g in dgrams {
            n += d
                .decode_flows(g, exporter, now, "bench", sink)
                .stats
                .records;
        }
    }
    n
}

/// The timed sink. The decoder is generic over it, so each record must escape whole or the
/// compiler could skip resolving what the sink does not read: `black_box` takes the record
/// (as `netflow_parser` stores every field of its records in a `Vec`).
fn take_whole(f: &FlowView<'_>) {
    std::hint::black_box(f.record);
}

fn parser_records(dgrams: &[Vec<u8>]) -> u64 {
    let mut p = NetflowParser::default();
    let mut n = 0u64;
    for _ in 0..REPLAYS {
        for g in dgrams {
            for packet in p.parse_bytes(g).packets {
                match packet {
                    NetflowPacket::V5(v5) => n += v5.flowsets.len() as u64,
                    NetflowPacket::V9(v9) => {
                        for fs in v9.flowsets {
                            if let V9Body::Data(d) = fs.body {
                                n += d.fields.len() as u64;
                            }
                        }
                    }
                    NetflowPacket::IPFix(x) => {
                        for fs in x.flowsets {
                            if let IpfixBody::Data(d) = fs.body {
                                n += d.fields.len() as u64;
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    n
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("netflow_decode");
    g.sample_size(20);
    for (name, dgrams) in captures() {
        let ours = canh_records(&dgrams);
        let theirs = parser_records(&dgrams);
        assert_eq!(
            ours, theirs,
            "{name}: canh decodes {ours} records, netflow_parser {theirs}"
        );
        let (mut seen, mut bytes) = (0u64, 0u64);
        let counted = canh_flows(&dgrams, &mut |f| {
            seen += 1;
            bytes += f.record.bytes().unwrap_or(0);
        });
        assert_eq!(
            (counted, seen),
            (ours, ours),
            "{name}: typed stage record count"
        );
        assert!(bytes > 0, "{name}: the typed stage saw no bytes");
        g.throughput(Throughput::Elements(ours));
        g.bench_with_input(BenchmarkId::new("canh", &name), &dgrams, |b, d| {
            b.iter(|| canh_records(d))
        });
        g.bench_with_input(BenchmarkId::new("canh_flows", &name), &dgrams, |b, d| {
            b.iter(|| canh_flows(d, &mut take_whole))
        });
        g.bench_with_input(
            BenchmarkId::new("netflow_parser", &name),
            &dgrams,
            |b, d| b.iter(|| parser_records(d)),
        );
    }
    g.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
