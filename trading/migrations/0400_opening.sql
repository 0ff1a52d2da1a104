-- Online opening (开标), DESIGN.md §6 "Opening": sessions, the list of bids to open, custodians' share
-- releases, per-bid outcomes, the opening record (开标记录表), sign-ins, confirmations and objections.

-- One opening session per lot, created when the deadline passes (招标投标法 第三十四条).
CREATE TABLE opening_sessions (
    lot_id uuid PRIMARY KEY REFERENCES lots (id),
    tender_id uuid NOT NULL REFERENCES tenders (id),
    -- failed: 流标 (fewer than 3 bids; nothing unsealed); unsealing: waiting for shares;
    -- published: every bid settled and the record published; closed: the record closed, lot → evaluation.
    status text NOT NULL CHECK (status IN ('failed', 'unsealing', 'published', 'closed')),
    deadline timestamptz NOT NULL,
    k integer NOT NULL CHECK (k >= 2),
    deadline_seq bigint NOT NULL,                    -- log seq of lot:deadline:pass
    start_seq bigint,                                -- log seq of opening:session:start (NULL when failed)
    start_entry_sha256 text,                         -- SHA-256 of that entry's bytes: custodians sign over it
    window_ends_at timestamptz NOT NULL,             -- decryption window (电子招标投标办法 第三十一条)
    started_at timestamptz NOT NULL,
    unsealed_at timestamptz,
    published_at timestamptz,
    closed_at timestamptz,
    closed_by uuid REFERENCES users (id)
);
CREATE INDEX opening_sessions_status_idx ON opening_sessions (status);

-- The bids to open, fixed at opening:session:start (latest non-withdrawn version per bidder, accepted before
-- the deadline). `state` moves once: pending → opened | revoked | withdrawn.
CREATE TABLE opening_bids (
    lot_id uuid NOT NULL REFERENCES opening_sessions (lot_id),
    bid_id uuid NOT NULL,
    version integer NOT NULL,
    bidder_org_id uuid NOT NULL REFERENCES organisations (id),
    manifest_sha256 text NOT NULL,
    ct_sha256 text NOT NULL,
    accepted_at timestamptz NOT NULL,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'opened', 'revoked', 'withdrawn')),
    PRIMARY KEY (lot_id, bid_id)
);
CREATE INDEX opening_bids_pending_idx ON opening_bids (lot_id) WHERE state = 'pending';

-- A custodian's signed share release: the exact statement bytes and the Ed25519 signature, kept for the archive.
CREATE TABLE opening_releases (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lot_id uuid NOT NULL REFERENCES opening_sessions (lot_id),
    custodian_id uuid NOT NULL REFERENCES users (id),
    x integer NOT NULL,
    statement bytea NOT NULL,
    signature bytea NOT NULL,
    statement_sha256 text NOT NULL,
    received_at timestamptz NOT NULL,
    addr text,
    UNIQUE (lot_id, statement_sha256)
);
CREATE INDEX opening_releases_lot_idx ON opening_releases (lot_id, custodian_id);

-- One released share per (bid, custodian). A share that fails its commitment is the custodian's fault: it is
-- kept with status 'bad' (evidence) and ignored; the custodian may send a good one later in the window.
CREATE TABLE opening_shares (
    lot_id uuid NOT NULL,
    bid_id uuid NOT NULL,
    custodian_id uuid NOT NULL REFERENCES users (id),
    x integer NOT NULL,
    share bytea NOT NULL,
    status text NOT NULL CHECK (status IN ('good', 'bad')),
    cause text,
    release_id uuid NOT NULL REFERENCES opening_releases (id),
    received_at timestamptz NOT NULL,
    PRIMARY KEY (lot_id, bid_id, custodian_id),
    FOREIGN KEY (lot_id, bid_id) REFERENCES opening_bids (lot_id, bid_id)
);

-- Results for evaluation (one row per bid on the list, once settled). Names and prices exist here only after
-- decryption is complete for the lot's record (电子招标投标办法 第三十条).
CREATE TABLE opened_bids (
    lot_id uuid NOT NULL,
    bid_id uuid NOT NULL,
    bidder_org_id uuid NOT NULL REFERENCES organisations (id),
    bidder_name text NOT NULL,
    manifest_sha256 text NOT NULL,
    status text NOT NULL CHECK (status IN ('opened', 'revoked', 'withdrawn')),
    cause text,                                      -- machine cause code when not opened
    detail text,                                     -- human explanation / evidence
    dek bytea,                                       -- public after opening (DESIGN §6)
    price_fen bigint CHECK (price_fen IS NULL OR price_fen >= 0),
    duration_days integer,
    form jsonb,
    attachments jsonb NOT NULL DEFAULT '[]',         -- [{name, sha256, size}], blobs in the blob store
    plaintext_sha256 text,
    opened_at timestamptz NOT NULL,
    PRIMARY KEY (lot_id, bid_id),
    FOREIGN KEY (lot_id, bid_id) REFERENCES opening_bids (lot_id, bid_id)
);

-- 签到: bidders' representatives present in the online hall (电子招标投标办法 第二十九条).
CREATE TABLE opening_signins (
    lot_id uuid NOT NULL REFERENCES lots (id),
    org_id uuid NOT NULL REFERENCES organisations (id),
    user_id uuid NOT NULL REFERENCES users (id),
    signed_in_at timestamptz NOT NULL,
    addr text,
    PRIMARY KEY (lot_id, org_id)
);

-- The published opening record (开标记录表): its data and the signed PDF (招标投标法 第三十六条).
CREATE TABLE opening_records (
    lot_id uuid PRIMARY KEY REFERENCES opening_sessions (lot_id),
    record jsonb NOT NULL,
    record_sha256 text NOT NULL,
    pdf_sha256 text,
    published_at timestamptz NOT NULL,
    -- at close: the final record with confirmations, objections and answers
    final_record jsonb,
    final_pdf_sha256 text,
    closed_at timestamptz
);

-- A bidder confirms the record (确认).
CREATE TABLE opening_confirmations (
    lot_id uuid NOT NULL REFERENCES opening_sessions (lot_id),
    org_id uuid NOT NULL REFERENCES organisations (id),
    user_id uuid NOT NULL REFERENCES users (id),
    confirmed_at timestamptz NOT NULL,
    PRIMARY KEY (lot_id, org_id)
);

-- 异议 at the opening, answered on the spot (招标投标法实施条例 第四十四条).
CREATE TABLE opening_objections (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lot_id uuid NOT NULL REFERENCES opening_sessions (lot_id),
    org_id uuid NOT NULL REFERENCES organisations (id),
    user_id uuid NOT NULL REFERENCES users (id),
    content text NOT NULL CHECK (length(content) BETWEEN 1 AND 4000),
    raised_at timestamptz NOT NULL,
    answer text CHECK (answer IS NULL OR length(answer) BETWEEN 1 AND 4000),
    answered_by uuid REFERENCES users (id),
    answered_at timestamptz
);
CREATE INDEX opening_objections_lot_idx ON opening_objections (lot_id, raised_at);
