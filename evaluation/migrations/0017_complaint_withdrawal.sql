-- Withdrawing a complaint (投诉的撤回). Government procurement: once the complainant asks in writing, the handling
-- ends (政府采购质疑和投诉办法 第三十条, recalled). Bidding Law: before acceptance the complaint simply ends; after it,
-- the complainant asks in writing with its reasons and the authority allows it — or refuses it where it has found
-- a clear violation, and goes on to a decision (工程建设项目招标投标活动投诉处理办法 第二十条, recalled).
ALTER TABLE complaints ADD COLUMN withdraw_requested_at timestamptz;
ALTER TABLE complaints ADD COLUMN withdraw_reason text CHECK (length(withdraw_reason) BETWEEN 1 AND 5000);
ALTER TABLE complaints ADD COLUMN withdraw_refused_at timestamptz;
ALTER TABLE complaints ADD COLUMN withdraw_refuse_reason text CHECK (length(withdraw_refuse_reason) BETWEEN 1 AND 5000);
ALTER TABLE complaints ADD COLUMN withdrawn_at timestamptz;
ALTER TABLE complaints ADD COLUMN withdrawn_by uuid REFERENCES users (id);

ALTER TABLE complaints DROP CONSTRAINT complaints_status_check;
ALTER TABLE complaints ADD CONSTRAINT complaints_status_check
    CHECK (status IN ('filed', 'accepted', 'refused', 'decided', 'withdrawn'));
-- a complaint withdrawn after its acceptance keeps the acceptance's review
ALTER TABLE complaints DROP CONSTRAINT complaints_check1;
ALTER TABLE complaints ADD CONSTRAINT complaints_check1
    CHECK (status = 'withdrawn' OR (status IN ('accepted', 'refused', 'decided')) = (reviewed_at IS NOT NULL));
ALTER TABLE complaints ADD CONSTRAINT complaints_withdrawn_check
    CHECK ((status = 'withdrawn') = (withdrawn_at IS NOT NULL) AND (withdrawn_at IS NULL OR withdraw_reason IS NOT NULL));
