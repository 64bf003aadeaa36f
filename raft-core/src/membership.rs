//! Cluster membership: who votes, who learns, and how that changes (Raft thesis chapter 4).
//!
//! A [`Membership`] is a value. A change is a log entry carrying a [`ConfChange`]; when that entry
//! is applied, [`Membership::apply`] computes the next membership without mutating the current
//! one, and rejects a change that is not allowed with a [`ConfChangeError`].
//!
//! Changes of more than one voter go through a *joint* configuration (thesis §4.3): decisions
//! need a majority of the outgoing voters **and** a majority of the incoming voters, so no two
//! disjoint majorities can exist at any moment. Leaving the joint configuration is a second change,
//! [`ConfChange::LeaveJoint`], which the leader proposes by itself when the joint configuration
//! was entered with `auto_leave`.

use alloc::vec::Vec;
use core::fmt;

use crate::types::NodeId;

/// The voters and learners of a cluster at one point of its log.
///
/// Invariants (checked by [`Membership::validate`], kept by [`Membership::apply`]):
/// every list is sorted without duplicates; learners are not voters (in either half of a joint
/// configuration); `learners_next` holds only outgoing voters that are leaving the incoming set;
/// a non-joint configuration has no `learners_next` and no `auto_leave`.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Membership {
    voters: Vec<NodeId>,
    voters_outgoing: Vec<NodeId>,
    learners: Vec<NodeId>,
    learners_next: Vec<NodeId>,
    auto_leave: bool,
}

/// One step of a [`ConfChange`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ConfChangeStep {
    /// Make the node a voter (promoting it if it is a learner).
    AddVoter(NodeId),
    /// Make the node a learner (demoting it if it is a voter).
    AddLearner(NodeId),
    /// Remove the node, voter or learner.
    RemoveNode(NodeId),
}

/// How a change of several voters is carried out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ConfTransition {
    /// A change of at most one voter is applied directly; anything larger enters a joint
    /// configuration that the leader leaves by itself once it is applied.
    #[default]
    Auto,
    /// Always enter a joint configuration; the leader leaves it by itself.
    JointAutoLeave,
    /// Always enter a joint configuration; the application leaves it with
    /// [`ConfChange::LeaveJoint`].
    JointExplicitLeave,
}

/// A membership change, carried by a log entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ConfChange {
    /// Apply these steps.
    Change {
        /// The steps, applied in order.
        steps: Vec<ConfChangeStep>,
        /// Whether and how to use a joint configuration.
        transition: ConfTransition,
    },
    /// Leave the current joint configuration: the incoming voters alone decide from now on.
    LeaveJoint,
    /// The first entry of a new cluster's log: the initial membership. Valid only on a node
    /// whose membership is empty; see [`bootstrap_write`](crate::bootstrap_write).
    Bootstrap(Membership),
}

impl ConfChange {
    /// A change of one step, applied directly when it alters at most one voter.
    #[must_use]
    pub fn single(step: ConfChangeStep) -> ConfChange {
        ConfChange::Change {
            steps: alloc::vec![step],
            transition: ConfTransition::Auto,
        }
    }

    /// A rough size in bytes, counted against byte limits like a command's payload.
    #[must_use]
    pub(crate) fn encoded_len_hint(&self) -> u64 {
        match self {
            ConfChange::Change { steps, .. } => 2 + 9 * steps.len() as u64,
            ConfChange::LeaveJoint => 1,
            ConfChange::Bootstrap(m) => 2 + 8 * m.members().len() as u64,
        }
    }
}

/// Why a membership change was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfChangeError {
    /// The change would leave the (incoming) configuration without any voter.
    NoVoters,
    /// A joint configuration is in effect; only [`ConfChange::LeaveJoint`] may follow it.
    AlreadyJoint,
    /// [`ConfChange::LeaveJoint`] was given outside a joint configuration.
    NotJoint,
    /// A direct change may alter at most one voter; use a joint transition.
    TooManyVoterChanges,
    /// A change without steps.
    Empty,
    /// Stored membership breaks an invariant (see [`Membership`]).
    Invalid,
    /// A bootstrap entry on a node that already has a membership.
    AlreadyBootstrapped,
    /// A change to a node that has no membership yet: only a bootstrap may come first.
    NotBootstrapped,
}

