//! Snapshot streams: a 64 MiB snapshot streams while heartbeats keep flowing; a slow consumer
//! holds back the sender instead of buffering; refusals reach the sender.

mod common;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use raft_core::{
    Index, LogId, Membership, Message, MessageBody, NodeId, SnapshotMeta, SnapshotOffer, Term,
};
use raft_transport_quic::{SnapshotRecvError, SnapshotRefusal, SnapshotSendError};

const MIB: u64 = 1 << 20;

fn offer(from: u64, to: u64) -> Message {
    Message {
        from: NodeId(from),
        to: NodeId(to),
        term: Term(2),
        body: MessageBody::InstallSnapshot(SnapshotOffer {
            meta: SnapshotMeta {
                last: LogId::new(Term(2), Index(1000)),
                membership: Membership::with_voters([NodeId(1), NodeId(2)]),
            },
        }),
    }
}

/// `total` bytes of deterministic data in chunks of `chunk` bytes, counting what was pulled.
fn source(
    total: u64,
    chunk: usize,
    pulled: Arc<AtomicU64>,
) -> impl futures_core::Stream<Item = io::Result<Bytes>> {
    // A 1 MiB block of pseudo-random bytes, repeated; the stream yields slices of it.
    let mut rng = fastrand::Rng::with_seed(42);
    let block: Bytes = (0..MIB).map(|_| rng.u8(..)).collect::<Vec<u8>>().into();
    let mut offset = 0u64;
    futures_stream(move || {
        if offset >= total {
            return None;
        }
        let start = (offset % MIB) as usize;
        let len = (chunk as u64).min(total - offset).min(MIB - start as u64) as usize;
        offset += len as u64;
        pulled.fetch_add(len as u64, Ordering::Relaxed);
        Some(Ok(block.slice(start..start + len)))
    })
}

/// A stream from a closure.
fn futures_stream<T>(
    next: impl FnMut() -> Option<T> + Unpin,
) -> impl futures_core::Stream<Item = T> + Unpin {
    struct S<F>(F);
    impl<T, F: FnMut() -> Option<T> + Unpin> futures_core::Stream for S<F> {
        type Item = T;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<T>> {
            std::task::Poll::Ready((self.0)())
        }
    }
    S(next)
}

