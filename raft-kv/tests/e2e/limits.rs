//! What a client may not do, on a cluster with a password and small limits: every request over a
//! limit, and every malformed one, is answered with a RESP error, then the connection is closed
//! (the stream cannot be resynchronised) without the server waiting for, or buffering, what the
//! request announced; a request that is well formed but wrong gets an error and the connection
//! goes on; connections and pipelines are bounded; nothing needs a password but `AUTH` and
//! `HELLO`. Through all of it every node keeps running and serving.
//!
//! These tests speak RESP over a plain socket, byte for byte, where a client library would refuse
//! to send what is tested.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::BytesMut;
use raft_kv::client::reply::{Value, decode};
use raft_kv::config::Limits;
use raft_kv::resp::encode_request;

use crate::cluster::{Cluster, Options, fast_raft, serial, wait_until};

const PASSWORD: &str = "e2e-secret";
const T: Duration = Duration::from_secs(15);

/// Small limits, so that tests reach them with little data.
const LIMITS: Limits = Limits {
    max_clients: 16,
    max_pipeline: 4,
    max_value_bytes: 1024,
    max_request_bytes: 8192,
    max_args: 32,
};

fn start() -> Cluster {
    let options = Options {
        password: Some(PASSWORD.into()),
        limits: LIMITS,
    };
    Cluster::start_with(3, fast_raft(), options)
}

/// A connection that sends raw bytes and reads replies one at a time.
struct Raw {
    stream: TcpStream,
    buf: BytesMut,
}

impl Raw {
    /// Connects, without authenticating.
    fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect_timeout(&addr, T).expect("connecting");
        stream.set_read_timeout(Some(T)).expect("a read timeout");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        Raw {
            stream,
            buf: BytesMut::new(),
        }
    }

    /// Connects and authenticates.
    fn authed(addr: SocketAddr) -> Raw {
        let mut raw = Raw::connect(addr);
        assert_eq!(raw.call(&["AUTH", PASSWORD]), ok(), "AUTH");
        raw
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("sending");
    }

    /// Sends one request (as an array of bulk strings).
    fn send_request(&mut self, args: &[&str]) {
        let mut out = BytesMut::new();
        encode_request(args, &mut out);
        self.send(&out);
    }

    /// The next reply; panics on a timeout or if the server closes first.
    fn reply(&mut self) -> Value {
        loop {
            if let Some(v) = decode(&mut self.buf).expect("a well-formed reply") {
                return v;
            }
            let mut chunk = [0u8; 16 << 10];
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!("the server closed the connection instead of replying"),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) => panic!("waiting for a reply: {e}"),
            }
        }
    }

    fn call(&mut self, args: &[&str]) -> Value {
        self.send_request(args);
        self.reply()
    }

    /// The next reply, which must be an error; returns its text.
    fn error(&mut self) -> String {
        match self.reply() {
            Value::Error(e) => e,
            other => panic!("expected an error reply, got {other:?}"),
        }
    }

    /// Waits until the server closes the connection, checking it sends nothing more.
    fn assert_closed(&mut self, what: &str) {
        assert!(
            self.buf.is_empty(),
            "{what}: more after the error: {:?}",
            self.buf
        );
        let mut chunk = [0u8; 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => {}
            Ok(n) => panic!("{what}: more after the error: {:?}", &chunk[..n]),
            // The server closed with our bytes unread: the kernel resets the connection.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) => panic!("{what}: the connection was not closed: {e}"),
        }
    }
}

fn ok() -> Value {
    Value::Simple("OK".into())
}

fn bulk(s: &str) -> Value {
    Value::Bulk(Some(s.as_bytes().to_vec().into()))
}

/// A string of `n` bytes.
fn filler(n: usize) -> String {
    "v".repeat(n)
}

/// `(what, bytes sent, the error's text must contain)`: requests that break the protocol or a
/// limit. Those over a size limit send only the header that announces the size.
fn malformed() -> Vec<(&'static str, Vec<u8>, String)> {
    let mut over_request = BytesMut::new();
    let big = filler(1000);
    let mut args = vec!["MSET"];
    for _ in 0..10 {
        args.extend([big.as_str(), big.as_str()]);
    }
    encode_request(&args, &mut over_request);
    vec![
        (
            "a bulk length that is not a number",
            b"*1\r\n$abc\r\n".to_vec(),
            "Protocol error: invalid bulk length".into(),
        ),
        (
            "an array inside a request",
            b"*2\r\n$3\r\nGET\r\n*1\r\n".to_vec(),
            "Protocol error: expected '$'".into(),
        ),
        (
            "a negative array length",
            b"*-5\r\n".to_vec(),
            "Protocol error: invalid multibulk length".into(),
        ),
        (
            "a bulk string without its \\r\\n",
            b"*1\r\n$4\r\nPINGxx".to_vec(),
            "Protocol error: expected '\\r\\n'".into(),
        ),
        (
            "an inline request with an unbalanced quote",
            b"SET \"key value\r\n".to_vec(),
            "Protocol error: unbalanced quotes".into(),
        ),
        (
            "an inline request over 64 KiB",
            vec![b'x'; (64 << 10) + 100],
            "Protocol error: too big inline request".into(),
        ),
        (
            "a value over max_value_bytes",
            format!(
                "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n",
                LIMITS.max_value_bytes + 1
            )
            .into_bytes(),
            format!(
                "invalid bulk length: {} exceeds the limit of {}",
                LIMITS.max_value_bytes + 1,
                LIMITS.max_value_bytes
            ),
        ),
        (
            "more arguments than max_args",
            format!("*{}\r\n", LIMITS.max_args + 1).into_bytes(),
            format!(
                "invalid multibulk length: {} exceeds the limit of {}",
                LIMITS.max_args + 1,
                LIMITS.max_args
            ),
        ),
        (
            "a request over max_request_bytes",
            over_request.to_vec(),
            format!(
                "request exceeds the limit of {} bytes",
                LIMITS.max_request_bytes
            ),
        ),
    ]
}

