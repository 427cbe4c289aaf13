//! Stream framing for syslog over TCP and TLS, detected per frame (RFC 6587):
//!
//! - **octet counting**: `MSG-LEN SP SYSLOG-MSG`. A frame is taken as octet-counted when it
//!   starts with 1 to [`MAX_COUNT_DIGITS`] digits, a space and `<` (a PRI). rsyslog counts its
//!   trailing LF inside the length; the parser trims it.
//! - **non-transparent (LF)**: everything up to the next LF.
//!
//! The framer is a pure state machine over byte chunks. It never holds more than
//! `max_msg` bytes of one message (plus a few bytes of length prefix): longer messages are cut
//! at `max_msg`, the rest is skipped as it arrives, and the frame reports its original length.

/// Longest octet count we read (8 digits: counts up to 99,999,999 bytes). Longer digit runs
/// are message text.
pub const MAX_COUNT_DIGITS: usize = 8;

/// The default limit on one message (64 KiB); longer messages are truncated and counted.
pub const DEFAULT_MAX_MESSAGE: usize = 64 * 1024;

/// One framed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub data: Vec<u8>,
    /// The length the sender meant; larger than `data.len()` when the message was cut.
    pub original_len: usize,
}

impl Frame {
    pub fn is_truncated(&self) -> bool {
        self.original_len > self.data.len()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between frames; `buf` may hold the start of a length prefix.
    Start,
    /// Inside an octet-counted frame with `remaining` bytes still to come.
    Counted { remaining: usize, total: usize },
    /// Inside an LF-terminated frame; `total` counts bytes seen (kept or skipped).
    Lf { total: usize },
}

/// Splits a byte stream into syslog frames. See the module docs.
#[derive(Debug)]
pub struct Framer {
    max_msg: usize,
    buf: Vec<u8>,
    state: State,
}

impl Framer {
    pub fn new(max_msg: usize) -> Self {
        let max_msg = max_msg.max(1);
        Framer {
            max_msg,
            buf: Vec::with_capacity(max_msg.min(8192)),
            state: State::Start,
        }
    }

    /// Bytes currently held (never more than `max_msg + MAX_COUNT_DIGITS + 2`).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Feeds bytes; complete frames are appended to `out`.
    pub fn push(&mut self, mut d: &[u8], out: &mut Vec<Frame>) {
        while !d.is_empty() {
            match self.state {
                State::Start => {
                    if self.buf.is_empty() {
                        let skip = d
                            .iter()
                            .take_while(|c| matches!(c, b'\n' | b'\r' | 0))
                            .count();
                        d = &d[skip..];
                        if d.is_empty() {
                            return;
                        }
                    }
                    match self.detect(d) {
                        Detect::NeedMore => {
                            self.buf.extend_from_slice(d);
                            return;
                        }
                        Detect::Counted {
                            count,
                            prefix_len_in_d,
                        } => {
                            self.buf.clear();
                            d = &d[prefix_len_in_d..];
                            self.state = State::Counted {
                                remaining: count,
                                total: count,
                            };
                        }
                        Detect::Lf => {
                            self.state = State::Lf {
                                total: self.buf.len(),
                            };
                        }
                    }
                }
                State::Counted { remaining, total } => {
                    let take = remaining.min(d.len());
                    let room = self.max_msg - self.buf.len();
                    self.buf.extend_from_slice(&d[..take.min(room)]);
                    d = &d[take..];
                    let remaining = remaining - take;
                    if remaining == 0 {
                        self.emit(total, out);
                    } else {
                        self.state = State::Counted { remaining, total };
                    }
                }
                State::Lf { total } => match memchr::memchr(b'\n', d) {
                    Some(p) => {
                        let room = self.max_msg - self.buf.len();
                        self.buf.extend_from_slice(&d[..p.min(room)]);
                        d = &d[p + 1..];
                        self.emit(total + p, out);
                    }
                    None => {
                        let room = self.max_msg - self.buf.len();
                        self.buf.extend_from_slice(&d[..d.len().min(room)]);
                        self.state = State::Lf {
                            total: total + d.len(),
                        };
                        d = &[];
                    }
                },
            }
        }
    }

    /// End of stream: whatever is held becomes a last frame (a counted frame cut short by
    /// the peer reports the length it announced).
    pub fn finish(&mut self, out: &mut Vec<Frame>) {
        match self.state {
            State::Start if !self.buf.is_empty() => {
                let n = self.buf.len();
                self.emit(n, out);
            }
            State::Counted { total, .. } => self.emit(total, out),
            State::Lf { total } if total > 0 => self.emit(total, out),
            _ => {}
        }
        self.buf.clear();
        self.state = State::Start;
    }

    fn emit(&mut self, total: usize, out: &mut Vec<Frame>) {
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(256));
        let original_len = total.max(data.len());
        self.state = State::Start;
        // a lone CR from CRLF line endings
        let mut data = data;
        if data.last() == Some(&b'\r') && original_len == data.len() {
            data.pop();
        }
        if !data.is_empty() {
            out.push(Frame {
                original_len: original_len.max(data.len()),
                data,
            });
        }
    }

