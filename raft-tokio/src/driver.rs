//! The driver task: owns the core, feeds it ticks, messages and requests, and dispatches its
//! Readies: messages to the transport at once, writes to the persistence thread (which sends
//! the messages that wait for them), entries to the apply thread. The leader's appends leave
//! before its own write completes (thesis §10.2.1); persistence and application run apart.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use raft_core::{
    Index, LogId, Membership, Message, MessageBody, NodeId, NodeState, Proposed, Raft, ReadId,
    Ready, Role, SnapshotMeta, SnapshotStatus,
};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior, interval_at};

use crate::config::NodeConfig;
use crate::error::{ProposeError, ReadError, StartError, TransferError};
use crate::metrics::Metrics;
use crate::node::{NodeStatus, Request};
use crate::snapshot::SnapshotStore;
use crate::state_machine::{SnapshotSource, StateMachine};
use crate::storage::LogStore;
use crate::transport::{Inbound, Inbox, Transport};
use crate::workers::{ApplyJob, Event, WriteJob, apply_job, flush, run_applier, run_writer};

/// Requests and inbound messages taken per loop turn before the core is asked for a Ready.
const BATCH: usize = 1024;

type Reply<T, E> = oneshot::Sender<Result<T, E>>;

/// Futures waiting on the driver.
struct Pending<O> {
    proposals: BTreeMap<Index, (LogId, Reply<O, ProposeError>)>,
    changes: BTreeMap<Index, (LogId, Reply<Membership, ProposeError>)>,
    reads: BTreeMap<u64, Reply<(), ReadError>>,
    /// Reads confirmed at an index not applied yet: (index, read).
    reads_waiting: Vec<(Index, Reply<(), ReadError>)>,
    transfer: Option<(NodeId, Reply<(), TransferError>, tokio::time::Instant)>,
    next_read: u64,
}

impl<O> Default for Pending<O> {
    fn default() -> Self {
        Pending {
            proposals: BTreeMap::new(),
            changes: BTreeMap::new(),
            reads: BTreeMap::new(),
            reads_waiting: Vec::new(),
            transfer: None,
            next_read: 0,
        }
    }
}

/// Where writes go: a persistence thread, or the driver itself for in-memory stores.
enum Persister<L> {
    Thread(mpsc::Sender<WriteJob>),
    Inline(L),
    Stopped,
}

/// Where entries are applied: the apply thread, or the driver itself for cheap state machines.
enum Applier<SM> {
    Thread(mpsc::Sender<ApplyJob>),
    Inline(SM),
    Stopped,
}

pub(crate) struct Driver<SM: StateMachine, L: LogStore, T: Transport> {
    raft: Raft<L::Reader, SmallRng>,
    cfg: NodeConfig,
    transport: Arc<T>,
    snapshots: Arc<dyn SnapshotStore>,
    requests: mpsc::Receiver<Request<SM::Output>>,
    inbound: Inbox,
    events: mpsc::UnboundedReceiver<Event<SM::Output>>,
    events_tx: mpsc::UnboundedSender<Event<SM::Output>>,
    persister: Persister<L>,
    applier: Applier<SM>,
    threads: Vec<std::thread::JoinHandle<()>>,
    pending: Pending<SM::Output>,
    state: watch::Sender<NodeState>,
    metrics: Arc<Metrics>,
    /// The last index the state machine applied.
    applied: Index,
    /// The applied index at the last snapshot (or start).
    snapshot_base: Index,
    snapshot_in_progress: bool,
    /// Peers a snapshot is being streamed to.
    sending_snapshots: BTreeSet<NodeId>,
    receiving_snapshot: bool,
    stopping: Option<oneshot::Sender<()>>,
}

