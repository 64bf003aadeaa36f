//! The state machine's apply semantics: exactly-once sessions, their expiry and bound, and
//! determinism across group sizes and restarts.

use bytes::Bytes;
use raft_core::{Entries, Entry, EntryPayload, Index, Term};
use raft_tokio::StateMachine;

use super::*;

fn limits(ttl_entries: u64, max_sessions: u64, sweep_every: u64) -> SessionLimits {
    SessionLimits {
        ttl_entries,
        max_sessions,
        sweep_every,
    }
}

fn set(key: &str, value: &str) -> Op {
    Op::Set {
        key: Bytes::copy_from_slice(key.as_bytes()),
        value: Bytes::copy_from_slice(value.as_bytes()),
        condition: SetCondition::Always,
        get: false,
    }
}

fn incr(key: &str) -> Op {
    Op::IncrBy {
        key: Bytes::copy_from_slice(key.as_bytes()),
        by: 1,
    }
}

fn tagged(client: u64, seq: u64, op: Op) -> Proposal {
    Proposal {
        session: Some(Session { client, seq }),
        op,
    }
}

fn entries(first: u64, proposals: &[Proposal]) -> Entries {
    proposals
        .iter()
        .zip(first..)
        .map(|(p, i)| Entry {
            term: Term(1),
            index: Index(i),
            payload: EntryPayload::Command(p.encode()),
        })
        .collect()
}

/// One stored key and its value.
type Record = (Box<[u8]>, Box<[u8]>);

struct Replica {
    _dir: tempfile::TempDir,
    store: KvStore,
    sm: KvStateMachine,
    limits: SessionLimits,
}

impl Replica {
    fn new(limits: SessionLimits) -> Replica {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = KvStore::open(dir.path()).expect("open");
        let (sm, _) = KvStateMachine::new(store.clone(), limits).expect("state machine");
        Replica {
            _dir: dir,
            store,
            sm,
            limits,
        }
    }

    /// Applies `proposals` from the next index, in groups of `group` entries.
    fn apply(&mut self, proposals: &[Proposal], group: usize) -> Vec<Output> {
        let mut out = Vec::new();
        for chunk in proposals.chunks(group.max(1)) {
            let first = self.sm.applied_index().0 + 1;
            out.extend(self.sm.apply(&entries(first, chunk)).expect("apply"));
        }
        out
    }

    fn apply_one(&mut self, p: Proposal) -> Output {
        self.apply(&[p], 1).remove(0)
    }

    /// The stored value of `key`.
    fn value(&self, key: &str) -> Option<Bytes> {
        self.store.get(key.as_bytes()).expect("get")
    }

    /// Drops the state machine and starts a new one over the same store.
    fn restart(&mut self) {
        let (sm, _) = KvStateMachine::new(self.store.clone(), self.limits).expect("restart");
        self.sm = sm;
    }

    /// Every record in the store, in key order.
    fn contents(&self) -> Vec<Record> {
        self.store
            .db()
            .iterator(rocksdb::IteratorMode::Start)
            .map(|r| r.expect("iterate"))
            .collect()
    }
}

#[test]
fn a_retried_request_returns_its_first_output_and_applies_once() {
    let mut r = Replica::new(SessionLimits::default());
    assert_eq!(r.apply_one(tagged(7, 1, incr("n"))), Output::Int(1));
    assert_eq!(r.apply_one(tagged(7, 1, incr("n"))), Output::Int(1));
    assert_eq!(r.apply_one(tagged(7, 2, incr("n"))), Output::Int(2));
    // The retry of seq 2 in the same group as seq 3, and after a restart.
    let out = r.apply(&[tagged(7, 2, incr("n")), tagged(7, 3, incr("n"))], 2);
    assert_eq!(out, vec![Output::Int(2), Output::Int(3)]);
    r.restart();
    assert_eq!(r.apply_one(tagged(7, 3, incr("n"))), Output::Int(3));
    assert_eq!(r.value("n"), Some(Bytes::from_static(b"3")));
}

