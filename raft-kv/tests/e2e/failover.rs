//! kill -9 of the leader under a steady stream of writes through every node: the survivors
//! elect a new leader within the bound, writes go on, the killed node restarts and catches up,
//! and no write that was acknowledged (by any node) is lost; then every node at once is killed
//! and restarted: each resumes from its data without replaying the log, and nothing
//! acknowledged is lost.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, sleep};
use std::time::{Duration, Instant};

use crate::cluster::{
    Cluster, MAX_ELECTION_TIMEOUT_MS, StopOnDrop, fast_raft, poll, serial, wait_until,
};
use crate::kv::{Conn, assert_readable, is_transient};

/// How long the survivors may take, from the kill, to agree on a new leader: two of the longest
/// election timeouts (2 × 400 ms: a first election may split) plus 1.2 s for a loaded 2-core CI
/// machine (process scheduling, and polling `INFO` on both survivors). On an idle machine it
/// takes about 0.3–0.5 s.
pub const ELECTION_BOUND: Duration = Duration::from_millis(2 * MAX_ELECTION_TIMEOUT_MS + 1200);

const T: Duration = Duration::from_secs(20);

/// Kills the current leader of `among` and measures how long the others take to agree on a new
/// one (polled every 5 ms). Returns the killed node, the new leader and the time.
pub fn kill_leader(cluster: &mut Cluster, among: &[u64]) -> (u64, u64, Duration) {
    let old = cluster.wait_for_leader(among, T);
    let survivors: Vec<u64> = among.iter().copied().filter(|&id| id != old).collect();
    let start = Instant::now();
    cluster.kill(old);
    let new = poll(
        &format!("a new leader among {survivors:?} after killing node {old}"),
        T,
        Duration::from_millis(5),
        || cluster.agreed_leader(&survivors),
    );
    let took = start.elapsed();
    eprintln!("e2e: killed leader {old}; node {new} leads after {took:?}");
    assert!(
        took < ELECTION_BOUND,
        "a new leader took {took:?} after the leader was killed (bound {ELECTION_BOUND:?})"
    );
    (old, new, took)
}

/// What a writer did.
#[derive(Default)]
struct Report {
    /// Every write that was acknowledged with OK: (key, value).
    acked: Vec<(String, String)>,
    /// Replies that were neither OK nor a transient error.
    unexpected: Vec<String>,
}

/// Writes `SET n<node>-<i> <value>` through node `node` until `stop`, each key once: a write that
/// fails is not retried (its outcome stays unknown) and the next one takes a new key.
fn write_through(node: u64, mut conn: Conn, stop: &AtomicBool, acks: &AtomicU64) -> Report {
    let mut report = Report::default();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let (key, value) = (format!("n{node}-{i}"), format!("v{i}-via-{node}"));
        match conn.query::<String>(redis::cmd("SET").arg(&key).arg(&value)) {
            Ok(ok) if ok == "OK" => {
                report.acked.push((key, value));
                acks.fetch_add(1, Ordering::Relaxed);
            }
            Ok(other) => report.unexpected.push(format!("SET {key}: {other}")),
            Err(e) if is_transient(&e) => sleep(Duration::from_millis(20)),
            Err(e) => report.unexpected.push(format!("SET {key}: {e}")),
        }
    }
    report
}

/// Waits until `acks` passes `at_least`.
fn wait_acks(what: &str, acks: &AtomicU64, at_least: u64) {
    wait_until(what, T, || {
        (acks.load(Ordering::Relaxed) >= at_least).then_some(())
    });
}

#[test]
fn leader_killed_under_writes_then_restarted() {
    let _serial = serial();
    let mut cluster = Cluster::start(3, fast_raft());
    let ids = cluster.ids();
    let conns: Vec<Conn> = ids.iter().map(|&id| cluster.conn(id)).collect();
    let stop = AtomicBool::new(false);
    let acks: Vec<AtomicU64> = ids.iter().map(|_| AtomicU64::new(0)).collect();

    let reports: Vec<Report> = thread::scope(|s| {
        let stop_ref = &stop;
        let writers: Vec<_> = ids
            .iter()
            .zip(conns)
            .zip(&acks)
            .map(|((&id, conn), acks)| s.spawn(move || write_through(id, conn, stop_ref, acks)))
            .collect();
        let _stop = StopOnDrop(&stop);
        for (id, a) in ids.iter().zip(&acks) {
            wait_acks(&format!("writes through node {id}"), a, 50);
        }

        let (killed, _new, _took) = kill_leader(&mut cluster, &ids);
        let k = usize::try_from(killed - 1).expect("ids are 1..=3");
        // The survivors' writers go on.
        for (i, (id, a)) in ids.iter().zip(&acks).enumerate() {
            if i != k {
                let now = a.load(Ordering::Relaxed);
                wait_acks(
                    &format!("writes through node {id} after the kill"),
                    a,
                    now + 100,
                );
            }
        }

        // The killed node comes back, catches up, and takes writes again.
        cluster.restart(killed);
        cluster.wait_caught_up(&ids, T);
        let now = acks[k].load(Ordering::Relaxed);
        wait_acks(
            &format!("writes through the restarted node {killed}"),
            &acks[k],
            now + 50,
        );
        stop.store(true, Ordering::Relaxed);
        writers
            .into_iter()
            .map(|w| w.join().expect("a writer panicked"))
            .collect()
    });

    for (id, r) in ids.iter().zip(&reports) {
        assert!(r.unexpected.is_empty(), "node {id}: {:?}", r.unexpected);
    }
    let acked: Vec<(String, String)> = reports.into_iter().flat_map(|r| r.acked).collect();
    eprintln!("e2e: {} acknowledged writes", acked.len());

    // Every acknowledged write, read linearizably through every node...
    for &id in &ids {
        assert_readable(&mut cluster.conn(id), &acked, &format!("node {id}"));
    }
    // ...and locally on every node once all have applied everything.
    cluster.wait_caught_up(&ids, T);
    for &id in &ids {
        let mut local = cluster.stale_conn(id);
        assert_readable(&mut local, &acked, &format!("node {id}'s local data"));
    }

    // Every node is killed at once, then restarted.
    let mut applied = Vec::new();
    for &id in &ids {
        let info = cluster.info(id).expect("INFO raft");
        applied.push(info.num("raft_applied_index"));
    }
    for &id in &ids {
        cluster.kill(id);
    }
    for &id in &ids {
        cluster.restart(id);
    }
    // The applied index is stored with the data it covers: each node resumes where it was, and
    // applies only what comes after (the new leader's first entry, and little else).
    cluster.wait_for_leader(&ids, T);
    for (&id, &before) in ids.iter().zip(&applied) {
        let info = cluster.info(id).expect("INFO raft");
        let (now, replayed) = (
            info.num("raft_applied_index"),
            info.num("raft_entries_applied"),
        );
        eprintln!("e2e: node {id} applied {before} before the crash; since: {replayed} entries");
        assert!(now >= before, "node {id} applied {before}, then {now}");
        assert!(
            replayed < 10 && replayed < before / 10,
            "node {id} applied {replayed} entries after its restart: history was replayed"
        );
    }
    for &id in &ids {
        assert_readable(
            &mut cluster.conn(id),
            &acked,
            &format!("node {id} after every node restarted"),
        );
    }
}
