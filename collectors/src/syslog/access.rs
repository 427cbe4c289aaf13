//! Web server access logs (NCSA common and combined formats) sent through syslog by nginx,
//! apache and httpd:
//!
//! `203.0.113.5 - alice [24/Nov/2026:21:00:00 +0700] "GET /a?b=1 HTTP/1.1" 200 512 "ref" "agent"`
//!
//! Fields: `source.ip`, `user.name`, `http.request.method`, `url.original` (the request target
//! as sent, still percent-encoded), `url.path` and `url.query` (when the target is a path,
//! not a proxy's absolute URL or `*`), `http.version`,
//! `http.response.status_code`, `http.response.body.bytes`, `http.request.referrer`,
//! `user_agent.original`, and `event.category: web`.

use canh_core::{Event, field};

/// Longest request line kept whole (URLs past this are attacks or junk; the raw line keeps
/// them anyway).
pub const MAX_REQUEST_LINE: usize = 16 * 1024;

/// Decodes an access-log body; false when the body is not one.
pub fn decode(ev: &mut Event, body: &str) -> bool {
    let Some(a) = parse(body) else { return false };
    if let Ok(ip) = a.client.parse::<std::net::IpAddr>() {
        ev.set_default(field::SOURCE_IP, ip);
    } else {
        ev.set_default(field::SOURCE_DOMAIN, a.client);
    }
    if a.user != "-" && !a.user.is_empty() {
        ev.set_default(field::USER_NAME, a.user);
    }
    if let Some((method, target, version)) = a.request {
        ev.set_default(field::HTTP_REQUEST_METHOD, method);
        ev.set_url_default(target);
        if let Some(v) = version.strip_prefix("HTTP/") {
            ev.set_default(field::HTTP_VERSION, v);
        }
    } else {
        ev.set_default(field::URL_ORIGINAL, a.raw_request);
    }
    if let Ok(s) = a.status.parse::<i64>() {
        ev.set_default(field::HTTP_RESPONSE_STATUS_CODE, s);
    }
    if let Ok(b) = a.bytes.parse::<i64>() {
        ev.set_default(field::HTTP_RESPONSE_BODY_BYTES, b);
    }
    if let Some(r) = a.referrer.filter(|r| *r != "-" && !r.is_empty()) {
        ev.set_default(field::HTTP_REQUEST_REFERRER, r);
    }
    if let Some(ua) = a.agent.filter(|u| *u != "-" && !u.is_empty()) {
        ev.set_default(field::USER_AGENT_ORIGINAL, ua);
    }
    ev.set_default(field::EVENT_CATEGORY, "web");
    true
}

struct Access<'a> {
    client: &'a str,
    user: &'a str,
    raw_request: &'a str,
    request: Option<(&'a str, &'a str, &'a str)>,
    status: &'a str,
    bytes: &'a str,
    referrer: Option<&'a str>,
    agent: Option<&'a str>,
}

fn parse(body: &str) -> Option<Access<'_>> {
    let (client, rest) = body.trim_start().split_once(' ')?;
    let (_ident, rest) = rest.split_once(' ')?;
    let (user, rest) = rest.split_once(' ')?;
    let rest = rest.strip_prefix('[')?;
    let (stamp, rest) = rest.split_once("] ")?;
    // dd/Mon/yyyy:hh:mm:ss +zzzz
    if stamp.len() < 20 || stamp.as_bytes().get(2) != Some(&b'/') {
        return None;
    }
    let (raw_request, rest) = quoted(rest)?;
    if raw_request.len() > MAX_REQUEST_LINE {
        return None;
    }
    let mut parts = rest.trim_start().splitn(3, ' ');
    let status = parts.next()?;
    if status.len() != 3 || !status.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bytes = parts.next().unwrap_or("-");
    let tail = parts.next().unwrap_or("");
    let (referrer, agent) = match quoted(tail) {
        Some((r, rest)) => (Some(r), quoted(rest.trim_start()).map(|(a, _)| a)),
        None => (None, None),
    };
    let mut words = raw_request.splitn(3, ' ');
    let request = match (words.next(), words.next(), words.next()) {
        (Some(m), Some(t), Some(v))
            if !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase()) =>
        {
            Some((m, t, v))
        }
        _ => None,
    };
    Some(Access {
        client,
        user,
        raw_request,
        request,
        status,
        bytes,
        referrer,
        agent,
    })
}

/// `"text"` at the start of `s` (with `\"` escapes as nginx writes them); returns the text
/// and what follows the closing quote.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let inner = s.strip_prefix('"')?;
    let b = inner.as_bytes();
    let mut k = 0;
    while k < b.len() {
        match b[k] {
            b'\\' => k += 2,
            b'"' => return Some((&inner[..k], &inner[k + 1..])),
            _ => k += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use canh_core::{Dataset, Origin, Value};

    fn ev(body: &str) -> Option<Event> {
        let mut e = Event::new(
            Dataset::Syslog,
            Origin::new("t", None),
            chrono::Utc::now(),
            vec![],
        );
        decode(&mut e, body).then_some(e)
    }

    #[test]
    fn combined_format() {
        let e = ev(r#"203.0.113.5 - - [24/Nov/2026:21:00:00 +0700] "GET /index.php?id=1%27%20UNION%20SELECT HTTP/1.1" 200 512 "-" "sqlmap/1.7""#).unwrap();
        assert_eq!(
            e.get(field::SOURCE_IP),
            Some(&Value::Ip("203.0.113.5".parse().unwrap()))
        );
        assert_eq!(e.get_str(field::HTTP_REQUEST_METHOD), Some("GET"));
        assert_eq!(
            e.get_str(field::URL_ORIGINAL),
            Some("/index.php?id=1%27%20UNION%20SELECT")
        );
        assert_eq!(e.get_str(field::URL_PATH), Some("/index.php"));
        assert_eq!(
            e.get_str(field::URL_QUERY),
            Some("id=1%27%20UNION%20SELECT")
        );
        assert_eq!(
            e.get(field::HTTP_RESPONSE_STATUS_CODE),
            Some(&Value::Int(200))
        );
        assert_eq!(
            e.get(field::HTTP_RESPONSE_BODY_BYTES),
            Some(&Value::Int(512))
        );
        assert_eq!(e.get_str(field::USER_AGENT_ORIGINAL), Some("sqlmap/1.7"));
        assert_eq!(e.get_str(field::HTTP_REQUEST_REFERRER), None);
        assert_eq!(e.get_str(field::HTTP_VERSION), Some("1.1"));
    }

    #[test]
    fn common_format_with_user_and_garbage_request() {
        let e =
            ev(r#"10.0.0.7 - alice [01/Dec/2026:00:00:01 +0000] "\x16\x03\x01" 400 0"#).unwrap();
        assert_eq!(e.get_str(field::USER_NAME), Some("alice"));
        assert_eq!(e.get_str(field::HTTP_REQUEST_METHOD), None);
        assert_eq!(e.get_str(field::URL_ORIGINAL), Some(r"\x16\x03\x01"));
        assert_eq!(
            e.get(field::HTTP_RESPONSE_STATUS_CODE),
            Some(&Value::Int(400))
        );
    }

    #[test]
    fn not_access_logs() {
        for body in [
            "",
            "Accepted password for root",
            "a b c [x] \"GET\" 200",
            "1.2.3.4 - - [24/Nov/2026:21:00:00 +0700] \"GET / HTTP/1.1\" abc 1",
            "1.2.3.4 - - [24/Nov/2026:21:00:00 +0700] \"unterminated",
        ] {
            assert!(ev(body).is_none(), "{body:?}");
        }
    }
}