#[test]
fn malformed_and_oversized_requests_get_an_error_then_the_connection_closes() {
    let _serial = serial();
    let mut cluster = start();
    let ids = cluster.ids();
    let leader = cluster.wait_for_leader(&ids, T);
    let follower = *ids.iter().find(|&&id| id != leader).expect("a follower");

    for via in [leader, follower] {
        let addr = cluster.addr(via);
        for (what, bytes, want) in malformed() {
            // Before AUTH as after it: the protocol comes first.
            for authed in [false, true] {
                let mut raw = if authed {
                    Raw::authed(addr)
                } else {
                    Raw::connect(addr)
                };
                raw.send(&bytes);
                let e = raw.error();
                assert!(
                    e.starts_with("ERR Protocol error") && e.contains(&want),
                    "{what}, node {via}: got {e:?}, expected it to mention {want:?}"
                );
                raw.assert_closed(what);
            }
        }

        // Well-formed but wrong requests get an error, and the connection goes on.
        let mut raw = Raw::authed(addr);
        let wrong: [(&[&str], &str); 6] = [
            (&["FLUSHALL"], "ERR unknown command 'FLUSHALL'"),
            (&["GET"], "ERR wrong number of arguments for 'get' command"),
            (&["SET", "k", "v", "NX", "XX"], "ERR syntax error"),
            (&["SET", "k", "v", "EX", "10"], "not supported"),
            (&["INCRBY", "k", "ten"], "ERR value is not an integer"),
            (&["SCAN", "12345"], "ERR invalid cursor"),
        ];
        for (args, want) in wrong {
            raw.send_request(args);
            let e = raw.error();
            assert!(e.contains(want), "{args:?} on node {via}: {e:?}");
        }
        // A value at the limit is fine, on the same connection.
        let at_limit = filler(LIMITS.max_value_bytes);
        let key = format!("at-limit-{via}");
        assert_eq!(raw.call(&["SET", &key, &at_limit]), ok());
        assert_eq!(raw.call(&["GET", &key]), bulk(&at_limit));
        let not_int = raw.call(&["INCR", &key]);
        assert!(
            matches!(&not_int, Value::Error(e) if e.contains("not an integer")),
            "INCR of a non-integer on node {via}: {not_int:?}"
        );
        assert_eq!(raw.call(&["PING"]), Value::Simple("PONG".into()));
    }

    // Every node still runs, counted the errors, and serves.
    for &id in &ids {
        assert!(cluster.is_running(id), "node {id} exited");
    }
    let mut raw = Raw::authed(cluster.addr(leader));
    let Value::Bulk(Some(stats)) = raw.call(&["INFO", "stats"]) else {
        panic!("INFO stats");
    };
    let stats = crate::kv::Info::parse(&String::from_utf8_lossy(&stats));
    let want = 2 * malformed().len() as u64;
    assert!(
        stats.num("protocol_errors") >= want,
        "node {leader} counted {} protocol errors, expected {want} at least",
        stats.num("protocol_errors")
    );
    for &id in &ids {
        let mut raw = Raw::authed(cluster.addr(id));
        let key = format!("after-{id}");
        assert_eq!(
            raw.call(&["SET", &key, "fine"]),
            ok(),
            "SET through node {id}"
        );
        for &other in &ids {
            let got = Raw::authed(cluster.addr(other)).call(&["GET", &key]);
            assert_eq!(got, bulk("fine"), "GET {key} through node {other}");
        }
    }
}

