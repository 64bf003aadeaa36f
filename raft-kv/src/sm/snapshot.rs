//! Snapshots of the store: a RocksDB checkpoint (hard links, taken in milliseconds) gives a
//! consistent view while applying goes on; the view is streamed as chunks of key-value pairs.
//!
//! Format: a header chunk (`RKVSNAP1`, the applied index), then chunks of postcard-encoded
//! `Vec<(key, value)>` of the store's raw records, then nothing.

use std::io;
use std::path::PathBuf;

use raft_core::{Index, LogId};
use raft_tokio::{SnapshotReader, SnapshotSource, SnapshotWriter};
use rocksdb::{DB, IteratorMode, Options, WriteBatch, WriteOptions};

use super::keys;
use super::store::KvStore;

const MAGIC: &[u8; 8] = b"RKVSNAP1";
/// Raw bytes of pairs per chunk.
const CHUNK: usize = 1 << 20;

fn io_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// A checkpoint of the store at one applied index.
pub(crate) struct Checkpoint {
    dir: PathBuf,
    index: Index,
}

impl Checkpoint {
    /// Takes a checkpoint of `store` (which has applied up to `index`) in a sibling directory.
    pub(crate) fn take(store: &KvStore, index: Index) -> io::Result<Checkpoint> {
        let dir = store
            .path()
            .with_extension(format!("checkpoint-{}", index.0));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        rocksdb::checkpoint::Checkpoint::new(store.db())
            .and_then(|c| c.create_checkpoint(&dir))
            .map_err(io_err)?;
        Ok(Checkpoint { dir, index })
    }
}

impl Drop for Checkpoint {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl SnapshotSource for Checkpoint {
    fn index(&self) -> Index {
        self.index
    }

    fn write_to(self: Box<Self>, out: &mut dyn SnapshotWriter) -> io::Result<()> {
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&self.index.0.to_be_bytes());
        out.write_chunk(&header)?;
        let db = DB::open_for_read_only(&Options::default(), &self.dir, false).map_err(io_err)?;
        let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut size = 0;
        for item in db.iterator(IteratorMode::Start) {
            let (k, v) = item.map_err(io_err)?;
            size += k.len() + v.len();
            pairs.push((k.into_vec(), v.into_vec()));
            if size >= CHUNK {
                out.write_chunk(&postcard::to_allocvec(&pairs).map_err(io_err)?)?;
                pairs.clear();
                size = 0;
            }
        }
        if !pairs.is_empty() {
            out.write_chunk(&postcard::to_allocvec(&pairs).map_err(io_err)?)?;
        }
        Ok(())
    }
}

/// Replaces the whole store by the snapshot read from `data`, which must cover `last`.
pub fn restore(store: &KvStore, last: LogId, data: &mut dyn SnapshotReader) -> io::Result<()> {
    let bad = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("snapshot {last}: {what}"),
        )
    };
    let header = data.next_chunk()?.ok_or_else(|| bad("empty"))?;
    if header.len() != 16 || &header[..8] != MAGIC {
        return Err(bad("not a key-value snapshot"));
    }
    if keys::u64_of(&header[8..]) != last.index.0 {
        return Err(bad("its index does not match"));
    }
    let db = store.db();
    let mut clear = WriteBatch::default();
    clear.delete_range(&[0u8][..], &[0xffu8; 9][..]);
    db.write(clear).map_err(io_err)?;
    while let Some(chunk) = data.next_chunk()? {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> =
            postcard::from_bytes(&chunk).map_err(|_| bad("undecodable chunk"))?;
        let mut b = WriteBatch::default();
        for (k, v) in pairs {
            b.put(k, v);
        }
        db.write(b).map_err(io_err)?;
    }
    let mut b = WriteBatch::default();
    b.put(keys::APPLIED, last.index.0.to_be_bytes());
    let mut wo = WriteOptions::default();
    wo.set_sync(true);
    db.write_opt(b, &wo).map_err(io_err)?;
    Ok(())
}
