-- rentgrid register, PostGIS. Geometry is geometry(…, 4326) with GiST indexes, so a GIS analyst
-- opening these tables in QGIS sees proper layers.
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE districts (
    code    TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    outline geometry(MultiPolygon, 4326) NOT NULL
);
CREATE TABLE streets (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    seq  INTEGER NOT NULL
);
CREATE TABLE communities (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    street_code TEXT NOT NULL REFERENCES streets(code),
    kind        TEXT NOT NULL,
    seq         INTEGER NOT NULL
);
CREATE TABLE grids (
    id             INTEGER PRIMARY KEY,
    code           TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    community_code TEXT NOT NULL REFERENCES communities(code),
    geom           geometry(MultiPolygon, 4326) NOT NULL
);
CREATE INDEX grids_geom ON grids USING GIST (geom);
CREATE TABLE blocks (
    id      INTEGER PRIMARY KEY,
    grid_id INTEGER NOT NULL REFERENCES grids(id),
    geom    geometry(Polygon, 4326) NOT NULL
);
CREATE INDEX blocks_geom ON blocks USING GIST (geom);
CREATE TABLE roads (
    id        INTEGER PRIMARY KEY,
    from_node INTEGER NOT NULL,
    to_node   INTEGER NOT NULL,
    class     TEXT NOT NULL,
    length_m  DOUBLE PRECISION NOT NULL,
    geom      geometry(LineString, 4326) NOT NULL
);
CREATE INDEX roads_geom ON roads USING GIST (geom);
CREATE TABLE buildings (
    id               INTEGER PRIMARY KEY,
    grid_id          INTEGER NOT NULL REFERENCES grids(id),
    kind             TEXT NOT NULL,
    address          TEXT NOT NULL,
    floors           INTEGER NOT NULL,
    dwellings        INTEGER NOT NULL,
    utility_accounts INTEGER NOT NULL,
    point            geometry(Point, 4326) NOT NULL,
    footprint        geometry(Polygon, 4326) NOT NULL
);
CREATE INDEX buildings_grid ON buildings(grid_id);
CREATE INDEX buildings_footprint ON buildings USING GIST (footprint);
CREATE TABLE landlords (
    id        INTEGER PRIMARY KEY,
    name      TEXT NOT NULL,
    id_number TEXT NOT NULL,
    phone     TEXT NOT NULL
);
CREATE TABLE rental_units (
    id            SERIAL PRIMARY KEY,
    building_id   INTEGER NOT NULL REFERENCES buildings(id),
    landlord_id   INTEGER REFERENCES landlords(id),
    label         TEXT NOT NULL,
    registered    BOOLEAN NOT NULL,
    registered_on DATE,
    pledge_signed BOOLEAN NOT NULL,
    tenants       INTEGER NOT NULL,
    mode          TEXT NOT NULL,
    concentrated  BOOLEAN NOT NULL
);
CREATE INDEX rental_units_building ON rental_units(building_id);
CREATE TABLE households (
    id             INTEGER PRIMARY KEY,
    rental_unit_id INTEGER NOT NULL REFERENCES rental_units(id),
    card_no        TEXT NOT NULL
);
CREATE TABLE workplaces (
    id                    INTEGER PRIMARY KEY,
    name                  TEXT NOT NULL,
    building_id           INTEGER REFERENCES buildings(id),
    grid_id               INTEGER NOT NULL REFERENCES grids(id),
    point                 geometry(Point, 4326) NOT NULL,
    employees             INTEGER NOT NULL,
    migrant_workers       INTEGER NOT NULL,
    responsibility_signed BOOLEAN NOT NULL,
    contracts_signed      INTEGER NOT NULL,
    insured               INTEGER NOT NULL
);
CREATE INDEX workplaces_point ON workplaces USING GIST (point);
CREATE TABLE persons (
    id            INTEGER PRIMARY KEY,
    household_id  INTEGER NOT NULL REFERENCES households(id),
    building_id   INTEGER NOT NULL REFERENCES buildings(id),
    name          TEXT NOT NULL,
    id_number     TEXT NOT NULL,
    phone         TEXT NOT NULL,
    registered    BOOLEAN NOT NULL,
    registered_on DATE,
    permit        BOOLEAN NOT NULL,
    consistent    BOOLEAN NOT NULL,
    workplace_id  INTEGER REFERENCES workplaces(id)
);
CREATE INDEX persons_building ON persons(building_id);
CREATE TABLE caseworkers (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    street_code TEXT NOT NULL REFERENCES streets(code)
);
CREATE TABLE caseworker_grids (
    caseworker_id INTEGER NOT NULL REFERENCES caseworkers(id),
    grid_id       INTEGER NOT NULL REFERENCES grids(id),
    PRIMARY KEY (caseworker_id, grid_id)
);
CREATE TABLE visits (
    id               SERIAL PRIMARY KEY,
    client_id        TEXT NOT NULL UNIQUE,
    building_id      INTEGER NOT NULL REFERENCES buildings(id),
    caseworker_id    INTEGER REFERENCES caseworkers(id),
    visited_on       DATE NOT NULL,
    units_registered INTEGER NOT NULL,
    pledges_signed   INTEGER NOT NULL,
    units_found      INTEGER NOT NULL,
    persons_found    INTEGER NOT NULL,
    notes            TEXT NOT NULL,
    request          TEXT
);
CREATE INDEX visits_building ON visits(building_id);
CREATE TABLE spot_checks (
    id                  INTEGER PRIMARY KEY,
    caseworker_id       INTEGER NOT NULL REFERENCES caseworkers(id),
    grid_id             INTEGER NOT NULL REFERENCES grids(id),
    checked_on          DATE NOT NULL,
    households_checked  INTEGER NOT NULL,
    missed_registration INTEGER NOT NULL,
    missed_permit       INTEGER NOT NULL,
    wrong_records       INTEGER NOT NULL
);
CREATE TABLE tips (
    id          INTEGER PRIMARY KEY,
    building_id INTEGER NOT NULL REFERENCES buildings(id),
    received_on DATE NOT NULL,
    text        TEXT NOT NULL
);
-- Demo ground truth: what no register holds. Only the demo city fills it.
CREATE TABLE demo_hidden (
    building_id INTEGER PRIMARY KEY REFERENCES buildings(id),
    units       INTEGER NOT NULL,
    persons     INTEGER NOT NULL
);