#[test]
fn clients_and_pipelines_are_bounded() {
    let _serial = serial();
    let cluster = start();
    let ids = cluster.ids();
    let leader = cluster.wait_for_leader(&ids, T);
    let follower = *ids.iter().find(|&&id| id != leader).expect("a follower");

    // A pipeline far deeper than max_pipeline is read as replies are written, and runs in
    // order: through the leader and through a follower (which forwards the writes).
    for via in [leader, follower] {
        let mut raw = Raw::authed(cluster.addr(via));
        let key = format!("pipelined-{via}");
        let n = 300;
        let mut out = BytesMut::new();
        for _ in 0..n {
            encode_request(&["INCR", &key], &mut out);
            encode_request(&["GET", &key], &mut out);
        }
        raw.send(&out);
        for i in 1..=n {
            assert_eq!(raw.reply(), Value::Int(i), "INCR #{i} through node {via}");
            assert_eq!(
                raw.reply(),
                bulk(&i.to_string()),
                "GET after INCR #{i} through node {via}"
            );
        }
    }

    // At most max_clients connections at once: the next one is told so, and closed.
    let addr = cluster.addr(follower);
    let mut open = Vec::new();
    let refused = loop {
        assert!(
            open.len() <= LIMITS.max_clients,
            "node {follower} accepted {} clients (max_clients = {})",
            open.len(),
            LIMITS.max_clients
        );
        let mut raw = Raw::connect(addr);
        raw.send(format!("AUTH {PASSWORD}\r\n").as_bytes());
        match raw.reply() {
            v if v == ok() => open.push(raw),
            Value::Error(e) => break (raw, e),
            other => panic!("AUTH: {other:?}"),
        }
    };
    let (mut raw, e) = refused;
    assert_eq!(e, "ERR max number of clients reached");
    raw.assert_closed("a client over max_clients");
    // Some slots may be taken by the harness or the other nodes: most are ours.
    assert!(
        open.len() + 3 >= LIMITS.max_clients,
        "node {follower} refused a client with only {} of ours open",
        open.len()
    );
    for raw in &mut open {
        assert_eq!(raw.call(&["PING"]), Value::Simple("PONG".into()));
    }
    drop(open);
    // Once they have gone, clients are accepted again.
    wait_until("a client accepted again", T, || {
        let mut raw = Raw::connect(addr);
        raw.send(format!("AUTH {PASSWORD}\r\n").as_bytes());
        (raw.reply() == ok()).then_some(())
    });
}

#[test]
fn without_the_password_only_auth_and_hello_are_served() {
    let _serial = serial();
    let cluster = start();
    let ids = cluster.ids();
    let leader = cluster.wait_for_leader(&ids, T);
    let follower = *ids.iter().find(|&&id| id != leader).expect("a follower");

    for via in [leader, follower] {
        let mut raw = Raw::connect(cluster.addr(via));
        for args in [
            &["GET", "k"][..],
            &["SET", "k", "v"],
            &["PING"],
            &["INFO"],
            &["RAFT.REQ", "7", "1", "INCR", "k"],
            &["RAFT.PROMOTE", "2"],
            &["HELLO", "2"],
        ] {
            let e = raw.call(args);
            assert!(
                matches!(&e, Value::Error(e) if e.starts_with("NOAUTH")),
                "{args:?} without AUTH on node {via}: {e:?}"
            );
        }
        let e = raw.call(&["AUTH", "wrong"]);
        assert!(
            matches!(&e, Value::Error(e) if e.starts_with("WRONGPASS")),
            "AUTH with a wrong password: {e:?}"
        );
        let e = raw.call(&["GET", "k"]);
        assert!(
            matches!(&e, Value::Error(e) if e.starts_with("NOAUTH")),
            "{e:?}"
        );

        // HELLO with AUTH authenticates and answers with the server's properties.
        let hello = raw.call(&["HELLO", "2", "AUTH", "default", PASSWORD]);
        let Value::Array(Some(fields)) = hello else {
            panic!("HELLO 2 AUTH: {hello:?}");
        };
        assert!(fields.contains(&bulk("raft-kv")), "HELLO: {fields:?}");

        // Authenticated, writes go through (a follower forwards them with the password) and
        // read back through every node.
        let key = format!("authed-{via}");
        assert_eq!(
            raw.call(&["SET", &key, "yes"]),
            ok(),
            "SET through node {via}"
        );
        for &other in &ids {
            let got = Raw::authed(cluster.addr(other)).call(&["GET", &key]);
            assert_eq!(got, bulk("yes"), "GET {key} through node {other}");
        }
    }

    // raft_kv::client::Client authenticates with the password it is given.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let endpoints: Vec<SocketAddr> = ids.iter().map(|&id| cluster.addr(id)).collect();
    let got = rt.block_on(async {
        let mut opts = raft_kv::client::ClientOptions::default();
        opts.password = Some(PASSWORD.into());
        opts.deadline = T;
        let mut client = raft_kv::client::Client::connect(endpoints, opts).await?;
        client.set("from-client", "hi").await?;
        client.get("from-client").await
    });
    assert_eq!(
        got.expect("the client").as_deref(),
        Some(&b"hi"[..]),
        "a client with the password"
    );
}
