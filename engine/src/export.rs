//! `canh export`: evidence extraction — every event matching a query in a time range, written
//! as Parquet, CSV or JSON lines while it is read (one stored document and at most one
//! Parquet row group in memory), with a progress bar on a terminal.
//!
//! Columns (Parquet and CSV): the event's time, receipt time, dataset, host, the addresses
//! and ports, user, action, rule ids, message, and `event`: the whole stored event as JSON, so
//! nothing is lost to the fixed columns. JSON lines are the stored events as they are.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use arrow_array::builder::{Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use clap::Args;
use parquet::arrow::ArrowWriter;
use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::cli::{UsageError, parse_time};
use crate::index::{IndexError, Reader, SearchRequest};
use crate::report::files::{ROW_GROUP_ROWS, writer_properties};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Parquet,
    Csv,
    Jsonl,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Events at or after this time (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long)]
    pub from: String,
    /// Events before this time (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long)]
    pub to: String,
    /// tantivy query, as for `canh search` (default: every event).
    #[arg(long, default_value = "*")]
    pub query: String,
    #[arg(long, value_enum)]
    pub format: Format,
    /// The file to write (replaced only once complete).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, env = "CANH_DATA", default_value = "./canh-data")]
    pub data: PathBuf,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Fixed columns: (name, the event field it comes from).
const COLUMNS: [(&str, &str); 12] = [
    ("dataset", "event.dataset"),
    ("host", "host.hostname"),
    ("source_ip", "source.ip"),
    ("source_port", "source.port"),
    ("destination_ip", "destination.ip"),
    ("destination_port", "destination.port"),
    ("user", "user.name"),
    ("action", "event.action"),
    ("rule_id", "canh.rule.id"),
    ("rule_name", "canh.rule.name"),
    ("message", "message"),
    ("original", "event.original"),
];
/// Columns holding integers.
const INT_COLUMNS: [&str; 2] = ["source_port", "destination_port"];

fn schema() -> Schema {
    let mut f = vec![
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new(
            "received",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
    ];
    for (name, _) in COLUMNS {
        let t = if INT_COLUMNS.contains(&name) {
            DataType::Int64
        } else {
            DataType::Utf8
        };
        f.push(Field::new(name, t, true));
    }
    f.push(Field::new("event", DataType::Utf8, false));
    Schema::new(f)
}

/// Fields read from each stored event: the two times, then [`COLUMNS`].
const PICKED: usize = 2 + COLUMNS.len();

fn slot_of(name: &str) -> Option<usize> {
    match name {
        "@timestamp" => Some(0),
        "event.created" => Some(1),
        _ => COLUMNS.iter().position(|(_, f)| *f == name).map(|i| i + 2),
    }
}

/// The fields the fixed columns need, borrowed from the stored JSON: the event is scanned once
/// and nothing is built for the fields no column shows (they stay in the `event` column).
struct Picked<'a>([Option<&'a RawValue>; PICKED]);

/// A key of the event object, as the slot it fills (no allocation for plain keys).
struct Slot(Option<usize>);

