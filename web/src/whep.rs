//! WHEP (WebRTC-HTTP egress protocol): play any hub path in a browser.
//!
//! - `POST /whep/{path}` with an SDP offer (`Content-Type: application/sdp`) → `201
//!   Created`, the SDP answer, `Location: /whep/sessions/{id}`, `ETag` of the ICE session.
//!   The answer is complete (every host candidate, UDP and ICE-TCP): we never trickle.
//! - `PATCH /whep/sessions/{id}` with a trickle-ICE SDP fragment (`Content-Type:
//!   application/trickle-ice-sdpfrag`, RFC 8840): candidates of the current ICE session
//!   → `204`; new ICE credentials → ICE restart, `200` with our new credentials and
//!   candidates as a fragment and the new `ETag`. `If-Match` (an entity tag, or `*`) that
//!   names another ICE session → `412`.
//! - `DELETE /whep/sessions/{id}` → `204`, the session ends and its hub reader detaches.
//! - `OPTIONS` on both → `204` with CORS headers and one `Link: <url>; rel="ice-server"`
//!   per configured STUN/TURN URL.
//!
//! - `GET /api/v1/webrtc/sessions` (routed in `api_router`): every session with its path,
//!   state, age and stats; `GET /api/v1/paths/{name}` lists the same for one path.
//!
//! Errors (through [`ApiError`]): unknown path or session 404, invalid path 400, not SDP
//! (or not a fragment for PATCH) 415, malformed SDP or fragment 400, stale `If-Match` 412, no codec in common 406 (naming what the camera sends and what the
//! offer accepts), source not ready after the start timeout 503.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchpost_config::WebRtcConfig;
use watchpost_media::hub::HubError;
use watchpost_media::webrtc::{PatchOutcome, WebRtcError, trickle};

use watchpost_command::access::Action;

use crate::auth::Caller;
use crate::error::ErrorBody;
use crate::paths::{path_scope, require_path};
use crate::{ApiError, AppState};

/// 403 unless `caller` may play the path WHEP session `id` plays (404 if there is none).
async fn require_session(state: &AppState, caller: &Caller, id: &str) -> Result<(), ApiError> {
    let path = state
        .webrtc
        .as_ref()
        .and_then(|w| w.sessions().into_iter().find(|s| s.id.as_str() == id))
        .map(|s| s.path)
        .ok_or_else(|| ApiError::NotFound(format!("no WHEP session {id:?}")))?;
    require_path(state, caller, Action::View, &path).await
}

/// The WHEP routes.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(delete_session, patch_session, options_session))
        .routes(routes!(create, options_path))
}

const SDP: &str = "application/sdp";

fn cors(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Location, Link, ETag, Accept-Patch"),
    );
}

/// `Link` header values for the configured ICE servers (RFC 9725 §4.6).
fn ice_server_links(config: &WebRtcConfig) -> Vec<HeaderValue> {
    let mut out = Vec::new();
    for server in &config.ice_servers {
        for url in &server.urls {
            let mut link = format!("<{url}>; rel=\"ice-server\"");
            if let (Some(user), Some(credential)) = (&server.username, &server.credential) {
                link.push_str(&format!(
                    "; username=\"{user}\"; credential=\"{}\"; credential-type=\"password\"",
                    credential.expose()
                ));
            }
            if let Ok(v) = HeaderValue::from_str(&link) {
                out.push(v);
            }
        }
    }
    out
}

/// CORS preflight of a WHEP endpoint, with the configured ICE servers as `Link` headers.
#[utoipa::path(options, path = "/whep/{*path}", operation_id = "whep_options", tag = "whep",
    params(("path" = String, Path, description = "Hub path; may contain `/`")),
    responses((status = 204, description = "CORS headers and one `Link: <url>; rel=\"ice-server\"` per STUN/TURN server")))]
async fn options_path(state: State<AppState>) -> Response {
    options(state).await
}

