//! Helpers shared by the integration tests: clusters on 127.0.0.1, a raw QUIC client that can
//! send anything, log capture.
#![allow(dead_code, missing_docs)]

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use quinn::crypto::rustls::QuicClientConfig;
use raft_core::{Heartbeat, Index, Message, MessageBody, NodeId, Term};
use raft_transport_quic::certs::{ClusterCa, NodeCert};
use raft_transport_quic::{Inbox, TlsMaterial, Transport, TransportConfig};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub const CLUSTER: &str = "test";

/// Logs go to a shared buffer (for assertions on log lines) and to the test output.
#[derive(Clone)]
struct Capture;

static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.get_or_init(Default::default)
            .lock()
            .unwrap()
            .extend_from_slice(buf);
        if std::env::var_os("TEST_LOG").is_some() {
            eprint!("{}", String::from_utf8_lossy(buf));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the log capture (once per test binary).
pub fn init_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(|| Capture)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// Everything logged so far by this test binary.
pub fn logs() -> String {
    String::from_utf8_lossy(&LOGS.get_or_init(Default::default).lock().unwrap()).into_owned()
}

/// Whether `needle` is logged within two seconds.
pub async fn logged(needle: &str) -> bool {
    wait_until(Duration::from_secs(2), || logs().contains(needle)).await
}

/// Timeouts and backoff short enough for tests.
pub fn config(id: u64, tls: TlsMaterial) -> TransportConfig {
    let mut c = TransportConfig::new(NodeId(id), CLUSTER, "127.0.0.1:0".parse().unwrap(), tls);
    c.timeouts.connect = Duration::from_secs(2);
    c.timeouts.handshake = Duration::from_secs(2);
    c.timeouts.idle = Duration::from_secs(3);
    c.timeouts.keep_alive = Duration::from_millis(500);
    c.backoff.initial = Duration::from_millis(20);
    c.backoff.max = Duration::from_millis(300);
    c
}

pub struct Node {
    pub id: NodeId,
    pub cert: NodeCert,
    pub transport: Transport,
    pub inbox: Inbox,
    pub addr: SocketAddr,
}

pub struct Cluster {
    pub ca: ClusterCa,
    pub nodes: Vec<Node>,
}

impl Cluster {
    pub fn addrs(&self) -> BTreeMap<NodeId, SocketAddr> {
        self.nodes.iter().map(|n| (n.id, n.addr)).collect()
    }

    pub fn node(&mut self, id: u64) -> &mut Node {
        self.nodes.iter_mut().find(|n| n.id == NodeId(id)).unwrap()
    }
}

/// Binds nodes `1..=n` on 127.0.0.1 and tells each about the others; waits until every node
/// is connected to every other.
pub async fn cluster(n: u64, tweak: impl Fn(&mut TransportConfig)) -> Cluster {
    init_logs();
    let ca = ClusterCa::generate(CLUSTER).unwrap();
    let mut nodes = Vec::new();
    for id in 1..=n {
        let cert = ca.issue_node(NodeId(id), &[]).unwrap();
        let mut cfg = config(id, cert.tls_material(&ca));
        tweak(&mut cfg);
        let (transport, inbox) = Transport::bind(cfg).unwrap();
        let addr = transport.local_addr().unwrap();
        nodes.push(Node {
            id: NodeId(id),
            cert,
            transport,
            inbox,
            addr,
        });
    }
    let cluster = Cluster { ca, nodes };
    let addrs = cluster.addrs();
    for node in &cluster.nodes {
        node.transport.set_peers(addrs.clone());
    }
    for node in &cluster.nodes {
        for peer in addrs.keys().filter(|p| **p != node.id) {
            assert!(
                wait_until(Duration::from_secs(10), || node
                    .transport
                    .is_connected(*peer))
                .await,
                "{} never connected to {}",
                node.id,
                peer
            );
        }
    }
    cluster
}

pub fn heartbeat(from: u64, to: u64, n: u64) -> Message {
    Message {
        from: NodeId(from),
        to: NodeId(to),
        term: Term(1),
        body: MessageBody::Heartbeat(Heartbeat {
            commit: Index(n),
            read_round: n,
        }),
    }
}

/// Polls `cond` every 10 ms until it holds or `limit` passes.
pub async fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The next message within `limit`.
pub async fn recv_within(inbox: &mut Inbox, limit: Duration) -> Option<Message> {
    tokio::time::timeout(limit, inbox.messages.recv())
        .await
        .ok()
        .flatten()
}

/// Runs `fut` with a deadline, failing the test when it passes.
pub async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: not done within {limit:?}"),
    }
}

/// A bare QUIC client with arbitrary TLS material and ALPN, to play a misbehaving peer.
pub struct RawClient {
    pub endpoint: quinn::Endpoint,
    pub conn: quinn::Connection,
}

/// Connects to `server` as a client presenting `cert_pem`/`key_pem`, trusting `ca_pem`, dialing
/// `server_name` and offering `alpn`. Succeeds only if the server accepts (sends its hello).
pub async fn raw_connect(
    server: SocketAddr,
    server_name: &str,
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
    alpn: &[&[u8]],
) -> Result<RawClient, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let chain: Vec<_> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
    tls.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let client = quinn::ClientConfig::new(Arc::new(QuicClientConfig::try_from(tls).unwrap()));
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    let conn = endpoint
        .connect_with(client, server, server_name)
        .map_err(|e| e.to_string())?
        .await
        .map_err(|e| e.to_string())?;
    // Accepted once the server says hello.
    let hello = tokio::time::timeout(Duration::from_secs(3), conn.accept_uni()).await;
    match hello {
        Ok(Ok(mut s)) => {
            let _ = s.read_to_end(256).await;
            Ok(RawClient { endpoint, conn })
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no hello".into()),
    }
}

/// The QUIC ALPN of wire version 1.
pub const ALPN: &[u8] = b"raft/1";
