-- Online evaluation (网上评标), publicity of candidates (中标候选人公示) and award (中标通知书). DESIGN.md §10.
-- Bid ids come from the opening (opened_bids) and expert ids from the expert pool; they are kept as plain uuids
-- here so this package depends only on the platform core's tables (lots, users, organisations).

-- The scoring scheme of a lot, set by the agency before evaluation starts (条例 第四十九条: only criteria in the
-- tender documents); frozen once evaluation starts.
CREATE TABLE evaluation_schemes (
    lot_id uuid PRIMARY KEY REFERENCES lots (id),
    technical_weight numeric(5, 4) NOT NULL DEFAULT 0 CHECK (technical_weight BETWEEN 0 AND 1),
    commercial_weight numeric(5, 4) NOT NULL DEFAULT 0 CHECK (commercial_weight BETWEEN 0 AND 1),
    price_weight numeric(5, 4) NOT NULL DEFAULT 0 CHECK (price_weight BETWEEN 0 AND 1),
    outlier_share numeric(5, 4) NOT NULL DEFAULT 0.30 CHECK (outlier_share BETWEEN 0 AND 1),
    comment_below_share numeric(5, 4) NOT NULL DEFAULT 0.60 CHECK (comment_below_share BETWEEN 0 AND 1),
    publicity_days integer NOT NULL DEFAULT 3 CHECK (publicity_days >= 3),      -- 条例 第五十四条
    scheme_sha256 text NOT NULL,
    set_by uuid NOT NULL REFERENCES users (id),
    set_at timestamptz NOT NULL
);

CREATE TABLE evaluation_items (
    lot_id uuid NOT NULL REFERENCES evaluation_schemes (lot_id) ON DELETE CASCADE,
    id text NOT NULL CHECK (id ~ '^[A-Za-z0-9_.-]{1,40}$'),
    position integer NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    grp text NOT NULL CHECK (grp IN ('technical', 'commercial')),
    max_points numeric(7, 2) NOT NULL CHECK (max_points > 0),
    guidance text NOT NULL DEFAULT '',
    PRIMARY KEY (lot_id, id)
);

CREATE TABLE evaluation_criteria (
    lot_id uuid NOT NULL REFERENCES evaluation_schemes (lot_id) ON DELETE CASCADE,
    id text NOT NULL CHECK (id ~ '^[A-Za-z0-9_.-]{1,40}$'),
    position integer NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- 条例 第五十一条: the seven mandatory rejection grounds
    reason_code text NOT NULL CHECK (reason_code IN ('unsigned', 'consortium_agreement_missing',
        'bidder_unqualified', 'multiple_bids_or_prices', 'price_below_cost_or_above_max', 'non_responsive',
        'collusion_fraud_bribery')),
    PRIMARY KEY (lot_id, id)
);

-- One evaluation per lot.
--   scoring   experts declare and score;
--   review    every member submitted: the table is visible, outlier flags are being answered;
--   report    the report is drafted and awaits every member's confirmation or dissent;
--   signed    the report PDF is signed (lot → publicity once the agency publishes the candidates);
--   rejected  the committee rejected all bids (招标投标法 第四十二条): the lot failed.
CREATE TABLE evaluations (
    lot_id uuid PRIMARY KEY REFERENCES lots (id),
    tender_id uuid NOT NULL,
    method text NOT NULL CHECK (method IN ('comprehensive', 'lowest_price')),
    status text NOT NULL CHECK (status IN ('scoring', 'review', 'report', 'signed', 'rejected')),
    chair_expert_id uuid,
    committee_size integer NOT NULL CHECK (committee_size >= 3),
    bids_hash text NOT NULL,                        -- SHA-256 over the manifests evaluated
    started_by uuid NOT NULL REFERENCES users (id),
    started_at timestamptz NOT NULL,
    revealed_at timestamptz,
    reject_reason text
);

-- The committee as it sits for this evaluation: copied from the expert pool at the start; a replaced member
-- stays as 'replaced' (their sheet void, 条例 第四十八条) and the alternate joins as a new row.
CREATE TABLE evaluation_members (
    lot_id uuid NOT NULL REFERENCES evaluations (lot_id),
    expert_id uuid NOT NULL,
    user_id uuid NOT NULL REFERENCES users (id),
    name text NOT NULL,
    status text NOT NULL CHECK (status IN ('active', 'replaced')),
    joined_at timestamptz NOT NULL,
    replaced_at timestamptz,
    replaced_reason text,
    replaced_by uuid,                               -- expert id of the alternate
    chair_vote uuid,                                -- expert id this member votes for as chair
    PRIMARY KEY (lot_id, expert_id)
);
CREATE UNIQUE INDEX evaluation_members_user_idx ON evaluation_members (lot_id, user_id) WHERE status = 'active';

-- 回避声明: signed before the member sees any bid.
CREATE TABLE evaluation_declarations (
    lot_id uuid NOT NULL,
    expert_id uuid NOT NULL,
    conflict boolean NOT NULL,
    statement text NOT NULL,
    statement_sha256 text NOT NULL,
    declared_at timestamptz NOT NULL,
    addr text,
    PRIMARY KEY (lot_id, expert_id),
    FOREIGN KEY (lot_id, expert_id) REFERENCES evaluation_members (lot_id, expert_id)
);

-- An expert's score sheet; 'void' when the member was replaced.
CREATE TABLE evaluation_sheets (
    lot_id uuid NOT NULL,
    expert_id uuid NOT NULL,
    status text NOT NULL CHECK (status IN ('draft', 'submitted', 'void')),
    saved_at timestamptz NOT NULL,
    submitted_at timestamptz,
    sheet_sha256 text,
    PRIMARY KEY (lot_id, expert_id),
    FOREIGN KEY (lot_id, expert_id) REFERENCES evaluation_members (lot_id, expert_id)
);

