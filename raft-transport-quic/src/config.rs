//! The transport's configuration: identity, addresses, TLS material and limits.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use raft_core::NodeId;

use crate::identity::{InvalidClusterName, validate_cluster_name};

/// Everything [`Transport::bind`](crate::Transport::bind) needs.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TransportConfig {
    /// This node's id. Its certificate must carry exactly this id.
    pub node_id: NodeId,
    /// The cluster's name: node identities are `node-<id>.<cluster_name>`.
    pub cluster_name: String,
    /// The UDP address to listen on (port 0 picks a free port).
    pub listen_addr: SocketAddr,
    /// The peers' addresses. Changeable later with
    /// [`Transport::set_peers`](crate::Transport::set_peers) and friends. An entry for this
    /// node's own id is ignored.
    pub peers: BTreeMap<NodeId, SocketAddr>,
    /// The cluster CA's certificate and this node's certificate and key.
    pub tls: TlsMaterial,
    /// Accept connections from nodes of the cluster that are not in `peers`. Off by default:
    /// a node removed from the membership is refused even though its certificate is still
    /// valid.
    pub accept_unknown_peers: bool,
    /// Bounds of the queues between the application and the network.
    pub queues: QueueLimits,
    /// Frame size limits.
    pub frames: FrameLimits,
    /// QUIC flow control: how much unread data a peer may send.
    pub flow: FlowControl,
    /// Timeouts and keep-alives.
    pub timeouts: Timeouts,
    /// Reconnection backoff.
    pub backoff: Backoff,
}

impl TransportConfig {
    /// A configuration with default limits and no peers.
    #[must_use]
    pub fn new(
        node_id: NodeId,
        cluster_name: impl Into<String>,
        listen_addr: SocketAddr,
        tls: TlsMaterial,
    ) -> Self {
        Self {
            node_id,
            cluster_name: cluster_name.into(),
            listen_addr,
            peers: BTreeMap::new(),
            tls,
            accept_unknown_peers: false,
            queues: QueueLimits::default(),
            frames: FrameLimits::default(),
            flow: FlowControl::default(),
            timeouts: Timeouts::default(),
            backoff: Backoff::default(),
        }
    }

    /// The same configuration with these peers.
    #[must_use]
    pub fn with_peers(mut self, peers: BTreeMap<NodeId, SocketAddr>) -> Self {
        self.peers = peers;
        self
    }

    /// Checks for values that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_cluster_name(&self.cluster_name)?;
        let q = &self.queues;
        let f = &self.frames;
        let w = &self.flow;
        for (name, value) in [
            ("queues.peer_messages", q.peer_messages),
            ("queues.peer_bytes", q.peer_bytes),
            ("queues.inbound_messages", q.inbound_messages),
            ("queues.inbound_snapshots", q.inbound_snapshots),
            ("queues.unreachable_events", q.unreachable_events),
            ("queues.batch_bytes", q.batch_bytes),
            ("frames.snapshot_read_ahead", f.snapshot_read_ahead),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero(name));
            }
        }
        for (name, value) in [
            ("frames.max_frame_bytes", f.max_frame_bytes),
            ("frames.snapshot_chunk_bytes", f.snapshot_chunk_bytes),
            (
                "frames.max_snapshot_chunk_bytes",
                f.max_snapshot_chunk_bytes,
            ),
            ("flow.max_message_streams", w.max_message_streams),
            ("flow.max_snapshot_streams", w.max_snapshot_streams),
            ("flow.stream_receive_window", w.stream_receive_window),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero(name));
            }
        }
        if f.max_frame_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "frames.max_frame_bytes must be at least 1024",
            ));
        }
        if f.snapshot_chunk_bytes > f.max_snapshot_chunk_bytes {
            return Err(ConfigError::Invalid(
                "frames.snapshot_chunk_bytes must not exceed frames.max_snapshot_chunk_bytes",
            ));
        }
        if w.connection_receive_window < u64::from(w.stream_receive_window) * 2 {
            return Err(ConfigError::Invalid(
                "flow.connection_receive_window must be at least twice flow.stream_receive_window, \
                 so that a stalled snapshot stream cannot block messages",
            ));
        }
        if w.connection_receive_window > (1 << 62) - 1 {
            return Err(ConfigError::Invalid(
                "flow.connection_receive_window is too large",
            ));
        }
        let t = &self.timeouts;
        if t.connect.is_zero()
            || t.handshake.is_zero()
            || t.idle.is_zero()
            || t.initial_rtt.is_zero()
        {
            return Err(ConfigError::Invalid("timeouts must be positive"));
        }
        if t.keep_alive >= t.idle {
            return Err(ConfigError::Invalid(
                "timeouts.keep_alive must be shorter than timeouts.idle",
            ));
        }
        let b = &self.backoff;
        if b.initial.is_zero() || b.max < b.initial || !(0.0..=1.0).contains(&b.jitter) {
            return Err(ConfigError::Invalid(
                "backoff: initial must be positive, max at least initial, jitter within [0, 1]",
            ));
        }
        Ok(())
    }
}

