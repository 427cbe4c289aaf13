//! Syslog header parsers: pure functions of bytes (RFC 5424, RFC 3164 and what devices send).
//!
//! The entry point is [`parse_header`]; it never fails. What it cannot read is reported as a
//! [`ParseWarning`] and the text is kept as the message. Time stamps without a year or zone
//! are completed from the [`ParseContext`].

use std::net::IpAddr;

use canh_core::ParseWarning;
use canh_core::time::{DefaultZone, infer_year, parse_offset};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use nom::IResult;
use nom::bytes::complete::{tag, take_while_m_n, take_while1};
use nom::character::complete::char;

/// Longest RFC 5424 header field we accept (RFC 5424 §6: HOSTNAME is at most 255 octets).
pub const MAX_HEADER_FIELD: usize = 255;
/// Longest RFC 3164 TAG we accept; longer first words are message text, not a tag. RFC 3164
/// says 32, devices send longer (`sshd(pam_unix)`, Java class names).
pub const MAX_TAG_LEN: usize = 64;
/// Most structured-data elements read from one message; the rest stays in the message text.
pub const MAX_SD_ELEMENTS: usize = 64;
/// Most parameters read from one structured-data element.
pub const MAX_SD_PARAMS: usize = 128;

/// What a parser needs besides the bytes: when they arrived and the zone for zone-less stamps.
#[derive(Debug, Clone, Copy)]
pub struct ParseContext {
    pub received: DateTime<Utc>,
    pub zone: DefaultZone,
}

/// Which layout a record was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Rfc5424,
    Rfc3164,
    Unparsed,
}

/// One RFC 5424 SD-PARAM, or a whole SD-ELEMENT: `[id name="value" …]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdElement {
    pub id: String,
    pub params: Vec<(String, String)>,
}

/// The header of a syslog record, borrowed from the input where possible.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Header<'a> {
    pub pri: Option<u8>,
    pub version: Option<u16>,
    pub timestamp: Option<DateTime<Utc>>,
    pub hostname: Option<&'a str>,
    pub app_name: Option<&'a str>,
    pub proc_id: Option<&'a str>,
    pub msg_id: Option<&'a str>,
    pub structured_data: Vec<SdElement>,
    /// Cisco IOS `%FAC-SEV-MNEMONIC` code, without the `%`.
    pub cisco_code: Option<&'a str>,
    /// The message body (after the header); may still hold invalid UTF-8.
    pub msg: &'a [u8],
    pub warnings: Vec<ParseWarning>,
}

impl Header<'_> {
    pub fn layout(&self) -> Layout {
        if self.version.is_some() {
            Layout::Rfc5424
        } else if self
            .warnings
            .iter()
            .any(|w| matches!(w, ParseWarning::Unparsed { .. }))
        {
            Layout::Unparsed
        } else {
            Layout::Rfc3164
        }
    }
}

type Res<'a, T> = IResult<&'a [u8], T>;

/// Strips what framing leaves behind: trailing LF/CR/NUL (rsyslog counts its LF inside the
/// octet count) and leading NULs and whitespace.
pub fn trim_frame(b: &[u8]) -> &[u8] {
    let mut end = b.len();
    while end > 0 && matches!(b[end - 1], b'\n' | b'\r' | 0) {
        end -= 1;
    }
    let mut start = 0;
    while start < end && matches!(b[start], 0 | b' ' | b'\t' | b'\n' | b'\r') {
        start += 1;
    }
    &b[start..end]
}

/// `<PRI>`: 1 to 3 digits, at most 191 (facility 23, severity 7).
fn pri(i: &[u8]) -> Res<'_, u8> {
    let (i, _) = char('<')(i)?;
    let (i, digits) = take_while_m_n(1, 3, |c: u8| c.is_ascii_digit())(i)?;
    let (i, _) = char('>')(i)?;
    let v = digits
        .iter()
        .fold(0u16, |a, d| a * 10 + u16::from(d - b'0'));
    if v > 191 {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        )));
    }
    Ok((i, v as u8))
}

fn is_print_us_ascii(c: u8) -> bool {
    (33..=126).contains(&c)
}

fn as_str(b: &[u8]) -> Option<&str> {
    std::str::from_utf8(b).ok()
}

/// Parses one syslog record (already framed). Never fails.
pub fn parse_header<'a>(input: &'a [u8], ctx: &ParseContext) -> Header<'a> {
    let input = trim_frame(input);
    let mut h = Header {
        msg: input,
        ..Header::default()
    };
    let rest = match pri(input) {
        Ok((rest, p)) => {
            h.pri = Some(p);
            rest
        }
        Err(_) => {
            h.warnings.push(ParseWarning::NoPri);
            input
        }
    };
    if h.pri.is_some()
        && let Ok((after, version)) = rfc5424_version(rest)
    {
        h.version = Some(version);
        rfc5424(after, ctx, &mut h);
        return h;
    }
    rfc3164(rest, ctx, &mut h);
    h
}

