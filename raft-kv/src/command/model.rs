//! The commands, with their arguments parsed and validated.

use std::fmt;
use std::net::SocketAddr;

use bytes::Bytes;

use crate::resp::Protocol;

/// A client command, parsed by [`Command::parse`].
///
/// Arguments are validated as Redis validates them (counts, option combinations, integer
/// ranges), so executing a `Command` fails only for reasons of state (a key that holds no
/// integer, a node that is not the leader). Keys and values are [`Bytes`] sharing the request's
/// buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `PING [message]`: `PONG`, or the message.
    Ping(Option<Bytes>),
    /// `ECHO message`.
    Echo(Bytes),
    /// `HELLO [protover [AUTH username password] [SETNAME clientname]]`.
    Hello(HelloArgs),
    /// `AUTH [username] password`; the username is `default` when absent, as in Redis.
    Auth(Credentials),
    /// `SELECT 0`: the only database (any other index is refused at parse time).
    Select,
    /// `CLIENT SETNAME name` (validated; empty clears the name).
    ClientSetName(Bytes),
    /// `CLIENT GETNAME`.
    ClientGetName,
    /// `CLIENT ID`.
    ClientId,
    /// `CLIENT INFO`.
    ClientInfo,
    /// `COMMAND`: the command table (an empty array is a fine answer).
    CommandList,
    /// `COMMAND COUNT`.
    CommandCount,
    /// `COMMAND DOCS [name ...]` (`redis-cli` sends it on start).
    CommandDocs(Vec<Bytes>),
    /// `COMMAND INFO [name ...]`.
    CommandInfo(Vec<Bytes>),
    /// `QUIT`: reply `+OK`, then close.
    Quit,
    /// `GET key`.
    Get(Bytes),
    /// `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]`.
    Set(SetArgs),
    /// `GETSET key value`.
    GetSet {
        /// The key.
        key: Bytes,
        /// The new value.
        value: Bytes,
    },
    /// `DEL key [key ...]`.
    Del(Vec<Bytes>),
    /// `EXISTS key [key ...]`.
    Exists(Vec<Bytes>),
    /// `APPEND key value`.
    Append {
        /// The key.
        key: Bytes,
        /// The bytes to append.
        value: Bytes,
    },
    /// `STRLEN key`.
    Strlen(Bytes),
    /// `INCR key`, `INCRBY key n`, `DECR key`, `DECRBY key n`, as one increment (`DECRBY k 5` is
    /// `by: -5`).
    IncrBy {
        /// The key.
        key: Bytes,
        /// The increment.
        by: i64,
    },
    /// `MGET key [key ...]`.
    MGet(Vec<Bytes>),
    /// `MSET key value [key value ...]`, as pairs in order.
    MSet(Vec<(Bytes, Bytes)>),
    /// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.
    Scan(ScanArgs),
    /// `DBSIZE`: counts the keys, walking all of them (O(number of keys), one count at a time
    /// per node), so that writes need not read their keys to keep a count.
    DbSize,
    /// `INFO [section ...]`.
    Info(Vec<Bytes>),
    /// `RAFT.ADDLEARNER id peer_addr client_addr`: add a node as a non-voting learner.
    RaftAddLearner {
        /// The new node's id.
        id: u64,
        /// Its Raft (peer) address.
        peer_addr: SocketAddr,
        /// Its client (RESP) address.
        client_addr: SocketAddr,
    },
    /// `RAFT.PROMOTE id`: make a learner a voter.
    RaftPromote(u64),
    /// `RAFT.REMOVE id`: remove a node from the cluster.
    RaftRemove(u64),
    /// `RAFT.TRANSFER id`: hand leadership to a node.
    RaftTransfer(u64),
    /// `RAFT.STATUS`: the node's view of the cluster.
    RaftStatus,
    /// `RAFT.STALE on|off`: whether this connection's reads may be served from the local
    /// replica without confirming leadership (`true`: stale reads allowed).
    RaftStale(bool),
    /// `RAFT.REQ client_id seq <write command>`: a write applied at most once per
    /// `(client, seq)`. `inner` is a write ([`Command::is_write`]) and never `Tagged` itself.
    Tagged {
        /// The client's id.
        client: u64,
        /// The request's sequence number within the client.
        seq: u64,
        /// The write.
        inner: Box<Command>,
    },
}

/// The arguments of `SET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetArgs {
    /// The key.
    pub key: Bytes,
    /// The value.
    pub value: Bytes,
    /// `NX` / `XX`.
    pub condition: SetCondition,
    /// `GET`: reply with the old value (nil if none) instead of `OK`.
    pub get: bool,
    /// `EX` / `PX` / `EXAT` / `PXAT` / `KEEPTTL`.
    pub expiry: Option<Expiry>,
}

/// When a `SET` applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SetCondition {
    /// Always (no option).
    #[default]
    Always,
    /// Only if the key does not exist (`NX`).
    IfAbsent,
    /// Only if the key exists (`XX`).
    IfPresent,
}

/// `SET`'s expiry option. Times are positive, and `Ex`/`ExAt` seconds fit in `i64`
/// milliseconds; the relative ones may still overflow when added to the clock, which is the
/// executor's check (`ERR invalid expire time in 'set' command`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// `EX seconds`: expire after this many seconds.
    Ex(i64),
    /// `PX milliseconds`: expire after this many milliseconds.
    Px(i64),
    /// `EXAT unix-time-seconds`: expire at this time.
    ExAt(i64),
    /// `PXAT unix-time-milliseconds`: expire at this time.
    PxAt(i64),
    /// `KEEPTTL`: keep the key's current time to live.
    KeepTtl,
}

/// The arguments of `SCAN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanArgs {
    /// Where to continue: 0 to start; then what the previous call returned.
    pub cursor: u64,
    /// `MATCH pattern`: only keys matching this glob ([`glob_match`](super::glob_match)).
    pub pattern: Option<Bytes>,
    /// `COUNT count`: about how many keys to examine (at least 1).
    pub count: Option<u64>,
    /// `TYPE type`: only keys holding this type (as sent; `string` is the only type here).
    pub kind: Option<Bytes>,
}

/// The arguments of `HELLO`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HelloArgs {
    /// The protocol to switch to; `None` keeps the current one.
    pub protocol: Option<Protocol>,
    /// `AUTH username password`.
    pub auth: Option<Credentials>,
    /// `SETNAME clientname` (validated as `CLIENT SETNAME` validates).
    pub setname: Option<Bytes>,
}

/// A username and password (from `AUTH` or `HELLO ... AUTH`). `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The username; `default` when `AUTH` gave only a password.
    pub username: Bytes,
    /// The password.
    pub password: Bytes,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}
