//! A healthy 3-node cluster: every node takes writes and serves linearizable reads of what any
//! node acknowledged; the string commands behave as Redis's do through the leader and through
//! followers (which forward writes); stale local reads converge; every node reports the same
//! membership and leader.

use std::collections::BTreeSet;
use std::time::Duration;

use redis::cmd;

use crate::cluster::{Cluster, fast_raft, serial, wait_until};
use crate::kv::{Conn, Tagged};

const T: Duration = Duration::from_secs(15);

/// A read or a write that may be repeated, retried on transient errors.
fn q<V: redis::FromRedisValue>(conn: &mut Conn, c: &redis::Cmd) -> V {
    conn.query_retrying(c, T).unwrap_or_else(|e| {
        panic!(
            "{:?}: {e}",
            String::from_utf8_lossy(&c.get_packed_command())
        )
    })
}

#[test]
fn every_node_takes_writes_and_serves_linearizable_reads() {
    let _serial = serial();
    let cluster = Cluster::start(3, fast_raft());
    let ids = cluster.ids();
    let mut conns: Vec<Conn> = ids.iter().map(|&id| cluster.conn(id)).collect();

    for round in 0..3 {
        for w in 0..ids.len() {
            let (key, value) = (
                format!("k{}", ids[w]),
                format!("round {round} via node {}", ids[w]),
            );
            let ok: String = q(&mut conns[w], cmd("SET").arg(&key).arg(&value));
            assert_eq!(ok, "OK");
            // Acknowledged by one node: every node's next (linearizable) read sees it.
            for (r, conn) in conns.iter_mut().enumerate() {
                let got: Option<String> = q(conn, cmd("GET").arg(&key));
                assert_eq!(
                    got.as_deref(),
                    Some(value.as_str()),
                    "GET {key} through node {} after SET through node {}",
                    ids[r],
                    ids[w]
                );
            }
        }
    }

    // Stale local reads on every node converge to the same values.
    for &id in &ids {
        let mut stale = cluster.stale_conn(id);
        wait_until(&format!("node {id}'s local data"), T, || {
            let got: Vec<Option<String>> =
                stale.query(cmd("MGET").arg(&["k1", "k2", "k3"])).ok()?;
            let want: Vec<Option<String>> = ids
                .iter()
                .map(|i| Some(format!("round 2 via node {i}")))
                .collect();
            (got == want).then_some(())
        });
    }

    // Everyone agrees on the leader (wait_for_leader checks) and reports the same members; the
    // leader reports each follower's progress, up to its commit index once they have it all.
    cluster.wait_for_leader(&ids, T);
    for &id in &ids {
        let info = cluster.info(id).expect("INFO raft");
        assert_eq!(info.voters(), ids, "node {id}'s voters");
        assert!(info.learners().is_empty(), "node {id}'s learners");
    }
    wait_until("the leader to report every follower up to date", T, || {
        let leader = cluster.agreed_leader(&ids)?;
        let info = cluster.info(leader)?;
        let commit = info.opt("raft_commit_index")?;
        let mut followers = ids.iter().filter(|&&id| id != leader);
        followers
            .all(|&f| info.peer_match(f) == Some(commit))
            .then_some(())
    });
    // The writes taken by followers were forwarded: with one leader throughout, 2 of the 3
    // writes of each round; at least 3 whatever the elections.
    let forwarded: u64 = ids
        .iter()
        .map(|&id| {
            let text: String = q(&mut cluster.conn(id), cmd("INFO").arg("stats"));
            crate::kv::Info::parse(&text).num("forwarded_writes")
        })
        .sum();
    assert!(forwarded >= 3, "the nodes forwarded {forwarded} writes");
}

