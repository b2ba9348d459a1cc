//! HTTPS and the security headers: the real server over TLS with a certificate made at
//! test time (rcgen), a real TLS client (tokio-rustls), certificate and key files that
//! cannot be used, slow clients, and the headers on pages and API answers.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use tower::ServiceExt;
use watchpost_config::Config;
use watchpost_web::tls::{TlsListener, server_config};
use watchpost_web::{Server, app};

/// The content security policy of the pages (the one `/` must carry).
const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; connect-src 'self'; \
     img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// A fresh directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("watchpost-tls-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A self-signed certificate for `localhost` and 127.0.0.1, written as `cert.pem` and
/// `key.pem` (PKCS#8) in `dir`.
struct TestCert {
    cert: PathBuf,
    key: PathBuf,
    der: CertificateDer<'static>,
    key_pem: String,
}

fn make_cert(dir: &Path) -> TestCert {
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let key_pem = pem("PRIVATE KEY", &made.signing_key.serialize_der());
    std::fs::write(&cert, pem("CERTIFICATE", made.cert.der())).unwrap();
    std::fs::write(&key, &key_pem).unwrap();
    TestCert {
        cert,
        key,
        der: made.cert.der().clone(),
        key_pem,
    }
}

fn connector(trusted: &CertificateDer<'static>) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    TlsConnector::from(Arc::new(config))
}

