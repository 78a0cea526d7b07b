-- Campaign requests and plans, and territory proposals' streets, grids and contracts, are JSON
-- documents written from typed values. Existing rows are converted: plans and requests were JSON
-- text already; a proposal's lists were comma-separated text (`caseworker:grid,…` for contracts).
ALTER TABLE campaigns
    ALTER COLUMN area TYPE jsonb USING area::jsonb,
    ALTER COLUMN team TYPE jsonb USING team::jsonb,
    ALTER COLUMN plan TYPE jsonb USING plan::jsonb;
ALTER TABLE territory_proposals
    ADD COLUMN streets_doc jsonb,
    ADD COLUMN street_grids_doc jsonb,
    ADD COLUMN assignments_doc jsonb;
UPDATE territory_proposals SET
    streets_doc = to_jsonb(array_remove(string_to_array(streets, ','), '')),
    street_grids_doc = to_jsonb(array_remove(string_to_array(street_grids, ','), '')::int[]),
    assignments_doc = COALESCE(
        (SELECT jsonb_agg(jsonb_build_array(split_part(p, ':', 1)::int, split_part(p, ':', 2)::int) ORDER BY n)
         FROM unnest(string_to_array(assignments, ',')) WITH ORDINALITY AS t(p, n) WHERE p <> ''),
        '[]'::jsonb);
ALTER TABLE territory_proposals DROP COLUMN streets, DROP COLUMN street_grids, DROP COLUMN assignments;
ALTER TABLE territory_proposals RENAME COLUMN streets_doc TO streets;
ALTER TABLE territory_proposals RENAME COLUMN street_grids_doc TO street_grids;
ALTER TABLE territory_proposals RENAME COLUMN assignments_doc TO assignments;
ALTER TABLE territory_proposals
    ALTER COLUMN streets SET NOT NULL,
    ALTER COLUMN street_grids SET NOT NULL,
    ALTER COLUMN assignments SET NOT NULL;
