//! The audit log at `DATA/audit.log`: one JSON object per line for every officer action and
//! every rule or suppression change, each carrying the SHA-256 of the line before it.
//!
//! ```text
//! {"seq":1,"time":"2026-11-25T08:00:00.123Z","actor":"lan","action":"alert.ack","target":"alert:7","detail":{…},"prev":"000…0"}
//! {"seq":2,…,"prev":"<sha256 hex of line 1, without its newline>"}
//! ```
//!
//! Architecture invariant: a line is appended under an exclusive lock on the file (the engine,
//! the CLI and the API write to it at the same time), fsynced, and the chain's head (line count
//! and hash of the last line) is recorded in `alerts.db` by the caller in the same transaction
//! as the action. [`verify`] walks the chain — an edited, inserted, removed or reordered line
//! breaks the hash or the sequence number at the first bad line — and compares the end with
//! the recorded head, which catches lines cut off the end.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Longest audit line written or read (notes and justifications are shorter; see
/// [`crate::alerts::MAX_TEXT_BYTES`]).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

pub fn path(data: &Path) -> PathBuf {
    data.join("audit.log")
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub time: String,
    pub actor: String,
    /// `alert.ack`, `alert.close`, `suppression.add`, `rules.reload`, `collector.refused` …
    pub action: String,
    /// What it was done to: `alert:7`, `suppression:3`, `rules`.
    pub target: String,
    #[serde(default)]
    pub detail: serde_json::Value,
    pub prev: String,
}

/// Where the chain ends: the number of lines and the hash of the last one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

impl Head {
    /// The head as `alerts.db` records it: `SEQ:HASH`.
    pub fn from_meta(b: &[u8]) -> Option<Head> {
        let (seq, hash) = std::str::from_utf8(b).ok()?.split_once(':')?;
        Some(Head {
            seq: seq.parse().ok()?,
            hash: hash.to_owned(),
        })
    }

