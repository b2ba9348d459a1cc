//! Incidents, intake reports, dispatch tasks and the incident timeline, stored in the
//! command database: [`IncidentStore`] over the pure [`crate::domain`] core.
//!
//! # Vocabulary
//!
//! - **Intake report** ([`IntakeReport`], id `rep-N`): one message that something
//!   happened, as it reached the command centre through a **channel** ([`ReportChannel`]:
//!   a phone call, an enterprise's self-report, an alarm, a superior's or a peer
//!   platform's notice). Its content ([`NewReport`]) never changes. A report is
//!   **linked** to zero or one incident, once: reports waiting for an operator form the
//!   *unlinked queue*; a second report linked to an incident is a **duplicate** attaching
//!   to it; a report linked to one incident is never moved to another.
//! - **Incident** ([`crate::domain::Incident`], id `inc-N`): opened by an operator, from
//!   scratch or from a report, and changed only through [`IncidentCommand`]s
//!   ([`IncidentStore::apply`]). Its **revision** ([`Stored::revision`]) is 1 when opened
//!   and grows by one per accepted change; it is the optimistic-concurrency token
//!   (`ETag` / `If-Match`) of `expected_revision`.
//! - **Dispatch task** ([`crate::domain::Task`], id `task-N`): one unit sent to one
//!   incident, moved along its lifecycle by [`IncidentStore::transition_task`]; a unit has
//!   at most one open task per incident. Tasks have their own revision.
//! - **Timeline** ([`TimelineEntry`]): the incident's history, **append-only** — every
//!   accepted change (each incident event, each report linked, each task dispatched or
//!   moved, each evidence item attached) is an entry with its time, operator, kind
//!   ([`TimelineKind`]) and content. There is no function that changes or removes one.
//! - **Evidence** ([`Evidence`]): a camera, a snapshot or a video bookmark attached to the
//!   incident's timeline; cameras are named by their inventory id only.
//! - **Operator**: who acts — the name or account the caller authenticated, 1 to
//!   [`MAX_OPERATOR`] characters; recorded on every entry.
//! - **Report clocks**: the statutory report chain is part of the incident record; the
//!   API shows [`crate::domain::Incident::report_clocks`] at the current time. The store
//!   keeps the earliest owed deadline as a column, so that
//!   [`IncidentFilter::report_due_before`] finds incidents with overdue reports.
//!
//! Times are Unix milliseconds ([`crate::domain::UnixMs`]) supplied by the caller; the store never reads
//! the clock.
//!
//! # Storage
//!
//! Tables (migration `202611290201_incidents.sql`, portable DDL): `incidents`,
//! `intake_reports`, `dispatch_tasks`, `incident_timeline` and `incident_sequences`. An
//! incident's or task's full record ([`crate::domain::IncidentRecord`],
//! [`crate::domain::TaskRecord`]) is stored as JSON text in `record`, the state of truth,
//! and checked through the domain's `TryFrom` on every load (a record that fails is
//! [`StoreError::Corrupt`], never silently used). The columns next to it (state, grade,
//! type, district, street, exercise, enterprise, times, earliest report deadline,
//! revision) are copies for filtering, written by the same statement. Reports keep their
//! immutable content as JSON and the link (incident, time, operator) in columns.
//!
//! Ids are handed out by counters in `incident_sequences` (`inc-N`, `rep-N`, `task-N`,
//! and the timeline's entry ids), advanced inside the writing transaction: a refused
//! write hands out nothing, and since the counter row stays locked until commit, entry
//! ids increase in commit order — a reader polling with `after = last id seen` never
//! misses an entry. (On PostgreSQL this serialises timeline writes across incidents;
//! command work is human-paced, so that costs nothing that matters.)
//!
//! # Transactions and locking
//!
//! Every write is one transaction that locks what it reads before deciding: on SQLite it
//! begins with `BEGIN IMMEDIATE` (the write lock up front, so concurrent writers queue
//! on the busy timeout instead of failing with a stale snapshot); on PostgreSQL it reads
//! the incident (or task, or report) with `SELECT … FOR UPDATE`. So two applies to one
//! incident run one after the other and neither is lost, and closing (which counts the
//! open tasks) and dispatching (which checks the incident is not closed) cannot
//! interleave. Existing rows are locked in the order incident → report/task → counters
//! (opening an incident from a report locks the report, then inserts the new incident,
//! which no other transaction can hold), so transactions never wait on each other in a
//! cycle. Anything refused — by the domain, a revision precondition, a missing
//! row, a database error — rolls the whole transaction back: nothing is half-written.
//! SQLite commits are durable when acknowledged (`synchronous=FULL`, see
//! [`crate::storage`]).
//!
//! # Errors
//!
//! [`StoreError`] names the incident, report or task concerned. Suggested HTTP mapping
//! ([`StoreError::http_status`]): [`Domain`](StoreError::Domain) with
//! [`DomainError::Invalid`] 422 (list [`StoreError::field_errors`]), other domain refusals
//! 409; [`NotFound`](StoreError::NotFound) 404; [`Conflict`](StoreError::Conflict) 409;
//! [`PreconditionFailed`](StoreError::PreconditionFailed) 412;
//! [`Database`](StoreError::Database) 503; [`Migrate`](StoreError::Migrate) and
//! [`Corrupt`](StoreError::Corrupt) 500. [`StoreError::code`] is a stable snake_case name
//! for answers.

