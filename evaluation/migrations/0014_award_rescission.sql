-- The winner loses the award after the notice and before the contract (招标投标法实施条例 第五十五条; 政府采购法实施条例
-- 第四十九条; 政府采购质疑和投诉办法 第十六条): the tenderer names the next candidate in rank order — a new round of
-- notices, the earlier round's kept and marked superseded — or tenders again (the lot fails). The rules live in
-- evaluation/rescission.py.
ALTER TABLE award_notices
    ADD COLUMN award_round integer NOT NULL DEFAULT 1 CHECK (award_round >= 1),
    ADD COLUMN superseded_at timestamptz;
ALTER TABLE award_notices DROP CONSTRAINT award_notices_pkey;
ALTER TABLE award_notices ADD PRIMARY KEY (lot_id, award_round, bid_id);
DROP INDEX award_notices_winner_idx;
CREATE UNIQUE INDEX award_notices_winner_idx ON award_notices (lot_id, award_round) WHERE kind = 'award';
CREATE UNIQUE INDEX award_notices_current_idx ON award_notices (lot_id, bid_id) WHERE superseded_at IS NULL;

CREATE TABLE award_rescissions (
    lot_id uuid NOT NULL REFERENCES lots (id),
    award_round integer NOT NULL,                    -- the round whose award is rescinded
    bid_id uuid NOT NULL,                            -- the winner of that round
    org_id uuid NOT NULL REFERENCES organisations (id),
    cause text NOT NULL CHECK (cause IN ('gave_up', 'force_majeure', 'no_performance_bond', 'unlawful',
                                         'challenge_upheld')),
    reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    outcome text NOT NULL CHECK (outcome IN ('next_candidate', 'retender')),
    next_bid_id uuid,
    next_rank integer CHECK (next_rank >= 1),
    decided_by uuid NOT NULL REFERENCES users (id),
    decided_at timestamptz NOT NULL,
    PRIMARY KEY (lot_id, award_round),
    CHECK ((outcome = 'next_candidate') = (next_bid_id IS NOT NULL) AND (next_bid_id IS NULL) = (next_rank IS NULL))
);

-- A duty after the award (contract, report to the supervisor) runs from the current award notice: a new winner's
-- duty can be overdue again, so an overdue duty is logged once per due time.
ALTER TABLE award_overdue DROP CONSTRAINT award_overdue_pkey;
ALTER TABLE award_overdue ADD PRIMARY KEY (lot_id, duty, due_at);
