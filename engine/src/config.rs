//! Configuration: the embedded default (`default.toml`), an optional file, then flags.
//! Unknown keys are errors; validation reports every problem at once with its key path.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use canh_collectors::listen::{ListenUrl, Transport};
use canh_core::time::DefaultZone;
use serde::Deserialize;

/// The embedded default configuration.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// Shortest and longest accepted index commit interval.
const COMMIT_INTERVAL_MS: std::ops::RangeInclusive<u64> = 100..=60_000;
/// Accepted retention, in days (ten years at most).
const RETENTION_DAYS: std::ops::RangeInclusive<u32> = 1..=3650;
/// Accepted connection limit per listener (beyond this the process runs out of descriptors
/// long before; raise `ulimit -n` to use large values).
const MAX_CONNECTIONS: std::ops::RangeInclusive<usize> = 1..=1_000_000;
/// Accepted message size limit: 1 KiB (RFC 5424 receivers must take 480 octets, should 2048)
/// to 16 MiB.
const MAX_MESSAGE_BYTES: std::ops::RangeInclusive<usize> = 1024..=16 * 1024 * 1024;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    /// The organization the SOC serves: named on the monthly report's cover.
    pub organization: Option<String>,
    pub timezone: Option<String>,
    pub retention_days: Option<u32>,
    pub api: Option<String>,
    pub syslog: Option<Vec<String>>,
    pub netflow: Option<Vec<String>>,
    /// Exporters allowed to send NetFlow/IPFIX (addresses or CIDR blocks); empty: all.
    pub netflow_exporters: Option<Vec<String>>,
    pub rules: Option<Vec<PathBuf>>,
    /// IOC address lists (files of IPs and CIDR blocks).
    pub ioc_lists: Option<Vec<PathBuf>>,
    pub commit_interval_ms: Option<u64>,
    pub max_message_bytes: Option<usize>,
    pub max_connections: Option<usize>,
    pub index_threads: Option<usize>,
    pub tls: Option<TlsFiles>,
    pub alerts: Option<AlertsFile>,
    /// `[[forward]]`: where new alerts go (the province's IOC): webhooks and CEF over syslog.
    pub forward: Option<Vec<crate::alerts::forward::Destination>>,
}

/// `[alerts]`: deduplication, correlation lateness and silent sources.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsFile {
    /// Matches of one detection rule with the same `dedup_fields` values within this window
    /// (from the alert's first event) add to one alert: "10m".
    pub dedup_window: Option<String>,
    pub dedup_fields: Option<Vec<String>>,
    /// How late (by event time) a match may arrive and still count in a correlation: "5m".
    pub lateness: Option<String>,
    /// Shortest silence of a learned source that raises an alert ("15m"; "off" disables).
    pub silent_after: Option<String>,
    /// Silence, in multiples of the source's usual gap between events, that raises an alert.
    pub silent_factor: Option<f64>,
    /// Events a source must have sent before its rate counts as learned.
    pub silent_learn_events: Option<u64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub client_ca: Option<PathBuf>,
}

impl FileConfig {
    /// Later values win.
    pub fn merge(mut self, o: FileConfig) -> FileConfig {
        macro_rules! take {
            ($($f:ident),*) => { $( if o.$f.is_some() { self.$f = o.$f; } )* };
        }
        take!(
            data_dir,
            organization,
            timezone,
            retention_days,
            api,
            syslog,
            netflow,
            netflow_exporters,
            rules,
            ioc_lists,
            commit_interval_ms,
            max_message_bytes,
            max_connections,
            index_threads,
            forward
        );
        if let Some(t) = o.tls {
            let mut mine = self.tls.unwrap_or_default();
            if t.cert.is_some() {
                mine.cert = t.cert;
            }
            if t.key.is_some() {
                mine.key = t.key;
            }
            if t.client_ca.is_some() {
                mine.client_ca = t.client_ca;
            }
            self.tls = Some(mine);
        }
        if let Some(a) = o.alerts {
            let mut mine = self.alerts.unwrap_or_default();
            macro_rules! take_alerts {
                ($($f:ident),*) => { $( if a.$f.is_some() { mine.$f = a.$f; } )* };
            }
            take_alerts!(
                dedup_window,
                dedup_fields,
                lateness,
                silent_after,
                silent_factor,
                silent_learn_events
            );
            self.alerts = Some(mine);
        }
        self
    }
}

