//! Runs the deterministic simulator over many seeds, or replays one with its trace.
//!
//! ```text
//! raft-sim [--seeds N] [--start S] [--threads T]      run seeds S..S+N, print a summary
//! raft-sim --seed X [--trace]                         replay one seed
//! ```
//! Exits with status 1 if any seed finds a violation; each failing seed is printed with the
//! command that replays it.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use raft_core::sim::{FaultCounts, SimConfig, SimReport, run};

struct Args {
    seeds: u64,
    start: u64,
    one: Option<u64>,
    trace: bool,
    threads: usize,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        seeds: 1000,
        start: 0,
        one: None,
        trace: false,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--seeds" => a.seeds = num("--seeds")?,
            "--start" => a.start = num("--start")?,
            "--seed" => a.one = Some(num("--seed")?),
            "--threads" => a.threads = num("--threads")?.max(1) as usize,
            "--trace" => a.trace = true,
            "-h" | "--help" => {
                return Err(
                    "usage: raft-sim [--seeds N] [--start S] [--threads T] | --seed X [--trace]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(seed) = args.one {
        let mut cfg = SimConfig::from_seed(seed);
        cfg.trace = args.trace;
        println!("{cfg:#?}");
        let r = run(&cfg);
        for line in &r.trace {
            println!("{line}");
        }
        print_one(&r);
        return if r.violations.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(args.start));
    let end = args.start + args.seeds;
    let totals = Arc::new(Mutex::new((Totals::default(), Vec::<SimReport>::new())));
    let workers: Vec<_> = (0..args.threads)
        .map(|_| {
            let next = Arc::clone(&next);
            let totals = Arc::clone(&totals);
            std::thread::spawn(move || {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= end {
                        break;
                    }
                    let r = run(&SimConfig::from_seed(seed));
                    let mut t = totals.lock().unwrap_or_else(|e| e.into_inner());
                    t.0.add(&r);
                    if !r.violations.is_empty() {
                        t.1.push(r);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    let (t, failures) = std::mem::take(&mut *totals.lock().unwrap_or_else(|e| e.into_inner()));
    let secs = started.elapsed().as_secs_f64();
    println!(
        "seeds {}  ticks {}  messages {} (dropped {}, duplicated {})  proposals {} (acknowledged {})  \
         reads {} ok / {} failed",
        t.seeds,
        t.ticks,
        t.messages,
        t.dropped,
        t.duplicated,
        t.proposals,
        t.acked,
        t.reads_ok,
        t.reads_failed
    );
    let f = t.faults;
    println!(
        "faults: crashes {}  partitions {}  one-way {}  snapshots {}  compactions {}  membership changes {}  \
         transfers {}",
        f.crashes,
        f.partitions,
        f.one_way_partitions,
        f.snapshots,
        f.compactions,
        f.membership_changes,
        f.transfers
    );
    println!("violations: {} seeds  ({secs:.1} s)", failures.len());
    let mut failures = failures;
    failures.sort_by_key(|r| r.seed);
    for r in &failures {
        println!("seed {}: {}", r.seed, r.violations.join("; "));
        println!(
            "  replay: cargo run --release -p raft-core --features sim --bin raft-sim -- --seed {} --trace",
            r.seed
        );
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn print_one(r: &SimReport) {
    println!(
        "seed {}: ticks {} messages {} proposals {} acknowledged {} committed {} reads {}/{} faults {:?}",
        r.seed,
        r.ticks,
        r.messages,
        r.proposals,
        r.acknowledged,
        r.committed,
        r.reads_ok,
        r.reads_failed,
        r.faults
    );
    if r.violations.is_empty() {
        println!("no violations");
    } else {
        for v in &r.violations {
            println!("VIOLATION {v}");
        }
    }
}

#[derive(Default)]
struct Totals {
    seeds: u64,
    ticks: u64,
    messages: u64,
    dropped: u64,
    duplicated: u64,
    proposals: u64,
    acked: u64,
    reads_ok: u64,
    reads_failed: u64,
    faults: FaultCounts,
}

impl Totals {
    fn add(&mut self, r: &SimReport) {
        self.seeds += 1;
        self.ticks += r.ticks;
        self.messages += r.messages;
        self.dropped += r.messages_dropped;
        self.duplicated += r.messages_duplicated;
        self.proposals += r.proposals;
        self.acked += r.acknowledged;
        self.reads_ok += r.reads_ok;
        self.reads_failed += r.reads_failed;
        self.faults.add(&r.faults);
    }
}
