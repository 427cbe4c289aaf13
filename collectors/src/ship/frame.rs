//! The shipping frame: how a collector's batches and the engine's acknowledgements travel.
//!
//! ```text
//! frame  = len:u32 LE (of kind + body) | kind:u8 | body
//! HELLO  (1) collector → engine: version:u32 LE | producer (UTF-8)
//! BATCH  (2) collector → engine: seq:u64 LE | a canh_core::Batch encoded with postcard
//! ACK    (3) engine → collector: seq:u64 LE — the batch is durable (fsynced in the WAL)
//! ERROR  (4) either way: a message (UTF-8), then the connection closes
//! HEARTBEAT (5) collector → engine: spool_depth:u64 LE | oldest_unshipped_secs:u64 LE
//! ```
//!
//! The frame says nothing about TLS or TCP: the same bytes could ride a NATS JetStream
//! message (the batch id `producer#seq` is the message id, the ACK the publish ack).
//! [`decode`] is a pure function of bytes: it returns `Ok(None)` while a frame is incomplete
//! and an error, never a panic, for anything malformed.

/// Largest frame accepted (a batch is at most a few MiB; anything larger is an attack or a
/// bug, and refusing it keeps a hostile length from allocating without bound).
pub const MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;
/// Largest HELLO or ERROR text.
pub const MAX_TEXT_BYTES: usize = 4096;
/// Protocol version spoken by this build.
pub const VERSION: u32 = 1;

