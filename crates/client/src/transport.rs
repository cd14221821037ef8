//! The ureq side: one `Agent` per client, one POST per request, and the mapping of
//! ureq's errors onto the SDK's kinds.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ureq::http::{self, header};

use runtel_protocol::{Error, HttpRequest, TlsCause, TransportCause};

/// What came back over the wire, before the protocol reads it.
pub(crate) use runtel_protocol::RawAnswer;
/// A failure to get an answer, categorised for the call policy.
pub(crate) use runtel_protocol::TransportFailure as SendError;

use crate::body::{
    describe_rustls, inflate, is_gzip, is_handshake_failure, preallocation, put_request_headers,
    tls_cause,
};
use crate::interrupt;
use crate::resolver::CachingResolver;
use crate::tcp::TcpConnector;

pub(crate) struct Transport {
    agent: ureq::Agent,
    /// The endpoint's URL and its parse (see [`Transport::uri_of`]).
    uri: OnceLock<(String, http::Uri)>,
    max_body_bytes: usize,
    timeout: Duration,
}

/// TLS choices of the builder.
#[derive(Clone, Default)]
pub(crate) struct TlsChoice {
    pub roots_pem: Option<Vec<u8>>,
    pub accept_invalid_certs: bool,
}

#[derive(Clone)]
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
        // ureq's default chain with our TCP layer (see `tcp`), and our resolver:
        // no thread per request (see `resolver`).
        use ureq::unversioned::transport::{ConnectProxyConnector, Connector, RustlsConnector};
        let connector =
            ().chain(ConnectProxyConnector::default())
                .chain(TcpConnector)
                .chain(RustlsConnector::default());
        let agent = ureq::Agent::with_parts(config, connector, CachingResolver::default());
        Ok(Transport {
            agent,
            uri: OnceLock::new(),
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
        interrupt::begin_request();
        let budget = timeout.unwrap_or(self.timeout);
        let mut request = self
            .http_request(req)
            .map_err(|e| map_error(e, req, budget, started, false))?;
        if let Some(t) = timeout {
            request = self
                .agent
                .configure_request(request)
                .timeout_global(Some(t))
                .build();
        }
        let mut resp = self
            .agent
            .run(request)
            .map_err(|e| map_error(e, req, budget, started, false))?;
        let status = resp.status().as_u16();
        let header =
            |name: header::HeaderName| resp.headers().get(name).and_then(|v| v.to_str().ok());
        let date = header(header::DATE).map(str::to_owned);
        let wire_length = header(header::CONTENT_LENGTH).and_then(|v| v.trim().parse::<u64>().ok());
        let gzipped = header(header::CONTENT_ENCODING).is_some_and(is_gzip);
        let limit = self.max_body_bytes as u64;
        let mut body = Vec::with_capacity(preallocation(wire_length, limit));
        let mut reader = resp.body_mut().with_config().limit(limit).reader();
        std::io::Read::read_to_end(&mut reader, &mut body)
            .map_err(|e| map_error(ureq_error_of(e), req, budget, started, true))?;
        if gzipped {
            body = inflate(&body, limit, req).map_err(|error| SendError {
                error,
                retryable: false,
                not_sent: false,
            })?;
        }
        Ok(RawAnswer { status, date, body })
    }
}

impl Transport {
    /// `req` as ureq takes it: headers by [`put_request_headers`], the
    /// endpoint's URI parsed once per transport.
    fn http_request<'r>(
        &self,
        req: &'r HttpRequest,
    ) -> Result<http::Request<&'r [u8]>, ureq::Error> {
        let mut request = http::Request::new(&req.body[..]);
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = self.uri_of(&req.url)?;
        put_request_headers(req, request.headers_mut())?;
        Ok(request)
    }

    /// The parsed `url`: a client sends every request to one endpoint, so its
    /// parse is kept (a clone shares the text).
    fn uri_of(&self, url: &str) -> Result<http::Uri, ureq::Error> {
        if let Some((text, uri)) = self.uri.get() {
            if text == url {
                return Ok(uri.clone());
            }
        }
        let uri: http::Uri = url.parse().map_err(http::Error::from)?;
        let _ = self.uri.set((url.to_owned(), uri.clone()));
        Ok(uri)
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
    if interrupt::was_stopped() {
        // Whatever the transport made of it, the wait was cut short on purpose.
        return SendError {
            error: interrupt::interrupted(&what),
            retryable: false,
            not_sent: !interrupt::request_may_have_left(),
        };
    }
    let phase = if in_body {
        "reading the answer"
    } else {
        "sending the request"
    };
    let timeout = |not_sent: bool| SendError {
        error: Error::Timeout(format!(
            "{what}: no complete answer within {:.1}s (gave up after {:.1}s, {phase})",
            budget.as_secs_f64(),
            started.elapsed().as_secs_f64()
        )),
        retryable: false,
        not_sent,
    };
    let (cause, detail, retryable, not_sent) = match &e {
        ureq::Error::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect) => {
            return timeout(true)
        }
        ureq::Error::Timeout(_) => return timeout(false),
        ureq::Error::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ) =>
        {
            return timeout(false)
        }
        ureq::Error::BodyExceedsLimit(limit) => {
            return SendError {
                error: Error::body_too_large(*limit, &req.obj, &req.action),
                retryable: false,
                not_sent: false,
            }
        }
        ureq::Error::HostNotFound => (TransportCause::Dns, "host not found".into(), true, true),
        ureq::Error::ConnectionFailed => (
            TransportCause::Connect,
            "connection failed".into(),
            true,
            true,
        ),
        ureq::Error::Io(io) => match io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
            // rustls reports certificate failures through the I/O layer, during
            // the handshake: before the request is written.
            Some(tls) => (
                TransportCause::Tls(tls_cause(tls)),
                format!("TLS error: {}", describe_rustls(tls)),
                false,
                !in_body && is_handshake_failure(tls),
            ),
            None => {
                use std::io::ErrorKind as K;
                let (cause, not_sent) = match io.kind() {
                    K::ConnectionRefused | K::HostUnreachable | K::NetworkUnreachable => {
                        (TransportCause::Connect, !in_body)
                    }
                    K::ConnectionReset
                    | K::ConnectionAborted
                    | K::BrokenPipe
                    | K::UnexpectedEof => (TransportCause::Reset, false),
                    _ => (TransportCause::Io, false),
                };
                (cause, format!("connection error: {io}"), true, not_sent)
            }
        },
        ureq::Error::Tls(msg) => (
            TransportCause::Tls(TlsCause::Other),
            format!("TLS error: {msg}"),
            false,
            true,
        ),
        ureq::Error::Rustls(err) => (
            TransportCause::Tls(tls_cause(err)),
            format!("TLS error: {}", describe_rustls(err)),
            false,
            !in_body && is_handshake_failure(err),
        ),
        ureq::Error::Protocol(p) => (
            TransportCause::MalformedHttp,
            format!("malformed HTTP answer: {p}"),
            true,
            false,
        ),
        ureq::Error::ConnectProxyFailed(msg) => (
            TransportCause::Proxy,
            format!("the proxy failed: {msg}"),
            true,
            true,
        ),
        ureq::Error::InvalidProxyUrl => (
            TransportCause::Proxy,
            "invalid proxy URL".into(),
            false,
            true,
        ),
        other => (TransportCause::Io, other.to_string(), false, false),
    };
    SendError {
        error: Error::transport_with_source(cause, format!("{what}: {detail} ({phase})"), e),
        retryable,
        not_sent,
    }
}
