-- Expert pool (评标专家库): experts, specialties, employment history, availability, conflicts, draws (draw/v1),
-- invitations and the notification outbox. The specialty classification itself is data in the package
-- (expert_pool/data/specialties.json); codes are checked by the service.

CREATE TABLE experts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL UNIQUE REFERENCES users (id),
    full_name text NOT NULL CHECK (length(full_name) BETWEEN 1 AND 50),
    id_number text NOT NULL UNIQUE,                  -- 居民身份证号码 (GB 11643), checked by the service
    birth_date date NOT NULL,
    employer_name text NOT NULL,
    employer_credit_code text NOT NULL,              -- 统一社会信用代码 of the current employer
    title text NOT NULL,                             -- 职称, e.g. 高级工程师
    title_level text NOT NULL CHECK (title_level IN
        ('senior_full', 'senior_deputy', 'equivalent', 'intermediate', 'junior')),
    practice_since date NOT NULL,                    -- began working in the field
    region text NOT NULL CHECK (region ~ '^[0-9]{6}$'),
    phone text NOT NULL,
    email text,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN
        ('pending', 'approved', 'rejected', 'suspended', 'retired')),
    status_reason text,
    applied_at timestamptz NOT NULL,
    reviewed_at timestamptz,
    reviewed_by uuid REFERENCES users (id),
    updated_at timestamptz NOT NULL
);
CREATE INDEX experts_status_idx ON experts (status, applied_at);
CREATE INDEX experts_employer_idx ON experts (employer_credit_code);

CREATE TABLE expert_specialties (
    expert_id uuid NOT NULL REFERENCES experts (id) ON DELETE CASCADE,
    code text NOT NULL CHECK (code ~ '^[A-Z][0-9]{2}([0-9]{2})?$'),
    category text GENERATED ALWAYS AS (left(code, 3)) STORED,
    PRIMARY KEY (expert_id, code)
);
-- A quota names a specialty (code) or a whole category (category).
CREATE INDEX expert_specialties_code_idx ON expert_specialties (code, expert_id);
CREATE INDEX expert_specialties_category_idx ON expert_specialties (category, expert_id);

-- Former employers of the last 3 years (政府采购法实施条例 第九条).
CREATE TABLE expert_employments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    expert_id uuid NOT NULL REFERENCES experts (id) ON DELETE CASCADE,
    org_name text NOT NULL,
    credit_code text NOT NULL,
    ended_on date NOT NULL
);
CREATE INDEX expert_employments_code_idx ON expert_employments (credit_code, ended_on);
CREATE INDEX expert_employments_expert_idx ON expert_employments (expert_id);

CREATE TABLE expert_unavailability (
    expert_id uuid NOT NULL REFERENCES experts (id) ON DELETE CASCADE,
    day date NOT NULL,
    PRIMARY KEY (expert_id, day)
);

-- Declared conflicts: with a lot (declined an invitation for a conflict) or with an organisation (standing).
CREATE TABLE expert_conflicts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    expert_id uuid NOT NULL REFERENCES experts (id) ON DELETE CASCADE,
    lot_id uuid REFERENCES lots (id),
    credit_code text,
    reason text NOT NULL,
    declared_at timestamptz NOT NULL,
    CHECK (lot_id IS NOT NULL OR credit_code IS NOT NULL)
);
CREATE INDEX expert_conflicts_expert_idx ON expert_conflicts (expert_id);

-- Every status change with its reason (the witness log carries the same with ids only).
CREATE TABLE expert_status_events (
    id bigserial PRIMARY KEY,
    expert_id uuid NOT NULL REFERENCES experts (id) ON DELETE CASCADE,
    status text NOT NULL,
    reason text,
    actor uuid REFERENCES users (id),
    at timestamptz NOT NULL
);
CREATE INDEX expert_status_events_expert_idx ON expert_status_events (expert_id, id);

-- draw/v1 (DESIGN.md §8)
CREATE TABLE expert_draws (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lot_id uuid NOT NULL REFERENCES lots (id),
    tender_id uuid NOT NULL REFERENCES tenders (id),
    requested_by uuid NOT NULL REFERENCES users (id),
    size integer NOT NULL CHECK (size >= 5 AND size % 2 = 1),
    tenderer_representatives integer NOT NULL DEFAULT 0 CHECK (tenderer_representatives >= 0),
    alternates integer NOT NULL DEFAULT 0 CHECK (alternates >= 0),
    evaluation_at timestamptz NOT NULL,
    quotas jsonb NOT NULL,                   -- [{"specialty": "A0101", "count": 3, "eligible_hash": hex}, …]
    eligible jsonb NOT NULL,                 -- [[sorted expert ids], …] per quota — regulators only
    eligible_hash bytea NOT NULL CHECK (length(eligible_hash) = 32),
    server_secret bytea NOT NULL CHECK (length(server_secret) = 32),   -- r_s: never shown before the reveal
    server_commit bytea NOT NULL CHECK (length(server_commit) = 32),
    agency_value text,
    checkpoint_root bytea,
    checkpoint_size bigint,
    seed bytea,
    status text NOT NULL DEFAULT 'committed' CHECK (status IN ('committed', 'drawn', 'complete', 'short')),
    commit_seq bigint,
    reveal_seq bigint,
    created_at timestamptz NOT NULL,
    drawn_at timestamptz,
    completed_at timestamptz
);
-- One draw per lot (re-draws after declines happen inside it, in the same order).
CREATE UNIQUE INDEX expert_draws_lot_idx ON expert_draws (lot_id);

CREATE TABLE expert_draw_exclusions (
    draw_id uuid NOT NULL REFERENCES expert_draws (id) ON DELETE CASCADE,
    expert_id uuid NOT NULL REFERENCES experts (id),
    reasons text[] NOT NULL,
    PRIMARY KEY (draw_id, expert_id)
);

CREATE TABLE expert_draw_members (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    draw_id uuid NOT NULL REFERENCES expert_draws (id) ON DELETE CASCADE,
    expert_id uuid NOT NULL REFERENCES experts (id),
    quota integer NOT NULL CHECK (quota >= 0),
    -- position in the quota's draw order, and the role given by the first selection (NULL: brought in later)
    position integer NOT NULL CHECK (position >= 0),
    initial_role text CHECK (initial_role IN ('member', 'alternate')),
    step integer NOT NULL,                   -- 0 = first selection; n > 0 = the n-th re-draw step (bring in/skip)
    status text NOT NULL CHECK (status IN
        ('alternate', 'invited', 'confirmed', 'declined', 'timed_out', 'skipped', 'replaced')),
    invited_at timestamptz,
    respond_by timestamptz,
    responded_at timestamptz,
    reason text,
    replaces uuid REFERENCES expert_draw_members (id),
    UNIQUE (draw_id, expert_id)
);
CREATE INDEX expert_draw_members_expert_idx ON expert_draw_members (expert_id, status);
CREATE INDEX expert_draw_members_pending_idx ON expert_draw_members (respond_by) WHERE status = 'invited';

-- Notifications outbox, delivered by a pluggable sender (the default: log + the expert's inbox page).
CREATE TABLE expert_notifications (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    expert_id uuid NOT NULL REFERENCES experts (id),
    member_id uuid REFERENCES expert_draw_members (id),
    kind text NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    sent_at timestamptz,
    channel text,
    attempts integer NOT NULL DEFAULT 0,
    last_error text
);
CREATE INDEX expert_notifications_pending_idx ON expert_notifications (created_at) WHERE sent_at IS NULL;
CREATE INDEX expert_notifications_expert_idx ON expert_notifications (expert_id, created_at DESC);
