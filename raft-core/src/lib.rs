//! A sans-IO Raft consensus core.
//!
//! `raft-core` is the state machine of one Raft node and nothing else: no clock, no threads, no
//! sockets, no files. Time is [`Raft::tick`]; messages go in through [`Raft::step`] and come
//! out of [`Raft::ready`]; randomness comes from the [`rand_core::Rng`] you inject, so one seed
//! gives one behaviour. It is `#![no_std]` with `alloc`.
//!
//! It implements the Raft paper and thesis: leader election with randomized timeouts, pre-vote
//! and check-quorum; log replication with per-peer flow control, batching and fast
//! backtracking; asynchronous persistence; snapshots and log compaction; membership changes
//! with joint consensus and learners; leadership transfer; ReadIndex and lease reads.
//!
//! # The Ready contract
//!
//! Everything the node needs done comes out of [`Raft::ready`] as a [`Ready`]. Call it whenever
//! [`Raft::has_ready`] is true (after any input or command). For each Ready, in the order the
//! Readies were taken:
//!
//! 1. **`state`**: if set, the node's role, term or leader changed. Informational.
//! 2. **`messages`**: send them now, before or while the write is in progress. They depend only on
//!    durable state (a leader may replicate entries it has not yet written itself, thesis
//!    §10.2.1).
//! 3. **`write`**: persist it as one atomic write, in the order its docs give ([`Write`]):
//!    snapshot, entries (first truncating any stored entries from the first new index), hard
//!    state, membership. If `write.sync` is set, it must reach stable storage (fsync) before it
//!    is acknowledged. Writes may be performed asynchronously, and several Readies may be taken
//!    while earlier writes are in progress, but writes must complete **in Ready order**.
//! 4. **`messages_after_write`**: send them only once this Ready's write, and the write of every
//!    earlier Ready, is durable. They promise what the write makes true (votes, acknowledgements).
//! 5. Once the write is durable, call [`Raft::ack_persisted`]`(ready.id)`. Acknowledging Ready
//!    `n` acknowledges every earlier one too. A Ready with an empty write needs no
//!    acknowledgement (but accepts one).
//! 6. **`apply`**: restore the state machine from `apply.restore` if set (the snapshot's data is
//!    already with you), then apply `apply.entries` in order. This may happen at any time,
//!    independently of the write: everything handed out here is committed and durable. Then
//!    call [`Raft::ack_applied`] with the last index applied. Entries may be applied in several
//!    steps, and acknowledged as you go.
//! 7. **`reads`**: for each [`ReadResult`] that carries an index, serve the read once the state
//!    machine has applied that index.
//!
//! The core never asks for a write to be undone, never hands out an entry to apply that is not
//! committed and durable on this node, and never reads back through [`Storage`] anything that
//! has not been acknowledged as durable.
//!
//! # Restarting
//!
//! A node restarts from what its stores hold. First bring the state machine up: if it keeps no
//! durable state, or if what it holds is older than the log store's latest snapshot
//! ([`InitialState::snapshot`]; it can be, after a crash between installing a snapshot and
//! restoring from it), restore it from that snapshot. Then build a new [`Raft`] over the same
//! [`Storage`], with [`Config::applied`] set to the index the state machine holds. Entries after
//! it are handed out for applying again; a state machine that is behind the log start is refused
//! with [`Inconsistency::AppliedBeforeLogStart`].
//!
//! # Snapshots and compaction
//!
//! The application decides when to snapshot (every so many applied entries, or bytes):
//!
//! 1. Take a snapshot of the state machine at its applied index `i`, write its data durably to
//!    the application's snapshot store, then call [`Raft::snapshot_taken`]`(i)`. The core records
//!    the snapshot's metadata in the next [`Write::snapshot_taken`]. Keep the previous snapshot
//!    until that write is durable.
//! 2. Compact: [`Raft::compact`]`(j)` for any `j` up to [`Raft::compactable_index`] (the latest
//!    snapshot whose metadata is durable, and never past durable, applied entries), then delete
//!    the entries up to `j` from the log store. Never delete entries the core has not released
//!    this way: a store that compacts behind the core's back halts the node (reads of missing
//!    entries are reported as corruption). Compacting to somewhat before the snapshot (keeping a
//!    few thousand entries) lets a slightly lagging follower catch up from the log.
//! 3. Keep the data of the latest recorded snapshot: a follower that needs compacted entries is
//!    sent [`MessageBody::InstallSnapshot`] with its metadata, and the caller streams that data to
//!    it (in chunks; see the transport), then reports the outcome with
//!    [`Raft::report_snapshot`].
//!
//! On the follower, the caller receives the data into its snapshot store durably, then steps the
//! `InstallSnapshot` message. The core answers in a Ready: [`Write::snapshot`] (reset the log),
//! then, once that write is acknowledged, [`Apply::restore`] (restore the state machine from the
//! data) before any further entry.
//!
//! # Example: a three-node cluster in memory
//!
//! ```
//! use bytes::Bytes;
//! use raft_core::{Config, MemStorage, Membership, Message, NodeId, Raft, Role};
//!
//! # fn rng(seed: u64) -> raft_core::sim::SimRng { raft_core::sim::SimRng::new(seed) }
//! let ids = [NodeId(1), NodeId(2), NodeId(3)];
//! let mut nodes: Vec<_> = ids
//!     .iter()
//!     .map(|&id| {
//!         let storage = MemStorage::new(Membership::with_voters(ids));
//!         Raft::new(Config::new(id), storage, rng(id.0)).unwrap()
//!     })
//!     .collect();
//! let mut applied: Vec<Vec<Bytes>> = vec![Vec::new(); 3];
//!
//! // One round: every node takes its Ready, persists, applies, and its messages are delivered.
//! fn round(nodes: &mut [Raft<MemStorage, raft_core::sim::SimRng>], applied: &mut [Vec<Bytes>]) {
//!     let mut inflight: Vec<Message> = Vec::new();
//!     for (i, node) in nodes.iter_mut().enumerate() {
//!         while node.has_ready() {
//!             let rd = node.ready().unwrap();
//!             inflight.extend(rd.messages);                        // 2. send now
//!             node.storage_mut().apply_write(&rd.write).unwrap();   // 3. persist
//!             inflight.extend(rd.messages_after_write);             // 4. send after the write
//!             node.ack_persisted(rd.id).unwrap();                   // 5. acknowledge
//!             for e in &rd.apply.entries {                          // 6. apply
//!                 if let raft_core::EntryPayload::Command(c) = &e.payload {
//!                     applied[i].push(c.clone());
//!                 }
//!             }
//!             if let Some(last) = rd.apply.last_index() {
//!                 node.ack_applied(last).unwrap();
//!             }
//!         }
//!     }
//!     for m in inflight {
//!         let to = (m.to.0 - 1) as usize;
//!         let _ = nodes[to].step(m);
//!     }
//! }
//!
//! nodes[0].campaign().unwrap();
//! for _ in 0..5 {
//!     round(&mut nodes, &mut applied);
//! }
//! assert_eq!(nodes[0].role(), Role::Leader);
//!
//! nodes[0].propose(Bytes::from_static(b"hello")).unwrap();
//! for _ in 0..5 {
//!     round(&mut nodes, &mut applied);
//! }
//! assert!(applied.iter().all(|a| a == &[Bytes::from_static(b"hello")]));
//! ```
//!
//! # Features
//!
//! - `std` (default): conveniences for hosted targets; never changes behaviour.
//! - `serde`: `Serialize`/`Deserialize` for messages, entries and persisted state.
//! - `sim`: the deterministic cluster simulator ([`sim`]) and the `raft-sim` seed runner.

