//! [`Raft`]: one node's consensus state machine. Its methods fall into four groups, as in
//! quinn-proto:
//!
//! - **inputs**: [`Raft::step`] (a message from a peer), [`Raft::tick`] (time passes);
//! - **commands**: [`Raft::propose`], [`Raft::propose_conf_change`], [`Raft::campaign`],
//!   [`Raft::transfer_leader`], [`Raft::read_index`], [`Raft::snapshot_taken`],
//!   [`Raft::report_unreachable`], [`Raft::report_snapshot`];
//! - **outputs**: [`Raft::has_ready`], [`Raft::ready`];
//! - **acknowledgements**: [`Raft::ack_persisted`], [`Raft::ack_applied`];
//!
//! plus getters. After any input or command, call [`Raft::ready`] while [`Raft::has_ready`] is
//! true and act on each [`Ready`] as the crate documentation prescribes.

mod acks;
mod election;
mod leader;
mod membership;
mod reads;
mod ready;
mod replication;
mod snapshot;

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use bytes::Bytes;
use rand_core::Rng;

use crate::config::Config;
use crate::error::{Inconsistency, InitError, Malformed, StepError};
use crate::log::RaftLog;
use crate::membership::{ConfChange, Membership};
use crate::message::{HardState, Message, MessageBody};
use crate::metrics::Metrics;
use crate::read::ForwardedReads;
use crate::ready::{NodeState, PendingWrite, Role};
use crate::snapshot::SnapshotMeta;
use crate::storage::{Storage, StorageError, StoredMembership};
use crate::types::{Index, LogId, NodeId, Term};

use self::leader::LeaderState;
pub use self::leader::{PeerStatus, Status, TransferError};
pub use self::replication::Proposed;
pub use self::snapshot::{SnapshotError, SnapshotStatus};

/// Votes collected in a (pre-)election.
#[derive(Debug, Default)]
struct Votes {
    granted: Vec<(NodeId, bool)>,
}

impl Votes {
    fn record(&mut self, id: NodeId, granted: bool) {
        if !self.granted.iter().any(|(n, _)| *n == id) {
            self.granted.push((id, granted));
        }
    }

    fn get(&self, id: NodeId) -> Option<bool> {
        self.granted.iter().find(|(n, _)| *n == id).map(|(_, g)| *g)
    }
}

/// Role-specific state lives with the role.
enum RoleState {
    Follower,
    PreCandidate(Votes),
    Candidate(Votes),
    Leader(alloc::boxed::Box<LeaderState>),
}

/// One Raft node. The [crate documentation](crate) states the contract for its output.
///
/// Its methods fall into four groups (as quinn-proto's do):
///
/// - **inputs**: [`Raft::step`] (a message from a peer), [`Raft::tick`] (time passes);
/// - **commands**: [`Raft::propose`], [`Raft::propose_conf_change`], [`Raft::campaign`],
///   [`Raft::transfer_leader`], [`Raft::read_index`], [`Raft::snapshot_taken`], [`Raft::compact`],
///   [`Raft::report_unreachable`], [`Raft::report_snapshot`];
/// - **outputs**: [`Raft::has_ready`], [`Raft::ready`];
/// - **acknowledgements**: [`Raft::ack_persisted`], [`Raft::ack_applied`];
///
/// plus getters ([`Raft::status`] gathers them). After any input or command, call
/// [`Raft::ready`] while [`Raft::has_ready`] is true.
///
/// `S` reads the caller's log store; `R` is the random number generator that draws election
/// timeouts: seed it, and the node's behaviour is a function of its inputs.
pub struct Raft<S, R> {
    id: NodeId,
    config: Config,
    rng: R,
    log: RaftLog<S>,
    term: Term,
    vote: Option<NodeId>,
    leader: Option<NodeId>,
    role: RoleState,
    /// The membership in effect (as of the last applied change).
    membership: StoredMembership,
    /// Recent memberships, oldest first, for describing snapshots taken at earlier indexes.
    membership_history: VecDeque<StoredMembership>,
    /// Membership entries handed out for applying: they take effect when acknowledged.
    conf_to_apply: VecDeque<(Index, ConfChange)>,
    membership_dirty: bool,
    /// Ticks since the last valid message from a leader (or, on a leader, since the last
    /// check-quorum round).
    election_elapsed: u32,
    randomized_timeout: u32,
    /// Ticks since the node started; the clock for read leases and deadlines.
    now: u64,
    /// Messages produced by inputs, routed to `messages` or `messages_after_write` by `ready`.
    outbox: Vec<Message>,
    /// The latest snapshot the caller reported taking (what a lagging follower is sent).
    snapshot: Option<SnapshotMeta>,
    /// The latest snapshot whose metadata the log store holds durably (compaction may go that far).
    snapshot_durable: Option<Index>,
    /// A snapshot the application took, to be recorded in the next Ready.
    snapshot_to_record: Option<SnapshotMeta>,
    /// A snapshot accepted from the leader, to be written in the next Ready.
    install_to_write: Option<SnapshotMeta>,
    /// A snapshot being installed: written, not yet acknowledged.
    installing: Option<LogId>,
    /// The state machine must be restored from this snapshot before applying further.
    restore_to_hand_out: Option<LogId>,
    /// Proposals buffered for forwarding to the leader.
    forward_buf: Vec<Bytes>,
    forwarded_reads: ForwardedReads,
    read_results: Vec<crate::read::ReadResult>,
    /// Persistence bookkeeping.
    hs_handed: HardState,
    hs_durable: HardState,
    writes: VecDeque<PendingWrite>,
    next_ready: u64,
    reported: Option<NodeState>,
    metrics: Metrics,
    halted: bool,
}

