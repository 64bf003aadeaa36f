//! Applying committed writes: one RocksDB write batch per group of entries, holding the data,
//! the counters, the client sessions and the applied index, so that the store is always exactly
//! the result of applying a prefix of the log.
//!
//! Everything here must be deterministic: every replica applies the same entries, possibly in
//! differently sized groups, and must reach the same state. Session expiry therefore depends only
//! on log indexes.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use rocksdb::{WriteBatch, WriteOptions};

use super::keys;
use super::ops::{Op, Output, Proposal, SetCondition};
use super::sessions::{SessionMeta, SessionRecord, Sessions, read_record};
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

/// The writes of one group of entries, staged over the store and the session table.
pub(crate) struct Group<'a> {
    store: &'a KvStore,
    known: &'a Sessions,
    limits: SessionLimits,
    data: HashMap<Bytes, Option<Bytes>>,
    /// Sessions written (or deleted) by this group.
    sessions: HashMap<u64, Option<SessionRecord>>,
    /// Sessions opened minus sessions deleted by this group.
    sessions_delta: i64,
    peers: Vec<(u64, PeerAddrs)>,
    /// Members whose addresses changed in this group.
    pub(crate) peers_changed: bool,
}

/// What a written group changed in the session table, to be recorded with
/// [`Sessions::update`] once its batch is in the store.
pub(crate) type SessionChanges = Vec<(u64, Option<SessionMeta>)>;

fn err(text: &str) -> Output {
    Output::Error(text.to_owned())
}

