//! The organisation: who commands, who responds, and whom they watch over.
//!
//! # Vocabulary
//!
//! - A **command centre** ([`CommandCentre`], 指挥中心) is one level of the regulator's
//!   hierarchy ([`CentreLevel`]): the *city* bureau's centre (exactly one), a *district*
//!   bureau's centre (one per district, its parent is the city centre) or a *street*
//!   office (one per district and street — 街道, 乡镇 —, its parent is the centre of its
//!   district). [`CentreId`]s are chosen by whoever creates the centre (`bj`,
//!   `bj-chaoyang`, `bj-chaoyang-jiuxianqiao` in the sample).
//! - A **unit** ([`Unit`], 救援力量) is a resource a centre can dispatch: a *rescue team*,
//!   an *expert*, a *vehicle* or an *equipment depot* ([`UnitKind`]). It belongs to one
//!   centre and has an **availability** ([`Availability`]): `available` (can be dispatched
//!   now), `dispatched` (on a task), `off_duty` (not on shift, can be called in) or
//!   `unavailable` (out of service). Its [`UnitId`] is the one dispatch tasks name.
//!   Kind-specific fields: `members` (head count, rescue teams only), `plate` (vehicles
//!   only); `skills` (capabilities, specialities, equipment) for any kind.
//! - An **enterprise** ([`Enterprise`], 企业) is one entry of the business-data *ledger*
//!   (台账): its **ledger id** ([`LedgerId`], the ledger's key, e.g. `E-110106-0042`; the
//!   camera inventory's and the incidents' `enterprise_id`), name, **unified social credit
//!   code** ([`CreditCode`], 统一社会信用代码, GB 32100-2015, check character verified),
//!   [`EnterpriseCategory`], address, **division** ([`Division`]: district and, optionally,
//!   street — the administrative division responsible for it), WGS-84 position, its
//!   **hazard sources** ([`HazardSource`], 危险源, each possibly a *major* hazard source,
//!   重大危险源) and its **contacts** ([`Contact`]).
//! - The enterprise **category** uses the same snake_case names as the camera inventory's
//!   site category (`gas_station`, `oil_depot`, `tailings_pond`, `fireworks_warehouse`,
//!   `fireworks_retail`, `other`), so a camera and its enterprise can be compared by name;
//!   this crate never imports the devices crate.
//! - The **revision** counts a record's writes (1 after create, +1 per update or
//!   availability change) and is the optimistic-concurrency token of the updates.
//!
//! # Inputs, validation, errors
//!
//! Clients send *inputs* ([`CentreInput`], [`UnitInput`], [`EnterpriseInput`]): decoding
//! checks only the JSON shape (unknown fields are errors), then `validate()` reports every
//! problem at once as [`FieldError`]s naming the path (`credit_code`,
//! `hazard_sources[1].quantity`, `contacts[0].phone`). Text is trimmed; an optional text
//! that is blank counts as absent (ledger exports are full of `""`). Hierarchy and
//! reference rules that need the database (the parent centre's level, a unit's centre) are
//! checked by the store inside the write's transaction and reported the same way.
//!
//! Every write is one transaction: an enterprise and its hazard sources and contacts are
//! written together or not at all.
//!
//! # Storage
//!
//! Tables `org_centres`, `org_units`, `org_enterprises`, `org_hazard_sources` and
//! `org_contacts` in the command database (SQLite or PostgreSQL), created by the embedded
//! migration `command/migrations/202611290101_organisation.sql` when the store is opened
//! ([`Organisation::open`]). Hazard sources and contacts are child tables rather than JSON
//! columns: incidents name a hazard source by (ledger id, hazard source id), the list
//! filters on major hazard sources, and a child row that fails rolls its enterprise back.
//! A unit's skills, only ever read with the unit, are a JSON array in a text column. Times
//! are Unix milliseconds ([`UnixMs`]), supplied by the caller.
//!
//! # Ledger imports
//!
//! [`parse_rows`] reads a JSON array of inputs, remembering the line where each element
//! starts; the `import_*` methods write each row in its own transaction, so a bad row
//! never stops the good ones, and return an [`ImportReport`] whose [`RowError`]s name the
//! line and the field. [`load_sample`] loads the fictional sample ledger shipped in
//! `fixtures/ledger/` (centres, units, enterprises).

mod credit_code;
mod import;
mod model;
mod sample;
mod store;

pub use credit_code::{CREDIT_CODE_CHARSET, CREDIT_CODE_WEIGHTS, CreditCode, credit_code_check};
pub use import::{ImportMode, ImportReport, ImportRow, RowError, parse_rows};
pub use model::{
    Availability, CentreId, CentreInput, CentreLevel, CommandCentre, Contact, ContactInput,
    ContactRole, Division, Enterprise, EnterpriseCategory, EnterpriseInput, HazardKind,
    HazardSource, HazardSourceInput, LedgerId, Unit, UnitInput, UnitKind,
};
pub use sample::{SampleLedger, SampleReport, load_sample};
pub use store::{
    CentreFilter, DEFAULT_LIMIT, EnterpriseFilter, EnterprisePage, MAX_LIMIT, Organisation,
    UnitFilter, UnitPage,
};