impl<SM: StateMachine, L: LogStore, T: Transport> Driver<SM, L, T> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        cfg: NodeConfig,
        sm: SM,
        store: L,
        snapshots: Arc<dyn SnapshotStore>,
        transport: Arc<T>,
        requests: mpsc::Receiver<Request<SM::Output>>,
        inbound: Inbox,
        metrics: Arc<Metrics>,
    ) -> Result<(Self, watch::Receiver<NodeState>), StartError> {
        let mut raft_cfg = cfg.raft.clone();
        raft_cfg.applied = sm.applied_index();
        let rng = match cfg.seed {
            Some(s) => SmallRng::seed_from_u64(s),
            None => rand::make_rng(),
        };
        let raft = Raft::new(raft_cfg, store.reader(), rng)?;
        let applied = raft.applied_index();
        let (events_tx, events) = mpsc::unbounded_channel();
        let id = cfg.raft.id;
        let mut threads = Vec::new();
        let persister = if store.runs_inline() {
            Persister::Inline(store)
        } else {
            let (wtx, wrx) = mpsc::channel(cfg.io_queue.max(1));
            let (t, ev, m) = (
                Arc::clone(&transport),
                events_tx.clone(),
                Arc::clone(&metrics),
            );
            threads.push(
                std::thread::Builder::new()
                    .name(format!("raft-{id}-log"))
                    .spawn(move || run_writer(store, t, wrx, ev, m))?,
            );
            Persister::Thread(wtx)
        };
        let applier = if sm.runs_inline() {
            Applier::Inline(sm)
        } else {
            let (atx, arx) = mpsc::channel(cfg.io_queue.max(1));
            let (s, ev, m) = (
                Arc::clone(&snapshots),
                events_tx.clone(),
                Arc::clone(&metrics),
            );
            threads.push(
                std::thread::Builder::new()
                    .name(format!("raft-{id}-apply"))
                    .spawn(move || run_applier(sm, s, arx, ev, m))?,
            );
            Applier::Thread(atx)
        };
        let (state, state_rx) = watch::channel(raft.node_state());
        Ok((
            Driver {
                raft,
                cfg,
                transport,
                snapshots,
                requests,
                inbound,
                events,
                events_tx,
                persister,
                applier,
                threads,
                pending: Pending::default(),
                state,
                metrics,
                applied,
                snapshot_base: applied,
                snapshot_in_progress: false,
                sending_snapshots: BTreeSet::new(),
                receiving_snapshot: false,
                stopping: None,
            },
            state_rx,
        ))
    }

    /// The driver's loop; returns when the node shuts down.
    pub(crate) async fn run(mut self) {
        let mut ticks = interval_at(Instant::now() + self.cfg.tick, self.cfg.tick);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let id = self.raft.id();
        loop {
            tokio::select! {
                biased;
                ev = self.events.recv() => match ev {
                    Some(ev) => self.on_event(ev),
                    None => break,
                },
                _ = ticks.tick() => {
                    self.raft.tick();
                    self.check_transfer();
                }
                m = self.inbound.messages.recv(), if !self.inbound.messages.is_closed() => {
                    if let Some(m) = m {
                        self.on_message(m);
                    }
                }
                m = self.inbound.other.recv(), if !self.inbound.other.is_closed() => match m {
                    Some(m) => self.on_inbound(m),
                    None => tracing::debug!(node = %id, "transport closed"),
                },
                r = self.requests.recv() => match r {
                    Some(r) => self.on_request(r),
                    None => break,
                },
            }
            self.drain_queued();
            if self.stopping.is_some() || self.raft.is_halted() {
                break;
            }
            if let Err(e) = self.process_readies().await {
                tracing::error!(node = %id, "stopping: {e}");
                break;
            }
        }
        self.stop().await;
    }

    /// Takes whatever else is queued (without waiting), so that one Ready covers it all.
    fn drain_queued(&mut self) {
        for _ in 0..BATCH {
            let mut progressed = false;
            if let Ok(ev) = self.events.try_recv() {
                self.on_event(ev);
                progressed = true;
            }
            if let Ok(m) = self.inbound.messages.try_recv() {
                self.on_message(m);
                progressed = true;
            }
            if let Ok(m) = self.inbound.other.try_recv() {
                self.on_inbound(m);
                progressed = true;
            }
            if self.stopping.is_none() {
                if let Ok(r) = self.requests.try_recv() {
                    self.on_request(r);
                    progressed = true;
                }
            }
            if !progressed {
                break;
            }
        }
    }

    fn on_request(&mut self, r: Request<SM::Output>) {
        match r {
            Request::Propose(cmd, reply) => {
                if self.pending.proposals.len() >= self.cfg.max_pending_proposals {
                    Metrics::inc(&self.metrics.proposals_failed);
                    let _ = reply.send(Err(ProposeError::Overloaded));
                    return;
                }
                match self.raft.propose(cmd) {
                    Ok(Proposed::Appended(id)) => {
                        Metrics::inc(&self.metrics.proposals);
                        self.pending.proposals.insert(id.index, (id, reply));
                    }
                    Ok(Proposed::Forwarded { leader }) => {
                        // The driver runs the core with forwarding off; treat it as a refusal.
                        let _ = reply.send(Err(ProposeError::NotLeader {
                            leader: Some(leader),
                        }));
                    }
                    Err(e) => {
                        Metrics::inc(&self.metrics.proposals_failed);
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Request::ChangeMembership(change, reply) => match self.raft.propose_conf_change(change)
            {
                Ok(id) => {
                    self.pending.changes.insert(id.index, (id, reply));
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Request::Read(reply) => {
                self.pending.next_read += 1;
                let id = self.pending.next_read;
                match self.raft.read_index(ReadId(id)) {
                    Ok(()) => {
                        self.pending.reads.insert(id, reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Request::Transfer(to, reply) => match self.raft.transfer_leader(to) {
                Ok(()) => {
                    if let Some((_, old, _)) = self.pending.transfer.take() {
                        let _ = old.send(Err(TransferError::Failed {
                            leader: self.raft.leader(),
                        }));
                    }
                    let timeout = self.cfg.tick * self.cfg.raft.election_ticks * 2;
                    self.pending.transfer = Some((to, reply, Instant::now() + timeout));
                }
                Err(raft_core::TransferError::NotLeader { leader }) => {
                    let _ = reply.send(Err(TransferError::NotLeader { leader }));
                }
                Err(e) => {
                    let _ = reply.send(Err(TransferError::Invalid(e)));
                }
            },
            Request::Campaign => {
                let _ = self.raft.campaign();
            }
            Request::Status(reply) => {
                let _ = reply.send(NodeStatus {
                    raft: self.raft.status(),
                    metrics: self.metrics.snapshot(),
                });
            }
            Request::Shutdown(reply) => self.stopping = Some(reply),
        }
    }

    fn on_message(&mut self, msg: Message) {
        Metrics::inc(&self.metrics.messages_received);
        if let Err(e) = self.raft.step(msg) {
            Metrics::inc(&self.metrics.messages_rejected);
            tracing::debug!(node = %self.raft.id(), "message refused: {e}");
        }
    }

    fn on_inbound(&mut self, m: Inbound) {
        match m {
            Inbound::Message(msg) => self.on_message(msg),
            Inbound::Unreachable(peer) => self.raft.report_unreachable(peer),
            Inbound::Snapshot { message, chunks } => self.receive_snapshot(message, chunks),
        }
    }

    fn on_event(&mut self, ev: Event<SM::Output>) {
        match ev {
            Event::Persisted(id) => {
                if let Err(e) = self.raft.ack_persisted(id) {
                    tracing::error!(node = %self.raft.id(), "ack_persisted: {e}");
                }
            }
            Event::Applied {
                last,
                outputs,
                memberships,
            } => self.on_applied(last, outputs, memberships),
            Event::SnapshotCaptured(src) => self.store_snapshot(src),
            Event::SnapshotStored(result) => {
                self.snapshot_in_progress = false;
                match result {
                    Ok(id) => match self.raft.snapshot_taken(id.index) {
                        Ok(meta) => {
                            Metrics::inc(&self.metrics.snapshots_taken);
                            self.snapshot_base = meta.last.index;
                        }
                        Err(e) => {
                            tracing::warn!(node = %self.raft.id(), "snapshot not registered: {e}")
                        }
                    },
                    Err(e) => tracing::warn!(node = %self.raft.id(), "snapshot failed: {e}"),
                }
            }
            Event::SnapshotReceived(received) => {
                self.receiving_snapshot = false;
                match received {
                    Ok(msg) => {
                        Metrics::inc(&self.metrics.snapshots_received);
                        if let Err(e) = self.raft.step(msg) {
                            tracing::warn!(node = %self.raft.id(), "snapshot offer refused: {e}");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(node = %self.raft.id(), "receiving a snapshot failed: {e}")
                    }
                }
            }
            Event::SnapshotSent(peer, ok) => {
                self.sending_snapshots.remove(&peer);
                if ok {
                    Metrics::inc(&self.metrics.snapshots_sent);
                }
                let status = if ok {
                    SnapshotStatus::Delivered
                } else {
                    SnapshotStatus::Failed
                };
                self.raft.report_snapshot(peer, status);
            }
            Event::Fatal(e) => {
                tracing::error!(node = %self.raft.id(), "worker failed, stopping: {e}");
                self.persister = Persister::Stopped;
                self.applier = Applier::Stopped;
                self.raft_halt();
            }
        }
    }

    /// Stops taking input after a fatal worker error.
    fn raft_halt(&mut self) {
        let (tx, _) = oneshot::channel();
        self.stopping = Some(tx);
    }

    fn on_applied(
        &mut self,
        last: Index,
        outputs: Vec<(LogId, SM::Output)>,
        memberships: Vec<LogId>,
    ) {
        if let Err(e) = self.raft.ack_applied(last) {
            tracing::error!(node = %self.raft.id(), "ack_applied: {e}");
        }
        self.applied = self.applied.max(last);
        for (id, out) in outputs {
            if let Some((want, reply)) = self.pending.proposals.remove(&id.index) {
                let _ = reply.send(if want == id {
                    Ok(out)
                } else {
                    Err(ProposeError::Dropped)
                });
            }
        }
        let membership = self.raft.membership().clone();
        for id in memberships {
            if let Some((want, reply)) = self.pending.changes.remove(&id.index) {
                let _ = reply.send(if want == id {
                    Ok(membership.clone())
                } else {
                    Err(ProposeError::Dropped)
                });
            }
        }
        // Anything still waiting at or below `last` was superseded by another entry.
        while let Some(entry) = self.pending.proposals.first_entry() {
            if *entry.key() > last {
                break;
            }
            let _ = entry.remove().1.send(Err(ProposeError::Dropped));
        }
        while let Some(entry) = self.pending.changes.first_entry() {
            if *entry.key() > last {
                break;
            }
            let _ = entry.remove().1.send(Err(ProposeError::Dropped));
        }
        let applied = self.applied;
        let mut i = 0;
        while i < self.pending.reads_waiting.len() {
            if self.pending.reads_waiting[i].0 <= applied {
                let (_, reply) = self.pending.reads_waiting.swap_remove(i);
                Metrics::inc(&self.metrics.reads);
                let _ = reply.send(Ok(()));
            } else {
                i += 1;
            }
        }
        self.maybe_snapshot();
    }

    /// Asks the apply thread for a snapshot when enough entries were applied since the last.
    fn maybe_snapshot(&mut self) {
        let every = self.cfg.snapshot_every;
        if every == 0
            || self.snapshot_in_progress
            || self.applied.distance_from(self.snapshot_base) < every
        {
            return;
        }
        match &mut self.applier {
            Applier::Thread(tx) => {
                if tx.try_send(ApplyJob::Snapshot).is_ok() {
                    self.snapshot_in_progress = true;
                }
            }
            Applier::Inline(sm) => {
                self.snapshot_in_progress = true;
                match apply_job(sm, &*self.snapshots, ApplyJob::Snapshot, &self.metrics) {
                    Ok(Some(ev)) => self.on_event(ev),
                    Ok(None) => self.snapshot_in_progress = false,
                    Err(e) => self.on_event(Event::Fatal(e)),
                }
            }
            Applier::Stopped => {}
        }
    }

    /// Streams a captured view into the snapshot store on a blocking thread.
    fn store_snapshot(&mut self, src: Box<dyn SnapshotSource>) {
        let index = src.index();
        let term = match self.raft.log_term(index) {
            Ok(Some(t)) => t,
            _ => {
                self.snapshot_in_progress = false;
                return;
            }
        };
        let last = LogId::new(term, index);
        let meta = SnapshotMeta {
            last,
            membership: Membership::default(),
        };
        let store = Arc::clone(&self.snapshots);
        let events = self.events_tx.clone();
        tokio::task::spawn_blocking(move || {
            let result = store
                .create(&meta)
                .and_then(|mut w| {
                    src.write_to(&mut *w)?;
                    w.commit()
                })
                .map(|()| last)
                .map_err(|e| e.to_string());
            let _ = events.send(Event::SnapshotStored(result));
        });
    }

    /// Stores an incoming snapshot's data, then steps the offer.
    fn receive_snapshot(&mut self, message: Message, mut chunks: crate::transport::ChunkReceiver) {
        let MessageBody::InstallSnapshot(offer) = &message.body else {
            return;
        };
        if self.receiving_snapshot || offer.meta.last.index <= self.raft.commit_index() {
            // One at a time; a stale one is not needed. Dropping `chunks` fails the sender,
            // which reports it and retries later.
            return;
        }
        self.receiving_snapshot = true;
        let meta = offer.meta.clone();
        let store = Arc::clone(&self.snapshots);
        let events = self.events_tx.clone();
        tokio::task::spawn_blocking(move || {
            let stored = (|| -> std::io::Result<()> {
                let mut w = store.create(&meta)?;
                while let Some(chunk) = chunks.blocking_recv() {
                    w.write_chunk(&chunk?)?;
                }
                w.commit()
            })();
            let _ = events.send(Event::SnapshotReceived(
                stored
                    .map(|()| message)
                    .map_err(|e| format!("snapshot {}: {e}", meta.last)),
            ));
        });
    }

    /// Streams the snapshot named by an `InstallSnapshot` message to its recipient.
    fn send_snapshot(&mut self, message: Message) {
        let MessageBody::InstallSnapshot(offer) = &message.body else {
            return;
        };
        let to = message.to;
        if !self.sending_snapshots.insert(to) {
            return;
        }
        let last = offer.meta.last;
        let store = Arc::clone(&self.snapshots);
        let (tx, rx) = mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            let mut reader = match store.open(last) {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            };
            loop {
                match reader.next_chunk() {
                    Ok(Some(c)) => {
                        if tx.blocking_send(Ok(c)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
            }
        });
        let send = self.transport.send_snapshot(message, rx);
        let events = self.events_tx.clone();
        tokio::spawn(async move {
            let ok = send.await.is_ok();
            let _ = events.send(Event::SnapshotSent(to, ok));
        });
    }

    /// Fails a transfer that did not complete in time.
    fn check_transfer(&mut self) {
        if let Some((_, _, deadline)) = &self.pending.transfer {
            if Instant::now() >= *deadline {
                if let Some((_, reply, _)) = self.pending.transfer.take() {
                    let _ = reply.send(Err(TransferError::Failed {
                        leader: self.raft.leader(),
                    }));
                }
            }
        }
    }

    /// Takes every Ready and dispatches it.
    async fn process_readies(&mut self) -> Result<(), String> {
        while self.raft.has_ready() {
            let rd = self.raft.ready().map_err(|e| e.to_string())?;
            Metrics::inc(&self.metrics.readies);
            self.dispatch(rd).await?;
        }
        self.maybe_compact().await;
        Ok(())
    }

    async fn dispatch(&mut self, rd: Ready) -> Result<(), String> {
        if let Some(state) = rd.state {
            self.on_state(state);
        }
        let mut sent = 0u64;
        for m in rd.messages {
            if matches!(m.body, MessageBody::InstallSnapshot(_)) {
                self.send_snapshot(m);
            } else {
                sent += 1;
                self.transport.send(m);
            }
        }
        Metrics::add(&self.metrics.messages_sent, sent);
        if !rd.write.is_empty() || !rd.messages_after_write.is_empty() {
            match &mut self.persister {
                Persister::Thread(tx) => tx
                    .send(WriteJob::Write {
                        id: rd.id,
                        write: Box::new(rd.write),
                        after: rd.messages_after_write,
                    })
                    .await
                    .map_err(|_| "the log writer stopped")?,
                Persister::Inline(store) => {
                    let mut batch = vec![rd.write];
                    flush(store, &mut batch, &self.metrics).map_err(|e| e.to_string())?;
                    Metrics::add(
                        &self.metrics.messages_sent,
                        rd.messages_after_write.len() as u64,
                    );
                    for m in rd.messages_after_write {
                        self.transport.send(m);
                    }
                    self.raft.ack_persisted(rd.id).map_err(|e| e.to_string())?;
                }
                Persister::Stopped => return Err("the log writer stopped".into()),
            }
        }
        if !rd.apply.is_empty() {
            let job = ApplyJob::Apply {
                restore: rd.apply.restore,
                entries: rd.apply.entries,
            };
            let event = match &mut self.applier {
                Applier::Thread(tx) => {
                    tx.send(job).await.map_err(|_| "the applier stopped")?;
                    None
                }
                Applier::Inline(sm) => apply_job(sm, &*self.snapshots, job, &self.metrics)?,
                Applier::Stopped => return Err("the applier stopped".into()),
            };
            if let Some(ev) = event {
                self.on_event(ev);
            }
        }
        for r in rd.reads {
            let Some(reply) = self.pending.reads.remove(&r.id.0) else {
                continue;
            };
            match r.result {
                Ok(index) if index <= self.applied => {
                    Metrics::inc(&self.metrics.reads);
                    let _ = reply.send(Ok(()));
                }
                Ok(index) => self.pending.reads_waiting.push((index, reply)),
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            }
        }
        Ok(())
    }

    /// Role, term or leader changed.
    fn on_state(&mut self, state: NodeState) {
        let was_leader = self.state.borrow().role == Role::Leader;
        self.state.send_replace(state);
        if was_leader && state.role != Role::Leader {
            // Appended entries may still commit under the next leader: outcome unknown.
            for (_, (_, reply)) in std::mem::take(&mut self.pending.proposals) {
                let _ = reply.send(Err(ProposeError::LeadershipLost));
            }
            for (_, (_, reply)) in std::mem::take(&mut self.pending.changes) {
                let _ = reply.send(Err(ProposeError::LeadershipLost));
            }
        }
        if let Some((to, _, _)) = &self.pending.transfer {
            let to = *to;
            if state.leader == Some(to) || (state.role != Role::Leader && state.leader.is_some()) {
                if let Some((_, reply, _)) = self.pending.transfer.take() {
                    let _ = reply.send(if state.leader == Some(to) {
                        Ok(())
                    } else {
                        Err(TransferError::Failed {
                            leader: state.leader,
                        })
                    });
                }
            }
        }
    }

    /// Compacts the log behind the latest durable snapshot, keeping `compaction_keep` entries.
    async fn maybe_compact(&mut self) {
        let limit = self.raft.compactable_index();
        let to = Index(limit.0.saturating_sub(self.cfg.compaction_keep));
        if to <= self.raft.log_start().index {
            return;
        }
        if let Ok(start) = self.raft.compact(to) {
            match &mut self.persister {
                Persister::Thread(w) => {
                    let _ = w.send(WriteJob::Compact(start.index)).await;
                }
                Persister::Inline(store) => {
                    if let Err(e) = store.compact(start.index) {
                        tracing::error!(node = %self.raft.id(), "compaction failed: {e}");
                    }
                }
                Persister::Stopped => {}
            }
            if let Some(snap) = self.raft.latest_snapshot() {
                let _ = self.snapshots.prune(snap.last);
            }
        }
    }

    /// Answers everything pending, lets the workers finish what is queued, and waits for them.
    async fn stop(mut self) {
        // Dispatch what the core still has (writes in particular), so acknowledged state stays.
        if !self.raft.is_halted() {
            let _ = self.process_readies().await;
        }
        for (_, (_, r)) in std::mem::take(&mut self.pending.proposals) {
            let _ = r.send(Err(ProposeError::ShutDown));
        }
        for (_, (_, r)) in std::mem::take(&mut self.pending.changes) {
            let _ = r.send(Err(ProposeError::ShutDown));
        }
        for (_, r) in std::mem::take(&mut self.pending.reads) {
            let _ = r.send(Err(ReadError::ShutDown));
        }
        for (_, r) in std::mem::take(&mut self.pending.reads_waiting) {
            let _ = r.send(Err(ReadError::ShutDown));
        }
        if let Some((_, r, _)) = self.pending.transfer.take() {
            let _ = r.send(Err(TransferError::ShutDown));
        }
        self.persister = Persister::Stopped;
        self.applier = Applier::Stopped;
        let threads = std::mem::take(&mut self.threads);
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
        self.requests.close();
        while let Ok(r) = self.requests.try_recv() {
            answer_shut_down(r);
        }
        if let Some(done) = self.stopping.take() {
            let _ = done.send(());
        }
    }
}

fn answer_shut_down<O>(r: Request<O>) {
    match r {
        Request::Propose(_, reply) => {
            let _ = reply.send(Err(ProposeError::ShutDown));
        }
        Request::ChangeMembership(_, reply) => {
            let _ = reply.send(Err(ProposeError::ShutDown));
        }
        Request::Read(reply) => {
            let _ = reply.send(Err(ReadError::ShutDown));
        }
        Request::Transfer(_, reply) => {
            let _ = reply.send(Err(TransferError::ShutDown));
        }
        Request::Shutdown(reply) => {
            let _ = reply.send(());
        }
        Request::Campaign | Request::Status(_) => {}
    }
}
