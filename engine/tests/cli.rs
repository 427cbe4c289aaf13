//! End-to-end tests: the real `canh` binary, real sockets, real clients (`logger`, rsyslog
//! with TLS, openssl), real files. One test binary for the engine crate.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Longest a test waits for something asynchronous (indexing, a status update) to show.
const WAIT: Duration = Duration::from_secs(60);

fn canh() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_canh"));
    c.env_remove("CANH_DATA").env("NO_COLOR", "1");
    c
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A running `canh up`, killed on drop.
struct Engine {
    child: Child,
    data: PathBuf,
    /// URL → bound address, as printed by `canh up`.
    bound: Vec<(String, SocketAddr)>,
    api: SocketAddr,
}

impl Engine {
    /// The address of the first UDP listener (the NetFlow one when syslog listens on TCP).
    fn udp_listener(&self) -> SocketAddr {
        self.bound
            .iter()
            .find(|(u, _)| u.starts_with("udp"))
            .map(|(_, a)| *a)
            .expect("a udp listener")
    }

    fn start(data: &Path, extra: &[&str]) -> Engine {
        let mut cmd = canh();
        cmd.arg("up").arg("--data").arg(data).args(extra);
        if !extra.contains(&"--api") {
            cmd.args(["--api", "127.0.0.1:0"]);
        }
        if !extra.contains(&"--netflow") {
            // never the default 2055: tests run side by side
            cmd.args(["--netflow", "udp://127.0.0.1:0"]);
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::from(
            std::fs::File::create(data.with_extension("stderr.log")).unwrap(),
        ));
        let mut child = cmd.spawn().expect("spawn canh up");
        let out = child.stdout.take().unwrap();
        let mut lines = BufReader::new(out).lines();
        let mut bound = Vec::new();
        let api;
        loop {
            let line = match lines.next() {
                Some(Ok(l)) => l,
                _ => {
                    let err = std::fs::read_to_string(data.with_extension("stderr.log"))
                        .unwrap_or_default();
                    panic!("canh up exited before listening: {err}");
                }
            };
            if let Some(rest) = line
                .strip_prefix("listening syslog ")
                .or_else(|| line.strip_prefix("listening netflow "))
            {
                // "udp://127.0.0.1:0 (bound 127.0.0.1:43567)"
                let (url, b) = rest.split_once(" (bound ").unwrap();
                bound.push((url.to_owned(), b.trim_end_matches(')').parse().unwrap()));
            }
            if let Some(rest) = line.strip_prefix("listening api http://") {
                api = rest.split_whitespace().next().unwrap().parse().unwrap();
                break;
            }
        }
        // keep draining stdout so the engine never blocks on a full pipe
        std::thread::spawn(move || for _ in lines {});
        // the first status snapshot follows the listening lines
        let t = Instant::now();
        let pid = u64::from(child.id());
        while t.elapsed() < WAIT {
            let s = std::fs::read(data.join("status.json")).ok();
            let v: Option<serde_json::Value> = s.and_then(|b| serde_json::from_slice(&b).ok());
            if v.is_some_and(|v| v["pid"] == pid) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Engine {
            child,
            data: data.to_owned(),
            bound,
            api,
        }
    }

    fn addr(&self, scheme: &str) -> SocketAddr {
        self.bound
            .iter()
            .find(|(u, _)| u.starts_with(scheme))
            .unwrap_or_else(|| panic!("no {scheme} listener"))
            .1
    }

    fn kill9(&mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }

    fn stop(&mut self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let t = Instant::now();
        while t.elapsed() < WAIT {
            if let Some(st) = self.child.try_wait().unwrap() {
                assert!(st.success(), "canh up exited with {st}");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("canh up did not stop after SIGTERM");
    }

    /// Polls `canh status --json` until `ready` holds (bounded by [`WAIT`]); `what` names the
    /// awaited state in the failure message. Returns the status that satisfied it.
    fn wait_status(
        &self,
        what: &str,
        ready: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let t = Instant::now();
        loop {
            let st = self.status();
            if ready(&st) {
                return st;
            }
            assert!(t.elapsed() < WAIT, "waited {WAIT:?} for {what}: {st}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends `kill -HUP` (reload rules and IOC lists).
    fn hup(&self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    }

    fn status(&self) -> serde_json::Value {
        let o = canh()
            .args(["status", "--json", "--data"])
            .arg(&self.data)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "status: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn search(data: &Path, args: &[&str]) -> Output {
    canh()
        .arg("search")
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .unwrap()
}

fn count(data: &Path, q: &str) -> u64 {
    let o = search(data, &[q, "--count"]);
    assert!(
        o.status.success(),
        "search {q}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
}

/// Waits until `canh search QUERY --count` reaches `want` (bounded by [`WAIT`]).
fn wait_count(data: &Path, q: &str, want: u64) -> u64 {
    let t = Instant::now();
    loop {
        let n = count(data, q);
        if n >= want || t.elapsed() > WAIT {
            return n;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn logger(args: &[&str]) {
    let st = Command::new("logger")
        .args(args)
        .status()
        .expect("run logger");
    assert!(st.success(), "logger {args:?} failed");
}

#[test]
fn logger_over_tcp_and_udp_is_found_by_search() {
    if !have("logger") {
        println!("skipped: logger not installed");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let eng = Engine::start(
        &data,
        &[
            "--syslog",
            "udp://127.0.0.1:0",
            "--syslog",
            "tcp://127.0.0.1:0",
        ],
    );
    let tcp = eng.addr("tcp").port().to_string();
    let udp = eng.addr("udp").port().to_string();
    logger(&[
        "--rfc5424",
        "--tcp",
        "--octet-count",
        "-n",
        "127.0.0.1",
        "-P",
        &tcp,
        "-t",
        "sshd",
        "-p",
        "auth.info",
        "--msgid",
        "ID47",
        "--sd-id",
        "exampleSDID@32473",
        "--sd-param",
        "iut=\"3\"",
        "Failed password for invalid user admin from 203.0.113.5 port 4242 ssh2",
    ]);
    logger(&[
        "--rfc3164",
        "--tcp",
        "-n",
        "127.0.0.1",
        "-P",
        &tcp,
        "-t",
        "app",
        "Đăng nhập thất bại lf3164marker",
    ]);
    logger(&[
        "--rfc5424",
        "--udp",
        "-n",
        "127.0.0.1",
        "-P",
        &udp,
        "-p",
        "local0.warning",
        "udp5424marker",
    ]);
    logger(&[
        "--rfc3164",
        "--udp",
        "-n",
        "127.0.0.1",
        "-P",
        &udp,
        "udp3164marker",
    ]);

    assert_eq!(wait_count(&data, "*", 4), 4);
    // ECS names as written
    assert_eq!(
        count(&data, "source.ip:203.0.113.5 AND event.dataset:syslog"),
        1
    );
    assert_eq!(count(&data, "user.name:admin AND event.outcome:failure"), 1);
    assert_eq!(count(&data, "log.syslog.msgid:ID47"), 1);
    assert_eq!(
        count(&data, "log.syslog.structured_data.exampleSDID@32473.iut:3"),
        1
    );
    assert_eq!(
        count(&data, "log.syslog.severity.name:warning AND udp5424marker"),
        1
    );
    // Vietnamese, case-folded, as a phrase
    assert_eq!(count(&data, "\"ĐĂNG NHẬP\""), 1);
    assert_eq!(count(&data, "udp3164marker"), 1);
    assert_eq!(count(&data, "lf3164marker AND process.name:app"), 1);
    let o = search(&data, &["udp5424marker", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["log.syslog.facility.name"], "local0");
    assert_eq!(v["event.dataset"], "syslog");
    assert!(
        v["event.original"]
            .as_str()
            .unwrap()
            .contains("udp5424marker")
    );
    // human output and the time window
    let o = search(&data, &["lf3164marker", "--since", "1h"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("app:"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(
        String::from_utf8_lossy(
            &search(
                &data,
                &["*", "--from", "2000-01-01", "--to", "2000-01-02", "--count"]
            )
            .stdout
        )
        .trim(),
        "0"
    );

    let st = eng.status();
    assert_eq!(st["running"], true);
    let listeners = st["listeners"].as_array().unwrap();
    let tcp_l = listeners
        .iter()
        .find(|l| l["url"].as_str().unwrap().starts_with("tcp"))
        .unwrap();
    assert_eq!(tcp_l["received"], 2);
    assert_eq!(tcp_l["parsed"], 2);
    assert!(st["pipeline"]["wal_events_durable"].as_u64().unwrap() >= 4);
}

#[test]
fn api_needs_the_token_except_health() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let eng = Engine::start(&data, &["--syslog", "tcp://127.0.0.1:0"]);
    let token = std::fs::read_to_string(data.join("api.token"))
        .unwrap()
        .trim()
        .to_owned();
    let get = |path: &str, auth: Option<&str>| -> String {
        let mut s = TcpStream::connect(eng.api).unwrap();
        let auth = auth
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut s, &mut out).unwrap();
        out
    };
    assert!(get("/health", None).starts_with("HTTP/1.1 200"));
    assert!(get("/metrics", None).starts_with("HTTP/1.1 401"));
    assert!(get("/metrics", Some("wrong")).starts_with("HTTP/1.1 401"));
    assert!(get("/api/v1/status", None).starts_with("HTTP/1.1 401"));
    let m = get("/metrics", Some(&token));
    assert!(m.starts_with("HTTP/1.1 200"), "{m}");
    assert!(m.contains("canh_wal_durable_events_total"));
    assert!(m.contains("canh_syslog_received_events_total{listener=\"tcp://"));
    assert!(get("/api/v1/status", Some(&token)).contains("\"pipeline\""));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(data.join("api.token"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
}

/// Sends `n` numbered RFC 5424 messages over one TCP connection, LF framed.
fn send_numbered(addr: SocketAddr, tag: &str, range: std::ops::Range<u32>) {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut buf = Vec::new();
    for k in range {
        writeln!(
            buf,
            "<134>1 2026-11-25T10:00:00.000+07:00 web01 app {k} - - {tag} seq{k}"
        )
        .unwrap();
        if buf.len() > 64 * 1024 {
            s.write_all(&buf).unwrap();
            buf.clear();
        }
    }
    s.write_all(&buf).unwrap();
    s.flush().unwrap();
}

fn wait_durable(eng: &Engine, want: u64) -> u64 {
    let t = Instant::now();
    loop {
        let d = eng.status()["pipeline"]["wal_events_durable"]
            .as_u64()
            .unwrap();
        if d >= want || t.elapsed() > WAIT {
            return d;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every `seqN` found for `tag`, checking none is there twice.
fn unique_seqs(data: &Path, tag: &str) -> std::collections::BTreeSet<u32> {
    let o = search(data, &[tag, "--json", "--limit", "100000"]);
    assert!(o.status.success());
    let mut seen = std::collections::BTreeSet::new();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let msg = v["message"].as_str().unwrap();
        let k: u32 = msg.rsplit("seq").next().unwrap().parse().unwrap();
        assert!(seen.insert(k), "seq{k} indexed twice");
    }
    seen
}

#[test]
fn kill_9_before_commit_loses_nothing_the_wal_had_and_indexes_nothing_twice() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    // a commit interval far longer than the test: only the WAL holds the events at the kill
    let mut eng = Engine::start(
        &data,
        &[
            "--syslog",
            "tcp://127.0.0.1:0",
            "--commit-interval-ms",
            "60000",
        ],
    );
    let n = 5000;
    send_numbered(eng.addr("tcp"), "walcase", 0..n);
    assert_eq!(wait_durable(&eng, u64::from(n)), u64::from(n));
    assert_eq!(
        count(&data, "walcase"),
        0,
        "nothing should be committed yet"
    );
    eng.kill9();

    let mut eng = Engine::start(&data, &["--syslog", "tcp://127.0.0.1:0"]);
    assert_eq!(wait_count(&data, "walcase", u64::from(n)), u64::from(n));
    assert_eq!(eng.status()["pipeline"]["replayed_events"], u64::from(n));
    eng.stop();
    // a clean restart replays nothing new and duplicates nothing
    let mut eng = Engine::start(&data, &["--syslog", "tcp://127.0.0.1:0"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(count(&data, "walcase"), u64::from(n));
    assert_eq!(unique_seqs(&data, "walcase").len(), n as usize);
    eng.stop();
}

#[test]
fn kill_9_mid_stream_keeps_every_durable_event_exactly_once() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let mut eng = Engine::start(
        &data,
        &[
            "--syslog",
            "tcp://127.0.0.1:0",
            "--commit-interval-ms",
            "200",
        ],
    );
    let addr = eng.addr("tcp");
    let sender = std::thread::spawn(move || {
        // several connections in a row; the last ones fail once the engine is gone
        for c in 0..40u32 {
            let r = std::panic::catch_unwind(|| {
                send_numbered(addr, "midcase", c * 2000..(c + 1) * 2000)
            });
            if r.is_err() {
                return c;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        40
    });
    // let some commits happen, then kill while data still flows
    let durable_before = wait_durable(&eng, 6000);
    assert!(durable_before >= 6000);
    std::thread::sleep(Duration::from_millis(300));
    let durable_at_kill = eng.status()["pipeline"]["wal_events_durable"]
        .as_u64()
        .unwrap();
    eng.kill9();
    let _ = sender.join();

    let mut eng = Engine::start(&data, &["--syslog", "tcp://127.0.0.1:0"]);
    let found = wait_count(&data, "midcase", durable_at_kill);
    assert!(
        found >= durable_at_kill,
        "found {found} < {durable_at_kill} durable before the kill"
    );
    std::thread::sleep(Duration::from_millis(1500));
    let seqs = unique_seqs(&data, "midcase");
    assert_eq!(seqs.len() as u64, count(&data, "midcase"));
    eng.stop();
}

#[test]
fn rsyslog_forwards_over_tls_into_canh() {
    for tool in ["rsyslogd", "openssl", "logger"] {
        if !have(tool) {
            println!("skipped: {tool} not installed");
            return;
        }
    }
    if !Path::new("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so").exists()
        && !Path::new("/usr/lib/rsyslog/lmnsd_gtls.so").exists()
        && Command::new("sh")
            .arg("-c")
            .arg("ls /usr/lib/*/rsyslog/lmnsd_gtls.so")
            .output()
            .map_or(true, |o| !o.status.success())
    {
        println!("skipped: rsyslog-gnutls not installed");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
        ])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let data = dir.join("data");
    let eng = Engine::start(
        &data,
        &[
            "--syslog",
            "tls://127.0.0.1:0",
            "--tls-cert",
            dir.join("cert.pem").to_str().unwrap(),
            "--tls-key",
            dir.join("key.pem").to_str().unwrap(),
        ],
    );
    let tls_port = eng.addr("tls").port();
    // rsyslog takes UDP on a free port and forwards octet-counted over TLS
    let udp_port = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    };
    let conf = format!(
        r#"global(workDirectory="{dir}" DefaultNetstreamDriverCAFile="{dir}/cert.pem")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{udp_port}")
action(type="omfwd" target="127.0.0.1" port="{tls_port}" protocol="tcp" TCP_Framing="octet-counted"
       template="RSYSLOG_SyslogProtocol23Format" StreamDriver="gtls" StreamDriverMode="1"
       StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost")
"#,
        dir = dir.display()
    );
    std::fs::write(dir.join("rsyslog.conf"), conf).unwrap();
    let mut rsyslog = Command::new("rsyslogd")
        .args(["-n", "-f"])
        .arg(dir.join("rsyslog.conf"))
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let port = udp_port.to_string();
    for k in 0..20 {
        logger(&[
            "--rfc3164",
            "--udp",
            "-n",
            "127.0.0.1",
            "-P",
            &port,
            "-t",
            "sshd",
            &format!("Invalid user tlsuser{k} from 198.51.100.7 port 22"),
        ]);
    }
    let n = wait_count(&data, "source.ip:198.51.100.7", 20);
    let _ = rsyslog.kill();
    let _ = rsyslog.wait();
    assert_eq!(n, 20);
    // rsyslog counts its LF inside the octet count; the message must not keep it
    let o = search(&data, &["tlsuser3", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["message"],
        "Invalid user tlsuser3 from 198.51.100.7 port 22"
    );
    assert_eq!(v["user.name"], "tlsuser3");
    assert!(v["canh.listener"].as_str().unwrap().starts_with("tls://"));
}

#[test]
fn tls_listener_with_client_ca_refuses_clients_without_a_certificate() {
    if !have("openssl") {
        println!("skipped: openssl not installed");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let ssl = |args: &[&str]| {
        let st = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stderr(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "openssl {args:?}");
    };
    ssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=canh-test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    ssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        "key.pem",
        "-out",
        "cert.pem",
    ]);
    ssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=agency-fw",
        "-keyout",
        "client.key",
        "-out",
        "client.csr",
    ]);
    std::fs::write(
        dir.join("client.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    ssl(&[
        "x509",
        "-req",
        "-in",
        "client.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "client.ext",
        "-out",
        "client.pem",
    ]);
    let data = dir.join("data");
    let eng = Engine::start(
        &data,
        &[
            "--syslog",
            "tls://127.0.0.1:0",
            "--tls-cert",
            dir.join("cert.pem").to_str().unwrap(),
            "--tls-key",
            dir.join("key.pem").to_str().unwrap(),
            "--tls-client-ca",
            dir.join("ca.pem").to_str().unwrap(),
        ],
    );
    let port = eng.addr("tls").port().to_string();
    let send = |cert: Option<(&str, &str)>, msg: &str| {
        let mut c = Command::new("openssl");
        c.args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-CAfile",
            "cert.pem",
            "-quiet",
            "-no_ign_eof",
        ])
        .current_dir(dir);
        if let Some((crt, key)) = cert {
            c.args(["-cert", crt, "-key", key]);
        }
        let mut ch = c
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let framed = format!("{} {}", msg.len(), msg);
        let _ = ch.stdin.take().unwrap().write_all(framed.as_bytes());
        let _ = ch.wait();
    };
    send(None, "<13>1 - host app - - - nocertmarker");
    send(
        Some(("client.pem", "client.key")),
        "<13>1 - host app - - - withcertmarker",
    );
    assert_eq!(wait_count(&data, "withcertmarker", 1), 1);
    assert_eq!(count(&data, "nocertmarker"), 0);
    let st = eng.status();
    assert!(
        st["listeners"][0]["tls_handshake_failures"]
            .as_u64()
            .unwrap()
            >= 1
    );
}

#[test]
fn ingest_files_then_search() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/syslog/mixed.log");
    let lines = std::fs::read_to_string(&fixture)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count() as u64;
    let o = canh()
        .arg("ingest")
        .arg(&fixture)
        .arg("--data")
        .arg(&data)
        .args(["--timezone", "+07:00"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&format!("{lines} events")),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(count(&data, "*"), lines);
    assert_eq!(
        count(&data, "canh.unparsed:true"),
        1,
        "the garbage line is kept, not dropped"
    );
    assert_eq!(
        count(&data, "observer.vendor:Fortinet AND srcip:10.10.1.20"),
        1
    );
    assert_eq!(count(&data, "user.effective.name:root"), 1);
    assert_eq!(count(&data, "cef.device_vendor:Security"), 1);
    // ingesting again doubles the count: ingest is not idempotent by design (files are not ids)
    let o = canh()
        .arg("ingest")
        .arg(&fixture)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(count(&data, "*"), 2 * lines);
}

#[test]
fn usage_and_config_errors_exit_2_runtime_errors_exit_1() {
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("bad.toml");
    std::fs::write(&bad, "retension_days = 3\n").unwrap();
    let o = canh().args(["up", "--config"]).arg(&bad).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("bad.toml:1"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = canh()
        .args(["up", "--syslog", "ftp://x:1", "--data"])
        .arg(d.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("syslog[0]"));
    let o = canh()
        .args(["search", "x", "--since", "yesterday-ish", "--data"])
        .arg(d.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = canh().args(["frobnicate"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = canh()
        .args(["search", "x", "--data"])
        .arg(d.path().join("missing"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no such data folder"));
    let o = canh()
        .args(["status", "--data"])
        .arg(d.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    // a busy port is a runtime failure naming the listener
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://{}", busy.local_addr().unwrap());
    let o = canh()
        .args([
            "up",
            "--api",
            "127.0.0.1:0",
            "--netflow",
            "udp://127.0.0.1:0",
            "--syslog",
            &url,
            "--data",
        ])
        .arg(d.path().join("d2"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&url),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // a busy UDP port too: another receiver must not silently share the datagrams
    let busy = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let url = format!("udp://{}", busy.local_addr().unwrap());
    let o = canh()
        .args([
            "up",
            "--api",
            "127.0.0.1:0",
            "--netflow",
            "udp://127.0.0.1:0",
            "--syslog",
            &url,
            "--data",
        ])
        .arg(d.path().join("d3"))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains(&url));
    // a --since too far back is a usage error, not a crash
    let o = canh()
        .args(["search", "x", "--since", "300000y", "--data"])
        .arg(d.path())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_second_engine_on_the_same_data_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let _eng = Engine::start(&data, &["--syslog", "tcp://127.0.0.1:0"]);
    let o = canh()
        .args([
            "up",
            "--api",
            "127.0.0.1:0",
            "--syslog",
            "tcp://127.0.0.1:0",
            "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("in use by another canh process"));
}

#[test]
fn builtin_rules_tag_matching_events_and_status_counts_hits() {
    if !have("logger") {
        println!("skipped: logger not installed");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let eng = Engine::start(&data, &["--syslog", "tcp://127.0.0.1:0"]);
    let tcp = eng.addr("tcp").port().to_string();
    // root logs in from outside the province network: canh's own pack has a rule for it
    logger(&[
        "--rfc3164",
        "--tcp",
        "-n",
        "127.0.0.1",
        "-P",
        &tcp,
        "-t",
        "sshd",
        "Accepted password for root from 203.0.113.66 port 50122 ssh2",
    ]);
    // the same from inside matches nothing
    logger(&[
        "--rfc3164",
        "--tcp",
        "-n",
        "127.0.0.1",
        "-P",
        &tcp,
        "-t",
        "sshd",
        "Accepted password for ops from 10.1.2.3 port 50122 ssh2",
    ]);
    assert_eq!(wait_count(&data, "event.outcome:success", 2), 2);
    let o = search(&data, &["source.ip:203.0.113.66", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["canh.rule.name"], "SSH login as root from outside the province network",
        "{v}"
    );
    assert_eq!(v["canh.rule.level"], "high");
    let id = v["canh.rule.id"].as_str().unwrap().to_owned();
    assert_eq!(count(&data, &format!("canh.rule.id:{id}")), 1);
    let o = search(&data, &["source.ip:10.1.2.3", "--json"]);
    let inside: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(inside.get("canh.rule.id").is_none(), "{inside}");
    // a device cannot forge a detection by sending canh's field names
    logger(&[
        "--rfc3164",
        "--tcp",
        "-n",
        "127.0.0.1",
        "-P",
        &tcp,
        "-t",
        "app",
        "forgedmarker a=1 b=2 canh.rule.level=high canh.ioc.matched=source.ip",
    ]);
    assert_eq!(wait_count(&data, "forgedmarker", 1), 1);
    assert_eq!(count(&data, "forgedmarker AND canh.rule.level:high"), 0);
    let o = search(&data, &["forgedmarker", "--json"]);
    let forged: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        forged.get("canh.ioc.matched").is_none() && forged.get("canh.rule.level").is_none(),
        "{forged}"
    );
    let st = eng.wait_status("the rule hit in status", |st| {
        st["detection"]["top_rules"]
            .as_array()
            .is_some_and(|a| a.iter().any(|r| r["id"] == id.as_str() && r["hits"] == 1))
    });
    assert!(st["detection"]["compiled"].as_u64().unwrap() >= 40);
}

#[test]
fn rules_reload_on_sighup_and_a_broken_set_keeps_the_old_one() {
    let d = tempfile::tempdir().unwrap();
    let rules = d.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    let rule = |word: &str| {
        format!(
            "title: word {word}\nid: 6f1c1e0e-0000-4000-8000-00000000000{}\nlogsource: {{product: linux}}\ndetection:\n    k:\n        - '{word}'\n    condition: k\nlevel: medium\n",
            word.len()
        )
    };
    std::fs::write(rules.join("r.yml"), rule("alpha")).unwrap();
    let data = d.path().join("data");
    let eng = Engine::start(
        &data,
        &[
            "--syslog",
            "tcp://127.0.0.1:0",
            "--rules",
            rules.to_str().unwrap(),
        ],
    );
    let addr = eng.addr("tcp");
    let send = |msg: &str| {
        let mut s = TcpStream::connect(addr).unwrap();
        writeln!(s, "<13>Nov 25 10:00:00 host app: {msg}").unwrap();
    };
    send("one alpha");
    assert_eq!(wait_count(&data, "one", 1), 1);
    assert_eq!(count(&data, "one AND canh.rule.name:\"word alpha\""), 1);
    // new rule, SIGHUP
    std::fs::write(rules.join("r.yml"), rule("bravo")).unwrap();
    eng.hup();
    eng.wait_status("a reload", |st| st["detection"]["reloads"] == 1);
    send("two alpha bravo");
    assert_eq!(wait_count(&data, "two", 1), 1);
    assert_eq!(count(&data, "two AND canh.rule.name:\"word bravo\""), 1);
    assert_eq!(count(&data, "two AND canh.rule.name:\"word alpha\""), 0);
    // a broken file: the reload is refused, the old set keeps matching, the error is shown
    std::fs::write(
        rules.join("r.yml"),
        "title: broken\ndetection:\n    condition: nothing\n",
    )
    .unwrap();
    eng.hup();
    eng.wait_status("a refused reload", |st| {
        !st["detection"]["last_reload_error"].is_null()
    });
    send("three bravo");
    assert_eq!(wait_count(&data, "three", 1), 1);
    assert_eq!(count(&data, "three AND canh.rule.name:\"word bravo\""), 1);
    assert!(
        eng.status()["detection"]["last_reload_error"]
            .as_str()
            .unwrap()
            .contains("r.yml")
    );

    // the API reloads too; it needs the token, refuses a broken set with 422 and says why
    let token = std::fs::read_to_string(data.join("api.token"))
        .unwrap()
        .trim()
        .to_owned();
    let post = |auth: bool| -> String {
        let mut s = TcpStream::connect(eng.api).unwrap();
        let a = if auth {
            format!("Authorization: Bearer {token}\r\n")
        } else {
            String::new()
        };
        write!(s, "POST /api/v1/rules/reload HTTP/1.1\r\nHost: x\r\n{a}Content-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut s, &mut out).unwrap();
        out
    };
    assert!(post(false).starts_with("HTTP/1.1 401"));
    let r = post(true);
    assert!(
        r.starts_with("HTTP/1.1 422") && r.contains("keeping the previous set"),
        "{r}"
    );
    std::fs::write(rules.join("r.yml"), rule("charlie")).unwrap();
    let r = post(true);
    assert!(
        r.starts_with("HTTP/1.1 200") && r.contains("1 compiled"),
        "{r}"
    );
    send("four charlie");
    assert_eq!(wait_count(&data, "four", 1), 1);
    assert_eq!(count(&data, "four AND canh.rule.name:\"word charlie\""), 1);
}

#[test]
fn rules_lint_and_test_commands() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // canh's own pack: every rule compiles and every fixture passes
    let o = canh().args(["rules", "lint"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let out = String::from_utf8_lossy(&o.stdout);
    let last = out.lines().last().unwrap();
    assert!(
        last.ends_with("compiled, 0 unsupported, 0 invalid"),
        "{last}"
    );
    let d = tempfile::tempdir().unwrap();
    let junit = d.path().join("junit.xml");
    let o = canh()
        .args(["rules", "test"])
        .arg(root.join("fixtures/rules"))
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}");
    let last = out.lines().last().unwrap();
    let passed: usize = last.split(' ').next().unwrap().parse().unwrap();
    assert!(
        passed >= 40 && last.ends_with(" passed, 0 failed"),
        "{last}"
    );
    assert!(
        std::fs::read_to_string(&junit)
            .unwrap()
            .contains("<testsuite")
    );

    // a wrong expectation fails with what differed, and exit 1
    std::fs::write(d.path().join("r.yml"), "title: t\nid: 6f1c1e0e-0000-4000-8000-0000000000aa\nlogsource: {product: linux, service: sshd}\ndetection:\n    s:\n        user.name: root\n    condition: s\nlevel: low\n").unwrap();
    std::fs::write(d.path().join("r.test.yml"), "rule: r.yml\nsyslog: |\n  <38>Nov 25 10:00:00 h sshd[1]: Failed password for root from 203.0.113.1 port 1 ssh2\n  <38>Nov 25 10:00:00 h sshd[1]: Failed password for ops from 203.0.113.1 port 1 ssh2\nevents:\n  - {user.name: root}\nexpect:\n  matches: 1\n").unwrap();
    let o = canh()
        .args(["rules", "test"])
        .arg(d.path())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("FAIL") && out.contains("expected 1 matching events, got 2 of 3: matched syslog 1, event 1; not matched syslog 2"), "{out}");
    assert!(out.lines().last().unwrap() == "0 passed, 1 failed");
    // a broken rule is reported with file:line:col and exit 1
    std::fs::write(d.path().join("bad.yml"), "title: bad\nlogsource: {product: linux}\ndetection:\n    s:\n        user.name|nosuchmodifier: x\n    condition: s or missing\n").unwrap();
    let o = canh()
        .args(["rules", "lint"])
        .arg(d.path().join("bad.yml"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("bad.yml:"), "{out}");
    assert!(
        out.lines().last().unwrap().ends_with("1 invalid") || out.contains("unsupported"),
        "{out}"
    );
}

#[test]
fn connection_limit_and_message_size_limit_are_enforced_and_counted() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("canh.toml");
    std::fs::write(
        &cfg,
        "max_connections = 2\nmax_message_bytes = 1024\nnetflow = []\n",
    )
    .unwrap();
    let data = d.path().join("data");
    let eng = Engine::start(
        &data,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--syslog",
            "tcp://127.0.0.1:0",
        ],
    );
    let addr = eng.addr("tcp");
    let held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
    eng.wait_status("two open connections", |st| {
        st["listeners"][0]["connections_open"] == 2
    });
    // the third is closed at once and counted
    let mut third = TcpStream::connect(addr).unwrap();
    third.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(std::io::Read::read(&mut third, &mut buf).unwrap_or(0), 0);
    // a message over the limit is cut to it, kept, and counted
    let mut s = &held[0];
    let long = format!(
        "<13>Nov 25 10:00:00 host app: longmarker {}\n",
        "x".repeat(5000)
    );
    s.write_all(long.as_bytes()).unwrap();
    assert_eq!(wait_count(&data, "longmarker", 1), 1);
    let o = search(&data, &["longmarker", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["event.original"].as_str().unwrap().len(), 1024);
    assert!(
        v["canh.warnings"][0]
            .as_str()
            .unwrap()
            .contains("truncated from 50"),
        "{v}"
    );
    let st = eng.status();
    assert_eq!(st["listeners"][0]["connections_refused"], 1);
    assert_eq!(st["listeners"][0]["truncated"], 1);
    // SIGTERM stops the engine even while senders keep their connections open
    let mut eng = eng;
    eng.stop();
    drop(held);
}

/// Writes a pcap (Ethernet, IPv4) with `flows` distinct TCP and UDP flows of 3 packets each.
fn write_pcap(path: &Path, flows: u16) {
    let mut out = Vec::new();
    // global header: magic, v2.4, zone 0, sigfigs 0, snaplen, linktype Ethernet
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    let checksum = |h: &[u8]| -> u16 {
        let mut sum: u32 = h
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    };
    let mut t = 1_764_000_000u32;
    for f in 0..flows {
        let tcp = f % 2 == 0;
        let src = [10, 20, (f >> 8) as u8, (f & 0xff) as u8];
        let dst = [203, 0, 113, (f % 250) as u8 + 1];
        for k in 0..3u8 {
            let l4: Vec<u8> = if tcp {
                let flags = [0x02u8, 0x10, 0x11][k as usize]; // SYN, ACK, FIN+ACK
                let mut h = Vec::new();
                h.extend_from_slice(&(40000 + f).to_be_bytes());
                h.extend_from_slice(&443u16.to_be_bytes());
                h.extend_from_slice(&u32::from(k).to_be_bytes());
                h.extend_from_slice(&0u32.to_be_bytes());
                h.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
                h
            } else {
                let mut h = Vec::new();
                h.extend_from_slice(&(50000 + f).to_be_bytes());
                h.extend_from_slice(&53u16.to_be_bytes());
                h.extend_from_slice(&(8u16 + 12).to_be_bytes());
                h.extend_from_slice(&0u16.to_be_bytes());
                h.extend_from_slice(b"canh-test-dn");
                h
            };
            let total = 20 + l4.len() as u16;
            let mut ip = vec![0x45, 0];
            ip.extend_from_slice(&total.to_be_bytes());
            ip.extend_from_slice(&f.to_be_bytes());
            ip.extend_from_slice(&[0x40, 0, 64, if tcp { 6 } else { 17 }, 0, 0]);
            ip.extend_from_slice(&src);
            ip.extend_from_slice(&dst);
            let c = checksum(&ip);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            let mut frame = vec![
                0, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0x66, 0x77, 0x88, 0x99, 0xaa, 0x08, 0x00,
            ];
            frame.extend_from_slice(&ip);
            frame.extend_from_slice(&l4);
            t += 1;
            out.extend_from_slice(&t.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            out.extend_from_slice(&frame);
        }
    }
    std::fs::write(path, out).unwrap();
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Flow records nfdump decodes from what softflowd exports for `pcap` with `version`.
fn nfdump_records(dir: &Path, pcap: &Path, version: &str) -> u64 {
    let out = dir.join(format!("nfcapd-v{version}"));
    std::fs::create_dir_all(&out).unwrap();
    let port = free_udp_port().to_string();
    let mut nfcapd = Command::new("nfcapd")
        .args(["-w"])
        .arg(&out)
        .args(["-p", &port, "-b", "127.0.0.1", "-t", "60"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    softflowd_export(pcap, port.parse().unwrap(), version);
    std::thread::sleep(Duration::from_millis(500));
    Command::new("kill")
        .args(["-TERM", &nfcapd.id().to_string()])
        .status()
        .unwrap();
    nfcapd.wait().unwrap();
    let o = Command::new("nfdump")
        .arg("-R")
        .arg(&out)
        .args(["-q", "-o", "csv"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .count() as u64
}

/// Whether softflowd, nfcapd and nfdump are here (one line printed when one is not).
fn have_flow_tools() -> bool {
    for tool in ["softflowd", "nfcapd", "nfdump"] {
        if !have(tool) {
            println!("skipped: {tool} not installed");
            return false;
        }
    }
    true
}

/// Sends `pcap`'s flows to `port` with softflowd as NetFlow `version` (5, 9 or 10).
fn softflowd_export(pcap: &Path, port: u16, version: &str) {
    let st = Command::new("softflowd")
        .args(["-d", "-r"])
        .arg(pcap)
        .args([
            "-n",
            &format!("127.0.0.1:{port}"),
            "-v",
            version,
            "-c",
            "none",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn softflowd_exports_are_indexed_exactly_as_nfdump_decodes_them() {
    if !have_flow_tools() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let pcap = d.path().join("traffic.pcap");
    write_pcap(&pcap, 60);
    let data = d.path().join("data");
    let eng = Engine::start(
        &data,
        &[
            "--syslog",
            "tcp://127.0.0.1:0",
            "--netflow",
            "udp://127.0.0.1:0",
        ],
    );
    let nf_port = eng
        .bound
        .iter()
        .find(|(u, _)| u.starts_with("udp"))
        .map(|(_, a)| *a)
        .unwrap_or_else(|| {
            // the netflow listener is printed on its own line
            panic!("no netflow listener in {:?}", eng.bound)
        })
        .port();
    let mut total = 0;
    for version in ["5", "9", "10"] {
        let want = nfdump_records(d.path(), &pcap, version);
        assert!(
            want >= 60,
            "nfdump decoded only {want} records for v{version}"
        );
        softflowd_export(&pcap, nf_port, version);
        total += want;
        let q = format!(
            "event.dataset:netflow AND netflow.version:{version} AND NOT netflow.type:netflow_options"
        );
        assert_eq!(wait_count(&data, &q, want), want, "v{version}");
    }
    assert_eq!(
        count(
            &data,
            "event.dataset:netflow AND NOT netflow.type:netflow_options"
        ),
        total
    );
    // fields as ECS names
    assert!(
        count(
            &data,
            "event.dataset:netflow AND destination.port:443 AND network.transport:tcp"
        ) >= 30 * 3
    );
    let st = eng.status();
    let nf = &st["netflow"][0];
    assert_eq!(nf["totals"]["decode_errors"], 0);
    assert!(nf["totals"]["records"].as_u64().unwrap() >= total);
    assert_eq!(nf["exporters"][0][0], "127.0.0.1");
    // the engine turns transparent huge pages off for itself (see engine/src/main.rs)
    let status = std::fs::read_to_string(format!("/proc/{}/status", eng.child.id())).unwrap();
    match status.lines().find(|l| l.starts_with("THP_enabled:")) {
        Some(l) => assert_eq!(l.split_whitespace().nth(1), Some("0"), "{l}"),
        None => println!("skipped: this kernel's /proc/PID/status has no THP_enabled line"),
    }
}

#[test]
fn kill_9_before_commit_keeps_netflow_datagrams_and_rebuilds_templates_from_the_wal() {
    if !have_flow_tools() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let pcap = d.path().join("traffic.pcap");
    write_pcap(&pcap, 40);
    let want = nfdump_records(d.path(), &pcap, "9");
    assert!(want >= 40, "nfdump decoded only {want} records");
    let data = d.path().join("data");
    // nothing is committed to the index before the kill: only the WAL holds the datagrams
    let mut eng = Engine::start(
        &data,
        &[
            "--syslog",
            "tcp://127.0.0.1:0",
            "--netflow",
            "udp://127.0.0.1:0",
            "--commit-interval-ms",
            "60000",
        ],
    );
    softflowd_export(&pcap, eng.addr("udp").port(), "9");
    // every datagram received is durable, and decoded behind the WAL
    let t = Instant::now();
    loop {
        let s = eng.status();
        let received = s["netflow"][0]["datagrams"].as_u64().unwrap();
        let durable = s["pipeline"]["wal_datagrams"].as_u64().unwrap();
        let records = s["netflow"][0]["totals"]["records"].as_u64().unwrap();
        if received > 0 && durable == received && records >= want {
            break;
        }
        assert!(t.elapsed() < WAIT, "not durable and decoded: {s}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        count(&data, "event.dataset:netflow"),
        0,
        "nothing committed yet"
    );
    eng.kill9();

    // the restart decodes the WAL's datagrams again, templates first, as they arrived
    let mut eng = Engine::start(&data, &["--syslog", "tcp://127.0.0.1:0"]);
    let q = "event.dataset:netflow AND netflow.version:9 AND NOT netflow.type:netflow_options";
    assert_eq!(wait_count(&data, q, want), want);
    assert_eq!(
        count(&data, "event.dataset:netflow AND canh.unparsed:true"),
        0
    );
    eng.stop();
    // a clean restart indexes nothing twice
    let mut eng = Engine::start(&data, &["--syslog", "tcp://127.0.0.1:0"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(count(&data, q), want);
    assert_eq!(eng.status()["pipeline"]["replayed_events"], 0);
    eng.stop();
}

#[test]
fn ioc_lists_mark_syslog_and_flows_and_reload_with_the_rules() {
    let d = tempfile::tempdir().unwrap();
    let list = d.path().join("c2.txt");
    std::fs::write(&list, "# test list\n203.0.113.0/28\n2001:db8:bad::/48\n").unwrap();
    let data = d.path().join("data");
    let eng = Engine::start(
        &data,
        &[
            "--syslog",
            "tcp://127.0.0.1:0",
            "--netflow",
            "udp://127.0.0.1:0",
            "--ioc",
            list.to_str().unwrap(),
        ],
    );
    let addr = eng.addr("tcp");
    let send = |msg: &str| {
        let mut s = TcpStream::connect(addr).unwrap();
        writeln!(s, "{msg}").unwrap();
    };
    send(
        "<38>Nov 25 10:00:00 bastion01 sshd[7]: Failed password for admin from 203.0.113.9 port 4242 ssh2",
    );
    send(
        "<38>Nov 25 10:00:00 bastion01 sshd[7]: Failed password for admin from 203.0.113.99 port 4242 ssh2",
    );
    assert_eq!(wait_count(&data, "process.name:sshd", 2), 2);
    let o = search(&data, &["source.ip:203.0.113.9", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["canh.ioc.matched"],
        serde_json::json!(["source.ip"]),
        "{v}"
    );
    assert_eq!(v["threat.indicator.ip"], "203.0.113.9");
    assert!(
        v["canh.rule.name"]
            .to_string()
            .contains("Connection with an address on an IOC list"),
        "{v}"
    );
    assert_eq!(
        count(
            &data,
            "source.ip:203.0.113.99 AND canh.ioc.matched:source.ip"
        ),
        0
    );
    // flows: softflowd export of a pcap whose destinations are 203.0.113.1..
    if have("softflowd") {
        let pcap = d.path().join("t.pcap");
        write_pcap(&pcap, 20);
        let port = eng
            .bound
            .iter()
            .find(|(u, _)| u.starts_with("udp"))
            .unwrap()
            .1
            .port();
        softflowd_export(&pcap, port, "9");
        // write_pcap sends flow f to 203.0.113.(f % 250 + 1): flows 0..=14 go to .1-.15 (in the /28)
        assert_eq!(
            wait_count(
                &data,
                "event.dataset:netflow AND canh.ioc.matched:destination.ip",
                15
            ),
            15
        );
    } else {
        println!("skipped the flow part: softflowd not installed");
    }
    // a new list on reload
    std::fs::write(&list, "203.0.113.99\n").unwrap();
    eng.hup();
    eng.wait_status("a reload", |st| st["detection"]["reloads"] == 1);
    send(
        "<38>Nov 25 10:00:01 bastion01 sshd[7]: Failed password for root from 203.0.113.99 port 4243 ssh2",
    );
    assert_eq!(
        wait_count(&data, "user.name:root AND canh.ioc.matched:source.ip", 1),
        1
    );
    assert_eq!(eng.status()["detection"]["ioc_lists"][0][1], 1);
}

/// Firewall flows from the third-party corpus (a Cisco ASA's NSEL export and a Palo Alto
/// PAN-OS export, captured by logstash-codec-netflow) sent over UDP into `canh up`: the
/// officer finds them by the ECS fields and vendor names canh gives them.
#[test]
fn firewall_flows_are_searchable_by_action_application_and_vendor_fields() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpora/netflow-logstash-codec/spec/codecs");
    if !dir.is_dir() {
        println!("skipped: ../shared/corpora/netflow-logstash-codec not found");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let eng = Engine::start(&data, &["--syslog", "tcp://127.0.0.1:0"]);
    let nf = eng.udp_listener();
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for f in [
        "netflow9_test_cisco_asa_1_tpl.dat",
        "netflow9_test_cisco_asa_1_data.dat",
        "netflow9_test_paloalto_panos_tpl.dat",
        "netflow9_test_paloalto_panos_data.dat",
    ] {
        s.send_to(&std::fs::read(dir.join(f)).unwrap(), nf).unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    // 14 ASA flows and 8 PAN-OS flows (nfdump decodes as many from the same datagrams)
    let flows = "event.dataset:netflow AND netflow.type:netflow_flow";
    assert_eq!(wait_count(&data, flows, 22), 22);
    let acl = "netflow.cisco_asa.ingress_acl_id:\"0f8e7ff3-fc1a030f-00000000\"";
    assert!(count(&data, acl) >= 1);
    assert!(count(&data, "event.action:\"flow-deleted\" AND netflow.version:9") >= 1);
    let ssl = count(&data, "netflow.paloalto.app_id:ssl");
    assert!(ssl >= 1);
    assert_eq!(count(&data, "network.application:ssl"), ssl);
}

#[test]
fn netflow_exporters_off_the_allow_list_are_refused_and_counted() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("canh.toml");
    std::fs::write(&cfg, "netflow_exporters = [\"192.0.2.0/24\", \"::1\"]\n").unwrap();
    let data = d.path().join("data");
    let eng = Engine::start(
        &data,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--syslog",
            "tcp://127.0.0.1:0",
            "--netflow",
            "udp://127.0.0.1:0",
        ],
    );
    let nf = eng.udp_listener();
    // a NetFlow v5 header announcing no records, from 127.0.0.1: not on the list
    let mut v5 = vec![0u8; 24];
    v5[1] = 5;
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..3 {
        s.send_to(&v5, nf).unwrap();
    }
    eng.wait_status("3 refused datagrams", |st| st["netflow"][0]["refused"] == 3);
    assert_eq!(eng.status()["netflow"][0]["datagrams"], 0);
    // a bad entry is a configuration error naming the key
    std::fs::write(&cfg, "netflow_exporters = [\"10.0.0.0/33\"]\n").unwrap();
    let o = canh()
        .args(["up", "--config"])
        .arg(&cfg)
        .arg("--data")
        .arg(d.path().join("d2"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("netflow_exporters[0]"));
}

/// One HTTP/1.1 request on a fresh connection; returns (status, body).
fn http(
    api: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut s = TcpStream::connect(api).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}X-Canh-Actor: tester\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut s, &mut out).unwrap();
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map_or("", |x| x.1).to_owned();
    (code, body)
}

fn token(data: &Path) -> String {
    std::fs::read_to_string(data.join("api.token"))
        .unwrap()
        .trim()
        .to_owned()
}

/// `canh alerts list --status all --json`, parsed.
fn alerts(data: &Path) -> Vec<serde_json::Value> {
    let o = canh()
        .args(["alerts", "list", "--status", "all", "--json", "--data"])
        .arg(data)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "alerts list: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Waits until some alert satisfies `pred` (bounded by [`WAIT`]); returns the alerts.
fn wait_alerts(
    data: &Path,
    what: &str,
    pred: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let t = Instant::now();
    loop {
        let a = alerts(data);
        if pred(&a) {
            return a;
        }
        assert!(t.elapsed() < WAIT, "waited {WAIT:?} for {what}: {a:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Sends lines with `logger` over TCP in one run (one message per line).
fn logger_lines(port: u16, tag: &str, lines: &[String]) {
    let mut child = Command::new("logger")
        .args([
            "--rfc3164",
            "--tcp",
            "-n",
            "127.0.0.1",
            "-P",
            &port.to_string(),
            "-t",
            tag,
        ])
        .stdin(Stdio::piped())
        .spawn()
        .expect("run logger");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.join("\n").as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

fn canh_ok(args: &[&str], data: &Path) -> String {
    let o = canh().args(args).arg("--data").arg(data).output().unwrap();
    assert!(
        o.status.success(),
        "canh {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn in_group(a: &serde_json::Value, ip: &str) -> bool {
    a["group"]["source.ip"] == ip
}

#[test]
fn thirty_ssh_failures_raise_one_alert_triaged_through_cli_and_api_and_audited() {
    if !have("logger") {
        println!("skipped: logger not installed");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let mut eng = Engine::start(&data, &["--syslog", "tcp://127.0.0.1:0"]);
    let port = eng.addr("tcp").port();
    let tok = token(&data);

    // the live stream, subscribed before anything happens
    let api = eng.api;
    let t2 = tok.clone();
    let stream = std::thread::spawn(move || {
        let mut s = TcpStream::connect(api).unwrap();
        write!(
            s,
            "GET /api/v1/alerts/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t2}\r\n\r\n"
        )
        .unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut r = BufReader::new(s);
        let mut line = String::new();
        while r.read_line(&mut line).unwrap_or(0) > 0 {
            if line.starts_with("data:") && line.contains("203.0.113.9") {
                return line;
            }
            line.clear();
        }
        String::new()
    });
    std::thread::sleep(Duration::from_millis(300));

    let lines: Vec<String> = (0..30)
        .map(|i| {
            format!(
                "Failed password for root from 203.0.113.9 port {} ssh2",
                40000 + i
            )
        })
        .collect();
    logger_lines(port, "sshd", &lines);
    assert_eq!(wait_count(&data, "source.ip:203.0.113.9", 30), 30);
    let all = wait_alerts(&data, "one alert with count 30", |a| {
        a.iter()
            .any(|x| in_group(x, "203.0.113.9") && x["count"] == 30)
    });
    let mine: Vec<_> = all.iter().filter(|x| in_group(x, "203.0.113.9")).collect();
    assert_eq!(mine.len(), 1, "{all:?}");
    let a = mine[0];
    for k in ["id", "rule", "title", "level", "status", "count", "group"] {
        assert!(a.get(k).is_some(), "{k} missing in {a}");
    }
    assert_eq!(a["status"], "new");
    let id = a["id"].as_i64().unwrap();
    let ids = id.to_string();
    let pushed = stream.join().unwrap();
    assert!(pushed.contains(&format!("\"id\":{id}")), "stream: {pushed}");

    // the API refuses without the token, answers with it
    assert_eq!(http(eng.api, "GET", "/api/v1/alerts", None, None).0, 401);
    assert_eq!(
        http(
            eng.api,
            "GET",
            &format!("/api/v1/alerts/{id}"),
            Some("nope"),
            None
        )
        .0,
        401
    );
    let (code, body) = http(
        eng.api,
        "GET",
        "/api/v1/alerts?status=new",
        Some(&tok),
        None,
    );
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == id)
    );

    // triage: ack and assign on the command line, close through the API
    canh_ok(&["alerts", "ack", &ids, "--note", "đang kiểm tra"], &data);
    canh_ok(&["alerts", "assign", &ids, "minh"], &data);
    let (code, body) = http(
        eng.api,
        "PATCH",
        &format!("/api/v1/alerts/{id}"),
        Some(&tok),
        Some(r#"{"status":"closed"}"#),
    );
    assert_eq!(code, 400, "closing needs a reason: {body}");
    let (code, body) = http(
        eng.api,
        "PATCH",
        &format!("/api/v1/alerts/{id}"),
        Some(&tok),
        Some(r#"{"status":"closed","reason":"true_positive","note":"blocked on the firewall"}"#),
    );
    assert_eq!(code, 200, "{body}");
    let shown: serde_json::Value =
        serde_json::from_str(&canh_ok(&["alerts", "show", &ids, "--json"], &data)).unwrap();
    assert_eq!(shown["status"], "closed");
    assert_eq!(shown["close_reason"], "true_positive");
    assert_eq!(shown["assignee"], "minh");
    let hist: Vec<(String, String)> = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["action"].as_str().unwrap().to_owned(),
                h["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let actions: Vec<&str> = hist.iter().map(|h| h.0.as_str()).collect();
    assert_eq!(actions, ["created", "acknowledged", "assigned", "closed"]);
    assert_eq!(hist[3].1, "tester", "the API's X-Canh-Actor is recorded");
    assert!(!shown["samples"].as_array().unwrap().is_empty());
    let closed = canh_ok(&["alerts", "list"], &data);
    assert!(
        !closed.contains(&format!(" {id} ")),
        "closed alerts are not listed as new"
    );

    // a restart (kill -9) replays the WAL: the alert is not counted twice
    eng.kill9();
    let eng2 = Engine::start(&data, &["--syslog", "tcp://127.0.0.1:0"]);
    std::thread::sleep(Duration::from_secs(2));
    let after: Vec<_> = alerts(&data)
        .into_iter()
        .filter(|x| in_group(x, "203.0.113.9"))
        .collect();
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0]["count"], 30);
    drop(eng2);

    // the audit chain verifies, then fails at the line edited by one character
    let ok = canh()
        .args(["audit", "verify", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let log = data.join("audit.log");
    let text = std::fs::read_to_string(&log).unwrap();
    // three officer actions, and the rule set recorded once: the restart with the same rules
    // adds no second `rules.load`
    assert_eq!(text.lines().count(), 4, "{text}");
    assert_eq!(
        text.matches("\"action\":\"rules.load\"").count(),
        1,
        "{text}"
    );
    let edited = 1 + text.lines().position(|l| l.contains("minh")).unwrap();
    std::fs::write(&log, text.replacen("minh", "mina", 1)).unwrap();
    let bad = canh()
        .args(["audit", "verify", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains(&format!("audit.log:{edited}:")), "{err}");
}

#[test]
fn suppressed_matches_are_indexed_and_counted_but_raise_no_alert() {
    if !have("logger") {
        println!("skipped: logger not installed");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let eng = Engine::start(&data, &["--syslog", "tcp://127.0.0.1:0"]);
    let port = eng.addr("tcp").port();
    // justification and scope are required
    let o = canh()
        .args([
            "suppress",
            "add",
            "--cidr",
            "198.51.100.0/24",
            "--why",
            "",
            "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    canh_ok(
        &[
            "suppress",
            "add",
            "--cidr",
            "198.51.100.0/24",
            "--why",
            "the province's vulnerability scanner",
            "--expires",
            "7d",
        ],
        &data,
    );
    // the engine picks the suppression up within its refresh interval
    std::thread::sleep(Duration::from_secs(3));
    let lines: Vec<String> = (0..5)
        .map(|i| {
            format!(
                "Failed password for root from 198.51.100.7 port {} ssh2",
                41000 + i
            )
        })
        .collect();
    logger_lines(port, "sshd", &lines);
    assert_eq!(wait_count(&data, "source.ip:198.51.100.7", 5), 5);
    let t = Instant::now();
    loop {
        let l: Vec<serde_json::Value> = canh_ok(&["suppress", "list", "--json"], &data)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if l[0]["hits"] == 5 {
            break;
        }
        assert!(t.elapsed() < WAIT, "suppression hits: {l:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(alerts(&data).iter().all(|a| !in_group(a, "198.51.100.7")));
    // audit: the suppression is on record
    let log = std::fs::read_to_string(data.join("audit.log")).unwrap();
    assert!(log.contains("suppression.add") && log.contains("vulnerability scanner"));
}

#[test]
fn a_source_that_goes_quiet_raises_one_silent_source_alert() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let conf = d.path().join("canh.toml");
    // learn after 20 events; a silence of 2 s (or 3× the usual gap) is alarming
    std::fs::write(
        &conf,
        "[alerts]\nsilent_after = \"2s\"\nsilent_factor = 3.0\nsilent_learn_events = 20\n",
    )
    .unwrap();
    let eng = Engine::start(
        &data,
        &[
            "--config",
            conf.to_str().unwrap(),
            "--syslog",
            "tcp://127.0.0.1:0",
        ],
    );
    let addr = eng.addr("tcp");
    let mut s = TcpStream::connect(addr).unwrap();
    for i in 0..40 {
        writeln!(
            s,
            "<14>1 2026-11-25T08:00:00Z quiet-fw01 app - - - heartbeat {i}"
        )
        .unwrap();
        s.flush().unwrap();
        std::thread::sleep(Duration::from_millis(25));
    }
    drop(s);
    let all = wait_alerts(&data, "a silent-source alert", |a| {
        a.iter().any(|x| x["kind"] == "silent_source")
    });
    let silent: Vec<_> = all
        .iter()
        .filter(|x| x["kind"] == "silent_source")
        .collect();
    assert_eq!(silent.len(), 1, "{all:?}");
    assert_eq!(silent[0]["group"]["source"], "quiet-fw01");
    assert!(silent[0]["title"].as_str().unwrap().contains("quiet-fw01"));
    // one alert per silence: still one a while later
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        alerts(&data)
            .iter()
            .filter(|x| x["kind"] == "silent_source")
            .count(),
        1
    );
    let st = eng.status();
    assert_eq!(st["alerts"]["stage"]["silent_sources"], 1, "{st}");
}

#[test]
fn the_ioc_webhook_down_then_up_gets_each_alert_exactly_once() {
    if !have("logger") {
        println!("skipped: logger not installed");
        return;
    }
    // a port nobody listens on yet: the IOC is down
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let conf = d.path().join("canh.toml");
    std::fs::write(
        &conf,
        format!(
            "[[forward]]\nname = \"ioc\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{port}/alerts\"\n"
        ),
    )
    .unwrap();
    // two rules of our own, one alert each
    let rules = d.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    for (name, word) in [("a", "fwdmarkera"), ("b", "fwdmarkerb")] {
        std::fs::write(
            rules.join(format!("{name}.yml")),
            format!(
                "title: Forward test {name}\nlogsource: {{product: linux}}\nlevel: high\ndetection:\n  sel:\n    message|contains: {word}\n  condition: sel\n"
            ),
        )
        .unwrap();
    }
    let eng = Engine::start(
        &data,
        &[
            "--config",
            conf.to_str().unwrap(),
            "--rules",
            rules.to_str().unwrap(),
            "--syslog",
            "tcp://127.0.0.1:0",
        ],
    );
    let tcp = eng.addr("tcp").port();
    let lines: Vec<String> = ["fwdmarkera one", "fwdmarkerb two", "fwdmarkera three"]
        .iter()
        .map(|l| l.to_string())
        .collect();
    logger_lines(tcp, "app", &lines);
    let all = wait_alerts(&data, "two alerts", |a| a.len() == 2);
    eng.wait_status("failed deliveries while the IOC is down", |st| {
        st["forward"][0][1]["failed_attempts"].as_u64() >= Some(1)
    });
    // the IOC comes up: a receiver that records Idempotency-Key and answers 200
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let keys = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let k2 = keys.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut len = 0usize;
            let mut line = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let l = line.trim_end().to_ascii_lowercase();
                if l.is_empty() {
                    let mut body = vec![0; len];
                    std::io::Read::read_exact(&mut r, &mut body).unwrap();
                    let mut w = conn.try_clone().unwrap();
                    let _ = w.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok",
                    );
                    len = 0;
                    continue;
                }
                if let Some(v) = l.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                if let Some(v) = line
                    .trim_end()
                    .strip_prefix("Idempotency-Key:")
                    .or_else(|| line.trim_end().strip_prefix("idempotency-key:"))
                {
                    k2.lock().unwrap().push(v.trim().to_owned());
                }
            }
        }
    });
    let t = Instant::now();
    while keys.lock().unwrap().len() < 2 {
        assert!(
            t.elapsed() < WAIT,
            "webhook deliveries: {:?}",
            keys.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eng.wait_status("both delivered", |st| {
        st["forward"][0][1]["delivered"] == 2 && st["forward"][0][1]["pending"] == 0
    });
    // a while later still one delivery per alert
    std::thread::sleep(Duration::from_secs(2));
    let mut got = keys.lock().unwrap().clone();
    got.sort();
    let mut want: Vec<String> = all
        .iter()
        .map(|a| a["uid"].as_str().unwrap().to_owned())
        .collect();
    want.sort();
    assert_eq!(got, want);
}

/// A `canh tui` running in its own tmux server (killed on drop), read and typed into as an
/// officer would.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(data: &Path, size: (u16, u16)) -> Tmux {
        let socket = format!("canh-test-{}", std::process::id());
        // the pane stays after the console exits, so a crash leaves its message on screen
        let conf = data.with_extension("tmux.conf");
        std::fs::write(&conf, "set -g remain-on-exit on\n").unwrap();
        let cmd = format!(
            "{} tui --data {} --lang en",
            env!("CARGO_BIN_EXE_canh"),
            data.display()
        );
        let st = Command::new("tmux")
            .args(["-L", &socket, "-f"])
            .arg(&conf)
            .args(["new-session", "-d"])
            .args(["-x", &size.0.to_string(), "-y", &size.1.to_string()])
            .args(["-e", "NO_COLOR=1", "-e", "CANH_ACTOR=officer-tmux"])
            .args(["-e", "TERM=xterm-256color", &cmd])
            .status()
            .unwrap();
        assert!(st.success(), "tmux new-session failed");
        Tmux { socket }
    }

    fn screen(&self) -> String {
        let o = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Waits until the screen shows `want` (bounded by [`WAIT`]); returns the screen.
    fn wait_for(&self, want: &str) -> String {
        let t = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(want) {
                return s;
            }
            assert!(t.elapsed() < WAIT, "waited {WAIT:?} for {want:?} on:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether the console's process has ended (the pane is dead).
    fn exited(&self) -> bool {
        let o = Command::new("tmux")
            .args(["-L", &self.socket, "display-message", "-p", "#{pane_dead}"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim() == "1"
    }

    /// Types keys (tmux key names: `Enter`, `Escape`, `a`, `j` …).
    fn keys(&self, keys: &[&str]) {
        let st = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys"])
            .args(keys)
            .status()
            .unwrap();
        assert!(st.success());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

#[test]
fn the_console_in_tmux_shows_live_alerts_triages_them_and_survives_an_engine_restart() {
    if !have("tmux") || !have("logger") {
        println!("skipped: tmux or logger not installed");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    // a fixed API port, so the restarted engine is found where the console looks
    let api_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let api = format!("127.0.0.1:{api_port}");
    let start = |data: &Path| {
        Engine::start(
            data,
            &["--syslog", "tcp://127.0.0.1:0", "--api", api.as_str()],
        )
    };
    let mut eng = start(&data);
    let port = eng.addr("tcp").port();
    logger_lines(
        port,
        "sshd",
        &["Accepted publickey for root from 198.51.100.3 port 50122 ssh2".to_owned()],
    );
    wait_alerts(&data, "the root login alert", |a| !a.is_empty());

    let tui = Tmux::start(&data, (160, 48));
    let s = tui.wait_for("SSH login as root");
    assert!(s.contains("198.51.100.3"), "group shown in the queue:\n{s}");

    // a new alert appears without any key pressed
    logger_lines(
        port,
        "sudo",
        &["www-data : user NOT in sudoers ; TTY=unknown ; PWD=/var/www ; USER=root ; COMMAND=/bin/sh -c id"
            .to_owned()],
    );
    tui.wait_for("sudo");
    assert_eq!(
        alerts(&data).len(),
        3,
        "one ssh alert and two sudo rules' alerts"
    );

    // acknowledge the alert under the cursor (the queue's first row), then close it
    tui.keys(&["g", "a"]);
    let all = wait_alerts(&data, "an acknowledged alert", |a| {
        a.iter().any(|x| x["status"] == "acknowledged")
    });
    let acked = all.iter().find(|x| x["status"] == "acknowledged").unwrap();
    let id = acked["id"].as_i64().unwrap();
    let shown = canh_ok(&["alerts", "show", &id.to_string(), "--json"], &data);
    assert!(
        shown.contains("officer-tmux"),
        "history names the officer: {shown}"
    );
    // the acknowledged alert left the "new" queue; close the one now at the top
    tui.keys(&["g", "c"]);
    tui.wait_for("false positive");
    tui.keys(&["2", "Enter"]);
    let all = wait_alerts(&data, "an alert closed from the console", |a| {
        a.iter().any(|x| x["status"] == "closed")
    });
    let closed = all.iter().find(|x| x["status"] == "closed").unwrap();
    assert_ne!(
        closed["id"], id,
        "the acknowledged alert was not in the new queue"
    );
    let shown = canh_ok(
        &["alerts", "show", &closed["id"].to_string(), "--json"],
        &data,
    );
    assert!(shown.contains("false_positive"), "{shown}");

    // the engine goes away: a banner, no crash; it comes back: the console reconnects
    eng.stop();
    tui.wait_for("engine unreachable");
    let _eng2 = start(&data);
    tui.wait_for("engine reachable again");
    assert!(!tui.screen().contains("engine unreachable"));

    // q quits: the console's process ends
    assert!(!tui.exited(), "console running before q:\n{}", tui.screen());
    tui.keys(&["q"]);
    let t = Instant::now();
    while !tui.exited() {
        assert!(
            t.elapsed() < WAIT,
            "canh tui did not quit on q:\n{}",
            tui.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(data.join("tui.log")).unwrap();
    assert!(log.contains("console stopped"), "log file written: {log}");
}

/// A test PKI made with openssl (P-256 keys): a CA, the engine's certificate for 127.0.0.1,
/// client certificates issued to collector names, and a foreign CA with a client
/// certificate of its own.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(dir: &Path) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        let pki = Pki {
            dir: dir.to_owned(),
        };
        for ca in ["ca", "foreign-ca"] {
            pki.ssl(&[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN=canh-test-{ca}"),
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
            ]);
        }
        pki.issue("ca", "engine", "serverAuth", "IP:127.0.0.1,DNS:localhost");
        pki
    }

    fn ssl(&self, args: &[&str]) {
        let o = Command::new("openssl")
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// `{name}.key` (P-256) and a request `{name}.csr` for CN=`name`.
    fn key_and_csr(&self, name: &str) {
        self.ssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
        ]);
    }

    /// `{name}.key` to mode 0600, as canh requires of private keys.
    fn private(&self, name: &str) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            self.dir.join(format!("{name}.key")),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }

    /// `{name}.pem` and `{name}.key` (mode 0600), signed by `ca`.
    fn issue(&self, ca: &str, name: &str, usage: &str, san: &str) {
        self.key_and_csr(name);
        std::fs::write(
            self.dir.join(format!("{name}.ext")),
            format!(
                "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage={usage}\nsubjectAltName={san}\n"
            ),
        )
        .unwrap();
        self.ssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.pem"),
        ]);
        self.private(name);
    }

    fn client(&self, ca: &str, name: &str) {
        self.issue(ca, name, "clientAuth", &format!("DNS:{name}"));
    }

    /// A client certificate from the CA for `name` that expired in 2020 (`openssl ca` sets
    /// the dates `x509 -req` cannot).
    fn expired_client(&self, name: &str) {
        self.key_and_csr(name);
        std::fs::write(self.dir.join("index.txt"), "").unwrap();
        std::fs::write(self.dir.join("serial"), "01\n").unwrap();
        std::fs::write(
            self.dir.join("ca.cnf"),
            format!(
                "[ca]\ndefault_ca = t\n[t]\ndir = .\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n\
                 default_md = sha256\npolicy = any\nunique_subject = no\nx509_extensions = ext\n\
                 [any]\ncommonName = supplied\n[ext]\nbasicConstraints = CA:FALSE\n\
                 keyUsage = digitalSignature\nextendedKeyUsage = clientAuth\nsubjectAltName = DNS:{name}\n"
            ),
        )
        .unwrap();
        self.ssl(&[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-cert",
            "ca.pem",
            "-keyfile",
            "ca.key",
            "-in",
            &format!("{name}.csr"),
            "-out",
            &format!("{name}.pem"),
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20200102000000Z",
        ]);
        self.private(name);
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }

    /// `canh up` flags for a ship listener on `port`.
    fn engine_args(&self, port: u16) -> Vec<String> {
        vec![
            "--ship-listen".into(),
            format!("127.0.0.1:{port}"),
            "--tls-cert".into(),
            self.path("engine.pem"),
            "--tls-key".into(),
            self.path("engine.key"),
            "--client-ca".into(),
            self.path("ca.pem"),
        ]
    }
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_engine_shipping(data: &Path, pki: &Pki, ship_port: u16) -> Engine {
    let mut args: Vec<String> = vec!["--syslog".into(), "tcp://127.0.0.1:0".into()];
    args.extend(pki.engine_args(ship_port));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Engine::start(data, &args)
}

/// A running `canh collect` with one TCP syslog listener, killed on drop.
struct Collector {
    child: Child,
    spool: PathBuf,
    syslog: SocketAddr,
    udp: SocketAddr,
}

impl Collector {
    fn start(spool: &Path, pki: &Pki, cert: &str, name: &str, ship: SocketAddr) -> Collector {
        Collector::start_with(spool, pki, cert, name, ship, &[])
    }

    fn start_with(
        spool: &Path,
        pki: &Pki,
        cert: &str,
        name: &str,
        ship: SocketAddr,
        extra: &[&str],
    ) -> Collector {
        let mut child = canh()
            .args(["collect", "--syslog", "tcp://127.0.0.1:0"])
            .args(["--syslog", "udp://127.0.0.1:0"])
            .args(extra)
            .args(["--netflow", "udp://127.0.0.1:0", "--ship"])
            .arg(ship.to_string())
            .args(["--tls-cert", &pki.path(&format!("{cert}.pem"))])
            .args(["--tls-key", &pki.path(&format!("{cert}.key"))])
            .args(["--ca", &pki.path("ca.pem"), "--name", name, "--spool"])
            .arg(spool)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(spool.with_extension("stderr.log"))
                    .unwrap(),
            ))
            .spawn()
            .expect("spawn canh collect");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut syslog, mut udp) = (None, None);
        loop {
            let Some(Ok(line)) = lines.next() else {
                let err =
                    std::fs::read_to_string(spool.with_extension("stderr.log")).unwrap_or_default();
                panic!("canh collect exited before shipping: {err}");
            };
            if let Some(rest) = line.strip_prefix("listening syslog ") {
                let (url, b) = rest.split_once(" (bound ").unwrap();
                let b = Some(b.trim_end_matches(')').parse().unwrap());
                if url.starts_with("udp") {
                    udp = b;
                } else {
                    syslog = b;
                }
            }
            if line.starts_with("shipping to ") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Collector {
            child,
            spool: spool.to_owned(),
            syslog: syslog.expect("a TCP syslog listener"),
            udp: udp.expect("a UDP syslog listener"),
        }
    }

    fn status(&self) -> serde_json::Value {
        let o = canh()
            .args(["status", "--json", "--data"])
            .arg(&self.spool)
            .output()
            .unwrap();
        if !o.status.success() {
            return serde_json::Value::Null; // first status not written yet
        }
        serde_json::from_slice(&o.stdout).unwrap()
    }

    fn wait_status(&self, what: &str, ready: impl Fn(&serde_json::Value) -> bool) {
        let t = Instant::now();
        loop {
            let st = self.status();
            if st["kind"] == "collector" && st["pid"] == self.child.id() && ready(&st) {
                return;
            }
            assert!(t.elapsed() < WAIT, "waited {WAIT:?} for {what}: {st}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `tag` is indexed `want` times and the collector's spool is drained, then
/// checks every number arrived exactly once.
fn assert_exactly_once(data: &Path, col: &Collector, tag: &str, want: u32) {
    let n = wait_count(data, tag, u64::from(want));
    col.wait_status("the spool drained", |s| {
        s["ship"]["spool_depth"] == 0 && s["ship"]["acked_pos"] == s["ship"]["durable_pos"]
    });
    // a late duplicate would show after the drain: look again after a commit
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        count(data, tag),
        u64::from(want),
        "{tag}: first count {n}; collector: {}; its log: {}",
        col.status(),
        std::fs::read_to_string(col.spool.with_extension("stderr.log")).unwrap_or_default()
    );
    let seqs = unique_seqs(data, tag);
    assert_eq!(seqs.len(), want as usize);
    assert_eq!(seqs.last().copied(), Some(want - 1));
}

#[test]
fn collector_spools_while_the_engine_is_down_and_survives_kill_9_exactly_once() {
    if !have("openssl") {
        println!("skipped: openssl not installed");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let pki = Pki::new(&d.path().join("pki"));
    pki.client("ca", "collector-a");
    let (data, spool) = (d.path().join("data"), d.path().join("spool"));
    let ship: SocketAddr = format!("127.0.0.1:{}", free_tcp_port()).parse().unwrap();

    // no engine yet: 20,000 events reach the collector and wait in its spool
    let mut col = Collector::start(&spool, &pki, "collector-a", "collector-a", ship);
    send_numbered(col.syslog, "edgedown", 0..20_000);
    col.wait_status("20,000 events spooled", |s| {
        s["ship"]["spooled_events"] == 20_000 && s["ship"]["connected"] == false
    });
    let text = canh_ok(&["status"], &spool);
    assert!(text.contains("NOT CONNECTED"), "{text}");
    col.kill9();

    // both start again: everything arrives once; the engine hears that the collector's
    // oldest event waited longer than the (short) alert threshold
    let mut args = vec!["--syslog", "tcp://127.0.0.1:0"];
    let ship_args = pki.engine_args(ship.port());
    args.extend(ship_args.iter().map(String::as_str));
    args.extend(["--spool-age-alert", "1s", "--collector-silent-after", "3s"]);
    let eng = Engine::start(&data, &args);
    let mut col = Collector::start(&spool, &pki, "collector-a", "collector-a", ship);
    assert_exactly_once(&data, &col, "edgedown", 20_000);
    let st = eng.status();
    assert!(st["ship"]["batches"].as_u64().unwrap() >= 1, "{st}");
    assert_eq!(st["ship"]["refused"], 0, "{st}");
    let row = &st["ship"]["collectors"][0];
    assert_eq!(row["name"], "collector-a", "{st}");
    // every event says which collector shipped it
    let o = search(&data, &["edgedown", "--json", "--limit", "1"]);
    let ev: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().next().unwrap()).unwrap();
    assert!(
        ev["canh.listener"]
            .as_str()
            .is_some_and(|l| l.starts_with("collector-a:tcp://")),
        "{ev}"
    );
    assert_eq!(row["events"], 20_000, "{st}");
    let text = canh_ok(&["status"], &spool);
    assert!(text.contains("connected"), "{text}");
    assert!(text.contains("0 batches unshipped"), "{text}");
    wait_alerts(&data, "the collector-behind alert", |a| {
        a.iter().any(|x| {
            x["rule"] == "canh.collector_backlog" && x["group"]["collector"] == "collector-a"
        })
    });

    // the collector dies: the engine raises one "collector silent" alert
    col.kill9();
    let all = wait_alerts(&data, "the collector-silent alert", |a| {
        a.iter().any(|x| x["rule"] == "canh.collector_silent")
    });
    let silent: Vec<_> = all
        .iter()
        .filter(|x| x["rule"] == "canh.collector_silent")
        .collect();
    assert_eq!(silent.len(), 1, "{all:?}");
    assert!(
        silent[0]["title"].as_str().unwrap().contains("collector-a"),
        "{all:?}"
    );
    let text = canh_ok(&["status"], &data);
    assert!(
        text.contains("collector collector-a DISCONNECTED"),
        "{text}"
    );
}

#[test]
fn engine_kill_9_while_a_collector_ships_still_indexes_every_event_once() {
    if !have("openssl") {
        println!("skipped: openssl not installed");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let pki = Pki::new(&d.path().join("pki"));
    pki.client("ca", "collector-a");
    let (data, spool) = (d.path().join("data"), d.path().join("spool"));
    let port = free_tcp_port();
    let ship: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut eng = start_engine_shipping(&data, &pki, port);
    let col = Collector::start(&spool, &pki, "collector-a", "collector-a", ship);

    send_numbered(col.syslog, "edgekill", 0..5_000);
    wait_count(&data, "edgekill", 1);
    // the engine dies with batches in flight; more arrive at the collector meanwhile
    let sender = std::thread::spawn({
        let addr = col.syslog;
        move || send_numbered(addr, "edgekill", 5_000..20_000)
    });
    eng.kill9();
    sender.join().unwrap();
    col.wait_status("the collector noticed", |s| s["ship"]["connected"] == false);
    let _eng = start_engine_shipping(&data, &pki, port);
    assert_exactly_once(&data, &col, "edgekill", 20_000);
}

/// A TCP relay between a collector and the engine that cuts every connection each `every`.
fn cutting_proxy(
    to: SocketAddr,
    every: Duration,
) -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let live: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
    {
        let (live, stop) = (live.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(every);
                for s in live.lock().unwrap().drain(..) {
                    let _ = s.shutdown(std::net::Shutdown::Both);
                }
            }
        });
    }
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(c) = c else { continue };
            let Ok(e) = TcpStream::connect(to) else {
                continue;
            };
            let mut g = live.lock().unwrap();
            g.push(c.try_clone().unwrap());
            g.push(e.try_clone().unwrap());
            drop(g);
            for (mut a, mut b) in [(c.try_clone().unwrap(), e.try_clone().unwrap()), (e, c)] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut a, &mut b);
                    let _ = b.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
    (addr, stop)
}

#[test]
fn a_link_cut_again_and_again_under_load_loses_and_repeats_nothing() {
    if !have("openssl") {
        println!("skipped: openssl not installed");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let pki = Pki::new(&d.path().join("pki"));
    pki.client("ca", "collector-a");
    let (data, spool) = (d.path().join("data"), d.path().join("spool"));
    let port = free_tcp_port();
    let eng = start_engine_shipping(&data, &pki, port);
    let (proxy, stop) = cutting_proxy(
        format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_millis(1200),
    );
    let col = Collector::start(&spool, &pki, "collector-a", "collector-a", proxy);
    for k in 0..8u32 {
        send_numbered(col.syslog, "edgecut", k * 2_500..(k + 1) * 2_500);
        std::thread::sleep(Duration::from_millis(300));
    }
    let n = wait_count(&data, "edgecut", 20_000);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert_exactly_once(&data, &col, "edgecut", 20_000);
    let st = col.status();
    assert!(
        st["ship"]["connects"].as_u64().unwrap() > 1,
        "the link was cut while shipping (first count {n}): {st}"
    );
    let es = eng.status();
    println!(
        "link cut: {} connects, engine took {} batches and recognised {} re-deliveries",
        st["ship"]["connects"], es["ship"]["batches"], es["ship"]["duplicates"]
    );
}

#[test]
fn collectors_without_a_valid_certificate_for_their_name_inject_nothing_and_are_audited() {
    if !have("openssl") {
        println!("skipped: openssl not installed");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let pki = Pki::new(&d.path().join("pki"));
    pki.client("ca", "collector-b");
    pki.client("ca", "collector-c");
    pki.client("foreign-ca", "intruder");
    let data = d.path().join("data");
    let port = free_tcp_port();
    let ship: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // collectors a and b may ship; c has a valid certificate but is not on the list
    let mut args: Vec<String> = vec!["--syslog".into(), "tcp://127.0.0.1:0".into()];
    args.extend(pki.engine_args(port));
    args.extend(["--ship-allow", "collector-a", "--ship-allow", "collector-b"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let eng = Engine::start(&data, &args);

    // plaintext: a HELLO and a batch-looking frame without TLS
    {
        let mut s = TcpStream::connect(ship).unwrap();
        let _ = s.write_all(b"\x0d\x00\x00\x00\x01\x01\x00\x00\x00plaintext");
        let _ = s.write_all(b"<134>1 2026-11-25T10:00:00Z h app - - - injected\n");
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut s, &mut sink);
    }
    // TLS without a client certificate, and with one from a foreign CA
    for extra in [
        vec![],
        vec!["-cert", "intruder.pem", "-key", "intruder.key"],
    ] {
        let mut c = Command::new("openssl")
            .args([
                "s_client",
                "-connect",
                &ship.to_string(),
                "-tls1_3",
                "-quiet",
            ])
            .args(["-CAfile", "ca.pem"])
            .args(&extra)
            .current_dir(&pki.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let _ = c
            .stdin
            .take()
            .unwrap()
            .write_all(b"\x0d\x00\x00\x00\x01\x01\x00\x00\x00injected\n");
        let t = Instant::now();
        while c.try_wait().unwrap().is_none() && t.elapsed() < WAIT {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        let _ = c.wait();
    }
    // a real collector whose certificate is issued to another name
    let spool = d.path().join("spool");
    let col = Collector::start(&spool, &pki, "collector-b", "collector-a", ship);
    send_numbered(col.syslog, "edgeforged", 0..100);
    col.wait_status("the forged collector refused", |s| {
        s["ship"]["spooled_events"] == 100 && s["ship"]["connect_failures"].as_u64() >= Some(1)
    });

    // a collector with a valid certificate for its name, not on the allow-list
    let c_spool = d.path().join("c-spool");
    let c = Collector::start(&c_spool, &pki, "collector-c", "collector-c", ship);
    send_numbered(c.syslog, "edgenotallowed", 0..100);
    c.wait_status("the unlisted collector refused", |s| {
        s["ship"]["spooled_events"] == 100 && s["ship"]["connect_failures"].as_u64() >= Some(1)
    });

    // a collector whose certificate expired
    let old_spool = d.path().join("old-spool");
    pki.expired_client("collector-old");
    let old = Collector::start(&old_spool, &pki, "collector-old", "collector-old", ship);
    send_numbered(old.syslog, "edgeexpired", 0..100);
    old.wait_status("the expired collector refused", |s| {
        s["ship"]["spooled_events"] == 100 && s["ship"]["connect_failures"].as_u64() >= Some(1)
    });

    let st = eng.wait_status("six refusals", |s| s["ship"]["refused"].as_u64() >= Some(6));
    assert_eq!(st["ship"]["batches"], 0, "{st}");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        count(&data, "*"),
        0,
        "nothing from a refused peer is indexed"
    );
    let audit = std::fs::read_to_string(data.join("audit.log")).unwrap();
    let refusals: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("collector.refused"))
        .collect();
    assert!(refusals.len() >= 6, "{audit}");
    assert!(
        refusals.iter().any(|l| l.contains("not on the allow-list")),
        "{audit}"
    );
    assert!(
        refusals
            .iter()
            .any(|l| l.to_lowercase().contains("expired")),
        "{audit}"
    );
    assert!(refusals.iter().all(|l| l.contains("127.0.0.1:")), "{audit}");
    assert!(
        refusals
            .iter()
            .any(|l| l.contains("not issued to collector")),
        "{audit}"
    );
    canh_ok(&["audit", "verify"], &data);
}

#[test]
fn collect_refuses_a_readable_key_a_tiny_spool_and_a_bad_name_with_exit_2() {
    if !have("openssl") {
        println!("skipped: openssl not installed");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let pki = Pki::new(&d.path().join("pki"));
    pki.client("ca", "collector-a");
    let spool = d.path().join("spool");
    let run = |key: &str, extra: &[&str]| {
        canh()
            .args(["collect", "--syslog", "tcp://127.0.0.1:0"])
            .args(["--netflow", "udp://127.0.0.1:0", "--ship", "127.0.0.1:1"])
            .args(["--tls-cert", &pki.path("collector-a.pem"), "--tls-key", key])
            .args(["--ca", &pki.path("ca.pem"), "--spool"])
            .arg(&spool)
            .args(extra)
            .output()
            .unwrap()
    };
    let open_key = d.path().join("open.key");
    std::fs::copy(pki.path("collector-a.key"), &open_key).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&open_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    for (key, extra, says) in [
        (
            open_key.display().to_string(),
            vec!["--name", "collector-a"],
            "readable by others",
        ),
        (
            pki.path("collector-a.key"),
            vec!["--name", "collector-a", "--max-spool-bytes", "1000"],
            "--max-spool-bytes 1000",
        ),
        (
            pki.path("collector-a.key"),
            vec!["--name", "a b/c"],
            "--name",
        ),
    ] {
        let o = run(&key, &extra);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(says), "{extra:?}: {err}");
    }
    // --ship-listen without the engine's certificate is a usage error too
    let o = canh()
        .args(["up", "--data"])
        .arg(d.path().join("data"))
        .args([
            "--ship-listen",
            "127.0.0.1:0",
            "--client-ca",
            &pki.path("ca.pem"),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--tls-cert"));
}

#[test]
fn a_full_spool_slows_tcp_senders_and_counts_udp_drops_then_drains_exactly_once() {
    if !have("openssl") {
        println!("skipped: openssl not installed");
        return;
    }
    // three tags of 100,000 (a search returns at most 100,000 events to check one by one)
    const TCP_TAGS: [&str; 3] = ["fulltcpa", "fulltcpb", "fulltcpc"];
    const TCP_EVENTS: u32 = 100_000;
    const UDP_EVENTS: u32 = 2_000;
    let d = tempfile::tempdir().unwrap();
    let pki = Pki::new(&d.path().join("pki"));
    pki.client("ca", "collector-a");
    let (data, spool) = (d.path().join("data"), d.path().join("spool"));
    let port = free_tcp_port();
    let ship: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // the smallest spool, and no engine: it fills
    let col = Collector::start_with(
        &spool,
        &pki,
        "collector-a",
        "collector-a",
        ship,
        &["--max-spool-bytes", "16777216"],
    );
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sender = std::thread::spawn({
        let (addr, done) = (col.syslog, done.clone());
        move || {
            for tag in TCP_TAGS {
                send_numbered(addr, tag, 0..TCP_EVENTS);
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    });
    col.wait_status("the spool full", |s| {
        s["ship"]["spool_full_waits"].as_u64() > Some(0)
    });
    // the queue behind the spool fills too; then the TCP sender waits (no loss) and UDP
    // datagrams that find no room are dropped and counted
    std::thread::sleep(Duration::from_secs(2));
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for k in 0..UDP_EVENTS {
        udp.send_to(
            format!("<134>1 2026-11-25T10:00:00Z web01 app - - - fulludp seq{k}").as_bytes(),
            col.udp,
        )
        .unwrap();
    }
    col.wait_status("UDP drops counted", |s| {
        s["listeners"].as_array().unwrap().iter().any(|l| {
            l["url"].as_str().unwrap().starts_with("udp") && l["dropped_queue"].as_u64() > Some(0)
        })
    });
    assert!(
        !done.load(std::sync::atomic::Ordering::SeqCst),
        "the TCP sender was held back while the spool was full"
    );
    let st = col.status();
    let spool_bytes = st["ship"]["spool_bytes"].as_u64().unwrap();
    assert!(
        spool_bytes <= 16 * 1024 * 1024 + 9 * 1024 * 1024,
        "spool bounded: {st}"
    );

    // the engine comes: the spool drains, the TCP sender finishes, nothing is lost or doubled
    let _eng = start_engine_shipping(&data, &pki, port);
    sender.join().unwrap();
    for tag in TCP_TAGS {
        assert_exactly_once(&data, &col, tag, TCP_EVENTS);
    }
    let st = col.status();
    let l = st["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["url"].as_str().unwrap().starts_with("udp"))
        .unwrap()
        .clone();
    let dropped = l["dropped_queue"].as_u64().unwrap() + l["dropped_kernel"].as_u64().unwrap();
    assert_eq!(
        l["received"].as_u64().unwrap() + l["dropped_kernel"].as_u64().unwrap(),
        u64::from(UDP_EVENTS),
        "{l}"
    );
    let want = u64::from(UDP_EVENTS) - dropped;
    assert_eq!(
        wait_count(&data, "fulludp", want),
        want,
        "every UDP record indexed or counted: {l}"
    );
}

#[test]
fn a_collector_spool_restored_from_a_snapshot_loses_nothing_new_and_repeats_nothing_old() {
    if !have("openssl") {
        println!("skipped: openssl not installed");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let pki = Pki::new(&d.path().join("pki"));
    pki.client("ca", "collector-a");
    let (data, spool, snap) = (
        d.path().join("data"),
        d.path().join("spool"),
        d.path().join("snapshot"),
    );
    let port = free_tcp_port();
    let ship: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let cp = |from: &Path, to: &Path| {
        let _ = std::fs::remove_dir_all(to);
        let st = Command::new("cp")
            .arg("-a")
            .arg(from)
            .arg(to)
            .status()
            .unwrap();
        assert!(st.success());
    };

    // the spool holds A when the snapshot is taken; B comes after; the engine gets both
    let mut col = Collector::start(&spool, &pki, "collector-a", "collector-a", ship);
    send_numbered(col.syslog, "snapa", 0..50);
    col.wait_status("A spooled", |s| s["ship"]["spooled_events"] == 50);
    col.kill9();
    cp(&spool, &snap);
    let mut col = Collector::start(&spool, &pki, "collector-a", "collector-a", ship);
    send_numbered(col.syslog, "snapb", 0..50);
    col.wait_status("B spooled", |s| s["ship"]["spooled_events"] == 50);
    let _eng = start_engine_shipping(&data, &pki, port);
    assert_exactly_once(&data, &col, "snapa", 50);
    assert_exactly_once(&data, &col, "snapb", 50);
    col.kill9();

    // the collector's disk goes back to the snapshot: its next position is one the engine
    // already holds (B's), so C must not be taken for a re-delivery of it
    cp(&snap, &spool);
    let col = Collector::start(&spool, &pki, "collector-a", "collector-a", ship);
    send_numbered(col.syslog, "snapc", 0..50);
    assert_exactly_once(&data, &col, "snapc", 50);
    assert_eq!(count(&data, "snapa"), 50, "A not shipped again");
}

#[test]
fn monthly_report_reads_a_running_engine_and_its_daily_health_counters() {
    if !have("logger") || !have("pdftotext") {
        println!("skipped: logger or pdftotext not installed");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let mut eng = Engine::start(&data, &["--syslog", "tcp://127.0.0.1:0"]);
    let port = eng.addr("tcp").port();
    let lines: Vec<String> = (0..20)
        .map(|i| format!("Accepted publickey for deploy from 10.1.2.{i} port 5000{i} ssh2"))
        .collect();
    logger_lines(port, "sshd", &lines);
    assert_eq!(wait_count(&data, "10.1.2.*", 20), 20);
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let report = |out: &Path| {
        let o = canh()
            .args([
                "report",
                "--month",
                &month,
                "--lang",
                "en",
                "--timezone",
                "UTC",
            ])
            .arg("--data")
            .arg(&data)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let t = Command::new("pdftotext")
            .args(["-layout"])
            .arg(out.join("report.pdf"))
            .arg("-")
            .output()
            .unwrap();
        String::from_utf8_lossy(&t.stdout).into_owned()
    };
    // While the engine runs: read-only on its data, and the report verifies.
    let live = report(&d.path().join("live"));
    assert!(live.contains("Collector health"), "{live}");
    let v = canh()
        .args(["report", "verify"])
        .arg(d.path().join("live"))
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    // The engine's rule set is on record for the month.
    assert!(live.contains("rules.load"), "{live}");

    // Stopping adds the day's counters to DATA/health/, which the next report shows.
    eng.stop();
    let day = chrono::Utc::now().date_naive();
    let health: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join(format!("health/{day}.json"))).unwrap())
            .unwrap();
    let received: u64 = health["sources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("syslog tcp://"))
        .map(|(_, c)| c["received"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(received, 20, "{health}");
    let after = report(&d.path().join("after"));
    let row = after
        .lines()
        .find(|l| l.trim_start().starts_with(&day.to_string()))
        .unwrap_or_else(|| panic!("no losses row for {day}:\n{after}"));
    assert_eq!(row.split_whitespace().nth(1), Some("20"), "{row}");
}
