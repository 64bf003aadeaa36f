//! Snapshots (Raft §7): registering one the application took, compacting the log behind it,
//! offering it to a follower that needs compacted entries, and installing one from the leader.

use core::fmt;

use rand_core::Rng;

use super::{Raft, RoleState};
use crate::error::{Malformed, StepError};
use crate::message::{AppendResponse, MessageBody, MessageKind, SnapshotOffer};
use crate::progress::ProgressState;
use crate::snapshot::SnapshotMeta;
use crate::storage::{Storage, StorageError};
use crate::types::{Index, LogId, NodeId};

/// Why a snapshot could not be registered or the log could not be compacted.
#[derive(Debug)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The index is beyond what the state machine acknowledged as applied.
    NotApplied {
        /// The index given.
        index: Index,
        /// The applied index.
        applied: Index,
    },
    /// The index is at or before the current log start: nothing new.
    Stale {
        /// The index given.
        index: Index,
        /// The log start.
        log_start: Index,
    },
    /// Compaction past the latest registered snapshot (or past durable entries).
    NotCovered {
        /// The index given.
        index: Index,
        /// How far compaction may go now.
        limit: Index,
    },
    /// The log store failed; the node is halted.
    Storage(StorageError),
    /// The node halted after a storage failure.
    Halted,
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::NotApplied { index, applied } => {
                write!(f, "index {index} is beyond the applied index {applied}")
            }
            SnapshotError::Stale { index, log_start } => {
                write!(f, "index {index} is not after the log start {log_start}")
            }
            SnapshotError::NotCovered { index, limit } => {
                write!(f, "cannot compact to {index}: at most to {limit}")
            }
            SnapshotError::Storage(e) => write!(f, "{e}"),
            SnapshotError::Halted => f.write_str("the node halted after a storage failure"),
        }
    }
}

impl core::error::Error for SnapshotError {}

/// The outcome of streaming a snapshot to a follower, reported by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotStatus {
    /// The follower received all of the data.
    Delivered,
    /// Streaming failed; the leader retries later.
    Failed,
}

impl<S: Storage, R: Rng> Raft<S, R> {
    /// Registers a snapshot the application took of its state machine at `index` (at most the
    /// applied index), and returns its metadata for the application to keep with the data.
    /// Followers that need entries before the log start are sent the latest registered snapshot.
    ///
    /// This does not compact the log; see [`Raft::compact`].
    pub fn snapshot_taken(&mut self, index: Index) -> Result<SnapshotMeta, SnapshotError> {
        if self.halted {
            return Err(SnapshotError::Halted);
        }
        let applied = self.log.applied();
        if index > applied {
            return Err(SnapshotError::NotApplied { index, applied });
        }
        let current = self
            .snapshot
            .as_ref()
            .map_or(self.log.log_start().index, |s| s.last.index);
        if index <= current {
            return Err(SnapshotError::Stale {
                index,
                log_start: current,
            });
        }
        let term = match self.log.term(index) {
            Ok(Some(t)) => t,
            Ok(None) => return Err(SnapshotError::NotApplied { index, applied }),
            Err(e) => {
                self.halt();
                return Err(SnapshotError::Storage(e));
            }
        };
        let meta = SnapshotMeta {
            last: LogId::new(term, index),
            membership: self.membership_at(index),
        };
        self.snapshot = Some(meta.clone());
        self.snapshot_to_record = Some(meta.clone());
        Ok(meta)
    }

    /// Moves the log start to `index`, after which the caller may delete the entries up to and
    /// including it from its store (and must not before). Allowed up to the latest registered
    /// snapshot, and only over durable, applied entries. Returns the new log start.
    ///
    /// Keeping some entries behind the snapshot (compacting to an earlier index) lets slightly
    /// lagging followers catch up from the log instead of a snapshot.
    pub fn compact(&mut self, index: Index) -> Result<LogId, SnapshotError> {
        if self.halted {
            return Err(SnapshotError::Halted);
        }
        let log_start = self.log.log_start();
        if index <= log_start.index {
            return Err(SnapshotError::Stale {
                index,
                log_start: log_start.index,
            });
        }
        let limit = self.compactable_index();
        if index > limit {
            return Err(SnapshotError::NotCovered { index, limit });
        }
        let term = match self.log.term(index) {
            Ok(Some(t)) => t,
            Ok(None) => return Err(SnapshotError::NotCovered { index, limit }),
            Err(e) => {
                self.halt();
                return Err(SnapshotError::Storage(e));
            }
        };
        let to = LogId::new(term, index);
        self.log.release_memory(index.next());
        self.log.compacted(to);
        Ok(self.log.log_start())
    }