impl fmt::Display for ConfChangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfChangeError::NoVoters => "the change would leave no voters",
            ConfChangeError::AlreadyJoint => "a joint configuration is in effect; leave it first",
            ConfChangeError::NotJoint => "no joint configuration to leave",
            ConfChangeError::TooManyVoterChanges => {
                "a direct change may alter at most one voter; use a joint transition"
            }
            ConfChangeError::Empty => "the change has no steps",
            ConfChangeError::Invalid => "the membership breaks an invariant",
            ConfChangeError::AlreadyBootstrapped => "the cluster is already bootstrapped",
            ConfChangeError::NotBootstrapped => "no membership to change; bootstrap first",
        })
    }
}

impl core::error::Error for ConfChangeError {}

fn insert(set: &mut Vec<NodeId>, id: NodeId) {
    if let Err(pos) = set.binary_search(&id) {
        set.insert(pos, id);
    }
}

fn remove(set: &mut Vec<NodeId>, id: NodeId) {
    if let Ok(pos) = set.binary_search(&id) {
        set.remove(pos);
    }
}

fn sorted(ids: impl IntoIterator<Item = NodeId>) -> Vec<NodeId> {
    let mut v: Vec<NodeId> = ids.into_iter().collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn is_sorted_set(v: &[NodeId]) -> bool {
    v.windows(2).all(|w| w[0] < w[1])
}

impl Membership {
    /// A configuration of the given voters and no learners (duplicates are ignored).
    #[must_use]
    pub fn with_voters(voters: impl IntoIterator<Item = NodeId>) -> Membership {
        Membership {
            voters: sorted(voters),
            ..Membership::default()
        }
    }

    /// A configuration of the given voters and learners. A node listed in both is a voter.
    #[must_use]
    pub fn with_voters_and_learners(
        voters: impl IntoIterator<Item = NodeId>,
        learners: impl IntoIterator<Item = NodeId>,
    ) -> Membership {
        let voters = sorted(voters);
        let learners = sorted(learners)
            .into_iter()
            .filter(|l| voters.binary_search(l).is_err())
            .collect();
        Membership {
            voters,
            learners,
            ..Membership::default()
        }
    }

    /// The voters of the incoming (or only) configuration, sorted.
    #[must_use]
    pub fn voters(&self) -> &[NodeId] {
        &self.voters
    }

    /// The voters of the outgoing configuration; empty unless [`Membership::is_joint`].
    #[must_use]
    pub fn voters_outgoing(&self) -> &[NodeId] {
        &self.voters_outgoing
    }

    /// The learners, sorted.
    #[must_use]
    pub fn learners(&self) -> &[NodeId] {
        &self.learners
    }

    /// Outgoing voters that become learners when the joint configuration is left.
    #[must_use]
    pub fn learners_next(&self) -> &[NodeId] {
        &self.learners_next
    }

    /// Whether a joint configuration is in effect.
    #[must_use]
    pub fn is_joint(&self) -> bool {
        !self.voters_outgoing.is_empty()
    }

    /// Whether the leader leaves the joint configuration by itself.
    #[must_use]
    pub fn auto_leave(&self) -> bool {
        self.auto_leave
    }

    /// Whether `id` votes, in either half of a joint configuration.
    #[must_use]
    pub fn is_voter(&self, id: NodeId) -> bool {
        self.voters.binary_search(&id).is_ok() || self.voters_outgoing.binary_search(&id).is_ok()
    }

    /// Whether `id` is a learner (including outgoing voters about to become learners, which
    /// still vote until the joint configuration is left).
    #[must_use]
    pub fn is_learner(&self, id: NodeId) -> bool {
        self.learners.binary_search(&id).is_ok()
    }

    /// Whether `id` is a member at all.
    #[must_use]
    pub fn contains(&self, id: NodeId) -> bool {
        self.is_voter(id) || self.is_learner(id) || self.learners_next.binary_search(&id).is_ok()
    }

    /// Whether no voter is configured (a node that has not been bootstrapped).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.voters.is_empty() && self.voters_outgoing.is_empty()
    }

    /// Every member (voters of both halves and learners), sorted, without duplicates.
    #[must_use]
    pub fn members(&self) -> Vec<NodeId> {
        sorted(
            self.voters
                .iter()
                .chain(&self.voters_outgoing)
                .chain(&self.learners)
                .chain(&self.learners_next)
                .copied(),
        )
    }

    /// Checks the invariants listed on [`Membership`]; used on membership read from storage
    /// or received in a snapshot, which must not be trusted.
    pub fn validate(&self) -> Result<(), ConfChangeError> {
        let lists = [
            &self.voters,
            &self.voters_outgoing,
            &self.learners,
            &self.learners_next,
        ];
        if !lists.iter().all(|l| is_sorted_set(l)) {
            return Err(ConfChangeError::Invalid);
        }
        if self.learners.iter().any(|l| self.is_voter(*l)) {
            return Err(ConfChangeError::Invalid);
        }
        for n in &self.learners_next {
            if self.voters_outgoing.binary_search(n).is_err()
                || self.voters.binary_search(n).is_ok()
                || self.learners.binary_search(n).is_ok()
            {
                return Err(ConfChangeError::Invalid);
            }
        }
        if !self.is_joint() && (!self.learners_next.is_empty() || self.auto_leave) {
            return Err(ConfChangeError::Invalid);
        }
        Ok(())
    }

    /// The membership that results from applying `change` to `self` (thesis §4.3).
    ///
    /// Pure: `self` is left as it was. A refused change leaves the membership unchanged; the log
    /// entry that carried it is still applied, as a no-op.
    pub fn apply(&self, change: &ConfChange) -> Result<Membership, ConfChangeError> {
        let (steps, transition) = match change {
            ConfChange::LeaveJoint => return self.leave_joint(),
            ConfChange::Bootstrap(m) => {
                if !self.is_empty() {
                    return Err(ConfChangeError::AlreadyBootstrapped);
                }
                m.validate()?;
                if m.is_empty() || m.is_joint() {
                    return Err(ConfChangeError::NoVoters);
                }
                return Ok(m.clone());
            }
            ConfChange::Change { steps, transition } => (steps, *transition),
        };
        if steps.is_empty() {
            return Err(ConfChangeError::Empty);
        }
        if self.is_empty() {
            return Err(ConfChangeError::NotBootstrapped);
        }
        if self.is_joint() {
            return Err(ConfChangeError::AlreadyJoint);
        }
        let mut next = self.clone();
        let joint = match transition {
            ConfTransition::Auto => {
                next.apply_steps(steps);
                let changed = symmetric_difference_len(&self.voters, &next.voters);
                if changed <= 1 {
                    false
                } else {
                    next = self.clone();
                    true
                }
            }
            ConfTransition::JointAutoLeave | ConfTransition::JointExplicitLeave => true,
        };
        if joint {
            next.voters_outgoing = self.voters.clone();
            next.auto_leave = transition != ConfTransition::JointExplicitLeave;
            next.apply_steps(steps);
        }
        if next.voters.is_empty() {
            return Err(ConfChangeError::NoVoters);
        }
        // The steps keep the invariants by construction; checking costs little next to a log
        // entry, and a refusal is safer than a membership that breaks them.
        next.validate()?;
        Ok(next)
    }

    fn leave_joint(&self) -> Result<Membership, ConfChangeError> {
        if !self.is_joint() {
            return Err(ConfChangeError::NotJoint);
        }
        let mut next = self.clone();
        for id in core::mem::take(&mut next.learners_next) {
            insert(&mut next.learners, id);
        }
        next.voters_outgoing.clear();
        next.auto_leave = false;
        Ok(next)
    }

    /// Applies the steps to the incoming half; while joint, a demoted outgoing voter waits in
    /// `learners_next` (it must keep voting in the outgoing half until the joint state is left).
    fn apply_steps(&mut self, steps: &[ConfChangeStep]) {
        for step in steps {
            match *step {
                ConfChangeStep::AddVoter(id) => {
                    insert(&mut self.voters, id);
                    remove(&mut self.learners, id);
                    remove(&mut self.learners_next, id);
                }
                ConfChangeStep::AddLearner(id) => {
                    remove(&mut self.voters, id);
                    if self.voters_outgoing.binary_search(&id).is_ok() {
                        insert(&mut self.learners_next, id);
                    } else {
                        insert(&mut self.learners, id);
                    }
                }
                ConfChangeStep::RemoveNode(id) => {
                    remove(&mut self.voters, id);
                    remove(&mut self.learners, id);
                    remove(&mut self.learners_next, id);
                }
            }
        }
    }
}

