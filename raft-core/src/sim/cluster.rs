//! The simulation loop: ticks, message delivery, IO completion, the simulated clients, and the
//! fault schedule.

use std::collections::BTreeMap;
use std::format;
use std::rc::Rc;
use std::string::String;
use std::vec;
use std::vec::Vec;

use bytes::Bytes;

use super::checker::Checker;
use super::network::{Network, NetworkFaults, Sent};
use super::node::{InFlightWrite, SimNode};
use super::rng::SimRng;
use super::state::payload_digest;
use super::{FaultCounts, SimConfig, SimReport};
use crate::config::Config;
use crate::membership::{ConfChange, ConfChangeStep, ConfTransition, Membership};
use crate::message::{Message, MessageBody};
use crate::raft::{Proposed, SnapshotStatus};
use crate::read::ReadId;
use crate::ready::Role;
use crate::storage::{MemStorage, bootstrap_write};
use crate::types::{Index, LogId, NodeId};

/// A read in progress: who asked, and the newest write acknowledged before it began.
struct ReadRecord {
    node: NodeId,
    min_index: Index,
}

pub(crate) struct Cluster {
    cfg: SimConfig,
    rng: SimRng,
    now: u64,
    nodes: Vec<SimNode>,
    net: Network,
    checker: Checker,
    next_command: u64,
    /// Proposals appended on a leader, by node: (position, command id).
    proposals: BTreeMap<NodeId, Vec<(LogId, u64)>>,
    /// The highest index of a write acknowledged so far.
    max_acked: Index,
    acked: u64,
    proposed: u64,
    reads: BTreeMap<u64, ReadRecord>,
    next_read: u64,
    reads_ok: u64,
    reads_failed: u64,
    faults: FaultCounts,
    heal_at: Option<u64>,
    trace: Option<Vec<String>>,
    /// The command whose acknowledgement ends the liveness phase.
    barrier: Option<(NodeId, LogId)>,
    barrier_acked: Option<Index>,
}

impl Cluster {
    pub(crate) fn new(cfg: &SimConfig) -> Cluster {
        let mut rng = SimRng::new(cfg.seed);
        let voters: Vec<NodeId> = (1..=cfg.initial_voters as u64).map(NodeId).collect();
        let nodes = (1..=cfg.nodes as u64)
            .map(|i| {
                let id = NodeId(i);
                let storage = MemStorage::default();
                let mut config = Config::new(id);
                config.election_ticks = cfg.election_ticks;
                config.heartbeat_ticks = cfg.heartbeat_ticks;
                config.pre_vote = cfg.pre_vote;
                config.check_quorum = cfg.check_quorum;
                config.read_mode = cfg.read_mode;
                config.proposal_forwarding = cfg.forwarding;
                config.max_inflight_msgs = cfg.max_inflight_msgs;
                config.max_append_entries = cfg.max_append_entries;
                config.max_log_cache_bytes = cfg.max_log_cache_bytes;
                config.max_apply_bytes = cfg.max_apply_bytes;
                config.max_uncommitted_bytes = cfg.max_uncommitted_bytes;
                let durable_state = rng.chance(0.5);
                SimNode::new(id, config, storage, durable_state, rng.fork())
            })
            .collect();
        let mut cluster = Cluster {
            cfg: *cfg,
            net: Network::new(cfg.network),
            rng,
            now: 0,
            nodes,
            checker: Checker::default(),
            next_command: 0,
            proposals: BTreeMap::new(),
            max_acked: Index::ZERO,
            acked: 0,
            proposed: 0,
            reads: BTreeMap::new(),
            next_read: 0,
            reads_ok: 0,
            reads_failed: 0,
            faults: FaultCounts::default(),
            heal_at: None,
            trace: cfg.trace.then(Vec::new),
            barrier: None,
            barrier_acked: None,
        };
        // Bootstrap the initial voters' stores through the same path as every other write, so that
        // the checker sees the first entry too.
        let bootstrap = bootstrap_write(Membership::with_voters(voters.iter().copied()));
        for i in 0..voters.len() {
            let node = &mut cluster.nodes[i];
            let checker = &cluster.checker;
            match node.persist(&bootstrap, |p| checker.prefix(p)) {
                Ok(written) => {
                    for (pos, digest) in written {
                        cluster.checker.on_durable_entry(0, node.id, pos, digest);
                    }
                }
                Err(e) => cluster.checker.violation_at(0, format!("bootstrap: {e}")),
            }
        }
        for i in 0..cluster.nodes.len() {
            cluster.start_node(i);
        }
        cluster
    }

