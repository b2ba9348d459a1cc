//! Incidents, intake reports, dispatch tasks and the timeline over HTTP (the organisation
//! is in `org.rs`, the event stream in `events.rs`, the OpenAPI document in `openapi.rs`).
//!
//! - `GET /api/v1/incidents?state=&open=&grade=&min_grade=&incident_type=&district=&street=&exercise=&enterprise_id=&opened_from=&opened_to=&report_due_before=&limit=&offset=`
//!   → `{items, total}`, newest first; each incident carries its `report_clocks`.
//! - `POST /api/v1/incidents` with a new incident → `201`, `Location`, `ETag: "<revision>"`.
//! - `GET /api/v1/incidents/{id}` → the incident with its report clocks (time remaining,
//!   overdue) computed now.
//! - `POST /api/v1/incidents/{id}/commands` with a command (`{"command": "activate"}`,
//!   `{"command": "update_figures", "figures": {...}}`, `close`, ...; `If-Match` optional)
//!   → the incident and the timeline entries the command appended.
//! - `GET /api/v1/incidents/{id}/timeline?after=&limit=` → entries in order.
//! - `POST /api/v1/incidents/{id}/evidence` (a camera, a snapshot, a video bookmark).
//! - `GET /api/v1/incidents/{id}/cameras?radius_m=1000` → the enterprise's cameras and the
//!   other cameras within the radius (nearest first), from the device inventory through
//!   the command module's [`CameraLookup`] (command never imports devices).
//! - `GET|POST /api/v1/incidents/{id}/tasks` (dispatch `{"unit_id", "instructions"}`),
//!   `POST /api/v1/tasks/{id}/transition` `{"to": "acknowledged"}`.
//! - `GET|POST /api/v1/reports` (`?linked=false` is the unlinked queue),
//!   `POST /api/v1/reports/{id}/link` `{"incident_id"}`.
//!
//! Who acts: the `X-Watchpost-Operator` header names the operator recorded on the timeline
//! (`unidentified` without it) until sessions exist (the security issue replaces it with
//! the logged-in user). Refused commands answer 409 or 422 naming the rule or field, and
//! write nothing.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchpost_command::cameras::{
    CameraLookup, CameraRef, DEFAULT_RADIUS_M, IncidentCameras, LookupError, cameras_for_incident,
};
use watchpost_command::domain::{
    Incident, IncidentCommand, IncidentId, NewIncident, Position, ReportClock, ReportId, Task,
    TaskId, TaskState, UnitId, UnixMs,
};
use watchpost_command::incidents::{
    Evidence, IncidentFilter, IncidentStore, IntakeReport, NewReport, ReportFilter, ReportPage,
    Stored, TimelineEntry,
};
use watchpost_devices::Devices;
use watchpost_devices::inventory::{CameraFilter, MAX_LIMIT};

use crate::cameras::{if_match, json_body};
use crate::error::ErrorBody;
use crate::{ApiError, AppState};

/// The header naming the acting operator until sessions exist.
pub const OPERATOR_HEADER: &str = "x-watchpost-operator";

/// The incident routes, nested under `/api/v1`.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, open))
        .routes(routes!(one))
        .routes(routes!(command))
        .routes(routes!(timeline))
        .routes(routes!(evidence))
        .routes(routes!(tasks, dispatch))
        .routes(routes!(cameras))
        .routes(routes!(transition))
        .routes(routes!(reports, record_report))
        .routes(routes!(link_report))
}

fn store(state: &AppState) -> Result<&IncidentStore, ApiError> {
    state
        .incidents
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("the incident store is not open".into()))
}

fn now_ms() -> UnixMs {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The operator named by [`OPERATOR_HEADER`] (trimmed, 1 to 64 printable characters).
fn operator(headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(value) = headers.get(OPERATOR_HEADER) else {
        return Ok("unidentified".to_owned());
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::BadRequest(format!("{OPERATOR_HEADER} is not ASCII")))?
        .trim();
    if text.is_empty() || text.len() > 64 || text.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "{OPERATOR_HEADER}: 1 to 64 printable characters"
        )));
    }
    Ok(text.to_owned())
}

