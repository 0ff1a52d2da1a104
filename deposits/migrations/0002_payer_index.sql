-- Incremental matching finds the other bidders of a lot paid from the same account (条例 第四十条).
CREATE INDEX bank_txns_payer_idx ON bank_txns (payer_account) WHERE payer_account IS NOT NULL;
-- Incremental matching reads one file's transactions.
CREATE INDEX bank_txns_file_idx ON bank_txns (file_id);
