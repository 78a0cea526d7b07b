-- 蚕食法 sweep campaigns: the request and the plan as planned, the blocks in their nibbling
-- order with the phase each has reached, and the buildings of each block. A visit may name the
-- campaign it belongs to.
CREATE TABLE campaigns (
    id                SERIAL PRIMARY KEY,
    created_on        DATE NOT NULL,
    area              TEXT NOT NULL,
    team              TEXT NOT NULL,
    start_on          DATE NOT NULL,
    working_days      INTEGER NOT NULL,
    buildings_per_day INTEGER NOT NULL,
    recheck_weeks     INTEGER NOT NULL,
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
