//! The clients: each issues one request at a time (`GET` or `SET` of a unique value on a small
//! key space, so that histories are contended) to a node chosen at random, over its own
//! connection, and records every attempt in its history.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::history::{Kind, Op, Outcome};
use crate::resp::{CallError, Conn, Reply};
use crate::rng::Rng;

/// What the clients do.
#[derive(Clone, Debug)]
pub struct Workload {
    /// How many keys (`k0`, `k1`, ...).
    pub keys: u64,
    /// How long a request may take before its outcome is unknown.
    pub op_timeout: Duration,
    /// The mean pause between a client's requests.
    pub think: Duration,
    /// The share of reads.
    pub read_ratio: f64,
    /// Ask for stale local reads (`RAFT.STALE on`): not linearizable, so a run with them must
    /// find violations. A control that the harness can see one.
    pub stale_reads: bool,
}

/// The name of key `i`.
#[must_use]
pub fn key(i: u64) -> String {
    format!("k{i}")
}

/// Classifies a write's error reply: CLUSTERDOWN (no leader known, nothing sent) and BUSY (the
/// leader refused to queue it) mean it was not applied; anything else (TRYAGAIN: may or may not
/// have been applied; errors not known to be safe) leaves it unknown.
#[must_use]
pub fn write_error(e: &str) -> Outcome {
    if e.starts_with("CLUSTERDOWN") || e.starts_with("BUSY") {
        Outcome::Failed(e.to_owned())
    } else {
        Outcome::Unknown(e.to_owned())
    }
}

fn outcome(kind: &Kind, reply: Result<Reply, CallError>) -> Outcome {
    match (kind, reply) {
        (_, Err(e)) => Outcome::Unknown(e.to_string()),
        (Kind::Read, Ok(Reply::Bulk(v))) => {
            Outcome::Read(v.map(|b| String::from_utf8_lossy(&b).into_owned()))
        }
        (Kind::Read, Ok(Reply::Error(e))) => Outcome::Failed(e),
        (Kind::Read, Ok(other)) => Outcome::Failed(format!("unexpected reply {other:?}")),
        (Kind::Write(_), Ok(Reply::Simple(s))) if s == "OK" => Outcome::Written,
        (Kind::Write(_), Ok(Reply::Error(e))) => write_error(&e),
        (Kind::Write(_), Ok(other)) => Outcome::Unknown(format!("unexpected reply {other:?}")),
    }
}

fn pick_target(rng: &mut Rng, targets: &RwLock<Vec<SocketAddr>>) -> Option<SocketAddr> {
    let t = targets.read().ok()?;
    rng.pick(&t).copied()
}

/// Connects to a node (and switches the connection to stale reads if asked).
async fn connect(addr: SocketAddr, stale: bool, limit: Duration) -> Result<Conn, CallError> {
    let mut c = Conn::connect(addr, Duration::from_secs(1)).await?;
    if stale {
        match c.call(&["RAFT.STALE", "on"], limit).await? {
            Reply::Simple(s) if s == "OK" => {}
            other => {
                return Err(CallError::Io(std::io::Error::other(format!(
                    "RAFT.STALE on: {other:?}"
                ))));
            }
        }
    }
    Ok(c)
}

/// Runs client `id` until `stop`; returns its history (times relative to `epoch`).
pub async fn client(
    id: u32,
    mut rng: Rng,
    w: Workload,
    targets: Arc<RwLock<Vec<SocketAddr>>>,
    epoch: Instant,
    stop: Arc<AtomicBool>,
) -> Vec<Op> {
    let ns = |t: Instant| t.duration_since(epoch).as_nanos() as u64;
    let mut ops = Vec::new();
    let mut conn: Option<Conn> = None;
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let think_ms = w.think.as_millis() as u64;
        if think_ms > 0 {
            tokio::time::sleep(Duration::from_millis(rng.range(0, 2 * think_ms))).await;
        }
        if conn.is_none() {
            let Some(addr) = pick_target(&mut rng, &targets) else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            match connect(addr, w.stale_reads, w.op_timeout).await {
                Ok(c) => conn = Some(c),
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let k = key(rng.below(w.keys));
        seq += 1;
        let kind = if rng.chance(w.read_ratio) {
            Kind::Read
        } else {
            Kind::Write(format!("{id}.{seq}"))
        };
        let call = Instant::now();
        let reply = match &kind {
            Kind::Read => c.call(&["GET", &k], w.op_timeout).await,
            Kind::Write(v) => c.call(&["SET", &k, v], w.op_timeout).await,
        };
        let ret = Instant::now();
        let broken = reply.is_err();
        let refused = matches!(reply, Ok(Reply::Error(_)));
        let outcome = outcome(&kind, reply);
        ops.push(Op {
            client: id,
            key: k,
            kind,
            call: ns(call),
            ret: (!broken).then(|| ns(ret)),
            outcome,
        });
        // A broken connection may still deliver a late reply: never reuse it. After a refusal,
        // back off and maybe try another node; now and then move anyway to spread the load.
        if broken || (refused && rng.chance(0.5)) || rng.chance(0.01) {
            conn = None;
        }
        if refused {
            tokio::time::sleep(Duration::from_millis(rng.range(20, 100))).await;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_classified() {
        let w = Kind::Write("1.1".into());
        let ok = outcome(&w, Ok(Reply::Simple("OK".into())));
        assert_eq!(ok, Outcome::Written);
        let e = |s: &str| outcome(&w, Ok(Reply::Error(s.into())));
        assert!(matches!(
            e("TRYAGAIN leadership changed"),
            Outcome::Unknown(_)
        ));
        assert!(matches!(e("CLUSTERDOWN no leader"), Outcome::Failed(_)));
        assert!(matches!(e("ERR storage: x"), Outcome::Unknown(_)));
        assert!(matches!(
            outcome(&w, Err(CallError::Timeout)),
            Outcome::Unknown(_)
        ));
        let r = outcome(&Kind::Read, Ok(Reply::Bulk(None)));
        assert_eq!(r, Outcome::Read(None));
        let r = outcome(&Kind::Read, Ok(Reply::Error("CLUSTERDOWN".into())));
        assert!(matches!(r, Outcome::Failed(_)));
    }
}
