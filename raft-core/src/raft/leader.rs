//! State only a leader has, its timers (heartbeats, check-quorum, transfer timeout), leadership
//! transfer (thesis §3.10), and the [`Status`] report.

use alloc::vec::Vec;

use rand_core::Rng;

use super::{Raft, RoleState};
use crate::config::Config;
use crate::membership::Membership;
use crate::message::{Heartbeat, MessageBody};
use crate::progress::{Progress, ProgressState};
use crate::quorum;
use crate::read::LeaderReads;
use crate::ready::Role;
use crate::storage::Storage;
use crate::types::{Index, LogId, NodeId, Term};

/// An ongoing leadership transfer.
#[derive(Clone, Copy, Debug)]
pub(super) struct Transfer {
    pub(super) target: NodeId,
    pub(super) elapsed: u32,
}

pub(super) struct LeaderState {
    /// Every member but the leader, sorted by id.
    pub(super) progress: Vec<(NodeId, Progress)>,
    /// The index of the last membership change proposed; no other may be proposed until it is
    /// applied.
    pub(super) pending_conf_index: Index,
    /// The blank entry this leader appended on election; entries after it count as uncommitted.
    pub(super) first_index: Index,
    pub(super) uncommitted_bytes: u64,
    pub(super) heartbeat_elapsed: u32,
    pub(super) transfer: Option<Transfer>,
    pub(super) reads: LeaderReads,
}

impl LeaderState {
    pub(super) fn new(
        me: NodeId,
        members: &[NodeId],
        blank: Index,
        config: &Config,
    ) -> LeaderState {
        let mut progress: Vec<(NodeId, Progress)> = members
            .iter()
            .filter(|id| **id != me)
            .map(|id| (*id, Self::new_progress(blank, config)))
            .collect();
        progress.sort_unstable_by_key(|(id, _)| *id);
        LeaderState {
            progress,
            pending_conf_index: blank,
            first_index: blank,
            uncommitted_bytes: 0,
            heartbeat_elapsed: 0,
            transfer: None,
            reads: LeaderReads::default(),
        }
    }

    fn new_progress(next: Index, config: &Config) -> Progress {
        let mut p = Progress::new(next, config.max_inflight_msgs, config.max_inflight_bytes);
        // Give every peer one check-quorum round before it counts as unreachable.
        p.recent_active = true;
        p
    }

    pub(super) fn progress_mut(&mut self, id: NodeId) -> Option<&mut Progress> {
        let i = self.progress.binary_search_by_key(&id, |(n, _)| *n).ok()?;
        Some(&mut self.progress[i].1)
    }

    pub(super) fn progress(&self, id: NodeId) -> Option<&Progress> {
        let i = self.progress.binary_search_by_key(&id, |(n, _)| *n).ok()?;
        Some(&self.progress[i].1)
    }

    /// Adds progress for new members and drops it for removed ones.
    pub(super) fn sync_members(
        &mut self,
        me: NodeId,
        members: &[NodeId],
        next: Index,
        config: &Config,
    ) {
        self.progress
            .retain(|(id, _)| members.binary_search(id).is_ok());
        for id in members {
            if *id != me && self.progress(*id).is_none() {
                let pos = self
                    .progress
                    .binary_search_by_key(id, |(n, _)| *n)
                    .unwrap_or_else(|p| p);
                self.progress
                    .insert(pos, (*id, Self::new_progress(next, config)));
            }
        }
    }
}

/// What a leader knows of one peer, in a [`Status`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerStatus {
    /// The peer.
    pub id: NodeId,
    /// The highest index known to match and be durable on the peer.
    pub match_index: Index,
    /// The next index to send.
    pub next_index: Index,
    /// The replication state.
    pub state: ProgressState,
    /// Appends in flight.
    pub inflight: usize,
    /// Heard from in the current check-quorum round.
    pub recent_active: bool,
}

/// A snapshot of a node's state, for operators and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// The node.
    pub id: NodeId,
    /// Its role.
    pub role: Role,
    /// Its term.
    pub term: Term,
    /// The leader it knows of.
    pub leader: Option<NodeId>,
    /// Its vote in `term`.
    pub vote: Option<NodeId>,
    /// The commit index.
    pub commit: Index,
    /// The index acknowledged as applied.
    pub applied: Index,
    /// The durable prefix of the log.
    pub persisted: Index,
    /// The last entry.
    pub last: LogId,
    /// The last entry covered by a snapshot.
    pub log_start: LogId,
    /// The membership in effect.
    pub membership: Membership,
    /// Per-peer replication (on the leader only).
    pub peers: Vec<PeerStatus>,
    /// A leadership transfer in progress (on the leader only).
    pub transfer_target: Option<NodeId>,
}

/// Why a leadership transfer was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferError {
    /// This node is not the leader.
    NotLeader {
        /// The leader, if known.
        leader: Option<NodeId>,
    },
    /// The target is this node.
    ToSelf,
    /// The target is not a voter.
    NotVoter,
    /// The node halted after a storage failure.
    Halted,
}

impl core::fmt::Display for TransferError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TransferError::NotLeader { .. } => f.write_str("not the leader"),
            TransferError::ToSelf => f.write_str("this node already leads"),
            TransferError::NotVoter => f.write_str("the target is not a voter"),
            TransferError::Halted => f.write_str("the node halted after a storage failure"),
        }
    }
}

impl core::error::Error for TransferError {}