    fn trace(&mut self, line: impl FnOnce() -> String) {
        if let Some(t) = &mut self.trace {
            t.push(format!("[{:>6}] {}", self.now, line()));
        }
    }

    fn start_node(&mut self, i: usize) {
        if let Err(e) = self.nodes[i].start() {
            let id = self.nodes[i].id;
            self.checker
                .violation_at(self.now, format!("{id:?} cannot restart: {e}"));
        }
    }

    /// Runs the whole scenario and reports.
    pub(crate) fn run(mut self) -> SimReport {
        for _ in 0..self.cfg.chaos_ticks {
            self.step(true);
            if !self.checker.violations.is_empty() {
                return self.report();
            }
        }
        self.calm();
        // Bounded liveness: a fixed allowance, plus time to replicate the backlog the faults left
        // (a configuration of one-entry appends under reordering moves about one entry a tick).
        let backlog = self.backlog();
        let bound = self.cfg.liveness_ticks + 4 * backlog;
        let mut settled = false;
        for _ in 0..bound {
            self.step(false);
            if !self.checker.violations.is_empty() {
                return self.report();
            }
            if self.settled() {
                settled = true;
                break;
            }
        }
        if !settled {
            let detail = self.liveness_detail();
            self.checker.violation_at(
                self.now,
                format!("liveness: not settled {bound} ticks after the faults stopped (backlog {backlog}): {detail}"),
            );
        }
        self.report()
    }

    fn report(self) -> SimReport {
        SimReport {
            seed: self.cfg.seed,
            ticks: self.now,
            messages: self.net.sent,
            messages_dropped: self.net.dropped,
            messages_duplicated: self.net.duplicated,
            proposals: self.proposed,
            acknowledged: self.acked,
            committed: self.checker.committed_len().saturating_sub(1) as u64,
            reads_ok: self.reads_ok,
            reads_failed: self.reads_failed,
            faults: self.faults,
            violations: self.checker.violations,
            trace: self.trace.unwrap_or_default(),
        }
    }

    /// One tick of simulated time.
    fn step(&mut self, chaos: bool) {
        self.now += 1;
        if chaos {
            self.inject_faults();
        }
        for i in 0..self.nodes.len() {
            if self.nodes[i].down_until.is_some_and(|t| t <= self.now) {
                let id = self.nodes[i].id;
                self.trace(|| format!("{id:?} restarts"));
                self.start_node(i);
            }
        }
        self.clients(chaos);
        let mut order: Vec<usize> = (0..self.nodes.len()).collect();
        for k in (1..order.len()).rev() {
            let j = self.rng.below(k as u64 + 1) as usize;
            order.swap(k, j);
        }
        for &i in &order {
            if let Some(r) = &mut self.nodes[i].raft {
                r.tick();
            }
        }
        self.deliver();
        self.process();
        self.check();
    }

