//! The nemesis: a seeded schedule of faults, one at a time, each undone before the next after a
//! quiet spell. The seed fixes the schedule (which fault, its shape, how long it holds); what
//! the cluster does meanwhile (who leads, which node a fault lands on when it targets the
//! leader) depends on timing, so a seed reproduces the schedule, not the exact run.
//!
//! Every kind comes once per round, in an order the seed shuffles (a kind that cannot be
//! injected at the moment, for want of a leader say, comes next instead), so a run of eight
//! faults has them all.
//!
//! Faults: SIGKILL and restart; SIGSTOP and SIGCONT; a majority/minority partition (the leader
//! on the minority side half the time); a bridge (two halves that only one node joins); one-way
//! cuts (a node that can send but not receive, or the reverse); leadership transfers;
//! membership changes (a fresh node added as a learner and promoted, or a voter removed, the
//! leader included, and its data wiped); and snapshot installs (a follower killed until the
//! leader's log is compacted past it, then restarted so that it must catch up by snapshot).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::cluster::Cluster;
use crate::info::RaftInfo;
use crate::recovery::probe_write;
use crate::resp::Reply;
use crate::rng::Rng;

/// The kinds of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// SIGKILL a node, restart it later.
    Kill,
    /// SIGSTOP a node, SIGCONT it later.
    Pause,
    /// Split the members into a minority and a majority.
    Partition,
    /// Two halves that only one node (the bridge) connects.
    Bridge,
    /// A node whose outgoing (or incoming) traffic is cut.
    OneWay,
    /// `RAFT.TRANSFER` to another voter.
    Transfer,
    /// Add a node (learner, then promote) or remove a voter.
    Membership,
    /// Keep a follower down until the log is compacted past it, so it must install a snapshot.
    Snapshot,
}

impl Fault {
    /// Every kind.
    pub const ALL: [Fault; 8] = [
        Fault::Kill,
        Fault::Pause,
        Fault::Partition,
        Fault::Bridge,
        Fault::OneWay,
        Fault::Transfer,
        Fault::Membership,
        Fault::Snapshot,
    ];

    /// The kind named `name` (as [`Fault::name`] gives it).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The kind's name in summaries.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Fault::Kill => "kill",
            Fault::Pause => "pause",
            Fault::Partition => "partition",
            Fault::Bridge => "bridge",
            Fault::OneWay => "one-way",
            Fault::Transfer => "transfer",
            Fault::Membership => "membership",
            Fault::Snapshot => "snapshot",
        }
    }
}

/// A log of what the harness did, with times since the start of the run.
#[derive(Clone, Debug)]
pub struct Timeline {
    epoch: Instant,
    /// The lines.
    pub lines: Vec<String>,
}

impl Timeline {
    /// An empty timeline starting at `epoch`.
    #[must_use]
    pub fn new(epoch: Instant) -> Timeline {
        Timeline {
            epoch,
            lines: Vec::new(),
        }
    }

    /// The time since the start of the run.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Records a line.
    pub fn note(&mut self, what: impl AsRef<str>) {
        let t = self.epoch.elapsed().as_secs_f64();
        self.lines.push(format!("{t:9.3}s {}", what.as_ref()));
    }
}

/// What the nemesis did.
#[derive(Clone, Debug, Default)]
pub struct FaultStats {
    /// Faults injected, by kind name.
    pub injected: BTreeMap<&'static str, u64>,
    /// What came of them (`transfer ok`, `node added`, `snapshot installed`, ...).
    pub outcomes: BTreeMap<&'static str, u64>,
    /// For each kind, how long after each fault of it was undone a write succeeded.
    pub recovered: BTreeMap<&'static str, Vec<Duration>>,
    /// The same after the last fault of the run.
    pub last_recovery: Option<Duration>,
    /// Faults after which no write succeeded in time (each is a problem of the run).
    pub unrecovered: Vec<String>,
}

impl FaultStats {
    fn inject(&mut self, f: Fault) {
        *self.injected.entry(f.name()).or_default() += 1;
    }

    fn outcome(&mut self, what: &'static str) {
        *self.outcomes.entry(what).or_default() += 1;
    }

