-- Corrections of submitted scores after totalling, only for the reasons of 政府采购货物和服务招标投标管理办法
-- 第六十四条 (adding-up error, score out of range, inconsistent objective scores, extreme scores), each logged.
CREATE TABLE evaluation_corrections (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lot_id uuid NOT NULL REFERENCES evaluations (lot_id),
    expert_id uuid NOT NULL,
    bid_id uuid NOT NULL,
    item_id text NOT NULL,
    old_points numeric(7, 2) NOT NULL,
    new_points numeric(7, 2) NOT NULL CHECK (new_points >= 0),
    reason_code text NOT NULL CHECK (reason_code IN ('adding_error', 'out_of_range', 'objective_inconsistent',
                                                     'extreme')),
    reason text NOT NULL CHECK (length(reason) > 0),
    corrected_at timestamptz NOT NULL
);
CREATE INDEX evaluation_corrections_lot_idx ON evaluation_corrections (lot_id, corrected_at);
