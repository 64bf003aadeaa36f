//! The cluster-wide safety properties, checked as the run goes:
//!
//! - **Election Safety**: at most one leader per term.
//! - **Log Matching**: two logs holding an entry with the same index and term hold the same
//!   entries up to it (every durable entry's prefix digest is compared across nodes).
//! - **Leader Completeness**: a new leader's log holds every entry known to be committed.
//! - **State Machine Safety**: no two nodes apply different entries at one index, and snapshots
//!   restore exactly the state that applying the log produced.
//! - **Committed entries are never lost**: every index known to be committed keeps one term
//!   forever, on every node that reports it committed.
//! - **Membership**: at most one membership change is pending in a leader's log, and the quorums
//!   of consecutive memberships always intersect (no two disjoint majorities).
//! - **Reads**: a read returns a state at least as new as every write acknowledged before it
//!   began.

use std::collections::{BTreeMap, HashMap};
use std::format;
use std::string::String;
use std::vec::Vec;

use crate::membership::Membership;
use crate::types::{Index, LogId, NodeId, Term};

#[derive(Debug)]
pub(crate) struct Checker {
    leaders: BTreeMap<Term, NodeId>,
    /// (index, term) -> digest of the log prefix ending there.
    prefixes: HashMap<(u64, u64), u64>,
    /// index -> term, for every index known to be committed.
    committed: Vec<Term>,
    /// index -> digest of the entry applied there.
    applied_entries: HashMap<u64, u64>,
    /// index -> state digest after applying up to it.
    state_digests: HashMap<u64, u64>,
    /// Memberships applied, by index.
    memberships: BTreeMap<Index, Membership>,
    pub(crate) violations: Vec<String>,
}

impl Default for Checker {
    fn default() -> Self {
        Checker {
            leaders: BTreeMap::new(),
            prefixes: HashMap::new(),
            committed: std::vec![Term::ZERO],
            applied_entries: HashMap::new(),
            state_digests: HashMap::new(),
            memberships: BTreeMap::new(),
            violations: Vec::new(),
        }
    }
}

impl Checker {
    fn violation(&mut self, now: u64, what: String) {
        if self.violations.len() < 16 {
            self.violations.push(format!("tick {now}: {what}"));
        }
    }

    pub(crate) fn on_leader(&mut self, now: u64, term: Term, id: NodeId) {
        match self.leaders.get(&term) {
            Some(other) if *other != id => {
                let other = *other;
                self.violation(
                    now,
                    format!("election safety: {other:?} and {id:?} both lead term {term:?}"),
                );
            }
            Some(_) => {}
            None => {
                self.leaders.insert(term, id);
            }
        }
    }

    /// The prefix digest recorded for a log position, if any node has written it.
    pub(crate) fn prefix(&self, id: LogId) -> Option<u64> {
        if id.index == Index::ZERO {
            return Some(0);
        }
        self.prefixes.get(&(id.index.0, id.term.0)).copied()
    }

    /// A node made durable the entry `id` whose log prefix digests to `digest`.
    pub(crate) fn on_durable_entry(&mut self, now: u64, node: NodeId, id: LogId, digest: u64) {
        match self.prefixes.get(&(id.index.0, id.term.0)) {
            Some(d) if *d != digest => {
                self.violation(
                    now,
                    format!("log matching: {node:?} holds {id:?} with a different prefix"),
                );
            }
            Some(_) => {}
            None => {
                self.prefixes.insert((id.index.0, id.term.0), digest);
            }
        }
    }

    /// The highest index known to be committed.
    pub(crate) fn max_committed(&self) -> Index {
        Index(self.committed.len().saturating_sub(1) as u64)
    }

    pub(crate) fn committed_term(&self, index: Index) -> Option<Term> {
        self.committed.get(usize::try_from(index.0).ok()?).copied()
    }

