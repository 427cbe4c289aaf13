//! The event index: tantivy, one index per UTC day of receipt under `DATA/index/YYYY-MM-DD`,
//! so retention drops whole days.
//!
//! Schema: `@timestamp` and `event.created` (dates, fast), `event.dataset` and
//! `host.hostname` (keywords, fast), `message` (free text with positions: phrase queries), and
//! one JSON field `fields` that holds every other field under its own dotted name. `fields` is
//! a default field of the query parser, so `source.ip:203.0.113.5` or a vendor key such as
//! `srcip:10.1.1.1` work as written. The whole event is stored as JSON in `_source`.
//!
//! Exactly-once: each day index's commit carries the WAL position it is complete through
//! (tantivy's commit payload). Replaying the WAL after a crash skips records at or below that
//! position for that day, so nothing is indexed twice and nothing the WAL had is lost.

pub mod scan;
pub mod tokenizer;

use std::collections::HashMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::time::Instant;

use canh_core::{Event, Value, field};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value as Json};
use tantivy::collector::{Count, TopDocs};
use tantivy::directory::MmapDirectory;
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, RangeQuery};
use tantivy::query_grammar::{Occur as GOccur, UserInputAst, UserInputLeaf};
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, JsonObjectOptions, OwnedValue,
    STORED, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::{DateTime as TDateTime, Index, IndexWriter, Order, TantivyDocument, Term};

/// Memory tantivy may use to buffer documents per open day writer before flushing a segment.
pub const WRITER_MEMORY: usize = 96 * 1024 * 1024;
/// Day indexes kept open for writing at once (today, yesterday around midnight, and a late
/// straggler); older ones are committed and closed.
pub const MAX_OPEN_WRITERS: usize = 3;
/// Most results `canh search` returns.
pub const MAX_SEARCH_LIMIT: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("index {path}: {source}")]
    Tantivy {
        path: PathBuf,
        source: tantivy::TantivyError,
    },
    #[error("index {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("query {query:?}: {msg}")]
    Query { query: String, msg: String },
}

/// Handles to the fields of canh's schema.
#[derive(Clone)]
pub struct CanhSchema {
    pub schema: Schema,
    pub timestamp: Field,
    pub created: Field,
    pub dataset: Field,
    pub host: Field,
    pub message: Field,
    pub fields: Field,
    pub source: Field,
}

pub const F_TIMESTAMP: &str = field::TIMESTAMP;
pub const F_SOURCE: &str = "_source";
pub const F_FIELDS: &str = "fields";

impl CanhSchema {
    pub fn new() -> Self {
        let mut b = Schema::builder();
        let date = DateOptions::default()
            .set_indexed()
            .set_fast()
            .set_precision(DateTimePrecision::Microseconds);
        let keyword = TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(tokenizer::KEYWORD)
                    .set_index_option(IndexRecordOption::Basic),
            )
            .set_fast("raw");
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer::TEXT)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let json = JsonObjectOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(tokenizer::KEYWORD)
                    .set_index_option(IndexRecordOption::Basic),
            )
            .set_expand_dots_enabled();
        let timestamp = b.add_date_field(F_TIMESTAMP, date.clone());
        let created = b.add_date_field(field::EVENT_CREATED, date);
        let dataset = b.add_text_field(field::EVENT_DATASET, keyword.clone());
        let host = b.add_text_field(field::HOST_HOSTNAME, keyword);
        let message = b.add_text_field(field::MESSAGE, text);
        let fields = b.add_json_field(F_FIELDS, json);
        let source = b.add_text_field(F_SOURCE, STORED);
        CanhSchema {
            schema: b.build(),
            timestamp,
            created,
            dataset,
            host,
            message,
            fields,
            source,
        }
    }
}

impl Default for CanhSchema {
    fn default() -> Self {
        Self::new()
    }
}

fn register_tokenizers(index: &Index) {
    index
        .tokenizers()
        .register(tokenizer::TEXT, tokenizer::TextTokenizer::default());
    index
        .tokenizers()
        .register(tokenizer::KEYWORD, tokenizer::KeywordTokenizer::default());
}

