//! The camera inventory over HTTP, and what can be done with a camera.
//!
//! - `GET /api/v1/cameras?district=&street=&category=&enterprise_id=&tag=&enabled=&q=&limit=&offset=`
//!   → `{items, total, limit, offset}`; each item is the camera with its `health`
//!   (online/offline/unknown, since when, last error) and its hub `paths`.
//! - `POST /api/v1/cameras` → `201 Created`, `Location`, `ETag: "<revision>"`. Every
//!   camera has a `number` (1 to 99999, unique) operators type on the wall; absent on
//!   create it is assigned, absent on replace it is kept; another camera's number is
//!   `409` with `fields: [{"field": "number", ...}]`.
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
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchpost_devices::Devices;
use watchpost_devices::health::CameraHealth;
use watchpost_devices::inventory::{
    Camera, CameraFilter, CameraId, CameraInput, DEFAULT_LIMIT, ImportMode, ImportReport, RowError,
    decode_camera_json, parse_csv, parse_json,
};
use watchpost_devices::onvif_camera::{PtzCommand, PtzReply, StreamProfile};
use watchpost_devices::service::DiscoveredView;
use watchpost_devices::streams::path_name;

use watchpost_command::access::{Action, AuditAction, Jurisdiction, NewAuditEntry, Scope};

use crate::auth::{Caller, access, now_ms};
use crate::error::ErrorBody;
use crate::paths::OwnedScope;
use crate::{ApiError, AppState};

/// Where a camera as sent belongs.
fn input_scope(input: &CameraInput) -> OwnedScope {
    OwnedScope {
        district: Some(input.division.district.trim().to_owned()).filter(|d| !d.is_empty()),
        street: input
            .division
            .street
            .as_ref()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()),
        enterprise_id: input
            .enterprise_id
            .as_ref()
            .map(|e| e.trim().to_owned())
            .filter(|e| !e.is_empty()),
    }
}

/// Narrows a camera filter to the caller's jurisdiction; `false` when the filter asks for
/// something outside it (the answer is then empty).
pub(crate) fn constrain(filter: &mut CameraFilter, jurisdiction: &Jurisdiction) -> bool {
    let Scope {
        district,
        street,
        enterprise_id,
    } = jurisdiction.constraints();
    narrow(&mut filter.district, district)
        && narrow(&mut filter.street, street)
        && narrow(&mut filter.enterprise_id, enterprise_id)
}

/// Sets `field` to `required` when the jurisdiction requires a value; `false` when the
/// filter already asks for another.
pub(crate) fn narrow(field: &mut Option<String>, required: Option<&str>) -> bool {
    match (field.as_deref(), required) {
        (_, None) => true,
        (Some(asked), Some(required)) => asked == required,
        (None, Some(required)) => {
            *field = Some(required.to_owned());
            true
        }
    }
}

/// Appends an audit entry by `caller`; a failure to record is an error of the request
/// (the change already happened, and the log says so).
pub(crate) async fn audit(
    state: &AppState,
    caller: &Caller,
    action: AuditAction,
    target: &str,
    detail: &[(&str, serde_json::Value)],
) -> Result<(), ApiError> {
    let mut entry = NewAuditEntry::new(&caller.audit(), action, now_ms()).target(target);
    for (k, v) in detail {
        entry = entry.detail(k, v.clone());
    }
    access(state)?.store().append_audit(entry).await?;
    Ok(())
}

/// Largest import body (a CSV of some ten thousand cameras).
const IMPORT_LIMIT: usize = 16 * 1024 * 1024;

/// The camera routes, nested under `/api/v1`.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    let (schemas, paths, import) = routes!(import);
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes((
            schemas,
            paths,
            import.layer(DefaultBodyLimit::max(IMPORT_LIMIT)),
        ))
        .routes(routes!(one, replace, remove))
        .routes(routes!(ptz))
        .routes(routes!(snapshot))
        .routes(routes!(discover))
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
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = CameraView)]
pub(crate) struct CameraView {
    #[serde(flatten)]
    camera: Camera,
    /// `None` for a disabled camera (not checked).
    health: Option<CameraHealth>,
    /// Hub paths (`cam/<id>/main`, `cam/<id>/sub`) for an enabled camera.
    paths: Vec<String>,
    /// Whether the camera can be steered (ONVIF PTZ): `false` without an ONVIF endpoint or
    /// when disabled, `true`/`false` once its ONVIF services are known, `null` while they
    /// are not yet (ask with the PTZ `presets` command).
    ptz: Option<bool>,
}

