//! The caller's acknowledgements: writes made durable, entries applied.

use rand_core::Rng;

use super::{Raft, RoleState};
use crate::error::AckError;
use crate::ready::ReadyId;
use crate::storage::Storage;
use crate::types::Index;

impl<S: Storage, R: Rng> Raft<S, R> {
    /// Acknowledges that the write of Ready `id`, and of every earlier Ready, is durable (synced
    /// if it asked for it). Acknowledging a Ready whose write was empty is allowed and does no
    /// harm; acknowledging an id twice is a no-op.
    ///
    /// On a leader this may advance the commit index; on every node it releases the messages
    /// that were waiting for the write (the caller sends them) and may make entries appliable.
    pub fn ack_persisted(&mut self, id: ReadyId) -> Result<(), AckError> {
        if self.halted {
            return Err(AckError::Halted);
        }
        if id.0 >= self.next_ready {
            return Err(AckError::UnknownReady { id });
        }
        let mut durable_to = None;
        while self.writes.front().is_some_and(|w| w.id <= id) {
            let Some(w) = self.writes.pop_front() else {
                break;
            };
            if let Some(hs) = w.hard_state {
                self.hs_durable = hs;
            }
            if let Some(last) = w.last_entry {
                durable_to = Some(last);
            }
            if let Some(i) = w.snapshot_recorded {
                self.snapshot_durable = Some(i);
            }
            if let Some(snap) = w.snapshot {
                self.log.snapshot_installed(snap);
                if self.installing == Some(snap) {
                    self.installing = None;
                    self.restore_to_hand_out = Some(snap);
                    self.metrics.snapshots_installed += 1;
                }
            }
        }
        if let Some(mut to) = durable_to {
            // A later write that rewrites from an earlier index means the entries written here
            // past that point are no longer ours.
            if let Some(first) = self.writes.iter().filter_map(|w| w.first).min() {
                to = to.min(first.prev());
            }
            self.log.set_persisted(to);
            if self.is_leader() {
                self.maybe_commit();
            }
        }
        self.release_memory();
        Ok(())
    }

    /// Acknowledges that the state machine has applied every entry up to `index` (which must
    /// have been handed out in a Ready's [`Apply`](crate::Apply)), and restored any snapshot
    /// handed out before it. Membership changes take effect here.
    pub fn ack_applied(&mut self, index: Index) -> Result<(), AckError> {
        if self.halted {
            return Err(AckError::Halted);
        }
        if index > self.log.applying() {
            return Err(AckError::NotHandedOut {
                index,
                handed_out: self.log.applying(),
            });
        }
        self.log.set_applied(index);
        while self.conf_to_apply.front().is_some_and(|(i, _)| *i <= index) {
            let Some((i, cc)) = self.conf_to_apply.pop_front() else {
                break;
            };
            self.apply_membership_change(i, &cc);
        }
        self.release_memory();
        Ok(())
    }

    /// Drops entries from memory that are durable, applied, and not needed soon for a peer
    /// (or beyond the cache budget).
    fn release_memory(&mut self) {
        let floor = self.log.memory_floor(self.config.max_log_cache_bytes);
        let wanted = match &self.role {
            RoleState::Leader(l) => l
                .progress
                .iter()
                .map(|(_, p)| p.next.min(p.match_index.next()))
                .min()
                .unwrap_or(Index(u64::MAX)),
            _ => Index(u64::MAX),
        };
        self.log.release_memory(wanted.max(floor));
    }
}
