-- Dead letters v2: an oversized value is kept as a bounded prefix, with the SHA-256 of the
-- whole original value and a flag saying the prefix is not all of it.
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS value_sha256 String DEFAULT '' AFTER value_size;
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS value_truncated UInt8 DEFAULT 0 AFTER value_sha256;
