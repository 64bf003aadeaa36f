//! A replicated key-value server on Raft, speaking the Redis protocol.

pub mod command;
pub mod resp;
