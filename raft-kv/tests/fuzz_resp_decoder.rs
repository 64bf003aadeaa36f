//! The `resp_decoder` fuzz harness (`tests/fuzz/resp_decoder.rs`, shared with `fuzz/`) as a
//! property test: streams that look like RESP (protocol tokens, command names and options,
//! arbitrary bytes), under small limits and in random reads, never panic the request decoder,
//! the command parser or the client's reply decoder, never make the decoder hold more than its
//! limits, and decode the same whatever the reads. The seed corpus and every saved regression
//! input under `fuzz/` are replayed too.

#[path = "fuzz/resp_decoder.rs"]
mod harness;

use proptest::prelude::*;
// The harness reaches the code under test through these (see its module docs).
use raft_kv::{client, command, resp};
use resp::Limits;

/// 2,000 cases by default; `PROPTEST_CASES` sets more.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

/// Words a request is made of: protocol tokens, command names, options, numbers.
const WORDS: &[&str] = &[
    "*",
    "$",
    ":",
    "+",
    "-",
    "\r\n",
    "\r",
    "\n",
    " ",
    "\"",
    "'",
    "\\x4",
    "\\",
    "-1",
    "0",
    "1",
    "2",
    "3",
    "12",
    "99999999999999999999",
    "GET",
    "SET",
    "getset",
    "DEL",
    "EXISTS",
    "APPEND",
    "STRLEN",
    "INCR",
    "INCRBY",
    "DECR",
    "DECRBY",
    "MGET",
    "MSET",
    "SCAN",
    "MATCH",
    "COUNT",
    "DBSIZE",
    "INFO",
    "PING",
    "ECHO",
    "HELLO",
    "AUTH",
    "SETNAME",
    "SELECT",
    "CLIENT",
    "COMMAND",
    "DOCS",
    "QUIT",
    "NX",
    "XX",
    "EX",
    "PX",
    "EXAT",
    "PXAT",
    "KEEPTTL",
    "GET",
    "RAFT.REQ",
    "RAFT.ADDLEARNER",
    "RAFT.PROMOTE",
    "RAFT.REMOVE",
    "RAFT.TRANSFER",
    "RAFT.STATUS",
    "RAFT.STALE",
    "k",
    "v",
    "*?[a-z]\\",
];

fn word() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => proptest::sample::select(WORDS).prop_map(|w| w.as_bytes().to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 1..5),
    ]
}

/// A stream: well-formed requests (arrays of words, or inline lines) mixed with loose tokens.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let part = prop_oneof![
        2 => proptest::collection::vec(word(), 1..6).prop_map(|args| {
            let mut out = bytes::BytesMut::new();
            resp::encode_request(&args, &mut out);
            out.to_vec()
        }),
        1 => proptest::collection::vec(word(), 1..6).prop_map(|args| {
            let mut line = args.join(&b' ');
            line.extend_from_slice(b"\r\n");
            line
        }),
        2 => word(),
    ];
    proptest::collection::vec(part, 0..12).prop_map(|parts| parts.concat())
}

/// Limits small enough for the stream to reach them, or big enough not to.
fn limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        (0usize..64, 0usize..8, 0usize..64, 0usize..256).prop_map(|(b, a, i, r)| Limits {
            max_bulk_len: b,
            max_args: a,
            max_inline_len: i,
            max_request_len: r,
        }),
        Just(Limits {
            max_bulk_len: 63,
            max_args: 7,
            max_inline_len: 63,
            max_request_len: 255,
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn resp_decoders_survive_any_stream(
        limits in limits(),
        reads in proptest::collection::vec(any::<u8>(), 0..8),
        stream in stream(),
    ) {
        harness::run(&harness::Case::to_input(&limits, &reads, &stream));
    }

    #[test]
    fn resp_decoders_survive_any_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        harness::run(&data);
    }
}

/// Replays every file in `fuzz/<dir>/resp_decoder/` (the seed corpus and saved regressions).
fn replay(dir: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz")
        .join(dir)
        .join("resp_decoder");
    let Ok(entries) = std::fs::read_dir(&path) else {
        return;
    };
    let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();
    for f in &files {
        let data = std::fs::read(f).expect("readable input");
        let result = std::panic::catch_unwind(|| harness::run(&data));
        assert!(result.is_ok(), "{} fails", f.display());
    }
}

#[test]
fn resp_decoder_corpus_replays() {
    replay("corpus");
}

#[test]
fn resp_decoder_regressions_replay() {
    replay("regressions");
}
