//! The public RESP and command API end to end, as a server's connection loop uses it: bytes in,
//! requests decoded, commands parsed, replies encoded.

use bytes::{Bytes, BytesMut};
use raft_kv::command::{Command, SetCondition};
use raft_kv::resp::{Decoder, Limits, Protocol, ProtocolError, Reply, encode, encode_request};

/// Decodes and parses everything in `input`, read `chunk` bytes at a time; each request becomes
/// a command or the error reply it earns. Stops at a protocol error, whose reply comes last.
fn serve(input: &[u8], chunk: usize) -> Vec<Result<Command, Reply>> {
    let mut decoder = Decoder::default();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(args)) => out.push(Command::parse(&args).map_err(Reply::from)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e.to_reply()));
                    return out;
                }
            }
        }
    }
    out
}

#[test]
fn a_redis_cli_session() {
    let mut input = BytesMut::new();
    encode_request(&["COMMAND", "DOCS"], &mut input);
    encode_request(&["HELLO", "3", "SETNAME", "cli"], &mut input);
    encode_request(&["set", "greeting", "hello world", "NX"], &mut input);
    input.extend_from_slice(b"GET greeting\r\n");
    encode_request(&["RAFT.REQ", "9", "1", "INCRBY", "visits", "2"], &mut input);
    encode_request(&["FLUSHALL"], &mut input);
    encode_request(&["GET"], &mut input);
    encode_request(&["QUIT"], &mut input);

    for chunk in [1, 3, 7, 64, 4096] {
        let got = serve(&input, chunk);
        assert_eq!(got.len(), 8, "chunk {chunk}");
        assert_eq!(got[0], Ok(Command::CommandDocs(vec![])));
        assert!(matches!(&got[1], Ok(Command::Hello(h)) if h.protocol == Some(Protocol::Resp3)));
        assert!(
            matches!(&got[2], Ok(Command::Set(s)) if s.value == "hello world" && s.condition == SetCondition::IfAbsent)
        );
        assert_eq!(got[3], Ok(Command::Get(Bytes::from_static(b"greeting"))));
        assert!(
            matches!(&got[4], Ok(c @ Command::Tagged { client: 9, seq: 1, .. }) if c.is_write())
        );
        assert_eq!(
            got[5],
            Err(Reply::error(
                "ERR unknown command 'FLUSHALL', with args beginning with: "
            ))
        );
        assert_eq!(
            got[6],
            Err(Reply::error(
                "ERR wrong number of arguments for 'get' command"
            ))
        );
        assert_eq!(got[7], Ok(Command::Quit));
    }
}

#[test]
fn a_protocol_error_ends_the_stream_with_its_reply() {
    let got = serve(b"PING\r\n*1\r\n*1\r\n$4\r\nPING\r\nPING\r\n", 5);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], Ok(Command::Ping(None)));
    assert_eq!(
        got[1],
        Err(Reply::error("ERR Protocol error: expected '$', got '*'"))
    );
    let mut wire = BytesMut::new();
    encode(
        &ProtocolError::InvalidBulkLen.to_reply(),
        Protocol::Resp2,
        &mut wire,
    );
    assert_eq!(&wire[..], b"-ERR Protocol error: invalid bulk length\r\n");
}

#[test]
fn a_value_at_the_bulk_limit_arrives_in_many_reads_uncopied() {
    let limits = Limits::default();
    let value = vec![b'v'; limits.max_bulk_len];
    let mut input = BytesMut::new();
    encode_request(&[&b"SET"[..], b"big", &value], &mut input);
    let input = input.freeze();

    let mut decoder = Decoder::new(limits);
    let mut buf = BytesMut::with_capacity(input.len());
    let base = buf.as_ptr() as usize;
    let start = std::time::Instant::now();
    let mut args = None;
    for piece in input.chunks(64 << 10) {
        buf.extend_from_slice(piece);
        if let Some(a) = decoder.decode(&mut buf).unwrap() {
            args = Some(a);
        }
    }
    let args = args.expect("the request completes");
    assert_eq!(args[2].len(), value.len());
    assert!(args[2] == value[..]);
    let offset = input.len() - value.len() - 2;
    assert_eq!(
        args[2].as_ptr() as usize,
        base + offset,
        "the value was copied"
    );
    // 256 reads of 64 KiB: linear work, well under a second even unoptimised.
    assert!(start.elapsed() < std::time::Duration::from_secs(5));

    // One byte more is refused at the header, before any payload is buffered.
    let mut input = BytesMut::new();
    encode_request(
        &[&b"SET"[..], b"big", &vec![b'v'; limits.max_bulk_len + 1]],
        &mut input,
    );
    let header_end = input.len() - limits.max_bulk_len - 3;
    let mut buf = BytesMut::from(&input[..header_end]);
    assert_eq!(
        Decoder::new(limits).decode(&mut buf),
        Err(ProtocolError::BulkTooLong {
            len: limits.max_bulk_len as u64 + 1,
            max: limits.max_bulk_len,
        })
    );
}

#[test]
fn replies_for_a_hello_3_client() {
    let hello = Reply::Map(vec![
        (Reply::bulk("server"), Reply::bulk("raft-kv")),
        (Reply::bulk("proto"), Reply::Integer(3)),
        (Reply::bulk("id"), Reply::Integer(7)),
        (Reply::bulk("mode"), Reply::bulk("cluster")),
        (Reply::bulk("role"), Reply::bulk("master")),
        (Reply::bulk("modules"), Reply::array(vec![])),
    ]);
    let mut resp3 = BytesMut::new();
    encode(&hello, Protocol::Resp3, &mut resp3);
    assert!(resp3.starts_with(b"%6\r\n$6\r\nserver\r\n"));
    let mut resp2 = BytesMut::new();
    encode(&hello, Protocol::Resp2, &mut resp2);
    assert!(resp2.starts_with(b"*12\r\n$6\r\nserver\r\n"));
}
