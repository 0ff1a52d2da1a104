-- Decrypted attachments are written to the blob store after the record is published (they are derived data:
-- the ciphertext and the logged DEK re-create them); this flag says they are there.
ALTER TABLE opened_bids ADD COLUMN attachments_stored boolean NOT NULL DEFAULT false;
CREATE INDEX opened_bids_unstored_idx ON opened_bids (lot_id) WHERE status = 'opened' AND NOT attachments_stored;
