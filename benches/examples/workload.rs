//! Runs one workload once, for profilers (callgrind, perf):
//! `cargo run --release -p raft-benches --example workload -- w1|w2|w3|w4 [raft-rs]`.

use raft_benches::{N, ours};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("w1", String::as_str);
    let theirs = args.get(2).is_some_and(|a| a == "raft-rs");
    let n = if theirs {
        run_theirs(which)
    } else {
        run_ours(which)
    };
    println!("{which}: {n}");
}

fn run_ours(which: &str) -> usize {
    match which {
        "w1" => {
            let mut c = ours::Cluster::new();
            c.elect();
            c.commit_all(ours::payload_bytes(N))
        }
        "w2" => ours::Follower::new().run(),
        "w3" => ours::Single::new().run(ours::payload_bytes(N)),
        _ => (0..1000).map(|_| ours::Cluster::new().elect()).sum(),
    }
}

#[cfg(feature = "raft-rs")]
fn run_theirs(which: &str) -> usize {
    use raft_benches::raftrs;
    match which {
        "w1" => {
            let mut c = raftrs::Cluster::new();
            c.elect();
            c.commit_all(raft_benches::payloads(N))
        }
        "w2" => raftrs::Follower::new().run(),
        "w3" => raftrs::Single::new().run(raft_benches::payloads(N)),
        _ => (0..1000).map(|_| raftrs::Cluster::new().elect()).sum(),
    }
}

#[cfg(not(feature = "raft-rs"))]
fn run_theirs(_: &str) -> usize {
    eprintln!("build with --features raft-rs");
    0
}
