//! A minimal single-attempt RESP client: one request, one reply, or an error, within a timeout.
//! Unlike `raft_kv::client::Client` it never retries, so each recorded operation is exactly one
//! attempt with a clear call and return.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use raft_kv::client::reply::{Value, decode};
use raft_kv::resp::encode_request;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

pub use raft_kv::client::reply::Value as Reply;

/// Why a call got no reply.
#[derive(Debug)]
pub enum CallError {
    /// No reply within the timeout.
    Timeout,
    /// The connection failed or was closed.
    Io(std::io::Error),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Timeout => write!(f, "timed out"),
            CallError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// A connection to one node's client port.
pub struct Conn {
    /// The node's client address.
    pub addr: SocketAddr,
    stream: TcpStream,
    buf: BytesMut,
}

impl Conn {
    /// Connects within `limit`.
    pub async fn connect(addr: SocketAddr, limit: Duration) -> Result<Conn, CallError> {
        let stream = timeout(limit, TcpStream::connect(addr))
            .await
            .map_err(|_| CallError::Timeout)?
            .map_err(CallError::Io)?;
        stream.set_nodelay(true).map_err(CallError::Io)?;
        Ok(Conn {
            addr,
            stream,
            buf: BytesMut::with_capacity(4096),
        })
    }

    /// Sends one request and waits for its reply within `limit`. After an error the connection
    /// must not be used again (a late reply could be taken for the next request's).
    pub async fn call<A: AsRef<[u8]>>(
        &mut self,
        args: &[A],
        limit: Duration,
    ) -> Result<Value, CallError> {
        let mut out = BytesMut::new();
        encode_request(args, &mut out);
        let (stream, buf) = (&mut self.stream, &mut self.buf);
        let exchange = async move {
            stream.write_all(&out).await?;
            loop {
                if let Some(v) = decode(buf).map_err(std::io::Error::other)? {
                    return Ok(v);
                }
                if stream.read_buf(buf).await? == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "connection closed",
                    ));
                }
            }
        };
        timeout(limit, exchange)
            .await
            .map_err(|_| CallError::Timeout)?
            .map_err(CallError::Io)
    }
}

/// Connects to `addr` and makes one call (for administration and probes).
pub async fn call_once<A: AsRef<[u8]>>(
    addr: SocketAddr,
    args: &[A],
    limit: Duration,
) -> Result<Value, CallError> {
    let mut conn = Conn::connect(addr, limit).await?;
    conn.call(args, limit).await
}

/// The text of a bulk or simple reply.
#[must_use]
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Simple(s) => Some(s.clone()),
        _ => None,
    }
}
