//! Video walls over HTTP: walls and their monitors, what each monitor shows, scenes,
//! tours, the monitors' change stream, the tour driver and the kiosk page.
//!
//! # Routes (under `/api/v1`, tag `walls`)
//!
//! - `GET|POST /walls`, `GET|PUT|DELETE /walls/{wall}` (`If-Match` on writes): walls the
//!   caller's jurisdiction covers; writing them needs `manage_devices`.
//! - `GET /walls/{wall}/monitors/{monitor}`: the monitor, what it shows (`streams`: the
//!   hub paths of its tiles) and, during a tour, where the tour is.
//! - `POST /walls/{wall}/monitors/{monitor}/commands` (`push_to_wall`, `If-Match`
//!   optional): a [`MonitorCommand`]. `show_camera` needs the caller to see the camera,
//!   `show_grid` every camera of the grid, `apply_scene` and the tour commands the scene or
//!   tour and every camera in it (cameras deleted since are let through); for
//!   `show_incident` the client
//!   sends only `incident_id` and the server fills `cameras` (the incident's enterprise's
//!   cameras, then those within 1000 m, as the caller sees them). Audited `wall_pushed`.
//! - `GET /walls/{wall}/events`: the wall's monitor changes as server-sent events (`id:` the
//!   wall event id, `event:` its kind, `data:` the [`WallEvent`]); `Last-Event-ID` or
//!   `?after=` replays what was missed, then live changes follow.
//! - `GET|POST /scenes`, `GET|PUT|DELETE /scenes/{scene}`, and the same for `/tours`:
//!   reading needs `view`, writing `push_to_wall`; each is scoped like a wall, and a scene
//!   saved holds only cameras its author sees.
//! - `POST /walls/{wall}/monitors/{monitor}/kiosk-token` (`issue_stream_token`): a
//!   **kiosk token** for one monitor.
//! - `POST /walls/{wall}/monitors/{monitor}/stream-tokens` `{"path": "cam/<id>/main"}`: a
//!   10-minute stream token for a path the monitor shows now (or the running tour's next
//!   scene will show).
//!
//! # Kiosk tokens
//!
//! A kiosk token is a stream token ([`StreamClaims`](watchpost_command::access::StreamClaims))
//! whose path is `wall/<wall>/<monitor>`. The `wall/` prefix is reserved: the hub's paths
//! are `cam/<camera>/<profile>` (and the configured cameras' names), never `wall/…`, so a
//! kiosk token plays nothing over WHEP by itself. It is accepted by exactly three
//! operations, for its own monitor: reading the monitor, following the wall's events (only
//! that monitor's), and getting stream tokens for the paths the monitor shows. Every other
//! route refuses it (401 where only sessions count, 403 elsewhere).
//!
//! The monitor page `GET /wall/{wall}/{monitor}#token=<kiosk token>` (public; the token
//! stays in the fragment, which browsers never send) does just that: it reads the monitor,
//! lays out the tiles, plays each with its own stream token over WHEP, and follows the
//! events (a `fetch` of the event stream with `Authorization: Bearer`, never a token in a
//! URL), redrawing what changed. A reload shows what the server says.
//!
//! # Tours
//!
//! [`drive_tours`] runs in every server: every [`TOUR_POLL`] it looks at the monitors
//! running a tour and, when the tour's clock says so, advances them (or stops a finished
//! one-pass tour) as the actor `tour` ([`tour_tick`], one pass, for tests).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchpost_command::access::{Action, AuditAction, NewAuditEntry, StreamClaims, UserId};
use watchpost_command::cameras::DEFAULT_RADIUS_M;
use watchpost_command::domain::IncidentId;
use watchpost_command::walls::{
    CameraId, Monitor, MonitorCommand, MonitorId, Scene, SceneId, SceneInput, Source, TileContent,
    TileInput, TileStream, Tour, TourClock, TourId, TourInput, TourStep, UnixMs, View, Wall,
    WallError, WallEvent, WallId, WallInput, WallScope, WallStore,
};

use crate::auth::{Caller, access, now_ms};
use crate::cameras::{audit, etag, if_match, json_body};
use crate::error::ErrorBody;
use crate::{ApiError, AppState};

/// The path prefix of kiosk tokens (`wall/<wall>/<monitor>`); never a hub path.
pub const KIOSK_PREFIX: &str = "wall/";
/// How long a stream token for one tile of a monitor lasts.
pub const TILE_TOKEN_TTL: Duration = Duration::from_secs(600);
/// How often the tour driver looks at the running tours.
pub const TOUR_POLL: Duration = Duration::from_millis(250);
/// How often an event stream reads new wall events.
pub const EVENT_POLL: Duration = Duration::from_millis(250);
/// Interval of the keep-alive comments of an event stream.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How often a monitor page's event stream looks whether its kiosk link was revoked.
pub const KIOSK_CHECK: Duration = Duration::from_secs(5);
/// The actor the tour driver's changes are recorded as.
pub const TOUR_ACTOR: &str = "tour";
/// Radius around an incident for `show_incident`, metres.
const INCIDENT_RADIUS_M: f64 = DEFAULT_RADIUS_M;
/// Wall events read at a time.
const PAGE: u32 = 100;

/// The wall routes, nested under `/api/v1`.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_walls, create_wall))
        .routes(routes!(get_wall, update_wall, delete_wall))
        .routes(routes!(get_monitor))
        .routes(routes!(monitor_command))
        .routes(routes!(wall_events))
        .routes(routes!(issue_kiosk_token))
        .routes(routes!(renew_kiosk_token))
        .routes(routes!(revoke_kiosk_tokens))
        .routes(routes!(monitor_stream_token))
        .routes(routes!(list_scenes, create_scene))
        .routes(routes!(get_scene, update_scene, delete_scene))
        .routes(routes!(list_tours, create_tour))
        .routes(routes!(get_tour, update_tour, delete_tour))
}

fn store(state: &AppState) -> Result<&WallStore, ApiError> {
    state
        .walls
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("the video wall store is not open".into()))
}

fn wall_id(id: &str) -> Result<WallId, ApiError> {
    WallId::parse(id).map_err(|e| ApiError::NotFound(format!("no wall {id:?}: {e}")))
}

fn monitor_id(id: &str) -> Result<MonitorId, ApiError> {
    MonitorId::parse(id).map_err(|e| ApiError::NotFound(format!("no monitor {id:?}: {e}")))
}

fn scene_id(id: &str) -> Result<SceneId, ApiError> {
    SceneId::parse(id).map_err(|e| ApiError::NotFound(format!("no scene {id:?}: {e}")))
}

fn tour_id(id: &str) -> Result<TourId, ApiError> {
    TourId::parse(id).map_err(|e| ApiError::NotFound(format!("no tour {id:?}: {e}")))
}

fn with_etag(revision: i64, body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(header::ETAG, etag(revision));
    response
}

