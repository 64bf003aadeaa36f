use super::synth::{self, Flaw};
use super::*;
use crate::history::{Kind, Op, Outcome};

fn w(client: u32, v: &str, call: u64, ret: Option<u64>) -> Op {
    Op {
        client,
        key: "k".into(),
        kind: Kind::Write(v.into()),
        call,
        ret,
        outcome: if ret.is_some() {
            Outcome::Written
        } else {
            Outcome::Unknown("timed out".into())
        },
    }
}

fn r(client: u32, v: Option<&str>, call: u64, ret: u64) -> Op {
    Op {
        client,
        key: "k".into(),
        kind: Kind::Read,
        call,
        ret: Some(ret),
        outcome: Outcome::Read(v.map(str::to_owned)),
    }
}

fn verdict(ops: &[Op]) -> Verdict {
    let report = check(ops, &Limits::default());
    assert_eq!(report.keys.len(), 1);
    report.keys[0].verdict.clone()
}

fn violation(ops: &[Op]) -> String {
    match verdict(ops) {
        Verdict::Violation(why) => why,
        v => panic!("expected a violation, got {v:?}"),
    }
}

#[test]
fn sequential_and_concurrent_histories_pass() {
    // Sequential: nil, a, b.
    let ops = [
        r(1, None, 0, 1),
        w(1, "a", 2, Some(3)),
        r(2, Some("a"), 4, 5),
        w(2, "b", 6, Some(7)),
        r(1, Some("b"), 8, 9),
    ];
    assert_eq!(verdict(&ops), Verdict::Linearizable);
    // A read concurrent with a write may see either value; two concurrent writes in any order.
    let ops = [
        w(1, "a", 0, Some(10)),
        w(2, "b", 0, Some(10)),
        r(3, Some("b"), 1, 2),
        r(4, Some("a"), 3, 11),
        r(5, Some("a"), 12, 13),
    ];
    assert_eq!(verdict(&ops), Verdict::Linearizable);
}

#[test]
fn stale_read_after_a_completed_write_is_caught() {
    let ops = [
        w(1, "a", 0, Some(1)),
        w(1, "b", 2, Some(3)),
        r(2, Some("a"), 4, 5),
    ];
    let why = violation(&ops);
    assert!(why.contains("client 2 read -> \"a\""), "{why}");
    assert!(why.contains("held \"b\""), "{why}");
}

#[test]
fn values_never_written_or_from_the_future_are_caught() {
    let why = violation(&[w(1, "a", 0, Some(1)), r(2, Some("zz"), 2, 3)]);
    assert!(why.contains("no operation wrote"), "{why}");
    let why = violation(&[r(2, Some("a"), 0, 1), w(1, "a", 2, Some(3))]);
    assert!(why.contains("before any write of it was called"), "{why}");
    // The value of a write that failed definitely must never be read.
    let mut failed = w(1, "a", 0, Some(1));
    failed.outcome = Outcome::Failed("CLUSTERDOWN".into());
    let why = violation(&[failed, r(2, Some("a"), 2, 3)]);
    assert!(why.contains("failed definitely"), "{why}");
}

#[test]
fn reads_going_backwards_are_caught() {
    // a then b (sequential writes); a read sees b, a later read sees a again.
    let ops = [
        w(1, "a", 0, Some(1)),
        w(1, "b", 2, Some(10)),
        r(2, Some("b"), 3, 4),
        r(3, Some("a"), 5, 6),
    ];
    violation(&ops);
    // Without the first read it would be fine: b may still be in flight.
    assert_eq!(
        verdict(&[
            w(1, "a", 0, Some(1)),
            w(1, "b", 2, Some(10)),
            r(3, Some("a"), 5, 6)
        ]),
        Verdict::Linearizable
    );
}

#[test]
fn unknown_writes_may_or_may_not_take_effect() {
    // Never took effect: the reads keep seeing a.
    let ops = [
        w(1, "a", 0, Some(1)),
        w(2, "b", 2, None),
        r(3, Some("a"), 3, 4),
        r(3, Some("a"), 100, 101),
    ];
    assert_eq!(verdict(&ops), Verdict::Linearizable);
    // Took effect, late: seen long after its call.
    let ops = [
        w(1, "a", 0, Some(1)),
        w(2, "b", 2, None),
        r(3, Some("a"), 50, 51),
        r(3, Some("b"), 100, 101),
    ];
    assert_eq!(verdict(&ops), Verdict::Linearizable);
    // Once seen it has taken effect: a later read cannot see the old value again.
    let ops = [
        w(1, "a", 0, Some(1)),
        w(2, "b", 2, None),
        r(3, Some("b"), 3, 4),
        r(3, Some("a"), 5, 6),
    ];
    violation(&ops);
    // It cannot take effect before its call.
    let ops = [
        w(1, "a", 0, Some(1)),
        r(3, Some("b"), 2, 3),
        w(2, "b", 4, None),
    ];
    violation(&ops);
}

#[test]
fn failed_reads_and_other_keys_constrain_nothing() {
    let mut failed = r(2, Some("x"), 2, 3);
    failed.outcome = Outcome::Failed("TRYAGAIN".into());
    let mut other = r(2, Some("zz"), 2, 3);
    other.key = "other".into();
    other.outcome = Outcome::Read(None);
    let ops = [w(1, "a", 0, Some(1)), failed, other];
    let report = check(&ops, &Limits::default());
    assert!(report.is_linearizable());
    assert_eq!(report.keys.len(), 2);
}

