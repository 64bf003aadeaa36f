//! [`RocksLog`]: opening a log, and writing to it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use raft_core::{Entry, Index, InitialState, LogId, Write};
use rocksdb::{DB, WriteBatch, WriteOptions};

use crate::codec;
use crate::error::{CompactError, OpenError, ReadError, WriteError};
use crate::keys;
use crate::options::Options;
use crate::state::{LogState, Op, stage};

/// A durable Raft log, hard state, membership and snapshot record in one RocksDB database.
///
/// Cheap to clone (one `Arc`); every clone is the same log. Reads ([`raft_core::Storage`] and
/// the inherent read methods) run from any thread, concurrently with writes. Writes
/// ([`RocksLog::write`], [`RocksLog::write_group`], [`RocksLog::compact`]) are serialised
/// internally; to let several threads or several in-flight Readies share fsyncs, put a
/// [`GroupCommit`](crate::GroupCommit) in front.
///
/// A new log is empty: a node that joins a cluster starts from it, and an initial member writes
/// [`raft_core::bootstrap_write`] first.
#[derive(Clone)]
pub struct RocksLog {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) db: DB,
    path: PathBuf,
    /// The state readers see: always that of the writes already in RocksDB (durable or not).
    pub(crate) state: RwLock<LogState>,
    /// Held for the whole of a write, sync included; records the failure that stopped writes.
    writer: Mutex<Option<rocksdb::Error>>,
}

impl std::fmt::Debug for RocksLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksLog")
            .field("path", &self.inner.path)
            .field("state", &*self.read_state())
            .finish()
    }
}

impl RocksLog {
    /// Opens the log in directory `path`, creating it if missing, with the default [`Options`].
    pub fn open(path: impl AsRef<Path>) -> Result<RocksLog, OpenError> {
        RocksLog::open_with(path, &Options::default())
    }

    /// Opens the log in directory `path` with `options`.
    ///
    /// Checks the format version, decodes and verifies the hard state, membership, snapshot
    /// record and log start, and the first and last entries (so the cached log bounds are
    /// right); [`RocksLog::verify`] checks every entry.
    pub fn open_with(path: impl AsRef<Path>, options: &Options) -> Result<RocksLog, OpenError> {
        let path = path.as_ref().to_path_buf();
        let db = DB::open(&options.to_rocksdb(), &path)?;
        check_format(&db, &path)?;
        let state = crate::recover::load_state(&db)?;
        Ok(RocksLog {
            inner: Arc::new(Inner {
                db,
                path,
                state: RwLock::new(state),
                writer: Mutex::new(None),
            }),
        })
    }

    /// The database's directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The current state: what [`raft_core::Storage::initial_state`] returns. Served from memory.
    #[must_use]
    pub fn state(&self) -> InitialState {
        self.read_state().initial_state()
    }

    /// The last stored entry (the log start when there is none). Served from memory.
    #[must_use]
    pub fn last(&self) -> LogId {
        self.read_state().last
    }

    /// The position before the first stored entry. Served from memory.
    #[must_use]
    pub fn log_start(&self) -> LogId {
        self.read_state().log_start
    }

    /// Applies one [`Write`] as one atomic RocksDB write batch, exactly as
    /// [`raft_core::MemStorage::apply_write`] does, and fsyncs it if `write.sync` is set before
    /// returning. `Ok` means the write is done (and durable if it asked to be): acknowledge it.
    pub fn write(&self, write: &Write) -> Result<(), WriteError> {
        self.write_group([write]).pop().unwrap_or(Ok(()))
    }

