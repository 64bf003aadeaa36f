//! A deterministic cluster simulator (feature `sim`).
//!
//! One `u64` seed determines a whole run: the cluster's size and settings, every message's fate
//! (loss, delay, reordering, duplication), partitions (symmetric and one-way), crashes that lose
//! every write not yet acknowledged as durable, restarts from what was durable, the clients'
//! proposals and reads, snapshots and log compaction, membership changes (learners, promotions,
//! removals, joint configurations) and leadership transfers. The safety properties listed in
//! the checker are verified after every tick; after the faults stop, the cluster must elect a
//! leader and apply every acknowledged proposal on every member within a bounded number of
//! ticks (liveness).
//!
//! A failing seed replays alone, with a trace: `raft-sim --seed N --trace`.
//!
//! ```
//! use raft_core::sim::{SimConfig, run};
//! let report = run(&SimConfig::from_seed(7));
//! assert!(report.violations.is_empty(), "{:?}", report.violations);
//! assert!(report.acknowledged > 0);
//! ```

mod checker;
mod cluster;
mod network;
mod node;
mod rng;
mod state;

use std::string::String;
use std::vec::Vec;

pub use self::network::NetworkFaults;
pub use self::rng::SimRng;
pub use self::state::SimState;
use crate::config::{ProposalForwarding, ReadMode};

/// The settings of one run. [`SimConfig::from_seed`] draws them from the seed.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct SimConfig {
    /// The seed of everything random in the run.
    pub seed: u64,
    /// Nodes in the pool (ids 1 to `nodes`); those beyond `initial_voters` start outside the
    /// cluster and may be added.
    pub nodes: usize,
    /// Voters of the initial membership.
    pub initial_voters: usize,
    /// Ticks with faults.
    pub chaos_ticks: u64,
    /// The bound, in ticks after the faults stop, for the cluster to settle.
    pub liveness_ticks: u64,
    /// Message loss, duplication and delay.
    pub network: NetworkFaults,
    /// Per-tick probability that a node crashes.
    pub crash_rate: f64,
    /// The longest a crashed node stays down, in ticks.
    pub max_down_ticks: u64,
    /// Per-tick probability that a partition starts (when none is in effect).
    pub partition_rate: f64,
    /// The longest a partition lasts, in ticks.
    pub max_partition_ticks: u64,
    /// The longest a write takes to become durable, in ticks.
    pub max_write_delay_ticks: u64,
    /// The longest applying takes after a Ready hands entries out, in ticks.
    pub max_apply_delay_ticks: u64,
    /// Per-tick probability of a burst of proposals.
    pub propose_rate: f64,
    /// Take snapshots and compact logs.
    pub snapshots: bool,
    /// Change the membership.
    pub membership_changes: bool,
    /// Transfer leadership.
    pub transfers: bool,
    /// Issue linearizable reads.
    pub reads: bool,
    /// Raft settings.
    pub election_ticks: u32,
    /// Raft settings.
    pub heartbeat_ticks: u32,
    /// Raft settings.
    pub pre_vote: bool,
    /// Raft settings.
    pub check_quorum: bool,
    /// Raft settings.
    pub read_mode: ReadMode,
    /// Raft settings.
    pub forwarding: ProposalForwarding,
    /// Raft settings.
    pub max_inflight_msgs: usize,
    /// Raft settings.
    pub max_append_entries: usize,
    /// Raft settings.
    pub max_log_cache_bytes: u64,
    /// Raft settings.
    pub max_apply_bytes: u64,
    /// Raft settings.
    pub max_uncommitted_bytes: u64,
    /// Keep a trace of the run.
    pub trace: bool,
}

