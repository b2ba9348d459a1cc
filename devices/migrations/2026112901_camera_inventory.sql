-- The camera inventory (watchpost-devices). Portable DDL, one file for SQLite and
-- PostgreSQL. Times are Unix milliseconds. Applied once and checksummed by sqlx: never
-- edit this file, add a new migration instead.

CREATE TABLE cameras (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    -- gas_station, oil_depot, tailings_pond, fireworks_warehouse, fireworks_retail, other
    category TEXT NOT NULL,
    enterprise_id TEXT,
    district TEXT NOT NULL,
    street TEXT,
    -- WGS-84 decimal degrees; both or neither.
    lon DOUBLE PRECISION,
    lat DOUBLE PRECISION,
    vendor TEXT,
    model TEXT,
    firmware TEXT,
    onvif_url TEXT,
    main_url TEXT,
    sub_url TEXT,
    -- tcp or udp
    transport TEXT NOT NULL,
    -- 'v1:' + base64(nonce || AES-256-GCM ciphertext || tag) of {"username","password"},
    -- the camera id as associated data; NULL when the camera has no credentials.
    credentials TEXT,
    -- JSON array of strings, for reading; camera_tags is the index for filtering.
    tags TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    revision BIGINT NOT NULL
);

CREATE INDEX cameras_division ON cameras (district, street);
CREATE INDEX cameras_category ON cameras (category);
CREATE INDEX cameras_enterprise ON cameras (enterprise_id);

CREATE TABLE camera_tags (
    camera_id TEXT NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (camera_id, tag)
);

CREATE INDEX camera_tags_tag ON camera_tags (tag);
