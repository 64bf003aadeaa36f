//! The `raft-kv serve` processes of a run: their addresses and configurations, starting,
//! SIGKILL, SIGSTOP/SIGCONT, graceful stops, and what each node says of the cluster.
//!
//! Every node of the pool (the initial members and the spares that membership changes add) has
//! a configuration listing every other node of the pool at the relays of their pair (see
//! [`crate::relay`]). Because a new node's first start bootstraps the cluster with every node its
//! configuration lists, the initial members are first started once with a configuration listing
//! only them, stopped, and from then on run with the full one.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use raft_kv::config::{PeerConfig, RaftSettings, ServerConfig};

use crate::info::{self, RaftInfo};
use crate::relay::{Addrs, Mesh};
use crate::resp::{Reply, call_once};

/// How long one administrative or probing request may take.
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `INFO` may take.
const INFO_TIMEOUT: Duration = Duration::from_millis(800);

/// What a cluster is made of.
#[derive(Clone, Debug)]
pub struct ClusterSpec {
    /// The `raft-kv` binary.
    pub binary: PathBuf,
    /// The run's directory (configurations, certificates, data, logs).
    pub dir: PathBuf,
    /// How many initial members (ids `1..=nodes`).
    pub nodes: u64,
    /// How many more nodes membership changes may add (ids after the initial ones).
    pub spares: u64,
    /// Raft settings of every node.
    pub raft: RaftSettings,
    /// Spreads port choices between concurrent runs.
    pub port_salt: u64,
    /// The nodes' log filter (`RAFT_KV_LOG`).
    pub log_filter: String,
}

struct Proc {
    child: Child,
    paused: bool,
}

/// A node process that ended without the harness asking.
#[derive(Clone, Debug)]
pub struct Crash {
    /// The node.
    pub id: u64,
    /// How it ended.
    pub status: String,
    /// Its log.
    pub log: PathBuf,
}

/// The nodes of a run.
pub struct Cluster {
    spec: ClusterSpec,
    /// Every node id that may run: the initial members, then the spares.
    pub pool: Vec<u64>,
    /// The real addresses of each node.
    pub addrs: BTreeMap<u64, Addrs>,
    /// The relays between them.
    pub mesh: Mesh,
    configs: BTreeMap<u64, ServerConfig>,
    procs: BTreeMap<u64, Proc>,
    /// The nodes that should be running once faults are over (members as far as the harness
    /// knows).
    pub wanted: BTreeSet<u64>,
    /// The client addresses of the nodes with a process (running or paused): where clients go.
    pub targets: Arc<RwLock<Vec<SocketAddr>>>,
    /// Processes that died on their own.
    pub crashes: Vec<Crash>,
    /// What the harness failed to do to the processes (a signal that could not be sent): the
    /// run cannot vouch for a fault it did not inject.
    pub errors: Vec<String>,
}

/// A port below the kernel's ephemeral range, free for both TCP and UDP, spread by `salt`.
fn free_port(salt: u64) -> std::io::Result<u16> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    for _ in 0..20_000 {
        let n = u64::from(NEXT.fetch_add(1, Ordering::Relaxed));
        let slot = (salt.wrapping_mul(7919).wrapping_add(n.wrapping_mul(13))) % 9_000;
        let port = 11_000 + slot as u16;
        let free = TcpListener::bind(("127.0.0.1", port)).is_ok()
            && UdpSocket::bind(("127.0.0.1", port)).is_ok();
        if free {
            return Ok(port);
        }
    }
    Err(std::io::Error::other("no free port"))
}

impl Cluster {
    /// Allocates addresses, makes certificates, starts the relays and writes the
    /// configurations. No process runs yet: see [`Cluster::bootstrap`].
    pub async fn create(spec: ClusterSpec) -> Result<Cluster, String> {
        let e = |what: &str| {
            let what = what.to_owned();
            move |err: std::io::Error| format!("{what}: {err}")
        };
        fs::create_dir_all(&spec.dir).map_err(e("creating the run directory"))?;
        let pool: Vec<u64> = (1..=spec.nodes + spec.spares).collect();
        let mut addrs = BTreeMap::new();
        for &id in &pool {
            let port = free_port(spec.port_salt).map_err(e("choosing ports"))?;
            let a = SocketAddr::from(([127, 0, 0, 1], port));
            addrs.insert(id, Addrs { client: a, peer: a });
        }
        let tls = raft_kv::certs::ensure(&spec.dir.join("certs"), "raft-chaos", &pool)
            .map_err(|err| format!("making certificates: {err}"))?;
        let mesh = Mesh::start(&addrs)
            .await
            .map_err(e("starting the relays"))?;
        let mut configs = BTreeMap::new();
        for (&id, tls) in pool.iter().zip(tls) {
            let peers = pool
                .iter()
                .map(|&other| {
                    let r = mesh.route(id, other, addrs[&other]);
                    (
                        other,
                        PeerConfig {
                            peer_addr: r.peer,
                            client_addr: r.client,
                        },
                    )
                })
                .collect();
            configs.insert(
                id,
                ServerConfig {
                    id,
                    cluster: "raft-chaos".into(),
                    client_addr: addrs[&id].client,
                    peer_addr: addrs[&id].peer,
                    data_dir: spec.dir.join(format!("node-{id}")),
                    tls,
                    peers,
                    join: id > spec.nodes,
                    password: None,
                    raft: spec.raft,
                    limits: Default::default(),
                },
            );
        }
        let cluster = Cluster {
            wanted: (1..=spec.nodes).collect(),
            spec,
            pool,
            addrs,
            mesh,
            configs,
            procs: BTreeMap::new(),
            targets: Arc::default(),
            crashes: Vec::new(),
            errors: Vec::new(),
        };
        for &id in &cluster.pool {
            cluster.write_config(id, &cluster.configs[&id], "toml")?;
        }
        Ok(cluster)
    }