impl SimConfig {
    /// Draws every setting from the seed, so that the seeds of a long run cover the space of
    /// cluster sizes, network qualities, fault rates and Raft options.
    #[must_use]
    pub fn from_seed(seed: u64) -> SimConfig {
        let mut r = SimRng::new(seed ^ 0x5EED_C0F1_6000_0000);
        let initial_voters = [1, 3, 3, 3, 5, 5][r.below(6) as usize];
        let nodes = initial_voters + r.below(3) as usize;
        let pre_vote = r.chance(0.7);
        let check_quorum = r.chance(0.7);
        let lease = check_quorum && r.chance(0.3);
        SimConfig {
            seed,
            nodes,
            initial_voters,
            chaos_ticks: 800 + r.below(1200),
            liveness_ticks: 3000,
            network: NetworkFaults {
                drop_rate: [0.0, 0.01, 0.05, 0.15][r.below(4) as usize],
                duplicate_rate: [0.0, 0.02, 0.1][r.below(3) as usize],
                max_delay_ticks: r.below(4),
            },
            crash_rate: [0.0, 0.002, 0.01][r.below(3) as usize],
            max_down_ticks: 50 + r.below(200),
            partition_rate: [0.0, 0.003, 0.01][r.below(3) as usize],
            max_partition_ticks: 30 + r.below(200),
            max_write_delay_ticks: r.below(3),
            max_apply_delay_ticks: r.below(3),
            propose_rate: [0.1, 0.3, 0.8][r.below(3) as usize],
            snapshots: r.chance(0.7),
            membership_changes: r.chance(0.6),
            transfers: r.chance(0.5),
            reads: r.chance(0.7),
            election_ticks: 10,
            heartbeat_ticks: 1 + r.below(3) as u32,
            pre_vote,
            check_quorum,
            read_mode: if lease {
                ReadMode::LeaseBased
            } else {
                ReadMode::Safe
            },
            forwarding: if r.chance(0.3) {
                ProposalForwarding::Forward
            } else {
                ProposalForwarding::Refuse
            },
            max_inflight_msgs: [1, 4, 256][r.below(3) as usize],
            max_append_entries: [1, 8, 4096][r.below(3) as usize],
            max_log_cache_bytes: [0, 512, 1 << 20][r.below(3) as usize],
            max_apply_bytes: [1, 256, 1 << 20][r.below(3) as usize],
            max_uncommitted_bytes: [256, 1 << 20][r.below(2) as usize],
            trace: false,
        }
    }
}

/// Faults and operations injected in a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FaultCounts {
    /// Node crashes.
    pub crashes: u64,
    /// Symmetric partitions.
    pub partitions: u64,
    /// One-way partitions.
    pub one_way_partitions: u64,
    /// Snapshots taken.
    pub snapshots: u64,
    /// Log compactions.
    pub compactions: u64,
    /// Membership changes proposed (and accepted by the leader).
    pub membership_changes: u64,
    /// Leadership transfers started.
    pub transfers: u64,
}

impl FaultCounts {
    /// Adds another run's counts.
    pub fn add(&mut self, o: &FaultCounts) {
        self.crashes += o.crashes;
        self.partitions += o.partitions;
        self.one_way_partitions += o.one_way_partitions;
        self.snapshots += o.snapshots;
        self.compactions += o.compactions;
        self.membership_changes += o.membership_changes;
        self.transfers += o.transfers;
    }
}

/// What one run did and found.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct SimReport {
    /// The seed.
    pub seed: u64,
    /// Ticks simulated.
    pub ticks: u64,
    /// Messages sent.
    pub messages: u64,
    /// Messages lost (by chance or partition).
    pub messages_dropped: u64,
    /// Messages delivered twice.
    pub messages_duplicated: u64,
    /// Commands proposed.
    pub proposals: u64,
    /// Commands acknowledged (applied on the node that accepted them, at their position).
    pub acknowledged: u64,
    /// The highest index known to be committed.
    pub committed: u64,
    /// Reads served.
    pub reads_ok: u64,
    /// Reads that failed (no leader, timeout, leadership lost).
    pub reads_failed: u64,
    /// Faults and operations injected.
    pub faults: FaultCounts,
    /// Safety or liveness violations; empty when the run is clean.
    pub violations: Vec<String>,
    /// The trace, if asked for.
    pub trace: Vec<String>,
}

/// Runs one seed.
#[must_use]
pub fn run(config: &SimConfig) -> SimReport {
    cluster::Cluster::new(config).run()
}