    /// Applies `writes` in order as **one** atomic write batch and at most one fsync (if any of
    /// them asks for one): group commit for callers that gather several Readies themselves.
    ///
    /// Returns one result per write, in order. A write that does not fit the log
    /// ([`WriteError::Gap`], [`WriteError::NotConsecutive`]) is left out and the others still go
    /// in, as if each had been passed to [`RocksLog::write`] in turn. If RocksDB fails, every
    /// write gets the error.
    pub fn write_group<'a>(
        &self,
        writes: impl IntoIterator<Item = &'a Write>,
    ) -> Vec<Result<(), WriteError>> {
        let mut writer = self.lock_writer();
        if let Some(e) = &*writer {
            let err = WriteError::Poisoned(e.clone());
            return writes.into_iter().map(|_| Err(err.clone())).collect();
        }
        let mut state = self.read_state().clone();
        let mut ops = Vec::new();
        let mut sync = false;
        let mut results: Vec<Result<(), WriteError>> = writes
            .into_iter()
            .map(|w| {
                stage(&mut state, w, &mut ops)?;
                sync |= w.sync;
                Ok(())
            })
            .collect();
        if let Err(e) = self.commit(&mut writer, &ops, state, sync) {
            for r in results.iter_mut().filter(|r| r.is_ok()) {
                *r = Err(e.clone());
            }
        }
        results
    }

    /// Deletes every entry up to and including `to` with one range delete; `to` becomes the log
    /// start. `to` must be stored and covered by the recorded snapshot. Does nothing for an index
    /// at or before the current start. Call it once [`raft_core::Raft::compact`] allowed it.
    ///
    /// The deletion is not fsynced: if it is lost in a crash, the log reopens with the entries
    /// still there, which is equally valid; any later synced write makes it durable.
    pub fn compact(&self, to: Index) -> Result<(), CompactError> {
        let mut writer = self.lock_writer();
        if let Some(e) = &*writer {
            return Err(WriteError::Poisoned(e.clone()).into());
        }
        let mut state = self.read_state().clone();
        if to <= state.log_start.index {
            return Ok(());
        }
        let covered = state.snapshot.as_ref().map(|s| s.last.index);
        if covered.is_none_or(|s| s < to) {
            return Err(CompactError::NotCovered {
                to,
                snapshot: covered,
            });
        }
        if to > state.last.index {
            return Err(CompactError::NotStored {
                to,
                last: state.last.index,
            });
        }
        let term = self.entry(to)?.term;
        state.log_start = LogId::new(term, to);
        let ops = [
            Op::DeleteRange(
                keys::entry(Index(0)).to_vec(),
                keys::entry(to.next()).to_vec(),
            ),
            Op::Put(
                keys::LOG_START.to_vec(),
                codec::encode(keys::LOG_START, &state.log_start, "log start")?,
            ),
        ];
        self.commit(&mut writer, &ops, state, false)?;
        Ok(())
    }

    /// Fsyncs everything written so far (the write-ahead log).
    pub fn sync(&self) -> Result<(), WriteError> {
        let mut writer = self.lock_writer();
        if let Some(e) = &*writer {
            return Err(WriteError::Poisoned(e.clone()));
        }
        self.inner
            .db
            .flush_wal(true)
            .map_err(|e| poison(&mut writer, e))
    }

    /// Flushes RocksDB's memtable into SST files (and so shortens the write-ahead log replayed at
    /// open). RocksDB does this by itself as the memtable fills; this is for tests and tools.
    pub fn flush(&self) -> Result<(), WriteError> {
        let _writer = self.lock_writer();
        self.inner.db.flush().map_err(WriteError::Rocks)
    }

    /// Writes `ops` as one batch and makes `state` visible to readers; fsyncs if `sync`.
    fn commit(
        &self,
        writer: &mut MutexGuard<'_, Option<rocksdb::Error>>,
        ops: &[Op],
        state: LogState,
        sync: bool,
    ) -> Result<(), WriteError> {
        if !ops.is_empty() {
            let mut batch = WriteBatch::default();
            for op in ops {
                op.add_to(&mut batch);
            }
            // Written without sync while readers are held off, so that they never see RocksDB
            // and the cached state disagree; the fsync follows, outside the readers' lock.
            let mut readers = self
                .inner
                .state
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            let mut opts = WriteOptions::default();
            opts.set_sync(false);
            self.inner
                .db
                .write_opt(batch, &opts)
                .map_err(|e| poison(writer, e))?;
            *readers = state;
        }
        if sync {
            self.inner
                .db
                .flush_wal(true)
                .map_err(|e| poison(writer, e))?;
        }
        Ok(())
    }

    fn lock_writer(&self) -> MutexGuard<'_, Option<rocksdb::Error>> {
        self.inner
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn read_state(&self) -> std::sync::RwLockReadGuard<'_, LogState> {
        self.inner
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The entry at `index`, verified.
    pub fn entry(&self, index: Index) -> Result<Entry, ReadError> {
        crate::read::entry(self, index)
    }
}

/// Records the failure that stops all later writes, and returns it.
fn poison(writer: &mut Option<rocksdb::Error>, e: rocksdb::Error) -> WriteError {
    *writer = Some(e.clone());
    WriteError::Rocks(e)
}

/// Checks the format record, writing it (synced) into a new, empty database.
fn check_format(db: &DB, path: &Path) -> Result<(), OpenError> {
    match db.get(keys::FORMAT)? {
        Some(record) => match codec::format_version(&record) {
            Some(codec::FORMAT_VERSION) => Ok(()),
            Some(found) => Err(OpenError::UnsupportedVersion {
                path: path.to_path_buf(),
                found,
                supported: codec::FORMAT_VERSION,
            }),
            None => Err(OpenError::NotARaftLog {
                path: path.to_path_buf(),
            }),
        },
        None => {
            let mut it = db.raw_iterator();
            it.seek_to_first();
            it.status()?;
            if it.valid() {
                return Err(OpenError::NotARaftLog {
                    path: path.to_path_buf(),
                });
            }
            let mut opts = WriteOptions::default();
            opts.set_sync(true);
            db.put_opt(keys::FORMAT, codec::format_record(), &opts)?;
            Ok(())
        }
    }
}
