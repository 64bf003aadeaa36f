//! The Wing–Gong linearizability search with Lowe's memoization, over a register.
//!
//! The history is a doubly linked list of call and return entries in time order (calls before
//! returns at equal times, so touching operations count as concurrent). From the head, the
//! search tries each call entry in turn: if the register allows the operation now, it is
//! linearized (its call and return entries are lifted out of the list) and the search restarts
//! from the head; a return entry reached means that operation should have been linearized
//! already, so the search backtracks (unlifts the last linearized operation and tries the next
//! candidate after it). The list emptying means every operation has been placed. Each
//! (linearized set, register value) configuration is explored at most once.
//!
//! One reduction on top: when a callable read returns the value the register holds, it is
//! linearized at once as the only choice. Any linearization from that configuration stays one
//! with the read moved to the front (it changes no state, and no operation left returned before
//! it was called), so nothing is lost, and the orders of concurrent reads are not explored.

use std::collections::HashSet;

use super::prepare::{Act, SOp};

const NIL: usize = usize::MAX;

/// Where the deepest attempt got stuck.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stuck {
    /// How many operations were linearized at that point.
    pub linearized: usize,
    /// The operation (index in the search's input) that could not be placed before its return.
    pub blocked: usize,
    /// The register's value then.
    pub state: u32,
}

/// The search's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Every operation was placed.
    Linearizable {
        /// Configurations explored.
        states: u64,
    },
    /// No order works.
    Stuck {
        /// Configurations explored.
        states: u64,
        /// The deepest point reached.
        stuck: Stuck,
    },
    /// The budget ran out.
    GaveUp {
        /// Configurations explored.
        states: u64,
    },
}

#[derive(Clone, Copy)]
struct Entry {
    op: usize,
    call: bool,
    prev: usize,
    next: usize,
    /// For a call entry: its return entry.
    ret: usize,
}

/// A choice on the search's path.
struct Frame {
    /// The call entry linearized.
    entry: usize,
    /// The register's value before it.
    before: u32,
    /// Whether it was the only choice tried in its configuration (a read of the value held).
    forced: bool,
}

/// The first pending read, callable now (before the first return entry), that returns `state`.
fn matching_read(e: &[Entry], ops: &[SOp], state: u32) -> Option<usize> {
    let mut at = e[0].next;
    while at != NIL && e[at].call {
        if ops[e[at].op].act == Act::Read(state) {
            return Some(at);
        }
        at = e[at].next;
    }
    None
}

/// The register's step: whether `act` may happen when it holds `state`, and what it holds after.
fn step(state: u32, act: Act) -> Option<u32> {
    match act {
        Act::Write(v) => Some(v),
        Act::Read(v) => (v == state).then_some(state),
    }
}

fn lift(e: &mut [Entry], call: usize) {
    let ret = e[call].ret;
    for at in [call, ret] {
        let (prev, next) = (e[at].prev, e[at].next);
        e[prev].next = next;
        if next != NIL {
            e[next].prev = prev;
        }
    }
}

fn unlift(e: &mut [Entry], call: usize) {
    let ret = e[call].ret;
    for at in [ret, call] {
        let (prev, next) = (e[at].prev, e[at].next);
        e[prev].next = at;
        if next != NIL {
            e[next].prev = at;
        }
    }
}

/// A configuration in the memo: the linearized set (first word not full, the words from there
/// to the last non-empty one) and the register's value.
type MemoKey = (usize, Box<[u64]>, u32);

/// The set of linearized operations, as a bitset whose memo key leaves out the full words at
/// the front and the empty words at the back: the search linearizes operations roughly in time
/// order, so the key stays the size of the window of concurrent operations, not of the history.
struct Linearized {
    words: Vec<u64>,
    /// Every word below `lo` is full.
    lo: usize,
    /// Every word from `hi` on is empty.
    hi: usize,
}

impl Linearized {
    fn new(n: usize) -> Linearized {
        Linearized {
            words: vec![0; n.div_ceil(64)],
            lo: 0,
            hi: 0,
        }
    }

    fn set(&mut self, op: usize) {
        let w = op / 64;
        self.words[w] |= 1 << (op % 64);
        self.hi = self.hi.max(w + 1);
        while self.lo < self.words.len() && self.words[self.lo] == u64::MAX {
            self.lo += 1;
        }
    }

