//! Tests of the RESP decoder, inline splitting and encoder.

mod decoder;
mod encode;
mod inline;
mod props;

use bytes::{Bytes, BytesMut};

use super::{Decoder, Limits, ProtocolError};

/// Decodes every request in `input` fed whole; then what the decoder said last (`Ok(None)` or
/// the error).
fn decode_all(
    limits: Limits,
    input: &[u8],
) -> (Vec<Vec<Bytes>>, Result<(), ProtocolError>, BytesMut) {
    let mut decoder = Decoder::new(limits);
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    loop {
        match decoder.decode(&mut buf) {
            Ok(Some(req)) => out.push(req),
            Ok(None) => return (out, Ok(()), buf),
            Err(e) => return (out, Err(e), buf),
        }
    }
}

/// Decodes `input` fed in the chunks `cuts` makes (cut positions, ascending), draining after
/// each chunk; stops at the first error.
fn decode_chunked(
    limits: Limits,
    input: &[u8],
    cuts: &[usize],
) -> (Vec<Vec<Bytes>>, Result<(), ProtocolError>) {
    let mut decoder = Decoder::new(limits);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&input.len())) {
        let end = end.clamp(start, input.len());
        buf.extend_from_slice(&input[start..end]);
        start = end;
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(req)) => out.push(req),
                Ok(None) => break,
                Err(e) => return (out, Err(e)),
            }
        }
    }
    (out, Ok(()))
}

/// `args` as a request.
fn req(args: &[&str]) -> Vec<Bytes> {
    args.iter()
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect()
}
