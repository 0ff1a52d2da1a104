-- seal/v2 (docs/sealing.md §3): the bidder commits to the ciphertext by `ct_root`, the SHA-256 of its 1 MiB segments'
-- SHA-256 list, where seal/v1 had one serial SHA-256 of the whole ciphertext (`ct_sha256`). Same size, same role:
-- the blob store key and what the receipt and the opening check.
ALTER TABLE bid_uploads RENAME COLUMN ct_sha256 TO ct_root;
ALTER TABLE bids RENAME COLUMN ct_sha256 TO ct_root;
ALTER TABLE opening_bids RENAME COLUMN ct_sha256 TO ct_root;
