-- Territory proposals (包干区划分方案) and the audit log of accepting them: accepting a proposal
-- replaces its streets' caseworker_grids in one transaction and appends one audit row.
CREATE TABLE territory_proposals (
    id           BIGSERIAL PRIMARY KEY,
    created_at   TEXT NOT NULL,
    rule         TEXT NOT NULL,
    mode         TEXT NOT NULL,
    epsilon      DOUBLE PRECISION NOT NULL,
    -- street codes, comma-separated
    streets      TEXT NOT NULL,
    -- grid ids of those streets, comma-separated
    street_grids TEXT NOT NULL,
    -- the contracts it started from, `caseworker:grid,…`: accepting needs them unchanged
    basis        TEXT NOT NULL,
    -- the proposed contracts, `caseworker:grid,…`
    assignments  TEXT NOT NULL,
    -- the proposal as the API answers it (JSON)
    document     TEXT NOT NULL,
    accepted_by  TEXT,
    accepted_at  TEXT
);
CREATE TABLE territory_audit (
    id               BIGSERIAL PRIMARY KEY,
    proposal_id      BIGINT  NOT NULL REFERENCES territory_proposals(id),
    accepted_by      TEXT NOT NULL,
    accepted_at      TEXT NOT NULL,
    streets          TEXT NOT NULL,
    contracts_before TEXT NOT NULL,
    contracts_after  TEXT NOT NULL,
    -- quality today and proposed per street (JSON)
    summary          TEXT NOT NULL
);
CREATE INDEX territory_audit_proposal ON territory_audit(proposal_id);
