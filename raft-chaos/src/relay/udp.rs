//! The UDP relay of one directed pair (A, B): A sends to its listening socket; it forwards to
//! B's real address from a socket of its own, and sends B's replies back to A.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use super::Links;

/// A running UDP relay; its tasks stop when it is dropped.
pub struct UdpRelay {
    /// Where A sends.
    pub listen: SocketAddr,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for UdpRelay {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl UdpRelay {
    /// Starts the relay from `a` to `b` (at `target`).
    pub async fn start(
        a: u64,
        b: u64,
        target: SocketAddr,
        links: Arc<Links>,
    ) -> std::io::Result<UdpRelay> {
        let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
        let back = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
        let listen = front.local_addr()?;
        let source: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let forward = {
            let (front, back, links, source) = (
                Arc::clone(&front),
                Arc::clone(&back),
                Arc::clone(&links),
                Arc::clone(&source),
            );
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65_536];
                loop {
                    let Ok((n, from)) = front.recv_from(&mut buf).await else {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    };
                    if let Ok(mut s) = source.lock() {
                        *s = Some(from);
                    }
                    let cut = links.is_cut(a, b);
                    links.count(cut);
                    if !cut {
                        let _ = back.send_to(&buf[..n], target).await;
                    }
                }
            })
        };
        let reply = tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            loop {
                let Ok((n, from)) = back.recv_from(&mut buf).await else {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                };
                let dest = source.lock().ok().and_then(|s| *s);
                let (true, Some(dest)) = (from == target, dest) else {
                    continue;
                };
                let cut = links.is_cut(b, a);
                links.count(cut);
                if !cut {
                    let _ = front.send_to(&buf[..n], dest).await;
                }
            }
        });
        Ok(UdpRelay {
            listen,
            tasks: [forward, reply],
        })
    }
}
