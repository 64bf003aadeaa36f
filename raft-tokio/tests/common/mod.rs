//! An in-process cluster over the in-memory transport and stores, for the driver's tests and
//! benches.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use raft_core::{
    Config, Entries, EntryPayload, Index, LogId, MemStorage, Membership, NodeId, Role,
};
use raft_tokio::{
    Inbound, Inbox, MemLogStore, MemNetwork, MemSnapshotStore, Node, NodeConfig, SnapshotReader,
    SnapshotSource, SnapshotStore, SnapshotWriter, StateMachine,
};
use tokio::sync::mpsc;

/// What applying a command returns: its index and the command itself.
pub type Output = (Index, Bytes);

/// What a node applied: its applied index and the commands, shared with the test.
pub type View = Arc<Mutex<(Index, Vec<Bytes>)>>;

/// A state machine that keeps every command applied, in order.
#[derive(Default)]
pub struct ListSm {
    applied: Index,
    commands: Vec<Bytes>,
    /// Shared with the test, to inspect.
    view: View,
    /// Applied on the driver task rather than the apply thread.
    inline: bool,
}

impl ListSm {
    fn publish(&self) {
        *self.view.lock().unwrap() = (self.applied, self.commands.clone());
    }
}

struct ListSource {
    index: Index,
    commands: Vec<Bytes>,
}

impl SnapshotSource for ListSource {
    fn index(&self) -> Index {
        self.index
    }

    fn write_to(self: Box<Self>, out: &mut dyn SnapshotWriter) -> io::Result<()> {
        out.write_chunk(&self.index.0.to_le_bytes())?;
        for c in &self.commands {
            out.write_chunk(&(c.len() as u32).to_le_bytes())?;
            out.write_chunk(c)?;
        }
        Ok(())
    }
}

fn decode(data: &mut dyn SnapshotReader) -> io::Result<(Index, Vec<Bytes>)> {
    let mut all = Vec::new();
    while let Some(c) = data.next_chunk()? {
        all.extend_from_slice(&c);
    }
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "bad snapshot");
    let index = Index(u64::from_le_bytes(
        all.get(..8)
            .ok_or_else(bad)?
            .try_into()
            .map_err(|_| bad())?,
    ));
    let mut rest = &all[8..];
    let mut commands = Vec::new();
    while !rest.is_empty() {
        let len = u32::from_le_bytes(
            rest.get(..4)
                .ok_or_else(bad)?
                .try_into()
                .map_err(|_| bad())?,
        ) as usize;
        commands.push(Bytes::copy_from_slice(
            rest.get(4..4 + len).ok_or_else(bad)?,
        ));
        rest = &rest[4 + len..];
    }
    Ok((index, commands))
}

impl StateMachine for ListSm {
    type Output = Output;

    fn applied_index(&self) -> Index {
        self.applied
    }

    fn apply(&mut self, entries: &Entries) -> io::Result<Vec<Output>> {
        let mut out = Vec::new();
        for e in entries.iter() {
            if let EntryPayload::Command(c) = &e.payload {
                self.commands.push(c.clone());
                out.push((e.index, c.clone()));
            }
            self.applied = e.index;
        }
        self.publish();
        Ok(out)
    }

    fn snapshot(&mut self) -> io::Result<Box<dyn SnapshotSource>> {
        Ok(Box::new(ListSource {
            index: self.applied,
            commands: self.commands.clone(),
        }))
    }

    fn runs_inline(&self) -> bool {
        self.inline
    }

    fn restore(&mut self, last: LogId, data: &mut dyn SnapshotReader) -> io::Result<()> {
        let (index, commands) = decode(data)?;
        if index != last.index {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "snapshot index mismatch",
            ));
        }
        self.applied = index;
        self.commands = commands;
        self.publish();
        Ok(())
    }
}

/// What survives a node's crash: its log store and its snapshot store.
#[derive(Clone)]
pub struct Disk {
    pub log: MemLogStore,
    pub snapshots: MemSnapshotStore,
}

/// Moves the messages of one inbound channel to a channel of their own, as a transport with a
/// message channel delivers them.
fn split_inbox(mut inbound: mpsc::Receiver<Inbound>) -> Inbox {
    let (msg_tx, messages) = mpsc::channel(1024);
    let (other_tx, other) = mpsc::channel(16);
    tokio::spawn(async move {
        while let Some(m) = inbound.recv().await {
            let sent = match m {
                Inbound::Message(m) => msg_tx.send(m).await.is_ok(),
                m => other_tx.send(m).await.is_ok(),
            };
            if !sent {
                return;
            }
        }
    });
    Inbox { messages, other }
}

