//! The end of a run: undo every fault, bring every member back, and wait until the cluster takes
//! a write and every member has applied the same log; then read every key on every member
//! (local reads) and compare.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::checker::describe;
use crate::cluster::Cluster;
use crate::history::{Kind, Op, Outcome};
use crate::nemesis::Timeline;
use crate::resp::{Conn, Reply, call_once};
use crate::workload::key;

/// How long the cluster took to recover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// From the heal until a write succeeded.
    pub first_write: Duration,
    /// From the heal until every member had applied the same, fully committed log.
    pub converged: Duration,
    /// The members then.
    pub members: Vec<u64>,
    /// Their applied index then.
    pub applied: u64,
}

/// Each member's value of every key.
pub type Data = BTreeMap<u64, Vec<Option<String>>>;

/// The key the harness writes to probe the cluster (not one the clients use).
pub const PROBE_KEY: &str = "chaos-probe";

/// Writes the probe key through every live node at once, again and again, until one write
/// succeeds or `deadline`. (At once, so that a node slow to answer does not hide that another
/// one already takes writes.)
pub async fn probe_write(cluster: &Cluster, deadline: Instant) -> bool {
    const ATTEMPT: Duration = Duration::from_secs(2);
    let mut n = 0u64;
    while Instant::now() < deadline {
        let mut attempts = tokio::task::JoinSet::new();
        for id in cluster.live() {
            n += 1;
            let addr = cluster.addrs[&id].client;
            let value = format!("probe-{n}");
            attempts.spawn(async move {
                let r = call_once(addr, &["SET", PROBE_KEY, &value], ATTEMPT).await;
                matches!(r, Ok(Reply::Simple(ref s)) if s == "OK")
            });
        }
        while let Some(r) = attempts.join_next().await {
            if matches!(r, Ok(true)) {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// The index every member has applied, if they have all applied everything the leader has in
/// its log, all of it committed.
pub async fn converged(cluster: &Cluster, members: &[u64]) -> Option<u64> {
    let (l, leader) = cluster.leader().await?;
    if !members.contains(&l) || leader.last != leader.commit {
        return None;
    }
    for &m in members {
        let i = cluster.info(m).await?;
        if i.applied != leader.commit {
            return None;
        }
    }
    Some(leader.commit)
}

/// Heals every link, resumes paused nodes, starts every node that should run, then waits (up
/// to `limit`) for a write to succeed and for every member to converge. Nodes that are no longer
/// members are stopped.
pub async fn heal_and_converge(
    cluster: &mut Cluster,
    limit: Duration,
    timeline: &mut Timeline,
) -> Result<Recovery, String> {
    let t0 = Instant::now();
    let deadline = t0 + limit;
    cluster.mesh.links.heal_all();
    cluster.resume_all();
    cluster.check_crashes();
    let wanted: Vec<u64> = cluster.wanted.iter().copied().collect();
    for id in wanted {
        cluster.start(id)?;
    }
    timeline.note("recovery: links healed, nodes resumed and started");
    if !probe_write(cluster, deadline).await {
        return Err(format!(
            "no write succeeded within {limit:?} of healing (live nodes {:?})",
            cluster.live()
        ));
    }
    let first_write = t0.elapsed();
    timeline.note(format!("recovery: first write after {first_write:?}"));
    let mut members = Vec::new();
    let mut last = None;
    while Instant::now() < deadline {
        if let Some((_, info)) = cluster.leader().await {
            members = info.members();
            // Bring back members the harness had not started (a learner added by a request
            // that timed out), stop nodes that are no longer members.
            for &m in &members {
                cluster.start(m)?;
            }
            let extra: Vec<u64> = cluster
                .live()
                .into_iter()
                .filter(|id| !members.contains(id))
                .collect();
            for id in extra {
                timeline.note(format!("recovery: stopping node {id}, not a member"));
                cluster.terminate(id).await;
            }
            cluster.wanted = members.iter().copied().collect();
            if let Some(applied) = converged(cluster, &members).await {
                // Twice in a row with nothing new: the log is quiet.
                if last == Some(applied) {
                    let converged = t0.elapsed();
                    timeline.note(format!(
                        "recovery: members {members:?} converged at index {applied} after {converged:?}"
                    ));
                    return Ok(Recovery {
                        first_write,
                        converged,
                        members,
                        applied,
                    });
                }
                last = Some(applied);
            } else {
                last = None;
            }
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let infos = cluster.infos().await;
    Err(format!(
        "members {members:?} did not converge within {limit:?} of healing; INFO: {infos:?}"
    ))
}

/// Reads every key on every member with local (stale) reads.
pub async fn read_all(cluster: &Cluster, members: &[u64], keys: u64) -> Result<Data, String> {
    let limit = Duration::from_secs(5);
    let mut data = Data::new();
    for &m in members {
        let err = |e: crate::resp::CallError| format!("reading node {m}: {e}");
        let mut conn = Conn::connect(cluster.addrs[&m].client, limit)
            .await
            .map_err(err)?;
        conn.call(&["RAFT.STALE", "on"], limit).await.map_err(err)?;
        let mut values = Vec::new();
        for k in 0..keys {
            match conn.call(&["GET", &key(k)], limit).await.map_err(err)? {
                Reply::Bulk(v) => values.push(v.map(|b| String::from_utf8_lossy(&b).into_owned())),
                other => return Err(format!("node {m}: GET {}: {other:?}", key(k))),
            }
        }
        data.insert(m, values);
    }
    Ok(data)
}

/// The members' common data, or where they differ.
pub fn agree(data: &Data) -> Result<Vec<Option<String>>, String> {
    let mut iter = data.iter();
    let Some((&first, reference)) = iter.next() else {
        return Err("no member to read".into());
    };
    let mut diffs = Vec::new();
    for (&m, values) in iter {
        for (k, (a, b)) in reference.iter().zip(values).enumerate() {
            if a != b {
                diffs.push(format!(
                    "{}: node {first} has {a:?}, node {m} has {b:?}",
                    key(k as u64)
                ));
            }
        }
    }
    if diffs.is_empty() {
        Ok(reference.clone())
    } else {
        Err(format!(
            "the members' data differ after convergence: {}",
            diffs.join("; ")
        ))
    }
}

/// Acknowledged writes the final data lost: for each key, an acknowledged write called after
/// the write of the final value had returned (so it certainly came later) although the final
/// value is the older one. The linearizability check finds these too; this says it plainly.
#[must_use]
pub fn lost_writes(history: &[Op], values: &[Option<String>]) -> Vec<String> {
    let mut lost = Vec::new();
    for (k, value) in values.iter().enumerate() {
        let name = key(k as u64);
        let ops: Vec<&Op> = history.iter().filter(|o| o.key == name).collect();
        // When the write of the final value certainly returned (the initial nil: before
        // everything); unknown if it may have taken effect at any time.
        let done_at = match value {
            None => Some(0),
            Some(v) => ops
                .iter()
                .find(|o| o.kind == Kind::Write(v.clone()))
                .and_then(|o| match o.outcome {
                    Outcome::Written => o.ret,
                    _ => None,
                }),
        };
        let Some(done_at) = done_at else { continue };
        let later = ops
            .iter()
            .filter(|o| o.outcome == Outcome::Written && o.call > done_at)
            .filter(|o| {
                value
                    .as_ref()
                    .is_none_or(|v| o.kind != Kind::Write(v.clone()))
            })
            .max_by_key(|o| o.call);
        if let Some(w) = later {
            lost.push(format!(
                "key {name}: acknowledged write lost: {}, yet the final value is {value:?}, \
                 written before that write was called",
                describe(w)
            ));
        }
    }
    lost
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(v: &str, call: u64, ret: Option<u64>) -> Op {
        Op {
            client: 1,
            key: key(0),
            kind: Kind::Write(v.into()),
            call,
            ret,
            outcome: match ret {
                Some(_) => Outcome::Written,
                None => Outcome::Unknown("timed out".into()),
            },
        }
    }

    #[test]
    fn lost_acknowledged_writes_are_named() {
        let h = [
            write("a", 0, Some(5)),
            write("b", 10, Some(15)),
            write("c", 3, None),
        ];
        // The last acknowledged value, or one written concurrently, or an unknown write's.
        assert!(lost_writes(&h, &[Some("b".into())]).is_empty());
        assert!(lost_writes(&h, &[Some("c".into())]).is_empty());
        // a was acknowledged before b was called: keeping a loses b.
        let lost = lost_writes(&h, &[Some("a".into())]);
        assert_eq!(lost.len(), 1);
        assert!(lost[0].contains("write \"b\" ok"), "{lost:?}");
        // Nothing at all loses both; the later one is named.
        assert!(lost_writes(&h, &[None])[0].contains("\"b\""));
        assert!(lost_writes(&[], &[None]).is_empty());
    }

    #[test]
    fn agreement_reports_differences() {
        let mut d = Data::new();
        d.insert(1, vec![Some("a".into()), None]);
        d.insert(2, vec![Some("a".into()), None]);
        assert_eq!(agree(&d).unwrap(), vec![Some("a".into()), None]);
        d.insert(3, vec![Some("a".into()), Some("b".into())]);
        let e = agree(&d).unwrap_err();
        assert!(
            e.contains("k1: node 1 has None, node 3 has Some(\"b\")"),
            "{e}"
        );
        assert!(agree(&Data::new()).is_err());
    }
}