/// The validated configuration the engine runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub organization: String,
    pub zone: DefaultZone,
    pub retention_days: u32,
    pub api: SocketAddr,
    pub syslog: Vec<ListenUrl>,
    pub netflow: Vec<ListenUrl>,
    pub netflow_exporters: Vec<ipnet::IpNet>,
    pub rules: Vec<PathBuf>,
    pub ioc_lists: Vec<PathBuf>,
    pub commit_interval: Duration,
    pub max_message_bytes: usize,
    pub max_connections: usize,
    pub index_threads: usize,
    pub tls: Option<TlsPaths>,
    pub alerts: AlertsConfig,
    pub forward: Vec<crate::alerts::forward::Destination>,
}

/// The validated `[alerts]` section.
#[derive(Debug, Clone)]
pub struct AlertsConfig {
    pub dedup_window: Duration,
    pub dedup_fields: Vec<String>,
    pub lateness: Duration,
    pub silent: Option<crate::alerts::silent::SilentConfig>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Config::validate_alerts(None, &mut Vec::new())
    }
}

#[derive(Debug, Clone)]
pub struct TlsPaths {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

/// Every problem found, each naming its source and key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  {}", .0.join("\n  "))]
pub struct ConfigError(pub Vec<String>);

/// Parses a TOML config text; `origin` names it in errors (a path or "embedded default").
pub fn parse_toml(text: &str, origin: &str) -> Result<FileConfig, ConfigError> {
    let line_of = |span: Option<std::ops::Range<usize>>| {
        span.map(|s| {
            format!(
                ":{}",
                text[..s.start.min(text.len())].matches('\n').count() + 1
            )
        })
        .unwrap_or_default()
    };
    // Unknown keys first, all of them, each with its line; then the typed read.
    let doc: toml::Spanned<toml::Table> = toml::from_str(text).map_err(|e| {
        ConfigError(vec![format!(
            "{origin}{}: {}",
            line_of(e.span()),
            e.message()
        )])
    })?;
    let mut errs = Vec::new();
    let find_line = |key: &str| {
        text.lines()
            .position(|l| {
                l.trim_start().starts_with(key)
                    && l.trim_start()[key.len()..].trim_start().starts_with('=')
            })
            .map_or(String::new(), |n| format!(":{}", n + 1))
    };
    for (key, value) in doc.get_ref() {
        if !TOP_KEYS.contains(&key.as_str()) {
            errs.push(format!(
                "{origin}{}: unknown key `{key}` (expected one of {})",
                find_line(key),
                TOP_KEYS.join(", ")
            ));
        } else if let Some(t) = value.as_table() {
            let known = match key.as_str() {
                "tls" => TLS_KEYS,
                "alerts" => ALERTS_KEYS,
                _ => continue,
            };
            for k in t.keys().filter(|k| !known.contains(&k.as_str())) {
                errs.push(format!(
                    "{origin}{}: unknown key `{key}.{k}` (expected one of {})",
                    find_line(k),
                    known.join(", ")
                ));
            }
        }
    }
    if !errs.is_empty() {
        return Err(ConfigError(errs));
    }
    toml::from_str(text).map_err(|e| {
        ConfigError(vec![format!(
            "{origin}{}: {}",
            line_of(e.span()),
            e.message()
        )])
    })
}

/// Keys a configuration file may hold (FileConfig's fields).
const TOP_KEYS: &[&str] = &[
    "data_dir",
    "organization",
    "timezone",
    "retention_days",
    "api",
    "syslog",
    "netflow",
    "netflow_exporters",
    "rules",
    "ioc_lists",
    "commit_interval_ms",
    "max_message_bytes",
    "max_connections",
    "index_threads",
    "tls",
    "alerts",
    "forward",
];
const TLS_KEYS: &[&str] = &["cert", "key", "client_ca"];
const ALERTS_KEYS: &[&str] = &[
    "dedup_window",
    "dedup_fields",
    "lateness",
    "silent_after",
    "silent_factor",
    "silent_learn_events",
];
/// Longest organization name (it sits on the report's cover).
const MAX_ORGANIZATION_BYTES: usize = 300;
/// Accepted deduplication window and lateness: up to a week.
const MAX_WINDOW: Duration = Duration::from_secs(7 * 86_400);

pub fn load_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(vec![format!("{}: cannot read: {e}", path.display())]))?;
    parse_toml(&text, &path.display().to_string())
}

