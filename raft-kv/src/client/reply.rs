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
}
