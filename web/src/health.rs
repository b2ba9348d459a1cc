//! `/healthz` and the read-only configuration views.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::{Value, json};

use crate::{ApiError, AppState, VERSION};

/// `GET /healthz`: 200 when the server and its database answer, 503 otherwise. The body
/// also carries the async runtime's size: `runtime.workers` (threads running tasks) and
/// `runtime.tasks` (tasks alive: one per camera stream being pulled, per WebRTC viewer,
/// per open connection, plus a fixed few) — what an idle configured camera costs in tasks
/// is read here.
pub(crate) async fn healthz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state
        .db
        .ping()
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let runtime = tokio::runtime::Handle::current().metrics();
    Ok(Json(json!({
        "status": "ok",
        "version": VERSION,
        "uptime_s": state.started.elapsed().as_secs(),
        "database": state.db.kind(),
        "runtime": {
            "workers": runtime.num_workers(),
            "tasks": runtime.num_alive_tasks(),
        },
    })))
}

/// A configured camera as the API shows it.
#[derive(Serialize)]
pub(crate) struct CameraView {
    name: String,
    title: String,
    /// Redacted: the password never leaves the server.
    main_url: String,
    sub_url: Option<String>,
    transport: watchpost_config::RtspTransport,
    always_on: bool,
}

/// `GET /api/v1/config/cameras`: the cameras declared in the configuration (paths
/// `<name>/main`, `<name>/sub`; the inventory's are under `/api/v1/cameras`), URLs redacted.
pub(crate) async fn config_cameras(State(state): State<AppState>) -> Json<Vec<CameraView>> {
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
