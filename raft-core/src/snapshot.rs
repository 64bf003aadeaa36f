//! Snapshot metadata. The snapshot's data belongs to the application and never passes through
//! the core: the core names a snapshot by its [`SnapshotMeta`], and the caller moves the data
//! (in chunks, out of band) between its state machine, its snapshot store and the network.

use crate::membership::Membership;
use crate::types::LogId;

/// What a snapshot covers: every entry up to and including `last`, and the membership in effect
/// once those entries are applied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SnapshotMeta {
    /// The last entry the snapshot covers.
    pub last: LogId,
    /// The membership as of `last`.
    pub membership: Membership,
}