use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::domain::{FieldError, Position, UnitId, UnixMs};

/// What kind of record an [`OrgError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    /// A [`CommandCentre`].
    Centre,
    /// A [`Unit`].
    Unit,
    /// An [`Enterprise`].
    Enterprise,
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Entity::Centre => "command centre",
            Entity::Unit => "unit",
            Entity::Enterprise => "enterprise",
        })
    }
}

/// Why an organisation operation failed. Every variant names the record or the database;
/// a failed operation wrote nothing.
///
/// [`code`](Self::code) is a stable snake_case name for API answers. Suggested HTTP
/// mapping: `invalid` 422, `not_found` 404, `conflict` and `in_use` 409,
/// `precondition_failed` 412, `json_syntax` 400, `database` 503, the rest 500.
#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    /// The input has invalid fields (all of them are listed), or refers to records that
    /// do not fit (a parent centre of the wrong level, a unit's missing centre).
    #[error("invalid {entity}{}: {}", id_suffix(.id), join(.errors))]
    Invalid {
        /// What was being written.
        entity: Entity,
        /// Its id, when the input had a readable one.
        id: Option<String>,
        /// Every problem, in field order.
        errors: Vec<FieldError>,
    },
    /// No record has this id.
    #[error("{entity} {id} not found")]
    NotFound {
        /// What was asked for.
        entity: Entity,
        /// The id asked for.
        id: String,
    },
    /// The record, or another one holding the same place, exists already.
    #[error("{entity} {id}: {reason}")]
    Conflict {
        /// What was being written.
        entity: Entity,
        /// Its id.
        id: String,
        /// What it conflicts with, e.g. "already exists", "the district centre of
        /// Chaoyang is bj-chaoyang".
        reason: String,
    },
    /// The record's revision is not the one the caller based its update on.
    #[error("{entity} {id} is at revision {actual}, not the expected {expected}")]
    PreconditionFailed {
        /// What was being written.
        entity: Entity,
        /// Its id.
        id: String,
        /// The revision the caller expected.
        expected: i64,
        /// The revision stored.
        actual: i64,
    },
    /// The record cannot be deleted (or so changed) while others refer to it.
    #[error("{entity} {id} is still referred to by {by}: move or delete them first")]
    InUse {
        /// What was being deleted.
        entity: Entity,
        /// Its id.
        id: String,
        /// Who refers to it, e.g. "2 units (u-1, u-2)".
        by: String,
    },
    /// The database refused or could not be reached.
    #[error("{action}: database {url}: {source}")]
    Database {
        /// What was being done, e.g. "creating enterprise E-110105-0001".
        action: String,
        /// The database's redacted URL.
        url: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// Creating or upgrading the organisation's tables failed.
    #[error("migrating the organisation tables in {url}: {source}")]
    Migrate {
        /// The database's redacted URL.
        url: String,
        /// sqlx's migration error.
        source: sqlx::migrate::MigrateError,
    },
    /// A stored row cannot be read back (edited by hand, or written by a newer version).
    #[error("{entity} {id}: stored {column} is unreadable: {reason}")]
    Corrupt {
        /// The table's record kind.
        entity: Entity,
        /// The row's id.
        id: String,
        /// The column.
        column: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// An import is not a JSON array.
    #[error("{what}, line {line} column {column}: {reason}")]
    JsonSyntax {
        /// Which import, e.g. "enterprises.json".
        what: String,
        /// 1-based line in the text.
        line: usize,
        /// 1-based column in the line.
        column: usize,
        /// What is wrong.
        reason: String,
    },
    /// A sample ledger file could not be read.
    #[error("reading the sample ledger file {path}: {source}")]
    SampleFile {
        /// The file.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
}

impl OrgError {
    /// A stable snake_case name of the error kind, for API answers and tests.
    pub fn code(&self) -> &'static str {
        match self {
            OrgError::Invalid { .. } => "invalid",
            OrgError::NotFound { .. } => "not_found",
            OrgError::Conflict { .. } => "conflict",
            OrgError::PreconditionFailed { .. } => "precondition_failed",
            OrgError::InUse { .. } => "in_use",
            OrgError::Database { .. } => "database",
            OrgError::Migrate { .. } => "migrate",
            OrgError::Corrupt { .. } => "corrupt",
            OrgError::JsonSyntax { .. } => "json_syntax",
            OrgError::SampleFile { .. } => "sample_file",
        }
    }

    /// The invalid fields, if this is [`OrgError::Invalid`]; empty otherwise.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            OrgError::Invalid { errors, .. } => errors,
            _ => &[],
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
