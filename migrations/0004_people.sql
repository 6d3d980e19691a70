-- Persons (participants), the relationship links between tenants and
-- persons, consents and their grants, and the access log.
--
-- Ownership (DESIGN section 5): services/people owns persons; policies owns
-- person_links, consent_grants and access_log (the facts of the access model
-- and its audit trail); services/consents owns consents and writes the grants
-- through policies in the same transaction.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE persons (
	id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	fiscal_code     text NOT NULL UNIQUE CHECK (fiscal_code ~ '^([A-Z0-9]{16}|[0-9]{11})$'),
	given_name      text NOT NULL CHECK (given_name <> '' AND length(given_name) <= 100),
	family_name     text NOT NULL CHECK (family_name <> '' AND length(family_name) <= 100),
	birth_date      date NOT NULL,
	sex             char(1) NOT NULL CHECK (sex IN ('F', 'M')),
	residence_istat char(6) NOT NULL REFERENCES municipalities (istat_code),
	target_group    text NOT NULL CHECK (target_group IN ('disabile_l68', 'salute_mentale')),
	phone           text NOT NULL DEFAULT '' CHECK (length(phone) <= 40),
	email           text NOT NULL DEFAULT '' CHECK (length(email) <= 254),
	address         text NOT NULL DEFAULT '' CHECK (length(address) <= 300),
	registered_by   uuid NOT NULL REFERENCES tenants (id),
	version         integer NOT NULL DEFAULT 1 CHECK (version > 0),
	created_at      timestamptz NOT NULL DEFAULT now(),
	updated_at      timestamptz NOT NULL DEFAULT now(),
	-- what a name search matches: family and given name, lower case, both orders
	search_text     text GENERATED ALWAYS AS (lower(family_name || ' ' || given_name || ' ' || given_name || ' ' || family_name)) STORED
);
CREATE INDEX persons_search_trgm_idx ON persons USING gin (search_text gin_trgm_ops);
CREATE INDEX persons_family_name_idx ON persons (lower(family_name), lower(given_name), id);

-- A tenant's relationship with a person. Active while not ended and within
-- its validity.
CREATE TABLE person_links (
	id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	person_id   uuid NOT NULL REFERENCES persons (id),
	tenant_id   uuid NOT NULL REFERENCES tenants (id),
	kind        text NOT NULL CHECK (kind IN ('owner', 'care_team', 'provider', 'referral_recipient', 'conference', 'status_observer')),
	-- what made the link: registration, manual (the owner's care team), referral:<id>, conference:<id>, network_rule
	source      text NOT NULL CHECK (source <> ''),
	-- the categories the link opens, when it opens fewer than all: a pending
	-- referral opens only what the referral shares (NULL: no restriction)
	scope       text[],
	valid_from  timestamptz NOT NULL DEFAULT now(),
	valid_until timestamptz,
	ended_at    timestamptz,
	end_reason  text NOT NULL DEFAULT '',
	created_by  uuid REFERENCES users (id),
	created_at  timestamptz NOT NULL DEFAULT now(),
	CHECK (valid_until IS NULL OR valid_until > valid_from)
);
CREATE UNIQUE INDEX person_links_one_open_idx ON person_links (person_id, tenant_id, kind, source) WHERE ended_at IS NULL;
-- INCLUDE lets list filters read the tenant's links from the index alone.
CREATE INDEX person_links_tenant_idx ON person_links (tenant_id, kind, person_id) INCLUDE (scope, valid_from, valid_until) WHERE ended_at IS NULL;
CREATE INDEX person_links_person_idx ON person_links (person_id) WHERE ended_at IS NULL;

-- The consent record as the person gave it.
CREATE TABLE consents (
	id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	person_id          uuid NOT NULL REFERENCES persons (id),
	basis              text NOT NULL CHECK (basis IN ('consent', 'adesione', 'public_task')),
	purpose            text NOT NULL CHECK (purpose IN ('presa_in_carico', 'inserimento_lavorativo', 'case_conference', 'monitoraggio', 'comunicazione')),
	grantees           text[] NOT NULL CHECK (cardinality(grantees) > 0),
	categories         text[] NOT NULL CHECK (cardinality(categories) > 0),
	valid_from         date NOT NULL,
	valid_until        date,
	recorded_by_tenant uuid NOT NULL REFERENCES tenants (id),
	recorded_by_user   uuid REFERENCES users (id),
	revoked_at         timestamptz,
	revoked_by         uuid REFERENCES users (id),
	revocation_reason  text NOT NULL DEFAULT '',
	version            integer NOT NULL DEFAULT 1,
	created_at         timestamptz NOT NULL DEFAULT now(),
	CHECK (valid_until IS NULL OR valid_until >= valid_from),
	CHECK ((revoked_at IS NULL) = (revocation_reason = ''))
);
CREATE INDEX consents_person_idx ON consents (person_id, created_at);

-- One row per grantee of a consent: what the access decision joins.
CREATE TABLE consent_grants (
	consent_id        uuid NOT NULL REFERENCES consents (id),
	person_id         uuid NOT NULL REFERENCES persons (id),
	grantee_tenant_id uuid REFERENCES tenants (id),
	grantee_kind      text CHECK (grantee_kind IN ('municipality', 'health_service', 'employment_office', 'third_sector', 'training_agency', 'coordinator')),
	purpose           text NOT NULL,
	categories        text[] NOT NULL,
	valid_from        date NOT NULL,
	valid_until       date,
	revoked_at        timestamptz,
	CHECK ((grantee_tenant_id IS NULL) <> (grantee_kind IS NULL))
);
CREATE INDEX consent_grants_person_idx ON consent_grants (person_id) WHERE revoked_at IS NULL;
CREATE INDEX consent_grants_consent_idx ON consent_grants (consent_id);

-- The access log: every read of personal data and every denial. Append-only
-- (a trigger refuses UPDATE and DELETE, whoever asks) and hash-chained: each
-- row's hash covers its content and the previous row's hash, so an altered
-- or removed row breaks the chain (attivi audit verify).
CREATE TABLE access_log (
	id         bigserial PRIMARY KEY,
	-- position in the chain, given under the head's lock (ids are handed out
	-- before it, so concurrent inserts may chain out of id order)
	seq        bigint NOT NULL UNIQUE,
	at         timestamptz NOT NULL DEFAULT now(),
	tenant_id  uuid,
	user_id    uuid,
	person_id  uuid,
	action     text NOT NULL,
	categories text[] NOT NULL DEFAULT '{}',
	purpose    text NOT NULL DEFAULT '',
	decision   text NOT NULL CHECK (decision IN ('allow', 'deny')),
	reason     text NOT NULL DEFAULT '',
	request_id text NOT NULL DEFAULT '',
	prev_hash  bytea NOT NULL,
	hash       bytea NOT NULL
);
CREATE INDEX access_log_person_idx ON access_log (person_id, id) WHERE person_id IS NOT NULL;

