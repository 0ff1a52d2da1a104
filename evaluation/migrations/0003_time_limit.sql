-- The evaluation time (招标投标法实施条例 第四十八条第二款): the agency sets when scoring must be done; when more
-- than a third of the sitting members say the time is not enough, the agency must extend it (and until it does,
-- the limit does not bind). time_round counts the limits set; a request counts towards the round it was made in.
ALTER TABLE evaluations ADD COLUMN time_limit timestamptz, ADD COLUMN time_round integer NOT NULL DEFAULT 0;

CREATE TABLE evaluation_time_requests (
    lot_id uuid NOT NULL REFERENCES evaluations (lot_id),
    round integer NOT NULL,
    expert_id uuid NOT NULL,
    reason text NOT NULL CHECK (length(reason) > 0),
    requested_at timestamptz NOT NULL,
    PRIMARY KEY (lot_id, round, expert_id)
);