impl<'de> Deserialize<'de> for Slot {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Slot, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Slot;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Slot, E> {
                Ok(Slot(slot_of(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Picked<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Picked<'de>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Picked<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an event object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Picked<'de>, A::Error> {
                let mut out = [None; PICKED];
                while let Some(Slot(slot)) = m.next_key()? {
                    match slot {
                        Some(i) => out[i] = Some(m.next_value::<&'de RawValue>()?),
                        None => {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Picked(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'a> Picked<'a> {
    fn of(raw: &'a str) -> Picked<'a> {
        serde_json::from_str(raw).unwrap_or(Picked([None; PICKED]))
    }

    /// Slot `i` as text: strings unescaped, lists joined with `,`, numbers and booleans as
    /// written, null as absent.
    fn text(&self, i: usize) -> Option<Cow<'a, str>> {
        let s = self.0[i]?.get();
        match s.as_bytes().first()? {
            b'"' => {
                let inner = &s[1..s.len() - 1];
                if inner.contains('\\') {
                    serde_json::from_str::<String>(s).ok().map(Cow::Owned)
                } else {
                    Some(Cow::Borrowed(inner))
                }
            }
            b'n' => None,
            b'[' => {
                let items: Vec<Value> = serde_json::from_str(s).ok()?;
                Some(Cow::Owned(
                    items
                        .iter()
                        .map(|v| match v {
                            Value::String(x) => x.clone(),
                            other => other.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                ))
            }
            _ => Some(Cow::Borrowed(s)),
        }
    }

    fn micros(&self, i: usize) -> Option<i64> {
        chrono::DateTime::parse_from_rfc3339(&self.text(i)?)
            .ok()
            .map(|t| t.timestamp_micros())
    }

    fn int(&self, i: usize) -> Option<i64> {
        self.text(i)?.parse().ok()
    }
}

/// Parquet rows waiting for their row group.
struct Batch {
    ts: TimestampMicrosecondBuilder,
    rx: TimestampMicrosecondBuilder,
    cols: Vec<StringBuilder>,
    ints: Vec<Int64Builder>,
    event: StringBuilder,
    rows: usize,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            ts: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            rx: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            cols: (0..COLUMNS.len() - INT_COLUMNS.len())
                .map(|_| StringBuilder::new())
                .collect(),
            ints: (0..INT_COLUMNS.len())
                .map(|_| Int64Builder::new())
                .collect(),
            event: StringBuilder::new(),
            rows: 0,
        }
    }

    fn push(&mut self, p: &Picked<'_>, raw: &str) {
        self.ts.append_option(p.micros(0));
        self.rx.append_option(p.micros(1));
        let (mut si, mut ii) = (0, 0);
        for (c, (name, _)) in COLUMNS.iter().enumerate() {
            if INT_COLUMNS.contains(name) {
                self.ints[ii].append_option(p.int(c + 2));
                ii += 1;
            } else {
                self.cols[si].append_option(p.text(c + 2));
                si += 1;
            }
        }
        self.event.append_value(raw);
        self.rows += 1;
    }

    fn finish(&mut self, schema: &Arc<Schema>) -> anyhow::Result<RecordBatch> {
        let mut cols: Vec<ArrayRef> = vec![Arc::new(self.ts.finish()), Arc::new(self.rx.finish())];
        let (mut si, mut ii) = (0, 0);
        for (name, _) in COLUMNS {
            if INT_COLUMNS.contains(&name) {
                cols.push(Arc::new(self.ints[ii].finish()));
                ii += 1;
            } else {
                cols.push(Arc::new(self.cols[si].finish()));
                si += 1;
            }
        }
        cols.push(Arc::new(self.event.finish()));
        self.rows = 0;
        Ok(RecordBatch::try_new(schema.clone(), cols)?)
    }
}

enum Sink {
    Parquet {
        w: Box<ArrowWriter<File>>,
        batch: Box<Batch>,
        schema: Arc<Schema>,
    },
    Csv(Box<csv::Writer<BufWriter<File>>>),
    Jsonl(BufWriter<File>),
}

impl Sink {
    fn open(format: Format, path: &Path) -> anyhow::Result<Sink> {
        let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        Ok(match format {
            Format::Parquet => {
                let schema = Arc::new(schema());
                Sink::Parquet {
                    w: Box::new(ArrowWriter::try_new(
                        f,
                        schema.clone(),
                        Some(export_properties()),
                    )?),
                    batch: Box::new(Batch::new()),
                    schema,
                }
            }
            Format::Csv => {
                let mut w = csv::Writer::from_writer(BufWriter::new(f));
                let header: Vec<String> =
                    schema().fields().iter().map(|f| f.name().clone()).collect();
                w.write_record(&header)?;
                Sink::Csv(Box::new(w))
            }
            Format::Jsonl => Sink::Jsonl(BufWriter::new(f)),
        })
    }

    fn write(&mut self, raw: &str) -> anyhow::Result<()> {
        match self {
            Sink::Jsonl(w) => {
                w.write_all(raw.as_bytes())?;
                w.write_all(b"\n")?;
            }
            Sink::Csv(w) => {
                let p = Picked::of(raw);
                for i in 0..PICKED {
                    w.write_field(p.text(i).as_deref().unwrap_or(""))?;
                }
                w.write_field(raw)?;
                w.write_record(None::<&[u8]>)?;
            }
            Sink::Parquet { w, batch, schema } => {
                batch.push(&Picked::of(raw), raw);
                if batch.rows >= ROW_GROUP_ROWS {
                    w.write(&batch.finish(schema)?)?;
                    w.flush()?;
                }
            }
        }
        Ok(())
    }

    fn close(self) -> anyhow::Result<File> {
        let f = match self {
            Sink::Jsonl(w) => w.into_inner().map_err(|e| e.into_error())?,
            Sink::Csv(w) => w
                .into_inner()
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .into_inner()
                .map_err(|e| e.into_error())?,
            Sink::Parquet {
                mut w,
                mut batch,
                schema,
            } => {
                if batch.rows > 0 {
                    w.write(&batch.finish(&schema)?)?;
                }
                w.into_inner()?
            }
        };
        Ok(f)
    }
}

/// Columns whose values are nearly all distinct: a dictionary would only cost hashing before
/// parquet gives up on it (its dictionary page limit), so they go straight to plain + zstd.
const UNIQUE_COLUMNS: [&str; 3] = ["event", "original", "message"];

fn export_properties() -> parquet::file::properties::WriterProperties {
    let mut b = writer_properties().into_builder();
    for c in UNIQUE_COLUMNS {
        b = b.set_column_dictionary_enabled(c.into(), false);
    }
    b.build()
}

/// Counts that stop the export: the sink's error, or the index's.
#[derive(Debug, thiserror::Error)]
enum StreamError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Write(#[from] anyhow::Error),
}

pub fn run(a: ExportArgs) -> anyhow::Result<()> {
    let from = parse_time(&a.from)?;
    let to = parse_time(&a.to)?;
    if to <= from {
        return Err(UsageError(format!("--to {} is not after --from {}", a.to, a.from)).into());
    }
    let root = a.data.join("index");
    if !root.is_dir() {
        return Err(UsageError(format!("{}: no index here (--data)", a.data.display())).into());
    }
    let reader = Reader::open(&root)?;
    let req = SearchRequest {
        query: a.query.clone(),
        from: Some(from),
        to: Some(to),
        limit: 1,
    };
    let total = reader.count(&req).map_err(|e| match e {
        e @ IndexError::Query { .. } => anyhow::Error::from(UsageError(e.to_string())),
        e => e.into(),
    })?;
    let bar = if a.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(total)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {wide_bar} {human_pos}/{human_len} events · {per_sec} · {eta} left",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let tmp = a.out.with_extension("partial");
    let mut sink = Sink::open(a.format, &tmp)?;
    let mut n = 0u64;
    let r = reader.for_each_source(&req, |raw| -> Result<(), StreamError> {
        sink.write(raw)?;
        n += 1;
        if n.is_multiple_of(4096) {
            bar.set_position(n);
        }
        Ok(())
    });
    bar.finish_and_clear();
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(anyhow::Error::from(e).context(format!("exporting to {}", a.out.display())));
    }
    let f = sink.close()?;
    f.sync_all()?;
    let bytes = f.metadata()?.len();
    std::fs::rename(&tmp, &a.out).with_context(|| format!("writing {}", a.out.display()))?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{n} events → {} ({:.1} MB) in {secs:.1} s: {:.0} events/s, {:.1} MB/s",
        a.out.display(),
        bytes as f64 / 1e6,
        n as f64 / secs.max(1e-9),
        bytes as f64 / 1e6 / secs.max(1e-9)
    );
    Ok(())
}
