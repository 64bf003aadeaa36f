//! Node configuration: timing in ticks, feature switches, and every limit the core enforces.

use core::fmt;

use crate::types::{Index, NodeId};

/// What a follower does with a proposal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProposalForwarding {
    /// Refuse it with [`ProposeError::NotLeader`](crate::ProposeError::NotLeader), naming the
    /// leader if one is known. The caller retries there.
    #[default]
    Refuse,
    /// Forward it to the known leader in a [`MessageBody::Propose`](crate::MessageBody::Propose).
    /// The caller learns of the outcome only by watching applied entries.
    Forward,
}

/// How linearizable reads are confirmed (thesis §6.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadMode {
    /// The leader confirms it still leads with one heartbeat round to a quorum per batch of reads.
    #[default]
    Safe,
    /// The leader serves reads while its lease holds: a quorum acknowledged it within the last
    /// election timeout, so no other leader can have been elected (thesis §6.4.1). Saves the round
    /// trip but assumes clocks advance at the same rate on every node (bounded drift, no long
    /// pauses of a process that keep ticking afterwards). Requires `check_quorum`.
    LeaseBased,
}

/// The configuration of one node. Build it with [`Config::new`] and adjust the fields;
/// [`Raft::new`](crate::Raft::new) validates it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// This node's id.
    pub id: NodeId,
    /// The base election timeout in ticks. Each timeout is drawn uniformly from
    /// `[election_ticks, 2 * election_ticks)` (Raft §5.2).
    pub election_ticks: u32,
    /// Ticks between leader heartbeats. Must be smaller than `election_ticks`.
    pub heartbeat_ticks: u32,
    /// Run a pre-vote round before a real election (thesis §9.6), so that a node that was
    /// partitioned away does not force a new term when it returns.
    pub pre_vote: bool,
    /// The leader steps down if it has not heard from a quorum within an election timeout, and
    /// followers ignore vote requests while they hear from a leader (thesis §6.2, §9.6).
    pub check_quorum: bool,
    /// What a follower does with proposals.
    pub proposal_forwarding: ProposalForwarding,
    /// How reads are confirmed.
    pub read_mode: ReadMode,
    /// The index the state machine had applied (durably) before this start; `Index(0)` when it
    /// starts empty. Entries after it are handed out for applying again.
    pub applied: Index,
    /// The largest payload, in bytes, carried by one append message (at least one entry is
    /// always sent, however large).
    pub max_append_bytes: u64,
    /// The most entries in one append message.
    pub max_append_entries: usize,
    /// The most unacknowledged appends to one follower in replicate state.
    pub max_inflight_msgs: usize,
    /// The most unacknowledged payload bytes to one follower in replicate state.
    pub max_inflight_bytes: u64,
    /// The most payload bytes of entries proposed on this leader and not yet committed; further
    /// proposals are refused with [`ProposeError::Overloaded`](crate::ProposeError::Overloaded).
    pub max_uncommitted_bytes: u64,
    /// The most payload bytes of committed entries handed out for applying in one Ready.
    pub max_apply_bytes: u64,
    /// The most payload bytes of persisted, applied entries kept in memory for sending to
    /// followers; older ones are read back through [`Storage`](crate::Storage).
    pub max_log_cache_bytes: u64,
    /// The most entries one append message may carry when *received*; a larger one is dropped
    /// as malformed. Bounds the work a single message can cause.
    pub max_received_entries: usize,
    /// The most proposals a follower buffers for forwarding before refusing.
    pub max_forward_batch: usize,
    /// The most reads waiting for confirmation; further reads are refused.
    pub max_pending_reads: usize,
}

impl Config {
    /// A configuration with sensible defaults: election timeout 10 ticks, heartbeat 1 tick,
    /// pre-vote and check-quorum on, proposals refused on followers, appends of at most 1 MiB
    /// and 4,096 entries, 256 appends or 8 MiB in flight per follower, 64 MiB uncommitted,
    /// 4 MiB applied per Ready, 32 MiB of log cache.
    #[must_use]
    pub fn new(id: NodeId) -> Config {
        Config {
            id,
            election_ticks: 10,
            heartbeat_ticks: 1,
            pre_vote: true,
            check_quorum: true,
            proposal_forwarding: ProposalForwarding::Refuse,
            read_mode: ReadMode::Safe,
            applied: Index::ZERO,
            max_append_bytes: 1 << 20,
            max_append_entries: 4096,
            max_inflight_msgs: 256,
            max_inflight_bytes: 8 << 20,
            max_uncommitted_bytes: 64 << 20,
            max_apply_bytes: 4 << 20,
            max_log_cache_bytes: 32 << 20,
            max_received_entries: 65_536,
            max_forward_batch: 4096,
            max_pending_reads: 65_536,
        }
    }

    /// Checks the configuration for values that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.election_ticks < 2 {
            return Err(ConfigError::ElectionTicksTooSmall);
        }
        if self.heartbeat_ticks == 0 || self.heartbeat_ticks >= self.election_ticks {
            return Err(ConfigError::HeartbeatNotBelowElection);
        }
        if self.max_inflight_msgs == 0
            || self.max_inflight_bytes == 0
            || self.max_append_entries == 0
            || self.max_append_bytes == 0
            || self.max_apply_bytes == 0
            || self.max_uncommitted_bytes == 0
            || self.max_received_entries == 0
            || self.max_forward_batch == 0
            || self.max_pending_reads == 0
        {
            return Err(ConfigError::ZeroLimit);
        }
        if self.read_mode == ReadMode::LeaseBased && !self.check_quorum {
            return Err(ConfigError::LeaseWithoutCheckQuorum);
        }
        Ok(())
    }
}

/// Why a [`Config`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `election_ticks` must be at least 2.
    ElectionTicksTooSmall,
    /// `heartbeat_ticks` must be at least 1 and below `election_ticks`.
    HeartbeatNotBelowElection,
    /// Every `max_*` limit must be at least 1.
    ZeroLimit,
    /// [`ReadMode::LeaseBased`] needs `check_quorum`.
    LeaseWithoutCheckQuorum,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigError::ElectionTicksTooSmall => "election_ticks must be at least 2",
            ConfigError::HeartbeatNotBelowElection => {
                "heartbeat_ticks must be at least 1 and below election_ticks"
            }
            ConfigError::ZeroLimit => "every max_* limit must be at least 1",
            ConfigError::LeaseWithoutCheckQuorum => "lease-based reads require check_quorum",
        })
    }
}

impl core::error::Error for ConfigError {}
