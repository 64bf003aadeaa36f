//! Exactly-once writes. A tagged write (`RAFT.REQ <client> <seq> ...`) sent again, through any
//! node, before or after a leader change or a restart, returns the reply recorded when it was
//! applied and changes nothing. `raft_kv::client::Client` relies on that across leader kills: its
//! writes are tagged and retried across nodes until answered, and each applies exactly once. An
//! `APPEND` journal and an `INCRBY` counter show any write lost (a gap) or applied twice (a
//! repeat), in every reply and in the final state.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use raft_kv::client::{Client, ClientOptions};
use redis::cmd;

use crate::cluster::{Cluster, StopOnDrop, fast_raft, serial, wait_until};
use crate::failover::kill_leader;

/// Operations (one APPEND and one INCRBY each).
const OPS: u64 = 500;
const T: Duration = Duration::from_secs(30);

/// Runs `OPS` operations with a `Client` of every node, checking each reply. Returns the
/// journal it built.
fn run_client(
    endpoints: Vec<SocketAddr>,
    done: &AtomicU64,
    stop: &AtomicBool,
) -> Result<String, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let mut client = Client::connect(endpoints, ClientOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        let mut journal = String::new();
        for i in 1..=OPS {
            if stop.load(Ordering::Relaxed) {
                return Err("stopped".into());
            }
            let piece = format!("{i},");
            let len = client
                .append("journal", &piece)
                .await
                .map_err(|e| format!("APPEND #{i}: {e}"))?;
            journal += &piece;
            if usize::try_from(len).ok() != Some(journal.len()) {
                return Err(format!(
                    "APPEND #{i} answered length {len}, not {}",
                    journal.len()
                ));
            }
            let n = client
                .incr_by("counter", 1)
                .await
                .map_err(|e| format!("INCRBY #{i}: {e}"))?;
            if n != i64::try_from(i).expect("small") {
                return Err(format!("INCRBY #{i} answered {n}"));
            }
            done.store(i, Ordering::Relaxed);
        }
        Ok(journal)
    })
}

#[test]
fn client_writes_apply_exactly_once_across_leader_kills() {
    let _serial = serial();
    let mut cluster = Cluster::start(3, fast_raft());
    let ids = cluster.ids();
    let endpoints: Vec<SocketAddr> = ids.iter().map(|&id| cluster.addr(id)).collect();
    let (done, stop) = (AtomicU64::new(0), AtomicBool::new(false));

    let journal = thread::scope(|s| {
        let (done, stop_ref) = (&done, &stop);
        let client = s.spawn(move || run_client(endpoints, done, stop_ref));
        let _stop = StopOnDrop(&stop);
        let progress = |at_least: u64| {
            wait_until(&format!("{at_least} client operations"), T, || {
                (done.load(Ordering::Relaxed) >= at_least || client.is_finished()).then_some(())
            });
        };
        // Two rounds: kill the leader while the client writes, let it write on, restart the
        // killed node and let it catch up.
        for round in 0..2 {
            progress(OPS / 5 * (2 * round + 1));
            let (killed, _, _) = kill_leader(&mut cluster, &ids);
            progress(OPS / 5 * (2 * round + 2));
            cluster.restart(killed);
            cluster.wait_caught_up(&ids, T);
        }
        client.join().expect("the client thread panicked")
    })
    .unwrap_or_else(|e| panic!("client: {e}"));

    let want_counter = OPS.to_string();
    for &id in &ids {
        let mut conn = cluster.conn(id);
        let got: (String, String) = conn
            .query_retrying(redis::cmd("MGET").arg("journal").arg("counter"), T)
            .expect("MGET");
        assert_eq!(got.0, journal, "the journal read through node {id}");
        assert_eq!(got.1, want_counter, "the counter read through node {id}");
    }
    cluster.wait_caught_up(&ids, T);
    for &id in &ids {
        let mut local = cluster.stale_conn(id);
        let got: (String, String) = local
            .query(redis::cmd("MGET").arg("journal").arg("counter"))
            .expect("MGET");
        assert_eq!(
            got,
            (journal.clone(), want_counter.clone()),
            "node {id}'s local data"
        );
    }
}