    /// Adds another run's figures (its last recovery is not added).
    pub fn add(&mut self, o: &FaultStats) {
        for (k, v) in &o.injected {
            *self.injected.entry(k).or_default() += v;
        }
        for (k, v) in &o.outcomes {
            *self.outcomes.entry(k).or_default() += v;
        }
        for (k, v) in &o.recovered {
            self.recovered.entry(k).or_default().extend(v);
        }
        self.unrecovered.extend(o.unrecovered.iter().cloned());
    }
}

/// How long a write may take to succeed after a fault is undone before the run fails: every
/// member is back and every link heals, so a leader should be elected and serve within a few
/// election timeouts.
pub const RECOVERY_LIMIT: Duration = Duration::from_secs(30);

/// How fast faults come and how long they hold, in milliseconds (each drawn uniformly from its
/// range).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pace {
    /// The quiet spell before each fault.
    pub quiet_ms: (u64, u64),
    /// How long a kill, pause or partition holds before it is undone.
    pub hold_ms: (u64, u64),
}

impl Default for Pace {
    /// Faults every few seconds that hold from about one to ten election timeouts (of the
    /// default 50 ms tick).
    fn default() -> Self {
        Pace {
            quiet_ms: (500, 2500),
            hold_ms: (700, 5000),
        }
    }
}

/// The nemesis of one run.
pub struct Nemesis {
    rng: Rng,
    pace: Pace,
    /// The kinds it injects.
    kinds: Vec<Fault>,
    /// The kinds still to come in this round.
    deck: Vec<Fault>,
    /// What it did.
    pub stats: FaultStats,
    /// When it did it.
    pub timeline: Timeline,
    nodes: u64,
}

fn is_ok(r: &Result<Reply, String>) -> bool {
    matches!(r, Ok(Reply::Simple(s)) if s == "OK")
}

impl Nemesis {
    /// A nemesis for a cluster of `nodes` initial members, injecting faults of `kinds` (all
    /// kinds if empty).
    #[must_use]
    pub fn new(rng: Rng, nodes: u64, kinds: &[Fault], pace: Pace, epoch: Instant) -> Nemesis {
        let kinds = if kinds.is_empty() {
            Fault::ALL.to_vec()
        } else {
            kinds.to_vec()
        };
        Nemesis {
            rng,
            pace,
            kinds,
            deck: Vec::new(),
            stats: FaultStats::default(),
            timeline: Timeline::new(epoch),
            nodes,
        }
    }

