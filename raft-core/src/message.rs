//! What nodes exchange and what they persist: [`Entry`], [`HardState`] and [`Message`].
//!
//! With the `serde` feature every type here derives `Serialize` and `Deserialize`, so a transport
//! or a log store can encode it (postcard is a good fit). Decoding a value never makes it
//! trusted: [`Raft::step`](crate::Raft::step) validates every message it is given.

use alloc::vec::Vec;
use bytes::Bytes;

use crate::entries::Entries;
use crate::membership::ConfChange;
use crate::types::{Index, LogId, NodeId, Term};

/// One entry of the replicated log.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Entry {
    /// The term of the leader that created the entry.
    pub term: Term,
    /// The entry's position in the log.
    pub index: Index,
    /// What the entry carries.
    pub payload: EntryPayload,
}

/// The content of an [`Entry`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum EntryPayload {
    /// The empty entry a new leader appends to commit entries of earlier terms (Raft §5.4.2,
    /// §8). The state machine has nothing to do for it.
    Blank,
    /// An application command, opaque to Raft.
    Command(Bytes),
    /// A membership change; it takes effect when applied (see [`crate::membership`]).
    Membership(ConfChange),
}

impl Entry {
    /// The entry's position.
    #[inline]
    #[must_use]
    pub fn log_id(&self) -> LogId {
        LogId::new(self.term, self.index)
    }

    /// The number of payload bytes the entry carries: what the in-flight, uncommitted and batch
    /// byte limits count. Fixed overhead per entry is not counted.
    #[must_use]
    pub fn payload_len(&self) -> u64 {
        match &self.payload {
            EntryPayload::Blank => 0,
            EntryPayload::Command(data) => data.len() as u64,
            EntryPayload::Membership(cc) => cc.encoded_len_hint(),
        }
    }
}

/// The state a node must persist before it answers any message that depends on it.
///
/// `term` and `vote` must be durable before a vote is granted or requested (Raft §5.2, Figure 2
/// "Persistent state on all servers"). `commit` is persisted as a convenience so that a restarted
/// node can apply committed entries without waiting for a leader; losing it is harmless.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HardState {
    /// The latest term this node has seen.
    pub term: Term,
    /// The candidate this node voted for in `term`, if any.
    pub vote: Option<NodeId>,
    /// The highest index this node knows to be committed.
    pub commit: Index,
}

/// A message between two nodes of the same cluster.
///
/// `term` is the sender's current term, except for [`MessageBody::PreVote`], which carries the
/// term the sender would campaign in, and a granted [`MessageBody::PreVoteResponse`], which echoes
/// it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Message {
    /// The sender.
    pub from: NodeId,
    /// The recipient.
    pub to: NodeId,
    /// See the type-level docs.
    pub term: Term,
    /// What the message says.
    pub body: MessageBody,
}

/// The kinds of message, each with its own fields.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum MessageBody {
    /// Pre-vote request (Raft thesis §9.6): would you vote for me in `term`? Changes no state.
    PreVote(VoteRequest),
    /// Answer to a [`MessageBody::PreVote`].
    PreVoteResponse(VoteResponse),
    /// Vote request (Raft §5.2).
    Vote(VoteRequest),
    /// Answer to a [`MessageBody::Vote`].
    VoteResponse(VoteResponse),
    /// AppendEntries (Raft §5.3): entries following `prev`, and the leader's commit index.
    Append(AppendRequest),
    /// Answer to an [`MessageBody::Append`] or an [`MessageBody::InstallSnapshot`].
    AppendResponse(AppendResponse),
    /// Leader heartbeat: asserts leadership and carries the commit index.
    Heartbeat(Heartbeat),
    /// Answer to a [`MessageBody::Heartbeat`].
    HeartbeatResponse(HeartbeatResponse),
    /// The leader offers a snapshot (Raft §7); the snapshot data travels out of band.
    InstallSnapshot(SnapshotOffer),
    /// Leadership transfer (thesis §3.10): campaign now, ignoring the election timer.
    TimeoutNow,
    /// A follower asks the leader for a read index (thesis §6.4).
    ReadIndex(ReadIndexRequest),
    /// The leader's answer to a [`MessageBody::ReadIndex`].
    ReadIndexResponse(ReadIndexResponse),
    /// Proposals forwarded by a follower to its leader.
    Propose(ForwardedProposals),
}

