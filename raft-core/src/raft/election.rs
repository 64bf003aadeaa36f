//! Terms, votes and elections (Raft §5.2, §5.4.1; thesis §9.6 pre-vote, §6.2 check-quorum).

use alloc::boxed::Box;

use rand_core::Rng;

use super::leader::LeaderState;
use super::{Raft, RoleState, Votes};
use crate::error::CampaignError;
use crate::message::{
    Entry, EntryPayload, Message, MessageBody, MessageKind, VoteRequest, VoteResponse,
};
use crate::quorum::{self, VoteTally};
use crate::read::ReadError;
use crate::storage::Storage;
use crate::types::{NodeId, Term};

impl<S: Storage, R: Rng> Raft<S, R> {
    /// Starts an election now, as if the election timer had fired (with pre-vote if enabled).
    pub fn campaign(&mut self) -> Result<(), CampaignError> {
        if self.halted {
            return Err(CampaignError::Halted);
        }
        if self.is_leader() {
            return Err(CampaignError::AlreadyLeader);
        }
        if !self.is_voter() {
            return Err(CampaignError::NotVoter);
        }
        self.start_election(false);
        Ok(())
    }

    /// Compares a message's term with ours (Raft §5.1) and steps down to follower on a newer
    /// one. Returns whether the message should be processed further.
    pub(super) fn step_term(&mut self, msg: &Message) -> bool {
        let kind = msg.body.kind();
        if let MessageBody::PreVote(req) | MessageBody::Vote(req) = &msg.body
            && !self.membership.membership.is_empty()
            && !self.membership.membership.contains(msg.from)
            && !req.last_log.is_up_to_date_with(self.log.last())
        {
            // A node outside our membership (typically one removed that has not learned it) must
            // not disrupt us by raising terms (thesis §4.2.3). Ignoring it is safe: a vote
            // withheld never breaks safety. A candidate whose log is at least as up to date as
            // ours is heard, though: it may be a member added by entries we have not received,
            // and the only leader that could bring them to us (a group in which we are one of two
            // voters cannot elect anyone without us). A node that knows no membership yet
            // ignores nothing.
            self.metrics.votes_from_non_members += 1;
            return false;
        }
        if msg.term > self.term {
            if let MessageBody::PreVote(req) | MessageBody::Vote(req) = &msg.body {
                // Check-quorum lease (thesis §4.2.3, §9.6): while we hear from a leader, a vote
                // request is more likely from a node that was cut off than a sign the leader
                // failed. Ignore it, unless the leader itself asked for the election.
                let in_lease = self.config.check_quorum
                    && self.leader.is_some()
                    && self.election_elapsed < self.config.election_ticks;
                if in_lease && !req.leader_transfer {
                    self.metrics.votes_ignored_in_lease += 1;
                    return false;
                }
            }
            match &msg.body {
                // A pre-vote asks about a term nobody is in yet; granting it changes nothing.
                MessageBody::PreVote(_) => {}
                MessageBody::PreVoteResponse(r) if r.granted => {}
                MessageBody::Append(_)
                | MessageBody::Heartbeat(_)
                | MessageBody::InstallSnapshot(_) => {
                    self.become_follower(msg.term, Some(msg.from));
                }
                _ => self.become_follower(msg.term, None),
            }
            return true;
        }
        if msg.term < self.term {
            match kind {
                // A leader of an old term, cut off from us: tell it our term so it steps down.
                // (Without this, a learner, which never campaigns, could stay cut off from a
                // leader that never learns of the newer term.)
                MessageKind::Append | MessageKind::Heartbeat | MessageKind::InstallSnapshot => {
                    self.send(
                        msg.from,
                        MessageBody::HeartbeatResponse(crate::message::HeartbeatResponse {
                            read_round: 0,
                        }),
                    );
                }
                MessageKind::PreVote => {
                    self.send(
                        msg.from,
                        MessageBody::PreVoteResponse(VoteResponse {
                            granted: false,
                            commit: self.commit_id(),
                        }),
                    );
                }
                _ => {}
            }
            self.metrics.dropped_stale += 1;
            return false;
        }
        true
    }

