//! Tests of command parsing, error texts, classification and the glob matcher.

mod connection;
mod errors;
mod glob;
mod raft;
mod strings;

use bytes::Bytes;

use super::{Command, CommandError};

/// Splits `line` on spaces into arguments.
fn args(line: &str) -> Vec<Bytes> {
    line.split(' ')
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect()
}

/// Parses `line` (split on spaces).
fn parse(line: &str) -> Result<Command, CommandError> {
    Command::parse(&args(line))
}

/// Parses `line`, which must be valid.
fn ok(line: &str) -> Command {
    match parse(line) {
        Ok(c) => c,
        Err(e) => panic!("{line:?}: {e}"),
    }
}

/// The error text of parsing `line`, which must be invalid.
fn err(line: &str) -> String {
    match parse(line) {
        Ok(c) => panic!("{line:?} parsed as {c:?}"),
        Err(e) => e.to_string(),
    }
}

/// `s` as `Bytes`.
fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// The wrong-arity error for `name`.
fn arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";
