//! The key and string commands.

use super::{NOT_INT, SYNTAX, arity, b, err, ok};
use crate::command::{Command, Expiry, ScanArgs, SetArgs, SetCondition};

fn set(condition: SetCondition, get: bool, expiry: Option<Expiry>) -> Command {
    Command::Set(SetArgs {
        key: b("k"),
        value: b("v"),
        condition,
        get,
        expiry,
    })
}

#[test]
fn get() {
    assert_eq!(ok("GET k"), Command::Get(b("k")));
    assert_eq!(ok("gEt k"), Command::Get(b("k")));
    assert_eq!(err("GET"), arity("get"));
    assert_eq!(err("GET a b"), arity("get"));
}

#[test]
fn set_plain_and_conditions() {
    use SetCondition::*;
    assert_eq!(ok("SET k v"), set(Always, false, None));
    assert_eq!(ok("set k v nx"), set(IfAbsent, false, None));
    assert_eq!(ok("SET k v XX"), set(IfPresent, false, None));
    assert_eq!(ok("SET k v NX NX"), set(IfAbsent, false, None));
    assert_eq!(ok("SET k v GET"), set(Always, true, None));
    assert_eq!(ok("SET k v NX GET"), set(IfAbsent, true, None));
    assert_eq!(ok("SET k v get xx"), set(IfPresent, true, None));
    assert_eq!(err("SET k v NX XX"), SYNTAX);
    assert_eq!(err("SET k v XX NX"), SYNTAX);
    assert_eq!(err("SET k v bogus"), SYNTAX);
    assert_eq!(err("SET k"), arity("set"));
    assert_eq!(err("SET"), arity("set"));
}

