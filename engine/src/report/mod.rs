//! `canh report`: the signed monthly security report for auditors, and `canh report verify`.
//!
//! A report folder holds `report.pdf`, `alerts.csv`, `alerts.parquet`,
//! `events_daily.parquet`, `manifest.json`, `manifest.sig` and `signing-key.pub.pem`
//! ([`sign`]). The data folder is only read: the command works while the engine runs.

pub mod data;
pub mod files;
pub mod pdf;
pub mod sign;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use chrono::{SecondsFormat, Utc};
use clap::{Args, Subcommand};

use crate::alerts::store::ms_to_time;
use crate::cli::UsageError;
use data::Month;
use pdf::Lang;

pub const PDF: &str = "report.pdf";
pub const ALERTS_CSV: &str = "alerts.csv";
pub const ALERTS_PARQUET: &str = "alerts.parquet";
pub const EVENTS_DAILY: &str = "events_daily.parquet";

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub cmd: Option<ReportCmd>,
    #[command(flatten)]
    pub make: MakeArgs,
}

#[derive(Args, Debug)]
pub struct MakeArgs {
    /// The month, YYYY-MM (in the configured time zone).
    #[arg(long, required = true)]
    pub month: Option<Month>,
    /// Language of the PDF.
    #[arg(long, value_enum, default_value = "vi")]
    pub lang: Lang,
    /// Data folder (default: the configuration's, else ./canh-data).
    #[arg(long, env = "CANH_DATA")]
    pub data: Option<PathBuf>,
    /// Configuration file: organization name, time zone and rules (flags win).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Where to write the report; created, and must not already hold a report.
    #[arg(long, required = true)]
    pub out: Option<PathBuf>,
    /// Rule files or folders the engine runs (default: the configuration's, else canh's pack):
    /// the rule set hash and the ATT&CK coverage.
    #[arg(long, value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Zone the month and its days are counted in: local, UTC or +07:00.
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum ReportCmd {
    /// Check a report folder: signature, every file's SHA-256, nothing added. Exit 1 and name
    /// the file on any difference.
    Verify {
        /// The report folder.
        dir: PathBuf,
        /// The trusted public key (PEM); default: the data folder's, else the report's copy.
        #[arg(long, value_name = "FILE")]
        pubkey: Option<PathBuf>,
        #[arg(long, env = "CANH_DATA")]
        data: Option<PathBuf>,
    },
    /// Print the public key reports are signed with (PEM), creating the key pair if needed.
    Pubkey {
        #[arg(long, env = "CANH_DATA", default_value = "./canh-data")]
        data: PathBuf,
    },
}

pub fn run(a: ReportArgs) -> anyhow::Result<()> {
    match a.cmd {
        Some(ReportCmd::Verify { dir, pubkey, data }) => {
            verify(&dir, pubkey.as_deref(), data.as_deref())
        }
        Some(ReportCmd::Pubkey { data }) => {
            use ring::signature::KeyPair;
            let kp = sign::load_or_create_key(&data)?;
            print!("{}", sign::public_pem(kp.public_key().as_ref()));
            eprintln!(
                "{} ({})",
                sign::public_key_path(&data).display(),
                sign::fingerprint(kp.public_key().as_ref())
            );
            Ok(())
        }
        None => make(a.make),
    }
}

fn verify(dir: &Path, pubkey: Option<&Path>, data: Option<&Path>) -> anyhow::Result<()> {
    if !sign::has_trusted_key(pubkey, data) {
        eprintln!(
            "warning: no trusted public key (--pubkey FILE or --data DIR): checking against the \
             copy in the report, which proves integrity only if {} is the key you expect",
            sign::PUBKEY_COPY
        );
    }
    match sign::verify(dir, pubkey, data) {
        Ok(v) => {
            for w in &v.warnings {
                eprintln!("warning: {w}");
            }
            println!(
                "ok: {} files match manifest.json, signed by {} — key {}",
                v.manifest.files.len(),
                v.manifest.signing_key.fingerprint,
                v.key_source
            );
            println!(
                "report for {} ({}), canh {}, rule set {}",
                v.manifest.period.get("month").map_or("?", String::as_str),
                v.manifest.organization,
                v.manifest.canh_version,
                v.manifest.rule_set.get("hash").map_or("?", String::as_str)
            );
            Ok(())
        }
        Err(e) => anyhow::bail!("verification FAILED: {e}"),
    }
}

fn make(a: MakeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let (Some(month), Some(out)) = (a.month, a.out.clone()) else {
        return Err(UsageError("--month and --out are required".into()).into());
    };
    // The engine's own merge (embedded default, --config file, flags) and validation.
    let cfg = crate::cli::resolve_config(&crate::cli::UpArgs {
        data: a.data.clone(),
        config: a.config.clone(),
        timezone: a.timezone.clone(),
        rules: a.rules.clone(),
        ..crate::cli::UpArgs::default()
    })?;
    let data_dir = cfg.data_dir.clone();
    if !data_dir.is_dir() {
        return Err(UsageError(format!(
            "{}: no such data folder (--data)",
            data_dir.display()
        ))
        .into());
    }
    let (rule_files, origin) = if cfg.rules.is_empty() {
        (
            crate::detect::builtin_files(),
            "canh's own rule pack".to_owned(),
        )
    } else {
        let files =
            crate::detect::read_rule_files(&cfg.rules).map_err(|e| UsageError(format!("{e:#}")))?;
        let origin = cfg
            .rules
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        (files, origin)
    };
    // Written beside the destination and moved into place when complete and signed: a failed
    // run leaves no half report.
    prepare_out(&out)?;
    let final_out = out;
    let out = staging_dir(&final_out);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    let generated = Utc::now();
    let d = data::gather(&data::Sources {
        data: &data_dir,
        month,
        zone: cfg.zone,
        rule_files: &rule_files,
        rule_origin: origin,
    })?;
    let gathered = started.elapsed();

    files::write_alerts_csv(&out.join(ALERTS_CSV), &d.alerts)?;
    files::write_alerts_parquet(&out.join(ALERTS_PARQUET), &d.alerts)?;
    files::write_events_daily(&out.join(EVENTS_DAILY), &d.events_daily)?;
    let markup = pdf::markup(&d, a.lang, &cfg.organization, generated);
    let bytes = pdf::render(markup, generated)?;
    std::fs::write(out.join(PDF), &bytes)
        .with_context(|| format!("writing {}", out.join(PDF).display()))?;

    let key = sign::load_or_create_key(&data_dir)?;
    let fmt =
        |ms: Option<i64>| ms.map(|m| ms_to_time(m).to_rfc3339_opts(SecondsFormat::Millis, true));
    let period_from =
        ms_to_time(d.grid.starts[0] / 1000).to_rfc3339_opts(SecondsFormat::Secs, true);
    let period_to = ms_to_time(d.grid.end / 1000).to_rfc3339_opts(SecondsFormat::Secs, true);
    let manifest = sign::Manifest {
        format: sign::FORMAT.into(),
        canh_version: env!("CARGO_PKG_VERSION").into(),
        generated_at: generated.to_rfc3339_opts(SecondsFormat::Secs, true),
        organization: cfg.organization.clone(),
        language: a.lang.code().into(),
        period: [
            ("month".to_owned(), month.to_string()),
            ("timezone".to_owned(), cfg.zone.to_string()),
            ("from".to_owned(), period_from),
            ("to".to_owned(), period_to),
        ]
        .into(),
        data_range: [
            ("first_event".to_owned(), fmt(d.first_event_ms)),
            ("last_event".to_owned(), fmt(d.last_event_ms)),
            (
                "first_alert".to_owned(),
                fmt(d.alerts.iter().map(|a| a.first_seen_ms).min()),
            ),
            (
                "last_alert".to_owned(),
                fmt(d.alerts.iter().map(|a| a.first_seen_ms).max()),
            ),
        ]
        .into(),
        rule_set: [
            ("hash".to_owned(), d.rule_set_hash.clone()),
            ("source".to_owned(), d.rule_set_origin.clone()),
            ("rules".to_owned(), d.rules_total.to_string()),
        ]
        .into(),
        audit_log: [
            ("lines".to_owned(), d.audit_lines.to_string()),
            (
                "chain".to_owned(),
                match &d.audit_chain {
                    Ok(()) => "intact".to_owned(),
                    Err(e) => format!("broken: {e}"),
                },
            ),
        ]
        .into(),
        counts: [
            ("alerts".to_owned(), d.alerts.len() as u64),
            ("events".to_owned(), d.events_total),
            ("events_daily_rows".to_owned(), d.events_daily.len() as u64),
            (
                "true_positives".to_owned(),
                d.alerts
                    .iter()
                    .filter(|a| a.close_reason.as_deref() == Some("true_positive"))
                    .count() as u64,
            ),
        ]
        .into(),
        signing_key: sign::SigningKey {
            algorithm: String::new(),
            fingerprint: String::new(),
        },
        files: Vec::new(),
    };
    sign::seal(
        &out,
        manifest,
        &[PDF, ALERTS_CSV, ALERTS_PARQUET, EVENTS_DAILY],
        &key,
    )?;
    if final_out.exists() {
        std::fs::remove_dir(&final_out)
            .with_context(|| format!("replacing {}", final_out.display()))?;
    }
    std::fs::rename(&out, &final_out)
        .with_context(|| format!("moving the report to {}", final_out.display()))?;
    let out = final_out;
    println!(
        "report {month} ({}) in {}: {} alerts, {} events; {} pages of PDF, signed by {}",
        a.lang.code(),
        out.display(),
        d.alerts.len(),
        d.events_total,
        count_pages(&bytes),
        sign::fingerprint(ring::signature::KeyPair::public_key(&key).as_ref())
    );
    println!(
        "took {:.1} s (data {:.1} s); check it with: canh report verify {} --pubkey {}",
        started.elapsed().as_secs_f64(),
        gathered.as_secs_f64(),
        out.display(),
        sign::public_key_path(&data_dir).display()
    );
    Ok(())
}

/// `.NAME.partial` beside the output folder.
fn staging_dir(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map_or_else(|| "report".into(), |n| n.to_string_lossy().into_owned());
    out.with_file_name(format!(".{name}.partial"))
}

/// Refuses an output folder that already holds anything, so a signed report is never
/// partly overwritten; an empty one is replaced.
fn prepare_out(out: &Path) -> anyhow::Result<()> {
    if out.exists() {
        let mut entries =
            std::fs::read_dir(out).with_context(|| format!("reading {}", out.display()))?;
        if entries.next().is_some() {
            return Err(UsageError(format!(
                "{}: the folder is not empty; give a new --out folder",
                out.display()
            ))
            .into());
        }
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    Ok(())
}

/// Pages in a PDF typst wrote (its `/Type /Page` objects), for the summary line.
fn count_pages(pdf: &[u8]) -> usize {
    let mut n = 0;
    let mut rest = pdf;
    while let Some(i) = rest.windows(5).position(|w| w == b"/Type") {
        rest = &rest[i + 5..];
        let t = rest.trim_ascii_start();
        if t.starts_with(b"/Page") && t.get(5) != Some(&b's') {
            n += 1;
        }
    }
    n
}
