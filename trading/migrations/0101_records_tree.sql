-- Witness log (records/v1): the tree head, every complete subtree hash, signed checkpoints, keys, documents.

-- The head of the log: size, the frontier (hashes of the complete subtrees of the right edge, largest first)
-- and the root. Updated by the single writer in the same statement that inserts the entries.
CREATE TABLE log_head (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    origin text,
    size bigint NOT NULL CHECK (size >= 0),
    frontier bytea[] NOT NULL,
    root bytea NOT NULL CHECK (length(root) = 32)
);

-- Complete subtree hashes of level >= 1 (level 0 = log_entries.leaf_hash), Trillian style: node (level, idx)
-- covers leaves [idx * 2^level, (idx + 1) * 2^level). Filled at append (amortised one row per entry).
CREATE TABLE log_nodes (
    level smallint NOT NULL CHECK (level BETWEEN 1 AND 63),
    idx bigint NOT NULL CHECK (idx >= 0),
    hash bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);

-- Signed checkpoints (C2SP tlog-checkpoint in a signed note), exactly as published.
CREATE TABLE log_checkpoints (
    tree_size bigint PRIMARY KEY CHECK (tree_size >= 0),
    root bytea NOT NULL CHECK (length(root) = 32),
    key_id bytea NOT NULL CHECK (length(key_id) = 4),
    note text NOT NULL,
    reason text NOT NULL DEFAULT 'interval',
    signed_at timestamptz NOT NULL
);

-- Every verifier key that has signed a checkpoint (rotation keeps old checkpoints verifiable).
CREATE TABLE log_keys (
    key_id bytea NOT NULL CHECK (length(key_id) = 4),
    vkey text NOT NULL UNIQUE,
    first_used_at timestamptz NOT NULL,
    PRIMARY KEY (key_id, vkey)
);

-- Documents (PDFs, …) produced for a tender; the blob is in the blob store, its hash in the log.
CREATE TABLE record_documents (
    sha256 text NOT NULL CHECK (length(sha256) = 64),
    tender_id uuid NOT NULL,
    lot_id uuid,
    kind text NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
    filename text NOT NULL CHECK (length(filename) BETWEEN 1 AND 200),
    size bigint NOT NULL,
    seq bigint NOT NULL REFERENCES log_entries (seq),
    actor text,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tender_id, sha256, kind)
);

-- Begin an append: take the single-writer lock, then (with a fresh snapshot, so nothing committed by the
-- previous writer is missed) read the head and, for each entry, its tender (from the lot when only the lot
-- is given) and the seq of that tender's latest entry (the per-tender chain `prev`).
CREATE FUNCTION records_begin_append(p_lock bigint, p_tenders uuid[], p_lots uuid[])
RETURNS TABLE (size bigint, frontier bytea[], origin text, tenders uuid[], prevs bigint[])
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock);
    INSERT INTO log_head (id, size, frontier, root) VALUES (true, 0, '{}', sha256(''::bytea))
        ON CONFLICT (id) DO NOTHING;
    RETURN QUERY
    WITH items AS (
        SELECT i.ord, coalesce(i.t, (SELECT l.tender_id FROM lots l WHERE l.id = i.l)) AS tender
        FROM unnest(p_tenders, p_lots) WITH ORDINALITY AS i(t, l, ord)
    )
    SELECT h.size, h.frontier, h.origin,
           (SELECT array_agg(items.tender ORDER BY items.ord) FROM items),
           (SELECT array_agg((SELECT max(e.seq) FROM log_entries e WHERE e.tender_id = items.tender)
                             ORDER BY items.ord) FROM items)
    FROM log_head h WHERE h.id;
END
$$;