impl<S: Storage, R: Rng> Raft<S, R> {
    /// Starts a node from what `storage` holds.
    ///
    /// A new cluster's members each start from a store holding the same initial membership
    /// (`MemStorage::new(membership)`, for instance) and an empty log. A node joining an existing
    /// cluster starts with an empty membership; it does nothing until the leader contacts it.
    pub fn new(config: Config, storage: S, rng: R) -> Result<Self, InitError> {
        config.validate().map_err(InitError::Config)?;
        let init = storage.initial_state().map_err(InitError::Storage)?;
        let bad = |i| Err(InitError::Inconsistent(i));
        if init.last.index < init.log_start.index {
            return bad(Inconsistency::LastBeforeLogStart {
                log_start: init.log_start,
                last: init.last,
            });
        }
        if init.hard_state.commit > init.last.index {
            return bad(Inconsistency::CommitBeyondLog {
                commit: init.hard_state.commit,
                last: init.last.index,
            });
        }
        if config.applied > init.last.index {
            return bad(Inconsistency::AppliedBeyondLog {
                applied: config.applied,
                last: init.last.index,
            });
        }
        if init.hard_state.term == Term::ZERO && init.hard_state.vote.is_some() {
            return bad(Inconsistency::VoteWithoutTerm);
        }
        if let Err(e) = init.membership.membership.validate() {
            return bad(Inconsistency::Membership(e));
        }
        match &init.snapshot {
            None if init.log_start.index > Index::ZERO => {
                return bad(Inconsistency::MissingSnapshot {
                    log_start: init.log_start,
                });
            }
            Some(s)
                if s.last.index < init.log_start.index
                    || s.last.index > init.last.index.max(init.log_start.index) =>
            {
                return bad(Inconsistency::MissingSnapshot {
                    log_start: init.log_start,
                });
            }
            Some(s) if s.membership.validate().is_err() => {
                return bad(Inconsistency::Membership(
                    crate::membership::ConfChangeError::Invalid,
                ));
            }
            _ => {}
        }
        if init.membership.index > init.last.index {
            return bad(Inconsistency::Membership(
                crate::membership::ConfChangeError::Invalid,
            ));
        }
        if config.applied < init.log_start.index {
            return bad(Inconsistency::AppliedBeforeLogStart {
                applied: config.applied,
                log_start: init.log_start.index,
            });
        }
        let applied = config.applied;
        let commit = init
            .hard_state
            .commit
            .max(applied)
            .max(init.log_start.index);
        let log = RaftLog::new(storage, init.log_start, init.last, commit, applied);
        let hs = HardState {
            term: init.hard_state.term,
            vote: init.hard_state.vote,
            commit: init.hard_state.commit,
        };
        let mut raft = Raft {
            id: config.id,
            rng,
            log,
            term: hs.term,
            vote: hs.vote,
            leader: None,
            role: RoleState::Follower,
            membership: init.membership,
            membership_history: VecDeque::new(),
            conf_to_apply: VecDeque::new(),
            membership_dirty: false,
            election_elapsed: 0,
            randomized_timeout: config.election_ticks,
            now: 0,
            outbox: Vec::new(),
            snapshot_durable: init.snapshot.as_ref().map(|s| s.last.index),
            snapshot: init.snapshot,
            snapshot_to_record: None,
            install_to_write: None,
            installing: None,
            restore_to_hand_out: None,
            forward_buf: Vec::new(),
            forwarded_reads: ForwardedReads::default(),
            read_results: Vec::new(),
            hs_handed: hs,
            hs_durable: hs,
            writes: VecDeque::new(),
            next_ready: 1,
            reported: None,
            metrics: Metrics::default(),
            halted: false,
            config,
        };
        raft.replay_membership()?;
        raft.reset_election_timer();
        raft.reported = Some(raft.node_state());
        Ok(raft)
    }

