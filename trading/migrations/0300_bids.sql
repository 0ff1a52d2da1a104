-- Sealed bids (seal/v1, DESIGN.md §6; docs/sealing.md). Before the deadline, who and how many have bid is known
-- to nothing but these rows (招标投标法 第二十二条): no API exposes them to the agency, other bidders or the public,
-- and the witness entries about bids carry no bidder identity.

-- A resumable upload in progress (create with the signed manifest → PATCH chunks → finalize). Rows are deleted
-- when the upload is accepted or refused; an upload is not a bid.
CREATE TABLE bid_uploads (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lot_id uuid NOT NULL REFERENCES lots (id),
    bidder_org_id uuid NOT NULL REFERENCES organisations (id),
    user_id uuid NOT NULL REFERENCES users (id),
    identity_key_id uuid NOT NULL REFERENCES identity_keys (id),
    manifest bytea NOT NULL,                          -- exact signed bytes
    signature bytea NOT NULL CHECK (length(signature) = 64),
    manifest_sha256 bytea NOT NULL CHECK (length(manifest_sha256) = 32),
    ct_sha256 bytea NOT NULL CHECK (length(ct_sha256) = 32),
    ct_len bigint NOT NULL CHECK (ct_len >= 0),
    received bigint NOT NULL DEFAULT 0 CHECK (received >= 0 AND received <= ct_len),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    addr text
);
CREATE INDEX bid_uploads_lot_idx ON bid_uploads (lot_id, bidder_org_id);

-- Accepted bids, one row per version. status: active (the latest, to be opened) | superseded (a later version
-- replaced it) | withdrawn (the bidder withdrew before the deadline). Superseded and withdrawn bids are never
-- unsealed (电子招标投标办法 第二十七条; 招标投标法 第二十九条).
CREATE TABLE bids (
    bid_id uuid PRIMARY KEY,                          -- the manifest's 16-byte bid_id
    lot_id uuid NOT NULL REFERENCES lots (id),
    tender_id uuid NOT NULL REFERENCES tenders (id),
    bidder_org_id uuid NOT NULL REFERENCES organisations (id),
    signer_id uuid NOT NULL REFERENCES users (id),
    identity_key_id uuid NOT NULL REFERENCES identity_keys (id),
    version integer NOT NULL CHECK (version >= 1),
    previous_manifest_sha256 bytea,
    manifest bytea NOT NULL,                          -- exact signed bytes (wrapped shares only; no plaintext)
    signature bytea NOT NULL CHECK (length(signature) = 64),
    manifest_sha256 bytea NOT NULL UNIQUE CHECK (length(manifest_sha256) = 32),
    ct_sha256 bytea NOT NULL CHECK (length(ct_sha256) = 32),  -- the blob store key (hex of it)
    ct_len bigint NOT NULL CHECK (ct_len >= 0),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'superseded', 'withdrawn')),
    accepted_at timestamptz NOT NULL,                 -- hash verified (to the millisecond), before the deadline
    accept_seq bigint NOT NULL,                       -- log seq of its bid:seal:accept entry
    receipt text NOT NULL,                            -- the signed receipt returned to the bidder
    superseded_at timestamptz,
    withdrawn_at timestamptz,
    addr text,
    UNIQUE (lot_id, bidder_org_id, version),
    CHECK ((version = 1) = (previous_manifest_sha256 IS NULL))
);
-- At most one live bid per bidder and lot.
CREATE UNIQUE INDEX bids_one_active_idx ON bids (lot_id, bidder_org_id) WHERE status = 'active';
CREATE INDEX bids_lot_idx ON bids (lot_id, status);

-- Bidder-signed withdrawals (the exact statement bytes and signature, kept for the archive).
CREATE TABLE bid_withdrawals (
    bid_id uuid PRIMARY KEY REFERENCES bids (bid_id),
    lot_id uuid NOT NULL REFERENCES lots (id),
    bidder_org_id uuid NOT NULL REFERENCES organisations (id),
    signer_id uuid NOT NULL REFERENCES users (id),
    statement bytea NOT NULL,
    signature bytea NOT NULL CHECK (length(signature) = 64),
    withdrawn_at timestamptz NOT NULL,
    seq bigint NOT NULL,
    addr text
);