#[test]
fn string_commands_through_the_leader_and_a_follower() {
    let _serial = serial();
    let cluster = Cluster::start(3, fast_raft());
    let ids = cluster.ids();
    let leader = cluster.wait_for_leader(&ids, T);
    let follower = *ids.iter().find(|&&id| id != leader).expect("a follower");

    for (via, other) in [(leader, follower), (follower, leader)] {
        let mut c = cluster.conn(via);
        let mut o = cluster.conn(other);
        let mut w = Tagged::new();
        let p = |k: &str| format!("{via}:{k}");
        let (s, n, l, m1, m2) = (p("s"), p("n"), p("l"), p("m1"), p("m2"));
        let ctx = format!("through node {via}");

        // SET and its conditions, GETSET.
        let ok: String = q(&mut c, cmd("SET").arg(&s).arg("a"));
        assert_eq!(ok, "OK", "{ctx}");
        let nx: Option<String> = w.write(&mut c, &["SET", &s, "b", "NX"]).expect("SET NX");
        assert_eq!(nx, None, "SET NX of an existing key, {ctx}");
        let xx: Option<String> = w
            .write(&mut c, &["SET", &p("absent"), "b", "XX"])
            .expect("SET XX");
        assert_eq!(xx, None, "SET XX of a missing key, {ctx}");
        let old: Option<String> = w.write(&mut c, &["SET", &s, "c", "GET"]).expect("SET GET");
        assert_eq!(old.as_deref(), Some("a"), "SET GET, {ctx}");
        let old: Option<String> = w.write(&mut c, &["GETSET", &s, "d"]).expect("GETSET");
        assert_eq!(old.as_deref(), Some("c"), "GETSET, {ctx}");
        let got: Option<String> = q(&mut o, cmd("GET").arg(&s));
        assert_eq!(got.as_deref(), Some("d"), "GET on node {other}, {ctx}");

        // Counters.
        let v: i64 = w.write(&mut c, &["INCR", &n]).expect("INCR");
        assert_eq!(v, 1, "{ctx}");
        let v: i64 = w.write(&mut c, &["INCRBY", &n, "41"]).expect("INCRBY");
        assert_eq!(v, 42, "{ctx}");
        let v: i64 = w.write(&mut c, &["DECR", &n]).expect("DECR");
        assert_eq!(v, 41, "{ctx}");
        let v: i64 = w.write(&mut c, &["DECRBY", &n, "50"]).expect("DECRBY");
        assert_eq!(v, -9, "{ctx}");
        let err = w
            .write::<i64>(&mut c, &["INCR", &s])
            .expect_err("INCR of a non-integer");
        assert!(
            err.to_string().contains("not an integer"),
            "INCR of a non-integer, {ctx}: {err}"
        );

        // APPEND and STRLEN.
        let len: i64 = w.write(&mut c, &["APPEND", &l, "hello"]).expect("APPEND");
        assert_eq!(len, 5, "{ctx}");
        let len: i64 = w.write(&mut c, &["APPEND", &l, " world"]).expect("APPEND");
        assert_eq!(len, 11, "{ctx}");
        let len: i64 = q(&mut o, cmd("STRLEN").arg(&l));
        assert_eq!(len, 11, "STRLEN on node {other}, {ctx}");

        // MSET, MGET, EXISTS, DEL.
        let ok: String = q(&mut c, cmd("MSET").arg(&m1).arg("x").arg(&m2).arg("y"));
        assert_eq!(ok, "OK", "{ctx}");
        let got: Vec<Option<String>> = q(&mut o, cmd("MGET").arg(&m1).arg(p("absent")).arg(&m2));
        assert_eq!(got, [Some("x".into()), None, Some("y".into())], "{ctx}");
        let n_exist: i64 = q(&mut o, cmd("EXISTS").arg(&m1).arg(&m2).arg(p("absent")));
        assert_eq!(n_exist, 2, "{ctx}");
        let deleted: i64 = w.write(&mut c, &["DEL", &m1, &p("absent")]).expect("DEL");
        assert_eq!(deleted, 1, "{ctx}");
        let got: Option<String> = q(&mut o, cmd("GET").arg(&m1));
        assert_eq!(got, None, "GET of a deleted key on node {other}, {ctx}");
    }

    // Both passes left the same 4 keys each (s, n, l, m2): DBSIZE and SCAN agree on every node.
    let want: BTreeSet<String> = [leader, follower]
        .iter()
        .flat_map(|via| ["s", "n", "l", "m2"].map(|k| format!("{via}:{k}")))
        .collect();
    for &id in &ids {
        let mut c = cluster.conn(id);
        let size: usize = q(&mut c, &cmd("DBSIZE"));
        assert_eq!(size, want.len(), "DBSIZE on node {id}");
        let mut seen = BTreeSet::new();
        let mut cursor = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) =
                q(&mut c, cmd("SCAN").arg(cursor).arg("COUNT").arg(3));
            seen.extend(keys);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        assert_eq!(seen, want, "SCAN on node {id}");
        // SCAN with MATCH: the keys of one pass, a few at a time.
        let mut matched = BTreeSet::new();
        let mut cursor = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = q(
                &mut c,
                cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(format!("{leader}:*"))
                    .arg("COUNT")
                    .arg(2),
            );
            matched.extend(keys);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        let want_matched: BTreeSet<String> = want
            .iter()
            .filter(|k| k.starts_with(&format!("{leader}:")))
            .cloned()
            .collect();
        assert_eq!(matched, want_matched, "SCAN MATCH {leader}:* on node {id}");
        let echo: String = q(&mut c, cmd("ECHO").arg("hi"));
        assert_eq!(echo, "hi");
    }
}