    fn unset(&mut self, op: usize) {
        let w = op / 64;
        self.words[w] &= !(1 << (op % 64));
        self.lo = self.lo.min(w);
        while self.hi > 0 && self.words[self.hi - 1] == 0 {
            self.hi -= 1;
        }
    }

    /// A key that identifies the set, with the register's value `state`, exactly.
    fn key(&self, state: u32) -> MemoKey {
        let hi = self.hi.max(self.lo);
        (self.lo, self.words[self.lo..hi].into(), state)
    }
}

/// Searches for a linearization of `ops`, exploring at most `max_states` configurations.
pub(super) fn search(ops: &[SOp], max_states: u64) -> Outcome {
    let n = ops.len();
    let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * n);
    for (i, o) in ops.iter().enumerate() {
        events.push((o.call, false, i));
        events.push((o.ret, true, i));
    }
    events.sort_unstable();
    // Entry 0 is the head.
    let mut e = Vec::with_capacity(events.len() + 1);
    e.push(Entry {
        op: NIL,
        call: false,
        prev: NIL,
        next: if events.is_empty() { NIL } else { 1 },
        ret: NIL,
    });
    let mut call_at = vec![NIL; n];
    for (k, &(_, is_ret, op)) in events.iter().enumerate() {
        let at = k + 1;
        e.push(Entry {
            op,
            call: !is_ret,
            prev: at - 1,
            next: if at < events.len() { at + 1 } else { NIL },
            ret: NIL,
        });
        if is_ret {
            e[call_at[op]].ret = at;
        } else {
            call_at[op] = at;
        }
    }

    let mut linearized = Linearized::new(n);
    let mut seen: HashSet<MemoKey> = HashSet::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut state = 0u32;
    let mut states = 0u64;
    let mut stuck: Option<Stuck> = None;
    let mut cur = NIL;
    // A configuration just reached: no candidate tried yet.
    let mut fresh = true;
    while e[0].next != NIL {
        if fresh {
            fresh = false;
            cur = e[0].next;
            if let Some(read) = matching_read(&e, ops, state) {
                // A pending read of the value the register holds can go first in any
                // linearization from here (it changes nothing, and every operation left
                // returns after its call): it is the only choice tried here.
                let op = e[read].op;
                linearized.set(op);
                if seen.insert(linearized.key(state)) {
                    states += 1;
                    if states > max_states {
                        return Outcome::GaveUp { states };
                    }
                    stack.push(Frame {
                        entry: read,
                        before: state,
                        forced: true,
                    });
                    lift(&mut e, read);
                    fresh = true;
                    continue;
                }
                // Explored before without success: so is this configuration.
                linearized.unset(op);
                cur = NIL;
            }
        }
        if cur != NIL && e[cur].call {
            let op = e[cur].op;
            if let Some(next) = step(state, ops[op].act) {
                linearized.set(op);
                if seen.insert(linearized.key(next)) {
                    states += 1;
                    if states > max_states {
                        return Outcome::GaveUp { states };
                    }
                    stack.push(Frame {
                        entry: cur,
                        before: state,
                        forced: false,
                    });
                    state = next;
                    lift(&mut e, cur);
                    fresh = true;
                    continue;
                }
                linearized.unset(op);
            }
            cur = e[cur].next;
            continue;
        }
        // A return entry: that operation should have been placed by now (or the configuration
        // is known to fail). Backtrack to the last choice that has alternatives.
        if cur != NIL && stuck.is_none_or(|s| stack.len() > s.linearized) {
            stuck = Some(Stuck {
                linearized: stack.len(),
                blocked: e[cur].op,
                state,
            });
        }
        loop {
            let Some(f) = stack.pop() else {
                let stuck = stuck.unwrap_or(Stuck {
                    linearized: 0,
                    blocked: 0,
                    state: 0,
                });
                return Outcome::Stuck { states, stuck };
            };
            linearized.unset(e[f.entry].op);
            state = f.before;
            unlift(&mut e, f.entry);
            if !f.forced {
                cur = e[f.entry].next;
                break;
            }
        }
    }
    Outcome::Linearizable { states }
}
