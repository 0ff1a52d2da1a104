-- Matching writes one deposit_matches row per bank transaction (220,000 for a big statement): per-row
-- foreign-key triggers to the run and the transaction cost more than the insert itself. Both are written by
-- run_matching in the same transaction from rows it has just read (the run it inserted, transactions it
-- loaded from bank_txns), and neither deposit_match_runs nor bank_txns rows are ever deleted. The
-- requirement_id reference stays (it is the fact finance relies on).
ALTER TABLE deposit_matches DROP CONSTRAINT deposit_matches_run_id_fkey,
                            DROP CONSTRAINT deposit_matches_txn_id_fkey;
ALTER TABLE deposit_requirement_flags DROP CONSTRAINT deposit_requirement_flags_run_id_fkey;
