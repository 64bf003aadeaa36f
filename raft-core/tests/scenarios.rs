//! Scenarios from the Raft paper, driven message by message: the logs of Figure 7, the commit
//! anomaly of Figure 8, and the messages a follower's ReadIndex read costs.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use raft_core::sim::SimRng;
use raft_core::{
    Config, Entry, EntryPayload, HardState, Index, LogId, MemStorage, Membership, Message,
    MessageBody, MessageKind, NodeId, Raft, ReadId, ReadResult, Role, Term, Write, bootstrap_write,
};

type Node = Raft<MemStorage, SimRng>;

/// A store holding the bootstrap entry of `members` followed by entries of the given terms.
fn store_with_terms(members: &[u64], terms: &[u64], current: u64) -> MemStorage {
    let mut s = MemStorage::default();
    s.apply_write(&bootstrap_write(Membership::with_voters(
        members.iter().map(|&i| NodeId(i)),
    )))
    .unwrap();
    let mut w = Write::default();
    w.entries = terms
        .iter()
        .enumerate()
        .map(|(i, &t)| Entry {
            term: Term(t),
            index: Index(i as u64 + 2),
            payload: EntryPayload::Command(Bytes::from(format!("t{t}i{}", i + 2))),
        })
        .collect();
    w.hard_state = Some(HardState {
        term: Term(current),
        vote: None,
        commit: Index(1),
    });
    s.apply_write(&w).unwrap();
    s
}

struct Cluster {
    nodes: BTreeMap<u64, Node>,
    down: BTreeSet<u64>,
    applied: BTreeMap<u64, Vec<LogId>>,
    reads: BTreeMap<u64, Vec<ReadResult>>,
}

impl Cluster {
    fn new(stores: Vec<(u64, MemStorage)>, tune: impl Fn(&mut Config)) -> Cluster {
        let nodes = stores
            .into_iter()
            .map(|(id, s)| {
                let mut c = Config::new(NodeId(id));
                c.pre_vote = false;
                tune(&mut c);
                (id, Raft::new(c, s, SimRng::new(id)).unwrap())
            })
            .collect();
        Cluster {
            nodes,
            down: BTreeSet::new(),
            applied: BTreeMap::new(),
            reads: BTreeMap::new(),
        }
    }

    fn node(&mut self, id: u64) -> &mut Node {
        self.nodes.get_mut(&id).unwrap()
    }

    /// Takes every Ready (persisting synchronously) and delivers the messages that `pass`
    /// allows, until nothing moves.
    fn pump(&mut self, pass: impl Fn(&Message) -> bool) {
        for _ in 0..1000 {
            let mut msgs = Vec::new();
            for (id, n) in self.nodes.iter_mut() {
                if self.down.contains(id) {
                    continue;
                }
                while n.has_ready() {
                    let rd = n.ready().unwrap();
                    msgs.extend(rd.messages);
                    n.storage_mut().apply_write(&rd.write).unwrap();
                    msgs.extend(rd.messages_after_write);
                    n.ack_persisted(rd.id).unwrap();
                    let applied = self.applied.entry(*id).or_default();
                    applied.extend(rd.apply.entries.iter().map(Entry::log_id));
                    self.reads.entry(*id).or_default().extend(rd.reads);
                    if let Some(last) = rd.apply.last_index() {
                        n.ack_applied(last).unwrap();
                    }
                }
            }
            let mut delivered = false;
            for m in msgs {
                if self.down.contains(&m.to.0) || self.down.contains(&m.from.0) || !pass(&m) {
                    continue;
                }
                delivered = true;
                let _ = self.node(m.to.0).step(m);
            }
            if !delivered {
                return;
            }
        }
        panic!("the cluster did not settle");
    }

    /// Lets the followers' leases expire (check-quorum), then has `id` campaign until its term
    /// is decided: leader, or refused by a majority.
    fn elect(&mut self, id: u64) {
        for _ in 0..20 {
            for (n, node) in self.nodes.iter_mut() {
                if !self.down.contains(n) && *n != id {
                    node.tick();
                }
            }
        }
        for _ in 0..3 {
            let _ = self.node(id).campaign();
            self.pump(|_| true);
            if self.node(id).role() == Role::Leader {
                return;
            }
        }
    }

    fn log_terms(&self, id: u64) -> Vec<u64> {
        let n = &self.nodes[&id];
        (1..=n.last_log_id().index.0)
            .map(|i| n.log_term(Index(i)).unwrap().unwrap().0)
            .collect()
    }
}

