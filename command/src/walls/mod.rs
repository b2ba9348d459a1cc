//! Video walls: walls, their monitors and what each shows, named scenes, tours of scenes,
//! and the append-only log of monitor changes that monitor pages follow.
//!
//! This module is the storage and rules half of the video wall; the HTTP half (the
//! console's routes, the kiosk page `/wall/{wall}/{monitor}` with its stream tokens, the
//! server push, the tour driver, the audit entries, jurisdiction checks) lives in `web/`.
//!
//! # Vocabulary
//!
//! - A **wall** ([`Wall`], id chosen at creation, [`WallId`]) is a set of **monitors**
//!   ([`Monitor`], ids chosen with the wall, unique within it, [`MonitorId`]) in position
//!   order. A wall belongs somewhere ([`WallScope`]: district, street, enterprise, or
//!   none for the city) and a user sees it when its jurisdiction
//!   [covers](crate::access::Jurisdiction::covers) that scope; the lists filter by
//!   jurisdiction.
//! - A **layout** ([`Layout`]) is a grid of at most 8 × 8 cells and the **tiles** on it
//!   (each a rectangle of cells, none overlapping). Named layouts
//!   ([`Layout::named`]): `1`, `4` (2 × 2), `6` (3 × 3, a 2 × 2 tile and five), `8`
//!   (4 × 4, a 3 × 3 tile and seven), `9` (3 × 3), `16` (4 × 4); any other grid is a
//!   custom layout. Commands number tiles by their order in the layout.
//! - A tile shows nothing or a camera ([`TileContent`]) from its main or sub stream, or
//!   `auto` ([`Profile`]): main for the only tile or one covering at least half the grid
//!   ([`Layout::is_large`]), sub otherwise. [`MonitorState::streams`] lists the hub paths
//!   (`cam/<id>/main|sub`) a monitor plays.
//! - A monitor's **state** ([`MonitorState`]) is its [`View`] — layout, one content per
//!   tile, and the **source** that put it there ([`Source`]: manual, a scene, an
//!   incident, a tour at a step) — plus `previous`, the view before the last incident
//!   push (one level, for **restore**).
//! - A **scene** ([`Scene`], id `scene-N`) is a named layout with contents; applying it
//!   copies it onto a monitor. A **tour** ([`Tour`], id `tour-N`) shows scenes one after
//!   the other, each for its dwell time (3 s to 1 h), looping or not; its timing is
//!   [`TourClock`], which also says when to start the next scene's streams
//!   ([`PREFETCH_MS`] before the switch).
//! - **Commands** ([`MonitorCommand`]) change what a monitor shows: show a camera, clear a
//!   tile, set the layout, apply a scene, show an incident (its cameras as a generated
//!   scene, saving `previous`), restore, start, advance and stop a tour. [`apply`] is the
//!   pure rule; [`WallStore::apply`] runs it in a transaction.
//! - Each change of a monitor is a **wall event** ([`WallEvent`]) with the monitor's new
//!   state; event ids increase in commit order, so a monitor page that remembers the last
//!   id it saw resumes without missing a change (`Last-Event-ID`).
//!
//! Times are Unix milliseconds ([`UnixMs`]) supplied by the caller; nothing here reads
//! the clock. Cameras are named by their inventory id only ([`CameraId`], checked for
//! form): this crate never reads the inventory.
//!
//! # Storage
//!
//! Tables (migration `command/migrations/202611300401_walls.sql`, portable DDL):
//! `wall_walls`, `wall_monitors` (the state as JSON, checked on every load, beside copies
//! of the running tour's id for lookups), `wall_scenes` (layout and contents as JSON),
//! `wall_tours` and `wall_tour_steps` (a step's scene is a foreign key: a scene in a tour
//! cannot be deleted), `wall_events` (append-only) and `wall_sequences` (the counters of
//! `scene-N`, `tour-N` and event ids).
//!
//! # Transactions and locking
//!
//! Every write is one transaction, begun with `BEGIN IMMEDIATE` on SQLite (the write lock
//! up front) and locking what it reads with `SELECT … FOR UPDATE` on PostgreSQL: an apply
//! locks its monitor row (then the tour it starts or advances, then the event counter),
//! so concurrent commands on one monitor run one after the other and none is lost; a wall
//! update locks the wall, then its monitors. Event ids come from a counter row that stays
//! locked until commit, so they increase in commit order (on PostgreSQL this serialises
//! monitor changes across walls: wall work is human-paced). A refused command writes
//! nothing; a command that changes nothing writes nothing either (no revision, no event).
//!
//! # Errors
//!
//! [`WallError`] names the wall, monitor, scene or tour; [`WallError::code`] is a stable
//! snake_case name and [`WallError::http_status`] the suggested status.

