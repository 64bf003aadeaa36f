//! A replicated key-value server on Raft, speaking the Redis protocol.

pub mod adapters;
pub mod command;
pub mod config;
pub mod node;
pub mod resp;
pub mod sm;
