//! Incidents, intake reports, dispatch tasks and the timeline over HTTP (first part of the
//! command API; the organisation, OpenAPI document and event stream come next).
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
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;
use watchpost_command::cameras::{
    CameraLookup, CameraRef, DEFAULT_RADIUS_M, IncidentCameras, LookupError, cameras_for_incident,
};
use watchpost_command::domain::{
    Incident, IncidentCommand, IncidentId, NewIncident, Position, ReportClock, ReportId, TaskId,
    TaskState, UnitId, UnixMs,
};
use watchpost_command::incidents::{
    Evidence, IncidentFilter, IncidentStore, NewReport, ReportFilter, Stored,
};
use watchpost_devices::Devices;
use watchpost_devices::inventory::{CameraFilter, MAX_LIMIT};

use crate::cameras::{if_match, json_body};
use crate::{ApiError, AppState};

/// The header naming the acting operator until sessions exist.
pub const OPERATOR_HEADER: &str = "x-watchpost-operator";

/// The incident routes, nested under `/api/v1`.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/incidents", get(list).post(open))
        .route("/incidents/{id}", get(one))
        .route("/incidents/{id}/commands", post(command))
        .route("/incidents/{id}/timeline", get(timeline))
        .route("/incidents/{id}/evidence", post(evidence))
        .route("/incidents/{id}/tasks", get(tasks).post(dispatch))
        .route("/incidents/{id}/cameras", get(cameras))
        .route("/tasks/{id}/transition", post(transition))
        .route("/reports", get(reports).post(record_report))
        .route("/reports/{id}/link", post(link_report))
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
#[derive(Debug, Serialize)]
struct IncidentView {
    #[serde(flatten)]
    incident: Stored<Incident>,
    report_clocks: Vec<ReportClock>,
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

/// `GET /api/v1/incidents`.
async fn list(
    State(state): State<AppState>,
    Query(filter): Query<IncidentFilter>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let page = store(&state)?.list(&filter).await?;
    let now = now_ms();
    let items: Vec<IncidentView> = page.items.into_iter().map(|i| view(i, now)).collect();
    Ok(Json(json!({ "items": items, "total": page.total })))
}

/// `POST /api/v1/incidents`.
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

/// `GET /api/v1/incidents/{id}`.
async fn one(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let incident = store(&state)?.get(&incident_id(&id)?).await?;
    Ok(with_etag(
        StatusCode::OK,
        incident.revision,
        view(incident, now_ms()),
    ))
}

/// `POST /api/v1/incidents/{id}/commands`.
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
        json!({ "incident": view(incident, at), "timeline": entries }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimelineQuery {
    #[serde(default)]
    after: Option<i64>,
    #[serde(default)]
    limit: Option<u32>,
}

/// `GET /api/v1/incidents/{id}/timeline`.
async fn timeline(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<TimelineQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let entries = store(&state)?
        .timeline(&incident_id(&id)?, query.after, query.limit.unwrap_or(100))
        .await?;
    Ok(Json(json!({ "entries": entries })))
}

/// `POST /api/v1/incidents/{id}/evidence`.
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

/// `GET /api/v1/incidents/{id}/tasks`.
async fn tasks(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let tasks = store(&state)?.tasks_of(&incident_id(&id)?).await?;
    Ok(Json(json!({ "items": tasks })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DispatchBody {
    unit_id: UnitId,
    #[serde(default)]
    instructions: Option<String>,
}

/// `POST /api/v1/incidents/{id}/tasks`: dispatch a unit.
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
        json!({ "task": task, "timeline": entries }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransitionBody {
    to: TaskState,
}

/// `POST /api/v1/tasks/{id}/transition`.
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
        json!({ "task": task, "timeline": entries }),
    ))
}

/// `GET /api/v1/reports`.
async fn reports(
    State(state): State<AppState>,
    Query(filter): Query<ReportFilter>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let page = store(&state)?.reports(&filter).await?;
    Ok(Json(json!({ "items": page.items, "total": page.total })))
}

/// `POST /api/v1/reports`: an intake record (phone, self-report, alarm, superior).
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    incident_id: IncidentId,
}

/// `POST /api/v1/reports/{id}/link`: attach a report to an incident (a duplicate report
/// attaches to the incident it duplicates).
async fn link_report(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id =
        ReportId::parse(&id).map_err(|e| ApiError::NotFound(format!("no report {id:?}: {e}")))?;
    let body: LinkBody = json_body(&headers, &body)?;
    let (report, entries) = store(&state)?
        .link_report(&id, &body.incident_id, &operator(&headers)?, now_ms())
        .await?;
    Ok(Json(json!({ "report": report, "timeline": entries })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CamerasQuery {
    #[serde(default)]
    radius_m: Option<f64>,
}

/// `GET /api/v1/incidents/{id}/cameras`.
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