impl Config {
    /// Validates a merged configuration.
    pub fn validate(f: FileConfig) -> Result<Config, ConfigError> {
        let mut errs = Vec::new();
        let zone = match f
            .timezone
            .as_deref()
            .unwrap_or("local")
            .parse::<DefaultZone>()
        {
            Ok(z) => z,
            Err(e) => {
                errs.push(format!("timezone: {e}"));
                DefaultZone::Local
            }
        };
        let retention_days = f.retention_days.unwrap_or(90);
        if !RETENTION_DAYS.contains(&retention_days) {
            errs.push(format!(
                "retention_days: {retention_days} is outside {RETENTION_DAYS:?}"
            ));
        }
        let api_text = f.api.unwrap_or_else(|| "127.0.0.1:8470".into());
        let api = api_text.parse::<SocketAddr>().unwrap_or_else(|e| {
            errs.push(format!(
                "api: {api_text:?}: {e} (expected HOST:PORT with an IP address)"
            ));
            SocketAddr::from(([127, 0, 0, 1], 8470))
        });
        let urls =
            |key: &str, list: Option<Vec<String>>, errs: &mut Vec<String>| -> Vec<ListenUrl> {
                let mut out = Vec::new();
                for (k, u) in list.unwrap_or_default().into_iter().enumerate() {
                    match u.parse::<ListenUrl>() {
                        Ok(l) => out.push(l),
                        Err(e) => errs.push(format!("{key}[{k}]: {e}")),
                    }
                }
                out
            };
        let syslog = urls("syslog", f.syslog, &mut errs);
        let netflow = urls("netflow", f.netflow, &mut errs);
        for (k, u) in netflow.iter().enumerate() {
            if u.transport != Transport::Udp {
                errs.push(format!(
                    "netflow[{k}]: {u}: NetFlow and IPFIX are received over udp:// only"
                ));
            }
        }
        let mut netflow_exporters = Vec::new();
        for (k, t) in f.netflow_exporters.unwrap_or_default().iter().enumerate() {
            let net = t
                .parse::<ipnet::IpNet>()
                .or_else(|_| t.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
            match net {
                Ok(n) => netflow_exporters.push(n),
                Err(_) => errs.push(format!(
                    "netflow_exporters[{k}]: {t:?} is not an address or CIDR block"
                )),
            }
        }
        let commit_ms = f.commit_interval_ms.unwrap_or(1000);
        if !COMMIT_INTERVAL_MS.contains(&commit_ms) {
            errs.push(format!(
                "commit_interval_ms: {commit_ms} is outside {COMMIT_INTERVAL_MS:?}"
            ));
        }
        let max_message_bytes = f
            .max_message_bytes
            .unwrap_or(canh_collectors::syslog::framing::DEFAULT_MAX_MESSAGE);
        if !MAX_MESSAGE_BYTES.contains(&max_message_bytes) {
            errs.push(format!(
                "max_message_bytes: {max_message_bytes} is outside {MAX_MESSAGE_BYTES:?}"
            ));
        }
        let max_connections = f
            .max_connections
            .unwrap_or(canh_collectors::listen::DEFAULT_MAX_CONNECTIONS);
        if !MAX_CONNECTIONS.contains(&max_connections) {
            errs.push(format!(
                "max_connections: {max_connections} is outside {MAX_CONNECTIONS:?}"
            ));
        }
        let index_threads = f.index_threads.unwrap_or(1);
        if !(1..=8).contains(&index_threads) {
            errs.push(format!("index_threads: {index_threads} is outside 1..=8"));
        }
        let rules = f.rules.unwrap_or_default();
        for (k, r) in rules.iter().enumerate() {
            if !r.exists() {
                errs.push(format!(
                    "rules[{k}]: {}: no such file or folder",
                    r.display()
                ));
            }
        }
        let ioc_lists = f.ioc_lists.unwrap_or_default();
        for (k, p) in ioc_lists.iter().enumerate() {
            if !p.is_file() {
                errs.push(format!("ioc_lists[{k}]: {}: no such file", p.display()));
            }
        }
        let needs_tls = syslog.iter().any(|u| u.transport == Transport::Tls);
        let tls = match f.tls {
            Some(TlsFiles {
                cert: Some(cert),
                key: Some(key),
                client_ca,
            }) => {
                for (name, p) in [
                    ("tls.cert", Some(&cert)),
                    ("tls.key", Some(&key)),
                    ("tls.client_ca", client_ca.as_ref()),
                ] {
                    if let Some(p) = p
                        && let Err(e) = std::fs::metadata(p)
                    {
                        errs.push(format!("{name}: {}: {e}", p.display()));
                    }
                }
                Some(TlsPaths {
                    cert,
                    key,
                    client_ca,
                })
            }
            Some(TlsFiles { cert, key, .. }) if cert.is_some() || key.is_some() => {
                errs.push(
                    "tls: both tls.cert and tls.key are needed (--tls-cert, --tls-key)".into(),
                );
                None
            }
            _ => None,
        };
        if needs_tls && tls.is_none() {
            errs.push(
                "syslog: a tls:// listener needs tls.cert and tls.key (--tls-cert, --tls-key)"
                    .into(),
            );
        }
        let alerts = Config::validate_alerts(f.alerts, &mut errs);
        let forward = f.forward.unwrap_or_default();
        errs.extend(crate::alerts::forward::validate(&forward));
        let data_dir = f.data_dir.unwrap_or_else(|| PathBuf::from("./canh-data"));
        if !errs.is_empty() {
            return Err(ConfigError(errs));
        }
        let organization = f.organization.unwrap_or_default().trim().to_owned();
        if organization.len() > MAX_ORGANIZATION_BYTES {
            errs.push(format!(
                "organization: {} bytes; at most {MAX_ORGANIZATION_BYTES}",
                organization.len()
            ));
        }
        if !errs.is_empty() {
            return Err(ConfigError(errs));
        }
        Ok(Config {
            data_dir,
            organization,
            zone,
            retention_days,
            api,
            syslog,
            netflow,
            netflow_exporters,
            rules,
            ioc_lists,
            commit_interval: Duration::from_millis(commit_ms),
            max_message_bytes,
            max_connections,
            index_threads,
            tls,
            alerts,
            forward,
        })
    }

    fn validate_alerts(a: Option<AlertsFile>, errs: &mut Vec<String>) -> AlertsConfig {
        let a = a.unwrap_or_default();
        let dur = |key: &str, v: Option<&str>, default: Duration, errs: &mut Vec<String>| {
            let Some(v) = v else { return default };
            match humantime::parse_duration(v) {
                Ok(d) if d <= MAX_WINDOW && !d.is_zero() => d,
                Ok(_) => {
                    errs.push(format!("alerts.{key}: {v:?} is outside 1s..=7d"));
                    default
                }
                Err(e) => {
                    errs.push(format!("alerts.{key}: {v:?}: {e} (try 10m, 1h)"));
                    default
                }
            }
        };
        let dedup_window = dur(
            "dedup_window",
            a.dedup_window.as_deref(),
            Duration::from_secs(600),
            errs,
        );
        let lateness = dur(
            "lateness",
            a.lateness.as_deref(),
            Duration::from_secs(300),
            errs,
        );
        let silent = match a.silent_after.as_deref() {
            Some("off") => None,
            other => {
                let min = dur("silent_after", other, Duration::from_secs(900), errs);
                let factor = a.silent_factor.unwrap_or(10.0);
                if !(1.0..=1000.0).contains(&factor) {
                    errs.push(format!(
                        "alerts.silent_factor: {factor} is outside 1..=1000"
                    ));
                }
                let learn = a.silent_learn_events.unwrap_or(100);
                if learn < 2 {
                    errs.push(format!(
                        "alerts.silent_learn_events: {learn}: at least 2 events are needed to learn a rate"
                    ));
                }
                Some(crate::alerts::silent::SilentConfig {
                    min_silence_ms: min.as_millis() as i64,
                    factor,
                    learn_events: learn,
                })
            }
        };
        AlertsConfig {
            dedup_window,
            dedup_fields: a
                .dedup_fields
                .unwrap_or_else(|| vec!["host.hostname".into(), "source.ip".into()]),
            lateness,
            silent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        let c = Config::validate(parse_toml(DEFAULT_TOML, "embedded default").unwrap()).unwrap();
        assert_eq!(c.syslog.len(), 2);
        assert_eq!(c.api.port(), 8470);
        assert_eq!(c.data_dir, PathBuf::from("./canh-data"));
    }

    #[test]
    fn every_error_is_reported_with_its_key() {
        let f = parse_toml(
            "retention_days = 0\nsyslog = [\"ftp://x:1\", \"tls://127.0.0.1:6514\"]\ncommit_interval_ms = 5\ntimezone = \"Mars\"\n",
            "t.toml",
        )
        .unwrap();
        let e = Config::validate(f).unwrap_err();
        let text = e.to_string();
        for want in [
            "retention_days",
            "syslog[0]",
            "commit_interval_ms",
            "timezone",
            "tls:// listener needs",
        ] {
            assert!(text.contains(want), "{want} missing in {text}");
        }
    }

    #[test]
    fn every_unknown_key_is_reported() {
        let e = parse_toml(
            "retension_days = 3\ndata_dir = \"x\"\nsyslg = []\n[tls]\ncrt = \"a\"\n",
            "c.toml",
        )
        .unwrap_err();
        let t = e.to_string();
        for want in [
            "c.toml:1: unknown key `retension_days`",
            "c.toml:3: unknown key `syslg`",
            "c.toml:5: unknown key `tls.crt`",
        ] {
            assert!(t.contains(want), "{want} missing in {t}");
        }
    }

    #[test]
    fn the_known_key_list_matches_the_struct() {
        // every key the struct takes is accepted, so TOP_KEYS cannot drift silently
        let all = TOP_KEYS
            .iter()
            .filter(|k| !["tls", "alerts", "forward"].contains(k))
            .map(|k| match *k {
                "syslog" | "netflow" | "netflow_exporters" | "rules" | "ioc_lists" => {
                    format!("{k} = []")
                }
                "retention_days" | "commit_interval_ms" | "max_message_bytes"
                | "max_connections" | "index_threads" => format!("{k} = 1"),
                _ => format!("{k} = \"x\""),
            })
            .collect::<Vec<_>>()
            .join("\n");
        parse_toml(
            &format!("{all}\n[tls]\ncert = \"a\"\nkey = \"b\"\nclient_ca = \"c\"\n"),
            "all.toml",
        )
        .unwrap();
    }

    #[test]
    fn unknown_keys_name_file_and_line() {
        let e = parse_toml("data_dir = \"x\"\nretension_days = 3\n", "c.toml").unwrap_err();
        assert!(e.to_string().contains("c.toml:2"), "{e}");
        assert!(e.to_string().contains("retension_days"), "{e}");
    }
}
