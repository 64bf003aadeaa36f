//! Value encoding: every record is `crc32c (u32, little-endian) ‖ postcard body`, where the
//! checksum covers the record's key and then its body, so a flipped bit, a torn value or a value
//! found under the wrong key is detected on read. The format record is the exception: plain
//! [`FORMAT_MAGIC`] and the version, so that any future version can still be recognised.

use raft_core::Index;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Corruption, WriteError};

/// The version of the on-disk format this crate reads and writes. A database of another version
/// is refused at open with [`OpenError::UnsupportedVersion`](crate::OpenError::UnsupportedVersion).
pub const FORMAT_VERSION: u32 = 1;

/// The first bytes of the format record: names a database made by this crate.
pub(crate) const FORMAT_MAGIC: &[u8; 16] = b"raft-storage-rkv";

/// The length of the checksum that starts every value.
const CRC_LEN: usize = 4;

/// The format record for [`FORMAT_VERSION`].
pub(crate) fn format_record() -> Vec<u8> {
    let mut v = FORMAT_MAGIC.to_vec();
    v.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
    v
}

/// The version a format record names, or `None` if it is not a format record of this crate.
pub(crate) fn format_version(record: &[u8]) -> Option<u32> {
    let version = record.strip_prefix(FORMAT_MAGIC.as_slice())?;
    Some(u32::from_be_bytes(version.try_into().ok()?))
}

fn checksum(key: &[u8], body: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(key), body)
}

/// Encodes `value` as the record stored under `key`.
pub(crate) fn encode<T: Serialize>(
    key: &[u8],
    value: &T,
    what: &'static str,
) -> Result<Vec<u8>, WriteError> {
    let out = postcard::to_extend(value, vec![0u8; CRC_LEN]).map_err(|e| WriteError::Encode {
        what,
        reason: e.to_string(),
    })?;
    let mut out = out;
    let crc = checksum(key, &out[CRC_LEN..]);
    out[..CRC_LEN].copy_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// Decodes the record `raw` stored under `key`, verifying its checksum first.
pub(crate) fn decode<T: DeserializeOwned>(
    key: &[u8],
    raw: &[u8],
    what: &'static str,
    index: Option<Index>,
) -> Result<T, Corruption> {
    let corrupt = |reason| Corruption {
        what,
        index,
        reason,
    };
    let (crc, body) = raw
        .split_first_chunk::<CRC_LEN>()
        .ok_or(corrupt("value too short for its checksum"))?;
    if u32::from_le_bytes(*crc) != checksum(key, body) {
        return Err(corrupt("checksum mismatch"));
    }
    match postcard::take_from_bytes::<T>(body) {
        Ok((value, [])) => Ok(value),
        Ok(_) => Err(corrupt("trailing bytes after the value")),
        Err(_) => Err(corrupt("undecodable value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft_core::{HardState, NodeId, Term};

    fn hs() -> HardState {
        HardState {
            term: Term(7),
            vote: Some(NodeId(3)),
            commit: Index(42),
        }
    }

    #[test]
    fn round_trips() {
        let raw = encode(b"k", &hs(), "hard state").unwrap();
        let back: HardState = decode(b"k", &raw, "hard state", None).unwrap();
        assert_eq!(back, hs());
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let raw = encode(b"k", &hs(), "hard state").unwrap();
        for byte in 0..raw.len() {
            for bit in 0..8 {
                let mut bad = raw.clone();
                bad[byte] ^= 1 << bit;
                let err = decode::<HardState>(b"k", &bad, "hard state", None).unwrap_err();
                assert_eq!(err.what, "hard state");
            }
        }
    }

    #[test]
    fn short_truncated_and_misplaced_values_are_detected() {
        let raw = encode(b"k", &hs(), "hard state").unwrap();
        for len in 0..raw.len() {
            assert!(decode::<HardState>(b"k", &raw[..len], "hard state", None).is_err());
        }
        assert!(decode::<HardState>(b"j", &raw, "hard state", None).is_err());
        let mut longer = raw.clone();
        longer.push(0);
        assert!(decode::<HardState>(b"k", &longer, "hard state", None).is_err());
    }

    #[test]
    fn format_record_names_its_version() {
        assert_eq!(format_version(&format_record()), Some(FORMAT_VERSION));
        let mut other = FORMAT_MAGIC.to_vec();
        other.extend_from_slice(&9u32.to_be_bytes());
        assert_eq!(format_version(&other), Some(9));
        assert_eq!(format_version(b"something else entirely"), None);
        assert_eq!(format_version(FORMAT_MAGIC), None);
    }
}
