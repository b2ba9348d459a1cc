//! The IO edge of the ONVIF layer: a [`SoapTransport`] POSTs envelopes, an
//! [`OnvifClient`] drives one camera's operations through it.
//!
//! Vocabulary: the *transport* moves one envelope to an XAddr and brings back the HTTP
//! status and body ([`HttpReply`]); [`HttpTransport`] does it over plain HTTP/1.1 on tokio,
//! tests inject a fake camera. The *client* builds each request, signs it with a fresh
//! UsernameToken whose *created* time is our clock plus the camera's *clock offset*, maps
//! the HTTP status, and parses the answer. An authentication failure (a `NotAuthorized`
//! fault or HTTP 401) makes it re-read the camera's clock once and retry once: cameras
//! reject tokens whose created time is far from their own clock.
//!
//! HTTP authentication is the transport's business: a camera that protects its services
//! (or, nearly always, its snapshot URI) with HTTP Digest answers `401` with a
//! `WWW-Authenticate` challenge; [`HttpTransport`] answers it once (RFC 7616 Digest with
//! MD5, SHA-256 or SHA-512-256, `qop=auth`; Basic only when that is all the camera offers)
//! and keeps the challenge per host, so later requests authenticate up front.
//!
//! Times are passed in (`now`), as everywhere in [`super`]; only [`HttpTransport`] opens
//! sockets (it connects; it never binds).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use http_auth::digest::Qop;
use http_auth::{PasswordClient, PasswordParams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::device::{self, DeviceInformation, ServiceAddresses};
use super::media::{self, MediaProfile, MediaVersion};
use super::security::{self, ClockOffset, RandomError, UsernameToken};
use super::{OnvifError, Request, soap};

mod ptz;

/// Largest SOAP answer (head and body) [`HttpTransport`] accepts.
const MAX_RESPONSE: usize = 8 * 1024 * 1024;
/// Largest answer (head and body) [`HttpTransport::get`] accepts: snapshots.
pub const MAX_DOWNLOAD: usize = 16 * 1024 * 1024;
/// How much of a non-SOAP error body an error keeps.
const BODY_EXCERPT: usize = 200;
/// Hosts whose HTTP challenge [`HttpTransport`] remembers at most (then it forgets all).
const MAX_REMEMBERED_CHALLENGES: usize = 1024;

/// One HTTP answer: its status code and its body as text (lossy UTF-8, de-chunked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    /// The status code (`200`, `400`, `401`, `500`…).
    pub status: u16,
    /// The body.
    pub body: String,
}

/// One HTTP answer of [`HttpTransport::get`]: status, media type and the body as bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct BinaryReply {
    /// The status code.
    pub status: u16,
    /// The `Content-Type` header's value, when present (`image/jpeg`).
    pub content_type: Option<String>,
    /// The body (de-chunked), at most [`MAX_DOWNLOAD`] bytes with the head.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for BinaryReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinaryReply")
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Why a transport could not bring back an answer (any status is an answer).
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The URL is not `http://HOST[:PORT][/PATH]`.
    #[error("bad URL {url:?}: {why}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The URL is `https://`; this transport has no TLS.
    #[error("{url}: https is not supported (no TLS)")]
    TlsUnsupported {
        /// The URL given.
        url: String,
    },
    /// The SOAP action cannot be put in a header (quotes or control characters).
    #[error("SOAP action {action:?} cannot be sent in a Content-Type header")]
    BadAction {
        /// The action given.
        action: String,
    },
    /// Resolving, connecting, writing or reading failed.
    #[error("{url}: {source}")]
    Io {
        /// The URL.
        url: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// The answer is not HTTP/1.x as we understand it, or too large.
    #[error("{url}: malformed HTTP response: {why}")]
    Malformed {
        /// The URL.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// No complete answer within the timeout.
    #[error("{url}: no complete answer within {timeout:?}")]
    Timeout {
        /// The URL.
        url: String,
        /// The timeout.
        timeout: Duration,
    },
}

/// Moves one SOAP 1.2 envelope to a service URL and brings back the HTTP answer. The IO
/// boundary of [`OnvifClient`]: tests implement it with a fake camera.
pub trait SoapTransport {
    /// POSTs `envelope` to `url` with SOAP action `action`
    /// (`Content-Type: application/soap+xml; charset=utf-8; action="<action>"`). Every
    /// HTTP status is an `Ok`; only failing to get an answer is an error.
    fn post(
        &self,
        url: &str,
        action: &str,
        envelope: String,
    ) -> impl Future<Output = Result<HttpReply, TransportError>> + Send;

    /// Like [`Self::post`], answering an HTTP `401` challenge with `credentials` where the
    /// transport speaks HTTP authentication ([`HttpTransport`] does: Digest, or Basic when
    /// that is all the camera offers). The default ignores the credentials.
    fn post_with_credentials(
        &self,
        url: &str,
        action: &str,
        envelope: String,
        credentials: Option<&Credentials>,
    ) -> impl Future<Output = Result<HttpReply, TransportError>> + Send {
        let _ = credentials;
        self.post(url, action, envelope)
    }
}

/// [`SoapTransport`] over plain HTTP/1.1 on a tokio `TcpStream`: one connection per
/// request (`Connection: close`), `http://` only (an `https://` URL is
/// [`TransportError::TlsUnsupported`]), bodies read by `Content-Length`, chunked, or to
/// the end of the connection.
///
/// With credentials ([`SoapTransport::post_with_credentials`], [`Self::get`]) a `401`
/// carrying a `WWW-Authenticate` challenge is answered once: Digest (RFC 7616: MD5,
/// SHA-256, SHA-512-256, `-sess`; `qop=auth`, `auth-int` only when the camera offers
/// nothing else), Basic only when no Digest challenge is offered. The challenge is
/// remembered per `host:port` (shared by clones), so later requests send their
/// `Authorization` up front with the next nonce count; a stale or refused one is answered
/// afresh once. Passwords never appear in errors or `Debug`.
#[derive(Clone)]
pub struct HttpTransport {
    timeout: Duration,
    /// The last challenge answered, per `host:port`.
    challenges: Arc<Mutex<HashMap<String, PasswordClient>>>,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// One HTTP request for [`HttpTransport::send`].
struct Outgoing<'a> {
    method: &'static str,
    url: &'a str,
    /// Extra header lines, each ending in CRLF.
    headers: String,
    body: &'a [u8],
    /// Largest answer accepted (head and body), bytes.
    limit: usize,
}

impl HttpTransport {
    /// A transport giving each call `timeout`, from connecting to the last body byte
    /// (both requests, when a challenge is answered).
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            challenges: Arc::default(),
        }
    }

    /// The per-call timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// GETs `url` (a snapshot URI): the answer with its body as bytes, at most
    /// [`MAX_DOWNLOAD`] bytes (else [`TransportError::Malformed`]). With `credentials`,
    /// an HTTP challenge is answered as described on [`HttpTransport`]. Every status is an
    /// `Ok`.
    pub async fn get(
        &self,
        url: &str,
        credentials: Option<&Credentials>,
    ) -> Result<BinaryReply, TransportError> {
        let request = Outgoing {
            method: "GET",
            url,
            headers: "Accept: image/jpeg, */*\r\n".to_owned(),
            body: &[],
            limit: MAX_DOWNLOAD,
        };
        let response = self.send(request, credentials).await?;
        Ok(BinaryReply {
            status: response.status,
            content_type: response.header("content-type").map(str::to_owned),
            body: response.body,
        })
    }

    /// Sends `request` within the timeout, answering one HTTP challenge when credentials
    /// are given.
    async fn send(
        &self,
        request: Outgoing<'_>,
        credentials: Option<&Credentials>,
    ) -> Result<RawResponse, TransportError> {
        let target = HttpTarget::parse(request.url)?;
        let timeout = self.timeout;
        let url = request.url;
        let attempt = async {
            let key = target.connect_to.as_str();
            let up_front =
                credentials.and_then(|c| self.authorization(key, None, &request, &target, c));
            let response = exchange_once(&target, &request, up_front.as_deref()).await?;
            let Some(credentials) = credentials.filter(|_| response.status == 401) else {
                return Ok(response);
            };
            let offered: Vec<&str> = response.headers_named("www-authenticate").collect();
            let Some(authorization) =
                self.authorization(key, Some(&offered), &request, &target, credentials)
            else {
                return Ok(response);
            };
            let response = exchange_once(&target, &request, Some(&authorization)).await?;
            if response.status == 401 {
                self.forget(key);
            }
            Ok(response)
        };
        tokio::time::timeout(timeout, attempt)
            .await
            .map_err(|_| TransportError::Timeout {
                url: url.to_owned(),
                timeout,
            })?
    }

    /// The `Authorization` value for `request`: from a fresh client built from `offered`
    /// challenges (remembered for `key`), or with `offered` `None` from the remembered one.
    /// `None` when there is nothing (usable) to answer.
    fn authorization(
        &self,
        key: &str,
        offered: Option<&[&str]>,
        request: &Outgoing<'_>,
        target: &HttpTarget<'_>,
        credentials: &Credentials,
    ) -> Option<String> {
        let mut remembered = self
            .challenges
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(offered) = offered {
            let mut builder = PasswordClient::builder();
            for value in offered {
                builder = builder.challenges(value);
            }
            let Ok(client) = builder.build() else {
                remembered.remove(key);
                return None;
            };
            if remembered.len() >= MAX_REMEMBERED_CHALLENGES {
                remembered.clear();
            }
            remembered.insert(key.to_owned(), client);
        }
        let client = remembered.get_mut(key)?;
        // `auth` (no body hash) whenever offered: cameras get `auth-int` wrong.
        let body = match client {
            PasswordClient::Digest(digest) if !(digest.qop() & Qop::Auth) => Some(request.body),
            _ => None,
        };
        let params = PasswordParams {
            username: &credentials.username,
            password: &credentials.password,
            uri: target.path,
            method: request.method,
            body,
        };
        match client.respond(&params) {
            Ok(value) if !value.contains(['\r', '\n']) => Some(value),
            _ => {
                remembered.remove(key);
                None
            }
        }
    }

    fn forget(&self, key: &str) {
        self.challenges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }
}