/// Raft Figure 7: a leader for term 8 brings followers with missing, extra and conflicting
/// entries to its own log (§5.3).
#[test]
fn figure_7_followers_converge_to_the_leader() {
    let ids = [1, 2, 3, 4, 5, 6, 7];
    let logs: [(u64, &[u64]); 7] = [
        (1, &[1, 1, 4, 4, 5, 5, 6, 6, 6]), // the leader-to-be (index 1 is the bootstrap entry)
        (2, &[1, 1, 4, 4, 5, 5, 6, 6]),    // (a) missing one entry
        (3, &[1, 1, 4]),                   // (b) missing many
        (4, &[1, 1, 4, 4, 5, 5, 6, 6, 6, 6]), // (c) one extra entry of term 6
        (5, &[1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7]), // (d) two extra entries of term 7
        (6, &[1, 1, 4, 4, 4, 4]),          // (e) conflicting entries of term 4
        (7, &[1, 1, 2, 2, 2, 3, 3, 3, 3, 3]), // (f) conflicting entries of terms 2 and 3
    ];
    let stores = logs
        .iter()
        .map(|(id, terms)| (*id, store_with_terms(&ids, terms, 7)))
        .collect();
    let mut c = Cluster::new(stores, |_| {});
    c.node(1).campaign().unwrap();
    c.pump(|_| true);
    assert_eq!(c.node(1).role(), Role::Leader);
    assert_eq!(c.node(1).term(), Term(8));
    let leader = c.log_terms(1);
    assert_eq!(leader, vec![1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 8]);
    for id in 2..=7 {
        assert_eq!(c.log_terms(id), leader, "node {id}");
    }
    // Everything is committed and applied everywhere, in the same order.
    for id in 1..=7 {
        assert_eq!(c.nodes[&id].commit_index(), Index(11), "node {id}");
        assert_eq!(c.applied[&id], c.applied[&1]);
    }
}

/// Raft Figure 8: a leader must not count replicas to commit an entry of an earlier term
/// (§5.4.2), or a later leader could overwrite it.
#[test]
fn figure_8_old_term_entry_is_not_committed_by_counting_replicas() {
    let ids = [1, 2, 3, 4, 5];
    // State (b)->(c): S1 and S2 hold index 2 from term 2; S5 holds index 2 from term 3.
    let stores = vec![
        (1, store_with_terms(&ids, &[2], 3)),
        (2, store_with_terms(&ids, &[2], 3)),
        (3, store_with_terms(&ids, &[], 3)),
        (4, store_with_terms(&ids, &[], 3)),
        (5, store_with_terms(&ids, &[3], 3)),
    ];
    // One entry per append, so that S3 can receive index 2 without the leader's index 3.
    let mut c = Cluster::new(stores, |cfg| cfg.max_append_entries = 1);
    c.down.insert(5);
    // (c) S1 leads term 4 and replicates index 2 (term 2) to S3, but not its own entry 3. The
    // first append S3 sees carries entry 3 after index 2, which S3 lacks: it is rejected, and the
    // leader backs up to send index 2. Later appends carrying entry 3 are lost.
    c.node(1).campaign().unwrap();
    let appends_with_3 = std::cell::Cell::new(0);
    c.pump(|m| match &m.body {
        MessageBody::Append(a)
            if m.to == NodeId(3) && a.entries.iter().any(|e| e.index == Index(3)) =>
        {
            appends_with_3.set(appends_with_3.get() + 1);
            appends_with_3.get() == 1
        }
        MessageBody::Append(_) => m.to == NodeId(3),
        _ => true,
    });
    assert_eq!(c.node(1).role(), Role::Leader);
    assert_eq!(c.node(1).term(), Term(4));
    assert_eq!(c.log_terms(3), vec![1, 2], "S3 holds index 2 of term 2");
    // Index 2 is on S1, S2 and S3, a majority, but it is of term 2: not committed.
    assert_eq!(c.node(1).commit_index(), Index(1));

    // (d) S1 crashes; S5 returns and wins term 5 with the votes of S2, S3, S4, then overwrites
    // index 2 everywhere. Nothing acknowledged was lost: index 2 of term 2 was never applied.
    c.down.remove(&5);
    c.down.insert(1);
    c.elect(5);
    assert_eq!(c.node(5).role(), Role::Leader);
    for id in [2, 3, 4, 5] {
        assert_eq!(c.log_terms(id)[1], 3, "node {id} has index 2 from term 3");
        assert!(
            c.applied[&id]
                .iter()
                .all(|p| *p != LogId::new(Term(2), Index(2)))
        );
    }
}

/// The other branch of Figure 8 (e): once S1 replicates an entry of its own term to a majority,
/// both are committed, and S5 can no longer win an election.
#[test]
fn figure_8_commit_through_current_term_entry_is_durable() {
    let ids = [1, 2, 3, 4, 5];
    let stores = vec![
        (1, store_with_terms(&ids, &[2], 3)),
        (2, store_with_terms(&ids, &[2], 3)),
        (3, store_with_terms(&ids, &[], 3)),
        (4, store_with_terms(&ids, &[], 3)),
        (5, store_with_terms(&ids, &[3], 3)),
    ];
    let mut c = Cluster::new(stores, |_| {});
    c.down.insert(5);
    c.node(1).campaign().unwrap();
    c.pump(|m| m.to != NodeId(4));
    assert_eq!(
        c.node(1).commit_index(),
        Index(3),
        "index 2 commits with the term-4 entry"
    );
    c.down.remove(&5);
    c.down.insert(1);
    c.elect(5);
    assert_ne!(
        c.node(5).role(),
        Role::Leader,
        "S5's log is behind a majority"
    );
    assert!(c.node(5).term() > Term(4), "S5 did campaign");
    assert_eq!(c.log_terms(2)[1], 2);
}

