//! The `frame_decoder` fuzz harness, shared by the property test `tests/fuzz_frame_decoder.rs`
//! and the cargo-fuzz target `fuzz/fuzz_targets/frame_decoder.rs` (which includes this file by
//! path). The decoder is private to the crate, so both include `src/framing.rs` and `src/wire.rs`
//! by path as well, as the modules `framing` and `wire` of their crate root.
//!
//! [`run`] reads its input as: the kind of stream, two frame limits, the size of each read, then
//! the bytes a peer sends on that stream. It reads the stream as the transport does, through a
//! [`FrameDecoder`] fed read by read: a message stream (frames of `raft_core::Message` under the
//! frame limit), a snapshot stream (an `InstallSnapshot` header under the frame limit, then data
//! chunks under the chunk limit, the end marker, a [`SnapshotEnd`] under the control limit, the
//! end of the stream), or a control stream (one [`Hello`] or [`SnapshotAck`] under the control
//! limit). It checks:
//!
//! - no panic, and `decode` never fails other than with `FrameError::Oversized`;
//! - **exact framing**: every frame is the bytes that follow its header in the stream, within
//!   the limit in force; an oversized error comes exactly when the next header announces more
//!   than the limit, and names that length and limit;
//! - **bounded holding**: the decoder holds what was pushed minus the frames taken (its
//!   `is_empty` agrees); whenever it asks for more, that is less than a header plus the limit in
//!   force, so a peer makes it hold at most the limit plus one read, whatever lengths it
//!   announces;
//! - **any split**: the frames, the decoded values and the outcome are the same whether the
//!   stream arrives in the input's reads, in one read, or byte by byte;
//! - **round trip**: every decoded value, encoded again with `encode_frame` under the same limit,
//!   fits in no more bytes than it came in and decodes to the same value; under a limit one byte
//!   too small, encoding fails and leaves the buffer as it was.

#![allow(dead_code)]

use bytes::Bytes;
use raft_core::{Message, MessageBody};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::framing::{
    EncodeError, FrameDecoder, FrameError, HEADER_LEN, decode_value, encode_frame,
};
use crate::wire::{Hello, MAX_CONTROL_FRAME, SnapshotAck, SnapshotEnd};

/// The transport's default frame limit (`FrameLimits::max_frame_bytes`).
pub const DEFAULT_MAX_FRAME: u32 = 16 << 20;
/// The transport's default snapshot chunk limit (`FrameLimits::max_snapshot_chunk_bytes`).
pub const DEFAULT_MAX_CHUNK: u32 = 1 << 20;

/// The kinds of stream the transport reads frames from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A message stream: `Message` frames until the end of the stream.
    Messages,
    /// A snapshot stream, as its receiver reads it.
    Snapshot,
    /// The hello stream, as the dialer reads it: one `Hello` frame.
    Hello,
    /// The answer on a snapshot stream, as its sender reads it: one `SnapshotAck` frame.
    Ack,
}

/// The stream an input describes.
pub struct Case<'a> {
    /// What the stream carries.
    pub kind: Kind,
    /// The frame limit of message streams and snapshot headers.
    pub max_frame: u32,
    /// The limit of snapshot data chunks.
    pub max_chunk: u32,
    /// The size of each read, in turn, cycling; never empty.
    pub reads: Vec<usize>,
    /// What the peer sends.
    pub stream: &'a [u8],
}

/// A limit read from two bytes: mostly small (so that random frames reach it), sometimes the
/// transport's default, sometimes the largest a header can announce.
fn limit(hi: u8, lo: u8, default: u32) -> u32 {
    match hi >> 6 {
        3 => default,
        2 => u32::MAX,
        _ => u32::from(u16::from_be_bytes([hi & 0x0f, lo])),
    }
}