fn incident_id(id: &str) -> Result<IncidentId, ApiError> {
    IncidentId::parse(id).map_err(|e| ApiError::NotFound(format!("no incident {id:?}: {e}")))
}

/// An incident as the API shows it: the record, its revision and its report clocks now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = IncidentView)]
struct IncidentView {
    #[serde(flatten)]
    incident: Stored<Incident>,
    report_clocks: Vec<ReportClock>,
}

/// One page of incidents.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct IncidentList {
    /// This page, most recently opened first.
    items: Vec<IncidentView>,
    /// How many incidents match the filter in all.
    total: u64,
}

/// The answer to an accepted incident command.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct CommandAnswer {
    /// The incident after the command.
    incident: IncidentView,
    /// The timeline entries the command appended, in order.
    timeline: Vec<TimelineEntry>,
}

/// Timeline entries in commit order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct TimelineAnswer {
    /// The entries after `after`, oldest first.
    entries: Vec<TimelineEntry>,
}

/// An incident's tasks.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct TaskList {
    /// The tasks, in dispatch order.
    items: Vec<Stored<Task>>,
}

/// The answer to a dispatch or a task transition.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct TaskAnswer {
    /// The task after the change.
    task: Stored<Task>,
    /// The timeline entries the change appended.
    timeline: Vec<TimelineEntry>,
}

/// The answer to linking a report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct LinkAnswer {
    /// The report, now linked.
    report: IntakeReport,
    /// The timeline entries the link appended.
    timeline: Vec<TimelineEntry>,
}

fn view(incident: Stored<Incident>, now: UnixMs) -> IncidentView {
    IncidentView {
        report_clocks: incident.value.report_clocks(now),
        incident,
    }
}

fn with_etag(status: StatusCode, revision: i64, body: impl Serialize) -> Response {
    let mut response = (status, Json(body)).into_response();
    if let Ok(tag) = HeaderValue::from_str(&format!("\"{revision}\"")) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}

/// List incidents, newest first, with their report clocks.
#[utoipa::path(get, path = "/incidents", operation_id = "list_incidents", tag = "incidents",
    params(IncidentFilter),
    responses(
        (status = 200, description = "One page of incidents", body = IncidentList),
        (status = 400, description = "Unknown or malformed query parameter", body = ErrorBody),
        (status = 422, description = "Invalid filter (limit, time range)", body = ErrorBody),
    ))]
async fn list(
    State(state): State<AppState>,
    Query(filter): Query<IncidentFilter>,
) -> Result<Json<IncidentList>, ApiError> {
    let page = store(&state)?.list(&filter).await?;
    let now = now_ms();
    let items: Vec<IncidentView> = page.items.into_iter().map(|i| view(i, now)).collect();
    Ok(Json(IncidentList {
        items,
        total: page.total,
    }))
}

/// Open an incident; its grade is computed from the figures.
#[utoipa::path(post, path = "/incidents", operation_id = "open_incident", tag = "incidents",
    params(("x-watchpost-operator" = Option<String>, Header, description = "The acting operator recorded on the timeline (until sessions exist)")),
    request_body = NewIncident,
    responses(
        (status = 201, description = "Opened; `Location` and `ETag` (the revision) set", body = IncidentView),
        (status = 400, description = "Malformed JSON or unknown field", body = ErrorBody),
        (status = 415, description = "Body not declared JSON", body = ErrorBody),
        (status = 422, description = "Invalid values; each field named", body = ErrorBody),
    ))]
async fn open(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let new: NewIncident = json_body(&headers, &body)?;
    let at = now_ms();
    let (incident, _) = store(&state)?
        .open_incident(new, &operator(&headers)?, at)
        .await?;
    let location = format!("/api/v1/incidents/{}", incident.value.id());
    let mut response = with_etag(StatusCode::CREATED, incident.revision, view(incident, at));
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// One incident with its report clocks computed now; `ETag` is its revision.
#[utoipa::path(get, path = "/incidents/{id}", operation_id = "get_incident", tag = "incidents",
    params(("id" = String, Path, description = "Incident id")),
    responses(
        (status = 200, description = "The incident", body = IncidentView),
        (status = 404, description = "No such incident", body = ErrorBody),
    ))]
