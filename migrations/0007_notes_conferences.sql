-- Case conferences (services/conferences): invitations, persons discussed,
-- minutes with decisions and action items, calendar feed secrets; and case
-- notes (services/notes), never edited nor deleted.
--
-- Ownership (DESIGN section 5): services/conferences owns the conference_*
-- tables, action_items and calendar_secrets, and makes the `conference` links
-- of person_links through policies; services/notes owns notes.

CREATE TABLE conferences (
	id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	organizer_tenant_id uuid NOT NULL REFERENCES tenants (id),
	created_by          uuid NOT NULL REFERENCES users (id),
	-- copied into calendars outside the platform: no personal data of the cases
	title               text NOT NULL CHECK (title <> '' AND length(title) <= 200),
	starts_at           timestamptz NOT NULL,
	ends_at             timestamptz NOT NULL,
	location            text NOT NULL DEFAULT '' CHECK (length(location) <= 300),
	video_url           text NOT NULL DEFAULT '' CHECK (length(video_url) <= 500),
	status              text NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'closed', 'cancelled')),
	-- the iCalendar SEQUENCE: bumped by every reschedule and by the cancellation
	sequence            integer NOT NULL DEFAULT 0 CHECK (sequence >= 0),
	version             integer NOT NULL DEFAULT 1 CHECK (version > 0),
	created_at          timestamptz NOT NULL DEFAULT now(),
	updated_at          timestamptz NOT NULL DEFAULT now(),
	closed_at           timestamptz,
	cancelled_at        timestamptz,
	cancel_reason       text NOT NULL DEFAULT '' CHECK (length(cancel_reason) <= 500),
	CHECK (ends_at > starts_at),
	CHECK (location <> '' OR video_url <> ''),
	CHECK ((status = 'closed') = (closed_at IS NOT NULL)),
	CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL))
);
CREATE INDEX conferences_organizer_idx ON conferences (organizer_tenant_id, starts_at DESC, id DESC);

-- The tenants invited (the organizer is not one of them) and their answer.
CREATE TABLE conference_tenants (
	conference_id uuid NOT NULL REFERENCES conferences (id),
	tenant_id     uuid NOT NULL REFERENCES tenants (id),
	answer        text NOT NULL DEFAULT 'pending' CHECK (answer IN ('pending', 'accepted', 'declined')),
	answered_at   timestamptz,
	answered_by   uuid REFERENCES users (id),
	attendance    text NOT NULL DEFAULT 'unknown' CHECK (attendance IN ('unknown', 'present', 'absent')),
	PRIMARY KEY (conference_id, tenant_id),
	CHECK ((answer = 'pending') = (answered_at IS NULL))
);
CREATE INDEX conference_tenants_tenant_idx ON conference_tenants (tenant_id, conference_id);

-- Staff invited by name: members of the organizer or of an invited tenant.
CREATE TABLE conference_users (
	conference_id uuid NOT NULL REFERENCES conferences (id),
	user_id       uuid NOT NULL REFERENCES users (id),
	tenant_id     uuid NOT NULL REFERENCES tenants (id),
	attendance    text NOT NULL DEFAULT 'unknown' CHECK (attendance IN ('unknown', 'present', 'absent')),
	PRIMARY KEY (conference_id, user_id)
);
CREATE INDEX conference_users_user_idx ON conference_users (user_id);

-- The persons discussed.
CREATE TABLE conference_persons (
	conference_id uuid NOT NULL REFERENCES conferences (id),
	person_id     uuid NOT NULL REFERENCES persons (id),
	position      integer NOT NULL,
	PRIMARY KEY (conference_id, person_id)
);
CREATE INDEX conference_persons_person_idx ON conference_persons (person_id);

-- An invited tenant with which a person is not discussed (its consent does
-- not cover case_conference for that tenant): it gets no link to the person
-- and does not see them in the conference.
CREATE TABLE conference_exclusions (
	conference_id uuid NOT NULL,
	person_id     uuid NOT NULL,
	tenant_id     uuid NOT NULL,
	PRIMARY KEY (conference_id, person_id, tenant_id),
	FOREIGN KEY (conference_id, person_id) REFERENCES conference_persons (conference_id, person_id),
	FOREIGN KEY (conference_id, tenant_id) REFERENCES conference_tenants (conference_id, tenant_id)
);