/// `n` voters, node 1 leading with the blank entry of its term committed.
fn group_with_leader(n: u64) -> Cluster {
    let ids: Vec<u64> = (1..=n).collect();
    let stores = ids
        .iter()
        .map(|&id| (id, store_with_terms(&ids, &[], 1)))
        .collect();
    let mut c = Cluster::new(stores, |_| {});
    c.node(1).campaign().unwrap();
    c.pump(|_| true);
    assert_eq!(c.node(1).role(), Role::Leader);
    c
}

fn is_heartbeat(m: &Message) -> bool {
    matches!(
        m.body.kind(),
        MessageKind::Heartbeat | MessageKind::HeartbeatResponse
    )
}

/// A follower's read request is itself an acknowledgement sent after the read began: in a group
/// of three, the leader and that follower are a quorum, so the leader answers without a
/// heartbeat round (one round trip instead of two).
#[test]
fn follower_read_in_three_voters_needs_no_heartbeat_round() {
    let mut c = group_with_leader(3);
    let commit = c.node(1).commit_index();
    c.node(2).read_index(ReadId(7)).unwrap();
    c.pump(|m| !is_heartbeat(m));
    assert_eq!(
        c.reads.get(&2).map(Vec::as_slice),
        Some(
            &[ReadResult {
                id: ReadId(7),
                result: Ok(commit)
            }][..]
        )
    );
    // The leader's own reads still need a round: with heartbeats lost, it never confirms.
    c.node(1).read_index(ReadId(8)).unwrap();
    c.pump(|m| !is_heartbeat(m));
    assert!(c.reads.get(&1).is_none_or(Vec::is_empty));
    c.node(1).tick(); // the next heartbeat carries the round
    c.pump(|_| true);
    assert_eq!(c.reads[&1].len(), 1);
}

/// In a group of five, the leader and the asking follower are two of five: the read waits for one
/// more acknowledgement, from a heartbeat answered after the read arrived.
#[test]
fn follower_read_in_five_voters_waits_for_one_more_acknowledgement() {
    let mut c = group_with_leader(5);
    c.node(2).read_index(ReadId(7)).unwrap();
    c.pump(|m| !is_heartbeat(m));
    assert!(c.reads.get(&2).is_none_or(Vec::is_empty));
    // Only node 3 answers the leader's heartbeats: with the request from 2 and the leader that
    // makes three of five.
    c.node(1).tick(); // the next heartbeat carries the round
    c.pump(|m| !is_heartbeat(m) || m.to == NodeId(3) || m.from == NodeId(3));
    assert_eq!(c.reads[&2].len(), 1);
    assert!(c.reads[&2][0].result.is_ok());
}

fn vote_request(from: u64, to: u64, term: u64, last_log: LogId) -> Message {
    Message {
        from: NodeId(from),
        to: NodeId(to),
        term: Term(term),
        body: MessageBody::Vote(raft_core::VoteRequest {
            last_log,
            leader_transfer: false,
        }),
    }
}

/// A node outside our membership, with a log behind ours, is typically a removed node that has
/// not learned it: its vote requests are ignored and do not raise our term (thesis §4.2.3). One
/// whose log is at least as up to date is heard: it may be a member added by entries we have not
/// received. Found by simulator seed 71633: voters {n1, n2, n4} removed n1 while n2 was cut
/// off; the new group {n2, n4} could elect no one, as n2 still knew only {n1, n2, n3} and ignored
/// n4, and only n4 could have told it otherwise.
#[test]
fn a_non_member_is_heard_only_when_its_log_is_up_to_date() {
    let mut c = Cluster::new(vec![(2, store_with_terms(&[1, 2, 3], &[1, 1], 1))], |_| {});
    let n2 = c.node(2);
    assert_eq!(n2.last_log_id(), LogId::new(Term(1), Index(3)));
    n2.step(vote_request(4, 2, 5, LogId::new(Term(1), Index(2))))
        .unwrap();
    assert_eq!(
        n2.term(),
        Term(1),
        "a stale non-member does not raise our term"
    );
    assert_eq!(n2.metrics().votes_from_non_members, 1);

    n2.step(vote_request(4, 2, 5, LogId::new(Term(4), Index(9))))
        .unwrap();
    assert_eq!(n2.term(), Term(5));
    assert_eq!(n2.vote(), Some(NodeId(4)));
}