/// One page of cameras.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct CameraList {
    /// This page, by id.
    items: Vec<CameraView>,
    /// How many cameras match the filter in all.
    total: u64,
    /// The page size used.
    limit: u32,
    /// The cameras skipped.
    offset: u64,
}

/// What answered a discovery probe.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct DiscoverAnswer {
    /// The devices that answered, each once.
    devices: Vec<DiscoveredView>,
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
    let ptz = if camera.enabled {
        devices.ptz_known(camera.id.as_str())
    } else {
        Some(false)
    };
    CameraView {
        health: devices.health(camera.id.as_str()),
        camera,
        paths,
        ptz,
    }
}

/// `"<revision>"`: the `ETag` of a record at `revision` (what [`if_match`] reads back).
pub(crate) fn etag(revision: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{revision}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
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

/// List cameras with their health and hub paths.
#[utoipa::path(get, path = "/cameras", operation_id = "list_cameras", tag = "cameras",
    params(CameraFilter),
    responses(
        (status = 200, description = "One page of cameras", body = CameraList),
        (status = 400, description = "Unknown or malformed query parameter", body = ErrorBody),
        (status = 422, description = "Invalid filter", body = ErrorBody),
    ))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(mut filter): Query<CameraFilter>,
) -> Result<Json<CameraList>, ApiError> {
    let devices = devices(&state)?;
    if !constrain(&mut filter, caller.jurisdiction()?) {
        return Ok(Json(CameraList {
            items: Vec::new(),
            total: 0,
            limit: filter.limit.unwrap_or(DEFAULT_LIMIT),
            offset: filter.offset.unwrap_or(0),
        }));
    }
    let page = devices.list(&filter).await?;
    let items: Vec<CameraView> = page.items.into_iter().map(|c| view(devices, c)).collect();
    Ok(Json(CameraList {
        items,
        total: page.total,
        limit: filter.limit.unwrap_or(DEFAULT_LIMIT),
        offset: filter.offset.unwrap_or(0),
    }))
}

/// Add a camera; enabled cameras become hub paths at once.
#[utoipa::path(post, path = "/cameras", operation_id = "create_camera", tag = "cameras",
    request_body = CameraInput,
    responses(
        (status = 201, description = "Added; `Location` and `ETag` set", body = CameraView),
        (status = 400, description = "Malformed JSON or unknown field", body = ErrorBody),
        (status = 409, description = "The id is taken, or the `number` (named in `fields`)", body = ErrorBody),
        (status = 415, description = "Body not declared JSON", body = ErrorBody),
        (status = 422, description = "Invalid values; each field named", body = ErrorBody),
    ))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let devices = devices(&state)?;
    require_json(&headers)?;
    let input = decode_camera_json(&body)?;
    caller.require(
        Action::ManageDevices,
        &input_scope(&input).scope(),
        "the camera",
    )?;
    let camera = devices.create(input).await?;
    audit(
        &state,
        &caller,
        AuditAction::CameraChanged,
        camera.id.as_str(),
        &[("change", "created".into())],
    )
    .await?;
    let location = format!("/api/v1/cameras/{}", camera.id.as_str());
    let tag = etag(camera.revision);
    let mut response = (StatusCode::CREATED, Json(view(devices, camera))).into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response.headers_mut().insert(header::ETAG, tag);
    Ok(response)
}

/// One camera; `ETag` is its revision.
#[utoipa::path(get, path = "/cameras/{id}", operation_id = "get_camera", tag = "cameras",
    params(("id" = String, Path, description = "Camera id")),
    responses(
        (status = 200, description = "The camera", body = CameraView),
        (status = 404, description = "No such camera", body = ErrorBody),
    ))]
