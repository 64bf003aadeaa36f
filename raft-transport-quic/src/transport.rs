//! [`Transport`]: the handle the driver sends through, and the [`Inbox`] it receives from.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use quinn::{Connection, TokioRuntime};
use raft_core::{Message, MessageBody, NodeId};
use tokio::io::AsyncRead;
use tokio::sync::mpsc;
use tokio_util::io::ReaderStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::config::{Backoff, FrameLimits, QueueLimits, Timeouts, TransportConfig};
use crate::error::{BindError, SendError, SnapshotSendError};
use crate::inbound;
use crate::metrics::{Metrics, MetricsSnapshot, inc};
use crate::peer::PeerHandle;
use crate::snapshot::{self, IncomingSnapshot};
use crate::tls;
use crate::unreachable::{Reporter, Unreachable, UnreachableReason};
use crate::wire::{code, varint};

/// What the transport's tasks share.
pub(crate) struct Shared {
    pub(crate) id: NodeId,
    pub(crate) cluster: String,
    pub(crate) endpoint: quinn::Endpoint,
    pub(crate) client_config: quinn::ClientConfig,
    pub(crate) queues: QueueLimits,
    pub(crate) frames: FrameLimits,
    pub(crate) timeouts: Timeouts,
    pub(crate) backoff: Backoff,
    pub(crate) accept_unknown_peers: bool,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) reporter: Reporter,
    pub(crate) cancel: CancellationToken,
    pub(crate) tracker: TaskTracker,
    pub(crate) inbound_tx: mpsc::Sender<Message>,
    pub(crate) snapshots_tx: mpsc::Sender<IncomingSnapshot>,
    pub(crate) peers: RwLock<BTreeMap<NodeId, PeerHandle>>,
    pub(crate) inbound_conns: Mutex<HashMap<NodeId, Connection>>,
}

impl Shared {
    /// Whether `id` is a configured peer.
    pub(crate) fn is_known(&self, id: NodeId) -> bool {
        self.peers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&id)
    }
}

/// What the network delivers to the application. Each channel is bounded
/// ([`QueueLimits`](crate::QueueLimits)).
#[derive(Debug)]
pub struct Inbox {
    /// Messages from peers, each with `from` equal to the sender's authenticated id and `to`
    /// equal to this node. When the application falls behind, reading pauses and QUIC flow
    /// control pushes back on the senders (whose queues then drop).
    pub messages: mpsc::Receiver<Message>,
    /// Snapshots peers stream to this node.
    pub snapshots: mpsc::Receiver<IncomingSnapshot>,
    /// Peers that messages could not be delivered to, at most one report per peer per
    /// [`QueueLimits::unreachable_interval`](crate::QueueLimits::unreachable_interval). Pass
    /// them to `Raft::report_unreachable`.
    pub unreachable: mpsc::Receiver<Unreachable>,
}

/// Raft peer messages and snapshot streams over QUIC with mutual TLS.
///
/// Every method takes `&self`; share the transport with an `Arc`. Dropping it stops every task
/// and closes the endpoint; [`shutdown`](Self::shutdown) does the same and waits for them.
pub struct Transport {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("node_id", &self.shared.id)
            .field("cluster", &self.shared.cluster)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// Binds the UDP socket, starts accepting connections and dialing the configured peers.
    /// Must be called from within a tokio runtime with I/O and time enabled; the transport's
    /// tasks run on it.
    ///
    /// Fails if the configuration is invalid, or if this node's certificate does not carry
    /// exactly `config.node_id` or does not chain to the cluster CA.
    pub fn bind(config: TransportConfig) -> Result<(Transport, Inbox), BindError> {
        config.validate()?;
        tokio::runtime::Handle::try_current().map_err(|_| BindError::NoRuntime)?;
        let setup = tls::build(&config)?;
        let addr = config.listen_addr;
        let socket =
            std::net::UdpSocket::bind(addr).map_err(|source| BindError::Io { addr, source })?;
        let endpoint = quinn::Endpoint::new(
            setup.endpoint_config(),
            Some(setup.server),
            socket,
            Arc::new(TokioRuntime),
        )
        .map_err(|source| BindError::Io { addr, source })?;
        let local = endpoint
            .local_addr()
            .map_err(|source| BindError::Io { addr, source })?;

        let (inbound_tx, messages) = mpsc::channel(config.queues.inbound_messages);
        let (snapshots_tx, snapshots) = mpsc::channel(config.queues.inbound_snapshots);
        let (unreachable_tx, unreachable) = mpsc::channel(config.queues.unreachable_events);
        let metrics = Arc::new(Metrics::default());
        let shared = Arc::new(Shared {
            id: config.node_id,
            cluster: config.cluster_name.clone(),
            endpoint,
            client_config: setup.client,
            queues: config.queues,
            frames: config.frames,
            timeouts: config.timeouts,
            backoff: config.backoff,
            accept_unknown_peers: config.accept_unknown_peers,
            reporter: Reporter::new(
                unreachable_tx,
                config.queues.unreachable_interval,
                metrics.clone(),
            ),
            metrics,
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            inbound_tx,
            snapshots_tx,
            peers: RwLock::new(BTreeMap::new()),
            inbound_conns: Mutex::new(HashMap::new()),
        });
        shared.tracker.spawn(inbound::accept_loop(shared.clone()));
        let transport = Transport { shared };
        transport.set_peers(config.peers);
        info!(
            node = %config.node_id, cluster = %config.cluster_name, addr = %local,
            "transport listening"
        );
        Ok((
            transport,
            Inbox {
                messages,
                snapshots,
                unreachable,
            },
        ))
    }