mod model;
mod store;

use std::fmt;

pub use model::{
    DEFAULT_LIMIT, Evidence, IncidentFilter, IncidentPage, IntakeReport, MAX_LIMIT, MAX_OPERATOR,
    NewReport, ReportChannel, ReportFilter, ReportPage, Stored, TimelineEntry, TimelineKind,
};
pub use store::IncidentStore;

use crate::domain::{DomainError, FieldError, IncidentCommand};

/// What a [`StoreError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    /// An incident (or its timeline).
    Incident,
    /// An intake report.
    Report,
    /// A dispatch task.
    Task,
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Entity::Incident => "incident",
            Entity::Report => "intake report",
            Entity::Task => "dispatch task",
        })
    }
}

/// Why a store operation failed; nothing was written. Every variant names what it is
/// about (see the module documentation for the HTTP mapping).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The domain refused: invalid input (every field listed), a closed incident, open
    /// tasks, an illegal transition, …
    #[error("{subject}: {error}")]
    Domain {
        /// What was refused, e.g. "incident inc-7", "new incident", "intake report".
        subject: String,
        /// The domain's reason.
        #[source]
        error: DomainError,
    },
    /// No such incident, report or task.
    #[error("{what} {id} not found")]
    NotFound {
        /// What was looked for.
        what: Entity,
        /// Its id.
        id: String,
    },
    /// The operation conflicts with the stored state (a report linked elsewhere, a unit
    /// dispatched twice).
    #[error("{what} {id} {reason}")]
    Conflict {
        /// What is in the way.
        what: Entity,
        /// Its id.
        id: String,
        /// Why, and what to do.
        reason: String,
    },
    /// The stored revision is not the one the caller based its change on.
    #[error(
        "{what} {id} is at revision {actual}, not the expected {expected}: reload it and retry"
    )]
    PreconditionFailed {
        /// The incident or task.
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
        /// What was being done, e.g. "changing incident inc-7".
        action: String,
        /// The database's redacted URL.
        url: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// Creating or upgrading the incident tables failed.
    #[error("migrating the incident tables in {url}: {source}")]
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

impl StoreError {
    pub(crate) fn domain(subject: impl Into<String>, error: DomainError) -> StoreError {
        StoreError::Domain {
            subject: subject.into(),
            error,
        }
    }

    pub(crate) fn not_found(what: Entity, id: &str) -> StoreError {
        StoreError::NotFound {
            what,
            id: id.to_owned(),
        }
    }

    pub(crate) fn encode(what: Entity, id: &str, e: serde_json::Error) -> StoreError {
        StoreError::Corrupt {
            what,
            id: id.to_owned(),
            column: "record",
            reason: format!("cannot be encoded as JSON: {e}"),
        }
    }

    /// The domain's refusal, if this is one.
    pub fn domain_error(&self) -> Option<&DomainError> {
        match self {
            StoreError::Domain { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The invalid fields, for [`DomainError::Invalid`]; empty otherwise.
    pub fn field_errors(&self) -> &[FieldError] {
        self.domain_error().map_or(&[], DomainError::field_errors)
    }

    /// A stable snake_case name of the error kind: the [`DomainError::code`] for domain
    /// refusals, else `not_found`, `conflict`, `precondition_failed`, `database`,
    /// `migrate`, `corrupt`.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Domain { error, .. } => error.code(),
            StoreError::NotFound { .. } => "not_found",
            StoreError::Conflict { .. } => "conflict",
            StoreError::PreconditionFailed { .. } => "precondition_failed",
            StoreError::Database { .. } => "database",
            StoreError::Migrate { .. } => "migrate",
            StoreError::Corrupt { .. } => "corrupt",
        }
    }

    /// The suggested HTTP status (see the module documentation).
    pub fn http_status(&self) -> u16 {
        match self {
            StoreError::Domain {
                error: DomainError::Invalid { .. },
                ..
            } => 422,
            StoreError::Domain { .. } | StoreError::Conflict { .. } => 409,
            StoreError::NotFound { .. } => 404,
            StoreError::PreconditionFailed { .. } => 412,
            StoreError::Database { .. } => 503,
            StoreError::Migrate { .. } | StoreError::Corrupt { .. } => 500,
        }
    }
}

/// The command's name as serialized (`update_figures`), for logs and actions.
pub fn command_name(command: &IncidentCommand) -> &'static str {
    match command {
        IncidentCommand::Activate => "activate",
        IncidentCommand::Monitor => "monitor",
        IncidentCommand::Close { .. } => "close",
        IncidentCommand::UpdateFigures { .. } => "update_figures",
        IncidentCommand::Relocate { .. } => "relocate",
        IncidentCommand::SetEnterprise { .. } => "set_enterprise",
        IncidentCommand::Reclassify { .. } => "reclassify",
        IncidentCommand::Retitle { .. } => "retitle",
        IncidentCommand::SetWarningLevel { .. } => "set_warning_level",
        IncidentCommand::SetResponseLevel { .. } => "set_response_level",
        IncidentCommand::AddNote { .. } => "add_note",
        IncidentCommand::RecordReport { .. } => "record_report",
    }
}