#[test]
fn set_expiry() {
    use SetCondition::*;
    assert_eq!(
        ok("SET k v EX 10"),
        set(Always, false, Some(Expiry::Ex(10)))
    );
    assert_eq!(
        ok("SET k v px 1500"),
        set(Always, false, Some(Expiry::Px(1500)))
    );
    assert_eq!(
        ok("SET k v EXAT 1700000000"),
        set(Always, false, Some(Expiry::ExAt(1_700_000_000)))
    );
    assert_eq!(
        ok("SET k v PXAT 1700000000000"),
        set(Always, false, Some(Expiry::PxAt(1_700_000_000_000)))
    );
    assert_eq!(
        ok("SET k v KEEPTTL"),
        set(Always, false, Some(Expiry::KeepTtl))
    );
    assert_eq!(
        ok("SET k v KEEPTTL keepttl"),
        set(Always, false, Some(Expiry::KeepTtl))
    );
    assert_eq!(
        ok("SET k v NX EX 5 GET"),
        set(IfAbsent, true, Some(Expiry::Ex(5)))
    );
    // The same option twice: the last wins.
    assert_eq!(
        ok("SET k v EX 5 EX 6"),
        set(Always, false, Some(Expiry::Ex(6)))
    );
    assert_eq!(
        ok(&format!("SET k v EX {}", i64::MAX / 1000)),
        set(Always, false, Some(Expiry::Ex(i64::MAX / 1000)))
    );
    assert_eq!(
        ok(&format!("SET k v PX {}", i64::MAX)),
        set(Always, false, Some(Expiry::Px(i64::MAX)))
    );
    // Conflicting or incomplete options.
    for line in [
        "SET k v EX 5 PX 5",
        "SET k v PX 5 EX 5",
        "SET k v EX 5 KEEPTTL",
        "SET k v KEEPTTL EX 5",
        "SET k v EXAT 5 PXAT 5",
        "SET k v EX",
        "SET k v NX PX",
        "SET k v EX 5 PX",
    ] {
        assert_eq!(err(line), SYNTAX, "{line}");
    }
    // The value is checked after the options: a syntax error wins.
    assert_eq!(err("SET k v EX abc NX XX"), SYNTAX);
    assert_eq!(err("SET k v EX abc"), NOT_INT);
    assert_eq!(err("SET k v EX 1.5"), NOT_INT);
    assert_eq!(err("SET k v EX NX"), NOT_INT);
    for line in [
        "SET k v EX 0",
        "SET k v PX -1",
        "SET k v EXAT 0",
        "SET k v PXAT -5",
    ] {
        assert_eq!(
            err(line),
            "ERR invalid expire time in 'set' command",
            "{line}"
        );
    }
    assert_eq!(
        err(&format!("SET k v EX {}", i64::MAX / 1000 + 1)),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(
        err(&format!("SET k v EXAT {}", i64::MAX)),
        "ERR invalid expire time in 'set' command"
    );
}

#[test]
fn getset_append_strlen() {
    assert_eq!(
        ok("GETSET k v"),
        Command::GetSet {
            key: b("k"),
            value: b("v")
        }
    );
    assert_eq!(err("GETSET k"), arity("getset"));
    assert_eq!(err("GETSET k v w"), arity("getset"));
    assert_eq!(
        ok("APPEND k v"),
        Command::Append {
            key: b("k"),
            value: b("v")
        }
    );
    assert_eq!(err("APPEND k"), arity("append"));
    assert_eq!(ok("STRLEN k"), Command::Strlen(b("k")));
    assert_eq!(err("STRLEN"), arity("strlen"));
    assert_eq!(err("STRLEN a b"), arity("strlen"));
}

#[test]
fn del_exists_mget() {
    assert_eq!(ok("DEL a"), Command::Del(vec![b("a")]));
    assert_eq!(ok("DEL a b a"), Command::Del(vec![b("a"), b("b"), b("a")]));
    assert_eq!(err("DEL"), arity("del"));
    assert_eq!(ok("EXISTS a b"), Command::Exists(vec![b("a"), b("b")]));
    assert_eq!(err("EXISTS"), arity("exists"));
    assert_eq!(ok("MGET a b"), Command::MGet(vec![b("a"), b("b")]));
    assert_eq!(err("MGET"), arity("mget"));
}

#[test]
fn mset() {
    assert_eq!(ok("MSET a 1"), Command::MSet(vec![(b("a"), b("1"))]));
    assert_eq!(
        ok("MSET a 1 b 2"),
        Command::MSet(vec![(b("a"), b("1")), (b("b"), b("2"))])
    );
    assert_eq!(err("MSET"), arity("mset"));
    assert_eq!(err("MSET a"), arity("mset"));
    assert_eq!(err("MSET a 1 b"), arity("mset"));
}

#[test]
fn increments() {
    let incr = |by| Command::IncrBy { key: b("n"), by };
    assert_eq!(ok("INCR n"), incr(1));
    assert_eq!(ok("DECR n"), incr(-1));
    assert_eq!(ok("INCRBY n 5"), incr(5));
    assert_eq!(ok("INCRBY n -5"), incr(-5));
    assert_eq!(ok("DECRBY n 5"), incr(-5));
    assert_eq!(ok("INCRBY n -9223372036854775808"), incr(i64::MIN));
    assert_eq!(ok("DECRBY n 9223372036854775807"), incr(-i64::MAX));
    assert_eq!(
        err("DECRBY n -9223372036854775808"),
        "ERR decrement would overflow"
    );
    for line in [
        "INCRBY n x",
        "INCRBY n 1.5",
        "INCRBY n 9223372036854775808",
        "DECRBY n ''",
        "INCRBY n +1",
        "INCRBY n 01",
    ] {
        assert_eq!(err(line), NOT_INT, "{line}");
    }
    assert_eq!(err("INCR"), arity("incr"));
    assert_eq!(err("INCR n 1"), arity("incr"));
    assert_eq!(err("INCRBY n"), arity("incrby"));
    assert_eq!(err("DECR"), arity("decr"));
    assert_eq!(err("DECRBY n"), arity("decrby"));
}

#[test]
fn scan() {
    let scan = |cursor, pattern: Option<&str>, count, kind: Option<&str>| {
        Command::Scan(ScanArgs {
            cursor,
            pattern: pattern.map(b),
            count,
            kind: kind.map(b),
        })
    };
    assert_eq!(ok("SCAN 0"), scan(0, None, None, None));
    assert_eq!(
        ok("scan 17 match user:* count 100"),
        scan(17, Some("user:*"), Some(100), None)
    );
    assert_eq!(
        ok("SCAN 0 COUNT 5 MATCH a* TYPE string"),
        scan(0, Some("a*"), Some(5), Some("string"))
    );
    assert_eq!(ok("SCAN 0 COUNT 5 COUNT 6"), scan(0, None, Some(6), None));
    assert_eq!(
        ok("SCAN 18446744073709551615"),
        scan(u64::MAX, None, None, None)
    );
    assert_eq!(err("SCAN"), arity("scan"));
    for line in ["SCAN x", "SCAN -1", "SCAN 18446744073709551616", "SCAN 1.0"] {
        assert_eq!(err(line), "ERR invalid cursor", "{line}");
    }
    assert_eq!(err("SCAN 0 COUNT"), SYNTAX);
    assert_eq!(err("SCAN 0 MATCH"), SYNTAX);
    assert_eq!(err("SCAN 0 COUNT 0"), SYNTAX);
    assert_eq!(err("SCAN 0 COUNT -1"), SYNTAX);
    assert_eq!(err("SCAN 0 COUNT x"), NOT_INT);
    assert_eq!(err("SCAN 0 LIMIT 5"), SYNTAX);
}

#[test]
fn dbsize_info() {
    assert_eq!(ok("DBSIZE"), Command::DbSize);
    assert_eq!(err("DBSIZE x"), arity("dbsize"));
    assert_eq!(ok("INFO"), Command::Info(vec![]));
    assert_eq!(
        ok("INFO server raft"),
        Command::Info(vec![b("server"), b("raft")])
    );
}

#[test]
fn classification() {
    for line in [
        "SET k v",
        "GETSET k v",
        "DEL k",
        "APPEND k v",
        "INCR k",
        "DECRBY k 2",
        "MSET k v",
    ] {
        let c = ok(line);
        assert!(c.is_write() && !c.is_read(), "{line}");
        assert_eq!(c.keys(), vec![&b("k")], "{line}");
    }
    for line in ["GET k", "EXISTS k", "STRLEN k", "MGET k"] {
        let c = ok(line);
        assert!(c.is_read() && !c.is_write(), "{line}");
        assert_eq!(c.keys(), vec![&b("k")], "{line}");
    }
    for line in ["SCAN 0", "DBSIZE"] {
        let c = ok(line);
        assert!(c.is_read() && !c.is_write(), "{line}");
        assert!(c.keys().is_empty());
    }
    assert!(!ok("INFO").is_read());
    assert_eq!(ok("MSET a 1 b 2").keys(), vec![&b("a"), &b("b")]);
    assert_eq!(ok("DEL a b").keys(), vec![&b("a"), &b("b")]);
    assert_eq!(ok("INCR n").name(), "incrby");
    assert_eq!(ok("DECR n").name(), "incrby");
    assert_eq!(ok("SET k v").name(), "set");
}
