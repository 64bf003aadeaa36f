//! Counters of what the driver did, readable at any time without asking the driver.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// Live counters (updated by the driver and its worker threads).
        #[derive(Debug, Default)]
        pub struct Metrics {
            $($(#[$doc])* pub(crate) $name: AtomicU64,)*
        }

        /// A copy of the counters at one moment.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct MetricsSnapshot {
            $($(#[$doc])* pub $name: u64,)*
        }

        impl Metrics {
            /// The current values.
            #[must_use]
            pub fn snapshot(&self) -> MetricsSnapshot {
                MetricsSnapshot { $($name: self.$name.load(Ordering::Relaxed),)* }
            }
        }
    };
}

counters! {
    /// Proposals appended by this node as leader.
    proposals,
    /// Proposals that failed (any error).
    proposals_failed,
    /// Requests refused because the request queue was full.
    requests_refused,
    /// Readies taken from the core.
    readies,
    /// Batches written to the log store (each one atomic write, synced if needed).
    write_batches,
    /// Writes (Readies) merged into those batches.
    writes,
    /// Batches that were synced.
    syncs,
    /// Entries applied to the state machine.
    entries_applied,
    /// Messages handed to the transport.
    messages_sent,
    /// Messages received from peers.
    messages_received,
    /// Messages the core refused (malformed, wrong recipient).
    messages_rejected,
    /// Reads confirmed.
    reads,
    /// Snapshots taken.
    snapshots_taken,
    /// Snapshots streamed to followers.
    snapshots_sent,
    /// Snapshots received and installed.
    snapshots_received,
}

impl Metrics {
    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}
