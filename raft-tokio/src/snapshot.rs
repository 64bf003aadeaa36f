//! Snapshot data: written and read in chunks, never whole in memory. A [`SnapshotStore`] keeps
//! the data of the snapshots a node took or received; [`MemSnapshotStore`] and
//! [`DirSnapshotStore`] are provided.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write as _};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use raft_core::{LogId, SnapshotMeta};

/// The size of the chunks snapshot data is read in.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// Receives the data of one snapshot, chunk by chunk. Nothing is visible until
/// [`SnapshotWriter::commit`] returns, after which the data is durable.
pub trait SnapshotWriter: Send {
    /// Appends a chunk.
    fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()>;
    /// Makes the snapshot durable and visible under its [`LogId`].
    fn commit(self: Box<Self>) -> io::Result<()>;
}

/// Yields the data of one snapshot, chunk by chunk.
pub trait SnapshotReader: Send {
    /// The next chunk, or `None` at the end.
    fn next_chunk(&mut self) -> io::Result<Option<Bytes>>;
}

/// Where a node keeps snapshot data, keyed by the snapshot's last entry.
pub trait SnapshotStore: Send + Sync + 'static {
    /// Starts writing the snapshot `meta` (replacing any partial earlier attempt).
    fn create(&self, meta: &SnapshotMeta) -> io::Result<Box<dyn SnapshotWriter>>;
    /// Opens a committed snapshot.
    fn open(&self, last: LogId) -> io::Result<Box<dyn SnapshotReader>>;
    /// Deletes committed snapshots older than `keep`.
    fn prune(&self, keep: LogId) -> io::Result<()>;
}

/// Committed snapshots by (index, term): their chunks.
type SnapshotMap = BTreeMap<(u64, u64), Arc<Vec<Bytes>>>;

/// Snapshot data in memory (for tests and in-memory clusters).
#[derive(Clone, Default)]
pub struct MemSnapshotStore {
    snapshots: Arc<Mutex<SnapshotMap>>,
}

impl MemSnapshotStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> MemSnapshotStore {
        MemSnapshotStore::default()
    }
}

fn key(id: LogId) -> (u64, u64) {
    (id.index.0, id.term.0)
}

struct MemWriter {
    store: MemSnapshotStore,
    key: (u64, u64),
    chunks: Vec<Bytes>,
}

impl SnapshotWriter for MemWriter {
    fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.chunks.push(Bytes::copy_from_slice(chunk));
        Ok(())
    }

    fn commit(self: Box<Self>) -> io::Result<()> {
        let mut map = self
            .store
            .snapshots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(self.key, Arc::new(self.chunks));
        Ok(())
    }
}

struct MemReader {
    chunks: Arc<Vec<Bytes>>,
    next: usize,
}

impl SnapshotReader for MemReader {
    fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        let c = self.chunks.get(self.next).cloned();
        self.next += 1;
        Ok(c)
    }
}

impl SnapshotStore for MemSnapshotStore {
    fn create(&self, meta: &SnapshotMeta) -> io::Result<Box<dyn SnapshotWriter>> {
        Ok(Box::new(MemWriter {
            store: self.clone(),
            key: key(meta.last),
            chunks: Vec::new(),
        }))
    }

    fn open(&self, last: LogId) -> io::Result<Box<dyn SnapshotReader>> {
        let map = self
            .snapshots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let chunks = map.get(&key(last)).cloned().ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("no snapshot {last}"))
        })?;
        Ok(Box::new(MemReader { chunks, next: 0 }))
    }

    fn prune(&self, keep: LogId) -> io::Result<()> {
        let mut map = self
            .snapshots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.retain(|k, _| *k >= key(keep));
        Ok(())
    }
}

/// Snapshot data in files under a directory: `<index>-<term>.snap`, written to a temporary file,
/// synced, then renamed into place (and the directory synced).
#[derive(Clone, Debug)]
pub struct DirSnapshotStore {
    dir: PathBuf,
}

impl DirSnapshotStore {
    /// A store in `dir` (created if missing). Leftover temporary files are removed.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<DirSnapshotStore> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        for e in fs::read_dir(&dir)? {
            let p = e?.path();
            if p.extension().is_some_and(|x| x == "tmp") {
                fs::remove_file(p)?;
            }
        }
        Ok(DirSnapshotStore { dir })
    }

    fn path(&self, id: LogId) -> PathBuf {
        self.dir
            .join(format!("{:020}-{:020}.snap", id.index.0, id.term.0))
    }
}

struct FileWriter {
    tmp: PathBuf,
    path: PathBuf,
    dir: PathBuf,
    out: BufWriter<File>,
}

impl SnapshotWriter for FileWriter {
    fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.out.write_all(chunk)
    }

    fn commit(self: Box<Self>) -> io::Result<()> {
        let file = self
            .out
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&self.tmp, &self.path)?;
        File::open(&self.dir)?.sync_all()
    }
}

struct FileReader {
    input: BufReader<File>,
}

impl SnapshotReader for FileReader {
    fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        let mut buf = vec![0u8; CHUNK_BYTES];
        let mut filled = 0;
        while filled < buf.len() {
            match self.input.read(&mut buf[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        if filled == 0 {
            return Ok(None);
        }
        buf.truncate(filled);
        Ok(Some(Bytes::from(buf)))
    }
}

impl SnapshotStore for DirSnapshotStore {
    fn create(&self, meta: &SnapshotMeta) -> io::Result<Box<dyn SnapshotWriter>> {
        let path = self.path(meta.last);
        let tmp = path.with_extension("tmp");
        let out = BufWriter::new(File::create(&tmp)?);
        Ok(Box::new(FileWriter {
            tmp,
            path,
            dir: self.dir.clone(),
            out,
        }))
    }

    fn open(&self, last: LogId) -> io::Result<Box<dyn SnapshotReader>> {
        Ok(Box::new(FileReader {
            input: BufReader::new(File::open(self.path(last))?),
        }))
    }

    fn prune(&self, keep: LogId) -> io::Result<()> {
        let keep_name = self.path(keep);
        for e in fs::read_dir(&self.dir)? {
            let p = e?.path();
            if p.extension().is_some_and(|x| x == "snap") && p < keep_name {
                fs::remove_file(p)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft_core::{Index, Membership, Term};

    fn roundtrip(store: &dyn SnapshotStore) {
        let meta = SnapshotMeta {
            last: LogId::new(Term(2), Index(10)),
            membership: Membership::default(),
        };
        let mut w = store.create(&meta).unwrap();
        w.write_chunk(b"hello ").unwrap();
        w.write_chunk(b"world").unwrap();
        w.commit().unwrap();
        let mut r = store.open(meta.last).unwrap();
        let mut all = Vec::new();
        while let Some(c) = r.next_chunk().unwrap() {
            all.extend_from_slice(&c);
        }
        assert_eq!(all, b"hello world");
        store.prune(LogId::new(Term(3), Index(11))).unwrap();
        assert!(store.open(meta.last).is_err());
    }

    #[test]
    fn mem_store_roundtrip() {
        roundtrip(&MemSnapshotStore::new());
    }

    #[test]
    fn dir_store_roundtrip() {
        let dir = std::env::temp_dir().join(format!("raft-tokio-snap-{}", std::process::id()));
        roundtrip(&DirSnapshotStore::open(&dir).unwrap());
        let _ = fs::remove_dir_all(dir);
    }
}
