//! `raft_kv::Client`: a client over RESP that retries across nodes, leader changes and timeouts
//! without ever applying a write twice (the clerk of the original design).
//!
//! Every write is tagged `RAFT.REQ <client id> <seq> <command...>`: the client id is random per
//! client, the sequence number increases with every new write and stays the same across retries.
//! The servers keep, in the replicated state, each client's last sequence number and its result,
//! so a retry of a write that was applied returns the recorded result instead of applying it
//! again. Reads are retried as they are (they change nothing). Any node can be asked: followers
//! forward writes to the leader and confirm reads with it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), raft_kv::client::ClientError> {
//! use raft_kv::client::{Client, ClientOptions};
//! let nodes = ["127.0.0.1:6379".parse().unwrap(), "127.0.0.1:6380".parse().unwrap()];
//! let mut c = Client::connect(nodes, ClientOptions::default()).await?;
//! c.set("greeting", "hello").await?;
//! assert_eq!(c.get("greeting").await?.as_deref(), Some(&b"hello"[..]));
//! # Ok(()) }
//! ```

pub mod reply;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};

use self::reply::ReplyDecoder;
pub use self::reply::Value;
use crate::resp::encode_request;

/// How hard the client tries.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientOptions {
    /// How long one attempt (connect, send, reply) may take.
    pub attempt_timeout: Duration,
    /// How long a request is retried before giving up.
    pub deadline: Duration,
    /// The pause between attempts (doubled on each retry, up to one second).
    pub backoff: Duration,
    /// Sent with `AUTH` on every new connection.
    pub password: Option<String>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            attempt_timeout: Duration::from_secs(2),
            deadline: Duration::from_secs(30),
            backoff: Duration::from_millis(20),
            password: None,
        }
    }
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error (not a transient one).
    #[error("server error: {0}")]
    Server(String),
    /// No node answered successfully before the deadline; the last problem is given. For a write,
    /// the outcome is unknown, but retrying it (with the same client) is safe.
    #[error("no node answered before the deadline: {0}")]
    Unavailable(String),
    /// The server's answer was not what the command returns.
    #[error("unexpected reply: {0:?}")]
    Unexpected(Value),
    /// No endpoint was given.
    #[error("no endpoint given")]
    NoEndpoints,
}

/// Error replies that mean "try again, perhaps elsewhere".
fn transient(err: &str) -> bool {
    [
        "TRYAGAIN",
        "CLUSTERDOWN",
        "NOTLEADER",
        "LOADING",
        "MASTERDOWN",
        "BUSY",
    ]
    .iter()
    .any(|p| err.starts_with(p))
}

/// The largest reply the client accepts (one command's; larger ones fail the call).
const MAX_REPLY: usize = 1 << 30;

struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    decoder: ReplyDecoder,
}

impl Conn {
    async fn open(addr: SocketAddr, password: Option<&str>) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut c = Conn {
            stream,
            buf: BytesMut::with_capacity(4096),
            decoder: ReplyDecoder::new(MAX_REPLY),
        };
        if let Some(p) = password
            && let Value::Error(e) = c.call(&[&b"AUTH"[..], p.as_bytes()]).await?
        {
            return Err(std::io::Error::other(e));
        }
        Ok(c)
    }

    async fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> std::io::Result<Value> {
        let mut out = BytesMut::new();
        encode_request(args, &mut out);
        self.stream.write_all(&out).await?;
        loop {
            if let Some(v) = self
                .decoder
                .decode(&mut self.buf)
                .map_err(std::io::Error::other)?
            {
                return Ok(v);
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed",
                ));
            }
        }
    }
}

/// A client of a raft-kv cluster.
pub struct Client {
    endpoints: Vec<SocketAddr>,
    next: usize,
    conn: Option<Conn>,
    id: u64,
    seq: u64,
    opts: ClientOptions,
}

impl Client {
    /// A client of the cluster reachable at any of `endpoints` (client addresses of its nodes).
    /// Connects lazily; fails only if no endpoint is given.
    pub async fn connect(
        endpoints: impl IntoIterator<Item = SocketAddr>,
        opts: ClientOptions,
    ) -> Result<Client, ClientError> {
        let endpoints: Vec<SocketAddr> = endpoints.into_iter().collect();
        if endpoints.is_empty() {
            return Err(ClientError::NoEndpoints);
        }
        Ok(Client {
            next: 0,
            endpoints,
            conn: None,
            // High bit clear: ids with it set are the servers' forwarding sessions.
            id: (rand::random::<u64>() >> 1) | 1,
            seq: 0,
            opts,
        })
    }

