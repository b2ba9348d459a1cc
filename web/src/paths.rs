//! `/api/v1/paths`: the stream hub's paths and their statistics; one path also lists its
//! WHEP sessions (the hub knows readers, not WebRTC: the two are joined here).

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use watchpost_media::hub::PathStats;
use watchpost_media::webrtc::SessionInfo;

use crate::{ApiError, AppState};

/// `GET /api/v1/paths`: every path with its state, codecs, rates, readers, drops,
/// reconnects and last error (credentials redacted).
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Vec<PathStats>>, ApiError> {
    Ok(Json(state.hub.paths().await?))
}

/// One path as `GET /api/v1/paths/{name}` reports it: the hub's statistics and the
/// WebRTC sessions playing it.
#[derive(Debug, Serialize)]
pub(crate) struct PathDetail {
    /// The hub's view (state, tracks, rates, `readers`, ...), flattened.
    #[serde(flatten)]
    path: PathStats,
    /// The WHEP sessions playing this path, ordered by id: id, state, age and stats
    /// (frames, packets/bytes sent, NACK/PLI/FIR, loss, jitter, RTT, frames skipped
    /// waiting for a key frame). Empty when WebRTC is not running.
    sessions: Vec<SessionInfo>,
}

/// `GET /api/v1/paths/{name}`: one path (`name` may contain `/`, e.g. `gas-station/main`)
/// with its WHEP sessions.
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
    Ok(Json(PathDetail { path, sessions }))
}
