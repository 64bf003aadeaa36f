//! The simulated application: a state machine that records which commands it applied, with a
//! running digest, so that two nodes' states can be compared in O(1).

use std::vec::Vec;

use crate::message::{Entry, EntryPayload};
use crate::types::Index;

/// 64-bit mixing (from SplitMix64's finaliser); good enough to tell histories apart.
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b
        .wrapping_add(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(a << 6)
        .wrapping_add(a >> 2);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A digest of an entry's content (term and index excluded).
pub(crate) fn payload_digest(e: &Entry) -> u64 {
    match &e.payload {
        EntryPayload::Blank => 1,
        EntryPayload::Command(c) => c.iter().fold(2, |h, b| mix(h, u64::from(*b))),
        EntryPayload::Membership(cc) => {
            use core::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            cc.hash(&mut h);
            mix(3, h.finish())
        }
    }
}

/// The command id a simulated client put in a command (its first 8 bytes).
pub(crate) fn command_id(e: &Entry) -> Option<u64> {
    match &e.payload {
        EntryPayload::Command(c) if c.len() >= 8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&c[..8]);
            Some(u64::from_le_bytes(b))
        }
        _ => None,
    }
}

/// The simulated state machine: the commands applied, in order, and a digest of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimState {
    /// The last index applied (or restored).
    pub applied: Index,
    /// A digest of every entry applied so far.
    pub digest: u64,
    /// The command ids applied, in order.
    pub commands: Vec<u64>,
}

impl SimState {
    pub(crate) fn apply(&mut self, e: &Entry) {
        self.applied = e.index;
        self.digest = mix(self.digest, payload_digest(e));
        if let Some(id) = command_id(e) {
            self.commands.push(id);
        }
    }
}
