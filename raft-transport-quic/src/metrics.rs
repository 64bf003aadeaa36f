//! Counters, updated lock-free and read as a [`MetricsSnapshot`].

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($( $(#[$doc:meta])* $name:ident, )*) => {
        /// The live counters.
        #[derive(Debug, Default)]
        pub(crate) struct Metrics {
            $( pub(crate) $name: AtomicU64, )*
        }

        /// The transport's counters at one moment. Every counter only grows.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct MetricsSnapshot {
            $( $(#[$doc])* pub $name: u64, )*
        }

        impl Metrics {
            /// A copy of every counter.
            pub(crate) fn snapshot(&self) -> MetricsSnapshot {
                MetricsSnapshot { $( $name: self.$name.load(Ordering::Relaxed), )* }
            }
        }
    };
}

counters! {
    /// Messages written to a QUIC stream.
    messages_sent,
    /// Frame bytes (headers included) of the messages written.
    bytes_sent,
    /// Writes of messages; each coalesces one or more messages.
    batches_sent,
    /// Messages received and handed to the application.
    messages_received,
    /// Frame bytes (headers included) of the messages received.
    bytes_received,
    /// Messages dropped because the peer's outbound queue was full.
    dropped_queue_full,
    /// Messages dropped because the peer was not connected (or the connection was lost while
    /// they were queued or being written).
    dropped_unreachable,
    /// Messages dropped because their recipient has no known address.
    dropped_unknown_peer,
    /// Messages dropped because their encoding exceeds the frame limit.
    dropped_too_large,
    /// Received messages dropped because their `from` is not the connection's authenticated
    /// peer.
    dropped_spoofed,
    /// Received messages dropped because their `to` is not this node.
    dropped_misaddressed,
    /// Incoming streams closed because a frame could not be decoded (or ended mid-frame).
    decode_errors,
    /// Incoming streams closed because a frame exceeded the size limit.
    frames_oversized,
    /// Incoming streams refused because their kind byte is unknown.
    unknown_streams,
    /// Outbound connections established (first connections and reconnections).
    connects,
    /// Outbound connections established to a peer that had been connected before.
    reconnects,
    /// Outbound connection attempts that failed (refused, timed out, identity mismatch).
    connect_failures,
    /// Established outbound connections that were lost.
    connections_lost,
    /// Inbound connections accepted.
    inbound_accepted,
    /// Inbound connections refused: failed handshake (certificate, protocol version), no or
    /// ambiguous node identity, unknown member.
    inbound_refused,
    /// Snapshots streamed and acknowledged by their receiver.
    snapshots_sent,
    /// Data bytes of the snapshots sent.
    snapshot_bytes_sent,
    /// Snapshot sends that failed.
    snapshots_send_failed,
    /// Snapshots received whole and taken by the application.
    snapshots_received,
    /// Data bytes of snapshots received.
    snapshot_bytes_received,
    /// Incoming snapshots refused (receiver busy, invalid header).
    snapshots_refused,
    /// Incoming snapshots that failed mid-stream.
    snapshots_receive_failed,
    /// Unreachable reports handed to the application.
    unreachable_reported,
    /// Unreachable reports dropped because the application's queue was full.
    unreachable_dropped,
}

/// Adds one to a counter.
pub(crate) fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Adds `n` to a counter.
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}
