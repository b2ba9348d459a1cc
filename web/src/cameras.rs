//! The camera inventory over HTTP, and what can be done with a camera.
//!
//! - `GET /api/v1/cameras?district=&street=&category=&enterprise_id=&tag=&enabled=&q=&limit=&offset=`
//!   → `{items, total, limit, offset}`; each item is the camera with its `health`
//!   (online/offline/unknown, since when, last error) and its hub `paths`.
//! - `POST /api/v1/cameras` → `201 Created`, `Location`, `ETag: "<revision>"`.
//! - `GET /api/v1/cameras/{id}` → the camera, `ETag`.
//! - `PUT /api/v1/cameras/{id}` (full replacement; `If-Match: "<revision>"` optional, a
//!   stale one is `412`) → the camera.
//! - `DELETE /api/v1/cameras/{id}` → `204`; its streams stop and their viewers are closed.
//! - `POST /api/v1/cameras/import?mode=create|upsert` with `text/csv` or `application/json`
//!   → `200` and the report: ids created and updated, and one error per bad row naming its
//!   line and field; the good rows land whatever the bad ones say.
//! - `POST /api/v1/cameras/{id}/ptz` with a [`PtzCommand`] → its [`PtzReply`].
//! - `GET /api/v1/cameras/{id}/snapshot?profile=main|sub` → `image/jpeg` (header
//!   `X-Snapshot-Origin: onvif|stream`).
//! - `POST /api/v1/devices/discover` with `{"multicast": true, "addresses": ["192.0.2.7"],
//!   "timeout_ms": 2000}` → what answered, and which inventory camera each already is.
//!
//! Credentials are write-only: answers say `credentials_set`, never a user name or password.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use watchpost_devices::Devices;
use watchpost_devices::health::CameraHealth;
use watchpost_devices::inventory::{
    Camera, CameraFilter, CameraId, DEFAULT_LIMIT, ImportMode, decode_camera_json, parse_csv,
    parse_json,
};
use watchpost_devices::onvif_camera::{PtzCommand, PtzReply, StreamProfile};
use watchpost_devices::streams::path_name;

use crate::{ApiError, AppState};

/// Largest import body (a CSV of some ten thousand cameras).
const IMPORT_LIMIT: usize = 16 * 1024 * 1024;

/// The camera routes, nested under `/api/v1`.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/cameras", get(list).post(create))
        .route(
            "/cameras/import",
            post(import).layer(DefaultBodyLimit::max(IMPORT_LIMIT)),
        )
        .route("/cameras/{id}", get(one).put(replace).delete(remove))
        .route("/cameras/{id}/ptz", post(ptz))
        .route("/cameras/{id}/snapshot", get(snapshot))
        .route("/devices/discover", post(discover))
}

fn devices(state: &AppState) -> Result<&Devices, ApiError> {
    state
        .devices
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("the devices service is not running".into()))
}

fn camera_id(id: &str) -> Result<CameraId, ApiError> {
    CameraId::parse(id).map_err(|e| ApiError::NotFound(format!("no camera {id:?}: {e}")))
}

/// A camera as the API shows it: the record, its health and its hub paths.
#[derive(Debug, Serialize)]
pub(crate) struct CameraView {
    #[serde(flatten)]
    camera: Camera,
    /// `None` for a disabled camera (not checked).
    health: Option<CameraHealth>,
    /// Hub paths (`cam/<id>/main`, `cam/<id>/sub`) for an enabled camera.
    paths: Vec<String>,
}

fn view(devices: &Devices, camera: Camera) -> CameraView {
    let paths = if camera.enabled {
        let has_sub = camera.onvif_url.is_some() || camera.sub_url.is_some();
        [StreamProfile::Main, StreamProfile::Sub]
            .into_iter()
            .filter(|p| *p == StreamProfile::Main || has_sub)
            .filter_map(|p| path_name(camera.id.as_str(), p).ok())
            .map(|n| n.as_str().to_owned())
            .collect()
    } else {
        Vec::new()
    };
    CameraView {
        health: devices.health(camera.id.as_str()),
        camera,
        paths,
    }
}

fn etag(camera: &Camera) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{}\"", camera.revision))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// `If-Match: "<revision>"` as a revision; `*` or absent is no precondition.
pub(crate) fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::BadRequest("If-Match is not ASCII".into()))?
        .trim();
    if text == "*" {
        return Ok(None);
    }
    text.trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map(Some)
        .map_err(|_| ApiError::PreconditionFailed(format!("If-Match {text} is no camera revision")))
}

/// `415` unless the body is declared JSON.
pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(
            "expected Content-Type: application/json".into(),
        ))
    }
}

/// Parses a JSON body, naming the field that is wrong (`pan: invalid type…`).
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, ApiError> {
    require_json(headers)?;
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            ApiError::BadRequest(format!("invalid JSON: {inner}"))
        } else {
            ApiError::BadRequest(format!("{path}: {inner}"))
        }
    })
}

