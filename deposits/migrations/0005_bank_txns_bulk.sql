-- A 200,000-entry statement writes 220,000 bank_txns rows in one statement per batch: three per-row
-- foreign-key triggers (bank, file, statement) cost more than the row itself (~45 % of the insert). The same
-- references are checked once per statement from the inserted rows (a transition table), so a row pointing
-- at a missing bank, file or statement is still refused by the database; the references can never change
-- afterwards, and a referenced bank, file or statement cannot be deleted (what the foreign keys did).
ALTER TABLE bank_txns DROP CONSTRAINT bank_txns_bank_id_fkey,
                      DROP CONSTRAINT bank_txns_file_id_fkey,
                      DROP CONSTRAINT bank_txns_statement_id_fkey;

CREATE FUNCTION bank_txns_refs_exist() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT r.* INTO bad FROM (SELECT DISTINCT bank_id, file_id, statement_id FROM added) r
     WHERE NOT EXISTS (SELECT 1 FROM deposit_banks b WHERE b.id = r.bank_id)
        OR NOT EXISTS (SELECT 1 FROM deposit_import_files f WHERE f.id = r.file_id)
        OR NOT EXISTS (SELECT 1 FROM deposit_statements s WHERE s.id = r.statement_id)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'bank transaction refers to a missing bank %, file % or statement %',
            bad.bank_id, bad.file_id, bad.statement_id USING ERRCODE = '23503';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER bank_txns_refs_exist AFTER INSERT ON bank_txns
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION bank_txns_refs_exist();

CREATE FUNCTION bank_txns_refs_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the bank, file and statement of bank transaction % cannot change', OLD.id
        USING ERRCODE = '42501';
END $$;
CREATE TRIGGER bank_txns_refs_fixed BEFORE UPDATE OF bank_id, file_id, statement_id ON bank_txns
    FOR EACH ROW WHEN (OLD.bank_id IS DISTINCT FROM NEW.bank_id OR OLD.file_id IS DISTINCT FROM NEW.file_id
                       OR OLD.statement_id IS DISTINCT FROM NEW.statement_id)
    EXECUTE FUNCTION bank_txns_refs_fixed();

CREATE FUNCTION bank_txns_parent_kept() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    col text := CASE TG_TABLE_NAME WHEN 'deposit_banks' THEN 'bank_id'
                                   WHEN 'deposit_import_files' THEN 'file_id' ELSE 'statement_id' END;
    hit boolean;
BEGIN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM bank_txns t JOIN gone g ON g.id = t.%I)', col) INTO hit;
    IF hit THEN
        RAISE EXCEPTION '% rows referenced by bank transactions cannot be deleted', TG_TABLE_NAME
            USING ERRCODE = '23503';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER deposit_banks_kept AFTER DELETE ON deposit_banks
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION bank_txns_parent_kept();
CREATE TRIGGER deposit_import_files_kept AFTER DELETE ON deposit_import_files
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION bank_txns_parent_kept();
CREATE TRIGGER deposit_statements_kept AFTER DELETE ON deposit_statements
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION bank_txns_parent_kept();
