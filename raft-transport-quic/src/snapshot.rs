//! Snapshot data streams: each snapshot on its own bidirectional QUIC stream, in chunks, with
//! flow control end to end.
//!
//! The sender writes the `InstallSnapshot` message, then the data in chunks, then ends the
//! stream; it completes once the receiver acknowledges. The receiver reads a chunk from the
//! network only when fewer than [`FrameLimits::snapshot_read_ahead`] chunks wait for the
//! application, so a slow consumer stalls the QUIC stream (its window), not memory; messages
//! travel on their own stream and keep flowing.
//!
//! [`FrameLimits::snapshot_read_ahead`]: crate::FrameLimits::snapshot_read_ahead

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use quinn::{Connection, ReadError, RecvStream, SendStream, WriteError};
use raft_core::{Message, MessageBody, NodeId, SnapshotMeta, SnapshotOffer, Term};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::diagnose::{explain, stream_code};
use crate::error::{SnapshotRecvError, SnapshotRefusal, SnapshotSendError};
use crate::framing::{FrameDecoder, FrameError, decode_value, encode_frame, header, read_frame};
use crate::metrics::{add, inc};
use crate::transport::Shared;
use crate::wire::{
    MAX_CONTROL_FRAME, PRIORITY_SNAPSHOT, STREAM_SNAPSHOT, SnapshotAck, SnapshotEnd, code, varint,
};

/// A snapshot a peer is streaming to this node.
///
/// Store the data from [`chunks`](Self::chunks); once it has ended without error, step
/// [`message`](Self::message) into the core. The sender learns the snapshot arrived when the
/// chunk stream has been read to its end. Dropping the snapshot earlier abandons it (the sender
/// sees [`SnapshotRefusal::Abandoned`]).
#[derive(Debug)]
pub struct IncomingSnapshot {
    /// The sender, authenticated by its certificate.
    pub from: NodeId,
    /// This node.
    pub to: NodeId,
    /// The sender's term.
    pub term: Term,
    /// Which snapshot it is.
    pub meta: SnapshotMeta,
    /// The snapshot's data.
    pub chunks: SnapshotChunks,
}

impl IncomingSnapshot {
    /// The `InstallSnapshot` message the leader sent, to step into the core once the data is
    /// stored.
    #[must_use]
    pub fn message(&self) -> Message {
        Message {
            from: self.from,
            to: self.to,
            term: self.term,
            body: MessageBody::InstallSnapshot(SnapshotOffer {
                meta: self.meta.clone(),
            }),
        }
    }
}

/// What the network task hands to [`SnapshotChunks`].
#[derive(Debug)]
enum Item {
    Data(Bytes),
    /// The end of the data: answering it acknowledges the snapshot to the sender.
    End(oneshot::Sender<()>),
    Failed(SnapshotRecvError),
}

/// The data of an incoming snapshot, as a stream of chunks.
///
/// Implements [`Stream`]`<Item = Result<Bytes, SnapshotRecvError>>`; for an
/// [`AsyncRead`](tokio::io::AsyncRead), wrap it in `tokio_util::io::StreamReader`
/// (`SnapshotRecvError` converts into `io::Error`). After an error the stream ends.
#[derive(Debug)]
pub struct SnapshotChunks {
    rx: mpsc::Receiver<Item>,
    received: u64,
    finished: bool,
}

impl SnapshotChunks {
    /// The next chunk; `None` once the snapshot has been received whole (or after an error).
    pub async fn next_chunk(&mut self) -> Option<Result<Bytes, SnapshotRecvError>> {
        std::future::poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// The data bytes received so far.
    #[must_use]
    pub fn bytes_received(&self) -> u64 {
        self.received
    }

    fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, SnapshotRecvError>>> {
        if self.finished {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Item::Data(b))) => {
                self.received += b.len() as u64;
                Poll::Ready(Some(Ok(b)))
            }
            Poll::Ready(Some(Item::End(ack))) => {
                self.finished = true;
                let _ = ack.send(());
                Poll::Ready(None)
            }
            Poll::Ready(Some(Item::Failed(e))) => {
                self.finished = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                self.finished = true;
                Poll::Ready(Some(Err(SnapshotRecvError::ShutDown)))
            }
        }
    }
}

impl Stream for SnapshotChunks {
    type Item = Result<Bytes, SnapshotRecvError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_chunk(cx)
    }
}

/// The chunks of a channel, as a [`Stream`].
pub(crate) struct ChannelChunks(pub(crate) mpsc::Receiver<io::Result<Bytes>>);

