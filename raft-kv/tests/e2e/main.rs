//! End-to-end tests: real `raft-kv serve` processes (3 or 4 nodes on loopback, QUIC between them,
//! RocksDB on disk), driven with the `redis` crate, with `raft_kv::client::Client`, and with raw
//! RESP where a client library would not send what is tested.
//!
//! - [`basic`]: writes and linearizable reads through every node, the string commands through the
//!   leader and a follower, pipelines that keep their order, stale reads, `INFO`.
//! - [`failover`]: kill -9 of the leader under writes (a new leader within about two election
//!   timeouts, no acknowledged write lost), its restart and catch-up, then kill -9 of every node.
//! - [`membership`]: a fourth node added as a learner, caught up through the log or through a
//!   snapshot, promoted, given the leadership; then nodes removed.
//! - [`exactly_once`]: tagged writes retried through any node, across leader kills and restarts.
//! - [`limits`]: malformed and oversized requests, the client and pipeline limits, `AUTH`.
//!
//! Every test starts its own cluster in a temporary directory (one port per node, for TCP and UDP,
//! picked at random below the kernel's ephemeral range); each node's output goes to
//! `node-<id>.log` there. When a test fails, the tail of every node's log is printed and the
//! directory is kept for inspection; the processes are killed in any case. The tests run one at
//! a time (see [`cluster::serial`]): several clusters with 20 ms ticks on a 2-core machine would
//! measure the scheduler rather than Raft. Nothing waits a fixed time: every wait polls for a
//! condition, with deadlines generous enough for a loaded machine.

mod cluster;
mod kv;

mod basic;
mod exactly_once;
mod failover;
mod limits;
mod membership;
