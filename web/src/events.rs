//! `GET /api/v1/events`: the command module's domain events as server-sent events.
//!
//! Every event is one timeline entry (incident opened, state changed, regraded, figures
//! changed, task dispatched or moved, report linked or recorded, camera or snapshot
//! attached, note added …): `id:` is the entry's id, `event:` its kind, `data:` the entry
//! as JSON. Entry ids increase in commit order across all incidents, so a client that
//! reconnects with `Last-Event-ID` (browsers do it by themselves), or asks `?after=<id>`,
//! first receives every entry it missed, from the database, then the live ones — nothing
//! is lost and nothing repeats. `?incident_id=` keeps one incident's events. A comment line
//! every [`KEEP_ALIVE`] keeps proxies from closing an idle stream.
//!
//! Live entries come from one [`EventFeed`] per server: a task that reads the timeline
//! after the last id it saw every [`POLL_INTERVAL`] and broadcasts what it finds. Reading
//! the shared database (not this process's writes) is what makes events from every node
//! reach every client when several nodes share PostgreSQL. A client too slow for the
//! broadcast buffer falls back to reading the database from its last id, so it loses
//! nothing either.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use tokio::sync::broadcast;
use watchpost_command::domain::IncidentId;
use watchpost_command::incidents::{IncidentStore, TimelineEntry, TimelineKind};

use crate::auth::Caller;

use crate::error::ErrorBody;
use crate::{ApiError, AppState};

/// How often the feed reads new timeline entries.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// Interval of the keep-alive comments.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Entries read from the database at a time.
const PAGE: u32 = 500;
/// Live entries buffered per client before it falls back to the database.
const BUFFER: usize = 1024;

/// The live timeline of this server; see the [module documentation](self). Cheap to clone;
/// the polling task ends when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct EventFeed {
    tx: broadcast::Sender<Arc<TimelineEntry>>,
    _task: Arc<AbortOnDrop>,
}

#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl EventFeed {
    /// Starts reading `store`'s timeline from its current end.
    pub async fn start(store: IncidentStore) -> Result<EventFeed, ApiError> {
        let (tx, _) = broadcast::channel(BUFFER);
        let mut last = latest_id(&store).await?;
        let sender = tx.clone();
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(POLL_INTERVAL);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                loop {
                    match store.feed(Some(last), PAGE).await {
                        Ok(entries) => {
                            let full = entries.len() == PAGE as usize;
                            for entry in entries {
                                last = entry.id;
                                // No subscriber is not an error.
                                let _ = sender.send(Arc::new(entry));
                            }
                            if !full {
                                break;
                            }
                        }
                        Err(error) => {
                            tracing::warn!(%error, "event feed: reading the timeline failed");
                            break;
                        }
                    }
                }
            }
        });
        Ok(EventFeed {
            tx,
            _task: Arc::new(AbortOnDrop(task)),
        })
    }
}

/// The id of the newest timeline entry (0 when there is none).
async fn latest_id(store: &IncidentStore) -> Result<i64, ApiError> {
    Ok(store.latest_entry_id().await?)
}

/// Where the stream starts and what it carries.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventsQuery {
    /// Replay entries after this id (instead of `Last-Event-ID`).
    #[serde(default)]
    after: Option<i64>,
    /// Only this incident's entries.
    #[serde(default)]
    incident_id: Option<IncidentId>,
}

/// Where a client's stream is.
enum Phase {
    /// Reading missed entries from the database.
    Replay,
    /// Receiving live entries.
    Live,
}

struct Client {
    store: IncidentStore,
    rx: broadcast::Receiver<Arc<TimelineEntry>>,
    /// The last entry id sent (or skipped by the filter).
    last: i64,
    incident: Option<IncidentId>,
    phase: Phase,
    pending: std::collections::VecDeque<Arc<TimelineEntry>>,
    /// Who listens: entries of incidents outside its jurisdiction are skipped.
    caller: Caller,
    /// Whether the caller sees each incident met so far (refreshed when an incident
    /// moves or changes enterprise).
    sees: std::collections::HashMap<IncidentId, bool>,
}

