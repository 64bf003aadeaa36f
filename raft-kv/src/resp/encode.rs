//! Writes replies in RESP2 or RESP3.

use bytes::{BufMut, BytesMut};

use super::Reply;
use super::int::{put_i64, put_u64};

/// The protocol version a connection speaks: RESP2 until the client sends `HELLO 3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, every connection's protocol at first.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}

impl Protocol {
    /// The version number HELLO takes and reports: 2 or 3.
    pub fn version(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }

    /// The protocol of a HELLO version number, if supported.
    pub fn from_version(version: i64) -> Option<Protocol> {
        match version {
            2 => Some(Protocol::Resp2),
            3 => Some(Protocol::Resp3),
            _ => None,
        }
    }
}

/// Appends `reply` to `out`, in `protocol`.
///
/// Never fails and never panics; nesting is walked with an explicit stack, not recursion.
pub fn encode(reply: &Reply, protocol: Protocol, out: &mut BytesMut) {
    let resp3 = protocol == Protocol::Resp3;
    let mut stack: Vec<&Reply> = vec![reply];
    while let Some(reply) = stack.pop() {
        match reply {
            Reply::Simple(s) => line(out, b'+', s.as_bytes()),
            Reply::Error(s) => line(out, b'-', s.as_bytes()),
            Reply::Integer(n) => {
                out.put_u8(b':');
                put_i64(out, *n);
                out.put_slice(b"\r\n");
            }
            Reply::Bulk(Some(b)) => bulk(out, b'$', &[b]),
            Reply::Bulk(None) | Reply::Array(None) | Reply::Null if resp3 => {
                out.put_slice(b"_\r\n")
            }
            Reply::Bulk(None) | Reply::Null => out.put_slice(b"$-1\r\n"),
            Reply::Array(None) => out.put_slice(b"*-1\r\n"),
            Reply::Array(Some(items)) => {
                header(out, b'*', items.len());
                stack.extend(items.iter().rev());
            }
            Reply::Map(entries) => {
                if resp3 {
                    header(out, b'%', entries.len());
                } else {
                    header(out, b'*', entries.len().saturating_mul(2));
                }
                for (k, v) in entries.iter().rev() {
                    stack.push(v);
                    stack.push(k);
                }
            }
            Reply::Double(d) => {
                let text = double_text(*d);
                if resp3 {
                    line(out, b',', text.as_bytes());
                } else {
                    bulk(out, b'$', &[text.as_bytes()]);
                }
            }
            Reply::Boolean(b) if resp3 => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Reply::Boolean(b) => out.put_slice(if *b { b":1\r\n" } else { b":0\r\n" }),
            Reply::Verbatim(format, text) if resp3 => {
                bulk(out, b'=', &[format.tag(), b":", text]);
            }
            Reply::Verbatim(_, text) => bulk(out, b'$', &[text]),
        }
    }
}

/// A line-typed value (simple string, error, double): CR and LF become spaces.
fn line(out: &mut BytesMut, kind: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.put_u8(kind);
    if text.iter().any(|&b| b == b'\r' || b == b'\n') {
        out.extend(
            text.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
    } else {
        out.put_slice(text);
    }
    out.put_slice(b"\r\n");
}

/// An aggregate's header: `<kind><len>\r\n`.
fn header(out: &mut BytesMut, kind: u8, len: usize) {
    out.put_u8(kind);
    put_u64(out, len as u64);
    out.put_slice(b"\r\n");
}

/// A length-prefixed value made of `parts`: `<kind><len>\r\n<parts...>\r\n`.
fn bulk(out: &mut BytesMut, kind: u8, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    out.reserve(len + 24);
    header(out, kind, len);
    for part in parts {
        out.put_slice(part);
    }
    out.put_slice(b"\r\n");
}

/// A double as RESP3 writes it: the shortest text that reads back as the same number (with an
/// exponent when large or small), `inf`, `-inf` or `nan`.
fn double_text(d: f64) -> String {
    if d.is_nan() {
        "nan".to_owned()
    } else if d.is_infinite() {
        if d > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        format!("{d:?}")
    }
}
