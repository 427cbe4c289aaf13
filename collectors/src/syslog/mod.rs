//! Syslog: header parsing ([`parser`]), body decoders ([`decoders`]) and TCP framing
//! ([`framing`]). Everything here is a pure function of bytes.
//!
//! ```
//! use canh_collectors::syslog::{self, ParseContext};
//! use canh_core::{Origin, field};
//! use chrono::Utc;
//!
//! let ctx = ParseContext { received: Utc::now(), zone: "+07:00".parse().unwrap() };
//! let ev = syslog::parse(
//!     b"<38>Nov 22 05:17:08 web01 sshd[77]: Failed password for root from 203.0.113.5 port 4242 ssh2",
//!     &ctx,
//!     Origin::new("udp://127.0.0.1:5514", None),
//! );
//! assert_eq!(ev.get_str(field::HOST_HOSTNAME), Some("web01"));
//! assert_eq!(ev.get_str(field::EVENT_OUTCOME), Some("failure"));
//! ```

pub mod access;
pub mod decoders;
pub mod framing;
pub mod parser;

use canh_core::syslog_names::{facility_name, severity_name};
use canh_core::{Dataset, Event, Origin, ParseWarning, field};

pub use parser::{Layout, ParseContext, parse_header};

/// Parses one framed syslog record into an [`Event`]. Never fails: what cannot be read is
/// kept as `message` with a warning. `raw` is stored in the event as received.
pub fn parse(raw: &[u8], ctx: &ParseContext, origin: Origin) -> Event {
    let mut ev = Event::new(Dataset::Syslog, origin, ctx.received, raw.to_vec());
    fill(&mut ev, ctx);
    ev
}

/// Like [`parse`], but takes ownership of the raw bytes (no copy).
pub fn parse_owned(raw: Vec<u8>, ctx: &ParseContext, origin: Origin) -> Event {
    let mut ev = Event::new(Dataset::Syslog, origin, ctx.received, raw);
    fill(&mut ev, ctx);
    ev
}

fn fill(ev: &mut Event, ctx: &ParseContext) {
    let raw = std::mem::take(&mut ev.raw);
    let h = parse_header(&raw, ctx);
    if let Some(t) = h.timestamp {
        ev.timestamp = t;
    }
    if let Some(pri) = h.pri {
        let (fac, sev) = (pri >> 3, pri & 7);
        ev.set(field::SYSLOG_PRIORITY, pri);
        ev.set(field::SYSLOG_FACILITY_CODE, fac);
        ev.set(field::SYSLOG_SEVERITY_CODE, sev);
        if let Some(n) = facility_name(fac) {
            ev.set(field::SYSLOG_FACILITY_NAME, n);
        }
        if let Some(n) = severity_name(sev) {
            ev.set(field::SYSLOG_SEVERITY_NAME, n);
        }
    }
    if let Some(v) = h.version {
        ev.set(field::SYSLOG_VERSION, i64::from(v));
    }
    if let Some(host) = h.hostname {
        ev.set(field::HOST_HOSTNAME, host);
    }
    if let Some(app) = h.app_name {
        ev.set(field::PROCESS_NAME, app);
        ev.set(field::SYSLOG_APPNAME, app);
    }
    if let Some(pid) = h.proc_id {
        match pid.parse::<i64>() {
            Ok(n) => ev.set(field::PROCESS_PID, n),
            Err(_) => ev.set(field::SYSLOG_PROCID, pid),
        }
    }
    if let Some(m) = h.msg_id {
        ev.set(field::SYSLOG_MSGID, m);
    }
    for sd in &h.structured_data {
        for (k, v) in &sd.params {
            let name = format!("{}{}.{}", field::SYSLOG_SD_PREFIX, sd.id, k);
            ev.fields.insert(name, v.as_str().into());
        }
    }
    if let Some(code) = h.cisco_code {
        ev.set(field::EVENT_CODE, code);
        let mut parts = code.splitn(3, '-');
        if let (Some(fac), Some(sev), Some(mn)) = (parts.next(), parts.next(), parts.next()) {
            ev.set("cisco.facility", fac);
            ev.set("cisco.mnemonic", mn);
            if let Ok(s) = sev.parse::<i64>() {
                ev.set("cisco.severity", s);
            }
            ev.set_default(field::OBSERVER_VENDOR, "Cisco");
        }
    }
    let msg = String::from_utf8_lossy(h.msg);
    if matches!(msg, std::borrow::Cow::Owned(_)) {
        ev.warnings.push(ParseWarning::InvalidUtf8);
    }
    ev.set(field::MESSAGE, msg.into_owned());
    ev.warnings.extend(h.warnings);
    ev.raw = raw;
    decoders::decode_body(ev);
}

#[cfg(test)]
mod tests {
    use super::*;
    use canh_core::Value;
    use chrono::{TimeZone, Utc};

    fn ctx() -> ParseContext {
        ParseContext {
            received: Utc.with_ymd_and_hms(2026, 11, 25, 3, 0, 0).unwrap(),
            zone: "+07:00".parse().unwrap(),
        }
    }

    #[test]
    fn fields_from_rfc5424() {
        let ev = parse(
            br#"<38>1 2026-11-22T05:17:08+07:00 vm sshd 4242 ID47 [timeQuality tzKnown="1"] hi"#,
            &ctx(),
            Origin::new("t", None),
        );
        assert_eq!(ev.get(field::SYSLOG_FACILITY_CODE), Some(&Value::Int(4)));
        assert_eq!(ev.get_str(field::SYSLOG_FACILITY_NAME), Some("auth"));
        assert_eq!(
            ev.get_str(field::SYSLOG_SEVERITY_NAME),
            Some("informational")
        );
        assert_eq!(ev.get(field::PROCESS_PID), Some(&Value::Int(4242)));
        assert_eq!(ev.get_str(field::SYSLOG_MSGID), Some("ID47"));
        assert_eq!(
            ev.get_str("log.syslog.structured_data.timeQuality.tzKnown"),
            Some("1")
        );
        assert_eq!(ev.get_str(field::MESSAGE), Some("hi"));
        assert!(ev.warnings.is_empty());
    }

    #[test]
    fn invalid_utf8_is_replaced_but_raw_kept() {
        let raw = b"<13>Nov 22 05:17:08 vm app: bad \xff byte";
        let ev = parse(raw, &ctx(), Origin::new("t", None));
        assert_eq!(ev.raw, raw);
        assert!(ev.warnings.contains(&ParseWarning::InvalidUtf8));
        assert_eq!(ev.get_str(field::MESSAGE), Some("bad \u{fffd} byte"));
    }

    #[test]
    fn unparsed_line_is_kept_whole() {
        let ev = parse(b"just some text", &ctx(), Origin::new("t", None));
        assert!(ev.is_unparsed());
        assert_eq!(ev.get_str(field::MESSAGE), Some("just some text"));
        assert_eq!(ev.timestamp, ev.received);
    }
}
