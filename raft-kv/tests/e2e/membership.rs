//! Membership changes on a live cluster: a fourth node is started with `join = true`, added with
//! `RAFT.ADDLEARNER` (sent to a follower, which forwards it), catches up (through the log, or
//! through a snapshot when the leader's log was compacted), is promoted to voter and given the
//! leadership with `RAFT.TRANSFER`; then a follower and finally the leader are removed with
//! `RAFT.REMOVE`, and the cluster takes writes after each change.

use std::time::Duration;

use raft_kv::config::RaftSettings;
use redis::cmd;

use crate::cluster::{Cluster, fast_raft, serial, wait_until};
use crate::kv::{assert_readable, set_keys};

const T: Duration = Duration::from_secs(20);

/// Waits until every node of `ids` reports `voters` and `learners`.
fn wait_membership(cluster: &Cluster, ids: &[u64], voters: &[u64], learners: &[u64]) {
    for &id in ids {
        wait_until(
            &format!("node {id} to report voters {voters:?} and learners {learners:?}"),
            T,
            || {
                let info = cluster.info(id)?;
                (info.voters() == voters && info.learners() == learners).then_some(())
            },
        );
    }
}

/// Sends an administrative command through node `via`; it must answer OK.
fn admin(cluster: &Cluster, via: u64, args: &[String]) {
    let mut c = cmd(&args[0]);
    c.arg(&args[1..]);
    let ok: String = cluster
        .conn(via)
        .query_retrying(&c, T)
        .unwrap_or_else(|e| panic!("{args:?} through node {via}: {e}"));
    assert_eq!(ok, "OK", "{args:?} through node {via}");
}

/// Sends `RAFT.TRANSFER to` through node `via` until every node of `all` names `to` as the
/// leader. A transfer that did not complete in time (on a starved machine) or met another
/// leadership change is asked again; any other error fails.
fn transfer(cluster: &Cluster, via: u64, to: u64, all: &[u64]) {
    let mut conn = cluster.conn(via);
    let mut answered = false;
    wait_until(&format!("node {to} to lead, for every node"), T, || {
        if cluster.agreed_leader(all) == Some(to) {
            return Some(());
        }
        // Not again once answered, nor once `to` leads (the others may not know yet).
        let leads = cluster.info(to).is_some_and(|i| i.role() == "leader");
        if !answered && !leads {
            match conn.query_retrying::<String>(cmd("RAFT.TRANSFER").arg(to), T) {
                Ok(ok) => {
                    assert_eq!(ok, "OK", "RAFT.TRANSFER {to} through node {via}");
                    answered = true;
                }
                Err(e)
                    if ["did not complete", "not the leader"]
                        .iter()
                        .any(|m| e.to_string().contains(m)) => {}
                Err(e) => panic!("RAFT.TRANSFER {to} through node {via}: {e}"),
            }
        }
        None
    });
}

/// Checks that every node of `ids` reads back all of `acked`: linearizably, and from its local
/// data once it has applied everything.
fn assert_everywhere(cluster: &Cluster, ids: &[u64], acked: &[(String, String)]) {
    for &id in ids {
        assert_readable(&mut cluster.conn(id), acked, &format!("node {id}"));
    }
    cluster.wait_caught_up(ids, T);
    for &id in ids {
        let mut local = cluster.stale_conn(id);
        assert_readable(&mut local, acked, &format!("node {id}'s local data"));
    }
}

/// The whole scenario; `through_snapshot` says whether node 4 must catch up by a snapshot.
fn grow_and_shrink(raft: RaftSettings, through_snapshot: bool) {
    let mut cluster = Cluster::start(3, raft);
    let first = cluster.ids();
    let leader = cluster.wait_for_leader(&first, T);
    let follower = *first.iter().find(|&&id| id != leader).expect("a follower");
    let mut acked = set_keys(&mut cluster.conn(follower), "before-", 0..300);

    if through_snapshot {
        // Snapshots are taken in the background: the first ones are long done.
        wait_until("the leader's log to be compacted", T, || {
            let info = cluster.info(leader)?;
            (info.opt("raft_snapshots_taken")? > 0 && info.opt("raft_log_start")? > 1).then_some(())
        });
    }

    // A fourth node joins as a learner and catches up.
    cluster.add_node(4);
    let (peer, client) = (cluster.peer_addr(4), cluster.addr(4));
    admin(
        &cluster,
        follower,
        &[
            "RAFT.ADDLEARNER",
            "4",
            &peer.to_string(),
            &client.to_string(),
        ]
        .map(String::from),
    );
    wait_membership(&cluster, &[1, 2, 3, 4], &first, &[4]);
    cluster.wait_caught_up(&[1, 2, 3, 4], T);
    let info = cluster.info(4).expect("INFO raft on node 4");
    if through_snapshot {
        assert!(
            info.num("raft_snapshots_received") > 0,
            "node 4 should have caught up through a snapshot: {info:?}"
        );
    }
    assert_everywhere(&cluster, &[4], &acked);

    // Promoted, it votes; writes through it are read everywhere.
    admin(&cluster, 4, &["RAFT.PROMOTE".into(), "4".into()]);
    let all = [1, 2, 3, 4];
    wait_membership(&cluster, &all, &all, &[]);
    acked.extend(set_keys(&mut cluster.conn(4), "promoted-", 0..100));
    assert_everywhere(&cluster, &all, &acked);

    // Leadership handed to node 4 (the request forwarded by a follower to the leader).
    let leader = cluster.wait_for_leader(&all, T);
    let via = *first.iter().find(|&&id| id != leader).expect("a follower");
    transfer(&cluster, via, 4, &all);
    acked.extend(set_keys(&mut cluster.conn(via), "transferred-", 0..20));

    // A follower (not node 4) is removed: the other three go on.
    let leader = cluster.wait_for_leader(&all, T);
    let victim = *first
        .iter()
        .find(|&&id| id != leader)
        .expect("a follower among the first nodes");
    admin(
        &cluster,
        victim,
        &["RAFT.REMOVE".into(), victim.to_string()],
    );
    let rest: Vec<u64> = all.iter().copied().filter(|&id| id != victim).collect();
    wait_membership(&cluster, &rest, &rest, &[]);
    for &id in &rest {
        acked.extend(set_keys(
            &mut cluster.conn(id),
            &format!("after-remove-via-{id}-"),
            0..20,
        ));
    }
    assert_everywhere(&cluster, &rest, &acked);

    // The leader removes itself: the other two elect a leader and take writes.
    let leader = cluster.wait_for_leader(&rest, T);
    admin(
        &cluster,
        leader,
        &["RAFT.REMOVE".into(), leader.to_string()],
    );
    let last: Vec<u64> = rest.iter().copied().filter(|&id| id != leader).collect();
    wait_membership(&cluster, &last, &last, &[]);
    cluster.wait_for_leader(&last, T);
    for &id in &last {
        acked.extend(set_keys(
            &mut cluster.conn(id),
            &format!("last-via-{id}-"),
            0..20,
        ));
    }
    assert_everywhere(&cluster, &last, &acked);
}

#[test]
fn a_learner_catches_up_through_the_log_then_members_change() {
    let _serial = serial();
    grow_and_shrink(fast_raft(), false);
}

#[test]
fn a_learner_catches_up_through_a_snapshot_then_members_change() {
    let _serial = serial();
    let raft = RaftSettings {
        snapshot_every: 50,
        compaction_keep: 10,
        ..fast_raft()
    };
    grow_and_shrink(raft, true);
}
