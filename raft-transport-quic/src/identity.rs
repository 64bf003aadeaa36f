//! How a node id is bound to a certificate.
//!
//! A node's certificate carries the DNS subject alternative name `node-<id>.<cluster>`
//! ([`node_dns_name`]), `<id>` in canonical decimal. A client dials a peer with that name as the
//! TLS server name, so standard WebPKI name verification proves the server holds the id dialed.
//! A server reads the name back from the client's verified certificate ([`node_id_from_cert`]):
//! the certificate must carry exactly one node name of this cluster.

use raft_core::NodeId;
use rustls::pki_types::ServerName;
use x509_parser::extensions::GeneralName;

/// Why a certificate does not identify a node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The certificate could not be parsed.
    #[error("the certificate cannot be parsed: {0}")]
    Unparsable(String),
    /// No subject alternative name `node-<id>.<cluster>` for this cluster.
    #[error("the certificate carries no node identity `node-<id>.{cluster}`")]
    NoNodeName {
        /// The cluster the identity was looked for in.
        cluster: String,
    },
    /// More than one node identity: the certificate is ambiguous and refused.
    #[error("the certificate carries several node identities ({0:?}); refused as ambiguous")]
    Ambiguous(Vec<NodeId>),
    /// The certificate carries another node's identity.
    #[error("the certificate is for node {found}, not node {expected}")]
    Mismatch {
        /// The id that was required.
        expected: NodeId,
        /// The id the certificate carries.
        found: NodeId,
    },
}

/// Why a cluster name cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid cluster name {0:?}: use lowercase DNS labels (a-z, 0-9, '-') separated by dots, \
     with a letter in the last label"
)]
pub struct InvalidClusterName(pub String);

/// The DNS name that binds `id` within `cluster`: `node-<id>.<cluster>`.
#[must_use]
pub fn node_dns_name(cluster: &str, id: NodeId) -> String {
    format!("node-{}.{}", id.0, cluster)
}

/// Checks that `cluster` can form node names: lowercase DNS labels of `a-z`, `0-9` and `-`,
/// separated by dots, 1 to 63 characters each, at most 200 in all, with a letter in the last
/// label (so that a node name never looks like an IP address).
pub fn validate_cluster_name(cluster: &str) -> Result<(), InvalidClusterName> {
    let bad = || InvalidClusterName(cluster.to_owned());
    if cluster.is_empty() || cluster.len() > 200 {
        return Err(bad());
    }
    for label in cluster.split('.') {
        let ok = (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(bad());
        }
    }
    let last = cluster.rsplit('.').next().unwrap_or_default();
    if !last.bytes().any(|b| b.is_ascii_lowercase()) {
        return Err(bad());
    }
    match ServerName::try_from(node_dns_name(cluster, NodeId(u64::MAX))) {
        Ok(ServerName::DnsName(_)) => Ok(()),
        _ => Err(bad()),
    }
}

/// The node id a DNS name binds within `cluster`, if it is a node name of that cluster.
/// Only canonical names match (no leading zeros, no sign); letters match case-insensitively,
/// as DNS names do.
#[must_use]
pub fn parse_node_dns_name(cluster: &str, name: &str) -> Option<NodeId> {
    let prefix = name.get(..5)?;
    if !prefix.eq_ignore_ascii_case("node-") {
        return None;
    }
    let (digits, rest) = name[5..].split_once('.')?;
    if !rest.eq_ignore_ascii_case(cluster) {
        return None;
    }
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
    {
        return None;
    }
    digits.parse::<u64>().ok().map(NodeId)
}

/// Every node id of `cluster` that the DER certificate names, in the order of its subject
/// alternative names.
pub fn node_ids_in_cert(cert_der: &[u8], cluster: &str) -> Result<Vec<NodeId>, IdentityError> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der)
        .map_err(|e| IdentityError::Unparsable(e.to_string()))?;
    let san = cert
        .subject_alternative_name()
        .map_err(|e| IdentityError::Unparsable(e.to_string()))?;
    let mut ids = Vec::new();
    if let Some(san) = san {
        for name in &san.value.general_names {
            if let GeneralName::DNSName(dns) = name {
                if let Some(id) = parse_node_dns_name(cluster, dns) {
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
            }
        }
    }
    Ok(ids)
}

/// The one node id of `cluster` that the DER certificate names.
pub fn node_id_from_cert(cert_der: &[u8], cluster: &str) -> Result<NodeId, IdentityError> {
    let ids = node_ids_in_cert(cert_der, cluster)?;
    match ids.as_slice() {
        [] => Err(IdentityError::NoNodeName {
            cluster: cluster.to_owned(),
        }),
        [id] => Ok(*id),
        _ => Err(IdentityError::Ambiguous(ids)),
    }
}

/// The node id of the peer of an established connection, read from its verified certificate.
pub(crate) fn peer_node_id(
    conn: &quinn::Connection,
    cluster: &str,
) -> Result<NodeId, IdentityError> {
    let chain = conn
        .peer_identity()
        .and_then(|any| {
            any.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
                .ok()
        })
        .ok_or_else(|| IdentityError::Unparsable("the peer presented no certificate".into()))?;
    let leaf = chain
        .first()
        .ok_or_else(|| IdentityError::Unparsable("the peer presented no certificate".into()))?;
    node_id_from_cert(leaf, cluster)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for id in [0, 1, 42, u64::MAX] {
            let name = node_dns_name("prod.raft", NodeId(id));
            assert_eq!(parse_node_dns_name("prod.raft", &name), Some(NodeId(id)));
        }
        assert_eq!(
            parse_node_dns_name("prod.raft", "NODE-7.Prod.Raft"),
            Some(NodeId(7))
        );
    }

    #[test]
    fn only_canonical_names_of_the_cluster_match() {
        for name in [
            "node-01.c",
            "node-+1.c",
            "node--1.c",
            "node-.c",
            "node-1.other",
            "node-1.c.evil",
            "node-1",
            "node-18446744073709551616.c", // u64::MAX + 1
            "xnode-1.c",
            "node-1x.c",
            "nodé-1.c",
            "",
        ] {
            assert_eq!(parse_node_dns_name("c", name), None, "{name}");
        }
    }

    #[test]
    fn cluster_names_are_checked() {
        for ok in ["c", "prod", "prod.raft", "raft-1.example"] {
            assert!(validate_cluster_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "Prod", "a..b", "-a", "a-", "a_b", "1", "a.1", "a b", "é",
        ] {
            assert!(validate_cluster_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_cluster_name(&"a".repeat(64)).is_err());
    }
}