fn tdate(t: DateTime<Utc>) -> TDateTime {
    TDateTime::from_timestamp_micros(t.timestamp_micros())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The event as one flat JSON object with ECS names: what `canh search --json` prints and
/// what `_source` stores. `event.original` holds the raw bytes (lossy UTF-8); when they are
/// not UTF-8, `canh.original_hex` holds them exactly. Serialised in one pass, borrowing.
pub struct EventJson<'a>(pub &'a Event, pub &'a [(&'static str, Value)]);

/// What canh adds about where an event came from and how it was read — one list for both the
/// stored `_source` and the indexed fields.
pub fn origin_fields(ev: &Event) -> Vec<(&'static str, Value)> {
    let mut v = vec![(F_LISTENER, Value::Str(ev.origin.listener.clone()))];
    if let Some(p) = ev.origin.peer {
        v.push((F_SOURCE_ADDRESS, Value::Str(p.to_string())));
        v.push((F_SOURCE_IP, Value::Str(p.ip().to_string())));
    }
    if !ev.warnings.is_empty() {
        v.push((
            F_WARNINGS,
            Value::List(ev.warnings.iter().map(ToString::to_string).collect()),
        ));
    }
    if ev.is_unparsed() {
        v.push((F_UNPARSED, Value::Bool(true)));
    }
    v
}

struct PlainValue<'a>(&'a Value);

impl Serialize for PlainValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Str(x) => s.serialize_str(x),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(x) if x.is_finite() => s.serialize_f64(*x),
            Value::Float(_) => s.serialize_none(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Ip(ip) => s.collect_str(ip),
            Value::List(items) => items.serialize(s),
        }
    }
}

struct Hex<'a>(&'a [u8]);

impl std::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl Serialize for EventJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ev = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry(F_TIMESTAMP, &rfc3339(ev.timestamp))?;
        m.serialize_entry(field::EVENT_CREATED, &rfc3339(ev.received))?;
        m.serialize_entry(field::EVENT_DATASET, ev.dataset.as_str())?;
        for (k, v) in &ev.fields {
            m.serialize_entry(k, &PlainValue(v))?;
        }
        for (k, v) in self.1 {
            m.serialize_entry(k, &PlainValue(v))?;
        }
        match std::str::from_utf8(&ev.raw) {
            Ok(text) => m.serialize_entry(F_ORIGINAL, text)?,
            Err(_) => {
                m.serialize_entry(F_ORIGINAL, &String::from_utf8_lossy(&ev.raw))?;
                m.serialize_entry(F_ORIGINAL_HEX, &Hex(&ev.raw).to_string())?;
            }
        }
        m.end()
    }
}

/// Names of the fields canh adds about where an event came from and how it was read.
pub const F_LISTENER: &str = "canh.listener";
pub const F_SOURCE_ADDRESS: &str = "log.source.address";
pub const F_SOURCE_IP: &str = "log.source.ip";
pub const F_WARNINGS: &str = "canh.warnings";
pub const F_UNPARSED: &str = "canh.unparsed";
pub const F_ORIGINAL: &str = "event.original";
pub const F_ORIGINAL_HEX: &str = "canh.original_hex";

/// The event as a JSON map (see [`EventJson`]).
pub fn event_json(ev: &Event) -> Map<String, Json> {
    match serde_json::to_value(EventJson(ev, &origin_fields(ev))) {
        Ok(Json::Object(m)) => m,
        _ => Map::new(),
    }
}

fn owned(v: Value) -> OwnedValue {
    match v {
        Value::Str(s) => OwnedValue::Str(s),
        Value::Int(i) => OwnedValue::I64(i),
        Value::Float(x) => OwnedValue::F64(x),
        Value::Bool(b) => OwnedValue::Bool(b),
        Value::Ip(ip) => OwnedValue::Str(ip.to_string()),
        Value::List(items) => OwnedValue::Array(items.into_iter().map(OwnedValue::Str).collect()),
    }
}

