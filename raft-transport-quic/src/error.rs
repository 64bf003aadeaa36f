//! The errors of the transport's operations.

use std::io;
use std::net::SocketAddr;

use raft_core::NodeId;

use crate::config::ConfigError;
use crate::identity::IdentityError;
use crate::wire::code;

/// Why [`Transport::bind`](crate::Transport::bind) failed.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// The configuration cannot work.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// The TLS material is unusable.
    #[error("TLS material: {0}")]
    Tls(#[from] TlsError),
    /// The UDP socket could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Io {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// `bind` was called outside a tokio runtime.
    #[error("Transport::bind must be called from within a tokio runtime")]
    NoRuntime,
}

/// Why the TLS material is unusable.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM input holds nothing usable.
    #[error("{what}: {detail}")]
    Pem {
        /// Which input.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The node certificate does not carry this node's identity.
    #[error("this node's certificate does not identify it: {0}")]
    Identity(#[from] IdentityError),
    /// The node certificate does not chain to the cluster CA (or is expired).
    #[error("this node's certificate is not trusted by the cluster CA: {0}")]
    NotTrusted(rustls::Error),
    /// rustls refused the configuration (e.g. the key does not match the certificate).
    #[error("rustls: {0}")]
    Rustls(#[from] rustls::Error),
    /// The verifier could not be built from the CA certificate.
    #[error("certificate verifier: {0}")]
    Verifier(String),
    /// quinn refused the configuration.
    #[error("QUIC configuration: {0}")]
    Quic(String),
}

/// Why [`Transport::send`](crate::Transport::send) dropped a message. Dropping is normal under
/// load or failure: Raft retransmits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// No address is known for the recipient.
    #[error("no address for node {0}")]
    UnknownPeer(NodeId),
    /// The recipient's queue is full.
    #[error("the queue to node {0} is full")]
    QueueFull(NodeId),
    /// The message is addressed to this node.
    #[error("message addressed to this node")]
    ToSelf,
    /// The message's `from` is not this node: peers would drop it as spoofed.
    #[error("message from node {0}, not from this node")]
    WrongSender(NodeId),
    /// The transport is shut down.
    #[error("the transport is shut down")]
    ShutDown,
}

/// Why a peer refused a snapshot stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotRefusal {
    /// The receiver already has as many incoming snapshots waiting as it allows.
    Busy,
    /// The receiver found the header invalid (not an `InstallSnapshot`, wrong sender or
    /// recipient).
    Invalid,
    /// The receiving application dropped the snapshot before its end.
    Abandoned,
    /// A chunk or the header exceeded the receiver's limits.
    TooLarge,
    /// The receiver is shutting down.
    ShuttingDown,
    /// Another application error code.
    Other(u64),
}

impl SnapshotRefusal {
    pub(crate) fn from_code(c: quinn::VarInt) -> Self {
        match u32::try_from(c.into_inner()).unwrap_or(u32::MAX) {
            code::SNAPSHOT_BUSY => Self::Busy,
            code::SNAPSHOT_INVALID => Self::Invalid,
            code::SNAPSHOT_ABORTED => Self::Abandoned,
            code::FRAME_TOO_LARGE => Self::TooLarge,
            code::SHUTDOWN => Self::ShuttingDown,
            _ => Self::Other(c.into_inner()),
        }
    }
}

/// Why [`Transport::send_snapshot`](crate::Transport::send_snapshot) failed. The core should be
/// told (`report_snapshot(peer, Failed)`); it offers the snapshot again later.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotSendError {
    /// The message is not an `InstallSnapshot` from this node to another.
    #[error("not an InstallSnapshot message from this node to a peer")]
    NotASnapshotOffer,
    /// No address is known for the recipient.
    #[error("no address for node {0}")]
    UnknownPeer(NodeId),
    /// No connection to the recipient could be had in time.
    #[error("node {0} is unreachable")]
    Unreachable(NodeId),
    /// The recipient refused the stream.
    #[error("node {peer} refused the snapshot: {reason:?}")]
    Refused {
        /// The recipient.
        peer: NodeId,
        /// Why.
        reason: SnapshotRefusal,
    },
    /// The connection was lost mid-stream.
    #[error("connection lost: {0}")]
    ConnectionLost(String),
    /// Reading the snapshot data failed; the stream was abandoned.
    #[error("reading the snapshot data failed: {0}")]
    Source(#[source] io::Error),
    /// The header exceeds the frame limit, or the peer answered something unexpected.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The transport is shut down.
    #[error("the transport is shut down")]
    ShutDown,
}

/// Why an incoming snapshot's data stream failed. The partial data must be discarded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotRecvError {
    /// The sender abandoned the stream.
    #[error("the sender abandoned the snapshot ({0})")]
    Aborted(String),
    /// The connection was lost.
    #[error("connection lost: {0}")]
    ConnectionLost(String),
    /// A chunk exceeded the size limit.
    #[error("chunk of {len} bytes exceeds the limit of {max} bytes")]
    ChunkTooLarge {
        /// The announced length.
        len: u32,
        /// The limit.
        max: u32,
    },
    /// The stream ended before the sender's end marker: the data is incomplete.
    #[error("the stream ended before the end of the snapshot")]
    Truncated,
    /// The end marker is wrong (byte count mismatch, data after it).
    #[error("malformed end of snapshot: {0}")]
    Malformed(String),
    /// The transport is shutting down.
    #[error("the transport is shutting down")]
    ShutDown,
}

impl From<SnapshotRecvError> for io::Error {
    fn from(e: SnapshotRecvError) -> Self {
        let kind = match e {
            SnapshotRecvError::Aborted(_) => io::ErrorKind::ConnectionAborted,
            SnapshotRecvError::ConnectionLost(_) => io::ErrorKind::ConnectionReset,
            SnapshotRecvError::ChunkTooLarge { .. } => io::ErrorKind::InvalidData,
            SnapshotRecvError::Truncated => io::ErrorKind::UnexpectedEof,
            SnapshotRecvError::Malformed(_) => io::ErrorKind::InvalidData,
            SnapshotRecvError::ShutDown => io::ErrorKind::Interrupted,
        };
        io::Error::new(kind, e)
    }
}