/// CORS preflight of a WHEP session.
#[utoipa::path(options, path = "/whep/sessions/{id}", operation_id = "whep_session_options", tag = "whep",
    params(("id" = String, Path, description = "WHEP session id")),
    responses((status = 204, description = "CORS headers and the ICE servers' `Link` headers")))]
async fn options_session(state: State<AppState>) -> Response {
    options(state).await
}

async fn options(State(state): State<AppState>) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    cors(headers);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, DELETE, PATCH, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Content-Type, Authorization, If-Match"),
    );
    headers.insert("Accept-Post", HeaderValue::from_static(SDP));
    headers.insert(
        "Accept-Patch",
        HeaderValue::from_static(trickle::CONTENT_TYPE),
    );
    for link in ice_server_links(&state.config.webrtc) {
        headers.append(header::LINK, link);
    }
    response
}

fn whep_error(err: WebRtcError) -> ApiError {
    match err {
        WebRtcError::MalformedOffer(_) | WebRtcError::MalformedFragment(_) => {
            ApiError::BadRequest(err.to_string())
        }
        WebRtcError::UnknownSession(_) => ApiError::NotFound(err.to_string()),
        WebRtcError::PreconditionFailed(_) => ApiError::PreconditionFailed(err.to_string()),
        WebRtcError::Negotiation(_) => ApiError::NotAcceptable(err.to_string()),
        // WHEP: the source is unavailable → 503 (the paths API says 504 for the same).
        WebRtcError::Hub(e @ HubError::StartTimeout { .. }) => {
            ApiError::SourceUnavailable(e.to_string())
        }
        WebRtcError::Hub(e) => ApiError::from(e),
        WebRtcError::Closed => ApiError::Unavailable(err.to_string()),
        WebRtcError::Io(_) | WebRtcError::Rtc(_) => ApiError::Internal(err.to_string()),
    }
}

/// `GET /api/v1/webrtc/sessions`: every WHEP session with its path, state, age and stats
/// (frame counters, RTP packets/bytes sent, NACK/PLI/FIR received, loss, jitter, RTT).
#[utoipa::path(get, path = "/webrtc/sessions", operation_id = "list_webrtc_sessions", tag = "whep",
    responses((status = 200, description = "Every WHEP session", body = Vec<watchpost_media::webrtc::SessionInfo>)))]
pub(crate) async fn sessions(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<Vec<watchpost_media::webrtc::SessionInfo>>, ApiError> {
    let all = state
        .webrtc
        .as_ref()
        .map(|w| w.sessions())
        .unwrap_or_default();
    let mut visible = Vec::with_capacity(all.len());
    for session in all {
        if caller.sees(&path_scope(&state, &session.path).await?.scope()) {
            visible.push(session);
        }
    }
    Ok(axum::Json(visible))
}

/// Play a hub path: an SDP offer in, `201` with the complete SDP answer out (all host
/// candidates, UDP and ICE-TCP; the server never trickles).
#[utoipa::path(post, path = "/whep/{*path}", operation_id = "whep_offer", tag = "whep",
    params(("path" = String, Path, description = "Hub path; may contain `/` (`cam/c1/sub`)")),
    request_body(content = String, content_type = "application/sdp", description = "The SDP offer"),
    responses(
        (status = 201, description = "The SDP answer; `Location: /whep/sessions/{id}`, `ETag` of the ICE session, `Link` ICE servers",
            content_type = "application/sdp", body = String),
        (status = 400, description = "Malformed SDP or invalid path", body = ErrorBody),
        (status = 404, description = "No such path", body = ErrorBody),
        (status = 406, description = "No codec in common (names what the camera sends)", body = ErrorBody),
        (status = 415, description = "Not `application/sdp`", body = ErrorBody),
        (status = 503, description = "The camera did not start in time, or WebRTC is not running", body = ErrorBody),
    ))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, ApiError> {
    require_path(&state, &caller, Action::View, &path).await?;
    require_content_type(&headers, SDP, "a WHEP offer")?;
    let webrtc = state
        .webrtc
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("WebRTC is not running".into()))?;
    let created = webrtc
        .create_session(&path, &body)
        .await
        .map_err(whep_error)?;
    let id = created.id;
    if let Some(access) = state.access.as_ref() {
        state
            .views
            .started(access, &caller, id.as_str(), &path)
            .await;
    }
    let mut response = Response::new(Body::from(created.answer));
    *response.status_mut() = StatusCode::CREATED;
    let headers = response.headers_mut();
    cors(headers);
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(SDP));
    let location = format!("/whep/sessions/{id}");
    headers.insert(
        header::LOCATION,
        HeaderValue::from_str(&location).map_err(|e| ApiError::Internal(e.to_string()))?,
    );
    insert_etag(headers, &created.etag)?;
    headers.insert(
        "Accept-Patch",
        HeaderValue::from_static(trickle::CONTENT_TYPE),
    );
    for link in ice_server_links(&state.config.webrtc) {
        headers.append(header::LINK, link);
    }
    Ok(response)
}

