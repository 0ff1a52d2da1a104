-- The answer to an objection is due within 3 days of receipt (招标投标法实施条例 第二十二条; government
-- procurement: 7 working days, 政府采购法 第五十三条), the day of receipt not counted: answer_due is 24:00
-- Asia/Shanghai of the last day. overdue_at: when the platform logged `tender:objection:overdue` (once).
ALTER TABLE tender_objections ADD COLUMN answer_due timestamptz, ADD COLUMN overdue_at timestamptz;
-- Rows filed before this migration get the Bidding Law's 3 calendar days.
UPDATE tender_objections
   SET answer_due = (((filed_at AT TIME ZONE 'Asia/Shanghai')::date + 4)::timestamp AT TIME ZONE 'Asia/Shanghai')
 WHERE answer_due IS NULL;
ALTER TABLE tender_objections ALTER COLUMN answer_due SET NOT NULL;
CREATE INDEX tender_objections_due_idx ON tender_objections (answer_due)
    WHERE answered_at IS NULL AND overdue_at IS NULL;