fn created(location: String, revision: i64, body: impl IntoResponse) -> Response {
    let mut response = (StatusCode::CREATED, body).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response.headers_mut().insert(header::ETAG, etag(revision));
    response
}

/// 403 unless `caller` may do `action` on what has `scope`.
fn require_scope(
    caller: &Caller,
    action: Action,
    scope: &WallScope,
    what: &str,
) -> Result<(), ApiError> {
    caller.require(action, &scope.scope(), what)
}

/// Wall `id` if `caller` (a user) may do `action` on it.
async fn visible_wall(
    state: &AppState,
    caller: &Caller,
    action: Action,
    id: &WallId,
) -> Result<Wall, ApiError> {
    let wall = store(state)?.wall(id).await?;
    require_scope(caller, action, &wall.scope, &format!("wall {id}"))?;
    Ok(wall)
}

/// The kiosk token path of a monitor.
fn kiosk_path(wall: &WallId, monitor: &MonitorId) -> String {
    format!("{KIOSK_PREFIX}{wall}/{monitor}")
}

/// The monitor of wall `wall` a kiosk token names, when the caller is one.
fn kiosk_monitor(caller: &Caller, wall: &WallId) -> Option<String> {
    let rest = caller.stream()?.path.strip_prefix(KIOSK_PREFIX)?;
    let (w, m) = rest.split_once('/')?;
    (w == wall.as_str() && !m.is_empty() && !m.contains('/')).then(|| m.to_owned())
}

/// 401 unless the kiosk token `claims` still carries its monitor's kiosk epoch (no
/// revocation since it was issued). The stream tokens of tiles carry none and are never
/// checked here.
async fn require_current_kiosk(
    walls: &WallStore,
    claims: &StreamClaims,
    wall: &WallId,
    monitor: &MonitorId,
) -> Result<(), ApiError> {
    let epoch = walls.kiosk_epoch(wall, monitor).await?;
    if claims.kiosk_epoch != epoch {
        return Err(ApiError::Unauthorized(format!(
            "this link to monitor {wall}/{monitor} was revoked; ask for a new one"
        )));
    }
    Ok(())
}

/// Monitor `monitor` of wall `wall` if `caller` may view it: a kiosk token for exactly
/// this monitor, not revoked, or a user who sees the wall.
async fn viewable_monitor(
    state: &AppState,
    caller: &Caller,
    wall: &WallId,
    monitor: &MonitorId,
) -> Result<Monitor, ApiError> {
    if let Some(claims) = caller.stream() {
        if kiosk_monitor(caller, wall).as_deref() != Some(monitor.as_str()) {
            return Err(ApiError::Forbidden(
                "this token is for another monitor or path".into(),
            ));
        }
        let walls = store(state)?;
        require_current_kiosk(walls, claims, wall, monitor).await?;
        return Ok(walls.monitor(wall, monitor).await?);
    }
    visible_wall(state, caller, Action::View, wall).await?;
    Ok(store(state)?.monitor(wall, monitor).await?)
}

// ---------------------------------------------------------------------------------------
// Walls

/// The walls the caller sees.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct WallList {
    /// By id, with their monitors.
    items: Vec<Wall>,
}

/// List the walls the caller's jurisdiction covers, with their monitors.
#[utoipa::path(get, path = "/walls", operation_id = "list_walls", tag = "walls",
    responses(
        (status = 200, description = "The walls", body = WallList),
    ))]
async fn list_walls(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<WallList>, ApiError> {
    let items = store(&state)?.walls(caller.jurisdiction()?).await?;
    Ok(Json(WallList { items }))
}

/// Create a wall and its monitors (each starts empty, one tile).
#[utoipa::path(post, path = "/walls", operation_id = "create_wall", tag = "walls",
    request_body = WallInput,
    responses(
        (status = 201, description = "Created; `Location`, `ETag`", body = Wall),
        (status = 403, description = "The scope is outside the caller's jurisdiction", body = ErrorBody),
        (status = 409, description = "The id exists", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    ))]
async fn create_wall(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: WallInput = json_body(&headers, &body)?;
    require_scope(&caller, Action::ManageDevices, &input.scope, "the wall")?;
    let wall = store(&state)?
        .create_wall(input, &caller.operator()?, now_ms())
        .await?;
    changed(&state, &caller, format!("wall/{}", wall.id), "created").await?;
    Ok(created(
        format!("/api/v1/walls/{}", wall.id),
        wall.revision,
        Json(wall),
    ))
}

/// A wall with its monitors and what each shows.
#[utoipa::path(get, path = "/walls/{wall}", operation_id = "get_wall", tag = "walls",
    params(("wall" = String, Path, description = "Wall id")),
    responses(
        (status = 200, description = "The wall; `ETag`", body = Wall),
        (status = 403, description = "Outside the caller's jurisdiction", body = ErrorBody),
        (status = 404, description = "No such wall", body = ErrorBody),
    ))]
async fn get_wall(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let wall = visible_wall(&state, &caller, Action::View, &wall_id(&id)?).await?;
    Ok(with_etag(wall.revision, Json(wall)))
}

/// Replace a wall's name, scope and monitor list (kept monitors keep what they show).
#[utoipa::path(put, path = "/walls/{wall}", operation_id = "update_wall", tag = "walls",
    params(("wall" = String, Path, description = "Wall id"),
        ("if-match" = Option<String>, Header, description = "The wall revision the change is based on")),
    request_body = WallInput,
    responses(
        (status = 200, description = "The wall; `ETag`", body = Wall),
        (status = 403, description = "Outside the caller's jurisdiction", body = ErrorBody),
        (status = 404, description = "No such wall", body = ErrorBody),
        (status = 412, description = "The wall changed meanwhile", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    ))]
async fn update_wall(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = wall_id(&id)?;
    visible_wall(&state, &caller, Action::ManageDevices, &id).await?;
    let input: WallInput = json_body(&headers, &body)?;
    require_scope(
        &caller,
        Action::ManageDevices,
        &input.scope,
        "the wall's new scope",
    )?;
    let wall = store(&state)?
        .update_wall(
            &id,
            input,
            &caller.operator()?,
            now_ms(),
            if_match(&headers)?,
        )
        .await?;
    changed(&state, &caller, format!("wall/{id}"), "replaced").await?;
    Ok(with_etag(wall.revision, Json(wall)))
}

/// Delete a wall and its monitors (open monitor pages get `monitor_removed`).
#[utoipa::path(delete, path = "/walls/{wall}", operation_id = "delete_wall", tag = "walls",
    params(("wall" = String, Path, description = "Wall id"),
        ("if-match" = Option<String>, Header, description = "The wall revision the deletion is based on")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Outside the caller's jurisdiction", body = ErrorBody),
        (status = 404, description = "No such wall", body = ErrorBody),
        (status = 412, description = "The wall changed meanwhile", body = ErrorBody),
    ))]
