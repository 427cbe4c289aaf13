//! Whole-index passes for reports and evidence export: per-day counts read from fast fields
//! (no stored document is opened), and a streaming walk over matching events' stored JSON.
//!
//! Both work segment by segment, so memory stays bounded by the number of distinct
//! (day, dataset, host) groups, or by one document, however many events match.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use tantivy::query::{EnableScoring, Query};
use tantivy::schema::Value as _;
use tantivy::{DocId, SegmentReader, TantivyDocument};

use super::{F_TIMESTAMP, IndexError, Reader, SearchRequest, field, reader};

/// Syslog severities (RFC 5424 names as canh writes them to `log.syslog.severity.name`): the
/// `level` of `events_daily`.
pub const SEVERITIES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];
/// The field the level is read from.
pub const F_SEVERITY: &str = field::SYSLOG_SEVERITY_NAME;
/// Stored-document blocks each export segment reader keeps decompressed.
const STORE_CACHE_BLOCKS: usize = 4;

/// Day boundaries of a reporting period in the organization's zone: `starts[i]` is the UTC
/// instant day `days[i]` begins; the period ends at `end`.
#[derive(Debug, Clone)]
pub struct DayGrid {
    pub days: Vec<NaiveDate>,
    pub starts: Vec<i64>,
    pub end: i64,
}

impl DayGrid {
    /// The day (index into `days`) a microsecond timestamp falls in, if inside the period.
    pub fn day_of(&self, micros: i64) -> Option<usize> {
        if micros < *self.starts.first()? || micros >= self.end {
            return None;
        }
        Some(self.starts.partition_point(|&s| s <= micros) - 1)
    }
}

