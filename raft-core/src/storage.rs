//! The read side of the caller's log store, and an in-memory store.
//!
//! The core never writes: every write reaches the caller as a [`Write`] in a
//! [`Ready`](crate::Ready). It reads through [`Storage`] only what it no longer keeps in
//! memory: the persisted state at start-up, entries for a lagging follower or to apply after a
//! restart, and terms of old entries.
//!
//! [`MemStorage`] is a complete in-memory [`Storage`] whose [`MemStorage::apply_write`] is the
//! reference for what a durable store does with a [`Write`].

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use crate::mem::MemLog;
use crate::membership::Membership;
use crate::message::{Entry, HardState};
use crate::ready::Write;
use crate::snapshot::SnapshotMeta;
use crate::types::{Index, LogId, Term};

/// The membership in effect after applying the entry at `index` (or the snapshot ending there;
/// `index` 0 for the bootstrap configuration).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StoredMembership {
    /// The index of the entry (or snapshot) that produced this membership.
    pub index: Index,
    /// The membership.
    pub membership: Membership,
}

/// What a log store holds when a node starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InitialState {
    /// The last persisted hard state.
    pub hard_state: HardState,
    /// The last persisted membership.
    pub membership: StoredMembership,
    /// The position before the first stored entry: everything up to it was compacted (it is
    /// covered by `snapshot`); [`LogId::ZERO`] when nothing was ever compacted.
    pub log_start: LogId,
    /// The latest snapshot installed or taken (see [`Write::snapshot`] and
    /// [`Write::snapshot_taken`]); required when `log_start` is not zero, and then at or after it.
    pub snapshot: Option<SnapshotMeta>,
    /// The last persisted entry, or `log_start` when the log holds no entries.
    pub last: LogId,
}

/// An error from a [`Storage`] read.
#[derive(Debug)]
#[non_exhaustive]
pub enum StorageError {
    /// The entries were compacted away (they are covered by a snapshot).
    Compacted,
    /// The entries are not available right now; the core retries later (a transient condition,
    /// such as an asynchronous fetch in progress).
    Unavailable,
    /// The stored data failed its checksum or cannot be decoded. The node must stop.
    Corrupt {
        /// What was found to be corrupt.
        what: &'static str,
        /// The index involved, if any.
        index: Option<Index>,
    },
    /// Any other failure of the store (I/O errors, for instance). The node must stop.
    Other(Box<dyn core::error::Error + Send + Sync + 'static>),
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::Compacted => f.write_str("the requested entries were compacted"),
            StorageError::Unavailable => f.write_str("the requested entries are not available yet"),
            StorageError::Corrupt {
                what,
                index: Some(i),
            } => {
                write!(f, "corrupt storage: {what} at index {i}")
            }
            StorageError::Corrupt { what, index: None } => write!(f, "corrupt storage: {what}"),
            StorageError::Other(e) => write!(f, "storage failure: {e}"),
        }
    }
}

impl core::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            StorageError::Other(e) => Some(&**e),
            _ => None,
        }
    }
}

/// Read access to the persisted log.
///
/// The core calls these methods only for state that is durable (every [`Write`] of the Readies
/// acknowledged with [`Raft::ack_persisted`](crate::Raft::ack_persisted)); it never asks for an
/// entry it has not been told is persisted.
pub trait Storage {
    /// The persisted state, read once when the node starts.
    fn initial_state(&self) -> Result<InitialState, StorageError>;

    /// Appends to `out` the entries with indexes in `[low, high)`, in order, stopping early once
    /// their [`Entry::payload_len`] sum would exceed `max_bytes`; at least one entry is returned
    /// when `low < high`, however large.
    ///
    /// Returns [`StorageError::Compacted`] when `low` is at or before the log start.
    fn entries(
        &self,
        low: Index,
        high: Index,
        max_bytes: u64,
        out: &mut Vec<Entry>,
    ) -> Result<(), StorageError>;