    /// Answers a vote or pre-vote request whose term is at least ours (Raft §5.2, §5.4.1).
    pub(super) fn on_vote_request(&mut self, msg: &Message) {
        let (req, pre) = match &msg.body {
            MessageBody::PreVote(r) => (r, true),
            MessageBody::Vote(r) => (r, false),
            _ => return,
        };
        let can_vote = self.vote == Some(msg.from)
            || (self.vote.is_none() && self.leader.is_none())
            || (pre && msg.term > self.term);
        let granted = can_vote && req.last_log.is_up_to_date_with(self.log.last());
        if pre {
            let term = if granted { msg.term } else { self.term };
            self.send_with_term(
                msg.from,
                term,
                MessageBody::PreVoteResponse(VoteResponse {
                    granted,
                    commit: self.commit_id(),
                }),
            );
        } else {
            if granted {
                self.vote = Some(msg.from);
                self.election_elapsed = 0;
            }
            self.send(
                msg.from,
                MessageBody::VoteResponse(VoteResponse {
                    granted,
                    commit: self.commit_id(),
                }),
            );
        }
    }

    /// Our last committed entry, for vote responses.
    pub(super) fn commit_id(&self) -> crate::types::LogId {
        let c = self.log.committed();
        match self.log.term(c) {
            Ok(Some(t)) => crate::types::LogId::new(t, c),
            _ => crate::types::LogId::ZERO,
        }
    }

    /// A peer's committed entry: if our log holds it, everything up to it is committed here too
    /// (Log Matching). A leader computes its commit index itself.
    pub(super) fn learn_commit(
        &mut self,
        commit: crate::types::LogId,
    ) -> Result<(), crate::storage::StorageError> {
        if self.is_leader() || commit.index <= self.log.committed() {
            return Ok(());
        }
        if self.log.matches(commit)? {
            self.log.commit_to(commit.index);
        }
        Ok(())
    }

    /// Counts a vote; wins or loses the (pre-)election when a quorum decides.
    pub(super) fn on_vote_response(&mut self, from: NodeId, kind: MessageKind, granted: bool) {
        let tally = match (&mut self.role, kind) {
            (RoleState::PreCandidate(votes), MessageKind::PreVoteResponse)
            | (RoleState::Candidate(votes), MessageKind::VoteResponse) => {
                votes.record(from, granted);
                quorum::tally(&self.membership.membership, |id| votes.get(id))
            }
            _ => {
                self.metrics.dropped_stale += 1;
                return;
            }
        };
        match (tally, kind) {
            (VoteTally::Won, MessageKind::PreVoteResponse) => self.start_real_election(false),
            (VoteTally::Won, _) => self.become_leader(),
            (VoteTally::Lost, _) => self.become_follower(self.term, None),
            (VoteTally::Pending, _) => {}
        }
    }

    /// One tick on a follower or candidate: campaign when the election timer fires.
    pub(super) fn tick_election(&mut self) {
        // Keeps counting on a non-voter, so that its leader lease (in `step_term`) expires.
        self.election_elapsed = self.election_elapsed.saturating_add(1);
        if self.election_elapsed < self.randomized_timeout || !self.is_voter() {
            return;
        }
        self.election_elapsed = 0;
        if self.installing.is_none() {
            match self.has_unapplied_conf() {
                Ok(false) => self.start_election(false),
                Ok(true) => {}
                Err(_) => self.halt(),
            }
        }
    }

