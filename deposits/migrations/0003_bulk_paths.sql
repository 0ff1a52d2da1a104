-- Bulk paths (a 200,000-entry statement, a 50,000-bidder matching run) pay per-row trigger costs; these keep
-- the guarantees and drop the per-row work.

-- History and posting annotations: plain columns (the rows they point to are written in the same transaction
-- by the same code, and neither table is ever updated).
ALTER TABLE deposit_match_history DROP CONSTRAINT deposit_match_history_run_id_fkey,
                                  DROP CONSTRAINT deposit_match_history_txn_id_fkey;
ALTER TABLE ledger_postings DROP CONSTRAINT ledger_postings_txn_id_fkey;

-- "Postings only into a journal of this transaction" checked once per statement instead of once per row.
DROP TRIGGER ledger_postings_same_xact ON ledger_postings;
DROP FUNCTION ledger_posting_same_xact();
CREATE FUNCTION ledger_postings_same_xact() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad bigint;
BEGIN
    SELECT a.journal_id INTO bad FROM (SELECT DISTINCT journal_id FROM added) a
      JOIN ledger_journals j ON j.id = a.journal_id
     WHERE j.xact <> pg_current_xact_id() LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'posting to journal % refused: a journal is closed once its transaction commits', bad
            USING ERRCODE = '42501';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_postings_same_xact AFTER INSERT ON ledger_postings
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION ledger_postings_same_xact();
