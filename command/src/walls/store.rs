//! [`WallStore`]: walls, monitors, scenes, tours and the wall event log in the command
//! database (see the module documentation for the tables and the locking).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::model::{
    Monitor, MonitorId, Scene, SceneId, SceneInput, Tour, TourId, TourInput, TourScene,
    ValidMonitor, ValidScene, ValidTour, Wall, WallId, WallInput, WallScope, check_actor,
};
use super::state::{MonitorCommand, MonitorState, Refs, apply};
use super::{Entity, FieldError, UnixMs, WallError};
use crate::access::Jurisdiction;
use crate::storage::sql::{
    Conditions, RecordReader, RowRead, Tx, check_limit, fetch_all, fetch_optional, placeholders,
};
use crate::storage::{Arg, EmbeddedMigration};
use crate::{Database, bind_args};

/// The wall tables' migrations: (version, description, SQL), in version order. The files
/// live in `command/migrations/` (`<version>_<description>.sql`, versions `YYYYMMDD04NN`
/// for this module); a unit test checks that this list and its files agree. Never edit an
/// applied migration: sqlx stores its checksum and refuses to start when it changes.
pub(crate) const MIGRATIONS: &[EmbeddedMigration] = &[
    (
        202611300401,
        "walls",
        include_str!("../../migrations/202611300401_walls.sql"),
    ),
    (
        202611300402,
        "wall kiosk epochs",
        include_str!("../../migrations/202611300402_wall_kiosk_epochs.sql"),
    ),
];

/// Page size of the event feed when the caller has no preference.
pub const DEFAULT_FEED_LIMIT: u32 = 100;
/// Largest page of the event feed.
pub const MAX_FEED_LIMIT: u32 = 1000;

const SELECT_WALL: &str = "SELECT id, name, district, street, enterprise_id, created_at, \
     updated_at, revision FROM wall_walls";
const SELECT_SCENE: &str = "SELECT id, name, district, street, enterprise_id, layout, tiles, \
     created_at, updated_at, revision FROM wall_scenes";
const SELECT_TOUR: &str = "SELECT id, name, district, street, enterprise_id, looping, \
     created_at, updated_at, revision FROM wall_tours";
const SELECT_STEP: &str = "SELECT tour_id, seq, scene_id, dwell_ms FROM wall_tour_steps";
const SELECT_EVENT: &str = "SELECT id, CAST(id AS TEXT) AS label, wall_id, monitor_id, at, \
     actor, kind, revision, command, state FROM wall_events";

/// The monitor columns, each prefixed with `p` (a table alias and `.`, or nothing).
fn select_monitor(p: &str) -> String {
    format!(
        "SELECT {p}wall_id, {p}id, {p}wall_id || '/' || {p}id AS label, {p}name, {p}seq, \
         {p}state, {p}revision, {p}updated_at, {p}updated_by FROM wall_monitors"
    )
}

/// What a [`WallEvent`] records: the command that changed the monitor (same names as
/// [`MonitorCommand`]), or the monitor added to or removed from its wall. Serialized in
/// snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WallEventKind {
    /// `show_camera`.
    ShowCamera,
    /// `clear_tile`.
    ClearTile,
    /// `set_layout`.
    SetLayout,
    /// `show_grid`.
    ShowGrid,
    /// `apply_scene`.
    ApplyScene,
    /// `show_incident`.
    ShowIncident,
    /// `restore`.
    Restore,
    /// `start_tour`.
    StartTour,
    /// `advance_tour`.
    AdvanceTour,
    /// `stop_tour`.
    StopTour,
    /// The monitor was added to its wall (created with it, or by an update).
    MonitorAdded,
    /// The monitor was removed (by a wall update or the wall's deletion).
    MonitorRemoved,
}

impl WallEventKind {
    /// Every kind, in declaration order.
    pub const ALL: [WallEventKind; 12] = [
        WallEventKind::ShowCamera,
        WallEventKind::ClearTile,
        WallEventKind::SetLayout,
        WallEventKind::ShowGrid,
        WallEventKind::ApplyScene,
        WallEventKind::ShowIncident,
        WallEventKind::Restore,
        WallEventKind::StartTour,
        WallEventKind::AdvanceTour,
        WallEventKind::StopTour,
        WallEventKind::MonitorAdded,
        WallEventKind::MonitorRemoved,
    ];

    /// The snake_case name, as stored and serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            WallEventKind::ShowCamera => "show_camera",
            WallEventKind::ClearTile => "clear_tile",
            WallEventKind::SetLayout => "set_layout",
            WallEventKind::ShowGrid => "show_grid",
            WallEventKind::ApplyScene => "apply_scene",
            WallEventKind::ShowIncident => "show_incident",
            WallEventKind::Restore => "restore",
            WallEventKind::StartTour => "start_tour",
            WallEventKind::AdvanceTour => "advance_tour",
            WallEventKind::StopTour => "stop_tour",
            WallEventKind::MonitorAdded => "monitor_added",
            WallEventKind::MonitorRemoved => "monitor_removed",
        }
    }

    /// The kind recording `command`.
    pub fn of(command: &MonitorCommand) -> WallEventKind {
        match command {
            MonitorCommand::ShowCamera { .. } => WallEventKind::ShowCamera,
            MonitorCommand::ClearTile { .. } => WallEventKind::ClearTile,
            MonitorCommand::SetLayout { .. } => WallEventKind::SetLayout,
            MonitorCommand::ShowGrid { .. } => WallEventKind::ShowGrid,
            MonitorCommand::ApplyScene { .. } => WallEventKind::ApplyScene,
            MonitorCommand::ShowIncident { .. } => WallEventKind::ShowIncident,
            MonitorCommand::Restore => WallEventKind::Restore,
            MonitorCommand::StartTour { .. } => WallEventKind::StartTour,
            MonitorCommand::AdvanceTour { .. } => WallEventKind::AdvanceTour,
            MonitorCommand::StopTour => WallEventKind::StopTour,
        }
    }

    fn parse(text: &str) -> Result<WallEventKind, String> {
        WallEventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
            .ok_or_else(|| format!("unknown wall event kind {text:?}"))
    }
}

impl fmt::Display for WallEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One change of one monitor, as monitor pages follow them. Events are only ever
/// appended: no function changes or removes one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WallEvent {
    /// Position in the wall event log: unique, increasing in commit order across all
    /// walls (a reader that saw event `n` finds every later one after `n`).
    pub id: i64,
    /// The wall.
    pub wall_id: WallId,
    /// The monitor.
    pub monitor_id: MonitorId,
    /// When the change took effect, Unix ms.
    pub at: UnixMs,
    /// Who made it (the operator's name, or the tour driver's).
    pub actor: String,
    /// What it records.
    pub kind: WallEventKind,
    /// The monitor's revision after the change (its last one when removed).
    pub revision: i64,
    /// The command, for command kinds.
    pub command: Option<MonitorCommand>,
    /// The monitor's whole state after the change (what to show); `None` when removed.
    pub state: Option<MonitorState>,
}

/// An event before it has an id.
struct NewEvent<'a> {
    wall_id: &'a WallId,
    monitor_id: &'a MonitorId,
    at: UnixMs,
    actor: &'a str,
    kind: WallEventKind,
    revision: i64,
    command: Option<&'a MonitorCommand>,
    state: Option<&'a MonitorState>,
}

/// The video wall store: walls and their monitors, scenes, tours and the wall event log,
/// over the command [`Database`]. Cheap to clone (a pool handle); `Debug` shows the
/// redacted URL.
///
/// Every write is one transaction that checks, writes and appends its events, and
/// commits — or writes nothing. A write that returned `Ok` is committed durably.
#[derive(Clone)]
pub struct WallStore {
    db: Database,
}

impl fmt::Debug for WallStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WallStore")
            .field("database", &self.db.redacted_url())
            .finish()
    }
}

impl WallStore {
    /// Opens the store on `db`, creating or upgrading its tables (embedded migrations
    /// `2026113004NN`, sharing `_sqlx_migrations` with the other modules).
    pub async fn open(db: Database) -> Result<WallStore, WallError> {
        crate::storage::migrate(&db, MIGRATIONS)
            .await
            .map_err(|source| WallError::Migrate {
                url: db.redacted_url().to_owned(),
                source,
            })?;
        Ok(WallStore { db })
    }

