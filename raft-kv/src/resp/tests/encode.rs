//! The encoder's bytes for every reply, in RESP2 and RESP3.

use bytes::{Bytes, BytesMut};

use crate::resp::{Protocol, Reply, VerbatimFormat, encode};

fn bytes_of(reply: &Reply, protocol: Protocol) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode(reply, protocol, &mut out);
    out.to_vec()
}

fn both(reply: Reply, resp2: &[u8], resp3: &[u8]) {
    assert_eq!(
        bytes_of(&reply, Protocol::Resp2).escape_ascii().to_string(),
        resp2.escape_ascii().to_string(),
        "RESP2 {reply:?}"
    );
    assert_eq!(
        bytes_of(&reply, Protocol::Resp3).escape_ascii().to_string(),
        resp3.escape_ascii().to_string(),
        "RESP3 {reply:?}"
    );
}

#[test]
fn scalars() {
    both(Reply::OK, b"+OK\r\n", b"+OK\r\n");
    both(Reply::simple("PONG"), b"+PONG\r\n", b"+PONG\r\n");
    both(
        Reply::error("ERR syntax error"),
        b"-ERR syntax error\r\n",
        b"-ERR syntax error\r\n",
    );
    both(Reply::Integer(0), b":0\r\n", b":0\r\n");
    both(
        Reply::Integer(i64::MIN),
        b":-9223372036854775808\r\n",
        b":-9223372036854775808\r\n",
    );
    both(Reply::bulk("hello"), b"$5\r\nhello\r\n", b"$5\r\nhello\r\n");
    both(Reply::bulk(""), b"$0\r\n\r\n", b"$0\r\n\r\n");
    both(
        Reply::bulk(Bytes::from_static(b"a\r\nb")),
        b"$4\r\na\r\nb\r\n",
        b"$4\r\na\r\nb\r\n",
    );
}

#[test]
fn line_values_cannot_break_the_protocol() {
    both(
        Reply::error("ERR a\r\nb"),
        b"-ERR a  b\r\n",
        b"-ERR a  b\r\n",
    );
    both(Reply::simple("x\ny"), b"+x y\r\n", b"+x y\r\n");
}

#[test]
fn nils_and_null() {
    both(Reply::NIL, b"$-1\r\n", b"_\r\n");
    both(Reply::Array(None), b"*-1\r\n", b"_\r\n");
    both(Reply::Null, b"$-1\r\n", b"_\r\n");
}

#[test]
fn arrays_nest() {
    both(Reply::array(vec![]), b"*0\r\n", b"*0\r\n");
    both(
        Reply::array(vec![
            Reply::bulk("0"),
            Reply::array(vec![Reply::bulk("a"), Reply::NIL]),
            Reply::Integer(7),
        ]),
        b"*3\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$-1\r\n:7\r\n",
        b"*3\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n_\r\n:7\r\n",
    );
}

#[test]
fn maps_flatten_in_resp2() {
    let hello = Reply::Map(vec![
        (Reply::bulk("server"), Reply::bulk("raft-kv")),
        (Reply::bulk("proto"), Reply::Integer(3)),
        (Reply::bulk("modules"), Reply::array(vec![])),
    ]);
    both(
        hello,
        b"*6\r\n$6\r\nserver\r\n$7\r\nraft-kv\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n",
        b"%3\r\n$6\r\nserver\r\n$7\r\nraft-kv\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n",
    );
    both(Reply::Map(vec![]), b"*0\r\n", b"%0\r\n");
}

#[test]
fn doubles() {
    both(Reply::Double(1.5), b"$3\r\n1.5\r\n", b",1.5\r\n");
    both(Reply::Double(3.0), b"$3\r\n3.0\r\n", b",3.0\r\n");
    both(Reply::Double(-0.25), b"$5\r\n-0.25\r\n", b",-0.25\r\n");
    both(Reply::Double(1e300), b"$5\r\n1e300\r\n", b",1e300\r\n");
    both(Reply::Double(f64::INFINITY), b"$3\r\ninf\r\n", b",inf\r\n");
    both(
        Reply::Double(f64::NEG_INFINITY),
        b"$4\r\n-inf\r\n",
        b",-inf\r\n",
    );
    both(Reply::Double(f64::NAN), b"$3\r\nnan\r\n", b",nan\r\n");
}

#[test]
fn booleans() {
    both(Reply::Boolean(true), b":1\r\n", b"#t\r\n");
    both(Reply::Boolean(false), b":0\r\n", b"#f\r\n");
}

#[test]
fn verbatim_strings() {
    both(
        Reply::Verbatim(VerbatimFormat::Text, Bytes::from_static(b"# Server\r\n")),
        b"$10\r\n# Server\r\n\r\n",
        b"=14\r\ntxt:# Server\r\n\r\n",
    );
    both(
        Reply::Verbatim(VerbatimFormat::Markdown, Bytes::new()),
        b"$0\r\n\r\n",
        b"=4\r\nmkd:\r\n",
    );
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    let mut reply = Reply::Integer(1);
    for _ in 0..100_000 {
        reply = Reply::array(vec![reply]);
    }
    let mut out = BytesMut::new();
    encode(&reply, Protocol::Resp3, &mut out);
    assert_eq!(out.len(), 100_000 * 4 + 4);
    // Dropping a deep reply recurses; unwind it by hand so the test's own drop is shallow.
    while let Reply::Array(Some(mut items)) = reply {
        reply = items.pop().unwrap_or(Reply::Null);
    }
}

#[test]
fn protocol_versions() {
    assert_eq!(Protocol::default(), Protocol::Resp2);
    assert_eq!(Protocol::from_version(2), Some(Protocol::Resp2));
    assert_eq!(Protocol::from_version(3), Some(Protocol::Resp3));
    assert_eq!(Protocol::from_version(1), None);
    assert_eq!(Protocol::Resp3.version(), 3);
}
