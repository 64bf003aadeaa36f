//! One error type per operation. Nothing here carries a `String`: every variant names one cause.

use core::fmt;

use crate::config::ConfigError;
use crate::membership::ConfChangeError;
use crate::message::MessageKind;
use crate::ready::ReadyId;
use crate::storage::StorageError;
use crate::types::{Index, LogId, NodeId};

/// Why [`Raft::new`](crate::Raft::new) refused to start the node.
#[derive(Debug)]
#[non_exhaustive]
pub enum InitError {
    /// The configuration cannot work.
    Config(ConfigError),
    /// The log store could not be read.
    Storage(StorageError),
    /// The persisted state contradicts itself; the node must not start on it.
    Inconsistent(Inconsistency),
}

/// A contradiction found in persisted state at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Inconsistency {
    /// The last entry is before the log start.
    LastBeforeLogStart {
        /// The reported log start.
        log_start: LogId,
        /// The reported last entry.
        last: LogId,
    },
    /// The persisted commit index is beyond the last entry.
    CommitBeyondLog {
        /// The persisted commit index.
        commit: Index,
        /// The last stored index.
        last: Index,
    },
    /// The state machine claims to have applied entries the log does not hold.
    AppliedBeyondLog {
        /// `Config::applied`.
        applied: Index,
        /// The last stored index.
        last: Index,
    },
    /// The state machine is behind the log start: restore it from the latest snapshot first,
    /// and start with [`Config::applied`](crate::Config::applied) set to the snapshot's index.
    AppliedBeforeLogStart {
        /// `Config::applied`.
        applied: Index,
        /// The log start.
        log_start: Index,
    },
    /// The persisted membership breaks its invariants or is newer than the log.
    Membership(ConfChangeError),
    /// The persisted vote names a node while the term is zero.
    VoteWithoutTerm,
    /// The log was compacted but no snapshot covering the compacted entries is recorded.
    MissingSnapshot {
        /// The log start.
        log_start: LogId,
    },
}

impl fmt::Display for Inconsistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inconsistency::LastBeforeLogStart { log_start, last } => {
                write!(f, "last entry {last} is before the log start {log_start}")
            }
            Inconsistency::CommitBeyondLog { commit, last } => {
                write!(f, "commit index {commit} is beyond the last entry {last}")
            }
            Inconsistency::AppliedBeyondLog { applied, last } => {
                write!(f, "applied index {applied} is beyond the last entry {last}")
            }
            Inconsistency::AppliedBeforeLogStart { applied, log_start } => write!(
                f,
                "the state machine applied only up to {applied} but the log starts after {log_start}; \
                 restore the state machine from its latest snapshot first"
            ),
            Inconsistency::Membership(e) => write!(f, "stored membership: {e}"),
            Inconsistency::VoteWithoutTerm => f.write_str("a vote is recorded in term 0"),
            Inconsistency::MissingSnapshot { log_start } => {
                write!(
                    f,
                    "the log starts after {log_start} but no snapshot covers it"
                )
            }
        }
    }
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::Config(e) => write!(f, "invalid configuration: {e}"),
            InitError::Storage(e) => write!(f, "cannot read the log store: {e}"),
            InitError::Inconsistent(e) => write!(f, "inconsistent persisted state: {e}"),
        }
    }
}

impl core::error::Error for InitError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            InitError::Config(e) => Some(e),
            InitError::Storage(e) => Some(e),
            InitError::Inconsistent(_) => None,
        }
    }
}

/// The node hit an unrecoverable storage failure earlier and accepts no more input. Restart it
/// from its storage once the cause is fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Halted;

impl fmt::Display for Halted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the node halted after a storage failure")
    }
}

impl core::error::Error for Halted {}

/// Why [`Raft::step`](crate::Raft::step) did not take a message. In every case the node's state
/// is unchanged, except for [`StepError::Storage`], after which the node is halted.
#[derive(Debug)]
#[non_exhaustive]
pub enum StepError {
    /// The message is addressed to another node.
    WrongRecipient {
        /// The message's `to`.
        to: NodeId,
    },
    /// The message breaks the protocol's rules; it was dropped and counted.
    Malformed {
        /// The kind of message.
        kind: MessageKind,
        /// What is wrong with it.
        reason: Malformed,
        /// The sender.
        from: NodeId,
    },
    /// Reading the log store failed; the node is now halted.
    Storage(StorageError),
    /// The node halted earlier.
    Halted,
}

