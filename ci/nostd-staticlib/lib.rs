//! A no_std static library that uses raft-core. If raft-core or any of its dependencies linked
//! std, this would fail to build with a duplicate `panic_impl` lang item.
#![no_std]

extern crate alloc;

use core::alloc::{GlobalAlloc, Layout};
use core::convert::Infallible;

use raft_core::{Config, MemStorage, Membership, NodeId, Raft};

/// An allocator that never allocates: enough to link, never called in CI.
struct NoAlloc;

unsafe impl GlobalAlloc for NoAlloc {
    unsafe fn alloc(&self, _: Layout) -> *mut u8 {
        core::ptr::null_mut()
    }
    unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
}

#[global_allocator]
static ALLOCATOR: NoAlloc = NoAlloc;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

struct CountingRng(u64);

impl rand_core::TryRng for CountingRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.0 += 1;
        Ok(self.0 as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 += 1;
        Ok(self.0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        dst.fill(0);
        Ok(())
    }
}

/// Drives a single-node cluster through an election and one proposal.
#[unsafe(no_mangle)]
pub extern "C" fn raft_core_nostd_check() -> u64 {
    let storage = MemStorage::new(Membership::with_voters([NodeId(1)]));
    let Ok(mut raft) = Raft::new(Config::new(NodeId(1)), storage, CountingRng(0)) else {
        return 0;
    };
    let _ = raft.campaign();
    let _ = raft.propose(bytes::Bytes::from_static(b"x"));
    while raft.has_ready() {
        let Ok(rd) = raft.ready() else { return 0 };
        let _ = raft.storage_mut().apply_write(&rd.write);
        let _ = raft.ack_persisted(rd.id);
        if let Some(i) = rd.apply.last_index() {
            let _ = raft.ack_applied(i);
        }
    }
    raft.commit_index().get()
}
