-- The signed documents of consents (DESIGN section 7): the form the person
-- signed, as a PDF, a JPEG/PNG scan or a CAdES .p7m envelope. The content is
-- in the object store, never here; this table is its metadata and the only
-- way to reach it. services/consents owns it.
--
-- Crash safety: a row is inserted as 'pending' (with its object key) before
-- the upload starts and becomes 'stored' (size, SHA-256, object version) in
-- one transaction once the object is complete. Only 'stored' and 'replaced'
-- rows are ever served, so no served row points to a missing object; a
-- 'pending' row older than the sweeper's grace period is a dead upload whose
-- object (if any) the sweeper deletes before the row. A new upload for the
-- same consent turns the current 'stored' row into 'replaced': its object
-- stays in the bucket, under retention.
CREATE TABLE consent_documents (
	id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	consent_id         uuid NOT NULL REFERENCES consents (id),
	-- consents/<consent id>/<document id>: no personal data, no client-supplied name
	object_key         text NOT NULL UNIQUE CHECK (object_key ~ '^consents/[0-9a-f-]{36}/[0-9a-f-]{36}$'),
	state              text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'stored', 'replaced')),
	content_type       text CHECK (content_type IN ('application/pdf', 'image/jpeg', 'image/png', 'application/pkcs7-mime')),
	-- for a .p7m, the type of the signed document inside it
	inner_type         text CHECK (inner_type IN ('application/pdf', 'image/jpeg', 'image/png')),
	size_bytes         bigint CHECK (size_bytes > 0),
	sha256             text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	version_id         text,
	-- object-lock retention of the object (NULL: the store has no object lock)
	retain_until       timestamptz,
	-- .p7m: the verified signer's certificate
	signer_subject     text,
	signer_issuer      text,
	signer_serial      text,
	signed_at          timestamptz,
	uploaded_by_tenant uuid NOT NULL REFERENCES tenants (id),
	uploaded_by_user   uuid REFERENCES users (id),
	created_at         timestamptz NOT NULL DEFAULT now(),
	stored_at          timestamptz,
	replaced_at        timestamptz,
	CHECK ((state = 'pending') = (stored_at IS NULL)),
	CHECK ((state = 'replaced') = (replaced_at IS NOT NULL)),
	CHECK (state = 'pending' OR (content_type IS NOT NULL AND size_bytes IS NOT NULL AND sha256 IS NOT NULL AND version_id IS NOT NULL)),
	CHECK ((content_type = 'application/pkcs7-mime') = (signer_subject IS NOT NULL) OR state = 'pending'),
	CHECK ((inner_type IS NOT NULL) = (content_type = 'application/pkcs7-mime') OR state = 'pending')
);
-- At most one current document per consent.
CREATE UNIQUE INDEX consent_documents_current_idx ON consent_documents (consent_id) WHERE state = 'stored';
CREATE INDEX consent_documents_consent_idx ON consent_documents (consent_id, created_at);
-- What the sweeper scans.
CREATE INDEX consent_documents_pending_idx ON consent_documents (created_at) WHERE state = 'pending';
