//! Snapshots of the store: a RocksDB checkpoint (hard links, taken in milliseconds) gives a
//! consistent view while applying goes on; the view is streamed as frames of key-value pairs.
//!
//! The data is one byte stream: snapshot stores and transports may cut it into chunks anywhere
//! (`DirSnapshotStore` reads fixed-size chunks, QUIC sends its own), so the format delimits
//! itself and never depends on chunk boundaries:
//!
//! ```text
//! "RKVSNAP2" | applied index (u64 BE) | frame* | 0u32
//! frame = length (u32 BE, > 0) | postcard-encoded Vec<(key, value)> of the store's raw records
//! ```
//!
//! The zero length at the end tells a complete snapshot from a truncated one.

use std::io::{self, Read};
use std::path::PathBuf;

use bytes::{Buf, Bytes};
use raft_core::{Index, LogId};
use raft_tokio::{SnapshotReader, SnapshotSource, SnapshotWriter};
use rocksdb::{DB, IteratorMode, Options, WriteBatch, WriteOptions};

use super::keys;
use super::store::KvStore;

const MAGIC: &[u8; 8] = b"RKVSNAP2";
/// Raw bytes of pairs per frame (a frame may pass it by one record).
const FRAME: usize = 1 << 20;
/// The largest frame a reader accepts: far above what a writer makes (a frame holds at most
/// [`FRAME`] bytes plus one record), low enough that a corrupt length is caught.
const MAX_FRAME: u32 = 1 << 30;

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

/// Writes one frame of `pairs`.
fn write_frame(out: &mut dyn SnapshotWriter, pairs: &[(Vec<u8>, Vec<u8>)]) -> io::Result<()> {
    let body = postcard::to_allocvec(pairs).map_err(io_err)?;
    let len = u32::try_from(body.len())
        .ok()
        .filter(|&n| n <= MAX_FRAME)
        .ok_or_else(|| io_err(format!("a snapshot frame of {} bytes", body.len())))?;
    out.write_chunk(&len.to_be_bytes())?;
    out.write_chunk(&body)
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
            if size >= FRAME {
                write_frame(out, &pairs)?;
                pairs.clear();
                size = 0;
            }
        }
        if !pairs.is_empty() {
            write_frame(out, &pairs)?;
        }
        out.write_chunk(&0u32.to_be_bytes())
    }
}

/// The chunks of a [`SnapshotReader`] as one byte stream.
struct Stream<'a> {
    chunks: &'a mut dyn SnapshotReader,
    current: Bytes,
}

