//! The streaming request decoder.

use bytes::{Buf, Bytes, BytesMut};

use super::int::parse_i64;
use super::{Limits, ProtocolError, inline};

/// The longest header line (`*<count>` or `$<len>`) accepted, `\r\n` excluded: a type byte and
/// an `i64` need 21 bytes, so anything longer is garbage.
const MAX_HEADER_LEN: usize = 32;

/// The most argument slots allocated ahead of their arrival, whatever count a header declares.
const PREALLOC_ARGS: usize = 1024;

/// Decodes client requests from a connection's read buffer, one at a time.
///
/// A request is an array of bulk strings (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) or an inline
/// command line (`GET k\r\n`). Each argument is split off the read buffer and frozen, so it
/// shares the buffer's memory: arguments are never copied (inline arguments in quotes are the
/// exception, copied once). Keep one decoder per connection: it remembers the part of a request
/// it has already taken off the buffer, so a large request arriving in many reads is scanned once.
/// An argument kept long-term keeps its part of the read buffer's allocation alive: copy what
/// you store (`Bytes::copy_from_slice`), or serialise it, as a log entry does.
///
/// Empty requests (`*0\r\n`, `*-1\r\n`, blank inline lines) are skipped, as Redis skips them.
///
/// After an error the stream cannot be resynchronised: send [`ProtocolError::to_reply`] and close
/// the connection. The decoder then returns the same error forever.
#[derive(Debug)]
pub struct Decoder {
    limits: Limits,
    state: State,
}

/// Where the decoder is in the stream.
#[derive(Debug)]
enum State {
    /// Between requests.
    Idle,
    /// Inside an array request.
    Array(Partial),
    /// A protocol error happened.
    Failed(ProtocolError),
}

/// An array request being read.
#[derive(Debug)]
struct Partial {
    /// Elements not yet read.
    remaining: usize,
    /// Elements read.
    args: Vec<Bytes>,
    /// The declared length of the element whose header has been read, if its payload has not.
    bulk_len: Option<usize>,
    /// Bytes of the request taken off the buffer so far, plus the declared payload and CRLF of
    /// `bulk_len`.
    wire_len: usize,
}

/// What reading a header line found.
enum Header<'a> {
    /// The line is not complete yet.
    Incomplete,
    /// The line's content (after the type byte) and its whole length, CRLF included.
    Line(&'a [u8], usize),
}

impl Decoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            limits,
            state: State::Idle,
        }
    }

    /// The limits this decoder enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Takes the next complete request off the front of `buf`.
    ///
    /// `Ok(None)`: more bytes are needed; read more into `buf` (appending) and call again. A
    /// request is never empty. Call in a loop until `Ok(None)` to drain pipelined requests.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        if let State::Failed(e) = &self.state {
            return Err(e.clone());
        }
        let result = self.decode_inner(buf);
        if let Err(e) = &result {
            self.state = State::Failed(e.clone());
        }
        result
    }

    /// What the current partial request holds, for tests of the limits: its wire bytes (counting
    /// the declared length of an argument whose payload has not fully arrived), and the capacity
    /// of its argument vector.
    #[cfg(test)]
    pub(super) fn held(&self) -> (usize, usize) {
        match &self.state {
            State::Array(p) => (p.wire_len, p.args.capacity()),
            _ => (0, 0),
        }
    }

    fn decode_inner(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            match &mut self.state {
                State::Failed(e) => return Err(e.clone()),
                State::Idle => match buf.first() {
                    None => return Ok(None),
                    Some(b'*') => match start_array(buf, &self.limits)? {
                        None => return Ok(None),
                        Some(partial) if partial.remaining == 0 => {}
                        Some(partial) => self.state = State::Array(partial),
                    },
                    Some(_) => match inline::decode_line(buf, &self.limits)? {
                        None => return Ok(None),
                        Some(args) if args.is_empty() => {}
                        Some(args) => return Ok(Some(args)),
                    },
                },
                State::Array(partial) => {
                    if !read_elements(partial, buf, &self.limits)? {
                        return Ok(None);
                    }
                    let args = std::mem::take(&mut partial.args);
                    self.state = State::Idle;
                    return Ok(Some(args));
                }
            }
        }
    }
}

impl Default for Decoder {
    /// A decoder with the default [`Limits`].
    fn default() -> Decoder {
        Decoder::new(Limits::default())
    }
}