    /// Applies membership changes that the state machine applied before this start but that the
    /// stored membership does not reflect yet (it is written asynchronously).
    fn replay_membership(&mut self) -> Result<(), InitError> {
        let from = self.membership.index.max(self.log.log_start().index).next();
        let to = self.log.applied();
        if from > to {
            return Ok(());
        }
        let mut low = from;
        while low <= to {
            let entries = self
                .log
                .entries(low, to.next(), u64::MAX)
                .map_err(InitError::Storage)?;
            let Some(last) = entries.last() else { break };
            low = last.index.next();
            for e in entries.iter() {
                if let crate::message::EntryPayload::Membership(cc) = &e.payload {
                    self.apply_membership_change(e.index, cc);
                }
            }
        }
        Ok(())
    }

    // ----- inputs -------------------------------------------------------------------------

    /// Hands the node a message from a peer.
    ///
    /// Messages from stale terms, from unknown peers or answering requests this node no longer
    /// has in flight are dropped and counted in [`Raft::metrics`]; malformed ones are dropped,
    /// counted and reported as [`StepError::Malformed`]. No message can make the node panic.
    pub fn step(&mut self, msg: Message) -> Result<(), StepError> {
        if self.halted {
            return Err(StepError::Halted);
        }
        if msg.to != self.id {
            self.metrics.dropped_malformed += 1;
            return Err(StepError::WrongRecipient { to: msg.to });
        }
        if msg.from == self.id {
            return Err(self.malformed(&msg, Malformed::FromSelf));
        }
        if let Some(reason) = out_of_range(&msg) {
            return Err(self.malformed(&msg, reason));
        }
        self.metrics.messages_received += 1;
        let result = self.step_inner(msg);
        if let Err(StepError::Storage(_)) = &result {
            self.halt();
        }
        result
    }

    fn step_inner(&mut self, msg: Message) -> Result<(), StepError> {
        if !self.step_term(&msg) {
            return Ok(());
        }
        match msg.body {
            MessageBody::PreVote(_) | MessageBody::Vote(_) => {
                self.on_vote_request(&msg);
                Ok(())
            }
            MessageBody::PreVoteResponse(r) | MessageBody::VoteResponse(r) => {
                self.learn_commit(r.commit).map_err(StepError::Storage)?;
                self.on_vote_response(msg.from, msg.body.kind(), r.granted);
                Ok(())
            }
            MessageBody::Append(req) => self.on_append(msg.from, msg.term, req),
            MessageBody::AppendResponse(resp) => self.on_append_response(msg.from, resp),
            MessageBody::Heartbeat(hb) => {
                self.on_heartbeat(msg.from, hb);
                Ok(())
            }
            MessageBody::HeartbeatResponse(r) => {
                self.on_heartbeat_response(msg.from, r.read_round);
                Ok(())
            }
            MessageBody::InstallSnapshot(offer) => self.on_snapshot_offer(msg.from, offer.meta),
            MessageBody::TimeoutNow => {
                self.on_timeout_now(msg.from);
                Ok(())
            }
            MessageBody::ReadIndex(req) => {
                self.on_remote_read(msg.from, req.request_id);
                Ok(())
            }
            MessageBody::ReadIndexResponse(resp) => {
                self.on_read_response(resp.request_id, resp.read_index);
                Ok(())
            }
            MessageBody::Propose(p) => {
                self.on_forwarded_proposals(msg.from, p.commands);
                Ok(())
            }
        }
    }

    /// Advances time by one tick: drives elections, heartbeats, check-quorum and timeouts.
    /// The caller ticks at a steady rate; the timeouts in [`Config`] are counted in ticks.
    pub fn tick(&mut self) {
        if self.halted {
            return;
        }
        self.now += 1;
        self.expire_reads();
        if self.is_leader() {
            self.tick_leader();
        } else {
            self.tick_election();
        }
    }

    // ----- getters ------------------------------------------------------------------------

    /// This node's id.
    #[must_use]
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The current term.
    #[must_use]
    pub fn term(&self) -> Term {
        self.term
    }

    /// The node's current role.
    #[must_use]
    pub fn role(&self) -> Role {
        match self.role {
            RoleState::Follower => Role::Follower,
            RoleState::PreCandidate(_) => Role::PreCandidate,
            RoleState::Candidate(_) => Role::Candidate,
            RoleState::Leader(_) => Role::Leader,
        }
    }

    /// Whether this node leads its term.
    #[must_use]
    pub fn is_leader(&self) -> bool {
        matches!(self.role, RoleState::Leader(_))
    }

    /// The leader this node knows of in its term.
    #[must_use]
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    /// The candidate this node voted for in its term.
    #[must_use]
    pub fn vote(&self) -> Option<NodeId> {
        self.vote
    }

