//! Damage on disk gives a typed error, never a panic and never wrong data: a flipped byte in an
//! entry, a missing entry, a value under the wrong key, corrupt metadata, a corrupt SST block, a
//! database of another format version, another program's database.

use bytes::Bytes;
use raft_core::{
    Entry, EntryPayload, HardState, Index, NodeId, Storage, StorageError, Term, Write,
};
use raft_storage_rocks::rocksdb::DB;
use raft_storage_rocks::{OpenError, ReadError, RocksLog};

/// The documented key of the entry at `index`: `0x10` then the big-endian index.
fn entry_key(index: u64) -> Vec<u8> {
    let mut k = vec![0x10];
    k.extend_from_slice(&index.to_be_bytes());
    k
}

/// A log with entries 1..=10 and a hard state, closed.
fn make_log() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let log = RocksLog::open(dir.path()).unwrap();
    let mut w = Write::default();
    w.entries = (1..=10)
        .map(|i| Entry {
            term: Term(1),
            index: Index(i),
            payload: EntryPayload::Command(Bytes::from(vec![i as u8; 100])),
        })
        .collect::<Vec<_>>()
        .into();
    w.hard_state = Some(HardState {
        term: Term(1),
        vote: Some(NodeId(1)),
        commit: Index(3),
    });
    w.sync = true;
    log.write(&w).unwrap();
    dir
}

/// Changes the raw database behind the log's back.
fn tamper(dir: &tempfile::TempDir, f: impl FnOnce(&DB)) {
    let db = DB::open_default(dir.path()).unwrap();
    f(&db);
    db.flush().unwrap();
}

fn flip_byte(db: &DB, key: &[u8], at: usize) {
    let mut v = db.get(key).unwrap().unwrap();
    let at = at.min(v.len() - 1);
    v[at] ^= 0x40;
    db.put(key, v).unwrap();
}

fn assert_corrupt_entry<T: std::fmt::Debug>(r: Result<T, StorageError>, index: u64) {
    match r {
        Err(StorageError::Corrupt { what, index: i }) => {
            assert_eq!(what, "entry");
            assert_eq!(i, Some(Index(index)));
        }
        other => panic!("expected a corrupt entry {index}, got {other:?}"),
    }
}

#[test]
fn a_flipped_byte_in_an_entry_fails_its_reads() {
    for at in [0, 3, 4, 20, 1000] {
        let dir = make_log();
        tamper(&dir, |db| flip_byte(db, &entry_key(5), at));
        let log = RocksLog::open(dir.path()).unwrap();
        let mut out = Vec::new();
        assert_corrupt_entry(log.entries(Index(1), Index(11), u64::MAX, &mut out), 5);
        assert!(out.is_empty(), "nothing is returned from a failed read");
        assert_corrupt_entry(log.entries(Index(5), Index(6), u64::MAX, &mut out), 5);
        assert_corrupt_entry(log.term(Index(5)), 5);
        // Entries before it are still served.
        log.entries(Index(1), Index(5), u64::MAX, &mut out).unwrap();
        assert_eq!(out.len(), 4);
        let err = log.verify().unwrap_err();
        assert!(
            matches!(err, ReadError::Corrupt(ref c) if c.index == Some(Index(5))),
            "{err}"
        );
        assert!(
            err.to_string().contains("corrupt entry at index 5"),
            "{err}"
        );
    }
}

#[test]
fn a_missing_entry_or_one_under_the_wrong_key_is_detected() {
    let dir = make_log();
    tamper(&dir, |db| db.delete(entry_key(6)).unwrap());
    let log = RocksLog::open(dir.path()).unwrap();
    assert_corrupt_entry(
        log.entries(Index(2), Index(9), u64::MAX, &mut Vec::new()),
        6,
    );
    assert_corrupt_entry(log.term(Index(6)), 6);
    assert!(log.verify().is_err());
    drop(log);

    let dir = make_log();
    tamper(&dir, |db| {
        let v4 = db.get(entry_key(4)).unwrap().unwrap();
        db.put(entry_key(7), v4).unwrap();
    });
    let log = RocksLog::open(dir.path()).unwrap();
    assert_corrupt_entry(log.term(Index(7)), 7);
}