async fn delete_wall(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let id = wall_id(&id)?;
    visible_wall(&state, &caller, Action::ManageDevices, &id).await?;
    store(&state)?
        .delete_wall(&id, &caller.operator()?, now_ms(), if_match(&headers)?)
        .await?;
    changed(&state, &caller, format!("wall/{id}"), "deleted").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Records a change of a wall, scene or tour (`target`: `wall/<id>`, …) in the audit log.
async fn changed(
    state: &AppState,
    caller: &Caller,
    target: String,
    change: &str,
) -> Result<(), ApiError> {
    audit(
        state,
        caller,
        AuditAction::WallChanged,
        &target,
        &[("change", change.into())],
    )
    .await
}

// ---------------------------------------------------------------------------------------
// Monitors

/// A monitor as its page and the console read it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct MonitorView {
    /// The monitor and its state.
    #[serde(flatten)]
    monitor: Monitor,
    /// The hub paths it plays, tile by tile (empty tiles left out).
    streams: Vec<TileStream>,
    /// During a tour: where the tour is now (when it switches, and what comes next).
    tour: Option<TourStep>,
    /// The streams of the tour's next scene, to start before the switch (see
    /// `tour.prefetch_at`); empty without a tour.
    next_streams: Vec<TileStream>,
    /// The server's clock when it answered, Unix ms: a page times the prefetch by
    /// `tour.prefetch_at - served_at` from the answer's arrival, whatever its own clock.
    served_at: UnixMs,
}

