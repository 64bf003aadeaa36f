//! Talking to one node with the `redis` crate: a connection that reconnects after I/O errors,
//! retries on the replies with which raft-kv says "try again", `INFO raft` parsed, and checks
//! that acknowledged writes are readable.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::thread::sleep;
use std::time::{Duration, Instant};

use redis::{Cmd, Connection, FromRedisValue, RedisError, RedisResult};

/// How long one request may take before its connection is given up: a follower forwarding a
/// write to a leader that died retries for up to 10 s.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(12);

/// The error codes with which raft-kv says "retry".
const TRANSIENT: [&str; 4] = ["TRYAGAIN", "CLUSTERDOWN", "NOTLEADER", "BUSY"];

/// Whether `e` means "retry" (perhaps elsewhere): a lost connection, or one of raft-kv's
/// transient error replies (also inside a pipeline's error, which has no single code).
pub fn is_transient(e: &RedisError) -> bool {
    if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() {
        return true;
    }
    match e.code() {
        Some(code) => TRANSIENT.contains(&code),
        None => {
            let text = e.to_string();
            TRANSIENT.iter().any(|c| text.contains(c))
        }
    }
}

/// A connection to one node, opened on first use and dropped after any error that is not an
/// error reply (after a timeout, a late reply would otherwise be taken for the next one).
pub struct Conn {
    addr: SocketAddr,
    timeout: Duration,
    password: Option<String>,
    stale: bool,
    conn: Option<Connection>,
}

impl Conn {
    /// A connection to `addr` whose requests may take `timeout`.
    pub fn with_timeout(addr: SocketAddr, timeout: Duration) -> Conn {
        Conn {
            addr,
            timeout,
            password: None,
            stale: false,
            conn: None,
        }
    }

    /// This connection, authenticating with `password` (if any) when it opens.
    pub fn password(self, password: Option<&str>) -> Conn {
        Conn {
            password: password.map(str::to_owned),
            ..self
        }
    }

    /// This connection, reading the node's local data (`RAFT.STALE on`).
    pub fn stale(self) -> Conn {
        Conn {
            stale: true,
            ..self
        }
    }

    fn open(&self) -> RedisResult<Connection> {
        let url = match &self.password {
            Some(p) => format!("redis://:{p}@{}/", self.addr),
            None => format!("redis://{}/", self.addr),
        };
        let client = redis::Client::open(url)?;
        let mut conn = client.get_connection_with_timeout(self.timeout)?;
        conn.set_read_timeout(Some(self.timeout))?;
        conn.set_write_timeout(Some(self.timeout))?;
        if self.stale {
            let ok: String = redis::cmd("RAFT.STALE").arg("on").query(&mut conn)?;
            assert_eq!(ok, "OK", "RAFT.STALE on");
        }
        Ok(conn)
    }

    /// Runs `f` on the connection (opened if needed), which is dropped if `f` fails other than
    /// with an error reply.
    fn with<T>(&mut self, f: impl FnOnce(&mut Connection) -> RedisResult<T>) -> RedisResult<T> {
        let conn = match &mut self.conn {
            Some(c) => c,
            None => self.conn.insert(self.open()?),
        };
        let result = f(conn);
        if let Err(e) = &result
            && e.code().is_none()
        {
            self.conn = None;
        }
        result
    }

    /// Sends `cmd` once.
    pub fn query<T: FromRedisValue>(&mut self, cmd: &Cmd) -> RedisResult<T> {
        self.with(|c| cmd.query(c))
    }

    /// Sends a pipeline once.
    pub fn pipeline<T: FromRedisValue>(&mut self, pipe: &redis::Pipeline) -> RedisResult<T> {
        self.with(|c| pipe.query(c))
    }

