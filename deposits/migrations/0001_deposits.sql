-- Bid deposits (投标保证金): receiving banks, virtual sub-accounts, basic accounts, e-guarantees, statement
-- import, matching, ledger, refunds. docs/deposits.md explains each table.

CREATE TABLE deposit_banks (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9_-]{2,32}$'),     -- short name used by the CLI (--bank)
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    cnaps_code text NOT NULL UNIQUE CHECK (cnaps_code ~ '^[0-9]{12}$'), -- 大额支付系统行号
    bic text,
    main_account text NOT NULL UNIQUE,
    main_account_name text NOT NULL,
    currency text NOT NULL DEFAULT 'CNY',
    formats text[] NOT NULL CHECK (formats <@ ARRAY['camt.053', 'camt.054', 'camt.052', 'mt940', 'mt942', 'csv']::text[]),
    legacy_encoding text NOT NULL DEFAULT 'gb18030',
    -- Which bank time an entry counts by against the bid deadline (agreed with the bank, docs/deposits.md).
    time_basis text NOT NULL DEFAULT 'booking' CHECK (time_basis IN ('booking', 'acceptance', 'value')),
    timezone text NOT NULL DEFAULT 'Asia/Shanghai',
    virtual_prefix text NOT NULL CHECK (virtual_prefix ~ '^[0-9]{4,12}$'),
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL
);

-- One deposit requirement per (lot, bidder) that asked for a deposit account; the amount is the lot's.
CREATE TABLE deposit_requirements (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lot_id uuid NOT NULL REFERENCES lots (id),
    org_id uuid NOT NULL REFERENCES organisations (id),
    amount_fen bigint NOT NULL CHECK (amount_fen > 0),
    created_at timestamptz NOT NULL,
    UNIQUE (lot_id, org_id)
);

-- 虚拟子账号: unique to (lot, bidder) at the bank the bidder picked. Random, so a number reveals neither
-- how many bidders asked before nor anything else.
CREATE TABLE virtual_accounts (
    number text PRIMARY KEY,
    bank_id uuid NOT NULL REFERENCES deposit_banks (id),
    requirement_id uuid NOT NULL REFERENCES deposit_requirements (id),
    created_at timestamptz NOT NULL,
    created_by uuid REFERENCES users (id),
    UNIQUE (bank_id, requirement_id)
);
CREATE INDEX virtual_accounts_requirement_idx ON virtual_accounts (requirement_id);

-- 基本账户 of bidders (招标投标法实施条例 第二十六条), with validity.
CREATE TABLE basic_accounts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id uuid NOT NULL REFERENCES organisations (id),
    account_number text NOT NULL CHECK (account_number ~ '^[0-9A-Z]{6,40}$'),
    bank_name text NOT NULL,
    account_name text NOT NULL,
    valid_from date NOT NULL,
    valid_until date,
    created_at timestamptz NOT NULL,
    created_by uuid REFERENCES users (id),
    CHECK (valid_until IS NULL OR valid_until >= valid_from)
);
CREATE INDEX basic_accounts_org_idx ON basic_accounts (org_id);
CREATE INDEX basic_accounts_number_idx ON basic_accounts (account_number);

-- 电子保函 instead of cash; the issuer's signed file is kept in the blob store.
CREATE TABLE deposit_guarantees (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    requirement_id uuid NOT NULL REFERENCES deposit_requirements (id),
    issuer text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 200),
    number text NOT NULL CHECK (length(number) BETWEEN 1 AND 100),
    amount_fen bigint NOT NULL CHECK (amount_fen > 0),
    valid_from date NOT NULL,
    valid_until date NOT NULL,
    evidence_sha256 text NOT NULL,
    evidence_name text NOT NULL,
    evidence_type text NOT NULL,
    registered_at timestamptz NOT NULL,
    registered_by uuid REFERENCES users (id),
    UNIQUE (issuer, number)
);

