//! One simulated node: a [`Raft`] over a durable in-memory store, the writes it has in flight
//! (lost if it crashes), a snapshot store, and the simulated state machine.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::vec::Vec;

use super::rng::SimRng;
use super::state::{SimState, mix, payload_digest};
use crate::Raft;
use crate::config::Config;
use crate::message::Message;
use crate::ready::{ReadyId, Write};
use crate::snapshot::SnapshotMeta;
use crate::storage::MemStorage;
use crate::types::{Index, LogId, NodeId};

pub(crate) type SimRaft = Raft<Rc<RefCell<MemStorage>>, SimRng>;

/// A write handed out by a Ready and not yet durable.
#[derive(Debug)]
pub(crate) struct InFlightWrite {
    pub(crate) id: ReadyId,
    pub(crate) write: Write,
    pub(crate) after: Vec<Message>,
    pub(crate) complete_at: u64,
}

pub(crate) struct SimNode {
    pub(crate) id: NodeId,
    pub(crate) raft: Option<SimRaft>,
    pub(crate) config: Config,
    /// What survives a crash.
    pub(crate) durable: Rc<RefCell<MemStorage>>,
    /// Prefix digests of the durable log, aligned with its entries; `[0]` is the log start's.
    pub(crate) prefixes: VecDeque<u64>,
    /// Recent snapshots taken or installed (the application's durable snapshot store).
    pub(crate) snapshots: VecDeque<(SnapshotMeta, Rc<SimState>)>,
    /// Snapshot data received from leaders, waiting for its install to be written.
    pub(crate) received: BTreeMap<(u64, u64), Rc<SimState>>,
    pub(crate) writes: VecDeque<InFlightWrite>,
    pub(crate) state: SimState,
    /// Whether the state machine survives crashes (else it restarts from the snapshot).
    pub(crate) durable_state: bool,
    pub(crate) rng: SimRng,
    pub(crate) down_until: Option<u64>,
    /// The highest commit index already checked.
    pub(crate) commit_checked: Index,
    /// Entries handed out for applying and not applied yet: (due tick, restore, entries).
    pub(crate) applies: VecDeque<(u64, Option<LogId>, crate::Entries)>,
    /// Reads waiting for the state machine to reach their index: (read, index).
    pub(crate) reads_waiting: Vec<(u64, Index)>,
}

impl SimNode {
    pub(crate) fn new(
        id: NodeId,
        config: Config,
        storage: MemStorage,
        durable_state: bool,
        rng: SimRng,
    ) -> SimNode {
        SimNode {
            id,
            raft: None,
            config,
            durable: Rc::new(RefCell::new(storage)),
            prefixes: VecDeque::from([0]),
            snapshots: VecDeque::new(),
            received: BTreeMap::new(),
            writes: VecDeque::new(),
            state: SimState::default(),
            durable_state,
            rng,
            down_until: None,
            commit_checked: Index::ZERO,
            reads_waiting: Vec::new(),
            applies: VecDeque::new(),
        }
    }

    pub(crate) fn is_up(&self) -> bool {
        self.raft.is_some()
    }

    /// Starts (or restarts) the node from its durable state.
    pub(crate) fn start(&mut self) -> Result<(), crate::InitError> {
        // What every application does at start-up: if its state machine is behind the log
        // start (it crashed between installing a snapshot in the log store and restoring from
        // it, or it keeps no durable state), restore it from the latest snapshot first.
        let (recorded, log_start) = {
            let store = self.durable.borrow();
            (store.snapshot().map(|m| m.last), store.log_start().index)
        };
        if !self.durable_state || self.state.applied < log_start {
            self.state = match recorded.and_then(|last| self.snapshot_data(last)) {
                Some(s) => (*s).clone(),
                None => SimState::default(),
            };
        }
        let mut config = self.config.clone();
        config.applied = self.state.applied;
        let raft = Raft::new(config, Rc::clone(&self.durable), self.rng.fork())?;
        self.commit_checked = raft.commit_index().min(self.commit_checked);
        self.raft = Some(raft);
        self.down_until = None;
        Ok(())
    }

    /// The data of the snapshot ending at `last`, if the store holds it.
    pub(crate) fn snapshot_data(&self, last: LogId) -> Option<Rc<SimState>> {
        self.snapshots
            .iter()
            .find(|(m, _)| m.last == last)
            .map(|(_, d)| Rc::clone(d))
    }

    /// Adds a snapshot to the store, keeping the few most recent.
    pub(crate) fn keep_snapshot(&mut self, meta: SnapshotMeta, data: Rc<SimState>) {
        if self.snapshot_data(meta.last).is_none() {
            self.snapshots.push_back((meta, data));
        }
        while self.snapshots.len() > 4 {
            self.snapshots.pop_front();
        }
    }

    /// Crashes the node: everything not durable is lost.
    pub(crate) fn crash(&mut self, until: u64) {
        self.raft = None;
        self.writes.clear();
        self.applies.clear();
        self.received.clear();
        self.reads_waiting.clear();
        self.down_until = Some(until);
        self.commit_checked = Index::ZERO;
    }

    /// Makes a write durable, as one atomic step, and returns the prefix digests of the entries
    /// written (for the log-matching check). A write that does not fit the store is a bug in the
    /// core's writes, reported as an error.
    pub(crate) fn persist(
        &mut self,
        write: &Write,
        snapshot_prefix: impl Fn(LogId) -> Option<u64>,
    ) -> Result<Vec<(LogId, u64)>, crate::WriteGap> {
        {
            let mut store = self.durable.borrow_mut();
            let start = store.log_start().index;
            store.apply_write(write)?;
            drop(store);
            self.after_persist(write, start, snapshot_prefix)
        }
    }

    fn after_persist(
        &mut self,
        write: &Write,
        start: Index,
        snapshot_prefix: impl Fn(LogId) -> Option<u64>,
    ) -> Result<Vec<(LogId, u64)>, crate::WriteGap> {
        let start = write.snapshot.as_ref().map_or(start, |s| s.last.index);
        if let Some(snap) = &write.snapshot {
            self.prefixes.clear();
            self.prefixes
                .push_back(snapshot_prefix(snap.last).unwrap_or(0));
            if let Some(data) = self.received.remove(&(snap.last.index.0, snap.last.term.0)) {
                self.keep_snapshot(snap.clone(), data);
            }
        }
        let mut written = Vec::new();
        if let Some(first) = write.entries.first() {
            let keep = first.index.0.saturating_sub(start.0) as usize;
            self.prefixes.truncate(keep);
            for e in &write.entries {
                let prev = self.prefixes.back().copied().unwrap_or(0);
                let d = mix(mix(prev, e.term.0), payload_digest(e));
                self.prefixes.push_back(d);
                written.push((e.log_id(), d));
            }
        }
        Ok(written)
    }

    /// Drops the durable log up to `to` (after the core moved its log start there).
    pub(crate) fn compact_store(&mut self, to: Index) {
        let mut store = self.durable.borrow_mut();
        let start = store.log_start().index;
        if to <= start {
            return;
        }
        let n = to.distance_from(start) as usize;
        if store.compact(to).is_ok() {
            self.prefixes
                .drain(..n.min(self.prefixes.len().saturating_sub(1)));
        }
    }
}
