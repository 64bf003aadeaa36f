//! Unknown commands, empty requests, odd bytes, and the reply an error becomes.

use bytes::Bytes;

use super::{b, err};
use crate::command::{Command, CommandError};
use crate::resp::Reply;

#[test]
fn unknown_commands_show_their_first_arguments() {
    assert_eq!(
        err("FOO"),
        "ERR unknown command 'FOO', with args beginning with: "
    );
    assert_eq!(
        err("foo bar baz"),
        "ERR unknown command 'foo', with args beginning with: 'bar' 'baz' "
    );
    // A name longer than any command.
    assert_eq!(
        err("AVERYLONGCOMMANDNAMEINDEED x"),
        "ERR unknown command 'AVERYLONGCOMMANDNAMEINDEED', with args beginning with: 'x' "
    );
}

#[test]
fn unknown_command_arguments_are_cut_near_128_bytes() {
    let long = "x".repeat(200);
    let e = err(&format!("FOO {long} more"));
    assert_eq!(
        e,
        format!(
            "ERR unknown command 'FOO', with args beginning with: '{}' ",
            "x".repeat(128)
        )
    );
    let e = err(&format!("FOO {} b c", "y".repeat(120)));
    // 'y..y' (122) + space = 123 bytes; 'b' + space = 127; then 'c' fits in what is left.
    assert!(e.ends_with("' 'b' 'c' "), "{e}");
}

#[test]
fn empty_and_odd_requests_do_not_panic() {
    assert_eq!(
        Command::parse(&[]).unwrap_err().to_string(),
        "ERR unknown command '', with args beginning with: "
    );
    let odd = [
        Bytes::from_static(b"\xff\xfe"),
        Bytes::from_static(b"a\r\nb"),
        Bytes::new(),
    ];
    assert!(Command::parse(&odd).is_err());
    assert!(Command::parse(&[Bytes::new()]).is_err());
    assert!(Command::parse(&[b("GET"), Bytes::from_static(b"\0\xff")]).is_ok());
}

#[test]
fn names_are_case_insensitive() {
    for name in ["get", "GET", "Get", "gEt"] {
        assert_eq!(Command::parse(&[b(name), b("k")]), Ok(Command::Get(b("k"))));
    }
    // Non-ASCII bytes are not folded.
    assert!(Command::parse(&[Bytes::from_static(b"G\xc3\x89T"), b("k")]).is_err());
}

#[test]
fn errors_become_error_replies() {
    assert_eq!(
        Reply::from(CommandError::Syntax),
        Reply::error("ERR syntax error")
    );
    assert_eq!(
        Reply::from(CommandError::UnsupportedProtocol),
        Reply::error("NOPROTO unsupported protocol version")
    );
}
