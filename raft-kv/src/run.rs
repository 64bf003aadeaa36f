//! Running servers: one node and its client port (`serve`), or a whole local cluster (`dev`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::certs;
use crate::config::{PeerConfig, ServerConfig};
use crate::node::{KvNode, StartError};
use crate::server::{Shared, serve};

/// A node serving clients.
pub struct Running {
    /// What the connections share (the node, counters).
    pub shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The node could not start.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The client port could not be bound.
    #[error("binding the client address {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Certificates could not be made.
    #[error(transparent)]
    Certs(#[from] certs::CertsError),
    /// A file could not be written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl Running {
    /// Starts the node of `config` and serves clients on its client address.
    pub async fn start(config: ServerConfig) -> Result<Running, RunError> {
        let addr = config.client_addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| RunError::Bind { addr, source })?;
        let node = KvNode::start(config).await?;
        let shared = Shared::new(node);
        let accept = tokio::spawn(serve(listener, Arc::clone(&shared)));
        tracing::info!(node = shared.node.config.id, %addr, "serving clients");
        Ok(Running { shared, accept })
    }

    /// Stops accepting clients, then stops the node cleanly.
    pub async fn shutdown(self) {
        self.accept.abort();
        let _ = self.accept.await;
        match Arc::try_unwrap(self.shared) {
            Ok(shared) => shared.node.shutdown().await,
            // Connections still hold the node: stop Raft through a handle.
            Err(shared) => {
                shared.node.raft.shutdown().await;
                shared.node.transport.shutdown().await;
            }
        }
    }
}

/// The configurations of a local cluster of `n` nodes under `dir`: client ports `port`,
/// `port + 1`, ...; peer (QUIC) ports `port + 10000`, ...; certificates in `dir/certs`, made on
/// first use.
pub fn dev_configs(
    dir: &Path,
    n: u64,
    port: u16,
    password: Option<String>,
) -> Result<Vec<ServerConfig>, RunError> {
    let ids: Vec<u64> = (1..=n).collect();
    let tls = certs::ensure(&dir.join("certs"), "raft-kv-dev", &ids)?;
    let addr = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
    let peers: BTreeMap<u64, PeerConfig> = ids
        .iter()
        .map(|&id| {
            let off = u16::try_from(id - 1).unwrap_or(0);
            (
                id,
                PeerConfig {
                    peer_addr: addr(port.saturating_add(10_000).saturating_add(off)),
                    client_addr: addr(port.saturating_add(off)),
                },
            )
        })
        .collect();
    let mut out = Vec::new();
    for (&id, tls) in ids.iter().zip(tls) {
        let cfg = ServerConfig {
            id,
            cluster: "raft-kv-dev".into(),
            client_addr: peers[&id].client_addr,
            peer_addr: peers[&id].peer_addr,
            data_dir: dir.join(format!("node-{id}")),
            tls,
            peers: peers.clone(),
            join: false,
            password: password.clone(),
            raft: Default::default(),
            limits: Default::default(),
        };
        std::fs::write(dir.join(format!("node-{id}.toml")), cfg.to_toml())?;
        out.push(cfg);
    }
    Ok(out)
}
