//! Property tests: arbitrary bytes in arbitrary chunks never panic the decoder, never make it
//! hold more than its limits, and decode the same whatever the chunking; valid streams decode to
//! what was encoded; garbage headers are errors.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::{decode_all, decode_chunked};
use crate::resp::{Decoder, Limits, ProtocolError, encode_request};

/// Limits small enough that random input reaches them.
fn limits() -> impl Strategy<Value = Limits> {
    (0usize..48, 0usize..6, 0usize..48, 0usize..160).prop_map(
        |(max_bulk_len, max_args, max_inline_len, max_request_len)| Limits {
            max_bulk_len,
            max_args,
            max_inline_len,
            max_request_len,
        },
    )
}

/// Input that looks enough like RESP to reach every state: tokens of the protocol mixed with
/// arbitrary bytes.
fn soup() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"*".to_vec()),
        Just(b"$".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"-1".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"'".to_vec()),
        Just(b"\\x4".to_vec()),
        (0u8..12).prop_map(|n| n.to_string().into_bytes()),
        Just(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 1..6),
    ];
    proptest::collection::vec(token, 0..40).prop_map(|ts| ts.concat())
}

/// Cut positions for an input of up to `len` bytes.
fn cuts(len: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0..=len, 0..12).prop_map(|mut c| {
        c.sort_unstable();
        c
    })
}

/// Feeds `input` in chunks, checking after every `Ok(None)` that the decoder and the buffer hold
/// no more than the limits allow. Returns the requests and the error, if any.
fn feed_checking(
    limits: Limits,
    input: &[u8],
    cuts: &[usize],
) -> (Vec<Vec<Bytes>>, Option<ProtocolError>) {
    let mut decoder = Decoder::new(limits);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&input.len())) {
        let end = end.clamp(start, input.len());
        buf.extend_from_slice(&input[start..end]);
        start = end;
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(req)) => {
                    assert!(!req.is_empty());
                    assert!(req.len() <= limits.max_args);
                    assert!(
                        req.iter()
                            .all(|a| a.len() <= limits.max_bulk_len.max(limits.max_inline_len))
                    );
                    out.push(req);
                }
                Ok(None) => {
                    let (wire, slots) = decoder.held();
                    assert!(wire <= limits.max_request_len, "holds {wire} wire bytes");
                    assert!(slots <= 1024, "{slots} argument slots");
                    let bound = limits
                        .max_request_len
                        .max(limits.max_inline_len + 1)
                        .max(33);
                    assert!(buf.len() <= bound, "left {} bytes buffered", buf.len());
                    break;
                }
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_in_arbitrary_chunks(
        limits in limits(),
        (input, cuts) in proptest::collection::vec(any::<u8>(), 0..200)
            .prop_flat_map(|v| { let n = v.len(); (Just(v), cuts(n)) }),
    ) {
        let chunked = feed_checking(limits, &input, &cuts);
        let (whole, end, _) = decode_all(limits, &input);
        prop_assert_eq!(chunked, (whole, end.err()));
    }

    #[test]
    fn protocol_soup_in_arbitrary_chunks(
        limits in limits(),
        (input, cuts) in soup().prop_flat_map(|v| { let n = v.len(); (Just(v), cuts(n)) }),
    ) {
        let chunked = feed_checking(limits, &input, &cuts);
        let (whole, end, _) = decode_all(limits, &input);
        prop_assert_eq!(chunked, (whole, end.err()));
    }

    #[test]
    fn protocol_soup_with_default_limits(
        (input, cuts) in soup().prop_flat_map(|v| { let n = v.len(); (Just(v), cuts(n)) }),
    ) {
        let chunked = feed_checking(Limits::default(), &input, &cuts);
        let (whole, end, _) = decode_all(Limits::default(), &input);
        prop_assert_eq!(chunked, (whole, end.err()));
    }

    #[test]
    fn valid_streams_round_trip_in_any_chunks(
        (requests, input, cuts) in proptest::collection::vec(
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 1..6),
            0..6,
        )
        .prop_flat_map(|requests| {
            let mut buf = BytesMut::new();
            for r in &requests {
                encode_request(r, &mut buf);
            }
            let n = buf.len();
            (Just(requests), Just(buf.to_vec()), cuts(n))
        }),
    ) {
        let (decoded, end) = decode_chunked(Limits::default(), &input, &cuts);
        prop_assert_eq!(end, Ok(()));
        let want: Vec<Vec<Bytes>> = requests
            .iter()
            .map(|r| r.iter().map(|a| Bytes::copy_from_slice(a)).collect())
            .collect();
        prop_assert_eq!(decoded, want);
    }

    #[test]
    fn truncated_streams_wait(
        (input, cut) in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 1..6)
            .prop_flat_map(|r| {
                let mut buf = BytesMut::new();
                encode_request(&r, &mut buf);
                let n = buf.len();
                (Just(buf.to_vec()), 0..n)
            }),
    ) {
        let (decoded, end, _) = decode_all(Limits::default(), &input[..cut]);
        prop_assert!(decoded.is_empty());
        prop_assert_eq!(end, Ok(()));
    }

    #[test]
    fn garbage_array_headers_are_errors(
        garbage in proptest::collection::vec(any::<u8>().prop_filter("no line end", |b| *b != b'\r' && *b != b'\n'), 0..40),
    ) {
        let valid = matches!(crate::resp::int::parse_i64(&garbage), Some(n) if n >= -1);
        prop_assume!(!valid);
        let mut input = b"*".to_vec();
        input.extend_from_slice(&garbage);
        input.extend_from_slice(b"\r\n");
        let (decoded, end, _) = decode_all(Limits::default(), &input);
        prop_assert!(decoded.is_empty());
        prop_assert!(end.is_err());
    }

    #[test]
    fn non_bulk_elements_are_errors(first in any::<u8>().prop_filter("not a bulk", |b| *b != b'$'), rest in proptest::collection::vec(any::<u8>(), 0..20)) {
        let mut input = b"*1\r\n".to_vec();
        input.push(first);
        input.extend_from_slice(&rest);
        let (decoded, end, _) = decode_all(Limits::default(), &input);
        prop_assert!(decoded.is_empty());
        prop_assert_eq!(end, Err(ProtocolError::ExpectedBulk(first)));
    }
}
