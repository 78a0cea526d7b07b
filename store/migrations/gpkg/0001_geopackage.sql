-- rentgrid register as an OGC GeoPackage 1.3 (http://www.geopackage.org/spec130/): QGIS and GDAL
-- open the file as it is. The layers grids, blocks, roads, buildings (footprints), workplaces and
-- boundaries (a view of the district) are registered in gpkg_contents and
-- gpkg_geometry_columns; their geometry is GeoPackage binary in WGS84 (EPSG:4326). The other
-- tables are the register's records.
PRAGMA application_id = 1196444487;
PRAGMA user_version = 10300;
CREATE TABLE gpkg_spatial_ref_sys (
    srs_name                 TEXT NOT NULL,
    srs_id                   INTEGER NOT NULL PRIMARY KEY,
    organization             TEXT NOT NULL,
    organization_coordsys_id INTEGER NOT NULL,
    definition               TEXT NOT NULL,
    description              TEXT
);
INSERT INTO gpkg_spatial_ref_sys VALUES
    ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
    ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system'),
    ('WGS 84 geodetic', 4326, 'EPSG', 4326,
     'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]',
     'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid');
CREATE TABLE gpkg_contents (
    table_name  TEXT NOT NULL PRIMARY KEY,
    data_type   TEXT NOT NULL,
    identifier  TEXT UNIQUE,
    description TEXT DEFAULT '',
    last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    min_x       DOUBLE,
    min_y       DOUBLE,
    max_x       DOUBLE,
    max_y       DOUBLE,
    srs_id      INTEGER REFERENCES gpkg_spatial_ref_sys(srs_id)
);
CREATE TABLE gpkg_geometry_columns (
    table_name         TEXT NOT NULL,
    column_name        TEXT NOT NULL,
    geometry_type_name TEXT NOT NULL,
    srs_id             INTEGER NOT NULL REFERENCES gpkg_spatial_ref_sys(srs_id),
    z                  TINYINT NOT NULL,
    m                  TINYINT NOT NULL,
    PRIMARY KEY (table_name, column_name),
    UNIQUE (table_name),
    FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name)
);
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE districts (
    code    TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    outline MULTIPOLYGON NOT NULL
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
    geom           MULTIPOLYGON NOT NULL
);
CREATE TABLE blocks (
    id      INTEGER PRIMARY KEY,
    grid_id INTEGER NOT NULL REFERENCES grids(id),
    geom    POLYGON NOT NULL
);
CREATE TABLE roads (
    id        INTEGER PRIMARY KEY,
    from_node INTEGER NOT NULL,
    to_node   INTEGER NOT NULL,
    class     TEXT NOT NULL,
    length_m  REAL NOT NULL,
    geom      LINESTRING NOT NULL
);
CREATE TABLE buildings (
    id               INTEGER PRIMARY KEY,
    grid_id          INTEGER NOT NULL REFERENCES grids(id),
    kind             TEXT NOT NULL,
    address          TEXT NOT NULL,
    floors           INTEGER NOT NULL,
    dwellings        INTEGER NOT NULL,
    utility_accounts INTEGER NOT NULL,
    -- the entrance point, a GeoPackage geometry blob (the layer's geometry is the footprint)
    point            BLOB NOT NULL,
    footprint        POLYGON NOT NULL,
    external_id      TEXT
);
CREATE UNIQUE INDEX buildings_external_id ON buildings(external_id);
CREATE INDEX buildings_grid ON buildings(grid_id);
CREATE TABLE landlords (
    id        INTEGER PRIMARY KEY,
    name      TEXT NOT NULL,
    id_number TEXT NOT NULL,
    phone     TEXT NOT NULL
);
CREATE TABLE rental_units (
    id            INTEGER PRIMARY KEY,
    building_id   INTEGER NOT NULL REFERENCES buildings(id),
    landlord_id   INTEGER REFERENCES landlords(id),
    label         TEXT NOT NULL,
    registered    INTEGER NOT NULL,
    registered_on TEXT,
    pledge_signed INTEGER NOT NULL,
    tenants       INTEGER NOT NULL,
    mode          TEXT NOT NULL,
    concentrated  INTEGER NOT NULL,
    external_id   TEXT
);
CREATE UNIQUE INDEX rental_units_external_id ON rental_units(external_id);
CREATE INDEX landlords_id_number ON landlords(id_number);
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
    point                 POINT NOT NULL,
    employees             INTEGER NOT NULL,
    migrant_workers       INTEGER NOT NULL,
    responsibility_signed INTEGER NOT NULL,
    contracts_signed      INTEGER NOT NULL,
    insured               INTEGER NOT NULL,
    external_id           TEXT
);
CREATE UNIQUE INDEX workplaces_external_id ON workplaces(external_id);
CREATE TABLE persons (
    id            INTEGER PRIMARY KEY,
    household_id  INTEGER NOT NULL REFERENCES households(id),
    building_id   INTEGER NOT NULL REFERENCES buildings(id),
    name          TEXT NOT NULL,
    id_number     TEXT NOT NULL,
    phone         TEXT NOT NULL,
    registered    INTEGER NOT NULL,
    registered_on TEXT,
    permit        INTEGER NOT NULL,
    consistent    INTEGER NOT NULL,
    workplace_id  INTEGER REFERENCES workplaces(id)
);
CREATE INDEX persons_building ON persons(building_id);
CREATE TABLE caseworkers (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    street_code TEXT NOT NULL REFERENCES streets(code),
    external_id TEXT
);
CREATE UNIQUE INDEX caseworkers_external_id ON caseworkers(external_id);
CREATE TABLE caseworker_grids (
    caseworker_id INTEGER NOT NULL REFERENCES caseworkers(id),
    grid_id       INTEGER NOT NULL REFERENCES grids(id),
    PRIMARY KEY (caseworker_id, grid_id)
);
CREATE TABLE visits (
    id               INTEGER PRIMARY KEY,
    client_id        TEXT NOT NULL UNIQUE,
    building_id      INTEGER NOT NULL REFERENCES buildings(id),
    caseworker_id    INTEGER REFERENCES caseworkers(id),
    visited_on       TEXT NOT NULL,
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
    checked_on          TEXT NOT NULL,
    households_checked  INTEGER NOT NULL,
    missed_registration INTEGER NOT NULL,
    missed_permit       INTEGER NOT NULL,
    wrong_records       INTEGER NOT NULL
);
CREATE TABLE tips (
    id          INTEGER PRIMARY KEY,
    building_id INTEGER NOT NULL REFERENCES buildings(id),
    received_on TEXT NOT NULL,
    text        TEXT NOT NULL
);
-- Demo ground truth: what no register holds. Only the demo city fills it.
CREATE TABLE demo_hidden (
    building_id INTEGER PRIMARY KEY REFERENCES buildings(id),
    units       INTEGER NOT NULL,
    persons     INTEGER NOT NULL
);
CREATE UNIQUE INDEX persons_id_number ON persons(id_number);
CREATE UNIQUE INDEX households_unit_card ON households(rental_unit_id, card_no);
-- 蚕食法 sweep campaigns: the request and the plan as planned, the blocks in their nibbling
-- order with the phase each has reached, and the buildings of each block. A visit may name the
-- campaign it belongs to.
CREATE TABLE campaigns (
    id                INTEGER PRIMARY KEY,
    created_on        TEXT NOT NULL,
    -- the area as requested (JSON) and the caseworker ids (JSON array)
    area              TEXT NOT NULL,
    team              TEXT NOT NULL,
    start_on          TEXT NOT NULL,
    working_days      INTEGER NOT NULL,
    buildings_per_day INTEGER NOT NULL,
    recheck_weeks     INTEGER NOT NULL,
    -- the plan (JSON)
    plan              TEXT NOT NULL
);
CREATE TABLE campaign_blocks (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    block_id    INTEGER NOT NULL REFERENCES blocks(id),
    seq         INTEGER NOT NULL,
    grid_id     INTEGER NOT NULL REFERENCES grids(id),
    phase       TEXT CHECK (phase IN ('investigate', 'clear', 'rectify', 'consolidate')),
    PRIMARY KEY (campaign_id, block_id)
);
CREATE TABLE campaign_buildings (
    campaign_id INTEGER NOT NULL,
    building_id INTEGER NOT NULL REFERENCES buildings(id),
    block_id    INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, building_id),
    FOREIGN KEY (campaign_id, block_id) REFERENCES campaign_blocks(campaign_id, block_id)
);
CREATE INDEX campaign_buildings_block ON campaign_buildings(campaign_id, block_id);
ALTER TABLE visits ADD COLUMN campaign_id INTEGER REFERENCES campaigns(id);
CREATE INDEX visits_campaign ON visits(campaign_id, building_id);
-- Territory proposals (包干区划分方案) and the audit log of accepting them: accepting a proposal
-- replaces its streets' caseworker_grids in one transaction and appends one audit row.
CREATE TABLE territory_proposals (
    id           INTEGER PRIMARY KEY,
    created_at   TEXT NOT NULL,
    rule         TEXT NOT NULL,
    mode         TEXT NOT NULL,
    epsilon      REAL NOT NULL,
    -- street codes (JSON array)
    streets      TEXT NOT NULL,
    -- grid ids of those streets (JSON array)
    street_grids TEXT NOT NULL,
    -- the contracts it started from, `caseworker:grid,…`: accepting needs them unchanged
    basis        TEXT NOT NULL,
    -- the proposed contracts (JSON array of [caseworker, grid])
    assignments  TEXT NOT NULL,
    -- the proposal as the API answers it (JSON)
    document     TEXT NOT NULL,
    accepted_by  TEXT,
    accepted_at  TEXT
);
CREATE TABLE territory_audit (
    id               INTEGER PRIMARY KEY,
    proposal_id      INTEGER NOT NULL REFERENCES territory_proposals(id),
    accepted_by      TEXT NOT NULL,
    accepted_at      TEXT NOT NULL,
    streets          TEXT NOT NULL,
    contracts_before TEXT NOT NULL,
    contracts_after  TEXT NOT NULL,
    -- quality today and proposed per street (JSON)
    summary          TEXT NOT NULL
);
CREATE INDEX territory_audit_proposal ON territory_audit(proposal_id);
CREATE VIEW boundaries AS
    SELECT rowid AS fid, 'district' AS level, code, name, outline AS geom FROM districts;
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) VALUES
    ('grids', 'features', 'grids', '网格: the management grids', 4326),
    ('blocks', 'features', 'blocks', 'blocks of the grids, swept one at a time', 4326),
    ('roads', 'features', 'roads', 'the walking network', 4326),
    ('buildings', 'features', 'buildings', 'building footprints', 4326),
    ('workplaces', 'features', 'workplaces', '单位: employers', 4326),
    ('boundaries', 'features', 'boundaries', 'the district outline', 4326);
INSERT INTO gpkg_geometry_columns (table_name, column_name, geometry_type_name, srs_id, z, m) VALUES
    ('grids', 'geom', 'MULTIPOLYGON', 4326, 0, 0),
    ('blocks', 'geom', 'POLYGON', 4326, 0, 0),
    ('roads', 'geom', 'LINESTRING', 4326, 0, 0),
    ('buildings', 'footprint', 'POLYGON', 4326, 0, 0),
    ('workplaces', 'point', 'POINT', 4326, 0, 0),
    ('boundaries', 'geom', 'MULTIPOLYGON', 4326, 0, 0);
