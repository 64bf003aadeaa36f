//! Mutual TLS and identity: self-signed, wrong-cluster and ambiguous certificates are refused;
//! a node certificate cannot be used to claim another id; unknown members and incompatible
//! protocol versions are refused, with a clear log line.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use raft_core::NodeId;
use raft_transport_quic::certs::{self, ClusterCa};
use raft_transport_quic::identity::IdentityError;
use raft_transport_quic::{BindError, TlsError, Transport};
use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, Issuer, KeyPair};

/// A certificate with arbitrary DNS names, signed by `ca` (or self-signed).
fn custom_cert(ca: Option<&ClusterCa>, names: &[&str]) -> (String, String) {
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let key = KeyPair::generate().unwrap();
    let cert = match ca {
        Some(ca) => {
            let issuer =
                Issuer::from_ca_cert_pem(ca.cert_pem(), KeyPair::from_pem(ca.key_pem()).unwrap())
                    .unwrap();
            params.signed_by(&key, &issuer).unwrap()
        }
        None => params.self_signed(&key).unwrap(),
    };
    (cert.pem(), key.serialize_pem())
}

/// Nothing arrives in `inbox` for a while.
async fn hears_nothing(node: &mut Node) -> bool {
    recv_within(&mut node.inbox, Duration::from_millis(500))
        .await
        .is_none()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_signed_and_wrong_cluster_certificates_are_refused() {
    let mut c = cluster(1, |_| {}).await;
    let ca = c.ca.clone();
    let n1 = c.node(1);

    // A self-signed certificate naming node 2, as a client: refused by node 1.
    n1.transport
        .add_peer(NodeId(2), "127.0.0.1:9".parse().unwrap());
    let (cert, key) = custom_cert(None, &["node-2.test"]);
    let r = raw_connect(n1.addr, "node-1.test", ca.cert_pem(), &cert, &key, &[ALPN]).await;
    assert!(r.is_err(), "a self-signed client was accepted");
    assert!(
        wait_until(Duration::from_secs(2), || n1
            .transport
            .metrics()
            .inbound_refused
            >= 1)
        .await
    );

    // A self-signed node certificate cannot even be configured.
    let mut cfg = config(
        2,
        certs::generate_node(&c.ca, NodeId(2), &[])
            .unwrap()
            .tls_material(&c.ca),
    );
    cfg.tls.cert_pem = cert;
    cfg.tls.key_pem = key;
    assert!(matches!(
        Transport::bind(cfg),
        Err(BindError::Tls(TlsError::NotTrusted(_)))
    ));

    // A node of another cluster (its own CA, even with the same cluster name and node id 2)
    // at node 2's address: neither side accepts the other, nothing is delivered.
    let other_ca = certs::generate_ca(CLUSTER).unwrap();
    let other = certs::generate_node(&other_ca, NodeId(2), &[]).unwrap();
    let mut cfg = config(2, other.tls_material(&other_ca));
    cfg.peers = BTreeMap::from([(NodeId(1), c.node(1).addr)]);
    let (t2, inbox2) = Transport::bind(cfg).unwrap();
    let mut impostor = Node {
        id: NodeId(2),
        cert: other,
        addr: t2.local_addr().unwrap(),
        transport: t2,
        inbox: inbox2,
    };
    let before = c.node(1).transport.metrics();
    c.node(1).transport.add_peer(NodeId(2), impostor.addr);
    for n in 1..=30 {
        let _ = c.node(1).transport.send(heartbeat(1, 2, n));
        let _ = impostor.transport.send(heartbeat(2, 1, n));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(hears_nothing(&mut impostor).await);
    assert!(hears_nothing(c.node(1)).await);
    let after = c.node(1).transport.metrics();
    assert!(
        after.connect_failures > before.connect_failures,
        "{after:?}"
    );
    assert!(after.inbound_refused > before.inbound_refused, "{after:?}");
    assert_eq!(after.connects, 0);
    assert_eq!(impostor.transport.metrics().connects, 0);
    assert!(!c.node(1).transport.is_connected(NodeId(2)));
    let u = c.node(1).inbox.unreachable.try_recv().unwrap();
    assert_eq!(u.peer, NodeId(2));
    assert!(
        logged("certificate refused").await,
        "no clear log line:\n{}",
        logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_certificate_cannot_claim_another_id() {
    let mut c = cluster(3, |_| {}).await;
    let cert3 = c.node(3).cert.clone();

    // Configuring node 3's certificate as node 2 fails at once.
    let cfg = config(2, cert3.tls_material(&c.ca));
    assert!(matches!(
        Transport::bind(cfg),
        Err(BindError::Tls(TlsError::Identity(
            IdentityError::Mismatch {
                expected: NodeId(2),
                found: NodeId(3)
            }
        )))
    ));

    // A server holding node 3's certificate where node 1 expects node 2: node 1 refuses it.
    let mut cfg = config(3, cert3.tls_material(&c.ca));
    cfg.peers = BTreeMap::from([(NodeId(1), c.node(1).addr)]);
    let (t, inbox) = Transport::bind(cfg).unwrap();
    let mut impostor = Node {
        id: NodeId(3),
        cert: cert3.clone(),
        addr: t.local_addr().unwrap(),
        transport: t,
        inbox,
    };
    let before = c.node(1).transport.metrics().connect_failures;
    c.node(1).transport.add_peer(NodeId(2), impostor.addr);
    for n in 1..=30 {
        let _ = c.node(1).transport.send(heartbeat(1, 2, n));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(hears_nothing(&mut impostor).await);
    assert!(c.node(1).transport.metrics().connect_failures > before);
    assert!(!c.node(1).transport.is_connected(NodeId(2)));
    drop(impostor);

    // A client holding node 3's certificate that writes messages "from node 2": dropped. (Node
    // 3's own transport stops, so as not to supersede the raw client's connection.)
    c.node(3).transport.shutdown().await;
    let n1_addr = c.node(1).addr;
    let raw = raw_connect(
        n1_addr,
        "node-1.test",
        c.ca.cert_pem(),
        &cert3.cert_pem,
        &cert3.key_pem,
        &[ALPN],
    )
    .await
    .expect("node 3 is a member");
    let mut s = raw.conn.open_uni().await.unwrap();
    let mut buf = vec![0x01];
    for (from, n) in [(2, 1), (2, 2), (3, 3)] {
        let msg = heartbeat(from, 1, n);
        let payload = postcard::to_allocvec(&msg).unwrap();
        buf.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        buf.extend_from_slice(&payload);
    }
    s.write_all(&buf).await.unwrap();
    s.finish().unwrap();
    let m = recv_within(&mut c.node(1).inbox, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(m.from, NodeId(3), "only the genuine message arrives");
    assert!(
        wait_until(Duration::from_secs(2), || c.nodes[0]
            .transport
            .metrics()
            .dropped_spoofed
            == 2)
        .await
    );
    assert!(logged("dropping messages whose sender is not the authenticated peer").await);

    // A certificate naming two nodes is refused as ambiguous; one naming a node of another
    // cluster carries no identity here.
    for names in [&["node-2.test", "node-3.test"][..], &["node-2.other"][..]] {
        let (cert, key) = custom_cert(Some(&c.ca), names);
        let r = raw_connect(
            n1_addr,
            "node-1.test",
            c.ca.cert_pem(),
            &cert,
            &key,
            &[ALPN],
        )
        .await;
        assert!(r.is_err(), "{names:?} accepted");
    }
    assert!(logged("several node identities").await, "{}", logs());
    assert!(
        logged("carries no node identity `node-<id>.test`").await,
        "{}",
        logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_members_are_refused() {
    let mut c = cluster(2, |_| {}).await;
    let cert4 = c.ca.issue_node(NodeId(4), &[]).unwrap();
    let n1 = c.node(1);
    let r = raw_connect(
        n1.addr,
        "node-1.test",
        c.ca.cert_pem(),
        &cert4.cert_pem,
        &cert4.key_pem,
        &[ALPN],
    )
    .await;
    let err = r.err().expect("an unknown member was accepted");
    assert!(err.contains("not a known member"), "{err}");
    assert!(logged("node 4 is not a known member").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incompatible_protocol_version_is_refused_with_a_clear_log_line() {
    let mut c = cluster(2, |_| {}).await;
    let cert2 = c.node(2).cert.clone();
    let ca = c.ca.clone();
    let n1 = c.node(1);
    let r = raw_connect(
        n1.addr,
        "node-1.test",
        ca.cert_pem(),
        &cert2.cert_pem,
        &cert2.key_pem,
        &[b"raft/2"],
    )
    .await;
    let err = r.err().expect("a raft/2-only peer was accepted");
    eprintln!("client saw: {err}");
    assert!(
        err.contains("120"),
        "no_application_protocol alert expected: {err}"
    );
    assert!(
        wait_until(Duration::from_secs(2), || n1
            .transport
            .metrics()
            .inbound_refused
            >= 1)
        .await
    );
    assert!(
        logged("incompatible protocol version: no common ALPN protocol (this node speaks raft/1)")
            .await,
        "{}",
        logs()
    );
    // A peer offering several versions, ours among them, is accepted.
    assert!(
        raw_connect(
            n1.addr,
            "node-1.test",
            ca.cert_pem(),
            &cert2.cert_pem,
            &cert2.key_pem,
            &[b"raft/2", ALPN]
        )
        .await
        .is_ok()
    );
}
