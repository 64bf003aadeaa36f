//! Reports to the application that messages to a peer could not be delivered, so that the core
//! can stop streaming to it and probe instead (`raft_core::Raft::report_unreachable`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use raft_core::NodeId;
use tokio::sync::mpsc;

use crate::metrics::{Metrics, inc};

/// Messages to `peer` could not be delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unreachable {
    /// The peer.
    pub peer: NodeId,
    /// Why.
    pub reason: UnreachableReason,
}

/// Why a message could not be delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UnreachableReason {
    /// The peer's outbound queue was full: the peer is slow, or the link is.
    QueueFull,
    /// The peer is not connected: connecting failed or the connection was lost.
    NotConnected,
    /// No address is known for the peer.
    UnknownPeer,
    /// The message's encoding exceeds the frame limit.
    MessageTooLarge,
}

/// Sends [`Unreachable`] reports, at most one per peer per interval.
#[derive(Debug)]
pub(crate) struct Reporter {
    tx: mpsc::Sender<Unreachable>,
    interval: Duration,
    last: Mutex<HashMap<NodeId, Instant>>,
    metrics: Arc<Metrics>,
}

impl Reporter {
    /// A reporter into `tx`.
    pub(crate) fn new(
        tx: mpsc::Sender<Unreachable>,
        interval: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            tx,
            interval,
            last: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    /// Reports `peer` unreachable unless it was reported less than an interval ago.
    pub(crate) fn report(&self, peer: NodeId, reason: UnreachableReason) {
        let now = Instant::now();
        {
            let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(at) = last.get(&peer) {
                if now.duration_since(*at) < self.interval {
                    return;
                }
            }
            if last.len() >= 4096 {
                let interval = self.interval;
                last.retain(|_, at| now.duration_since(*at) < interval);
            }
            last.insert(peer, now);
        }
        match self.tx.try_send(Unreachable { peer, reason }) {
            Ok(()) => inc(&self.metrics.unreachable_reported),
            Err(_) => inc(&self.metrics.unreachable_dropped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_rate_limited_per_peer() {
        let (tx, mut rx) = mpsc::channel(16);
        let metrics = Arc::new(Metrics::default());
        let r = Reporter::new(tx, Duration::from_secs(60), metrics.clone());
        r.report(NodeId(1), UnreachableReason::QueueFull);
        r.report(NodeId(1), UnreachableReason::NotConnected);
        r.report(NodeId(2), UnreachableReason::NotConnected);
        assert_eq!(rx.try_recv().unwrap().peer, NodeId(1));
        assert_eq!(rx.try_recv().unwrap().peer, NodeId(2));
        assert!(rx.try_recv().is_err());
        assert_eq!(metrics.snapshot().unreachable_reported, 2);
    }
}
