//! TLS for client connections with rustls (the ring provider): the acceptor pgwire hands
//! SSLRequest and direct-TLS connections to, and the certificate SCRAM's channel binding
//! (`tls-server-end-point`) signs.

use std::sync::Arc;

use pgwire::tokio::TlsAcceptor;
use pgwire::tokio::tokio_rustls::rustls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsConfig;
use crate::error::{Error, ErrorKind, Result};

/// A loaded certificate and key.
pub struct Tls {
    pub acceptor: TlsAcceptor,
    /// The certificate file as read, for channel binding.
    pub certificate_pem: Vec<u8>,
}

/// Loads `[tls]`; `None` when TLS is off.
pub fn load(config: &TlsConfig) -> Result<Option<Tls>> {
    if !config.enabled() {
        return Ok(None);
    }
    let invalid = |key: &str, path: &str, reason: String| {
        Error::new(
            ErrorKind::InvalidParameterValue,
            format!("tls.{key} \"{path}\": {reason}"),
        )
    };
    let certificate_pem = std::fs::read(&config.certificate)
        .map_err(|e| invalid("certificate", &config.certificate, e.to_string()))?;
    let chain = CertificateDer::pem_slice_iter(&certificate_pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| invalid("certificate", &config.certificate, e.to_string()))?;
    if chain.is_empty() {
        return Err(invalid(
            "certificate",
            &config.certificate,
            "no PEM certificate in the file".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&config.private_key)
        .map_err(|e| invalid("private_key", &config.private_key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| invalid("private_key", &config.private_key, e.to_string()))?;
    server.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(Some(Tls {
        acceptor: TlsAcceptor::from(Arc::new(server)),
        certificate_pem,
    }))
}