    /// The database handle.
    pub fn database(&self) -> &Database {
        &self.db
    }

    // ----- walls -----------------------------------------------------------------------

    /// Creates a wall and its monitors at `now` (Unix ms) for `actor` (who is recorded):
    /// the wall at revision 1, each monitor at revision 1 with the initial state
    /// ([`MonitorState::initial`]) and a `monitor_added` event.
    ///
    /// Errors: [`WallError::Invalid`] (every field problem, and `actor`);
    /// [`WallError::Conflict`] when the id exists; [`WallError::Database`].
    pub async fn create_wall(
        &self,
        input: WallInput,
        actor: &str,
        now: UnixMs,
    ) -> Result<Wall, WallError> {
        let valid = input
            .validate(None)
            .map_err(|errors| WallError::invalid(Entity::Wall, input.id.as_deref(), errors))?;
        let id = valid.id.clone();
        check_actor(actor)
            .map_err(|errors| WallError::invalid(Entity::Wall, Some(id.as_str()), errors))?;
        let action = format!("creating wall {id}");
        let mut tx = self.begin(&action).await?;
        let result = async {
            let inserted = tx
                .execute(
                    "INSERT INTO wall_walls (id, name, district, street, enterprise_id, \
                     created_at, updated_at, revision) VALUES ($1, $2, $3, $4, $5, $6, $6, 1) \
                     ON CONFLICT (id) DO NOTHING",
                    [
                        vec![text(id.as_str()), text(&valid.name)],
                        scope_args(&valid.scope),
                        vec![Arg::Int(now)],
                    ]
                    .concat(),
                )
                .await
                .map_err(self.db_err(&action))?;
            if inserted == 0 {
                return Err(WallError::Conflict {
                    what: Entity::Wall,
                    id: id.to_string(),
                    reason: "already exists".to_owned(),
                });
            }
            for (position, monitor) in valid.monitors.iter().enumerate() {
                self.add_monitor(&mut tx, &id, monitor, position, actor, now, &action)
                    .await?;
            }
            self.load_wall(&mut tx, &id, "", &action).await
        }
        .await;
        let wall = self.finish(tx, result, &action).await?;
        tracing::info!(wall = %wall.id, monitors = wall.monitors.len(), actor, "wall created");
        Ok(wall)
    }

    /// Replaces wall `id`'s name, scope and monitor list at `now` for `actor`, when its
    /// revision is `expected_revision` (if given); the wall's revision grows by one.
    /// Monitors kept (same id) keep their state and revision, and take their new name and
    /// position; new ones start with the initial state (`monitor_added`); the others are
    /// removed (`monitor_removed`).
    ///
    /// Errors: [`WallError::Invalid`]; [`WallError::NotFound`];
    /// [`WallError::PreconditionFailed`]; [`WallError::Database`].
    pub async fn update_wall(
        &self,
        id: &WallId,
        input: WallInput,
        actor: &str,
        now: UnixMs,
        expected_revision: Option<i64>,
    ) -> Result<Wall, WallError> {
        let valid = input
            .validate(Some(id.as_str()))
            .map_err(|errors| WallError::invalid(Entity::Wall, Some(id.as_str()), errors))?;
        check_actor(actor)
            .map_err(|errors| WallError::invalid(Entity::Wall, Some(id.as_str()), errors))?;
        let action = format!("updating wall {id}");
        let mut tx = self.begin(&action).await?;
        let result = async {
            let wall = self.lock_wall(&mut tx, id, &action).await?;
            check_revision(Entity::Wall, id.as_str(), expected_revision, wall.revision)?;
            let existing = self.lock_monitors(&mut tx, id, &action).await?;
            for monitor in &existing {
                if !valid.monitors.iter().any(|m| m.id == monitor.id) {
                    self.remove_monitor(&mut tx, monitor, actor, now, &action)
                        .await?;
                }
            }
            for (position, monitor) in valid.monitors.iter().enumerate() {
                match existing.iter().find(|m| m.id == monitor.id) {
                    Some(old) => {
                        if old.name != monitor.name || old.position as usize != position {
                            tx.execute(
                                "UPDATE wall_monitors SET name = $3, seq = $4 \
                                 WHERE wall_id = $1 AND id = $2",
                                vec![
                                    text(id.as_str()),
                                    text(monitor.id.as_str()),
                                    text(&monitor.name),
                                    Arg::Int(position as i64),
                                ],
                            )
                            .await
                            .map_err(self.db_err(&action))?;
                        }
                    }
                    None => {
                        self.add_monitor(&mut tx, id, monitor, position, actor, now, &action)
                            .await?;
                    }
                }
            }
            tx.execute(
                "UPDATE wall_walls SET name = $2, district = $3, street = $4, \
                 enterprise_id = $5, updated_at = $6, revision = $7 WHERE id = $1",
                [
                    vec![text(id.as_str()), text(&valid.name)],
                    scope_args(&valid.scope),
                    vec![Arg::Int(now), Arg::Int(wall.revision + 1)],
                ]
                .concat(),
            )
            .await
            .map_err(self.db_err(&action))?;
            self.load_wall(&mut tx, id, "", &action).await
        }
        .await;
        let wall = self.finish(tx, result, &action).await?;
        tracing::info!(wall = %wall.id, revision = wall.revision, actor, "wall updated");
        Ok(wall)
    }

    /// Deletes wall `id` and its monitors (each with a `monitor_removed` event, so open
    /// monitor pages learn of it) at `now` for `actor`, when its revision is
    /// `expected_revision` (if given). The events stay.
    ///
    /// Errors: [`WallError::NotFound`]; [`WallError::PreconditionFailed`];
    /// [`WallError::Invalid`] for `actor`; [`WallError::Database`].
    pub async fn delete_wall(
        &self,
        id: &WallId,
        actor: &str,
        now: UnixMs,
        expected_revision: Option<i64>,
    ) -> Result<(), WallError> {
        check_actor(actor)
            .map_err(|errors| WallError::invalid(Entity::Wall, Some(id.as_str()), errors))?;
        let action = format!("deleting wall {id}");
        let mut tx = self.begin(&action).await?;
        let result = async {
            let wall = self.lock_wall(&mut tx, id, &action).await?;
            check_revision(Entity::Wall, id.as_str(), expected_revision, wall.revision)?;
            for monitor in self.lock_monitors(&mut tx, id, &action).await? {
                self.remove_monitor(&mut tx, &monitor, actor, now, &action)
                    .await?;
            }
            tx.execute(
                "DELETE FROM wall_walls WHERE id = $1",
                vec![text(id.as_str())],
            )
            .await
            .map_err(self.db_err(&action))?;
            Ok(())
        }
        .await;
        self.finish(tx, result, &action).await?;
        tracing::info!(wall = %id, actor, "wall deleted");
        Ok(())
    }

    /// Wall `id` with its monitors, or [`WallError::NotFound`].
    pub async fn wall(&self, id: &WallId) -> Result<Wall, WallError> {
        let action = format!("reading wall {id}");
        let mut tx = self.begin_read(&action).await?;
        let result = self.load_wall(&mut tx, id, "", &action).await;
        self.finish(tx, result, &action).await
    }

    /// The walls `jurisdiction` covers ([`WallScope::covered_by`]), by id, with their
    /// monitors.
    ///
    /// Errors: [`WallError::Database`]; [`WallError::Corrupt`].
    pub async fn walls(&self, jurisdiction: &Jurisdiction) -> Result<Vec<Wall>, WallError> {
        let action = "listing walls";
        let (where_w, args) = scope_conditions(jurisdiction, "w.").build();
        let walls_sql = format!(
            "SELECT w.id, w.name, w.district, w.street, w.enterprise_id, w.created_at, \
             w.updated_at, w.revision FROM wall_walls w{where_w} ORDER BY w.id"
        );
        let monitors_sql = format!(
            "{} m JOIN wall_walls w ON w.id = m.wall_id{where_w} ORDER BY m.wall_id, m.seq",
            select_monitor("m.")
        );
        let mut tx = self.begin_read(action).await?;
        let result = async {
            let mut walls = tx_fetch_all(
                &mut tx,
                &walls_sql,
                args.clone(),
                wall_from_row,
                self.db_err(action),
            )
            .await?;
            let monitors = tx_fetch_all(
                &mut tx,
                &monitors_sql,
                args,
                monitor_from_row,
                self.db_err(action),
            )
            .await?;
            let index: BTreeMap<WallId, usize> = walls
                .iter()
                .enumerate()
                .map(|(i, w)| (w.id.clone(), i))
                .collect();
            for monitor in monitors {
                if let Some(&i) = index.get(&monitor.wall_id) {
                    walls[i].monitors.push(monitor);
                }
            }
            Ok(walls)
        }
        .await;
        self.finish(tx, result, action).await
    }

