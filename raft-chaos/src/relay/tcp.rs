//! The TCP relay of one directed pair (A, B), for writes A forwards to B's client port: each
//! connection A opens is joined to a new connection to B; bytes stall in a cut direction until
//! the link heals. Either side closing closes both.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::Links;

/// A running TCP relay; it stops accepting when dropped (open connections end on their own).
pub struct TcpRelay {
    /// Where A connects.
    pub listen: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for TcpRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    links: &Links,
    (a, b): (u64, u64),
) {
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        links.wait_open(a, b).await;
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

impl TcpRelay {
    /// Starts the relay from `a` to `b` (at `target`).
    pub async fn start(
        a: u64,
        b: u64,
        target: SocketAddr,
        links: Arc<Links>,
    ) -> std::io::Result<TcpRelay> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let listen = listener.local_addr()?;
        let task = tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                let links = Arc::clone(&links);
                tokio::spawn(async move {
                    // A partitioned peer is unreachable: hold the connection until the link
                    // heals (the forwarding node's own timeout gives up first).
                    links.wait_open(a, b).await;
                    let connect = TcpStream::connect(target);
                    let Ok(Ok(outbound)) =
                        tokio::time::timeout(Duration::from_secs(2), connect).await
                    else {
                        return;
                    };
                    let _ = (inbound.set_nodelay(true), outbound.set_nodelay(true));
                    let (ir, iw) = inbound.into_split();
                    let (or, ow) = outbound.into_split();
                    tokio::select! {
                        () = pump(ir, ow, &links, (a, b)) => {}
                        () = pump(or, iw, &links, (b, a)) => {}
                    }
                });
            }
        });
        Ok(TcpRelay { listen, task })
    }
}
