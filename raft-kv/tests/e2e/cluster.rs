//! A cluster of real `raft-kv serve` processes on loopback: configurations and certificates in a
//! temporary directory, one log file per node, kill -9 and restart, nodes added later, and
//! polling helpers. Every child process is killed when the [`Cluster`] is dropped, also when the
//! test panics; then the tail of each node's log is printed and the directory is kept.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::thread::sleep;
use std::time::{Duration, Instant};

use raft_kv::config::{Limits, PeerConfig, RaftSettings, ServerConfig};
use tempfile::TempDir;

use crate::kv::{Conn, Info, REQUEST_TIMEOUT};

/// The tick of the test clusters.
pub const TICK_MS: u64 = 20;
/// The election timeout in ticks: Raft randomizes it in `[ELECTION_TICKS, 2 * ELECTION_TICKS)`,
/// so 200–400 ms.
pub const ELECTION_TICKS: u32 = 10;
/// The longest election timeout, in milliseconds.
pub const MAX_ELECTION_TIMEOUT_MS: u64 = 2 * ELECTION_TICKS as u64 * TICK_MS;

/// Fast Raft timings (20 ms ticks, heartbeats every 40 ms, elections after 200–400 ms).
pub fn fast_raft() -> RaftSettings {
    RaftSettings {
        tick_ms: TICK_MS,
        election_ticks: ELECTION_TICKS,
        heartbeat_ticks: 2,
        ..RaftSettings::default()
    }
}

/// Serializes the tests of this binary: each holds the guard while its cluster runs.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Calls `probe` every `every` until it gives a value; panics after `timeout`.
pub fn poll<T>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        sleep(every);
    }
}

/// [`poll`] every 10 ms.
pub fn wait_until<T>(what: &str, timeout: Duration, probe: impl FnMut() -> Option<T>) -> T {
    poll(what, timeout, Duration::from_millis(10), probe)
}

/// Sets a flag when dropped: a test's helper threads stop even when the test panics (a scope
/// would otherwise wait for them forever).
pub struct StopOnDrop<'a>(pub &'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A port on 127.0.0.1, free for both TCP (the node's clients) and UDP (its peers, over QUIC),
/// below the kernel's ephemeral range (so no outgoing connection takes it meanwhile), chosen at
/// random (so that test processes running at the same time rarely even try the same one), and
/// never handed out twice by this process (a killed node keeps its port for its restart). A port
/// that another process takes between this check and the node's start makes the node exit,
/// which [`Cluster::start_with`] and [`Cluster::add_node`] retry with other ports.
fn free_port() -> u16 {
    static TAKEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut taken = TAKEN.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let port = 20_000 + rand::random::<u16>() % 12_000;
        if taken.contains(&port) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok()
            && UdpSocket::bind(("127.0.0.1", port)).is_ok()
        {
            taken.insert(port);
            return port;
        }
    }
}

/// Addresses for a new node: one free port, for clients (TCP) and peers (UDP).
fn new_addrs() -> PeerConfig {
    let addr = local(free_port());
    PeerConfig {
        peer_addr: addr,
        client_addr: addr,
    }
}

/// What a node's log says when it could not bind its port.
const PORT_TAKEN: &str = "Address already in use";
/// How many times a cluster start, or a node's addition, is tried with new ports.
const START_ATTEMPTS: u32 = 4;

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// One node: its configuration, its log file and, while it runs, its process.
struct Proc {
    config: ServerConfig,
    config_path: PathBuf,
    log_path: PathBuf,
    child: Option<Child>,
}

/// What a test cluster runs with, beyond its Raft timings.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The password clients must `AUTH` with.
    pub password: Option<String>,
    /// The client limits.
    pub limits: Limits,
}

/// A cluster of `raft-kv serve` processes.
pub struct Cluster {
    dir: Option<TempDir>,
    certs: PathBuf,
    raft: RaftSettings,
    options: Options,
    /// The initial members (what a node added later is told to reach).
    members: BTreeMap<u64, PeerConfig>,
    nodes: BTreeMap<u64, Proc>,
}

/// How long a node may take to accept clients after its process starts.
const START_TIMEOUT: Duration = Duration::from_secs(20);

impl Cluster {
    /// Starts nodes `1..=n` as the initial members with `raft` settings, and waits until they
    /// agree on a leader.
    pub fn start(n: u64, raft: RaftSettings) -> Cluster {
        Cluster::start_with(n, raft, Options::default())
    }

    /// [`Cluster::start`] with `options`.
    pub fn start_with(n: u64, raft: RaftSettings, options: Options) -> Cluster {
        let mut attempt = 1;
        loop {
            match Cluster::try_start(n, raft, options.clone()) {
                Ok(cluster) => return cluster,
                Err(log) if log.contains(PORT_TAKEN) && attempt < START_ATTEMPTS => {
                    eprintln!("e2e: a port was taken meanwhile; starting again on others");
                }
                Err(log) => panic!("the cluster did not start: {log}"),
            }
            attempt += 1;
        }
    }

