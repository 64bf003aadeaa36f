//! One chaos run: start the cluster, run the clients while the nemesis injects faults, recover,
//! compare the members' data, kill every node at once and compare again, then check the
//! history.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use raft_kv::config::RaftSettings;

use crate::checker::{self, Limits, Verdict};
use crate::cluster::{Cluster, ClusterSpec, tail};
use crate::history::{self, Kind, Op, Outcome};
use crate::nemesis::{Fault, Nemesis, Pace, Timeline};
use crate::recovery::{self, Data, Recovery};
use crate::rng::Rng;
use crate::summary::{CheckFigures, Summary};
use crate::workload::{self, Workload, key};

/// What a run does.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The seed of the fault schedule and the workload.
    pub seed: u64,
    /// Initial members (3 or 5).
    pub nodes: u64,
    /// How long clients run under faults.
    pub duration: Duration,
    /// Concurrent clients.
    pub clients: u32,
    /// The clients' workload.
    pub workload: Workload,
    /// The `raft-kv` binary.
    pub binary: PathBuf,
    /// Where run directories go.
    pub base_dir: PathBuf,
    /// Raft tick, in milliseconds.
    pub tick_ms: u64,
    /// How fast the faults come.
    pub pace: Pace,
    /// The kinds of fault injected (all if empty).
    pub faults: Vec<Fault>,
    /// Keep the run directory even when the run passes.
    pub keep: bool,
    /// The nodes' log filter.
    pub log_filter: String,
    /// How long recovery may take.
    pub recovery_limit: Duration,
    /// The checker's bounds.
    pub limits: Limits,
}

impl RunConfig {
    /// Defaults for `seed`, `nodes` and `duration`.
    #[must_use]
    pub fn new(seed: u64, nodes: u64, duration: Duration, binary: PathBuf) -> RunConfig {
        RunConfig {
            seed,
            nodes,
            duration,
            clients: 16,
            workload: Workload {
                keys: 16,
                op_timeout: Duration::from_secs(4),
                think: Duration::from_millis(10),
                read_ratio: 0.5,
                stale_reads: false,
            },
            binary,
            base_dir: std::env::temp_dir().join("raft-chaos"),
            tick_ms: 50,
            pace: Pace::default(),
            faults: Vec::new(),
            keep: false,
            log_filter: "info".into(),
            recovery_limit: Duration::from_secs(90),
            limits: Limits::default(),
        }
    }
}

impl RunConfig {
    /// The command that runs this configuration again (same seed, so the same fault schedule
    /// and workload choices; the timing of the processes differs from run to run).
    #[must_use]
    pub fn replay_command(&self) -> String {
        let mut extra = String::new();
        if !self.faults.is_empty() {
            let names: Vec<&str> = self.faults.iter().map(|f| f.name()).collect();
            extra += &format!(" --faults {}", names.join(","));
        }
        if self.workload.stale_reads {
            extra += " --stale-reads";
        }
        format!(
            "raft-chaos --binary {} --seed {} --nodes {} --duration {}ms --clients {} --keys {} \
             --op-timeout {}ms --think-ms {} --tick-ms {} --quiet-ms {}-{} --hold-ms {}-{}{extra} --keep",
            self.binary.display(),
            self.seed,
            self.nodes,
            self.duration.as_millis(),
            self.clients,
            self.workload.keys,
            self.workload.op_timeout.as_millis(),
            self.workload.think.as_millis(),
            self.tick_ms,
            self.pace.quiet_ms.0,
            self.pace.quiet_ms.1,
            self.pace.hold_ms.0,
            self.pace.hold_ms.1,
        )
    }
}

/// The data every member agreed on, read within `[call, ret]` (ns since the start of the run).
struct FinalData {
    values: Vec<Option<String>>,
    call: u64,
    ret: u64,
}

/// The final data as reads in the history, so that the checker holds them to every write
/// before them: an acknowledged write lost by recovery shows up as a read that cannot be
/// linearized.
fn final_reads(d: &FinalData) -> Vec<Op> {
    d.values
        .iter()
        .enumerate()
        .map(|(k, v)| Op {
            client: u32::MAX,
            key: key(k as u64),
            kind: Kind::Read,
            call: d.call,
            ret: Some(d.ret),
            outcome: Outcome::Read(v.clone()),
        })
        .collect()
}

