//! [`AccessStore`]: users, sessions and the audit log in the command database.

use std::fmt;
use std::net::IpAddr;

use serde_json::{Map, Value, json};

use super::audit::{
    AuditAction, AuditContext, AuditEntry, AuditFilter, AuditPage, NewAuditEntry, Outcome,
    StreamView, StreamViewFilter, StreamViewPage, StreamViewStart, redact_detail,
};
use super::model::{
    Actor, Jurisdiction, NewUser, Role, Session, SessionId, User, UserFilter, UserId, UserPage,
    UserUpdate, Username,
};
use super::password::PasswordHash;
use super::{AccessError, Entity, FieldError, UnixMs, random_hex};
use crate::Database;
use crate::domain::quote;
use crate::storage::sql::{
    Conditions, Page, RecordReader, RowRead, Tx, fetch_all, fetch_optional, like_pattern,
};
use crate::storage::{Arg, EmbeddedMigration};

/// Page size of the user, audit and stream view lists when the filter sets none.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest page size of those lists.
pub const MAX_LIMIT: u32 = 1000;

/// The access tables' migrations: (version, description, SQL), in version order. The
/// files live in `command/migrations/` (`<version>_<description>.sql`); a unit test checks
/// that this list and the folder's `YYYYMMDD03NN` files agree (`03`: this module; `01` is
/// the organisation's, `02` the incidents'). Never edit an applied migration: sqlx stores
/// its checksum and refuses to start when it changes.
pub(crate) const MIGRATIONS: &[EmbeddedMigration] = &[
    (
        202611300301,
        "access",
        include_str!("../../migrations/202611300301_access.sql"),
    ),
    (
        202611300302,
        "console settings",
        include_str!("../../migrations/202611300302_console_settings.sql"),
    ),
];

const SELECT_USER: &str = "SELECT id, username, display_name, role, jurisdiction_level, \
     district, street, enterprise_id, disabled, password_changed_at, created_at, updated_at, \
     revision FROM access_users";
const SELECT_SESSION: &str =
    "SELECT id, user_id, created_at, expires_at, revoked_at, source FROM access_sessions";
const SELECT_AUDIT: &str = "SELECT id, at, actor_id, actor_username, source, action, target, \
     outcome, ref_id, detail FROM access_audit";
/// Stream views: each start entry with its end entry, if any.
const FROM_VIEWS: &str = " FROM access_audit s LEFT JOIN access_audit e \
     ON e.ref_id = s.id AND e.action = 'stream_view_ended'";

/// Why a verified session token's session is refused
/// ([`AccessError::SessionRejected`]). All are HTTP 401: log in again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionRejection {
    /// No such session (never opened, or pruned).
    Unknown,
    /// Logged out, or revoked by a change of the user's access or password.
    Revoked,
    /// Past its expiry.
    Expired,
    /// The user is disabled.
    UserDisabled,
}

impl SessionRejection {
    /// A stable snake_case name.
    pub fn code(self) -> &'static str {
        match self {
            SessionRejection::Unknown => "unknown",
            SessionRejection::Revoked => "revoked",
            SessionRejection::Expired => "expired",
            SessionRejection::UserDisabled => "user_disabled",
        }
    }
}

impl fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionRejection::Unknown => "does not exist",
            SessionRejection::Revoked => "was revoked (logged out)",
            SessionRejection::Expired => "has expired",
            SessionRejection::UserDisabled => "belongs to a disabled user",
        })
    }
}

/// An active session and its user as stored now
/// ([`AccessStore::check_session`]): authorise with this user's role and jurisdiction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The session.
    pub session: Session,
    /// Its user.
    pub user: User,
}

/// Users, sessions and the audit log over the command [`Database`]. Cheap to clone (a
/// pool handle); `Debug` shows the redacted URL.
///
/// # Transactions and locking
///
/// Every write is one transaction and writes its audit entry in the same transaction (a
/// change is never without its entry, nor an entry without its change). Writes to users
/// (create, update, password) first lock the `users` counter row, so they run one at a
/// time — which is what keeps "the last enabled city administrator" from being demoted by
/// two concurrent updates. Audit ids come from the `audit` counter row, advanced last in
/// every transaction and locked until commit: ids increase in commit order, and since it
/// is always the last lock taken, transactions never wait on each other in a cycle. On
/// SQLite every write begins with `BEGIN IMMEDIATE`; on PostgreSQL rows read before a
/// change are locked with `FOR UPDATE`.
///
/// # Authorisation
///
/// The store enforces the data's rules (unique usernames, revisions, the last city
/// administrator, revoking sessions), not who may ask: the caller checks
/// [`Role::may`](super::Role::may) and, for user management,
/// [`Jurisdiction::within`] before calling.
#[derive(Clone)]
pub struct AccessStore {
    db: Database,
}

impl fmt::Debug for AccessStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessStore")
            .field("database", &self.db.redacted_url())
            .finish()
    }
}

impl AccessStore {
    /// Opens the store on `db`, creating or upgrading its tables (embedded migrations
    /// `YYYYMMDD03NN`, sharing `_sqlx_migrations` with the other modules).
    pub async fn open(db: Database) -> Result<AccessStore, AccessError> {
        crate::storage::migrate(&db, MIGRATIONS)
            .await
            .map_err(|source| AccessError::Migrate {
                url: db.redacted_url().to_owned(),
                source,
            })?;
        Ok(AccessStore { db })
    }

    /// The database handle.
    pub fn database(&self) -> &Database {
        &self.db
    }

    // ----- users ----------------------------------------------------------------------

