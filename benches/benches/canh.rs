//! Criterion benches: syslog parsing (canh vs the `syslog_loose` crate on the same lines),
//! framing, on generated lines and, when ../shared/corpora is present, on loghub's real ones.

use std::path::Path;

use canh_collectors::syslog::framing::Framer;
use canh_collectors::syslog::{self, ParseContext, parse_header};
use canh_core::Origin;
use chrono::{TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn ctx() -> ParseContext {
    ParseContext {
        received: Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap(),
        zone: "+07:00".parse().unwrap(),
    }
}

fn inputs() -> Vec<(&'static str, Vec<Vec<u8>>)> {
    let mut v = vec![(
        "generated",
        canh_benches::generated_lines(8192)
            .into_iter()
            .map(String::into_bytes)
            .collect(),
    )];
    let corpora = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora/loghub-syslog");
    for (name, file) in [
        ("loghub-linux", "Linux/Linux_2k.log"),
        ("loghub-openssh", "OpenSSH/OpenSSH_2k.log"),
    ] {
        match std::fs::read(corpora.join(file)) {
            Ok(b) => v.push((
                name,
                b.split(|c| *c == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(<[u8]>::to_vec)
                    .collect(),
            )),
            Err(_) => println!("skipped {name}: ../shared/corpora not found"),
        }
    }
    v
}

fn parsing(c: &mut Criterion) {
    let ctx = ctx();
    let mut g = c.benchmark_group("parse");
    for (name, lines) in inputs() {
        let bytes: usize = lines.iter().map(Vec::len).sum();
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_with_input(BenchmarkId::new("canh_header", name), &lines, |b, lines| {
            b.iter(|| {
                let mut n = 0;
                for l in lines {
                    n += parse_header(l, &ctx).msg.len();
                }
                n
            })
        });
        g.bench_with_input(
            BenchmarkId::new("canh_full_event", name),
            &lines,
            |b, lines| {
                let origin = Origin::new("bench", None);
                b.iter(|| {
                    let mut n = 0;
                    for l in lines {
                        n += syslog::parse(l, &ctx, origin.clone()).fields.len();
                    }
                    n
                })
            },
        );
        let strs: Vec<String> = lines
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect();
        g.bench_with_input(BenchmarkId::new("syslog_loose", name), &strs, |b, lines| {
            b.iter(|| {
                let mut n = 0;
                for l in lines {
                    n += syslog_loose::parse_message(l, syslog_loose::Variant::Either)
                        .msg
                        .len();
                }
                n
            })
        });
    }
    g.finish();
}

fn framing(c: &mut Criterion) {
    let lines = canh_benches::generated_lines(8192);
    let mut lf = Vec::new();
    let mut counted = Vec::new();
    for l in &lines {
        lf.extend_from_slice(l.as_bytes());
        lf.push(b'\n');
        counted.extend_from_slice(format!("{} {}", l.len(), l).as_bytes());
    }
    let mut g = c.benchmark_group("frame");
    for (name, stream) in [("lf", &lf), ("octet_counted", &counted)] {
        g.throughput(Throughput::Bytes(stream.len() as u64));
        g.bench_with_input(BenchmarkId::new("canh", name), stream, |b, s| {
            b.iter(|| {
                let mut f = Framer::new(64 * 1024);
                let mut out = Vec::new();
                for chunk in s.chunks(64 * 1024) {
                    f.push(chunk, &mut out);
                }
                f.finish(&mut out);
                out.len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, parsing, framing);
criterion_main!(benches);
