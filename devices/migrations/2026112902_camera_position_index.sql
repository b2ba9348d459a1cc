-- Cameras near a place (the cameras of an incident): bounding-box queries on the position.
CREATE INDEX cameras_position ON cameras (lat, lon);
