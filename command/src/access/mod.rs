//! Access control: user accounts, roles and jurisdictions, password hashes, signed session
//! and stream tokens, failed-login rate limiting, and the append-only audit log.
//!
//! This module is the storage and rules half of authentication and authorisation; the
//! HTTP half (login and logout routes, the bearer header and cookie, enforcing
//! [`Role::may`] and [`Jurisdiction::covers`] on every answer) lives in `web/`.
//!
//! # Vocabulary
//!
//! - A **user** ([`User`], id `U-` and 16 hex digits) has a **username** ([`Username`]: 3
//!   to 64 characters `a-z 0-9 . _ -`, case-insensitive, stored lower-case), a display
//!   name, a **role** ([`Role`]), a **jurisdiction** ([`Jurisdiction`]) and a
//!   **disabled** flag. Its revision counts its writes (optimistic concurrency, as
//!   elsewhere in the crate). A user is never deleted, only disabled: the audit log
//!   refers to it forever.
//! - A **role** says what a user may do ([`Role::may`] over [`Action`]s, one table);
//!   a **jurisdiction** says where: the city, one district, one street of a district, or
//!   one enterprise. Where an item (camera, incident, enterprise) belongs is its
//!   [`Scope`]; [`Jurisdiction::covers`] decides whether a user sees it, and
//!   [`Jurisdiction::within`] whether an administrator may create or manage a user.
//! - A **session** ([`Session`], id `S-` and 32 hex digits) is one login: opened by a
//!   successful password check, ended by logout (revoked), by expiry, or by a change of
//!   the user's role, jurisdiction, disabled flag or password (all its sessions are
//!   revoked, so a token's claims are never stale for long). The client holds a
//!   **session token** ([`SessionClaims`] signed by a [`TokenKey`]); every request checks
//!   the signature and expiry ([`TokenKey::verify`]) and then the session row
//!   ([`AccessStore::check_session`]), which answers with the user as stored now.
//! - A **stream token** ([`StreamClaims`]) lets a client without a session (a wall screen)
//!   play one hub path over WHEP until it expires. It is a different kind of token: a
//!   stream token is never accepted as a session token, nor the other way round.
//! - The **audit log** ([`AuditEntry`]) is append-only: logins, failed logins, logouts,
//!   stream views (a start entry, and an end entry that refers to it), PTZ commands,
//!   changes to incidents, cameras, the organisation and users. There is no function that
//!   changes or deletes an entry. Entry ids increase in commit order.
//!
//! # Secrets
//!
//! Passwords ([`Password`]), password hashes ([`PasswordHash`]), token keys
//! ([`TokenKey`]) and signed tokens ([`SignedToken`]) have `Debug` impls that print
//! `***`, no `Display`, and no `Serialize` (a token is handed out with
//! [`SignedToken::expose`]). [`User`] holds no hash. Errors never quote a password or a
//! token. Audit details are scrubbed of keys that look like secrets
//! ([`redact_detail`]).
//!
//! # Time
//!
//! Nothing here reads the clock. The stores take Unix milliseconds ([`UnixMs`]), tokens
//! Unix seconds (JWT's `iat`/`exp`), the rate limiter [`std::time::Instant`]s.
//!
//! # Storage
//!
//! Tables `access_users`, `access_sessions`, `access_audit` and `access_sequences` in the
//! command database, created by the embedded migration
//! `command/migrations/202611300301_access.sql` when [`AccessStore::open`] runs, and
//! `access_console_settings` (each user's private console settings,
//! [`ConsoleSettings`]; `202611300302_console_settings.sql`, not audited). See
//! [`AccessStore`] for transactions and locking.
//!
//! # Errors
//!
//! [`AccessError`] names the user, session or entry concerned; [`AccessError::code`] is a
//! stable snake_case name and [`AccessError::http_status`] the suggested status.

mod audit;
mod console;
mod model;
mod password;
mod ratelimit;
mod store;
mod token;

use std::fmt;

pub use audit::{
    AuditAction, AuditContext, AuditEntry, AuditFilter, AuditPage, MAX_DETAIL_BYTES, MAX_TARGET,
    NewAuditEntry, Outcome, StreamView, StreamViewFilter, StreamViewPage, StreamViewStart,
    redact_detail,
};
pub use console::{
    CONSOLE_LANGUAGES, CONSOLE_LAYOUTS, ConsoleGrid, ConsoleSettings, MAX_CONSOLE_SLOTS,
    MAX_FAVOURITES, StoredConsoleSettings,
};
pub use model::{
    Action, Actor, Jurisdiction, MAX_DISPLAY_NAME, MAX_PLACE, NewUser, Role, Scope, Session,
    SessionId, User, UserFilter, UserId, UserPage, UserUpdate, Username,
};
pub use password::{
    MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, Password, PasswordError, PasswordHash, PasswordHasher,
    PasswordParams,
};
pub use ratelimit::{LimitConfig, LimitedKey, LoginLimiter, RateLimited};
pub use store::{AccessStore, Authenticated, DEFAULT_LIMIT, MAX_LIMIT, SessionRejection};
pub use token::{
    Claims, DEFAULT_SESSION_TTL_SECS, DEFAULT_STREAM_TTL_SECS, KeyError, MAX_TOKEN_BYTES,
    SessionClaims, SignedToken, StreamClaims, TokenError, TokenKey, TokenKind, unix_seconds,
};