    /// Starts a cluster; if a node exits at start, stops the others and gives that node's log.
    fn try_start(n: u64, raft: RaftSettings, options: Options) -> Result<Cluster, String> {
        let dir = tempfile::Builder::new()
            .prefix("raft-kv-e2e-")
            .tempdir()
            .expect("temporary directory");
        let certs = dir.path().join("certs");
        let ids: Vec<u64> = (1..=n).collect();
        raft_kv::certs::ensure(&certs, "raft-kv-e2e", &ids).expect("certificates");
        let members: BTreeMap<u64, PeerConfig> = ids.iter().map(|&id| (id, new_addrs())).collect();
        let mut cluster = Cluster {
            dir: Some(dir),
            certs,
            raft,
            options,
            members,
            nodes: BTreeMap::new(),
        };
        for &id in &ids {
            let peer = cluster.members[&id].clone();
            cluster.configure(id, peer, false);
        }
        for &id in &ids {
            cluster.spawn(id);
        }
        for &id in &ids {
            // On an error the cluster is dropped: its processes are killed, its directory removed.
            cluster.wait_started(id)?;
        }
        cluster.wait_for_leader(&ids, Duration::from_secs(20));
        Ok(cluster)
    }

    fn path(&self) -> &Path {
        self.dir
            .as_ref()
            .expect("the directory is kept until drop")
            .path()
    }

    /// Writes node `id`'s configuration file.
    fn configure(&mut self, id: u64, me: PeerConfig, join: bool) {
        let tls = raft_kv::certs::ensure(&self.certs, "raft-kv-e2e", &[id])
            .expect("certificates")
            .remove(0);
        let mut peers = self.members.clone();
        peers.insert(id, me.clone());
        let config = ServerConfig {
            id,
            cluster: "raft-kv-e2e".into(),
            client_addr: me.client_addr,
            peer_addr: me.peer_addr,
            data_dir: self.path().join(format!("node-{id}")),
            tls,
            peers,
            join,
            password: self.options.password.clone(),
            raft: self.raft,
            limits: self.options.limits,
        };
        let config_path = self.path().join(format!("node-{id}.toml"));
        fs::write(&config_path, config.to_toml()).expect("writing a node configuration");
        let log_path = self.path().join(format!("node-{id}.log"));
        let proc = Proc {
            config,
            config_path,
            log_path,
            child: None,
        };
        self.nodes.insert(id, proc);
    }

    /// Starts node `id`'s process (its output appended to its log file).
    fn spawn(&mut self, id: u64) {
        let proc = self.nodes.get_mut(&id).expect("a configured node");
        assert!(proc.child.is_none(), "node {id} is already running");
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&proc.log_path)
            .expect("opening a node log");
        writeln!(log, "===== e2e: starting node {id} =====").expect("writing a node log");
        let child = Command::new(env!("CARGO_BIN_EXE_raft-kv"))
            .arg("serve")
            .arg("--config")
            .arg(&proc.config_path)
            .env("RAFT_KV_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("RAFT_KV_PASSWORD")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("starting raft-kv");
        proc.child = Some(child);
    }

    /// What node `id` logged since its last start.
    fn log_since_start(&self, id: u64) -> String {
        let text = fs::read_to_string(&self.nodes[&id].log_path).unwrap_or_default();
        let marker = format!("===== e2e: starting node {id} =====");
        match text.rfind(&marker) {
            Some(at) => text[at..].to_owned(),
            None => text,
        }
    }

