//! The `frame_decoder` fuzz harness (`tests/fuzz/frame_decoder.rs`, shared with `fuzz/`) as a
//! property test: message, snapshot and control streams made of well-formed frames, frames of
//! garbage, headers announcing any length, stray bytes and cuts, under small or default limits
//! and in random reads, never panic the frame decoder or the value decoding, never make the
//! decoder hold more than its limit plus one read, and read the same whatever the reads. The seed
//! corpus and every saved regression input under `fuzz/` are replayed too.
//!
//! The decoder is private to the crate: `src/framing.rs` and `src/wire.rs` are included by path,
//! as the cargo-fuzz target does (their own unit tests come along and run here too).

#[allow(dead_code)]
#[path = "../src/framing.rs"]
mod framing;
#[allow(dead_code)]
#[path = "../src/wire.rs"]
mod wire;

#[path = "fuzz/frame_decoder.rs"]
mod harness;

use bytes::Bytes;
use harness::{Case, End, Item, Kind};
use proptest::prelude::*;
use raft_core::{
    AppendRequest, Entry, EntryPayload, Heartbeat, Index, LogId, Membership, Message, MessageBody,
    NodeId, SnapshotMeta, SnapshotOffer, Term, VoteRequest,
};

/// 2,000 cases by default; `PROPTEST_CASES` sets more.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

fn node() -> impl Strategy<Value = NodeId> {
    (0u64..6).prop_map(NodeId)
}

fn log_id() -> impl Strategy<Value = LogId> {
    (any::<u64>(), any::<u64>()).prop_map(|(t, i)| LogId::new(Term(t % 9), Index(i % 100)))
}

fn entry() -> impl Strategy<Value = Entry> {
    let payload = prop_oneof![
        Just(EntryPayload::Blank),
        proptest::collection::vec(any::<u8>(), 0..40)
            .prop_map(|b| EntryPayload::Command(Bytes::from(b))),
    ];
    (0u64..9, 1u64..100, payload).prop_map(|(t, i, payload)| Entry {
        term: Term(t),
        index: Index(i),
        payload,
    })
}

/// Messages of every shape that carries data, with small numbers and small payloads.
fn message() -> impl Strategy<Value = Message> {
    let body = prop_oneof![
        (any::<u64>(), any::<u64>()).prop_map(|(c, r)| MessageBody::Heartbeat(Heartbeat {
            commit: Index(c),
            read_round: r,
        })),
        (log_id(), any::<bool>()).prop_map(|(last_log, leader_transfer)| MessageBody::Vote(
            VoteRequest {
                last_log,
                leader_transfer,
            }
        )),
        (
            log_id(),
            proptest::collection::vec(entry(), 0..4),
            0u64..100
        )
            .prop_map(|(prev, entries, c)| MessageBody::Append(AppendRequest {
                prev,
                entries: entries.into(),
                commit: Index(c),
            })),
        (log_id(), proptest::collection::vec(node(), 0..4)).prop_map(|(last, voters)| {
            MessageBody::InstallSnapshot(SnapshotOffer {
                meta: SnapshotMeta {
                    last,
                    membership: Membership::with_voters(voters),
                },
            })
        }),
        Just(MessageBody::TimeoutNow),
    ];
    (node(), node(), 0u64..9, body).prop_map(|(from, to, t, body)| Message {
        from,
        to,
        term: Term(t),
        body,
    })
}

/// One frame holding `payload`.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// One frame holding `value`, encoded as the transport encodes it.
fn encoded<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    framing::encode_frame(&mut out, value, u32::MAX).expect("a small value encodes");
    out
}

/// Pieces of a stream: well-formed frames of each kind, frames of garbage, headers announcing
/// any length, stray bytes.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => message().prop_map(|m| encoded(&m)),
        2 => proptest::collection::vec(any::<u8>(), 1..64).prop_map(|c| frame(&c)),
        1 => Just(frame(&[])),
        1 => (0u64..200).prop_map(|bytes| encoded(&wire::SnapshotEnd { bytes })),
        1 => any::<u32>().prop_map(|version| encoded(&wire::Hello { version })),
        1 => any::<u32>().prop_map(|len| len.to_be_bytes().to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 1..8),
    ]
}

/// A stream of pieces, cut short at `cut` (as a fraction of its length) when that is under 1.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    (proptest::collection::vec(piece(), 0..10), 0.0f64..1.5).prop_map(|(pieces, cut)| {
        let mut s = pieces.concat();
        if cut < 1.0 {
            s.truncate((s.len() as f64 * cut) as usize);
        }
        s
    })
}

/// A well-formed snapshot stream (an offer, data chunks, the marker, the right total), with
/// something appended or cut short now and then.
fn snapshot_stream() -> impl Strategy<Value = Vec<u8>> {
    let offer = (node(), node(), log_id()).prop_map(|(from, to, last)| Message {
        from,
        to,
        term: Term(3),
        body: MessageBody::InstallSnapshot(SnapshotOffer {
            meta: SnapshotMeta {
                last,
                membership: Membership::with_voters([NodeId(1), NodeId(2), NodeId(3)]),
            },
        }),
    });
    let chunks = proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..300), 0..5);
    (offer, chunks, stream(), 0.0f64..2.0).prop_map(|(offer, chunks, tail, cut)| {
        let mut s = encoded(&offer);
        for c in &chunks {
            s.extend_from_slice(&frame(c));
        }
        s.extend_from_slice(&frame(&[]));
        let bytes = chunks.iter().map(|c| c.len() as u64).sum();
        s.extend_from_slice(&encoded(&wire::SnapshotEnd { bytes }));
        if cut < 0.5 {
            s.truncate((s.len() as f64 * cut * 2.0) as usize);
        } else if cut > 1.5 {
            s.extend_from_slice(&tail);
        }
        s
    })
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        3 => Just(Kind::Messages),
        3 => Just(Kind::Snapshot),
        1 => Just(Kind::Hello),
        1 => Just(Kind::Ack),
    ]
}

