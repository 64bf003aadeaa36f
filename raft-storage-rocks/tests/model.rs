//! Property test: a `RocksLog` behaves exactly like the reference `MemStorage` under random
//! sequences of writes (appends, suffix rewrites, hard states, memberships, snapshot installs and
//! records, compactions, rejected gaps) applied one by one, as groups, or through `GroupCommit`,
//! across reopens.

mod common;

use common::{Op, Spec, apply_model, compare, kind, realize};
use proptest::prelude::*;
use raft_core::{Index, MemStorage, Storage};
use raft_storage_rocks::{GroupCommit, RocksLog};

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        8 => (1..12u8, 0..400u16, proptest::bool::weighted(0.15))
            .prop_map(|(count, size, new_term)| Spec::Append { count, size, new_term }),
        2 => (0..10u16, 1..5u8, 0..200u16)
            .prop_map(|(back, count, size)| Spec::Rewrite { back, count, size }),
        2 => (0..5u16).prop_map(|back| Spec::Commit { back }),
        1 => (0..7u8).prop_map(|node| Spec::Vote { node }),
        1 => (0..5u8).prop_map(|voters| Spec::Member { voters }),
        1 => (0..6u8, 0..3u8).prop_map(|(ahead, count)| Spec::Install { ahead, count }),
        2 => (0..30u16).prop_map(|back| Spec::Taken { back }),
        2 => (0..12u16).prop_map(|back| Spec::Compact { back }),
        1 => (0..3u8).prop_map(|ahead| Spec::Gap { ahead }),
        1 => Just(Spec::Reopen),
    ]
}

/// How the writes reach the log.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// `RocksLog::write`, one at a time.
    Direct,
    /// `RocksLog::write_group`, in groups of `n`.
    Grouped(usize),
    /// `GroupCommit::submit`, all of a group submitted before waiting.
    Threaded(usize),
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        Just(Mode::Direct),
        (2..6usize).prop_map(Mode::Grouped),
        (2..6usize).prop_map(Mode::Threaded),
    ]
}

/// Random reads over the stored range and around it give the same answers as the model.
fn check_reads(
    log: &RocksLog,
    model: &MemStorage,
    probes: &[(u16, u16, u16)],
) -> Result<(), String> {
    let start = model.log_start().index;
    let last = model.last().index;
    for &(lo, len, max) in probes {
        let low = Index(start.0.saturating_sub(1) + u64::from(lo) % (last.0 - start.0 + 3));
        let high = low.plus(u64::from(len % 12));
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let (ra, rb) = (
            log.entries(low, high, u64::from(max), &mut a),
            model.entries(low, high, u64::from(max), &mut b),
        );
        if kind(&ra) != kind(&rb) || (ra.is_ok() && a != b) {
            return Err(format!(
                "entries({}, {}, {max}): {ra:?} {} entries vs {rb:?} {} entries",
                low.0,
                high.0,
                a.len(),
                b.len()
            ));
        }
        let (ta, tb) = (log.term(low), model.term(low));
        if kind(&ta) != kind(&tb) || (ta.is_ok() && ta.as_ref().ok() != tb.as_ref().ok()) {
            return Err(format!("term({}): {ta:?} vs {tb:?}", low.0));
        }
    }
    Ok(())
}

fn run(specs: &[Spec], mode: Mode, probes: &[(u16, u16, u16)]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut log = RocksLog::open(dir.path()).unwrap();
    let mut group = match mode {
        Mode::Threaded(_) => Some(GroupCommit::new(log.clone()).unwrap()),
        _ => None,
    };
    let mut model = MemStorage::default();
    let group_size = match mode {
        Mode::Direct => 1,
        Mode::Grouped(n) | Mode::Threaded(n) => n,
    };
    let mut i = 0;
    while i < specs.len() {
        // Realise the next run of writes against the model as it evolves.
        let mut writes = Vec::new();
        let mut expected = Vec::new();
        while i < specs.len() && writes.len() < group_size {
            let op = realize(&specs[i], &model);
            match op {
                Op::Write(w) => {
                    expected.push(apply_model(&mut model, &Op::Write(w.clone())));
                    writes.push(w);
                    i += 1;
                }
                _ if !writes.is_empty() => break,
                Op::Compact(to) => {
                    let want = model.compact(to).is_ok();
                    let got = log.compact(to);
                    prop_assert_eq!(got.is_ok(), want, "compact({}): {:?}", to.0, got);
                    i += 1;
                }
                Op::Reopen => {
                    drop(group.take());
                    drop(log);
                    log = RocksLog::open(dir.path()).unwrap();
                    prop_assert_eq!(
                        log.verify().map_err(|e| e.to_string()),
                        Ok(model.last().index.distance_from(model.log_start().index))
                    );
                    if let Mode::Threaded(_) = mode {
                        group = Some(GroupCommit::new(log.clone()).unwrap());
                    }
                    i += 1;
                }
            }
        }
        let results: Vec<bool> = match (&group, mode) {
            (_, Mode::Direct) => writes.iter().map(|w| log.write(w).is_ok()).collect(),
            (_, Mode::Grouped(_)) | (None, _) => {
                log.write_group(&writes).iter().map(Result::is_ok).collect()
            }
            (Some(g), Mode::Threaded(_)) => {
                let (tx, rx) = std::sync::mpsc::channel();
                for (n, w) in writes.into_iter().enumerate() {
                    let tx = tx.clone();
                    g.submit(w, move |r| tx.send((n, r.is_ok())).unwrap());
                }
                drop(tx);
                let done: Vec<(usize, bool)> = rx.iter().collect();
                // Completions arrive in submission order.
                prop_assert!(done.iter().enumerate().all(|(k, (n, _))| k == *n));
                done.into_iter().map(|(_, ok)| ok).collect()
            }
        };
        prop_assert_eq!(&results, &expected);
        compare(&log, &model).map_err(TestCaseError::fail)?;
        check_reads(&log, &model, probes).map_err(TestCaseError::fail)?;
    }
    drop(group);
    drop(log);
    let log = RocksLog::open(dir.path()).unwrap();
    compare(&log, &model).map_err(TestCaseError::fail)?;
    check_reads(&log, &model, probes).map_err(TestCaseError::fail)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48),
        ..ProptestConfig::default()
    })]

    #[test]
    fn rocks_log_matches_the_model(
        specs in proptest::collection::vec(spec(), 1..60),
        mode in mode(),
        probes in proptest::collection::vec((0..400u16, 0..20u16, 0..1500u16), 1..8),
    ) {
        run(&specs, mode, &probes)?;
    }
}
