-- Referrals between tenants (HL7 FHIR Task statuses) with their event
-- history, the idempotency keys of creating requests, and the L.68
-- verifications of the employment office.
--
-- Ownership (DESIGN section 5): services/referrals owns every table here. The
-- links a referral opens (referral_recipient, then provider) live in
-- person_links and are written through policies, in the same transaction as
-- the referral.

CREATE TABLE referrals (
	id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	person_id         uuid NOT NULL REFERENCES persons (id),
	from_tenant_id    uuid NOT NULL REFERENCES tenants (id),
	to_tenant_id      uuid NOT NULL REFERENCES tenants (id),
	created_by        uuid REFERENCES users (id),
	reason            text NOT NULL CHECK (reason <> '' AND length(reason) <= 2000),
	-- FHIR Task.priority
	priority          text NOT NULL DEFAULT 'routine' CHECK (priority IN ('routine', 'urgent', 'asap', 'stat')),
	-- the categories the referral opens to the recipient while it is pending
	shared_categories text[] NOT NULL CHECK (cardinality(shared_categories) > 0
		AND shared_categories <@ ARRAY['identity', 'contact', 'social', 'health', 'disability', 'employment', 'status']),
	note              text NOT NULL DEFAULT '' CHECK (length(note) <= 4000),
	status            text NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'accepted', 'rejected',
		'in-progress', 'on-hold', 'completed', 'cancelled', 'failed')),
	-- why the recipient rejected it (the closed loop: the sender reads it)
	reason_code       text CHECK (reason_code IN ('not_eligible', 'no_capacity', 'could_not_contact',
		'declined_by_person', 'duplicate', 'other')),
	-- what came of it (completed)
	outcome           text CHECK (outcome IN ('hired', 'internship', 'training', 'continuing', 'dropped_out', 'other')),
	version           integer NOT NULL DEFAULT 1 CHECK (version > 0),
	created_at        timestamptz NOT NULL DEFAULT now(),
	updated_at        timestamptz NOT NULL DEFAULT now(),
	closed_at         timestamptz,
	CHECK (from_tenant_id <> to_tenant_id),
	CHECK ((status = 'rejected') = (reason_code IS NOT NULL)),
	CHECK ((status = 'completed') = (outcome IS NOT NULL)),
	CHECK ((status IN ('rejected', 'completed', 'cancelled', 'failed')) = (closed_at IS NOT NULL))
);
-- One open referral of a person from one tenant to another: a second one is
-- a conflict, not a duplicate the recipient has to reject.
CREATE UNIQUE INDEX referrals_one_open_idx ON referrals (person_id, from_tenant_id, to_tenant_id)
	WHERE status IN ('requested', 'accepted', 'in-progress', 'on-hold');
-- The two inboxes, newest first, with and without a status filter (keyset).
CREATE INDEX referrals_incoming_idx ON referrals (to_tenant_id, created_at DESC, id DESC);
CREATE INDEX referrals_incoming_status_idx ON referrals (to_tenant_id, status, created_at DESC, id DESC);
CREATE INDEX referrals_outgoing_idx ON referrals (from_tenant_id, created_at DESC, id DESC);
CREATE INDEX referrals_outgoing_status_idx ON referrals (from_tenant_id, status, created_at DESC, id DESC);
CREATE INDEX referrals_person_idx ON referrals (person_id);

-- Every change of a referral's status, including its creation (from_status
-- NULL). version is the referral's version after the event: unique per
-- referral, so two transitions from the same version can never both be
-- recorded.
CREATE TABLE referral_events (
	id          bigserial PRIMARY KEY,
	referral_id uuid NOT NULL REFERENCES referrals (id),
	version     integer NOT NULL CHECK (version > 0),
	at          timestamptz NOT NULL DEFAULT now(),
	tenant_id   uuid NOT NULL REFERENCES tenants (id),
	user_id     uuid REFERENCES users (id),
	from_status text,
	to_status   text NOT NULL,
	reason_code text,
	outcome     text,
	note        text NOT NULL DEFAULT '' CHECK (length(note) <= 4000),
	UNIQUE (referral_id, version)
);

-- Idempotency keys of creating requests (DESIGN section 8): the first
-- request with a key stores its result; a repeat with the same body gets it
-- back, one with another body is refused. The row is inserted first, in the
-- transaction that does the work, so a concurrent repeat waits on it.
CREATE TABLE idempotency_keys (
	tenant_id       uuid NOT NULL REFERENCES tenants (id),
	key             text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
	operation       text NOT NULL,
	request_hash    bytea NOT NULL,
	user_id         uuid REFERENCES users (id),
	response_status integer NOT NULL DEFAULT 0,
	response_body   bytea NOT NULL DEFAULT '',
	created_at      timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- L.68/1999 verifications: dated records of what was checked about a
-- person's registration in the lists of the Collocamento Mirato. Data
-- category: disability.
CREATE TABLE l68_checks (
	id                              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	person_id                       uuid NOT NULL REFERENCES persons (id),
	tenant_id                       uuid NOT NULL REFERENCES tenants (id),
	checked_by                      uuid REFERENCES users (id),
	registered                      boolean NOT NULL,
	registration_date               date,
	-- 46-66%: civil invalidity over 45% (L.68 art. 1); 67-79% and 80-99%:
	-- the bands of the hiring incentive (art. 13); 100%; other_category: the
	-- other routes of art. 1 (work or service invalids, blind, deaf)
	invalidity_range                text CHECK (invalidity_range IN ('46-66%', '67-79%', '80-99%', '100%', 'other_category')),
	unemployment_declaration_active boolean NOT NULL,
	source                          text NOT NULL CHECK (source IN ('registry', 'certificate', 'self_declaration', 'other')),
	note                            text NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
	checked_at                      timestamptz NOT NULL DEFAULT now(),
	next_check_due                  date,
	CHECK (registered OR registration_date IS NULL),
	CHECK (next_check_due IS NULL OR next_check_due >= (checked_at AT TIME ZONE 'Europe/Rome')::date)
);
CREATE INDEX l68_checks_person_idx ON l68_checks (person_id, checked_at DESC, id DESC);
