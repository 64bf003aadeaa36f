//! The client-facing server: RESP over TCP. Any node takes any command: writes go through Raft
//! (forwarded to the leader from a follower), reads are linearizable (a read index, confirmed
//! with the leader) unless the connection opted into stale local reads with `RAFT.STALE on`.
//!
//! Each connection's requests may be pipelined: they are read as they come (up to the pipeline
//! limit), take effect in the order they were sent (as Redis runs them), overlap where that
//! order allows (see [`Order`]) and are answered in order.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::{Bytes, BytesMut};
use raft_core::{NodeId, Role};
use raft_tokio::ProposeError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, mpsc, oneshot, watch};

use crate::client::reply::Value;
use crate::command::{Command, SetCondition as CmdCondition, glob_match};
use crate::forward::{ForwardError, ForwardSession, Forwarder};
use crate::node::KvNode;
use crate::resp::{Decoder, Limits as RespLimits, Protocol, Reply, encode};
use crate::sm::{Op, Output, Proposal, Session, SetCondition};

/// Counters of the server.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections refused (too many clients).
    pub refused: AtomicU64,
    /// Commands executed.
    pub commands: AtomicU64,
    /// Writes forwarded to the leader.
    pub forwarded: AtomicU64,
    /// Protocol errors (connections closed).
    pub protocol_errors: AtomicU64,
}

/// What every connection shares.
pub struct Shared {
    /// The node.
    pub node: KvNode,
    /// Counters.
    pub stats: ServerStats,
    clients: AtomicUsize,
    /// The connection to the leader that forwarded writes share.
    forwarder: Arc<Forwarder>,
    /// One `DBSIZE` count at a time (each walks every key).
    counting: tokio::sync::Semaphore,
}

impl Shared {
    /// State for serving `node`.
    #[must_use]
    pub fn new(node: KvNode) -> Arc<Shared> {
        let forwarder = Forwarder::new(node.config.password.clone());
        Arc::new(Shared {
            node,
            stats: ServerStats::default(),
            clients: AtomicUsize::new(0),
            forwarder,
            counting: tokio::sync::Semaphore::new(1),
        })
    }

    fn leader_addr(&self) -> Option<SocketAddr> {
        let leader = self.node.raft.leader()?;
        self.node.client_addr_of(leader)
    }

    fn is_leader(&self) -> bool {
        self.node.raft.watch_state().borrow().role == Role::Leader
    }
}

/// Accepts clients on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = Arc::clone(&shared);
        let max = shared.node.config.limits.max_clients;
        if shared.clients.fetch_add(1, Ordering::Relaxed) >= max {
            shared.clients.fetch_sub(1, Ordering::Relaxed);
            shared.stats.refused.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let mut s = stream;
                let _ = s.write_all(b"-ERR max number of clients reached\r\n").await;
            });
            continue;
        }
        shared.stats.connections.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            connection(Arc::clone(&shared), stream).await;
            shared.clients.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// Per-connection state.
struct Conn {
    authed: bool,
    protocol: Protocol,
    stale: bool,
    name: Option<Bytes>,
    forward: Arc<Mutex<ForwardSession>>,
    cursors: Cursors,
    order: Order,
    quit: bool,
}

/// How a command is ordered with the others of its connection.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Reads the keyspace or the node's state.
    Read,
    /// Goes through the Raft log.
    Write,
    /// A membership or leadership change: runs alone.
    Exclusive,
}

impl Kind {
    fn of(cmd: &Command) -> Kind {
        if cmd.is_write() {
            Kind::Write
        } else if cmd.is_read() || matches!(cmd, Command::Info(_) | Command::RaftStatus) {
            Kind::Read
        } else {
            Kind::Exclusive
        }
    }
}

/// Keeps a connection's commands in the order the client sent them, while letting pipelined
/// commands wait on Raft together. The commands form runs of one kind: a run starts once every
/// command of the run before it has completed, so a read sees every write sent before it and no
/// write sent after it. Within a run, reads overlap freely; writes are submitted to Raft one
/// after another, each as soon as the one before is queued, so they apply in order and complete
/// together; a write that is forwarded to the leader waits until the write before it completed.
#[derive(Default)]
struct Order {
    kind: Option<Kind>,
    /// Held by every command of the current run, and by this while the run may grow: when all
    /// are dropped, the commands of the next run may start.
    run: Option<Arc<watch::Sender<()>>>,
    /// Closes when the run before the current one has completed.
    after: Option<watch::Receiver<()>>,
    /// Fires (or closes) when the current run's last write has been queued in Raft.
    queued: Option<oneshot::Receiver<()>>,
    /// Closes when the current run's last write has completed.
    done: Option<oneshot::Receiver<()>>,
}

