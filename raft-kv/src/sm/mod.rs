//! The replicated state machine: key-value data in RocksDB, with client sessions for
//! exactly-once writes and the members' addresses.

mod apply;
pub mod keys;
pub mod ops;
mod sessions;
pub(crate) mod snapshot;
mod store;
#[cfg(test)]
mod tests;

use std::io;

use raft_core::{Entries, EntryPayload, Index, LogId};
use raft_tokio::{SnapshotReader, SnapshotSource, StateMachine};
use tokio::sync::watch;

pub use self::apply::SessionLimits;
pub use self::ops::{Op, Output, Proposal, Session, SetCondition};
use self::sessions::Sessions;
pub use self::snapshot::restore as restore_from;
pub use self::store::{KvStore, PeerAddrs, StoreError};

/// The key-value state machine.
pub struct KvStateMachine {
    store: KvStore,
    applied: Index,
    sessions: Sessions,
    limits: SessionLimits,
    /// Bumped whenever the members' addresses change, so the node can update its transport.
    peers_changed: watch::Sender<u64>,
}

impl KvStateMachine {
    /// The state machine over `store`, at the applied index the store records.
    pub fn new(
        store: KvStore,
        limits: SessionLimits,
    ) -> Result<(KvStateMachine, watch::Receiver<u64>), StoreError> {
        let applied = Index(store.applied()?);
        let sessions = Sessions::load(&store)?;
        let (tx, rx) = watch::channel(0);
        Ok((
            KvStateMachine {
                store,
                applied,
                sessions,
                limits,
                peers_changed: tx,
            },
            rx,
        ))
    }

    fn apply_entries(&mut self, entries: &Entries) -> Result<Vec<Output>, StoreError> {
        let mut group = apply::Group::new(&self.store, &self.sessions, self.limits);
        let mut out = Vec::new();
        let mut last = None;
        for e in entries.iter() {
            if let EntryPayload::Command(data) = &e.payload {
                out.push(group.apply_command(e.index.0, data)?);
            }
            last = Some(e.index);
        }
        let Some(last) = last else { return Ok(out) };
        let changed = group.peers_changed;
        for (client, meta) in group.commit(last.0)? {
            self.sessions.update(client, meta);
        }
        self.applied = last;
        if changed {
            self.peers_changed.send_modify(|n| *n += 1);
        }
        Ok(out)
    }
}

impl StateMachine for KvStateMachine {
    type Output = Output;

    fn applied_index(&self) -> Index {
        self.applied
    }

    fn apply(&mut self, entries: &Entries) -> io::Result<Vec<Output>> {
        self.apply_entries(entries).map_err(io::Error::other)
    }

    fn snapshot(&mut self) -> io::Result<Box<dyn SnapshotSource>> {
        Ok(Box::new(snapshot::Checkpoint::take(
            &self.store,
            self.applied,
        )?))
    }

    fn restore(&mut self, last: LogId, data: &mut dyn SnapshotReader) -> io::Result<()> {
        snapshot::restore(&self.store, last, data)?;
        self.sessions = Sessions::load(&self.store).map_err(io::Error::other)?;
        self.applied = last.index;
        self.peers_changed.send_modify(|n| *n += 1);
        Ok(())
    }
}