    /// Creates a user (id `U-` and 16 random hex digits, revision 1) with the password
    /// hash `hash` (made by the caller from `new.password`, on a blocking thread) at `now`
    /// (Unix ms), and appends `user_created` by `context`.
    ///
    /// Errors: [`AccessError::Invalid`] listing every invalid field of `new` (the
    /// password's length included); [`AccessError::Conflict`] when the username is taken.
    pub async fn create_user(
        &self,
        new: &NewUser,
        hash: &PasswordHash,
        context: &AuditContext,
        now: UnixMs,
    ) -> Result<User, AccessError> {
        let errors = new.validate();
        if !errors.is_empty() {
            return Err(AccessError::invalid(Entity::User, None, errors));
        }
        let username = Username::parse(&new.username)
            .map_err(|r| AccessError::invalid(Entity::User, None, vec![bad("username", r)]))?;
        let user = User {
            id: new_id("U-", 8, "user id")?,
            username,
            display_name: new.display_name.trim().to_owned(),
            role: new.role,
            jurisdiction: new.jurisdiction.normalized(),
            disabled: new.disabled,
            created_at: now,
            updated_at: now,
            password_changed_at: now,
            revision: 1,
        };
        let action = format!("creating user {}", user.username);
        let mut tx = self.begin(&action).await?;
        let result = async {
            self.advance(&mut tx, "users", &action).await?;
            let taken = tx
                .fetch_optional(
                    "SELECT id FROM access_users WHERE username = $1",
                    vec![text(user.username.as_str())],
                    |r| r.text("id").map_err(self.db_err(&action)),
                    self.db_err(&action),
                )
                .await?;
            if let Some(holder) = taken {
                return Err(AccessError::Conflict {
                    what: Entity::User,
                    id: user.username.to_string(),
                    reason: format!("the username is taken (by {holder})"),
                });
            }
            let mut args = vec![
                text(user.id.as_str()),
                text(user.username.as_str()),
                text(&user.display_name),
                text(user.role.as_str()),
            ];
            args.extend(jurisdiction_args(&user.jurisdiction));
            args.extend([
                text(hash.expose()),
                Arg::Int(now),
                Arg::Bool(user.disabled),
                Arg::Int(now),
                Arg::Int(now),
                Arg::Int(1),
            ]);
            tx.execute(
                "INSERT INTO access_users (id, username, display_name, role, \
                 jurisdiction_level, district, street, enterprise_id, password_hash, \
                 password_changed_at, disabled, created_at, updated_at, revision) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                args,
            )
            .await
            .map_err(self.db_err(&action))?;
            let entry = NewAuditEntry::new(context, AuditAction::UserCreated, now)
                .target(user.id.as_str())
                .detail("username", user.username.as_str())
                .detail("display_name", user.display_name.as_str())
                .detail("role", user.role.as_str())
                .detail("jurisdiction", jurisdiction_json(&user.jurisdiction))
                .detail("disabled", user.disabled);
            self.append_in(&mut tx, entry, None, &action).await?;
            Ok(())
        }
        .await;
        self.finish(tx, result, &action).await?;
        tracing::info!(user = %user.id, username = %user.username, role = %user.role, "user created");
        Ok(user)
    }

    /// The user with id `id`; [`AccessError::NotFound`] if none.
    pub async fn get_user(&self, id: &UserId) -> Result<User, AccessError> {
        let action = format!("reading user {id}");
        fetch_optional(
            &self.db,
            &format!("{SELECT_USER} WHERE id = $1"),
            vec![text(id.as_str())],
            user_from_row,
            self.db_err(&action),
        )
        .await?
        .ok_or_else(|| not_found(Entity::User, id.as_str()))
    }

    /// The user named `username` (normalised as [`Username::parse`] does);
    /// [`AccessError::NotFound`] if none (also for a name no user can have).
    pub async fn get_user_by_username(&self, username: &str) -> Result<User, AccessError> {
        let Ok(name) = Username::parse(username) else {
            return Err(not_found(Entity::User, username));
        };
        let action = format!("reading user {name}");
        fetch_optional(
            &self.db,
            &format!("{SELECT_USER} WHERE username = $1"),
            vec![text(name.as_str())],
            user_from_row,
            self.db_err(&action),
        )
        .await?
        .ok_or_else(|| not_found(Entity::User, name.as_str()))
    }

    /// For a login: the user named `username` (normalised as [`Username::parse`] does)
    /// and its password hash, or `None` when there is no such user (verify against
    /// [`PasswordHasher::verify_dummy`](super::PasswordHasher::verify_dummy) then). A
    /// disabled user is returned too: check [`User::disabled`] after verifying, so that
    /// the time taken does not tell disabled accounts apart.
    pub async fn credentials(
        &self,
        username: &str,
    ) -> Result<Option<(User, PasswordHash)>, AccessError> {
        let Ok(name) = Username::parse(username) else {
            return Ok(None);
        };
        let action = format!("reading the credentials of user {name}");
        let sql = "SELECT id, username, display_name, role, jurisdiction_level, district, \
             street, enterprise_id, disabled, password_changed_at, created_at, updated_at, \
             revision, password_hash FROM access_users WHERE username = $1";
        fetch_optional(
            &self.db,
            sql,
            vec![text(name.as_str())],
            |row| {
                let user = user_from_row(row)?;
                let r = reader(row, Entity::User, "id")?;
                // The reason never quotes the hash.
                let hash = r.parsed("password_hash", PasswordHash::parse)?;
                Ok((user, hash))
            },
            self.db_err(&action),
        )
        .await
    }

    /// The users matching `filter`, ordered by username.
    ///
    /// Errors: [`AccessError::Invalid`] for a `limit` above [`MAX_LIMIT`] or an unknown
    /// `level`.
    pub async fn list_users(&self, filter: &UserFilter) -> Result<UserPage, AccessError> {
        let page = page(filter.limit, filter.offset, Entity::User)?;
        let mut w = Conditions::default();
        if let Some(role) = filter.role {
            w.add("role = ?", text(role.as_str()));
        }
        if let Some(disabled) = filter.disabled {
            w.add("disabled = ?", Arg::Bool(disabled));
        }
        if let Some(level) = &filter.level {
            if !matches!(
                level.as_str(),
                "city" | "district" | "street" | "enterprise"
            ) {
                return Err(AccessError::invalid(
                    Entity::User,
                    None,
                    vec![bad(
                        "level",
                        format!(
                            "{} is not a jurisdiction level: city, district, street or \
                             enterprise",
                            quote(level)
                        ),
                    )],
                ));
            }
            w.add("jurisdiction_level = ?", text(level));
        }
        for (column, value) in [
            ("district", &filter.district),
            ("street", &filter.street),
            ("enterprise_id", &filter.enterprise_id),
        ] {
            if let Some(value) = value {
                w.add(&format!("{column} = ?"), text(value));
            }
        }
        if let Some(pattern) = like_pattern(filter.q.as_deref()) {
            w.add(
                "(LOWER(username) LIKE ? ESCAPE '\\' OR LOWER(display_name) LIKE ? ESCAPE '\\')",
                Arg::Text(Some(pattern)),
            );
        }
        let action = "listing users";
        let (where_sql, args) = w.build();
        let total = self
            .count(
                &format!("SELECT COUNT(*) AS n FROM access_users{where_sql}"),
                &args,
                action,
            )
            .await?;
        let (sql, args) = page.apply(
            &format!("{SELECT_USER}{where_sql} ORDER BY username"),
            &args,
        );
        let items = fetch_all(&self.db, &sql, args, user_from_row, self.db_err(action)).await?;
        Ok(UserPage { items, total })
    }