    /// A node reports `index` committed with `term` in its log.
    pub(crate) fn on_committed(&mut self, now: u64, node: NodeId, index: Index, term: Term) {
        let i = index.0 as usize;
        if i < self.committed.len() {
            if self.committed[i] != term {
                let want = self.committed[i];
                self.violation(
                    now,
                    format!("committed entry lost: {node:?} has term {term:?} at committed index {index:?}, others {want:?}"),
                );
            }
        } else if i == self.committed.len() {
            self.committed.push(term);
        }
    }

    pub(crate) fn committed_len(&self) -> usize {
        self.committed.len()
    }

    /// A node applied the entry at `index` with content digest `entry`, reaching state `state`.
    pub(crate) fn on_apply(
        &mut self,
        now: u64,
        node: NodeId,
        index: Index,
        entry: u64,
        state: u64,
    ) {
        if let Some(d) = self.applied_entries.insert(index.0, entry) {
            if d != entry {
                self.violation(
                    now,
                    format!(
                        "state machine safety: {node:?} applied a different entry at {index:?}"
                    ),
                );
            }
        }
        self.on_state(now, node, index, state);
    }

    /// A node's state machine reached `state` at `index` (by applying, or restoring a snapshot).
    pub(crate) fn on_state(&mut self, now: u64, node: NodeId, index: Index, state: u64) {
        if let Some(d) = self.state_digests.insert(index.0, state) {
            if d != state {
                self.violation(
                    now,
                    format!("state machine safety: {node:?} has a different state at {index:?}"),
                );
            }
        }
    }

    /// A membership took effect at `index` on some node.
    pub(crate) fn on_membership(&mut self, now: u64, index: Index, m: &Membership) {
        if let Some(existing) = self.memberships.get(&index) {
            if existing != m {
                self.violation(
                    now,
                    format!("two memberships at {index:?}: {existing:?} and {m:?}"),
                );
            }
            return;
        }
        let before = self
            .memberships
            .range(..index)
            .next_back()
            .map(|(_, m)| m.clone());
        let after = self
            .memberships
            .range(index.next()..)
            .next()
            .map(|(_, m)| m.clone());
        for other in before.iter().chain(after.iter()) {
            if let Some((a, b)) = disjoint_quorums(other, m) {
                self.violation(
                    now,
                    format!(
                        "disjoint majorities: {a:?} in {other:?} and {b:?} in {m:?} (at {index:?})"
                    ),
                );
            }
        }
        self.memberships.insert(index, m.clone());
    }

    pub(crate) fn violation_at(&mut self, now: u64, what: String) {
        self.violation(now, what);
    }
}

/// Two disjoint sets, a quorum of `a` and a quorum of `b`, if they exist (brute force over
/// the union of members: fine for the simulator's small clusters).
fn disjoint_quorums(a: &Membership, b: &Membership) -> Option<(Vec<NodeId>, Vec<NodeId>)> {
    let mut ids: Vec<NodeId> = a
        .voters()
        .iter()
        .chain(a.voters_outgoing())
        .chain(b.voters())
        .chain(b.voters_outgoing())
        .copied()
        .collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > 12 {
        return None;
    }
    let n = ids.len() as u32;
    let quorum =
        |m: &Membership, set: &[NodeId]| crate::quorum::is_quorum(m, |id| set.contains(&id));
    // Each node is in the first set, the second, or neither: 3^n assignments.
    let total = 3u64.pow(n);
    for code in 0..total {
        let (mut qa, mut qb) = (Vec::new(), Vec::new());
        let mut c = code;
        for id in &ids {
            match c % 3 {
                0 => qa.push(*id),
                1 => qb.push(*id),
                _ => {}
            }
            c /= 3;
        }
        if quorum(a, &qa) && quorum(b, &qb) {
            return Some((qa, qb));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disjoint_quorums_found_for_a_two_voter_jump() {
        let a = Membership::with_voters([NodeId(1), NodeId(2), NodeId(3)]);
        let b = Membership::with_voters([NodeId(1), NodeId(4), NodeId(5)]);
        assert!(disjoint_quorums(&a, &b).is_some());
        let c = Membership::with_voters([NodeId(1), NodeId(2), NodeId(3), NodeId(4)]);
        assert!(disjoint_quorums(&a, &c).is_none());
    }
}
