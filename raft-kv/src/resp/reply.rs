//! The replies a server sends.

use std::borrow::Cow;

use bytes::Bytes;

/// A reply, in RESP3's terms; [`encode`](super::encode) writes it in RESP2 or RESP3.
///
/// RESP2 has no map, null, double, boolean or verbatim string: encoding for RESP2 turns them
/// into what Redis sends a RESP2 client instead (see each variant).
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A simple string: `+OK`. Carriage returns and line feeds are sent as spaces.
    Simple(Cow<'static, str>),
    /// An error, starting with its code: `ERR syntax error`, `WRONGTYPE ...`, `NOPROTO ...`.
    /// Carriage returns and line feeds are sent as spaces.
    Error(Cow<'static, str>),
    /// An integer: `:42`.
    Integer(i64),
    /// A bulk string, or the nil bulk string (`None`; RESP3 null).
    Bulk(Option<Bytes>),
    /// An array, or the nil array (`None`; RESP3 null).
    Array(Option<Vec<Reply>>),
    /// RESP3 map; RESP2: an array of keys and values alternating.
    Map(Vec<(Reply, Reply)>),
    /// RESP3 null; RESP2: the nil bulk string.
    Null,
    /// RESP3 double; RESP2: a bulk string of the number (`inf`, `-inf` and `nan` included).
    Double(f64),
    /// RESP3 boolean; RESP2: the integer 1 or 0.
    Boolean(bool),
    /// RESP3 verbatim string (text meant for display, such as INFO's); RESP2: a bulk string.
    Verbatim(VerbatimFormat, Bytes),
}

/// The format tag of a [`Reply::Verbatim`] string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerbatimFormat {
    /// Plain text: `txt`.
    Text,
    /// Markdown: `mkd`.
    Markdown,
}

impl VerbatimFormat {
    /// The three-byte tag RESP3 sends.
    pub fn tag(self) -> &'static [u8; 3] {
        match self {
            VerbatimFormat::Text => b"txt",
            VerbatimFormat::Markdown => b"mkd",
        }
    }
}

impl Reply {
    /// `+OK`.
    pub const OK: Reply = Reply::Simple(Cow::Borrowed("OK"));
    /// The nil bulk string: `$-1` (RESP3 `_`).
    pub const NIL: Reply = Reply::Bulk(None);

    /// A simple string.
    pub fn simple(s: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Simple(s.into())
    }

    /// An error; `message` starts with the error code (`ERR ...`).
    pub fn error(message: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Error(message.into())
    }

    /// A bulk string.
    pub fn bulk(b: impl Into<Bytes>) -> Reply {
        Reply::Bulk(Some(b.into()))
    }

    /// An array.
    pub fn array(items: Vec<Reply>) -> Reply {
        Reply::Array(Some(items))
    }
}
