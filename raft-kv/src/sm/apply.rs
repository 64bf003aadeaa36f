//! Applying committed writes: one RocksDB write batch per group of entries, holding the data,
//! the counters, the client sessions and the applied index, so that the store is always exactly
//! the result of applying a prefix of the log.
//!
//! Everything here must be deterministic: every replica applies the same entries, possibly in
//! differently sized groups, and must reach the same state. Session expiry therefore depends only
//! on log indexes.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use rocksdb::{IteratorMode, WriteBatch, WriteOptions};

use super::keys;
use super::ops::{Op, Output, Proposal, SetCondition};
use super::store::{KvStore, PeerAddrs, StoreError};

/// The longest value APPEND may build (as Redis's `proto-max-bulk-len`). A constant, not a
/// setting: every replica must refuse the same appends.
pub const MAX_STRING_LEN: usize = 512 << 20;

/// Session expiry and bounds.
#[derive(Clone, Copy, Debug)]
pub struct SessionLimits {
    /// A session unused for this many log entries expires.
    pub ttl_entries: u64,
    /// The most sessions at once; a write that would open another is refused.
    pub max_sessions: u64,
    /// Expired sessions are swept at every index that is a multiple of this.
    pub sweep_every: u64,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            ttl_entries: 10_000_000,
            max_sessions: 1_000_000,
            sweep_every: 65_536,
        }
    }
}

/// A client's last request and its result.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct SessionRecord {
    pub(crate) seq: u64,
    pub(crate) output: Output,
    pub(crate) last_index: u64,
}

/// The writes of one group of entries, staged over the store.
pub(crate) struct Group<'a> {
    store: &'a KvStore,
    limits: SessionLimits,
    data: HashMap<Bytes, Option<Bytes>>,
    keys_delta: i64,
    sessions: HashMap<u64, Option<SessionRecord>>,
    /// Age-index keys to delete (old positions of sessions touched or swept).
    ages_dropped: Vec<[u8; 17]>,
    sessions_delta: i64,
    peers: Vec<(u64, PeerAddrs)>,
    /// Members whose addresses changed in this group.
    pub(crate) peers_changed: bool,
}

fn err(text: &str) -> Output {
    Output::Error(text.to_owned())
}

