//! The `raft_step` fuzz harness, shared by the property test `tests/fuzz_raft_step.rs` and the
//! cargo-fuzz target `fuzz/fuzz_targets/raft_step.rs` (which includes this file by path).
//!
//! [`run`] reads its input as a program: a few setup bytes choose the cluster's settings, then
//! every following byte picks an action against a live cluster of three voters (1, 2, 3) and a
//! node that may join (4): step a forged message (any sender, term, body; numbers chosen near the
//! target's own state so that many get past validation), deliver, duplicate, reorder or drop a
//! genuine message, tick, propose, persist a pending write, snapshot and compact, read, campaign,
//! transfer leadership, change the membership, report a snapshot or an unreachable peer, or
//! restart a node from what its store holds. After every action each node's Readies are taken
//! as the Ready contract says, and the harness checks:
//!
//! - no panic, no halt (the in-memory store never fails unless the core misuses it), every
//!   Ready is taken, written, acknowledged and applied without an error, and Readies run dry
//!   (no livelock);
//! - commit ≤ last log index, applied ≤ commit, persisted ≤ last log index, and the core's
//!   applied index is the one acknowledged;
//! - entries are handed out for applying once each, consecutively, after the restored snapshot;
//! - the durable term never decreases and the durable vote never changes within a term; the
//!   in-memory term and commit index never decrease between restarts; a node's outgoing messages
//!   come from it and are not addressed to it; the membership stays valid; a restart from the
//!   store always succeeds;
//! - while no forged message has been stepped: no two nodes apply different entries at one
//!   index, and no two nodes lead in one term.

#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use raft_core::sim::SimRng;
use raft_core::{
    AppendRequest, AppendResponse, ConfChange, ConfChangeStep, ConfTransition, Config, Entries,
    Entry, EntryPayload, ForwardedProposals, Heartbeat, HeartbeatResponse, Index, LogId,
    MemStorage, Membership, Message, MessageBody, NodeId, ProposalForwarding, Raft, ReadId,
    ReadIndexRequest, ReadIndexResponse, ReadMode, ReadyId, SnapshotMeta, SnapshotOffer,
    SnapshotStatus, Term, VoteRequest, VoteResponse, Write,
};

/// The most actions one input runs.
pub const MAX_ACTIONS: usize = 400;
/// The most Readies a node may produce in a row before it is considered stuck.
const MAX_READIES: usize = 1000;
/// The most messages kept in flight; older ones are dropped.
const MAX_IN_FLIGHT: usize = 512;
/// The most unpersisted writes a node may have when persistence is delayed.
const MAX_PENDING: usize = 64;
/// Nodes 1 to 3 are the initial voters; node 4 starts empty and may join.
const NODES: u64 = 4;

type Core = Raft<MemStorage, SimRng>;

/// Reads the fuzz input as a stream of choices; past its end every read gives zero.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// An input over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next byte.
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u8) -> u8 {
        self.byte() % n
    }

    /// A boolean.
    pub fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// Eight bytes, little-endian.
    pub fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.byte();
        }
        u64::from_le_bytes(b)
    }
}

/// A write taken from a Ready and not yet made durable.
struct Pending {
    id: ReadyId,
    write: Write,
    after: Vec<Message>,
}

/// One node of the cluster, with its store, its unpersisted writes and its state machine.
struct Node {
    id: NodeId,
    config: Config,
    raft: Core,
    pending: VecDeque<Pending>,
    /// The state machine's applied index (it survives restarts).
    applied: Index,
    /// The term of every entry applied (and of every snapshot restored), by index.
    applied_terms: BTreeMap<Index, Term>,
    /// In-memory term and commit seen last (reset by a restart).
    last_term: Term,
    last_commit: Index,
    /// Durable hard state seen last.
    durable_term: Term,
    durable_vote: Option<NodeId>,
    restarts: u64,
}

impl Node {
    fn new(config: Config, storage: MemStorage) -> Node {
        let id = config.id;
        let raft = Raft::new(config.clone(), storage, SimRng::new(id.0)).expect("valid node");
        Node {
            id,
            config,
            raft,
            pending: VecDeque::new(),
            applied: Index::ZERO,
            applied_terms: BTreeMap::new(),
            last_term: Term::ZERO,
            last_commit: Index::ZERO,
            durable_term: Term::ZERO,
            durable_vote: None,
            restarts: 0,
        }
    }

