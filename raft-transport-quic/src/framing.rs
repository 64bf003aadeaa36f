//! Length-prefixed frames: a big-endian `u32` length, then that many bytes.
//!
//! [`FrameDecoder`] is sans-IO: bytes go in with [`FrameDecoder::push`], whole frames come out
//! of [`FrameDecoder::decode`]. A frame's length is checked against the limit as soon as its
//! header is in, before any of its body is buffered, and the buffer only grows as data arrives:
//! what one stream can make us hold is bounded by the limit plus one read.

use bytes::{Buf, Bytes, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The size of a frame header.
pub(crate) const HEADER_LEN: usize = 4;

/// The most bytes taken from a QUIC stream in one read.
pub(crate) const READ_CHUNK: usize = 64 * 1024;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    /// The header announced a frame larger than the limit.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    Oversized {
        /// The announced length.
        len: u32,
        /// The limit.
        max: u32,
    },
    /// The stream ended inside a frame.
    #[error("stream ended inside a frame")]
    Truncated,
    /// Reading the stream failed.
    #[error("read failed: {0}")]
    Read(#[from] quinn::ReadError),
}

/// Why a value could not be encoded as a frame.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EncodeError {
    /// The encoded value is larger than the frame limit.
    #[error("encoded size {len} exceeds the frame limit of {max} bytes")]
    TooLarge {
        /// The encoded size.
        len: usize,
        /// The limit.
        max: u32,
    },
    /// postcard refused the value.
    #[error("encoding failed: {0}")]
    Postcard(#[from] postcard::Error),
}

/// Why a frame's payload could not be decoded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeError {
    /// postcard could not decode it.
    #[error("{0}")]
    Postcard(#[from] postcard::Error),
    /// The value ended before the frame did.
    #[error("{0} unexpected bytes after the value")]
    TrailingBytes(usize),
}

/// Splits a byte stream into frames.
#[derive(Debug)]
pub(crate) struct FrameDecoder {
    buf: BytesMut,
    max: u32,
}

impl FrameDecoder {
    /// A decoder that refuses frames longer than `max` bytes.
    pub(crate) fn new(max: u32) -> Self {
        Self {
            buf: BytesMut::new(),
            max,
        }
    }

    /// Changes the limit for the frames still to come.
    pub(crate) fn set_max(&mut self, max: u32) {
        self.max = max;
    }

    /// Appends bytes read from the stream.
    pub(crate) fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Whether no partial frame is buffered.
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The next whole frame, `None` when more bytes are needed, or an error for an oversized
    /// frame (the stream should then be closed: the decoder's state is unspecified).
    pub(crate) fn decode(&mut self) -> Result<Option<Bytes>, FrameError> {
        let Some(header) = self.buf.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        if len > self.max {
            return Err(FrameError::Oversized { len, max: self.max });
        }
        let len = len as usize;
        if self.buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        self.buf.advance(HEADER_LEN);
        Ok(Some(self.buf.split_to(len).freeze()))
    }
}

/// Reads the next frame from `recv`: `Ok(None)` when the stream ended cleanly between frames.
pub(crate) async fn read_frame(
    recv: &mut quinn::RecvStream,
    decoder: &mut FrameDecoder,
) -> Result<Option<Bytes>, FrameError> {
    loop {
        if let Some(frame) = decoder.decode()? {
            return Ok(Some(frame));
        }
        match recv.read_chunk(READ_CHUNK, true).await? {
            Some(chunk) => decoder.push(&chunk.bytes),
            None if decoder.is_empty() => return Ok(None),
            None => return Err(FrameError::Truncated),
        }
    }
}

/// Lets postcard append to a borrowed `Vec`.
struct Append<'a>(&'a mut Vec<u8>);

impl Extend<u8> for Append<'_> {
    fn extend<I: IntoIterator<Item = u8>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

/// Appends `value` to `buf` as one frame. On error `buf` is left as it was.
pub(crate) fn encode_frame<T: Serialize + ?Sized>(
    buf: &mut Vec<u8>,
    value: &T,
    max: u32,
) -> Result<usize, EncodeError> {
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER_LEN]);
    if let Err(e) = postcard::to_extend(value, Append(buf)) {
        buf.truncate(start);
        return Err(e.into());
    }
    let len = buf.len() - start - HEADER_LEN;
    let Some(len32) = u32::try_from(len).ok().filter(|&l| l <= max) else {
        buf.truncate(start);
        return Err(EncodeError::TooLarge { len, max });
    };
    buf[start..start + HEADER_LEN].copy_from_slice(&len32.to_be_bytes());
    Ok(len)
}

