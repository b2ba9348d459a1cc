-- Incidents, intake reports, dispatch tasks and the append-only incident timeline
-- (watchpost-command, src/incidents). Portable DDL, one file for SQLite and PostgreSQL.
-- Times are Unix milliseconds. Applied once and checksummed by sqlx: never edit this
-- file, add a new migration instead.
--
-- Each incident, report and task keeps its full, checked form as JSON text in `record`
-- (the state of truth, checked on every load); the other columns are copies of what is
-- filtered or joined on, written in the same statement as `record`.

-- Counters for ids: 'incident' (inc-N), 'report' (rep-N), 'task' (task-N) and
-- 'timeline' (entry ids). A counter row is locked by the transaction that advances it
-- until that transaction ends, so ids are handed out in commit order.
CREATE TABLE incident_sequences (
    name TEXT NOT NULL PRIMARY KEY,
    value BIGINT NOT NULL
);

CREATE TABLE incidents (
    id TEXT NOT NULL PRIMARY KEY,
    -- new, active, monitoring, closed
    state TEXT NOT NULL,
    -- general, larger, major, especially_serious (computed from the figures)
    grade TEXT NOT NULL,
    -- fire, explosion, leakage, poisoning, collapse, tailings_dam, other
    incident_type TEXT NOT NULL,
    exercise BOOLEAN NOT NULL,
    district TEXT,
    street TEXT,
    enterprise_id TEXT,
    occurred_at BIGINT NOT NULL,
    opened_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    closed_at BIGINT,
    -- The earliest deadline of a statutory report still owed; NULL when none is owed.
    report_due_at BIGINT,
    -- 1 when opened, +1 per accepted change of the record.
    revision BIGINT NOT NULL,
    -- The IncidentRecord as JSON.
    record TEXT NOT NULL
);

CREATE INDEX incidents_opened ON incidents (opened_at, id);
CREATE INDEX incidents_state ON incidents (state, opened_at);
CREATE INDEX incidents_division ON incidents (district, street);
CREATE INDEX incidents_enterprise ON incidents (enterprise_id);
CREATE INDEX incidents_report_due ON incidents (report_due_at);

CREATE TABLE intake_reports (
    id TEXT NOT NULL PRIMARY KEY,
    -- phone, enterprise_self_report, alarm, superior, peer_platform
    channel TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL,
    recorded_by TEXT NOT NULL,
    -- The incident the report is linked to (zero or one), set once.
    incident_id TEXT REFERENCES incidents (id),
    linked_at BIGINT,
    linked_by TEXT,
    -- The NewReport as JSON (never changes).
    record TEXT NOT NULL
);

CREATE INDEX intake_reports_incident ON intake_reports (incident_id, received_at);
CREATE INDEX intake_reports_received ON intake_reports (received_at, id);

CREATE TABLE dispatch_tasks (
    id TEXT NOT NULL PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    unit_id TEXT NOT NULL,
    -- notified, acknowledged, en_route, on_scene, released
    state TEXT NOT NULL,
    notified_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- 1 when dispatched, +1 per transition.
    revision BIGINT NOT NULL,
    -- The TaskRecord as JSON.
    record TEXT NOT NULL
);

CREATE INDEX dispatch_tasks_incident ON dispatch_tasks (incident_id, state);
CREATE INDEX dispatch_tasks_unit ON dispatch_tasks (unit_id, state);

-- Append-only: the store inserts and reads, it never updates or deletes.
CREATE TABLE incident_timeline (
    id BIGINT NOT NULL PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    at BIGINT NOT NULL,
    operator TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- JSON object.
    content TEXT NOT NULL
);

CREATE INDEX incident_timeline_incident ON incident_timeline (incident_id, id);