impl<'a> Case<'a> {
    /// Reads a case from fuzz input: a kind byte, two bytes for each limit, a count of read
    /// sizes (0 to 7) and that many sizes (1 to 256 bytes each), then the stream.
    pub fn parse(data: &'a [u8]) -> Case<'a> {
        let mut head = [0u8; 6];
        let n = data.len().min(head.len());
        head[..n].copy_from_slice(&data[..n]);
        let rest = &data[n..];
        let kind = match head[0] % 4 {
            0 => Kind::Messages,
            1 => Kind::Snapshot,
            2 => Kind::Hello,
            _ => Kind::Ack,
        };
        let count = usize::from(head[5] % 8);
        let (sizes, stream) = rest.split_at(count.min(rest.len()));
        let mut reads: Vec<usize> = sizes.iter().map(|&s| 1 + usize::from(s)).collect();
        if reads.is_empty() {
            reads.push(usize::MAX);
        }
        Case {
            kind,
            max_frame: limit(head[1], head[2], DEFAULT_MAX_FRAME),
            max_chunk: limit(head[3], head[4], DEFAULT_MAX_CHUNK),
            reads,
            stream,
        }
    }

    /// An input that [`Case::parse`] reads back as `kind` with the limits `max_frame` and
    /// `max_chunk` (each under 4096), read sizes `1 + reads[i]` (at most 7 of them) and
    /// `stream`.
    pub fn to_input(
        kind: Kind,
        max_frame: u16,
        max_chunk: u16,
        reads: &[u8],
        stream: &[u8],
    ) -> Vec<u8> {
        let kind = match kind {
            Kind::Messages => 0,
            Kind::Snapshot => 1,
            Kind::Hello => 2,
            Kind::Ack => 3,
        };
        let reads = &reads[..reads.len().min(7)];
        let [f1, f2] = (max_frame & 0x0fff).to_be_bytes();
        let [c1, c2] = (max_chunk & 0x0fff).to_be_bytes();
        let mut out = vec![kind, f1, f2, c1, c2, reads.len() as u8];
        out.extend_from_slice(reads);
        out.extend_from_slice(stream);
        out
    }

    /// The stream cut into the input's reads.
    fn chunks(&self) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        let mut rest = self.stream;
        let mut i = 0;
        while !rest.is_empty() {
            let n = self.reads[i % self.reads.len()].min(rest.len());
            let (a, b) = rest.split_at(n);
            out.push(a);
            rest = b;
            i += 1;
        }
        out
    }
}

/// Runs the harness on one input and returns what the reader made of the stream. Panics on a
/// violation.
pub fn run(data: &[u8]) -> Outcome {
    let case = Case::parse(data);
    let split = receive(&case, case.chunks());
    let whole = receive(&case, vec![case.stream]);
    assert_eq!(split, whole, "the outcome depends on the reads");
    let bytewise = receive(&case, case.stream.chunks(1).collect());
    assert_eq!(split, bytewise, "the outcome depends on the reads");
    split
}

/// A value taken off the stream.
#[derive(Debug, PartialEq)]
pub enum Item {
    /// A message, or a snapshot stream's header.
    Message(Message),
    /// A chunk of snapshot data.
    Chunk(Bytes),
    /// A hello.
    Hello(Hello),
    /// A snapshot acknowledgement.
    Ack(SnapshotAck),
    /// The total after a snapshot stream's end marker.
    End(SnapshotEnd),
}

/// How the stream ended for its reader.
#[derive(Debug, PartialEq)]
pub enum End {
    /// Cleanly, between frames, or after the one frame a control stream carries.
    Clean,
    /// Inside a frame.
    Truncated,
    /// A header announced a frame over the limit.
    Oversized {
        /// The announced length.
        len: u32,
        /// The limit in force.
        max: u32,
    },
    /// A frame did not decode as the value expected.
    Undecodable(String),
    /// A snapshot stream's header is not an `InstallSnapshot`.
    NotASnapshot,
    /// A snapshot stream ended after the marker without the total.
    MissingTotal,
    /// The total after the marker is not the number of bytes received.
    WrongTotal {
        /// The total the sender gave.
        sent: u64,
        /// The bytes received.
        received: u64,
    },
    /// A frame followed the total.
    DataAfterTotal,
}

/// The values taken and how the stream ended.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    /// The values, in order.
    pub items: Vec<Item>,
    /// How the stream ended.
    pub end: End,
}