/// The header of a frame of `len` bytes.
pub(crate) fn header(len: u32) -> [u8; HEADER_LEN] {
    len.to_be_bytes()
}

/// Decodes a whole frame's payload; bytes left over are an error.
pub(crate) fn decode_value<T: DeserializeOwned>(frame: &[u8]) -> Result<T, DecodeError> {
    let (value, rest) = postcard::take_from_bytes::<T>(frame)?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes(rest.len()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft_core::{
        AppendRequest, Entry, EntryPayload, Heartbeat, Index, LogId, Message, MessageBody, NodeId,
        Term,
    };

    fn heartbeat(n: u64) -> Message {
        Message {
            from: NodeId(1),
            to: NodeId(2),
            term: Term(n),
            body: MessageBody::Heartbeat(Heartbeat {
                commit: Index(n),
                read_round: n,
            }),
        }
    }

    fn append(payload: usize) -> Message {
        Message {
            from: NodeId(1),
            to: NodeId(2),
            term: Term(3),
            body: MessageBody::Append(AppendRequest {
                prev: LogId::new(Term(3), Index(9)),
                entries: vec![Entry {
                    term: Term(3),
                    index: Index(10),
                    payload: EntryPayload::Command(Bytes::from(vec![7u8; payload])),
                }]
                .into(),
                commit: Index(9),
            }),
        }
    }

    #[test]
    fn frames_round_trip_in_any_split() {
        let msgs = vec![heartbeat(1), append(1000), heartbeat(2), append(0)];
        let mut wire = Vec::new();
        for m in &msgs {
            encode_frame(&mut wire, m, 1 << 20).unwrap();
        }
        for step in [1, 2, 3, 7, 64, wire.len()] {
            let mut dec = FrameDecoder::new(1 << 20);
            let mut out = Vec::new();
            for piece in wire.chunks(step) {
                dec.push(piece);
                while let Some(frame) = dec.decode().unwrap() {
                    out.push(decode_value::<Message>(&frame).unwrap());
                }
            }
            assert!(dec.is_empty());
            assert_eq!(out, msgs, "split every {step} bytes");
        }
    }

    #[test]
    fn oversized_frames_are_refused_before_their_body_arrives() {
        let mut dec = FrameDecoder::new(100);
        dec.push(&header(101));
        assert!(matches!(
            dec.decode(),
            Err(FrameError::Oversized { len: 101, max: 100 })
        ));
        let mut dec = FrameDecoder::new(100);
        dec.push(&header(u32::MAX));
        assert!(matches!(dec.decode(), Err(FrameError::Oversized { .. })));
    }

    #[test]
    fn encoding_refuses_values_over_the_limit_and_leaves_the_buffer_alone() {
        let mut buf = vec![1, 2, 3];
        let err = encode_frame(&mut buf, &append(5000), 1000).unwrap_err();
        assert!(matches!(err, EncodeError::TooLarge { max: 1000, .. }));
        assert_eq!(buf, [1, 2, 3]);
    }

    #[test]
    fn trailing_bytes_are_a_decode_error() {
        let mut wire = Vec::new();
        encode_frame(&mut wire, &heartbeat(1), 1000).unwrap();
        let mut payload = wire[HEADER_LEN..].to_vec();
        payload.push(0);
        assert!(matches!(
            decode_value::<Message>(&payload),
            Err(DecodeError::TrailingBytes(1))
        ));
    }

    #[test]
    fn garbage_never_panics() {
        // Random payloads, and every truncation and single-byte corruption of real frames.
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..20_000 {
            let len = rng.usize(0..200);
            let bytes: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
            let _ = decode_value::<Message>(&bytes);
        }
        let mut wire = Vec::new();
        encode_frame(&mut wire, &append(50), 1000).unwrap();
        let payload = &wire[HEADER_LEN..];
        for cut in 0..payload.len() {
            assert!(decode_value::<Message>(&payload[..cut]).is_err());
        }
        for i in 0..payload.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut p = payload.to_vec();
                p[i] ^= flip;
                let _ = decode_value::<Message>(&p);
            }
        }
    }

    #[test]
    fn a_huge_declared_length_inside_a_frame_does_not_allocate_it() {
        // An append whose entry vector claims 2^32 entries, in a 20-byte frame: decoding fails
        // on the missing bytes; serde caps what it preallocates.
        let mut payload = Vec::new();
        payload.extend_from_slice(&[1, 2, 3]); // from, to, term
        payload.push(4); // MessageBody::Append
        payload.extend_from_slice(&[1, 1]); // prev
        payload.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]); // entries: 2^32 - 1
        assert!(decode_value::<Message>(&payload).is_err());
    }
}
