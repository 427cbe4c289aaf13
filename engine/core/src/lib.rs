//! canh-core: the event model shared by every canh crate. No I/O, no runtime.
//!
//! An [`Event`] is one record received by canh: a syslog message or a flow record. It keeps
//! the bytes it came from ([`Event::raw`]), where and when it arrived ([`Origin`],
//! [`Event::received`]), the time it says it happened ([`Event::timestamp`]), and fields named
//! after the Elastic Common Schema ([`field`]). Events travel in [`Batch`]es whose
//! [`BatchId`] is transport-neutral: the same id names a batch in the engine's write-ahead log,
//! on a collector's spool and on the wire, so re-delivery can be recognised.
//!
//! ```
//! use canh_core::{Event, Dataset, Origin, Value, field};
//! use chrono::{TimeZone, Utc};
//!
//! let now = Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap();
//! let mut ev = Event::new(Dataset::Syslog, Origin::new("tcp://127.0.0.1:5514", None), now, b"<13>hi".to_vec());
//! ev.set(field::MESSAGE, "hi");
//! ev.set(field::SYSLOG_SEVERITY_CODE, 5i64);
//! assert_eq!(ev.get_str(field::MESSAGE), Some("hi"));
//! assert_eq!(ev.get(field::SYSLOG_SEVERITY_CODE), Some(&Value::Int(5)));
//! ```

pub mod field;
pub mod syslog_names;
pub mod time;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which kind of source an event came from (`event.dataset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataset {
    Syslog,
    Netflow,
}

impl Dataset {
    pub fn as_str(self) -> &'static str {
        match self {
            Dataset::Syslog => "syslog",
            Dataset::Netflow => "netflow",
        }
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an event entered canh: the listener (its URL, e.g. `udp://0.0.0.0:514`, or
/// `file:/path` for `canh ingest`) and the peer that sent it, when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub listener: String,
    pub peer: Option<SocketAddr>,
}

impl Origin {
    pub fn new(listener: impl Into<String>, peer: Option<SocketAddr>) -> Self {
        Origin {
            listener: listener.into(),
            peer,
        }
    }
}

/// A field value. Kept small and self-describing so it serialises with compact binary formats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Ip(IpAddr),
    /// Several strings, e.g. the ids of every rule an event matched (`rule.id`).
    List(Vec<String>),
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Str(s) => s.parse().ok(),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Ip(ip) => write!(f, "{ip}"),
            Value::List(items) => f.write_str(&items.join(", ")),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<u16> for Value {
    fn from(i: u16) -> Self {
        Value::Int(i64::from(i))
    }
}
impl From<u32> for Value {
    fn from(i: u32) -> Self {
        Value::Int(i64::from(i))
    }
}
impl From<u8> for Value {
    fn from(i: u8) -> Self {
        Value::Int(i64::from(i))
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<IpAddr> for Value {
    fn from(ip: IpAddr) -> Self {
        Value::Ip(ip)
    }
}
impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}

/// Something a parser noticed about a record. A record with warnings is still kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParseWarning {
    /// The record matched no known layout; it is kept whole as `message`.
    Unparsed { reason: String },
    /// No `<PRI>`; facility and severity were not set.
    NoPri,
    /// The record was longer than the listener's limit and was cut.
    Truncated { original_len: usize },
    /// Bytes that are not UTF-8 were replaced in `message` (the raw bytes keep them).
    InvalidUtf8,
    /// The timestamp could not be read; `@timestamp` is the receive time.
    BadTimestamp { text: String },
    /// A structured-data element could not be read; the rest of the message was kept.
    BadStructuredData { offset: usize },
}

impl fmt::Display for ParseWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseWarning::Unparsed { reason } => write!(f, "unparsed: {reason}"),
            ParseWarning::NoPri => f.write_str("no PRI"),
            ParseWarning::Truncated { original_len } => {
                write!(f, "truncated from {original_len} bytes")
            }
            ParseWarning::InvalidUtf8 => f.write_str("invalid UTF-8 replaced"),
            ParseWarning::BadTimestamp { text } => write!(f, "unreadable timestamp {text:?}"),
            ParseWarning::BadStructuredData { offset } => {
                write!(f, "bad structured data at byte {offset}")
            }
        }
    }
}

/// Ordered field map: ECS name → value. Ordered so that output is deterministic.
pub type Fields = BTreeMap<String, Value>;

/// One record received by canh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// `@timestamp`: when the record says it happened (the receive time when it says nothing).
    pub timestamp: DateTime<Utc>,
    /// `event.created`: when canh received it.
    pub received: DateTime<Utc>,
    /// `event.dataset`.
    pub dataset: Dataset,
    pub origin: Origin,
    /// ECS-named fields (see [`field`]); vendor keys keep their own names.
    pub fields: Fields,
    /// The bytes as received (after framing), kept for forensics.
    pub raw: Vec<u8>,
    pub warnings: Vec<ParseWarning>,
}

impl Event {
    pub fn new(dataset: Dataset, origin: Origin, received: DateTime<Utc>, raw: Vec<u8>) -> Self {
        Event {
            timestamp: received,
            received,
            dataset,
            origin,
            fields: Fields::new(),
            raw,
            warnings: Vec::new(),
        }
    }

