//! PING, ECHO, HELLO, AUTH, SELECT, CLIENT, COMMAND, QUIT.

use super::{NOT_INT, SYNTAX, arity, b, err, ok};
use crate::command::{Command, Credentials, HelloArgs};
use crate::resp::Protocol;

#[test]
fn ping() {
    assert_eq!(ok("PING"), Command::Ping(None));
    assert_eq!(ok("ping hi"), Command::Ping(Some(b("hi"))));
    assert_eq!(err("PING a b"), arity("ping"));
}

#[test]
fn echo() {
    assert_eq!(ok("ECHO hi"), Command::Echo(b("hi")));
    assert_eq!(err("ECHO"), arity("echo"));
    assert_eq!(err("ECHO a b"), arity("echo"));
}

#[test]
fn hello() {
    assert_eq!(ok("HELLO"), Command::Hello(HelloArgs::default()));
    assert_eq!(
        ok("HELLO 3"),
        Command::Hello(HelloArgs {
            protocol: Some(Protocol::Resp3),
            ..HelloArgs::default()
        })
    );
    assert_eq!(
        ok("hello 2 setname app auth alice secret"),
        Command::Hello(HelloArgs {
            protocol: Some(Protocol::Resp2),
            auth: Some(Credentials {
                username: b("alice"),
                password: b("secret"),
            }),
            setname: Some(b("app")),
        })
    );
    assert_eq!(
        err("HELLO three"),
        "ERR Protocol version is not an integer or out of range"
    );
    assert_eq!(
        err("HELLO AUTH a b"),
        "ERR Protocol version is not an integer or out of range"
    );
    assert_eq!(err("HELLO 4"), "NOPROTO unsupported protocol version");
    assert_eq!(err("HELLO 1"), "NOPROTO unsupported protocol version");
    assert_eq!(
        err("HELLO 3 AUTH alice"),
        "ERR Syntax error in HELLO option 'AUTH'"
    );
    assert_eq!(
        err("HELLO 3 SetName"),
        "ERR Syntax error in HELLO option 'SetName'"
    );
    assert_eq!(
        err("HELLO 3 bogus"),
        "ERR Syntax error in HELLO option 'bogus'"
    );
    assert_eq!(
        err("HELLO 3 SETNAME a\tb"),
        "ERR Client names cannot contain spaces, newlines or special characters."
    );
}

#[test]
fn auth() {
    assert_eq!(
        ok("AUTH secret"),
        Command::Auth(Credentials {
            username: b("default"),
            password: b("secret"),
        })
    );
    assert_eq!(
        ok("auth alice secret"),
        Command::Auth(Credentials {
            username: b("alice"),
            password: b("secret"),
        })
    );
    assert_eq!(err("AUTH"), arity("auth"));
    assert_eq!(err("AUTH a b c"), SYNTAX);
}

#[test]
fn credentials_hide_the_password() {
    let debug = format!("{:?}", ok("AUTH alice hunter2"));
    assert!(debug.contains("alice"), "{debug}");
    assert!(!debug.contains("hunter2"), "{debug}");
}

#[test]
fn select() {
    assert_eq!(ok("SELECT 0"), Command::Select);
    assert_eq!(err("SELECT 1"), "ERR DB index is out of range");
    assert_eq!(err("SELECT -1"), "ERR DB index is out of range");
    assert_eq!(err("SELECT zero"), NOT_INT);
    assert_eq!(err("SELECT"), arity("select"));
    assert_eq!(err("SELECT 0 1"), arity("select"));
}

#[test]
fn client() {
    assert_eq!(
        ok("CLIENT SETNAME app-1"),
        Command::ClientSetName(b("app-1"))
    );
    assert_eq!(ok("client setname "), Command::ClientSetName(b("")));
    assert_eq!(ok("CLIENT GetName"), Command::ClientGetName);
    assert_eq!(ok("CLIENT ID"), Command::ClientId);
    assert_eq!(ok("CLIENT INFO"), Command::ClientInfo);
    assert_eq!(err("CLIENT"), arity("client"));
    assert_eq!(err("CLIENT SETNAME"), arity("client|setname"));
    assert_eq!(err("CLIENT SETNAME a b"), arity("client|setname"));
    assert_eq!(err("CLIENT ID 1"), arity("client|id"));
    assert_eq!(err("CLIENT GETNAME x"), arity("client|getname"));
    assert_eq!(err("CLIENT INFO x"), arity("client|info"));
    assert_eq!(
        err("CLIENT SETNAME a\u{7f}"),
        "ERR Client names cannot contain spaces, newlines or special characters."
    );
    assert_eq!(
        err("CLIENT KILL x"),
        "ERR unknown subcommand 'KILL'. Try CLIENT HELP."
    );
}

#[test]
fn command() {
    assert_eq!(ok("COMMAND"), Command::CommandList);
    assert_eq!(ok("command count"), Command::CommandCount);
    assert_eq!(ok("COMMAND DOCS"), Command::CommandDocs(vec![]));
    assert_eq!(
        ok("COMMAND DOCS get set"),
        Command::CommandDocs(vec![b("get"), b("set")])
    );
    assert_eq!(ok("COMMAND INFO get"), Command::CommandInfo(vec![b("get")]));
    assert_eq!(err("COMMAND COUNT x"), arity("command|count"));
    assert_eq!(
        err("COMMAND getkeys x"),
        "ERR unknown subcommand 'getkeys'. Try COMMAND HELP."
    );
}

#[test]
fn quit() {
    assert_eq!(ok("QUIT"), Command::Quit);
    assert_eq!(ok("quit now"), Command::Quit);
}

#[test]
fn connection_commands_neither_read_nor_write() {
    for line in [
        "PING",
        "ECHO x",
        "HELLO 3",
        "AUTH p",
        "SELECT 0",
        "CLIENT ID",
        "COMMAND",
        "QUIT",
    ] {
        let c = ok(line);
        assert!(!c.is_read() && !c.is_write(), "{line}");
        assert!(c.keys().is_empty(), "{line}");
    }
}