/// Reads `case`'s stream in `reads` as the transport's reader of that kind of stream does.
fn receive(case: &Case<'_>, reads: Vec<&[u8]>) -> Outcome {
    let mut wire = Wire::new(case.stream, reads);
    let mut items = Vec::new();
    let end = match case.kind {
        Kind::Messages => messages(&mut wire, case.max_frame, &mut items),
        Kind::Snapshot => snapshot(&mut wire, case.max_frame, case.max_chunk, &mut items),
        Kind::Hello => control(&mut wire, &mut items, Item::Hello),
        Kind::Ack => control(&mut wire, &mut items, Item::Ack),
    };
    let end = end.err().unwrap_or(End::Clean);
    Outcome { items, end }
}

/// `inbound::read_messages`: messages until the end of the stream.
fn messages(wire: &mut Wire<'_>, max_frame: u32, items: &mut Vec<Item>) -> Result<(), End> {
    wire.set_max(max_frame);
    while let Some(frame) = wire.next_frame()? {
        items.push(Item::Message(value(&frame, max_frame)?));
    }
    Ok(())
}

/// `snapshot::receive` and `read_end`: the header, the chunks, the marker, the total, the end.
fn snapshot(
    wire: &mut Wire<'_>,
    max_frame: u32,
    max_chunk: u32,
    items: &mut Vec<Item>,
) -> Result<(), End> {
    wire.set_max(max_frame);
    let Some(head) = wire.next_frame()? else {
        return Ok(());
    };
    let message: Message = value(&head, max_frame)?;
    let is_offer = matches!(message.body, MessageBody::InstallSnapshot(_));
    items.push(Item::Message(message));
    if !is_offer {
        return Err(End::NotASnapshot);
    }
    wire.set_max(max_chunk);
    let mut received = 0u64;
    loop {
        match wire.next_frame()? {
            None => return Err(End::Truncated),
            Some(chunk) if chunk.is_empty() => break,
            Some(chunk) => {
                received += chunk.len() as u64;
                items.push(Item::Chunk(chunk));
            }
        }
    }
    wire.set_max(MAX_CONTROL_FRAME);
    let frame = wire.next_frame()?.ok_or(End::MissingTotal)?;
    let end: SnapshotEnd = value(&frame, MAX_CONTROL_FRAME)?;
    items.push(Item::End(end));
    if end.bytes != received {
        return Err(End::WrongTotal {
            sent: end.bytes,
            received,
        });
    }
    match wire.next_frame()? {
        None => Ok(()),
        Some(_) => Err(End::DataAfterTotal),
    }
}

/// The dialer's hello and the snapshot sender's acknowledgement: one frame under the control
/// limit. A stream that ends before it counts as truncated here.
fn control<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    wire: &mut Wire<'_>,
    items: &mut Vec<Item>,
    item: fn(T) -> Item,
) -> Result<(), End> {
    wire.set_max(MAX_CONTROL_FRAME);
    let frame = wire.next_frame()?.ok_or(End::Truncated)?;
    items.push(item(value(&frame, MAX_CONTROL_FRAME)?));
    Ok(())
}

/// Decodes a frame's payload, and checks that the value encodes back within `max`.
fn value<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    frame: &[u8],
    max: u32,
) -> Result<T, End> {
    let v: T = decode_value(frame).map_err(|e| End::Undecodable(e.to_string()))?;
    check_round_trip(&v, frame.len(), max);
    Ok(v)
}

/// `v`, decoded from a frame of `came_in` bytes under `max`, encodes again in at most that many
/// bytes and decodes to itself; one byte less of limit than it needs, encoding fails cleanly.
fn check_round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    v: &T,
    came_in: usize,
    max: u32,
) {
    let mut buf = vec![0xa5];
    let len = match encode_frame(&mut buf, v, max) {
        Ok(len) => len,
        Err(e) => panic!("{v:?} (decoded from {came_in} bytes) does not encode under {max}: {e}"),
    };
    assert!(
        len <= came_in,
        "{v:?} came in {came_in} bytes, encodes in {len}"
    );
    assert_eq!(buf.len(), 1 + HEADER_LEN + len);
    assert_eq!(buf[0], 0xa5, "encoding overwrote what the buffer held");
    let mut decoder = FrameDecoder::new(max);
    decoder.push(&buf[1..]);
    let frame = match decoder.decode() {
        Ok(Some(frame)) => frame,
        other => panic!("an encoded frame decodes as {other:?}"),
    };
    assert!(decoder.is_empty(), "bytes left after an encoded frame");
    let back: T = decode_value(&frame).expect("an encoded value decodes");
    assert_eq!(&back, v, "a value does not survive encoding");

    if let Some(tight) = u32::try_from(len).ok().and_then(|l| l.checked_sub(1)) {
        let before = buf.clone();
        match encode_frame(&mut buf, v, tight) {
            Err(EncodeError::TooLarge { len: l, max: m }) => assert_eq!((l, m), (len, tight)),
            other => panic!("encoding {len} bytes under a limit of {tight}: {other:?}"),
        }
        assert_eq!(buf, before, "a refused encoding changed the buffer");
    }
}

