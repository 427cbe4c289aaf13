//! The report's data files: `alerts.csv`, `alerts.parquet` and `events_daily.parquet`.
//!
//! Deterministic: rows in a fixed order, no time of writing anywhere in the bytes, the same
//! writer settings every time — the same data gives byte-identical files, so an auditor can
//! regenerate a month and compare hashes.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use arrow_array::builder::{
    Date32Builder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use chrono::{NaiveDate, SecondsFormat};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::data::AlertRow;
use crate::alerts::store::ms_to_time;

/// zstd level of every Parquet file canh writes (3: zstd's default, fast with good ratio).
pub const ZSTD_LEVEL: i32 = 3;
/// Rows per Parquet row group (bounded writer memory for exports).
pub const ROW_GROUP_ROWS: usize = 64 * 1024;

pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(ZSTD_LEVEL).unwrap_or_default(),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by(format!("canh {}", env!("CARGO_PKG_VERSION")))
        .build()
}

fn utc() -> Option<Arc<str>> {
    Some("UTC".into())
}

pub fn alerts_schema() -> Schema {
    let ts = |n: &str, null: bool| {
        Field::new(n, DataType::Timestamp(TimeUnit::Millisecond, utc()), null)
    };
    Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("uid", DataType::Utf8, false),
        Field::new("rule", DataType::Utf8, false),
        Field::new("title", DataType::Utf8, false),
        Field::new("level", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new(
            "tags",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            false,
        ),
        Field::new("status", DataType::Utf8, false),
        Field::new("close_reason", DataType::Utf8, true),
        Field::new("assignee", DataType::Utf8, true),
        ts("first_seen", false),
        ts("last_seen", false),
        ts("created", false),
        ts("updated", false),
        ts("acknowledged", true),
        ts("closed", true),
        Field::new("time_to_ack_s", DataType::Float64, true),
        Field::new("time_to_close_s", DataType::Float64, true),
        Field::new("count", DataType::Int64, false),
        Field::new("host", DataType::Utf8, true),
        Field::new("source_ip", DataType::Utf8, true),
        Field::new("group", DataType::Utf8, false),
    ])
}

fn group_json(a: &AlertRow) -> String {
    serde_json::to_string(&a.group).unwrap_or_default()
}

