//! Seeded synthetic histories of one key, for testing the checker: linearizable by construction
//! (each operation takes effect at a random point inside its interval), and the same with one
//! flaw injected that makes it certainly not linearizable.

use crate::history::{Kind, Op, Outcome};
use crate::rng::Rng;

/// The key of synthetic histories.
pub const KEY: &str = "k";

/// A flaw to inject into a linearizable history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flaw {
    /// A read returns a value overwritten by a write that completed before the read began.
    StaleRead,
    /// A read returns a value no operation wrote.
    GhostValue,
    /// A read returns the value of a write called only after the read returned.
    FutureRead,
    /// Two reads in real-time order see two writes in the opposite order.
    ReadsGoBackwards,
}

/// A linearizable history of `n` operations by `clients` clients on one key. About a tenth of
/// the writes have an unknown outcome (half of those took effect, half did not) and a few reads
/// failed.
#[must_use]
pub fn linearizable(seed: u64, clients: u32, n: usize) -> Vec<Op> {
    let mut rng = Rng::new(seed);
    let mut clock = vec![0u64; clients as usize];
    // (linearization point or None if it never took effect, op)
    let mut ops: Vec<(Option<u64>, Op)> = Vec::with_capacity(n);
    for seq in 0..n {
        let c = rng.below(u64::from(clients)) as usize;
        let call = clock[c] + rng.range(1, 50);
        let point = call + rng.range(1, 100);
        let ret = point + rng.range(1, 100);
        clock[c] = ret;
        let write = rng.chance(0.5);
        let (kind, mut outcome, mut ret, mut point) = if write {
            (
                Kind::Write(format!("{c}.{seq}")),
                Outcome::Written,
                Some(ret),
                Some(point),
            )
        } else {
            (Kind::Read, Outcome::Read(None), Some(ret), Some(point))
        };
        if write && rng.chance(0.1) {
            outcome = Outcome::Unknown("synthetic".into());
            ret = None;
            if rng.chance(0.5) {
                point = None;
            }
        } else if !write && rng.chance(0.05) {
            outcome = Outcome::Failed("synthetic".into());
            point = None;
        }
        ops.push((
            point,
            Op {
                client: c as u32,
                key: KEY.into(),
                kind,
                call,
                ret,
                outcome,
            },
        ));
    }
    // Apply in linearization order to give the reads their values.
    let mut order: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].0.is_some()).collect();
    order.sort_by_key(|&i| ops[i].0);
    let mut register: Option<String> = None;
    for i in order {
        let op = &mut ops[i].1;
        match &op.kind {
            Kind::Write(v) => register = Some(v.clone()),
            Kind::Read => op.outcome = Outcome::Read(register.clone()),
        }
    }
    ops.into_iter().map(|(_, op)| op).collect()
}

fn known_write(op: &Op) -> Option<&str> {
    match (&op.kind, &op.outcome) {
        (Kind::Write(v), Outcome::Written) => Some(v),
        _ => None,
    }
}

fn is_read(op: &Op) -> bool {
    matches!(op.outcome, Outcome::Read(_))
}

/// `ops` with `flaw` injected at a place chosen by `seed`, or `None` if the history offers no
/// place for it.
#[must_use]
pub fn with_flaw(mut ops: Vec<Op>, flaw: Flaw, seed: u64) -> Option<Vec<Op>> {
    let mut rng = Rng::new(seed).fork(7);
    let ret = |o: &Op| o.ret.unwrap_or(u64::MAX);
    // Pairs of known writes (old, new) with old completed before new was called.
    let ordered_writes = |ops: &[Op]| -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        for (i, a) in ops.iter().enumerate() {
            for (j, b) in ops.iter().enumerate() {
                if known_write(a).is_some() && known_write(b).is_some() && ret(a) < b.call {
                    v.push((i, j));
                }
            }
        }
        v
    };
    match flaw {
        Flaw::GhostValue => {
            let reads: Vec<usize> = (0..ops.len()).filter(|&i| is_read(&ops[i])).collect();
            let &r = rng.pick(&reads)?;
            ops[r].outcome = Outcome::Read(Some("ghost".into()));
        }
        Flaw::FutureRead => {
            let mut cands = Vec::new();
            for (r, read) in ops.iter().enumerate().filter(|(_, o)| is_read(o)) {
                for (w, write) in ops.iter().enumerate() {
                    if matches!(write.kind, Kind::Write(_)) && write.call > ret(read) {
                        cands.push((r, w));
                    }
                }
            }
            let &(r, w) = rng.pick(&cands)?;
            let Kind::Write(v) = ops[w].kind.clone() else {
                return None;
            };
            ops[r].outcome = Outcome::Read(Some(v));
        }
        Flaw::StaleRead => {
            let mut cands = Vec::new();
            for (old, new) in ordered_writes(&ops) {
                for (r, read) in ops.iter().enumerate() {
                    if is_read(read) && ret(&ops[new]) < read.call {
                        cands.push((old, r));
                    }
                }
            }
            let &(old, r) = rng.pick(&cands)?;
            let v = known_write(&ops[old])?.to_owned();
            ops[r].outcome = Outcome::Read(Some(v));
        }
        Flaw::ReadsGoBackwards => {
            let mut cands = Vec::new();
            for (old, new) in ordered_writes(&ops) {
                for (r1, a) in ops.iter().enumerate() {
                    if !is_read(a) || ops[new].call >= ret(a) {
                        continue;
                    }
                    for (r2, b) in ops.iter().enumerate() {
                        if is_read(b) && ret(a) < b.call {
                            cands.push((old, new, r1, r2));
                        }
                    }
                }
            }
            let &(old, new, r1, r2) = rng.pick(&cands)?;
            let (vo, vn) = (
                known_write(&ops[old])?.to_owned(),
                known_write(&ops[new])?.to_owned(),
            );
            ops[r1].outcome = Outcome::Read(Some(vn));
            ops[r2].outcome = Outcome::Read(Some(vo));
        }
    }
    Some(ops)
}
