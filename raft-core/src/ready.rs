//! The output of the core: [`Ready`], with the [`Write`] it asks for and the entries to
//! [`Apply`]. The contract for acting on a Ready is in the crate documentation
//! ([`crate#the-ready-contract`]).

use alloc::vec::Vec;
use core::fmt;

use crate::entries::Entries;
use crate::message::{HardState, Message};
use crate::read::ReadResult;
use crate::snapshot::SnapshotMeta;
use crate::storage::StoredMembership;
use crate::types::{Index, LogId, NodeId, Term};

/// Identifies one [`Ready`]; acknowledged with [`Raft::ack_persisted`](crate::Raft::ack_persisted).
/// Ids increase by one with every Ready.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReadyId(pub(crate) u64);

impl ReadyId {
    /// The raw number.
    #[must_use]
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Debug for ReadyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ready#{}", self.0)
    }
}

/// The role a node plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Follows a leader (learners are always followers).
    Follower,
    /// Runs a pre-vote round (thesis §9.6); its term has not changed.
    PreCandidate,
    /// Runs an election in its term.
    Candidate,
    /// Leads its term.
    Leader,
}

/// Who leads, in which term, and what this node is; reported in a [`Ready`] when it changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeState {
    /// This node's role.
    pub role: Role,
    /// Its current term.
    pub term: Term,
    /// The leader it knows of in `term`, if any.
    pub leader: Option<NodeId>,
}

/// What to persist, as one atomic write. See [`crate#the-ready-contract`].
///
/// Apply the parts in this order, as a single atomic batch: `snapshot`, then `entries`, then
/// `hard_state`, `membership` and `snapshot_taken`. [`MemStorage::apply_write`](crate::MemStorage::apply_write) is
/// the reference.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Write {
    /// Install this snapshot: drop every stored entry, start the log after `snapshot.last`, and
    /// record it as the latest snapshot. Its data must already be durable in the caller's
    /// snapshot store.
    pub snapshot: Option<SnapshotMeta>,
    /// Entries to append. If the first one's index is at or before the last stored index, first
    /// delete every stored entry from that index on (a follower replacing a conflicting suffix).
    pub entries: Entries,
    /// The hard state to store, if it changed.
    pub hard_state: Option<HardState>,
    /// The membership to store, if it changed.
    pub membership: Option<StoredMembership>,
    /// Record this snapshot, taken by the application
    /// ([`Raft::snapshot_taken`](crate::Raft::snapshot_taken)), as the latest one. The log is
    /// unchanged. Keep the previous snapshot's data until this write is durable.
    pub snapshot_taken: Option<SnapshotMeta>,
    /// Whether the write must reach stable storage (fsync) before it is acknowledged. False only
    /// for writes that merely advance the stored commit index, which is safe to lose.
    pub sync: bool,
}

impl Write {
    /// Whether there is nothing to write.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.snapshot.is_none()
            && self.entries.is_empty()
            && self.hard_state.is_none()
            && self.membership.is_none()
            && self.snapshot_taken.is_none()
    }
}

/// What to apply to the state machine, in order: restore the snapshot, then apply the entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Apply {
    /// Restore the state machine from the snapshot ending at this entry (installed from the
    /// leader, or taken earlier and newer than what the state machine holds at start-up).
    pub restore: Option<LogId>,
    /// Committed entries, consecutive, to apply after the restore.
    pub entries: Entries,
}

impl Apply {
    /// Whether there is nothing to apply.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.restore.is_none() && self.entries.is_empty()
    }

    /// The index the state machine reaches once this is applied, if anything is to be applied.
    #[must_use]
    pub fn last_index(&self) -> Option<Index> {
        self.entries
            .last()
            .map(|e| e.index)
            .or(self.restore.map(|r| r.index))
    }
}

/// A batch of work for the caller: messages to send, a write to persist, entries to apply.
///
/// Obtained from [`Raft::ready`](crate::Raft::ready); the contract for acting on it is in the
/// crate documentation ([`crate#the-ready-contract`]). Every part is optional; a part that is
/// empty needs no action.
#[must_use = "a Ready carries messages to send, a write to persist and entries to apply"]
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Ready {
    /// Acknowledge the write with [`Raft::ack_persisted`](crate::Raft::ack_persisted)`(id)`.
    pub id: ReadyId,
    /// The node's role, term or leader changed since the previous Ready.
    pub state: Option<NodeState>,
    /// Messages that may be sent now, before or while `write` is persisted.
    pub messages: Vec<Message>,
    /// What to persist.
    pub write: Write,
    /// Messages that may be sent only once `write`, and every write of an earlier Ready, is
    /// durable.
    pub messages_after_write: Vec<Message>,
    /// What to apply to the state machine; independent of `write` (it is all durable already).
    pub apply: Apply,
    /// Reads whose read index is now known (or that failed); see [`crate::read`].
    pub reads: Vec<ReadResult>,
}

impl Ready {
    /// Whether the Ready holds nothing at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.state.is_none()
            && self.messages.is_empty()
            && self.write.is_empty()
            && self.messages_after_write.is_empty()
            && self.apply.is_empty()
            && self.reads.is_empty()
    }
}

/// A write handed out and not yet acknowledged.
#[derive(Clone, Debug)]
pub(crate) struct PendingWrite {
    pub(crate) id: ReadyId,
    /// The first log index this write (re)writes: its first entry, or the one after its snapshot.
    pub(crate) first: Option<Index>,
    /// Its last entry.
    pub(crate) last_entry: Option<Index>,
    pub(crate) hard_state: Option<HardState>,
    pub(crate) snapshot: Option<LogId>,
    /// The snapshot recorded (installed or taken) by this write.
    pub(crate) snapshot_recorded: Option<Index>,
}