/// The running tour's step now and the next scene's streams, when `monitor` runs one.
async fn tour_outlook(
    state: &AppState,
    walls: &WallStore,
    monitor: &Monitor,
    now: UnixMs,
) -> Result<(Option<TourStep>, Vec<TileStream>), ApiError> {
    let Some((tour_id, _, started_at)) = monitor.state.tour() else {
        return Ok((None, Vec::new()));
    };
    let tour = match walls.tour(tour_id).await {
        Ok(tour) => tour,
        Err(WallError::NotFound { .. }) => return Ok((None, Vec::new())),
        Err(e) => return Err(e.into()),
    };
    let step = TourClock::new(&tour, started_at)?.poll(now);
    let mut next = Vec::new();
    if let Some(scene_id) = &step.next_scene_id {
        match walls.scene(scene_id).await {
            Ok(scene) => {
                if let Ok(view) = View::new(scene.layout, scene.tiles, Source::Manual) {
                    let with_sub = sub_streams(state, view.tiles()).await?;
                    next = view.streams(|c| with_sub.contains(c));
                }
            }
            Err(WallError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok((Some(step), next))
}

/// Refuses (403) unless `caller` may view every camera in `ids`: what goes on a wall —
/// a scene, a grid, a tour's scenes — must be the caller's to show, or an operator could put
/// another jurisdiction's camera on their own wall (and its kiosk would get a stream token
/// for it). `missing_ok`: a camera that no longer exists is let through (an old scene still
/// applies; its tile shows the camera's absence); otherwise it is a 404 naming it.
async fn require_cameras(
    state: &AppState,
    caller: &Caller,
    ids: Vec<String>,
    missing_ok: bool,
) -> Result<(), ApiError> {
    let devices = state
        .devices
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("the devices service is not running".into()))?;
    let mut seen = HashSet::new();
    for id in ids {
        if !seen.insert(id.clone()) {
            continue;
        }
        match crate::cameras::visible(devices, caller, Action::View, &id).await {
            Ok(_) => {}
            Err(ApiError::NotFound(_)) if missing_ok => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The camera ids of a scene's or grid's tiles as a client sent them (well-formed ones only:
/// the others are the command's or the scene's own 422).
fn input_cameras(tiles: &[TileInput]) -> Vec<String> {
    tiles
        .iter()
        .filter_map(|tile| match tile {
            TileInput::Camera { camera_id, .. } => Some(camera_id.trim()),
            TileInput::Empty => None,
        })
        .filter(|id| CameraId::parse(id).is_ok())
        .map(str::to_owned)
        .collect()
}

/// The camera ids of stored tiles.
fn content_cameras(tiles: &[TileContent]) -> Vec<String> {
    tiles
        .iter()
        .filter_map(TileContent::camera_id)
        .map(|id| id.to_string())
        .collect()
}

/// The cameras on `tiles` that have a sub stream, by the device inventory (see
/// [`Profile::resolve`](watchpost_command::walls::Profile::resolve): a camera without one
/// plays its main stream on every tile). A camera the inventory does not know (deleted
/// since) counts as having one: its tile stays as the profile says and shows the camera's
/// absence rather than another stream. Without the devices service every camera does.
async fn sub_streams(
    state: &AppState,
    tiles: &[TileContent],
) -> Result<HashSet<CameraId>, ApiError> {
    let mut with_sub = HashSet::new();
    for id in tiles.iter().filter_map(TileContent::camera_id) {
        if with_sub.contains(id) {
            continue;
        }
        let has = match state.devices.as_ref() {
            None => true,
            Some(devices) => match watchpost_devices::inventory::CameraId::parse(id.as_str()) {
                Ok(inventory_id) => match devices.get(&inventory_id).await {
                    Ok(camera) => camera.onvif_url.is_some() || camera.sub_url.is_some(),
                    Err(watchpost_devices::DevicesError::Inventory(
                        watchpost_devices::inventory::InventoryError::NotFound { .. },
                    )) => true,
                    Err(e) => return Err(e.into()),
                },
                Err(_) => true,
            },
        };
        if has {
            with_sub.insert(id.clone());
        }
    }
    Ok(with_sub)
}

async fn monitor_view(
    state: &AppState,
    walls: &WallStore,
    monitor: Monitor,
) -> Result<MonitorView, ApiError> {
    let now = now_ms();
    let (tour, next_streams) = tour_outlook(state, walls, &monitor, now).await?;
    let with_sub = sub_streams(state, monitor.state.tiles()).await?;
    Ok(MonitorView {
        streams: monitor.streams(|c| with_sub.contains(c)),
        monitor,
        tour,
        next_streams,
        served_at: now,
    })
}

/// A monitor and what it shows. A user who sees the wall, or the monitor's kiosk token.
#[utoipa::path(get, path = "/walls/{wall}/monitors/{monitor}", operation_id = "get_monitor", tag = "walls",
    params(("wall" = String, Path, description = "Wall id"),
        ("monitor" = String, Path, description = "Monitor id")),
    responses(
        (status = 200, description = "The monitor; `ETag` its revision", body = MonitorView),
        (status = 401, description = "A monitor page link that was revoked or expired", body = ErrorBody),
        (status = 403, description = "Outside the caller's jurisdiction, or a token for another monitor", body = ErrorBody),
        (status = 404, description = "No such wall or monitor", body = ErrorBody),
    ))]
async fn get_monitor(
    State(state): State<AppState>,
    caller: Caller,
    Path((wall, monitor)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (wall, monitor) = (wall_id(&wall)?, monitor_id(&monitor)?);
    let monitor = viewable_monitor(&state, &caller, &wall, &monitor).await?;
    let revision = monitor.revision;
    let view = monitor_view(&state, store(&state)?, monitor).await?;
    Ok(with_etag(revision, Json(view)))
}

/// The command as the client sends it: a [`MonitorCommand`], except that `show_incident`
/// carries only `incident_id` (the server fills `cameras`).
fn command_of(body: &Bytes, headers: &HeaderMap) -> Result<CommandBody, ApiError> {
    let value: serde_json::Value = json_body(headers, body)?;
    if value.get("command").and_then(serde_json::Value::as_str) == Some("show_incident") {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct ShowIncident {
            #[allow(dead_code)]
            command: String,
            incident_id: IncidentId,
            /// Ignored: the server decides.
            #[serde(default)]
            #[allow(dead_code)]
            cameras: Option<serde_json::Value>,
        }
        let show: ShowIncident = serde_json::from_value(value)
            .map_err(|e| ApiError::BadRequest(format!("invalid show_incident: {e}")))?;
        return Ok(CommandBody::ShowIncident(show.incident_id));
    }
    serde_json::from_value(value)
        .map(CommandBody::Other)
        .map_err(|e| ApiError::BadRequest(format!("invalid command: {e}")))
}

enum CommandBody {
    ShowIncident(IncidentId),
    Other(MonitorCommand),
}

/// Change what a monitor shows. For `show_incident` send `{"command": "show_incident",
/// "incident_id": …}`: the server puts the incident's cameras (the enterprise's first, then
/// those within 1000 m, as the caller sees them) on the monitor. Audited `wall_pushed`.
#[utoipa::path(post, path = "/walls/{wall}/monitors/{monitor}/commands", operation_id = "monitor_command", tag = "walls",
    params(("wall" = String, Path, description = "Wall id"),
        ("monitor" = String, Path, description = "Monitor id"),
        ("if-match" = Option<String>, Header, description = "The monitor revision the command is based on")),
    request_body = MonitorCommand,
    responses(
        (status = 200, description = "The monitor after the command; `ETag`", body = Monitor),
        (status = 400, description = "Malformed command", body = ErrorBody),
        (status = 403, description = "The wall, camera, scene, tour or incident is outside the caller's jurisdiction", body = ErrorBody),
        (status = 404, description = "No such wall, monitor, camera, scene, tour or incident", body = ErrorBody),
        (status = 409, description = "`nothing_to_restore`, `tour_not_running`", body = ErrorBody),
        (status = 412, description = "The monitor changed meanwhile", body = ErrorBody),
        (status = 422, description = "Invalid fields (tile, layout, cameras, step)", body = ErrorBody),
    ))]
async fn monitor_command(
    State(state): State<AppState>,
    caller: Caller,
    Path((wall, monitor)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (wall, monitor) = (wall_id(&wall)?, monitor_id(&monitor)?);
    visible_wall(&state, &caller, Action::PushToWall, &wall).await?;
    let walls = store(&state)?;
    let command = match command_of(&body, &headers)? {
        CommandBody::ShowIncident(incident_id) => {
            let found =
                crate::incidents::cameras_of(&state, &caller, &incident_id, INCIDENT_RADIUS_M)
                    .await?;
            let cameras = found
                .enterprise
                .iter()
                .chain(found.nearby.iter())
                .map(|c| c.id.clone())
                .collect();
            MonitorCommand::ShowIncident {
                incident_id,
                cameras,
            }
        }
        CommandBody::Other(command) => {
            match &command {
                MonitorCommand::ShowCamera { camera_id, .. } => {
                    let devices = state.devices.as_ref().ok_or_else(|| {
                        ApiError::Unavailable("the devices service is not running".into())
                    })?;
                    crate::cameras::visible(devices, &caller, Action::View, camera_id).await?;
                }
                MonitorCommand::ShowGrid { tiles, .. } => {
                    require_cameras(&state, &caller, input_cameras(tiles), false).await?;
                }
                MonitorCommand::ApplyScene { scene_id } => {
                    let scene = walls.scene(scene_id).await?;
                    require_scope(
                        &caller,
                        Action::View,
                        &scene.scope,
                        &format!("scene {scene_id}"),
                    )?;
                    require_cameras(&state, &caller, content_cameras(&scene.tiles), true).await?;
                }
                MonitorCommand::StartTour { tour_id }
                | MonitorCommand::AdvanceTour { tour_id, .. } => {
                    let tour = walls.tour(tour_id).await?;
                    require_scope(
                        &caller,
                        Action::View,
                        &tour.scope,
                        &format!("tour {tour_id}"),
                    )?;
                    let mut cameras = Vec::new();
                    for step in &tour.steps {
                        match walls.scene(&step.scene_id).await {
                            Ok(scene) => cameras.extend(content_cameras(&scene.tiles)),
                            Err(WallError::NotFound { .. }) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                    require_cameras(&state, &caller, cameras, true).await?;
                }
                _ => {}
            }
            command
        }
    };
    let kind = command.name();
    let (monitor, _) = walls
        .apply(
            &wall,
            &monitor,
            command,
            &caller.operator()?,
            now_ms(),
            if_match(&headers)?,
        )
        .await?;
    audit(
        &state,
        &caller,
        AuditAction::WallPushed,
        &monitor.label(),
        &[
            ("command", kind.into()),
            ("revision", monitor.revision.into()),
        ],
    )
    .await?;
    Ok(with_etag(monitor.revision, Json(monitor)))
}

// ---------------------------------------------------------------------------------------
// Events

/// Where the stream starts.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct WallEventsQuery {
    /// Replay events after this id (instead of `Last-Event-ID`).
    #[serde(default)]
    after: Option<i64>,
}

struct Follower {
    walls: WallStore,
    wall: WallId,
    monitor: Option<MonitorId>,
    /// The kiosk token the stream was opened with: the stream ends once it expires or its
    /// monitor's links are revoked (the page then learns so when it reconnects).
    kiosk: Option<StreamClaims>,
    next_kiosk_check: tokio::time::Instant,
    last: i64,
    pending: VecDeque<WallEvent>,
    first: bool,
}

impl Follower {
    /// Whether the kiosk token (if any) is still honoured; looked up every [`KIOSK_CHECK`].
    async fn kiosk_still_valid(&mut self) -> bool {
        let (Some(claims), Some(monitor)) = (&self.kiosk, &self.monitor) else {
            return true;
        };
        if now_ms() / 1000 >= claims.exp {
            return false;
        }
        if tokio::time::Instant::now() < self.next_kiosk_check {
            return true;
        }
        self.next_kiosk_check = tokio::time::Instant::now() + KIOSK_CHECK;
        match self.walls.kiosk_epoch(&self.wall, monitor).await {
            Ok(epoch) => epoch == claims.kiosk_epoch,
            Err(error) => {
                tracing::warn!(wall = %self.wall, %error, "wall event stream: reading the kiosk epoch failed");
                false
            }
        }
    }

    async fn next(&mut self) -> Option<WallEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                self.last = self.last.max(event.id);
                return Some(event);
            }
            if !self.first {
                tokio::time::sleep(EVENT_POLL).await;
            }
            self.first = false;
            if !self.kiosk_still_valid().await {
                return None;
            }
            match self
                .walls
                .wall_feed(&self.wall, self.monitor.as_ref(), Some(self.last), PAGE)
                .await
            {
                Ok(events) => {
                    // A full page: read the next one at once.
                    self.first = events.len() == PAGE as usize;
                    self.pending.extend(events);
                }
                Err(error) => {
                    tracing::warn!(wall = %self.wall, %error, "wall event stream: reading failed");
                    return None;
                }
            }
        }
    }
}

fn to_event(event: &WallEvent) -> Event {
    Event::default()
        .id(event.id.to_string())
        .event(event.kind.as_str())
        .json_data(event)
        .unwrap_or_else(|_| Event::default().comment("unserializable event"))
}

/// A wall's monitor changes as server-sent events: `id:` the event id, `event:` its kind,
/// `data:` the event with the monitor's whole new state. `Last-Event-ID` (or `?after=`)
/// replays what was missed. A monitor's kiosk token gets that monitor's events only.
#[utoipa::path(get, path = "/walls/{wall}/events", operation_id = "wall_events", tag = "walls",
    params(("wall" = String, Path, description = "Wall id"), WallEventsQuery,
        ("last-event-id" = Option<i64>, Header, description = "The last event id received; replay starts after it")),
    responses(
        (status = 200, description = "An endless `text/event-stream`; each event's data is a wall event",
            content_type = "text/event-stream", body = WallEvent),
        (status = 400, description = "Last-Event-ID is not an event id", body = ErrorBody),
        (status = 401, description = "A monitor page link that was revoked or expired", body = ErrorBody),
        (status = 403, description = "Outside the caller's jurisdiction, or a token for another wall", body = ErrorBody),
        (status = 404, description = "No such wall or monitor", body = ErrorBody),
    ))]