    /// This client's id (what its writes are tagged with).
    #[must_use]
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Sends `args` until a non-transient answer arrives or the deadline passes.
    async fn call_retrying(&mut self, args: &[&[u8]]) -> Result<Value, ClientError> {
        let deadline = Instant::now() + self.opts.deadline;
        let mut pause = self.opts.backoff;
        let mut last = String::from("no attempt");
        while Instant::now() < deadline {
            if self.conn.is_none() {
                let addr = self.endpoints[self.next % self.endpoints.len()];
                match timeout(
                    self.opts.attempt_timeout,
                    Conn::open(addr, self.opts.password.as_deref()),
                )
                .await
                {
                    Ok(Ok(c)) => self.conn = Some(c),
                    Ok(Err(e)) => last = format!("{addr}: {e}"),
                    Err(_) => last = format!("{addr}: connect timed out"),
                }
            }
            if let Some(conn) = &mut self.conn {
                match timeout(self.opts.attempt_timeout, conn.call(args)).await {
                    Ok(Ok(Value::Error(e))) if transient(&e) => last = e,
                    Ok(Ok(v)) => return Ok(v),
                    Ok(Err(e)) => last = e.to_string(),
                    Err(_) => last = "timed out".into(),
                }
            }
            // Something went wrong: drop the connection and try the next node after a pause.
            self.conn = None;
            self.next += 1;
            sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
        Err(ClientError::Unavailable(last))
    }

    /// Runs a write command exactly once: tagged with this client's id and a new sequence
    /// number, retried with the same tag until it is answered.
    pub async fn write(&mut self, args: &[&[u8]]) -> Result<Value, ClientError> {
        self.seq += 1;
        let (id, seq) = (self.id.to_string(), self.seq.to_string());
        let mut tagged: Vec<&[u8]> = vec![b"RAFT.REQ", id.as_bytes(), seq.as_bytes()];
        tagged.extend_from_slice(args);
        match self.call_retrying(&tagged).await? {
            Value::Error(e) => Err(ClientError::Server(e)),
            v => Ok(v),
        }
    }

    /// Runs a read command (retried as is; a linearizable read on any node).
    pub async fn read(&mut self, args: &[&[u8]]) -> Result<Value, ClientError> {
        match self.call_retrying(args).await? {
            Value::Error(e) => Err(ClientError::Server(e)),
            v => Ok(v),
        }
    }

    /// `GET key`.
    pub async fn get(&mut self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>, ClientError> {
        match self.read(&[b"GET", key.as_ref()]).await? {
            Value::Bulk(v) => Ok(v),
            other => Err(ClientError::Unexpected(other)),
        }
    }

    /// `SET key value`.
    pub async fn set(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<(), ClientError> {
        match self.write(&[b"SET", key.as_ref(), value.as_ref()]).await? {
            Value::Simple(_) => Ok(()),
            other => Err(ClientError::Unexpected(other)),
        }
    }

    /// `APPEND key value`: the new length.
    pub async fn append(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<i64, ClientError> {
        match self
            .write(&[b"APPEND", key.as_ref(), value.as_ref()])
            .await?
        {
            Value::Int(n) => Ok(n),
            other => Err(ClientError::Unexpected(other)),
        }
    }

    /// `INCRBY key by`: the new value.
    pub async fn incr_by(&mut self, key: impl AsRef<[u8]>, by: i64) -> Result<i64, ClientError> {
        let by = by.to_string();
        match self
            .write(&[b"INCRBY", key.as_ref(), by.as_bytes()])
            .await?
        {
            Value::Int(n) => Ok(n),
            other => Err(ClientError::Unexpected(other)),
        }
    }

    /// `DEL key`: whether it existed.
    pub async fn del(&mut self, key: impl AsRef<[u8]>) -> Result<bool, ClientError> {
        match self.write(&[b"DEL", key.as_ref()]).await? {
            Value::Int(n) => Ok(n > 0),
            other => Err(ClientError::Unexpected(other)),
        }
    }
}
