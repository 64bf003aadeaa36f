//! Counters of what a node did and what it dropped, for metrics and for tests.

/// Monotonic counters since the node started. Read them with
/// [`Raft::metrics`](crate::Raft::metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Messages handed to `step` and addressed to this node.
    pub messages_received: u64,
    /// Messages from an earlier term, or answering a request no longer in flight.
    pub dropped_stale: u64,
    /// Messages that broke the protocol's rules, or were addressed to another node.
    pub dropped_malformed: u64,
    /// Messages from a node that is not a member (as far as this node knows).
    pub dropped_unknown_peer: u64,
    /// Vote requests ignored because a leader was heard from recently (check-quorum lease).
    pub votes_ignored_in_lease: u64,
    /// Vote requests ignored because the candidate is not a member and its log is behind ours.
    pub votes_from_non_members: u64,
    /// Pre-vote rounds started.
    pub pre_elections: u64,
    /// Elections started (terms this node campaigned in).
    pub elections: u64,
    /// Terms this node won.
    pub elections_won: u64,
    /// Times a leader stepped down because it lost contact with a quorum.
    pub check_quorum_step_downs: u64,
    /// Proposals appended to the log by this node as leader.
    pub proposals_appended: u64,
    /// Proposals forwarded to the leader.
    pub proposals_forwarded: u64,
    /// Proposals refused (not leader, overloaded, transfer in progress).
    pub proposals_refused: u64,
    /// Forwarded proposals this node could not take (not leader or overloaded).
    pub forwarded_dropped: u64,
    /// Append messages sent (including empty ones carrying only the commit index).
    pub appends_sent: u64,
    /// Entries sent in append messages.
    pub entries_sent: u64,
    /// Append rejections received (each moves a follower to probing).
    pub append_rejections: u64,
    /// Heartbeats sent.
    pub heartbeats_sent: u64,
    /// Snapshots offered to followers.
    pub snapshots_sent: u64,
    /// Snapshots installed from a leader.
    pub snapshots_installed: u64,
    /// Reads confirmed.
    pub reads_confirmed: u64,
    /// Reads failed.
    pub reads_failed: u64,
}
