//! Forwarding writes from a follower to the leader, over the leader's client port, tagged so that
//! a forward retried after a timeout or a leader change is applied at most once.
//!
//! A node keeps one [`Forwarder`]: a single pipelined connection to the leader that every client
//! connection's forwards share, so that many forwards travel in one write and their answers
//! come back in one read (the leader answers a connection's requests in order). Each client
//! connection keeps its own [`ForwardSession`] (its tag and sequence numbers), and forwards one
//! write at a time, so its writes reach the leader in order.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep, timeout};

use crate::client::reply::{ReplyDecoder, Value};
use crate::resp::encode_request;

/// How long one forwarded write is retried.
const DEADLINE: Duration = Duration::from_secs(10);
/// How long one attempt may take.
const ATTEMPT: Duration = Duration::from_secs(3);
/// The most forwards queued for the connection to the leader; more wait for room.
const QUEUE: usize = 4096;
/// The most bytes gathered into one write to the leader.
const MAX_WRITE: usize = 256 << 10;
/// The largest answer accepted from the leader.
const MAX_REPLY: usize = 64 << 20;

/// Why a forward failed.
#[derive(Debug)]
pub enum ForwardError {
    /// No leader is known (for now).
    NoLeader,
    /// The leader could not be reached in time: the outcome is unknown.
    Unreachable(String),
}

/// A forward's answer, or why the connection failed before it came.
type Answer = oneshot::Sender<std::io::Result<Value>>;

/// The node's connection to the leader, shared by every client connection.
pub struct Forwarder {
    password: Option<String>,
    link: Mutex<Option<Link>>,
}

/// One connection to one leader: requests go in through `queue`; a task writes them, another
/// reads the answers and hands them out in order.
struct Link {
    addr: SocketAddr,
    queue: mpsc::Sender<(BytesMut, Answer)>,
}

impl Forwarder {
    /// A forwarder that authenticates with `password` when the cluster has one.
    #[must_use]
    pub fn new(password: Option<String>) -> Arc<Forwarder> {
        Arc::new(Forwarder {
            password,
            link: Mutex::new(None),
        })
    }

    /// Sends one request to the leader at `addr` and waits for its answer.
    async fn call(&self, addr: SocketAddr, request: BytesMut) -> std::io::Result<Value> {
        let queue = self.link_to(addr).await?;
        let (tx, rx) = oneshot::channel();
        if queue.send((request, tx)).await.is_err() {
            self.drop_link(addr);
            return Err(std::io::Error::other("the connection to the leader closed"));
        }
        match rx.await {
            Ok(answer) => answer,
            Err(_) => {
                self.drop_link(addr);
                Err(std::io::Error::other("the connection to the leader closed"))
            }
        }
    }

    /// The queue of the live connection to `addr`, connecting (and authenticating) if needed.
    async fn link_to(&self, addr: SocketAddr) -> std::io::Result<mpsc::Sender<(BytesMut, Answer)>> {
        if let Some(l) = self.link.lock().map_err(poisoned)?.as_ref()
            && l.addr == addr
            && !l.queue.is_closed()
        {
            return Ok(l.queue.clone());
        }
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (mut rd, mut wr) = stream.into_split();
        let mut buf = BytesMut::with_capacity(16 << 10);
        if let Some(p) = &self.password {
            let mut out = BytesMut::new();
            encode_request(&[&b"AUTH"[..], p.as_bytes()], &mut out);
            wr.write_all(&out).await?;
            if let Value::Error(e) = read_value(&mut rd, &mut buf).await? {
                return Err(std::io::Error::other(e));
            }
        }
        let (queue, requests) = mpsc::channel(QUEUE);
        let waiting = Arc::new(Mutex::new(VecDeque::new()));
        tokio::spawn(write_loop(wr, requests, Arc::clone(&waiting)));
        tokio::spawn(read_loop(rd, buf, waiting));
        let mut link = self.link.lock().map_err(poisoned)?;
        // Another forward may have connected meanwhile: use the newer connection either way.
        *link = Some(Link {
            addr,
            queue: queue.clone(),
        });
        Ok(queue)
    }

    /// Forgets the connection to `addr` (it failed); the next forward connects again.
    fn drop_link(&self, addr: SocketAddr) {
        if let Ok(mut link) = self.link.lock()
            && link.as_ref().is_some_and(|l| l.addr == addr)
        {
            *link = None;
        }
    }
}