pub use crate::domain::{FieldError, UnixMs};

/// What an [`AccessError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    /// A user account.
    User,
    /// A login session.
    Session,
    /// An audit log entry (or a stream view, which is one).
    Audit,
    /// A user's console settings (named by the user's id).
    ConsoleSettings,
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Entity::User => "user",
            Entity::Session => "session",
            Entity::Audit => "audit entry",
            Entity::ConsoleSettings => "console settings of user",
        })
    }
}

/// Why an access operation failed; nothing was written. Every variant names what it is
/// about; none quotes a password, hash or token.
///
/// Suggested HTTP mapping ([`AccessError::http_status`]): `invalid` 422, `not_found` 404,
/// `conflict` and `last_admin` 409, `precondition_failed` 412, `session_rejected` 401,
/// `database` 503, the rest 500.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The input has invalid fields (all of them are listed).
    #[error("invalid {what}{}: {}", id_suffix(.id), join(.errors))]
    Invalid {
        /// What was being written.
        what: Entity,
        /// Its id, when known.
        id: Option<String>,
        /// Every problem, in field order.
        errors: Vec<FieldError>,
    },
    /// No such user, session or entry.
    #[error("{what} {id} not found")]
    NotFound {
        /// What was looked for.
        what: Entity,
        /// Its id (a username for lookups by name).
        id: String,
    },
    /// The write conflicts with what is stored (a username taken, a stream view ended
    /// already).
    #[error("{what} {id}: {reason}")]
    Conflict {
        /// What is in the way.
        what: Entity,
        /// Its id.
        id: String,
        /// Why.
        reason: String,
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
    /// The change would leave no enabled administrator with the city's jurisdiction, and
    /// so nobody able to manage every account.
    #[error(
        "user {id} is the last enabled city administrator: make another user a city \
         administrator first"
    )]
    LastAdmin {
        /// The administrator.
        id: String,
    },
    /// A session token's session is not usable (the token itself verified).
    #[error("session {id} {reason}")]
    SessionRejected {
        /// The session id.
        id: String,
        /// Why.
        reason: SessionRejection,
    },
    /// The database refused or could not be reached.
    #[error("{action}: database {url}: {source}")]
    Database {
        /// What was being done, e.g. "creating user alice".
        action: String,
        /// The database's redacted URL.
        url: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// Creating or upgrading the access tables failed.
    #[error("migrating the access tables in {url}: {source}")]
    Migrate {
        /// The database's redacted URL.
        url: String,
        /// sqlx's migration error.
        source: sqlx::migrate::MigrateError,
    },
    /// A stored row cannot be read back (edited by hand, written by a newer version).
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
    /// The operating system's random number generator failed (ids could not be made).
    #[error("cannot generate a random {what}: {reason}")]
    Entropy {
        /// What was being generated, e.g. "user id".
        what: &'static str,
        /// The system's error.
        reason: String,
    },
}

impl AccessError {
    /// A stable snake_case name of the error kind, for API answers and tests.
    pub fn code(&self) -> &'static str {
        match self {
            AccessError::Invalid { .. } => "invalid",
            AccessError::NotFound { .. } => "not_found",
            AccessError::Conflict { .. } => "conflict",
            AccessError::PreconditionFailed { .. } => "precondition_failed",
            AccessError::LastAdmin { .. } => "last_admin",
            AccessError::SessionRejected { .. } => "session_rejected",
            AccessError::Database { .. } => "database",
            AccessError::Migrate { .. } => "migrate",
            AccessError::Corrupt { .. } => "corrupt",
            AccessError::Entropy { .. } => "entropy",
        }
    }

    /// The suggested HTTP status (see the type's documentation).
    pub fn http_status(&self) -> u16 {
        match self {
            AccessError::Invalid { .. } => 422,
            AccessError::NotFound { .. } => 404,
            AccessError::Conflict { .. } | AccessError::LastAdmin { .. } => 409,
            AccessError::PreconditionFailed { .. } => 412,
            AccessError::SessionRejected { .. } => 401,
            AccessError::Database { .. } => 503,
            AccessError::Migrate { .. }
            | AccessError::Corrupt { .. }
            | AccessError::Entropy { .. } => 500,
        }
    }

    /// The invalid fields, if this is [`AccessError::Invalid`]; empty otherwise.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            AccessError::Invalid { errors, .. } => errors,
            _ => &[],
        }
    }

    pub(crate) fn invalid(what: Entity, id: Option<&str>, errors: Vec<FieldError>) -> Self {
        AccessError::Invalid {
            what,
            id: id.map(str::to_owned),
            errors,
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

/// `n` random bytes from the operating system, as lower-case hex (`2n` digits).
pub(crate) fn random_hex(n: usize, what: &'static str) -> Result<String, AccessError> {
    let mut bytes = vec![0u8; n];
    getrandom::getrandom(&mut bytes).map_err(|e| AccessError::Entropy {
        what,
        reason: e.to_string(),
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