    /// Monitor `monitor` of wall `wall`, or [`WallError::NotFound`].
    pub async fn monitor(&self, wall: &WallId, monitor: &MonitorId) -> Result<Monitor, WallError> {
        let label = format!("{wall}/{monitor}");
        let sql = format!("{} WHERE wall_id = $1 AND id = $2", select_monitor(""));
        fetch_optional(
            &self.db,
            &sql,
            vec![text(wall.as_str()), text(monitor.as_str())],
            monitor_from_row,
            self.db_err(&format!("reading monitor {label}")),
        )
        .await?
        .ok_or_else(|| WallError::not_found(Entity::Monitor, &label))
    }

    /// The kiosk epoch of monitor `wall/monitor`: the one its kiosk tokens must carry to be
    /// honoured. 0 until its links are first revoked; the monitor need not exist (a
    /// removed monitor's epoch is kept for when it is added again).
    ///
    /// Errors: [`WallError::Database`].
    pub async fn kiosk_epoch(&self, wall: &WallId, monitor: &MonitorId) -> Result<i64, WallError> {
        let sql = "SELECT wall_id || '/' || monitor_id AS label, epoch FROM wall_kiosk_epochs \
             WHERE wall_id = $1 AND monitor_id = $2";
        let epoch = fetch_optional(
            &self.db,
            sql,
            vec![text(wall.as_str()), text(monitor.as_str())],
            epoch_from_row,
            self.db_err(&format!("reading the kiosk epoch of {wall}/{monitor}")),
        )
        .await?;
        Ok(epoch.unwrap_or(0))
    }

    /// Revokes every kiosk token of monitor `wall/monitor` issued so far: raises its kiosk
    /// epoch by one at `now` (Unix ms) for `actor`, atomically (two revocations at once
    /// give two epochs), and returns the new epoch.
    ///
    /// Errors: [`WallError::Database`].
    pub async fn revoke_kiosk_tokens(
        &self,
        wall: &WallId,
        monitor: &MonitorId,
        now: UnixMs,
        actor: &str,
    ) -> Result<i64, WallError> {
        let sql = "INSERT INTO wall_kiosk_epochs (wall_id, monitor_id, epoch, changed_at, changed_by) \
             VALUES ($1, $2, 1, $3, $4) ON CONFLICT (wall_id, monitor_id) DO UPDATE SET \
             epoch = wall_kiosk_epochs.epoch + 1, changed_at = excluded.changed_at, \
             changed_by = excluded.changed_by RETURNING wall_id || '/' || monitor_id AS label, epoch";
        let args = vec![
            text(wall.as_str()),
            text(monitor.as_str()),
            Arg::Int(now),
            text(actor),
        ];
        let epoch = fetch_optional(
            &self.db,
            sql,
            args,
            epoch_from_row,
            self.db_err(&format!("revoking the kiosk tokens of {wall}/{monitor}")),
        )
        .await?;
        epoch.ok_or_else(|| WallError::Database {
            action: format!("revoking the kiosk tokens of {wall}/{monitor}"),
            url: self.db.redacted_url().to_owned(),
            source: sqlx::Error::RowNotFound,
        })
    }

    /// Every monitor running a tour, by wall and position: what a tour driver polls
    /// (with [`TourClock`](super::TourClock) on each monitor's tour and start time).
    ///
    /// Errors: [`WallError::Database`]; [`WallError::Corrupt`].
    pub async fn touring_monitors(&self) -> Result<Vec<Monitor>, WallError> {
        let sql = format!(
            "{} WHERE tour_id IS NOT NULL ORDER BY wall_id, seq",
            select_monitor("")
        );
        fetch_all(
            &self.db,
            &sql,
            Vec::new(),
            monitor_from_row,
            self.db_err("listing touring monitors"),
        )
        .await
    }

    /// Applies `command` to monitor `monitor` of wall `wall` at `now` (Unix ms) for
    /// `actor`, in one transaction: locks the monitor, checks `expected_revision` (when
    /// given), loads the scene or tour the command names (locking the tour), lets
    /// [`apply`] decide, writes the new state with the revision + 1 and appends a
    /// [`WallEvent`] carrying it. Returns the monitor and that event.
    ///
    /// A command that changes nothing (the same camera again, `stop_tour` with no tour,
    /// `advance_tour` to the step shown) writes nothing and returns the monitor at its
    /// current revision with no event. Concurrent applies to one monitor run one after
    /// the other; none is lost.
    ///
    /// Errors (nothing written): [`WallError::NotFound`] (the monitor, or the scene or
    /// tour named); [`WallError::PreconditionFailed`]; [`WallError::Invalid`] (the
    /// command's fields, `actor`); [`WallError::NothingToRestore`];
    /// [`WallError::TourNotRunning`]; [`WallError::Database`].
    pub async fn apply(
        &self,
        wall: &WallId,
        monitor: &MonitorId,
        command: MonitorCommand,
        actor: &str,
        now: UnixMs,
        expected_revision: Option<i64>,
    ) -> Result<(Monitor, Option<WallEvent>), WallError> {
        let label = format!("{wall}/{monitor}");
        check_actor(actor)
            .map_err(|errors| WallError::invalid(Entity::Monitor, Some(&label), errors))?;
        let action = format!("applying {} to monitor {label}", command.name());
        let mut tx = self.begin(&action).await?;
        let result = async {
            let current = self.lock_monitor(&mut tx, wall, monitor, &action).await?;
            check_revision(Entity::Monitor, &label, expected_revision, current.revision)?;
            let refs = self.refs_for(&mut tx, &command, &action).await?;
            let state =
                apply(&current.state, &command, &refs, now).map_err(|e| e.for_monitor(&label))?;
            if state == current.state {
                return Ok((current, None));
            }
            let revision = current.revision + 1;
            let encoded = encode(&state, Entity::Monitor, &label, "state")?;
            tx.execute(
                "UPDATE wall_monitors SET state = $3, tour_id = $4, revision = $5, \
                 updated_at = $6, updated_by = $7 WHERE wall_id = $1 AND id = $2",
                vec![
                    text(wall.as_str()),
                    text(monitor.as_str()),
                    Arg::Text(Some(encoded)),
                    Arg::Text(state.tour().map(|(tour, _, _)| tour.to_string())),
                    Arg::Int(revision),
                    Arg::Int(now),
                    text(actor),
                ],
            )
            .await
            .map_err(self.db_err(&action))?;
            let event = self
                .append(
                    &mut tx,
                    NewEvent {
                        wall_id: wall,
                        monitor_id: monitor,
                        at: now,
                        actor,
                        kind: WallEventKind::of(&command),
                        revision,
                        command: Some(&command),
                        state: Some(&state),
                    },
                    &action,
                )
                .await?;
            Ok((
                Monitor {
                    state,
                    revision,
                    updated_at: now,
                    updated_by: actor.to_owned(),
                    ..current
                },
                Some(event),
            ))
        }
        .await;
        let (monitor, event) = self.finish(tx, result, &action).await?;
        if let Some(event) = &event {
            tracing::info!(
                monitor = %monitor.label(),
                command = %event.kind,
                revision = monitor.revision,
                actor,
                "wall monitor changed"
            );
        }
        Ok((monitor, event))
    }

    // ----- scenes ----------------------------------------------------------------------

