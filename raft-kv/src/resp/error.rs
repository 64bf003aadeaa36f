//! Why a client's byte stream is not a valid request stream.

use super::Reply;

/// A malformed request, or one over a [`Limits`](super::Limits) bound.
///
/// The display text follows Redis's where Redis has one. Send it back with
/// [`ProtocolError::to_reply`] (`-ERR Protocol error: ...`), then close the connection: the stream
/// cannot be resynchronised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// An inline command line is longer than `max_inline_len`.
    #[error("too big inline request")]
    InlineTooLong,
    /// An inline command has a quote that is not closed, or a closing quote not followed by a
    /// space.
    #[error("unbalanced quotes in request")]
    UnbalancedQuotes,
    /// A request array header (`*<count>`) whose count is not an integer, or negative other
    /// than `-1`.
    #[error("invalid multibulk length")]
    InvalidArrayLen,
    /// A request array header with more elements than `max_args`.
    #[error("invalid multibulk length: {len} exceeds the limit of {max}")]
    TooManyArgs {
        /// The declared number of elements.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// A request array header line that does not end within a few bytes.
    #[error("too big mbulk count string")]
    ArrayHeaderTooLong,
    /// An element of a request array that is not a bulk string (for example a nested array).
    #[error("expected '$', got '{}'", char::from(*.0).escape_default())]
    ExpectedBulk(u8),
    /// A bulk string header (`$<len>`) whose length is not an integer, or negative.
    #[error("invalid bulk length")]
    InvalidBulkLen,
    /// A bulk string longer than `max_bulk_len`.
    #[error("invalid bulk length: {len} exceeds the limit of {max}")]
    BulkTooLong {
        /// The declared length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// A bulk string header line that does not end within a few bytes.
    #[error("too big bulk count string")]
    BulkHeaderTooLong,
    /// A request array that would take more than `max_request_len` bytes.
    #[error("request exceeds the limit of {max} bytes")]
    RequestTooLong {
        /// The limit.
        max: usize,
    },
    /// A header line or bulk string not followed by `\r\n`.
    #[error("expected '\\r\\n'")]
    ExpectedCrlf,
}

impl ProtocolError {
    /// The error reply to send before closing: `-ERR Protocol error: <this error>`.
    pub fn to_reply(&self) -> Reply {
        Reply::Error(format!("ERR Protocol error: {self}").into())
    }
}
