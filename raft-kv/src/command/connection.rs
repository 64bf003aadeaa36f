//! Connection commands: PING, ECHO, HELLO, AUTH, SELECT, CLIENT, COMMAND.

use bytes::Bytes;

use super::args::{arity, int, is, text};
use super::{Command, CommandError, Credentials, HelloArgs};
use crate::resp::Protocol;
use crate::resp::int::parse_i64;

/// `PING [message]`.
pub(super) fn ping(args: &[Bytes]) -> Result<Command, CommandError> {
    if args.len() > 2 {
        return Err(CommandError::WrongArity("ping"));
    }
    Ok(Command::Ping(args.get(1).cloned()))
}

/// `ECHO message`.
pub(super) fn echo(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "echo", 2)?;
    Ok(Command::Echo(args[1].clone()))
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`, checked in Redis's order:
/// the version, then each option in turn.
pub(super) fn hello(args: &[Bytes]) -> Result<Command, CommandError> {
    let mut hello = HelloArgs::default();
    let mut j = 1;
    if let Some(version) = args.get(1) {
        let version = parse_i64(version).ok_or(CommandError::ProtocolVersionNotAnInteger)?;
        hello.protocol =
            Some(Protocol::from_version(version).ok_or(CommandError::UnsupportedProtocol)?);
        j = 2;
    }
    while let Some(opt) = args.get(j) {
        let more = args.len() - 1 - j;
        if is(opt, "auth") && more >= 2 {
            hello.auth = Some(Credentials {
                username: args[j + 1].clone(),
                password: args[j + 2].clone(),
            });
            j += 3;
        } else if is(opt, "setname") && more >= 1 {
            hello.setname = Some(client_name(&args[j + 1])?);
            j += 2;
        } else {
            return Err(CommandError::HelloOption(text(opt, 128)));
        }
    }
    Ok(Command::Hello(hello))
}

/// `AUTH [username] password`.
pub(super) fn auth(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "auth", -2)?;
    match args {
        [_, password] => Ok(Command::Auth(Credentials {
            username: Bytes::from_static(b"default"),
            password: password.clone(),
        })),
        [_, username, password] => Ok(Command::Auth(Credentials {
            username: username.clone(),
            password: password.clone(),
        })),
        _ => Err(CommandError::Syntax),
    }
}

/// `SELECT index`: only database 0 exists.
pub(super) fn select(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "select", 2)?;
    match int(&args[1])? {
        0 => Ok(Command::Select),
        _ => Err(CommandError::DbIndexOutOfRange),
    }
}

/// `CLIENT SETNAME name | GETNAME | ID | INFO`.
pub(super) fn client(args: &[Bytes]) -> Result<Command, CommandError> {
    arity(args, "client", -2)?;
    let sub = &args[1];
    if is(sub, "setname") {
        arity(args, "client|setname", 3)?;
        Ok(Command::ClientSetName(client_name(&args[2])?))
    } else if is(sub, "getname") {
        arity(args, "client|getname", 2)?;
        Ok(Command::ClientGetName)
    } else if is(sub, "id") {
        arity(args, "client|id", 2)?;
        Ok(Command::ClientId)
    } else if is(sub, "info") {
        arity(args, "client|info", 2)?;
        Ok(Command::ClientInfo)
    } else {
        Err(unknown_subcommand("CLIENT", sub))
    }
}

/// `COMMAND`, `COMMAND COUNT`, `COMMAND DOCS [name ...]`, `COMMAND INFO [name ...]`.
pub(super) fn command(args: &[Bytes]) -> Result<Command, CommandError> {
    let Some(sub) = args.get(1) else {
        return Ok(Command::CommandList);
    };
    if is(sub, "count") {
        arity(args, "command|count", 2)?;
        Ok(Command::CommandCount)
    } else if is(sub, "docs") {
        Ok(Command::CommandDocs(args[2..].to_vec()))
    } else if is(sub, "info") {
        Ok(Command::CommandInfo(args[2..].to_vec()))
    } else {
        Err(unknown_subcommand("COMMAND", sub))
    }
}

/// Checks a client name as Redis does: empty, or only characters `!` to `~`.
fn client_name(name: &Bytes) -> Result<Bytes, CommandError> {
    if name.iter().all(|b| (b'!'..=b'~').contains(b)) {
        Ok(name.clone())
    } else {
        Err(CommandError::InvalidClientName)
    }
}

/// The error for an unknown subcommand of `command`.
fn unknown_subcommand(command: &'static str, sub: &[u8]) -> CommandError {
    CommandError::UnknownSubcommand {
        command,
        subcommand: text(sub, 128),
    }
}