    /// Creates a scene (id `scene-N`, revision 1) at `now` (Unix ms).
    ///
    /// Errors: [`WallError::Invalid`] (every field problem); [`WallError::Database`].
    pub async fn create_scene(&self, input: SceneInput, now: UnixMs) -> Result<Scene, WallError> {
        let valid = input
            .validate()
            .map_err(|errors| WallError::invalid(Entity::Scene, None, errors))?;
        let action = "creating a scene";
        let mut tx = self.begin(action).await?;
        let result = async {
            let n = self.advance(&mut tx, "scene", action).await?;
            let id = generated(SceneId::parse(&format!("scene-{n}")))?;
            let mut args = vec![text(id.as_str())];
            args.extend(scene_args(&valid, id.as_str())?);
            args.push(Arg::Int(now));
            tx.execute(
                "INSERT INTO wall_scenes (id, name, district, street, enterprise_id, layout, \
                 tiles, created_at, updated_at, revision) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 1)",
                args,
            )
            .await
            .map_err(self.db_err(action))?;
            Ok(scene_of(id, valid, now, now, 1))
        }
        .await;
        let scene = self.finish(tx, result, action).await?;
        tracing::info!(scene = %scene.id, "scene created");
        Ok(scene)
    }

    /// Replaces scene `id` at `now`, when its revision is `expected_revision` (if
    /// given). Monitors showing it keep the copy they showed until it is applied again.
    ///
    /// Errors: [`WallError::Invalid`]; [`WallError::NotFound`];
    /// [`WallError::PreconditionFailed`]; [`WallError::Database`].
    pub async fn update_scene(
        &self,
        id: &SceneId,
        input: SceneInput,
        now: UnixMs,
        expected_revision: Option<i64>,
    ) -> Result<Scene, WallError> {
        let valid = input
            .validate()
            .map_err(|errors| WallError::invalid(Entity::Scene, Some(id.as_str()), errors))?;
        let action = format!("updating scene {id}");
        let mut tx = self.begin(&action).await?;
        let result = async {
            let old = self.lock_scene(&mut tx, id, &action).await?;
            check_revision(Entity::Scene, id.as_str(), expected_revision, old.revision)?;
            let mut args = vec![text(id.as_str())];
            args.extend(scene_args(&valid, id.as_str())?);
            args.extend([Arg::Int(now), Arg::Int(old.revision + 1)]);
            tx.execute(
                "UPDATE wall_scenes SET name = $2, district = $3, street = $4, \
                 enterprise_id = $5, layout = $6, tiles = $7, updated_at = $8, revision = $9 \
                 WHERE id = $1",
                args,
            )
            .await
            .map_err(self.db_err(&action))?;
            Ok(scene_of(
                id.clone(),
                valid,
                old.created_at,
                now,
                old.revision + 1,
            ))
        }
        .await;
        self.finish(tx, result, &action).await
    }

    /// Deletes scene `id`, when its revision is `expected_revision` (if given) and no
    /// tour shows it. Monitors showing it keep their copy.
    ///
    /// Errors: [`WallError::NotFound`]; [`WallError::PreconditionFailed`];
    /// [`WallError::InUse`] naming the tours; [`WallError::Database`].
    pub async fn delete_scene(
        &self,
        id: &SceneId,
        expected_revision: Option<i64>,
    ) -> Result<(), WallError> {
        let action = format!("deleting scene {id}");
        let mut tx = self.begin(&action).await?;
        let result = async {
            let old = self.lock_scene(&mut tx, id, &action).await?;
            check_revision(Entity::Scene, id.as_str(), expected_revision, old.revision)?;
            let tours = tx_fetch_all(
                &mut tx,
                "SELECT DISTINCT tour_id FROM wall_tour_steps WHERE scene_id = $1 \
                 ORDER BY tour_id",
                vec![text(id.as_str())],
                |r| r.text("tour_id").map_err(self.db_err(&action)),
                self.db_err(&action),
            )
            .await?;
            if !tours.is_empty() {
                return Err(WallError::InUse {
                    what: Entity::Scene,
                    id: id.to_string(),
                    by: describe("tour", &tours),
                });
            }
            tx.execute(
                "DELETE FROM wall_scenes WHERE id = $1",
                vec![text(id.as_str())],
            )
            .await
            .map_err(self.db_err(&action))?;
            Ok(())
        }
        .await;
        self.finish(tx, result, &action).await
    }

    /// Scene `id`, or [`WallError::NotFound`].
    pub async fn scene(&self, id: &SceneId) -> Result<Scene, WallError> {
        let sql = format!("{SELECT_SCENE} WHERE id = $1");
        fetch_optional(
            &self.db,
            &sql,
            vec![text(id.as_str())],
            scene_from_row,
            self.db_err(&format!("reading scene {id}")),
        )
        .await?
        .ok_or_else(|| WallError::not_found(Entity::Scene, id.as_str()))
    }

    /// The scenes `jurisdiction` covers, by name (then id).
    ///
    /// Errors: [`WallError::Database`]; [`WallError::Corrupt`].
    pub async fn scenes(&self, jurisdiction: &Jurisdiction) -> Result<Vec<Scene>, WallError> {
        let (where_clause, args) = scope_conditions(jurisdiction, "").build();
        let sql = format!("{SELECT_SCENE}{where_clause} ORDER BY name, id");
        fetch_all(
            &self.db,
            &sql,
            args,
            scene_from_row,
            self.db_err("listing scenes"),
        )
        .await
    }

    // ----- tours -----------------------------------------------------------------------

    /// Creates a tour (id `tour-N`, revision 1) at `now` (Unix ms).
    ///
    /// Errors: [`WallError::Invalid`] (every field problem; a missing scene named as
    /// `steps[i].scene_id`); [`WallError::Database`].
    pub async fn create_tour(&self, input: TourInput, now: UnixMs) -> Result<Tour, WallError> {
        let valid = input
            .validate()
            .map_err(|errors| WallError::invalid(Entity::Tour, None, errors))?;
        let action = "creating a tour";
        let mut tx = self.begin(action).await?;
        let result = async {
            self.check_scenes(&mut tx, &valid, None, action).await?;
            let n = self.advance(&mut tx, "tour", action).await?;
            let id = generated(TourId::parse(&format!("tour-{n}")))?;
            tx.execute(
                "INSERT INTO wall_tours (id, name, district, street, enterprise_id, looping, \
                 created_at, updated_at, revision) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 1)",
                [
                    vec![text(id.as_str()), text(&valid.name)],
                    scope_args(&valid.scope),
                    vec![Arg::Bool(valid.looping), Arg::Int(now)],
                ]
                .concat(),
            )
            .await
            .map_err(self.db_err(action))?;
            self.write_steps(&mut tx, &id, &valid.steps, action).await?;
            Ok(tour_of(id, valid, now, now, 1))
        }
        .await;
        let tour = self.finish(tx, result, action).await?;
        tracing::info!(tour = %tour.id, steps = tour.steps.len(), "tour created");
        Ok(tour)
    }

    /// Replaces tour `id` at `now`, when its revision is `expected_revision` (if given).
    /// Monitors running it go on with the new steps (their clock keeps its start time).
    ///
    /// Errors: [`WallError::Invalid`]; [`WallError::NotFound`];
    /// [`WallError::PreconditionFailed`]; [`WallError::Database`].
    pub async fn update_tour(
        &self,
        id: &TourId,
        input: TourInput,
        now: UnixMs,
        expected_revision: Option<i64>,
    ) -> Result<Tour, WallError> {
        let valid = input
            .validate()
            .map_err(|errors| WallError::invalid(Entity::Tour, Some(id.as_str()), errors))?;
        let action = format!("updating tour {id}");
        let mut tx = self.begin(&action).await?;
        let result = async {
            let old = self.lock_tour(&mut tx, id, &action).await?;
            check_revision(Entity::Tour, id.as_str(), expected_revision, old.revision)?;
            self.check_scenes(&mut tx, &valid, Some(id), &action)
                .await?;
            tx.execute(
                "UPDATE wall_tours SET name = $2, district = $3, street = $4, \
                 enterprise_id = $5, looping = $6, updated_at = $7, revision = $8 WHERE id = $1",
                [
                    vec![text(id.as_str()), text(&valid.name)],
                    scope_args(&valid.scope),
                    vec![
                        Arg::Bool(valid.looping),
                        Arg::Int(now),
                        Arg::Int(old.revision + 1),
                    ],
                ]
                .concat(),
            )
            .await
            .map_err(self.db_err(&action))?;
            tx.execute(
                "DELETE FROM wall_tour_steps WHERE tour_id = $1",
                vec![text(id.as_str())],
            )
            .await
            .map_err(self.db_err(&action))?;
            self.write_steps(&mut tx, id, &valid.steps, &action).await?;
            Ok(tour_of(
                id.clone(),
                valid,
                old.created_at,
                now,
                old.revision + 1,
            ))
        }
        .await;
        self.finish(tx, result, &action).await
    }

