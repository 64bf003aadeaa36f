//! Reading a log's state back at open: the small records, and the bounds of the stored entries.

use raft_core::{Entry, HardState, Index, LogId, SnapshotMeta, StoredMembership};
use rocksdb::DB;
use serde::de::DeserializeOwned;

use crate::codec;
use crate::error::{Corruption, OpenError};
use crate::keys;
use crate::state::LogState;

/// The state of the log in `db`, verified.
pub(crate) fn load_state(db: &DB) -> Result<LogState, OpenError> {
    let hard_state: HardState = record(db, keys::HARD_STATE, "hard state")?.unwrap_or_default();
    let membership: StoredMembership =
        record(db, keys::MEMBERSHIP, "membership")?.unwrap_or_default();
    let snapshot: Option<SnapshotMeta> = record(db, keys::SNAPSHOT, "snapshot")?;
    let log_start: LogId = record(db, keys::LOG_START, "log start")?.unwrap_or_default();
    let last = last_entry(db, log_start)?;
    Ok(LogState {
        hard_state,
        membership,
        snapshot,
        log_start,
        last,
    })
}

fn record<T: DeserializeOwned>(
    db: &DB,
    key: &[u8],
    what: &'static str,
) -> Result<Option<T>, OpenError> {
    match db.get_pinned(key)? {
        Some(raw) => Ok(Some(codec::decode(key, &raw, what, None)?)),
        None => Ok(None),
    }
}

/// The last stored entry's position (`log_start` when none is stored), after checking that the
/// first stored entry follows `log_start` and that the last one decodes under its own index.
fn last_entry(db: &DB, log_start: LogId) -> Result<LogId, OpenError> {
    let first_index = log_start.index.next();
    let mut it = db.raw_iterator();
    it.seek(keys::entry(first_index));
    it.status()?;
    let first = it.key().and_then(keys::entry_index);
    match first {
        None => return Ok(log_start),
        Some(i) if i != first_index => {
            return Err(Corruption {
                what: "entry",
                index: Some(first_index),
                reason: "missing: the first stored entry does not follow the log start",
            }
            .into());
        }
        Some(_) => {}
    }
    it.seek_for_prev(keys::ENTRIES_END);
    it.status()?;
    let (Some(key), Some(raw)) = (it.key(), it.value()) else {
        return Err(Corruption {
            what: "entry",
            index: None,
            reason: "the last entry vanished while opening",
        }
        .into());
    };
    let index = keys::entry_index(key).ok_or(Corruption {
        what: "entry",
        index: None,
        reason: "malformed entry key",
    })?;
    let entry = decode_entry(key, raw, index)?;
    Ok(entry.log_id())
}

/// Decodes the entry stored under `key` (the key of `index`), checking that it is the entry of
/// that index.
pub(crate) fn decode_entry(key: &[u8], raw: &[u8], index: Index) -> Result<Entry, Corruption> {
    let entry: Entry = codec::decode(key, raw, "entry", Some(index))?;
    if entry.index != index {
        return Err(Corruption {
            what: "entry",
            index: Some(index),
            reason: "the entry stored under this index has another index",
        });
    }
    Ok(entry)
}