-- The conference links made for the invited tenants, so that one tenant's
-- links can be ended (a declined invitation) without touching the others'.
CREATE TABLE conference_links (
	conference_id uuid NOT NULL REFERENCES conferences (id),
	person_id     uuid NOT NULL,
	tenant_id     uuid NOT NULL,
	link_id       uuid NOT NULL REFERENCES person_links (id),
	PRIMARY KEY (conference_id, person_id, tenant_id, link_id),
	FOREIGN KEY (conference_id, tenant_id) REFERENCES conference_tenants (conference_id, tenant_id)
);

-- The minutes (verbale): one row per conference, changed with If-Match on
-- version until the conference is closed; afterwards only amendments.
CREATE TABLE conference_minutes (
	conference_id uuid PRIMARY KEY REFERENCES conferences (id),
	text          text NOT NULL DEFAULT '' CHECK (length(text) <= 100000),
	version       integer NOT NULL DEFAULT 1 CHECK (version > 0),
	updated_at    timestamptz NOT NULL DEFAULT now(),
	updated_by    uuid REFERENCES users (id)
);

CREATE TABLE minutes_amendments (
	id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	conference_id uuid NOT NULL REFERENCES conferences (id),
	text          text NOT NULL CHECK (length(text) <= 100000),
	created_by    uuid NOT NULL REFERENCES users (id),
	created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX minutes_amendments_conference_idx ON minutes_amendments (conference_id, created_at);

-- What the conference decided about one person; it carries the data category
-- it belongs to, and is shown only to tenants that may read that category of
-- the person (and to the organizer, who wrote it).
CREATE TABLE conference_decisions (
	id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	conference_id uuid NOT NULL,
	person_id     uuid NOT NULL,
	category      text NOT NULL CHECK (category IN ('identity', 'contact', 'social', 'health', 'disability', 'employment', 'status')),
	decision      text NOT NULL CHECK (decision <> '' AND length(decision) <= 5000),
	amendment_id  uuid REFERENCES minutes_amendments (id),
	position      integer NOT NULL,
	created_at    timestamptz NOT NULL DEFAULT now(),
	FOREIGN KEY (conference_id, person_id) REFERENCES conference_persons (conference_id, person_id)
);
CREATE INDEX conference_decisions_conference_idx ON conference_decisions (conference_id, position);

CREATE TABLE action_items (
	id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	conference_id      uuid NOT NULL REFERENCES conferences (id),
	amendment_id       uuid REFERENCES minutes_amendments (id),
	what               text NOT NULL CHECK (what <> '' AND length(what) <= 1000),
	assignee_tenant_id uuid NOT NULL REFERENCES tenants (id),
	assignee_user_id   uuid REFERENCES users (id),
	due_date           date,
	status             text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'cancelled')),
	position           integer NOT NULL,
	version            integer NOT NULL DEFAULT 1 CHECK (version > 0),
	created_at         timestamptz NOT NULL DEFAULT now(),
	updated_at         timestamptz NOT NULL DEFAULT now(),
	updated_by         uuid REFERENCES users (id)
);
CREATE INDEX action_items_conference_idx ON action_items (conference_id, position);
CREATE INDEX action_items_tenant_open_idx ON action_items (assignee_tenant_id, due_date) WHERE status = 'open';
CREATE INDEX action_items_user_open_idx ON action_items (assignee_user_id, due_date) WHERE status = 'open' AND assignee_user_id IS NOT NULL;

-- The secret of a user's calendar feed URL: 256 random bits, of which only
-- the SHA-256 is kept. One per user; rotating replaces it, revoking deletes it.
CREATE TABLE calendar_secrets (
	user_id     uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	secret_hash bytea NOT NULL UNIQUE CHECK (length(secret_hash) = 32),
	created_at  timestamptz NOT NULL DEFAULT now()
);

