//! The figures of a run, and of several runs together.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::history::Counts;
use crate::nemesis::FaultStats;
use crate::recovery::Recovery;

/// What the checker did.
#[derive(Clone, Debug, Default)]
pub struct CheckFigures {
    /// Keys checked.
    pub keys: usize,
    /// Operations searched (after dropping those that constrain nothing).
    pub searched: usize,
    /// Configurations explored.
    pub states: u64,
    /// Keys whose search gave up.
    pub gave_up: usize,
    /// How long it took.
    pub elapsed: Duration,
}

/// One run's figures and verdict.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// The seed.
    pub seed: u64,
    /// Initial members.
    pub nodes: u64,
    /// How long faults were injected while clients ran.
    pub duration: Duration,
    /// Operations by outcome.
    pub counts: Counts,
    /// Faults injected and what came of them.
    pub faults: FaultStats,
    /// UDP datagrams dropped on cut links, and relayed.
    pub datagrams: (u64, u64),
    /// From the last fault being undone until a write succeeded (clients still running).
    pub available_after: Option<Duration>,
    /// The longest time the clients saw no write acknowledged.
    pub longest_outage: Duration,
    /// Recovery once the clients stopped: every node healed and started, then converged.
    pub recovery: Option<Recovery>,
    /// Recovery after killing every member at once and restarting them.
    pub restart: Option<Recovery>,
    /// The linearizability check.
    pub check: CheckFigures,
    /// Counterexamples (one per key found not linearizable).
    pub violations: Vec<String>,
    /// Everything else that went wrong: no convergence, data that differ, crashes, a check
    /// that gave up.
    pub problems: Vec<String>,
    /// The run's directory (history, timeline, logs).
    pub dir: PathBuf,
    /// The command that runs it again.
    pub replay: String,
    /// The whole run, from starting the cluster to the verdict.
    pub wall: Duration,
}

impl Summary {
    /// Whether the run found nothing wrong.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.violations.is_empty() && self.problems.is_empty()
    }
}

fn faults(f: &FaultStats) -> String {
    let total: u64 = f.injected.values().sum();
    let kinds: Vec<String> = f.injected.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let outcomes: Vec<String> = f.outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!(
        "{total} ({})\n  fault outcomes: {}",
        kinds.join(", "),
        if outcomes.is_empty() {
            "-".to_owned()
        } else {
            outcomes.join(", ")
        }
    )
}

/// `median m, max x` of some durations.
fn spread(v: &[Duration]) -> String {
    let mut v = v.to_vec();
    v.sort();
    let secs =
        |d: Option<&Duration>| d.map_or("-".to_owned(), |d| format!("{:.2}s", d.as_secs_f64()));
    format!(
        "median {}, max {}",
        secs(v.get(v.len() / 2)),
        secs(v.last())
    )
}

/// Recovery times after faults: all together, then the slowest kind.
fn recoveries(f: &FaultStats) -> String {
    let all: Vec<Duration> = f.recovered.values().flatten().copied().collect();
    if all.is_empty() {
        return "-".to_owned();
    }
    let by_kind: Vec<String> = f
        .recovered
        .iter()
        .map(|(k, v)| {
            let max = v.iter().max().copied().unwrap_or_default();
            format!("{k} {:.2}s", max.as_secs_f64())
        })
        .collect();
    format!("{} (max by kind: {})", spread(&all), by_kind.join(", "))
}

fn recovery(r: Option<&Recovery>) -> String {
    r.map_or("did not recover".to_owned(), |r| {
        format!(
            "first write after {:.2}s, all of {:?} converged (index {}) after {:.2}s",
            r.first_write.as_secs_f64(),
            r.members,
            r.applied,
            r.converged.as_secs_f64()
        )
    })
}