    /// Sends `cmd` until it gets an answer that is not transient, for at most `timeout`. Only for
    /// commands that may safely be repeated (reads, or writes whose repetition changes nothing).
    pub fn query_retrying<T: FromRedisValue>(
        &mut self,
        cmd: &Cmd,
        timeout: Duration,
    ) -> RedisResult<T> {
        let start = Instant::now();
        loop {
            match self.query(cmd) {
                Err(e) if is_transient(&e) && start.elapsed() < timeout => {
                    sleep(Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    /// `INFO raft`, parsed.
    pub fn info(&mut self) -> RedisResult<Info> {
        let text: String = self.query(redis::cmd("INFO").arg("raft"))?;
        Ok(Info::parse(&text))
    }
}

/// The `field:value` lines of an `INFO` reply.
#[derive(Debug)]
pub struct Info(HashMap<String, String>);

impl Info {
    /// Parses an `INFO` reply.
    pub fn parse(text: &str) -> Info {
        let fields = text
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Info(fields)
    }

    /// A field, if present.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    /// A numeric field; panics if it is missing or not a number.
    pub fn num(&self, field: &str) -> u64 {
        let v = self
            .get(field)
            .unwrap_or_else(|| panic!("INFO has no {field}: {self:?}"));
        v.parse()
            .unwrap_or_else(|_| panic!("INFO {field} is not a number: {v}"))
    }

    /// A numeric field, if present.
    pub fn opt(&self, field: &str) -> Option<u64> {
        self.get(field)?.parse().ok()
    }

    /// `leader`, `follower`, `candidate` or `pre-candidate`.
    pub fn role(&self) -> &str {
        self.get("role").unwrap_or("")
    }

    /// The leader this node knows of.
    pub fn leader(&self) -> Option<u64> {
        self.get("raft_leader")?.parse().ok()
    }

    fn ids(&self, field: &str) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .get(field)
            .unwrap_or("")
            .split(',')
            .filter_map(|s| s.parse().ok())
            .collect();
        ids.sort_unstable();
        ids
    }

    /// The match index the leader reports for peer `id` (`raft_peer_<id>:match=...,...`).
    pub fn peer_match(&self, id: u64) -> Option<u64> {
        let progress = self.get(&format!("raft_peer_{id}"))?;
        progress
            .split(',')
            .find_map(|kv| kv.strip_prefix("match="))?
            .parse()
            .ok()
    }

    /// The voters, sorted.
    pub fn voters(&self) -> Vec<u64> {
        self.ids("raft_voters")
    }

    /// The learners, sorted.
    pub fn learners(&self) -> Vec<u64> {
        self.ids("raft_learners")
    }
}

/// Checks with `MGET` (in chunks) that every `(key, value)` of `acked` reads back through
/// `conn`, retrying transient errors for up to `timeout` per chunk.
pub fn assert_readable(conn: &mut Conn, acked: &[(String, String)], what: &str) {
    for chunk in acked.chunks(500) {
        let mut cmd = redis::cmd("MGET");
        for (k, _) in chunk {
            cmd.arg(k);
        }
        let got: Vec<Option<String>> = conn
            .query_retrying(&cmd, Duration::from_secs(15))
            .unwrap_or_else(|e| panic!("{what}: MGET failed: {e}"));
        assert_eq!(got.len(), chunk.len(), "{what}: MGET reply length");
        for ((k, v), g) in chunk.iter().zip(got) {
            assert_eq!(
                g.as_deref(),
                Some(v.as_str()),
                "{what}: acknowledged write {k} = {v} not read back"
            );
        }
    }
}

/// Tags writes `RAFT.REQ <client> <seq> ...` and retries each with the same tag, so that each
/// applies exactly once even when a reply is lost or says "try again".
pub struct Tagged {
    client: u64,
    seq: u64,
}

impl Tagged {
    /// A writer with a random client id (high bit clear: raft-kv reserves it for forwarding).
    pub fn new() -> Tagged {
        Tagged {
            client: rand::random::<u64>() >> 1,
            seq: 0,
        }
    }

    /// Runs `args` once through `conn`.
    pub fn write<T: FromRedisValue>(&mut self, conn: &mut Conn, args: &[&str]) -> RedisResult<T> {
        self.seq += 1;
        let mut cmd = redis::cmd("RAFT.REQ");
        cmd.arg(self.client).arg(self.seq).arg(args);
        conn.query_retrying(&cmd, Duration::from_secs(15))
    }
}

/// Sets `<prefix><i>` to `value-<i>` for every `i` of `range` through `conn`, pipelined 50 at a
/// time (each batch retried as a whole on transient errors: it only sets fixed values). Returns
/// the pairs written.
pub fn set_keys(
    conn: &mut Conn,
    prefix: &str,
    range: std::ops::Range<usize>,
) -> Vec<(String, String)> {
    let pairs: Vec<(String, String)> = range
        .map(|i| (format!("{prefix}{i}"), format!("value-{i}")))
        .collect();
    for batch in pairs.chunks(50) {
        let mut pipe = redis::pipe();
        for (k, v) in batch {
            pipe.cmd("SET").arg(k).arg(v).ignore();
        }
        let start = Instant::now();
        loop {
            match conn.pipeline::<()>(&pipe) {
                Ok(()) => break,
                Err(e) if is_transient(&e) && start.elapsed() < Duration::from_secs(15) => {
                    sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("SET {prefix}...: {e}"),
            }
        }
    }
    pairs
}
