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
//! Who acts: the logged-in user; the timeline records its username, the audit log its id.
//! Incidents belong where their location's district and street and their enterprise
//! are: a user sees and changes only those its jurisdiction covers (lists are narrowed,
//! other incidents answer 403). Refused commands answer 409 or 422 naming the rule or
//! field, and write nothing.

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

use watchpost_command::access::{Action, AuditAction};
use watchpost_command::domain::Location;

use crate::auth::{Caller, now_ms};
use crate::cameras::{audit, etag, if_match, json_body, narrow};
use crate::error::ErrorBody;
use crate::paths::OwnedScope;
use crate::{ApiError, AppState};

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

/// Where an incident at `location` of `enterprise_id` belongs.
fn location_scope(location: Option<&Location>, enterprise_id: Option<&str>) -> OwnedScope {
    let clean = |v: Option<&String>| v.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    OwnedScope {
        district: clean(location.and_then(|l| l.district.as_ref())),
        street: clean(location.and_then(|l| l.street.as_ref())),
        enterprise_id: enterprise_id
            .map(|e| e.trim().to_owned())
            .filter(|e| !e.is_empty()),
    }
}

/// Where an incident belongs (its location's district and street, its enterprise).
pub(crate) fn incident_scope(incident: &Incident) -> OwnedScope {
    location_scope(Some(incident.location()), incident.enterprise_id())
}

/// The incident `id` if `caller` may do `action` on it (404 unknown, 403 not allowed).
async fn visible(
    state: &AppState,
    caller: &Caller,
    action: Action,
    id: &IncidentId,
) -> Result<Stored<Incident>, ApiError> {
    let incident = store(state)?.get(id).await?;
    caller.require(
        action,
        &incident_scope(&incident.value).scope(),
        &format!("incident {id}"),
    )?;
    Ok(incident)
}

/// Records a change of incident `id` in the audit log.
async fn audited(
    state: &AppState,
    caller: &Caller,
    id: &IncidentId,
    change: &str,
) -> Result<(), ApiError> {
    audit(
        state,
        caller,
        AuditAction::IncidentChanged,
        id.as_str(),
        &[("change", change.into())],
    )
    .await
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
    response.headers_mut().insert(header::ETAG, etag(revision));
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
    caller: Caller,
    Query(mut filter): Query<IncidentFilter>,
) -> Result<Json<IncidentList>, ApiError> {
    let constraints = caller.jurisdiction()?.constraints();
    if !(narrow(&mut filter.district, constraints.district)
        && narrow(&mut filter.street, constraints.street)
        && narrow(&mut filter.enterprise_id, constraints.enterprise_id))
    {
        return Ok(Json(IncidentList {
            items: Vec::new(),
            total: 0,
        }));
    }
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
        request_body = NewIncident,
    responses(
        (status = 201, description = "Opened; `Location` and `ETag` (the revision) set", body = IncidentView),
        (status = 400, description = "Malformed JSON or unknown field", body = ErrorBody),
        (status = 415, description = "Body not declared JSON", body = ErrorBody),
        (status = 422, description = "Invalid values; each field named", body = ErrorBody),
    ))]
async fn open(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let new: NewIncident = json_body(&headers, &body)?;
    caller.require(
        Action::ChangeIncident,
        &location_scope(Some(&new.location), new.enterprise_id.as_deref()).scope(),
        "the incident",
    )?;
    let at = now_ms();
    let (incident, _) = store(&state)?
        .open_incident(new, &caller.operator()?, at)
        .await?;
    audited(&state, &caller, incident.value.id(), "opened").await?;
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
async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let incident = visible(&state, &caller, Action::View, &incident_id(&id)?).await?;
    Ok(with_etag(
        StatusCode::OK,
        incident.revision,
        view(incident, now_ms()),
    ))
}

