//! The simulated network: per-message delay (hence reordering), loss, duplication, and
//! partitions (symmetric or one-way), all drawn from the run's seed.

use std::collections::BTreeSet;
use std::rc::Rc;
use std::vec::Vec;

use super::rng::SimRng;
use super::state::SimState;
use crate::message::Message;
use crate::types::NodeId;

/// A message in flight, with the snapshot data that travels out of band beside an
/// `InstallSnapshot` (captured from the sender's snapshot store when sent).
#[derive(Clone, Debug)]
pub(crate) struct Envelope {
    pub(crate) msg: Message,
    pub(crate) snapshot: Option<Rc<SimState>>,
    pub(crate) deliver_at: u64,
    pub(crate) seq: u64,
}

/// Network behaviour for one run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NetworkFaults {
    /// Probability that a message is lost.
    pub drop_rate: f64,
    /// Probability that a message is delivered twice.
    pub duplicate_rate: f64,
    /// The largest delivery delay, in ticks (delays are uniform in `[0, max_delay_ticks]`).
    pub max_delay_ticks: u64,
}

impl NetworkFaults {
    /// A network that delivers everything at once, in order.
    pub const PERFECT: NetworkFaults = NetworkFaults {
        drop_rate: 0.0,
        duplicate_rate: 0.0,
        max_delay_ticks: 0,
    };
}

#[derive(Debug)]
pub(crate) struct Network {
    pub(crate) faults: NetworkFaults,
    in_flight: Vec<Envelope>,
    /// (from, to) pairs whose messages are lost.
    blocked: BTreeSet<(NodeId, NodeId)>,
    next_seq: u64,
    pub(crate) sent: u64,
    pub(crate) dropped: u64,
    pub(crate) duplicated: u64,
}

/// What happened to a message handed to the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    Queued,
    Dropped,
}

impl Network {
    pub(crate) fn new(faults: NetworkFaults) -> Network {
        Network {
            faults,
            in_flight: Vec::new(),
            blocked: BTreeSet::new(),
            next_seq: 0,
            sent: 0,
            dropped: 0,
            duplicated: 0,
        }
    }

    pub(crate) fn is_blocked(&self, from: NodeId, to: NodeId) -> bool {
        self.blocked.contains(&(from, to))
    }

    pub(crate) fn block(&mut self, from: NodeId, to: NodeId) {
        self.blocked.insert((from, to));
    }

    pub(crate) fn heal(&mut self) {
        self.blocked.clear();
    }

    pub(crate) fn has_partitions(&self) -> bool {
        !self.blocked.is_empty()
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    pub(crate) fn send(
        &mut self,
        rng: &mut SimRng,
        now: u64,
        msg: Message,
        snapshot: Option<Rc<SimState>>,
    ) -> Sent {
        self.sent += 1;
        if self.is_blocked(msg.from, msg.to) || rng.chance(self.faults.drop_rate) {
            self.dropped += 1;
            return Sent::Dropped;
        }
        let copies = if rng.chance(self.faults.duplicate_rate) {
            self.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = rng.below(self.faults.max_delay_ticks + 1);
            self.next_seq += 1;
            self.in_flight.push(Envelope {
                msg: msg.clone(),
                snapshot: snapshot.clone(),
                deliver_at: now + delay,
                seq: self.next_seq,
            });
        }
        Sent::Queued
    }

    /// Takes the messages due at `now`, in a random order, each with whether it is lost (its
    /// path is cut by now).
    pub(crate) fn take_due(&mut self, rng: &mut SimRng, now: u64) -> Vec<(Envelope, bool)> {
        let mut due = Vec::new();
        let mut i = 0;
        while i < self.in_flight.len() {
            if self.in_flight[i].deliver_at <= now {
                due.push(self.in_flight.swap_remove(i));
            } else {
                i += 1;
            }
        }
        // Canonical order first (swap_remove scrambles deterministically, but keep it explicit),
        // then a seeded shuffle.
        due.sort_by_key(|e| e.seq);
        for k in (1..due.len()).rev() {
            let j = rng.below(k as u64 + 1) as usize;
            due.swap(k, j);
        }
        due.into_iter()
            .map(|e| {
                let lost = self.is_blocked(e.msg.from, e.msg.to);
                if lost {
                    self.dropped += 1;
                }
                (e, lost)
            })
            .collect()
    }
}
