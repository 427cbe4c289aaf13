//! The syslog parser and framer over third-party corpora (`../shared/corpora`, beside the repo).
//!
//! The corpora are read at run time and never copied into the repo. Where the folder is absent
//! (a fresh clone), each test prints one `skipped:` line and passes.
//!
//! - loghub Linux and OpenSSH: every line against loghub's `_structured.csv` ground truth, field
//!   by field; the lines where the ground truth itself is odd are listed with a reason.
//! - syslog-loose vectors (Vector's parser tests): no panic on any input, RFC-obvious fields.
//! - rsyslog fuzz seeds: framer and parser survive each seed; LF streams frame line by line.
//! - real-client captures: TCP byte streams from `logger` and `rsyslog`, framed then parsed,
//!   against what the capture notes (`corpora/CLIENTS.md`) say was sent.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use canh_collectors::syslog::framing::{DEFAULT_MAX_MESSAGE, Frame, Framer};
use canh_collectors::syslog::{self, ParseContext};
use canh_core::{Event, Origin, Value, field};
use chrono::{SecondsFormat, TimeZone, Utc};

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// The corpora folder, or `None` (after saying so once) when this checkout has none beside it.
fn corpora() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: ../shared/corpora not found");
        None
    }
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Received 2026-11-25T00:00:00Z; zone-less stamps are UTC.
fn ctx() -> ParseContext {
    ParseContext {
        received: Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap(),
        zone: "+00:00".parse().unwrap(),
    }
}

fn parse(raw: &[u8]) -> Event {
    syslog::parse(raw, &ctx(), Origin::new("test", None))
}

/// A whole TCP stream through one framer: push everything, then end of stream.
fn frame(stream: &[u8]) -> Vec<Frame> {
    let mut framer = Framer::new(DEFAULT_MAX_MESSAGE);
    let mut out = Vec::new();
    framer.push(stream, &mut out);
    framer.finish(&mut out);
    out
}

const HOST: &str = field::HOST_HOSTNAME;
const APP: &str = field::PROCESS_NAME;
const PID: &str = field::PROCESS_PID;
const MSGID: &str = field::SYSLOG_MSGID;
const MSG: &str = field::MESSAGE;
/// Pseudo-field: `@timestamp` as RFC 3339 UTC.
const TS: &str = field::TIMESTAMP;
/// Pseudo-field: the event's parse warnings, as displayed, joined by `; `.
const WARNINGS: &str = "warnings";
/// Expected fields of one event: `(field, value)` pairs, value [`ABSENT`] for "not set".
type Want = &'static [(&'static str, &'static str)];
/// Expected value of a field that must not be set.
const ABSENT: &str = "(absent)";

