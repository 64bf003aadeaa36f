//! The log's small state, cached in memory so that reads never scan, and the staging of a
//! [`Write`] into RocksDB operations exactly as [`raft_core::MemStorage::apply_write`] applies it.

use raft_core::{
    Entry, HardState, Index, InitialState, LogId, SnapshotMeta, StoredMembership, Write, WriteGap,
};

use crate::codec;
use crate::error::WriteError;
use crate::keys;

/// Everything about the log but its entries: what [`InitialState`] reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LogState {
    pub(crate) hard_state: HardState,
    pub(crate) membership: StoredMembership,
    pub(crate) snapshot: Option<SnapshotMeta>,
    pub(crate) log_start: LogId,
    pub(crate) last: LogId,
}

impl LogState {
    pub(crate) fn initial_state(&self) -> InitialState {
        InitialState {
            hard_state: self.hard_state,
            membership: self.membership.clone(),
            log_start: self.log_start,
            snapshot: self.snapshot.clone(),
            last: self.last,
        }
    }
}

/// One RocksDB operation of a staged write.
#[derive(Debug)]
pub(crate) enum Op {
    Put(Vec<u8>, Vec<u8>),
    DeleteRange(Vec<u8>, Vec<u8>),
}

impl Op {
    pub(crate) fn add_to(&self, batch: &mut rocksdb::WriteBatch) {
        match self {
            Op::Put(k, v) => batch.put(k, v),
            Op::DeleteRange(from, to) => batch.delete_range(from, to),
        }
    }
}

/// Checks `write` against `state` and turns it into RocksDB operations, advancing `state` to what
/// it is once the operations are applied. On error, neither `state` nor `ops` changes.
pub(crate) fn stage(
    state: &mut LogState,
    write: &Write,
    ops: &mut Vec<Op>,
) -> Result<(), WriteError> {
    check(state, write)?;
    let mut next = state.clone();
    let mut staged = Vec::with_capacity(write.entries.len() + 5);
    if let Some(snap) = &write.snapshot {
        // Install: the whole log goes, and it restarts after the snapshot.
        staged.push(Op::DeleteRange(
            keys::entry(Index(0)).to_vec(),
            keys::ENTRIES_END.to_vec(),
        ));
        next.log_start = snap.last;
        next.last = snap.last;
        next.snapshot = Some(snap.clone());
        staged.push(put(keys::LOG_START, &next.log_start, "log start")?);
        staged.push(put(keys::SNAPSHOT, snap, "snapshot")?);
    }
    if let (Some(first), Some(last)) = (write.entries.first(), write.entries.last()) {
        if first.index <= next.last.index {
            // A conflicting suffix: delete it, then append.
            staged.push(Op::DeleteRange(
                keys::entry(first.index).to_vec(),
                keys::ENTRIES_END.to_vec(),
            ));
        }
        for e in &write.entries {
            staged.push(put_entry(e)?);
        }
        next.last = last.log_id();
    }
    if let Some(hs) = write.hard_state {
        staged.push(put(keys::HARD_STATE, &hs, "hard state")?);
        next.hard_state = hs;
    }
    if let Some(m) = &write.membership {
        staged.push(put(keys::MEMBERSHIP, m, "membership")?);
        next.membership = m.clone();
    }
    if let Some(snap) = &write.snapshot_taken {
        staged.push(put(keys::SNAPSHOT, snap, "snapshot")?);
        next.snapshot = Some(snap.clone());
    }
    ops.append(&mut staged);
    *state = next;
    Ok(())
}

/// The checks of [`raft_core::MemStorage::apply_write`], and that the entries are consecutive.
fn check(state: &LogState, write: &Write) -> Result<(), WriteError> {
    let Some(first) = write.entries.first() else {
        return Ok(());
    };
    let (base, start) = match &write.snapshot {
        Some(s) => (s.last.index, s.last.index),
        None => (state.last.index, state.log_start.index),
    };
    if first.index > base.next() || first.index <= start {
        return Err(WriteError::Gap(WriteGap {
            first: first.index,
            expected_at_most: base.next(),
        }));
    }
    let mut expected = first.index;
    for e in &write.entries {
        if e.index != expected {
            return Err(WriteError::NotConsecutive {
                found: e.index,
                expected,
            });
        }
        expected = expected.next();
    }
    Ok(())
}

fn put<T: serde::Serialize>(key: &[u8], value: &T, what: &'static str) -> Result<Op, WriteError> {
    Ok(Op::Put(key.to_vec(), codec::encode(key, value, what)?))
}

pub(crate) fn put_entry(e: &Entry) -> Result<Op, WriteError> {
    let key = keys::entry(e.index);
    Ok(Op::Put(key.to_vec(), codec::encode(&key, e, "entry")?))
}
