-- 投诉 (complaints) to the supervising authority (行政监督部门; for government procurement the 财政部门) about a tender
-- or one of its lots: 招标投标法实施条例 第六十、六十一、六十二条 (RULES 5.8); 政府采购法 第五十五、五十六、五十七条
-- (not in RULES.md: the GP counterpart of 5.8, recalled, to be checked). The rules live in evaluation/complaints.py.
--
-- matter: what the complaint is about. tender_documents (条例 第二十二条), opening (第四十四条) and candidates
-- (第五十四条; for GP the result) need a prior objection (异议 / 质疑) of the same organisation at that stage, named by
-- objection_id in tender_objections, opening_objections or award_objections respectively; `other` needs none under
-- the Bidding Law (the complainant states known_on) and is refused under GP (a 投诉 always follows a 质疑).
-- known_on / last_day: the day the complainant knew or should have known and the last day to file, as computed at
-- filing (the objection's answer period not counted, 条例 第六十条). Every *_due instant is 24:00 Asia/Shanghai of
-- its last day, stored in UTC. The regulator's acts are taken late too, and marked so (the duty is its own).
CREATE TABLE complaints (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tender_id uuid NOT NULL REFERENCES tenders (id),
    lot_id uuid REFERENCES lots (id),
    regime text NOT NULL CHECK (regime IN ('bidding_law', 'gov_procurement')),
    org_id uuid NOT NULL REFERENCES organisations (id),
    user_id uuid NOT NULL REFERENCES users (id),
    matter text NOT NULL CHECK (matter IN ('tender_documents', 'opening', 'candidates', 'other')),
    objection_id uuid,
    request text NOT NULL CHECK (length(request) BETWEEN 1 AND 5000),      -- 明确的请求
    grounds text NOT NULL CHECK (length(grounds) BETWEEN 1 AND 20000),     -- 事实和证明材料
    known_on date NOT NULL,
    last_day date NOT NULL,
    filed_at timestamptz NOT NULL,
    accept_due timestamptz NOT NULL,
    status text NOT NULL DEFAULT 'filed' CHECK (status IN ('filed', 'accepted', 'refused', 'decided')),
    reviewed_by uuid REFERENCES users (id),
    reviewed_at timestamptz,
    reviewed_late boolean,
    refuse_reason text CHECK (length(refuse_reason) BETWEEN 1 AND 5000),
    decision_due timestamptz,
    decision text CHECK (decision IN ('upheld', 'dismissed')),
    decision_text text CHECK (length(decision_text) BETWEEN 1 AND 20000),
    decided_by uuid REFERENCES users (id),
    decided_at timestamptz,
    decided_late boolean,
    -- The regulator's order to suspend the tender's activity while it handles this complaint (条例 第六十二条):
    -- standing while suspended_at is set; tenders.regulator_suspended is true while any complaint's order stands.
    suspended_at timestamptz,
    suspended_by uuid REFERENCES users (id),
    suspend_reason text,
    CHECK ((matter = 'other') OR objection_id IS NOT NULL),
    CHECK ((status IN ('accepted', 'refused', 'decided')) = (reviewed_at IS NOT NULL)),
    CHECK ((status = 'refused') = (refuse_reason IS NOT NULL)),
    CHECK ((status = 'decided') = (decided_at IS NOT NULL) AND (decided_at IS NULL) = (decision IS NULL)
           AND (decided_at IS NULL) = (decision_text IS NULL)),
    CHECK (suspended_at IS NULL OR status = 'accepted')
);
CREATE INDEX complaints_tender_idx ON complaints (tender_id);
CREATE INDEX complaints_org_idx ON complaints (org_id);
CREATE INDEX complaints_open_idx ON complaints (filed_at) WHERE status IN ('filed', 'accepted');
