//! Accepting connections: handshake checks (protocol version, node identity, membership), the
//! hello, and reading message streams into the inbox.

use std::sync::Arc;
use std::sync::PoisonError;

use quinn::{Connection, Incoming, RecvStream};
use raft_core::{Message, NodeId};
use tracing::{debug, info, warn};

use crate::diagnose::explain;
use crate::framing::{
    FrameDecoder, FrameError, HEADER_LEN, decode_value, encode_frame, read_frame,
};
use crate::identity::peer_node_id;
use crate::metrics::{add, inc};
use crate::snapshot;
use crate::tls::check_alpn;
use crate::transport::Shared;
use crate::wire::{
    Hello, MAX_CONTROL_FRAME, STREAM_HELLO, STREAM_MESSAGES, STREAM_SNAPSHOT, code, varint,
};

/// Accepts connections until the transport shuts down.
pub(crate) async fn accept_loop(shared: Arc<Shared>) {
    loop {
        let incoming = tokio::select! {
            biased;
            () = shared.cancel.cancelled() => break,
            i = shared.endpoint.accept() => match i {
                Some(i) => i,
                None => break,
            },
        };
        shared
            .tracker
            .spawn(handle_incoming(shared.clone(), incoming));
    }
    debug!(node = %shared.id, "accept loop stopped");
}

/// Completes and checks one inbound connection, then serves it.
async fn handle_incoming(shared: Arc<Shared>, incoming: Incoming) {
    let remote = incoming.remote_address();
    let node = shared.id;
    let refuse = |why: &str| {
        inc(&shared.metrics.inbound_refused);
        warn!(%node, %remote, "refused inbound connection: {why}");
    };
    let connecting = match incoming.accept() {
        Ok(c) => c,
        Err(e) => return refuse(&explain(&e)),
    };
    let conn = tokio::select! {
        biased;
        () = shared.cancel.cancelled() => return,
        r = tokio::time::timeout(shared.timeouts.handshake, connecting) => match r {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return refuse(&explain(&e)),
            Err(_) => return refuse("handshake timed out"),
        },
    };
    // Each refusal is logged before the connection is closed, so the log line is there by the
    // time the peer learns of it.
    if let Err(why) = check_alpn(&conn) {
        refuse(&format!("incompatible protocol version: {why}"));
        return conn.close(varint(code::BAD_PROTOCOL), why.as_bytes());
    }
    let peer = match peer_node_id(&conn, &shared.cluster) {
        Ok(peer) => peer,
        Err(e) => {
            refuse(&e.to_string());
            return conn.close(varint(code::BAD_IDENTITY), e.to_string().as_bytes());
        }
    };
    if peer == shared.id {
        refuse(&format!(
            "the peer claims this node's own identity ({peer})"
        ));
        return conn.close(varint(code::BAD_IDENTITY), b"that is my own identity");
    }
    if !shared.accept_unknown_peers && !shared.is_known(peer) {
        refuse(&format!("node {peer} is not a known member"));
        return conn.close(varint(code::UNKNOWN_PEER), b"not a known member");
    }
    if let Err(why) = send_hello(&conn).await {
        debug!(%node, %peer, %remote, "inbound connection closed before hello: {why}");
        return;
    }
    inc(&shared.metrics.inbound_accepted);
    info!(%node, %peer, %remote, "accepted connection from peer");
    if let Some(handle) = shared
        .peers
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&peer)
    {
        handle.nudge();
    }

    // One inbound connection per peer: a newer one (the peer restarted or reconnected) wins.
    let previous = shared
        .inbound_conns
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(peer, conn.clone());
    if let Some(old) = previous {
        old.close(varint(code::SUPERSEDED), b"superseded");
    }

    serve(&shared, &conn, peer).await;

    let mut conns = shared
        .inbound_conns
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if conns.get(&peer).map(Connection::stable_id) == Some(conn.stable_id()) {
        conns.remove(&peer);
    }
}

/// Tells the client it is accepted.
async fn send_hello(conn: &Connection) -> Result<(), String> {
    let mut s = conn.open_uni().await.map_err(|e| explain(&e))?;
    let mut buf = vec![STREAM_HELLO];
    encode_frame(&mut buf, &Hello { version: 1 }, MAX_CONTROL_FRAME).map_err(|e| e.to_string())?;
    s.write_all(&buf).await.map_err(|e| e.to_string())?;
    s.finish().map_err(|e| e.to_string())
}

