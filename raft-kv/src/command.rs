//! Client commands, parsed and validated.
//!
//! [`Command::parse`] turns a request's arguments (as the [`resp`](crate::resp) decoder yields
//! them) into a [`Command`] with typed arguments, or a [`CommandError`] whose text is the error
//! Redis sends for the same mistake. Names are case-insensitive.
//!
//! ```
//! use bytes::Bytes;
//! use raft_kv::command::{Command, CommandError, SetCondition};
//!
//! let args = |s: &str| s.split(' ').map(|a| Bytes::copy_from_slice(a.as_bytes())).collect::<Vec<_>>();
//! match Command::parse(&args("set k v NX")).unwrap() {
//!     Command::Set(set) => assert_eq!(set.condition, SetCondition::IfAbsent),
//!     other => panic!("{other:?}"),
//! }
//! let tagged = Command::parse(&args("RAFT.REQ 7 1 incr counter")).unwrap();
//! assert!(tagged.is_write());
//! assert_eq!(
//!     Command::parse(&args("get")).unwrap_err().to_string(),
//!     "ERR wrong number of arguments for 'get' command",
//! );
//! ```

mod args;
mod classify;
mod connection;
mod error;
mod glob;
mod model;
mod parse;
mod raft;
mod strings;

pub use error::CommandError;
pub use glob::glob_match;
pub use model::{Command, Credentials, Expiry, HelloArgs, ScanArgs, SetArgs, SetCondition};

#[cfg(test)]
mod tests;
