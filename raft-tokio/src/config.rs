//! The driver's configuration: the core's, plus timing, queue bounds and snapshot policy.

use std::time::Duration;

/// How a node runs.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct NodeConfig {
    /// The core's configuration (id, timeouts in ticks, limits).
    pub raft: raft_core::Config,
    /// The length of one tick. Election and heartbeat timeouts are counted in ticks.
    pub tick: Duration,
    /// The most requests (proposals, reads, ...) queued for the driver; beyond it, requests are
    /// refused as overloaded.
    pub request_queue: usize,
    /// The most proposals appended and waiting for their result.
    pub max_pending_proposals: usize,
    /// The most Readies whose writes or applies may be queued for the worker threads; beyond
    /// it the driver waits (and requests queue up).
    pub io_queue: usize,
    /// Take a snapshot after this many entries were applied since the last one (0: never).
    pub snapshot_every: u64,
    /// Entries kept in the log behind the latest snapshot, so that followers slightly behind
    /// catch up from the log.
    pub compaction_keep: u64,
    /// Seeds the election-timeout randomness (random from the OS when `None`).
    pub seed: Option<u64>,
}

impl NodeConfig {
    /// Defaults: 100 ms ticks (elections after 1 to 2 s), 64 Ki queued requests and pending
    /// proposals, 1 Ki queued IO jobs, a snapshot every 100 Ki entries keeping 10 Ki behind it.
    #[must_use]
    pub fn new(raft: raft_core::Config) -> NodeConfig {
        NodeConfig {
            raft,
            tick: Duration::from_millis(100),
            request_queue: 65_536,
            max_pending_proposals: 65_536,
            io_queue: 1024,
            snapshot_every: 100_000,
            compaction_keep: 10_000,
            seed: None,
        }
    }
}