#[test]
fn corrupt_bounds_or_metadata_fail_the_open() {
    // The last entry is read at open, to know the log's end.
    let dir = make_log();
    tamper(&dir, |db| flip_byte(db, &entry_key(10), 10));
    match RocksLog::open(dir.path()) {
        Err(OpenError::Corrupt(c)) => assert_eq!((c.what, c.index), ("entry", Some(Index(10)))),
        other => panic!("expected a corrupt last entry, got {other:?}"),
    }
    // The first entry must follow the log start.
    let dir = make_log();
    tamper(&dir, |db| db.delete(entry_key(1)).unwrap());
    assert!(matches!(
        RocksLog::open(dir.path()),
        Err(OpenError::Corrupt(_))
    ));
    // The hard state.
    let dir = make_log();
    tamper(&dir, |db| flip_byte(db, &[0x02], 5));
    match RocksLog::open(dir.path()) {
        Err(e @ OpenError::Corrupt(_)) => assert!(e.to_string().contains("hard state"), "{e}"),
        other => panic!("expected a corrupt hard state, got {other:?}"),
    }
}

#[test]
fn another_format_version_or_another_database_is_refused() {
    let dir = make_log();
    tamper(&dir, |db| {
        let mut v = db.get([0x01]).unwrap().unwrap();
        let n = v.len();
        v[n - 4..].copy_from_slice(&2u32.to_be_bytes());
        db.put([0x01], v).unwrap();
    });
    match RocksLog::open(dir.path()) {
        Err(
            e @ OpenError::UnsupportedVersion {
                found: 2,
                supported: 1,
                ..
            },
        ) => {
            assert!(e.to_string().contains("format version 2"), "{e}");
        }
        other => panic!("expected an unsupported version, got {other:?}"),
    }

    let dir = tempfile::tempdir().unwrap();
    tamper(&dir, |db| db.put(b"some", b"other data").unwrap());
    assert!(matches!(
        RocksLog::open(dir.path()),
        Err(OpenError::NotARaftLog { .. })
    ));

    let dir = make_log();
    tamper(&dir, |db| db.put([0x01], b"garbage").unwrap());
    assert!(matches!(
        RocksLog::open(dir.path()),
        Err(OpenError::NotARaftLog { .. })
    ));
}

/// A log whose entries 1..=n are flushed into an SST file, closed; the SST files' paths.
fn make_flushed_log(n: u64) -> (tempfile::TempDir, Vec<std::path::PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let log = RocksLog::open(dir.path()).unwrap();
    let mut w = Write::default();
    w.entries = (1..=n)
        .map(|i| Entry {
            term: Term(1),
            index: Index(i),
            payload: EntryPayload::Command(Bytes::from(vec![i as u8; 100])),
        })
        .collect::<Vec<_>>()
        .into();
    w.sync = true;
    log.write(&w).unwrap();
    log.flush().unwrap();
    drop(log);
    let ssts: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sst"))
        .collect();
    assert_eq!(ssts.len(), 1, "{ssts:?}");
    (dir, ssts)
}

fn damage(file: &std::path::Path, at: impl FnOnce(usize) -> usize) {
    let mut bytes = std::fs::read(file).unwrap();
    let at = at(bytes.len());
    bytes[at] ^= 0xff;
    std::fs::write(file, bytes).unwrap();
}

#[test]
fn a_corrupt_sst_block_is_an_error_not_wrong_data() {
    // 400 entries of ~110 bytes fill about a dozen 4 KiB data blocks, which come first in the
    // file. Damage one in the middle: the log opens (it reads only the first and last entries)
    // and the reads that reach the block fail.
    let (dir, ssts) = make_flushed_log(400);
    damage(&ssts[0], |len| len / 3);
    let log = RocksLog::open(dir.path()).unwrap();
    let mut out = Vec::new();
    match log.entries(Index(1), Index(401), u64::MAX, &mut out) {
        Err(StorageError::Other(e)) => assert!(e.to_string().contains("checksum"), "{e}"),
        other => panic!("expected RocksDB's checksum error, got {other:?}"),
    }
    assert!(out.is_empty());
    assert!(matches!(log.verify(), Err(ReadError::Rocks(_))));
    drop(log);

    // Damage the first block: the open itself, which reads the first entry, fails.
    let (dir, ssts) = make_flushed_log(400);
    damage(&ssts[0], |_| 100);
    match RocksLog::open(dir.path()) {
        Err(e @ OpenError::Rocks(_)) => assert!(e.to_string().contains("checksum"), "{e}"),
        other => panic!("expected RocksDB's checksum error at open, got {other:?}"),
    }
}