    /// The term of the entry at `index`, for `index` after the log start. (The core answers
    /// for the log start itself.)
    fn term(&self, index: Index) -> Result<Term, StorageError>;
}

impl<S: Storage + ?Sized> Storage for &S {
    fn initial_state(&self) -> Result<InitialState, StorageError> {
        (**self).initial_state()
    }
    fn entries(
        &self,
        low: Index,
        high: Index,
        max_bytes: u64,
        out: &mut Vec<Entry>,
    ) -> Result<(), StorageError> {
        (**self).entries(low, high, max_bytes, out)
    }
    fn term(&self, index: Index) -> Result<Term, StorageError> {
        (**self).term(index)
    }
}

impl<S: Storage + ?Sized> Storage for alloc::rc::Rc<core::cell::RefCell<S>> {
    fn initial_state(&self) -> Result<InitialState, StorageError> {
        self.borrow().initial_state()
    }
    fn entries(
        &self,
        low: Index,
        high: Index,
        max_bytes: u64,
        out: &mut Vec<Entry>,
    ) -> Result<(), StorageError> {
        self.borrow().entries(low, high, max_bytes, out)
    }
    fn term(&self, index: Index) -> Result<Term, StorageError> {
        self.borrow().term(index)
    }
}

/// Why [`MemStorage::apply_write`] refused a write: the write does not fit the stored log.
/// A core never produces such a write; seeing one means the caller dropped or reordered writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteGap {
    /// The index the first new entry had.
    pub first: Index,
    /// The index after the last stored entry.
    pub expected_at_most: Index,
}

impl fmt::Display for WriteGap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "write starts at index {} but the log ends before {}",
            self.first, self.expected_at_most
        )
    }
}

impl core::error::Error for WriteGap {}

/// A log store in memory: the reference implementation of what a store does with a [`Write`].
///
/// Entries are kept as shared runs: storing a [`Write`] costs a reference count per run, not a
/// copy per entry.
#[derive(Clone, Debug, Default)]
pub struct MemStorage {
    hard_state: HardState,
    membership: StoredMembership,
    snapshot: Option<SnapshotMeta>,
    /// The entries after the log start (`log.start()`).
    log: MemLog,
    last: LogId,
}

/// The write that bootstraps a new cluster's log store: the same on every initial member.
///
/// It holds one entry, at index 1 and term 1, carrying [`ConfChange::Bootstrap`] with the initial
/// membership, already committed. Nodes that join later receive it like any other entry (or a
/// snapshot covering it), which is how they learn the initial membership. A node that joins an
/// existing cluster starts from an empty store instead.
///
/// [`ConfChange::Bootstrap`]: crate::ConfChange::Bootstrap
#[must_use]
pub fn bootstrap_write(membership: Membership) -> Write {
    let entry = Entry {
        term: Term(1),
        index: Index(1),
        payload: crate::message::EntryPayload::Membership(
            crate::membership::ConfChange::Bootstrap(membership.clone()),
        ),
    };
    Write {
        snapshot: None,
        entries: crate::entries::Entries::from(alloc::vec![entry]),
        hard_state: Some(HardState {
            term: Term(1),
            vote: None,
            commit: Index(1),
        }),
        membership: Some(StoredMembership {
            index: Index(1),
            membership,
        }),
        sync: true,
        snapshot_taken: None,
    }
}

impl MemStorage {
    /// A store bootstrapped with `membership` (see [`bootstrap_write`]); give every initial
    /// member the same one. [`MemStorage::default`] is the empty store of a joining node.
    #[must_use]
    pub fn new(membership: Membership) -> MemStorage {
        let mut s = MemStorage::default();
        s.apply_write(&bootstrap_write(membership))
            .unwrap_or_else(|_| unreachable!("an empty store takes the bootstrap write"));
        s
    }

    /// The last stored entry's position (the log start when there is none).
    #[must_use]
    pub fn last(&self) -> LogId {
        self.last
    }