/// `RAFT.REQ client seq args...`.
fn tagged(client: u64, seq: u64, args: &[&str]) -> redis::Cmd {
    let mut c = cmd("RAFT.REQ");
    c.arg(client).arg(seq).arg(args);
    c
}

/// Sends `c` (retried as is on transient errors: a repeat of a tagged write is harmless) through
/// node `via`.
fn send<V: redis::FromRedisValue>(cluster: &Cluster, via: u64, c: &redis::Cmd) -> V {
    cluster
        .conn(via)
        .query_retrying(c, T)
        .unwrap_or_else(|e| panic!("through node {via}: {e}"))
}

/// What node `via` reads for `journal` and `counter`.
fn state(cluster: &Cluster, via: u64) -> (Option<String>, Option<String>) {
    send(cluster, via, cmd("MGET").arg("journal").arg("counter"))
}

#[test]
fn a_retried_tagged_write_is_applied_once() {
    let _serial = serial();
    let mut cluster = Cluster::start(3, fast_raft());
    let ids = cluster.ids();
    let leader = cluster.wait_for_leader(&ids, T);
    let client = rand::random::<u64>() >> 1;
    let incr = tagged(client, 1, &["INCRBY", "counter", "5"]);
    let append = tagged(client, 2, &["APPEND", "journal", "a,"]);
    let want = |j: &str, c: &str| (Some(j.to_owned()), Some(c.to_owned()));

    // Each write sent through every node in turn (followers forward it, tag and all): the first
    // applies it, the others get its recorded reply.
    for &via in &ids {
        let n: i64 = send(&cluster, via, &incr);
        assert_eq!(n, 5, "INCRBY (seq 1) through node {via}");
    }
    for &via in &ids {
        let n: i64 = send(&cluster, via, &append);
        assert_eq!(n, 2, "APPEND (seq 2) through node {via}");
    }
    for &via in &ids {
        assert_eq!(state(&cluster, via), want("a,", "5"), "through node {via}");
    }
    // A request older than the last one applied is refused, and changes nothing.
    let stale = cluster
        .conn(leader)
        .query_retrying::<i64>(&incr, T)
        .expect_err("a stale request");
    assert!(stale.to_string().contains("stale request"), "{stale}");

    // The sessions are replicated: after the leader that applied both dies, a retry of the
    // last write through a survivor returns its reply again.
    let (killed, new_leader, _) = kill_leader(&mut cluster, &ids);
    let survivors: Vec<u64> = ids.iter().copied().filter(|&id| id != killed).collect();
    for &via in &survivors {
        let n: i64 = send(&cluster, via, &append);
        assert_eq!(
            n, 2,
            "APPEND (seq 2) again through node {via}, after a leader change"
        );
        assert_eq!(state(&cluster, via), want("a,", "5"), "through node {via}");
    }
    let next = tagged(client, 3, &["APPEND", "journal", "b,"]);
    let n: i64 = send(&cluster, new_leader, &next);
    assert_eq!(n, 4, "APPEND (seq 3)");

    // And durable: the killed node restarts, catches up, and gives the recorded reply too; so
    // does every node after all restart.
    cluster.restart(killed);
    cluster.wait_caught_up(&ids, T);
    let n: i64 = send(&cluster, killed, &next);
    assert_eq!(
        n, 4,
        "APPEND (seq 3) again through the restarted node {killed}"
    );
    for &id in &ids {
        cluster.kill(id);
    }
    for &id in &ids {
        cluster.restart(id);
    }
    cluster.wait_for_leader(&ids, T);
    for &via in &ids {
        let n: i64 = send(&cluster, via, &next);
        assert_eq!(
            n, 4,
            "APPEND (seq 3) again through node {via}, after a restart of all"
        );
        assert_eq!(
            state(&cluster, via),
            want("a,b,", "5"),
            "through node {via}"
        );
    }
}
