//! `Raft::step` and the rest of the core's inputs, driven by programs of forged and genuine
//! messages against a live cluster: the harness of `raft-core/tests/fuzz/raft_step.rs`, which
//! the property test `raft-core/tests/fuzz_raft_step.rs` runs too.

#![no_main]

use libfuzzer_sys::fuzz_target;
use raft_fuzz::{Counting, assert_heap_bound, peak_heap_during};

// raft-core's MSRV (1.85) predates the let chains clippy would suggest in the harness.
#[allow(clippy::collapsible_if)]
#[path = "../../raft-core/tests/fuzz/raft_step.rs"]
mod harness;

#[global_allocator]
static HEAP: Counting = Counting;

/// The harness bounds a program (400 actions, 512 messages in flight, 64 unpersisted writes per
/// node), and so the cluster's state: its heap stays under a fixed amount whatever the input
/// (the largest seen is about 330 KB).
const HEAP_FIXED: usize = 16 << 20;

fuzz_target!(|data: &[u8]| {
    let peak = peak_heap_during(|| harness::run(data));
    assert_heap_bound("raft_step", peak, data.len(), HEAP_FIXED, 0);
});