/// Apply a command (activate, regrade by new figures, relocate, close, ...).
#[utoipa::path(post, path = "/incidents/{id}/commands", operation_id = "apply_incident_command", tag = "incidents",
    params(("id" = String, Path, description = "Incident id"),
        ("if-match" = Option<String>, Header, description = "The revision the command was decided on, `\"<n>\"`")),
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
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = incident_id(&id)?;
    let current = visible(&state, &caller, Action::ChangeIncident, &id).await?;
    let expected = if_match(&headers)?;
    let command: IncidentCommand = json_body(&headers, &body)?;
    // Moving an incident (or giving it to an enterprise) must not move it out of reach.
    let moved = match &command {
        IncidentCommand::Relocate { location } => Some(location_scope(
            Some(location),
            current.value.enterprise_id(),
        )),
        IncidentCommand::SetEnterprise { enterprise_id } => Some(location_scope(
            Some(current.value.location()),
            enterprise_id.as_deref(),
        )),
        _ => None,
    };
    if let Some(scope) = moved {
        caller.require(
            Action::ChangeIncident,
            &scope.scope(),
            "the incident's new place",
        )?;
    }
    let at = now_ms();
    let (incident, entries) = store(&state)?
        .apply(&id, command, &caller.operator()?, at, expected)
        .await?;
    audited(&state, &caller, &id, "command").await?;
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
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<TimelineQuery>,
) -> Result<Json<TimelineAnswer>, ApiError> {
    let id = incident_id(&id)?;
    visible(&state, &caller, Action::View, &id).await?;
    let entries = store(&state)?
        .timeline(&id, query.after, query.limit.unwrap_or(100))
        .await?;
    Ok(Json(TimelineAnswer { entries }))
}

/// Attach evidence: a camera, a snapshot or a video bookmark (a timeline entry).
#[utoipa::path(post, path = "/incidents/{id}/evidence", operation_id = "add_incident_evidence", tag = "incidents",
    params(("id" = String, Path, description = "Incident id")),
    request_body = Evidence,
    responses(
        (status = 201, description = "The timeline entry", body = TimelineEntry),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "The incident is closed", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
    ))]
async fn evidence(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = incident_id(&id)?;
    visible(&state, &caller, Action::ChangeIncident, &id).await?;
    let evidence: Evidence = json_body(&headers, &body)?;
    let entry = store(&state)?
        .add_evidence(&id, evidence, &caller.operator()?, now_ms())
        .await?;
    audited(&state, &caller, &id, "evidence").await?;
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
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TaskList>, ApiError> {
    let id = incident_id(&id)?;
    visible(&state, &caller, Action::View, &id).await?;
    let items = store(&state)?.tasks_of(&id).await?;
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
    params(("id" = String, Path, description = "Incident id")),
    request_body = DispatchBody,
    responses(
        (status = 201, description = "Dispatched; `ETag` is the task's revision", body = TaskAnswer),
        (status = 404, description = "No such incident or unit", body = ErrorBody),
        (status = 409, description = "Refused (closed incident, unit already on it)", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
    ))]
async fn dispatch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = incident_id(&id)?;
    visible(&state, &caller, Action::Dispatch, &id).await?;
    let body: DispatchBody = json_body(&headers, &body)?;
    let (task, entries) = store(&state)?
        .dispatch(
            &id,
            body.unit_id,
            body.instructions,
            &caller.operator()?,
            now_ms(),
        )
        .await?;
    audited(&state, &caller, &id, "dispatch").await?;
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
        ("if-match" = Option<String>, Header, description = "The task revision, `\"<n>\"`")),
    request_body = TransitionBody,
    responses(
        (status = 200, description = "Moved; `ETag` is the new revision", body = TaskAnswer),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 409, description = "`illegal_task_transition` or a closed incident", body = ErrorBody),
        (status = 412, description = "`If-Match` names another revision", body = ErrorBody),
    ))]
async fn transition(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = TaskId::parse(&id).map_err(|e| ApiError::NotFound(format!("no task {id:?}: {e}")))?;
    let incident = store(&state)?.task(&id).await?.value.incident_id().clone();
    visible(&state, &caller, Action::Dispatch, &incident).await?;
    let expected = if_match(&headers)?;
    let body: TransitionBody = json_body(&headers, &body)?;
    let (task, entries) = store(&state)?
        .transition_task(&id, body.to, &caller.operator()?, now_ms(), expected)
        .await?;
    audited(&state, &caller, &incident, "task").await?;
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
    caller: Caller,
    Query(filter): Query<ReportFilter>,
) -> Result<Json<ReportPage>, ApiError> {
    let mut page = store(&state)?.reports(&filter).await?;
    if *caller.jurisdiction()? != watchpost_command::access::Jurisdiction::City {
        // Reports record their place in free-form content: narrowed page by page (the
        // total then counts what the caller sees of this page).
        page.items.retain(|r| caller.sees(&report_scope(r).scope()));
        page.total = page.items.len() as u64;
    }
    Ok(Json(page))
}

