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

use alloc::collections::VecDeque;
use alloc::vec::Vec;

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
    mem: VecDeque<Entry>,
    mem_start: LogId,
    mem_bytes: u64,
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
            mem: VecDeque::new(),
            mem_start: last,
            mem_bytes: 0,
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
    /// The entry at `index` if it is in memory.
    fn mem_entry(&self, index: Index) -> Option<&Entry> {
        let off = index.0.checked_sub(self.mem_start.index.0 + 1)?;
        self.mem.get(usize::try_from(off).ok()?)
    }

    /// The term of the entry at `index`: `Ok(None)` past the end, `Err(Compacted)` before the
    /// log start.
    pub(crate) fn term(&self, index: Index) -> Result<Option<Term>, StorageError> {
        if index > self.last.index {
            return Ok(None);
        }
        if index == self.last.index {
            return Ok(Some(self.last.term));
        }
        if index >= self.mem_start.index {
            return Ok(Some(match self.mem_entry(index) {
                Some(e) => e.term,
                None => self.mem_start.term,
            }));
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

    /// Appends entries created by this node as leader. Each must follow the last one.
    pub(crate) fn append_own(&mut self, entry: Entry) {
        debug_assert_eq!(
            entry.index,
            self.last.index.next(),
            "leader appends in order"
        );
        self.last = entry.log_id();
        self.mem_bytes += entry.payload_len();
        self.mem.push_back(entry);
    }

    /// The payload bytes of the in-memory entries in `[from, to]` (entries not in memory count 0).
    pub(crate) fn mem_payload_bytes(&self, from: Index, to: Index) -> u64 {
        let mut i = from.max(self.mem_start.index.next());
        let mut sum = 0;
        while i <= to {
            let Some(e) = self.mem_entry(i) else { break };
            sum += e.payload_len();
            i = i.next();
        }
        sum
    }

    /// Offers entries from a leader that follow `prev` (Raft §5.3, Figure 2 "AppendEntries RPC"
    /// steps 2-4). The caller has checked that the entries are consecutive and that `prev` is
    /// after the commit index.
    pub(crate) fn try_append(
        &mut self,
        prev: LogId,
        entries: &[Entry],
    ) -> Result<AppendOutcome, StorageError> {
        if !self.matches(prev)? {
            return Ok(AppendOutcome::Mismatch);
        }
        // Find the first entry that is new or conflicts with ours.
        let mut first_new = entries.len();
        for (i, e) in entries.iter().enumerate() {
            if self.term(e.index)? != Some(e.term) {
                first_new = i;
                break;
            }
        }
        let last_new = prev.index.plus(entries.len() as u64);
        let Some(new) = entries.get(first_new..).filter(|n| !n.is_empty()) else {
            return Ok(AppendOutcome::Matched(last_new));
        };
        let start = new[0].index;
        if start <= self.committed {
            return Ok(AppendOutcome::ConflictsWithCommitted);
        }
        self.truncate_from(start)?;
        for e in new {
            self.mem_bytes += e.payload_len();
            self.mem.push_back(e.clone());
        }
        self.last = new[new.len() - 1].log_id();
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
        if start <= self.mem_start.index {
            // The suffix to drop is partly in storage only: restart the memory window there.
            let prev = start.prev();
            let term = self.term(prev)?.unwrap_or(Term::ZERO);
            self.mem.clear();
            self.mem_bytes = 0;
            self.mem_start = LogId::new(term, prev);
        } else {
            let keep = start.distance_from(self.mem_start.index) - 1;
            for e in self
                .mem
                .drain(usize::try_from(keep).unwrap_or(usize::MAX)..)
            {
                self.mem_bytes -= e.payload_len();
            }
        }
        let prev = start.prev();
        self.last = LogId::new(self.term(prev)?.unwrap_or(Term::ZERO), prev);
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

    /// Appends to `out` the entries in `[low, high)`, up to `max_bytes` of payload (at least one),
    /// from storage and memory.
    pub(crate) fn entries(
        &self,
        low: Index,
        high: Index,
        max_bytes: u64,
        out: &mut Vec<Entry>,
    ) -> Result<(), StorageError> {
        if low <= self.log_start.index {
            return Err(StorageError::Compacted);
        }
        let high = high.min(self.last.index.next());
        if low >= high {
            return Ok(());
        }
        let start_len = out.len();
        let mut bytes = 0u64;
        let mut low = low;
        if low <= self.mem_start.index {
            let from_storage = high.min(self.mem_start.index.next());
            self.storage
                .entries(low, from_storage, max_bytes, out)
                .map_err(behind_our_back)?;
            let got = &out[start_len..];
            // A store may return fewer entries than asked (byte limit), never other ones.
            if got.is_empty() || got.iter().zip(low.0..).any(|(e, i)| e.index.0 != i) {
                return Err(StorageError::Corrupt {
                    what: "the log store returned entries other than those asked for",
                    index: Some(low),
                });
            }
            bytes = got.iter().map(Entry::payload_len).sum();
            low = low.plus(got.len() as u64);
            if low < from_storage || bytes >= max_bytes {
                return Ok(());
            }
        }
        let mut i = low;
        while i < high {
            let Some(e) = self.mem_entry(i) else { break };
            let len = e.payload_len();
            if out.len() > start_len && bytes.saturating_add(len) > max_bytes {
                break;
            }
            bytes = bytes.saturating_add(len);
            out.push(e.clone());
            i = i.next();
        }
        Ok(())
    }

    /// The entries not yet handed out for writing; they are now. Empty when there are none.
    pub(crate) fn take_unwritten(&mut self) -> Vec<Entry> {
        if self.written >= self.last.index {
            return Vec::new();
        }
        let from = usize::try_from(self.written.distance_from(self.mem_start.index)).unwrap_or(0);
        let out: Vec<Entry> = self.mem.range(from..).cloned().collect();
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
    pub(crate) fn take_committed(&mut self, max_bytes: u64) -> Result<Vec<Entry>, StorageError> {
        let mut out = Vec::new();
        if !self.has_unapplied() {
            return Ok(out);
        }
        let high = self.committed.min(self.persisted).next();
        self.entries(self.applying.next(), high, max_bytes, &mut out)?;
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
        while self.mem_start.index < upto {
            let Some(e) = self.mem.pop_front() else { break };
            self.mem_bytes -= e.payload_len();
            self.mem_start = e.log_id();
        }
    }

    /// The index from which memory must be kept to stay within `max_bytes` (releasing more is
    /// allowed only for persisted, applied entries).
    pub(crate) fn memory_floor(&self, max_bytes: u64) -> Index {
        if self.mem_bytes <= max_bytes {
            return self.mem_start.index.next();
        }
        let mut excess = self.mem_bytes - max_bytes;
        let mut i = self.mem_start.index;
        for e in &self.mem {
            if excess == 0 {
                break;
            }
            excess = excess.saturating_sub(e.payload_len().max(1));
            i = e.index;
        }
        i.next()
    }

    /// Replaces the whole log by a snapshot ending at `last` (the install is written in the same
    /// Ready). Everything up to `last` counts as committed; nothing is persisted until the write
    /// is acknowledged.
    pub(crate) fn restore(&mut self, last: LogId) {
        self.mem.clear();
        self.mem_bytes = 0;
        self.log_start = last;
        self.mem_start = last;
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
        if to.index > self.log_start.index && to.index <= self.mem_start.index {
            self.log_start = to;
        }
    }
}
