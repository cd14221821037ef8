//! The reqwest side: one `reqwest::Client` (its connection pool) per
//! `AsyncClient`, one POST per request, the body read with the shared rules of
//! `runtel_client::body`, and reqwest's errors mapped onto the SDK's kinds.

use std::error::Error as StdError;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use reqwest::header;

use runtel_client::body::{inflate, is_gzip, preallocation, put_request_headers, tls_failure};
use runtel_client::ClientOptions;
use runtel_protocol::{Error, HttpRequest, RawAnswer, TransportCause, TransportFailure};

use crate::tls;

/// Sends requests; cheap to clone (the pool is shared).
#[derive(Clone)]
pub(crate) struct Transport {
    http: reqwest::Client,
    /// The endpoint's URL and its parse (every request goes there).
    url: Arc<OnceLock<(String, reqwest::Url)>>,
    max_body_bytes: usize,
    timeout: Duration,
}

impl Transport {
    /// A transport for these (validated) options; `roots_pem` replaces the
    /// public roots.
    pub fn new(o: &ClientOptions, roots_pem: Option<&[u8]>) -> Result<Transport, Error> {
        let tls = tls::client_config(roots_pem, o.accept_invalid_certs)?;
        let user_agent = o
            .user_agent
            .clone()
            .unwrap_or_else(|| format!("runtel/{}", runtel_protocol::VERSION));
        let mut b = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(o.connect_timeout.min(o.timeout))
            .pool_idle_timeout(o.max_idle_age)
            // Error envelopes come on 4xx/5xx and reqwest hands them over as
            // answers; redirects are not followed (a POST must not wander).
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(user_agent)
            .http1_only()
            .tcp_nodelay(true);
        b = match (&o.proxy, o.proxy_from_env) {
            (Some(url), _) => b.proxy(
                reqwest::Proxy::all(url)
                    .map_err(|e| Error::InvalidInput(format!("proxy URL: {e}")))?,
            ),
            // reqwest reads HTTPS_PROXY/HTTP_PROXY/ALL_PROXY by default.
            (None, true) => b,
            (None, false) => b.no_proxy(),
        };
        let http = b
            .build()
            .map_err(|e| Error::InvalidInput(format!("HTTP client: {e}")))?;
        Ok(Transport {
            http,
            url: Arc::default(),
            max_body_bytes: o.max_response_bytes,
            timeout: o.timeout,
        })
    }

    /// Sends one request; `timeout` overrides the client's overall timeout. The
    /// whole exchange (connect to last body byte) runs under the budget.
    /// Dropping the future drops the connection with it (it is never put back
    /// into the pool half-read).
    pub async fn send(
        &self,
        req: &HttpRequest,
        timeout: Option<Duration>,
    ) -> Result<RawAnswer, TransportFailure> {
        let started = Instant::now();
        let budget = timeout.unwrap_or(self.timeout);
        match tokio::time::timeout(budget, self.exchange(req, started, budget)).await {
            Ok(result) => result,
            Err(_) => Err(timed_out(
                req,
                budget,
                started,
                "waiting for the answer",
                false,
            )),
        }
    }

    async fn exchange(
        &self,
        req: &HttpRequest,
        started: Instant,
        budget: Duration,
    ) -> Result<RawAnswer, TransportFailure> {
        let request = self.http_request(req)?;
        let mut resp = self
            .http
            .execute(request)
            .await
            .map_err(|e| map_error(e, req, budget, started, false))?;
        let status = resp.status().as_u16();
        let header =
            |name: header::HeaderName| resp.headers().get(name).and_then(|v| v.to_str().ok());
        let date = header(header::DATE).map(str::to_owned);
        let gzipped = header(header::CONTENT_ENCODING).is_some_and(is_gzip);
        let limit = self.max_body_bytes as u64;
        let mut body = Vec::with_capacity(preallocation(resp.content_length(), limit));
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| map_error(e, req, budget, started, true))?
        {
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(TransportFailure {
                    error: Error::body_too_large(limit, &req.obj, &req.action),
                    retryable: false,
                    not_sent: false,
                });
            }
            body.extend_from_slice(&chunk);
        }
        if gzipped {
            body = inflate(&body, limit, req).map_err(|error| TransportFailure {
                error,
                retryable: false,
                not_sent: false,
            })?;
        }
        Ok(RawAnswer { status, date, body })
    }
}

