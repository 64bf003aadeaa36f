//! How a log is opened: this crate's few settings, and the RocksDB options they become.

use rocksdb::{DBCompressionType, DBRecoveryMode};

/// Settings for [`RocksLog::open_with`](crate::RocksLog::open_with).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    /// Create the database if the directory holds none (default `true`).
    pub create_if_missing: bool,
    /// The size of a memtable in bytes (default 64 MiB). Larger means fewer flushes of the log
    /// into SST files, more memory, and a longer replay of the write-ahead log at open.
    pub write_buffer_size: usize,
    /// RocksDB background threads for flushes and compactions (default 2).
    pub background_jobs: i32,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            create_if_missing: true,
            write_buffer_size: 64 << 20,
            background_jobs: 2,
        }
    }
}

impl Options {
    /// The RocksDB options for these settings.
    pub(crate) fn to_rocksdb(&self) -> rocksdb::Options {
        let mut o = rocksdb::Options::default();
        o.create_if_missing(self.create_if_missing);
        o.set_write_buffer_size(self.write_buffer_size);
        o.set_max_background_jobs(self.background_jobs);
        // Recover every complete write-ahead-log record up to the first damaged one, and nothing
        // after it: the durable prefix of the writes, in order.
        o.set_wal_recovery_mode(DBRecoveryMode::PointInTime);
        o.set_paranoid_checks(true);
        // Built without compression codecs (see the README): say so explicitly.
        o.set_compression_type(DBCompressionType::None);
        // RocksDB's own info log: keep it small.
        o.set_keep_log_file_num(2);
        o.set_max_log_file_size(4 << 20);
        o
    }
}
