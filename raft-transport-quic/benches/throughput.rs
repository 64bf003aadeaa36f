//! Throughput between two endpoints on loopback: heartbeat-sized messages, 64 KiB appends, a
//! snapshot stream, and the round trip of a heartbeat.
//!
//! `cargo bench -p raft-transport-quic --bench throughput` prints the figures. Without `--bench`
//! (as under `cargo test --benches`) it runs a short smoke version.

use std::collections::BTreeMap;
use std::io;
use std::time::{Duration, Instant};

use bytes::Bytes;
use raft_core::{
    AppendRequest, Entry, EntryPayload, Heartbeat, Index, LogId, Membership, Message, MessageBody,
    NodeId, SnapshotMeta, SnapshotOffer, Term,
};
use raft_transport_quic::certs::ClusterCa;
use raft_transport_quic::{Inbox, SendError, Transport, TransportConfig};

const MIB: u64 = 1 << 20;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(full));
}

fn heartbeat(n: u64) -> Message {
    Message {
        from: NodeId(1),
        to: NodeId(2),
        term: Term(7),
        body: MessageBody::Heartbeat(Heartbeat {
            commit: Index(n),
            read_round: n,
        }),
    }
}

fn append(n: u64, payload: &Bytes) -> Message {
    Message {
        from: NodeId(1),
        to: NodeId(2),
        term: Term(7),
        body: MessageBody::Append(AppendRequest {
            prev: LogId::new(Term(7), Index(n)),
            entries: vec![Entry {
                term: Term(7),
                index: Index(n + 1),
                payload: EntryPayload::Command(payload.clone()),
            }]
            .into(),
            commit: Index(n),
        }),
    }
}

async fn pair() -> ((Transport, Inbox), (Transport, Inbox)) {
    let ca = ClusterCa::generate("bench").expect("ca");
    let bind = |id: u64| {
        let cert = ca.issue_node(NodeId(id), &[]).expect("cert");
        let mut cfg = TransportConfig::new(
            NodeId(id),
            "bench",
            "127.0.0.1:0".parse().expect("addr"),
            cert.tls_material(&ca),
        );
        cfg.queues.peer_messages = 8192;
        cfg.queues.peer_bytes = 64 << 20;
        cfg.queues.inbound_messages = 8192;
        Transport::bind(cfg).expect("bind")
    };
    let a = bind(1);
    let b = bind(2);
    let addrs = BTreeMap::from([
        (NodeId(1), a.0.local_addr().expect("addr")),
        (NodeId(2), b.0.local_addr().expect("addr")),
    ]);
    a.0.set_peers(addrs.clone());
    b.0.set_peers(addrs);
    while !(a.0.is_connected(NodeId(2)) && b.0.is_connected(NodeId(1))) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (a, b)
}

/// Sends `n` messages from `a` to `b` as fast as `a`'s queue takes them; returns the elapsed
/// time until `b` has received them all, and the frame bytes sent.
async fn blast(
    a: &Transport,
    b: &mut Inbox,
    n: u64,
    make: impl Fn(u64) -> Message,
) -> (Duration, u64) {
    let before = a.metrics().bytes_sent;
    let start = Instant::now();
    let receive = async {
        for _ in 0..n {
            b.messages.recv().await.expect("message");
        }
    };
    let send = async {
        for i in 0..n {
            let mut msg = make(i);
            loop {
                match a.send(msg) {
                    Ok(()) => break,
                    Err(SendError::QueueFull(_)) => {
                        // The queue is bounded: wait for it to drain and offer the message again.
                        tokio::task::yield_now().await;
                        msg = make(i);
                    }
                    Err(e) => panic!("send: {e}"),
                }
            }
        }
    };
    tokio::join!(send, receive);
    (start.elapsed(), a.metrics().bytes_sent - before)
}

fn row(what: &str, messages: Option<u64>, elapsed: Duration, bytes: u64) {
    let secs = elapsed.as_secs_f64();
    let rate = messages.map_or("-".to_owned(), |m| format!("{:.0}", m as f64 / secs));
    println!(
        "{what:<34} {:>9} {:>9.3} s {:>12} msg/s {:>9.1} MB/s",
        messages.map_or("-".to_owned(), |m| m.to_string()),
        secs,
        rate,
        bytes as f64 / 1e6 / secs
    );
}

async fn run(full: bool) {
    let ((a, mut _ia), (b, mut ib)) = pair().await;
    println!(
        "raft-transport-quic loopback throughput ({} run)",
        if full { "full" } else { "smoke" }
    );

    let n = if full { 1_000_000 } else { 10_000 };
    let (elapsed, bytes) = blast(&a, &mut ib, n, heartbeat).await;
    row("heartbeats (one-way)", Some(n), elapsed, bytes);

    let payload = Bytes::from(vec![0xabu8; 64 << 10]);
    let n = if full { 8192 } else { 64 };
    let (elapsed, bytes) = blast(&a, &mut ib, n, |i| append(i, &payload)).await;
    row("appends of 64 KiB (one-way)", Some(n), elapsed, bytes);

    let total = if full { 512 * MIB } else { 8 * MIB };
    let block = Bytes::from(vec![0x5au8; 1 << 20]);
    let chunks = (0..total / MIB).map(move |_| Ok::<_, io::Error>(block.clone()));
    let offer = Message {
        from: NodeId(1),
        to: NodeId(2),
        term: Term(7),
        body: MessageBody::InstallSnapshot(SnapshotOffer {
            meta: SnapshotMeta {
                last: LogId::new(Term(7), Index(1)),
                membership: Membership::with_voters([NodeId(1), NodeId(2)]),
            },
        }),
    };
    let start = Instant::now();
    let consume = async {
        let mut snap = ib.snapshots.recv().await.expect("snapshot");
        while let Some(chunk) = snap.chunks.next_chunk().await {
            chunk.expect("chunk");
        }
    };
    let (sent, ()) = tokio::join!(a.send_snapshot(offer, Iter(chunks)), consume);
    assert_eq!(sent.expect("snapshot sent"), total);
    row(
        &format!("snapshot stream of {} MiB", total / MIB),
        None,
        start.elapsed(),
        total,
    );

    // Round trips: node 1 sends a heartbeat, node 2 answers, one at a time.
    let n = if full { 20_000 } else { 500 };
    let mut rtts = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let start = Instant::now();
        a.send(heartbeat(i)).expect("send");
        ib.messages.recv().await.expect("ping");
        let mut pong = heartbeat(i);
        pong.from = NodeId(2);
        pong.to = NodeId(1);
        b.send(pong).expect("send");
        _ia.messages.recv().await.expect("pong");
        rtts.push(start.elapsed());
    }
    rtts.sort();
    println!(
        "heartbeat round trip (one at a time) p50 {:?}  p99 {:?}  over {n}",
        rtts[n / 2],
        rtts[n * 99 / 100]
    );

    let m = a.metrics();
    println!(
        "sender: {} messages in {} writes ({:.1} per write), {} dropped while the queue was full",
        m.messages_sent,
        m.batches_sent,
        m.messages_sent as f64 / m.batches_sent.max(1) as f64,
        m.dropped_queue_full
    );
    a.shutdown().await;
    b.shutdown().await;
}

/// A stream over an iterator.
struct Iter<I>(I);

impl<I: Iterator + Unpin> futures_core::Stream for Iter<I> {
    type Item = I::Item;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<I::Item>> {
        std::task::Poll::Ready(self.0.next())
    }
}