mod layout;
mod model;
mod state;
mod store;
mod tour;

use std::fmt;

pub use layout::{Grid, Layout, LayoutSpec, MAX_GRID, NAMED_LAYOUTS, Tile};
pub use model::{
    CameraId, MAX_ACTOR, MAX_DWELL_MS, MAX_MONITORS, MAX_NAME, MAX_PLACE, MAX_TOUR_STEPS,
    MIN_DWELL_MS, Monitor, MonitorId, MonitorInput, Scene, SceneId, SceneInput, TileInput, Tour,
    TourId, TourInput, TourScene, TourSceneInput, Wall, WallId, WallInput, WallScope,
};
pub use state::{
    MAX_INCIDENT_CAMERAS, MonitorCommand, MonitorState, Profile, Refs, Source, StreamProfile,
    TileContent, TileStream, View, apply,
};
pub use store::{DEFAULT_FEED_LIMIT, MAX_FEED_LIMIT, WallEvent, WallEventKind, WallStore};
pub use tour::{PREFETCH_MS, TourClock, TourStep};

pub use crate::domain::{FieldError, UnixMs};

/// What a [`WallError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    /// A wall.
    Wall,
    /// A monitor (named `wall/monitor`).
    Monitor,
    /// A scene.
    Scene,
    /// A tour.
    Tour,
    /// A wall event.
    Event,
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Entity::Wall => "wall",
            Entity::Monitor => "monitor",
            Entity::Scene => "scene",
            Entity::Tour => "tour",
            Entity::Event => "wall event",
        })
    }
}