    /// Changes user `id` as `update` says at `now`, if its revision is
    /// `expected_revision` (when given), and appends `user_changed` (with the fields that
    /// changed, before and after) by `context`. A change of role, jurisdiction or
    /// disabled flag revokes the user's sessions: its tokens' claims would be stale, and
    /// a disabled user must be out at once.
    ///
    /// Errors: [`AccessError::Invalid`] (every invalid field; an update naming no field);
    /// [`AccessError::NotFound`]; [`AccessError::PreconditionFailed`];
    /// [`AccessError::LastAdmin`] when the user is the last enabled administrator with the
    /// city's jurisdiction and would no longer be one.
    pub async fn update_user(
        &self,
        id: &UserId,
        update: &UserUpdate,
        expected_revision: Option<i64>,
        context: &AuditContext,
        now: UnixMs,
    ) -> Result<User, AccessError> {
        let errors = update.validate();
        if !errors.is_empty() {
            return Err(AccessError::invalid(
                Entity::User,
                Some(id.as_str()),
                errors,
            ));
        }
        let action = format!("changing user {id}");
        let mut tx = self.begin(&action).await?;
        let result = async {
            let old = self
                .lock_user(&mut tx, id, expected_revision, &action)
                .await?;
            let new = User {
                display_name: update
                    .display_name
                    .as_deref()
                    .map_or_else(|| old.display_name.clone(), |n| n.trim().to_owned()),
                role: update.role.unwrap_or(old.role),
                jurisdiction: update
                    .jurisdiction
                    .as_ref()
                    .map_or_else(|| old.jurisdiction.clone(), Jurisdiction::normalized),
                disabled: update.disabled.unwrap_or(old.disabled),
                updated_at: now,
                revision: old.revision + 1,
                ..old.clone()
            };
            if is_city_admin(&old) && !is_city_admin(&new) {
                let others = self
                    .count_in(
                        &mut tx,
                        "SELECT COUNT(*) AS n FROM access_users WHERE role = 'admin' \
                         AND disabled = $1 AND jurisdiction_level = 'city' AND id <> $2",
                        vec![Arg::Bool(false), text(id.as_str())],
                        &action,
                    )
                    .await?;
                if others == 0 {
                    return Err(AccessError::LastAdmin { id: id.to_string() });
                }
            }
            let mut args = vec![text(&new.display_name), text(new.role.as_str())];
            args.extend(jurisdiction_args(&new.jurisdiction));
            args.extend([
                Arg::Bool(new.disabled),
                Arg::Int(now),
                Arg::Int(new.revision),
                text(id.as_str()),
            ]);
            tx.execute(
                "UPDATE access_users SET display_name = $1, role = $2, \
                 jurisdiction_level = $3, district = $4, street = $5, enterprise_id = $6, \
                 disabled = $7, updated_at = $8, revision = $9 WHERE id = $10",
                args,
            )
            .await
            .map_err(self.db_err(&action))?;
            let revoked = if update.changes_access(&old) {
                self.revoke_all(&mut tx, id, None, now, &action).await?
            } else {
                0
            };
            let mut entry = NewAuditEntry::new(context, AuditAction::UserChanged, now)
                .target(id.as_str())
                .detail("changes", changes(&old, &new))
                .detail("revision", new.revision);
            if revoked > 0 {
                entry = entry.detail("sessions_revoked", revoked);
            }
            self.append_in(&mut tx, entry, None, &action).await?;
            Ok(new)
        }
        .await;
        let user = self.finish(tx, result, &action).await?;
        tracing::info!(user = %id, revision = user.revision, "user changed");
        Ok(user)
    }

    /// Sets user `id`'s password hash (made by the caller from a checked
    /// [`Password`](super::Password)) at `now`, if its revision is `expected_revision`
    /// (when given); revokes every session of the user except `keep_session` (the one
    /// changing its own password stays logged in); appends `password_changed`.
    ///
    /// Errors: [`AccessError::NotFound`], [`AccessError::PreconditionFailed`].
    pub async fn set_password(
        &self,
        id: &UserId,
        hash: &PasswordHash,
        expected_revision: Option<i64>,
        keep_session: Option<&SessionId>,
        context: &AuditContext,
        now: UnixMs,
    ) -> Result<User, AccessError> {
        let action = format!("setting the password of user {id}");
        let mut tx = self.begin(&action).await?;
        let result = async {
            let old = self
                .lock_user(&mut tx, id, expected_revision, &action)
                .await?;
            let user = User {
                password_changed_at: now,
                updated_at: now,
                revision: old.revision + 1,
                ..old
            };
            tx.execute(
                "UPDATE access_users SET password_hash = $1, password_changed_at = $2, \
                 updated_at = $2, revision = $3 WHERE id = $4",
                vec![
                    text(hash.expose()),
                    Arg::Int(now),
                    Arg::Int(user.revision),
                    text(id.as_str()),
                ],
            )
            .await
            .map_err(self.db_err(&action))?;
            let revoked = self
                .revoke_all(&mut tx, id, keep_session, now, &action)
                .await?;
            let entry = NewAuditEntry::new(context, AuditAction::PasswordChanged, now)
                .target(id.as_str())
                .detail("sessions_revoked", revoked);
            self.append_in(&mut tx, entry, None, &action).await?;
            Ok(user)
        }
        .await;
        let user = self.finish(tx, result, &action).await?;
        tracing::info!(user = %id, "password changed");
        Ok(user)
    }

    /// How many enabled administrators with the city's jurisdiction there are: the
    /// accounts that can manage every other. Zero on a fresh database (create the first
    /// one then); never brought back to zero by [`AccessStore::update_user`].
    pub async fn count_admins(&self) -> Result<u64, AccessError> {
        self.count(
            "SELECT COUNT(*) AS n FROM access_users WHERE role = 'admin' AND disabled = $1 \
             AND jurisdiction_level = 'city'",
            &[Arg::Bool(false)],
            "counting administrators",
        )
        .await
    }

