//! Decoding RESP2 replies (for the client, and for a node forwarding a write to the leader).

use bytes::{Buf, Bytes, BytesMut};

/// A reply from a server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `+text`.
    Simple(String),
    /// `-text`.
    Error(String),
    /// `:n`.
    Int(i64),
    /// `$n` bulk string, or nil.
    Bulk(Option<Bytes>),
    /// `*n` array, or nil.
    Array(Option<Vec<Value>>),
}

/// Why a reply could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// The bytes are not a RESP2 reply.
    #[error("malformed reply: {0}")]
    Malformed(&'static str),
    /// The reply is larger than allowed.
    #[error("reply too large")]
    TooLarge,
}

/// The largest bulk string or array the decoder accepts.
pub const MAX_REPLY_ELEMENT: usize = 512 << 20;
/// The deepest nesting of arrays the decoder accepts.
const MAX_DEPTH: usize = 8;

fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(at..)?;
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..end], at + end + 2))
}

fn int(s: &[u8]) -> Result<i64, ReplyError> {
    std::str::from_utf8(s)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(ReplyError::Malformed("not an integer"))
}

/// Parses one value starting at `at`; `Ok(None)` if more bytes are needed.
fn parse(buf: &[u8], at: usize, depth: usize) -> Result<Option<(Value, usize)>, ReplyError> {
    let Some(&kind) = buf.get(at) else {
        return Ok(None);
    };
    let Some((body, next)) = line(buf, at + 1) else {
        return Ok(None);
    };
    let text = || String::from_utf8_lossy(body).into_owned();
    Ok(Some(match kind {
        b'+' => (Value::Simple(text()), next),
        b'-' => (Value::Error(text()), next),
        b':' => (Value::Int(int(body)?), next),
        b'$' => {
            let n = int(body)?;
            if n < 0 {
                return Ok(Some((Value::Bulk(None), next)));
            }
            let n = usize::try_from(n).map_err(|_| ReplyError::TooLarge)?;
            if n > MAX_REPLY_ELEMENT {
                return Err(ReplyError::TooLarge);
            }
            if buf.len() < next + n + 2 {
                return Ok(None);
            }
            if &buf[next + n..next + n + 2] != b"\r\n" {
                return Err(ReplyError::Malformed("bulk string not followed by CRLF"));
            }
            (
                Value::Bulk(Some(Bytes::copy_from_slice(&buf[next..next + n]))),
                next + n + 2,
            )
        }
        b'*' => {
            let n = int(body)?;
            if n < 0 {
                return Ok(Some((Value::Array(None), next)));
            }
            let n = usize::try_from(n).map_err(|_| ReplyError::TooLarge)?;
            if n > MAX_REPLY_ELEMENT || depth >= MAX_DEPTH {
                return Err(ReplyError::TooLarge);
            }
            let mut items = Vec::with_capacity(n.min(1024));
            let mut pos = next;
            for _ in 0..n {
                match parse(buf, pos, depth + 1)? {
                    Some((v, p)) => {
                        items.push(v);
                        pos = p;
                    }
                    None => return Ok(None),
                }
            }
            (Value::Array(Some(items)), pos)
        }
        _ => return Err(ReplyError::Malformed("unknown reply type")),
    }))
}

/// Takes the next complete reply off the front of `buf`, or returns `Ok(None)` when more bytes
/// are needed.
pub fn decode(buf: &mut BytesMut) -> Result<Option<Value>, ReplyError> {
    match parse(buf, 0, 0)? {
        Some((v, used)) => {
            buf.advance(used);
            Ok(Some(v))
        }
        None => Ok(None),
    }
}

/// A reply decoder for a stream: it remembers how far it has checked the reply that is still
/// arriving, so a reply that comes in many small reads costs time linear in its size (the plain
/// [`decode`] parses again from the start on every call), and it refuses a reply larger than its
/// bound instead of buffering it.
#[derive(Debug)]
pub struct ReplyDecoder {
    max: usize,
    /// Where the next unchecked element starts.
    pos: usize,
    /// How far the current line is known to hold no CRLF.
    searched: usize,
    /// For each open array, how many of its elements are still to come.
    open: Vec<usize>,
}

impl ReplyDecoder {
    /// A decoder of replies of at most `max` bytes.
    #[must_use]
    pub fn new(max: usize) -> ReplyDecoder {
        ReplyDecoder {
            max,
            pos: 0,
            searched: 0,
            open: Vec::new(),
        }
    }

