//! What the leader knows of each follower's log, and how it paces replication to it.
//!
//! A follower is in one of three states (as in etcd's `tracker`):
//! - **Probe**: the leader does not know where the logs diverge. It sends one append at a time and
//!   waits for the answer (or a heartbeat response) before sending another.
//! - **Replicate**: the logs match up to `match_index`. The leader streams appends optimistically,
//!   advancing `next` as it sends, within an in-flight window bounded in messages and bytes.
//! - **Snapshot**: the entries the follower needs are compacted. The leader has offered a snapshot
//!   and sends nothing else until the follower reports on it.

use alloc::collections::VecDeque;

use crate::types::Index;

/// The replication state of one follower. See the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressState {
    /// Finding the point where the logs agree; one append in flight at a time.
    Probe,
    /// Streaming entries within the in-flight window.
    Replicate,
    /// Waiting for the follower to install the snapshot ending at `index`.
    Snapshot {
        /// The last index the offered snapshot covers.
        index: Index,
    },
}

/// A bounded window of appends sent and not yet acknowledged: for each, the last index it
/// carried and its payload bytes.
#[derive(Clone, Debug)]
pub(crate) struct Inflights {
    sent: VecDeque<(Index, u64)>,
    bytes: u64,
    max_count: usize,
    max_bytes: u64,
}

impl Inflights {
    pub(crate) fn new(max_count: usize, max_bytes: u64) -> Inflights {
        Inflights {
            sent: VecDeque::new(),
            bytes: 0,
            max_count,
            max_bytes,
        }
    }

    /// Whether another append may be sent.
    pub(crate) fn is_full(&self) -> bool {
        self.sent.len() >= self.max_count || self.bytes >= self.max_bytes
    }

    /// The payload bytes the window can still take before it is full (at least one entry is
    /// always allowed when not full).
    pub(crate) fn room_bytes(&self) -> u64 {
        self.max_bytes.saturating_sub(self.bytes)
    }

    pub(crate) fn add(&mut self, last: Index, bytes: u64) {
        self.sent.push_back((last, bytes));
        self.bytes = self.bytes.saturating_add(bytes);
    }

    /// Frees every append whose last index is at or below `index`.
    pub(crate) fn free_to(&mut self, index: Index) {
        while let Some(&(last, bytes)) = self.sent.front() {
            if last > index {
                break;
            }
            self.bytes -= bytes;
            self.sent.pop_front();
        }
    }

    /// Frees the oldest append (its answer may have been lost; the next append will find out).
    pub(crate) fn free_first(&mut self) {
        if let Some((_, bytes)) = self.sent.pop_front() {
            self.bytes -= bytes;
        }
    }

    pub(crate) fn reset(&mut self) {
        self.sent.clear();
        self.bytes = 0;
    }

    pub(crate) fn len(&self) -> usize {
        self.sent.len()
    }
}

/// The leader's view of one peer.
#[derive(Clone, Debug)]
pub(crate) struct Progress {
    /// The highest index known to match the leader's log (and be durable on the peer).
    pub(crate) match_index: Index,
    /// The next index to send.
    pub(crate) next: Index,
    pub(crate) state: ProgressState,
    /// In probe state: an append is outstanding; wait for its answer or a heartbeat response.
    pub(crate) probe_sent: bool,
    pub(crate) inflights: Inflights,
    /// Heard from since the last check-quorum round.
    pub(crate) recent_active: bool,
    /// The commit index changed since the peer was last told; send an append even if empty.
    pub(crate) commit_dirty: bool,
    /// The highest read round the peer answered (see [`crate::read`]).
    pub(crate) read_round: u64,
}

impl Progress {
    pub(crate) fn new(next: Index, max_inflight: usize, max_inflight_bytes: u64) -> Progress {
        Progress {
            match_index: Index::ZERO,
            next,
            state: ProgressState::Probe,
            probe_sent: false,
            inflights: Inflights::new(max_inflight, max_inflight_bytes),
            recent_active: false,
            commit_dirty: false,
            read_round: 0,
        }
    }