    /// Makes the oldest pending write durable and acknowledges it; returns its messages.
    fn persist_one(&mut self) -> Vec<Message> {
        let Some(p) = self.pending.pop_front() else {
            return Vec::new();
        };
        self.raft
            .storage_mut()
            .apply_write(&p.write)
            .unwrap_or_else(|gap| panic!("node {}: the core's write does not fit: {gap}", self.id));
        self.raft
            .ack_persisted(p.id)
            .unwrap_or_else(|e| panic!("node {}: ack_persisted: {e}", self.id));
        p.after
    }

    /// Takes every Ready. Returns the messages to send.
    fn drain(&mut self, auto_persist: bool) -> Vec<Message> {
        let mut out = Vec::new();
        for _ in 0..MAX_READIES {
            if !self.raft.has_ready() {
                break;
            }
            let rd = self
                .raft
                .ready()
                .unwrap_or_else(|e| panic!("node {}: ready: {e}", self.id));
            for m in rd.messages.iter().chain(&rd.messages_after_write) {
                assert_eq!(m.from, self.id, "node {} sends as another: {m:?}", self.id);
                assert_ne!(m.to, self.id, "node {} sends to itself: {m:?}", self.id);
            }
            out.extend(rd.messages);
            self.pending.push_back(Pending {
                id: rd.id,
                write: rd.write,
                after: rd.messages_after_write,
            });
            if let Some(r) = rd.apply.restore {
                assert!(
                    r.index >= self.applied,
                    "node {}: restore to {r:?} behind applied {:?}",
                    self.id,
                    self.applied
                );
                self.applied = r.index;
                self.applied_terms.insert(r.index, r.term);
            }
            for e in rd.apply.entries.iter() {
                assert_eq!(
                    e.index,
                    self.applied.next(),
                    "node {}: entries handed out out of order",
                    self.id
                );
                self.applied = e.index;
                self.applied_terms.insert(e.index, e.term);
            }
            if let Some(last) = rd.apply.last_index() {
                self.raft
                    .ack_applied(last)
                    .unwrap_or_else(|e| panic!("node {}: ack_applied({last:?}): {e}", self.id));
            }
            if auto_persist || self.pending.len() > MAX_PENDING {
                while !self.pending.is_empty() {
                    out.extend(self.persist_one());
                }
            }
        }
        assert!(
            !self.raft.has_ready(),
            "node {}: still has a Ready after {MAX_READIES}",
            self.id
        );
        out
    }

    /// Crashes the node (losing its unpersisted writes) and restarts it from its store.
    fn restart(&mut self) {
        let storage = self.raft.storage().clone();
        self.pending.clear();
        // A state machine behind the store's snapshot restores from it.
        if let Some(s) = storage.snapshot() {
            if s.last.index > self.applied {
                self.applied = s.last.index;
                self.applied_terms.insert(s.last.index, s.last.term);
            }
        }
        let mut config = self.config.clone();
        config.applied = self.applied;
        self.restarts += 1;
        self.raft = Raft::new(
            config,
            storage,
            SimRng::new(self.id.0 ^ (self.restarts << 32)),
        )
        .unwrap_or_else(|e| panic!("node {}: restart from its store failed: {e:?}", self.id));
        self.last_term = Term::ZERO;
        self.last_commit = Index::ZERO;
    }

    /// The node's own invariants.
    fn check(&mut self) {
        let r = &self.raft;
        let id = self.id;
        assert!(!r.is_halted(), "node {id} halted");
        let last = r.last_log_id().index;
        assert!(
            r.commit_index() <= last || r.log_start().index > last,
            "node {id}: commit {:?} beyond last {last:?}",
            r.commit_index()
        );
        assert!(
            r.applied_index() <= r.commit_index(),
            "node {id}: applied beyond commit"
        );
        assert_eq!(r.applied_index(), self.applied, "node {id}: applied index");
        assert!(
            r.persisted_index() <= last.max(r.log_start().index),
            "node {id}: persisted"
        );
        assert!(r.term() >= self.last_term, "node {id}: term went back");
        assert!(
            r.commit_index() >= self.last_commit,
            "node {id}: commit went back"
        );
        self.last_term = r.term();
        self.last_commit = r.commit_index();
        let hs = r.storage().hard_state();
        assert!(
            hs.term >= self.durable_term,
            "node {id}: durable term went back"
        );
        if hs.term == self.durable_term && self.durable_vote.is_some() {
            assert_eq!(
                hs.vote, self.durable_vote,
                "node {id}: voted twice in {:?}",
                hs.term
            );
        }
        self.durable_term = hs.term;
        self.durable_vote = hs.vote;
        assert!(
            r.membership().validate().is_ok(),
            "node {id}: invalid membership {:?}",
            r.membership()
        );
    }
}

