//! The `raft_step` fuzz harness (`tests/fuzz/raft_step.rs`, shared with `fuzz/`) as a property
//! test: random programs of forged and genuine messages, ticks, proposals, snapshots and restarts
//! against a live cluster never panic a node or break its invariants. The seed corpus and every
//! saved regression input under `fuzz/` are replayed too.

#[path = "fuzz/raft_step.rs"]
mod harness;

use proptest::prelude::*;

/// 2,000 cases by default (about half a second); `PROPTEST_CASES` sets more.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn raft_step_survives_any_program(data in prop::collection::vec(any::<u8>(), 0..1200)) {
        harness::run(&data);
    }
}

/// Replays every file in `fuzz/<dir>/raft_step/` (the seed corpus and saved regressions).
fn replay(dir: &str) -> usize {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz")
        .join(dir)
        .join("raft_step");
    let Ok(entries) = std::fs::read_dir(&path) else {
        return 0;
    };
    let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();
    for f in &files {
        let data = std::fs::read(f).expect("readable input");
        let result = std::panic::catch_unwind(|| harness::run(&data));
        assert!(result.is_ok(), "{} fails", f.display());
    }
    files.len()
}

#[test]
fn raft_step_corpus_replays() {
    replay("corpus");
}

#[test]
fn raft_step_regressions_replay() {
    replay("regressions");
}

fn regression(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions/raft_step")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Finding 1: a forged vote request in term `u64::MAX` was granted; the node's next campaign
/// saturated at the same term and voted a second time in it. Now a message in `Term::MAX` is
/// malformed, and no node campaigns past it.
#[test]
fn regression_term_max_double_vote() {
    harness::run(&regression("term-max-double-vote"));
}

/// Finding 2: a node still in term 0 (one that joins with an empty store) granted a vote request
/// of term 0 and persisted `HardState { term: 0, vote: Some(_) }`, which `Raft::new` refuses
/// (`Inconsistency::VoteWithoutTerm`): the node could not restart. Now a request in term 0 is
/// malformed.
#[test]
fn regression_term_zero_vote_bricks_restart() {
    harness::run(&regression("term-zero-vote-bricks-restart"));
}

/// Finding 3: a snapshot offer whose last entry is at index `u64::MAX` was installed, and
/// `Raft::new` then failed on that store (`Index::next` saturates). Now an offer or an append
/// that reaches `Index::MAX` is malformed.
#[test]
fn regression_snapshot_at_index_max_bricks_restart() {
    harness::run(&regression("snapshot-at-index-max-bricks-restart"));
}

/// Finding 4: a node with no membership yet (joining, empty store) that applied a joint change
/// (a forged append in term 0, committed by a forged pre-vote response) got `auto_leave` without
/// a joint configuration, and a debug assertion in `Membership::apply` panicked. Now a change to
/// an empty membership is refused (`ConfChangeError::NotBootstrapped`), and `apply` validates
/// its result instead of asserting.
#[test]
fn regression_joint_change_on_empty_membership() {
    harness::run(&regression("joint-change-on-empty-membership"));
}