CREATE TABLE evaluation_scores (
    lot_id uuid NOT NULL,
    expert_id uuid NOT NULL,
    bid_id uuid NOT NULL,
    item_id text NOT NULL,
    points numeric(7, 2) NOT NULL CHECK (points >= 0),
    comment text NOT NULL DEFAULT '',
    PRIMARY KEY (lot_id, expert_id, bid_id, item_id),
    FOREIGN KEY (lot_id, expert_id) REFERENCES evaluation_sheets (lot_id, expert_id)
);

CREATE TABLE evaluation_marks (
    lot_id uuid NOT NULL,
    expert_id uuid NOT NULL,
    bid_id uuid NOT NULL,
    criterion_id text NOT NULL,
    passed boolean NOT NULL,
    comment text NOT NULL DEFAULT '',
    PRIMARY KEY (lot_id, expert_id, bid_id, criterion_id),
    FOREIGN KEY (lot_id, expert_id) REFERENCES evaluation_sheets (lot_id, expert_id)
);

-- Outlier flags, computed when the last member submits; each needs the expert's written answer.
CREATE TABLE evaluation_flags (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lot_id uuid NOT NULL REFERENCES evaluations (lot_id),
    expert_id uuid NOT NULL,
    bid_id uuid NOT NULL,
    item_id text NOT NULL,
    points numeric(7, 2) NOT NULL,
    others_mean numeric(12, 4) NOT NULL,
    max_points numeric(7, 2) NOT NULL,
    status text NOT NULL CHECK (status IN ('open', 'confirmed', 'revised', 'void')),
    new_points numeric(7, 2),
    answer text,
    answered_at timestamptz,
    flagged_at timestamptz NOT NULL
);
CREATE INDEX evaluation_flags_lot_idx ON evaluation_flags (lot_id, status);

-- The computed outcome per bid (display values; the exact arithmetic is recomputed from the sheets).
CREATE TABLE evaluation_results (
    lot_id uuid NOT NULL REFERENCES evaluations (lot_id),
    bid_id uuid NOT NULL,
    valid boolean NOT NULL,
    failures jsonb NOT NULL DEFAULT '[]',
    price_fen bigint NOT NULL,
    price_score numeric(12, 4),
    technical numeric(12, 4),
    commercial numeric(12, 4),
    total numeric(12, 4),
    rank integer,
    tied boolean NOT NULL DEFAULT false,
    PRIMARY KEY (lot_id, bid_id)
);

-- 评标报告.
CREATE TABLE evaluation_reports (
    lot_id uuid PRIMARY KEY REFERENCES evaluations (lot_id),
    content jsonb NOT NULL,
    content_sha256 text NOT NULL,
    drafted_by uuid NOT NULL REFERENCES users (id),
    drafted_at timestamptz NOT NULL,
    pdf_sha256 text,
    signed_at timestamptz
);

-- 条例 第五十三条: each member confirms the report or records a dissent in writing.
CREATE TABLE evaluation_confirmations (
    lot_id uuid NOT NULL REFERENCES evaluation_reports (lot_id),
    expert_id uuid NOT NULL,
    agrees boolean NOT NULL,
    dissent text,
    confirmed_at timestamptz NOT NULL,
    PRIMARY KEY (lot_id, expert_id),
    CHECK (agrees OR length(dissent) > 0)
);

-- Every read of a bid form and every attachment download by an expert (电子招标投标办法 第三十三条).
CREATE TABLE evaluation_accesses (
    id bigserial PRIMARY KEY,
    lot_id uuid NOT NULL REFERENCES evaluations (lot_id),
    expert_id uuid NOT NULL,
    bid_id uuid NOT NULL,
    what text NOT NULL,                              -- 'form' or the attachment's sha256
    at timestamptz NOT NULL,
    addr text
);
CREATE INDEX evaluation_accesses_lot_idx ON evaluation_accesses (lot_id, at);

-- 中标候选人公示 (条例 第五十四条): candidates in rank order, published for at least 3 days.
CREATE TABLE award_publicity (
    lot_id uuid PRIMARY KEY REFERENCES lots (id),
    candidates jsonb NOT NULL,
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    contact text NOT NULL,
    published_by uuid NOT NULL REFERENCES users (id),
    CHECK (ends_at > starts_at)
);

CREATE TABLE award_objections (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lot_id uuid NOT NULL REFERENCES award_publicity (lot_id),
    org_id uuid NOT NULL REFERENCES organisations (id),
    user_id uuid NOT NULL REFERENCES users (id),
    content text NOT NULL CHECK (length(content) BETWEEN 1 AND 5000),
    filed_at timestamptz NOT NULL,
    answer text,
    upheld boolean,
    answered_by uuid REFERENCES users (id),
    answered_at timestamptz
);
CREATE INDEX award_objections_lot_idx ON award_objections (lot_id);

-- 中标通知书 to the winner and 中标结果通知书 to every other bidder (招标投标法 第四十五条).
CREATE TABLE award_notices (
    lot_id uuid NOT NULL REFERENCES lots (id),
    bid_id uuid NOT NULL,
    org_id uuid NOT NULL REFERENCES organisations (id),
    kind text NOT NULL CHECK (kind IN ('award', 'result')),
    rank integer,
    pdf_sha256 text NOT NULL,
    issued_by uuid NOT NULL REFERENCES users (id),
    issued_at timestamptz NOT NULL,
    reason text,                                     -- why a lower-ranked candidate won, if so
    PRIMARY KEY (lot_id, bid_id)
);
CREATE UNIQUE INDEX award_notices_winner_idx ON award_notices (lot_id) WHERE kind = 'award';
