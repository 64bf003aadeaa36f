//! Membership changes through the log (thesis chapter 4): proposing one, and putting it into
//! effect when it is applied.

use rand_core::Rng;

use super::{Raft, RoleState};
use crate::error::ProposeError;
use crate::membership::ConfChange;
use crate::message::EntryPayload;
use crate::storage::{Storage, StoredMembership};
use crate::types::{Index, LogId};

/// How many earlier memberships to remember for describing snapshots of earlier indexes.
const MEMBERSHIP_HISTORY: usize = 8;

impl<S: Storage, R: Rng> Raft<S, R> {
    /// Proposes a membership change. Only the leader accepts one, only one may be pending
    /// (proposed and not yet applied) at a time, and it must be valid from the current
    /// membership (a change that would leave no voters is refused).
    ///
    /// The change takes effect on each node when the entry is applied
    /// ([`Raft::ack_applied`]). A joint configuration entered with auto-leave is left by the
    /// leader by itself once applied.
    pub fn propose_conf_change(&mut self, change: ConfChange) -> Result<LogId, ProposeError> {
        if self.halted {
            return Err(ProposeError::Halted);
        }
        let applied = self.log.applied();
        let RoleState::Leader(leader) = &self.role else {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        };
        if leader.pending_conf_index > applied {
            return Err(ProposeError::ConfChangePending);
        }
        self.membership
            .membership
            .apply(&change)
            .map_err(ProposeError::InvalidConfChange)?;
        let id = self.append_as_leader(EntryPayload::Membership(change))?;
        if let RoleState::Leader(leader) = &mut self.role {
            leader.pending_conf_index = id.index;
        }
        Ok(id)
    }

    /// Puts the change carried by the entry at `index` into effect (or ignores it if it is
    /// invalid, or already reflected by the stored membership).
    pub(super) fn apply_membership_change(&mut self, index: Index, change: &ConfChange) {
        if index <= self.membership.index {
            return;
        }
        let Ok(next) = self.membership.membership.apply(change) else {
            return;
        };
        let previous = core::mem::replace(
            &mut self.membership,
            StoredMembership {
                index,
                membership: next,
            },
        );
        self.membership_history.push_back(previous);
        while self.membership_history.len() > MEMBERSHIP_HISTORY {
            self.membership_history.pop_front();
        }
        self.membership_dirty = true;
        self.on_membership_changed();
    }

    /// Adjusts role state to a new membership: the leader tracks the new members, steps down if
    /// it is no longer a voter, and leaves an auto-leave joint configuration.
    pub(super) fn on_membership_changed(&mut self) {
        let members = self.membership.membership.members();
        let next = self.log.last().index.next();
        let me = self.id;
        let still_voter = self.is_voter();
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        leader.sync_members(me, &members, next, &self.config);
        if let Some(t) = leader.transfer {
            if !self.membership.membership.is_voter(t.target) {
                leader.transfer = None;
            }
        }
        if !still_voter {
            self.hand_over_leadership();
        }
        // The quorum changed: the commit index may move.
        self.maybe_commit();
        let m = &self.membership.membership;
        if m.is_joint() && m.auto_leave() {
            let _ = self.propose_conf_change(ConfChange::LeaveJoint);
        }
    }

    /// The index of the entry (or snapshot) that produced the membership in effect.
    #[must_use]
    pub fn membership_index(&self) -> Index {
        self.membership.index
    }

    /// How many membership entries the log holds after the applied index (for the simulator's
    /// "at most one pending change" check).
    #[cfg(feature = "sim")]
    pub(crate) fn pending_membership_entries(&self) -> usize {
        let from = self
            .log
            .applied()
            .next()
            .max(self.log.log_start().index.next());
        let to = self.log.last().index.next();
        if from >= to {
            return 0;
        }
        let Ok(out) = self.log.entries(from, to, u64::MAX) else {
            return 0;
        };
        out.iter()
            .filter(|e| matches!(e.payload, EntryPayload::Membership(_)))
            .count()
    }
}
