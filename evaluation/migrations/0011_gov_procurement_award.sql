-- Government procurement (政府采购) awards without candidate publicity (政府采购货物和服务招标投标管理办法 第六十八、
-- 六十九条). One row per lot, written when the agency sends the signed evaluation report to the purchaser (the
-- tenderer organisation; due within 2 working days of the evaluation's end, a late sending is recorded, not
-- refused). The purchaser determines the winner among the report's candidates, in their order, within 5 working days
-- of receiving it; otherwise rank 1 is deemed the winner (how = 'deemed'). The award (中标通知书 and 中标结果公告)
-- follows within 2 working days (award_due); the announcement lasts 1 working day (announcement_ends_at), and 质疑
-- to the result are taken until challenge_due (7 working days from the announcement's last day: 政府采购法 第五十二条,
-- 政府采购法实施条例 第五十三条). Every due instant is 24:00 Asia/Shanghai of its last day, stored in UTC.
CREATE TABLE award_determinations (
    lot_id uuid PRIMARY KEY REFERENCES evaluations (lot_id),
    candidates jsonb NOT NULL,                      -- the report's candidates in rank order, as sent
    report_pdf_sha256 text NOT NULL,
    evaluated_at timestamptz NOT NULL,              -- the report's signing: the end of the evaluation
    sent_by uuid NOT NULL REFERENCES users (id),
    sent_at timestamptz NOT NULL,
    send_due timestamptz NOT NULL,
    sent_late boolean NOT NULL,
    decision_due timestamptz NOT NULL,
    how text CHECK (how IN ('decided', 'deemed')),
    winner_bid_id uuid,
    winner_rank integer CHECK (winner_rank >= 1),
    reason text CHECK (length(reason) BETWEEN 1 AND 2000),   -- why a lower candidate, if so
    decided_by uuid REFERENCES users (id),
    decided_at timestamptz,
    award_due timestamptz,
    announced_at timestamptz,
    announcement_ends_at timestamptz,
    challenge_due timestamptz,
    CHECK ((how IS NULL) = (winner_bid_id IS NULL) AND (how IS NULL) = (decided_at IS NULL)
           AND (how IS NULL) = (award_due IS NULL) AND (how IS NULL) = (winner_rank IS NULL)),
    CHECK ((how = 'decided') = (decided_by IS NOT NULL)),
    CHECK ((announced_at IS NULL) = (announcement_ends_at IS NULL) AND (announced_at IS NULL) = (challenge_due IS NULL)),
    CHECK (announced_at IS NULL OR how IS NOT NULL)
);
CREATE INDEX award_determinations_due_idx ON award_determinations (decision_due) WHERE how IS NULL;

-- 质疑 to a government-procurement result are filed after the award, with no publicity row: objections to results
-- now belong to the lot (the Bidding-Law path still files them during its publicity only, services.file_objection).
ALTER TABLE award_objections DROP CONSTRAINT award_objections_lot_id_fkey,
    ADD CONSTRAINT award_objections_lot_id_fkey FOREIGN KEY (lot_id) REFERENCES lots (id);
