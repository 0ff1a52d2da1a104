-- Government procurement: an order to suspend the procurement while a complaint is handled lasts at most 30 days
-- (政府采购法 第五十七条), counted from the complaint's first order; a later order on the same complaint ends at the
-- same instant. NULL under the Bidding Law (条例 第六十二条 sets no limit).
ALTER TABLE complaints ADD COLUMN first_suspended_at timestamptz;
ALTER TABLE complaints ADD COLUMN suspension_ends_at timestamptz;
