//! Detection in the engine: loading rules (canh's embedded pack or `--rules` paths), matching
//! every event as it is parsed, counting hits per rule, and reloading without a restart.
//!
//! Matches are written into the event before it reaches the WAL — `canh.rule.id`,
//! `canh.rule.name` and `canh.rule.level` (lists when several rules match) — so they are
//! durable, searchable (`canh search 'canh.rule.id:…'`) and never recomputed on replay. They
//! live under `canh.` because devices send ECS `rule.*` of their own (a firewall's policy id).
//! Whatever a device sends under canh's detection names is removed first: log content cannot
//! forge a detection.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};

use anyhow::Context;
use canh_core::{Event, Value};
use canh_rules::fast::FastMatcher;
use canh_rules::ioc::{IocList, IocSet};
use canh_rules::{LoadReport, LoadStatus, Mapping, RuleSet, Summary};
use serde::{Deserialize, Serialize};

include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

/// Fields written on matching events.
pub const F_RULE_ID: &str = "canh.rule.id";
pub const F_RULE_NAME: &str = "canh.rule.name";
pub const F_RULE_LEVEL: &str = "canh.rule.level";
/// Largest rule file read (a rule is a few KiB; anything larger is a mistake).
pub const MAX_RULE_FILE: u64 = 4 * 1024 * 1024;

/// Rule files under `paths` (files as given, folders walked for `*.yml`/`*.yaml`, skipping
/// `*.test.yml`), sorted, as (path, text).
pub fn read_rule_files(paths: &[PathBuf]) -> anyhow::Result<Vec<(String, String)>> {
    let mut found = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut found).with_context(|| format!("reading {}", p.display()))?;
        } else if p.exists() {
            found.push(p.clone());
        } else {
            anyhow::bail!("{}: no such file or folder", p.display());
        }
    }
    found.sort();
    found.dedup();
    let mut out = Vec::with_capacity(found.len());
    for f in found {
        let len = std::fs::metadata(&f)
            .with_context(|| format!("reading {}", f.display()))?
            .len();
        anyhow::ensure!(
            len <= MAX_RULE_FILE,
            "{}: {len} bytes is more than a rule file may hold ({MAX_RULE_FILE})",
            f.display()
        );
        let text =
            std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
        out.push((f.display().to_string(), text));
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else if let Some(name) = p.file_name().and_then(|n| n.to_str())
            && (name.ends_with(".yml") || name.ends_with(".yaml"))
            && !name.ends_with(".test.yml")
            && !name.ends_with(".test.yaml")
        {
            out.push(p);
        }
    }
    Ok(())
}

/// The rule set's identity: SHA-256 of each file's text by name, and one SHA-256 over the
/// sorted (name, file hash) pairs — what the audit log and the monthly report call the rule
/// set's hash.
pub fn rule_set_hash(
    files: &[(String, String)],
) -> (String, std::collections::BTreeMap<String, String>) {
    use sha2::{Digest, Sha256};
    let per: std::collections::BTreeMap<String, String> = files
        .iter()
        .map(|(n, t)| (n.clone(), format!("{:x}", Sha256::digest(t.as_bytes()))))
        .collect();
    let mut h = Sha256::new();
    for (n, d) in &per {
        h.update(n.as_bytes());
        h.update([0u8]);
        h.update(d.as_bytes());
        h.update([b'\n']);
    }
    (format!("{:x}", h.finalize()), per)
}

/// canh's embedded pack, named `canh:<path>`.
pub fn builtin_files() -> Vec<(String, String)> {
    BUILTIN_RULES
        .iter()
        .map(|(p, t)| (format!("canh:{p}"), (*t).to_owned()))
        .collect()
}

/// A loaded, compiled rule set with its hit counters.
pub struct Detector {
    pub set: RuleSet,
    fast: FastMatcher,
    pub reports: Vec<LoadReport>,
    hits: Vec<AtomicU64>,
    /// Where the rules came from: "canh's own pack" or the paths.
    pub origin: String,
    /// IOC address lists, checked on `source.ip` and `destination.ip` before the rules run.
    pub ioc: IocSet,
    pub ioc_lists: Vec<IocList>,
    ioc_hits: AtomicU64,
    /// [`rule_set_hash`] of the files loaded.
    pub hash: String,
    pub file_hashes: std::collections::BTreeMap<String, String>,
}

