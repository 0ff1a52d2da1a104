-- Faster appends (records/v1): a single-entry form of records_begin_append, and the lookups an append needs
-- when the writer already knows the head (optimistic path, guarded by the head's root; see log.py).

CREATE OR REPLACE FUNCTION records_begin_one(p_lock bigint, p_tender uuid, p_lot uuid)
RETURNS TABLE (size bigint, frontier bytea[], root bytea, origin text, tender uuid, prev bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    t uuid := p_tender;
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock);
    IF t IS NULL AND p_lot IS NOT NULL THEN
        SELECT l.tender_id INTO t FROM lots l WHERE l.id = p_lot;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM log_head WHERE id) THEN
        INSERT INTO log_head (id, size, frontier, root) VALUES (true, 0, '{}', sha256(''::bytea));
    END IF;
    RETURN QUERY SELECT h.size, h.frontier, h.root, h.origin, t,
        CASE WHEN t IS NULL THEN NULL ELSE (SELECT max(e.seq) FROM log_entries e WHERE e.tender_id = t) END
        FROM log_head h WHERE h.id;
END
$$;

-- For each (tender, lot): the tender (from the lot when only the lot is given) and its latest entry's seq.
CREATE OR REPLACE FUNCTION records_lookup(p_tenders uuid[], p_lots uuid[])
RETURNS TABLE (tender uuid, prev bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    -- plpgsql, not sql: the body names `lots` (0200), which does not exist yet when this file runs.
    RETURN QUERY
    SELECT x.tender, (SELECT max(e.seq) FROM log_entries e WHERE e.tender_id = x.tender)
    FROM (SELECT i.ord, coalesce(i.t, (SELECT l.tender_id FROM lots l WHERE l.id = i.l)) AS tender
          FROM unnest(p_tenders, p_lots) WITH ORDINALITY AS i(t, l, ord)) x
    ORDER BY x.ord;
END
$$;
