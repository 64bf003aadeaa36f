//! Appends per second with an fsync per write, for batches of 1, 64 and 1,024 entries of 128
//! bytes; fsyncs per second (a one-entry synced write, and a synced hard state alone); and group
//! commit of pipelined one-entry writes.
//!
//! `cargo bench -p raft-storage-rocks --bench append`. Criterion reports time per write and
//! entries per second; the figures measured here are in the README.

use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use raft_core::{Entry, EntryPayload, HardState, Index, Term, Write};
use raft_storage_rocks::{GroupCommit, RocksLog};

const ENTRY_BYTES: usize = 128;

fn append(first: u64, count: u64, payload: &Bytes) -> Write {
    let mut w = Write::default();
    w.entries = (first..first + count)
        .map(|i| Entry {
            term: Term(1),
            index: Index(i),
            payload: EntryPayload::Command(payload.clone()),
        })
        .collect::<Vec<_>>()
        .into();
    w.sync = true;
    w
}

fn bench(c: &mut Criterion) {
    let payload = Bytes::from(vec![0xAB; ENTRY_BYTES]);

    let mut g = c.benchmark_group("append_sync");
    for batch in [1u64, 64, 1024] {
        let dir = tempfile::tempdir().unwrap();
        let log = RocksLog::open(dir.path()).unwrap();
        let mut next = 1;
        g.throughput(Throughput::Elements(batch));
        g.bench_function(format!("{batch}x{ENTRY_BYTES}B"), |b| {
            b.iter(|| {
                log.write(&append(next, batch, &payload)).unwrap();
                next += batch;
            });
        });
    }
    g.finish();

    let mut g = c.benchmark_group("fsync");
    g.throughput(Throughput::Elements(1));
    {
        let dir = tempfile::tempdir().unwrap();
        let log = RocksLog::open(dir.path()).unwrap();
        let mut term = 0;
        g.bench_function("hard_state", |b| {
            b.iter(|| {
                term += 1;
                let mut w = Write::default();
                w.hard_state = Some(HardState {
                    term: Term(term),
                    vote: None,
                    commit: Index(0),
                });
                w.sync = true;
                log.write(&w).unwrap();
            });
        });
    }
    g.finish();

    // Pipelined one-entry writes, 256 in flight: group commit merges them into few fsyncs.
    let mut g = c.benchmark_group("group_commit");
    let in_flight = 256u64;
    g.throughput(Throughput::Elements(in_flight));
    {
        let dir = tempfile::tempdir().unwrap();
        let group = GroupCommit::new(RocksLog::open(dir.path()).unwrap()).unwrap();
        let mut next = 1;
        g.bench_function(format!("{in_flight}x1x{ENTRY_BYTES}B"), |b| {
            b.iter(|| {
                let (tx, rx) = mpsc::channel();
                for i in next..next + in_flight {
                    let tx = tx.clone();
                    group.submit(append(i, 1, &payload), move |r| {
                        r.unwrap();
                        let _ = tx.send(());
                    });
                }
                drop(tx);
                assert_eq!(rx.iter().count() as u64, in_flight);
                next += in_flight;
            });
        });
        let s = group.stats();
        println!(
            "group_commit: {} writes in {} fsyncs ({:.1} writes per fsync)",
            s.writes,
            s.syncs,
            s.writes as f64 / s.syncs.max(1) as f64
        );
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
