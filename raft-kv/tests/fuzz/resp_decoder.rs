//! The `resp_decoder` fuzz harness, shared by the property test `tests/fuzz_resp_decoder.rs` and
//! the cargo-fuzz target `fuzz/fuzz_targets/resp_decoder.rs` (which includes this file by path).
//!
//! [`run`] reads its input as: five bytes of [`Limits`] (small ones, so that random input reaches
//! them, or the defaults), a chunking (how many bytes each read brings), then the bytes a client
//! sends. It checks:
//!
//! - **the request decoder** ([`Decoder`]), fed read by read as a connection feeds it: no panic;
//!   every request is non-empty and within `max_args`, every argument within the bulk or inline
//!   limit; whenever it asks for more bytes, the read buffer holds no more than one incomplete
//!   element can take (a header line, a bulk string within `max_bulk_len`, an inline line within
//!   `max_inline_len`), so what a client makes the server hold is bounded by the limits, not by
//!   what it sends; the requests and the error are the same whatever the chunking; after an
//!   error the decoder keeps returning it; a decoded request, re-encoded as a client encodes it,
//!   decodes to the same arguments;
//! - **the command parser**: `Command::parse` on every decoded request; its error, and the
//!   protocol error, make replies that encode in RESP2 and RESP3, and the RESP2 encoding reads
//!   back with the client's reply decoder as one complete error;
//! - **the client's reply decoder** (`client::reply::decode`), on the same bytes read by read as
//!   the client reads them: no panic, nothing consumed while it asks for more, and the same
//!   values and error whatever the chunking.
//!
//! The code under test is reached as `crate::resp`, `crate::command` and `crate::client::reply`:
//! the property test imports those modules from `raft_kv` at its crate root; the fuzz target,
//! which must not link RocksDB, includes their source files by path.

#![allow(dead_code)]

use bytes::{Bytes, BytesMut};

use crate::client::reply::{self, ReplyError, Value};
use crate::command::Command;
use crate::resp::{Decoder, Limits, Protocol, ProtocolError, Reply, encode, encode_request};

/// The longest header line the decoder waits for: a type byte, 32 bytes, `\r`.
const MAX_HEADER_WAIT: usize = 34;

/// The limits, the read sizes and the stream an input describes.
pub struct Case<'a> {
    /// The decoder's limits.
    pub limits: Limits,
    /// The size of each read (1 to 64 bytes), in turn, cycling; never empty.
    pub reads: Vec<usize>,
    /// What the client sends.
    pub stream: &'a [u8],
}

impl<'a> Case<'a> {
    /// Reads a case from fuzz input.
    pub fn parse(data: &'a [u8]) -> Case<'a> {
        let mut head = [0u8; 6];
        let n = data.len().min(head.len());
        head[..n].copy_from_slice(&data[..n]);
        let rest = &data[n..];
        let limits = if head[0] & 0x80 != 0 {
            Limits::default()
        } else {
            Limits {
                max_bulk_len: usize::from(head[1] % 64),
                max_args: usize::from(head[2] % 8),
                max_inline_len: usize::from(head[3] % 64),
                max_request_len: usize::from(head[4]),
            }
        };
        let count = usize::from(head[5] % 8);
        let (sizes, stream) = rest.split_at(count.min(rest.len()));
        let mut reads: Vec<usize> = sizes.iter().map(|&s| 1 + usize::from(s % 64)).collect();
        if reads.is_empty() {
            reads.push(usize::MAX);
        }
        Case {
            limits,
            reads,
            stream,
        }
    }

    /// An input that [`Case::parse`] reads back with these small `limits` (each under its
    /// modulus), read sizes `1 + reads[i] % 64` (at most 7 of them) and `stream`.
    pub fn to_input(limits: &Limits, reads: &[u8], stream: &[u8]) -> Vec<u8> {
        let mut out = vec![
            0,
            limits.max_bulk_len as u8,
            limits.max_args as u8,
            limits.max_inline_len as u8,
            limits.max_request_len as u8,
            reads.len() as u8,
        ];
        out.extend_from_slice(reads);
        out.extend_from_slice(stream);
        out
    }

    /// The stream cut into reads.
    fn chunks(&self) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        let mut rest = self.stream;
        let mut i = 0;
        while !rest.is_empty() {
            let n = self.reads[i % self.reads.len()].min(rest.len());
            let (a, b) = rest.split_at(n);
            out.push(a);
            rest = b;
            i += 1;
        }
        out
    }
}

/// Runs the harness on one input. Panics on a violation.
pub fn run(data: &[u8]) {
    let case = Case::parse(data);
    let chunks = case.chunks();
    check_requests(&case, &chunks);
    check_replies(&chunks, case.stream);
}

/// What the request decoder made of a stream: the requests, then the error or the bytes left
/// waiting for more.
#[derive(Debug, PartialEq)]
enum End {
    Error(ProtocolError),
    Waiting(usize),
}

