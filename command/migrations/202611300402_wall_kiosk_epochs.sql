-- Kiosk tokens (the monitor pages' links, web/src/walls.rs) carry their monitor's kiosk
-- epoch and are honoured only while it is current; revoking every link of a monitor raises
-- it by one. No row: epoch 0. No foreign key on purpose: a monitor removed and added again
-- under the same id keeps its epoch, so its old links stay revoked.
CREATE TABLE wall_kiosk_epochs (
    wall_id TEXT NOT NULL,
    monitor_id TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    -- The last revocation: Unix ms and who.
    changed_at BIGINT NOT NULL,
    changed_by TEXT NOT NULL,
    PRIMARY KEY (wall_id, monitor_id)
);