fn alerts_batch(rows: &[AlertRow]) -> anyhow::Result<RecordBatch> {
    let schema = Arc::new(alerts_schema());
    let mut id = Int64Builder::new();
    let mut strs: Vec<StringBuilder> = (0..5).map(|_| StringBuilder::new()).collect();
    let mut tags = ListBuilder::new(StringBuilder::new());
    let mut status = StringBuilder::new();
    let mut reason = StringBuilder::new();
    let mut assignee = StringBuilder::new();
    let mut times: Vec<TimestampMillisecondBuilder> = (0..6)
        .map(|_| TimestampMillisecondBuilder::new().with_timezone("UTC"))
        .collect();
    let mut tta = Float64Builder::new();
    let mut ttc = Float64Builder::new();
    let mut count = Int64Builder::new();
    let mut host = StringBuilder::new();
    let mut src = StringBuilder::new();
    let mut group = StringBuilder::new();
    for a in rows {
        id.append_value(a.id);
        for (b, v) in strs
            .iter_mut()
            .zip([&a.uid, &a.rule, &a.title, &a.level, &a.kind])
        {
            b.append_value(v);
        }
        for t in &a.tags {
            tags.values().append_value(t);
        }
        tags.append(true);
        status.append_value(&a.status);
        reason.append_option(a.close_reason.as_deref());
        assignee.append_option(a.assignee.as_deref());
        for (b, v) in times.iter_mut().zip([
            Some(a.first_seen_ms),
            Some(a.last_seen_ms),
            Some(a.created_ms),
            Some(a.updated_ms),
            a.acknowledged_ms,
            a.closed_ms,
        ]) {
            b.append_option(v);
        }
        tta.append_option(a.time_to_ack_s());
        ttc.append_option(a.time_to_close_s());
        count.append_value(a.count);
        host.append_option(a.host.as_deref());
        src.append_option(a.source_ip.as_deref());
        group.append_value(group_json(a));
    }
    let mut cols: Vec<ArrayRef> = vec![Arc::new(id.finish())];
    cols.extend(strs.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    cols.push(Arc::new(tags.finish()));
    cols.push(Arc::new(status.finish()));
    cols.push(Arc::new(reason.finish()));
    cols.push(Arc::new(assignee.finish()));
    cols.extend(times.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    cols.push(Arc::new(tta.finish()));
    cols.push(Arc::new(ttc.finish()));
    cols.push(Arc::new(count.finish()));
    cols.push(Arc::new(host.finish()));
    cols.push(Arc::new(src.finish()));
    cols.push(Arc::new(group.finish()));
    Ok(RecordBatch::try_new(schema, cols)?)
}

/// Writes one batch to a new Parquet file.
fn write_parquet(path: &Path, batch: &RecordBatch) -> anyhow::Result<()> {
    let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = ArrowWriter::try_new(f, batch.schema(), Some(writer_properties()))?;
    w.write(batch)
        .with_context(|| format!("writing {}", path.display()))?;
    let f = w
        .into_inner()
        .with_context(|| format!("writing {}", path.display()))?;
    f.sync_all()
        .with_context(|| format!("syncing {}", path.display()))
}

pub fn write_alerts_parquet(path: &Path, rows: &[AlertRow]) -> anyhow::Result<()> {
    write_parquet(path, &alerts_batch(rows)?)
}

fn ts(ms: i64) -> String {
    ms_to_time(ms).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `alerts.csv`: the same columns as `alerts.parquet`; tags joined with `;`, times RFC 3339
/// UTC, absent values empty.
pub fn write_alerts_csv(path: &Path, rows: &[AlertRow]) -> anyhow::Result<()> {
    let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(f));
    let header: Vec<String> = alerts_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    w.write_record(&header)?;
    let opt = |v: Option<i64>| v.map(ts).unwrap_or_default();
    let secs = |v: Option<f64>| v.map(|s| format!("{s:.3}")).unwrap_or_default();
    for a in rows {
        w.write_record([
            a.id.to_string(),
            a.uid.clone(),
            a.rule.clone(),
            a.title.clone(),
            a.level.clone(),
            a.kind.clone(),
            a.tags.join(";"),
            a.status.clone(),
            a.close_reason.clone().unwrap_or_default(),
            a.assignee.clone().unwrap_or_default(),
            ts(a.first_seen_ms),
            ts(a.last_seen_ms),
            ts(a.created_ms),
            ts(a.updated_ms),
            opt(a.acknowledged_ms),
            opt(a.closed_ms),
            secs(a.time_to_ack_s()),
            secs(a.time_to_close_s()),
            a.count.to_string(),
            a.host.clone().unwrap_or_default(),
            a.source_ip.clone().unwrap_or_default(),
            group_json(a),
        ])?;
    }
    let mut buf = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    buf.flush()?;
    buf.get_ref()
        .sync_all()
        .with_context(|| format!("syncing {}", path.display()))
}

pub fn events_daily_schema() -> Schema {
    Schema::new(vec![
        Field::new("day", DataType::Date32, false),
        Field::new("dataset", DataType::Utf8, false),
        Field::new("host", DataType::Utf8, false),
        Field::new("level", DataType::Utf8, true),
        Field::new("events", DataType::Int64, false),
    ])
}

/// `events_daily.parquet`: events per day (in the report's zone) × dataset × host × syslog
/// severity (`level`, absent for flows and records without one).
pub fn write_events_daily(
    path: &Path,
    rows: &[(NaiveDate, String, String, Option<String>, u64)],
) -> anyhow::Result<()> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let mut day = Date32Builder::new();
    let mut ds = StringBuilder::new();
    let mut host = StringBuilder::new();
    let mut level = StringBuilder::new();
    let mut n = Int64Builder::new();
    for (d, dataset, h, l, c) in rows {
        day.append_value((*d - epoch).num_days() as i32);
        ds.append_value(dataset);
        host.append_value(h);
        level.append_option(l.as_deref());
        n.append_value(i64::try_from(*c).unwrap_or(i64::MAX));
    }
    let batch = RecordBatch::try_new(
        Arc::new(events_daily_schema()),
        vec![
            Arc::new(day.finish()),
            Arc::new(ds.finish()),
            Arc::new(host.finish()),
            Arc::new(level.finish()),
            Arc::new(n.finish()),
        ],
    )?;
    write_parquet(path, &batch)
}
