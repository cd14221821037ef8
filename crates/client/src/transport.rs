//! The ureq side: one `Agent` per client, one POST per request, and the mapping of
//! ureq's errors onto the SDK's kinds.

use std::time::{Duration, Instant};

use runtel_protocol::{Error, HttpRequest};

/// What came back over the wire, before the protocol reads it.
pub(crate) struct RawAnswer {
    pub status: u16,
    pub date: Option<String>,
    pub body: Vec<u8>,
}

/// A transport failure, and whether it is safe to send an idempotent request again.
pub(crate) struct SendError {
    pub error: Error,
    pub retryable: bool,
}

pub(crate) struct Transport {
    agent: ureq::Agent,
    max_body_bytes: usize,
    timeout: Duration,
}

/// TLS choices of the builder.
#[derive(Clone, Default)]
pub(crate) struct TlsChoice {
    pub roots_pem: Option<Vec<u8>>,
    pub accept_invalid_certs: bool,
}

pub(crate) struct TransportSettings {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub tls: TlsChoice,
    pub proxy: Option<ureq::Proxy>,
    pub user_agent: String,
    pub max_body_bytes: usize,
    pub max_idle_age: Duration,
}

impl Transport {
    pub fn new(s: TransportSettings) -> Result<Transport, Error> {
        let mut tls =
            ureq::tls::TlsConfig::builder().disable_verification(s.tls.accept_invalid_certs);
        if let Some(pem) = &s.tls.roots_pem {
            let mut certs = Vec::new();
            for item in ureq::tls::parse_pem(pem) {
                match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
                    Ok(_) => {}
                    Err(e) => {
                        return Err(Error::InvalidInput(format!("root certificate PEM: {e}")))
                    }
                }
            }
            if certs.is_empty() {
                return Err(Error::InvalidInput(
                    "root certificate PEM holds no certificate".into(),
                ));
            }
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        let config = ureq::Agent::config_builder()
            // Error envelopes come on 4xx/5xx: the protocol must see them.
            .http_status_as_error(false)
            .timeout_global(Some(s.timeout))
            .timeout_connect(Some(s.connect_timeout))
            .tls_config(tls.build())
            .proxy(s.proxy)
            .user_agent(s.user_agent.as_str())
            .max_idle_age(s.max_idle_age)
            .max_redirects(0)
            .https_only(false)
            .build();
        Ok(Transport {
            agent: config.into(),
            max_body_bytes: s.max_body_bytes,
            timeout: s.timeout,
        })
    }

    /// Sends one request; `timeout` overrides the client's overall timeout.
    pub fn send(
        &self,
        req: &HttpRequest,
        timeout: Option<Duration>,
    ) -> Result<RawAnswer, SendError> {
        let started = Instant::now();
        let mut builder = self.agent.post(&req.url);
        for (name, value) in req.headers() {
            builder = builder.header(name, value);
        }
        if let Some(t) = timeout {
            builder = builder.config().timeout_global(Some(t)).build();
        }
        let budget = timeout.unwrap_or(self.timeout);
        let mut resp = builder
            .send(&req.body[..])
            .map_err(|e| map_error(e, req, budget, started, false))?;
        let status = resp.status().as_u16();
        let date = resp
            .headers()
            .get("date")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // Sized from Content-Length (bounded by the limit) so a 25 MB answer is not
        // copied through a dozen doublings of the buffer.
        let expected_len = resp
            .body()
            .content_length()
            .unwrap_or(0)
            .min(self.max_body_bytes as u64);
        let mut body = Vec::with_capacity(expected_len as usize);
        let mut reader = resp
            .body_mut()
            .with_config()
            .limit(self.max_body_bytes as u64)
            .reader();
        std::io::Read::read_to_end(&mut reader, &mut body)
            .map_err(|e| map_error(ureq_error_of(e), req, budget, started, true))?;
        Ok(RawAnswer { status, date, body })
    }
}

/// The ureq error inside an I/O error from a body reader (a limit hit, a timeout,
/// a TLS failure), or the I/O error itself.
fn ureq_error_of(e: std::io::Error) -> ureq::Error {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<ureq::Error>())
    {
        Some(_) => match e.into_inner().map(|b| b.downcast::<ureq::Error>()) {
            Some(Ok(u)) => *u,
            _ => ureq::Error::Io(std::io::Error::other("body read failed")),
        },
        None => ureq::Error::Io(e),
    }
}

fn map_error(
    e: ureq::Error,
    req: &HttpRequest,
    budget: Duration,
    started: Instant,
    in_body: bool,
) -> SendError {
    let what = format!("{}.{}", req.obj, req.action);
    let phase = if in_body {
        "reading the answer"
    } else {
        "sending the request"
    };
    let timeout = || SendError {
        error: Error::Timeout(format!(
            "{what}: no complete answer within {:.1}s (gave up after {:.1}s, {phase})",
            budget.as_secs_f64(),
            started.elapsed().as_secs_f64()
        )),
        retryable: false,
    };
    let transport = |detail: String, retryable: bool| SendError {
        error: Error::Transport(format!("{what}: {detail} ({phase})")),
        retryable,
    };
    match e {
        ureq::Error::Timeout(_) => timeout(),
        ureq::Error::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ) =>
        {
            timeout()
        }
        ureq::Error::BodyExceedsLimit(limit) => SendError {
            error: Error::body_too_large(limit, &req.obj, &req.action),
            retryable: false,
        },
        ureq::Error::HostNotFound => transport("host not found".into(), true),
        ureq::Error::ConnectionFailed => transport("connection failed".into(), true),
        ureq::Error::Io(io) => match io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
            // rustls reports certificate failures through the I/O layer.
            Some(tls) => transport(format!("TLS error: {}", describe_rustls(tls)), false),
            None => transport(format!("connection error: {io}"), true),
        },
        ureq::Error::Tls(msg) => transport(format!("TLS error: {msg}"), false),
        ureq::Error::Rustls(err) => {
            transport(format!("TLS error: {}", describe_rustls(&err)), false)
        }
        ureq::Error::Protocol(p) => transport(format!("malformed HTTP answer: {p}"), true),
        other => transport(other.to_string(), false),
    }
}

/// Names the cause of a certificate failure in words a user can act on.
fn describe_rustls(err: &rustls::Error) -> String {
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
