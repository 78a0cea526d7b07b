-- Safety hazards found at the door, to closure (整治一块, issue 16): each case with its kind and
-- severity, where it stands (found, assigned, rectified, verified, reopened), its deadline and the
-- day it turns red; every move of a case; the photos kept on disk for it.
CREATE TABLE hazards (
    id          SERIAL PRIMARY KEY,
    building_id INTEGER NOT NULL REFERENCES buildings(id),
    grid_id     INTEGER NOT NULL REFERENCES grids(id),
    unit_id     INTEGER REFERENCES rental_units(id),
    kind        TEXT NOT NULL,
    severity    TEXT NOT NULL CHECK (severity IN ('minor', 'major', 'severe')),
    note        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('found', 'assigned', 'rectified', 'verified', 'reopened')),
    found_on    DATE NOT NULL,
    found_by    TEXT NOT NULL,
    -- the caseworker it was given to (NULL until assigned)
    assignee_id INTEGER,
    -- the last day to rectify it, and the first day it is red (counted again on reopening)
    due_on      DATE NOT NULL,
    red_on      DATE NOT NULL,
    closed_on   DATE,
    version     INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX hazards_open ON hazards(status, grid_id);
CREATE INDEX hazards_building ON hazards(building_id);

-- Every move of a case, the first (found) included: who, when, to what, with what note.
CREATE TABLE hazard_events (
    hazard_id     INTEGER NOT NULL REFERENCES hazards(id),
    seq           INTEGER NOT NULL,
    status        TEXT NOT NULL,
    on_day        DATE NOT NULL,
    at            TEXT NOT NULL,
    username      TEXT NOT NULL,
    caseworker_id INTEGER,
    note          TEXT NOT NULL,
    PRIMARY KEY (hazard_id, seq)
);

-- Photos of a case (the files are on disk, named by their SHA-256).
CREATE TABLE hazard_photos (
    id           SERIAL PRIMARY KEY,
    hazard_id    INTEGER NOT NULL REFERENCES hazards(id),
    sha256       TEXT NOT NULL,
    content_type TEXT NOT NULL,
    bytes        INTEGER NOT NULL,
    status       TEXT NOT NULL,
    username     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (hazard_id, sha256)
);
