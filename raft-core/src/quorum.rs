//! Quorum arithmetic: the committed index and the outcome of an election for a simple or joint
//! voter configuration. Pure functions over ids and lookups, checked against a naive version by
//! property tests.

use alloc::vec::Vec;

use crate::membership::Membership;
use crate::types::{Index, NodeId};

/// The result of counting votes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VoteTally {
    /// A quorum granted the vote.
    Won,
    /// Enough voters refused that a quorum can no longer be reached.
    Lost,
    /// Neither yet.
    Pending,
}

/// The largest index that a majority of `voters` have matched; `Index(u64::MAX)` for an empty
/// set, so that an empty half of a joint configuration never holds the other back.
pub(crate) fn majority_index(voters: &[NodeId], mut matched: impl FnMut(NodeId) -> Index) -> Index {
    match voters.len() {
        0 => Index(u64::MAX),
        1 => matched(voters[0]),
        n if n <= 7 => {
            let mut buf = [Index::ZERO; 7];
            for (slot, id) in buf.iter_mut().zip(voters) {
                *slot = matched(*id);
            }
            let buf = &mut buf[..n];
            buf.sort_unstable();
            buf[n - (n / 2 + 1)]
        }
        n => {
            let mut buf: Vec<Index> = voters.iter().map(|id| matched(*id)).collect();
            buf.sort_unstable();
            buf[n - (n / 2 + 1)]
        }
    }
}

/// The committed index of a membership: for a joint configuration, the smaller of the two
/// halves' majority indexes (thesis §4.3).
pub(crate) fn committed_index(m: &Membership, mut matched: impl FnMut(NodeId) -> Index) -> Index {
    let incoming = majority_index(m.voters(), &mut matched);
    if m.is_joint() {
        incoming.min(majority_index(m.voters_outgoing(), &mut matched))
    } else {
        incoming
    }
}

fn tally_one(voters: &[NodeId], mut vote: impl FnMut(NodeId) -> Option<bool>) -> VoteTally {
    if voters.is_empty() {
        return VoteTally::Won;
    }
    let (mut yes, mut missing) = (0, 0);
    for id in voters {
        match vote(*id) {
            Some(true) => yes += 1,
            Some(false) => {}
            None => missing += 1,
        }
    }
    let quorum = voters.len() / 2 + 1;
    if yes >= quorum {
        VoteTally::Won
    } else if yes + missing >= quorum {
        VoteTally::Pending
    } else {
        VoteTally::Lost
    }
}

/// The outcome of an election; a joint configuration needs both halves to win.
pub(crate) fn tally(m: &Membership, mut vote: impl FnMut(NodeId) -> Option<bool>) -> VoteTally {
    let incoming = tally_one(m.voters(), &mut vote);
    if !m.is_joint() {
        return incoming;
    }
    let outgoing = tally_one(m.voters_outgoing(), &mut vote);
    match (incoming, outgoing) {
        (VoteTally::Won, VoteTally::Won) => VoteTally::Won,
        (VoteTally::Lost, _) | (_, VoteTally::Lost) => VoteTally::Lost,
        _ => VoteTally::Pending,
    }
}

/// Whether the nodes for which `active` holds form a quorum (used by check-quorum and leases).
pub(crate) fn is_quorum(m: &Membership, mut active: impl FnMut(NodeId) -> bool) -> bool {
    tally(m, |id| Some(active(id))) == VoteTally::Won
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::membership::{ConfChange, ConfChangeStep, ConfTransition};
    use alloc::vec;
    use proptest::prelude::*;

    fn naive_majority(matches: &[u64]) -> u64 {
        // The largest x such that more than half of the voters have matched at least x.
        let n = matches.len();
        (0..=matches.iter().copied().max().unwrap_or(0))
            .rev()
            .find(|x| matches.iter().filter(|m| **m >= *x).count() > n / 2)
            .unwrap_or(0)
    }

    proptest! {
        #[test]
        fn majority_matches_naive(matches in proptest::collection::vec(0u64..50, 1..12)) {
            let voters: Vec<NodeId> = (0..matches.len() as u64).map(NodeId).collect();
            let got = majority_index(&voters, |id| Index(matches[id.0 as usize]));
            prop_assert_eq!(got.0, naive_majority(&matches));
        }

        #[test]
        fn tally_matches_naive(votes in proptest::collection::vec(proptest::option::of(any::<bool>()), 1..10)) {
            let voters: Vec<NodeId> = (0..votes.len() as u64).map(NodeId).collect();
            let m = Membership::with_voters(voters);
            let got = tally(&m, |id| votes[id.0 as usize]);
            let yes = votes.iter().filter(|v| **v == Some(true)).count();
            let no = votes.iter().filter(|v| **v == Some(false)).count();
            let q = votes.len() / 2 + 1;
            let want = if yes >= q { VoteTally::Won } else if votes.len() - no >= q { VoteTally::Pending } else { VoteTally::Lost };
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn joint_commit_is_min_of_halves() {
        let m = Membership::with_voters([NodeId(1), NodeId(2), NodeId(3)]);
        let j = m
            .apply(&ConfChange::Change {
                steps: vec![
                    ConfChangeStep::AddVoter(NodeId(4)),
                    ConfChangeStep::AddVoter(NodeId(5)),
                    ConfChangeStep::RemoveNode(NodeId(1)),
                    ConfChangeStep::RemoveNode(NodeId(2)),
                ],
                transition: ConfTransition::Auto,
            })
            .unwrap();
        // incoming {3,4,5}, outgoing {1,2,3}
        let matched = |id: NodeId| Index([0, 10, 10, 10, 1, 1][id.0 as usize]);
        assert_eq!(committed_index(&j, matched), Index(1));
        let matched = |id: NodeId| Index([0, 1, 1, 10, 10, 10][id.0 as usize]);
        assert_eq!(committed_index(&j, matched), Index(1));
        let matched = |id: NodeId| Index([0, 1, 9, 9, 9, 1][id.0 as usize]);
        assert_eq!(committed_index(&j, matched), Index(9));
        assert_eq!(
            tally(&j, |id| Some(id.0 <= 3)),
            VoteTally::Lost,
            "incoming half {{3,4,5}} has only one yes"
        );
        assert_eq!(tally(&j, |id| Some(id.0 >= 2 && id.0 <= 4)), VoteTally::Won);
    }
}
