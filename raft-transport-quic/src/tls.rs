//! rustls and quinn configuration: mutual TLS 1.3 against the cluster CA, ALPN versioning, and
//! the stateless-reset key.

use std::sync::Arc;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use raft_core::NodeId;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, version::TLS13};

use crate::config::{TlsMaterial, TransportConfig};
use crate::error::TlsError;
use crate::identity::{IdentityError, node_dns_name, node_ids_in_cert};
use crate::wire::ALPN_PROTOCOLS;

/// The QUIC configurations of one node.
pub(crate) struct QuicSetup {
    /// Accepting connections.
    pub(crate) server: quinn::ServerConfig,
    /// Dialing peers.
    pub(crate) client: quinn::ClientConfig,
    /// The key stateless-reset tokens are derived from.
    pub(crate) reset_key: Arc<ring::hmac::Key>,
    /// The key connection ids are signed with.
    pub(crate) cid_key: u64,
}

impl QuicSetup {
    /// The endpoint configuration. Its keys derive from the node's private key, so that a
    /// restarted node (same key) recognises the connection ids of its previous incarnation and
    /// answers their packets with stateless resets: its peers drop their stale connections at
    /// once and reconnect, instead of waiting for the idle timeout.
    pub(crate) fn endpoint_config(&self) -> quinn::EndpointConfig {
        let mut config = quinn::EndpointConfig::new(self.reset_key.clone());
        let cid_key = self.cid_key;
        config.cid_generator(move || {
            Box::new(quinn_proto::HashedConnectionIdGenerator::from_key(cid_key))
        });
        config
    }
}

/// Builds the server and client configurations from the node's TLS material, after checking
/// that its certificate carries exactly `config.node_id` and chains to the cluster CA.
pub(crate) fn build(config: &TransportConfig) -> Result<QuicSetup, TlsError> {
    let material = &config.tls;
    let (roots, chain, key) = load(material)?;
    let cluster = &config.cluster_name;
    let id = config.node_id;

    let ids = node_ids_in_cert(&chain[0], cluster)?;
    match ids.as_slice() {
        [found] if *found == id => {}
        [found] => {
            return Err(IdentityError::Mismatch {
                expected: id,
                found: *found,
            }
            .into());
        }
        [] => {
            return Err(IdentityError::NoNodeName {
                cluster: cluster.clone(),
            }
            .into());
        }
        _ => return Err(IdentityError::Ambiguous(ids).into()),
    }

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = Arc::new(roots);
    let server_verifier =
        WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|e| TlsError::Verifier(e.to_string()))?;
    // Our own certificate must be one our peers will accept.
    let own_name = ServerName::try_from(node_dns_name(cluster, id))
        .map_err(|e| TlsError::Verifier(e.to_string()))?;
    server_verifier
        .verify_server_cert(&chain[0], &chain[1..], &own_name, &[], UnixTime::now())
        .map_err(TlsError::NotTrusted)?;
    let client_verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| TlsError::Verifier(e.to_string()))?;

    let alpn: Vec<Vec<u8>> = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();

    let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&TLS13])?
        .with_client_cert_verifier(client_verifier)
        .with_single_cert(chain.clone(), key.clone_key())?;
    server.alpn_protocols = alpn.clone();
    // No resumption: every connection presents and verifies a full certificate chain.
    server.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    server.send_tls13_tickets = 0;

    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&TLS13])?
        .with_webpki_verifier(server_verifier)
        .with_client_auth_cert(chain, key.clone_key())?;
    client.alpn_protocols = alpn;
    client.resumption = rustls::client::Resumption::disabled();

    let transport = Arc::new(transport_config(config)?);
    let server_crypto =
        QuicServerConfig::try_from(server).map_err(|e| TlsError::Quic(e.to_string()))?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(server_crypto));
    server.transport_config(transport.clone());
    server.migration(false);
    // Handshakes in progress at once: a cluster has few peers; this bounds what unauthenticated
    // traffic can make the node work on.
    server.max_incoming(256);
    let client_crypto =
        QuicClientConfig::try_from(client).map_err(|e| TlsError::Quic(e.to_string()))?;
    let mut client = quinn::ClientConfig::new(Arc::new(client_crypto));
    client.transport_config(transport);

    let (reset_key, cid_key) = derived_keys(&key);
    Ok(QuicSetup {
        server,
        client,
        reset_key: Arc::new(reset_key),
        cid_key,
    })
}

