//! Chaos tests of `raft-kv`: real server processes, concurrent clients recording a history, faults
//! injected while they run, and a linearizability checker of the history.
//!
//! - [`history`]: what the clients did (call, return, result, or unknown).
//! - [`checker`]: the per-key Wing–Gong linearizability search over a register.
//! - [`relay`]: the UDP (Raft over QUIC) and TCP (write forwarding) relays that sit on every
//!   directed link between two nodes, so that partitions cut real traffic.
//! - [`cluster`]: the `raft-kv serve` processes (start, SIGKILL, SIGSTOP/SIGCONT, restart).
//! - [`nemesis`]: the seeded fault schedule and how each fault is applied.
//! - [`workload`]: the clients.
//! - [`recovery`]: healing at the end, convergence, and comparing the members' data.
//! - [`run`]: one chaos run from start to verdict; [`summary`]: its figures.
//!
//! `raft-chaos --seed 7 --nodes 3 --duration 60s` runs one (see README.md).

pub mod checker;
pub mod cluster;
pub mod history;
pub mod info;
pub mod nemesis;
pub mod recovery;
pub mod relay;
pub mod resp;
pub mod rng;
pub mod run;
pub mod summary;
pub mod workload;