/// Accepts the peer's streams until the connection ends.
async fn serve(shared: &Arc<Shared>, conn: &Connection, peer: NodeId) {
    loop {
        tokio::select! {
            biased;
            () = shared.cancel.cancelled() => {
                conn.close(varint(code::SHUTDOWN), b"shutting down");
                return;
            }
            s = conn.accept_uni() => match s {
                Ok(recv) => {
                    shared.tracker.spawn(read_uni(shared.clone(), recv, peer));
                }
                Err(e) => {
                    debug!(node = %shared.id, %peer, "inbound connection ended: {}", explain(&e));
                    return;
                }
            },
            s = conn.accept_bi() => match s {
                Ok((send, mut recv)) => {
                    let shared = shared.clone();
                    shared.tracker.clone().spawn(async move {
                        match read_kind(&shared, &mut recv, peer).await {
                            Some(STREAM_SNAPSHOT) => snapshot::receive(shared, send, recv, peer).await,
                            Some(other) => unknown_stream(&shared, &mut recv, peer, other),
                            None => {}
                        }
                    });
                }
                Err(e) => {
                    debug!(node = %shared.id, %peer, "inbound connection ended: {}", explain(&e));
                    return;
                }
            },
        }
    }
}

/// Reads a stream's kind byte, within the handshake timeout.
async fn read_kind(shared: &Shared, recv: &mut RecvStream, peer: NodeId) -> Option<u8> {
    let mut kind = [0u8; 1];
    match tokio::time::timeout(shared.timeouts.handshake, recv.read_exact(&mut kind)).await {
        Ok(Ok(())) => Some(kind[0]),
        Ok(Err(e)) => {
            debug!(node = %shared.id, %peer, "stream ended before its kind byte: {e}");
            None
        }
        Err(_) => {
            debug!(node = %shared.id, %peer, "stream sent no kind byte in time");
            let _ = recv.stop(varint(code::DECODE_ERROR));
            None
        }
    }
}

fn unknown_stream(shared: &Shared, recv: &mut RecvStream, peer: NodeId, kind: u8) {
    inc(&shared.metrics.unknown_streams);
    warn!(node = %shared.id, %peer, kind, "refusing a stream of unknown kind");
    let _ = recv.stop(varint(code::UNKNOWN_STREAM));
}

/// Dispatches a unidirectional stream on its kind byte.
async fn read_uni(shared: Arc<Shared>, mut recv: RecvStream, peer: NodeId) {
    match read_kind(&shared, &mut recv, peer).await {
        Some(STREAM_MESSAGES) => read_messages(&shared, recv, peer).await,
        Some(other) => unknown_stream(&shared, &mut recv, peer, other),
        None => {}
    }
}

/// Reads a message stream into the inbox. A bad frame closes the stream (the peer opens a new
/// one); a message whose `from` is not the peer, or whose `to` is not us, is dropped.
async fn read_messages(shared: &Shared, mut recv: RecvStream, peer: NodeId) {
    let node = shared.id;
    let mut decoder = FrameDecoder::new(shared.frames.max_frame_bytes);
    let mut warned_spoof = false;
    loop {
        let frame = tokio::select! {
            biased;
            () = shared.cancel.cancelled() => return,
            f = read_frame(&mut recv, &mut decoder) => f,
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => return,
            Err(FrameError::Oversized { len, max }) => {
                inc(&shared.metrics.frames_oversized);
                warn!(%node, %peer, len, max, "frame exceeds the size limit; closing the stream");
                let _ = recv.stop(varint(code::FRAME_TOO_LARGE));
                return;
            }
            Err(FrameError::Truncated) => {
                inc(&shared.metrics.decode_errors);
                warn!(%node, %peer, "message stream ended inside a frame");
                return;
            }
            Err(FrameError::Read(e)) => {
                debug!(%node, %peer, "message stream ended: {e}");
                return;
            }
        };
        let msg: Message = match decode_value(&frame) {
            Ok(msg) => msg,
            Err(e) => {
                inc(&shared.metrics.decode_errors);
                warn!(%node, %peer, bytes = frame.len(), "undecodable frame ({e}); closing the stream");
                let _ = recv.stop(varint(code::DECODE_ERROR));
                return;
            }
        };
        add(
            &shared.metrics.bytes_received,
            (frame.len() + HEADER_LEN) as u64,
        );
        if msg.from != peer {
            inc(&shared.metrics.dropped_spoofed);
            if !warned_spoof {
                warned_spoof = true;
                warn!(%node, %peer, claimed = %msg.from, "dropping messages whose sender is not the authenticated peer");
            }
            continue;
        }
        if msg.to != node {
            inc(&shared.metrics.dropped_misaddressed);
            continue;
        }
        inc(&shared.metrics.messages_received);
        tokio::select! {
            biased;
            () = shared.cancel.cancelled() => return,
            r = shared.inbound_tx.send(msg) => if r.is_err() {
                // The application dropped its inbox.
                return;
            },
        }
    }
}
