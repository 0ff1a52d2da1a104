-- 报价修正 (政府采购货物和服务招标投标管理办法 第五十九条; 评标委员会和评标方法暂行规定 第十九条): where a bid's price is
-- inconsistent within itself, the committee corrects it by the fixed rules (words over figures; the sum of the unit
-- prices over the total), and the corrected price binds only once the bidder confirms it in writing; a bidder that
-- does not confirm has an invalid bid. One correction per bid (several inconsistencies are corrected in the rules'
-- order into one price). The price as opened stays what the opening record shows.
CREATE TABLE evaluation_price_corrections (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lot_id uuid NOT NULL REFERENCES evaluations (lot_id),
    bid_id uuid NOT NULL,
    org_id uuid NOT NULL REFERENCES organisations (id),
    rule text NOT NULL CHECK (rule IN ('words_over_figures', 'unit_prices_over_total')),
    explanation text NOT NULL CHECK (length(explanation) BETWEEN 1 AND 2000),
    opened_fen bigint NOT NULL CHECK (opened_fen > 0),
    corrected_fen bigint NOT NULL CHECK (corrected_fen > 0 AND corrected_fen <> opened_fen),
    proposed_by uuid NOT NULL,              -- the chair's expert id
    proposed_at timestamptz NOT NULL,
    decision text CHECK (decision IN ('confirmed', 'refused')),
    decided_by uuid REFERENCES users (id),
    decided_at timestamptz,
    CHECK ((decision IS NULL) = (decided_at IS NULL) AND (decision IS NULL) = (decided_by IS NULL)),
    UNIQUE (lot_id, bid_id)
);
