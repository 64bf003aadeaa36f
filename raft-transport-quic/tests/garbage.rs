//! Garbage from an authenticated peer: undecodable, oversized, truncated and random frames,
//! unknown stream kinds and bad snapshot headers each close their stream with a counter; the
//! node keeps serving everyone.

mod common;

use std::time::Duration;

use common::*;
use raft_core::NodeId;

/// Sends `bytes` on a new unidirectional stream and ends it.
async fn uni(raw: &RawClient, bytes: &[u8]) {
    let mut s = raw.conn.open_uni().await.unwrap();
    // The server may stop the stream before everything is written.
    let _ = s.write_all(bytes).await;
    let _ = s.finish();
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_frames_are_survived() {
    let mut c = cluster(3, |cfg| cfg.frames.max_frame_bytes = 64 << 10).await;
    // The raw client plays node 2 (a known member), whose own transport stops so as not to
    // supersede the raw client's connection.
    c.node(2).transport.shutdown().await;
    let cert2 = c.node(2).cert.clone();
    let n1_addr = c.node(1).addr;
    let raw = raw_connect(
        n1_addr,
        "node-1.test",
        c.ca.cert_pem(),
        &cert2.cert_pem,
        &cert2.key_pem,
        &[ALPN],
    )
    .await
    .unwrap();
    let metric = |c: &Cluster, f: fn(&raft_transport_quic::MetricsSnapshot) -> u64| {
        f(&c.nodes[0].transport.metrics())
    };

    // Undecodable.
    uni(&raw, &[&[0x01][..], &frame(&[0xff; 7])].concat()).await;
    // Oversized: a header announcing 4 GiB, and one just over the 64 KiB limit.
    uni(&raw, &[0x01, 0xff, 0xff, 0xff, 0xff]).await;
    uni(
        &raw,
        &[&[0x01][..], &((64u32 << 10) + 1).to_be_bytes()].concat(),
    )
    .await;
    // Truncated: the stream ends inside a frame.
    uni(
        &raw,
        &[&[0x01][..], &100u32.to_be_bytes(), &[0u8; 10]].concat(),
    )
    .await;
    // Unknown stream kind.
    uni(&raw, &[0x7f, 1, 2, 3]).await;
    // A valid message followed by trailing garbage inside its frame.
    let mut payload = postcard::to_allocvec(&heartbeat(2, 1, 1)).unwrap();
    payload.push(0);
    uni(&raw, &[&[0x01][..], &frame(&payload)].concat()).await;
    // A snapshot stream with an undecodable header, and one whose header is not a snapshot.
    for header in [
        vec![0xffu8; 5],
        postcard::to_allocvec(&heartbeat(2, 1, 1)).unwrap(),
    ] {
        let (mut s, _r) = raw.conn.open_bi().await.unwrap();
        let _ = s.write_all(&[&[0x02][..], &frame(&header)].concat()).await;
        let _ = s.finish();
    }
    assert!(
        wait_until(Duration::from_secs(5), || {
            metric(&c, |m| m.decode_errors) >= 4
                && metric(&c, |m| m.frames_oversized) >= 2
                && metric(&c, |m| m.unknown_streams) >= 1
                && metric(&c, |m| m.snapshots_refused) >= 1
        })
        .await,
        "{:?}",
        c.nodes[0].transport.metrics()
    );

    // Random bytes on many streams.
    let mut rng = fastrand::Rng::with_seed(1);
    for _ in 0..200 {
        let len = rng.usize(1..300);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        bytes[0] = 0x01;
        if rng.bool() && len > 5 {
            // A plausible length, so the payload reaches the decoder.
            bytes[1..5].copy_from_slice(&((len - 5) as u32).to_be_bytes());
        }
        uni(&raw, &bytes).await;
    }

    // The connection and the node survive: a valid message on a fresh stream arrives, and the
    // other nodes are served as before.
    uni(
        &raw,
        &[
            &[0x01][..],
            &frame(&postcard::to_allocvec(&heartbeat(2, 1, 7)).unwrap()),
        ]
        .concat(),
    )
    .await;
    let m = recv_within(&mut c.node(1).inbox, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!((m.from, m.body), (NodeId(2), heartbeat(2, 1, 7).body));
    assert!(raw.conn.close_reason().is_none(), "the connection survives");
    c.node(3).transport.send(heartbeat(3, 1, 8)).unwrap();
    let m = recv_within(&mut c.node(1).inbox, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(m.from, NodeId(3));
    c.node(1).transport.send(heartbeat(1, 3, 9)).unwrap();
    assert!(
        recv_within(&mut c.node(3).inbox, Duration::from_secs(5))
            .await
            .is_some()
    );

    let m = c.nodes[0].transport.metrics();
    eprintln!("{m:?}");
    assert!(m.decode_errors >= 10, "{m:?}");
    assert!(logged("undecodable frame").await, "{}", logs());
    assert!(
        logged("frame exceeds the size limit; closing the stream").await,
        "{}",
        logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_is_dropped_by_its_sender() {
    let mut c = cluster(2, |cfg| cfg.frames.max_frame_bytes = 4096).await;
    let big = {
        let mut m = heartbeat(1, 2, 1);
        m.body = raft_core::MessageBody::Propose(raft_core::ForwardedProposals {
            commands: vec![bytes::Bytes::from(vec![0u8; 8192])],
        });
        m
    };
    c.node(1).transport.send(big).unwrap();
    c.node(1).transport.send(heartbeat(1, 2, 2)).unwrap();
    let m = recv_within(&mut c.node(2).inbox, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(m.body, heartbeat(1, 2, 2).body);
    let m = c.node(1).transport.metrics();
    assert_eq!(m.dropped_too_large, 1);
    let u = c.node(1).inbox.unreachable.try_recv().unwrap();
    assert_eq!(
        u.reason,
        raft_transport_quic::UnreachableReason::MessageTooLarge
    );
}