    /// Locks user `id` for this transaction (after the `users` counter) and checks its
    /// revision.
    async fn lock_user(
        &self,
        tx: &mut Tx,
        id: &UserId,
        expected_revision: Option<i64>,
        action: &str,
    ) -> Result<User, AccessError> {
        self.advance(tx, "users", action).await?;
        let sql = format!("{SELECT_USER} WHERE id = $1{}", tx.for_update());
        let user = tx
            .fetch_optional(
                &sql,
                vec![text(id.as_str())],
                user_from_row,
                self.db_err(action),
            )
            .await?
            .ok_or_else(|| not_found(Entity::User, id.as_str()))?;
        if let Some(expected) = expected_revision
            && expected != user.revision
        {
            return Err(AccessError::PreconditionFailed {
                what: Entity::User,
                id: id.to_string(),
                expected,
                actual: user.revision,
            });
        }
        Ok(user)
    }

    // ----- sessions -------------------------------------------------------------------

    /// Opens a session for user `user_id` at `now` (Unix ms), expiring `ttl_ms` later, from
    /// `source`, and appends `login` (target: the username). Call after the password
    /// verified; sign [`SessionClaims::new`](super::SessionClaims::new) for the client.
    ///
    /// Errors: [`AccessError::Invalid`] for a `ttl_ms` that is not positive;
    /// [`AccessError::NotFound`]; [`AccessError::Conflict`] when the user is disabled.
    pub async fn open_session(
        &self,
        user_id: &UserId,
        ttl_ms: i64,
        source: Option<IpAddr>,
        now: UnixMs,
    ) -> Result<Session, AccessError> {
        if ttl_ms <= 0 {
            return Err(AccessError::invalid(
                Entity::Session,
                None,
                vec![bad(
                    "ttl_ms",
                    format!("{ttl_ms} is not a positive duration"),
                )],
            ));
        }
        let session = Session {
            id: new_id("S-", 16, "session id")?,
            user_id: user_id.clone(),
            created_at: now,
            expires_at: now.saturating_add(ttl_ms),
            revoked_at: None,
            source,
        };
        let action = format!("opening a session for user {user_id}");
        let mut tx = self.begin(&action).await?;
        let result = async {
            // Locked, so that disabling the user waits for this session (and revokes it)
            // or this waits and sees the user disabled.
            let sql = format!("{SELECT_USER} WHERE id = $1{}", tx.for_update());
            let user = tx
                .fetch_optional(
                    &sql,
                    vec![text(user_id.as_str())],
                    user_from_row,
                    self.db_err(&action),
                )
                .await?
                .ok_or_else(|| not_found(Entity::User, user_id.as_str()))?;
            if user.disabled {
                return Err(AccessError::Conflict {
                    what: Entity::User,
                    id: user_id.to_string(),
                    reason: "is disabled and cannot log in".to_owned(),
                });
            }
            tx.execute(
                "INSERT INTO access_sessions (id, user_id, created_at, expires_at, \
                 revoked_at, source) VALUES ($1, $2, $3, $4, NULL, $5)",
                vec![
                    text(session.id.as_str()),
                    text(user_id.as_str()),
                    Arg::Int(now),
                    Arg::Int(session.expires_at),
                    Arg::Text(source.map(|s| s.to_string())),
                ],
            )
            .await
            .map_err(self.db_err(&action))?;
            let entry =
                NewAuditEntry::new(&AuditContext::user(&user, source), AuditAction::Login, now)
                    .target(user.username.as_str())
                    .detail("session_id", session.id.as_str())
                    .detail("expires_at", session.expires_at);
            self.append_in(&mut tx, entry, None, &action).await?;
            Ok(())
        }
        .await;
        self.finish(tx, result, &action).await?;
        tracing::info!(user = %user_id, session = %session.id, "session opened");
        Ok(session)
    }

    /// The session `id` and its user as stored now, if the session may be used at `now`
    /// (Unix ms): it exists, is not revoked, has not expired, and its user is not
    /// disabled. Call on every request after [`TokenKey::verify`](super::TokenKey::verify).
    ///
    /// Errors: [`AccessError::SessionRejected`] saying which of the four failed (checked
    /// in that order).
    pub async fn check_session(
        &self,
        id: &SessionId,
        now: UnixMs,
    ) -> Result<Authenticated, AccessError> {
        let action = format!("checking session {id}");
        let sql = "SELECT s.id AS session_id, s.created_at AS session_created_at, \
             s.expires_at AS session_expires_at, s.revoked_at AS session_revoked_at, \
             s.source AS session_source, u.id, u.username, u.display_name, u.role, \
             u.jurisdiction_level, u.district, u.street, u.enterprise_id, u.disabled, \
             u.password_changed_at, u.created_at, u.updated_at, u.revision \
             FROM access_sessions s JOIN access_users u ON u.id = s.user_id WHERE s.id = $1";
        let found = fetch_optional(
            &self.db,
            sql,
            vec![text(id.as_str())],
            |row| {
                let user = user_from_row(row)?;
                let r = reader(row, Entity::Session, "session_id")?;
                let session = Session {
                    id: r.parsed("session_id", SessionId::parse)?,
                    user_id: user.id.clone(),
                    created_at: r.int("session_created_at")?,
                    expires_at: r.int("session_expires_at")?,
                    revoked_at: r.opt_int("session_revoked_at")?,
                    source: r.opt_parsed("session_source", parse_ip)?,
                };
                Ok(Authenticated { session, user })
            },
            self.db_err(&action),
        )
        .await?;
        let reject = |reason| AccessError::SessionRejected {
            id: id.to_string(),
            reason,
        };
        let Some(found) = found else {
            return Err(reject(SessionRejection::Unknown));
        };
        if found.session.revoked_at.is_some() {
            Err(reject(SessionRejection::Revoked))
        } else if now >= found.session.expires_at {
            Err(reject(SessionRejection::Expired))
        } else if found.user.disabled {
            Err(reject(SessionRejection::UserDisabled))
        } else {
            Ok(found)
        }
    }