#[test]
fn an_older_request_is_refused() {
    let mut r = Replica::new(SessionLimits::default());
    r.apply_one(tagged(7, 5, incr("n")));
    let Output::Error(e) = r.apply_one(tagged(7, 4, incr("n"))) else {
        panic!("an older request applied");
    };
    assert!(e.contains("stale"), "{e}");
    assert_eq!(r.value("n"), Some(Bytes::from_static(b"1")));
}

#[test]
fn sessions_beyond_the_bound_are_refused_until_one_expires() {
    // Two sessions at most; unused for 10 entries they expire; swept every 4 entries.
    let mut r = Replica::new(limits(10, 2, 4));
    assert_eq!(r.apply_one(tagged(1, 1, set("a", "1"))), Output::Ok); // index 1
    assert_eq!(r.apply_one(tagged(2, 1, set("b", "1"))), Output::Ok); // 2
    let Output::Error(e) = r.apply_one(tagged(3, 1, set("c", "1"))) else {
        panic!("a third session opened");
    };
    assert!(e.contains("too many client sessions"), "{e}");
    // Known clients still write.
    assert_eq!(r.apply_one(tagged(2, 2, set("b", "2"))), Output::Ok); // 4
    // Untagged writes move the log on; at index 12 (a sweep), client 1 (last used at 1) expired.
    let fill: Vec<Proposal> = (0..8)
        .map(|i| Proposal {
            session: None,
            op: set("x", &i.to_string()),
        })
        .collect();
    r.apply(&fill, 3); // 5..=12
    assert_eq!(r.sm.sessions.len(), 1);
    assert_eq!(r.apply_one(tagged(3, 1, set("c", "1"))), Output::Ok); // 13
    // At index 16 (a sweep) client 2 (last used at 4) expires too, so client 1 may come back:
    // its old request is new again (its session is gone), applied rather than deduplicated.
    r.apply(&fill[..3], 1); // 14..=16
    assert_eq!(r.apply_one(tagged(1, 1, incr("k"))), Output::Int(1)); // 17
    r.restart();
    assert_eq!(r.sm.sessions.len(), 2);
}

#[test]
fn an_expired_session_that_is_not_swept_yet_is_replaced_without_counting_twice() {
    let mut r = Replica::new(limits(2, 1, 1_000));
    r.apply_one(tagged(1, 5, set("a", "1")));
    let fill = Proposal {
        session: None,
        op: set("x", "1"),
    };
    r.apply(&vec![fill; 3], 1);
    // Expired (unused for 3 > 2 entries) but still stored: the same client may write again with
    // any sequence number, and the bound of one session is not exceeded.
    assert_eq!(r.apply_one(tagged(1, 1, set("a", "2"))), Output::Ok);
    assert_eq!(r.sm.sessions.len(), 1);
}

#[test]
fn replicas_reach_the_same_state_whatever_their_group_sizes_and_restarts() {
    let mut ops = Vec::new();
    for i in 0..600u64 {
        let client = i % 37;
        let seq = i / 37 + 1;
        let op = match i % 5 {
            0 => incr(&format!("n{}", i % 11)),
            1 => Op::Del {
                keys: vec![Bytes::from(format!("k{}", i % 13))],
            },
            2 => Op::Append {
                key: Bytes::from(format!("k{}", i % 13)),
                value: Bytes::from_static(b"xy"),
            },
            _ => set(&format!("k{}", i % 13), &i.to_string()),
        };
        ops.push(tagged(client, seq, op.clone()));
        if i % 7 == 0 {
            // A retry, and an untagged write.
            ops.push(tagged(client, seq, op));
            ops.push(Proposal {
                session: None,
                op: set("u", &i.to_string()),
            });
        }
    }
    // Small TTL and bound so that expiry and refusals happen along the way; in the second
    // setting the TTL is shorter than most of b's groups.
    for lim in [limits(150, 30, 64), limits(10, 5, 8)] {
        let mut a = Replica::new(lim);
        let out_a = a.apply(&ops, 1);
        let mut b = Replica::new(lim);
        let mut out_b = Vec::new();
        for (n, part) in ops.chunks(97).enumerate() {
            out_b.extend(b.apply(part, 13 + n));
            b.restart();
        }
        assert_eq!(out_a, out_b, "{lim:?}");
        assert_eq!(a.contents(), b.contents(), "{lim:?}");
        assert!(
            out_a
                .iter()
                .any(|o| matches!(o, Output::Error(e) if e.contains("too many"))),
            "the session bound was never reached"
        );
        assert_eq!(a.sm.sessions.len(), b.sm.sessions.len());
    }
}

