-- Witness log (records/v1): entries stored exactly as hashed.
CREATE TABLE log_entries (
    seq bigint PRIMARY KEY CHECK (seq >= 0),
    tag text NOT NULL,
    tender_id uuid,
    lot_id uuid,
    actor text,
    time timestamptz NOT NULL,
    entry bytea NOT NULL,
    leaf_hash bytea NOT NULL CHECK (length(leaf_hash) = 32)
);
CREATE INDEX log_entries_tender_idx ON log_entries (tender_id, seq);
CREATE INDEX log_entries_lot_idx ON log_entries (lot_id, seq);
CREATE INDEX log_entries_tag_idx ON log_entries (tag, seq);
