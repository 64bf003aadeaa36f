//! Log replication (Raft §5.3): proposals, the leader's appends and their answers, the
//! follower's side, and the commit rule (§5.4.2: only entries of the current term are committed
//! by counting replicas).

use alloc::vec::Vec;

use bytes::Bytes;
use rand_core::Rng;

use super::{Raft, RoleState};
use crate::config::ProposalForwarding;
use crate::entries::Entries;
use crate::error::{Malformed, ProposeError, StepError};
use crate::log::AppendOutcome;
use crate::message::{
    AppendRequest, AppendResponse, Entry, EntryPayload, Heartbeat, HeartbeatResponse, Message,
    MessageBody, MessageKind,
};
use crate::progress::ProgressState;
use crate::quorum;
use crate::storage::{Storage, StorageError};
use crate::types::{Index, LogId, NodeId, Term};

/// What [`Raft::propose`] did with a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proposed {
    /// Appended to the leader's log at this position. The command is committed once an entry with
    /// this exact `LogId` is applied; if another entry is applied at this index, it was lost.
    Appended(LogId),
    /// Forwarded to the leader ([`ProposalForwarding::Forward`]). Its position is not known here.
    Forwarded {
        /// The leader it was sent to.
        leader: NodeId,
    },
}

impl<S: Storage, R: Rng> Raft<S, R> {
    /// Proposes a command for the replicated log.
    ///
    /// On the leader the command is appended at once (it is sent with the next Ready). On a
    /// follower it is forwarded or refused, as [`Config::proposal_forwarding`](crate::Config)
    /// says. Refused when the uncommitted bytes would exceed the configured limit, or during a
    /// leadership transfer.
    pub fn propose(&mut self, command: Bytes) -> Result<Proposed, ProposeError> {
        if self.halted {
            return Err(ProposeError::Halted);
        }
        if !self.is_leader() {
            let refused = match (self.config.proposal_forwarding, self.leader) {
                (ProposalForwarding::Forward, Some(leader)) => {
                    if self.forward_buf.len() >= self.config.max_forward_batch {
                        ProposeError::Overloaded
                    } else {
                        self.forward_buf.push(command);
                        self.metrics.proposals_forwarded += 1;
                        return Ok(Proposed::Forwarded { leader });
                    }
                }
                _ => ProposeError::NotLeader {
                    leader: self.leader,
                },
            };
            self.metrics.proposals_refused += 1;
            return Err(refused);
        }
        self.append_as_leader(EntryPayload::Command(command))
            .map(Proposed::Appended)
            .inspect_err(|_| self.metrics.proposals_refused += 1)
    }

    /// Appends a payload to the leader's log, enforcing the uncommitted-bytes limit and the
    /// transfer freeze.
    pub(super) fn append_as_leader(
        &mut self,
        payload: EntryPayload,
    ) -> Result<LogId, ProposeError> {
        let RoleState::Leader(leader) = &mut self.role else {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        };
        if leader.transfer.is_some() {
            return Err(ProposeError::TransferInProgress);
        }
        let entry = Entry {
            term: self.term,
            index: self.log.last().index.next(),
            payload,
        };
        let size = entry.payload_len();
        if leader.uncommitted_bytes > 0
            && leader.uncommitted_bytes.saturating_add(size) > self.config.max_uncommitted_bytes
        {
            return Err(ProposeError::Overloaded);
        }
        leader.uncommitted_bytes += size;
        let id = entry.log_id();
        self.log.append_own(entry);
        self.metrics.proposals_appended += 1;
        // A single voter commits as soon as its own write is durable; nothing to send.
        Ok(id)
    }

    /// Commands a follower forwarded to us.
    pub(super) fn on_forwarded_proposals(&mut self, from: NodeId, commands: Vec<Bytes>) {
        if !self.is_leader() {
            self.metrics.forwarded_dropped += commands.len() as u64;
            return;
        }
        let _ = from;
        for c in commands {
            if self.append_as_leader(EntryPayload::Command(c)).is_err() {
                self.metrics.forwarded_dropped += 1;
            }
        }
    }

