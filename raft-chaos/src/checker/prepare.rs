//! From one key's operations to the search's input: intervals over value ids, with the
//! operations that cannot constrain anything dropped, and the plainly impossible reads (a value
//! nobody wrote, a value whose write began after the read returned) reported at once.

use std::collections::HashMap;

use crate::history::{Kind, Op, Outcome};

/// What a searched operation does; values are ids, 0 is nil (absent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Act {
    /// Sets the register.
    Write(u32),
    /// Returned this value.
    Read(u32),
}

/// An operation as the search sees it.
#[derive(Clone, Copy, Debug)]
pub(super) struct SOp {
    /// Call time.
    pub call: u64,
    /// Return time. For a write of unknown outcome (kept only when some read saw its value):
    /// the earliest return of a read of its value, the latest it can have taken effect.
    pub ret: u64,
    /// What it does.
    pub act: Act,
    /// Its index in the key's operations.
    pub source: usize,
}

/// The search's input for one key.
#[derive(Debug)]
pub(super) struct Prepared {
    /// The operations kept.
    pub ops: Vec<SOp>,
    /// Value names by id (`names[0]` is nil).
    pub names: Vec<String>,
}

fn span(op: &Op) -> String {
    let t = |ns: u64| format!("{:.3}s", ns as f64 / 1e9);
    format!("[{}, {}]", t(op.call), op.ret.map_or("?".to_owned(), t))
}

/// Prepares one key's operations, or says why they are plainly not linearizable.
pub(super) fn prepare(ops: &[&Op]) -> Result<Prepared, String> {
    let mut names = vec!["nil".to_owned()];
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let mut failed: HashMap<&str, &Op> = HashMap::new();
    // Values that may have been written, with the earliest call of a write of each.
    let mut first_call: HashMap<u32, u64> = HashMap::new();
    for op in ops {
        let Kind::Write(v) = &op.kind else { continue };
        match op.outcome {
            Outcome::Written | Outcome::Unknown(_) => {
                let id = *ids.entry(v.as_str()).or_insert_with(|| {
                    names.push(v.clone());
                    (names.len() - 1) as u32
                });
                let c = first_call.entry(id).or_insert(op.call);
                *c = (*c).min(op.call);
            }
            Outcome::Failed(_) => {
                failed.insert(v.as_str(), op);
            }
            Outcome::Read(_) => {}
        }
    }
    // For each value, the earliest return of a read of it.
    let mut first_read_ret: Vec<Option<u64>> = vec![None; names.len()];
    let mut out = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let Outcome::Read(v) = &op.outcome else {
            continue;
        };
        let Some(ret) = op.ret else { continue };
        let id = match v {
            None => 0,
            Some(v) => match ids.get(v.as_str()) {
                Some(&id) => id,
                None => {
                    return Err(match failed.get(v.as_str()) {
                        Some(w) => format!(
                            "client {} read {v:?} {}, but the only write of it (client {} {}) failed definitely: {:?}",
                            op.client,
                            span(op),
                            w.client,
                            span(w),
                            w.outcome
                        ),
                        None => format!(
                            "client {} read {v:?} {}, a value no operation wrote",
                            op.client,
                            span(op)
                        ),
                    });
                }
            },
        };
        if id != 0 && first_call[&id] > ret {
            return Err(format!(
                "client {} read {:?} {}, before any write of it was called (at {:.3}s)",
                op.client,
                names[id as usize],
                span(op),
                first_call[&id] as f64 / 1e9
            ));
        }
        let r = &mut first_read_ret[id as usize];
        *r = Some(r.map_or(ret, |r| r.min(ret)));
        out.push(SOp {
            call: op.call,
            ret,
            act: Act::Read(id),
            source: i,
        });
    }
    for (i, op) in ops.iter().enumerate() {
        let Kind::Write(v) = &op.kind else { continue };
        let Some(&id) = ids.get(v.as_str()) else {
            continue;
        };
        let ret = match (&op.outcome, first_read_ret[id as usize]) {
            (Outcome::Written, _) => op.ret.unwrap_or(u64::MAX),
            // Unread, it may as well never have happened. Read, it happened after its call and
            // before the first read of its value returned: that read's return bounds it as
            // exactly as a reply would have.
            (Outcome::Unknown(_), Some(first_read)) => first_read,
            _ => continue,
        };
        out.push(SOp {
            call: op.call,
            ret,
            act: Act::Write(id),
            source: i,
        });
    }
    out.sort_by_key(|o| (o.call, o.source));
    Ok(Prepared { ops: out, names })
}
