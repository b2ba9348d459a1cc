//! The camera inventory: every camera the bureau watches, persisted in the command database.
//!
//! Vocabulary:
//! - a *camera* ([`Camera`]) is one device at one *site*; its [`CameraId`] is stable, becomes
//!   the stream hub's paths `cam/<id>/main` and `cam/<id>/sub`, and is the key every other
//!   module (incidents, dispatch, the business-data ledger's `enterprise_id`) refers to;
//! - the *site category* ([`SiteCategory`]) says what kind of high-risk site it watches; the
//!   *division* ([`Division`]) is the administrative district and, optionally, street that
//!   is responsible for it; the *position* ([`Position`]) is WGS-84 longitude/latitude in
//!   decimal degrees;
//! - a *camera input* ([`CameraInput`]) is what a client sends (API body, one CSV or JSON
//!   import row); [`CameraInput::validate`] turns it into a [`ValidCamera`] or into every
//!   [`FieldError`] at once;
//! - *credentials* ([`Credentials`]) are the user name and password the hub and the ONVIF
//!   client log in with. They are encrypted at rest ([`CredentialCipher`]), never part of a
//!   [`Camera`] (which only says `credentials_set`), never in an error, a report or a log
//!   line; only [`Inventory::credentials`] gives them back, decrypted, to the code that
//!   dials the camera;
//! - the *number* ([`Camera::number`]) is what operators type on a CCTV keyboard to put
//!   a camera on a wall tile: 1 to [`MAX_CAMERA_NUMBER`], unique across the inventory and
//!   fixed — adding or removing other cameras never changes it (see *Camera numbers*);
//! - the *revision* counts a camera's writes (1 after create, +1 per update) and is the
//!   optimistic-concurrency token of [`Inventory::update`].
//!
//! # Credentials on update
//!
//! An update replaces the whole camera (a PUT), except for the credentials, which follow
//! the `credentials` field of the input ([`CredentialsChange`]):
//! - field absent: keep the stored credentials (a client that read a camera — which never
//!   shows them — and writes it back does not wipe them);
//! - `"credentials": null`: clear them;
//! - `"credentials": {"username": "...", "password": "..."}`: set them (the password may be
//!   empty; the user name may not).
//!
//! CSV imports have `username` and `password` columns: a non-empty `username` sets the
//! credentials, both empty keep them (create: none), a password without a user name is a
//! row error. A CSV file cannot clear credentials; the API can.
//!
//! # Camera numbers
//!
//! A create without `number` gets one above the highest number in use (1 for the first
//! camera), or, once 99999 is in use, the lowest free number; when all of 1 to 99999 are
//! taken the create is [`InventoryError::Invalid`] on `number`. Numbers of deleted
//! cameras are thus not reused while higher ones exist, and gaps an administrator leaves
//! on purpose (number blocks per district) are not filled behind their back. The number
//! is assigned inside the insert's transaction, serialised with every other numbering
//! write (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a transaction-scoped advisory lock,
//! [`NUMBER_LOCK`]), and the unique index `cameras_number` backs it up: concurrent
//! creates always get distinct numbers.
//!
//! An update is a PUT, but like the credentials the number follows the convention
//! "absent keeps": `number` absent or `null` keeps the camera's number, a value sets it.
//! A number held by another camera — on create, update or import — is
//! [`InventoryError::NumberTaken`] (the same 409 family as a duplicate id), naming the
//! holder. CSV files have an optional `number` column; files without it import as before.
//!
//! # Storage and migrations
//!
//! The inventory shares the command module's database ([`watchpost_command::Database`],
//! SQLite or PostgreSQL). Each query is written once with `$N` placeholders (SQLite accepts
//! them) and run on either pool. Tables: `cameras` (one row per camera; `tags` as a JSON
//! array for reading, `credentials` as the sealed text `v1:…`) and `camera_tags` (one row
//! per camera and tag, for filtering by tag on both backends). Times are Unix
//! milliseconds (`BIGINT`), supplied by the caller.
//!
//! The schema is created by sqlx migrations under `devices/migrations/`, embedded in the
//! binary (`include_str!`, see `store.rs`) rather than with `sqlx::migrate!`, which would
//! need sqlx's `macros` feature and so rebuild sqlx for the whole workspace. The migrator
//! records its versions in sqlx's usual `_sqlx_migrations` table with `ignore_missing` set,
//! so the command module's own migrator can share that table: each ignores the other's
//! versions. The devices crate's versions are ten digits, `YYYYMMDDNN` (date written plus a
//! two-digit sequence, the first is `2026112901`); other modules must use another form
//! (sqlx-cli's default is fourteen-digit timestamps) so that versions never collide. The
//! DDL is portable (`TEXT`, `BIGINT`, `DOUBLE PRECISION`, `BOOLEAN`): one set of files for
//! both backends.
//!
//! # Imports
//!
//! [`parse_csv`] and [`parse_json`] turn a file into [`ImportRow`]s and the [`RowError`]s
//! of rows that could not even be read; [`Inventory::import`] writes each row in its own
//! transaction, so a bad row never stops the good ones, and returns an [`ImportReport`].
//! Every row error names its line and, where there is one, its field (CSV: the column;
//! JSON: the path in the object, e.g. `position.lon`).