/// Where an intake report belongs: its own location and enterprise (a report without a
/// district is for the city to triage).
fn report_scope(report: &IntakeReport) -> OwnedScope {
    location_scope(
        report.content.location.as_ref(),
        report.content.enterprise_id.as_deref(),
    )
}

/// Record an intake report (phone, enterprise self-report, alarm, superior, peer).
#[utoipa::path(post, path = "/reports", operation_id = "record_report", tag = "intake",
        request_body = NewReport,
    responses(
        (status = 201, description = "Recorded", body = IntakeReport),
        (status = 400, description = "Malformed JSON or unknown field", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
    ))]
async fn record_report(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let report: NewReport = json_body(&headers, &body)?;
    caller.require(
        Action::ChangeIncident,
        &location_scope(report.location.as_ref(), report.enterprise_id.as_deref()).scope(),
        "the report",
    )?;
    let report = store(&state)?
        .record_report(report, &caller.operator()?, now_ms())
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
    params(("id" = String, Path, description = "Report id")),
    request_body = LinkBody,
    responses(
        (status = 200, description = "Linked", body = LinkAnswer),
        (status = 404, description = "No such report or incident", body = ErrorBody),
        (status = 409, description = "Already linked elsewhere, or the incident is closed", body = ErrorBody),
    ))]
async fn link_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<LinkAnswer>, ApiError> {
    let id =
        ReportId::parse(&id).map_err(|e| ApiError::NotFound(format!("no report {id:?}: {e}")))?;
    let report = store(&state)?.report(&id).await?;
    caller.require(
        Action::ChangeIncident,
        &report_scope(&report).scope(),
        &format!("report {id}"),
    )?;
    let body: LinkBody = json_body(&headers, &body)?;
    visible(&state, &caller, Action::ChangeIncident, &body.incident_id).await?;
    let (report, entries) = store(&state)?
        .link_report(&id, &body.incident_id, &caller.operator()?, now_ms())
        .await?;
    audited(&state, &caller, &body.incident_id, "report_linked").await?;
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
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<CamerasQuery>,
) -> Result<Json<IncidentCameras>, ApiError> {
    let radius = query.radius_m.unwrap_or(DEFAULT_RADIUS_M);
    let found = cameras_of(&state, &caller, &incident_id(&id)?, radius).await?;
    Ok(Json(found))
}

/// The cameras for incident `id` as `caller` may see them (the enterprise's first, then
/// those within `radius_m`, nearest first, narrowed to the caller's jurisdiction): what
/// `GET …/cameras` answers and what a wall's `show_incident` shows.
pub(crate) async fn cameras_of(
    state: &AppState,
    caller: &Caller,
    id: &IncidentId,
    radius_m: f64,
) -> Result<IncidentCameras, ApiError> {
    let incident = visible(state, caller, Action::View, id).await?;
    let devices = state
        .devices
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("the devices service is not running".into()))?;
    let lookup = InventoryLookup(devices, caller.jurisdiction()?);
    cameras_for_incident(&lookup, &incident.value, radius_m)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// The command module's [`CameraLookup`] over the device inventory, narrowed to what the
/// caller's jurisdiction covers (a nearby camera across a district border stays hidden
/// from the district next door).
struct InventoryLookup<'a>(&'a Devices, &'a watchpost_command::access::Jurisdiction);

impl InventoryLookup<'_> {
    /// Every camera matching `filter`, page by page.
    async fn all(&self, mut filter: CameraFilter) -> Result<Vec<CameraRef>, LookupError> {
        let mut out = Vec::new();
        if !crate::cameras::constrain(&mut filter, self.1) {
            return Ok(out);
        }
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