/// Why a wall operation failed; nothing was written. Every variant names what it is
/// about (a monitor as `wall/monitor`; the pure [`apply`] leaves the monitor unnamed,
/// the store names it).
///
/// Suggested HTTP mapping ([`WallError::http_status`]): `invalid` 422, `not_found` 404,
/// `conflict`, `in_use`, `nothing_to_restore` and `tour_not_running` 409,
/// `precondition_failed` 412, `database` 503, the rest 500.
#[derive(Debug, thiserror::Error)]
pub enum WallError {
    /// The input or command has invalid fields (all of them are listed), or refers to
    /// records that do not exist (a tour's scene, named as `steps[i].scene_id`).
    #[error("invalid {what}{}: {}", id_suffix(.id), join(.errors))]
    Invalid {
        /// What was being written or changed.
        what: Entity,
        /// Its id, when known.
        id: Option<String>,
        /// Every problem, in field order.
        errors: Vec<FieldError>,
    },
    /// No such wall, monitor, scene or tour.
    #[error("{what} {id} not found")]
    NotFound {
        /// What was looked for.
        what: Entity,
        /// Its id.
        id: String,
    },
    /// The record exists already.
    #[error("{what} {id}: {reason}")]
    Conflict {
        /// What was being written.
        what: Entity,
        /// Its id.
        id: String,
        /// Why.
        reason: String,
    },
    /// The record cannot be deleted while others refer to it (a scene in a tour, a tour
    /// running on a monitor).
    #[error("{what} {id} is still used by {by}: change or stop them first")]
    InUse {
        /// What was being deleted.
        what: Entity,
        /// Its id.
        id: String,
        /// Who uses it, e.g. "tours tour-1, tour-4".
        by: String,
    },
    /// `restore` on a monitor with no view saved by an incident push.
    #[error(
        "monitor{} has nothing to restore: restore returns to the view before an incident push",
        id_suffix(.monitor)
    )]
    NothingToRestore {
        /// The monitor (`wall/monitor`), when known.
        monitor: Option<String>,
    },
    /// `advance_tour` on a monitor that is not running that tour (stopped, or taken
    /// over by an operator).
    #[error("monitor{} is not running tour {tour}", id_suffix(.monitor))]
    TourNotRunning {
        /// The monitor (`wall/monitor`), when known.
        monitor: Option<String>,
        /// The tour named by the command.
        tour: String,
    },
    /// The stored revision is not the one the caller based its change on.
    #[error(
        "{what} {id} is at revision {actual}, not the expected {expected}: reload it and retry"
    )]
    PreconditionFailed {
        /// The record.
        what: Entity,
        /// Its id.
        id: String,
        /// The revision the caller expected.
        expected: i64,
        /// The revision stored.
        actual: i64,
    },
    /// The database refused or could not be reached.
    #[error("{action}: database {url}: {source}")]
    Database {
        /// What was being done, e.g. "applying show_camera to monitor main-hall/1".
        action: String,
        /// The database's redacted URL.
        url: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// Creating or upgrading the wall tables failed.
    #[error("migrating the wall tables in {url}: {source}")]
    Migrate {
        /// The database's redacted URL.
        url: String,
        /// sqlx's migration error.
        source: sqlx::migrate::MigrateError,
    },
    /// A stored row cannot be read back or a value cannot be written (edited by hand,
    /// written by a newer version).
    #[error("{what} {id}: stored {column} is unreadable: {reason}")]
    Corrupt {
        /// What the row holds.
        what: Entity,
        /// The row's id (`?` when unreadable itself).
        id: String,
        /// The column.
        column: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl WallError {
    /// A stable snake_case name of the error kind, for API answers and tests.
    pub fn code(&self) -> &'static str {
        match self {
            WallError::Invalid { .. } => "invalid",
            WallError::NotFound { .. } => "not_found",
            WallError::Conflict { .. } => "conflict",
            WallError::InUse { .. } => "in_use",
            WallError::NothingToRestore { .. } => "nothing_to_restore",
            WallError::TourNotRunning { .. } => "tour_not_running",
            WallError::PreconditionFailed { .. } => "precondition_failed",
            WallError::Database { .. } => "database",
            WallError::Migrate { .. } => "migrate",
            WallError::Corrupt { .. } => "corrupt",
        }
    }

    /// The suggested HTTP status (see the type's documentation).
    pub fn http_status(&self) -> u16 {
        match self {
            WallError::Invalid { .. } => 422,
            WallError::NotFound { .. } => 404,
            WallError::Conflict { .. }
            | WallError::InUse { .. }
            | WallError::NothingToRestore { .. }
            | WallError::TourNotRunning { .. } => 409,
            WallError::PreconditionFailed { .. } => 412,
            WallError::Database { .. } => 503,
            WallError::Migrate { .. } | WallError::Corrupt { .. } => 500,
        }
    }

    /// The invalid fields, if this is [`WallError::Invalid`]; empty otherwise.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            WallError::Invalid { errors, .. } => errors,
            _ => &[],
        }
    }

    pub(crate) fn invalid(what: Entity, id: Option<&str>, errors: Vec<FieldError>) -> Self {
        WallError::Invalid {
            what,
            id: id.map(str::to_owned),
            errors,
        }
    }

    pub(crate) fn not_found(what: Entity, id: &str) -> Self {
        WallError::NotFound {
            what,
            id: id.to_owned(),
        }
    }

    /// The same error with monitor `label` (`wall/monitor`) filled in where the pure
    /// [`apply`] left it unnamed.
    pub(crate) fn for_monitor(self, label: &str) -> Self {
        match self {
            WallError::Invalid {
                what: Entity::Monitor,
                id: None,
                errors,
            } => WallError::invalid(Entity::Monitor, Some(label), errors),
            WallError::NothingToRestore { monitor: None } => WallError::NothingToRestore {
                monitor: Some(label.to_owned()),
            },
            WallError::TourNotRunning {
                monitor: None,
                tour,
            } => WallError::TourNotRunning {
                monitor: Some(label.to_owned()),
                tour,
            },
            other => other,
        }
    }
}

fn id_suffix(id: &Option<String>) -> String {
    id.as_ref().map(|id| format!(" {id}")).unwrap_or_default()
}

fn join(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
