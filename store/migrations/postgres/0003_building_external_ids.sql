-- Survey ids of buildings, so that importing footprints again updates instead of duplicating.
ALTER TABLE buildings ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX buildings_external_id ON buildings(external_id);