/// 415 unless the request's `Content-Type` is `expected` (parameters ignored).
fn require_content_type(headers: &HeaderMap, expected: &str, what: &str) -> Result<(), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(expected))
    {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "{what} must be sent as Content-Type: {expected}, not {content_type:?}"
        )))
    }
}

fn insert_etag(headers: &mut HeaderMap, etag: &str) -> Result<(), ApiError> {
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(etag).map_err(|e| ApiError::Internal(e.to_string()))?,
    );
    Ok(())
}

/// End a session; its hub reader detaches.
#[utoipa::path(delete, path = "/whep/sessions/{id}", operation_id = "whep_delete_session", tag = "whep",
    params(("id" = String, Path, description = "WHEP session id")),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, description = "No such session", body = ErrorBody),
    ))]
async fn delete_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require_session(&state, &caller, &id).await?;
    let closed = state
        .webrtc
        .as_ref()
        .is_some_and(|webrtc| webrtc.close_session(&id));
    if !closed {
        return Err(ApiError::NotFound(format!("no WHEP session {id:?}")));
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    cors(response.headers_mut());
    Ok(response)
}

/// Trickle ICE (`204`) or ICE restart (`200` with our new credentials and candidates).
#[utoipa::path(patch, path = "/whep/sessions/{id}", operation_id = "whep_patch_session", tag = "whep",
    params(("id" = String, Path, description = "WHEP session id"),
        ("if-match" = Option<String>, Header, description = "The ICE session's entity tag, or `*`")),
    request_body(content = String, content_type = "application/trickle-ice-sdpfrag",
        description = "An SDP fragment (RFC 8840)"),
    responses(
        (status = 200, description = "ICE restarted; our fragment and the new `ETag`",
            content_type = "application/trickle-ice-sdpfrag", body = String),
        (status = 204, description = "Candidates added"),
        (status = 400, description = "Malformed fragment", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 412, description = "`If-Match` names another ICE session", body = ErrorBody),
        (status = 415, description = "Not a trickle-ICE fragment", body = ErrorBody),
    ))]
async fn patch_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, ApiError> {
    require_session(&state, &caller, &id).await?;
    require_content_type(&headers, trickle::CONTENT_TYPE, "a WHEP PATCH")?;
    let webrtc = state
        .webrtc
        .as_ref()
        .ok_or_else(|| ApiError::NotFound(format!("no WHEP session {id:?}")))?;
    let if_match = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let patched = webrtc
        .patch_session(&id, &body, if_match)
        .await
        .map_err(whep_error)?;
    let mut response = match patched.outcome {
        PatchOutcome::Trickled { .. } => StatusCode::NO_CONTENT.into_response(),
        PatchOutcome::Restarted { fragment } => {
            let mut r = Response::new(Body::from(fragment));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(trickle::CONTENT_TYPE),
            );
            r
        }
    };
    cors(response.headers_mut());
    insert_etag(response.headers_mut(), &patched.etag)?;
    Ok(response)
}