#[test]
fn a_restored_snapshot_brings_its_sessions_and_drops_the_old_ones() {
    use raft_core::{LogId, Membership, SnapshotMeta};
    use raft_tokio::{MemSnapshotStore, SnapshotStore};

    let mut src = Replica::new(SessionLimits::default());
    src.apply(&[tagged(7, 1, incr("n")), tagged(8, 4, incr("n"))], 2);
    let meta = SnapshotMeta {
        last: LogId::new(Term(1), src.sm.applied_index()),
        membership: Membership::default(),
    };
    let snaps = MemSnapshotStore::new();
    let mut w = snaps.create(&meta).expect("create");
    src.sm
        .snapshot()
        .expect("snapshot")
        .write_to(&mut *w)
        .expect("write");
    w.commit().expect("commit");

    let mut dst = Replica::new(SessionLimits::default());
    dst.apply(&[tagged(9, 1, set("a", "1")), tagged(7, 5, incr("n"))], 1);
    let mut data = snaps.open(meta.last).expect("open");
    dst.sm.restore(meta.last, &mut *data).expect("restore");
    assert_eq!(dst.sm.sessions.len(), 2);
    // Client 7's retry is recognised from the snapshot's session (not dst's own seq 5)...
    assert_eq!(dst.apply_one(tagged(7, 1, incr("n"))), Output::Int(1));
    assert_eq!(dst.apply_one(tagged(8, 4, incr("n"))), Output::Int(2));
    // ...and client 9, unknown to the snapshot, starts afresh.
    assert_eq!(dst.apply_one(tagged(9, 1, incr("m"))), Output::Int(1));
    assert_eq!(dst.value("n"), Some(Bytes::from_static(b"2")));
}

#[test]
fn the_key_count_follows_every_kind_of_write() {
    use std::collections::BTreeMap;

    let mut r = Replica::new(SessionLimits::default());
    let mut model: BTreeMap<String, ()> = BTreeMap::new();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let mut batch = Vec::new();
    for step in 0..2_000 {
        let k = format!("k{}", next(50));
        let key = Bytes::from(k.clone());
        let op = match next(7) {
            0 => set(&k, "v"),
            1 => Op::Set {
                key,
                value: Bytes::from_static(b"nx"),
                condition: SetCondition::IfAbsent,
                get: false,
            },
            2 => Op::Set {
                key,
                value: Bytes::from_static(b"xx"),
                condition: SetCondition::IfPresent,
                get: true,
            },
            3 => Op::Del {
                keys: vec![key, Bytes::from(format!("k{}", next(50)))],
            },
            4 => Op::MSet {
                pairs: vec![(key, Bytes::from_static(b"m"))],
            },
            5 => Op::Append {
                key,
                value: Bytes::from_static(b"a"),
            },
            _ => Op::GetSet {
                key,
                value: Bytes::from_static(b"g"),
            },
        };
        match &op {
            Op::Del { keys } => keys.iter().for_each(|k| {
                model.remove(std::str::from_utf8(k).expect("utf8"));
            }),
            Op::Set {
                condition: SetCondition::IfPresent,
                ..
            } => {}
            _ => {
                model.insert(k, ());
            }
        }
        batch.push(Proposal { session: None, op });
        if step % 17 == 0 {
            r.apply(&batch, 5);
            batch.clear();
            assert_eq!(r.store.count_keys().expect("count"), model.len() as u64);
        }
    }
    r.apply(&batch, 5);
    assert_eq!(r.store.count_keys().expect("count"), model.len() as u64);
}
