//! Routing: which events a rule's `logsource` applies to (see `rules/LOGSOURCES.md`).
//!
//! A rule applies to an event when every key its `logsource` sets (`product`, `service`,
//! `category`) fits the event's, compared case-insensitively. An event's logsource is derived
//! from its dataset, `process.name` and the decoder that read its body ([`derive()`]); a product
//! canh does not derive (windows, zeek …) therefore never fits a syslog event. Events that carry
//! no logsource (test-format maps) fit every rule.

use canh_core::{Dataset, Event, field};
use std::borrow::Cow;

/// A rule's `logsource` section, as written (`definition` and other keys are kept for people).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSource {
    pub product: Option<String>,
    pub service: Option<String>,
    pub category: Option<String>,
    pub definition: Option<String>,
}

impl LogSource {
    /// Whether a rule with this logsource applies to an event with `source`; `None` (an event
    /// that does not say, such as a test-format map) fits every rule.
    pub fn fits(&self, source: Option<&EventSource>) -> bool {
        let Some(ev) = source else { return true };
        let same = |want: &Option<String>, have: Option<&str>| match want {
            None => true,
            Some(w) => have.is_some_and(|h| h.eq_ignore_ascii_case(w)),
        };
        same(&self.product, ev.product.as_deref())
            && same(&self.category, ev.category.as_deref())
            && match &self.service {
                None => true,
                Some(w) => ev.services.iter().any(|s| s.eq_ignore_ascii_case(w)),
            }
    }

    /// Whether every key this logsource sets is also set, to the same value, by `rule`
    /// (used to pick the field-mapping sections that apply to a rule).
    pub fn covers(&self, rule: &LogSource) -> bool {
        let same = |want: &Option<String>, have: &Option<String>| match want {
            None => true,
            Some(w) => have.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(w)),
        };
        same(&self.product, &rule.product)
            && same(&self.service, &rule.service)
            && same(&self.category, &rule.category)
    }
}

/// An event's logsource, lowercase. An event has one product and category at most, but may
/// fit several services (`sshd` also fits `auth`). Derived once per event, so the names canh
/// knows are borrowed, not allocated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventSource {
    pub product: Option<Cow<'static, str>>,
    pub services: Vec<Cow<'static, str>>,
    pub category: Option<Cow<'static, str>>,
}

/// Programs whose lines are authentication logs (`service: auth`) besides sshd and sudo.
const AUTH_PROGRAMS: &[&str] = &["su", "login", "sshd", "sudo"];

