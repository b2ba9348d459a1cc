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

use watchpost_command::access::{Action, Scope};
use watchpost_devices::inventory::{Camera, CameraId};

use crate::auth::Caller;
use crate::error::ErrorBody;
use crate::{ApiError, AppState};

/// Where an item belongs (district, street, enterprise), owned: what
/// [`Caller::require`] and [`Caller::sees`] compare with the caller's jurisdiction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OwnedScope {
    pub(crate) district: Option<String>,
    pub(crate) street: Option<String>,
    pub(crate) enterprise_id: Option<String>,
}

impl OwnedScope {
    /// Borrowed, for the access rules.
    pub(crate) fn scope(&self) -> Scope<'_> {
        Scope::new(
            self.district.as_deref(),
            self.street.as_deref(),
            self.enterprise_id.as_deref(),
        )
    }

    /// A camera's: its division and enterprise.
    pub(crate) fn of_camera(camera: &Camera) -> OwnedScope {
        OwnedScope {
            district: Some(camera.division.district.clone()).filter(|d| !d.is_empty()),
            street: camera.division.street.clone(),
            enterprise_id: camera.enterprise_id.clone(),
        }
    }
}

/// Where hub path `path` belongs: an inventory camera's path (`cam/<id>/…`) is the
/// camera's; any other path (a camera of the configuration file) belongs to no district,
/// so only the city sees it.
pub(crate) async fn path_scope(state: &AppState, path: &str) -> Result<OwnedScope, ApiError> {
    let Some((id, _)) = parse_path_name(path) else {
        return Ok(OwnedScope::default());
    };
    let (Some(devices), Ok(id)) = (state.devices.as_ref(), CameraId::parse(id)) else {
        return Ok(OwnedScope::default());
    };
    match devices.get(&id).await {
        Ok(camera) => Ok(OwnedScope::of_camera(&camera)),
        // A path whose camera was just removed belongs to nobody below the city.
        Err(watchpost_devices::DevicesError::Inventory(
            watchpost_devices::inventory::InventoryError::NotFound { .. },
        )) => Ok(OwnedScope::default()),
        Err(e) => Err(e.into()),
    }
}

/// 403 unless `caller` may do `action` on path `path`: a user whose role allows it and
/// whose jurisdiction covers the path's camera, or a stream token for exactly this path
/// (which only plays: `action` must be [`Action::View`]).
pub(crate) async fn require_path(
    state: &AppState,
    caller: &Caller,
    action: Action,
    path: &str,
) -> Result<(), ApiError> {
    if let Some(claims) = caller.stream() {
        return if action == Action::View && claims.allows(path) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this stream token does not play {path:?}"
            )))
        };
    }
    let scope = path_scope(state, path).await?;
    caller.require(action, &scope.scope(), &format!("path {path:?}"))
}

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
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<PathView>>, ApiError> {
    let paths = state.hub.paths().await?;
    let mut out = Vec::with_capacity(paths.len());
    for path in paths {
        if caller.sees(&path_scope(&state, &path.name).await?.scope()) {
            out.push(PathView {
                camera: camera_of(&state, &path.name),
                path,
            });
        }
    }
    Ok(Json(out))
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
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<PathDetail>, ApiError> {
    // Jurisdiction first: a path outside it is refused whether or not it exists.
    require_path(&state, &caller, Action::View, &name).await?;
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
