//! Turning a failed search into a counterexample a person can follow: the operation that could
//! not be placed, what the register held at the furthest point the search reached, and the
//! operations around it in time.

use std::fmt::Write as _;

use super::prepare::{Act, Prepared};
use super::search::Stuck;
use crate::history::{Kind, Op, Outcome};

/// The most context lines printed.
const CONTEXT: usize = 24;

fn secs(ns: u64) -> String {
    format!("{:.3}s", ns as f64 / 1e9)
}

/// One operation on one line: `client 4 read -> "4.17" [1.200s, 1.250s]`.
#[must_use]
pub fn describe(op: &Op) -> String {
    let what = match (&op.kind, &op.outcome) {
        (Kind::Read, Outcome::Read(None)) => "read -> nil".to_owned(),
        (Kind::Read, Outcome::Read(Some(v))) => format!("read -> {v:?}"),
        (Kind::Read, o) => format!("read ({o:?})"),
        (Kind::Write(v), Outcome::Written) => format!("write {v:?} ok"),
        (Kind::Write(v), Outcome::Unknown(why)) => format!("write {v:?} unknown ({why})"),
        (Kind::Write(v), o) => format!("write {v:?} ({o:?})"),
    };
    let client = if op.client == u32::MAX {
        "final state".to_owned()
    } else {
        format!("client {}", op.client)
    };
    format!(
        "{client} {what} [{}, {}]",
        secs(op.call),
        op.ret.map_or("?".to_owned(), secs)
    )
}

/// Explains why `ops` (one key's, prepared as `prep`) are not linearizable.
pub(super) fn explain(key: &str, ops: &[&Op], prep: &Prepared, stuck: &Stuck) -> String {
    let blocked = prep.ops[stuck.blocked];
    let b = ops[blocked.source];
    let held = &prep.names[stuck.state as usize];
    let mut out = format!(
        "key {key}: not linearizable ({} operations searched of {}).\n\
         The furthest linearization placed {} operations; then this one could not be placed \
         before it returned:\n  {}\n\
         The register held {held:?} at that point",
        prep.ops.len(),
        ops.len(),
        stuck.linearized,
        describe(b),
    );
    if let Act::Read(v) = blocked.act {
        let _ = write!(
            out,
            ", and no write allowed before this read's return makes it {:?}",
            prep.names[v as usize]
        );
    }
    out.push_str(".\nOperations around it (searched ones; * marks the one above):\n");
    // Concurrent with it, the last few completed before it, and the writes of the value it read.
    let read_value = match blocked.act {
        Act::Read(v) if v != 0 => Some(v),
        _ => None,
    };
    let mut before: Vec<usize> = (0..prep.ops.len())
        .filter(|&i| prep.ops[i].ret < blocked.call)
        .collect();
    before.sort_by_key(|&i| prep.ops[i].ret);
    let mut shown: Vec<usize> = before.iter().rev().take(4).copied().collect();
    for (i, o) in prep.ops.iter().enumerate() {
        let concurrent = o.ret >= blocked.call && o.call <= blocked.ret;
        let wrote_it = read_value.is_some_and(|v| o.act == Act::Write(v));
        if (concurrent || wrote_it) && !shown.contains(&i) {
            shown.push(i);
        }
    }
    shown.sort_by_key(|&i| (prep.ops[i].call, i));
    let extra = shown.len().saturating_sub(CONTEXT);
    for &i in shown.iter().take(CONTEXT) {
        let mark = if i == stuck.blocked { '*' } else { ' ' };
        let _ = writeln!(out, " {mark} {}", describe(ops[prep.ops[i].source]));
    }
    if extra > 0 {
        let _ = writeln!(out, "   ... and {extra} more concurrent operations");
    }
    out
}