-- Imported files: idempotent by content (sha256) and by the bank's message id.
CREATE TABLE deposit_import_files (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bank_id uuid NOT NULL REFERENCES deposit_banks (id),
    sha256 text NOT NULL UNIQUE,
    format text NOT NULL,
    msg_id text,
    filename text NOT NULL,
    size bigint NOT NULL,
    encoding text NOT NULL,
    statements integer NOT NULL,
    transactions integer NOT NULL,
    new_transactions integer NOT NULL,
    notes text[] NOT NULL DEFAULT '{}',
    imported_at timestamptz NOT NULL,
    imported_by uuid REFERENCES users (id)
);
CREATE UNIQUE INDEX deposit_import_files_msg_idx ON deposit_import_files (bank_id, format, msg_id) WHERE msg_id IS NOT NULL;

CREATE TABLE deposit_statements (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    file_id uuid NOT NULL REFERENCES deposit_import_files (id),
    bank_id uuid NOT NULL REFERENCES deposit_banks (id),
    kind text NOT NULL CHECK (kind IN ('statement', 'notification', 'intraday')),
    stmt_id text NOT NULL,
    account text NOT NULL,
    legal_seq text NOT NULL DEFAULT '',
    page text NOT NULL DEFAULT '',
    currency text,
    opening_fen bigint,
    opening_date date,
    closing_fen bigint,
    closing_date date,
    notes text[] NOT NULL DEFAULT '{}',
    position integer NOT NULL DEFAULT 0,         -- order in its file
    UNIQUE (bank_id, kind, account, stmt_id, legal_seq, page)
);

-- Bank transactions. txn_key: the bank's serial, else the entry's AcctSvcrRef + index, else a content hash +
-- its occurrence; the same key with other content is a conflict for a person (deposit_txn_conflicts).
CREATE TABLE bank_txns (
    id bigserial PRIMARY KEY,
    bank_id uuid NOT NULL REFERENCES deposit_banks (id),
    txn_key text NOT NULL,
    content_hash text NOT NULL,
    file_id uuid NOT NULL REFERENCES deposit_import_files (id),
    statement_id uuid NOT NULL REFERENCES deposit_statements (id),
    account text NOT NULL,
    direction text NOT NULL CHECK (direction IN ('CRDT', 'DBIT')),
    amount_fen bigint NOT NULL CHECK (amount_fen >= 0),
    currency text NOT NULL,
    status text NOT NULL CHECK (status IN ('BOOK', 'PDNG', 'INFO')),
    reversal boolean NOT NULL DEFAULT false,
    reverses_id bigint REFERENCES bank_txns (id),
    booking_date date,
    booked_at timestamptz,
    value_date date,
    accepted_at timestamptz,
    counted_at timestamptz,            -- the bank time this entry counts by (deposit_banks.time_basis)
    counted_precision text NOT NULL DEFAULT 'second' CHECK (counted_precision IN ('second', 'day')),
    payer_name text,
    payer_account text,
    payer_bank text,
    bank_ref text,
    entry_ref text,
    end_to_end_id text,
    instr_id text,
    remittance text NOT NULL DEFAULT '',
    notes text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    UNIQUE (bank_id, txn_key)
);
CREATE INDEX bank_txns_account_idx ON bank_txns (account);
CREATE INDEX bank_txns_e2e_idx ON bank_txns (end_to_end_id) WHERE end_to_end_id IS NOT NULL;
CREATE UNIQUE INDEX bank_txns_reverses_idx ON bank_txns (reverses_id) WHERE reverses_id IS NOT NULL;

CREATE TABLE deposit_txn_conflicts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    txn_id bigint NOT NULL REFERENCES bank_txns (id),
    file_id uuid NOT NULL REFERENCES deposit_import_files (id),
    content_hash text NOT NULL,
    seen jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    resolved_at timestamptz,
    resolved_by uuid REFERENCES users (id),
    resolution text,
    UNIQUE (txn_id, content_hash)
);

-- Matching: each run records only what changed against the previous results (a diff, never duplicates).
CREATE TABLE deposit_match_runs (
    id bigserial PRIMARY KEY,
    rule_version text NOT NULL,
    started_at timestamptz NOT NULL,
    actor uuid REFERENCES users (id),
    changed integer NOT NULL DEFAULT 0
);

-- Current result per bank transaction (latest run that changed it); history in deposit_match_history.
CREATE TABLE deposit_matches (
    txn_id bigint PRIMARY KEY REFERENCES bank_txns (id),
    requirement_id uuid REFERENCES deposit_requirements (id),
    counts boolean NOT NULL,           -- counts toward the requirement (in time, right currency, booked)
    flags text[] NOT NULL DEFAULT '{}',
    detail jsonb NOT NULL DEFAULT '{}',
    run_id bigint NOT NULL REFERENCES deposit_match_runs (id),
    rule_version text NOT NULL
);
CREATE INDEX deposit_matches_requirement_idx ON deposit_matches (requirement_id);