    pub fn empty() -> Head {
        Head {
            seq: 0,
            hash: GENESIS.to_owned(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {msg}")]
    Bad {
        path: String,
        line: u64,
        msg: String,
    },
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// An open audit log, locked while one line is appended.
pub struct AuditLog {
    path: PathBuf,
}

/// The file stays locked (and the head valid) until this is dropped: the caller commits its
/// own transaction, recording `head`, before letting go.
pub struct Appended {
    _file: File,
    pub head: Head,
    pub entry: Entry,
}

impl AuditLog {
    pub fn new(data: &Path) -> AuditLog {
        AuditLog { path: path(data) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, e: std::io::Error) -> AuditError {
        AuditError::Io {
            path: self.path.display().to_string(),
            source: e,
        }
    }

    /// Appends one entry (fsynced) after the current last line and returns the new head with
    /// the lock still held.
    pub fn append(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) -> Result<Appended, AuditError> {
        let mut f = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.path)
            .map_err(|e| self.io(e))?;
        f.lock().map_err(|e| self.io(e))?;
        let head = self.last(&mut f)?;
        let entry = Entry {
            seq: head.seq + 1,
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            detail,
            prev: head.hash,
        };
        let line = serde_json::to_string(&entry).expect("audit entry serializes");
        let mut bytes = line.clone().into_bytes();
        bytes.push(b'\n');
        f.write_all(&bytes).map_err(|e| self.io(e))?;
        f.sync_data().map_err(|e| self.io(e))?;
        Ok(Appended {
            _file: f,
            head: Head {
                seq: entry.seq,
                hash: sha256_hex(line.as_bytes()),
            },
            entry,
        })
    }

    /// Reads the last line of the file (whose length is bounded by [`MAX_LINE_BYTES`]).
    fn last(&self, f: &mut File) -> Result<Head, AuditError> {
        let len = f.seek(SeekFrom::End(0)).map_err(|e| self.io(e))?;
        if len == 0 {
            return Ok(Head::empty());
        }
        let start = len.saturating_sub(MAX_LINE_BYTES as u64 + 1);
        f.seek(SeekFrom::Start(start)).map_err(|e| self.io(e))?;
        let mut tail = Vec::with_capacity((len - start) as usize);
        f.read_to_end(&mut tail).map_err(|e| self.io(e))?;
        let bad = |msg: &str| AuditError::Bad {
            path: self.path.display().to_string(),
            line: 0,
            msg: msg.to_owned(),
        };
        let body = tail
            .strip_suffix(b"\n")
            .ok_or_else(|| bad("the last line is not complete; run `canh audit verify`"))?;
        let from = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if from == 0 && start > 0 {
            return Err(bad("the last line is longer than an audit line may be"));
        }
        let line = &body[from..];
        let e: Entry = serde_json::from_slice(line)
            .map_err(|e| bad(&format!("the last line does not read as an entry: {e}")))?;
        Ok(Head {
            seq: e.seq,
            hash: sha256_hex(line),
        })
    }
}

/// Checks the whole chain; `recorded` is the head kept in `alerts.db`, when there is one.
/// Returns the number of lines.
pub fn verify(path: &Path, recorded: Option<&Head>) -> Result<u64, AuditError> {
    let p = path.display().to_string();
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return match recorded {
                Some(h) if h.seq > 0 => Err(AuditError::Bad {
                    path: p,
                    line: 1,
                    msg: format!("the file is gone, but alerts.db records {} lines", h.seq),
                }),
                _ => Ok(0),
            };
        }
        Err(e) => return Err(AuditError::Io { path: p, source: e }),
    };
    let mut r = BufReader::new(f);
    let mut prev = GENESIS.to_owned();
    let mut n = 0u64;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let got = r
            .by_ref()
            .take(MAX_LINE_BYTES as u64 + 2)
            .read_until(b'\n', &mut buf)
            .map_err(|e| AuditError::Io {
                path: p.clone(),
                source: e,
            })?;
        if got == 0 {
            break;
        }
        n += 1;
        let bad = |msg: String| AuditError::Bad {
            path: p.clone(),
            line: n,
            msg,
        };
        let Some(line) = buf.strip_suffix(b"\n") else {
            return Err(bad(if buf.len() > MAX_LINE_BYTES {
                "line too long".into()
            } else {
                "incomplete last line (no newline)".into()
            }));
        };
        let e: Entry =
            serde_json::from_slice(line).map_err(|e| bad(format!("not an audit entry: {e}")))?;
        if e.seq != n {
            return Err(bad(format!(
                "sequence number {} where {n} was expected: a line was removed, inserted or moved",
                e.seq
            )));
        }
        if e.prev != prev && n == 1 {
            return Err(bad("the first line does not start the chain".into()));
        }
        if e.prev != prev {
            // the sequence is intact, so the line before this one is not the one that was
            // written: it was edited
            return Err(AuditError::Bad {
                path: p.clone(),
                line: n - 1,
                msg: format!("edited: its hash is not the one line {n} recorded"),
            });
        }
        prev = sha256_hex(line);
    }
    if let Some(h) = recorded {
        if h.seq > n {
            return Err(AuditError::Bad {
                path: p,
                line: n + 1,
                msg: format!(
                    "the log ends after line {n}, but alerts.db records {} lines: lines were cut off the end",
                    h.seq
                ),
            });
        }
        if h.seq == n && h.hash != prev {
            return Err(AuditError::Bad {
                path: p,
                line: n,
                msg: "the last line differs from the one alerts.db recorded".into(),
            });
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write_lines(dir: &Path, n: usize) -> (AuditLog, Head) {
        let log = AuditLog::new(dir);
        let mut head = Head::empty();
        for i in 0..n {
            head = log
                .append(
                    "lan",
                    "alert.note",
                    &format!("alert:{i}"),
                    json!({"note": "xin chào"}),
                )
                .unwrap()
                .head;
        }
        (log, head)
    }

    fn lines(p: &Path) -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn put(p: &Path, l: &[String]) {
        std::fs::write(p, l.iter().map(|s| format!("{s}\n")).collect::<String>()).unwrap();
    }

    fn bad_line(r: Result<u64, AuditError>) -> u64 {
        match r {
            Err(AuditError::Bad { line, .. }) => line,
            other => panic!("expected a bad line, got {other:?}"),
        }
    }

    #[test]
    fn chain_verifies_and_head_matches() {
        let d = tempfile::tempdir().unwrap();
        let (log, head) = write_lines(d.path(), 5);
        assert_eq!(head.seq, 5);
        assert_eq!(verify(log.path(), Some(&head)).unwrap(), 5);
        assert_eq!(verify(&d.path().join("none.log"), None).unwrap(), 0);
    }

    #[test]
    fn each_kind_of_tampering_names_the_first_bad_line() {
        let d = tempfile::tempdir().unwrap();
        let (log, head) = write_lines(d.path(), 5);
        let orig = lines(log.path());
        let p = log.path().to_owned();

        // one character edited in line 2: line 3's prev no longer matches
        let mut l = orig.clone();
        l[1] = l[1].replace("xin chào", "xin chao");
        put(&p, &l);
        assert_eq!(bad_line(verify(&p, Some(&head))), 2);

        // the last line edited: caught by the recorded head
        let mut l = orig.clone();
        l[4] = l[4].replace("alert:4", "alert:9");
        put(&p, &l);
        assert_eq!(bad_line(verify(&p, Some(&head))), 5);

        // a line deleted in the middle
        let mut l = orig.clone();
        l.remove(2);
        put(&p, &l);
        assert_eq!(bad_line(verify(&p, Some(&head))), 3);

        // lines swapped
        let mut l = orig.clone();
        l.swap(1, 2);
        put(&p, &l);
        assert_eq!(bad_line(verify(&p, Some(&head))), 2);

        // a line inserted
        let mut l = orig.clone();
        l.insert(1, orig[0].clone());
        put(&p, &l);
        assert_eq!(bad_line(verify(&p, Some(&head))), 2);

        // the last line cut off
        let mut l = orig.clone();
        l.pop();
        put(&p, &l);
        assert_eq!(bad_line(verify(&p, Some(&head))), 5);

        // untouched again: passes
        put(&p, &orig);
        assert_eq!(verify(&p, Some(&head)).unwrap(), 5);
    }

    #[test]
    fn appends_continue_the_chain_across_opens() {
        let d = tempfile::tempdir().unwrap();
        write_lines(d.path(), 2);
        let (log, head) = write_lines(d.path(), 3);
        assert_eq!(head.seq, 5);
        assert_eq!(verify(log.path(), Some(&head)).unwrap(), 5);
    }
}