async fn wall_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(wall): Path<String>,
    Query(query): Query<WallEventsQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let wall = wall_id(&wall)?;
    let walls = store(&state)?.clone();
    let (monitor, kiosk) = if let Some(claims) = caller.stream() {
        let monitor = kiosk_monitor(&caller, &wall)
            .ok_or_else(|| ApiError::Forbidden("this token is for another wall or path".into()))?;
        let monitor = monitor_id(&monitor)?;
        require_current_kiosk(&walls, claims, &wall, &monitor).await?;
        walls.monitor(&wall, &monitor).await?;
        (Some(monitor), Some(claims.clone()))
    } else {
        visible_wall(&state, &caller, Action::View, &wall).await?;
        (None, None)
    };
    let last_event_id = match headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|t| t.trim().parse::<i64>().ok())
                .ok_or_else(|| ApiError::BadRequest("Last-Event-ID is not an event id".into()))?,
        ),
        None => None,
    };
    let last = match query.after.or(last_event_id) {
        Some(after) => after,
        None => walls.latest_event_id().await?,
    };
    let follower = Follower {
        walls,
        wall,
        monitor,
        kiosk,
        next_kiosk_check: tokio::time::Instant::now() + KIOSK_CHECK,
        last,
        pending: VecDeque::new(),
        first: true,
    };
    let stream = stream::unfold(follower, |mut follower| async move {
        let event = follower.next().await?;
        Some((Ok(to_event(&event)), follower))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

// ---------------------------------------------------------------------------------------
// Tokens

/// How long a kiosk token lasts.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct KioskTokenBody {
    /// Seconds (default and most: `security.stream_token_max_ttl`).
    #[serde(default)]
    ttl_s: Option<u64>,
}

/// A token and the path it is for.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct TokenAnswer {
    /// The token: `Authorization: Bearer <token>`.
    token: String,
    /// Its path: `wall/<wall>/<monitor>` for a kiosk token, a hub path otherwise.
    path: String,
    /// When it expires, Unix ms.
    expires_at: i64,
    /// For a kiosk token: the monitor page, to open as `<page>#token=<token>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<String>,
}

/// Issue a kiosk token: what the monitor page `/wall/{wall}/{monitor}#token=…` plays with,
/// without a session. Its path is `wall/<wall>/<monitor>` (a reserved prefix, never a hub
/// path); it reads this monitor, follows its events, gets stream tokens for what it shows
/// and renews itself, nothing else, until it expires or the monitor's links are revoked.
/// Audited `stream_token_issued`.
#[utoipa::path(post, path = "/walls/{wall}/monitors/{monitor}/kiosk-token", operation_id = "issue_kiosk_token", tag = "walls",
    params(("wall" = String, Path, description = "Wall id"),
        ("monitor" = String, Path, description = "Monitor id")),
    request_body(content = Option<KioskTokenBody>, description = "Optional: `{\"ttl_s\": 43200}`"),
    responses(
        (status = 201, description = "The kiosk token", body = TokenAnswer),
        (status = 403, description = "Outside the caller's jurisdiction", body = ErrorBody),
        (status = 404, description = "No such wall or monitor", body = ErrorBody),
    ))]
async fn issue_kiosk_token(
    State(state): State<AppState>,
    caller: Caller,
    Path((wall, monitor)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (wall, monitor) = (wall_id(&wall)?, monitor_id(&monitor)?);
    let found = visible_wall(&state, &caller, Action::IssueStreamToken, &wall).await?;
    if !found.monitors.iter().any(|m| m.id == monitor) {
        return Err(ApiError::NotFound(format!(
            "monitor {wall}/{monitor} not found"
        )));
    }
    let body: KioskTokenBody = if body.iter().all(u8::is_ascii_whitespace) {
        KioskTokenBody::default()
    } else {
        json_body(&headers, &body)?
    };
    let user = caller.user()?;
    let ttl = body.ttl_s.map_or(Duration::MAX, Duration::from_secs);
    let epoch = store(&state)?.kiosk_epoch(&wall, &monitor).await?;
    let kiosk = KioskIssue {
        issued_by: &user.id,
        ttl,
        epoch,
        kind: "kiosk",
    };
    kiosk_answer(&state, &caller, &wall, &monitor, kiosk).await
}

/// What a kiosk token is issued with, and the audit entry's `detail.kind`.
struct KioskIssue<'a> {
    issued_by: &'a UserId,
    ttl: Duration,
    epoch: i64,
    kind: &'static str,
}

