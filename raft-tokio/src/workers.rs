//! The driver's two worker threads: persistence (with group commit) and application. Both
//! receive jobs in order from the driver over bounded channels and report back over the
//! driver's event channel.

use std::sync::Arc;

use raft_core::{Entries, EntryPayload, Index, LogId, Message, ReadyId, Write};
use tokio::sync::mpsc;

use crate::metrics::Metrics;
use crate::snapshot::SnapshotStore;
use crate::state_machine::{SnapshotSource, StateMachine};
use crate::storage::LogStore;
use crate::transport::Transport;

/// The most Readies merged into one batch.
const MAX_GROUP: usize = 256;

/// Work for the persistence thread.
pub(crate) enum WriteJob {
    /// Persist a Ready's write, then send what waited for it.
    Write {
        id: ReadyId,
        write: Box<Write>,
        after: Vec<Message>,
    },
    /// Delete the log up to this index (released by the core).
    Compact(Index),
}

/// Work for the apply thread.
pub(crate) enum ApplyJob {
    /// Restore from a snapshot, then apply entries.
    Apply {
        restore: Option<LogId>,
        entries: Entries,
    },
    /// Capture a snapshot of the state.
    Snapshot,
}

/// What the worker threads report to the driver.
pub(crate) enum Event<O> {
    /// Every write up to this Ready is durable (and the messages after it are sent).
    Persisted(ReadyId),
    /// Entries up to `last` are applied; outputs of commands, and membership entries applied.
    Applied {
        last: Index,
        outputs: Vec<(LogId, O)>,
        memberships: Vec<LogId>,
    },
    /// A consistent view of the state was captured.
    SnapshotCaptured(Box<dyn SnapshotSource>),
    /// A snapshot was written to the store (index, term) or failed.
    SnapshotStored(Result<LogId, String>),
    /// Incoming snapshot data was stored (the offer can be stepped), or receiving it failed.
    SnapshotReceived(Result<Message, String>),
    /// Streaming a snapshot to a peer ended.
    SnapshotSent(raft_core::NodeId, bool),
    /// A worker failed; the node must stop.
    Fatal(String),
}

/// Runs the persistence thread until the job channel closes: takes every queued write (up to
/// `MAX_GROUP`) as one batch, makes it durable with one sync, then sends the messages that waited
/// and reports the last Ready persisted.
pub(crate) fn run_writer<L: LogStore, T: Transport, O: Send + 'static>(
    mut store: L,
    transport: Arc<T>,
    mut jobs: mpsc::Receiver<WriteJob>,
    events: mpsc::UnboundedSender<Event<O>>,
    metrics: Arc<Metrics>,
) {
    let mut batch: Vec<Write> = Vec::new();
    let mut after: Vec<Message> = Vec::new();
    while let Some(first) = jobs.blocking_recv() {
        let mut next = Some(first);
        let mut last_id = None;
        while let Some(job) = next.take() {
            match job {
                WriteJob::Write {
                    id,
                    write,
                    after: msgs,
                } => {
                    batch.push(*write);
                    after.extend(msgs);
                    last_id = Some(id);
                }
                WriteJob::Compact(to) => {
                    if let Err(e) =
                        flush(&mut store, &mut batch, &metrics).and_then(|()| store.compact(to))
                    {
                        let _ = events.send(Event::Fatal(e.to_string()));
                        return;
                    }
                }
            }
            if batch.len() < MAX_GROUP {
                next = jobs.try_recv().ok();
            }
        }
        if let Err(e) = flush(&mut store, &mut batch, &metrics) {
            let _ = events.send(Event::Fatal(e.to_string()));
            return;
        }
        Metrics::add(&metrics.messages_sent, after.len() as u64);
        for m in after.drain(..) {
            transport.send(m);
        }
        if let Some(id) = last_id {
            if events.send(Event::Persisted(id)).is_err() {
                return;
            }
        }
    }
}

/// Writes a batch (for the thread, and for stores that run inline).
pub(crate) fn flush<L: LogStore>(
    store: &mut L,
    batch: &mut Vec<Write>,
    metrics: &Metrics,
) -> Result<(), crate::storage::LogStoreError> {
    if batch.is_empty() {
        return Ok(());
    }
    store.write_batch(batch)?;
    Metrics::inc(&metrics.write_batches);
    Metrics::add(&metrics.writes, batch.len() as u64);
    if batch.iter().any(|w| w.sync) {
        Metrics::inc(&metrics.syncs);
    }
    batch.clear();
    Ok(())
}

/// Does one apply job; `None` when there is nothing to report, `Err` when the state machine
/// failed (the node must stop).
pub(crate) fn apply_job<SM: StateMachine>(
    sm: &mut SM,
    snapshots: &dyn SnapshotStore,
    job: ApplyJob,
    metrics: &Metrics,
) -> Result<Option<Event<SM::Output>>, String> {
    Ok(Some(match job {
        ApplyJob::Apply { restore, entries } => {
            let mut last = None;
            if let Some(snap) = restore {
                snapshots
                    .open(snap)
                    .and_then(|mut data| sm.restore(snap, &mut *data))
                    .map_err(|e| format!("restoring snapshot {snap}: {e}"))?;
                last = Some(snap.index);
            }
            let outs = sm
                .apply(&entries)
                .map_err(|e| format!("applying entries: {e}"))?;
            Metrics::add(&metrics.entries_applied, entries.len() as u64);
            let mut outs = outs.into_iter();
            let mut outputs = Vec::new();
            let mut memberships = Vec::new();
            for e in entries.iter() {
                match &e.payload {
                    EntryPayload::Command(_) => {
                        if let Some(o) = outs.next() {
                            outputs.push((e.log_id(), o));
                        }
                    }
                    EntryPayload::Membership(_) => memberships.push(e.log_id()),
                    EntryPayload::Blank => {}
                }
            }
            if let Some(e) = entries.last() {
                last = Some(e.index);
            }
            let Some(last) = last else { return Ok(None) };
            Event::Applied {
                last,
                outputs,
                memberships,
            }
        }
        ApplyJob::Snapshot => match sm.snapshot() {
            Ok(src) => Event::SnapshotCaptured(src),
            Err(e) => Event::SnapshotStored(Err(e.to_string())),
        },
    }))
}

/// Runs the apply thread until the job channel closes.
pub(crate) fn run_applier<SM: StateMachine>(
    mut sm: SM,
    snapshots: Arc<dyn SnapshotStore>,
    mut jobs: mpsc::Receiver<ApplyJob>,
    events: mpsc::UnboundedSender<Event<SM::Output>>,
    metrics: Arc<Metrics>,
) {
    while let Some(job) = jobs.blocking_recv() {
        let event = match apply_job(&mut sm, &*snapshots, job, &metrics) {
            Ok(Some(ev)) => ev,
            Ok(None) => continue,
            Err(e) => {
                let _ = events.send(Event::Fatal(e));
                return;
            }
        };
        if events.send(event).is_err() {
            return;
        }
    }
}
