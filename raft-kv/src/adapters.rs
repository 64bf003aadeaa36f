//! The glue between `raft-tokio`'s traits and the production crates: the RocksDB log store and
//! the QUIC transport.

use std::io;
use std::sync::Arc;

use raft_core::{Index, Write};
use raft_storage_rocks::RocksLog;
use raft_tokio::{ChunkReceiver, Inbound, LogStore, LogStoreError, SendFuture, TransportError};
use raft_transport_quic::{Inbox, IncomingSnapshot, Transport as Quic, Unreachable};
use tokio::sync::mpsc;

/// The RocksDB log store as a `raft-tokio` [`LogStore`]: each batch the driver's persistence
/// thread gathers (group commit) is one RocksDB write batch with at most one fsync.
pub struct RocksLogStore(pub RocksLog);

impl LogStore for RocksLogStore {
    type Reader = RocksLog;

    fn reader(&self) -> RocksLog {
        self.0.clone()
    }

    fn write_batch(&mut self, writes: &[Write]) -> Result<(), LogStoreError> {
        for r in self.0.write_group(writes) {
            r.map_err(|e| LogStoreError(Box::new(e)))?;
        }
        Ok(())
    }

    fn compact(&mut self, to: Index) -> Result<(), LogStoreError> {
        self.0.compact(to).map_err(|e| LogStoreError(Box::new(e)))
    }
}

/// The QUIC transport as a `raft-tokio` [`Transport`](raft_tokio::Transport).
#[derive(Clone)]
pub struct QuicNet(pub Arc<Quic>);

impl raft_tokio::Transport for QuicNet {
    fn send(&self, message: raft_core::Message) {
        // Refusals (full queue, unknown or unreachable peer) are counted by the transport and
        // reported through its inbox as unreachable peers.
        let _ = self.0.send(message);
    }

    fn send_snapshot(&self, message: raft_core::Message, chunks: ChunkReceiver) -> SendFuture {
        let quic = Arc::clone(&self.0);
        Box::pin(async move {
            quic.send_snapshot_from_channel(message, chunks)
                .await
                .map(|_| ())
                .map_err(|e| TransportError::Io(io::Error::other(e.to_string())))
        })
    }
}

/// The QUIC transport's inbox as the driver's: peer messages go to the driver on the
/// transport's own channel; snapshots and unreachable peers, which need converting, through a
/// task that converts them.
pub fn driver_inbox(inbox: Inbox) -> (raft_tokio::Inbox, tokio::task::JoinHandle<()>) {
    let Inbox {
        messages,
        snapshots,
        unreachable,
    } = inbox;
    let (tx, other) = mpsc::channel(64);
    let task = tokio::spawn(pump(snapshots, unreachable, tx));
    (raft_tokio::Inbox { messages, other }, task)
}

/// Converts what the QUIC transport receives besides messages into the driver's events, until
/// either side closes.
async fn pump(
    mut snapshots: mpsc::Receiver<IncomingSnapshot>,
    mut unreachable: mpsc::Receiver<Unreachable>,
    tx: mpsc::Sender<Inbound>,
) {
    loop {
        let inbound = tokio::select! {
            s = snapshots.recv() => match s {
                Some(mut s) => {
                    let message = s.message();
                    let (chunk_tx, chunk_rx) = mpsc::channel(4);
                    tokio::spawn(async move {
                        while let Some(chunk) = s.chunks.next_chunk().await {
                            let chunk = chunk.map_err(|e| io::Error::other(e.to_string()));
                            if chunk_tx.send(chunk).await.is_err() {
                                return;
                            }
                        }
                    });
                    Inbound::Snapshot { message, chunks: chunk_rx }
                }
                None => return,
            },
            u = unreachable.recv() => match u {
                Some(u) => Inbound::Unreachable(u.peer),
                None => return,
            },
        };
        if tx.send(inbound).await.is_err() {
            return;
        }
    }
}