    /// Deletes tour `id`, when its revision is `expected_revision` (if given) and no
    /// monitor runs it.
    ///
    /// Errors: [`WallError::NotFound`]; [`WallError::PreconditionFailed`];
    /// [`WallError::InUse`] naming the monitors; [`WallError::Database`].
    pub async fn delete_tour(
        &self,
        id: &TourId,
        expected_revision: Option<i64>,
    ) -> Result<(), WallError> {
        let action = format!("deleting tour {id}");
        let mut tx = self.begin(&action).await?;
        let result = async {
            let old = self.lock_tour(&mut tx, id, &action).await?;
            check_revision(Entity::Tour, id.as_str(), expected_revision, old.revision)?;
            let running = tx_fetch_all(
                &mut tx,
                "SELECT wall_id || '/' || id AS label FROM wall_monitors WHERE tour_id = $1 \
                 ORDER BY wall_id, id",
                vec![text(id.as_str())],
                |r| r.text("label").map_err(self.db_err(&action)),
                self.db_err(&action),
            )
            .await?;
            if !running.is_empty() {
                return Err(WallError::InUse {
                    what: Entity::Tour,
                    id: id.to_string(),
                    by: describe("monitor", &running),
                });
            }
            for sql in [
                "DELETE FROM wall_tour_steps WHERE tour_id = $1",
                "DELETE FROM wall_tours WHERE id = $1",
            ] {
                tx.execute(sql, vec![text(id.as_str())])
                    .await
                    .map_err(self.db_err(&action))?;
            }
            Ok(())
        }
        .await;
        self.finish(tx, result, &action).await
    }

    /// Tour `id` with its steps, or [`WallError::NotFound`].
    pub async fn tour(&self, id: &TourId) -> Result<Tour, WallError> {
        let action = format!("reading tour {id}");
        let mut tx = self.begin_read(&action).await?;
        let result = async {
            self.tour_in(&mut tx, id, false, &action)
                .await?
                .ok_or_else(|| WallError::not_found(Entity::Tour, id.as_str()))
        }
        .await;
        self.finish(tx, result, &action).await
    }

    /// The tours `jurisdiction` covers, by name (then id), with their steps.
    ///
    /// Errors: [`WallError::Database`]; [`WallError::Corrupt`].
    pub async fn tours(&self, jurisdiction: &Jurisdiction) -> Result<Vec<Tour>, WallError> {
        let action = "listing tours";
        let (where_t, args) = scope_conditions(jurisdiction, "t.").build();
        let tours_sql = format!(
            "SELECT t.id, t.name, t.district, t.street, t.enterprise_id, t.looping, \
             t.created_at, t.updated_at, t.revision FROM wall_tours t{where_t} \
             ORDER BY t.name, t.id"
        );
        let steps_sql = format!(
            "SELECT s.tour_id, s.seq, s.scene_id, s.dwell_ms FROM wall_tour_steps s \
             JOIN wall_tours t ON t.id = s.tour_id{where_t} ORDER BY s.tour_id, s.seq"
        );
        let mut tx = self.begin_read(action).await?;
        let result = async {
            let mut tours = tx_fetch_all(
                &mut tx,
                &tours_sql,
                args.clone(),
                tour_from_row,
                self.db_err(action),
            )
            .await?;
            let steps = tx_fetch_all(
                &mut tx,
                &steps_sql,
                args,
                step_from_row,
                self.db_err(action),
            )
            .await?;
            let index: BTreeMap<TourId, usize> = tours
                .iter()
                .enumerate()
                .map(|(i, t)| (t.id.clone(), i))
                .collect();
            for (tour_id, step) in steps {
                if let Some(&i) = index.get(&tour_id) {
                    tours[i].steps.push(step);
                }
            }
            Ok(tours)
        }
        .await;
        self.finish(tx, result, action).await
    }

    // ----- the event log ---------------------------------------------------------------

    /// Up to `limit` events with an id above `after` (all when `None`), oldest first:
    /// a reader that remembers the last id it saw resumes with `after` = that id and
    /// misses nothing (ids increase in commit order).
    ///
    /// Errors: [`WallError::Invalid`] naming `limit` above [`MAX_FEED_LIMIT`];
    /// [`WallError::Database`].
    pub async fn feed(&self, after: Option<i64>, limit: u32) -> Result<Vec<WallEvent>, WallError> {
        self.events(None, None, after, limit).await
    }