fn ops(c: &Counts) -> String {
    format!(
        "{} (ok {}: {} reads, {} writes; failed {}; unknown {})",
        c.total(),
        c.reads_ok + c.writes_ok,
        c.reads_ok,
        c.writes_ok,
        c.failed,
        c.unknown
    )
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "raft-chaos seed {} nodes {}: {:.0}s of faults ({:.0}s in all)",
            self.seed,
            self.nodes,
            self.duration.as_secs_f64(),
            self.wall.as_secs_f64()
        )?;
        writeln!(f, "  operations: {}", ops(&self.counts))?;
        writeln!(f, "  faults: {}", faults(&self.faults))?;
        writeln!(
            f,
            "  relays: {} datagrams dropped on cut links, {} relayed",
            self.datagrams.0, self.datagrams.1
        )?;
        writeln!(
            f,
            "  fault undone -> a write succeeds: {}; after the last fault: {}",
            recoveries(&self.faults),
            self.available_after
                .map_or("never".to_owned(), |d| format!("{:.2}s", d.as_secs_f64()))
        )?;
        writeln!(
            f,
            "  longest time without an acknowledged write: {:.2}s",
            self.longest_outage.as_secs_f64()
        )?;
        writeln!(
            f,
            "  final heal (clients stopped): {}",
            recovery(self.recovery.as_ref())
        )?;
        writeln!(
            f,
            "  recovery after killing every node at once: {}",
            recovery(self.restart.as_ref())
        )?;
        let c = &self.check;
        writeln!(
            f,
            "  checker: {} keys, {} operations searched, {} states, {} gave up, {:.2}s",
            c.keys,
            c.searched,
            c.states,
            c.gave_up,
            c.elapsed.as_secs_f64()
        )?;
        writeln!(f, "  violations: {}", self.violations.len())?;
        for v in &self.violations {
            writeln!(f, "{v}")?;
        }
        for p in &self.problems {
            writeln!(f, "  PROBLEM: {p}")?;
        }
        if self.passed() {
            write!(f, "  result: PASS")
        } else {
            write!(
                f,
                "  result: FAIL (seed {}). The run directory {} keeps the history \
                 (raft-chaos --check {}/history.txt), the timeline and the node logs.\n  \
                 replay: {}",
                self.seed,
                self.dir.display(),
                self.dir.display(),
                self.replay
            )
        }
    }
}

/// Several runs added up.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    /// Runs.
    pub runs: u64,
    /// Runs that failed: (seed, nodes).
    pub failed: Vec<(u64, u64)>,
    /// Seconds of faults.
    pub duration: Duration,
    /// Operations.
    pub counts: Counts,
    /// Faults.
    pub faults: FaultStats,
    /// Violations.
    pub violations: u64,
    /// Other problems.
    pub problems: u64,
    /// Times from the last fault being undone to a successful write.
    pub available: Vec<Duration>,
    /// The longest time without an acknowledged write, of each run.
    pub outages: Vec<Duration>,
    /// Times from the final heal to convergence.
    pub recoveries: Vec<Duration>,
    /// Times from killing every node at once to convergence.
    pub restarts: Vec<Duration>,
}

impl Totals {
    /// Adds a run.
    pub fn add(&mut self, s: &Summary) {
        self.runs += 1;
        if !s.passed() {
            self.failed.push((s.seed, s.nodes));
        }
        self.duration += s.duration;
        self.counts.add(&s.counts);
        self.faults.add(&s.faults);
        self.violations += s.violations.len() as u64;
        self.problems += s.problems.len() as u64;
        self.available.extend(s.available_after);
        self.outages.push(s.longest_outage);
        self.recoveries
            .extend(s.recovery.as_ref().map(|r| r.converged));
        self.restarts
            .extend(s.restart.as_ref().map(|r| r.converged));
    }
}

impl fmt::Display for Totals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed: Vec<String> = self
            .failed
            .iter()
            .map(|(seed, nodes)| format!("seed {seed} with {nodes} nodes"))
            .collect();
        writeln!(
            f,
            "TOTAL: {} runs, {} failed{}; {:.0}s of faults",
            self.runs,
            self.failed.len(),
            if failed.is_empty() {
                String::new()
            } else {
                format!(" ({})", failed.join(", "))
            },
            self.duration.as_secs_f64()
        )?;
        writeln!(f, "  operations: {}", ops(&self.counts))?;
        writeln!(f, "  faults: {}", faults(&self.faults))?;
        writeln!(
            f,
            "  violations: {}; other problems: {}",
            self.violations, self.problems
        )?;
        writeln!(
            f,
            "  fault undone -> a write succeeds: {}",
            recoveries(&self.faults)
        )?;
        writeln!(
            f,
            "  last fault of a run undone -> a write succeeds: {}",
            spread(&self.available)
        )?;
        writeln!(
            f,
            "  longest time without an acknowledged write, per run: {}",
            spread(&self.outages)
        )?;
        writeln!(
            f,
            "  final heal -> all members converged: {}",
            spread(&self.recoveries)
        )?;
        write!(
            f,
            "  every node killed at once -> converged: {}",
            spread(&self.restarts)
        )
    }
}
