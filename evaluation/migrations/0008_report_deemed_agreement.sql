-- 招标投标法实施条例 第五十三条: a member who neither signs the report nor states a dissent and its reasons in writing
-- is deemed to agree. `deemed` marks such a confirmation, written when the agency closes the signing.
ALTER TABLE evaluation_confirmations ADD COLUMN deemed boolean NOT NULL DEFAULT false;
