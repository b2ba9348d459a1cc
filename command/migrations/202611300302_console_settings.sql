-- Operators' console settings (watchpost-command, src/access/console.rs): one JSON
-- document per user (grid, favourite cameras, small UI preferences), private to its user.
-- Portable DDL, one file for SQLite and PostgreSQL. Times are Unix milliseconds. Applied
-- once and checksummed by sqlx: never edit this file, add a new migration instead.

CREATE TABLE access_console_settings (
    -- The user the settings belong to (a user is never deleted, only disabled).
    user_id TEXT NOT NULL PRIMARY KEY REFERENCES access_users (id),
    -- The ConsoleSettings document as JSON, validated before every write and on load.
    document TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- 1 after the first save, +1 per save (optimistic concurrency: If-Match).
    revision BIGINT NOT NULL
);