    /// This node's id.
    #[must_use]
    pub fn node_id(&self) -> NodeId {
        self.shared.id
    }

    /// The address the endpoint is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.shared.endpoint.local_addr()
    }

    /// Queues `msg` for its recipient and returns at once. The message is dropped (and counted)
    /// when the recipient's queue is full, its address is unknown, or it is not connected by
    /// the time the message's turn comes; the recipient is then reported unreachable.
    pub fn send(&self, msg: Message) -> Result<(), SendError> {
        let shared = &self.shared;
        if msg.from != shared.id {
            return Err(SendError::WrongSender(msg.from));
        }
        if msg.to == shared.id {
            return Err(SendError::ToSelf);
        }
        if shared.cancel.is_cancelled() {
            return Err(SendError::ShutDown);
        }
        let peers = shared.peers.read().unwrap_or_else(PoisonError::into_inner);
        match peers.get(&msg.to) {
            Some(peer) => peer.enqueue(shared, msg),
            None => {
                inc(&shared.metrics.dropped_unknown_peer);
                shared
                    .reporter
                    .report(msg.to, UnreachableReason::UnknownPeer);
                Err(SendError::UnknownPeer(msg.to))
            }
        }
    }

    /// Sends every message (a Ready's `messages`, say); returns how many were dropped.
    pub fn send_all(&self, msgs: impl IntoIterator<Item = Message>) -> usize {
        msgs.into_iter()
            .map(|m| self.send(m))
            .filter(Result::is_err)
            .count()
    }

    /// Streams a snapshot's data to its recipient on a stream of its own, and completes once
    /// the recipient has taken the whole stream.
    ///
    /// `message` is the `InstallSnapshot` the core emitted (do not also [`send`](Self::send)
    /// it): the recipient gets it back with the data. `chunks` is the data, read only as fast
    /// as the network and the recipient take it; chunks of any size are split to
    /// [`FrameLimits::snapshot_chunk_bytes`](crate::FrameLimits::snapshot_chunk_bytes). Waits
    /// for a connection for at most the connect timeout plus the longest backoff. Wrap in a
    /// timeout to bound the whole transfer. Then call `Raft::report_snapshot` with the outcome.
    pub async fn send_snapshot<S>(
        &self,
        message: Message,
        chunks: S,
    ) -> Result<u64, SnapshotSendError>
    where
        S: Stream<Item = io::Result<Bytes>>,
    {
        let shared = &self.shared;
        if message.from != shared.id
            || message.to == shared.id
            || !matches!(message.body, MessageBody::InstallSnapshot(_))
        {
            return Err(SnapshotSendError::NotASnapshotOffer);
        }
        let peer = message.to;
        let conn = self.connection_to(peer).await?;
        let chunks = std::pin::pin!(chunks);
        snapshot::send(shared, &conn, &message, chunks).await
    }

    /// [`send_snapshot`](Self::send_snapshot) reading the data from `reader`.
    pub async fn send_snapshot_from_reader<R>(
        &self,
        message: Message,
        reader: R,
    ) -> Result<u64, SnapshotSendError>
    where
        R: AsyncRead,
    {
        let chunk = self.shared.frames.snapshot_chunk_bytes as usize;
        self.send_snapshot(message, ReaderStream::with_capacity(reader, chunk))
            .await
    }

    /// [`send_snapshot`](Self::send_snapshot) taking the data from a bounded channel of chunks
    /// (the data ends when every sender is dropped; an `Err` abandons the snapshot).
    pub async fn send_snapshot_from_channel(
        &self,
        message: Message,
        chunks: mpsc::Receiver<io::Result<Bytes>>,
    ) -> Result<u64, SnapshotSendError> {
        self.send_snapshot(message, snapshot::ChannelChunks(chunks))
            .await
    }

    /// The verified connection to `peer`, waiting a while for one.
    async fn connection_to(&self, peer: NodeId) -> Result<Connection, SnapshotSendError> {
        let mut watch = {
            let peers = self
                .shared
                .peers
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            peers
                .get(&peer)
                .ok_or(SnapshotSendError::UnknownPeer(peer))?
                .connection()
        };
        let wait = self.shared.timeouts.connect + self.shared.backoff.max;
        let cancel = self.shared.cancel.clone();
        tokio::select! {
            biased;
            () = cancel.cancelled() => Err(SnapshotSendError::ShutDown),
            r = tokio::time::timeout(wait, watch.wait_for(|c| c.as_ref().is_some_and(|c| c.close_reason().is_none()))) => {
                match r {
                    Ok(Ok(conn)) => conn.clone().ok_or(SnapshotSendError::Unreachable(peer)),
                    Ok(Err(_)) => Err(SnapshotSendError::UnknownPeer(peer)),
                    Err(_) => Err(SnapshotSendError::Unreachable(peer)),
                }
            }
        }
    }

    /// Replaces the peer set (a membership change): new peers are dialed, removed ones are
    /// disconnected (and, unless `accept_unknown_peers`, refused from now on), moved ones are
    /// redialed at their new address. An entry for this node is ignored.
    pub fn set_peers(&self, peers: BTreeMap<NodeId, SocketAddr>) {
        let removed: Vec<NodeId> = {
            let mut map = self
                .shared
                .peers
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            let removed: Vec<NodeId> = map
                .keys()
                .filter(|id| !peers.contains_key(id))
                .copied()
                .collect();
            for id in &removed {
                map.remove(id);
            }
            for (id, addr) in peers {
                self.upsert(&mut map, id, addr);
            }
            removed
        };
        for id in removed {
            self.disconnect_inbound(id);
        }
    }

    /// Adds a peer, or moves it to a new address.
    pub fn add_peer(&self, id: NodeId, addr: SocketAddr) {
        let mut map = self
            .shared
            .peers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        self.upsert(&mut map, id, addr);
    }

    /// Removes a peer: its queue is dropped, its connections closed.
    pub fn remove_peer(&self, id: NodeId) {
        let removed = self
            .shared
            .peers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        if removed.is_some() {
            self.disconnect_inbound(id);
        }
    }

    fn upsert(&self, map: &mut BTreeMap<NodeId, PeerHandle>, id: NodeId, addr: SocketAddr) {
        if id == self.shared.id || self.shared.cancel.is_cancelled() {
            return;
        }
        match map.get_mut(&id) {
            Some(peer) => peer.set_addr(addr),
            None => {
                map.insert(id, PeerHandle::spawn(&self.shared, id, addr));
            }
        }
    }

    fn disconnect_inbound(&self, id: NodeId) {
        if self.shared.accept_unknown_peers {
            return;
        }
        let conn = self
            .shared
            .inbound_conns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        if let Some(conn) = conn {
            conn.close(varint(code::REMOVED), b"removed from the membership");
        }
    }

    /// The current peer set.
    #[must_use]
    pub fn peers(&self) -> BTreeMap<NodeId, SocketAddr> {
        self.shared
            .peers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(id, p)| (*id, p.addr()))
            .collect()
    }

    /// Whether a verified outbound connection to `peer` is up.
    #[must_use]
    pub fn is_connected(&self, peer: NodeId) -> bool {
        self.shared
            .peers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&peer)
            .is_some_and(PeerHandle::is_connected)
    }

    /// The counters.
    #[must_use]
    pub fn metrics(&self) -> MetricsSnapshot {
        self.shared.metrics.snapshot()
    }

    /// Stops every task, closes every connection (peers see a clean close and start
    /// reconnecting with backoff), and waits up to about three seconds for it all to finish.
    /// Idempotent; later sends fail with [`SendError::ShutDown`].
    pub async fn shutdown(&self) {
        let shared = &self.shared;
        shared.cancel.cancel();
        shared
            .peers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        shared
            .endpoint
            .close(varint(code::SHUTDOWN), b"shutting down");
        shared.tracker.close();
        let _ = tokio::time::timeout(Duration::from_secs(2), shared.tracker.wait()).await;
        let _ = tokio::time::timeout(Duration::from_secs(1), shared.endpoint.wait_idle()).await;
        info!(node = %shared.id, "transport shut down");
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        self.shared.cancel.cancel();
        self.shared
            .endpoint
            .close(varint(code::SHUTDOWN), b"shutting down");
    }
}