/// Fields written on events whose addresses are on an IOC list.
pub const F_IOC_MATCHED: &str = "canh.ioc.matched";
pub const F_IOC_LISTS: &str = "canh.ioc.lists";
pub const F_INDICATOR_IP: &str = "threat.indicator.ip";
/// Fields only detection writes; removed from incoming events before matching.
const RESERVED: &[&str] = &[
    F_RULE_ID,
    F_RULE_NAME,
    F_RULE_LEVEL,
    F_IOC_MATCHED,
    F_IOC_LISTS,
    F_INDICATOR_IP,
];
/// Largest IOC list file read (a million addresses is ~20 MiB).
pub const MAX_IOC_FILE: u64 = 512 * 1024 * 1024;

/// Reads and parses IOC list files (one address or CIDR block per line).
pub fn load_ioc(paths: &[PathBuf]) -> anyhow::Result<(IocSet, Vec<IocList>)> {
    if paths.is_empty() {
        return Ok((IocSet::default(), Vec::new()));
    }
    let mut lists = Vec::with_capacity(paths.len());
    for p in paths {
        let len = std::fs::metadata(p)
            .with_context(|| format!("reading IOC list {}", p.display()))?
            .len();
        anyhow::ensure!(
            len <= MAX_IOC_FILE,
            "{}: {len} bytes is more than an IOC list may hold ({MAX_IOC_FILE})",
            p.display()
        );
        let text = std::fs::read_to_string(p)
            .with_context(|| format!("reading IOC list {}", p.display()))?;
        lists.push((p.display().to_string(), text));
    }
    Ok(IocSet::parse(&lists)?)
}

impl Detector {
    pub fn from_files(files: &[(String, String)], origin: String) -> anyhow::Result<Detector> {
        let (set, reports) = RuleSet::load(files, Mapping::builtin());
        let (hash, file_hashes) = rule_set_hash(files);
        let fast = FastMatcher::build(&set).context("compiling the rule set")?;
        let hits = (0..set.rules().len()).map(|_| AtomicU64::new(0)).collect();
        Ok(Detector {
            set,
            fast,
            reports,
            hits,
            origin,
            ioc: IocSet::default(),
            ioc_lists: Vec::new(),
            ioc_hits: AtomicU64::new(0),
            hash,
            file_hashes,
        })
    }

    /// Loads rules from `paths` (canh's own pack when empty) and IOC lists from `ioc`.
    pub fn load_with_ioc(paths: &[PathBuf], ioc: &[PathBuf]) -> anyhow::Result<Detector> {
        let mut d = Detector::load(paths)?;
        let (set, lists) = load_ioc(ioc)?;
        d.ioc = set;
        d.ioc_lists = lists;
        Ok(d)
    }

    /// Loads `paths`, or canh's own pack when empty.
    pub fn load(paths: &[PathBuf]) -> anyhow::Result<Detector> {
        if paths.is_empty() {
            Detector::from_files(&builtin_files(), "canh's own rule pack".into())
        } else {
            let files = read_rule_files(paths)?;
            let origin = paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            Detector::from_files(&files, origin)
        }
    }

    pub fn summary(&self) -> Summary {
        Summary::of(&self.reports)
    }

