//! `/api/v1/paths`: the stream hub's paths and their statistics.

use axum::Json;
use axum::extract::{Path, State};
use watchpost_media::hub::PathStats;

use crate::{ApiError, AppState};

/// `GET /api/v1/paths`: every path with its state, codecs, rates, readers, drops,
/// reconnects and last error (credentials redacted).
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Vec<PathStats>>, ApiError> {
    Ok(Json(state.hub.paths().await?))
}

/// `GET /api/v1/paths/{name}`: one path (`name` may contain `/`, e.g. `gas-station/main`).
pub(crate) async fn one(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<PathStats>, ApiError> {
    Ok(Json(state.hub.path(&name).await?))
}