/// `GET /api/v1/cameras`: the filtered page.
async fn list(
    State(state): State<AppState>,
    Query(filter): Query<CameraFilter>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let devices = devices(&state)?;
    let page = devices.list(&filter).await?;
    let items: Vec<CameraView> = page.items.into_iter().map(|c| view(devices, c)).collect();
    Ok(Json(serde_json::json!({
        "items": items,
        "total": page.total,
        "limit": filter.limit.unwrap_or(DEFAULT_LIMIT),
        "offset": filter.offset.unwrap_or(0),
    })))
}

/// `POST /api/v1/cameras`.
async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let devices = devices(&state)?;
    require_json(&headers)?;
    let camera = devices.create(decode_camera_json(&body)?).await?;
    let location = format!("/api/v1/cameras/{}", camera.id.as_str());
    let tag = etag(&camera);
    let mut response = (StatusCode::CREATED, Json(view(devices, camera))).into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response.headers_mut().insert(header::ETAG, tag);
    Ok(response)
}

/// `GET /api/v1/cameras/{id}`.
async fn one(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let devices = devices(&state)?;
    let camera = devices.get(&camera_id(&id)?).await?;
    let tag = etag(&camera);
    Ok(([(header::ETAG, tag)], Json(view(devices, camera))).into_response())
}

/// `PUT /api/v1/cameras/{id}`.
async fn replace(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let devices = devices(&state)?;
    let id = camera_id(&id)?;
    let expected = if_match(&headers)?;
    require_json(&headers)?;
    let camera = devices
        .update(&id, decode_camera_json(&body)?, expected)
        .await?;
    let tag = etag(&camera);
    Ok(([(header::ETAG, tag)], Json(view(devices, camera))).into_response())
}

/// `DELETE /api/v1/cameras/{id}`.
async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    devices(&state)?.delete(&camera_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    #[serde(default)]
    mode: Option<ImportMode>,
}

/// `POST /api/v1/cameras/import`.
async fn import(
    State(state): State<AppState>,
    Query(query): Query<ImportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let devices = devices(&state)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let text = std::str::from_utf8(&body)
        .map_err(|e| ApiError::BadRequest(format!("the import is not UTF-8: {e}")))?;
    let (rows, mut errors) = if content_type.starts_with("text/csv") {
        parse_csv(text)
    } else if content_type.starts_with("application/json") {
        parse_json(text)?
    } else {
        return Err(ApiError::UnsupportedMediaType(
            "expected Content-Type: text/csv or application/json".into(),
        ));
    };
    let mut report = devices
        .import(rows, query.mode.unwrap_or(ImportMode::Create))
        .await;
    errors.append(&mut report.errors);
    errors.sort_by_key(|e| e.line);
    report.errors = errors;
    Ok((StatusCode::OK, Json(report)).into_response())
}

/// `POST /api/v1/cameras/{id}/ptz`.
async fn ptz(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<PtzReply>, ApiError> {
    let devices = devices(&state)?;
    let id = camera_id(&id)?;
    let command: PtzCommand = json_body(&headers, &body)?;
    Ok(Json(devices.ptz(&id, &command).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotQuery {
    #[serde(default)]
    profile: Option<StreamProfile>,
}

/// `GET /api/v1/cameras/{id}/snapshot`.
async fn snapshot(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<SnapshotQuery>,
) -> Result<Response, ApiError> {
    let devices = devices(&state)?;
    let id = camera_id(&id)?;
    let shot = devices
        .snapshot(&id, query.profile.unwrap_or(StreamProfile::Main))
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::HeaderName::from_static("x-snapshot-origin"),
                HeaderValue::from_static(shot.origin),
            ),
        ],
        shot.jpeg,
    )
        .into_response())
}

/// The body of `POST /api/v1/devices/discover`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DiscoverBody {
    /// Probe the WS-Discovery multicast group (default true).
    #[serde(default = "yes")]
    multicast: bool,
    /// Also probe these hosts by unicast (`192.0.2.7` or `192.0.2.7:3702`).
    #[serde(default)]
    addresses: Vec<String>,
    /// How long to collect answers, ms (default 2000, at most 10000).
    #[serde(default)]
    timeout_ms: Option<u64>,
}

fn yes() -> bool {
    true
}

/// `POST /api/v1/devices/discover`.
async fn discover(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let devices = devices(&state)?;
    let body: DiscoverBody = if body.is_empty() {
        DiscoverBody {
            multicast: true,
            addresses: Vec::new(),
            timeout_ms: None,
        }
    } else {
        json_body(&headers, &body)?
    };
    let timeout = Duration::from_millis(body.timeout_ms.unwrap_or(2000).clamp(100, 10_000));
    let found = devices
        .discover(body.multicast, &body.addresses, timeout)
        .await?;
    Ok(Json(serde_json::json!({ "devices": found })))
}
