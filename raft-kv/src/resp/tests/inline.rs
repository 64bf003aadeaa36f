//! Inline command splitting, as Redis's `sdssplitargs`.

use bytes::Bytes;

use crate::resp::ProtocolError;
use crate::resp::inline::split_args;

fn split(line: &[u8]) -> Result<Vec<Vec<u8>>, ProtocolError> {
    split_args(&Bytes::copy_from_slice(line), usize::MAX)
        .map(|args| args.into_iter().map(|a| a.to_vec()).collect())
}

fn ok(line: &[u8], want: &[&[u8]]) {
    let want: Vec<Vec<u8>> = want.iter().map(|a| a.to_vec()).collect();
    assert_eq!(
        split(line),
        Ok(want),
        "{:?}",
        line.escape_ascii().to_string()
    );
}

#[test]
fn splits_on_spaces() {
    ok(b"", &[]);
    ok(b"   \t ", &[]);
    ok(b"PING", &[b"PING"]);
    ok(b"  set  k\tv  ", &[b"set", b"k", b"v"]);
    ok(b"a\x0bb", &[b"a\x0bb"]); // vertical tab separates only between arguments
}

#[test]
fn double_quotes_understand_escapes() {
    ok(br#"SET k "a b""#, &[b"SET", b"k", b"a b"]);
    ok(br#""""#, &[b""]);
    ok(br#""\n\r\t\b\a\\\"\q""#, &[b"\n\r\t\x08\x07\\\"q"]);
    ok(br#""\x41\x7a\xff\x4""#, &[b"Az\xffx4"]);
}

#[test]
fn single_quotes_understand_only_escaped_quotes() {
    ok(br"'a b'", &[b"a b"]);
    ok(br"'it\'s \n'", &[b"it's \\n"]);
    ok(br"''", &[b""]);
}

#[test]
fn quotes_may_start_inside_an_argument() {
    ok(br#"foo"bar baz" x"#, &[b"foobar baz", b"x"]);
    ok(br"k'v w'", &[b"kv w"]);
}

#[test]
fn unbalanced_quotes_are_errors() {
    for bad in [
        &br#"SET k "abc"#[..],
        br"SET k 'abc",
        br#""a"b"#,
        br"'a'b",
        br#"""""#,
        br#"" \"#,
    ] {
        assert_eq!(split(bad), Err(ProtocolError::UnbalancedQuotes), "{bad:?}");
    }
}

#[test]
fn a_nul_ends_the_line() {
    ok(b"GET k\0 ignored", &[b"GET", b"k"]);
}

#[test]
fn unquoted_arguments_share_the_line() {
    let line = Bytes::from_static(b"GET key");
    let args = split_args(&line, 8).unwrap();
    assert_eq!(args[1].as_ptr(), line[4..].as_ptr());
}
