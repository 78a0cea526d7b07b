-- Every building and rental unit has a ledger key: those stored before keys existed take their id.
UPDATE buildings SET external_id = CAST(id AS TEXT) WHERE external_id IS NULL;
UPDATE rental_units SET external_id = CAST(id AS TEXT) WHERE external_id IS NULL;
-- Ledger ids of caseworkers (工号) and workplaces (统一社会信用代码 or the ledger's own), so that
-- importing the same ledger again updates instead of duplicating.
ALTER TABLE caseworkers ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX caseworkers_external_id ON caseworkers(external_id);
ALTER TABLE workplaces ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX workplaces_external_id ON workplaces(external_id);
CREATE UNIQUE INDEX persons_id_number ON persons(id_number);
CREATE UNIQUE INDEX households_unit_card ON households(rental_unit_id, card_no);