/// Runs one chaos run. `Err` means the harness itself could not run (the binary is missing,
/// the cluster never started); everything found wrong with raft-kv is in the summary.
pub async fn run(cfg: &RunConfig) -> Result<Summary, String> {
    let started = Instant::now();
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let dir = cfg.base_dir.join(format!(
        "seed{}-n{}-{}-{stamp}",
        cfg.seed,
        cfg.nodes,
        std::process::id()
    ));
    if !cfg.binary.is_file() {
        return Err(format!(
            "no raft-kv binary at {} (build it: cargo build --release -p raft-kv)",
            cfg.binary.display()
        ));
    }
    let raft = RaftSettings {
        tick_ms: cfg.tick_ms,
        election_ticks: 10,
        heartbeat_ticks: 2,
        snapshot_every: 100,
        compaction_keep: 20,
        lease_reads: false,
        ..RaftSettings::default()
    };
    let spec = ClusterSpec {
        binary: cfg.binary.clone(),
        dir: dir.clone(),
        nodes: cfg.nodes,
        spares: 2,
        raft,
        port_salt: cfg.seed ^ u64::from(std::process::id()) << 16 ^ stamp as u64,
        log_filter: cfg.log_filter.clone(),
    };
    let mut cluster = Cluster::create(spec).await?;
    cluster.bootstrap().await?;

    let rng = Rng::new(cfg.seed);
    let epoch = Instant::now();
    let mut timeline = Timeline::new(epoch);
    timeline.note(format!(
        "cluster of {} up; {} clients start",
        cfg.nodes, cfg.clients
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..cfg.clients)
        .map(|c| {
            tokio::spawn(workload::client(
                c,
                rng.fork(1000 + u64::from(c)),
                cfg.workload.clone(),
                Arc::clone(&cluster.targets),
                epoch,
                Arc::clone(&stop),
            ))
        })
        .collect();
    let mut nemesis = Nemesis::new(rng.fork(1), cfg.nodes, &cfg.faults, cfg.pace, epoch);
    nemesis.run(&mut cluster, epoch + cfg.duration).await;
    let duration = epoch.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut ops: Vec<Op> = Vec::new();
    for c in clients {
        ops.extend(c.await.map_err(|e| format!("a client task failed: {e}"))?);
    }
    timeline.lines.append(&mut nemesis.timeline.lines);
    timeline.lines.sort();
    timeline.note(format!("clients stopped after {} operations", ops.len()));

    let mut s = Summary {
        seed: cfg.seed,
        nodes: cfg.nodes,
        duration,
        counts: history::counts(&ops),
        faults: nemesis.stats.clone(),
        available_after: nemesis.stats.last_recovery,
        dir: dir.clone(),
        replay: cfg.replay_command(),
        ..Summary::default()
    };
    s.problems.extend(nemesis.stats.unrecovered.iter().cloned());
    s.longest_outage = longest_outage(&ops, duration);

    // Recovery after the last fault, with the clients stopped; then the data, which must be
    // the same on every member.
    s.recovery = settle(&mut cluster, cfg, &mut timeline, &mut s.problems).await;
    let mut finals = Vec::new();
    finals.extend(read_data(&mut cluster, cfg, epoch, &mut timeline, &mut s.problems).await);

    // Crash recovery of the whole cluster: SIGKILL every node at once, restart them all, and
    // read again. (This also ends any write a node was still forwarding for a client that had
    // given up: from here on the data can only change by the harness's own probe writes.)
    timeline.note("kill -9 every node at once, then restart them all");
    cluster.kill_all();
    s.restart = settle(&mut cluster, cfg, &mut timeline, &mut s.problems).await;
    finals.extend(read_data(&mut cluster, cfg, epoch, &mut timeline, &mut s.problems).await);
    for d in &finals {
        for lost in recovery::lost_writes(&ops, &d.values) {
            if !s.violations.contains(&lost) {
                s.violations.push(lost);
            }
        }
    }
    for d in &finals {
        ops.extend(final_reads(d));
    }
    s.datagrams = (
        cluster.mesh.links.dropped.load(Ordering::Relaxed),
        cluster.mesh.links.relayed.load(Ordering::Relaxed),
    );
    cluster.check_crashes();
    s.problems.extend(cluster.errors.iter().cloned());
    for c in &cluster.crashes {
        s.problems.push(format!(
            "node {} exited on its own ({}); log {}:\n{}",
            c.id,
            c.status,
            c.log.display(),
            tail(&c.log, 15)
        ));
    }
    for id in cluster.pool.clone() {
        let log = std::fs::read_to_string(cluster.log_path(id)).unwrap_or_default();
        if let Some(line) = log.lines().find(|l| l.contains("panicked at")) {
            s.problems.push(format!("node {id} panicked: {line}"));
        }
    }
    cluster.kill_all();

    check(&ops, cfg, &mut s);
    s.wall = started.elapsed();
    let _ = std::fs::write(dir.join("history.txt"), history::to_text(&ops));
    let _ = std::fs::write(dir.join("timeline.txt"), timeline.lines.join("\n") + "\n");
    let _ = std::fs::write(dir.join("summary.txt"), format!("{s}\n"));
    drop(cluster);
    if s.passed() && !cfg.keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(s)
}

async fn settle(
    cluster: &mut Cluster,
    cfg: &RunConfig,
    timeline: &mut Timeline,
    problems: &mut Vec<String>,
) -> Option<Recovery> {
    match recovery::heal_and_converge(cluster, cfg.recovery_limit, timeline).await {
        Ok(r) => Some(r),
        Err(e) => {
            timeline.note(&e);
            problems.push(e);
            None
        }
    }
}

/// Reads every key on every member once the log is quiet, and checks that they agree. The read
/// counts only if every member still had the same applied index afterwards (a write a node was
/// still forwarding may land meanwhile; then it is read again).
async fn read_data(
    cluster: &mut Cluster,
    cfg: &RunConfig,
    epoch: Instant,
    timeline: &mut Timeline,
    problems: &mut Vec<String>,
) -> Option<FinalData> {
    let ns = |t: Instant| t.duration_since(epoch).as_nanos() as u64;
    for _ in 0..5 {
        let r = settle(cluster, cfg, timeline, problems).await?;
        let call = ns(Instant::now());
        let data: Data = match recovery::read_all(cluster, &r.members, cfg.workload.keys).await {
            Ok(d) => d,
            Err(e) => {
                problems.push(e);
                return None;
            }
        };
        let ret = ns(Instant::now());
        if recovery::converged(cluster, &r.members).await != Some(r.applied) {
            timeline.note("the log moved while the data were read: reading again");
            continue;
        }
        return match recovery::agree(&data) {
            Ok(values) => {
                timeline.note(format!(
                    "read the data of {:?} at index {}: they agree",
                    r.members, r.applied
                ));
                Some(FinalData { values, call, ret })
            }
            Err(e) => {
                problems.push(e);
                None
            }
        };
    }
    problems.push("the log never stayed quiet while the data were read".into());
    None
}

/// The longest time in `[0, duration]` (ns since the start of the run) in which no write was
/// acknowledged: how long the worst fault kept the cluster from taking writes, as the clients
/// saw it.
fn longest_outage(ops: &[Op], duration: Duration) -> Duration {
    let mut acks: Vec<u64> = ops
        .iter()
        .filter(|o| o.outcome == Outcome::Written)
        .filter_map(|o| o.ret)
        .collect();
    acks.sort_unstable();
    let end = duration.as_nanos() as u64;
    let mut last = 0u64;
    let mut longest = 0u64;
    for t in acks.into_iter().chain([end]) {
        longest = longest.max(t.saturating_sub(last));
        last = last.max(t);
    }
    Duration::from_nanos(longest)
}

fn check(ops: &[Op], cfg: &RunConfig, s: &mut Summary) {
    let report = checker::check(ops, &cfg.limits);
    s.check = CheckFigures {
        keys: report.keys.len(),
        searched: report.searched(),
        states: report.keys.iter().map(|k| k.states).sum(),
        gave_up: report.gave_up().count(),
        elapsed: report.elapsed,
    };
    for k in &report.keys {
        match &k.verdict {
            Verdict::Linearizable => {}
            Verdict::Violation(why) => s.violations.push(why.clone()),
            Verdict::GaveUp => s.problems.push(format!(
                "the linearizability check of key {} gave up after {} states ({} operations)",
                k.key, k.states, k.searched
            )),
        }
    }
}
