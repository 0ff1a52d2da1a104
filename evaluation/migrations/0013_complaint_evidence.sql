-- 证明材料 (evidence) attached to a complaint (招标投标法实施条例 第六十条: 投诉应当有明确的请求和必要的证明材料):
-- files in the blob store (content-addressed, the hash checked on every read), added by the complainant's
-- organisation while the complaint is open (filed or accepted); each logged as `complaint:evidence:add`.
CREATE TABLE complaint_evidence (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    complaint_id uuid NOT NULL REFERENCES complaints (id),
    filename text NOT NULL CHECK (length(filename) BETWEEN 1 AND 200),
    content_type text NOT NULL,
    sha256 text NOT NULL,
    size bigint NOT NULL CHECK (size > 0),
    added_by uuid NOT NULL REFERENCES users (id),
    added_at timestamptz NOT NULL
);
CREATE INDEX complaint_evidence_complaint_idx ON complaint_evidence (complaint_id, added_at);
