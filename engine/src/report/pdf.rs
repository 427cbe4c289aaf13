//! The report's PDF: typst markup generated from [`ReportData`] and typeset in-process by typst
//! used as a library, with the fonts typst-assets embeds (Libertinus Serif and DejaVu Sans
//! Mono, which both cover Vietnamese). No external program and no font on the host is used,
//! so the PDF looks the same on every machine.
//!
//! Every text from the data (rule titles, host names, justifications, notes) enters the markup
//! as a typst string literal, never as markup, so nothing in a log line can change the layout
//! or inject content.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Timelike, Utc};
use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};

use super::data::{self, LEVELS, ReportData, TOP_N, mean_p90};
use crate::alerts::store::ms_to_time;

/// Report language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Vi,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }
}

/// Colors of the alert levels, critical first.
const LEVEL_COLORS: [&str; 5] = ["#8e1b1b", "#d9480f", "#e8a317", "#3b7dd8", "#8a94a6"];
/// Colors of datasets in the events chart, in order of appearance.
const DATASET_COLORS: [&str; 6] = [
    "#2f6f8f", "#6a9c3a", "#b5651d", "#7b4f9d", "#999999", "#c44569",
];
/// Height of the daily bar charts, in points.
const CHART_HEIGHT_PT: f64 = 110.0;