pub struct Cluster {
    pub net: MemNetwork,
    pub nodes: BTreeMap<u64, Node<Output>>,
    pub disks: BTreeMap<u64, Disk>,
    pub views: BTreeMap<u64, View>,
    pub tick: Duration,
    pub snapshot_every: u64,
}

impl Cluster {
    /// A cluster of `voters` (ids 1..=voters), started.
    pub fn new(voters: u64) -> Cluster {
        Cluster::with(voters, 0)
    }

    pub fn with(voters: u64, snapshot_every: u64) -> Cluster {
        let ids: Vec<NodeId> = (1..=voters).map(NodeId).collect();
        let mut c = Cluster {
            net: MemNetwork::new(),
            nodes: BTreeMap::new(),
            disks: BTreeMap::new(),
            views: BTreeMap::new(),
            tick: Duration::from_millis(10),
            snapshot_every,
        };
        for id in 1..=voters {
            let disk = Disk {
                log: MemLogStore::new(MemStorage::new(Membership::with_voters(
                    ids.iter().copied(),
                ))),
                snapshots: MemSnapshotStore::new(),
            };
            c.disks.insert(id, disk);
            c.start(id);
        }
        c
    }

    /// Adds an empty node (not a member yet) and starts it.
    pub fn add_empty(&mut self, id: u64) {
        self.disks.insert(
            id,
            Disk {
                log: MemLogStore::new(MemStorage::default()),
                snapshots: MemSnapshotStore::new(),
            },
        );
        self.start(id);
    }

    /// Starts (or restarts) node `id` from its disk; its state machine is rebuilt from the latest
    /// snapshot, as a real application does.
    pub fn start(&mut self, id: u64) {
        let disk = self.disks[&id].clone();
        // Cover both ways of running the workers: odd nodes apply on the driver task, even nodes
        // persist on the persistence thread.
        let mut sm = ListSm {
            inline: id % 2 == 1,
            ..ListSm::default()
        };
        let snap = disk.log.lock().snapshot().cloned();
        if let Some(meta) = snap {
            let mut data = disk.snapshots.open(meta.last).expect("snapshot data kept");
            sm.restore(meta.last, &mut *data).expect("snapshot decodes");
        }
        self.views.insert(id, Arc::clone(&sm.view));
        sm.publish();
        let mut raft = Config::new(NodeId(id));
        raft.election_ticks = 10;
        raft.heartbeat_ticks = 2;
        let mut cfg = NodeConfig::new(raft);
        cfg.tick = self.tick;
        cfg.snapshot_every = self.snapshot_every;
        cfg.compaction_keep = 5;
        cfg.seed = Some(id);
        let (transport, inbound) = self.net.join(NodeId(id));
        let log = if id % 2 == 0 {
            disk.log.clone().on_thread()
        } else {
            disk.log.clone()
        };
        // Cover both kinds of inbox: from node 3 on, messages come on a channel of their own.
        let inbox = if id >= 3 {
            split_inbox(inbound)
        } else {
            inbound.into()
        };
        let node = Node::start(
            cfg,
            sm,
            log,
            Arc::new(disk.snapshots.clone()),
            transport,
            inbox,
        )
        .expect("node starts");
        self.nodes.insert(id, node);
    }

    /// Stops node `id` cleanly and disconnects it.
    pub async fn stop(&mut self, id: u64) {
        if let Some(n) = self.nodes.remove(&id) {
            self.net.leave(NodeId(id));
            n.shutdown().await;
        }
    }

    /// Waits for a leader among the running nodes that all running nodes agree on.
    pub async fn leader(&self) -> u64 {
        for _ in 0..500 {
            let leaders: Vec<u64> = self
                .nodes
                .iter()
                .filter(|(_, n)| n.watch_state().borrow().role == Role::Leader)
                .map(|(id, _)| *id)
                .collect();
            if leaders.len() == 1 {
                let l = leaders[0];
                if self.nodes.values().all(|n| n.leader() == Some(NodeId(l))) {
                    return l;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no leader elected");
    }

    /// What node `id` has applied.
    pub fn applied(&self, id: u64) -> (Index, Vec<Bytes>) {
        self.views[&id].lock().unwrap().clone()
    }

    /// Waits until every running node has applied at least `index`.
    pub async fn converge(&self, index: Index) {
        for _ in 0..1000 {
            if self.nodes.keys().all(|id| self.applied(*id).0 >= index) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let got: Vec<_> = self
            .nodes
            .keys()
            .map(|id| (*id, self.applied(*id).0))
            .collect();
        panic!("nodes did not converge to {index:?}: {got:?}");
    }
}
