//! Linearizable reads without writing to the log: ReadIndex (thesis §6.4) and leases (§6.4.1).
//!
//! A read is requested with [`Raft::read_index`](crate::Raft::read_index) and a caller-chosen
//! [`ReadId`]. Its outcome arrives in a later [`Ready::reads`](crate::Ready::reads): either a
//! read index, and the caller serves the read once its state machine has applied that index, or
//! a [`ReadError`]. Every read gets exactly one outcome: reads that cannot be confirmed within an
//! election timeout fail with [`ReadError::Timeout`].
//!
//! On the leader, in [`ReadMode::Safe`](crate::ReadMode::Safe), the read index is the commit
//! index when the read arrives; it is released once a quorum has answered a heartbeat sent after
//! that, proving no newer leader existed when the read began. Reads that arrive together share
//! one heartbeat round. A new leader first commits the blank entry of its term (§8), so that its
//! commit index is at least that of any earlier leader. On a follower, the read index is asked of
//! the leader.
//!
//! A follower's request counts as one acknowledgement of its own read: it was sent after the read
//! began, by a node in the leader's term, so that node had not voted for a newer leader by then,
//! which is all a heartbeat answer proves. When the leader and the asking follower are a quorum
//! (any follower of a three-node group), the leader answers at once, and a read on a follower
//! costs one round trip to the leader instead of two.
//!
//! In [`ReadMode::LeaseBased`](crate::ReadMode::LeaseBased) the leader skips the round while its
//! lease holds: a quorum answered a heartbeat sent less than `election_ticks - 1` ticks ago, and
//! with check-quorum no voter grants a vote within `election_ticks` of hearing from the leader.
//! This assumes the nodes' tick rates do not drift apart by more than a tick per election timeout.

use alloc::collections::VecDeque;
use core::fmt;

use crate::types::{Index, NodeId};

/// The caller's name for one read; echoed in its [`ReadResult`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReadId(pub u64);

/// The outcome of one read request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadResult {
    /// The read's id.
    pub id: ReadId,
    /// The index to wait for before serving the read, or why it failed.
    pub result: Result<Index, ReadError>,
}

/// Why a read could not be confirmed. The read may be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadError {
    /// No leader is known.
    NoLeader,
    /// This node lost leadership (or its leader changed) before the read was confirmed.
    LeadershipLost,
    /// The read was not confirmed within an election timeout (messages were lost, or no quorum
    /// answers).
    Timeout,
    /// Too many reads are waiting.
    Overloaded,
    /// The node halted after a storage failure.
    Halted,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReadError::NoLeader => "no leader is known",
            ReadError::LeadershipLost => "leadership changed before the read was confirmed",
            ReadError::Timeout => "the read was not confirmed within an election timeout",
            ReadError::Overloaded => "too many reads are waiting",
            ReadError::Halted => "the node halted after a storage failure",
        })
    }
}

impl core::error::Error for ReadError {}

/// Who asked for a read the leader is confirming.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Requester {
    /// This node's caller.
    Local(ReadId),
    /// A follower, with its request id.
    Remote(NodeId, u64),
}

/// A read waiting for its heartbeat round.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PendingRead {
    pub(crate) requester: Requester,
    pub(crate) index: Index,
    /// The round whose quorum acknowledgement releases it; 0 while waiting for the leader's
    /// first commit in its term.
    pub(crate) round: u64,
    pub(crate) deadline: u64,
}

/// The leader's reads in confirmation.
#[derive(Debug, Default)]
pub(crate) struct LeaderReads {
    /// The last heartbeat round started.
    pub(crate) round: u64,
    /// A read arrived since the last round started: start a new one.
    pub(crate) round_wanted: bool,
    /// When (in ticks) recent rounds were started, for leases: (round, tick).
    pub(crate) round_ticks: VecDeque<(u64, u64)>,
    /// The tick before which the lease holds.
    pub(crate) lease_until: u64,
    pub(crate) pending: VecDeque<PendingRead>,
}

/// A follower's reads forwarded to the leader.
#[derive(Debug, Default)]
pub(crate) struct ForwardedReads {
    pub(crate) next_request: u64,
    /// Reads were registered under `next_request` and it is not sent yet: all reads made before
    /// the next Ready share one request to the leader.
    pub(crate) unsent: Option<NodeId>,
    /// (request id sent to the leader, caller's id, deadline tick)
    pub(crate) pending: VecDeque<(u64, ReadId, u64)>,
}
