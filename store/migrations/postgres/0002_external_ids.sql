-- Ledger ids, so that importing the same ledger again updates instead of duplicating.
ALTER TABLE rental_units ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX rental_units_external_id ON rental_units(external_id);
CREATE INDEX landlords_id_number ON landlords(id_number);
