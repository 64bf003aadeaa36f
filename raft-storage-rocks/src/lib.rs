//! A durable, crash-safe Raft log for [`raft_core`] on RocksDB.
//!
//! [`RocksLog`] persists what a [`Ready`](raft_core::Ready) asks for (entries, hard state,
//! membership, snapshot records) as one atomic RocksDB write batch per [`Write`](raft_core::Write),
//! fsynced when the write says so and acknowledged only after that, and serves the core's reads
//! through [`raft_core::Storage`]. [`GroupCommit`] puts a writer thread in front of it that merges
//! the writes arriving while an fsync runs into the next batch. No async runtime is involved:
//! bring your own IO loop, or use the `raft-tokio` adapter.
//!
//! # Durability contract
//!
//! - A write is applied exactly as [`raft_core::MemStorage::apply_write`] applies it (the
//!   reference), all or nothing: one RocksDB write batch.
//! - [`RocksLog::write`] returns (and [`GroupCommit`] completes a write) only once the batch is
//!   in RocksDB's write-ahead log and, if `write.sync` is set, fsynced. After a crash the log
//!   reopens as it was after some prefix of the writes, in order, that includes every write
//!   acknowledged as synced.
//! - Every stored value carries a CRC-32C over its key and body, verified on every read. A
//!   corrupt value, a database of another format version or another program's database makes
//!   [`RocksLog::open`] or the read fail with a typed error ([`OpenError`], [`ReadError`], or
//!   [`raft_core::StorageError::Corrupt`] through [`raft_core::Storage`]); never a panic, never
//!   wrong data.
//!
//! # Example
//!
//! ```
//! use raft_core::{Membership, NodeId, Storage, bootstrap_write};
//! use raft_storage_rocks::RocksLog;
//!
//! let dir = tempfile::tempdir()?;
//! let log = RocksLog::open(dir.path())?;
//! log.write(&bootstrap_write(Membership::with_voters([NodeId(1)])))?;
//! drop(log);
//!
//! let log = RocksLog::open(dir.path())?;
//! assert_eq!(log.initial_state()?.last.index.0, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With a [`raft_core::Raft`] over a clone of the log (`Raft::new(config, log.clone(), rng)`),
//! each Ready's write goes to [`RocksLog::write`], or to [`GroupCommit::submit`] with a
//! completion that acknowledges the Ready.
//!
//! # Layout
//!
//! One RocksDB database, default column family. Small records under one-byte keys (`0x01` format
//! record, `0x02` hard state, `0x03` membership, `0x04` latest snapshot, `0x05` log start);
//! entries under `0x10` followed by the big-endian index, so key order is log order and
//! truncation and compaction are single range deletes. Values are
//! `crc32c(key ‖ body) ‖ postcard(body)`. The format record holds the format version,
//! [`FORMAT_VERSION`].

mod codec;
mod error;
mod group;
mod keys;
mod log;
mod options;
mod read;
mod recover;
mod state;

pub use crate::codec::FORMAT_VERSION;
pub use crate::error::{CompactError, Corruption, OpenError, ReadError, WriteError};
pub use crate::group::{GroupCommit, GroupCommitOptions, GroupCommitStats};
pub use crate::log::RocksLog;
pub use crate::options::Options;
/// The RocksDB bindings this crate is built on (its errors appear in this crate's errors).
pub use rocksdb;
