-- A winner that loses its award for a cause that is not its own fault (招标投标法实施条例 第五十五条: force majeure;
-- or any cause where no article lets the deposit be kept) is refunded with reason 'award_rescinded'.
ALTER TABLE deposit_refunds DROP CONSTRAINT deposit_refunds_reason_check;
ALTER TABLE deposit_refunds ADD CONSTRAINT deposit_refunds_reason_check CHECK (
    reason IN ('withdrawn', 'lot_failed', 'tender_cancelled', 'not_awarded', 'awarded', 'award_rescinded',
               'duplicate', 'overpaid', 'unknown_account', 'late', 'invalid_payer'));
