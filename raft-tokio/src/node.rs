//! [`Node`]: the handle applications use. Every method sends a request to the driver task and
//! awaits its answer; every answer comes exactly once (an error when the node shuts down).

use std::sync::Arc;

use bytes::Bytes;
use raft_core::{ConfChange, ConfChangeStep, Membership, NodeId, NodeState, Status};
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::NodeConfig;
use crate::driver::Driver;
use crate::error::{ProposeError, ReadError, ShutDown, StartError, TransferError};
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::snapshot::SnapshotStore;
use crate::state_machine::StateMachine;
use crate::storage::LogStore;
use crate::transport::{Inbox, Transport};

/// A request from a handle to the driver.
pub(crate) enum Request<O> {
    Propose(Bytes, oneshot::Sender<Result<O, ProposeError>>),
    ChangeMembership(
        ConfChange,
        oneshot::Sender<Result<Membership, ProposeError>>,
    ),
    Read(oneshot::Sender<Result<(), ReadError>>),
    Transfer(NodeId, oneshot::Sender<Result<(), TransferError>>),
    Campaign,
    Status(oneshot::Sender<NodeStatus>),
    Shutdown(oneshot::Sender<()>),
}

/// The node's state, for operators: the core's [`Status`] and the driver's counters.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct NodeStatus {
    /// The core's view.
    pub raft: Status,
    /// The driver's counters.
    pub metrics: MetricsSnapshot,
}

/// A running Raft node. Cheap to clone; all clones talk to the same node.
pub struct Node<O> {
    id: NodeId,
    requests: mpsc::Sender<Request<O>>,
    state: watch::Receiver<NodeState>,
    metrics: Arc<Metrics>,
}

impl<O> Clone for Node<O> {
    fn clone(&self) -> Self {
        Node {
            id: self.id,
            requests: self.requests.clone(),
            state: self.state.clone(),
            metrics: Arc::clone(&self.metrics),
        }
    }
}

