//! `raft-kv`: the replicated key-value server.
//!
//! ```text
//! raft-kv dev                          a 3-node cluster on this machine, clients on 6379-6381
//! raft-kv serve --config node.toml     one node of a real cluster
//! raft-kv certs --cluster NAME --out DIR --nodes 1,2,3
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use raft_kv::config::ServerConfig;
use raft_kv::run::{Running, dev_configs};

/// mimalloc instead of glibc's malloc: requests, entries and replies are many small buffers
/// allocated on one thread and freed on another, where glibc's arenas spend a tenth of the
/// server's CPU (measured with perf under load).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "raft-kv",
    version,
    about = "A replicated key-value server on Raft, speaking the Redis protocol"
)]
struct Cli {
    /// Log filter (tracing's EnvFilter syntax), e.g. `info`, `raft_kv=debug`.
    #[arg(long, env = "RAFT_KV_LOG", default_value = "info", global = true)]
    log: String,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Runs a local cluster of 3 nodes in this process: real QUIC between the nodes, RocksDB
    /// under the data directory, certificates made on first start. Restarting resumes from the
    /// data on disk; Ctrl-C stops cleanly.
    Dev {
        /// Where the nodes keep their data.
        #[arg(long, default_value = "raft-kv-dev")]
        dir: PathBuf,
        /// The first client port (the others follow).
        #[arg(long, default_value_t = 6379)]
        port: u16,
        /// How many nodes.
        #[arg(long, default_value_t = 3)]
        nodes: u64,
        /// Require clients to AUTH with this password.
        #[arg(long, env = "RAFT_KV_PASSWORD")]
        password: Option<String>,
    },
    /// Runs one node of a cluster.
    Serve {
        /// The node's configuration file (TOML).
        #[arg(long)]
        config: PathBuf,
        /// Overrides the node id.
        #[arg(long)]
        id: Option<u64>,
        /// Overrides the client address.
        #[arg(long)]
        client_addr: Option<SocketAddr>,
        /// Overrides the peer (QUIC) address.
        #[arg(long)]
        peer_addr: Option<SocketAddr>,
        /// Overrides the data directory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Overrides the client password.
        #[arg(long, env = "RAFT_KV_PASSWORD")]
        password: Option<String>,
        /// Overrides the tick length in milliseconds.
        #[arg(long)]
        tick_ms: Option<u64>,
        /// Start as a new node joining an existing cluster.
        #[arg(long)]
        join: bool,
    },
    /// Makes a cluster CA and node certificates (existing ones in the directory are kept).
    Certs {
        /// The cluster's name.
        #[arg(long)]
        cluster: String,
        /// Where to write the PEM files.
        #[arg(long)]
        out: PathBuf,
        /// The node ids to issue certificates for.
        #[arg(long, value_delimiter = ',')]
        nodes: Vec<u64>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("raft-kv: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("raft-kv: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cmd: Cmd) -> Result<(), Box<dyn std::error::Error>> {
    match cmd {
        Cmd::Certs {
            cluster,
            out,
            nodes,
        } => {
            let files = raft_kv::certs::ensure(&out, &cluster, &nodes)?;
            println!("CA: {}", out.join("ca.pem").display());
            for (id, f) in nodes.iter().zip(files) {
                println!("node {id}: {} {}", f.cert.display(), f.key.display());
            }
            Ok(())
        }
        Cmd::Dev {
            dir,
            port,
            nodes,
            password,
        } => {
            std::fs::create_dir_all(&dir)?;
            let configs = dev_configs(&dir, nodes, port, password)?;
            let mut running = Vec::new();
            for cfg in configs {
                let addr = cfg.client_addr;
                running.push(Running::start(cfg).await?);
                println!("node {} serving clients on {addr}", running.len());
            }
            println!(
                "raft-kv dev: {nodes} nodes, data in {}; try `redis-cli -p {port}`; Ctrl-C to stop",
                dir.display()
            );
            wait_for_stop().await;
            for r in running {
                r.shutdown().await;
            }
            Ok(())
        }
        Cmd::Serve {
            config,
            id,
            client_addr,
            peer_addr,
            data_dir,
            password,
            tick_ms,
            join,
        } => {
            let mut cfg = ServerConfig::load(&config)?;
            if let Some(v) = id {
                cfg.id = v;
            }
            if let Some(v) = client_addr {
                cfg.client_addr = v;
            }
            if let Some(v) = peer_addr {
                cfg.peer_addr = v;
            }
            if let Some(v) = data_dir {
                cfg.data_dir = v;
            }
            if password.is_some() {
                cfg.password = password;
            }
            if let Some(v) = tick_ms {
                cfg.raft.tick_ms = v;
            }
            cfg.join |= join;
            let r = Running::start(cfg).await?;
            wait_for_stop().await;
            r.shutdown().await;
            Ok(())
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn wait_for_stop() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("stopping");
}
