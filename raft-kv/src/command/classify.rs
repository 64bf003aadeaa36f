//! What a command is: its name, whether it reads or writes the keyspace, the keys it touches.

use bytes::Bytes;

use super::Command;

impl Command {
    /// The command's name in lower case, subcommands as `client|setname` (as Redis names them
    /// in errors). `INCR`, `DECR` and `DECRBY` are all `incrby`.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Ping(_) => "ping",
            Command::Echo(_) => "echo",
            Command::Hello(_) => "hello",
            Command::Auth(_) => "auth",
            Command::Select => "select",
            Command::ClientSetName(_) => "client|setname",
            Command::ClientGetName => "client|getname",
            Command::ClientId => "client|id",
            Command::ClientInfo => "client|info",
            Command::CommandList => "command",
            Command::CommandCount => "command|count",
            Command::CommandDocs(_) => "command|docs",
            Command::CommandInfo(_) => "command|info",
            Command::Quit => "quit",
            Command::Get(_) => "get",
            Command::Set(_) => "set",
            Command::GetSet { .. } => "getset",
            Command::Del(_) => "del",
            Command::Exists(_) => "exists",
            Command::Append { .. } => "append",
            Command::Strlen(_) => "strlen",
            Command::IncrBy { .. } => "incrby",
            Command::MGet(_) => "mget",
            Command::MSet(_) => "mset",
            Command::Scan(_) => "scan",
            Command::DbSize => "dbsize",
            Command::Info(_) => "info",
            Command::RaftAddLearner { .. } => "raft.addlearner",
            Command::RaftPromote(_) => "raft.promote",
            Command::RaftRemove(_) => "raft.remove",
            Command::RaftTransfer(_) => "raft.transfer",
            Command::RaftStatus => "raft.status",
            Command::RaftStale(_) => "raft.stale",
            Command::Tagged { .. } => "raft.req",
        }
    }

    /// Whether the command changes the keyspace, and so goes through the Raft log: `SET`,
    /// `GETSET`, `DEL`, `APPEND`, the increments, `MSET`, and any `RAFT.REQ`.
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Command::Set(_)
                | Command::GetSet { .. }
                | Command::Del(_)
                | Command::Append { .. }
                | Command::IncrBy { .. }
                | Command::MSet(_)
                | Command::Tagged { .. }
        )
    }

    /// Whether the command reads the keyspace without changing it, and so needs a linearizable
    /// (or, after `RAFT.STALE on`, a local) read: `GET`, `EXISTS`, `STRLEN`, `MGET`, `SCAN`,
    /// `DBSIZE`.
    pub fn is_read(&self) -> bool {
        matches!(
            self,
            Command::Get(_)
                | Command::Exists(_)
                | Command::Strlen(_)
                | Command::MGet(_)
                | Command::Scan(_)
                | Command::DbSize
        )
    }

    /// The keys the command names, in order (with repeats); empty for commands without keys
    /// (including `SCAN` and `DBSIZE`, which touch the whole keyspace).
    pub fn keys(&self) -> Vec<&Bytes> {
        match self {
            Command::Get(key)
            | Command::Strlen(key)
            | Command::GetSet { key, .. }
            | Command::Append { key, .. }
            | Command::IncrBy { key, .. } => vec![key],
            Command::Set(set) => vec![&set.key],
            Command::Del(keys) | Command::Exists(keys) | Command::MGet(keys) => {
                keys.iter().collect()
            }
            Command::MSet(pairs) => pairs.iter().map(|(k, _)| k).collect(),
            Command::Tagged { inner, .. } => inner.keys(),
            _ => Vec::new(),
        }
    }
}