const HELLO: u8 = 1;
const BATCH: u8 = 2;
const ACK: u8 = 3;
const ERROR: u8 = 4;
const HEARTBEAT: u8 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Hello {
        version: u32,
        producer: String,
    },
    /// `payload` is the postcard encoding of the batch whose id has sequence `seq`.
    Batch {
        seq: u64,
        payload: Vec<u8>,
    },
    Ack {
        seq: u64,
    },
    Error {
        message: String,
    },
    /// The collector's spool, sent while connected so the engine knows a collector is alive
    /// and how far behind it is.
    Heartbeat {
        spool_depth: u64,
        oldest_unshipped_secs: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {0} bytes is larger than {MAX_FRAME_BYTES}")]
    TooLarge(usize),
    #[error("empty frame")]
    Empty,
    #[error("unknown frame kind {0}")]
    Kind(u8),
    #[error("{kind} frame is {len} bytes, too short")]
    Short { kind: &'static str, len: usize },
    #[error("{0} frame text is not UTF-8 or longer than {MAX_TEXT_BYTES} bytes")]
    Text(&'static str),
}

/// Appends the frame's bytes to `out`.
pub fn encode(f: &Frame, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    match f {
        Frame::Hello { version, producer } => {
            out.push(HELLO);
            out.extend_from_slice(&version.to_le_bytes());
            out.extend_from_slice(producer.as_bytes());
        }
        Frame::Batch { seq, payload } => {
            out.push(BATCH);
            out.extend_from_slice(&seq.to_le_bytes());
            out.extend_from_slice(payload);
        }
        Frame::Ack { seq } => {
            out.push(ACK);
            out.extend_from_slice(&seq.to_le_bytes());
        }
        Frame::Error { message } => {
            out.push(ERROR);
            let m = message.as_bytes();
            let mut n = m.len().min(MAX_TEXT_BYTES);
            while !message.is_char_boundary(n) {
                n -= 1;
            }
            out.extend_from_slice(&m[..n]);
        }
        Frame::Heartbeat {
            spool_depth,
            oldest_unshipped_secs,
        } => {
            out.push(HEARTBEAT);
            out.extend_from_slice(&spool_depth.to_le_bytes());
            out.extend_from_slice(&oldest_unshipped_secs.to_le_bytes());
        }
    }
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

fn text(kind: &'static str, b: &[u8]) -> Result<String, FrameError> {
    if b.len() > MAX_TEXT_BYTES {
        return Err(FrameError::Text(kind));
    }
    String::from_utf8(b.to_vec()).map_err(|_| FrameError::Text(kind))
}

fn u64_at(kind: &'static str, b: &[u8]) -> Result<u64, FrameError> {
    b.get(..8)
        .map(|x| u64::from_le_bytes(x.try_into().expect("8 bytes")))
        .ok_or(FrameError::Short { kind, len: b.len() })
}

/// Reads one frame from the start of `buf`: `Ok(Some((frame, bytes used)))`, `Ok(None)` when
/// more bytes are needed.
pub fn decode(buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
    let Some(head) = buf.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_le_bytes(head.try_into().expect("4 bytes")) as usize;
    if len > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge(len));
    }
    if len == 0 {
        return Err(FrameError::Empty);
    }
    let Some(body) = buf.get(4..4 + len) else {
        return Ok(None);
    };
    let (kind, rest) = (body[0], &body[1..]);
    let f = match kind {
        HELLO => {
            let v = rest.get(..4).ok_or(FrameError::Short {
                kind: "HELLO",
                len: rest.len(),
            })?;
            Frame::Hello {
                version: u32::from_le_bytes(v.try_into().expect("4 bytes")),
                producer: text("HELLO", &rest[4..])?,
            }
        }
        BATCH => Frame::Batch {
            seq: u64_at("BATCH", rest)?,
            payload: rest[8..].to_vec(),
        },
        ACK => {
            if rest.len() != 8 {
                return Err(FrameError::Short {
                    kind: "ACK",
                    len: rest.len(),
                });
            }
            Frame::Ack {
                seq: u64_at("ACK", rest)?,
            }
        }
        ERROR => Frame::Error {
            message: text("ERROR", rest)?,
        },
        HEARTBEAT => {
            if rest.len() != 16 {
                return Err(FrameError::Short {
                    kind: "HEARTBEAT",
                    len: rest.len(),
                });
            }
            Frame::Heartbeat {
                spool_depth: u64_at("HEARTBEAT", rest)?,
                oldest_unshipped_secs: u64_at("HEARTBEAT", &rest[8..])?,
            }
        }
        k => return Err(FrameError::Kind(k)),
    };
    Ok(Some((f, 4 + len)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame() -> impl Strategy<Value = Frame> {
        prop_oneof![
            (any::<u32>(), "[a-z0-9.-]{0,40}")
                .prop_map(|(version, producer)| Frame::Hello { version, producer }),
            (any::<u64>(), proptest::collection::vec(any::<u8>(), 0..300))
                .prop_map(|(seq, payload)| Frame::Batch { seq, payload }),
            any::<u64>().prop_map(|seq| Frame::Ack { seq }),
            "\\PC{0,60}".prop_map(|message| Frame::Error { message }),
            (any::<u64>(), any::<u64>()).prop_map(|(spool_depth, oldest_unshipped_secs)| {
                Frame::Heartbeat {
                    spool_depth,
                    oldest_unshipped_secs,
                }
            }),
        ]
    }

    proptest! {
        #[test]
        fn encode_then_decode_is_identity_at_every_split(fs in proptest::collection::vec(frame(), 1..6)) {
            let mut buf = Vec::new();
            for f in &fs {
                encode(f, &mut buf);
            }
            // fed in two parts at any split, the frames come out whole and in order
            for split in [0, 1, 3, buf.len() / 2, buf.len()] {
                let mut got = Vec::new();
                let mut have: Vec<u8> = buf[..split].to_vec();
                let mut rest = &buf[split..];
                loop {
                    match decode(&have).unwrap() {
                        Some((f, used)) => {
                            got.push(f);
                            have.drain(..used);
                        }
                        None if !rest.is_empty() => {
                            have.extend_from_slice(rest);
                            rest = &[];
                        }
                        None => break,
                    }
                }
                prop_assert_eq!(&got, &fs);
                prop_assert!(have.is_empty());
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&b);
        }
    }

    #[test]
    fn hostile_frames_are_refused() {
        assert_eq!(
            decode(&u32::MAX.to_le_bytes()),
            Err(FrameError::TooLarge(u32::MAX as usize))
        );
        assert_eq!(decode(&[0, 0, 0, 0]), Err(FrameError::Empty));
        assert_eq!(decode(&[1, 0, 0, 0, 9]), Err(FrameError::Kind(9)));
        assert!(matches!(
            decode(&[3, 0, 0, 0, ACK, 1, 2]),
            Err(FrameError::Short { .. })
        ));
        assert!(matches!(
            decode(&[6, 0, 0, 0, HELLO, 1, 0, 0, 0, 0xff]),
            Err(FrameError::Text("HELLO"))
        ));
        assert_eq!(decode(&[9, 0, 0]), Ok(None));
    }
}