async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let devices = devices(&state)?;
    let camera = visible(devices, &caller, Action::View, &id).await?;
    let tag = etag(camera.revision);
    Ok(([(header::ETAG, tag)], Json(view(devices, camera))).into_response())
}

/// Replace a camera (credentials kept unless given or `null`; the number kept unless given).
#[utoipa::path(put, path = "/cameras/{id}", operation_id = "replace_camera", tag = "cameras",
    params(("id" = String, Path, description = "Camera id"),
        ("if-match" = Option<String>, Header, description = "The revision replaced, `\"<n>\"`")),
    request_body = CameraInput,
    responses(
        (status = 200, description = "Replaced; `ETag` is the new revision", body = CameraView),
        (status = 404, description = "No such camera", body = ErrorBody),
        (status = 409, description = "Another camera has the `number` (named in `fields`)", body = ErrorBody),
        (status = 412, description = "`If-Match` names another revision", body = ErrorBody),
        (status = 415, description = "Body not declared JSON", body = ErrorBody),
        (status = 422, description = "Invalid values; each field named", body = ErrorBody),
    ))]
async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let devices = devices(&state)?;
    let id = visible(devices, &caller, Action::ManageDevices, &id)
        .await?
        .id;
    let expected = if_match(&headers)?;
    require_json(&headers)?;
    let input = decode_camera_json(&body)?;
    caller.require(
        Action::ManageDevices,
        &input_scope(&input).scope(),
        "the camera's new place",
    )?;
    let camera = devices.update(&id, input, expected).await?;
    audit(
        &state,
        &caller,
        AuditAction::CameraChanged,
        id.as_str(),
        &[
            ("change", "replaced".into()),
            ("revision", camera.revision.into()),
        ],
    )
    .await?;
    let tag = etag(camera.revision);
    Ok(([(header::ETAG, tag)], Json(view(devices, camera))).into_response())
}

/// Remove a camera; its streams stop and their viewers are closed.
#[utoipa::path(delete, path = "/cameras/{id}", operation_id = "delete_camera", tag = "cameras",
    params(("id" = String, Path, description = "Camera id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such camera", body = ErrorBody),
    ))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let devices = devices(&state)?;
    let id = visible(devices, &caller, Action::ManageDevices, &id)
        .await?
        .id;
    devices.delete(&id).await?;
    audit(
        &state,
        &caller,
        AuditAction::CameraChanged,
        id.as_str(),
        &[("change", "deleted".into())],
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The camera `id` if `caller` may do `action` on it: 404 when it does not exist, 403
/// when the role or jurisdiction does not allow it.
pub(crate) async fn visible(
    devices: &Devices,
    caller: &Caller,
    action: Action,
    id: &str,
) -> Result<Camera, ApiError> {
    let camera = devices.get(&camera_id(id)?).await?;
    caller.require(
        action,
        &OwnedScope::of_camera(&camera).scope(),
        &format!("camera {id:?}"),
    )?;
    Ok(camera)
}

/// How an import treats ids that exist.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    /// `create` (default: an existing id is a row error) or `upsert`.
    #[serde(default)]
    mode: Option<ImportMode>,
}

/// Import cameras from CSV (RFC 4180, header row) or a JSON array (at most 16 MiB); good
/// rows land, each bad row is reported with its line and field.
#[utoipa::path(post, path = "/cameras/import", operation_id = "import_cameras", tag = "cameras",
    params(ImportQuery),
    request_body(content(
        (String = "text/csv"),
        (Vec<CameraInput> = "application/json"),
    )),
    responses(
        (status = 200, description = "What landed and each bad row", body = ImportReport),
        (status = 400, description = "Not UTF-8, or not a JSON array", body = ErrorBody),
        (status = 413, description = "Larger than 16 MiB"),
        (status = 415, description = "Neither CSV nor JSON", body = ErrorBody),
    ))]