-- The head of the chain: one row, locked by each insert so that rows chain
-- in id order even when instances write at once.
CREATE TABLE access_log_head (
	id        boolean PRIMARY KEY DEFAULT true CHECK (id),
	last_seq  bigint NOT NULL DEFAULT 0,
	last_hash bytea NOT NULL DEFAULT '\x'
);
INSERT INTO access_log_head DEFAULT VALUES;

-- The canonical text of a row that its hash covers. attivi audit verify
-- recomputes it with this same function.
CREATE FUNCTION access_log_canonical(r access_log) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT concat_ws('|', r.seq, to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		coalesce(r.tenant_id::text, ''), coalesce(r.user_id::text, ''), coalesce(r.person_id::text, ''),
		r.action, array_to_string(r.categories, ','), r.purpose, r.decision, r.reason, r.request_id)
$$;

-- Chaining: a statement takes the head's lock and reads it once (BEFORE
-- statement), each row is chained from transaction-local settings (BEFORE
-- row), and the head is written once (AFTER statement). A list of 50 persons
-- thus updates the head row once, not 50 times: under concurrency the lock
-- is held briefly and the head does not bloat.
CREATE FUNCTION access_log_chain_begin() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	n    bigint;
	prev bytea;
BEGIN
	SELECT last_seq, last_hash INTO n, prev FROM access_log_head WHERE id FOR UPDATE;
	PERFORM set_config('attivi.chain_seq', n::text, true);
	PERFORM set_config('attivi.chain_hash', encode(prev, 'hex'), true);
	RETURN NULL;
END
$$;

CREATE FUNCTION access_log_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	NEW.seq := current_setting('attivi.chain_seq')::bigint + 1;
	NEW.prev_hash := decode(current_setting('attivi.chain_hash'), 'hex');
	NEW.hash := digest(NEW.prev_hash || convert_to(access_log_canonical(NEW), 'UTF8'), 'sha256');
	PERFORM set_config('attivi.chain_seq', NEW.seq::text, true);
	PERFORM set_config('attivi.chain_hash', encode(NEW.hash, 'hex'), true);
	RETURN NEW;
END
$$;

CREATE FUNCTION access_log_chain_end() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE access_log_head
	SET last_seq = current_setting('attivi.chain_seq')::bigint,
	    last_hash = decode(current_setting('attivi.chain_hash'), 'hex')
	WHERE id;
	RETURN NULL;
END
$$;

CREATE TRIGGER access_log_chain_begin BEFORE INSERT ON access_log
	FOR EACH STATEMENT EXECUTE FUNCTION access_log_chain_begin();
CREATE TRIGGER access_log_chain BEFORE INSERT ON access_log
	FOR EACH ROW EXECUTE FUNCTION access_log_chain();
CREATE TRIGGER access_log_chain_end AFTER INSERT ON access_log
	FOR EACH STATEMENT EXECUTE FUNCTION access_log_chain_end();

CREATE FUNCTION access_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'the access log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON access_log
	FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only();