fn poisoned<T>(_: T) -> std::io::Error {
    std::io::Error::other("forwarder state poisoned")
}

/// Writes queued requests, as many per write as are waiting; registers each one's answer slot
/// before its bytes leave, so the reader finds the slots in the order the answers come.
async fn write_loop(
    mut wr: OwnedWriteHalf,
    mut requests: mpsc::Receiver<(BytesMut, Answer)>,
    waiting: Arc<Mutex<VecDeque<Answer>>>,
) {
    let mut out = BytesMut::with_capacity(16 << 10);
    while let Some((req, answer)) = requests.recv().await {
        out.clear();
        {
            let Ok(mut w) = waiting.lock() else { return };
            out.extend_from_slice(&req);
            w.push_back(answer);
            while out.len() < MAX_WRITE {
                match requests.try_recv() {
                    Ok((req, answer)) => {
                        out.extend_from_slice(&req);
                        w.push_back(answer);
                    }
                    Err(_) => break,
                }
            }
        }
        if wr.write_all(&out).await.is_err() {
            break;
        }
    }
    // Closing the write half ends the reader too, which fails whatever is still waiting.
    let _ = wr.shutdown().await;
}

/// Reads answers and hands each to the oldest waiting forward; on an error or end of stream,
/// fails every forward still waiting (their outcome is unknown: they retry with their tags).
async fn read_loop(
    mut rd: OwnedReadHalf,
    mut buf: BytesMut,
    waiting: Arc<Mutex<VecDeque<Answer>>>,
) {
    let mut decoder = ReplyDecoder::new(MAX_REPLY);
    let failure = loop {
        match decoder.decode(&mut buf) {
            Ok(Some(v)) => {
                let next = waiting.lock().ok().and_then(|mut w| w.pop_front());
                match next {
                    Some(answer) => {
                        let _ = answer.send(Ok(v));
                    }
                    None => break "the leader sent an answer nobody asked for".to_owned(),
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => break format!("undecodable answer from the leader: {e}"),
        }
        match rd.read_buf(&mut buf).await {
            Ok(0) => break "the leader closed the connection".to_owned(),
            Ok(_) => {}
            Err(e) => break e.to_string(),
        }
    };
    tracing::debug!("forwarding connection closed: {failure}");
    if let Ok(mut w) = waiting.lock() {
        for answer in w.drain(..) {
            let _ = answer.send(Err(std::io::Error::other(failure.clone())));
        }
    }
}

/// Reads one value (used before the connection is shared).
async fn read_value(rd: &mut OwnedReadHalf, buf: &mut BytesMut) -> std::io::Result<Value> {
    let mut decoder = ReplyDecoder::new(MAX_REPLY);
    loop {
        if let Some(v) = decoder.decode(buf).map_err(std::io::Error::other)? {
            return Ok(v);
        }
        if rd.read_buf(buf).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "leader closed the connection",
            ));
        }
    }
}

/// One client connection's forwarding session: its own client id and sequence numbers, so that
/// retries are deduplicated by the leader. Its writes go one at a time, so they arrive in order.
pub struct ForwardSession {
    client: u64,
    seq: u64,
    forwarder: Arc<Forwarder>,
}

impl ForwardSession {
    /// A session with a fresh client id, forwarding through `forwarder`.
    #[must_use]
    pub fn new(forwarder: Arc<Forwarder>) -> ForwardSession {
        ForwardSession {
            // High bit set: forwarding sessions never collide with a client's own ids by
            // accident more than random ids collide at all.
            client: rand::random::<u64>() | (1 << 63),
            seq: 0,
            forwarder,
        }
    }

    /// The tag of the next write: `(client, seq)`.
    pub fn next_tag(&mut self) -> (u64, u64) {
        self.seq += 1;
        (self.client, self.seq)
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
        let mut request = BytesMut::new();
        encode_request(args, &mut request);
        while Instant::now() < deadline {
            if let Some(addr) = leader() {
                match timeout(ATTEMPT, self.forwarder.call(addr, request.clone())).await {
                    Ok(Ok(Value::Error(e))) if is_transient(&e) => {
                        last = ForwardError::Unreachable(e)
                    }
                    Ok(Ok(v)) => return Ok(v),
                    Ok(Err(e)) => last = ForwardError::Unreachable(e.to_string()),
                    Err(_) => {
                        // The connection may be half dead (a stopped or vanished leader).
                        self.forwarder.drop_link(addr);
                        last = ForwardError::Unreachable("timed out".into());
                    }
                }
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
