-- A supervisor reopening a hazard case may judge it worse (issue 16): the severity a move set
-- (the one found, or a reopening's new one) is kept with the move in the case's history. NULL:
-- the move left it as it was (and for moves made before this column).
ALTER TABLE hazard_events ADD COLUMN severity TEXT CHECK (severity IN ('minor', 'major', 'severe'));