/// (day index, dataset, host, level) → events; level `None` is "no syslog severity" (flows,
/// unparsed records).
pub type DailyCounts = HashMap<(usize, String, String, Option<&'static str>), u64>;

/// What [`Reader::daily_counts`] finds.
#[derive(Debug, Default)]
pub struct Daily {
    pub counts: DailyCounts,
    /// (day index, host) → records kept raw because they did not parse.
    pub unparsed: HashMap<(usize, String), u64>,
    /// Earliest and latest event time seen in the period (µs).
    pub first: Option<i64>,
    pub last: Option<i64>,
}

/// Per-segment tallies keyed by dictionary ordinals; strings are resolved once at the end.
struct SegTally {
    by_ord: HashMap<(usize, u64, u64), u64>,
    first: Option<i64>,
    last: Option<i64>,
}

impl Reader {
    /// Counts events per day × dataset × host × severity over the period, from fast fields.
    pub fn daily_counts(&self, grid: &DayGrid) -> Result<Daily, IndexError> {
        let from = DateTime::<Utc>::from_timestamp_micros(grid.starts[0]).unwrap_or_default();
        let to = DateTime::<Utc>::from_timestamp_micros(grid.end).unwrap_or_default();
        let req = |query: String| SearchRequest {
            query,
            from: Some(from),
            to: Some(to),
            limit: 1,
        };
        let mut out = Daily::default();
        // All events, then each severity; what no severity claims has none.
        let mut totals: HashMap<(usize, String, String), u64> = HashMap::new();
        let t = self.tally(&req("*".into()), grid)?;
        out.first = t.1;
        out.last = t.2;
        for ((d, ds, host), n) in t.0 {
            totals.insert((d, ds, host), n);
        }
        for sev in SEVERITIES {
            let (by, _, _) = self.tally(&req(format!("{F_SEVERITY}:{sev}")), grid)?;
            for ((d, ds, host), n) in by {
                if let Some(total) = totals.get_mut(&(d, ds.clone(), host.clone())) {
                    *total = total.saturating_sub(n);
                }
                *out.counts.entry((d, ds, host, Some(sev))).or_default() += n;
            }
        }
        for ((d, ds, host), n) in totals {
            if n > 0 {
                *out.counts.entry((d, ds, host, None)).or_default() += n;
            }
        }
        let (unparsed, _, _) = self.tally(&req(format!("{}:true", super::F_UNPARSED)), grid)?;
        for ((d, _, host), n) in unparsed {
            *out.unparsed.entry((d, host)).or_default() += n;
        }
        Ok(out)
    }

    #[allow(clippy::type_complexity)]
    fn tally(
        &self,
        req: &SearchRequest,
        grid: &DayGrid,
    ) -> Result<
        (
            HashMap<(usize, String, String), u64>,
            Option<i64>,
            Option<i64>,
        ),
        IndexError,
    > {
        let mut out: HashMap<(usize, String, String), u64> = HashMap::new();
        let (mut first, mut last) = (None::<i64>, None::<i64>);
        for (day, index) in &self.days {
            let tv = |source| IndexError::Tantivy {
                path: day.to_string().into(),
                source,
            };
            let (searcher, weight) = self.day_weight(*day, index, req)?;
            for seg in searcher.segment_readers() {
                let ff = seg.fast_fields();
                let ts = ff.date(F_TIMESTAMP).map_err(tv)?;
                let ds = ff.str(field::EVENT_DATASET).map_err(tv)?;
                let host = ff.str(field::HOST_HOSTNAME).map_err(tv)?;
                let mut t = SegTally {
                    by_ord: HashMap::new(),
                    first: None,
                    last: None,
                };
                weight
                    .for_each_no_score(seg, &mut |docs: &[DocId]| {
                        for &doc in docs {
                            if seg.is_deleted(doc) {
                                continue;
                            }
                            let Some(micros) = ts.first(doc).map(|d| d.into_timestamp_micros())
                            else {
                                continue;
                            };
                            let Some(d) = grid.day_of(micros) else {
                                continue;
                            };
                            t.first = Some(t.first.map_or(micros, |f| f.min(micros)));
                            t.last = Some(t.last.map_or(micros, |l| l.max(micros)));
                            let o = |c: &Option<tantivy::columnar::StrColumn>| {
                                c.as_ref()
                                    .and_then(|c| c.ords().first(doc))
                                    .unwrap_or(u64::MAX)
                            };
                            *t.by_ord.entry((d, o(&ds), o(&host))).or_default() += 1;
                        }
                    })
                    .map_err(tv)?;
                let name = |c: &Option<tantivy::columnar::StrColumn>, ord: u64| -> String {
                    let mut s = String::new();
                    if ord != u64::MAX
                        && let Some(c) = c
                    {
                        let _ = c.ord_to_str(ord, &mut s);
                    }
                    s
                };
                for ((d, dso, ho), n) in t.by_ord {
                    *out.entry((d, name(&ds, dso), name(&host, ho))).or_default() += n;
                }
                first = match (first, t.first) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                last = match (last, t.last) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
            }
        }
        Ok((out, first, last))
    }

    /// A searcher of one day's index and the request's weight over it (no scoring).
    fn day_weight(
        &self,
        day: NaiveDate,
        index: &tantivy::Index,
        req: &SearchRequest,
    ) -> Result<(tantivy::Searcher, Box<dyn tantivy::query::Weight>), IndexError> {
        let q = self.query(index, req)?;
        let searcher = reader(index, day)?.searcher();
        let weight = q
            .weight(EnableScoring::disabled_from_searcher(&searcher))
            .map_err(|source| IndexError::Tantivy {
                path: day.to_string().into(),
                source,
            })?;
        Ok((searcher, weight))
    }

    /// Calls `each` with the stored JSON of every matching event, day by day (oldest first)
    /// and in indexing order within a day; stops at the first error `each` returns.
    pub fn for_each_source<E: From<IndexError>>(
        &self,
        req: &SearchRequest,
        mut each: impl FnMut(&str) -> Result<(), E>,
    ) -> Result<(), E> {
        for (day, index) in &self.days {
            let (searcher, weight) = self.day_weight(*day, index, req)?;
            for seg in searcher.segment_readers() {
                self.stream_segment(seg, weight.as_ref(), *day, &mut each)?;
            }
        }
        Ok(())
    }

    fn stream_segment<E: From<IndexError>>(
        &self,
        seg: &SegmentReader,
        weight: &dyn tantivy::query::Weight,
        day: NaiveDate,
        each: &mut impl FnMut(&str) -> Result<(), E>,
    ) -> Result<(), E> {
        let path = || std::path::PathBuf::from(day.to_string());
        let store = seg
            .get_store_reader(STORE_CACHE_BLOCKS)
            .map_err(|source| IndexError::Io {
                path: path(),
                source,
            })?;
        let mut failed: Option<E> = None;
        weight
            .for_each_no_score(seg, &mut |docs: &[DocId]| {
                for &doc in docs {
                    if failed.is_some() || seg.is_deleted(doc) {
                        continue;
                    }
                    let got: tantivy::Result<TantivyDocument> = store.get(doc);
                    let r = match got {
                        Ok(d) => {
                            let src = d
                                .get_first(self.schema.source)
                                .and_then(|v| v.as_str())
                                .unwrap_or("{}");
                            each(src)
                        }
                        Err(source) => Err(IndexError::Tantivy {
                            path: path(),
                            source,
                        }
                        .into()),
                    };
                    if let Err(e) = r {
                        failed = Some(e);
                    }
                }
            })
            .map_err(|source| IndexError::Tantivy {
                path: path(),
                source,
            })?;
        match failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