impl SoapTransport for HttpTransport {
    fn post(
        &self,
        url: &str,
        action: &str,
        envelope: String,
    ) -> impl Future<Output = Result<HttpReply, TransportError>> + Send {
        self.post_with_credentials(url, action, envelope, None)
    }

    async fn post_with_credentials(
        &self,
        url: &str,
        action: &str,
        envelope: String,
        credentials: Option<&Credentials>,
    ) -> Result<HttpReply, TransportError> {
        if action.contains('"') || action.chars().any(char::is_control) {
            return Err(TransportError::BadAction {
                action: action.to_owned(),
            });
        }
        let request = Outgoing {
            method: "POST",
            url,
            headers: format!(
                "Content-Type: {ct}; action=\"{action}\"\r\n",
                ct = soap::CONTENT_TYPE
            ),
            body: envelope.as_bytes(),
            limit: MAX_RESPONSE,
        };
        let response = self.send(request, credentials).await?;
        Ok(HttpReply {
            status: response.status,
            body: String::from_utf8_lossy(&response.body).into_owned(),
        })
    }
}

/// An `http://` URL taken apart.
#[derive(Debug, PartialEq, Eq)]
struct HttpTarget<'a> {
    /// `host[:port]` as written, for the `Host` header.
    authority: &'a str,
    /// `host:port` with the default port added, for connecting.
    connect_to: String,
    /// The path and query, `/` when absent.
    path: &'a str,
}

impl<'a> HttpTarget<'a> {
    fn parse(url: &'a str) -> Result<Self, TransportError> {
        let bad = |why| TransportError::BadUrl {
            url: url.to_owned(),
            why,
        };
        let scheme_end = url.find("://").ok_or_else(|| bad("no scheme"))?;
        let scheme = &url[..scheme_end];
        if scheme.eq_ignore_ascii_case("https") {
            return Err(TransportError::TlsUnsupported {
                url: url.to_owned(),
            });
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(bad("only http:// is supported"));
        }
        let rest = &url[scheme_end + 3..];
        if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("contains whitespace or control characters"));
        }
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('/') => (&rest[..i], &rest[i..]),
            Some(_) => return Err(bad("a query without a path")),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err(bad("credentials in the URL are not supported"));
        }
        if authority.is_empty() || authority.starts_with(':') {
            return Err(bad("no host"));
        }
        let has_port = authority.rsplit_once(':').is_some_and(|(host, port)| {
            !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (!host.starts_with('[') || host.ends_with(']'))
        });
        let connect_to = if has_port {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        Ok(Self {
            authority,
            connect_to,
            path,
        })
    }
}

