-- 招标投标情况的书面报告 (招标投标法 第四十七条): for projects that must be tendered, the tenderer reports to the
-- supervising authority within 15 days of determining the winner. The platform writes and signs the report; the
-- agency submits it; regulators read it.
CREATE TABLE award_supervisor_reports (
    lot_id uuid PRIMARY KEY REFERENCES lots (id),
    pdf_sha256 text NOT NULL,
    due_at timestamptz NOT NULL,
    late boolean NOT NULL,
    submitted_by uuid NOT NULL REFERENCES users (id),
    submitted_at timestamptz NOT NULL
);

-- Duties after the award not done by their due time, logged once each (`award:contract:overdue`,
-- `award:report:overdue`); replaces award_contract_overdue.
CREATE TABLE award_overdue (
    lot_id uuid NOT NULL REFERENCES lots (id),
    duty text NOT NULL CHECK (duty IN ('contract', 'supervisor_report')),
    due_at timestamptz NOT NULL,
    logged_at timestamptz NOT NULL,
    PRIMARY KEY (lot_id, duty)
);
INSERT INTO award_overdue (lot_id, duty, due_at, logged_at)
    SELECT lot_id, 'contract', due_at, logged_at FROM award_contract_overdue;
DROP TABLE award_contract_overdue;
