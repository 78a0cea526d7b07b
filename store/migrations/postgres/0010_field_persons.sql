-- Persons registered at the door (issue 16): where each person lived before, for how long, and
-- who has left; the client ids of field writes (each applied at most once) and where the phone
-- was; the change log of each person's fields (for conflicts between offline edits) and the
-- conflicts found.

-- The day the person moved into their present home (NULL: before the records began), the day
-- they left the district (流出; NULL while they live here), where they come from (户籍地), and
-- the version of their record (one more on every change).
ALTER TABLE persons ADD COLUMN moved_in_on DATE;
ALTER TABLE persons ADD COLUMN left_on DATE;
ALTER TABLE persons ADD COLUMN origin TEXT;
ALTER TABLE persons ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
CREATE INDEX persons_left_on ON persons(left_on);

-- Earlier homes: one row per home a person has left, as the record stood when they left it.
CREATE TABLE residences (
    id            SERIAL PRIMARY KEY,
    person_id     INTEGER NOT NULL REFERENCES persons(id),
    household_id  INTEGER NOT NULL REFERENCES households(id),
    building_id   INTEGER NOT NULL REFERENCES buildings(id),
    moved_in_on   DATE,
    moved_out_on  DATE NOT NULL,
    registered    BOOLEAN NOT NULL,
    registered_on DATE,
    permit        BOOLEAN NOT NULL,
    consistent    BOOLEAN NOT NULL
);
CREATE INDEX residences_person ON residences(person_id);
CREATE INDEX residences_building ON residences(building_id);

-- Field writes by client id: a retry is answered from here and changes nothing.
CREATE TABLE field_writes (
    client_id  TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    request    TEXT NOT NULL,
    answer     TEXT NOT NULL,
    written_at TEXT NOT NULL,
    -- who wrote it, the building it concerns, and where the phone was when its user allowed it
    -- (WGS84; accuracy and distance to the building's entrance in metres)
    username    TEXT,
    building_id INTEGER REFERENCES buildings(id),
    lon        DOUBLE PRECISION,
    lat        DOUBLE PRECISION,
    accuracy_m DOUBLE PRECISION,
    distance_m DOUBLE PRECISION
);
CREATE INDEX field_writes_far ON field_writes(distance_m);

-- Where the phone was when a visit was recorded (as for field writes).
ALTER TABLE visits ADD COLUMN lon DOUBLE PRECISION;
ALTER TABLE visits ADD COLUMN lat DOUBLE PRECISION;
ALTER TABLE visits ADD COLUMN accuracy_m DOUBLE PRECISION;
ALTER TABLE visits ADD COLUMN distance_m DOUBLE PRECISION;

-- Which version of a person changed which field to what (the value as JSON).
CREATE TABLE person_edits (
    person_id INTEGER NOT NULL REFERENCES persons(id),
    version   INTEGER NOT NULL,
    field     TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (person_id, version, field)
);

-- An edit made against an older version that touched a field changed since: kept whole, to be
-- resolved by a caseworker or the center.
CREATE TABLE person_conflicts (
    id           SERIAL PRIMARY KEY,
    person_id    INTEGER NOT NULL REFERENCES persons(id),
    grid_id      INTEGER NOT NULL REFERENCES grids(id),
    client_id    TEXT NOT NULL,
    username     TEXT NOT NULL,
    base_version INTEGER NOT NULL,
    edit         TEXT NOT NULL,
    fields       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    resolved_at  TEXT,
    resolved_by  TEXT,
    resolution   TEXT
);
CREATE INDEX person_conflicts_open ON person_conflicts(resolved_at, grid_id);

