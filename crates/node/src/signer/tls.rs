//! Mutual TLS to the remote signer (`signer.tls.ca`, `signer.tls.cert`, `signer.tls.key`), as
//! op-node's `NewSignerClient` sets it up: TLS 1.3 at least, the server certificate checked
//! against the given CA only, our client certificate presented.
//!
//! rustls with the ring provider: the one jsonrpsee's HTTP client already uses, so no second
//! crypto backend (aws-lc) is built.
//!
//! Where this differs from op-node: op-node's `certman` reloads the client certificate when
//! its files change; here the files are read once at start (restart to rotate).

use std::{path::PathBuf, sync::Arc};

use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _},
};

/// The three PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsFiles {
    /// CA certificate(s) the server's certificate must chain to.
    pub(crate) ca: PathBuf,
    /// Our certificate chain.
    pub(crate) cert: PathBuf,
    /// Our private key.
    pub(crate) key: PathBuf,
}

/// A TLS file is unusable.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    /// A file does not read or holds no PEM item of the kind.
    #[error("{flag} {path}: {reason}")]
    File {
        /// The flag naming the file.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// rustls refuses the combination (a key that is not the certificate's, …).
    #[error("--signer.tls.cert/--signer.tls.key: {0}")]
    Config(rustls::Error),
}

/// The rustls client configuration for `files`.
pub(crate) fn client_config(files: &TlsFiles) -> Result<ClientConfig, TlsError> {
    let file_error = |flag, path: &PathBuf, reason: String| TlsError::File {
        flag,
        path: path.clone(),
        reason,
    };
    let mut roots = RootCertStore::empty();
    let cas = CertificateDer::pem_file_iter(&files.ca)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| file_error("--signer.tls.ca", &files.ca, e.to_string()))?;
    if cas.is_empty() {
        return Err(file_error(
            "--signer.tls.ca",
            &files.ca,
            "no PEM certificate".into(),
        ));
    }
    for ca in cas {
        roots
            .add(ca)
            .map_err(|e| file_error("--signer.tls.ca", &files.ca, e.to_string()))?;
    }
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| file_error("--signer.tls.cert", &files.cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(file_error(
            "--signer.tls.cert",
            &files.cert,
            "no PEM certificate".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| file_error("--signer.tls.key", &files.key, e.to_string()))?;
    ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(TlsError::Config)?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(TlsError::Config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_empty_files_name_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let files = TlsFiles {
            ca: dir.path().join("missing.pem"),
            cert: empty.clone(),
            key: empty.clone(),
        };
        let e = client_config(&files).unwrap_err().to_string();
        assert!(
            e.contains("--signer.tls.ca") && e.contains("missing.pem"),
            "{e}"
        );
        let files = TlsFiles { ca: empty, ..files };
        let e = client_config(&files).unwrap_err().to_string();
        assert!(e.contains("--signer.tls.ca") && e.contains("no PEM"), "{e}");
    }
}
