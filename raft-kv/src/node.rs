//! One key-value node: the Raft log on RocksDB, the data on RocksDB, snapshots in files, peers
//! over QUIC, all driven by `raft-tokio`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use raft_core::{Config, Membership, NodeId, ReadMode, Role, bootstrap_write};
use raft_storage_rocks::RocksLog;
use raft_tokio::{DirSnapshotStore, Node, NodeConfig, SnapshotStore};
use raft_transport_quic::{TlsMaterial, Transport as Quic, TransportConfig};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::adapters::{QuicNet, RocksLogStore, driver_inbox};
use crate::config::ServerConfig;
use crate::sm::{KvStateMachine, KvStore, Op, Output, Proposal, SessionLimits};

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A file could not be read or a directory created.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The Raft log could not be opened (it may be corrupt).
    #[error("raft log: {0}")]
    Log(#[from] raft_storage_rocks::OpenError),
    /// Bootstrapping the Raft log failed.
    #[error("raft log: {0}")]
    Bootstrap(#[from] raft_storage_rocks::WriteError),
    /// The key-value store could not be opened (it may be corrupt).
    #[error(transparent)]
    Store(#[from] crate::sm::StoreError),
    /// The transport could not start (address in use, bad certificates...).
    #[error("transport: {0}")]
    Transport(#[from] raft_transport_quic::BindError),
    /// Raft refused to start on the persisted state.
    #[error(transparent)]
    Raft(#[from] raft_tokio::StartError),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> StartError {
    let what = what.into();
    move |source| StartError::Io { what, source }
}

/// A running key-value node.
pub struct KvNode {
    /// The Raft node.
    pub raft: Node<Output>,
    /// The data, for reads.
    pub store: KvStore,
    /// The QUIC transport.
    pub transport: Arc<Quic>,
    /// The configuration it runs with.
    pub config: ServerConfig,
    tasks: Vec<JoinHandle<()>>,
}

impl KvNode {
    /// Opens the node's stores (bootstrapping a new cluster's first members, restoring the
    /// data from the latest snapshot when it is behind the log), binds the transport and starts
    /// Raft.
    pub async fn start(config: ServerConfig) -> Result<KvNode, StartError> {
        config.validate()?;
        let dir = &config.data_dir;
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        let read = |p: &std::path::Path| {
            std::fs::read_to_string(p).map_err(io(format!("reading {}", p.display())))
        };
        let tls = TlsMaterial {
            ca_cert_pem: read(&config.tls.ca_cert)?,
            cert_pem: read(&config.tls.cert)?,
            key_pem: read(&config.tls.key)?,
        };

        let log = RocksLog::open(dir.join("raft"))?;
        let state = log.state();
        if state.last.index.0 == 0 && state.hard_state.term.0 == 0 && !config.join {
            let voters = config.peers.keys().map(|&id| NodeId(id));
            log.write(&bootstrap_write(Membership::with_voters(voters)))?;
            tracing::info!(
                node = config.id,
                "bootstrapped a new cluster with members {:?}",
                config.peers.keys()
            );
        }
        let store = KvStore::open(dir.join("kv"))?;
        let snapshots = DirSnapshotStore::open(dir.join("snapshots"))
            .map_err(io("opening the snapshot directory"))?;
        let state = log.state();
        if store.applied()? < state.log_start.index.0 {
            // The data is older than the log's start (a crash during an install, or lost data):
            // restore it from the latest snapshot before Raft starts.
            let Some(meta) = state.snapshot.clone() else {
                return Err(StartError::Io {
                    what: "the data is behind the log start and no snapshot is recorded".into(),
                    source: std::io::Error::other("inconsistent data directory"),
                });
            };
            let mut data = snapshots
                .open(meta.last)
                .map_err(io(format!("opening snapshot {}", meta.last)))?;
            crate::sm::restore_from(&store, meta.last, &mut *data)
                .map_err(io("restoring the snapshot"))?;
            tracing::info!(
                node = config.id,
                "restored the data from snapshot {}",
                meta.last
            );
        }
        let (sm, mut peers_changed) = KvStateMachine::new(store.clone(), SessionLimits::default())?;

        let mut tc =
            TransportConfig::new(NodeId(config.id), &config.cluster, config.peer_addr, tls)
                .with_peers(peer_map(&config, &store));
        tc.accept_unknown_peers = true;
        let (quic, inbox) = Quic::bind(tc)?;
        let quic = Arc::new(quic);
        let (inbox, pump) = driver_inbox(inbox);
        let mut tasks = vec![pump];

        let mut raft = Config::new(NodeId(config.id));
        raft.election_ticks = config.raft.election_ticks;
        raft.heartbeat_ticks = config.raft.heartbeat_ticks;
        raft.max_inflight_msgs = config.raft.max_inflight_appends;
        raft.max_uncommitted_bytes = 256 << 20;
        if config.raft.lease_reads {
            raft.read_mode = ReadMode::LeaseBased;
        }
        let mut nc = NodeConfig::new(raft);
        nc.tick = Duration::from_millis(config.raft.tick_ms);
        nc.snapshot_every = config.raft.snapshot_every;
        nc.compaction_keep = config.raft.compaction_keep;
        let node = Node::start(
            nc,
            sm,
            RocksLogStore(log),
            Arc::new(snapshots) as Arc<dyn SnapshotStore>,
            QuicNet(Arc::clone(&quic)),
            inbox,
        )?;

        // Keep the transport's peers in step with the replicated addresses.
        {
            let (quic, store, config) = (Arc::clone(&quic), store.clone(), config.clone());
            tasks.push(tokio::spawn(async move {
                while peers_changed.changed().await.is_ok() {
                    quic.set_peers(peer_map(&config, &store));
                }
            }));
        }
        // A new leader records the initial members' addresses if the table lacks them.
        tasks.push(tokio::spawn(register_peers(
            node.clone(),
            store.clone(),
            config.clone(),
        )));
        Ok(KvNode {
            raft: node,
            store,
            transport: quic,
            config,
            tasks,
        })
    }

    /// The client address of `id`, from the configuration or else the replicated table.
    #[must_use]
    pub fn client_addr_of(&self, id: NodeId) -> Option<SocketAddr> {
        if let Some(p) = self.config.peers.get(&id.0) {
            return Some(p.client_addr);
        }
        self.store
            .peers()
            .ok()
            .and_then(|peers| peers.get(&id.0).and_then(|p| p.client_addr.parse().ok()))
    }

    /// Stops the node: Raft first (queued writes are made durable), then the transport.
    pub async fn shutdown(self) {
        self.raft.shutdown().await;
        for t in &self.tasks {
            t.abort();
        }
        self.transport.shutdown().await;
    }
}

/// Every known member's Raft address but our own. The local configuration wins over the
/// replicated table: a node may reach a peer by another address than the one the peer
/// advertises (through a proxy, or a relay in tests).
fn peer_map(config: &ServerConfig, store: &KvStore) -> BTreeMap<NodeId, SocketAddr> {
    let mut peers: BTreeMap<NodeId, SocketAddr> = BTreeMap::new();
    if let Ok(stored) = store.peers() {
        for (id, p) in stored {
            if let Ok(a) = p.peer_addr.parse() {
                peers.insert(NodeId(id), a);
            }
        }
    }
    for (id, p) in &config.peers {
        peers.insert(NodeId(*id), p.peer_addr);
    }
    peers.remove(&NodeId(config.id));
    peers
}

/// On becoming leader, propose the addresses of configured members the replicated table lacks.
async fn register_peers(node: Node<Output>, store: KvStore, config: ServerConfig) {
    let mut state: watch::Receiver<raft_core::NodeState> = node.watch_state();
    loop {
        if state.borrow_and_update().role == Role::Leader {
            let known = store.peers().unwrap_or_default();
            for (id, p) in &config.peers {
                if known.contains_key(id) {
                    continue;
                }
                let op = Op::SetPeer {
                    id: *id,
                    peer_addr: p.peer_addr.to_string(),
                    client_addr: p.client_addr.to_string(),
                };
                let proposal = Proposal { session: None, op };
                if let Err(e) = node.propose(proposal.encode()).await {
                    tracing::debug!("registering node {id}'s addresses: {e}");
                }
            }
        }
        if state.changed().await.is_err() {
            return;
        }
    }
}
