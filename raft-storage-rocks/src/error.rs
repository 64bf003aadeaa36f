//! The errors of opening, reading, writing and compacting a log, and how read errors reach the
//! core as [`raft_core::StorageError`].

use std::fmt;
use std::path::PathBuf;

use raft_core::{Index, StorageError, WriteGap};

/// Stored data that failed its checksum, could not be decoded, or contradicts the rest of the
/// log (a missing entry, an entry under the wrong index). The node must stop: this is never
/// repaired silently and never returned as data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corruption {
    /// What was found to be corrupt ("entry", "hard state", ...).
    pub what: &'static str,
    /// The index involved, if any.
    pub index: Option<Index>,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "corrupt {}", self.what)?;
        if let Some(i) = self.index {
            write!(f, " at index {}", i.0)?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for Corruption {}

/// Why [`RocksLog::open`](crate::RocksLog::open) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// RocksDB could not open the database (missing directory, locked by another process, I/O
    /// error, RocksDB's own corruption checks).
    #[error("RocksDB could not open the log: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// The directory holds a RocksDB database that this crate did not make.
    #[error("{path} holds a database that is not a raft-storage-rocks log")]
    NotARaftLog {
        /// The database's directory.
        path: PathBuf,
    },
    /// The log was written in a format version this build does not read.
    #[error(
        "the log at {path} has format version {found}; this build reads version {supported} only"
    )]
    UnsupportedVersion {
        /// The database's directory.
        path: PathBuf,
        /// The version found on disk.
        found: u32,
        /// The version this build reads ([`FORMAT_VERSION`](crate::FORMAT_VERSION)).
        supported: u32,
    },
    /// The log's state is corrupt.
    #[error("the log is corrupt: {0}")]
    Corrupt(#[from] Corruption),
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The entry at this index was compacted away (it is covered by the snapshot).
    #[error("entry {} was compacted", .0.0)]
    Compacted(Index),
    /// The entry at this index is after the last stored entry.
    #[error("entry {} is not stored yet", .0.0)]
    Unavailable(Index),
    /// Stored data is corrupt.
    #[error(transparent)]
    Corrupt(#[from] Corruption),
    /// RocksDB failed (an I/O error, or a block failing RocksDB's own checksum).
    #[error("RocksDB read failed: {0}")]
    Rocks(#[from] rocksdb::Error),
}

impl From<ReadError> for StorageError {
    fn from(e: ReadError) -> StorageError {
        match e {
            ReadError::Compacted(_) => StorageError::Compacted,
            ReadError::Unavailable(_) => StorageError::Unavailable,
            ReadError::Corrupt(c) => StorageError::Corrupt {
                what: c.what,
                index: c.index,
            },
            ReadError::Rocks(e) => StorageError::Other(Box::new(e)),
        }
    }
}

/// Why a write was not (or may not have been) made durable.
///
/// [`WriteError::Gap`] and [`WriteError::NotConsecutive`] reject the write before anything is
/// written and leave the log as it was. [`WriteError::Rocks`] means the outcome is unknown (an
/// fsync that failed may have lost earlier writes too), so the log refuses every later write with
/// [`WriteError::Poisoned`]; reopen it to find out what is durable.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The write's first entry does not follow the stored log (the caller dropped or reordered
    /// writes).
    #[error("write rejected: {0}")]
    Gap(WriteGap),
    /// The write's entries are not consecutive.
    #[error("write rejected: entry {} where {} was expected", found.0, expected.0)]
    NotConsecutive {
        /// The index found.
        found: Index,
        /// The index expected.
        expected: Index,
    },
    /// A value could not be encoded.
    #[error("could not encode the {what}: {reason}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The encoder's message.
        reason: String,
    },
    /// RocksDB failed to write or to sync.
    #[error("RocksDB write failed: {0}")]
    Rocks(rocksdb::Error),
    /// An earlier write or sync failed; nothing more is written until the log is reopened.
    #[error("the log refuses writes after an earlier failure: {0}")]
    Poisoned(rocksdb::Error),
    /// The group-commit writer has stopped.
    #[error("the group-commit writer has stopped")]
    Closed,
}

/// Why [`RocksLog::compact`](crate::RocksLog::compact) refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompactError {
    /// The recorded snapshot does not cover `to` (it ends at `snapshot`, if there is one).
    #[error("cannot compact to {}: the recorded snapshot ends at {:?}", to.0, snapshot.map(|s| s.0))]
    NotCovered {
        /// The requested index.
        to: Index,
        /// The last index the recorded snapshot covers.
        snapshot: Option<Index>,
    },
    /// `to` is after the last stored entry.
    #[error("cannot compact to {}: the log ends at {}", to.0, last.0)]
    NotStored {
        /// The requested index.
        to: Index,
        /// The last stored index.
        last: Index,
    },
    /// The entry at `to` could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The range delete could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}
