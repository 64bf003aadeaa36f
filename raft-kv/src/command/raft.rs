//! Raft administration (`RAFT.ADDLEARNER`, `RAFT.PROMOTE`, `RAFT.REMOVE`, `RAFT.TRANSFER`,
//! `RAFT.STATUS`), the stale-read switch (`RAFT.STALE`) and exactly-once tagging (`RAFT.REQ`).

use bytes::Bytes;

use super::args::{addr, arity, is, uint};
use super::{Command, CommandError};

/// `RAFT.ADDLEARNER id peer_addr client_addr`.
pub(super) fn add_learner(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "raft.addlearner", 4)?;
    Ok(Command::RaftAddLearner {
        id: uint(&args[1])?,
        peer_addr: addr(&args[2])?,
        client_addr: addr(&args[3])?,
    })
}

/// `RAFT.PROMOTE id`.
pub(super) fn promote(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "raft.promote", 2)?;
    Ok(Command::RaftPromote(uint(&args[1])?))
}

/// `RAFT.REMOVE id`.
pub(super) fn remove(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "raft.remove", 2)?;
    Ok(Command::RaftRemove(uint(&args[1])?))
}

/// `RAFT.TRANSFER id`.
pub(super) fn transfer(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "raft.transfer", 2)?;
    Ok(Command::RaftTransfer(uint(&args[1])?))
}

/// `RAFT.STATUS`.
pub(super) fn status(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "raft.status", 1)?;
    Ok(Command::RaftStatus)
}

/// `RAFT.STALE on|off`.
pub(super) fn stale(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "raft.stale", 2)?;
    if is(&args[1], "on") {
        Ok(Command::RaftStale(true))
    } else if is(&args[1], "off") {
        Ok(Command::RaftStale(false))
    } else {
        Err(CommandError::Syntax)
    }
}

/// `RAFT.REQ client_id seq <write command...>`. Nesting is refused before the inner command is
/// parsed, so a request of many `RAFT.REQ`s cannot make parsing recurse.
pub(super) fn tagged(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "raft.req", -4)?;
    let client = uint(&args[1])?;
    let seq = uint(&args[2])?;
    if is(&args[3], "raft.req") {
        return Err(CommandError::NestedTag);
    }
    let inner = Command::parse(&args[3..])?;
    if !inner.is_write() {
        return Err(CommandError::NotAWrite(inner.name()));
    }
    Ok(Command::Tagged {
        client,
        seq,
        inner: Box::new(inner),
    })
}
