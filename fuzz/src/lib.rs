//! What the fuzz targets share: an allocator that counts the heap, so that each target checks
//! that what one input makes the code under test allocate is bounded by the input's size and the
//! configured limits, never by a length the input announces.
//!
//! Each target installs [`Counting`] as its global allocator and runs its harness inside
//! [`peak_heap_during`], then checks the peak with [`assert_heap_bound`]. libFuzzer runs a
//! target on one thread, so the counts are the harness's own.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting the bytes live and their peak.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let live = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

fn shrank(n: usize) {
    LIVE.fetch_sub(n, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` with the caller's arguments unchanged; the
// counters are only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        p
    }
}

/// Runs `f` and returns the most heap bytes it had live at once beyond what was live before.
pub fn peak_heap_during(f: impl FnOnce()) -> usize {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed).saturating_sub(base)
}

/// Panics if `peak` heap bytes exceed `fixed + per_byte * input_len`: a bound linear in the
/// input, whatever lengths the input announces. With `RAFT_FUZZ_HEAP_LOG` set in the environment,
/// also prints the input's size and its peak to stderr (to see how close inputs come).
pub fn assert_heap_bound(
    target: &str,
    peak: usize,
    input_len: usize,
    fixed: usize,
    per_byte: usize,
) {
    if std::env::var_os("RAFT_FUZZ_HEAP_LOG").is_some() {
        eprintln!("heap: {target} input {input_len} peak {peak}");
    }
    let bound = fixed.saturating_add(per_byte.saturating_mul(input_len));
    assert!(
        peak <= bound,
        "{target}: {peak} heap bytes live at once for an input of {input_len} bytes \
         (bound {fixed} + {per_byte} per input byte = {bound})"
    );
}