/// Sends a pipeline of `APPEND key "<i>,"` for `i` in `0..n` through `via`, then (in the same
/// pipeline if `read_in_pipeline`) `GET key`. Returns the APPEND replies, the GET's reply and
/// what both should be.
fn pipelined_appends(
    cluster: &Cluster,
    via: u64,
    n: usize,
    read_in_pipeline: bool,
) -> (Vec<i64>, Option<String>, Vec<i64>, String) {
    let key = format!("journal-{via}-{read_in_pipeline}");
    let mut pipe = redis::pipe();
    let (mut want, mut want_lengths) = (String::new(), Vec::new());
    for i in 0..n {
        let piece = format!("{i},");
        want += &piece;
        want_lengths.push(i64::try_from(want.len()).expect("small"));
        pipe.cmd("APPEND").arg(&key).arg(piece);
    }
    let mut c = cluster.conn(via);
    let (lengths, got) = if read_in_pipeline {
        pipe.cmd("GET").arg(&key);
        let mut replies: Vec<redis::Value> = c.pipeline(&pipe).expect("the pipeline");
        let got = replies.pop().expect("the GET's reply");
        let lengths = replies
            .iter()
            .map(|v| redis::from_redis_value_ref(v).expect("APPEND's length"))
            .collect();
        (lengths, redis::from_redis_value(got).expect("GET's reply"))
    } else {
        let lengths: Vec<i64> = c.pipeline(&pipe).expect("the pipeline");
        (lengths, q(&mut c, cmd("GET").arg(&key)))
    };
    (lengths, got, want_lengths, want)
}

/// Redis runs a connection's commands in order, pipelined or not: a pipeline of appends to one
/// key builds the string in order, through the leader and through a follower.
#[test]
fn pipelined_writes_apply_in_order() {
    let _serial = serial();
    let cluster = Cluster::start(3, fast_raft());
    let ids = cluster.ids();
    let leader = cluster.wait_for_leader(&ids, T);
    let follower = *ids.iter().find(|&&id| id != leader).expect("a follower");
    for via in [leader, follower] {
        let (lengths, got, want_lengths, want) = pipelined_appends(&cluster, via, 200, false);
        assert_eq!(
            got.as_deref(),
            Some(want.as_str()),
            "the string built through node {via}"
        );
        assert_eq!(lengths, want_lengths, "APPEND replies through node {via}");
    }
}

/// A read pipelined after writes on the same connection sees them (Redis's order).
#[test]
fn a_pipelined_read_sees_the_writes_before_it() {
    let _serial = serial();
    let cluster = Cluster::start(3, fast_raft());
    let ids = cluster.ids();
    let leader = cluster.wait_for_leader(&ids, T);
    let follower = *ids.iter().find(|&&id| id != leader).expect("a follower");
    for via in [leader, follower] {
        let (_, got, _, want) = pipelined_appends(&cluster, via, 20, true);
        assert_eq!(
            got.as_deref(),
            Some(want.as_str()),
            "GET after pipelined APPENDs through node {via}"
        );
    }
}
