//! Generating a cluster CA and node certificates (rcgen, ECDSA P-256).
//!
//! ```
//! use raft_core::NodeId;
//! use raft_transport_quic::certs;
//!
//! let ca = certs::generate_ca("prod")?;
//! let node = certs::generate_node(&ca, NodeId(1), &["10.0.0.1".into(), "db1.internal".into()])?;
//! assert!(node.cert_pem.contains("BEGIN CERTIFICATE"));
//! // Each node gets the CA's certificate (never its key), its own certificate and its own key.
//! let tls = node.tls_material(&ca);
//! # let _ = tls;
//! # Ok::<(), raft_transport_quic::certs::CertError>(())
//! ```
//!
//! The CA key signs every node certificate of the cluster: keep it offline. Node certificates are
//! valid for [`NODE_VALIDITY_DAYS`] days, the CA for [`CA_VALIDITY_DAYS`].

use std::net::IpAddr;

use raft_core::NodeId;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use ring::rand::SecureRandom;
use rustls::pki_types::ServerName;
use time::{Duration, OffsetDateTime};

use crate::config::TlsMaterial;
use crate::identity::{
    InvalidClusterName, node_dns_name, parse_node_dns_name, validate_cluster_name,
};

/// How long a generated CA certificate is valid.
pub const CA_VALIDITY_DAYS: i64 = 3650;
/// How long a generated node certificate is valid.
pub const NODE_VALIDITY_DAYS: i64 = 825;

/// Why a certificate could not be generated or loaded.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// The cluster name cannot form node names.
    #[error(transparent)]
    ClusterName(#[from] InvalidClusterName),
    /// An extra subject alternative name is itself a node name of the cluster: a certificate
    /// must carry exactly one node identity.
    #[error("extra name {0:?} is a node identity; a certificate carries exactly one")]
    ReservedName(String),
    /// An extra subject alternative name is neither an IP address nor a valid DNS name.
    #[error("extra name {0:?} is neither an IP address nor a DNS name")]
    InvalidName(String),
    /// rcgen failed (bad PEM, unsupported key, ...).
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
}

/// A cluster's certificate authority: its certificate and its signing key, in PEM.
#[derive(Clone)]
pub struct ClusterCa {
    cluster_name: String,
    cert_pem: String,
    key_pem: String,
}