    /// The stored hard state.
    #[must_use]
    pub fn hard_state(&self) -> HardState {
        self.hard_state
    }

    /// The stored membership.
    #[must_use]
    pub fn membership(&self) -> &StoredMembership {
        &self.membership
    }

    /// The position before the first stored entry.
    #[must_use]
    pub fn log_start(&self) -> LogId {
        self.log.start()
    }

    /// The latest snapshot recorded.
    #[must_use]
    pub fn snapshot(&self) -> Option<&SnapshotMeta> {
        self.snapshot.as_ref()
    }

    /// The entry at `index`, if stored.
    #[must_use]
    pub fn entry(&self, index: Index) -> Option<&Entry> {
        if index > self.last.index {
            return None;
        }
        self.log.get(index)
    }

    /// Applies a [`Write`] the way every durable store must, as one atomic step: install the
    /// snapshot (dropping the whole log), then truncate from the first new entry and append,
    /// then store the hard state and the membership.
    pub fn apply_write(&mut self, write: &Write) -> Result<(), WriteGap> {
        if let Some(first) = write.entries.first() {
            let base = write
                .snapshot
                .as_ref()
                .map_or(self.last(), |s| s.last)
                .index;
            let start = write
                .snapshot
                .as_ref()
                .map_or(self.log_start().index, |s| s.last.index);
            if first.index > base.next() || first.index <= start {
                return Err(WriteGap {
                    first: first.index,
                    expected_at_most: base.next(),
                });
            }
        }
        if let Some(snap) = &write.snapshot {
            self.log.reset(snap.last);
            self.last = snap.last;
            self.snapshot = Some(snap.clone());
        }
        if let (Some(first), Some(last)) = (write.entries.first(), write.entries.last()) {
            if first.index <= self.last.index {
                self.log.truncate_from(first.index);
            }
            self.last = last.log_id();
            self.log.extend(write.entries.clone());
        }
        if let Some(hs) = write.hard_state {
            self.hard_state = hs;
        }
        if let Some(m) = &write.membership {
            self.membership = m.clone();
        }
        if let Some(snap) = &write.snapshot_taken {
            self.snapshot = Some(snap.clone());
        }
        Ok(())
    }

    /// Drops the entries up to and including `to`, which must be stored and covered by the
    /// recorded snapshot; `to` becomes the log start. Does nothing for an index at or before the
    /// current start. Call it after [`Raft::compact`](crate::Raft::compact) allowed it.
    pub fn compact(&mut self, to: Index) -> Result<(), StorageError> {
        if to <= self.log_start().index {
            return Ok(());
        }
        if self.snapshot.as_ref().is_none_or(|s| s.last.index < to) || self.entry(to).is_none() {
            return Err(StorageError::Unavailable);
        }
        self.log.release_to(to);
        Ok(())
    }
}

impl Storage for MemStorage {
    fn initial_state(&self) -> Result<InitialState, StorageError> {
        Ok(InitialState {
            hard_state: self.hard_state,
            membership: self.membership.clone(),
            snapshot: self.snapshot.clone(),
            log_start: self.log_start(),
            last: self.last,
        })
    }

    fn entries(
        &self,
        low: Index,
        high: Index,
        max_bytes: u64,
        out: &mut Vec<Entry>,
    ) -> Result<(), StorageError> {
        if low <= self.log_start().index {
            return Err(StorageError::Compacted);
        }
        if high > self.last.index.next() {
            return Err(StorageError::Unavailable);
        }
        out.extend(self.log.slice(low, high, max_bytes, 0).iter().cloned());
        Ok(())
    }

    fn term(&self, index: Index) -> Result<Term, StorageError> {
        let log_start = self.log_start();
        if index == log_start.index {
            return Ok(log_start.term);
        }
        if index < log_start.index {
            return Err(StorageError::Compacted);
        }
        self.entry(index)
            .map(|e| e.term)
            .ok_or(StorageError::Unavailable)
    }
}
