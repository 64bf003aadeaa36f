//! Messages between endpoints on 127.0.0.1: delivery, coalescing, bounded queues, unreachable
//! reports, membership changes.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use raft_core::{
    AppendRequest, Entry, EntryPayload, Index, LogId, Message, MessageBody, NodeId, Term,
};
use raft_transport_quic::{SendError, Transport, UnreachableReason};

fn append(from: u64, to: u64, index: u64, payload: usize) -> Message {
    Message {
        from: NodeId(from),
        to: NodeId(to),
        term: Term(1),
        body: MessageBody::Append(AppendRequest {
            prev: LogId::new(Term(1), Index(index - 1)),
            entries: vec![Entry {
                term: Term(1),
                index: Index(index),
                payload: EntryPayload::Command(Bytes::from(vec![index as u8; payload])),
            }]
            .into(),
            commit: Index(0),
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_endpoints_exchange_messages() {
    let mut c = cluster(3, |_| {}).await;
    const N: u64 = 200;
    for n in 1..=N {
        for from in 1..=3u64 {
            for to in (1..=3u64).filter(|&t| t != from) {
                let msg = if n % 50 == 0 {
                    append(from, to, n, 64 << 10)
                } else {
                    heartbeat(from, to, n)
                };
                c.node(from).transport.send(msg).unwrap();
            }
        }
    }
    for node in &mut c.nodes {
        let me = node.id;
        let mut next: BTreeMap<NodeId, u64> = BTreeMap::new();
        for _ in 0..2 * N {
            let m = recv_within(&mut node.inbox, Duration::from_secs(10))
                .await
                .unwrap_or_else(|| panic!("{me} is missing messages"));
            assert_eq!(m.to, me);
            assert_ne!(m.from, me);
            // Messages from one sender arrive in order.
            let n = next.entry(m.from).or_insert(1);
            match &m.body {
                MessageBody::Heartbeat(h) => assert_eq!(h.commit, Index(*n)),
                MessageBody::Append(a) => {
                    assert_eq!(a.entries.first().unwrap().index, Index(*n));
                    assert_eq!(a.entries.payload_bytes(), 64 << 10);
                }
                other => panic!("unexpected {other:?}"),
            }
            *n += 1;
        }
        assert_eq!(next.values().copied().collect::<Vec<_>>(), [N + 1, N + 1]);
    }
    for node in &c.nodes {
        // The sender counts a write just after handing it to QUIC.
        wait_until(Duration::from_secs(2), || {
            node.transport.metrics().messages_sent == 2 * N
        })
        .await;
        let m = node.transport.metrics();
        assert_eq!(m.messages_sent, 2 * N, "{m:?}");
        assert_eq!(m.messages_received, 2 * N, "{m:?}");
        assert_eq!(m.dropped_queue_full + m.dropped_unreachable, 0, "{m:?}");
        assert!(m.batches_sent <= m.messages_sent);
        assert_eq!(m.connects, 2);
        assert_eq!(m.inbound_accepted, 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_messages_are_coalesced_into_few_writes() {
    let mut c = cluster(2, |_| {}).await;
    const N: u64 = 1000;
    for n in 1..=N {
        c.node(1).transport.send(heartbeat(1, 2, n)).unwrap();
    }
    for _ in 0..N {
        recv_within(&mut c.node(2).inbox, Duration::from_secs(10))
            .await
            .expect("all messages arrive");
    }
    let t = &c.node(1).transport;
    wait_until(Duration::from_secs(2), || t.metrics().messages_sent == N).await;
    let m = t.metrics();
    eprintln!("{} messages in {} writes", m.messages_sent, m.batches_sent);
    assert_eq!(m.messages_sent, N);
    assert!(
        m.batches_sent * 4 < N,
        "{} writes for {N} messages",
        m.batches_sent
    );
}

/// A UDP port where nothing answers.
fn black_hole() -> (std::net::UdpSocket, std::net::SocketAddr) {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = s.local_addr().unwrap();
    (s, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_peer_costs_bounded_memory_and_is_reported_unreachable() {
    init_logs();
    let ca = raft_transport_quic::certs::generate_ca(CLUSTER).unwrap();
    let cert = ca.issue_node(NodeId(1), &[]).unwrap();
    let mut cfg = config(1, cert.tls_material(&ca));
    cfg.queues.peer_messages = 64;
    cfg.queues.peer_bytes = 1 << 20;
    cfg.timeouts.connect = std::time::Duration::from_millis(500);
    let (_hole, addr) = black_hole();
    cfg.peers = BTreeMap::from([(NodeId(2), addr)]);
    let (t, mut inbox) = Transport::bind(cfg).unwrap();

    // 10,000 heartbeats at once: the queue holds 64, the rest is dropped at once.
    let mut refused = 0;
    for n in 1..=10_000 {
        if let Err(e) = t.send(heartbeat(1, 2, n)) {
            assert_eq!(e, SendError::QueueFull(NodeId(2)));
            refused += 1;
        }
    }
    assert!(refused >= 10_000 - 64, "{refused}");
    let u = tokio::time::timeout(Duration::from_secs(5), inbox.unreachable.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.peer, NodeId(2));

    // The byte bound: 1 MiB holds about 15 appends of 64 KiB.
    let mut refused_bytes = 0;
    for n in 1..=100 {
        if t.send(append(1, 2, n, 64 << 10)).is_err() {
            refused_bytes += 1;
        }
    }
    assert!(refused_bytes >= 80, "{refused_bytes}");

    // Once connecting fails, what was queued is dropped too, and reported.
    assert!(
        wait_until(Duration::from_secs(5), || {
            let m = t.metrics();
            m.dropped_queue_full + m.dropped_unreachable == 10_100
        })
        .await,
        "{:?}",
        t.metrics()
    );
    let m = t.metrics();
    assert!(m.connect_failures >= 1);
    assert_eq!(m.messages_sent, 0);
    let reasons: Vec<UnreachableReason> = std::iter::from_fn(|| inbox.unreachable.try_recv().ok())
        .map(|u| u.reason)
        .collect();
    eprintln!("unreachable reports after the first: {reasons:?}; {m:?}");
    assert!(m.unreachable_reported >= 2, "{m:?}");
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_application_pushes_back_on_the_sender_instead_of_buffering() {
    let mut c = cluster(2, |cfg| {
        cfg.queues.inbound_messages = 16;
        cfg.queues.peer_messages = 64;
        cfg.flow.stream_receive_window = 64 << 10;
        cfg.flow.connection_receive_window = 256 << 10;
    })
    .await;
    // Node 2's application reads nothing while node 1 sends 20,000 appends of 1 KiB (20 MiB).
    let mut dropped = 0u64;
    for n in 1..=20_000 {
        if c.node(1).transport.send(append(1, 2, n, 1024)).is_err() {
            dropped += 1;
        }
        if n % 100 == 0 {
            tokio::task::yield_now().await;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let m1 = c.node(1).transport.metrics();
    let m2 = c.node(2).transport.metrics();
    eprintln!("sender {m1:?}\nreceiver {m2:?}");
    assert!(dropped > 10_000, "the sender's queue dropped: {dropped}");
    // What node 2 took off the network is bounded by its inbox and flow-control windows.
    assert!(
        m2.bytes_received < (16 + 2) * 1100 + (256 << 10),
        "{} bytes taken off the network",
        m2.bytes_received
    );
    // The application catches up: messages flow again.
    let mut got = 0;
    while recv_within(&mut c.node(2).inbox, Duration::from_millis(500))
        .await
        .is_some()
    {
        got += 1;
    }
    assert!(got > 0);
    c.node(1).transport.send(heartbeat(1, 2, 1)).unwrap();
    let m = recv_within(&mut c.node(2).inbox, Duration::from_secs(5)).await;
    assert!(matches!(m.map(|m| m.body), Some(MessageBody::Heartbeat(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_sends_are_refused_locally() {
    let mut c = cluster(2, |_| {}).await;
    let t = &c.node(1).transport;
    assert_eq!(
        t.send(heartbeat(1, 9, 1)),
        Err(SendError::UnknownPeer(NodeId(9)))
    );
    assert_eq!(
        t.send(heartbeat(2, 1, 1)),
        Err(SendError::WrongSender(NodeId(2)))
    );
    assert_eq!(t.send(heartbeat(1, 1, 1)), Err(SendError::ToSelf));
    assert_eq!(t.metrics().dropped_unknown_peer, 1);
    let u = c.node(1).inbox.unreachable.try_recv().unwrap();
    assert_eq!(
        (u.peer, u.reason),
        (NodeId(9), UnreachableReason::UnknownPeer)
    );
    c.node(1).transport.shutdown().await;
    assert_eq!(
        c.node(1).transport.send(heartbeat(1, 2, 1)),
        Err(SendError::ShutDown)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_changes_take_effect() {
    let mut c = cluster(3, |_| {}).await;
    let addr3 = c.node(3).addr;

    // Node 1 removes node 3: node 3's connection is closed and its redials are refused.
    c.node(1).transport.remove_peer(NodeId(3));
    assert_eq!(c.node(1).transport.peers().len(), 1);
    assert!(
        wait_until(Duration::from_secs(5), || !c.nodes[2]
            .transport
            .is_connected(NodeId(1)))
        .await
    );
    for n in 1..=20 {
        let _ = c.node(3).transport.send(heartbeat(3, 1, n));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    while let Ok(m) = c.node(1).inbox.messages.try_recv() {
        assert_ne!(m.from, NodeId(3), "a removed member was heard");
    }
    let t = &c.node(1).transport;
    assert!(wait_until(Duration::from_secs(5), || t.metrics().inbound_refused >= 1).await);
    assert!(logged("node 3 is not a known member").await);

    // Node 1 adds it back: node 3 reconnects and is heard again.
    c.node(1).transport.add_peer(NodeId(3), addr3);
    assert!(
        wait_until(Duration::from_secs(5), || c.nodes[2]
            .transport
            .is_connected(NodeId(1)))
        .await
    );
    c.node(3).transport.send(heartbeat(3, 1, 99)).unwrap();
    let m = recv_within(&mut c.node(1).inbox, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(m.from, NodeId(3));
}