fn to_event(entry: &TimelineEntry) -> Event {
    let kind = serde_json::to_value(entry.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "timeline".to_owned());
    Event::default()
        .id(entry.id.to_string())
        .event(kind)
        .json_data(entry)
        .unwrap_or_else(|_| Event::default().comment("unserializable entry"))
}

impl Client {
    /// Whether the caller may see `entry` (its incident's place is in its jurisdiction).
    /// An incident that cannot be read is not shown.
    async fn sees(&mut self, entry: &TimelineEntry) -> bool {
        if self
            .caller
            .jurisdiction()
            .is_ok_and(|j| *j == watchpost_command::access::Jurisdiction::City)
        {
            return true;
        }
        let moved = matches!(
            entry.kind,
            TimelineKind::LocationChanged | TimelineKind::EnterpriseChanged
        );
        if !moved && let Some(known) = self.sees.get(&entry.incident_id) {
            return *known;
        }
        let visible = match self.store.get(&entry.incident_id).await {
            Ok(incident) => self
                .caller
                .sees(&crate::incidents::incident_scope(&incident.value).scope()),
            Err(error) => {
                tracing::warn!(%error, "event stream: reading an incident failed");
                false
            }
        };
        self.sees.insert(entry.incident_id.clone(), visible);
        visible
    }

    /// The next entry to send, waiting for one if need be; `None` ends the stream.
    async fn next(&mut self) -> Option<Arc<TimelineEntry>> {
        loop {
            if let Some(entry) = self.pending.pop_front() {
                if entry.id <= self.last {
                    continue;
                }
                self.last = entry.id;
                if self
                    .incident
                    .as_ref()
                    .is_some_and(|id| *id != entry.incident_id)
                {
                    continue;
                }
                if !self.sees(&entry).await {
                    continue;
                }
                return Some(entry);
            }
            match self.phase {
                Phase::Replay => match self.store.feed(Some(self.last), PAGE).await {
                    Ok(entries) if entries.is_empty() => self.phase = Phase::Live,
                    Ok(entries) => self.pending.extend(entries.into_iter().map(Arc::new)),
                    Err(error) => {
                        tracing::warn!(%error, "event stream: reading the timeline failed");
                        return None;
                    }
                },
                Phase::Live => match self.rx.recv().await {
                    Ok(entry) => self.pending.push_back(entry),
                    // Too slow for the buffer: catch up from the database.
                    Err(broadcast::error::RecvError::Lagged(_)) => self.phase = Phase::Replay,
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    }
}

/// The domain events as server-sent events: `id:` the timeline entry's id, `event:` its
/// kind, `data:` the entry as JSON. `Last-Event-ID` (or `?after=`) replays what was missed.
#[utoipa::path(get, path = "/events", operation_id = "events", tag = "incidents",
    params(EventsQuery,
        ("last-event-id" = Option<i64>, Header, description = "The last entry id received; replay starts after it")),
    responses(
        (status = 200, description = "An endless `text/event-stream`; each event's data is a timeline entry",
            content_type = "text/event-stream", body = TimelineEntry),
        (status = 400, description = "Last-Event-ID is not an entry id", body = ErrorBody),
    ))]
pub(crate) async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let (Some(store), Some(feed)) = (state.incidents.clone(), state.events.clone()) else {
        return Err(ApiError::Unavailable(
            "the incident store is not open".into(),
        ));
    };
    let last_event_id = match headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|t| t.trim().parse::<i64>().ok())
                .ok_or_else(|| ApiError::BadRequest("Last-Event-ID is not an entry id".into()))?,
        ),
        None => None,
    };
    // Subscribe before reading the database, so nothing falls between the two.
    let rx = feed.tx.subscribe();
    let (last, phase) = match query.after.or(last_event_id) {
        Some(after) => (after, Phase::Replay),
        None => (latest_id(&store).await?, Phase::Live),
    };
    let client = Client {
        store,
        rx,
        last,
        incident: query.incident_id,
        phase,
        pending: Default::default(),
        caller,
        sees: Default::default(),
    };
    let stream = stream::unfold(client, |mut client| async move {
        let entry = client.next().await?;
        Some((Ok(to_event(&entry)), client))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
