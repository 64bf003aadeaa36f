//! `INFO raft`: a node's view of the cluster, as the harness reads it.

use std::net::SocketAddr;
use std::time::Duration;

use crate::resp::{Reply, call_once, text};

/// The fields of `INFO raft` the harness uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RaftInfo {
    /// `leader`, `follower`, `candidate` or `pre-candidate`.
    pub role: String,
    /// The node's term.
    pub term: u64,
    /// The leader it knows of.
    pub leader: Option<u64>,
    /// Its commit index.
    pub commit: u64,
    /// Its applied index.
    pub applied: u64,
    /// Its last log index.
    pub last: u64,
    /// Its first log index (the compaction point).
    pub log_start: u64,
    /// The voters of its current configuration.
    pub voters: Vec<u64>,
    /// The outgoing voters during a joint configuration.
    pub voters_outgoing: Vec<u64>,
    /// The learners.
    pub learners: Vec<u64>,
    /// Snapshots it has received (installs).
    pub snapshots_received: u64,
}

impl RaftInfo {
    /// Whether it is the leader.
    #[must_use]
    pub fn is_leader(&self) -> bool {
        self.role == "leader"
    }

    /// Every member: voters (incoming and outgoing) and learners.
    #[must_use]
    pub fn members(&self) -> Vec<u64> {
        let mut m: Vec<u64> = self
            .voters
            .iter()
            .chain(&self.voters_outgoing)
            .chain(&self.learners)
            .copied()
            .collect();
        m.sort_unstable();
        m.dedup();
        m
    }
}

fn ids(s: &str) -> Vec<u64> {
    s.split(',').filter_map(|x| x.trim().parse().ok()).collect()
}

/// Parses the text of `INFO raft`.
#[must_use]
pub fn parse(text: &str) -> RaftInfo {
    let mut info = RaftInfo::default();
    for line in text.lines() {
        let Some((k, v)) = line.trim().split_once(':') else {
            continue;
        };
        let num = || v.parse().unwrap_or(0);
        match k {
            "role" => info.role = v.to_owned(),
            "raft_term" => info.term = num(),
            "raft_leader" => info.leader = v.parse().ok(),
            "raft_commit_index" => info.commit = num(),
            "raft_applied_index" => info.applied = num(),
            "raft_last_index" => info.last = num(),
            "raft_log_start" => info.log_start = num(),
            "raft_voters" => info.voters = ids(v),
            "raft_voters_outgoing" => info.voters_outgoing = ids(v),
            "raft_learners" => info.learners = ids(v),
            "raft_snapshots_received" => info.snapshots_received = num(),
            _ => {}
        }
    }
    info
}

/// Asks the node at `addr` for `INFO raft`.
pub async fn fetch(addr: SocketAddr, limit: Duration) -> Option<RaftInfo> {
    match call_once(addr, &["INFO", "raft"], limit).await {
        Ok(v @ Reply::Bulk(_)) => text(&v).map(|t| parse(&t)).filter(|i| !i.role.is_empty()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_the_fields_used() {
        let i = super::parse(
            "# Raft\r\nrole:leader\r\nraft_term:7\r\nraft_leader:2\r\nraft_commit_index:40\r\nraft_applied_index:39\r\nraft_log_start:21\r\nraft_voters:1,2,3\r\nraft_voters_outgoing:\r\nraft_learners:4\r\nraft_snapshots_received:2\r\n",
        );
        assert!(i.is_leader());
        assert_eq!(
            (i.term, i.leader, i.commit, i.applied),
            (7, Some(2), 40, 39)
        );
        assert_eq!((i.log_start, i.snapshots_received), (21, 2));
        assert_eq!(i.members(), vec![1, 2, 3, 4]);
        assert_eq!(
            super::parse("role:follower\r\nraft_leader:none\r\n").leader,
            None
        );
    }
}