    /// Revokes session `id` at `now` (logout) and appends `logout` (target: the session
    /// id; actor: `context`'s, else the session's user). Returns whether it was active;
    /// revoking an unknown, expired or revoked session changes and records nothing.
    pub async fn revoke_session(
        &self,
        id: &SessionId,
        context: &AuditContext,
        now: UnixMs,
    ) -> Result<bool, AccessError> {
        let action = format!("revoking session {id}");
        let mut tx = self.begin(&action).await?;
        let result = async {
            let sql = format!("{SELECT_SESSION} WHERE id = $1{}", tx.for_update());
            let session = tx
                .fetch_optional(
                    &sql,
                    vec![text(id.as_str())],
                    session_from_row,
                    self.db_err(&action),
                )
                .await?;
            let Some(session) = session.filter(|s| s.is_active(now)) else {
                return Ok(false);
            };
            tx.execute(
                "UPDATE access_sessions SET revoked_at = $1 WHERE id = $2",
                vec![Arg::Int(now), text(id.as_str())],
            )
            .await
            .map_err(self.db_err(&action))?;
            let mut entry = NewAuditEntry::new(context, AuditAction::Logout, now)
                .target(id.as_str())
                .detail("user_id", session.user_id.as_str());
            if entry.actor.is_none() {
                let owner = tx
                    .fetch_optional(
                        "SELECT username FROM access_users WHERE id = $1",
                        vec![text(session.user_id.as_str())],
                        |r| {
                            let r = reader(r, Entity::User, "username")?;
                            r.parsed("username", Username::parse)
                        },
                        self.db_err(&action),
                    )
                    .await?;
                entry.actor = owner.map(|username| Actor {
                    id: session.user_id.clone(),
                    username,
                });
            }
            self.append_in(&mut tx, entry, None, &action).await?;
            Ok(true)
        }
        .await;
        let revoked = self.finish(tx, result, &action).await?;
        if revoked {
            tracing::info!(session = %id, "session revoked");
        }
        Ok(revoked)
    }

    /// The sessions of user `user_id` still active at `now`, newest first.
    pub async fn active_sessions(
        &self,
        user_id: &UserId,
        now: UnixMs,
    ) -> Result<Vec<Session>, AccessError> {
        let action = format!("listing the sessions of user {user_id}");
        fetch_all(
            &self.db,
            &format!(
                "{SELECT_SESSION} WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
                 ORDER BY created_at DESC, id"
            ),
            vec![text(user_id.as_str()), Arg::Int(now)],
            session_from_row,
            self.db_err(&action),
        )
        .await
    }

    /// Deletes the sessions that expired or were revoked before `before` (Unix ms):
    /// housekeeping, run now and then. Returns how many. (Sessions are not audit
    /// entries; their logins and logouts are.)
    pub async fn prune_sessions(&self, before: UnixMs) -> Result<u64, AccessError> {
        let action = "pruning sessions";
        let mut tx = self.begin(action).await?;
        let result = tx
            .execute(
                "DELETE FROM access_sessions WHERE expires_at < $1 OR revoked_at < $1",
                vec![Arg::Int(before)],
            )
            .await
            .map_err(self.db_err(action));
        self.finish(tx, result, action).await
    }

    /// Revokes the active sessions of `user_id` except `keep`; returns how many.
    async fn revoke_all(
        &self,
        tx: &mut Tx,
        user_id: &UserId,
        keep: Option<&SessionId>,
        now: UnixMs,
        action: &str,
    ) -> Result<u64, AccessError> {
        tx.execute(
            "UPDATE access_sessions SET revoked_at = $1 WHERE user_id = $2 \
             AND revoked_at IS NULL AND expires_at > $1 AND id <> $3",
            vec![
                Arg::Int(now),
                text(user_id.as_str()),
                text(keep.map_or("", SessionId::as_str)),
            ],
        )
        .await
        .map_err(self.db_err(action))
    }

    // ----- audit ----------------------------------------------------------------------

    /// Appends `entry` to the audit log (its detail redacted, [`redact_detail`]) and
    /// returns it with its id. The store's own writes append their entries themselves
    /// (`user_created`, `user_changed`, `password_changed`, `login`, `logout`, stream
    /// views): do not append those again.
    ///
    /// Errors: [`AccessError::Invalid`] for a target or detail too large, or a
    /// `stream_view_ended` entry (use [`AccessStore::stream_view_ended`], which links it
    /// to its start).
    pub async fn append_audit(&self, entry: NewAuditEntry) -> Result<AuditEntry, AccessError> {
        if entry.action == AuditAction::StreamViewEnded {
            return Err(AccessError::invalid(
                Entity::Audit,
                None,
                vec![bad(
                    "action",
                    "a stream view's end is recorded with stream_view_ended(view_id)",
                )],
            ));
        }
        let action = format!("appending audit entry {}", entry.action);
        let mut tx = self.begin(&action).await?;
        let result = self.append_in(&mut tx, entry, None, &action).await;
        self.finish(tx, result, &action).await
    }

    /// Appends `login_failed` for the username `attempted` (as typed, truncated to 64
    /// characters; the target) from `source` at `at`, with `detail.reason` (e.g.
    /// `bad_password`, `unknown_user`, `disabled`, `rate_limited`: the log says why, the
    /// client should not be told). No actor, even when the user exists.
    pub async fn record_login_failed(
        &self,
        attempted: &str,
        source: Option<IpAddr>,
        reason: &str,
        at: UnixMs,
    ) -> Result<AuditEntry, AccessError> {
        let target: String = attempted.trim().chars().take(Username::MAX).collect();
        let entry = NewAuditEntry::new(
            &AuditContext::anonymous(source),
            AuditAction::LoginFailed,
            at,
        )
        .target(target)
        .outcome(Outcome::Denied)
        .detail("reason", reason);
        self.append_audit(entry).await
    }

    /// The audit entries matching `filter`, newest (highest id) first.
    ///
    /// Errors: [`AccessError::Invalid`] for a `limit` above [`MAX_LIMIT`] or `to` before
    /// `from`.
    pub async fn list_audit(&self, filter: &AuditFilter) -> Result<AuditPage, AccessError> {
        let page = page(filter.limit, filter.offset, Entity::Audit)?;
        check_range(filter.from, filter.to)?;
        let mut w = Conditions::default();
        if let Some(actor) = &filter.actor {
            w.add("(actor_id = ? OR actor_username = ?)", text(actor));
        }
        if let Some(a) = filter.action {
            w.add("action = ?", text(a.as_str()));
        }
        if let Some(target) = &filter.target {
            w.add("target = ?", text(target));
        }
        if let Some(outcome) = filter.outcome {
            w.add("outcome = ?", text(outcome.as_str()));
        }
        if let Some(from) = filter.from {
            w.add("at >= ?", Arg::Int(from));
        }
        if let Some(to) = filter.to {
            w.add("at < ?", Arg::Int(to));
        }
        let action = "listing the audit log";
        let (where_sql, args) = w.build();
        let total = self
            .count(
                &format!("SELECT COUNT(*) AS n FROM access_audit{where_sql}"),
                &args,
                action,
            )
            .await?;
        let (sql, args) = page.apply(
            &format!("{SELECT_AUDIT}{where_sql} ORDER BY id DESC"),
            &args,
        );
        let items = fetch_all(&self.db, &sql, args, audit_from_row, self.db_err(action)).await?;
        Ok(AuditPage { items, total })
    }

