//! Write-ahead log: batches of events made durable before anything else sees them.
//!
//! On-disk format and crash semantics are described in `engine/WAL.md`. In short: segment
//! files `wal-<first position>.log` hold records
//! `magic:u32 | len:u32 | crc32(pos ‖ payload):u32 | pos:u64 | payload[len]` (little endian),
//! one record per batch, positions increasing by one. A record is durable once
//! [`Wal::append`] returns (the segment was `fdatasync`ed). On open, a torn or corrupt tail of
//! the last segment is cut off; a corrupt record inside an older segment ends that segment
//! and is reported.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use canh_core::{Batch, Datagram};

/// Wait between two attempts of [`Wal::append_until_durable`].
pub const APPEND_RETRY: std::time::Duration = std::time::Duration::from_secs(1);
/// Marks the start of a record of events ("CHNW" read little-endian).
const MAGIC: u32 = 0x574E_4843;
/// Marks the start of a record of raw datagrams ("CHNF"), decoded after they are durable.
const MAGIC_DATAGRAMS: u32 = 0x464E_4843;
const HEADER_LEN: usize = 4 + 4 + 4 + 8;
/// A segment is closed and a new one started past this size.
pub const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Largest record accepted when reading (a batch is at most a few MiB; anything larger is
/// corruption, and refusing it keeps a damaged length from allocating without bound).
pub const MAX_RECORD_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("write-ahead log {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("write-ahead log record {pos} in {path}: cannot decode batch: {msg}")]
    Decode {
        path: PathBuf,
        pos: u64,
        msg: String,
    },
    #[error("cannot encode batch: {0}")]
    Encode(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> WalError + '_ {
    move |source| WalError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What [`Wal::open`] found on disk.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    pub segments: usize,
    pub records: u64,
    /// Bytes cut off the end of the last segment (a write that never completed).
    pub torn_bytes: u64,
    /// Corrupt records found inside older segments (the rest of such a segment is skipped).
    pub corrupt_segments: Vec<PathBuf>,
}

/// What a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A [`Batch`] of events.
    Events,
    /// [`Datagram`]s as received (NetFlow/IPFIX), to be decoded.
    Datagrams,
}

impl RecordKind {
    fn of_magic(m: u32) -> Option<RecordKind> {
        match m {
            MAGIC => Some(RecordKind::Events),
            MAGIC_DATAGRAMS => Some(RecordKind::Datagrams),
            _ => None,
        }
    }

    fn magic(self) -> u32 {
        match self {
            RecordKind::Events => MAGIC,
            RecordKind::Datagrams => MAGIC_DATAGRAMS,
        }
    }
}

/// A record read back from the log.
#[derive(Debug)]
pub struct Record {
    pub pos: u64,
    pub kind: RecordKind,
    pub payload: Vec<u8>,
}

pub struct Wal {
    dir: PathBuf,
    /// (first position, path) of every segment, oldest first; the last is being written.
    segments: Vec<(u64, PathBuf)>,
    file: File,
    file_len: u64,
    next_pos: u64,
    buf: Vec<u8>,
    /// A segment is closed and a new one started past this size ([`SEGMENT_BYTES`] unless
    /// set otherwise).
    segment_bytes: u64,
}

impl Wal {
    /// Sets the size past which a new segment starts (the collector's spool uses smaller
    /// segments than the engine, so acknowledged data is deleted sooner).
    pub fn set_segment_bytes(&mut self, n: u64) {
        self.segment_bytes = n.max(1);
    }

    /// Opens (or creates) the log in `dir`, repairs a torn tail and returns the records to
    /// replay through `replay` in order.
    pub fn open(dir: &Path, replay: impl FnMut(Record)) -> Result<(Wal, Recovery), WalError> {
        Wal::open_after(dir, 0, replay)
    }

    /// Like [`Wal::open`], but new records get positions above `committed` even when the log
    /// on disk ends lower (a lost tail, a deleted folder): the index has committed through
    /// `committed`, and a reused position would be skipped there as already indexed.
    pub fn open_after(
        dir: &Path,
        committed: u64,
        mut replay: impl FnMut(Record),
    ) -> Result<(Wal, Recovery), WalError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut segments = list_segments(dir)?;
        let mut rec = Recovery {
            segments: segments.len(),
            ..Recovery::default()
        };
        let mut next_pos = segments.first().map_or(1, |s| s.0);
        let count = segments.len();
        for (k, (_, path)) in segments.iter().enumerate() {
            let last = k + 1 == count;
            let (valid_len, file_len, ok) = scan_segment(path, |r| {
                next_pos = r.pos + 1;
                rec.records += 1;
                replay(r);
            })?;
            if !ok {
                if last {
                    rec.torn_bytes = file_len - valid_len;
                    let f = OpenOptions::new()
                        .write(true)
                        .open(path)
                        .map_err(io_err(path))?;
                    f.set_len(valid_len).map_err(io_err(path))?;
                    f.sync_all().map_err(io_err(path))?;
                } else {
                    rec.corrupt_segments.push(path.clone());
                }
            }
        }
        if next_pos <= committed {
            next_pos = committed + 1;
            // start a fresh segment at that position so file names stay in order
            segments.push((next_pos, segment_path(dir, next_pos)));
        }
        if segments.is_empty() {
            segments.push((next_pos, segment_path(dir, next_pos)));
        }
        let (_, path) = segments.last().expect("one segment").clone();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        let file_len = file.metadata().map_err(io_err(&path))?.len();
        sync_dir(dir)?;
        Ok((
            Wal {
                dir: dir.to_owned(),
                segments,
                file,
                file_len,
                next_pos,
                buf: Vec::new(),
                segment_bytes: SEGMENT_BYTES,
            },
            rec,
        ))
    }

    /// The position the next record will get.
    pub fn next_pos(&self) -> u64 {
        self.next_pos
    }

    /// Encodes, writes and fsyncs one batch; returns its position. Durable on return.
    pub fn append(&mut self, batch: &Batch) -> Result<u64, WalError> {
        self.append_encoded(batch, RecordKind::Events)
    }

    /// Writes and fsyncs datagrams as one record of their own kind; returns its position.
    pub fn append_datagrams(&mut self, datagrams: &[Datagram]) -> Result<u64, WalError> {
        self.append_encoded(datagrams, RecordKind::Datagrams)
    }

    fn append_encoded<T: serde::Serialize + ?Sized>(
        &mut self,
        value: &T,
        kind: RecordKind,
    ) -> Result<u64, WalError> {
        // encode straight after a header placeholder in the reused buffer: no per-batch
        // allocation (batches are megabytes; fresh pages cost more than the encoding)
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        buf.resize(HEADER_LEN, 0);
        let buf = postcard::to_extend(value, buf).map_err(|e| WalError::Encode(e.to_string()))?;
        self.buf = buf;
        self.write_record(kind)
    }

    /// [`Wal::append`], retried every [`APPEND_RETRY`] while the disk fails (full, failing):
    /// nothing behind the batch is acknowledged meanwhile, so the queues in front fill and
    /// back-pressure reaches the senders. `what` names the log in the error line.
    pub fn append_until_durable(&mut self, batch: &Batch, what: &str) -> u64 {
        retry_until_durable(what, || self.append(batch))
    }

    /// [`Wal::append_datagrams`], retried like [`Wal::append_until_durable`].
    pub fn append_datagrams_until_durable(&mut self, d: &[Datagram], what: &str) -> u64 {
        retry_until_durable(what, || self.append_datagrams(d))
    }

    pub fn append_bytes(&mut self, payload: &[u8]) -> Result<u64, WalError> {
        self.buf.clear();
        self.buf.resize(HEADER_LEN, 0);
        self.buf.extend_from_slice(payload);
        self.write_record(RecordKind::Events)
    }

    /// Writes `self.buf` (header placeholder + payload) as the next record and syncs.
    fn write_record(&mut self, kind: RecordKind) -> Result<u64, WalError> {
        if self.buf.len() - HEADER_LEN > MAX_RECORD_BYTES {
            return Err(WalError::Encode(format!(
                "batch of {} bytes is larger than a WAL record may be ({MAX_RECORD_BYTES})",
                self.buf.len() - HEADER_LEN
            )));
        }
        if self.file_len >= self.segment_bytes {
            self.roll()?;
        }
        let pos = self.next_pos;
        let payload_len = self.buf.len() - HEADER_LEN;
        let mut crc = crc32fast::Hasher::new();
        crc.update(&pos.to_le_bytes());
        crc.update(&self.buf[HEADER_LEN..]);
        self.buf[0..4].copy_from_slice(&kind.magic().to_le_bytes());
        self.buf[4..8].copy_from_slice(&(payload_len as u32).to_le_bytes());
        self.buf[8..12].copy_from_slice(&crc.finalize().to_le_bytes());
        self.buf[12..20].copy_from_slice(&pos.to_le_bytes());
        let path = self.segments.last().expect("one segment").1.clone();
        if let Err(e) = self
            .file
            .write_all(&self.buf)
            .and_then(|()| self.file.sync_data())
        {
            // A short write (ENOSPC) or failed sync must not leave part of this record in the
            // file: the retry appends it again, and a torn record in the middle would end
            // the log there on the next open. Cut back to the last good record.
            if let Err(cut) = self
                .file
                .set_len(self.file_len)
                .and_then(|()| self.file.sync_data())
            {
                tracing::error!(path = %path.display(), error = %cut, "cannot cut a failed WAL write back");
            }
            return Err(WalError::Io { path, source: e });
        }
        self.file_len += self.buf.len() as u64;
        self.next_pos += 1;
        Ok(pos)
    }

    fn roll(&mut self) -> Result<(), WalError> {
        let path = segment_path(&self.dir, self.next_pos);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        sync_dir(&self.dir)?;
        self.file = file;
        self.file_len = 0;
        self.segments.push((self.next_pos, path));
        Ok(())
    }

    /// Deletes segments whose every record is at or below `pos` (indexed and committed).
    /// The segment being written is never deleted. Returns how many were removed.
    pub fn truncate_through(&mut self, pos: u64) -> Result<usize, WalError> {
        let mut removed = 0;
        // segment k holds [first_k, first_{k+1}); removable when first_{k+1} <= pos + 1
        while self.segments.len() > 1 && self.segments[1].0 <= pos + 1 {
            let (_, path) = self.segments.remove(0);
            fs::remove_file(&path).map_err(io_err(&path))?;
            removed += 1;
        }
        if removed > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    /// Bytes on disk across all segments.
    pub fn disk_bytes(&self) -> u64 {
        self.segments
            .iter()
            .filter_map(|(_, p)| fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }
}

fn retry_until_durable(what: &str, mut append: impl FnMut() -> Result<u64, WalError>) -> u64 {
    loop {
        match append() {
            Ok(pos) => return pos,
            Err(e) => {
                tracing::error!(error = %e, log = what, "append failed; retrying in 1 s");
                std::thread::sleep(APPEND_RETRY);
            }
        }
    }
}

/// Decodes a record of events into a batch.
pub fn decode(path_hint: &Path, r: &Record) -> Result<Batch, WalError> {
    decode_kind(path_hint, r, RecordKind::Events)
}

/// Decodes a record of datagrams.
pub fn decode_datagrams(path_hint: &Path, r: &Record) -> Result<Vec<Datagram>, WalError> {
    decode_kind(path_hint, r, RecordKind::Datagrams)
}

fn decode_kind<T: serde::de::DeserializeOwned>(
    path_hint: &Path,
    r: &Record,
    want: RecordKind,
) -> Result<T, WalError> {
    let err = |msg: String| WalError::Decode {
        path: path_hint.to_owned(),
        pos: r.pos,
        msg,
    };
    if r.kind != want {
        return Err(err(format!("record holds {:?}, not {want:?}", r.kind)));
    }
    postcard::from_bytes(&r.payload).map_err(|e| err(e.to_string()))
}

fn segment_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("wal-{first:020}.log"))
}

fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, WalError> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(io_err(dir))? {
        let e = e.map_err(io_err(dir))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(n) = name
            .strip_prefix("wal-")
            .and_then(|s| s.strip_suffix(".log"))
            && let Ok(first) = n.parse::<u64>()
        {
            out.push((first, e.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Reads every valid record of a segment. Returns (valid length, file length, clean end).
fn scan_segment(path: &Path, mut f: impl FnMut(Record)) -> Result<(u64, u64, bool), WalError> {
    let file = File::open(path).map_err(io_err(path))?;
    let file_len = file.metadata().map_err(io_err(path))?.len();
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut valid = 0u64;
    let mut last_pos: Option<u64> = None;
    let mut header = [0u8; HEADER_LEN];
    loop {
        if valid == file_len {
            return Ok((valid, file_len, true));
        }
        if read_full(&mut r, &mut header).map_err(io_err(path))? < HEADER_LEN {
            return Ok((valid, file_len, false));
        }
        let magic = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes"));
        let len = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
        let pos = u64::from_le_bytes(header[12..20].try_into().expect("8 bytes"));
        let Some(kind) = RecordKind::of_magic(magic) else {
            return Ok((valid, file_len, false));
        };
        if len > MAX_RECORD_BYTES || valid + (HEADER_LEN + len) as u64 > file_len {
            return Ok((valid, file_len, false));
        }
        let mut payload = vec![0u8; len];
        if read_full(&mut r, &mut payload).map_err(io_err(path))? < len {
            return Ok((valid, file_len, false));
        }
        let mut h = crc32fast::Hasher::new();
        h.update(&pos.to_le_bytes());
        h.update(&payload);
        if h.finalize() != crc {
            return Ok((valid, file_len, false));
        }
        if last_pos.is_some_and(|p| pos <= p) {
            // a position that does not increase is not a record this log wrote in order
            return Ok((valid, file_len, false));
        }
        last_pos = Some(pos);
        valid += (HEADER_LEN + len) as u64;
        f(Record { pos, kind, payload });
    }
}

/// Reads records with positions in `(after, through]` from the log in `dir`, oldest first,
/// stopping once their payloads reach `max_bytes` (at least one record is returned when one
/// is there). Safe while a writer appends: a record still being written ends the read.
/// Records at or below `after` are skipped by their length, without reading them.
pub fn read_after(
    dir: &Path,
    after: u64,
    through: u64,
    max_bytes: usize,
) -> Result<Vec<Record>, WalError> {
    let segments = list_segments(dir)?;
    let mut out = Vec::new();
    let mut bytes = 0usize;
    for (k, (first, path)) in segments.iter().enumerate() {
        // a segment whose successor starts at or below after+1 holds nothing we want
        if segments
            .get(k + 1)
            .is_some_and(|(next, _)| *next <= after + 1)
        {
            continue;
        }
        if *first > through {
            break;
        }
        let file = match File::open(path) {
            Ok(f) => f,
            // truncated away meanwhile: its records were acknowledged
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(path)(e)),
        };
        let file_len = file.metadata().map_err(io_err(path))?.len();
        let mut r = BufReader::with_capacity(1 << 20, file);
        let mut at = 0u64;
        let mut last_pos: Option<u64> = None;
        let mut header = [0u8; HEADER_LEN];
        while at + HEADER_LEN as u64 <= file_len {
            if read_full(&mut r, &mut header).map_err(io_err(path))? < HEADER_LEN {
                break;
            }
            let magic = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes"));
            let len = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes")) as usize;
            let crc = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
            let pos = u64::from_le_bytes(header[12..20].try_into().expect("8 bytes"));
            let Some(kind) = RecordKind::of_magic(magic) else {
                break;
            };
            if len > MAX_RECORD_BYTES || at + (HEADER_LEN + len) as u64 > file_len {
                break;
            }
            if last_pos.is_some_and(|p| pos <= p) {
                // not a record this log wrote in order (e.g. a copy left by a failed write)
                break;
            }
            last_pos = Some(pos);
            at += (HEADER_LEN + len) as u64;
            if pos > through {
                return Ok(out);
            }
            if pos <= after {
                r.seek_relative(len as i64).map_err(io_err(path))?;
                continue;
            }
            let mut payload = vec![0u8; len];
            if read_full(&mut r, &mut payload).map_err(io_err(path))? < len {
                break;
            }
            let mut h = crc32fast::Hasher::new();
            h.update(&pos.to_le_bytes());
            h.update(&payload);
            if h.finalize() != crc {
                break;
            }
            bytes += len;
            out.push(Record { pos, kind, payload });
            if bytes >= max_bytes {
                return Ok(out);
            }
        }
    }
    Ok(out)
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn sync_dir(dir: &Path) -> Result<(), WalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// Used by tests to damage a log on purpose.
#[doc(hidden)]
pub fn last_segment(dir: &Path) -> Option<PathBuf> {
    list_segments(dir).ok()?.pop().map(|s| s.1)
}

#[doc(hidden)]
pub fn append_garbage(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new().append(true).open(path)?;
    f.seek(SeekFrom::End(0))?;
    f.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_after_returns_the_window_across_segments() {
        let d = tempfile::tempdir().unwrap();
        let (mut w, _) = Wal::open(d.path(), |_| {}).unwrap();
        for i in 0..10u8 {
            w.append_bytes(&[i; 100]).unwrap();
        }
        w.roll().unwrap(); // a second segment
        for i in 10..20u8 {
            w.append_bytes(&[i; 100]).unwrap();
        }
        let pos = |v: &[Record]| v.iter().map(|r| r.pos).collect::<Vec<_>>();
        assert_eq!(
            pos(&read_after(d.path(), 0, 20, usize::MAX).unwrap()),
            (1..=20).collect::<Vec<_>>()
        );
        assert_eq!(
            pos(&read_after(d.path(), 8, 12, usize::MAX).unwrap()),
            [9, 10, 11, 12]
        );
        assert_eq!(pos(&read_after(d.path(), 3, 20, 250).unwrap()), [4, 5, 6]);
        assert_eq!(
            read_after(d.path(), 15, 20, 1).unwrap()[0].payload,
            vec![15u8; 100]
        );
        assert!(read_after(d.path(), 20, 20, usize::MAX).unwrap().is_empty());
        w.truncate_through(10).unwrap();
        assert_eq!(
            pos(&read_after(d.path(), 0, 12, usize::MAX).unwrap()),
            [11, 12]
        );
    }

    #[test]
    fn datagram_records_keep_their_kind_through_replay_and_read_after() {
        use chrono::TimeZone;
        let d = tempfile::tempdir().unwrap();
        let (mut w, _) = Wal::open(d.path(), |_| {}).unwrap();
        let batch = Batch {
            id: canh_core::BatchId {
                producer: "local".into(),
                seq: 1,
            },
            events: Vec::new(),
        };
        let dgrams = vec![Datagram {
            listener: "udp://127.0.0.1:2055".into(),
            peer: "192.0.2.1:9995".parse().unwrap(),
            received: chrono::Utc.with_ymd_and_hms(2026, 12, 7, 4, 0, 0).unwrap(),
            data: vec![0, 5, 0, 1, 0xff],
        }];
        assert_eq!(w.append(&batch).unwrap(), 1);
        assert_eq!(w.append_datagrams(&dgrams).unwrap(), 2);
        assert_eq!(w.append(&batch).unwrap(), 3);
        drop(w);
        let (_, got, rec) = open(d.path());
        assert_eq!(rec.records, 3);
        let kinds: Vec<_> = got.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            [
                RecordKind::Events,
                RecordKind::Datagrams,
                RecordKind::Events
            ]
        );
        assert_eq!(decode_datagrams(d.path(), &got[1]).unwrap(), dgrams);
        assert_eq!(decode(d.path(), &got[0]).unwrap(), batch);
        // the wrong reader says what the record is rather than misreading it
        let e = decode(d.path(), &got[1]).unwrap_err().to_string();
        assert!(e.contains("record 2") && e.contains("Datagrams"), "{e}");
        assert!(decode_datagrams(d.path(), &got[2]).is_err());
        let r = read_after(d.path(), 1, 3, usize::MAX).unwrap();
        assert_eq!(r[0].kind, RecordKind::Datagrams);
        assert_eq!(r[1].kind, RecordKind::Events);
    }

    #[test]
    fn read_after_stops_at_a_position_that_does_not_increase() {
        let d = tempfile::tempdir().unwrap();
        let (mut w, _) = Wal::open(d.path(), |_| {}).unwrap();
        w.append_bytes(b"one").unwrap();
        w.append_bytes(b"two").unwrap();
        drop(w);
        // a whole second copy of record 2 after it, as a failed write that could not be cut
        // back and was retried would leave
        let seg = last_segment(d.path()).unwrap();
        let bytes = std::fs::read(&seg).unwrap();
        let copy = bytes[bytes.len() - (HEADER_LEN + 3)..].to_vec();
        append_garbage(&seg, &copy).unwrap();
        let got = read_after(d.path(), 0, 10, usize::MAX).unwrap();
        assert_eq!(got.iter().map(|r| r.pos).collect::<Vec<_>>(), [1, 2]);
    }

    fn open(dir: &Path) -> (Wal, Vec<Record>, Recovery) {
        let mut got = Vec::new();
        let (w, r) = Wal::open(dir, |rec| got.push(rec)).unwrap();
        (w, got, r)
    }

    #[test]
    fn append_reopen_replay() {
        let d = tempfile::tempdir().unwrap();
        let (mut w, got, _) = open(d.path());
        assert!(got.is_empty());
        assert_eq!(w.append_bytes(b"one").unwrap(), 1);
        assert_eq!(w.append_bytes(b"two").unwrap(), 2);
        drop(w);
        let (mut w, got, rec) = open(d.path());
        assert_eq!(
            got.iter()
                .map(|r| (r.pos, r.payload.clone()))
                .collect::<Vec<_>>(),
            vec![(1, b"one".to_vec()), (2, b"two".to_vec())]
        );
        assert_eq!(rec.records, 2);
        assert_eq!(w.append_bytes(b"three").unwrap(), 3);
    }

    #[test]
    fn torn_tail_is_cut_and_positions_continue() {
        let d = tempfile::tempdir().unwrap();
        let (mut w, _, _) = open(d.path());
        w.append_bytes(b"ok").unwrap();
        drop(w);
        let seg = last_segment(d.path()).unwrap();
        // a header promising more bytes than were written, as after a crash mid-write
        let mut torn = MAGIC.to_le_bytes().to_vec();
        torn.extend_from_slice(&100u32.to_le_bytes());
        torn.extend_from_slice(&[0; 9]);
        append_garbage(&seg, &torn).unwrap();
        let (mut w, got, rec) = open(d.path());
        assert_eq!(got.len(), 1);
        assert_eq!(rec.torn_bytes, torn.len() as u64);
        assert_eq!(w.append_bytes(b"next").unwrap(), 2);
        drop(w);
        let (_, got, rec) = open(d.path());
        assert_eq!(got.len(), 2);
        assert_eq!(rec.torn_bytes, 0);
    }

    #[test]
    fn flipped_byte_stops_replay_at_that_record() {
        let d = tempfile::tempdir().unwrap();
        let (mut w, _, _) = open(d.path());
        for k in 0..5u8 {
            w.append_bytes(&[k; 10]).unwrap();
        }
        drop(w);
        let seg = last_segment(d.path()).unwrap();
        let mut bytes = fs::read(&seg).unwrap();
        let third = 2 * (HEADER_LEN + 10) + HEADER_LEN + 3;
        bytes[third] ^= 0xff;
        fs::write(&seg, &bytes).unwrap();
        let (_, got, rec) = open(d.path());
        assert_eq!(got.len(), 2);
        assert!(rec.torn_bytes > 0);
    }

    #[test]
    fn positions_continue_above_what_the_index_committed() {
        let d = tempfile::tempdir().unwrap();
        let (mut w, _) = Wal::open_after(d.path(), 41, |_| {}).unwrap();
        assert_eq!(w.append_bytes(b"x").unwrap(), 42);
        drop(w);
        // the log was lost: positions still never go back
        std::fs::remove_dir_all(d.path()).unwrap();
        let (mut w, _) = Wal::open_after(d.path(), 42, |_| {}).unwrap();
        assert_eq!(w.append_bytes(b"y").unwrap(), 43);
        drop(w);
        let (_, got, _) = open(d.path());
        assert_eq!(got.iter().map(|r| r.pos).collect::<Vec<_>>(), vec![43]);
    }

    #[test]
    fn a_repeated_position_ends_the_log() {
        let d = tempfile::tempdir().unwrap();
        let (mut w, _, _) = open(d.path());
        w.append_bytes(b"a").unwrap();
        drop(w);
        let seg = last_segment(d.path()).unwrap();
        let once = fs::read(&seg).unwrap();
        append_garbage(&seg, &once).unwrap(); // the same record again, as after a retried write
        let (_, got, rec) = open(d.path());
        assert_eq!(got.len(), 1);
        assert_eq!(rec.torn_bytes, once.len() as u64);
    }

    #[test]
    fn truncation_keeps_the_live_segment() {
        let d = tempfile::tempdir().unwrap();
        let (mut w, _, _) = open(d.path());
        w.append_bytes(b"a").unwrap();
        w.roll().unwrap();
        w.append_bytes(b"b").unwrap();
        w.roll().unwrap();
        w.append_bytes(b"c").unwrap();
        assert_eq!(w.segment_count(), 3);
        assert_eq!(w.truncate_through(1).unwrap(), 1);
        assert_eq!(w.truncate_through(3).unwrap(), 1);
        assert_eq!(w.segment_count(), 1);
        drop(w);
        let (_, got, _) = open(d.path());
        assert_eq!(got.iter().map(|r| r.pos).collect::<Vec<_>>(), vec![3]);
    }
}
