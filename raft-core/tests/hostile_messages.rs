//! No message from a peer, however malformed or stale, makes a node panic or break its own
//! invariants: property tests that step arbitrary messages into live nodes (leader, follower,
//! candidate) and keep taking their Readies.

use bytes::Bytes;
use proptest::prelude::*;
use raft_core::sim::SimRng;
use raft_core::{
    AppendRequest, AppendResponse, ConfChange, ConfChangeStep, Config, Entries, Entry,
    EntryPayload, Heartbeat, HeartbeatResponse, Index, LogId, MemStorage, Membership, Message,
    MessageBody, NodeId, Raft, ReadIndexRequest, ReadIndexResponse, SnapshotMeta, SnapshotOffer,
    Term, VoteRequest, VoteResponse,
};

type Node = Raft<MemStorage, SimRng>;

fn num() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0u64..8,
        2 => 0u64..64,
        1 => Just(u64::MAX),
        1 => Just(u64::MAX - 1),
        1 => any::<u64>(),
    ]
}

fn log_id() -> impl Strategy<Value = LogId> {
    (num(), num()).prop_map(|(t, i)| LogId::new(Term(t), Index(i)))
}

fn entry() -> impl Strategy<Value = Entry> {
    (
        num(),
        num(),
        prop::collection::vec(any::<u8>(), 0..16),
        0u8..4,
    )
        .prop_map(|(t, i, data, kind)| Entry {
            term: Term(t),
            index: Index(i),
            payload: match kind {
                0 => EntryPayload::Blank,
                1 => EntryPayload::Membership(ConfChange::single(ConfChangeStep::AddVoter(
                    NodeId(i % 5),
                ))),
                2 => EntryPayload::Membership(ConfChange::Bootstrap(Membership::with_voters([
                    NodeId(t % 4),
                ]))),
                _ => EntryPayload::Command(Bytes::from(data)),
            },
        })
}

/// Entries that are often consecutive after `prev` (so they get past validation), sometimes not.
fn append() -> impl Strategy<Value = AppendRequest> {
    (
        log_id(),
        prop::collection::vec(entry(), 0..6),
        num(),
        any::<bool>(),
    )
        .prop_map(|(prev, mut es, commit, fix)| {
            if fix {
                for (k, e) in es.iter_mut().enumerate() {
                    e.index = prev.index.plus(k as u64 + 1);
                    e.term = Term(prev.term.0.saturating_add(k as u64 / 2));
                }
            }
            AppendRequest {
                prev,
                entries: Entries::from(es),
                commit: Index(commit),
            }
        })
}

fn body() -> impl Strategy<Value = MessageBody> {
    prop_oneof![
        (log_id(), any::<bool>()).prop_map(|(l, t)| MessageBody::PreVote(VoteRequest {
            last_log: l,
            leader_transfer: t
        })),
        (log_id(), any::<bool>()).prop_map(|(l, t)| MessageBody::Vote(VoteRequest {
            last_log: l,
            leader_transfer: t
        })),
        (any::<bool>(), log_id()).prop_map(|(g, c)| MessageBody::PreVoteResponse(VoteResponse {
            granted: g,
            commit: c
        })),
        (any::<bool>(), log_id()).prop_map(|(g, c)| MessageBody::VoteResponse(VoteResponse {
            granted: g,
            commit: c
        })),
        append().prop_map(MessageBody::Append),
        num().prop_map(|m| MessageBody::AppendResponse(AppendResponse::Accepted {
            match_index: Index(m)
        })),
        (num(), log_id()).prop_map(|(r, h)| MessageBody::AppendResponse(
            AppendResponse::Rejected {
                rejected: Index(r),
                hint: h
            }
        )),
        (num(), num()).prop_map(|(c, r)| MessageBody::Heartbeat(Heartbeat {
            commit: Index(c),
            read_round: r
        })),
        num().prop_map(|r| MessageBody::HeartbeatResponse(HeartbeatResponse { read_round: r })),
        (log_id(), prop::collection::vec(0u64..6, 0..4)).prop_map(|(last, v)| {
            MessageBody::InstallSnapshot(SnapshotOffer {
                meta: SnapshotMeta {
                    last,
                    membership: Membership::with_voters(v.into_iter().map(NodeId)),
                },
            })
        }),
        Just(MessageBody::TimeoutNow),
        num().prop_map(|r| MessageBody::ReadIndex(ReadIndexRequest { request_id: r })),
        (num(), proptest::option::of(num())).prop_map(|(r, i)| MessageBody::ReadIndexResponse(
            ReadIndexResponse {
                request_id: r,
                read_index: i.map(Index)
            }
        )),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..8), 0..4).prop_map(|c| {
            MessageBody::Propose(raft_core::ForwardedProposals {
                commands: c.into_iter().map(Bytes::from).collect(),
            })
        }),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    (
        0u64..6,
        prop_oneof![4 => Just(1u64), 1 => 0u64..6],
        num(),
        body(),
    )
        .prop_map(|(from, to, term, body)| Message {
            from: NodeId(from),
            to: NodeId(to),
            term: Term(term),
            body,
        })
}

/// Takes every Ready, persisting and applying, and checks the node's own invariants.
fn drain(n: &mut Node) {
    for _ in 0..100 {
        if !n.has_ready() {
            break;
        }
        let rd = match n.ready() {
            Ok(rd) => rd,
            Err(_) => return,
        };
        n.storage_mut()
            .apply_write(&rd.write)
            .expect("the core's writes fit its store");
        n.ack_persisted(rd.id).expect("ready id is known");
        if let Some(i) = rd.apply.last_index() {
            n.ack_applied(i).expect("handed out");
        }
    }
    assert!(
        n.commit_index() <= n.last_log_id().index || n.log_start().index > n.last_log_id().index
    );
    assert!(n.applied_index() <= n.commit_index());
}

/// Node 1 of {1, 2, 3}: as a follower with a few entries, or as the leader.
fn node(leader: bool) -> Node {
    let mut c = Config::new(NodeId(1));
    c.max_received_entries = 4;
    let mut n = Raft::new(
        c,
        MemStorage::new(Membership::with_voters([NodeId(1), NodeId(2), NodeId(3)])),
        SimRng::new(7),
    )
    .expect("valid");
    if leader {
        n.campaign().unwrap();
        drain(&mut n);
        for from in [2, 3] {
            let _ = n.step(Message {
                from: NodeId(from),
                to: NodeId(1),
                term: n.term(),
                body: MessageBody::PreVoteResponse(VoteResponse {
                    granted: true,
                    commit: LogId::ZERO,
                }),
            });
        }
        drain(&mut n);
        for from in [2, 3] {
            let _ = n.step(Message {
                from: NodeId(from),
                to: NodeId(1),
                term: n.term(),
                body: MessageBody::VoteResponse(VoteResponse {
                    granted: true,
                    commit: LogId::ZERO,
                }),
            });
        }
        drain(&mut n);
        assert!(n.is_leader());
        for i in 0..5u8 {
            n.propose(Bytes::from(vec![i])).unwrap();
        }
        drain(&mut n);
    }
    n
}

/// 2,000 cases each by default; `PROPTEST_CASES` sets more.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn follower_survives_any_messages(msgs in prop::collection::vec(message(), 1..40)) {
        let mut n = node(false);
        for m in msgs {
            let _ = n.step(m);
            drain(&mut n);
            n.tick();
        }
    }

    #[test]
    fn leader_survives_any_messages(msgs in prop::collection::vec(message(), 1..40)) {
        let mut n = node(true);
        for m in msgs {
            let _ = n.step(m);
            drain(&mut n);
            n.tick();
        }
    }
}
