//! NetFlow v5 load generator: sends COUNT distinct flow records (30 per datagram, as routers
//! pack them) over UDP to a collector at a paced rate, and reports what it sent.
//! `canh-flowgen HOST:PORT COUNT RATE` — RATE in flows/s (0 = as fast as the socket takes).
//!
//! Each record has its own source port and sequence-derived addresses, so a collector that
//! keeps every record can be checked by count. The datagram header carries a running
//! `flow_sequence`, so the receiver also sees loss as sequence gaps.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

/// Records per datagram: the most a NetFlow v5 datagram carries.
const RECORDS_PER_DATAGRAM: usize = 30;
const HEADER_LEN: usize = 24;
const RECORD_LEN: usize = 48;
/// Datagrams sent between two looks at the clock when pacing.
const PACE_EVERY: u64 = 16;

fn datagram(buf: &mut Vec<u8>, first: u64, n: usize, uptime_ms: u32, unix: u32) {
    buf.clear();
    buf.extend_from_slice(&5u16.to_be_bytes());
    buf.extend_from_slice(&(n as u16).to_be_bytes());
    buf.extend_from_slice(&uptime_ms.to_be_bytes());
    buf.extend_from_slice(&unix.to_be_bytes());
    buf.extend_from_slice(&0u32.to_be_bytes()); // unix_nsecs
    buf.extend_from_slice(&(first as u32).to_be_bytes()); // flow_sequence
    buf.extend_from_slice(&[0, 1]); // engine type, id
    buf.extend_from_slice(&0u16.to_be_bytes()); // no sampling
    for i in 0..n as u64 {
        let k = first + i;
        let src = [10, 1 + (k >> 16) as u8 % 200, (k >> 8) as u8, k as u8];
        let dst = [203, 0, 113, (k % 251) as u8];
        buf.extend_from_slice(&src);
        buf.extend_from_slice(&dst);
        buf.extend_from_slice(&[0, 0, 0, 0]); // next hop
        buf.extend_from_slice(&1u16.to_be_bytes()); // input if
        buf.extend_from_slice(&2u16.to_be_bytes()); // output if
        buf.extend_from_slice(&(1 + (k % 40) as u32).to_be_bytes()); // packets
        buf.extend_from_slice(&(60 + (k % 1400) as u32 * 40).to_be_bytes()); // bytes
        buf.extend_from_slice(&uptime_ms.saturating_sub(1000).to_be_bytes()); // first
        buf.extend_from_slice(&uptime_ms.to_be_bytes()); // last
        buf.extend_from_slice(&(1024 + (k % 60000) as u16).to_be_bytes()); // src port
        buf.extend_from_slice(&443u16.to_be_bytes()); // dst port
        buf.extend_from_slice(&[0, 0x1b, 6, 0]); // pad, flags (FIN SYN PSH ACK), TCP, tos
        buf.extend_from_slice(&[0, 0, 0, 0, 24, 24, 0, 0]); // AS, masks, pad
    }
    debug_assert_eq!(buf.len(), HEADER_LEN + n * RECORD_LEN);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: canh-flowgen HOST:PORT COUNT RATE   (RATE flows/s, 0 = unpaced)");
        std::process::exit(2);
    }
    let addr = &args[1];
    let count: u64 = args[2].parse().expect("COUNT");
    let rate: u64 = args[3].parse().expect("RATE");
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.connect(addr).expect("connect");
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32);
    let mut buf = Vec::with_capacity(HEADER_LEN + RECORDS_PER_DATAGRAM * RECORD_LEN);
    let start = Instant::now();
    let (mut sent, mut datagrams) = (0u64, 0u64);
    while sent < count {
        let n = RECORDS_PER_DATAGRAM.min((count - sent) as usize);
        let uptime = 60_000 + start.elapsed().as_millis() as u32;
        datagram(&mut buf, sent, n, uptime, unix);
        sock.send(&buf).expect("send");
        sent += n as u64;
        datagrams += 1;
        if rate > 0 && datagrams.is_multiple_of(PACE_EVERY) {
            let due = Duration::from_secs_f64(sent as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "sent {sent} flows in {datagrams} datagrams in {secs:.2}s: {:.0} flows/s",
        sent as f64 / secs
    );
}
