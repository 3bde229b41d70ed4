//! A small HTTP/1.1 server for the monitoring endpoints: one request per connection
//! (`Connection: close`), request heads parsed by `httparse` with a size limit and a
//! deadline, bodies up to a small limit. Enough for Prometheus, load balancers' health
//! checks, curl and browsers on a loopback or internal address; nothing here is meant to
//! face the internet.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// The largest request head (request line and headers) accepted.
const MAX_HEAD: usize = 16 * 1024;
/// The largest request body accepted.
const MAX_BODY: usize = 64 * 1024;
/// A request must arrive whole within this.
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path without its query string.
    pub path: String,
    pub query: String,
    /// Header names in lower case, with their values.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub peer: SocketAddr,
}

impl Request {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A response to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    /// Headers beyond the ones every response carries.
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Self::new(status, "text/plain; charset=utf-8", body.into())
    }

    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Self::new(status, "application/json", body.to_string())
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// Serves `listener` until `shutdown` fires, answering each request with `handle`.
pub async fn serve<H, F>(listener: TcpListener, shutdown: CancellationToken, handle: H)
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let handle = Arc::new(handle);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (socket, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "monitoring listener: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            if let Err(e) = answer(socket, peer, handle.as_ref()).await {
                tracing::debug!(client = %peer, error = %e, "monitoring request failed");
            }
        });
    }
}

async fn answer<H, F>(mut socket: TcpStream, peer: SocketAddr, handle: &H) -> std::io::Result<()>
where
    H: Fn(Request) -> F,
    F: Future<Output = Response>,
{
    let reading = read_request(&mut socket, peer);
    let request = match tokio::time::timeout(REQUEST_DEADLINE, reading).await {
        Ok(Ok(request)) => request,
        Ok(Err(rejection)) => return write_response(&mut socket, &rejection, false).await,
        Err(_) => {
            let timeout = Response::text(408, "request timeout\n");
            return write_response(&mut socket, &timeout, false).await;
        }
    };
    let head_only = request.method == "HEAD";
    let response = handle(request).await;
    write_response(&mut socket, &response, head_only).await
}

/// Reads one request, or the error response it deserves.
async fn read_request(socket: &mut TcpStream, peer: SocketAddr) -> Result<Request, Response> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let read = socket
            .read(&mut chunk)
            .await
            .map_err(|_| Response::text(400, "bad request\n"))?;
        if read == 0 {
            return Err(Response::text(400, "incomplete request\n"));
        }
        buffer.extend_from_slice(&chunk[..read]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(&buffer) {
            Ok(httparse::Status::Complete(head_length)) => {
                let method = parsed.method.unwrap_or("GET").to_string();
                let target = parsed.path.unwrap_or("/");
                let (path, query) = target.split_once('?').unwrap_or((target, ""));
                let body_length = content_length(parsed.headers)?;
                let (path, query) = (path.to_string(), query.to_string());
                let headers = parsed
                    .headers
                    .iter()
                    .map(|h| {
                        let value = String::from_utf8_lossy(h.value).trim().to_string();
                        (h.name.to_ascii_lowercase(), value)
                    })
                    .collect();
                let mut body = buffer.split_off(head_length);
                while body.len() < body_length {
                    let read = socket
                        .read(&mut chunk)
                        .await
                        .map_err(|_| Response::text(400, "bad request\n"))?;
                    if read == 0 {
                        return Err(Response::text(400, "incomplete request body\n"));
                    }
                    body.extend_from_slice(&chunk[..read]);
                }
                body.truncate(body_length);
                return Ok(Request {
                    method,
                    path,
                    query,
                    headers,
                    body,
                    peer,
                });
            }
            Ok(httparse::Status::Partial) if buffer.len() < MAX_HEAD => continue,
            Ok(httparse::Status::Partial) => {
                return Err(Response::text(431, "request header fields too large\n"));
            }
            Err(_) => return Err(Response::text(400, "bad request\n")),
        }
    }
}

fn content_length(headers: &[httparse::Header<'_>]) -> Result<usize, Response> {
    let Some(header) = headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
    else {
        return Ok(0);
    };
    let length: usize = std::str::from_utf8(header.value)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| Response::text(400, "invalid content-length\n"))?;
    match length <= MAX_BODY {
        true => Ok(length),
        false => Err(Response::text(413, "request body too large\n")),
    }
}

async fn write_response(
    socket: &mut TcpStream,
    response: &Response,
    head_only: bool,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len()
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    socket.write_all(head.as_bytes()).await?;
    if !head_only {
        socket.write_all(&response.body).await?;
    }
    socket.shutdown().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}
