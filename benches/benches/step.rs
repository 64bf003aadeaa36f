//! Step throughput of raft-core (W1-W4, see the crate docs), and with `--features raft-rs` the
//! same workloads on tikv/raft-rs 0.7 in the same run, followed by a table of ratios.
//!
//! ```text
//! cargo bench -p raft-benches --bench step
//! cargo bench -p raft-benches --bench step --features raft-rs
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use raft_benches::{N, ours};

fn w1(c: &mut Criterion) {
    let mut g = c.benchmark_group("W1-cluster-commit");
    g.throughput(Throughput::Elements(N as u64)).sample_size(10);
    g.bench_function("raft-core", |b| {
        b.iter_batched(
            || {
                let mut c = ours::Cluster::new();
                c.elect();
                (c, ours::payload_bytes(N))
            },
            |(mut c, p)| black_box(c.commit_all(p)),
            BatchSize::PerIteration,
        );
    });
    #[cfg(feature = "raft-rs")]
    g.bench_function("raft-rs", |b| {
        use raft_benches::raftrs;
        b.iter_batched(
            || {
                let mut c = raftrs::Cluster::new();
                c.elect();
                (c, raft_benches::payloads(N))
            },
            |(mut c, p)| black_box(c.commit_all(p)),
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

fn w2(c: &mut Criterion) {
    let mut g = c.benchmark_group("W2-follower-append");
    g.throughput(Throughput::Elements(N as u64)).sample_size(10);
    g.bench_function("raft-core", |b| {
        b.iter_batched(
            ours::Follower::new,
            |f| black_box(f.run()),
            BatchSize::PerIteration,
        );
    });
    #[cfg(feature = "raft-rs")]
    g.bench_function("raft-rs", |b| {
        use raft_benches::raftrs;
        b.iter_batched(
            raftrs::Follower::new,
            |f| black_box(f.run()),
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

fn w3(c: &mut Criterion) {
    let mut g = c.benchmark_group("W3-leader-propose");
    g.throughput(Throughput::Elements(N as u64)).sample_size(10);
    g.bench_function("raft-core", |b| {
        b.iter_batched(
            || (ours::Single::new(), ours::payload_bytes(N)),
            |(s, p)| black_box(s.run(p)),
            BatchSize::PerIteration,
        );
    });
    #[cfg(feature = "raft-rs")]
    g.bench_function("raft-rs", |b| {
        use raft_benches::raftrs;
        b.iter_batched(
            || (raftrs::Single::new(), raft_benches::payloads(N)),
            |(s, p)| black_box(s.run(p)),
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

fn w4(c: &mut Criterion) {
    let mut g = c.benchmark_group("W4-election");
    g.bench_function("raft-core", |b| {
        b.iter_batched(
            ours::Cluster::new,
            |mut c| black_box(c.elect()),
            BatchSize::SmallInput,
        );
    });
    #[cfg(feature = "raft-rs")]
    g.bench_function("raft-rs", |b| {
        use raft_benches::raftrs;
        b.iter_batched(
            raftrs::Cluster::new,
            |mut c| black_box(c.elect()),
            BatchSize::SmallInput,
        );
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    targets = w1, w2, w3, w4
}

fn main() {
    benches();
    #[cfg(feature = "raft-rs")]
    raft_benches::ratios::report();
    Criterion::default().configure_from_args().final_summary();
}
