//! [`Entries`]: consecutive log entries shared without copying.
//!
//! A run of entries is created once (by `propose`, or by decoding an append) and then shared by
//! reference count between the in-memory log, the write handed to the caller, the appends sent to
//! each follower and the entries handed out for applying. Cloning an [`Entries`] costs one
//! reference-count increment per underlying run, never a copy of an entry.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use crate::message::Entry;

/// A non-empty window `[start, end)` into a shared, immutable run of entries, with the payload
/// bytes of that window.
#[derive(Clone)]
pub(crate) struct Chunk {
    buf: Arc<[Entry]>,
    start: u32,
    end: u32,
    bytes: u64,
}

impl Chunk {
    /// A chunk over all of `entries` (which must be non-empty and consecutive).
    pub(crate) fn new(entries: Vec<Entry>) -> Chunk {
        let bytes = entries.iter().map(Entry::payload_len).sum();
        let end = u32::try_from(entries.len()).unwrap_or(u32::MAX);
        Chunk {
            buf: Arc::from(entries),
            start: 0,
            end,
            bytes,
        }
    }

    pub(crate) fn as_slice(&self) -> &[Entry] {
        &self.buf[self.start as usize..self.end as usize]
    }

    pub(crate) fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The sub-window `range` (relative to this window; non-empty).
    pub(crate) fn sub(&self, range: Range<usize>) -> Chunk {
        debug_assert!(range.start < range.end && range.end <= self.len());
        let slice = &self.as_slice()[range.clone()];
        let bytes = if range.len() == self.len() {
            self.bytes
        } else {
            slice.iter().map(Entry::payload_len).sum()
        };
        Chunk {
            buf: Arc::clone(&self.buf),
            start: self.start + range.start as u32,
            end: self.start + range.end as u32,
            bytes,
        }
    }

    pub(crate) fn first(&self) -> &Entry {
        &self.buf[self.start as usize]
    }

    pub(crate) fn last(&self) -> &Entry {
        &self.buf[self.end as usize - 1]
    }
}

/// Consecutive log entries, shared: cloning never copies an entry.
///
/// Read it like a slice: [`Entries::iter`], [`Entries::len`], [`Entries::first`],
/// [`Entries::last`], [`Entries::get`]. Internally it may consist of several shared runs
/// ([`Entries::runs`] exposes them as slices, for a store that writes them in bulk).
#[derive(Clone, Default)]
pub struct Entries {
    chunks: Chunks,
}

#[derive(Clone, Default)]
enum Chunks {
    #[default]
    Empty,
    One(Chunk),
    Many(Vec<Chunk>),
}

impl Entries {
    /// No entries.
    #[must_use]
    pub const fn new() -> Entries {
        Entries {
            chunks: Chunks::Empty,
        }
    }

    pub(crate) fn from_chunk(c: Chunk) -> Entries {
        Entries {
            chunks: Chunks::One(c),
        }
    }

    fn chunk_slice(&self) -> &[Chunk] {
        match &self.chunks {
            Chunks::Empty => &[],
            Chunks::One(c) => core::slice::from_ref(c),
            Chunks::Many(v) => v,
        }
    }

    /// Appends a chunk at the end (it must continue the entries).
    pub(crate) fn push_chunk(&mut self, c: Chunk) {
        self.chunks = match core::mem::take(&mut self.chunks) {
            Chunks::Empty => Chunks::One(c),
            Chunks::One(a) => Chunks::Many(alloc::vec![a, c]),
            Chunks::Many(mut v) => {
                v.push(c);
                Chunks::Many(v)
            }
        };
    }

