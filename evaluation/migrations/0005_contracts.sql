-- The contract (招标投标法 第四十六条, 条例 第五十七条、第五十八条): signed within 30 days of the award notice, on the
-- terms of the tender and the winning bid (price = the winning price), a performance bond of at most 10 % of the
-- contract price. Recording it releases the winner's deposit refund ("contract.signed").
CREATE TABLE award_contracts (
    lot_id uuid PRIMARY KEY REFERENCES lots (id),
    bid_id uuid NOT NULL,
    org_id uuid NOT NULL REFERENCES organisations (id),
    price_fen bigint NOT NULL CHECK (price_fen > 0),
    performance_bond_fen bigint NOT NULL CHECK (performance_bond_fen >= 0 AND performance_bond_fen * 10 <= price_fen),
    signed_at timestamptz NOT NULL,
    due_at timestamptz NOT NULL,
    late boolean NOT NULL,
    recorded_by uuid NOT NULL REFERENCES users (id),
    recorded_at timestamptz NOT NULL
);

-- Awards whose contract was not recorded by its due time, logged once (`award:contract:overdue`).
CREATE TABLE award_contract_overdue (
    lot_id uuid PRIMARY KEY REFERENCES lots (id),
    due_at timestamptz NOT NULL,
    logged_at timestamptz NOT NULL
);
