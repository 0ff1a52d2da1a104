-- An order of the supervising authority to suspend the tender's activity (招标投标法实施条例 第六十二条: 必要时，
-- 行政监督部门可以责令暂停招标投标活动; 政府采购法 第五十七条). Kept apart from `suspended` (an unanswered objection,
-- 条例 第二十二条): answering the last objection does not lift the authority's order, and lifting the order does not
-- lift an objection's suspension. The lifecycle honours both; the order blocks every lot move except cancellation.
ALTER TABLE tenders ADD COLUMN regulator_suspended boolean NOT NULL DEFAULT false;