    /// [`WallStore::feed`] for one wall, or one monitor of it.
    ///
    /// Errors: as [`WallStore::feed`].
    pub async fn wall_feed(
        &self,
        wall: &WallId,
        monitor: Option<&MonitorId>,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<WallEvent>, WallError> {
        self.events(Some(wall), monitor, after, limit).await
    }

    /// The id of the newest event, 0 when there is none: where a live reader that wants
    /// only what comes next starts ([`WallStore::feed`] after it).
    ///
    /// Errors: [`WallError::Database`].
    pub async fn latest_event_id(&self) -> Result<i64, WallError> {
        let sql = "SELECT COALESCE(MAX(id), 0) AS latest FROM wall_events";
        let latest: i64 = crate::on_db!(&self.db, pool => {
            sqlx::query_scalar(sql).fetch_one(pool).await
        })
        .map_err(self.db_err("reading the newest wall event"))?;
        Ok(latest)
    }

    async fn events(
        &self,
        wall: Option<&WallId>,
        monitor: Option<&MonitorId>,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<WallEvent>, WallError> {
        check_limit(limit, MAX_FEED_LIMIT).map_err(|reason| {
            WallError::invalid(Entity::Event, None, vec![FieldError::new("limit", reason)])
        })?;
        let mut c = Conditions::default();
        c.add("id > ?", Arg::Int(after.unwrap_or(0)));
        if let Some(wall) = wall {
            c.add("wall_id = ?", text(wall.as_str()));
        }
        if let Some(monitor) = monitor {
            c.add("monitor_id = ?", text(monitor.as_str()));
        }
        let (where_clause, mut args) = c.build();
        args.push(Arg::Int(i64::from(limit)));
        let sql = format!(
            "{SELECT_EVENT}{where_clause} ORDER BY id LIMIT ${}",
            args.len()
        );
        fetch_all(
            &self.db,
            &sql,
            args,
            event_from_row,
            self.db_err("reading the wall event feed"),
        )
        .await
    }

    // ----- plumbing --------------------------------------------------------------------

    fn db_err(&self, action: &str) -> impl FnOnce(sqlx::Error) -> WallError + use<> {
        let url = self.db.redacted_url().to_owned();
        let action = action.to_owned();
        move |source| WallError::Database {
            action,
            url,
            source,
        }
    }

    async fn begin(&self, action: &str) -> Result<Tx, WallError> {
        Tx::begin(&self.db).await.map_err(self.db_err(action))
    }

    /// A read transaction: one snapshot for every statement in it (SQLite's deferred
    /// transactions read one snapshot in WAL mode; PostgreSQL needs `REPEATABLE READ`).
    async fn begin_read(&self, action: &str) -> Result<Tx, WallError> {
        let tx = match &self.db {
            Database::Sqlite { pool, .. } => pool.begin_with("BEGIN").await.map(Tx::Sqlite),
            Database::Postgres { pool, .. } => pool
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .await
                .map(Tx::Postgres),
        };
        tx.map_err(self.db_err(action))
    }

    /// Commits after `result` is `Ok`, rolls back otherwise.
    async fn finish<T>(
        &self,
        tx: Tx,
        result: Result<T, WallError>,
        action: &str,
    ) -> Result<T, WallError> {
        tx.finish(result, self.db_err(action), action).await
    }

    /// Advances counter `name` by one and returns its new value. The counter row stays
    /// locked until the transaction ends, so values are handed out in commit order.
    async fn advance(&self, tx: &mut Tx, name: &str, action: &str) -> Result<i64, WallError> {
        let value = tx
            .fetch_optional(
                "INSERT INTO wall_sequences (name, value) VALUES ($1, 1) \
                 ON CONFLICT (name) DO UPDATE SET value = wall_sequences.value + 1 \
                 RETURNING value",
                vec![text(name)],
                |r| r.int("value").map_err(self.db_err(action)),
                self.db_err(action),
            )
            .await?;
        value.ok_or_else(|| WallError::Corrupt {
            what: Entity::Event,
            id: "-".to_owned(),
            column: "wall_sequences",
            reason: format!("counter {name} returned no value"),
        })
    }

    /// Appends one event with the next id.
    async fn append(
        &self,
        tx: &mut Tx,
        event: NewEvent<'_>,
        action: &str,
    ) -> Result<WallEvent, WallError> {
        let id = self.advance(tx, "event", action).await?;
        let label = format!("{}/{}", event.wall_id, event.monitor_id);
        let command = event
            .command
            .map(|c| encode(c, Entity::Monitor, &label, "command"))
            .transpose()?;
        let state = event
            .state
            .map(|s| encode(s, Entity::Monitor, &label, "state"))
            .transpose()?;
        tx.execute(
            "INSERT INTO wall_events (id, wall_id, monitor_id, at, actor, kind, revision, \
             command, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            vec![
                Arg::Int(id),
                text(event.wall_id.as_str()),
                text(event.monitor_id.as_str()),
                Arg::Int(event.at),
                text(event.actor),
                text(event.kind.as_str()),
                Arg::Int(event.revision),
                Arg::Text(command),
                Arg::Text(state),
            ],
        )
        .await
        .map_err(self.db_err(action))?;
        Ok(WallEvent {
            id,
            wall_id: event.wall_id.clone(),
            monitor_id: event.monitor_id.clone(),
            at: event.at,
            actor: event.actor.to_owned(),
            kind: event.kind,
            revision: event.revision,
            command: event.command.cloned(),
            state: event.state.cloned(),
        })
    }

    /// Inserts a monitor with the initial state and its `monitor_added` event.
    #[allow(clippy::too_many_arguments)]
    async fn add_monitor(
        &self,
        tx: &mut Tx,
        wall: &WallId,
        monitor: &ValidMonitor,
        position: usize,
        actor: &str,
        now: UnixMs,
        action: &str,
    ) -> Result<(), WallError> {
        let state = MonitorState::initial();
        let label = format!("{wall}/{}", monitor.id);
        tx.execute(
            "INSERT INTO wall_monitors (wall_id, id, name, seq, state, tour_id, revision, \
             updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, NULL, 1, $6, $7)",
            vec![
                text(wall.as_str()),
                text(monitor.id.as_str()),
                text(&monitor.name),
                Arg::Int(i64::try_from(position).unwrap_or(i64::MAX)),
                Arg::Text(Some(encode(&state, Entity::Monitor, &label, "state")?)),
                Arg::Int(now),
                text(actor),
            ],
        )
        .await
        .map_err(self.db_err(action))?;
        self.append(
            tx,
            NewEvent {
                wall_id: wall,
                monitor_id: &monitor.id,
                at: now,
                actor,
                kind: WallEventKind::MonitorAdded,
                revision: 1,
                command: None,
                state: Some(&state),
            },
            action,
        )
        .await?;
        Ok(())
    }

    /// Deletes a (locked) monitor and appends its `monitor_removed` event.
    async fn remove_monitor(
        &self,
        tx: &mut Tx,
        monitor: &Monitor,
        actor: &str,
        now: UnixMs,
        action: &str,
    ) -> Result<(), WallError> {
        tx.execute(
            "DELETE FROM wall_monitors WHERE wall_id = $1 AND id = $2",
            vec![text(monitor.wall_id.as_str()), text(monitor.id.as_str())],
        )
        .await
        .map_err(self.db_err(action))?;
        self.append(
            tx,
            NewEvent {
                wall_id: &monitor.wall_id,
                monitor_id: &monitor.id,
                at: now,
                actor,
                kind: WallEventKind::MonitorRemoved,
                revision: monitor.revision,
                command: None,
                state: None,
            },
            action,
        )
        .await?;
        Ok(())
    }

    /// Wall `id` and its monitors in `tx`; `lock` is appended to the wall's query.
    async fn load_wall(
        &self,
        tx: &mut Tx,
        id: &WallId,
        lock: &str,
        action: &str,
    ) -> Result<Wall, WallError> {
        let sql = format!("{SELECT_WALL} WHERE id = $1{lock}");
        let mut wall = tx
            .fetch_optional(
                &sql,
                vec![text(id.as_str())],
                wall_from_row,
                self.db_err(action),
            )
            .await?
            .ok_or_else(|| WallError::not_found(Entity::Wall, id.as_str()))?;
        let sql = format!("{} WHERE wall_id = $1 ORDER BY seq", select_monitor(""));
        wall.monitors = tx_fetch_all(
            tx,
            &sql,
            vec![text(id.as_str())],
            monitor_from_row,
            self.db_err(action),
        )
        .await?;
        Ok(wall)
    }

    /// Wall `id`'s row (without monitors), locked until the transaction ends.
    async fn lock_wall(&self, tx: &mut Tx, id: &WallId, action: &str) -> Result<Wall, WallError> {
        let sql = format!("{SELECT_WALL} WHERE id = $1{}", tx.for_update());
        tx.fetch_optional(
            &sql,
            vec![text(id.as_str())],
            wall_from_row,
            self.db_err(action),
        )
        .await?
        .ok_or_else(|| WallError::not_found(Entity::Wall, id.as_str()))
    }

    /// Wall `id`'s monitors, locked until the transaction ends.
    async fn lock_monitors(
        &self,
        tx: &mut Tx,
        id: &WallId,
        action: &str,
    ) -> Result<Vec<Monitor>, WallError> {
        let sql = format!(
            "{} WHERE wall_id = $1 ORDER BY seq{}",
            select_monitor(""),
            tx.for_update()
        );
        tx_fetch_all(
            tx,
            &sql,
            vec![text(id.as_str())],
            monitor_from_row,
            self.db_err(action),
        )
        .await
    }

    /// One monitor, locked until the transaction ends.
    async fn lock_monitor(
        &self,
        tx: &mut Tx,
        wall: &WallId,
        monitor: &MonitorId,
        action: &str,
    ) -> Result<Monitor, WallError> {
        let sql = format!(
            "{} WHERE wall_id = $1 AND id = $2{}",
            select_monitor(""),
            tx.for_update()
        );
        tx.fetch_optional(
            &sql,
            vec![text(wall.as_str()), text(monitor.as_str())],
            monitor_from_row,
            self.db_err(action),
        )
        .await?
        .ok_or_else(|| WallError::not_found(Entity::Monitor, &format!("{wall}/{monitor}")))
    }

    async fn lock_scene(
        &self,
        tx: &mut Tx,
        id: &SceneId,
        action: &str,
    ) -> Result<Scene, WallError> {
        let sql = format!("{SELECT_SCENE} WHERE id = $1{}", tx.for_update());
        tx.fetch_optional(
            &sql,
            vec![text(id.as_str())],
            scene_from_row,
            self.db_err(action),
        )
        .await?
        .ok_or_else(|| WallError::not_found(Entity::Scene, id.as_str()))
    }

    async fn lock_tour(&self, tx: &mut Tx, id: &TourId, action: &str) -> Result<Tour, WallError> {
        self.tour_in(tx, id, true, action)
            .await?
            .ok_or_else(|| WallError::not_found(Entity::Tour, id.as_str()))
    }

    /// Tour `id` with its steps in `tx`, its row locked when `lock`.
    async fn tour_in(
        &self,
        tx: &mut Tx,
        id: &TourId,
        lock: bool,
        action: &str,
    ) -> Result<Option<Tour>, WallError> {
        let lock = if lock { tx.for_update() } else { "" };
        let sql = format!("{SELECT_TOUR} WHERE id = $1{lock}");
        let Some(mut tour) = tx
            .fetch_optional(
                &sql,
                vec![text(id.as_str())],
                tour_from_row,
                self.db_err(action),
            )
            .await?
        else {
            return Ok(None);
        };
        let sql = format!("{SELECT_STEP} WHERE tour_id = $1 ORDER BY seq");
        tour.steps = tx_fetch_all(
            tx,
            &sql,
            vec![text(id.as_str())],
            step_from_row,
            self.db_err(action),
        )
        .await?
        .into_iter()
        .map(|(_, step)| step)
        .collect();
        Ok(Some(tour))
    }

    /// The scenes and tours `command` refers to, read in `tx` (a tour it starts or
    /// advances is locked, so it cannot be deleted under it). What is missing is left
    /// out: [`apply`] reports it.
    async fn refs_for(
        &self,
        tx: &mut Tx,
        command: &MonitorCommand,
        action: &str,
    ) -> Result<Refs, WallError> {
        let mut refs = Refs::default();
        let (tour_id, step) = match command {
            MonitorCommand::ApplyScene { scene_id } => {
                if let Some(scene) = self.scene_in(tx, scene_id, action).await? {
                    refs = refs.with_scene(scene);
                }
                return Ok(refs);
            }
            MonitorCommand::StartTour { tour_id } => (tour_id, 0),
            MonitorCommand::AdvanceTour { tour_id, step } => (tour_id, *step),
            _ => return Ok(refs),
        };
        let Some(tour) = self.tour_in(tx, tour_id, true, action).await? else {
            return Ok(refs);
        };
        if let Some(entry) = usize::try_from(step).ok().and_then(|s| tour.steps.get(s))
            && let Some(scene) = self.scene_in(tx, &entry.scene_id, action).await?
        {
            refs = refs.with_scene(scene);
        }
        Ok(refs.with_tour(tour))
    }

    async fn scene_in(
        &self,
        tx: &mut Tx,
        id: &SceneId,
        action: &str,
    ) -> Result<Option<Scene>, WallError> {
        let sql = format!("{SELECT_SCENE} WHERE id = $1");
        tx.fetch_optional(
            &sql,
            vec![text(id.as_str())],
            scene_from_row,
            self.db_err(action),
        )
        .await
    }

    /// Checks that every scene of `valid` exists, locking them against deletion until
    /// the transaction ends (`FOR SHARE` on PostgreSQL); each missing one is named as
    /// `steps[i].scene_id`.
    async fn check_scenes(
        &self,
        tx: &mut Tx,
        valid: &ValidTour,
        tour: Option<&TourId>,
        action: &str,
    ) -> Result<(), WallError> {
        let wanted: BTreeSet<&str> = valid.steps.iter().map(|s| s.scene_id.as_str()).collect();
        let share = match tx {
            Tx::Sqlite(_) => "",
            Tx::Postgres(_) => " FOR SHARE",
        };
        let sql = format!(
            "SELECT id FROM wall_scenes WHERE id IN ({}) ORDER BY id{share}",
            placeholders(1, wanted.len())
        );
        let found: BTreeSet<String> = tx_fetch_all(
            tx,
            &sql,
            wanted.iter().map(|id| text(id)).collect(),
            |r| r.text("id").map_err(self.db_err(action)),
            self.db_err(action),
        )
        .await?
        .into_iter()
        .collect();
        let errors: Vec<FieldError> = valid
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| !found.contains(s.scene_id.as_str()))
            .map(|(i, s)| {
                FieldError::new(
                    format!("steps[{i}].scene_id"),
                    format!("no scene {}", crate::domain::quote(s.scene_id.as_str())),
                )
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(WallError::invalid(
                Entity::Tour,
                tour.map(TourId::as_str),
                errors,
            ))
        }
    }

    async fn write_steps(
        &self,
        tx: &mut Tx,
        id: &TourId,
        steps: &[TourScene],
        action: &str,
    ) -> Result<(), WallError> {
        for (seq, step) in steps.iter().enumerate() {
            tx.execute(
                "INSERT INTO wall_tour_steps (tour_id, seq, scene_id, dwell_ms) \
                 VALUES ($1, $2, $3, $4)",
                vec![
                    text(id.as_str()),
                    Arg::Int(i64::try_from(seq).unwrap_or(i64::MAX)),
                    text(step.scene_id.as_str()),
                    Arg::Int(step.dwell_ms),
                ],
            )
            .await
            .map_err(self.db_err(action))?;
        }
        Ok(())
    }
}

/// Runs a query in `tx` and decodes each row (the pooled [`fetch_all`] inside a
/// transaction).
async fn tx_fetch_all<T>(
    tx: &mut Tx,
    sql: &str,
    args: Vec<Arg>,
    decode: impl Fn(&dyn RowRead) -> Result<T, WallError>,
    db_err: impl FnOnce(sqlx::Error) -> WallError,
) -> Result<Vec<T>, WallError> {
    match tx {
        Tx::Sqlite(tx) => {
            let rows = bind_args!(sqlx::query(sql), args)
                .fetch_all(&mut **tx)
                .await;
            rows.map_err(db_err)?.iter().map(|r| decode(r)).collect()
        }
        Tx::Postgres(tx) => {
            let rows = bind_args!(sqlx::query(sql), args)
                .fetch_all(&mut **tx)
                .await;
            rows.map_err(db_err)?.iter().map(|r| decode(r)).collect()
        }
    }
}

fn text(value: &str) -> Arg {
    Arg::Text(Some(value.to_owned()))
}

/// `district`, `street`, `enterprise_id`.
fn scope_args(scope: &WallScope) -> Vec<Arg> {
    vec![
        Arg::Text(scope.district.clone()),
        Arg::Text(scope.street.clone()),
        Arg::Text(scope.enterprise_id.clone()),
    ]
}

/// `column = value` for every field `jurisdiction` constrains ([`Jurisdiction::constraints`]:
/// exactly what [`Jurisdiction::covers`] checks), on columns prefixed with `prefix`.
fn scope_conditions(jurisdiction: &Jurisdiction, prefix: &str) -> Conditions {
    let constraints = jurisdiction.constraints();
    let mut c = Conditions::default();
    for (column, value) in [
        ("district", constraints.district),
        ("street", constraints.street),
        ("enterprise_id", constraints.enterprise_id),
    ] {
        if let Some(value) = value {
            c.add(&format!("{prefix}{column} = ?"), text(value));
        }
    }
    c
}

fn check_revision(
    what: Entity,
    id: &str,
    expected: Option<i64>,
    actual: i64,
) -> Result<(), WallError> {
    match expected {
        Some(expected) if expected != actual => Err(WallError::PreconditionFailed {
            what,
            id: id.to_owned(),
            expected,
            actual,
        }),
        _ => Ok(()),
    }
}

/// `"2 tours (tour-1, tour-4)"`, listing at most five.
fn describe(what: &str, ids: &[String]) -> String {
    let mut shown: Vec<&str> = ids.iter().take(5).map(String::as_str).collect();
    if ids.len() > 5 {
        shown.push("…");
    }
    let plural = if ids.len() == 1 { "" } else { "s" };
    format!("{} {what}{plural} ({})", ids.len(), shown.join(", "))
}

/// A generated id; the patterns used (`scene-N`, `tour-N`) always follow the id rule.
fn generated<T>(id: Result<T, String>) -> Result<T, WallError> {
    id.map_err(|reason| WallError::Corrupt {
        what: Entity::Event,
        id: "-".to_owned(),
        column: "wall_sequences",
        reason,
    })
}

fn encode<T: Serialize>(
    value: &T,
    what: Entity,
    id: &str,
    column: &'static str,
) -> Result<String, WallError> {
    serde_json::to_string(value).map_err(|e| WallError::Corrupt {
        what,
        id: id.to_owned(),
        column,
        reason: format!("cannot be encoded as JSON: {e}"),
    })
}

/// `name`, `district`, `street`, `enterprise_id`, `layout`, `tiles`.
fn scene_args(valid: &ValidScene, id: &str) -> Result<Vec<Arg>, WallError> {
    let mut args = vec![text(&valid.name)];
    args.extend(scope_args(&valid.scope));
    args.push(Arg::Text(Some(encode(
        &valid.layout,
        Entity::Scene,
        id,
        "layout",
    )?)));
    args.push(Arg::Text(Some(encode(
        &valid.tiles,
        Entity::Scene,
        id,
        "tiles",
    )?)));
    Ok(args)
}

fn scene_of(
    id: SceneId,
    valid: ValidScene,
    created_at: UnixMs,
    updated_at: UnixMs,
    revision: i64,
) -> Scene {
    Scene {
        id,
        name: valid.name,
        scope: valid.scope,
        layout: valid.layout,
        tiles: valid.tiles,
        created_at,
        updated_at,
        revision,
    }
}

fn tour_of(
    id: TourId,
    valid: ValidTour,
    created_at: UnixMs,
    updated_at: UnixMs,
    revision: i64,
) -> Tour {
    Tour {
        id,
        name: valid.name,
        scope: valid.scope,
        steps: valid.steps,
        looping: valid.looping,
        created_at,
        updated_at,
        revision,
    }
}

/// Reads one record's columns (its id from `id_column`), turning every failure into
/// [`WallError::Corrupt`].
fn reader<'r>(
    row: &'r dyn RowRead,
    what: Entity,
    id_column: &'static str,
) -> Result<RecordReader<'r, WallError>, WallError> {
    RecordReader::new(row, id_column, move |id, column, reason| {
        WallError::Corrupt {
            what,
            id: id.to_owned(),
            column,
            reason,
        }
    })
}

