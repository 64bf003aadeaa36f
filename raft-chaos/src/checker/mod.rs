//! The linearizability checker: each key is a register (`SET` writes it, `GET` reads it, nil when
//! absent), checked on its own (linearizability is compositional, so the history is linearizable
//! if and only if every key's is).
//!
//! For one key, [`prepare`] turns the operations into intervals over small value ids and drops
//! what cannot constrain anything: reads that failed or never returned, writes that certainly
//! failed, and writes of unknown outcome whose value nobody read (such a write may be taken as
//! never applied: values are unique, so no read depends on it). An unknown write that someone
//! read must have taken effect after its call and before the first read of its value returned:
//! that return ends its interval. Then [`search`] runs the Wing–Gong search with Lowe's memoization (as in Knossos and Porcupine):
//! the calls and returns in time order, try to linearize the earliest pending calls first, and
//! remember each (set of linearized operations, register value) already explored, so no
//! configuration is explored twice. A failure is explained by [`explain`]: the furthest the
//! search got, the operation it could not place, the value the register held, and the
//! operations around it.
//!
//! The search is exponential in the worst case; it is bounded by [`Limits::max_states`] and a
//! key that exceeds it is reported as given up, never as linearizable.

mod explain;
mod prepare;
mod search;
pub mod synth;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::history::Op;

pub use explain::describe;

/// Bounds on the search.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The most configurations explored for one key before giving up.
    pub max_states: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_states: 5_000_000,
        }
    }
}

/// The verdict on one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Some order of the operations, consistent with real time, explains every result.
    Linearizable,
    /// No such order exists; the text explains where the search got stuck.
    Violation(String),
    /// The search exceeded [`Limits::max_states`]: nothing is known.
    GaveUp,
}

/// The check of one key.
#[derive(Clone, Debug)]
pub struct KeyReport {
    /// The key.
    pub key: String,
    /// Its operations in the history.
    pub ops: usize,
    /// The operations left for the search after dropping those that constrain nothing.
    pub searched: usize,
    /// Configurations explored.
    pub states: u64,
    /// The verdict.
    pub verdict: Verdict,
}

/// The check of a whole history.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// One report per key, in key order.
    pub keys: Vec<KeyReport>,
    /// How long the check took.
    pub elapsed: Duration,
}

impl Report {
    /// The keys found not linearizable.
    pub fn violations(&self) -> impl Iterator<Item = &KeyReport> {
        self.keys
            .iter()
            .filter(|k| matches!(k.verdict, Verdict::Violation(_)))
    }

    /// The keys whose search gave up.
    pub fn gave_up(&self) -> impl Iterator<Item = &KeyReport> {
        self.keys.iter().filter(|k| k.verdict == Verdict::GaveUp)
    }

    /// Whether every key was checked and found linearizable.
    #[must_use]
    pub fn is_linearizable(&self) -> bool {
        self.keys.iter().all(|k| k.verdict == Verdict::Linearizable)
    }

    /// Operations searched, over all keys.
    #[must_use]
    pub fn searched(&self) -> usize {
        self.keys.iter().map(|k| k.searched).sum()
    }
}

/// Checks every key of `history`.
#[must_use]
pub fn check(history: &[Op], limits: &Limits) -> Report {
    let start = Instant::now();
    let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in history {
        by_key.entry(op.key.as_str()).or_default().push(op);
    }
    let keys = by_key
        .into_iter()
        .map(|(key, ops)| check_key(key, &ops, limits))
        .collect();
    Report {
        keys,
        elapsed: start.elapsed(),
    }
}

/// Checks the operations of one key.
#[must_use]
pub fn check_key(key: &str, ops: &[&Op], limits: &Limits) -> KeyReport {
    let mut report = KeyReport {
        key: key.to_owned(),
        ops: ops.len(),
        searched: 0,
        states: 0,
        verdict: Verdict::Linearizable,
    };
    let prepared = match prepare::prepare(ops) {
        Ok(p) => p,
        Err(why) => {
            report.verdict = Verdict::Violation(format!("key {key}: not linearizable: {why}"));
            return report;
        }
    };
    report.searched = prepared.ops.len();
    match search::search(&prepared.ops, limits.max_states) {
        search::Outcome::Linearizable { states } => report.states = states,
        search::Outcome::GaveUp { states } => {
            report.states = states;
            report.verdict = Verdict::GaveUp;
        }
        search::Outcome::Stuck { states, stuck } => {
            report.states = states;
            report.verdict = Verdict::Violation(explain::explain(key, ops, &prepared, &stuck));
        }
    }
    report
}