impl Stream for ChannelChunks {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().0.poll_recv(cx)
    }
}

/// Streams `source` to the peer on `conn` as the snapshot `message`; returns the bytes sent.
pub(crate) async fn send<S>(
    shared: &Shared,
    conn: &Connection,
    message: &Message,
    source: Pin<&mut S>,
) -> Result<u64, SnapshotSendError>
where
    S: Stream<Item = io::Result<Bytes>> + ?Sized,
{
    let peer = message.to;
    let (send, mut recv) = conn
        .open_bi()
        .await
        .map_err(|e| SnapshotSendError::ConnectionLost(explain(&e)))?;
    let _ = send.set_priority(PRIORITY_SNAPSHOT);
    // If this future is dropped mid-stream the stream is reset, never implicitly finished.
    let mut send = ResetOnDrop {
        stream: send,
        done: false,
    };
    let result = tokio::select! {
        biased;
        () = shared.cancel.cancelled() => Err(SnapshotSendError::ShutDown),
        r = send_stream(shared, &mut send.stream, &mut recv, message, source) => r,
    };
    match result {
        Ok(_) => send.done = true,
        Err(_) => {
            let _ = recv.stop(varint(code::SNAPSHOT_ABORTED));
        }
    }
    match &result {
        Ok(bytes) => {
            inc(&shared.metrics.snapshots_sent);
            add(&shared.metrics.snapshot_bytes_sent, *bytes);
            info!(node = %shared.id, %peer, bytes, "snapshot sent");
        }
        Err(e) => {
            inc(&shared.metrics.snapshots_send_failed);
            warn!(node = %shared.id, %peer, "snapshot send failed: {e}");
        }
    }
    result
}

async fn send_stream<S>(
    shared: &Shared,
    send: &mut SendStream,
    recv: &mut RecvStream,
    message: &Message,
    mut source: Pin<&mut S>,
) -> Result<u64, SnapshotSendError>
where
    S: Stream<Item = io::Result<Bytes>> + ?Sized,
{
    let peer = message.to;
    let write_err = |e: WriteError| match e {
        WriteError::Stopped(c) => SnapshotSendError::Refused {
            peer,
            reason: SnapshotRefusal::from_code(c),
        },
        WriteError::ConnectionLost(e) => SnapshotSendError::ConnectionLost(explain(&e)),
        other => SnapshotSendError::Protocol(other.to_string()),
    };

    let mut head = vec![STREAM_SNAPSHOT];
    encode_frame(&mut head, message, shared.frames.max_frame_bytes)
        .map_err(|e| SnapshotSendError::Protocol(e.to_string()))?;
    send.write_all(&head).await.map_err(write_err)?;

    let chunk_max = shared.frames.snapshot_chunk_bytes as usize;
    let mut total = 0u64;
    while let Some(chunk) = std::future::poll_fn(|cx| source.as_mut().poll_next(cx)).await {
        let mut chunk = chunk.map_err(SnapshotSendError::Source)?;
        while !chunk.is_empty() {
            let piece = chunk.split_to(chunk.len().min(chunk_max));
            // `piece.len() <= chunk_max`, a u32.
            let hdr = Bytes::copy_from_slice(&header(piece.len() as u32));
            total += piece.len() as u64;
            send.write_all_chunks(&mut [hdr, piece])
                .await
                .map_err(write_err)?;
        }
    }
    // The end marker: an empty frame, then the total. A stream that ends without it is
    // truncated, whatever the reason.
    let mut end = header(0).to_vec();
    encode_frame(&mut end, &SnapshotEnd { bytes: total }, MAX_CONTROL_FRAME)
        .map_err(|e| SnapshotSendError::Protocol(e.to_string()))?;
    send.write_all(&end).await.map_err(write_err)?;
    send.finish()
        .map_err(|e| SnapshotSendError::Protocol(e.to_string()))?;

    // The receiver acknowledges once its application has taken every chunk.
    let mut decoder = FrameDecoder::new(MAX_CONTROL_FRAME);
    let frame = match read_frame(recv, &mut decoder).await {
        Ok(Some(frame)) => frame,
        Ok(None) => {
            return Err(SnapshotSendError::Protocol(
                "the receiver ended the stream without acknowledging".into(),
            ));
        }
        Err(FrameError::Read(ReadError::Reset(c))) => {
            return Err(SnapshotSendError::Refused {
                peer,
                reason: SnapshotRefusal::from_code(c),
            });
        }
        Err(FrameError::Read(ReadError::ConnectionLost(e))) => {
            return Err(SnapshotSendError::ConnectionLost(explain(&e)));
        }
        Err(e) => return Err(SnapshotSendError::Protocol(e.to_string())),
    };
    let ack: SnapshotAck =
        decode_value(&frame).map_err(|e| SnapshotSendError::Protocol(e.to_string()))?;
    if ack.bytes != total {
        return Err(SnapshotSendError::Protocol(format!(
            "the receiver acknowledged {} bytes of {total}",
            ack.bytes
        )));
    }
    Ok(total)
}