/// Reads an array header (`*<count>\r\n`) off `buf`. `Ok(None)`: incomplete. A count of 0 or -1
/// gives a partial request with nothing remaining.
fn start_array(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Partial>, ProtocolError> {
    let (digits, line_len) = match header(buf, ProtocolError::ArrayHeaderTooLong)? {
        Header::Incomplete => return Ok(None),
        Header::Line(digits, line_len) => (digits, line_len),
    };
    let count = match parse_i64(digits) {
        Some(-1 | 0) => 0,
        Some(n) if n > 0 => n.unsigned_abs(),
        _ => return Err(ProtocolError::InvalidArrayLen),
    };
    let remaining = match usize::try_from(count) {
        Ok(n) if n <= limits.max_args => n,
        _ => {
            return Err(ProtocolError::TooManyArgs {
                len: count,
                max: limits.max_args,
            });
        }
    };
    if line_len > limits.max_request_len {
        return Err(ProtocolError::RequestTooLong {
            max: limits.max_request_len,
        });
    }
    buf.advance(line_len);
    Ok(Some(Partial {
        remaining,
        args: Vec::with_capacity(remaining.min(PREALLOC_ARGS)),
        bulk_len: None,
        wire_len: line_len,
    }))
}

/// Reads as many elements of `partial` as `buf` holds. `Ok(true)`: the request is complete.
fn read_elements(
    partial: &mut Partial,
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<bool, ProtocolError> {
    while partial.remaining > 0 {
        let len = match partial.bulk_len {
            Some(len) => len,
            None => {
                let Some(len) = bulk_header(partial, buf, limits)? else {
                    return Ok(false);
                };
                len
            }
        };
        if buf.len() < len + 2 {
            return Ok(false);
        }
        if buf[len..len + 2] != *b"\r\n" {
            return Err(ProtocolError::ExpectedCrlf);
        }
        partial.args.push(buf.split_to(len).freeze());
        buf.advance(2);
        partial.bulk_len = None;
        partial.remaining -= 1;
    }
    Ok(true)
}

/// Reads a bulk string header (`$<len>\r\n`) off `buf` and checks the length against the
/// limits. `Ok(None)`: incomplete.
fn bulk_header(
    partial: &mut Partial,
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<usize>, ProtocolError> {
    match buf.first() {
        None => return Ok(None),
        Some(b'$') => {}
        Some(&other) => return Err(ProtocolError::ExpectedBulk(other)),
    }
    let (digits, line_len) = match header(buf, ProtocolError::BulkHeaderTooLong)? {
        Header::Incomplete => return Ok(None),
        Header::Line(digits, line_len) => (digits, line_len),
    };
    let declared = match parse_i64(digits) {
        Some(n) if n >= 0 => n.unsigned_abs(),
        _ => return Err(ProtocolError::InvalidBulkLen),
    };
    let len = match usize::try_from(declared) {
        Ok(n) if n <= limits.max_bulk_len => n,
        _ => {
            return Err(ProtocolError::BulkTooLong {
                len: declared,
                max: limits.max_bulk_len,
            });
        }
    };
    let wire_len = partial
        .wire_len
        .checked_add(line_len)
        .and_then(|n| n.checked_add(len))
        .and_then(|n| n.checked_add(2))
        .filter(|&n| n <= limits.max_request_len)
        .ok_or(ProtocolError::RequestTooLong {
            max: limits.max_request_len,
        })?;
    buf.advance(line_len);
    partial.wire_len = wire_len;
    partial.bulk_len = Some(len);
    Ok(Some(len))
}

/// Finds the header line at the front of `buf`: a type byte, content, `\r\n`. Errors if no line
/// end comes within [`MAX_HEADER_LEN`] bytes (`too_long`) or a line ends in a bare `\n`.
fn header(buf: &[u8], too_long: ProtocolError) -> Result<Header<'_>, ProtocolError> {
    let window = &buf[..buf.len().min(MAX_HEADER_LEN + 1)];
    match window.iter().position(|&b| b == b'\r' || b == b'\n') {
        None if buf.len() > MAX_HEADER_LEN => Err(too_long),
        None => Ok(Header::Incomplete),
        Some(end) if buf[end] == b'\n' => Err(ProtocolError::ExpectedCrlf),
        Some(end) => match buf.get(end + 1) {
            None => Ok(Header::Incomplete),
            Some(b'\n') => Ok(Header::Line(&buf[1..end], end + 2)),
            Some(_) => Err(ProtocolError::ExpectedCrlf),
        },
    }
}
