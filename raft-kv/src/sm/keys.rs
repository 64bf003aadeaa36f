//! The state machine's RocksDB key layout. One prefix byte per kind of record:
//!
//! | key | value |
//! |---|---|
//! | `d` + user key | the value |
//! | `m` `applied` | the last applied index (u64, big-endian) |
//! | `s` + client id (BE) | the session: last sequence number, its output, when it was used |
//! | `p` + node id (BE) | the member's addresses |

/// User data.
pub const DATA: u8 = b'd';
/// Counters and the applied index.
pub const META: u8 = b'm';
/// Sessions by client.
pub const SESSION: u8 = b's';
/// Member addresses.
pub const PEER: u8 = b'p';

/// The applied index.
pub const APPLIED: &[u8] = b"mapplied";

/// The key of a user key's value.
#[must_use]
pub fn data(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(DATA);
    k.extend_from_slice(key);
    k
}

/// The key of a client's session.
#[must_use]
pub fn session(client: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = SESSION;
    k[1..].copy_from_slice(&client.to_be_bytes());
    k
}

/// The key of a member's addresses.
#[must_use]
pub fn peer(id: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = PEER;
    k[1..].copy_from_slice(&id.to_be_bytes());
    k
}

/// Decodes a big-endian u64 value (0 if malformed).
#[must_use]
pub fn u64_of(v: &[u8]) -> u64 {
    v.try_into().map(u64::from_be_bytes).unwrap_or(0)
}