/// Resets the stream when dropped: quinn would otherwise finish it, and a receiver could take
/// a truncated snapshot for a whole one.
struct ResetOnDrop {
    stream: SendStream,
    /// Acknowledged: nothing to reset.
    done: bool,
}

impl Drop for ResetOnDrop {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.stream.reset(varint(code::SNAPSHOT_SOURCE_FAILED));
        }
    }
}

/// Receives a snapshot stream (its kind byte already read) from the authenticated `peer`.
pub(crate) async fn receive(
    shared: Arc<Shared>,
    mut send: SendStream,
    mut recv: RecvStream,
    peer: NodeId,
) {
    let node = shared.id;
    let refuse = |send: &mut SendStream, recv: &mut RecvStream, c: u32| {
        let _ = recv.stop(varint(c));
        let _ = send.reset(varint(c));
    };

    // The header: the InstallSnapshot message.
    let mut decoder = FrameDecoder::new(shared.frames.max_frame_bytes);
    let head = tokio::select! {
        biased;
        () = shared.cancel.cancelled() => return refuse(&mut send, &mut recv, code::SHUTDOWN),
        r = tokio::time::timeout(shared.timeouts.handshake, read_frame(&mut recv, &mut decoder)) => r,
    };
    let head = match head {
        Ok(Ok(Some(frame))) => frame,
        Ok(Ok(None)) => return,
        Ok(Err(FrameError::Oversized { len, max })) => {
            inc(&shared.metrics.frames_oversized);
            warn!(%node, %peer, len, max, "snapshot header exceeds the size limit; refusing it");
            return refuse(&mut send, &mut recv, code::FRAME_TOO_LARGE);
        }
        Ok(Err(e)) => {
            debug!(%node, %peer, "snapshot stream ended in its header: {e}");
            return;
        }
        Err(_) => {
            debug!(%node, %peer, "snapshot header not sent in time");
            return refuse(&mut send, &mut recv, code::SNAPSHOT_INVALID);
        }
    };
    let message: Message = match decode_value(&head) {
        Ok(m) => m,
        Err(e) => {
            inc(&shared.metrics.decode_errors);
            warn!(%node, %peer, "undecodable snapshot header ({e}); refusing it");
            return refuse(&mut send, &mut recv, code::DECODE_ERROR);
        }
    };
    let meta = match message.body {
        MessageBody::InstallSnapshot(offer) if message.from == peer && message.to == node => {
            offer.meta
        }
        _ => {
            inc(&shared.metrics.snapshots_refused);
            if message.from != peer {
                inc(&shared.metrics.dropped_spoofed);
            }
            warn!(
                %node, %peer, from = %message.from, to = %message.to,
                "refusing a snapshot stream whose header is not an InstallSnapshot from the peer to this node"
            );
            return refuse(&mut send, &mut recv, code::SNAPSHOT_INVALID);
        }
    };

    let (tx, rx) = mpsc::channel(shared.frames.snapshot_read_ahead);
    let incoming = IncomingSnapshot {
        from: peer,
        to: node,
        term: message.term,
        meta,
        chunks: SnapshotChunks {
            rx,
            received: 0,
            finished: false,
        },
    };
    if shared.snapshots_tx.try_send(incoming).is_err() {
        inc(&shared.metrics.snapshots_refused);
        warn!(%node, %peer, "refusing a snapshot: too many incoming snapshots wait for the application");
        return refuse(&mut send, &mut recv, code::SNAPSHOT_BUSY);
    }

    // The data: forwarded chunk by chunk, at the pace the application takes it.
    decoder.set_max(shared.frames.max_snapshot_chunk_bytes);
    let mut total = 0u64;
    loop {
        let frame = tokio::select! {
            biased;
            () = shared.cancel.cancelled() => {
                let _ = tx.send(Item::Failed(SnapshotRecvError::ShutDown)).await;
                return refuse(&mut send, &mut recv, code::SHUTDOWN);
            }
            f = read_frame(&mut recv, &mut decoder) => f,
        };
        let failure = match frame {
            Ok(Some(chunk)) if chunk.is_empty() => {
                // The end marker: the total, then the end of the stream.
                decoder.set_max(MAX_CONTROL_FRAME);
                match read_end(&mut recv, &mut decoder, total).await {
                    Ok(()) => break,
                    Err(e) => {
                        inc(&shared.metrics.decode_errors);
                        refuse(&mut send, &mut recv, code::DECODE_ERROR);
                        e
                    }
                }
            }
            Ok(Some(chunk)) => {
                total += chunk.len() as u64;
                let forwarded = tokio::select! {
                    biased;
                    () = shared.cancel.cancelled() => false,
                    r = tx.send(Item::Data(chunk)) => r.is_ok(),
                };
                if !forwarded {
                    inc(&shared.metrics.snapshots_receive_failed);
                    debug!(%node, %peer, "the application abandoned an incoming snapshot");
                    return refuse(&mut send, &mut recv, code::SNAPSHOT_ABORTED);
                }
                continue;
            }
            Ok(None) => SnapshotRecvError::Truncated,
            Err(FrameError::Oversized { len, max }) => {
                inc(&shared.metrics.frames_oversized);
                warn!(%node, %peer, len, max, "snapshot chunk exceeds the size limit; closing the stream");
                refuse(&mut send, &mut recv, code::FRAME_TOO_LARGE);
                SnapshotRecvError::ChunkTooLarge { len, max }
            }
            Err(FrameError::Truncated) => {
                inc(&shared.metrics.decode_errors);
                SnapshotRecvError::Truncated
            }
            Err(FrameError::Read(ReadError::Reset(c))) => {
                SnapshotRecvError::Aborted(stream_code(c))
            }
            Err(FrameError::Read(ReadError::ConnectionLost(e))) => {
                SnapshotRecvError::ConnectionLost(explain(&e))
            }
            Err(FrameError::Read(e)) => SnapshotRecvError::ConnectionLost(e.to_string()),
        };
        inc(&shared.metrics.snapshots_receive_failed);
        warn!(%node, %peer, bytes = total, "incoming snapshot failed: {failure}");
        let _ = tx.send(Item::Failed(failure)).await;
        return;
    }

    // Acknowledge once the application has taken the end of the stream.
    let (ack_tx, ack_rx) = oneshot::channel();
    let taken = tokio::select! {
        biased;
        () = shared.cancel.cancelled() => false,
        r = async {
            tx.send(Item::End(ack_tx)).await.is_ok() && ack_rx.await.is_ok()
        } => r,
    };
    if !taken {
        inc(&shared.metrics.snapshots_receive_failed);
        debug!(%node, %peer, "the application abandoned an incoming snapshot at its end");
        return refuse(&mut send, &mut recv, code::SNAPSHOT_ABORTED);
    }
    let mut buf = Vec::new();
    if encode_frame(&mut buf, &SnapshotAck { bytes: total }, MAX_CONTROL_FRAME).is_err() {
        return refuse(&mut send, &mut recv, code::SNAPSHOT_ABORTED);
    }
    if let Err(e) = send.write_all(&buf).await {
        debug!(%node, %peer, "could not acknowledge a snapshot: {e}");
        return;
    }
    let _ = send.finish();
    inc(&shared.metrics.snapshots_received);
    add(&shared.metrics.snapshot_bytes_received, total);
    info!(%node, %peer, bytes = total, "snapshot received");
}

/// Reads the total after the end marker, and the end of the stream.
async fn read_end(
    recv: &mut RecvStream,
    decoder: &mut FrameDecoder,
    total: u64,
) -> Result<(), SnapshotRecvError> {
    let malformed = |what: String| SnapshotRecvError::Malformed(what);
    let frame = read_frame(recv, decoder)
        .await
        .map_err(|e| malformed(e.to_string()))?
        .ok_or_else(|| malformed("no total after the end marker".into()))?;
    let end: SnapshotEnd = decode_value(&frame).map_err(|e| malformed(e.to_string()))?;
    if end.bytes != total {
        return Err(malformed(format!(
            "the sender sent {} bytes, {total} arrived",
            end.bytes
        )));
    }
    match read_frame(recv, decoder).await {
        Ok(None) => Ok(()),
        Ok(Some(_)) => Err(malformed("data after the end marker".into())),
        Err(e) => Err(malformed(e.to_string())),
    }
}
