//! Stream views in the audit log: who watched which path, from when to when.
//!
//! A WHEP session that starts is recorded by the handler that created it
//! ([`StreamViews::started`]: `stream_view_started`, the viewer being the session's user or,
//! for a stream token, its issuer); its end comes from the WebRTC layer's session events
//! ([`StreamViews::run`]: `stream_view_ended`, whatever ended it — the viewer's `DELETE`,
//! a silent peer, the camera going away, shutdown). The two meet by session id. A session
//! can end before its handler has recorded the start (a shutdown right after the offer):
//! the end waits in the table and the handler ends the view as soon as it has one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use tokio::sync::mpsc;
use watchpost_command::access::{Actor, StreamViewStart};
use watchpost_media::webrtc::SessionEvent;

use crate::auth::{Access, Caller};

/// Where each live WHEP session's view is; see the [module documentation](self). Cheap to
/// clone.
#[derive(Debug, Clone, Default)]
pub struct StreamViews {
    table: Arc<Mutex<HashMap<String, Slot>>>,
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    /// The view's audit id: the session is playing.
    Open(i64),
    /// The session ended (Unix ms) before its start was recorded.
    Ended(i64),
}

fn unix_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl StreamViews {
    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records that `caller` started WHEP session `session` on `path` now. Errors are
    /// logged: the viewer already plays, and refusing it afterwards would not help.
    pub(crate) async fn started(
        &self,
        access: &Access,
        caller: &Caller,
        session: &str,
        path: &str,
    ) {
        let mut detail = Map::new();
        detail.insert("session_id".into(), Value::from(session));
        let actor = match (caller.user(), caller.stream()) {
            (Ok(user), _) => Some(user.actor()),
            (Err(_), Some(claims)) => {
                detail.insert("via".into(), Value::from("stream_token"));
                access
                    .store()
                    .get_user(&claims.issued_by)
                    .await
                    .ok()
                    .map(|u| u.actor())
            }
            (Err(_), None) => None::<Actor>,
        };
        let start = StreamViewStart {
            at: crate::auth::now_ms(),
            actor,
            source: caller.source(),
            path: path.to_owned(),
            detail,
        };
        let view = match access.store().stream_view_started(start).await {
            Ok(view) => view,
            Err(error) => {
                self.table().remove(session);
                tracing::error!(%error, session, path, "recording a stream view failed");
                return;
            }
        };
        let ended = {
            let mut table = self.table();
            match table.remove(session) {
                Some(Slot::Ended(at)) => Some(at),
                _ => {
                    table.insert(session.to_owned(), Slot::Open(view));
                    None
                }
            }
        };
        if let Some(at) = ended {
            end(access, view, at).await;
        }
    }

    /// Ends the views of the sessions `events` reports ended, until the WebRTC layer
    /// closes the queue (at its shutdown).
    pub async fn run(self, access: Access, mut events: mpsc::Receiver<SessionEvent>) {
        while let Some(event) = events.recv().await {
            let SessionEvent::Ended {
                id,
                ended_at,
                reason,
                path,
                ..
            } = event
            else {
                continue;
            };
            let at = unix_ms(ended_at);
            let open = {
                let mut table = self.table();
                match table.remove(id.as_str()) {
                    Some(Slot::Open(view)) => Some(view),
                    _ => {
                        table.insert(id.as_str().to_owned(), Slot::Ended(at));
                        None
                    }
                }
            };
            if let Some(view) = open {
                tracing::debug!(session = %id.as_str(), %path, reason = reason.kind(), "stream view ended");
                end(&access, view, at).await;
            }
        }
    }
}

async fn end(access: &Access, view: i64, at: i64) {
    if let Err(error) = access.store().stream_view_ended(view, at).await {
        tracing::error!(%error, view, "recording the end of a stream view failed");
    }
}