/// Converts an event to a tantivy document, moving its fields (no copies of values).
pub fn to_document(ev: Event, s: &CanhSchema) -> TantivyDocument {
    let mut d = TantivyDocument::default();
    let origin = origin_fields(&ev);
    let source =
        serde_json::to_string(&EventJson(&ev, &origin)).unwrap_or_else(|_| "{}".to_owned());
    d.add_date(s.timestamp, tdate(ev.timestamp));
    d.add_date(s.created, tdate(ev.received));
    d.add_text(s.dataset, ev.dataset.as_str());
    let mut obj: Vec<(String, OwnedValue)> = Vec::with_capacity(ev.fields.len() + origin.len());
    for (k, v) in ev.fields {
        match (k.as_str(), &v) {
            (field::MESSAGE, Value::Str(m)) => d.add_text(s.message, m),
            (field::HOST_HOSTNAME, Value::Str(h)) => {
                d.add_text(s.host, h);
                obj.push((k, owned(v)));
            }
            _ => obj.push((k, owned(v))),
        }
    }
    obj.extend(origin.into_iter().map(|(k, v)| (k.to_owned(), owned(v))));
    d.add_field_value(s.fields, &OwnedValue::Object(obj));
    d.add_text(s.source, source);
    d
}

/// The index of one day: its directory name is the date.
fn day_dir(root: &Path, day: NaiveDate) -> PathBuf {
    root.join(day.format("%Y-%m-%d").to_string())
}

/// Days present under `root`, oldest first.
pub fn list_days(root: &Path) -> Vec<NaiveDate> {
    let mut days: Vec<NaiveDate> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| NaiveDate::parse_from_str(e.file_name().to_str()?, "%Y-%m-%d").ok())
        .collect();
    days.sort();
    days
}

fn open_or_create(dir: &Path, s: &CanhSchema) -> Result<Index, IndexError> {
    std::fs::create_dir_all(dir).map_err(|source| IndexError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let tv = |source| IndexError::Tantivy {
        path: dir.to_owned(),
        source,
    };
    let mmap = MmapDirectory::open(dir).map_err(|e| tv(e.into()))?;
    let index = Index::open_or_create(mmap, s.schema.clone()).map_err(tv)?;
    register_tokenizers(&index);
    Ok(index)
}

/// The WAL position a day index is complete through (0 when never committed).
fn committed_position(index: &Index) -> u64 {
    index
        .load_metas()
        .ok()
        .and_then(|m| m.payload)
        .and_then(|p| serde_json::from_str::<Json>(&p).ok())
        .and_then(|j| j.get("wal_pos").and_then(Json::as_u64))
        .unwrap_or(0)
}

struct DayWriter {
    writer: IndexWriter,
    committed_pos: u64,
    dirty: bool,
    last_used: Instant,
}

/// Writers of the day indexes, with the exactly-once bookkeeping.
pub struct DayIndexes {
    root: PathBuf,
    schema: CanhSchema,
    writers: HashMap<NaiveDate, DayWriter>,
    threads: usize,
    /// Days before this one are past retention.
    cutoff: Option<NaiveDate>,
}

/// What [`DayIndexes::add`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Indexed,
    /// Already in that day's last commit (a WAL replay after a crash).
    AlreadyCommitted,
    /// Older than retention (a WAL replay after the day was deleted): not brought back.
    Expired,
}

impl DayIndexes {
    pub fn new(root: &Path, threads: usize) -> Self {
        DayIndexes {
            root: root.to_owned(),
            schema: CanhSchema::new(),
            writers: HashMap::new(),
            threads: threads.max(1),
            cutoff: None,
        }
    }

    fn writer(&mut self, day: NaiveDate) -> Result<&mut DayWriter, IndexError> {
        if !self.writers.contains_key(&day) {
            let dir = day_dir(&self.root, day);
            let index = open_or_create(&dir, &self.schema)?;
            let committed_pos = committed_position(&index);
            let writer = index
                .writer_with_num_threads(self.threads, WRITER_MEMORY * self.threads)
                .map_err(|source| IndexError::Tantivy {
                    path: dir.clone(),
                    source,
                })?;
            self.writers.insert(
                day,
                DayWriter {
                    writer,
                    committed_pos,
                    dirty: false,
                    last_used: Instant::now(),
                },
            );
        }
        Ok(self.writers.get_mut(&day).expect("just inserted"))
    }