    pub fn set(&mut self, name: &str, value: impl Into<Value>) {
        self.fields.insert(name.to_owned(), value.into());
    }

    /// Sets `name` only if it is not set yet (decoders must not overwrite header fields).
    pub fn set_default(&mut self, name: &str, value: impl Into<Value>) {
        self.fields
            .entry(name.to_owned())
            .or_insert_with(|| value.into());
    }

    /// Sets `url.original` to an HTTP request target, and `url.path` and `url.query` when it
    /// is a path (`/a/b?q`); none of them if already set.
    pub fn set_url_default(&mut self, target: &str) {
        self.set_default(field::URL_ORIGINAL, target);
        if target.starts_with('/') {
            let (path, query) = match target.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (target, None),
            };
            self.set_default(field::URL_PATH, path);
            if let Some(q) = query {
                self.set_default(field::URL_QUERY, q);
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }

    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }

    /// True when no parser understood the record.
    pub fn is_unparsed(&self) -> bool {
        self.warnings
            .iter()
            .any(|w| matches!(w, ParseWarning::Unparsed { .. }))
    }

    pub fn is_truncated(&self) -> bool {
        self.warnings
            .iter()
            .any(|w| matches!(w, ParseWarning::Truncated { .. }))
    }

    /// The host that sent the event: `host.hostname`, else the peer address.
    pub fn source_host(&self) -> String {
        if let Some(h) = self.get_str(field::HOST_HOSTNAME) {
            return h.to_owned();
        }
        match self.origin.peer {
            Some(p) => p.ip().to_string(),
            None => "-".to_owned(),
        }
    }
}

/// Transport-neutral identity of a batch: who produced it and its sequence number there.
/// The engine's own listeners produce `local` batches; an edge collector uses its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BatchId {
    pub producer: String,
    pub seq: u64,
}

impl fmt::Display for BatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.producer, self.seq)
    }
}

/// Events that are made durable, shipped and acknowledged together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub id: BatchId,
    pub events: Vec<Event>,
}

/// A UDP datagram as it arrived, kept whole. NetFlow and IPFIX reach the engine's write-ahead
/// log in this form and are decoded behind it, in arrival order: a burst is kept at the rate
/// the disk takes it, not the rate the index does. Like [`Batch`], it names its listener and
/// exporter, so any transport can carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Datagram {
    /// The listener's URL (`udp://0.0.0.0:2055`): decoders keep template state per listener.
    pub listener: String,
    pub peer: SocketAddr,
    pub received: DateTime<Utc>,
    #[serde(with = "bytes")]
    pub data: Vec<u8>,
}

/// Serializes a byte vector as one byte string rather than a sequence of numbers: postcard
/// then writes a length and copies the bytes, instead of visiting each byte.
mod bytes {
    use serde::de::{self, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};
    use std::fmt;

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::with_capacity(a.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(b) = a.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_byte_buf(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn datagram_round_trips_through_postcard_and_json() {
        let d = Datagram {
            listener: "udp://0.0.0.0:2055".into(),
            peer: "192.0.2.7:40000".parse().unwrap(),
            received: Utc.with_ymd_and_hms(2026, 12, 7, 1, 2, 3).unwrap(),
            data: (0..=255u8).collect(),
        };
        let bin = postcard::to_allocvec(&d).unwrap();
        // the bytes are copied as one string: 256 bytes plus a 2-byte length, not 256 varints
        let header = postcard::to_allocvec(&(&d.listener, &d.peer, &d.received)).unwrap();
        assert_eq!(bin.len(), header.len() + 2 + 256);
        assert_eq!(postcard::from_bytes::<Datagram>(&bin).unwrap(), d);
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<Datagram>(&json).unwrap(), d);
    }

    fn sample() -> Event {
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let mut e = Event::new(
            Dataset::Syslog,
            Origin::new(
                "udp://127.0.0.1:5514",
                Some("10.0.0.1:999".parse().unwrap()),
            ),
            t,
            b"raw \xff bytes".to_vec(),
        );
        e.set(field::MESSAGE, "đăng nhập");
        e.set(field::PROCESS_PID, 42i64);
        e.set(field::SOURCE_IP, "203.0.113.5".parse::<IpAddr>().unwrap());
        e.warnings.push(ParseWarning::NoPri);
        e
    }

    #[test]
    fn batch_round_trips_through_compact_binary() {
        let b = Batch {
            id: BatchId {
                producer: "local".into(),
                seq: 7,
            },
            events: vec![sample()],
        };
        let bytes = postcard::to_allocvec(&b).unwrap();
        let back: Batch = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, b);
    }

    #[test]
    fn source_host_falls_back_to_peer() {
        let mut e = sample();
        assert_eq!(e.source_host(), "10.0.0.1");
        e.set(field::HOST_HOSTNAME, "web01");
        assert_eq!(e.source_host(), "web01");
    }

    #[test]
    fn set_default_keeps_existing() {
        let mut e = sample();
        e.set_default(field::PROCESS_PID, 1i64);
        assert_eq!(e.get(field::PROCESS_PID), Some(&Value::Int(42)));
    }
}
