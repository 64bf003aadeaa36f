//! The decoder on hand-written inputs: requests, pipelines, splits, limits, malformed input.

use bytes::BytesMut;

use super::{decode_all, decode_chunked, req};
use crate::resp::{Decoder, Limits, ProtocolError, encode_request};

const PIPELINE: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n\
    *2\r\n$3\r\nGET\r\n$1\r\nk\r\n\
    PING\r\n\
    *0\r\n*-1\r\n\r\n   \r\n\
    *1\r\n$0\r\n\r\n\
    ECHO \"a b\"\n";

fn pipeline_requests() -> Vec<Vec<bytes::Bytes>> {
    vec![
        req(&["SET", "k", "hello"]),
        req(&["GET", "k"]),
        req(&["PING"]),
        req(&[""]),
        req(&["ECHO", "a b"]),
    ]
}

#[test]
fn decodes_a_pipeline_in_one_buffer() {
    let (reqs, end, rest) = decode_all(Limits::default(), PIPELINE);
    assert_eq!(end, Ok(()));
    assert_eq!(reqs, pipeline_requests());
    assert!(rest.is_empty());
}

#[test]
fn decodes_a_pipeline_split_at_every_byte_boundary() {
    for cut in 0..=PIPELINE.len() {
        let (reqs, end) = decode_chunked(Limits::default(), PIPELINE, &[cut]);
        assert_eq!(end, Ok(()), "cut at {cut}");
        assert_eq!(reqs, pipeline_requests(), "cut at {cut}");
    }
    for a in 0..=PIPELINE.len() {
        for b in a..=PIPELINE.len() {
            let (reqs, _) = decode_chunked(Limits::default(), PIPELINE, &[a, b]);
            assert_eq!(reqs, pipeline_requests(), "cuts at {a}, {b}");
        }
    }
}

#[test]
fn decodes_a_pipeline_fed_byte_by_byte() {
    let cuts: Vec<usize> = (0..PIPELINE.len()).collect();
    let (reqs, end) = decode_chunked(Limits::default(), PIPELINE, &cuts);
    assert_eq!(end, Ok(()));
    assert_eq!(reqs, pipeline_requests());
}

#[test]
fn incomplete_requests_wait_and_leave_the_rest() {
    let mut decoder = Decoder::default();
    let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$1\r"[..]);
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    // The complete element was taken off the buffer; the partial header was not.
    assert_eq!(&buf[..], b"$1\r");
    buf.extend_from_slice(b"\n");
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    // A complete header is taken off too: the decoder waits for the payload.
    assert!(buf.is_empty());
    buf.extend_from_slice(b"k\r");
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    buf.extend_from_slice(b"\nPI");
    assert_eq!(decoder.decode(&mut buf), Ok(Some(req(&["GET", "k"]))));
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert_eq!(&buf[..], b"PI");
}

#[test]
fn arguments_share_the_read_buffer() {
    let mut decoder = Decoder::default();
    let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$5\r\nvalue\r\n"[..]);
    let base = buf.as_ptr() as usize;
    let args = decoder.decode(&mut buf).unwrap().unwrap();
    assert_eq!(
        args[1].as_ptr() as usize,
        base + 17,
        "the payload was copied"
    );
}

#[test]
fn binary_payloads_pass_through() {
    let value: Vec<u8> = (0..=255).collect();
    let mut buf = BytesMut::new();
    encode_request(&[&b"SET"[..], b"k\r\n", &value], &mut buf);
    let (reqs, end, _) = decode_all(Limits::default(), &buf);
    assert_eq!(end, Ok(()));
    assert_eq!(reqs.len(), 1);
    assert_eq!(&reqs[0][1][..], b"k\r\n");
    assert_eq!(&reqs[0][2][..], &value[..]);
}

#[test]
fn encode_request_round_trips() {
    let cases: Vec<Vec<&[u8]>> = vec![
        vec![b"PING"],
        vec![b"SET", b"", b"\0\r\n*$"],
        vec![b"MSET", b"a", b"1", b"b", b"2"],
    ];
    for args in cases {
        let mut buf = BytesMut::new();
        encode_request(&args, &mut buf);
        let (reqs, end, rest) = decode_all(Limits::default(), &buf);
        assert_eq!(end, Ok(()));
        assert!(rest.is_empty());
        assert_eq!(
            reqs,
            vec![
                args.iter()
                    .map(|a| bytes::Bytes::copy_from_slice(a))
                    .collect::<Vec<_>>()
            ]
        );
    }
}