    /// Closes clean writers beyond [`MAX_OPEN_WRITERS`], least recently used first. Called
    /// after a commit, never in the middle of a batch (a writer closed mid-batch could not say
    /// which of the batch's events it holds).
    fn close_extra(&mut self) -> Result<(), IndexError> {
        while self.writers.len() > MAX_OPEN_WRITERS {
            let Some((&day, _)) = self
                .writers
                .iter()
                .filter(|(_, w)| !w.dirty)
                .min_by_key(|(_, w)| w.last_used)
            else {
                return Ok(());
            };
            let w = self.writers.remove(&day).expect("present");
            finish_writer(&self.root, day, w)?;
        }
        Ok(())
    }

    /// Whether `day` is past retention (known once retention ran).
    pub fn is_expired(&self, day: NaiveDate) -> bool {
        self.cutoff.is_some_and(|c| day < c)
    }

    /// Opens (or creates) the writer of `day`, so that [`DayIndexes::add`] for it can only fail
    /// if the writer itself fails.
    pub fn open_day(&mut self, day: NaiveDate) -> Result<(), IndexError> {
        self.writer(day).map(|_| ())
    }

    /// Adds one event read from WAL position `pos`.
    pub fn add(&mut self, ev: Event, pos: u64) -> Result<Added, IndexError> {
        let day = ev.received.date_naive();
        if self.cutoff.is_some_and(|c| day < c) {
            return Ok(Added::Expired);
        }
        if pos <= self.writer(day)?.committed_pos {
            return Ok(Added::AlreadyCommitted);
        }
        let doc = to_document(ev, &self.schema);
        let w = self.writer(day)?;
        w.writer
            .add_document(doc)
            .map_err(|source| IndexError::Tantivy {
                path: PathBuf::from(day.to_string()),
                source,
            })?;
        w.dirty = true;
        w.last_used = Instant::now();
        Ok(Added::Indexed)
    }

    /// Commits every day with new documents, recording that each is complete through `pos`
    /// (the last WAL position handed to [`DayIndexes::add`]). Returns how many days committed.
    pub fn commit(&mut self, pos: u64) -> Result<usize, IndexError> {
        let mut n = 0;
        let root = self.root.clone();
        for (day, w) in self.writers.iter_mut() {
            if w.dirty {
                commit_writer(&root, *day, w, pos)?;
                n += 1;
            }
        }
        self.close_extra()?;
        Ok(n)
    }

    /// Commits and closes everything (shutdown).
    pub fn close(mut self, pos: u64) -> Result<(), IndexError> {
        self.commit(pos)?;
        for (day, w) in self.writers.drain() {
            finish_writer(&self.root, day, w)?;
        }
        Ok(())
    }

    /// Closes writers of days other than today that have been idle for `idle`.
    pub fn close_idle(
        &mut self,
        today: NaiveDate,
        idle: std::time::Duration,
    ) -> Result<(), IndexError> {
        let stale: Vec<NaiveDate> = self
            .writers
            .iter()
            .filter(|(d, w)| **d != today && !w.dirty && w.last_used.elapsed() > idle)
            .map(|(d, _)| *d)
            .collect();
        for day in stale {
            if let Some(w) = self.writers.remove(&day) {
                finish_writer(&self.root, day, w)?;
            }
        }
        Ok(())
    }

    /// Deletes day indexes older than `keep_days` before `today` (closing their writers first).
    pub fn apply_retention(
        &mut self,
        today: NaiveDate,
        keep_days: u32,
    ) -> Result<Vec<NaiveDate>, IndexError> {
        let cutoff = today - chrono::Days::new(u64::from(keep_days));
        self.cutoff = Some(cutoff);
        let mut removed = Vec::new();
        for day in list_days(&self.root) {
            if day < cutoff {
                if let Some(w) = self.writers.remove(&day) {
                    drop(w);
                }
                let dir = day_dir(&self.root, day);
                std::fs::remove_dir_all(&dir)
                    .map_err(|source| IndexError::Io { path: dir, source })?;
                removed.push(day);
            }
        }
        Ok(removed)
    }
}

/// Waits for a writer's merges and drops it.
fn finish_writer(root: &Path, day: NaiveDate, w: DayWriter) -> Result<(), IndexError> {
    w.writer
        .wait_merging_threads()
        .map_err(|source| IndexError::Tantivy {
            path: day_dir(root, day),
            source,
        })
}