    /// Matches each event and records the matches in it.
    pub fn annotate(&self, events: &mut [Event]) {
        let mut hits = canh_rules::fast::BitHits::default();
        for ev in events {
            for f in RESERVED {
                ev.fields.remove(*f);
            }
            if !self.ioc.is_empty() {
                self.check_ioc(ev);
            }
            self.fast.hits_into(&self.set, ev, &mut hits);
            let matched = self.set.matches(ev, &hits);
            if matched.is_empty() {
                continue;
            }
            let (mut ids, mut names, mut levels) = (Vec::new(), Vec::new(), Vec::new());
            for idx in matched {
                if let Some(h) = self.hits.get(idx.0 as usize) {
                    h.fetch_add(1, Relaxed);
                }
                let r = self.set.rule(idx);
                ids.push(r.id.clone().unwrap_or_else(|| r.title.clone()));
                names.push(r.title.clone());
                levels.push(r.level.map_or("unknown", |l| l.as_str()).to_owned());
            }
            let put = |ev: &mut Event, name: &str, mut v: Vec<String>| {
                let value = if v.len() == 1 {
                    Value::Str(v.remove(0))
                } else {
                    Value::List(v)
                };
                ev.fields.insert(name.to_owned(), value);
            };
            put(ev, F_RULE_ID, ids);
            put(ev, F_RULE_NAME, names);
            put(ev, F_RULE_LEVEL, levels);
        }
    }

    /// Marks an event whose source or destination address is on an IOC list.
    fn check_ioc(&self, ev: &mut Event) {
        let (mut matched, mut lists, mut first) = (Vec::new(), Vec::<String>::new(), None);
        for f in [
            canh_core::field::SOURCE_IP,
            canh_core::field::DESTINATION_IP,
        ] {
            let ip = match ev.get(f) {
                Some(Value::Ip(ip)) => Some(*ip),
                Some(Value::Str(s)) => s.parse().ok(),
                _ => None,
            };
            let Some(ip) = ip else { continue };
            if let Some(ids) = self.ioc.lookup(ip) {
                matched.push(f.to_owned());
                first.get_or_insert(ip);
                for id in ids {
                    let name = self.ioc.list_name(*id).to_owned();
                    if !lists.contains(&name) {
                        lists.push(name);
                    }
                }
            }
        }
        if let Some(ip) = first {
            self.ioc_hits.fetch_add(1, Relaxed);
            ev.fields
                .insert(F_IOC_MATCHED.to_owned(), Value::List(matched));
            ev.fields.insert(F_IOC_LISTS.to_owned(), Value::List(lists));
            ev.fields.insert(F_INDICATOR_IP.to_owned(), Value::Ip(ip));
        }
    }

    /// Rules with hits, most first.
    pub fn top_hits(&self, n: usize) -> Vec<RuleHits> {
        let mut v: Vec<RuleHits> = self
            .hits
            .iter()
            .enumerate()
            .filter_map(|(k, h)| {
                let count = h.load(Relaxed);
                let r = self.set.rules().get(k)?;
                (count > 0).then(|| RuleHits {
                    id: r.id.clone().unwrap_or_default(),
                    title: r.title.clone(),
                    hits: count,
                })
            })
            .collect();
        v.sort_by(|a, b| b.hits.cmp(&a.hits).then_with(|| a.title.cmp(&b.title)));
        v.truncate(n);
        v
    }
}

/// One rule document as the API and the console list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleEntry {
    /// The key alerts and `canh.rule.id` use: the rule's id, else its title.
    pub key: String,
    pub title: String,
    pub level: Option<String>,
    /// detection, correlation or filter.
    pub kind: Option<String>,
    /// compiled, unsupported or invalid.
    pub state: String,
    /// Why it is not evaluated (unsupported or invalid).
    pub reason: Option<String>,
    pub file: String,
    pub hits: u64,
}