fn rfc5424_version(i: &[u8]) -> Res<'_, u16> {
    let (i, d) = take_while_m_n(1, 3, |c: u8| c.is_ascii_digit())(i)?;
    if d[0] == b'0' {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        )));
    }
    let (i, _) = char(' ')(i)?;
    Ok((i, d.iter().fold(0u16, |a, x| a * 10 + u16::from(x - b'0'))))
}

/// One space-terminated RFC 5424 header field; `-` is NILVALUE.
fn header_field(i: &[u8]) -> Res<'_, Option<&str>> {
    let (i, v) = take_while_m_n(1, MAX_HEADER_FIELD, is_print_us_ascii)(i)?;
    // the field must end at a space or at the end of the record
    if let Some(&c) = i.first()
        && c != b' '
    {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Space,
        )));
    }
    let i = i.get(1..).unwrap_or(i);
    if v == b"-" {
        return Ok((i, None));
    }
    Ok((i, as_str(v)))
}

fn rfc5424<'a>(i: &'a [u8], ctx: &ParseContext, h: &mut Header<'a>) {
    let fields = (|| -> Res<'a, ()> {
        let (i, ts) = header_field(i)?;
        if let Some(ts) = ts {
            match parse_rfc3339(ts.as_bytes(), ctx.zone) {
                Some(t) => h.timestamp = Some(t),
                None => h.warnings.push(ParseWarning::BadTimestamp {
                    text: ts.to_owned(),
                }),
            }
        }
        let (i, host) = header_field(i)?;
        h.hostname = host;
        let (i, app) = header_field(i)?;
        h.app_name = app;
        let (i, proc_id) = header_field(i)?;
        h.proc_id = proc_id;
        let (i, msg_id) = header_field(i)?;
        h.msg_id = msg_id;
        Ok((i, ()))
    })();
    let i = match fields {
        Ok((rest, ())) => rest,
        Err(_) => {
            // a broken header: keep what was read, the rest is the message
            h.warnings.push(ParseWarning::Unparsed {
                reason: "malformed RFC 5424 header".into(),
            });
            h.msg = i;
            return;
        }
    };
    let base = h.msg.len() - i.len();
    let i = if let Some(rest) = i.strip_prefix(b"-") {
        rest
    } else if i.first() == Some(&b'[') {
        match structured_data(i) {
            Ok((rest, sd)) => {
                h.structured_data = sd;
                rest
            }
            Err(off) => {
                h.warnings
                    .push(ParseWarning::BadStructuredData { offset: base + off });
                // keep the unreadable structured data in the message text
                i
            }
        }
    } else {
        i
    };
    let i = i.strip_prefix(b" ").unwrap_or(i);
    let i = i.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(i);
    // rsyslog forwarding a 3164 message as 5424 leaves a leading space in MSG
    let start = i.iter().position(|c| *c != b' ').unwrap_or(i.len());
    h.msg = &i[start..];
}

/// Reads `[id p="v" …][…]`. On error returns the offset (from `i`) where reading stopped.
fn structured_data(i: &[u8]) -> Result<(&[u8], Vec<SdElement>), usize> {
    let mut out = Vec::new();
    let mut pos = 0;
    while i.get(pos) == Some(&b'[') {
        if out.len() >= MAX_SD_ELEMENTS {
            return Err(pos);
        }
        pos += 1;
        let id_len = i[pos..].iter().take_while(|c| sd_name_char(**c)).count();
        if id_len == 0 {
            return Err(pos);
        }
        let id = String::from_utf8_lossy(&i[pos..pos + id_len]).into_owned();
        pos += id_len;
        let mut params = Vec::new();
        loop {
            match i.get(pos) {
                Some(b']') => {
                    pos += 1;
                    break;
                }
                Some(b' ') => {
                    pos += 1;
                    let n = i[pos..].iter().take_while(|c| sd_name_char(**c)).count();
                    if n == 0 {
                        // tolerate several spaces before `]`
                        continue;
                    }
                    let name = String::from_utf8_lossy(&i[pos..pos + n]).into_owned();
                    pos += n;
                    if i.get(pos) != Some(&b'=') || i.get(pos + 1) != Some(&b'"') {
                        return Err(pos);
                    }
                    pos += 2;
                    let (value, used) = sd_value(&i[pos..]).ok_or(pos)?;
                    pos += used;
                    if params.len() < MAX_SD_PARAMS {
                        params.push((name, value));
                    }
                }
                _ => return Err(pos),
            }
        }
        out.push(SdElement { id, params });
    }
    Ok((&i[pos..], out))
}

fn sd_name_char(c: u8) -> bool {
    is_print_us_ascii(c) && !matches!(c, b'=' | b']' | b'"' | b' ')
}