impl std::fmt::Debug for ClusterCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterCa")
            .field("cluster_name", &self.cluster_name)
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl ClusterCa {
    /// Generates a new CA for `cluster_name` (see [`validate_cluster_name`]).
    pub fn generate(cluster_name: &str) -> Result<Self, CertError> {
        validate_cluster_name(cluster_name)?;
        let key = KeyPair::generate()?;
        let params = ca_params(cluster_name)?;
        let cert = params.self_signed(&key)?;
        Ok(Self {
            cluster_name: cluster_name.to_owned(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Loads a CA saved earlier (or made by another tool) to issue more node certificates.
    pub fn from_pem(cluster_name: &str, cert_pem: &str, key_pem: &str) -> Result<Self, CertError> {
        validate_cluster_name(cluster_name)?;
        let key = KeyPair::from_pem(key_pem)?;
        // Parse both now so that a bad file fails here, not at the first issue.
        Issuer::from_ca_cert_pem(cert_pem, key)?;
        Ok(Self {
            cluster_name: cluster_name.to_owned(),
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
        })
    }

    /// The cluster this CA certifies nodes of.
    #[must_use]
    pub fn cluster_name(&self) -> &str {
        &self.cluster_name
    }

    /// The CA certificate, PEM: every node trusts it ([`TlsMaterial::ca_cert_pem`]).
    #[must_use]
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA's private key, PEM. Keep it secret, ideally offline.
    #[must_use]
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// Issues a certificate for `node_id`. It carries the node identity
    /// `node-<id>.<cluster>` and, for operators and other tools, `extra_sans` (IP addresses or
    /// DNS names; none may be a node identity of this cluster).
    pub fn issue_node(
        &self,
        node_id: NodeId,
        extra_sans: &[String],
    ) -> Result<NodeCert, CertError> {
        let mut sans = vec![SanType::DnsName(
            node_dns_name(&self.cluster_name, node_id).try_into()?,
        )];
        for extra in extra_sans {
            if let Ok(ip) = extra.parse::<IpAddr>() {
                sans.push(SanType::IpAddress(ip));
                continue;
            }
            if parse_node_dns_name(&self.cluster_name, extra).is_some() {
                return Err(CertError::ReservedName(extra.clone()));
            }
            if !matches!(
                ServerName::try_from(extra.as_str()),
                Ok(ServerName::DnsName(_))
            ) {
                return Err(CertError::InvalidName(extra.clone()));
            }
            sans.push(SanType::DnsName(extra.clone().try_into()?));
        }

        let mut params = CertificateParams::default();
        params.subject_alt_names = sans;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            node_dns_name(&self.cluster_name, node_id),
        );
        dn.push(
            DnType::OrganizationName,
            format!("raft cluster {}", self.cluster_name),
        );
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, NODE_VALIDITY_DAYS)?;

        let ca_key = KeyPair::from_pem(&self.key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(&self.cert_pem, ca_key)?;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &issuer)?;
        Ok(NodeCert {
            node_id,
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// A node's certificate and private key, in PEM.
#[derive(Clone)]
pub struct NodeCert {
    /// The node the certificate identifies.
    pub node_id: NodeId,
    /// The certificate, signed by the cluster CA.
    pub cert_pem: String,
    /// The node's private key (PKCS#8). Keep it secret.
    pub key_pem: String,
}

impl std::fmt::Debug for NodeCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCert")
            .field("node_id", &self.node_id)
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl NodeCert {
    /// The TLS material a node configures its transport with: the CA's certificate (not its
    /// key), this certificate and this key.
    #[must_use]
    pub fn tls_material(&self, ca: &ClusterCa) -> TlsMaterial {
        TlsMaterial {
            ca_cert_pem: ca.cert_pem.clone(),
            cert_pem: self.cert_pem.clone(),
            key_pem: self.key_pem.clone(),
        }
    }
}

/// Generates a new CA for `cluster_name`. Same as [`ClusterCa::generate`].
pub fn generate_ca(cluster_name: &str) -> Result<ClusterCa, CertError> {
    ClusterCa::generate(cluster_name)
}

/// Issues a certificate for `node_id`, signed by `ca`. Same as [`ClusterCa::issue_node`].
pub fn generate_node(
    ca: &ClusterCa,
    node_id: NodeId,
    extra_sans: &[String],
) -> Result<NodeCert, CertError> {
    ca.issue_node(node_id, extra_sans)
}

fn ca_params(cluster_name: &str) -> Result<CertificateParams, CertError> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        format!("raft cluster {cluster_name} CA"),
    );
    dn.push(
        DnType::OrganizationName,
        format!("raft cluster {cluster_name}"),
    );
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut params, CA_VALIDITY_DAYS)?;
    Ok(params)
}

/// Valid from a day ago (clock skew) for `days` days, with a random 128-bit serial number.
fn set_validity(params: &mut CertificateParams, days: i64) -> Result<(), CertError> {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(days);
    let mut serial = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut serial)
        .map_err(|_| CertError::Random)?;
    serial[0] &= 0x7f; // positive
    serial[0] |= 0x01; // no leading zero byte
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{node_id_from_cert, node_ids_in_cert};
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    fn der(pem: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
    }

    #[test]
    fn node_certificates_carry_exactly_their_id() {
        let ca = generate_ca("test").unwrap();
        let node =
            generate_node(&ca, NodeId(7), &["127.0.0.1".into(), "a.example".into()]).unwrap();
        assert_eq!(
            node_id_from_cert(&der(&node.cert_pem), "test"),
            Ok(NodeId(7))
        );
        assert_eq!(node_ids_in_cert(&der(&node.cert_pem), "other"), Ok(vec![]));
    }

    #[test]
    fn a_second_node_identity_cannot_be_added() {
        let ca = generate_ca("test").unwrap();
        let err = generate_node(&ca, NodeId(1), &["node-2.test".into()]).unwrap_err();
        assert!(matches!(err, CertError::ReservedName(_)));
        assert!(generate_node(&ca, NodeId(1), &["not a name!".into()]).is_err());
    }

    #[test]
    fn a_saved_ca_issues_more_certificates() {
        let ca = generate_ca("test").unwrap();
        let loaded = ClusterCa::from_pem("test", ca.cert_pem(), ca.key_pem()).unwrap();
        let node = loaded.issue_node(NodeId(3), &[]).unwrap();
        assert_eq!(
            node_id_from_cert(&der(&node.cert_pem), "test"),
            Ok(NodeId(3))
        );
        assert!(ClusterCa::from_pem("test", "garbage", ca.key_pem()).is_err());
        assert!(generate_ca("Bad Name").is_err());
    }
}