/// The cluster, its network and what the input has done to it.
pub struct Cluster {
    nodes: Vec<Node>,
    network: VecDeque<Message>,
    auto_persist: bool,
    /// Whether a forged message has been stepped: cross-node checks stop then.
    forged: bool,
    /// Who led each term (only while nothing was forged).
    leaders: BTreeMap<Term, NodeId>,
}

impl Cluster {
    /// Three voters, a leader elected, some entries replicated, perhaps a snapshot taken and the
    /// logs compacted, with settings chosen by the input's first bytes.
    pub fn setup(input: &mut Input<'_>) -> Cluster {
        let flags = input.byte();
        let limits = input.byte();
        let voters = Membership::with_voters([NodeId(1), NodeId(2), NodeId(3)]);
        let nodes = (1..=NODES)
            .map(|i| {
                let mut c = Config::new(NodeId(i));
                c.election_ticks = 10;
                c.heartbeat_ticks = 1 + u32::from(flags >> 6 & 1) * 2;
                c.pre_vote = flags & 1 == 0;
                c.check_quorum = flags & 2 == 0;
                if c.check_quorum && flags & 4 != 0 {
                    c.read_mode = ReadMode::LeaseBased;
                }
                if flags & 8 != 0 {
                    c.proposal_forwarding = ProposalForwarding::Forward;
                }
                if limits & 1 != 0 {
                    c.max_received_entries = 4;
                }
                if limits & 2 != 0 {
                    c.max_append_entries = 2;
                }
                if limits & 4 != 0 {
                    c.max_inflight_msgs = 2;
                }
                if limits & 8 != 0 {
                    c.max_uncommitted_bytes = 64;
                }
                if limits & 16 != 0 {
                    c.max_apply_bytes = 8;
                }
                if limits & 32 != 0 {
                    c.max_forward_batch = 2;
                    c.max_pending_reads = 2;
                }
                let storage = if i <= 3 {
                    MemStorage::new(voters.clone())
                } else {
                    MemStorage::default()
                };
                Node::new(c, storage)
            })
            .collect();
        let mut cluster = Cluster {
            nodes,
            network: VecDeque::new(),
            auto_persist: true,
            forged: false,
            leaders: BTreeMap::new(),
        };
        let leader = usize::from(flags >> 4 & 3) % 3;
        let _ = cluster.nodes[leader].raft.campaign();
        cluster.settle();
        for i in 0..(limits >> 6) * 3 + 2 {
            let _ = cluster.nodes[leader].raft.propose(Bytes::from(vec![i; 3]));
        }
        cluster.settle();
        if flags & 0x80 != 0 {
            for n in 0..3 {
                cluster.snapshot(n);
            }
            let _ = cluster.nodes[leader]
                .raft
                .propose(Bytes::from_static(b"after"));
            cluster.settle();
        }
        cluster.check();
        cluster.auto_persist = input.byte() & 3 != 0;
        cluster
    }

    /// Delivers every message until the network is quiet (no ticks, so it gets quiet).
    fn settle(&mut self) {
        for _ in 0..10_000 {
            self.drain_all();
            let Some(m) = self.network.pop_front() else {
                return;
            };
            self.deliver(m);
        }
    }

    fn node_index(id: NodeId) -> Option<usize> {
        (1..=NODES).contains(&id.0).then(|| (id.0 - 1) as usize)
    }

    /// Steps a genuine message into its recipient.
    fn deliver(&mut self, m: Message) {
        let Some(to) = Cluster::node_index(m.to) else {
            return;
        };
        let from = m.from;
        let snapshot = matches!(m.body, MessageBody::InstallSnapshot(_));
        // A genuine message may still be refused (stale, unknown sender); never with a halt.
        let _ = self.nodes[to].raft.step(m);
        if snapshot {
            // The harness "streamed" the data; tell the sender it arrived.
            if let Some(f) = Cluster::node_index(from) {
                self.nodes[f]
                    .raft
                    .report_snapshot(NodeId(to as u64 + 1), SnapshotStatus::Delivered);
            }
        }
    }