/// A PARAM-VALUE after its opening quote: returns the unescaped value and the bytes used,
/// closing quote included. `\"`, `\\` and `\]` are escapes; any other `\` is kept as is.
fn sd_value(i: &[u8]) -> Option<(String, usize)> {
    let mut out = Vec::with_capacity(i.len().min(64));
    let mut k = 0;
    while k < i.len() {
        match i[k] {
            b'\\' if matches!(i.get(k + 1), Some(b'"' | b'\\' | b']')) => {
                out.push(i[k + 1]);
                k += 2;
            }
            b'"' => return Some((String::from_utf8_lossy(&out).into_owned(), k + 1)),
            c => {
                out.push(c);
                k += 1;
            }
        }
    }
    None
}

fn two_digits(b: &[u8], at: usize) -> Option<u32> {
    let (a, c) = (*b.get(at)?, *b.get(at + 1)?);
    if a.is_ascii_digit() && c.is_ascii_digit() {
        Some(u32::from(a - b'0') * 10 + u32::from(c - b'0'))
    } else {
        None
    }
}

/// RFC 3339 / ISO 8601: `YYYY-MM-DDThh:mm:ss[.frac](Z|±hh:mm)`. A stamp without a zone (some
/// devices) takes the default zone; a space may stand for `T`.
pub fn parse_rfc3339(b: &[u8], zone: DefaultZone) -> Option<DateTime<Utc>> {
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let year = two_digits(b, 0)? * 100 + two_digits(b, 2)?;
    let date = NaiveDate::from_ymd_opt(year as i32, two_digits(b, 5)?, two_digits(b, 8)?)?;
    let (time, rest) = parse_hms_frac(&b[11..])?;
    let naive = date.and_time(time);
    if rest.is_empty() {
        return Some(zone.to_utc(naive));
    }
    let off = parse_offset(rest)?;
    Some(DateTime::<Utc>::from_naive_utc_and_offset(naive - off, Utc))
}

/// `hh:mm:ss[.frac]` (frac: 1 to 9 digits); returns the rest.
fn parse_hms_frac(b: &[u8]) -> Option<(NaiveTime, &[u8])> {
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, m, s) = (two_digits(b, 0)?, two_digits(b, 3)?, two_digits(b, 6)?);
    let mut rest = &b[8..];
    let mut nanos = 0u32;
    if let Some(r) = rest.strip_prefix(b".").or_else(|| rest.strip_prefix(b",")) {
        let n = r.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        for (k, d) in r[..n].iter().enumerate() {
            if k < 9 {
                nanos = nanos * 10 + u32::from(d - b'0');
            }
        }
        for _ in n..9 {
            nanos *= 10;
        }
        rest = &r[n..];
    }
    // leap second 60 becomes 59.999…
    let (s, nanos) = if s == 60 {
        (59, 999_999_999)
    } else {
        (s, nanos)
    };
    Some((NaiveTime::from_hms_nano_opt(h, m, s, nanos)?, rest))
}

fn month(b: &[u8]) -> Option<u32> {
    let m = match b.get(..3)? {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    };
    Some(m)
}