/// Every label the report prints, in one language.
struct L {
    title: &'static str,
    organization: &'static str,
    org_unset: &'static str,
    period: &'static str,
    generated: &'static str,
    timezone: &'static str,
    version: &'static str,
    rule_set: &'static str,
    signed: &'static str,
    contents: &'static str,
    s_summary: &'static str,
    s_charts: &'static str,
    s_response: &'static str,
    s_incidents: &'static str,
    s_suppressions: &'static str,
    s_health: &'static str,
    s_rules: &'static str,
    s_attack: &'static str,
    level: &'static str,
    total: &'static str,
    new: &'static str,
    acknowledged: &'static str,
    closed: &'static str,
    prev_month: &'static str,
    change: &'static str,
    alerts: &'static str,
    events: &'static str,
    true_positives: &'static str,
    levels: [&'static str; 5],
    all_levels: &'static str,
    ch_alerts_day: &'static str,
    ch_events_day: &'static str,
    ch_top_rules: &'static str,
    ch_top_sources: &'static str,
    ch_top_hosts: &'static str,
    ch_top_event_hosts: &'static str,
    rule: &'static str,
    address: &'static str,
    host: &'static str,
    max: &'static str,
    none: &'static str,
    measure: &'static str,
    mean: &'static str,
    p90: &'static str,
    measured: &'static str,
    to_ack: &'static str,
    to_close: &'static str,
    response_note: &'static str,
    audit_ok: &'static str,
    audit_broken: &'static str,
    audit_lines: &'static str,
    no_incidents: &'static str,
    time: &'static str,
    actor: &'static str,
    action: &'static str,
    note: &'static str,
    scope: &'static str,
    justification: &'static str,
    created_by: &'static str,
    expires: &'static str,
    never: &'static str,
    removed: &'static str,
    hits: &'static str,
    source: &'static str,
    days_with_data: &'static str,
    min_day: &'static str,
    max_day: &'static str,
    unparsed: &'static str,
    silent_days: &'static str,
    losses: &'static str,
    day: &'static str,
    received: &'static str,
    dropped_queue: &'static str,
    dropped_kernel: &'static str,
    refused: &'static str,
    decode_errors: &'static str,
    seq_gaps: &'static str,
    no_health: &'static str,
    silent_alerts: &'static str,
    silent_since: &'static str,
    status: &'static str,
    no_rule_changes: &'static str,
    summary: &'static str,
    tactic: &'static str,
    rules_n: &'static str,
    alerts_month: &'static str,
    rules_loaded: &'static str,
    tactics_covered: &'static str,
    page: &'static str,
}

const VI: L = L {
    title: "Báo cáo an ninh thông tin tháng",
    organization: "Đơn vị",
    org_unset: "(chưa đặt — khoá `organization` trong tệp cấu hình)",
    period: "Kỳ báo cáo",
    generated: "Thời điểm lập",
    timezone: "Múi giờ",
    version: "Phiên bản canh",
    rule_set: "Mã băm bộ quy tắc",
    signed: "Báo cáo và các tệp dữ liệu kèm theo được ký số Ed25519 (manifest.json, manifest.sig); kiểm tra bằng lệnh `canh report verify`.",
    contents: "Mục lục",
    s_summary: "Tóm tắt",
    s_charts: "Cảnh báo và sự kiện trong tháng",
    s_response: "Thời gian phản hồi",
    s_incidents: "Sự cố được xác nhận",
    s_suppressions: "Các loại trừ đang áp dụng",
    s_health: "Tình trạng thu thập dữ liệu",
    s_rules: "Thay đổi quy tắc phát hiện",
    s_attack: "Độ bao phủ theo chiến thuật MITRE ATT&CK",
    level: "Mức độ",
    total: "Tổng",
    new: "Mới",
    acknowledged: "Đã tiếp nhận",
    closed: "Đã đóng",
    prev_month: "Tháng trước",
    change: "Thay đổi",
    alerts: "Cảnh báo",
    events: "Sự kiện",
    true_positives: "Sự cố được xác nhận (đóng với lý do true_positive)",
    levels: ["nghiêm trọng", "cao", "trung bình", "thấp", "thông tin"],
    all_levels: "Tất cả",
    ch_alerts_day: "Cảnh báo theo ngày và mức độ",
    ch_events_day: "Sự kiện theo ngày và nguồn dữ liệu",
    ch_top_rules: "10 quy tắc phát sinh nhiều cảnh báo nhất",
    ch_top_sources: "10 địa chỉ nguồn có nhiều cảnh báo nhất",
    ch_top_hosts: "Máy có nhiều cảnh báo nhất",
    ch_top_event_hosts: "Máy gửi nhiều sự kiện nhất",
    rule: "Quy tắc",
    address: "Địa chỉ",
    host: "Máy",
    max: "cao nhất",
    none: "Không có.",
    measure: "Chỉ số",
    mean: "Trung bình",
    p90: "Phân vị 90",
    measured: "Số cảnh báo",
    to_ack: "Thời gian đến khi tiếp nhận",
    to_close: "Thời gian đến khi đóng",
    response_note: "Tính từ nhật ký kiểm toán: từ lúc canh phát cảnh báo đến thao tác tiếp nhận (hoặc đóng, nếu đóng ngay) đầu tiên, và đến lần đóng cuối cùng.",
    audit_ok: "Chuỗi băm của nhật ký kiểm toán nguyên vẹn",
    audit_broken: "CẢNH BÁO: chuỗi băm của nhật ký kiểm toán bị phá vỡ",
    audit_lines: "dòng trong audit.log",
    no_incidents: "Không có sự cố được xác nhận trong tháng.",
    time: "Thời điểm",
    actor: "Người thực hiện",
    action: "Hành động",
    note: "Ghi chú",
    scope: "Phạm vi",
    justification: "Lý do",
    created_by: "Người tạo",
    expires: "Hết hạn",
    never: "không thời hạn",
    removed: "gỡ bỏ",
    hits: "Số lần khớp",
    source: "Nguồn",
    days_with_data: "Ngày có dữ liệu",
    min_day: "Ít nhất/ngày",
    max_day: "Nhiều nhất/ngày",
    unparsed: "Không phân tích được",
    silent_days: "Ngày trống",
    losses: "Mất mát và lỗi theo ngày (bộ đếm của canh)",
    day: "Ngày",
    received: "Đã nhận",
    dropped_queue: "Rơi: hàng đợi đầy",
    dropped_kernel: "Rơi: bộ đệm nhân",
    refused: "Bị từ chối",
    decode_errors: "Lỗi giải mã",
    seq_gaps: "Mất gói (số thứ tự)",
    no_health: "Không có số liệu sức khoẻ được ghi lại trong tháng (engine ghi mỗi phút vào DATA/health/).",
    silent_alerts: "Cảnh báo nguồn ngừng gửi",
    silent_since: "Im lặng từ",
    status: "Trạng thái",
    no_rule_changes: "Không có thay đổi quy tắc trong tháng.",
    summary: "Nội dung",
    tactic: "Chiến thuật",
    rules_n: "Số quy tắc",
    alerts_month: "Cảnh báo trong tháng",
    rules_loaded: "Quy tắc trong bộ",
    tactics_covered: "Chiến thuật có quy tắc",
    page: "Trang",
};

const EN: L = L {
    title: "Monthly security report",
    organization: "Organization",
    org_unset: "(not set — the `organization` key of the configuration file)",
    period: "Period",
    generated: "Generated",
    timezone: "Time zone",
    version: "canh version",
    rule_set: "Rule set hash",
    signed: "This report and its data files are signed with Ed25519 (manifest.json, manifest.sig); check them with `canh report verify`.",
    contents: "Contents",
    s_summary: "Executive summary",
    s_charts: "Alerts and events over the month",
    s_response: "Response times",
    s_incidents: "True-positive incidents",
    s_suppressions: "Suppressions in force",
    s_health: "Collector health",
    s_rules: "Rule changes",
    s_attack: "Coverage by MITRE ATT&CK tactic",
    level: "Level",
    total: "Total",
    new: "New",
    acknowledged: "Acknowledged",
    closed: "Closed",
    prev_month: "Previous month",
    change: "Change",
    alerts: "Alerts",
    events: "Events",
    true_positives: "True-positive incidents (closed as true_positive)",
    levels: ["critical", "high", "medium", "low", "informational"],
    all_levels: "All",
    ch_alerts_day: "Alerts per day by level",
    ch_events_day: "Events per day by dataset",
    ch_top_rules: "Top 10 rules by alerts",
    ch_top_sources: "Top 10 source addresses by alerts",
    ch_top_hosts: "Top hosts by alerts",
    ch_top_event_hosts: "Top hosts by events",
    rule: "Rule",
    address: "Address",
    host: "Host",
    max: "max",
    none: "None.",
    measure: "Measure",
    mean: "Mean",
    p90: "90th percentile",
    measured: "Alerts",
    to_ack: "Time to acknowledge",
    to_close: "Time to close",
    response_note: "From the audit log: from the moment canh raised the alert to the officer's first acknowledgement (or close, when closed directly), and to its last close.",
    audit_ok: "The audit log's hash chain is intact",
    audit_broken: "WARNING: the audit log's hash chain is broken",
    audit_lines: "lines in audit.log",
    no_incidents: "No true-positive incidents this month.",
    time: "Time",
    actor: "Actor",
    action: "Action",
    note: "Note",
    scope: "Scope",
    justification: "Justification",
    created_by: "Created by",
    expires: "Expires",
    never: "never",
    removed: "removed",
    hits: "Hits",
    source: "Source",
    days_with_data: "Days with data",
    min_day: "Min/day",
    max_day: "Max/day",
    unparsed: "Unparsed",
    silent_days: "Days without data",
    losses: "Losses and errors per day (canh's counters)",
    day: "Day",
    received: "Received",
    dropped_queue: "Dropped: queue full",
    dropped_kernel: "Dropped: kernel buffer",
    refused: "Refused",
    decode_errors: "Decode errors",
    seq_gaps: "Sequence gaps",
    no_health: "No health counters were recorded this month (the engine writes them every minute to DATA/health/).",
    silent_alerts: "Silent-source alerts",
    silent_since: "Silent since",
    status: "Status",
    no_rule_changes: "No rule changes this month.",
    summary: "Summary",
    tactic: "Tactic",
    rules_n: "Rules",
    alerts_month: "Alerts this month",
    rules_loaded: "Rules in the set",
    tactics_covered: "Tactics with rules",
    page: "Page",
};

/// A typst string literal holding `s`.
fn q(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' | '\t' => o.push(' '),
            c if c.is_control() => {}
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Thousands-grouped integer: `1.234.567` in Vietnamese, `1,234,567` in English.
pub fn num(n: u64, lang: Lang) -> String {
    let sep = if lang == Lang::Vi { '.' } else { ',' };
    let s = n.to_string();
    let mut o = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            o.push(sep);
        }
        o.push(c);
    }
    o
}