/// Issues the kiosk token of `wall/monitor`, audits it (`stream_token_issued`) and answers
/// 201 with it and the monitor page.
async fn kiosk_answer(
    state: &AppState,
    caller: &Caller,
    wall: &WallId,
    monitor: &MonitorId,
    issue: KioskIssue<'_>,
) -> Result<Response, ApiError> {
    let path = kiosk_path(wall, monitor);
    let access = access(state)?;
    let (token, expires_at) = access.kiosk_token(&path, issue.issued_by, issue.ttl, issue.epoch);
    access
        .store()
        .append_audit(
            NewAuditEntry::new(&caller.audit(), AuditAction::StreamTokenIssued, now_ms())
                .target(path.as_str())
                .detail("expires_at", expires_at)
                .detail("kind", issue.kind)
                .detail("issued_by", issue.issued_by.as_str()),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenAnswer {
            token: token.into_exposed(),
            page: Some(format!("/wall/{wall}/{monitor}")),
            path,
            expires_at,
        }),
    )
        .into_response())
}

/// Renew a monitor page's kiosk token: with the page's current token (the bearer), a new
/// one for the same monitor, issuer, epoch and lifetime (the original `exp - iat`, at most
/// `security.stream_token_max_ttl`), so that a wall runs day and night on one link until
/// its links are revoked. The monitor page renews at half its token's life. Audited
/// `stream_token_issued` (`detail.kind`: `kiosk_renewal`).
#[utoipa::path(post, path = "/walls/{wall}/monitors/{monitor}/kiosk-token/renewal", operation_id = "renew_kiosk_token", tag = "walls",
    params(("wall" = String, Path, description = "Wall id"),
        ("monitor" = String, Path, description = "Monitor id")),
    responses(
        (status = 201, description = "The new kiosk token", body = TokenAnswer),
        (status = 400, description = "The caller is a user, not a monitor page (users issue a new token)", body = ErrorBody),
        (status = 401, description = "The token expired or the monitor's links were revoked", body = ErrorBody),
        (status = 403, description = "A token for another monitor, or outside the caller's jurisdiction", body = ErrorBody),
        (status = 404, description = "No such wall or monitor", body = ErrorBody),
    ))]
async fn renew_kiosk_token(
    State(state): State<AppState>,
    caller: Caller,
    Path((wall, monitor)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (wall, monitor) = (wall_id(&wall)?, monitor_id(&monitor)?);
    let Some(claims) = caller.stream() else {
        visible_wall(&state, &caller, Action::IssueStreamToken, &wall).await?;
        return Err(ApiError::BadRequest(
            "only a monitor page renews its kiosk token; issue a new one with POST …/kiosk-token"
                .into(),
        ));
    };
    // The monitor exists and the token is this monitor's, not revoked.
    viewable_monitor(&state, &caller, &wall, &monitor).await?;
    let kiosk = KioskIssue {
        issued_by: &claims.issued_by,
        ttl: Duration::from_secs(u64::try_from(claims.exp - claims.iat).unwrap_or(0)),
        epoch: claims.kiosk_epoch,
        kind: "kiosk_renewal",
    };
    kiosk_answer(&state, &caller, &wall, &monitor, kiosk).await
}

/// Revoke every kiosk token (monitor page link) of a monitor issued so far, renewed ones
/// included: their pages stop within seconds (their event streams end; every request they
/// make is refused). Links issued afterwards work. Audited `wall_changed`
/// (`detail.change`: `kiosk_tokens_revoked`).
#[utoipa::path(delete, path = "/walls/{wall}/monitors/{monitor}/kiosk-tokens", operation_id = "revoke_kiosk_tokens", tag = "walls",
    params(("wall" = String, Path, description = "Wall id"),
        ("monitor" = String, Path, description = "Monitor id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Outside the caller's jurisdiction", body = ErrorBody),
        (status = 404, description = "No such wall or monitor", body = ErrorBody),
    ))]
async fn revoke_kiosk_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Path((wall, monitor)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (wall, monitor) = (wall_id(&wall)?, monitor_id(&monitor)?);
    let found = visible_wall(&state, &caller, Action::IssueStreamToken, &wall).await?;
    if !found.monitors.iter().any(|m| m.id == monitor) {
        return Err(ApiError::NotFound(format!(
            "monitor {wall}/{monitor} not found"
        )));
    }
    let user = caller.user()?;
    let epoch = store(&state)?
        .revoke_kiosk_tokens(&wall, &monitor, now_ms(), user.username.as_str())
        .await?;
    audit(
        &state,
        &caller,
        AuditAction::WallChanged,
        &format!("wall/{wall}"),
        &[
            ("change", "kiosk_tokens_revoked".into()),
            ("monitor", monitor.as_str().into()),
            ("epoch", epoch.into()),
        ],
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The hub path a tile token is asked for.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TileTokenBody {
    /// `cam/<camera>/<profile>`, one of the monitor's `streams` (or `next_streams`).
    path: String,
}

/// Issue a 10-minute stream token for a path the monitor shows (or the running tour's next
/// scene will show): how the monitor page plays its tiles. A user who sees the wall, or
/// the monitor's kiosk token.
#[utoipa::path(post, path = "/walls/{wall}/monitors/{monitor}/stream-tokens", operation_id = "monitor_stream_token", tag = "walls",
    params(("wall" = String, Path, description = "Wall id"),
        ("monitor" = String, Path, description = "Monitor id")),
    request_body = TileTokenBody,
    responses(
        (status = 201, description = "The stream token", body = TokenAnswer),
        (status = 401, description = "A monitor page link that was revoked or expired", body = ErrorBody),
        (status = 403, description = "The path is not on the monitor, or a token for another monitor", body = ErrorBody),
        (status = 404, description = "No such wall or monitor", body = ErrorBody),
    ))]
async fn monitor_stream_token(
    State(state): State<AppState>,
    caller: Caller,
    Path((wall, monitor)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (wall, monitor) = (wall_id(&wall)?, monitor_id(&monitor)?);
    let found = viewable_monitor(&state, &caller, &wall, &monitor).await?;
    let body: TileTokenBody = json_body(&headers, &body)?;
    let walls = store(&state)?;
    let with_sub = sub_streams(&state, found.state.tiles()).await?;
    let shown = found
        .streams(|c| with_sub.contains(c))
        .iter()
        .any(|s| s.path == body.path)
        || {
            let (_, next) = tour_outlook(&state, walls, &found, now_ms()).await?;
            next.iter().any(|s| s.path == body.path)
        };
    if !shown {
        return Err(ApiError::Forbidden(format!(
            "{} is not shown on monitor {}",
            body.path,
            found.label()
        )));
    }
    let issued_by: UserId = match caller.stream() {
        Some(claims) => claims.issued_by.clone(),
        None => caller.user()?.id.clone(),
    };
    let access = access(&state)?;
    let (token, expires_at) = access.stream_token(&body.path, &issued_by, TILE_TOKEN_TTL);
    access
        .store()
        .append_audit(
            NewAuditEntry::new(&caller.audit(), AuditAction::StreamTokenIssued, now_ms())
                .target(body.path.as_str())
                .detail("expires_at", expires_at)
                .detail("monitor", found.label())
                .detail("issued_by", issued_by.as_str()),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenAnswer {
            token: token.into_exposed(),
            path: body.path,
            expires_at,
            page: None,
        }),
    )
        .into_response())
}