fn scope_from(r: &RecordReader<'_, WallError>) -> Result<WallScope, WallError> {
    Ok(WallScope {
        district: r.opt_text("district")?,
        street: r.opt_text("street")?,
        enterprise_id: r.opt_text("enterprise_id")?,
    })
}

fn wall_from_row(row: &dyn RowRead) -> Result<Wall, WallError> {
    let r = reader(row, Entity::Wall, "id")?;
    Ok(Wall {
        id: r.parsed("id", WallId::parse)?,
        name: r.text("name")?,
        scope: scope_from(&r)?,
        monitors: Vec::new(),
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
        revision: r.int("revision")?,
    })
}

fn epoch_from_row(row: &dyn RowRead) -> Result<i64, WallError> {
    reader(row, Entity::Monitor, "label")?.int("epoch")
}

fn monitor_from_row(row: &dyn RowRead) -> Result<Monitor, WallError> {
    let r = reader(row, Entity::Monitor, "label")?;
    let seq = r.int("seq")?;
    Ok(Monitor {
        wall_id: r.parsed("wall_id", WallId::parse)?,
        id: r.parsed("id", MonitorId::parse)?,
        name: r.text("name")?,
        position: u32::try_from(seq).map_err(|e| r.corrupt("seq", e.to_string()))?,
        state: r.json("state")?,
        revision: r.int("revision")?,
        updated_at: r.int("updated_at")?,
        updated_by: r.text("updated_by")?,
    })
}