    /// Whether a committed membership change has not been applied yet: campaigning then could
    /// use a stale membership.
    fn has_unapplied_conf(&self) -> Result<bool, crate::storage::StorageError> {
        if !self.conf_to_apply.is_empty() {
            return Ok(true);
        }
        let (from, to) = (self.log.applying().next(), self.log.committed());
        if from > to {
            return Ok(false);
        }
        let mut low = from;
        while low <= to {
            let entries = match self.log.entries(low, to.next(), 1 << 20) {
                Ok(entries) => entries,
                Err(crate::storage::StorageError::Compacted) => return Ok(false),
                Err(e) => return Err(e),
            };
            let Some(last) = entries.last() else { break };
            low = last.index.next();
            if entries
                .iter()
                .any(|e| matches!(e.payload, EntryPayload::Membership(_)))
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Starts a pre-vote round, or an election if pre-vote is off or `transfer` is set.
    pub(super) fn start_election(&mut self, transfer: bool) {
        if self.term == Term::MAX {
            // No term follows; campaigning would vote a second time in this one. Only forged
            // messages could have brought the node here, and they are refused now.
            return;
        }
        if self.config.pre_vote && !transfer {
            self.fail_all_reads(ReadError::LeadershipLost);
            self.role = RoleState::PreCandidate(Votes::default());
            self.leader = None;
            self.reset_election_timer();
            self.metrics.pre_elections += 1;
            self.request_votes(self.term.next(), true, false);
        } else {
            self.start_real_election(transfer);
        }
    }

    fn start_real_election(&mut self, transfer: bool) {
        self.fail_all_reads(ReadError::LeadershipLost);
        self.term = self.term.next();
        self.vote = Some(self.id);
        self.leader = None;
        self.role = RoleState::Candidate(Votes::default());
        self.reset_election_timer();
        self.metrics.elections += 1;
        self.request_votes(self.term, false, transfer);
    }

    /// Votes for itself, then asks every other voter (of both halves of a joint configuration).
    fn request_votes(&mut self, term: Term, pre: bool, transfer: bool) {
        let kind = if pre {
            MessageKind::PreVoteResponse
        } else {
            MessageKind::VoteResponse
        };
        self.on_vote_response(self.id, kind, true);
        if !matches!(
            self.role,
            RoleState::PreCandidate(_) | RoleState::Candidate(_)
        ) {
            return; // a single voter wins at once
        }
        let req = VoteRequest {
            last_log: self.log.last(),
            leader_transfer: transfer,
        };
        let m = &self.membership.membership;
        let mut voters: alloc::vec::Vec<NodeId> = m
            .voters()
            .iter()
            .chain(m.voters_outgoing())
            .copied()
            .collect();
        voters.sort_unstable();
        voters.dedup();
        for id in voters {
            if id != self.id {
                let body = if pre {
                    MessageBody::PreVote(req)
                } else {
                    MessageBody::Vote(req)
                };
                self.send_with_term(id, term, body);
            }
        }
    }

    /// Becomes a follower in `term` (clearing the vote if the term is new) of `leader`.
    pub(super) fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        if term > self.term {
            self.term = term;
            self.vote = None;
        }
        if self.is_leader() {
            self.fail_all_reads(ReadError::LeadershipLost);
        }
        if self.leader != leader {
            self.fail_forwarded_reads(ReadError::LeadershipLost);
        }
        self.role = RoleState::Follower;
        self.leader = leader;
        self.reset_election_timer();
    }

    /// Takes leadership of the current term: every member starts in probe state just after our
    /// last entry, and a blank entry of the new term is appended (Raft §5.4.2, §8).
    fn become_leader(&mut self) {
        self.fail_forwarded_reads(ReadError::LeadershipLost);
        let last = self.log.last();
        let members = self.membership.membership.members();
        let blank = last.index.next();
        let leader = LeaderState::new(self.id, &members, blank, &self.config);
        self.role = RoleState::Leader(Box::new(leader));
        self.leader = Some(self.id);
        self.election_elapsed = 0;
        self.metrics.elections_won += 1;
        self.log.append_own(Entry {
            term: self.term,
            index: blank,
            payload: EntryPayload::Blank,
        });
        // Commands buffered for forwarding while we followed: we lead now, so append them.
        for command in core::mem::take(&mut self.forward_buf) {
            if self
                .append_as_leader(EntryPayload::Command(command))
                .is_err()
            {
                self.metrics.forwarded_dropped += 1;
            }
        }
        self.maybe_commit();
    }
}
