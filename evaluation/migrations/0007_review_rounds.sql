-- 复核 after an upheld objection to the result (招标投标法实施条例 第五十四条): the committee evaluates again. What
-- the earlier round produced — results, flags, report with its confirmations, publicity, objections — is kept here
-- whole (it also stays in the witness log and the tender archive).
CREATE TABLE evaluation_rounds (
    lot_id uuid NOT NULL REFERENCES evaluations (lot_id),
    round integer NOT NULL CHECK (round >= 1),
    reason text NOT NULL CHECK (length(reason) > 0),
    results jsonb NOT NULL,
    flags jsonb NOT NULL,
    report jsonb,
    publicity jsonb,
    objections jsonb NOT NULL,
    archived_by uuid NOT NULL REFERENCES users (id),
    archived_at timestamptz NOT NULL,
    PRIMARY KEY (lot_id, round)
);
