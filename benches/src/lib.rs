//! The step-throughput workloads, written once per Raft implementation so that criterion (and
//! the ratio report) run exactly the same work on each.
//!
//! All workloads run in memory, hand messages to `step` in-process, use 128-byte payloads and
//! never call `tick()`:
//! - **W1 cluster-commit**: three voters; node 1 wins an election (untimed). Then, repeatedly,
//!   the leader proposes a batch of 64 entries and one round runs: each node in id order takes its
//!   Ready, persists to memory, applies, acknowledges, and its messages are delivered at once.
//!   Until all `N` entries are applied on all three nodes.
//! - **W2 follower-append**: one follower receives prebuilt appends of 64 entries each (the
//!   leader's commit one batch behind): step, persist, respond, apply.
//! - **W3 leader-propose**: a single voter proposes 64 entries per Ready.
//! - **W4 election**: from `campaign()` on node 1 of a fresh three-node cluster until it leads.

pub mod ours;
#[cfg(feature = "raft-rs")]
pub mod raftrs;
#[cfg(feature = "raft-rs")]
pub mod ratios;

/// Entries per workload (W1, W2, W3).
pub const N: usize = 200_000;
/// Proposals per batch.
pub const BATCH: usize = 64;
/// Payload bytes per entry.
pub const PAYLOAD: usize = 128;

/// Deterministic 128-byte payloads, one per entry.
#[must_use]
pub fn payloads(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut v = vec![0u8; PAYLOAD];
            v[..8].copy_from_slice(&(i as u64).to_le_bytes());
            v
        })
        .collect()
}