// ---------------------------------------------------------------------------------------
// Scenes

/// The scenes the caller sees.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct SceneList {
    /// By name.
    items: Vec<Scene>,
}

async fn visible_scene(
    state: &AppState,
    caller: &Caller,
    action: Action,
    id: &SceneId,
) -> Result<Scene, ApiError> {
    let scene = store(state)?.scene(id).await?;
    require_scope(caller, action, &scene.scope, &format!("scene {id}"))?;
    Ok(scene)
}

/// List the scenes the caller's jurisdiction covers.
#[utoipa::path(get, path = "/scenes", operation_id = "list_scenes", tag = "walls",
    responses((status = 200, description = "The scenes", body = SceneList)))]
async fn list_scenes(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<SceneList>, ApiError> {
    let items = store(&state)?.scenes(caller.jurisdiction()?).await?;
    Ok(Json(SceneList { items }))
}

/// Create a scene (a named layout and its contents).
#[utoipa::path(post, path = "/scenes", operation_id = "create_scene", tag = "walls",
    request_body = SceneInput,
    responses(
        (status = 201, description = "Created; `Location`, `ETag`", body = Scene),
        (status = 403, description = "The scope is outside the caller's jurisdiction", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    ))]
async fn create_scene(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: SceneInput = json_body(&headers, &body)?;
    require_scope(&caller, Action::PushToWall, &input.scope, "the scene")?;
    require_cameras(&state, &caller, input_cameras(&input.tiles), false).await?;
    let scene = store(&state)?.create_scene(input, now_ms()).await?;
    changed(&state, &caller, format!("scene/{}", scene.id), "created").await?;
    Ok(created(
        format!("/api/v1/scenes/{}", scene.id),
        scene.revision,
        Json(scene),
    ))
}

/// A scene.
#[utoipa::path(get, path = "/scenes/{scene}", operation_id = "get_scene", tag = "walls",
    params(("scene" = String, Path, description = "Scene id")),
    responses(
        (status = 200, description = "The scene; `ETag`", body = Scene),
        (status = 403, description = "Outside the caller's jurisdiction", body = ErrorBody),
        (status = 404, description = "No such scene", body = ErrorBody),
    ))]
async fn get_scene(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let scene = visible_scene(&state, &caller, Action::View, &scene_id(&id)?).await?;
    Ok(with_etag(scene.revision, Json(scene)))
}

/// Replace a scene (monitors showing it keep their copy).
#[utoipa::path(put, path = "/scenes/{scene}", operation_id = "update_scene", tag = "walls",
    params(("scene" = String, Path, description = "Scene id"),
        ("if-match" = Option<String>, Header, description = "The revision the change is based on")),
    request_body = SceneInput,
    responses(
        (status = 200, description = "The scene; `ETag`", body = Scene),
        (status = 403, description = "Outside the caller's jurisdiction", body = ErrorBody),
        (status = 404, description = "No such scene", body = ErrorBody),
        (status = 412, description = "The scene changed meanwhile", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    ))]
async fn update_scene(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = scene_id(&id)?;
    visible_scene(&state, &caller, Action::PushToWall, &id).await?;
    let input: SceneInput = json_body(&headers, &body)?;
    require_scope(
        &caller,
        Action::PushToWall,
        &input.scope,
        "the scene's new scope",
    )?;
    require_cameras(&state, &caller, input_cameras(&input.tiles), false).await?;
    let scene = store(&state)?
        .update_scene(&id, input, now_ms(), if_match(&headers)?)
        .await?;
    changed(&state, &caller, format!("scene/{id}"), "replaced").await?;
    Ok(with_etag(scene.revision, Json(scene)))
}

/// Delete a scene (409 `in_use` while a tour shows it).
#[utoipa::path(delete, path = "/scenes/{scene}", operation_id = "delete_scene", tag = "walls",
    params(("scene" = String, Path, description = "Scene id"),
        ("if-match" = Option<String>, Header, description = "The revision the deletion is based on")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Outside the caller's jurisdiction", body = ErrorBody),
        (status = 404, description = "No such scene", body = ErrorBody),
        (status = 409, description = "`in_use`: a tour shows it", body = ErrorBody),
    ))]
async fn delete_scene(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let id = scene_id(&id)?;
    visible_scene(&state, &caller, Action::PushToWall, &id).await?;
    store(&state)?
        .delete_scene(&id, if_match(&headers)?)
        .await?;
    changed(&state, &caller, format!("scene/{id}"), "deleted").await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------
// Tours

/// The tours the caller sees.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct TourList {
    /// By name.
    items: Vec<Tour>,
}

async fn visible_tour(
    state: &AppState,
    caller: &Caller,
    action: Action,
    id: &TourId,
) -> Result<Tour, ApiError> {
    let tour = store(state)?.tour(id).await?;
    require_scope(caller, action, &tour.scope, &format!("tour {id}"))?;
    Ok(tour)
}

/// 403 when a step of `input` shows a scene the caller does not see (missing scenes are
/// left to the store, which names the step).
async fn require_tour_input(
    state: &AppState,
    caller: &Caller,
    input: &TourInput,
) -> Result<(), ApiError> {
    require_scope(caller, Action::PushToWall, &input.scope, "the tour")?;
    let walls = store(state)?;
    let mut seen = BTreeMap::new();
    for step in &input.steps {
        let Ok(id) = SceneId::parse(&step.scene_id) else {
            continue;
        };
        if seen.insert(id.clone(), ()).is_some() {
            continue;
        }
        match walls.scene(&id).await {
            Ok(scene) => require_scope(caller, Action::View, &scene.scope, &format!("scene {id}"))?,
            Err(WallError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// List the tours the caller's jurisdiction covers.
#[utoipa::path(get, path = "/tours", operation_id = "list_tours", tag = "walls",
    responses((status = 200, description = "The tours", body = TourList)))]
async fn list_tours(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<TourList>, ApiError> {
    let items = store(&state)?.tours(caller.jurisdiction()?).await?;
    Ok(Json(TourList { items }))
}

/// Create a tour (scenes one after the other, each for its dwell time).
#[utoipa::path(post, path = "/tours", operation_id = "create_tour", tag = "walls",
    request_body = TourInput,
    responses(
        (status = 201, description = "Created; `Location`, `ETag`", body = Tour),
        (status = 403, description = "The scope or a scene is outside the caller's jurisdiction", body = ErrorBody),
        (status = 422, description = "Invalid fields (a missing scene names its step)", body = ErrorBody),
    ))]
async fn create_tour(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: TourInput = json_body(&headers, &body)?;
    require_tour_input(&state, &caller, &input).await?;
    let tour = store(&state)?.create_tour(input, now_ms()).await?;
    changed(&state, &caller, format!("tour/{}", tour.id), "created").await?;
    Ok(created(
        format!("/api/v1/tours/{}", tour.id),
        tour.revision,
        Json(tour),
    ))
}

/// A tour with its steps.
#[utoipa::path(get, path = "/tours/{tour}", operation_id = "get_tour", tag = "walls",
    params(("tour" = String, Path, description = "Tour id")),
    responses(
        (status = 200, description = "The tour; `ETag`", body = Tour),
        (status = 403, description = "Outside the caller's jurisdiction", body = ErrorBody),
        (status = 404, description = "No such tour", body = ErrorBody),
    ))]
