//! Shared by the integration tests: a vocabulary of log operations that are (almost) always valid
//! against the current model, turned into concrete [`Write`]s, and the comparison of a
//! [`RocksLog`] with the model, [`MemStorage`].

#![allow(dead_code)]

use bytes::Bytes;
use raft_core::{
    ConfChange, Entry, EntryPayload, HardState, Index, LogId, MemStorage, Membership, NodeId,
    SnapshotMeta, Storage, StorageError, StoredMembership, Term, Write,
};
use raft_storage_rocks::RocksLog;

/// An operation, relative to the current log so that it stays meaningful after shrinking.
#[derive(Clone, Debug)]
pub enum Spec {
    /// Append `count` entries of about `size` payload bytes, in a new term if `new_term`.
    Append {
        count: u8,
        size: u16,
        new_term: bool,
    },
    /// Replace a suffix (starting `back` entries before the end) with `count` entries of a new term.
    Rewrite { back: u16, count: u8, size: u16 },
    /// Store a hard state that only moves the commit index (not synced, as the core does).
    Commit { back: u16 },
    /// Store a hard state with a new term and a vote.
    Vote { node: u8 },
    /// Store a membership.
    Member { voters: u8 },
    /// Install a snapshot ending `ahead` entries after the current end, then append `count`.
    Install { ahead: u8, count: u8 },
    /// Record a snapshot taken `back` entries before the end.
    Taken { back: u16 },
    /// Compact up to `back` entries before the recorded snapshot's end.
    Compact { back: u16 },
    /// An append that leaves a gap: must be rejected.
    Gap { ahead: u8 },
    /// Close the log and open it again.
    Reopen,
}

/// A concrete operation.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // a test's value, moved a few times
pub enum Op {
    Write(Write),
    Compact(Index),
    Reopen,
}

/// The current term: the highest the model has seen.
fn current_term(m: &MemStorage) -> Term {
    let snap = m.snapshot().map_or(Term(0), |s| s.last.term);
    m.hard_state()
        .term
        .max(m.last().term)
        .max(snap)
        .max(Term(1))
}

/// The payload of the entry at (`term`, `index`) with about `size` bytes: deterministic, so a
/// checker can recompute it.
pub fn payload(term: Term, index: Index, size: u16) -> EntryPayload {
    match size {
        0 => EntryPayload::Blank,
        s if s % 13 == 1 => {
            EntryPayload::Membership(ConfChange::Bootstrap(Membership::with_voters([
                NodeId(index.0 % 5 + 1),
                NodeId(7),
            ])))
        }
        s => {
            let mut data = vec![(index.0 as u8) ^ (term.0 as u8).wrapping_mul(31); usize::from(s)];
            let tag = [index.0.to_le_bytes(), term.0.to_le_bytes()].concat();
            let n = tag.len().min(data.len());
            data[..n].copy_from_slice(&tag[..n]);
            EntryPayload::Command(Bytes::from(data))
        }
    }
}

fn entries(term: Term, first: Index, count: u8, size: u16) -> Vec<Entry> {
    (0..u64::from(count.max(1)))
        .map(|i| {
            let index = first.plus(i);
            Entry {
                term,
                index,
                payload: payload(term, index, size.wrapping_add(i as u16 * 7) % 600),
            }
        })
        .collect()
}

fn write(sync: bool) -> Write {
    let mut w = Write::default();
    w.sync = sync;
    w
}

/// The concrete operation `spec` stands for against the model `m`.
pub fn realize(spec: &Spec, m: &MemStorage) -> Op {
    let term = current_term(m);
    let last = m.last();
    let start = m.log_start();
    let stored = last.index.distance_from(start.index);
    let hs = m.hard_state();
    match *spec {
        Spec::Append {
            count,
            size,
            new_term,
        } => {
            let t = if new_term { Term(term.0 + 1) } else { term };
            let mut w = write(true);
            w.entries = entries(t, last.index.next(), count, size).into();
            if t != hs.term {
                w.hard_state = Some(HardState {
                    term: t,
                    vote: None,
                    commit: hs.commit,
                });
            }
            Op::Write(w)
        }
        Spec::Rewrite { back, count, size } => {
            if stored == 0 {
                return realize(&Spec::Vote { node: 1 }, m);
            }
            let from = last.index.0 - u64::from(back) % stored;
            let t = Term(term.0 + 1);
            let mut w = write(true);
            w.entries = entries(t, Index(from), count, size).into();
            w.hard_state = Some(HardState {
                term: t,
                vote: None,
                commit: hs.commit,
            });
            Op::Write(w)
        }
        Spec::Commit { back } => {
            let mut w = write(false);
            w.hard_state = Some(HardState {
                commit: Index(last.index.0 - u64::from(back) % (stored + 1)),
                ..hs
            });
            Op::Write(w)
        }
        Spec::Vote { node } => {
            let mut w = write(true);
            w.hard_state = Some(HardState {
                term: Term(term.0 + 1),
                vote: Some(NodeId(u64::from(node % 7) + 1)),
                commit: hs.commit,
            });
            Op::Write(w)
        }
        Spec::Member { voters } => {
            let mut w = write(true);
            w.membership = Some(StoredMembership {
                index: last.index,
                membership: Membership::with_voters((1..=u64::from(voters % 5) + 1).map(NodeId)),
            });
            Op::Write(w)
        }
        Spec::Install { ahead, count } => {
            let snap_last = LogId::new(term, last.index.plus(u64::from(ahead)));
            let mut w = write(true);
            w.snapshot = Some(SnapshotMeta {
                last: snap_last,
                membership: m.membership().membership.clone(),
            });
            if count > 0 {
                w.entries = entries(term, snap_last.index.next(), count, 40).into();
            }
            Op::Write(w)
        }
        Spec::Taken { back } => {
            let index = Index(last.index.0 - u64::from(back) % (stored + 1));
            let t = m.term(index).unwrap_or(Term(0));
            let mut w = write(true);
            w.snapshot_taken = Some(SnapshotMeta {
                last: LogId::new(t, index),
                membership: m.membership().membership.clone(),
            });
            Op::Write(w)
        }
        Spec::Compact { back } => {
            let snap = m.snapshot().map_or(Index(0), |s| s.last.index);
            Op::Compact(Index(snap.0.saturating_sub(u64::from(back))))
        }
        Spec::Gap { ahead } => {
            let mut w = write(true);
            w.entries = entries(term, last.index.plus(2 + u64::from(ahead)), 1, 10).into();
            Op::Write(w)
        }
        Spec::Reopen => Op::Reopen,
    }
}