fn check_requests(case: &Case<'_>, chunks: &[&[u8]]) {
    let limits = case.limits;
    // What the read buffer may hold while the decoder waits for more.
    let hold = limits
        .max_bulk_len
        .saturating_add(1)
        .max(limits.max_inline_len.saturating_add(1))
        .max(MAX_HEADER_WAIT);
    let mut decoder = Decoder::new(limits);
    let mut buf = BytesMut::new();
    let mut requests = Vec::new();
    let mut end = End::Waiting(0);
    'reads: for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(req)) => {
                    check_request(&limits, &req);
                    requests.push(req);
                }
                Ok(None) => {
                    assert!(
                        buf.len() <= hold,
                        "the decoder waits with {} bytes buffered (limits {limits:?})",
                        buf.len()
                    );
                    end = End::Waiting(buf.len());
                    break;
                }
                Err(e) => {
                    // The error is final.
                    assert_eq!(decoder.decode(&mut buf), Err(e.clone()));
                    check_error_reply(e.to_reply());
                    end = End::Error(e);
                    break 'reads;
                }
            }
        }
    }
    // The same in one read.
    let mut decoder = Decoder::new(limits);
    let mut whole = BytesMut::from(case.stream);
    let mut requests_whole = Vec::new();
    let end_whole = loop {
        match decoder.decode(&mut whole) {
            Ok(Some(req)) => requests_whole.push(req),
            Ok(None) => break End::Waiting(whole.len()),
            Err(e) => break End::Error(e),
        }
    };
    assert_eq!(requests, requests_whole, "requests depend on the chunking");
    assert_eq!(end, end_whole, "the outcome depends on the chunking");
}

/// One decoded request: its shape, its command, and its re-encoding.
fn check_request(limits: &Limits, req: &[Bytes]) {
    assert!(!req.is_empty(), "an empty request");
    assert!(req.len() <= limits.max_args, "{} arguments", req.len());
    let longest = limits.max_bulk_len.max(limits.max_inline_len);
    assert!(
        req.iter().all(|a| a.len() <= longest),
        "an argument over the limits"
    );

    match Command::parse(req) {
        Ok(cmd) => {
            let _ = (cmd.name(), cmd.is_write(), cmd.is_read(), cmd.keys());
            let _ = format!("{cmd:?}");
        }
        Err(e) => {
            let _ = e.to_string();
            check_error_reply(Reply::from(e));
        }
    }

    // As a client encodes it, it decodes to the same arguments (with the default limits:
    // headers make it longer than the wire form it came in).
    let mut wire = BytesMut::new();
    encode_request(req, &mut wire);
    let mut decoder = Decoder::default();
    assert_eq!(decoder.decode(&mut wire), Ok(Some(req.to_vec())));
    assert!(wire.is_empty());
}

/// An error reply encodes in both protocols, and the client reads the RESP2 one back as one
/// error.
fn check_error_reply(reply: Reply) {
    let mut resp3 = BytesMut::new();
    encode(&reply, Protocol::Resp3, &mut resp3);
    let mut wire = BytesMut::new();
    encode(&reply, Protocol::Resp2, &mut wire);
    match reply::decode(&mut wire) {
        Ok(Some(Value::Error(text))) => assert!(!text.is_empty()),
        other => panic!("an error reply reads back as {other:?}"),
    }
    assert!(wire.is_empty(), "bytes left after an error reply");
}

/// What the reply decoder made of a stream.
#[derive(Debug, PartialEq)]
enum ReplyEnd {
    Error(ReplyError),
    Waiting(usize),
}

/// Feeds `chunks` one by one to `decode`, taking every reply after each, until an error.
fn read_chunked(
    chunks: &[&[u8]],
    mut decode: impl FnMut(&mut BytesMut) -> Result<Option<Value>, ReplyError>,
) -> (Vec<Value>, ReplyEnd) {
    let mut buf = BytesMut::new();
    let mut values = Vec::new();
    let mut end = ReplyEnd::Waiting(0);
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            let before = buf.len();
            match decode(&mut buf) {
                Ok(Some(v)) => {
                    assert!(buf.len() < before, "a value from no bytes");
                    values.push(v);
                }
                Ok(None) => {
                    assert_eq!(buf.len(), before, "bytes consumed without a value");
                    end = ReplyEnd::Waiting(buf.len());
                    break;
                }
                Err(e) => {
                    let _ = e.to_string();
                    return (values, ReplyEnd::Error(e));
                }
            }
        }
    }
    (values, end)
}

fn check_replies(chunks: &[&[u8]], stream: &[u8]) {
    let (values_whole, end_whole) = read_chunked(&[stream], reply::decode);
    let (values, end) = read_chunked(chunks, reply::decode);
    assert_eq!(values, values_whole, "replies depend on the chunking");
    assert_eq!(end, end_whole, "the reply outcome depends on the chunking");
    // The stream decoder (which resumes where it stopped) reads the same replies, chunk by chunk.
    let mut decoder = reply::ReplyDecoder::new(usize::MAX);
    let (values, end) = read_chunked(chunks, |buf| decoder.decode(buf));
    assert_eq!(
        values, values_whole,
        "the stream decoder reads other replies"
    );
    assert_eq!(end, end_whole, "the stream decoder ends otherwise");
}
