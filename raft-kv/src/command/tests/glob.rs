//! The glob matcher: Redis's semantics (checked against a direct port of its recursive
//! matcher) and no exponential blow-up.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::command::glob_match;

/// A direct port of Redis's recursive `stringmatchlen` (case sensitive), for comparison. It
/// is exponential on some patterns: use on small inputs only.
///
/// One deliberate difference: Redis's matcher says an all-`*` pattern does not match the empty
/// string (it never enters its loop), though SCAN and KEYS treat `*` as "everything", empty key
/// included. [`glob_match`] says it matches; so does this reference.
fn reference(pattern: &[u8], string: &[u8]) -> bool {
    if string.is_empty() && pattern.iter().all(|&b| b == b'*') {
        return true;
    }
    redis(pattern, string)
}

/// Redis's `stringmatchlen`, ported line by line.
fn redis(pattern: &[u8], string: &[u8]) -> bool {
    let (mut p, mut s) = (0usize, 0usize);
    let plen = pattern.len();
    let slen = string.len();
    while p < plen && s < slen {
        match pattern[p] {
            b'*' => {
                while p + 1 < plen && pattern[p + 1] == b'*' {
                    p += 1;
                }
                if p + 1 == plen {
                    return true;
                }
                while s < slen {
                    if redis(&pattern[p + 1..], &string[s..]) {
                        return true;
                    }
                    s += 1;
                }
                return false;
            }
            b'?' => s += 1,
            b'[' => {
                p += 1;
                let not = p < plen && pattern[p] == b'^';
                if not {
                    p += 1;
                }
                let mut matched = false;
                loop {
                    if p < plen && pattern[p] == b'\\' && plen - p >= 2 {
                        p += 1;
                        if pattern[p] == string[s] {
                            matched = true;
                        }
                    } else if p < plen && pattern[p] == b']' {
                        break;
                    } else if p >= plen {
                        p -= 1;
                        break;
                    } else if plen - p >= 3 && pattern[p + 1] == b'-' {
                        let (mut start, mut end) = (pattern[p], pattern[p + 2]);
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        p += 2;
                        if string[s] >= start && string[s] <= end {
                            matched = true;
                        }
                    } else if pattern[p] == string[s] {
                        matched = true;
                    }
                    p += 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s += 1;
            }
            c => {
                let c = if c == b'\\' && plen - p >= 2 {
                    p += 1;
                    pattern[p]
                } else {
                    c
                };
                if c != string[s] {
                    return false;
                }
                s += 1;
            }
        }
        p += 1;
        if s == slen {
            while p < plen && pattern[p] == b'*' {
                p += 1;
            }
            break;
        }
    }
    p == plen && s == slen
}

#[test]
fn stars_and_question_marks() {
    let cases: &[(&str, &str, bool)] = &[
        ("*", "", true),
        ("**", "", true),
        ("*a*", "", false),
        ("*", "anything", true),
        ("", "", true),
        ("", "a", false),
        ("a", "", false),
        ("?", "", false),
        ("?", "x", true),
        ("??", "x", false),
        ("a*", "a", true),
        ("a*", "abc", true),
        ("a*", "ba", false),
        ("*a", "bca", true),
        ("*a", "ab", false),
        ("a*b*c", "aXbYc", true),
        ("a*b*c", "aXbY", false),
        ("a**b", "ab", true),
        ("user:*:name", "user:42:name", true),
        ("user:*:name", "user:42:email", false),
        ("h?llo", "hallo", true),
        ("*?", "", false),
        ("*?*", "x", true),
    ];
    for &(p, s, want) in cases {
        assert_eq!(
            glob_match(p.as_bytes(), s.as_bytes()),
            want,
            "{p:?} ~ {s:?}"
        );
        assert_eq!(
            reference(p.as_bytes(), s.as_bytes()),
            want,
            "reference {p:?} ~ {s:?}"
        );
    }
}

#[test]
fn classes_and_escapes() {
    let cases: &[(&str, &str, bool)] = &[
        ("h[ae]llo", "hello", true),
        ("h[ae]llo", "hallo", true),
        ("h[ae]llo", "hillo", false),
        ("h[^e]llo", "hallo", true),
        ("h[^e]llo", "hello", false),
        ("h[a-b]llo", "hbllo", true),
        ("h[a-b]llo", "hcllo", false),
        ("h[b-a]llo", "hallo", true),
        ("[\\]]", "]", true),
        ("[\\-]", "-", true),
        ("[]", "a", false),
        ("[^]", "a", true),
        ("[abc", "b", true),
        ("[abc", "d", false),
        ("[", "[", false),
        ("\\*", "*", true),
        ("\\*", "a", false),
        ("\\?", "?", true),
        ("\\[a]", "[a]", true),
        ("a\\", "a\\", true),
        ("\\", "\\", true),
        // Redis reads `a-]` as the range `]`..=`a`, and the class as unclosed.
        ("[a-]", "a", true),
        ("[a-]", "^", true),
        ("[a-]", "b", false),
        ("[a-]", "-", false),
        ("*[0-9]", "key7", true),
        ("*[0-9]", "key", false),
    ];
    for &(p, s, want) in cases {
        assert_eq!(
            glob_match(p.as_bytes(), s.as_bytes()),
            want,
            "{p:?} ~ {s:?}"
        );
        assert_eq!(
            reference(p.as_bytes(), s.as_bytes()),
            want,
            "reference {p:?} ~ {s:?}"
        );
    }
}

#[test]
fn pathological_patterns_are_fast() {
    let subject = vec![b'a'; 100_000];
    let start = Instant::now();
    assert!(!glob_match(b"a*a*a*a*a*a*a*a*a*a*a*b", &subject));
    assert!(!glob_match(b"*a*a*a*a*a*a*a*a*a*a*?b", &subject));
    assert!(glob_match(b"a*a*a*a*a*a*a*a*a*a*a", &subject));
    assert!(!glob_match(b"*[b-z]*", &subject));
    let took = start.elapsed();
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

fn pattern() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        4 => prop::sample::select(&b"ab*?[]^-\\"[..]),
        1 => prop::sample::select(&b"cz09"[..]),
    ];
    proptest::collection::vec(token, 0..10)
}

fn subject() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(prop::sample::select(&b"ab]-^\\*?cz"[..]), 0..10)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn agrees_with_redis(pattern in pattern(), subject in subject()) {
        prop_assert_eq!(glob_match(&pattern, &subject), reference(&pattern, &subject));
    }

    #[test]
    fn agrees_with_redis_on_arbitrary_bytes(
        pattern in proptest::collection::vec(any::<u8>(), 0..8),
        subject in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        prop_assert_eq!(glob_match(&pattern, &subject), reference(&pattern, &subject));
    }
}
