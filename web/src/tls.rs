//! HTTPS: the server's certificate chain and private key from PEM files
//! (`server.tls_cert`, `server.tls_key`), a rustls configuration on the aws-lc-rs crypto
//! provider, and [`TlsListener`], a listener for `axum::serve` that does every TLS
//! handshake in a task of its own.
//!
//! Errors name the file and what is wrong with it, never its contents: a private key that
//! does not parse is described, not quoted.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client may take from its TCP connect to a finished TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at once; further connections wait in the kernel's backlog.
const MAX_HANDSHAKES: usize = 512;

/// Finished handshakes waiting for `axum::serve` to take them.
const READY_QUEUE: usize = 64;

/// The only application protocol offered: the server speaks HTTP/1.1 (axum's `http1`).
const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// A certificate or key file that cannot be used. The message names the file and the
/// configuration key; it never contains key material.
#[derive(Debug, thiserror::Error)]
#[error("{}", .message)]
pub struct TlsError {
    message: String,
}

impl TlsError {
    fn file(path: &Path, key: &str, what: impl fmt::Display) -> TlsError {
        TlsError {
            message: format!("{} ({key}): {what}", path.display()),
        }
    }
}

/// Reads the certificate chain and private key and builds the server's TLS configuration:
/// TLS 1.3 and 1.2 with the aws-lc-rs provider's safe defaults, no client certificates,
/// ALPN `http/1.1`.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = load_certs(cert)?;
    let private_key = load_key(key)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError {
            message: format!("TLS protocol versions: {e}"),
        })?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|e| {
            let why = match e {
                rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                    "the private key does not belong to the certificate".to_owned()
                }
                other => format!("the certificate and key cannot be used together: {other}"),
            };
            TlsError {
                message: format!(
                    "{} (server.tls_cert) and {} (server.tls_key): {why}",
                    cert.display(),
                    key.display()
                ),
            }
        })?;
    config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
    Ok(Arc::new(config))
}

/// Every `CERTIFICATE` section of `path`, leaf first.
fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    const KEY: &str = "server.tls_cert";
    let bytes = read(path, KEY)?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::file(path, KEY, describe_pem_error(&e)))?;
    if chain.is_empty() {
        return Err(TlsError::file(
            path,
            KEY,
            "no \"-----BEGIN CERTIFICATE-----\" section: expected the PEM certificate chain, \
             leaf first",
        ));
    }
    Ok(chain)
}

/// The first private key of `path`: PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`) or
/// SEC1 (`EC PRIVATE KEY`).
fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    const KEY: &str = "server.tls_key";
    let bytes = read(path, KEY)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::file(
            path,
            KEY,
            "no private key section: expected PEM \"PRIVATE KEY\" (PKCS#8), \
             \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\"",
        ),
        other => TlsError::file(path, KEY, describe_pem_error(&other)),
    })
}

fn read(path: &Path, key: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::file(path, key, format!("cannot read it: {e}")))
}

/// What is wrong with a PEM file, in words that quote none of its contents.
fn describe_pem_error(e: &pem::Error) -> &'static str {
    match e {
        pem::Error::MissingSectionEnd { .. } => "not valid PEM: a section has no END line",
        pem::Error::IllegalSectionStart { .. } => "not valid PEM: a malformed BEGIN line",
        pem::Error::Base64Decode(_) => "not valid PEM: a section's body is not base64",
        pem::Error::NoItemsFound => "no PEM section of the expected kind",
        pem::Error::SectionTooLarge => "not valid PEM: a section is larger than 256 MB",
        _ => "not valid PEM",
    }
}

/// A TCP listener that hands out finished TLS connections to `axum::serve`.
///
/// One task accepts TCP connections and spawns a task per connection for the handshake,
/// bounded by [`HANDSHAKE_TIMEOUT`]; finished streams reach [`accept`] through a bounded
/// queue. A slow or malicious client therefore holds up nobody but itself. A failed or
/// timed-out handshake is logged at debug level with the peer address and counted
/// ([`TlsListener::handshake_failures`]); it never stops the listener. Dropping the
/// listener closes the socket and abandons the handshakes in progress.
///
/// [`accept`]: axum::serve::Listener::accept
pub struct TlsListener {
    local_addr: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    accept_task: JoinHandle<()>,
    failures: Arc<AtomicU64>,
}

impl fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsListener")
            .field("local_addr", &self.local_addr)
            .field("handshake_failures", &self.handshake_failures())
            .finish_non_exhaustive()
    }
}

impl TlsListener {
    /// Starts accepting on `tcp` with [`HANDSHAKE_TIMEOUT`]. Must be called within a Tokio
    /// runtime.
    pub fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> io::Result<TlsListener> {
        TlsListener::with_handshake_timeout(tcp, config, HANDSHAKE_TIMEOUT)
    }

    /// [`TlsListener::new`] with another handshake timeout.
    pub fn with_handshake_timeout(
        tcp: TcpListener,
        config: Arc<rustls::ServerConfig>,
        timeout: Duration,
    ) -> io::Result<TlsListener> {
        let local_addr = tcp.local_addr()?;
        let (ready_tx, ready) = mpsc::channel(READY_QUEUE);
        let failures = Arc::new(AtomicU64::new(0));
        let accept_task = tokio::spawn(accept_loop(
            tcp,
            TlsAcceptor::from(config),
            timeout,
            ready_tx,
            failures.clone(),
        ));
        Ok(TlsListener {
            local_addr,
            ready,
            accept_task,
            failures,
        })
    }

    /// Handshakes that failed or timed out since the listener started.
    pub fn handshake_failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept task ended (only when the runtime shuts down): no more connections.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    timeout: Duration,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
    failures: Arc<AtomicU64>,
) {
    let in_progress = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let permit = tokio::select! {
            permit = in_progress.clone().acquire_owned() => {
                permit.expect("the handshake semaphore is never closed")
            }
            () = ready.closed() => return,
        };
        let (stream, peer) = tokio::select! {
            accepted = tcp.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = ready.closed() => return,
        };
        // TLS records are small and latency matters (handshake, WHEP answers, events).
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        let failures = failures.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let handshake = tokio::select! {
                handshake = tokio::time::timeout(timeout, acceptor.accept(stream)) => handshake,
                // The listener is gone (shutdown): abandon the handshake.
                () = ready.closed() => return,
            };
            match handshake {
                Ok(Ok(tls)) => {
                    // Fails only when the listener is gone; the connection is then dropped.
                    let _ = ready.send((tls, peer)).await;
                }
                Ok(Err(e)) => {
                    let failed = failures.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::debug!(%peer, error = %e, failed, "TLS handshake failed");
                }
                Err(_) => {
                    let failed = failures.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::debug!(
                        %peer,
                        timeout_s = timeout.as_secs_f64(),
                        failed,
                        "TLS handshake timed out"
                    );
                }
            }
        });
    }
}

/// As axum's own TCP listener: a connection that died before it was accepted is ignored;
/// anything else (out of file descriptors) is logged and accepting pauses for a second.
async fn accept_error(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept a TCP connection; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