/// Applies `op` to the model; `Ok(false)` when the model rejects it.
pub fn apply_model(m: &mut MemStorage, op: &Op) -> bool {
    match op {
        Op::Write(w) => m.apply_write(w).is_ok(),
        Op::Compact(to) => m.compact(*to).is_ok(),
        Op::Reopen => true,
    }
}

/// A short name for a storage result, to compare error kinds.
pub fn kind<T>(r: &Result<T, StorageError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(StorageError::Compacted) => "compacted",
        Err(StorageError::Unavailable) => "unavailable",
        Err(StorageError::Corrupt { .. }) => "corrupt",
        Err(_) => "other",
    }
}

/// Whether `log` holds exactly what `model` holds: the state, every entry, every term, and the
/// same answers just outside the stored range.
pub fn compare(log: &RocksLog, model: &MemStorage) -> Result<(), String> {
    let got = log.initial_state().map_err(|e| e.to_string())?;
    let want = model.initial_state().map_err(|e| e.to_string())?;
    if got != want {
        return Err(format!("state differs:\n got {got:?}\nwant {want:?}"));
    }
    let (start, last) = (want.log_start.index, want.last.index);
    if last > start {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        log.entries(start.next(), last.next(), u64::MAX, &mut a)
            .map_err(|e| format!("reading the log: {e}"))?;
        model
            .entries(start.next(), last.next(), u64::MAX, &mut b)
            .map_err(|e| e.to_string())?;
        if a != b {
            let first_diff = a.iter().zip(&b).position(|(x, y)| x != y);
            return Err(format!(
                "entries differ ({} vs {}), first at {first_diff:?}",
                a.len(),
                b.len()
            ));
        }
    }
    for i in [start, last, last.next(), Index(start.0.saturating_sub(1))] {
        let (a, b) = (log.term(i), model.term(i));
        if kind(&a) != kind(&b) || (a.is_ok() && a.as_ref().ok() != b.as_ref().ok()) {
            return Err(format!("term({}) differs: {a:?} vs {b:?}", i.0));
        }
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let (ra, rb) = (
        log.entries(start, last.next(), u64::MAX, &mut a),
        model.entries(start, last.next(), u64::MAX, &mut b),
    );
    if kind(&ra) != kind(&rb) {
        return Err(format!("entries from the log start: {ra:?} vs {rb:?}"));
    }
    Ok(())
}

/// A small deterministic generator (splitmix64) for the crash test's child and parent.
#[derive(Clone, Debug)]
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// A random valid spec (no gaps, no reopens), weighted towards appends.
    pub fn spec(&mut self) -> Spec {
        let small = |g: &mut SplitMix, n| g.below(n) as u16;
        match self.below(100) {
            0..=59 => Spec::Append {
                count: 1 + self.below(16) as u8,
                size: small(self, 300),
                new_term: self.below(10) == 0,
            },
            60..=67 => Spec::Rewrite {
                back: small(self, 8),
                count: 1 + self.below(4) as u8,
                size: small(self, 200),
            },
            68..=79 => Spec::Commit {
                back: small(self, 4),
            },
            80..=83 => Spec::Vote {
                node: self.below(7) as u8,
            },
            84..=86 => Spec::Member {
                voters: self.below(5) as u8,
            },
            87..=88 => Spec::Install {
                ahead: self.below(5) as u8,
                count: self.below(3) as u8,
            },
            89..=94 => Spec::Taken {
                back: small(self, 20),
            },
            _ => Spec::Compact {
                back: small(self, 10),
            },
        }
    }
}
