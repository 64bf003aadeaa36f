//! The RAFT.* commands and RAFT.REQ tagging.

use super::{NOT_INT, SYNTAX, arity, b, err, ok};
use crate::command::Command;

#[test]
fn add_learner() {
    assert_eq!(
        ok("RAFT.ADDLEARNER 4 10.0.0.4:7000 10.0.0.4:6379"),
        Command::RaftAddLearner {
            id: 4,
            peer_addr: "10.0.0.4:7000".parse().unwrap(),
            client_addr: "10.0.0.4:6379".parse().unwrap(),
        }
    );
    assert_eq!(
        ok("raft.addlearner 18446744073709551615 [::1]:7000 [::1]:6379"),
        Command::RaftAddLearner {
            id: u64::MAX,
            peer_addr: "[::1]:7000".parse().unwrap(),
            client_addr: "[::1]:6379".parse().unwrap(),
        }
    );
    assert_eq!(err("RAFT.ADDLEARNER 4 1.2.3.4:5"), arity("raft.addlearner"));
    assert_eq!(err("RAFT.ADDLEARNER x 1.2.3.4:5 1.2.3.4:6"), NOT_INT);
    assert_eq!(err("RAFT.ADDLEARNER -1 1.2.3.4:5 1.2.3.4:6"), NOT_INT);
    assert_eq!(
        err("RAFT.ADDLEARNER 4 localhost:7000 1.2.3.4:6"),
        "ERR invalid address 'localhost:7000'"
    );
    assert_eq!(
        err("RAFT.ADDLEARNER 4 1.2.3.4:5 1.2.3.4"),
        "ERR invalid address '1.2.3.4'"
    );
}

#[test]
fn promote_remove_transfer_status() {
    assert_eq!(ok("RAFT.PROMOTE 2"), Command::RaftPromote(2));
    assert_eq!(ok("Raft.Remove 3"), Command::RaftRemove(3));
    assert_eq!(ok("RAFT.TRANSFER 1"), Command::RaftTransfer(1));
    assert_eq!(ok("RAFT.STATUS"), Command::RaftStatus);
    assert_eq!(err("RAFT.PROMOTE"), arity("raft.promote"));
    assert_eq!(err("RAFT.REMOVE 1 2"), arity("raft.remove"));
    assert_eq!(err("RAFT.TRANSFER one"), NOT_INT);
    assert_eq!(err("RAFT.STATUS x"), arity("raft.status"));
    for line in ["RAFT.PROMOTE 2", "RAFT.STATUS", "RAFT.STALE on"] {
        let c = ok(line);
        assert!(!c.is_write() && !c.is_read(), "{line}");
    }
}

#[test]
fn stale() {
    assert_eq!(ok("RAFT.STALE on"), Command::RaftStale(true));
    assert_eq!(ok("raft.stale OFF"), Command::RaftStale(false));
    assert_eq!(err("RAFT.STALE yes"), SYNTAX);
    assert_eq!(err("RAFT.STALE"), arity("raft.stale"));
}

#[test]
fn tagged_writes() {
    let tagged = ok("RAFT.REQ 7 42 set k v nx");
    let Command::Tagged { client, seq, inner } = &tagged else {
        panic!("{tagged:?}");
    };
    assert_eq!((*client, *seq), (7, 42));
    assert_eq!(**inner, ok("SET k v NX"));
    assert!(tagged.is_write());
    assert!(!tagged.is_read());
    assert_eq!(tagged.keys(), vec![&b("k")]);
    assert_eq!(tagged.name(), "raft.req");
    for line in [
        "DEL a b",
        "INCR n",
        "DECRBY n 3",
        "MSET a 1",
        "APPEND k v",
        "GETSET k v",
    ] {
        let t = ok(&format!("raft.req 1 1 {line}"));
        assert!(
            matches!(&t, Command::Tagged { inner, .. } if **inner == ok(line)),
            "{line}"
        );
    }
}

#[test]
fn tagging_refuses_reads_nesting_and_bad_ids() {
    assert_eq!(
        err("RAFT.REQ 1 1 GET k"),
        "ERR RAFT.REQ can only wrap a write command, not 'get'"
    );
    assert_eq!(
        err("RAFT.REQ 1 1 PING"),
        "ERR RAFT.REQ can only wrap a write command, not 'ping'"
    );
    assert_eq!(
        err("RAFT.REQ 1 1 RAFT.PROMOTE 2"),
        "ERR RAFT.REQ can only wrap a write command, not 'raft.promote'"
    );
    assert_eq!(
        err("RAFT.REQ 1 1 raft.req 1 2 SET k v"),
        "ERR RAFT.REQ cannot be nested"
    );
    assert_eq!(err("RAFT.REQ 1 1"), arity("raft.req"));
    assert_eq!(err("RAFT.REQ 1 1 SET k"), arity("set"));
    assert_eq!(
        err("RAFT.REQ 1 1 FOO"),
        "ERR unknown command 'FOO', with args beginning with: "
    );
    assert_eq!(err("RAFT.REQ x 1 SET k v"), NOT_INT);
    assert_eq!(err("RAFT.REQ 1 -1 SET k v"), NOT_INT);
}

#[test]
fn deep_nesting_attempts_do_not_recurse() {
    let mut args = Vec::new();
    for _ in 0..100_000 {
        args.extend([b("RAFT.REQ"), b("1"), b("1")]);
    }
    args.extend([b("SET"), b("k"), b("v")]);
    assert_eq!(
        Command::parse(&args).unwrap_err().to_string(),
        "ERR RAFT.REQ cannot be nested"
    );
}
