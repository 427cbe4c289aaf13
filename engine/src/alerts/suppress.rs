//! Suppressions in force, compiled for the alert stage: a match they cover raises no alert
//! (the event is still indexed and the suppression's hit count goes up).
//!
//! A suppression's scope is the AND of what it names: rule (id or title), host
//! (`host.hostname`, case-insensitive), CIDR (`source.ip` or `destination.ip` inside it),
//! user (`user.name`) and field=value (the field's text equals the value).

use std::net::IpAddr;

use canh_core::{Event, field};
use ipnet::IpNet;

use super::store::Suppression;

/// Reads `10.0.0.0/8` or a single address.
pub fn parse_cidr(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<IpNet>() {
        return Ok(n.trunc());
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    Err(format!(
        "{s:?}: expected an address block such as 10.0.0.0/8 or 2001:db8::/32, or one address"
    ))
}

#[derive(Debug, Clone)]
struct Compiled {
    id: i64,
    rule: Option<String>,
    host: Option<String>,
    cidr: Option<IpNet>,
    user: Option<String>,
    field: Option<(String, String)>,
    expires_ms: Option<i64>,
}

/// The suppressions in force.
#[derive(Debug, Clone, Default)]
pub struct Active {
    items: Vec<Compiled>,
}

fn ip_of(ev: &Event, name: &str) -> Option<IpAddr> {
    match ev.get(name)? {
        canh_core::Value::Ip(ip) => Some(*ip),
        canh_core::Value::Str(s) => s.parse().ok(),
        _ => None,
    }
}

impl Active {
    pub fn new(list: &[Suppression]) -> Active {
        let items = list
            .iter()
            .filter(|s| s.removed.is_none())
            .map(|s| Compiled {
                id: s.id,
                rule: s.rule.clone(),
                host: s.host.as_ref().map(|h| h.to_lowercase()),
                cidr: s.cidr.as_deref().and_then(|c| parse_cidr(c).ok()),
                user: s.user.clone(),
                field: s.field.clone().zip(s.value.clone()),
                expires_ms: s.expires.as_deref().and_then(|e| {
                    chrono::DateTime::parse_from_rfc3339(e)
                        .ok()
                        .map(|t| t.timestamp_millis())
                }),
            })
            .collect();
        Active { items }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The first suppression covering a match of rule `key`/`title` on `ev` at `now_ms`.
    pub fn covers(&self, key: &str, title: &str, ev: &Event, now_ms: i64) -> Option<i64> {
        self.items.iter().find_map(|s| {
            if s.expires_ms.is_some_and(|e| e <= now_ms) {
                return None;
            }
            if let Some(r) = &s.rule
                && r != key
                && r != title
            {
                return None;
            }
            if let Some(h) = &s.host
                && ev
                    .get(field::HOST_HOSTNAME)
                    .is_none_or(|v| v.to_string().to_lowercase() != *h)
            {
                return None;
            }
            if let Some(net) = &s.cidr {
                let inside = [field::SOURCE_IP, field::DESTINATION_IP]
                    .iter()
                    .any(|f| ip_of(ev, f).is_some_and(|ip| net.contains(&ip)));
                if !inside {
                    return None;
                }
            }
            if let Some(u) = &s.user
                && ev.get(field::USER_NAME).is_none_or(|v| v.to_string() != *u)
            {
                return None;
            }
            if let Some((f, v)) = &s.field
                && ev.get(f).is_none_or(|x| x.to_string() != *v)
            {
                return None;
            }
            Some(s.id)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use canh_core::{Dataset, Origin, Value};

    fn sup(id: i64, f: impl FnOnce(&mut Suppression)) -> Suppression {
        let mut s = Suppression {
            id,
            rule: None,
            host: None,
            cidr: None,
            user: None,
            field: None,
            value: None,
            justification: "why".into(),
            created: String::new(),
            created_by: "lan".into(),
            expires: None,
            removed: None,
            hits: 0,
            last_hit: None,
        };
        f(&mut s);
        s
    }

    fn ev() -> Event {
        let mut e = Event::new(
            Dataset::Syslog,
            Origin::new("t", None),
            chrono::Utc::now(),
            Vec::new(),
        );
        e.fields
            .insert(field::HOST_HOSTNAME.into(), Value::Str("Web01".into()));
        e.fields.insert(
            field::SOURCE_IP.into(),
            Value::Ip("10.1.2.3".parse().unwrap()),
        );
        e.fields
            .insert(field::USER_NAME.into(), Value::Str("root".into()));
        e.fields.insert("action".into(), Value::Str("deny".into()));
        e
    }

    #[test]
    fn scope_is_the_and_of_what_is_named() {
        let e = ev();
        let cases: Vec<(Suppression, bool)> = vec![
            (sup(1, |s| s.rule = Some("r1".into())), true),
            (sup(2, |s| s.rule = Some("r2".into())), false),
            (sup(3, |s| s.rule = Some("Rule one".into())), true),
            (sup(4, |s| s.host = Some("web01".into())), true),
            (sup(5, |s| s.cidr = Some("10.0.0.0/8".into())), true),
            (sup(6, |s| s.cidr = Some("192.168.0.0/16".into())), false),
            (
                sup(7, |s| {
                    s.rule = Some("r1".into());
                    s.user = Some("admin".into())
                }),
                false,
            ),
            (
                sup(8, |s| {
                    s.field = Some("action".into());
                    s.value = Some("deny".into())
                }),
                true,
            ),
            (
                sup(9, |s| {
                    s.rule = Some("r1".into());
                    s.expires = Some("2000-01-01T00:00:00Z".into())
                }),
                false,
            ),
            (sup(10, |s| s.removed = Some("x".into())), false),
        ];
        for (s, want) in cases {
            let id = s.id;
            let a = Active::new(&[s]);
            let got = a.covers("r1", "Rule one", &e, chrono::Utc::now().timestamp_millis());
            assert_eq!(got.is_some(), want, "suppression {id}");
        }
        assert_eq!(parse_cidr("10.1.2.3").unwrap().to_string(), "10.1.2.3/32");
        assert!(parse_cidr("nope").is_err());
    }
}
