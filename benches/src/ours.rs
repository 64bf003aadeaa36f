//! The workloads on `raft-core`.

use bytes::Bytes;
use raft_core::sim::SimRng;
use raft_core::{
    AppendRequest, Config, Entry, EntryPayload, Index, LogId, MemStorage, Membership, Message,
    MessageBody, NodeId, Raft, Role, Term,
};

use crate::{BATCH, N};

type Node = Raft<MemStorage, SimRng>;

fn config(id: u64) -> Config {
    let mut c = Config::new(NodeId(id));
    c.election_ticks = 10;
    c.heartbeat_ticks = 1;
    c.pre_vote = true;
    c.check_quorum = true;
    c.max_append_bytes = 1 << 20;
    c.max_inflight_msgs = 256;
    c.max_uncommitted_bytes = u64::MAX / 2;
    c
}

fn node(id: u64, voters: &[u64]) -> Node {
    let storage = MemStorage::new(Membership::with_voters(voters.iter().map(|&v| NodeId(v))));
    Raft::new(config(id), storage, SimRng::new(id)).expect("valid configuration")
}

/// Takes one Ready: persists it, applies it, acknowledges it; returns its messages and the
/// number of commands applied.
fn handle(n: &mut Node, out: &mut Vec<Message>) -> usize {
    let rd = n.ready().expect("in-memory storage does not fail");
    out.extend(rd.messages);
    n.storage_mut().apply_write(&rd.write).expect("writes fit");
    out.extend(rd.messages_after_write);
    n.ack_persisted(rd.id).expect("known ready");
    let applied = rd
        .apply
        .entries
        .iter()
        .filter(|e| matches!(e.payload, EntryPayload::Command(_)))
        .count();
    if let Some(last) = rd.apply.last_index() {
        n.ack_applied(last).expect("handed out");
    }
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

    /// One round: each node in id order takes its Ready (if any); its messages are delivered at
    /// once.
    fn round(&mut self) {
        for i in 0..3 {
            if !self.nodes[i].has_ready() {
                continue;
            }
            self.applied[i] += handle(&mut self.nodes[i], &mut self.msgs);
            for m in self.msgs.drain(..) {
                let to = (m.to.0 - 1) as usize;
                let _ = self.nodes[to].step(m);
            }
        }
    }

    /// W4: campaign on node 1 and run rounds until it leads. Returns the rounds it took.
    pub fn elect(&mut self) -> usize {
        self.nodes[0].campaign().expect("voter");
        let mut rounds = 0;
        while self.nodes[0].role() != Role::Leader {
            self.round();
            rounds += 1;
            assert!(rounds < 100, "no leader");
        }
        // Let the blank entry commit everywhere, so W1 measures only its own entries.
        for _ in 0..4 {
            self.round();
        }
        rounds
    }

    /// W1: propose batches of 64 and run one round after each, until every entry is applied on
    /// all three nodes.
    pub fn commit_all(&mut self, mut payloads: Vec<Bytes>) -> usize {
        let n = payloads.len();
        let mut it = payloads.drain(..);
        loop {
            let mut proposed = 0;
            for p in it.by_ref().take(BATCH) {
                self.nodes[0].propose(p).expect("leader accepts");
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

/// W1 payloads as `Bytes`.
#[must_use]
pub fn payload_bytes(n: usize) -> Vec<Bytes> {
    crate::payloads(n).into_iter().map(Bytes::from).collect()
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
        let mut payloads = payload_bytes(N).into_iter();
        let mut appends = Vec::with_capacity(N / BATCH);
        let mut prev = LogId::new(Term(1), Index(1));
        let mut commit = Index(1);
        while payloads.len() > 0 {
            let entries: raft_core::Entries = payloads
                .by_ref()
                .take(BATCH)
                .enumerate()
                .map(|(k, p)| Entry {
                    term: Term(2),
                    index: prev.index.plus(k as u64 + 1),
                    payload: EntryPayload::Command(p),
                })
                .collect();
            let last = entries.last().map(Entry::log_id).expect("non-empty batch");
            appends.push(Message {
                from: NodeId(2),
                to: NodeId(1),
                term: Term(2),
                body: MessageBody::Append(AppendRequest {
                    prev,
                    entries,
                    commit,
                }),
            });
            commit = prev.index;
            prev = last;
        }
        Follower {
            node: node(1, &[1, 2, 3]),
            appends,
        }
    }

    /// Steps every append, persisting, answering and applying after each. Returns the entries
    /// applied.
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
    /// A leader of a cluster of one, its blank entry applied.
    #[must_use]
    pub fn new() -> Single {
        let mut node = node(1, &[1]);
        node.campaign().expect("voter");
        let mut out = Vec::new();
        while node.has_ready() {
            handle(&mut node, &mut out);
        }
        assert!(node.is_leader());
        Single { node }
    }

    /// Proposes 64 entries per Ready until all are applied. Returns the entries applied.
    pub fn run(mut self, mut payloads: Vec<Bytes>) -> usize {
        let n = payloads.len();
        let mut it = payloads.drain(..);
        let mut out = Vec::new();
        let mut applied = 0;
        while applied < n {
            for p in it.by_ref().take(BATCH) {
                self.node.propose(p).expect("leader accepts");
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
