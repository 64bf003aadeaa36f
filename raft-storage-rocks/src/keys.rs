//! The key layout: one prefix byte per kind of record, and big-endian indexes for entries so that
//! RocksDB's byte order is log order (ordered iteration, and range deletes over index ranges).
//!
//! | key | value |
//! |---|---|
//! | `0x01` | the format record: [`crate::codec::FORMAT_MAGIC`] and the format version |
//! | `0x02` | the hard state |
//! | `0x03` | the membership |
//! | `0x04` | the latest snapshot's metadata |
//! | `0x05` | the log start (the position before the first stored entry) |
//! | `0x10` ‖ index (u64, big-endian) | the entry at that index |
//!
//! Every value but the format record is checksummed (see [`crate::codec`]).

use raft_core::Index;

/// The format record.
pub(crate) const FORMAT: &[u8] = &[0x01];
/// The hard state.
pub(crate) const HARD_STATE: &[u8] = &[0x02];
/// The membership.
pub(crate) const MEMBERSHIP: &[u8] = &[0x03];
/// The latest snapshot's metadata.
pub(crate) const SNAPSHOT: &[u8] = &[0x04];
/// The log start.
pub(crate) const LOG_START: &[u8] = &[0x05];

/// The prefix byte of entry keys.
pub(crate) const ENTRY_PREFIX: u8 = 0x10;

/// An entry key.
pub(crate) type EntryKey = [u8; 9];

/// The key of the entry at `index`.
pub(crate) fn entry(index: Index) -> EntryKey {
    let mut key = [0u8; 9];
    key[0] = ENTRY_PREFIX;
    key[1..].copy_from_slice(&index.0.to_be_bytes());
    key
}

/// The first key after every entry key: the exclusive end of a range delete or iteration that
/// must reach the end of the log.
pub(crate) const ENTRIES_END: &[u8] = &[ENTRY_PREFIX + 1];

/// The index an entry key names, or `None` if `key` is not an entry key.
pub(crate) fn entry_index(key: &[u8]) -> Option<Index> {
    match key {
        [ENTRY_PREFIX, rest @ ..] => Some(Index(u64::from_be_bytes(rest.try_into().ok()?))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_keys_sort_in_index_order_and_round_trip() {
        let idx = [0, 1, 255, 256, 65_535, 1 << 40, u64::MAX - 1, u64::MAX];
        for w in idx.windows(2) {
            assert!(entry(Index(w[0])) < entry(Index(w[1])));
        }
        for i in idx {
            assert_eq!(entry_index(&entry(Index(i))), Some(Index(i)));
            assert!(entry(Index(i)).as_slice() < ENTRIES_END);
            assert!(entry(Index(i)).as_slice() > LOG_START);
        }
        assert_eq!(entry_index(HARD_STATE), None);
        assert_eq!(entry_index(&[ENTRY_PREFIX, 1, 2]), None);
    }
}