/// The BSD stamp `Mmm dd hh:mm:ss`, with the variants devices send: a space-padded or
/// one-digit day, `.mmm` fractions, a year before or after the time (`Mmm dd yyyy hh:mm:ss`,
/// Cisco), a zone name or offset after it, and Cisco's `*`/`.` "not synchronised" marks.
/// Returns the instant and the rest after the stamp and its following spaces or colon.
fn bsd_timestamp<'a>(b: &'a [u8], ctx: &ParseContext) -> Option<(DateTime<Utc>, &'a [u8])> {
    let b = b
        .strip_prefix(b"*")
        .or_else(|| b.strip_prefix(b"."))
        .unwrap_or(b);
    let mon = month(b)?;
    let mut k = 3;
    if b.get(k) != Some(&b' ') {
        return None;
    }
    while b.get(k) == Some(&b' ') {
        k += 1;
    }
    let dl = b[k..].iter().take_while(|c| c.is_ascii_digit()).count();
    if !(1..=2).contains(&dl) {
        return None;
    }
    let day = b[k..k + dl]
        .iter()
        .fold(0u32, |a, d| a * 10 + u32::from(d - b'0'));
    k += dl;
    if b.get(k) != Some(&b' ') {
        return None;
    }
    k += 1;
    let mut year: Option<i32> = None;
    if b.len() >= k + 5 && b[k..k + 4].iter().all(u8::is_ascii_digit) && b[k + 4] == b' ' {
        year = Some((two_digits(b, k)? * 100 + two_digits(b, k + 2)?) as i32);
        k += 5;
    }
    let (time, mut rest) = parse_hms_frac(&b[k..])?;
    // `hh:mm:ss yyyy` (some appliances)
    if year.is_none()
        && rest.len() >= 5
        && rest[0] == b' '
        && rest[1..5].iter().all(u8::is_ascii_digit)
        && rest.get(5).is_none_or(|c| *c == b' ' || *c == b':')
    {
        year = Some((two_digits(rest, 1)? * 100 + two_digits(rest, 3)?) as i32);
        rest = &rest[5..];
    }
    // an optional zone: ` UTC`, ` GMT`, ` +07:00`; other names (ICT, ICST) take the default zone
    let mut offset = None;
    if let Some(r) = rest.strip_prefix(b" ") {
        let wl = r.iter().take_while(|c| !matches!(c, b' ' | b':')).count();
        let word = &r[..wl];
        let followed_by_colon = r.get(wl) == Some(&b':');
        if word == b"UTC" || word == b"GMT" || word == b"Z" {
            offset = parse_offset(b"Z");
            rest = &r[wl..];
        } else if matches!(word.first(), Some(b'+' | b'-')) && parse_offset(word).is_some() {
            offset = parse_offset(word);
            rest = &r[wl..];
        } else if followed_by_colon
            && (2..=5).contains(&wl)
            && word.iter().all(u8::is_ascii_uppercase)
        {
            rest = &r[wl..];
        }
    }
    let naive: NaiveDateTime = match year {
        Some(y) => NaiveDate::from_ymd_opt(y, mon, day)?.and_time(time),
        None => infer_year(mon, day, time, ctx.received, ctx.zone)?,
    };
    let ts = match offset {
        Some(o) => DateTime::<Utc>::from_naive_utc_and_offset(naive - o, Utc),
        None => ctx.zone.to_utc(naive),
    };
    // Cisco ends the stamp with a colon
    let rest = rest.strip_prefix(b":").unwrap_or(rest);
    Some((ts, rest))
}

/// A token that can be a host name: letters, digits, `.-_:` (IPv6) and nothing a tag has.
fn hostname_token(b: &[u8]) -> Option<&str> {
    if b.is_empty() || b.len() > MAX_HEADER_FIELD || b.ends_with(b":") {
        return None;
    }
    if !b
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b':'))
    {
        return None;
    }
    as_str(b)
}

/// `TAG[PID]: `, `TAG: ` or `TAG[PID] ` at the start of `b`: returns (tag, pid, rest).
fn tag_pid(b: &[u8]) -> Option<(&str, Option<&str>, &[u8])> {
    let n = b
        .iter()
        .take(MAX_TAG_LEN + 1)
        .take_while(|c| !matches!(c, b'[' | b':' | b' '))
        .count();
    if n == 0 || n > MAX_TAG_LEN {
        return None;
    }
    let tag = as_str(&b[..n])?;
    let rest = &b[n..];
    if let Some(r) = rest.strip_prefix(b"[") {
        let (r, pid) = take_pid(r).ok()?;
        let r = r.strip_prefix(b":").unwrap_or(r);
        return Some((tag, as_str(pid), strip_one_space(r)));
    }
    if let Some(r) = rest.strip_prefix(b":")
        && (r.is_empty() || r[0] == b' ')
    {
        return Some((tag, None, strip_one_space(r)));
    }
    None
}

fn take_pid(i: &[u8]) -> Res<'_, &[u8]> {
    let (i, pid) = take_while1(|c: u8| c != b']' && c != b' ')(i)?;
    let (i, _) = tag(&b"]"[..])(i)?;
    Ok((i, pid))
}

fn strip_one_space(b: &[u8]) -> &[u8] {
    b.strip_prefix(b" ").unwrap_or(b)
}