    fn drain_all(&mut self) {
        for n in 0..self.nodes.len() {
            let out = self.nodes[n].drain(self.auto_persist);
            self.send(out);
        }
    }

    fn send(&mut self, msgs: Vec<Message>) {
        self.network.extend(msgs);
        while self.network.len() > MAX_IN_FLIGHT {
            self.network.pop_front();
        }
    }

    /// Takes a snapshot at the applied index and compacts as far as allowed.
    fn snapshot(&mut self, n: usize) {
        let node = &mut self.nodes[n];
        let _ = node.raft.snapshot_taken(node.applied);
        let out = node.drain(self.auto_persist);
        self.send(out);
        let node = &mut self.nodes[n];
        let to = node.raft.compactable_index();
        if tracing() {
            eprintln!("  snapshot at {:?}, compact to {to:?}", node.applied);
        }
        if node.raft.compact(to).is_ok() {
            node.raft.storage_mut().compact(to).unwrap_or_else(|e| {
                panic!("node {}: compact({to:?}) allowed but failed: {e}", node.id)
            });
        }
    }

    /// Every node's invariants, then the cross-node ones while nothing was forged.
    fn check(&mut self) {
        for n in &mut self.nodes {
            n.check();
        }
        if self.forged {
            return;
        }
        for n in &self.nodes {
            if n.raft.is_leader() {
                let term = n.raft.term();
                let first = *self.leaders.entry(term).or_insert(n.id);
                assert_eq!(first, n.id, "two leaders in {term:?}");
            }
        }
        for (i, a) in self.nodes.iter().enumerate() {
            for b in &self.nodes[i + 1..] {
                for (index, term) in &a.applied_terms {
                    if let Some(other) = b.applied_terms.get(index) {
                        assert_eq!(
                            term, other,
                            "nodes {} and {} applied different entries at {index:?}",
                            a.id, b.id
                        );
                    }
                }
            }
        }
    }

    /// Runs one action chosen by the input.
    pub fn act(&mut self, input: &mut Input<'_>) {
        let action = input.below(20);
        let n = usize::from(input.below(NODES as u8));
        if tracing() {
            self.trace(action, n);
        }
        match action {
            0..=3 => {
                let m = forge(input, &self.nodes[n].raft);
                if tracing() {
                    eprintln!("  forged: {m:?}");
                }
                self.forged = true;
                let _ = self.nodes[n].raft.step(m);
            }
            4..=7 => {
                if let Some(m) = self.network.pop_front() {
                    self.deliver(m);
                }
            }
            8 => {
                // Reorder, duplicate or drop a message anywhere in flight.
                if !self.network.is_empty() {
                    let at = usize::from(input.byte()) % self.network.len();
                    match input.below(3) {
                        0 => {
                            let m = self.network.remove(at).expect("in range");
                            self.deliver(m);
                        }
                        1 => {
                            let m = self.network[at].clone();
                            self.deliver(m);
                        }
                        _ => {
                            let m = self.network.remove(at).expect("in range");
                            if let (MessageBody::InstallSnapshot(_), Some(f)) =
                                (&m.body, Cluster::node_index(m.from))
                            {
                                self.nodes[f]
                                    .raft
                                    .report_snapshot(m.to, SnapshotStatus::Failed);
                            }
                        }
                    }
                }
            }
            9 => {
                for node in &mut self.nodes {
                    node.raft.tick();
                }
            }
            10 => {
                for _ in 0..=input.below(4) {
                    self.nodes[n].raft.tick();
                }
            }
            11 => {
                let len = usize::from(input.below(8));
                let _ = self.nodes[n]
                    .raft
                    .propose(Bytes::from(vec![input.byte(); len]));
            }
            12 => {
                let out = self.nodes[n].persist_one();
                self.send(out);
            }
            13 => self.snapshot(n),
            14 => {
                let _ = self.nodes[n]
                    .raft
                    .read_index(ReadId(u64::from(input.byte())));
            }
            15 => {
                let _ = self.nodes[n].raft.campaign();
            }
            16 => {
                let to = NodeId(u64::from(input.below(6)));
                let _ = self.nodes[n].raft.transfer_leader(to);
            }
            17 => {
                let change = conf_change(input);
                let _ = self.nodes[n].raft.propose_conf_change(change);
            }
            18 => {
                let peer = NodeId(u64::from(input.below(6)));
                match input.below(3) {
                    0 => self.nodes[n].raft.report_unreachable(peer),
                    1 => self.nodes[n]
                        .raft
                        .report_snapshot(peer, SnapshotStatus::Delivered),
                    _ => self.nodes[n]
                        .raft
                        .report_snapshot(peer, SnapshotStatus::Failed),
                }
            }
            _ => self.nodes[n].restart(),
        }
        self.drain_all();
        self.check();
    }
}

