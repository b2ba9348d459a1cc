//! `/healthz` and the read-only configuration views.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::error::ErrorBody;
use crate::{ApiError, AppState, VERSION};

/// What `/healthz` answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    /// `ok`.
    status: &'static str,
    /// This build's version.
    version: &'static str,
    /// Seconds since the server started.
    uptime_s: u64,
    /// `sqlite` or `postgres`.
    database: &'static str,
    /// The async runtime's size.
    runtime: RuntimeSize,
}

/// Threads and tasks of the async runtime.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct RuntimeSize {
    /// Threads running tasks.
    workers: usize,
    /// Tasks alive.
    tasks: usize,
}

/// `GET /healthz`: 200 when the server and its database answer, 503 otherwise. The body
/// also carries the async runtime's size: `runtime.workers` (threads running tasks) and
/// `runtime.tasks` (tasks alive: one per camera stream being pulled, per WebRTC viewer,
/// per open connection, plus a fixed few) — what an idle configured camera costs in tasks
/// is read here.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "system",
    responses(
        (status = 200, description = "Up, and the database answers", body = Health),
        (status = 503, description = "The database does not answer", body = ErrorBody),
    ))]
pub(crate) async fn healthz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state
        .db
        .ping()
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let runtime = tokio::runtime::Handle::current().metrics();
    Ok(Json(Health {
        status: "ok",
        version: VERSION,
        uptime_s: state.started.elapsed().as_secs(),
        database: state.db.kind(),
        runtime: RuntimeSize {
            workers: runtime.num_workers(),
            tasks: runtime.num_alive_tasks(),
        },
    }))
}

/// A camera declared in the configuration file, as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ConfigCamera)]
pub(crate) struct CameraView {
    /// Its name: the paths are `<name>/main` and `<name>/sub`.
    name: String,
    /// The title shown on the wall.
    title: String,
    /// Main stream URL; the password redacted.
    main_url: String,
    /// Sub stream URL; the password redacted.
    sub_url: Option<String>,
    /// RTP transport.
    #[schema(value_type = watchpost_devices::inventory::TransportName)]
    transport: watchpost_config::RtspTransport,
    /// Pulled even without viewers.
    always_on: bool,
}

/// `GET /api/v1/config/cameras`: the cameras declared in the configuration (paths
/// `<name>/main`, `<name>/sub`; the inventory's are under `/api/v1/cameras`), URLs redacted.
#[utoipa::path(get, path = "/config/cameras", operation_id = "list_config_cameras", tag = "system",
    responses((status = 200, description = "The configured cameras", body = Vec<CameraView>)))]
pub(crate) async fn config_cameras(
    State(state): State<AppState>,
    caller: crate::auth::Caller,
) -> Json<Vec<CameraView>> {
    // Cameras of the file belong to no district: the city's users see them.
    if !caller.sees(&watchpost_command::access::Scope::default()) {
        return Json(Vec::new());
    }
    let views = state
        .config
        .cameras
        .iter()
        .map(|c| CameraView {
            name: c.name.clone(),
            title: c.title.clone(),
            main_url: c.main_url.redacted(),
            sub_url: c.sub_url.as_ref().map(|u| u.redacted()),
            transport: c.transport,
            always_on: c.always_on,
        })
        .collect();
    Json(views)
}
