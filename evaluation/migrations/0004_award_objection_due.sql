-- The answer to an objection to the evaluation result is due within 3 days of receipt (招标投标法实施条例 第五十四条;
-- government procurement: 7 working days, 政府采购法 第五十三条), the day of receipt not counted: answer_due is 24:00
-- Asia/Shanghai of the last day. overdue_at: when the platform logged `award:objection:overdue` (once).
ALTER TABLE award_objections ADD COLUMN answer_due timestamptz, ADD COLUMN overdue_at timestamptz;
UPDATE award_objections
   SET answer_due = (((filed_at AT TIME ZONE 'Asia/Shanghai')::date + 4)::timestamp AT TIME ZONE 'Asia/Shanghai')
 WHERE answer_due IS NULL;
ALTER TABLE award_objections ALTER COLUMN answer_due SET NOT NULL;
CREATE INDEX award_objections_due_idx ON award_objections (answer_due) WHERE answered_at IS NULL AND overdue_at IS NULL;