/// Whether to print every action and the nodes' states (`RAFT_STEP_TRACE=1`), to debug a
/// failing input.
fn tracing() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("RAFT_STEP_TRACE").is_some())
}

impl Cluster {
    fn trace(&self, action: u8, n: usize) {
        eprintln!("action {action} on node {}", n + 1);
        for node in &self.nodes {
            let r = &node.raft;
            eprintln!(
                "  n{}: {:?} term {:?} vote {:?} last {:?} start {:?} commit {:?} applied {:?} \
                 persisted {:?} pending {} durable {:?} stored-snapshot {:?}",
                node.id.0,
                r.role(),
                r.term(),
                r.vote(),
                r.last_log_id(),
                r.log_start(),
                r.commit_index(),
                r.applied_index(),
                r.persisted_index(),
                node.pending.len(),
                r.storage().hard_state(),
                r.storage().snapshot().map(|s| s.last),
            );
        }
        if let Some(m) = self.network.front() {
            eprintln!("  next message: {m:?}");
        }
    }
}

/// Runs the harness on one input; panics on any violation.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let mut cluster = Cluster::setup(&mut input);
    let mut actions = 0;
    while !input.is_empty() && actions < MAX_ACTIONS {
        cluster.act(&mut input);
        actions += 1;
    }
}

// ----- forged messages ----------------------------------------------------------------------

/// A term near the node's own, or an extreme one.
fn term(input: &mut Input<'_>, r: &Core) -> Term {
    let t = r.term().0;
    Term(match input.below(8) {
        0 | 1 => t,
        2 => t.saturating_add(1),
        3 => t.saturating_sub(1),
        4 => t.saturating_add(2),
        5 => 0,
        6 => u64::MAX,
        _ => input.u64(),
    })
}

/// An index near the node's log or commit index, or an extreme one.
fn index(input: &mut Input<'_>, r: &Core) -> Index {
    let last = r.last_log_id().index.0;
    let commit = r.commit_index().0;
    Index(match input.below(11) {
        0 | 1 => last,
        2 => last.saturating_add(1),
        3 => last.saturating_sub(1),
        4 => commit,
        5 => commit.saturating_add(1),
        6 => r.log_start().index.0,
        7 => 0,
        8 => u64::MAX,
        9 => u64::from(input.byte()),
        _ => input.u64(),
    })
}

/// A log position: often one the node holds (so that it matches), sometimes not.
fn log_id(input: &mut Input<'_>, r: &Core) -> LogId {
    let i = index(input, r);
    let t = match (input.bool(), r.log_term(i)) {
        (true, Ok(Some(t))) => t,
        _ => term(input, r),
    };
    LogId::new(t, i)
}

fn node_id(input: &mut Input<'_>) -> NodeId {
    match input.below(8) {
        7 => NodeId(input.u64()),
        n => NodeId(u64::from(n % 6)),
    }
}

/// A membership: valid ones, and arbitrary lists decoded as the transport would decode them
/// (possibly unsorted, duplicated, overlapping, empty).
fn membership(input: &mut Input<'_>) -> Membership {
    let ids = |input: &mut Input<'_>| -> Vec<NodeId> {
        (0..input.below(4))
            .map(|_| NodeId(u64::from(input.below(6))))
            .collect()
    };
    match input.below(3) {
        0 => Membership::with_voters(ids(input)),
        1 => {
            let v = ids(input);
            Membership::with_voters_and_learners(v, ids(input))
        }
        _ => {
            // postcard: four length-prefixed lists of one-byte varints, then a bool.
            let mut raw = Vec::new();
            for _ in 0..4 {
                let list = ids(input);
                raw.push(list.len() as u8);
                raw.extend(list.iter().map(|id| id.0 as u8));
            }
            raw.push(input.below(2));
            postcard::from_bytes(&raw).expect("a well-formed membership encoding")
        }
    }
}

