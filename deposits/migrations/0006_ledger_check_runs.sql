-- The daily ledger check run by the app itself (deposits/background.py): one row per Asia/Shanghai day, taken
-- before the check runs, so several app processes run it once.
CREATE TABLE deposit_ledger_check_runs (
    day date PRIMARY KEY,
    started_at timestamptz NOT NULL,
    ok boolean
);
