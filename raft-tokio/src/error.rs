//! The errors of the node's operations, one enum per operation.

use raft_core::NodeId;

/// Why a proposal (or membership change) did not produce a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProposeError {
    /// This node is not the leader; retry on the leader, if one is known. Nothing was appended.
    #[error("not the leader (leader: {leader:?})")]
    NotLeader {
        /// The leader this node knows of.
        leader: Option<NodeId>,
    },
    /// Leadership was lost after the command was appended: it may or may not be committed later.
    /// The outcome is unknown; retry with the same request id if commands are deduplicated.
    #[error("leadership was lost; the outcome is unknown")]
    LeadershipLost,
    /// Another entry was committed at the command's position: it was certainly not applied.
    #[error("the command was superseded and not applied")]
    Dropped,
    /// Too much work is queued or uncommitted; retry later. Nothing was appended.
    #[error("overloaded")]
    Overloaded,
    /// A leadership transfer is in progress; retry shortly. Nothing was appended.
    #[error("a leadership transfer is in progress")]
    TransferInProgress,
    /// The membership change is not allowed now (another is pending) or at all.
    #[error("invalid membership change: {0}")]
    InvalidMembershipChange(raft_core::ProposeError),
    /// The node is shutting down or stopped after a storage failure.
    #[error("the node is shut down")]
    ShutDown,
}

impl From<raft_core::ProposeError> for ProposeError {
    fn from(e: raft_core::ProposeError) -> ProposeError {
        match e {
            raft_core::ProposeError::NotLeader { leader } => ProposeError::NotLeader { leader },
            raft_core::ProposeError::Overloaded => ProposeError::Overloaded,
            raft_core::ProposeError::TransferInProgress => ProposeError::TransferInProgress,
            raft_core::ProposeError::Halted => ProposeError::ShutDown,
            other => ProposeError::InvalidMembershipChange(other),
        }
    }
}

/// Why a linearizable read could not be confirmed. Retrying is always safe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// No leader is known right now.
    #[error("no leader is known")]
    NoLeader,
    /// Leadership changed before the read was confirmed.
    #[error("leadership changed")]
    LeadershipLost,
    /// Not confirmed within an election timeout.
    #[error("timed out")]
    Timeout,
    /// Too many reads are waiting.
    #[error("overloaded")]
    Overloaded,
    /// The node is shutting down.
    #[error("the node is shut down")]
    ShutDown,
}

impl From<raft_core::ReadError> for ReadError {
    fn from(e: raft_core::ReadError) -> ReadError {
        match e {
            raft_core::ReadError::NoLeader => ReadError::NoLeader,
            raft_core::ReadError::LeadershipLost => ReadError::LeadershipLost,
            raft_core::ReadError::Timeout => ReadError::Timeout,
            raft_core::ReadError::Overloaded => ReadError::Overloaded,
            _ => ReadError::ShutDown,
        }
    }
}

/// Why a leadership transfer did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// This node is not the leader.
    #[error("not the leader (leader: {leader:?})")]
    NotLeader {
        /// The leader this node knows of.
        leader: Option<NodeId>,
    },
    /// The target is not a voter, or is this node.
    #[error("invalid target: {0}")]
    Invalid(raft_core::TransferError),
    /// Another node than the target took over, or none did within an election timeout.
    #[error("the transfer did not complete (leader now: {leader:?})")]
    Failed {
        /// The leader afterwards, if known.
        leader: Option<NodeId>,
    },
    /// The node is shutting down.
    #[error("the node is shut down")]
    ShutDown,
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The core refused the configuration or the persisted state.
    #[error("cannot start raft: {0}")]
    Raft(#[from] raft_core::InitError),
    /// A worker thread could not be spawned.
    #[error("cannot spawn a worker thread: {0}")]
    Spawn(#[from] std::io::Error),
}

/// The node stopped before answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the node is shut down")]
pub struct ShutDown;