fn rfc3164<'a>(mut i: &'a [u8], ctx: &ParseContext, h: &mut Header<'a>) {
    // Cisco sequence number: `<189>123: *Mar  1 …` or `<189>: *Mar 1 …`
    let seq = i.iter().take_while(|c| c.is_ascii_digit()).count();
    if seq <= 10 && i.get(seq) == Some(&b':') && i.get(seq + 1) == Some(&b' ') {
        i = &i[seq + 2..];
    }
    let mut stamped = false;
    // an RFC 3339 stamp in a BSD layout: rsyslog's forward format, which always writes HOSTNAME
    let mut forward_format = false;
    // Cisco IOS with a host before the stamp: `sw01: *Nov 25 …` or (through some relays)
    // `sw01 47: Nov 25 …`
    if bsd_timestamp(i, ctx).is_none()
        && let Some((host, rest)) = host_before_stamp(i, ctx)
    {
        h.hostname = Some(host);
        i = rest;
    }
    if let Some((ts, rest)) = bsd_timestamp(i, ctx) {
        h.timestamp = Some(ts);
        stamped = true;
        i = rest;
    } else {
        let n = i.iter().take_while(|c| **c != b' ').count();
        if n >= 19
            && i.get(4) == Some(&b'-')
            && let Some(ts) = parse_rfc3339(&i[..n], ctx.zone)
        {
            h.timestamp = Some(ts);
            stamped = true;
            forward_format = true;
            i = &i[n..];
        }
    }
    while let Some(r) = i.strip_prefix(b" ") {
        i = r;
    }
    if h.pri.is_none() && !stamped {
        h.warnings.push(ParseWarning::Unparsed {
            reason: "no PRI and no timestamp".into(),
        });
        h.msg = i;
        return;
    }
    // Cisco: `%SEC-6-IPACCESSLOGP: list 101 denied …`, with or without a host before it
    if let Some(code) = cisco_code(i) {
        h.cisco_code = Some(code.0);
        h.msg = code.1;
        return;
    }
    if stamped {
        let n = i.iter().take_while(|c| **c != b' ').count();
        let word = &i[..n];
        if let Some(host) = hostname_token(word) {
            // a word followed by a `TAG:` is the host, and so is one followed by an empty TAG
            // (two spaces) or written after an RFC 3339 stamp; a lone word is message text
            let empty_tag = i[n..].starts_with(b"  ");
            let after = if empty_tag {
                trim_spaces(&i[n..])
            } else {
                strip_one_space(&i[n..])
            };
            // Cisco ASA with a host name set: `asa01 : %ASA-6-113015: …`
            let after = match after.strip_prefix(b": ") {
                Some(r) if cisco_code(r).is_some() => r,
                _ => after,
            };
            if !after.is_empty()
                && (tag_pid(after).is_some()
                    || cisco_code(after).is_some()
                    || looks_like_host(word)
                    || empty_tag
                    || forward_format)
            {
                h.hostname = Some(host);
                i = after;
                if let Some(code) = cisco_code(i) {
                    h.cisco_code = Some(code.0);
                    h.msg = code.1;
                    return;
                }
            }
        }
    }
    if let Some((tag, pid, rest)) = tag_pid(i) {
        h.app_name = Some(tag);
        h.proc_id = pid;
        i = rest;
    } else if forward_format
        && h.hostname.is_some()
        && let Some((tag, rest)) = bare_tag(i)
    {
        // rsyslog forwards an RFC 5424 APP-NAME as a TAG without a colon: `host app msg`
        h.app_name = Some(tag);
        i = rest;
    }
    h.msg = i;
}

fn trim_spaces(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| **c == b' ').count();
    &b[n..]
}

/// `TAG MSG` with no colon: a first word that can be a tag (no `:[]=`), then a space.
fn bare_tag(b: &[u8]) -> Option<(&str, &[u8])> {
    let n = b.iter().take_while(|c| **c != b' ').count();
    if n == 0 || n > MAX_TAG_LEN || n == b.len() {
        return None;
    }
    let word = &b[..n];
    if !word
        .iter()
        .all(|c| is_print_us_ascii(*c) && !matches!(c, b':' | b'[' | b']' | b'='))
    {
        return None;
    }
    Some((as_str(word)?, &b[n + 1..]))
}

/// `HOST: STAMP` or `HOST SEQ: STAMP` (Cisco IOS through some relays): the host and the
/// input from the stamp on.
fn host_before_stamp<'a>(i: &'a [u8], ctx: &ParseContext) -> Option<(&'a str, &'a [u8])> {
    let n = i.iter().take_while(|c| !matches!(c, b' ' | b':')).count();
    let host = hostname_token(&i[..n])?;
    let mut rest = &i[n..];
    if let Some(r) = rest.strip_prefix(b": ") {
        rest = r;
    } else {
        let r = rest.strip_prefix(b" ")?;
        let seq = r.iter().take_while(|c| c.is_ascii_digit()).count();
        rest = r.get(seq..)?.strip_prefix(b": ").filter(|_| seq > 0)?;
    }
    bsd_timestamp(rest, ctx).map(|_| (host, rest))
}

/// Host names with a dot, or an IP address: taken as the host even when no tag follows.
fn looks_like_host(w: &[u8]) -> bool {
    as_str(w).is_some_and(|s| s.parse::<IpAddr>().is_ok() || (s.contains('.') && !s.ends_with('.')))
}

