//! The RESP request decoder, the command parser and the client's reply decoder, on streams under
//! small or default limits, read by read: the harness of `raft-kv/tests/fuzz/resp_decoder.rs`,
//! which the property test `raft-kv/tests/fuzz_resp_decoder.rs` runs too.
//!
//! The raft-kv crate links RocksDB, which a sanitizer build would compile again from source, so
//! the modules under test are included by path: `resp`, `command` and `client::reply`, as the
//! harness reaches them (`crate::resp`, ...). `command` lives in `command.rs` beside its
//! directory, a layout `#[path]` cannot follow: its module list is repeated here, and a module
//! added to raft-kv's `command.rs` must be added here too (the build fails until it is).

#![no_main]

use libfuzzer_sys::fuzz_target;
use raft_fuzz::{Counting, assert_heap_bound, peak_heap_during};

#[allow(dead_code, unused_imports)]
#[path = "../../raft-kv/src/resp/mod.rs"]
mod resp;

// Names clippy accepts in raft-kv's public API (`Command::CommandList`) but not in a private
// module.
#[allow(dead_code, unused_imports, clippy::enum_variant_names)]
#[path = "../../raft-kv/src/command"]
mod command {
    mod args;
    mod classify;
    mod connection;
    mod error;
    mod glob;
    mod model;
    mod parse;
    mod raft;
    mod strings;

    pub use error::CommandError;
    pub use glob::glob_match;
    pub use model::{Command, Credentials, Expiry, HelloArgs, ScanArgs, SetArgs, SetCondition};
}

#[allow(dead_code)]
#[path = "../../raft-kv/src/client"]
mod client {
    pub mod reply;
}

#[path = "../../raft-kv/tests/fuzz/resp_decoder.rs"]
mod harness;

#[global_allocator]
static HEAP: Counting = Counting;

/// A request's argument slots are preallocated up to 1,024 (32 KiB), a reply array's up to
/// 1,024 per nesting level (8 levels); the rest grows with the bytes that arrived.
const HEAP_FIXED: usize = 1 << 20;
const HEAP_PER_BYTE: usize = 256;

fuzz_target!(|data: &[u8]| {
    let peak = peak_heap_during(|| harness::run(data));
    assert_heap_bound("resp_decoder", peak, data.len(), HEAP_FIXED, HEAP_PER_BYTE);
});