    /// Records a stream view's start (`stream_view_started`, target: the path) and
    /// returns the view's id (the entry's id), for [`AccessStore::stream_view_ended`].
    ///
    /// Errors: [`AccessError::Invalid`] for a blank or too long path, or a too large
    /// detail.
    pub async fn stream_view_started(&self, start: StreamViewStart) -> Result<i64, AccessError> {
        if start.path.trim().is_empty() {
            return Err(AccessError::invalid(
                Entity::Audit,
                None,
                vec![bad("path", "is required and must not be blank")],
            ));
        }
        let entry = NewAuditEntry {
            at: start.at,
            actor: start.actor,
            source: start.source,
            action: AuditAction::StreamViewStarted,
            target: Some(start.path),
            outcome: Outcome::Success,
            detail: start.detail,
        };
        Ok(self.append_audit(entry).await?.id)
    }

    /// Records the end of view `view_id` at `at` (Unix ms): a `stream_view_ended` entry
    /// with the start's actor, source and path, `ref_id` = `view_id` and
    /// `detail.duration_ms`. An end before the start (clocks of two nodes) is recorded at
    /// the start.
    ///
    /// Errors: [`AccessError::NotFound`] when `view_id` is not a stream view's start;
    /// [`AccessError::Conflict`] when its end is recorded already.
    pub async fn stream_view_ended(
        &self,
        view_id: i64,
        at: UnixMs,
    ) -> Result<AuditEntry, AccessError> {
        let action = format!("ending stream view {view_id}");
        let mut tx = self.begin(&action).await?;
        let result = async {
            let sql = format!("{SELECT_AUDIT} WHERE id = $1{}", tx.for_update());
            let start = tx
                .fetch_optional(
                    &sql,
                    vec![Arg::Int(view_id)],
                    audit_from_row,
                    self.db_err(&action),
                )
                .await?
                .filter(|e| e.action == AuditAction::StreamViewStarted)
                .ok_or_else(|| not_found(Entity::Audit, &format!("stream view {view_id}")))?;
            let ended = tx
                .fetch_optional(
                    "SELECT id FROM access_audit WHERE ref_id = $1",
                    vec![Arg::Int(view_id)],
                    |r| r.int("id").map_err(self.db_err(&action)),
                    self.db_err(&action),
                )
                .await?;
            if let Some(end) = ended {
                return Err(AccessError::Conflict {
                    what: Entity::Audit,
                    id: format!("stream view {view_id}"),
                    reason: format!("has ended already (entry {end})"),
                });
            }
            let at = at.max(start.at);
            let entry = NewAuditEntry {
                at,
                actor: start.actor,
                source: start.source,
                action: AuditAction::StreamViewEnded,
                target: start.target,
                outcome: Outcome::Success,
                detail: Map::from_iter([("duration_ms".to_owned(), json!(at - start.at))]),
            };
            self.append_in(&mut tx, entry, Some(view_id), &action).await
        }
        .await;
        self.finish(tx, result, &action).await
    }

    /// The stream views matching `filter` (start entries joined with their end entries),
    /// newest start first.
    ///
    /// Errors: [`AccessError::Invalid`] for a `limit` above [`MAX_LIMIT`] or `to` before
    /// `from`.
    pub async fn stream_views(
        &self,
        filter: &StreamViewFilter,
    ) -> Result<StreamViewPage, AccessError> {
        let page = page(filter.limit, filter.offset, Entity::Audit)?;
        check_range(filter.from, filter.to)?;
        let mut w = Conditions::default();
        w.add_plain("s.action = 'stream_view_started'");
        if let Some(actor) = &filter.actor {
            w.add("(s.actor_id = ? OR s.actor_username = ?)", text(actor));
        }
        if let Some(path) = &filter.path {
            w.add("s.target = ?", text(path));
        }
        if let Some(from) = filter.from {
            w.add("s.at >= ?", Arg::Int(from));
        }
        if let Some(to) = filter.to {
            w.add("s.at < ?", Arg::Int(to));
        }
        match filter.open {
            Some(true) => w.add_plain("e.id IS NULL"),
            Some(false) => w.add_plain("e.id IS NOT NULL"),
            None => {}
        }
        let action = "listing stream views";
        let (where_sql, args) = w.build();
        let total = self
            .count(
                &format!("SELECT COUNT(*) AS n{FROM_VIEWS}{where_sql}"),
                &args,
                action,
            )
            .await?;
        let (sql, args) = page.apply(
            &format!(
                "SELECT s.id AS view_id, s.action, s.actor_id, s.actor_username, s.source, \
                 s.target AS path, s.at AS started_at, e.at AS ended_at\
                 {FROM_VIEWS}{where_sql} ORDER BY s.id DESC"
            ),
            &args,
        );
        let items = fetch_all(&self.db, &sql, args, view_from_row, self.db_err(action)).await?;
        Ok(StreamViewPage { items, total })
    }

