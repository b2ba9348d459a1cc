-- Video walls (watchpost-command, src/walls): walls and their monitors, scenes, tours and
-- the append-only log of monitor changes. Portable DDL, one file for SQLite and
-- PostgreSQL. Times are Unix milliseconds. Applied once and checksummed by sqlx: never
-- edit this file, add a new migration instead.

-- Counters: 'scene' (scene-N), 'tour' (tour-N) and 'event' (wall event ids). A counter
-- row stays locked by the transaction that advanced it until that transaction ends, so
-- event ids are handed out in commit order.
CREATE TABLE wall_sequences (
    name TEXT NOT NULL PRIMARY KEY,
    value BIGINT NOT NULL
);

CREATE TABLE wall_walls (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    -- Where the wall belongs; all NULL: the city.
    district TEXT,
    street TEXT,
    enterprise_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- 1 after create, +1 per update of the wall (name, scope, monitor list).
    revision BIGINT NOT NULL
);

CREATE INDEX wall_walls_scope ON wall_walls (district, street);
CREATE INDEX wall_walls_enterprise ON wall_walls (enterprise_id);

CREATE TABLE wall_monitors (
    wall_id TEXT NOT NULL REFERENCES wall_walls (id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    -- Position on the wall, from 0.
    seq BIGINT NOT NULL,
    -- The MonitorState as JSON (layout, tiles, source, previous): the state of truth.
    state TEXT NOT NULL,
    -- The running tour's id, a copy of state.source for lookups; NULL when none runs.
    tour_id TEXT,
    -- 1 when added, +1 per command that changed the state.
    revision BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (wall_id, id)
);

CREATE INDEX wall_monitors_tour ON wall_monitors (tour_id);

CREATE TABLE wall_scenes (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    district TEXT,
    street TEXT,
    enterprise_id TEXT,
    -- The Layout as JSON ({"rows", "cols", "tiles"}).
    layout TEXT NOT NULL,
    -- The contents as a JSON array, one per tile of the layout.
    tiles TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    revision BIGINT NOT NULL
);

CREATE INDEX wall_scenes_scope ON wall_scenes (district, street);
CREATE INDEX wall_scenes_enterprise ON wall_scenes (enterprise_id);

CREATE TABLE wall_tours (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    district TEXT,
    street TEXT,
    enterprise_id TEXT,
    looping BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    revision BIGINT NOT NULL
);

CREATE INDEX wall_tours_scope ON wall_tours (district, street);
CREATE INDEX wall_tours_enterprise ON wall_tours (enterprise_id);

-- A tour's steps, in order (seq from 0). The scene is a foreign key: a scene that a tour
-- shows cannot be deleted.
CREATE TABLE wall_tour_steps (
    tour_id TEXT NOT NULL REFERENCES wall_tours (id),
    seq BIGINT NOT NULL,
    scene_id TEXT NOT NULL REFERENCES wall_scenes (id),
    dwell_ms BIGINT NOT NULL,
    PRIMARY KEY (tour_id, seq)
);

CREATE INDEX wall_tour_steps_scene ON wall_tour_steps (scene_id);

-- Append-only: the store inserts and reads, it never updates or deletes. Wall and monitor
-- ids are copies (no foreign key): an event outlives its monitor.
CREATE TABLE wall_events (
    -- From the 'event' counter: increasing in commit order.
    id BIGINT NOT NULL PRIMARY KEY,
    wall_id TEXT NOT NULL,
    monitor_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    -- show_camera, clear_tile, set_layout, apply_scene, show_incident, restore,
    -- start_tour, advance_tour, stop_tour, monitor_added, monitor_removed
    kind TEXT NOT NULL,
    -- The monitor's revision after the change (its last one when removed).
    revision BIGINT NOT NULL,
    -- The MonitorCommand as JSON; NULL for monitor_added and monitor_removed.
    command TEXT,
    -- The MonitorState after the change as JSON; NULL for monitor_removed.
    state TEXT
);

CREATE INDEX wall_events_monitor ON wall_events (wall_id, monitor_id, id);
