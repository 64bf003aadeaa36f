//! Client sessions for exactly-once writes: the record of each client's last request, durable in
//! the store (`s` + client id: sequence number, output, last use), and indexed in memory by client
//! so that applying a tagged write reads no record from RocksDB unless it is a retry.
//!
//! The in-memory table holds only what deciding needs (sequence number and last use, 16 bytes of
//! payload per session); outputs stay on disk. It is loaded from the store when the state machine
//! starts and after a snapshot is restored, and changed only by applied groups, after their batch
//! is written: every replica's table is a function of its applied prefix, like the store.

use std::collections::HashMap;

use rocksdb::{Direction, IteratorMode, ReadOptions};

use super::keys;
use super::ops::Output;
use super::store::{KvStore, StoreError};

/// A client's last request and its result, as stored.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct SessionRecord {
    pub(crate) seq: u64,
    pub(crate) output: Output,
    pub(crate) last_index: u64,
}

/// What the table keeps of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SessionMeta {
    /// The sequence number of the client's last applied request.
    pub(crate) seq: u64,
    /// The log index at which the client last wrote.
    pub(crate) last_index: u64,
}

/// The live sessions, by client.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    live: HashMap<u64, SessionMeta>,
}

impl Sessions {
    /// Reads every session record of `store`.
    pub(crate) fn load(store: &KvStore) -> Result<Sessions, StoreError> {
        let mut ro = ReadOptions::default();
        ro.set_iterate_upper_bound(vec![keys::SESSION + 1]);
        let iter = store
            .db()
            .iterator_opt(IteratorMode::From(&[keys::SESSION], Direction::Forward), ro);
        let mut live = HashMap::new();
        for item in iter {
            let (k, v) = item?;
            let client = match <[u8; 8]>::try_from(&k[1..]) {
                Ok(b) => u64::from_be_bytes(b),
                Err(_) => return Err(StoreError::Corrupt("a session key is malformed".into())),
            };
            let r = decode(client, &v)?;
            live.insert(
                client,
                SessionMeta {
                    seq: r.seq,
                    last_index: r.last_index,
                },
            );
        }
        Ok(Sessions { live })
    }

    /// The session of `client`, if it has one.
    pub(crate) fn get(&self, client: u64) -> Option<SessionMeta> {
        self.live.get(&client).copied()
    }

    /// How many sessions there are.
    pub(crate) fn len(&self) -> usize {
        self.live.len()
    }

    /// The sessions last used before `horizon`.
    pub(crate) fn unused_since(&self, horizon: u64) -> impl Iterator<Item = (u64, SessionMeta)> {
        self.live
            .iter()
            .filter(move |(_, m)| m.last_index < horizon)
            .map(|(c, m)| (*c, *m))
    }

    /// Records the outcome of a written group: a new or updated session, or a deleted one.
    pub(crate) fn update(&mut self, client: u64, meta: Option<SessionMeta>) {
        match meta {
            Some(m) => self.live.insert(client, m),
            None => self.live.remove(&client),
        };
    }
}

/// The stored record of `client`, with its output (read only for retries).
pub(crate) fn read_record(
    store: &KvStore,
    client: u64,
) -> Result<Option<SessionRecord>, StoreError> {
    match store.db().get_pinned(keys::session(client))? {
        None => Ok(None),
        Some(v) => decode(client, &v).map(Some),
    }
}

fn decode(client: u64, v: &[u8]) -> Result<SessionRecord, StoreError> {
    postcard::from_bytes(v)
        .map_err(|e| StoreError::Corrupt(format!("session of client {client}: {e}")))
}
