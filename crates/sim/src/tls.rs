//! HTTPS with a certificate generated at start-up, so clients can test verification.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// What certificate to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Names the certificate is valid for (DNS names or IP addresses).
    pub names: Vec<String>,
    /// Make a certificate whose validity ended in the past.
    pub expired: bool,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            names: vec!["localhost".into(), "127.0.0.1".into()],
            expired: false,
        }
    }
}

/// The generated certificate (PEM) and the server configuration using it.
pub(crate) struct Tls {
    pub cert_pem: String,
    pub config: Arc<rustls::ServerConfig>,
}

pub(crate) fn generate(settings: &TlsSettings) -> Result<Tls, String> {
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params =
        rcgen::CertificateParams::new(settings.names.clone()).map_err(|e| e.to_string())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "runtel-sim self-signed");
    if settings.expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .map_err(|e| e.to_string())?;
    Ok(Tls {
        cert_pem: cert.pem(),
        config: Arc::new(config),
    })
}
