//! The key-value data in RocksDB, shared between the state machine (which writes) and the
//! server (which reads, after a read index or for stale reads).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use rocksdb::{BlockBasedOptions, Cache, DB, IteratorMode, Options, ReadOptions};

use super::keys;

/// Why the store could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB failed.
    #[error("key-value store: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// A stored record does not decode: the data directory is damaged.
    #[error("key-value store is corrupt: {0}")]
    Corrupt(String),
}

/// A handle on the key-value data. Cheap to clone.
#[derive(Clone)]
pub struct KvStore {
    db: Arc<DB>,
    path: PathBuf,
}

/// The addresses of one member, as replicated.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PeerAddrs {
    /// Its Raft (QUIC) address.
    pub peer_addr: String,
    /// Its client (RESP) address.
    pub client_addr: String,
}

/// RocksDB settings for the key-value data, tuned for point reads and writes of small values:
/// most writes are blind puts, conditional ones (NX/XX, APPEND, INCR, DEL) read their key first.
fn options() -> Options {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.set_max_background_jobs(2);
    // A small memtable keeps the skiplist that every applied write is inserted into (and a
    // lookup walks) shallow and in cache: with 4 MiB instead of 16, 8-10% more puts/s end to end
    // (benches/README.md); reads are unchanged (the block cache holds the tables). The price is
    // more, smaller flushes, merged by level compaction in the background.
    opts.set_write_buffer_size(4 << 20);
    opts.set_max_write_buffer_number(4);
    // Whole-key bloom filters: in the memtable, and in every table file.
    opts.set_memtable_whole_key_filtering(true);
    opts.set_memtable_prefix_bloom_ratio(0.05);
    let mut table = BlockBasedOptions::default();
    table.set_bloom_filter(10.0, false);
    table.set_whole_key_filtering(true);
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    table.set_block_cache(&Cache::new_lru_cache(64 << 20));
    opts.set_block_based_table_factory(&table);
    opts
}

impl KvStore {
    /// Opens (or creates) the store in `path`, and checks its metadata.
    pub fn open(path: impl AsRef<Path>) -> Result<KvStore, StoreError> {
        let db = DB::open(&options(), path.as_ref())?;
        let store = KvStore {
            db: Arc::new(db),
            path: path.as_ref().to_path_buf(),
        };
        for key in [keys::APPLIED] {
            if let Some(v) = store.db.get_pinned(key)?
                && v.len() != 8
            {
                return Err(StoreError::Corrupt(format!(
                    "{} is {} bytes, not 8",
                    String::from_utf8_lossy(key),
                    v.len()
                )));
            }
        }
        Ok(store)
    }

    pub(crate) fn db(&self) -> &DB {
        &self.db
    }

    /// Where the store lives.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn meta(&self, key: &[u8]) -> Result<u64, StoreError> {
        Ok(self.db.get_pinned(key)?.map_or(0, |v| keys::u64_of(&v)))
    }

    /// The last applied index, as stored.
    pub fn applied(&self) -> Result<u64, StoreError> {
        self.meta(keys::APPLIED)
    }

    /// The number of keys (`DBSIZE`), counted by walking every key: O(number of keys), so
    /// writes need not read a key to keep a count exact (see `DBSIZE` in the README).
    pub fn count_keys(&self) -> Result<u64, StoreError> {
        let mut ro = ReadOptions::default();
        ro.set_iterate_upper_bound(vec![keys::DATA + 1]);
        // A one-off walk over everything: do not churn the block cache with it.
        ro.fill_cache(false);
        let mut it = self.db.raw_iterator_opt(ro);
        it.seek([keys::DATA]);
        let mut n = 0u64;
        while it.valid() {
            n += 1;
            it.next();
        }
        it.status()?;
        Ok(n)
    }

    /// RocksDB's estimate of the number of records (keys, and a little metadata): cheap, for
    /// `INFO keyspace`; may be off by a lot right after many overwrites or deletes.
    #[must_use]
    pub fn estimate_keys(&self) -> u64 {
        self.db
            .property_int_value("rocksdb.estimate-num-keys")
            .ok()
            .flatten()
            .unwrap_or(0)
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>, StoreError> {
        Ok(self
            .db
            .get_pinned(keys::data(key))?
            .map(|v| Bytes::copy_from_slice(&v)))
    }

    /// The values of `keys`, in order.
    pub fn mget(&self, keys_: &[Bytes]) -> Result<Vec<Option<Bytes>>, StoreError> {
        let ks: Vec<Vec<u8>> = keys_.iter().map(|k| keys::data(k)).collect();
        self.db
            .multi_get(&ks)
            .into_iter()
            .map(|r| r.map(|v| v.map(Bytes::from)).map_err(StoreError::from))
            .collect()
    }

    /// One step of `SCAN`: up to `count` keys after the cursor position `after` (exclusive)
    /// that match `filter`, and the cursor to continue from (`None` when done). The cursor is
    /// the last key examined, so a scan continues correctly across writes.
    pub fn scan(
        &self,
        after: Option<&[u8]>,
        count: usize,
        mut filter: impl FnMut(&[u8]) -> bool,
    ) -> Result<(Vec<Bytes>, Option<Bytes>), StoreError> {
        let start = match after {
            Some(k) => {
                let mut s = keys::data(k);
                s.push(0);
                s
            }
            None => vec![keys::DATA],
        };
        let mut ro = ReadOptions::default();
        ro.set_iterate_upper_bound(vec![keys::DATA + 1]);
        let iter = self
            .db
            .iterator_opt(IteratorMode::From(&start, rocksdb::Direction::Forward), ro);
        let mut out = Vec::new();
        let mut examined = 0usize;
        for item in iter {
            let (k, _) = item?;
            let key = &k[1..];
            examined += 1;
            if filter(key) {
                out.push(Bytes::copy_from_slice(key));
            }
            if examined >= count.max(1) {
                return Ok((out, Some(Bytes::copy_from_slice(key))));
            }
        }
        Ok((out, None))
    }

    /// The members' addresses, as replicated.
    pub fn peers(&self) -> Result<BTreeMap<u64, PeerAddrs>, StoreError> {
        let mut out = BTreeMap::new();
        for item in self.db.prefix_iterator([keys::PEER]) {
            let (k, v) = item?;
            if k.first() != Some(&keys::PEER) {
                break;
            }
            let id = keys::u64_of(&k[1..]);
            let addrs: PeerAddrs = postcard::from_bytes(&v)
                .map_err(|e| StoreError::Corrupt(format!("peer record: {e}")))?;
            out.insert(id, addrs);
        }
        Ok(out)
    }
}