async fn one(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let incident = store(&state)?.get(&incident_id(&id)?).await?;
    Ok(with_etag(
        StatusCode::OK,
        incident.revision,
        view(incident, now_ms()),
    ))
}

/// Apply a command (activate, regrade by new figures, relocate, close, ...).
#[utoipa::path(post, path = "/incidents/{id}/commands", operation_id = "apply_incident_command", tag = "incidents",
    params(("id" = String, Path, description = "Incident id"),
        ("if-match" = Option<String>, Header, description = "The revision the command was decided on, `\"<n>\"`"),
        ("x-watchpost-operator" = Option<String>, Header, description = "The acting operator recorded on the timeline (until sessions exist)")),
    request_body = IncidentCommand,
    responses(
        (status = 200, description = "Applied; `ETag` is the new revision", body = CommandAnswer),
        (status = 400, description = "Malformed JSON or unknown command", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "Refused by a rule (`closed`, `open_tasks`, `reports_pending`, `illegal_transition`)", body = ErrorBody),
        (status = 412, description = "`If-Match` names another revision", body = ErrorBody),
        (status = 422, description = "Invalid values; each field named", body = ErrorBody),
    ))]
async fn command(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = incident_id(&id)?;
    let expected = if_match(&headers)?;
    let command: IncidentCommand = json_body(&headers, &body)?;
    let at = now_ms();
    let (incident, entries) = store(&state)?
        .apply(&id, command, &operator(&headers)?, at, expected)
        .await?;
    let revision = incident.revision;
    Ok(with_etag(
        StatusCode::OK,
        revision,
        CommandAnswer {
            incident: view(incident, at),
            timeline: entries,
        },
    ))
}

/// Which timeline entries to return.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct TimelineQuery {
    /// Only entries with a greater id (the last id seen).
    #[serde(default)]
    after: Option<i64>,
    /// At most this many entries (default 100, at most 1000).
    #[serde(default)]
    limit: Option<u32>,
}

/// The incident's append-only timeline, in commit order.
#[utoipa::path(get, path = "/incidents/{id}/timeline", operation_id = "incident_timeline", tag = "incidents",
    params(("id" = String, Path, description = "Incident id"), TimelineQuery),
    responses(
        (status = 200, description = "Entries in order", body = TimelineAnswer),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 422, description = "Invalid limit", body = ErrorBody),
    ))]
async fn timeline(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<TimelineQuery>,
) -> Result<Json<TimelineAnswer>, ApiError> {
    let entries = store(&state)?
        .timeline(&incident_id(&id)?, query.after, query.limit.unwrap_or(100))
        .await?;
    Ok(Json(TimelineAnswer { entries }))
}

/// Attach evidence: a camera, a snapshot or a video bookmark (a timeline entry).
#[utoipa::path(post, path = "/incidents/{id}/evidence", operation_id = "add_incident_evidence", tag = "incidents",
    params(("id" = String, Path, description = "Incident id"), ("x-watchpost-operator" = Option<String>, Header, description = "The acting operator recorded on the timeline (until sessions exist)")),
    request_body = Evidence,
    responses(
        (status = 201, description = "The timeline entry", body = TimelineEntry),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "The incident is closed", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
    ))]
async fn evidence(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let evidence: Evidence = json_body(&headers, &body)?;
    let entry = store(&state)?
        .add_evidence(&incident_id(&id)?, evidence, &operator(&headers)?, now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(entry)).into_response())
}

/// The incident's dispatch tasks with their transitions.
#[utoipa::path(get, path = "/incidents/{id}/tasks", operation_id = "list_incident_tasks", tag = "dispatch",
    params(("id" = String, Path, description = "Incident id")),
    responses(
        (status = 200, description = "The tasks", body = TaskList),
        (status = 404, description = "No such incident", body = ErrorBody),
    ))]
async fn tasks(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<TaskList>, ApiError> {
    let items = store(&state)?.tasks_of(&incident_id(&id)?).await?;
    Ok(Json(TaskList { items }))
}

/// A unit to dispatch.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DispatchBody {
    /// The unit (rescue team, expert, vehicle).
    unit_id: UnitId,
    /// What the unit is to do.
    #[serde(default)]
    instructions: Option<String>,
}

