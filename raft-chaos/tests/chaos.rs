//! The short chaos runs CI makes on every change (`cargo test --workspace`): a 3-node and a
//! 5-node cluster of real `raft-kv` processes, 16 clients, 40 s of faults each at a quick pace
//! (every kind of fault at least once), the history checked for linearizability, every
//! acknowledged write looked for in the final data, the members' data compared after the final
//! heal and again after killing every node at once. And a control: the same harness, with the
//! clients asking for stale reads, must find violations.
//!
//! The seeds are fixed, so each run has the same fault schedule and workload choices (the
//! timing of the processes, and so the exact run, differs); set `RAFT_CHAOS_SEED` to try
//! another. A failing run keeps its directory (history, timeline, node logs) and prints the
//! `raft-chaos` command that replays its seed.
//!
//! The `raft-kv` binary is `RAFT_KV_BIN`, or else the one of this build profile, which
//! `cargo test --workspace` builds (raft-kv's own end-to-end tests need it). The test refuses a
//! binary older than the sources it is built from, rather than test stale code.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use raft_chaos::nemesis::{Fault, Pace};
use raft_chaos::run::{RunConfig, run};

/// Faults come quickly, so that 40 s see every kind.
const QUICK: Pace = Pace {
    quiet_ms: (300, 1200),
    hold_ms: (700, 3000),
};

/// One run at a time: two clusters at once on a 2-core machine would measure the scheduler.
static SERIAL: Mutex<()> = Mutex::new(());

/// The newest modification time of the files under `dir`.
fn newest(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).ok()?.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if let Ok(t) = meta.modified() {
                newest = newest.max(Some(t));
            }
        }
    }
    newest
}

fn raft_kv_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("RAFT_KV_BIN") {
        return p.into();
    }
    // This test runs from <target>/<profile>/deps/; the binary is in <target>/<profile>/.
    let exe = std::env::current_exe().expect("the test's own path");
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from <target>/<profile>/deps")
        .join("raft-kv");
    let built = std::fs::metadata(&binary)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| {
            panic!(
                "no raft-kv binary at {}: run the tests with `cargo test --workspace` (which \
                 builds it), build it with `cargo build -p raft-kv`, or set RAFT_KV_BIN",
                binary.display()
            )
        });
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace");
    for krate in [
        "raft-core",
        "raft-tokio",
        "raft-storage-rocks",
        "raft-transport-quic",
        "raft-kv",
    ] {
        let changed = newest(&workspace.join(krate).join("src"));
        assert!(
            changed.is_none_or(|t| t <= built),
            "{} is older than the sources in {krate}/src: rebuild it (`cargo test --workspace` \
             or `cargo build -p raft-kv`) or set RAFT_KV_BIN",
            binary.display()
        );
    }
    binary
}

fn short_run(nodes: u64, default_seed: u64) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let seed = std::env::var("RAFT_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_seed);
    let mut cfg = RunConfig::new(seed, nodes, Duration::from_secs(40), raft_kv_binary());
    cfg.pace = QUICK;
    cfg.recovery_limit = Duration::from_secs(120);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let started = Instant::now();
    let s = rt.block_on(run(&cfg)).expect("the harness could not run");
    println!("{s}\n  wall time: {:.1}s", started.elapsed().as_secs_f64());
    assert!(s.passed(), "the chaos run failed:\n{s}");
    for f in Fault::ALL {
        assert!(
            s.faults.injected.get(f.name()).is_some_and(|&n| n > 0),
            "no {} fault was injected:\n{s}",
            f.name()
        );
    }
    assert!(
        s.counts.writes_ok >= 100 && s.counts.reads_ok >= 100,
        "too little work done to prove anything:\n{s}"
    );
    assert!(s.check.searched > 200, "too little was checked:\n{s}");
}

#[test]
fn chaos_three_nodes() {
    short_run(3, 1);
}

#[test]
fn chaos_five_nodes() {
    short_run(5, 2);
}

/// The control: stale local reads are not linearizable, and the harness must say so. A
/// minority follower, or one that was paused, serves old values while the majority moves on.
#[test]
fn stale_reads_are_caught() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut cfg = RunConfig::new(3, 3, Duration::from_secs(15), raft_kv_binary());
    cfg.pace = QUICK;
    cfg.faults = vec![Fault::Partition, Fault::Pause];
    cfg.workload.stale_reads = true;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let s = rt.block_on(run(&cfg)).expect("the harness could not run");
    println!(
        "stale reads: {} violations in {} operations",
        s.violations.len(),
        s.counts.total()
    );
    assert!(!s.violations.is_empty(), "stale reads went unnoticed:\n{s}");
    // Nothing else went wrong: the violations are the stale reads', not the harness's.
    assert!(s.problems.is_empty(), "{s}");
    let _ = std::fs::remove_dir_all(&s.dir);
}
