//! Linearizable reads: see [`crate::read`] for the protocol.

use rand_core::Rng;

use super::{Raft, RoleState};
use crate::config::ReadMode;
use crate::message::{MessageBody, ReadIndexRequest, ReadIndexResponse};
use crate::quorum;
use crate::read::{PendingRead, ReadError, ReadId, ReadResult, Requester};
use crate::storage::Storage;
use crate::types::{Index, NodeId};

impl<S: Storage, R: Rng> Raft<S, R> {
    /// Asks for a read index for the read `id`. On `Ok`, exactly one [`ReadResult`] for `id`
    /// arrives in a later [`Ready::reads`](crate::Ready::reads); serve the read once the state
    /// machine has applied the index it carries.
    pub fn read_index(&mut self, id: ReadId) -> Result<(), ReadError> {
        if self.halted {
            return Err(ReadError::Halted);
        }
        if self.is_leader() {
            return self.leader_read(Requester::Local(id));
        }
        let Some(leader) = self.leader else {
            return Err(ReadError::NoLeader);
        };
        let reads = &mut self.forwarded_reads;
        if reads.pending.len() >= self.config.max_pending_reads {
            return Err(ReadError::Overloaded);
        }
        if reads.unsent != Some(leader) {
            reads.next_request += 1;
            reads.unsent = Some(leader);
        }
        let deadline = self.now + u64::from(self.config.election_ticks);
        reads.pending.push_back((reads.next_request, id, deadline));
        Ok(())
    }

    /// Sends the leader one request for every read registered since the last Ready.
    pub(super) fn send_read_requests(&mut self) {
        let Some(leader) = self.forwarded_reads.unsent.take() else {
            return;
        };
        let request_id = self.forwarded_reads.next_request;
        self.send(
            leader,
            MessageBody::ReadIndex(ReadIndexRequest { request_id }),
        );
    }

    /// A follower's read request.
    pub(super) fn on_remote_read(&mut self, from: NodeId, request_id: u64) {
        if !self.is_leader() {
            self.send(
                from,
                MessageBody::ReadIndexResponse(ReadIndexResponse {
                    request_id,
                    read_index: None,
                }),
            );
            return;
        }
        if let Err(e) = self.leader_read(Requester::Remote(from, request_id)) {
            self.finish_read(Requester::Remote(from, request_id), Err(e));
        }
    }

    /// The leader's answer to one of our forwarded reads.
    pub(super) fn on_read_response(&mut self, request_id: u64, index: Option<Index>) {
        let mut answered = alloc::vec::Vec::new();
        self.forwarded_reads.pending.retain(|(r, id, _)| {
            if *r == request_id {
                answered.push(*id);
                false
            } else {
                true
            }
        });
        if answered.is_empty() {
            self.metrics.dropped_stale += 1;
            return;
        }
        let result = index.ok_or(ReadError::LeadershipLost);
        for id in answered {
            self.push_read_result(id, result);
        }
    }

    fn leader_read(&mut self, requester: Requester) -> Result<(), ReadError> {
        let committed = self.log.committed();
        let committed_in_term = self.log.term(committed).ok().flatten() == Some(self.term);
        let single = self.membership.membership.voters().len() <= 1
            && !self.membership.membership.is_joint();
        let now = self.now;
        let deadline = now + u64::from(self.config.election_ticks);
        let max = self.config.max_pending_reads;
        let lease = self.config.read_mode == ReadMode::LeaseBased;
        let confirmed_by_requester = match requester {
            Requester::Remote(from, _) => self.requester_completes_quorum(from),
            Requester::Local(_) => false,
        };
        let RoleState::Leader(leader) = &mut self.role else {
            return Err(ReadError::NoLeader);
        };
        if committed_in_term
            && (single || confirmed_by_requester || (lease && now < leader.reads.lease_until))
        {
            self.finish_read(requester, Ok(committed));
            return Ok(());
        }
        if leader.reads.pending.len() >= max {
            return Err(ReadError::Overloaded);
        }
        let round = if committed_in_term {
            leader.reads.round_wanted = true;
            leader.reads.round + 1
        } else {
            0 // wait for the blank entry of this term to commit (thesis §6.4 step 1)
        };
        leader.reads.pending.push_back(PendingRead {
            requester,
            index: committed,
            round,
            deadline,
        });
        Ok(())
    }

    /// Whether this leader and the follower `from`, which asked for a read in our term, form a
    /// quorum on their own. The request was sent after the read began, by a node still in our
    /// term: like an answer to a heartbeat sent after the read arrived, it shows the sender had
    /// not voted for a newer leader by then. See [`crate::read`].
    fn requester_completes_quorum(&self, from: NodeId) -> bool {
        let me = self.id;
        quorum::is_quorum(&self.membership.membership, |id| id == me || id == from)
    }

    /// Called when the leader commits an entry of its term: reads waiting for that now get a
    /// read index and a round.
    pub(super) fn on_commit_in_term(&mut self) {
        let committed = self.log.committed();
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        let next_round = leader.reads.round + 1;
        let mut any = false;
        for r in leader.reads.pending.iter_mut().filter(|r| r.round == 0) {
            r.index = committed;
            r.round = next_round;
            any = true;
        }
        if any {
            leader.reads.round_wanted = true;
        }
        // A single voter needs no round.
        self.advance_reads();
    }