fn digest_of_source(total: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(42);
    let block: Vec<u8> = (0..MIB).map(|_| rng.u8(..)).collect();
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut left = total;
    while left > 0 {
        let n = left.min(MIB) as usize;
        ctx.update(&block[..n]);
        left -= n as u64;
    }
    ctx.finish().as_ref().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_snapshot_streams_while_heartbeats_keep_flowing() {
    let mut c = cluster(2, |_| {}).await;
    let total = 64 * MIB;
    let mut n2 = c.nodes.pop().unwrap();
    let n1 = c.nodes.pop().unwrap();
    let n1 = Arc::new(n1);

    // The receiver stores the data (hashes it) as it comes.
    let receiver = tokio::spawn(async move {
        let mut snap = n2.inbox.snapshots.recv().await.unwrap();
        assert_eq!(snap.from, NodeId(1));
        assert_eq!(snap.message(), offer(1, 2));
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        let mut heartbeats = Vec::new();
        let mut done = false;
        // Heartbeats and chunks are read side by side, as a driver would.
        while !done {
            tokio::select! {
                chunk = snap.chunks.next_chunk() => match chunk {
                    Some(chunk) => ctx.update(&chunk.unwrap()),
                    None => done = true,
                },
                Some(m) = n2.inbox.messages.recv() => heartbeats.push((Instant::now(), m)),
            }
        }
        (
            ctx.finish().as_ref().to_vec(),
            heartbeats,
            snap.chunks.bytes_received(),
            n2,
        )
    });

    // Heartbeats every 10 ms from node 1 while the snapshot streams.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hb = {
        let n1 = n1.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                n1.transport.send(heartbeat(1, 2, n)).unwrap();
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            n
        })
    };

    let start = Instant::now();
    let pulled = Arc::new(AtomicU64::new(0));
    let sent = within(
        Duration::from_secs(120),
        "64 MiB snapshot",
        n1.transport
            .send_snapshot(offer(1, 2), source(total, 256 << 10, pulled)),
    )
    .await
    .unwrap();
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let heartbeats_sent = hb.await.unwrap();
    let (digest, heartbeats, received, _n2) = receiver.await.unwrap();

    assert_eq!(sent, total);
    assert_eq!(received, total);
    assert_eq!(digest, digest_of_source(total), "the data arrived intact");
    eprintln!(
        "64 MiB snapshot in {elapsed:?} ({:.1} MB/s); {} of {heartbeats_sent} heartbeats arrived meanwhile",
        total as f64 / 1e6 / elapsed.as_secs_f64(),
        heartbeats.len()
    );
    // Heartbeats kept flowing: no long gap while the snapshot was streaming.
    let gaps: Vec<Duration> = heartbeats
        .windows(2)
        .map(|w| w[1].0.duration_since(w[0].0))
        .collect();
    let max_gap = gaps.iter().max().copied().unwrap_or_default();
    eprintln!("longest gap between heartbeats: {max_gap:?}");
    assert!(
        heartbeats.len() as u64 * 2 >= heartbeats_sent.min(elapsed.as_millis() as u64 / 10),
        "only {} of {heartbeats_sent} heartbeats arrived during the snapshot",
        heartbeats.len()
    );
    assert!(
        max_gap < Duration::from_millis(500),
        "heartbeats stalled for {max_gap:?}"
    );
    let m = n1.transport.metrics();
    assert_eq!(m.snapshots_sent, 1);
    assert_eq!(m.snapshot_bytes_sent, total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_holds_the_sender_back_instead_of_buffering() {
    let mut c = cluster(2, |_| {}).await;
    let mut n2 = c.nodes.pop().unwrap();
    let n1 = c.nodes.pop().unwrap();
    let total = 16 * MIB;
    let pulled = Arc::new(AtomicU64::new(0));
    let send = {
        let pulled = pulled.clone();
        tokio::spawn(async move {
            let r = n1
                .transport
                .send_snapshot(offer(1, 2), source(total, 64 << 10, pulled))
                .await;
            (r, n1)
        })
    };
    let mut snap = n2.inbox.snapshots.recv().await.unwrap();
    let mut taken = 0u64;
    let mut worst = 0u64;
    // Take 3 MiB slowly, watching how far ahead the sender gets.
    while taken < 3 * MIB {
        let chunk = snap.chunks.next_chunk().await.unwrap().unwrap();
        taken += chunk.len() as u64;
        tokio::time::sleep(Duration::from_millis(2)).await;
        worst = worst.max(pulled.load(Ordering::Relaxed) - taken);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    worst = worst.max(pulled.load(Ordering::Relaxed) - taken);
    // The stream window (2 MiB), plus what the receiving task holds (4 chunks read ahead, one
    // being handed over, one read buffered) and the chunk in the sender's hands: 16 MiB would
    // be gone by now without flow control.
    let bound = 2 * MIB + 8 * (64 << 10);
    eprintln!("sender ran at most {worst} bytes ahead of the consumer (bound {bound})");
    assert!(worst <= bound, "sender ran {worst} bytes ahead");
    // The rest goes through.
    while let Some(chunk) = snap.chunks.next_chunk().await {
        taken += chunk.unwrap().len() as u64;
    }
    assert_eq!(taken, total);
    let (r, _n1) = send.await.unwrap();
    assert_eq!(r.unwrap(), total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_reach_the_sender() {
    let mut c = cluster(2, |cfg| cfg.queues.inbound_snapshots = 1).await;
    let mut n2 = c.nodes.pop().unwrap();
    let n1 = c.nodes.pop().unwrap();
    let none = || Arc::new(AtomicU64::new(0));

    // The receiving application drops the snapshot half way: the sender is told.
    let app = tokio::spawn(async move {
        let mut snap = n2.inbox.snapshots.recv().await.unwrap();
        let _ = snap.chunks.next_chunk().await;
        drop(snap);
        n2
    });
    let r = n1
        .transport
        .send_snapshot(offer(1, 2), source(8 * MIB, 64 << 10, none()))
        .await;
    assert!(
        matches!(
            r,
            Err(SnapshotSendError::Refused {
                reason: SnapshotRefusal::Abandoned,
                ..
            })
        ),
        "{r:?}"
    );
    let n2 = app.await.unwrap();

    // The application does not take snapshots: the first waits, the second is refused.
    let first = n1
        .transport
        .send_snapshot(offer(1, 2), source(MIB, 64 << 10, none()));
    let second = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        n1.transport
            .send_snapshot(offer(1, 2), source(MIB, 64 << 10, none()))
            .await
    };
    let (first, second) = tokio::select! {
        r = async { tokio::join!(tokio::time::timeout(Duration::from_secs(1), first), second) } => r,
    };
    assert!(first.is_err(), "the first waits for the application");
    assert!(
        matches!(
            second,
            Err(SnapshotSendError::Refused {
                reason: SnapshotRefusal::Busy,
                ..
            })
        ),
        "{second:?}"
    );

    // A message that is not a snapshot offer, or a recipient without an address.
    assert!(matches!(
        n1.transport
            .send_snapshot(heartbeat(1, 2, 1), source(1, 1, none()))
            .await,
        Err(SnapshotSendError::NotASnapshotOffer)
    ));
    assert!(matches!(
        n1.transport
            .send_snapshot(offer(1, 9), source(1, 1, none()))
            .await,
        Err(SnapshotSendError::UnknownPeer(NodeId(9)))
    ));
    assert!(n1.transport.metrics().snapshots_send_failed >= 2);
    assert!(n2.transport.metrics().snapshots_refused >= 1);
}

/// A driver keeps the transport in an `Arc` and needs `Send + 'static` futures.
#[allow(dead_code)]
fn snapshot_futures_are_send(
    t: Arc<raft_transport_quic::Transport>,
    m: Message,
    rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
) {
    fn is_send<T: Send + 'static>(_: T) {}
    is_send(async move { t.send_snapshot_from_channel(m, rx).await });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_can_be_fed_from_a_channel() {
    let mut c = cluster(2, |_| {}).await;
    let mut n2 = c.nodes.pop().unwrap();
    let n1 = Arc::new(c.nodes.pop().unwrap());
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let sender = {
        let n1 = n1.clone();
        tokio::spawn(async move {
            n1.transport
                .send_snapshot_from_channel(offer(1, 2), rx)
                .await
        })
    };
    for i in 0..10u8 {
        tx.send(Ok(Bytes::from(vec![i; 1000]))).await.unwrap();
    }
    drop(tx);
    let mut snap = n2.inbox.snapshots.recv().await.unwrap();
    let mut got = Vec::new();
    while let Some(chunk) = snap.chunks.next_chunk().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(got.len(), 10_000);
    assert!(
        got.chunks(1000)
            .enumerate()
            .all(|(i, c)| c.iter().all(|&b| b == i as u8))
    );
    assert_eq!(sender.await.unwrap().unwrap(), 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_send_is_never_taken_for_a_whole_snapshot() {
    let mut c = cluster(2, |_| {}).await;
    let mut n2 = c.nodes.pop().unwrap();
    let n1 = Arc::new(c.nodes.pop().unwrap());
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let sending = {
        let n1 = n1.clone();
        tokio::spawn(async move {
            let _ = n1
                .transport
                .send_snapshot_from_channel(offer(1, 2), rx)
                .await;
        })
    };
    tx.send(Ok(Bytes::from(vec![1u8; 1000]))).await.unwrap();
    let mut snap = n2.inbox.snapshots.recv().await.unwrap();
    assert!(snap.chunks.next_chunk().await.unwrap().is_ok());
    // The sender gives up mid-stream (its future is dropped): the receiver sees an error, not
    // an end.
    sending.abort();
    let _ = sending.await;
    drop(tx);
    let last = snap.chunks.next_chunk().await;
    assert!(
        matches!(last, Some(Err(SnapshotRecvError::Aborted(_)))),
        "{last:?}"
    );
    assert!(
        n1.transport.is_connected(NodeId(2)),
        "the connection is unaffected"
    );
}
