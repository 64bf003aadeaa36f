//! The in-memory window of the log: shared chunks of entries, plus a tail of entries the leader
//! appended since the last Ready (frozen into a chunk when the Ready is assembled, so that one
//! proposal batch is one shared run).

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::entries::{Chunk, Entries};
use crate::message::Entry;
use crate::types::{Index, LogId};

/// Consecutive entries `(start, last]` held in memory.
#[derive(Clone, Default)]
pub(crate) struct MemLog {
    /// The position just before the first entry held.
    start: LogId,
    chunks: VecDeque<Chunk>,
    tail: Vec<Entry>,
    bytes: u64,
}

impl core::fmt::Debug for MemLog {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MemLog")
            .field("start", &self.start)
            .field("chunks", &self.chunks.len())
            .field("tail", &self.tail.len())
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl MemLog {
    /// An empty window that starts after `start`.
    pub(crate) fn new(start: LogId) -> MemLog {
        MemLog {
            start,
            ..MemLog::default()
        }
    }

    pub(crate) fn start(&self) -> LogId {
        self.start
    }

    /// Payload bytes held.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    fn tail_first(&self) -> Option<Index> {
        self.tail.first().map(|e| e.index)
    }

    /// The entry at `index`, if held.
    pub(crate) fn get(&self, index: Index) -> Option<&Entry> {
        if index <= self.start.index {
            return None;
        }
        if let Some(t) = self.tail_first() {
            if index >= t {
                return self.tail.get(usize::try_from(index.0 - t.0).ok()?);
            }
        }
        let pos = self.chunks.partition_point(|c| c.last().index < index);
        let c = self.chunks.get(pos)?;
        c.as_slice()
            .get(usize::try_from(index.0.checked_sub(c.first().index.0)?).ok()?)
    }

    /// Appends one entry (it must follow the last one).
    pub(crate) fn push(&mut self, e: Entry) {
        self.bytes += e.payload_len();
        self.tail.push(e);
    }

    /// Turns the tail into a shared chunk.
    pub(crate) fn freeze(&mut self) {
        if !self.tail.is_empty() {
            let c = Chunk::new(core::mem::take(&mut self.tail));
            self.chunks.push_back(c);
        }
    }

    /// Appends shared entries (they must follow the last one).
    pub(crate) fn extend(&mut self, entries: Entries) {
        self.freeze();
        for c in entries.into_chunks() {
            self.bytes += c.bytes();
            self.chunks.push_back(c);
        }
    }

    /// Drops every entry from `index` on (`index` after `start`).
    pub(crate) fn truncate_from(&mut self, index: Index) {
        self.freeze();
        let pos = self.chunks.partition_point(|c| c.last().index < index);
        if let Some(c) = self.chunks.get(pos) {
            let keep = index.0.saturating_sub(c.first().index.0) as usize;
            let cut = (keep > 0).then(|| c.sub(0..keep));
            for dropped in self.chunks.drain(pos..) {
                self.bytes -= dropped.bytes();
            }
            if let Some(c) = cut {
                self.bytes += c.bytes();
                self.chunks.push_back(c);
            }
        }
    }

    /// Forgets everything and starts after `start`.
    pub(crate) fn reset(&mut self, start: LogId) {
        *self = MemLog::new(start);
    }

    /// Drops the entries up to and including `upto`.
    pub(crate) fn release_to(&mut self, upto: Index) {
        if upto <= self.start.index {
            return;
        }
        self.freeze();
        while let Some(c) = self.chunks.front() {
            if c.last().index <= upto {
                self.start = c.last().log_id();
                self.bytes -= c.bytes();
                self.chunks.pop_front();
                continue;
            }
            if c.first().index <= upto {
                let n = (upto.0 - c.first().index.0 + 1) as usize;
                let rest = c.sub(n..c.len());
                self.start = c.as_slice()[n - 1].log_id();
                self.bytes -= c.bytes() - rest.bytes();
                self.chunks[0] = rest;
            }
            break;
        }
    }

