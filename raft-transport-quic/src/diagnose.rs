//! Turning QUIC and TLS failures into log lines an operator can act on.

use quinn::ConnectionError;

use crate::wire::{PROTOCOL_V1, code};

/// A QUIC transport error code in the TLS alert range (RFC 9001 §4.8).
const CRYPTO_ERROR_BASE: u64 = 0x100;

/// Describes a connection failure, with a hint when it is a TLS alert or one of our codes.
pub(crate) fn explain(err: &ConnectionError) -> String {
    match err {
        ConnectionError::TransportError(e) => {
            format!("{e}{}", alert_hint(u64::from(e.code)))
        }
        ConnectionError::ConnectionClosed(c) => {
            format!("{c}{}", alert_hint(u64::from(c.error_code)))
        }
        ConnectionError::ApplicationClosed(a) => {
            let reason = String::from_utf8_lossy(&a.reason);
            format!(
                "closed by peer: {} (code {:#x}{}{})",
                code::describe(a.error_code.into_inner()),
                a.error_code.into_inner(),
                if reason.is_empty() { "" } else { ": " },
                reason
            )
        }
        ConnectionError::TimedOut => "timed out (no answer from the peer)".to_owned(),
        ConnectionError::Reset => "reset by peer (it restarted)".to_owned(),
        other => other.to_string(),
    }
}

/// A hint for TLS alerts that mean a configuration problem.
fn alert_hint(code: u64) -> String {
    if !(CRYPTO_ERROR_BASE..CRYPTO_ERROR_BASE + 0x100).contains(&code) {
        return String::new();
    }
    match code - CRYPTO_ERROR_BASE {
        120 => format!(
            " — incompatible protocol version: no common ALPN protocol (this node speaks \
             {PROTOCOL_V1}); the peer is refused"
        ),
        40 => " — TLS handshake failure (no common parameters)".to_owned(),
        42 | 43 | 44 | 45 | 46 | 48 | 49 | 116 => {
            " — certificate refused: not signed by this cluster's CA, expired, missing, or not \
             the node identity expected"
                .to_owned()
        }
        _ => String::new(),
    }
}

/// Describes an application error code received on a stream.
pub(crate) fn stream_code(code: quinn::VarInt) -> String {
    format!(
        "{} (code {:#x})",
        code::describe(code.into_inner()),
        code.into_inner()
    )
}
