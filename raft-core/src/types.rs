//! Typed identifiers: [`Term`], [`Index`], [`NodeId`] and the position of an entry, [`LogId`].
//!
//! Each is a transparent `u64` newtype so that a term can never be passed where an index is
//! expected. None of them reserves a value to mean "none": absence is spelled `Option`.

use core::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[cfg_attr(feature = "serde", serde(transparent))]
        #[repr(transparent)]
        pub struct $name(pub u64);

        impl $name {
            /// The raw value.
            #[inline]
            #[must_use]
            pub const fn get(self) -> u64 {
                self.0
            }
        }

        impl From<u64> for $name {
            #[inline]
            fn from(v: u64) -> Self {
                Self(v)
            }
        }

        impl From<$name> for u64 {
            #[inline]
            fn from(v: $name) -> u64 {
                v.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

id_type!(
    /// A Raft term: a logical clock that increases with every election (Raft paper §5.1).
    ///
    /// `Term(0)` is the term of the empty log before any election.
    Term,
    "t"
);
id_type!(
    /// The position of an entry in the replicated log. The first entry has index 1;
    /// `Index(0)` is the position just before it (the empty prefix), never an entry.
    Index,
    "i"
);
id_type!(
    /// The identity of a cluster member. Any `u64` is a valid id, including 0.
    NodeId,
    "n"
);

impl Term {
    /// The term before any election.
    pub const ZERO: Term = Term(0);

    /// The highest term: no node campaigns past it, and a message carrying it is malformed
    /// (a forged one could otherwise make a node vote twice in a term it cannot leave).
    pub const MAX: Term = Term(u64::MAX);

    /// The next term. Saturates at [`Term::MAX`], which no real cluster reaches.
    #[inline]
    #[must_use]
    pub const fn next(self) -> Term {
        Term(self.0.saturating_add(1))
    }
}

impl Index {
    /// The position before the first entry.
    pub const ZERO: Index = Index(0);

    /// The highest position; no entry or snapshot may sit there (a message claiming one is
    /// malformed), so that [`Index::next`] of any real position is exact.
    pub const MAX: Index = Index(u64::MAX);

    /// The following position (saturating).
    #[inline]
    #[must_use]
    pub const fn next(self) -> Index {
        Index(self.0.saturating_add(1))
    }

    /// The preceding position, saturating at [`Index::ZERO`].
    #[inline]
    #[must_use]
    pub const fn prev(self) -> Index {
        Index(self.0.saturating_sub(1))
    }

    /// `self + n`, saturating.
    #[inline]
    #[must_use]
    pub const fn plus(self, n: u64) -> Index {
        Index(self.0.saturating_add(n))
    }

    /// The number of positions from `earlier` up to `self` (0 if `earlier >= self`).
    #[inline]
    #[must_use]
    pub const fn distance_from(self, earlier: Index) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// The position of one entry: its index and the term in which a leader created it.
///
/// By the Log Matching property (Raft §5.3), two logs that hold an entry with the same `LogId`
/// are identical up to and including it. `LogId::ZERO` names the empty prefix.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LogId {
    /// The term of the entry.
    pub term: Term,
    /// The index of the entry.
    pub index: Index,
}

impl LogId {
    /// The empty prefix: index 0, term 0.
    pub const ZERO: LogId = LogId {
        term: Term::ZERO,
        index: Index::ZERO,
    };

    /// A log position.
    #[inline]
    #[must_use]
    pub const fn new(term: Term, index: Index) -> LogId {
        LogId { term, index }
    }

    /// Whether a log ending at `self` is at least as up to date as one ending at `other`
    /// (Raft §5.4.1: compare the last terms, then the lengths).
    #[inline]
    #[must_use]
    pub fn is_up_to_date_with(self, other: LogId) -> bool {
        (self.term, self.index) >= (other.term, other.index)
    }
}

impl fmt::Debug for LogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.term.0, self.index.0)
    }
}

impl fmt::Display for LogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(term {}, index {})", self.term.0, self.index.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_to_date_compares_term_then_index() {
        let a = LogId::new(Term(2), Index(5));
        assert!(a.is_up_to_date_with(LogId::new(Term(1), Index(9))));
        assert!(!a.is_up_to_date_with(LogId::new(Term(3), Index(1))));
        assert!(a.is_up_to_date_with(LogId::new(Term(2), Index(5))));
        assert!(!a.is_up_to_date_with(LogId::new(Term(2), Index(6))));
    }

    #[test]
    fn index_arithmetic_saturates() {
        assert_eq!(Index::ZERO.prev(), Index::ZERO);
        assert_eq!(Index(u64::MAX).next(), Index(u64::MAX));
        assert_eq!(Index(3).distance_from(Index(5)), 0);
        assert_eq!(Index(5).distance_from(Index(3)), 2);
    }
}