fn small() -> Limits {
    Limits {
        max_bulk_len: 8,
        max_args: 3,
        max_inline_len: 10,
        max_request_len: 40,
    }
}

fn error_of(limits: Limits, input: &[u8]) -> ProtocolError {
    match decode_all(limits, input).1 {
        Err(e) => e,
        Ok(()) => panic!("no error for {:?}", input.escape_ascii().to_string()),
    }
}

#[test]
fn max_bulk_len_is_enforced_at_the_header() {
    // Exactly at the limit: fine.
    let (reqs, end, _) = decode_all(small(), b"*1\r\n$8\r\n12345678\r\n");
    assert_eq!((reqs, end), (vec![req(&["12345678"])], Ok(())));
    // One over: rejected before the payload arrives.
    assert_eq!(
        error_of(small(), b"*1\r\n$9\r\n"),
        ProtocolError::BulkTooLong { len: 9, max: 8 }
    );
    // A huge declared length is rejected without allocating for it.
    assert_eq!(
        error_of(Limits::default(), b"*1\r\n$9223372036854775807\r\n"),
        ProtocolError::BulkTooLong {
            len: i64::MAX as u64,
            max: 16 << 20
        }
    );
}

#[test]
fn max_args_is_enforced_at_the_header() {
    let (reqs, end, _) = decode_all(small(), b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
    assert_eq!((reqs, end), (vec![req(&["a", "b", "c"])], Ok(())));
    assert_eq!(
        error_of(small(), b"*4\r\n"),
        ProtocolError::TooManyArgs { len: 4, max: 3 }
    );
    assert_eq!(
        error_of(Limits::default(), b"*9223372036854775807\r\n"),
        ProtocolError::TooManyArgs {
            len: i64::MAX as u64,
            max: 1 << 20
        }
    );
    // Inline commands too.
    let (reqs, end, _) = decode_all(small(), b"a b c\r\n");
    assert_eq!((reqs, end), (vec![req(&["a", "b", "c"])], Ok(())));
    assert_eq!(
        error_of(small(), b"a b c d\r\n"),
        ProtocolError::TooManyArgs { len: 4, max: 3 }
    );
}

#[test]
fn a_huge_count_preallocates_little() {
    let mut decoder = Decoder::default();
    let mut buf = BytesMut::from(&b"*1048576\r\n"[..]);
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    let (_, capacity) = decoder.held();
    assert!(capacity <= 1024, "preallocated {capacity} slots");
}

#[test]
fn max_inline_len_is_enforced() {
    // Ten bytes and a terminator: fine, with or without the CR.
    let (reqs, end, _) = decode_all(small(), b"0123456789\r\n0123456789\n");
    assert_eq!(end, Ok(()));
    assert_eq!(reqs, vec![req(&["0123456789"]), req(&["0123456789"])]);
    // Twelve bytes without a newline yet: rejected without waiting for the end.
    assert_eq!(
        error_of(small(), b"0123456789ab"),
        ProtocolError::InlineTooLong
    );
    // Eleven: it may still be ten and a CR.
    let (_, end, rest) = decode_all(small(), b"0123456789a");
    assert_eq!((end, rest.len()), (Ok(()), 11));
    // Eleven bytes with a newline: rejected too, with or without the CR.
    assert_eq!(
        error_of(small(), b"01234 6789a\n"),
        ProtocolError::InlineTooLong
    );
    assert_eq!(
        error_of(small(), b"01234 6789a\r\n"),
        ProtocolError::InlineTooLong
    );
    // Ten bytes without a newline: wait.
    let (_, end, rest) = decode_all(small(), b"0123456789");
    assert_eq!(end, Ok(()));
    assert_eq!(rest.len(), 10);
}

#[test]
fn max_request_len_is_enforced_at_each_header() {
    // 4 + 3 * 14 = 46 bytes > 40.
    let input = b"*3\r\n$8\r\n12345678\r\n$8\r\n12345678\r\n$8\r\n";
    let (reqs, end, _) = decode_all(small(), input);
    assert!(reqs.is_empty());
    assert_eq!(end, Err(ProtocolError::RequestTooLong { max: 40 }));
    // 4 + 14 + 14 + 7 = 39 bytes: fine.
    let input = b"*3\r\n$8\r\n12345678\r\n$8\r\n12345678\r\n$1\r\na\r\n";
    let (reqs, end, _) = decode_all(small(), input);
    assert_eq!(end, Ok(()));
    assert_eq!(reqs.len(), 1);
}

#[test]
fn nested_and_non_bulk_elements_are_rejected() {
    for (input, got) in [
        (&b"*1\r\n*1\r\n$1\r\na\r\n"[..], b'*'),
        (b"*1\r\n:1\r\n", b':'),
        (b"*1\r\n+OK\r\n", b'+'),
        (b"*2\r\n$1\r\na\r\nb\r\n", b'b'),
    ] {
        assert_eq!(
            error_of(Limits::default(), input),
            ProtocolError::ExpectedBulk(got)
        );
    }
}

#[test]
fn malformed_headers_are_rejected() {
    let cases: &[(&[u8], ProtocolError)] = &[
        (b"*x\r\n", ProtocolError::InvalidArrayLen),
        (b"*\r\n", ProtocolError::InvalidArrayLen),
        (b"*-2\r\n", ProtocolError::InvalidArrayLen),
        (b"*+1\r\n", ProtocolError::InvalidArrayLen),
        (b"*01\r\n", ProtocolError::InvalidArrayLen),
        (b"*1 \r\n", ProtocolError::InvalidArrayLen),
        (b"*1\n", ProtocolError::ExpectedCrlf),
        (b"*1\rx", ProtocolError::ExpectedCrlf),
        (
            b"*111111111111111111111111111111111",
            ProtocolError::ArrayHeaderTooLong,
        ),
        (b"*1\r\n$x\r\n", ProtocolError::InvalidBulkLen),
        (b"*1\r\n$-1\r\n", ProtocolError::InvalidBulkLen),
        (b"*1\r\n$\r\n", ProtocolError::InvalidBulkLen),
        (b"*1\r\n$1\n", ProtocolError::ExpectedCrlf),
        (
            b"*1\r\n$1111111111111111111111111111111111",
            ProtocolError::BulkHeaderTooLong,
        ),
        (b"*1\r\n$1\r\nab\r\n", ProtocolError::ExpectedCrlf),
        (b"*1\r\n$1\r\na\n\n", ProtocolError::ExpectedCrlf),
        (b"SET \"a\r\n", ProtocolError::UnbalancedQuotes),
    ];
    for (input, want) in cases {
        assert_eq!(
            &error_of(Limits::default(), input),
            want,
            "{:?}",
            input.escape_ascii().to_string()
        );
    }
}

#[test]
fn an_error_is_final() {
    let mut decoder = Decoder::default();
    let mut buf = BytesMut::from(&b"*x\r\nPING\r\n"[..]);
    assert_eq!(
        decoder.decode(&mut buf),
        Err(ProtocolError::InvalidArrayLen)
    );
    assert_eq!(
        decoder.decode(&mut buf),
        Err(ProtocolError::InvalidArrayLen)
    );
}

#[test]
fn errors_render_as_redis_does() {
    let cases = [
        (
            ProtocolError::InvalidArrayLen,
            "ERR Protocol error: invalid multibulk length",
        ),
        (
            ProtocolError::InvalidBulkLen,
            "ERR Protocol error: invalid bulk length",
        ),
        (
            ProtocolError::ExpectedBulk(b'*'),
            "ERR Protocol error: expected '$', got '*'",
        ),
        (
            ProtocolError::ExpectedBulk(0),
            "ERR Protocol error: expected '$', got '\\u{0}'",
        ),
        (
            ProtocolError::InlineTooLong,
            "ERR Protocol error: too big inline request",
        ),
        (
            ProtocolError::UnbalancedQuotes,
            "ERR Protocol error: unbalanced quotes in request",
        ),
        (
            ProtocolError::BulkTooLong { len: 9, max: 8 },
            "ERR Protocol error: invalid bulk length: 9 exceeds the limit of 8",
        ),
    ];
    for (e, want) in cases {
        assert_eq!(e.to_reply(), crate::resp::Reply::error(want));
    }
}
