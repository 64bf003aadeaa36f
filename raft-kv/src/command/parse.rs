//! From a request's arguments to a [`Command`]: finds the command by name.

use bytes::Bytes;

use super::args::text;
use super::{Command, CommandError, connection, raft, strings};

/// The longest command name; longer names are unknown without looking.
const MAX_NAME_LEN: usize = 16;

impl Command {
    /// Parses a request (`args[0]` is the command name, in any case) into a command,
    /// validating its arguments as Redis does.
    ///
    /// Never panics. `RAFT.REQ` nests at most once, so parsing never recurses deeper.
    pub fn parse(args: &[Bytes]) -> Result<Command, CommandError> {
        let Some(name) = args.first() else {
            return Err(unknown(args));
        };
        let mut lower = [0u8; MAX_NAME_LEN];
        let Some(lower) = lower.get_mut(..name.len()) else {
            return Err(unknown(args));
        };
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        match &*lower {
            b"ping" => connection::ping(args),
            b"echo" => connection::echo(args),
            b"hello" => connection::hello(args),
            b"auth" => connection::auth(args),
            b"select" => connection::select(args),
            b"client" => connection::client(args),
            b"command" => connection::command(args),
            b"quit" => Ok(Command::Quit),
            b"get" => strings::get(args),
            b"set" => strings::set(args),
            b"getset" => strings::getset(args),
            b"del" => strings::del(args),
            b"exists" => strings::exists(args),
            b"append" => strings::append(args),
            b"strlen" => strings::strlen(args),
            b"incr" => strings::incr(args),
            b"incrby" => strings::incrby(args),
            b"decr" => strings::decr(args),
            b"decrby" => strings::decrby(args),
            b"mget" => strings::mget(args),
            b"mset" => strings::mset(args),
            b"scan" => strings::scan(args),
            b"dbsize" => strings::dbsize(args),
            b"info" => strings::info(args),
            b"raft.addlearner" => raft::add_learner(args),
            b"raft.promote" => raft::promote(args),
            b"raft.remove" => raft::remove(args),
            b"raft.transfer" => raft::transfer(args),
            b"raft.status" => raft::status(args),
            b"raft.stale" => raft::stale(args),
            b"raft.req" => raft::tagged(args),
            _ => Err(unknown(args)),
        }
    }
}

/// Redis's "unknown command" error: the name, then each argument quoted and followed by a
/// space, while the list is under 128 bytes (the last one cut to fit).
fn unknown(args: &[Bytes]) -> CommandError {
    const MAX: usize = 128;
    let name = args.first().map(|n| text(n, MAX)).unwrap_or_default();
    let mut shown = Vec::new();
    for arg in args.iter().skip(1) {
        if shown.len() >= MAX {
            break;
        }
        let room = MAX - shown.len();
        shown.push(b'\'');
        shown.extend_from_slice(&arg[..arg.len().min(room)]);
        shown.extend_from_slice(b"' ");
    }
    CommandError::UnknownCommand {
        name,
        args: String::from_utf8_lossy(&shown).into_owned(),
    }
}