    /// How far [`Raft::compact`] may go now: the latest snapshot whose metadata is durable in the
    /// log store, limited to durable, applied entries.
    #[must_use]
    pub fn compactable_index(&self) -> Index {
        self.snapshot_durable
            .unwrap_or(Index::ZERO)
            .min(self.log.persisted())
            .min(self.log.applied())
            .max(self.log.log_start().index)
    }

    /// The latest snapshot registered with [`Raft::snapshot_taken`] or installed from a leader.
    #[must_use]
    pub fn latest_snapshot(&self) -> Option<&SnapshotMeta> {
        self.snapshot.as_ref()
    }

    /// Offers the latest snapshot to a follower that needs compacted entries.
    pub(super) fn offer_snapshot(&mut self, to: NodeId) {
        let Some(meta) = self.snapshot.clone() else {
            return;
        };
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        let Some(pr) = leader.progress_mut(to) else {
            return;
        };
        pr.become_snapshot(meta.last.index);
        self.metrics.snapshots_sent += 1;
        self.send(to, MessageBody::InstallSnapshot(SnapshotOffer { meta }));
    }

    /// Reports how streaming the snapshot to `peer` ended. On failure the leader offers it again
    /// later; on success it waits for the follower's answer.
    pub fn report_snapshot(&mut self, peer: NodeId, status: SnapshotStatus) {
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        let Some(pr) = leader.progress_mut(peer) else {
            return;
        };
        if let ProgressState::Snapshot { .. } = pr.state {
            if status == SnapshotStatus::Failed {
                pr.state = ProgressState::Snapshot { index: Index::ZERO };
            }
            pr.become_probe();
            // Wait for the follower's answer, or a heartbeat response, before probing (or
            // offering again): retries are paced by heartbeats.
            pr.probe_sent = true;
        }
    }

    /// Reports that a message to `peer` could not be delivered: the leader stops streaming to it
    /// and probes instead.
    pub fn report_unreachable(&mut self, peer: NodeId) {
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        if let Some(pr) = leader.progress_mut(peer) {
            if pr.state == ProgressState::Replicate {
                pr.become_probe();
                // Probe again once the peer answers a heartbeat.
                pr.probe_sent = true;
            }
        }
    }

    /// A snapshot offered by the leader of the current term (its data is already with the
    /// caller). Installs it unless it is stale or the log already holds its last entry.
    pub(super) fn on_snapshot_offer(
        &mut self,
        from: NodeId,
        meta: SnapshotMeta,
    ) -> Result<(), StepError> {
        if self.is_leader() {
            self.metrics.dropped_malformed += 1;
            return Err(StepError::Malformed {
                kind: MessageKind::InstallSnapshot,
                reason: Malformed::ConflictsWithCommitted,
                from,
            });
        }
        if meta.membership.validate().is_err() || meta.membership.is_empty() {
            self.metrics.dropped_malformed += 1;
            return Err(StepError::Malformed {
                kind: MessageKind::InstallSnapshot,
                reason: Malformed::BadSnapshotMembership,
                from,
            });
        }
        self.follow(from);
        let committed = self.log.committed();
        if meta.last.index <= committed {
            // Stale: we have all of it already.
            self.send(
                from,
                MessageBody::AppendResponse(AppendResponse::Accepted {
                    match_index: committed,
                }),
            );
            return Ok(());
        }
        if self.log.matches(meta.last).map_err(StepError::Storage)? {
            // Our log already holds the snapshot's last entry: just learn that it is committed.
            self.log.commit_to(meta.last.index);
            self.send(
                from,
                MessageBody::AppendResponse(AppendResponse::Accepted {
                    match_index: meta.last.index,
                }),
            );
            return Ok(());
        }
        self.log.restore(meta.last);
        self.conf_to_apply.clear();
        self.membership = crate::storage::StoredMembership {
            index: meta.last.index,
            membership: meta.membership.clone(),
        };
        self.membership_history.clear();
        self.membership_dirty = true;
        self.snapshot = Some(meta.clone());
        let last = meta.last.index;
        self.install_to_write = Some(meta);
        self.send(
            from,
            MessageBody::AppendResponse(AppendResponse::Accepted { match_index: last }),
        );
        Ok(())
    }
}