    fn config_path(&self, id: u64, ext: &str) -> PathBuf {
        self.spec.dir.join(format!("node-{id}.{ext}"))
    }

    /// Node `id`'s log file.
    #[must_use]
    pub fn log_path(&self, id: u64) -> PathBuf {
        self.config_path(id, "log")
    }

    /// The run's directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.spec.dir
    }

    /// The initial members.
    #[must_use]
    pub fn initial(&self) -> Vec<u64> {
        (1..=self.spec.nodes).collect()
    }

    fn write_config(&self, id: u64, cfg: &ServerConfig, ext: &str) -> Result<(), String> {
        let path = self.config_path(id, ext);
        fs::write(&path, cfg.to_toml()).map_err(|e| format!("writing {}: {e}", path.display()))
    }

    fn spawn(&mut self, id: u64, config: &Path) -> Result<(), String> {
        let log_path = self.log_path(id);
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("opening {}: {e}", log_path.display()))?;
        let _ = writeln!(
            log,
            "=== raft-chaos: starting node {id} ({})",
            config.display()
        );
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(&self.spec.binary)
            .arg("serve")
            .arg("--config")
            .arg(config)
            .env("RAFT_KV_LOG", &self.spec.log_filter)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.spec.binary.display()))?;
        self.procs.insert(
            id,
            Proc {
                child,
                paused: false,
            },
        );
        self.update_targets();
        Ok(())
    }

    fn update_targets(&self) {
        let addrs: Vec<SocketAddr> = self.procs.keys().map(|id| self.addrs[id].client).collect();
        if let Ok(mut t) = self.targets.write() {
            *t = addrs;
        }
    }

    /// Starts the initial members: each once with only the initial members configured (which
    /// bootstraps its log), then all with the full configuration; waits for a leader.
    pub async fn bootstrap(&mut self) -> Result<(), String> {
        for id in self.initial() {
            let mut cfg = self.configs[&id].clone();
            cfg.peers.retain(|p, _| *p <= self.spec.nodes);
            self.write_config(id, &cfg, "bootstrap.toml")?;
            let path = self.config_path(id, "bootstrap.toml");
            self.spawn(id, &path)?;
        }
        for id in self.initial() {
            self.wait_serving(id, Duration::from_secs(60)).await?;
            self.terminate(id).await;
        }
        for id in self.initial() {
            self.start(id)?;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.leader().await.is_some() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err("no leader was elected within 60 s of starting the cluster".into())
    }

    /// Waits until node `id` answers `PING` (it does once its node has started).
    pub async fn wait_serving(&mut self, id: u64, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            let r = call_once(self.addrs[&id].client, &["PING"], INFO_TIMEOUT).await;
            if matches!(r, Ok(Reply::Simple(_))) {
                return Ok(());
            }
            self.check_crashes();
            if !self.procs.contains_key(&id) {
                return Err(format!(
                    "node {id} exited while starting (see {})",
                    self.log_path(id).display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("node {id} did not answer PING within {limit:?}"))
    }

    /// Starts node `id` with its full configuration (nothing if it runs already).
    pub fn start(&mut self, id: u64) -> Result<(), String> {
        if self.procs.contains_key(&id) {
            return Ok(());
        }
        let path = self.config_path(id, "toml");
        self.spawn(id, &path)
    }

    /// SIGKILLs node `id` (nothing if it is not running).
    pub fn kill(&mut self, id: u64) {
        self.check_crashes();
        if let Some(mut p) = self.procs.remove(&id) {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
        self.update_targets();
    }

    /// Stops node `id` with SIGTERM (a clean shutdown), or SIGKILL after 10 s.
    pub async fn terminate(&mut self, id: u64) {
        self.check_crashes();
        let Some(mut p) = self.procs.remove(&id) else {
            return;
        };
        self.update_targets();
        if p.paused {
            let _ = signal(&p.child, "CONT");
        }
        if let Err(e) = signal(&p.child, "TERM") {
            self.errors.push(format!("stopping node {id}: {e}"));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = p.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = p.child.kill();
        let _ = p.child.wait();
    }

    /// SIGSTOPs node `id`.
    pub fn pause(&mut self, id: u64) {
        if let Some(p) = self.procs.get_mut(&id).filter(|p| !p.paused) {
            match signal(&p.child, "STOP") {
                Ok(()) => p.paused = true,
                Err(e) => self.errors.push(format!("pausing node {id}: {e}")),
            }
        }
    }

    /// SIGCONTs node `id`.
    pub fn resume(&mut self, id: u64) {
        if let Some(p) = self.procs.get_mut(&id).filter(|p| p.paused) {
            match signal(&p.child, "CONT") {
                Ok(()) => p.paused = false,
                Err(e) => self.errors.push(format!("resuming node {id}: {e}")),
            }
        }
    }

    /// Resumes every paused node.
    pub fn resume_all(&mut self) {
        let ids: Vec<u64> = self.procs.keys().copied().collect();
        for id in ids {
            self.resume(id);
        }
    }

    /// Deletes node `id`'s data (it must not be running); from then on it starts as a new node
    /// joining the cluster (`join = true`), never bootstrapping one.
    pub fn wipe(&mut self, id: u64) {
        let Some(cfg) = self.configs.get_mut(&id) else {
            return;
        };
        let _ = fs::remove_dir_all(&cfg.data_dir);
        cfg.join = true;
        let cfg = cfg.clone();
        let _ = self.write_config(id, &cfg, "toml");
    }

    /// Whether node `id` has a process (running or paused).
    #[must_use]
    pub fn has_process(&self, id: u64) -> bool {
        self.procs.contains_key(&id)
    }

    /// Whether node `id` runs and is not paused.
    #[must_use]
    pub fn is_live(&self, id: u64) -> bool {
        self.procs.get(&id).is_some_and(|p| !p.paused)
    }

    /// The nodes with a live (running, not paused) process.
    #[must_use]
    pub fn live(&self) -> Vec<u64> {
        self.procs
            .iter()
            .filter(|(_, p)| !p.paused)
            .map(|(&id, _)| id)
            .collect()
    }

    /// Records processes that exited without the harness asking.
    pub fn check_crashes(&mut self) {
        let mut dead = Vec::new();
        for (&id, p) in &mut self.procs {
            if let Ok(Some(status)) = p.child.try_wait() {
                dead.push((id, status.to_string()));
            }
        }
        for (id, status) in dead {
            self.procs.remove(&id);
            self.crashes.push(Crash {
                id,
                status,
                log: self.log_path(id),
            });
        }
        self.update_targets();
    }

    /// Node `id`'s `INFO raft`, if it is live and answers.
    pub async fn info(&self, id: u64) -> Option<RaftInfo> {
        if !self.is_live(id) {
            return None;
        }
        info::fetch(self.addrs[&id].client, INFO_TIMEOUT).await
    }

    /// `INFO raft` of every live node that answers.
    pub async fn infos(&self) -> BTreeMap<u64, RaftInfo> {
        let mut out = BTreeMap::new();
        for id in self.live() {
            if let Some(i) = self.info(id).await {
                out.insert(id, i);
            }
        }
        out
    }

    /// The leader of the highest term that some live node reports leading, with its info.
    pub async fn leader(&self) -> Option<(u64, RaftInfo)> {
        self.infos()
            .await
            .into_iter()
            .filter(|(_, i)| i.is_leader())
            .max_by_key(|(_, i)| i.term)
    }

    /// Sends one command to node `id`.
    pub async fn call(&self, id: u64, args: &[&str]) -> Result<Reply, String> {
        call_once(self.addrs[&id].client, args, ADMIN_TIMEOUT)
            .await
            .map_err(|e| e.to_string())
    }

    /// Stops every process (SIGKILL).
    pub fn kill_all(&mut self) {
        let ids: Vec<u64> = self.procs.keys().copied().collect();
        for id in ids {
            self.kill(id);
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for p in self.procs.values_mut() {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
}

/// Sends `SIG<name>` to a child with `kill(1)` (the workspace forbids `unsafe`, so no libc).
fn signal(child: &Child, name: &str) -> Result<(), String> {
    let out = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running kill -{name}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "kill -{name} {}: {} {}",
            child.id(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The last `n` lines of a file.
#[must_use]
pub fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