/// Parses the PEM inputs.
fn load(
    material: &TlsMaterial,
) -> Result<
    (
        RootCertStore,
        Vec<CertificateDer<'static>>,
        PrivateKeyDer<'static>,
    ),
    TlsError,
> {
    let pem_err = |what: &'static str| {
        move |e: rustls::pki_types::pem::Error| TlsError::Pem {
            what,
            detail: e.to_string(),
        }
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(material.ca_cert_pem.as_bytes()) {
        roots
            .add(cert.map_err(pem_err("CA certificate"))?)
            .map_err(|e| TlsError::Pem {
                what: "CA certificate",
                detail: e.to_string(),
            })?;
    }
    if roots.is_empty() {
        return Err(TlsError::Pem {
            what: "CA certificate",
            detail: "no certificate found".into(),
        });
    }
    let chain = CertificateDer::pem_slice_iter(material.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_err("node certificate"))?;
    if chain.is_empty() {
        return Err(TlsError::Pem {
            what: "node certificate",
            detail: "no certificate found".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(material.key_pem.as_bytes())
        .map_err(pem_err("node private key"))?;
    Ok((roots, chain, key))
}

/// QUIC transport parameters from the configured limits.
fn transport_config(config: &TransportConfig) -> Result<quinn::TransportConfig, TlsError> {
    let flow = &config.flow;
    let varint = |v: u64, what: &str| {
        quinn::VarInt::from_u64(v).map_err(|_| TlsError::Quic(format!("{what} is too large")))
    };
    let mut t = quinn::TransportConfig::default();
    t.max_concurrent_uni_streams(flow.max_message_streams.into())
        .max_concurrent_bidi_streams(flow.max_snapshot_streams.into())
        .stream_receive_window(flow.stream_receive_window.into())
        .receive_window(varint(
            flow.connection_receive_window,
            "flow.connection_receive_window",
        )?)
        .send_window(flow.send_window)
        .max_idle_timeout(Some(
            quinn::IdleTimeout::try_from(config.timeouts.idle)
                .map_err(|_| TlsError::Quic("timeouts.idle is too large".into()))?,
        ))
        .keep_alive_interval(Some(config.timeouts.keep_alive))
        .initial_rtt(config.timeouts.initial_rtt);
    Ok(t)
}

/// The stateless-reset key and the connection-id key, derived from the node's private key
/// (see [`QuicSetup::endpoint_config`]).
fn derived_keys(key: &PrivateKeyDer<'_>) -> (ring::hmac::Key, u64) {
    let secret = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.secret_der());
    let reset = ring::hmac::sign(&secret, b"raft-transport-quic stateless reset key v1");
    let cid = ring::hmac::sign(&secret, b"raft-transport-quic connection id key v1");
    let mut cid_key = [0u8; 8];
    cid_key.copy_from_slice(&cid.as_ref()[..8]);
    (
        ring::hmac::Key::new(ring::hmac::HMAC_SHA256, reset.as_ref()),
        u64::from_le_bytes(cid_key),
    )
}

/// Checks that the connection negotiated a protocol version we speak.
pub(crate) fn check_alpn(conn: &quinn::Connection) -> Result<(), String> {
    let protocol = conn
        .handshake_data()
        .and_then(|d| d.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
        .and_then(|d| d.protocol);
    match protocol {
        Some(p) if ALPN_PROTOCOLS.contains(&p.as_slice()) => Ok(()),
        Some(p) => Err(format!(
            "the peer negotiated protocol {:?}, which this node does not speak",
            String::from_utf8_lossy(&p)
        )),
        None => Err("the peer offered no protocol version (ALPN)".into()),
    }
}

/// The TLS server name this node dials `peer` with.
pub(crate) fn server_name(cluster: &str, peer: NodeId) -> String {
    node_dns_name(cluster, peer)
}