fn commit_writer(
    root: &Path,
    day: NaiveDate,
    w: &mut DayWriter,
    pos: u64,
) -> Result<(), IndexError> {
    let path = day_dir(root, day);
    let mut prepared = w
        .writer
        .prepare_commit()
        .map_err(|source| IndexError::Tantivy {
            path: path.clone(),
            source,
        })?;
    prepared.set_payload(&serde_json::json!({ "wal_pos": pos }).to_string());
    prepared
        .commit()
        .map_err(|source| IndexError::Tantivy { path, source })?;
    w.committed_pos = pos;
    w.dirty = false;
    Ok(())
}

/// The highest WAL position any day index under `root` has committed (0 when none).
pub fn max_committed_position(root: &Path) -> u64 {
    list_days(root)
        .into_iter()
        .filter_map(|day| {
            let dir = day_dir(root, day);
            let mmap = MmapDirectory::open(&dir).ok()?;
            Index::exists(&mmap).ok()?.then_some(())?;
            Index::open(mmap).ok().map(|i| committed_position(&i))
        })
        .max()
        .unwrap_or(0)
}

/// A search over all day indexes.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub query: String,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: usize,
}

/// Opens the day indexes for reading (works while the engine writes them).
pub struct Reader {
    schema: CanhSchema,
    days: Vec<(NaiveDate, Index)>,
}

impl Reader {
    pub fn open(root: &Path) -> Result<Reader, IndexError> {
        let schema = CanhSchema::new();
        let mut days = Vec::new();
        for day in list_days(root) {
            let dir = day_dir(root, day);
            let tv = |source| IndexError::Tantivy {
                path: dir.clone(),
                source,
            };
            let mmap = MmapDirectory::open(&dir).map_err(|e| tv(e.into()))?;
            if !Index::exists(&mmap).map_err(|e| tv(e.into()))? {
                continue;
            }
            let index = Index::open(mmap).map_err(tv)?;
            register_tokenizers(&index);
            days.push((day, index));
        }
        Ok(Reader { schema, days })
    }

    pub fn day_count(&self) -> usize {
        self.days.len()
    }

    fn query(&self, index: &Index, req: &SearchRequest) -> Result<Box<dyn Query>, IndexError> {
        let s = &self.schema;
        let q = req.query.trim();
        let user: Box<dyn Query> = if q.is_empty() || q == "*" {
            Box::new(AllQuery)
        } else {
            let mut parser = QueryParser::for_index(index, vec![s.message, s.host, s.fields]);
            parser.set_conjunction_by_default();
            let err = |msg: String| IndexError::Query {
                query: q.to_owned(),
                msg,
            };
            let ast = tantivy::query_grammar::parse_query(q)
                .map_err(|_| err("syntax error (quote values with spaces or colons)".into()))?;
            parser
                .build_query_from_user_input_ast(normalize_negations(ast))
                .map_err(|e| err(e.to_string()))?
        };
        if req.from.is_none() && req.to.is_none() {
            return Ok(user);
        }
        let lo = req.from.map_or(Bound::Unbounded, |t| {
            Bound::Included(Term::from_field_date(s.timestamp, tdate(t)))
        });
        let hi = req.to.map_or(Bound::Unbounded, |t| {
            Bound::Excluded(Term::from_field_date(s.timestamp, tdate(t)))
        });
        let range: Box<dyn Query> = Box::new(RangeQuery::new(lo, hi));
        Ok(Box::new(BooleanQuery::new(vec![
            (Occur::Must, user),
            (Occur::Must, range),
        ])))
    }

    /// Number of matching events.
    pub fn count(&self, req: &SearchRequest) -> Result<u64, IndexError> {
        let mut n = 0u64;
        for (day, index) in &self.days {
            let q = self.query(index, req)?;
            let searcher = reader(index, *day)?.searcher();
            n += searcher
                .search(&q, &Count)
                .map_err(|source| IndexError::Tantivy {
                    path: day.to_string().into(),
                    source,
                })? as u64;
        }
        Ok(n)
    }

