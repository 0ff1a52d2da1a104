-- Tender projects (招标项目), lots (标段), documents, downloads, amendments, objections, lot custodians.
CREATE TABLE tenders (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code text NOT NULL UNIQUE,                       -- 项目编号
    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    description text NOT NULL DEFAULT '',
    -- RULES G1: Bidding Law (招标投标法) or government procurement (政府采购法).
    regime text NOT NULL CHECK (regime IN ('bidding_law', 'gov_procurement')),
    must_tender boolean NOT NULL DEFAULT true,       -- 依法必须招标
    procurement_type text NOT NULL CHECK (procurement_type IN ('works', 'goods', 'services')),
    region text NOT NULL,                            -- administrative division code, e.g. 350100
    tenderer_org_id uuid NOT NULL REFERENCES organisations (id),
    agency_org_id uuid NOT NULL REFERENCES organisations (id),
    -- draft | published | cancelled at the tender level; later states live on each lot.
    status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'cancelled')),
    cancel_reason text,
    -- timeline (UTC); shown in Asia/Shanghai
    publish_at timestamptz,                          -- when actually published
    docs_from timestamptz NOT NULL,                  -- bidding documents available from
    docs_until timestamptz NOT NULL,                 -- bidding documents available until
    clarification_deadline timestamptz NOT NULL,
    bid_deadline timestamptz NOT NULL,               -- = opening time (招标投标法 第三十四条)
    suspended boolean NOT NULL DEFAULT false,        -- 条例 第二十二条: an unanswered objection suspends
    version integer NOT NULL DEFAULT 0,              -- amendment count; 0 = as first published
    created_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX tenders_status_idx ON tenders (status, publish_at DESC);
CREATE INDEX tenders_region_idx ON tenders (region);
CREATE INDEX tenders_agency_idx ON tenders (agency_org_id);

CREATE TABLE lots (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tender_id uuid NOT NULL REFERENCES tenders (id),
    number integer NOT NULL CHECK (number >= 1),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    estimated_price_fen bigint NOT NULL CHECK (estimated_price_fen > 0),
    max_price_fen bigint CHECK (max_price_fen IS NULL OR max_price_fen > 0),   -- 最高投标限价, disclosed
    deposit_fen bigint NOT NULL DEFAULT 0 CHECK (deposit_fen >= 0),
    evaluation_method text NOT NULL CHECK (evaluation_method IN ('comprehensive', 'lowest_price')),
    -- extra declared bid-form fields: [{"name": "duration_days", "label": "工期", "type": "int", "required": true}, …]
    bid_fields jsonb NOT NULL DEFAULT '[]',
    -- custodians: k of n unseal (DESIGN §6)
    custodian_k integer NOT NULL DEFAULT 2 CHECK (custodian_k >= 2),
    custodian_n integer NOT NULL DEFAULT 3 CHECK (custodian_n >= custodian_k AND custodian_n <= 16),
    post_quantum boolean NOT NULL DEFAULT false,
    -- published | closed | opening | evaluation | publicity | awarded | failed | cancelled
    -- 'closed' is also derived from the clock when read (bid_deadline passed), so no missed timer lets a bid in.
    status text NOT NULL DEFAULT 'draft' CHECK (status IN (
        'draft', 'published', 'closed', 'opening', 'evaluation', 'publicity', 'awarded', 'failed', 'cancelled')),
    status_reason text,
    ceremony_hash bytea,                             -- SHA-256 of the ceremony record, fixed at publication
    UNIQUE (tender_id, number)
);

-- The lot's key custodians and their per-lot HPKE public keys (uploaded by `tenderhall custodian keygen`).
CREATE TABLE lot_custodians (
    lot_id uuid NOT NULL REFERENCES lots (id),
    custodian_id uuid NOT NULL REFERENCES users (id),
    x integer NOT NULL CHECK (x BETWEEN 1 AND 16),   -- share index (x-coordinate)
    suite text,                                      -- e.g. 'x25519-hkdf-sha256-aes256gcm'
    hpke_public_key bytea,
    signature bytea,                                 -- custodian's Ed25519 signature over the key statement
    registered_at timestamptz,
    PRIMARY KEY (lot_id, custodian_id),
    UNIQUE (lot_id, x)
);

CREATE TABLE tender_documents (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tender_id uuid NOT NULL REFERENCES tenders (id),
    lot_id uuid REFERENCES lots (id),                -- NULL: applies to every lot
    version integer NOT NULL,                        -- tender version it was issued with
    filename text NOT NULL,
    content_type text NOT NULL,
    sha256 text NOT NULL,                            -- blob store key
    size bigint NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX tender_documents_tender_idx ON tender_documents (tender_id);

-- 领取招标文件: who obtained a lot's documents. Not a gate (电子招标投标办法 第二十条); confidential before the
-- deadline (招标投标法 第二十二条). Bids and deposit accounts require a row here.
CREATE TABLE document_downloads (
    lot_id uuid NOT NULL REFERENCES lots (id),
    org_id uuid NOT NULL REFERENCES organisations (id),
    user_id uuid NOT NULL REFERENCES users (id),
    first_at timestamptz NOT NULL,
    last_at timestamptz NOT NULL,
    count integer NOT NULL DEFAULT 1,
    PRIMARY KEY (lot_id, org_id)
);

-- Every version of the announcement, as published (amendments keep history).
CREATE TABLE tender_versions (
    tender_id uuid NOT NULL REFERENCES tenders (id),
    version integer NOT NULL,
    kind text NOT NULL CHECK (kind IN ('publish', 'amend', 'clarify', 'cancel')),
    summary text NOT NULL DEFAULT '',
    snapshot jsonb NOT NULL,
    created_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tender_id, version)
);

-- 异议 against the tender documents (招标投标法实施条例 第二十二条).
CREATE TABLE tender_objections (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tender_id uuid NOT NULL REFERENCES tenders (id),
    lot_id uuid REFERENCES lots (id),
    org_id uuid NOT NULL REFERENCES organisations (id),
    user_id uuid NOT NULL REFERENCES users (id),
    content text NOT NULL,
    filed_at timestamptz NOT NULL,
    answer text,
    answered_by uuid REFERENCES users (id),
    answered_at timestamptz
);
CREATE INDEX tender_objections_tender_idx ON tender_objections (tender_id);

-- The exact ceremony record bytes (trading/bids/ceremony.py) fixed at publication; ceremony_hash = SHA-256.
ALTER TABLE lots ADD COLUMN ceremony_record bytea;