#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod config;
mod entries;
mod error;
mod log;
mod mem;
pub mod membership;
mod message;
mod metrics;
mod progress;
mod quorum;
mod raft;
pub mod read;
mod ready;
pub mod snapshot;
mod storage;
mod types;

#[cfg(feature = "sim")]
pub mod sim;

pub use crate::config::{Config, ConfigError, ProposalForwarding, ReadMode};
pub use crate::entries::{Entries, Iter as EntriesIter};
pub use crate::error::{
    AckError, CampaignError, Halted, Inconsistency, InitError, Malformed, ProposeError, ReadyError,
    StepError,
};
pub use crate::membership::{
    ConfChange, ConfChangeError, ConfChangeStep, ConfTransition, Membership,
};
pub use crate::message::{
    AppendRequest, AppendResponse, Entry, EntryPayload, ForwardedProposals, HardState, Heartbeat,
    HeartbeatResponse, Message, MessageBody, MessageKind, ReadIndexRequest, ReadIndexResponse,
    SnapshotOffer, VoteRequest, VoteResponse,
};
pub use crate::metrics::Metrics;
pub use crate::progress::ProgressState;
pub use crate::raft::{
    PeerStatus, Proposed, Raft, SnapshotError, SnapshotStatus, Status, TransferError,
};
pub use crate::read::{ReadError, ReadId, ReadResult};
pub use crate::ready::{Apply, NodeState, Ready, ReadyId, Role, Write};
pub use crate::snapshot::SnapshotMeta;
pub use crate::storage::{
    InitialState, MemStorage, Storage, StorageError, StoredMembership, WriteGap, bootstrap_write,
};
pub use crate::types::{Index, LogId, NodeId, Term};