impl Order {
    /// The place of the next command, of kind `kind`.
    fn ticket(&mut self, kind: Kind) -> Ticket {
        if self.kind != Some(kind) || kind == Kind::Exclusive {
            let (tx, _) = watch::channel(());
            self.after = self.run.replace(Arc::new(tx)).map(|run| run.subscribe());
            self.kind = Some(kind);
            self.queued = None;
            self.done = None;
        }
        let mut ticket = Ticket {
            after: self.after.clone(),
            prev_queued: None,
            prev_done: None,
            queued: None,
            _done: None,
            _run: self.run.clone(),
        };
        if kind == Kind::Write {
            let (queued, queued_rx) = oneshot::channel();
            let (done, done_rx) = oneshot::channel();
            ticket.prev_queued = self.queued.replace(queued_rx);
            ticket.prev_done = self.done.replace(done_rx);
            ticket.queued = Some(queued);
            ticket._done = Some(done);
        }
        ticket
    }
}

/// One command's place in its connection's [`Order`]; dropped when the command completes.
struct Ticket {
    after: Option<watch::Receiver<()>>,
    prev_queued: Option<oneshot::Receiver<()>>,
    prev_done: Option<oneshot::Receiver<()>>,
    queued: Option<oneshot::Sender<()>>,
    _done: Option<oneshot::Sender<()>>,
    _run: Option<Arc<watch::Sender<()>>>,
}

impl Ticket {
    /// Waits until the run before this command's has completed.
    async fn start(&mut self) {
        if let Some(after) = &mut self.after {
            while after.changed().await.is_ok() {}
        }
        self.after = None;
    }

    /// Waits until this write may be queued in Raft here: the write before it was.
    async fn may_queue(&mut self) {
        self.start().await;
        if let Some(prev) = self.prev_queued.take() {
            let _ = prev.await;
        }
    }

    /// Says that this write has been queued in Raft.
    fn queued(&mut self) {
        if let Some(q) = self.queued.take() {
            let _ = q.send(());
        }
    }

    /// Waits until this write may be forwarded: the write before it completed.
    async fn may_forward(&mut self) {
        self.start().await;
        if let Some(prev) = self.prev_done.take() {
            let _ = prev.await;
        }
    }
}

/// The most SCAN cursors a connection keeps.
const MAX_CURSORS: usize = 64;

type Pending = oneshot::Receiver<Reply>;

