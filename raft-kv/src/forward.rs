//! Forwarding writes from a follower to the leader, over the leader's client port, tagged so that
//! a forward retried after a timeout or a leader change is applied at most once.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};

use crate::client::reply::{Value, decode};
use crate::resp::encode_request;

/// One client connection's forwarding session: its own client id and sequence numbers, so that
/// retries are deduplicated by the leader, and its own connection to the leader, so that its
/// writes arrive in order.
pub struct ForwardSession {
    client: u64,
    seq: u64,
    conn: Option<(SocketAddr, TcpStream, BytesMut)>,
    password: Option<String>,
}

/// How long one forwarded write is retried.
const DEADLINE: Duration = Duration::from_secs(10);
/// How long one attempt may take.
const ATTEMPT: Duration = Duration::from_secs(3);

/// Why a forward failed.
#[derive(Debug)]
pub enum ForwardError {
    /// No leader is known (for now).
    NoLeader,
    /// The leader could not be reached in time: the outcome is unknown.
    Unreachable(String),
}

impl ForwardSession {
    /// A session with a fresh client id.
    #[must_use]
    pub fn new(password: Option<String>) -> ForwardSession {
        ForwardSession {
            // High bit set: forwarding sessions never collide with a client's own ids by
            // accident more than random ids collide at all.
            client: rand::random::<u64>() | (1 << 63),
            seq: 0,
            conn: None,
            password,
        }
    }

    /// The tag of the next write: `(client, seq)`.
    pub fn next_tag(&mut self) -> (u64, u64) {
        self.seq += 1;
        (self.client, self.seq)
    }

    async fn connect(&mut self, addr: SocketAddr) -> std::io::Result<()> {
        if self.conn.as_ref().is_some_and(|(a, _, _)| *a == addr) {
            return Ok(());
        }
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        self.conn = Some((addr, stream, BytesMut::with_capacity(4096)));
        if let Some(p) = self.password.clone()
            && let Value::Error(e) = self.call(&[&b"AUTH"[..], p.as_bytes()]).await?
        {
            self.conn = None;
            return Err(std::io::Error::other(e));
        }
        Ok(())
    }

    async fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> std::io::Result<Value> {
        let Some((_, stream, buf)) = &mut self.conn else {
            return Err(std::io::Error::other("not connected"));
        };
        let mut out = BytesMut::new();
        encode_request(args, &mut out);
        stream.write_all(&out).await?;
        loop {
            if let Some(v) = decode(buf).map_err(std::io::Error::other)? {
                return Ok(v);
            }
            if stream.read_buf(buf).await? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "leader closed the connection",
                ));
            }
        }
    }

    /// Sends `args` (a `RAFT.REQ`-tagged write) to whichever node `leader()` names, retrying
    /// with the same tag across timeouts and leader changes until an answer or the deadline.
    pub async fn forward(
        &mut self,
        args: &[Bytes],
        mut leader: impl FnMut() -> Option<SocketAddr>,
    ) -> Result<Value, ForwardError> {
        let deadline = Instant::now() + DEADLINE;
        let mut pause = Duration::from_millis(10);
        let mut last = ForwardError::NoLeader;
        while Instant::now() < deadline {
            if let Some(addr) = leader() {
                let attempt = async {
                    self.connect(addr).await?;
                    self.call(args).await
                };
                match timeout(ATTEMPT, attempt).await {
                    Ok(Ok(Value::Error(e))) if is_transient(&e) => {
                        last = ForwardError::Unreachable(e)
                    }
                    Ok(Ok(v)) => return Ok(v),
                    Ok(Err(e)) => last = ForwardError::Unreachable(e.to_string()),
                    Err(_) => last = ForwardError::Unreachable("timed out".into()),
                }
                self.conn = None;
            }
            sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
        Err(last)
    }
}

fn is_transient(e: &str) -> bool {
    ["TRYAGAIN", "CLUSTERDOWN", "NOTLEADER", "BUSY"]
        .iter()
        .any(|p| e.starts_with(p))
}
