//! The history of a run: every operation a client attempted, with when it was called, when it
//! returned (or that it never did), and what it returned.
//!
//! Times are nanoseconds since the start of the run, on the harness's monotonic clock. A history
//! is saved as text, one operation a line, so that a failing run's history can be checked again
//! (`raft-chaos --check FILE`) and kept as a test input:
//!
//! ```text
//! # client key call_ns return_ns|- kind value|- outcome
//! 3 k7 120000 450000 W 3.17 ok
//! 4 k7 130000 460000 R - val:3.17
//! 5 k7 140000 - W 5.2 unknown
//! 6 k7 150000 470000 R - nil
//! ```

use std::fmt::Write as _;

/// What an operation does to its key's register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `GET key`.
    Read,
    /// `SET key value` (values are unique in a run).
    Write(String),
}

/// What came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A read's value (`None`: the key was absent).
    Read(Option<String>),
    /// A write was acknowledged (`+OK`).
    Written,
    /// The operation certainly did not take effect (a read that failed, or a write refused
    /// before it reached the log); the text says why.
    Failed(String),
    /// Nobody knows whether it took effect: a timeout, a broken connection, or a reply that says
    /// it may or may not have been applied. The text says why.
    Unknown(String),
}

/// One operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// Which client issued it (clients issue one operation at a time).
    pub client: u32,
    /// The key.
    pub key: String,
    /// Read or write.
    pub kind: Kind,
    /// When the request was sent (ns since the start of the run).
    pub call: u64,
    /// When the reply came (ns), or `None` if it never did.
    pub ret: Option<u64>,
    /// What came back.
    pub outcome: Outcome,
}

impl Op {
    /// Whether the outcome is unknown.
    #[must_use]
    pub fn is_unknown(&self) -> bool {
        matches!(self.outcome, Outcome::Unknown(_))
    }
}

/// Counts of a history's operations by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Reads that returned a value (or nil).
    pub reads_ok: u64,
    /// Writes acknowledged.
    pub writes_ok: u64,
    /// Operations that certainly did not take effect.
    pub failed: u64,
    /// Operations whose outcome is unknown.
    pub unknown: u64,
}

impl Counts {
    /// All operations.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.reads_ok + self.writes_ok + self.failed + self.unknown
    }

    /// Adds another run's counts.
    pub fn add(&mut self, o: &Counts) {
        self.reads_ok += o.reads_ok;
        self.writes_ok += o.writes_ok;
        self.failed += o.failed;
        self.unknown += o.unknown;
    }
}

/// Counts `ops` by outcome.
#[must_use]
pub fn counts(ops: &[Op]) -> Counts {
    let mut c = Counts::default();
    for op in ops {
        match op.outcome {
            Outcome::Read(_) => c.reads_ok += 1,
            Outcome::Written => c.writes_ok += 1,
            Outcome::Failed(_) => c.failed += 1,
            Outcome::Unknown(_) => c.unknown += 1,
        }
    }
    c
}

fn token(s: &str) -> String {
    // Values and keys are generated without whitespace; keep the format line-based regardless.
    s.replace(char::is_whitespace, "_")
}

/// Renders a history in the text format above.
#[must_use]
pub fn to_text(ops: &[Op]) -> String {
    let mut out = String::from("# client key call_ns return_ns|- kind value|- outcome\n");
    for op in ops {
        let ret = op.ret.map_or("-".to_owned(), |r| r.to_string());
        let (kind, value) = match &op.kind {
            Kind::Read => ("R", "-".to_owned()),
            Kind::Write(v) => ("W", token(v)),
        };
        let outcome = match &op.outcome {
            Outcome::Read(None) => "nil".to_owned(),
            Outcome::Read(Some(v)) => format!("val:{}", token(v)),
            Outcome::Written => "ok".to_owned(),
            Outcome::Failed(why) => format!("fail:{}", token(why)),
            Outcome::Unknown(why) => format!("unknown:{}", token(why)),
        };
        let _ = writeln!(
            out,
            "{} {} {} {ret} {kind} {value} {outcome}",
            op.client,
            token(&op.key),
            op.call
        );
    }
    out
}

/// Parses a history written by [`to_text`] (blank lines and `#` comments are skipped).
pub fn from_text(text: &str) -> Result<Vec<Op>, String> {
    let mut ops = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |what: &str| format!("line {}: {what}: {line}", n + 1);
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != 7 {
            return Err(bad("expected 7 fields"));
        }
        let num = |s: &str, what: &str| s.parse::<u64>().map_err(|_| bad(what));
        let client = u32::try_from(num(f[0], "bad client")?).map_err(|_| bad("bad client"))?;
        let call = num(f[2], "bad call time")?;
        let ret = if f[3] == "-" {
            None
        } else {
            Some(num(f[3], "bad return time")?)
        };
        let kind = match (f[4], f[5]) {
            ("R", _) => Kind::Read,
            ("W", v) => Kind::Write(v.to_owned()),
            _ => return Err(bad("kind must be R or W")),
        };
        let (tag, rest) = f[6].split_once(':').unwrap_or((f[6], ""));
        let outcome = match tag {
            "nil" => Outcome::Read(None),
            "val" => Outcome::Read(Some(rest.to_owned())),
            "ok" => Outcome::Written,
            "fail" => Outcome::Failed(rest.to_owned()),
            "unknown" => Outcome::Unknown(rest.to_owned()),
            _ => return Err(bad("unknown outcome")),
        };
        ops.push(Op {
            client,
            key: f[1].to_owned(),
            kind,
            call,
            ret,
            outcome,
        });
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips() {
        let ops = vec![
            Op {
                client: 3,
                key: "k7".into(),
                kind: Kind::Write("3.17".into()),
                call: 1,
                ret: Some(5),
                outcome: Outcome::Written,
            },
            Op {
                client: 4,
                key: "k7".into(),
                kind: Kind::Read,
                call: 2,
                ret: Some(6),
                outcome: Outcome::Read(Some("3.17".into())),
            },
            Op {
                client: 5,
                key: "k7".into(),
                kind: Kind::Write("5.2".into()),
                call: 3,
                ret: None,
                outcome: Outcome::Unknown("timed_out".into()),
            },
            Op {
                client: 6,
                key: "k1".into(),
                kind: Kind::Read,
                call: 4,
                ret: Some(9),
                outcome: Outcome::Read(None),
            },
            Op {
                client: 6,
                key: "k1".into(),
                kind: Kind::Read,
                call: 10,
                ret: Some(11),
                outcome: Outcome::Failed("CLUSTERDOWN".into()),
            },
        ];
        assert_eq!(from_text(&to_text(&ops)).unwrap(), ops);
        assert!(from_text("1 k 2 3 X - ok").is_err());
        let c = counts(&ops);
        assert_eq!((c.reads_ok, c.writes_ok, c.failed, c.unknown), (2, 1, 1, 1));
    }
}
