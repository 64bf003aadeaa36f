//! Raft peer messages and snapshot streams over QUIC, with mutual TLS.
//!
//! A [`Transport`] is one node's QUIC endpoint (quinn, rustls with the `ring` provider). It dials
//! every peer, keeps one verified connection to each, and accepts theirs:
//!
//! - **Identity.** Every node holds a certificate signed by the cluster CA that names it
//!   `node-<id>.<cluster>` ([`identity`]). Both sides verify the chain (mutual TLS); the dialer
//!   verifies the name of the id it dialed, the acceptor reads the id from the certificate,
//!   refuses unknown members, and drops any message whose `from` is not that id. [`certs`]
//!   generates a CA and node certificates.
//! - **Versioning.** The wire version is the ALPN protocol ([`PROTOCOL_V1`]); a peer without a
//!   version in common fails the handshake, with a log line saying so.
//! - **Messages** are postcard-encoded `raft_core::Message`s in length-prefixed frames on one
//!   long-lived stream per connection, several per write when they queue up. Per-peer queues
//!   are bounded in messages and bytes: when a peer is slow or down, messages are dropped,
//!   counted ([`MetricsSnapshot`]) and the peer is reported [`Unreachable`]. Connections are
//!   re-established with exponential backoff and jitter.
//! - **Snapshots** stream on their own stream per snapshot, in chunks, with flow control end
//!   to end ([`Transport::send_snapshot`], [`IncomingSnapshot`]); heartbeats keep flowing.
//! - **Limits.** Frames are bounded ([`FrameLimits`]); a garbage or oversized frame closes its
//!   stream with a log line and a counter, never a panic or an unbounded allocation.
//!
//! # Example
//!
//! ```no_run
//! use std::collections::BTreeMap;
//! use raft_core::NodeId;
//! use raft_transport_quic::{Transport, TransportConfig, certs};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let ca = certs::generate_ca("prod")?;
//! let node = certs::generate_node(&ca, NodeId(1), &[])?;
//! let peers = BTreeMap::from([
//!     (NodeId(2), "10.0.0.2:7000".parse()?),
//!     (NodeId(3), "10.0.0.3:7000".parse()?),
//! ]);
//! let config = TransportConfig::new(NodeId(1), "prod", "0.0.0.0:7000".parse()?, node.tls_material(&ca))
//!     .with_peers(peers);
//! let (transport, mut inbox) = Transport::bind(config)?;
//! loop {
//!     tokio::select! {
//!         Some(msg) = inbox.messages.recv() => { /* raft.step(msg) */ }
//!         Some(u) = inbox.unreachable.recv() => { /* raft.report_unreachable(u.peer) */ }
//!         Some(snap) = inbox.snapshots.recv() => { /* store snap.chunks, then raft.step(snap.message()) */ }
//!     }
//!     // for msg in ready.messages { let _ = transport.send(msg); }
//! }
//! # }
//! ```

pub mod certs;
mod config;
mod diagnose;
mod error;
mod framing;
pub mod identity;
mod inbound;
mod metrics;
mod peer;
mod snapshot;
mod tls;
mod transport;
mod unreachable;
mod wire;

pub use config::{
    Backoff, ConfigError, FlowControl, FrameLimits, QueueLimits, Timeouts, TlsMaterial,
    TransportConfig,
};
pub use error::{
    BindError, SendError, SnapshotRecvError, SnapshotRefusal, SnapshotSendError, TlsError,
};
pub use metrics::MetricsSnapshot;
pub use snapshot::{IncomingSnapshot, SnapshotChunks};
pub use transport::{Inbox, Transport};
pub use unreachable::{Unreachable, UnreachableReason};
pub use wire::PROTOCOL_V1;
