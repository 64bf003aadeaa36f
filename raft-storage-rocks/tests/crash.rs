//! Crash test: a child process (this test binary, re-invoked) writes a deterministic stream of
//! operations and prints each one's number once it is acknowledged; the parent kills it with
//! SIGKILL at a random moment, reopens the log, and checks it: the log must be exactly the model
//! after some prefix of the stream that includes every write acknowledged as synced (so every
//! acknowledged entry is there, intact, with nothing after a gap). The next child continues the
//! same stream from there, on the same database.
//!
//! `RAFT_ROCKS_CRASH_KILLS` sets the number of kills (default 50), `RAFT_ROCKS_CRASH_SEED` the
//! seed (default: from the clock; printed).

mod common;

use std::io::{BufRead, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use common::{Op, SplitMix, apply_model, compare, realize};
use raft_core::{LogId, MemStorage, SnapshotMeta, Storage, Write};
use raft_storage_rocks::{GroupCommit, RocksLog};

const CHILD_DIR: &str = "RAFT_ROCKS_CRASH_DIR";
const CHILD_SEED: &str = "RAFT_ROCKS_CRASH_CHILD_SEED";
const CHILD_START: &str = "RAFT_ROCKS_CRASH_START";
const CHILD_MODE: &str = "RAFT_ROCKS_CRASH_MODE";

/// How many operations a child performs before it waits to be killed.
const OPS_PER_CHILD: u64 = 250;

/// The stream of operations for `seed`: op `n` depends only on the seed, `n` and the log after
/// ops `0..n`, so a child can pick up the stream from the log it finds.
#[derive(Clone)]
struct Stream {
    seed: u64,
    model: MemStorage,
    produced: u64,
}

impl Stream {
    fn new(seed: u64) -> Stream {
        // Every stream starts like a bootstrapped node.
        let mut model = MemStorage::default();
        model.apply_write(&bootstrap()).unwrap();
        Stream {
            seed,
            model,
            produced: 0,
        }
    }

    /// The stream after `produced` ops, given the log they made: the model rebuilt from it.
    fn resume(seed: u64, produced: u64, log: &RocksLog) -> Stream {
        let (state, entries) = read_all(log);
        let mut w = Write::default();
        if state.log_start != LogId::ZERO {
            w.snapshot = Some(SnapshotMeta {
                last: state.log_start,
                membership: state.membership.membership.clone(),
            });
        }
        w.entries = entries.into();
        w.hard_state = Some(state.hard_state);
        w.membership = Some(state.membership);
        w.snapshot_taken = state.snapshot;
        let mut model = MemStorage::default();
        model.apply_write(&w).unwrap();
        Stream {
            seed,
            model,
            produced,
        }
    }

    /// The next operation, applied to the model: `(op, accepted by the model, a synced write)`.
    fn next(&mut self) -> (Op, bool, bool) {
        let mut rng = SplitMix(self.seed ^ self.produced.wrapping_mul(0xD1B5_4A32_D192_ED03));
        let op = realize(&rng.spec(), &self.model);
        let ok = apply_model(&mut self.model, &op);
        self.produced += 1;
        let synced = matches!(&op, Op::Write(w) if w.sync);
        (op, ok, synced)
    }
}

fn bootstrap() -> Write {
    raft_core::bootstrap_write(raft_core::Membership::with_voters([raft_core::NodeId(1)]))
}

/// Everything a log holds, to compare quickly.
fn read_all(s: &impl Storage) -> (raft_core::InitialState, Vec<raft_core::Entry>) {
    let state = s.initial_state().unwrap();
    let mut entries = Vec::new();
    if state.last.index > state.log_start.index {
        s.entries(
            state.log_start.index.next(),
            state.last.index.next(),
            u64::MAX,
            &mut entries,
        )
        .unwrap();
    }
    (state, entries)
}

/// The child: continue the stream from op `start`, printing `ACK n` once op `n` is done (and
/// synced, if it asked to be) with the same verdict as the model, `BAD n` otherwise.
fn child(dir: &str, seed: u64, start: u64, grouped: bool) {
    let log = RocksLog::open(dir).expect("child: open");
    let mut stream = Stream::resume(seed, start, &log);
    let mut out = std::io::stdout().lock();
    writeln!(out, "READY").unwrap();
    out.flush().unwrap();
    let group = grouped.then(|| GroupCommit::new(log.clone()).unwrap());
    let (tx, rx) = mpsc::channel::<(u64, bool)>();
    // The model's verdict on each op not yet reported.
    let mut verdicts = std::collections::VecDeque::new();
    let mut report = |verdicts: &mut std::collections::VecDeque<(u64, bool)>, n: u64, ok: bool| {
        let (m, want) = verdicts.pop_front().unwrap();
        assert_eq!(m, n, "completions out of order");
        if ok == want {
            writeln!(out, "ACK {n}").unwrap();
        } else {
            writeln!(out, "BAD {n}: the log said {ok}, the model {want}").unwrap();
        }
        out.flush().unwrap();
    };
    while stream.produced < start + OPS_PER_CHILD {
        let n = stream.produced;
        let (op, model_ok, _) = stream.next();
        verdicts.push_back((n, model_ok));
        match (op, &group) {
            (Op::Write(w), Some(g)) => {
                let tx = tx.clone();
                g.submit(w, move |r| {
                    let _ = tx.send((n, r.is_ok()));
                });
                while verdicts.len() >= 16 {
                    let (m, ok) = rx.recv().unwrap();
                    report(&mut verdicts, m, ok);
                }
            }
            (Op::Write(w), None) => report(&mut verdicts, n, log.write(&w).is_ok()),
            (Op::Compact(to), _) => {
                // Compaction is ordered after every write submitted before it.
                while verdicts.len() > 1 {
                    let (m, ok) = rx.recv().unwrap();
                    report(&mut verdicts, m, ok);
                }
                report(&mut verdicts, n, log.compact(to).is_ok());
            }
            (Op::Reopen, _) => unreachable!("the stream has no reopens"),
        }
    }
    while !verdicts.is_empty() {
        let (m, ok) = rx.recv().unwrap();
        report(&mut verdicts, m, ok);
    }
    // Done: wait to be killed.
    writeln!(out, "IDLE").unwrap();
    out.flush().unwrap();
    std::thread::sleep(Duration::from_secs(60));
    panic!("the child was not killed");
}

#[test]
fn crash_child() {
    // Runs only when re-invoked by `sigkill_at_random_moments_loses_nothing_acknowledged`.
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let var = |k| std::env::var(k).unwrap().parse::<u64>().unwrap();
    child(
        &dir,
        var(CHILD_SEED),
        var(CHILD_START),
        var(CHILD_MODE) == 1,
    );
}

/// When to kill a child.
#[derive(Clone, Copy, Debug)]
enum KillAt {
    /// This long after it starts: while it opens and recovers the log, or soon after.
    Startup(Duration),
    /// Right after this many acknowledgements have been read (and this much later), while it
    /// writes.
    AfterAcks(usize, Duration),
}

/// One child run: its acknowledged op numbers, in order.
fn run_child(
    dir: &std::path::Path,
    seed: u64,
    start: u64,
    grouped: bool,
    kill_at: KillAt,
) -> Vec<u64> {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir)
        .env(CHILD_SEED, seed.to_string())
        .env(CHILD_START, start.to_string())
        .env(CHILD_MODE, u8::from(grouped).to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (progress_tx, progress_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut acks = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("ACK ") {
                acks.push(n.parse::<u64>().unwrap());
                let _ = progress_tx.send(acks.len());
            } else if line == "IDLE" {
                let _ = progress_tx.send(usize::MAX);
            } else if line.starts_with("BAD ") {
                panic!("the child's log disagreed with the model: {line}");
            }
        }
        acks
    });
    match kill_at {
        KillAt::Startup(after) => std::thread::sleep(after),
        KillAt::AfterAcks(n, after) => {
            while let Ok(seen) = progress_rx.recv_timeout(Duration::from_secs(30)) {
                if seen >= n {
                    break;
                }
            }
            std::thread::sleep(after);
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child exited by itself: {status}");
    reader.join().expect("reading the child's output")
}

#[test]
fn sigkill_at_random_moments_loses_nothing_acknowledged() {
    let kills: u64 = std::env::var("RAFT_ROCKS_CRASH_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(50);
    let seed: u64 = std::env::var("RAFT_ROCKS_CRASH_SEED")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("crash test seed {seed} (RAFT_ROCKS_CRASH_SEED to replay), {kills} kills");
    let began = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    RocksLog::open(dir.path())
        .unwrap()
        .write(&bootstrap())
        .unwrap();
    let mut rng = SplitMix(seed ^ 0xC0FFEE);
    let stream_seed = rng.next();
    let mut done: u64 = 0; // ops known to be in the log
    let mut base = Stream::new(stream_seed); // the stream after `done` ops
    let mut total_acked = 0usize;
    for kill in 0..kills {
        let grouped = kill % 2 == 1;
        let kill_at = if rng.below(5) == 0 {
            KillAt::Startup(Duration::from_millis(rng.below(60)))
        } else {
            KillAt::AfterAcks(
                rng.below(OPS_PER_CHILD - 20) as usize,
                Duration::from_micros(rng.below(3000)),
            )
        };
        let acks = run_child(dir.path(), stream_seed, done, grouped, kill_at);
        total_acked += acks.len();
        assert!(
            acks.windows(2).all(|w| w[0] < w[1]),
            "acknowledgements out of order: {acks:?}"
        );
        let log = RocksLog::open(dir.path())
            .unwrap_or_else(|e| panic!("kill {kill}: reopen failed: {e}"));
        log.verify()
            .unwrap_or_else(|e| panic!("kill {kill}: verify failed: {e}"));
        let on_disk = read_all(&log);

        // Replay the stream: the log must be the model after some op count `k`, at least one past
        // the last acknowledged synced write.
        let mut stream = base.clone();
        let mut synced_ops = std::collections::HashSet::new();
        let horizon = acks.last().map_or(done, |&n| n + 1) + 64;
        let mut candidates = Vec::new();
        while stream.produced <= horizon {
            let n = stream.produced;
            if n >= done
                && stream.model.initial_state().unwrap() == on_disk.0
                && on_disk == read_all(&stream.model)
            {
                candidates.push(n);
            }
            let (_, ok, synced) = stream.next();
            if ok && synced {
                synced_ops.insert(n);
            }
        }
        let must_have = acks
            .iter()
            .filter(|n| synced_ops.contains(n))
            .map(|n| n + 1)
            .fold(done, u64::max);
        let Some(&k) = candidates.iter().rev().find(|&&k| k >= must_have) else {
            panic!(
                "kill {kill} (grouped {grouped}): the log matches no prefix of at least {must_have} \
                 ops (matches: {candidates:?}; last ack {:?}); state {:?}",
                acks.last(),
                log.state()
            );
        };
        // Every acknowledged synced entry is there, intact: the full comparison with the model.
        while base.produced < k {
            base.next();
        }
        compare(&log, &base.model).unwrap_or_else(|e| panic!("kill {kill}: {e}"));
        done = k;
        drop(log);
    }
    println!(
        "crash test: {kills} kills, {total_acked} acknowledged writes, {done} ops in the log, {:?}",
        began.elapsed()
    );
    assert!(total_acked > 0, "no write was ever acknowledged");
}
