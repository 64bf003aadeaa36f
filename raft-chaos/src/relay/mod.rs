//! Relays on every directed link between two nodes, so that partitions cut real traffic.
//!
//! Node A reaches node B only through relays of the pair (A, B): A's configuration lists B's
//! Raft address as the UDP relay of (A, B) (QUIC runs over UDP) and B's client address as the
//! TCP relay of (A, B) (followers forward writes to the leader's client port). [`Links`] says
//! which directed links are cut: a UDP datagram from A to B is dropped when A→B is cut (so a
//! one-way cut drops one direction only, whichever relay carries it), and a TCP stream stalls
//! in the cut direction until the link heals, as a real partition would leave it.

mod tcp;
mod udp;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::watch;

pub use tcp::TcpRelay;
pub use udp::UdpRelay;

/// Which directed links are cut, and what the relays dropped.
#[derive(Debug)]
pub struct Links {
    cut: RwLock<BTreeSet<(u64, u64)>>,
    changed: watch::Sender<u64>,
    /// UDP datagrams dropped on cut links.
    pub dropped: AtomicU64,
    /// UDP datagrams relayed.
    pub relayed: AtomicU64,
}

impl Links {
    /// All links open.
    #[must_use]
    pub fn new() -> Arc<Links> {
        Arc::new(Links {
            cut: RwLock::new(BTreeSet::new()),
            changed: watch::channel(0).0,
            dropped: AtomicU64::new(0),
            relayed: AtomicU64::new(0),
        })
    }

    /// Whether traffic from `from` to `to` is cut.
    #[must_use]
    pub fn is_cut(&self, from: u64, to: u64) -> bool {
        self.cut.read().is_ok_and(|c| c.contains(&(from, to)))
    }

    fn update(&self, f: impl FnOnce(&mut BTreeSet<(u64, u64)>)) {
        if let Ok(mut c) = self.cut.write() {
            f(&mut c);
        }
        self.changed.send_modify(|v| *v += 1);
    }

    /// Cuts traffic from `from` to `to` (one way).
    pub fn cut(&self, from: u64, to: u64) {
        self.update(|c| {
            c.insert((from, to));
        });
    }

    /// Cuts every link between a node of `a` and a node of `b`, both ways.
    pub fn split(&self, a: &[u64], b: &[u64]) {
        self.update(|c| {
            for &x in a {
                for &y in b {
                    c.insert((x, y));
                    c.insert((y, x));
                }
            }
        });
    }

    /// Heals every link.
    pub fn heal_all(&self) {
        self.update(BTreeSet::clear);
    }

    /// The links cut now.
    #[must_use]
    pub fn cut_links(&self) -> Vec<(u64, u64)> {
        self.cut
            .read()
            .map(|c| c.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Waits until traffic from `from` to `to` flows.
    pub async fn wait_open(&self, from: u64, to: u64) {
        let mut rx = self.changed.subscribe();
        while self.is_cut(from, to) {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    fn count(&self, dropped: bool) {
        let c = if dropped {
            &self.dropped
        } else {
            &self.relayed
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// The real addresses of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addrs {
    /// Client (RESP, TCP) address.
    pub client: SocketAddr,
    /// Raft (QUIC, UDP) address.
    pub peer: SocketAddr,
}

/// The relays of every directed pair of a set of nodes.
pub struct Mesh {
    /// The cut table they obey.
    pub links: Arc<Links>,
    udp: BTreeMap<(u64, u64), UdpRelay>,
    tcp: BTreeMap<(u64, u64), TcpRelay>,
}

impl Mesh {
    /// Starts the relays for every ordered pair of `nodes`.
    pub async fn start(nodes: &BTreeMap<u64, Addrs>) -> std::io::Result<Mesh> {
        let links = Links::new();
        let (mut udp, mut tcp) = (BTreeMap::new(), BTreeMap::new());
        for &a in nodes.keys() {
            for (&b, to) in nodes {
                if a == b {
                    continue;
                }
                udp.insert(
                    (a, b),
                    UdpRelay::start(a, b, to.peer, Arc::clone(&links)).await?,
                );
                tcp.insert(
                    (a, b),
                    TcpRelay::start(a, b, to.client, Arc::clone(&links)).await?,
                );
            }
        }
        Ok(Mesh { links, udp, tcp })
    }

    /// How node `from` should reach node `to`: the relays of the pair (or `to`'s real
    /// addresses when `from == to`).
    #[must_use]
    pub fn route(&self, from: u64, to: u64, real: Addrs) -> Addrs {
        match (self.udp.get(&(from, to)), self.tcp.get(&(from, to))) {
            (Some(u), Some(t)) => Addrs {
                client: t.listen,
                peer: u.listen,
            },
            _ => real,
        }
    }
}

#[cfg(test)]
mod tests;