fn duration(secs: f64, lang: Lang) -> String {
    let s = secs.round() as u64;
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    let _ = lang;
    if h >= 48 {
        format!("{} d {} h", h / 24, h % 24)
    } else if h > 0 {
        format!("{h} h {m:02} min")
    } else if m > 0 {
        format!("{m} min {sec:02} s")
    } else {
        format!("{sec} s")
    }
}

fn change(now: u64, before: u64, lang: Lang) -> String {
    if before == 0 {
        return if now == 0 { "0".into() } else { "+∞".into() };
    }
    let pct = (now as f64 - before as f64) / before as f64 * 100.0;
    let s = format!("{pct:+.1} %");
    if lang == Lang::Vi {
        s.replace('.', ",")
    } else {
        s
    }
}

struct Doc<'a> {
    d: &'a ReportData,
    l: &'static L,
    lang: Lang,
    out: String,
}

impl Doc<'_> {
    fn t(&self, ms: i64) -> String {
        let local = self.d.zone.local_of(ms_to_time(ms));
        local.format("%Y-%m-%d %H:%M").to_string()
    }

    fn level_name(&self, level: &str) -> String {
        LEVELS
            .iter()
            .position(|l| *l == level)
            .map_or_else(|| level.to_owned(), |i| self.l.levels[i].to_owned())
    }

    /// A table: header cells, then rows; `right` marks right-aligned (numeric) columns.
    fn table(&mut self, widths: &str, right: &[bool], header: &[&str], rows: &[Vec<String>]) {
        let align: Vec<&str> = right
            .iter()
            .map(|r| if *r { "right" } else { "left" })
            .collect();
        // A header (repeated on every page the table spans), unless the table has none.
        let head = if header.iter().all(|h| h.is_empty()) {
            String::new()
        } else {
            format!(
                "  table.header({}),\n",
                header
                    .iter()
                    .map(|h| format!("strong({})", q(h)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let _ = write!(
            self.out,
            "#table(columns: ({widths}), align: ({},), stroke: 0.4pt + luma(180), inset: 4pt,\n{head}",
            align.join(", "),
        );
        for r in rows {
            let _ = writeln!(
                self.out,
                "  {},",
                r.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ")
            );
        }
        self.out.push_str(")\n\n");
    }

    /// Horizontal bars: label, bar, value.
    fn bars(&mut self, header: &[&str; 2], rows: &[(String, u64)], color: &str) {
        if rows.is_empty() {
            let _ = writeln!(self.out, "#{}\n", q(self.l.none));
            return;
        }
        let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1);
        let _ = writeln!(
            self.out,
            "#table(columns: (40%, 1fr, auto), align: (left, left + horizon, right), stroke: none, inset: 3pt,\n  table.header(strong({}), [], strong({})),",
            q(header[0]),
            q(header[1])
        );
        for (label, n) in rows {
            let pct = (*n as f64 / max as f64 * 100.0).max(0.5);
            let _ = writeln!(
                self.out,
                "  {}, box(width: {pct:.1}%, height: 0.8em, fill: rgb(\"{color}\")), {},",
                q(label),
                q(&num(*n, self.lang))
            );
        }
        self.out.push_str(")\n\n");
    }

    /// Stacked daily bars: one column per day, one color per series.
    fn daily_chart(&mut self, series: &[(String, &str, Vec<u64>)]) {
        let days = self.d.grid.days.len();
        let totals: Vec<u64> = (0..days)
            .map(|i| series.iter().map(|s| s.2[i]).sum())
            .collect();
        let max = totals.iter().copied().max().unwrap_or(0);
        if max == 0 {
            let _ = writeln!(self.out, "#{}\n", q(self.l.none));
            return;
        }
        let _ = writeln!(
            self.out,
            "#text(size: 8pt)[#{}: #{}]\n",
            q(self.l.max),
            q(&num(max, self.lang))
        );
        let _ = writeln!(
            self.out,
            "#grid(columns: (1fr,) * {days}, rows: ({CHART_HEIGHT_PT}pt, auto), column-gutter: 1.5pt, row-gutter: 2pt, align: center + bottom,"
        );
        for i in 0..days {
            let parts: Vec<String> = series
                .iter()
                .filter(|s| s.2[i] > 0)
                .map(|s| {
                    let h = (s.2[i] as f64 / max as f64 * CHART_HEIGHT_PT).max(0.6);
                    format!(
                        "rect(width: 100%, height: {h:.2}pt, fill: rgb(\"{}\"), stroke: none)",
                        s.1
                    )
                })
                .collect();
            if parts.is_empty() {
                self.out.push_str("  [],\n");
            } else {
                let _ = writeln!(self.out, "  stack(dir: btt, {}),", parts.join(", "));
            }
        }
        for d in &self.d.grid.days {
            let _ = writeln!(self.out, "  text(size: 6pt)[{}],", d.day());
        }
        self.out.push_str(")\n\n");
        // Legend.
        let legend: Vec<String> = series
            .iter()
            .map(|s| {
                format!(
                    "box(width: 0.8em, height: 0.8em, fill: rgb(\"{}\")) + h(0.3em) + text(size: 8pt, {}) + h(1em)",
                    s.1,
                    q(&format!("{} ({})", s.0, num(s.2.iter().sum(), self.lang)))
                )
            })
            .collect();
        let _ = writeln!(self.out, "#({})\n", legend.join(" + "));
    }

    fn heading(&mut self, text: &str) {
        let _ = writeln!(self.out, "#heading(level: 1, {})\n", q(text));
    }

    fn sub(&mut self, text: &str) {
        let _ = writeln!(self.out, "#heading(level: 2, {})\n", q(text));
    }

    fn para(&mut self, text: &str) {
        let _ = writeln!(self.out, "#par({})\n", q(text));
    }
}

fn month_title(d: &ReportData, lang: Lang) -> String {
    match lang {
        Lang::Vi => format!("{} {:02}/{}", VI.title, d.month.month, d.month.year),
        Lang::En => {
            const NAMES: [&str; 12] = [
                "January",
                "February",
                "March",
                "April",
                "May",
                "June",
                "July",
                "August",
                "September",
                "October",
                "November",
                "December",
            ];
            format!(
                "{} — {} {}",
                EN.title,
                NAMES[(d.month.month - 1) as usize],
                d.month.year
            )
        }
    }
}

/// The report's typst markup.
pub fn markup(d: &ReportData, lang: Lang, organization: &str, generated: DateTime<Utc>) -> String {
    let l: &'static L = if lang == Lang::Vi { &VI } else { &EN };
    let mut doc = Doc {
        d,
        l,
        lang,
        out: String::new(),
    };
    let title = month_title(d, lang);
    let _ = write!(
        doc.out,
        r#"#set document(title: {title}, author: "canh")
#set page(paper: "a4", margin: (x: 1.8cm, y: 2cm), footer: context align(right, text(size: 8pt, {page} + " " + counter(page).display("1 / 1", both: true))))
#set text(font: ("Libertinus Serif", "DejaVu Sans Mono"), size: 10pt, lang: "{code}", hyphenate: false)
#set heading(numbering: "1.")
#show heading.where(level: 1): it => {{ v(0.6em); text(size: 14pt, it); v(0.3em) }}
#show heading.where(level: 2): set text(size: 11pt)
#show raw: set text(font: "DejaVu Sans Mono", size: 8pt)
#show table: set text(size: 8.5pt)

"#,
        title = q(&title),
        page = q(l.page),
        code = lang.code()
    );

    // Cover.
    let org = if organization.is_empty() {
        l.org_unset
    } else {
        organization
    };
    let last_day = *d.grid.days.last().unwrap_or(&d.month.first_day());
    let period = format!("{} — {}", d.month.first_day(), last_day);
    let gen_local = d.zone.local_of(generated);
    let _ = writeln!(
        doc.out,
        "#align(center)[#v(5cm)\n#text(size: 22pt, weight: \"bold\", {})\n#v(1.2cm)\n#text(size: 14pt, {})\n#v(2cm)]\n",
        q(&title),
        q(org)
    );
    let cover_rows = vec![
        vec![l.organization.to_owned(), org.to_owned()],
        vec![l.period.to_owned(), period],
        vec![l.timezone.to_owned(), d.zone.to_string()],
        vec![
            l.generated.to_owned(),
            format!(
                "{} {:02}:{:02}",
                gen_local.date(),
                gen_local.hour(),
                gen_local.minute()
            ),
        ],
        vec![l.version.to_owned(), env!("CARGO_PKG_VERSION").to_owned()],
        vec![
            l.rule_set.to_owned(),
            format!("{} ({})", &d.rule_set_hash[..16], d.rule_set_origin),
        ],
    ];
    doc.out.push_str("#align(center, block(width: 80%)[\n");
    doc.table("auto, 1fr", &[false, false], &["", ""], &cover_rows);
    doc.out.push_str("])\n#v(1cm)\n");
    doc.para(l.signed);
    let _ = writeln!(
        doc.out,
        "#pagebreak()\n#outline(title: {}, depth: 1)\n#pagebreak()\n",
        q(l.contents)
    );

    summary(&mut doc);
    charts(&mut doc);
    response(&mut doc);
    incidents(&mut doc);
    suppressions(&mut doc);
    health(&mut doc);
    rule_changes(&mut doc);
    attack(&mut doc);
    doc.out
}

fn summary(doc: &mut Doc<'_>) {
    let (d, l, lang) = (doc.d, doc.l, doc.lang);
    doc.heading(l.s_summary);
    let mut rows = Vec::new();
    let mut totals = [0u64; 4];
    let mut prev_total = 0;
    for level in LEVELS {
        let of = |st: &str| {
            d.alerts
                .iter()
                .filter(|a| a.level == level && (st.is_empty() || a.status == st))
                .count() as u64
        };
        let row = [of(""), of("new"), of("acknowledged"), of("closed")];
        let prev = d.prev_alerts_by_level.get(level).copied().unwrap_or(0);
        for (t, v) in totals.iter_mut().zip(row) {
            *t += v;
        }
        prev_total += prev;
        rows.push(vec![
            doc.level_name(level),
            num(row[0], lang),
            num(row[1], lang),
            num(row[2], lang),
            num(row[3], lang),
            num(prev, lang),
            change(row[0], prev, lang),
        ]);
    }
    // Levels outside the five (a rule may say anything) still count in the totals.
    let known = totals[0];
    let all = d.alerts.len() as u64;
    if all > known {
        let of = |st: &str| {
            d.alerts
                .iter()
                .filter(|a| {
                    !LEVELS.contains(&a.level.as_str()) && (st.is_empty() || a.status == st)
                })
                .count() as u64
        };
        let row = [of(""), of("new"), of("acknowledged"), of("closed")];
        for (t, v) in totals.iter_mut().zip(row) {
            *t += v;
        }
        let prev: u64 = d
            .prev_alerts_by_level
            .iter()
            .filter(|(k, _)| !LEVELS.contains(&k.as_str()))
            .map(|(_, v)| v)
            .sum();
        prev_total += prev;
        rows.push(vec![
            "—".into(),
            num(row[0], lang),
            num(row[1], lang),
            num(row[2], lang),
            num(row[3], lang),
            num(prev, lang),
            change(row[0], prev, lang),
        ]);
    }
    rows.push(vec![
        l.all_levels.to_owned(),
        num(totals[0], lang),
        num(totals[1], lang),
        num(totals[2], lang),
        num(totals[3], lang),
        num(prev_total, lang),
        change(totals[0], prev_total, lang),
    ]);
    doc.table(
        "1fr, auto, auto, auto, auto, auto, auto",
        &[false, true, true, true, true, true, true],
        &[
            l.level,
            l.total,
            l.new,
            l.acknowledged,
            l.closed,
            l.prev_month,
            l.change,
        ],
        &rows,
    );
    let tp = d
        .alerts
        .iter()
        .filter(|a| a.close_reason.as_deref() == Some("true_positive"))
        .count() as u64;
    let facts = vec![
        vec![
            l.events.to_owned(),
            num(d.events_total, lang),
            num(d.prev_events_total, lang),
            change(d.events_total, d.prev_events_total, lang),
        ],
        vec![
            l.true_positives.to_owned(),
            num(tp, lang),
            String::new(),
            String::new(),
        ],
    ];
    doc.table(
        "1fr, auto, auto, auto",
        &[false, true, true, true],
        &[l.summary, l.total, l.prev_month, l.change],
        &facts,
    );
}

fn top<'a>(items: impl Iterator<Item = &'a str>) -> Vec<(String, u64)> {
    let mut m: BTreeMap<&str, u64> = BTreeMap::new();
    for i in items {
        *m.entry(i).or_default() += 1;
    }
    let mut v: Vec<(String, u64)> = m.into_iter().map(|(k, n)| (k.to_owned(), n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(TOP_N);
    v
}

fn charts(doc: &mut Doc<'_>) {
    let (d, l) = (doc.d, doc.l);
    doc.heading(l.s_charts);
    let ndays = d.grid.days.len();
    doc.sub(l.ch_alerts_day);
    let series: Vec<(String, &str, Vec<u64>)> = LEVELS
        .iter()
        .enumerate()
        .map(|(i, level)| {
            let mut v = vec![0u64; ndays];
            for a in d.alerts.iter().filter(|a| a.level == *level) {
                if let Some(day) = d.grid.day_of(a.first_seen_ms * 1000) {
                    v[day] += 1;
                }
            }
            (doc.level_name(level), LEVEL_COLORS[i], v)
        })
        .filter(|s| s.2.iter().any(|&n| n > 0))
        .collect();
    doc.daily_chart(&series);

    doc.sub(l.ch_events_day);
    let mut by_ds: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    let day_index: std::collections::HashMap<_, _> = d
        .grid
        .days
        .iter()
        .enumerate()
        .map(|(i, d)| (*d, i))
        .collect();
    for (day, ds, _, _, n) in &d.events_daily {
        by_ds.entry(ds.as_str()).or_insert_with(|| vec![0; ndays])[day_index[day]] += n;
    }
    let series: Vec<(String, &str, Vec<u64>)> = by_ds
        .into_iter()
        .enumerate()
        .map(|(i, (ds, v))| (ds.to_owned(), DATASET_COLORS[i % DATASET_COLORS.len()], v))
        .collect();
    doc.daily_chart(&series);

    doc.sub(l.ch_top_rules);
    let rules = top(d.alerts.iter().map(|a| a.title.as_str()));
    doc.bars(&[l.rule, l.alerts], &rules, "#8e1b1b");
    doc.sub(l.ch_top_sources);
    let srcs = top(d.alerts.iter().filter_map(|a| a.source_ip.as_deref()));
    doc.bars(&[l.address, l.alerts], &srcs, "#d9480f");
    doc.sub(l.ch_top_hosts);
    let hosts = top(d
        .alerts
        .iter()
        .filter(|a| a.kind != "silent_source")
        .filter_map(|a| a.host.as_deref()));
    doc.bars(&[l.host, l.alerts], &hosts, "#3b7dd8");
    doc.sub(l.ch_top_event_hosts);
    let mut ev: Vec<(String, u64)> = d
        .sources
        .iter()
        .map(|s| (s.source.clone(), s.events))
        .collect();
    ev.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ev.truncate(TOP_N);
    doc.bars(&[l.host, l.events], &ev, "#2f6f8f");
}

fn response(doc: &mut Doc<'_>) {
    let (d, l, lang) = (doc.d, doc.l, doc.lang);
    doc.heading(l.s_response);
    let ack: Vec<f64> = d.alerts.iter().filter_map(|a| a.time_to_ack_s()).collect();
    let close: Vec<f64> = d
        .alerts
        .iter()
        .filter_map(|a| a.time_to_close_s())
        .collect();
    let row = |name: &str, v: &[f64]| match mean_p90(v) {
        Some((m, p)) => vec![
            name.to_owned(),
            duration(m, lang),
            duration(p, lang),
            num(v.len() as u64, lang),
        ],
        None => vec![name.to_owned(), "—".into(), "—".into(), "0".into()],
    };
    doc.table(
        "1fr, auto, auto, auto",
        &[false, true, true, true],
        &[l.measure, l.mean, l.p90, l.measured],
        &[row(l.to_ack, &ack), row(l.to_close, &close)],
    );
    doc.para(l.response_note);
    match &d.audit_chain {
        Ok(()) => doc.para(&format!(
            "{} ({} {}).",
            l.audit_ok,
            num(d.audit_lines, lang),
            l.audit_lines
        )),
        Err(e) => doc.para(&format!("{}: {e}", l.audit_broken)),
    }
}

fn incidents(doc: &mut Doc<'_>) {
    let (d, l) = (doc.d, doc.l);
    doc.heading(l.s_incidents);
    if d.incidents.is_empty() {
        doc.para(l.no_incidents);
        return;
    }
    for inc in &d.incidents {
        let a = &inc.alert;
        doc.sub(&format!(
            "#{} {} ({})",
            a.id,
            a.title,
            doc.level_name(&a.level)
        ));
        let mut who = vec![format!("{}: {}", l.rule, a.rule)];
        if let Some(h) = &a.host {
            who.push(format!("{}: {h}", l.host));
        }
        if let Some(s) = &a.source_ip {
            who.push(format!("{}: {s}", l.address));
        }
        doc.para(&who.join(" · "));
        let rows: Vec<Vec<String>> = inc
            .timeline
            .iter()
            .map(|t| {
                vec![
                    doc.t(t.at_ms),
                    t.actor.clone(),
                    t.action.clone(),
                    t.note.clone(),
                ]
            })
            .collect();
        doc.table(
            "auto, auto, auto, 1fr",
            &[false, false, false, false],
            &[l.time, l.actor, l.action, l.note],
            &rows,
        );
    }
}

fn suppressions(doc: &mut Doc<'_>) {
    let (d, l, lang) = (doc.d, doc.l, doc.lang);
    doc.heading(l.s_suppressions);
    if d.suppressions.is_empty() {
        doc.para(l.none);
        return;
    }
    let rows: Vec<Vec<String>> = d
        .suppressions
        .iter()
        .map(|s| {
            let mut exp = s
                .expires_ms
                .map_or_else(|| l.never.to_owned(), |t| doc.t(t));
            if let Some(r) = s.removed_ms {
                exp = format!("{exp} ({} {})", l.removed, doc.t(r));
            }
            vec![
                format!("#{} {}", s.id, s.scope),
                s.justification.clone(),
                format!("{} ({})", s.created_by, doc.t(s.created_ms)),
                exp,
                num(s.hits.max(0) as u64, lang),
            ]
        })
        .collect();
    doc.table(
        "auto, 1fr, auto, auto, auto",
        &[false, false, false, false, true],
        &[l.scope, l.justification, l.created_by, l.expires, l.hits],
        &rows,
    );
}

fn health(doc: &mut Doc<'_>) {
    let (d, l, lang) = (doc.d, doc.l, doc.lang);
    doc.heading(l.s_health);
    if d.sources.is_empty() {
        doc.para(l.none);
    } else {
        let rows: Vec<Vec<String>> = d
            .sources
            .iter()
            .map(|s| {
                let silent = match s.silent_days.len() {
                    0 => "0".to_owned(),
                    n => format!(
                        "{n}: {}",
                        s.silent_days
                            .iter()
                            .take(6)
                            .map(|d| d.day().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                            + if n > 6 { ", …" } else { "" }
                    ),
                };
                vec![
                    s.source.clone(),
                    num(s.events, lang),
                    s.days_with_events.to_string(),
                    num(s.min_day, lang),
                    num(s.max_day, lang),
                    num(s.unparsed, lang),
                    silent,
                ]
            })
            .collect();
        doc.table(
            "1fr, auto, auto, auto, auto, auto, auto",
            &[false, true, true, true, true, true, false],
            &[
                l.source,
                l.events,
                l.days_with_data,
                l.min_day,
                l.max_day,
                l.unparsed,
                l.silent_days,
            ],
            &rows,
        );
    }
    doc.sub(l.silent_alerts);
    if d.silent_alerts.is_empty() {
        doc.para(l.none);
    } else {
        let rows: Vec<Vec<String>> = d
            .silent_alerts
            .iter()
            .map(|a| {
                vec![
                    a.host.clone().unwrap_or_default(),
                    doc.t(a.first_seen_ms),
                    a.status.clone(),
                ]
            })
            .collect();
        doc.table(
            "1fr, auto, auto",
            &[false, false, false],
            &[l.source, l.silent_since, l.status],
            &rows,
        );
    }
    doc.sub(l.losses);
    if d.losses.per_day.is_empty() {
        doc.para(l.no_health);
    } else {
        let rows: Vec<Vec<String>> = d
            .losses
            .per_day
            .iter()
            .map(|(day, c)| {
                vec![
                    day.to_string(),
                    num(c.received, lang),
                    num(c.unparsed, lang),
                    num(c.dropped_queue, lang),
                    num(c.dropped_kernel, lang),
                    num(c.refused, lang),
                    num(c.decode_errors, lang),
                    num(c.sequence_gaps, lang),
                ]
            })
            .collect();
        doc.table(
            "auto, auto, auto, auto, auto, auto, auto, auto",
            &[false, true, true, true, true, true, true, true],
            &[
                l.day,
                l.received,
                l.unparsed,
                l.dropped_queue,
                l.dropped_kernel,
                l.refused,
                l.decode_errors,
                l.seq_gaps,
            ],
            &rows,
        );
    }
}

fn rule_changes(doc: &mut Doc<'_>) {
    let (d, l) = (doc.d, doc.l);
    doc.heading(l.s_rules);
    if d.rule_changes.is_empty() {
        doc.para(l.no_rule_changes);
        return;
    }
    let rows: Vec<Vec<String>> = d
        .rule_changes
        .iter()
        .map(|c| {
            vec![
                doc.t(c.at_ms),
                c.actor.clone(),
                c.action.clone(),
                c.summary.clone(),
            ]
        })
        .collect();
    doc.table(
        "auto, auto, auto, 1fr",
        &[false, false, false, false],
        &[l.time, l.actor, l.action, l.summary],
        &rows,
    );
}

fn attack(doc: &mut Doc<'_>) {
    let (d, l, lang) = (doc.d, doc.l, doc.lang);
    doc.heading(l.s_attack);
    let covered = d.attack.iter().filter(|t| t.2 > 0).count();
    doc.para(&format!(
        "{}: {} · {}: {}/{}",
        l.rules_loaded,
        num(d.rules_total as u64, lang),
        l.tactics_covered,
        covered,
        data::TACTICS.len()
    ));
    let max = d.attack.iter().map(|t| t.2).max().unwrap_or(0).max(1);
    let _ = writeln!(
        doc.out,
        "#table(columns: (auto, 1fr, auto, auto), align: (left, left + horizon, right, right), stroke: none, inset: 3pt,\n  table.header(strong({}), [], strong({}), strong({})),",
        q(l.tactic),
        q(l.rules_n),
        q(l.alerts_month)
    );
    for (_, name, rules, alerts) in &d.attack {
        let pct = (*rules as f64 / max as f64 * 100.0).max(0.5);
        let fill = if *rules == 0 { "#dddddd" } else { "#2f6f8f" };
        let _ = writeln!(
            doc.out,
            "  {}, box(width: {pct:.1}%, height: 0.8em, fill: rgb(\"{fill}\")), {}, {},",
            q(name),
            q(&num(*rules as u64, lang)),
            q(&num(*alerts, lang))
        );
    }
    doc.out.push_str(")\n");
}

/// A typst world with one source and the embedded fonts.
struct ReportWorld {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
    main: Source,
    today: DateTime<Utc>,
}

impl ReportWorld {
    fn new(text: String, today: DateTime<Utc>) -> Result<ReportWorld, String> {
        let fonts: Vec<Font> = typst_assets::fonts()
            .flat_map(|data| Font::iter(Bytes::new(data)))
            .collect();
        let vpath = VirtualPath::new("/report.typ").map_err(|e| format!("{e:?}"))?;
        let id: FileId = RootedPath::new(VirtualRoot::Project, vpath).intern();
        Ok(ReportWorld {
            library: LazyHash::new(Library::default()),
            book: LazyHash::new(FontBook::from_fonts(&fonts)),
            fonts,
            main: Source::new(id, text),
            today,
        })
    }
}

impl World for ReportWorld {
    fn library(&self) -> &LazyHash<Library> {
        &self.library
    }
    fn book(&self) -> &LazyHash<FontBook> {
        &self.book
    }
    fn main(&self) -> FileId {
        self.main.id()
    }
    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }
    fn file(&self, _id: FileId) -> FileResult<Bytes> {
        Err(FileError::AccessDenied)
    }
    fn font(&self, index: usize) -> Option<Font> {
        self.fonts.get(index).cloned()
    }
    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        Datetime::from_ymd(
            self.today.year(),
            self.today.month() as u8,
            self.today.day() as u8,
        )
    }
}

/// Typesets markup into PDF bytes.
pub fn render(markup: String, generated: DateTime<Utc>) -> anyhow::Result<Vec<u8>> {
    let world = ReportWorld::new(markup, generated).map_err(|e| anyhow::anyhow!(e))?;
    let doc = typst::compile::<typst_layout::PagedDocument>(&world)
        .output
        .map_err(|errs| {
            let msgs: Vec<String> = errs
                .iter()
                .map(|e| {
                    let at = typst::WorldExt::range(&world, e.span)
                        .map(|r| {
                            let text = world.main.text();
                            let line = text[..r.start.min(text.len())].lines().count();
                            format!("report.typ:{line}: ")
                        })
                        .unwrap_or_default();
                    format!("{at}{}", e.message)
                })
                .collect();
            anyhow::anyhow!("typesetting the report failed:\n  {}", msgs.join("\n  "))
        })?;
    let dt = Datetime::from_ymd_hms(
        generated.year(),
        generated.month() as u8,
        generated.day() as u8,
        generated.hour() as u8,
        generated.minute() as u8,
        generated.second() as u8,
    );
    let options = typst_pdf::PdfOptions {
        ident: typst::foundations::Smart::Custom("canh-report".into()),
        timestamp: dt.map(typst_pdf::Timestamp::new_utc),
        ..typst_pdf::PdfOptions::default()
    };
    typst_pdf::pdf(&doc, &options).map_err(|errs| {
        anyhow::anyhow!(
            "writing the PDF failed: {}",
            errs.iter()
                .map(|e| e.message.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_cannot_escape_their_literal() {
        assert_eq!(q(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(q("x\ny"), "\"x\\ny\"");
        assert_eq!(q("#set page(width: 1pt)"), "\"#set page(width: 1pt)\"");
    }

    #[test]
    fn numbers_group_by_language() {
        assert_eq!(num(1_234_567, Lang::Vi), "1.234.567");
        assert_eq!(num(1_234_567, Lang::En), "1,234,567");
        assert_eq!(num(12, Lang::En), "12");
        assert_eq!(change(150, 100, Lang::En), "+50.0 %");
        assert_eq!(change(50, 100, Lang::Vi), "-50,0 %");
        assert_eq!(duration(3725.0, Lang::En), "1 h 02 min");
    }
}
