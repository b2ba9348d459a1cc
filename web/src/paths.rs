//! `/api/v1/paths`: the stream hub's paths and their statistics; one path also lists its
//! WHEP sessions (the hub knows readers, not WebRTC: the two are joined here). Paths of
//! inventory cameras (`cam/<id>/main|sub`) carry the camera's id and health (the devices
//! service knows it, the hub does not: joined here too).

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use watchpost_devices::health::CameraHealth;
use watchpost_devices::streams::parse_path_name;
use watchpost_media::hub::PathStats;
use watchpost_media::webrtc::SessionInfo;

use crate::error::ErrorBody;
use crate::{ApiError, AppState};

/// A path as `GET /api/v1/paths` lists it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct PathView {
    /// The hub's view, flattened.
    #[serde(flatten)]
    path: PathStats,
    /// For an inventory camera's path: the camera and its health.
    #[serde(skip_serializing_if = "Option::is_none")]
    camera: Option<CameraOfPath>,
}

/// The inventory camera behind a `cam/<id>/…` path.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CameraOfPath {
    /// Camera id.
    id: String,
    /// Online/offline, since when, last error; `None` before the first check.
    health: Option<CameraHealth>,
}

fn camera_of(state: &AppState, path: &str) -> Option<CameraOfPath> {
    let (id, _) = parse_path_name(path)?;
    Some(CameraOfPath {
        id: id.to_owned(),
        health: state.devices.as_ref().and_then(|d| d.health(id)),
    })
}

/// `GET /api/v1/paths`: every path with its state, codecs, rates, readers, drops,
/// reconnects and last error (credentials redacted), and for inventory cameras the
/// camera's health.
#[utoipa::path(get, path = "/paths", operation_id = "list_paths", tag = "streams",
    responses((status = 200, description = "Every path", body = Vec<PathView>)))]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Vec<PathView>>, ApiError> {
    let paths = state.hub.paths().await?;
    Ok(Json(
        paths
            .into_iter()
            .map(|path| PathView {
                camera: camera_of(&state, &path.name),
                path,
            })
            .collect(),
    ))
}

/// One path as `GET /api/v1/paths/{name}` reports it: the hub's statistics and the
/// WebRTC sessions playing it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct PathDetail {
    /// The hub's view (state, tracks, rates, `readers`, ...), flattened.
    #[serde(flatten)]
    path: PathStats,
    /// The WHEP sessions playing this path, ordered by id: id, state, age and stats
    /// (frames, packets/bytes sent, NACK/PLI/FIR, loss, jitter, RTT, frames skipped
    /// waiting for a key frame). Empty when WebRTC is not running.
    sessions: Vec<SessionInfo>,
    /// For an inventory camera's path: the camera and its health.
    #[serde(skip_serializing_if = "Option::is_none")]
    camera: Option<CameraOfPath>,
}

/// `GET /api/v1/paths/{name}`: one path (`name` may contain `/`, e.g. `gas-station/main`)
/// with its WHEP sessions.
#[utoipa::path(get, path = "/paths/{*name}", operation_id = "get_path", tag = "streams",
    params(("name" = String, Path, description = "Path name; may contain `/` (`cam/c1/main`)")),
    responses(
        (status = 200, description = "The path and its WHEP sessions", body = PathDetail),
        (status = 400, description = "Not a valid path name", body = ErrorBody),
        (status = 404, description = "No such path", body = ErrorBody),
    ))]
pub(crate) async fn one(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<PathDetail>, ApiError> {
    let path = state.hub.path(&name).await?;
    let sessions = state
        .webrtc
        .as_ref()
        .map(|w| w.sessions_of(&path.name))
        .unwrap_or_default();
    let camera = camera_of(&state, &path.name);
    Ok(Json(PathDetail {
        path,
        sessions,
        camera,
    }))
}
