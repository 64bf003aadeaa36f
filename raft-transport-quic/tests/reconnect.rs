//! Reconnection: a restarted peer (cleanly stopped, or crashed) is reconnected; a peer that
//! comes up late is connected.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use raft_core::NodeId;
use raft_transport_quic::certs::NodeCert;
use raft_transport_quic::{Inbox, Transport};

/// Binds `cert`'s node at `addr`, retrying while the old socket is being released.
async fn bind_at(
    ca: &raft_transport_quic::certs::ClusterCa,
    cert: &NodeCert,
    addr: SocketAddr,
    peers: &[(u64, SocketAddr)],
) -> (Transport, Inbox) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut cfg = config(cert.node_id.0, cert.tls_material(ca));
        cfg.listen_addr = addr;
        cfg.peers = peers.iter().map(|(id, a)| (NodeId(*id), *a)).collect();
        match Transport::bind(cfg) {
            Ok(t) => return t,
            Err(e) if Instant::now() < deadline => {
                eprintln!("rebinding {addr}: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("cannot rebind {addr}: {e}"),
        }
    }
}

/// Node 1 sends a heartbeat every 20 ms until node 2's inbox yields one; returns how long it took.
async fn heard_within(sender: &Transport, inbox: &mut Inbox, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < limit {
        n += 1;
        let _ = sender.send(heartbeat(1, 2, n));
        if let Ok(Some(_)) =
            tokio::time::timeout(Duration::from_millis(20), inbox.messages.recv()).await
        {
            return Some(start.elapsed());
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_peer_is_reconnected() {
    let mut c = cluster(2, |_| {}).await;
    let n2 = c.nodes.pop().unwrap();
    let mut n1 = c.nodes.pop().unwrap();
    let (addr1, addr2) = (n1.addr, n2.addr);

    n2.transport.shutdown().await;
    drop(n2.transport);
    drop(n2.inbox);
    // Node 1 notices (node 2 closed cleanly) and reports node 2 unreachable as it keeps sending.
    for n in 1..=20 {
        let _ = n1.transport.send(heartbeat(1, 2, n));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let u = tokio::time::timeout(Duration::from_secs(5), n1.inbox.unreachable.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.peer, NodeId(2));
    assert!(!n1.transport.is_connected(NodeId(2)));

    let restart = Instant::now();
    let (t2, mut inbox2) = bind_at(&c.ca, &n2.cert, addr2, &[(1, addr1)]).await;
    let took = heard_within(&n1.transport, &mut inbox2, Duration::from_secs(10))
        .await
        .expect("node 1 reconnects to the restarted node 2");
    eprintln!(
        "restarted peer heard again {took:?} after its restart ({:?} total)",
        restart.elapsed()
    );
    let m = n1.transport.metrics();
    assert!(m.reconnects >= 1, "{m:?}");
    assert!(m.connections_lost >= 1, "{m:?}");
    // And the other way.
    assert!(wait_until(Duration::from_secs(5), || t2.is_connected(NodeId(1))).await);
    t2.send(heartbeat(2, 1, 1)).unwrap();
    let m = recv_within(&mut n1.inbox, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(m.from, NodeId(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_peer_is_reconnected_without_waiting_for_the_idle_timeout() {
    let mut c = cluster(1, |_| {}).await;
    let mut n1 = c.nodes.pop().unwrap();
    let cert2 = c.ca.issue_node(NodeId(2), &[]).unwrap();

    // Node 2 runs on a runtime of its own, so that it can "crash": its runtime is dropped with
    // every task and socket, without a word to node 1.
    let rt2 = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (t2, inbox2) = {
        let _guard = rt2.enter();
        let mut cfg = config(2, cert2.tls_material(&c.ca));
        cfg.peers = [(NodeId(1), n1.addr)].into();
        Transport::bind(cfg).unwrap()
    };
    let addr2 = t2.local_addr().unwrap();
    n1.transport.add_peer(NodeId(2), addr2);
    assert!(
        wait_until(Duration::from_secs(5), || n1
            .transport
            .is_connected(NodeId(2)))
        .await
    );

    // Crash.
    tokio::task::spawn_blocking(move || drop(rt2))
        .await
        .unwrap();
    drop(t2);
    drop(inbox2);
    assert!(
        n1.transport.is_connected(NodeId(2)),
        "node 1 has not noticed"
    );

    // Node 2 restarts with the same key: its stateless resets kill node 1's stale connection
    // at once (the idle timeout is 3 s in these tests).
    let restart = Instant::now();
    let (_t2, mut inbox2) = bind_at(&c.ca, &cert2, addr2, &[(1, n1.addr)]).await;
    let took = heard_within(&n1.transport, &mut inbox2, Duration::from_secs(10))
        .await
        .expect("node 1 reconnects to the restarted node 2");
    eprintln!(
        "crashed peer heard again {took:?} after its restart ({:?} total)",
        restart.elapsed()
    );
    assert!(
        took < Duration::from_millis(2500),
        "reconnecting took {took:?}: the stale connection was not reset"
    );
    assert!(n1.transport.metrics().reconnects >= 1);
    let _ = n1.inbox.unreachable.try_recv();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_comes_up_late_is_connected() {
    let mut c = cluster(1, |_| {}).await;
    let mut n1 = c.nodes.pop().unwrap();
    let cert2 = c.ca.issue_node(NodeId(2), &[]).unwrap();
    // Node 2's address is known before node 2 runs.
    let addr2 = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };
    n1.transport.add_peer(NodeId(2), addr2);
    for n in 1..=10 {
        let _ = n1.transport.send(heartbeat(1, 2, n));
    }
    let u = tokio::time::timeout(Duration::from_secs(5), n1.inbox.unreachable.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.peer, NodeId(2));
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (_t2, mut inbox2) = bind_at(&c.ca, &cert2, addr2, &[(1, n1.addr)]).await;
    let took = heard_within(&n1.transport, &mut inbox2, Duration::from_secs(10))
        .await
        .expect("node 1 connects once node 2 is up");
    eprintln!("late peer heard {took:?} after it came up");
    let m = n1.transport.metrics();
    assert!(m.connect_failures >= 1, "{m:?}");
    assert_eq!(m.connects, 1, "{m:?}");
}