mod cipher;
mod csv;
pub mod fuzzing;
mod import;
mod model;
mod store;

pub use cipher::{CredentialCipher, KEY_FILE, KeyError, KeyOrigin, load_or_create_key_file};
pub use csv::{CSV_COLUMNS, CsvRecord, parse_records};
pub use import::{
    ImportFormat, ImportMode, ImportReport, ImportRow, RowError, decode_camera_json, parse_csv,
    parse_json,
};
pub use model::{
    CAMERA_ID_RULE, Camera, CameraId, CameraInput, Credentials, CredentialsChange, Division,
    FieldError, MAX_CAMERA_NUMBER, Position, SiteCategory, TransportName, ValidCamera,
};
pub use store::{CameraFilter, CameraPage, DEFAULT_LIMIT, Inventory, MAX_LIMIT, NUMBER_LOCK};
pub use watchpost_config::RtspTransport;

/// Why an inventory operation failed. Every variant names the camera or the database.
///
/// Suggested HTTP mapping: [`Invalid`](Self::Invalid) 422, [`NotFound`](Self::NotFound)
/// 404, [`Conflict`](Self::Conflict) and [`NumberTaken`](Self::NumberTaken) 409, [`PreconditionFailed`](Self::PreconditionFailed)
/// 412, [`JsonSyntax`](Self::JsonSyntax) 400, [`Database`](Self::Database) 503, the rest 500.
/// No variant ever contains a password.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// The input has one or more invalid fields (all of them are listed).
    #[error("invalid camera: {}", join_field_errors(.errors))]
    Invalid {
        /// Every problem, in field order.
        errors: Vec<FieldError>,
    },
    /// No camera has this id.
    #[error("camera {id} not found")]
    NotFound {
        /// The id asked for.
        id: CameraId,
    },
    /// A camera with this id exists already.
    #[error("camera {id} already exists")]
    Conflict {
        /// The id given.
        id: CameraId,
    },
    /// The camera number asked for belongs to another camera (field `number`).
    #[error("{}", number_taken(*.number, .holder.as_ref()))]
    NumberTaken {
        /// The number asked for.
        number: u32,
        /// The camera holding it; `None` when a concurrent write outside the inventory's
        /// own locking took it (the unique index refused the write).
        holder: Option<CameraId>,
    },
    /// The camera's revision is not the one the caller based its update on.
    #[error("camera {id} is at revision {actual}, not the expected {expected}")]
    PreconditionFailed {
        /// The camera.
        id: CameraId,
        /// The revision the caller expected.
        expected: i64,
        /// The revision stored.
        actual: i64,
    },
    /// The stored credentials do not open with this key (another key, or a blob that was
    /// copied from another camera).
    #[error("credentials of camera {id} cannot be decrypted: wrong key?")]
    Decrypt {
        /// The camera.
        id: CameraId,
    },
    /// Sealing credentials failed (the system's crypto library refused).
    #[error("credentials of camera {id} cannot be encrypted")]
    Encrypt {
        /// The camera.
        id: CameraId,
    },
    /// The system's random number generator failed (generating an id).
    #[error("the system random number generator failed while {action}")]
    Random {
        /// What needed randomness.
        action: &'static str,
    },
    /// The database refused or could not be reached.
    #[error("{action}: database {url}: {source}")]
    Database {
        /// What was being done, e.g. "creating camera gas-01".
        action: String,
        /// The database's redacted URL.
        url: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// Creating or upgrading the inventory's tables failed.
    #[error("migrating the camera inventory in {url}: {source}")]
    Migrate {
        /// The database's redacted URL.
        url: String,
        /// sqlx's migration error.
        source: sqlx::migrate::MigrateError,
    },
    /// A stored row cannot be read back (edited by hand, or written by a newer version).
    #[error("camera {id}: stored {column} is unreadable: {reason}")]
    Corrupt {
        /// The row's id.
        id: String,
        /// The column.
        column: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A JSON import is not a JSON array of objects.
    #[error("JSON import, line {line} column {column}: {reason}")]
    JsonSyntax {
        /// 1-based line in the text.
        line: usize,
        /// 1-based column in the line.
        column: usize,
        /// What is wrong.
        reason: String,
    },
}

fn number_taken(number: u32, holder: Option<&CameraId>) -> String {
    match holder {
        Some(holder) => format!("camera number {number} is already used by camera {holder}"),
        None => format!("camera number {number} is already used by another camera"),
    }
}

fn join_field_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