impl<'a> Group<'a> {
    pub(crate) fn new(store: &'a KvStore, limits: SessionLimits) -> Group<'a> {
        Group {
            store,
            limits,
            data: HashMap::new(),
            keys_delta: 0,
            sessions: HashMap::new(),
            ages_dropped: Vec::new(),
            sessions_delta: 0,
            peers: Vec::new(),
            peers_changed: false,
        }
    }

    fn get(&self, key: &Bytes) -> Result<Option<Bytes>, StoreError> {
        if let Some(v) = self.data.get(key) {
            return Ok(v.clone());
        }
        self.store.get(key)
    }

    fn put(&mut self, key: &Bytes, value: Bytes) -> Result<(), StoreError> {
        let existed = self.get(key)?.is_some();
        self.put_over(key, value, existed);
        Ok(())
    }

    /// [`Group::put`] when the caller has just read the key: `existed` says whether it had a
    /// value (one point lookup per write instead of two).
    fn put_over(&mut self, key: &Bytes, value: Bytes, existed: bool) {
        if !existed {
            self.keys_delta += 1;
        }
        self.data.insert(key.clone(), Some(value));
    }

    fn del(&mut self, key: &Bytes) -> Result<bool, StoreError> {
        let existed = self.get(key)?.is_some();
        if existed {
            self.keys_delta -= 1;
            self.data.insert(key.clone(), None);
        }
        Ok(existed)
    }

    fn session(&self, client: u64) -> Result<Option<SessionRecord>, StoreError> {
        if let Some(s) = self.sessions.get(&client) {
            return Ok(s.clone());
        }
        match self.store.db().get_pinned(keys::session(client))? {
            None => Ok(None),
            Some(v) => postcard::from_bytes(&v)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("session of client {client}: {e}"))),
        }
    }

    fn session_count(&self) -> Result<i64, StoreError> {
        let stored = self
            .store
            .db()
            .get_pinned(keys::SESSION_COUNT)?
            .map_or(0, |v| keys::u64_of(&v));
        Ok(i64::try_from(stored).unwrap_or(i64::MAX) + self.sessions_delta)
    }

    /// Applies the entry at `index` carrying `data` (an encoded [`Proposal`]).
    pub(crate) fn apply_command(&mut self, index: u64, data: &[u8]) -> Result<Output, StoreError> {
        let out = match Proposal::decode(data) {
            Err(_) => err("ERR undecodable command"),
            Ok(Proposal { session: None, op }) => self.apply_op(op)?,
            Ok(Proposal {
                session: Some(s),
                op,
            }) => self.apply_tagged(index, s.client, s.seq, op)?,
        };
        if self.limits.sweep_every > 0 && index.is_multiple_of(self.limits.sweep_every) {
            self.sweep(index)?;
        }
        Ok(out)
    }

    /// Exactly-once: a `(client, seq)` already applied returns its recorded output again; an
    /// older one is refused; a new one is applied and recorded.
    fn apply_tagged(
        &mut self,
        index: u64,
        client: u64,
        seq: u64,
        op: Op,
    ) -> Result<Output, StoreError> {
        let stored = self.session(client)?;
        let stored_age = stored.as_ref().map(|s| s.last_index);
        let existing =
            stored.filter(|s| s.last_index.saturating_add(self.limits.ttl_entries) >= index);
        if let Some(s) = &existing {
            if seq == s.seq {
                return Ok(s.output.clone());
            }
            if seq < s.seq {
                return Ok(err(
                    "ERR stale request: a newer request of this client was applied",
                ));
            }
        } else if self.session_count()?
            >= i64::try_from(self.limits.max_sessions).unwrap_or(i64::MAX)
        {
            return Ok(err("ERR too many client sessions; retry later"));
        }
        let output = self.apply_op(op)?;
        match stored_age {
            Some(last_index) => self
                .ages_dropped
                .push(keys::session_age(last_index, client)),
            None => self.sessions_delta += 1,
        }
        self.sessions.insert(
            client,
            Some(SessionRecord {
                seq,
                output: output.clone(),
                last_index: index,
            }),
        );
        Ok(output)
    }

    /// Deletes the sessions unused for more than the TTL as of `index`.
    fn sweep(&mut self, index: u64) -> Result<(), StoreError> {
        let Some(horizon) = index.checked_sub(self.limits.ttl_entries) else {
            return Ok(());
        };
        let mut expired = Vec::new();
        for item in self.store.db().iterator(IteratorMode::From(
            &[keys::SESSION_AGE],
            rocksdb::Direction::Forward,
        )) {
            let (k, _) = item?;
            if k.len() != 17 || k[0] != keys::SESSION_AGE {
                break;
            }
            let last = keys::u64_of(&k[1..9]);
            if last >= horizon {
                break;
            }
            expired.push((last, keys::u64_of(&k[9..17])));
        }
        for (last, client) in expired {
            // A session used again in this group is not expired.
            if let Some(Some(s)) = self.sessions.get(&client)
                && s.last_index != last
            {
                continue;
            }
            if matches!(self.sessions.get(&client), Some(None)) {
                continue;
            }
            self.ages_dropped.push(keys::session_age(last, client));
            self.sessions.insert(client, None);
            self.sessions_delta -= 1;
        }
        Ok(())
    }

    fn apply_op(&mut self, op: Op) -> Result<Output, StoreError> {
        Ok(match op {
            Op::Set {
                key,
                value,
                condition,
                get,
            } => {
                let old = self.get(&key)?;
                let go = match condition {
                    SetCondition::Always => true,
                    SetCondition::IfAbsent => old.is_none(),
                    SetCondition::IfPresent => old.is_some(),
                };
                if go {
                    self.put_over(&key, value, old.is_some());
                }
                match (get, go) {
                    (true, _) => old.map_or(Output::Nil, Output::Bulk),
                    (false, true) => Output::Ok,
                    (false, false) => Output::Nil,
                }
            }
            Op::GetSet { key, value } => {
                let old = self.get(&key)?;
                self.put_over(&key, value, old.is_some());
                old.map_or(Output::Nil, Output::Bulk)
            }
            Op::Del { keys: ks } => {
                let mut n = 0;
                for k in &ks {
                    if self.del(k)? {
                        n += 1;
                    }
                }
                Output::Int(n)
            }
            Op::Append { key, value } => {
                let old = self.get(&key)?;
                let existed = old.is_some();
                let old_len = old.as_ref().map_or(0, Bytes::len);
                if old_len.saturating_add(value.len()) > MAX_STRING_LEN {
                    return Ok(err("ERR string exceeds maximum allowed size"));
                }
                let mut v = BytesMut::with_capacity(old_len + value.len());
                if let Some(old) = old {
                    v.extend_from_slice(&old);
                }
                v.extend_from_slice(&value);
                let len = v.len() as i64;
                self.put_over(&key, v.freeze(), existed);
                Output::Int(len)
            }
            Op::IncrBy { key, by } => {
                let old = self.get(&key)?;
                let existed = old.is_some();
                let current = match old {
                    None => 0,
                    Some(v) => match std::str::from_utf8(&v)
                        .ok()
                        .and_then(|s| s.parse::<i64>().ok())
                    {
                        Some(n) => n,
                        None => return Ok(err("ERR value is not an integer or out of range")),
                    },
                };
                match current.checked_add(by) {
                    Some(n) => {
                        self.put_over(&key, Bytes::from(n.to_string()), existed);
                        Output::Int(n)
                    }
                    None => err("ERR increment or decrement would overflow"),
                }
            }
            Op::MSet { pairs } => {
                for (k, v) in pairs {
                    self.put(&k, v)?;
                }
                Output::Ok
            }
            Op::SetPeer {
                id,
                peer_addr,
                client_addr,
            } => {
                self.peers.push((
                    id,
                    PeerAddrs {
                        peer_addr,
                        client_addr,
                    },
                ));
                self.peers_changed = true;
                Output::Ok
            }
        })
    }

    /// Writes the group and the applied index as one batch (no fsync: the log is durable, and a
    /// lost tail of applies is applied again after a restart).
    pub(crate) fn commit(self, applied: u64) -> Result<(), StoreError> {
        let db = self.store.db();
        let mut b = WriteBatch::default();
        for (k, v) in &self.data {
            match v {
                Some(v) => b.put(keys::data(k), v),
                None => b.delete(keys::data(k)),
            }
        }
        if self.keys_delta != 0 {
            let n = self.store.len()?.saturating_add_signed(self.keys_delta);
            b.put(keys::KEY_COUNT, n.to_be_bytes());
        }
        for k in &self.ages_dropped {
            b.delete(k);
        }
        for (client, s) in &self.sessions {
            match s {
                Some(s) => {
                    let v =
                        postcard::to_allocvec(s).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    b.put(keys::session(*client), v);
                    b.put(keys::session_age(s.last_index, *client), []);
                }
                None => b.delete(keys::session(*client)),
            }
        }
        if self.sessions_delta != 0 {
            let n = u64::try_from(self.session_count()?).unwrap_or(0);
            b.put(keys::SESSION_COUNT, n.to_be_bytes());
        }
        for (id, addrs) in &self.peers {
            let v = postcard::to_allocvec(addrs).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            b.put(keys::peer(*id), v);
        }
        b.put(keys::APPLIED, applied.to_be_bytes());
        let mut wo = WriteOptions::default();
        wo.set_sync(false);
        db.write_opt(b, &wo)?;
        Ok(())
    }
}
