//! Inline commands: the space-separated form telnet and `redis-cli` users type (`SET k "a b"`).

use bytes::{Bytes, BytesMut};

use super::{Limits, ProtocolError};

/// Takes the next inline command line off `buf` and splits it into arguments.
///
/// `Ok(None)`: no complete line yet (and the partial line is within the limit). An empty or
/// blank line gives an empty vector, which the caller skips, as Redis does.
pub(super) fn decode_line(
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    // The line may be followed by a CR before its LF.
    let window = buf.len().min(limits.max_inline_len.saturating_add(2));
    let Some(newline) = buf[..window].iter().position(|&b| b == b'\n') else {
        return if buf.len() > limits.max_inline_len.saturating_add(1) {
            Err(ProtocolError::InlineTooLong)
        } else {
            Ok(None)
        };
    };
    let mut line = buf.split_to(newline + 1).freeze();
    line.truncate(newline);
    if line.last() == Some(&b'\r') {
        line.truncate(newline - 1);
    }
    if line.len() > limits.max_inline_len {
        return Err(ProtocolError::InlineTooLong);
    }
    split_args(&line, limits.max_args).map(Some)
}

/// Splits a line into arguments as Redis's `sdssplitargs` does.
///
/// Arguments are separated by spaces; a double-quoted part understands `\n`, `\r`, `\t`, `\b`,
/// `\a`, `\xHH` and `\<any>`; a single-quoted part understands only `\'`. A closing quote must be
/// followed by a space or the end of the line. Quotes may start inside an argument (`a"b c"` is
/// `ab c`). As in C, the line ends at its first NUL byte. Unquoted arguments share `line`'s
/// memory; quoted ones are copied (once).
pub(super) fn split_args(line: &Bytes, max_args: usize) -> Result<Vec<Bytes>, ProtocolError> {
    let end = line.iter().position(|&b| b == 0).unwrap_or(line.len());
    let s = &line[..end];
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < s.len() && is_space(s[i]) {
            i += 1;
        }
        if i == s.len() {
            return Ok(args);
        }
        if args.len() == max_args {
            return Err(ProtocolError::TooManyArgs {
                len: args.len() as u64 + 1,
                max: max_args,
            });
        }
        let (arg, next) = token(line, s, i)?;
        args.push(arg);
        i = next;
    }
}

/// Which quotes the scanner is inside.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Double,
    Single,
}

/// Reads the argument starting at `s[start]` (not a space); returns it and where scanning resumes.
fn token(line: &Bytes, s: &[u8], start: usize) -> Result<(Bytes, usize), ProtocolError> {
    // `owned` holds the argument once a quote has made it differ from the raw bytes.
    let mut owned: Option<Vec<u8>> = None;
    let mut quote = Quote::None;
    let mut i = start;
    loop {
        let c = s.get(i).copied();
        match quote {
            Quote::None => match c {
                None | Some(b' ' | b'\n' | b'\r' | b'\t') => {
                    let arg = match owned {
                        Some(v) => Bytes::from(v),
                        None => line.slice(start..i),
                    };
                    return Ok((arg, i));
                }
                Some(q @ (b'"' | b'\'')) => {
                    owned.get_or_insert_with(|| s[start..i].to_vec());
                    quote = if q == b'"' {
                        Quote::Double
                    } else {
                        Quote::Single
                    };
                }
                Some(b) => {
                    if let Some(v) = owned.as_mut() {
                        v.push(b);
                    }
                }
            },
            Quote::Double => {
                let v = owned.get_or_insert_with(Vec::new);
                match c {
                    None => return Err(ProtocolError::UnbalancedQuotes),
                    Some(b'\\') if s.get(i + 1) == Some(&b'x') => {
                        match (hex(s.get(i + 2)), hex(s.get(i + 3))) {
                            (Some(hi), Some(lo)) => {
                                v.push(hi << 4 | lo);
                                i += 3;
                            }
                            _ => {
                                v.push(b'x');
                                i += 1;
                            }
                        }
                    }
                    Some(b'\\') if i + 1 < s.len() => {
                        i += 1;
                        v.push(match s[i] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                    }
                    Some(b'"') => {
                        closing_quote(s, i)?;
                        i += 1;
                        let arg = Bytes::from(owned.unwrap_or_default());
                        return Ok((arg, i));
                    }
                    Some(b) => v.push(b),
                }
            }
            Quote::Single => {
                let v = owned.get_or_insert_with(Vec::new);
                match c {
                    None => return Err(ProtocolError::UnbalancedQuotes),
                    Some(b'\\') if s.get(i + 1) == Some(&b'\'') => {
                        i += 1;
                        v.push(b'\'');
                    }
                    Some(b'\'') => {
                        closing_quote(s, i)?;
                        i += 1;
                        let arg = Bytes::from(owned.unwrap_or_default());
                        return Ok((arg, i));
                    }
                    Some(b) => v.push(b),
                }
            }
        }
        i += 1;
    }
}

/// A closing quote must be followed by a space or the end of the line.
fn closing_quote(s: &[u8], i: usize) -> Result<(), ProtocolError> {
    match s.get(i + 1) {
        Some(&b) if !is_space(b) => Err(ProtocolError::UnbalancedQuotes),
        _ => Ok(()),
    }
}

/// C's `isspace`.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The value of a hex digit.
fn hex(b: Option<&u8>) -> Option<u8> {
    char::from(*b?).to_digit(16).map(|d| d as u8)
}