fn conf_change(input: &mut Input<'_>) -> ConfChange {
    let step = |input: &mut Input<'_>| {
        let id = NodeId(u64::from(input.below(6)));
        match input.below(3) {
            0 => ConfChangeStep::AddVoter(id),
            1 => ConfChangeStep::AddLearner(id),
            _ => ConfChangeStep::RemoveNode(id),
        }
    };
    match input.below(5) {
        0 | 1 => ConfChange::single(step(input)),
        2 => ConfChange::Change {
            steps: (0..input.below(4)).map(|_| step(input)).collect(),
            transition: match input.below(3) {
                0 => ConfTransition::Auto,
                1 => ConfTransition::JointAutoLeave,
                _ => ConfTransition::JointExplicitLeave,
            },
        },
        3 => ConfChange::LeaveJoint,
        _ => ConfChange::Bootstrap(membership(input)),
    }
}

fn payload(input: &mut Input<'_>) -> EntryPayload {
    match input.below(4) {
        0 => EntryPayload::Blank,
        1 => EntryPayload::Membership(conf_change(input)),
        _ => EntryPayload::Command(Bytes::from(vec![input.byte(); usize::from(input.below(6))])),
    }
}

/// Entries after `prev`: usually consecutive with non-decreasing terms up to `term`.
fn entries(input: &mut Input<'_>, r: &Core, prev: LogId, term: Term) -> Entries {
    let count = input.below(7);
    let consecutive = input.below(4) != 0;
    let mut t = prev.term;
    let mut es = Vec::new();
    for k in 0..u64::from(count) {
        let (i, et) = if consecutive {
            if input.below(3) == 0 {
                t = Term(t.0.saturating_add(1)).min(term).max(t);
            }
            (prev.index.plus(k + 1), t)
        } else {
            (index(input, r), Term(u64::from(input.byte())))
        };
        let payload = payload(input);
        es.push(Entry {
            term: et,
            index: i,
            payload,
        });
    }
    Entries::from(es)
}

/// A message to `r` (usually), from anyone, in a term near `r`'s, with any body.
fn forge(input: &mut Input<'_>, r: &Core) -> Message {
    let from = node_id(input);
    let to = if input.below(8) == 0 {
        node_id(input)
    } else {
        r.id()
    };
    let term = term(input, r);
    let body = match input.below(15) {
        0 => MessageBody::PreVote(VoteRequest {
            last_log: log_id(input, r),
            leader_transfer: input.bool(),
        }),
        1 => MessageBody::Vote(VoteRequest {
            last_log: log_id(input, r),
            leader_transfer: input.bool(),
        }),
        2 => MessageBody::PreVoteResponse(VoteResponse {
            granted: input.bool(),
            commit: log_id(input, r),
        }),
        3 => MessageBody::VoteResponse(VoteResponse {
            granted: input.bool(),
            commit: log_id(input, r),
        }),
        4 | 5 => {
            let prev = log_id(input, r);
            MessageBody::Append(AppendRequest {
                prev,
                entries: entries(input, r, prev, term),
                commit: index(input, r),
            })
        }
        6 => MessageBody::AppendResponse(AppendResponse::Accepted {
            match_index: index(input, r),
        }),
        7 => MessageBody::AppendResponse(AppendResponse::Rejected {
            rejected: index(input, r),
            hint: log_id(input, r),
        }),
        8 => MessageBody::Heartbeat(Heartbeat {
            commit: index(input, r),
            read_round: u64::from(input.byte()),
        }),
        9 => MessageBody::HeartbeatResponse(HeartbeatResponse {
            read_round: u64::from(input.byte()),
        }),
        10 => MessageBody::InstallSnapshot(SnapshotOffer {
            meta: SnapshotMeta {
                last: log_id(input, r),
                membership: membership(input),
            },
        }),
        11 => MessageBody::TimeoutNow,
        12 => MessageBody::ReadIndex(ReadIndexRequest {
            request_id: u64::from(input.byte()),
        }),
        13 => MessageBody::ReadIndexResponse(ReadIndexResponse {
            request_id: u64::from(input.byte()),
            read_index: input.bool().then(|| index(input, r)),
        }),
        _ => MessageBody::Propose(ForwardedProposals {
            commands: (0..input.below(5))
                .map(|i| Bytes::from(vec![i; usize::from(input.below(4))]))
                .collect(),
        }),
    };
    Message {
        from,
        to,
        term,
        body,
    }
}
