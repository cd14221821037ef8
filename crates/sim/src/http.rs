//! Just enough HTTP/1.1 for the simulator: requests with `Content-Length`,
//! keep-alive, and responses written byte by byte so faults can cut them anywhere.

use std::io::{self, BufRead, Write};
use std::time::SystemTime;

/// The largest request head (request line and headers) accepted.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// One request as read from the wire.
#[derive(Debug)]
pub(crate) struct Request {
    pub method: String,
    pub path: String,
    /// The request line and header lines exactly as received, blank line included,
    /// for the faults that echo a request back.
    pub head: Vec<u8>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub keep_alive: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What reading a request gave.
pub(crate) enum Read {
    Request(Request),
    /// The peer closed the connection between requests.
    Closed,
    /// The request is unusable; answer with this status and close.
    Bad(u16, &'static str),
}

fn read_line_bounded<R: BufRead>(
    r: &mut R,
    line: &mut Vec<u8>,
    budget: &mut usize,
) -> io::Result<usize> {
    line.clear();
    let n = io::Read::take(&mut *r, *budget as u64 + 1).read_until(b'\n', line)?;
    *budget = budget.saturating_sub(n);
    Ok(n)
}

pub(crate) fn read_request<R: BufRead>(r: &mut R, max_body: usize) -> io::Result<Read> {
    let mut budget = MAX_HEAD_BYTES;
    let mut line = Vec::new();
    // Tolerate stray blank lines between keep-alive requests.
    loop {
        if read_line_bounded(r, &mut line, &mut budget)? == 0 {
            return Ok(Read::Closed);
        }
        if !line.trim_ascii().is_empty() {
            break;
        }
    }
    if budget == 0 {
        return Ok(Read::Bad(431, "request head too large"));
    }
    let Ok(request_line) = std::str::from_utf8(&line) else {
        return Ok(Read::Bad(400, "request line is not UTF-8"));
    };
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(path), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Ok(Read::Bad(400, "malformed request line"));
    };
    let (method, path) = (method.to_owned(), path.to_owned());
    let http10 = version == "HTTP/1.0";
    let mut head = line.clone();
    let mut headers = Vec::new();
    loop {
        if read_line_bounded(r, &mut line, &mut budget)? == 0 {
            return Ok(Read::Closed);
        }
        if budget == 0 {
            return Ok(Read::Bad(431, "request head too large"));
        }
        head.extend_from_slice(&line);
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            break;
        }
        match text.split_once(':') {
            Some((k, v)) => headers.push((k.trim().to_owned(), v.trim().to_owned())),
            None => return Ok(Read::Bad(400, "malformed header line")),
        }
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    if find("transfer-encoding").is_some_and(|v| !v.eq_ignore_ascii_case("identity")) {
        return Ok(Read::Bad(
            411,
            "chunked request bodies are not supported; send Content-Length",
        ));
    }
    let length = match find("content-length") {
        None => 0,
        Some(v) => match v.parse::<usize>() {
            Ok(n) => n,
            Err(_) => return Ok(Read::Bad(400, "bad Content-Length")),
        },
    };
    if length > max_body {
        return Ok(Read::Bad(413, "request body too large"));
    }
    let mut body = vec![0; length];
    if let Err(e) = r.read_exact(&mut body) {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            return Ok(Read::Closed);
        }
        return Err(e);
    }
    let connection = find("connection").unwrap_or_default().to_ascii_lowercase();
    let keep_alive = if http10 {
        connection.contains("keep-alive")
    } else {
        !connection.contains("close")
    };
    Ok(Read::Request(Request {
        method,
        path,
        head,
        headers,
        body,
        keep_alive,
    }))
}

pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Not Allowed",
        411 => "Length Required",
        413 => "Request Entity Too Large",
        422 => "Unprocessable Entity",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Temporarily Unavailable",
        504 => "Gateway Time-out",
        _ => "Unknown",
    }
}

/// What goes into a response head besides the status.
pub(crate) struct Head<'a> {
    pub status: u16,
    pub content_type: &'a str,
    /// `u64`, not `usize`: a lying `Content-Length` may exceed any real body.
    pub content_length: u64,
    pub keep_alive: bool,
    pub content_encoding: Option<&'a str>,
    /// The `Date` to send; `None` for now. Fixed when a body refers to it.
    pub date: Option<SystemTime>,
}

impl Head<'_> {
    /// A plain head for a body of `content_length` bytes, dated now.
    pub fn plain(
        status: u16,
        content_type: &str,
        content_length: usize,
        keep_alive: bool,
    ) -> Head<'_> {
        Head {
            status,
            content_type,
            content_length: content_length as u64,
            keep_alive,
            content_encoding: None,
            date: None,
        }
    }
}

/// Writes the status line and nginx-like headers.
pub(crate) fn write_head<W: Write>(w: &mut W, head: &Head<'_>) -> io::Result<()> {
    let date = httpdate::fmt_http_date(head.date.unwrap_or_else(SystemTime::now));
    let connection = if head.keep_alive {
        "keep-alive"
    } else {
        "close"
    };
    let encoding = match head.content_encoding {
        Some(e) => format!("Content-Encoding: {e}\r\n"),
        None => String::new(),
    };
    write!(
        w,
        "HTTP/1.1 {} {}\r\nServer: nginx/1.16.1\r\nDate: {date}\r\n\
         Content-Type: {}\r\nContent-Length: {}\r\n{encoding}\
         Connection: {connection}\r\nAccess-Control-Allow-Origin: *\r\n\
         Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n\r\n",
        head.status,
        reason(head.status),
        head.content_type,
        head.content_length,
    )
}

/// An nginx-style HTML error page.
pub(crate) fn html_page(status: u16, extra: &str) -> Vec<u8> {
    let title = format!("{status} {}", reason(status));
    format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n{extra}<hr><center>nginx/1.16.1</center>\r\n</body>\r\n</html>\r\n"
    )
    .into_bytes()
}

pub(crate) const JSON: &str = "application/json; charset=utf-8";
pub(crate) const HTML: &str = "text/html";
pub(crate) const TEXT: &str = "text/plain";