fn symmetric_difference_len(a: &[NodeId], b: &[NodeId]) -> usize {
    a.iter().filter(|x| b.binary_search(x).is_err()).count()
        + b.iter().filter(|x| a.binary_search(x).is_err()).count()
}

impl fmt::Debug for Membership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "voters={:?}", self.voters)?;
        if self.is_joint() {
            write!(f, "&&{:?}", self.voters_outgoing)?;
        }
        if !self.learners.is_empty() {
            write!(f, " learners={:?}", self.learners)?;
        }
        if !self.learners_next.is_empty() {
            write!(f, " learners_next={:?}", self.learners_next)?;
        }
        if self.auto_leave {
            f.write_str(" auto_leave")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn ids(v: &[u64]) -> Vec<NodeId> {
        v.iter().map(|&i| NodeId(i)).collect()
    }

    #[test]
    fn single_voter_change_is_direct() {
        let m = Membership::with_voters(ids(&[1, 2, 3]));
        let m2 = m
            .apply(&ConfChange::single(ConfChangeStep::AddVoter(NodeId(4))))
            .unwrap();
        assert!(!m2.is_joint());
        assert_eq!(m2.voters(), &ids(&[1, 2, 3, 4])[..]);
    }

    #[test]
    fn two_voter_changes_go_joint_and_leave() {
        let m = Membership::with_voters(ids(&[1, 2, 3]));
        let cc = ConfChange::Change {
            steps: vec![
                ConfChangeStep::AddVoter(NodeId(4)),
                ConfChangeStep::RemoveNode(NodeId(1)),
            ],
            transition: ConfTransition::Auto,
        };
        let j = m.apply(&cc).unwrap();
        assert!(j.is_joint() && j.auto_leave());
        assert_eq!(j.voters(), &ids(&[2, 3, 4])[..]);
        assert_eq!(j.voters_outgoing(), &ids(&[1, 2, 3])[..]);
        assert_eq!(j.apply(&cc), Err(ConfChangeError::AlreadyJoint));
        let l = j.apply(&ConfChange::LeaveJoint).unwrap();
        assert!(!l.is_joint());
        assert_eq!(l.voters(), &ids(&[2, 3, 4])[..]);
        assert_eq!(
            l.apply(&ConfChange::LeaveJoint),
            Err(ConfChangeError::NotJoint)
        );
    }

    #[test]
    fn demotion_in_joint_waits_in_learners_next() {
        let m = Membership::with_voters(ids(&[1, 2, 3]));
        let cc = ConfChange::Change {
            steps: vec![ConfChangeStep::AddLearner(NodeId(3))],
            transition: ConfTransition::JointExplicitLeave,
        };
        let j = m.apply(&cc).unwrap();
        assert_eq!(j.learners_next(), &ids(&[3])[..]);
        assert!(j.is_voter(NodeId(3)));
        assert!(j.validate().is_ok());
        let l = j.apply(&ConfChange::LeaveJoint).unwrap();
        assert_eq!(l.learners(), &ids(&[3])[..]);
        assert!(!l.is_voter(NodeId(3)));
    }

    #[test]
    fn removing_every_voter_is_refused() {
        let m = Membership::with_voters(ids(&[1]));
        assert_eq!(
            m.apply(&ConfChange::single(ConfChangeStep::RemoveNode(NodeId(1)))),
            Err(ConfChangeError::NoVoters)
        );
        let m3 = Membership::with_voters(ids(&[1, 2]));
        let cc = ConfChange::Change {
            steps: vec![
                ConfChangeStep::RemoveNode(NodeId(1)),
                ConfChangeStep::RemoveNode(NodeId(2)),
            ],
            transition: ConfTransition::Auto,
        };
        assert_eq!(m3.apply(&cc), Err(ConfChangeError::NoVoters));
    }

    #[test]
    fn validate_rejects_overlap_and_unsorted() {
        let bad = Membership {
            voters: ids(&[2, 1]),
            ..Membership::default()
        };
        assert_eq!(bad.validate(), Err(ConfChangeError::Invalid));
        let overlap = Membership {
            voters: ids(&[1]),
            learners: ids(&[1]),
            ..Membership::default()
        };
        assert_eq!(overlap.validate(), Err(ConfChangeError::Invalid));
    }
}
