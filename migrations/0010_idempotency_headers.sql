-- Idempotency keys on every creating request (DESIGN section 8), not only
-- referrals: server/idempotency.go stores the first response of a request
-- with a key and gives it back to a repeat. A replay also needs the headers
-- that say where the created record is (Location) and its version (ETag).
ALTER TABLE idempotency_keys ADD COLUMN response_headers jsonb NOT NULL DEFAULT '{}';
