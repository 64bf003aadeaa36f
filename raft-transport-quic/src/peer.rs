//! One task per peer: its bounded outbound queue, its connection (dialed, verified, re-dialed
//! with backoff), and the coalesced writes of its messages.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use quinn::{Connection, ConnectionError, SendStream, WriteError};
use raft_core::{Message, MessageBody, NodeId};
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::diagnose::{explain, stream_code};
use crate::error::SendError;
use crate::framing::{EncodeError, FrameDecoder, decode_value, encode_frame, read_frame};
use crate::identity::peer_node_id;
use crate::metrics::{add, inc};
use crate::tls::{check_alpn, server_name};
use crate::transport::Shared;
use crate::unreachable::UnreachableReason;
use crate::wire::{
    Hello, MAX_CONTROL_FRAME, PRIORITY_MESSAGES, STREAM_HELLO, STREAM_MESSAGES, code, varint,
};

/// A message waiting in a peer's queue, with the bytes it is charged for.
pub(crate) struct Queued {
    msg: Message,
    cost: usize,
}

/// What the transport keeps about a peer; dropping it stops the peer's task.
pub(crate) struct PeerHandle {
    addr: SocketAddr,
    addr_tx: watch::Sender<SocketAddr>,
    queue: mpsc::Sender<Queued>,
    queued_bytes: Arc<AtomicUsize>,
    conn: watch::Receiver<Option<Connection>>,
    wake: Arc<Notify>,
    cancel: CancellationToken,
}

impl Drop for PeerHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl PeerHandle {
    /// Starts the task of `peer` at `addr`.
    pub(crate) fn spawn(shared: &Arc<Shared>, peer: NodeId, addr: SocketAddr) -> Self {
        let (queue, rx) = mpsc::channel(shared.queues.peer_messages);
        let (addr_tx, addr_rx) = watch::channel(addr);
        let (conn_tx, conn) = watch::channel(None);
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let cancel = shared.cancel.child_token();
        let wake = Arc::new(Notify::new());
        let task = PeerTask {
            wake: wake.clone(),
            shared: shared.clone(),
            peer,
            server_name: server_name(&shared.cluster, peer),
            rx,
            queued_bytes: queued_bytes.clone(),
            conn_tx,
            addr_rx,
            cancel: cancel.clone(),
            ever_connected: false,
            failures: 0,
        };
        shared.tracker.spawn(task.run());
        Self {
            addr,
            addr_tx,
            queue,
            queued_bytes,
            conn,
            wake,
            cancel,
        }
    }

    /// The peer just connected to us, so it is up: if we are waiting to redial it, redial now.
    pub(crate) fn nudge(&self) {
        if !self.is_connected() {
            self.wake.notify_one();
        }
    }

    /// The peer's address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Moves the peer to a new address: the connection is re-established there.
    pub(crate) fn set_addr(&mut self, addr: SocketAddr) {
        if addr != self.addr {
            self.addr = addr;
            self.addr_tx.send_replace(addr);
        }
    }

    /// Whether a verified connection to the peer is up.
    pub(crate) fn is_connected(&self) -> bool {
        self.conn.borrow().is_some()
    }

    /// A watch of the peer's current connection.
    pub(crate) fn connection(&self) -> watch::Receiver<Option<Connection>> {
        self.conn.clone()
    }

    /// Queues `msg` without waiting: a full queue drops it.
    pub(crate) fn enqueue(&self, shared: &Shared, msg: Message) -> Result<(), SendError> {
        let peer = msg.to;
        let cost = estimated_size(&msg);
        let before = self.queued_bytes.fetch_add(cost, Ordering::Relaxed);
        let full = || {
            self.queued_bytes.fetch_sub(cost, Ordering::Relaxed);
            inc(&shared.metrics.dropped_queue_full);
            shared.reporter.report(peer, UnreachableReason::QueueFull);
            Err(SendError::QueueFull(peer))
        };
        if before > 0 && before.saturating_add(cost) > shared.queues.peer_bytes {
            return full();
        }
        match self.queue.try_send(Queued { msg, cost }) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => full(),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.queued_bytes.fetch_sub(cost, Ordering::Relaxed);
                inc(&shared.metrics.dropped_unreachable);
                Err(SendError::ShutDown)
            }
        }
    }
}