    /// The number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.chunk_slice().iter().map(Chunk::len).sum()
    }

    /// Whether there are no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        matches!(self.chunks, Chunks::Empty)
    }

    /// The entries in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(
            self.chunk_slice()
                .iter()
                .flat_map(Chunk::as_slice as fn(&Chunk) -> &[Entry]),
        )
    }

    /// The entries as a few contiguous slices, in order.
    pub fn runs(&self) -> impl Iterator<Item = &[Entry]> + '_ {
        self.chunk_slice().iter().map(Chunk::as_slice)
    }

    /// The first entry.
    #[must_use]
    pub fn first(&self) -> Option<&Entry> {
        self.chunk_slice().first().map(Chunk::first)
    }

    /// The last entry.
    #[must_use]
    pub fn last(&self) -> Option<&Entry> {
        self.chunk_slice().last().map(Chunk::last)
    }

    /// The entry at position `i` (0-based, not a log index).
    #[must_use]
    pub fn get(&self, mut i: usize) -> Option<&Entry> {
        for c in self.chunk_slice() {
            if i < c.len() {
                return c.as_slice().get(i);
            }
            i -= c.len();
        }
        None
    }

    /// The sum of the entries' [`Entry::payload_len`].
    #[must_use]
    pub fn payload_bytes(&self) -> u64 {
        self.chunk_slice().iter().map(Chunk::bytes).sum()
    }

    /// The entries from position `skip` on (0-based).
    pub(crate) fn skip(&self, mut skip: usize) -> Entries {
        let mut out = Entries::new();
        for c in self.chunk_slice() {
            if skip >= c.len() {
                skip -= c.len();
                continue;
            }
            out.push_chunk(if skip == 0 {
                c.clone()
            } else {
                c.sub(skip..c.len())
            });
            skip = 0;
        }
        out
    }

    pub(crate) fn into_chunks(self) -> impl Iterator<Item = Chunk> {
        let v = match self.chunks {
            Chunks::Empty => Vec::new(),
            Chunks::One(c) => alloc::vec![c],
            Chunks::Many(v) => v,
        };
        v.into_iter()
    }

    /// Copies the entries into a vector.
    #[must_use]
    pub fn to_vec(&self) -> Vec<Entry> {
        self.iter().cloned().collect()
    }
}

impl From<Vec<Entry>> for Entries {
    fn from(v: Vec<Entry>) -> Entries {
        if v.is_empty() {
            Entries::new()
        } else {
            Entries::from_chunk(Chunk::new(v))
        }
    }
}

impl FromIterator<Entry> for Entries {
    fn from_iter<I: IntoIterator<Item = Entry>>(iter: I) -> Entries {
        Entries::from(iter.into_iter().collect::<Vec<_>>())
    }
}

type ChunkEntries<'a> =
    core::iter::FlatMap<core::slice::Iter<'a, Chunk>, &'a [Entry], fn(&Chunk) -> &[Entry]>;

/// An iterator over [`Entries`].
pub struct Iter<'a>(ChunkEntries<'a>);

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Entry;

    #[inline]
    fn next(&mut self) -> Option<&'a Entry> {
        self.0.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back()
    }
}

impl<'a> IntoIterator for &'a Entries {
    type Item = &'a Entry;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl PartialEq for Entries {
    fn eq(&self, other: &Entries) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Entries {}

impl fmt::Debug for Entries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Entries {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for e in self.iter() {
            seq.serialize_element(e)?;
        }
        seq.end()
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Entries, D::Error> {
        Vec::<Entry>::deserialize(d).map(Entries::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::EntryPayload;
    use crate::types::{Index, Term};
    use bytes::Bytes;

    fn e(i: u64) -> Entry {
        Entry {
            term: Term(1),
            index: Index(i),
            payload: EntryPayload::Command(Bytes::from(alloc::vec![0u8; i as usize])),
        }
    }

    #[test]
    fn chunks_read_like_one_slice() {
        let mut a = Entries::from(alloc::vec![e(1), e(2)]);
        a.push_chunk(Chunk::new(alloc::vec![e(3), e(4), e(5)]).sub(1..3));
        assert_eq!(a.len(), 4);
        let idx: Vec<u64> = a.iter().map(|x| x.index.0).collect();
        assert_eq!(idx, [1, 2, 4, 5]);
        assert_eq!(a.first().unwrap().index, Index(1));
        assert_eq!(a.last().unwrap().index, Index(5));
        assert_eq!(a.get(2).unwrap().index, Index(4));
        assert_eq!(a.payload_bytes(), 1 + 2 + 4 + 5);
        let s = a.skip(3);
        assert_eq!(s.to_vec(), alloc::vec![e(5)]);
        assert!(a.skip(4).is_empty());
        assert_eq!(a.runs().count(), 2);
    }
}