CREATE TABLE deposit_match_history (
    id bigserial PRIMARY KEY,
    run_id bigint NOT NULL REFERENCES deposit_match_runs (id),
    txn_id bigint NOT NULL REFERENCES bank_txns (id),
    before jsonb,
    after jsonb NOT NULL
);

-- Flags that are about a requirement rather than one transaction (UNDERPAID, SAME_PAYER_…), also current.
CREATE TABLE deposit_requirement_flags (
    requirement_id uuid NOT NULL REFERENCES deposit_requirements (id),
    flag text NOT NULL,
    detail jsonb NOT NULL DEFAULT '{}',
    run_id bigint NOT NULL REFERENCES deposit_match_runs (id),
    PRIMARY KEY (requirement_id, flag)
);

-- A reviewer's decision on a flag: a new row each time, never an edit.
CREATE TABLE deposit_flag_decisions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    txn_id bigint REFERENCES bank_txns (id),
    requirement_id uuid REFERENCES deposit_requirements (id),
    flag text NOT NULL,
    decision text NOT NULL CHECK (decision IN ('confirm', 'waive')),
    reason text NOT NULL CHECK (length(reason) BETWEEN 2 AND 2000),
    actor uuid NOT NULL REFERENCES users (id),
    decided_at timestamptz NOT NULL,
    CHECK (txn_id IS NOT NULL OR requirement_id IS NOT NULL)
);

-- The state each requirement froze in at the bid deadline; feeds the opening record.
CREATE TABLE deposit_states (
    requirement_id uuid PRIMARY KEY REFERENCES deposit_requirements (id),
    state text NOT NULL CHECK (state IN ('PAID', 'PARTIAL', 'LATE', 'INVALID_PAYER', 'GUARANTEE_ACCEPTED', 'MISSING')),
    paid_fen bigint NOT NULL,
    flags text[] NOT NULL DEFAULT '{}',
    frozen_at timestamptz NOT NULL,
    rule_version text NOT NULL
);

-- Ledger: immutable double-entry journals. Debits = credits per journal is checked by a deferred constraint
-- trigger at commit; postings may only be added to a journal in the transaction that created it (so a journal
-- checked once stays balanced); postings and journals cannot be updated or deleted.
CREATE TABLE ledger_journals (
    id bigserial PRIMARY KEY,
    idem_key text NOT NULL UNIQUE,
    kind text NOT NULL,
    booked_on date,                    -- the bank date (for balance checks against statements)
    memo text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    xact xid8 NOT NULL DEFAULT pg_current_xact_id()
);

CREATE TABLE ledger_postings (
    id bigserial PRIMARY KEY,
    journal_id bigint NOT NULL REFERENCES ledger_journals (id),
    account text NOT NULL,
    currency text NOT NULL,
    debit_fen bigint NOT NULL DEFAULT 0 CHECK (debit_fen >= 0),
    credit_fen bigint NOT NULL DEFAULT 0 CHECK (credit_fen >= 0),
    txn_id bigint REFERENCES bank_txns (id),
    CHECK ((debit_fen = 0) <> (credit_fen = 0))
);
CREATE INDEX ledger_postings_journal_idx ON ledger_postings (journal_id);
CREATE INDEX ledger_postings_account_idx ON ledger_postings (account);
CREATE INDEX ledger_postings_txn_idx ON ledger_postings (txn_id) WHERE txn_id IS NOT NULL;

CREATE FUNCTION ledger_journal_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT currency, sum(debit_fen) AS d, sum(credit_fen) AS c INTO bad
      FROM ledger_postings WHERE journal_id = NEW.id
     GROUP BY currency HAVING sum(debit_fen) <> sum(credit_fen) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger journal % (%) is unbalanced in %: debits % <> credits %',
            NEW.id, NEW.idem_key, bad.currency, bad.d, bad.c USING ERRCODE = '23514';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ledger_postings WHERE journal_id = NEW.id) THEN
        RAISE EXCEPTION 'ledger journal % (%) has no postings', NEW.id, NEW.idem_key USING ERRCODE = '23514';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER ledger_journals_balanced AFTER INSERT ON ledger_journals
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_journal_balanced();

