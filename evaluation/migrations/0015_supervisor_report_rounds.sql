-- 招标投标法 第四十七条: the report is due within 15 days of determining the winner. A winner named after a rescission
-- (0014) is determined anew, so each round of award notices has its own report.
ALTER TABLE award_supervisor_reports ADD COLUMN award_round integer NOT NULL DEFAULT 1 CHECK (award_round >= 1);
ALTER TABLE award_supervisor_reports DROP CONSTRAINT award_supervisor_reports_pkey;
ALTER TABLE award_supervisor_reports ADD PRIMARY KEY (lot_id, award_round);
