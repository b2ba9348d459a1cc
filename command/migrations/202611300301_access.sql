-- Access control (watchpost-command, src/access): users, login sessions and the
-- append-only audit log. Portable DDL, one file for SQLite and PostgreSQL. Times are Unix
-- milliseconds. Applied once and checksummed by sqlx: never edit this file, add a new
-- migration instead.

-- Counters: 'audit' hands out audit entry ids; 'users' is never read, only locked, by
-- every user write (so writes that count administrators run one at a time). A counter
-- row stays locked by the transaction that advanced it until that transaction ends, so
-- audit ids are handed out in commit order.
CREATE TABLE access_sequences (
    name TEXT NOT NULL PRIMARY KEY,
    value BIGINT NOT NULL
);

CREATE TABLE access_users (
    -- U- and 16 hex digits, random.
    id TEXT NOT NULL PRIMARY KEY,
    -- 3 to 64 characters a-z 0-9 . _ -, lower-case.
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    -- viewer, operator, commander, admin
    role TEXT NOT NULL,
    -- The jurisdiction: level city, district, street or enterprise, and its fields
    -- (district for district and street, street for street, enterprise_id for
    -- enterprise; NULL otherwise).
    jurisdiction_level TEXT NOT NULL,
    district TEXT,
    street TEXT,
    enterprise_id TEXT,
    -- argon2id PHC string. Never selected except for a login or a password change.
    password_hash TEXT NOT NULL,
    password_changed_at BIGINT NOT NULL,
    disabled BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- 1 after create, +1 per update or password change.
    revision BIGINT NOT NULL
);

CREATE INDEX access_users_role ON access_users (role, disabled);
CREATE INDEX access_users_jurisdiction ON access_users (jurisdiction_level, district, street);

CREATE TABLE access_sessions (
    -- S- and 32 hex digits, random; the session token's sid.
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES access_users (id),
    created_at BIGINT NOT NULL,
    -- Unusable from this moment on.
    expires_at BIGINT NOT NULL,
    -- Logout, or a change of the user's role, jurisdiction, disabled flag or password.
    revoked_at BIGINT,
    -- The client's address at login (text form), when known.
    source TEXT
);

CREATE INDEX access_sessions_user ON access_sessions (user_id, revoked_at);
CREATE INDEX access_sessions_expires ON access_sessions (expires_at);

-- Append-only: the code has no UPDATE or DELETE of this table. Actor columns are copies
-- (no foreign key): an entry outlives any change to the user, and anonymous entries
-- (failed logins) have none.
CREATE TABLE access_audit (
    -- From the 'audit' counter: increasing in commit order.
    id BIGINT NOT NULL PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_id TEXT,
    actor_username TEXT,
    -- The client's address (text form), when known.
    source TEXT,
    -- login, login_failed, logout, stream_view_started, stream_view_ended, ptz, ...
    action TEXT NOT NULL,
    target TEXT,
    -- success, denied, error
    outcome TEXT NOT NULL,
    -- The entry this one refers to: a stream_view_ended entry's start entry. At most one
    -- entry refers to any entry (NULLs do not collide, on either backend).
    ref_id BIGINT UNIQUE REFERENCES access_audit (id),
    -- A JSON object.
    detail TEXT NOT NULL
);

CREATE INDEX access_audit_at ON access_audit (at);
CREATE INDEX access_audit_action ON access_audit (action, at);
CREATE INDEX access_audit_actor ON access_audit (actor_id, at);
CREATE INDEX access_audit_actor_username ON access_audit (actor_username, at);
CREATE INDEX access_audit_target ON access_audit (target, at);
