//! Reading entries back: the [`raft_core::Storage`] interface and [`RocksLog`]'s own typed reads.
//!
//! Every read works on a RocksDB snapshot taken together with the cached log bounds, so a read
//! racing a write sees the log either before or after it, never a mix.

use raft_core::{Entry, Index, InitialState, LogId, Storage, StorageError, Term};
use rocksdb::{DB, ReadOptions, SnapshotWithThreadMode};

use crate::error::{Corruption, ReadError};
use crate::keys;
use crate::log::RocksLog;
use crate::recover::decode_entry;

/// A consistent view: the log bounds and the matching RocksDB snapshot.
struct View<'a> {
    log_start: LogId,
    last: LogId,
    snapshot: SnapshotWithThreadMode<'a, DB>,
}

fn view(log: &RocksLog) -> View<'_> {
    // The writer changes RocksDB only while holding the state lock for writing.
    let state = log.read_state();
    View {
        log_start: state.log_start,
        last: state.last,
        snapshot: log.inner.db.snapshot(),
    }
}

fn missing(index: Index) -> Corruption {
    Corruption {
        what: "entry",
        index: Some(index),
        reason: "missing from the log",
    }
}

impl View<'_> {
    /// Checks that `index` is after the log start and at or before the last entry.
    fn check_stored(&self, index: Index) -> Result<(), ReadError> {
        if index <= self.log_start.index {
            Err(ReadError::Compacted(index))
        } else if index > self.last.index {
            Err(ReadError::Unavailable(index))
        } else {
            Ok(())
        }
    }

    fn entry(&self, index: Index) -> Result<Entry, ReadError> {
        self.check_stored(index)?;
        let key = keys::entry(index);
        let raw = self.snapshot.get(key)?.ok_or_else(|| missing(index))?;
        Ok(decode_entry(&key, &raw, index)?)
    }
}

pub(crate) fn entry(log: &RocksLog, index: Index) -> Result<Entry, ReadError> {
    view(log).entry(index)
}

impl RocksLog {
    /// Appends to `out` the entries in `[low, high)`, verified, stopping before the one whose
    /// payload would take the total past `max_bytes` (but always at least one): the typed form of
    /// [`Storage::entries`]. On error, `out` is left as it was.
    pub fn read_entries(
        &self,
        low: Index,
        high: Index,
        max_bytes: u64,
        out: &mut Vec<Entry>,
    ) -> Result<(), ReadError> {
        let start = out.len();
        let result = self.read_entries_inner(low, high, max_bytes, out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn read_entries_inner(
        &self,
        low: Index,
        high: Index,
        max_bytes: u64,
        out: &mut Vec<Entry>,
    ) -> Result<(), ReadError> {
        let view = view(self);
        if low <= view.log_start.index {
            return Err(ReadError::Compacted(low));
        }
        if high > view.last.index.next() {
            return Err(ReadError::Unavailable(high.prev()));
        }
        if low >= high {
            return Ok(());
        }
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(keys::entry(high).to_vec());
        let mut it = view.snapshot.raw_iterator_opt(opts);
        it.seek(keys::entry(low));
        let mut expected = low;
        let mut bytes = 0u64;
        let start = out.len();
        while expected < high {
            let (Some(key), Some(raw)) = (it.key(), it.value()) else {
                it.status()?;
                return Err(missing(expected).into());
            };
            if keys::entry_index(key) != Some(expected) {
                return Err(missing(expected).into());
            }
            let entry = decode_entry(key, raw, expected)?;
            bytes = bytes.saturating_add(entry.payload_len());
            if bytes > max_bytes && out.len() > start {
                break;
            }
            out.push(entry);
            expected = expected.next();
            it.next();
        }
        Ok(())
    }

    /// The term of the entry at `index`: the log start's term for the log start itself, else
    /// that of the stored entry, verified. The typed form of [`Storage::term`].
    pub fn read_term(&self, index: Index) -> Result<Term, ReadError> {
        let view = view(self);
        if index == view.log_start.index {
            return Ok(view.log_start.term);
        }
        if index == view.last.index {
            return Ok(view.last.term);
        }
        Ok(view.entry(index)?.term)
    }

    /// Reads and verifies every stored entry: each checksum, each index, no gap from the log
    /// start to the last entry. Returns the number of entries. Takes time in proportion to the
    /// log's size; [`RocksLog::open`] checks only the first and last entries.
    pub fn verify(&self) -> Result<u64, ReadError> {
        let view = view(self);
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(keys::ENTRIES_END.to_vec());
        let mut it = view.snapshot.raw_iterator_opt(opts);
        let first = view.log_start.index.next();
        it.seek(keys::entry(first));
        let mut expected = first;
        while let (Some(key), Some(raw)) = (it.key(), it.value()) {
            if keys::entry_index(key) != Some(expected) || expected > view.last.index {
                return Err(Corruption {
                    what: "entry",
                    index: Some(expected),
                    reason: "the stored entries do not match the log bounds",
                }
                .into());
            }
            decode_entry(key, raw, expected)?;
            expected = expected.next();
            it.next();
        }
        it.status()?;
        if expected != view.last.index.next() {
            return Err(missing(expected).into());
        }
        Ok(view.last.index.distance_from(view.log_start.index))
    }
}

impl Storage for RocksLog {
    fn initial_state(&self) -> Result<InitialState, StorageError> {
        Ok(self.state())
    }

    fn entries(
        &self,
        low: Index,
        high: Index,
        max_bytes: u64,
        out: &mut Vec<Entry>,
    ) -> Result<(), StorageError> {
        Ok(self.read_entries(low, high, max_bytes, out)?)
    }

    fn term(&self, index: Index) -> Result<Term, StorageError> {
        Ok(self.read_term(index)?)
    }
}