/// The cluster CA's certificate and this node's certificate and private key, in PEM.
#[derive(Clone)]
pub struct TlsMaterial {
    /// The cluster CA certificate(s) that peers' certificates must chain to. Several may be
    /// given, one after the other, while a CA is being rotated.
    pub ca_cert_pem: String,
    /// This node's certificate, optionally followed by intermediate certificates.
    pub cert_pem: String,
    /// This node's private key (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: String,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Bounds of the queues between the application and the network. Every one is a hard bound:
/// what does not fit is dropped and counted, never buffered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueLimits {
    /// The most messages waiting to be sent to one peer.
    pub peer_messages: usize,
    /// The most bytes (estimated from payload sizes) waiting to be sent to one peer. A single
    /// message larger than this is still accepted into an empty queue.
    pub peer_bytes: usize,
    /// The most received messages waiting for the application ([`Inbox::messages`]). When it is
    /// full, reading from the network pauses and QUIC flow control pushes back on the senders.
    ///
    /// [`Inbox::messages`]: crate::Inbox::messages
    pub inbound_messages: usize,
    /// The most incoming snapshots waiting for the application to take them; further ones are
    /// refused (the sender sees [`SnapshotRefusal::Busy`](crate::SnapshotRefusal::Busy)).
    pub inbound_snapshots: usize,
    /// The most unreachable reports waiting for the application; further ones are dropped and
    /// counted.
    pub unreachable_events: usize,
    /// Queued messages are coalesced into one write of up to about this many bytes.
    pub batch_bytes: usize,
    /// At most one unreachable report per peer per this interval.
    pub unreachable_interval: Duration,
}

impl Default for QueueLimits {
    /// 1,024 messages or 32 MiB per peer, 4,096 inbound messages, 4 inbound snapshots, 1,024
    /// unreachable reports, batches of 1 MiB, one report per peer per 100 ms.
    fn default() -> Self {
        Self {
            peer_messages: 1024,
            peer_bytes: 32 << 20,
            inbound_messages: 4096,
            inbound_snapshots: 4,
            unreachable_events: 1024,
            batch_bytes: 1 << 20,
            unreachable_interval: Duration::from_millis(100),
        }
    }
}

/// Frame size limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FrameLimits {
    /// The largest encoded message, sent or received. A larger message is dropped before it is
    /// sent; a larger incoming frame closes its stream. Keep it above the core's
    /// `max_append_bytes` plus overhead.
    pub max_frame_bytes: u32,
    /// Snapshot data is sent in chunks of at most this many bytes.
    pub snapshot_chunk_bytes: u32,
    /// The largest snapshot chunk accepted.
    pub max_snapshot_chunk_bytes: u32,
    /// How many received snapshot chunks may wait for the application before reading from the
    /// network pauses.
    pub snapshot_read_ahead: usize,
}