    /// Builds at most one append per peer from its progress (called when a Ready is assembled,
    /// so proposals made since the last Ready travel together).
    pub(super) fn send_appends(&mut self) -> Result<(), StorageError> {
        let RoleState::Leader(leader) = &mut self.role else {
            return Ok(());
        };
        let last = self.log.last();
        let committed = self.log.committed();
        let mut need_snapshot: Vec<NodeId> = Vec::new();
        for (id, pr) in &mut leader.progress {
            if !pr.can_send() {
                continue;
            }
            let has_entries = pr.next <= last.index;
            if !has_entries && !pr.commit_dirty {
                continue;
            }
            let prev_index = pr.next.prev();
            let prev_term = match self.log.term(prev_index) {
                Ok(Some(t)) => t,
                Ok(None) => {
                    // `next` ran past our log (it cannot, as matches are checked): probe again.
                    pr.become_probe();
                    continue;
                }
                Err(StorageError::Compacted) => {
                    need_snapshot.push(*id);
                    continue;
                }
                Err(StorageError::Unavailable) => continue,
                Err(e) => return Err(e),
            };
            let mut entries = Entries::new();
            if has_entries {
                let max_bytes = match pr.state {
                    ProgressState::Replicate => self
                        .config
                        .max_append_bytes
                        .min(pr.inflights.room_bytes().max(1)),
                    _ => self.config.max_append_bytes,
                };
                let high = pr
                    .next
                    .plus(self.config.max_append_entries as u64)
                    .min(last.index.next());
                match self.log.entries(pr.next, high, max_bytes) {
                    Ok(e) => entries = e,
                    Err(StorageError::Compacted) => {
                        need_snapshot.push(*id);
                        continue;
                    }
                    Err(StorageError::Unavailable) => continue,
                    Err(e) => return Err(e),
                }
            }
            let bytes = entries.payload_bytes();
            pr.sent(entries.last().map(|e| e.index), bytes);
            self.metrics.appends_sent += 1;
            self.metrics.entries_sent += entries.len() as u64;
            self.outbox.push(Message {
                from: self.id,
                to: *id,
                term: self.term,
                body: MessageBody::Append(AppendRequest {
                    prev: LogId::new(prev_term, prev_index),
                    entries,
                    commit: committed,
                }),
            });
        }
        for id in need_snapshot {
            self.offer_snapshot(id);
        }
        Ok(())
    }

    /// Checks an append's entries: consecutive after `prev`, terms non-decreasing from
    /// `prev.term` and not after the message's term, and not too many.
    fn validate_append(&self, term: Term, req: &AppendRequest) -> Result<(), Malformed> {
        if req.entries.len() > self.config.max_received_entries {
            return Err(Malformed::TooManyEntries);
        }
        if req.prev.term > term {
            return Err(Malformed::BadEntryTerm);
        }
        let mut expect = req.prev.index;
        let mut min_term = req.prev.term;
        for e in &req.entries {
            expect = expect.next();
            if e.index != expect || expect == Index(u64::MAX) {
                return Err(Malformed::NonConsecutiveEntries);
            }
            if e.term < min_term || e.term > term {
                return Err(Malformed::BadEntryTerm);
            }
            min_term = e.term;
        }
        Ok(())
    }

    /// A follower's handling of AppendEntries in its current term (Raft Figure 2).
    pub(super) fn on_append(
        &mut self,
        from: NodeId,
        term: Term,
        req: AppendRequest,
    ) -> Result<(), StepError> {
        if self.is_leader() {
            // Two leaders in one term cannot exist; the sender is faulty.
            let msg = Message {
                from,
                to: self.id,
                term,
                body: MessageBody::Append(req),
            };
            return Err(self.malformed(&msg, Malformed::ConflictsWithCommitted));
        }
        if let Err(reason) = self.validate_append(term, &req) {
            self.metrics.dropped_malformed += 1;
            return Err(StepError::Malformed {
                kind: MessageKind::Append,
                reason,
                from,
            });
        }
        self.follow(from);
        let committed = self.log.committed();
        if req.prev.index < committed {
            // Everything up to our commit index matches any leader's log (Leader Completeness).
            self.respond_append(
                from,
                AppendResponse::Accepted {
                    match_index: committed,
                },
            );
            return Ok(());
        }
        match self
            .log
            .try_append(req.prev, req.entries)
            .map_err(StepError::Storage)?
        {
            AppendOutcome::Matched(last_new) => {
                self.log.commit_to(req.commit.min(last_new));
                self.respond_append(
                    from,
                    AppendResponse::Accepted {
                        match_index: last_new,
                    },
                );
            }
            AppendOutcome::Mismatch => {
                let hint = self
                    .log
                    .last_at_or_below(req.prev.index, req.prev.term)
                    .map_err(StepError::Storage)?;
                self.respond_append(
                    from,
                    AppendResponse::Rejected {
                        rejected: req.prev.index,
                        hint,
                    },
                );
            }
            AppendOutcome::ConflictsWithCommitted => {
                self.metrics.dropped_malformed += 1;
                return Err(StepError::Malformed {
                    kind: MessageKind::Append,
                    reason: Malformed::ConflictsWithCommitted,
                    from,
                });
            }
        }
        Ok(())
    }

    fn respond_append(&mut self, to: NodeId, resp: AppendResponse) {
        self.send(to, MessageBody::AppendResponse(resp));
    }

    /// Acknowledges `leader` as the leader of the current term.
    pub(super) fn follow(&mut self, leader: NodeId) {
        if !matches!(self.role, RoleState::Follower) || self.leader != Some(leader) {
            self.become_follower(self.term, Some(leader));
        }
        self.election_elapsed = 0;
    }

