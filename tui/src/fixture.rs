//! A populated console without a network, for the screen snapshots and the render bench:
//! alerts of every level and status (Vietnamese titles among them), an opened alert with
//! samples and history, search results, a minute of engine status and a rule set.
//!
//! Everything is fixed — the clock is 2025-06-01 10:00:00 +07:00 — so screens are identical
//! on every run.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, FixedOffset, Utc};

use crate::i18n::Lang;
use crate::model::{
    Alert, AlertDetail, AlertsStatus, Collector, Counts, Detection, EngineStatus, Exporter,
    HistoryEntry, Hit, Listener, Netflow, Pipeline, RuleEntry, RuleHits, Sample, Ship, Source,
    Stage,
};
use crate::state::{App, Conn, DetailView, EventView, StatusFilter};

/// The fixture's clock: 2025-06-01T03:00:00Z.
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-06-01T03:00:00Z")
        .expect("fixed time")
        .with_timezone(&Utc)
}

fn at(mins_ago: i64) -> String {
    (now() - Duration::minutes(mins_ago)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn map(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
    kv.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// One alert with the fields the screens show.
#[allow(clippy::too_many_arguments)]
fn alert(
    id: i64,
    level: &str,
    status: &str,
    rule: &str,
    title: &str,
    group: &[(&str, &str)],
    count: u64,
    mins_ago: i64,
) -> Alert {
    let group = map(group);
    let mut search = format!("canh.rule.id:\"{rule}\"");
    for (k, v) in &group {
        search.push_str(&format!(" AND {k}:\"{v}\""));
    }
    Alert {
        id,
        uid: format!("uid-{id}"),
        rule: rule.to_owned(),
        title: title.to_owned(),
        level: level.to_owned(),
        kind: "detection".to_owned(),
        tags: Vec::new(),
        description: None,
        matched: group.clone(),
        group,
        first_seen: at(mins_ago + 7),
        last_seen: at(mins_ago),
        count,
        value: None,
        status: status.to_owned(),
        assignee: None,
        close_reason: None,
        created: at(mins_ago + 7),
        updated: at(mins_ago),
        search: format!(
            "canh search '{search}' --from {} --to {}",
            at(mins_ago + 7),
            at(mins_ago)
        ),
    }
}

/// The hand-written alerts of the queue.
pub fn alerts() -> Vec<Alert> {
    let mut v = vec![
        alert(
            101,
            "critical",
            "new",
            "canh-linux-ssh-root-outside",
            "SSH login as root from outside the province network",
            &[
                ("host.name", "bastion01"),
                ("source.ip", "203.0.113.5"),
                ("user.name", "root"),
            ],
            3,
            2,
        ),
        alert(
            102,
            "high",
            "acknowledged",
            "canh-linux-ssh-bruteforce",
            "Brute force: 20 failed SSH logins from one address",
            &[("source.ip", "198.51.100.23")],
            57,
            4,
        ),
        alert(
            103,
            "high",
            "new",
            "canh-dvc-login-failures",
            "Đăng nhập thất bại nhiều lần vào cổng dịch vụ công",
            &[("host.name", "dvc-web01"), ("user.name", "quản_trị")],
            24,
            6,
        ),
        alert(
            104,
            "high",
            "new",
            "canh-ioc-connection",
            "Connection with an address on an IOC list",
            &[
                ("destination.ip", "185.220.101.4"),
                ("host.name", "fw-core"),
            ],
            9,
            11,
        ),
        alert(
            105,
            "medium",
            "new",
            "canh-linux-sudo-root",
            "Sudo to root by a user outside the admins group",
            &[("host.name", "db02"), ("user.name", "tuan.le")],
            2,
            15,
        ),
        alert(
            106,
            "medium",
            "new",
            "canh.silent_source",
            "Silent source: no events for 30 minutes",
            &[("host.name", "sw-access-03")],
            1,
            20,
        ),
        alert(
            107,
            "medium",
            "acknowledged",
            "canh-fortigate-admin-new-ip",
            "Firewall admin login from a new address",
            &[("host.name", "fw-core"), ("source.ip", "10.20.3.44")],
            1,
            95,
        ),
        alert(
            108,
            "low",
            "new",
            "canh-netflow-port-scan",
            "Port scan from an internal address",
            &[("source.ip", "10.10.8.17")],
            12,
            33,
        ),
        alert(
            109,
            "low",
            "closed",
            "canh-windows-user-created",
            "Tài khoản người dùng mới được tạo trên máy chủ AD",
            &[("host.name", "ad01"), ("user.name", "thu.tran")],
            1,
            60 * 20,
        ),
        alert(
            110,
            "informational",
            "closed",
            "canh-linux-service-restart",
            "Service restarted: nginx",
            &[("host.name", "dvc-web01")],
            4,
            60 * 26,
        ),
    ];
    v[0].tags = vec![
        "attack.initial_access".into(),
        "attack.t1078".into(),
        "attack.t1021.004".into(),
        "province.network".into(),
    ];
    v[0].description = Some(
        "root logged in over SSH from an address outside the province's networks. Root \
         logins should come only from the bastion's admin subnet."
            .into(),
    );
    v[0].matched
        .insert("event.outcome".into(), "success".into());
    v[1].kind = "correlation".into();
    v[1].value = Some(57.0);
    v[1].assignee = Some("an.nguyen".into());
    v[1].tags = vec!["attack.credential_access".into(), "attack.t1110.001".into()];
    v[5].kind = "silent_source".into();
    v[6].assignee = Some("minh.pham".into());
    v[8].close_reason = Some("benign".into());
    v[9].close_reason = Some("duplicate".into());
    v
}

/// `n` generated alerts (ids from 1,000,000), spread over levels and the last day.
pub fn many_alerts(n: usize) -> Vec<Alert> {
    const LEVELS: [&str; 5] = ["critical", "high", "medium", "low", "informational"];
    (0..n)
        .map(|i| {
            let ip = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
            let host = format!("host-{:04}", i % 997);
            let mut a = alert(
                1_000_000 + i as i64,
                LEVELS[(i * 7 + i / 3) % 5],
                if i % 3 == 0 { "acknowledged" } else { "new" },
                &format!("canh-rule-{:03}", i % 211),
                &format!("Rule {:03}: suspicious activity on {host}", i % 211),
                &[("host.name", &host), ("source.ip", &ip)],
                (i % 50) as u64 + 1,
                (i % 1440) as i64,
            );
            a.description = Some("generated".into());
            a
        })
        .collect()
}

/// The detail of alert 101.
pub fn detail() -> AlertDetail {
    let a = alerts().remove(0);
    let raw1 = "<38>1 2025-06-01T09:58:03+07:00 bastion01 sshd 4242 - - Accepted publickey for root from 203.0.113.5 port 40022 ssh2: ED25519 SHA256:q9X1c0mA";
    let raw2 = "<38>Jun  1 09:59:41 bastion01 sshd[4310]: Accepted password for root from 203.0.113.5 port 40188 ssh2";
    AlertDetail {
        samples: vec![
            Sample {
                time: at(9),
                host: Some("bastion01".into()),
                message: Some(
                    "Accepted publickey for root from 203.0.113.5 port 40022 ssh2: ED25519 SHA256:q9X1c0mA".into(),
                ),
                raw: raw1.into(),
                fields: map(&[("source.ip", "203.0.113.5"), ("user.name", "root")]),
            },
            Sample {
                time: at(2),
                host: Some("bastion01".into()),
                message: Some("Accepted password for root from 203.0.113.5 port 40188 ssh2".into()),
                raw: raw2.into(),
                fields: map(&[("source.ip", "203.0.113.5"), ("user.name", "root")]),
            },
        ],
        history: vec![
            HistoryEntry {
                at: at(9),
                actor: "canh".into(),
                action: "created".into(),
                detail: serde_json::Value::Null,
            },
            HistoryEntry {
                at: at(1),
                actor: "an.nguyen".into(),
                action: "note".into(),
                detail: serde_json::json!({"text": "Đã gọi quản trị viên bastion01 để xác minh phiên đăng nhập"}),
            },
        ],
        alert: a,
    }
}

/// Search results for `source.ip:"203.0.113.5"`.
pub fn hits() -> Vec<Hit> {
    (0..14)
        .map(|i| {
            let ok = i % 4 == 0;
            let user = ["root", "admin", "oracle", "quản_trị"][i % 4];
            let msg = if ok {
                format!(
                    "Accepted publickey for {user} from 203.0.113.5 port {} ssh2",
                    40000 + i
                )
            } else {
                format!(
                    "Failed password for invalid user {user} from 203.0.113.5 port {} ssh2",
                    40000 + i
                )
            };
            Hit::from_json(&serde_json::json!({
                "@timestamp": at(2 + 3 * i as i64),
                "host.name": if i % 5 == 0 { "bastion02" } else { "bastion01" },
                "message": msg,
                "source.ip": "203.0.113.5",
                "source.port": 40000 + i,
                "user.name": user,
                "event.outcome": if ok { "success" } else { "failure" },
                "event.dataset": "syslog",
                "process.name": "sshd",
                "process.pid": 4242 + i,
                "log.syslog.facility.name": "auth",
                "log.syslog.severity.name": "info",
                "canh.rule.id": "canh-linux-ssh-bruteforce",
            }))
        })
        .collect()
}

/// Rules as the engine lists them.
pub fn rules() -> Vec<RuleEntry> {
    let r = |key: &str, title: &str, level: &str, state: &str, reason: Option<&str>, hits: u64| {
        RuleEntry {
            key: key.into(),
            title: title.into(),
            level: (!level.is_empty()).then(|| level.into()),
            kind: Some("detection".into()),
            state: state.into(),
            reason: reason.map(Into::into),
            file: format!("rules/canh/{key}.yml"),
            hits,
        }
    };
    vec![
        r(
            "canh-linux-ssh-root-outside",
            "SSH login as root from outside the province network",
            "critical",
            "compiled",
            None,
            3,
        ),
        r(
            "canh-linux-ssh-bruteforce",
            "Brute force: 20 failed SSH logins from one address",
            "high",
            "compiled",
            None,
            1204,
        ),
        r(
            "canh-dvc-login-failures",
            "Đăng nhập thất bại nhiều lần vào cổng dịch vụ công",
            "high",
            "compiled",
            None,
            388,
        ),
        r(
            "canh-ioc-connection",
            "Connection with an address on an IOC list",
            "high",
            "compiled",
            None,
            9,
        ),
        r(
            "canh-linux-sudo-root",
            "Sudo to root by a user outside the admins group",
            "medium",
            "compiled",
            None,
            2,
        ),
        r(
            "canh-fortigate-admin-new-ip",
            "Firewall admin login from a new address",
            "medium",
            "compiled",
            None,
            1,
        ),
        r(
            "canh-netflow-port-scan",
            "Port scan from an internal address",
            "low",
            "compiled",
            None,
            12,
        ),
        r(
            "canh-windows-user-created",
            "Tài khoản người dùng mới được tạo trên máy chủ AD",
            "low",
            "compiled",
            None,
            1,
        ),
        r(
            "canh-linux-service-restart",
            "Service restarted: nginx",
            "informational",
            "compiled",
            None,
            4,
        ),
        r(
            "sigma-proc-creation-lolbin",
            "Suspicious LOLBin execution",
            "high",
            "unsupported",
            Some("logsource product windows / category process_creation: no source sends it"),
            0,
        ),
        r(
            "sigma-dns-tunnel",
            "DNS tunnelling by query length",
            "medium",
            "unsupported",
            Some(
                "aggregation `count() by` in the condition is Sigma 1.x; rewrite as a correlation rule",
            ),
            0,
        ),
        r(
            "local-broken",
            "",
            "",
            "invalid",
            Some("detection.selection.user|contians: unknown modifier `contians`"),
            0,
        ),
    ]
}

/// Engine status `secs_ago` seconds before the fixture clock; counters grow with a wave.
fn status(secs_ago: i64) -> EngineStatus {
    let t = 600 - secs_ago;
    let wave = |base: u64, amp: u64, phase: i64| {
        let mut total = 0;
        for s in 0..t {
            total += base + amp * (((s + phase) % 17) as u64) / 16;
        }
        total
    };
    let updated = now() - Duration::seconds(secs_ago);
    let src = |h: Option<&str>, n: u64, last: i64| Source {
        received: n,
        unparsed: n / 200,
        hostname: h.map(Into::into),
        last_seen: Some(
            (now() - Duration::seconds(last)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
    };
    EngineStatus {
        version: "0.1.0".into(),
        pid: 4242,
        started_at: (now() - Duration::hours(3)).to_rfc3339(),
        updated_at: updated.to_rfc3339(),
        api: "127.0.0.1:8470".into(),
        listeners: vec![
            Listener {
                url: "udp://127.0.0.1:5514".into(),
                received: wave(120, 80, 0),
                parsed: wave(120, 80, 0) - 37,
                unparsed: 37,
                bytes: wave(120, 80, 0) * 180,
                sources: vec![
                    ("10.10.1.5".into(), src(Some("fw-core"), 182_004, 1)),
                    ("10.10.2.7".into(), src(Some("dvc-web01"), 96_310, 2)),
                    ("10.10.4.9".into(), src(Some("sw-access-03"), 1_200, 1900)),
                ],
                ..Default::default()
            },
            Listener {
                url: "tcp://127.0.0.1:5514".into(),
                received: wave(30, 60, 5),
                parsed: wave(30, 60, 5),
                dropped_queue: 12,
                connections_open: 4,
                sources: vec![
                    ("10.10.3.11".into(), src(Some("bastion01"), 40_112, 1)),
                    ("10.10.3.12".into(), src(Some("db02"), 8_004, 3)),
                    ("10.10.6.2".into(), src(None, 310, 40)),
                ],
                ..Default::default()
            },
        ],
        inactive: vec![(
            "tls://0.0.0.0:6514".into(),
            "no certificate configured".into(),
        )],
        pipeline: Pipeline {
            wal_events_durable: 1_904_220,
            wal_disk_bytes: 512 << 20,
            indexed_events: 1_904_100,
            index_errors: 0,
            replayed_events: 0,
            queue_depth: 3,
            queue_capacity: 1024,
        },
        detection: Some(Detection {
            origin: "embedded".into(),
            compiled: 9,
            unsupported: 2,
            invalid: 1,
            reloads: 1,
            last_reload_error: None,
            top_rules: vec![
                RuleHits {
                    id: "canh-linux-ssh-bruteforce".into(),
                    title: "Brute force: 20 failed SSH logins from one address".into(),
                    hits: 1204,
                },
                RuleHits {
                    id: "canh-dvc-login-failures".into(),
                    title: "Đăng nhập thất bại nhiều lần vào cổng dịch vụ công".into(),
                    hits: 388,
                },
                RuleHits {
                    id: "canh-netflow-port-scan".into(),
                    title: "Port scan from an internal address".into(),
                    hits: 12,
                },
                RuleHits {
                    id: "canh-ioc-connection".into(),
                    title: "Connection with an address on an IOC list".into(),
                    hits: 9,
                },
            ],
            ioc_hits: 9,
        }),
        netflow: vec![Netflow {
            url: "udp://127.0.0.1:2055".into(),
            datagrams: 88_000,
            totals: Exporter {
                records: wave(300, 200, 9),
                decode_errors: 2,
                sequence_gaps: 14,
                ..Default::default()
            },
            ..Default::default()
        }],
        alerts: Some(AlertsStatus {
            stage: Stage {
                matches: 1620,
                suppressed: 84,
                alerts_created: 110,
                store_errors: 0,
                queue_depth: 0,
                queue_capacity: 256,
                silent_sources: 1,
            },
            counts: Counts {
                new: 6,
                acknowledged: 2,
                closed: 2,
            },
        }),
        ship: Some(Ship {
            listen: "0.0.0.0:6000".into(),
            refused: 1,
            collectors: vec![
                Collector {
                    name: "dc-collector-01".into(),
                    last_seen_ms: (updated - Duration::seconds(4)).timestamp_millis(),
                    spool_depth: 0,
                    oldest_unshipped_secs: 0,
                    connected: true,
                },
                Collector {
                    name: "so-tttt-02".into(),
                    last_seen_ms: (updated - Duration::minutes(42)).timestamp_millis(),
                    spool_depth: 318,
                    oldest_unshipped_secs: 2_520,
                    connected: false,
                },
            ],
        }),
    }
}

/// The console at `size` in `lang`, connected, on the alert queue (all statuses), with two
/// alerts selected and one just arrived on the live stream.
pub fn app(lang: Lang, size: (u16, u16)) -> App {
    let mut app = App::new(
        lang,
        true,
        "an.nguyen".into(),
        "http://127.0.0.1:8470".into(),
        now(),
    );
    app.tz = FixedOffset::east_opt(7 * 3600).expect("+07:00");
    app.size = size;
    app.conn = Conn::Up;
    app.queue.filter.status = StatusFilter::All;
    app.queue.replace(alerts());
    app.queue.counts = Counts {
        new: 6,
        acknowledged: 2,
        closed: 2,
    };
    app.queue.fresh.insert(101);
    app.queue.selected.insert(104);
    app.queue.selected.insert(105);
    app.queue.move_cursor(2, app.queue_rows());
    for s in (0..=120).rev() {
        app.overview.push(status(s), now() - Duration::seconds(s));
    }
    app.rules.rules = rules();
    app.rules.last_alert = app.queue.last_by_rule();
    app.rules.cursor = 9;
    app.search.query = "source.ip:\"203.0.113.5\"".into();
    app.search.ran = Some(app.search.query.clone());
    app.search.hits = hits();
    app.search.cursor = 1;
    app
}

/// [`app`] with alert 101 open and its detail loaded.
pub fn app_with_detail(lang: Lang, size: (u16, u16)) -> App {
    let mut app = app(lang, size);
    let d = detail();
    app.detail = Some(DetailView {
        id: d.alert.id,
        alert: d.alert.clone(),
        data: Some(d),
        scroll: 0,
        error: None,
    });
    app
}

/// [`app`] on the search screen with the second event open.
pub fn app_with_event(lang: Lang, size: (u16, u16)) -> App {
    let mut app = app(lang, size);
    app.tab = crate::state::Tab::Search;
    app.search.event = Some(EventView {
        index: 1,
        cursor: 7,
        offset: 0,
    });
    app
}
