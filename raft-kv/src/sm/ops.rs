//! What the replicated log carries for the key-value store, and what applying it returns.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// When a `SET` applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetCondition {
    /// Always.
    Always,
    /// Only if the key does not exist (`NX`).
    IfAbsent,
    /// Only if the key exists (`XX`).
    IfPresent,
}

/// A write to the store: every one is a log entry, applied on every replica.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// `SET key value [NX|XX] [GET]`.
    Set {
        /// The key.
        key: Bytes,
        /// The value.
        value: Bytes,
        /// When to set.
        condition: SetCondition,
        /// Return the old value (`GET`).
        get: bool,
    },
    /// `GETSET key value`.
    GetSet {
        /// The key.
        key: Bytes,
        /// The value.
        value: Bytes,
    },
    /// `DEL key...`.
    Del {
        /// The keys.
        keys: Vec<Bytes>,
    },
    /// `APPEND key value`.
    Append {
        /// The key.
        key: Bytes,
        /// The value appended.
        value: Bytes,
    },
    /// `INCRBY key by` (and `INCR`, `DECR`, `DECRBY`).
    IncrBy {
        /// The key.
        key: Bytes,
        /// The increment.
        by: i64,
    },
    /// `MSET key value...`.
    MSet {
        /// The pairs, in order.
        pairs: Vec<(Bytes, Bytes)>,
    },
    /// Records a member's addresses (replicated so every node can reach every member).
    SetPeer {
        /// The member.
        id: u64,
        /// Its Raft (QUIC) address.
        peer_addr: String,
        /// Its client (RESP) address.
        client_addr: String,
    },
}

/// The writer of a tagged write, for exactly-once application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The client's id (unique per client, chosen by the client).
    pub client: u64,
    /// The request's sequence number: increases with every new request of the client; a retry
    /// reuses it.
    pub seq: u64,
}

/// One log entry's payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// Present for tagged writes: applied at most once per `(client, seq)`.
    pub session: Option<Session>,
    /// The write.
    pub op: Op,
}

impl Proposal {
    /// Encodes the proposal for the log.
    #[must_use]
    pub fn encode(&self) -> Bytes {
        Bytes::from(postcard::to_allocvec(self).unwrap_or_default())
    }

    /// Decodes a proposal from a log entry.
    pub fn decode(data: &[u8]) -> Result<Proposal, postcard::Error> {
        postcard::from_bytes(data)
    }
}

/// What applying a write returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Output {
    /// `+OK`.
    Ok,
    /// A nil reply.
    Nil,
    /// An integer.
    Int(i64),
    /// A bulk string.
    Bulk(Bytes),
    /// An error reply (the text after the `-`).
    Error(String),
}
