-- The public listing: newest published first (publish_at is set once, at publication).
CREATE INDEX tenders_public_order_idx ON tenders (publish_at DESC, id DESC) WHERE publish_at IS NOT NULL;
-- Lots still open for bids (deadline scans by the opening scanner and the public status filter).
CREATE INDEX tenders_published_deadline_idx ON tenders (bid_deadline) WHERE status = 'published';
CREATE INDEX lots_open_idx ON lots (tender_id) WHERE status IN ('published', 'closed');
-- Objections still waiting for an answer (a tender is suspended while any exists).
CREATE INDEX tender_objections_open_idx ON tender_objections (tender_id) WHERE answered_at IS NULL;
-- Downloads by organisation (notices of amendments to everyone who obtained documents).
CREATE INDEX document_downloads_org_idx ON document_downloads (org_id);
