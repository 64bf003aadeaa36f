//! The ratio report: each workload on both implementations, alternating, in one process, so that
//! the machine's noise hits both alike. Prints the medians and `raft-core / raft-rs` speed-ups.

use std::time::{Duration, Instant};

use crate::{N, ours, raftrs};

fn time(f: impl FnOnce() -> usize) -> Duration {
    let start = Instant::now();
    std::hint::black_box(f());
    start.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

/// Measures `ours` and `theirs` alternately `rounds` times (setup excluded) and returns the
/// medians.
fn compare<A, B>(
    rounds: usize,
    ours: impl Fn() -> A,
    run_a: impl Fn(A) -> usize,
    theirs: impl Fn() -> B,
    run_b: impl Fn(B) -> usize,
) -> (Duration, Duration) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let x = ours();
        a.push(time(|| run_a(x)));
        let y = theirs();
        b.push(time(|| run_b(y)));
    }
    (median(a), median(b))
}

/// Runs the comparison and prints the table.
pub fn report() {
    let rows = [
        (
            "W1 cluster-commit",
            compare(
                7,
                || {
                    let mut c = ours::Cluster::new();
                    c.elect();
                    (c, ours::payload_bytes(N))
                },
                |(mut c, p)| c.commit_all(p),
                || {
                    let mut c = raftrs::Cluster::new();
                    c.elect();
                    (c, crate::payloads(N))
                },
                |(mut c, p)| c.commit_all(p),
            ),
            3.0,
            N,
        ),
        (
            "W2 follower-append",
            compare(
                7,
                ours::Follower::new,
                ours::Follower::run,
                raftrs::Follower::new,
                raftrs::Follower::run,
            ),
            2.0,
            N,
        ),
        (
            "W3 leader-propose",
            compare(
                7,
                || (ours::Single::new(), ours::payload_bytes(N)),
                |(s, p)| s.run(p),
                || (raftrs::Single::new(), crate::payloads(N)),
                |(s, p)| s.run(p),
            ),
            2.0,
            N,
        ),
        (
            "W4 election",
            compare(
                301,
                ours::Cluster::new,
                |mut c| c.elect(),
                raftrs::Cluster::new,
                |mut c| c.elect(),
            ),
            1.0,
            1,
        ),
    ];
    println!();
    println!(
        "{:<20} {:>14} {:>14} {:>9} {:>8}",
        "workload", "raft-core", "raft-rs", "speed-up", "target"
    );
    for (name, (ours, theirs), target, n) in rows {
        let fmt = |d: Duration| {
            if n > 1 {
                format!("{:.2} M/s", n as f64 / d.as_secs_f64() / 1e6)
            } else {
                format!("{:.2} us", d.as_secs_f64() * 1e6)
            }
        };
        let ratio = theirs.as_secs_f64() / ours.as_secs_f64();
        let mark = if ratio >= target { "ok" } else { "MISSED" };
        println!(
            "{name:<20} {:>14} {:>14} {:>8.2}x {:>5.1}x {mark}",
            fmt(ours),
            fmt(theirs),
            ratio,
            target
        );
    }
}