impl<S: Storage, R: Rng> Raft<S, R> {
    /// A report of the node's state, including per-peer replication on the leader.
    #[must_use]
    pub fn status(&self) -> Status {
        let (peers, transfer_target) = match &self.role {
            RoleState::Leader(l) => (
                l.progress
                    .iter()
                    .map(|(id, p)| PeerStatus {
                        id: *id,
                        match_index: p.match_index,
                        next_index: p.next,
                        state: p.state,
                        inflight: p.inflights.len(),
                        recent_active: p.recent_active,
                    })
                    .collect(),
                l.transfer.map(|t| t.target),
            ),
            _ => (Vec::new(), None),
        };
        Status {
            id: self.id,
            role: self.role(),
            term: self.term,
            leader: self.leader,
            vote: self.vote,
            commit: self.log.committed(),
            applied: self.log.applied(),
            persisted: self.log.persisted(),
            last: self.log.last(),
            log_start: self.log.log_start(),
            membership: self.membership.membership.clone(),
            peers,
            transfer_target,
        }
    }

    /// Hands leadership to the voter `to` (thesis §3.10): the leader stops accepting proposals,
    /// brings `to` up to date, then tells it to campaign at once. The transfer is abandoned,
    /// and proposals resume, if it has not happened within an election timeout.
    pub fn transfer_leader(&mut self, to: NodeId) -> Result<(), TransferError> {
        if self.halted {
            return Err(TransferError::Halted);
        }
        let is_voter = self.membership.membership.is_voter(to);
        let RoleState::Leader(leader) = &mut self.role else {
            return Err(TransferError::NotLeader {
                leader: self.leader,
            });
        };
        if to == self.id {
            return Err(TransferError::ToSelf);
        }
        if !is_voter {
            return Err(TransferError::NotVoter);
        }
        if leader.transfer.is_some_and(|t| t.target == to) {
            return Ok(());
        }
        if leader.progress(to).is_none() {
            return Err(TransferError::NotVoter);
        }
        self.start_transfer(to);
        Ok(())
    }

    /// Starts handing leadership to `to` (a voter with progress): TimeoutNow at once if it is up
    /// to date, else once it catches up.
    fn start_transfer(&mut self, to: NodeId) {
        let last = self.log.last().index;
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        leader.transfer = Some(Transfer {
            target: to,
            elapsed: 0,
        });
        let Some(pr) = leader.progress_mut(to) else {
            return;
        };
        if pr.match_index == last {
            self.send(to, MessageBody::TimeoutNow);
        } else {
            pr.commit_dirty = true;
            pr.probe_sent = false;
        }
    }

    /// A leader that is no longer a voter hands leadership to the most up-to-date voter, and
    /// keeps leading (without counting itself) until that voter takes over. Stepping down at once
    /// could leave voters that have not yet learned the change committed unable to elect anyone.
    pub(super) fn hand_over_leadership(&mut self) {
        let RoleState::Leader(leader) = &self.role else {
            return;
        };
        let m = &self.membership.membership;
        let target = leader
            .progress
            .iter()
            .filter(|(id, _)| m.is_voter(*id))
            .max_by_key(|(id, p)| (p.match_index, p.recent_active, core::cmp::Reverse(*id)))
            .map(|(id, _)| *id);
        if let Some(to) = target {
            self.start_transfer(to);
        }
    }

    /// The target of a transfer asked for by the leader: campaign now (thesis §3.10).
    pub(super) fn on_timeout_now(&mut self, from: NodeId) {
        if self.leader != Some(from) || !self.is_voter() || self.is_leader() {
            self.metrics.dropped_stale += 1;
            return;
        }
        self.start_election(true);
    }

    /// One tick on the leader: heartbeats, check-quorum, transfer timeout.
    pub(super) fn tick_leader(&mut self) {
        self.election_elapsed += 1;
        let election_ticks = self.config.election_ticks;
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        leader.heartbeat_elapsed += 1;
        let mut transfer_expired = false;
        if let Some(t) = &mut leader.transfer {
            t.elapsed += 1;
            if t.elapsed >= election_ticks {
                leader.transfer = None;
                transfer_expired = true;
            }
        }
        if transfer_expired && !self.is_voter() {
            // Still not handed over: try again (perhaps another voter).
            self.hand_over_leadership();
        }
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        if self.election_elapsed >= election_ticks {
            self.election_elapsed = 0;
            if self.config.check_quorum {
                let me = self.id;
                let active = quorum::is_quorum(&self.membership.membership, |id| {
                    id == me || leader.progress(id).is_some_and(|p| p.recent_active)
                });
                for (_, p) in &mut leader.progress {
                    p.recent_active = false;
                }
                if !active {
                    self.metrics.check_quorum_step_downs += 1;
                    self.become_follower(self.term, None);
                    return;
                }
            }
        }
        let pending_conf = leader.pending_conf_index;
        if leader.heartbeat_elapsed >= self.config.heartbeat_ticks {
            leader.heartbeat_elapsed = 0;
            self.broadcast_heartbeat();
        }
        // Leave an auto-leave joint configuration if proposing it earlier failed (during a
        // transfer, or when overloaded).
        let m = &self.membership.membership;
        if m.is_joint() && m.auto_leave() && pending_conf <= self.log.applied() {
            let _ = self.propose_conf_change(crate::membership::ConfChange::LeaveJoint);
        }
    }

    /// Sends a heartbeat to every peer, carrying the commit index each may safely learn and the
    /// current read round.
    pub(super) fn broadcast_heartbeat(&mut self) {
        let committed = self.log.committed();
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        let round = leader.reads.round;
        for (id, p) in &leader.progress {
            self.outbox.push(crate::message::Message {
                from: self.id,
                to: *id,
                term: self.term,
                body: MessageBody::Heartbeat(Heartbeat {
                    commit: committed.min(p.match_index),
                    read_round: round,
                }),
            });
        }
        self.metrics.heartbeats_sent += leader.progress.len() as u64;
    }
}