    /// Appends `entry` (validated, redacted; `ref_id` for a view's end) in `tx`, with the
    /// next audit id. Must be the last lock a transaction takes.
    async fn append_in(
        &self,
        tx: &mut Tx,
        mut entry: NewAuditEntry,
        ref_id: Option<i64>,
        action: &str,
    ) -> Result<AuditEntry, AccessError> {
        redact_detail(&mut entry.detail);
        let errors = entry.validate();
        if !errors.is_empty() {
            return Err(AccessError::invalid(Entity::Audit, None, errors));
        }
        let id = self.advance(tx, "audit", action).await?;
        let detail = Value::Object(entry.detail.clone()).to_string();
        tx.execute(
            "INSERT INTO access_audit (id, at, actor_id, actor_username, source, action, \
             target, outcome, ref_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            vec![
                Arg::Int(id),
                Arg::Int(entry.at),
                Arg::Text(entry.actor.as_ref().map(|a| a.id.to_string())),
                Arg::Text(entry.actor.as_ref().map(|a| a.username.to_string())),
                Arg::Text(entry.source.map(|s| s.to_string())),
                text(entry.action.as_str()),
                Arg::Text(entry.target.clone()),
                text(entry.outcome.as_str()),
                Arg::OptInt(ref_id),
                Arg::Text(Some(detail)),
            ],
        )
        .await
        .map_err(self.db_err(action))?;
        Ok(AuditEntry {
            id,
            at: entry.at,
            actor: entry.actor,
            source: entry.source,
            action: entry.action,
            target: entry.target,
            outcome: entry.outcome,
            ref_id,
            detail: entry.detail,
        })
    }

    // ----- plumbing -------------------------------------------------------------------

    pub(super) fn db_err(&self, action: &str) -> impl FnOnce(sqlx::Error) -> AccessError + use<> {
        let url = self.db.redacted_url().to_owned();
        let action = action.to_owned();
        move |source| AccessError::Database {
            action,
            url,
            source,
        }
    }

    async fn begin(&self, action: &str) -> Result<Tx, AccessError> {
        Tx::begin(&self.db).await.map_err(self.db_err(action))
    }

    /// Commits after `result` is `Ok`, rolls back otherwise.
    async fn finish<T>(
        &self,
        tx: Tx,
        result: Result<T, AccessError>,
        action: &str,
    ) -> Result<T, AccessError> {
        tx.finish(result, self.db_err(action), action).await
    }

    /// Advances counter `name` by one and returns its new value. The counter row stays
    /// locked until the transaction ends.
    async fn advance(&self, tx: &mut Tx, name: &str, action: &str) -> Result<i64, AccessError> {
        tx.fetch_optional(
            "INSERT INTO access_sequences (name, value) VALUES ($1, 1) \
             ON CONFLICT (name) DO UPDATE SET value = access_sequences.value + 1 \
             RETURNING value",
            vec![text(name)],
            |r| r.int("value").map_err(self.db_err(action)),
            self.db_err(action),
        )
        .await?
        .ok_or_else(|| AccessError::Corrupt {
            what: Entity::Audit,
            id: "-".to_owned(),
            column: "access_sequences",
            reason: format!("counter {name} returned no value"),
        })
    }

    /// Runs a `SELECT COUNT(*) AS n` on the pool.
    async fn count(&self, sql: &str, args: &[Arg], action: &str) -> Result<u64, AccessError> {
        let n = fetch_optional(
            &self.db,
            sql,
            args.to_vec(),
            |r| r.int("n").map_err(self.db_err(action)),
            self.db_err(action),
        )
        .await?;
        Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
    }

    /// Runs a `SELECT COUNT(*) AS n` in `tx`.
    async fn count_in(
        &self,
        tx: &mut Tx,
        sql: &str,
        args: Vec<Arg>,
        action: &str,
    ) -> Result<u64, AccessError> {
        let n = tx
            .fetch_optional(
                sql,
                args,
                |r| r.int("n").map_err(self.db_err(action)),
                self.db_err(action),
            )
            .await?;
        Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
    }
}

pub(super) fn text(v: &str) -> Arg {
    Arg::Text(Some(v.to_owned()))
}

pub(super) fn bad(field: &str, reason: impl Into<String>) -> FieldError {
    FieldError::new(field, reason)
}

pub(super) fn not_found(what: Entity, id: &str) -> AccessError {
    AccessError::NotFound {
        what,
        id: id.to_owned(),
    }
}

/// `prefix` and `bytes` random bytes in hex, as an id type.
fn new_id<T: std::str::FromStr<Err = String>>(
    prefix: &str,
    bytes: usize,
    what: &'static str,
) -> Result<T, AccessError> {
    let text = format!("{prefix}{}", random_hex(bytes, what)?);
    text.parse()
        .map_err(|reason| AccessError::Entropy { what, reason })
}

fn page(limit: Option<u32>, offset: Option<u64>, what: Entity) -> Result<Page, AccessError> {
    Page::new(limit, offset, DEFAULT_LIMIT, MAX_LIMIT)
        .map_err(|reason| AccessError::invalid(what, None, vec![bad("limit", reason)]))
}

fn check_range(from: Option<UnixMs>, to: Option<UnixMs>) -> Result<(), AccessError> {
    match (from, to) {
        (Some(from), Some(to)) if to < from => Err(AccessError::invalid(
            Entity::Audit,
            None,
            vec![bad("to", format!("{to} is before from ({from})"))],
        )),
        _ => Ok(()),
    }
}

fn is_city_admin(user: &User) -> bool {
    user.role == Role::Admin && !user.disabled && user.jurisdiction == Jurisdiction::City
}

/// The columns `jurisdiction_level, district, street, enterprise_id`.
fn jurisdiction_args(j: &Jurisdiction) -> [Arg; 4] {
    [
        text(j.level()),
        Arg::Text(j.district().map(str::to_owned)),
        Arg::Text(j.street().map(str::to_owned)),
        Arg::Text(j.enterprise_id().map(str::to_owned)),
    ]
}

fn jurisdiction_json(j: &Jurisdiction) -> Value {
    serde_json::to_value(j).unwrap_or(Value::Null)
}

/// The fields that differ between `old` and `new`: `{field: {"from": …, "to": …}}`.
fn changes(old: &User, new: &User) -> Value {
    let mut out = Map::new();
    let mut put = |field: &str, from: Value, to: Value| {
        if from != to {
            out.insert(field.to_owned(), json!({"from": from, "to": to}));
        }
    };
    put(
        "display_name",
        json!(old.display_name),
        json!(new.display_name),
    );
    put("role", json!(old.role), json!(new.role));
    put(
        "jurisdiction",
        jurisdiction_json(&old.jurisdiction),
        jurisdiction_json(&new.jurisdiction),
    );
    put("disabled", json!(old.disabled), json!(new.disabled));
    Value::Object(out)
}

fn parse_ip(text: &str) -> Result<IpAddr, String> {
    text.parse()
        .map_err(|_| format!("{} is not an IP address", quote(text)))
}

/// Reads a row's columns, turning every failure into [`AccessError::Corrupt`].
fn reader<'r>(
    row: &'r dyn RowRead,
    what: Entity,
    id_column: &'static str,
) -> Result<RecordReader<'r, AccessError>, AccessError> {
    RecordReader::new(row, id_column, move |id, column, reason| {
        AccessError::Corrupt {
            what,
            id: id.to_owned(),
            column,
            reason,
        }
    })
}