    /// Looks at `buf ++ d` to decide how the next frame is framed.
    fn detect(&self, d: &[u8]) -> Detect {
        let mut head = [0u8; MAX_COUNT_DIGITS + 2];
        let from_buf = self.buf.len().min(head.len());
        head[..from_buf].copy_from_slice(&self.buf[..from_buf]);
        let from_d = (head.len() - from_buf).min(d.len());
        head[from_buf..from_buf + from_d].copy_from_slice(&d[..from_d]);
        let head = &head[..from_buf + from_d];
        let digits = head.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || head[0] == b'0' || digits > MAX_COUNT_DIGITS {
            return Detect::Lf;
        }
        if digits == head.len() {
            // the end of the prefix is not here yet
            return if head.len() < MAX_COUNT_DIGITS + 2 {
                Detect::NeedMore
            } else {
                Detect::Lf
            };
        }
        if head[digits] != b' ' {
            return Detect::Lf;
        }
        if digits + 1 == head.len() {
            // the byte after the space decides; digits <= MAX_COUNT_DIGITS so more can come
            return Detect::NeedMore;
        }
        if head[digits + 1] != b'<' {
            return Detect::Lf;
        }
        let count = head[..digits]
            .iter()
            .fold(0usize, |a, c| a * 10 + usize::from(c - b'0'));
        let prefix = digits + 1;
        debug_assert!(prefix >= self.buf.len());
        Detect::Counted {
            count,
            prefix_len_in_d: prefix - self.buf.len(),
        }
    }
}

enum Detect {
    NeedMore,
    Counted {
        count: usize,
        prefix_len_in_d: usize,
    },
    Lf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frames(chunks: &[&[u8]], max: usize) -> Vec<Frame> {
        let mut f = Framer::new(max);
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, &mut out);
        }
        f.finish(&mut out);
        out
    }

    fn data(fs: &[Frame]) -> Vec<&[u8]> {
        fs.iter().map(|f| f.data.as_slice()).collect()
    }

    #[test]
    fn lf_frames() {
        let f = frames(&[b"<13>a\n<13>b\r\n", b"<13>c"], 100);
        assert_eq!(data(&f), vec![&b"<13>a"[..], b"<13>b", b"<13>c"]);
    }

    #[test]
    fn octet_counted_with_rsyslog_lf_inside() {
        let f = frames(&[b"6 <13>a\n7 <13>bc\n"], 100);
        assert_eq!(data(&f), vec![&b"<13>a\n"[..], b"<13>bc\n"]);
    }

    #[test]
    fn mixed_framings_split_anywhere() {
        let stream = b"5 <13>a<14>lf line\n11 <15>x y\nz w\n";
        for cut in 0..stream.len() {
            let f = frames(&[&stream[..cut], &stream[cut..]], 100);
            assert_eq!(
                data(&f),
                vec![&b"<13>a"[..], b"<14>lf line", b"<15>x y\nz w"],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn digits_without_pri_are_lf_text() {
        let f = frames(&[b"2026 was a year\n"], 100);
        assert_eq!(data(&f), vec![&b"2026 was a year"[..]]);
    }

    #[test]
    fn long_lf_line_is_cut_and_counted() {
        let mut line = vec![b'x'; 50];
        line.push(b'\n');
        line.extend_from_slice(b"ok\n");
        let f = frames(&[&line], 10);
        assert_eq!(f[0].data, vec![b'x'; 10]);
        assert_eq!(f[0].original_len, 50);
        assert!(f[0].is_truncated());
        assert_eq!(f[1].data, b"ok");
    }

    #[test]
    fn long_counted_frame_is_cut_and_next_frame_survives() {
        let mut s = b"20 <13>".to_vec();
        s.extend_from_slice(&[b'y'; 16]);
        s.extend_from_slice(b"3 <1>");
        let f = frames(&[&s], 8);
        assert_eq!(f[0].data, b"<13>yyyy");
        assert_eq!(f[0].original_len, 20);
        assert_eq!(f[1].data, b"<1>");
    }

    proptest! {
        #[test]
        fn never_panics_nor_overbuffers(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20), max in 1usize..200) {
            let mut f = Framer::new(max);
            let mut out = Vec::new();
            for c in &chunks {
                f.push(c, &mut out);
                prop_assert!(f.buffered() <= max + MAX_COUNT_DIGITS + 2);
            }
            f.finish(&mut out);
            for fr in &out {
                prop_assert!(fr.data.len() <= max.max(MAX_COUNT_DIGITS + 2));
            }
        }

        #[test]
        fn round_trips_messages(msgs in proptest::collection::vec(("<[0-9]{1,3}>[a-z ]{0,40}", any::<bool>()), 1..20), cut in any::<prop::sample::Index>()) {
            let mut stream = Vec::new();
            for (m, counted) in &msgs {
                if *counted {
                    stream.extend_from_slice(format!("{} {}", m.len(), m).as_bytes());
                } else {
                    stream.extend_from_slice(m.as_bytes());
                    stream.push(b'\n');
                }
            }
            let at = cut.index(stream.len() + 1);
            let f = frames(&[&stream[..at], &stream[at..]], 1000);
            let want: Vec<&[u8]> = msgs.iter().map(|(m, _)| m.as_bytes()).collect();
            prop_assert_eq!(data(&f), want);
        }
    }
}
