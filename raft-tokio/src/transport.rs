//! How the driver talks to peers: a trait, and an in-memory network for tests and benches.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use raft_core::{Message, NodeId};
use tokio::sync::mpsc;

/// A stream of snapshot data chunks; the bounded channel provides flow control.
pub type ChunkReceiver = mpsc::Receiver<io::Result<Bytes>>;

/// What a transport hands to the driver, through [`Inbox::other`].
#[derive(Debug)]
pub enum Inbound {
    /// A message from a peer.
    Message(Message),
    /// A snapshot's data, arriving: `message` is the leader's
    /// [`InstallSnapshot`](raft_core::MessageBody::InstallSnapshot), stepped into the core once
    /// every chunk is stored.
    Snapshot {
        /// The offer.
        message: Message,
        /// The data.
        chunks: ChunkReceiver,
    },
    /// Messages to this peer could not be delivered (it is down or unreachable).
    Unreachable(NodeId),
}

/// Where the driver receives from: the channel given to [`Node::start`](crate::Node::start).
///
/// `messages` carries plain peer messages, the bulk of the traffic: a transport that already
/// delivers them on a channel of its own hands that channel over as it is, and the driver reads
/// it directly, without a task copying from one channel to another. `other` carries everything
/// (messages too, if the transport prefers one channel). A channel closed, or never connected,
/// is simply no longer read.
#[derive(Debug)]
pub struct Inbox {
    /// Peer messages.
    pub messages: mpsc::Receiver<Message>,
    /// Snapshots, unreachable peers, and messages.
    pub other: mpsc::Receiver<Inbound>,
}

impl From<mpsc::Receiver<Inbound>> for Inbox {
    /// One channel for everything.
    fn from(other: mpsc::Receiver<Inbound>) -> Inbox {
        let (_, messages) = mpsc::channel(1);
        Inbox { messages, other }
    }
}

/// Why a snapshot could not be streamed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The peer is unknown or unreachable.
    #[error("peer {0} is unreachable")]
    Unreachable(NodeId),
    /// The stream broke.
    #[error("snapshot stream failed: {0}")]
    Io(#[from] io::Error),
}

/// A future returned by [`Transport::send_snapshot`].
pub type SendFuture = Pin<Box<dyn Future<Output = Result<(), TransportError>> + Send>>;

/// Sends messages and snapshot data to peers.
pub trait Transport: Send + Sync + 'static {
    /// Queues a message. Never blocks: when a peer's queue is full or the peer is unreachable
    /// the message is dropped (Raft retransmits) and, for unreachable peers, an
    /// [`Inbound::Unreachable`] is reported.
    fn send(&self, message: Message);

    /// Streams a snapshot to `message.to`: the data from `chunks`, then `message` (the
    /// `InstallSnapshot`). Resolves once the peer has received everything.
    fn send_snapshot(&self, message: Message, chunks: ChunkReceiver) -> SendFuture;
}

/// An in-memory network: every node registered with [`MemNetwork::join`] can reach the others
/// unless a partition says otherwise. Delivery is through bounded channels.
#[derive(Clone, Default)]
pub struct MemNetwork {
    inner: Arc<Mutex<NetInner>>,
}

#[derive(Default)]
struct NetInner {
    nodes: BTreeMap<NodeId, mpsc::Sender<Inbound>>,
    blocked: BTreeSet<(NodeId, NodeId)>,
}

/// The capacity of each node's inbound channel in a [`MemNetwork`].
pub const MEM_INBOUND_CAPACITY: usize = 16 * 1024;

impl MemNetwork {
    /// An empty network.
    #[must_use]
    pub fn new() -> MemNetwork {
        MemNetwork::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, NetInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Connects node `id` (again, after a restart): returns its transport and its inbound
    /// channel.
    pub fn join(&self, id: NodeId) -> (MemTransport, mpsc::Receiver<Inbound>) {
        let (tx, rx) = mpsc::channel(MEM_INBOUND_CAPACITY);
        self.lock().nodes.insert(id, tx);
        (
            MemTransport {
                id,
                net: self.clone(),
            },
            rx,
        )
    }

    /// Disconnects node `id` (it crashed or shut down).
    pub fn leave(&self, id: NodeId) {
        self.lock().nodes.remove(&id);
    }

    /// Cuts every link between the two groups, both ways.
    pub fn partition(&self, a: &[NodeId], b: &[NodeId]) {
        let mut n = self.lock();
        for x in a {
            for y in b {
                n.blocked.insert((*x, *y));
                n.blocked.insert((*y, *x));
            }
        }
    }

    /// Cuts `id` from every other node.
    pub fn isolate(&self, id: NodeId) {
        let others: Vec<NodeId> = self
            .lock()
            .nodes
            .keys()
            .copied()
            .filter(|n| *n != id)
            .collect();
        self.partition(&[id], &others);
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.lock().blocked.clear();
    }

    fn route(
        &self,
        from: NodeId,
        to: NodeId,
    ) -> Result<mpsc::Sender<Inbound>, Option<mpsc::Sender<Inbound>>> {
        let n = self.lock();
        let own = n.nodes.get(&from).cloned();
        if n.blocked.contains(&(from, to)) {
            return Err(own);
        }
        n.nodes.get(&to).cloned().ok_or(own)
    }
}

/// One node's endpoint on a [`MemNetwork`].
#[derive(Clone)]
pub struct MemTransport {
    id: NodeId,
    net: MemNetwork,
}

impl Transport for MemTransport {
    fn send(&self, message: Message) {
        let to = message.to;
        match self.net.route(self.id, to) {
            Ok(tx) => {
                // A full inbound queue drops the message, as a slow peer would.
                let _ = tx.try_send(Inbound::Message(message));
            }
            Err(Some(own)) => {
                let _ = own.try_send(Inbound::Unreachable(to));
            }
            Err(None) => {}
        }
    }

    fn send_snapshot(&self, message: Message, mut chunks: ChunkReceiver) -> SendFuture {
        let route = self.net.route(self.id, message.to);
        let net = self.net.clone();
        let (from, to) = (self.id, message.to);
        Box::pin(async move {
            let Ok(tx) = route else {
                return Err(TransportError::Unreachable(to));
            };
            let (data_tx, data_rx) = mpsc::channel(4);
            tx.send(Inbound::Snapshot {
                message,
                chunks: data_rx,
            })
            .await
            .map_err(|_| TransportError::Unreachable(to))?;
            while let Some(chunk) = chunks.recv().await {
                if net.route(from, to).is_err() {
                    return Err(TransportError::Unreachable(to));
                }
                let failed = chunk.is_err();
                data_tx
                    .send(chunk)
                    .await
                    .map_err(|_| TransportError::Unreachable(to))?;
                if failed {
                    return Err(TransportError::Io(io::Error::other(
                        "the snapshot could not be read",
                    )));
                }
            }
            // The end of the stream is the sender going away.
            drop(data_tx);
            Ok(())
        })
    }
}