async fn get_tour(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let tour = visible_tour(&state, &caller, Action::View, &tour_id(&id)?).await?;
    Ok(with_etag(tour.revision, Json(tour)))
}

/// Replace a tour (monitors running it follow the new steps from their start time).
#[utoipa::path(put, path = "/tours/{tour}", operation_id = "update_tour", tag = "walls",
    params(("tour" = String, Path, description = "Tour id"),
        ("if-match" = Option<String>, Header, description = "The revision the change is based on")),
    request_body = TourInput,
    responses(
        (status = 200, description = "The tour; `ETag`", body = Tour),
        (status = 403, description = "Outside the caller's jurisdiction", body = ErrorBody),
        (status = 404, description = "No such tour", body = ErrorBody),
        (status = 412, description = "The tour changed meanwhile", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    ))]
async fn update_tour(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = tour_id(&id)?;
    visible_tour(&state, &caller, Action::PushToWall, &id).await?;
    let input: TourInput = json_body(&headers, &body)?;
    require_tour_input(&state, &caller, &input).await?;
    let tour = store(&state)?
        .update_tour(&id, input, now_ms(), if_match(&headers)?)
        .await?;
    changed(&state, &caller, format!("tour/{id}"), "replaced").await?;
    Ok(with_etag(tour.revision, Json(tour)))
}

/// Delete a tour (409 `in_use` while a monitor runs it).
#[utoipa::path(delete, path = "/tours/{tour}", operation_id = "delete_tour", tag = "walls",
    params(("tour" = String, Path, description = "Tour id"),
        ("if-match" = Option<String>, Header, description = "The revision the deletion is based on")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Outside the caller's jurisdiction", body = ErrorBody),
        (status = 404, description = "No such tour", body = ErrorBody),
        (status = 409, description = "`in_use`: a monitor runs it", body = ErrorBody),
    ))]
async fn delete_tour(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let id = tour_id(&id)?;
    visible_tour(&state, &caller, Action::PushToWall, &id).await?;
    store(&state)?.delete_tour(&id, if_match(&headers)?).await?;
    changed(&state, &caller, format!("tour/{id}"), "deleted").await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------
// The tour driver

/// One pass of the tour driver at `now` (Unix ms): every monitor running a tour whose
/// clock has moved past the step shown is advanced to the clock's step, and a one-pass
/// tour that is over is stopped (its last scene stays), as the actor [`TOUR_ACTOR`], each
/// on the monitor revision it read (an operator's change in between wins). Returns how
/// many monitors changed. Errors are logged with the wall and monitor and never stop the
/// pass.
pub async fn tour_tick(walls: &WallStore, now: UnixMs) -> usize {
    let monitors = match walls.touring_monitors().await {
        Ok(monitors) => monitors,
        Err(error) => {
            tracing::warn!(%error, "tour driver: listing the touring monitors failed");
            return 0;
        }
    };
    let mut tours: BTreeMap<TourId, Option<Tour>> = BTreeMap::new();
    let mut changed = 0;
    for monitor in monitors {
        let Some((tour_id, step, started_at)) = monitor.state.tour() else {
            continue;
        };
        let tour_id = tour_id.clone();
        if !tours.contains_key(&tour_id) {
            let tour = match walls.tour(&tour_id).await {
                Ok(tour) => Some(tour),
                Err(error) => {
                    tracing::warn!(wall = %monitor.wall_id, monitor = %monitor.id,
                        tour = %tour_id, %error, "tour driver: reading the tour failed");
                    None
                }
            };
            tours.insert(tour_id.clone(), tour);
        }
        let Some(Some(tour)) = tours.get(&tour_id) else {
            continue;
        };
        let clock = match TourClock::new(tour, started_at) {
            Ok(clock) => clock,
            Err(error) => {
                tracing::warn!(wall = %monitor.wall_id, monitor = %monitor.id,
                    tour = %tour_id, %error, "tour driver: the tour cannot run");
                continue;
            }
        };
        let at = clock.poll(now);
        let command = if at.ended {
            MonitorCommand::StopTour
        } else if u32::try_from(at.step_index).ok() != Some(step) {
            MonitorCommand::AdvanceTour {
                tour_id: tour_id.clone(),
                step: u32::try_from(at.step_index).unwrap_or(u32::MAX),
            }
        } else {
            continue;
        };
        match walls
            .apply(
                &monitor.wall_id,
                &monitor.id,
                command,
                TOUR_ACTOR,
                now,
                Some(monitor.revision),
            )
            .await
        {
            Ok((_, Some(_))) => changed += 1,
            Ok((_, None)) => {}
            // Taken over by an operator meanwhile: the next pass sees the new state.
            Err(WallError::PreconditionFailed { .. } | WallError::TourNotRunning { .. }) => {}
            Err(error) => {
                tracing::warn!(wall = %monitor.wall_id, monitor = %monitor.id,
                    tour = %tour_id, %error, "tour driver: advancing the tour failed");
            }
        }
    }
    changed
}

/// The tour driver: [`tour_tick`] every [`TOUR_POLL`] at the time `clock` tells (Unix
/// ms), until the task is dropped. [`Server::bind`](crate::Server::bind) spawns it with the
/// system clock.
pub async fn drive_tours(walls: WallStore, clock: impl Fn() -> UnixMs + Send + 'static) {
    let mut ticker = tokio::time::interval(TOUR_POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        tour_tick(&walls, clock()).await;
    }
}

/// Spawns [`drive_tours`] with the system clock as the task `tour_driver` (a tracing span).
pub(crate) fn spawn_tour_driver(walls: WallStore) -> tokio::task::JoinHandle<()> {
    use tracing::Instrument;
    tokio::spawn(drive_tours(walls, now_ms).instrument(tracing::info_span!("tour_driver")))
}

// ---------------------------------------------------------------------------------------
// The kiosk page

/// `GET /wall/{wall}/{monitor}`: the monitor page (its kiosk token in the fragment,
/// `#token=…`).
pub(crate) async fn ui_wall() -> axum::response::Html<&'static str> {
    axum::response::Html(include_str!("ui/wall.html"))
}

/// `GET /ui/wall.js`: the monitor page's script.
pub(crate) async fn ui_wall_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("ui/wall.js"),
    )
}
