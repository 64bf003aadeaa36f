//! Assembling a [`Ready`]: what to send, what to write, what to apply.

use alloc::vec::Vec;

use rand_core::Rng;

use super::{Raft, RoleState};
use crate::error::ReadyError;
use crate::message::{EntryPayload, ForwardedProposals, MessageBody, MessageKind};
use crate::ready::{Apply, PendingWrite, Ready, ReadyId, Write};
use crate::storage::Storage;

/// Whether a message may leave before this node's pending writes are durable, provided its term
/// and vote are durable. Requests of a leader may (thesis §10.2.1); votes and acknowledgements
/// may not: they promise what the write is about to make true.
fn may_leave_early(kind: MessageKind) -> bool {
    !matches!(
        kind,
        MessageKind::Vote | MessageKind::VoteResponse | MessageKind::AppendResponse
    )
}

impl<S: Storage, R: Rng> Raft<S, R> {
    /// Whether [`Raft::ready`] has anything to hand out.
    #[must_use]
    pub fn has_ready(&self) -> bool {
        if self.halted {
            return false;
        }
        !self.outbox.is_empty()
            || !self.read_results.is_empty()
            || self.log.written() < self.log.last().index
            || self.hard_state() != self.hs_handed
            || self.membership_dirty
            || self.install_to_write.is_some()
            || self.snapshot_to_record.is_some()
            || self.restore_to_hand_out.is_some()
            || (self.installing.is_none() && self.log.has_unapplied())
            || self.reported != Some(self.node_state())
            || (!self.forward_buf.is_empty() && self.leader.is_some_and(|l| l != self.id))
            || self.forwarded_reads.unsent.is_some()
            || self.leader_has_work()
    }

    /// Why [`Raft::has_ready`] holds (for the simulator's livelock diagnosis).
    #[cfg(feature = "sim")]
    pub(crate) fn ready_reasons(&self) -> alloc::string::String {
        alloc::format!(
            "outbox {} reads {} unwritten {} hs {} membership {} install {} restore {} unapplied {} \
             state {} forward {} leader_work {} | log last {:?} committed {:?} persisted {:?} applying {:?} \
             applied {:?} written {:?} installing {:?}",
            self.outbox.len(),
            self.read_results.len(),
            self.log.written() < self.log.last().index,
            self.hard_state() != self.hs_handed,
            self.membership_dirty,
            self.install_to_write.is_some(),
            self.restore_to_hand_out.is_some(),
            self.installing.is_none() && self.log.has_unapplied(),
            self.reported != Some(self.node_state()),
            !self.forward_buf.is_empty() && self.leader.is_some(),
            self.leader_has_work(),
            self.log.last(),
            self.log.committed(),
            self.log.persisted(),
            self.log.applying(),
            self.log.applied(),
            self.log.written(),
            self.installing,
        )
    }

    fn leader_has_work(&self) -> bool {
        let RoleState::Leader(leader) = &self.role else {
            return false;
        };
        if leader.reads.round_wanted {
            return true;
        }
        let last = self.log.last().index;
        leader
            .progress
            .iter()
            .any(|(_, p)| p.can_send() && (p.next <= last || p.commit_dirty))
    }

    /// Takes the next batch of work. See the crate documentation for what to do with it.
    ///
    /// Fails only when reading the log store fails; the node is then halted.
    pub fn ready(&mut self) -> Result<Ready, ReadyError> {
        if self.halted {
            return Err(ReadyError::Halted);
        }
        self.ready_inner().map_err(|e| {
            self.halt();
            ReadyError::Storage(e)
        })
    }

    fn ready_inner(&mut self) -> Result<Ready, crate::storage::StorageError> {
        // Proposals since the last Ready become one shared run, sent and written as such.
        self.log.freeze();
        self.start_read_round();
        self.send_read_requests();
        self.send_appends()?;
        if !self.forward_buf.is_empty() {
            if let Some(leader) = self.leader.filter(|l| *l != self.id) {
                let commands = core::mem::take(&mut self.forward_buf);
                self.send(
                    leader,
                    MessageBody::Propose(ForwardedProposals { commands }),
                );
            }
        }
        let id = ReadyId(self.next_ready);
        self.next_ready += 1;

        // What to persist.
        let snapshot = self.install_to_write.take();
        let entries = self.log.take_unwritten();
        let hs = self.hard_state();
        let hs_changed = hs != self.hs_handed;
        let sync = !entries.is_empty()
            || snapshot.is_some()
            || hs.term != self.hs_handed.term
            || hs.vote != self.hs_handed.vote;
        let membership = if core::mem::take(&mut self.membership_dirty) {
            Some(self.membership.clone())
        } else {
            None
        };
        // A snapshot installed in this write supersedes one taken earlier.
        let snapshot_taken = self
            .snapshot_to_record
            .take()
            .filter(|_| snapshot.is_none());
        let write = Write {
            snapshot_taken,
            snapshot,
            entries,
            hard_state: hs_changed.then_some(hs),
            membership,
            sync,
        };
        if !write.is_empty() {
            let snap = write.snapshot.as_ref().map(|s| s.last);
            self.writes.push_back(PendingWrite {
                id,
                first: write
                    .entries
                    .first()
                    .map(|e| e.index)
                    .or(snap.map(|s| s.index.next())),
                last_entry: write.entries.last().map(|e| e.index),
                hard_state: write.hard_state,
                snapshot: snap,
                snapshot_recorded: snap
                    .map(|s| s.index)
                    .or(write.snapshot_taken.as_ref().map(|s| s.last.index)),
            });
            if let Some(s) = snap {
                self.installing = Some(s);
            }
            self.hs_handed = hs;
        }

        // What to send, and when.
        let durable = self.hs_durable.term == self.term && self.hs_durable.vote == self.vote;
        let mut messages = Vec::new();
        let mut after = Vec::new();
        for m in self.outbox.drain(..) {
            if durable && may_leave_early(m.body.kind()) {
                messages.push(m);
            } else {
                after.push(m);
            }
        }
        if self.writes.is_empty() {
            // Nothing is being written: everything the messages promise is durable already.
            messages.append(&mut after);
        }

        // What to apply.
        let mut apply = Apply::default();
        if let Some(restore) = self.restore_to_hand_out.take() {
            self.log.restoring_to(restore.index);
            apply.restore = Some(restore);
        }
        if self.installing.is_none() {
            apply.entries = self.log.take_committed(self.config.max_apply_bytes)?;
            for e in &apply.entries {
                if let EntryPayload::Membership(cc) = &e.payload {
                    self.conf_to_apply.push_back((e.index, cc.clone()));
                }
            }
        }

        let state = self.node_state();
        let state = (self.reported != Some(state)).then(|| {
            self.reported = Some(state);
            state
        });
        Ok(Ready {
            id,
            state,
            messages,
            write,
            messages_after_write: after,
            apply,
            reads: core::mem::take(&mut self.read_results),
        })
    }
}
