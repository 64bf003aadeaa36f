//! Helpers for reading a request's arguments.

use std::net::SocketAddr;

use bytes::Bytes;

use super::CommandError;
use crate::resp::int::{parse_i64, parse_u64};

/// Checks the argument count (name included) as Redis's command table does: `arity >= 0` means
/// exactly that many, `arity < 0` at least `-arity`.
pub(super) fn arity(args: &[Bytes], name: &'static str, arity: isize) -> Result<(), CommandError> {
    let n = args.len();
    let ok = if arity >= 0 {
        n == arity.unsigned_abs()
    } else {
        n >= arity.unsigned_abs()
    };
    if ok {
        Ok(())
    } else {
        Err(CommandError::WrongArity(name))
    }
}

/// Whether `arg` is `word`, ignoring ASCII case (`word` is lower case).
pub(super) fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// A signed integer, as Redis reads one (`string2ll`).
pub(super) fn int(arg: &[u8]) -> Result<i64, CommandError> {
    parse_i64(arg).ok_or(CommandError::NotAnInteger)
}

/// An unsigned 64-bit integer: digits only.
pub(super) fn uint(arg: &[u8]) -> Result<u64, CommandError> {
    parse_u64(arg).ok_or(CommandError::NotAnInteger)
}

/// An `ip:port` address (`127.0.0.1:7000`, `[::1]:7000`).
pub(super) fn addr(arg: &[u8]) -> Result<SocketAddr, CommandError> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| CommandError::InvalidAddress(text(arg, 128)))
}

/// The first `max` bytes of `arg` as text, for an error message.
pub(super) fn text(arg: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&arg[..arg.len().min(max)]).into_owned()
}