impl<'a> Group<'a> {
    pub(crate) fn new(store: &'a KvStore, known: &'a Sessions, limits: SessionLimits) -> Group<'a> {
        Group {
            store,
            known,
            limits,
            data: HashMap::new(),
            sessions: HashMap::new(),
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

    /// Sets `key`: a blind write, no lookup (the store keeps no key count that a write would
    /// have to maintain; `DBSIZE` counts).
    fn put(&mut self, key: &Bytes, value: Bytes) {
        self.data.insert(key.clone(), Some(value));
    }

    fn del(&mut self, key: &Bytes) -> Result<bool, StoreError> {
        let existed = self.get(key)?.is_some();
        if existed {
            self.data.insert(key.clone(), None);
        }
        Ok(existed)
    }

    /// The session of `client` as of this point of the group.
    fn session(&self, client: u64) -> Option<SessionMeta> {
        match self.sessions.get(&client) {
            Some(staged) => staged.as_ref().map(|r| SessionMeta {
                seq: r.seq,
                last_index: r.last_index,
            }),
            None => self.known.get(client),
        }
    }

    /// The output recorded for `client`'s last request (read for retries only).
    fn recorded_output(&self, client: u64) -> Result<Output, StoreError> {
        let record = match self.sessions.get(&client) {
            Some(staged) => staged.clone(),
            None => read_record(self.store, client)?,
        };
        record.map(|r| r.output).ok_or_else(|| {
            StoreError::Corrupt(format!("client {client}'s session has no stored record"))
        })
    }

    /// How many sessions there are as of this point of the group.
    fn session_count(&self) -> u64 {
        (self.known.len() as u64).saturating_add_signed(self.sessions_delta)
    }

    /// Stages `client`'s session (or its deletion), keeping the count.
    fn stage(&mut self, client: u64, record: Option<SessionRecord>) {
        match (self.session(client).is_some(), record.is_some()) {
            (false, true) => self.sessions_delta += 1,
            (true, false) => self.sessions_delta -= 1,
            _ => {}
        }
        self.sessions.insert(client, record);
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
            self.sweep(index);
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
        let existing = self
            .session(client)
            .filter(|s| s.last_index.saturating_add(self.limits.ttl_entries) >= index);
        if let Some(s) = existing {
            if seq == s.seq {
                return self.recorded_output(client);
            }
            if seq < s.seq {
                return Ok(err(
                    "ERR stale request: a newer request of this client was applied",
                ));
            }
        } else if self.session(client).is_none() && self.session_count() >= self.limits.max_sessions
        {
            return Ok(err("ERR too many client sessions; retry later"));
        }
        let output = self.apply_op(op)?;
        self.stage(
            client,
            Some(SessionRecord {
                seq,
                output: output.clone(),
                last_index: index,
            }),
        );
        Ok(output)
    }

    /// Deletes the sessions unused for more than the TTL as of `index`. Which sessions expire
    /// depends only on the applied prefix, not on the order the table is walked in.
    fn sweep(&mut self, index: u64) {
        let Some(horizon) = index.checked_sub(self.limits.ttl_entries) else {
            return;
        };
        // The table as of this entry: the stored sessions this group has not touched, and the
        // ones it wrote (a group may be longer than the TTL).
        let mut expired: Vec<u64> = self
            .known
            .unused_since(horizon)
            .filter(|(client, _)| !self.sessions.contains_key(client))
            .map(|(client, _)| client)
            .collect();
        expired.extend(self.sessions.iter().filter_map(|(client, s)| {
            s.as_ref()
                .filter(|s| s.last_index < horizon)
                .map(|_| *client)
        }));
        for client in expired {
            self.stage(client, None);
        }
    }

    fn apply_op(&mut self, op: Op) -> Result<Output, StoreError> {
        Ok(match op {
            Op::Set {
                key,
                value,
                condition,
                get,
            } => {
                if condition == SetCondition::Always && !get {
                    // The common SET: nothing to read.
                    self.put(&key, value);
                    return Ok(Output::Ok);
                }
                let old = self.get(&key)?;
                let go = match condition {
                    SetCondition::Always => true,
                    SetCondition::IfAbsent => old.is_none(),
                    SetCondition::IfPresent => old.is_some(),
                };
                if go {
                    self.put(&key, value);
                }
                match (get, go) {
                    (true, _) => old.map_or(Output::Nil, Output::Bulk),
                    (false, true) => Output::Ok,
                    (false, false) => Output::Nil,
                }
            }
            Op::GetSet { key, value } => {
                let old = self.get(&key)?;
                self.put(&key, value);
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
                self.put(&key, v.freeze());
                Output::Int(len)
            }
            Op::IncrBy { key, by } => {
                let current = match self.get(&key)? {
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
                        self.put(&key, Bytes::from(n.to_string()));
                        Output::Int(n)
                    }
                    None => err("ERR increment or decrement would overflow"),
                }
            }
            Op::MSet { pairs } => {
                for (k, v) in pairs {
                    self.put(&k, v);
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
    /// lost tail of applies is applied again after a restart). Returns what changed in the
    /// session table, for the caller to record once the batch is written.
    pub(crate) fn commit(self, applied: u64) -> Result<SessionChanges, StoreError> {
        let db = self.store.db();
        let mut b = WriteBatch::default();
        for (k, v) in &self.data {
            match v {
                Some(v) => b.put(keys::data(k), v),
                None => b.delete(keys::data(k)),
            }
        }
        let mut changes = Vec::with_capacity(self.sessions.len());
        for (client, s) in &self.sessions {
            match s {
                Some(s) => {
                    let v =
                        postcard::to_allocvec(s).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    b.put(keys::session(*client), v);
                    let meta = SessionMeta {
                        seq: s.seq,
                        last_index: s.last_index,
                    };
                    changes.push((*client, Some(meta)));
                }
                None => {
                    b.delete(keys::session(*client));
                    changes.push((*client, None));
                }
            }
        }
        for (id, addrs) in &self.peers {
            let v = postcard::to_allocvec(addrs).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            b.put(keys::peer(*id), v);
        }
        b.put(keys::APPLIED, applied.to_be_bytes());
        let mut wo = WriteOptions::default();
        wo.set_sync(false);
        db.write_opt(b, &wo)?;
        Ok(changes)
    }
}