fn cisco_code(i: &[u8]) -> Option<(&str, &[u8])> {
    let r = i.strip_prefix(b"%")?;
    let n = r
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_'))
        .count();
    if n < 5 || r.get(n) != Some(&b':') || r[..n].iter().filter(|c| **c == b'-').count() < 2 {
        return None;
    }
    Some((as_str(&r[..n])?, strip_one_space(&r[n + 1..])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ctx() -> ParseContext {
        ParseContext {
            received: Utc.with_ymd_and_hms(2026, 11, 25, 3, 0, 0).unwrap(),
            zone: "+07:00".parse().unwrap(),
        }
    }

    fn ts(s: &str) -> Option<DateTime<Utc>> {
        Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
    }

    #[test]
    fn rfc5424_full() {
        let raw = br#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"] An application event log entry..."#;
        let h = parse_header(raw, &ctx());
        assert_eq!(h.pri, Some(165));
        assert_eq!(h.version, Some(1));
        assert_eq!(h.timestamp, ts("2003-10-11T22:14:15.003Z"));
        assert_eq!(h.hostname, Some("mymachine.example.com"));
        assert_eq!(h.app_name, Some("evntslog"));
        assert_eq!(h.proc_id, None);
        assert_eq!(h.msg_id, Some("ID47"));
        assert_eq!(h.structured_data.len(), 2);
        assert_eq!(
            h.structured_data[0].params[1],
            ("eventSource".into(), "Application".into())
        );
        assert_eq!(h.structured_data[1].id, "examplePriority@32473");
        assert_eq!(h.msg, b"An application event log entry...");
        assert!(h.warnings.is_empty());
    }

    #[test]
    fn rfc5424_nil_everything_and_bom() {
        let h = parse_header(b"<34>1 - - - - - -", &ctx());
        assert_eq!((h.hostname, h.app_name, h.timestamp), (None, None, None));
        assert_eq!(h.msg, b"");
        let h = parse_header(
            b"<34>1 2003-08-24T05:14:15.000003-07:00 host su 77 - - \xEF\xBB\xBF'su root' failed",
            &ctx(),
        );
        assert_eq!(h.timestamp, ts("2003-08-24T12:14:15.000003Z"));
        assert_eq!(h.proc_id, Some("77"));
        assert_eq!(h.msg, b"'su root' failed");
    }

    #[test]
    fn rfc5424_sd_escapes() {
        let h = parse_header(
            br#"<14>1 2026-01-01T00:00:00+07:00 h a - - [x@1 a="q\"uo\\te\]d" b=""] m"#,
            &ctx(),
        );
        assert_eq!(
            h.structured_data[0].params,
            vec![("a".into(), r#"q"uo\te]d"#.into()), ("b".into(), "".into())]
        );
        assert_eq!(h.msg, b"m");
        assert_eq!(h.timestamp, ts("2025-12-31T17:00:00Z"));
    }

    #[test]
    fn rfc5424_bad_sd_is_kept_in_message() {
        let h = parse_header(br#"<14>1 - h a - - [x@1 a="unterminated] m"#, &ctx());
        assert!(matches!(
            h.warnings[0],
            ParseWarning::BadStructuredData { .. }
        ));
        assert!(h.msg.starts_with(b"[x@1"));
    }

    #[test]
    fn rsyslog_leading_space_and_trailing_lf() {
        let h = parse_header(
            b"<38>1 2026-11-22T05:17:08.123+00:00 vm sshd 42 - -  Invalid user x\n",
            &ctx(),
        );
        assert_eq!(h.msg, b"Invalid user x");
        assert_eq!(h.proc_id, Some("42"));
    }

    #[test]
    fn bsd_classic() {
        let h = parse_header(b"<13>Nov 22 05:17:08 vm tag: msg here", &ctx());
        assert_eq!(h.pri, Some(13));
        assert_eq!(h.timestamp, ts("2026-11-22T05:17:08+07:00"));
        assert_eq!(h.hostname, Some("vm"));
        assert_eq!(h.app_name, Some("tag"));
        assert_eq!(h.msg, b"msg here");
        assert_eq!(h.layout(), Layout::Rfc3164);
    }

    #[test]
    fn bsd_pid_and_paren_tag_and_padded_day() {
        let h = parse_header(
            b"Jun  4 15:16:01 combo sshd(pam_unix)[19939]: authentication failure",
            &ctx(),
        );
        assert_eq!(h.warnings, vec![ParseWarning::NoPri]);
        assert_eq!(h.hostname, Some("combo"));
        assert_eq!(h.app_name, Some("sshd(pam_unix)"));
        assert_eq!(h.proc_id, Some("19939"));
        assert_eq!(h.msg, b"authentication failure");
    }

    #[test]
    fn bsd_missing_hostname() {
        let h = parse_header(b"<13>Nov 22 05:17:08 sshd[123]: Accepted password", &ctx());
        assert_eq!(h.hostname, None);
        assert_eq!(h.app_name, Some("sshd"));
        assert_eq!(h.proc_id, Some("123"));
    }

    #[test]
    fn bsd_year_rolls_to_previous() {
        let c = ParseContext {
            received: Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 10).unwrap(),
            zone: "+00:00".parse().unwrap(),
        };
        let h = parse_header(b"<13>Dec 31 23:59:59 host app: x", &c);
        assert_eq!(h.timestamp, ts("2026-12-31T23:59:59Z"));
    }

    #[test]
    fn cisco_variants() {
        let h = parse_header(
            b"<189>123: *Mar  1 18:46:11.123: %SYS-5-CONFIG_I: Configured from console by vty0",
            &ctx(),
        );
        assert_eq!(h.cisco_code, Some("SYS-5-CONFIG_I"));
        assert_eq!(h.msg, b"Configured from console by vty0");
        assert!(h.timestamp.is_some());
        let h = parse_header(
            b"<190>Mar  1 2026 18:46:11.123 UTC: %SEC-6-IPACCESSLOGP: list 101 denied tcp",
            &ctx(),
        );
        assert_eq!(h.timestamp, ts("2026-03-01T18:46:11.123Z"));
        assert_eq!(h.cisco_code, Some("SEC-6-IPACCESSLOGP"));
        let h = parse_header(
            b"<190>Mar  1 18:46:11 10.1.1.1 %LINK-3-UPDOWN: Interface Gi0/1, changed state to down",
            &ctx(),
        );
        assert_eq!(h.hostname, Some("10.1.1.1"));
        assert_eq!(h.cisco_code, Some("LINK-3-UPDOWN"));
    }

    #[test]
    fn regression_cisco_host_forms() {
        let h = parse_header(
            b"<166>Nov 25 10:00:00 asa01 : %ASA-6-113015: AAA user authentication Rejected",
            &ctx(),
        );
        assert_eq!(h.hostname, Some("asa01"));
        assert_eq!(h.cisco_code, Some("ASA-6-113015"));
        assert_eq!(h.msg, b"AAA user authentication Rejected");
        let h = parse_header(
            b"<189>45: sw01: *Nov 25 10:00:00.123: %SYS-5-CONFIG_I: Configured from console",
            &ctx(),
        );
        assert_eq!(h.hostname, Some("sw01"));
        assert_eq!(h.cisco_code, Some("SYS-5-CONFIG_I"));
        assert!(h.timestamp.is_some());
        let h = parse_header(
            b"<189>sw02 47: Nov 25 10:00:00: %PARSER-5-CFGLOG_LOGGEDCMD: User:admin logged command",
            &ctx(),
        );
        assert_eq!(h.hostname, Some("sw02"));
        assert_eq!(h.cisco_code, Some("PARSER-5-CFGLOG_LOGGEDCMD"));
    }

    #[test]
    fn rfc3339_in_bsd_layout() {
        let h = parse_header(
            b"<38>2026-11-22T05:17:08.123456+07:00 web01 sshd[9]: Failed password",
            &ctx(),
        );
        assert_eq!(h.timestamp, ts("2026-11-22T05:17:08.123456+07:00"));
        assert_eq!(h.hostname, Some("web01"));
        assert_eq!(h.app_name, Some("sshd"));
        assert_eq!(h.msg, b"Failed password");
    }

    #[test]
    fn no_timestamp_with_pri() {
        let h = parse_header(b"<13>kernel: oops", &ctx());
        assert_eq!(h.timestamp, None);
        assert_eq!(h.app_name, Some("kernel"));
        assert_eq!(h.msg, b"oops");
        assert!(h.warnings.is_empty());
    }

    #[test]
    fn garbage_is_unparsed_but_kept() {
        let h = parse_header(b"hello \xff world", &ctx());
        assert_eq!(h.layout(), Layout::Unparsed);
        assert_eq!(h.msg, b"hello \xff world");
        let h = parse_header(b"<999>x", &ctx());
        assert_eq!(h.pri, None);
        assert_eq!(h.msg, b"<999>x");
    }

    #[test]
    fn regression_host_before_empty_tag() {
        // the sender left the TAG empty: `HOST  MSG` (syslog-loose parse_3164_no_tag, and
        // loghub Linux line 899)
        let h = parse_header(
            b"<46>Jan  5 15:33:03 plertrood-ThinkPad-X220  [software=\"rsyslogd\"] start",
            &ctx(),
        );
        assert_eq!(h.hostname, Some("plertrood-ThinkPad-X220"));
        assert_eq!(h.app_name, None);
        assert_eq!(h.msg, br#"[software="rsyslogd"] start"#);
        let h = parse_header(b"Jul  7 08:06:15 combo  -- root[2421]: ROOT LOGIN", &ctx());
        assert_eq!(h.hostname, Some("combo"));
        assert_eq!(h.msg, b"-- root[2421]: ROOT LOGIN");
        // a word followed by spaces only is still message text
        let h = parse_header(b"<13>Nov 22 05:17:08 restart.  ", &ctx());
        assert_eq!(h.hostname, None);
    }

    #[test]
    fn regression_rsyslog_forward_format_tag_without_colon() {
        // RSYSLOG_ForwardFormat of an RFC 5424 message: the TAG is APP-NAME, with no colon
        let h = parse_header(
            b"<13>2026-11-22T05:17:26.761196+00:00 vm app sd with escaped quote\n",
            &ctx(),
        );
        assert_eq!(h.hostname, Some("vm"));
        assert_eq!(h.app_name, Some("app"));
        assert_eq!(h.msg, b"sd with escaped quote");
        // with a PROCID the TAG is `app[42]`, also without a colon
        let h = parse_header(b"<13>2026-11-22T05:17:26+00:00 vm app[42] hi", &ctx());
        assert_eq!(
            (h.hostname, h.app_name, h.proc_id),
            (Some("vm"), Some("app"), Some("42"))
        );
        assert_eq!(h.msg, b"hi");
        // a BSD stamp keeps the conservative reading
        let h = parse_header(b"<13>Nov 22 05:17:08 vm app sd with escaped quote", &ctx());
        assert_eq!(h.hostname, None);
    }

    #[test]
    fn single_word_after_stamp_is_message() {
        let h = parse_header(b"<13>Nov 22 05:17:08 restart.", &ctx());
        assert_eq!(h.hostname, None);
        assert_eq!(h.msg, b"restart.");
    }
}

#[cfg(test)]
mod roundtrip {
    //! RFC 5424 render → parse: whatever a conforming sender writes comes back field for field.
    use super::*;
    use chrono::{TimeZone, Timelike};
    use proptest::prelude::*;

    fn name() -> impl Strategy<Value = String> {
        // SD-NAME: printable US-ASCII except `=`, SP, `]`, `"`
        "[!#-<>-\\\\^-~]{1,32}"
    }

    fn field(max: usize) -> impl Strategy<Value = Option<String>> {
        proptest::option::of(proptest::string::string_regex(&format!("[!-~]{{1,{max}}}")).unwrap())
            .prop_map(|o| o.filter(|s| s != "-"))
    }

    fn escape(v: &str) -> String {
        let mut o = String::new();
        for c in v.chars() {
            if matches!(c, '"' | '\\' | ']') {
                o.push('\\');
            }
            o.push(c);
        }
        o
    }

    proptest! {
        #[test]
        fn render_then_parse(
            pri in 0u8..=191,
            secs in 0i64..4_102_444_800,
            micros in 0u32..1_000_000,
            host in field(255),
            app in field(48),
            procid in field(128),
            msgid in field(32),
            sd in proptest::collection::vec((name(), proptest::collection::vec((name(), "\\PC{0,20}"), 0..4)), 0..4),
            msg in "\\PC{0,80}",
        ) {
            let ts = Utc.timestamp_opt(secs, micros * 1000).unwrap();
            let mut line = format!("<{pri}>1 {} ", ts.format("%Y-%m-%dT%H:%M:%S%.6fZ"));
            for f in [&host, &app, &procid, &msgid] {
                line.push_str(f.as_deref().unwrap_or("-"));
                line.push(' ');
            }
            // SD-IDs are unique within a message (RFC 5424 §6.3.2)
            let mut seen = std::collections::HashSet::new();
            let sd: Vec<_> = sd.into_iter().filter(|(id, _)| seen.insert(id.clone())).collect();
            if sd.is_empty() {
                line.push('-');
            }
            for (id, params) in &sd {
                line.push('[');
                line.push_str(id);
                for (k, v) in params {
                    line.push_str(&format!(" {k}=\"{}\"", escape(v)));
                }
                line.push(']');
            }
            let msg = msg.trim_start().trim_end_matches(['\n', '\r', '\0']).to_owned();
            if !msg.is_empty() {
                line.push(' ');
                line.push_str(&msg);
            }
            let ctx = ParseContext { received: Utc::now(), zone: DefaultZone::Local };
            let h = parse_header(line.as_bytes(), &ctx);
            prop_assert!(h.warnings.is_empty(), "{:?} for {line:?}", h.warnings);
            prop_assert_eq!(h.pri, Some(pri));
            prop_assert_eq!(h.version, Some(1));
            let got = h.timestamp.unwrap();
            prop_assert_eq!(got.timestamp(), ts.timestamp());
            prop_assert_eq!(got.nanosecond() / 1000, micros);
            prop_assert_eq!(h.hostname, host.as_deref());
            prop_assert_eq!(h.app_name, app.as_deref());
            prop_assert_eq!(h.proc_id, procid.as_deref());
            prop_assert_eq!(h.msg_id, msgid.as_deref());
            let want: Vec<SdElement> = sd
                .iter()
                .map(|(id, ps)| SdElement { id: id.clone(), params: ps.clone() })
                .collect();
            prop_assert_eq!(&h.structured_data, &want);
            prop_assert_eq!(std::str::from_utf8(h.msg).unwrap(), msg.as_str());
        }
    }
}