/// An HTTP/1.1 answer: status, headers (names lowercase), body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn parse(raw: &[u8]) -> Answer {
        let text = String::from_utf8_lossy(raw);
        let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Answer {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` over HTTPS to `addr`, trusting `cert` only; checks the ALPN outcome.
async fn https_get(addr: SocketAddr, cert: &CertificateDer<'static>, path: &str) -> Answer {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = tokio::time::timeout(Duration::from_secs(10), connector(cert).connect(name, tcp))
        .await
        .expect("handshake in time")
        .expect("TLS handshake with the server's certificate");
    // The server speaks HTTP/1.1 only and says so.
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut raw)).await;
    match read.expect("answer in time") {
        Ok(_) => {}
        // A peer that closes without close_notify still delivered the whole answer.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
        Err(e) => panic!("reading the answer: {e}"),
    }
    Answer::parse(&raw)
}

/// A configuration for a real server on ephemeral ports, data in `dir`.
fn server_config_in(dir: &Path) -> Config {
    let mut config = Config::default();
    config.server.http_listen = "127.0.0.1:0".parse().unwrap();
    config.webrtc.udp_listen = "127.0.0.1:0".parse().unwrap();
    config.storage.data_dir = dir.join("data");
    config
}

#[tokio::test]
async fn the_server_speaks_https_with_security_headers_and_shuts_down() {
    let dir = temp_dir("serve");
    let cert = make_cert(&dir);
    let mut config = server_config_in(&dir);
    config.server.tls_cert = Some(cert.cert.clone());
    config.server.tls_key = Some(cert.key.clone());
    config.validate().unwrap();

    let server = Server::bind(config).await.unwrap();
    let addr = server.local_addr();
    assert!(server.is_https());
    assert_eq!(server.url(), format!("https://{addr}/"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    let health = https_get(addr, &cert.der, "/healthz").await;
    assert_eq!(health.status, 200, "{health:?}");
    assert!(health.body.contains("\"status\":\"ok\""), "{health:?}");
    assert_eq!(
        health.header("strict-transport-security"),
        Some("max-age=31536000")
    );

    // The page: every security header, the strict CSP, HSTS.
    let page = https_get(addr, &cert.der, "/").await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(page.header("content-security-policy"), Some(PAGE_CSP));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(
        page.header("strict-transport-security"),
        Some("max-age=31536000")
    );

    // An API answer (whatever its status): not cacheable, not frameable, not sniffed.
    let api = https_get(addr, &cert.der, "/api/v1/paths").await;
    assert_eq!(api.header("cache-control"), Some("no-store"), "{api:?}");
    assert_eq!(api.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(api.header("x-frame-options"), Some("DENY"));
    assert_eq!(
        api.header("content-security-policy"),
        Some("frame-ancestors 'none'")
    );
    assert_eq!(
        api.header("strict-transport-security"),
        Some("max-age=31536000")
    );

    // Plain HTTP to the HTTPS port gets no HTTP answer, and the server carries on.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), plain.read_to_end(&mut raw))
        .await
        .expect("the server closes a plain-HTTP connection");
    assert!(
        !raw.starts_with(b"HTTP/"),
        "{:?}",
        String::from_utf8_lossy(&raw)
    );
    assert_eq!(https_get(addr, &cert.der, "/healthz").await.status, 200);

    // A client that trusts another certificate refuses the server's.
    let other = make_cert(&temp_dir("other"));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let refused = connector(&other.der)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await;
    assert!(refused.is_err());

    // Graceful shutdown works over TLS too.
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the port is closed"
    );
}

#[tokio::test]
async fn a_plain_server_sends_no_hsts() {
    let dir = temp_dir("plain");
    let server = Server::bind(server_config_in(&dir)).await.unwrap();
    assert!(!server.is_https());
    assert_eq!(server.url(), format!("http://{}/", server.local_addr()));
    drop(server);

    let state = super::state("tls-plain-headers").await;
    for uri in ["/", "/api/v1/paths", "/healthz", "/ui/whep.js"] {
        let response = app(state.clone())
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let headers = response.headers();
        assert!(
            !headers.contains_key(header::STRICT_TRANSPORT_SECURITY),
            "{uri}"
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{uri}");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer", "{uri}");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY", "{uri}");
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        if uri == "/" {
            assert_eq!(csp, PAGE_CSP);
            assert!(!headers.contains_key(header::CACHE_CONTROL));
        } else {
            assert_eq!(csp, "frame-ancestors 'none'", "{uri}");
        }
        if uri.starts_with("/api/") || uri == "/healthz" {
            assert_eq!(headers[header::CACHE_CONTROL], "no-store", "{uri}");
        }
    }

    // WHEP keeps its CORS headers under the security headers.
    let response = app(state.clone())
        .oneshot(
            Request::builder()
                .method(Method::OPTIONS)
                .uri("/whep/oil-depot/main")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let headers = response.headers();
    assert!(
        headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        "{headers:?}"
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
}

/// The pages run no inline script and no inline event handler: the CSP
/// (`script-src 'self'`) would block them. Their scripts are modules under `/ui/`.
#[tokio::test]
async fn pages_have_no_inline_scripts_and_their_scripts_are_served() {
    let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ui");
    let state = super::state("tls-scripts").await;
    let mut pages = 0;
    for entry in std::fs::read_dir(&ui).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "html") {
            continue;
        }
        pages += 1;
        let html = std::fs::read_to_string(&path).unwrap();
        let name = path.display();
        for tag in html.split("<script").skip(1) {
            let open = &tag[..tag.find('>').unwrap()];
            let src = open
                .split("src=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or_else(|| panic!("{name}: an inline <script{open}>"));
            assert!(
                tag[open.len() + 1..].trim_start().starts_with("</script>"),
                "{name}: <script src> with a body"
            );
            assert!(
                src.starts_with("/ui/"),
                "{name}: script {src} not under /ui/"
            );
            let response = app(state.clone())
                .oneshot(Request::get(src).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{name}: {src}");
        }
        let lower = html.to_ascii_lowercase();
        for handler in [
            " onclick=",
            " onload=",
            " onerror=",
            " onchange=",
            " onsubmit=",
            "javascript:",
        ] {
            assert!(!lower.contains(handler), "{name}: inline handler {handler}");
        }
    }
    assert!(pages >= 2, "found {pages} pages in {}", ui.display());
}

#[tokio::test]
async fn unusable_certificate_and_key_files_are_named() {
    let dir = temp_dir("bad-files");
    let good = make_cert(&dir);
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "this is not PEM at all\n").unwrap();
    let missing = dir.join("missing.pem");

    let err = server_config(&missing, &good.key).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "{} (server.tls_cert): cannot read it",
            missing.display()
        )),
        "{err}"
    );

    let err = server_config(&garbage, &good.key).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{} (server.tls_cert): ", garbage.display())),
        "{err}"
    );
    assert!(err.contains("CERTIFICATE"), "{err}");

    let err = server_config(&good.cert, &garbage).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{} (server.tls_key): ", garbage.display())),
        "{err}"
    );
    assert!(err.contains("no private key"), "{err}");

    // A key file that is broken PEM: described, never quoted.
    let broken = dir.join("broken-key.pem");
    let body: String = good.key_pem.lines().nth(1).unwrap().to_owned();
    std::fs::write(
        &broken,
        format!(
            "-----BEGIN PRIVATE KEY-----\n{body}\n!!!not base64!!!\n-----END PRIVATE KEY-----\n"
        ),
    )
    .unwrap();
    let err = server_config(&good.cert, &broken).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "{} (server.tls_key): not valid PEM",
            broken.display()
        )),
        "{err}"
    );
    assert!(
        !err.contains(&body[..16]),
        "key material in the error: {err}"
    );
    let truncated = dir.join("truncated-key.pem");
    std::fs::write(&truncated, format!("-----BEGIN PRIVATE KEY-----\n{body}\n")).unwrap();
    let err = server_config(&good.cert, &truncated)
        .unwrap_err()
        .to_string();
    assert!(err.contains("(server.tls_key): not valid PEM"), "{err}");
    assert!(
        !err.contains(&body[..16]),
        "key material in the error: {err}"
    );

    // A key of another certificate.
    let other = make_cert(&temp_dir("bad-files-other"));
    let err = server_config(&good.cert, &other.key)
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not belong to the certificate"), "{err}");
    assert!(
        err.contains("server.tls_cert") && err.contains("server.tls_key"),
        "{err}"
    );
    assert!(
        !err.contains(other.key_pem.lines().nth(1).unwrap()),
        "{err}"
    );

    // The server refuses to start, naming the file.
    let mut config = server_config_in(&dir);
    config.server.tls_cert = Some(garbage.clone());
    config.server.tls_key = Some(good.key.clone());
    let err = format!("{:#}", Server::bind(config).await.unwrap_err());
    assert!(err.contains(&garbage.display().to_string()), "{err}");
    assert!(err.contains("server.tls_cert"), "{err}");

    // Both or neither (the configuration's own check).
    let mut config = server_config_in(&dir);
    config.server.tls_cert = Some(good.cert.clone());
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("server.tls_key: must be set"), "{err}");
}

/// A TLS listener around a bare router, with `timeout` for handshakes.
async fn tls_listener(cert: &TestCert, timeout: Duration) -> TlsListener {
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = server_config(&cert.cert, &cert.key).unwrap();
    TlsListener::with_handshake_timeout(tcp, config, timeout).unwrap()
}

#[tokio::test]
async fn a_silent_client_blocks_nobody_and_times_out() {
    let dir = temp_dir("slow");
    let cert = make_cert(&dir);
    let listener = tls_listener(&cert, Duration::from_secs(2)).await;
    let addr = axum::serve::Listener::local_addr(&listener).unwrap();
    let router = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
    let serving = tokio::spawn(axum::serve(listener, router).into_future());

    // Clients that connect and say nothing, or half a ClientHello, hold up no one else.
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .unwrap();
    let started = Instant::now();
    let answer = https_get(addr, &cert.der, "/healthz").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, "ok");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // After the handshake timeout the server closes them.
    let started = Instant::now();
    for mut client in silent.into_iter().chain([half]) {
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut buf))
            .await
            .expect("the server closes a silent client after the handshake timeout");
        assert!(read.is_ok() || buf.is_empty());
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1500),
        "closed after {waited:?}"
    );
    serving.abort();
}

#[tokio::test]
async fn failed_handshakes_are_counted_and_not_fatal() {
    let dir = temp_dir("count");
    let cert = make_cert(&dir);
    let mut listener = tls_listener(&cert, Duration::from_secs(5)).await;
    let addr = axum::serve::Listener::local_addr(&listener).unwrap();
    assert_eq!(listener.handshake_failures(), 0);
    assert!(format!("{listener:?}").contains("handshake_failures: 0"));

    // Plain HTTP, and a client that distrusts the certificate.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = plain.read_to_end(&mut buf).await;
    assert!(!buf.starts_with(b"HTTP/"));
    let other = make_cert(&temp_dir("count-other"));
    let tcp = TcpStream::connect(addr).await.unwrap();
    assert!(
        connector(&other.der)
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .is_err()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while listener.handshake_failures() < 2 {
        assert!(
            Instant::now() < deadline,
            "{}",
            listener.handshake_failures()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(listener.handshake_failures(), 2);

    // The listener still hands out good connections.
    let client = tokio::spawn({
        let der = cert.der.clone();
        async move {
            let tcp = TcpStream::connect(addr).await.unwrap();
            connector(&der)
                .connect(ServerName::try_from("localhost").unwrap(), tcp)
                .await
                .map(|_| ())
        }
    });
    let (_tls, peer) = tokio::time::timeout(
        Duration::from_secs(10),
        axum::serve::Listener::accept(&mut listener),
    )
    .await
    .expect("a finished handshake");
    assert!(peer.ip().is_loopback());
    client.await.unwrap().unwrap();

    // Dropping the listener closes its port.
    drop(listener);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(TcpStream::connect(addr).await.is_err());
}
