-- Search finds a person by their whole name or the last 4 characters of their ID number
-- (issue 19): both indexed, so a search of the district does not read every person. The
-- expression is the one the store's queries use (`persons::ID_TAIL`), the same in PostgreSQL.
CREATE INDEX persons_name ON persons(name);
CREATE INDEX persons_id_tail ON persons(substr(id_number, length(id_number) - 3));
