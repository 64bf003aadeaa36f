//! Key and string commands: GET, SET, GETSET, DEL, EXISTS, APPEND, STRLEN, INCR and friends,
//! MGET, MSET, SCAN, DBSIZE, INFO.

use bytes::Bytes;

use super::args::{arity, int, is};
use super::{Command, CommandError, Expiry, ScanArgs, SetArgs, SetCondition};
use crate::resp::int::parse_u64;

/// `GET key`.
pub(super) fn get(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "get", 2)?;
    Ok(Command::Get(args[1].clone()))
}

/// Which expiry option `SET` was given, before its value is checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]`.
///
/// As in Redis: options in any order and case; `NX` with `XX`, or two different expiry options,
/// is a syntax error (the same one twice is not: the last wins); an expiry option missing its
/// value is a syntax error; the value is checked only once every option parsed.
pub(super) fn set(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "set", -3)?;
    let mut condition = SetCondition::Always;
    let mut get = false;
    let mut keep_ttl = false;
    let mut timed: Option<(Unit, &Bytes)> = None;
    let mut j = 3;
    while let Some(opt) = args.get(j) {
        let next = args.get(j + 1);
        let unit = if is(opt, "ex") {
            Some(Unit::Ex)
        } else if is(opt, "px") {
            Some(Unit::Px)
        } else if is(opt, "exat") {
            Some(Unit::ExAt)
        } else if is(opt, "pxat") {
            Some(Unit::PxAt)
        } else {
            None
        };
        if is(opt, "nx") && condition != SetCondition::IfPresent {
            condition = SetCondition::IfAbsent;
        } else if is(opt, "xx") && condition != SetCondition::IfAbsent {
            condition = SetCondition::IfPresent;
        } else if is(opt, "get") {
            get = true;
        } else if is(opt, "keepttl") && timed.is_none() {
            keep_ttl = true;
        } else if let (Some(unit), Some(value)) = (unit, next)
            && !keep_ttl
            && timed.is_none_or(|(u, _)| u == unit)
        {
            timed = Some((unit, value));
            j += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    let expiry = match timed {
        Some((unit, value)) => Some(expiry(unit, value)?),
        None if keep_ttl => Some(Expiry::KeepTtl),
        None => None,
    };
    Ok(Command::Set(SetArgs {
        key: args[1].clone(),
        value: args[2].clone(),
        condition,
        get,
        expiry,
    }))
}

/// Checks an expiry value: an integer, positive, and for seconds small enough to be counted in
/// milliseconds.
fn expiry(unit: Unit, value: &[u8]) -> Result<Expiry, CommandError> {
    let n = int(value)?;
    let seconds = matches!(unit, Unit::Ex | Unit::ExAt);
    if n <= 0 || (seconds && n > i64::MAX / 1000) {
        return Err(CommandError::InvalidExpireTime("set"));
    }
    Ok(match unit {
        Unit::Ex => Expiry::Ex(n),
        Unit::Px => Expiry::Px(n),
        Unit::ExAt => Expiry::ExAt(n),
        Unit::PxAt => Expiry::PxAt(n),
    })
}

/// `GETSET key value`.
pub(super) fn getset(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "getset", 3)?;
    Ok(Command::GetSet {
        key: args[1].clone(),
        value: args[2].clone(),
    })
}

/// `DEL key [key ...]`.
pub(super) fn del(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "del", -2)?;
    Ok(Command::Del(args[1..].to_vec()))
}

/// `EXISTS key [key ...]`.
pub(super) fn exists(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "exists", -2)?;
    Ok(Command::Exists(args[1..].to_vec()))
}

/// `APPEND key value`.
pub(super) fn append(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "append", 3)?;
    Ok(Command::Append {
        key: args[1].clone(),
        value: args[2].clone(),
    })
}

/// `STRLEN key`.
pub(super) fn strlen(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "strlen", 2)?;
    Ok(Command::Strlen(args[1].clone()))
}

/// `INCR key`.
pub(super) fn incr(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "incr", 2)?;
    Ok(incr_by(&args[1], 1))
}

/// `INCRBY key increment`.
pub(super) fn incrby(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "incrby", 3)?;
    Ok(incr_by(&args[1], int(&args[2])?))
}

/// `DECR key`.
pub(super) fn decr(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "decr", 2)?;
    Ok(incr_by(&args[1], -1))
}

/// `DECRBY key decrement`.
pub(super) fn decrby(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "decrby", 3)?;
    let by = int(&args[2])?
        .checked_neg()
        .ok_or(CommandError::DecrementOverflow)?;
    Ok(incr_by(&args[1], by))
}

fn incr_by(key: &Bytes, by: i64) -> Command {
    Command::IncrBy {
        key: key.clone(),
        by,
    }
}

/// `MGET key [key ...]`.
pub(super) fn mget(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "mget", -2)?;
    Ok(Command::MGet(args[1..].to_vec()))
}

/// `MSET key value [key value ...]`.
pub(super) fn mset(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "mset", -3)?;
    if args.len().is_multiple_of(2) {
        return Err(CommandError::WrongArity("mset"));
    }
    let pairs = args[1..]
        .chunks_exact(2)
        .map(|kv| (kv[0].clone(), kv[1].clone()))
        .collect();
    Ok(Command::MSet(pairs))
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`: the cursor first, then options in
/// any order (the last of each wins); `COUNT` must be at least 1.
pub(super) fn scan(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "scan", -2)?;
    let cursor = parse_u64(&args[1]).ok_or(CommandError::InvalidCursor)?;
    let mut scan = ScanArgs {
        cursor,
        pattern: None,
        count: None,
        kind: None,
    };
    let mut i = 2;
    while let Some(opt) = args.get(i) {
        let Some(value) = args.get(i + 1) else {
            return Err(CommandError::Syntax);
        };
        if is(opt, "count") {
            let count = int(value)?;
            if count < 1 {
                return Err(CommandError::Syntax);
            }
            scan.count = Some(count.unsigned_abs());
        } else if is(opt, "match") {
            scan.pattern = Some(value.clone());
        } else if is(opt, "type") {
            scan.kind = Some(value.clone());
        } else {
            return Err(CommandError::Syntax);
        }
        i += 2;
    }
    Ok(Command::Scan(scan))
}

/// `DBSIZE`.
pub(super) fn dbsize(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "dbsize", 1)?;
    Ok(Command::DbSize)
}

/// `INFO [section ...]`.
pub(super) fn info(args: &[Bytes]) -> Result<Command, CommandError> {
    Ok(Command::Info(args[1..].to_vec()))
}
