//! The same workloads on tikv/raft-rs 0.7 (`batch_append = true`, `max_size_per_msg` 1 MiB,
//! pre-vote and check-quorum on as in `ours`), with its in-memory `MemStorage` and a discarding
//! logger.

use raft::prelude::{ConfState, Entry, EntryType, Message, MessageType};
use raft::storage::MemStorage;
use raft::{Config, RawNode, StateRole};
use slog::{Discard, Logger, o};

use crate::{BATCH, N};

type Node = RawNode<MemStorage>;

fn node(id: u64, voters: &[u64]) -> Node {
    let cfg = Config {
        id,
        election_tick: 10,
        heartbeat_tick: 1,
        max_size_per_msg: 1 << 20,
        max_inflight_msgs: 256,
        pre_vote: true,
        check_quorum: true,
        batch_append: true,
        ..Config::default()
    };
    let storage = MemStorage::new_with_conf_state(ConfState::from((voters.to_vec(), vec![])));
    let logger = Logger::root(Discard, o!());
    RawNode::new(&cfg, storage, &logger).expect("valid configuration")
}

fn count_applied(entries: &[Entry]) -> usize {
    entries
        .iter()
        .filter(|e| e.get_entry_type() == EntryType::EntryNormal && !e.data.is_empty())
        .count()
}

/// Takes one Ready: persists it, applies it, advances; returns its messages and the number of
/// commands applied.
fn handle(n: &mut Node, out: &mut Vec<Message>) -> usize {
    let mut rd = n.ready();
    out.extend(rd.take_messages());
    let store = n.store().clone();
    if !rd.snapshot().is_empty() {
        store
            .wl()
            .apply_snapshot(rd.snapshot().clone())
            .expect("snapshot applies");
    }
    let mut applied = count_applied(rd.committed_entries());
    if !rd.entries().is_empty() {
        store.wl().append(rd.entries()).expect("append");
    }
    if let Some(hs) = rd.hs() {
        store.wl().set_hardstate(hs.clone());
    }
    out.extend(rd.take_persisted_messages());
    let mut light = n.advance(rd);
    if let Some(commit) = light.commit_index() {
        store.wl().mut_hard_state().set_commit(commit);
    }
    out.extend(light.take_messages());
    applied += count_applied(light.committed_entries());
    n.advance_apply();
    applied
}

/// A three-voter cluster in memory.
pub struct Cluster {
    nodes: Vec<Node>,
    applied: [usize; 3],
    msgs: Vec<Message>,
}

impl Cluster {
    /// A fresh cluster, no leader yet.
    #[must_use]
    pub fn new() -> Cluster {
        Cluster {
            nodes: (1..=3).map(|id| node(id, &[1, 2, 3])).collect(),
            applied: [0; 3],
            msgs: Vec::new(),
        }
    }

    fn round(&mut self) {
        for i in 0..3 {
            if !self.nodes[i].has_ready() {
                continue;
            }
            self.applied[i] += handle(&mut self.nodes[i], &mut self.msgs);
            for m in self.msgs.drain(..) {
                let to = (m.to - 1) as usize;
                let _ = self.nodes[to].step(m);
            }
        }
    }

    /// W4: campaign on node 1 and run rounds until it leads.
    pub fn elect(&mut self) -> usize {
        self.nodes[0].campaign().expect("voter");
        let mut rounds = 0;
        while self.nodes[0].raft.state != StateRole::Leader {
            self.round();
            rounds += 1;
            assert!(rounds < 100, "no leader");
        }
        for _ in 0..4 {
            self.round();
        }
        rounds
    }

    /// W1: propose batches of 64 and run one round after each, until every entry is applied on
    /// all three nodes.
    pub fn commit_all(&mut self, mut payloads: Vec<Vec<u8>>) -> usize {
        let n = payloads.len();
        let mut it = payloads.drain(..);
        loop {
            let mut proposed = 0;
            for p in it.by_ref().take(BATCH) {
                self.nodes[0].propose(vec![], p).expect("leader accepts");
                proposed += 1;
            }
            self.round();
            if proposed == 0 && self.applied.iter().all(|a| *a >= n) {
                return n;
            }
        }
    }
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster::new()
    }
}

/// W2: a follower and the appends it will receive.
pub struct Follower {
    node: Node,
    appends: Vec<Message>,
}

impl Follower {
    /// Node 1 of {1, 2, 3} and `N / 64` appends from leader 2 in term 2, each carrying the
    /// previous batch's last index as the commit index.
    #[must_use]
    pub fn new() -> Follower {
        let mut payloads = crate::payloads(N).into_iter();
        let mut appends = Vec::with_capacity(N / BATCH);
        let (mut prev_index, mut prev_term, mut commit) = (0u64, 0u64, 0u64);
        while payloads.len() > 0 {
            let entries: Vec<Entry> = payloads
                .by_ref()
                .take(BATCH)
                .enumerate()
                .map(|(k, p)| Entry {
                    term: 2,
                    index: prev_index + k as u64 + 1,
                    data: p.into(),
                    ..Entry::default()
                })
                .collect();
            let last = entries.last().map(|e| e.index).expect("non-empty batch");
            let mut m = Message::default();
            m.set_msg_type(MessageType::MsgAppend);
            m.from = 2;
            m.to = 1;
            m.term = 2;
            m.index = prev_index;
            m.log_term = prev_term;
            m.commit = commit;
            m.set_entries(entries.into());
            appends.push(m);
            commit = prev_index;
            prev_index = last;
            prev_term = 2;
        }
        Follower {
            node: node(1, &[1, 2, 3]),
            appends,
        }
    }

    /// Steps every append, persisting, answering and applying after each.
    pub fn run(mut self) -> usize {
        let mut out = Vec::new();
        let mut applied = 0;
        for m in self.appends {
            self.node.step(m).expect("valid append");
            while self.node.has_ready() {
                applied += handle(&mut self.node, &mut out);
                out.clear();
            }
        }
        applied
    }
}

impl Default for Follower {
    fn default() -> Self {
        Follower::new()
    }
}

/// W3: a single-voter cluster, already leading.
pub struct Single {
    node: Node,
}

impl Single {
    /// A leader of a cluster of one.
    #[must_use]
    pub fn new() -> Single {
        let mut node = node(1, &[1]);
        node.campaign().expect("voter");
        let mut out = Vec::new();
        while node.has_ready() {
            handle(&mut node, &mut out);
        }
        assert_eq!(node.raft.state, StateRole::Leader);
        Single { node }
    }

    /// Proposes 64 entries per Ready until all are applied.
    pub fn run(mut self, mut payloads: Vec<Vec<u8>>) -> usize {
        let n = payloads.len();
        let mut it = payloads.drain(..);
        let mut out = Vec::new();
        let mut applied = 0;
        while applied < n {
            for p in it.by_ref().take(BATCH) {
                self.node.propose(vec![], p).expect("leader accepts");
            }
            while self.node.has_ready() {
                applied += handle(&mut self.node, &mut out);
            }
        }
        applied
    }
}

impl Default for Single {
    fn default() -> Self {
        Single::new()
    }
}