/// One HTTP answer as read off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RawResponse {
    status: u16,
    /// Header names and values (trimmed), in order.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    /// The first header `name` (case-insensitive).
    fn header<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.headers_named(name).next()
    }

    /// Every header `name` (case-insensitive), in order.
    fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Connects to the target, sends `request` (with `authorization` when given), reads one
/// whole answer.
async fn exchange_once(
    target: &HttpTarget<'_>,
    request: &Outgoing<'_>,
    authorization: Option<&str>,
) -> Result<RawResponse, TransportError> {
    let mut wire = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{headers}",
        method = request.method,
        path = target.path,
        host = target.authority,
        headers = request.headers,
    );
    if let Some(authorization) = authorization {
        wire.push_str(&format!("Authorization: {authorization}\r\n"));
    }
    if request.method != "GET" || !request.body.is_empty() {
        wire.push_str(&format!("Content-Length: {}\r\n", request.body.len()));
    }
    wire.push_str("Connection: close\r\n\r\n");
    let mut wire = wire.into_bytes();
    wire.extend_from_slice(request.body);
    exchange(&target.connect_to, request.url, &wire, request.limit).await
}

/// Connects to `addr`, writes `wire`, reads one whole answer of at most `limit` bytes.
async fn exchange(
    addr: &str,
    url: &str,
    wire: &[u8],
    limit: usize,
) -> Result<RawResponse, TransportError> {
    let io = |source| TransportError::Io {
        url: url.to_owned(),
        source,
    };
    let mut stream = TcpStream::connect(addr).await.map_err(io)?;
    let _ = stream.set_nodelay(true);
    stream.write_all(wire).await.map_err(io)?;
    stream.flush().await.map_err(io)?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await.map_err(io)?;
        let eof = n == 0;
        buf.extend_from_slice(&chunk[..n]);
        let malformed = |why: String| TransportError::Malformed {
            url: url.to_owned(),
            why,
        };
        if buf.len() > limit {
            return Err(malformed(format!("larger than {limit} bytes")));
        }
        match parse_response(&buf, eof).map_err(malformed)? {
            Some(reply) => return Ok(reply),
            None if eof => {
                return Err(malformed(
                    "the connection closed before the answer was complete".into(),
                ));
            }
            None => {}
        }
    }
}

/// One complete HTTP/1.x answer in `buf`, `None` if more bytes are needed. `eof`: the
/// peer has closed, so a body delimited by the connection's end is complete. Interim
/// (1xx) answers are skipped.
fn parse_response(buf: &[u8], eof: bool) -> Result<Option<RawResponse>, String> {
    let mut buf = buf;
    loop {
        let Some(head_end) = find(buf, b"\r\n\r\n") else {
            return Ok(None);
        };
        let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| "head is not UTF-8")?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        if !version.starts_with("HTTP/1.") {
            return Err(format!("status line {status_line:?}"));
        }
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .filter(|s| (100..1000).contains(s))
            .ok_or_else(|| format!("status line {status_line:?}"))?;
        let mut content_length = None;
        let mut chunked = false;
        let mut headers = Vec::new();
        for line in lines {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| format!("header line {line:?}"))?;
            let value = value.trim();
            headers.push((name.trim().to_owned(), value.to_owned()));
            if name.eq_ignore_ascii_case("content-length") {
                let length: usize = value
                    .parse()
                    .map_err(|_| format!("Content-Length {value:?}"))?;
                if content_length.is_some_and(|l| l != length) {
                    return Err("conflicting Content-Length headers".into());
                }
                content_length = Some(length);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value
                    .rsplit(',')
                    .next()
                    .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
            }
        }
        let rest = &buf[head_end + 4..];
        if (100..200).contains(&status) {
            // 100 Continue and friends: the real answer follows.
            buf = rest;
            continue;
        }
        let body = if chunked {
            match dechunk(rest)? {
                Some(body) => body,
                None => return Ok(None),
            }
        } else if let Some(length) = content_length {
            if rest.len() < length {
                return Ok(None);
            }
            rest[..length].to_vec()
        } else if status == 204 || status == 304 {
            Vec::new()
        } else if eof {
            rest.to_vec()
        } else {
            return Ok(None);
        };
        return Ok(Some(RawResponse {
            status,
            headers,
            body,
        }));
    }
}