/// Dispatch a unit: a task in state `notified`.
#[utoipa::path(post, path = "/incidents/{id}/tasks", operation_id = "dispatch_unit", tag = "dispatch",
    params(("id" = String, Path, description = "Incident id"), ("x-watchpost-operator" = Option<String>, Header, description = "The acting operator recorded on the timeline (until sessions exist)")),
    request_body = DispatchBody,
    responses(
        (status = 201, description = "Dispatched; `ETag` is the task's revision", body = TaskAnswer),
        (status = 404, description = "No such incident or unit", body = ErrorBody),
        (status = 409, description = "Refused (closed incident, unit already on it)", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
    ))]
async fn dispatch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: DispatchBody = json_body(&headers, &body)?;
    let (task, entries) = store(&state)?
        .dispatch(
            &incident_id(&id)?,
            body.unit_id,
            body.instructions,
            &operator(&headers)?,
            now_ms(),
        )
        .await?;
    let revision = task.revision;
    Ok(with_etag(
        StatusCode::CREATED,
        revision,
        TaskAnswer {
            task,
            timeline: entries,
        },
    ))
}

/// The state a task moves to.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TransitionBody {
    /// The next state (one step forward, or `released` to stand down).
    to: TaskState,
}

/// Move a task to its next state; each transition is timestamped.
#[utoipa::path(post, path = "/tasks/{id}/transition", operation_id = "transition_task", tag = "dispatch",
    params(("id" = String, Path, description = "Task id"),
        ("if-match" = Option<String>, Header, description = "The task revision, `\"<n>\"`"),
        ("x-watchpost-operator" = Option<String>, Header, description = "The acting operator recorded on the timeline (until sessions exist)")),
    request_body = TransitionBody,
    responses(
        (status = 200, description = "Moved; `ETag` is the new revision", body = TaskAnswer),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 409, description = "`illegal_task_transition` or a closed incident", body = ErrorBody),
        (status = 412, description = "`If-Match` names another revision", body = ErrorBody),
    ))]
async fn transition(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = TaskId::parse(&id).map_err(|e| ApiError::NotFound(format!("no task {id:?}: {e}")))?;
    let expected = if_match(&headers)?;
    let body: TransitionBody = json_body(&headers, &body)?;
    let (task, entries) = store(&state)?
        .transition_task(&id, body.to, &operator(&headers)?, now_ms(), expected)
        .await?;
    let revision = task.revision;
    Ok(with_etag(
        StatusCode::OK,
        revision,
        TaskAnswer {
            task,
            timeline: entries,
        },
    ))
}

/// Intake reports (`?linked=false` is the queue waiting for an incident).
#[utoipa::path(get, path = "/reports", operation_id = "list_reports", tag = "intake",
    params(ReportFilter),
    responses(
        (status = 200, description = "One page of reports, oldest first", body = ReportPage),
        (status = 400, description = "Unknown or malformed query parameter", body = ErrorBody),
        (status = 422, description = "Invalid filter", body = ErrorBody),
    ))]
async fn reports(
    State(state): State<AppState>,
    Query(filter): Query<ReportFilter>,
) -> Result<Json<ReportPage>, ApiError> {
    Ok(Json(store(&state)?.reports(&filter).await?))
}

/// Record an intake report (phone, enterprise self-report, alarm, superior, peer).
#[utoipa::path(post, path = "/reports", operation_id = "record_report", tag = "intake",
    params(("x-watchpost-operator" = Option<String>, Header, description = "The acting operator recorded on the timeline (until sessions exist)")),
    request_body = NewReport,
    responses(
        (status = 201, description = "Recorded", body = IntakeReport),
        (status = 400, description = "Malformed JSON or unknown field", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
    ))]
async fn record_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let report: NewReport = json_body(&headers, &body)?;
    let report = store(&state)?
        .record_report(report, &operator(&headers)?, now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(report)).into_response())
}

/// The incident a report belongs to.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    /// The incident.
    incident_id: IncidentId,
}