-- Case notes. Never edited nor deleted: a correction is an amendment (a new
-- note that references the original, with its person, category, sensitivity
-- and author tenant), and a note written by mistake is marked entered in
-- error, once, with a reason. Triggers refuse anything else.
CREATE TABLE notes (
	id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	person_id               uuid NOT NULL REFERENCES persons (id),
	author_tenant_id        uuid NOT NULL REFERENCES tenants (id),
	author_user_id          uuid NOT NULL REFERENCES users (id),
	category                text NOT NULL CHECK (category IN ('identity', 'contact', 'social', 'health', 'disability', 'employment', 'status')),
	body                    text NOT NULL CHECK (btrim(body) <> '' AND length(body) <= 20000),
	-- riservata: readable only by the author tenant, whatever the consent
	sensitive               boolean NOT NULL DEFAULT false,
	-- no foreign key: referrals have their own migration and service
	referral_id             uuid,
	conference_id           uuid REFERENCES conferences (id),
	amends_id               uuid REFERENCES notes (id),
	entered_in_error_at     timestamptz,
	entered_in_error_by     uuid REFERENCES users (id),
	entered_in_error_reason text NOT NULL DEFAULT '' CHECK (length(entered_in_error_reason) <= 1000),
	created_at              timestamptz NOT NULL DEFAULT now(),
	body_tsv                tsvector GENERATED ALWAYS AS (to_tsvector('italian'::regconfig, body)) STORED,
	CHECK ((entered_in_error_at IS NULL) = (entered_in_error_reason = '')),
	CHECK ((entered_in_error_at IS NULL) = (entered_in_error_by IS NULL))
);
CREATE INDEX notes_person_idx ON notes (person_id, created_at DESC, id DESC);
CREATE INDEX notes_author_idx ON notes (author_tenant_id, created_at DESC, id DESC);
-- network-wide lists of tenants that may read many persons walk the notes newest first
CREATE INDEX notes_created_idx ON notes (created_at DESC, id DESC);
CREATE INDEX notes_amends_idx ON notes (amends_id) WHERE amends_id IS NOT NULL;
CREATE INDEX notes_body_tsv_idx ON notes USING gin (body_tsv);

-- For the notes list (services/notes store.go): the consent grants that name
-- a tenant or a tenant kind. (consent_grants belongs to policies; these
-- indexes only serve lists that join a tenant's grants.)
CREATE INDEX consent_grants_tenant_idx ON consent_grants (grantee_tenant_id, person_id)
	WHERE revoked_at IS NULL AND grantee_tenant_id IS NOT NULL;
CREATE INDEX consent_grants_kind_idx ON consent_grants (grantee_kind, person_id)
	WHERE revoked_at IS NULL AND grantee_kind IS NOT NULL;

CREATE FUNCTION notes_check_amendment() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	o notes%ROWTYPE;
BEGIN
	IF NEW.amends_id IS NULL THEN
		RETURN NEW;
	END IF;
	SELECT * INTO o FROM notes WHERE id = NEW.amends_id;
	IF NOT FOUND OR o.person_id <> NEW.person_id OR o.category <> NEW.category
		OR o.sensitive <> NEW.sensitive OR o.author_tenant_id <> NEW.author_tenant_id THEN
		RAISE EXCEPTION 'an amendment keeps the person, category, sensitivity and author tenant of the note it amends'
			USING ERRCODE = 'check_violation';
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER notes_check_amendment BEFORE INSERT ON notes
	FOR EACH ROW EXECUTE FUNCTION notes_check_amendment();

CREATE FUNCTION notes_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'UPDATE' AND OLD.entered_in_error_at IS NULL AND NEW.entered_in_error_at IS NOT NULL
		AND (NEW.id, NEW.person_id, NEW.author_tenant_id, NEW.author_user_id, NEW.category, NEW.body, NEW.sensitive,
		     NEW.referral_id, NEW.conference_id, NEW.amends_id, NEW.created_at)
		IS NOT DISTINCT FROM
		    (OLD.id, OLD.person_id, OLD.author_tenant_id, OLD.author_user_id, OLD.category, OLD.body, OLD.sensitive,
		     OLD.referral_id, OLD.conference_id, OLD.amends_id, OLD.created_at) THEN
		RETURN NEW; -- the one change allowed: marking entered in error
	END IF;
	RAISE EXCEPTION 'notes are never changed or deleted: write an amendment or mark the note entered in error'
		USING ERRCODE = 'check_violation';
END
$$;

CREATE TRIGGER notes_immutable BEFORE UPDATE OR DELETE ON notes
	FOR EACH ROW EXECUTE FUNCTION notes_immutable();