    async fn hold(&mut self) {
        let (lo, hi) = self.pace.hold_ms;
        let ms = self.rng.range(lo, hi);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    /// The next kind of fault: every kind once per round, in an order the seed shuffles, so
    /// that a run of eight faults has tried them all.
    fn draw(&mut self) -> Fault {
        if self.deck.is_empty() {
            self.deck = self.kinds.clone();
            self.rng.shuffle(&mut self.deck);
        }
        self.deck.pop().unwrap_or(Fault::Kill)
    }

    /// Injects faults until `until`; every fault is undone when it returns.
    pub async fn run(&mut self, cluster: &mut Cluster, until: Instant) {
        loop {
            let (lo, hi) = self.pace.quiet_ms;
            let quiet = Duration::from_millis(self.rng.range(lo, hi));
            if Instant::now() + quiet >= until {
                break;
            }
            tokio::time::sleep(quiet).await;
            self.restart_crashed(cluster);
            let fault = self.draw();
            if self.inject(cluster, fault).await {
                self.recover(cluster, fault).await;
            } else {
                // Not possible now (no leader known, say): it comes next instead.
                self.timeline
                    .note(format!("{}: not possible now, retried next", fault.name()));
                self.deck.push(fault);
            }
        }
        self.restart_crashed(cluster);
    }

    /// Measures how long after `fault` was undone a write succeeds.
    async fn recover(&mut self, cluster: &mut Cluster, fault: Fault) {
        let undone = Instant::now();
        if probe_write(cluster, undone + RECOVERY_LIMIT).await {
            let took = undone.elapsed();
            self.stats
                .recovered
                .entry(fault.name())
                .or_default()
                .push(took);
            self.stats.last_recovery = Some(took);
            self.timeline.note(format!(
                "a write succeeded {:.3}s later",
                took.as_secs_f64()
            ));
        } else {
            let what = format!(
                "no write succeeded within {RECOVERY_LIMIT:?} of undoing a {} fault (at {:.3}s \
                 in the timeline)",
                fault.name(),
                self.timeline.elapsed().as_secs_f64()
            );
            self.timeline.note(&what);
            self.stats.unrecovered.push(what);
            self.stats.last_recovery = None;
        }
    }

    /// Restarts wanted nodes whose process died on its own (the crash is recorded).
    fn restart_crashed(&mut self, cluster: &mut Cluster) {
        cluster.check_crashes();
        let down: Vec<u64> = cluster
            .wanted
            .iter()
            .copied()
            .filter(|&id| !cluster.has_process(id))
            .collect();
        for id in down {
            self.timeline
                .note(format!("node {id} is down unexpectedly: restarting it"));
            if let Err(e) = cluster.start(id) {
                self.timeline.note(format!("restarting node {id}: {e}"));
            }
        }
    }

    /// The leader (if any) and the members with a process.
    async fn view(&self, cluster: &Cluster) -> (Option<(u64, RaftInfo)>, Vec<u64>) {
        let leader = cluster.leader().await;
        let members = match &leader {
            Some((_, i)) => i.members(),
            None => cluster.wanted.iter().copied().collect(),
        };
        let members = members
            .into_iter()
            .filter(|&id| cluster.has_process(id))
            .collect();
        (leader, members)
    }

    /// The leader with probability `p` (when there is one), else any of `members`.
    fn target(&mut self, leader: Option<u64>, members: &[u64], p: f64) -> Option<u64> {
        match leader {
            Some(l) if members.contains(&l) && self.rng.chance(p) => Some(l),
            _ => self.rng.pick(members).copied(),
        }
    }

    /// Injects one fault and undoes it; false if it could not be injected now.
    pub async fn inject(&mut self, cluster: &mut Cluster, fault: Fault) -> bool {
        let (leader, members) = self.view(cluster).await;
        let leader_id = leader.as_ref().map(|(l, _)| *l);
        let links = std::sync::Arc::clone(&cluster.mesh.links);
        match fault {
            Fault::Kill => {
                let Some(t) = self.target(leader_id, &members, 0.5) else {
                    return false;
                };
                self.stats.inject(fault);
                self.timeline
                    .note(format!("kill -9 node {t} (leader: {leader_id:?})"));
                cluster.kill(t);
                self.hold().await;
                self.timeline.note(format!("restart node {t}"));
                if let Err(e) = cluster.start(t) {
                    self.timeline.note(format!("restart failed: {e}"));
                }
            }
            Fault::Pause => {
                let Some(t) = self.target(leader_id, &members, 0.5) else {
                    return false;
                };
                self.stats.inject(fault);
                self.timeline
                    .note(format!("SIGSTOP node {t} (leader: {leader_id:?})"));
                cluster.pause(t);
                self.hold().await;
                self.timeline.note(format!("SIGCONT node {t}"));
                cluster.resume(t);
            }
            Fault::Partition => {
                if members.len() < 2 {
                    return false;
                }
                let mut m = members.clone();
                self.rng.shuffle(&mut m);
                // The leader on the minority side half the time.
                if let Some(l) = leader_id.filter(|_| self.rng.chance(0.5))
                    && let Some(pos) = m.iter().position(|&x| x == l)
                {
                    m.swap(0, pos);
                }
                let small = self.rng.range(1, ((m.len() as u64 - 1) / 2).max(1)) as usize;
                let (minority, majority) = m.split_at(small);
                self.stats.inject(fault);
                self.timeline.note(format!(
                    "partition {minority:?} | {majority:?} (leader: {leader_id:?})"
                ));
                links.split(minority, majority);
                self.hold().await;
                self.timeline.note("heal");
                links.heal_all();
            }
            Fault::Bridge => {
                if members.len() < 3 {
                    return false;
                }
                let mut m = members.clone();
                self.rng.shuffle(&mut m);
                let rest = &m[1..];
                let (a, b) = rest.split_at(rest.len() / 2);
                self.stats.inject(fault);
                self.timeline.note(format!(
                    "bridge {a:?} <-> {} <-> {b:?} (leader: {leader_id:?})",
                    m[0]
                ));
                links.split(a, b);
                self.hold().await;
                self.timeline.note("heal");
                links.heal_all();
            }
            Fault::OneWay => {
                let Some(t) = self.target(leader_id, &members, 0.6) else {
                    return false;
                };
                let outbound = self.rng.chance(0.5);
                self.stats.inject(fault);
                self.timeline.note(format!(
                    "one-way: cut node {t}'s {} traffic (leader: {leader_id:?})",
                    if outbound { "outgoing" } else { "incoming" }
                ));
                for &o in members.iter().filter(|&&o| o != t) {
                    if outbound {
                        links.cut(t, o);
                    } else {
                        links.cut(o, t);
                    }
                }
                self.hold().await;
                self.timeline.note("heal");
                links.heal_all();
            }
            Fault::Transfer => {
                let Some((l, info)) = leader else {
                    return false;
                };
                let others: Vec<u64> = info.voters.iter().copied().filter(|&v| v != l).collect();
                let Some(&t) = self.rng.pick(&others) else {
                    return false;
                };
                self.stats.inject(fault);
                let r = cluster.call(l, &["RAFT.TRANSFER", &t.to_string()]).await;
                self.timeline
                    .note(format!("transfer leadership {l} -> {t}: {r:?}"));
                self.stats.outcome(if is_ok(&r) {
                    "transfer ok"
                } else {
                    "transfer refused or failed"
                });
            }
            Fault::Membership => {
                let Some((l, info)) = leader else {
                    return false;
                };
                self.stats.inject(fault);
                self.change_membership(cluster, l, &info).await;
            }
            Fault::Snapshot => {
                let followers: Vec<u64> = members
                    .iter()
                    .copied()
                    .filter(|&m| Some(m) != leader_id)
                    .collect();
                let (Some(_), Some(&f)) = (leader_id, self.rng.pick(&followers)) else {
                    return false;
                };
                self.stats.inject(fault);
                self.snapshot_install(cluster, f).await;
            }
        }
        true
    }

    /// Promotes a learner if there is one; else adds a node if the cluster has its initial
    /// number of voters; else removes a voter (the leader too, sometimes).
    async fn change_membership(&mut self, cluster: &mut Cluster, leader: u64, info: &RaftInfo) {
        let members = info.members();
        if let Some(&x) = info.learners.first() {
            if !cluster.has_process(x) {
                let _ = cluster.start(x);
            }
            let r = cluster
                .call(leader, &["RAFT.PROMOTE", &x.to_string()])
                .await;
            self.timeline
                .note(format!("promote learner {x} (via {leader}): {r:?}"));
            self.stats.outcome(if is_ok(&r) {
                "learner promoted"
            } else {
                "promote failed"
            });
            return;
        }
        let spares: Vec<u64> = cluster
            .pool
            .iter()
            .copied()
            .filter(|id| !members.contains(id))
            .collect();
        if info.voters.len() as u64 <= self.nodes
            && let Some(&s) = self.rng.pick(&spares)
        {
            self.add_node(cluster, leader, info, s).await;
        } else if info.voters.len() as u64 > self.nodes
            && let Some(&v) = self.rng.pick(&info.voters)
        {
            self.remove_node(cluster, leader, v).await;
        } else {
            self.stats.outcome("membership: nothing to change");
        }
    }

    /// Waits until the configuration `info` reports (from the leader `leader`) is committed:
    /// the same leader, in the same term, reports a commit index at or past its last index of
    /// then. A node is only wiped once a committed configuration leaves it out: wiping a voter
    /// would break Raft's assumption that votes and log entries are durable, and the harness
    /// would then find its own fault, not raft-kv's.
    async fn committed(cluster: &Cluster, leader: u64, info: &RaftInfo) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            match cluster.info(leader).await {
                Some(i) if i.term != info.term || !i.is_leader() => return false,
                Some(i) if i.commit >= info.last => return true,
                _ => {}
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    async fn add_node(&mut self, cluster: &mut Cluster, leader: u64, info: &RaftInfo, s: u64) {
        if !Self::committed(cluster, leader, info).await {
            self.timeline.note(format!(
                "add node {s}: the configuration without it is not known committed; not now"
            ));
            self.stats
                .outcome("add skipped: configuration not committed");
            return;
        }
        cluster.kill(s);
        cluster.wipe(s);
        self.timeline.note(format!(
            "add node {s}: start it empty, then RAFT.ADDLEARNER"
        ));
        if let Err(e) = cluster.start(s) {
            self.timeline.note(format!("starting node {s}: {e}"));
            return;
        }
        if let Err(e) = cluster.wait_serving(s, Duration::from_secs(30)).await {
            self.timeline.note(e);
            cluster.kill(s);
            return;
        }
        let a = cluster.addrs[&s];
        let r = cluster
            .call(
                leader,
                &[
                    "RAFT.ADDLEARNER",
                    &s.to_string(),
                    &a.peer.to_string(),
                    &a.client.to_string(),
                ],
            )
            .await;
        self.timeline
            .note(format!("RAFT.ADDLEARNER {s} (via {leader}): {r:?}"));
        if !is_ok(&r) {
            self.stats.outcome("add failed");
            // It may have been added all the same: the final recovery starts every member.
            return;
        }
        cluster.wanted.insert(s);
        // Let it catch up before it votes.
        let target = cluster.info(leader).await.map_or(0, |i| i.commit);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if cluster.info(s).await.is_some_and(|i| i.applied >= target) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let via = cluster.leader().await.map_or(leader, |(l, _)| l);
        let r = cluster.call(via, &["RAFT.PROMOTE", &s.to_string()]).await;
        self.timeline
            .note(format!("RAFT.PROMOTE {s} (via {via}): {r:?}"));
        self.stats.outcome(if is_ok(&r) {
            "node added"
        } else {
            "promote failed"
        });
    }

    async fn remove_node(&mut self, cluster: &mut Cluster, leader: u64, v: u64) {
        let r = cluster.call(leader, &["RAFT.REMOVE", &v.to_string()]).await;
        self.timeline
            .note(format!("RAFT.REMOVE {v} (via {leader}): {r:?}"));
        if !is_ok(&r) {
            self.stats.outcome("remove failed");
            return;
        }
        // The removal is applied, so committed: stop the node once a leader's configuration
        // no longer has it, and wipe it only if the configuration without it is committed.
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut gone = false;
        while Instant::now() < deadline && !gone {
            if let Some((l, i)) = cluster.leader().await
                && l != v
                && !i.members().contains(&v)
            {
                gone = Self::committed(cluster, l, &i).await;
            }
            if !gone {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        if !gone {
            self.timeline.note(format!(
                "node {v}: no leader confirmed its removal; it keeps running and its data"
            ));
            self.stats.outcome("remove not confirmed");
            return;
        }
        cluster.wanted.remove(&v);
        cluster.terminate(v).await;
        cluster.wipe(v);
        self.timeline
            .note(format!("node {v} stopped and its data wiped"));
        self.stats.outcome("node removed");
    }

    async fn snapshot_install(&mut self, cluster: &mut Cluster, f: u64) {
        let applied = cluster.info(f).await.map_or(0, |i| i.applied);
        self.timeline.note(format!(
            "snapshot: kill -9 node {f} (applied {applied}) until the log is compacted past it"
        ));
        cluster.kill(f);
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut compacted = false;
        while Instant::now() < deadline {
            if let Some((_, i)) = cluster.leader().await
                && i.log_start > applied + 1
            {
                compacted = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.timeline.note(format!(
            "restart node {f} (leader's log compacted past it: {compacted})"
        ));
        if let Err(e) = cluster.start(f) {
            self.timeline.note(format!("restart failed: {e}"));
            return;
        }
        if !compacted {
            self.stats.outcome("snapshot: log not compacted in time");
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if cluster
                .info(f)
                .await
                .is_some_and(|i| i.snapshots_received > 0)
            {
                self.timeline.note(format!("node {f} installed a snapshot"));
                self.stats.outcome("snapshot installed");
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.stats.outcome("snapshot not seen installed");
    }
}