impl<O: Send + 'static> Node<O> {
    /// Starts a node on the current tokio runtime: the driver task, a persistence thread and an
    /// apply thread. `inbound` is where the transport delivers what peers send: an
    /// `mpsc::Receiver<Inbound>`, or an [`Inbox`] with a separate channel of messages.
    pub fn start<SM, L, T>(
        config: NodeConfig,
        state_machine: SM,
        log_store: L,
        snapshots: Arc<dyn SnapshotStore>,
        transport: T,
        inbound: impl Into<Inbox>,
    ) -> Result<Node<O>, StartError>
    where
        SM: StateMachine<Output = O>,
        L: LogStore,
        T: Transport,
    {
        let (tx, rx) = mpsc::channel(config.request_queue.max(1));
        let id = config.raft.id;
        let metrics = Arc::new(Metrics::default());
        let (driver, state) = Driver::new(
            config,
            state_machine,
            log_store,
            snapshots,
            Arc::new(transport),
            rx,
            inbound.into(),
            Arc::clone(&metrics),
        )?;
        tokio::spawn(driver.run());
        Ok(Node {
            id,
            requests: tx,
            state,
            metrics,
        })
    }

    /// This node's id.
    #[must_use]
    pub fn id(&self) -> NodeId {
        self.id
    }

    fn send(&self, r: Request<O>) -> Result<(), Request<O>> {
        self.requests.try_send(r).map_err(|e| {
            Metrics::inc(&self.metrics.requests_refused);
            match e {
                mpsc::error::TrySendError::Full(r) | mpsc::error::TrySendError::Closed(r) => r,
            }
        })
    }

    /// Whether a refused request was refused for a full queue (not a stopped node).
    fn is_running(&self) -> bool {
        !self.requests.is_closed()
    }

    /// Proposes a command. Resolves with the state machine's output once the command is applied
    /// here, or with an error saying whether it certainly did not happen
    /// ([`ProposeError::NotLeader`], [`ProposeError::Overloaded`], [`ProposeError::Dropped`]) or
    /// may have ([`ProposeError::LeadershipLost`], [`ProposeError::ShutDown`] after appending).
    pub async fn propose(&self, command: Bytes) -> Result<O, ProposeError> {
        self.submit(command).await
    }

    /// Queues a command for proposal now, before returning, and gives the future of its outcome
    /// (what [`Node::propose`] resolves with). Commands submitted one after another are proposed
    /// in that order, so, when all are appended, they apply in that order: a server runs a
    /// client's pipelined writes this way without waiting for each before submitting the next.
    /// (An `async fn` such as `propose` queues only when first polled.)
    pub fn submit(
        &self,
        command: Bytes,
    ) -> impl Future<Output = Result<O, ProposeError>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let refused = self.send(Request::Propose(command, tx)).is_err().then(|| {
            if self.is_running() {
                ProposeError::Overloaded
            } else {
                ProposeError::ShutDown
            }
        });
        async move {
            match refused {
                Some(e) => Err(e),
                None => rx.await.unwrap_or(Err(ProposeError::ShutDown)),
            }
        }
    }

    /// Waits until a read of the state machine would be linearizable: the leader confirmed its
    /// leadership after this call began, and this node has applied everything committed before.
    /// Then read the state machine directly.
    pub async fn read_index(&self) -> Result<(), ReadError> {
        let (tx, rx) = oneshot::channel();
        if self.send(Request::Read(tx)).is_err() {
            return Err(if self.is_running() {
                ReadError::Overloaded
            } else {
                ReadError::ShutDown
            });
        }
        rx.await.unwrap_or(Err(ReadError::ShutDown))
    }

    /// Proposes a membership change; resolves with the new membership once it is applied here.
    pub async fn change_membership(&self, change: ConfChange) -> Result<Membership, ProposeError> {
        let (tx, rx) = oneshot::channel();
        if self.send(Request::ChangeMembership(change, tx)).is_err() {
            return Err(if self.is_running() {
                ProposeError::Overloaded
            } else {
                ProposeError::ShutDown
            });
        }
        rx.await.unwrap_or(Err(ProposeError::ShutDown))
    }

    /// Adds `id` as a learner: it receives the log (or a snapshot) but does not vote.
    pub async fn add_learner(&self, id: NodeId) -> Result<Membership, ProposeError> {
        self.change_membership(ConfChange::single(ConfChangeStep::AddLearner(id)))
            .await
    }

    /// Makes `id` (typically a learner that caught up) a voter.
    pub async fn promote(&self, id: NodeId) -> Result<Membership, ProposeError> {
        self.change_membership(ConfChange::single(ConfChangeStep::AddVoter(id)))
            .await
    }

    /// Removes `id`, voter or learner.
    pub async fn remove(&self, id: NodeId) -> Result<Membership, ProposeError> {
        self.change_membership(ConfChange::single(ConfChangeStep::RemoveNode(id)))
            .await
    }

    /// Hands leadership to `to`; resolves once `to` leads, or fails after an election timeout.
    pub async fn transfer_leadership(&self, to: NodeId) -> Result<(), TransferError> {
        let (tx, rx) = oneshot::channel();
        if self.send(Request::Transfer(to, tx)).is_err() {
            return Err(TransferError::ShutDown);
        }
        rx.await.unwrap_or(Err(TransferError::ShutDown))
    }

    /// Starts an election now (as if the election timer fired).
    pub fn campaign(&self) -> Result<(), ShutDown> {
        self.send(Request::Campaign).map_err(|_| ShutDown)
    }

    /// The node's state and counters.
    pub async fn status(&self) -> Result<NodeStatus, ShutDown> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Status(tx)).map_err(|_| ShutDown)?;
        rx.await.map_err(|_| ShutDown)
    }

    /// Role, term and leader, updated as they change.
    #[must_use]
    pub fn watch_state(&self) -> watch::Receiver<NodeState> {
        self.state.clone()
    }

    /// The leader this node knows of.
    #[must_use]
    pub fn leader(&self) -> Option<NodeId> {
        self.state.borrow().leader
    }

    /// The driver's counters, without asking the driver.
    #[must_use]
    pub fn metrics(&self) -> MetricsSnapshot {
        self.metrics.snapshot()
    }

    /// Stops the node cleanly: queued writes are made durable, every pending request is answered
    /// ([`ProposeError::ShutDown`] for proposals not applied yet), worker threads stop.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        // The queue may be full: wait for room rather than give up.
        if self.requests.send(Request::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}
