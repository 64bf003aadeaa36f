//! An in-process three-node cluster over the in-memory transport and stores: elections,
//! replication, crashes and restarts, partitions, leadership transfer, learners, snapshots, and
//! every proposal future resolving exactly once with the right result.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::Cluster;
use raft_core::{Index, NodeId, Role};
use raft_tokio::{ProposeError, ReadError};

fn cmd(i: u64) -> Bytes {
    Bytes::from(format!("command-{i}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elects_and_replicates() {
    let c = Cluster::new(3);
    let l = c.leader().await;
    let leader = &c.nodes[&l];
    let mut last = Index(0);
    for i in 0..200 {
        let (index, echoed) = leader.propose(cmd(i)).await.expect("applied");
        assert_eq!(echoed, cmd(i), "the output is the command's own");
        assert!(index > last, "indexes increase");
        last = index;
    }
    c.converge(last).await;
    let (_, reference) = c.applied(1);
    assert_eq!(reference.len(), 200);
    for id in [2, 3] {
        assert_eq!(
            c.applied(id).1,
            reference,
            "node {id} applied the same commands"
        );
    }
    // A linearizable read on a follower sees everything acknowledged.
    let follower = c.nodes.keys().copied().find(|id| *id != l).unwrap();
    c.nodes[&follower]
        .read_index()
        .await
        .expect("read confirmed");
    assert!(c.applied(follower).0 >= last);
    let status = c.nodes[&l].status().await.unwrap();
    assert_eq!(status.raft.role, Role::Leader);
    assert_eq!(status.raft.peers.len(), 2);
    assert!(status.metrics.write_batches > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_on_a_follower_are_refused_with_the_leader() {
    let c = Cluster::new(3);
    let l = c.leader().await;
    let f = c.nodes.keys().copied().find(|id| *id != l).unwrap();
    match c.nodes[&f].propose(cmd(0)).await {
        Err(ProposeError::NotLeader { leader }) => assert_eq!(leader, Some(NodeId(l))),
        other => panic!("expected NotLeader, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_follower_restarts_from_its_disk_and_catches_up() {
    let mut c = Cluster::new(3);
    let l = c.leader().await;
    let f = c.nodes.keys().copied().find(|id| *id != l).unwrap();
    for i in 0..50 {
        c.nodes[&l].propose(cmd(i)).await.unwrap();
    }
    c.stop(f).await;
    let mut last = Index(0);
    for i in 50..100 {
        last = c.nodes[&l].propose(cmd(i)).await.unwrap().0;
    }
    c.start(f);
    c.converge(last).await;
    assert_eq!(c.applied(f).1, c.applied(l).1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_leader_is_replaced_and_its_pending_proposals_resolve() {
    let c = Cluster::new(3);
    let old = c.leader().await;
    c.nodes[&old].propose(cmd(0)).await.unwrap();
    c.net.isolate(NodeId(old));
    // Proposals on the cut-off leader cannot commit: they resolve once it steps down.
    let stuck = {
        let n = c.nodes[&old].clone();
        tokio::spawn(async move { n.propose(cmd(1)).await })
    };
    let others: Vec<u64> = c.nodes.keys().copied().filter(|id| *id != old).collect();
    let mut new = None;
    for _ in 0..300 {
        if let Some(id) = others
            .iter()
            .find(|id| c.nodes[id].watch_state().borrow().role == Role::Leader)
        {
            new = Some(*id);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let new = new.expect("the majority side elects a leader");
    let (last, _) = c.nodes[&new].propose(cmd(2)).await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(5), stuck)
        .await
        .expect("resolves")
        .unwrap();
    assert!(
        matches!(
            r,
            Err(ProposeError::LeadershipLost) | Err(ProposeError::Dropped)
        ),
        "got {r:?}"
    );
    c.net.heal();
    let l = c.leader().await;
    assert_ne!(l, old);
    c.converge(last).await;
    assert_eq!(c.applied(old).1, c.applied(new).1);
    assert!(
        !c.applied(new).1.contains(&cmd(1)),
        "the cut-off leader's proposal was not committed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leadership_transfer() {
    let c = Cluster::new(3);
    let l = c.leader().await;
    let to = c.nodes.keys().copied().find(|id| *id != l).unwrap();
    c.nodes[&l].propose(cmd(0)).await.unwrap();
    c.nodes[&l]
        .transfer_leadership(NodeId(to))
        .await
        .expect("transferred");
    assert_eq!(c.leader().await, to);
    c.nodes[&to]
        .propose(cmd(1))
        .await
        .expect("the new leader accepts proposals");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_joins_catches_up_through_a_snapshot_and_is_promoted() {
    let mut c = Cluster::with(3, 40);
    let l = c.leader().await;
    for i in 0..200 {
        c.nodes[&l].propose(cmd(i)).await.unwrap();
    }
    // By now the log was snapshotted and compacted: a new node needs the snapshot.
    let status = c.nodes[&l].status().await.unwrap();
    assert!(
        status.raft.log_start.index > Index(1),
        "the log was compacted: {status:?}"
    );
    c.add_empty(4);
    let m = c.nodes[&l]
        .add_learner(NodeId(4))
        .await
        .expect("learner added");
    assert!(m.is_learner(NodeId(4)));
    let (last, _) = c.nodes[&l].propose(cmd(1000)).await.unwrap();
    c.converge(last).await;
    assert_eq!(c.applied(4).1, c.applied(l).1);
    assert!(c.nodes[&4].metrics().snapshots_received >= 1);
    let m = c.nodes[&l].promote(NodeId(4)).await.expect("promoted");
    assert!(m.is_voter(NodeId(4)));
    let m = c.nodes[&l].remove(NodeId(4)).await.expect("removed");
    assert!(!m.contains(NodeId(4)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_node_catches_up_through_a_snapshot() {
    let mut c = Cluster::with(3, 30);
    let l = c.leader().await;
    let f = c.nodes.keys().copied().find(|id| *id != l).unwrap();
    c.stop(f).await;
    let mut last = Index(0);
    for i in 0..150 {
        last = c.nodes[&l].propose(cmd(i)).await.unwrap().0;
    }
    c.start(f);
    c.converge(last).await;
    assert_eq!(c.applied(f).1, c.applied(l).1);
    assert!(c.nodes[&f].metrics().snapshots_received >= 1);
}

/// Many concurrent proposers while the leader is cut off and healed repeatedly: every future
/// resolves exactly once, successes carry their own command, and every success is applied on
/// every node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_proposal_resolves_once_under_faults() {
    let c = Cluster::new(3);
    c.leader().await;
    let mut tasks = Vec::new();
    for p in 0..16u64 {
        let nodes = c.nodes.clone();
        tasks.push(tokio::spawn(async move {
            let mut ok = Vec::new();
            let mut failed = 0;
            for i in 0..40u64 {
                let n = &nodes[&(1 + (p + i) % 3)];
                let command = cmd(p * 1000 + i);
                match n.propose(command.clone()).await {
                    Ok((index, echoed)) => {
                        assert_eq!(echoed, command);
                        ok.push((index, command));
                    }
                    Err(_) => failed += 1,
                }
            }
            (ok, failed)
        }));
    }
    for round in 0..4 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let l = c.leader().await;
        c.net.isolate(NodeId(l));
        tokio::time::sleep(Duration::from_millis(250 + 50 * round)).await;
        c.net.heal();
    }
    let mut acked = Vec::new();
    let mut resolved = 0;
    for t in tasks {
        let (ok, failed) = tokio::time::timeout(Duration::from_secs(20), t)
            .await
            .expect("every proposer finishes")
            .unwrap();
        resolved += ok.len() + failed;
        acked.extend(ok);
    }
    assert_eq!(resolved, 16 * 40, "every future resolved");
    assert!(!acked.is_empty());
    let top = acked.iter().map(|(i, _)| *i).max().unwrap();
    c.leader().await;
    c.converge(top).await;
    let (_, log) = c.applied(1);
    for (_, command) in &acked {
        assert_eq!(
            log.iter().filter(|c| *c == command).count(),
            1,
            "an acknowledged command is applied exactly once"
        );
    }
    for id in [2, 3] {
        assert_eq!(
            c.applied(id).1[..log.len().min(c.applied(id).1.len())],
            log[..log.len().min(c.applied(id).1.len())]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_everything_and_a_reopened_node_rejoins() {
    let mut c = Cluster::new(3);
    let l = c.leader().await;
    let mut last = Index(0);
    for i in 0..20 {
        last = c.nodes[&l].propose(cmd(i)).await.unwrap().0;
    }
    c.converge(last).await;
    // Shut the leader down; requests after that fail with ShutDown, never hang.
    let node = c.nodes[&l].clone();
    c.stop(l).await;
    assert!(matches!(
        node.propose(cmd(99)).await,
        Err(ProposeError::ShutDown)
    ));
    assert!(matches!(node.read_index().await, Err(ReadError::ShutDown)));
    c.start(l);
    let l2 = c.leader().await;
    let (last, _) = c.nodes[&l2].propose(cmd(100)).await.unwrap();
    c.converge(last).await;
    assert_eq!(c.applied(l).1, c.applied(l2).1);
}

/// `submit` queues before it returns: commands submitted one after another, without awaiting
/// any, are applied in submission order, and each future resolves with its own command. (With
/// `propose`, an `async fn`, nothing is queued until the future is first polled, so futures
/// polled out of order would propose out of order.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submitted_commands_apply_in_submission_order() {
    let c = Cluster::new(3);
    let l = c.leader().await;
    let leader = &c.nodes[&l];
    let futures: Vec<_> = (0..500).map(|i| leader.submit(cmd(i))).collect();
    // Await them last to first: the order of awaiting must not matter.
    let mut outputs = Vec::new();
    for f in futures.into_iter().rev() {
        outputs.push(f.await.expect("applied"));
    }
    outputs.reverse();
    for (i, (index, echoed)) in outputs.iter().enumerate() {
        assert_eq!(
            echoed,
            &cmd(i as u64),
            "future {i} resolved with another command"
        );
        if i > 0 {
            assert!(
                *index > outputs[i - 1].0,
                "command {i} applied before command {}",
                i - 1
            );
        }
    }
    let last = outputs.last().expect("outputs").0;
    c.converge(last).await;
    let (_, applied) = c.applied(l);
    let ours: Vec<Bytes> = applied
        .into_iter()
        .filter(|b| b.starts_with(b"command-"))
        .collect();
    assert_eq!(ours, (0..500).map(cmd).collect::<Vec<_>>());
}
