//! Security headers on every answer (a middleware over the whole router, see [`crate::app`]).
//!
//! - all answers: `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
//!   `X-Frame-Options: DENY`;
//! - HTML pages: the [`PAGE_CSP`] content security policy; other answers
//!   `Content-Security-Policy: frame-ancestors 'none'` (nobody frames the API either);
//! - over HTTPS (`server.tls_cert` set): `Strict-Transport-Security`;
//! - API, WHEP and health answers that set no `Cache-Control` of their own: `no-store`
//!   (they carry live state, session tokens and SDP with ICE credentials).
//!
//! A header a handler set itself is kept. CORS headers (WHEP) are not touched.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use watchpost_config::ServerConfig;

/// The content security policy of the web UI's pages. The pages load nothing from other
/// origins and run no inline script (their scripts are modules under `/ui/`); inline
/// `<style>` blocks are allowed. Video arrives over WebRTC (a `MediaStream`, which no
/// fetch directive governs); `connect-src 'self'` covers the WHEP and API requests.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; connect-src 'self'; \
     img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The policy of answers that are not pages: they must not be framed.
pub const OTHER_CSP: &str = "frame-ancestors 'none'";

/// `Strict-Transport-Security` over HTTPS: one year, this host only.
pub const HSTS: &str = "max-age=31536000";

/// Which headers this server adds; see the module documentation.
#[derive(Debug, Clone, Copy)]
pub struct SecurityHeaders {
    hsts: bool,
}

impl SecurityHeaders {
    /// The headers for a server with `config`: HSTS exactly when it serves HTTPS.
    pub fn for_server(config: &ServerConfig) -> SecurityHeaders {
        SecurityHeaders {
            hsts: config.tls_cert.is_some(),
        }
    }
}

/// The middleware (`axum::middleware::from_fn_with_state`).
pub async fn set(State(policy): State<SecurityHeaders>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let dynamic = path.starts_with("/api/") || path.starts_with("/whep/") || path == "/healthz";
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"));
    keep_or_set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    keep_or_set(headers, header::REFERRER_POLICY, "no-referrer");
    keep_or_set(headers, header::X_FRAME_OPTIONS, "DENY");
    keep_or_set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        if is_html { PAGE_CSP } else { OTHER_CSP },
    );
    if policy.hsts {
        keep_or_set(headers, header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
    if dynamic {
        keep_or_set(headers, header::CACHE_CONTROL, "no-store");
    }
    response
}

fn keep_or_set(headers: &mut HeaderMap, name: HeaderName, value: &'static str) {
    headers
        .entry(name)
        .or_insert(HeaderValue::from_static(value));
}