    /// A follower's handling of a heartbeat: learn the commit index (capped by the leader at
    /// what we are known to hold) and answer.
    pub(super) fn on_heartbeat(&mut self, from: NodeId, hb: Heartbeat) {
        if self.is_leader() {
            self.metrics.dropped_malformed += 1;
            return;
        }
        self.follow(from);
        self.log.commit_to(hb.commit);
        self.send(
            from,
            MessageBody::HeartbeatResponse(HeartbeatResponse {
                read_round: hb.read_round,
            }),
        );
    }

    /// The leader's handling of an append's answer.
    pub(super) fn on_append_response(
        &mut self,
        from: NodeId,
        resp: AppendResponse,
    ) -> Result<(), StepError> {
        let last = self.log.last().index;
        let log_start = self.log.log_start().index;
        let RoleState::Leader(leader) = &mut self.role else {
            self.metrics.dropped_stale += 1;
            return Ok(());
        };
        let transfer_target = leader.transfer.map(|t| t.target);
        let Some(pr) = leader.progress_mut(from) else {
            self.metrics.dropped_unknown_peer += 1;
            return Ok(());
        };
        pr.recent_active = true;
        match resp {
            AppendResponse::Accepted { match_index } => {
                if match_index > last {
                    self.metrics.dropped_malformed += 1;
                    return Err(StepError::Malformed {
                        kind: MessageKind::AppendResponse,
                        reason: Malformed::MatchBeyondLog,
                        from,
                    });
                }
                let moved = pr.update_match(match_index);
                if moved || (pr.state == ProgressState::Probe && pr.match_index == match_index) {
                    match pr.state {
                        ProgressState::Probe => pr.become_replicate(),
                        ProgressState::Snapshot { .. } if pr.match_index >= log_start => {
                            pr.become_replicate()
                        }
                        ProgressState::Snapshot { .. } => {}
                        ProgressState::Replicate => pr.inflights.free_to(match_index),
                    }
                }
                let caught_up = pr.match_index == last;
                if transfer_target == Some(from) && caught_up {
                    self.send(from, MessageBody::TimeoutNow);
                }
                if moved {
                    self.maybe_commit();
                }
            }
            AppendResponse::Rejected { rejected, hint } => {
                self.metrics.append_rejections += 1;
                // Resume after the last entry of ours that can agree with the follower's hint.
                let resume = match self.log.last_at_or_below(hint.index, hint.term) {
                    Ok(id) => id.index.next(),
                    Err(e) => return Err(StepError::Storage(e)),
                };
                let RoleState::Leader(leader) = &mut self.role else {
                    return Ok(());
                };
                if let Some(pr) = leader.progress_mut(from) {
                    if !pr.on_reject(rejected, resume) {
                        self.metrics.dropped_stale += 1;
                    }
                }
            }
        }
        Ok(())
    }

    /// The leader's handling of a heartbeat answer: the peer is alive; resume probing, and
    /// unblock a full window (an append may have been lost).
    pub(super) fn on_heartbeat_response(&mut self, from: NodeId, read_round: u64) {
        let last = self.log.last().index;
        let RoleState::Leader(leader) = &mut self.role else {
            self.metrics.dropped_stale += 1;
            return;
        };
        let Some(pr) = leader.progress_mut(from) else {
            self.metrics.dropped_unknown_peer += 1;
            return;
        };
        pr.recent_active = true;
        pr.probe_sent = false;
        pr.read_round = pr.read_round.max(read_round);
        if pr.state == ProgressState::Replicate && pr.inflights.is_full() {
            pr.inflights.free_first();
        }
        if pr.match_index < last {
            pr.commit_dirty = true;
        }
        self.advance_reads();
    }

    /// Advances the commit index to the highest index of the current term that a quorum holds
    /// durably (Raft §5.3, §5.4.2). The leader counts itself once its own write is durable
    /// (thesis §10.2.1). Returns whether the commit index moved.
    pub(super) fn maybe_commit(&mut self) -> bool {
        let RoleState::Leader(leader) = &mut self.role else {
            return false;
        };
        let me = self.id;
        let persisted = self.log.persisted();
        let quorum_index = quorum::committed_index(&self.membership.membership, |id| {
            if id == me {
                persisted
            } else {
                leader.progress(id).map_or(Index::ZERO, |p| p.match_index)
            }
        });
        let old = self.log.committed();
        if quorum_index <= old
            || !matches!(self.log.term(quorum_index), Ok(Some(t)) if t == self.term)
        {
            return false;
        }
        self.log.commit_to(quorum_index);
        let from = old.max(leader.first_index);
        let released = self.log.mem_payload_bytes(from.next(), quorum_index);
        leader.uncommitted_bytes = leader.uncommitted_bytes.saturating_sub(released);
        for (_, p) in &mut leader.progress {
            p.commit_dirty = true;
        }
        self.on_commit_in_term();
        true
    }
}
