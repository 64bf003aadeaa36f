//! Proposals per second and latency of an in-process three-node cluster: in-memory log stores,
//! an in-memory network (channels), a state machine that does nothing; `C` closed-loop clients
//! proposing empty commands to the leader. The setup of openraft's `benchmarks/minimal`, for a
//! side-by-side run (see `benches/README.md`).
//!
//! ```text
//! cargo bench -p raft-tokio --bench cluster -- [--clients 1,64,256] [--ops 200000] [--workers 2]
//! ```

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use raft_core::{Config, Entries, Index, LogId, MemStorage, Membership, NodeId, Role};
use raft_tokio::{
    MemLogStore, MemNetwork, MemSnapshotStore, Node, NodeConfig, SnapshotReader, SnapshotSource,
    SnapshotWriter, StateMachine,
};

/// A state machine with no state.
struct Nothing {
    applied: Index,
    /// Applied on the driver task (true) or on the apply thread.
    inline: bool,
}

struct Empty(Index);

impl SnapshotSource for Empty {
    fn index(&self) -> Index {
        self.0
    }
    fn write_to(self: Box<Self>, _: &mut dyn SnapshotWriter) -> io::Result<()> {
        Ok(())
    }
}

impl StateMachine for Nothing {
    type Output = ();
    fn applied_index(&self) -> Index {
        self.applied
    }
    fn apply(&mut self, entries: &Entries) -> io::Result<Vec<()>> {
        let mut out = Vec::new();
        for e in entries.iter() {
            if matches!(e.payload, raft_core::EntryPayload::Command(_)) {
                out.push(());
            }
            self.applied = e.index;
        }
        Ok(out)
    }
    fn snapshot(&mut self) -> io::Result<Box<dyn SnapshotSource>> {
        Ok(Box::new(Empty(self.applied)))
    }
    fn runs_inline(&self) -> bool {
        self.inline
    }
    fn restore(&mut self, last: LogId, _: &mut dyn SnapshotReader) -> io::Result<()> {
        self.applied = last.index;
        Ok(())
    }
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

async fn run(clients: usize, ops: usize, threaded: bool) -> (f64, Duration, Duration) {
    let net = MemNetwork::new();
    let ids = [NodeId(1), NodeId(2), NodeId(3)];
    let mut nodes = Vec::new();
    for id in ids {
        let mut raft = Config::new(id);
        raft.election_ticks = 10;
        raft.heartbeat_ticks = 1;
        raft.max_uncommitted_bytes = 1 << 30;
        let mut cfg = NodeConfig::new(raft);
        cfg.tick = Duration::from_millis(50);
        cfg.snapshot_every = 0;
        cfg.seed = Some(id.0);
        let (t, inbound) = net.join(id);
        let mut store = MemLogStore::new(MemStorage::new(Membership::with_voters(ids)));
        if threaded {
            store = store.on_thread();
        }
        let sm = Nothing {
            applied: Index(0),
            inline: !threaded,
        };
        let node = Node::start(
            cfg,
            sm,
            store,
            Arc::new(MemSnapshotStore::new()),
            t,
            inbound,
        )
        .expect("starts");
        nodes.push(node);
    }
    nodes[0].campaign().expect("running");
    let leader = loop {
        if let Some(n) = nodes
            .iter()
            .find(|n| n.watch_state().borrow().role == Role::Leader)
        {
            break n.clone();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let per_client = ops / clients;
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let leader = leader.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per_client);
                for _ in 0..per_client {
                    let t = Instant::now();
                    leader.propose(Bytes::new()).await.expect("committed");
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::with_capacity(ops);
    for t in tasks {
        all.extend(t.await.expect("client"));
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let p50 = all[all.len() / 2];
    let p99 = all[all.len() * 99 / 100];
    for n in &nodes {
        n.shutdown().await;
    }
    ((per_client * clients) as f64 / secs, p50, p99)
}

fn main() {
    let clients: Vec<usize> = arg("--clients")
        .unwrap_or_else(|| "1,64,256".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let ops: usize = arg("--ops").and_then(|o| o.parse().ok()).unwrap_or(200_000);
    let workers: usize = arg("--workers").and_then(|o| o.parse().ok()).unwrap_or(2);
    let threaded = std::env::args().any(|a| a == "--threads");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime");
    let mode = if threaded {
        "writes and applies on their threads"
    } else {
        "writes and applies on the driver task"
    };
    println!(
        "raft-tokio, 3 nodes in one process, in-memory stores and network, {workers} runtime workers, {mode}"
    );
    println!(
        "{:>8} {:>10} {:>12} {:>10} {:>10}",
        "clients", "ops", "proposals/s", "p50", "p99"
    );
    for c in clients {
        let n = if c == 1 { ops.min(20_000) } else { ops };
        let (rate, p50, p99) = rt.block_on(run(c, n, threaded));
        println!(
            "{c:>8} {n:>10} {rate:>12.0} {:>8.1}us {:>8.1}us",
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        );
    }
}
