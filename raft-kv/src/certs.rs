//! `raft-kv certs`: a cluster CA and node certificates, written as PEM files.
//!
//! Layout under the output directory: `ca.pem` and `ca-key.pem` (keep the key offline), and per
//! node `node-<id>.pem` and `node-<id>-key.pem`. An existing CA in the directory is reused, so
//! certificates for new nodes can be issued later.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use raft_core::NodeId;
use raft_transport_quic::certs::{CertError, ClusterCa};

use crate::config::TlsFiles;

/// Why certificates could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CertsError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Generating or loading a certificate failed.
    #[error(transparent)]
    Cert(#[from] CertError),
}

fn write_file(path: &Path, text: &str, secret: bool) -> Result<(), CertsError> {
    let io = |source| CertsError::Io {
        path: path.to_path_buf(),
        source,
    };
    fs::write(path, text).map_err(io)?;
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    Ok(())
}

fn read_file(path: &Path) -> Result<String, CertsError> {
    fs::read_to_string(path).map_err(|source| CertsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The files of node `id`'s certificates in `dir`.
#[must_use]
pub fn node_files(dir: &Path, id: u64) -> TlsFiles {
    TlsFiles {
        ca_cert: dir.join("ca.pem"),
        cert: dir.join(format!("node-{id}.pem")),
        key: dir.join(format!("node-{id}-key.pem")),
    }
}

/// Makes sure `dir` holds a CA for `cluster` and certificates for `nodes` (creating what is
/// missing; existing files are kept). Returns the node files.
pub fn ensure(dir: &Path, cluster: &str, nodes: &[u64]) -> Result<Vec<TlsFiles>, CertsError> {
    fs::create_dir_all(dir).map_err(|source| CertsError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let (ca_cert, ca_key) = (dir.join("ca.pem"), dir.join("ca-key.pem"));
    let ca = if ca_cert.exists() && ca_key.exists() {
        ClusterCa::from_pem(cluster, &read_file(&ca_cert)?, &read_file(&ca_key)?)?
    } else {
        let ca = ClusterCa::generate(cluster)?;
        write_file(&ca_cert, ca.cert_pem(), false)?;
        write_file(&ca_key, ca.key_pem(), true)?;
        ca
    };
    let mut out = Vec::new();
    for &id in nodes {
        let files = node_files(dir, id);
        if !(files.cert.exists() && files.key.exists()) {
            let node = ca.issue_node(NodeId(id), &["127.0.0.1".to_owned()])?;
            write_file(&files.cert, &node.cert_pem, false)?;
            write_file(&files.key, &node.key_pem, true)?;
        }
        out.push(files);
    }
    Ok(out)
}