fn scene_from_row(row: &dyn RowRead) -> Result<Scene, WallError> {
    let r = reader(row, Entity::Scene, "id")?;
    let layout: super::Layout = r.json("layout")?;
    let tiles: Vec<super::TileContent> = r.json("tiles")?;
    if tiles.len() != layout.len() {
        return Err(r.corrupt(
            "tiles",
            format!(
                "{} contents for a layout of {} tiles",
                tiles.len(),
                layout.len()
            ),
        ));
    }
    Ok(Scene {
        id: r.parsed("id", SceneId::parse)?,
        name: r.text("name")?,
        scope: scope_from(&r)?,
        layout,
        tiles,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
        revision: r.int("revision")?,
    })
}

/// A tour without its steps (filled in from [`step_from_row`]).
fn tour_from_row(row: &dyn RowRead) -> Result<Tour, WallError> {
    let r = reader(row, Entity::Tour, "id")?;
    Ok(Tour {
        id: r.parsed("id", TourId::parse)?,
        name: r.text("name")?,
        scope: scope_from(&r)?,
        steps: Vec::new(),
        looping: r.boolean("looping")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
        revision: r.int("revision")?,
    })
}

fn step_from_row(row: &dyn RowRead) -> Result<(TourId, TourScene), WallError> {
    let r = reader(row, Entity::Tour, "tour_id")?;
    Ok((
        r.parsed("tour_id", TourId::parse)?,
        TourScene {
            scene_id: r.parsed("scene_id", SceneId::parse)?,
            dwell_ms: r.int("dwell_ms")?,
        },
    ))
}

fn event_from_row(row: &dyn RowRead) -> Result<WallEvent, WallError> {
    let r = reader(row, Entity::Event, "label")?;
    let json = |c: &'static str| -> Result<Option<String>, WallError> { r.opt_text(c) };
    let command = json("command")?
        .map(|t| serde_json::from_str(&t).map_err(|e| r.corrupt("command", e.to_string())))
        .transpose()?;
    let state = json("state")?
        .map(|t| serde_json::from_str(&t).map_err(|e| r.corrupt("state", e.to_string())))
        .transpose()?;
    Ok(WallEvent {
        id: r.int("id")?,
        wall_id: r.parsed("wall_id", WallId::parse)?,
        monitor_id: r.parsed("monitor_id", MonitorId::parse)?,
        at: r.int("at")?,
        actor: r.text("actor")?,
        kind: r.parsed("kind", WallEventKind::parse)?,
        revision: r.int("revision")?,
        command,
        state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This module's `.sql` files under `command/migrations/` (versions `YYYYMMDD04NN`)
    /// are embedded, in version order, with the version and description their names
    /// give.
    #[test]
    fn embedded_migrations_match_the_folder() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<(i64, String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .map(|p| {
                let stem = p.file_stem().unwrap().to_str().unwrap().to_owned();
                let (version, description) = stem.split_once('_').unwrap();
                assert_eq!(
                    version.len(),
                    12,
                    "command versions are YYYYMMDDNNNN: {stem}"
                );
                (
                    version.parse().unwrap(),
                    description.replace('_', " "),
                    std::fs::read_to_string(&p).unwrap(),
                )
            })
            .filter(|(v, _, _)| v % 10_000 / 100 == 4)
            .collect();
        files.sort();
        let embedded: Vec<(i64, String, String)> = MIGRATIONS
            .iter()
            .map(|&(v, d, s)| (v, d.to_owned(), s.to_owned()))
            .collect();
        assert_eq!(embedded, files);
    }

    /// The event log is append-only: no statement in this module changes or deletes an
    /// event.
    #[test]
    fn no_statement_changes_the_event_log() {
        let source = include_str!("store.rs");
        let code = &source[..source.find("#[cfg(test)]").unwrap_or(source.len())];
        let flat = code.split_whitespace().collect::<Vec<_>>().join(" ");
        for forbidden in ["UPDATE wall_events", "DELETE FROM wall_events"] {
            assert!(!flat.contains(forbidden), "{forbidden}");
        }
    }

    #[test]
    fn helpers() {
        for kind in WallEventKind::ALL {
            assert_eq!(WallEventKind::parse(kind.as_str()), Ok(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        assert!(WallEventKind::parse("dance").is_err());
        let ids: Vec<String> = (1..=7).map(|i| format!("tour-{i}")).collect();
        assert_eq!(
            describe("tour", &ids),
            "7 tours (tour-1, tour-2, tour-3, tour-4, tour-5, …)"
        );
        assert_eq!(describe("monitor", &ids[..1]), "1 monitor (tour-1)");
        let c = scope_conditions(
            &Jurisdiction::Street {
                district: "A".into(),
                street: "s".into(),
            },
            "w.",
        );
        assert_eq!(c.sql(), " WHERE w.district = $1 AND w.street = $2");
        assert_eq!(scope_conditions(&Jurisdiction::City, "").sql(), "");
    }
}