    pub(crate) fn become_probe(&mut self) {
        self.next = match self.state {
            // Resume after the snapshot if it got through, else just after the match.
            ProgressState::Snapshot { index } => self.match_index.next().max(index.next()),
            _ => self.match_index.next(),
        };
        self.state = ProgressState::Probe;
        self.probe_sent = false;
        self.inflights.reset();
    }

    pub(crate) fn become_replicate(&mut self) {
        self.state = ProgressState::Replicate;
        self.next = self.match_index.next();
        self.probe_sent = false;
        self.inflights.reset();
    }

    pub(crate) fn become_snapshot(&mut self, index: Index) {
        self.state = ProgressState::Snapshot { index };
        self.probe_sent = false;
        self.inflights.reset();
    }

    /// Records that the peer matches up to `n`. Returns whether `match_index` moved.
    pub(crate) fn update_match(&mut self, n: Index) -> bool {
        let moved = n > self.match_index;
        if moved {
            self.match_index = n;
            self.probe_sent = false;
        }
        self.next = self.next.max(n.next());
        moved
    }

    /// Handles a rejection of the append whose `prev.index` was `rejected`; `resume` is the index
    /// after the leader's last entry that agrees with the peer's hint. Returns false when the
    /// rejection is stale (it answers an append sent before the current state began).
    pub(crate) fn on_reject(&mut self, rejected: Index, resume: Index) -> bool {
        match self.state {
            ProgressState::Replicate => {
                if rejected <= self.match_index {
                    return false;
                }
                self.become_probe();
                self.next = resume.min(rejected).max(self.match_index.next());
                true
            }
            ProgressState::Probe => {
                if self.next.prev() != rejected {
                    return false;
                }
                self.next = resume.min(rejected).max(self.match_index.next());
                self.probe_sent = false;
                true
            }
            ProgressState::Snapshot { .. } => false,
        }
    }

    /// Whether an append may be sent now (the window or probe allows it).
    pub(crate) fn can_send(&self) -> bool {
        match self.state {
            ProgressState::Probe => !self.probe_sent,
            ProgressState::Replicate => !self.inflights.is_full(),
            ProgressState::Snapshot { .. } => false,
        }
    }

    /// Records an append sent with entries up to `last` (`None` for an empty append).
    pub(crate) fn sent(&mut self, last: Option<Index>, bytes: u64) {
        match self.state {
            ProgressState::Replicate => {
                if let Some(last) = last {
                    self.next = last.next();
                    self.inflights.add(last, bytes);
                }
            }
            ProgressState::Probe => self.probe_sent = true,
            ProgressState::Snapshot { .. } => {}
        }
        self.commit_dirty = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_bounds_count_and_bytes() {
        let mut w = Inflights::new(2, 100);
        assert!(!w.is_full());
        w.add(Index(5), 10);
        w.add(Index(9), 10);
        assert!(w.is_full());
        w.free_to(Index(5));
        assert_eq!(w.len(), 1);
        assert!(!w.is_full());
        w.add(Index(12), 200);
        assert!(w.is_full());
        w.free_to(Index(100));
        assert_eq!(w.len(), 0);
        assert_eq!(w.room_bytes(), 100);
    }

    #[test]
    fn stale_rejections_are_ignored() {
        let mut p = Progress::new(Index(11), 8, 1 << 20);
        p.match_index = Index(5);
        p.become_replicate();
        p.sent(Some(Index(10)), 10);
        assert!(!p.on_reject(Index(4), Index(3)), "below match: stale");
        assert!(p.on_reject(Index(8), Index(7)));
        assert_eq!(p.state, ProgressState::Probe);
        assert_eq!(p.next, Index(7));
        p.sent(None, 0);
        assert!(!p.can_send());
        assert!(
            !p.on_reject(Index(9), Index(3)),
            "not the outstanding probe"
        );
        assert!(p.on_reject(Index(6), Index(6)));
        assert_eq!(p.next, Index(6));
        assert!(p.can_send());
    }
}
