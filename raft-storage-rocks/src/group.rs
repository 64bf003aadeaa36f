//! [`GroupCommit`]: one writer thread that merges the writes queued while it syncs into the next
//! batch, so many writes share one fsync.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use raft_core::Write;

use crate::error::WriteError;
use crate::log::RocksLog;

/// What a submitted write calls when it is done: `Ok` once it is written (and fsynced if it
/// asked to be), or the error.
type Done = Box<dyn FnOnce(Result<(), WriteError>) + Send + 'static>;

/// Settings for [`GroupCommit::with_options`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct GroupCommitOptions {
    /// The most writes merged into one batch (default 1,024).
    pub max_writes: usize,
    /// Stop adding writes to a batch once it holds this many bytes of entries (default 16 MiB);
    /// a single larger write still goes in alone.
    pub max_bytes: usize,
}

impl Default for GroupCommitOptions {
    fn default() -> GroupCommitOptions {
        GroupCommitOptions {
            max_writes: 1024,
            max_bytes: 16 << 20,
        }
    }
}

/// Counters of a [`GroupCommit`] writer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupCommitStats {
    /// Writes completed (successfully or not).
    pub writes: u64,
    /// Batches written: each one RocksDB write batch.
    pub batches: u64,
    /// Batches that were fsynced.
    pub syncs: u64,
}

#[derive(Default)]
struct Counters {
    writes: AtomicU64,
    batches: AtomicU64,
    syncs: AtomicU64,
}

struct Job {
    write: Write,
    done: Option<Done>,
}

impl Job {
    fn finish(mut self, result: Result<(), WriteError>) {
        if let Some(done) = self.done.take() {
            done(result);
        }
    }
}

impl Drop for Job {
    /// A job dropped unfinished (its writer died) still hears back.
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            done(Err(WriteError::Closed));
        }
    }
}

/// Group commit in front of a [`RocksLog`]: a dedicated writer thread takes the submitted writes
/// in order, merges every write that queued up while the previous batch was being written and
/// fsynced into one write batch with one fsync, and then completes each write, in submission
/// order.
///
/// Submit each Ready's write as soon as the Ready is taken and acknowledge the Ready
/// ([`raft_core::Raft::ack_persisted`]) from its completion: writes complete in the order they
/// were submitted, as the Ready contract requires. Completions run on the writer thread, so they
/// should be quick (send the Ready's id over a channel, for instance) and must not panic.
///
/// Works without any async runtime. Dropping it stops the writer after it has completed every
/// write already submitted.
pub struct GroupCommit {
    log: RocksLog,
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("log", &self.log)
            .field("stats", &self.stats())
            .finish()
    }
}

impl GroupCommit {
    /// Starts a writer thread for `log` with the default [`GroupCommitOptions`].
    pub fn new(log: RocksLog) -> std::io::Result<GroupCommit> {
        GroupCommit::with_options(log, GroupCommitOptions::default())
    }

    /// Starts a writer thread for `log`.
    pub fn with_options(
        log: RocksLog,
        options: GroupCommitOptions,
    ) -> std::io::Result<GroupCommit> {
        let (tx, rx) = mpsc::channel::<Job>();
        let counters = Arc::new(Counters::default());
        let thread = std::thread::Builder::new()
            .name("raft-log-writer".into())
            .spawn({
                let log = log.clone();
                let counters = Arc::clone(&counters);
                move || run(&log, &rx, &options, &counters)
            })?;
        Ok(GroupCommit {
            log,
            tx: Some(tx),
            thread: Some(thread),
            counters,
        })
    }

    /// Queues `write`; `done` is called on the writer thread once it is written (and fsynced if
    /// `write.sync`), or with the error. Writes complete in the order they were submitted. If the
    /// writer has stopped, `done` gets [`WriteError::Closed`] at once.
    pub fn submit(&self, write: Write, done: impl FnOnce(Result<(), WriteError>) + Send + 'static) {
        let job = Job {
            write,
            done: Some(Box::new(done)),
        };
        match &self.tx {
            Some(tx) => {
                // If the writer is gone the job comes back and is dropped: `Closed`.
                let _ = tx.send(job);
            }
            None => drop(job),
        }
    }

    /// Submits `write` and waits for it: [`RocksLog::write`] for threads that share fsyncs.
    pub fn write(&self, write: Write) -> Result<(), WriteError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit(write, move |r| {
            let _ = tx.send(r);
        });
        rx.recv().unwrap_or(Err(WriteError::Closed))
    }

    /// The log written to.
    #[must_use]
    pub fn log(&self) -> &RocksLog {
        &self.log
    }

    /// How many writes, batches and fsyncs so far.
    #[must_use]
    pub fn stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            writes: self.counters.writes.load(Ordering::Relaxed),
            batches: self.counters.batches.load(Ordering::Relaxed),
            syncs: self.counters.syncs.load(Ordering::Relaxed),
        }
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The writer loop: block for one write, take every write already queued (up to the limits),
/// write them as one batch, complete them in order.
fn run(log: &RocksLog, rx: &mpsc::Receiver<Job>, options: &GroupCommitOptions, c: &Counters) {
    let mut jobs: Vec<Job> = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut bytes = write_bytes(&first.write);
        jobs.push(first);
        while jobs.len() < options.max_writes.max(1) && bytes < options.max_bytes {
            match rx.try_recv() {
                Ok(job) => {
                    bytes += write_bytes(&job.write);
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let sync = jobs.iter().any(|j| j.write.sync);
        let results = log.write_group(jobs.iter().map(|j| &j.write));
        c.batches.fetch_add(1, Ordering::Relaxed);
        if sync {
            c.syncs.fetch_add(1, Ordering::Relaxed);
        }
        c.writes.fetch_add(jobs.len() as u64, Ordering::Relaxed);
        for (job, result) in jobs.drain(..).zip(results) {
            job.finish(result);
        }
    }
}

/// The payload bytes a write carries, for the batch size limit.
fn write_bytes(w: &Write) -> usize {
    let payload: u64 = w.entries.iter().map(raft_core::Entry::payload_len).sum();
    usize::try_from(payload).unwrap_or(usize::MAX)
}