    /// The newest `req.limit` matching events (by `@timestamp`), newest first, as stored JSON.
    pub fn search(&self, req: &SearchRequest) -> Result<Vec<Map<String, Json>>, IndexError> {
        let limit = req.limit.clamp(1, MAX_SEARCH_LIMIT);
        let mut hits: Vec<(i64, Map<String, Json>)> = Vec::new();
        for (day, index) in &self.days {
            let q = self.query(index, req)?;
            let searcher = reader(index, *day)?.searcher();
            let tv = |source| IndexError::Tantivy {
                path: day.to_string().into(),
                source,
            };
            let top = searcher
                .search(
                    &q,
                    &TopDocs::with_limit(limit)
                        .order_by_fast_field::<TDateTime>(F_TIMESTAMP, Order::Desc),
                )
                .map_err(tv)?;
            for (t, addr) in top {
                let doc: TantivyDocument = searcher.doc(addr).map_err(tv)?;
                let src = doc
                    .get_first(self.schema.source)
                    .and_then(|v| tantivy::schema::Value::as_str(&v))
                    .unwrap_or("{}");
                let map = match serde_json::from_str::<Json>(src) {
                    Ok(Json::Object(m)) => m,
                    _ => Map::new(),
                };
                hits.push((t.map_or(i64::MIN, |t| t.into_timestamp_micros()), map));
            }
        }
        hits.sort_by_key(|h| std::cmp::Reverse(h.0));
        hits.truncate(limit);
        Ok(hits.into_iter().map(|h| h.1).collect())
    }
}

/// Makes negations mean what an officer means. tantivy reads `a AND NOT b` as `a AND (NOT b)`,
/// and a clause made only of exclusions matches nothing, so the whole query would match
/// nothing: such a sub-clause inside a conjunction is spliced into it (`+a -b`), and a query
/// made only of exclusions (`NOT b`) gets "every event" added (`* -b`).
fn normalize_negations(ast: UserInputAst) -> UserInputAst {
    fn all_negative(items: &[(Option<GOccur>, UserInputAst)]) -> bool {
        !items.is_empty() && items.iter().all(|(o, _)| *o == Some(GOccur::MustNot))
    }
    fn walk(ast: UserInputAst) -> UserInputAst {
        match ast {
            UserInputAst::Clause(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (occur, child) in items {
                    match (occur, walk(child)) {
                        (Some(GOccur::Must) | None, UserInputAst::Clause(inner))
                            if all_negative(&inner) =>
                        {
                            out.extend(inner);
                        }
                        (o, c) => out.push((o, c)),
                    }
                }
                UserInputAst::Clause(out)
            }
            UserInputAst::Boost(inner, b) => UserInputAst::Boost(Box::new(walk(*inner)), b),
            leaf => leaf,
        }
    }
    match walk(ast) {
        UserInputAst::Clause(mut items) if all_negative(&items) => {
            items.push((
                Some(GOccur::Must),
                UserInputAst::Leaf(Box::new(UserInputLeaf::All)),
            ));
            UserInputAst::Clause(items)
        }
        other => other,
    }
}

