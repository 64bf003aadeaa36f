//! The transport's frame decoder and the decoding of what frames carry (messages, snapshot
//! headers and totals, hellos, acknowledgements), on message, snapshot and control streams under
//! small or default limits, read by read: the harness of
//! `raft-transport-quic/tests/fuzz/frame_decoder.rs`, which the property test
//! `raft-transport-quic/tests/fuzz_frame_decoder.rs` runs too.
//!
//! The decoder is private to raft-transport-quic, so `framing.rs` and `wire.rs` are included by
//! path, as the property test includes them.

#![no_main]

use libfuzzer_sys::fuzz_target;
use raft_fuzz::{Counting, assert_heap_bound, peak_heap_during};

#[allow(dead_code)]
#[path = "../../raft-transport-quic/src/framing.rs"]
mod framing;
#[allow(dead_code)]
#[path = "../../raft-transport-quic/src/wire.rs"]
mod wire;

#[path = "../../raft-transport-quic/tests/fuzz/frame_decoder.rs"]
mod harness;

#[global_allocator]
static HEAP: Counting = Counting;

/// serde preallocates a sequence up to 1 MiB whatever length it announces; the rest grows with
/// the bytes that arrived.
const HEAP_FIXED: usize = 4 << 20;
const HEAP_PER_BYTE: usize = 256;

fuzz_target!(|data: &[u8]| {
    let peak = peak_heap_during(|| {
        harness::run(data);
    });
    assert_heap_bound("frame_decoder", peak, data.len(), HEAP_FIXED, HEAP_PER_BYTE);
});