async fn connection(shared: Arc<Shared>, stream: TcpStream) {
    let cfg = &shared.node.config;
    let limits = RespLimits {
        max_bulk_len: cfg.limits.max_value_bytes,
        max_args: cfg.limits.max_args,
        max_inline_len: 64 << 10,
        max_request_len: cfg.limits.max_request_bytes,
    };
    let mut decoder = Decoder::new(limits);
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<(Pending, Protocol)>(cfg.limits.max_pipeline.max(1));
    let writer = tokio::spawn(async move {
        let mut out = BytesMut::with_capacity(4096);
        while let Some((pending, proto)) = rx.recv().await {
            let reply = pending
                .await
                .unwrap_or_else(|_| Reply::error("ERR internal error"));
            encode(&reply, proto, &mut out);
            if rx.is_empty() || out.len() > 64 << 10 {
                if wr.write_all(&out).await.is_err() {
                    return;
                }
                out.clear();
            }
        }
        let _ = wr.write_all(&out).await;
    });
    let mut conn = Conn {
        authed: cfg.password.is_none(),
        protocol: Protocol::Resp2,
        stale: false,
        name: None,
        forward: Arc::new(Mutex::new(ForwardSession::new(Arc::clone(
            &shared.forwarder,
        )))),
        cursors: Cursors::default(),
        order: Order::default(),
        quit: false,
    };
    let mut buf = BytesMut::with_capacity(16 << 10);
    'read: loop {
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(args)) => {
                    let (otx, orx) = oneshot::channel();
                    let proto = conn.protocol;
                    if tx.send((orx, proto)).await.is_err() {
                        break 'read;
                    }
                    shared.stats.commands.fetch_add(1, Ordering::Relaxed);
                    dispatch(&shared, &mut conn, args, otx);
                    if conn.quit {
                        break 'read;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    shared.stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
                    let (otx, orx) = oneshot::channel();
                    let _ = otx.send(e.to_reply());
                    let _ = tx.send((orx, conn.protocol)).await;
                    break 'read;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.await;
}

fn reply_now(out: oneshot::Sender<Reply>, r: Reply) {
    let _ = out.send(r);
}

/// Runs one request: connection commands at once, the rest on a task (so that pipelined
/// requests wait on Raft together).
fn dispatch(shared: &Arc<Shared>, conn: &mut Conn, args: Vec<Bytes>, out: oneshot::Sender<Reply>) {
    let cmd = match Command::parse(&args) {
        Ok(c) => c,
        Err(e) => return reply_now(out, e.into()),
    };
    if !conn.authed && !matches!(cmd, Command::Auth(_) | Command::Hello(_) | Command::Quit) {
        return reply_now(out, Reply::error("NOAUTH Authentication required."));
    }
    match cmd {
        Command::Ping(None) => reply_now(out, Reply::simple("PONG")),
        Command::Ping(Some(m)) | Command::Echo(m) => reply_now(out, Reply::Bulk(Some(m))),
        Command::Quit => {
            conn.quit = true;
            reply_now(out, Reply::OK);
        }
        Command::Select => reply_now(out, Reply::OK),
        Command::Auth(c) => reply_now(out, auth(shared, conn, &c.password)),
        Command::Hello(h) => {
            if let Some(c) = &h.auth
                && let Reply::Error(e) = auth(shared, conn, &c.password)
            {
                return reply_now(out, Reply::Error(e));
            }
            if !conn.authed {
                return reply_now(
                    out,
                    Reply::error(
                        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
                    ),
                );
            }
            if let Some(p) = h.protocol {
                conn.protocol = p;
            }
            if let Some(n) = h.setname {
                conn.name = Some(n);
            }
            reply_now(out, hello_reply(shared, conn));
        }
        Command::ClientSetName(n) => {
            conn.name = Some(n);
            reply_now(out, Reply::OK);
        }
        Command::ClientGetName => reply_now(out, Reply::Bulk(conn.name.clone())),
        Command::ClientId => reply_now(out, Reply::Integer(0)),
        Command::ClientInfo => reply_now(out, Reply::bulk(Bytes::from_static(b"id=0 db=0"))),
        Command::CommandCount => reply_now(out, Reply::Integer(0)),
        Command::CommandList | Command::CommandDocs(_) | Command::CommandInfo(_) => {
            reply_now(out, Reply::array(Vec::new()))
        }
        Command::RaftStale(on) => {
            conn.stale = on;
            reply_now(out, Reply::OK);
        }
        Command::Scan(s) => {
            let after = if s.cursor == 0 {
                None
            } else {
                match conn.cursors.lookup(s.cursor) {
                    Some(k) => Some(k),
                    None => return reply_now(out, Reply::error("ERR invalid cursor")),
                }
            };
            let shared = Arc::clone(shared);
            let stale = conn.stale;
            let cursors = conn.cursors.clone();
            let mut ticket = conn.order.ticket(Kind::Read);
            tokio::spawn(async move {
                ticket.start().await;
                let r = scan(
                    &shared,
                    stale,
                    after,
                    s.count.unwrap_or(10),
                    s.pattern,
                    &cursors,
                )
                .await;
                drop(ticket);
                let _ = out.send(r);
            });
        }
        cmd => {
            let shared = Arc::clone(shared);
            let stale = conn.stale;
            let forward = Arc::clone(&conn.forward);
            let ticket = conn.order.ticket(Kind::of(&cmd));
            tokio::spawn(async move {
                let r = execute(&shared, stale, forward, cmd, args, ticket).await;
                let _ = out.send(r);
            });
        }
    }
}

/// The SCAN cursors a connection handed out: number -> the last key that scan examined. Shared
/// with the scan tasks, which fill it in before their reply is sent.
#[derive(Clone, Default)]
struct Cursors(Arc<std::sync::Mutex<CursorTable>>);

/// The last cursor number, and the cursors kept (oldest first).
type CursorTable = (u64, VecDeque<(u64, Bytes)>);

impl Cursors {
    fn lookup(&self, id: u64) -> Option<Bytes> {
        let g = self.0.lock().ok()?;
        g.1.iter().find(|(c, _)| *c == id).map(|(_, k)| k.clone())
    }

    /// Registers where a scan stopped; returns its cursor number.
    fn register(&self, key: Bytes) -> u64 {
        let Ok(mut g) = self.0.lock() else { return 0 };
        g.0 += 1;
        let id = g.0;
        g.1.push_back((id, key));
        if g.1.len() > MAX_CURSORS {
            g.1.pop_front();
        }
        id
    }
}

fn auth(shared: &Shared, conn: &mut Conn, password: &[u8]) -> Reply {
    match &shared.node.config.password {
        None => Reply::error(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ),
        Some(p) if p.as_bytes() == password => {
            conn.authed = true;
            Reply::OK
        }
        Some(_) => Reply::error("WRONGPASS invalid username-password pair or user is disabled."),
    }
}

fn hello_reply(shared: &Shared, conn: &Conn) -> Reply {
    let role = if shared.is_leader() {
        "master"
    } else {
        "replica"
    };
    Reply::Map(vec![
        (
            Reply::bulk(Bytes::from_static(b"server")),
            Reply::bulk(Bytes::from_static(b"raft-kv")),
        ),
        (
            Reply::bulk(Bytes::from_static(b"version")),
            Reply::bulk(Bytes::from_static(env!("CARGO_PKG_VERSION").as_bytes())),
        ),
        (
            Reply::bulk(Bytes::from_static(b"proto")),
            Reply::Integer(conn.protocol.version()),
        ),
        (Reply::bulk(Bytes::from_static(b"id")), Reply::Integer(0)),
        (
            Reply::bulk(Bytes::from_static(b"mode")),
            Reply::bulk(Bytes::from_static(b"cluster")),
        ),
        (
            Reply::bulk(Bytes::from_static(b"role")),
            Reply::bulk(Bytes::from_static(role.as_bytes())),
        ),
        (
            Reply::bulk(Bytes::from_static(b"modules")),
            Reply::array(Vec::new()),
        ),
    ])
}

/// Waits until a read may be served (a read index applied), unless stale reads are on.
async fn read_barrier(shared: &Shared, stale: bool) -> Result<(), Reply> {
    if stale {
        return Ok(());
    }
    shared.node.raft.read_index().await.map_err(|e| match e {
        raft_tokio::ReadError::NoLeader => Reply::error("CLUSTERDOWN no leader is known; retry"),
        e => Reply::Error(format!("TRYAGAIN read not confirmed: {e}").into()),
    })
}

fn store_error(e: impl std::fmt::Display) -> Reply {
    Reply::Error(format!("ERR storage: {e}").into())
}

async fn scan(
    shared: &Shared,
    stale: bool,
    after: Option<Bytes>,
    count: u64,
    pattern: Option<Bytes>,
    cursors: &Cursors,
) -> Reply {
    if let Err(r) = read_barrier(shared, stale).await {
        return r;
    }
    let count = usize::try_from(count.clamp(1, 100_000)).unwrap_or(10);
    let filter = |k: &[u8]| pattern.as_ref().is_none_or(|p| glob_match(p, k));
    match shared.node.store.scan(after.as_deref(), count, filter) {
        Err(e) => store_error(e),
        Ok((keys, next)) => {
            let next_cursor = next.map_or(0, |k| cursors.register(k));
            Reply::array(vec![
                Reply::bulk(Bytes::from(next_cursor.to_string())),
                Reply::array(keys.into_iter().map(|k| Reply::Bulk(Some(k))).collect()),
            ])
        }
    }
}

/// Turns a write command into the replicated operation.
fn op_of(cmd: Command) -> Result<Op, Reply> {
    Ok(match cmd {
        Command::Set(s) => {
            if s.expiry.is_some() {
                return Err(Reply::error(
                    "ERR expiry (EX, PX, EXAT, PXAT, KEEPTTL) is not supported",
                ));
            }
            Op::Set {
                key: s.key,
                value: s.value,
                condition: match s.condition {
                    CmdCondition::Always => SetCondition::Always,
                    CmdCondition::IfAbsent => SetCondition::IfAbsent,
                    CmdCondition::IfPresent => SetCondition::IfPresent,
                },
                get: s.get,
            }
        }
        Command::GetSet { key, value } => Op::GetSet { key, value },
        Command::Del(keys) => Op::Del { keys },
        Command::Append { key, value } => Op::Append { key, value },
        Command::IncrBy { key, by } => Op::IncrBy { key, by },
        Command::MSet(pairs) => Op::MSet { pairs },
        other => {
            return Err(Reply::Error(
                format!("ERR '{}' is not a write", other.name()).into(),
            ));
        }
    })
}

fn reply_of(o: Output) -> Reply {
    match o {
        Output::Ok => Reply::OK,
        Output::Nil => Reply::NIL,
        Output::Int(n) => Reply::Integer(n),
        Output::Bulk(b) => Reply::Bulk(Some(b)),
        Output::Error(e) => Reply::Error(e.into()),
    }
}

fn reply_of_value(v: Value) -> Reply {
    match v {
        Value::Simple(s) => Reply::Simple(s.into()),
        Value::Error(e) => Reply::Error(e.into()),
        Value::Int(n) => Reply::Integer(n),
        Value::Bulk(b) => Reply::Bulk(b),
        Value::Array(a) => Reply::Array(a.map(|v| v.into_iter().map(reply_of_value).collect())),
    }
}

/// Proposes a write on this node if it leads, else forwards it (tagged) to the leader, in its
/// place in the connection's order.
async fn write(
    shared: &Shared,
    forward: Arc<Mutex<ForwardSession>>,
    session: Option<Session>,
    op: Op,
    args: &[Bytes],
    ticket: &mut Ticket,
) -> Reply {
    ticket.may_queue().await;
    if shared.is_leader() {
        let proposal = Proposal { session, op };
        let outcome = shared.node.raft.submit(proposal.encode());
        ticket.queued();
        match outcome.await {
            Ok(o) => return reply_of(o),
            Err(ProposeError::NotLeader { .. }) => {}
            Err(ProposeError::LeadershipLost) => {
                return Reply::error(
                    "TRYAGAIN leadership changed: the write may or may not have been applied",
                );
            }
            Err(ProposeError::Dropped) => {
                return Reply::error("TRYAGAIN the write was not applied; retry");
            }
            Err(ProposeError::Overloaded) => {
                return Reply::error("BUSY too many writes in flight; retry");
            }
            Err(e) => return Reply::Error(format!("TRYAGAIN {e}").into()),
        }
    }
    // A write forwarded to us by another node must not travel on: the sender retries.
    if session.is_some_and(|s| s.client >> 63 == 1) {
        return Reply::error("NOTLEADER this node is not the leader");
    }
    ticket.may_forward().await;
    shared.stats.forwarded.fetch_add(1, Ordering::Relaxed);
    let mut fwd = forward.lock().await;
    let (client, seq) = match session {
        Some(s) => (s.client, s.seq),
        None => fwd.next_tag(),
    };
    let mut tagged = vec![
        Bytes::from_static(b"RAFT.REQ"),
        Bytes::from(client.to_string()),
        Bytes::from(seq.to_string()),
    ];
    // The original command (without its own tag, if it had one).
    let inner = if session.is_some() { &args[3..] } else { args };
    tagged.extend_from_slice(inner);
    match fwd.forward(&tagged, || shared.leader_addr()).await {
        Ok(v) => reply_of_value(v),
        Err(ForwardError::NoLeader) => Reply::error("CLUSTERDOWN no leader is known; retry"),
        Err(ForwardError::Unreachable(e)) => Reply::Error(
            format!("TRYAGAIN the leader could not be reached ({e}): the write may or may not have been applied").into(),
        ),
    }
}

async fn execute(
    shared: &Shared,
    stale: bool,
    forward: Arc<Mutex<ForwardSession>>,
    cmd: Command,
    args: Vec<Bytes>,
    mut ticket: Ticket,
) -> Reply {
    let store = &shared.node.store;
    if !cmd.is_write() {
        ticket.start().await;
    }
    match cmd {
        Command::Get(k) => match read_barrier(shared, stale).await {
            Err(r) => r,
            Ok(()) => store.get(&k).map_or_else(store_error, Reply::Bulk),
        },
        Command::MGet(keys) => match read_barrier(shared, stale).await {
            Err(r) => r,
            Ok(()) => match store.mget(&keys) {
                Ok(vs) => Reply::array(vs.into_iter().map(Reply::Bulk).collect()),
                Err(e) => store_error(e),
            },
        },
        Command::Exists(keys) => match read_barrier(shared, stale).await {
            Err(r) => r,
            Ok(()) => match store.mget(&keys) {
                Ok(vs) => Reply::Integer(vs.iter().filter(|v| v.is_some()).count() as i64),
                Err(e) => store_error(e),
            },
        },
        Command::Strlen(k) => match read_barrier(shared, stale).await {
            Err(r) => r,
            Ok(()) => store.get(&k).map_or_else(store_error, |v| {
                Reply::Integer(v.map_or(0, |v| v.len() as i64))
            }),
        },
        Command::DbSize => match read_barrier(shared, stale).await {
            Err(r) => r,
            Ok(()) => dbsize(shared).await,
        },
        Command::Info(sections) => Reply::Verbatim(
            crate::resp::VerbatimFormat::Text,
            info(shared, &sections).await,
        ),
        Command::RaftStatus => Reply::Verbatim(
            crate::resp::VerbatimFormat::Text,
            info(shared, &[Bytes::from_static(b"raft")]).await,
        ),
        Command::RaftAddLearner {
            id,
            peer_addr,
            client_addr,
        } => {
            admin(shared, forward, &args, async {
                let op = Op::SetPeer {
                    id,
                    peer_addr: peer_addr.to_string(),
                    client_addr: client_addr.to_string(),
                };
                shared
                    .node
                    .raft
                    .propose(Proposal { session: None, op }.encode())
                    .await?;
                shared.node.raft.add_learner(NodeId(id)).await.map(|_| ())
            })
            .await
        }
        Command::RaftPromote(id) => {
            admin(shared, forward, &args, async {
                shared.node.raft.promote(NodeId(id)).await.map(|_| ())
            })
            .await
        }
        Command::RaftRemove(id) => {
            admin(shared, forward, &args, async {
                shared.node.raft.remove(NodeId(id)).await.map(|_| ())
            })
            .await
        }
        Command::RaftTransfer(id) => {
            if !shared.is_leader() {
                return forward_raw(shared, forward, &args).await;
            }
            match shared.node.raft.transfer_leadership(NodeId(id)).await {
                Ok(()) => Reply::OK,
                Err(e) => Reply::Error(format!("ERR {e}").into()),
            }
        }
        Command::Tagged { client, seq, inner } => match op_of(*inner) {
            Err(r) => r,
            Ok(op) => {
                let session = Some(Session { client, seq });
                write(shared, forward, session, op, &args, &mut ticket).await
            }
        },
        cmd => match op_of(cmd) {
            Err(r) => r,
            Ok(op) => write(shared, forward, None, op, &args, &mut ticket).await,
        },
    }
}

/// Runs an administrative change on the leader (forwarding it there from a follower).
async fn admin(
    shared: &Shared,
    forward: Arc<Mutex<ForwardSession>>,
    args: &[Bytes],
    change: impl Future<Output = Result<(), ProposeError>>,
) -> Reply {
    if !shared.is_leader() {
        return forward_raw(shared, forward, args).await;
    }
    match change.await {
        Ok(()) => Reply::OK,
        Err(e) => Reply::Error(format!("ERR {e}").into()),
    }
}

/// Forwards an untagged command as is (administrative commands are not deduplicated: they fail
/// harmlessly when repeated).
async fn forward_raw(
    shared: &Shared,
    forward: Arc<Mutex<ForwardSession>>,
    args: &[Bytes],
) -> Reply {
    let mut fwd = forward.lock().await;
    match fwd.forward(args, || shared.leader_addr()).await {
        Ok(v) => reply_of_value(v),
        Err(ForwardError::NoLeader) => Reply::error("CLUSTERDOWN no leader is known; retry"),
        Err(ForwardError::Unreachable(e)) => {
            Reply::Error(format!("TRYAGAIN the leader could not be reached ({e})").into())
        }
    }
}

/// `DBSIZE`: counts the keys off the async workers, one count at a time.
async fn dbsize(shared: &Shared) -> Reply {
    let Ok(_slot) = shared.counting.acquire().await else {
        return Reply::error("ERR shutting down");
    };
    let store = shared.node.store.clone();
    match tokio::task::spawn_blocking(move || store.count_keys()).await {
        Ok(Ok(n)) => Reply::Integer(i64::try_from(n).unwrap_or(i64::MAX)),
        Ok(Err(e)) => store_error(e),
        Err(_) => Reply::error("ERR the key count failed"),
    }
}

async fn info(shared: &Shared, sections: &[Bytes]) -> Bytes {
    let want = |s: &str| {
        sections.is_empty()
            || sections.iter().any(|x| {
                x.eq_ignore_ascii_case(s.as_bytes())
                    || x.eq_ignore_ascii_case(b"all")
                    || x.eq_ignore_ascii_case(b"everything")
            })
    };
    let mut out = String::new();
    if want("server") {
        out += &format!(
            "# Server\r\nredis_version:7.0.0\r\nraft_kv_version:{}\r\nrun_id:{:016x}\r\nnode_id:{}\r\ntcp_port:{}\r\n\r\n",
            env!("CARGO_PKG_VERSION"),
            shared.node.config.id,
            shared.node.config.id,
            shared.node.config.client_addr.port()
        );
    }
    if want("clients") {
        out += &format!(
            "# Clients\r\nconnected_clients:{}\r\n\r\n",
            shared.clients.load(Ordering::Relaxed)
        );
    }
    if want("stats") {
        let s = &shared.stats;
        out += &format!(
            "# Stats\r\ntotal_connections_received:{}\r\nrejected_connections:{}\r\ntotal_commands_processed:{}\r\nforwarded_writes:{}\r\nprotocol_errors:{}\r\n\r\n",
            s.connections.load(Ordering::Relaxed),
            s.refused.load(Ordering::Relaxed),
            s.commands.load(Ordering::Relaxed),
            s.forwarded.load(Ordering::Relaxed),
            s.protocol_errors.load(Ordering::Relaxed),
        );
    }
    if want("keyspace") {
        // An estimate: INFO must stay cheap; DBSIZE counts exactly.
        let n = shared.node.store.estimate_keys();
        out += &format!("# Keyspace\r\ndb0:keys={n},expires=0,avg_ttl=0\r\n\r\n");
    }
    if (want("replication") || want("raft"))
        && let Ok(st) = shared.node.raft.status().await
    {
        {
            let r = &st.raft;
            let role = match r.role {
                Role::Leader => "leader",
                Role::Follower => "follower",
                Role::Candidate => "candidate",
                Role::PreCandidate => "pre-candidate",
            };
            out += &format!(
                "# Raft\r\nrole:{role}\r\nredis_role:{}\r\nraft_node_id:{}\r\nraft_term:{}\r\nraft_leader:{}\r\nraft_vote:{}\r\nraft_commit_index:{}\r\nraft_applied_index:{}\r\nraft_persisted_index:{}\r\nraft_last_index:{}\r\nraft_log_start:{}\r\nraft_voters:{}\r\nraft_voters_outgoing:{}\r\nraft_learners:{}\r\n",
                if r.role == Role::Leader {
                    "master"
                } else {
                    "slave"
                },
                r.id,
                r.term,
                r.leader.map_or("none".to_owned(), |l| l.to_string()),
                r.vote.map_or("none".to_owned(), |v| v.to_string()),
                r.commit,
                r.applied,
                r.persisted,
                r.last.index,
                r.log_start.index,
                join(r.membership.voters()),
                join(r.membership.voters_outgoing()),
                join(r.membership.learners()),
            );
            for p in &r.peers {
                out += &format!(
                    "raft_peer_{}:match={},next={},state={:?},inflight={},active={}\r\n",
                    p.id, p.match_index, p.next_index, p.state, p.inflight, p.recent_active
                );
            }
            let m = &st.metrics;
            out += &format!(
                "raft_proposals:{}\r\nraft_proposals_failed:{}\r\nraft_write_batches:{}\r\nraft_writes:{}\r\nraft_syncs:{}\r\nraft_entries_applied:{}\r\nraft_messages_sent:{}\r\nraft_messages_received:{}\r\nraft_reads:{}\r\nraft_snapshots_taken:{}\r\nraft_snapshots_sent:{}\r\nraft_snapshots_received:{}\r\n\r\n",
                m.proposals,
                m.proposals_failed,
                m.write_batches,
                m.writes,
                m.syncs,
                m.entries_applied,
                m.messages_sent,
                m.messages_received,
                m.reads,
                m.snapshots_taken,
                m.snapshots_sent,
                m.snapshots_received,
            );
        }
    }
    Bytes::from(out)
}

fn join(ids: &[NodeId]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}