/// A field of `ev` as text (see [`TS`] and [`WARNINGS`] for the pseudo-fields).
fn text(ev: &Event, name: &str) -> Option<String> {
    match name {
        TS => Some(ev.timestamp.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        WARNINGS if ev.warnings.is_empty() => None,
        WARNINGS => Some(
            ev.warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        ),
        _ => ev.get(name).map(Value::to_string),
    }
}

/// Asserts every `(field, value)` of `want` (value [`ABSENT`] = not set), reporting all misses.
fn check(what: &str, ev: &Event, want: &[(&str, &str)]) {
    let misses: Vec<String> = want
        .iter()
        .filter_map(|&(name, w)| {
            let want = (w != ABSENT).then_some(w);
            let got = text(ev, name);
            (got.as_deref() != want).then(|| format!("  {name}: got {got:?}, want {want:?}"))
        })
        .collect();
    assert!(
        misses.is_empty(),
        "{what}: {:?}\n{}",
        String::from_utf8_lossy(&ev.raw),
        misses.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Agreement with a ground-truth table

/// Corpus lines where a field is known to disagree with the ground truth, and why.
struct Quirk {
    field: &'static str,
    lines: &'static [u32],
    why: &'static str,
}

/// What was parsed and what the ground truth says, where they differ.
type Miss = (Option<String>, Option<String>);

/// Per-field agreement of parsed events with ground-truth columns, keyed by line id.
struct Agreement {
    corpus: &'static str,
    lines: usize,
    /// field → line id → (got, want)
    misses: BTreeMap<&'static str, BTreeMap<u32, Miss>>,
}

impl Agreement {
    fn new(corpus: &'static str, fields: &[&'static str]) -> Self {
        Agreement {
            corpus,
            lines: 0,
            misses: fields.iter().map(|f| (*f, BTreeMap::new())).collect(),
        }
    }

    fn check(&mut self, field: &'static str, line: u32, got: Option<String>, want: Option<&str>) {
        let misses = self.misses.get_mut(field).expect("field declared in new");
        if got.as_deref() != want {
            misses.insert(line, (got, want.map(str::to_owned)));
        }
    }

    /// Prints `corpus: agreed/lines field` per field and asserts that the lines that disagree
    /// are exactly the listed quirks: no unexplained miss, and no quirk that now agrees.
    fn assert_only(&self, quirks: &[Quirk]) {
        let mut errors = Vec::new();
        for (field, misses) in &self.misses {
            let listed: BTreeSet<u32> = quirks
                .iter()
                .filter(|q| q.field == *field)
                .flat_map(|q| q.lines.iter().copied())
                .collect();
            let found: BTreeSet<u32> = misses.keys().copied().collect();
            println!(
                "{}: {}/{} {field} ({} listed corpus quirks)",
                self.corpus,
                self.lines - found.len(),
                self.lines,
                listed.len()
            );
            for q in quirks.iter().filter(|q| q.field == *field) {
                println!("  quirk {:?}: {}", q.lines, q.why);
            }
            for line in found.difference(&listed).take(20) {
                let (got, want) = &misses[line];
                errors.push(format!("{field} line {line}: got {got:?}, want {want:?}"));
            }
            for line in listed.difference(&found) {
                errors.push(format!(
                    "{field} line {line}: listed as a corpus quirk but agrees now"
                ));
            }
        }
        assert!(
            errors.is_empty(),
            "{}: {} unexpected\n{}",
            self.corpus,
            errors.len(),
            errors.join("\n")
        );
    }
}

/// The lines of a loghub `.log` (CRLF line ends), each passed to the parser as it stands
/// (CR included: the parser trims what framing leaves behind).
fn log_lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

fn csv_rows(path: &Path) -> Vec<HashMap<String, String>> {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    reader
        .deserialize()
        .map(|row| row.unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect()
}

/// loghub strips trailing spaces from `Content`; the parser keeps the message as sent. The
/// expected message is `Content` followed by the spaces the raw line really ends with.
fn expected_message(line: &[u8], content: &str) -> String {
    let line = String::from_utf8_lossy(line);
    let line = line.trim_end_matches(['\r', '\n']);
    let spaces = &line[line.trim_end_matches(' ').len()..];
    format!("{content}{spaces}")
}

/// `Mmm d hh:mm:ss` of the event time (the context zone is UTC).
fn bsd_stamp(ev: &Event) -> String {
    ev.timestamp.format("%b %-d %H:%M:%S").to_string()
}

fn want_stamp(month: &str, day: &str, time: &str) -> String {
    let day: u32 = day.parse().expect("day column is a number");
    format!("{month} {day} {time}")
}

/// The process id as set: `process.pid` when numeric, else `log.syslog.procid`.
fn pid_text(ev: &Event) -> Option<String> {
    text(ev, field::PROCESS_PID).or_else(|| text(ev, field::SYSLOG_PROCID))
}

// ---------------------------------------------------------------------------------------------
// 1. loghub Linux

/// loghub Linux lines where the ground truth is not what the line says.
const LINUX_QUIRKS: &[Quirk] = &[
    Quirk {
        field: field::HOST_HOSTNAME,
        lines: SYSLOGD_RESTART,
        why: "`combo syslogd 1.4.1: restart.` (sysklogd's own mark) has no RFC 3164 TAG after \
              the word, which the parser reads as a hostless device's message text",
    },
    Quirk {
        field: field::PROCESS_NAME,
        lines: SYSLOGD_RESTART,
        why: "same lines: loghub calls `syslogd 1.4.1` (with a space) the component",
    },
    Quirk {
        field: field::MESSAGE,
        lines: SYSLOGD_RESTART,
        why: "same lines: the message keeps `combo syslogd 1.4.1: ` that loghub split off",
    },
    Quirk {
        field: field::PROCESS_NAME,
        lines: &[899],
        why: "`combo  -- root[2421]: ROOT LOGIN ON tty2`: login(1) wrote an empty TAG and put \
              `-- root[2421]:` in the text; loghub took `-- root` as the component",
    },
    Quirk {
        field: field::PROCESS_PID,
        lines: &[899],
        why: "same line: loghub's PID 2421 comes from the `-- root[2421]` text",
    },
    Quirk {
        field: field::MESSAGE,
        lines: &[899],
        why: "same line: the message keeps `-- root[2421]: ` that loghub moved to Component/PID",
    },
    Quirk {
        field: field::MESSAGE,
        lines: &[1913, 1914, 1915, 1916, 1917, 1923, 1924, 1926],
        why: "the kernel indents these boot lines (`kernel:  BIOS-e820: …`); loghub strips the \
              indentation from Content, the parser keeps the text after `TAG: ` as sent",
    },
];

/// The seven `syslogd 1.4.1: restart.` lines.
const SYSLOGD_RESTART: &[u32] = &[146, 374, 714, 1086, 1364, 1754, 1908];

#[test]
fn loghub_linux_matches_structured_csv() {
    let Some(dir) = corpora() else { return };
    let dir = dir.join("loghub-syslog/Linux");
    let log = read(&dir.join("Linux_2k.log"));
    let lines = log_lines(&log);
    let rows = csv_rows(&dir.join("Linux_2k.log_structured.csv"));
    assert_eq!(lines.len(), 2000);
    assert_eq!(rows.len(), lines.len());

    let mut agreement = Agreement::new(
        "Linux",
        &[
            field::HOST_HOSTNAME,
            field::PROCESS_NAME,
            field::PROCESS_PID,
            field::MESSAGE,
            TS,
            WARNINGS,
        ],
    );
    for (line, row) in lines.iter().zip(&rows) {
        let id: u32 = row["LineId"].parse().unwrap();
        let ev = parse(line);
        agreement.lines += 1;
        // loghub's "Level" column holds the host name
        agreement.check(
            field::HOST_HOSTNAME,
            id,
            text(&ev, field::HOST_HOSTNAME),
            Some(&row["Level"]),
        );
        agreement.check(
            field::PROCESS_NAME,
            id,
            text(&ev, field::PROCESS_NAME),
            Some(&row["Component"]),
        );
        let want_pid = Some(row["PID"].as_str()).filter(|p| !p.is_empty());
        agreement.check(field::PROCESS_PID, id, pid_text(&ev), want_pid);
        agreement.check(
            field::MESSAGE,
            id,
            text(&ev, field::MESSAGE),
            Some(&expected_message(line, &row["Content"])),
        );
        agreement.check(
            TS,
            id,
            Some(bsd_stamp(&ev)),
            Some(&want_stamp(&row["Month"], &row["Date"], &row["Time"])),
        );
        // no PRI in these files, and nothing else to complain about
        agreement.check(WARNINGS, id, text(&ev, WARNINGS), Some("no PRI"));
    }
    agreement.assert_only(LINUX_QUIRKS);
}

// ---------------------------------------------------------------------------------------------
// 2. loghub OpenSSH

/// Failed logins (`Failed password|none for …`) in OpenSSH_2k.log, counted with grep.
const OPENSSH_FAILED_LOGINS: usize = 522;
/// `Invalid user … from …` lines.
const OPENSSH_INVALID_USERS: usize = 113;
/// PAM `authentication failure(s)` lines that name a `user=`.
const OPENSSH_PAM_FAILURES_WITH_USER: usize = 386;
/// PAM lines that are failures without a user: `authentication failure` without `user=`
/// (118) and `check pass; user unknown` (135).
const OPENSSH_FAILURES_WITHOUT_USER: usize = 118 + 135;

/// The user name the text of an sshd line gives, read without the decoder: the word(s)
/// between `for [invalid user ]` / `Invalid user ` and ` from `, the value of `user=`, or the
/// user a PAM session opens or closes for.
fn user_in_text(content: &str) -> Option<&str> {
    if let Some(rest) = content.strip_prefix("Failed ") {
        let (_, rest) = rest.split_once(" for ")?;
        let rest = rest.strip_prefix("invalid user ").unwrap_or(rest);
        return rest.rsplit_once(" from ").map(|(user, _)| user);
    }
    if let Some(rest) = content.strip_prefix("Invalid user ") {
        return rest.rsplit_once(" from ").map(|(user, _)| user);
    }
    if let Some(rest) = content.strip_prefix("Accepted ") {
        let (_, rest) = rest.split_once(" for ")?;
        return rest.rsplit_once(" from ").map(|(user, _)| user);
    }
    if let Some(rest) = content
        .strip_prefix("pam_unix(sshd:session): session opened for user ")
        .or_else(|| content.strip_prefix("pam_unix(sshd:session): session closed for user "))
    {
        return rest.split(' ').next();
    }
    if is_pam_failure(content) {
        return content
            .split_whitespace()
            .find_map(|w| w.strip_prefix("user="))
            .filter(|u| !u.is_empty());
    }
    None
}

/// A PAM failure report: `pam_unix(sshd:auth): authentication failure; …` or sshd's summary
/// `PAM 5 more authentication failures; …` (not sshd's own `Too many authentication failures`).
fn is_pam_failure(content: &str) -> bool {
    content.starts_with("pam_unix(sshd:auth): authentication failure;")
        || (content.starts_with("PAM ") && content.contains(" more authentication failure"))
}

#[test]
fn loghub_openssh_matches_structured_csv() {
    let Some(dir) = corpora() else { return };
    let dir = dir.join("loghub-syslog/OpenSSH");
    let log = read(&dir.join("OpenSSH_2k.log"));
    let lines = log_lines(&log);
    let rows = csv_rows(&dir.join("OpenSSH_2k.log_structured.csv"));
    assert_eq!(lines.len(), 2000);
    assert_eq!(rows.len(), lines.len());

    let mut agreement = Agreement::new(
        "OpenSSH",
        &[
            field::HOST_HOSTNAME,
            field::PROCESS_NAME,
            field::PROCESS_PID,
            field::MESSAGE,
            TS,
            WARNINGS,
            field::USER_NAME,
        ],
    );
    let (mut failed, mut invalid, mut pam_with_user, mut pam_without_user) = (0, 0, 0, 0);
    let (mut failure_with_user, mut failure_without_user) = (0, 0);
    for (line, row) in lines.iter().zip(&rows) {
        let id: u32 = row["LineId"].parse().unwrap();
        let ev = parse(line);
        agreement.lines += 1;
        // loghub's "Component" column holds the host name; the process is always sshd
        agreement.check(
            field::HOST_HOSTNAME,
            id,
            text(&ev, field::HOST_HOSTNAME),
            Some(&row["Component"]),
        );
        agreement.check(
            field::PROCESS_NAME,
            id,
            text(&ev, field::PROCESS_NAME),
            Some("sshd"),
        );
        let want_pid = Some(row["Pid"].as_str()).filter(|p| !p.is_empty());
        agreement.check(field::PROCESS_PID, id, pid_text(&ev), want_pid);
        let content = row["Content"].as_str();
        agreement.check(
            field::MESSAGE,
            id,
            text(&ev, field::MESSAGE),
            Some(&expected_message(line, content)),
        );
        agreement.check(
            TS,
            id,
            Some(bsd_stamp(&ev)),
            Some(&want_stamp(&row["Date"], &row["Day"], &row["Time"])),
        );
        agreement.check(WARNINGS, id, text(&ev, WARNINGS), Some("no PRI"));

        // independent of the decoder: what the text says
        let user = user_in_text(content);
        if content.starts_with("Failed ") {
            failed += 1;
        } else if content.starts_with("Invalid user ") {
            invalid += 1;
        } else if is_pam_failure(content) && user.is_some() {
            pam_with_user += 1;
        } else if is_pam_failure(content) || content.ends_with("check pass; user unknown") {
            pam_without_user += 1;
        }
        agreement.check(field::USER_NAME, id, text(&ev, field::USER_NAME), user);

        // what the decoder says
        if ev.get_str(field::EVENT_OUTCOME) == Some("failure") {
            if ev.get(field::USER_NAME).is_some() {
                failure_with_user += 1;
            } else {
                failure_without_user += 1;
            }
        }
    }
    agreement.assert_only(&[]);

    assert_eq!(
        (failed, invalid, pam_with_user, pam_without_user),
        (
            OPENSSH_FAILED_LOGINS,
            OPENSSH_INVALID_USERS,
            OPENSSH_PAM_FAILURES_WITH_USER,
            OPENSSH_FAILURES_WITHOUT_USER
        ),
        "text filters: failed, invalid, pam with user, failures without user"
    );
    println!(
        "OpenSSH: {failure_with_user} failures with user.name (text: {failed} failed + \
         {invalid} invalid + {pam_with_user} pam), {failure_without_user} without"
    );
    assert_eq!(failure_with_user, failed + invalid + pam_with_user);
    assert_eq!(failure_without_user, pam_without_user);
}

// ---------------------------------------------------------------------------------------------
// 3. syslog-loose vectors

/// One input of INPUTS_EXTRACTED.txt: `test_fn<TAB>var<TAB>rust string literal`.
struct Vector {
    test_fn: String,
    var: String,
    input: String,
}

/// Reads INPUTS_EXTRACTED.txt: `#` comment lines, then records whose Rust string literal
/// (`"…"` with escapes, or `r#"…"#`) may run over several lines.
fn read_vectors(text: &str) -> Vec<Vector> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (line_start, after) = match rest.find('\n') {
            Some(n) => (&rest[..n], &rest[n + 1..]),
            None => (rest, ""),
        };
        if line_start.is_empty() || line_start.starts_with('#') {
            rest = after;
            continue;
        }
        let mut parts = rest.splitn(3, '\t');
        let (Some(test_fn), Some(var), Some(literal)) = (parts.next(), parts.next(), parts.next())
        else {
            panic!("INPUTS_EXTRACTED.txt: expected fn<TAB>var<TAB>literal at {line_start:?}");
        };
        let (input, tail) = rust_literal(literal)
            .unwrap_or_else(|| panic!("INPUTS_EXTRACTED.txt: bad literal for {test_fn}"));
        out.push(Vector {
            test_fn: test_fn.to_owned(),
            var: var.to_owned(),
            input,
        });
        rest = tail.split_once('\n').map_or("", |(_, next)| next);
    }
    out
}

/// Decodes the Rust string literal at the start of `s`; returns it and the text after it.
fn rust_literal(s: &str) -> Option<(String, &str)> {
    if let Some(body) = s.strip_prefix("r#\"") {
        let end = body.find("\"#")?;
        return Some((body[..end].to_owned(), &body[end + 2..]));
    }
    let body = s.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((k, c)) = chars.next() {
        match c {
            '"' => return Some((out, &body[k + 1..])),
            '\\' => match chars.next()?.1 {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                '\'' => out.push('\''),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                '0' => out.push('\0'),
                other => panic!("unsupported escape \\{other} in a vector literal"),
            },
            c => out.push(c),
        }
    }
    None
}

/// Expected fields for the inputs whose reading RFC 5424 / RFC 3164 make plain.
#[rustfmt::skip]
const VECTOR_TABLE: &[(&str, &str, Want)] = &[
    ("parse_nginx", "msg", &[
        (HOST, "plertrood-thinkpad-x220"), (APP, "nginx"), (PID, ABSENT),
        (MSG, r#"127.0.0.1 - - [28/Dec/2019:16:49:07 +0000] "GET / HTTP/1.1" 304 0 "-" "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:71.0) Gecko/20100101 Firefox/71.0""#),
        (TS, "2026-12-28T16:49:07Z"), (WARNINGS, ABSENT),
    ]),
    ("parse_chrono_tz", "msg", &[
        (HOST, "plertrood-ThinkPad-X220"), (APP, "rsyslogd"), (MSG, "start"),
        (TS, "2027-01-05T15:33:03Z"),
    ]),
    // RFC 3164 has no structured data: the bracket stays message text
    ("parse_rsyslog", "msg", &[
        (HOST, "plertrood-ThinkPad-X220"), (APP, "rsyslogd"),
        ("log.syslog.structured_data.origin.software", ABSENT),
    ]),
    ("parse_3164_invalid_structured_data", "msg", &[
        (HOST, "plertrood-ThinkPad-X220"), (APP, "rsyslogd"),
    ]),
    // an empty TAG: HOSTNAME, then the message
    ("parse_3164_no_tag", "msg", &[
        (HOST, "plertrood-ThinkPad-X220"), (APP, ABSENT),
        (MSG, r#"[software="rsyslogd" swVersion="8.32.0" x-pid="20506" x-info="http://www.rsyslog.com"] start"#),
    ]),
    // no HOSTNAME: a TAG with a PID cannot be one
    ("parse_haproxy", "msg", &[
        (HOST, ABSENT), (APP, "haproxy"), (PID, "73411"),
        (MSG, "Proxy sticky-servers started."),
    ]),
    // RFC 5424 §6.5 example 1 ("BOM" is literal text in the test source)
    ("parse_5424_no_structured_data", "msg", &[
        (HOST, "mymachine.example.com"), (APP, "su"), (PID, ABSENT), (MSGID, "ID47"),
        (MSG, "BOM'su root' failed for lonvick on /dev/pts/8"),
        (TS, "2003-10-11T22:14:15.003Z"), (WARNINGS, ABSENT),
    ]),
    ("parse_5424_structured_data", "msg", &[
        (HOST, "mymachine.example.com"), (APP, "evntslog"), (MSGID, "ID47"),
        ("log.syslog.structured_data.exampleSDID@32473.iut", "3"),
        ("log.syslog.structured_data.exampleSDID@32473.eventSource", "Application"),
        ("log.syslog.structured_data.exampleSDID@32473.eventID", "1011"),
        (MSG, "BOMAn application event log entry..."), (WARNINGS, ABSENT),
    ]),
    ("parse_5424_empty_structured_data", "msg", &[
        (HOST, "mymachine.example.com"), (APP, "evntslog"), (MSGID, "ID47"),
        ("log.syslog.structured_data.exampleSDID@32473.eventSource", ""),
        ("log.syslog.structured_data.exampleSDID@32473.eventID", "1011"),
        (MSG, "BOMAn application event log entry..."),
    ]),
    // `eventSource= "Application"` breaks RFC 5424's PARAM-NAME "=" DQUOTE: the header
    // stands, the structured data is kept in the message with a warning
    ("parse_5424_multiple_structured_data", "msg", &[
        (HOST, "mymachine.example.com"), (APP, "evntslog"), (MSGID, "ID47"),
        ("log.syslog.structured_data.exampleSDID@32473.iut", ABSENT),
        (WARNINGS, "bad structured data at byte 108"),
    ]),
    ("syslog_ng_default_network", "raw", &[
        (HOST, "74794bfb6795"), (APP, "root"), (PID, "8539"), (MSG, "i am foobar"),
    ]),
    ("parse_exact_with_tz", "raw", &[
        (HOST, "74794bfb6795"), (APP, "root"), (PID, "8539"), (MSG, "i am foobar"),
        (TS, "2027-02-13T20:07:26Z"),
    ]),
    ("parse_vrl", "msg", &[
        (HOST, "74794bfb6795"), (APP, "root"), (PID, "8539"), (MSG, "syslog message"),
    ]),
    ("handles_weird_whitespace", "cleaned", &[
        (HOST, "74794bfb6795"), (APP, "root"), (PID, "8449"), (MSGID, ABSENT),
        ("log.syslog.structured_data.meta.sequenceId", "1"), (MSG, "i am foobar"),
        (TS, "2019-02-13T19:48:34Z"),
    ]),
    // the same record indented inside a Rust raw string: leading whitespace is framing
    // residue; RFC 5424 MSG runs to the end, so the trailing indentation is message text
    ("handles_weird_whitespace", "raw", &[
        (HOST, "74794bfb6795"), (APP, "root"), (PID, "8449"),
        ("log.syslog.structured_data.meta.sequenceId", "1"), (MSG, "i am foobar\n            "),
    ]),
    ("rsyslog_omfwd_tcp_default", "raw", &[
        (HOST, "74794bfb6795"), (APP, "liblogging-stdlog"),
    ]),
    ("rsyslog_omfwd_tcp_forward_format", "raw", &[
        (HOST, "74794bfb6795"), (APP, "liblogging-stdlog"),
        (TS, "2019-02-13T21:53:30.605850Z"),
    ]),
    ("logical_system_juniper_routers", "raw", &[
        (HOST, "OX-XXX-MX204"), (APP, "OX-XXX-CONTEUDO:rpd"), (PID, "6589"),
        (MSGID, ABSENT),
        (MSG, "bgp_listen_accept: %DAEMON-4: Connection attempt from unconfigured neighbor: 2001:XXX::219:166+57284"),
        (TS, "2020-05-22T17:59:09.250Z"),
    ]),
    ("parse_missing_pri", "msg", &[
        (HOST, "plertrood-thinkpad-x220"), (APP, "nginx"), (WARNINGS, "no PRI"),
    ]),
    ("parse_ipv4_hostname", "msg", &[
        (HOST, "42.52.1.1"), (APP, "su"), (MSGID, "ID47"), (MSG, "bananas and peas"),
    ]),
    ("parse_ipv6_hostname", "msg", &[
        (HOST, "::FFFF:129.144.52.38"), (APP, "su"), (MSGID, "ID47"),
        (MSG, "bananas and peas"),
    ]),
    ("parse_3164_ubnt_iptables", "msg", &[
        (HOST, "ubnt"), (APP, "kernel"),
        (MSG, "[WAN_LOCAL-default-D]IN=eth0 OUT= MAC=b4:fb:xx:xx:xx:xx:xx:xx:xx:xx:xx:xx:08:00 SRC=135.148.25.121 DST=xxx.xxx.xxx.xxx LEN=60 TOS=0x00 PREC=0x00 TTL=46 ID=59401 DF PROTO=TCP SPT=46146 DPT=4433 WINDOW=5840 RES=0x00 SYN URGP=0"),
    ]),
    ("parse_5424_f5_logs", "msg", &[
        (HOST, "Host-Name.network.example"), (APP, "appname"), (PID, "1234"),
        (MSGID, "01230456:1:"),
        ("log.syslog.structured_data.F5@1234.hostname", "Host-Name.network.example"),
        ("log.syslog.structured_data.F5@1234.errdefs_msgno", "01230456:1:"),
        (MSG, "RST sent from 192.0.2.1:443 to 192.0.2.2:1176, [0xdeadbef:1010] RST from BIG-IP internal Linux host"),
        (TS, "2025-05-09T07:56:18.906539Z"),
    ]),
    // a NIL timestamp: the event time is the receive time
    ("parse_5424_no_timestamp", "msg", &[
        (HOST, "10.0.4.87"), (APP, "Serial-Debugger"), (PID, ABSENT), (MSGID, ABSENT),
        (MSG, "Serializer started!"), (TS, "2026-11-25T00:00:00Z"), (WARNINGS, ABSENT),
    ]),
];

#[test]
fn syslog_loose_vectors() {
    let Some(dir) = corpora() else { return };
    let text = String::from_utf8(read(&dir.join("syslog-loose-vectors/INPUTS_EXTRACTED.txt")))
        .expect("INPUTS_EXTRACTED.txt is UTF-8");
    let vectors = read_vectors(&text);
    assert_eq!(vectors.len(), 30, "records in INPUTS_EXTRACTED.txt");

    let mut events = HashMap::new();
    for v in &vectors {
        // every input parses (no panic) and keeps its bytes
        let ev = parse(v.input.as_bytes());
        assert_eq!(ev.raw, v.input.as_bytes());
        assert!(
            ev.get(field::MESSAGE).is_some(),
            "{}: no message",
            v.test_fn
        );
        events.insert((v.test_fn.as_str(), v.var.as_str()), ev);
    }

    // what is not a syslog record is kept whole
    for key in [
        ("parse_invalid_message", "msg"),
        ("syslog_ng_network_syslog_protocol", "msg"),
        ("parse_exact_error", "raw"),
    ] {
        let ev = &events[&key];
        assert!(ev.is_unparsed(), "{key:?}");
        assert_eq!(
            ev.get_str(field::MESSAGE).map(str::as_bytes),
            Some(&ev.raw[..])
        );
    }

    for (test_fn, var, want) in VECTOR_TABLE {
        let ev = events
            .get(&(*test_fn, *var))
            .unwrap_or_else(|| panic!("{test_fn}/{var} not in INPUTS_EXTRACTED.txt"));
        check(&format!("{test_fn}/{var}"), ev, want);
    }
    println!(
        "syslog-loose: {} inputs parsed, {} with asserted fields",
        vectors.len(),
        VECTOR_TABLE.len()
    );
}

// ---------------------------------------------------------------------------------------------
// 4. rsyslog fuzz seeds

/// Messages in an LF-framed stream, counted without the framer: non-empty lines.
fn lf_lines(stream: &[u8]) -> Vec<&[u8]> {
    stream
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
        .collect()
}

/// Expected fields of the one message in each seed file.
#[rustfmt::skip]
const SEED_TABLE: &[(&str, Want)] = &[
    ("rfc3164-basic", &[
        (field::SYSLOG_PRIORITY, "34"), (HOST, "mymachine"), (APP, "su"),
        (MSG, "'su root' failed for lonvick on /dev/pts/8"), (TS, "2026-10-11T22:14:15Z"),
    ]),
    ("rfc3164-no-pri", &[
        (field::SYSLOG_PRIORITY, ABSENT), (HOST, "host.example"), (APP, "app"), (PID, "123"),
        (MSG, "legacy message without PRI"), (WARNINGS, "no PRI"),
    ]),
    ("rfc3164-rfc3339", &[
        (field::SYSLOG_PRIORITY, "13"), (HOST, "host"), (APP, "daemon"),
        (MSG, "timestamp variant"), (TS, "2026-07-23T07:30:45.123Z"),
    ]),
    ("rfc3164-short", &[
        (field::SYSLOG_PRIORITY, "0"), (field::SYSLOG_SEVERITY_NAME, "emergency"),
        (HOST, ABSENT), (MSG, "x"),
    ]),
    ("rfc5424-basic", &[
        (field::SYSLOG_VERSION, "1"), (HOST, "mymachine.example.com"), (APP, "evntslog"),
        (PID, ABSENT), (MSGID, "ID47"),
        ("log.syslog.structured_data.exampleSDID@32473.iut", "3"),
        ("log.syslog.structured_data.exampleSDID@32473.eventSource", "Application"),
        (MSG, "An application event log entry"), (WARNINGS, ABSENT),
    ]),
    ("rfc5424-escaped-sd", &[
        (HOST, "host"), (APP, "app"), (PID, "123"), (MSGID, "msg"),
        ("log.syslog.structured_data.meta@32473.value", "escaped]bracket"),
        ("log.syslog.structured_data.meta@32473.quote", "\""),
        (MSG, "payload"), (TS, "2026-07-23T07:30:45Z"), (WARNINGS, ABSENT),
    ]),
    ("rfc5424-nil", &[
        (field::SYSLOG_PRIORITY, "13"), (field::SYSLOG_VERSION, "1"), (HOST, ABSENT),
        (APP, ABSENT), (PID, ABSENT), (MSGID, ABSENT), (MSG, "minimal"),
        (TS, "2026-11-25T00:00:00Z"), (WARNINGS, ABSENT),
    ]),
];

#[test]
fn rsyslog_fuzz_seeds() {
    let Some(dir) = corpora() else { return };
    let dir = dir.join("rsyslog-fuzz-seeds");
    let mut seeds: Vec<PathBuf> = fs::read_dir(dir.join("syslog-message"))
        .expect("syslog-message seeds")
        .map(|e| e.expect("dir entry").path())
        .collect();
    seeds.sort();
    seeds.push(dir.join("no_octet_counted.testdata"));

    let mut by_name = HashMap::new();
    for path in &seeds {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = read(path);
        let frames = frame(&bytes);
        // none of the seeds is octet-counted: one frame per line
        assert_eq!(
            frames.iter().map(|f| &f.data[..]).collect::<Vec<_>>(),
            lf_lines(&bytes),
            "{name}: frames"
        );
        for f in &frames {
            assert!(!f.is_truncated(), "{name}");
            let ev = parse(&f.data);
            assert!(ev.get(field::MESSAGE).is_some(), "{name}");
        }
        // the parser also takes the whole file, trailing LF included
        let whole = parse(&bytes);
        if frames.len() == 1 {
            assert_eq!(whole.fields, parse(&frames[0].data).fields, "{name}");
        }
        by_name.insert(name, (frames.len(), whole));
    }

    assert_eq!(by_name["no_octet_counted.testdata"].0, 20);

    for (name, want) in SEED_TABLE {
        let (frames, ev) = &by_name[*name];
        assert_eq!(*frames, 1, "{name}");
        check(name, ev, want);
    }
    println!(
        "rsyslog seeds: {} files framed and parsed, {} with asserted fields, \
         no_octet_counted = 20 frames",
        seeds.len(),
        SEED_TABLE.len()
    );
}

// ---------------------------------------------------------------------------------------------
// 5. real-client captures

/// Frames a captured TCP stream and parses each frame; every frame must be whole.
fn frames_and_events(stream: &[u8]) -> Vec<(Frame, Event)> {
    frame(stream)
        .into_iter()
        .map(|f| {
            assert!(!f.is_truncated(), "{:?}", String::from_utf8_lossy(&f.data));
            let ev = parse(&f.data);
            (f, ev)
        })
        .collect()
}

/// logger's `[timeQuality …]` element, added to every RFC 5424 message it sends.
const TIME_QUALITY: Want = &[
    ("log.syslog.structured_data.timeQuality.tzKnown", "1"),
    ("log.syslog.structured_data.timeQuality.isSynced", "0"),
];

/// logger_tcp_5514.bin as CLIENTS.md sent it, in order: an octet-counted message with msgid
/// and SD; one with LF framing; an RFC 3164 one; `printf 'a\nb\n' | logger --octet-count`
/// (two frames); `--prio-prefix`. Each with its octet count (0: LF-framed).
#[rustfmt::skip]
const LOGGER_TCP: &[(usize, Want)] = &[
    (208, &[
        (field::SYSLOG_PRIORITY, "38"), (field::SYSLOG_FACILITY_NAME, "auth"),
        (HOST, "vm"), (APP, "sshd"), (PID, ABSENT), (MSGID, "ID47"),
        (TS, "2026-11-22T05:17:08.727972Z"),
        ("log.syslog.structured_data.exampleSDID@32473.iut", "3"),
        ("log.syslog.structured_data.exampleSDID@32473.eventSource", "App"),
        (MSG, "Failed password for invalid user admin from 203.0.113.5 port 4242 ssh2"),
        (field::USER_NAME, "admin"), (field::SOURCE_IP, "203.0.113.5"),
        (field::SOURCE_PORT, "4242"), (field::EVENT_OUTCOME, "failure"),
    ]),
    (0, &[
        (field::SYSLOG_PRIORITY, "13"), (HOST, "vm"), (APP, "app"), (MSGID, ABSENT),
        (MSG, "non-transparent framing (LF) message"),
    ]),
    (0, &[
        (field::SYSLOG_VERSION, ABSENT), (HOST, "vm"), (APP, "oldtag"),
        (MSG, "rfc3164 over tcp"), (TS, "2026-11-22T05:17:08Z"),
    ]),
    (99, &[(HOST, "vm"), (APP, "multi"), (MSGID, ABSENT), (MSG, "line one")]),
    (99, &[(HOST, "vm"), (APP, "multi"), (MSGID, ABSENT), (MSG, "line two")]),
    (101, &[(HOST, "vm"), (APP, "pp"), (MSG, "prefixed line")]),
];

#[test]
fn logger_tcp_capture() {
    let Some(dir) = corpora() else { return };
    let stream = read(&dir.join("real-client-captures/syslog-logger/logger_tcp_5514.bin"));
    let got = frames_and_events(&stream);
    assert_eq!(got.len(), LOGGER_TCP.len(), "frames in logger_tcp_5514.bin");
    for (k, ((frame, ev), (count, want))) in got.iter().zip(LOGGER_TCP).enumerate() {
        let what = format!("logger frame {k}");
        if *count > 0 {
            assert_eq!(frame.data.len(), *count, "{what}: octet count");
        }
        check(&what, ev, want);
        check(&what, ev, &[(WARNINGS, ABSENT)]);
        if ev.get(field::SYSLOG_VERSION).is_some() {
            check(&what, ev, TIME_QUALITY);
        }
    }
    println!("logger tcp: {} frames", got.len());
}

/// Splits concatenated UDP payloads where a record starts: `<PRI>` then `1 ` or a capital
/// (a month); enough for captures whose message texts hold no `<`.
fn datagrams(bytes: &[u8]) -> Vec<&[u8]> {
    let starts: Vec<usize> = (0..bytes.len())
        .filter(|&k| {
            let rest = &bytes[k..];
            let digits = rest
                .iter()
                .skip(1)
                .take_while(|c| c.is_ascii_digit())
                .count();
            rest.first() == Some(&b'<')
                && (1..=3).contains(&digits)
                && rest.get(digits + 1) == Some(&b'>')
                && rest
                    .get(digits + 2..digits + 4)
                    .is_some_and(|w| w == b"1 " || w[0].is_ascii_uppercase())
        })
        .collect();
    assert_eq!(starts.first(), Some(&0), "a capture starts with a record");
    let ends = starts.iter().skip(1).copied().chain([bytes.len()]);
    starts
        .iter()
        .zip(ends)
        .map(|(&s, e)| &bytes[s..e])
        .collect()
}

/// logger_udp_5515_concatenated.bin: `logger --rfc5424 --udp -p local0.warning` then
/// `logger --rfc3164 --udp`, one datagram each.
#[rustfmt::skip]
const LOGGER_UDP: &[Want] = &[
    &[
        (field::SYSLOG_PRIORITY, "132"), (field::SYSLOG_FACILITY_NAME, "local0"),
        (field::SYSLOG_SEVERITY_NAME, "warning"), (HOST, "vm"), (APP, "app"),
        (MSG, "udp rfc5424"), (TS, "2026-11-22T05:17:08.751107Z"), (WARNINGS, ABSENT),
    ],
    &[
        (field::SYSLOG_PRIORITY, "13"), (HOST, "vm"), (APP, "app"), (MSG, "udp rfc3164"),
        (TS, "2026-11-22T05:17:08Z"), (WARNINGS, ABSENT),
    ],
];

#[test]
fn logger_udp_capture() {
    let Some(dir) = corpora() else { return };
    let bytes =
        read(&dir.join("real-client-captures/syslog-logger/logger_udp_5515_concatenated.bin"));
    let got: Vec<Event> = datagrams(&bytes).into_iter().map(parse).collect();
    assert_eq!(got.len(), LOGGER_UDP.len(), "datagrams");
    for (k, (ev, want)) in got.iter().zip(LOGGER_UDP).enumerate() {
        check(&format!("udp datagram {k}"), ev, want);
    }
}

/// What the rsyslog relay was given (CLIENTS.md): an RFC 3164 sshd line and an RFC 5424 line
/// with an escaped quote in its SD, forwarded as RFC 5424 (`RSYSLOG_SyslogProtocol23Format`),
/// octet-counted, each with its octet count.
#[rustfmt::skip]
const RSYSLOG_5424: &[(usize, Want)] = &[
    (93, &[
        (field::SYSLOG_PRIORITY, "36"), (field::SYSLOG_VERSION, "1"), (HOST, "vm"),
        (APP, "sshd"), (PID, ABSENT), (MSGID, ABSENT), (TS, "2026-11-22T05:17:26Z"),
        (MSG, "Invalid user test from 198.51.100.7 port 5555"),
        (field::USER_NAME, "test"), (field::SOURCE_IP, "198.51.100.7"),
        (field::SOURCE_PORT, "5555"), (field::EVENT_OUTCOME, "failure"), (WARNINGS, ABSENT),
    ]),
    (129, &[
        (field::SYSLOG_PRIORITY, "13"), (HOST, "vm"), (APP, "app"), (MSGID, ABSENT),
        (TS, "2026-11-22T05:17:26.761196Z"),
        ("log.syslog.structured_data.timeQuality.tzKnown", "1"),
        ("log.syslog.structured_data.timeQuality.isSynced", "0"),
        ("log.syslog.structured_data.x@32473.k", "v\"q"),
        (MSG, "sd with escaped quote"), (WARNINGS, ABSENT),
    ]),
];

#[test]
fn rsyslog_octet_counted_captures() {
    let Some(dir) = corpora() else { return };
    let dir = dir.join("real-client-captures/syslog-rsyslog");
    for name in [
        "rsyslog_omfwd_tcp_octet_counted.bin",
        "rsyslog_omfwd_gtls_octet_counted_decrypted.bin",
    ] {
        let got = frames_and_events(&read(&dir.join(name)));
        assert_eq!(got.len(), RSYSLOG_5424.len(), "{name}: frames");
        for (k, ((frame, ev), (count, want))) in got.iter().zip(RSYSLOG_5424).enumerate() {
            let what = format!("{name} frame {k}");
            // rsyslog counts its trailing LF inside the octet count …
            assert_eq!(frame.data.len(), *count, "{what}: octet count");
            assert_eq!(frame.data.last(), Some(&b'\n'), "{what}");
            // … and the parsed message has none
            check(&what, ev, want);
            assert!(!ev.get_str(MSG).unwrap().ends_with('\n'), "{what}");
        }
    }
}

/// The same two messages through `RSYSLOG_ForwardFormat` over LF-framed TCP:
/// `<PRI>RFC3339 HOST TAG MSG`, where a TAG made from an RFC 5424 APP-NAME has no colon.
#[rustfmt::skip]
const RSYSLOG_FORWARD: &[Want] = &[
    &[
        (field::SYSLOG_PRIORITY, "36"), (HOST, "vm"), (APP, "sshd"),
        (TS, "2026-11-22T05:17:26Z"), (MSG, "Invalid user test from 198.51.100.7 port 5555"),
        (field::USER_NAME, "test"), (WARNINGS, ABSENT),
    ],
    &[
        (field::SYSLOG_PRIORITY, "13"), (HOST, "vm"), (APP, "app"),
        (TS, "2026-11-22T05:17:26.761196Z"), (MSG, "sd with escaped quote"), (WARNINGS, ABSENT),
    ],
];

#[test]
fn rsyslog_lf_forward_format_capture() {
    let Some(dir) = corpora() else { return };
    let stream = read(
        &dir.join("real-client-captures/syslog-rsyslog/rsyslog_omfwd_tcp_lf_forwardformat.bin"),
    );
    let got = frames_and_events(&stream);
    assert_eq!(got.len(), lf_lines(&stream).len(), "frames vs LF lines");
    assert_eq!(got.len(), RSYSLOG_FORWARD.len(), "frames");
    for (k, ((_, ev), want)) in got.iter().zip(RSYSLOG_FORWARD).enumerate() {
        check(&format!("forward format frame {k}"), ev, want);
    }
}
