//! RESP: the Redis serialization protocol.
