-- The organisation (watchpost-command, org module): command centres, units, enterprises.
-- Portable DDL, one file for SQLite and PostgreSQL. Times are Unix milliseconds; positions
-- WGS-84 decimal degrees, lon and lat both or neither. Applied once and checksummed by
-- sqlx: never edit this file, add a new migration instead.

CREATE TABLE org_centres (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    -- city, district or street
    level TEXT NOT NULL,
    district TEXT,
    street TEXT,
    -- city: NULL; district: the city centre; street: its district's centre.
    parent_id TEXT REFERENCES org_centres (id),
    -- The place in the hierarchy, a JSON array: ["city"], ["district", d],
    -- ["street", d, s]; one centre per place.
    scope TEXT NOT NULL UNIQUE,
    phone TEXT,
    lon DOUBLE PRECISION,
    lat DOUBLE PRECISION,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    revision BIGINT NOT NULL
);

CREATE INDEX org_centres_parent ON org_centres (parent_id);

CREATE TABLE org_units (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    -- rescue_team, expert, vehicle, equipment_depot
    kind TEXT NOT NULL,
    centre_id TEXT NOT NULL REFERENCES org_centres (id),
    -- available, dispatched, off_duty, unavailable
    availability TEXT NOT NULL,
    -- When the availability last changed.
    availability_ms BIGINT NOT NULL,
    phone TEXT,
    -- Head count, rescue teams only.
    members BIGINT,
    -- JSON array of strings, only ever read with the unit.
    skills TEXT NOT NULL,
    -- Registration plate, vehicles only.
    plate TEXT,
    lon DOUBLE PRECISION,
    lat DOUBLE PRECISION,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    revision BIGINT NOT NULL
);

CREATE INDEX org_units_centre ON org_units (centre_id);
CREATE INDEX org_units_kind ON org_units (kind, availability);

CREATE TABLE org_enterprises (
    -- The business-data ledger's key, e.g. E-110105-0001.
    ledger_id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    -- Unified social credit code (GB 32100-2015), 18 characters, checked. Not unique: one
    -- legal entity may hold several ledger entries (sites).
    credit_code TEXT NOT NULL,
    -- gas_station, oil_depot, tailings_pond, fireworks_warehouse, fireworks_retail, other
    category TEXT NOT NULL,
    address TEXT NOT NULL,
    district TEXT NOT NULL,
    street TEXT,
    lon DOUBLE PRECISION,
    lat DOUBLE PRECISION,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    revision BIGINT NOT NULL
);

CREATE INDEX org_enterprises_division ON org_enterprises (district, street);
CREATE INDEX org_enterprises_category ON org_enterprises (category);
CREATE INDEX org_enterprises_credit_code ON org_enterprises (credit_code);

-- Child tables rather than JSON columns: incidents name a hazard source by (ledger_id, id),
-- lists filter on major hazard sources, and a failing child row rolls its enterprise back.
-- seq keeps the input order; an update replaces all of an enterprise's rows.
CREATE TABLE org_hazard_sources (
    ledger_id TEXT NOT NULL REFERENCES org_enterprises (ledger_id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    name TEXT NOT NULL,
    -- storage_tank, warehouse, process_unit, tailings_dam, pipeline, loading_area, other
    kind TEXT NOT NULL,
    substance TEXT,
    -- Both or neither.
    quantity DOUBLE PRECISION,
    unit TEXT,
    -- 重大危险源
    major_hazard BOOLEAN NOT NULL,
    PRIMARY KEY (ledger_id, id)
);

CREATE INDEX org_hazard_sources_major ON org_hazard_sources (major_hazard, ledger_id);

CREATE TABLE org_contacts (
    ledger_id TEXT NOT NULL REFERENCES org_enterprises (ledger_id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    name TEXT NOT NULL,
    -- principal, safety_manager, duty_officer, other
    role TEXT NOT NULL,
    phone TEXT NOT NULL,
    PRIMARY KEY (ledger_id, seq)
);