/// Derives an event's logsource per `rules/LOGSOURCES.md`.
pub fn derive(ev: &Event) -> EventSource {
    let mut out = EventSource::default();
    if ev.dataset == Dataset::Netflow {
        out.category = Some("flow".into());
        return out;
    }
    let process = ev.get_str(field::PROCESS_NAME).unwrap_or("");
    let process_lc = process.to_lowercase();
    let vendor = ev.get_str(field::OBSERVER_VENDOR).unwrap_or("");
    let product = ev.get_str(field::OBSERVER_PRODUCT).unwrap_or("");

    if product.eq_ignore_ascii_case("fortigate") {
        out.product = Some("fortigate".into());
        out.category = Some("firewall".into());
        // FortiOS log type (`type=event`, `traffic`, `utm`): what SigmaHQ's fortigate rules
        // name as their service.
        if let Some(kind) = ev.get("type").map(ToString::to_string) {
            out.services.push(kind.to_lowercase().into());
        }
        return out;
    }
    if vendor.eq_ignore_ascii_case("cisco") {
        out.product = Some("cisco".into());
        let asa = ev
            .get_str("cisco.facility")
            .is_some_and(|f| f.eq_ignore_ascii_case("ASA") || f.eq_ignore_ascii_case("FTD"));
        out.category = Some(if asa { "firewall" } else { "network" }.into());
        return out;
    }
    if ev.get(field::HTTP_REQUEST_METHOD).is_some() {
        let web: Cow<'static, str> = if process_lc.starts_with("nginx") {
            "nginx".into()
        } else if process_lc.starts_with("apache") || process_lc == "httpd" {
            "apache".into()
        } else {
            process_lc.into()
        };
        if !web.is_empty() {
            out.product = Some(web);
        }
        out.services.push("access".into());
        out.category = Some("webserver".into());
        return out;
    }
    if !vendor.is_empty() || !product.is_empty() {
        // CEF and other devices that name themselves: no product canh routes on yet.
        return out;
    }
    out.product = Some("linux".into());
    if process_lc.starts_with("sshd") {
        out.services.extend(["sshd".into(), "auth".into()]);
    } else if matches!(process_lc.as_str(), "cron" | "crond") {
        out.services.push("cron".into());
    } else if ev.get("auditd.type").is_some() {
        out.services.push("auditd".into());
    } else if AUTH_PROGRAMS.contains(&process_lc.as_str()) || ev.get(field::PAM_MODULE).is_some() {
        if !process_lc.is_empty() {
            out.services.push(process_lc.into());
        }
        out.services.push("auth".into());
    } else {
        if !process_lc.is_empty() {
            out.services.push(process_lc.into());
        }
        out.services.push("syslog".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use canh_core::Origin;
    use chrono::Utc;

    fn event(fields: &[(&str, &str)]) -> Event {
        let mut ev = Event::new(Dataset::Syslog, Origin::new("t", None), Utc::now(), vec![]);
        for (k, v) in fields {
            ev.set(k, *v);
        }
        ev
    }

    fn ls(product: Option<&str>, service: Option<&str>, category: Option<&str>) -> LogSource {
        LogSource {
            product: product.map(Into::into),
            service: service.map(Into::into),
            category: category.map(Into::into),
            definition: None,
        }
    }

    #[test]
    fn table() {
        let sshd = event(&[("process.name", "sshd")]);
        let sudo = event(&[("process.name", "sudo")]);
        let pam = event(&[("process.name", "su"), ("pam.module", "pam_unix")]);
        let cron = event(&[("process.name", "CRON")]);
        let audit = event(&[("auditd.type", "EXECVE")]);
        let other = event(&[("process.name", "Kernel")]);
        let nginx = event(&[("process.name", "nginx"), ("http.request.method", "GET")]);
        let forti = event(&[("observer.product", "FortiGate"), ("type", "event")]);
        let asa = event(&[("observer.vendor", "Cisco"), ("cisco.facility", "ASA")]);
        let ios = event(&[("observer.vendor", "Cisco"), ("cisco.facility", "SYS")]);
        let flow = Event::new(Dataset::Netflow, Origin::new("t", None), Utc::now(), vec![]);
        let cases: &[(&Event, LogSource, bool)] = &[
            (&sshd, ls(Some("linux"), Some("sshd"), None), true),
            (&sshd, ls(Some("Linux"), Some("auth"), None), true),
            (&sshd, ls(Some("linux"), None, None), true),
            (&sshd, ls(Some("linux"), Some("sudo"), None), false),
            (&sshd, ls(Some("windows"), None, None), false),
            (&sudo, ls(None, Some("auth"), None), true),
            (&pam, ls(Some("linux"), Some("auth"), None), true),
            (&pam, ls(Some("linux"), Some("su"), None), true),
            (&cron, ls(Some("linux"), Some("cron"), None), true),
            (&audit, ls(Some("linux"), Some("auditd"), None), true),
            (&audit, ls(Some("linux"), Some("syslog"), None), false),
            (&other, ls(Some("linux"), Some("kernel"), None), true),
            (&other, ls(Some("linux"), Some("syslog"), None), true),
            (
                &other,
                ls(Some("linux"), None, Some("process_creation")),
                false,
            ),
            (&nginx, ls(None, None, Some("webserver")), true),
            (&nginx, ls(Some("nginx"), Some("access"), None), true),
            (&nginx, ls(Some("apache"), None, None), false),
            (&nginx, ls(None, None, Some("proxy")), false),
            (&forti, ls(Some("fortigate"), Some("event"), None), true),
            (&forti, ls(None, None, Some("firewall")), true),
            (&asa, ls(Some("cisco"), None, Some("firewall")), true),
            (&ios, ls(Some("cisco"), None, Some("network")), true),
            (&ios, ls(Some("cisco"), Some("aaa"), None), false),
            (&flow, ls(None, None, Some("flow")), true),
            (&flow, ls(Some("linux"), None, None), false),
            (&flow, ls(None, None, None), true),
        ];
        for (ev, rule, want) in cases {
            let src = derive(ev);
            assert_eq!(rule.fits(Some(&src)), *want, "{rule:?} on {src:?}");
        }
    }

    #[test]
    fn no_source_fits_everything() {
        assert!(ls(Some("windows"), Some("security"), None).fits(None));
    }
}