CREATE FUNCTION ledger_posting_same_xact() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT xact FROM ledger_journals WHERE id = NEW.journal_id) <> pg_current_xact_id() THEN
        RAISE EXCEPTION 'posting to journal % refused: a journal is closed once its transaction commits',
            NEW.journal_id USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_postings_same_xact BEFORE INSERT ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION ledger_posting_same_xact();

CREATE FUNCTION ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = '42501';
END $$;
CREATE TRIGGER ledger_postings_immutable BEFORE UPDATE OR DELETE ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER ledger_journals_immutable BEFORE UPDATE OR DELETE ON ledger_journals
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();

-- Reconciliation findings: a mismatch is raised (a row, shown on the finance page), never hidden.
CREATE TABLE deposit_recon_issues (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind text NOT NULL,
    subject text NOT NULL,
    detail jsonb NOT NULL,
    found_at timestamptz NOT NULL,
    resolved_at timestamptz,
    UNIQUE (kind, subject)
);

-- Dated interest rates (活期存款利率 for refunds; loan base rate for the GP late charge), basis recorded.
CREATE TABLE deposit_interest_rates (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind text NOT NULL CHECK (kind IN ('demand_deposit', 'loan_base')),
    effective_from date NOT NULL,
    annual_rate numeric(9, 6) NOT NULL CHECK (annual_rate >= 0),  -- e.g. 0.003500 = 0.35 %
    day_count integer NOT NULL DEFAULT 360 CHECK (day_count IN (360, 365)),
    source text NOT NULL,
    UNIQUE (kind, effective_from)
);

CREATE TABLE deposit_refunds (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    business_ref text NOT NULL UNIQUE,        -- the pain.001 InstrId/EndToEndId; never re-issued
    requirement_id uuid REFERENCES deposit_requirements (id),
    txn_id bigint NOT NULL REFERENCES bank_txns (id),   -- the credit refunded (original payer account)
    bank_id uuid NOT NULL REFERENCES deposit_banks (id),
    reason text NOT NULL CHECK (reason IN ('withdrawn', 'lot_failed', 'tender_cancelled', 'not_awarded', 'awarded',
                                           'duplicate', 'overpaid', 'unknown_account', 'late', 'invalid_payer')),
    triggered_at timestamptz NOT NULL,
    due_at timestamptz,
    principal_fen bigint NOT NULL CHECK (principal_fen > 0),
    interest_fen bigint NOT NULL DEFAULT 0 CHECK (interest_fen >= 0),
    late_charge_fen bigint NOT NULL DEFAULT 0 CHECK (late_charge_fen >= 0),
    interest_basis jsonb NOT NULL DEFAULT '{}',
    payee_name text NOT NULL,
    payee_account text NOT NULL,
    payee_bank text,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'exported', 'settled', 'cancelled')),
    regime text NOT NULL,
    export_id uuid,
    settled_txn_id bigint REFERENCES bank_txns (id),
    created_at timestamptz NOT NULL,
    UNIQUE (txn_id)
);
CREATE INDEX deposit_refunds_status_idx ON deposit_refunds (bank_id, status);

CREATE TABLE deposit_refund_exports (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bank_id uuid NOT NULL REFERENCES deposit_banks (id),
    msg_id text NOT NULL UNIQUE,
    sha256 text NOT NULL,
    refunds integer NOT NULL,
    total_fen bigint NOT NULL,
    document bytea NOT NULL,                  -- the exact pain.001 bytes handed to the bank
    created_at timestamptz NOT NULL,
    created_by uuid REFERENCES users (id)
);

-- 条例 第三十五条第二款: retention needs a recorded decision.
CREATE TABLE deposit_retentions (
    requirement_id uuid PRIMARY KEY REFERENCES deposit_requirements (id),
    amount_fen bigint NOT NULL CHECK (amount_fen > 0),
    reason text NOT NULL CHECK (length(reason) BETWEEN 2 AND 2000),
    article text NOT NULL,
    actor uuid NOT NULL REFERENCES users (id),
    decided_at timestamptz NOT NULL
);