fn reader(index: &Index, day: NaiveDate) -> Result<tantivy::IndexReader, IndexError> {
    index
        .reader_builder()
        .reload_policy(tantivy::ReloadPolicy::Manual)
        .try_into()
        .map_err(|source| IndexError::Tantivy {
            path: day.to_string().into(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use canh_core::{Dataset, Origin};
    use chrono::TimeZone;

    fn ev(msg: &str, host: &str, secs: i64) -> Event {
        let t = Utc.timestamp_opt(1_764_000_000 + secs, 0).unwrap();
        let mut e = Event::new(
            Dataset::Syslog,
            Origin::new("test", None),
            t,
            msg.as_bytes().to_vec(),
        );
        e.set(field::MESSAGE, msg);
        e.set(field::HOST_HOSTNAME, host);
        e.set(
            field::SOURCE_IP,
            "203.0.113.5".parse::<std::net::IpAddr>().unwrap(),
        );
        e.set(field::PROCESS_PID, 42i64);
        e.set("srcip", "10.1.1.1");
        e
    }

    fn req(q: &str) -> SearchRequest {
        SearchRequest {
            query: q.into(),
            from: None,
            to: None,
            limit: 10,
        }
    }

    #[test]
    fn index_search_and_exactly_once() {
        let d = tempfile::tempdir().unwrap();
        let mut ix = DayIndexes::new(d.path(), 1);
        assert_eq!(
            ix.add(ev("Đăng nhập thất bại", "Web01", 0), 1).unwrap(),
            Added::Indexed
        );
        assert_eq!(
            ix.add(ev("Failed password for root", "db02", 1), 2)
                .unwrap(),
            Added::Indexed
        );
        ix.commit(2).unwrap();
        // a replay of position 2 is recognised as already committed
        assert_eq!(
            ix.add(ev("Failed password for root", "db02", 1), 2)
                .unwrap(),
            Added::AlreadyCommitted
        );
        ix.close(2).unwrap();
        let mut ix = DayIndexes::new(d.path(), 1);
        assert_eq!(
            ix.add(ev("again", "db02", 2), 2).unwrap(),
            Added::AlreadyCommitted
        );
        assert_eq!(ix.add(ev("new", "db02", 3), 3).unwrap(), Added::Indexed);
        ix.close(3).unwrap();

        let r = Reader::open(d.path()).unwrap();
        let count = |q: &str| r.count(&req(q)).unwrap();
        assert_eq!(count("*"), 3);
        assert_eq!(count("\"ĐĂNG NHẬP\""), 1);
        assert_eq!(count("đăng"), 1);
        assert_eq!(count("message:\"failed password\""), 1);
        assert_eq!(count("host.hostname:web01"), 1);
        assert_eq!(count("source.ip:203.0.113.5 AND event.dataset:syslog"), 3);
        assert_eq!(count("srcip:10.1.1.1"), 3);
        assert_eq!(count("process.pid:42"), 3);
        // negations mean what they say
        assert_eq!(
            count("source.ip:203.0.113.5 AND NOT host.hostname:web01"),
            2
        );
        assert_eq!(count("NOT host.hostname:web01"), 2);
        assert_eq!(count("* -host.hostname:web01"), 2);
        assert_eq!(
            count("srcip:10.1.1.1 AND NOT (host.hostname:web01 OR message:new)"),
            1
        );
        let hits = r.search(&req("*")).unwrap();
        assert_eq!(hits[0]["message"], "new");
        assert_eq!(hits[2]["host.hostname"], "Web01");
        let from = Utc.timestamp_opt(1_764_000_001, 0).unwrap();
        let windowed = SearchRequest {
            from: Some(from),
            ..req("*")
        };
        assert_eq!(r.count(&windowed).unwrap(), 2);
    }

    #[test]
    fn retention_drops_whole_old_days_only() {
        let d = tempfile::tempdir().unwrap();
        for day in ["2026-08-01", "2026-08-26", "2026-08-27", "2026-11-25"] {
            std::fs::create_dir_all(d.path().join(day)).unwrap();
        }
        std::fs::create_dir_all(d.path().join("not-a-day")).unwrap();
        let mut ix = DayIndexes::new(d.path(), 1);
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let removed = ix.apply_retention(today, 90).unwrap();
        let fmt = |v: &[NaiveDate]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(fmt(&removed), vec!["2026-08-01", "2026-08-26"]);
        assert_eq!(fmt(&list_days(d.path())), vec!["2026-08-27", "2026-11-25"]);
        assert!(d.path().join("not-a-day").exists());
        // a WAL replay of an event received on a deleted day does not bring the day back
        let mut old = ev("old", "h", 0);
        old.received = NaiveDate::from_ymd_opt(2026, 8, 1)
            .unwrap()
            .and_hms_opt(1, 0, 0)
            .unwrap()
            .and_utc();
        assert_eq!(ix.add(old, 7).unwrap(), Added::Expired);
        assert!(!d.path().join("2026-08-01").exists());
    }

    #[test]
    fn bad_query_is_a_query_error() {
        let d = tempfile::tempdir().unwrap();
        let mut ix = DayIndexes::new(d.path(), 1);
        ix.add(ev("x", "h", 0), 1).unwrap();
        ix.close(1).unwrap();
        let r = Reader::open(d.path()).unwrap();
        assert!(matches!(
            r.count(&req("message:(unclosed")),
            Err(IndexError::Query { .. })
        ));
    }
}
