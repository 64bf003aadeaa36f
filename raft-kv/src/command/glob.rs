//! Glob matching for `SCAN ... MATCH`, with Redis's semantics and without its worst case.

/// Whether `subject` matches the glob `pattern`, as Redis's `stringmatchlen` decides (case
/// sensitive):
///
/// - `*` matches any run of bytes, `?` any one byte;
/// - `[abc]` one of the bytes listed, `[^abc]` one not listed, `[a-z]` a range (either way
///   round), `\x` inside brackets the byte `x`; an unclosed `[` takes the rest of the pattern as
///   its list;
/// - `\x` matches `x` itself; everything else matches itself.
///
/// One difference from Redis's function: a pattern of only `*`s matches the empty string here
/// (Redis's says no, though its SCAN and KEYS treat `*` as "every key", the empty key included).
///
/// Runs in O(pattern × subject) time and constant space: a `*` is retried only from the most
/// recent `*` (every other token matches exactly one byte, so that suffices), where a naive
/// recursive matcher takes exponential time on patterns like `a*a*a*a*b`.
///
/// ```
/// use raft_kv::command::glob_match;
/// assert!(glob_match(b"user:*", b"user:42"));
/// assert!(glob_match(b"h[ae]llo", b"hallo"));
/// assert!(!glob_match(b"h[^e]llo", b"hello"));
/// ```
pub fn glob_match(pattern: &[u8], subject: &[u8]) -> bool {
    let (mut p, mut s) = (0, 0);
    // After a `*`: where the pattern resumes, and the subject position it was last tried at.
    let mut star: Option<(usize, usize)> = None;
    while s < subject.len() {
        if pattern.get(p) == Some(&b'*') {
            while pattern.get(p) == Some(&b'*') {
                p += 1;
            }
            if p == pattern.len() {
                return true;
            }
            star = Some((p, s));
            continue;
        }
        if p < pattern.len() {
            let (matched, next) = token(pattern, p, subject[s]);
            if matched {
                p = next;
                s += 1;
                continue;
            }
        }
        // Mismatch: let the last `*` swallow one more byte, or fail.
        let Some((resume, tried)) = star else {
            return false;
        };
        p = resume;
        s = tried + 1;
        star = Some((resume, s));
    }
    pattern[p.min(pattern.len())..].iter().all(|&b| b == b'*')
}

/// Matches the one-byte token at `pattern[p]` (not `*`) against `c`: whether it matched, and
/// where the next token starts.
fn token(pattern: &[u8], p: usize, c: u8) -> (bool, usize) {
    match pattern[p] {
        b'?' => (true, p + 1),
        b'[' => class(pattern, p + 1, c),
        b'\\' if p + 1 < pattern.len() => (pattern[p + 1] == c, p + 2),
        literal => (literal == c, p + 1),
    }
}

/// Matches the bracket class whose body starts at `pattern[p]` against `c`, exactly as Redis
/// reads it (a `-` range needs two bytes after the start; `\` escapes the next byte; the class
/// ends at `]` or the end of the pattern).
fn class(pattern: &[u8], mut p: usize, c: u8) -> (bool, usize) {
    let negated = pattern.get(p) == Some(&b'^');
    if negated {
        p += 1;
    }
    let mut matched = false;
    loop {
        match pattern.get(p) {
            None => return (matched != negated, pattern.len()),
            Some(b'\\') if p + 1 < pattern.len() => {
                p += 1;
                matched |= pattern[p] == c;
            }
            Some(b']') => return (matched != negated, p + 1),
            Some(&start) if p + 2 < pattern.len() && pattern[p + 1] == b'-' => {
                let end = pattern[p + 2];
                let (lo, hi) = if start <= end {
                    (start, end)
                } else {
                    (end, start)
                };
                matched |= (lo..=hi).contains(&c);
                p += 2;
            }
            Some(&b) => matched |= b == c,
        }
        p += 1;
    }
}