impl Read for Stream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.next_chunk()? {
                Some(c) => self.current = c,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        self.current.copy_to_slice(&mut buf[..n]);
        Ok(n)
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
    let truncated = |e: io::Error| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            bad("truncated")
        } else {
            e
        }
    };
    let mut input = Stream {
        chunks: data,
        current: Bytes::new(),
    };
    let mut header = [0u8; 16];
    input.read_exact(&mut header).map_err(truncated)?;
    if &header[..8] != MAGIC {
        return Err(bad("not a key-value snapshot"));
    }
    if keys::u64_of(&header[8..]) != last.index.0 {
        return Err(bad("its index does not match"));
    }
    let db = store.db();
    let mut clear = WriteBatch::default();
    clear.delete_range(&[0u8][..], &[0xffu8; 9][..]);
    db.write(clear).map_err(io_err)?;
    let mut body = Vec::new();
    loop {
        let mut len = [0u8; 4];
        input.read_exact(&mut len).map_err(truncated)?;
        let len = u32::from_be_bytes(len);
        if len == 0 {
            break;
        }
        if len > MAX_FRAME {
            return Err(bad("a frame is too large"));
        }
        // Grows with the data that arrives, not with the length claimed.
        body.clear();
        (&mut input).take(u64::from(len)).read_to_end(&mut body)?;
        if body.len() != len as usize {
            return Err(bad("truncated"));
        }
        let pairs: Vec<(Vec<u8>, Vec<u8>)> =
            postcard::from_bytes(&body).map_err(|_| bad("undecodable frame"))?;
        let mut b = WriteBatch::default();
        for (k, v) in pairs {
            b.put(k, v);
        }
        db.write(b).map_err(io_err)?;
    }
    if input.read(&mut [0u8; 1])? != 0 {
        return Err(bad("data after the end"));
    }
    let mut b = WriteBatch::default();
    b.put(keys::APPLIED, last.index.0.to_be_bytes());
    let mut wo = WriteOptions::default();
    wo.set_sync(true);
    db.write_opt(b, &wo).map_err(io_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft_core::{Membership, SnapshotMeta, Term};
    use raft_tokio::{DirSnapshotStore, MemSnapshotStore, SnapshotStore};

    /// Collects what a source writes, as one byte string.
    #[derive(Default)]
    struct Collect(Vec<u8>);

    impl SnapshotWriter for Collect {
        fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
            self.0.extend_from_slice(chunk);
            Ok(())
        }

        fn commit(self: Box<Self>) -> io::Result<()> {
            Ok(())
        }
    }

    /// Serves `data` in chunks of `size` bytes.
    struct Chunked {
        data: Bytes,
        size: usize,
    }

    impl SnapshotReader for Chunked {
        fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
            if self.data.is_empty() {
                return Ok(None);
            }
            let n = self.size.min(self.data.len());
            Ok(Some(self.data.split_to(n)))
        }
    }

    /// A store with `n` keys (some values large enough to fill several frames) at index 7.
    fn filled(dir: &std::path::Path, n: usize) -> KvStore {
        let store = KvStore::open(dir.join("src")).unwrap();
        for i in 0..n {
            let value = vec![b'a' + (i % 26) as u8; if i % 10 == 0 { 300_000 } else { 20 }];
            store
                .db()
                .put(keys::data(format!("k{i}").as_bytes()), value)
                .unwrap();
        }
        store.db().put(keys::APPLIED, 7u64.to_be_bytes()).unwrap();
        store
    }

    fn snapshot_bytes(store: &KvStore) -> Vec<u8> {
        let mut out = Collect::default();
        Box::new(Checkpoint::take(store, Index(7)).unwrap())
            .write_to(&mut out)
            .unwrap();
        out.0
    }

    /// Every record of a store.
    type Records = Vec<(Box<[u8]>, Box<[u8]>)>;

    fn assert_same(a: &KvStore, b: &KvStore) {
        let all = |s: &KvStore| -> Records {
            s.db()
                .iterator(IteratorMode::Start)
                .map(Result::unwrap)
                .collect()
        };
        assert_eq!(all(a), all(b));
    }

    /// Regression: the snapshot used to be read back chunk by chunk as written, so a node that
    /// received one through the QUIC transport or read it from a `DirSnapshotStore` (which
    /// both cut the data their own way) refused it as "not a key-value snapshot".
    #[test]
    fn restores_whatever_the_chunking() {
        let dir = tempfile::tempdir().unwrap();
        let src = filled(dir.path(), 200);
        let data = Bytes::from(snapshot_bytes(&src));
        let last = LogId::new(Term(3), Index(7));
        for size in [1, 3, 16, 17, 4096, 1 << 20, usize::MAX] {
            let dst = KvStore::open(dir.path().join(format!("dst-{size}"))).unwrap();
            dst.db().put(keys::data(b"stale"), b"x").unwrap();
            let mut r = Chunked {
                data: data.clone(),
                size,
            };
            restore(&dst, last, &mut r).unwrap();
            assert_same(&src, &dst);
            assert_eq!(dst.applied().unwrap(), 7);
            assert_eq!(dst.count_keys().unwrap(), 200);
        }
    }

    #[test]
    fn restores_through_the_snapshot_stores() {
        let dir = tempfile::tempdir().unwrap();
        let src = filled(dir.path(), 50);
        let meta = SnapshotMeta {
            last: LogId::new(Term(3), Index(7)),
            membership: Membership::default(),
        };
        let stores: [Box<dyn SnapshotStore>; 2] = [
            Box::new(MemSnapshotStore::new()),
            Box::new(DirSnapshotStore::open(dir.path().join("snaps")).unwrap()),
        ];
        for (i, snaps) in stores.iter().enumerate() {
            let mut w = snaps.create(&meta).unwrap();
            Box::new(Checkpoint::take(&src, Index(7)).unwrap())
                .write_to(&mut *w)
                .unwrap();
            w.commit().unwrap();
            let dst = KvStore::open(dir.path().join(format!("dst-{i}"))).unwrap();
            restore(&dst, meta.last, &mut *snaps.open(meta.last).unwrap()).unwrap();
            assert_same(&src, &dst);
        }
    }

    #[test]
    fn refuses_damaged_data() {
        let dir = tempfile::tempdir().unwrap();
        let src = filled(dir.path(), 20);
        let data = snapshot_bytes(&src);
        let last = LogId::new(Term(3), Index(7));
        let dst = KvStore::open(dir.path().join("dst")).unwrap();
        let try_restore = |bytes: Vec<u8>, at: LogId| {
            let mut r = Chunked {
                data: Bytes::from(bytes),
                size: 1000,
            };
            restore(&dst, at, &mut r)
                .expect_err("damaged data must be refused")
                .to_string()
        };
        // Cut anywhere: truncated (the header, a length, a frame, the end mark).
        for cut in [0, 5, 16, 18, 100, data.len() - 1] {
            let e = try_restore(data[..cut].to_vec(), last);
            assert!(e.contains("truncated"), "cut at {cut}: {e}");
        }
        let mut longer = data.clone();
        longer.push(0);
        assert!(try_restore(longer, last).contains("data after the end"));
        let mut other = data.clone();
        other[..8].copy_from_slice(b"RKVSNAP1");
        assert!(try_restore(other, last).contains("not a key-value snapshot"));
        let e = try_restore(data.clone(), LogId::new(Term(3), Index(8)));
        assert!(e.contains("index does not match"), "{e}");
        let mut huge = data[..16].to_vec();
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(try_restore(huge, last).contains("too large"));
        let mut garbage = data[..16].to_vec();
        garbage.extend_from_slice(&3u32.to_be_bytes());
        garbage.extend_from_slice(&[0xff, 0xff, 0xff]);
        garbage.extend_from_slice(&0u32.to_be_bytes());
        assert!(try_restore(garbage, last).contains("undecodable"));
    }
}