/// What a message is charged in its queue: its payload bytes plus a fixed overhead.
fn estimated_size(msg: &Message) -> usize {
    const OVERHEAD: usize = 64;
    const PER_ITEM: usize = 32;
    let payload = match &msg.body {
        MessageBody::Append(a) => usize::try_from(a.entries.payload_bytes())
            .unwrap_or(usize::MAX)
            .saturating_add(a.entries.len().saturating_mul(PER_ITEM)),
        MessageBody::Propose(p) => p.commands.iter().fold(0usize, |sum, c| {
            sum.saturating_add(c.len()).saturating_add(PER_ITEM)
        }),
        MessageBody::InstallSnapshot(_) => 256,
        _ => 0,
    };
    payload.saturating_add(OVERHEAD)
}

/// Why serving a connection ended.
enum ServeEnd {
    /// The transport shuts down or the peer was removed.
    Shutdown,
    /// The peer moved; dial the new address at once.
    AddressChanged,
    /// The connection is gone.
    Lost(String),
}

/// Why a connection attempt failed.
#[derive(Debug, thiserror::Error)]
enum ConnectFailure {
    #[error("cannot dial: {0}")]
    Dial(#[from] quinn::ConnectError),
    #[error("{}", explain(.0))]
    Connection(#[from] ConnectionError),
    #[error("{0}")]
    Refused(String),
    #[error("timed out after {0:?}")]
    TimedOut(std::time::Duration),
    #[error("shutting down")]
    Shutdown,
    #[error("the peer is up, or moved: dialing again")]
    Nudged,
}

struct PeerTask {
    shared: Arc<Shared>,
    peer: NodeId,
    server_name: String,
    rx: mpsc::Receiver<Queued>,
    queued_bytes: Arc<AtomicUsize>,
    conn_tx: watch::Sender<Option<Connection>>,
    addr_rx: watch::Receiver<SocketAddr>,
    wake: Arc<Notify>,
    cancel: CancellationToken,
    ever_connected: bool,
    failures: u32,
}

impl PeerTask {
    async fn run(mut self) {
        let peer = self.peer;
        loop {
            if self.cancel.is_cancelled() {
                break;
            }
            let addr = *self.addr_rx.borrow_and_update();
            match self.connect(addr).await {
                Ok(conn) => {
                    inc(&self.shared.metrics.connects);
                    if self.ever_connected {
                        inc(&self.shared.metrics.reconnects);
                        info!(node = %self.shared.id, %peer, %addr, "reconnected to peer");
                    } else {
                        info!(node = %self.shared.id, %peer, %addr, "connected to peer");
                    }
                    self.ever_connected = true;
                    self.failures = 0;
                    self.conn_tx.send_replace(Some(conn.clone()));
                    let end = self.serve(&conn).await;
                    self.conn_tx.send_replace(None);
                    match end {
                        ServeEnd::Shutdown => {
                            conn.close(varint(code::SHUTDOWN), b"shutting down");
                            break;
                        }
                        ServeEnd::AddressChanged => {
                            conn.close(varint(code::ADDRESS_CHANGED), b"address changed");
                            info!(node = %self.shared.id, %peer, "peer address changed; redialing");
                            continue;
                        }
                        ServeEnd::Lost(why) => {
                            inc(&self.shared.metrics.connections_lost);
                            warn!(node = %self.shared.id, %peer, %addr, "connection to peer lost: {why}");
                        }
                    }
                }
                Err(ConnectFailure::Shutdown) => break,
                Err(ConnectFailure::Nudged) => {
                    debug!(node = %self.shared.id, %peer, "peer is up or moved; redialing it now");
                    continue;
                }
                Err(e) => {
                    inc(&self.shared.metrics.connect_failures);
                    self.failures = self.failures.saturating_add(1);
                    // Log the first failure of a streak loudly, then only now and then.
                    if self.failures == 1 || self.failures % 50 == 0 {
                        warn!(
                            node = %self.shared.id, %peer, %addr, failures = self.failures,
                            "cannot connect to peer: {e}"
                        );
                    } else {
                        debug!(node = %self.shared.id, %peer, %addr, failures = self.failures, "cannot connect to peer: {e}");
                    }
                }
            }
            // Not connected: what is queued cannot be delivered.
            self.drain_unreachable();
            if !self.wait_backoff().await {
                break;
            }
        }
        self.conn_tx.send_replace(None);
        self.drain_dropped();
        debug!(node = %self.shared.id, %peer, "peer task stopped");
    }

    /// Dials, verifies and waits for the server's hello, within the connect timeout.
    ///
    /// A change of address abandons the attempt for one at the new address. If the peer
    /// connects to us meanwhile (it is up) while our attempt has gone unanswered
    /// for two initial round trips (our first packets were lost, most likely because the peer
    /// was down), the attempt is abandoned for a fresh one rather than waiting for QUIC's
    /// retransmission timer.
    async fn connect(&self, addr: SocketAddr) -> Result<Connection, ConnectFailure> {
        let limit = self.shared.timeouts.connect;
        let stale_after = self.shared.timeouts.initial_rtt * 2;
        let started = tokio::time::Instant::now();
        let dial = tokio::time::timeout(limit, self.dial(addr));
        tokio::pin!(dial);
        let mut addr_rx = self.addr_rx.clone();
        loop {
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => return Err(ConnectFailure::Shutdown),
                r = addr_rx.changed() => return match r {
                    Ok(()) => Err(ConnectFailure::Nudged),
                    Err(_) => Err(ConnectFailure::Shutdown),
                },
                r = &mut dial => return match r {
                    Ok(r) => r,
                    Err(_) => Err(ConnectFailure::TimedOut(limit)),
                },
                () = self.wake.notified() => {
                    if started.elapsed() >= stale_after {
                        return Err(ConnectFailure::Nudged);
                    }
                }
            }
        }
    }

    async fn dial(&self, addr: SocketAddr) -> Result<Connection, ConnectFailure> {
        let connecting = self.shared.endpoint.connect_with(
            self.shared.client_config.clone(),
            addr,
            &self.server_name,
        )?;
        let conn = connecting.await?;
        // rustls verified the chain and the name `node-<peer>.<cluster>`; check the rest.
        if let Err(why) = check_alpn(&conn) {
            conn.close(varint(code::BAD_PROTOCOL), why.as_bytes());
            return Err(ConnectFailure::Refused(why));
        }
        match peer_node_id(&conn, &self.shared.cluster) {
            Ok(id) if id == self.peer => {}
            Ok(id) => {
                conn.close(varint(code::BAD_IDENTITY), b"unexpected node identity");
                return Err(ConnectFailure::Refused(format!(
                    "the peer's certificate is for node {id}"
                )));
            }
            Err(e) => {
                conn.close(varint(code::BAD_IDENTITY), b"no node identity");
                return Err(ConnectFailure::Refused(e.to_string()));
            }
        }
        // The server has accepted us (identity, membership) once it says hello.
        let mut recv = conn.accept_uni().await?;
        let mut kind = [0u8; 1];
        let hello = async {
            recv.read_exact(&mut kind)
                .await
                .map_err(|e| e.to_string())?;
            if kind[0] != STREAM_HELLO {
                return Err(format!("unexpected stream kind {:#x}", kind[0]));
            }
            let mut decoder = FrameDecoder::new(MAX_CONTROL_FRAME);
            let frame = read_frame(&mut recv, &mut decoder)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("no hello frame")?;
            decode_value::<Hello>(&frame).map_err(|e| e.to_string())
        };
        match hello.await {
            Ok(_) => Ok(conn),
            Err(why) => {
                // A refusal closes the connection: report that rather than the read error.
                if let Some(reason) = conn.close_reason() {
                    return Err(reason.into());
                }
                conn.close(varint(code::BAD_PROTOCOL), b"bad hello");
                Err(ConnectFailure::Refused(format!("bad hello: {why}")))
            }
        }
    }

    /// Writes queued messages to the connection until it ends.
    async fn serve(&mut self, conn: &Connection) -> ServeEnd {
        let current = *self.addr_rx.borrow();
        let mut stream: Option<SendStream> = None;
        let max_batch = self.shared.queues.batch_bytes;
        let max_frame = self.shared.frames.max_frame_bytes;
        let mut buf: Vec<u8> = Vec::new();
        loop {
            let first = tokio::select! {
                biased;
                () = self.cancel.cancelled() => return ServeEnd::Shutdown,
                e = conn.closed() => return ServeEnd::Lost(explain(&e)),
                r = self.addr_rx.changed() => {
                    if r.is_err() {
                        return ServeEnd::Shutdown;
                    }
                    if *self.addr_rx.borrow() != current {
                        return ServeEnd::AddressChanged;
                    }
                    continue;
                }
                q = self.rx.recv() => match q {
                    Some(q) => q,
                    None => return ServeEnd::Shutdown,
                },
            };

            // Coalesce what is queued into one write.
            buf.clear();
            let mut count = 0u64;
            self.encode(&mut buf, first, max_frame, &mut count);
            while buf.len() < max_batch {
                match self.rx.try_recv() {
                    Ok(q) => self.encode(&mut buf, q, max_frame, &mut count),
                    Err(_) => break,
                }
            }
            if count == 0 {
                continue;
            }

            let s = match &mut stream {
                Some(s) => s,
                None => match open_message_stream(conn).await {
                    Ok(s) => stream.insert(s),
                    Err(e) => {
                        add(&self.shared.metrics.dropped_unreachable, count);
                        return ServeEnd::Lost(e);
                    }
                },
            };
            let len = buf.len() as u64;
            let data = Bytes::from(std::mem::replace(&mut buf, Vec::with_capacity(4096)));
            let written = tokio::select! {
                biased;
                () = self.cancel.cancelled() => return ServeEnd::Shutdown,
                r = s.write_chunk(data) => r,
            };
            match written {
                Ok(()) => {
                    let m = &self.shared.metrics;
                    add(&m.messages_sent, count);
                    add(&m.bytes_sent, len);
                    inc(&m.batches_sent);
                }
                Err(WriteError::ConnectionLost(e)) => {
                    add(&self.shared.metrics.dropped_unreachable, count);
                    return ServeEnd::Lost(explain(&e));
                }
                Err(WriteError::Stopped(c)) => {
                    // The peer closed our stream (it could not decode something we sent):
                    // continue on a fresh one.
                    add(&self.shared.metrics.dropped_unreachable, count);
                    warn!(
                        node = %self.shared.id, peer = %self.peer,
                        "peer closed our message stream: {}; opening a new one", stream_code(c)
                    );
                    stream = None;
                }
                Err(e) => {
                    add(&self.shared.metrics.dropped_unreachable, count);
                    debug!(node = %self.shared.id, peer = %self.peer, "message stream failed: {e}");
                    stream = None;
                }
            }
        }
    }

    /// Appends one queued message to the batch, or drops it if it is too large.
    fn encode(&self, buf: &mut Vec<u8>, q: Queued, max_frame: u32, count: &mut u64) {
        self.queued_bytes.fetch_sub(q.cost, Ordering::Relaxed);
        match encode_frame(buf, &q.msg, max_frame) {
            Ok(_) => *count += 1,
            Err(e) => {
                inc(&self.shared.metrics.dropped_too_large);
                if matches!(e, EncodeError::TooLarge { .. }) {
                    self.shared
                        .reporter
                        .report(self.peer, UnreachableReason::MessageTooLarge);
                }
                warn!(
                    node = %self.shared.id, peer = %self.peer, kind = ?q.msg.body.kind(),
                    "dropping a message that cannot be sent: {e}"
                );
            }
        }
    }

    /// Drops every queued message as undeliverable, and reports the peer unreachable.
    fn drain_unreachable(&mut self) {
        let dropped = self.drain_dropped();
        if dropped > 0 {
            add(&self.shared.metrics.dropped_unreachable, dropped);
            self.shared
                .reporter
                .report(self.peer, UnreachableReason::NotConnected);
        }
    }

    /// Empties the queue; returns how many messages it held.
    fn drain_dropped(&mut self) -> u64 {
        let mut n = 0;
        while let Ok(q) = self.rx.try_recv() {
            self.queued_bytes.fetch_sub(q.cost, Ordering::Relaxed);
            n += 1;
        }
        n
    }

    /// Waits before the next attempt, dropping (and reporting) what is queued meanwhile. Returns
    /// false when the task must stop.
    async fn wait_backoff(&mut self) -> bool {
        let delay = self.shared.backoff.delay(self.failures);
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => return false,
                () = &mut sleep => return true,
                () = self.wake.notified() => return true,
                r = self.addr_rx.changed() => return r.is_ok(),
                q = self.rx.recv() => match q {
                    Some(q) => {
                        self.queued_bytes.fetch_sub(q.cost, Ordering::Relaxed);
                        inc(&self.shared.metrics.dropped_unreachable);
                        self.shared.reporter.report(self.peer, UnreachableReason::NotConnected);
                    }
                    None => return false,
                },
            }
        }
    }
}

/// Opens a message stream: high priority, kind byte first.
async fn open_message_stream(conn: &Connection) -> Result<SendStream, String> {
    let mut s = conn.open_uni().await.map_err(|e| explain(&e))?;
    let _ = s.set_priority(PRIORITY_MESSAGES);
    s.write_all(&[STREAM_MESSAGES]).await.map_err(|e| match e {
        WriteError::ConnectionLost(e) => explain(&e),
        other => other.to_string(),
    })?;
    Ok(s)
}