fn user_from_row(row: &dyn RowRead) -> Result<User, AccessError> {
    let r = reader(row, Entity::User, "id")?;
    let level = r.text("jurisdiction_level")?;
    let field = |c: &'static str| {
        r.opt_text(c)?
            .ok_or_else(|| r.corrupt(c, format!("is missing for a {level} jurisdiction")))
    };
    let jurisdiction = match level.as_str() {
        "city" => Jurisdiction::City,
        "district" => Jurisdiction::District {
            district: field("district")?,
        },
        "street" => Jurisdiction::Street {
            district: field("district")?,
            street: field("street")?,
        },
        "enterprise" => Jurisdiction::Enterprise {
            enterprise_id: field("enterprise_id")?,
        },
        other => {
            return Err(r.corrupt(
                "jurisdiction_level",
                format!("{} is not a jurisdiction level", quote(other)),
            ));
        }
    };
    if let Some(e) = jurisdiction.validate().first() {
        return Err(r.corrupt("jurisdiction_level", e.to_string()));
    }
    Ok(User {
        id: r.parsed("id", UserId::parse)?,
        username: r.parsed("username", Username::parse)?,
        display_name: r.text("display_name")?,
        role: r.parsed("role", Role::parse)?,
        jurisdiction,
        disabled: r.boolean("disabled")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
        password_changed_at: r.int("password_changed_at")?,
        revision: r.int("revision")?,
    })
}

fn session_from_row(row: &dyn RowRead) -> Result<Session, AccessError> {
    let r = reader(row, Entity::Session, "id")?;
    Ok(Session {
        id: r.parsed("id", SessionId::parse)?,
        user_id: r.parsed("user_id", UserId::parse)?,
        created_at: r.int("created_at")?,
        expires_at: r.int("expires_at")?,
        revoked_at: r.opt_int("revoked_at")?,
        source: r.opt_parsed("source", parse_ip)?,
    })
}

/// `actor_id` and `actor_username`: both or neither.
fn actor_of(r: &RecordReader<'_, AccessError>) -> Result<Option<Actor>, AccessError> {
    let id = r.opt_parsed("actor_id", UserId::parse)?;
    let username = r.opt_parsed("actor_username", Username::parse)?;
    match (id, username) {
        (Some(id), Some(username)) => Ok(Some(Actor { id, username })),
        (None, None) => Ok(None),
        _ => Err(r.corrupt(
            "actor_id",
            "actor_id and actor_username are set apart".to_owned(),
        )),
    }
}

/// Reads an audit row's columns; errors name the entry by its integer id (`id_column`).
fn audit_reader<'r>(
    row: &'r dyn RowRead,
    id_column: &'static str,
) -> Result<(i64, RecordReader<'r, AccessError>), AccessError> {
    let id = row.int(id_column).map_err(|e| AccessError::Corrupt {
        what: Entity::Audit,
        id: "?".to_owned(),
        column: id_column,
        reason: e.to_string(),
    })?;
    // Any text column would do as the reader's "id": errors name `id` instead.
    let r = RecordReader::new(row, "action", move |_, column, reason| {
        AccessError::Corrupt {
            what: Entity::Audit,
            id: id.to_string(),
            column,
            reason,
        }
    })?;
    Ok((id, r))
}

fn audit_from_row(row: &dyn RowRead) -> Result<AuditEntry, AccessError> {
    let (id, r) = audit_reader(row, "id")?;
    Ok(AuditEntry {
        id,
        at: r.int("at")?,
        actor: actor_of(&r)?,
        source: r.opt_parsed("source", parse_ip)?,
        action: r.parsed("action", AuditAction::parse)?,
        target: r.opt_text("target")?,
        outcome: r.parsed("outcome", Outcome::parse)?,
        ref_id: r.opt_int("ref_id")?,
        detail: r.json("detail")?,
    })
}

fn view_from_row(row: &dyn RowRead) -> Result<StreamView, AccessError> {
    let (view_id, r) = audit_reader(row, "view_id")?;
    Ok(StreamView {
        view_id,
        actor: actor_of(&r)?,
        source: r.opt_parsed("source", parse_ip)?,
        path: r.text("path")?,
        started_at: r.int("started_at")?,
        ended_at: r.opt_int("ended_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `YYYYMMDD03NN_*.sql` file under `command/migrations/` is embedded, in
    /// version order, with the version and description its name gives.
    #[test]
    fn embedded_migrations_match_the_folder() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<(i64, String, String)> = std::fs::read_dir(&dir)
            .expect("migrations folder")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .filter_map(|p| {
                let stem = p.file_stem()?.to_str()?.to_owned();
                let (version, description) = stem.split_once('_')?;
                let version: i64 = version.parse().ok()?;
                (version % 10_000 / 100 == 3).then(|| {
                    (
                        version,
                        description.replace('_', " "),
                        std::fs::read_to_string(&p).expect("read"),
                    )
                })
            })
            .collect();
        files.sort();
        let embedded: Vec<(i64, String, String)> = MIGRATIONS
            .iter()
            .map(|&(v, d, s)| (v, d.to_owned(), s.to_owned()))
            .collect();
        assert_eq!(embedded, files);
    }

    /// The audit log is append-only: no statement in this module changes or deletes an
    /// audit row.
    #[test]
    fn no_statement_changes_the_audit_log() {
        let source = include_str!("store.rs");
        let code = &source[..source.find("#[cfg(test)]").unwrap_or(source.len())];
        let flat = code.split_whitespace().collect::<Vec<_>>().join(" ");
        for forbidden in ["UPDATE access_audit", "DELETE FROM access_audit"] {
            assert!(!flat.contains(forbidden), "{forbidden}");
        }
    }

    #[test]
    fn changes_lists_only_what_differs() {
        let old = User {
            id: UserId::parse("U-1").unwrap(),
            username: Username::parse("alice").unwrap(),
            display_name: "Alice".to_owned(),
            role: Role::Operator,
            jurisdiction: Jurisdiction::City,
            disabled: false,
            created_at: 0,
            updated_at: 0,
            password_changed_at: 0,
            revision: 1,
        };
        let new = User {
            role: Role::Viewer,
            ..old.clone()
        };
        assert_eq!(
            changes(&old, &new),
            json!({"role": {"from": "operator", "to": "viewer"}})
        );
    }
}
