-- Door plates (门牌二维码): the store's secret key for their tokens (one row, 64 hex digits,
-- written at the first print; never served) and every plate issued: a building's or a rental
-- unit's, its generation (a revoked plate's reprint is the next), its token (an HMAC of the kind,
-- the id and the generation under the key: it names no row) and when it was issued and revoked.
CREATE TABLE door_plate_key (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    key TEXT NOT NULL
);
CREATE TABLE door_plates (
    id         BIGSERIAL PRIMARY KEY,
    token      TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (kind IN ('building', 'unit')),
    target_id  BIGINT  NOT NULL,
    generation INTEGER NOT NULL,
    issued_at  TEXT NOT NULL,
    revoked_at TEXT,
    UNIQUE (kind, target_id, generation)
);