#[test]
fn seeded_linearizable_histories_pass() {
    for seed in 0..300 {
        let ops = synth::linearizable(seed, 5, 60);
        assert_eq!(verdict(&ops), Verdict::Linearizable, "seed {seed}");
    }
    // A long one, to keep the search's cost in view.
    let ops = synth::linearizable(7, 16, 20_000);
    let report = check(&ops, &Limits::default());
    assert!(report.is_linearizable(), "{report:?}");
}

#[test]
fn seeded_bad_histories_are_caught() {
    let flaws = [
        Flaw::StaleRead,
        Flaw::GhostValue,
        Flaw::FutureRead,
        Flaw::ReadsGoBackwards,
    ];
    let mut injected = 0;
    for seed in 0..120 {
        for flaw in flaws {
            let ops = synth::linearizable(seed, 4, 36);
            let Some(bad) = synth::with_flaw(ops, flaw, seed) else {
                continue;
            };
            injected += 1;
            match verdict(&bad) {
                Verdict::Violation(_) => {}
                v => panic!("seed {seed} {flaw:?}: expected a violation, got {v:?}"),
            }
        }
    }
    assert!(injected > 400, "only {injected} flaws could be injected");
}

#[test]
fn the_search_gives_up_within_its_budget() {
    // Many concurrent writes then reads that force exploring many orders.
    let mut ops: Vec<Op> = (0..14)
        .map(|i| w(i, &format!("v{i}"), 0, Some(100)))
        .collect();
    ops.push(r(20, Some("v0"), 101, 102));
    ops.push(r(21, Some("v1"), 103, 104));
    let report = check(&ops, &Limits { max_states: 50 });
    assert_eq!(report.keys[0].verdict, Verdict::GaveUp);
    assert!(report.gave_up().count() == 1 && !report.is_linearizable());
}

/// Whether `ops` (one key) are linearizable, by trying every subset of the unknown writes and
/// every order: a reference for small histories, written independently of the search.
fn brute_force(ops: &[Op]) -> bool {
    let ret = |o: &Op| match o.outcome {
        Outcome::Unknown(_) => u64::MAX,
        _ => o.ret.unwrap_or(u64::MAX),
    };
    let must: Vec<&Op> = ops
        .iter()
        .filter(|o| matches!(o.outcome, Outcome::Written | Outcome::Read(_)))
        .collect();
    let maybe: Vec<&Op> = ops.iter().filter(|o| o.is_unknown()).collect();
    fn orders(
        chosen: &mut Vec<usize>,
        left: &mut Vec<usize>,
        ok: &mut dyn FnMut(&[usize]) -> bool,
    ) -> bool {
        if left.is_empty() {
            return ok(chosen);
        }
        for i in 0..left.len() {
            let x = left.remove(i);
            chosen.push(x);
            let found = orders(chosen, left, ok);
            chosen.pop();
            left.insert(i, x);
            if found {
                return true;
            }
        }
        false
    }
    for mask in 0..1u32 << maybe.len() {
        let set: Vec<&Op> = must
            .iter()
            .copied()
            .chain(
                (0..maybe.len())
                    .filter(|i| mask >> i & 1 == 1)
                    .map(|i| maybe[i]),
            )
            .collect();
        let mut valid = |order: &[usize]| {
            let mut reg: Option<&str> = None;
            for (pos, &i) in order.iter().enumerate() {
                // Real time: nothing placed later may have returned before this was called.
                if order[pos + 1..].iter().any(|&j| ret(set[j]) < set[i].call) {
                    return false;
                }
                match (&set[i].kind, &set[i].outcome) {
                    (Kind::Write(v), _) => reg = Some(v),
                    (Kind::Read, Outcome::Read(v)) if v.as_deref() == reg => {}
                    _ => return false,
                }
            }
            true
        };
        if orders(&mut Vec::new(), &mut (0..set.len()).collect(), &mut valid) {
            return true;
        }
    }
    false
}

/// A random small history: overlapping intervals with ties, writes that succeed, fail or have
/// an unknown outcome, reads of any value written (even by a failed write) or nil.
fn random_small(seed: u64) -> Vec<Op> {
    let mut rng = crate::rng::Rng::new(seed);
    let n = rng.range(2, 7) as usize;
    let mut ops = Vec::new();
    let mut values = Vec::new();
    for i in 0..n {
        let call = rng.range(0, 12);
        let ret = call + rng.range(0, 6);
        if rng.chance(0.5) {
            let v = format!("v{i}");
            values.push(v.clone());
            let mut op = w(i as u32, &v, call, Some(ret));
            match rng.below(6) {
                0 => op.outcome = Outcome::Failed("refused".into()),
                1 | 2 => {
                    op.ret = None;
                    op.outcome = Outcome::Unknown("timed out".into());
                }
                _ => {}
            }
            ops.push(op);
        } else {
            ops.push(r(i as u32, None, call, ret));
        }
    }
    for op in &mut ops {
        if op.kind == Kind::Read {
            let pick = rng.below(values.len() as u64 + 1) as usize;
            op.outcome = Outcome::Read(values.get(pick).cloned());
        }
    }
    ops
}

#[test]
fn the_search_agrees_with_brute_force_on_small_histories() {
    let (mut yes, mut no) = (0, 0);
    for seed in 0..4000 {
        let ops = random_small(seed);
        let expected = brute_force(&ops);
        let got = verdict(&ops);
        assert_eq!(
            got == Verdict::Linearizable,
            expected,
            "seed {seed}: search says {got:?}, brute force says {expected}; history:\n{}",
            crate::history::to_text(&ops)
        );
        if expected { yes += 1 } else { no += 1 }
    }
    // Both verdicts are well represented.
    assert!(yes > 800 && no > 800, "{yes} linearizable, {no} not");
}
