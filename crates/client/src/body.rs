//! The I/O-free rules every transport applies to an answer's body, shared by the
//! blocking client (ureq) and the async client (`runtel-async`, reqwest), so that
//! both refuse the same answers for the same reasons:
//!
//! - pre-allocation from `Content-Length` is bounded ([`preallocation`]);
//! - gzip is inflated by the client itself, bounded by the body limit and by a
//!   ratio to the size on the wire ([`inflate`], [`is_gzip`]);
//! - TLS failures are named in words a user can act on, and only handshake
//!   failures count as "never sent" for the login guard ([`tls_failure`]);
//! - and on the way out, the same request headers ([`put_request_headers`]).

use runtel_protocol::{Error, HttpRequest, TlsCause};
use ureq::http::{self, header, HeaderValue};

/// Puts `req`'s headers into `headers` (both HTTP libraries use the `http`
/// crate's map): `Accept-Encoding: gzip` (answers are inflated by [`inflate`],
/// not by the library), the fixed headers as static values (neither copied
/// nor checked again), and the bearer token marked sensitive. An error names
/// no header value.
pub fn put_request_headers(
    req: &HttpRequest,
    headers: &mut http::HeaderMap,
) -> Result<(), http::Error> {
    headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
    for (name, value) in req.fixed_headers() {
        let name = header::HeaderName::from_bytes(name.as_bytes())?;
        headers.append(name, HeaderValue::from_static(value));
    }
    if let Some(auth) = req.authorization() {
        let mut value = HeaderValue::from_str(auth)?;
        value.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, value);
    }
    Ok(())
}

/// Bodies are pre-allocated from `Content-Length` up to this size only: a
/// server announcing 10 GB must not make the client reserve its whole limit
/// before a byte arrives. Larger bodies grow as they arrive.
pub const MAX_PREALLOCATION: u64 = 4 * 1024 * 1024;

/// A compressed answer may inflate to this many times its size on the wire
/// (JSON lists compress 5-30x), beyond a floor of [`INFLATE_FLOOR`].
pub const MAX_INFLATE_RATIO: u64 = 100;

/// The size any compressed answer may inflate to, whatever its ratio.
pub const INFLATE_FLOOR: u64 = 8 * 1024 * 1024;

/// The capacity to reserve for a body announced as `content_length` bytes,
/// given the body limit.
pub fn preallocation(content_length: Option<u64>, limit: u64) -> usize {
    content_length
        .unwrap_or(0)
        .min(limit)
        .min(MAX_PREALLOCATION) as usize
}

/// True when a `Content-Encoding` header value says gzip (the only encoding
/// the clients ask for).
pub fn is_gzip(content_encoding: &str) -> bool {
    matches!(
        content_encoding.trim().to_ascii_lowercase().as_str(),
        "gzip" | "x-gzip"
    )
}

/// Decodes a gzip body, refusing one that inflates beyond the body limit or
/// beyond [`MAX_INFLATE_RATIO`] times its size on the wire (past a floor): a
/// 200 KB "decompression bomb" must not cost gigabytes.
pub fn inflate(wire: &[u8], max_body: u64, req: &HttpRequest) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let limit = max_body.min(
        (wire.len() as u64)
            .saturating_mul(MAX_INFLATE_RATIO)
            .max(INFLATE_FLOOR),
    );
    let mut out =
        Vec::with_capacity((wire.len() as u64 * 8).min(limit).min(MAX_PREALLOCATION) as usize);
    let mut decoder = flate2::read::MultiGzDecoder::new(wire).take(limit + 1);
    decoder.read_to_end(&mut out).map_err(|e| {
        Error::unexpected_shape(
            &req.obj,
            &req.action,
            format!("compressed answer is not valid gzip: {e}"),
            "$",
        )
    })?;
    if out.len() as u64 > limit {
        let mut e = Error::body_too_large(limit, &req.obj, &req.action);
        if let Error::Protocol(info) = &mut e {
            info.detail = format!(
                "compressed answer of {} bytes inflates beyond {limit} bytes (the body limit, \
                 and at most {MAX_INFLATE_RATIO} times its size on the wire): refused as a \
                 decompression bomb",
                wire.len()
            );
        }
        return Err(e);
    }
    Ok(out)
}

/// How a transport reports a rustls failure: its cause, a description a user
/// can act on, and whether the request surely never left (see
/// [`is_handshake_failure`]) when the failure came before the answer.
#[derive(Debug, Clone)]
pub struct TlsFailure {
    /// The stable cause.
    pub cause: TlsCause,
    /// `TLS error: ...` in plain words.
    pub detail: String,
    /// A handshake failure: the request was not written.
    pub handshake: bool,
}

/// Names a rustls failure (see [`TlsFailure`]).
pub fn tls_failure(err: &rustls::Error) -> TlsFailure {
    TlsFailure {
        cause: tls_cause(err),
        detail: format!("TLS error: {}", describe_rustls(err)),
        handshake: is_handshake_failure(err),
    }
}

/// True for the TLS failures that can only happen in the handshake, before a
/// byte of the request is written (a certificate refused, no common protocol).
/// Any other TLS error (a record that does not decrypt, an alert) may come after
/// the request left: the login guard must count it.
pub fn is_handshake_failure(err: &rustls::Error) -> bool {
    use rustls::Error as R;
    matches!(
        err,
        R::InvalidCertificate(_)
            | R::NoCertificatesPresented
            | R::UnsupportedNameType
            | R::PeerIncompatible(_)
            | R::InappropriateHandshakeMessage { .. }
            | R::HandshakeNotComplete
    )
}

/// The stable cause of a rustls failure.
pub fn tls_cause(err: &rustls::Error) -> TlsCause {
    use rustls::{CertificateError as C, Error as R};
    match err {
        R::InvalidCertificate(C::UnknownIssuer) => TlsCause::UnknownIssuer,
        R::InvalidCertificate(
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. },
        ) => TlsCause::Expired,
        R::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            TlsCause::WrongName
        }
        _ => TlsCause::Other,
    }
}

/// Names the cause of a certificate failure in words a user can act on.
pub fn describe_rustls(err: &rustls::Error) -> String {
    use rustls::{CertificateError, Error as R};
    match err {
        R::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "certificate not trusted (unknown issuer; self-signed? pass its CA as a root certificate)".into()
        }
        R::InvalidCertificate(CertificateError::Expired | CertificateError::ExpiredContext { .. }) => {
            "certificate has expired".into()
        }
        R::InvalidCertificate(CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }) => {
            "certificate is not valid for this host name".into()
        }
        other => other.to_string(),
    }
}
