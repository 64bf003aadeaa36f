//! RESP: the Redis serialization protocol.
//!
//! Requests come in as RESP2 arrays of bulk strings, or as inline command lines; a [`Decoder`]
//! takes them off a connection's read buffer one at a time, within [`Limits`], or fails with a
//! [`ProtocolError`] to send back before closing. Replies go out as [`Reply`] values, written by
//! [`encode`] in the connection's [`Protocol`]: RESP2, or RESP3 after `HELLO 3`.
//!
//! ```
//! use bytes::BytesMut;
//! use raft_kv::resp::{Decoder, Protocol, Reply, encode};
//!
//! let mut decoder = Decoder::default();
//! let mut buf = BytesMut::from(&b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nPING\r\n*1\r\n$3\r\nGE"[..]);
//! assert_eq!(decoder.decode(&mut buf).unwrap().unwrap(), ["ECHO", "hi"]);
//! assert_eq!(decoder.decode(&mut buf).unwrap().unwrap(), ["PING"]);
//! assert_eq!(decoder.decode(&mut buf).unwrap(), None); // more bytes needed
//!
//! let mut out = BytesMut::new();
//! encode(&Reply::bulk("hi"), Protocol::Resp2, &mut out);
//! encode(&Reply::Null, Protocol::Resp3, &mut out);
//! assert_eq!(&out[..], b"$2\r\nhi\r\n_\r\n");
//! ```

mod decoder;
mod encode;
mod error;
mod inline;
pub(crate) mod int;
mod limits;
mod reply;
mod request;

pub use decoder::Decoder;
pub use encode::{Protocol, encode};
pub use error::ProtocolError;
pub use limits::Limits;
pub use reply::{Reply, VerbatimFormat};
pub use request::encode_request;

#[cfg(test)]
mod tests;