impl Detector {
    /// Every rule document loaded, in file order.
    pub fn rule_entries(&self) -> Vec<RuleEntry> {
        self.reports
            .iter()
            .map(|r| {
                let rule = r.rule.map(|i| self.set.rule(i));
                let (state, reason) = match &r.status {
                    canh_rules::LoadStatus::Compiled => ("compiled", None),
                    canh_rules::LoadStatus::Unsupported { reason } => {
                        ("unsupported", Some(reason.clone()))
                    }
                    other => ("invalid", Some(other.to_string())),
                };
                RuleEntry {
                    key: r
                        .id
                        .clone()
                        .or_else(|| r.title.clone())
                        .unwrap_or_else(|| r.source.to_string()),
                    title: r.title.clone().unwrap_or_default(),
                    level: rule.and_then(|x| x.level).map(|l| l.as_str().to_owned()),
                    kind: r.kind.map(str::to_owned),
                    state: state.to_owned(),
                    reason,
                    file: r.source.to_string(),
                    hits: r
                        .rule
                        .and_then(|i| self.hits.get(i.0 as usize))
                        .map_or(0, |h| h.load(Relaxed)),
                }
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleHits {
    pub id: String,
    pub title: String,
    pub hits: u64,
}

/// What `canh status` shows about detection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectionSnapshot {
    pub origin: String,
    pub compiled: usize,
    pub unsupported: usize,
    pub invalid: usize,
    pub reloads: u64,
    pub last_reload_error: Option<String>,
    pub top_rules: Vec<RuleHits>,
    #[serde(default)]
    pub ioc_lists: Vec<(String, usize)>,
    #[serde(default)]
    pub ioc_hits: u64,
}

/// The engine's current detector, swapped whole on reload: events in flight finish with the
/// set they started with, none is matched twice or skipped.
pub struct Detection {
    current: RwLock<Arc<Detector>>,
    paths: Vec<PathBuf>,
    ioc_paths: Vec<PathBuf>,
    reloads: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Detection {
    pub fn new(detector: Detector, paths: Vec<PathBuf>, ioc_paths: Vec<PathBuf>) -> Detection {
        Detection {
            current: RwLock::new(Arc::new(detector)),
            paths,
            ioc_paths,
            reloads: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    pub fn current(&self) -> Arc<Detector> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reloads the rules from the same paths. A set with invalid rules or one that fails to
    /// load is refused and the old set stays; the error says why.
    pub fn reload(&self) -> Result<Summary, String> {
        let result = Detector::load_with_ioc(&self.paths, &self.ioc_paths)
            .map_err(|e| format!("{e:#}"))
            .and_then(|d| {
                let s = d.summary();
                if s.invalid > 0 {
                    let first: Vec<String> = d
                        .reports
                        .iter()
                        .filter(|r| matches!(r.status, LoadStatus::Invalid { .. }))
                        .take(5)
                        .map(ToString::to_string)
                        .collect();
                    return Err(format!(
                        "{} invalid rule(s); keeping the previous set:\n{}",
                        s.invalid,
                        first.join("\n")
                    ));
                }
                Ok(d)
            });
        match result {
            Ok(d) => {
                let s = d.summary();
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(d);
                self.reloads.fetch_add(1, Relaxed);
                *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
                Ok(s)
            }
            Err(e) => {
                *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.clone());
                Err(e)
            }
        }
    }

    pub fn snapshot(&self) -> DetectionSnapshot {
        let d = self.current();
        let s = d.summary();
        DetectionSnapshot {
            origin: d.origin.clone(),
            compiled: s.compiled,
            unsupported: s.unsupported,
            invalid: s.invalid,
            reloads: self.reloads.load(Relaxed),
            last_reload_error: self
                .last_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            top_rules: d.top_hits(20),
            ioc_lists: d
                .ioc_lists
                .iter()
                .map(|l| (l.name.clone(), l.entries))
                .collect(),
            ioc_hits: d.ioc_hits.load(Relaxed),
        }
    }

    /// The hook the listeners run on each batch.
    pub fn enrich(self: &Arc<Self>) -> canh_collectors::listen::Enrich {
        let me = self.clone();
        Arc::new(move |events: &mut [Event]| me.current().annotate(events))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_pack_is_embedded_and_valid() {
        let d = Detector::load(&[]).unwrap();
        let s = d.summary();
        assert!(
            BUILTIN_RULES.len() >= 40,
            "{} rule files",
            BUILTIN_RULES.len()
        );
        assert_eq!(
            s.invalid,
            0,
            "{:#?}",
            d.reports
                .iter()
                .filter(|r| !r.status.is_compiled())
                .collect::<Vec<_>>()
        );
        assert!(s.compiled >= 40);
    }
}