    /// Hands every due message to its node.
    fn deliver(&mut self) {
        let due = self.net.take_due(&mut self.rng, self.now);
        for (env, lost) in due {
            let to = idx(env.msg.to);
            let from = idx(env.msg.from);
            let up = to < self.nodes.len() && self.nodes[to].is_up();
            let is_snapshot = matches!(env.msg.body, MessageBody::InstallSnapshot(_));
            if lost || !up {
                if is_snapshot {
                    if let Some(r) = self.nodes.get_mut(from).and_then(|n| n.raft.as_mut()) {
                        r.report_snapshot(env.msg.to, SnapshotStatus::Failed);
                    }
                }
                continue;
            }
            if let (MessageBody::InstallSnapshot(offer), Some(data)) =
                (&env.msg.body, &env.snapshot)
            {
                self.nodes[to]
                    .received
                    .insert(key(offer.meta.last), Rc::clone(data));
                if let Some(r) = self.nodes.get_mut(from).and_then(|n| n.raft.as_mut()) {
                    r.report_snapshot(env.msg.to, SnapshotStatus::Delivered);
                }
            }
            let msg = env.msg;
            if self.trace.is_some() {
                let line = describe(&msg);
                self.trace(|| line);
            }
            let raft = self.nodes[to].raft.as_mut().expect("checked up");
            if let Err(e) = raft.step(msg) {
                // Malformed messages cannot come from correct peers; storage errors cannot
                // happen in memory. Either is a bug.
                let id = self.nodes[to].id;
                self.checker
                    .violation_at(self.now, format!("{id:?} rejected a message: {e}"));
            }
        }
    }

    /// Takes Readies and completes due writes until the cluster is quiet for this tick.
    fn process(&mut self) {
        for _ in 0..64 {
            let mut busy = false;
            for i in 0..self.nodes.len() {
                busy |= self.handle_readies(i);
                busy |= self.complete_writes(i);
                busy |= self.complete_applies(i);
            }
            if !busy {
                break;
            }
        }
    }

    fn handle_readies(&mut self, i: usize) -> bool {
        let mut any = false;
        let mut rounds = 0u32;
        while self.nodes[i].raft.as_ref().is_some_and(|r| r.has_ready()) {
            any = true;
            rounds += 1;
            let node = &mut self.nodes[i];
            let id = node.id;
            let raft = node.raft.as_mut().expect("checked up");
            let rd = match raft.ready() {
                Ok(rd) => rd,
                Err(e) => {
                    self.checker
                        .violation_at(self.now, format!("{id:?} ready failed: {e}"));
                    return false;
                }
            };
            if rounds > 100_000 {
                let why = self.nodes[i]
                    .raft
                    .as_ref()
                    .map(|r| r.ready_reasons())
                    .unwrap_or_default();
                self.checker.violation_at(
                    self.now,
                    format!("{id:?}: Readies never end: {why}; last {rd:?}"),
                );
                return false;
            }
            if rd.is_empty() {
                // `has_ready` promised work that `ready` did not produce: it would spin forever.
                let why = self.nodes[i]
                    .raft
                    .as_ref()
                    .map(|r| r.ready_reasons())
                    .unwrap_or_default();
                self.checker
                    .violation_at(self.now, format!("{id:?}: has_ready without work: {why}"));
                return false;
            }
            if let Some(state) = rd.state {
                self.trace(|| {
                    format!(
                        "{id:?} is {:?} in {:?}, leader {:?}",
                        state.role, state.term, state.leader
                    )
                });
                if state.role == Role::Leader {
                    self.check_new_leader(i);
                }
            }
            for m in rd.messages {
                self.send(i, m);
            }
            let delay = self.rng.below(self.cfg.max_write_delay_ticks + 1);
            let node = &mut self.nodes[i];
            if !rd.write.is_empty() || !rd.messages_after_write.is_empty() {
                let after_last = node.writes.back().map_or(0, |w| w.complete_at);
                node.writes.push_back(InFlightWrite {
                    id: rd.id,
                    write: rd.write,
                    after: rd.messages_after_write,
                    complete_at: (self.now + delay).max(after_last),
                });
            }
            if !rd.apply.is_empty() {
                // Applying runs apart from persistence, and may lag behind it.
                let delay = self.rng.below(self.cfg.max_apply_delay_ticks + 1);
                let node = &mut self.nodes[i];
                let after_last = node.applies.back().map_or(0, |a| a.0);
                node.applies.push_back((
                    (self.now + delay).max(after_last),
                    rd.apply.restore,
                    rd.apply.entries,
                ));
            }
            for r in rd.reads {
                let Some(rec) = self.reads.get(&r.id.0) else {
                    continue;
                };
                match r.result {
                    Ok(index) => {
                        if index < rec.min_index {
                            let (node, min) = (rec.node, rec.min_index);
                            self.checker.violation_at(
                                self.now,
                                format!("read on {node:?} got index {index:?}, below acknowledged write {min:?}"),
                            );
                        }
                        self.nodes[i].reads_waiting.push((r.id.0, index));
                    }
                    Err(_) => {
                        self.reads.remove(&r.id.0);
                        self.reads_failed += 1;
                    }
                }
            }
            self.serve_reads(i);
        }
        any
    }