impl Transport {
    /// `req` as reqwest takes it: headers by [`put_request_headers`], the
    /// endpoint's URL parsed once per transport.
    fn http_request(&self, req: &HttpRequest) -> Result<reqwest::Request, TransportFailure> {
        let invalid = |detail: String| TransportFailure {
            error: Error::InvalidInput(format!("{}.{}: {detail}", req.obj, req.action)),
            retryable: false,
            not_sent: true,
        };
        let url = match self.url.get() {
            Some((text, url)) if *text == req.url => url.clone(),
            _ => {
                let url = reqwest::Url::parse(&req.url)
                    .map_err(|e| invalid(format!("endpoint URL: {e}")))?;
                let _ = self.url.set((req.url.clone(), url.clone()));
                url
            }
        };
        let mut request = reqwest::Request::new(reqwest::Method::POST, url);
        put_request_headers(req, request.headers_mut())
            .map_err(|e| invalid(format!("request headers: {e}")))?;
        *request.body_mut() = Some(req.body.clone().into());
        Ok(request)
    }
}

fn timed_out(
    req: &HttpRequest,
    budget: Duration,
    started: Instant,
    phase: &str,
    not_sent: bool,
) -> TransportFailure {
    TransportFailure {
        error: Error::Timeout(format!(
            "{}.{}: no complete answer within {:.1}s (gave up after {:.1}s, {phase})",
            req.obj,
            req.action,
            budget.as_secs_f64(),
            started.elapsed().as_secs_f64()
        )),
        retryable: false,
        not_sent,
    }
}

/// The first error of type `E` in `e`'s chain of sources. An `io::Error`
/// wrapping another error reports that error's source as its own, skipping
/// the wrapped one (where rustls puts its errors): the chain goes through the
/// wrapped error instead.
fn find_source<'a, E: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(found) = err.downcast_ref::<E>() {
            return Some(found);
        }
        cur = next_in_chain(err);
    }
    None
}

fn next_in_chain<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    match err
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        Some(inner) => Some(inner),
        None => err.source(),
    }
}

/// The whole chain of messages, for the detail (reqwest's own says little).
fn chain_text(e: &(dyn StdError + 'static)) -> String {
    let mut parts = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        cur = next_in_chain(err);
    }
    parts.join(": ")
}

fn map_error(
    e: reqwest::Error,
    req: &HttpRequest,
    budget: Duration,
    started: Instant,
    in_body: bool,
) -> TransportFailure {
    let phase = if in_body {
        "reading the answer"
    } else {
        "sending the request"
    };
    if e.is_timeout() {
        // Only reqwest's connect timeout can fire here (the overall budget is
        // the caller's): the request never left.
        return timed_out(req, budget, started, phase, e.is_connect() && !in_body);
    }
    let text = chain_text(&e);
    let (cause, detail, retryable, not_sent) = if let Some(tls) = find_source::<rustls::Error>(&e) {
        let f = tls_failure(tls);
        (
            TransportCause::Tls(f.cause),
            f.detail,
            false,
            !in_body && f.handshake,
        )
    } else if let Some(io) = find_source::<std::io::Error>(&e) {
        use std::io::ErrorKind as K;
        match io.kind() {
            K::TimedOut => return timed_out(req, budget, started, phase, false),
            K::ConnectionRefused | K::HostUnreachable | K::NetworkUnreachable => (
                TransportCause::Connect,
                format!("connection error: {text}"),
                true,
                !in_body,
            ),
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => (
                TransportCause::Reset,
                format!("connection error: {text}"),
                true,
                false,
            ),
            _ if e.is_connect() && text.contains("dns error") => (
                TransportCause::Dns,
                format!("host not found: {text}"),
                true,
                true,
            ),
            _ if e.is_connect() => (
                TransportCause::Connect,
                format!("connection failed: {text}"),
                true,
                !in_body,
            ),
            _ => (
                TransportCause::Io,
                format!("connection error: {text}"),
                true,
                false,
            ),
        }
    } else if e.is_connect() {
        let cause = if text.contains("dns error") {
            TransportCause::Dns
        } else {
            TransportCause::Connect
        };
        (cause, format!("connection failed: {text}"), true, true)
    } else if text.contains("connection closed")
        || text.contains("before message completed")
        || text.contains("end of file")
        || e.is_body()
    {
        // hyper's "connection closed before message completed", "end of file
        // before message length reached": the connection broke.
        (
            TransportCause::Reset,
            format!("connection error: {text}"),
            true,
            false,
        )
    } else {
        (
            TransportCause::MalformedHttp,
            format!("malformed HTTP answer: {text}"),
            true,
            false,
        )
    };
    TransportFailure {
        error: Error::transport_with_source(
            cause,
            format!("{}.{}: {detail} ({phase})", req.obj, req.action),
            e,
        ),
        retryable,
        not_sent,
    }
}
