//! Load generator: sends generated syslog lines over TCP (LF framing) as fast as the receiver
//! takes them, and reports events/s. `canh-loadgen ADDR COUNT [CONNECTIONS]`.

use std::io::Write;
use std::net::TcpStream;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: canh-loadgen HOST:PORT COUNT [CONNECTIONS]");
        std::process::exit(2);
    }
    let addr = args[1].clone();
    let count: usize = args[2].parse().expect("COUNT");
    let conns: usize = args.get(3).map_or(1, |c| c.parse().expect("CONNECTIONS"));
    // 4,096 distinct lines, repeated with a sequence number so every event is unique
    let lines = canh_benches::generated_lines(4096);
    let per = count / conns;
    let start = Instant::now();
    let mut bytes = 0usize;
    let handles: Vec<_> = (0..conns)
        .map(|c| {
            let (addr, lines) = (addr.clone(), lines.clone());
            let n = if c == conns - 1 {
                count - per * (conns - 1)
            } else {
                per
            };
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(&addr).expect("connect");
                let mut buf = Vec::with_capacity(1 << 20);
                let mut sent = 0;
                for k in 0..n {
                    buf.extend_from_slice(lines[k % lines.len()].as_bytes());
                    let _ = write!(buf, " lg{c}x{k}");
                    buf.push(b'\n');
                    if buf.len() >= 1 << 20 {
                        s.write_all(&buf).expect("send");
                        sent += buf.len();
                        buf.clear();
                    }
                }
                s.write_all(&buf).expect("send");
                sent + buf.len()
            })
        })
        .collect();
    for h in handles {
        bytes += h.join().expect("sender");
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "sent {count} events, {:.1} MB in {secs:.2}s: {:.0} events/s, {:.1} MB/s",
        bytes as f64 / 1e6,
        count as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
}
