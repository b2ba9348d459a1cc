-- Fixed camera numbers (watchpost-devices): the number an operator types to put a camera
-- on a wall tile, 1 to 99999, unique across the inventory. Portable SQL, one file for
-- SQLite and PostgreSQL. Applied once and checksummed by sqlx: never edit this file, add
-- a new migration instead.
--
-- The column stays nullable in the DDL because SQLite cannot add a NOT NULL column
-- without a default; the inventory always writes it and reads NULL as a corrupt row.

ALTER TABLE cameras ADD COLUMN number BIGINT;

-- Existing cameras are numbered 1, 2, 3, ... in creation order (created_ms, then id for
-- cameras created in the same millisecond, e.g. by one import).
UPDATE cameras SET number = (
    SELECT COUNT(*) FROM cameras earlier
    WHERE earlier.created_ms < cameras.created_ms
       OR (earlier.created_ms = cameras.created_ms AND earlier.id <= cameras.id)
);

CREATE UNIQUE INDEX cameras_number ON cameras (number);