impl Default for FrameLimits {
    /// Messages up to 16 MiB; snapshot chunks of 64 KiB, up to 1 MiB accepted; 4 chunks read
    /// ahead.
    fn default() -> Self {
        Self {
            max_frame_bytes: 16 << 20,
            snapshot_chunk_bytes: 64 << 10,
            max_snapshot_chunk_bytes: 1 << 20,
            snapshot_read_ahead: 4,
        }
    }
}

/// QUIC flow control. These bound what a peer can make this node buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlowControl {
    /// The most message streams a peer may have open at once.
    pub max_message_streams: u32,
    /// The most snapshot streams a peer may have open at once.
    pub max_snapshot_streams: u32,
    /// Unread bytes allowed on one stream.
    pub stream_receive_window: u32,
    /// Unread bytes allowed on one connection, all streams together. At least twice the stream
    /// window, so that a stalled snapshot stream cannot block messages.
    pub connection_receive_window: u64,
    /// Unacknowledged bytes this node keeps in flight per connection.
    pub send_window: u64,
}

impl Default for FlowControl {
    /// 4 message streams and 2 snapshot streams, 2 MiB per stream, 16 MiB per connection,
    /// 16 MiB in flight.
    fn default() -> Self {
        Self {
            max_message_streams: 4,
            max_snapshot_streams: 2,
            stream_receive_window: 2 << 20,
            connection_receive_window: 16 << 20,
            send_window: 16 << 20,
        }
    }
}

/// Timeouts and keep-alives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// How long an outbound connection attempt (handshake and hello) may take.
    pub connect: Duration,
    /// How long an inbound handshake, or a snapshot stream's header, may take.
    pub handshake: Duration,
    /// A connection with no packet from the peer for this long is dead.
    pub idle: Duration,
    /// Send a keep-alive after this long without sending anything.
    pub keep_alive: Duration,
    /// The round-trip time assumed before one is measured. It paces handshake retransmissions:
    /// a peer that comes back up is reached within about three of these.
    pub initial_rtt: Duration,
}

impl Default for Timeouts {
    /// Connect 3 s, handshake 5 s, idle 5 s, keep-alive 1 s, initial RTT 100 ms (a data
    /// centre; raise it for links slower than that).
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(3),
            handshake: Duration::from_secs(5),
            idle: Duration::from_secs(5),
            keep_alive: Duration::from_secs(1),
            initial_rtt: Duration::from_millis(100),
        }
    }
}

/// Reconnection backoff: exponential with jitter.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Backoff {
    /// The delay before the first retry.
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
    /// The fraction of each delay that is random: a delay `d` becomes a uniform pick in
    /// `[d * (1 - jitter), d]`.
    pub jitter: f64,
}

impl Default for Backoff {
    /// 50 ms doubling up to 2 s, half of it random.
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(50),
            max: Duration::from_secs(2),
            jitter: 0.5,
        }
    }
}

impl Backoff {
    /// The delay after `failures` consecutive failed attempts (0 after a connection was lost).
    #[must_use]
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(20);
        let base = self.initial.saturating_mul(1u32 << doublings).min(self.max);
        let jitter = self.jitter.clamp(0.0, 1.0);
        base.mul_f64(1.0 - jitter * fastrand::f64())
    }
}

/// A configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The cluster name cannot form node names.
    #[error(transparent)]
    ClusterName(#[from] InvalidClusterName),
    /// A limit is zero.
    #[error("{0} must not be zero")]
    Zero(&'static str),
    /// Values that do not fit together.
    #[error("{0}")]
    Invalid(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let b = Backoff::default();
        for failures in 0..40 {
            let d = b.delay(failures);
            assert!(d <= b.max, "{d:?}");
            assert!(d >= b.initial / 2, "{d:?}");
        }
        let no_jitter = Backoff {
            jitter: 0.0,
            ..Backoff::default()
        };
        assert_eq!(no_jitter.delay(0), Duration::from_millis(50));
        assert_eq!(no_jitter.delay(1), Duration::from_millis(50));
        assert_eq!(no_jitter.delay(2), Duration::from_millis(100));
        assert_eq!(no_jitter.delay(3), Duration::from_millis(200));
        assert_eq!(no_jitter.delay(30), Duration::from_secs(2));
    }
}