    fn serve_reads(&mut self, i: usize) {
        let applied = self.nodes[i].state.applied;
        let mut served = Vec::new();
        self.nodes[i].reads_waiting.retain(|(r, index)| {
            if *index <= applied {
                served.push(*r);
                false
            } else {
                true
            }
        });
        for r in served {
            if let Some(rec) = self.reads.remove(&r) {
                if applied < rec.min_index {
                    self.checker
                        .violation_at(self.now, format!("stale read on {:?}", rec.node));
                }
                self.reads_ok += 1;
            }
        }
    }

    /// Applies what a Ready hands out and acknowledges it.
    fn apply(&mut self, i: usize, restore: Option<LogId>, entries: crate::Entries) {
        let now = self.now;
        let node = &mut self.nodes[i];
        let id = node.id;
        if let Some(to) = restore {
            match node.snapshot_data(to) {
                Some(data) => {
                    node.state = (*data).clone();
                    self.checker.on_state(now, id, to.index, node.state.digest);
                }
                _ => {
                    self.checker.violation_at(
                        now,
                        format!("{id:?} asked to restore {to:?} it does not hold"),
                    );
                    return;
                }
            }
            self.proposals.remove(&id);
        }
        let mut acked = Vec::new();
        for e in &entries {
            if e.index != node.state.applied.next() {
                self.checker.violation_at(
                    now,
                    format!(
                        "{id:?} applies {:?} after {:?}",
                        e.index, node.state.applied
                    ),
                );
                return;
            }
            node.state.apply(e);
            self.checker
                .on_apply(now, id, e.index, payload_digest(e), node.state.digest);
            if let Some(list) = self.proposals.get_mut(&id) {
                list.retain(|(pos, cmd)| {
                    if pos.index != e.index {
                        return true;
                    }
                    if pos.term == e.term {
                        if super::state::command_id(e) != Some(*cmd) {
                            acked.push(None);
                        } else {
                            acked.push(Some(e.index));
                        }
                    }
                    false
                });
            }
        }
        let last = entries.last().map(|e| e.index).or(restore.map(|r| r.index));
        if let Some(last) = last {
            let raft = node.raft.as_mut().expect("node is up");
            let before = raft.membership().clone();
            if let Err(e) = raft.ack_applied(last) {
                self.checker
                    .violation_at(now, format!("{id:?} ack_applied refused: {e}"));
            }
            if *raft.membership() != before {
                let (at, m) = (raft.membership_index(), raft.membership().clone());
                self.checker.on_membership(now, at, &m);
            }
        }
        for a in acked {
            match a {
                Some(index) => {
                    self.acked += 1;
                    self.max_acked = self.max_acked.max(index);
                    if self
                        .barrier
                        .is_some_and(|(n, p)| n == id && p.index == index)
                    {
                        self.barrier_acked = Some(index);
                    }
                }
                None => self.checker.violation_at(
                    now,
                    format!("{id:?} applied another command at a proposal's position"),
                ),
            }
        }
    }

    /// Applies what is due, in order.
    fn complete_applies(&mut self, i: usize) -> bool {
        let mut any = false;
        while self.nodes[i]
            .applies
            .front()
            .is_some_and(|a| a.0 <= self.now)
            && self.nodes[i].is_up()
        {
            any = true;
            let (_, restore, entries) = self.nodes[i].applies.pop_front().expect("checked");
            self.apply(i, restore, entries);
            self.serve_reads(i);
        }
        any
    }