/// A limit under 4096: mostly above the frames' sizes, sometimes just around them.
fn small_limit() -> impl Strategy<Value = u16> {
    prop_oneof![3 => 200u16..4096, 1 => 0u16..200]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn frame_decoder_survives_any_stream(
        kind in kind(),
        max_frame in small_limit(),
        max_chunk in small_limit(),
        reads in proptest::collection::vec(any::<u8>(), 0..8),
        stream in stream(),
    ) {
        harness::run(&Case::to_input(kind, max_frame, max_chunk, &reads, &stream));
    }


    #[test]
    fn frame_decoder_reads_snapshot_streams(
        max_frame in small_limit(),
        max_chunk in small_limit(),
        reads in proptest::collection::vec(any::<u8>(), 0..8),
        stream in snapshot_stream(),
    ) {
        harness::run(&Case::to_input(Kind::Snapshot, max_frame, max_chunk, &reads, &stream));
    }

    #[test]
    fn frame_decoder_survives_any_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        harness::run(&data);
    }
}

/// A well-formed snapshot stream reads whole, under tight limits and under the defaults, in any
/// reads; one byte less of chunk limit and it stops at the chunk over the limit. (The harness's
/// reader is checked against known outcomes, not only against itself in other reads.)
#[test]
fn a_well_formed_snapshot_stream_reads_whole() {
    let offer = Message {
        from: NodeId(1),
        to: NodeId(2),
        term: Term(3),
        body: MessageBody::InstallSnapshot(SnapshotOffer {
            meta: SnapshotMeta {
                last: LogId::new(Term(3), Index(40)),
                membership: Membership::with_voters([NodeId(1), NodeId(2), NodeId(3)]),
            },
        }),
    };
    let mut s = encoded(&offer);
    s.extend_from_slice(&frame(&[7; 100]));
    s.extend_from_slice(&frame(&[8; 30]));
    s.extend_from_slice(&frame(&[]));
    s.extend_from_slice(&encoded(&wire::SnapshotEnd { bytes: 130 }));
    let whole = [
        Item::Message(offer.clone()),
        Item::Chunk(Bytes::from(vec![7; 100])),
        Item::Chunk(Bytes::from(vec![8; 30])),
        Item::End(wire::SnapshotEnd { bytes: 130 }),
    ];
    for reads in [&[][..], &[0], &[2, 60]] {
        let out = harness::run(&Case::to_input(Kind::Snapshot, 1024, 100, reads, &s));
        assert_eq!(out.end, End::Clean);
        assert_eq!(out.items, whole);
    }
    let mut defaults = vec![1, 0xc0, 0, 0xc0, 0, 0];
    defaults.extend_from_slice(&s);
    let out = harness::run(&defaults);
    assert_eq!((out.end, out.items), (End::Clean, whole.into()));

    let out = harness::run(&Case::to_input(Kind::Snapshot, 1024, 99, &[], &s));
    assert_eq!(out.end, End::Oversized { len: 100, max: 99 });
    assert_eq!(out.items, [Item::Message(offer.clone())]);

    // The same bytes as a message stream: the first chunk does not decode as a message.
    let out = harness::run(&Case::to_input(Kind::Messages, 1024, 0, &[], &s));
    assert!(matches!(out.end, End::Undecodable(_)), "{:?}", out.end);
    assert_eq!(out.items, [Item::Message(offer)]);
}

/// Cut anywhere inside a frame, a stream is truncated; cut between frames, it ends cleanly.
#[test]
fn cuts_inside_a_frame_are_truncations() {
    let m = Message {
        from: NodeId(1),
        to: NodeId(2),
        term: Term(3),
        body: MessageBody::Heartbeat(Heartbeat {
            commit: Index(5),
            read_round: 9,
        }),
    };
    let one = encoded(&m);
    let two = [one.clone(), one.clone()].concat();
    for cut in 0..=two.len() {
        let out = harness::run(&Case::to_input(Kind::Messages, 1024, 0, &[3], &two[..cut]));
        let whole_frames = if cut == two.len() {
            2
        } else {
            usize::from(cut >= one.len())
        };
        assert_eq!(out.items.len(), whole_frames, "cut at {cut}");
        let clean = cut == 0 || cut == one.len() || cut == two.len();
        let expected = if clean { End::Clean } else { End::Truncated };
        assert_eq!(out.end, expected, "cut at {cut}");
    }
}

/// Replays every file in `fuzz/<dir>/frame_decoder/` (the seed corpus and saved regressions).
fn replay(dir: &str) -> usize {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz")
        .join(dir)
        .join("frame_decoder");
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
fn frame_decoder_corpus_replays() {
    replay("corpus");
}

#[test]
fn frame_decoder_regressions_replay() {
    replay("regressions");
}
