-- 澄清 (招标投标法实施条例 第五十二条): only at the committee's written request — the bidder answers in writing,
-- within its bid (no change of substance); a bidder cannot volunteer one (there is no way to send one unasked).
CREATE TABLE evaluation_clarifications (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lot_id uuid NOT NULL REFERENCES evaluations (lot_id),
    bid_id uuid NOT NULL,
    org_id uuid NOT NULL REFERENCES organisations (id),
    question text NOT NULL CHECK (length(question) BETWEEN 1 AND 2000),
    asked_by uuid NOT NULL,                 -- the chair's expert id
    asked_at timestamptz NOT NULL,
    answer text CHECK (length(answer) BETWEEN 1 AND 5000),
    answered_by uuid REFERENCES users (id),
    answered_at timestamptz
);
CREATE INDEX evaluation_clarifications_lot_idx ON evaluation_clarifications (lot_id, asked_at);