    /// Completes the writes whose time has come, in order, then sends what waited for them.
    fn complete_writes(&mut self, i: usize) -> bool {
        let mut any = false;
        while self.nodes[i]
            .writes
            .front()
            .is_some_and(|w| w.complete_at <= self.now)
            && self.nodes[i].is_up()
        {
            any = true;
            let w = self.nodes[i].writes.pop_front().expect("checked");
            let id = self.nodes[i].id;
            let written = {
                let checker = &self.checker;
                self.nodes[i].persist(&w.write, |p| checker.prefix(p))
            };
            match written {
                Ok(written) => {
                    for (pos, digest) in written {
                        self.checker.on_durable_entry(self.now, id, pos, digest);
                    }
                }
                Err(e) => {
                    self.checker.violation_at(
                        self.now,
                        format!("{id:?} was handed a write that does not fit: {e}"),
                    );
                    return false;
                }
            }
            if let Err(e) = self.nodes[i].raft.as_mut().expect("up").ack_persisted(w.id) {
                self.checker
                    .violation_at(self.now, format!("{id:?} ack_persisted refused: {e}"));
            }
            for m in w.after {
                self.send(i, m);
            }
        }
        any
    }

    fn send(&mut self, from: usize, m: Message) {
        let snapshot = match &m.body {
            MessageBody::InstallSnapshot(offer) => {
                match self.nodes[from].snapshot_data(offer.meta.last) {
                    Some(data) => Some(data),
                    None => {
                        self.checker.violation_at(
                            self.now,
                            format!("{:?} offered a snapshot it does not hold", m.from),
                        );
                        None
                    }
                }
            }
            _ => None,
        };
        let to = m.to;
        let is_snapshot = snapshot.is_some();
        if self.net.send(&mut self.rng, self.now, m, snapshot) == Sent::Dropped && is_snapshot {
            if let Some(r) = &mut self.nodes[from].raft {
                r.report_snapshot(to, SnapshotStatus::Failed);
            }
        }
    }

    /// Leader Completeness: a new leader holds every entry known to be committed.
    fn check_new_leader(&mut self, i: usize) {
        let node = &self.nodes[i];
        let Some(raft) = &node.raft else { return };
        let top = self.checker.max_committed();
        if top == Index::ZERO || top <= raft.log_start().index {
            return;
        }
        let want = self.checker.committed_term(top);
        match raft.log_term(top) {
            Ok(t) if t == want => {}
            other => {
                let id = node.id;
                self.checker.violation_at(
                    self.now,
                    format!("leader completeness: new leader {id:?} has {other:?} at committed {top:?}, want {want:?}"),
                );
            }
        }
    }

    /// Per-tick checks on every live node.
    fn check(&mut self) {
        for i in 0..self.nodes.len() {
            let node = &mut self.nodes[i];
            let Some(raft) = &node.raft else { continue };
            let id = node.id;
            if raft.is_leader() {
                self.checker.on_leader(self.now, raft.term(), id);
                let pending = raft.pending_membership_entries();
                if pending > 1 {
                    self.checker.violation_at(
                        self.now,
                        format!("{id:?} has {pending} membership changes pending"),
                    );
                }
            }
            let commit = raft.commit_index();
            let from = node.commit_checked.max(raft.log_start().index).next();
            let mut i2 = from;
            while i2 <= commit {
                match raft.log_term(i2) {
                    Ok(Some(t)) => self.checker.on_committed(self.now, id, i2, t),
                    Ok(None) => self
                        .checker
                        .violation_at(self.now, format!("{id:?} committed {i2:?} beyond its log")),
                    Err(_) => {}
                }
                i2 = i2.next();
            }
            node.commit_checked = node.commit_checked.max(commit);
        }
    }