    /// Takes the next complete reply off the front of `buf` (which holds the bytes received so
    /// far, appended to between calls), or returns `Ok(None)` when more bytes are needed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Value>, ReplyError> {
        let Some(len) = self.frame(buf)? else {
            if buf.len() > self.max {
                return Err(ReplyError::TooLarge);
            }
            return Ok(None);
        };
        self.pos = 0;
        self.searched = 0;
        self.open.clear();
        match parse(&buf[..len], 0, 0)? {
            Some((v, used)) if used == len => {
                buf.advance(len);
                Ok(Some(v))
            }
            _ => Err(ReplyError::Malformed("inconsistent reply")),
        }
    }

    /// How long the first reply in `buf` is, once all of it is there.
    fn frame(&mut self, buf: &[u8]) -> Result<Option<usize>, ReplyError> {
        loop {
            let Some(&kind) = buf.get(self.pos) else {
                return Ok(None);
            };
            let from = self.searched.max(self.pos + 1);
            let Some(end) = buf
                .get(from..)
                .and_then(|rest| rest.windows(2).position(|w| w == b"\r\n"))
                .map(|i| from + i)
            else {
                // Resume the search where it stopped (minus one byte: the CR may be last).
                self.searched = buf.len().saturating_sub(1).max(self.pos + 1);
                if buf.len() - self.pos > self.max {
                    return Err(ReplyError::TooLarge);
                }
                return Ok(None);
            };
            let body = &buf[self.pos + 1..end];
            let next = end + 2;
            let done = match kind {
                b'+' | b'-' => next,
                b':' => {
                    int(body)?;
                    next
                }
                b'$' => match usize::try_from(int(body)?) {
                    Err(_) => next,
                    Ok(n) if n > MAX_REPLY_ELEMENT || n > self.max => {
                        return Err(ReplyError::TooLarge);
                    }
                    Ok(n) if buf.len() < next + n + 2 => {
                        // Keep the header's position; the search restarts on its short line.
                        self.searched = self.pos + 1;
                        return Ok(None);
                    }
                    Ok(n) if &buf[next + n..next + n + 2] != b"\r\n" => {
                        return Err(ReplyError::Malformed("bulk string not followed by CRLF"));
                    }
                    Ok(n) => next + n + 2,
                },
                b'*' => match usize::try_from(int(body)?) {
                    Err(_) | Ok(0) => next,
                    Ok(n) if n > MAX_REPLY_ELEMENT || self.open.len() >= MAX_DEPTH => {
                        return Err(ReplyError::TooLarge);
                    }
                    Ok(n) => {
                        self.open.push(n);
                        self.pos = next;
                        self.searched = 0;
                        continue;
                    }
                },
                _ => return Err(ReplyError::Malformed("unknown reply type")),
            };
            self.pos = done;
            self.searched = 0;
            // That element completes the arrays that were waiting for their last one.
            while let Some(left) = self.open.last_mut() {
                *left -= 1;
                if *left > 0 {
                    break;
                }
                self.open.pop();
            }
            if self.open.is_empty() {
                return Ok(Some(done));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_each_kind_and_waits_for_more() {
        let mut b = BytesMut::from(
            &b"+OK\r\n-ERR x\r\n:42\r\n$3\r\nabc\r\n$-1\r\n*2\r\n:1\r\n$1\r\nz\r\n"[..],
        );
        assert_eq!(decode(&mut b).unwrap(), Some(Value::Simple("OK".into())));
        assert_eq!(decode(&mut b).unwrap(), Some(Value::Error("ERR x".into())));
        assert_eq!(decode(&mut b).unwrap(), Some(Value::Int(42)));
        assert_eq!(
            decode(&mut b).unwrap(),
            Some(Value::Bulk(Some(Bytes::from_static(b"abc"))))
        );
        assert_eq!(decode(&mut b).unwrap(), Some(Value::Bulk(None)));
        assert_eq!(
            decode(&mut b).unwrap(),
            Some(Value::Array(Some(vec![
                Value::Int(1),
                Value::Bulk(Some(Bytes::from_static(b"z")))
            ])))
        );
        assert!(b.is_empty());
        let mut partial = BytesMut::from(&b"$5\r\nab"[..]);
        assert_eq!(decode(&mut partial).unwrap(), None);
        assert_eq!(partial.len(), 6, "nothing consumed");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for g in [
            &b"?\r\n"[..],
            b"$x\r\n",
            b"$3\r\nabcd\r\n",
            b"*99999999999\r\n",
        ] {
            let mut b = BytesMut::from(g);
            assert!(decode(&mut b).is_err(), "{g:?}");
        }
    }

    #[test]
    fn the_stream_decoder_resumes_and_bounds_replies() {
        let wire = b"*3\r\n:1\r\n$3\r\nabc\r\n*1\r\n+OK\r\n:7\r\n";
        let mut d = ReplyDecoder::new(1 << 20);
        let mut b = BytesMut::new();
        let mut got = Vec::new();
        for byte in wire {
            b.extend_from_slice(&[*byte]);
            while let Some(v) = d.decode(&mut b).unwrap() {
                got.push(v);
            }
        }
        let mut whole = BytesMut::from(&wire[..]);
        assert_eq!(
            got,
            vec![decode(&mut whole).unwrap().unwrap(), Value::Int(7)]
        );
        assert!(b.is_empty());

        // Too large: a bulk string over the bound, or a line that never ends.
        let mut small = ReplyDecoder::new(16);
        let mut b = BytesMut::from(&b"$17\r\n"[..]);
        assert_eq!(small.decode(&mut b), Err(ReplyError::TooLarge));
        let mut small = ReplyDecoder::new(16);
        let mut b = BytesMut::from(&[b'+'; 40][..]);
        assert_eq!(small.decode(&mut b), Err(ReplyError::TooLarge));
        // An array of many small elements over the bound, while it is still arriving.
        let mut small = ReplyDecoder::new(16);
        let mut b = BytesMut::from(&b"*100\r\n:1\r\n:1\r\n:1\r\n:1\r\n"[..]);
        assert_eq!(small.decode(&mut b), Err(ReplyError::TooLarge));
    }
}