    /// Starts a heartbeat round if reads wait for one (called when a Ready is assembled, so
    /// reads that arrived together share the round).
    pub(super) fn start_read_round(&mut self) {
        let now = self.now;
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        if !leader.reads.round_wanted {
            return;
        }
        leader.reads.round_wanted = false;
        leader.reads.round += 1;
        let round = leader.reads.round;
        leader.reads.round_ticks.push_back((round, now));
        while leader.reads.round_ticks.len() > 64 {
            leader.reads.round_ticks.pop_front();
        }
        leader.heartbeat_elapsed = 0;
        self.broadcast_heartbeat();
        self.advance_reads();
    }

    /// Releases the reads whose round a quorum has answered, and extends the lease.
    pub(super) fn advance_reads(&mut self) {
        let me = self.id;
        let election_ticks = u64::from(self.config.election_ticks);
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        let own = leader.reads.round;
        let acked = quorum::committed_index(&self.membership.membership, |id| {
            if id == me {
                Index(own)
            } else {
                Index(leader.progress(id).map_or(0, |p| p.read_round))
            }
        })
        .0;
        while let Some(&(round, tick)) = leader.reads.round_ticks.front() {
            if round > acked {
                break;
            }
            leader.reads.round_ticks.pop_front();
            // No other leader can be elected before `tick + election_ticks` (voters ignore
            // vote requests that soon after hearing from us); keep one tick of margin.
            leader.reads.lease_until = leader
                .reads
                .lease_until
                .max(tick + election_ticks.saturating_sub(1));
        }
        // A follower's read also counts the follower's request as an acknowledgement (see
        // `requester_completes_quorum`): the round that releases it may lack that follower.
        let mut acked_with: alloc::vec::Vec<(NodeId, u64)> = alloc::vec::Vec::new();
        for r in &leader.reads.pending {
            let Requester::Remote(from, _) = r.requester else {
                continue;
            };
            if r.round <= acked || acked_with.iter().any(|(f, _)| *f == from) {
                continue;
            }
            let with = quorum::committed_index(&self.membership.membership, |id| {
                if id == me || id == from {
                    Index(u64::MAX)
                } else {
                    Index(leader.progress(id).map_or(0, |p| p.read_round))
                }
            });
            acked_with.push((from, with.0));
        }
        let mut done = alloc::vec::Vec::new();
        leader.reads.pending.retain(|r| {
            let released = r.round <= acked
                || match r.requester {
                    Requester::Remote(from, _) => acked_with
                        .iter()
                        .any(|(f, with)| *f == from && r.round <= *with),
                    Requester::Local(_) => false,
                };
            if r.round != 0 && released {
                done.push((r.requester, r.index));
                false
            } else {
                true
            }
        });
        for (requester, index) in done {
            self.finish_read(requester, Ok(index));
        }
    }

    fn finish_read(&mut self, requester: Requester, result: Result<Index, ReadError>) {
        match requester {
            Requester::Local(id) => self.push_read_result(id, result),
            Requester::Remote(to, request_id) => self.send(
                to,
                MessageBody::ReadIndexResponse(ReadIndexResponse {
                    request_id,
                    read_index: result.ok(),
                }),
            ),
        }
    }

    fn push_read_result(&mut self, id: ReadId, result: Result<Index, ReadError>) {
        if result.is_ok() {
            self.metrics.reads_confirmed += 1;
        } else {
            self.metrics.reads_failed += 1;
        }
        self.read_results.push(ReadResult { id, result });
    }

    /// Fails reads past their deadline.
    pub(super) fn expire_reads(&mut self) {
        let now = self.now;
        let mut expired = alloc::vec::Vec::new();
        self.forwarded_reads.pending.retain(|(_, id, deadline)| {
            if *deadline <= now {
                expired.push(Requester::Local(*id));
                false
            } else {
                true
            }
        });
        if let RoleState::Leader(leader) = &mut self.role {
            leader.reads.pending.retain(|r| {
                if r.deadline <= now {
                    expired.push(r.requester);
                    false
                } else {
                    true
                }
            });
        }
        for r in expired {
            self.finish_read(r, Err(ReadError::Timeout));
        }
    }

    /// Fails every read this node is confirming as leader, and those it forwarded.
    pub(super) fn fail_all_reads(&mut self, error: ReadError) {
        let pending = match &mut self.role {
            RoleState::Leader(leader) => core::mem::take(&mut leader.reads.pending),
            _ => Default::default(),
        };
        for r in pending {
            self.finish_read(r.requester, Err(error));
        }
        self.fail_forwarded_reads(error);
    }

    /// Fails the reads forwarded to a leader we no longer follow.
    pub(super) fn fail_forwarded_reads(&mut self, error: ReadError) {
        self.forwarded_reads.unsent = None;
        for (_, id, _) in core::mem::take(&mut self.forwarded_reads.pending) {
            self.push_read_result(id, Err(error));
        }
    }
}
