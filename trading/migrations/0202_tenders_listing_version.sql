-- A listing version that changes with every committed change to tenders, so app processes can cache the public
-- listing and still never serve a stale page: they compare (epoch, v) before using a cached page.
-- The bump runs at commit (deferred constraint trigger): it takes the counter row's lock last, holding nothing
-- it waits for afterwards, so it cannot deadlock with the transaction's other locks.
CREATE TABLE tender_listing_version (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    epoch uuid NOT NULL DEFAULT gen_random_uuid(),
    v bigint NOT NULL DEFAULT 0
);
INSERT INTO tender_listing_version (id) VALUES (true);

CREATE FUNCTION tender_listing_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tender_listing_version (id, v) VALUES (true, 1)
        ON CONFLICT (id) DO UPDATE SET v = tender_listing_version.v + 1;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER tenders_listing_bump AFTER INSERT OR UPDATE OR DELETE ON tenders
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION tender_listing_bump();
CREATE TRIGGER tenders_listing_truncate AFTER TRUNCATE ON tenders
    FOR EACH STATEMENT EXECUTE FUNCTION tender_listing_bump();
