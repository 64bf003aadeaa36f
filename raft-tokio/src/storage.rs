//! The log store the driver persists to: a trait, and an in-memory implementation.

use std::sync::{Arc, Mutex, MutexGuard};

use raft_core::{Entry, Index, InitialState, MemStorage, Storage, StorageError, Term, Write};

/// Why a log store write failed. The node stops: a write that cannot be made durable cannot be
/// acknowledged.
#[derive(Debug, thiserror::Error)]
#[error("log store: {0}")]
pub struct LogStoreError(#[from] pub Box<dyn std::error::Error + Send + Sync + 'static>);

/// A durable log store, written by the driver's persistence thread.
///
/// The driver calls [`LogStore::write_batch`] from one dedicated thread, in order, with every
/// [`Write`] that queued up while the previous batch was being made durable (group commit).
/// The core reads through [`LogStore::reader`], concurrently.
pub trait LogStore: Send + 'static {
    /// The read side the core uses (it must see every batch once `write_batch` returned).
    type Reader: Storage + Send + 'static;

    /// A reader over this store.
    fn reader(&self) -> Self::Reader;

    /// Makes `writes` durable, in order, as one atomic batch: synced to stable storage if any of
    /// them asks for it ([`Write::sync`]). Returns only once that is done.
    fn write_batch(&mut self, writes: &[Write]) -> Result<(), LogStoreError>;

    /// Deletes the entries up to and including `to`, which the core released
    /// ([`raft_core::Raft::compact`]).
    fn compact(&mut self, to: Index) -> Result<(), LogStoreError>;

    /// Whether writes complete in microseconds without blocking (an in-memory store): the driver
    /// then performs them itself instead of handing them to a persistence thread. Group commit
    /// is pointless for such a store.
    fn runs_inline(&self) -> bool {
        false
    }
}

/// A log store in memory: durable for as long as the value lives. Clones share the same store,
/// so a test can drop a node and start it again over what it had persisted.
///
/// Its writes run on the driver task ([`LogStore::runs_inline`]) unless built with
/// [`MemLogStore::on_thread`], which exercises the persistence thread as a disk store would.
#[derive(Clone, Debug, Default)]
pub struct MemLogStore {
    inner: Arc<Mutex<MemStorage>>,
    on_thread: bool,
}

impl MemLogStore {
    /// A store holding `storage` (for instance `MemStorage::new(membership)` to bootstrap).
    #[must_use]
    pub fn new(storage: MemStorage) -> MemLogStore {
        MemLogStore {
            inner: Arc::new(Mutex::new(storage)),
            on_thread: false,
        }
    }

    /// The same store, written by the driver's persistence thread (with group commit) rather
    /// than inline.
    #[must_use]
    pub fn on_thread(mut self) -> MemLogStore {
        self.on_thread = true;
        self
    }

    /// The stored state (for tests).
    pub fn lock(&self) -> MutexGuard<'_, MemStorage> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl LogStore for MemLogStore {
    type Reader = MemLogStore;

    fn reader(&self) -> MemLogStore {
        self.clone()
    }

    fn write_batch(&mut self, writes: &[Write]) -> Result<(), LogStoreError> {
        let mut s = self.lock();
        for w in writes {
            s.apply_write(w).map_err(|e| LogStoreError(Box::new(e)))?;
        }
        Ok(())
    }

    fn compact(&mut self, to: Index) -> Result<(), LogStoreError> {
        self.lock()
            .compact(to)
            .map_err(|e| LogStoreError(Box::new(e)))
    }

    fn runs_inline(&self) -> bool {
        !self.on_thread
    }
}

impl Storage for MemLogStore {
    fn initial_state(&self) -> Result<InitialState, StorageError> {
        self.lock().initial_state()
    }

    fn entries(
        &self,
        low: Index,
        high: Index,
        max_bytes: u64,
        out: &mut Vec<Entry>,
    ) -> Result<(), StorageError> {
        self.lock().entries(low, high, max_bytes, out)
    }

    fn term(&self, index: Index) -> Result<Term, StorageError> {
        self.lock().term(index)
    }
}
