//! The wire protocol's constants: the ALPN version, the stream kinds, the error codes, and the
//! two small control records (the server's hello and the snapshot acknowledgement).
//!
//! Version 1 (`raft/1`):
//!
//! - The protocol version is the TLS ALPN protocol. Both sides offer only the versions they
//!   speak; a peer with no version in common fails the handshake (TLS alert
//!   `no_application_protocol`) and is never read.
//! - Once the server has checked the client's identity it opens a unidirectional **hello** stream
//!   (`0x03`, then one [`Hello`] frame). The client counts the connection as up only then.
//! - Each unidirectional stream the client opens starts with one kind byte. `0x01`: a
//!   **message stream**, a sequence of frames, each a postcard-encoded `raft_core::Message`.
//! - Each bidirectional stream the client opens starts with one kind byte. `0x02`: a **snapshot
//!   stream**: a frame holding the `InstallSnapshot` message, then frames of raw snapshot data
//!   (never empty), then the end marker: an empty frame followed by a [`SnapshotEnd`] frame,
//!   then the end of the stream (FIN). A stream that ends without the marker is truncated. The
//!   receiver answers with one [`SnapshotAck`] frame once its application has taken every
//!   chunk.
//! - A frame is a big-endian `u32` length followed by that many bytes.

use quinn::VarInt;
use serde::{Deserialize, Serialize};

/// The ALPN protocol of wire version 1.
pub const PROTOCOL_V1: &str = "raft/1";

/// The ALPN protocols this build speaks, most preferred first.
pub(crate) const ALPN_PROTOCOLS: &[&[u8]] = &[PROTOCOL_V1.as_bytes()];

/// Kind byte of a message stream (unidirectional, client to server).
pub(crate) const STREAM_MESSAGES: u8 = 0x01;
/// Kind byte of a snapshot stream (bidirectional, opened by the sender of the snapshot).
pub(crate) const STREAM_SNAPSHOT: u8 = 0x02;
/// Kind byte of the hello stream (unidirectional, server to client).
pub(crate) const STREAM_HELLO: u8 = 0x03;

/// Send priority of message streams: heartbeats and appends go before snapshot data.
pub(crate) const PRIORITY_MESSAGES: i32 = 1;
/// Send priority of snapshot streams.
pub(crate) const PRIORITY_SNAPSHOT: i32 = 0;

/// The largest hello or acknowledgement frame accepted.
pub(crate) const MAX_CONTROL_FRAME: u32 = 256;

/// Application error codes, used to close connections and to stop or reset streams.
pub(crate) mod code {
    /// The node is shutting down.
    pub(crate) const SHUTDOWN: u32 = 0x00;
    /// The peer's certificate names a node that is not a known member.
    pub(crate) const UNKNOWN_PEER: u32 = 0x10;
    /// The peer did not negotiate a protocol version we speak.
    pub(crate) const BAD_PROTOCOL: u32 = 0x11;
    /// The peer's certificate does not carry exactly one node identity of this cluster.
    pub(crate) const BAD_IDENTITY: u32 = 0x12;
    /// A newer connection from the same peer replaced this one.
    pub(crate) const SUPERSEDED: u32 = 0x13;
    /// The peer was removed from the membership.
    pub(crate) const REMOVED: u32 = 0x14;
    /// The peer's address changed; the connection is re-established.
    pub(crate) const ADDRESS_CHANGED: u32 = 0x15;
    /// A frame could not be decoded; the stream is closed.
    pub(crate) const DECODE_ERROR: u32 = 0x20;
    /// A frame exceeded the size limit; the stream is closed.
    pub(crate) const FRAME_TOO_LARGE: u32 = 0x21;
    /// The stream's kind byte is unknown.
    pub(crate) const UNKNOWN_STREAM: u32 = 0x22;
    /// The receiver has no room for another incoming snapshot.
    pub(crate) const SNAPSHOT_BUSY: u32 = 0x23;
    /// The snapshot's header is invalid (not an `InstallSnapshot`, spoofed sender, misaddressed).
    pub(crate) const SNAPSHOT_INVALID: u32 = 0x24;
    /// The receiving application dropped the snapshot before its end.
    pub(crate) const SNAPSHOT_ABORTED: u32 = 0x25;
    /// The sender's data source failed; the snapshot is abandoned.
    pub(crate) const SNAPSHOT_SOURCE_FAILED: u32 = 0x26;

    /// A short description of an application error code, for logs.
    pub(crate) fn describe(code: u64) -> &'static str {
        match u32::try_from(code).unwrap_or(u32::MAX) {
            SHUTDOWN => "shutting down",
            UNKNOWN_PEER => "not a known member of the cluster",
            BAD_PROTOCOL => "no common protocol version",
            BAD_IDENTITY => "certificate does not carry exactly one node identity of this cluster",
            SUPERSEDED => "superseded by a newer connection",
            REMOVED => "removed from the membership",
            ADDRESS_CHANGED => "address changed",
            DECODE_ERROR => "undecodable frame",
            FRAME_TOO_LARGE => "frame too large",
            UNKNOWN_STREAM => "unknown stream kind",
            SNAPSHOT_BUSY => "receiver busy",
            SNAPSHOT_INVALID => "invalid snapshot header",
            SNAPSHOT_ABORTED => "receiver abandoned the snapshot",
            SNAPSHOT_SOURCE_FAILED => "sender's data source failed",
            _ => "unknown code",
        }
    }
}

/// `code` as a QUIC variable-length integer.
pub(crate) fn varint(code: u32) -> VarInt {
    VarInt::from_u32(code)
}

/// The server's greeting: it has checked the client's identity and accepts its streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Hello {
    /// The wire version the server speaks on this connection.
    pub(crate) version: u32,
}

/// The sender has sent every byte of the snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SnapshotEnd {
    /// The number of data bytes sent.
    pub(crate) bytes: u64,
}

/// The receiver of a snapshot has handed every byte of it to its application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SnapshotAck {
    /// The number of data bytes received.
    pub(crate) bytes: u64,
}
