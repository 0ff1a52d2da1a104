-- A matching run over a 200,000-entry statement writes ~220,000 deposit_matches rows and ~180,000 ledger postings.
-- Their two remaining per-row foreign-key triggers (match → requirement, posting → journal) cost ~1 s each of
-- PostgreSQL time per run (a key-share lock on the parent row for every row). The same references are
-- checked once per statement from the written rows (a transition table): a match naming a missing
-- requirement, or a posting into a missing journal, is still refused by the database (23503), and a
-- requirement referenced by a match cannot be deleted (journals can never be deleted: ledger_journals_immutable).

ALTER TABLE deposit_matches DROP CONSTRAINT deposit_matches_requirement_id_fkey;

CREATE FUNCTION deposit_matches_requirement_exists() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad uuid;
BEGIN
    SELECT a.requirement_id INTO bad FROM (SELECT DISTINCT requirement_id FROM added) a
     WHERE a.requirement_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM deposit_requirements r WHERE r.id = a.requirement_id)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'deposit match refers to a missing requirement %', bad USING ERRCODE = '23503';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER deposit_matches_requirement_inserted AFTER INSERT ON deposit_matches
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION deposit_matches_requirement_exists();
CREATE TRIGGER deposit_matches_requirement_updated AFTER UPDATE ON deposit_matches
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION deposit_matches_requirement_exists();

CREATE FUNCTION deposit_requirements_matched_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM deposit_matches m JOIN gone g ON g.id = m.requirement_id) THEN
        RAISE EXCEPTION 'deposit requirements referenced by matches cannot be deleted' USING ERRCODE = '23503';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER deposit_requirements_matched_kept AFTER DELETE ON deposit_requirements
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION deposit_requirements_matched_kept();

-- Postings: the statement-level check that already refused a posting into a journal of an earlier
-- transaction now also refuses a posting into a journal that does not exist (what the foreign key did).
ALTER TABLE ledger_postings DROP CONSTRAINT ledger_postings_journal_id_fkey;

CREATE OR REPLACE FUNCTION ledger_postings_same_xact() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad bigint;
    missing boolean;
BEGIN
    SELECT a.journal_id, j.id IS NULL INTO bad, missing FROM (SELECT DISTINCT journal_id FROM added) a
      LEFT JOIN ledger_journals j ON j.id = a.journal_id
     WHERE j.id IS NULL OR j.xact <> pg_current_xact_id() LIMIT 1;
    IF FOUND AND missing THEN
        RAISE EXCEPTION 'posting to journal % refused: no such journal', bad USING ERRCODE = '23503';
    ELSIF FOUND THEN
        RAISE EXCEPTION 'posting to journal % refused: a journal is closed once its transaction commits', bad
            USING ERRCODE = '42501';
    END IF;
    RETURN NULL;
END $$;
