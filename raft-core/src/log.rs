//! The replicated log as the core sees it: a window of recent entries in memory over the
//! caller's [`Storage`], with the positions that track persistence and application.
//!
//! ```text
//!   log_start      mem_start          applied ≤ applying ≤ committed
//!      |               |  in memory ---------------------------------------------->|
//!  ....[ compacted ]...[ in storage only ][ persisted ........ ][ written ][ new ] last
//! ```
//!
//! Invariants:
//! - `log_start.index <= mem_start <= persisted <= written <= last.index`: every entry not in
//!   memory is durable, and every entry not yet handed out for writing is in memory.
//! - `applied <= applying <= min(committed, persisted)`: only durable, committed entries are
//!   handed out for applying.
//! - `committed <= last.index`, and entries up to `committed` are never truncated.
//! - Memory holds `(mem_start, last]`; entries leave memory only once persisted and applied.

use alloc::vec::Vec;

use crate::entries::Entries;
use crate::mem::MemLog;
use crate::message::Entry;
use crate::storage::{Storage, StorageError};
use crate::types::{Index, LogId, Term};

/// The outcome of offering a follower a leader's entries after `prev`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AppendOutcome {
    /// The log matches the leader's up to this index.
    Matched(Index),
    /// The log does not hold `prev`.
    Mismatch,
    /// The entries contradict a committed entry (a faulty or malicious leader).
    ConflictsWithCommitted,
}

/// The store compacted entries after the log start the core knows: it was compacted behind the
/// core's back (not through [`crate::Raft::compact`]), and the node cannot go on.
fn behind_our_back(e: StorageError) -> StorageError {
    match e {
        StorageError::Compacted => StorageError::Corrupt {
            what: "the log store compacted entries after the log start",
            index: None,
        },
        e => e,
    }
}

pub(crate) struct RaftLog<S> {
    storage: S,
    log_start: LogId,
    mem: MemLog,
    last: LogId,
    written: Index,
    persisted: Index,
    committed: Index,
    applying: Index,
    applied: Index,
}

impl<S: Storage> RaftLog<S> {
    /// A log over what `storage` holds: `(log_start, last]`, all of it persisted.
    pub(crate) fn new(
        storage: S,
        log_start: LogId,
        last: LogId,
        committed: Index,
        applied: Index,
    ) -> Self {
        RaftLog {
            storage,
            log_start,
            mem: MemLog::new(last),
            last,
            written: last.index,
            persisted: last.index,
            committed,
            applying: applied,
            applied,
        }
    }
}

impl<S> RaftLog<S> {
    pub(crate) fn storage(&self) -> &S {
        &self.storage
    }

    pub(crate) fn storage_mut(&mut self) -> &mut S {
        &mut self.storage
    }

    pub(crate) fn last(&self) -> LogId {
        self.last
    }

    pub(crate) fn log_start(&self) -> LogId {
        self.log_start
    }

    pub(crate) fn committed(&self) -> Index {
        self.committed
    }

    pub(crate) fn persisted(&self) -> Index {
        self.persisted
    }

    pub(crate) fn written(&self) -> Index {
        self.written
    }

    pub(crate) fn applied(&self) -> Index {
        self.applied
    }

    pub(crate) fn applying(&self) -> Index {
        self.applying
    }
}

impl<S: Storage> RaftLog<S> {
    /// The term of the entry at `index`: `Ok(None)` past the end, `Err(Compacted)` before the
    /// log start.
    pub(crate) fn term(&self, index: Index) -> Result<Option<Term>, StorageError> {
        if index > self.last.index {
            return Ok(None);
        }
        if index == self.last.index {
            return Ok(Some(self.last.term));
        }
        let mem_start = self.mem.start();
        if index > mem_start.index {
            if let Some(e) = self.mem.get(index) {
                return Ok(Some(e.term));
            }
        }
        if index == mem_start.index {
            return Ok(Some(mem_start.term));
        }
        if index == self.log_start.index {
            return Ok(Some(self.log_start.term));
        }
        if index < self.log_start.index {
            return Err(StorageError::Compacted);
        }
        self.storage.term(index).map(Some).map_err(behind_our_back)
    }