/// Attach a report to an incident (a duplicate report attaches to the incident it
/// duplicates).
#[utoipa::path(post, path = "/reports/{id}/link", operation_id = "link_report", tag = "intake",
    params(("id" = String, Path, description = "Report id"), ("x-watchpost-operator" = Option<String>, Header, description = "The acting operator recorded on the timeline (until sessions exist)")),
    request_body = LinkBody,
    responses(
        (status = 200, description = "Linked", body = LinkAnswer),
        (status = 404, description = "No such report or incident", body = ErrorBody),
        (status = 409, description = "Already linked elsewhere, or the incident is closed", body = ErrorBody),
    ))]
async fn link_report(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<LinkAnswer>, ApiError> {
    let id =
        ReportId::parse(&id).map_err(|e| ApiError::NotFound(format!("no report {id:?}: {e}")))?;
    let body: LinkBody = json_body(&headers, &body)?;
    let (report, entries) = store(&state)?
        .link_report(&id, &body.incident_id, &operator(&headers)?, now_ms())
        .await?;
    Ok(Json(LinkAnswer {
        report,
        timeline: entries,
    }))
}

/// How far to look for cameras.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct CamerasQuery {
    /// Radius around the incident's position, metres (default 1000).
    #[serde(default)]
    radius_m: Option<f64>,
}

/// The enterprise's cameras and the other cameras within the radius, nearest first.
#[utoipa::path(get, path = "/incidents/{id}/cameras", operation_id = "incident_cameras", tag = "incidents",
    params(("id" = String, Path, description = "Incident id"), CamerasQuery),
    responses(
        (status = 200, description = "Cameras for the incident", body = IncidentCameras),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 422, description = "Invalid radius", body = ErrorBody),
    ))]
async fn cameras(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<CamerasQuery>,
) -> Result<Json<IncidentCameras>, ApiError> {
    let incident = store(&state)?.get(&incident_id(&id)?).await?;
    let devices = state
        .devices
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("the devices service is not running".into()))?;
    let radius = query.radius_m.unwrap_or(DEFAULT_RADIUS_M);
    let found = cameras_for_incident(&InventoryLookup(devices), &incident.value, radius)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(found))
}

/// The command module's [`CameraLookup`] over the device inventory.
struct InventoryLookup<'a>(&'a Devices);

impl InventoryLookup<'_> {
    /// Every camera matching `filter`, page by page.
    async fn all(&self, mut filter: CameraFilter) -> Result<Vec<CameraRef>, LookupError> {
        let mut out = Vec::new();
        let mut offset = 0u64;
        loop {
            filter.limit = Some(MAX_LIMIT);
            filter.offset = Some(offset);
            let page = self
                .0
                .list(&filter)
                .await
                .map_err(|e| LookupError(e.to_string()))?;
            let n = page.items.len() as u64;
            out.extend(page.items.into_iter().map(|c| CameraRef {
                id: c.id.as_str().to_owned(),
                name: c.name,
                enterprise_id: c.enterprise_id,
                position: c.position.map(|p| Position {
                    lon: p.lon,
                    lat: p.lat,
                }),
                enabled: c.enabled,
                distance_m: None,
            }));
            offset += n;
            if n == 0 || offset >= page.total {
                return Ok(out);
            }
        }
    }
}

impl CameraLookup for InventoryLookup<'_> {
    async fn by_enterprise(&self, enterprise_id: &str) -> Result<Vec<CameraRef>, LookupError> {
        self.all(CameraFilter {
            enterprise_id: Some(enterprise_id.to_owned()),
            ..CameraFilter::default()
        })
        .await
    }

    async fn near(&self, center: Position, radius_m: f64) -> Result<Vec<CameraRef>, LookupError> {
        // The bounding box of the circle (a degree of latitude is ~111.2 km; a degree of
        // longitude shrinks with the cosine of the latitude); `cameras_for_incident` keeps
        // those really within the radius.
        let dlat = (radius_m / 111_195.0).min(90.0);
        let cos = center.lat.to_radians().cos().max(0.01);
        let dlon = (dlat / cos).min(180.0);
        self.all(CameraFilter {
            min_lon: Some((center.lon - dlon).max(-180.0)),
            max_lon: Some((center.lon + dlon).min(180.0)),
            min_lat: Some((center.lat - dlat).max(-90.0)),
            max_lat: Some((center.lat + dlat).min(90.0)),
            ..CameraFilter::default()
        })
        .await
    }
}
