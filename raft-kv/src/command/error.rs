//! Why a request is not a valid command.

use crate::resp::Reply;

/// A request that does not parse as a command. Displays as the error reply Redis sends for the
/// same mistake, error code first (`ERR syntax error`); the connection stays usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// No such command. The fields are as Redis shows them: the name as sent, then the first
    /// arguments, each quoted and followed by a space, cut after about 128 bytes.
    #[error("ERR unknown command '{name}', with args beginning with: {args}")]
    UnknownCommand {
        /// The command name, as sent.
        name: String,
        /// The first arguments, formatted.
        args: String,
    },
    /// A container command (`CLIENT`, `COMMAND`) with no such subcommand.
    #[error("ERR unknown subcommand '{subcommand}'. Try {command} HELP.")]
    UnknownSubcommand {
        /// The container command, upper case.
        command: &'static str,
        /// The subcommand, as sent.
        subcommand: String,
    },
    /// Too few or too many arguments; the command's name in lower case (`get`,
    /// `client|setname`).
    #[error("ERR wrong number of arguments for '{0}' command")]
    WrongArity(&'static str),
    /// An unknown or misplaced option.
    #[error("ERR syntax error")]
    Syntax,
    /// An argument that must be an integer is not, or is out of range.
    #[error("ERR value is not an integer or out of range")]
    NotAnInteger,
    /// An expire time that is not positive, or too large in milliseconds.
    #[error("ERR invalid expire time in '{0}' command")]
    InvalidExpireTime(&'static str),
    /// A SCAN cursor that is not an unsigned integer.
    #[error("ERR invalid cursor")]
    InvalidCursor,
    /// SELECT of a database other than 0.
    #[error("ERR DB index is out of range")]
    DbIndexOutOfRange,
    /// `DECRBY key -9223372036854775808`.
    #[error("ERR decrement would overflow")]
    DecrementOverflow,
    /// HELLO's protocol version is not an integer.
    #[error("ERR Protocol version is not an integer or out of range")]
    ProtocolVersionNotAnInteger,
    /// HELLO asked for a protocol version other than 2 or 3.
    #[error("NOPROTO unsupported protocol version")]
    UnsupportedProtocol,
    /// HELLO with an unknown option, or an option missing its arguments (as sent).
    #[error("ERR Syntax error in HELLO option '{0}'")]
    HelloOption(String),
    /// A client name with a character outside `!`..=`~`.
    #[error("ERR Client names cannot contain spaces, newlines or special characters.")]
    InvalidClientName,
    /// A node address that is not `ip:port` (as sent).
    #[error("ERR invalid address '{0}'")]
    InvalidAddress(String),
    /// `RAFT.REQ` wrapping `RAFT.REQ`.
    #[error("ERR RAFT.REQ cannot be nested")]
    NestedTag,
    /// `RAFT.REQ` wrapping a command that does not write (its name).
    #[error("ERR RAFT.REQ can only wrap a write command, not '{0}'")]
    NotAWrite(&'static str),
}

impl From<CommandError> for Reply {
    fn from(e: CommandError) -> Reply {
        Reply::Error(e.to_string().into())
    }
}