    /// Whether the log holds the entry `id`.
    pub(crate) fn matches(&self, id: LogId) -> Result<bool, StorageError> {
        match self.term(id.index) {
            Ok(t) => Ok(t == Some(id.term)),
            // A compacted entry is committed, and committed entries are never in doubt: the
            // caller handles `prev` at or below the commit index before asking.
            Err(StorageError::Compacted) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Appends an entry created by this node as leader. It must follow the last one.
    pub(crate) fn append_own(&mut self, entry: Entry) {
        debug_assert_eq!(
            entry.index,
            self.last.index.next(),
            "leader appends in order"
        );
        self.last = entry.log_id();
        self.mem.push(entry);
    }

    /// Turns entries appended since the last Ready into one shared run.
    pub(crate) fn freeze(&mut self) {
        self.mem.freeze();
    }

    /// The payload bytes of the in-memory entries in `[from, to]` (entries not in memory count 0).
    pub(crate) fn mem_payload_bytes(&self, from: Index, to: Index) -> u64 {
        self.mem.payload_bytes(from, to)
    }

    /// Offers entries from a leader that follow `prev` (Raft §5.3, Figure 2 "AppendEntries RPC"
    /// steps 2-4). The caller has checked that the entries are consecutive and that `prev` is
    /// after the commit index.
    pub(crate) fn try_append(
        &mut self,
        prev: LogId,
        entries: Entries,
    ) -> Result<AppendOutcome, StorageError> {
        if !self.matches(prev)? {
            return Ok(AppendOutcome::Mismatch);
        }
        let last_new = prev.index.plus(entries.len() as u64);
        // Find the first entry that is new or conflicts with ours. Entries past our last one
        // are new: no lookup needed.
        let mut first_new = entries.len();
        for (i, e) in entries.iter().enumerate() {
            if e.index > self.last.index || self.term(e.index)? != Some(e.term) {
                first_new = i;
                break;
            }
        }
        let Some(start) = entries.get(first_new).map(|e| e.index) else {
            return Ok(AppendOutcome::Matched(last_new));
        };
        if start <= self.committed {
            return Ok(AppendOutcome::ConflictsWithCommitted);
        }
        self.truncate_from(start)?;
        let new = if first_new == 0 {
            entries
        } else {
            entries.skip(first_new)
        };
        if let Some(e) = new.last() {
            self.last = e.log_id();
        }
        self.mem.extend(new);
        Ok(AppendOutcome::Matched(last_new))
    }

    /// Removes the entries from `start` on (all after the commit index).
    fn truncate_from(&mut self, start: Index) -> Result<(), StorageError> {
        if start > self.last.index {
            return Ok(());
        }
        debug_assert!(
            start > self.committed,
            "committed entries are never truncated"
        );
        let prev = start.prev();
        let prev_term = self.term(prev)?.unwrap_or(Term::ZERO);
        if start <= self.mem.start().index {
            // The suffix to drop is partly in storage only: restart the memory window there.
            self.mem.reset(LogId::new(prev_term, prev));
        } else {
            self.mem.truncate_from(start);
        }
        self.last = LogId::new(prev_term, prev);
        self.written = self.written.min(prev);
        self.persisted = self.persisted.min(prev);
        Ok(())
    }

    /// Fast backtracking (etcd's `findConflictByTerm`): the last entry at or before `index`
    /// whose term is at most `term`. Stops at the log start.
    pub(crate) fn last_at_or_below(&self, index: Index, term: Term) -> Result<LogId, StorageError> {
        let mut i = index.min(self.last.index);
        loop {
            match self.term(i) {
                Ok(Some(t)) if t <= term => return Ok(LogId::new(t, i)),
                Ok(_) if i > self.log_start.index => i = i.prev(),
                Ok(_) | Err(StorageError::Compacted) => return Ok(self.log_start),
                Err(e) => return Err(e),
            }
        }
    }

    /// The entries in `[low, high)`, up to `max_bytes` of payload (at least one), from storage
    /// and memory.
    pub(crate) fn entries(
        &self,
        low: Index,
        high: Index,
        max_bytes: u64,
    ) -> Result<Entries, StorageError> {
        if low <= self.log_start.index {
            return Err(StorageError::Compacted);
        }
        let high = high.min(self.last.index.next());
        if low >= high {
            return Ok(Entries::new());
        }
        let mem_start = self.mem.start().index;
        if low > mem_start {
            return Ok(self.mem.slice(low, high, max_bytes, 0));
        }
        let from_storage = high.min(mem_start.next());
        let mut got = Vec::new();
        self.storage
            .entries(low, from_storage, max_bytes, &mut got)
            .map_err(behind_our_back)?;
        // A store may return fewer entries than asked (byte limit), never other ones.
        if got.is_empty() || got.iter().zip(low.0..).any(|(e, i)| e.index.0 != i) {
            return Err(StorageError::Corrupt {
                what: "the log store returned entries other than those asked for",
                index: Some(low),
            });
        }
        let bytes: u64 = got.iter().map(Entry::payload_len).sum();
        let next = low.plus(got.len() as u64);
        let mut out = Entries::from(got);
        if next >= from_storage && bytes < max_bytes && next < high {
            for c in self.mem.slice(next, high, max_bytes, bytes).into_chunks() {
                out.push_chunk(c);
            }
        }
        Ok(out)
    }

    /// The entries not yet handed out for writing; they are now. Empty when there are none.
    pub(crate) fn take_unwritten(&mut self) -> Entries {
        if self.written >= self.last.index {
            return Entries::new();
        }
        self.mem.freeze();
        let out = self
            .mem
            .slice(self.written.next(), self.last.index.next(), u64::MAX, 0);
        self.written = self.last.index;
        out
    }

    /// Records that the log is durable up to `index` (already capped by the caller against
    /// later pending rewrites).
    pub(crate) fn set_persisted(&mut self, index: Index) {
        self.persisted = self.persisted.max(index.min(self.written));
    }

    /// Raises the commit index (never lowers it). Returns whether it moved.
    pub(crate) fn commit_to(&mut self, index: Index) -> bool {
        let index = index.min(self.last.index);
        if index > self.committed {
            self.committed = index;
            true
        } else {
            false
        }
    }

    /// Whether committed, durable entries wait to be handed out for applying.
    pub(crate) fn has_unapplied(&self) -> bool {
        self.applying < self.committed.min(self.persisted)
    }

    /// Hands out the next committed, durable entries for applying, up to `max_bytes`.
    pub(crate) fn take_committed(&mut self, max_bytes: u64) -> Result<Entries, StorageError> {
        if !self.has_unapplied() {
            return Ok(Entries::new());
        }
        let high = self.committed.min(self.persisted).next();
        let out = self.entries(self.applying.next(), high, max_bytes)?;
        if let Some(e) = out.last() {
            self.applying = e.index;
        }
        Ok(out)
    }

    /// Records that the state machine applied up to `index` (at most what was handed out).
    pub(crate) fn set_applied(&mut self, index: Index) {
        debug_assert!(index <= self.applying);
        self.applied = self.applied.max(index);
    }

    /// Drops entries from memory up to `keep_from - 1`, limited to persisted and applied ones.
    pub(crate) fn release_memory(&mut self, keep_from: Index) {
        let upto = keep_from.prev().min(self.persisted).min(self.applied);
        self.mem.release_to(upto);
    }

    /// The index from which memory must be kept to stay within `max_bytes` (releasing more is
    /// allowed only for persisted, applied entries).
    pub(crate) fn memory_floor(&self, max_bytes: u64) -> Index {
        self.mem.floor_for(max_bytes)
    }

    /// Replaces the whole log by a snapshot ending at `last` (the install is written in the same
    /// Ready). Everything up to `last` counts as committed; nothing is persisted until the write
    /// is acknowledged.
    pub(crate) fn restore(&mut self, last: LogId) {
        self.mem.reset(last);
        self.log_start = last;
        self.last = last;
        self.written = last.index;
        // Not durable until the install is acknowledged: below the new log start on purpose.
        self.persisted = self.persisted.min(last.index.prev());
        self.committed = self.committed.max(last.index);
    }

    /// After a snapshot install is durable: the log starts at `last` and the state machine will
    /// be restored to it.
    pub(crate) fn snapshot_installed(&mut self, last: LogId) {
        if self.log_start == last {
            self.persisted = self.persisted.max(last.index);
        }
    }

    /// The state machine is being restored from the snapshot ending at `index`.
    pub(crate) fn restoring_to(&mut self, index: Index) {
        self.applying = self.applying.max(index);
    }

    /// Moves the log start forward after the caller compacted its store up to `to`.
    pub(crate) fn compacted(&mut self, to: LogId) {
        if to.index > self.log_start.index && to.index <= self.mem.start().index {
            self.log_start = to;
        }
    }
}