/// A stream being read: the decoder, the reads still to come, and a model of what the decoder
/// must hold.
struct Wire<'a> {
    /// The whole stream, to check frames against.
    stream: &'a [u8],
    /// The reads still to come.
    reads: std::vec::IntoIter<&'a [u8]>,
    decoder: FrameDecoder,
    /// The limit in force.
    max: u32,
    /// Bytes pushed into the decoder.
    pushed: usize,
    /// Bytes taken out of it as frames, headers included.
    taken: usize,
}

impl<'a> Wire<'a> {
    fn new(stream: &'a [u8], reads: Vec<&'a [u8]>) -> Wire<'a> {
        Wire {
            stream,
            reads: reads.into_iter(),
            decoder: FrameDecoder::new(0),
            max: 0,
            pushed: 0,
            taken: 0,
        }
    }

    fn set_max(&mut self, max: u32) {
        self.decoder.set_max(max);
        self.max = max;
    }

    /// The length the next header in the stream announces, if it is all pushed.
    fn next_header(&self) -> Option<u32> {
        let header = self.stream.get(self.taken..self.taken + HEADER_LEN)?;
        (self.pushed >= self.taken + HEADER_LEN)
            .then(|| u32::from_be_bytes([header[0], header[1], header[2], header[3]]))
    }

    /// What the decoder must hold.
    fn held(&self) -> usize {
        self.pushed - self.taken
    }

    fn check_held(&self) {
        assert_eq!(
            self.decoder.is_empty(),
            self.held() == 0,
            "the decoder's emptiness disagrees with the {} bytes it should hold",
            self.held()
        );
    }

    /// `framing::read_frame` over the reads: the next frame, `None` at the end of the stream
    /// between frames.
    fn next_frame(&mut self) -> Result<Option<Bytes>, End> {
        loop {
            match self.decoder.decode() {
                Ok(Some(frame)) => {
                    let len = frame.len();
                    assert!(
                        len <= self.max as usize,
                        "a frame of {len} bytes under a limit of {}",
                        self.max
                    );
                    assert_eq!(
                        self.next_header(),
                        u32::try_from(len).ok(),
                        "a frame of the wrong length"
                    );
                    let body = self.taken + HEADER_LEN;
                    assert_eq!(
                        &frame[..],
                        &self.stream[body..body + len],
                        "a frame of the wrong bytes"
                    );
                    self.taken = body + len;
                    self.check_held();
                    return Ok(Some(frame));
                }
                Ok(None) => {
                    let held = self.held();
                    match self.next_header() {
                        None => assert!(held < HEADER_LEN, "waits with a whole header buffered"),
                        Some(len) => {
                            assert!(len <= self.max, "waits on a header over the limit");
                            assert!(
                                held < HEADER_LEN + len as usize,
                                "waits with a whole frame buffered"
                            );
                        }
                    }
                    self.check_held();
                }
                Err(FrameError::Oversized { len, max }) => {
                    assert_eq!(max, self.max, "an oversized error names another limit");
                    assert!(
                        len > max,
                        "a frame of {len} bytes refused under a limit of {max}"
                    );
                    assert_eq!(
                        self.next_header(),
                        Some(len),
                        "an oversized error names another length"
                    );
                    return Err(End::Oversized { len, max });
                }
                Err(e) => panic!("decode failed with {e}"),
            }
            match self.reads.next() {
                Some(read) => {
                    self.decoder.push(read);
                    self.pushed += read.len();
                    assert!(self.pushed <= self.stream.len());
                    self.check_held();
                }
                None if self.decoder.is_empty() => return Ok(None),
                None => return Err(End::Truncated),
            }
        }
    }
}
