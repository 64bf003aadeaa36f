//! A replicated key-value server on Raft, speaking the Redis protocol.

pub mod adapters;
pub mod certs;
pub mod client;
pub mod command;
pub mod config;
pub mod forward;
pub mod node;
pub mod resp;
pub mod run;
pub mod server;
pub mod sm;