/// What makes a message malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformed {
    /// The entries are not consecutive from `prev.index + 1`.
    NonConsecutiveEntries,
    /// An entry's term is before the previous one's, or after the message's term.
    BadEntryTerm,
    /// More entries than [`Config::max_received_entries`](crate::Config::max_received_entries).
    TooManyEntries,
    /// The message contradicts an entry this node knows to be committed.
    ConflictsWithCommitted,
    /// The peer claims to match entries the leader does not have.
    MatchBeyondLog,
    /// A snapshot offer with an invalid membership.
    BadSnapshotMembership,
    /// A message a node sends to itself.
    FromSelf,
    /// A term no peer can be in: [`Term::MAX`](crate::Term::MAX), or zero on a message only a
    /// candidate or leader sends (only a rejected pre-vote answer may carry term zero).
    TermOutOfRange,
    /// An entry or snapshot at [`Index::MAX`](crate::Index::MAX), or a run of entries past it.
    IndexOutOfRange,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Malformed::NonConsecutiveEntries => "entries are not consecutive",
            Malformed::BadEntryTerm => "entry terms are out of order",
            Malformed::TooManyEntries => "too many entries",
            Malformed::ConflictsWithCommitted => "contradicts a committed entry",
            Malformed::MatchBeyondLog => "claims to match entries beyond the leader's log",
            Malformed::BadSnapshotMembership => "snapshot membership is invalid",
            Malformed::FromSelf => "sent by this node to itself",
            Malformed::TermOutOfRange => "term out of range",
            Malformed::IndexOutOfRange => "index out of range",
        })
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepError::WrongRecipient { to } => write!(f, "message addressed to node {to}"),
            StepError::Malformed { kind, reason, from } => {
                write!(f, "malformed {kind:?} from node {from}: {reason}")
            }
            StepError::Storage(e) => write!(f, "{e}"),
            StepError::Halted => fmt::Display::fmt(&Halted, f),
        }
    }
}

impl core::error::Error for StepError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            StepError::Storage(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a proposal was refused. Nothing was appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProposeError {
    /// This node is not the leader (and does not forward, or knows no leader to forward to).
    NotLeader {
        /// The leader, if known.
        leader: Option<NodeId>,
    },
    /// The limit on uncommitted bytes (or the forwarding buffer) is reached; retry later.
    Overloaded,
    /// A leadership transfer is in progress; proposals resume when it ends.
    TransferInProgress,
    /// A membership change is already pending (proposed and not yet applied).
    ConfChangePending,
    /// The membership change is not allowed from the current membership.
    InvalidConfChange(ConfChangeError),
    /// The node halted after a storage failure.
    Halted,
}

impl fmt::Display for ProposeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProposeError::NotLeader { leader: Some(l) } => {
                write!(f, "not the leader; node {l} is")
            }
            ProposeError::NotLeader { leader: None } => f.write_str("not the leader; none known"),
            ProposeError::Overloaded => f.write_str("too many uncommitted proposals"),
            ProposeError::TransferInProgress => f.write_str("a leadership transfer is in progress"),
            ProposeError::ConfChangePending => f.write_str("a membership change is pending"),
            ProposeError::InvalidConfChange(e) => write!(f, "invalid membership change: {e}"),
            ProposeError::Halted => fmt::Display::fmt(&Halted, f),
        }
    }
}

impl core::error::Error for ProposeError {}

/// Why [`Raft::campaign`](crate::Raft::campaign) did nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CampaignError {
    /// This node is not a voter in the current membership.
    NotVoter,
    /// This node already leads.
    AlreadyLeader,
    /// The node halted after a storage failure.
    Halted,
}

impl fmt::Display for CampaignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CampaignError::NotVoter => "this node is not a voter",
            CampaignError::AlreadyLeader => "this node is already the leader",
            CampaignError::Halted => "the node halted after a storage failure",
        })
    }
}

impl core::error::Error for CampaignError {}

/// Why an acknowledgement was refused. The node's state is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AckError {
    /// No Ready with this id was handed out.
    UnknownReady {
        /// The id given.
        id: ReadyId,
    },
    /// The index is beyond the last committed entry handed out for applying.
    NotHandedOut {
        /// The index given.
        index: Index,
        /// The last index handed out.
        handed_out: Index,
    },
    /// The node halted after a storage failure.
    Halted,
}

impl fmt::Display for AckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AckError::UnknownReady { id } => write!(f, "no Ready {id:?} was handed out"),
            AckError::NotHandedOut { index, handed_out } => write!(
                f,
                "index {index} was not handed out for applying (last handed out: {handed_out})"
            ),
            AckError::Halted => fmt::Display::fmt(&Halted, f),
        }
    }
}

impl core::error::Error for AckError {}

/// Why [`Raft::ready`](crate::Raft::ready) failed: reading the log store failed, and the node is
/// now halted.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadyError {
    /// The log store failed; the node is halted.
    Storage(StorageError),
    /// The node halted earlier.
    Halted,
}

impl fmt::Display for ReadyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadyError::Storage(e) => write!(f, "{e}"),
            ReadyError::Halted => fmt::Display::fmt(&Halted, f),
        }
    }
}

impl core::error::Error for ReadyError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            ReadyError::Storage(e) => Some(e),
            ReadyError::Halted => None,
        }
    }
}