async fn import(
    State(state): State<AppState>,
    caller: Caller,
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
    // Rows outside the caller's jurisdiction are reported like any bad row; the others land.
    let (rows, outside): (Vec<_>, Vec<_>) = rows
        .into_iter()
        .partition(|row| caller.sees(&input_scope(&row.input).scope()));
    errors.extend(outside.into_iter().map(|row| RowError {
        line: row.line,
        field: Some("division.district".to_owned()),
        reason: "outside your jurisdiction".to_owned(),
    }));
    let mut report = devices
        .import(rows, query.mode.unwrap_or(ImportMode::Create))
        .await;
    errors.append(&mut report.errors);
    audit(
        &state,
        &caller,
        AuditAction::CameraChanged,
        "import",
        &[
            ("change", "imported".into()),
            ("created", serde_json::json!(report.created)),
            ("updated", serde_json::json!(report.updated)),
        ],
    )
    .await?;
    errors.sort_by_key(|e| e.line);
    report.errors = errors;
    Ok((StatusCode::OK, Json(report)).into_response())
}

/// Pan, tilt, zoom and presets (ONVIF PTZ).
#[utoipa::path(post, path = "/cameras/{id}/ptz", operation_id = "camera_ptz", tag = "cameras",
    params(("id" = String, Path, description = "Camera id")),
    request_body = PtzCommand,
    responses(
        (status = 200, description = "What the camera answered", body = PtzReply),
        (status = 404, description = "No such camera", body = ErrorBody),
        (status = 409, description = "The camera has no ONVIF PTZ", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
        (status = 502, description = "`camera_error` or `camera_auth_failed`", body = ErrorBody),
    ))]
async fn ptz(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<PtzReply>, ApiError> {
    let devices = devices(&state)?;
    let id = visible(devices, &caller, Action::Ptz, &id).await?.id;
    let command: PtzCommand = json_body(&headers, &body)?;
    let result = devices.ptz(&id, &command).await;
    // What moves the camera or changes its presets is recorded; reading (its position, its
    // presets — a console's PTZ panel asks on every tile) is not.
    if command.changes_camera() {
        let detail = serde_json::to_value(&command).unwrap_or_default();
        audit(
            &state,
            &caller,
            AuditAction::Ptz,
            id.as_str(),
            &[("command", detail), ("ok", result.is_ok().into())],
        )
        .await?;
    }
    Ok(Json(result?))
}

/// Which stream a snapshot is of.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SnapshotQuery {
    /// `main` (default) or `sub`.
    #[serde(default)]
    profile: Option<StreamProfile>,
}

/// A JPEG still: the camera's ONVIF snapshot, else the stream's key frame decoded
/// (header `X-Snapshot-Origin: onvif|stream`).
#[utoipa::path(get, path = "/cameras/{id}/snapshot", operation_id = "camera_snapshot", tag = "cameras",
    params(("id" = String, Path, description = "Camera id"), SnapshotQuery),
    responses(
        (status = 200, description = "The picture", content_type = "image/jpeg", body = Vec<u8>),
        (status = 404, description = "No such camera", body = ErrorBody),
        (status = 501, description = "No ONVIF snapshot and this build cannot decode video", body = ErrorBody),
        (status = 502, description = "The camera failed", body = ErrorBody),
        (status = 504, description = "The stream did not start in time", body = ErrorBody),
    ))]
async fn snapshot(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<SnapshotQuery>,
) -> Result<Response, ApiError> {
    let devices = devices(&state)?;
    let id = visible(devices, &caller, Action::View, &id).await?.id;
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
#[derive(Debug, Deserialize, utoipa::ToSchema)]
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

/// Find ONVIF devices by WS-Discovery (multicast on the configured interface, and
/// unicast to the given hosts). An empty body probes by multicast for 2 s.
#[utoipa::path(post, path = "/devices/discover", operation_id = "discover_devices", tag = "cameras",
    request_body(content = Option<DiscoverBody>),
    responses(
        (status = 200, description = "What answered", body = DiscoverAnswer),
        (status = 422, description = "Invalid address", body = ErrorBody),
    ))]
async fn discover(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<DiscoverAnswer>, ApiError> {
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
    Ok(Json(DiscoverAnswer { devices: found }))
}