/// The body of a chunked message, `None` until the last chunk and trailers are in.
fn dechunk(mut data: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = find(data, b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&data[..line_end]).map_err(|_| "chunk size line")?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("chunk size {size_text:?}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            // Trailers, then an empty line.
            loop {
                let Some(end) = find(data, b"\r\n") else {
                    return Ok(None);
                };
                if end == 0 {
                    return Ok(Some(body));
                }
                data = &data[end + 2..];
            }
        }
        if size > MAX_DOWNLOAD {
            return Err(format!("chunk of {size} bytes"));
        }
        if data.len() < size + 2 {
            return Ok(None);
        }
        if &data[size..size + 2] != b"\r\n" {
            return Err("chunk not followed by CRLF".into());
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// An [`OnvifClient`] call that failed: which camera, which operation, and why.
#[derive(Debug, thiserror::Error)]
#[error("camera {camera:?}: {operation}: {kind}")]
pub struct ClientError {
    /// The camera's name, as given to [`OnvifClient::new`].
    pub camera: String,
    /// The ONVIF operation (`GetProfiles`).
    pub operation: &'static str,
    /// What went wrong.
    pub kind: ClientErrorKind,
}

impl ClientError {
    /// Whether the camera refused the credentials (a `NotAuthorized`-style fault or HTTP
    /// 401), after the one clock re-sync and retry.
    pub fn is_auth_failure(&self) -> bool {
        self.kind.is_auth_failure()
    }
}

/// Why an [`OnvifClient`] call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientErrorKind {
    /// No HTTP answer.
    #[error("{0}")]
    Transport(#[source] TransportError),
    /// The answer was a SOAP fault, or could not be parsed (its own message repeats the
    /// operation).
    #[error("{0}")]
    Onvif(#[source] OnvifError),
    /// HTTP 401: the camera wants HTTP authentication (or refused ours).
    #[error("HTTP 401 Unauthorized")]
    Unauthorized,
    /// Any other status, or a 400/500 without a SOAP fault.
    #[error("HTTP {status}: {body_excerpt:?}")]
    Http {
        /// The status code.
        status: u16,
        /// The first characters of the body.
        body_excerpt: String,
    },
    /// No nonce: the system random generator failed.
    #[error("{0}")]
    Random(#[source] RandomError),
    /// A snapshot URI answered `200` with something that is not an image.
    #[error("not an image (Content-Type {content_type:?})")]
    NotAnImage {
        /// The content type sent, if any.
        content_type: Option<String>,
    },
}

impl ClientErrorKind {
    fn is_auth_failure(&self) -> bool {
        match self {
            Self::Unauthorized => true,
            Self::Onvif(e) => e.is_auth_failure(),
            _ => false,
        }
    }
}

/// A camera's user name and password for WS-Security. `Debug` does not show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password (only its digest is ever sent).
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// One camera's ONVIF operations over a [`SoapTransport`]. Calls take `&self` and may run
/// concurrently; the clock offset is shared.
pub struct OnvifClient<T> {
    transport: T,
    camera: String,
    device_url: String,
    credentials: Option<Credentials>,
    /// Camera time minus ours, seconds ([`ClockOffset::seconds`]).
    offset: AtomicI64,
}

impl<T> std::fmt::Debug for OnvifClient<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnvifClient")
            .field("camera", &self.camera)
            .field("device_url", &self.device_url)
            .field("credentials", &self.credentials)
            .field("clock_offset", &self.clock_offset())
            .finish_non_exhaustive()
    }
}

impl<T> OnvifClient<T> {
    /// A client for the camera called `camera` (used in errors) whose device service is at
    /// `device_url`, signing requests with `credentials` when given. The clock offset
    /// starts at zero; call [`Self::sync_clock`] first (a failed authentication also
    /// re-syncs it).
    pub fn new(
        transport: T,
        camera: impl Into<String>,
        device_url: impl Into<String>,
        credentials: Option<Credentials>,
    ) -> Self {
        Self {
            transport,
            camera: camera.into(),
            device_url: device_url.into(),
            credentials,
            offset: AtomicI64::new(0),
        }
    }

    /// The camera's name.
    pub fn camera(&self) -> &str {
        &self.camera
    }

    /// The device service URL.
    pub fn device_url(&self) -> &str {
        &self.device_url
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The current clock offset (camera minus ours).
    pub fn clock_offset(&self) -> ClockOffset {
        ClockOffset {
            seconds: self.offset.load(Ordering::Relaxed),
        }
    }

    /// Sets the clock offset (e.g. one remembered from an earlier session).
    pub fn set_clock_offset(&self, offset: ClockOffset) {
        self.offset.store(offset.seconds, Ordering::Relaxed);
    }
}

impl<T: SoapTransport> OnvifClient<T> {
    /// `GetSystemDateAndTime`, unauthenticated; stores and returns the offset between the
    /// camera's UTC clock and `now` (our clock when the answer arrives). A camera that
    /// refuses it unauthenticated (some firmware, some simulators) is asked once more with
    /// a token at the current offset, when the client has credentials.
    pub async fn sync_clock(&self, now: SystemTime) -> Result<ClockOffset, ClientError> {
        let request = device::get_system_date_and_time();
        let operation = request.operation;
        let reply = match self.exchange(&self.device_url, &request, None).await {
            Err(kind) if kind.is_auth_failure() && self.credentials.is_some() => {
                let token = self
                    .token(now)
                    .map_err(|kind| self.error(operation, kind))?;
                self.exchange(&self.device_url, &request, token.as_ref())
                    .await
            }
            other => other,
        }
        .map_err(|kind| self.error(operation, kind))?;
        let time = device::parse_system_date_and_time(&reply).map_err(|e| self.onvif_error(e))?;
        let offset = ClockOffset::between(time.utc, now);
        self.set_clock_offset(offset);
        Ok(offset)
    }

    /// `GetDeviceInformation`.
    pub async fn device_information(
        &self,
        now: SystemTime,
    ) -> Result<DeviceInformation, ClientError> {
        self.call(
            now,
            &self.device_url,
            device::get_device_information(),
            device::parse_device_information,
        )
        .await
    }

    /// `GetCapabilities`: the service XAddrs of ONVIF 1.x devices (no Media2).
    pub async fn capabilities(&self, now: SystemTime) -> Result<ServiceAddresses, ClientError> {
        self.call(
            now,
            &self.device_url,
            device::get_capabilities(),
            device::parse_capabilities,
        )
        .await
    }

    /// `GetServices`: every service's XAddr (ONVIF 2.x; the only way to find Media2).
    pub async fn services(&self, now: SystemTime) -> Result<ServiceAddresses, ClientError> {
        self.call(
            now,
            &self.device_url,
            device::get_services(),
            device::parse_services,
        )
        .await
    }

    /// `GetProfiles` of the media service `version` at `media_url`.
    pub async fn profiles(
        &self,
        now: SystemTime,
        media_url: &str,
        version: MediaVersion,
    ) -> Result<Vec<MediaProfile>, ClientError> {
        self.call(now, media_url, media::get_profiles(version), |text| {
            media::parse_profiles(version, text)
        })
        .await
    }

    /// `GetStreamUri` (RTP unicast over RTSP) of `profile_token`, as the camera wrote it.
    pub async fn stream_uri(
        &self,
        now: SystemTime,
        media_url: &str,
        version: MediaVersion,
        profile_token: &str,
    ) -> Result<String, ClientError> {
        self.call(
            now,
            media_url,
            media::get_stream_uri(version, profile_token),
            |text| media::parse_stream_uri(version, text),
        )
        .await
    }

    /// `GetSnapshotUri` of `profile_token`.
    pub async fn snapshot_uri(
        &self,
        now: SystemTime,
        media_url: &str,
        version: MediaVersion,
        profile_token: &str,
    ) -> Result<String, ClientError> {
        self.call(
            now,
            media_url,
            media::get_snapshot_uri(version, profile_token),
            |text| media::parse_snapshot_uri(version, text),
        )
        .await
    }

    /// One authenticated operation of any service: `request` (from the builders in
    /// [`super::device`], [`super::media`], [`super::ptz`]) signed with a fresh
    /// UsernameToken, POSTed to `url` (the service's XAddr), the status mapped, the answer
    /// parsed by `parse` (the matching `parse_*`). On an authentication failure with
    /// credentials: re-sync the clock once, retry once. If the re-sync itself fails, the
    /// original authentication error is returned.
    ///
    /// ```no_run
    /// # use std::time::{Duration, SystemTime};
    /// # use watchpost_devices::onvif::{client::{HttpTransport, OnvifClient}, ptz};
    /// # async fn f(client: &OnvifClient<HttpTransport>, ptz_url: &str) -> Result<(), Box<dyn std::error::Error>> {
    /// let status = client
    ///     .call(SystemTime::now(), ptz_url, ptz::get_presets("main"), ptz::parse_presets)
    ///     .await?;
    /// # let _ = status; Ok(()) }
    /// ```
    pub async fn call<R>(
        &self,
        now: SystemTime,
        url: &str,
        request: Request,
        parse: impl Fn(&str) -> Result<R, OnvifError>,
    ) -> Result<R, ClientError> {
        let operation = request.operation;
        let attempt = async |client: &Self| -> Result<R, ClientErrorKind> {
            let token = client.token(now)?;
            let body = client.exchange(url, &request, token.as_ref()).await?;
            parse(&body).map_err(ClientErrorKind::Onvif)
        };
        match attempt(self).await {
            Ok(value) => Ok(value),
            Err(kind) if kind.is_auth_failure() && self.credentials.is_some() => {
                if self.sync_clock(now).await.is_err() {
                    return Err(self.error(operation, kind));
                }
                attempt(self)
                    .await
                    .map_err(|kind| self.error(operation, kind))
            }
            Err(kind) => Err(self.error(operation, kind)),
        }
    }

    /// A fresh token at the camera's time, `None` without credentials.
    fn token(&self, now: SystemTime) -> Result<Option<UsernameToken>, ClientErrorKind> {
        let Some(credentials) = &self.credentials else {
            return Ok(None);
        };
        let nonce = security::random_nonce().map_err(ClientErrorKind::Random)?;
        Ok(Some(UsernameToken::at(
            &credentials.username,
            &credentials.password,
            &nonce,
            now,
            self.clock_offset(),
        )))
    }

    /// POSTs the request and maps the status: 200 → the body; 400/500 with a SOAP fault →
    /// the fault; 401 → [`ClientErrorKind::Unauthorized`]; else [`ClientErrorKind::Http`].
    async fn exchange(
        &self,
        url: &str,
        request: &Request,
        token: Option<&UsernameToken>,
    ) -> Result<String, ClientErrorKind> {
        let envelope = soap::envelope(&request.body, token);
        let reply = self
            .transport
            .post_with_credentials(url, request.action, envelope, self.credentials.as_ref())
            .await
            .map_err(ClientErrorKind::Transport)?;
        match reply.status {
            200 => Ok(reply.body),
            401 => Err(ClientErrorKind::Unauthorized),
            400 | 500 => match soap::response_name(&reply.body, request.operation) {
                Err(fault @ OnvifError::Fault { .. }) => Err(ClientErrorKind::Onvif(fault)),
                _ => Err(http_error(reply)),
            },
            _ => Err(http_error(reply)),
        }
    }

    fn error(&self, operation: &'static str, kind: ClientErrorKind) -> ClientError {
        ClientError {
            camera: self.camera.clone(),
            operation,
            kind,
        }
    }

    fn onvif_error(&self, error: OnvifError) -> ClientError {
        self.error(error.operation(), ClientErrorKind::Onvif(error))
    }
}

/// A JPEG (or whatever image the camera sends) fetched from a snapshot URI.
#[derive(Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The snapshot URI it came from (as the camera reported it; no credentials in it).
    pub uri: String,
    /// The `Content-Type` the camera sent (`image/jpeg`), when it sent one.
    pub content_type: Option<String>,
    /// The image bytes.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("uri", &self.uri)
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// The operation name snapshot fetches carry in [`ClientError::operation`].
pub const SNAPSHOT_OPERATION: &str = "Snapshot";

impl OnvifClient<HttpTransport> {
    /// `GetSnapshotUri` of `profile_token`, then [`Self::fetch_snapshot`] of that URI.
    pub async fn snapshot(
        &self,
        now: SystemTime,
        media_url: &str,
        version: MediaVersion,
        profile_token: &str,
    ) -> Result<Snapshot, ClientError> {
        let uri = self
            .snapshot_uri(now, media_url, version, profile_token)
            .await?;
        self.fetch_snapshot(&uri).await
    }

    /// GETs a snapshot URI with the client's credentials (HTTP Digest, or Basic when that
    /// is all the camera offers). `200` with an image (an `image/*` content type, or JPEG's
    /// start-of-image marker when the camera sends none) is the snapshot; `401` is
    /// [`ClientErrorKind::Unauthorized`]; any other status [`ClientErrorKind::Http`]; a
    /// `200` without an image [`ClientErrorKind::NotAnImage`]. Errors name the operation
    /// [`SNAPSHOT_OPERATION`].
    pub async fn fetch_snapshot(&self, uri: &str) -> Result<Snapshot, ClientError> {
        let reply = self
            .transport
            .get(uri, self.credentials.as_ref())
            .await
            .map_err(|e| self.error(SNAPSHOT_OPERATION, ClientErrorKind::Transport(e)))?;
        let kind = match reply.status {
            200 => {
                let is_image = match &reply.content_type {
                    Some(ct) => ct.trim().to_ascii_lowercase().starts_with("image/"),
                    None => reply.body.starts_with(&[0xFF, 0xD8]),
                };
                if is_image && !reply.body.is_empty() {
                    return Ok(Snapshot {
                        uri: uri.to_owned(),
                        content_type: reply.content_type,
                        bytes: reply.body,
                    });
                }
                ClientErrorKind::NotAnImage {
                    content_type: reply.content_type,
                }
            }
            401 => ClientErrorKind::Unauthorized,
            status => ClientErrorKind::Http {
                status,
                body_excerpt: String::from_utf8_lossy(&reply.body)
                    .chars()
                    .take(BODY_EXCERPT)
                    .collect(),
            },
        };
        Err(self.error(SNAPSHOT_OPERATION, kind))
    }
}

fn http_error(reply: HttpReply) -> ClientErrorKind {
    ClientErrorKind::Http {
        status: reply.status,
        body_excerpt: reply.body.chars().take(BODY_EXCERPT).collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::path::Path;
    use std::sync::Mutex;
    use std::time::UNIX_EPOCH;

    use base64::Engine as _;

    use super::*;
    use crate::onvif::ns;

    /// The camera's clock in every GetSystemDateAndTime fixture: 2026-11-28T09:30:00Z.
    const CAMERA_TIME: u64 = 1_795_858_200;
    const DEVICE_URL: &str = "http://192.0.2.10/onvif/device_service";
    const MEDIA_URL: &str = "http://192.0.2.10/onvif/media_service";
    const PASSWORD: &str = "S3cret-pa55word";

    fn fixture(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/onvif/hikvision-style")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[derive(Debug, Clone)]
    struct Posted {
        url: String,
        action: String,
        envelope: String,
    }

    /// Answers each POST with the next scripted `(status, fixture)`, recording it.
    #[derive(Debug, Default)]
    struct FakeCamera {
        script: Mutex<VecDeque<(u16, &'static str)>>,
        posted: Mutex<Vec<Posted>>,
    }

    impl FakeCamera {
        fn new(script: &[(u16, &'static str)]) -> Self {
            Self {
                script: Mutex::new(script.iter().copied().collect()),
                posted: Mutex::default(),
            }
        }

        fn posted(&self) -> Vec<Posted> {
            self.posted.lock().unwrap().clone()
        }

        fn actions(&self) -> Vec<String> {
            self.posted().into_iter().map(|p| p.action).collect()
        }
    }

    impl SoapTransport for FakeCamera {
        fn post(
            &self,
            url: &str,
            action: &str,
            envelope: String,
        ) -> impl Future<Output = Result<HttpReply, TransportError>> + Send {
            self.posted.lock().unwrap().push(Posted {
                url: url.to_owned(),
                action: action.to_owned(),
                envelope,
            });
            let (status, name) = self
                .script
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(|| panic!("unscripted POST {action}"));
            let reply = HttpReply {
                status,
                body: fixture(name),
            };
            std::future::ready(Ok(reply))
        }
    }

    fn client(camera: FakeCamera) -> OnvifClient<FakeCamera> {
        OnvifClient::new(
            camera,
            "front-door",
            DEVICE_URL,
            Some(Credentials {
                username: "admin".into(),
                password: PASSWORD.into(),
            }),
        )
    }

    fn created_of(envelope: &str) -> Option<&str> {
        let start = envelope.find("<wsu:Created>")? + "<wsu:Created>".len();
        let end = envelope[start..].find('<')? + start;
        Some(&envelope[start..end])
    }

    #[tokio::test]
    async fn profiles_and_stream_uri_round_trip() {
        let client = client(FakeCamera::new(&[
            (200, "GetSystemDateAndTime.xml"),
            (200, "GetProfiles.xml"),
            (200, "GetStreamUri.xml"),
        ]));
        // Our clock is 125 s behind the camera's.
        let now = UNIX_EPOCH + Duration::from_secs(CAMERA_TIME - 125);
        let offset = client.sync_clock(now).await.unwrap();
        assert_eq!(offset.seconds, 125);

        let later = now + Duration::from_secs(5);
        let profiles = client
            .profiles(later, MEDIA_URL, MediaVersion::Media1)
            .await
            .unwrap();
        let tokens: Vec<&str> = profiles.iter().map(|p| p.token.as_str()).collect();
        assert_eq!(tokens, ["Profile_1", "Profile_2"]);
        let uri = client
            .stream_uri(later, MEDIA_URL, MediaVersion::Media1, &profiles[0].token)
            .await
            .unwrap();
        assert_eq!(
            uri,
            "rtsp://192.0.2.10:554/live?profile=Profile_1&unicast=true"
        );

        let posted = client.transport().posted();
        let actions: Vec<&str> = posted.iter().map(|p| p.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "http://www.onvif.org/ver10/device/wsdl/GetSystemDateAndTime",
                "http://www.onvif.org/ver10/media/wsdl/GetProfiles",
                "http://www.onvif.org/ver10/media/wsdl/GetStreamUri",
            ]
        );
        assert_eq!(posted[0].url, DEVICE_URL);
        assert_eq!(posted[1].url, MEDIA_URL);
        // The clock request is unauthenticated; the others are signed at camera time.
        assert!(!posted[0].envelope.contains("Security"));
        for p in &posted[1..] {
            assert_eq!(created_of(&p.envelope), Some("2026-11-28T09:30:05Z"));
            assert!(p.envelope.contains(ns::WSSE));
            assert!(!p.envelope.contains(PASSWORD));
        }
        assert!(posted[2].envelope.contains("Profile_1"));
        // Fresh nonces per request.
        let nonce = |e: &str| e.split("<wsse:Nonce").nth(1).map(str::to_owned);
        assert_ne!(nonce(&posted[1].envelope), nonce(&posted[2].envelope));
    }

    #[tokio::test]
    async fn not_authorized_resyncs_the_clock_once_and_retries_once() {
        let client = client(FakeCamera::new(&[
            (400, "Fault-NotAuthorized.xml"),
            (200, "GetSystemDateAndTime.xml"),
            (200, "GetDeviceInformation.xml"),
        ]));
        // Never synced: our clock is an hour ahead, so the first token is stale.
        let now = UNIX_EPOCH + Duration::from_secs(CAMERA_TIME + 3600);
        let info = client.device_information(now).await.unwrap();
        assert!(!info.manufacturer.is_empty());
        assert_eq!(
            client.transport().actions(),
            [
                "http://www.onvif.org/ver10/device/wsdl/GetDeviceInformation",
                "http://www.onvif.org/ver10/device/wsdl/GetSystemDateAndTime",
                "http://www.onvif.org/ver10/device/wsdl/GetDeviceInformation",
            ]
        );
        assert_eq!(client.clock_offset().seconds, -3600);
        let posted = client.transport().posted();
        assert_eq!(
            created_of(&posted[0].envelope),
            Some("2026-11-28T10:30:00Z")
        );
        assert_eq!(
            created_of(&posted[2].envelope),
            Some("2026-11-28T09:30:00Z")
        );
    }

    #[tokio::test]
    async fn a_second_auth_failure_is_returned_with_camera_and_operation() {
        let client = client(FakeCamera::new(&[
            (401, "Fault-NotAuthorized.xml"),
            (200, "GetSystemDateAndTime.xml"),
            (500, "Fault-NotAuthorized.xml"),
        ]));
        let now = UNIX_EPOCH + Duration::from_secs(CAMERA_TIME);
        let err = client
            .profiles(now, MEDIA_URL, MediaVersion::Media2)
            .await
            .unwrap_err();
        assert!(err.is_auth_failure(), "{err}");
        assert!(matches!(
            err.kind,
            ClientErrorKind::Onvif(OnvifError::Fault { .. })
        ));
        assert_eq!(err.camera, "front-door");
        assert_eq!(err.operation, "GetProfiles");
        assert!(
            err.to_string()
                .starts_with("camera \"front-door\": GetProfiles: ")
        );
        assert_eq!(client.transport().posted().len(), 3);
    }

    #[tokio::test]
    async fn other_statuses_are_typed_http_errors_without_retry() {
        let client = client(FakeCamera::new(&[(503, "README.md")]));
        let now = UNIX_EPOCH + Duration::from_secs(CAMERA_TIME);
        let err = client.services(now).await.unwrap_err();
        assert!(
            matches!(err.kind, ClientErrorKind::Http { status: 503, .. }),
            "{err:?}"
        );
        assert_eq!(err.operation, "GetServices");
        assert_eq!(client.transport().posted().len(), 1);
    }

    #[test]
    fn client_futures_are_send() {
        fn assert_send<F: Future + Send>(_: F) {}
        let client = OnvifClient::new(
            HttpTransport::new(Duration::from_secs(1)),
            "c",
            DEVICE_URL,
            None,
        );
        // Never polled: only their types are checked.
        assert_send(client.sync_clock(UNIX_EPOCH));
        assert_send(client.stream_uri(UNIX_EPOCH, MEDIA_URL, MediaVersion::Media2, "p"));
    }

    #[test]
    fn debug_never_shows_the_password() {
        let client = client(FakeCamera::new(&[]));
        let debug = format!("{client:?}");
        assert!(!debug.contains(PASSWORD), "{debug}");
        assert!(
            debug.contains("admin") && debug.contains("front-door"),
            "{debug}"
        );
        let alternate = format!("{client:#?}");
        assert!(!alternate.contains(PASSWORD));
    }

    #[test]
    fn urls_are_http_only() {
        let target = HttpTarget::parse("http://192.0.2.10/onvif/device_service").unwrap();
        assert_eq!(target.connect_to, "192.0.2.10:80");
        assert_eq!(target.path, "/onvif/device_service");
        let target = HttpTarget::parse("http://[::1]:8080").unwrap();
        assert_eq!((target.authority, target.path), ("[::1]:8080", "/"));
        assert_eq!(target.connect_to, "[::1]:8080");
        assert_eq!(
            HttpTarget::parse("http://[::1]").unwrap().connect_to,
            "[::1]:80"
        );
        assert!(matches!(
            HttpTarget::parse("https://192.0.2.10/onvif/device_service"),
            Err(TransportError::TlsUnsupported { .. })
        ));
        for bad in [
            "192.0.2.10/x",
            "ftp://h/",
            "http:///x",
            "http://h/a b",
            "http://u:p@h/",
        ] {
            assert!(
                matches!(HttpTarget::parse(bad), Err(TransportError::BadUrl { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn responses_are_delimited_by_length_chunks_or_close() {
        let full = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(parse_response(&full[..full.len() - 1], false), Ok(None));
        assert_eq!(parse_response(full, false).unwrap().unwrap().body, b"hello");
        let chunked =
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 X\r\ntransfer-encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n";
        assert_eq!(
            parse_response(&chunked[..chunked.len() - 2], false),
            Ok(None)
        );
        let reply = parse_response(chunked, false).unwrap().unwrap();
        assert_eq!((reply.status, reply.body.as_slice()), (500, &b"abcde"[..]));
        assert_eq!(reply.header("TRANSFER-ENCODING"), Some("chunked"));
        let close = b"HTTP/1.0 200 OK\r\n\r\nuntil close";
        assert_eq!(parse_response(close, false), Ok(None));
        assert_eq!(
            parse_response(close, true).unwrap().unwrap().body,
            b"until close"
        );
        assert!(parse_response(b"SSH-2.0\r\n\r\n", false).is_err());
        assert!(
            parse_response(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                false
            )
            .is_err()
        );
    }

    #[tokio::test]
    async fn http_transport_posts_soap_and_reads_a_chunked_answer() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read the head, then Content-Length bytes of body.
            loop {
                let n = conn.read(&mut chunk).await.unwrap();
                assert_ne!(n, 0, "client closed early");
                request.extend_from_slice(&chunk[..n]);
                if let Some(end) = find(&request, b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&request[..end]).to_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .unwrap()
                        .trim()
                        .parse()
                        .unwrap();
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            let body = fixture("GetDeviceInformation.xml");
            let (a, b) = body.split_at(body.len() / 2);
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{a}\r\n{:X}\r\n{b}\r\n0\r\n\r\n",
                a.len(),
                b.len()
            );
            conn.write_all(reply.as_bytes()).await.unwrap();
            conn.shutdown().await.unwrap();
            String::from_utf8(request).unwrap()
        });

        let transport = HttpTransport::new(Duration::from_secs(10));
        let request = device::get_device_information();
        let envelope = soap::envelope(&request.body, None);
        let url = format!("http://{addr}/onvif/device_service");
        let reply = transport
            .post(&url, request.action, envelope.clone())
            .await
            .unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, fixture("GetDeviceInformation.xml"));
        assert!(device::parse_device_information(&reply.body).is_ok());

        let seen = server.await.unwrap();
        let (head, body) = seen.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        assert_eq!(lines.next(), Some("POST /onvif/device_service HTTP/1.1"));
        let headers: Vec<&str> = lines.collect();
        assert!(
            headers.contains(&format!("Host: {addr}").as_str()),
            "{head}"
        );
        assert!(
            headers.contains(
                &"Content-Type: application/soap+xml; charset=utf-8; \
                  action=\"http://www.onvif.org/ver10/device/wsdl/GetDeviceInformation\""
            ),
            "{head}"
        );
        assert!(headers.contains(&"Connection: close"), "{head}");
        assert_eq!(body, envelope);
    }

    #[tokio::test]
    async fn http_transport_refuses_https_without_connecting() {
        let transport = HttpTransport::new(Duration::from_secs(1));
        let err = transport
            .post("https://127.0.0.1:1/onvif", "urn:a", String::new())
            .await
            .unwrap_err();
        assert!(
            matches!(err, TransportError::TlsUnsupported { .. }),
            "{err}"
        );
        let err = transport
            .post("http://127.0.0.1:1/onvif", "urn:\"a", String::new())
            .await
            .unwrap_err();
        assert!(matches!(err, TransportError::BadAction { .. }), "{err}");
    }

    /// Serves one scripted answer per connection on 127.0.0.1, in order; returns the
    /// address and the requests seen (head and body as text).
    async fn scripted_server(
        script: Vec<Vec<u8>>,
    ) -> (std::net::SocketAddr, tokio::task::JoinHandle<Vec<String>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            for answer in script {
                let (mut conn, _) = listener.accept().await.unwrap();
                let mut request = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = conn.read(&mut chunk).await.unwrap();
                    assert_ne!(n, 0, "client closed early");
                    request.extend_from_slice(&chunk[..n]);
                    if let Some(end) = find(&request, b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&request[..end]).to_lowercase();
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse().unwrap());
                        if request.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                // The client may hang up early (an answer over its size cap).
                let _ = conn.write_all(&answer).await;
                let _ = conn.shutdown().await;
                seen.push(String::from_utf8(request).unwrap());
            }
            seen
        });
        (addr, task)
    }

    fn header_of<'a>(request: &'a str, name: &str) -> Option<&'a str> {
        request.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The value of `key` in a Digest `Authorization` header (quotes removed).
    fn digest_param<'a>(authorization: &'a str, key: &str) -> Option<&'a str> {
        authorization
            .strip_prefix("Digest ")?
            .split(", ")
            .find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == key))
            .map(|(_, v)| v.trim_matches('"'))
    }

    #[tokio::test]
    async fn http_digest_challenges_are_answered_and_remembered() {
        let challenge = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"cam\"\r\n\
            WWW-Authenticate: Digest realm=\"cam\", qop=\"auth,auth-int\", nonce=\"n0nce\", \
            opaque=\"0paque\", algorithm=MD5\r\nContent-Length: 0\r\n\r\n";
        let body = fixture("GetDeviceInformation.xml");
        let ok = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let (addr, server) = scripted_server(vec![
            challenge.as_bytes().to_vec(),
            ok.clone().into_bytes(),
            ok.into_bytes(),
        ])
        .await;
        let client = OnvifClient::new(
            HttpTransport::new(Duration::from_secs(10)),
            "digest-cam",
            format!("http://{addr}/onvif/device_service"),
            Some(Credentials {
                username: "admin".into(),
                password: PASSWORD.into(),
            }),
        );
        let now = UNIX_EPOCH + Duration::from_secs(CAMERA_TIME);
        client.device_information(now).await.unwrap();
        client.device_information(now).await.unwrap();
        let seen = server.await.unwrap();
        assert_eq!(seen.len(), 3);
        assert_eq!(header_of(&seen[0], "authorization"), None);
        for request in &seen {
            assert!(!request.contains(PASSWORD), "{request}");
        }
        let first = header_of(&seen[1], "authorization").unwrap();
        assert_eq!(digest_param(first, "username"), Some("admin"));
        assert_eq!(digest_param(first, "realm"), Some("cam"));
        assert_eq!(digest_param(first, "uri"), Some("/onvif/device_service"));
        assert_eq!(digest_param(first, "qop"), Some("auth"));
        assert_eq!(digest_param(first, "nc"), Some("00000001"));
        assert_eq!(digest_param(first, "opaque"), Some("0paque"));
        // The response is RFC 7616's, for this method, URI and password.
        let cnonce = digest_param(first, "cnonce").unwrap();
        let mut expected = http_auth::DigestClient::try_from(
            &http_auth::parse_challenges(
                "Digest realm=\"cam\", qop=\"auth\", nonce=\"n0nce\", opaque=\"0paque\"",
            )
            .unwrap()[0],
        )
        .unwrap();
        let expected = expected
            .respond_with_testing_cnonce(
                &PasswordParams {
                    username: "admin",
                    password: PASSWORD,
                    uri: "/onvif/device_service",
                    method: "POST",
                    body: None,
                },
                cnonce,
            )
            .unwrap();
        assert_eq!(
            digest_param(first, "response"),
            digest_param(&expected, "response")
        );
        // The second call authenticates up front, with the next nonce count.
        let second = header_of(&seen[2], "authorization").unwrap();
        assert_eq!(digest_param(second, "nc"), Some("00000002"));
        assert!(!format!("{:?}", client.transport()).contains("n0nce"));
    }

    #[tokio::test]
    async fn snapshots_are_fetched_with_basic_when_that_is_all_offered() {
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0, 0xFF, 0xD9];
        let mut ok =
            b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 8\r\n\r\n".to_vec();
        ok.extend_from_slice(&jpeg);
        let (addr, server) = scripted_server(vec![
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"snap\"\r\nContent-Length: 0\r\n\r\n".to_vec(),
            ok,
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n".to_vec(),
        ])
        .await;
        let credentials = Credentials {
            username: "admin".into(),
            password: PASSWORD.into(),
        };
        let client = OnvifClient::new(
            HttpTransport::new(Duration::from_secs(10)),
            "snap-cam",
            format!("http://{addr}/onvif/device_service"),
            Some(credentials),
        );
        let uri = format!("http://{addr}/snap.jpg?profile=main");
        let snapshot = client.fetch_snapshot(&uri).await.unwrap();
        assert_eq!(snapshot.bytes, jpeg);
        assert_eq!(snapshot.content_type.as_deref(), Some("image/jpeg"));
        assert!(format!("{snapshot:?}").contains("len: 8"));
        // Refused although sent up front (no challenge to answer): typed, no retry.
        let err = client.fetch_snapshot(&uri).await.unwrap_err();
        assert!(err.is_auth_failure(), "{err}");
        assert_eq!(err.operation, SNAPSHOT_OPERATION);
        assert!(!err.to_string().contains(PASSWORD));
        let seen = server.await.unwrap();
        assert!(seen[0].starts_with("GET /snap.jpg?profile=main HTTP/1.1\r\n"));
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("admin:{PASSWORD}"))
        );
        assert_eq!(header_of(&seen[1], "authorization"), Some(basic.as_str()));
        assert_eq!(header_of(&seen[2], "authorization"), Some(basic.as_str()));
    }

    #[tokio::test]
    async fn downloads_are_capped() {
        let mut big =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {MAX_DOWNLOAD}\r\n\r\n").into_bytes();
        big.resize(big.len() + MAX_DOWNLOAD, b'x');
        let (addr, _server) = scripted_server(vec![big]).await;
        let transport = HttpTransport::new(Duration::from_secs(20));
        let err = transport
            .get(&format!("http://{addr}/big"), None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
    }
}
