//! The application's state machine, as the driver sees it.

use std::io;

use raft_core::{Entries, Index, LogId};

use crate::snapshot::{SnapshotReader, SnapshotWriter};

/// The replicated state machine. The driver calls it from one dedicated thread, in log order.
///
/// A durable state machine writes the index of the last entry it applied in the same atomic
/// batch as the effects of that entry, and reports it from [`StateMachine::applied_index`] when
/// the node starts; entries after it are applied again. A state machine kept in memory reports
/// the index its contents came from (0, or the snapshot it was restored from).
pub trait StateMachine: Send + 'static {
    /// What applying a command returns to the proposer.
    type Output: Send + 'static;

    /// The index of the last entry reflected in the state, at start-up.
    fn applied_index(&self) -> Index;

    /// Applies committed entries, in order, and returns one output per
    /// [`EntryPayload::Command`](raft_core::EntryPayload::Command) entry, in order. Blank and
    /// membership entries only advance the applied index.
    ///
    /// An error means the state machine cannot go on (its storage failed): the node stops, and
    /// applies the entries again after a restart.
    fn apply(&mut self, entries: &Entries) -> io::Result<Vec<Self::Output>>;

    /// Captures a consistent view of the current state (at [`StateMachine::applied_index`]),
    /// cheaply: the driver streams it into the snapshot store on another thread while applying
    /// goes on.
    fn snapshot(&mut self) -> io::Result<Box<dyn SnapshotSource>>;

    /// Replaces the whole state by the snapshot covering every entry up to `last`, read from
    /// `data`.
    fn restore(&mut self, last: LogId, data: &mut dyn SnapshotReader) -> io::Result<()>;

    /// Whether applying is cheap and never blocks (a state machine in memory): the driver then
    /// applies on its own task instead of handing entries to the apply thread, saving a thread
    /// hop per batch. Leave `false` for anything that does IO.
    fn runs_inline(&self) -> bool {
        false
    }
}

/// A consistent view of the state, written out as snapshot data.
pub trait SnapshotSource: Send {
    /// The last index the view covers.
    fn index(&self) -> Index;
    /// Writes the view's data.
    fn write_to(self: Box<Self>, out: &mut dyn SnapshotWriter) -> io::Result<()>;
}
