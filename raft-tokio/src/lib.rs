//! Runs a [`raft_core`] node on tokio.
//!
//! [`Node::start`] spawns the driver: a tokio task that owns the core and feeds it ticks (from a
//! tokio interval), messages (from a [`Transport`]) and requests (from [`Node`] handles), plus two
//! threads that do the blocking work:
//!
//! - the **persistence thread** writes each Ready's [`Write`](raft_core::Write) to the
//!   [`LogStore`]. Writes that queue up while a sync runs go into the next batch together (group
//!   commit): one atomic write and one fsync for all of them. Then it sends the messages that had
//!   to wait for the write and acknowledges it to the core.
//! - the **apply thread** applies committed entries to the [`StateMachine`] and reports the
//!   outputs, which resolve the proposers' futures.
//!
//! The leader's appends leave before its own write completes, and application runs apart from
//! persistence, so a leader's round is one network round trip plus the slower of its own and a
//! follower's fsync.
//!
//! Every future resolves exactly once: with the state machine's output, or with an error that says
//! whether the command certainly did not happen or may have
//! ([`ProposeError::LeadershipLost`]). Every queue is bounded: a full request queue refuses work
//! with [`ProposeError::Overloaded`].
//!
//! In-memory implementations of every trait ([`MemLogStore`], [`MemSnapshotStore`],
//! [`MemNetwork`]) make a whole cluster runnable in one process, for tests and benches.

mod config;
mod driver;
mod error;
mod metrics;
mod node;
mod snapshot;
mod state_machine;
mod storage;
mod transport;
mod workers;

pub use crate::config::NodeConfig;
pub use crate::error::{ProposeError, ReadError, ShutDown, StartError, TransferError};
pub use crate::metrics::{Metrics, MetricsSnapshot};
pub use crate::node::{Node, NodeStatus};
pub use crate::snapshot::{
    CHUNK_BYTES, DirSnapshotStore, MemSnapshotStore, SnapshotReader, SnapshotStore, SnapshotWriter,
};
pub use crate::state_machine::{SnapshotSource, StateMachine};
pub use crate::storage::{LogStore, LogStoreError, MemLogStore};
pub use crate::transport::{
    ChunkReceiver, Inbound, Inbox, MEM_INBOUND_CAPACITY, MemNetwork, MemTransport, SendFuture,
    Transport, TransportError,
};
