//! The decoder's limits on what one client may make the server hold.

/// Bounds on the requests a [`Decoder`](super::Decoder) accepts.
///
/// A request over a limit is a [`ProtocolError`](super::ProtocolError), found as soon as the
/// offending header is read: the decoder never waits for (or buffers) the bytes of a length it
/// has already rejected. With these bounds, one connection's decoder and read buffer together hold
/// at most about `max(max_request_len, max_inline_len)` bytes plus one read's worth, and the
/// argument vector of one request at most `max_args` handles (32 bytes each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest bulk string (one argument) accepted, in bytes. Redis: `proto-max-bulk-len`,
    /// 512 MiB; default here 16 MiB.
    pub max_bulk_len: usize,
    /// The most elements in one request array. Redis: 1,048,576 (1 Mi); default the same.
    pub max_args: usize,
    /// The longest inline command line (`PING\r\n`, as telnet sends it), terminator excluded.
    /// Redis: 64 KiB; default the same.
    pub max_inline_len: usize,
    /// The most bytes one array request may take on the wire, headers included. Bounds what a
    /// request of many large arguments makes the decoder hold. Redis bounds the whole query
    /// buffer (`client-query-buffer-limit`, 1 GiB); default here 32 MiB.
    pub max_request_len: usize,
}

impl Limits {
    /// The defaults: 16 MiB bulks, 1 Mi arguments, 64 KiB inline lines, 32 MiB requests.
    pub const DEFAULT: Limits = Limits {
        max_bulk_len: 16 << 20,
        max_args: 1 << 20,
        max_inline_len: 64 << 10,
        max_request_len: 32 << 20,
    };
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}