    /// Waits until node `id`'s process has bound its ports (it says so in its log once its
    /// client port and its transport are bound) and answers PING, so that a PING answered by
    /// another process that holds the port is not taken for this node's. If the process exits
    /// first, gives its log.
    fn wait_started(&mut self, id: u64) -> Result<(), String> {
        let addr = self.addr(id);
        let start = Instant::now();
        loop {
            let proc = self.nodes.get_mut(&id).expect("a configured node");
            if let Some(status) = proc
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                proc.child = None;
                return Err(format!(
                    "node {id} exited at start ({status}):\n{}",
                    self.log_since_start(id)
                ));
            }
            if self.log_since_start(id).contains("serving clients") {
                let mut conn = self.conn_with_timeout(id, Duration::from_secs(1));
                if conn.query::<String>(&redis::cmd("PING")).as_deref() == Ok("PONG") {
                    return Ok(());
                }
            }
            assert!(
                start.elapsed() < START_TIMEOUT,
                "node {id} did not accept clients on {addr} within {START_TIMEOUT:?}"
            );
            sleep(Duration::from_millis(20));
        }
    }

    /// Restarts node `id` (after [`Cluster::kill`]) on its data directory and ports.
    pub fn restart(&mut self, id: u64) {
        self.spawn(id);
        if let Err(log) = self.wait_started(id) {
            panic!("node {id} did not restart: {log}");
        }
    }

    /// Starts a new node `id` with `join = true` (to be added with `RAFT.ADDLEARNER`), told to
    /// reach the initial members.
    pub fn add_node(&mut self, id: u64) {
        assert!(!self.nodes.contains_key(&id), "node {id} exists");
        let mut attempt = 1;
        loop {
            self.configure(id, new_addrs(), true);
            self.spawn(id);
            match self.wait_started(id) {
                Ok(()) => return,
                Err(log) if log.contains(PORT_TAKEN) && attempt < START_ATTEMPTS => {
                    eprintln!("e2e: node {id}'s port was taken meanwhile; trying another");
                    let data = self.nodes[&id].config.data_dir.clone();
                    let _ = fs::remove_dir_all(data);
                }
                Err(log) => panic!("node {id} did not start: {log}"),
            }
            attempt += 1;
        }
    }

    /// Whether node `id`'s process runs (it did not exit on its own).
    pub fn is_running(&mut self, id: u64) -> bool {
        let proc = self.nodes.get_mut(&id).expect("a configured node");
        proc.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Kills node `id` with SIGKILL and reaps it.
    pub fn kill(&mut self, id: u64) {
        let proc = self.nodes.get_mut(&id).expect("a configured node");
        let mut child = proc.child.take().expect("a running node");
        child.kill().expect("kill -9");
        child.wait().expect("reaping a killed node");
    }

    /// Every node ever configured.
    pub fn ids(&self) -> Vec<u64> {
        self.nodes.keys().copied().collect()
    }

    /// Node `id`'s client (RESP) address.
    pub fn addr(&self, id: u64) -> SocketAddr {
        self.nodes[&id].config.client_addr
    }

    /// Node `id`'s Raft (QUIC) address.
    pub fn peer_addr(&self, id: u64) -> SocketAddr {
        self.nodes[&id].config.peer_addr
    }

    /// A new connection to node `id` (authenticated if the cluster has a password).
    pub fn conn(&self, id: u64) -> Conn {
        self.conn_with_timeout(id, REQUEST_TIMEOUT)
    }

    /// A new connection to node `id` whose requests may take `timeout`.
    pub fn conn_with_timeout(&self, id: u64, timeout: Duration) -> Conn {
        Conn::with_timeout(self.addr(id), timeout).password(self.options.password.as_deref())
    }

    /// A new connection to node `id` that reads its local data (`RAFT.STALE on`).
    pub fn stale_conn(&self, id: u64) -> Conn {
        self.conn(id).stale()
    }

    /// Node `id`'s `INFO raft`, or `None` if it does not answer within a second.
    pub fn info(&self, id: u64) -> Option<Info> {
        self.conn_with_timeout(id, Duration::from_secs(1))
            .info()
            .ok()
    }

    /// The leader every node of `ids` names, if they agree and it says it leads.
    pub fn named_leader(&self, ids: &[u64]) -> Option<u64> {
        let mut leader = None;
        for &id in ids {
            let l = self.info(id)?.leader()?;
            if leader.is_some_and(|x| x != l) {
                return None;
            }
            leader = Some(l);
        }
        let l = leader?;
        (self.info(l)?.role() == "leader").then_some(l)
    }

    /// The leader every node of `among` names, if they agree, it is one of them and it says it
    /// leads.
    pub fn agreed_leader(&self, among: &[u64]) -> Option<u64> {
        self.named_leader(among).filter(|l| among.contains(l))
    }

    /// Waits until the nodes of `among` agree on a leader among them; returns it.
    pub fn wait_for_leader(&self, among: &[u64], timeout: Duration) -> u64 {
        wait_until(&format!("a leader among {among:?}"), timeout, || {
            self.agreed_leader(among)
        })
    }

    /// Waits until every node of `ids` has applied what their leader had committed when this
    /// was called.
    pub fn wait_caught_up(&self, ids: &[u64], timeout: Duration) {
        let (leader, commit) = wait_until(&format!("a leader named by {ids:?}"), timeout, || {
            let l = self.named_leader(ids)?;
            Some((l, self.info(l)?.opt("raft_commit_index")?))
        });
        for &id in ids {
            wait_until(
                &format!("node {id} to apply index {commit} (committed by node {leader})"),
                timeout,
                || (self.info(id)?.opt("raft_applied_index")? >= commit).then_some(()),
            );
        }
    }
}

/// The last `n` lines of a file.
fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_else(|e| format!("(unreadable: {e})"));
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for proc in self.nodes.values_mut() {
            if let Some(mut child) = proc.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() {
            for (id, proc) in &self.nodes {
                eprintln!(
                    "----- node {id}: the end of {} -----\n{}",
                    proc.log_path.display(),
                    tail(&proc.log_path, 40)
                );
            }
            if let Some(dir) = self.dir.take() {
                eprintln!(
                    "----- kept the cluster's directory {}",
                    dir.keep().display()
                );
            }
        }
    }
}