impl MessageBody {
    /// A short, stable name for the kind of message (for logs and counters).
    #[must_use]
    pub fn kind(&self) -> MessageKind {
        match self {
            MessageBody::PreVote(_) => MessageKind::PreVote,
            MessageBody::PreVoteResponse(_) => MessageKind::PreVoteResponse,
            MessageBody::Vote(_) => MessageKind::Vote,
            MessageBody::VoteResponse(_) => MessageKind::VoteResponse,
            MessageBody::Append(_) => MessageKind::Append,
            MessageBody::AppendResponse(_) => MessageKind::AppendResponse,
            MessageBody::Heartbeat(_) => MessageKind::Heartbeat,
            MessageBody::HeartbeatResponse(_) => MessageKind::HeartbeatResponse,
            MessageBody::InstallSnapshot(_) => MessageKind::InstallSnapshot,
            MessageBody::TimeoutNow => MessageKind::TimeoutNow,
            MessageBody::ReadIndex(_) => MessageKind::ReadIndex,
            MessageBody::ReadIndexResponse(_) => MessageKind::ReadIndexResponse,
            MessageBody::Propose(_) => MessageKind::Propose,
        }
    }
}

/// The kind of a [`MessageBody`], without its fields.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageKind {
    PreVote,
    PreVoteResponse,
    Vote,
    VoteResponse,
    Append,
    AppendResponse,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    TimeoutNow,
    ReadIndex,
    ReadIndexResponse,
    Propose,
}

/// A request for a vote or a pre-vote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct VoteRequest {
    /// The last entry of the candidate's log (Raft §5.4.1).
    pub last_log: LogId,
    /// Set when the campaign follows a leadership transfer: voters then disregard their
    /// leader lease, as the current leader asked for this election.
    pub leader_transfer: bool,
}

/// An answer to a vote or pre-vote request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct VoteResponse {
    /// Whether the vote is granted.
    pub granted: bool,
    /// The responder's last committed entry. A candidate whose log holds this entry learns that
    /// everything up to it is committed: this lets a candidate that missed the commit of a
    /// membership change apply it, and elect under the membership in effect.
    pub commit: LogId,
}

/// AppendEntries.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AppendRequest {
    /// The entry just before `entries`; the follower must hold it to accept them.
    pub prev: LogId,
    /// Consecutive entries starting at `prev.index + 1`; empty for a commit-only update.
    pub entries: Entries,
    /// The leader's commit index.
    pub commit: Index,
}

/// The answer to an append or a snapshot offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum AppendResponse {
    /// The follower's log now matches the leader's up to `match_index`, and that prefix is
    /// durable on the follower.
    Accepted {
        /// The highest index known to match the leader's log.
        match_index: Index,
    },
    /// The follower does not hold `rejected` (the request's `prev.index`) with the leader's term.
    Rejected {
        /// The `prev.index` of the rejected request.
        rejected: Index,
        /// Fast backtracking: the follower's last entry at or before `rejected` whose term is at
        /// most the request's `prev.term`. The leader can resume from there at once.
        hint: LogId,
    },
}

/// A leader heartbeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Heartbeat {
    /// The leader's commit index, capped at what the follower is known to hold.
    pub commit: Index,
    /// The leader's read round (for ReadIndex); echoed back in the response.
    pub read_round: u64,
}

/// The answer to a heartbeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HeartbeatResponse {
    /// The heartbeat's `read_round`.
    pub read_round: u64,
}

/// The metadata of a snapshot the leader offers. The data itself is streamed out of band
/// (see [`crate::snapshot`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SnapshotOffer {
    /// Which snapshot it is.
    pub meta: crate::snapshot::SnapshotMeta,
}

/// A follower's request for a read index, on behalf of one or more local reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReadIndexRequest {
    /// Chosen by the follower, echoed back by the leader.
    pub request_id: u64,
}

/// The leader's answer to a [`ReadIndexRequest`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReadIndexResponse {
    /// The request's id.
    pub request_id: u64,
    /// The index the follower must have applied before serving the read, or `None` when the
    /// leader could not serve it (it is stepping down or has not yet committed in its term).
    pub read_index: Option<Index>,
}

/// Commands a follower forwards to its leader.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ForwardedProposals {
    /// The commands, in the order they were proposed.
    pub commands: Vec<Bytes>,
}
