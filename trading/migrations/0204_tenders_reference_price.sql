-- 标底 (reference price), optional: kept secret until the opening (招标投标法 第二十二条), announced there
-- (招标投标法实施条例 第五十条), only ever a reference in the evaluation — never a pass/fail band.
ALTER TABLE lots ADD COLUMN reference_price_fen bigint CHECK (reference_price_fen > 0);
