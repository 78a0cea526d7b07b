-- The change log (issue 17): what each committed write changed in what servers keep in memory,
-- so that several servers on one database stay consistent. `seq` is the write's audit row's
-- place (the commit order), `prev` the change before it (a gap means older changes were pruned),
-- `version` the data version once it is applied, `body` the change as JSON.
CREATE TABLE changes (
    seq     BIGINT PRIMARY KEY,
    prev    BIGINT NOT NULL,
    version BIGINT NOT NULL,
    body    TEXT NOT NULL
);