    /// The entries in `[low, high)` that are held, from `low` on, up to `max_bytes` of payload
    /// once `already` bytes are counted (at least one entry when `already` is 0).
    pub(crate) fn slice(&self, low: Index, high: Index, max_bytes: u64, already: u64) -> Entries {
        let mut out = Entries::new();
        let mut bytes = already;
        let mut next = low;
        let mut pos = self.chunks.partition_point(|c| c.last().index < low);
        while next < high {
            let Some(c) = self.chunks.get(pos) else { break };
            let first = c.first().index;
            let from = (next.0 - first.0) as usize;
            let to = (high.0.min(c.last().index.0 + 1) - first.0) as usize;
            let whole = from == 0 && to == c.len();
            let window_bytes = if whole {
                c.bytes()
            } else {
                c.sub(from..to).bytes()
            };
            if bytes.saturating_add(window_bytes) <= max_bytes {
                out.push_chunk(if whole { c.clone() } else { c.sub(from..to) });
                bytes += window_bytes;
                next = Index(first.0 + to as u64);
                pos += 1;
                continue;
            }
            // Only part of this chunk fits: count entry by entry (at least one overall).
            let mut end = from;
            for e in &c.as_slice()[from..to] {
                let len = e.payload_len();
                if bytes.saturating_add(len) > max_bytes
                    && (end > from || bytes > 0 || !out.is_empty())
                {
                    break;
                }
                bytes = bytes.saturating_add(len);
                end += 1;
            }
            if end > from {
                out.push_chunk(c.sub(from..end));
            }
            return out;
        }
        // The tail (entries not frozen yet): copied, as this only happens off the Ready path.
        if next < high {
            if let Some(t) = self.tail_first() {
                let from = next.0.saturating_sub(t.0) as usize;
                let to = ((high.0 - t.0) as usize).min(self.tail.len());
                let mut v = Vec::new();
                for e in self.tail.get(from..to).unwrap_or(&[]) {
                    let len = e.payload_len();
                    if bytes.saturating_add(len) > max_bytes
                        && (bytes > 0 || !v.is_empty() || !out.is_empty())
                    {
                        break;
                    }
                    bytes = bytes.saturating_add(len);
                    v.push(e.clone());
                }
                if !v.is_empty() {
                    out.push_chunk(Chunk::new(v));
                }
            }
        }
        out
    }

    /// Payload bytes of the held entries in `[from, to]`.
    pub(crate) fn payload_bytes(&self, from: Index, to: Index) -> u64 {
        let from = from.max(self.start.index.next());
        if from > to {
            return 0;
        }
        self.slice(from, to.next(), u64::MAX, 0).payload_bytes()
    }

    /// The index from which entries must be kept for the window to hold at most `max_bytes`.
    pub(crate) fn floor_for(&self, max_bytes: u64) -> Index {
        if self.bytes <= max_bytes {
            return self.start.index.next();
        }
        let mut excess = self.bytes - max_bytes;
        let mut i = self.start.index;
        for c in &self.chunks {
            if excess == 0 {
                break;
            }
            if c.bytes() <= excess {
                excess -= c.bytes();
                i = c.last().index;
                continue;
            }
            for e in c.as_slice() {
                if excess == 0 {
                    break;
                }
                excess = excess.saturating_sub(e.payload_len().max(1));
                i = e.index;
            }
        }
        i.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::EntryPayload;
    use crate::types::Term;
    use bytes::Bytes;

    fn e(i: u64) -> Entry {
        Entry {
            term: Term(1),
            index: Index(i),
            payload: EntryPayload::Command(Bytes::from(alloc::vec![7u8; 10])),
        }
    }

    fn ids(es: &Entries) -> Vec<u64> {
        es.iter().map(|x| x.index.0).collect()
    }

    #[test]
    fn push_freeze_slice_truncate_release() {
        let mut m = MemLog::new(LogId::ZERO);
        for i in 1..=5 {
            m.push(e(i));
        }
        assert_eq!(m.get(Index(3)).unwrap().index, Index(3));
        m.freeze();
        m.extend(Entries::from((6..=9).map(e).collect::<Vec<_>>()));
        m.push(e(10));
        assert_eq!(m.bytes(), 100);
        assert_eq!(
            ids(&m.slice(Index(4), Index(11), u64::MAX, 0)),
            [4, 5, 6, 7, 8, 9, 10]
        );
        assert_eq!(ids(&m.slice(Index(4), Index(11), 25, 0)), [4, 5]);
        assert_eq!(
            ids(&m.slice(Index(4), Index(11), 5, 0)),
            [4],
            "at least one"
        );
        assert_eq!(m.payload_bytes(Index(2), Index(7)), 60);
        m.truncate_from(Index(8));
        assert!(m.get(Index(8)).is_none());
        assert_eq!(m.bytes(), 70);
        m.release_to(Index(3));
        assert_eq!(m.start().index, Index(3));
        assert_eq!(m.bytes(), 40);
        assert_eq!(ids(&m.slice(Index(4), Index(8), u64::MAX, 0)), [4, 5, 6, 7]);
        assert_eq!(m.floor_for(20), Index(6));
    }
}
