//! Writes requests, as a client sends them.

use bytes::{BufMut, BytesMut};

use super::int::put_u64;

/// Appends `args` as a request (an array of bulk strings), as a client sends it.
pub fn encode_request<A: AsRef<[u8]>>(args: &[A], out: &mut BytesMut) {
    let payload: usize = args.iter().map(|a| a.as_ref().len() + 16).sum();
    out.reserve(payload + 16);
    out.put_u8(b'*');
    put_u64(out, args.len() as u64);
    out.put_slice(b"\r\n");
    for arg in args {
        let arg = arg.as_ref();
        out.put_u8(b'$');
        put_u64(out, arg.len() as u64);
        out.put_slice(b"\r\n");
        out.put_slice(arg);
        out.put_slice(b"\r\n");
    }
}
