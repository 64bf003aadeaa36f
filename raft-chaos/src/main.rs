//! `raft-chaos`: chaos runs against real `raft-kv` processes, checked for linearizability.
//!
//! ```text
//! raft-chaos --seed 7 --nodes 3 --duration 60s              one run
//! raft-chaos --seed 1 --runs 5 --nodes 3,5 --duration 3m    ten runs (seeds 1-5, 3 and 5 nodes)
//! raft-chaos --check history.txt                            check a saved history
//! ```
//!
//! Exits with 1 if any run found a violation or another problem, 2 if the harness could not run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use raft_chaos::checker::{self, Limits, Verdict};
use raft_chaos::history;
use raft_chaos::nemesis::{Fault, Pace};
use raft_chaos::run::{RunConfig, run};
use raft_chaos::summary::Totals;

#[derive(Parser)]
#[command(
    name = "raft-chaos",
    about = "Chaos runs against real raft-kv processes, checked for linearizability"
)]
struct Cli {
    /// The first seed (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
    /// How many seeds to run, from the first one up.
    #[arg(long, default_value_t = 1)]
    runs: u64,
    /// Cluster sizes, each run for every seed (e.g. `3,5`).
    #[arg(long, value_delimiter = ',', default_value = "3")]
    nodes: Vec<u64>,
    /// How long clients run under faults per run (`90s`, `5m`, `500ms`).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    duration: Duration,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    clients: u32,
    /// Keys (registers) the clients share.
    #[arg(long, default_value_t = 16)]
    keys: u64,
    /// The `raft-kv` binary (default: `raft-kv` beside this program).
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Where run directories go (default: the temporary directory's `raft-chaos/`).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep run directories of passing runs too (failing ones are always kept).
    #[arg(long)]
    keep: bool,
    /// How long a request may take before its outcome is unknown.
    #[arg(long, default_value = "4s", value_parser = parse_duration)]
    op_timeout: Duration,
    /// Mean pause between a client's requests, in milliseconds.
    #[arg(long, default_value_t = 10)]
    think_ms: u64,
    /// Raft tick of the nodes, in milliseconds (elections after 10 to 20 ticks).
    #[arg(long, default_value_t = 50)]
    tick_ms: u64,
    /// The quiet spell before each fault, in milliseconds (`lo-hi`).
    #[arg(long, default_value = "500-2500", value_parser = parse_range)]
    quiet_ms: (u64, u64),
    /// How long a kill, pause or partition holds, in milliseconds (`lo-hi`).
    #[arg(long, default_value = "700-5000", value_parser = parse_range)]
    hold_ms: (u64, u64),
    /// The kinds of fault to inject (default: all): kill, pause, partition, bridge, one-way,
    /// transfer, membership, snapshot.
    #[arg(long, value_delimiter = ',', value_parser = parse_fault)]
    faults: Vec<Fault>,
    /// Clients ask for stale local reads, which are not linearizable: the run must then find
    /// violations (a control of the harness itself).
    #[arg(long)]
    stale_reads: bool,
    /// The nodes' log filter.
    #[arg(long, default_value = "info")]
    node_log: String,
    /// The most search states per key before the checker gives up.
    #[arg(long, default_value_t = Limits::default().max_states)]
    max_states: u64,
    /// Only check a saved history (`history.txt` of a run directory) and exit.
    #[arg(long)]
    check: Option<PathBuf>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("bad duration unit in {s:?} (ms, s, m, h)")),
    }
}

fn parse_range(s: &str) -> Result<(u64, u64), String> {
    let bad = || format!("bad range {s:?} (expected lo-hi, e.g. 500-2500)");
    let (lo, hi) = s.split_once('-').ok_or_else(bad)?;
    let (lo, hi) = (
        lo.trim().parse().map_err(|_| bad())?,
        hi.trim().parse().map_err(|_| bad())?,
    );
    if lo > hi {
        return Err(bad());
    }
    Ok((lo, hi))
}

fn parse_fault(s: &str) -> Result<Fault, String> {
    Fault::from_name(s.trim()).ok_or_else(|| {
        let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
        format!("unknown fault {s:?} (one of {})", names.join(", "))
    })
}

fn default_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.join("raft-kv");
    p.is_file().then_some(p)
}

fn check_file(path: &PathBuf, limits: &Limits) -> ExitCode {
    let ops = match std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|t| history::from_text(&t))
    {
        Ok(ops) => ops,
        Err(e) => {
            eprintln!("raft-chaos: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let report = checker::check(&ops, limits);
    for k in &report.keys {
        match &k.verdict {
            Verdict::Linearizable => {}
            Verdict::Violation(why) => println!("{why}"),
            Verdict::GaveUp => println!("key {}: gave up after {} states", k.key, k.states),
        }
    }
    println!(
        "{} operations, {} keys, {} searched, {:.2}s: {}",
        ops.len(),
        report.keys.len(),
        report.searched(),
        report.elapsed.as_secs_f64(),
        if report.is_linearizable() {
            "linearizable"
        } else {
            "NOT linearizable (or not decided)"
        }
    );
    ExitCode::from(u8::from(!report.is_linearizable()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let limits = Limits {
        max_states: cli.max_states,
    };
    if let Some(path) = &cli.check {
        return check_file(path, &limits);
    }
    let Some(binary) = cli.binary.clone().or_else(default_binary) else {
        eprintln!(
            "raft-chaos: no raft-kv binary beside this program; build it (cargo build --release -p raft-kv) or pass --binary"
        );
        return ExitCode::from(2);
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("raft-chaos: {e}");
            return ExitCode::from(2);
        }
    };
    let first = cli.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    let mut totals = Totals::default();
    for seed in first..first + cli.runs {
        for &nodes in &cli.nodes {
            let mut cfg = RunConfig::new(seed, nodes, cli.duration, binary.clone());
            cfg.clients = cli.clients;
            cfg.workload.keys = cli.keys;
            cfg.workload.op_timeout = cli.op_timeout;
            cfg.workload.think = Duration::from_millis(cli.think_ms);
            cfg.tick_ms = cli.tick_ms;
            cfg.faults = cli.faults.clone();
            cfg.workload.stale_reads = cli.stale_reads;
            cfg.pace = Pace {
                quiet_ms: cli.quiet_ms,
                hold_ms: cli.hold_ms,
            };
            cfg.keep = cli.keep;
            cfg.log_filter = cli.node_log.clone();
            cfg.limits = limits;
            if let Some(d) = &cli.dir {
                cfg.base_dir = d.clone();
            }
            match rt.block_on(run(&cfg)) {
                Ok(summary) => {
                    println!("{summary}\n");
                    totals.add(&summary);
                }
                Err(e) => {
                    eprintln!("raft-chaos: seed {seed}, {nodes} nodes: the harness failed: {e}");
                    return ExitCode::from(2);
                }
            }
        }
    }
    if totals.runs > 1 {
        println!("{totals}");
    }
    ExitCode::from(u8::from(!totals.failed.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("5x").is_err());
    }

    #[test]
    fn ranges_parse() {
        assert_eq!(super::parse_range("500-2500"), Ok((500, 2500)));
        assert!(super::parse_range("9-1").is_err());
        assert!(super::parse_range("12").is_err());
    }
}
