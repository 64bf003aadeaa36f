//! Group commit: writes pipelined into a `GroupCommit` share fsyncs, complete in order, and all
//! land; a write that does not fit is rejected alone; dropping the writer drains it.

use std::sync::mpsc;

use bytes::Bytes;
use raft_core::{Entry, EntryPayload, Index, Storage, Term, Write};
use raft_storage_rocks::{GroupCommit, RocksLog, WriteError};

fn append(index: u64) -> Write {
    let mut w = Write::default();
    w.entries = vec![Entry {
        term: Term(1),
        index: Index(index),
        payload: EntryPayload::Command(Bytes::from(vec![7; 128])),
    }]
    .into();
    w.sync = true;
    w
}

#[test]
fn pipelined_writes_share_fsyncs_and_complete_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = RocksLog::open(dir.path()).unwrap();
    let group = GroupCommit::new(log.clone()).unwrap();
    let (tx, rx) = mpsc::channel();
    let n = 2000;
    for i in 1..=n {
        let tx = tx.clone();
        group.submit(append(i), move |r| tx.send((i, r)).unwrap());
    }
    drop(tx);
    let done: Vec<(u64, Result<(), WriteError>)> = rx.iter().collect();
    assert_eq!(done.len(), n as usize);
    for (k, (i, r)) in done.iter().enumerate() {
        assert_eq!(*i, k as u64 + 1, "completions in submission order");
        assert!(r.is_ok(), "{r:?}");
    }
    let stats = group.stats();
    assert_eq!(stats.writes, n);
    assert!(stats.syncs < n / 4, "writes should share fsyncs: {stats:?}");
    println!(
        "{n} writes in {} batches, {} fsyncs",
        stats.batches, stats.syncs
    );
    drop(group);
    drop(log);
    let log = RocksLog::open(dir.path()).unwrap();
    assert_eq!(log.last().index, Index(n));
    assert_eq!(log.verify().unwrap(), n);
}

#[test]
fn a_write_that_does_not_fit_is_rejected_alone() {
    let dir = tempfile::tempdir().unwrap();
    let log = RocksLog::open(dir.path()).unwrap();
    let results = log.write_group(&[append(1), append(2), append(5), append(3)]);
    assert!(results[0].is_ok() && results[1].is_ok() && results[3].is_ok());
    assert!(matches!(results[2], Err(WriteError::Gap(_))), "{results:?}");
    assert_eq!(log.last().index, Index(3));
    let mut w = append(4);
    let four = w.entries.first().unwrap().clone();
    w.entries = vec![four.clone(), four].into(); // 4, 4: not consecutive
    assert!(matches!(
        log.write(&w),
        Err(WriteError::NotConsecutive { .. })
    ));
    assert_eq!(log.last().index, Index(3));
}

#[test]
fn dropping_the_writer_completes_what_was_submitted() {
    let dir = tempfile::tempdir().unwrap();
    let log = RocksLog::open(dir.path()).unwrap();
    let group = GroupCommit::new(log.clone()).unwrap();
    let (tx, rx) = mpsc::channel();
    for i in 1..=300 {
        let tx = tx.clone();
        group.submit(append(i), move |r| tx.send(r.is_ok()).unwrap());
    }
    drop(group);
    drop(tx);
    assert_eq!(rx.iter().filter(|ok| *ok).count(), 300);
    let mut out = Vec::new();
    log.entries(Index(1), Index(301), u64::MAX, &mut out)
        .unwrap();
    assert_eq!(out.len(), 300);
}

#[test]
fn blocking_writes_from_several_threads() {
    // Hard-state-only writes need no ordering between threads: they share fsyncs.
    let dir = tempfile::tempdir().unwrap();
    let log = RocksLog::open(dir.path()).unwrap();
    let group = GroupCommit::new(log).unwrap();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let group = &group;
            s.spawn(move || {
                for i in 0..50u64 {
                    let mut w = Write::default();
                    w.hard_state = Some(raft_core::HardState {
                        term: Term(t * 1000 + i),
                        vote: None,
                        commit: Index(0),
                    });
                    w.sync = true;
                    group.write(w).unwrap();
                }
            });
        }
    });
    assert_eq!(group.stats().writes, 200);
}