    /// The highest index known to be committed.
    #[must_use]
    pub fn commit_index(&self) -> Index {
        self.log.committed()
    }

    /// The highest index acknowledged as applied.
    #[must_use]
    pub fn applied_index(&self) -> Index {
        self.log.applied()
    }

    /// The highest index of this node's log known to be durable.
    #[must_use]
    pub fn persisted_index(&self) -> Index {
        self.log.persisted()
    }

    /// The last entry of the log (durable or not).
    #[must_use]
    pub fn last_log_id(&self) -> LogId {
        self.log.last()
    }

    /// The last entry covered by a snapshot (the log's entries start after it).
    #[must_use]
    pub fn log_start(&self) -> LogId {
        self.log.log_start()
    }

    /// The term of the entry at `index`, if the log holds it (reading storage if needed).
    pub fn log_term(&self, index: Index) -> Result<Option<Term>, StorageError> {
        self.log.term(index)
    }

    /// The membership in effect (as of the last applied change).
    #[must_use]
    pub fn membership(&self) -> &Membership {
        &self.membership.membership
    }

    /// The role, term and leader.
    #[must_use]
    pub fn node_state(&self) -> NodeState {
        NodeState {
            role: self.role(),
            term: self.term,
            leader: self.leader,
        }
    }

    /// Counters of what the node did and dropped.
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The configuration the node runs with.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The log store.
    #[must_use]
    pub fn storage(&self) -> &S {
        self.log.storage()
    }

    /// The log store, mutably: for writing what a [`Ready`](crate::Ready) asks when the store
    /// lives inside the node. Never change what the node already considers persisted.
    pub fn storage_mut(&mut self) -> &mut S {
        self.log.storage_mut()
    }

    /// Whether the node halted after a storage failure.
    #[must_use]
    pub fn is_halted(&self) -> bool {
        self.halted
    }

    // ----- shared helpers -----------------------------------------------------------------

    fn hard_state(&self) -> HardState {
        HardState {
            term: self.term,
            vote: self.vote,
            commit: self.log.committed(),
        }
    }

    fn send(&mut self, to: NodeId, body: MessageBody) {
        self.send_with_term(to, self.term, body);
    }

    fn send_with_term(&mut self, to: NodeId, term: Term, body: MessageBody) {
        self.outbox.push(Message {
            from: self.id,
            to,
            term,
            body,
        });
    }

    fn malformed(&mut self, msg: &Message, reason: Malformed) -> StepError {
        self.metrics.dropped_malformed += 1;
        StepError::Malformed {
            kind: msg.body.kind(),
            reason,
            from: msg.from,
        }
    }

    fn halt(&mut self) {
        self.halted = true;
        self.fail_all_reads(crate::read::ReadError::Halted);
    }

    fn reset_election_timer(&mut self) {
        self.election_elapsed = 0;
        let base = self.config.election_ticks;
        self.randomized_timeout = base + (self.rng.next_u32() % base);
    }

    /// The membership in effect at `index` (for describing a snapshot).
    fn membership_at(&self, index: Index) -> Membership {
        if self.membership.index <= index {
            return self.membership.membership.clone();
        }
        self.membership_history
            .iter()
            .rev()
            .find(|m| m.index <= index)
            .map_or_else(
                || self.membership.membership.clone(),
                |m| m.membership.clone(),
            )
    }

    fn is_voter(&self) -> bool {
        self.membership.membership.is_voter(self.id)
    }
}

impl<S, R> core::fmt::Debug for Raft<S, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Raft")
            .field("id", &self.id)
            .field("term", &self.term)
            .field("vote", &self.vote)
            .field("leader", &self.leader)
            .field("last", &self.log.last())
            .field("committed", &self.log.committed())
            .field("applied", &self.log.applied())
            .field("membership", &self.membership.membership)
            .finish_non_exhaustive()
    }
}

/// Why `msg` carries a term or an index no honest peer can send, if it does.
fn out_of_range(msg: &Message) -> Option<Malformed> {
    let term_ok = match msg.term {
        Term::MAX => false,
        // A node in term zero never leads nor campaigns; it only answers pre-votes, and a
        // rejection goes out in its own term.
        Term::ZERO => matches!(msg.body, MessageBody::PreVoteResponse(_)),
        _ => true,
    };
    if !term_ok {
        return Some(Malformed::TermOutOfRange);
    }
    let index_ok = match &msg.body {
        MessageBody::Append(req) => req
            .prev
            .index
            .0
            .checked_add(req.entries.len() as u64)
            .is_some_and(|last| last < Index::MAX.0),
        MessageBody::InstallSnapshot(offer) => offer.meta.last.index < Index::MAX,
        _ => true,
    };
    (!index_ok).then_some(Malformed::IndexOutOfRange)
}