    /// The simulated clients: proposals, reads, and (in chaos) operator actions.
    fn clients(&mut self, chaos: bool) {
        if !chaos {
            self.propose_barrier();
            return;
        }
        let c = self.cfg;
        if self.rng.chance(c.propose_rate) {
            let n = 1 + self.rng.below(4);
            for _ in 0..n {
                self.propose();
            }
        }
        if c.reads && self.rng.chance(0.05) {
            self.read();
        }
        if c.snapshots && self.rng.chance(0.01) {
            self.take_snapshot();
        }
        if c.membership_changes && self.rng.chance(0.004) {
            self.change_membership();
        }
        if c.transfers && self.rng.chance(0.002) {
            self.transfer();
        }
    }

    fn up_nodes(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|i| self.nodes[*i].is_up())
            .collect()
    }

    fn leader(&self) -> Option<usize> {
        // The leader of the highest term, if several think they lead.
        (0..self.nodes.len())
            .filter(|i| self.nodes[*i].raft.as_ref().is_some_and(|r| r.is_leader()))
            .max_by_key(|i| self.nodes[*i].raft.as_ref().map(|r| r.term()))
    }

    fn pick(&mut self, v: &[usize]) -> Option<usize> {
        if v.is_empty() {
            None
        } else {
            Some(v[self.rng.below(v.len() as u64) as usize])
        }
    }

    fn command(&mut self) -> (u64, Bytes) {
        self.next_command += 1;
        let mut data = self.next_command.to_le_bytes().to_vec();
        let pad = self.rng.below(64) as usize;
        data.extend(core::iter::repeat_n(0xA5u8, pad));
        (self.next_command, Bytes::from(data))
    }

    fn propose(&mut self) {
        let target = match self.leader() {
            Some(l) if self.rng.chance(0.8) => Some(l),
            _ => {
                let up = self.up_nodes();
                self.pick(&up)
            }
        };
        let Some(i) = target else { return };
        let (cmd, data) = self.command();
        let raft = self.nodes[i].raft.as_mut().expect("up");
        let id = raft.id();
        self.proposed += 1;
        if let Ok(Proposed::Appended(pos)) = raft.propose(data) {
            self.proposals.entry(id).or_default().push((pos, cmd));
        }
    }

    fn propose_barrier(&mut self) {
        if self.barrier_acked.is_some() {
            return;
        }
        let Some(l) = self.leader() else { return };
        let id = self.nodes[l].id;
        if let Some((n, pos)) = self.barrier {
            let still = n == id
                && self.nodes[l]
                    .raft
                    .as_ref()
                    .is_some_and(|r| r.term() == pos.term)
                && self
                    .proposals
                    .get(&n)
                    .is_some_and(|p| p.iter().any(|(q, _)| *q == pos));
            if still {
                return;
            }
        }
        let (cmd, data) = self.command();
        let raft = self.nodes[l].raft.as_mut().expect("up");
        if let Ok(Proposed::Appended(pos)) = raft.propose(data) {
            self.proposals.entry(id).or_default().push((pos, cmd));
            self.barrier = Some((id, pos));
        }
    }

    /// Whether, after the faults, every member has applied everything acknowledged, including
    /// the barrier.
    fn settled(&self) -> bool {
        let (Some(l), Some(barrier)) = (self.leader(), self.barrier_acked) else {
            return false;
        };
        let raft = self.nodes[l].raft.as_ref().expect("leader is up");
        let target = barrier.max(self.max_acked);
        raft.membership().members().iter().all(|id| {
            self.nodes
                .get(idx(*id))
                .is_some_and(|n| n.is_up() && n.state.applied >= target)
        })
    }

    /// Entries some node holds that some other node has not applied.
    fn backlog(&self) -> u64 {
        let up = self
            .nodes
            .iter()
            .filter_map(|n| n.raft.as_ref().map(|r| (r, n)));
        let last = up
            .clone()
            .map(|(r, _)| r.last_log_id().index.0)
            .max()
            .unwrap_or(0);
        let applied = up.map(|(_, n)| n.state.applied.0).min().unwrap_or(0);
        last.saturating_sub(applied)
    }

    fn liveness_detail(&self) -> String {
        let mut s = format!(
            "barrier {:?}, max acked {:?};",
            self.barrier_acked, self.max_acked
        );
        for n in &self.nodes {
            if let Some(r) = &n.raft {
                s += &format!(
                    " {:?}:{:?} t{} commit {} applied {} last {:?} members {:?};",
                    n.id,
                    r.role(),
                    r.term().0,
                    r.commit_index().0,
                    n.state.applied.0,
                    r.last_log_id(),
                    r.membership()
                );
            }
        }
        s
    }

    fn read(&mut self) {
        let up = self.up_nodes();
        let Some(i) = self.pick(&up) else { return };
        self.next_read += 1;
        let id = self.next_read;
        let node = self.nodes[i].id;
        let raft = self.nodes[i].raft.as_mut().expect("up");
        match raft.read_index(ReadId(id)) {
            Ok(()) => {
                self.reads.insert(
                    id,
                    ReadRecord {
                        node,
                        min_index: self.max_acked,
                    },
                );
            }
            Err(_) => self.reads_failed += 1,
        }
    }

    /// Takes a snapshot on a random node, and compacts its log behind its latest durable one.
    fn take_snapshot(&mut self) {
        let up = self.up_nodes();
        let Some(i) = self.pick(&up) else { return };
        let keep = self.rng.below(40);
        let node = &mut self.nodes[i];
        let raft = node.raft.as_mut().expect("up");
        let applied = raft.applied_index();
        if node.state.applied == applied && applied > Index::ZERO {
            if let Ok(meta) = raft.snapshot_taken(applied) {
                let data = Rc::new(node.state.clone());
                node.keep_snapshot(meta, data);
                self.faults.snapshots += 1;
            }
        }
        let raft = node.raft.as_mut().expect("up");
        let to = Index(raft.compactable_index().0.saturating_sub(keep));
        if let Ok(start) = raft.compact(to) {
            node.compact_store(start.index);
            self.faults.compactions += 1;
        }
    }

    fn change_membership(&mut self) {
        let Some(l) = self.leader() else { return };
        let raft = self.nodes[l].raft.as_ref().expect("up");
        let m = raft.membership().clone();
        let all: Vec<NodeId> = (1..=self.nodes.len() as u64).map(NodeId).collect();
        let outsiders: Vec<NodeId> = all.iter().copied().filter(|id| !m.contains(*id)).collect();
        let learners: Vec<NodeId> = m.learners().to_vec();
        let voters: Vec<NodeId> = m.voters().to_vec();
        let change = if m.is_joint() {
            ConfChange::LeaveJoint
        } else {
            match self.rng.below(5) {
                0 if !outsiders.is_empty() => {
                    let id = outsiders[self.rng.below(outsiders.len() as u64) as usize];
                    ConfChange::single(ConfChangeStep::AddLearner(id))
                }
                1 if !learners.is_empty() => {
                    let id = learners[self.rng.below(learners.len() as u64) as usize];
                    ConfChange::single(ConfChangeStep::AddVoter(id))
                }
                2 if voters.len() > 2 => {
                    let id = voters[self.rng.below(voters.len() as u64) as usize];
                    ConfChange::single(ConfChangeStep::RemoveNode(id))
                }
                3 if !learners.is_empty() && voters.len() > 1 => {
                    // Swap a voter for a learner through a joint configuration.
                    let add = learners[self.rng.below(learners.len() as u64) as usize];
                    let remove = voters[self.rng.below(voters.len() as u64) as usize];
                    let transition = match self.rng.below(3) {
                        0 => ConfTransition::Auto,
                        1 => ConfTransition::JointAutoLeave,
                        _ => ConfTransition::JointExplicitLeave,
                    };
                    ConfChange::Change {
                        steps: vec![
                            ConfChangeStep::AddVoter(add),
                            ConfChangeStep::AddLearner(remove),
                        ],
                        transition,
                    }
                }
                _ if !learners.is_empty() => {
                    let id = learners[self.rng.below(learners.len() as u64) as usize];
                    ConfChange::single(ConfChangeStep::RemoveNode(id))
                }
                _ => return,
            }
        };
        let raft = self.nodes[l].raft.as_mut().expect("up");
        let id = raft.id();
        if raft.propose_conf_change(change.clone()).is_ok() {
            self.faults.membership_changes += 1;
            self.trace(|| format!("{id:?} proposes {change:?}"));
        }
    }

    fn transfer(&mut self) {
        let Some(l) = self.leader() else { return };
        let raft = self.nodes[l].raft.as_ref().expect("up");
        let voters: Vec<NodeId> = raft
            .membership()
            .voters()
            .iter()
            .copied()
            .filter(|v| *v != raft.id())
            .collect();
        if voters.is_empty() {
            return;
        }
        let to = voters[self.rng.below(voters.len() as u64) as usize];
        let raft = self.nodes[l].raft.as_mut().expect("up");
        if raft.transfer_leader(to).is_ok() {
            self.faults.transfers += 1;
            let id = raft.id();
            self.trace(|| format!("{id:?} transfers leadership to {to:?}"));
        }
    }

    fn inject_faults(&mut self) {
        let c = self.cfg;
        if self.heal_at.is_some_and(|t| t <= self.now) {
            self.net.heal();
            self.heal_at = None;
            self.trace(|| "network healed".into());
        }
        if self.rng.chance(c.crash_rate) {
            let up = self.up_nodes();
            if let Some(i) = self.pick(&up) {
                let until = self.now + 5 + self.rng.below(c.max_down_ticks);
                let id = self.nodes[i].id;
                self.nodes[i].crash(until);
                self.proposals.remove(&id);
                self.faults.crashes += 1;
                self.trace(|| format!("{id:?} crashes until {until}"));
            }
        }
        if !self.net.has_partitions() && self.rng.chance(c.partition_rate) {
            let ids: Vec<NodeId> = self.nodes.iter().map(|n| n.id).collect();
            let kind = self.rng.below(3);
            let mut side: Vec<NodeId> = match (kind, self.leader()) {
                (0, Some(l)) => vec![self.nodes[l].id],
                _ => ids
                    .iter()
                    .copied()
                    .filter(|_| self.rng.chance(0.5))
                    .collect(),
            };
            if side.is_empty() || side.len() == ids.len() {
                side = vec![ids[self.rng.below(ids.len() as u64) as usize]];
            }
            let one_way = kind == 2;
            for a in &ids {
                for b in &ids {
                    if side.contains(a) && !side.contains(b) {
                        self.net.block(*a, *b);
                        if !one_way {
                            self.net.block(*b, *a);
                        }
                    }
                }
            }
            if one_way {
                self.faults.one_way_partitions += 1;
            } else {
                self.faults.partitions += 1;
            }
            self.heal_at = Some(self.now + 10 + self.rng.below(c.max_partition_ticks));
            self.trace(|| {
                format!(
                    "partition {side:?} from the rest{}",
                    if one_way { " (one way)" } else { "" }
                )
            });
        }
    }

    /// Ends the faults: heal the network, restart every node, deliver reliably.
    fn calm(&mut self) {
        self.net.heal();
        self.heal_at = None;
        self.net.faults = NetworkFaults {
            drop_rate: 0.0,
            duplicate_rate: 0.0,
            max_delay_ticks: self.net.faults.max_delay_ticks.min(1),
        };
        for i in 0..self.nodes.len() {
            if !self.nodes[i].is_up() {
                self.start_node(i);
            }
        }
        let in_flight = self.net.in_flight();
        self.trace(|| format!("faults stop; {in_flight} messages in flight"));
    }
}

fn key(id: LogId) -> (u64, u64) {
    (id.index.0, id.term.0)
}

fn idx(id: NodeId) -> usize {
    (id.0 as usize).wrapping_sub(1)
}

/// One line describing a message, for traces.
fn describe(m: &Message) -> String {
    let body = match &m.body {
        MessageBody::Append(a) => format!(
            "Append prev {:?} entries {} commit {:?}",
            a.prev,
            a.entries.len(),
            a.commit
        ),
        other => format!("{other:?}"),
    };
    format!("{:?} -> {:?} t{}: {body}", m.from, m.to, m.term.0)
}
